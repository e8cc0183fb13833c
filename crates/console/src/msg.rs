//! What happens and what is asked for: `Msg` (everything that can happen: a key, a resize, a result
//! from the runtime) and `Effect` (work for the runtime), with the data they carry (loaded
//! batches, reports, plans, reviews) and the Log they append to. The bottom of the console:
//! this module imports no component, no pane and not the app, so every component can import it.

use crossterm::event::KeyEvent;
use provision::policy::live::LivePlan;
use provision::queue::journal::OpRow;
use provision::queue::{Action, OpState, Subject};
use provision::report::{Outcome, StoredRecord};
use provision::sync::Review;
use scim::sanitize::clean;
use scim::{Group, User};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::Date;

pub const LOG_CAP: usize = 2000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    Ok,
    Warn,
    Error,
}

/// One line of the Log pane (the action queue reports each operation's result as one of these).
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// `HH:MM:SS` (UTC).
    pub time: String,
    pub level: Level,
    pub text: String,
}

impl LogEntry {
    pub fn now(level: Level, text: impl Into<String>) -> LogEntry {
        LogEntry { time: clock(), level, text: text.into() }
    }
}

fn clock() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// The Log pane's lines (the newest last, at most `LOG_CAP`) and the status line's message.
#[derive(Debug)]
pub struct Log {
    entries: VecDeque<LogEntry>,
    /// The last message, shown in the status line.
    pub flash: Option<(Level, String)>,
    /// The last message is the Log's newest line (not a message for the status line only): the
    /// status line need not repeat it while the Log pane shows it.
    pub flash_logged: bool,
    pub visible: bool,
    pub height: u16,
    /// Rows scrolled back from the newest (`[` older, `]` newer); 0 follows the newest. Rows, not
    /// entries (issue 25: a long wrapped entry could not be scrolled back to its start).
    pub scroll: usize,
    /// The pane's inner width, where entries wrap (the app sets it from the screen's size).
    pub width: u16,
}

impl Default for Log {
    fn default() -> Self {
        Log { entries: VecDeque::new(), flash: None, flash_logged: false, visible: true, height: 6, scroll: 0, width: 78 }
    }
}

/// The columns before an entry's text: `HH:MM:SS level `.
pub const LOG_LEAD: usize = 15;

impl Log {
    /// A line, cleaned for the screen (it may hold server text).
    pub fn push(&mut self, level: Level, text: impl Into<String>) {
        self.push_entry(LogEntry::now(level, text));
    }

    pub fn push_entry(&mut self, e: LogEntry) {
        let e = LogEntry { text: clean(&e.text), ..e };
        self.flash = Some((e.level, e.text.clone()));
        self.flash_logged = true;
        // Scrolled back, the view stays on the same rows as new ones arrive.
        if self.scroll > 0 {
            self.scroll += self.rows_of(&e);
        }
        self.entries.push_back(e);
        while self.entries.len() > LOG_CAP {
            self.entries.pop_front();
        }
        self.scroll = self.scroll.min(self.max_scroll());
    }

    /// The text of an entry as the pane wraps it (each part one row).
    pub fn wrapped(&self, e: &LogEntry) -> Vec<String> {
        super::draw::wrap_words(&e.text, (self.width as usize).saturating_sub(LOG_LEAD).max(10))
    }

    fn rows_of(&self, e: &LogEntry) -> usize {
        self.wrapped(e).len()
    }

    /// The rows the pane shows at once (inside its borders).
    fn rows(&self) -> usize {
        (self.height as usize).saturating_sub(2).max(1)
    }

    /// The farthest back: the oldest row at the top of the pane.
    fn max_scroll(&self) -> usize {
        let total: usize = self.entries.iter().map(|e| self.rows_of(e)).sum();
        total.saturating_sub(self.rows())
    }

    /// Scroll back (`older`) or forward by `n` rows, within the history.
    pub fn scroll_by(&mut self, older: bool, n: usize) {
        self.scroll = if older { (self.scroll + n).min(self.max_scroll()) } else { self.scroll.saturating_sub(n) };
    }

    pub fn back(&self) -> Option<&LogEntry> {
        self.entries.back()
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &LogEntry> + ExactSizeIterator {
        self.entries.iter()
    }
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut LogEntry> {
        self.entries.iter_mut()
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Everything that can change the state.
/// What [`Msg::News`] loads again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reload {
    Nothing,
    /// Every pane (as `r` does).
    All,
    /// Every pane; the users that come are not news (no `•` marks): the demo's seed is done.
    Grown,
    /// The pane with this title.
    Pane(&'static str),
}

#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Resize(u16, u16),
    /// Advances the spinner; the runtime only ticks while something is in flight.
    Tick,
    /// A page of users, already in the compact form (the worker converts each page as it
    /// arrives, so no page of full records outlives its conversion).
    UsersPage {
        generation: u64,
        items: provision::directory::UserTable,
        total: u64,
    },
    /// The local directory cache, read before the first frame.
    CacheLoaded {
        table: provision::directory::UserTable,
        fetched_at: i64,
    },
    /// The full record of a user a detail view shows (fetched on demand).
    DetailFetched {
        id: String,
        result: Result<User, String>,
    },
    UsersDone {
        generation: u64,
        error: Option<String>,
    },
    GroupsLoaded {
        generation: u64,
        result: Result<Vec<Group>, String>,
    },
    EmailLookup {
        generation: u64,
        email: String,
        result: Result<Option<User>, String>,
    },
    UserFetched {
        id: String,
        result: Result<User, String>,
    },
    /// The filter debounce timer for an email lookup ran out.
    LookupDue {
        generation: u64,
        email: String,
    },
    /// Requests that could go out right now under the client's rate limiter (None: no limiter).
    Budget(Option<f64>),
    Log(LogEntry),
    /// A batch was journaled (or re-opened for a retry or a resume) and is about to run.
    BatchLoaded(BatchLoad),
    /// Progress of a running batch (the queue view's, or a policy apply's), from the engine.
    Queue(provision::queue::QueueEvent),
    /// The queue could not run a batch (journal or engine error).
    QueueFailed(String),
    /// News from outside the console (the demo's emulator finished seeding; its policy is
    /// written): a Log line, and what to load again.
    News {
        text: String,
        reload: Reload,
    },
    /// Batches a previous run left unfinished on this host (offered for resuming at start).
    Unfinished(Vec<ResumeOffer>),
    /// Another writer holds the org's lease, so the batch asked for has not started: who (the
    /// dialog offers to wait, `Effect::LeaseWait`).
    LeaseHeld(String),
    /// The journal's newest batches (`Effect::ListBatches`).
    BatchesListed(Result<Vec<provision::queue::journal::BatchHistory>, String>),
    /// A restore's actions, ready for the gate and one confirmation (`Effect::PlanRestore`).
    RestorePlanned {
        which: provision::queue::restore::Which,
        result: Result<provision::queue::restore::RestorePlan, String>,
    },
    /// A Reports query finished.
    ReportsLoaded {
        generation: u64,
        result: Result<ReportData, String>,
    },
    /// The CSV export of `count` records finished.
    ReportsExported {
        count: usize,
        result: Result<std::path::PathBuf, String>,
    },
    /// The policies on disk (name, file).
    PoliciesListed(Vec<(String, std::path::PathBuf)>),
    PlanComputed {
        generation: u64,
        name: String,
        result: Result<PlanHandle, String>,
    },
    /// The editor of `Effect::EditFile` exited (`Err`: it could not run, or failed).
    Edited {
        path: std::path::PathBuf,
        result: Result<(), String>,
    },
    /// A policy's sync state (`sync::status`; None: never synced), read with its plan.
    SyncState {
        name: String,
        state: Option<Box<provision::sync::SyncState>>,
    },
    /// A quarantined policy's held plan, planned again for review (`sync::review`).
    SyncReviewed {
        name: String,
        result: Result<ReviewHandle, String>,
    },
    /// `sync::approve` from the console ended: its run's one-line result.
    SyncApproved {
        name: String,
        result: Result<String, String>,
    },
    /// A policy apply ended.
    ApplyDone {
        name: String,
        result: Result<provision::policy::apply::ApplyOutcome, ApplyFailed>,
    },
    /// The store's approvals (`Effect::ListApprovals`).
    ApprovalsLoaded {
        generation: u64,
        result: Result<Vec<provision::approval::Approval>, String>,
    },
    /// A batch over `approval_over` was kept as a pending approval (`Effect::ProposeBatch`).
    ApprovalProposed(Result<provision::approval::Approval, String>),
    /// An approval's actions screened again by the gate against the server now, for the
    /// approver's confirmation (`Effect::ScreenApproval`; `Err`: refused, e.g. one's own).
    ApprovalScreened {
        id: String,
        result: Result<(provision::approval::Approval, provision::queue::Decision), String>,
    },
    /// An approval was rejected, or its approved batch ended (`Ok`: a line for the Log).
    ApprovalDecided(Result<String, String>),
    /// Records another writer (another admin's console or command, the sync, another process)
    /// appended to the store, oldest first (`Store::watch`, read by the runtime as they come):
    /// the Log says them and the Reports pane reads its query again.
    StoreNews(Vec<provision::report::StoredRecord>),
}

/// Why a policy apply from the console stopped (the Log says it: "applying policy P failed: ...").
#[derive(Debug, thiserror::Error)]
pub enum ApplyFailed {
    /// The store (for the org's lease and the journal) is not available: the environment's message.
    #[error("{0}")]
    Store(String),
    /// Another writer holds the org's lease, or it could not be taken.
    #[error("{0}")]
    Lease(#[from] provision::store::LeaseError),
    /// The lease's worker thread failed.
    #[error("{0}")]
    Worker(#[from] tokio::task::JoinError),
    /// The apply stopped (a pass held, the journal or the queue failed).
    #[error(transparent)]
    Apply(#[from] provision::policy::apply::ApplyError),
    /// Over the profile's `approval_over`: kept as pending approval `id`, nothing sent.
    #[error(
        "{reason}: held for approval as {id}; another account approves it in Approvals or with `scimitar approvals approve {id}`; nothing was sent"
    )]
    HeldForApproval { reason: provision::queue::NeedsApproval, id: String },
    /// The pending approval could not be kept.
    #[error("{0}")]
    Approval(#[from] provision::approval::ApprovalError),
}

/// The loaded users, shared with the task that writes them to the cache (the console keeps
/// working on its copy; `Arc::make_mut` copies only when the writer still holds it).
#[derive(Clone, Debug)]
pub struct CacheSnapshot(pub std::sync::Arc<provision::directory::UserTable>);

impl PartialEq for CacheSnapshot {
    fn eq(&self, o: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &o.0)
    }
}

/// Work for the runtime. Results come back as `Msg`s.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    LoadUsers {
        generation: u64,
    },
    LoadGroups {
        generation: u64,
    },
    LookupEmail {
        generation: u64,
        email: String,
    },
    FetchUser {
        id: String,
    },
    /// Fetch the full record of a loaded user for its detail view (`Msg::DetailFetched`).
    FetchDetail {
        id: String,
    },
    /// Write the loaded users to the local directory cache.
    SaveCache(CacheSnapshot),
    /// Send `Msg::LookupDue { generation, email }` after `after`.
    Debounce {
        generation: u64,
        email: String,
        after: Duration,
    },
    /// Put text on the clipboard with OSC 52.
    Copy(String),
    /// Journal a confirmed decision of the gate (skipped ops as `skipped`) and run it.
    RunBatch {
        decision: provision::queue::Decision,
        description: String,
    },
    /// Stop sending the running batch's pending operations.
    CancelBatch {
        batch_id: String,
    },
    /// Put a batch's failed operations back to pending and run it again.
    RetryFailed {
        batch_id: String,
    },
    /// Finish batches a previous run left open, one after the other.
    ResumeBatches {
        batch_ids: Vec<String>,
    },
    /// The answer to `Msg::LeaseHeld`: wait for the org's lease, or give the batch up.
    LeaseWait {
        wait: bool,
    },
    /// Read the report database (results: `Msg::ReportsLoaded`).
    QueryReports {
        generation: u64,
        query: provision::report::ReportQuery,
    },
    /// Write these records to a new CSV file (result: `Msg::ReportsExported`).
    ExportReports {
        records: Vec<provision::report::StoredRecord>,
    },
    ListPolicies,
    ComputePlan {
        generation: u64,
        name: String,
        path: std::path::PathBuf,
    },
    /// Run a reviewed, confirmed plan through the queue; `force` passes the ceilings (the admin
    /// typed the count).
    ApplyPlan {
        name: String,
        plan: PlanHandle,
        force: bool,
    },
    /// Read the journal's newest batches (result: `Msg::BatchesListed`), for the queue view.
    ListBatches,
    /// Read what deactivations took away and the directory now, and the actions that restore
    /// them (result: `Msg::RestorePlanned`; the app confirms them through the gate).
    PlanRestore {
        which: provision::queue::restore::Which,
    },
    /// Give the terminal to `$VISUAL`/`$EDITOR` on this file, take it back when the editor exits
    /// and answer `Msg::Edited` (the event loop runs it, as `Suspend`).
    EditFile {
        path: std::path::PathBuf,
    },
    /// Plan a quarantined policy again for review (result: `Msg::SyncReviewed`).
    ReviewSync {
        name: String,
        path: std::path::PathBuf,
    },
    /// Apply a reviewed quarantined plan and release the quarantine, as `scimitar sync approve`
    /// does (`sync::approve`; result: `Msg::SyncApproved`).
    ApproveSync {
        name: String,
        path: std::path::PathBuf,
        review: ReviewHandle,
    },
    /// Read the store's approvals, pending ones or `all` (result: `Msg::ApprovalsLoaded`).
    ListApprovals {
        generation: u64,
        all: bool,
    },
    /// Keep a confirmed batch over `approval_over` as a pending approval: nothing is sent
    /// (result: `Msg::ApprovalProposed`).
    ProposeBatch {
        decision: provision::queue::Decision,
        description: String,
    },
    /// Screen an approval's actions again against the server now, for its approval (result:
    /// `Msg::ApprovalScreened`).
    ScreenApproval {
        id: String,
    },
    /// Approve (as this account) and run an approval, with the decision the approver confirmed,
    /// through the queue under the org's lease (`approval::approve`).
    RunApproval {
        id: String,
        decision: provision::queue::Decision,
        description: String,
    },
    /// Reject a pending approval (result: `Msg::ApprovalDecided`).
    RejectApproval {
        id: String,
    },
    /// Restore the terminal, stop the process (SIGTSTP) and, once resumed, take the terminal
    /// again and redraw everything (the event loop runs it: it owns the terminal).
    Suspend,
    Quit,
}

/// A computed plan, shared between the pane and the apply effect. Two handles are equal when
/// they are the same computation.
#[derive(Clone, Debug)]
pub struct PlanHandle(pub Arc<LivePlan>);

impl PartialEq for PlanHandle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A review made by the runtime, held until it is approved (`sync::approve` takes it by value).
#[derive(Clone)]
pub struct ReviewHandle(Arc<Mutex<Option<Review>>>);

impl ReviewHandle {
    pub fn new(r: Review) -> ReviewHandle {
        ReviewHandle(Arc::new(Mutex::new(Some(r))))
    }

    /// The review, once (an approval uses it up).
    pub fn take(&self) -> Option<Review> {
        self.0.lock().ok()?.take()
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(&Review) -> T) -> Option<T> {
        self.0.lock().ok()?.as_ref().map(f)
    }
}

impl std::fmt::Debug for ReviewHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReviewHandle")
    }
}

impl PartialEq for ReviewHandle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// One loaded record with its cells cleaned and formatted once (not on every frame).
#[derive(Clone, Debug, PartialEq)]
pub struct ReportRow {
    pub stored: StoredRecord,
    pub time: String,
    pub short_time: String,
    pub target: String,
    pub code: String,
    pub message: String,
}

impl ReportRow {
    pub fn new(stored: StoredRecord) -> ReportRow {
        let r = &stored.record;
        let t = r.finished_at;
        let time = format!("{}-{:02}-{:02} {:02}:{:02}:{:02}", t.year(), t.month() as u8, t.day(), t.hour(), t.minute(), t.second());
        let short_time = time[5..16].to_string();
        let target = r
            .target_email
            .as_ref()
            .or(r.target_user_name.as_ref())
            .or(r.target_display.as_ref())
            .or(r.target_id.as_ref())
            .map(|s| clean(s))
            .unwrap_or_default();
        let code = match (&r.error_code, r.http_status) {
            (Some(c), _) => clean(c),
            (None, Some(h)) if h >= 300 => h.to_string(),
            _ => String::new(),
        };
        let message = r.error_message.as_deref().map(clean).unwrap_or_default();
        ReportRow { stored, time, short_time, target, code, message }
    }
}

/// What one query brought back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportData {
    pub rows: Vec<ReportRow>,
    /// Records matching the filters (the table holds at most [`LIMIT`]).
    pub total: u64,
    /// Per UTC day and outcome, oldest first.
    pub daily: Vec<(Date, Outcome, u64)>,
    /// No database yet: nothing has been recorded.
    pub no_db: bool,
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
