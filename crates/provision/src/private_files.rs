//! Files that hold directory data (emails, names) or secrets are owner-only: 0600, in
//! directories made 0700. Used by everything that writes such a file (report exports, the demo's
//! HR export, a policy's prior state); the database makes its own (see `store`).

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Create a new file, owner-only; fails if it exists.
pub fn create_new(path: &Path) -> io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Write a whole file, owner-only (an existing file is truncated and made owner-only too).
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(bytes.as_ref())?;
    f.sync_all()
}

/// Create a directory (and its parents) owner-only where this call creates them.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let a = dir.path().join("a.csv");
        create_new(&a).unwrap();
        assert_eq!(mode(&a), 0o600);
        assert!(create_new(&a).is_err(), "never overwrites");
        let b = dir.path().join("b.csv");
        std::fs::write(&b, "old").unwrap();
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o644)).unwrap();
        write(&b, "new").unwrap();
        assert_eq!((mode(&b), std::fs::read_to_string(&b).unwrap().as_str()), (0o600, "new"));
        let d = dir.path().join("x/y");
        create_dir_all(&d).unwrap();
        assert_eq!(mode(&d), 0o700);
    }
}
