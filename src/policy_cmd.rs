//! `scimitar plan`, `scimitar apply` and `scimitar users export`.
//!
//! Exit codes: `plan` gives 0 when nothing would change and 2 when something would; a policy or
//! source error gives 64 with `file:line: `key`: message` on stderr; `apply` gives 0 when every
//! operation succeeded, 1 when some failed, 64 when a ceiling or confirmation stopped it.

use std::io::Write;
use std::path::PathBuf;

use crate::bulk::{self, RunArgs};
use crate::cli::{ConnArgs, Connection, Fail, USER_COLUMNS, user_row};
use crate::exit;
use crate::output::{OutputFormat, Rows};
use crate::policy::apply::{self, Passes};
use crate::policy::export;
use crate::policy::ldap::FailureKind;
use crate::policy::live::{LiveError, LivePlan, live_plan_loaded, load_policy, resolve_policy, summary};
use crate::policy::plan::{Plan, PriorState};
use crate::policy_render as render;
use crate::queue::{Safety, Screened};
use crate::scim::ApiVersion;

impl From<LiveError> for Fail {
    fn from(e: LiveError) -> Fail {
        match e {
            LiveError::Policy(m) => Fail::new(exit::USAGE, m),
            LiveError::State(m) => Fail::new(exit::CONFIG, m),
            LiveError::Scim(e) => e.into(),
            LiveError::Directory(e) => {
                let code = match e.kind {
                    FailureKind::Auth => exit::AUTH,
                    FailureKind::Unavailable => exit::UNAVAILABLE,
                    FailureKind::Config => exit::CONFIG,
                    FailureKind::Server => exit::USAGE,
                };
                Fail::new(code, e.to_string())
            }
        }
    }
}

fn print_warnings(plan: &Plan) {
    for w in &plan.warnings {
        eprintln!("scimitar: warning: {}", crate::sanitize::clean(w));
    }
}

/// Resolve and check the policy (its errors need no connection), then connect and plan.
async fn connect_and_plan(conn: &ConnArgs, policy: &str) -> Result<(Connection, PathBuf, LivePlan), Fail> {
    let path = resolve_policy(policy)?;
    let (policy, source) = load_policy(&path).await?;
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
