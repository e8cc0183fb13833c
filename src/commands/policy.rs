//! `scimitar plan`, `scimitar apply` and `scimitar users export`.
//!
//! Exit codes: `plan` gives 0 when nothing would change and 2 when something would; a policy or
//! source error gives 64 with `file:line: `key`: message` on stderr; `apply` gives 0 when every
//! operation succeeded, 1 when some failed, 64 when a ceiling or confirmation stopped it, 75 when
//! another scimitar holds the profile's lock (`sync::lock`). `apply --dry-run` ends as the real
//! apply would begin: 64 when a ceiling would stop it, else 2 when there are changes, 0 when none.

use std::io::Write;
use std::path::PathBuf;

use crate::bulk;
use crate::command_error::Fail;
use crate::connection::Connection;
use crate::env::Environment;
use crate::exit;
use crate::flags::RunArgs;
use crate::output::OutputFormat;
use crate::policy::apply;

use crate::policy::live::{LiveError, LivePlan, live_plan_loaded, load_policy, resolve_policy};
use crate::policy::plan::Plan;
use crate::policy_render as render;

fn print_warnings(plan: &Plan) {
    for v in &plan.violations {
        eprintln!("scimitar: left out: {} ({})", crate::sanitize::clean(&v.message), v.rule);
    }
    for w in &plan.warnings {
        eprintln!("scimitar: warning: {}", crate::sanitize::clean(w));
    }
}

/// Resolve and check the policy (its errors need no connection), then connect and plan.
async fn connect_and_plan<'e>(env: &'e Environment, policy: &str) -> Result<(Connection<'e>, PathBuf, LivePlan), Fail> {
    let path = resolve_policy(policy, &env.paths.policies_dir())?;
    let (policy, source) = load_policy(&path).await?;
    let c = Connection::of(env)?;
    let live = live_plan_loaded(c.client, &path, policy, &source, &env.paths.state_dir()).await?;
    Ok((c, path, live))
}

/// `scimitar plan --policy FILE|NAME`.
pub async fn plan(env: &Environment, policy: &str, output: OutputFormat, out: &mut dyn Write) -> Result<i32, Fail> {
    let (_, _, live) = connect_and_plan(env, policy).await?;
    render::render(&live.plan, output, out)?;
    print_warnings(&live.plan);
    if let Err(e) = live.plan.check_ceiling(&live.policy, live.active_users) {
        eprintln!("scimitar: note: apply will stop: {e}");
    }
    // The gate's ceilings (every kind of change), as apply will meet them.
    if let Some(e) = apply::preview(&live, &env.safety).ceiling_reason() {
        eprintln!("scimitar: note: apply will stop: {e}");
    }
    // The source against the last successful run.
    for d in &live.source_drops {
        eprintln!("scimitar: note: apply will stop: {}", crate::sanitize::clean(d));
    }
    eprintln!("scimitar: plan: {}", crate::present::plan_summary(&live.plan));
    Ok(if live.plan.is_empty() { exit::OK } else { exit::CHANGES })
}

/// The policy's own ceiling (the profile's is the gate's); `--force` passes it.
fn policy_ceiling(live: &LivePlan, force: bool) -> Option<String> {
    if force {
        return None;
    }
    // The policy's ceiling, and the source's fall since the last successful run.
    let mut held: Vec<String> = live.plan.check_ceiling(&live.policy, live.active_users).err().map(|e| e.to_string()).into_iter().collect();
    held.extend(live.source_drops.iter().cloned());
    (!held.is_empty()).then(|| format!("{} (pass --force if that is really meant)", held.join("; ")))
}

/// `scimitar apply --policy FILE|NAME`: queue the plan through the action queue.
pub async fn apply(env: &Environment, policy: &str, run: &RunArgs) -> Result<i32, Fail> {
    // Read-only is refused before the policy is even read (the gate's first rule, asked early).
    bulk::refuse_read_only(env)?;
    let (c, path, live) = connect_and_plan(env, policy).await?;
    let safety = crate::queue::Safety { force: run.force, ..env.safety.clone() };
    let plan = &live.plan;
    let name = crate::policy::state::policy_name(&path);
    print_warnings(plan);
    // One gate decision and one confirmation for everything this run can know up front.
    let preview = apply::preview(&live, &safety);
    if run.dry_run {
        render::render(plan, run.output, &mut std::io::stdout().lock())?;
        // Exit as the real apply would end: stopped at a ceiling (64, as `apply` without --force
        // and without a typed count), else like `plan` (2: changes to make, 0: none).
        let stop = [preview.ceiling(), policy_ceiling(&live, run.force)].into_iter().flatten().collect::<Vec<_>>();
        for e in &stop {
            eprintln!("scimitar: note: the real apply would stop here: {e}");
        }
        for d in &live.source_drops {
            eprintln!("scimitar: note: apply would stop: {}", crate::sanitize::clean(d));
        }
        if let Some(n) = preview.needs_approval() {
            eprintln!("scimitar: note: {n}; the real apply would be held for approval");
        }
        let later = apply::later_operations(&live);
        let then = if later > 0 { format!("; then {later} more in a second pass, once the new users exist") } else { String::new() };
        eprintln!(
            "scimitar: dry run: {}; gate: {}{then}; nothing was changed",
            crate::present::plan_summary(plan),
            crate::sanitize::clean(&preview.summary())
        );
        return Ok(if !stop.is_empty() {
            exit::USAGE
        } else if plan.is_empty() {
            exit::OK
        } else {
            exit::CHANGES
        });
    }
    if plan.is_empty() {
        eprintln!("scimitar: nothing to do: Slack already matches policy {name}");
        save_state(c, &live).await?;
        return Ok(exit::OK);
    }
    for s in preview.skipped() {
        eprintln!("scimitar: skipping {}: {}", crate::sanitize::clean(&s.action.describe()), s.why());
    }
    let what = format!("apply policy {name} ({})", crate::present::plan_summary(plan));
    let passes = apply::passes(plan, &|id| live.update_emails.get(id).cloned());
    let (pending_members, links) = (passes.deferred_members(), passes.manager_links.len());
    if pending_members > 0 || links > 0 {
        eprintln!(
            "scimitar: {pending_members} membership change(s) and {links} manager(s) of users or groups created by this run follow once they exist"
        );
    }
    // Over the profile's approval_over: the preview (pass 1 and the deactivations) is held for
    // another account's approval with its pass 2, nothing sent; approving it runs both passes.
    if preview.needs_approval().is_some() {
        return crate::bulk::hold(c, &preview, "policy", None, &what, Some(apply::Later::of(&live)));
    }
    // Pass 2 is said with its count where the run is confirmed (its ceilings are counted in the
    // preview), and the progress counts it from the start, as the console's does.
    let later = apply::later_operations(&live);
    let confirmed = preview.runnable().len() + later;
    bulk::approve_run(preview, policy_ceiling(&live, run.force), run, &what, later)?;
    // The preview held every deactivation of the run and passed the ceiling (by --force or at the
    // prompt) and the four-eyes rule (it was under approval_over), so the passes do not stop at
    // them again; read-only and the other rules still apply.
    let safety = crate::queue::Safety { force: true, approval_over: None, ..safety };

    // One writer per org: refused (exit 75, naming the holder) while a sync or another apply
    // writes, unless --wait.
    let (_lease, journal) = bulk::take_lease(c, run, &format!("scimitar apply --policy {name}"))?;
    let run_id = crate::queue::journal::new_id("pr");
    eprintln!("scimitar: policy run {run_id} (report: scimitar report --batch {run_id})");
    let env = apply::ApplyEnv { journal, safety, engine: bulk::engine_config(run), origin: "policy".into() };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = crate::queue::Cancel::default();
    let (result, interrupted) = tokio::join!(
        apply::apply_live(c.client, &live, &name, &run_id, env, tx, cancel.clone()),
        bulk::follow_run(rx, &cancel, crate::queue::planned_rate(c.client, run.via), confirmed),
    );
    let outcome = result?;
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

async fn save_state(c: Connection<'_>, live: &LivePlan) -> Result<(), Fail> {
    match crate::policy::live::record_state(c.client, live).await {
        Ok(()) => Ok(()),
        Err(LiveError::Scim(e)) => Err(e.into()),
        Err(e) => Err(Fail::new(exit::FAILURE, format!("cannot save the policy state: {e}"))),
    }
}
