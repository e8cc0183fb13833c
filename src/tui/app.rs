//! The console's state and its one update function.
//!
//! Everything that happens arrives as a [`Msg`] (a key, a resize, a page of users, a lookup
//! result, a log line). [`App::update`] changes the state and returns [`Effect`]s: requests for
//! work the runtime does off the UI thread (network calls, timers, the clipboard). Results come
//! back as `Msg`s carrying the generation they were asked for; stale generations are dropped.
//! Nothing here does I/O, so the whole console can be driven and checked in tests.

use super::keys::{self, Cmd};
use super::policies::{PlanHandle, PoliciesPane};
use super::reports::{ReportData, ReportsPane};
use super::theme::{Theme, ThemeSet};
use super::users::{Column, Show, UserStore, UsersView, visible_offset};
use crate::sanitize::clean;
use crate::scim::client::normalize_email;
use crate::scim::{Group, User};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::collections::{HashSet, VecDeque};
use std::time::Duration;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

/// How long the filter must stay unchanged before a full email with no local match is looked up.
pub const LOOKUP_DEBOUNCE: Duration = Duration::from_millis(250);
const LOG_CAP: usize = 2000;
const HISTORY_CAP: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    Users,
    Groups,
    Policies,
    Reports,
}

impl Pane {
    pub const ALL: [Pane; 4] = [Pane::Users, Pane::Groups, Pane::Policies, Pane::Reports];
    pub fn title(self) -> &'static str {
        match self {
            Pane::Users => "Users",
            Pane::Groups => "Groups",
            Pane::Policies => "Policies",
            Pane::Reports => "Reports",
        }
    }
    fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap()
    }
    pub fn keys(self) -> &'static [keys::Binding] {
        match self {
            Pane::Users => keys::USERS,
            Pane::Groups => keys::GROUPS,
            Pane::Policies => keys::POLICIES,
            Pane::Reports => keys::REPORTS,
        }
    }
}

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

/// Everything that can change the state.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Resize(u16, u16),
    /// Advances the spinner; the runtime only ticks while something is in flight.
    Tick,
    UsersPage {
        generation: u64,
        items: Vec<User>,
        total: u64,
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
    BatchLoaded(super::queue::BatchLoad),
    /// Progress of a running batch (the queue view's, or a policy apply's), from the engine.
    Queue(crate::queue::QueueEvent),
    /// The queue could not run a batch (journal or engine error).
    QueueFailed(String),
    /// Batches a previous run left unfinished on this host (offered for resuming at start).
    Unfinished(Vec<super::queue::ResumeOffer>),
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
    /// A policy apply ended.
    ApplyDone {
        name: String,
        result: Result<crate::policy::apply::ApplyOutcome, String>,
    },
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
        decision: crate::queue::Decision,
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
    /// Read the report database (results: `Msg::ReportsLoaded`).
    QueryReports {
        generation: u64,
        query: crate::report::ReportQuery,
    },
    /// Write these records to a new CSV file (result: `Msg::ReportsExported`).
    ExportReports {
        records: Vec<crate::report::StoredRecord>,
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
    /// Restore the terminal, stop the process (SIGTSTP) and, once resumed, take the terminal
    /// again and redraw everything (the event loop runs it: it owns the terminal).
    Suspend,
    Quit,
}

/// Overlays drawn over the panes; the top one gets the keys. (The confirm dialog of the action
/// queue is meant to be one more variant.)
#[derive(Clone, Debug, PartialEq)]
pub enum Modal {
    Help {
        scroll: u16,
    },
    UserDetail {
        idx: u32,
        scroll: u16,
    },
    GroupMembers {
        group: usize,
        selected: usize,
        offset: usize,
    },
    /// The one confirmation of a batch (`App.queue.confirm` holds it).
    Confirm,
    /// A one-line text prompt (`App.queue.prompt`: group name).
    Prompt,
    /// The queue view (`App.queue.batch`).
    Queue,
    /// The offer to resume unfinished batches (`App.queue.resume`).
    Resume,
    /// One report record (index into the loaded rows).
    ReportDetail {
        idx: usize,
        scroll: u16,
    },
    /// One change of the shown plan (index into its rows).
    PolicyChange {
        row: usize,
        scroll: u16,
    },
    /// Confirm applying the shown plan; `typed` is the count typed when one is asked for.
    ConfirmApply {
        typed: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputMode {
    Normal,
    Filter,
    Command,
}

#[derive(Clone, Debug, Default)]
pub struct Loading {
    pub generation: u64,
    pub loaded: u64,
    pub total: Option<u64>,
    /// On a refresh the new pages are staged and swapped in at the end, so the table the admin
    /// is looking at does not empty out.
    pub staged: Option<Vec<User>>,
}

#[derive(Clone, Debug)]
pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
}

pub struct App {
    pub host: String,
    pub api: String,
    pub pane: Pane,
    pub store: UserStore,
    pub view: UsersView,
    pub users_total: Option<u64>,
    pub users_gen: u64,
    pub loading: Option<Loading>,
    pub users_error: Option<String>,
    pub groups: Vec<GroupRow>,
    pub groups_gen: u64,
    pub groups_loading: bool,
    pub groups_error: Option<String>,
    /// Index into `groups` of the selected group (`groups.len()` when the filter shows none).
    pub groups_selected: usize,
    /// First shown row on screen (a position in `groups_shown`).
    pub groups_offset: usize,
    /// The Groups filter (`/`), and the indices into `groups` it shows, in order.
    pub groups_query: String,
    pub groups_shown: Vec<usize>,
    pub text_scroll: [u16; 2],
    pub modals: Vec<Modal>,
    pub mode: InputMode,
    pub input: Input,
    pub history: Vec<String>,
    history_pos: Option<usize>,
    pub log: VecDeque<LogEntry>,
    pub log_visible: bool,
    pub log_height: u16,
    /// The latest message for the status line.
    pub flash: Option<(Level, String)>,
    pub lookup_gen: u64,
    /// The email being looked up through SCIM right now.
    pub lookup_in_flight: Option<String>,
    not_found: HashSet<String>,
    pub fetching: HashSet<String>,
    pub budget: Option<f64>,
    /// The action queue's summary for the status line ("idle" until the queue exists).
    pub queue_status: String,
    /// Marked users (ids) for the queue's verbs.
    pub marks: HashSet<Box<str>>,
    /// The action queue's console state: confirmation, prompt, batch view, resume offer, rules.
    pub queue: super::queue::QueueState,
    pub reports: ReportsPane,
    pub policies: PoliciesPane,
    pub theme: Theme,
    pub themes: ThemeSet,
    /// Where the config, policies and database are (shown in hints; the runtime sets them).
    pub paths: crate::env::Paths,
    pub size: (u16, u16),
    pub spinner: usize,
    pub quit: bool,
}

impl App {
    pub fn new(host: impl Into<String>, api: impl Into<String>, themes: ThemeSet, theme: Theme) -> App {
        let mut app = App {
            host: clean(&host.into()),
            api: api.into(),
            pane: Pane::Users,
            store: UserStore::default(),
            view: UsersView::default(),
            users_total: None,
            users_gen: 0,
            loading: None,
            users_error: None,
            groups: Vec::new(),
            groups_gen: 0,
            groups_loading: false,
            groups_error: None,
            groups_selected: 0,
            groups_query: String::new(),
            groups_shown: Vec::new(),
            groups_offset: 0,
            text_scroll: [0, 0],
            modals: Vec::new(),
            mode: InputMode::Normal,
            input: Input::default(),
            history: Vec::new(),
            history_pos: None,
            log: VecDeque::new(),
            log_visible: true,
            log_height: 6,
            flash: None,
            lookup_gen: 0,
            lookup_in_flight: None,
            not_found: HashSet::new(),
            fetching: HashSet::new(),
            budget: None,
            queue_status: "idle".into(),
            marks: HashSet::new(),
            queue: super::queue::QueueState::default(),
            reports: ReportsPane::default(),
            policies: PoliciesPane::new(),
            theme,
            themes,
            paths: crate::env::Paths::under(std::path::Path::new(".scimitar")),
            size: (80, 24),
            spinner: 0,
            quit: false,
        };
        for w in app.themes.warnings.clone() {
            app.push_log(Level::Warn, w);
        }
        app
    }

    /// The effects to run when the console opens: load users and groups.
    pub fn start(&mut self) -> Vec<Effect> {
        let mut fx = self.refresh_users();
        fx.extend(self.refresh_groups());
        fx
    }

    /// Is anything in flight that a spinner shows?
    pub fn busy(&self) -> bool {
        self.loading.is_some()
            || self.groups_loading
            || self.lookup_in_flight.is_some()
            || !self.fetching.is_empty()
            || self.queue.running()
            || self.reports.loading
            || self.reports.exporting
            || self.policies.computing.is_some()
            || self.policies.applying.is_some()
    }

    pub fn push_log(&mut self, level: Level, text: impl Into<String>) {
        let text = clean(&text.into());
        self.flash = Some((level, text.clone()));
        self.log.push_back(LogEntry::now(level, text));
        while self.log.len() > LOG_CAP {
            self.log.pop_front();
        }
    }

    fn refresh_users(&mut self) -> Vec<Effect> {
        self.users_gen += 1;
        let staged = if self.store.is_empty() { None } else { Some(Vec::new()) };
        self.loading = Some(Loading { generation: self.users_gen, loaded: 0, total: None, staged });
        self.users_error = None;
        self.not_found.clear();
        vec![Effect::LoadUsers { generation: self.users_gen }]
    }

    fn refresh_groups(&mut self) -> Vec<Effect> {
        self.groups_gen += 1;
        self.groups_loading = true;
        self.groups_error = None;
        vec![Effect::LoadGroups { generation: self.groups_gen }]
    }

    /// Rows of the Users table that fit on screen (the same layout the renderer uses).
    pub fn table_rows(&self) -> usize {
        super::render::list_height(self) as usize
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(k) => {
                if k.kind != KeyEventKind::Press {
                    return vec![];
                }
                self.on_key(k)
            }
            Msg::Resize(w, h) => {
                self.size = (w, h);
                let rows = self.table_rows();
                self.view.scroll_into_view(rows);
                vec![]
            }
            Msg::Tick => {
                self.spinner = self.spinner.wrapping_add(1);
                vec![]
            }
            Msg::UsersPage { generation, items, total } => {
                let Some(l) = self.loading.as_mut().filter(|l| l.generation == generation) else { return vec![] };
                l.loaded += items.len() as u64;
                l.total = Some(total);
                match l.staged.as_mut() {
                    Some(st) => st.extend(items),
                    None => {
                        self.users_total = Some(total);
                        let added = self.store.extend(items);
                        self.view.added(&self.store, added);
                    }
                }
                vec![]
            }
            Msg::UsersDone { generation, error } => {
                let Some(l) = self.loading.take_if(|l| l.generation == generation) else { return vec![] };
                if let Some(e) = error {
                    self.users_error = Some(clean(&e));
                    self.push_log(Level::Error, format!("loading users failed after {}: {e}", l.loaded));
                    return vec![];
                }
                if let Some(st) = l.staged {
                    self.swap_in(st);
                }
                self.users_total = Some(l.total.unwrap_or(l.loaded).max(self.store.len() as u64));
                self.push_log(Level::Info, format!("loaded {} users", super::render::thousands(self.store.len() as u64)));
                vec![]
            }
            Msg::GroupsLoaded { generation, result } => {
                if generation != self.groups_gen {
                    return vec![];
                }
                self.groups_loading = false;
                match result {
                    Ok(gs) => {
                        let keep = self.groups.get(self.groups_selected).map(|g| g.id.clone());
                        self.groups = gs
                            .into_iter()
                            .map(|g| GroupRow { id: clean(g.id()), name: clean(g.name()), members: g.member_ids().map(clean).collect() })
                            .collect();
                        self.groups.sort_by_key(|g| g.name.to_lowercase());
                        self.groups_selected = keep.and_then(|k| self.groups.iter().position(|g| g.id == k)).unwrap_or(0);
                        self.refilter_groups();
                        self.modals.retain(|m| !matches!(m, Modal::GroupMembers { .. }));
                    }
                    Err(e) => {
                        self.groups_error = Some(clean(&e));
                        self.push_log(Level::Error, format!("loading groups failed: {e}"));
                    }
                }
                vec![]
            }
            Msg::EmailLookup { generation, email, result } => {
                if self.lookup_in_flight.as_deref() == Some(email.as_str()) {
                    self.lookup_in_flight = None;
                }
                if generation != self.lookup_gen {
                    return vec![];
                }
                match result {
                    Ok(Some(u)) => {
                        self.push_log(Level::Ok, format!("found {email} through SCIM: {} ({})", u.label(), u.id()));
                        let idx = self.merge_user(u);
                        self.view.select_row(&self.store, idx);
                        self.sync_input_with_query();
                        self.view.scroll_into_view(self.table_rows());
                    }
                    Ok(None) => {
                        self.not_found.insert(email.clone());
                        self.push_log(Level::Warn, format!("no user with email {email} (looked up through SCIM)"));
                    }
                    Err(e) => self.push_log(Level::Error, format!("looking up {email} failed: {e}")),
                }
                vec![]
            }
            Msg::UserFetched { id, result } => {
                self.fetching.remove(&id);
                match result {
                    Ok(u) => {
                        let idx = self.merge_user(u);
                        self.jump_to_row(idx);
                    }
                    Err(e) => self.push_log(Level::Error, format!("fetching user {id} failed: {e}")),
                }
                vec![]
            }
            Msg::LookupDue { generation, email } => {
                if generation != self.lookup_gen || self.mode_query_email().as_deref() != Some(email.as_str()) {
                    return vec![];
                }
                if !self.view.filtered.is_empty() || self.not_found.contains(&email) {
                    return vec![];
                }
                self.start_lookup(email)
            }
            Msg::Budget(b) => {
                self.budget = b;
                vec![]
            }
            Msg::Log(e) => {
                let e = LogEntry { text: clean(&e.text), ..e };
                self.flash = Some((e.level, e.text.clone()));
                self.log.push_back(e);
                while self.log.len() > LOG_CAP {
                    self.log.pop_front();
                }
                vec![]
            }
            Msg::BatchLoaded(b) => self.batch_loaded(b),
            // A policy apply runs its own batches; the queue view follows the batch it started.
            Msg::Queue(ev) if self.policies.applying.is_some() => {
                let what = format!("policy {}", self.policies.applying.clone().unwrap_or_default());
                self.mirror_event(&ev, &what);
                self.apply_queue_event(ev)
            }
            Msg::Queue(ev) => self.queue_event(ev),
            Msg::QueueFailed(e) => self.queue_failed(e),
            Msg::Unfinished(offers) => self.offer_resume(offers),
            Msg::ReportsLoaded { generation, result } => self.reports_loaded(generation, result),
            Msg::ReportsExported { count, result } => self.reports_exported(count, result),
            Msg::PoliciesListed(list) => self.policies_listed(list),
            Msg::PlanComputed { generation, name, result } => self.plan_computed(generation, name, result),
            Msg::ApplyDone { name, result } => self.apply_done(name, result),
        }
    }

    /// Replace the store with a completed reload, keeping sort, filters and the selected user.
    fn swap_in(&mut self, users: Vec<User>) {
        let keep = self.view.selected_index().map(|i| self.store.rows[i as usize].id.clone());
        // Overlays point at store rows; re-point them by id after the swap.
        let modal_ids: Vec<Option<Box<str>>> = self
            .modals
            .iter()
            .map(|m| match m {
                Modal::UserDetail { idx, .. } => Some(self.store.rows[*idx as usize].id.clone()),
                _ => None,
            })
            .collect();
        let (sort, desc, show, query) = (self.view.sort, self.view.descending, self.view.show, self.view.query().to_string());
        self.store.clear();
        self.view = UsersView::default();
        self.view.show = show;
        let added = self.store.extend(users);
        self.view.added(&self.store, added);
        if sort.is_some() {
            self.view.set_sort(&self.store, sort, desc);
        }
        self.view.set_query(&self.store, &query);
        if let Some(idx) = keep.and_then(|id| self.store.index_of(&id))
            && let Some(p) = self.view.filtered.iter().position(|&i| i == idx)
        {
            self.view.selected = p;
        }
        self.view.scroll_into_view(self.table_rows());
        let store = &self.store;
        let mut ids = modal_ids.into_iter();
        self.modals.retain_mut(|m| match (m, ids.next().flatten()) {
            (Modal::UserDetail { idx, .. }, Some(id)) => match store.index_of(&id) {
                Some(i) => {
                    *idx = i;
                    true
                }
                None => false,
            },
            _ => true,
        });
    }

    fn merge_user(&mut self, u: User) -> u32 {
        let (idx, new) = self.store.upsert(u);
        if new {
            self.view.added(&self.store, vec![idx]);
            self.users_total = Some(self.users_total.unwrap_or(0).max(self.store.len() as u64));
        } else {
            self.view.changed(&self.store);
        }
        idx
    }

    /// Close overlays, switch to Users and select a row.
    fn jump_to_row(&mut self, idx: u32) {
        self.modals.clear();
        self.pane = Pane::Users;
        self.view.select_row(&self.store, idx);
        self.sync_input_with_query();
        self.view.scroll_into_view(self.table_rows());
    }

    fn sync_input_with_query(&mut self) {
        if self.view.query().is_empty() && self.mode != InputMode::Command {
            self.input.reset();
        }
    }

    /// Was this email looked up through SCIM and not found?
    pub fn not_found_contains(&self, email: &str) -> bool {
        self.not_found.contains(email)
    }

    fn mode_query_email(&self) -> Option<String> {
        looks_like_email(self.view.query())
    }

    fn start_lookup(&mut self, email: String) -> Vec<Effect> {
        if self.lookup_in_flight.as_deref() == Some(email.as_str()) {
            return vec![];
        }
        self.lookup_gen += 1;
        self.lookup_in_flight = Some(email.clone());
        self.push_log(Level::Info, format!("{email} is not loaded; looking it up through SCIM"));
        vec![Effect::LookupEmail { generation: self.lookup_gen, email }]
    }

    fn on_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
            return self.quit();
        }
        // Like Ctrl-c, Ctrl-z works everywhere: while typing, in overlays, in dialogs.
        if k.code == KeyCode::Char('z') && k.modifiers.contains(KeyModifiers::CONTROL) {
            return self.run_cmd(Cmd::Suspend);
        }
        let before = self.pane;
        let mut fx = self.dispatch_key(k);
        if self.pane != before {
            fx.extend(self.pane_entered());
        }
        fx
    }

    fn dispatch_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        match self.mode {
            InputMode::Filter | InputMode::Command => return self.on_input_key(k),
            InputMode::Normal => {}
        }
        if matches!(self.modals.last(), Some(Modal::ConfirmApply { .. })) {
            return self.on_confirm_key(k);
        }
        if !self.modals.is_empty() {
            return self.on_modal_key(k);
        }
        if self.pane == Pane::Reports && self.reports.focus.is_some() {
            return self.on_report_filter_key(k);
        }
        let Some(cmd) = keys::lookup(self.pane.keys(), &k) else { return vec![] };
        self.run_cmd(cmd)
    }

    fn quit(&mut self) -> Vec<Effect> {
        self.quit = true;
        vec![Effect::Quit]
    }

    pub fn run_cmd(&mut self, cmd: Cmd) -> Vec<Effect> {
        let page = self.table_rows().max(1) as isize;
        match cmd {
            Cmd::Quit if self.queue_quit_guard() => {}
            Cmd::Quit => return self.quit(),
            Cmd::Help => self.modals.push(Modal::Help { scroll: 0 }),
            Cmd::Suspend => return vec![Effect::Suspend],
            Cmd::CommandLine => {
                self.mode = InputMode::Command;
                self.input.reset();
                self.history_pos = None;
            }
            Cmd::Refresh => {
                let mut fx = self.refresh_users();
                fx.extend(self.refresh_groups());
                self.push_log(Level::Info, "reloading users and groups");
                return fx;
            }
            Cmd::NextPane => self.pane = Pane::ALL[(self.pane.index() + 1) % 4],
            Cmd::PrevPane => self.pane = Pane::ALL[(self.pane.index() + 3) % 4],
            Cmd::Pane(n) => self.pane = Pane::ALL[n as usize % 4],
            Cmd::ToggleLog => self.log_visible = !self.log_visible,
            Cmd::LogGrow => {
                self.log_visible = true;
                self.log_height = (self.log_height + 2).min(self.size.1.saturating_sub(6).max(3));
            }
            Cmd::LogShrink => {
                if self.log_height <= 3 {
                    self.log_visible = false;
                } else {
                    self.log_height -= 2;
                }
            }
            Cmd::Down => self.move_sel(1),
            Cmd::Up => self.move_sel(-1),
            Cmd::PageDown => self.move_sel(page),
            Cmd::PageUp => self.move_sel(-page),
            Cmd::Top => self.move_sel(isize::MIN / 2),
            Cmd::Bottom => self.move_sel(isize::MAX / 2),
            Cmd::Open => return self.open(),
            Cmd::Back => {
                if self.pane == Pane::Groups && !self.groups_query.is_empty() {
                    self.set_groups_query("");
                } else if self.pane == Pane::Users && !self.view.query().is_empty() {
                    self.input.reset();
                    self.view.set_query(&self.store, "");
                } else if self.pane == Pane::Users && !self.marks.is_empty() {
                    return self.queue_cmd(Cmd::ClearMarks);
                }
            }
            Cmd::Filter if self.pane == Pane::Reports => self.reports.focus = Some(0),
            Cmd::Filter => {
                if self.pane == Pane::Users {
                    self.mode = InputMode::Filter;
                    self.input = Input::new(self.input.value().to_string());
                } else if self.pane == Pane::Groups {
                    // The input line edits the Groups filter; the Users one is put back after.
                    self.mode = InputMode::Filter;
                    self.input = Input::new(self.groups_query.clone());
                }
            }
            Cmd::SortNext => {
                let next = match self.view.sort {
                    None => Some(Column::Name),
                    Some(c) => {
                        let i = Column::ALL.iter().position(|x| *x == c).unwrap();
                        Column::ALL.get(i + 1).copied()
                    }
                };
                self.view.set_sort(&self.store, next, false);
                self.view.scroll_into_view(self.table_rows());
            }
            Cmd::SortReverse => {
                let col = self.view.sort.or(Some(Column::Name));
                self.view.set_sort(&self.store, col, !self.view.descending);
                self.view.scroll_into_view(self.table_rows());
            }
            Cmd::CycleShow => {
                self.view.set_show(&self.store, self.view.show.next());
                self.view.scroll_into_view(self.table_rows());
            }
            Cmd::CopyEmail | Cmd::CopyId => return self.copy(cmd == Cmd::CopyId),
            Cmd::Export | Cmd::Apply | Cmd::Rerun | Cmd::FocusLeft | Cmd::FocusRight => return self.pane_cmd(cmd),
            _ => return self.queue_cmd(cmd),
        }
        vec![]
    }

    /// The body of the panes on screen (the same layout the renderer uses).
    pub fn body_area(&self) -> ratatui::layout::Rect {
        super::render::areas(self, ratatui::layout::Rect::new(0, 0, self.size.0, self.size.1)).body
    }

    /// A pane came to the front: load what it shows the first time.
    fn pane_entered(&mut self) -> Vec<Effect> {
        match self.pane {
            Pane::Reports if !self.reports.started => self.run_report_query(),
            Pane::Policies if !self.policies.listed => vec![Effect::ListPolicies],
            _ => vec![],
        }
    }

    /// Keys only the Reports and Policies panes have.
    fn pane_cmd(&mut self, cmd: Cmd) -> Vec<Effect> {
        match (self.pane, cmd) {
            (Pane::Reports, Cmd::Export) => self.export_reports(),
            (Pane::Reports, Cmd::Rerun) => self.run_report_query(),
            (Pane::Policies, Cmd::Rerun) => self.recompute_plan(),
            (Pane::Policies, Cmd::Apply) => self.confirm_apply(),
            (Pane::Policies, Cmd::FocusLeft) => {
                self.policies.focus_plan = false;
                vec![]
            }
            (Pane::Policies, Cmd::FocusRight) => {
                self.policies.focus_plan = self.policies.plan.is_some();
                vec![]
            }
            _ => vec![],
        }
    }

    /// The selected group's position among the shown ones.
    pub fn groups_pos(&self) -> Option<usize> {
        self.groups_shown.iter().position(|&i| i == self.groups_selected)
    }

    /// Show the groups whose name contains the filter (any case); keep the selection when it is
    /// still shown, else select the first shown group.
    pub fn refilter_groups(&mut self) {
        let q = self.groups_query.to_lowercase();
        self.groups_shown = (0..self.groups.len()).filter(|&i| q.is_empty() || self.groups[i].name.to_lowercase().contains(&q)).collect();
        if self.groups_pos().is_none() {
            self.groups_selected = self.groups_shown.first().copied().unwrap_or(self.groups.len());
            self.groups_offset = 0;
        }
    }

    fn set_groups_query(&mut self, q: &str) {
        self.groups_query = q.to_string();
        self.refilter_groups();
    }

    fn move_sel(&mut self, delta: isize) {
        let h = self.table_rows();
        match self.pane {
            Pane::Users => self.view.move_by(delta, h),
            Pane::Groups => {
                let n = self.groups_shown.len();
                if n == 0 {
                    return;
                }
                let pos = self.groups_pos().unwrap_or(0);
                let pos = (pos as isize).saturating_add(delta).clamp(0, n as isize - 1) as usize;
                self.groups_selected = self.groups_shown[pos];
                self.groups_offset = visible_offset(pos, self.groups_offset, h, n);
            }
            Pane::Policies => {
                let h = super::policies::list_height(self.body_area());
                self.policies.move_by(delta, h);
            }
            Pane::Reports => {
                let h = super::reports::table_height(self.body_area());
                self.reports.move_by(delta, h);
            }
        }
    }

    fn open(&mut self) -> Vec<Effect> {
        match self.pane {
            Pane::Users => {
                if let Some(idx) = self.view.selected_index() {
                    self.modals.push(Modal::UserDetail { idx, scroll: 0 });
                }
            }
            Pane::Groups if self.groups_selected < self.groups.len() => {
                self.modals.push(Modal::GroupMembers { group: self.groups_selected, selected: 0, offset: 0 });
            }
            Pane::Reports if self.reports.selected_row().is_some() => {
                self.modals.push(Modal::ReportDetail { idx: self.reports.selected, scroll: 0 });
            }
            Pane::Policies => return self.policies_open(),
            _ => {}
        }
        vec![]
    }

    fn copy(&mut self, id: bool) -> Vec<Effect> {
        let (what, text) = match (self.modals.last(), self.pane) {
            (Some(Modal::UserDetail { idx, .. }), _) => self.user_copy_text(*idx, id),
            (Some(Modal::GroupMembers { group, selected, .. }), _) => {
                let Some(mid) = self.groups.get(*group).and_then(|g| g.members.get(*selected)) else { return vec![] };
                match self.store.index_of(mid) {
                    Some(i) => self.user_copy_text(i, id),
                    None => ("id", mid.clone()),
                }
            }
            (Some(_), _) => return vec![],
            (None, Pane::Users) => match self.view.selected_index() {
                Some(i) => self.user_copy_text(i, id),
                None => return vec![],
            },
            (None, Pane::Groups) => match self.groups.get(self.groups_selected) {
                Some(g) => ("group id", g.id.clone()),
                None => return vec![],
            },
            (None, _) => return vec![],
        };
        if text.is_empty() {
            self.push_log(Level::Warn, format!("nothing to copy: no {what}"));
            return vec![];
        }
        self.push_log(Level::Ok, format!("copied {what} {text} to the clipboard (OSC 52)"));
        vec![Effect::Copy(text)]
    }

    fn user_copy_text(&self, idx: u32, id: bool) -> (&'static str, String) {
        let r = &self.store.rows[idx as usize];
        if id || r.email.is_empty() { ("id", r.id.to_string()) } else { ("email", r.email.to_string()) }
    }

    fn on_modal_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        if let Some(fx) = self.queue_modal_key(&k) {
            return fx;
        }
        let Some(cmd) = keys::lookup_overlay(&k) else { return vec![] };
        let page = (self.size.1 as isize / 2).max(1);
        let delta = match cmd {
            Cmd::Down => 1,
            Cmd::Up => -1,
            Cmd::PageDown => page,
            Cmd::PageUp => -page,
            Cmd::Top => isize::MIN / 2,
            Cmd::Bottom => isize::MAX / 2,
            Cmd::Back => {
                self.modals.pop();
                return vec![];
            }
            Cmd::Quit => return self.quit(),
            Cmd::Help => {
                if !matches!(self.modals.last(), Some(Modal::Help { .. })) {
                    self.modals.push(Modal::Help { scroll: 0 });
                }
                return vec![];
            }
            Cmd::CopyEmail | Cmd::CopyId => return self.copy(cmd == Cmd::CopyId),
            Cmd::Open => return self.modal_open(),
            _ => return vec![],
        };
        let members_h = super::render::members_height(self) as usize;
        let groups = &self.groups;
        match self.modals.last_mut() {
            Some(Modal::Help { scroll })
            | Some(Modal::UserDetail { scroll, .. })
            | Some(Modal::ReportDetail { scroll, .. })
            | Some(Modal::PolicyChange { scroll, .. }) => {
                *scroll = (*scroll as isize).saturating_add(delta).clamp(0, 500) as u16;
            }
            Some(Modal::GroupMembers { group, selected, offset }) => {
                let n = groups.get(*group).map_or(0, |g| g.members.len());
                if n > 0 {
                    *selected = (*selected as isize).saturating_add(delta).clamp(0, n as isize - 1) as usize;
                    *offset = visible_offset(*selected, *offset, members_h, n);
                }
            }
            Some(_) | None => {}
        }
        vec![]
    }

    fn modal_open(&mut self) -> Vec<Effect> {
        let Some(Modal::GroupMembers { group, selected, .. }) = self.modals.last() else { return vec![] };
        let Some(id) = self.groups.get(*group).and_then(|g| g.members.get(*selected)).cloned() else { return vec![] };
        match self.store.index_of(&id) {
            Some(idx) => {
                self.jump_to_row(idx);
                vec![]
            }
            None => {
                if crate::scim::types::check_id(&id).is_err() {
                    self.push_log(Level::Warn, format!("member {id} has no usable user id"));
                    return vec![];
                }
                self.fetching.insert(id.clone());
                self.push_log(Level::Info, format!("user {id} is not loaded; fetching it"));
                vec![Effect::FetchUser { id }]
            }
        }
    }

    /// Keys while the Groups filter is edited: as the Users filter, without the email lookup.
    fn on_groups_filter_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        match k.code {
            KeyCode::Esc | KeyCode::Enter => {
                if k.code == KeyCode::Esc {
                    self.set_groups_query("");
                }
                self.mode = InputMode::Normal;
                self.input = Input::new(self.view.query().to_string());
            }
            KeyCode::Up | KeyCode::Down => self.move_sel(if k.code == KeyCode::Up { -1 } else { 1 }),
            _ => {
                self.input.handle_event(&Event::Key(k));
                if self.input.value() != self.groups_query {
                    let q = self.input.value().to_string();
                    self.set_groups_query(&q);
                }
            }
        }
        vec![]
    }

    fn on_input_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        let filter = self.mode == InputMode::Filter;
        if filter && self.pane == Pane::Groups {
            return self.on_groups_filter_key(k);
        }
        match k.code {
            KeyCode::Esc => {
                self.mode = InputMode::Normal;
                self.input.reset();
                if filter {
                    self.view.set_query(&self.store, "");
                }
                return vec![];
            }
            KeyCode::Enter => {
                self.mode = InputMode::Normal;
                if filter {
                    // Keep the filter; a full email with no local match is looked up right away.
                    if let Some(email) = self.mode_query_email()
                        && self.view.filtered.is_empty()
                        && !self.not_found.contains(&email)
                    {
                        return self.start_lookup(email);
                    }
                    return vec![];
                }
                let line = self.input.value().trim().to_string();
                self.input.reset();
                if !line.is_empty() {
                    self.history.retain(|h| *h != line);
                    self.history.push(line.clone());
                    if self.history.len() > HISTORY_CAP {
                        self.history.remove(0);
                    }
                }
                return self.run_command_line(&line);
            }
            KeyCode::Up | KeyCode::Down if filter => {
                let h = self.table_rows();
                self.view.move_by(if k.code == KeyCode::Up { -1 } else { 1 }, h);
                return vec![];
            }
            KeyCode::Up | KeyCode::Down => {
                if self.history.is_empty() {
                    return vec![];
                }
                let n = self.history.len();
                let pos = match (self.history_pos, k.code) {
                    (None, KeyCode::Up) => Some(n - 1),
                    (Some(p), KeyCode::Up) => Some(p.saturating_sub(1)),
                    (Some(p), _) if p + 1 < n => Some(p + 1),
                    _ => None,
                };
                self.history_pos = pos;
                self.input = Input::new(pos.map(|p| self.history[p].clone()).unwrap_or_default());
                return vec![];
            }
            _ => {}
        }
        let before = self.input.value().len();
        let changed = self.input.handle_event(&Event::Key(k));
        if filter && (changed.is_some_and(|c| c.value) || before != self.input.value().len()) {
            return self.filter_changed();
        }
        vec![]
    }

    fn filter_changed(&mut self) -> Vec<Effect> {
        let q = self.input.value().to_string();
        self.view.set_query(&self.store, &q);
        self.lookup_gen += 1; // any pending debounce is now stale
        if let Some(email) = self.mode_query_email()
            && self.view.filtered.is_empty()
            && !self.not_found.contains(&email)
        {
            return vec![Effect::Debounce { generation: self.lookup_gen, email, after: LOOKUP_DEBOUNCE }];
        }
        vec![]
    }

    /// Run one `:` command.
    pub fn run_command_line(&mut self, line: &str) -> Vec<Effect> {
        let mut parts = line.split_whitespace();
        let Some(cmd) = parts.next() else { return vec![] };
        let arg: Vec<&str> = parts.collect();
        let arg = arg.join(" ");
        match cmd {
            "q" | "q!" | "quit" | "exit" => return self.quit(),
            "find" | "f" => {
                let email = match normalize_email(&arg) {
                    Ok(e) => e.to_lowercase(),
                    Err(e) => {
                        self.push_log(Level::Error, format!(":find {arg}: {e}"));
                        return vec![];
                    }
                };
                if let Some(idx) = self.store.find_email(&email) {
                    self.jump_to_row(idx);
                    self.push_log(Level::Ok, format!("found {email} in the loaded users"));
                    return vec![];
                }
                self.pane = Pane::Users;
                self.modals.clear();
                return self.start_lookup(email);
            }
            "theme" => {
                if arg.is_empty() {
                    let names = self.themes.names().join(", ");
                    self.push_log(Level::Info, format!("theme {}; available: {names}", self.theme.name));
                    return vec![];
                }
                match self.themes.get(&arg) {
                    Ok(t) => {
                        self.theme = t;
                        self.push_log(Level::Ok, format!("theme {arg}"));
                    }
                    Err(e) => self.push_log(Level::Error, e),
                }
            }
            "refresh" | "reload" | "r" => return self.run_cmd(Cmd::Refresh),
            "help" | "h" => self.modals.push(Modal::Help { scroll: 0 }),
            "log" => self.log_visible = !self.log_visible,
            "sort" => {
                let (col, desc) = match arg.strip_prefix('-') {
                    Some(c) => (c, true),
                    None => (arg.as_str(), false),
                };
                if col.is_empty() || col == "none" {
                    self.view.set_sort(&self.store, None, false);
                } else {
                    match Column::parse(col) {
                        Some(c) => self.view.set_sort(&self.store, Some(c), desc),
                        None => self.push_log(
                            Level::Error,
                            format!(":sort {col}: columns are name, username, email, title, department, active, id"),
                        ),
                    }
                }
            }
            "show" => match arg.as_str() {
                "all" => self.view.set_show(&self.store, Show::All),
                "active" => self.view.set_show(&self.store, Show::Active),
                "deactivated" | "inactive" => self.view.set_show(&self.store, Show::Deactivated),
                _ => self.push_log(Level::Error, ":show all|active|deactivated"),
            },
            "users" | "groups" | "policies" | "reports" => {
                self.pane = match cmd {
                    "users" => Pane::Users,
                    "groups" => Pane::Groups,
                    "policies" => Pane::Policies,
                    _ => Pane::Reports,
                }
            }
            other => self
                .push_log(Level::Error, format!(":{other}: unknown command; try find EMAIL, theme NAME, refresh, sort COL, show STATE, q")),
        }
        vec![]
    }
}

/// A complete-looking email address (`local@domain.tld`), lowercased.
pub fn looks_like_email(s: &str) -> Option<String> {
    let s = s.trim();
    let (local, domain) = s.split_once('@')?;
    if local.is_empty() || s.contains(char::is_whitespace) || domain.contains('@') {
        return None;
    }
    let (host, tld) = domain.rsplit_once('.')?;
    if host.is_empty() || tld.len() < 2 || !tld.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    normalize_email(s).ok().map(|e| e.to_lowercase())
}
