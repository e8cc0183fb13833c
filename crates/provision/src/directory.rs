//! The compact directory: the handful of fields per user that list panes, lookups and the gate's
//! knowledge need, for a whole Slack org in a small footprint.
//!
//! - one string arena (`text`) holds every string; a row is fixed-size (`Row`, 72 bytes): spans
//!   into the arena, interned symbols and a flag byte;
//! - each user's search key (`name \0 userName \0 email`, lowercased) is written once into the
//!   arena; a userName or email that is already lowercase is not written again (its span points
//!   into the key);
//! - title, department, roles and the email's domain are interned (a few hundred distinct values
//!   in a large org);
//! - ids are found through a hash table of row indices (4 bytes a user), the id itself living in
//!   the arena.
//!
//! Every display string is cleaned of control characters (`sanitize::clean`) when it arrives; the
//! id is kept as the server sent it (it addresses writes) and cleaned when shown.
//!
//! The full SCIM resource is not kept: the detail view and the edit form fetch it on demand.
//!
//! [`UserTable::write_cache`] / [`UserTable::read_cache`] save and load the table (the console's
//! directory cache: an owner-only file per profile, see `cache_path`).

use crate::queue::gate::{Account, UserFacts, account_from};
use crate::queue::{Knowledge, Target};
use scim::sanitize::clean;
use scim::types::{Role, User};
use scim::wire::UserSummary;
use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// A string in the arena.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    off: u32,
    len: u32,
}

/// An interned value (0 is the empty string).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sym(u32);

const ACTIVE: u8 = 1;
/// The server said whether the user is active (`active` was present).
const ACTIVE_KNOWN: u8 = 2;
const GUEST: u8 = 4;
const BOT: u8 = 8;
const OWNER: u8 = 16;

/// One user, fixed-size.
#[derive(Clone, Copy, Debug, Default)]
struct Row {
    id: Span,
    name: Span,
    user_name: Span,
    email: Span,
    manager: Span,
    /// `name \0 userName \0 email`, lowercased.
    key: Span,
    /// Byte offsets of the two separators inside `key`.
    cut: (u32, u32),
    title: Sym,
    department: Sym,
    roles: Sym,
    domain: Sym,
    /// A multi-channel guest's expiry as sent (empty: none).
    guest_expiration: Sym,
    flags: u8,
}

/// Interned strings: title, department, roles, domain, guest expiry.
#[derive(Clone, Debug)]
struct Interner {
    strings: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
}

impl Default for Interner {
    fn default() -> Self {
        let mut i = Interner { strings: Vec::new(), index: HashMap::new() };
        i.intern("");
        i
    }
}

impl Interner {
    fn intern(&mut self, s: &str) -> Sym {
        if let Some(&n) = self.index.get(s) {
            return Sym(n);
        }
        let n = self.strings.len() as u32;
        self.strings.push(s.into());
        self.index.insert(s.into(), n);
        Sym(n)
    }
    fn get(&self, s: Sym) -> &str {
        self.strings.get(s.0 as usize).map_or("", |b| b)
    }
}

/// The fields of one user in the form a [`UserTable`] takes them (cleaned, not yet lowercased).
/// [`UserFields::of`] projects a SCIM user onto it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserFields {
    /// As the server sent it (not cleaned: it addresses writes).
    pub id: String,
    /// `User::label()`: displayName, else given + family name, else userName.
    pub name: String,
    pub user_name: String,
    /// The primary email (else the work one, else the first).
    pub email: String,
    pub title: String,
    pub department: String,
    /// `enterprise.manager.managerId`.
    pub manager_id: String,
    /// The role values, lowercased, `, `-joined (`primary_owner, admin`).
    pub roles: String,
    pub active: Option<bool>,
    pub guest: bool,
    /// A multi-channel guest's expiry (`guest.expiration`), as sent; empty when none.
    pub guest_expiration: String,
    pub account: Account,
}

impl UserFields {
    pub fn of(u: &User) -> UserFields {
        UserFields::of_summary(UserSummary::of(u))
    }

    /// The fields from a listing's summary of a user (what [`UserFields::of`] takes from the
    /// whole user: a listing read as summaries builds the same rows).
    pub fn of_summary(s: UserSummary) -> UserFields {
        let roles: Vec<String> = s.roles.iter().map(|v| clean(v.trim()).to_lowercase()).filter(|v| !v.is_empty()).collect();
        let account = account_from(s.emails.iter().map(String::as_str), s.roles.iter().map(String::as_str));
        let opt = |v: Option<String>| v.map(|v| clean(&v)).unwrap_or_default();
        UserFields {
            name: clean(&s.label),
            user_name: opt(s.user_name),
            email: opt(s.primary_email),
            title: opt(s.title),
            department: opt(s.department),
            manager_id: opt(s.manager_id),
            id: s.id.unwrap_or_default(),
            roles: roles.join(", "),
            active: s.active,
            guest: s.guest,
            guest_expiration: opt(s.guest_expiration),
            account,
        }
    }
}

/// How `by_id` hashes an entry (row `j`, keyed by its id) when it moves them (growing).
fn id_hash<'a>(text: &'a str, rows: &'a [Row], hasher: &'a RandomState) -> impl Fn(&u32) -> u64 + 'a {
    move |&j| {
        let sp = rows[j as usize].id;
        hasher.hash_one(&text[sp.off as usize..(sp.off + sp.len) as usize])
    }
}

/// A refresh merged into a table page by page ([`UserTable::merge_page`]).
#[derive(Clone, Debug, Default)]
pub struct Refresh {
    /// For each row the table had when the refresh began: listed by a page yet? (Rows added
    /// since, by the refresh or by the admin, are never gone.)
    seen: Vec<bool>,
    /// Indices of rows the refresh added, and of rows whose fields it changed.
    pub added: Vec<u32>,
    pub changed: Vec<u32>,
}

impl Refresh {
    /// A refresh of `t` as it is now.
    pub fn of(t: &UserTable) -> Refresh {
        Refresh { seen: vec![false; t.len()], ..Refresh::default() }
    }

    /// Rows the table had at the start that no page listed (so far).
    pub fn gone(&self) -> impl Iterator<Item = u32> + '_ {
        self.seen.iter().enumerate().filter(|(_, s)| !**s).map(|(i, _)| i as u32)
    }

    pub fn is_gone(&self, i: u32) -> bool {
        self.seen.get(i as usize).is_some_and(|s| !s)
    }
}

/// The most users [`UserTable::reserve_for`] makes room for ahead.
pub const RESERVE_MAX: u64 = 5_000_000;

/// The compact directory (see the module docs). Rows are addressed by index (`u32`), in arrival
/// order; an upsert of a known id replaces its row in place.
#[derive(Clone, Default)]
pub struct UserTable {
    text: String,
    rows: Vec<Row>,
    syms: Interner,
    by_id: hashbrown::HashTable<u32>,
    hasher: RandomState,
    /// Arena bytes no row refers to any more (replaced rows; a reload builds a fresh table).
    waste: usize,
}

impl std::fmt::Debug for UserTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserTable").field("users", &self.rows.len()).field("arena_bytes", &self.text.len()).finish()
    }
}

/// One user of a [`UserTable`].
#[derive(Clone, Copy)]
pub struct UserRef<'a> {
    t: &'a UserTable,
    r: &'a Row,
    idx: u32,
}

impl std::fmt::Debug for UserRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRef").field("idx", &self.idx).field("id", &self.id()).finish()
    }
}

impl<'a> UserRef<'a> {
    fn s(&self, sp: Span) -> &'a str {
        &self.t.text[sp.off as usize..(sp.off + sp.len) as usize]
    }
    pub fn index(&self) -> u32 {
        self.idx
    }
    /// The id as the server sent it (clean it before showing it: [`UserRef::id_shown`]).
    pub fn id(&self) -> &'a str {
        self.s(self.r.id)
    }
    /// The id, cleaned for a terminal.
    pub fn id_shown(&self) -> Cow<'a, str> {
        let id = self.id();
        if id.chars().any(char::is_control) { Cow::Owned(clean(id)) } else { Cow::Borrowed(id) }
    }
    pub fn name(&self) -> &'a str {
        self.s(self.r.name)
    }
    pub fn user_name(&self) -> &'a str {
        self.s(self.r.user_name)
    }
    pub fn email(&self) -> &'a str {
        self.s(self.r.email)
    }
    pub fn title(&self) -> &'a str {
        self.t.syms.get(self.r.title)
    }
    pub fn department(&self) -> &'a str {
        self.t.syms.get(self.r.department)
    }
    /// `enterprise.manager.managerId` (empty when none).
    pub fn manager_id(&self) -> &'a str {
        self.s(self.r.manager)
    }
    /// The role values, lowercased and `, `-joined (empty when none).
    pub fn roles(&self) -> &'a str {
        self.t.syms.get(self.r.roles)
    }
    /// The email's domain, lowercased.
    pub fn domain(&self) -> &'a str {
        self.t.syms.get(self.r.domain)
    }
    pub fn title_sym(&self) -> Sym {
        self.r.title
    }
    pub fn department_sym(&self) -> Sym {
        self.r.department
    }
    pub fn active(&self) -> bool {
        self.r.flags & ACTIVE != 0
    }
    /// `active` as the server sent it (`None`: absent).
    pub fn active_opt(&self) -> Option<bool> {
        (self.r.flags & ACTIVE_KNOWN != 0).then_some(self.active())
    }
    pub fn guest(&self) -> bool {
        self.r.flags & GUEST != 0
    }
    /// A multi-channel guest's expiry, as sent (empty when none).
    pub fn guest_expiration(&self) -> &'a str {
        self.t.syms.get(self.r.guest_expiration)
    }
    /// The expiry as seconds since the epoch (a date alone is its last second), if it reads.
    pub fn guest_expires_at(&self) -> Option<i64> {
        let e = self.guest_expiration();
        if e.is_empty() {
            return None;
        }
        crate::scim::rules::iso_date(e, crate::scim::rules::DateEnd::End).ok().map(|d| d.unix)
    }
    pub fn account(&self) -> Account {
        if self.r.flags & BOT != 0 {
            Account::Bot
        } else if self.r.flags & OWNER != 0 {
            Account::PrimaryOwner
        } else {
            Account::Member
        }
    }
    /// The lowercased search key, `name \0 userName \0 email`.
    pub fn key(&self) -> &'a str {
        self.s(self.r.key)
    }
    pub fn name_lower(&self) -> &'a str {
        &self.key()[..self.r.cut.0 as usize]
    }
    pub fn user_name_lower(&self) -> &'a str {
        &self.key()[self.r.cut.0 as usize + 1..self.r.cut.1 as usize]
    }
    pub fn email_lower(&self) -> &'a str {
        &self.key()[self.r.cut.1 as usize + 1..]
    }
    /// Does this user match a lowercased query (a substring of name, userName or email)?
    #[inline]
    pub fn matches(&self, query_lower: &str) -> bool {
        query_lower.is_empty() || self.key().contains(query_lower)
    }
    /// The fields back (for comparisons and copies between tables).
    pub fn fields(&self) -> UserFields {
        UserFields {
            id: self.id().into(),
            name: self.name().into(),
            user_name: self.user_name().into(),
            email: self.email().into(),
            title: self.title().into(),
            department: self.department().into(),
            manager_id: self.manager_id().into(),
            roles: self.roles().into(),
            active: self.active_opt(),
            guest: self.guest(),
            guest_expiration: self.guest_expiration().into(),
            account: self.account(),
        }
    }
    /// Do two rows (of any tables) hold the same fields?
    pub fn same_as(&self, o: &UserRef) -> bool {
        self.r.flags == o.r.flags
            && self.id() == o.id()
            && self.name() == o.name()
            && self.user_name() == o.user_name()
            && self.email() == o.email()
            && self.title() == o.title()
            && self.department() == o.department()
            && self.manager_id() == o.manager_id()
            && self.roles() == o.roles()
            && self.guest_expiration() == o.guest_expiration()
    }
    /// What the gate needs to know about this user.
    pub fn facts(&self) -> UserFacts {
        let opt = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
        // Groups are not kept in the table (a group listing fills them in, see `Knowledge`);
        // the roles are their values, as the table keeps them (lowercased).
        let roles = self.roles().split(", ").filter(|r| !r.is_empty()).map(|r| Role::Text(r.to_string())).collect();
        UserFacts {
            active: self.active_opt(),
            email: opt(self.email()),
            // The table keeps the primary email only.
            emails: Vec::new(),
            user_name: opt(self.user_name()),
            account: self.account(),
            groups: None,
            roles,
        }
    }
    /// The target of an action on this user.
    pub fn target(&self) -> Target {
        let opt = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
        Target { id: opt(self.id()), email: opt(self.email()), user_name: opt(self.user_name()), display: opt(self.name()) }
    }
}

impl UserTable {
    pub fn new() -> UserTable {
        UserTable::default()
    }

    pub fn with_capacity(users: usize) -> UserTable {
        UserTable { rows: Vec::with_capacity(users), text: String::with_capacity(users * 100), ..UserTable::default() }
    }

    /// A table of these users (one page of a listing).
    pub fn from_users<'a>(users: impl IntoIterator<Item = &'a User>) -> UserTable {
        let mut t = UserTable::new();
        for u in users {
            t.upsert(u);
        }
        t
    }

    /// A table of these listed users (one page of a listing read as summaries).
    pub fn from_summaries(users: impl IntoIterator<Item = UserSummary>) -> UserTable {
        let mut t = UserTable::new();
        for s in users {
            t.upsert_fields(&UserFields::of_summary(s));
        }
        t
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    /// Heap bytes held (arena, rows, id index), for status lines and benches.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.rows.capacity() * std::mem::size_of::<Row>() + self.by_id.capacity() * 5
    }

    /// Arena bytes left behind by replaced rows.
    pub fn waste_bytes(&self) -> usize {
        self.waste
    }

    pub fn clear(&mut self) {
        *self = UserTable { hasher: std::mem::take(&mut self.hasher), ..UserTable::default() };
    }

    /// Row `i`. Panics when `i` is out of range, like slice indexing.
    pub fn get(&self, i: u32) -> UserRef<'_> {
        UserRef { t: self, r: &self.rows[i as usize], idx: i }
    }

    pub fn try_get(&self, i: u32) -> Option<UserRef<'_>> {
        self.rows.get(i as usize).map(|r| UserRef { t: self, r, idx: i })
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = UserRef<'_>> + '_ {
        self.rows.iter().enumerate().map(move |(i, r)| UserRef { t: self, r, idx: i as u32 })
    }

    fn id_of(&self, i: u32) -> &str {
        let sp = self.rows[i as usize].id;
        &self.text[sp.off as usize..(sp.off + sp.len) as usize]
    }

    pub fn index_of(&self, id: &str) -> Option<u32> {
        if id.is_empty() {
            return None;
        }
        let h = self.hasher.hash_one(id);
        self.by_id.find(h, |&i| self.id_of(i) == id).copied()
    }

    /// Exact, case-insensitive email match (a lowercased email).
    pub fn find_email(&self, email_lower: &str) -> Option<u32> {
        self.iter().position(|r| r.email_lower() == email_lower).map(|i| i as u32)
    }

    fn push_str(&mut self, s: &str) -> Span {
        let off = self.text.len() as u32;
        self.text.push_str(s);
        Span { off, len: s.len() as u32 }
    }

    /// Append `s` lowercased; returns its length.
    fn push_lower(&mut self, s: &str) -> u32 {
        let start = self.text.len();
        if s.is_ascii() {
            self.text.extend(s.bytes().map(|b| b.to_ascii_lowercase() as char));
        } else {
            for c in s.chars() {
                self.text.extend(c.to_lowercase());
            }
        }
        (self.text.len() - start) as u32
    }

    /// Would the arena outgrow its 32-bit offsets with `extra` more bytes?
    fn full(&self, extra: usize) -> bool {
        self.text.len() + extra * 3 + 16 > u32::MAX as usize
    }

    fn row_of(&mut self, f: &UserFields) -> Option<Row> {
        if self.full(f.id.len() + f.name.len() + f.user_name.len() * 2 + f.email.len() * 2 + f.manager_id.len()) {
            return None;
        }
        let id = self.push_str(&f.id);
        let name = self.push_str(&f.name);
        let kstart = self.text.len() as u32;
        let nl = self.push_lower(&f.name);
        self.text.push('\0');
        let ustart = self.text.len() as u32;
        let ul = self.push_lower(&f.user_name);
        self.text.push('\0');
        let estart = self.text.len() as u32;
        let el = self.push_lower(&f.email);
        let key = Span { off: kstart, len: self.text.len() as u32 - kstart };
        let cut = (nl, nl + 1 + ul);
        let user_name = if self.text[ustart as usize..(ustart + ul) as usize] == f.user_name {
            Span { off: ustart, len: ul }
        } else {
            self.push_str(&f.user_name)
        };
        let email = if self.text[estart as usize..(estart + el) as usize] == f.email {
            Span { off: estart, len: el }
        } else {
            self.push_str(&f.email)
        };
        let manager = self.push_str(&f.manager_id);
        let domain = f.email.rsplit_once('@').map(|(_, d)| d.to_lowercase()).unwrap_or_default();
        let mut flags = 0;
        if f.active == Some(true) {
            flags |= ACTIVE;
        }
        if f.active.is_some() {
            flags |= ACTIVE_KNOWN;
        }
        if f.guest {
            flags |= GUEST;
        }
        match f.account {
            Account::Bot => flags |= BOT,
            Account::PrimaryOwner => flags |= OWNER,
            Account::Member => {}
        }
        Some(Row {
            id,
            name,
            user_name,
            email,
            manager,
            key,
            cut,
            title: self.syms.intern(&f.title),
            department: self.syms.intern(&f.department),
            roles: self.syms.intern(&f.roles),
            domain: self.syms.intern(&domain),
            guest_expiration: self.syms.intern(&f.guest_expiration),
            flags,
        })
    }

    fn row_bytes(r: &Row) -> usize {
        // Spans that point into the key are not counted twice.
        let own = |sp: Span| if sp.off >= r.key.off && sp.off < r.key.off + r.key.len.max(1) { 0 } else { sp.len as usize };
        r.id.len as usize + r.name.len as usize + r.key.len as usize + own(r.user_name) + own(r.email) + r.manager.len as usize + 2
    }

    /// Insert or replace by id. Returns the index and whether it was new; `None` when the table
    /// is full (4 GiB of text).
    pub fn upsert_fields(&mut self, f: &UserFields) -> Option<(u32, bool)> {
        let row = self.row_of(f)?;
        if let Some(i) = self.index_of(&f.id) {
            self.waste += Self::row_bytes(&self.rows[i as usize]);
            self.rows[i as usize] = row;
            return Some((i, false));
        }
        let i = self.rows.len() as u32;
        self.rows.push(row);
        if !f.id.is_empty() {
            self.index_new(i);
        }
        Some((i, true))
    }

    /// Insert or replace a SCIM user by id (see [`UserTable::upsert_fields`]).
    pub fn upsert(&mut self, u: &User) -> (u32, bool) {
        self.upsert_fields(&UserFields::of(u)).unwrap_or((u32::MAX, false))
    }

    /// Make room for `total` users in all, going by the arena bytes per user of `like` (the
    /// first page), so that a table filled page by page grows once instead of doubling (each
    /// doubling holds the old and the new arrays at once, and leaves up to half unused). A
    /// total above [`RESERVE_MAX`] (it is the server's claim) reserves nothing, and so does
    /// one the machine cannot hold (a huge first user times a large total): the table then
    /// grows as pages come, as it would without a total.
    pub fn reserve_for(&mut self, total: u64, like: &UserTable) {
        if like.is_empty() || total > RESERVE_MAX {
            return;
        }
        let more = (total as usize).saturating_sub(self.len());
        let per_user = like.text.len().div_ceil(like.len());
        // A little over the sample's average: pages differ.
        let text = more.saturating_mul(per_user).saturating_add(more.saturating_mul(per_user) / 16);
        if self.text.try_reserve_exact(text).is_err() || self.rows.try_reserve_exact(more).is_err() {
            return;
        }
        let _ = self.by_id.try_reserve(more, id_hash(&self.text, &self.rows, &self.hasher));
    }

    /// Append another table's users (a page); known ids are replaced. Returns the new indices.
    pub fn extend_from(&mut self, other: &UserTable) -> Vec<u32> {
        // Growing by an eighth, not doubling: at most that much is held unused (large arrays are
        // mapped on their own, and grow in place).
        if self.rows.capacity() - self.rows.len() < other.len() {
            self.rows.reserve_exact(other.len().max(self.rows.len() / 8));
        }
        if self.text.capacity() - self.text.len() < other.text.len() {
            self.text.reserve_exact(other.text.len().max(self.text.len() / 8));
        }
        let mut added = Vec::with_capacity(other.len());
        for r in other.iter() {
            let run = |sp: &Span| sp.off >= r.r.id.off;
            let spans = [r.r.id, r.r.name, r.r.user_name, r.r.email, r.r.manager, r.r.key];
            let contiguous = spans.iter().all(run) && Self::row_end(r.r) - r.r.id.off <= Self::row_bytes(r.r) as u32 + 2;
            if !contiguous || self.index_of(r.id()).is_some() || self.full(other.text.len()) {
                if let Some((i, true)) = self.upsert_fields(&r.fields()) {
                    added.push(i);
                }
                continue;
            }
            // A new id: copy the row's strings as they are (the key is lowercased already).
            let base = self.text.len() as u32;
            let (start, end) = (r.r.id.off, Self::row_end(r.r));
            // Rows of a page are written contiguously (`row_of`): copy the run and shift spans.
            self.text.push_str(&other.text[start as usize..end as usize]);
            let shift = |sp: Span| Span { off: sp.off - start + base, len: sp.len };
            let row = Row {
                id: shift(r.r.id),
                name: shift(r.r.name),
                user_name: shift(r.r.user_name),
                email: shift(r.r.email),
                manager: shift(r.r.manager),
                key: shift(r.r.key),
                cut: r.r.cut,
                title: self.syms.intern(r.title()),
                department: self.syms.intern(r.department()),
                roles: self.syms.intern(r.roles()),
                domain: self.syms.intern(r.domain()),
                guest_expiration: self.syms.intern(r.guest_expiration()),
                flags: r.r.flags,
            };
            let i = self.rows.len() as u32;
            self.rows.push(row);
            self.index_new(i);
            added.push(i);
        }
        added
    }

    /// The end of the arena run a row written by `row_of` occupies.
    fn row_end(r: &Row) -> u32 {
        [r.id, r.name, r.user_name, r.email, r.manager, r.key].iter().map(|s| s.off + s.len).max().unwrap_or(0)
    }

    /// Index row `i` by its id (not already in the index).
    fn index_new(&mut self, i: u32) {
        let h = self.hasher.hash_one(self.id_of(i));
        self.by_id.insert_unique(h, i, id_hash(&self.text, &self.rows, &self.hasher));
    }

    /// A matcher for a lowercased query: build it once per keystroke, test each row with it.
    pub fn matcher(query_lower: &str) -> Matcher {
        Matcher { finder: (!query_lower.is_empty()).then(|| memchr::memmem::Finder::new(query_lower.as_bytes()).into_owned()) }
    }

    /// Insert or replace SCIM users by id. Returns the new indices.
    pub fn extend_users(&mut self, users: impl IntoIterator<Item = User>) -> Vec<u32> {
        let mut added = Vec::new();
        for u in users {
            if let (i, true) = self.upsert(&u) {
                added.push(i);
            }
        }
        added
    }

    /// Set a row's `active` (a finished (de)activation). Returns false when it was already so.
    pub fn set_active(&mut self, i: u32, active: bool) -> bool {
        let Some(r) = self.rows.get_mut(i as usize) else { return false };
        let before = r.flags;
        r.flags = (r.flags & !ACTIVE) | ACTIVE_KNOWN | if active { ACTIVE } else { 0 };
        before != r.flags
    }

    /// What the gate knows about these users, from the rows.
    pub fn knowledge_of<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Knowledge {
        let mut k = Knowledge::default();
        for id in ids {
            if let Some(i) = self.index_of(id) {
                k.insert(id.to_string(), self.get(i).facts());
            }
        }
        k
    }

    /// Merge one page of a refresh into this table in place: a listed user whose fields differ
    /// replaces its row, a new one is appended, and every row the page lists is marked seen in
    /// `r` (those never seen are gone at the end: [`Refresh::gone`]). A refresh so needs no
    /// second table of the whole directory beside the one on screen.
    pub fn merge_page(&mut self, page: &UserTable, r: &mut Refresh) {
        for row in page.iter() {
            match self.index_of(row.id()) {
                Some(j) => {
                    if !self.get(j).same_as(&row) {
                        self.upsert_fields(&row.fields());
                        r.changed.push(j);
                    }
                    if let Some(s) = r.seen.get_mut(j as usize) {
                        *s = true;
                    }
                }
                None => {
                    if let Some((i, true)) = self.upsert_fields(&row.fields()) {
                        r.added.push(i);
                    }
                }
            }
        }
    }

    /// A compact copy of the table without the rows `drop` names (and without the arena bytes
    /// replaced rows left behind). Indices change; ids do not.
    pub fn without(&self, drop: impl Fn(u32) -> bool) -> UserTable {
        let mut t = UserTable { hasher: self.hasher.clone(), ..UserTable::default() };
        t.rows.reserve_exact(self.len());
        t.text.reserve_exact(self.text.len() - self.waste.min(self.text.len()));
        for r in self.iter().filter(|r| !drop(r.idx)) {
            t.upsert_fields(&r.fields());
        }
        t
    }

    /// What changed from `old` to `self`, by id.
    pub fn diff(&self, old: &UserTable) -> Changes {
        let mut c = Changes::default();
        for r in self.iter() {
            match old.index_of(r.id()) {
                None => c.added.push(r.idx),
                Some(j) if !old.get(j).same_as(&r) => c.changed.push(r.idx),
                Some(_) => {}
            }
        }
        c.removed = old.iter().filter(|r| self.index_of(r.id()).is_none()).count();
        c
    }

    // ---- the cache file ----

    /// Write the table to `path` (a new owner-only file, renamed over the old one).
    pub fn write_cache(&self, path: &Path, fetched_at: i64) -> Result<(), CacheError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        crate::files::own_dir(dir).map_err(|e| CacheError::Io(dir.to_path_buf(), e))?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let write = || -> std::io::Result<()> {
            let f = crate::files::create_new_private(&tmp)?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            w.write_all(MAGIC)?;
            w.write_all(&fetched_at.to_le_bytes())?;
            w.write_all(&(self.syms.strings.len() as u32).to_le_bytes())?;
            for s in &self.syms.strings {
                w.write_all(&(s.len() as u32).to_le_bytes())?;
                w.write_all(s.as_bytes())?;
            }
            w.write_all(&(self.text.len() as u64).to_le_bytes())?;
            w.write_all(self.text.as_bytes())?;
            w.write_all(&(self.rows.len() as u32).to_le_bytes())?;
            let mut buf = Vec::with_capacity(ROW_BYTES);
            for r in &self.rows {
                buf.clear();
                for sp in [r.id, r.name, r.user_name, r.email, r.manager, r.key] {
                    buf.extend_from_slice(&sp.off.to_le_bytes());
                    buf.extend_from_slice(&sp.len.to_le_bytes());
                }
                for v in [r.cut.0, r.cut.1, r.title.0, r.department.0, r.roles.0, r.domain.0, r.guest_expiration.0] {
                    buf.extend_from_slice(&v.to_le_bytes());
                }
                buf.push(r.flags);
                w.write_all(&buf)?;
            }
            let f = w.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(CacheError::Io(path.to_path_buf(), e));
        }
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            CacheError::Io(path.to_path_buf(), e)
        })
    }

    /// Read a table written by [`UserTable::write_cache`], with the time its data was fetched
    /// (unix seconds). A file that is not one, or is damaged, is an error (never a panic).
    pub fn read_cache(path: &Path) -> Result<(UserTable, i64), CacheError> {
        let f = crate::files::open_own_read(path).map_err(|e| CacheError::Io(path.to_path_buf(), e))?;
        let mut r = std::io::BufReader::with_capacity(1 << 20, f);
        let bad = |what: &str| CacheError::Damaged(path.to_path_buf(), what.to_string());
        let io = |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                CacheError::Damaged(path.to_path_buf(), "the file ends early".into())
            } else {
                CacheError::Io(path.to_path_buf(), e)
            }
        };
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic).map_err(io)?;
        if &magic != MAGIC {
            return Err(bad("not a scimitar directory cache (or another version)"));
        }
        let mut b8 = [0u8; 8];
        let mut b4 = [0u8; 4];
        r.read_exact(&mut b8).map_err(io)?;
        let fetched_at = i64::from_le_bytes(b8);
        r.read_exact(&mut b4).map_err(io)?;
        let nsyms = u32::from_le_bytes(b4) as usize;
        if nsyms == 0 || nsyms > 1 << 24 {
            return Err(bad("implausible symbol count"));
        }
        let mut syms = Interner { strings: Vec::with_capacity(nsyms), index: HashMap::with_capacity(nsyms) };
        for n in 0..nsyms {
            r.read_exact(&mut b4).map_err(io)?;
            let len = u32::from_le_bytes(b4) as usize;
            if len > 1 << 20 {
                return Err(bad("implausible symbol length"));
            }
            let mut s = vec![0u8; len];
            r.read_exact(&mut s).map_err(io)?;
            let s = String::from_utf8(s).map_err(|_| bad("a symbol is not UTF-8"))?;
            if n == 0 && !s.is_empty() {
                return Err(bad("symbol 0 is not empty"));
            }
            syms.index.insert(s.clone().into(), n as u32);
            syms.strings.push(s.into());
        }
        r.read_exact(&mut b8).map_err(io)?;
        let tlen = u64::from_le_bytes(b8);
        if tlen > u32::MAX as u64 {
            return Err(bad("implausible text length"));
        }
        // Read into an exact allocation (never more than the file holds): growing by doubling
        // would briefly hold the arena twice.
        let file_len = r.get_ref().metadata().map(|m| m.len()).unwrap_or(0);
        let mut text = Vec::with_capacity(tlen.min(file_len) as usize);
        (&mut r).take(tlen).read_to_end(&mut text).map_err(io)?;
        if text.len() as u64 != tlen {
            return Err(bad("the file ends early"));
        }
        let text = String::from_utf8(text).map_err(|_| bad("the text is not UTF-8"))?;
        r.read_exact(&mut b4).map_err(io)?;
        let nrows = u32::from_le_bytes(b4) as usize;
        let mut t = UserTable { text, syms, rows: Vec::with_capacity(nrows.min(1 << 24)), ..UserTable::default() };
        let mut buf = [0u8; ROW_BYTES];
        for _ in 0..nrows {
            r.read_exact(&mut buf).map_err(io)?;
            let u = |i: usize| u32::from_le_bytes(buf[i * 4..i * 4 + 4].try_into().unwrap());
            let sp = |i: usize| Span { off: u(2 * i), len: u(2 * i + 1) };
            let row = Row {
                id: sp(0),
                name: sp(1),
                user_name: sp(2),
                email: sp(3),
                manager: sp(4),
                key: sp(5),
                cut: (u(12), u(13)),
                title: Sym(u(14)),
                department: Sym(u(15)),
                roles: Sym(u(16)),
                domain: Sym(u(17)),
                guest_expiration: Sym(u(18)),
                flags: buf[ROW_BYTES - 1],
            };
            if !t.row_is_sound(&row) {
                return Err(bad("a row points outside the file's text"));
            }
            let i = t.rows.len() as u32;
            t.rows.push(row);
            let id = t.id_of(i);
            if id.is_empty() || t.index_of(id).is_some() {
                return Err(bad("a row has no id, or one listed twice"));
            }
            t.index_new(i);
        }
        let mut rest = [0u8; 1];
        if r.read(&mut rest).map_err(io)? != 0 {
            return Err(bad("trailing bytes"));
        }
        Ok((t, fetched_at))
    }

    fn row_is_sound(&self, r: &Row) -> bool {
        let ok = |sp: Span| {
            let (a, b) = (sp.off as usize, sp.off as usize + sp.len as usize);
            b <= self.text.len() && self.text.is_char_boundary(a) && self.text.is_char_boundary(b)
        };
        let key_ok = ok(r.key) && {
            let k = &self.text[r.key.off as usize..(r.key.off + r.key.len) as usize];
            let (a, b) = (r.cut.0 as usize, r.cut.1 as usize);
            a < b && b < k.len() + 1 && k.as_bytes().get(a) == Some(&0) && k.as_bytes().get(b) == Some(&0)
        };
        let sym_ok = |s: Sym| (s.0 as usize) < self.syms.strings.len();
        [r.id, r.name, r.user_name, r.email, r.manager].into_iter().all(ok)
            && key_ok
            && [r.title, r.department, r.roles, r.domain, r.guest_expiration].into_iter().all(sym_ok)
    }
}

impl FromIterator<User> for UserTable {
    fn from_iter<I: IntoIterator<Item = User>>(iter: I) -> Self {
        let mut t = UserTable::new();
        t.extend_users(iter);
        t
    }
}

impl<'a> FromIterator<&'a User> for UserTable {
    fn from_iter<I: IntoIterator<Item = &'a User>>(iter: I) -> Self {
        UserTable::from_users(iter)
    }
}

/// A substring search over the rows' keys (SIMD `memmem`, its tables built once per query).
pub struct Matcher {
    finder: Option<memchr::memmem::Finder<'static>>,
}

impl Matcher {
    #[inline]
    pub fn matches(&self, r: UserRef<'_>) -> bool {
        self.finder.as_ref().is_none_or(|f| f.find(r.key().as_bytes()).is_some())
    }
}

/// The file's format: 2 added each row's guest expiry (a cache of format 1 is read as "another
/// version" and the directory is loaded afresh).
const MAGIC: &[u8; 8] = b"SCIMDIR2";
const ROW_BYTES: usize = 6 * 8 + 7 * 4 + 1;

/// What a refresh changed, against the table it replaces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Indices (in the new table) of users the old one did not have.
    pub added: Vec<u32>,
    /// Indices (in the new table) of users whose fields differ.
    pub changed: Vec<u32>,
    /// How many users of the old table are gone.
    pub removed: usize,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed == 0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{path}: {err}", path = .0.display(), err = .1)]
    Io(PathBuf, std::io::Error),
    #[error("{path}: {why}; it is ignored (`scimitar cache clear` removes it)", path = .0.display(), why = .1)]
    Damaged(PathBuf, String),
}

impl CacheError {
    pub fn is_missing(&self) -> bool {
        matches!(self, CacheError::Io(_, e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// The folder of the directory caches: `cache/` in the data dir.
pub fn cache_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("cache")
}

/// A profile's directory cache: `cache/<profile>.users` in the data dir (the profile name made
/// safe for a file name).
pub fn cache_path(data_dir: &Path, profile: &str) -> PathBuf {
    let safe: String = profile.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).take(64).collect();
    let safe = if safe.is_empty() { "default".to_string() } else { safe };
    cache_dir(data_dir).join(format!("{safe}.users"))
}

/// "3 min", "2 h", "5 days": how old a cache is.
pub fn age_text(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..7200 => format!("{} min", s / 60),
        7200..172_800 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim::types::{EnterpriseUser, Manager, MultiValue};

    fn user(i: usize, name: &str, active: bool) -> User {
        let handle = name.to_lowercase().replace(' ', ".");
        User {
            id: Some(format!("W{i:06}")),
            user_name: Some(handle.clone()),
            display_name: Some(name.into()),
            emails: Some(vec![MultiValue::email(format!("{handle}@Example.com"), true)]),
            title: Some(["Engineer", "Designer"][i % 2].into()),
            active: Some(active),
            enterprise: Some(EnterpriseUser {
                department: Some("Sales".into()),
                manager: Some(Manager { manager_id: Some("W000001".into()), ..Default::default() }),
                ..Default::default()
            }),
            roles: (i == 1).then(|| vec![Role::Text("Primary_Owner".into())]),
            ..Default::default()
        }
    }

    #[test]
    fn rows_keep_the_fields_cleaned_and_searchable() {
        let mut t = UserTable::new();
        let mut u = user(9, "Eve Évil", true);
        u.display_name = Some("Eve\u{1b}[31m Évil\u{7}".into());
        t.upsert(&u);
        t.upsert(&user(1, "Ann Lee", false));
        let r = t.get(0);
        assert_eq!(r.name(), "Eve Évil");
        assert_eq!(r.email(), "eve.évil@Example.com");
        assert_eq!(r.email_lower(), "eve.évil@example.com");
        assert_eq!(r.user_name(), "eve.évil");
        assert_eq!(r.domain(), "example.com");
        assert_eq!((r.title(), r.department(), r.manager_id()), ("Designer", "Sales", "W000001"));
        assert!(r.matches("eve évil") && r.matches("évil@exa") && !r.matches("ann"));
        let a = t.get(t.index_of("W000001").unwrap());
        assert_eq!(a.account(), Account::PrimaryOwner);
        assert_eq!(a.roles(), "primary_owner");
        assert_eq!(a.active_opt(), Some(false));
        // The roles as the table keeps them: their values, lowercased.
        let full = UserFacts::of(&user(1, "Ann Lee", false));
        assert_eq!(a.facts(), UserFacts { roles: vec![Role::Text("primary_owner".into())], emails: vec![], ..full });
        assert_eq!(t.index_of("nobody"), None);
    }

    #[test]
    fn upsert_replaces_by_id_and_diff_names_changes() {
        let mut t = UserTable::from_users(&[user(1, "Ann Lee", true), user(2, "Bob Ray", true), user(3, "Cy Po", true)]);
        let old = t.clone();
        let (i, new) = t.upsert(&user(2, "Bob Rayner", true));
        assert_eq!((i, new), (1, false));
        assert_eq!(t.get(1).name(), "Bob Rayner");
        assert_eq!(t.len(), 3);
        let page = UserTable::from_users(&[user(4, "Dee Dee", true), user(1, "Ann Lee", true)]);
        assert_eq!(t.extend_from(&page), vec![3]);
        let d = t.get(3);
        assert_eq!(
            (d.id(), d.name(), d.user_name(), d.email_lower(), d.title()),
            ("W000004", "Dee Dee", "dee.dee", "dee.dee@example.com", "Engineer")
        );
        assert_eq!(t.index_of("W000004"), Some(3));
        assert!(d.matches("dee.dee@ex"));
        let c = t.diff(&old);
        assert_eq!(c.added, vec![3]);
        assert_eq!(c.changed, vec![1]);
        assert_eq!(c.removed, 0);
        assert!(t.set_active(0, false));
        assert!(!t.set_active(0, false));
        assert_eq!(old.diff(&t).removed, 1);
    }

    #[cfg(unix)]
    #[test]
    fn the_cache_round_trips_owner_only_and_damage_is_an_error() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = cache_path(dir.path(), "acme/prod");
        assert!(path.ends_with("cache/acme_prod.users"));
        let t = UserTable::from_users(&(0..500).map(|i| user(i, &format!("User Ñame{i}"), i % 3 != 0)).collect::<Vec<_>>());
        t.write_cache(&path, 1_700_000_000).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let (back, at) = UserTable::read_cache(&path).unwrap();
        assert_eq!(at, 1_700_000_000);
        assert_eq!(back.len(), 500);
        assert!(back.diff(&t).is_empty() && t.diff(&back).is_empty());
        assert_eq!(back.get(back.index_of("W000007").unwrap()).name(), "User Ñame7");
        // Every truncation and a flipped byte anywhere are errors, never a panic.
        let bytes = std::fs::read(&path).unwrap();
        for cut in (0..bytes.len()).step_by(997) {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            assert!(matches!(UserTable::read_cache(&path), Err(CacheError::Damaged(..))), "cut at {cut}");
        }
        for at in (0..bytes.len()).step_by(331) {
            let mut b = bytes.clone();
            b[at] ^= 0xa5;
            std::fs::write(&path, &b).unwrap();
            let _ = UserTable::read_cache(&path);
        }
        assert!(UserTable::read_cache(&dir.path().join("none")).unwrap_err().is_missing());
    }
}

#[cfg(test)]
mod reserve_tests {
    use super::*;
    use scim::types::MultiValue;

    fn page(p: usize, n: usize) -> UserTable {
        let users: Vec<User> = (0..n)
            .map(|i| {
                let k = p * n + i;
                User {
                    id: Some(format!("W{k:08}")),
                    user_name: Some(format!("user.{k:06}")),
                    display_name: Some(format!("User Number {k:06}")),
                    emails: Some(vec![MultiValue::email(format!("user.{k:06}@example.com"), true)]),
                    active: Some(true),
                    ..Default::default()
                }
            })
            .collect();
        UserTable::from_users(&users)
    }

    #[test]
    fn a_table_filled_page_by_page_grows_once_when_the_total_is_known() {
        let (pages, per) = (40, 500);
        let mut reserved = UserTable::new();
        let mut grown = UserTable::new();
        for p in 0..pages {
            let items = page(p, per);
            if p == 0 {
                reserved.reserve_for((pages * per) as u64, &items);
            }
            reserved.extend_from(&items);
            grown.extend_from(&items);
        }
        assert_eq!(reserved.len(), pages * per);
        let needed = reserved.text.len() + reserved.rows.len() * std::mem::size_of::<Row>();
        let held = reserved.text.capacity() + reserved.rows.capacity() * std::mem::size_of::<Row>();
        assert!(held as f64 <= needed as f64 * 1.1, "reserved ahead: {held} bytes held for {needed}");
        assert!(reserved.heap_bytes() <= grown.heap_bytes(), "{} vs {}", reserved.heap_bytes(), grown.heap_bytes());
        assert_eq!(reserved.index_of("W00019999"), Some(19_999));
    }

    #[test]
    fn without_a_total_a_table_holds_at_most_an_eighth_unused() {
        let mut t = UserTable::new();
        for p in 0..40 {
            t.extend_from(&page(p, 500));
        }
        let needed = t.text.len() + t.rows.len() * std::mem::size_of::<Row>();
        let held = t.text.capacity() + t.rows.capacity() * std::mem::size_of::<Row>();
        assert!(held as f64 <= needed as f64 * 1.15, "{held} bytes held for {needed}");
    }

    #[test]
    fn a_total_no_table_could_hold_reserves_nothing() {
        let mut t = UserTable::new();
        let items = page(0, 10);
        t.reserve_for(u64::MAX, &items);
        t.reserve_for(RESERVE_MAX + 1, &items);
        assert!(t.heap_bytes() < 1 << 20, "{}", t.heap_bytes());
        t.extend_from(&items);
        assert_eq!(t.len(), 10);
    }

    #[test]
    fn a_huge_first_user_and_a_claimed_total_reserve_what_can_be_had_never_abort() {
        // A server's first page: one user with a 60,000-character name, and a total of 5,000,000:
        // 300 GB at that rate, more than any machine here holds.
        let u = User { id: Some("W1".into()), display_name: Some("x".repeat(60_000)), ..Default::default() };
        let page = UserTable::from_users(&[u]);
        let mut t = UserTable::new();
        t.reserve_for(RESERVE_MAX, &page);
        t.extend_from(&page);
        assert_eq!(t.len(), 1);
        assert_eq!(t.get(0).name().len(), 60_000);
    }
}
