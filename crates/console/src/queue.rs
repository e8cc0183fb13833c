//! The console side of the action queue: the gate's rules, the current batch as the queue view
//! shows it (every operation, a progress gauge with an ETA), the status line's summary, and the
//! runtime's reports (`Msg::BatchLoaded`, `Msg::Queue`, `Msg::QueueFailed`, `Msg::Unfinished`),
//! which the app hands to [`on_msg`] after no component took them. The journal and the engine
//! live in the runtime (`queue_runner.rs`). The marks are in `directory.rs`, the verbs in the
//! Users and Groups panes, the confirmation in `confirm.rs`, the queue view in `queue_view.rs`,
//! the resume offer in `resume.rs`.

use super::app::{Effect, Level, Msg};
use super::component::{Ctx, Note};
use provision::queue::journal::OpRow;
use provision::queue::{Action, OpState, QueueEvent, Safety, Subject};
use scim::sanitize::clean;
use std::collections::HashMap;
use std::time::Instant;

/// The action queue as the console keeps it: the gate's rules, the current batch (the queue
/// view shows it), the status line's summary.
#[derive(Debug)]
pub struct Queue {
    /// The current (or last) batch.
    pub batch: Option<BatchView>,
    /// The status line's `queue …` ("idle" until a batch runs).
    pub status: String,
    /// The gate's rules (the profile's, and `--read-only`).
    pub safety: Safety,
    /// Destructive batches larger than this need a typed count (`ui.confirm_threshold`).
    pub confirm_threshold: usize,
    /// Why the queue cannot run (the journal did not open), if so.
    pub unavailable: Option<String>,
    /// A confirmed batch is being journaled (no `BatchLoaded` yet).
    pub submitting: bool,
    /// Who holds the org's lease while the batch asked for waits for it (`Msg::LeaseHeld`).
    pub lease_holder: Option<String>,
    /// The queue view's list of past batches (`b` in the view).
    pub history: History,
}

/// The journal's past batches as the queue view lists them (newest first), with how many
/// deactivations of each `restore` can undo.
#[derive(Debug, Default)]
pub struct History {
    /// The view shows the list (rather than the current batch's operations).
    pub shown: bool,
    pub batches: Vec<provision::queue::journal::BatchHistory>,
    /// Why the list could not be read.
    pub error: Option<String>,
    /// A list was asked for and has not come yet.
    pub loading: bool,
    pub selected: usize,
    pub offset: usize,
}

impl History {
    pub fn selected(&self) -> Option<&provision::queue::journal::BatchHistory> {
        self.batches.get(self.selected)
    }
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            batch: None,
            status: "idle".into(),
            safety: Safety::default(),
            confirm_threshold: provision::queue::CONFIRM_THRESHOLD,
            unavailable: None,
            submitting: false,
            lease_holder: None,
            history: History::default(),
        }
    }
}

impl Queue {
    /// Is a batch being journaled or run?
    pub fn running(&self) -> bool {
        self.submitting || self.batch.as_ref().is_some_and(|b| b.running)
    }

    /// `--read-only` (the gate's first rule, for the status line and for not asking at all).
    pub fn read_only(&self) -> bool {
        self.safety.refuses_writes().is_some()
    }

    /// Why a write cannot be queued now, if it cannot. Read-only is the gate's rule, asked before
    /// a prompt or a dialog opens; the gate asks it again of every action.
    pub fn refuse_writes(&self) -> Option<String> {
        if let Some(h) = self.safety.refuses_writes() {
            return Some(h.to_string());
        }
        self.busy()
    }

    /// Mirror a policy apply's batches in the queue view (the apply writes its own Log lines).
    /// The view is made on `BatchStarted` with the batch's op ids as the journal numbers them
    /// (`<batch>-00001`, ...) and fills in as the events arrive. A console batch that is still
    /// running keeps the view.
    pub fn mirror_event(&mut self, ev: &QueueEvent, description: &str) {
        if let QueueEvent::BatchStarted { batch_id, total } = ev {
            if self.running() {
                return;
            }
            let ops = (1..=*total).map(|i| QueueOp::pending(&format!("{batch_id}-{i:05}"), i as i64)).collect();
            let mut v = BatchView::new(BatchLoad { batch_id: batch_id.clone(), description: description.to_string(), ops, rate: None });
            v.started = Some(Instant::now());
            self.batch = Some(v);
            return;
        }
        let Some(b) = self.batch.as_mut() else { return };
        match ev {
            QueueEvent::OpStarted { batch_id, op_id, seq, describe, attempt } if *batch_id == b.batch_id => {
                let o = b.op_mut(op_id, *seq, describe);
                o.state = OpState::Running;
                o.sending = false;
                o.attempt = *attempt;
            }
            QueueEvent::OpSending { batch_id, op_id, seq } if *batch_id == b.batch_id => {
                b.op_mut(op_id, *seq, "").sending = true;
            }
            QueueEvent::OpFinished { batch_id, op_id, seq, describe, state, message, retries } if *batch_id == b.batch_id => {
                let o = b.op_mut(op_id, *seq, describe);
                o.state = *state;
                o.message = clean(message);
                o.retries = *retries;
                o.surprise = message.starts_with("SURPRISE");
                o.attempt = o.attempt.max(1);
                b.update_eta();
            }
            QueueEvent::BatchFinished { batch_id, cancelled, .. } if *batch_id == b.batch_id => {
                b.running = false;
                b.cancelled = *cancelled;
                if *cancelled {
                    for o in b.ops.iter_mut().filter(|o| o.state == OpState::Pending) {
                        o.state = OpState::Cancelled;
                        o.message = "cancelled before it was sent".into();
                    }
                }
            }
            _ => {}
        }
    }

    /// Why no batch can be queued now, read-only aside: the journal did not open, or a batch runs.
    pub fn busy(&self) -> Option<String> {
        if let Some(e) = &self.unavailable {
            return Some(format!("the action queue is unavailable: {e}"));
        }
        if self.running() {
            return Some("a batch is running: wait for it to finish (Q shows it, x cancels it)".into());
        }
        None
    }
}

/// One operation as the queue view shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueOp {
    pub op_id: String,
    pub seq: i64,
    pub describe: String,
    pub state: OpState,
    /// Slack's reason for a failure, or the engine's note.
    pub message: String,
    pub retries: u32,
    pub attempt: i64,
    /// The server's answer contradicted the request (error code `surprise`).
    pub surprise: bool,
    /// The user this op (de)activates and the `active` it leaves them with.
    pub user: Option<(String, bool)>,
    /// The op changes a group (the groups are reloaded after the batch).
    pub group: bool,
    /// A running op's write has left (it got its rate token): "sending"; before that it only
    /// waits for its turn ("waiting"), and a cancel stops it unsent.
    pub sending: bool,
}

impl QueueOp {
    pub fn from_row(o: &OpRow) -> QueueOp {
        let mut q = QueueOp::new(&o.op_id, o.seq, &o.action);
        q.state = o.state;
        q.message = o.error_message.clone().or_else(|| o.note.clone()).unwrap_or_default();
        q.retries = o.retries;
        q.attempt = o.attempts;
        q.surprise = o.error_code.as_deref() == Some("surprise");
        q
    }

    /// An op known only by id until its events describe it (a policy apply's batch).
    pub fn pending(op_id: &str, seq: i64) -> QueueOp {
        QueueOp {
            op_id: op_id.into(),
            seq,
            describe: String::new(),
            state: OpState::Pending,
            message: String::new(),
            retries: 0,
            attempt: 0,
            surprise: false,
            user: None,
            group: false,
            sending: false,
        }
    }

    pub fn new(op_id: &str, seq: i64, a: &Action) -> QueueOp {
        let user = a.leaves_user().map(|(id, active)| (id.to_string(), active));
        let group = a.spec().subject == Subject::Group;
        QueueOp { describe: clean(&a.describe()), user, group, ..QueueOp::pending(op_id, seq) }
    }
}

/// A batch the runtime has journaled and is about to run.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchLoad {
    pub batch_id: String,
    pub description: String,
    pub ops: Vec<QueueOp>,
    /// Requests per second the rate limiter allows (`queue::planned_rate`); None without one.
    pub rate: Option<f64>,
}

/// An unfinished batch from an earlier run.
#[derive(Clone, Debug, PartialEq)]
pub struct ResumeOffer {
    pub batch_id: String,
    pub description: String,
    pub created: String,
    pub open: u64,
    pub total: u64,
}

/// The queue view's model of one batch.
#[derive(Clone, Debug)]
pub struct BatchView {
    pub batch_id: String,
    pub description: String,
    pub ops: Vec<QueueOp>,
    pub(super) by_id: HashMap<String, usize>,
    pub running: bool,
    pub cancelling: bool,
    pub cancelled: bool,
    pub rate: Option<f64>,
    pub(super) started: Option<Instant>,
    /// Seconds left, recomputed as ops finish.
    pub eta: Option<f64>,
    pub selected: usize,
    pub offset: usize,
}

impl BatchView {
    pub fn new(b: BatchLoad) -> BatchView {
        let by_id = b.ops.iter().enumerate().map(|(i, o)| (o.op_id.clone(), i)).collect();
        let mut v = BatchView {
            batch_id: clean(&b.batch_id),
            description: clean(&b.description),
            ops: b.ops,
            by_id,
            running: true,
            cancelling: false,
            cancelled: false,
            rate: b.rate.filter(|r| *r > 0.0),
            started: None,
            eta: None,
            selected: 0,
            offset: 0,
        };
        v.update_eta();
        v
    }

    pub fn count(&self, s: OpState) -> usize {
        self.ops.iter().filter(|o| o.state == s).count()
    }

    /// Running ops whose request has left (the others wait for their rate token).
    pub fn sending(&self) -> usize {
        self.ops.iter().filter(|o| o.state == OpState::Running && o.sending).count()
    }

    /// Ops that reached a final state.
    pub fn finished(&self) -> usize {
        self.ops.iter().filter(|o| o.state.is_final()).count()
    }

    /// Ops that ran to an end (done, failed, skipped): the gauge's count. A cancelled op never
    /// ran, so a cancelled batch's bar is not full (issue 12: `115/115 100% cancelled`).
    pub fn ended(&self) -> usize {
        self.finished() - self.count(OpState::Cancelled)
    }

    pub fn surprises(&self) -> usize {
        self.ops.iter().filter(|o| o.surprise).count()
    }

    /// The op with this id, added at the end if the view does not have it yet; its text is
    /// filled in from the event when the view did not know it.
    pub(super) fn op_mut(&mut self, op_id: &str, seq: i64, describe: &str) -> &mut QueueOp {
        let i = match self.by_id.get(op_id) {
            Some(&i) => i,
            None => {
                self.ops.push(QueueOp::pending(op_id, seq));
                self.by_id.insert(op_id.to_string(), self.ops.len() - 1);
                self.ops.len() - 1
            }
        };
        let o = &mut self.ops[i];
        if o.describe.is_empty() {
            o.describe = clean(describe);
        }
        o
    }

    /// Left to do / planned rate while the observed rate is young (as `bulk` does), then the
    /// slower of the two.
    pub(super) fn update_eta(&mut self) {
        let left = self.ops.len() - self.finished();
        let observed = self.started.map(|s| {
            let done_here = self.ops.iter().filter(|o| o.state.is_final() && o.attempt > 0).count();
            done_here as f64 / s.elapsed().as_secs_f64().max(0.001)
        });
        let done = self.finished();
        let rate = match (self.rate, observed) {
            (Some(r), Some(o)) if done > 20 => Some(o.min(r)),
            (Some(r), _) => Some(r),
            (None, Some(o)) if o > 0.0 => Some(o),
            _ => None,
        };
        self.eta = rate.map(|r| left as f64 / r);
    }

    /// One line for the status bar.
    pub fn status(&self) -> String {
        let (n, total, failed) = (self.ended(), self.ops.len(), self.count(OpState::Failed));
        let mut s = if self.running {
            if self.cancelling { format!("cancelling {n}/{total}") } else { format!("running {n}/{total}") }
        } else if self.cancelled {
            format!("cancelled {n}/{total}")
        } else {
            format!("done {n}/{total}")
        };
        if failed > 0 {
            s.push_str(&format!(" · {failed} failed"));
        }
        if self.surprises() > 0 {
            s.push_str(&format!(" · {} SURPRISE", self.surprises()));
        }
        s
    }
}

/// `HH:MM:SS`-ish, short.
pub fn eta_text(secs: f64) -> String {
    let s = secs.ceil().max(0.0) as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn batch_loaded(ctx: &mut Ctx, b: BatchLoad) -> Vec<Effect> {
    ctx.queue.submitting = false;
    ctx.queue.lease_holder = None;
    // The view shows the batch that starts, not the list of past ones.
    ctx.queue.history.shown = false;
    let v = BatchView::new(b);
    ctx.log(Level::Info, format!("batch {}: {} ({})", v.batch_id, v.description, super::render::counted(v.ops.len(), "operation")));
    ctx.queue.status = v.status();
    ctx.queue.batch = Some(v);
    vec![]
}

fn queue_failed(ctx: &mut Ctx, e: String) -> Vec<Effect> {
    ctx.queue.submitting = false;
    ctx.queue.lease_holder = None;
    if let Some(b) = ctx.queue.batch.as_mut() {
        b.running = false;
    }
    ctx.queue.status = "stopped".into();
    ctx.log(Level::Error, format!("the queue stopped: {e}"));
    vec![]
}

/// The engine's progress on the console's batch: the queue view's rows, the status line, one Log
/// line per operation; a done (de)activation shows in the Users pane at once, and a batch that
/// changed groups has them read again (notes to the panes).
fn queue_event(ctx: &mut Ctx, ev: QueueEvent) -> Vec<Effect> {
    let Some(b) = ctx.queue.batch.as_mut() else { return vec![] };
    match ev {
        QueueEvent::BatchStarted { batch_id, .. } => {
            if batch_id == b.batch_id {
                b.started = Some(Instant::now());
                b.running = true;
            }
        }
        QueueEvent::OpStarted { batch_id, op_id, attempt, .. } => {
            if batch_id != b.batch_id {
                return vec![];
            }
            if let Some(o) = b.by_id.get(&op_id).and_then(|&i| b.ops.get_mut(i)) {
                o.state = OpState::Running;
                o.sending = false;
                o.attempt = attempt;
            }
        }
        QueueEvent::OpSending { batch_id, op_id, .. } => {
            if batch_id != b.batch_id {
                return vec![];
            }
            if let Some(o) = b.by_id.get(&op_id).and_then(|&i| b.ops.get_mut(i)) {
                o.sending = true;
            }
        }
        QueueEvent::OpFinished { batch_id, op_id, describe, state, message, retries, .. } => {
            if batch_id != b.batch_id {
                return vec![];
            }
            let surprise = message.starts_with("SURPRISE");
            let mut user = None;
            if let Some(o) = b.by_id.get(&op_id).and_then(|&i| b.ops.get_mut(i)) {
                o.state = state;
                o.message = clean(&message);
                o.retries = retries;
                o.surprise = surprise;
                o.attempt = o.attempt.max(1);
                if state == OpState::Done {
                    user = o.user.clone();
                }
            }
            b.update_eta();
            let s = b.status();
            ctx.queue.status = s;
            let retry = if retries > 0 { format!(" ({})", super::render::counted(retries as usize, "retry")) } else { String::new() };
            let (level, text) = match state {
                OpState::Done => (Level::Ok, format!("{describe}: done{retry}")),
                OpState::Failed if surprise => (Level::Warn, format!("!! {describe}: {message}{retry}")),
                OpState::Failed => (Level::Error, format!("{describe}: failed: {message}{retry}")),
                OpState::Cancelled => (Level::Warn, format!("{describe}: cancelled")),
                OpState::Skipped => (Level::Warn, format!("{describe}: skipped: {message}")),
                OpState::Pending | OpState::Running => (Level::Info, format!("{describe}: {}", state.as_str())),
            };
            ctx.log(level, text);
            if let Some((id, active)) = user {
                ctx.note(Note::UserActive { id, active });
            }
        }
        QueueEvent::BatchFinished { batch_id, elapsed, cancelled, .. } => {
            if batch_id != b.batch_id {
                return vec![];
            }
            b.running = false;
            b.cancelling = false;
            b.cancelled = cancelled;
            if cancelled {
                for o in b.ops.iter_mut().filter(|o| o.state == OpState::Pending) {
                    o.state = OpState::Cancelled;
                    o.message = "cancelled before it was sent".into();
                }
            }
            b.eta = None;
            let s = b.status();
            ctx.queue.status = s;
            let (done, failed, cancelled_n, skipped) =
                (b.count(OpState::Done), b.count(OpState::Failed), b.count(OpState::Cancelled), b.count(OpState::Skipped));
            let surprises = b.surprises();
            let groups = b.ops.iter().any(|o| o.group && o.state == OpState::Done);
            // A done op on a user that the rows cannot patch (a create, an update) means a reload.
            let users = b.ops.iter().any(|o| !o.group && o.user.is_none() && o.state == OpState::Done);
            let level = if surprises > 0 || failed > 0 {
                Level::Error
            } else if cancelled {
                Level::Warn
            } else {
                Level::Ok
            };
            let mut text = format!(
                "batch {batch_id} finished in {:.1}s: {done} done, {failed} failed, {skipped} skipped, {cancelled_n} cancelled",
                elapsed.as_secs_f64()
            );
            if surprises > 0 {
                text.push_str(&format!("; {surprises} SURPRISE(S): Slack answered differently from what was asked, check those users"));
            } else if failed > 0 {
                text.push_str("; F in the queue view (Q) retries the failed ones");
            }
            ctx.log(level, text);
            if groups {
                ctx.note(Note::GroupsChanged);
            }
            if users {
                ctx.note(Note::UsersChanged);
            }
            ctx.note(Note::Reported);
            // The queue view's list of past batches shows it (and what it can restore).
            return vec![Effect::ListBatches];
        }
    }
    vec![]
}

/// The runtime's reports on batches (and the unfinished batches found at start).
#[allow(clippy::result_large_err)]
pub fn on_msg(msg: Msg, ctx: &mut Ctx) -> Result<Vec<Effect>, Msg> {
    Ok(match msg {
        Msg::BatchLoaded(b) => batch_loaded(ctx, b),
        Msg::Queue(ev) => queue_event(ctx, ev),
        Msg::QueueFailed(e) => queue_failed(ctx, e),
        Msg::BatchesListed(r) => {
            let h = &mut ctx.queue.history;
            h.loading = false;
            match r {
                Ok(list) => {
                    // Keep the selection on the same batch when the list is read again.
                    let keep = h.selected().map(|b| b.batch_id.clone());
                    h.batches = list;
                    h.selected = keep.and_then(|id| h.batches.iter().position(|b| b.batch_id == id)).unwrap_or(0);
                    h.error = None;
                }
                Err(e) => h.error = Some(clean(&e)),
            }
            vec![]
        }
        Msg::RestorePlanned { which, result } => restore_planned(ctx, which, result),
        Msg::LeaseHeld(message) => {
            ctx.log(Level::Warn, format!("another scimitar is writing to this Slack org: {}", clean(&message)));
            ctx.queue.lease_holder = Some(clean(&message));
            ctx.open(super::lease_wait::LeaseWait::new(message));
            vec![]
        }
        Msg::Unfinished(offers) => {
            if !offers.is_empty() {
                let open: u64 = offers.iter().map(|o| o.open).sum();
                let (batches, ops) =
                    (super::render::counted(offers.len(), "unfinished batch"), super::render::counted(open as usize, "operation"));
                ctx.log(Level::Warn, format!("{batches} from an earlier run ({ops} open)"));
                ctx.open(super::resume::Resume::new(offers));
            }
            vec![]
        }
        other => return Err(other),
    })
}

/// `u` on a batch (queue view) or a report record: read what its deactivations took away.
pub fn ask_restore(ctx: &mut Ctx, which: provision::queue::restore::Which) -> Vec<Effect> {
    if let Some(why) = ctx.queue.refuse_writes() {
        ctx.log(Level::Warn, format!("restore {which}: {why}"));
        return vec![];
    }
    ctx.log(Level::Info, format!("restore {which}: reading what the deactivations took away and the directory now…"));
    vec![Effect::PlanRestore { which }]
}

/// The restore's actions are read: they pass the gate and are confirmed once (`confirm::ask`),
/// then run and are reported like any other batch.
fn restore_planned(
    ctx: &mut Ctx,
    which: provision::queue::restore::Which,
    result: Result<provision::queue::restore::RestorePlan, String>,
) -> Vec<Effect> {
    let plan = match result {
        Ok(p) => p,
        Err(e) => {
            ctx.log(Level::Error, format!("restore {which}: {e}"));
            return vec![];
        }
    };
    for n in &plan.notes {
        ctx.log(Level::Warn, format!("restore: {n}"));
    }
    for k in &plan.kept {
        let who = plan.names.get(&k.kept.user_id).cloned().unwrap_or_else(|| k.target.label());
        ctx.log(Level::Info, format!("restore: {who} had {}", k.kept.summary()));
    }
    for c in &plan.conflicts {
        ctx.log(Level::Warn, format!("restore: conflict: {c}"));
    }
    // The diff in the Log: what is set back, from what, to what.
    for d in plan.diff.iter().take(50) {
        ctx.log(Level::Info, format!("restore: {} {} {}: {:?} -> {:?}", d.action, d.object, d.field, d.now, d.back));
    }
    if plan.diff.len() > 50 {
        ctx.log(Level::Info, format!("restore: … and {} more changes", plan.diff.len() - 50));
    }
    let what = plan.what.clone();
    // The list it was asked from closes: a confirmed restore opens the queue view on its batch.
    ctx.close_all::<super::queue_view::QueueView>();
    // The dialog names the conflicts (values changed since the batch: left alone).
    super::confirm::ask_naming(ctx, plan.actions, &plan.known, move |_| what, false, Vec::new(), plan.conflicts)
}

/// `x` in the queue view: stop sending the running batch's pending operations.
pub fn cancel_batch(ctx: &mut Ctx) -> Vec<Effect> {
    let Some(b) = ctx.queue.batch.as_mut().filter(|b| b.running) else {
        ctx.log(Level::Info, "nothing to cancel: no batch is running");
        return vec![];
    };
    if b.cancelling {
        return vec![];
    }
    b.cancelling = true;
    let batch_id = b.batch_id.clone();
    let pending = b.count(OpState::Pending);
    let s = b.status();
    ctx.queue.status = s;
    ctx.log(
        Level::Warn,
        format!(
            "cancelling batch {batch_id}: {} will not be sent; requests in flight finish",
            super::render::counted(pending, "pending operation")
        ),
    );
    vec![Effect::CancelBatch { batch_id }]
}

/// `F` in the queue view: the failed operations again (the runner passes them through the gate).
pub fn retry_failed(ctx: &mut Ctx) -> Vec<Effect> {
    if let Some(why) = ctx.queue.refuse_writes() {
        ctx.log(Level::Warn, format!("retry: {why}"));
        return vec![];
    }
    let Some(b) = ctx.queue.batch.as_ref() else {
        ctx.log(Level::Info, "nothing to retry: no batch yet");
        return vec![];
    };
    let failed = b.count(OpState::Failed);
    if failed == 0 {
        ctx.log(Level::Info, "nothing to retry: no failed operation");
        return vec![];
    }
    let batch_id = b.batch_id.clone();
    ctx.queue.submitting = true;
    ctx.queue.status = "starting".into();
    ctx.log(Level::Info, format!("retrying {} of batch {batch_id}", super::render::counted(failed, "failed operation")));
    vec![Effect::RetryFailed { batch_id }]
}
