//! The console side of the action queue: the gate's rules, the current batch as the queue view
//! shows it (every operation, a progress gauge with an ETA), the status line's summary, and the
//! runtime's reports (`Msg::BatchLoaded`, `Msg::Queue`, `Msg::QueueFailed`, `Msg::Unfinished`),
//! which the app hands to [`on_msg`] after no component took them. The journal and the engine
//! live in the runtime (`queue_runner.rs`). The marks are in `directory.rs`, the verbs in the
//! Users and Groups panes, the confirmation in `confirm.rs`, the queue view in `queue_view.rs`,
//! the resume offer in `resume.rs`.

pub use super::msg::{BatchLoad, QueueOp, ResumeOffer};
use provision::queue::{OpState, QueueEvent, Safety};
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
