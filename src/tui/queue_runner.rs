//! The "do" half: the runtime side of the action queue. A confirmed `Effect::RunBatch` carries the
//! gate's decision, which is journaled (`queue::submit`) and run by the engine on a tokio task;
//! the engine's `QueueEvent`s come back to the app as `Msg::Queue`. `x` trips the batch's
//! `Cancel`; `F` and the resume offer pass the batch through the gate again (`queue::regate`:
//! read-only refuses before anything changes, even in the journal), re-queue the failed ops (`F`)
//! and run it. At start the batches a previous run left open on this host are offered for
//! resuming. Nothing here draws.

use super::app::{Effect, Msg};
use super::queue::{BatchLoad, QueueOp, ResumeOffer};
use crate::queue::{Action, BatchInfo, Cancel, DeactivateVia, Decision, Engine, EngineConfig, GatedBatch, Journal, RunContext, Safety};
use crate::scim::ScimClient;
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
            journal: Journal::in_memory(RunContext::new(profile, host, &crate::env::Actor::default()))
                .map(Arc::new)
                .map_err(|e| format!("{e:#}")),
            safety: Safety::default(),
            confirm_threshold: crate::bulk::CONFIRM_THRESHOLD,
            theme: None,
        }
    }

    /// The environment's journal (in its data dir), rules and `[ui]` settings.
    pub fn from_env(env: &crate::env::Environment) -> QueueSetup {
        QueueSetup {
            journal: env.journal().map_err(|e| e.to_string()),
            safety: env.safety.clone(),
            confirm_threshold: env.config.ui.confirm_threshold.unwrap_or(crate::bulk::CONFIRM_THRESHOLD),
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
}

/// What happens to the journal before the batch runs.
enum Prep {
    Submit { info: BatchInfo, decision: Decision },
    Retry(String),
    Resume(Vec<String>),
}

impl QueueRunner {
    pub fn new(client: ScimClient, journal: Option<Arc<Journal>>, safety: Safety, tx: UnboundedSender<Msg>) -> QueueRunner {
        QueueRunner { client, journal, safety, tx, cancel: Cancel::default(), task: None }
    }

    /// Batches left open on this host by an earlier run.
    pub fn unfinished(&self) -> Result<Vec<ResumeOffer>, String> {
        let Some(j) = &self.journal else { return Ok(Vec::new()) };
        let host = self.client.host();
        let open = j.unfinished_batches().map_err(|e| format!("{e:#}"))?;
        Ok(open
            .into_iter()
            .filter(|b| b.host == host)
            .map(|b| ResumeOffer { batch_id: b.batch_id, description: b.description, created: b.created, open: b.open, total: b.total })
            .collect())
    }

    pub fn run(&mut self, e: Effect) {
        let prep = match e {
            Effect::RunBatch { decision, description } => {
                // A restore (`u`: its description is the plan's "restore batch …") is journaled as
                // one, so its records name the batch it undoes.
                let origin = if description.starts_with("restore ") { crate::queue::engine::RESTORE_ORIGIN } else { "console" };
                Prep::Submit { info: BatchInfo { origin: origin.into(), policy_run: None, description }, decision }
            }
            Effect::RetryFailed { batch_id } => Prep::Retry(batch_id),
            Effect::ResumeBatches { batch_ids } => Prep::Resume(batch_ids),
            Effect::CancelBatch { .. } => {
                self.cancel.cancel();
                return;
            }
            _ => return,
        };
        // A decision made elsewhere is not journaled by a read-only runner (the gate's first
        // rule; retry and resume meet it again in `regate`).
        if let (Prep::Submit { .. }, Some(h)) = (&prep, self.safety.refuses_writes()) {
            let _ = self.tx.send(Msg::QueueFailed(h.to_string()));
            return;
        }
        let Some(journal) = self.journal.clone() else {
            let _ = self.tx.send(Msg::QueueFailed("no journal".into()));
            return;
        };
        if self.task.as_ref().is_some_and(|t| !t.is_finished()) {
            let _ = self.tx.send(Msg::QueueFailed("a batch is already running".into()));
            return;
        }
        self.cancel = Cancel::default();
        let engine = Engine::new(self.client.clone(), journal.clone(), EngineConfig::default());
        let rate = crate::bulk::planned_rate(&self.client, DeactivateVia::Both);
        let (tx, cancel, safety) = (self.tx.clone(), self.cancel.clone(), self.safety.clone());
        self.task = Some(tokio::spawn(async move {
            if let Err(e) = drive(engine, journal, safety, prep, tx.clone(), cancel, rate).await {
                let _ = tx.send(Msg::QueueFailed(e));
            }
        }));
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
    pub fn plan_restore(&self, which: crate::queue::restore::Which) {
        let tx = self.tx.clone();
        let Some(j) = self.journal.clone() else {
            let _ = tx.send(Msg::RestorePlanned { which, result: Err("no journal".into()) });
            return;
        };
        let client = self.client.clone();
        tokio::spawn(async move {
            let result = crate::queue::restore::plan(&client, &j, &which).await.map_err(|e| e.to_string());
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

async fn drive(
    engine: Engine,
    journal: Arc<Journal>,
    safety: Safety,
    prep: Prep,
    tx: UnboundedSender<Msg>,
    cancel: Cancel,
    rate: Option<f64>,
) -> Result<(), String> {
    // A confirmed decision is journaled now; retried and resumed batches pass the gate again
    // just before each runs (with their targets read afresh).
    let (mut submitted, ids, retry, description) = match prep {
        Prep::Submit { info, decision } => {
            let d = info.description.clone();
            let b = blocking(&journal, move |j| crate::queue::submit(j, &info, decision).map_err(anyhow::Error::from)).await?;
            let id = b.id().to_string();
            // The console's rows keep each user's primary email only: with a protected list,
            // the targets are read whole (every email) and gated again before anything is sent,
            // so a user protected by a secondary email is skipped here too.
            let b = if safety.protected.is_empty() {
                b
            } else {
                let r =
                    crate::queue::regate(engine.client(), &journal, &safety, &id, false).await.map_err(|e| format!("batch {id}: {e}"))?;
                for s in &r.skipped {
                    let line = format!("skipping {}: {}", s.action.describe(), s.why());
                    let _ = tx.send(Msg::Log(super::LogEntry::now(super::app::Level::Warn, line)));
                }
                r.batch
            };
            (Some(b), vec![id], false, Some(d))
        }
        Prep::Retry(b) => (None, vec![b], true, None),
        Prep::Resume(ids) => (None, ids, false, None),
    };
    for batch_id in ids {
        if cancel.is_cancelled() {
            break;
        }
        let batch: GatedBatch = match submitted.take() {
            Some(b) => b,
            None => {
                let r = crate::queue::regate(engine.client(), &journal, &safety, &batch_id, retry)
                    .await
                    .map_err(|e| format!("batch {batch_id}: {e}"))?;
                for s in &r.skipped {
                    let line = format!("skipping {}: {}", s.action.describe(), s.why());
                    let _ = tx.send(Msg::Log(super::LogEntry::now(super::app::Level::Warn, line)));
                }
                // Not sent this time (the rest goes on); F tries them again.
                for (a, why) in &r.unread {
                    let line = format!("{}: {why} (F retries it)", a.describe());
                    let _ = tx.send(Msg::Log(super::LogEntry::now(super::app::Level::Error, line)));
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
            tokio::spawn(async move {
                while let Some(ev) = erx.recv().await {
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

fn describe_ops<'a>(actions: impl Iterator<Item = &'a Action>) -> String {
    let names: std::collections::BTreeSet<&str> = actions.map(Action::name).collect();
    names.into_iter().collect::<Vec<_>>().join(", ")
}
