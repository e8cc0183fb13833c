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
    pub guest: bool,
    /// The manager's id as the server gave it (cleaned), or empty.
    pub manager: Box<str>,
    /// `name \0 userName \0 email`, lowercased: what `/` searches.
    key: Box<str>,
    /// Byte offsets of the two separators in `key`.
    cut: (u32, u32),
    /// `title \0 department \0 manager \0 id \0 roles`, lowercased: what `field:value` terms
    /// search (one allocation per row, made once when the user arrives).
    fields: Box<str>,
    /// Byte offsets of the four separators in `fields`.
    fcut: [u32; 4],
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
        let title = clean(u.title.as_deref().unwrap_or(""));
        let department = clean(u.department().unwrap_or(""));
        let id = clean(u.id());
        let manager = clean(u.manager_id().unwrap_or(""));
        let roles: Vec<String> = u
            .roles
            .iter()
            .flatten()
            .filter_map(|r| match r {
                crate::scim::types::Role::Text(t) => Some(t.clone()),
                crate::scim::types::Role::Object(m) => m.value.clone().or_else(|| m.display.clone()),
            })
            .map(|r| clean(&r))
            .collect();
        let mut fields = String::with_capacity(title.len() + department.len() + manager.len() + id.len() + 4);
        let mut fcut = [0u32; 4];
        for (i, part) in [title.as_str(), department.as_str(), manager.as_str(), id.as_str()].into_iter().enumerate() {
            fields.push_str(&part.to_lowercase());
            fcut[i] = fields.len() as u32;
            fields.push('\0');
        }
        fields.push_str(&roles.join(" ").to_lowercase());
        UserRow {
            name: name.into(),
            user_name: user_name.into(),
            email: email.into(),
            title: title.into(),
            department: department.into(),
            id: id.into(),
            active: u.is_active(),
            guest: u.is_guest(),
            manager: manager.into(),
            key: key.into(),
            cut: (a, b),
            fields: fields.into(),
            fcut,
        }
    }

    /// A lowercased field of `fields` (0 title, 1 department, 2 manager, 3 id, 4 roles).
    fn field_lower(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.fcut[i - 1] as usize + 1 };
        let end = if i < 4 { self.fcut[i] as usize } else { self.fields.len() };
        &self.fields[start..end]
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

/// What a `field:value` term of `/` looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Name,
    UserName,
    Email,
    Title,
    Department,
    /// The manager's id, or the manager's name, userName or email when the manager is loaded.
    Manager,
    Id,
    Role,
    Active,
    Guest,
}

impl Field {
    /// The names `/` knows (`dept` is `department`'s short name).
    pub const NAMES: &[(&str, Field)] = &[
        ("name", Field::Name),
        ("username", Field::UserName),
        ("user", Field::UserName),
        ("email", Field::Email),
        ("title", Field::Title),
        ("department", Field::Department),
        ("dept", Field::Department),
        ("manager", Field::Manager),
        ("id", Field::Id),
        ("role", Field::Role),
        ("active", Field::Active),
        ("guest", Field::Guest),
    ];

    fn parse(s: &str) -> Option<Field> {
        Field::NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)).map(|(_, f)| *f)
    }

    fn is_flag(self) -> bool {
        matches!(self, Field::Active | Field::Guest)
    }
}

/// One `field:value` term: a lowercased substring, or a flag.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub field: Field,
    pub text: String,
    pub flag: bool,
    /// `manager:`: which store rows' name, userName or email contain the value (made by
    /// [`Query::prepare`]; a row whose manager is one of them matches).
    hits: Vec<bool>,
}

/// What `/` typed, parsed: plain words (a substring of name, userName or email, as before) and
/// `field:value` terms (`dept:eng title:manager active:true`), all of which must match. Values
/// with spaces are quoted (`title:"staff engineer"`); a term with no value yet (`dept:`, while
/// typing) asks nothing; a word with an unknown field name is plain text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    /// The plain words, lowercased, one space apart.
    pub text: String,
    pub terms: Vec<Term>,
    /// A value that cannot match (`active:maybe`): the filter shows nothing and says why.
    pub error: Option<String>,
}

/// Split at whitespace outside double quotes; the quotes are dropped.
fn words(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in q.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `true`/`yes` (or the start of one while typing), `false`/`no`.
fn flag(v: &str) -> Option<bool> {
    let is = |w: &str| !v.is_empty() && w.starts_with(v);
    if is("true") || is("yes") || v == "1" {
        Some(true)
    } else if is("false") || is("no") || v == "0" {
        Some(false)
    } else {
        None
    }
}

impl Query {
    pub fn parse(q: &str) -> Query {
        let q = q.trim().to_lowercase();
        let mut out = Query::default();
        let mut plain: Vec<String> = Vec::new();
        for w in words(&q) {
            let Some((name, value)) = w.split_once(':') else {
                plain.push(w);
                continue;
            };
            let Some(field) = Field::parse(name) else {
                plain.push(w);
                continue;
            };
            if value.is_empty() {
                continue;
            }
            let mut t = Term { field, text: value.to_string(), flag: false, hits: Vec::new() };
            if field.is_flag() {
                match flag(value) {
                    Some(b) => t.flag = b,
                    None => {
                        out.error = Some(format!("{name}:{value}: {name} is true or false"));
                        continue;
                    }
                }
            }
            out.terms.push(t);
        }
        out.text = plain.join(" ");
        out
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.terms.is_empty() && self.error.is_none()
    }

    /// Resolve `manager:` terms against the loaded users (again whenever the rows change).
    pub fn prepare(&mut self, store: &UserStore) {
        for t in self.terms.iter_mut().filter(|t| t.field == Field::Manager) {
            t.hits.clear();
            t.hits.extend(store.rows.iter().map(|r| r.key.contains(t.text.as_str())));
        }
    }

    /// Every row this query admits is admitted by `old` too, so filtering can start from
    /// `old`'s result (each of `old`'s constraints is implied by one of these).
    pub fn narrows(&self, old: &Query) -> bool {
        if self.error.is_some() || old.error.is_some() || !self.text.contains(old.text.as_str()) {
            return false;
        }
        old.terms.iter().all(|o| {
            self.terms
                .iter()
                .any(|n| n.field == o.field && if o.field.is_flag() { n.flag == o.flag } else { n.text.contains(o.text.as_str()) })
        })
    }

    #[inline]
    pub fn matches(&self, r: &UserRow, store: &UserStore) -> bool {
        if self.error.is_some() {
            return false;
        }
        if !self.text.is_empty() && !r.key.contains(self.text.as_str()) {
            return false;
        }
        self.terms.iter().all(|t| {
            let v = t.text.as_str();
            match t.field {
                Field::Name => r.name_lower().contains(v),
                Field::UserName => r.user_name_lower().contains(v),
                Field::Email => r.email_lower().contains(v),
                Field::Title => r.field_lower(0).contains(v),
                Field::Department => r.field_lower(1).contains(v),
                Field::Manager => {
                    !r.manager.is_empty()
                        && (r.field_lower(2).contains(v)
                            || store.index_of(&r.manager).is_some_and(|i| t.hits.get(i as usize).copied().unwrap_or(false)))
                }
                Field::Id => r.field_lower(3).contains(v),
                Field::Role => r.field_lower(4).contains(v),
                Field::Active => r.active == t.flag,
                Field::Guest => r.guest == t.flag,
            }
        })
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

    fn store_of(users: Vec<User>) -> UserStore {
        let mut s = UserStore::default();
        s.extend(users);
        s
    }

    fn find(s: &UserStore, q: &str) -> Vec<String> {
        let mut q = Query::parse(q);
        q.prepare(s);
        s.rows.iter().filter(|r| q.matches(r, s)).map(|r| r.name.to_string()).collect()
    }

    pub fn staff() -> Vec<User> {
        use crate::scim::types::{EnterpriseUser, GuestExt, Manager, Role};
        let mut maria = user(1, "Maria Ortiz", true);
        maria.title = Some("Engineering Manager".into());
        maria.enterprise = Some(EnterpriseUser { department: Some("Engineering".into()), ..Default::default() });
        maria.roles = Some(vec![Role::Text("admin".into())]);
        let mut dev = user(2, "Dev Patel", true);
        dev.title = Some("Staff Engineer".into());
        dev.enterprise =
            Some(EnterpriseUser { department: Some("Engineering".into()), manager: Some(Manager::of("W000001")), ..Default::default() });
        let mut sam = user(3, "Sam Lee", false);
        sam.title = Some("Account Manager".into());
        sam.enterprise =
            Some(EnterpriseUser { department: Some("Sales".into()), manager: Some(Manager::of("W000001")), ..Default::default() });
        let mut gus = user(4, "Gus Guest", true);
        gus.guest = Some(GuestExt { kind: Some("multi".into()), expiration: None });
        vec![maria, dev, sam, gus]
    }

    #[test]
    fn field_terms_search_every_field() {
        let s = store_of(staff());
        assert_eq!(find(&s, "dept:eng title:manager active:true"), ["Maria Ortiz"]);
        assert_eq!(find(&s, "department:ENGINEERING"), ["Maria Ortiz", "Dev Patel"]);
        assert_eq!(find(&s, "title:manager"), ["Maria Ortiz", "Sam Lee"]);
        assert_eq!(find(&s, "active:false"), ["Sam Lee"]);
        assert_eq!(find(&s, "active:no title:manager"), ["Sam Lee"]);
        assert_eq!(find(&s, "guest:true"), ["Gus Guest"]);
        assert_eq!(find(&s, "guest:false").len(), 3);
        assert_eq!(find(&s, "role:adm"), ["Maria Ortiz"]);
        assert_eq!(find(&s, "id:W000003"), ["Sam Lee"]);
        // The manager by id, or by the manager's name, userName or email.
        assert_eq!(find(&s, "manager:w000001"), ["Dev Patel", "Sam Lee"]);
        assert_eq!(find(&s, "manager:maria"), ["Dev Patel", "Sam Lee"]);
        assert_eq!(find(&s, "manager:maria active:true"), ["Dev Patel"]);
        // Plain words as before, with terms; quoted values hold spaces.
        assert_eq!(find(&s, "lee"), ["Sam Lee"]);
        assert_eq!(find(&s, "dev title:staff"), ["Dev Patel"]);
        assert_eq!(find(&s, "title:\"staff engineer\""), ["Dev Patel"]);
        assert_eq!(find(&s, "title:\"account engineer\"").len(), 0);
        // While typing: a term with no value asks nothing; an unknown field is plain text.
        assert_eq!(find(&s, "dept:").len(), 4);
        assert_eq!(find(&s, "foo:bar").len(), 0);
        let bad = Query::parse("active:maybe");
        assert_eq!(bad.error.as_deref(), Some("active:maybe: active is true or false"));
        assert_eq!(find(&s, "active:maybe").len(), 0);
    }

    #[test]
    fn a_query_narrows_another_only_when_its_rows_are_a_subset() {
        let n = |a: &str, b: &str| Query::parse(a).narrows(&Query::parse(b));
        assert!(n("dept:eng", "dept:en"));
        assert!(n("dept:eng active:true", "dept:eng"));
        assert!(n("ann lee", "ann"));
        assert!(!n("active:false", "a"), "a is a substring of the text, not of the term");
        assert!(!n("dept:en", "dept:eng"));
        assert!(!n("active:false", "active:true"));
        assert!(!n("title:x", "dept:x"));
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
