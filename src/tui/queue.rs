//! The console side of the action queue: marks, the verbs that turn marked rows into actions,
//! the queue view (every operation of the current batch, a progress gauge with an ETA, `x` to
//! cancel, `F` to retry) and the offer to resume what a previous run left open.
//!
//! All of it is state plus `update` logic on [`App`]; the journal and the engine live in the
//! runtime (`queue_runner.rs`), which reports back with `Msg::BatchLoaded`, `Msg::Queue` and
//! `Msg::QueueFailed`.

use super::app::{App, Effect, Level, Modal, Pane};
use super::keys::{self, Cmd};
use super::render::{block_for, overlay_area, thousands};
use super::users::visible_offset;
use crate::queue::journal::OpRow;
use crate::queue::{Action, Knowledge, OpState, QueueEvent, Safety, Subject, Target};
use crate::sanitize::clean;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Clear, Paragraph, Row, Table, TableState, Wrap};
use std::collections::HashMap;
use std::time::Instant;

/// The queue's console state.
#[derive(Debug)]
pub struct QueueState {
    /// The current (or last) batch.
    pub batch: Option<BatchView>,
    pub confirm: Option<super::confirm::Confirm>,
    pub prompt: Option<super::confirm::Prompt>,
    /// Unfinished batches offered for resuming.
    pub resume: Vec<ResumeOffer>,
    /// The gate's rules (the profile's, and `--read-only`).
    pub safety: Safety,
    /// Destructive batches larger than this need a typed count (`ui.confirm_threshold`).
    pub confirm_threshold: usize,
    /// Why the queue cannot run (the journal did not open), if so.
    pub unavailable: Option<String>,
    /// A confirmed batch is being journaled (no `BatchLoaded` yet).
    pub submitting: bool,
    /// The start of a `V` range (a store index).
    pub anchor: Option<u32>,
    /// `q` was pressed once while a batch ran.
    pub quit_warned: bool,
}

impl Default for QueueState {
    fn default() -> Self {
        QueueState {
            batch: None,
            confirm: None,
            prompt: None,
            resume: Vec::new(),
            safety: Safety::default(),
            confirm_threshold: crate::bulk::CONFIRM_THRESHOLD,
            unavailable: None,
            submitting: false,
            anchor: None,
            quit_warned: false,
        }
    }
}

impl QueueState {
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
    /// Requests per second the rate limiter allows (`bulk::planned_rate`); None without one.
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
    by_id: HashMap<String, usize>,
    pub running: bool,
    pub cancelling: bool,
    pub cancelled: bool,
    pub rate: Option<f64>,
    started: Option<Instant>,
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

    /// Ops that reached a final state.
    pub fn finished(&self) -> usize {
        self.ops.iter().filter(|o| o.state.is_final()).count()
    }

    pub fn surprises(&self) -> usize {
        self.ops.iter().filter(|o| o.surprise).count()
    }

    /// The op with this id, added at the end if the view does not have it yet; its text is
    /// filled in from the event when the view did not know it.
    fn op_mut(&mut self, op_id: &str, seq: i64, describe: &str) -> &mut QueueOp {
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
    fn update_eta(&mut self) {
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
        let (n, total, failed) = (self.finished(), self.ops.len(), self.count(OpState::Failed));
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

impl App {
    /// The marked users that are loaded, else the selected one, as store indices.
    pub fn targets(&self) -> Vec<u32> {
        if self.marks.is_empty() {
            return self.view.selected_index().into_iter().collect();
        }
        let mut idx: Vec<u32> = self.marks.iter().filter_map(|id| self.store.index_of(id)).collect();
        // In table order when visible, so the dialog's first names are the ones on screen.
        let pos: HashMap<u32, usize> = self.view.filtered.iter().enumerate().map(|(p, &i)| (i, p)).collect();
        idx.sort_by_key(|i| (pos.get(i).copied().unwrap_or(usize::MAX), *i));
        idx
    }

    fn marked_ids(&self) -> Vec<String> {
        self.targets_if_marked().into_iter().map(|i| self.store.rows[i as usize].id.to_string()).collect()
    }

    fn targets_if_marked(&self) -> Vec<u32> {
        if self.marks.is_empty() { Vec::new() } else { self.targets() }
    }

    /// `q` while a batch runs warns once instead of quitting; the second `q` quits (the journal
    /// keeps what was not sent, and the next start offers to resume it). Ctrl-C always quits.
    pub(super) fn queue_quit_guard(&mut self) -> bool {
        if !self.queue.running() || self.queue.quit_warned {
            return false;
        }
        self.queue.quit_warned = true;
        self.push_log(
            Level::Warn,
            "a batch is running: q again quits now (the rest can be resumed later), x in the queue view (Q) cancels it",
        );
        true
    }

    fn set_mark_flash(&mut self) {
        let n = self.marks.len();
        self.flash = Some((Level::Info, format!("{n} marked")));
    }

    pub(super) fn queue_cmd(&mut self, cmd: Cmd) -> Vec<Effect> {
        match (cmd, self.pane) {
            (Cmd::QueueView, _) if !self.modals.contains(&Modal::Queue) => self.modals.push(Modal::Queue),
            (Cmd::Mark, Pane::Users) => {
                if let Some(i) = self.view.selected_index() {
                    let id = self.store.rows[i as usize].id.clone();
                    if !self.marks.remove(&id) {
                        self.marks.insert(id);
                    }
                    let h = self.table_rows();
                    self.view.move_by(1, h);
                    self.set_mark_flash();
                }
            }
            (Cmd::MarkRange, Pane::Users) => {
                let Some(cur) = self.view.selected_index() else { return vec![] };
                match self.queue.anchor.take() {
                    None => {
                        self.queue.anchor = Some(cur);
                        self.flash = Some((Level::Info, "range started: move, then V again to mark it".into()));
                    }
                    Some(a) => {
                        let here = self.view.selected;
                        let there = self.view.filtered.iter().position(|&i| i == a).unwrap_or(here);
                        let (lo, hi) = (here.min(there), here.max(there));
                        for &i in &self.view.filtered[lo..=hi] {
                            self.marks.insert(self.store.rows[i as usize].id.clone());
                        }
                        self.set_mark_flash();
                    }
                }
            }
            (Cmd::MarkAll, Pane::Users) => {
                for &i in &self.view.filtered {
                    self.marks.insert(self.store.rows[i as usize].id.clone());
                }
                self.set_mark_flash();
            }
            (Cmd::ClearMarks, Pane::Users) => {
                self.marks.clear();
                self.queue.anchor = None;
                self.flash = Some((Level::Info, "marks cleared".into()));
            }
            (Cmd::Deactivate | Cmd::Reactivate, Pane::Users) => return self.user_verb(cmd == Cmd::Reactivate),
            (Cmd::AddMembers, Pane::Groups) => return self.group_members_verb(true, None),
            (Cmd::RemoveMembers, Pane::Groups) => return self.group_members_verb(false, None),
            (Cmd::RenameGroup, Pane::Groups) => {
                let Some(g) = self.groups.get(self.groups_selected) else { return vec![] };
                let (id, from) = (g.id.clone(), g.name.clone());
                return self.open_prompt(super::confirm::PromptKind::RenameGroup { id, from: from.clone() }, &from);
            }
            (Cmd::CreateGroup, Pane::Groups) => {
                let members = self.marked_ids();
                return self.open_prompt(super::confirm::PromptKind::CreateGroup { members }, "");
            }
            _ => {}
        }
        vec![]
    }

    fn user_verb(&mut self, activate: bool) -> Vec<Effect> {
        let targets = self.targets();
        if targets.is_empty() {
            self.push_log(Level::Warn, "no user selected");
            return vec![];
        }
        let actions: Vec<Action> = targets
            .iter()
            .map(|&i| {
                let target = Target::of_user(&self.store.users[i as usize]);
                if activate { Action::Reactivate { target } } else { Action::Deactivate { target } }
            })
            .collect();
        // The loaded rows are what the gate knows: state, primary owner, bots.
        let known = Knowledge::from_users(targets.iter().map(|&i| &self.store.users[i as usize]));
        let verb = if activate { "reactivate" } else { "deactivate" };
        let clears = !self.marks.is_empty();
        self.ask(actions, &known, move |n| format!("{verb} {n} user{}", if n == 1 { "" } else { "s" }), clears)
    }

    /// What the gate knows about these users, from the loaded rows.
    pub(super) fn knowledge_of(&self, ids: &[String]) -> Knowledge {
        Knowledge::from_users(ids.iter().filter_map(|id| self.store.index_of(id)).map(|i| &self.store.users[i as usize]))
    }

    /// `+`/`-` in Groups: the users marked in the Users pane; `-` in the members list: the
    /// selected member (or the marked members of that group).
    fn group_members_verb(&mut self, add: bool, group: Option<(usize, usize)>) -> Vec<Effect> {
        let gi = group.map_or(self.groups_selected, |(g, _)| g);
        let Some(g) = self.groups.get(gi) else { return vec![] };
        let (gid, gname) = (g.id.clone(), g.name.clone());
        let marked = self.marked_ids();
        let ids: Vec<String> = if add {
            marked.into_iter().filter(|id| !g.members.contains(id)).collect()
        } else if marked.iter().any(|id| g.members.contains(id)) {
            marked.into_iter().filter(|id| g.members.contains(id)).collect()
        } else if let Some((_, sel)) = group {
            g.members.get(sel).cloned().into_iter().collect()
        } else {
            Vec::new()
        };
        if ids.is_empty() {
            let msg = if self.marks.is_empty() {
                if add || group.is_none() {
                    "mark users in the Users pane first (Space, *)".to_string()
                } else {
                    "no member selected".to_string()
                }
            } else if add {
                format!("every marked user is already in {gname}")
            } else {
                format!("no marked user is in {gname}")
            };
            self.push_log(Level::Warn, msg);
            return vec![];
        }
        let n = ids.len();
        let known = self.knowledge_of(&ids);
        let (what, a) = if add {
            (
                format!("add {n} member{} to {gname}", if n == 1 { "" } else { "s" }),
                Action::AddMembers { group_id: gid, group_name: gname, user_ids: ids },
            )
        } else {
            (
                format!("remove {n} member{} from {gname}", if n == 1 { "" } else { "s" }),
                Action::RemoveMembers { group_id: gid, group_name: gname, user_ids: ids },
            )
        };
        let clears = !self.marks.is_empty();
        self.ask(vec![a], &known, move |_| what, clears)
    }

    /// Keys for the queue's overlays (and `-` in the members list); None: not ours.
    pub(super) fn queue_modal_key(&mut self, k: &KeyEvent) -> Option<Vec<Effect>> {
        match self.modals.last()? {
            Modal::Confirm => Some(self.confirm_key(k)),
            Modal::Prompt => Some(self.prompt_key(k)),
            Modal::Resume => Some(self.resume_key(k)),
            Modal::Queue => Some(self.queue_view_key(k)),
            Modal::GroupMembers { group, selected, .. } if k.code == KeyCode::Char('-') => {
                let (g, s) = (*group, *selected);
                Some(self.group_members_verb(false, Some((g, s))))
            }
            Modal::GroupMembers { .. } if k.code == KeyCode::Char('+') => Some(self.group_members_verb(true, None)),
            _ => None,
        }
    }

    fn queue_view_key(&mut self, k: &KeyEvent) -> Vec<Effect> {
        let Some(cmd) = keys::lookup_queue(k) else {
            if k.code == KeyCode::Char('?') {
                self.modals.push(Modal::Help { scroll: 0 });
            }
            return vec![];
        };
        let page = (super::render::queue_rows(self) as isize).max(1);
        let delta = match cmd {
            Cmd::Back => {
                self.modals.retain(|m| *m != Modal::Queue);
                return vec![];
            }
            Cmd::CancelQueue => return self.cancel_batch(),
            Cmd::RetryFailed => return self.retry_failed(),
            Cmd::Down => 1,
            Cmd::Up => -1,
            Cmd::PageDown => page,
            Cmd::PageUp => -page,
            Cmd::Top => isize::MIN / 2,
            Cmd::Bottom => isize::MAX / 2,
            _ => return vec![],
        };
        let h = page as usize;
        if let Some(b) = self.queue.batch.as_mut()
            && !b.ops.is_empty()
        {
            b.selected = (b.selected as isize).saturating_add(delta).clamp(0, b.ops.len() as isize - 1) as usize;
            b.offset = visible_offset(b.selected, b.offset, h, b.ops.len());
        }
        vec![]
    }

    fn cancel_batch(&mut self) -> Vec<Effect> {
        let Some(b) = self.queue.batch.as_mut().filter(|b| b.running) else {
            self.push_log(Level::Info, "nothing to cancel: no batch is running");
            return vec![];
        };
        if b.cancelling {
            return vec![];
        }
        b.cancelling = true;
        let batch_id = b.batch_id.clone();
        let pending = b.count(OpState::Pending);
        self.queue_status = b.status();
        self.push_log(
            Level::Warn,
            format!("cancelling batch {batch_id}: {pending} pending operation(s) will not be sent; requests in flight finish"),
        );
        vec![Effect::CancelBatch { batch_id }]
    }

    fn retry_failed(&mut self) -> Vec<Effect> {
        if let Some(why) = self.queue.refuse_writes() {
            self.push_log(Level::Warn, format!("retry: {why}"));
            return vec![];
        }
        let Some(b) = self.queue.batch.as_ref() else {
            self.push_log(Level::Info, "nothing to retry: no batch yet");
            return vec![];
        };
        let failed = b.count(OpState::Failed);
        if failed == 0 {
            self.push_log(Level::Info, "nothing to retry: no failed operation");
            return vec![];
        }
        let batch_id = b.batch_id.clone();
        self.queue.submitting = true;
        self.queue_status = "starting".into();
        self.push_log(Level::Info, format!("retrying {failed} failed operation(s) of batch {batch_id}"));
        vec![Effect::RetryFailed { batch_id }]
    }

    fn resume_key(&mut self, k: &KeyEvent) -> Vec<Effect> {
        match k.code {
            KeyCode::Enter | KeyCode::Char('y') => {
                self.modals.retain(|m| *m != Modal::Resume);
                let offers = std::mem::take(&mut self.queue.resume);
                if let Some(why) = self.queue.refuse_writes() {
                    self.push_log(Level::Warn, format!("resume: {why}"));
                    return vec![];
                }
                let batch_ids: Vec<String> = offers.iter().map(|o| o.batch_id.clone()).collect();
                self.push_log(Level::Info, format!("resuming {} unfinished batch(es)", batch_ids.len()));
                self.queue.submitting = true;
                self.queue_status = "starting".into();
                self.modals.push(Modal::Queue);
                vec![Effect::ResumeBatches { batch_ids }]
            }
            KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('q') => {
                self.modals.retain(|m| *m != Modal::Resume);
                let n = std::mem::take(&mut self.queue.resume).len();
                self.push_log(Level::Info, format!("left {n} unfinished batch(es) for later: `scimitar resume` finishes them"));
                vec![]
            }
            _ => vec![],
        }
    }

    pub(super) fn offer_resume(&mut self, offers: Vec<ResumeOffer>) -> Vec<Effect> {
        if offers.is_empty() {
            return vec![];
        }
        let open: u64 = offers.iter().map(|o| o.open).sum();
        self.push_log(Level::Warn, format!("{} unfinished batch(es) from an earlier run ({open} operations open)", offers.len()));
        self.queue.resume = offers;
        if !self.modals.contains(&Modal::Resume) {
            self.modals.push(Modal::Resume);
        }
        vec![]
    }

    pub(super) fn batch_loaded(&mut self, b: BatchLoad) -> Vec<Effect> {
        self.queue.submitting = false;
        self.queue.quit_warned = false;
        let v = BatchView::new(b);
        self.push_log(Level::Info, format!("batch {}: {} ({} operations)", v.batch_id, v.description, v.ops.len()));
        self.queue_status = v.status();
        self.queue.batch = Some(v);
        vec![]
    }

    /// Mirror a policy apply's batches in the queue view (the apply writes its own Log lines).
    /// The view is made on `BatchStarted` with the batch's op ids as the journal numbers them
    /// (`<batch>-00001`, ...) and fills in as the events arrive. A console batch that is still
    /// running keeps the view.
    pub(super) fn mirror_event(&mut self, ev: &QueueEvent, description: &str) {
        if let QueueEvent::BatchStarted { batch_id, total } = ev {
            if self.queue.running() {
                return;
            }
            let ops = (1..=*total).map(|i| QueueOp::pending(&format!("{batch_id}-{i:05}"), i as i64)).collect();
            let mut v = BatchView::new(BatchLoad { batch_id: batch_id.clone(), description: description.to_string(), ops, rate: None });
            v.started = Some(Instant::now());
            self.queue.batch = Some(v);
            return;
        }
        let Some(b) = self.queue.batch.as_mut() else { return };
        match ev {
            QueueEvent::OpStarted { batch_id, op_id, seq, describe, attempt } if *batch_id == b.batch_id => {
                let o = b.op_mut(op_id, *seq, describe);
                o.state = OpState::Running;
                o.attempt = *attempt;
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
            }
            _ => {}
        }
    }

    pub(super) fn queue_failed(&mut self, e: String) -> Vec<Effect> {
        self.queue.submitting = false;
        if let Some(b) = self.queue.batch.as_mut() {
            b.running = false;
        }
        self.queue_status = "stopped".into();
        self.push_log(Level::Error, format!("the queue stopped: {e}"));
        vec![]
    }

    pub(super) fn queue_event(&mut self, ev: QueueEvent) -> Vec<Effect> {
        let Some(b) = self.queue.batch.as_mut() else { return vec![] };
        let mut fx = Vec::new();
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
                    o.attempt = attempt;
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
                self.queue_status = b.status();
                let retry = if retries > 0 { format!(" ({retries} retries)") } else { String::new() };
                let (level, text) = match state {
                    OpState::Done => (Level::Ok, format!("{describe}: done{retry}")),
                    OpState::Failed if surprise => (Level::Warn, format!("!! {describe}: {message}{retry}")),
                    OpState::Failed => (Level::Error, format!("{describe}: failed: {message}{retry}")),
                    OpState::Cancelled => (Level::Warn, format!("{describe}: cancelled")),
                    OpState::Skipped => (Level::Warn, format!("{describe}: skipped: {message}")),
                    OpState::Pending | OpState::Running => (Level::Info, format!("{describe}: {}", state.as_str())),
                };
                self.push_log(level, text);
                if let Some((id, active)) = user {
                    self.patch_active(&id, active);
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
                self.queue_status = b.status();
                let (done, failed, cancelled_n, skipped) =
                    (b.count(OpState::Done), b.count(OpState::Failed), b.count(OpState::Cancelled), b.count(OpState::Skipped));
                let surprises = b.surprises();
                let groups = b.ops.iter().any(|o| o.group && o.state == OpState::Done);
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
                self.push_log(level, text);
                if groups {
                    self.groups_gen += 1;
                    self.groups_loading = true;
                    fx.push(Effect::LoadGroups { generation: self.groups_gen });
                }
            }
        }
        fx
    }

    /// Show a finished (de)activation in the loaded rows without a reload.
    fn patch_active(&mut self, id: &str, active: bool) {
        let Some(i) = self.store.index_of(id) else { return };
        let mut u = self.store.users[i as usize].clone();
        if u.active == Some(active) {
            return;
        }
        u.active = Some(active);
        self.store.upsert(u);
        self.view.changed(&self.store);
    }
}

fn state_label(o: &QueueOp) -> &'static str {
    if o.surprise {
        return "SURPRISE";
    }
    match o.state {
        OpState::Pending => "pending",
        OpState::Running => "running",
        OpState::Done => "done",
        OpState::Failed => "FAILED",
        OpState::Cancelled => "cancelled",
        OpState::Skipped => "skipped",
    }
}

fn state_style(app: &App, o: &QueueOp) -> Style {
    let t = &app.theme;
    if o.surprise {
        return t.warning.add_modifier(Modifier::BOLD | Modifier::REVERSED);
    }
    match o.state {
        OpState::Pending => t.muted,
        OpState::Running => t.accent,
        OpState::Done => t.ok,
        OpState::Failed => t.error.add_modifier(Modifier::BOLD),
        OpState::Cancelled | OpState::Skipped => t.warning,
    }
}

/// A text gauge (readable without colour): `[██████░░░░] 6/10 60%`.
pub fn gauge_text(done: usize, total: usize, width: usize) -> String {
    let width = width.max(4);
    let filled = (done * width).checked_div(total).map_or(width, |f| f.min(width));
    let pct = (done * 100).checked_div(total).unwrap_or(100);
    format!("[{}{}] {}/{} {pct}%", "█".repeat(filled), "░".repeat(width - filled), thousands(done as u64), thousands(total as u64))
}

pub fn render_queue(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let r = overlay_area(area);
    f.render_widget(Clear, r);
    let Some(b) = &app.queue.batch else {
        let text = if app.queue.submitting {
            "  journaling the batch…"
        } else {
            "  No batch yet. Mark users (Space, V, *) and press d or a; in Groups: + - R n."
        };
        let bl = block_for(t, Line::styled(" Queue ", t.title)).title_bottom(Line::styled(" Esc close ", t.muted).right_aligned());
        f.render_widget(Paragraph::new(Line::styled(text, t.muted)).block(bl).wrap(Wrap { trim: true }), r);
        return;
    };
    let title =
        Line::from(vec![Span::styled(format!(" Queue: {} ", b.description), t.title), Span::styled(format!("{} ", b.batch_id), t.muted)]);
    let hint = if b.running { " x cancel pending · F retry failed · Esc close " } else { " F retry failed · Esc close " };
    let bl = block_for(t, title).title_bottom(Line::styled(hint, t.muted).right_aligned());
    let inner = bl.inner(r);
    f.render_widget(bl, r);
    if inner.height < 2 || inner.width < 10 {
        return;
    }
    // The gauge line and a counts line.
    let (n, total) = (b.finished(), b.ops.len());
    let eta = match (b.running, b.eta) {
        (true, Some(e)) => format!("  eta {}", eta_text(e)),
        (true, None) => "  eta –".into(),
        (false, _) => String::new(),
    };
    let state = if b.running {
        if b.cancelling { "cancelling" } else { "running" }
    } else if b.cancelled {
        "cancelled"
    } else {
        "finished"
    };
    let gw = (inner.width as usize).saturating_sub(30 + eta.len()).clamp(4, 60);
    let gauge = Line::from(vec![
        Span::styled(gauge_text(n, total, gw), if b.count(OpState::Failed) > 0 { t.warning } else { t.ok }),
        Span::styled(eta, t.accent),
        Span::styled(format!("  {state}"), t.muted),
    ]);
    let mut counts = vec![
        Span::styled(format!("done {}", b.count(OpState::Done)), t.ok),
        Span::styled(format!(" · failed {}", b.count(OpState::Failed)), if b.count(OpState::Failed) > 0 { t.error } else { t.muted }),
        Span::styled(format!(" · running {}", b.count(OpState::Running)), t.accent),
        Span::styled(format!(" · pending {}", b.count(OpState::Pending)), t.muted),
    ];
    for (s, label) in [(OpState::Skipped, "skipped"), (OpState::Cancelled, "cancelled")] {
        if b.count(s) > 0 {
            counts.push(Span::styled(format!(" · {label} {}", b.count(s)), t.warning));
        }
    }
    if b.surprises() > 0 {
        counts.push(Span::styled(format!(" · {} SURPRISE", b.surprises()), t.warning.add_modifier(Modifier::BOLD | Modifier::REVERSED)));
    }
    if let Some(rate) = b.rate {
        counts.push(Span::styled(format!(" · {rate:.1}/s allowed"), t.muted));
    }
    f.render_widget(Paragraph::new(vec![gauge, Line::from(counts)]), Rect { height: 2, ..inner });
    let table_area = Rect { y: inner.y + 2, height: inner.height - 2, ..inner };
    if table_area.height < 2 {
        return;
    }
    // Only the visible slice becomes rows (bottom's rule): a 100,000-op batch draws as fast as 10.
    let height = table_area.height.saturating_sub(1) as usize;
    let off = visible_offset(b.selected, b.offset, height, b.ops.len());
    let end = (off + height).min(b.ops.len());
    let wide = table_area.width >= 100;
    let rows = b.ops[off..end].iter().map(|o| {
        let mut cells = vec![
            Cell::from(format!("{:>4}", o.seq)),
            Cell::from(Span::styled(state_label(o), state_style(app, o))),
            Cell::from(o.describe.as_str()),
            Cell::from(Span::styled(o.message.as_str(), if o.state == OpState::Failed { t.error } else { t.muted })),
        ];
        if wide {
            cells.push(Cell::from(format!("{:>7}", o.retries)));
        }
        Row::new(cells)
    });
    let mut widths = vec![Constraint::Length(4), Constraint::Length(9), Constraint::Fill(5), Constraint::Fill(4)];
    let mut hdr = vec!["   #", "state", "operation", "message"];
    if wide {
        widths.push(Constraint::Length(7));
        hdr.push("retries");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(hdr).style(t.header))
        .column_spacing(1)
        .row_highlight_style(t.selected)
        .highlight_symbol("> ")
        .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
    let mut state = TableState::new().with_selected((!b.ops.is_empty()).then(|| b.selected - off));
    f.render_stateful_widget(table, table_area, &mut state);
}

pub fn render_resume(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let mut lines = vec![Line::styled("A previous run stopped before finishing these batches:", t.warning), Line::raw("")];
    for o in app.queue.resume.iter().take(6) {
        lines.push(Line::styled(
            format!("  {}  {}: {} of {} operations open (started {})", o.batch_id, clean(&o.description), o.open, o.total, o.created),
            t.text,
        ));
    }
    if app.queue.resume.len() > 6 {
        lines.push(Line::styled(format!("  … and {} more", app.queue.resume.len() - 6), t.text));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Resuming is safe: nothing that finished runs again; an operation that was in flight is checked first.",
        t.muted,
    ));
    lines.push(Line::styled("Enter/y resume now · Esc/n leave for later (scimitar resume)", t.accent));
    let w = area.width.saturating_sub(4).min(100).max(area.width.min(20));
    let h = (lines.len() as u16 + 2).min(area.height);
    let r = Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h);
    f.render_widget(Clear, r);
    let b = block_for(t, Line::styled(" Resume unfinished work? ", t.title));
    f.render_widget(Paragraph::new(lines).block(b).wrap(Wrap { trim: false }), r);
}
