//! A policy's plan against the live directory: finding policies, loading a policy with its
//! source, and comparing it with Slack. `scimitar plan`/`apply` and the console's Policies pane
//! both use these.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::apply;
use super::config::{Policy, PolicyError};
use super::plan::{Plan, PriorState};
use scim::{ScimClient, ScimError};

/// Policies the console can offer: `policies/*.toml` in the config dir, sorted by name.
pub fn list_policies() -> Vec<(String, PathBuf)> {
    list_policies_in(&crate::paths::config_dir().join("policies"))
}

pub fn list_policies_in(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .map(|p| (apply::policy_name(&p), p))
        .collect();
    out.sort();
    out
}

/// `--policy FILE|NAME`: an existing file, else `policies/NAME.toml` in the config dir.
pub fn resolve_policy(arg: &str) -> Result<PathBuf, LiveError> {
    let direct = PathBuf::from(arg);
    if direct.is_file() {
        return Ok(direct);
    }
    let dir = crate::paths::config_dir().join("policies");
    let looks_like_name = !arg.contains(std::path::MAIN_SEPARATOR) && !arg.contains('/') && !arg.ends_with(".toml");
    if looks_like_name {
        let named = dir.join(format!("{arg}.toml"));
        if named.is_file() {
            return Ok(named);
        }
    }
    let known: Vec<String> = list_policies_in(&dir).into_iter().map(|(n, _)| n).collect();
    let hint = if known.is_empty() {
        format!("no policies in {}", dir.display())
    } else {
        format!("policies in {}: {}", dir.display(), known.join(", "))
    };
    Err(LiveError::Policy(format!("--policy {arg}: no such file, and no policy of that name ({hint})")))
}

/// Why a live plan could not be computed.
#[derive(Debug)]
pub enum LiveError {
    /// The policy file or its source is wrong (names file and line where it can).
    Policy(String),
    /// Talking to Slack failed.
    Scim(ScimError),
    /// The saved state of earlier applies cannot be read.
    State(String),
    /// The directory server of an LDAP source failed (names server, bind DN and result code).
    Directory(super::ldap::LdapError),
}

impl std::fmt::Display for LiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiveError::Policy(m) | LiveError::State(m) => f.write_str(m),
            LiveError::Scim(e) => write!(f, "{e}"),
            LiveError::Directory(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LiveError {}

/// A plan against the live directory and what it was computed from.
#[derive(Debug)]
pub struct LivePlan {
    pub policy: Policy,
    pub plan: Plan,
    pub prior: Option<PriorState>,
    /// Active Slack users when the plan was made (the base of the percentage ceiling).
    pub active_users: usize,
    pub state_file: PathBuf,
    /// Current email of every user the plan updates (id -> email).
    pub update_emails: HashMap<String, String>,
}

/// Load a policy and its source, checking both (errors name file and line). A file is read on
/// the blocking pool and a directory over async LDAP, so the caller's async workers stay free.
pub async fn load_policy(path: &Path) -> Result<(Policy, super::Source), LiveError> {
    let policy = Policy::load(path).map_err(|e| LiveError::Policy(e.to_string()))?;
    let source = policy.read_source_async().await.map_err(|e| source_error(path, e))?;
    Ok((policy, source))
}

fn source_error(path: &Path, e: anyhow::Error) -> LiveError {
    let e = match e.downcast::<PolicyError>() {
        Ok(pe) => return LiveError::Policy(pe.to_string()),
        Err(e) => e,
    };
    match e.downcast::<super::ldap::LdapError>() {
        Ok(le) => LiveError::Directory(le),
        Err(e) => LiveError::Policy(format!("{}: source: {e:#}", path.display())),
    }
}

/// Compare a policy's source with the live directory; prior state from `state_dir`.
pub async fn live_plan(client: &ScimClient, policy_path: &Path, state_dir: &Path) -> Result<LivePlan, LiveError> {
    let (policy, source) = load_policy(policy_path).await?;
    live_plan_loaded(client, policy_path, policy, &source, state_dir).await
}

/// `live_plan` for a policy and source already loaded.
pub async fn live_plan_loaded(
    client: &ScimClient,
    policy_path: &Path,
    policy: Policy,
    source: &super::Source,
    state_dir: &Path,
) -> Result<LivePlan, LiveError> {
    let state_file = apply::state_file(state_dir, policy_path);
    let prior = apply::load_prior(&state_file).map_err(LiveError::State)?;
    let (users, groups) = if policy.groups.is_empty() {
        (client.all_users(None).await.map_err(LiveError::Scim)?, Vec::new())
    } else {
        tokio::try_join!(client.all_users(None), client.all_groups()).map_err(LiveError::Scim)?
    };
    let plan = super::compute(&policy, source, &users, &groups, prior.as_ref()).map_err(|e| match e {
        super::PlanError::Policy(pe) => LiveError::Policy(pe.to_string()),
    })?;
    let active_users = users.iter().filter(|u| u.is_active()).count();
    let updated: HashSet<&str> = plan.updates.iter().map(|u| u.id.as_str()).collect();
    let update_emails = users
        .iter()
        .filter(|u| updated.contains(u.id()))
        .filter_map(|u| Some((u.id().to_string(), u.primary_email()?.to_string())))
        .collect();
    Ok(LivePlan { policy, plan, prior, active_users, state_file, update_emails })
}

/// For the console's Policies pane: the policy and its plan against the live directory.
pub async fn compute_live_plan(client: &ScimClient, policy_path: &Path) -> Result<(Policy, Plan), String> {
    live_plan(client, policy_path, &apply::default_state_dir()).await.map(|l| (l.policy, l.plan)).map_err(|e| e.to_string())
}

/// One line of counts: what a plan creates, updates and deactivates.
pub fn summary(plan: &Plan) -> String {
    let c = plan.counts();
    let mut s = format!(
        "{} create, {} reactivate, {} update ({} attributes), {} group create, {} rename, {} member add, {} member remove, {} deactivate",
        c.creates,
        c.reactivations,
        c.updates,
        c.attribute_changes,
        c.group_creates,
        c.group_renames,
        c.member_adds,
        c.member_removes,
        c.deactivations
    );
    if c.reported_only > 0 {
        s.push_str(&format!(", {} reported only", c.reported_only));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_listed_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.toml"), "").unwrap();
        std::fs::write(dir.path().join("a.toml"), "").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        let names: Vec<String> = list_policies_in(dir.path()).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(list_policies_in(&dir.path().join("missing")).is_empty());
    }
}
