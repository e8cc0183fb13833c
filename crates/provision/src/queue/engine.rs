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
//!
//! **DELETE only where it deactivates.** That is Slack alone (reference §2); RFC 7644 §3.6 makes
//! DELETE remove the user. The client's server profile decides: on any other server every
//! deactivation is `PATCH active=false`, whatever `--via` says (the commands refuse `--via
//! delete` there before anything runs; this is the backstop, and `ScimClient::deactivate`
//! refuses too).
//!
//! **Every answer is checked.** A write Slack answers with the object (PATCH or POST of a user,
//! POST of a group) is checked on that answer; one it answers without it (a DELETE, a group
//! PATCH, an empty 2xx) is followed by a read of the object ([`READBACK_WAITS`]). An object left
//! in the wrong state fails the op with the error code `surprise`; a read-back that cannot be
//! made fails it with `unverified` (every such write is safe to repeat with `F`).
//!
//! The engine runs only a [`GatedBatch`]: a batch the gate decided (`gate.rs`).

use super::action::Action;
use super::gate::GatedBatch;
use super::journal::{Finish, Journal, JournalError, OpRow, OpState};
use crate::scim::client::{RETRIES, SEND_GUARD};
use crate::scim::ratelimit::Endpoint;
use crate::scim::{ScimClient, ScimError, User};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// `BatchInfo::origin` of a batch that undoes another (`restore`): its records name that batch.
pub const RESTORE_ORIGIN: &str = "restore";

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

/// The waits before each further read-back when the first read after a write still shows the
/// old state. Slack is eventually consistent on deactivation (reference §8.5: its own tests poll
/// `GET /Users/{id}` up to 10 times, a second apart, "there is some delay"), so one stale read is
/// not yet a surprise; but the poll is bounded (five reads over 3.75 s) so that one lagging
/// object does not hold a worker for long. Each read is a `GET` (`GET /Users/{id}`: 300/min, under
/// the org's 1,000 reads/min), never a write row: at the fastest bulk rate (3 DELETEs a second)
/// the read-backs use 180 of those 300 a minute, and only a stale read costs more than one.
pub const READBACK_WAITS: [Duration; 4] =
    [Duration::from_millis(250), Duration::from_millis(500), Duration::from_secs(1), Duration::from_secs(2)];

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub workers: usize,
    pub deactivate_via: DeactivateVia,
    /// See [`READBACK_WAITS`] (tests shorten them).
    pub readback_waits: Vec<Duration>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { workers: 24, deactivate_via: DeactivateVia::Both, readback_waits: READBACK_WAITS.to_vec() }
    }
}

/// What the engine tells the console or the progress bar. `OpStarted`: an op was taken up and
/// waits for its turn under the rate limit (not sent yet); `OpSending`: a write of it left (its
/// rate token was given): it is on the wire.
#[derive(Clone, Debug)]
pub enum QueueEvent {
    BatchStarted { batch_id: String, total: usize },
    OpStarted { batch_id: String, op_id: String, seq: i64, describe: String, attempt: i64 },
    OpSending { batch_id: String, op_id: String, seq: i64 },
    OpFinished { batch_id: String, op_id: String, seq: i64, describe: String, state: OpState, message: String, retries: u32 },
    BatchFinished { batch_id: String, counts: HashMap<OpState, u64>, elapsed: Duration, cancelled: bool },
}

/// A flag shared with whoever may cancel a run (`x` in the console, Ctrl-C and SIGTERM headless,
/// the sync's circuit breaker). Cancelling sends nothing more: operations not started stay
/// unsent, and a write waiting for its rate token (or its object's lock, or a retry) is refused
/// before it leaves (`scim::client::Stop`: the engine hands this signal to the client for every
/// operation); only requests already on the wire finish.
#[derive(Clone, Debug, Default)]
pub struct Cancel(crate::scim::client::Stop);

impl Cancel {
    pub fn cancel(&self) {
        self.0.stop();
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.is_stopped()
    }
    /// Resolves once the run is cancelled.
    pub async fn cancelled(&self) {
        self.0.stopped().await
    }
    /// The client's stop signal this cancel sets.
    pub fn stop(&self) -> crate::scim::client::Stop {
        self.0.clone()
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
    /// Breaks ties between the two deactivation endpoints (alternating).
    turn: Arc<std::sync::atomic::AtomicUsize>,
    /// Deactivations waiting for, or being sent through, each row: [DELETE, PATCH].
    queued: Arc<[std::sync::atomic::AtomicUsize; 2]>,
    /// One membership change per group at a time (its read-back compares with the members before).
    group_locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

/// One deactivation's place in a row's queue ([`Engine::pick_deactivation_endpoint`]), given up
/// when its write has been answered.
struct RowSlot {
    queued: Arc<[std::sync::atomic::AtomicUsize; 2]>,
    row: usize,
}

impl Drop for RowSlot {
    fn drop(&mut self) {
        self.queued[self.row].fetch_sub(1, Ordering::Relaxed);
    }
}

/// What one execution produced beyond success.
#[derive(Debug, Default)]
struct Executed {
    note: Option<String>,
    /// The server's answer contradicts what was asked (reference §8.4): reported as a failure.
    surprise: Option<String>,
    /// The write was answered, but reading it back failed: reported as a failure (`unverified`).
    unverified: Option<String>,
    /// A membership change took other members with it (`member_loss`): the batch was stopped.
    member_loss: Option<String>,
}

/// One read-back of an object after a write.
enum Probe {
    /// As asked.
    Good,
    /// Not (yet) as asked: read again, then a surprise.
    Wrong(String),
    /// The read failed.
    Failed(ScimError),
}

impl Engine {
    pub fn new(client: ScimClient, journal: Arc<Journal>, config: EngineConfig) -> Self {
        Engine { client, journal, config, turn: Arc::default(), queued: Arc::default(), group_locks: Arc::default() }
    }

    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    pub fn client(&self) -> &ScimClient {
        &self.client
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Journal) -> Result<T, JournalError> + Send + 'static,
    ) -> Result<T, JournalError> {
        let j = self.journal.clone();
        tokio::task::spawn_blocking(move || f(&j)).await.map_err(|e| JournalError::Stopped(e.to_string()))?
    }

    /// Run every open (pending or interrupted) op of a gated batch to a final state.
    pub async fn run_batch(
        &self,
        batch: &GatedBatch,
        events: Option<UnboundedSender<QueueEvent>>,
        cancel: Cancel,
    ) -> Result<BatchResult, JournalError> {
        let batch_id = batch.id();
        let started = Instant::now();
        let bid = batch_id.to_string();
        let (ops, restores) = self
            .blocking(move |j| {
                // A restore names the batch it undoes on every record it writes (its description,
                // `restore::RestorePlan::what`).
                let restores =
                    j.unfinished_batches()?.into_iter().find(|b| b.batch_id == bid && b.origin == RESTORE_ORIGIN).map(|b| b.description);
                Ok((j.ops(&bid)?, restores))
            })
            .await?;
        let restores: Option<Arc<str>> = restores.map(Arc::from);
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
                let restores = restores.clone();
                workers.push(tokio::spawn(async move {
                    loop {
                        if cancel.is_cancelled() {
                            return Ok::<(), JournalError>(());
                        }
                        // Fencing: a run whose lease was lost (or not renewed in time) takes no
                        // further op; the store refuses its marks and records anyway.
                        if let Some(f) = this.journal.fence() {
                            f.check()?;
                        }
                        let Some(op) = queue.lock().unwrap().pop_front() else { return Ok(()) };
                        this.run_op(op, &events, &cancel, restores.as_deref()).await?;
                    }
                }));
            }
            for w in workers {
                w.await.map_err(|e| JournalError::Stopped(e.to_string()))??;
            }
        }
        let bid = batch_id.to_string();
        let cancelled = cancel.is_cancelled();
        let (counts, ops, unsent) = self
            .blocking(move |j| {
                let mut unsent = Vec::new();
                if cancelled {
                    unsent = j.ops(&bid)?.into_iter().filter(|o| o.state == OpState::Pending).map(|o| o.op_id).collect();
                    j.cancel_pending(&bid)?;
                }
                j.close_batch_if_done(&bid)?;
                Ok((j.counts(&bid)?, j.ops(&bid)?, unsent))
            })
            .await?;
        // Every op a cancel left unsent is said, naming its operation (not only counted).
        let unsent: std::collections::HashSet<String> = unsent.into_iter().collect();
        for o in ops.iter().filter(|o| unsent.contains(&o.op_id) && o.state == OpState::Cancelled) {
            emit(
                &events,
                QueueEvent::OpFinished {
                    batch_id: batch_id.into(),
                    op_id: o.op_id.clone(),
                    seq: o.seq,
                    describe: o.action.describe(),
                    state: OpState::Cancelled,
                    message: "cancelled before it was sent".into(),
                    retries: 0,
                },
            );
        }
        let elapsed = started.elapsed();
        emit(&events, QueueEvent::BatchFinished { batch_id: batch_id.into(), counts: counts.clone(), elapsed, cancelled });
        Ok(BatchResult { batch_id: batch_id.into(), counts, elapsed, ops })
    }

    async fn run_op(
        &self,
        op: OpRow,
        events: &Option<UnboundedSender<QueueEvent>>,
        cancel: &Cancel,
        restores: Option<&str>,
    ) -> Result<(), JournalError> {
        if cancel.is_cancelled() {
            // Left pending: `run_batch` cancels it with the others not sent.
            return Ok(());
        }
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
        // What a deactivation takes away is in the journal before it is sent.
        // Its writes stop with the run (`Cancel`), and say when they leave: "waiting" until then.
        let sending = {
            let (tx, batch_id, op_id, seq) = (events.clone(), op.batch_id.clone(), op.op_id.clone(), op.seq);
            let once = AtomicBool::new(false);
            Arc::new(move || {
                if !once.swap(true, Ordering::Relaxed) {
                    emit(&tx, QueueEvent::OpSending { batch_id: batch_id.clone(), op_id: op_id.clone(), seq });
                }
            })
        };
        let control = crate::scim::client::WriteControl { stop: cancel.stop(), on_send: Some(sending) };
        // Fencing: checked by the client just before each request goes out (after its pacing).
        let guard: Arc<dyn Fn() -> Result<(), String> + Send + Sync> = match self.journal.fence() {
            Some(f) => {
                let f = f.clone();
                Arc::new(move || f.check().map_err(|e| e.to_string()))
            }
            None => Arc::new(|| Ok(())),
        };
        // The read made before sending counts in the op's retries too (issue 25: a deactivation
        // whose read failed after 2 s of retries said `retries 0`).
        let (result, retries) = SEND_GUARD
            .scope(
                guard,
                RETRIES.scope(std::cell::Cell::new(0), async {
                    let r = match self.keep_before_sending(&op).await? {
                        Ok(()) => crate::scim::client::WRITES.scope(control, self.execute(&op.action, resumed, cancel)).await,
                        Err(e) => Err(e),
                    };
                    Ok::<_, JournalError>((r, RETRIES.with(|c| c.get())))
                }),
            )
            .await?;
        let (state, finish, message) = match result {
            Ok(Executed { note, member_loss: Some(m), .. }) => (
                OpState::Failed,
                Finish { retries, note, error_code: Some("member_loss".into()), error_message: Some(m.clone()), ..Default::default() },
                format!("MEMBERS LOST: {m}"),
            ),
            Ok(Executed { note, surprise: None, unverified: None, .. }) => {
                let msg = note.clone().unwrap_or_else(|| "ok".into());
                (OpState::Done, Finish { retries, note, ..Default::default() }, msg)
            }
            Ok(Executed { note, surprise: Some(s), .. }) => (
                OpState::Failed,
                Finish { retries, note, error_code: Some("surprise".into()), error_message: Some(s.clone()), ..Default::default() },
                format!("SURPRISE: {s}"),
            ),
            Ok(Executed { note, unverified: Some(u), .. }) => (
                OpState::Failed,
                Finish { retries, note, error_code: Some("unverified".into()), error_message: Some(u.clone()), ..Default::default() },
                u,
            ),
            // Stopped while it waited for its turn: never sent.
            Err(ScimError::Cancelled { .. }) => {
                let why = "cancelled while it waited for its turn under the rate limit: never sent";
                let note = format!("{}: {why}", op.action.describe());
                (OpState::Cancelled, Finish { retries, note: Some(note), ..Default::default() }, why.to_string())
            }
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
        // A restore's records name the batch they undo.
        let finish = match restores {
            Some(what) => {
                Finish { note: Some(finish.note.as_deref().map_or_else(|| what.to_string(), |n| format!("{n} ({what})"))), ..finish }
            }
            None => finish,
        };
        self.blocking(move |j| j.finish(&id, state, &finish)).await?;
        emit(events, QueueEvent::OpFinished { batch_id: op.batch_id, op_id: op.op_id, seq: op.seq, describe, state, message, retries });
        Ok(())
    }

    /// For a kind that keeps what it takes away (`KindSpec::keeps`: a deactivation): unless the
    /// batch was journaled with it (from the targets the front end read), read the user now and
    /// keep their groups and roles before anything is sent. A read that fails fails the op
    /// unsent (repeating it with `F` is safe).
    async fn keep_before_sending(&self, op: &OpRow) -> Result<Result<(), ScimError>, JournalError> {
        if !op.action.spec().keeps {
            return Ok(Ok(()));
        }
        let id = op.op_id.clone();
        if self.blocking(move |j| j.kept(&id)).await?.is_some() {
            return Ok(Ok(()));
        }
        let target = op.action.target();
        let user = match need_id(target.id.as_deref()) {
            Ok(uid) => match self.client.get_user(uid).await {
                Ok(u) => u,
                Err(e) => return Ok(Err(e)),
            },
            Err(e) => return Ok(Err(e)),
        };
        let kept = super::kept::Kept::of(&user, super::kept::BEFORE_SENDING);
        let id = op.op_id.clone();
        self.blocking(move |j| j.keep(&id, &kept)).await?;
        Ok(Ok(()))
    }

    /// DELETE or PATCH for one deactivation; PATCH only unless `delete_deactivates` (Slack).
    ///
    /// With [`DeactivateVia::Both`], the row that will send it soonest: each row's queue (the
    /// deactivations already waiting for it or being sent) less the tokens it has left, over its
    /// rate. Alternating blindly, or taking "the fuller one", lets one row's queue grow longer
    /// than the other's (a waiter that wakes a little late leaves a token for a newcomer to see);
    /// at the end of a batch the longer queue then drains alone at half the speed (measured: 189
    /// DELETEs and 211 PATCHes for 400 deactivations at Slack's rates, 4 s of a 60 s batch lost).
    /// The slot is held until the write is answered.
    fn pick_deactivation_endpoint(&self, delete_deactivates: bool) -> (DeactivateVia, Option<RowSlot>) {
        if !delete_deactivates {
            return (DeactivateVia::Patch, None);
        }
        match self.config.deactivate_via {
            DeactivateVia::Both => {
                let soonest = |row: usize, e: Endpoint| {
                    let queued = self.queued[row].load(Ordering::Relaxed) as f64;
                    let left = self.client.budget_remaining(e).unwrap_or(0.0);
                    let rate = self.client.sustained_rate(e).unwrap_or(1.0).max(1e-9);
                    (queued + 1.0 - left).max(0.0) / rate
                };
                let (del, patch) = (soonest(0, Endpoint::DeleteUser), soonest(1, Endpoint::UpdateUser));
                let turn = self.turn.fetch_add(1, Ordering::Relaxed);
                let row = if del < patch {
                    0
                } else if patch < del {
                    1
                } else {
                    turn % 2
                };
                self.queued[row].fetch_add(1, Ordering::Relaxed);
                let via = if row == 0 { DeactivateVia::Delete } else { DeactivateVia::Patch };
                (via, Some(RowSlot { queued: self.queued.clone(), row }))
            }
            v => (v, None),
        }
    }

    /// Read an object back until `probe` says it is as asked, at most `1 + readback_waits` times.
    async fn read_back<T, F, Fut>(&self, what: &str, mut read: F, mut probe: impl FnMut(Result<T, ScimError>) -> Probe) -> Executed
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ScimError>>,
    {
        let started = Instant::now();
        let mut reads = 0;
        let mut last = String::new();
        for wait in std::iter::once(Duration::ZERO).chain(self.config.readback_waits.iter().copied()) {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            reads += 1;
            match probe(read().await) {
                Probe::Good => return Executed::default(),
                Probe::Wrong(m) => last = m,
                Probe::Failed(e) => {
                    return Executed {
                        unverified: Some(format!("{what} was answered, but reading it back failed: {e} (repeating it is safe: F retries)")),
                        ..Default::default()
                    };
                }
            }
        }
        let secs = started.elapsed().as_secs_f64();
        Executed {
            surprise: Some(format!("{what} was answered as done, but {last} ({reads} reads over {secs:.1}s)")),
            ..Default::default()
        }
    }

    /// After an answer without the user: read them until `active` is `want`.
    async fn read_back_user(&self, id: &str, want: bool) -> Executed {
        let what = format!("{} {id}", if want { "reactivating" } else { "deactivating" });
        self.read_back(
            &what,
            || self.client.get_user(id),
            |r| match r {
                Ok(u) if u.active == Some(want) => Probe::Good,
                Ok(u) => Probe::Wrong(format!("{} is still {}", u.primary_email().unwrap_or(u.id()), active_word(u.active))),
                Err(e) => Probe::Failed(e),
            },
        )
        .await
    }

    /// A write answered with the user: as asked when its `active` is `want`; an answer without
    /// `active` is read back (a 200 that leaves it out proves nothing).
    async fn check_active(&self, id: &str, u: &User, want: bool) -> Executed {
        match u.active {
            Some(_) => expect_active(u, want),
            None => self.read_back_user(id, want).await,
        }
    }

    /// Add or remove members, then read the group back: the members asked for must be in (or
    /// out), and no other member may have gone. A drop beyond the change asked for (a server that
    /// empties a group on a member remove, answering 2xx: Slack's SCIM v2 and others did) stops
    /// the batch (`cancel`) and puts the lost members back; the op fails with `member_loss`.
    /// Membership changes of one group run one at a time here, so another op of this batch is
    /// never taken for a loss.
    async fn change_members(&self, group_id: &str, user_ids: &[String], add: bool, cancel: &Cancel) -> Result<Executed, ScimError> {
        use std::collections::HashSet;
        let c = &self.client;
        let lock = self.group_lock(group_id);
        let _one_at_a_time = lock.lock().await;
        let before: HashSet<String> = c.get_group(group_id).await?.member_ids().map(str::to_string).collect();
        if add {
            c.add_members(group_id, user_ids).await?;
        } else {
            c.remove_members(group_id, user_ids).await?;
        }
        let asked: HashSet<&str> = user_ids.iter().map(String::as_str).collect();
        let what = format!("{} members {} {group_id}", if add { "adding" } else { "removing" }, if add { "to" } else { "from" });
        let mut last: Option<HashSet<String>> = None;
        let ex = self
            .read_back(
                &what,
                || c.get_group(group_id),
                |r| match r {
                    Ok(g) => {
                        let have: HashSet<String> = g.member_ids().map(str::to_string).collect();
                        let wrong = if add {
                            user_ids.iter().filter(|u| !have.contains(u.as_str())).count()
                        } else {
                            user_ids.iter().filter(|u| have.contains(u.as_str())).count()
                        };
                        let lost = before.iter().any(|m| !have.contains(m) && (add || !asked.contains(m.as_str())));
                        last = Some(have);
                        if lost {
                            // No use waiting: the loss is what is checked below.
                            Probe::Good
                        } else if wrong > 0 {
                            let how = if add { "are not members" } else { "are still members" };
                            Probe::Wrong(format!("{wrong} of {} users {how}", user_ids.len()))
                        } else {
                            Probe::Good
                        }
                    }
                    Err(e) => Probe::Failed(e),
                },
            )
            .await;
        let Some(after) = last else { return Ok(ex) };
        let mut lost: Vec<String> =
            before.iter().filter(|m| !after.contains(*m) && (add || !asked.contains(m.as_str()))).cloned().collect();
        if lost.is_empty() {
            return Ok(ex);
        }
        lost.sort();
        // Stop the batch: nothing more is sent to a server that does this.
        cancel.cancel();
        // Put them back (a repair of what the request on the wire did: sent even though the
        // batch is stopping), then check that they are back.
        let n = lost.len();
        let back = match crate::scim::client::unstoppable(c.add_members(group_id, &lost)).await {
            Ok(()) => match c.get_group(group_id).await {
                Ok(g) => {
                    let have: HashSet<&str> = g.member_ids().collect();
                    let missing: Vec<&String> = lost.iter().filter(|m| !have.contains(m.as_str())).collect();
                    if missing.is_empty() {
                        format!("all {n} were put back")
                    } else {
                        format!("{} of them are still missing after putting them back: {}", missing.len(), join_ids(&missing))
                    }
                }
                Err(e) => format!("they were added back, but reading the group again failed: {e}"),
            },
            Err(e) => format!("putting them back failed: {e}; they are: {}", join_ids(&lost.iter().collect::<Vec<_>>())),
        };
        Ok(Executed {
            member_loss: Some(format!(
                "{what}: the server removed {} beyond the {} asked (it answered 2xx); the batch is stopped; {back}",
                crate::words::count(n, "other member"),
                user_ids.len()
            )),
            ..Default::default()
        })
    }

    fn group_lock(&self, group_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.group_locks.lock().unwrap().entry(group_id.to_string()).or_default().clone()
    }

    /// After a group PATCH (answered 204 on v1, and the client keeps no body): read the group.
    async fn read_back_group(&self, id: &str, what: &str, check: impl Fn(&crate::scim::Group) -> Option<String>) -> Executed {
        self.read_back(
            what,
            || self.client.get_group(id),
            |r| match r {
                Ok(g) => check(&g).map_or(Probe::Good, Probe::Wrong),
                Err(e) => Probe::Failed(e),
            },
        )
        .await
    }

    async fn execute(&self, action: &Action, resumed: bool, cancel: &Cancel) -> Result<Executed, ScimError> {
        let c = &self.client;
        match action {
            Action::Deactivate { target } => {
                let id = need_id(target.id.as_deref())?;
                let delete_deactivates = c.profile().await.delete_deactivates();
                match self.pick_deactivation_endpoint(delete_deactivates) {
                    (DeactivateVia::Patch, slot) => {
                        let u = c.set_active(id, false).await;
                        drop(slot);
                        Ok(self.check_active(id, &u?, false).await)
                    }
                    (_, slot) => {
                        // DELETE answers 204 (v2) or an empty 200 (v1): nothing to check but the user.
                        let sent = c.deactivate(id).await;
                        drop(slot);
                        sent?;
                        Ok(self.read_back_user(id, false).await)
                    }
                }
            }
            Action::Reactivate { target } => {
                let id = need_id(target.id.as_deref())?;
                let u = c.set_active(id, true).await?;
                Ok(self.check_active(id, &u, true).await)
            }
            Action::CreateUser { user, .. } => {
                if resumed
                    && let Some(email) = user.primary_email()
                    && let Some(existing) = c.find_user_by_email(email).await?
                {
                    return Ok(Executed {
                        note: Some(format!("already exists as {} (created before the interruption)", existing.id())),
                        ..Default::default()
                    });
                }
                let u = c.create_user(user).await?;
                let mut ex = self.check_active(u.id(), &u, user.active.unwrap_or(true)).await;
                ex.note = Some(format!("created {}", u.id()));
                Ok(ex)
            }
            Action::UpdateUser { target, update } => {
                let id = need_id(target.id.as_deref())?;
                // (The client refuses an answer about another user.)
                let u = c.update_user(id, &update.into()).await?;
                // Slack's April 2024 incident deactivated users on update (reference §8.4).
                let want_active = update.set.active.unwrap_or(true);
                let ex = expect_active(&u, want_active);
                if ex.surprise.is_some() || (u.active.is_some() && super::edit::unmet(update, &u).is_empty()) {
                    return Ok(ex);
                }
                // The answer does not show `active` or every value as asked: read the user back
                // (a lagging read is polled a bounded number of times) before calling it a surprise.
                Ok(self
                    .read_back(
                        &format!("updating {}", target.label()),
                        || c.get_user(id),
                        |r| match r {
                            Ok(after) => {
                                let mut miss = super::edit::unmet(update, &after);
                                if after.active != Some(want_active) {
                                    miss.push(format!("the user is {}", active_word(after.active)));
                                }
                                if miss.is_empty() { Probe::Good } else { Probe::Wrong(miss.join("; ")) }
                            }
                            Err(e) => Probe::Failed(e),
                        },
                    )
                    .await)
            }
            Action::CreateGroup { name, members } => {
                if resumed && let Some(g) = c.find_group_by_name(name).await? {
                    return Ok(Executed { note: Some(format!("already exists as {}", g.id())), ..Default::default() });
                }
                let g = c.create_group(name, members).await?;
                let mut ex = Executed { note: Some(format!("created {}", g.id())), ..Default::default() };
                if !g.name().trim().eq_ignore_ascii_case(name.trim()) {
                    ex.surprise = Some(format!("Slack created group {} named {:?}, not {name:?}", g.id(), g.name()));
                }
                Ok(ex)
            }
            Action::RenameGroup { id, to, .. } => {
                c.rename_group(id, to).await?;
                Ok(self
                    .read_back_group(id, &format!("renaming group {id}"), |g| {
                        (g.name() != to.as_str()).then(|| format!("it is named {:?}, not {to:?}", g.name()))
                    })
                    .await)
            }
            Action::DeleteGroup { id, .. } => match c.delete_group(id).await {
                Err(e) if resumed && e.is_not_found() => Ok(Executed { note: Some("already deleted".into()), ..Default::default() }),
                Err(e) => Err(e),
                Ok(()) => Ok(self
                    .read_back(
                        &format!("deleting group {id}"),
                        || c.get_group(id),
                        |r| match r {
                            Err(e) if e.is_not_found() => Probe::Good,
                            Ok(g) => Probe::Wrong(format!("group {} still exists", g.name())),
                            Err(e) => Probe::Failed(e),
                        },
                    )
                    .await),
            },
            Action::AddMembers { group_id, user_ids, .. } => self.change_members(group_id, user_ids, true, cancel).await,
            Action::RemoveMembers { group_id, user_ids, .. } => self.change_members(group_id, user_ids, false, cancel).await,
        }
    }
}

fn active_word(a: Option<bool>) -> &'static str {
    match a {
        Some(true) => "active",
        Some(false) => "deactivated",
        None => "of unknown state",
    }
}

fn join_ids(ids: &[&String]) -> String {
    let shown: Vec<&str> = ids.iter().take(10).map(|s| s.as_str()).collect();
    if ids.len() > 10 { format!("{}, … {} more", shown.join(", "), ids.len() - 10) } else { shown.join(", ") }
}

fn need_id(id: Option<&str>) -> Result<&str, ScimError> {
    id.filter(|s| !s.is_empty()).ok_or_else(|| ScimError::Invalid("the action has no user id".into()))
}

fn expect_active(u: &User, want: bool) -> Executed {
    match u.active {
        Some(a) if a != want => Executed {
            surprise: Some(format!(
                "Slack answered with {} {} but it should be {}",
                u.primary_email().unwrap_or(u.id()),
                if a { "active" } else { "deactivated" },
                if want { "active" } else { "deactivated" }
            )),
            ..Default::default()
        },
        _ => Executed::default(),
    }
}

fn emit(events: &Option<UnboundedSender<QueueEvent>>, e: QueueEvent) {
    if let Some(tx) = events {
        let _ = tx.send(e);
    }
}

/// Requests per second the limiter allows for deactivations (None without a limiter): the
/// basis of the ETA shown while a batch runs.
pub fn planned_rate(client: &ScimClient, via: DeactivateVia) -> Option<f64> {
    let del = client.sustained_rate(Endpoint::DeleteUser)?;
    let patch = client.sustained_rate(Endpoint::UpdateUser)?;
    Some(match via {
        DeactivateVia::Delete => del,
        DeactivateVia::Patch => patch,
        DeactivateVia::Both => del + patch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::{ApiVersion, ClientConfig, RateLimit, Secret};

    /// An engine whose client paces by Slack's table (scale 1) and never sends anything here.
    fn engine() -> Engine {
        let mut cc = ClientConfig::new("http://127.0.0.1:9/scim/v2/", Secret::new("xoxp-unit"), ApiVersion::V2).unwrap();
        cc.rate_limit = RateLimit::Slack { scale: 1.0 };
        let j = Journal::in_memory(crate::queue::RunContext::new("test", "127.0.0.1", &crate::report::Actor::default())).unwrap();
        Engine::new(ScimClient::new(cc).unwrap(), Arc::new(j), EngineConfig::default())
    }

    #[test]
    fn deactivations_join_the_row_that_sends_them_soonest() {
        let e = engine();
        // Both bursts full: the picks alternate.
        let first: Vec<(DeactivateVia, Option<RowSlot>)> = (0..20).map(|_| e.pick_deactivation_endpoint(true)).collect();
        let deletes = first.iter().filter(|(v, _)| *v == DeactivateVia::Delete).count();
        assert_eq!(deletes, 10, "an even split while both rows have tokens");
        // Both rows spent; the PATCH row's ten have been answered, the DELETE row's ten still wait.
        e.client.assume_budget_spent();
        let waiting: Vec<_> = first.into_iter().filter(|(v, _)| *v == DeactivateVia::Delete).collect();
        let next: Vec<(DeactivateVia, Option<RowSlot>)> = (0..10).map(|_| e.pick_deactivation_endpoint(true)).collect();
        let vias: Vec<DeactivateVia> = next.iter().map(|(v, _)| *v).collect();
        assert!(vias.iter().all(|v| *v == DeactivateVia::Patch), "the shorter queue takes the newcomers: {vias:?}");
        // Level again: alternating.
        let after: Vec<DeactivateVia> = (0..4).map(|_| e.pick_deactivation_endpoint(true).0).collect();
        assert_eq!(after.iter().filter(|v| **v == DeactivateVia::Delete).count(), 2, "{after:?}");
        drop((waiting, next));
        // Where DELETE does not deactivate, always PATCH.
        assert_eq!(e.pick_deactivation_endpoint(false).0, DeactivateVia::Patch);
    }
}
