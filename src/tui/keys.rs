//! The keymap: one table per pane plus the global one. Key dispatch and the `?` help overlay both
//! read these tables, so the help can never disagree with what the keys do.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for, before the state decides what that means in the current pane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    Down,
    Up,
    Top,
    Bottom,
    PageDown,
    PageUp,
    Open,
    Back,
    Filter,
    CommandLine,
    Help,
    Refresh,
    Quit,
    NextPane,
    PrevPane,
    Pane(u8),
    SortNext,
    SortReverse,
    CycleShow,
    CopyEmail,
    CopyId,
    ToggleLog,
    LogGrow,
    LogShrink,
    // The action queue (see `queue.rs`).
    Mark,
    MarkRange,
    MarkAll,
    ClearMarks,
    Deactivate,
    Reactivate,
    AddMembers,
    RemoveMembers,
    RenameGroup,
    CreateGroup,
    QueueView,
    CancelQueue,
    RetryFailed,
    Export,
    Apply,
    Rerun,
    FocusLeft,
    FocusRight,
    /// Ctrl-z: give the terminal back to the shell (job control); `fg` resumes.
    Suspend,
}

pub struct Binding {
    pub keys: &'static [(KeyCode, KeyModifiers)],
    pub label: &'static str,
    pub help: &'static str,
    pub cmd: Cmd,
}

const N: KeyModifiers = KeyModifiers::NONE;
const C: KeyModifiers = KeyModifiers::CONTROL;

macro_rules! b {
    ($label:expr, $help:expr, $cmd:expr, [$($k:expr),+ $(,)?]) => {
        Binding { keys: &[$($k),+], label: $label, help: $help, cmd: $cmd }
    };
}

pub static NAV: &[Binding] = &[
    b!("j ↓", "move down", Cmd::Down, [(KeyCode::Char('j'), N), (KeyCode::Down, N)]),
    b!("k ↑", "move up", Cmd::Up, [(KeyCode::Char('k'), N), (KeyCode::Up, N)]),
    b!("g Home", "first row", Cmd::Top, [(KeyCode::Char('g'), N), (KeyCode::Home, N)]),
    b!("G End", "last row", Cmd::Bottom, [(KeyCode::Char('G'), N), (KeyCode::End, N)]),
    b!("PgDn C-d", "page down", Cmd::PageDown, [(KeyCode::PageDown, N), (KeyCode::Char('d'), C)]),
    b!("PgUp C-u", "page up", Cmd::PageUp, [(KeyCode::PageUp, N), (KeyCode::Char('u'), C)]),
];

pub static USERS: &[Binding] = &[
    b!("Enter", "open the user's detail view", Cmd::Open, [(KeyCode::Enter, N)]),
    b!("/", "filter by name, userName or email (a full email not loaded is looked up live)", Cmd::Filter, [(KeyCode::Char('/'), N)]),
    b!("Esc", "clear the filter", Cmd::Back, [(KeyCode::Esc, N)]),
    b!("s", "sort by the next column", Cmd::SortNext, [(KeyCode::Char('s'), N)]),
    b!("S", "reverse the sort order", Cmd::SortReverse, [(KeyCode::Char('S'), N)]),
    b!("A", "show all / active / deactivated", Cmd::CycleShow, [(KeyCode::Char('A'), N)]),
    b!("y", "copy the email (OSC 52)", Cmd::CopyEmail, [(KeyCode::Char('y'), N)]),
    b!("Y", "copy the id (OSC 52)", Cmd::CopyId, [(KeyCode::Char('Y'), N)]),
    b!("Space", "mark / unmark the row and move down", Cmd::Mark, [(KeyCode::Char(' '), N)]),
    b!("V", "start a range; V again marks from there to here", Cmd::MarkRange, [(KeyCode::Char('V'), N)]),
    b!("*", "mark every row matching the filter", Cmd::MarkAll, [(KeyCode::Char('*'), N)]),
    b!("u", "clear the marks (Esc too, when no filter is set)", Cmd::ClearMarks, [(KeyCode::Char('u'), N)]),
    b!("d", "deactivate the marked users (else the selected one), after a confirmation", Cmd::Deactivate, [(KeyCode::Char('d'), N)]),
    b!("a", "reactivate the marked users (else the selected one), after a confirmation", Cmd::Reactivate, [(KeyCode::Char('a'), N)]),
];

pub static GROUPS: &[Binding] = &[
    b!("Enter", "show the group's members", Cmd::Open, [(KeyCode::Enter, N)]),
    b!("/", "filter the groups by name", Cmd::Filter, [(KeyCode::Char('/'), N)]),
    b!("Esc", "clear the filter", Cmd::Back, [(KeyCode::Esc, N)]),
    b!("y", "copy the group id (OSC 52)", Cmd::CopyId, [(KeyCode::Char('y'), N)]),
    b!("+", "add the users marked in the Users pane to the group", Cmd::AddMembers, [(KeyCode::Char('+'), N)]),
    b!(
        "-",
        "remove the marked users from the group (in the members list: the selected member)",
        Cmd::RemoveMembers,
        [(KeyCode::Char('-'), N)]
    ),
    b!("R", "rename the group", Cmd::RenameGroup, [(KeyCode::Char('R'), N)]),
    b!("n", "create a group (with the marked users as members)", Cmd::CreateGroup, [(KeyCode::Char('n'), N)]),
];

pub static REPORTS: &[Binding] = &[
    b!("Enter", "open the record's detail view (every field, hash included)", Cmd::Open, [(KeyCode::Enter, N)]),
    b!("/", "edit the filters (Tab/↑↓ between fields, Enter runs the query, Esc leaves)", Cmd::Filter, [(KeyCode::Char('/'), N)]),
    b!("e", "export the records shown to a CSV file (path in the Log)", Cmd::Export, [(KeyCode::Char('e'), N)]),
    b!("r", "run the query again", Cmd::Rerun, [(KeyCode::Char('r'), N)]),
];

pub static POLICIES: &[Binding] = &[
    b!("Enter", "list: compute the policy's plan; plan: open the change", Cmd::Open, [(KeyCode::Enter, N)]),
    b!("l →", "move to the plan", Cmd::FocusRight, [(KeyCode::Char('l'), N), (KeyCode::Right, N)]),
    b!("h ← Esc", "back to the list of policies", Cmd::FocusLeft, [(KeyCode::Char('h'), N), (KeyCode::Left, N), (KeyCode::Esc, N)]),
    b!("A", "apply the plan shown (after one confirmation)", Cmd::Apply, [(KeyCode::Char('A'), N)]),
    b!("r", "read the policies again and recompute the plan", Cmd::Rerun, [(KeyCode::Char('r'), N)]),
];

pub static GLOBAL: &[Binding] = &[
    b!("1-4", "Users, Groups, Policies, Reports", Cmd::Pane(0), [(KeyCode::Char('1'), N)]),
    b!("Tab S-Tab", "next / previous pane", Cmd::NextPane, [(KeyCode::Tab, N)]),
    b!(":", "command line: find EMAIL, theme NAME, refresh, sort COL, q", Cmd::CommandLine, [(KeyCode::Char(':'), N)]),
    b!("r", "reload from the server", Cmd::Refresh, [(KeyCode::Char('r'), N)]),
    b!("Q", "the queue view: every operation of the current batch, progress, ETA", Cmd::QueueView, [(KeyCode::Char('Q'), N)]),
    b!("L", "show / hide the Log pane", Cmd::ToggleLog, [(KeyCode::Char('L'), N)]),
    b!("+ -", "make the Log pane taller / shorter", Cmd::LogGrow, [(KeyCode::Char('+'), N)]),
    b!("?", "this help", Cmd::Help, [(KeyCode::Char('?'), N)]),
    b!("C-z", "suspend to the shell (fg resumes)", Cmd::Suspend, [(KeyCode::Char('z'), C)]),
    b!("q C-c", "quit", Cmd::Quit, [(KeyCode::Char('q'), N), (KeyCode::Char('c'), C)]),
];

/// Keys not listed separately in the help (their row in GLOBAL stands for them).
static HIDDEN: &[Binding] = &[
    b!("2", "", Cmd::Pane(1), [(KeyCode::Char('2'), N)]),
    b!("3", "", Cmd::Pane(2), [(KeyCode::Char('3'), N)]),
    b!("4", "", Cmd::Pane(3), [(KeyCode::Char('4'), N)]),
    b!("S-Tab", "", Cmd::PrevPane, [(KeyCode::BackTab, N)]),
    b!("-", "", Cmd::LogShrink, [(KeyCode::Char('-'), N)]),
];

/// Keys inside an overlay (help, detail view, members list).
pub static OVERLAY: &[Binding] = &[
    b!("Esc q", "close", Cmd::Back, [(KeyCode::Esc, N), (KeyCode::Char('q'), N)]),
    b!("Enter", "open (members: jump to the user)", Cmd::Open, [(KeyCode::Enter, N)]),
    b!("y Y", "copy email / id", Cmd::CopyEmail, [(KeyCode::Char('y'), N)]),
];

/// Keys of the queue view (plus movement).
pub static QUEUE: &[Binding] = &[
    b!("x", "cancel the operations not sent yet", Cmd::CancelQueue, [(KeyCode::Char('x'), N)]),
    b!("F", "retry the failed operations", Cmd::RetryFailed, [(KeyCode::Char('F'), N)]),
    b!("Esc q Q", "close", Cmd::Back, [(KeyCode::Esc, N), (KeyCode::Char('q'), N), (KeyCode::Char('Q'), N)]),
];

/// Keys of the confirmation dialog and text prompts.
pub static CONFIRM_HELP: &[(&str, &str)] =
    &[("Enter y", "confirm (above the threshold or the ceiling: type the count, then Enter)"), ("Esc n", "cancel: nothing is done")];

/// The command for a key in the queue view.
pub fn lookup_queue(k: &KeyEvent) -> Option<Cmd> {
    find(&[QUEUE, NAV], k)
}

/// Keys of the filter and command lines (text editing is tui-input's: arrows, C-a/C-e, C-w...).
pub static INPUT_HELP: &[(&str, &str)] = &[
    ("Enter", "apply (filter: keep it and look up a full email)"),
    ("Esc", "cancel (filter: clear it)"),
    ("↑ ↓", "filter: move the selection; command line: history"),
];

/// A word for the one-line hint bar, for the commands worth a reminder.
fn short(cmd: Cmd) -> Option<&'static str> {
    Some(match cmd {
        Cmd::Open => "open",
        Cmd::Filter => "filter",
        Cmd::SortNext => "sort",
        Cmd::CycleShow => "active/all",
        Cmd::CopyEmail => "copy",
        Cmd::CopyId => "copy id",
        Cmd::Mark => "mark",
        Cmd::Deactivate => "deactivate",
        Cmd::Export => "export",
        Cmd::Apply => "apply",
        Cmd::FocusRight => "plan",
        Cmd::Rerun => "rerun",
        _ => return None,
    })
}

/// The hint bar of a pane: its own keys (from its table), then `:` and `?`, as many as fit in
/// `width` columns (`?` always stays).
pub fn hint(pane_keys: &'static [Binding], width: usize) -> String {
    let mut parts: Vec<String> = pane_keys.iter().filter_map(|b| short(b.cmd).map(|s| format!("{} {s}", b.label))).collect();
    parts.push(": command".into());
    loop {
        let mut all = parts.clone();
        all.push("? help".into());
        let text = format!(" {} ", all.join(" · "));
        if parts.is_empty() || unicode_width::UnicodeWidthStr::width(text.as_str()) <= width {
            return text;
        }
        parts.pop();
    }
}

/// Drop SHIFT from characters (it is already in the letter) and from BackTab.
fn normalize(k: &KeyEvent) -> (KeyCode, KeyModifiers) {
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

fn find(tables: &[&'static [Binding]], k: &KeyEvent) -> Option<Cmd> {
    let key = normalize(k);
    tables.iter().flat_map(|t| t.iter()).find(|b| b.keys.contains(&key)).map(|b| b.cmd)
}

/// The command for a key in a list pane (`pane_keys` first, then movement, then global keys).
pub fn lookup(pane_keys: &'static [Binding], k: &KeyEvent) -> Option<Cmd> {
    find(&[pane_keys, NAV, GLOBAL, HIDDEN], k)
}

/// The command for a key inside an overlay.
pub fn lookup_overlay(k: &KeyEvent) -> Option<Cmd> {
    let key = normalize(k);
    if key == (KeyCode::Char('Y'), N) {
        return Some(Cmd::CopyId);
    }
    if key == (KeyCode::Char('?'), N) {
        return Some(Cmd::Help);
    }
    if key == (KeyCode::Char('c'), C) {
        return Some(Cmd::Quit);
    }
    find(&[OVERLAY, NAV], k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(c, m)
    }

    #[test]
    fn lookups() {
        assert_eq!(lookup(USERS, &key(KeyCode::Char('j'), N)), Some(Cmd::Down));
        assert_eq!(lookup(USERS, &key(KeyCode::Char('G'), KeyModifiers::SHIFT)), Some(Cmd::Bottom));
        assert_eq!(lookup(USERS, &key(KeyCode::Char('D'), C)), Some(Cmd::PageDown));
        assert_eq!(lookup(USERS, &key(KeyCode::BackTab, KeyModifiers::SHIFT)), Some(Cmd::PrevPane));
        assert_eq!(lookup(USERS, &key(KeyCode::Char('3'), N)), Some(Cmd::Pane(2)));
        assert_eq!(lookup(GROUPS, &key(KeyCode::Char('y'), N)), Some(Cmd::CopyId));
        assert_eq!(lookup(USERS, &key(KeyCode::Char('x'), KeyModifiers::ALT)), None);
        assert_eq!(lookup_overlay(&key(KeyCode::Char('q'), N)), Some(Cmd::Back));
        assert_eq!(lookup(GROUPS, &key(KeyCode::Char('/'), N)), Some(Cmd::Filter));
        assert_eq!(lookup(GROUPS, &key(KeyCode::Esc, N)), Some(Cmd::Back));
        assert_eq!(hint(GROUPS, 80), " Enter open · / filter · y copy id · : command · ? help ");
        assert_eq!(hint(GROUPS, 34), " Enter open · / filter · ? help ");
        assert_eq!(hint(GROUPS, 3), " ? help ");
    }
}
