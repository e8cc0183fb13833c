//! The Users table model: every loaded user in a `Vec`, a cleaned display row and a lowercased
//! search key per user, the sort order over all of them and the filtered index list that the
//! table shows. Only the visible slice of `filtered` is ever turned into ratatui rows.
//!
//! Rows are addressed by their index into the store (`u32`); the selection is an index into
//! `filtered`. (The action queue will keep marks as a set of user ids next to this.)

use crate::sanitize::clean;
use crate::scim::User;
use std::cmp::Ordering;
use std::collections::HashMap;

/// What one table row shows, cleaned of control characters once, when the user arrives.
#[derive(Clone, Debug)]
pub struct UserRow {
    pub name: Box<str>,
    pub user_name: Box<str>,
    pub email: Box<str>,
    pub title: Box<str>,
    pub department: Box<str>,
    pub id: Box<str>,
    pub active: bool,
    /// `name \0 userName \0 email`, lowercased: what `/` searches.
    key: Box<str>,
    /// Byte offsets of the two separators in `key`.
    cut: (u32, u32),
}

impl UserRow {
    pub fn new(u: &User) -> UserRow {
        let name = clean(&u.label());
        let user_name = clean(u.user_name.as_deref().unwrap_or(""));
        let email = clean(u.primary_email().unwrap_or(""));
        let mut key = String::with_capacity(name.len() + user_name.len() + email.len() + 2);
        key.push_str(&name.to_lowercase());
        let a = key.len() as u32;
        key.push('\0');
        key.push_str(&user_name.to_lowercase());
        let b = key.len() as u32;
        key.push('\0');
        key.push_str(&email.to_lowercase());
        UserRow {
            name: name.into(),
            user_name: user_name.into(),
            email: email.into(),
            title: clean(u.title.as_deref().unwrap_or("")).into(),
            department: clean(u.department().unwrap_or("")).into(),
            id: clean(u.id()).into(),
            active: u.is_active(),
            key: key.into(),
            cut: (a, b),
        }
    }

    pub fn name_lower(&self) -> &str {
        &self.key[..self.cut.0 as usize]
    }
    pub fn user_name_lower(&self) -> &str {
        &self.key[self.cut.0 as usize + 1..self.cut.1 as usize]
    }
    pub fn email_lower(&self) -> &str {
        &self.key[self.cut.1 as usize + 1..]
    }

    /// Does this row match a lowercased query (substring of name, userName or email)?
    #[inline]
    pub fn matches(&self, query_lower: &str) -> bool {
        query_lower.is_empty() || self.key.contains(query_lower)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Name,
    UserName,
    Email,
    Title,
    Department,
    Active,
    Id,
}

impl Column {
    pub const ALL: [Column; 7] =
        [Column::Name, Column::UserName, Column::Email, Column::Title, Column::Department, Column::Active, Column::Id];

    pub fn header(self) -> &'static str {
        match self {
            Column::Name => "Name",
            Column::UserName => "userName",
            Column::Email => "Email",
            Column::Title => "Title",
            Column::Department => "Department",
            Column::Active => "Active",
            Column::Id => "Id",
        }
    }

    pub fn parse(s: &str) -> Option<Column> {
        let s = s.to_ascii_lowercase();
        Column::ALL.into_iter().find(|c| c.header().to_ascii_lowercase() == s || (s == "username" && *c == Column::UserName))
    }

    pub fn cell(self, r: &UserRow) -> &str {
        match self {
            Column::Name => &r.name,
            Column::UserName => &r.user_name,
            Column::Email => &r.email,
            Column::Title => &r.title,
            Column::Department => &r.department,
            Column::Id => &r.id,
            Column::Active => {
                if r.active {
                    "yes"
                } else {
                    "no"
                }
            }
        }
    }
}

fn cmp_ci(a: &str, b: &str) -> Ordering {
    a.bytes().map(|c| c.to_ascii_lowercase()).cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

fn compare(col: Column, a: &UserRow, b: &UserRow) -> Ordering {
    match col {
        Column::Name => a.name_lower().cmp(b.name_lower()),
        Column::UserName => a.user_name_lower().cmp(b.user_name_lower()),
        Column::Email => a.email_lower().cmp(b.email_lower()),
        Column::Title => cmp_ci(&a.title, &b.title),
        Column::Department => cmp_ci(&a.department, &b.department),
        Column::Active => b.active.cmp(&a.active),
        Column::Id => a.id.cmp(&b.id),
    }
}

/// Which users the table shows by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Show {
    #[default]
    All,
    Active,
    Deactivated,
}

impl Show {
    pub fn next(self) -> Show {
        match self {
            Show::All => Show::Active,
            Show::Active => Show::Deactivated,
            Show::Deactivated => Show::All,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Show::All => "all",
            Show::Active => "active",
            Show::Deactivated => "deactivated",
        }
    }
    fn admits(self, r: &UserRow) -> bool {
        match self {
            Show::All => true,
            Show::Active => r.active,
            Show::Deactivated => !r.active,
        }
    }
}

/// The loaded users.
#[derive(Default)]
pub struct UserStore {
    pub users: Vec<User>,
    pub rows: Vec<UserRow>,
    by_id: HashMap<Box<str>, u32>,
}

impl UserStore {
    pub fn len(&self) -> usize {
        self.users.len()
    }
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }
    pub fn clear(&mut self) {
        self.users.clear();
        self.rows.clear();
        self.by_id.clear();
    }
    /// Insert or replace by id. Returns the index and whether it was new.
    pub fn upsert(&mut self, u: User) -> (u32, bool) {
        let row = UserRow::new(&u);
        if let Some(&i) = u.id.as_deref().and_then(|id| self.by_id.get(id)) {
            self.users[i as usize] = u;
            self.rows[i as usize] = row;
            return (i, false);
        }
        let i = self.users.len() as u32;
        if let Some(id) = u.id.as_deref() {
            self.by_id.insert(id.into(), i);
        }
        self.users.push(u);
        self.rows.push(row);
        (i, true)
    }
    /// Append a page; users already present (same id) are replaced. Returns the new indices.
    pub fn extend(&mut self, items: Vec<User>) -> Vec<u32> {
        self.users.reserve(items.len());
        self.rows.reserve(items.len());
        let mut added = Vec::with_capacity(items.len());
        for u in items {
            let (i, new) = self.upsert(u);
            if new {
                added.push(i);
            }
        }
        added
    }
    /// Exact, case-insensitive email match.
    pub fn find_email(&self, email_lower: &str) -> Option<u32> {
        self.rows.iter().position(|r| r.email_lower() == email_lower).map(|i| i as u32)
    }
}

/// Sort, state filter, text filter and selection over a `UserStore`.
#[derive(Default)]
pub struct UsersView {
    /// Lowercased query.
    query: String,
    pub show: Show,
    pub sort: Option<Column>,
    pub descending: bool,
    /// Every store index, in sort order.
    order: Vec<u32>,
    /// The rows shown, in sort order.
    pub filtered: Vec<u32>,
    pub selected: usize,
    pub offset: usize,
    /// Earlier (query, filtered) pairs of the query being typed, each one narrower than the last,
    /// so that Backspace restores a result instead of scanning every row again. Cleared whenever
    /// the rows, the sort or the state filter change.
    undo: Vec<(String, Vec<u32>)>,
}

impl UsersView {
    pub fn query(&self) -> &str {
        &self.query
    }

    pub fn selected_index(&self) -> Option<u32> {
        self.filtered.get(self.selected).copied()
    }

    fn admits(&self, r: &UserRow) -> bool {
        self.show.admits(r) && r.matches(&self.query)
    }

    fn cmp(&self, store: &UserStore, a: u32, b: u32) -> Ordering {
        let Some(col) = self.sort else { return a.cmp(&b) };
        let o = compare(col, &store.rows[a as usize], &store.rows[b as usize]).then(a.cmp(&b));
        if self.descending { o.reverse() } else { o }
    }

    /// Set the text filter. When the new query contains the old one, only the rows that
    /// matched before are tested again (typing narrows incrementally).
    pub fn set_query(&mut self, store: &UserStore, q: &str) {
        let q = q.trim().to_lowercase();
        if q == self.query {
            return;
        }
        let rows = &store.rows;
        if q.contains(self.query.as_str()) {
            let prev = std::mem::take(&mut self.query);
            self.undo.push((prev, self.filtered.clone()));
            self.query = q;
            let query = self.query.as_str();
            self.filtered.retain(|&i| rows[i as usize].matches(query));
        } else {
            self.query = q;
            let mut restored = false;
            while let Some((cq, cf)) = self.undo.pop() {
                if cq == self.query {
                    self.filtered = cf;
                    restored = true;
                    break;
                }
                if self.query.contains(cq.as_str()) {
                    self.filtered = cf.clone();
                    self.undo.push((cq, cf));
                    let query = self.query.as_str();
                    self.filtered.retain(|&i| rows[i as usize].matches(query));
                    restored = true;
                    break;
                }
            }
            if !restored {
                self.rescan(store);
            }
        }
        self.selected = 0;
        self.offset = 0;
    }

    pub fn set_show(&mut self, store: &UserStore, show: Show) {
        let keep = self.selected_index();
        self.show = show;
        self.refilter_all(store);
        self.reselect(keep);
    }

    pub fn set_sort(&mut self, store: &UserStore, sort: Option<Column>, descending: bool) {
        let keep = self.selected_index();
        self.sort = sort;
        self.descending = descending;
        let mut order = std::mem::take(&mut self.order);
        order.sort_by(|&a, &b| self.cmp(store, a, b));
        self.order = order;
        self.refilter_all(store);
        self.reselect(keep);
    }

    fn refilter_all(&mut self, store: &UserStore) {
        self.undo.clear();
        self.rescan(store);
    }

    fn rescan(&mut self, store: &UserStore) {
        let rows = &store.rows;
        let (show, query) = (self.show, self.query.as_str());
        self.filtered.clear();
        self.filtered.extend(self.order.iter().copied().filter(|&i| {
            let r = &rows[i as usize];
            show.admits(r) && r.matches(query)
        }));
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

    /// Rows `added` were appended to the store (a page arrived, or a lookup found someone).
    pub fn added(&mut self, store: &UserStore, mut added: Vec<u32>) {
        if added.is_empty() {
            return;
        }
        self.undo.clear();
        if self.sort.is_none() {
            // Load order: new rows go at the end; no need to look at the old ones.
            for &i in &added {
                if self.admits(&store.rows[i as usize]) {
                    self.filtered.push(i);
                }
            }
            self.order.extend(added);
            return;
        }
        let keep = self.selected_index();
        added.sort_by(|&a, &b| self.cmp(store, a, b));
        let old = std::mem::take(&mut self.order);
        let mut merged = Vec::with_capacity(old.len() + added.len());
        let (mut x, mut y) = (0, 0);
        while x < old.len() && y < added.len() {
            if self.cmp(store, old[x], added[y]) != Ordering::Greater {
                merged.push(old[x]);
                x += 1;
            } else {
                merged.push(added[y]);
                y += 1;
            }
        }
        merged.extend_from_slice(&old[x..]);
        merged.extend_from_slice(&added[y..]);
        self.order = merged;
        self.refilter_all(store);
        self.reselect(keep);
    }

    /// A row's contents changed (a lookup returned fresher data).
    pub fn changed(&mut self, store: &UserStore) {
        let keep = self.selected_index();
        if self.sort.is_some() {
            let mut order = std::mem::take(&mut self.order);
            order.sort_by(|&a, &b| self.cmp(store, a, b));
            self.order = order;
        }
        self.refilter_all(store);
        self.reselect(keep);
    }

    pub fn reset(&mut self) {
        self.undo.clear();
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
            let r = &store.rows[idx as usize];
            if !r.matches(&self.query) {
                self.query.clear();
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

/// The first visible row so that `selected` is inside a window of `height` rows.
pub fn visible_offset(selected: usize, offset: usize, height: usize, len: usize) -> usize {
    let height = height.max(1);
    if len <= height {
        return 0;
    }
    let mut off = offset.min(len.saturating_sub(1));
    if selected < off {
        off = selected;
    } else if selected >= off + height {
        off = selected + 1 - height;
    }
    // Don't leave blank space at the bottom when the list could fill the window.
    if len >= height && off + height > len {
        off = len - height;
    }
    off
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::MultiValue;

    pub fn user(i: usize, name: &str, active: bool) -> User {
        User {
            id: Some(format!("W{i:06}")),
            user_name: Some(name.to_lowercase().replace(' ', ".")),
            display_name: Some(name.into()),
            emails: Some(vec![MultiValue::email(format!("{}@example.com", name.to_lowercase().replace(' ', ".")), true)]),
            active: Some(active),
            ..Default::default()
        }
    }

    fn store() -> UserStore {
        let mut s = UserStore::default();
        s.extend(vec![user(1, "Zoe Adams", true), user(2, "Ann Lee", false), user(3, "Bob Annis", true), user(4, "Carl Zed", true)]);
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
        let added = s.extend(vec![user(5, "Dora Quinn", true)]);
        v.added(&s, added);
        v.set_query(&s, "d");
        assert!(v.filtered.contains(&4), "{:?}", v.filtered);
        v.set_query(&s, "");
        assert_eq!(v.filtered.len(), 5);
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
        let added = s.extend(vec![user(5, "Dora Quinn", true), user(1, "Zoe Adams", false)]);
        assert_eq!(added, vec![4]);
        v.added(&s, added);
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

    #[test]
    fn rows_are_cleaned() {
        let mut u = user(9, "Eve", true);
        u.display_name = Some("Eve\u{1b}[31m Evil\u{7}".into());
        let r = UserRow::new(&u);
        assert_eq!(&*r.name, "Eve Evil");
        assert!(r.matches("eve evil"));
        assert_eq!(r.email_lower(), "eve@example.com");
    }
}
