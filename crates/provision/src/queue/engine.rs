//! The engine: tokio workers that run a journaled batch through the SCIM client.
//!
//! Pacing lives in the client (Slack's token buckets, per-object write locks, Retry-After), so
//! the engine's job is to keep enough requests ready that the buckets are never idle: with `W`
//! workers and a round trip of `L` seconds it can sustain `W / L` requests per second, far above
//! Slack's 3 per second per endpoint. Phases run in order (a policy apply creates users before it
//! adds them to groups and deactivates last); ops within a phase run in parallel.
//!
//! **Two endpoints for one job.** Slack counts `DELETE /Users/{id}` and `PATCH /Users/{id}` in
//! separate rows of its table (180/min each, burst 20 each), both under the org-wide 600 writes
//! per minute. Both deactivate a user. With [`DeactivateVia::Both`] each deactivation goes to
//! whichever endpoint has more budget left at that moment, which doubles the sustained rate to
//! 360/min (6/s) without ever exceeding either row. The PATCH answer also returns the user, so
//! those deactivations are verified for free. Use `Delete` to stay with the documented
//! deactivation call only.

use super::action::Action;
use super::journal::{Finish, Journal, OpRow, OpState};
use crate::scim::client::RETRIES;
use crate::scim::ratelimit::Endpoint;
use crate::scim::{ScimClient, ScimError, User};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeactivateVia {
    /// DELETE /Users/{id} only (Slack's documented deactivation call).
    Delete,
    /// PATCH active=false only.
    Patch,
    /// Both rows of the rate table, each op to the endpoint with more budget left (fastest).
    #[default]
    Both,
}

impl DeactivateVia {
    pub const ALL: [DeactivateVia; 3] = [DeactivateVia::Delete, DeactivateVia::Patch, DeactivateVia::Both];
    pub fn as_str(self) -> &'static str {
        match self {
            DeactivateVia::Delete => "delete",
            DeactivateVia::Patch => "patch",
            DeactivateVia::Both => "both",
        }
    }
}

impl std::fmt::Display for DeactivateVia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `--via` value that is none of delete, patch, both.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown deactivation endpoint {0:?}: expected delete, patch or both")]
pub struct UnknownVia(String);

impl std::str::FromStr for DeactivateVia {
    type Err = UnknownVia;
    fn from_str(s: &str) -> Result<Self, UnknownVia> {
        DeactivateVia::ALL.into_iter().find(|v| v.as_str().eq_ignore_ascii_case(s.trim())).ok_or_else(|| UnknownVia(s.to_string()))
    }
}

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub workers: usize,
    pub deactivate_via: DeactivateVia,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { workers: 24, deactivate_via: DeactivateVia::Both }
    }
}

/// What the engine tells the console or the progress bar.
#[derive(Clone, Debug)]
pub enum QueueEvent {
    BatchStarted { batch_id: String, total: usize },
    OpStarted { batch_id: String, op_id: String, seq: i64, describe: String, attempt: i64 },
    OpFinished { batch_id: String, op_id: String, seq: i64, describe: String, state: OpState, message: String, retries: u32 },
    BatchFinished { batch_id: String, counts: HashMap<OpState, u64>, elapsed: Duration, cancelled: bool },
}

/// A flag shared with whoever may cancel a run (`x` in the console, Ctrl-C headless).
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Clone, Debug)]
pub struct BatchResult {
    pub batch_id: String,
    pub counts: HashMap<OpState, u64>,
    pub elapsed: Duration,
    pub ops: Vec<OpRow>,
}

impl BatchResult {
    pub fn count(&self, s: OpState) -> u64 {
        self.counts.get(&s).copied().unwrap_or(0)
    }
    pub fn all_succeeded(&self) -> bool {
        self.counts.iter().all(|(s, n)| *n == 0 || matches!(s, OpState::Done | OpState::Skipped))
    }
}

#[derive(Clone)]
pub struct Engine {
    client: ScimClient,
    journal: Arc<Journal>,
    config: EngineConfig,
    /// Alternates deactivations between the two endpoints when neither has a token to spare.
    turn: Arc<std::sync::atomic::AtomicUsize>,
}

/// What one execution produced beyond success.
#[derive(Debug, Default)]
struct Executed {
    note: Option<String>,
    /// The server's answer contradicts what was asked (reference §8.4): reported as a failure.
    surprise: Option<String>,
}

impl Engine {
    pub fn new(client: ScimClient, journal: Arc<Journal>, config: EngineConfig) -> Self {
        Engine { client, journal, config, turn: Arc::default() }
    }

    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    pub fn client(&self) -> &ScimClient {
        &self.client
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&Journal) -> anyhow::Result<T> + Send + 'static) -> anyhow::Result<T> {
        let j = self.journal.clone();
        tokio::task::spawn_blocking(move || f(&j)).await?
    }

    /// Run every open (pending or interrupted) op of a batch to a final state.
    pub async fn run_batch(
        &self,
        batch_id: &str,
        events: Option<UnboundedSender<QueueEvent>>,
        cancel: Cancel,
    ) -> anyhow::Result<BatchResult> {
        let started = Instant::now();
        let bid = batch_id.to_string();
        let ops = self.blocking(move |j| j.ops(&bid)).await?;
        let open: Vec<OpRow> = ops.into_iter().filter(|o| !o.state.is_final()).collect();
        emit(&events, QueueEvent::BatchStarted { batch_id: batch_id.into(), total: open.len() });
        let mut phases: Vec<i64> = open.iter().map(|o| o.phase).collect();
        phases.sort();
        phases.dedup();
        for phase in phases {
            if cancel.is_cancelled() {
                break;
            }
            let queue: VecDeque<OpRow> = open.iter().filter(|o| o.phase == phase).cloned().collect();
            let n = queue.len();
            let queue = Arc::new(Mutex::new(queue));
            let mut workers = Vec::new();
            for _ in 0..self.config.workers.clamp(1, n.max(1)) {
                let this = self.clone();
                let queue = queue.clone();
                let events = events.clone();
                let cancel = cancel.clone();
                workers.push(tokio::spawn(async move {
                    loop {
                        if cancel.is_cancelled() {
                            return Ok::<(), anyhow::Error>(());
                        }
                        let Some(op) = queue.lock().unwrap().pop_front() else { return Ok(()) };
                        this.run_op(op, &events).await?;
                    }
                }));
            }
            for w in workers {
                w.await??;
            }
        }
        let bid = batch_id.to_string();
        let cancelled = cancel.is_cancelled();
        let (counts, ops) = self
            .blocking(move |j| {
                if cancelled {
                    j.cancel_pending(&bid)?;
                }
                j.close_batch_if_done(&bid)?;
                Ok((j.counts(&bid)?, j.ops(&bid)?))
            })
            .await?;
        let elapsed = started.elapsed();
        emit(&events, QueueEvent::BatchFinished { batch_id: batch_id.into(), counts: counts.clone(), elapsed, cancelled });
        Ok(BatchResult { batch_id: batch_id.into(), counts, elapsed, ops })
    }

    async fn run_op(&self, op: OpRow, events: &Option<UnboundedSender<QueueEvent>>) -> anyhow::Result<()> {
        let id = op.op_id.clone();
        // Committed before the request goes out.
        let attempt = self.blocking(move |j| j.mark_running(&id)).await?;
        let describe = op.action.describe();
        emit(
            events,
            QueueEvent::OpStarted {
                batch_id: op.batch_id.clone(),
                op_id: op.op_id.clone(),
                seq: op.seq,
                describe: describe.clone(),
                attempt,
            },
        );
        // `attempt > 1` means the op was in flight when a previous run stopped: the server may
        // already have acted on it, so non-idempotent actions look before they leap.
        let resumed = attempt > 1;
        let (result, retries) = RETRIES
            .scope(std::cell::Cell::new(0), async {
                let r = self.execute(&op.action, resumed).await;
                (r, RETRIES.with(|c| c.get()))
            })
            .await;
        let (state, finish, message) = match result {
            Ok(Executed { note, surprise: None }) => {
                let msg = note.clone().unwrap_or_else(|| "ok".into());
                (OpState::Done, Finish { retries, note, ..Default::default() }, msg)
            }
            Ok(Executed { note, surprise: Some(s) }) => (
                OpState::Failed,
                Finish { retries, note, error_code: Some("surprise".into()), error_message: Some(s.clone()), ..Default::default() },
                format!("SURPRISE: {s}"),
            ),
            Err(e) => {
                let msg = e.to_string();
                (
                    OpState::Failed,
                    Finish {
                        retries,
                        error_code: Some(e.code().to_string()),
                        error_message: Some(msg.clone()),
                        http_status: e.status(),
                        note: None,
                    },
                    msg,
                )
            }
        };
        let id = op.op_id.clone();
        self.blocking(move |j| j.finish(&id, state, &finish)).await?;
        emit(events, QueueEvent::OpFinished { batch_id: op.batch_id, op_id: op.op_id, seq: op.seq, describe, state, message, retries });
        Ok(())
    }

    fn pick_deactivation_endpoint(&self) -> DeactivateVia {
        match self.config.deactivate_via {
            DeactivateVia::Both => {
                // While the bursts last, take whichever has more tokens; once both are paced
                // (the usual state in a long batch), alternate, since both rows refill at the
                // same rate. Picking "the fuller one" then would send every waiter to one row.
                let del = self.client.budget_remaining(Endpoint::DeleteUser).unwrap_or(0.0);
                let patch = self.client.budget_remaining(Endpoint::UpdateUser).unwrap_or(0.0);
                let turn = self.turn.fetch_add(1, Ordering::Relaxed);
                if del >= 1.0 && patch < 1.0 {
                    DeactivateVia::Delete
                } else if patch >= 1.0 && del < 1.0 {
                    DeactivateVia::Patch
                } else if turn.is_multiple_of(2) {
                    DeactivateVia::Delete
                } else {
                    DeactivateVia::Patch
                }
            }
            v => v,
        }
    }

    async fn execute(&self, action: &Action, resumed: bool) -> Result<Executed, ScimError> {
        let c = &self.client;
        match action {
            Action::Deactivate { target } => {
                let id = need_id(target.id.as_deref())?;
                match self.pick_deactivation_endpoint() {
                    DeactivateVia::Patch => {
                        let u = c.set_active(id, false).await?;
                        Ok(expect_active(&u, false))
                    }
                    _ => {
                        c.deactivate(id).await?;
                        Ok(Executed::default())
                    }
                }
            }
            Action::Reactivate { target } => {
                let u = c.set_active(need_id(target.id.as_deref())?, true).await?;
                Ok(expect_active(&u, true))
            }
            Action::CreateUser { user, .. } => {
                if resumed
                    && let Some(email) = user.primary_email()
                    && let Some(existing) = c.find_user_by_email(email).await?
                {
                    return Ok(Executed {
                        note: Some(format!("already exists as {} (created before the interruption)", existing.id())),
                        surprise: None,
                    });
                }
                let u = c.create_user(user).await?;
                let mut ex = expect_active(&u, user.active.unwrap_or(true));
                ex.note = Some(format!("created {}", u.id()));
                Ok(ex)
            }
            Action::UpdateUser { target, update } => {
                let id = need_id(target.id.as_deref())?;
                let u = c.update_user(id, &update.into()).await?;
                // Slack's April 2024 incident deactivated users on update (reference §8.4).
                let want_active = update.set.active.unwrap_or(true);
                Ok(expect_active(&u, want_active))
            }
            Action::CreateGroup { name, members } => {
                if resumed && let Some(g) = c.find_group_by_name(name).await? {
                    return Ok(Executed { note: Some(format!("already exists as {}", g.id())), surprise: None });
                }
                let g = c.create_group(name, members).await?;
                Ok(Executed { note: Some(format!("created {}", g.id())), surprise: None })
            }
            Action::RenameGroup { id, to, .. } => {
                c.rename_group(id, to).await?;
                Ok(Executed::default())
            }
            Action::DeleteGroup { id, .. } => match c.delete_group(id).await {
                Err(e) if resumed && e.is_not_found() => Ok(Executed { note: Some("already deleted".into()), surprise: None }),
                r => r.map(|_| Executed::default()),
            },
            Action::AddMembers { group_id, user_ids, .. } => {
                c.add_members(group_id, user_ids).await?;
                Ok(Executed::default())
            }
            Action::RemoveMembers { group_id, user_ids, .. } => {
                c.remove_members(group_id, user_ids).await?;
                Ok(Executed::default())
            }
        }
    }
}

fn need_id(id: Option<&str>) -> Result<&str, ScimError> {
    id.filter(|s| !s.is_empty()).ok_or_else(|| ScimError::Invalid("the action has no user id".into()))
}

fn expect_active(u: &User, want: bool) -> Executed {
    match u.active {
        Some(a) if a != want => Executed {
            note: None,
            surprise: Some(format!(
                "Slack answered with {} {} but it should be {}",
                u.primary_email().unwrap_or(u.id()),
                if a { "active" } else { "deactivated" },
                if want { "active" } else { "deactivated" }
            )),
        },
        _ => Executed::default(),
    }
}

fn emit(events: &Option<UnboundedSender<QueueEvent>>, e: QueueEvent) {
    if let Some(tx) = events {
        let _ = tx.send(e);
    }
}
