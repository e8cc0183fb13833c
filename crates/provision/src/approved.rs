//! Running an approved approval (four eyes, issue 21): what every front end calls once another
//! account confirmed it ([`run`]). Apart from `crate::approval` (which keeps, checks and
//! decides approvals) because a policy apply's approved run needs the sync's circuit breaker
//! (`crate::sync::watched`), and the sync proposes approvals.

use crate::approval::{Approval, ApprovalError, finished, mark_approved, set_batch};
use crate::policy::apply::Later;
use crate::queue::{
    Action, ActionKind, BatchInfo, BatchResult, Cancel, Decision, Engine, EngineConfig, GateError, Journal, JournalError, Knowledge,
    OpState, QueueEvent, Safety,
};
use crate::sync::{BreakerConfig, Trip};
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

/// How an approved run ([`run`]) ended.
#[derive(Debug, Default)]
pub struct ApprovedRun {
    /// One result per batch that ran (a policy apply's two passes; one batch otherwise).
    pub batches: Vec<BatchResult>,
    /// What the gate skipped when a pass was screened again just before it ran.
    pub skipped: Vec<String>,
    /// Pass-2 changes whose user or group was not found after pass 1 (left for the next apply).
    pub missing: Vec<String>,
    /// Pass 1 did not fully succeed (or was cancelled), so pass 2 was not queued.
    pub stopped_after_first: bool,
    /// The circuit breaker tripped: what was not yet sent was cancelled.
    pub trip: Option<Trip>,
    /// What the approval's `run` record says: "40 done, 0 failed, 0 skipped, 0 cancelled".
    pub summary: String,
}

impl ApprovedRun {
    /// Every operation succeeded, nothing was left over, the breaker did not trip.
    pub fn complete(&self) -> bool {
        self.batches.iter().all(BatchResult::all_succeeded) && self.missing.is_empty() && !self.stopped_after_first && self.trip.is_none()
    }

    /// Everything worth telling the approver besides the per-operation results.
    pub fn notes(&self) -> Vec<String> {
        let mut n: Vec<String> = self.skipped.iter().chain(&self.missing).cloned().collect();
        if self.stopped_after_first {
            n.push(crate::policy::apply::PASS1_STOPPED.into());
        }
        if let Some(t) = &self.trip {
            n.push(t.to_string());
        }
        n
    }
}

/// What [`run`] needs besides the approval: the server, the journal (fenced by the org's lease
/// the caller holds), the gate's rules, how the engine runs and when the breaker trips.
pub struct RunEnv {
    pub client: crate::scim::ScimClient,
    pub journal: Arc<Journal>,
    pub safety: Safety,
    pub engine: EngineConfig,
    pub breaker: BreakerConfig,
}

/// Approve `a` as the journal's account and run it: what an unheld run of the same batch does.
/// `decision` is [`crate::approval::screen`]'s, as the approver confirmed it (a ceiling it is held by must have
/// been passed). The caller holds the org's lease (`env.journal` is fenced by it).
///
/// - A batch (headless, console) is one batch: journaled naming the proposer and the approver,
///   run by the engine.
/// - A policy apply (`sync` or `apply` held over `approval_over`: it carries its pass 2,
///   [`crate::approval::Screening::later`]) runs as `policy::apply::apply_live` does, under the circuit breaker
///   (`sync::watched`): pass 1 (creates, updates, groups) passes the gate again and runs; then the
///   users and groups it created are looked up and pass 2 (their managers and memberships, then
///   the deactivations) passes the gate and runs. Pass 2 is not queued when pass 1 did not fully
///   succeed or the run was cancelled. A sync's approval that trips the breaker quarantines its
///   policy; one that ran in full releases the policy's quarantine.
///
/// Either way the approval ends `run`, with its record naming both accounts and the counts.
pub async fn run(
    env: RunEnv,
    a: &Approval,
    decision: Decision,
    events: UnboundedSender<QueueEvent>,
    cancel: Cancel,
) -> Result<ApprovedRun, ApprovalError> {
    let journal = env.journal.clone();
    let mut out = ApprovedRun::default();
    match a.screening.later.clone() {
        None => {
            let (j, a2) = (journal.clone(), a.clone());
            let batch = tokio::task::spawn_blocking(move || crate::approval::approve(&j, &a2, decision)).await.map_err(stopped)??;
            let engine = Engine::new(env.client.clone(), journal.clone(), env.engine.clone());
            let r = engine.run_batch(&batch, Some(events), cancel.clone()).await.map_err(ApprovalError::from)?;
            out.batches.push(r);
        }
        Some(later) => {
            // The breaker's baseline: the active users before anything is sent (read before the
            // approval is recorded, so a server that cannot be read leaves it pending).
            let before = crate::sync::active_users(&env.client).await.map_err(GateError::from)?;
            let (j, a2, d2) = (journal.clone(), a.clone(), decision.clone());
            let approver = tokio::task::spawn_blocking(move || mark_approved(&j, &a2, &d2)).await.map_err(stopped)??;
            let approved = Arc::new(journal.approved_by(&a.proposer, &approver));
            let run_id = a.policy_run.clone().unwrap_or_else(|| crate::queue::journal::new_id("pr"));
            set_batch(&journal, &a.id, &run_id)?;
            let forward = move |e: crate::sync::CycleEvent| {
                if let crate::sync::CycleEvent::Queue(ev) = e {
                    let _ = events.send(ev);
                }
            };
            let (r, trip) = crate::sync::watched(&env.client, &approved, &env.breaker, Some(before), &cancel, &forward, |tx| {
                two_passes(&env, &approved, a, &run_id, decision, &later, tx, &cancel, &mut out)
            })
            .await;
            r?;
            out.trip = trip;
        }
    }
    let n = |s: OpState| out.batches.iter().map(|b| b.count(s)).sum::<u64>();
    out.summary = format!(
        "{} done, {} failed, {} skipped, {} cancelled",
        n(OpState::Done),
        n(OpState::Failed),
        n(OpState::Skipped),
        n(OpState::Cancelled)
    );
    let (j, id, summary) = (journal.clone(), a.id.clone(), out.summary.clone());
    let done = tokio::task::spawn_blocking(move || finished(&j, &id, &summary)).await.map_err(stopped)??;
    // A sync's approval: quarantined again by a trip, released by a run that did everything.
    if let Some(policy) = &done.policy {
        let sync = crate::sync::SyncStore::on(journal.store().clone());
        let by = done.decided_by.clone().unwrap_or_default();
        if let Some(t) = &out.trip {
            let q = crate::sync::Quarantine {
                kind: crate::sync::QuarantineKind::Breaker,
                reason: t.to_string(),
                run_id: done.batch_id.clone(),
                since: time::OffsetDateTime::now_utc(),
                held: serde_json::Value::Null,
            };
            let _ = sync.quarantine(&done.profile, policy, &q);
        } else if out.complete() && !cancel.is_cancelled() {
            let _ = sync.release(&done.profile, policy, &format!("{by} (approval {})", a.id));
        }
    }
    Ok(out)
}

fn stopped(e: tokio::task::JoinError) -> JournalError {
    JournalError::Stopped(e.to_string())
}

/// Gate (again, against the server now), journal and run one pass of an approved policy apply.
async fn run_pass(
    env: &RunEnv,
    journal: &Arc<Journal>,
    actions: Vec<Action>,
    info: BatchInfo,
    events: &UnboundedSender<QueueEvent>,
    cancel: &Cancel,
    out: &mut ApprovedRun,
) -> Result<(), ApprovalError> {
    // The approver passed the ceilings at the confirmation, and approved the four-eyes rule;
    // read-only, protected users, refused accounts and no-ops still apply.
    let safety = Safety { force: true, approval_over: None, ..env.safety.clone() };
    let known = Knowledge::fetch(&env.client, &safety, &actions).await.map_err(GateError::from)?;
    let decision = crate::queue::gate(&safety, actions, &known);
    if let Some(h) = decision.hold() {
        return Err(ApprovalError::Gate(GateError::Held(h.clone())));
    }
    for s in decision.skipped() {
        out.skipped.push(format!("skipped {}: {}", s.action.describe(), s.why()));
    }
    let j = journal.clone();
    let batch = tokio::task::spawn_blocking(move || crate::queue::submit(&j, &info, decision.approved(&crate::approval::four_eyes())))
        .await
        .map_err(stopped)??;
    let engine = Engine::new(env.client.clone(), journal.clone(), env.engine.clone());
    let r = engine.run_batch(&batch, Some(events.clone()), cancel.clone()).await?;
    out.batches.push(r);
    Ok(())
}

/// The two passes of an approved policy apply (see [`run`]).
#[allow(clippy::too_many_arguments)]
async fn two_passes(
    env: &RunEnv,
    journal: &Arc<Journal>,
    a: &Approval,
    run_id: &str,
    decision: Decision,
    later: &Later,
    events: UnboundedSender<QueueEvent>,
    cancel: &Cancel,
    out: &mut ApprovedRun,
) -> Result<(), ApprovalError> {
    let info = |pass: u8, text: &str| BatchInfo {
        origin: a.origin.clone(),
        policy_run: Some(run_id.to_string()),
        description: format!("{} (approval {}) pass {pass}: {text}", a.description, a.id),
    };
    let (deactivations, first): (Vec<Action>, Vec<Action>) =
        decision.runnable().iter().cloned().partition(|x| x.kind() == ActionKind::Deactivate);
    if !first.is_empty() {
        run_pass(env, journal, first, info(1, "create, update, groups"), &events, cancel, out).await?;
        if !out.batches.last().is_some_and(BatchResult::all_succeeded) || cancel.is_cancelled() {
            out.stopped_after_first = true;
            return Ok(());
        }
    }
    let (mut second, missing) = later.resolve(&env.client).await.map_err(GateError::from)?;
    out.missing = missing;
    second.extend(deactivations);
    if !second.is_empty() {
        run_pass(env, journal, second, info(2, "managers and memberships of new objects, deactivations"), &events, cancel, out).await?;
    }
    Ok(())
}
