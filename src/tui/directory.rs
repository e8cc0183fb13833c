//! What several components show: the loaded users (every user in a `Vec`, a cleaned display
//! row and a lowercased search key per user), the loaded groups and the marks. The Users pane
//! owns the sort, filter and selection over the users (`users::UsersView`); the Groups pane
//! loads the groups; the detail views, the members list, the queue's verbs and the status line
//! read them. Rows are addressed by their index into the store (`u32`).

use crate::sanitize::clean;
use crate::scim::User;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

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

pub(super) fn compare(col: Column, a: &UserRow, b: &UserRow) -> Ordering {
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
    pub(super) fn admits(self, r: &UserRow) -> bool {
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

/// One loaded group, cleaned.
#[derive(Clone, Debug)]
pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
}

/// Marked users (ids) for the queue's verbs, and the start of a `V` range (a store index).
#[derive(Clone, Debug, Default)]
pub struct Marks {
    pub ids: HashSet<Box<str>>,
    pub anchor: Option<u32>,
}

impl Marks {
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }
    pub fn iter(&self) -> impl Iterator<Item = &Box<str>> {
        self.ids.iter()
    }
    pub fn clear(&mut self) {
        self.ids.clear();
        self.anchor = None;
    }
}

/// The shared data.
#[derive(Default)]
pub struct Directory {
    pub store: UserStore,
    /// The server's count of users (the status line's `users 1,000/4,000`).
    pub total: Option<u64>,
    /// Sorted by name (any case).
    pub groups: Vec<GroupRow>,
    pub marks: Marks,
}

impl Directory {
    /// The marked users that are loaded, in store order.
    pub fn marked_ids(&self) -> Vec<String> {
        let mut idx: Vec<u32> = self.marks.iter().filter_map(|id| self.store.index_of(id)).collect();
        idx.sort_unstable();
        idx.into_iter().map(|i| self.store.rows[i as usize].id.to_string()).collect()
    }

    /// What the gate knows about these users, from the loaded rows.
    pub fn knowledge_of(&self, ids: &[String]) -> crate::queue::Knowledge {
        crate::queue::Knowledge::from_users(ids.iter().filter_map(|id| self.store.index_of(id)).map(|i| &self.store.users[i as usize]))
    }

    /// (what, text) to copy for a user: the email, or the id (`id`, or when there is no email).
    pub fn user_copy_text(&self, idx: u32, id: bool) -> (&'static str, String) {
        let r = &self.store.rows[idx as usize];
        if id || r.email.is_empty() { ("id", r.id.to_string()) } else { ("email", r.email.to_string()) }
    }
}

/// Put text on the clipboard, with a Log line saying what was copied.
pub fn copy(ctx: &mut super::component::Ctx, what: &str, text: String) -> Vec<super::app::Effect> {
    use super::app::{Effect, Level};
    if text.is_empty() {
        ctx.log(Level::Warn, format!("nothing to copy: no {what}"));
        return vec![];
    }
    ctx.log(Level::Ok, format!("copied {what} {text} to the clipboard (OSC 52)"));
    vec![Effect::Copy(text)]
}

#[cfg(test)]
pub(super) mod tests {
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
