//! Unattended sync: `scimitar sync --policy P [--every D | --once]` runs one **cycle** after
//! another: take the org's lease, finish what a killed cycle left in the journal, plan, hold
//! the plan when it is over a ceiling (**quarantine**), else apply it through the one gate
//! (`policy::apply::apply_live`, the function `scimitar apply` and the console use) under a
//! **circuit breaker**, record the run, and alert.
//!
//! - [`lock`]: one writer per Slack org (the store's lease, naming its holder).
//! - [`breaker`]: trips on operations failing in a row, or on active users falling faster than
//!   the plan said; a trip cancels the apply (`queue::Cancel`) and quarantines the policy.
//! - [`status`]: the status record in the database (quarantine, the cycle in progress, the runs).
//! - [`alert`]: the JSON summary to a webhook and/or a command.
//!
//! A quarantined policy writes nothing until an admin reviews the held plan and approves it
//! ([`review`], then [`approve`]: `scimitar sync approve`, or `A` in the console's Policies pane),
//! which applies it (still through the gate and the breaker) and releases the quarantine.
//!
//! Nothing here prints: the front end gets [`CycleEvent`]s and a [`CycleReport`].

pub mod alert;
pub mod breaker;
pub mod lock;
pub mod status;

pub use alert::{Alert, AlertEvent, Alerts};
pub use breaker::{Breaker, BreakerConfig, Trip};
pub use lock::{Holder, Lease, LockError};
pub use status::{OpCounts, Quarantine, QuarantineKind, RunRecord, RunResult, StatusError, SyncState, SyncStore};

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use tokio::sync::mpsc::UnboundedSender;

use crate::env::Environment;
use crate::policy::apply::{self, ApplyEnv, ApplyOutcome};
use crate::policy::live::{self, LiveError, LivePlan};
use crate::queue::{Cancel, Decision, EngineConfig, Journal, QueueEvent, Safety};
use crate::scim::ScimClient;

/// What a cycle tells its front end while it runs.
#[derive(Clone, Debug)]
pub enum CycleEvent {
    /// The engine's own events (one per operation started and finished).
    Queue(QueueEvent),
    /// A line worth logging (what was resumed, skipped, held, tripped).
    Note(String),
}

/// One policy's sync: what it reads and how it runs.
#[derive(Debug)]
pub struct SyncJob {
    pub policy_path: PathBuf,
    /// The policy's name (its file stem): the key of its status record and state file.
    pub name: String,
    pub engine: EngineConfig,
    pub breaker: BreakerConfig,
    pub alerts: Alerts,
    /// What the lock file says runs (`scimitar sync --policy hr`).
    pub command: String,
}

/// `[sync]` in config.toml is unusable, or the policy cannot be found.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Alerts(#[from] alert::AlertConfigError),
    #[error(transparent)]
    Policy(#[from] LiveError),
}

impl SyncJob {
    /// Resolve the policy (a file or a NAME in the config dir's `policies/`) and read `[sync]`.
    pub fn new(env: &Environment, policy: &str, engine: EngineConfig, command: impl Into<String>) -> Result<SyncJob, SetupError> {
        let policy_path = live::resolve_policy(policy, &env.paths.policies_dir())?;
        Ok(SyncJob {
            name: crate::policy::state::policy_name(&policy_path),
            policy_path,
            engine,
            breaker: BreakerConfig::from_config(&env.config.sync)?,
            alerts: Alerts::from_config(&env.config.sync)?,
            command: command.into(),
        })
    }
}

/// Why a cycle could not do its work (besides operations failing, which the counts tell).
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    /// Another scimitar writes to this org (its lease is held).
    #[error(transparent)]
    Locked(crate::store::LeaseError),
    /// Planning failed: the policy, its source, Slack or the directory.
    #[error(transparent)]
    Plan(#[from] LiveError),
    /// The environment: no token, no journal, `--read-only`.
    #[error("{0}")]
    Env(crate::env::EnvError),
    #[error(transparent)]
    Status(#[from] StatusError),
    /// A rule that refuses every write (`--read-only`) held the cycle (`what`: what it held).
    #[error("{hold}; {what}")]
    Held { hold: crate::queue::Hold, what: &'static str },
    /// A cycle without changes could not save the policy state.
    #[error("cannot save the policy state: {0}")]
    SaveState(LiveError),
    /// Finishing a killed cycle: the journal's worker thread failed.
    #[error("{0}")]
    Worker(#[from] tokio::task::JoinError),
    /// Finishing a killed cycle: the journal could not be read.
    #[error("journal: {0:#}")]
    Journal(crate::queue::JournalError),
    /// Finishing a killed cycle: its batch could not be gated again.
    #[error("resuming {batch}: {source}")]
    Resume { batch: String, source: crate::queue::GateError },
    /// Finishing a killed cycle: the engine stopped.
    #[error("the queue stopped: {0:#}")]
    Queue(crate::queue::JournalError),
    /// The apply stopped (a pass held, the journal or the queue failed).
    #[error(transparent)]
    Apply(#[from] apply::ApplyError),
    /// A run over `approval_over` could not be kept as a pending approval.
    #[error("{0}")]
    Approval(crate::approval::ApprovalError),
}

impl From<crate::env::EnvError> for CycleError {
    fn from(e: crate::env::EnvError) -> Self {
        match e {
            crate::env::EnvError::Lease(l @ crate::store::LeaseError::Held { .. }) => CycleError::Locked(l),
            e => CycleError::Env(e),
        }
    }
}

/// How one cycle (or one `sync approve`) ended.
#[derive(Debug)]
pub struct CycleReport {
    pub record: RunRecord,
    /// The quarantine this cycle made, or found (result `held`).
    pub quarantine: Option<Quarantine>,
    /// What happened besides the counts: resumed batches, skipped operations, missing members.
    pub notes: Vec<String>,
    /// Alerts that could not be delivered (the URL shown as its host only).
    pub alert_failures: Vec<String>,
    pub error: Option<CycleError>,
}

impl CycleReport {
    fn new(env: &Environment, job: &SyncJob) -> CycleReport {
        let now = OffsetDateTime::now_utc();
        CycleReport {
            record: RunRecord {
                profile: env.profile_name.clone(),
                policy: job.name.clone(),
                run_id: None,
                started: now,
                finished: now,
                result: RunResult::Error,
                message: None,
                ops: OpCounts::default(),
                plan: None,
            },
            quarantine: None,
            notes: Vec::new(),
            alert_failures: Vec::new(),
            error: None,
        }
    }

    fn end(mut self, result: RunResult, message: Option<String>) -> CycleReport {
        self.record.result = result;
        self.record.message = message.map(|m| crate::scim::redact::redact(&m).into_owned());
        self.record.finished = OffsetDateTime::now_utc();
        self
    }

    fn fail(mut self, e: CycleError) -> CycleReport {
        // Held by another scimitar: `locked`. A lease that cannot be taken (the store
        // unreachable, no file descriptors left) is an error, and alerted as one.
        let result = if matches!(e, CycleError::Locked(_)) { RunResult::Locked } else { RunResult::Error };
        // What is recorded and alerted never quotes a source file (it may be a secret's).
        let msg = match &e {
            CycleError::Plan(p) => p.brief(),
            e => e.to_string(),
        };
        self.error = Some(e);
        self.end(result, Some(msg))
    }

    /// One line for a log: `applied: 3 done, 0 failed, 1 skipped, 0 cancelled (run pr-...)`.
    pub fn line(&self) -> String {
        let r = &self.record;
        let mut s =
            format!("{}: {} done, {} failed, {} skipped, {} cancelled", r.result, r.ops.done, r.ops.failed, r.ops.skipped, r.ops.cancelled);
        if let Some(id) = &r.run_id {
            s.push_str(&format!(" (run {id})"));
        }
        if let Some(m) = &r.message {
            s.push_str(&format!(": {m}"));
        }
        s
    }
}

fn note(progress: &Option<UnboundedSender<CycleEvent>>, notes: &mut Vec<String>, text: String) {
    if let Some(p) = progress {
        let _ = p.send(CycleEvent::Note(text.clone()));
    }
    notes.push(text);
}

/// The gate's rules for a sync: the profile's, with `--read-only`. The ceilings are checked by
/// the cycle before it applies (over one, it quarantines), so the passes run with them passed.
fn passed(safety: &Safety) -> Safety {
    // (and the four-eyes rule: the cycle held a preview over approval_over before it applied)
    Safety { force: true, approval_over: None, ..safety.clone() }
}

/// The ceilings a plan is over (the policy's and the gate's, i.e. the profile's), and how its
/// source fell since the last successful run (`LivePlan::source_drops`).
pub fn ceilings(live: &LivePlan, preview: &Decision) -> Vec<String> {
    let mut out = Vec::new();
    if let Err(e) = live.plan.check_ceiling(&live.policy, live.active_users) {
        out.push(e.to_string());
    }
    out.extend(live.source_drops.iter().cloned());
    if let Some(c) = preview.ceiling() {
        out.push(c);
    }
    out
}

fn held_json(live: &LivePlan, preview: &Decision) -> serde_json::Value {
    serde_json::json!({
        "plan": live.plan.counts(),
        "summary": crate::present::plan_summary(&live.plan),
        "gate": preview.summary(),
        "active_users": live.active_users,
    })
}

/// Run one cycle: lock, finish a killed cycle, plan, quarantine or apply, record, alert.
/// `cancel` (SIGTERM) stops it between operations.
pub async fn run_cycle(
    env: &Environment,
    job: &SyncJob,
    store: &SyncStore,
    cancel: &Cancel,
    progress: Option<UnboundedSender<CycleEvent>>,
) -> CycleReport {
    let report = cycle(env, job, store, cancel, &progress).await;
    finish(env, job, store, report).await
}

async fn cycle(
    env: &Environment,
    job: &SyncJob,
    store: &SyncStore,
    cancel: &Cancel,
    progress: &Option<UnboundedSender<CycleEvent>>,
) -> CycleReport {
    let mut r = CycleReport::new(env, job);
    if let Some(h) = env.safety.refuses_writes() {
        return r.fail(CycleError::Held { hold: h, what: "sync writes" });
    }
    let (_lease, journal) = match lock::acquire(env, &job.command) {
        Ok(l) => l,
        Err(e) => return r.fail(e.into()),
    };
    let state = match store.state(&env.profile_name, &job.name) {
        Ok(s) => s,
        Err(e) => return r.fail(e.into()),
    };
    if let Some(q) = state.as_ref().and_then(|s| s.quarantine.clone()) {
        let msg = format!(
            "quarantined since {}: {}; nothing was read or written (review and release: scimitar sync approve --policy {})",
            crate::report::format_time(q.since),
            q.reason,
            job.name
        );
        r.quarantine = Some(q);
        return r.end(RunResult::Held, Some(msg));
    }
    let client = match env.client() {
        Ok(c) => c,
        Err(e) => return r.fail(e.into()),
    };
    // A cycle that was killed finishes first: its open batches pass the gate again and run.
    if let Some(prev) = state.as_ref().and_then(|s| s.running_run.clone()) {
        match resume(client, &journal, &env.safety, job, &prev, cancel, progress, &mut r).await {
            Ok(Some(trip)) => return quarantine_tripped(env, job, store, r, trip, None).await,
            Ok(None) => {}
            Err(e) => return r.fail(e),
        }
        if cancel.is_cancelled() {
            return r.end(RunResult::Interrupted, Some("stopped while finishing the interrupted run".into()));
        }
    }
    let run_id = crate::queue::journal::new_id("pr");
    r.record.run_id = Some(run_id.clone());
    if let Err(e) = store.begin(&env.profile_name, &job.name, &run_id) {
        return r.fail(e.into());
    }
    let live = match live::live_plan(client, &job.policy_path, &env.paths.state_dir()).await {
        Ok(l) => l,
        Err(e) => return r.fail(e.into()),
    };
    r.record.plan = serde_json::to_value(live.plan.counts()).ok();
    for w in &live.plan.warnings {
        note(progress, &mut r.notes, format!("warning: {w}"));
    }
    let preview = apply::preview(&live, &env.safety);
    let over = ceilings(&live, &preview);
    if !over.is_empty() {
        let q = Quarantine {
            kind: QuarantineKind::Ceiling,
            reason: over.join("; "),
            run_id: Some(run_id.clone()),
            since: OffsetDateTime::now_utc(),
            held: held_json(&live, &preview),
        };
        if let Err(e) = store.quarantine(&env.profile_name, &job.name, &q) {
            return r.fail(e.into());
        }
        let msg = format!("plan held, nothing written: {}", q.reason);
        note(progress, &mut r.notes, msg.clone());
        r.quarantine = Some(q);
        return r.end(RunResult::Quarantined, Some(msg));
    }
    // Four-eyes: over the profile's approval_over, the run is held for another account's
    // approval (one pending approval per policy), nothing written.
    if preview.needs_approval().is_some() {
        let msg = match hold_for_approval(env, job, &journal, &live, &preview, Some(run_id.clone())) {
            Ok(m) => m,
            Err(e) => return r.fail(CycleError::Approval(e)),
        };
        note(progress, &mut r.notes, msg.clone());
        return r.end(RunResult::Held, Some(msg));
    }
    if live.plan.is_empty() {
        if let Err(e) = live::record_state(client, &live).await {
            return r.fail(CycleError::SaveState(e));
        }
        return r.end(RunResult::NoChanges, None);
    }
    let (outcome, trip) = guarded_apply(client, &journal, &live, env, job, &run_id, "sync", cancel, progress).await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => return r.fail(e.into()),
    };
    absorb(&mut r, &outcome, progress);
    if let Some(trip) = trip {
        return quarantine_tripped(env, job, store, r, trip, Some((&live, &preview))).await;
    }
    outcome_result(r, &outcome, cancel)
}

/// Keep a plan over `approval_over` as the policy's pending approval (or find the one an earlier
/// cycle proposed): the message saying so, with its id.
fn hold_for_approval(
    env: &Environment,
    job: &SyncJob,
    journal: &Journal,
    live: &LivePlan,
    preview: &Decision,
    run_id: Option<String>,
) -> Result<String, crate::approval::ApprovalError> {
    let why = preview.needs_approval().map(ToString::to_string).unwrap_or_default();
    if let Some(a) = crate::approval::pending_for_policy(journal.store(), &env.profile_name, &job.name)? {
        return Ok(format!(
            "{why}: held, nothing written; approval {} (proposed {} by {}) is still pending: another account runs `scimitar approvals approve {}`",
            a.id, a.created, a.proposer, a.id
        ));
    }
    let org = env.org_key().ok().map(|o| o.0);
    let p = crate::approval::Proposal {
        origin: "sync".into(),
        policy_run: run_id,
        policy: Some(job.name.clone()),
        description: format!("sync policy {}", job.name),
        later: Some(apply::Later::of(live)),
    };
    let a = crate::approval::propose(journal, org.as_deref(), &p, preview)?;
    Ok(format!("{why}: held for approval as {id}, nothing written: another account runs `scimitar approvals approve {id}`", id = a.id))
}

/// Counts and notes of an apply into the report.
fn absorb(r: &mut CycleReport, outcome: &ApplyOutcome, progress: &Option<UnboundedSender<CycleEvent>>) {
    for b in &outcome.batches {
        r.record.ops.add_batch(b);
    }
    for n in outcome.notes() {
        note(progress, &mut r.notes, n);
    }
}

fn outcome_result(r: CycleReport, outcome: &ApplyOutcome, cancel: &Cancel) -> CycleReport {
    if cancel.is_cancelled() {
        return r.end(
            RunResult::Interrupted,
            Some("stopped between operations; the rest was cancelled and the next cycle plans it again".into()),
        );
    }
    if outcome.complete {
        r.end(RunResult::Applied, None)
    } else if let Some(e) = &outcome.state_error {
        let msg = format!("cannot save the policy state: {e}");
        r.end(RunResult::Failed, Some(msg))
    } else {
        let n = r.record.ops.failed;
        r.end(RunResult::Failed, Some(format!("{n} operation(s) failed; the next cycle tries what is still missing")))
    }
}

async fn quarantine_tripped(
    env: &Environment,
    job: &SyncJob,
    store: &SyncStore,
    mut r: CycleReport,
    trip: Trip,
    plan: Option<(&LivePlan, &Decision)>,
) -> CycleReport {
    let q = Quarantine {
        kind: QuarantineKind::Breaker,
        reason: trip.to_string(),
        run_id: r.record.run_id.clone(),
        since: OffsetDateTime::now_utc(),
        held: plan.map(|(l, d)| held_json(l, d)).unwrap_or_default(),
    };
    if let Err(e) = store.quarantine(&env.profile_name, &job.name, &q) {
        return r.fail(e.into());
    }
    let msg = q.reason.clone();
    r.quarantine = Some(q);
    r.end(RunResult::Quarantined, Some(msg))
}

/// Record the run and send its alert.
async fn finish(env: &Environment, job: &SyncJob, store: &SyncStore, mut r: CycleReport) -> CycleReport {
    let previous = store.runs(&env.profile_name, &job.name, 1).ok().and_then(|v| v.into_iter().next());
    if let Err(e) = store.finish(&r.record) {
        r.notes.push(format!("cannot record the run: {e}"));
    }
    let result = r.record.result;
    let event = match result {
        RunResult::Quarantined => Some(AlertEvent::Quarantine),
        // The same failure again is not news: alert when a failure starts or changes.
        res if res.is_failure() => {
            let repeat = previous.is_some_and(|p| p.result == res && p.message == r.record.message);
            Some(if repeat { AlertEvent::Run } else { AlertEvent::Failure })
        }
        _ => Some(AlertEvent::Run),
    };
    if let Some(event) = event.filter(|e| job.alerts.wants(*e)) {
        let alert = alert_of(env, job, &r, event);
        r.alert_failures = job.alerts.send(&alert).await;
    }
    r
}

fn alert_of(env: &Environment, job: &SyncJob, r: &CycleReport, event: AlertEvent) -> Alert {
    let rec = &r.record;
    let slack_host = env.client().map(|c| c.host()).unwrap_or_else(|_| env.target().0);
    let what = match &rec.message {
        Some(m) => format!("{}: {m}", rec.result),
        None => rec.result.to_string(),
    };
    let release = r.quarantine.as_ref().map(|_| format!("scimitar sync approve --policy {}", job.name));
    let mut text = format!(
        "scimitar sync {} ({} → {}) on {}: {what}; {} done, {} failed, {} skipped, {} cancelled",
        job.name, env.profile_name, slack_host, env.actor.host, rec.ops.done, rec.ops.failed, rec.ops.skipped, rec.ops.cancelled
    );
    if let Some(rel) = &release {
        text.push_str(&format!(". QUARANTINED: nothing more is written until an admin reviews the plan: {rel}"));
    }
    Alert {
        text: crate::scim::redact::redact(&text).into_owned(),
        event,
        policy: job.name.clone(),
        profile: env.profile_name.clone(),
        slack_host,
        host: env.actor.host.clone(),
        run_id: rec.run_id.clone(),
        result: rec.result,
        message: rec.message.clone(),
        ops: rec.ops,
        plan: rec.plan.clone(),
        finished_at: crate::report::format_time(rec.finished),
        release,
    }
}

/// Finish the open batches of the policy run `prev` (a cycle that was killed): each passes the
/// gate again (`queue::regate`: what landed before the kill is done, what is now as asked is
/// skipped) and runs, watched by the breaker (failures in a row only: there is no baseline).
#[allow(clippy::too_many_arguments)]
async fn resume(
    client: &ScimClient,
    journal: &Arc<Journal>,
    safety: &Safety,
    job: &SyncJob,
    prev: &str,
    cancel: &Cancel,
    progress: &Option<UnboundedSender<CycleEvent>>,
    r: &mut CycleReport,
) -> Result<Option<Trip>, CycleError> {
    let j = journal.clone();
    let open = tokio::task::spawn_blocking(move || j.unfinished_batches()).await?.map_err(CycleError::Journal)?;
    let host = client.host();
    let open: Vec<_> = open.into_iter().filter(|b| b.policy_run.as_deref() == Some(prev) && b.host == host && !b.owner_alive).collect();
    if open.is_empty() {
        note(progress, &mut r.notes, format!("the previous cycle (run {prev}) stopped early; nothing of it was left open"));
        return Ok(None);
    }
    let engine = crate::queue::Engine::new(client.clone(), journal.clone(), job.engine.clone());
    let breaker = Arc::new(Mutex::new(Breaker::new(job.breaker.clone(), None)));
    for b in open {
        note(
            progress,
            &mut r.notes,
            format!("finishing batch {} of the interrupted run {prev}: {} of {} operations open", b.batch_id, b.open, b.total),
        );
        let regated = crate::queue::regate(client, journal, &passed(safety), &b.batch_id, false)
            .await
            .map_err(|source| CycleError::Resume { batch: b.batch_id.clone(), source })?;
        if regated.confirmed > 0 {
            note(progress, &mut r.notes, format!("{} operation(s) sent before the interruption had landed", regated.confirmed));
        }
        for (a, why) in &regated.unread {
            note(progress, &mut r.notes, format!("{}: {why}", a.describe()));
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let sink = sink_of(progress);
        let (result, ()) =
            tokio::join!(engine.run_batch(&regated.batch, Some(tx), cancel.clone()), follow(rx, &breaker, journal, cancel, &sink));
        let result = result.map_err(CycleError::Queue)?;
        r.record.ops.add_batch(&result);
        if let Some(t) = breaker.lock().unwrap().tripped().cloned() {
            return Ok(Some(t));
        }
        if cancel.is_cancelled() {
            break;
        }
    }
    Ok(None)
}

/// Feed the queue's events to the breaker (cancelling the run when it trips) and to the front end.
async fn follow(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<QueueEvent>,
    breaker: &Mutex<Breaker>,
    journal: &Arc<Journal>,
    cancel: &Cancel,
    sink: &(dyn Fn(CycleEvent) + Send + Sync),
) {
    while let Some(ev) = rx.recv().await {
        if let QueueEvent::BatchStarted { batch_id, .. } = &ev {
            let (j, bid) = (journal.clone(), batch_id.clone());
            let kinds = tokio::task::spawn_blocking(move || j.ops(&bid)).await.ok().and_then(Result::ok).unwrap_or_default();
            breaker.lock().unwrap().learn(kinds.into_iter().map(|o| (o.op_id, o.action.kind())));
        }
        let trip = breaker.lock().unwrap().on_event(&ev);
        sink(CycleEvent::Queue(ev));
        if let Some(t) = trip {
            cancel.cancel();
            sink(CycleEvent::Note(t.to_string()));
        }
    }
}

/// Count the active users and give the count to the breaker.
async fn check_active(client: &ScimClient, breaker: &Mutex<Breaker>, cancel: &Cancel) -> Result<(), crate::scim::ScimError> {
    let up = breaker.lock().unwrap().up_done();
    let users = client.all_users(None).await?;
    let n = users.iter().filter(|u| u.is_active()).count();
    if breaker.lock().unwrap().on_active_count(n, up).is_some() {
        cancel.cancel();
    }
    Ok(())
}

/// A front end's progress channel as a sink of events.
fn sink_of(progress: &Option<UnboundedSender<CycleEvent>>) -> impl Fn(CycleEvent) + Send + Sync + use<> {
    let p = progress.clone();
    move |e| {
        if let Some(p) = &p {
            let _ = p.send(e);
        }
    }
}

/// Run `run` (which sends the queue's events to the sender it is given) with the circuit breaker
/// watching: its events and, every `cfg.check_every` while it runs and once after, the count of
/// active users (`before`: the count before the run; `None` watches failures in a row only). A
/// trip cancels `cancel` (nothing more is sent). Every event goes on to `sink`. Returns what
/// `run` returned and the trip, if the breaker tripped. What a sync's apply and an approved
/// policy apply (`crate::approved::run`) run under.
pub async fn watched<T, F, Fut>(
    client: &ScimClient,
    journal: &Arc<Journal>,
    cfg: &BreakerConfig,
    before: Option<usize>,
    cancel: &Cancel,
    sink: &(dyn Fn(CycleEvent) + Send + Sync),
    run: F,
) -> (T, Option<Trip>)
where
    F: FnOnce(UnboundedSender<QueueEvent>) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let breaker = Arc::new(Mutex::new(Breaker::new(cfg.clone(), before)));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let every = cfg.check_every;
    let apply = async {
        let r = run(tx).await;
        let _ = stop_tx.send(true);
        r
    };
    let sample = async {
        if before.is_none() {
            return;
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {
                    if cancel.is_cancelled() {
                        return;
                    }
                    // A count that fails is no trip; the next one (or the last) may work.
                    let _ = check_active(client, &breaker, cancel).await;
                }
                _ = stop_rx.changed() => return,
            }
        }
    };
    let (outcome, (), ()) = tokio::join!(apply, follow(rx, &breaker, journal, cancel, sink), sample);
    // One count after the run: a run shorter than `check_every` is checked too.
    if before.is_some()
        && breaker.lock().unwrap().tripped().is_none()
        && !cancel.is_cancelled()
        && let Err(e) = check_active(client, &breaker, cancel).await
    {
        sink(CycleEvent::Note(format!("could not count the active users after the run: {e}")));
    }
    let trip = breaker.lock().unwrap().tripped().cloned();
    (outcome, trip)
}

/// The active users now (the breaker's baseline for [`watched`]).
pub async fn active_users(client: &ScimClient) -> Result<usize, crate::scim::ScimError> {
    Ok(client.all_users(None).await?.iter().filter(|u| u.is_active()).count())
}

/// `apply_live` (the gate on every pass) with the breaker watching ([`watched`]). Returns the
/// outcome and the trip, if the breaker tripped.
#[allow(clippy::too_many_arguments)]
async fn guarded_apply(
    client: &ScimClient,
    journal: &Arc<Journal>,
    live: &LivePlan,
    env: &Environment,
    job: &SyncJob,
    run_id: &str,
    origin: &str,
    cancel: &Cancel,
    progress: &Option<UnboundedSender<CycleEvent>>,
) -> (Result<ApplyOutcome, apply::ApplyError>, Option<Trip>) {
    let apply_env = ApplyEnv { journal: journal.clone(), safety: passed(&env.safety), engine: job.engine.clone(), origin: origin.into() };
    watched(client, journal, &job.breaker, Some(live.active_users), cancel, &sink_of(progress), |tx| {
        apply::apply_live(client, live, &job.name, run_id, apply_env, tx, cancel.clone())
    })
    .await
}

/// A quarantined policy's held plan, as it is now (what the admin approves).
#[derive(Debug)]
pub struct Review {
    pub quarantine: Quarantine,
    pub live: LivePlan,
    /// The gate's decision on it (what the confirmation shows).
    pub decision: Decision,
    /// The ceilings the plan is over now (the reason it would be held again).
    pub ceilings: Vec<String>,
}

/// Plan a quarantined policy again for its review; `None` when it is not quarantined.
pub async fn review(env: &Environment, job: &SyncJob, store: &SyncStore) -> Result<Option<Review>, CycleError> {
    let Some(quarantine) = store.state(&env.profile_name, &job.name)?.and_then(|s| s.quarantine) else { return Ok(None) };
    let client = env.client()?;
    let live = live::live_plan(client, &job.policy_path, &env.paths.state_dir()).await?;
    let decision = apply::preview(&live, &env.safety);
    let ceilings = ceilings(&live, &decision);
    Ok(Some(Review { quarantine, live, decision, ceilings }))
}

/// Apply a reviewed plan of a quarantined policy (the admin approved it, ceilings included) and
/// release the quarantine when the breaker does not trip again. `by` is who approved (recorded).
pub async fn approve(
    env: &Environment,
    job: &SyncJob,
    store: &SyncStore,
    review: Review,
    by: &str,
    cancel: &Cancel,
    progress: Option<UnboundedSender<CycleEvent>>,
) -> CycleReport {
    let mut r = CycleReport::new(env, job);
    let report = async move {
        if let Some(h) = env.safety.refuses_writes() {
            return r.fail(CycleError::Held { hold: h, what: "nothing was approved" });
        }
        let (_lease, journal) = match lock::acquire(env, &job.command) {
            Ok(l) => l,
            Err(e) => return r.fail(e.into()),
        };
        // Four-eyes: releasing a plan over approval_over is another account's to approve: it
        // becomes the policy's pending approval (the quarantine is released once it has run).
        if review.decision.needs_approval().is_some() {
            return match hold_for_approval(env, job, &journal, &review.live, &review.decision, None) {
                Ok(msg) => {
                    note(&progress, &mut r.notes, msg.clone());
                    r.quarantine = Some(review.quarantine.clone());
                    r.end(RunResult::Held, Some(msg))
                }
                Err(e) => r.fail(CycleError::Approval(e)),
            };
        }
        let client = match env.client() {
            Ok(c) => c,
            Err(e) => return r.fail(e.into()),
        };
        let run_id = crate::queue::journal::new_id("pr");
        r.record.run_id = Some(run_id.clone());
        if let Err(e) = store.begin(&env.profile_name, &job.name, &run_id) {
            return r.fail(e.into());
        }
        r.record.plan = serde_json::to_value(review.live.plan.counts()).ok();
        note(&progress, &mut r.notes, format!("approved by {by}: {}", crate::present::plan_summary(&review.live.plan)));
        let (outcome, trip) = guarded_apply(client, &journal, &review.live, env, job, &run_id, "sync", cancel, &progress).await;
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => return r.fail(e.into()),
        };
        absorb(&mut r, &outcome, &progress);
        if let Some(trip) = trip {
            return quarantine_tripped(env, job, store, r, trip, Some((&review.live, &review.decision))).await;
        }
        if cancel.is_cancelled() {
            return outcome_result(r, &outcome, cancel);
        }
        if let Err(e) = store.release(&env.profile_name, &job.name, by) {
            return r.fail(e.into());
        }
        note(&progress, &mut r.notes, format!("quarantine released by {by}"));
        outcome_result(r, &outcome, cancel)
    }
    .await;
    finish(env, job, store, report).await
}

/// The console's hook: a policy apply from the Policies pane of a quarantined policy is its
/// approval (the pane showed the plan and the admin confirmed it, typing the count past a
/// ceiling). Releases the quarantine after an apply that did everything; returns whether the
/// policy was quarantined.
pub fn release_after_console_apply(store: &crate::store::Store, profile: &str, policy: &str, by: &str) -> Result<bool, StatusError> {
    SyncStore::on(store.clone()).release(profile, policy, &format!("{by} (console)"))
}

/// The sync state of a policy for the console's Policies pane (None: never synced).
pub fn status(store: &crate::store::Store, profile: &str, policy: &str) -> Result<Option<SyncState>, StatusError> {
    SyncStore::on(store.clone()).state(profile, policy)
}
