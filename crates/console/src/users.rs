//! The Users pane: the loaded users in a virtualised table (only the visible slice becomes
//! ratatui rows), the `/` filter (a full email not loaded is looked up through SCIM after a
//! debounce), sort, the state filter, marks (Space, V, *, u) and the verbs on the marked users
//! (`d`, `a`: through the gate, `confirm::ask`). It loads the users (`Effect::LoadUsers`; a reload
//! is merged into the table page by page so it never empties) and takes the lookups' results.
//!
//! The store itself (`directory::UserStore`) is shared; what the pane owns is the view over it:
//! [`UsersView`] keeps the sort order as a `Vec<u32>` over all rows and the shown rows as a
//! filtered `Vec<u32>`; a query that contains the previous one only re-tests the rows that
//! matched before, and Backspace restores a remembered result.

use super::component::{Binding, Component, Ctx, Handled, N, NAV, Note, Offer, View, bind, hint_lines, lookup, offers_rw};
use super::directory::{Column, Directory, Query, Show, SortBy, UserRef, UserStore};
use super::draw::{MARK, block, hint_line, thousands, truncate, visible_offset};
use super::msg::{Effect, Level, Msg};
use super::theme::Theme;
use crossterm::event::{Event, KeyCode, KeyEvent};
use provision::queue::Action;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};
use scim::User;
use scim::client::normalize_email;
use scim::sanitize::clean;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

/// How long the filter must stay unchanged before a full email with no local match is looked up.
pub const LOOKUP_DEBOUNCE: Duration = Duration::from_millis(250);

/// Sort, state filter, text filter and selection over a `UserStore`.
#[derive(Default)]
pub struct UsersView {
    /// Lowercased query.
    query: String,
    /// The query parsed (plain words and `field:value` terms).
    parsed: Query,
    pub show: Show,
    pub sort: Option<Column>,
    pub descending: bool,
    /// Every store index, in sort order (load order when unsorted).
    order: Vec<u32>,
    /// The rows shown, in sort order.
    pub filtered: Vec<u32>,
    pub selected: usize,
    pub offset: usize,
    /// Earlier (query, filtered) pairs of the query being typed, each one narrower than the last,
    /// so that Backspace restores a result instead of scanning every row again. Cleared whenever
    /// the rows, the sort or the state filter change.
    undo: Vec<(String, Saved)>,
    /// Each row's manager's row (`directory::NO_ROW`: none, or not loaded): made when a large
    /// load ends and kept up to date as rows arrive, so that a `manager:` term does not wait for
    /// the whole map to be made (issue 25: 0.17 s on the keystroke at a million rows).
    managers: Option<Vec<u32>>,
    /// Rows whose manager was not loaded when they were looked up: looked up again at the end of
    /// the load, and when a `manager:` term needs them.
    unresolved: Vec<u32>,
    /// The rows of the `id:` and `manager:` terms typed so far.
    terms: super::directory::TermCache,
    /// The sort by expiry that a `guest:` filter set (and takes back when it goes).
    auto_sort: bool,
}

/// A result kept for Backspace: the rows themselves, or (for a large one) a bit per row, 32
/// times smaller, put back in sort order when it is restored.
enum Saved {
    /// Every row of `order` (nothing was filtered out).
    All,
    Rows(Vec<u32>),
    Bits(provision::directory::Bits),
}

/// From this many rows on, the manager map is made when a load ends (below, when a `manager:`
/// term first needs it: a few milliseconds); once made, it is kept as rows arrive.
const MANAGERS_AHEAD_FROM: usize = if cfg!(test) { 50 } else { 20_000 };

/// Narrowing a result this small tests its rows one by one; a larger one is found again by a
/// search of the whole table (one pass over the keys beats a test per row, fetched out of order).
/// In a table too large for the caches, each row tested costs a few cache misses (even in load
/// order: the rows left are far apart): the search of the whole table wins from a fortieth of
/// the rows on, not a quarter.
fn one_by_one(rows: usize, of: usize) -> bool {
    rows.saturating_mul(if of > 250_000 { 40 } else { 4 }) <= of
}

impl UsersView {
    pub fn query(&self) -> &str {
        &self.query
    }

    pub fn selected_index(&self) -> Option<u32> {
        self.filtered.get(self.selected).copied()
    }

    /// The parsed query (the empty-table message says why `active:maybe` matches nothing).
    pub fn parsed(&self) -> &Query {
        &self.parsed
    }

    fn sort_by(&self) -> Option<SortBy> {
        self.sort.map(Column::sort_by)
    }

    fn cmp(&self, store: &UserStore, a: u32, b: u32) -> Ordering {
        let Some(by) = self.sort_by() else { return a.cmp(&b) };
        let o = store.compare(by, a, b);
        if self.descending { o.reverse() } else { o }
    }

    /// The rows changed: what was made from them is stale.
    fn rows_changed(&mut self) {
        self.undo.clear();
        self.terms.clear();
    }

    /// The rows' contents changed (not only new rows at the end): the manager map is made
    /// again when next needed.
    fn contents_changed(&mut self) {
        self.rows_changed();
        self.managers = None;
        self.unresolved.clear();
    }

    /// The manager map over rows appended to the store since it was made (`added` keeps it so):
    /// each new row looked up (the rows whose manager is not there yet are looked up again at the
    /// end of the load, [`UsersView::settle_managers`]). A store that is not the map's plus new
    /// rows drops it.
    fn managers_grow(&mut self, store: &UserStore) {
        // (None: made when a load ends, or when a `manager:` term needs it.)
        let Some(m) = self.managers.as_mut() else { return };
        if m.len() > store.len() {
            self.managers = None;
            self.unresolved.clear();
            return;
        }
        for i in m.len()..store.len() {
            let r = store.get(i as u32);
            let id = r.manager_id();
            match store.index_of(id) {
                Some(j) => m.push(j),
                None => {
                    m.push(super::directory::NO_ROW);
                    if !id.is_empty() {
                        self.unresolved.push(i as u32);
                    }
                }
            }
        }
    }

    /// The end of a load: the manager map is made now (a large directory: on two cores, about
    /// 0.2 s at a million rows), not on a `manager:` keystroke; a map kept as rows arrived has
    /// the rows whose manager came after them looked up again.
    pub fn settle_managers(&mut self, store: &UserStore) {
        let Some(m) = self.managers.as_mut() else {
            if store.len() >= MANAGERS_AHEAD_FROM {
                self.make_managers(store);
            }
            return;
        };
        if m.len() != store.len() || self.unresolved.is_empty() {
            return;
        }
        let rows = std::mem::take(&mut self.unresolved);
        for i in rows {
            match store.index_of(store.get(i).manager_id()) {
                Some(j) => m[i as usize] = j,
                None => self.unresolved.push(i),
            }
        }
    }

    /// The whole manager map, and the rows whose manager is not loaded.
    fn make_managers(&mut self, store: &UserStore) {
        let m = super::directory::manager_rows(store);
        self.unresolved =
            (0..m.len() as u32).filter(|&i| m[i as usize] == super::directory::NO_ROW && !store.get(i).manager_id().is_empty()).collect();
        self.managers = Some(m);
    }

    /// Keep `rows` (shown for `query`) for Backspace.
    fn save(&mut self, store: &UserStore, query: String, rows: Vec<u32>) {
        let saved = if rows.len() == store.len() && rows.len() == self.order.len() {
            Saved::All
        } else if rows.len() * 32 > store.len() {
            let mut b = provision::directory::Bits::none(store.len());
            rows.iter().for_each(|&i| b.set(i));
            Saved::Bits(b)
        } else {
            Saved::Rows(rows)
        };
        self.undo.push((query, saved));
    }

    /// A kept result's rows, in sort order.
    fn restore(&self, store: &UserStore, saved: &Saved) -> Vec<u32> {
        match saved {
            Saved::All => self.order.clone(),
            Saved::Rows(r) => r.clone(),
            Saved::Bits(b) => self.in_order(store, b),
        }
    }

    /// The rows of `bits` in sort order.
    fn in_order(&self, store: &UserStore, bits: &provision::directory::Bits) -> Vec<u32> {
        let mut out = Vec::with_capacity(bits.count());
        if self.sort.is_none() && self.order.len() == store.len() {
            // Load order is row order.
            out.extend(bits.ones());
        } else {
            out.extend(self.order.iter().copied().filter(|&i| bits.get(i)));
        }
        out
    }

    /// The manager map complete, when a `manager:` term needs it: made if there is none, else
    /// the rows not found before looked up again (their managers may have come since).
    fn managers(&mut self, store: &UserStore) {
        if !self.parsed.has_manager_term() {
            return;
        }
        if self.managers.as_ref().is_some_and(|m| m.len() < store.len()) {
            self.managers_grow(store);
        }
        match self.managers.as_mut() {
            Some(m) if m.len() == store.len() => {
                if !self.unresolved.is_empty() {
                    let rows = std::mem::take(&mut self.unresolved);
                    for i in rows {
                        match store.index_of(store.get(i).manager_id()) {
                            Some(j) => m[i as usize] = j,
                            None => self.unresolved.push(i),
                        }
                    }
                }
            }
            _ => self.make_managers(store),
        }
    }

    /// The rows of `from` (in its order) that the query and the state filter admit: one by one
    /// when `from` is small, else by a search of the whole table.
    fn narrow(&mut self, store: &UserStore, from: &[u32]) -> Vec<u32> {
        self.managers(store);
        if one_by_one(from.len(), store.len()) {
            let m = self.parsed.matcher_with(store, self.managers.as_deref(), &mut self.terms);
            let show = self.show;
            return from
                .iter()
                .copied()
                .filter(|&i| {
                    let r = store.get(i);
                    show.admits(r) && m.matches(r)
                })
                .collect();
        }
        self.scan(store)
    }

    /// Every row the query and the state filter admit, in sort order.
    fn scan(&mut self, store: &UserStore) -> Vec<u32> {
        self.managers(store);
        let bits = self.parsed.matcher_with(store, self.managers.as_deref(), &mut self.terms).rows(self.show);
        self.in_order(store, &bits)
    }

    /// Set the filter (plain words and `field:value` terms, `directory::Query`). When the new
    /// query narrows the old one, only the rows that matched before are tested again (typing
    /// narrows incrementally); a Backspace back to an earlier query restores its result.
    pub fn set_query(&mut self, store: &UserStore, q: &str) {
        let q = q.trim().to_lowercase();
        if q == self.query {
            return;
        }
        let parsed = Query::parse(&q);
        if parsed == self.parsed {
            // `dept:eng ` and `dept:eng title:` ask what `dept:eng` asks.
            self.query = q;
            return;
        }
        if parsed.narrows(&self.parsed) {
            let prev_query = std::mem::replace(&mut self.query, q);
            let prev = std::mem::take(&mut self.filtered);
            self.parsed = parsed;
            self.filtered = self.narrow(store, &prev);
            self.save(store, prev_query, prev);
        } else {
            self.query = q;
            self.parsed = parsed;
            let mut restored = false;
            while let Some((cq, saved)) = self.undo.pop() {
                let old = Query::parse(&cq);
                if old == self.parsed {
                    self.filtered = match saved {
                        Saved::All => self.order.clone(),
                        Saved::Rows(r) => r,
                        Saved::Bits(b) => self.in_order(store, &b),
                    };
                    restored = true;
                    break;
                }
                if self.parsed.narrows(&old) {
                    let from = self.restore(store, &saved);
                    self.filtered = self.narrow(store, &from);
                    self.undo.push((cq, saved));
                    restored = true;
                    break;
                }
            }
            if !restored {
                self.filtered = self.scan(store);
            }
        }
        self.selected = 0;
        self.offset = 0;
        // Guests (`guest:true`, `guest:soon`) are listed by expiry, soonest first, unless the
        // admin chose a sort.
        let guests = self.parsed.terms.iter().any(|t| t.field == super::directory::Field::Guest && t.flag);
        if guests && self.sort.is_none() {
            self.set_sort(store, Some(Column::Expires), false);
            self.auto_sort = true;
        } else if !guests && self.auto_sort {
            self.set_sort(store, None, false);
        }
    }

    pub fn set_show(&mut self, store: &UserStore, show: Show) {
        let keep = self.selected_index();
        self.show = show;
        self.refilter_all(store);
        self.reselect(keep);
    }

    /// Sort every row by the column (compact keys, `UserTable::sort_rows`); descending is the
    /// ascending order reversed.
    pub fn set_sort(&mut self, store: &UserStore, sort: Option<Column>, descending: bool) {
        self.auto_sort = false;
        let keep = self.selected_index();
        let same = self.sort == sort && self.order.len() == store.len();
        self.sort = sort;
        let flip = same && sort.is_some() && self.descending != descending;
        self.descending = descending;
        if flip {
            self.order.reverse();
            self.filtered.reverse();
            self.undo.clear();
        } else if !same {
            self.resort(store);
            self.refilter_all(store);
        }
        self.reselect(keep);
    }

    /// Put `order` in the sort order (every row).
    fn resort(&mut self, store: &UserStore) {
        // What is shown is made again after this: the old lists go first (at a million rows,
        // 8 MB less held while the sort holds its keys).
        self.order = Vec::new();
        self.filtered = Vec::new();
        self.undo.clear();
        self.order = match self.sort_by() {
            Some(by) => {
                let mut order = store.sorted(by);
                if self.descending {
                    order.reverse();
                }
                order
            }
            None => (0..store.len() as u32).collect(),
        };
    }

    fn refilter_all(&mut self, store: &UserStore) {
        self.rows_changed();
        self.filtered = self.scan(store);
    }

    /// Keep the selection on the same user if it is still shown.
    fn reselect(&mut self, keep: Option<u32>) {
        if let Some(k) = keep
            && let Some(p) = self.filtered.iter().position(|&i| i == k)
        {
            self.selected = p;
            return;
        }
        self.selected = self.selected.min(self.filtered.len().saturating_sub(1));
    }

    /// Rows `added` were appended to the store (a page arrived, or a lookup found someone): they
    /// take their place in the order and, if the filter admits them, among the rows shown;
    /// the rows already there are not looked at again.
    pub fn added(&mut self, store: &UserStore, mut added: Vec<u32>) {
        if added.is_empty() {
            return;
        }
        self.rows_changed();
        self.managers_grow(store);
        self.managers(store);
        let m = self.parsed.matcher(store, self.managers.as_deref());
        let show = self.show;
        let admitted = |i: &u32| {
            let r = store.get(*i);
            show.admits(r) && m.matches(r)
        };
        if self.sort.is_none() {
            // Load order: new rows go at the end.
            self.filtered.extend(added.iter().filter(|i| admitted(i)));
            self.order.extend(added);
            return;
        }
        let keep = self.selected_index();
        if let Some(by) = self.sort_by() {
            store.sort_rows(by, &mut added);
            if self.descending {
                added.reverse();
            }
        }
        let shown: Vec<u32> = added.iter().copied().filter(admitted).collect();
        drop(m);
        let order = std::mem::take(&mut self.order);
        self.order = self.merge(store, order, &added);
        let filtered = std::mem::take(&mut self.filtered);
        self.filtered = self.merge(store, filtered, &shown);
        self.reselect(keep);
    }

    /// `old` and `new` (each in sort order) as one list in sort order: each new row's place is
    /// found by a binary search, then the lists are joined in one pass.
    fn merge(&self, store: &UserStore, old: Vec<u32>, new: &[u32]) -> Vec<u32> {
        if new.is_empty() {
            return old;
        }
        let mut out = Vec::with_capacity(old.len() + new.len());
        let mut from = 0;
        for &n in new {
            let at = from + old[from..].partition_point(|&o| self.cmp(store, o, n) != Ordering::Greater);
            out.extend_from_slice(&old[from..at]);
            out.push(n);
            from = at;
        }
        out.extend_from_slice(&old[from..]);
        out
    }

    /// A row's contents changed (a lookup returned fresher data).
    pub fn changed(&mut self, store: &UserStore) {
        let keep = self.selected_index();
        self.contents_changed();
        if self.sort.is_some() {
            self.resort(store);
        }
        self.refilter_all(store);
        self.reselect(keep);
    }

    pub fn reset(&mut self) {
        self.contents_changed();
        self.order.clear();
        self.filtered.clear();
        self.selected = 0;
        self.offset = 0;
    }

    /// Select a store row, clearing the filters that hide it. Returns false if it is unknown.
    pub fn select_row(&mut self, store: &UserStore, idx: u32) -> bool {
        if idx as usize >= store.len() {
            return false;
        }
        if !self.filtered.contains(&idx) {
            let r = store.get(idx);
            if !self.parsed.matches(r, store) {
                self.query.clear();
                self.parsed = Query::default();
            }
            if !self.show.admits(r) {
                self.show = Show::All;
            }
            self.refilter_all(store);
        }
        self.reselect(Some(idx));
        true
    }

    /// Move the selection by `delta` rows (clamped) and keep it inside a window of `height` rows.
    pub fn move_by(&mut self, delta: isize, height: usize) {
        let n = self.filtered.len();
        if n == 0 {
            self.selected = 0;
            self.offset = 0;
            return;
        }
        let s = (self.selected as isize + delta).clamp(0, n as isize - 1) as usize;
        self.selected = s;
        self.scroll_into_view(height);
    }

    pub fn scroll_into_view(&mut self, height: usize) {
        self.offset = visible_offset(self.selected, self.offset, height, self.filtered.len());
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

#[derive(Clone, Debug, Default)]
pub struct Loading {
    pub generation: u64,
    pub loaded: u64,
    pub total: Option<u64>,
    /// On a refresh each page is merged into the table on screen as it arrives (rows replaced,
    /// added, marked seen), so the table never empties and no second copy of the directory is
    /// built; users no page listed are removed at the end.
    pub refresh: Option<provision::directory::Refresh>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Open,
    Filter,
    Clear,
    Mark,
    Range,
    MarkAll,
    Unmark,
    Deactivate,
    Reactivate,
    Sort,
    Reverse,
    Show,
    Copy,
    CopyId,
    Edit,
    NewUser,
}

/// The Users pane's keys (and movement), in the order the hint bar offers them.
static KEYS: &[Binding<Act>] = &[
    bind!("Enter", "open", "open the user's detail view", Act::Open, [(KeyCode::Enter, N)]),
    bind!(
        "/",
        "filter",
        "filter by name, userName, email; field:value too (name user email title dept manager id role active guest), e.g. dept:eng active:true user:ann; guest:true or guest:soon (expiring within 30 days) lists guests by expiry",
        Act::Filter,
        [(KeyCode::Char('/'), N)]
    ),
    bind!("Esc", "clear", "clear the filter, else the marks", Act::Clear, [(KeyCode::Esc, N)]),
    bind!("Space", "mark", "mark / unmark the row and move down", Act::Mark, [(KeyCode::Char(' '), N)]),
    bind!(
        "d",
        "deactivate",
        "deactivate the marked users (else the selected one), after a confirmation",
        Act::Deactivate,
        [(KeyCode::Char('d'), N)]
    ),
    bind!(
        "a",
        "reactivate",
        "reactivate the marked users (else the selected one), after a confirmation",
        Act::Reactivate,
        [(KeyCode::Char('a'), N)]
    ),
    bind!(
        "e",
        "edit",
        "edit the selected user in the user form (the changes are shown before they are sent)",
        Act::Edit,
        [(KeyCode::Char('e'), N)]
    ),
    bind!("n", "new", "create a user in the user form", Act::NewUser, [(KeyCode::Char('n'), N)]),
    bind!("s", "sort", "sort by the next column", Act::Sort, [(KeyCode::Char('s'), N)]),
    bind!("A", "active/all", "show all / active / deactivated", Act::Show, [(KeyCode::Char('A'), N)]),
    bind!("V", "range", "start a range; V again marks from there to here", Act::Range, [(KeyCode::Char('V'), N)]),
    bind!("*", "mark all", "mark every row matching the filter", Act::MarkAll, [(KeyCode::Char('*'), N)]),
    bind!("u", "unmark", "clear the marks", Act::Unmark, [(KeyCode::Char('u'), N)]),
    bind!("S", "reverse", "reverse the sort order", Act::Reverse, [(KeyCode::Char('S'), N)]),
    bind!("y", "copy", "copy the email (OSC 52)", Act::Copy, [(KeyCode::Char('y'), N)]),
    bind!("Y", "copy id", "copy the id (OSC 52)", Act::CopyId, [(KeyCode::Char('Y'), N)]),
];

/// The Users pane.
#[derive(Default)]
pub struct UsersPane {
    pub view: UsersView,
    generation: u64,
    pub loading: Option<Loading>,
    pub error: Option<String>,
    /// Bumped by every keystroke of the filter: a debounce timer or a lookup of an older
    /// generation is stale.
    lookup_gen: u64,
    pub lookup_in_flight: Option<String>,
    /// Emails looked up through SCIM and not found (until the next reload).
    not_found: HashSet<String>,
    /// Group members being fetched by id.
    fetching: HashSet<String>,
    /// The filter line has the keys.
    editing: bool,
    input: Input,
}

/// Table rows that fit in the pane's area (borders and the header row taken off).
fn rows(area: Rect) -> usize {
    area.height.saturating_sub(3) as usize
}

impl UsersPane {
    /// Was this email looked up through SCIM and not found?
    pub fn not_found_contains(&self, email: &str) -> bool {
        self.not_found.contains(email)
    }

    /// The marked users that are loaded, else the selected one, as store indices: in table
    /// order, so the dialog's first names are the ones on screen.
    pub fn targets(&self, dir: &Directory) -> Vec<u32> {
        if dir.marks.is_empty() {
            return self.view.selected_index().into_iter().collect();
        }
        let mut idx: Vec<u32> = dir.marks.iter().filter_map(|id| dir.store.index_of(id)).collect();
        let pos: HashMap<u32, usize> = self.view.filtered.iter().enumerate().map(|(p, &i)| (i, p)).collect();
        idx.sort_by_key(|i| (pos.get(i).copied().unwrap_or(usize::MAX), *i));
        idx
    }

    fn refresh(&mut self, dir: &Directory) -> Vec<Effect> {
        self.generation += 1;
        let refresh = (!dir.store.is_empty()).then(|| provision::directory::Refresh::of(&dir.store));
        self.loading = Some(Loading { generation: self.generation, loaded: 0, total: None, refresh });
        self.error = None;
        self.not_found.clear();
        vec![Effect::LoadUsers { generation: self.generation }]
    }

    /// The end of a refresh merged page by page: remove the users no page listed (compacting
    /// the table then, or when replaced rows have left much of its arena unused), keeping sort,
    /// filters and the selected user. Returns what changed against the rows it began with.
    fn finish_refresh(&mut self, dir: &mut Directory, r: provision::directory::Refresh, rows: usize) -> super::directory::Changes {
        let removed = r.gone().count();
        if removed == 0 && dir.store.waste_bytes() <= dir.store.heap_bytes() / 4 {
            if !r.changed.is_empty() {
                self.view.changed(&dir.store);
            }
            return super::directory::Changes { added: r.added, changed: r.changed, removed };
        }
        let keep: Option<Box<str>> = self.view.selected_index().map(|i| dir.store.get(i).id().into());
        let (sort, desc, show, query) = (self.view.sort, self.view.descending, self.view.show, self.view.query().to_string());
        let changed_ids: Vec<Box<str>> = dir.changed.iter().map(|&i| dir.store.get(i).id().into()).collect();
        let compact = dir.store.without(|i| r.is_gone(i));
        dir.store = std::sync::Arc::new(compact);
        let store = &dir.store;
        dir.changed = changed_ids.iter().filter_map(|id| store.index_of(id)).collect();
        // Marks of users who are gone are dropped with them.
        dir.marks.ids.retain(|id| store.index_of(id).is_some());
        dir.marks.anchor = None;
        self.view = UsersView { show, ..UsersView::default() };
        let added = (0..dir.store.len() as u32).collect();
        self.view.added(&dir.store, added);
        if sort.is_some() {
            self.view.set_sort(&dir.store, sort, desc);
        }
        self.view.set_query(&dir.store, &query);
        if let Some(idx) = keep.and_then(|id| dir.store.index_of(&id))
            && let Some(p) = self.view.filtered.iter().position(|&i| i == idx)
        {
            self.view.selected = p;
        }
        self.view.scroll_into_view(rows);
        // The indices are the table's before compacting; only the counts are read.
        super::directory::Changes { added: r.added, changed: r.changed, removed }
    }

    fn merge_user(&mut self, dir: &mut Directory, u: User) -> u32 {
        let fields = provision::directory::UserFields::of(&u);
        if let Some(i) = dir.store.index_of(&fields.id)
            && dir.store.get(i).fields() == fields
        {
            dir.full.insert(u);
            return i;
        }
        let (idx, new) = dir.store_mut().upsert_fields(&fields).unwrap_or((u32::MAX, false));
        dir.full.insert(u);
        if idx == u32::MAX {
            return 0;
        }
        if new {
            self.view.added(&dir.store, vec![idx]);
            dir.total = Some(dir.total.unwrap_or(0).max(dir.store.len() as u64));
        } else {
            self.view.changed(&dir.store);
        }
        idx
    }

    /// Select a row (clearing filters that hide it) and come to the front.
    fn show(&mut self, ctx: &mut Ctx, idx: u32) {
        self.view.select_row(&ctx.dir.store, idx);
        if self.view.query().is_empty() {
            self.input.reset();
        }
        self.view.scroll_into_view(rows(ctx.area));
        ctx.focus_self();
    }

    fn query_email(&self) -> Option<String> {
        looks_like_email(self.view.query())
    }

    fn start_lookup(&mut self, ctx: &mut Ctx, email: String) -> Vec<Effect> {
        if self.lookup_in_flight.as_deref() == Some(email.as_str()) {
            return vec![];
        }
        self.lookup_gen += 1;
        self.lookup_in_flight = Some(email.clone());
        ctx.log(Level::Info, format!("{email} is not loaded; looking it up through SCIM"));
        vec![Effect::LookupEmail { generation: self.lookup_gen, email }]
    }

    /// Keys while the filter is edited.
    fn filter_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Vec<Effect> {
        match k.code {
            KeyCode::Esc => {
                self.editing = false;
                self.input.reset();
                self.view.set_query(&ctx.dir.store, "");
            }
            KeyCode::Enter => {
                self.editing = false;
                // Keep the filter; a full email with no local match is looked up right away.
                if let Some(email) = self.query_email()
                    && self.view.filtered.is_empty()
                    && !self.not_found.contains(&email)
                {
                    return self.start_lookup(ctx, email);
                }
            }
            KeyCode::Up | KeyCode::Down => self.view.move_by(if k.code == KeyCode::Up { -1 } else { 1 }, rows(ctx.area)),
            _ => {
                let before = self.input.value().len();
                let changed = self.input.handle_event(&Event::Key(*k));
                if changed.is_some_and(|c| c.value) || before != self.input.value().len() {
                    return self.filter_changed(ctx);
                }
            }
        }
        vec![]
    }

    fn filter_changed(&mut self, ctx: &mut Ctx) -> Vec<Effect> {
        let q = self.input.value().to_string();
        self.view.set_query(&ctx.dir.store, &q);
        self.lookup_gen += 1; // any pending debounce is now stale
        if let Some(email) = self.query_email()
            && self.view.filtered.is_empty()
            && !self.not_found.contains(&email)
        {
            return vec![Effect::Debounce { generation: self.lookup_gen, email, after: LOOKUP_DEBOUNCE }];
        }
        vec![]
    }

    fn mark_flash(ctx: &mut Ctx) {
        let n = ctx.dir.marks.len();
        ctx.flash(Level::Info, format!("{n} marked"));
    }

    fn act(&mut self, a: Act, ctx: &mut Ctx) -> Vec<Effect> {
        let rows = rows(ctx.area);
        let dir = &mut *ctx.dir;
        match a {
            Act::Open => {
                if let Some(idx) = self.view.selected_index() {
                    let d = super::detail::UserDetail::new(&dir.store, idx);
                    let id = d.id.to_string();
                    let fetch = dir.full.get(&id).is_none();
                    ctx.open(d);
                    if fetch {
                        return vec![Effect::FetchDetail { id }];
                    }
                }
            }
            Act::Filter => self.editing = true,
            Act::Clear => {
                if !self.view.query().is_empty() {
                    self.input.reset();
                    self.view.set_query(&dir.store, "");
                } else if dir.marks.anchor.is_some() && dir.marks.is_empty() {
                    dir.marks.anchor = None;
                    ctx.log(Level::Info, "range cancelled (Esc)");
                } else if !dir.marks.is_empty() {
                    return self.act(Act::Unmark, ctx);
                }
            }
            Act::Mark => {
                if let Some(i) = self.view.selected_index() {
                    let id: Box<str> = dir.store.get(i).id().into();
                    if !dir.marks.ids.remove(&id) {
                        dir.marks.ids.insert(id);
                    }
                    self.view.move_by(1, rows);
                    Self::mark_flash(ctx);
                }
            }
            Act::Range => {
                let Some(cur) = self.view.selected_index() else { return vec![] };
                match dir.marks.anchor.take() {
                    None => {
                        dir.marks.anchor = Some(cur);
                        ctx.flash(Level::Info, "range started: move, then V again to mark it");
                    }
                    Some(a) => {
                        let here = self.view.selected;
                        let there = self.view.filtered.iter().position(|&i| i == a).unwrap_or(here);
                        let (lo, hi) = (here.min(there), here.max(there));
                        for &i in &self.view.filtered[lo..=hi] {
                            dir.marks.ids.insert(dir.store.get(i).id().into());
                        }
                        Self::mark_flash(ctx);
                    }
                }
            }
            Act::MarkAll => {
                for &i in &self.view.filtered {
                    dir.marks.ids.insert(dir.store.get(i).id().into());
                }
                Self::mark_flash(ctx);
            }
            Act::Unmark => {
                // Said in the Log too: Esc clearing every mark must not go unnoticed.
                let n = dir.marks.len();
                dir.marks.clear();
                ctx.log(Level::Info, format!("cleared {} (nothing was changed)", super::draw::counted(n, "mark")));
            }
            Act::Deactivate | Act::Reactivate => return self.verb(ctx, a == Act::Reactivate),
            Act::Edit => {
                if let Some(idx) = self.view.selected_index() {
                    return super::user_form::edit_or_fetch(ctx, idx);
                }
            }
            Act::NewUser => super::user_form::open(ctx, super::user_form::UserForm::create()),
            Act::Sort => {
                let next = match self.view.sort {
                    None => Some(Column::Name),
                    Some(c) => {
                        let i = Column::ALL.iter().position(|x| *x == c).unwrap();
                        Column::ALL.get(i + 1).copied()
                    }
                };
                self.sort_to(ctx, next, false);
            }
            Act::Reverse => {
                let col = self.view.sort.or(Some(Column::Name));
                let desc = !self.view.descending;
                self.sort_to(ctx, col, desc);
            }
            Act::Show => {
                self.view.set_show(&dir.store, self.view.show.next());
                self.view.scroll_into_view(rows);
            }
            Act::Copy | Act::CopyId => {
                let Some(i) = self.view.selected_index() else { return vec![] };
                let (what, text) = dir.user_copy_text(i, a == Act::CopyId);
                return super::component::copy(ctx, what, text);
            }
        }
        vec![]
    }

    /// Sort, show the top of the new order and say what the sort is (the column may be one the
    /// table did not show before; it shows now).
    fn sort_to(&mut self, ctx: &mut Ctx, col: Option<Column>, desc: bool) {
        self.view.set_sort(&ctx.dir.store, col, desc);
        self.view.selected = 0;
        self.view.offset = 0;
        let text = match col {
            Some(c) => {
                format!("sorted by {} {} (s: next column, S: reverse)", c.header(), if desc { "▼ descending" } else { "▲ ascending" })
            }
            None => "unsorted: load order (s sorts by name)".to_string(),
        };
        ctx.log(Level::Info, text);
    }

    /// `d` / `a`: the gate decides on the targets, the dialog shows its decision.
    fn verb(&mut self, ctx: &mut Ctx, activate: bool) -> Vec<Effect> {
        let targets = self.targets(ctx.dir);
        if targets.is_empty() {
            ctx.log(Level::Warn, "no user selected");
            return vec![];
        }
        let store = &ctx.dir.store;
        let actions: Vec<Action> = targets
            .iter()
            .map(|&i| {
                let target = store.get(i).target();
                if activate { Action::Reactivate { target } } else { Action::Deactivate { target } }
            })
            .collect();
        // The loaded rows are what the gate knows: state, primary owner, bots.
        let known = store.knowledge_of(targets.iter().map(|&i| store.get(i).id()));
        let verb = if activate { "reactivate" } else { "deactivate" };
        let clears = !ctx.dir.marks.is_empty();
        super::confirm::ask(ctx, actions, &known, move |n| format!("{verb} {}", super::draw::counted(n, "user")), clears)
    }
}

impl Component for UsersPane {
    fn title(&self) -> Cow<'static, str> {
        "Users".into()
    }

    fn keys(&self, v: &View) -> Vec<Offer> {
        let selected = self.view.selected_index().is_some();
        let marks = !v.dir.marks.is_empty();
        let now = |a| match a {
            Act::Open | Act::Mark | Act::Range | Act::Copy | Act::CopyId | Act::Edit => selected,
            Act::NewUser => true,
            Act::Deactivate | Act::Reactivate => selected || marks,
            Act::MarkAll => !self.view.filtered.is_empty(),
            Act::Unmark => marks,
            Act::Clear => marks || !self.view.query().is_empty() || v.dir.marks.anchor.is_some(),
            Act::Filter | Act::Sort | Act::Reverse | Act::Show => true,
        };
        let writes = |a| matches!(a, Act::Deactivate | Act::Reactivate | Act::Edit | Act::NewUser);
        offers_rw(KEYS, now, writes, v.queue.read_only())
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        if self.editing {
            return self.filter_key(k, ctx).into();
        }
        if let Some(a) = lookup(KEYS, k) {
            return self.act(a, ctx).into();
        }
        if let Some(nav) = lookup(NAV, k) {
            let rows = rows(ctx.area);
            self.view.move_by(nav.delta(rows), rows);
            return Handled::done();
        }
        Handled::Ignored
    }

    fn update(&mut self, msg: Msg, ctx: &mut Ctx) -> Result<Vec<Effect>, Msg> {
        let dir = &mut *ctx.dir;
        match msg {
            Msg::UsersPage { generation, items, total } => {
                let Some(l) = self.loading.as_mut().filter(|l| l.generation == generation) else { return Ok(vec![]) };
                let first = l.loaded == 0;
                l.loaded += items.len() as u64;
                l.total = Some(total);
                match l.refresh.as_mut() {
                    Some(r) => {
                        // The server's count (the status line's `users 45,000/100,000`).
                        dir.total = Some(total.max(dir.store.len() as u64));
                        if first {
                            // The marks (•) are this refresh's from now on.
                            dir.changed.clear();
                        }
                        let (added, changed) = (r.added.len(), r.changed.len());
                        dir.store_mut().merge_page(&items, r);
                        for &i in &r.changed[changed..] {
                            dir.full.remove(dir.store.get(i).id());
                        }
                        if !dir.quiet_reload {
                            dir.changed.extend(r.added[added..].iter().chain(&r.changed[changed..]).copied());
                        }
                        // New rows join the view now; changed ones show their new values at
                        // once and take their place in the sort and filter at the end.
                        self.view.added(&dir.store, r.added[added..].to_vec());
                    }
                    None => {
                        dir.total = Some(total);
                        if first {
                            dir.store_mut().reserve_for(total, &items);
                        }
                        let added = dir.store_mut().extend_from(&items);
                        let replaced = added.len() < items.len();
                        self.view.added(&dir.store, added);
                        if replaced {
                            // A page listed a user again: the row's new values take their place.
                            self.view.changed(&dir.store);
                        }
                    }
                }
            }
            Msg::UsersDone { generation, error } => {
                let Some(l) = self.loading.take_if(|l| l.generation == generation) else { return Ok(vec![]) };
                if let Some(e) = error {
                    dir.quiet_reload = false;
                    self.error = Some(clean(&e));
                    // The pages merged so far stay (they are newer); nobody is removed.
                    if l.refresh.as_ref().is_some_and(|r| !r.changed.is_empty()) {
                        self.view.changed(&dir.store);
                    }
                    ctx.log(Level::Error, format!("loading users failed after {}: {e}", l.loaded));
                    return Ok(vec![]);
                }
                let was = std::mem::take(&mut dir.freshness);
                let changes = l.refresh.map(|r| self.finish_refresh(dir, r, rows(ctx.area)));
                // The manager map is made (or completed) now, not on a `manager:` keystroke.
                self.view.settle_managers(&dir.store);
                dir.total = Some(l.total.unwrap_or(l.loaded).max(dir.store.len() as u64));
                let n = thousands(dir.store.len() as u64);
                let changes = changes.filter(|_| !std::mem::take(&mut dir.quiet_reload));
                match (&was, changes) {
                    (super::directory::Freshness::Cached { fetched_at }, Some(c)) => {
                        let age = provision::directory::age_text(time::OffsetDateTime::now_utc().unix_timestamp() - fetched_at);
                        let what = if c.is_empty() {
                            "nothing changed".to_string()
                        } else {
                            format!("{} new, {} changed (marked •), {} gone", c.added.len(), c.changed.len(), c.removed)
                        };
                        ctx.log(Level::Info, format!("refreshed {n} users from Slack; since the cache of {age} ago: {what}"));
                    }
                    (_, Some(c)) if !c.is_empty() => ctx.log(
                        Level::Info,
                        format!("reloaded {n} users: {} new, {} changed (marked •), {} gone", c.added.len(), c.changed.len(), c.removed),
                    ),
                    _ => ctx.log(Level::Info, format!("loaded {n} users")),
                }
                if ctx.dir.caching {
                    return Ok(vec![Effect::SaveCache(super::msg::CacheSnapshot(ctx.dir.store.clone()))]);
                }
            }
            Msg::CacheLoaded { table, fetched_at } => {
                // Only before the first load has shown anything: live rows always win.
                if !dir.store.is_empty() || table.is_empty() {
                    return Ok(vec![]);
                }
                let n = thousands(table.len() as u64);
                dir.total = Some(table.len() as u64);
                dir.store = std::sync::Arc::new(table);
                dir.freshness = super::directory::Freshness::Cached { fetched_at };
                let added = (0..dir.store.len() as u32).collect();
                self.view.added(&dir.store, added);
                let age = provision::directory::age_text(time::OffsetDateTime::now_utc().unix_timestamp() - fetched_at);
                ctx.log(Level::Info, format!("showing {n} cached users from {age} ago; refreshing from Slack"));
            }
            Msg::DetailFetched { id, result } => {
                let edit = ctx.dir.edit_after_fetch.as_deref() == Some(id.as_str());
                if edit {
                    ctx.dir.edit_after_fetch = None;
                }
                match result {
                    Ok(u) => {
                        let idx = self.merge_user(ctx.dir, u);
                        // `e` asked for this record: the form opens on it now.
                        if edit
                            && ctx.dir.store.try_get(idx).is_some_and(|r| r.id() == id)
                            && let Some(form) = super::user_form::UserForm::edit(ctx.dir, idx)
                        {
                            super::user_form::open(ctx, form);
                        }
                    }
                    Err(e) => ctx.log(Level::Error, format!("fetching the full record of {id} failed: {e}")),
                }
            }
            Msg::EmailLookup { generation, email, result } => {
                if self.lookup_in_flight.as_deref() == Some(email.as_str()) {
                    self.lookup_in_flight = None;
                }
                if generation != self.lookup_gen {
                    return Ok(vec![]);
                }
                match result {
                    Ok(Some(u)) => {
                        ctx.log(Level::Ok, format!("found {email} through SCIM: {} ({})", u.label(), u.id()));
                        let idx = self.merge_user(ctx.dir, u);
                        self.view.select_row(&ctx.dir.store, idx);
                        if self.view.query().is_empty() {
                            self.input.reset();
                        }
                        self.view.scroll_into_view(rows(ctx.area));
                    }
                    Ok(None) => {
                        self.not_found.insert(email.clone());
                        ctx.log(Level::Warn, format!("no user with email {email} (looked up through SCIM)"));
                    }
                    Err(e) => ctx.log(Level::Error, format!("looking up {email} failed: {e}")),
                }
            }
            Msg::UserFetched { id, result } => {
                self.fetching.remove(&id);
                match result {
                    Ok(u) => {
                        let idx = self.merge_user(ctx.dir, u);
                        ctx.close_overlays();
                        self.show(ctx, idx);
                    }
                    Err(e) => ctx.log(Level::Error, format!("fetching user {id} failed: {e}")),
                }
            }
            Msg::LookupDue { generation, email } => {
                if generation != self.lookup_gen || self.query_email().as_deref() != Some(email.as_str()) {
                    return Ok(vec![]);
                }
                if !self.view.filtered.is_empty() || self.not_found.contains(&email) {
                    return Ok(vec![]);
                }
                return Ok(self.start_lookup(ctx, email));
            }
            other => return Err(other),
        }
        Ok(vec![])
    }

    fn notify(&mut self, note: &Note, ctx: &mut Ctx) -> Vec<Effect> {
        match note {
            Note::Refresh => return self.refresh(ctx.dir),
            Note::UsersChanged => {
                ctx.log(Level::Info, "reading the users again to show what was written");
                return self.refresh(ctx.dir);
            }
            Note::ShowUser(idx) => self.show(ctx, *idx),
            Note::FetchUser(id) => {
                self.fetching.insert(id.clone());
                ctx.log(Level::Info, format!("user {id} is not loaded; fetching it"));
                return vec![Effect::FetchUser { id: id.clone() }];
            }
            Note::UserActive { id, active } => {
                // A finished (de)activation shows in the loaded rows without a reload.
                let dir = &mut *ctx.dir;
                let Some(i) = dir.store.index_of(id) else { return vec![] };
                if !dir.store_mut().set_active(i, *active) {
                    return vec![];
                }
                if let Some(mut u) = dir.full.get(id).cloned() {
                    u.active = Some(*active);
                    dir.full.insert(u);
                }
                self.view.changed(&dir.store);
            }
            _ => {}
        }
        vec![]
    }

    fn command(&mut self, name: &str, arg: &str, ctx: &mut Ctx) -> Option<Vec<Effect>> {
        match name {
            "find" | "f" => {
                let email = match normalize_email(arg) {
                    Ok(e) => e.to_lowercase(),
                    Err(e) => {
                        ctx.log(Level::Error, format!(":find {arg}: {e}"));
                        return Some(vec![]);
                    }
                };
                ctx.close_overlays();
                if let Some(idx) = ctx.dir.store.find_email(&email) {
                    self.show(ctx, idx);
                    ctx.log(Level::Ok, format!("found {email} in the loaded users"));
                    return Some(vec![]);
                }
                ctx.focus_self();
                Some(self.start_lookup(ctx, email))
            }
            "sort" => {
                let (col, desc) = match arg.strip_prefix('-') {
                    Some(c) => (c, true),
                    None => (arg, false),
                };
                if col.is_empty() || col == "none" {
                    self.sort_to(ctx, None, false);
                } else {
                    match Column::parse(col) {
                        Some(c) => self.sort_to(ctx, Some(c), desc),
                        None => ctx.log(
                            Level::Error,
                            format!(":sort {col}: columns are name, username, email, title, department, active, id, roles, expires"),
                        ),
                    }
                }
                Some(vec![])
            }
            "show" => {
                match arg {
                    "all" => self.view.set_show(&ctx.dir.store, Show::All),
                    "active" => self.view.set_show(&ctx.dir.store, Show::Active),
                    "deactivated" | "inactive" => self.view.set_show(&ctx.dir.store, Show::Deactivated),
                    _ => ctx.log(Level::Error, ":show all|active|deactivated"),
                }
                Some(vec![])
            }
            _ => None,
        }
    }

    fn commands(&self) -> &'static [&'static str] {
        &["find EMAIL", "sort COL", "show STATE"]
    }

    fn input(&self) -> Option<&Input> {
        self.editing.then_some(&self.input)
    }

    fn busy(&self) -> bool {
        self.loading.is_some() || self.lookup_in_flight.is_some() || !self.fetching.is_empty()
    }

    fn signs(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("✓", "the user is marked (d, a, and the Groups pane's + - act on the marked users)"),
            ("•", "new or changed since the cached directory (the last refresh found it)"),
            ("▲ ▼", "the column the rows are sorted by, ascending or descending"),
            (">", "the selected row"),
        ]
    }

    fn render(&self, f: &mut Frame, r: Rect, v: &View) {
        let t = v.theme;
        let (store, marks) = (&v.dir.store, &v.dir.marks);
        let view = &self.view;
        let loaded = store.len() as u64;
        let mut title = vec![Span::styled(" Users ", t.title)];
        let shown = view.filtered.len() as u64;
        let counts = if shown == loaded { thousands(loaded) } else { format!("{} of {}", thousands(shown), thousands(loaded)) };
        title.push(Span::styled(format!("{counts} "), t.muted));
        if !view.query().is_empty() {
            title.push(Span::styled(format!("/{} ", clean(view.query())), t.input));
        }
        if view.show != Show::All {
            title.push(Span::styled(format!("[{}] ", view.show.label()), t.warning));
        }
        if !marks.is_empty() {
            title.push(Span::styled(format!("{} marked ", thousands(marks.len() as u64)), t.accent));
        }
        if let Some(a) = marks.anchor.filter(|_| self.view.selected_index().is_some()) {
            // A pending `V` range: where it starts (issue 12: it had no sign on screen).
            let from = store.try_get(a).map(|r| r.name().to_string()).unwrap_or_default();
            title.push(Span::styled(format!("range from {} (V marks to here) ", truncate(&from, 20)), t.warning));
        }
        if let Some(c) = view.sort {
            title.push(Span::styled(format!("sort {} {} ", c.header(), if view.descending { "▼" } else { "▲" }), t.muted));
        }
        let mut right = Vec::new();
        if let Some(l) = &self.loading {
            let total = l.total.map(thousands).unwrap_or_else(|| "?".into());
            let verb = if l.refresh.is_some() { "reloading" } else { "loading" };
            let pct = l.total.filter(|t| *t > 0).map(|t| format!(" {}%", (l.loaded * 100 / t).min(100))).unwrap_or_default();
            right.push(Span::styled(format!(" {} {verb} {}/{total}{pct} ", v.spinner, thousands(l.loaded)), t.accent));
        } else if let Some(e) = &self.error {
            right.push(Span::styled(format!(" load failed: {} ", truncate(e, 40)), t.error));
        }
        if let super::directory::Freshness::Cached { fetched_at } = v.dir.freshness {
            let age = provision::directory::age_text(time::OffsetDateTime::now_utc().unix_timestamp() - fetched_at);
            right.insert(0, Span::styled(format!(" cached {age} ago "), t.warning));
        }
        // Every key of the pane: the hint bar takes a second line (the table's last row) when
        // one is not enough.
        let mut hints = hint_lines(&self.keys(v), &[": command"], r.width.saturating_sub(4) as usize);
        let last = hints.pop().unwrap_or_default();
        let mut b = block(t, Line::from(title), true).title_bottom(hint_line(t, last));
        if !right.is_empty() {
            b = b.title_top(Line::from(right).right_aligned());
        }
        let mut inner = b.inner(r);
        f.render_widget(b, r);
        if !hints.is_empty() && inner.height > 6 {
            let n = hints.len() as u16;
            let lines: Vec<Line> = hints.into_iter().map(|h| hint_line(t, h)).collect();
            f.render_widget(Paragraph::new(lines), Rect { y: inner.bottom() - n, height: n, ..inner });
            inner.height -= n;
        }
        if inner.height == 0 || inner.width == 0 {
            return;
        }

        let cols = user_columns(r.width, view.sort);
        let header = Row::new(cols.iter().map(|(c, _)| {
            let mut h = c.header().to_string();
            if view.sort == Some(*c) {
                h.push_str(if view.descending { " ▼" } else { " ▲" });
            }
            Cell::from(h)
        }))
        .style(t.header);

        let height = inner.height.saturating_sub(1) as usize;
        let marking = !marks.is_empty();
        // While anything is marked, a one-column marker leads each row (`✓`: readable without colour).
        let widths: Vec<Constraint> = marking.then_some(Constraint::Length(1)).into_iter().chain(cols.iter().map(|(_, c)| *c)).collect();
        let header = if marking { header_with_marker(&cols, view, t) } else { header };
        if view.filtered.is_empty() {
            // The same columns and the same room for the selection marker as with rows: the
            // header does not move when nothing matches (issue 25).
            let table = Table::new(Vec::<Row>::new(), widths)
                .header(header)
                .column_spacing(1)
                .highlight_symbol(MARK)
                .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
            f.render_widget(table, inner);
            let msg = self.empty_message(v);
            let area = Rect { y: inner.y + 1, height: inner.height.saturating_sub(1), ..inner };
            f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
            return;
        }
        let off = visible_offset(view.selected, view.offset, height, view.filtered.len());
        let end = (off + height).min(view.filtered.len());
        let rows = view.filtered[off..end].iter().map(|&i| {
            let r = store.get(i);
            user_row(r, &cols, t, marking.then(|| marks.contains(r.id())), v.dir.changed.contains(&i))
        });
        let mut state = TableState::new().with_selected(Some(view.selected - off));
        let table = Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .row_highlight_style(t.selected)
            .highlight_symbol(MARK)
            .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
        f.render_stateful_widget(table, inner, &mut state);
    }
}

impl UsersPane {
    fn empty_message(&self, v: &View) -> Text<'static> {
        let t = v.theme;
        let q = clean(self.view.query());
        if v.dir.store.is_empty() {
            if self.loading.is_some() {
                return Text::styled(format!("  {} loading users…", v.spinner), t.muted);
            }
            if let Some(e) = &self.error {
                return Text::from(vec![
                    Line::styled(format!("  Could not load users: {e}"), t.error),
                    Line::styled("  Press r to retry, : then `find EMAIL` to look one user up.", t.muted),
                ]);
            }
            return Text::styled("  No users.", t.muted);
        }
        let mut lines = vec![Line::styled(
            if q.is_empty() {
                format!("  No {} users. Press A to change which users are shown.", self.view.show.label())
            } else if let Some(e) = &self.view.parsed().error {
                let fields: Vec<&str> = super::directory::Field::NAMES.iter().map(|(n, _)| *n).collect();
                format!("  {}. Fields: {}.", clean(e), fields.join(" "))
            } else {
                format!("  No loaded user matches \"{q}\".")
            },
            t.muted,
        )];
        if let Some(e) = &self.lookup_in_flight {
            lines.push(Line::styled(format!("  {} looking up {e} through SCIM…", v.spinner), t.accent));
        } else if let Some(e) = looks_like_email(&q) {
            if self.not_found.contains(&e) {
                lines.push(Line::styled(format!("  {e} does not exist in SCIM either."), t.warning));
            } else {
                lines.push(Line::styled("  Press Enter to look this email up through SCIM.", t.muted));
            }
        } else if !q.is_empty() {
            lines.push(Line::styled("  Type a full email to look it up through SCIM, or Esc to clear.", t.muted));
        }
        Text::from(lines)
    }
}

/// The columns that fit in `width`, in display order, with their constraints.
/// The sorted column is always among them (issue 12: `s` sorted by columns not on screen).
pub fn user_columns(width: u16, sort: Option<Column>) -> Vec<(Column, Constraint)> {
    // Priority order and the narrowest each column is still useful at.
    let prio = [
        (Column::Name, 16),
        (Column::Email, 26),
        (Column::Active, 6),
        (Column::UserName, 16),
        (Column::Department, 14),
        (Column::Title, 16),
        (Column::Id, 11),
        (Column::Roles, 14),
    ];
    let avail = width.saturating_sub(2 + MARK.len() as u16) as u32;
    let mut used = 0u32;
    let mut keep = Vec::new();
    // The sorted column takes its room first; the others follow in priority order.
    // The Expires column shows only while the rows are sorted by it (a `guest:` filter does).
    let first = sort.and_then(|s| prio.iter().find(|(c, _)| *c == s).copied().or((s == Column::Expires).then_some((Column::Expires, 18))));
    for (c, min) in first.into_iter().chain(prio.into_iter().filter(|(c, _)| Some(*c) != sort)) {
        if used + min + 1 > avail && !keep.is_empty() {
            break;
        }
        used += min + 1;
        keep.push(c);
    }
    Column::ALL
        .into_iter()
        .filter(|c| keep.contains(c))
        .map(|c| {
            let cons = match c {
                Column::Active => Constraint::Length(6),
                Column::Id => Constraint::Length(11),
                Column::Name => Constraint::Fill(4),
                Column::UserName => Constraint::Fill(3),
                Column::Email => Constraint::Fill(7),
                Column::Title => Constraint::Fill(4),
                Column::Department => Constraint::Fill(3),
                Column::Roles => Constraint::Fill(2),
                Column::Expires => Constraint::Length(18),
            };
            (c, cons)
        })
        .collect()
}

fn user_row<'a>(r: UserRef<'a>, cols: &[(Column, Constraint)], t: &Theme, marked: Option<bool>, changed: bool) -> Row<'a> {
    let mark = marked.map(|m| Cell::from(if m { "✓" } else { " " }));
    let row = Row::new(mark.into_iter().chain(cols.iter().enumerate().map(|(n, (c, _))| {
        // A row the last refresh found new or changed against the cache leads with `•`.
        if n == 0 && changed { Cell::from(format!("• {}", c.cell(r))) } else { Cell::from(c.cell(r)) }
    })));
    let row = if r.active() { row } else { row.style(t.inactive) };
    if marked == Some(true) { row.style(if r.active() { t.accent } else { t.inactive }.add_modifier(Modifier::BOLD)) } else { row }
}

fn header_with_marker<'a>(cols: &[(Column, Constraint)], v: &UsersView, t: &Theme) -> Row<'a> {
    Row::new(std::iter::once(Cell::from("✓")).chain(cols.iter().map(|(c, _)| {
        let mut h = c.header().to_string();
        if v.sort == Some(*c) {
            h.push_str(if v.descending { " ▼" } else { " ▲" });
        }
        Cell::from(h)
    })))
    .style(t.header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::tests::user;
    use crate::draw::visible_offset;

    fn store() -> UserStore {
        let mut s = UserStore::default();
        s.extend_users(vec![user(1, "Zoe Adams", true), user(2, "Ann Lee", false), user(3, "Bob Annis", true), user(4, "Carl Zed", true)]);
        s
    }

    #[test]
    fn filter_narrows_and_widens() {
        let s = store();
        let mut v = UsersView::default();
        v.added(&s, (0..4).collect());
        assert_eq!(v.filtered, vec![0, 1, 2, 3]);
        v.set_query(&s, "an");
        assert_eq!(v.filtered, vec![1, 2]);
        v.set_query(&s, "ann");
        assert_eq!(v.filtered, vec![1, 2]);
        v.set_query(&s, "ann.");
        assert_eq!(v.filtered, vec![1]);
        v.set_query(&s, "z");
        assert_eq!(v.filtered, vec![0, 3]);
        v.set_query(&s, "");
        assert_eq!(v.filtered.len(), 4);
        v.set_query(&s, "CARL.ZED@");
        assert_eq!(v.filtered, vec![3]);
    }

    #[test]
    fn backspace_restores_earlier_results() {
        let mut s = store();
        let mut v = UsersView::default();
        v.added(&s, (0..4).collect());
        for q in ["a", "an", "ann", "ann."] {
            v.set_query(&s, q);
        }
        assert_eq!(v.filtered, vec![1]);
        v.set_query(&s, "ann");
        assert_eq!(v.filtered, vec![1, 2]);
        v.set_query(&s, "an");
        assert_eq!(v.filtered, vec![1, 2]);
        v.set_query(&s, "anni"); // narrower than a remembered query
        assert_eq!(v.filtered, vec![2]);
        v.set_query(&s, "a");
        assert_eq!(v.filtered, vec![0, 1, 2, 3]);
        v.set_query(&s, "ada"); // "ada" contains "a": narrows from it
        assert_eq!(v.filtered, vec![0]);
        v.set_query(&s, "zed");
        assert_eq!(v.filtered, vec![3]);
        // New rows make remembered results stale.
        v.set_query(&s, "d");
        v.set_query(&s, "do");
        let added = s.extend_users(vec![user(5, "Dora Quinn", true)]);
        v.added(&s, added);
        v.set_query(&s, "d");
        assert!(v.filtered.contains(&4), "{:?}", v.filtered);
        v.set_query(&s, "");
        assert_eq!(v.filtered.len(), 5);
    }

    /// What the view shows, worked out the slow way: every row tested, then sorted.
    fn brute(s: &UserStore, v: &UsersView) -> Vec<u32> {
        let q = Query::parse(v.query());
        let managers = crate::directory::manager_rows(s);
        let m = q.matcher(s, Some(&managers));
        let mut rows: Vec<u32> = s.iter().filter(|r| v.show.admits(*r) && m.matches(*r)).map(|r| r.index()).collect();
        if let Some(c) = v.sort {
            rows.sort_by(|&a, &b| s.compare(c.sort_by(), a, b));
            if v.descending {
                rows.reverse();
            }
        }
        rows
    }

    #[test]
    fn typing_sorting_and_loading_show_what_a_full_scan_shows() {
        use scim::types::{EnterpriseUser, Manager};
        let first = ["Ann", "Bob", "Carl", "Dora", "Eve", "Zoe", "Maria", "Mateo"];
        let last = ["Lee", "Adams", "Zed", "Quinn", "Ortiz", "Annis"];
        let users: Vec<User> = (0..3000)
            .map(|i| {
                let mut u = user(i, &format!("{} {}", first[i % 8], last[(i / 8) % 6]), i % 7 != 0);
                u.title = Some(["Engineer", "Staff Engineer", "Manager"][i % 3].into());
                u.enterprise = Some(EnterpriseUser {
                    department: Some(["Sales", "Engineering"][i % 2].into()),
                    manager: Some(Manager::of(format!("W{:06}", (i * 7) % 3000))),
                    ..Default::default()
                });
                u
            })
            .collect();
        let mut s = UserStore::default();
        let mut v = UsersView::default();
        // Loaded page by page while sorted by name, descending.
        v.set_sort(&s, Some(Column::Name), true);
        for page in users.chunks(500) {
            let added = s.extend_users(page.to_vec());
            v.added(&s, added);
            assert_eq!(v.filtered, brute(&s, &v));
        }
        let typed = [
            "a",
            "an",
            "ann",
            "ann ",
            "ann l",
            "ann",
            "a",
            "",
            "z",
            "zo",
            "zoe.",
            "",
            "title:staff",
            "title:staff active:true",
            "manager:maria",
            "manager:maria dept:eng",
            "manager:mari",
            "",
            "@ex",
            "e@example.c",
        ];
        for sort in [None, Some(Column::Name), Some(Column::Email), Some(Column::Title)] {
            for desc in [false, true] {
                v.set_sort(&s, sort, desc);
                for q in typed {
                    v.set_query(&s, q);
                    let want = brute(&s, &v);
                    assert!(v.filtered == want, "{sort:?} {desc} {q:?}: {} rows shown, {} expected", v.filtered.len(), want.len());
                }
                v.set_show(&s, Show::Deactivated);
                v.set_query(&s, "an");
                assert_eq!(v.filtered, brute(&s, &v));
                v.set_show(&s, Show::All);
                v.set_query(&s, "");
            }
        }
    }

    /// Issue 25: the manager map is kept as pages arrive (looked up row by row then, the rows
    /// whose manager comes later looked up again), so a `manager:` term after a large load
    /// finds it made, and right.
    #[test]
    fn the_manager_map_is_kept_as_pages_arrive() {
        use scim::types::{EnterpriseUser, Manager};
        let n = 3000;
        let users: Vec<User> = (0..n)
            .map(|i| {
                let mut u = user(i, &format!("Person {i}"), true);
                // Managed by a later row (not there yet when this one arrives), every tenth by
                // someone never loaded.
                let m = if i % 10 == 0 { "W999999".to_string() } else { format!("W{:06}", (i + 700) % n) };
                u.enterprise = Some(EnterpriseUser { manager: Some(Manager::of(m)), ..Default::default() });
                u
            })
            .collect();
        let mut s = UserStore::default();
        let mut v = UsersView::default();
        let (first, rest) = users.split_at(2000);
        for page in first.chunks(250) {
            let added = s.extend_users(page.to_vec());
            v.added(&s, added);
        }
        // The end of a load makes the map (not a `manager:` keystroke).
        assert!(v.managers.is_none());
        v.settle_managers(&s);
        assert_eq!(v.managers.as_ref(), Some(&crate::directory::manager_rows(&s)));
        // Then it is kept as rows arrive, the rows whose manager came after them looked up
        // again at the end of the next load.
        for page in rest.chunks(250) {
            let added = s.extend_users(page.to_vec());
            v.added(&s, added);
            assert_eq!(v.managers.as_ref().map(Vec::len), Some(s.len()), "kept as rows arrive");
        }
        let full = crate::directory::manager_rows(&s);
        assert_ne!(v.managers.as_ref(), Some(&full));
        v.settle_managers(&s);
        assert_eq!(v.managers.as_ref(), Some(&full));
        assert_eq!(v.unresolved.len(), n / 10, "only the managers never loaded stay unfound");
        v.set_query(&s, "manager:person 1");
        assert_eq!(v.managers.as_ref(), Some(&full));
        let never: Vec<u32> = (0..n as u32).filter(|i| i % 10 == 0).collect();
        let mut unresolved = v.unresolved.clone();
        unresolved.sort_unstable();
        assert_eq!(unresolved, never, "only the managers never loaded stay unfound");
        assert_eq!(v.filtered, brute(&s, &v));
        // A row's contents changing drops the map; the next `manager:` term makes it again.
        v.set_query(&s, "");
        v.changed(&s);
        assert!(v.managers.is_none());
        v.set_query(&s, "manager:person 2");
        assert_eq!(v.managers.as_ref(), Some(&full));
        assert_eq!(v.filtered, brute(&s, &v));
    }

    #[test]
    fn sort_show_and_merge_keep_selection() {
        let mut s = store();
        let mut v = UsersView::default();
        v.added(&s, (0..4).collect());
        v.set_sort(&s, Some(Column::Name), false);
        assert_eq!(v.filtered, vec![1, 2, 3, 0]);
        v.selected = 2; // Carl
        v.set_sort(&s, Some(Column::Name), true);
        assert_eq!(v.filtered, vec![0, 3, 2, 1]);
        assert_eq!(v.selected_index(), Some(3));
        v.set_show(&s, Show::Deactivated);
        assert_eq!(v.filtered, vec![1]);
        v.set_show(&s, Show::Active);
        assert_eq!(v.filtered, vec![0, 3, 2]);
        assert_eq!(v.selected_index(), Some(0)); // Ann is not shown any more: back to the top
        v.selected = 1;
        let added = s.extend_users(vec![user(5, "Dora Quinn", true), user(1, "Zoe Adams", false)]);
        assert_eq!(added, vec![4]);
        v.added(&s, added);
        assert_eq!(v.filtered, vec![0, 4, 3, 2], "a new row takes its place; the others are not looked at again");
        // A replaced row is told apart (as `merge_user` and a page that replaces rows do).
        v.changed(&s);
        assert_eq!(v.filtered, vec![4, 3, 2]); // Zoe now deactivated; still sorted descending
        assert_eq!(v.selected_index(), Some(3));
    }

    #[test]
    fn select_row_clears_hiding_filters() {
        let s = store();
        let mut v = UsersView::default();
        v.added(&s, (0..4).collect());
        v.set_show(&s, Show::Active);
        v.set_query(&s, "zoe");
        assert!(v.select_row(&s, 1));
        assert_eq!(v.selected_index(), Some(1));
        assert_eq!(v.query(), "");
        assert_eq!(v.show, Show::All);
    }

    #[test]
    fn offsets() {
        assert_eq!(visible_offset(0, 0, 10, 100), 0);
        assert_eq!(visible_offset(15, 0, 10, 100), 6);
        assert_eq!(visible_offset(3, 6, 10, 100), 3);
        assert_eq!(visible_offset(99, 0, 10, 100), 90);
        assert_eq!(visible_offset(2, 50, 10, 5), 0);
        assert_eq!(visible_offset(0, 0, 0, 0), 0);
    }
}
