//! `scimitar plan`, `scimitar apply` and `scimitar users export`, plus what the console's
//! Policies pane needs (`list_policies`, `compute_live_plan`).
//!
//! Exit codes: `plan` gives 0 when nothing would change and 2 when something would; a policy or
//! source error gives 64 with `file:line: `key`: message` on stderr; `apply` gives 0 when every
//! operation succeeded, 1 when some failed, 64 when a ceiling or confirmation stopped it.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::apply::{self, Passes};
use super::config::{Policy, PolicyError};
use super::plan::{Plan, PriorState};
use super::{export, render};
use crate::bulk::{self, RunArgs};
use crate::cli::{ConnArgs, Connection, Fail, USER_COLUMNS, user_row};
use crate::exit;
use crate::output::{OutputFormat, Rows};
use crate::queue::{Safety, Screened};
use crate::scim::{ApiVersion, ScimClient, ScimError};

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
pub fn resolve_policy(arg: &str) -> Result<PathBuf, Fail> {
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
    Err(Fail::new(exit::USAGE, format!("--policy {arg}: no such file, and no policy of that name ({hint})")))
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
}

impl std::fmt::Display for LiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiveError::Policy(m) | LiveError::State(m) => f.write_str(m),
            LiveError::Scim(e) => write!(f, "{e}"),
        }
    }
}

impl From<LiveError> for Fail {
    fn from(e: LiveError) -> Fail {
        match e {
            LiveError::Policy(m) => Fail::new(exit::USAGE, m),
            LiveError::State(m) => Fail::new(exit::CONFIG, m),
            LiveError::Scim(e) => e.into(),
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
}

/// Load a policy and its source, checking both (errors name file and line).
pub fn load_policy(path: &Path) -> Result<(Policy, super::Source), LiveError> {
    let policy = Policy::load(path).map_err(|e| LiveError::Policy(e.to_string()))?;
    let source = policy.read_source().map_err(|e| match e.downcast::<PolicyError>() {
        Ok(pe) => LiveError::Policy(pe.to_string()),
        Err(e) => LiveError::Policy(format!("{}: source: {e:#}", path.display())),
    })?;
    Ok((policy, source))
}

/// Compare a policy's source with the live directory; prior state from `state_dir`.
pub async fn live_plan(client: &ScimClient, policy_path: &Path, state_dir: &Path) -> Result<LivePlan, LiveError> {
    let (policy, source) = load_policy(policy_path)?;
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

fn print_warnings(plan: &Plan) {
    for w in &plan.warnings {
        eprintln!("scimitar: warning: {}", crate::sanitize::clean(w));
    }
}

fn summary(plan: &Plan) -> String {
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

/// Resolve and check the policy (its errors need no connection), then connect and plan.
async fn connect_and_plan(conn: &ConnArgs, policy: &str) -> Result<(Connection, PathBuf, LivePlan), Fail> {
    let path = resolve_policy(policy)?;
    let (policy, source) = load_policy(&path)?;
    let c = conn.connect()?;
    let live = live_plan_loaded(&c.client, &path, policy, &source, &apply::default_state_dir()).await?;
    Ok((c, path, live))
}

/// `scimitar plan --policy FILE|NAME`.
pub async fn plan(conn: &ConnArgs, policy: &str, output: OutputFormat, out: &mut dyn Write) -> Result<i32, Fail> {
    let (_, _, live) = connect_and_plan(conn, policy).await?;
    render::render(&live.plan, output, out)?;
    print_warnings(&live.plan);
    if let Err(e) = live.plan.check_ceiling(&live.policy, live.active_users) {
        eprintln!("scimitar: note: apply will stop: {e}");
    }
    eprintln!("scimitar: plan: {}", summary(&live.plan));
    Ok(if live.plan.is_empty() { exit::OK } else { exit::CHANGES })
}

/// Policy check and profile check together; `--force` passes both.
fn ceilings(live: &LivePlan, safety: &Safety, preview: &Screened, force: bool) -> Result<(), String> {
    safety.check_ceiling(preview)?;
    if !force && let Err(e) = live.plan.check_ceiling(&live.policy, live.active_users) {
        return Err(format!("{e} (pass --force if that is really meant)"));
    }
    Ok(())
}

/// `scimitar apply --policy FILE|NAME`: queue the plan through the action queue.
pub async fn apply(conn: &ConnArgs, policy: &str, run: &RunArgs) -> Result<i32, Fail> {
    let (c, path, live) = connect_and_plan(conn, policy).await?;
    let c = &c;
    let plan = &live.plan;
    let name = apply::policy_name(&path);
    print_warnings(plan);
    if run.dry_run {
        render::render(plan, run.output, &mut std::io::stdout().lock())?;
        if let Err(e) = plan.check_ceiling(&live.policy, live.active_users) {
            eprintln!("scimitar: note: apply would stop: {e}");
        }
        eprintln!("scimitar: dry run: {}; nothing was changed", summary(plan));
        return Ok(exit::OK);
    }
    if plan.is_empty() {
        eprintln!("scimitar: nothing to do: Slack already matches policy {name}");
        save_state(c, &live).await?;
        return Ok(exit::OK);
    }
    let Passes { first, deferred, deactivations } = apply::passes(plan, &|id| live.update_emails.get(id).cloned());
    // One screening and one confirmation for everything this run can know up front.
    let mut preview_actions = first.clone();
    preview_actions.extend(deactivations.iter().cloned());
    let (safety, preview) = bulk::screen(c, preview_actions, run);
    let what = format!("apply policy {name} ({})", summary(plan));
    let pending_members: usize = deferred.iter().map(|d| d.members.len()).sum();
    if pending_members > 0 {
        eprintln!("scimitar: {pending_members} membership change(s) of users or groups created by this run follow once they exist");
    }
    bulk::approve(&preview, ceilings(&live, &safety, &preview, run.force), run, &what)?;

    let journal = bulk::open_journal(c)?;
    let run_id = crate::queue::journal::new_id("pr");
    eprintln!("scimitar: policy run {run_id} (report: scimitar report --batch {run_id})");
    let env = apply::ApplyEnv {
        journal,
        safety,
        engine: crate::queue::EngineConfig { workers: run.workers, deactivate_via: run.via },
        origin: "policy".into(),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = crate::queue::Cancel::default();
    let (result, interrupted) = tokio::join!(
        apply::apply_live(&c.client, &live, &name, &run_id, env, tx, cancel.clone()),
        bulk::follow(rx, &cancel, bulk::planned_rate(&c.client, run.via)),
    );
    let outcome = result.map_err(|e| Fail::new(exit::FAILURE, e))?;
    for b in &outcome.batches {
        bulk::print_batch(b, run)?;
    }
    for m in &outcome.missing {
        eprintln!("scimitar: warning: {}", crate::sanitize::clean(m));
    }
    if outcome.stopped_after_first {
        eprintln!("scimitar: {}", apply::PASS1_STOPPED);
    }
    if let Some(e) = outcome.state_error {
        return Err(Fail::new(exit::FAILURE, format!("cannot save the policy state: {e}")));
    }
    Ok(if outcome.complete && !interrupted { exit::OK } else { exit::FAILURE })
}

async fn save_state(c: &Connection, live: &LivePlan) -> Result<(), Fail> {
    let ids = apply::group_ids_after(&c.client, &live.policy, live.prior.as_ref()).await?;
    let next = PriorState::next(&live.policy, live.prior.as_ref(), ids);
    apply::save_prior(&live.state_file, &next).map_err(|e| Fail::new(exit::FAILURE, format!("cannot save the policy state: {e}")))
}

/// `scimitar users export`: the live directory; `csv` is in the shape a policy source reads
/// (`config::EXPORT_POLICY`).
pub async fn export_users(c: &Connection, output: OutputFormat, out: &mut dyn Write) -> Result<i32, Fail> {
    let users = c.client.all_users(None).await?;
    match output {
        OutputFormat::Csv => export::users_to_source_csv(&users, out)?,
        OutputFormat::Json => {
            for u in &users {
                serde_json::to_writer(&mut *out, &u.to_value(ApiVersion::V2)).map_err(std::io::Error::from)?;
                out.write_all(b"\n")?;
            }
        }
        OutputFormat::Table => {
            let mut rows = Rows::new(USER_COLUMNS.to_vec());
            for u in &users {
                rows.push(user_row(u), None);
            }
            rows.write(output, out)?;
        }
    }
    eprintln!("scimitar: exported {} users", users.len());
    Ok(exit::OK)
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
