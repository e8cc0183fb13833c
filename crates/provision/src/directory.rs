//! The compact directory: the handful of fields per user that list panes, lookups and the gate's
//! knowledge need, for a whole Slack org in a small footprint, searchable and sortable at frame
//! speed with a million users.
//!
//! - every user has a fixed-size [`Row`] (28 bytes: offsets, the id's and the key's part
//!   lengths, interned title, department and roles) and a [`Hot`] word pair (8 bytes: the key's character classes,
//!   the email's domain and the flags), kept apart so the scans that look at every user read 8
//!   bytes each;
//! - the search keys (`name \0 userName \0 email-part \0`, lowercased) are one contiguous buffer
//!   (`keys`), in row order: a query is one SIMD substring search over the whole buffer (each hit
//!   mapped to its row by a cursor that only moves forward), not a search per row;
//! - what a key already holds is not written again: the display name when it is the key's name
//!   in title case (`Ann Lee`), the userName and email when they are the key's (already
//!   lowercase); an email `local@domain` keeps only its local part in the key (nothing at all
//!   when that is the userName) and its domain as an interned symbol: `@domain` is matched once
//!   per distinct domain, not once per user;
//! - the rest (id, the names and emails that differ from their key, the manager's id) is one
//!   string arena (`text`), each row's strings behind a header of their lengths;
//! - ids are found through a hash table of row indices (4 bytes a user).
//!
//! Every display string is cleaned of control characters (`sanitize::clean`) when it arrives; the
//! id is kept as the server sent it (it addresses writes) and cleaned when shown.
//!
//! The full SCIM resource is not kept: the detail view and the edit form fetch it on demand.
//!
//! [`UserTable::search`] finds the rows matching a query (a [`Needle`]) into [`Bits`];
//! [`UserTable::sort_rows`] sorts rows by a column on compact keys (8-byte prefixes of the
//! lowercased value, refined only where they tie); [`UserTable::write_cache`] /
//! [`UserTable::read_cache`] save and load the table (the console's directory cache: an
//! owner-only file per profile, see `cache_path`).

use crate::queue::gate::{Account, UserFacts, account_from};
use crate::queue::{Knowledge, Target};
use scim::sanitize::clean;
use scim::types::{Role, User};
use scim::wire::UserSummary;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::BuildHasher;
/// `by_id`'s hasher: the ids are the org's own (as in the plan's tables), seeded per process.
type RandomState = foldhash::fast::RandomState;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// An interned value (0 is the empty string).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sym(u32);

impl Sym {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

// Flags (the low bits of `Hot::dom`).
const ACTIVE: u32 = 1;
/// The server said whether the user is active (`active` was present).
const ACTIVE_KNOWN: u32 = 1 << 1;
const GUEST: u32 = 1 << 2;
const BOT: u32 = 1 << 3;
const OWNER: u32 = 1 << 4;
/// The email (lowercased) is `userName@domain`: the key has no email part.
const EMAIL_USER: u32 = 1 << 5;
/// The email (lowercased) is `local@domain`: the key's email part is `local`.
const EMAIL_LOCAL: u32 = 1 << 6;
/// The display name is the key's name in title case (not in the arena).
const NAME_TITLE: u32 = 1 << 7;
/// The display name is the key's name as it is (not in the arena).
const NAME_LOWER: u32 = 1 << 8;
/// The row was replaced: its strings and key are past those of the rows after it (searched row
/// by row, see [`UserTable::search`]).
const KEY_MOVED: u32 = 1 << 9;
/// The id is ASCII without a lower-case letter (Slack's `W0ABC123`)...
const ID_NO_LOWER: u32 = 1 << 10;
/// ...or without an upper-case one (a UUID): a case-insensitive search is an exact one.
const ID_NO_UPPER: u32 = 1 << 11;
const FLAG_BITS: u32 = 12;
/// Domains beyond this many distinct values stay in the key (never reached by a real org).
const MAX_DOMAIN_SYM: u32 = (1 << (32 - FLAG_BITS)) - 1;

/// One user, fixed-size: where its strings are, and what is interned.
#[derive(Clone, Copy, Debug, Default)]
struct Row {
    /// The row's strings in `text`: the id (`id_len` bytes), a header of lengths (name,
    /// userName, email, manager; 0 for those not written, one char each), then the strings.
    text: u32,
    id_len: u16,
    /// The row's key in `keys`: `name \0 userName \0 email-part \0`, lowercased.
    key: u32,
    /// Lengths of the key's three parts.
    nl: u16,
    ul: u16,
    el: u16,
    title: Sym,
    department: Sym,
    roles: Sym,
    /// A multi-channel guest's expiry as sent (empty: none).
    guest_expiration: Sym,
}

/// What the scans over every user read: a bit per character class present in the key, and the
/// email's domain (interned) with the flags.
#[derive(Clone, Copy, Debug, Default)]
struct Hot {
    mask: u32,
    /// `domain sym << FLAG_BITS | flags`.
    dom: u32,
}

impl Hot {
    fn flags(self) -> u32 {
        self.dom & ((1 << FLAG_BITS) - 1)
    }
    fn domain(self) -> Sym {
        Sym(self.dom >> FLAG_BITS)
    }
}

/// The character class bit of a (lowercased) key byte.
#[inline]
fn class_bit(b: u8) -> u32 {
    match b {
        b'a'..=b'z' => 1 << (b - b'a'),
        b'0'..=b'9' => 1 << 26,
        b'.' => 1 << 27,
        b' ' => 1 << 28,
        b'@' => 1 << 29,
        b'-' | b'_' => 1 << 30,
        _ => 1 << 31,
    }
}

/// Is a byte's class its own (a key with the bit holds the byte)?
fn class_is_exact(b: u8) -> bool {
    matches!(b, b'a'..=b'z' | b'.' | b' ' | b'@')
}

fn mask_of(s: &[u8]) -> u32 {
    s.iter().fold(0, |m, &b| if b == 0 { m } else { m | class_bit(b) })
}

/// `ann lee` -> `Ann Lee` (ASCII: each letter after the start, a space, `-`, `'` or `.` upper
/// case); `None` when not ASCII.
fn title_case(lower: &str) -> Option<String> {
    if !lower.is_ascii() {
        return None;
    }
    let mut out = String::with_capacity(lower.len());
    let mut start = true;
    for b in lower.bytes() {
        out.push(if start { b.to_ascii_uppercase() } else { b } as char);
        start = matches!(b, b' ' | b'-' | b'\'' | b'.');
    }
    Some(out)
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

/// From this many rows on, a search of the keys runs on two cores (in this crate's tests, from
/// 300 rows: the tables of a few hundred rows there check the two-core paths against a test
/// of each row).
const SPLIT_SCAN: usize = if cfg!(test) { 300 } else { 200_000 };

/// From this many tied rows on, a sort of a whole table reads their next keys in row order
/// ([`UserTable::sort_rows`]).
const GATHER_MIN: usize = if cfg!(test) { 50 } else { 20_000 };

/// Sort `v`; from [`SPLIT_SCAN`] items on, split at the median and the halves sorted on two
/// cores.
fn sort_two_cores<T: Ord + Send>(v: &mut [T]) {
    // (Rows in an order close to the key's, as ids often are, sort fastest on one core.)
    if v.len() < SPLIT_SCAN || v.is_sorted() {
        v.sort_unstable();
        return;
    }
    let mid = v.len() / 2;
    v.select_nth_unstable(mid);
    let (front, back) = v.split_at_mut(mid);
    std::thread::scope(|sc| {
        sc.spawn(|| back.sort_unstable());
        front.sort_unstable();
    });
}

/// No manager row ([`UserTable::manager_rows`]).
pub const NO_MANAGER: u32 = u32::MAX;

/// The most users [`UserTable::reserve_for`] makes room for ahead.
pub const RESERVE_MAX: u64 = 5_000_000;

/// The longest part of a key (a longer name, userName or email is searched by its start; the
/// display string keeps all of it).
const KEY_PART_MAX: usize = u16::MAX as usize;

/// A set of rows, a bit each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bits {
    words: Vec<u64>,
    len: usize,
}

impl Bits {
    /// `len` rows, none set.
    pub fn none(len: usize) -> Bits {
        Bits { words: vec![0; len.div_ceil(64)], len }
    }
    /// `len` rows, all set.
    pub fn all(len: usize) -> Bits {
        let mut b = Bits { words: vec![u64::MAX; len.div_ceil(64)], len };
        b.trim();
        b
    }
    fn trim(&mut self) {
        if !self.len.is_multiple_of(64)
            && let Some(w) = self.words.last_mut()
        {
            *w &= (1u64 << (self.len % 64)) - 1;
        }
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    #[inline]
    pub fn get(&self, i: u32) -> bool {
        let i = i as usize;
        i < self.len && self.words[i / 64] & (1 << (i % 64)) != 0
    }
    #[inline]
    pub fn set(&mut self, i: u32) {
        let i = i as usize;
        if i < self.len {
            self.words[i / 64] |= 1 << (i % 64);
        }
    }
    #[inline]
    pub fn unset(&mut self, i: u32) {
        let i = i as usize;
        if i < self.len {
            self.words[i / 64] &= !(1 << (i % 64));
        }
    }
    /// How many rows are in the set.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }
    /// The rows in the set, ascending.
    pub fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros();
                w &= w - 1;
                Some((wi * 64) as u32 + b)
            })
        })
    }
    /// Keep only the rows `keep` says yes to (asked for each row in the set, ascending).
    pub fn retain(&mut self, mut keep: impl FnMut(u32) -> bool) {
        for (wi, w) in self.words.iter_mut().enumerate() {
            let mut rest = *w;
            while rest != 0 {
                let b = rest.trailing_zeros();
                rest &= rest - 1;
                if !keep((wi * 64) as u32 + b) {
                    *w &= !(1 << b);
                }
            }
        }
    }
    /// [`Bits::retain`], from [`SPLIT_SCAN`] rows on in two halves on two cores.
    pub fn retain_par(&mut self, keep: impl Fn(u32) -> bool + Sync) {
        let len = self.len;
        par_words(&mut self.words, len, |base, words| {
            for (wi, w) in words.iter_mut().enumerate() {
                let mut rest = *w;
                while rest != 0 {
                    let b = rest.trailing_zeros();
                    rest &= rest - 1;
                    if !keep((base + wi * 64) as u32 + b) {
                        *w &= !(1 << b);
                    }
                }
            }
        });
    }
    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8
    }
}

/// `f(first row, words)` over a set's words (`len` rows): from [`SPLIT_SCAN`] rows on, the two
/// halves on two cores.
fn par_words(words: &mut [u64], len: usize, f: impl Fn(usize, &mut [u64]) + Sync) {
    if len >= SPLIT_SCAN {
        let half = words.len() / 2;
        let (front, back) = words.split_at_mut(half);
        std::thread::scope(|sc| {
            sc.spawn(|| f(half * 64, back));
            f(0, front);
        });
    } else {
        f(0, words);
    }
}

/// Set the bit of each row `hit` says yes to, among the rows `len` words cover.
fn fill_words(words: &mut [u64], len: usize, hit: impl Fn(usize) -> bool + Sync) {
    par_words(words, len, |base, words| {
        for (w, word) in words.iter_mut().enumerate() {
            let b0 = base + w * 64;
            let mut acc = *word;
            for i in b0..(b0 + 64).min(len) {
                if acc & (1 << (i - b0)) == 0 && hit(i) {
                    acc |= 1 << (i - b0);
                }
            }
            *word = acc;
        }
    });
}

/// A lowercased query, made ready to test rows against (build it once per keystroke with
/// [`UserTable::needle`]): a SIMD substring search over the keys, the character classes it
/// needs, and which email domains hold it.
pub struct Needle {
    text: String,
    finder: Option<memchr::memmem::Finder<'static>>,
    mask: u32,
    /// One byte whose class is exact: the mask alone says whether a key holds it.
    by_mask: bool,
    /// Split at the last `@`: (before, after).
    at: Option<(String, String)>,
    /// Per symbol: for a needle without `@`, does the domain hold it; with one, does the domain
    /// start with what follows it.
    domain_hit: Vec<bool>,
    any_domain_hit: bool,
}

impl std::fmt::Debug for Needle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Needle").field("text", &self.text).finish_non_exhaustive()
    }
}

impl Needle {
    pub fn text(&self) -> &str {
        &self.text
    }
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    #[inline]
    fn in_bytes(&self, hay: &[u8]) -> bool {
        self.finder.as_ref().is_none_or(|f| f.find(hay).is_some())
    }

    #[inline]
    fn in_key(&self, t: &UserTable, i: usize, hot: Hot) -> bool {
        if hot.mask & self.mask != self.mask {
            return false;
        }
        if self.by_mask {
            return true;
        }
        self.in_bytes(t.key_bytes(i))
    }

    /// The email's domain part: the needle lies in `@domain`, or spans the `@`.
    #[inline]
    fn in_domain(&self, t: &UserTable, i: usize, hot: Hot) -> bool {
        if hot.flags() & (EMAIL_USER | EMAIL_LOCAL) == 0 || !self.domain_hit.get(hot.domain().index()).copied().unwrap_or(false) {
            return false;
        }
        match &self.at {
            None => true,
            Some((before, _)) => before.is_empty() || t.local_lower(i).ends_with(before.as_str()),
        }
    }

    /// Does row `i` hold the needle in its name, userName or email?
    #[inline]
    fn matches_row(&self, t: &UserTable, i: usize) -> bool {
        if self.text.is_empty() {
            return true;
        }
        let hot = t.hot[i];
        self.in_key(t, i, hot) || (self.any_domain_hit && self.in_domain(t, i, hot))
    }

    /// Does this user hold the needle in name, userName or email?
    #[inline]
    pub fn matches(&self, r: UserRef<'_>) -> bool {
        self.matches_row(r.t, r.idx as usize)
    }

    /// In the (lowercased) name?
    pub fn in_name(&self, r: UserRef<'_>) -> bool {
        self.in_bytes(r.name_lower().as_bytes())
    }

    /// In the (lowercased) userName?
    pub fn in_user_name(&self, r: UserRef<'_>) -> bool {
        self.in_bytes(r.user_name_lower().as_bytes())
    }

    /// In the (lowercased) email?
    pub fn in_email(&self, r: UserRef<'_>) -> bool {
        let (t, i) = (r.t, r.idx as usize);
        let hot = t.hot[i];
        if hot.flags() & (EMAIL_USER | EMAIL_LOCAL) == 0 {
            return self.in_bytes(r.email_part().as_bytes());
        }
        self.in_bytes(t.local_lower(i).as_bytes()) || (self.any_domain_hit && self.in_domain(t, i, hot))
    }
}

/// The columns rows sort by ([`UserTable::sort_rows`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    /// Lowercased name, userName, email (byte order).
    Name,
    UserName,
    Email,
    /// Title and department without regard to ASCII case.
    Title,
    Department,
    /// Active users first.
    Active,
    /// The id as sent.
    Id,
    /// The role values (kept lowercased).
    Roles,
    /// Guests by expiry (soonest first), then guests without one, then members.
    Expires,
}

/// The Expires sort's key of a row ([`SortBy::Expires`]).
fn expires_key(r: UserRef<'_>) -> (u8, i64) {
    match (r.guest(), r.guest_expires_at()) {
        (true, Some(at)) => (0, at),
        (true, None) => (1, 0),
        (false, _) => (2, 0),
    }
}

/// The compact directory (see the module docs). Rows are addressed by index (`u32`), in arrival
/// order; an upsert of a known id replaces its row in place.
#[derive(Clone, Default)]
pub struct UserTable {
    /// Each row's header and strings.
    text: String,
    /// The search keys, in row order (but for `moved` rows).
    keys: String,
    rows: Vec<Row>,
    hot: Vec<Hot>,
    syms: Interner,
    by_id: hashbrown::HashTable<u32>,
    hasher: RandomState,
    /// Arena bytes no row refers to any more (replaced rows; a reload builds a fresh table).
    waste: usize,
    /// Rows whose key was replaced by a longer one, written at the end of `keys`.
    moved: Vec<u32>,
    /// The character classes of every id, lowercased ([`class_bit`]): an id search for a
    /// character no id holds ends at once.
    id_classes: u32,
}

impl std::fmt::Debug for UserTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserTable")
            .field("users", &self.rows.len())
            .field("text_bytes", &self.text.len())
            .field("key_bytes", &self.keys.len())
            .finish()
    }
}

/// One user of a [`UserTable`].
#[derive(Clone, Copy)]
pub struct UserRef<'a> {
    t: &'a UserTable,
    idx: u32,
}

impl std::fmt::Debug for UserRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRef").field("idx", &self.idx).field("id", &self.id()).finish()
    }
}

/// A length as one char (the arena stays UTF-8): below U+D800 as is, above it past the surrogates.
fn len_char(n: usize) -> char {
    let v = n as u32;
    char::from_u32(if v < 0xD800 { v } else { v + 0x800 }).unwrap_or('\0')
}

fn char_len(c: char) -> usize {
    let v = c as u32;
    (if v < 0xD800 { v } else { v - 0x800 }) as usize
}

/// The longest string a row keeps (one length char).
const TEXT_FIELD_MAX: usize = 0x10FFFF - 0x800;

/// `s` cut to at most `max` bytes, at a char boundary.
fn cap(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (&s[..end], true)
}

fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) || !s.is_ascii() {
        if s.is_ascii() { Cow::Owned(s.to_ascii_lowercase()) } else { Cow::Owned(s.to_lowercase()) }
    } else {
        Cow::Borrowed(s)
    }
}

/// A row's strings in `text`: (start, len) of id, name, userName, email, manager.
#[derive(Clone, Copy, Debug)]
struct Spans([(usize, usize); 5]);

const ID: usize = 0;
const NAME: usize = 1;
const USER: usize = 2;
const EMAIL: usize = 3;
const MANAGER: usize = 4;

/// What a row is made of before it is placed.
struct Built<'f> {
    key: String,
    nl: usize,
    ul: usize,
    el: usize,
    flags: u32,
    domain: String,
    /// The strings to write into `text` (empty when the key holds them).
    strings: [&'f str; 5],
}

fn build(f: &UserFields) -> Option<Built<'_>> {
    if f.id.len() > u16::MAX as usize {
        return None;
    }
    let (nlow, ulow, elow) = (lower(&f.name), lower(&f.user_name), lower(&f.email));
    let (nk, ncut) = cap(&nlow, KEY_PART_MAX);
    let (uk, ucut) = cap(&ulow, KEY_PART_MAX);
    let mut flags = 0;
    let (ek, domain): (&str, &str) = match elow.rsplit_once('@') {
        Some((l, d)) if !ucut && l == uk => {
            flags |= EMAIL_USER;
            ("", d)
        }
        Some((l, d)) if l.len() <= KEY_PART_MAX => {
            flags |= EMAIL_LOCAL;
            (l, d)
        }
        _ => (cap(&elow, KEY_PART_MAX).0, ""),
    };
    let ecut = flags & (EMAIL_USER | EMAIL_LOCAL) == 0 && ek.len() < elow.len();
    let mut key = String::with_capacity(nk.len() + uk.len() + ek.len() + 3);
    for part in [nk, uk, ek] {
        key.push_str(part);
        key.push('\0');
    }
    if !ncut && f.name == nk {
        flags |= NAME_LOWER;
    } else if !ncut && title_case(nk).is_some_and(|t| t == f.name) {
        flags |= NAME_TITLE;
    }
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
    let text_cap = |s: &'_ str| -> bool { s.len() <= TEXT_FIELD_MAX };
    let name = if flags & (NAME_LOWER | NAME_TITLE) != 0 { "" } else { cap(&f.name, TEXT_FIELD_MAX).0 };
    let user = if !ucut && f.user_name == uk { "" } else { cap(&f.user_name, TEXT_FIELD_MAX).0 };
    let email = if !ecut && f.email == *elow { "" } else { cap(&f.email, TEXT_FIELD_MAX).0 };
    let manager = cap(&f.manager_id, TEXT_FIELD_MAX).0;
    debug_assert!(text_cap(&f.id));
    Some(Built {
        nl: nk.len(),
        ul: uk.len(),
        el: ek.len(),
        flags,
        domain: domain.to_string(),
        strings: [&f.id, name, user, email, manager],
        key,
    })
}

impl<'a> UserRef<'a> {
    fn row(&self) -> &'a Row {
        &self.t.rows[self.idx as usize]
    }
    fn flags(&self) -> u32 {
        self.t.hot[self.idx as usize].flags()
    }
    fn span(&self, which: usize) -> &'a str {
        if which == ID {
            return self.t.id_of(self.idx);
        }
        let (s, l) = self.t.spans(self.idx as usize).0[which];
        &self.t.text[s..s + l]
    }
    pub fn index(&self) -> u32 {
        self.idx
    }
    /// The id as the server sent it (clean it before showing it: [`UserRef::id_shown`]).
    pub fn id(&self) -> &'a str {
        self.span(ID)
    }
    /// The id, cleaned for a terminal.
    pub fn id_shown(&self) -> Cow<'a, str> {
        let id = self.id();
        if id.chars().any(char::is_control) { Cow::Owned(clean(id)) } else { Cow::Borrowed(id) }
    }
    pub fn name(&self) -> Cow<'a, str> {
        let f = self.flags();
        if f & NAME_LOWER != 0 {
            Cow::Borrowed(self.name_lower())
        } else if f & NAME_TITLE != 0 {
            title_case(self.name_lower()).map_or(Cow::Borrowed(self.name_lower()), Cow::Owned)
        } else {
            Cow::Borrowed(self.span(NAME))
        }
    }
    pub fn user_name(&self) -> &'a str {
        let s = self.t.spans(self.idx as usize).0[USER];
        if s.1 > 0 { &self.t.text[s.0..s.0 + s.1] } else { self.user_name_lower() }
    }
    pub fn email(&self) -> Cow<'a, str> {
        let s = self.t.spans(self.idx as usize).0[EMAIL];
        if s.1 > 0 { Cow::Borrowed(&self.t.text[s.0..s.0 + s.1]) } else { self.email_lower() }
    }
    pub fn title(&self) -> &'a str {
        self.t.syms.get(self.row().title)
    }
    pub fn department(&self) -> &'a str {
        self.t.syms.get(self.row().department)
    }
    /// `enterprise.manager.managerId` (empty when none).
    pub fn manager_id(&self) -> &'a str {
        self.span(MANAGER)
    }
    /// The role values, lowercased and `, `-joined (empty when none).
    pub fn roles(&self) -> &'a str {
        self.t.syms.get(self.row().roles)
    }
    /// The email's domain, lowercased (empty when the email has no `@`).
    pub fn domain(&self) -> &'a str {
        self.t.syms.get(self.t.hot[self.idx as usize].domain())
    }
    pub fn title_sym(&self) -> Sym {
        self.row().title
    }
    pub fn department_sym(&self) -> Sym {
        self.row().department
    }
    pub fn roles_sym(&self) -> Sym {
        self.row().roles
    }
    pub fn active(&self) -> bool {
        self.flags() & ACTIVE != 0
    }
    /// `active` as the server sent it (`None`: absent).
    pub fn active_opt(&self) -> Option<bool> {
        (self.flags() & ACTIVE_KNOWN != 0).then_some(self.active())
    }
    /// A multi-channel guest's expiry, as sent (empty when none).
    pub fn guest_expiration(&self) -> &'a str {
        self.t.syms.get(self.row().guest_expiration)
    }
    /// The expiry as seconds since the epoch (a date alone is its last second), if it reads.
    pub fn guest_expires_at(&self) -> Option<i64> {
        let e = self.guest_expiration();
        if e.is_empty() {
            return None;
        }
        crate::scim::rules::iso_date(e, crate::scim::rules::DateEnd::End).ok().map(|d| d.unix)
    }
    pub fn guest(&self) -> bool {
        self.flags() & GUEST != 0
    }
    pub fn account(&self) -> Account {
        let f = self.flags();
        if f & BOT != 0 {
            Account::Bot
        } else if f & OWNER != 0 {
            Account::PrimaryOwner
        } else {
            Account::Member
        }
    }
    /// The lowercased search key, `name \0 userName \0 email-part` (the email's part is empty
    /// when it is `userName@domain`, its local part when it has a domain).
    pub fn key(&self) -> &'a str {
        let r = self.row();
        let end = r.key as usize + r.nl as usize + r.ul as usize + r.el as usize + 2;
        &self.t.keys[r.key as usize..end]
    }
    pub fn name_lower(&self) -> &'a str {
        let r = self.row();
        &self.t.keys[r.key as usize..r.key as usize + r.nl as usize]
    }
    pub fn user_name_lower(&self) -> &'a str {
        let r = self.row();
        let s = r.key as usize + r.nl as usize + 1;
        &self.t.keys[s..s + r.ul as usize]
    }
    /// The key's email part.
    fn email_part(&self) -> &'a str {
        let r = self.row();
        let s = r.key as usize + r.nl as usize + r.ul as usize + 2;
        &self.t.keys[s..s + r.el as usize]
    }
    pub fn email_lower(&self) -> Cow<'a, str> {
        let f = self.flags();
        if f & (EMAIL_USER | EMAIL_LOCAL) != 0 {
            Cow::Owned(format!("{}@{}", self.t.local_lower(self.idx as usize), self.domain()))
        } else {
            Cow::Borrowed(self.email_part())
        }
    }
    /// Does this user match a lowercased query (a substring of name, userName or email)? For
    /// many rows, make a [`Needle`] once ([`UserTable::needle`]).
    pub fn matches(&self, query_lower: &str) -> bool {
        self.t.needle(query_lower).matches(*self)
    }
    /// The fields back (for comparisons and copies between tables).
    pub fn fields(&self) -> UserFields {
        UserFields {
            id: self.id().into(),
            name: self.name().into_owned(),
            user_name: self.user_name().into(),
            email: self.email().into_owned(),
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
        const SEEN: u32 = ACTIVE | ACTIVE_KNOWN | GUEST | BOT | OWNER;
        self.flags() & SEEN == o.flags() & SEEN
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
            email: opt(&self.email()),
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
        Target { id: opt(self.id()), email: opt(&self.email()), user_name: opt(self.user_name()), display: opt(&self.name()) }
    }
}

/// How `by_id` hashes an entry (row `j`, keyed by its id) when it moves them (growing).
fn id_hash<'a>(t: &'a UserTable) -> impl Fn(&u32) -> u64 + 'a {
    move |&j| t.hasher.hash_one(t.id_of(j))
}

impl UserTable {
    pub fn new() -> UserTable {
        UserTable::default()
    }

    pub fn with_capacity(users: usize) -> UserTable {
        UserTable {
            rows: Vec::with_capacity(users),
            hot: Vec::with_capacity(users),
            text: String::with_capacity(users * 32),
            keys: String::with_capacity(users * 48),
            ..UserTable::default()
        }
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
    /// Heap bytes held (arenas, rows, id index), for status lines and benches.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity()
            + self.keys.capacity()
            + self.rows.capacity() * std::mem::size_of::<Row>()
            + self.hot.capacity() * std::mem::size_of::<Hot>()
            + self.by_id.capacity() * 5
            + self.moved.capacity() * 4
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
        assert!((i as usize) < self.rows.len(), "row {i} of {}", self.rows.len());
        UserRef { t: self, idx: i }
    }

    pub fn try_get(&self, i: u32) -> Option<UserRef<'_>> {
        ((i as usize) < self.rows.len()).then_some(UserRef { t: self, idx: i })
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = UserRef<'_>> + '_ {
        (0..self.rows.len() as u32).map(move |idx| UserRef { t: self, idx })
    }

    /// A row's strings, from its header.
    fn spans(&self, i: usize) -> Spans {
        let r = &self.rows[i];
        let mut pos = r.text as usize + r.id_len as usize;
        let mut lens = [0usize; 4];
        for l in &mut lens {
            let c = self.text[pos..].chars().next().unwrap_or('\0');
            *l = char_len(c);
            pos += c.len_utf8();
        }
        let mut out = [(r.text as usize, r.id_len as usize); 5];
        for (o, l) in out[1..].iter_mut().zip(lens) {
            *o = (pos, l);
            pos += l;
        }
        Spans(out)
    }

    /// The end of row `i`'s strings in `text`.
    fn text_end(&self, i: usize) -> usize {
        let s = self.spans(i).0[MANAGER];
        s.0 + s.1
    }

    /// The character classes of row `i`'s id, lowercased.
    fn id_classes_of(&self, i: usize) -> u32 {
        let id = self.id_of(i as u32);
        // Unicode lower-casing can make an ASCII letter of another character (K, the Kelvin
        // sign): a table with such an id skips nothing.
        if id.is_ascii() { id.bytes().fold(0, |m, c| m | class_bit(c.to_ascii_lowercase())) } else { u32::MAX }
    }

    #[inline]
    fn id_of(&self, i: u32) -> &str {
        let r = &self.rows[i as usize];
        &self.text[r.text as usize..r.text as usize + r.id_len as usize]
    }

    /// Row `i`'s key, without its last separator.
    #[inline]
    fn key_bytes(&self, i: usize) -> &[u8] {
        let r = &self.rows[i];
        let s = r.key as usize;
        &self.keys.as_bytes()[s..s + r.nl as usize + r.ul as usize + r.el as usize + 2]
    }

    /// The bytes row `i`'s key takes in `keys` (with its last separator).
    fn key_region(&self, i: usize) -> usize {
        let r = &self.rows[i];
        r.nl as usize + r.ul as usize + r.el as usize + 3
    }

    /// The email's local part, lowercased (the userName when the email is `userName@domain`).
    fn local_lower(&self, i: usize) -> &str {
        let r = &self.rows[i];
        let f = self.hot[i].flags();
        let k = r.key as usize;
        if f & EMAIL_USER != 0 {
            &self.keys[k + r.nl as usize + 1..k + r.nl as usize + 1 + r.ul as usize]
        } else if f & EMAIL_LOCAL != 0 {
            let s = k + r.nl as usize + r.ul as usize + 2;
            &self.keys[s..s + r.el as usize]
        } else {
            ""
        }
    }

    pub fn index_of(&self, id: &str) -> Option<u32> {
        if id.is_empty() {
            return None;
        }
        let h = self.hasher.hash_one(id);
        self.by_id.find(h, |&i| self.id_of(i) == id).copied()
    }

    /// For each row, the row of its manager (`NO_MANAGER`: none, or not loaded). A hash lookup
    /// per row: from [`SPLIT_SCAN`] rows on, two halves on two cores.
    pub fn manager_rows(&self) -> Vec<u32> {
        let len = self.rows.len();
        let mut out = vec![NO_MANAGER; len];
        let fill = |lo: usize, part: &mut [u32]| {
            for (k, slot) in part.iter_mut().enumerate() {
                let i = lo + k;
                let s = self.spans(i).0[MANAGER];
                if s.1 > 0
                    && let Some(m) = self.index_of(&self.text[s.0..s.0 + s.1])
                {
                    *slot = m;
                }
            }
        };
        if len >= SPLIT_SCAN {
            let (front, back) = out.split_at_mut(len / 2);
            std::thread::scope(|sc| {
                sc.spawn(|| fill(len / 2, back));
                fill(0, front);
            });
        } else {
            fill(0, &mut out);
        }
        out
    }

    /// Exact, case-insensitive email match (a lowercased email).
    pub fn find_email(&self, email_lower: &str) -> Option<u32> {
        let (local, domain) = email_lower.rsplit_once('@').unwrap_or((email_lower, ""));
        let dom = self.syms.index.get(domain).copied();
        (0..self.rows.len()).find_map(|i| {
            let f = self.hot[i].flags();
            let hit = if f & (EMAIL_USER | EMAIL_LOCAL) != 0 {
                Some(self.hot[i].domain().0) == dom && self.local_lower(i) == local
            } else {
                self.get(i as u32).email_part() == email_lower
            };
            hit.then_some(i as u32)
        })
    }

    /// Would the arenas outgrow their 32-bit offsets?
    fn full(&self, text: usize, keys: usize) -> bool {
        self.text.len() + text + 64 > u32::MAX as usize || self.keys.len() + keys + 16 > u32::MAX as usize
    }

    /// Write `b`'s strings into `text`; the row's offset.
    fn put_text(&mut self, b: &Built) -> u32 {
        let at = self.text.len() as u32;
        self.text.push_str(b.strings[ID]);
        for s in &b.strings[1..] {
            self.text.push(len_char(s.len()));
        }
        for s in &b.strings[1..] {
            self.text.push_str(s);
        }
        at
    }

    /// The row and hot words for `b`, its strings written into `text`, its key at `key`.
    fn make(&mut self, b: &Built, key: u32) -> (Row, Hot) {
        let text = self.put_text(b);
        let mut flags = b.flags;
        let mut dom = 0;
        if flags & (EMAIL_USER | EMAIL_LOCAL) != 0 {
            dom = self.syms.intern(&b.domain).0;
        }
        if dom > MAX_DOMAIN_SYM {
            // Never in a real org: such an email is searched as a whole (see `upsert_fields`).
            flags &= !(EMAIL_USER | EMAIL_LOCAL);
            dom = 0;
        }
        let id = b.strings[ID];
        self.id_classes |= if id.is_ascii() { id.bytes().fold(0, |m, c| m | class_bit(c.to_ascii_lowercase())) } else { u32::MAX };
        if id.is_ascii() && !id.bytes().any(|c| c.is_ascii_lowercase()) {
            flags |= ID_NO_LOWER;
        }
        if id.is_ascii() && !id.bytes().any(|c| c.is_ascii_uppercase()) {
            flags |= ID_NO_UPPER;
        }
        let row = Row {
            text,
            id_len: id.len() as u16,
            key,
            nl: b.nl as u16,
            ul: b.ul as u16,
            el: b.el as u16,
            title: Sym(0),
            department: Sym(0),
            roles: Sym(0),
            guest_expiration: Sym(0),
        };
        (row, Hot { mask: mask_of(b.key.as_bytes()), dom: dom << FLAG_BITS | flags })
    }

    /// Insert or replace by id. Returns the index and whether it was new; `None` when the table
    /// is full (4 GiB of text) or the id is absurd.
    pub fn upsert_fields(&mut self, f: &UserFields) -> Option<(u32, bool)> {
        let mut b = build(f)?;
        if self.full(b.strings.iter().map(|s| s.len() + 4).sum(), b.key.len()) {
            return None;
        }
        if b.flags & (EMAIL_USER | EMAIL_LOCAL) != 0
            && self.syms.strings.len() as u32 > MAX_DOMAIN_SYM
            && !self.syms.index.contains_key(b.domain.as_str())
        {
            // Too many domains to intern another: keep the whole email in the key.
            let elow = f.email.to_lowercase();
            let ek = cap(&elow, KEY_PART_MAX).0.to_string();
            b.key.truncate(b.nl + b.ul + 2);
            b.key.push_str(&ek);
            b.key.push('\0');
            b.el = ek.len();
            b.flags &= !(EMAIL_USER | EMAIL_LOCAL);
            b.strings[EMAIL] = cap(&f.email, TEXT_FIELD_MAX).0;
        }
        let (title, department, roles) = (self.syms.intern(&f.title), self.syms.intern(&f.department), self.syms.intern(&f.roles));
        let guest_expiration = self.syms.intern(&f.guest_expiration);
        if let Some(i) = self.index_of(&f.id) {
            let iu = i as usize;
            self.waste += self.text_end(iu) - self.rows[iu].text as usize;
            // The old key becomes separators (never matched); the new strings and key go at
            // the end, out of row order: the row is searched on its own from now on.
            let (old_key, old_len) = (self.rows[iu].key as usize, self.key_region(iu));
            self.keys.replace_range(old_key..old_key + old_len, &"\0".repeat(old_len));
            self.waste += old_len;
            if self.hot[iu].flags() & KEY_MOVED == 0 {
                self.moved.push(i);
            }
            let key = self.keys.len() as u32;
            self.keys.push_str(&b.key);
            let (mut row, mut hot) = self.make(&b, key);
            (row.title, row.department, row.roles, row.guest_expiration) = (title, department, roles, guest_expiration);
            hot.dom |= KEY_MOVED;
            self.rows[iu] = row;
            self.hot[iu] = hot;
            return Some((i, false));
        }
        let key = self.keys.len() as u32;
        self.keys.push_str(&b.key);
        let (mut row, hot) = self.make(&b, key);
        (row.title, row.department, row.roles, row.guest_expiration) = (title, department, roles, guest_expiration);
        let i = self.rows.len() as u32;
        self.rows.push(row);
        self.hot.push(hot);
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
        let ahead = |bytes: usize| {
            let per_user = bytes.div_ceil(like.len());
            // A little over the sample's average: pages differ.
            more.saturating_mul(per_user).saturating_add(more.saturating_mul(per_user) / 16)
        };
        if self.text.try_reserve_exact(ahead(like.text.len())).is_err()
            || self.keys.try_reserve_exact(ahead(like.keys.len())).is_err()
            || self.rows.try_reserve_exact(more).is_err()
            || self.hot.try_reserve_exact(more).is_err()
        {
            return;
        }
        let mut index = std::mem::take(&mut self.by_id);
        let _ = index.try_reserve(more, id_hash(self));
        self.by_id = index;
    }

    /// Append another table's users (a page); known ids are replaced. Returns the new indices.
    pub fn extend_from(&mut self, other: &UserTable) -> Vec<u32> {
        // Growing by an eighth, not doubling: at most that much is held unused (large arrays are
        // mapped on their own, and grow in place).
        if self.rows.capacity() - self.rows.len() < other.len() {
            self.rows.reserve_exact(other.len().max(self.rows.len() / 8));
            self.hot.reserve_exact(other.len().max(self.hot.len() / 8));
        }
        if self.text.capacity() - self.text.len() < other.text.len() {
            self.text.reserve_exact(other.text.len().max(self.text.len() / 8));
        }
        if self.keys.capacity() - self.keys.len() < other.keys.len() {
            self.keys.reserve_exact(other.keys.len().max(self.keys.len() / 8));
        }
        let mut added = Vec::with_capacity(other.len());
        for r in other.iter() {
            if self.index_of(r.id()).is_none()
                && let Some(n) = self.copy_new(other, r.idx as usize)
            {
                added.push(n);
                continue;
            }
            if let Some((i, true)) = self.upsert_fields(&r.fields()) {
                added.push(i);
            }
        }
        added
    }

    /// Append row `i` of `other` (an id this table does not have) by copying its strings and
    /// key as they are (lowercased already); `None` when it cannot be copied so (then
    /// [`UserTable::upsert_fields`] takes it).
    fn copy_new(&mut self, other: &UserTable, i: usize) -> Option<u32> {
        let dom = other.hot[i].domain();
        let copyable = !self.full(other.text.len(), other.keys.len())
            && (dom.0 == 0 || self.syms.index.contains_key(other.syms.get(dom)) || (self.syms.strings.len() as u32) <= MAX_DOMAIN_SYM);
        if !copyable {
            return None;
        }
        let (ts, te) = (other.rows[i].text as usize, other.text_end(i));
        let text = self.text.len() as u32;
        self.text.push_str(&other.text[ts..te]);
        let (ks, kl) = (other.rows[i].key as usize, other.key_region(i));
        let key = self.keys.len() as u32;
        self.keys.push_str(&other.keys[ks..ks + kl]);
        let o = other.rows[i];
        let row = Row {
            text,
            key,
            title: self.syms.intern(other.syms.get(o.title)),
            department: self.syms.intern(other.syms.get(o.department)),
            roles: self.syms.intern(other.syms.get(o.roles)),
            guest_expiration: self.syms.intern(other.syms.get(o.guest_expiration)),
            ..o
        };
        let dom = if dom.0 == 0 { 0 } else { self.syms.intern(other.syms.get(dom)).0 };
        let hot = Hot { mask: other.hot[i].mask, dom: dom << FLAG_BITS | (other.hot[i].flags() & !KEY_MOVED) };
        let n = self.rows.len() as u32;
        self.rows.push(row);
        self.hot.push(hot);
        self.id_classes |= other.id_classes_of(i);
        self.index_new(n);
        Some(n)
    }

    /// Index row `i` by its id (not already in the index).
    fn index_new(&mut self, i: u32) {
        let h = self.hasher.hash_one(self.id_of(i));
        let mut index = std::mem::take(&mut self.by_id);
        index.insert_unique(h, i, id_hash(self));
        self.by_id = index;
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
        let Some(h) = self.hot.get_mut(i as usize) else { return false };
        let before = h.dom;
        h.dom = (h.dom & !ACTIVE) | ACTIVE_KNOWN | if active { ACTIVE } else { 0 };
        before != h.dom
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
                    if let Some(i) = self.copy_new(page, row.idx as usize) {
                        r.added.push(i);
                    } else if let Some((i, true)) = self.upsert_fields(&row.fields()) {
                        r.added.push(i);
                    }
                }
            }
        }
    }

    /// A compact copy of the table without the rows `drop` names (and without the arena bytes
    /// replaced rows left behind; every key in row order again). Indices change; ids do not.
    pub fn without(&self, drop: impl Fn(u32) -> bool) -> UserTable {
        let mut t = UserTable { hasher: self.hasher.clone(), ..UserTable::default() };
        t.rows.reserve_exact(self.len());
        t.hot.reserve_exact(self.len());
        t.text.reserve_exact(self.text.len().saturating_sub(self.waste));
        t.keys.reserve_exact(self.keys.len());
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

    // ---- search ----

    /// A lowercased query made ready to test rows against ([`Needle::matches`],
    /// [`UserTable::search`]). A query holding a control character matches nobody (no key
    /// holds one).
    pub fn needle(&self, query_lower: &str) -> Needle {
        let text = query_lower.to_string();
        let bytes = text.as_bytes();
        let never = bytes.iter().any(|&b| b < 0x20);
        let at = text.rfind('@').map(|p| (text[..p].to_string(), text[p + 1..].to_string()));
        let domain_hit: Vec<bool> = if never || text.is_empty() {
            Vec::new()
        } else {
            self.syms
                .strings
                .iter()
                .enumerate()
                .map(|(n, d)| {
                    n != 0
                        && match &at {
                            None => d.contains(text.as_str()),
                            Some((_, after)) => d.starts_with(after.as_str()),
                        }
                })
                .collect()
        };
        Needle {
            finder: (!text.is_empty()).then(|| memchr::memmem::Finder::new(bytes).into_owned()),
            mask: if never { u32::MAX } else { mask_of(bytes) },
            by_mask: !never && bytes.len() == 1 && class_is_exact(bytes[0]),
            any_domain_hit: domain_hit.iter().any(|&h| h),
            at,
            domain_hit,
            text,
        }
    }

    /// The rows whose name, userName or email holds the needle. First the email domains that
    /// hold it (once per distinct domain: `acme` or `@ac` set nearly every row at once); then, if
    /// many rows are left, one substring search over all the keys (a hit moves a cursor forward
    /// to its row, and the search goes on after that row's key) and the replaced rows one by one;
    /// if few are left, those rows one by one.
    pub fn search(&self, n: &Needle) -> Bits {
        let len = self.rows.len();
        if n.text.is_empty() {
            return Bits::all(len);
        }
        let mut out = Bits::none(len);
        if n.mask == u32::MAX && n.text.bytes().any(|b| b < 0x20) {
            return out;
        }
        let mut left = len;
        if n.any_domain_hit {
            fill_words(&mut out.words, len, |i| n.in_domain(self, i, self.hot[i]));
            left -= out.count();
        }
        if n.by_mask {
            fill_words(&mut out.words, len, |i| self.hot[i].mask & n.mask == n.mask);
            return out;
        }
        // Few rows left, or one character (in nearly every key): each row, its hints first.
        if left * 8 < len || n.text.len() == 1 {
            fill_words(&mut out.words, len, |i| n.in_key(self, i, self.hot[i]));
            return out;
        }
        if let Some(f) = &n.finder {
            let key_of = |i: usize| (self.rows[i].key as usize, self.key_region(i) - 1);
            let keys = self.keys.as_bytes();
            if len >= SPLIT_SCAN {
                // Two halves of the rows, one on another core.
                let (a, b) = std::thread::scope(|sc| {
                    let back = sc.spawn(|| self.scan_arena(keys, f, n.text.len(), key_of, len / 2, len));
                    let front = self.scan_arena(keys, f, n.text.len(), key_of, 0, len / 2);
                    (front, back.join().unwrap_or_default())
                });
                a.into_iter().chain(b).for_each(|i| out.set(i));
            } else {
                self.scan_arena(keys, f, n.text.len(), key_of, 0, len).into_iter().for_each(|i| out.set(i));
            }
            for &i in &self.moved {
                let i = i as usize;
                if n.in_key(self, i, self.hot[i]) {
                    out.set(i as u32);
                }
            }
        }
        out
    }

    /// Find `f` in `arena`, where each row not replaced has a region (`region(i)`: start,
    /// length) in row order: the rows `lo..hi` whose region holds a match. One SIMD search over
    /// that part of the arena; a cursor moves forward to the row of each hit, and the search
    /// goes on after that row's region.
    fn scan_arena(
        &self,
        arena: &[u8],
        f: &memchr::memmem::Finder<'_>,
        needle_len: usize,
        region: impl Fn(usize) -> (usize, usize),
        lo: usize,
        hi: usize,
    ) -> Vec<u32> {
        let mut hits = Vec::new();
        let moved = |i: usize| self.hot[i].dom & KEY_MOVED != 0;
        let next = |mut i: usize| {
            i += 1;
            while i < hi && moved(i) {
                i += 1;
            }
            i
        };
        let mut cur = if lo < hi && moved(lo) { next(lo) } else { lo };
        if cur >= hi {
            return hits;
        }
        // The part of the arena the rows `lo..hi` hold (a later row's region ends it).
        let mut end = arena.len();
        let mut after = hi;
        while after < self.rows.len() {
            if !moved(after) {
                end = region(after).0;
                break;
            }
            after += 1;
        }
        let mut pos = region(cur).0;
        while cur < hi && pos < end {
            let Some(h) = f.find(&arena[pos..end]) else { break };
            let p = pos + h;
            loop {
                let nx = next(cur);
                if nx < hi && region(nx).0 <= p {
                    cur = nx;
                } else {
                    break;
                }
            }
            let (start, body) = region(cur);
            if p >= start && p + needle_len <= start + body {
                hits.push(cur as u32);
                pos = start + body;
                cur = next(cur);
            } else {
                pos = p + 1;
            }
        }
        hits
    }

    /// The rows whose id holds `v_lower` in any case (`id:` and `manager:` terms): a search of
    /// the arena for the upper-case needle (ids without lower-case letters, as Slack's) and for
    /// the lower-case one (ids without upper-case letters), and the others row by row.
    pub fn search_ids(&self, v_lower: &str) -> Bits {
        let len = self.rows.len();
        if v_lower.is_empty() {
            return Bits::all(len);
        }
        let mut out = Bits::none(len);
        let by_row = |out: &mut Bits, i: usize| {
            if contains_ci(self.id_of(i as u32), v_lower) {
                out.set(i as u32);
            }
        };
        if !v_lower.is_ascii() {
            (0..len).for_each(|i| by_row(&mut out, i));
            return out;
        }
        if mask_of(v_lower.as_bytes()) & !self.id_classes != 0 {
            // A character no id holds (in any case).
            return out;
        }
        let upper = v_lower.to_ascii_uppercase();
        // Ids are short and hold much the same characters (`W0…`): a search of the arena would
        // stop at nearly each of them; each id is tested instead, in row order.
        let (fu, fl) = (memchr::memmem::Finder::new(upper.as_bytes()), memchr::memmem::Finder::new(v_lower.as_bytes()));
        fill_words(&mut out.words, len, |i| {
            let f = self.hot[i].flags();
            let id = self.id_of(i as u32);
            if f & ID_NO_LOWER != 0 {
                fu.find(id.as_bytes()).is_some()
            } else if f & ID_NO_UPPER != 0 {
                fl.find(id.as_bytes()).is_some()
            } else {
                contains_ci(id, v_lower)
            }
        });
        out
    }

    /// For each interned value (title, department, roles: [`UserRef::title_sym`]), does `pred`
    /// hold? A `field:value` term tests each distinct value once, not each user.
    pub fn sym_hits(&self, pred: impl Fn(&str) -> bool) -> Vec<bool> {
        self.syms.strings.iter().map(|s| pred(s)).collect()
    }

    // ---- sort ----

    /// The sort key's bytes of row `i` at `at..at + 8` (zeros past its end), big-endian, and
    /// the value's length.
    fn chunk(&self, by: SortBy, i: usize, at: usize) -> (u64, usize) {
        let r = UserRef { t: self, idx: i as u32 };
        let of = |s: &[u8]| {
            let mut b = [0u8; 8];
            if at < s.len() {
                let e = (at + 8).min(s.len());
                b[..e - at].copy_from_slice(&s[at..e]);
            }
            (u64::from_be_bytes(b), s.len())
        };
        match by {
            SortBy::Name => of(r.name_lower().as_bytes()),
            SortBy::UserName => of(r.user_name_lower().as_bytes()),
            SortBy::Id => of(r.id().as_bytes()),
            SortBy::Email if self.hot[i].flags() & (EMAIL_USER | EMAIL_LOCAL) != 0 => {
                // `local@domain`, without building it.
                let (l, d) = (self.local_lower(i).as_bytes(), r.domain().as_bytes());
                let total = l.len() + 1 + d.len();
                let mut b = [0u8; 8];
                for (k, slot) in b.iter_mut().enumerate() {
                    let p = at + k;
                    *slot = match p.cmp(&l.len()) {
                        Ordering::Less => l[p],
                        Ordering::Equal => b'@',
                        Ordering::Greater => d.get(p - l.len() - 1).copied().unwrap_or(0),
                    };
                }
                (u64::from_be_bytes(b), total)
            }
            SortBy::Email => of(r.email_part().as_bytes()),
            SortBy::Title | SortBy::Department | SortBy::Active | SortBy::Roles | SortBy::Expires => (0, 0),
        }
    }

    /// Ranks of the interned values in ASCII-case-insensitive order (equal ones share a rank).
    fn sym_ranks(&self) -> Vec<u32> {
        let mut by: Vec<u32> = (0..self.syms.strings.len() as u32).collect();
        by.sort_by(|&a, &b| cmp_ci(self.syms.get(Sym(a)), self.syms.get(Sym(b))));
        let mut rank = vec![0u32; by.len()];
        let mut r = 0;
        for k in 0..by.len() {
            if k > 0 && cmp_ci(self.syms.get(Sym(by[k - 1])), self.syms.get(Sym(by[k]))) != Ordering::Equal {
                r += 1;
            }
            rank[by[k] as usize] = r;
        }
        rank
    }

    /// Sort `rows` ascending by `by`, rows with equal values in index order (the order
    /// [`UserTable::compare`] gives). Strings sort on compact keys: their first 8 bytes with the
    /// row, then the next 8 only for rows that tie, and so on; title and department on the rank
    /// of their interned value.
    pub fn sort_rows(&self, by: SortBy, rows: &mut [u32]) {
        match by {
            SortBy::Expires => {
                let mut v: Vec<(u8, i64, u32)> = rows
                    .iter()
                    .map(|&i| {
                        let (c, at) = expires_key(self.get(i));
                        (c, at, i)
                    })
                    .collect();
                v.sort_unstable();
                for (slot, k) in rows.iter_mut().zip(v) {
                    *slot = k.2;
                }
            }
            SortBy::Title | SortBy::Department | SortBy::Active | SortBy::Roles => {
                let rank = if by == SortBy::Active { Vec::new() } else { self.sym_ranks() };
                let key = |i: u32| -> u64 {
                    let r = &self.rows[i as usize];
                    let k = match by {
                        SortBy::Title => rank[r.title.index()],
                        SortBy::Department => rank[r.department.index()],
                        SortBy::Roles => rank[r.roles.index()],
                        _ => u32::from(self.hot[i as usize].flags() & ACTIVE == 0),
                    };
                    (k as u64) << 32 | i as u64
                };
                let mut v: Vec<u64> = rows.iter().map(|&i| key(i)).collect();
                v.sort_unstable();
                for (slot, k) in rows.iter_mut().zip(v) {
                    *slot = k as u32;
                }
            }
            _ => self.sort_strings(by, rows),
        }
    }

    /// [`UserTable::sort_rows`] for the string columns: (8 bytes of the value, row, the value's
    /// length), 16 bytes, sorted as they are (rows tie-break; the length never decides). Only
    /// runs of equal keys whose values go on are read again (in row order within a run), 8 bytes
    /// further, until no run ties.
    ///
    /// Where the time goes at a million rows is reading the values, not sorting: a value read in
    /// sort order is a cache miss or two. So the keys are read in row order: the first ones in
    /// two halves on two cores, and when a whole table is sorted (`rows` holds every row once,
    /// so its buffer can hold each tied row's place meanwhile), the next 8 bytes of the tied rows
    /// too, each written to its place; the sort itself splits at the median and sorts the halves
    /// on two cores.
    fn sort_strings(&self, by: SortBy, rows: &mut [u32]) {
        let mut v: Vec<(u64, u32, u32)> = vec![(0, 0, 0); rows.len()];
        let fill = |out: &mut [(u64, u32, u32)], rs: &[u32]| {
            for (o, &i) in out.iter_mut().zip(rs) {
                let (k, len) = self.chunk(by, i as usize, 0);
                *o = (k, i, len as u32);
            }
        };
        if rows.len() >= SPLIT_SCAN {
            let half = rows.len() / 2;
            let (vf, vb) = v.split_at_mut(half);
            let (rf, rb) = rows.split_at(half);
            std::thread::scope(|sc| {
                sc.spawn(|| fill(vb, rb));
                fill(vf, rf);
            });
        } else {
            fill(&mut v, rows);
        }
        sort_two_cores(&mut v);
        // Every row of the table, once each: `rows` is free to hold places until the end.
        let whole = rows.len() == self.rows.len();
        let mut level = 0;
        let mut runs = vec![(0, v.len())];
        loop {
            let mut next = Vec::new();
            let past = (level + 1) * 8;
            for &(s, e) in &runs {
                let mut a = s;
                while a < e {
                    let mut b = a + 1;
                    while b < e && v[b].0 == v[a].0 {
                        b += 1;
                    }
                    if b - a > 1 && v[a..b].iter().any(|x| x.2 as usize > past) {
                        next.push((a, b));
                    }
                    a = b;
                }
            }
            if next.is_empty() {
                break;
            }
            level += 1;
            let tied: usize = next.iter().map(|&(s, e)| e - s).sum();
            let gather = whole && tied >= GATHER_MIN;
            if gather {
                // Each tied row's place, by row; then the rows read in row order.
                const NONE: u32 = u32::MAX;
                rows.fill(NONE);
                for &(s, e) in &next {
                    for (p, x) in v[s..e].iter().enumerate() {
                        rows[x.1 as usize] = (s + p) as u32;
                    }
                }
                for (i, &p) in rows.iter().enumerate() {
                    if p != NONE {
                        v[p as usize].0 = self.chunk(by, i, level * 8).0;
                    }
                }
            }
            let refine = |v: &mut [(u64, u32, u32)], base: usize, runs: &[(usize, usize)]| {
                for &(s, e) in runs {
                    let run = &mut v[s - base..e - base];
                    if !gather {
                        for x in run.iter_mut() {
                            x.0 = self.chunk(by, x.1 as usize, level * 8).0;
                        }
                    }
                    run.sort_unstable();
                }
            };
            if tied >= SPLIT_SCAN {
                // The runs in two groups of about as many rows, one on another core.
                let mut acc = 0;
                let k = next
                    .iter()
                    .position(|&(s, e)| {
                        acc += e - s;
                        acc * 2 >= tied
                    })
                    .map_or(next.len(), |p| p + 1);
                let at = next.get(k).map_or(v.len(), |r| r.0);
                let (front, back) = v.split_at_mut(at);
                let (rf, rb) = next.split_at(k);
                std::thread::scope(|sc| {
                    sc.spawn(|| refine(back, at, rb));
                    refine(front, 0, rf);
                });
            } else {
                refine(&mut v, 0, &next);
            }
            runs = next;
        }
        for (slot, x) in rows.iter_mut().zip(v) {
            *slot = x.1;
        }
    }

    /// Every row, sorted by `by` ([`UserTable::sort_rows`]).
    pub fn sorted(&self, by: SortBy) -> Vec<u32> {
        let mut rows: Vec<u32> = (0..self.rows.len() as u32).collect();
        self.sort_rows(by, &mut rows);
        rows
    }

    /// The order of two rows by `by`, equal values by index.
    pub fn compare(&self, by: SortBy, a: u32, b: u32) -> Ordering {
        let (x, y) = (self.get(a), self.get(b));
        let o = match by {
            SortBy::Name => x.name_lower().cmp(y.name_lower()),
            SortBy::UserName => x.user_name_lower().cmp(y.user_name_lower()),
            SortBy::Email => x.email_lower().cmp(&y.email_lower()),
            SortBy::Title => cmp_ci(x.title(), y.title()),
            SortBy::Department => cmp_ci(x.department(), y.department()),
            SortBy::Active => y.active().cmp(&x.active()),
            SortBy::Id => x.id().cmp(y.id()),
            SortBy::Roles => cmp_ci(x.roles(), y.roles()),
            SortBy::Expires => expires_key(x).cmp(&expires_key(y)),
        };
        o.then(a.cmp(&b))
    }
}

/// Does `hay`, lowercased, contain `needle` (already lowercased)? Without allocating when
/// `hay` is ASCII. Inline: the console's field filters call it per row from another crate.
#[inline]
pub fn contains_ci(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if hay.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        if n.len() > h.len() {
            return false;
        }
        let first = n[0];
        h.windows(n.len()).any(|w| w[0].to_ascii_lowercase() == first && w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
    } else {
        hay.to_lowercase().contains(needle)
    }
}

/// ASCII-case-insensitive byte order.
pub fn cmp_ci(a: &str, b: &str) -> Ordering {
    a.bytes().map(|c| c.to_ascii_lowercase()).cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

// ---- the cache file ----

impl UserTable {
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
            for arena in [&self.text, &self.keys] {
                w.write_all(&(arena.len() as u64).to_le_bytes())?;
                w.write_all(arena.as_bytes())?;
            }
            w.write_all(&(self.rows.len() as u32).to_le_bytes())?;
            let mut buf = Vec::with_capacity(ROW_BYTES);
            for (r, h) in self.rows.iter().zip(&self.hot) {
                buf.clear();
                for v in [r.text, r.key] {
                    buf.extend_from_slice(&v.to_le_bytes());
                }
                for v in [r.id_len, r.nl, r.ul, r.el] {
                    buf.extend_from_slice(&v.to_le_bytes());
                }
                for v in [r.title.0, r.department.0, r.roles.0, h.dom & !KEY_MOVED, r.guest_expiration.0] {
                    buf.extend_from_slice(&v.to_le_bytes());
                }
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
        let file_len = f.metadata().map(|m| m.len()).unwrap_or(0);
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
        let mut syms = Interner { strings: Vec::with_capacity(nsyms.min(1 << 16)), index: HashMap::with_capacity(nsyms.min(1 << 16)) };
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
            if syms.index.insert(s.clone().into(), n as u32).is_some() {
                return Err(bad("a symbol is listed twice"));
            }
            syms.strings.push(s.into());
        }
        let mut arena = || -> Result<String, CacheError> {
            r.read_exact(&mut b8).map_err(io)?;
            let len = u64::from_le_bytes(b8);
            if len > u32::MAX as u64 {
                return Err(bad("implausible text length"));
            }
            // Read into an exact allocation (never more than the file holds): growing by
            // doubling would briefly hold the arena twice.
            let mut bytes = Vec::with_capacity(len.min(file_len) as usize);
            (&mut r).take(len).read_to_end(&mut bytes).map_err(io)?;
            if bytes.len() as u64 != len {
                return Err(bad("the file ends early"));
            }
            String::from_utf8(bytes).map_err(|_| bad("the text is not UTF-8"))
        };
        let text = arena()?;
        let keys = arena()?;
        r.read_exact(&mut b4).map_err(io)?;
        let nrows = u32::from_le_bytes(b4) as usize;
        let mut t = UserTable {
            text,
            keys,
            syms,
            rows: Vec::with_capacity(nrows.min(1 << 24)),
            hot: Vec::with_capacity(nrows.min(1 << 24)),
            ..UserTable::default()
        };
        let mut buf = [0u8; ROW_BYTES];
        let mut last_end = (0, 0);
        for _ in 0..nrows {
            r.read_exact(&mut buf).map_err(io)?;
            let u = |at: usize| u32::from_le_bytes(buf[at..at + 4].try_into().unwrap());
            let h = |at: usize| u16::from_le_bytes(buf[at..at + 2].try_into().unwrap());
            let row = Row {
                text: u(0),
                key: u(4),
                id_len: h(8),
                nl: h(10),
                ul: h(12),
                el: h(14),
                title: Sym(u(16)),
                department: Sym(u(20)),
                roles: Sym(u(24)),
                guest_expiration: Sym(u(32)),
            };
            let dom = u(28) & !KEY_MOVED;
            if !t.row_is_sound(&row, dom) {
                return Err(bad("a row points outside the file's text"));
            }
            let i = t.rows.len();
            let mut hot = Hot { mask: 0, dom };
            t.rows.push(row);
            hot.mask = mask_of(t.key_bytes(i));
            // Rows whose strings or key are out of row order are searched one by one.
            if (row.key as usize) < last_end.0 || (row.text as usize) < last_end.1 {
                hot.dom |= KEY_MOVED;
                t.moved.push(i as u32);
            } else {
                last_end = (row.key as usize + t.key_region(i), t.text_end(i));
            }
            t.hot.push(hot);
            t.id_classes |= t.id_classes_of(i);
            let id = t.id_of(i as u32);
            if id.is_empty() || t.index_of(id).is_some() {
                return Err(bad("a row has no id, or one listed twice"));
            }
            t.index_new(i as u32);
        }
        let mut rest = [0u8; 1];
        if r.read(&mut rest).map_err(io)? != 0 {
            return Err(bad("trailing bytes"));
        }
        Ok((t, fetched_at))
    }

    /// Does a row read from a file point only at whole strings of the arenas?
    fn row_is_sound(&self, r: &Row, dom: u32) -> bool {
        let (text, keys) = (&self.text, &self.keys);
        let mut pos = r.text as usize + r.id_len as usize;
        if pos > text.len() || !text.is_char_boundary(r.text as usize) || !text.is_char_boundary(pos) {
            return false;
        }
        let mut lens = [0usize; 4];
        for l in &mut lens {
            if pos >= text.len() || !text.is_char_boundary(pos) {
                return false;
            }
            let Some(c) = text[pos..].chars().next() else { return false };
            *l = char_len(c);
            pos += c.len_utf8();
        }
        for l in lens {
            let end = pos.saturating_add(l);
            if end > text.len() || !text.is_char_boundary(end) {
                return false;
            }
            pos = end;
        }
        let k = r.key as usize;
        let (nl, ul, el) = (r.nl as usize, r.ul as usize, r.el as usize);
        let seps = [k + nl, k + nl + 1 + ul, k + nl + ul + 2 + el];
        let bounds = [k, k + nl + 1, k + nl + ul + 2];
        if seps[2] >= keys.len() {
            return false;
        }
        let kb = keys.as_bytes();
        let sym_ok = |s: u32| (s as usize) < self.syms.strings.len();
        seps.iter().all(|&s| kb[s] == 0)
            && bounds.iter().all(|&b| keys.is_char_boundary(b))
            && [r.title.0, r.department.0, r.roles.0, dom >> FLAG_BITS, r.guest_expiration.0].into_iter().all(sym_ok)
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

/// Version 3: keys apart from the text, the hot words, and each row's guest expiry (a cache of
/// another version is read as such and the directory is loaded afresh).
const MAGIC: &[u8; 8] = b"SCIMDIR3";
const ROW_BYTES: usize = 4 + 4 + 2 * 4 + 5 * 4;

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
            (d.id(), &*d.name(), d.user_name(), &*d.email_lower(), d.title()),
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
        let needed = reserved.text.len() + reserved.keys.len() + reserved.rows.len() * std::mem::size_of::<Row>();
        let held = reserved.text.capacity() + reserved.keys.capacity() + reserved.rows.capacity() * std::mem::size_of::<Row>();
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
        let needed = t.text.len() + t.keys.len() + t.rows.len() * std::mem::size_of::<Row>();
        let held = t.text.capacity() + t.keys.capacity() + t.rows.capacity() * std::mem::size_of::<Row>();
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

#[cfg(test)]
mod search_tests {
    use super::*;

    /// A varied directory: emails `userName@domain`, `other@domain`, upper case, none, without
    /// `@`; names in title case, lower case, mixed; some replaced in place, some by longer keys.
    fn varied(n: usize, seed: u64) -> (UserTable, Vec<UserFields>) {
        let mut x = seed | 1;
        let mut rnd = move |k: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % k as u64) as usize
        };
        let first = ["ann", "Bob", "çelik", "Dee-Ann", "o'neil", "ÅSA", "zoe"];
        let last = ["lee", "Smith", "McDonald", "van der berg", "Ñuñez", "x"];
        let domains = ["acme.example", "Acme.Example", "b.org", "mail.acme.example"];
        let mut t = UserTable::new();
        let mut fields = Vec::new();
        for i in 0..n {
            let (f, l) = (first[rnd(first.len())], last[rnd(last.len())]);
            let name = match rnd(3) {
                0 => format!("{f} {l}"),
                1 => format!("{} {}", f.to_lowercase(), l.to_lowercase()),
                _ => title_case(&format!("{} {}", f.to_lowercase(), l.to_lowercase())).unwrap_or_else(|| format!("{f} {l}")),
            };
            let user = format!("{}.{}{}", f.to_lowercase(), l.to_lowercase().replace(' ', "_"), i);
            let user = if rnd(5) == 0 { user.to_uppercase() } else { user };
            let d = domains[rnd(domains.len())];
            let email = match rnd(6) {
                0 | 1 => format!("{}@{d}", user.to_lowercase()),
                2 => format!("{}@{d}", user),
                3 => format!("alias{i}@{d}"),
                4 => String::new(),
                _ => format!("\"odd@local\"{i}@{d}"),
            };
            let fl = UserFields {
                id: match i % 7 {
                    0 => format!("u-{i:05}-abc"),
                    3 => format!("Mx{i:05}"),
                    _ => format!("W{i:05}"),
                },
                name,
                user_name: user,
                email,
                title: ["Engineer", "engineer", "Staff"][rnd(3)].into(),
                department: ["Sales", "R&D", ""][rnd(3)].into(),
                manager_id: format!("W{:05}", rnd(n)),
                roles: String::new(),
                active: Some(rnd(4) != 0),
                guest: rnd(9) == 0,
                guest_expiration: ["", "2026-01-15", "2027-03-01T00:00:00Z", "soon-ish"][rnd(4)].into(),
                account: Account::Member,
            };
            t.upsert_fields(&fl).unwrap();
            fields.push(fl);
        }
        // Replacements: shorter keys in place, longer ones moved.
        for k in 0..n / 5 {
            let i = rnd(n);
            let mut fl = fields[i].clone();
            if k % 2 == 0 {
                fl.name = "Al".into();
            } else {
                fl.name = format!("{} {}", fields[i].name, "Longer-Than-Before Name");
                fl.email = format!("moved.{}@b.org", i);
            }
            t.upsert_fields(&fl).unwrap();
            fields[i] = fl;
        }
        (t, fields)
    }

    fn brute(t: &UserTable, q: &str) -> Vec<u32> {
        t.iter()
            .filter(|r| q.is_empty() || r.name_lower().contains(q) || r.user_name_lower().contains(q) || r.email_lower().contains(q))
            .map(|r| r.index())
            .collect()
    }

    #[test]
    fn the_fields_come_back_as_they_went_in() {
        let (t, fields) = varied(400, 7);
        assert!(!t.moved.is_empty(), "some keys moved");
        for (i, f) in fields.iter().enumerate() {
            assert_eq!(&t.get(i as u32).fields(), f, "row {i}");
        }
    }

    #[test]
    fn search_finds_exactly_what_a_scan_of_every_field_finds() {
        let (t, _) = varied(600, 3);
        let mut queries: Vec<String> = [
            "a",
            "z",
            "@",
            ".",
            " ",
            "-",
            "0",
            "7",
            "ç",
            "ñ",
            "ann",
            "e s",
            "@acme",
            "acme.ex",
            "@b.org",
            "org",
            "9@b",
            "l\"",
            "\"odd@",
            "@local\"3",
            "moved.",
            "longer-than",
            "w000",
            "",
            "\u{1}",
            "zzzz",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Pieces of real values, across the `@` too.
        for r in t.iter().step_by(37) {
            let e = r.email_lower();
            for (a, b) in [(0, 3), (2, 9), (4, 40)] {
                for s in [r.name_lower(), r.user_name_lower(), &e] {
                    let (a, b) = (a.min(s.len()), b.min(s.len()));
                    if s.is_char_boundary(a) && s.is_char_boundary(b) && a < b {
                        queries.push(s[a..b].to_string());
                    }
                }
            }
            if let Some(p) = e.find('@') {
                queries.push(e[p.saturating_sub(2)..(p + 3).min(e.len())].to_string());
            }
        }
        for q in &queries {
            let n = t.needle(q);
            let found: Vec<u32> = t.search(&n).ones().collect();
            assert_eq!(found, brute(&t, q), "query {q:?}");
            let one_by_one: Vec<u32> = t.iter().filter(|r| n.matches(*r)).map(|r| r.index()).collect();
            assert_eq!(one_by_one, found, "query {q:?} row by row");
            for r in t.iter().step_by(11) {
                assert_eq!(n.in_email(r), q.is_empty() || r.email_lower().contains(q.as_str()), "{q:?} in the email of {r:?}");
                assert_eq!(n.in_name(r), r.name_lower().contains(q.as_str()));
            }
        }
    }

    #[test]
    fn a_search_split_in_parts_finds_what_the_whole_finds() {
        let (t, _) = varied(900, 13);
        let key_of = |i: usize| (t.rows[i].key as usize, t.key_region(i) - 1);
        for q in ["an", "lee", "e s", "ann.lee1", ".", "longer-than", "zz"] {
            let f = memchr::memmem::Finder::new(q.as_bytes());
            let whole = t.scan_arena(t.keys.as_bytes(), &f, q.len(), key_of, 0, t.len());
            for cut in [1, 299, 450, 777] {
                let mut parts = t.scan_arena(t.keys.as_bytes(), &f, q.len(), key_of, 0, cut);
                parts.extend(t.scan_arena(t.keys.as_bytes(), &f, q.len(), key_of, cut, t.len()));
                assert_eq!(parts, whole, "{q:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn id_search_finds_what_a_case_blind_scan_finds() {
        let (t, _) = varied(500, 9);
        for q in ["w0", "w001", "u-", "abc", "mx0", "x00", "00", "1", "-", "é", "w0001", "zz"] {
            let want: Vec<u32> = t.iter().filter(|r| r.id().to_lowercase().contains(q)).map(|r| r.index()).collect();
            assert_eq!(t.search_ids(q).ones().collect::<Vec<_>>(), want, "{q:?}");
        }
    }

    #[test]
    fn sorting_on_compact_keys_gives_the_comparison_order() {
        let (t, _) = varied(700, 11);
        for by in [
            SortBy::Name,
            SortBy::UserName,
            SortBy::Email,
            SortBy::Title,
            SortBy::Department,
            SortBy::Active,
            SortBy::Id,
            SortBy::Roles,
            SortBy::Expires,
        ] {
            let mut want: Vec<u32> = (0..t.len() as u32).collect();
            want.sort_by(|&a, &b| t.compare(by, a, b));
            assert_eq!(t.sorted(by), want, "{by:?}");
            let mut some: Vec<u32> = (0..t.len() as u32).rev().step_by(3).collect();
            t.sort_rows(by, &mut some);
            let mut want: Vec<u32> = (0..t.len() as u32).rev().step_by(3).collect();
            want.sort_by(|&a, &b| t.compare(by, a, b));
            assert_eq!(some, want, "{by:?} of some rows");
        }
    }

    #[test]
    fn a_cache_with_moved_keys_reads_back_and_searches_the_same() {
        let (t, fields) = varied(300, 5);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.users");
        t.write_cache(&path, 7).unwrap();
        let (back, _) = UserTable::read_cache(&path).unwrap();
        for (i, f) in fields.iter().enumerate() {
            assert_eq!(&back.get(i as u32).fields(), f);
        }
        for q in ["a", "moved.", "@b.org", "ann"] {
            assert_eq!(back.search(&back.needle(q)), t.search(&t.needle(q)), "{q}");
        }
        // A compacted copy keeps every key in row order.
        let c = t.without(|_| false);
        assert!(c.moved.is_empty());
        assert_eq!(c.search(&c.needle("moved.")), t.search(&t.needle("moved.")));
    }

    #[test]
    fn a_user_takes_about_a_hundred_bytes() {
        // The shapes Slack sends: `Ann Lee`, `ann.lee12`, `ann.lee12@acme.example`.
        let mut t = UserTable::new();
        for i in 0..1000 {
            t.upsert_fields(&UserFields {
                id: format!("W{i:010}"),
                name: "Jennifer Morales".into(),
                user_name: format!("jennifer.morales{i}"),
                email: format!("jennifer.morales{i}@acme-corp.example"),
                manager_id: "W0000000001".into(),
                title: "Engineer".into(),
                active: Some(true),
                ..UserFields::default()
            });
        }
        let per_user = (t.text.len() + t.keys.len()) / 1000 + std::mem::size_of::<Row>() + std::mem::size_of::<Hot>();
        // 184 before (a 72-byte row; the name twice, the email whole in the key).
        assert!(per_user <= 104, "{per_user} bytes a user");
        assert_eq!(t.get(5).email(), "jennifer.morales5@acme-corp.example");
        assert_eq!(t.get(5).name(), "Jennifer Morales");
    }
}

#[cfg(test)]
mod speed {
    use super::*;

    /// `cargo test --release -p provision speed -- --ignored --nocapture`: the table's own costs
    /// at a million users (the console bench measures them with the app around them).
    #[test]
    #[ignore]
    fn a_million_users() {
        let first = [
            "Jennifer", "Michael", "Sarah", "David", "Priya", "Wei", "Olga", "Carlos", "Aisha", "Kenji", "Maria", "James", "Fatima",
            "Lars", "Chloe", "Mateo", "Hana", "Noah", "Zoe", "Ravi",
        ];
        let last = [
            "Morales", "Smith", "Nguyen", "Okafor", "Tanaka", "Berg", "Kowalski", "Garcia", "Haddad", "Chen", "Johnson", "Silva",
            "Ivanova", "Patel", "Dubois", "Rossi", "Kim", "Brown", "Novak", "Mensah", "Lopez", "Fischer",
        ];
        let n = 1_000_000;
        let mut t = UserTable::with_capacity(n);
        let mut x: u64 = 1;
        let t0 = std::time::Instant::now();
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (f, l) = (first[(x % 20) as usize], last[((x >> 8) % 22) as usize]);
            let h = format!("{}.{}{i}", f.to_lowercase(), l.to_lowercase());
            t.upsert_fields(&UserFields {
                id: format!("W{i:010}"),
                name: format!("{f} {l}"),
                user_name: h.clone(),
                email: format!("{h}@acme-corp.example"),
                manager_id: format!("W{:010}", x % n as u64),
                title: "Engineer".into(),
                department: "Sales".into(),
                active: Some(true),
                ..UserFields::default()
            });
        }
        eprintln!("load {:?}", t0.elapsed());
        for by in [SortBy::Name, SortBy::Email, SortBy::Title] {
            let t0 = std::time::Instant::now();
            let v = t.sorted(by);
            eprintln!("sort {by:?} {:?} ({})", t0.elapsed(), v.len());
        }
        for q in ["a", "ac", "j", "je", "w0", "zoe", "@acme-corp.ex", "lopez99", "fatima.haddad7"] {
            let t0 = std::time::Instant::now();
            let b = t.search(&t.needle(q));
            eprintln!("search {q:?} {:?} ({})", t0.elapsed(), b.count());
        }
        for q in ["w", "w0000", "maria"] {
            let t0 = std::time::Instant::now();
            let b = t.search_ids(q);
            eprintln!("ids {q:?} {:?} ({})", t0.elapsed(), b.count());
        }
    }
}
