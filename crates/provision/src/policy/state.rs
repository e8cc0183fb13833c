//! The state of earlier applies of a policy (`policy-state/<name>.json`): where it lives, reading
//! and writing it, and the group ids it keeps. Both planning (`live`) and applying (`apply`) use
//! it; neither imports the other for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::config::Policy;
use super::plan::PriorState;
use crate::scim::{ScimClient, ScimError};

/// Rule key -> Slack group id for every group rule, from the directory after apply: the prior
/// id when that group still exists, else the group named `slack_name`.
pub async fn group_ids_after(
    client: &ScimClient,
    policy: &Policy,
    prior: Option<&PriorState>,
) -> Result<BTreeMap<String, String>, ScimError> {
    if policy.groups.is_empty() {
        return Ok(BTreeMap::new());
    }
    let groups = client.all_groups().await?;
    let mut ids = BTreeMap::new();
    for rule in &policy.groups {
        let by_prior = prior.and_then(|p| p.group_ids.get(&rule.key)).filter(|id| groups.iter().any(|g| g.id() == id.as_str()));
        let id = by_prior
            .cloned()
            .or_else(|| groups.iter().find(|g| g.name().trim().eq_ignore_ascii_case(rule.slack_name.trim())).map(|g| g.id().to_string()));
        if let Some(id) = id {
            ids.insert(rule.key.clone(), id);
        }
    }
    Ok(ids)
}

/// The policy's name: its file name without `.toml`.
pub fn policy_name(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "policy".into())
}

/// Where the state of earlier applies of a policy is kept: `<state_dir>/<policy-name>.json`
/// (`state_dir` is `Paths::state_dir`: `policy-state/` in the data dir).
pub fn state_file(state_dir: &Path, policy_path: &Path) -> PathBuf {
    state_dir.join(format!("{}.json", policy_name(policy_path)))
}

/// The saved state of earlier applies cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{}: unreadable policy state: {source} (delete the file to start afresh)", file.display())]
    Unreadable { file: PathBuf, source: serde_json::Error },
    #[error("{}: {source}", file.display())]
    Io { file: PathBuf, source: std::io::Error },
    #[error("policy state: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Read the prior state; a missing file means the policy was never applied.
pub fn load_prior(file: &Path) -> Result<Option<PriorState>, StateError> {
    let read = || -> std::io::Result<String> {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut crate::files::open_own_read(file)?, &mut text)?;
        Ok(text)
    };
    match read() {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|source| StateError::Unreadable { file: file.into(), source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateError::Io { file: file.into(), source }),
    }
}

/// Write the prior state atomically (write a temporary file, then rename).
pub fn save_prior(file: &Path, state: &PriorState) -> Result<(), StateError> {
    fn io(f: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
        move |source| StateError::Io { file: f.to_path_buf(), source }
    }
    let dir = file.parent().unwrap_or(Path::new("."));
    crate::files::own_dir(dir).map_err(io(dir))?;
    let tmp = file.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(state)?;
    // The state lists users' keys and ids: owner-only. The temporary file is made new (a link
    // planted at its name is removed, never written through), then renamed over the state.
    crate::files::replace_private(file, &tmp, text.as_bytes()).map_err(io(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prior_state_round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = state_file(&dir.path().join("policy-state"), Path::new("/etc/x/hr.toml"));
        assert!(f.ends_with("policy-state/hr.json"));
        assert_eq!(load_prior(&f).unwrap(), None);
        let s = PriorState {
            scope_groups: vec!["staff".into()],
            retired_scope_groups: vec![],
            group_ids: BTreeMap::from([("k".into(), "S1".into())]),
            source: Some(crate::policy::plan::SourceStats { rows: 3, non_blank: BTreeMap::from([("title".into(), 2)]) }),
        };
        save_prior(&f, &s).unwrap();
        assert_eq!(load_prior(&f).unwrap(), Some(s));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&f, "{").unwrap();
        assert!(load_prior(&f).unwrap_err().to_string().contains("delete the file"));
    }
}
