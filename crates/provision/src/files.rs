//! Files that hold directory data (names, emails) or secrets are the owner's only: folders 0700,
//! files 0600, created new where a file is written whole, so a link planted in their place is never
//! followed.
//!
//! scimitar's own files in the data dir (the lock files, the policy state and its temporary
//! files, `scimitar.db`, the console's cache, exports) are opened with `O_NOFOLLOW` (a link at the
//! path is an error, dangling or not, never a file written at its target), temporary and new
//! files with `O_CREAT|O_EXCL`, and a file opened for writing must be a regular file this user
//! owns with no other name (a hard link planted in its place is refused too). scimitar's own
//! folders in the data dir (`locks/`, `policy-state/`, `cache/`) must be real folders this user
//! owns. The data dir itself may be a link (to another disk): it is the user's, not scimitar's.

use std::io::Write;
use std::path::Path;

/// Create `dir` and its missing parents with mode 0700 (existing folders are left alone).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// A folder of scimitar's own in the data dir (`locks/`, `policy-state/`, `cache/`): created
/// 0700 with its parents if missing; an existing one must be a real folder (not a link to one)
/// that this user owns.
pub fn own_dir(dir: &Path) -> std::io::Result<()> {
    create_private_dir(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() {
        return Err(planted(dir, "is a symbolic link"));
    }
    if !meta.is_dir() {
        return Err(planted(dir, "is not a folder"));
    }
    check_owner(dir, &meta)
}

fn planted(path: &Path, what: &str) -> std::io::Error {
    std::io::Error::other(format!(
        "{} {what}; scimitar never follows a link or writes through another name for its own files: remove it (another user may have planted it)",
        path.display()
    ))
}

#[cfg(unix)]
fn check_owner(path: &Path, meta: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(planted(path, &format!("belongs to another user (uid {})", meta.uid())));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner(_: &Path, _: &std::fs::Metadata) -> std::io::Result<()> {
    Ok(())
}

/// An opened file of scimitar's own must be a regular file this user owns with one name.
fn check_opened(path: &Path, f: &std::fs::File) -> std::io::Result<()> {
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(planted(path, "is not a regular file"));
    }
    check_owner(path, &meta)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            return Err(planted(path, &format!("has {} names (a hard link)", meta.nlink())));
        }
    }
    Ok(())
}

/// `O_NOFOLLOW` (and close-on-exec, which std sets) on `o`.
fn no_follow(o: &mut std::fs::OpenOptions) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    #[cfg(not(unix))]
    let _ = o;
}

/// Open `o` at `path`, saying plainly when `path` is a link (`O_NOFOLLOW` answers ELOOP).
fn open_no_follow(o: &mut std::fs::OpenOptions, path: &Path) -> std::io::Result<std::fs::File> {
    no_follow(o);
    match o.open(path) {
        Ok(f) => Ok(f),
        Err(e) if is_link(path) => Err(planted(path, &format!("is a symbolic link ({e})"))),
        Err(e) => Err(e),
    }
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Refuse a link at `path` (dangling or not); nothing or anything else there is fine.
pub fn refuse_link(path: &Path) -> std::io::Result<()> {
    if is_link(path) { Err(planted(path, "is a symbolic link")) } else { Ok(()) }
}

fn private_options() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// Create `path` (mode 0600) if it does not exist; an existing file is left as it is, but it
/// must be a regular file of this user's with one name, and a link at `path` is refused.
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    let f = open_no_follow(private_options().create(true).truncate(false), path)?;
    check_opened(path, &f)
}

/// A file a group of OS accounts shares (`[store] sqlite_shared`): created `0660` if missing
/// (its folder must exist); never a link; a regular file with one name; refused when others
/// (outside its owner and group) may read or write it.
pub fn open_shared_file(path: &Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o660);
    }
    let f = open_no_follow(&mut o, path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(planted(path, "is not a regular file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            return Err(planted(path, &format!("has {} names (a hard link)", meta.nlink())));
        }
        // A new file gets the group's read and write whatever the umask (SQLite gives its WAL
        // and shared-memory files the database's mode).
        if meta.uid() == rustix::process::geteuid().as_raw() && meta.mode() & 0o060 != 0o060 && meta.mode() & 0o007 == 0 {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode((meta.mode() & 0o770) | 0o060))?;
        }
        if meta.mode() & 0o007 != 0 {
            return Err(std::io::Error::other(format!(
                "{} may be read or written by others (mode {:o}): a shared store is its group's only (chmod 660)",
                path.display(),
                meta.mode() & 0o777
            )));
        }
    }
    Ok(())
}

/// Open (creating it 0600 if missing) a file of scimitar's own for reading and writing, never
/// through a link, and only a regular file of this user's with one name (a lock file).
pub fn open_own(path: &Path) -> std::io::Result<std::fs::File> {
    let f = open_no_follow(private_options().read(true).create(true).truncate(false), path)?;
    check_opened(path, &f)?;
    Ok(f)
}

/// Open a file of scimitar's own for reading, never through a link.
pub fn open_own_read(path: &Path) -> std::io::Result<std::fs::File> {
    let f = open_no_follow(std::fs::OpenOptions::new().read(true), path)?;
    if !f.metadata()?.is_file() {
        return Err(planted(path, "is not a regular file"));
    }
    Ok(f)
}

/// Open a new file (mode 0600) for writing; an existing file or link at `path` is an error.
pub fn create_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    open_no_follow(private_options().create_new(true), path)
}

/// Write a whole file, owner-only: an existing file is truncated and made owner-only too (for
/// files scimitar itself rewrites), but never through a link, and only a regular file of this
/// user's with one name.
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = open_no_follow(private_options().create(true).truncate(false), path)?;
    check_opened(path, &f)?;
    f.set_len(0)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(data)?;
    f.sync_all()
}

/// Replace `path` whole and atomically: `data` goes to a new temporary file beside it (0600,
/// `O_EXCL`: whatever was at the temporary name, a link included, is removed first, never
/// followed) that is then renamed over `path` (a rename replaces a link, never writes through
/// it).
pub fn replace_private(path: &Path, tmp: &Path, data: &[u8]) -> std::io::Result<()> {
    match std::fs::remove_file(tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let write = || -> std::io::Result<()> {
        let mut f = create_new_private(tmp)?;
        f.write_all(data)?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(tmp);
        return Err(e);
    }
    std::fs::rename(tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(tmp);
    })
}

/// Write `data` to a new file (mode 0600); an existing file or link at `path` is an error.
pub fn write_new_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = create_new_private(path)?;
    f.write_all(data)?;
    f.sync_all()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_files_and_dirs_are_the_owners_and_links_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        create_private_dir(&sub).unwrap();
        assert_eq!(std::fs::metadata(&sub).unwrap().permissions().mode() & 0o777, 0o700);
        let f = sub.join("data.csv");
        write_new_private(&f, b"email\n").unwrap();
        assert_eq!(std::fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(write_new_private(&f, b"again").is_err(), "an existing file is not overwritten");
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = sub.join("link.csv");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(write_new_private(&link, b"evil").is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        let b = dir.path().join("b.csv");
        std::fs::write(&b, "old").unwrap();
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&b, b"new").unwrap();
        assert_eq!(std::fs::metadata(&b).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "new");
    }

    #[test]
    fn planted_links_are_refused_and_their_targets_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let victim = d.join("victim");
        std::fs::write(&victim, "keep me\n").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = d.join("own.lock");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        for (what, r) in [
            ("open_own", open_own(&link).map(drop)),
            ("create_private_file", create_private_file(&link)),
            ("write_private", write_private(&link, b"evil")),
            ("open_own_read", open_own_read(&link).map(drop)),
        ] {
            let e = r.expect_err(what).to_string();
            assert!(e.contains("is a symbolic link") && e.contains("remove it"), "{what}: {e}");
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");
        assert_eq!(std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777, 0o644);
        // A dangling link is not a way to create a file at its target.
        let dangling = d.join("scimitar.db");
        std::os::unix::fs::symlink(d.join("elsewhere.db"), &dangling).unwrap();
        assert!(create_private_file(&dangling).is_err());
        assert!(!d.join("elsewhere.db").exists());
        assert!(refuse_link(&dangling).is_err() && refuse_link(&victim).is_ok());
        // A hard link to a file of ours is refused for writing.
        let hard = d.join("hard.lock");
        std::fs::hard_link(&victim, &hard).unwrap();
        assert!(open_own(&hard).unwrap_err().to_string().contains("hard link"));
        // A temporary file planted as a link is removed, not written through; the rename
        // replaces the link at the final name too.
        let state = d.join("hr.json");
        let tmp = d.join("hr.json.tmp");
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        std::os::unix::fs::symlink(&victim, &state).unwrap();
        replace_private(&state, &tmp, b"{}").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");
        assert_eq!(std::fs::read_to_string(&state).unwrap(), "{}");
        assert!(!std::fs::symlink_metadata(&state).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::metadata(&state).unwrap().permissions().mode() & 0o777, 0o600);
        // scimitar's own folders: a link to a folder is refused.
        let elsewhere = d.join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, d.join("locks")).unwrap();
        assert!(own_dir(&d.join("locks")).unwrap_err().to_string().contains("symbolic link"));
        own_dir(&d.join("cache/sub")).unwrap();
        assert_eq!(std::fs::metadata(d.join("cache/sub")).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
