//! The console's building block. Every pane (Users, Groups, Policies, Reports) and every overlay
//! (help, confirmation, prompt, queue view, resume offer, detail views, members list, apply
//! confirmation) is a [`Component`]: it owns its state and its keymap, says which keys it offers
//! right now (that list is its hint bar and its part of `?`, so no key is undocumented), handles
//! a key and says whether it consumed it, takes the runtime's results meant for it, and draws
//! itself with a pure `render(&self)`.
//!
//! Components never reach into `App`. What several of them read (the loaded users and groups,
//! the marks, the action queue, the Log) comes in a [`Ctx`] (to change) or a [`View`] (to draw);
//! what they want from the app (open or close an overlay, bring a pane to the front, tell the
//! other panes something) they ask through the `Ctx`, and the app does it when they return.
//!
//! Routing (`App::update`): a key goes to the top overlay (overlays are modal: a key it ignores
//! stops there, except `?`), else to the active pane, else to the global keymap; a message from
//! the runtime is offered to the panes, then the overlays, until one takes it, then to the action
//! queue; a [`Note`] is told to every pane.

use super::directory::Directory;
use super::msg::{Effect, Level, Log, Msg};
use super::queue::Queue;
use super::theme::Theme;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use std::any::{Any, TypeId};
use std::borrow::Cow;
use tui_input::Input;

/// A key as keymaps spell it (SHIFT is in the letter: `G`, not SHIFT+g).
pub type KeySpec = (KeyCode, KeyModifiers);

pub const N: KeyModifiers = KeyModifiers::NONE;
pub const C: KeyModifiers = KeyModifiers::CONTROL;

/// One row of a keymap: the keys, how the hint bar (`hint`, empty: not in the bar) and the help
/// (`label`, `help`) name them, and what they do (`act`, the component's own enum).
pub struct Binding<A: 'static> {
    pub keys: &'static [KeySpec],
    pub label: &'static str,
    pub hint: &'static str,
    pub help: &'static str,
    pub act: A,
}

/// `bind!("j ↓", "", "move down", Nav::Down, [(KeyCode::Char('j'), N), (KeyCode::Down, N)])`
macro_rules! bind {
    ($label:expr, $hint:expr, $help:expr, $act:expr, [$($k:expr),+ $(,)?]) => {
        $crate::component::Binding { keys: &[$($k),+], label: $label, hint: $hint, help: $help, act: $act }
    };
}
pub(crate) use bind;

/// A key a component offers, as its hint bar and `?` show it.
#[derive(Clone, Debug, PartialEq)]
pub struct Offer {
    pub label: Cow<'static, str>,
    /// The hint bar's word; empty: listed in `?` only.
    pub hint: &'static str,
    pub help: Cow<'static, str>,
    /// It does something right now (the hint bar shows only these; `?` lists every key).
    pub now: bool,
}

/// Drop SHIFT from characters (it is already in the letter) and from BackTab; Ctrl letters are
/// lowercase.
pub fn normalize(k: &KeyEvent) -> KeySpec {
    let mut m = k.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
    if matches!(k.code, KeyCode::Char(_) | KeyCode::BackTab) {
        m -= KeyModifiers::SHIFT;
    }
    let code = match k.code {
        KeyCode::Char(c) if m.contains(KeyModifiers::CONTROL) => KeyCode::Char(c.to_ascii_lowercase()),
        c => c,
    };
    (code, m)
}

/// What a keymap says a key does.
pub fn lookup<A: Copy>(table: &[Binding<A>], k: &KeyEvent) -> Option<A> {
    let key = normalize(k);
    table.iter().find(|b| b.keys.contains(&key)).map(|b| b.act)
}

/// A keymap as offers; `now` says which acts do something in the current state.
pub fn offers<A: Copy>(table: &[Binding<A>], now: impl Fn(A) -> bool) -> Vec<Offer> {
    table.iter().map(|b| Offer { label: Cow::Borrowed(b.label), hint: b.hint, help: Cow::Borrowed(b.help), now: now(b.act) }).collect()
}

/// [`offers`] under `--read-only` (issue 25): the keys that write (`writes`) do nothing, so they
/// leave the hint bar (`now` false) and `?` says why beside them, instead of offering a key that
/// then refuses.
pub fn offers_rw<A: Copy>(table: &[Binding<A>], now: impl Fn(A) -> bool, writes: impl Fn(A) -> bool, read_only: bool) -> Vec<Offer> {
    table
        .iter()
        .map(|b| {
            let refused = read_only && writes(b.act);
            Offer {
                label: Cow::Borrowed(b.label),
                hint: b.hint,
                help: if refused { Cow::Owned(format!("{} (refused: read-only)", b.help)) } else { Cow::Borrowed(b.help) },
                now: !refused && now(b.act),
            }
        })
        .collect()
}

/// The one-line hint bar: the keys that do something now, in keymap order, then `extra` (e.g.
/// `: command`), as many as fit in `width` columns; `? help` always stays, since `?` lists every
/// key.
pub fn hint_bar(offers: &[Offer], extra: &[&str], width: usize) -> String {
    fit(offers, extra, Some("? help"), width)
}

/// Every key that does something now, in keymap order, then `extra`, then `? help`, as lines
/// of at most `width` columns: nothing is left out (issue 12: hint bars left out most action
/// keys). One line when they fit.
pub fn hint_lines(offers: &[Offer], extra: &[&str], width: usize) -> Vec<String> {
    let mut parts: Vec<String> = offers.iter().filter(|o| o.now && !o.hint.is_empty()).map(|o| format!("{} {}", o.label, o.hint)).collect();
    parts.extend(extra.iter().map(|s| s.to_string()));
    parts.push("? help".into());
    let w = |s: &str| unicode_width::UnicodeWidthStr::width(s);
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for p in parts {
        if !cur.is_empty() && w(&cur) + 3 + w(&p) + 2 > width {
            lines.push(format!(" {cur} "));
            cur.clear();
        }
        if !cur.is_empty() {
            cur.push_str(" · ");
        }
        cur.push_str(&p);
    }
    lines.push(format!(" {cur} "));
    lines
}

/// As [`hint_bar`], without `? help` (the help itself, a dialog's own line of keys).
pub fn hint_list(offers: &[Offer], width: usize) -> String {
    fit(offers, &[], None, width)
}

fn fit(offers: &[Offer], extra: &[&str], last: Option<&str>, width: usize) -> String {
    let mut parts: Vec<String> = offers.iter().filter(|o| o.now && !o.hint.is_empty()).map(|o| format!("{} {}", o.label, o.hint)).collect();
    parts.extend(extra.iter().map(|s| s.to_string()));
    loop {
        let mut all = parts.clone();
        all.extend(last.map(String::from));
        let text = format!(" {} ", all.join(" · "));
        if parts.is_empty() || unicode_width::UnicodeWidthStr::width(text.as_str()) <= width {
            return text;
        }
        // The extras go first (they are in `?`), then the last keys of the map.
        if let Some(i) = parts.iter().rposition(|p| extra.contains(&p.as_str())) {
            parts.remove(i);
        } else {
            parts.pop();
        }
    }
}

/// Movement, shared by every list and scrolling view (listed once in `?`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nav {
    Down,
    Up,
    Top,
    Bottom,
    PageDown,
    PageUp,
}

impl Nav {
    /// The change of a selection or a scroll, for a page of `page` rows.
    pub fn delta(self, page: usize) -> isize {
        let page = page.max(1) as isize;
        match self {
            Nav::Down => 1,
            Nav::Up => -1,
            Nav::PageDown => page,
            Nav::PageUp => -page,
            Nav::Top => isize::MIN / 2,
            Nav::Bottom => isize::MAX / 2,
        }
    }
}

pub static NAV: &[Binding<Nav>] = &[
    bind!("j ↓", "", "move down", Nav::Down, [(KeyCode::Char('j'), N), (KeyCode::Down, N)]),
    bind!("k ↑", "", "move up", Nav::Up, [(KeyCode::Char('k'), N), (KeyCode::Up, N)]),
    bind!("g Home", "", "first row", Nav::Top, [(KeyCode::Char('g'), N), (KeyCode::Home, N)]),
    bind!("G End", "", "last row", Nav::Bottom, [(KeyCode::Char('G'), N), (KeyCode::End, N)]),
    bind!("PgDn C-d", "", "page down", Nav::PageDown, [(KeyCode::PageDown, N), (KeyCode::Char('d'), C)]),
    bind!("PgUp C-u", "", "page up", Nav::PageUp, [(KeyCode::PageUp, N), (KeyCode::Char('u'), C)]),
];

/// A selection moved by `delta` in a list of `n` rows, clamped.
pub fn moved(selected: usize, delta: isize, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    (selected as isize).saturating_add(delta).clamp(0, n as isize - 1) as usize
}

/// The answer to a key.
#[derive(Debug, PartialEq)]
pub enum Handled {
    /// The key was this component's; these effects follow (often none).
    Consumed(Vec<Effect>),
    /// Not this component's key: the app tries the next one.
    Ignored,
}

impl Offer {
    /// A key that is not in a keymap table (typed text, digits of a count).
    pub fn new(label: &'static str, hint: &'static str, help: &'static str, now: bool) -> Offer {
        Offer { label: Cow::Borrowed(label), hint, help: Cow::Borrowed(help), now }
    }
}

impl Handled {
    pub fn done() -> Handled {
        Handled::Consumed(Vec::new())
    }
}

impl From<Vec<Effect>> for Handled {
    fn from(fx: Vec<Effect>) -> Handled {
        Handled::Consumed(fx)
    }
}

/// News that every pane hears (the app tells each in turn).
#[derive(Clone, Debug, PartialEq)]
pub enum Note {
    /// Reload from the server (`r`, `:refresh`, and once at start).
    Refresh,
    /// Select this user (a store index) in the Users pane, which comes to the front.
    ShowUser(u32),
    /// A member of a group is not loaded: fetch it, then show it.
    FetchUser(String),
    /// A finished operation left this user active (or not).
    UserActive { id: String, active: bool },
    /// A batch changed groups on the server: read them again.
    GroupsChanged,
    /// A write changed users in ways the rows cannot patch themselves (created, updated): read
    /// them again (staged, so the table never empties), so no `r` is needed to see them.
    UsersChanged,
    /// New records are in the report database.
    Reported,
    /// The apply confirmation was accepted: apply this plan (`force`: the count was typed;
    /// `operations`: the number it showed, the progress's total from the start).
    ApplyPolicy { name: String, plan: super::msg::PlanHandle, force: bool, operations: usize },
}

/// What a component asks of the app; done, in order, when it returns.
pub enum Request {
    Open(Box<dyn Component>),
    /// Close the overlay that asked.
    Close,
    /// Close every open overlay of this type.
    CloseAll(TypeId),
    /// Open the queue view (the app knows it; the dialogs that show it do not import it).
    OpenQueueView,
    /// Close every open queue view.
    CloseQueueViews,
    CloseOverlays,
    /// Bring the pane that asked to the front.
    FocusSelf,
    Note(Note),
    Help,
    Quit,
}

/// What a component may read and change while it handles a key, a message or a note.
pub struct Ctx<'a> {
    /// The loaded users and groups and the marks: what several components show.
    pub dir: &'a mut Directory,
    /// The action queue: the gate's rules, the current batch, the status line's queue summary.
    pub queue: &'a mut Queue,
    pub log: &'a mut Log,
    /// Where the component is drawn (a pane's body; the whole screen for an overlay), so paging
    /// uses the rows that are on screen.
    pub area: Rect,
    pub paths: &'a provision::env::Paths,
    /// The user's home folder, for `~/` in a typed path (`None`: `~` is taken literally).
    pub home: Option<&'a std::path::Path>,
    pub(super) requests: Vec<Request>,
}

impl<'a> Ctx<'a> {
    pub fn new(dir: &'a mut Directory, queue: &'a mut Queue, log: &'a mut Log, area: Rect, paths: &'a provision::env::Paths) -> Ctx<'a> {
        Ctx { dir, queue, log, area, paths, home: None, requests: Vec::new() }
    }

    /// A line in the Log pane (and the status line).
    pub fn log(&mut self, level: Level, text: impl Into<String>) {
        self.log.push(level, text);
    }

    /// A message in the status line only.
    pub fn flash(&mut self, level: Level, text: impl Into<String>) {
        self.log.flash = Some((level, text.into()));
        self.log.flash_logged = false;
    }

    pub fn open(&mut self, c: impl Component) {
        self.requests.push(Request::Open(Box::new(c)));
    }

    pub fn close(&mut self) {
        self.requests.push(Request::Close);
    }

    /// Open the queue view over everything (`Q`).
    pub fn open_queue_view(&mut self) {
        self.requests.push(Request::OpenQueueView);
    }

    /// Close every open queue view.
    pub fn close_queue_views(&mut self) {
        self.requests.push(Request::CloseQueueViews);
    }

    pub fn close_all<T: Component>(&mut self) {
        self.requests.push(Request::CloseAll(TypeId::of::<T>()));
    }

    pub fn close_overlays(&mut self) {
        self.requests.push(Request::CloseOverlays);
    }

    pub fn focus_self(&mut self) {
        self.requests.push(Request::FocusSelf);
    }

    pub fn note(&mut self, n: Note) {
        self.requests.push(Request::Note(n));
    }

    pub fn help(&mut self) {
        self.requests.push(Request::Help);
    }

    pub fn quit(&mut self) {
        self.requests.push(Request::Quit);
    }

    /// Close the overlays and show this user in the Users pane.
    pub fn show_user(&mut self, idx: u32) {
        self.close_overlays();
        self.note(Note::ShowUser(idx));
    }
}

/// What a component reads to draw itself (rendering is pure: no I/O, no state changes).
pub struct View<'a> {
    pub theme: &'a Theme,
    pub dir: &'a Directory,
    pub queue: &'a Queue,
    pub paths: &'a provision::env::Paths,
    /// The spinner's frame (it turns only while something is in flight).
    pub spinner: &'static str,
}

/// A pane or an overlay.
pub trait Component: Any {
    /// The tab's label (a pane) or the name of its part of `?` (an overlay).
    fn title(&self) -> Cow<'static, str>;

    /// Every key it handles, each saying whether it does something now: its hint bar and its
    /// part of `?` (movement, listed once in `?`, is left out).
    fn keys(&self, v: &View) -> Vec<Offer>;

    /// A key: `Consumed` (with effects) or `Ignored` (the app tries the next in line).
    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled;

    /// A result from the runtime. A component takes the messages it asked for and gives the
    /// others back. (A `Msg` is moved by value all along its way anyway: giving it back costs
    /// one copy of at most a few hundred bytes per component, hence the allow.)
    #[allow(clippy::result_large_err)]
    fn update(&mut self, msg: Msg, _ctx: &mut Ctx) -> Result<Vec<Effect>, Msg> {
        Err(msg)
    }

    /// News from another component (see [`Note`]).
    fn notify(&mut self, _note: &Note, _ctx: &mut Ctx) -> Vec<Effect> {
        Vec::new()
    }

    /// Records others appended to the store (`Msg::StoreNews`, from the store's watch), offered
    /// to every open overlay before the Log gets them: a view of what the store holds may read
    /// it again (the Approvals view does on an approval's event).
    fn store_changed(&mut self, _records: &[provision::report::StoredRecord], _ctx: &mut Ctx) -> Vec<Effect> {
        Vec::new()
    }

    /// A pane came to the front: load what it shows the first time.
    fn entered(&mut self, _ctx: &mut Ctx) -> Vec<Effect> {
        Vec::new()
    }

    /// A `:` command this component knows (`None`: not its command).
    fn command(&mut self, _name: &str, _arg: &str, _ctx: &mut Ctx) -> Option<Vec<Effect>> {
        None
    }

    /// The signs it draws and what they mean (`•` the plan shown, `✓` marked, ...), listed in
    /// `?` under its keys (issue 25: the policy list's `•` was explained nowhere).
    fn signs(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// Its `:` commands for the command line's help (`"sort COL"`).
    fn commands(&self) -> &'static [&'static str] {
        &[]
    }

    /// The line it is editing at the bottom of the screen (a filter), if any.
    fn input(&self) -> Option<&Input> {
        None
    }

    /// Something it started is in flight (the spinner turns).
    fn busy(&self) -> bool {
        false
    }

    /// Draw into `area` (a pane's body; the whole screen for an overlay, which places itself).
    fn render(&self, f: &mut Frame, area: Rect, v: &View);
}

impl dyn Component {
    pub fn is<T: Component>(&self) -> bool {
        (self as &dyn Any).is::<T>()
    }
    pub fn downcast_ref<T: Component>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref::<T>()
    }
    pub fn downcast_mut<T: Component>(&mut self) -> Option<&mut T> {
        (self as &mut dyn Any).downcast_mut::<T>()
    }
}

/// Put text on the clipboard, with a Log line saying what was copied.
pub fn copy(ctx: &mut super::component::Ctx, what: &str, text: String) -> Vec<super::msg::Effect> {
    use super::msg::{Effect, Level};
    if text.is_empty() {
        ctx.log(Level::Warn, format!("nothing to copy: no {what}"));
        return vec![];
    }
    ctx.log(Level::Ok, format!("copied {what} {text} to the clipboard (OSC 52)"));
    vec![Effect::Copy(text)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum A {
        Open,
        Add,
        Rename,
    }

    static MAP: &[Binding<A>] = &[
        bind!("Enter", "open", "open it", A::Open, [(KeyCode::Enter, N)]),
        bind!("+", "add", "add one", A::Add, [(KeyCode::Char('+'), N)]),
        bind!("R", "rename", "rename it", A::Rename, [(KeyCode::Char('R'), N)]),
    ];

    #[test]
    fn lookup_normalizes_shift_and_ctrl() {
        let k = |c, m| KeyEvent::new(c, m);
        assert_eq!(lookup(MAP, &k(KeyCode::Char('R'), KeyModifiers::SHIFT)), Some(A::Rename));
        assert_eq!(lookup(MAP, &k(KeyCode::Char('+'), N)), Some(A::Add));
        assert_eq!(lookup(MAP, &k(KeyCode::Char('x'), KeyModifiers::ALT)), None);
        assert_eq!(lookup(NAV, &k(KeyCode::Char('D'), C)), Some(Nav::PageDown));
        assert_eq!(lookup(NAV, &k(KeyCode::Char('G'), KeyModifiers::SHIFT)), Some(Nav::Bottom));
    }

    #[test]
    fn hint_bar_lists_what_works_now_as_many_as_fit_and_always_help() {
        let all = offers(MAP, |_| true);
        assert_eq!(hint_bar(&all, &[": command"], 80), " Enter open · + add · R rename · : command · ? help ");
        // The extra goes first, then the keymap's tail.
        assert_eq!(hint_bar(&all, &[": command"], 40), " Enter open · + add · R rename · ? help ");
        assert_eq!(hint_bar(&all, &[": command"], 30), " Enter open · + add · ? help ");
        assert_eq!(hint_bar(&all, &[], 3), " ? help ");
        let some = offers(MAP, |a| a != A::Add);
        assert_eq!(hint_bar(&some, &[], 80), " Enter open · R rename · ? help ");
    }
}
