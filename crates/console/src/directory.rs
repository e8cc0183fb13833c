//! What several components show: the loaded users (the compact `UserTable`: a cleaned display
//! row and a lowercased search key per user, in one arena), the loaded groups and the marks. The Users pane
//! owns the sort, filter and selection over the users (`users::UsersView`); the Groups pane
//! loads the groups; the detail views, the members list, the queue's verbs and the status line
//! read them. Rows are addressed by their index into the store (`u32`).

use provision::directory::contains_ci;
pub use provision::directory::{Bits, Changes, Needle, SortBy, UserRef, UserTable};
use scim::User;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// The loaded users: the compact table (`provision::directory`). Full SCIM records are kept
/// only for the few users a detail view asked for ([`Directory::full`]).
pub type UserStore = UserTable;

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
    /// `guest:soon`: guests whose expiry is before this (unix seconds: [`SOON_DAYS`] from when
    /// the query was typed), expired ones included.
    pub soon_before: Option<i64>,
}

/// `guest:soon` and the Expires column: an expiry within this many days is soon.
pub const SOON_DAYS: i64 = 30;

/// Seconds since the epoch, now.
pub fn now_unix() -> i64 {
    provision::queue::edit::now_unix()
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

/// For each row, the row of its manager (`NO_ROW`: none, or not loaded): `manager:` terms look
/// at the manager's name through it. Made once per change of the rows, not per keystroke.
pub fn manager_rows(store: &UserStore) -> Vec<u32> {
    store.manager_rows()
}

/// No row (see [`manager_rows`]).
pub const NO_ROW: u32 = provision::directory::NO_MANAGER;

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
            let mut t = Term { field, text: value.to_string(), flag: false, soon_before: None };
            // `guest:soon` (or its start while typing): guests expiring within SOON_DAYS.
            if field == Field::Guest && "soon".starts_with(value) && value.starts_with('s') {
                t.flag = true;
                t.soon_before = Some(now_unix() + SOON_DAYS * 86_400);
                out.terms.push(t);
                continue;
            }
            if field.is_flag() {
                match flag(value) {
                    Some(b) => t.flag = b,
                    None => {
                        let also = if field == Field::Guest { " (or soon: expiring within 30 days)" } else { "" };
                        out.error = Some(format!("{name}:{value}: {name} is true or false{also}"));
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

    /// Does it have a `manager:` term (which needs [`manager_rows`])?
    pub fn has_manager_term(&self) -> bool {
        self.terms.iter().any(|t| t.field == Field::Manager)
    }

    /// Every row this query admits is admitted by `old` too, so filtering can start from
    /// `old`'s result (each of `old`'s constraints is implied by one of these).
    pub fn narrows(&self, old: &Query) -> bool {
        if self.error.is_some() || old.error.is_some() || !self.text.contains(old.text.as_str()) {
            return false;
        }
        old.terms.iter().all(|o| {
            self.terms.iter().any(|n| {
                n.field == o.field
                    && if o.field.is_flag() {
                        n.flag == o.flag && (o.soon_before.is_none() || n.soon_before.is_some())
                    } else {
                        n.text.contains(o.text.as_str())
                    }
            })
        })
    }

    /// A matcher for this query over `store`: build it once per keystroke, then test rows with
    /// it or let it search the whole table ([`QueryMatcher::rows`]). `managers` is
    /// [`manager_rows`] of the store, needed only when [`Query::has_manager_term`].
    pub fn matcher<'s>(&self, store: &'s UserStore, managers: Option<&'s [u32]>) -> QueryMatcher<'s> {
        self.matcher_with(store, managers, &mut TermCache::default())
    }

    /// [`Query::matcher`], taking the rows of `id:` and `manager:` terms typed before from
    /// `cache` (and leaving there the ones it finds).
    pub fn matcher_with<'s>(&self, store: &'s UserStore, managers: Option<&'s [u32]>, cache: &mut TermCache) -> QueryMatcher<'s> {
        let terms = self
            .terms
            .iter()
            .map(|t| {
                let v = t.text.as_str();
                let syms = |f: &dyn Fn(&str) -> bool| store.sym_hits(f);
                match t.field {
                    Field::Name => TermMatch::Name(store.needle(v)),
                    Field::UserName => TermMatch::UserName(store.needle(v)),
                    Field::Email => TermMatch::Email(store.needle(v)),
                    Field::Title => TermMatch::Title(syms(&|s| contains_ci(s, v))),
                    Field::Department => TermMatch::Department(syms(&|s| contains_ci(s, v))),
                    // Roles are kept lowercased.
                    Field::Role => TermMatch::Role(syms(&|s| s.contains(v))),
                    Field::Manager => {
                        // The managers whose name, userName, email or id hold the value.
                        let hits = cache.get_or(Field::Manager, v, || {
                            let mut hits = store.search(&store.needle(v));
                            for i in store.search_ids(v).ones() {
                                hits.set(i);
                            }
                            hits
                        });
                        TermMatch::Manager { text: v.to_string(), hits, managers: managers.unwrap_or(&[]) }
                    }
                    Field::Id => TermMatch::Id(cache.get_or(Field::Id, v, || store.search_ids(v))),
                    Field::Active => TermMatch::Active(t.flag),
                    Field::Guest => TermMatch::Guest(t.flag, t.soon_before),
                }
            })
            .collect();
        QueryMatcher { error: self.error.is_some(), text: store.needle(&self.text), terms, store }
    }

    /// Does this user match? (For one row; for many, make a [`Query::matcher`].)
    pub fn matches(&self, r: UserRef<'_>, store: &UserStore) -> bool {
        let managers = self.has_manager_term().then(|| manager_rows(store));
        self.matcher(store, managers.as_deref()).matches(r)
    }
}

/// The rows `id:` and `manager:` terms found, by field and text, for the next keystroke (made
/// again when the rows change: [`TermCache::clear`]).
#[derive(Debug, Default)]
pub struct TermCache(Vec<(Field, String, Bits)>);

impl TermCache {
    fn get_or(&mut self, field: Field, text: &str, find: impl FnOnce() -> Bits) -> Bits {
        if let Some((_, _, b)) = self.0.iter().find(|(f, t, _)| *f == field && t == text) {
            return b.clone();
        }
        let b = find();
        if self.0.len() >= 16 {
            self.0.remove(0);
        }
        self.0.push((field, text.to_string(), b.clone()));
        b
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// One term, made ready for a scan.
enum TermMatch<'s> {
    Name(Needle),
    UserName(Needle),
    Email(Needle),
    /// Per interned value: does it hold the term's text?
    Title(Vec<bool>),
    Department(Vec<bool>),
    Role(Vec<bool>),
    Manager {
        text: String,
        hits: Bits,
        managers: &'s [u32],
    },
    /// The rows whose id holds the text.
    Id(Bits),
    Active(bool),
    /// The flag, and for `guest:soon` the time the expiry must come before.
    Guest(bool, Option<i64>),
}

/// A [`Query`] made ready for a scan ([`Query::matcher`]).
pub struct QueryMatcher<'s> {
    error: bool,
    text: Needle,
    terms: Vec<TermMatch<'s>>,
    store: &'s UserStore,
}

impl QueryMatcher<'_> {
    /// Does this user match the plain words and every term?
    #[inline]
    pub fn matches(&self, r: UserRef<'_>) -> bool {
        !self.error && self.text.matches(r) && self.terms_match(r)
    }

    /// The `field:value` terms (the plain words are checked apart).
    #[inline]
    fn terms_match(&self, r: UserRef<'_>) -> bool {
        let sym = |hits: &[bool], s: provision::directory::Sym| hits.get(s.index()).copied().unwrap_or(false);
        self.terms.iter().all(|t| match t {
            TermMatch::Name(n) => n.in_name(r),
            TermMatch::UserName(n) => n.in_user_name(r),
            TermMatch::Email(n) => n.in_email(r),
            TermMatch::Title(h) => sym(h, r.title_sym()),
            TermMatch::Department(h) => sym(h, r.department_sym()),
            TermMatch::Role(h) => sym(h, r.roles_sym()),
            TermMatch::Manager { text, hits, managers } => match managers.get(r.index() as usize).copied().filter(|&m| m != NO_ROW) {
                Some(row) => hits.get(row),
                // A manager who is not loaded: the id alone.
                None => {
                    let m = r.manager_id();
                    !m.is_empty() && contains_ci(m, text)
                }
            },
            TermMatch::Id(rows) => rows.get(r.index()),
            TermMatch::Active(f) => r.active() == *f,
            TermMatch::Guest(f, soon_before) => match soon_before {
                Some(before) => r.guest() && r.guest_expires_at().is_some_and(|at| at < *before),
                None => r.guest() == *f,
            },
        })
    }

    /// Every row that matches and that `show` admits: the plain words through one search of the
    /// whole table ([`UserStore::search`]), then the terms on the rows found.
    pub fn rows(&self, show: Show) -> Bits {
        let store = self.store;
        if self.error {
            return Bits::none(store.len());
        }
        let mut bits = store.search(&self.text);
        if show != Show::All || !self.terms.is_empty() {
            bits.retain_par(|i| {
                let r = store.get(i);
                show.admits(r) && self.terms_match(r)
            });
        }
        bits
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
    /// The role values (`primary_owner`, `admin`, ...), where the screen is wide enough.
    Roles,
    /// A multi-channel guest's expiry (`guest:` filters sort by it).
    Expires,
}

impl Column {
    pub const ALL: [Column; 9] = [
        Column::Name,
        Column::UserName,
        Column::Email,
        Column::Title,
        Column::Department,
        Column::Active,
        Column::Id,
        Column::Roles,
        Column::Expires,
    ];

    pub fn header(self) -> &'static str {
        match self {
            Column::Name => "Name",
            Column::UserName => "userName",
            Column::Email => "Email",
            Column::Title => "Title",
            Column::Department => "Department",
            Column::Active => "Active",
            Column::Id => "Id",
            Column::Roles => "Roles",
            Column::Expires => "Expires",
        }
    }

    pub fn parse(s: &str) -> Option<Column> {
        let s = s.to_ascii_lowercase();
        Column::ALL.into_iter().find(|c| c.header().to_ascii_lowercase() == s || (s == "username" && *c == Column::UserName))
    }

    pub fn cell(self, r: UserRef<'_>) -> Cow<'_, str> {
        match self {
            Column::Name => r.name(),
            Column::UserName => r.user_name().into(),
            Column::Email => r.email(),
            Column::Title => r.title().into(),
            Column::Department => r.department().into(),
            Column::Id => r.id_shown(),
            Column::Roles => r.roles().into(),
            Column::Expires => expires_cell(r, now_unix()).into(),
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

impl Column {
    /// The table's sort key for this column.
    pub fn sort_by(self) -> SortBy {
        match self {
            Column::Name => SortBy::Name,
            Column::UserName => SortBy::UserName,
            Column::Email => SortBy::Email,
            Column::Title => SortBy::Title,
            Column::Department => SortBy::Department,
            Column::Active => SortBy::Active,
            Column::Id => SortBy::Id,
            Column::Roles => SortBy::Roles,
            Column::Expires => SortBy::Expires,
        }
    }
}

/// The Expires cell: a guest's expiry date (UTC), `soon` within [`SOON_DAYS`], `expired`; `no
/// expiry` for a guest without one; empty for a member.
pub fn expires_cell(r: UserRef<'_>, now: i64) -> String {
    if !r.guest() {
        return String::new();
    }
    match r.guest_expires_at() {
        Some(at) if at < now => format!("{} expired", scim::rules::utc_day(at)),
        Some(at) if at < now + SOON_DAYS * 86_400 => format!("{} soon", scim::rules::utc_day(at)),
        Some(at) => scim::rules::utc_day(at),
        None if r.guest_expiration().is_empty() => "no expiry".into(),
        None => r.guest_expiration().into(),
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
    /// `e` on a user whose full record was not at hand: the form opens when it arrives.
    pub edit_after_fetch: Option<Box<str>>,
    /// Rows (store indices) that the last refresh found new or changed against the cache.
    pub changed: HashSet<u32>,
    /// The server's count of users (the status line's `users 1,000/4,000`).
    pub total: Option<u64>,
    /// The next reload brings rows that are not news to the admin (the demo's emulator
    /// finished seeding): no `•` marks, and the Log says `loaded`.
    pub quiet_reload: bool,
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
    pub fn knowledge_of(&self, ids: &[String]) -> provision::queue::Knowledge {
        self.store.knowledge_of(ids.iter().map(String::as_str))
    }

    /// The bases of the gate's share ceilings, from what is loaded: the active users and each
    /// loaded group's members.
    pub fn share_bases(&self, known: &mut provision::queue::Knowledge) {
        if !self.store.is_empty() {
            known.set_population(self.store.iter().filter(|r| r.active_opt() != Some(false)).count());
        }
        for g in &self.groups {
            known.set_group_size(&g.id, g.members.len());
        }
    }

    /// (what, text) to copy for a user: the email, or the id (`id`, or when there is no email).
    pub fn user_copy_text(&self, idx: u32, id: bool) -> (&'static str, String) {
        let r = self.store.get(idx);
        if id || r.email().is_empty() { ("id", r.id_shown().into_owned()) } else { ("email", r.email().to_string()) }
    }
}

/// How a confirmation names a member: `Name <email>`, else `Name (id)`; None when not loaded.
pub fn member_label(dir: &super::directory::Directory, id: &str) -> Option<String> {
    dir.store.index_of(id).map(|i| {
        let r = dir.store.get(i);
        if r.email().is_empty() { format!("{} ({id})", r.name()) } else { format!("{} <{}>", r.name(), r.email()) }
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use scim::MultiValue;

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
        UserStore::from_users(&users)
    }

    fn find(s: &UserStore, q: &str) -> Vec<String> {
        let q = Query::parse(q);
        let managers = manager_rows(s);
        let m = q.matcher(s, Some(&managers));
        let one_by_one: Vec<String> = s.iter().filter(|&r| m.matches(r)).map(|r| r.name().to_string()).collect();
        let all: Vec<String> = m.rows(Show::All).ones().map(|i| s.get(i).name().to_string()).collect();
        assert_eq!(one_by_one, all, "{q:?}: a scan of the table finds what a test of each row finds");
        all
    }

    pub fn staff() -> Vec<User> {
        use scim::types::{EnterpriseUser, GuestExt, Manager, Role};
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
        let s = UserStore::from_users([&u]);
        let r = s.get(0);
        assert_eq!(r.name(), "Eve Evil");
        assert!(r.matches("eve evil"));
        assert_eq!(r.email_lower(), "eve@example.com");
        assert_eq!(Column::Name.cell(r), "Eve Evil");
    }
}
