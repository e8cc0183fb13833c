//! The headless write commands: validate every input row, pass the gate (`queue::gate`: safety
//! rules, refused accounts, no-ops, ceilings), ask once, journal, run through the queue engine,
//! print one result per operation.

use crate::command_error::Fail;
use crate::connection::Connection;
use crate::env::Environment;
use crate::exit;
use crate::flags::{RunArgs, Targets};
use crate::output::{OutputFormat, Rows};
use crate::queue::input::{self, InputRow};
use crate::queue::journal::OpRow;
use crate::queue::{
    Action, BatchInfo, CONFIRM_THRESHOLD, Cancel, DeactivateVia, Decision, Engine, EngineConfig, GatedBatch, Journal, Knowledge, OpState,
    QueueEvent, Safety, SkipReason, Target, planned_rate,
};
use crate::scim::{Group, ScimClient, User};
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Instant;

/// Bad input rows as one usage failure (exit 64): each row's message, then how many.
pub use crate::command_error::input_errors;

/// Check the rows, then look them up: progress on a terminal, bounded by `--deadline` when
/// given; a row naming no user is bad input (64), a server failing is not (its own exit code).
async fn resolve_targets(c: Connection<'_>, t: &Targets) -> Result<Vec<(InputRow, User)>, Fail> {
    let rows = input::collect(&t.users, t.from.as_deref()).map_err(input_errors)?;
    let progress = std::io::stderr().is_terminal() && rows.len() > 20;
    let lookups = input::resolve_with_progress(c.client, &rows, |done, total| {
        if progress && (done % 25 == 0 || done == total) {
            eprint!("\rlooking up {done}/{total}");
        }
    });
    let result = match c.env.deadline {
        Some(d) => tokio::time::timeout(d, lookups).await.map_err(|_| {
            Fail::from(crate::scim::ScimError::Deadline {
                what: format!("looking up {}", crate::words::count(rows.len(), "user")),
                after: d,
                limit: "--deadline".into(),
                reason: "not finished in time; nothing was done".into(),
            })
        }),
        None => Ok(lookups.await),
    };
    if progress {
        eprint!("\r\x1b[2K");
    }
    result?.map_err(|e| match e {
        input::ResolveError::Rows(errors) => input_errors(errors),
        input::ResolveError::Server { ref source, .. } => {
            Fail::new(crate::command_error::scim_exit_code(source), format!("{e}; nothing was done"))
        }
    })
}

/// The message and exit code of a write refused by `--read-only`.
/// `--read-only` refuses a write command here, before it connects or sends anything (exit 64):
/// the gate's first rule (`Safety::refuses_writes`), asked before there are actions to gate. The
/// gate applies the same rule again to every action.
pub fn refuse_read_only(env: &Environment) -> Result<(), Fail> {
    match env.safety.refuses_writes() {
        Some(_) => Err(Fail::read_only()),
        None => Ok(()),
    }
}

/// The one way a headless write command gets its connection and the gate's rules.
pub fn writer<'e>(env: &'e Environment, run: &RunArgs) -> Result<(Connection<'e>, Safety), Fail> {
    refuse_read_only(env)?;
    let c = Connection::of(env)?;
    let safety = Safety { force: run.force, ..env.safety.clone() };
    Ok((c, safety))
}

/// `--via delete` is refused on a server where DELETE removes users (anything but Slack, RFC
/// 7644 §3.6), before anything is looked up or sent; `--via both` means PATCH there.
pub async fn refuse_hard_delete(c: Connection<'_>, run: &RunArgs) -> Result<(), Fail> {
    if run.via != DeactivateVia::Delete {
        return Ok(());
    }
    let p = c.client.profile().await;
    if p.delete_deactivates() {
        return Ok(());
    }
    Err(Fail::new(
        exit::USAGE,
        format!(
            "--via delete: this server is {} ({}), where DELETE removes a user for good (RFC 7644 §3.6); scimitar deactivates with PATCH active=false there (--via patch, or both); nothing was done",
            p.label(),
            crate::sanitize::clean(&p.reason)
        ),
    ))
}

pub async fn deactivate(env: &Environment, t: &Targets, run: &RunArgs, active: bool) -> Result<i32, Fail> {
    let (c, safety) = writer(env, run)?;
    if !active {
        refuse_hard_delete(c, run).await?;
    }
    let resolved = resolve_targets(c, t).await?;
    // The lookups are what the gate knows: state, primary owner, bots.
    let known = Knowledge::from_users(resolved.iter().map(|(_, u)| u));
    let actions = resolved
        .into_iter()
        .map(|(_, u)| {
            let target = Target::of_user(&u);
            if active { Action::Reactivate { target } } else { Action::Deactivate { target } }
        })
        .collect();
    let what = if active { "reactivate users" } else { "deactivate users" };
    execute(c, &safety, actions, &known, run, what).await
}

pub async fn create_users(env: &Environment, from: &std::path::Path, run: &RunArgs) -> Result<i32, Fail> {
    let (c, safety) = writer(env, run)?;
    let mut users = input::read_new_users(from).map_err(input_errors)?;
    // Existing accounts are reported before anything runs: linking, never duplicating.
    let mut errors = Vec::new();
    for (origin, u) in &mut users {
        if let Some(email) = u.primary_email()
            && let Some(existing) = c.client.find_user_by_email(email).await?
        {
            let state = if existing.is_active() { "active" } else { "deactivated" };
            errors.push(format!("{origin}: {email} already exists as {} ({state})", existing.id()));
        }
        // A manager given by email or userName is sent as the manager's id: RFC 7643 §4.3's
        // `manager.value` is an id (Slack also takes an email or userName, reference §3); one
        // that names nobody is refused here, before anything runs.
        if let Some(m) = u.manager_id().map(str::to_string) {
            match input::parse_ident(&m) {
                Ok(ident) => match input::lookup(c.client, &ident).await? {
                    Some(boss) => {
                        if let Some(mgr) = u.enterprise.as_mut().and_then(|e| e.manager.as_mut()) {
                            *mgr = crate::scim::types::Manager::of(boss.id());
                        }
                    }
                    None => errors.push(format!("{origin}: the manager {} is no user here", crate::scim::sanitize::quoted_excerpt(&m, 80))),
                },
                Err(e) => errors.push(format!("{origin}: manager: {e}")),
            }
        }
    }
    if !errors.is_empty() {
        return Err(input_errors(errors));
    }
    let actions = users.into_iter().map(|(_, u)| Action::CreateUser { target: Target::of_user(&u), user: u }).collect();
    execute(c, &safety, actions, &Knowledge::default(), run, "create users").await
}

/// A group by id or name, as the server knows it (`queue::input::find_group`).
pub async fn find_group(client: &ScimClient, name_or_id: &str) -> Result<Group, Fail> {
    input::find_group(client, name_or_id).await?.ok_or_else(|| {
        Fail::new(exit::NOT_FOUND, format!("no group with id or name {}", crate::scim::sanitize::quoted_excerpt(name_or_id, 80)))
    })
}

pub async fn group_create(env: &Environment, name: &str, members: &Targets, run: &RunArgs) -> Result<i32, Fail> {
    let (c, safety) = writer(env, run)?;
    if name.trim().is_empty() {
        return Err(Fail::new(exit::USAGE, "the group name is empty"));
    }
    if let Some(g) = c.client.find_group_by_name(name).await? {
        return Err(Fail::new(exit::USAGE, format!("a group named {name:?} already exists ({})", g.id())));
    }
    let ids = if members.users.is_empty() && members.from.is_none() {
        Vec::new()
    } else {
        resolve_targets(c, members).await?.into_iter().map(|(_, u)| u.id().to_string()).collect()
    };
    execute(c, &safety, vec![Action::CreateGroup { name: name.into(), members: ids }], &Knowledge::default(), run, "create a group").await
}

pub async fn group_rename(env: &Environment, group: &str, to: &str, run: &RunArgs) -> Result<i32, Fail> {
    let (c, safety) = writer(env, run)?;
    let g = find_group(c.client, group).await?;
    let a = Action::RenameGroup { id: g.id().into(), from: g.name().into(), to: to.into() };
    execute(c, &safety, vec![a], &Knowledge::default(), run, "rename a group").await
}

pub async fn group_delete(env: &Environment, group: &str, run: &RunArgs) -> Result<i32, Fail> {
    let (c, safety) = writer(env, run)?;
    let g = find_group(c.client, group).await?;
    let a = Action::DeleteGroup { id: g.id().into(), name: g.name().into() };
    execute(c, &safety, vec![a], &Knowledge::default(), run, "delete a group").await
}

pub async fn group_members(env: &Environment, group: &str, t: &Targets, add: bool, run: &RunArgs) -> Result<i32, Fail> {
    let (c, safety) = writer(env, run)?;
    let g = find_group(c.client, group).await?;
    let resolved = resolve_targets(c, t).await?;
    let mut known = Knowledge::from_users(resolved.iter().map(|(_, u)| u));
    // The base of the share ceiling on one group's members.
    known.set_group_size(g.id(), g.member_ids().count());
    let ids: Vec<String> = resolved.into_iter().map(|(_, u)| u.id().to_string()).collect();
    let a = if add {
        Action::AddMembers { group_id: g.id().into(), group_name: g.name().into(), user_ids: ids }
    } else {
        Action::RemoveMembers { group_id: g.id().into(), group_name: g.name().into(), user_ids: ids }
    };
    execute(c, &safety, vec![a], &known, run, if add { "add members" } else { "remove members" }).await
}

/// Ask once on the terminal. Above the threshold the count must be typed.
pub fn confirm(decision: &Decision, what: &str, force_prompt: Option<&str>) -> Result<bool, Fail> {
    confirm_run(decision, what, force_prompt, 0)
}

/// The second pass of a run, said where it is confirmed (the console's words).
pub fn later_line(later: usize) -> Option<String> {
    (later > 0).then(|| format!("Then {later} more in a second pass, once the new users exist."))
}

/// What [`confirm_run`] writes before reading the answer, and whether the count must be typed.
pub fn confirm_text(decision: &Decision, what: &str, force_prompt: Option<&str>, later: usize) -> (String, bool) {
    let run = decision.runnable();
    let n = run.len();
    let mut err = String::new();
    use std::fmt::Write as _;
    let first: Vec<String> = run.iter().take(5).map(|a| a.describe()).collect();
    let _ = writeln!(err, "About to {what}: {}:", crate::words::count(n, "operation"));
    for f in &first {
        let _ = writeln!(err, "  {}", crate::sanitize::clean(f));
    }
    if n > first.len() {
        let _ = writeln!(err, "  … and {} more", n - first.len());
    }
    let _ = writeln!(err, "{}", crate::sanitize::clean(&decision.summary()));
    if let Some(l) = later_line(later) {
        let _ = writeln!(err, "{l}");
    }
    if let Some(p) = force_prompt {
        let _ = writeln!(err, "{p}");
    }
    let typed = decision.destructive() > CONFIRM_THRESHOLD || force_prompt.is_some();
    if typed {
        let _ = write!(err, "Type {n} to confirm: ");
    } else {
        let _ = write!(err, "Proceed? [y/N] ");
    }
    (err, typed)
}

/// [`confirm`] with the count of a second pass that follows (see [`approve_run`]).
pub fn confirm_run(decision: &Decision, what: &str, force_prompt: Option<&str>, later: usize) -> Result<bool, Fail> {
    let n = decision.runnable().len();
    if !std::io::stdin().is_terminal() {
        let then = if later > 0 { format!(", then {later} more in a second pass") } else { String::new() };
        return Err(Fail::new(
            exit::USAGE,
            format!(
                "refusing to {what} ({}{then}) without confirmation: pass --yes (or --dry-run to look first)",
                crate::words::count(n, "operation")
            ),
        ));
    }
    let (text, typed) = confirm_text(decision, what, force_prompt, later);
    let mut err = std::io::stderr();
    let _ = write!(err, "{text}");
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| Fail::new(exit::FAILURE, e.to_string()))?;
    let line = line.trim();
    Ok(if typed { line == n.to_string() } else { matches!(line, "y" | "Y" | "yes") })
}

pub fn open_journal(c: Connection<'_>) -> Result<Arc<Journal>, Fail> {
    Ok(c.env.journal()?)
}

/// Take the org's lease for a write (`store::lease`): every headless write holds it from before
/// it journals until it is done. Held by another: exit 75 naming the holder, or with `--wait`
/// wait for it (telling stderr who holds it). Returns the lease and the journal that writes
/// under it (its marks and records are fenced by the lease's generation).
pub fn take_lease(c: Connection<'_>, run: &RunArgs, command: &str) -> Result<(crate::store::Lease, Arc<Journal>), Fail> {
    let mut told = false;
    c.env
        .take_lease(command, run.wait, |e| {
            if !told {
                eprintln!("scimitar: waiting: {}", crate::sanitize::clean(&e.to_string()));
                told = true;
            }
        })
        .map_err(|e| {
            let code = crate::command_error::env_exit_code(&e);
            Fail::new(code, format!("{}; nothing was done", crate::sanitize::clean(&e.to_string())))
        })
}

/// The command line as the lease names it (`scimitar users deactivate --from leavers.csv`).
pub fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).take(8).collect();
    format!("scimitar {}", args.join(" ")).chars().take(200).collect()
}

/// Pass actions through the gate, telling stderr what it skips and why.
pub fn gate(safety: &Safety, actions: Vec<Action>, known: &Knowledge) -> Decision {
    let decision = crate::queue::gate(safety, actions, known);
    if !decision.is_read_only() {
        for s in decision.skipped() {
            eprintln!("scimitar: skipping {}: {}", crate::sanitize::clean(&s.action.describe()), s.why());
        }
    }
    decision
}

/// The dry-run listing of a decision.
pub fn write_dry_run(decision: &Decision, run: &RunArgs) -> Result<(), Fail> {
    let mut rows = Rows::new(vec!["seq", "action", "target", "would"]);
    for (i, a) in decision.runnable().iter().enumerate() {
        rows.push(vec![(i + 1).to_string(), a.name().into(), a.target().label(), a.describe()], None);
    }
    for s in decision.skipped() {
        rows.push(vec!["-".into(), s.action.name().into(), s.action.target().label(), format!("skip: {}", s.why())], None);
    }
    rows.write(run.output, &mut std::io::stdout().lock())?;
    Ok(())
}

/// Decide whether a gated run may go ahead: a ceiling (the gate's, or `extra`, the policy's) only
/// with `--force` or a typed confirmation on a terminal (`--yes` does not pass a ceiling);
/// destructive runs are confirmed once unless `--yes`. Returns the decision with the ceiling
/// passed when the admin passed it; `Err` means stop with nothing done.
pub fn approve(decision: Decision, extra: Option<String>, run: &RunArgs, what: &str) -> Result<Decision, Fail> {
    approve_run(decision, extra, run, what, 0)
}

/// [`approve`] for a run with a second batch that cannot be gated yet (a policy's pass 2:
/// `later` operations on users and groups the first creates): the confirmation says so, with its
/// count, as the console's does (the decision's ceilings already count them: `apply::preview`).
pub fn approve_run(decision: Decision, extra: Option<String>, run: &RunArgs, what: &str, later: usize) -> Result<Decision, Fail> {
    if decision.is_read_only() {
        return Err(Fail::read_only());
    }
    let needs_confirm = !run.yes && decision.destructive() > 0;
    // Every reason the run is held, the gate's and the caller's (a policy's ceiling, its source).
    let held = match (decision.ceiling_reason(), extra) {
        (Some(g), Some(x)) => Some(format!("{g}; {x}")),
        (Some(g), None) => Some(format!("{g}; pass --force if that is really meant")),
        (None, x) => x,
    };
    if let Some(e) = held {
        if run.yes || !std::io::stdin().is_terminal() {
            return Err(Fail::new(exit::USAGE, format!("{e}; nothing was done")));
        }
        if !confirm_run(&decision, what, Some(&format!("WARNING: {e}")), later)? {
            return Err(Fail::new(exit::FAILURE, "not confirmed; nothing was done"));
        }
        return Ok(decision.pass_ceiling());
    }
    if needs_confirm && !confirm_run(&decision, what, None, later)? {
        return Err(Fail::new(exit::FAILURE, "not confirmed; nothing was done"));
    }
    Ok(decision)
}

/// Journal an approved decision and run it (results on stdout); returns the exit code.
pub async fn submit_and_run(
    c: Connection<'_>,
    journal: Arc<Journal>,
    info: &BatchInfo,
    decision: Decision,
    run: &RunArgs,
) -> Result<i32, Fail> {
    let batch = crate::queue::submit(&journal, info, decision).map_err(Fail::from)?;
    run_batch(c, journal, &batch, run).await
}

/// Gate, confirm, journal and run a list of actions.
pub async fn execute(
    c: Connection<'_>,
    safety: &Safety,
    actions: Vec<Action>,
    known: &Knowledge,
    run: &RunArgs,
    what: &str,
) -> Result<i32, Fail> {
    let decision = gate(safety, actions, known);
    if decision.is_read_only() {
        return Err(Fail::read_only());
    }
    if run.dry_run {
        write_dry_run(&decision, run)?;
        if let Some(e) = decision.ceiling() {
            eprintln!("scimitar: note: {e}");
        }
        if let Some(n) = decision.needs_approval() {
            eprintln!("scimitar: note: {n}; the real run would be held for approval");
        }
        eprintln!("scimitar: dry run: {}; nothing was changed", crate::sanitize::clean(&decision.summary()));
        return Ok(exit::OK);
    }
    if decision.is_empty() {
        eprintln!("scimitar: nothing to do: {}", crate::sanitize::clean(&decision.summary()));
        // Targets already as asked are no failure; a refusal is.
        let refused = decision.skipped().iter().any(|s| s.reason != SkipReason::AlreadyInState);
        return Ok(if refused { exit::FAILURE } else { exit::OK });
    }
    if decision.needs_approval().is_some() {
        return hold(c, &decision, "headless", None, what, None);
    }
    let decision = approve(decision, None, run, what)?;
    let (_lease, journal) = take_lease(c, run, &command_line())?;
    let info = BatchInfo { origin: "headless".into(), policy_run: None, description: what.into() };
    submit_and_run(c, journal, &info, decision, run).await
}

/// Run (or resume) a journaled batch with a progress bar on stderr and results on stdout.
pub async fn run_batch(c: Connection<'_>, journal: Arc<Journal>, batch: &GatedBatch, run: &RunArgs) -> Result<i32, Fail> {
    let engine = Engine::new(c.client.clone(), journal, engine_config(run));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = Cancel::default();
    // The engine's workers are tasks of their own; this task follows their events meanwhile.
    let (result, interrupted) =
        tokio::join!(engine.run_batch(batch, Some(tx), cancel.clone()), follow(rx, &cancel, planned_rate(c.client, run.via)));
    let result = result.map_err(|e| Fail::new(exit::FAILURE, format!("the queue stopped: {e:#}")))?;
    print_batch(&result, run)?;
    Ok(if result.all_succeeded() && !interrupted { exit::OK } else { exit::FAILURE })
}

/// Follow a run's queue events until their channel closes: a progress bar on stderr when it is a
/// terminal (over every batch of the run), failures on stderr, Ctrl-C cancels the rest. Returns
/// whether the run was interrupted.
pub async fn follow(rx: tokio::sync::mpsc::UnboundedReceiver<QueueEvent>, cancel: &Cancel, rate: Option<f64>) -> bool {
    follow_run(rx, cancel, rate, 0).await
}

/// [`follow`] with the run's total known from the start (`expected`: the operations confirmed,
/// later passes included), so the bar does not grow when a later batch starts; the batches' sum
/// if more.
pub async fn follow_run(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<QueueEvent>,
    cancel: &Cancel,
    rate: Option<f64>,
    expected: usize,
) -> bool {
    let progress = std::io::stderr().is_terminal();
    let started = Instant::now();
    let (mut total, mut done, mut failed) = (expected, 0usize, 0usize);
    let mut batches = 0usize;
    let mut interrupted = false;
    // Ctrl-C, and SIGTERM (a service manager stopping the run): listened to from the start, so
    // a signal between two events is never missed.
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    let arrived = async |s: &mut Option<tokio::signal::unix::Signal>| match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    };
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { break };
                match ev {
                    QueueEvent::BatchStarted { total: t, .. } => {
                        batches += t;
                        total = total.max(batches);
                    }
                    QueueEvent::OpFinished { state, describe, message, .. } => {
                        if state == OpState::Failed {
                            failed += 1;
                            if progress {
                                eprint!("\r\x1b[2K");
                            }
                            eprintln!("scimitar: failed: {}: {}", crate::sanitize::clean(&describe), crate::sanitize::clean(&message));
                        } else {
                            done += 1;
                        }
                        if progress {
                            draw_progress(done + failed, total, failed, started, rate);
                        }
                    }
                    _ => {}
                }
            }
            _ = arrived(&mut int), if !interrupted => {
                interrupted = true;
                cancel.cancel();
                eprintln!("\nscimitar: interrupted: nothing more is sent; requests already on the wire finish, the rest is cancelled (the journal keeps everything)");
            }
            _ = arrived(&mut term), if !interrupted => {
                interrupted = true;
                cancel.cancel();
                eprintln!("\nscimitar: terminated: nothing more is sent; requests already on the wire finish, the rest is cancelled (the journal keeps everything)");
            }
        }
    }
    if progress {
        eprint!("\r\x1b[2K");
    }
    interrupted
}

/// A finished batch: one result per operation on stdout, the counts on stderr.
pub fn print_batch(result: &crate::queue::BatchResult, run: &RunArgs) -> Result<(), Fail> {
    write_results(&result.ops, run.output)?;
    eprintln!(
        "scimitar: batch {}: {} done, {} failed, {} skipped, {} cancelled in {:.1}s",
        result.batch_id,
        result.count(OpState::Done),
        result.count(OpState::Failed),
        result.count(OpState::Skipped),
        result.count(OpState::Cancelled),
        result.elapsed.as_secs_f64()
    );
    Ok(())
}

/// How the engine runs for these options.
pub fn engine_config(run: &RunArgs) -> EngineConfig {
    EngineConfig { workers: run.workers, deactivate_via: run.via, ..Default::default() }
}

fn draw_progress(n: usize, total: usize, failed: usize, started: Instant, rate: Option<f64>) {
    let width = 30;
    let filled = (n * width).checked_div(total).unwrap_or(width);
    let left = total.saturating_sub(n);
    let observed = n as f64 / started.elapsed().as_secs_f64().max(0.001);
    let r = rate.map_or(observed, |r| if n > 20 { observed.min(r) } else { r });
    let eta = if r > 0.0 { left as f64 / r } else { 0.0 };
    eprint!("\r[{}{}] {n}/{total}  failed {failed}  eta {:.0}s ", "#".repeat(filled), ".".repeat(width - filled), eta);
    let _ = std::io::stderr().flush();
}

fn write_results(ops: &[OpRow], format: OutputFormat) -> Result<(), Fail> {
    let mut rows = Rows::new(vec!["seq", "action", "target", "id", "outcome", "code", "message", "retries"]);
    for o in ops {
        let t = o.action.target();
        let message = o.error_message.clone().or_else(|| o.note.clone()).unwrap_or_default();
        let json = serde_json::json!({
            "op_id": o.op_id, "batch_id": o.batch_id, "seq": o.seq, "action": o.action.name(),
            "target": t.label(), "id": t.id, "email": t.email, "outcome": o.state,
            "code": o.error_code, "http_status": o.http_status, "message": message, "retries": o.retries,
        });
        rows.push(
            vec![
                o.seq.to_string(),
                o.action.name().into(),
                t.label(),
                t.id.clone().unwrap_or_default(),
                o.state.as_str().into(),
                o.error_code.clone().unwrap_or_default(),
                message,
                o.retries.to_string(),
            ],
            Some(json),
        );
    }
    rows.write(format, &mut std::io::stdout().lock())?;
    Ok(())
}

/// `scimitar resume`: finish batches a crash or kill left open. Each batch passes the gate again
/// first (`queue::regate`: read-only, protected, refused accounts, targets already as asked).
pub async fn resume(env: &Environment, batch: Option<&str>, retry_failed: bool, run: &RunArgs) -> Result<i32, Fail> {
    let (c, safety) = writer(env, run)?;
    // Resuming writes: it holds the org's lease like any write, and so touches only batches
    // whose owner is gone (a live run's batch is left alone, `Journal::claim`).
    let (_lease, journal) =
        if run.dry_run { (None, open_journal(c)?) } else { take_lease(c, run, &command_line()).map(|(l, j)| (Some(l), j))? };
    let journal_fail = |e: crate::queue::JournalError| Fail::new(exit::FAILURE, e.to_string());
    // `--retry-failed` names one batch, which may be closed: it is gated (and its failed ops
    // queued again) before the open batches are listed.
    let mut regated = None;
    if let Some(b) = batch
        && retry_failed
    {
        if run.dry_run {
            let n = journal.ops(b).map_err(journal_fail)?.iter().filter(|o| o.state == OpState::Failed).count();
            eprintln!("scimitar: dry run: {} of {b} would be queued again", crate::words::count(n, "failed operation"));
        } else {
            let r = crate::queue::regate(c.client, &journal, &safety, b, true).await.map_err(Fail::from)?;
            eprintln!("scimitar: {} of {b} queued again", crate::words::count(r.requeued, "failed operation"));
            regated = Some(r);
        }
    }
    let open = journal.unfinished_batches().map_err(journal_fail)?;
    let open: Vec<_> = open.into_iter().filter(|b| batch.is_none_or(|x| x == b.batch_id)).collect();
    let (live, open): (Vec<_>, Vec<_>) = open.into_iter().partition(|b| b.owner_alive);
    for b in &live {
        eprintln!(
            "scimitar: leaving batch {} alone: its run is still alive ({})",
            b.batch_id,
            crate::sanitize::clean(b.owner.as_deref().unwrap_or("another scimitar"))
        );
    }
    if open.is_empty() {
        eprintln!("scimitar: nothing to resume");
        return Ok(exit::OK);
    }
    // The process that left these batches open may have spent Slack's budget just before it
    // died: start from an empty one, at the sustained rate, rather than burst into 429s.
    c.client.assume_budget_spent();
    let mut code = exit::OK;
    let org = c.env.org_key()?;
    for b in open {
        if b.org.as_ref().is_some_and(|o| *o != org.0) {
            eprintln!("scimitar: skipping batch {} (it belongs to another org, {})", b.batch_id, b.org.as_deref().unwrap_or(""));
            continue;
        }
        if b.host != c.client.host() {
            eprintln!("scimitar: skipping batch {} (it belongs to {}, this connection is {})", b.batch_id, b.host, c.client.host());
            code = exit::FAILURE;
            continue;
        }
        eprintln!(
            "scimitar: resuming batch {} ({}, {} of {} operations open, started {})",
            b.batch_id, b.description, b.open, b.total, b.created
        );
        if run.dry_run {
            continue;
        }
        let r = match regated.take_if(|r| r.batch.id() == b.batch_id) {
            Some(r) => r,
            None => crate::queue::regate(c.client, &journal, &safety, &b.batch_id, false).await.map_err(Fail::from)?,
        };
        for s in &r.skipped {
            eprintln!("scimitar: skipping {}: {}", crate::sanitize::clean(&s.action.describe()), s.why());
        }
        for (a, why) in &r.unread {
            eprintln!("scimitar: {}: {}", crate::sanitize::clean(&a.describe()), crate::sanitize::clean(why));
            code = exit::FAILURE;
        }
        if r.confirmed > 0 {
            eprintln!("scimitar: {} sent before the interruption had landed (done)", crate::words::count(r.confirmed, "operation"));
        }
        let rc = run_batch(c, journal.clone(), &r.batch, run).await?;
        code = code.max(rc);
    }
    Ok(code)
}

/// A batch the gate holds for approval (`Decision::needs_approval`): kept in the store as a
/// pending approval, its id on stdout, exit 3. Nothing is sent.
/// `later`: a policy apply's pass 2, which the approved run does too (`approved::run`).
pub fn hold(
    c: Connection<'_>,
    decision: &Decision,
    origin: &str,
    policy_run: Option<String>,
    what: &str,
    later: Option<crate::policy::apply::Later>,
) -> Result<i32, Fail> {
    let journal = open_journal(c)?;
    let org = c.env.org_key().ok().map(|o| o.0);
    let p = crate::approval::Proposal { origin: origin.into(), policy_run, policy: None, description: what.into(), later };
    let a = crate::approval::propose(&journal, org.as_deref(), &p, decision).map_err(Fail::from)?;
    eprintln!("scimitar: {}", crate::sanitize::clean(&a.screening.held));
    eprintln!("scimitar: gate: {}", crate::sanitize::clean(&decision.summary()));
    eprintln!(
        "scimitar: held for approval as {id}; nothing was sent. Another account approves it with `scimitar approvals approve {id}` (or rejects it: `scimitar approvals reject {id}`)",
        id = a.id
    );
    println!("{}", a.id);
    Ok(exit::PENDING_APPROVAL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{Action, Knowledge, Safety, Target, gate};

    /// Issue 25: `apply`'s confirmation says the second pass with its count (the console's words),
    /// after the operations gated now; the count to type stays the operations sent now.
    #[test]
    fn the_confirmation_says_the_second_pass_with_its_count() {
        let actions: Vec<Action> =
            (0..30).map(|i| Action::Deactivate { target: Target { id: Some(format!("U{i}")), ..Default::default() } }).collect();
        let safety = Safety { ceilings: crate::queue::Ceilings { deactivations: 100, ..Default::default() }, ..Default::default() };
        let d = gate(&safety, actions, &Knowledge::default());
        let (text, typed) = confirm_text(&d, "apply policy hr", None, 12);
        assert!(typed, "{text}");
        assert!(text.starts_with("About to apply policy hr: 30 operations:"), "{text}");
        assert!(text.contains("\nThen 12 more in a second pass, once the new users exist.\n"), "{text}");
        assert!(text.ends_with("Type 30 to confirm: "), "{text}");
        let (text, _) = confirm_text(&d, "apply policy hr", None, 0);
        assert!(!text.contains("second pass"), "{text}");
    }
}
