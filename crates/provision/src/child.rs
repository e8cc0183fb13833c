//! Child processes scimitar starts (a profile's `token_command`, an LDAP source's
//! `password_command`, the sync's `alert_command`, the console's `$EDITOR`) never inherit its
//! secrets: the token variable, the emulator's token, store passwords.
//!
//! The names removed are [`SECRET_VARIABLES`] (always) and those the front end found in its own
//! environment ([`is_secret_variable`], handed over once through `env::Inputs`): this library
//! never reads the process environment, it only removes names from a child's.

use std::ffi::{OsStr, OsString};
use std::sync::RwLock;

/// Variables that hold a secret of scimitar's, never passed to a child process: the SCIM token,
/// the emulator's token, and the shared store's password (libpq's `PGPASSWORD`, and a store
/// URL, which may carry the password).
pub const SECRET_VARIABLES: &[&str] = &[
    "SLACK_SCIM_TOKEN",
    "SCIMITAR_EMULATOR_TOKEN",
    "SCIMITAR_TOKEN",
    "PGPASSWORD",
    "SCIMITAR_DB_PASSWORD",
    "SCIMITAR_DB_URL",
    "SCIMITAR_DATABASE_URL",
    "SCIMITAR_STORE_URL",
    "SCIMITAR_STORE_PASSWORD",
];

/// Does this variable name hold one of scimitar's secrets? [`SECRET_VARIABLES`], and any
/// `SCIMITAR_…` or `SLACK_…` name with `TOKEN`, `PASSWORD`, `PASSWD`, `SECRET` or `KEY` in it. (A
/// command may need other secrets of its own, such as `VAULT_TOKEN` for `vault read`: those stay.)
pub fn is_secret_variable(name: &OsStr) -> bool {
    let Some(n) = name.to_str() else { return false };
    let n = n.to_ascii_uppercase();
    SECRET_VARIABLES.contains(&n.as_str())
        || ((n.starts_with("SCIMITAR_") || n.starts_with("SLACK_"))
            && ["TOKEN", "PASSWORD", "PASSWD", "SECRET", "KEY"].iter().any(|w| n.contains(w)))
}

static EXTRA: RwLock<Vec<OsString>> = RwLock::new(Vec::new());

/// Also remove these names from every child's environment (the front end's secret variables).
pub fn forbid<I: IntoIterator<Item = OsString>>(names: I) {
    let mut all = EXTRA.write().unwrap_or_else(|e| e.into_inner());
    for n in names {
        if !all.contains(&n) {
            all.push(n);
        }
    }
}

/// Every name removed from a child's environment.
pub fn removed() -> Vec<OsString> {
    let mut v: Vec<OsString> = SECRET_VARIABLES.iter().map(OsString::from).collect();
    v.extend(EXTRA.read().unwrap_or_else(|e| e.into_inner()).iter().cloned());
    v
}

/// A `std::process::Command` for `program` without scimitar's secrets in its environment.
pub fn command(program: impl AsRef<OsStr>) -> std::process::Command {
    let mut c = std::process::Command::new(program);
    for n in removed() {
        c.env_remove(n);
    }
    c
}

/// As [`command`], for tokio.
pub fn tokio_command(program: impl AsRef<OsStr>) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(program);
    for n in removed() {
        c.env_remove(n);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_and_others() {
        for n in ["SLACK_SCIM_TOKEN", "PGPASSWORD", "SCIMITAR_LDAP_PASSWORD", "slack_bot_token", "SCIMITAR_WEBHOOK_SECRET"] {
            assert!(is_secret_variable(OsStr::new(n)), "{n}");
        }
        for n in ["PATH", "HOME", "VAULT_TOKEN", "SCIMITAR_CONFIG_DIR", "SCIMITAR_URL", "SCIMITAR_ALERT_EVENT"] {
            assert!(!is_secret_variable(OsStr::new(n)), "{n}");
        }
    }

    #[test]
    fn a_child_command_removes_them() {
        forbid([OsString::from("SCIMITAR_TEST_CHILD_SECRET")]);
        let c = command("sh");
        let removed: Vec<&OsStr> = c.get_envs().filter(|(_, v)| v.is_none()).map(|(k, _)| k).collect();
        for n in ["SLACK_SCIM_TOKEN", "PGPASSWORD", "SCIMITAR_TEST_CHILD_SECRET"] {
            assert!(removed.contains(&OsStr::new(n)), "{n}: {removed:?}");
        }
        let t = tokio_command("sh");
        assert!(t.as_std().get_envs().any(|(k, v)| k == "SLACK_SCIM_TOKEN" && v.is_none()));
    }
}
