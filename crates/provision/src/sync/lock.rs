//! One writer per profile: an OS file lock (`flock`) on `<data dir>/locks/<profile>.lock`.
//!
//! `scimitar sync` holds it for a whole cycle (plan, apply, state), `sync approve`, `scimitar
//! apply` and the console's policy apply while they apply; so two of them never write to one org
//! at once. The lock is the kernel's: it goes away with the process that held it, however that
//! process ended (a `kill -9` leaves no stale lock). The file holds who took it (pid, user, host,
//! command, since), written after the lock is taken, so the one that is refused can say who holds
//! it. It is never waited for: the second one is told at once ([`LockError::Held`]).
//!
//! (`flock` locks belong to an open file, so a second acquire in the same process is refused too,
//! which is what the console wants when a policy apply is already running.)

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Who holds (or asks for) a profile's lock.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub user: String,
    pub host: String,
    /// What runs: `scimitar sync --policy hr`, `console policy apply`, ...
    pub command: String,
    /// RFC 3339, UTC.
    pub since: String,
}

impl Holder {
    /// This process, running `command`.
    pub fn this_process(actor: &crate::env::Actor, command: impl Into<String>) -> Holder {
        Holder {
            pid: std::process::id(),
            user: actor.user.clone(),
            host: actor.host.clone(),
            command: command.into(),
            since: crate::report::format_time(time::OffsetDateTime::now_utc()),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} ({}@{}, `{}`, since {})", self.pid, self.user, self.host, self.command, self.since)
    }
}

/// The lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone else writes to this profile's org right now.
    #[error("profile {profile:?} is locked by {}: another scimitar is writing to this org; try again when it is done (lock file {})", holder.as_ref().map_or_else(|| "another process (still starting)".to_string(), |h| h.to_string()), path.display())]
    Held { profile: String, path: PathBuf, holder: Option<Box<Holder>> },
    #[error("cannot use the lock file {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct ProfileLock {
    file: std::fs::File,
    path: PathBuf,
}

impl ProfileLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ProfileLock {
    fn drop(&mut self) {
        // Leave no stale holder behind; the kernel releases the lock with the file.
        let _ = self.file.set_len(0);
    }
}

/// The lock file of a profile: `<data dir>/locks/<profile>.lock` (the name made safe).
pub fn lock_path(data_dir: &Path, profile: &str) -> PathBuf {
    let safe: String = profile.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect();
    let safe = if safe.is_empty() || safe.starts_with('.') { format!("p{safe}") } else { safe };
    data_dir.join("locks").join(format!("{safe}.lock"))
}

/// Take the profile's lock now, or say who holds it.
pub fn acquire(data_dir: &Path, profile: &str, me: &Holder) -> Result<ProfileLock, LockError> {
    let path = lock_path(data_dir, profile);
    let io = |source: std::io::Error| LockError::Io { path: path.clone(), source };
    if let Some(dir) = path.parent() {
        crate::files::own_dir(dir).map_err(io)?;
    }
    // Never through a link planted at the lock's name (it would truncate its target).
    let mut file = crate::files::open_own(&path).map_err(io)?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let holder = serde_json::from_str(text.trim()).ok().map(Box::new);
            return Err(LockError::Held { profile: profile.to_string(), path, holder });
        }
        Err(e) => return Err(io(e.into())),
    }
    let text = serde_json::to_string(me).map_err(|e| io(std::io::Error::other(e)))?;
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_data().map_err(io)?;
    Ok(ProfileLock { file, path })
}

/// Who holds the lock now, if anyone (for `sync status`).
pub fn holder(data_dir: &Path, profile: &str) -> Option<Holder> {
    let path = lock_path(data_dir, profile);
    let mut file = crate::files::open_own_read(&path).ok()?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockShared) {
        // Nobody holds it (our shared lock goes with `file`).
        Ok(()) => None,
        Err(_) => {
            let mut text = String::new();
            file.read_to_string(&mut text).ok()?;
            serde_json::from_str(text.trim()).ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me(cmd: &str) -> Holder {
        Holder::this_process(&crate::env::Actor { user: "ann".into(), host: "box".into() }, cmd)
    }

    #[test]
    fn a_second_taker_is_told_who_holds_it_and_dropping_releases() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "acme", &me("scimitar sync --policy hr")).unwrap();
        assert_eq!(holder(dir.path(), "acme").unwrap().command, "scimitar sync --policy hr");
        let e = acquire(dir.path(), "acme", &me("console policy apply")).unwrap_err();
        match &e {
            LockError::Held { holder: Some(h), profile, .. } => {
                assert_eq!((h.pid, h.command.as_str(), profile.as_str()), (std::process::id(), "scimitar sync --policy hr", "acme"))
            }
            other => panic!("{other:?}"),
        }
        let msg = e.to_string();
        assert!(msg.contains("scimitar sync --policy hr") && msg.contains("ann@box") && msg.contains("acme"), "{msg}");
        // Another profile is another lock.
        let other = acquire(dir.path(), "acme-sandbox", &me("x")).unwrap();
        drop(first);
        assert!(holder(dir.path(), "acme").is_none());
        let again = acquire(dir.path(), "acme", &me("console policy apply")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(again.path()).unwrap().permissions().mode() & 0o777, 0o600);
        }
        drop((again, other));
    }

    #[test]
    fn profile_names_make_safe_file_names() {
        let d = Path::new("/d");
        assert_eq!(lock_path(d, "acme"), PathBuf::from("/d/locks/acme.lock"));
        assert_eq!(lock_path(d, "../../etc/x"), PathBuf::from("/d/locks/p.._.._etc_x.lock"));
        assert_eq!(lock_path(d, ""), PathBuf::from("/d/locks/p.lock"));
    }
}
