//! The "do" half: the runtime side of the action queue. A confirmed `Effect::RunBatch` carries the
//! gate's decision, which is journaled (`queue::submit`) and run by the engine on a tokio task;
//! the engine's `QueueEvent`s come back to the app as `Msg::Queue`. `x` trips the batch's
//! `Cancel`; `F` and the resume offer pass the batch through the gate again (`queue::regate`:
//! read-only refuses before anything changes, even in the journal), re-queue the failed ops (`F`)
//! and run it. At start the batches a previous run left open on this host, whose run is gone
//! (its lease lapsed or was released), are offered for resuming; a live run's batch never is.
//! Every batch runs under the org's lease (`store::lease`), taken when it starts and released
//! when it ends; when another writer holds it, the Log says who, and the runner waits for it
//! (`x` stops waiting). Nothing here draws.

use super::msg::{BatchLoad, QueueOp, ResumeOffer};
use super::msg::{Effect, Msg};
use provision::queue::{Action, BatchInfo, Cancel, DeactivateVia, Decision, Engine, EngineConfig, GatedBatch, Journal, RunContext, Safety};
use scim::ScimClient;
use std::sync::Arc;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

/// How the console's queue is set up: the journal, the gate's rules (the profile's and
/// `--read-only`; the Policies pane's apply uses the same), the UI's confirmation threshold.
pub struct QueueSetup {
    pub journal: Result<Arc<Journal>, String>,
    pub safety: Safety,
    pub confirm_threshold: usize,
    /// The config's `[ui] theme` (from the same table as the threshold).
    pub theme: Option<String>,
}

impl QueueSetup {
    /// A journal in memory, default rules (tests).
    pub fn in_memory(profile: &str, host: &str) -> QueueSetup {
        QueueSetup {
            journal: Journal::in_memory(RunContext::new(profile, host, &provision::env::Actor::default()))
                .map(Arc::new)
                .map_err(|e| format!("{e:#}")),
            safety: Safety::default(),
            confirm_threshold: provision::queue::CONFIRM_THRESHOLD,
            theme: None,
        }
    }

    /// The environment's journal (in its data dir), rules and `[ui]` settings.
    pub fn from_env(env: &provision::env::Environment) -> QueueSetup {
        QueueSetup {
            journal: env.journal().map_err(|e| e.to_string()),
            safety: env.safety.clone(),
            confirm_threshold: env.config.ui.confirm_threshold.unwrap_or(provision::queue::CONFIRM_THRESHOLD),
            theme: env.config.ui.theme.clone(),
        }
    }
}

/// How many past batches the queue view lists.
pub const HISTORY: usize = 200;

pub struct QueueRunner {
    client: ScimClient,
    journal: Option<Arc<Journal>>,
    /// The gate's rules, for the batches that pass it again (retry, resume).
    safety: Safety,
    tx: UnboundedSender<Msg>,
    cancel: Cancel,
    task: Option<JoinHandle<()>>,
    /// A batch runs (cleared as its last `BatchFinished` goes to the app, before the task
    /// releases the org's lease; the next batch's task waits for that release).
    active: Arc<std::sync::atomic::AtomicBool>,
    lease: provision::store::LeaseSpec,
    /// The admin's answer to `Msg::LeaseHeld` (wait or not), for the batch waiting on it.
    answer: Arc<std::sync::Mutex<Option<bool>>>,
    /// When the circuit breaker stops an approved policy apply (`[sync]` in config.toml).
    breaker: provision::sync::BreakerConfig,
}

/// What happens to the journal before the batch runs.
enum Prep {
    Submit {
        info: BatchInfo,
        decision: Decision,
    },
    /// Another account's approval (`approval::approve`, under the lease), then its batch runs.
    Approve {
        id: String,
        decision: Decision,
        description: String,
    },
    Retry(String),
    Resume(Vec<String>),
}

impl QueueRunner {
    pub fn new(client: ScimClient, journal: Option<Arc<Journal>>, safety: Safety, tx: UnboundedSender<Msg>) -> QueueRunner {
        QueueRunner {
            client,
            journal,
            safety,
            tx,
            cancel: Cancel::default(),
            task: None,
            active: Arc::default(),
            lease: provision::store::LeaseSpec::test("console"),
            answer: Arc::default(),
            breaker: provision::sync::BreakerConfig::default(),
        }
    }

    /// The circuit breaker an approved policy apply runs under.
    pub fn with_breaker(self, breaker: provision::sync::BreakerConfig) -> QueueRunner {
        QueueRunner { breaker, ..self }
    }

    /// The org's lease its batches take.
    pub fn with_lease(self, lease: provision::store::LeaseSpec) -> QueueRunner {
        QueueRunner { lease, ..self }
    }

    /// Batches left open on this host by an earlier run whose owner is gone (a batch whose run
    /// still holds the org's lease, e.g. a sync at work, is never offered).
    pub fn unfinished(&self) -> Result<Vec<ResumeOffer>, String> {
        let Some(j) = &self.journal else { return Ok(Vec::new()) };
        let host = self.client.host();
        let open = j.unfinished_batches().map_err(|e| format!("{e:#}"))?;
        Ok(open
            .into_iter()
            .filter(|b| b.host == host && !b.owner_alive && b.org.as_ref().is_none_or(|o| *o == self.lease.org.0))
            .map(|b| ResumeOffer { batch_id: b.batch_id, description: b.description, created: b.created, open: b.open, total: b.total })
            .collect())
    }

    pub fn run(&mut self, e: Effect) {
        let prep = match e {
            Effect::RunBatch { decision, description } => {
                // A restore (`u`: its description is the plan's "restore batch …") is journaled as
                // one, so its records name the batch it undoes.
                let origin = if description.starts_with("restore ") { provision::queue::engine::RESTORE_ORIGIN } else { "console" };
                Prep::Submit { info: BatchInfo { origin: origin.into(), policy_run: None, description }, decision }
            }
            Effect::RunApproval { id, decision, description } => Prep::Approve { id, decision, description },
            Effect::RetryFailed { batch_id } => Prep::Retry(batch_id),
            Effect::ResumeBatches { batch_ids } => Prep::Resume(batch_ids),
            Effect::CancelBatch { .. } => {
                self.cancel.cancel();
                return;
            }
            Effect::LeaseWait { wait } => {
                *self.answer.lock().unwrap_or_else(|e| e.into_inner()) = Some(wait);
                return;
            }
            _ => return,
        };
        // A read-only runner writes nothing: a decision made elsewhere is not journaled, and
        // retry and resume are refused before even the lease is taken (the gate's first rule;
        // `regate` applies it again).
        if let Some(h) = self.safety.refuses_writes() {
            let _ = self.tx.send(Msg::QueueFailed(h.to_string()));
            return;
        }
        let Some(journal) = self.journal.clone() else {
            let _ = self.tx.send(Msg::QueueFailed("no journal".into()));
            return;
        };
        use std::sync::atomic::Ordering;
        if self.active.load(Ordering::SeqCst) {
            let _ = self.tx.send(Msg::QueueFailed("a batch is already running".into()));
            return;
        }
        let previous = self.task.take();
        self.active.store(true, Ordering::SeqCst);
        *self.answer.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let answer = self.answer.clone();
        self.cancel = Cancel::default();
        let rate = provision::queue::planned_rate(&self.client, DeactivateVia::Both);
        let (tx, cancel, safety, client, spec, breaker) =
            (self.tx.clone(), self.cancel.clone(), self.safety.clone(), self.client.clone(), self.lease.clone(), self.breaker.clone());
        let command = match &prep {
            Prep::Submit { info, .. } => format!("console: {}", info.description),
            Prep::Approve { id, .. } => format!("console: approve {id}"),
            Prep::Retry(b) => format!("console: retry {b}"),
            Prep::Resume(ids) => format!("console: resume {}", ids.join(" ")),
        };
        let active = self.active.clone();
        self.task = Some(tokio::spawn(async move {
            // The previous batch's task releases its lease as it ends.
            if let Some(p) = previous {
                let _ = p.await;
            }
            // The org's lease first: nothing is journaled or sent without it.
            let lease = match take_lease(&journal, &spec, &command, &tx, &cancel, &answer).await {
                Ok(l) => l,
                Err(e) => {
                    active.store(false, Ordering::SeqCst);
                    let _ = tx.send(Msg::QueueFailed(e));
                    return;
                }
            };
            let journal = Arc::new(journal.fenced(lease.fence()));
            let r = match prep {
                // Another account's approval: `approved::run` approves and runs it as an unheld run
                // of it would (a policy apply's two passes under the breaker).
                Prep::Approve { id, decision, .. } => {
                    run_approval(client, journal, safety, breaker, id, decision, tx.clone(), cancel, rate).await
                }
                prep => {
                    let engine = Engine::new(client, journal.clone(), EngineConfig::default());
                    drive(engine, journal, safety, prep, tx.clone(), cancel, rate, active.clone()).await
                }
            };
            active.store(false, Ordering::SeqCst);
            // Released before the runner says it is done, so the next batch finds it free.
            let _ = tokio::task::spawn_blocking(move || drop(lease)).await;
            if let Err(e) = r {
                let _ = tx.send(Msg::QueueFailed(e));
            }
        }));
    }

    /// The store's approvals (`Msg::ApprovalsLoaded`).
    pub fn list_approvals(&self, generation: u64, all: bool) {
        let tx = self.tx.clone();
        let Some(j) = self.journal.clone() else {
            let _ = tx.send(Msg::ApprovalsLoaded { generation, result: Err("no journal".into()) });
            return;
        };
        tokio::spawn(async move {
            let result = blocking(&j, move |j| Ok(provision::approval::list(j.store(), all)?)).await;
            let _ = tx.send(Msg::ApprovalsLoaded { generation, result });
        });
    }

    /// Keep a confirmed batch over `approval_over` as a pending approval (`Msg::ApprovalProposed`).
    pub fn propose(&self, decision: Decision, description: String) {
        let tx = self.tx.clone();
        let Some(j) = self.journal.clone() else {
            let _ = tx.send(Msg::ApprovalProposed(Err("no journal".into())));
            return;
        };
        let org = self.lease.org.0.clone();
        tokio::spawn(async move {
            let r = blocking(&j, move |j| {
                let p =
                    provision::approval::Proposal { origin: "console".into(), policy_run: None, policy: None, description, later: None };
                Ok(provision::approval::propose(j, Some(&org), &p, &decision)?)
            })
            .await;
            let _ = tx.send(Msg::ApprovalProposed(r));
        });
    }

    /// Screen an approval again against the server now, after the four-eyes rule
    /// (`Msg::ApprovalScreened`).
    pub fn screen_approval(&self, id: String) {
        let tx = self.tx.clone();
        let Some(j) = self.journal.clone() else {
            let _ = tx.send(Msg::ApprovalScreened { id, result: Err("no journal".into()) });
            return;
        };
        let (client, safety) = (self.client.clone(), self.safety.clone());
        tokio::spawn(async move {
            let id2 = id.clone();
            let result = async {
                let a = blocking(&j, move |j| {
                    let a = provision::approval::get(j.store(), &id2)?;
                    provision::approval::may_approve(&a, j.context())?;
                    Ok(a)
                })
                .await?;
                let d = provision::approval::screen(&client, &safety, &a).await.map_err(|e| e.to_string())?;
                Ok::<_, String>((a, d))
            }
            .await;
            let _ = tx.send(Msg::ApprovalScreened { id, result });
        });
    }

    /// Reject a pending approval (`Msg::ApprovalDecided`).
    pub fn reject_approval(&self, id: String) {
        let tx = self.tx.clone();
        let Some(j) = self.journal.clone() else {
            let _ = tx.send(Msg::ApprovalDecided(Err("no journal".into())));
            return;
        };
        tokio::spawn(async move {
            let r = blocking(&j, move |j| {
                let a = provision::approval::reject(j, &id, None)?;
                Ok(format!("approval {} ({}, proposed by {}) rejected: nothing was sent", a.id, a.description, a.proposer))
            })
            .await;
            let _ = tx.send(Msg::ApprovalDecided(r));
        });
    }

    /// The journal's newest batches, for the queue view's list (`Msg::BatchesListed`).
    pub fn list_batches(&self) {
        let tx = self.tx.clone();
        let Some(j) = self.journal.clone() else {
            let _ = tx.send(Msg::BatchesListed(Err("no journal".into())));
            return;
        };
        tokio::spawn(async move {
            let r = blocking(&j, |j| j.recent_batches(HISTORY).map_err(anyhow::Error::from)).await;
            let _ = tx.send(Msg::BatchesListed(r));
        });
    }

    /// Plan a restore (`queue::restore::plan`: the kept snapshots and the directory as it is
    /// now); the app passes the actions through the gate and asks once (`Msg::RestorePlanned`).
    pub fn plan_restore(&self, which: provision::queue::restore::Which) {
        let tx = self.tx.clone();
        let Some(j) = self.journal.clone() else {
            let _ = tx.send(Msg::RestorePlanned { which, result: Err("no journal".into()) });
            return;
        };
        let client = self.client.clone();
        tokio::spawn(async move {
            let result = provision::queue::restore::plan(&client, &j, &which).await.map_err(|e| e.to_string());
            let _ = tx.send(Msg::RestorePlanned { which, result });
        });
    }

    /// On quit: stop sending. Ops in flight stay `running` in the journal and are offered for
    /// resuming next time (the engine checks before repeating anything that is not idempotent).
    pub fn shutdown(&mut self) {
        self.cancel.cancel();
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Take the org's lease for a console batch. While another writer holds it, say who
/// (`Msg::LeaseHeld`: the dialog offers to wait) and, when the admin chooses to wait, try again
/// every second until it is free or they press `x`.
async fn take_lease(
    journal: &Arc<Journal>,
    spec: &provision::store::LeaseSpec,
    command: &str,
    tx: &UnboundedSender<Msg>,
    cancel: &Cancel,
    answer: &Arc<std::sync::Mutex<Option<bool>>>,
) -> Result<provision::store::Lease, String> {
    let mut told = false;
    loop {
        let (store, spec2, cmd) = (journal.store().clone(), spec.clone(), command.to_string());
        match tokio::task::spawn_blocking(move || spec2.take(&store, &cmd)).await.map_err(|e| e.to_string())? {
            Ok(l) => {
                if told {
                    let _ =
                        tx.send(Msg::Log(super::LogEntry::now(super::msg::Level::Info, "the org's lease is free: starting".to_string())));
                }
                return Ok(l);
            }
            Err(provision::store::LeaseError::Held { holder, .. }) if holder.pid == std::process::id() && holder.host == spec.host => {
                // this console's own previous batch, releasing it now
            }
            Err(provision::store::LeaseError::Held { holder, org, .. }) => {
                if !told {
                    let _ = tx.send(Msg::LeaseHeld(format!("{holder} holds the lease of {org}")));
                    told = true;
                    // The admin's answer first (x stops this too).
                    loop {
                        match *answer.lock().unwrap_or_else(|e| e.into_inner()) {
                            Some(true) => break,
                            Some(false) => return Err("the org's lease is held by another writer; nothing was sent".into()),
                            None => {}
                        }
                        if cancel.is_cancelled() {
                            return Err("stopped waiting for the org's lease; nothing was sent".into());
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    continue;
                }
            }
            Err(e) => return Err(e.to_string()),
        }
        if cancel.is_cancelled() {
            return Err("stopped waiting for the org's lease; nothing was sent".into());
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        if cancel.is_cancelled() {
            return Err("stopped waiting for the org's lease; nothing was sent".into());
        }
    }
}

async fn blocking<T: Send + 'static>(
    j: &Arc<Journal>,
    f: impl FnOnce(&Journal) -> anyhow::Result<T> + Send + 'static,
) -> Result<T, String> {
    let j = j.clone();
    match tokio::task::spawn_blocking(move || f(&j)).await {
        Ok(r) => r.map_err(|e| format!("journal: {e:#}")),
        Err(e) => Err(format!("journal: {e}")),
    }
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    engine: Engine,
    journal: Arc<Journal>,
    safety: Safety,
    prep: Prep,
    tx: UnboundedSender<Msg>,
    cancel: Cancel,
    rate: Option<f64>,
    active: Arc<std::sync::atomic::AtomicBool>,
) -> Result<(), String> {
    // A confirmed decision is journaled now; retried and resumed batches pass the gate again
    // just before each runs (with their targets read afresh).
    let (mut submitted, ids, retry, description) = match prep {
        Prep::Approve { id, decision, description } => {
            let b = blocking(&journal, move |j| {
                let a = provision::approval::get(j.store(), &id)?;
                Ok(provision::approval::approve(j, &a, decision)?)
            })
            .await?;
            let bid = b.id().to_string();
            (Some(b), vec![bid], false, Some(description))
        }
        Prep::Submit { info, decision } => {
            let d = info.description.clone();
            let b = blocking(&journal, move |j| provision::queue::submit(j, &info, decision).map_err(anyhow::Error::from)).await?;
            let id = b.id().to_string();
            // The console's rows keep each user's primary email only: with a protected list,
            // the targets are read whole (every email) and gated again before anything is sent,
            // so a user protected by a secondary email is skipped here too.
            let b = if safety.protected.is_empty() {
                b
            } else {
                let r = provision::queue::regate(engine.client(), &journal, &safety, &id, false)
                    .await
                    .map_err(|e| format!("batch {id}: {e}"))?;
                for s in &r.skipped {
                    let line = format!("skipping {}: {}", s.action.describe(), s.why());
                    let _ = tx.send(Msg::Log(super::LogEntry::now(super::msg::Level::Warn, line)));
                }
                r.batch
            };
            (Some(b), vec![id], false, Some(d))
        }
        Prep::Retry(b) => (None, vec![b], true, None),
        Prep::Resume(ids) => (None, ids, false, None),
    };
    let last = ids.last().cloned();
    for batch_id in ids {
        if cancel.is_cancelled() {
            break;
        }
        let batch: GatedBatch = match submitted.take() {
            Some(b) => b,
            None => {
                let r = provision::queue::regate(engine.client(), &journal, &safety, &batch_id, retry)
                    .await
                    .map_err(|e| format!("batch {batch_id}: {e}"))?;
                for s in &r.skipped {
                    let line = format!("skipping {}: {}", s.action.describe(), s.why());
                    let _ = tx.send(Msg::Log(super::LogEntry::now(super::msg::Level::Warn, line)));
                }
                // Not sent this time (the rest goes on); F tries them again.
                for (a, why) in &r.unread {
                    let line = format!("{}: {why} (F retries it)", a.describe());
                    let _ = tx.send(Msg::Log(super::LogEntry::now(super::msg::Level::Error, line)));
                }
                r.batch
            }
        };
        let id = batch_id.clone();
        let (ops, desc) = blocking(&journal, move |j| {
            let ops = j.ops(&id)?;
            let desc = j.unfinished_batches()?.into_iter().find(|b| b.batch_id == id).map(|b| b.description);
            Ok((ops, desc))
        })
        .await?;
        let description = description.clone().or(desc).unwrap_or_else(|| describe_ops(ops.iter().map(|o| &o.action)));
        let ops: Vec<QueueOp> = ops.iter().map(QueueOp::from_row).collect();
        let _ = tx.send(Msg::BatchLoaded(BatchLoad { batch_id: batch_id.clone(), description, ops, rate }));
        let (etx, mut erx) = unbounded_channel();
        let fwd = {
            let tx = tx.clone();
            let (active, last) = (active.clone(), last.as_deref() == Some(batch_id.as_str()));
            tokio::spawn(async move {
                while let Some(ev) = erx.recv().await {
                    if last && matches!(ev, provision::queue::QueueEvent::BatchFinished { .. }) {
                        active.store(false, std::sync::atomic::Ordering::SeqCst);
                    }
                    if tx.send(Msg::Queue(ev)).is_err() {
                        return;
                    }
                }
            })
        };
        let r = engine.run_batch(&batch, Some(etx), cancel.clone()).await;
        let _ = fwd.await;
        r.map_err(|e| format!("batch {batch_id}: {e:#}"))?;
    }
    Ok(())
}

/// Approve and run an approval (`approved::run`), its queue events forwarded to the app (each
/// batch loaded into the queue view as it starts); then the Log says how it ended.
#[allow(clippy::too_many_arguments)]
async fn run_approval(
    client: ScimClient,
    journal: Arc<Journal>,
    safety: Safety,
    breaker: provision::sync::BreakerConfig,
    id: String,
    decision: Decision,
    tx: UnboundedSender<Msg>,
    cancel: Cancel,
    rate: Option<f64>,
) -> Result<(), String> {
    let id2 = id.clone();
    let a = blocking(&journal, move |j| Ok(provision::approval::get(j.store(), &id2)?)).await?;
    let (etx, mut erx) = unbounded_channel::<provision::queue::QueueEvent>();
    let fwd = {
        let (tx, j, description) = (tx.clone(), journal.clone(), a.description.clone());
        tokio::spawn(async move {
            while let Some(ev) = erx.recv().await {
                if let provision::queue::QueueEvent::BatchStarted { batch_id, .. } = &ev {
                    let bid = batch_id.clone();
                    if let Ok(ops) = blocking(&j, move |j| Ok(j.ops(&bid)?)).await {
                        let ops: Vec<QueueOp> = ops.iter().map(QueueOp::from_row).collect();
                        let load = BatchLoad { batch_id: batch_id.clone(), description: description.clone(), ops, rate };
                        let _ = tx.send(Msg::BatchLoaded(load));
                    }
                }
                if tx.send(Msg::Queue(ev)).is_err() {
                    return;
                }
            }
        })
    };
    let env = provision::approved::RunEnv { client, journal, safety, engine: EngineConfig::default(), breaker };
    let r = provision::approved::run(env, &a, decision, etx, cancel).await;
    let _ = fwd.await;
    let done = r.map_err(|e| format!("approval {id}: {e}"))?;
    for n in done.notes() {
        let _ = tx.send(Msg::Log(super::LogEntry::now(super::app::Level::Warn, n)));
    }
    let line = format!("approval {id} ({}, proposed by {}): run, {}", a.description, a.proposer, done.summary);
    let _ = tx.send(Msg::ApprovalDecided(Ok(line)));
    Ok(())
}

fn describe_ops<'a>(actions: impl Iterator<Item = &'a Action>) -> String {
    let names: std::collections::BTreeSet<&str> = actions.map(Action::name).collect();
    names.into_iter().collect::<Vec<_>>().join(", ")
}
