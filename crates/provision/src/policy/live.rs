//! A policy's plan against the live directory: finding policies, loading a policy with its
//! source, and comparing it with Slack. `scimitar plan`/`apply` and the console's Policies pane
//! both use these.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::config::{Policy, PolicyError, ReadSourceError};
use super::plan::{Plan, PriorState};
use super::plan_users::PlanUsers;
use super::state;
use futures::TryStreamExt;
use scim::{ScimClient, ScimError};

/// The policies in a folder (`policies/*.toml` of the config dir), sorted by name.
pub fn list_policies_in(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .map(|p| (state::policy_name(&p), p))
        .collect();
    out.sort();
    out
}

/// `--policy FILE|NAME`: an existing file, else `NAME.toml` in `dir` (the config dir's `policies/`).
pub fn resolve_policy(arg: &str, dir: &Path) -> Result<PathBuf, LiveError> {
    let direct = PathBuf::from(arg);
    if direct.is_file() {
        return Ok(direct);
    }
    let looks_like_name = !arg.contains(std::path::MAIN_SEPARATOR) && !arg.contains('/') && !arg.ends_with(".toml");
    if looks_like_name {
        let named = dir.join(format!("{arg}.toml"));
        if named.is_file() {
            return Ok(named);
        }
    }
    let known: Vec<String> = list_policies_in(dir).into_iter().map(|(n, _)| n).collect();
    let hint = if known.is_empty() {
        format!("no policies in {}", dir.display())
    } else {
        format!("policies in {}: {}", dir.display(), known.join(", "))
    };
    Err(LiveError::NotFound(format!("--policy {arg}: no such file, and no policy of that name ({hint})")))
}

/// Why a live plan could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No policy by that file or name (the message lists the known ones).
    #[error("{0}")]
    NotFound(String),
    /// The policy file is wrong (names file, line and key).
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The policy's source is wrong (names file and line).
    #[error(transparent)]
    Source(ReadSourceError),
    /// Talking to Slack failed.
    #[error(transparent)]
    Scim(#[from] ScimError),
    /// The saved state of earlier applies cannot be read.
    #[error(transparent)]
    State(#[from] state::StateError),
    /// The directory server of an LDAP source failed (names server, bind DN and result code).
    #[error(transparent)]
    Directory(super::ldap::LdapError),
}

impl LiveError {
    /// The message without what a policy's source file holds (its columns, a key): what the
    /// sync records, shows in `sync status` and sends in alerts. The source path may point at a
    /// file that is no export (a token file): its first line is the "header".
    pub fn brief(&self) -> String {
        match self {
            LiveError::Policy(e) => e.brief(),
            LiveError::Source(e) => e.brief(),
            e => e.to_string(),
        }
    }
}

impl From<ReadSourceError> for LiveError {
    fn from(e: ReadSourceError) -> LiveError {
        match e {
            ReadSourceError::Directory(e) => LiveError::Directory(e),
            ReadSourceError::Policy(e) => LiveError::Policy(e),
            e => LiveError::Source(e),
        }
    }
}

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
    /// What the gate needs to know about every existing user the plan touches (their state and
    /// account), read with the directory the plan was made from.
    pub knowledge: crate::queue::Knowledge,
    /// What the source holds now (kept in the policy state after a successful run).
    pub source_stats: super::plan::SourceStats,
    /// How the source fell since the last successful run, beyond `max_source_drop_percent`: each
    /// holds the run (`apply` without `--force`, `sync` quarantines; `plan` says so).
    pub source_drops: Vec<String>,
}

/// Load a policy and its source, checking both (errors name file and line). A file is read on
/// the blocking pool and a directory over async LDAP, so the caller's async workers stay free.
pub async fn load_policy(path: &Path) -> Result<(Policy, super::Source), LiveError> {
    let policy = Policy::load(path)?;
    let source = policy.read_source_async().await?;
    Ok((policy, source))
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
    let state_file = state::state_file(state_dir, policy_path);
    let prior = state::load_prior(&state_file).map_err(LiveError::State)?;
    // The users are projected onto what the plan reads page by page as the listing streams in:
    // the full SCIM resources of a large org are never held at once.
    let mut users = PlanUsers::for_policy(&policy);
    let project = async {
        let mut pages = std::pin::pin!(client.user_pages(None, 1000));
        while let Some(page) = pages.try_next().await? {
            users.reserve(page.items.len());
            for u in &page.items {
                users.push(u);
            }
        }
        Ok::<(), ScimError>(())
    };
    let groups = if policy.groups.is_empty() {
        project.await.map_err(LiveError::Scim)?;
        Vec::new()
    } else {
        tokio::try_join!(project, client.all_groups()).map_err(LiveError::Scim)?.1
    };
    let plan = super::compute_on(&policy, source, &users, &groups, prior.as_ref()).map_err(|e| match e {
        super::PlanError::Policy(pe) => LiveError::Policy(pe),
        e @ super::PlanError::Projection(_) => unreachable!("projected for this policy: {e}"),
    })?;
    let active_users = (0..users.len()).filter(|&i| users.is_active(i)).count();
    let updated: HashSet<&str> = plan.updates.iter().map(|u| u.id.as_str()).collect();
    let update_emails = (0..users.len())
        .filter(|&i| updated.contains(users.id(i)))
        .filter_map(|i| Some((users.id(i).to_string(), users.primary_email(i)?.to_string())))
        .collect();
    let touched: HashSet<&str> = plan
        .reactivations
        .iter()
        .map(|r| r.id.as_str())
        .chain(plan.deactivations.iter().map(|d| d.id.as_str()))
        .chain(updated.iter().copied())
        .chain(plan.member_adds.iter().chain(&plan.member_removes).flat_map(|mc| mc.members.iter()).filter_map(|m| match m {
            super::plan::MemberRef::User { id, .. } => Some(id.as_str()),
            super::plan::MemberRef::Pending { .. } => None,
        }))
        .collect();
    let mut knowledge = crate::queue::Knowledge::default();
    for i in (0..users.len()).filter(|&i| touched.contains(users.id(i))) {
        knowledge.insert(users.id(i).to_string(), users.facts(i));
    }
    // The bases of the share ceilings: the active users, and each group's members now.
    knowledge.set_population(active_users);
    for g in &groups {
        knowledge.set_group_size(g.id(), g.member_ids().count());
    }
    let source_stats = super::plan::SourceStats::of(&policy, source);
    let source_drops = prior
        .as_ref()
        .and_then(|p| p.source.as_ref())
        .map(|was| was.drops(&source_stats, policy.provisioning.max_source_drop_percent))
        .unwrap_or_default();
    Ok(LivePlan { policy, plan, prior, active_users, state_file, update_emails, knowledge, source_stats, source_drops })
}

/// Record the policy's state after a run that found nothing to do (what `apply_live` does after
/// a run that did everything): the Slack id of each managed group and the scope groups, so that
/// later renames and retired scope groups are recognised.
pub async fn record_state(client: &ScimClient, live: &LivePlan) -> Result<(), LiveError> {
    let ids = state::group_ids_after(client, &live.policy, live.prior.as_ref()).await?;
    let next = PriorState { source: Some(live.source_stats.clone()), ..PriorState::next(&live.policy, live.prior.as_ref(), ids) };
    Ok(state::save_prior(&live.state_file, &next)?)
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
