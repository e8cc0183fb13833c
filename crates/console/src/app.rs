//! The console's global state and its router.
//!
//! Everything that happens arrives as a [`Msg`] (a key, a resize, a page of users, a lookup
//! result, a log line). [`App::update`] hands it to the component it is for and returns
//! [`Effect`]s: requests for work the runtime does off the UI thread (network calls, timers, the
//! clipboard). Results come back as `Msg`s carrying the generation they were asked for; stale
//! generations are dropped. Nothing here does I/O, so the whole console can be driven and checked
//! in tests.
//!
//! The panes and overlays are components (`component.rs`): each owns its state, keymap, hint bar,
//! update and render. The app keeps only what is global (the panes in tab order, the active one,
//! the overlay stack, the Log, the command line, the status line's parts) and routes:
//!
//! - a key: Ctrl-c and Ctrl-z first (everywhere), then the command line while it is open, then
//!   the top overlay (modal: a key it ignores goes no further, except `?`), else the active pane,
//!   then the global keymap ([`GLOBAL`]);
//! - a message from the runtime: offered to the panes, then the overlays, until one takes it,
//!   then to the action queue (`queue::on_msg`);
//! - what a component asks for (`Request`): open or close overlays, focus it, tell every pane a
//!   `Note`, help, quit.

use super::component::{Binding, C, Component, Ctx, Handled, N, NAV, Note, Offer, Request, View, bind, lookup, normalize, offers};
use super::directory::Directory;
use super::queue::Queue;
use super::theme::{Theme, ThemeSet};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind};
use ratatui::layout::{Constraint, Layout, Rect};
use scim::sanitize::clean;
use std::any::Any;
use std::borrow::Cow;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

pub use super::msg::{CacheSnapshot, Effect, LOG_CAP, LOG_LEAD, Level, Log, LogEntry, Msg, Reload};
pub use super::users::LOOKUP_DEBOUNCE;
const HISTORY_CAP: usize = 100;

/// The panes, in tab order: the tab bar, `1`-`9`, Tab, `:users`..., `?` and the status line all
/// come from this list. A new pane is its own file (a [`Component`]) and one line here.
fn registry() -> Vec<Box<dyn Component>> {
    vec![
        Box::new(super::users::UsersPane::default()),
        Box::new(super::groups::GroupsPane::default()),
        Box::new(super::policies::PoliciesPane::default()),
        Box::new(super::reports::ReportsPane::default()),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputMode {
    Normal,
    /// The active pane is editing its filter.
    Filter,
    Command,
}

/// What the global keys do (after the top overlay and the active pane have passed on a key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Global {
    Next,
    Prev,
    CommandLine,
    Refresh,
    QueueView,
    Approvals,
    ToggleLog,
    LogGrow,
    LogShrink,
    LogOlder,
    LogNewer,
    Help,
    Suspend,
    Quit,
}

/// The global keymap (the digits `1`-`9` choose a pane of the registry; `Global::keys` lists
/// them too).
static GLOBAL: &[Binding<Global>] = &[
    bind!("Tab", "", "next pane", Global::Next, [(KeyCode::Tab, N)]),
    bind!("S-Tab", "", "previous pane", Global::Prev, [(KeyCode::BackTab, N)]),
    bind!(
        ":",
        "command",
        "command line: find EMAIL, theme NAME, refresh, sort COL, show STATE, q",
        Global::CommandLine,
        [(KeyCode::Char(':'), N)]
    ),
    bind!("r", "", "reload from the server", Global::Refresh, [(KeyCode::Char('r'), N)]),
    bind!(
        "Q",
        "",
        "the queue view: every operation of the current batch, progress, ETA; b lists past batches (u restores one)",
        Global::QueueView,
        [(KeyCode::Char('Q'), N)]
    ),
    bind!(
        "P",
        "",
        "the Approvals view (four-eyes): batches over the profile's approval_over waiting for another account; show, approve, reject",
        Global::Approvals,
        [(KeyCode::Char('P'), N)]
    ),
    bind!("L", "", "show / hide the Log pane", Global::ToggleLog, [(KeyCode::Char('L'), N)]),
    // Not `+`/`-`: the Groups pane adds and removes members with them (issue 12).
    bind!("}", "", "make the Log pane taller", Global::LogGrow, [(KeyCode::Char('}'), N)]),
    bind!("{", "", "make the Log pane shorter", Global::LogShrink, [(KeyCode::Char('{'), N)]),
    bind!("[", "", "scroll the Log back (older lines)", Global::LogOlder, [(KeyCode::Char('['), N)]),
    bind!("]", "", "scroll the Log forward (newer lines; at the end it follows the newest)", Global::LogNewer, [(KeyCode::Char(']'), N)]),
    bind!("?", "help", "this help: every key of where you are, then of everything else", Global::Help, [(KeyCode::Char('?'), N)]),
    bind!(
        "C-z",
        "",
        "suspend to the shell (fg resumes; where no shell can, as over ssh host scimitar, it says so)",
        Global::Suspend,
        [(KeyCode::Char('z'), C)]
    ),
    bind!("q C-c", "", "quit", Global::Quit, [(KeyCode::Char('q'), N), (KeyCode::Char('c'), C)]),
];

/// Keys of the filter and command lines (text editing is tui-input's: arrows, C-a/C-e, C-w...).
static INPUT_HELP: &[(&str, &str)] = &[
    ("Enter", "apply (filter: keep it; Users: look up a full email)"),
    ("Esc", "cancel (filter: clear it)"),
    ("↑ ↓", "filter: move the selection; command line: history"),
];

/// The `:` line.
#[derive(Debug, Default)]
struct CommandLine {
    input: Input,
    history_pos: Option<usize>,
}

/// Who made a request.
#[derive(Clone, Copy, Debug)]
enum Origin {
    App,
    Pane(usize),
    Overlay,
}

pub struct App {
    pub host: String,
    pub api: String,
    /// The registry's panes, in tab order.
    pub panes: Vec<Box<dyn Component>>,
    pub active: usize,
    /// Drawn over the panes, the last on top; the top one gets the keys.
    pub overlays: Vec<Box<dyn Component>>,
    pub dir: Directory,
    pub queue: Queue,
    pub log: Log,
    command: Option<CommandLine>,
    pub history: Vec<String>,
    pub budget: Option<f64>,
    pub theme: Theme,
    pub themes: ThemeSet,
    /// What the terminal shows (colours, UTF-8): every theme chosen is fitted to it.
    pub caps: super::theme::Caps,
    /// The journal outlives this run, so a batch stopped by quitting can be resumed (false in
    /// the demo, whose data dir is deleted when it quits).
    pub resumable: bool,
    /// Where the config, policies and database are (shown in hints; the runtime sets them).
    pub paths: provision::env::Paths,
    /// The user's home folder (`$HOME`, read by the front end): `~/` in a typed path.
    pub home: Option<std::path::PathBuf>,
    /// The editor command (`$VISUAL`, else `$EDITOR`, read by the front end; `vi` when neither).
    pub editor: Option<String>,
    pub size: (u16, u16),
    pub spinner: usize,
    pub quit: bool,
}

impl App {
    pub fn new(host: impl Into<String>, api: impl Into<String>, themes: ThemeSet, theme: Theme) -> App {
        let mut app = App {
            host: clean(&host.into()),
            api: api.into(),
            panes: registry(),
            active: 0,
            overlays: Vec::new(),
            dir: Directory::default(),
            queue: Queue::default(),
            log: Log::default(),
            command: None,
            history: Vec::new(),
            budget: None,
            theme,
            themes,
            caps: super::theme::Caps::default(),
            resumable: true,
            paths: provision::env::Paths::under(std::path::Path::new(".scimitar")),
            home: None,
            editor: None,
            size: (80, 24),
            spinner: 0,
            quit: false,
        };
        for w in app.themes.warnings.clone() {
            app.push_log(Level::Warn, w);
        }
        app
    }

    /// The effects to run when the console opens: every pane loads what it shows.
    pub fn start(&mut self) -> Vec<Effect> {
        self.broadcast(&Note::Refresh)
    }

    /// Is anything in flight that a spinner shows?
    pub fn busy(&self) -> bool {
        self.queue.running() || self.panes.iter().any(|p| p.busy()) || self.overlays.iter().any(|o| o.busy())
    }

    pub fn push_log(&mut self, level: Level, text: impl Into<String>) {
        self.log.push(level, text);
    }

    /// The pane of this type (every registered pane is there from the start).
    pub fn pane<T: Component>(&self) -> &T {
        self.panes.iter().find_map(|p| p.downcast_ref::<T>()).expect("a registered pane")
    }

    pub fn pane_mut<T: Component>(&mut self) -> &mut T {
        self.panes.iter_mut().find_map(|p| p.downcast_mut::<T>()).expect("a registered pane")
    }

    /// The top overlay, if it is a `T`.
    pub fn top<T: Component>(&self) -> Option<&T> {
        self.overlays.last().and_then(|o| o.downcast_ref::<T>())
    }

    /// The topmost open overlay of type `T`.
    pub fn overlay<T: Component>(&self) -> Option<&T> {
        self.overlays.iter().rev().find_map(|o| o.downcast_ref::<T>())
    }

    /// The active pane's title (`Users`, ...).
    pub fn pane_title(&self) -> Cow<'static, str> {
        self.panes[self.active].title()
    }

    pub fn mode(&self) -> InputMode {
        if self.command.is_some() {
            InputMode::Command
        } else if self.panes[self.active].input().is_some() {
            InputMode::Filter
        } else {
            InputMode::Normal
        }
    }

    /// The line edited at the bottom of the screen: the command line, or the active pane's filter.
    pub fn input(&self) -> Option<&Input> {
        match &self.command {
            Some(c) => Some(&c.input),
            None => self.panes[self.active].input(),
        }
    }

    /// What components draw with.
    pub fn view(&self) -> View<'_> {
        View {
            theme: &self.theme,
            dir: &self.dir,
            queue: &self.queue,
            paths: &self.paths,
            spinner: super::draw::SPINNER[self.spinner % super::draw::SPINNER.len()],
        }
    }

    /// The body of the panes on screen (the same layout the renderer uses).
    pub fn body_area(&self) -> Rect {
        areas(self, self.screen()).body
    }

    fn screen(&self) -> Rect {
        Rect::new(0, 0, self.size.0, self.size.1)
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
                self.log.width = w.saturating_sub(2);
                vec![]
            }
            Msg::Tick => {
                self.spinner = self.spinner.wrapping_add(1);
                vec![]
            }
            Msg::Budget(b) => {
                self.budget = b;
                vec![]
            }
            Msg::Log(e) => {
                self.log.push_entry(e);
                vec![]
            }
            Msg::News { text, reload } => {
                self.push_log(Level::Info, text);
                match reload {
                    Reload::Nothing => vec![],
                    Reload::All => self.broadcast(&Note::Refresh),
                    Reload::Grown => {
                        self.dir.quiet_reload = true;
                        self.broadcast(&Note::Refresh)
                    }
                    Reload::Pane(title) => {
                        let mut fx = Vec::new();
                        for i in 0..self.panes.len() {
                            if self.panes[i].title() == title {
                                let (r, reqs) = self.in_pane(i, |p, ctx| p.notify(&Note::Refresh, ctx));
                                fx.extend(r);
                                fx.extend(self.run(Origin::Pane(i), reqs));
                            }
                        }
                        fx
                    }
                }
            }
            // Others wrote to the store: an open overlay showing what the store holds (the
            // Approvals view) reads it again, then the news goes on as any other.
            Msg::StoreNews(records) => {
                let mut fx = Vec::new();
                for i in (0..self.overlays.len()).rev() {
                    let (r, reqs) = self.in_overlay(i, |o, ctx| o.store_changed(&records, ctx));
                    fx.extend(r);
                    fx.extend(self.run_overlay(i, reqs));
                }
                fx.extend(self.route_msg(Msg::StoreNews(records)));
                fx
            }
            msg => self.route_msg(msg),
        }
    }

    /// Offer a runtime result to the panes, then the overlays, then the action queue.
    #[allow(clippy::result_large_err)]
    fn route_msg(&mut self, mut msg: Msg) -> Vec<Effect> {
        for i in 0..self.panes.len() {
            let (r, reqs) = self.in_pane(i, |p, ctx| p.update(msg, ctx));
            match r {
                Ok(mut fx) => {
                    fx.extend(self.run(Origin::Pane(i), reqs));
                    return fx;
                }
                Err(m) => msg = m,
            }
        }
        for i in (0..self.overlays.len()).rev() {
            let (r, reqs) = self.in_overlay(i, |o, ctx| o.update(msg, ctx));
            match r {
                Ok(mut fx) => {
                    fx.extend(self.run_overlay(i, reqs));
                    return fx;
                }
                Err(m) => msg = m,
            }
        }
        let (r, reqs) = self.in_app(|ctx| super::queue_flow::on_msg(msg, ctx));
        let mut fx = r.unwrap_or_default();
        fx.extend(self.run(Origin::App, reqs));
        fx
    }

    /// Run `f` on pane `i` with a context over the shared state.
    fn in_pane<R>(&mut self, i: usize, f: impl FnOnce(&mut dyn Component, &mut Ctx) -> R) -> (R, Vec<Request>) {
        let area = self.body_area();
        let App { panes, dir, queue, log, paths, home, .. } = self;
        let mut ctx = Ctx::new(dir, queue, log, area, paths);
        ctx.home = home.as_deref();
        let r = f(panes[i].as_mut(), &mut ctx);
        (r, ctx.requests)
    }

    fn in_overlay<R>(&mut self, i: usize, f: impl FnOnce(&mut dyn Component, &mut Ctx) -> R) -> (R, Vec<Request>) {
        let area = self.screen();
        let App { overlays, dir, queue, log, paths, home, .. } = self;
        let mut ctx = Ctx::new(dir, queue, log, area, paths);
        ctx.home = home.as_deref();
        let r = f(overlays[i].as_mut(), &mut ctx);
        (r, ctx.requests)
    }

    fn in_app<R>(&mut self, f: impl FnOnce(&mut Ctx) -> R) -> (R, Vec<Request>) {
        let area = self.body_area();
        let App { dir, queue, log, paths, home, .. } = self;
        let mut ctx = Ctx::new(dir, queue, log, area, paths);
        ctx.home = home.as_deref();
        let r = f(&mut ctx);
        (r, ctx.requests)
    }

    /// Requests of overlay `i`: its own `Close` first (so the stack's indices hold), then the rest.
    fn run_overlay(&mut self, i: usize, mut reqs: Vec<Request>) -> Vec<Effect> {
        if reqs.iter().any(|r| matches!(r, Request::Close)) {
            self.overlays.remove(i);
            reqs.retain(|r| !matches!(r, Request::Close));
        }
        self.run(Origin::Overlay, reqs)
    }

    /// Do what a component asked, in order.
    fn run(&mut self, origin: Origin, reqs: Vec<Request>) -> Vec<Effect> {
        let mut fx = Vec::new();
        for r in reqs {
            match r {
                Request::Open(c) => self.overlays.push(c),
                Request::Close => {}
                Request::CloseAll(t) => self.overlays.retain(|o| (o.as_ref() as &dyn Any).type_id() != t),
                Request::OpenQueueView => self.overlays.push(Box::new(super::queue_view::QueueView)),
                Request::CloseQueueViews => self.overlays.retain(|o| !o.is::<super::queue_view::QueueView>()),
                Request::CloseOverlays => self.overlays.clear(),
                Request::FocusSelf => {
                    if let Origin::Pane(i) = origin {
                        fx.extend(self.focus(i));
                    }
                }
                Request::Note(n) => fx.extend(self.broadcast(&n)),
                Request::Help => self.open_help(),
                Request::Quit => fx.extend(self.quit()),
            }
        }
        fx
    }

    /// Tell every pane.
    fn broadcast(&mut self, n: &Note) -> Vec<Effect> {
        let mut fx = Vec::new();
        for i in 0..self.panes.len() {
            let (r, reqs) = self.in_pane(i, |p, ctx| p.notify(n, ctx));
            fx.extend(r);
            fx.extend(self.run(Origin::Pane(i), reqs));
        }
        fx
    }

    /// Bring pane `i` to the front; it loads what it shows the first time.
    fn focus(&mut self, i: usize) -> Vec<Effect> {
        if i == self.active || i >= self.panes.len() {
            return vec![];
        }
        self.active = i;
        let (mut fx, reqs) = self.in_pane(i, |p, ctx| p.entered(ctx));
        fx.extend(self.run(Origin::Pane(i), reqs));
        fx
    }

    fn quit(&mut self) -> Vec<Effect> {
        self.quit = true;
        vec![Effect::Quit]
    }

    /// `q` or Ctrl-c: quit, unless a batch runs and nothing asked yet: then a dialog says what
    /// quitting does to it, and stays until it is answered (`q`/Ctrl-c again quits).
    fn quit_or_ask(&mut self) -> Vec<Effect> {
        if !self.queue.running() || self.top::<super::quit::QuitGuard>().is_some() {
            return self.quit();
        }
        self.overlays.retain(|o| !o.is::<super::quit::QuitGuard>());
        self.overlays.push(Box::new(super::quit::QuitGuard { resumable: self.resumable }));
        vec![]
    }

    fn on_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        let key = normalize(&k);
        // Ctrl-c and Ctrl-z work everywhere: while typing, in overlays, in dialogs. While a batch
        // runs, Ctrl-c asks first, as `q` does (issue 25); pressed again, it quits.
        if key == (KeyCode::Char('c'), C) {
            return self.quit_or_ask();
        }
        if key == (KeyCode::Char('z'), C) {
            return vec![Effect::Suspend];
        }
        if self.command.is_some() {
            return self.command_key(k);
        }
        if let Some(i) = self.overlays.len().checked_sub(1) {
            let (h, reqs) = self.in_overlay(i, |o, ctx| o.handle_key(&k, ctx));
            let mut fx = self.run_overlay(i, reqs);
            match h {
                Handled::Consumed(more) => fx.extend(more),
                Handled::Ignored if key == (KeyCode::Char('?'), N) => self.open_help(),
                Handled::Ignored => {}
            }
            return fx;
        }
        let i = self.active;
        let (h, reqs) = self.in_pane(i, |p, ctx| p.handle_key(&k, ctx));
        let mut fx = self.run(Origin::Pane(i), reqs);
        match h {
            Handled::Consumed(more) => fx.extend(more),
            Handled::Ignored => fx.extend(self.global_key(&k)),
        }
        fx
    }

    fn global_key(&mut self, k: &KeyEvent) -> Vec<Effect> {
        if let (KeyCode::Char(c @ '1'..='9'), m) = normalize(k)
            && m == N
        {
            return self.focus(c as usize - '1' as usize);
        }
        let Some(g) = lookup(GLOBAL, k) else { return vec![] };
        let n = self.panes.len();
        match g {
            Global::Next => return self.focus((self.active + 1) % n),
            Global::Prev => return self.focus((self.active + n - 1) % n),
            Global::CommandLine => self.command = Some(CommandLine::default()),
            Global::Refresh => {
                self.push_log(Level::Info, "reloading users and groups");
                return self.broadcast(&Note::Refresh);
            }
            Global::Approvals => {
                if self.overlay::<super::approvals::Approvals>().is_none() {
                    let (view, fx) = super::approvals::Approvals::opened();
                    self.overlays.push(Box::new(view));
                    return fx;
                }
                return vec![];
            }
            Global::QueueView => {
                if self.overlay::<super::queue_view::QueueView>().is_none() {
                    self.overlays.push(Box::new(super::queue_view::QueueView));
                }
                // The list of past batches is read afresh each time the view opens.
                return vec![Effect::ListBatches];
            }
            Global::ToggleLog => self.log.visible = !self.log.visible,
            Global::LogGrow => {
                self.log.visible = true;
                self.log.height = (self.log.height + 2).min(self.size.1.saturating_sub(6).max(3));
            }
            Global::LogShrink => {
                if self.log.height <= 3 {
                    self.log.visible = false;
                } else {
                    self.log.height -= 2;
                }
            }
            Global::LogOlder | Global::LogNewer => {
                self.log.visible = true;
                let page = (self.log.height as usize).saturating_sub(3).max(1);
                self.log.scroll_by(g == Global::LogOlder, page);
            }
            Global::Help => self.open_help(),
            Global::Suspend => return vec![Effect::Suspend],
            Global::Quit => return self.quit_or_ask(),
        }
        vec![]
    }

    /// The global keys as `?` lists them (the digits from the registry).
    fn global_offers(&self) -> Vec<Offer> {
        let titles: Vec<String> = self.panes.iter().map(|p| p.title().into_owned()).collect();
        let digits =
            Offer { label: Cow::Owned(format!("1-{}", self.panes.len())), hint: "", help: Cow::Owned(titles.join(", ")), now: true };
        std::iter::once(digits).chain(offers(GLOBAL, |_| true)).collect()
    }

    /// `?`: every key of where the admin is (the overlays from the top, the pane), then movement,
    /// the global keys, the input lines, the signs the pane draws and the other panes' keys.
    fn open_help(&mut self) {
        if self.top::<super::help::Help>().is_some() {
            return;
        }
        let v = self.view();
        let mut sections: Vec<(String, Vec<Offer>)> = Vec::new();
        for o in self.overlays.iter().rev() {
            sections.push((o.title().into_owned(), o.keys(&v)));
        }
        let pane = &self.panes[self.active];
        sections.push((format!("{} pane", pane.title()), pane.keys(&v)));
        sections.push(("Moving".into(), offers(NAV, |_| true)));
        sections.push(("Everywhere".into(), self.global_offers()));
        let input = INPUT_HELP.iter().map(|(k, h)| Offer::new(k, "", h, true)).collect();
        sections.push(("Filter and command line".into(), input));
        // What the pane's signs mean, after the keys (the keys stay on the first screen).
        let signs: Vec<Offer> = pane.signs().iter().map(|(sign, what)| Offer::new(sign, "", what, true)).collect();
        if !signs.is_empty() {
            sections.push((format!("Signs in the {} pane", pane.title()), signs));
        }
        for (i, p) in self.panes.iter().enumerate() {
            if i != self.active {
                sections.push((format!("{} pane", p.title()), p.keys(&v)));
            }
        }
        let title = pane.title().into_owned();
        self.overlays.push(Box::new(super::help::Help::new(title, sections)));
    }

    fn command_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        let Some(cl) = self.command.as_mut() else { return vec![] };
        match k.code {
            KeyCode::Esc => self.command = None,
            KeyCode::Enter => {
                let line = cl.input.value().trim().to_string();
                self.command = None;
                if !line.is_empty() {
                    self.history.retain(|h| *h != line);
                    self.history.push(line.clone());
                    if self.history.len() > HISTORY_CAP {
                        self.history.remove(0);
                    }
                }
                return self.run_command_line(&line);
            }
            KeyCode::Up | KeyCode::Down => {
                if self.history.is_empty() {
                    return vec![];
                }
                let n = self.history.len();
                let pos = match (cl.history_pos, k.code) {
                    (None, KeyCode::Up) => Some(n - 1),
                    (Some(p), KeyCode::Up) => Some(p.saturating_sub(1)),
                    (Some(p), _) if p + 1 < n => Some(p + 1),
                    _ => None,
                };
                cl.history_pos = pos;
                cl.input = Input::new(pos.map(|p| self.history[p].clone()).unwrap_or_default());
            }
            _ => {
                cl.input.handle_event(&Event::Key(k));
            }
        }
        vec![]
    }

    /// Run one `:` command: the app's own, a pane's title, else the first pane that knows it.
    pub fn run_command_line(&mut self, line: &str) -> Vec<Effect> {
        let mut parts = line.split_whitespace();
        let Some(cmd) = parts.next() else { return vec![] };
        let arg: Vec<&str> = parts.collect();
        let arg = arg.join(" ");
        match cmd {
            "q" | "q!" | "quit" | "exit" => return self.quit(),
            "theme" => {
                if arg.is_empty() {
                    let names = self.themes.names().join(", ");
                    self.push_log(Level::Info, format!("theme {}; available: {names}", self.theme.name));
                    return vec![];
                }
                match self.themes.get(&arg) {
                    Ok(t) => {
                        self.theme = t.fit(self.caps);
                        self.push_log(Level::Ok, format!("theme {arg}"));
                    }
                    Err(e) => self.push_log(Level::Error, e),
                }
                return vec![];
            }
            "refresh" | "reload" | "r" => {
                self.push_log(Level::Info, "reloading users and groups");
                return self.broadcast(&Note::Refresh);
            }
            "help" | "h" => {
                self.open_help();
                return vec![];
            }
            "log" => {
                self.log.visible = !self.log.visible;
                return vec![];
            }
            _ => {}
        }
        if let Some(i) = self.panes.iter().position(|p| p.title().eq_ignore_ascii_case(cmd)) {
            return self.focus(i);
        }
        for i in 0..self.panes.len() {
            let (r, reqs) = self.in_pane(i, |p, ctx| p.command(cmd, &arg, ctx));
            if let Some(mut fx) = r {
                fx.extend(self.run(Origin::Pane(i), reqs));
                return fx;
            }
        }
        let mut known = vec!["theme NAME", "refresh"];
        for p in &self.panes {
            known.extend(p.commands());
        }
        known.push("q");
        self.push_log(Level::Error, format!(":{cmd}: unknown command; try {}", known.join(", ")));
        vec![]
    }
}

pub struct Areas {
    pub tabs: Rect,
    pub body: Rect,
    pub log: Option<Rect>,
    pub input: Option<Rect>,
    pub status: Rect,
}

pub fn areas(app: &App, area: Rect) -> Areas {
    let h = area.height;
    let input_h = u16::from(app.mode() != InputMode::Normal && h >= 4);
    let fixed = 1 + 1 + input_h; // tabs + status + input
    let room = h.saturating_sub(fixed);
    // The Log pane gives way first when the terminal is short: the table keeps at least 5 rows.
    let log_h = if app.log.visible && room >= 10 { app.log.height.clamp(3, room - 7) } else { 0 };
    let [tabs, body, log, input, status] = Layout::vertical([
        Constraint::Length(1.min(h)),
        Constraint::Fill(1),
        Constraint::Length(log_h),
        Constraint::Length(input_h),
        Constraint::Length(u16::from(h >= 2)),
    ])
    .areas(area);
    Areas {
        tabs,
        body,
        log: (log_h > 0).then_some(log),
        input: (input_h > 0).then_some(input),
        status: if h >= 2 { status } else { Rect { height: 0, ..status } },
    }
}

#[cfg(test)]
mod tests {
    //! The router and the promise of the hint bars: every key a component handles is in its
    //! keymap (so in its hint bar when it does something, and always in `?`).
    use super::*;
    use crate::tests::{app_with, screen};
    use crossterm::event::KeyModifiers;

    fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
        app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    /// Every key worth trying: the printable ASCII characters, the named keys, and Ctrl with the
    /// letters the keymaps use.
    fn every_key() -> Vec<KeyEvent> {
        let mut keys: Vec<KeyEvent> = (' '..='~').map(|c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)).collect();
        for code in [
            KeyCode::Enter,
            KeyCode::Esc,
            KeyCode::Tab,
            KeyCode::BackTab,
            KeyCode::Backspace,
            KeyCode::Left,
            KeyCode::Right,
            KeyCode::Up,
            KeyCode::Down,
            KeyCode::Home,
            KeyCode::End,
            KeyCode::PageUp,
            KeyCode::PageDown,
            KeyCode::Delete,
        ] {
            keys.push(KeyEvent::new(code, KeyModifiers::NONE));
        }
        for c in ['a', 'd', 'e', 'u', 'w'] {
            keys.push(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
        }
        keys
    }

    /// How a keymap's labels spell a key.
    fn token(k: &KeyEvent) -> String {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        match k.code {
            KeyCode::Char(' ') => "Space".into(),
            KeyCode::Char(c) if ctrl => format!("C-{c}"),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "S-Tab".into(),
            KeyCode::Backspace => "⌫".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            other => format!("{other:?}"),
        }
    }

    fn listed(offers: &[Offer], tok: &str) -> bool {
        offers.iter().any(|o| {
            o.label.split(' ').flat_map(|w| std::iter::once(w).chain(w.split('/'))).any(|w| {
                w == tok
                    || (w == "0-9" && tok.len() == 1 && tok.chars().all(|c| c.is_ascii_digit()))
                    || (w.starts_with("1-") && tok.len() == 1 && tok.chars().all(|c| ('1'..='9').contains(&c)))
            })
        })
    }

    /// For a fresh state made by `setup`, try every key on the component `at` picks out; a key it
    /// consumes must be in its keys (or movement's). Components that take typed text are skipped
    /// for the characters their help calls text.
    fn check(name: &str, setup: &dyn Fn() -> App, overlay: bool) {
        let nav = offers(NAV, |_| true);
        for k in every_key() {
            let mut app = setup();
            let (h, offered) = if overlay {
                let i = app.overlays.len() - 1;
                let offered = app.overlays[i].keys(&app.view());
                (app.in_overlay(i, |o, ctx| o.handle_key(&k, ctx)).0, offered)
            } else {
                let i = app.active;
                let offered = app.panes[i].keys(&app.view());
                (app.in_pane(i, |p, ctx| p.handle_key(&k, ctx)).0, offered)
            };
            if h == Handled::Ignored {
                continue;
            }
            let tok = token(&k);
            assert!(listed(&offered, &tok) || listed(&nav, &tok), "{name}: {tok} does something but is not in its keys: {offered:?}");
        }
    }

    #[test]
    fn every_key_a_component_handles_is_in_its_keymap() {
        use crate::panes_tests;
        let users = || app_with(30);
        let pane = |n: char| {
            move || {
                let mut a = app_with(30);
                press(&mut a, KeyCode::Char(n));
                a
            }
        };
        check("Users", &users, false);
        check("Groups", &pane('2'), false);
        check("Policies", &|| panes_tests::policies_app(panes_tests::plan(3)), false);
        check("Reports", &panes_tests::fixed_reports_app, false);
        let then = |setup: &dyn Fn() -> App, keys: &'static str| {
            let mut a = setup();
            for c in keys.chars() {
                press(&mut a, if c == '\n' { KeyCode::Enter } else { KeyCode::Char(c) });
            }
            a
        };
        check("user detail", &|| then(&users, "j\n"), true);
        check("members", &|| then(&users, "2\n"), true);
        check("help", &|| then(&users, "?"), true);
        check("confirm", &|| then(&users, "  d"), true);
        check(
            "queue view",
            &|| {
                let mut a = app_with(30);
                crate::tests::running_batch(&mut a);
                press(&mut a, KeyCode::Char('Q'));
                a
            },
            true,
        );
        check("record detail", &|| then(&panes_tests::fixed_reports_app, "j\n"), true);
        check("approvals", &crate::approvals_tests::approvals_app, true);
        check("change detail", &|| then(&|| panes_tests::policies_app(panes_tests::plan(3)), "ljj\n"), true);
        check("apply confirm", &|| then(&|| panes_tests::policies_app(panes_tests::plan(3)), "A"), true);
        check("apply confirm, typed", &|| then(&|| panes_tests::policies_app(panes_tests::plan(30)), "A"), true);
        check(
            "quit guard",
            &|| {
                let mut a = app_with(30);
                crate::tests::running_batch(&mut a);
                press(&mut a, KeyCode::Char('q'));
                a
            },
            true,
        );
        check(
            "resume",
            &|| {
                let mut a = app_with(30);
                a.update(Msg::Unfinished(vec![crate::msg::ResumeOffer {
                    batch_id: "b-1".into(),
                    description: "deactivate 2 users".into(),
                    created: "2026-11-22 10:00:00".into(),
                    open: 2,
                    total: 2,
                }]));
                a
            },
            true,
        );
        check(
            "lease held",
            &|| {
                let mut a = app_with(30);
                a.update(Msg::LeaseHeld("ann@jump1 (pid 4242, `scimitar sync --policy hr`)".into()));
                a
            },
            true,
        );
    }

    #[test]
    fn the_tab_bar_digits_tab_and_commands_come_from_the_registry() {
        let mut app = app_with(10);
        let titles: Vec<String> = app.panes.iter().map(|p| p.title().into_owned()).collect();
        assert_eq!(titles, ["Users", "Groups", "Policies", "Reports"]);
        let s = screen(&mut app, 80, 24);
        let tabs = s.lines().next().unwrap();
        for (i, t) in titles.iter().enumerate() {
            assert!(tabs.contains(&format!("{} {t}", i + 1)), "{tabs}");
        }
        press(&mut app, KeyCode::Char('9'));
        assert_eq!(app.pane_title(), "Users", "a digit past the registry does nothing");
        app.run_command_line("reports");
        assert_eq!(app.pane_title(), "Reports");
        press(&mut app, KeyCode::Tab);
        assert_eq!(app.pane_title(), "Users", "Tab wraps around");
        press(&mut app, KeyCode::BackTab);
        assert_eq!(app.pane_title(), "Reports");
    }

    #[test]
    fn a_modal_overlay_keeps_the_keys_and_question_mark_opens_help_over_it() {
        let mut app = app_with(10);
        press(&mut app, KeyCode::Enter);
        assert!(app.top::<crate::detail::UserDetail>().is_some());
        // `2` is neither the detail view's nor given to the pane or the global keys under it.
        press(&mut app, KeyCode::Char('2'));
        press(&mut app, KeyCode::Char('d'));
        assert_eq!(app.pane_title(), "Users");
        assert_eq!(app.overlays.len(), 1);
        press(&mut app, KeyCode::Char('?'));
        let help = app.top::<crate::help::Help>().expect("help over the detail view");
        let names: Vec<&str> = help.sections.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(&names[..5], ["User detail", "Users pane", "Moving", "Everywhere", "Filter and command line"]);
        assert!(names.contains(&"Groups pane") && names.contains(&"Reports pane"), "{names:?}");
        press(&mut app, KeyCode::Char('?'));
        assert_eq!(app.overlays.len(), 2, "one help at a time");
        press(&mut app, KeyCode::Esc);
        press(&mut app, KeyCode::Esc);
        assert!(app.overlays.is_empty());
        // A key the pane does not take goes to the global keymap.
        press(&mut app, KeyCode::Char('2'));
        assert_eq!(app.pane_title(), "Groups");
    }

    #[test]
    fn hint_bars_offer_the_verbs_at_80_columns() {
        // Issue 12: the Groups hint bar never listed + - R n.
        let mut app = app_with(30);
        press(&mut app, KeyCode::Char('2'));
        let s = screen(&mut app, 80, 24);
        for k in ["Enter members", "/ filter", "+ add", "- remove", "R rename", "n new", "? help"] {
            assert!(s.contains(k), "{k}:\n{s}");
        }
        press(&mut app, KeyCode::Char('1'));
        let s = screen(&mut app, 80, 24);
        for k in ["Space mark", "d deactivate", "a reactivate"] {
            assert!(s.contains(k), "{k}:\n{s}");
        }
        // Every valid key of the pane is on screen at 80 columns (a second hint line if need be).
        press(&mut app, KeyCode::Char('2'));
        let s = screen(&mut app, 80, 24);
        for k in ["y copy id", ": command"] {
            assert!(s.contains(k), "{k}:\n{s}");
        }
        press(&mut app, KeyCode::Char('1'));
        let s = screen(&mut app, 80, 24);
        for k in ["s sort", "A active/all", "V range", "* mark all", "S reverse", "y copy", "Y copy id", ": command", "? help"] {
            assert!(s.contains(k), "{k}:\n{s}");
        }
        // `u` is offered only while something is marked.
        assert!(!screen(&mut app, 200, 50).contains("u unmark"));
        press(&mut app, KeyCode::Char(' '));
        assert!(screen(&mut app, 200, 50).contains("u unmark"));
    }
}
