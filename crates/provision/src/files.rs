//! Files that hold directory data (names, emails) or secrets are the owner's only: folders 0700,
//! files 0600, created new where a file is written whole, so a link planted in their place is never
//! followed.

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

/// Create `path` (mode 0600) if it does not exist; an existing file is left as it is.
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    private_options().create(true).truncate(false).open(path).map(drop)
}

/// Open a new file (mode 0600) for writing; an existing file or link at `path` is an error.
pub fn create_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    private_options().create_new(true).open(path)
}

/// Write a whole file, owner-only: an existing file is truncated and made owner-only too (for
/// files scimitar itself rewrites, such as a policy's saved state).
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = private_options().create(true).truncate(true).open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(data)?;
    f.sync_all()
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
}
