//! What several components show: the loaded users (the compact `UserTable`: a cleaned display
//! row and a lowercased search key per user, in one arena), the loaded groups and the marks. The Users pane
//! owns the sort, filter and selection over the users (`users::UsersView`); the Groups pane
//! loads the groups; the detail views, the members list, the queue's verbs and the status line
//! read them. Rows are addressed by their index into the store (`u32`).

use crate::scim::User;
pub use provision::directory::{Changes, UserRef, UserTable};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

/// The loaded users: the compact table (`provision::directory`). Full SCIM records are kept
/// only for the few users a detail view asked for ([`Directory::full`]).
pub type UserStore = UserTable;

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

    pub fn cell(self, r: UserRef<'_>) -> Cow<'_, str> {
        match self {
            Column::Name => r.name().into(),
            Column::UserName => r.user_name().into(),
            Column::Email => r.email().into(),
            Column::Title => r.title().into(),
            Column::Department => r.department().into(),
            Column::Id => r.id_shown(),
            Column::Active => {
                if r.active() {
                    "yes".into()
                } else {
                    "no".into()
                }
            }
        }
    }
}

fn cmp_ci(a: &str, b: &str) -> Ordering {
    a.bytes().map(|c| c.to_ascii_lowercase()).cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

pub(super) fn compare(col: Column, a: UserRef<'_>, b: UserRef<'_>) -> Ordering {
    match col {
        Column::Name => a.name_lower().cmp(b.name_lower()),
        Column::UserName => a.user_name_lower().cmp(b.user_name_lower()),
        Column::Email => a.email_lower().cmp(b.email_lower()),
        Column::Title if a.title_sym() == b.title_sym() => Ordering::Equal,
        Column::Title => cmp_ci(a.title(), b.title()),
        Column::Department if a.department_sym() == b.department_sym() => Ordering::Equal,
        Column::Department => cmp_ci(a.department(), b.department()),
        Column::Active => b.active().cmp(&a.active()),
        Column::Id => a.id().cmp(b.id()),
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
    pub(super) fn admits(self, r: UserRef<'_>) -> bool {
        match self {
            Show::All => true,
            Show::Active => r.active(),
            Show::Deactivated => !r.active(),
        }
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

/// Full SCIM records of the few users a detail view asked for (fetched on demand), newest last.
#[derive(Default)]
pub struct FullRecords {
    by_id: HashMap<Box<str>, User>,
    order: std::collections::VecDeque<Box<str>>,
}

impl FullRecords {
    /// How many full records are kept.
    pub const CAP: usize = 64;
    pub fn get(&self, id: &str) -> Option<&User> {
        self.by_id.get(id)
    }
    pub fn insert(&mut self, u: User) {
        let id: Box<str> = u.id().into();
        if id.is_empty() {
            return;
        }
        if self.by_id.insert(id.clone(), u).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > Self::CAP {
            if let Some(old) = self.order.pop_front() {
                self.by_id.remove(&old);
            }
        }
    }
    pub fn remove(&mut self, id: &str) {
        self.by_id.remove(id);
        self.order.retain(|x| &**x != id);
    }
    pub fn clear(&mut self) {
        self.by_id.clear();
        self.order.clear();
    }
}

/// Where the rows on screen came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Freshness {
    /// Nothing loaded yet, or loaded from Slack in this session.
    #[default]
    Live,
    /// From the local cache, fetched at this time (unix seconds); a refresh is running.
    Cached { fetched_at: i64 },
}

/// The shared data.
#[derive(Default)]
pub struct Directory {
    /// Shared with a cache write in flight (see [`Directory::store_mut`]).
    pub store: std::sync::Arc<UserStore>,
    /// Write the users to the local cache after each full load (off: `--no-cache`, `ui.cache`).
    pub caching: bool,
    /// Full records fetched for detail views.
    pub full: FullRecords,
    /// Where the rows came from (the cache, and how old it is).
    pub freshness: Freshness,
    /// Rows (store indices) that the last refresh found new or changed against the cache.
    pub changed: HashSet<u32>,
    /// The server's count of users (the status line's `users 1,000/4,000`).
    pub total: Option<u64>,
    /// Sorted by name (any case).
    pub groups: Vec<GroupRow>,
    pub marks: Marks,
}

impl Directory {
    /// The store, to change it.
    pub fn store_mut(&mut self) -> &mut UserStore {
        std::sync::Arc::make_mut(&mut self.store)
    }

    /// The marked users that are loaded, in store order.
    pub fn marked_ids(&self) -> Vec<String> {
        let mut idx: Vec<u32> = self.marks.iter().filter_map(|id| self.store.index_of(id)).collect();
        idx.sort_unstable();
        idx.into_iter().map(|i| self.store.get(i).id().to_string()).collect()
    }

    /// What the gate knows about these users, from the loaded rows.
    pub fn knowledge_of(&self, ids: &[String]) -> crate::queue::Knowledge {
        self.store.knowledge_of(ids.iter().map(String::as_str))
    }

    /// (what, text) to copy for a user: the email, or the id (`id`, or when there is no email).
    pub fn user_copy_text(&self, idx: u32, id: bool) -> (&'static str, String) {
        let r = self.store.get(idx);
        if id || r.email().is_empty() { ("id", r.id_shown().into_owned()) } else { ("email", r.email().to_string()) }
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
        let s = UserStore::from_users([&u]);
        let r = s.get(0);
        assert_eq!(r.name(), "Eve Evil");
        assert!(r.matches("eve evil"));
        assert_eq!(r.email_lower(), "eve@example.com");
        assert_eq!(Column::Name.cell(r), "Eve Evil");
    }
}
