//! The "do" half: the runtime side of the action queue. A confirmed `Effect::RunBatch` is
//! journaled (`queue::submit`) and run by the engine on a tokio task; the engine's
//! `QueueEvent`s come back to the app as `Msg::Queue`. `x` trips the batch's `Cancel`, `F`
//! re-queues failed ops in the journal and runs the batch again, and at start the batches a
//! previous run left open on this host are offered for resuming. Nothing here draws.

use super::app::{Effect, Msg};
use super::queue::{BatchLoad, QueueOp, ResumeOffer};
use crate::queue::{Action, BatchInfo, Cancel, DeactivateVia, Engine, EngineConfig, Journal, RunContext, Safety, Screened};
use crate::scim::ScimClient;
use std::sync::Arc;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

/// How the console's queue is set up: the journal, the profile's safety rules, the UI's
/// confirmation threshold (and the config's theme, which comes from the same `[ui]` table).
pub struct QueueSetup {
    pub journal: Result<Arc<Journal>, String>,
    pub safety: Safety,
    pub confirm_threshold: usize,
    pub read_only: bool,
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
            read_only: false,
            theme: None,
        }
    }

    /// The environment's journal (in its data dir), rules and `[ui]` settings.
    pub fn from_env(env: &crate::env::Environment) -> QueueSetup {
        QueueSetup {
            journal: env.journal().map_err(|e| e.to_string()),
            safety: env.safety.clone(),
            confirm_threshold: env.config.ui.confirm_threshold.unwrap_or(crate::bulk::CONFIRM_THRESHOLD),
            read_only: env.read_only,
            theme: env.config.ui.theme.clone(),
        }
    }
}

pub struct QueueRunner {
    client: ScimClient,
    journal: Option<Arc<Journal>>,
    tx: UnboundedSender<Msg>,
    cancel: Cancel,
    task: Option<JoinHandle<()>>,
}

/// What happens to the journal before the batch runs.
enum Prep {
    Submit { info: BatchInfo, screened: Screened },
    Retry(String),
    Resume(Vec<String>),
}

impl QueueRunner {
    pub fn new(client: ScimClient, journal: Option<Arc<Journal>>, tx: UnboundedSender<Msg>) -> QueueRunner {
        QueueRunner { client, journal, tx, cancel: Cancel::default(), task: None }
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
            Effect::RunBatch { actions, skipped, description } => Prep::Submit {
                info: BatchInfo { origin: "console".into(), policy_run: None, description },
                screened: Screened { run: actions, skipped },
            },
            Effect::RetryFailed { batch_id } => Prep::Retry(batch_id),
            Effect::ResumeBatches { batch_ids } => Prep::Resume(batch_ids),
            Effect::CancelBatch { .. } => {
                self.cancel.cancel();
                return;
            }
            _ => return,
        };
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
        let (tx, cancel) = (self.tx.clone(), self.cancel.clone());
        self.task = Some(tokio::spawn(async move {
            if let Err(e) = drive(engine, journal, prep, tx.clone(), cancel, rate).await {
                let _ = tx.send(Msg::QueueFailed(e));
            }
        }));
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
    prep: Prep,
    tx: UnboundedSender<Msg>,
    cancel: Cancel,
    rate: Option<f64>,
) -> Result<(), String> {
    let (ids, description) = match prep {
        Prep::Submit { info, screened } => {
            let d = info.description.clone();
            let id = blocking(&journal, move |j| crate::queue::submit(j, &info, &screened)).await?;
            (vec![id], Some(d))
        }
        Prep::Retry(b) => {
            let id = b.clone();
            blocking(&journal, move |j| j.requeue_failed(&id)).await?;
            (vec![b], None)
        }
        Prep::Resume(ids) => (ids, None),
    };
    for batch_id in ids {
        if cancel.is_cancelled() {
            break;
        }
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
        let r = engine.run_batch(&batch_id, Some(etx), cancel.clone()).await;
        let _ = fwd.await;
        r.map_err(|e| format!("batch {batch_id}: {e:#}"))?;
    }
    Ok(())
}

fn describe_ops<'a>(actions: impl Iterator<Item = &'a Action>) -> String {
    let names: std::collections::BTreeSet<&str> = actions.map(Action::name).collect();
    names.into_iter().collect::<Vec<_>>().join(", ")
}
