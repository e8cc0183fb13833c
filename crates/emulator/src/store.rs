//! The emulator's data: users and groups with Slack's validation rules, filters and PATCH forms.
//!
//! Pure and synchronous: the HTTP layer (`server.rs`) locks a `Store`, calls one method and turns
//! its `Result` into a response. Everything here is unit-testable without a socket.

use super::seed::{format_time, random_id};
use rand::SeedableRng;
use rand::rngs::StdRng;
use scim::filter::{CompareOp, Filter, Literal};
use scim::rules::{GROUP_MEMBER_CAP, UserNameProblem};
use scim::types::{GroupRef, Member, Meta, MultiValue, Role, urn};
use scim::{ApiVersion, Group, User};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// A Slack error: HTTP status, the v2 `detail` code and the v1 `description` (code + context).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fail {
    pub status: u16,
    pub code: String,
    pub v1: String,
}

impl Fail {
    pub fn new(status: u16, code: &str) -> Fail {
        Fail { status, code: code.into(), v1: code.into() }
    }
    /// v1 descriptions carry context in parentheses, e.g. `long_username (user=x)`.
    pub fn ctx(mut self, ctx: impl std::fmt::Display) -> Fail {
        self.v1 = format!("{} ({ctx})", self.v1);
        self
    }
    /// Different codes per version (Okta sees `long_username`, the v2 docs list `username_too_long`).
    fn versioned(status: u16, v1: String, v2: &str) -> Fail {
        Fail { status, code: v2.into(), v1 }
    }
}

fn bad(code: &str) -> Fail {
    Fail::new(400, code)
}

pub struct UserRec {
    pub user: User,
    pub primary_owner: bool,
    pub bot: bool,
    /// Serialised JSON per version (v1, v2), dropped on every change; none when the store
    /// makes it per request ([`Store::json_cache`] off: 8 bytes a user instead of 64, issue 25's
    /// demo memory).
    cache: Option<Box<[OnceLock<String>; 2]>>,
}

impl UserRec {
    fn new(user: User, primary_owner: bool, bot: bool, cached: bool) -> Self {
        UserRec { user, primary_owner, bot, cache: cached.then(Default::default) }
    }
    fn touch(&mut self) {
        if let Some(c) = &mut self.cache {
            **c = Default::default();
        }
    }
}

pub struct GroupRec {
    pub id: String,
    pub name: String,
    pub created: String,
    pub members: Vec<String>,
}

fn holds_id(u: &User, id: &str) -> bool {
    u.id.as_deref() == Some(id)
}

fn holds_name(u: &User, lower: &str) -> bool {
    u.user_name.as_deref().is_some_and(|n| n.len() == lower.len() && n.to_lowercase() == lower)
}

fn holds_email(u: &User, lower: &str) -> bool {
    emails_of(u).any(|e| e.len() == lower.len() && e.to_lowercase() == lower)
}

/// An index of the users by one key (id, lowercased userName, lowercased email) that holds no
/// strings: a 64-bit hash of the key and the row, the key itself being the row's (each look-up
/// checks that the row holds it; `holds`). At 100,000 users this is about 16 MB less than maps
/// keyed by the strings (issue 25: the demo's memory). Two keys with one hash (next to
/// impossible) are kept apart in `spill`, by the key itself.
#[derive(Default)]
struct KeyIndex {
    main: HashMap<u64, u32>,
    spill: HashMap<String, usize>,
}

fn key_hash(key: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(key)
}

impl KeyIndex {
    fn with_capacity(n: usize) -> KeyIndex {
        KeyIndex { main: HashMap::with_capacity(n), spill: HashMap::new() }
    }

    fn get(&self, key: &str, holds: &dyn Fn(usize) -> bool) -> Option<usize> {
        match self.main.get(&key_hash(key)) {
            Some(&ix) if holds(ix as usize) => Some(ix as usize),
            _ => self.spill.get(key).copied(),
        }
    }

    /// Row `ix` holds `key`; `holds` says whether a row holds it (the one there may, or may be
    /// another key with the same hash).
    fn insert(&mut self, key: &str, ix: usize, holds: &dyn Fn(usize) -> bool) {
        use std::collections::hash_map::Entry;
        match self.main.entry(key_hash(key)) {
            Entry::Vacant(e) => {
                e.insert(ix as u32);
            }
            Entry::Occupied(mut e) => {
                let there = *e.get() as usize;
                if there == ix || holds(there) {
                    e.insert(ix as u32);
                    self.spill.remove(key);
                } else {
                    // Another key with this hash (or a row that no longer holds a key): this
                    // one is kept by itself.
                    self.spill.insert(key.to_string(), ix);
                }
            }
        }
    }

    fn remove(&mut self, key: &str, holds: &dyn Fn(usize) -> bool) {
        if self.spill.remove(key).is_some() {
            return;
        }
        let h = key_hash(key);
        if self.main.get(&h).is_some_and(|&ix| holds(ix as usize)) {
            self.main.remove(&h);
        }
    }
}

pub struct Store {
    pub users: Vec<UserRec>,
    by_id: KeyIndex,
    by_name: KeyIndex,
    by_email: KeyIndex,
    pub groups: Vec<GroupRec>,
    /// `http://host:port/scim` — meta.location is built from it.
    base: String,
    /// Keep each user's JSON once made (fast listings); off, it is made per request (a demo
    /// holds a large directory in less memory).
    pub json_cache: bool,
    rng: StdRng,
    clock: i64,
    /// Whether the org's plan has multi-channel guests (Enterprise; reference §3: "Enterprise
    /// plan only"). Off, a write that makes or keeps a guest is refused ([`Store::guests_allowed`]).
    pub guests_allowed: bool,
    /// How long a new photo takes to show ([`Store::photo_delay`]).
    pub photo_delay: std::time::Duration,
    /// Photos sent but not applied yet: (user id, the photos, when they show).
    pending_photos: Vec<(String, Option<Vec<MultiValue>>, std::time::Instant)>,
    /// Custom profile fields the org has besides those SCIM made (0 by default).
    pub custom_profile_fields: usize,
    /// The profile fields SCIM has made (`scim::rules::created_profile_fields`): from the users
    /// there are, then from each write.
    made_fields: HashSet<&'static str>,
}

/// How long Slack takes to show a new photo in the emulator. Slack applies a photo
/// asynchronously ("PATCH response may still show old photo", reference §3, §8.5) and says no
/// more: the delay is a CHOICE, short enough for a client's read-back to see it (scimitar's
/// engine reads back for up to about 4 s).
pub const PHOTO_DELAY: std::time::Duration = std::time::Duration::from_millis(800);

/// Page of a list: total matches and the JSON of the rows.
pub struct Page {
    pub total: usize,
    pub start: usize,
    pub rows: Vec<String>,
}

pub fn version_ix(v: ApiVersion) -> usize {
    match v {
        ApiVersion::V1 => 0,
        ApiVersion::V2 => 1,
    }
}

/// Slack's userName rule: an email becomes its local part, lowercased, and every character other
/// than letters, digits, `.`, `_` and `-` becomes `_` (`scim::rules`, shared with the plan).
pub use scim::rules::normalize_user_name;

pub fn valid_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else { return false };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | ',' | ';'))
}

fn emails_of(u: &User) -> impl Iterator<Item = &str> {
    u.emails.iter().flatten().filter_map(|e| e.value.as_deref())
}

/// Every attribute name the PATCH code may create, in canonical case.
const KNOWN: &[&str] = &[
    "userName",
    "nickName",
    "displayName",
    "title",
    "name",
    "givenName",
    "familyName",
    "honorificPrefix",
    "formatted",
    "emails",
    "timezone",
    "locale",
    "userType",
    "preferredLanguage",
    "active",
    "profileUrl",
    "phoneNumbers",
    "addresses",
    "roles",
    "photos",
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
    "managerId",
    "startDate",
    "type",
    "expiration",
    "value",
    "primary",
    "display",
    "externalId",
    "password",
    "members",
];

fn canon_key(obj: &Map<String, Value>, key: &str) -> String {
    if let Some(k) = obj.keys().find(|k| k.eq_ignore_ascii_case(key)) {
        return k.clone();
    }
    KNOWN.iter().find(|k| k.eq_ignore_ascii_case(key)).map_or_else(|| key.to_string(), |k| k.to_string())
}

/// Extension URNs and their counterpart in the other version.
const EXT_URNS: [(&str, &str); 3] =
    [(urn::V2_ENTERPRISE, urn::V1_ENTERPRISE), (urn::V2_GUEST, urn::V1_GUEST), (urn::V2_PROFILE, urn::V1_PROFILE)];

/// The key an extension object has in a document of `version`, if `key` names an extension.
fn ext_key(key: &str, version: ApiVersion) -> Option<&'static str> {
    EXT_URNS.iter().find(|(a, b)| key.eq_ignore_ascii_case(a) || key.eq_ignore_ascii_case(b)).map(|(a, b)| match version {
        ApiVersion::V1 => *b,
        ApiVersion::V2 => *a,
    })
}

// ---------- filter evaluation ----------

fn literal_text(l: &Literal) -> Option<String> {
    match l {
        Literal::Str(s) => Some(s.to_lowercase()),
        Literal::Bool(b) => Some(b.to_string()),
        Literal::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => Some(format!("{}", *n as i64)),
        Literal::Num(n) => Some(n.to_string()),
        Literal::Null => None,
    }
}

fn compare(op: CompareOp, have: &str, want: &str) -> bool {
    match op {
        CompareOp::Eq => have == want,
        CompareOp::Ne => have != want,
        CompareOp::Co => have.contains(want),
        CompareOp::Sw => have.starts_with(want),
        CompareOp::Ew => have.ends_with(want),
        CompareOp::Gt => have > want,
        CompareOp::Ge => have >= want,
        CompareOp::Lt => have < want,
        CompareOp::Le => have <= want,
    }
}

/// Evaluate a filter; `lookup(attr)` gives the attribute's values lowercased, or `None` for an
/// attribute the resource cannot be filtered on (-> `invalid_query`).
pub fn eval(f: &Filter, lookup: &dyn Fn(&str) -> Option<Vec<String>>) -> Result<bool, Fail> {
    Ok(match f {
        Filter::And(a, b) => eval(a, lookup)? && eval(b, lookup)?,
        Filter::Or(a, b) => eval(a, lookup)? || eval(b, lookup)?,
        Filter::Not(inner) => !eval(inner, lookup)?,
        // Lists refuse value paths before evaluating (`Filter::slack_unsupported`); a PATCH path's
        // own `attr[…]` is split off by `parse_segments`, so one here is nested: refused.
        Filter::ValuePath { attr, .. } => return Err(bad("invalid_query").ctx(format!("attribute={attr}"))),
        Filter::Present { attr } => {
            let vals = lookup(attr).ok_or_else(|| bad("invalid_query").ctx(format!("attribute={attr}")))?;
            vals.iter().any(|v| !v.is_empty())
        }
        Filter::Compare { attr, op, value } => {
            let vals = lookup(attr).ok_or_else(|| bad("invalid_query").ctx(format!("attribute={attr}")))?;
            match literal_text(value) {
                // `ne`: no value equals it (RFC 7644 §3.4.2.2 on multi-valued attributes).
                Some(want) if *op == CompareOp::Ne => !vals.contains(&want),
                Some(want) => vals.iter().any(|h| compare(*op, h, &want)),
                // `eq null`: the attribute is unset; `ne null`: it is set.
                None => match op {
                    CompareOp::Eq => vals.iter().all(|v| v.is_empty()),
                    CompareOp::Ne => vals.iter().any(|v| !v.is_empty()),
                    _ => false,
                },
            }
        }
    })
}

/// Check every attribute of a filter exists, even in branches `and`/`or` would skip.
fn check_attrs(f: &Filter, lookup: &dyn Fn(&str) -> Option<Vec<String>>) -> Result<(), Fail> {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check_attrs(a, lookup)?;
            check_attrs(b, lookup)
        }
        Filter::Not(inner) => check_attrs(inner, lookup),
        Filter::Present { attr } | Filter::Compare { attr, .. } | Filter::ValuePath { attr, .. } => {
            lookup(attr).map(|_| ()).ok_or_else(|| bad("invalid_query").ctx(format!("attribute={attr}")))
        }
    }
}

fn lc(s: &Option<String>) -> Vec<String> {
    s.iter().map(|s| s.to_lowercase()).collect()
}

/// Filterable user attributes (reference §4 plus what clients commonly send).
fn user_attr(rec: &UserRec, attr: &str) -> Option<Vec<String>> {
    let u = &rec.user;
    let a = attr.to_ascii_lowercase();
    Some(match a.as_str() {
        "username" => lc(&u.user_name),
        "nickname" => lc(&u.nick_name),
        "email" | "emails" | "emails.value" => emails_of(u).map(str::to_lowercase).collect(),
        "active" => vec![u.is_active().to_string()],
        "displayname" => lc(&u.display_name),
        "title" => lc(&u.title),
        "id" => lc(&u.id),
        "name.givenname" => u.name.as_ref().map(|n| lc(&n.given_name)).unwrap_or_default(),
        "name.familyname" => u.name.as_ref().map(|n| lc(&n.family_name)).unwrap_or_default(),
        "timezone" => lc(&u.timezone),
        "usertype" => lc(&u.user_type),
        "department" => u.department().map(str::to_lowercase).into_iter().collect(),
        "manager.managerid" | "managerid" => u.manager_id().map(str::to_lowercase).into_iter().collect(),
        // Slack's guest flags: "1" for a multi-channel guest (restricted); this emulator has no
        // single-channel guests, so ultra_restricted is always "0".
        "restricted" => vec![if u.is_guest() { "1" } else { "0" }.into()],
        "ultra_restricted" => vec!["0".into()],
        _ => return None,
    })
}

fn group_attr(g: &GroupRec, attr: &str) -> Option<Vec<String>> {
    Some(match attr.to_ascii_lowercase().as_str() {
        "displayname" => vec![g.name.to_lowercase()],
        "id" => vec![g.id.to_lowercase()],
        "members" | "members.value" => g.members.iter().map(|m| m.to_lowercase()).collect(),
        _ => return None,
    })
}

/// Attribute lookup on a JSON element, for PATCH paths like `emails[value eq "x"]`.
fn json_attr(v: &Value, attr: &str) -> Option<Vec<String>> {
    let obj = v.as_object()?;
    let got = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(attr)).map(|(_, v)| v);
    Some(match got {
        None | Some(Value::Null) => vec![],
        Some(Value::String(s)) => vec![s.to_lowercase()],
        Some(other) => vec![other.to_string().to_lowercase()],
    })
}

// ---------- PATCH path handling ----------

enum Seg {
    Key(String),
    Filtered(String, Filter),
}

fn parse_segments(text: &str) -> Result<Vec<Seg>, Fail> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let key = &rest[..end];
        if key.is_empty() {
            return Err(bad("invalid_path").ctx(text));
        }
        rest = &rest[end..];
        if rest.starts_with('[') {
            let close = rest.find(']').ok_or_else(|| bad("invalid_path").ctx(text))?;
            let f = Filter::parse(&rest[1..close]).map_err(|e| bad(e.code).ctx(text))?;
            out.push(Seg::Filtered(key.to_string(), f));
            rest = &rest[close + 1..];
        } else {
            out.push(Seg::Key(key.to_string()));
        }
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    if out.is_empty() {
        return Err(bad("invalid_path"));
    }
    Ok(out)
}

/// Split a PATCH path into segments of a document of `version`; URN prefixes (with `.` or `:`
/// before the sub-attribute) become the extension key.
fn path_segments(path: &str, version: ApiVersion) -> Result<Vec<Seg>, Fail> {
    for (v2, v1) in EXT_URNS {
        for u in [v2, v1] {
            if path.get(..u.len()).is_some_and(|p| p.eq_ignore_ascii_case(u)) {
                let key = ext_key(u, version).unwrap_or(u);
                let rest = path[u.len()..].trim_start_matches([':', '.']);
                let mut segs = vec![Seg::Key(key.to_string())];
                if !rest.is_empty() {
                    segs.extend(parse_segments(rest)?);
                }
                return Ok(segs);
            }
        }
    }
    for core in [urn::V2_USER, urn::V1_CORE, urn::V2_GROUP] {
        if path.len() > core.len() && path.get(..core.len()).is_some_and(|p| p.eq_ignore_ascii_case(core)) {
            return parse_segments(path[core.len()..].trim_start_matches([':', '.']));
        }
    }
    parse_segments(path)
}

fn merge(target: &mut Value, value: Value) {
    match (target, value) {
        (Value::Object(t), Value::Object(v)) => {
            for (k, v) in v {
                let key = canon_key(t, &k);
                match t.get_mut(&key) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        t.insert(key, v);
                    }
                }
            }
        }
        (t, v) => *t = v,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Add,
    Replace,
    Remove,
}

fn parse_op(s: &str) -> Result<Op, Fail> {
    match s.to_ascii_lowercase().as_str() {
        "add" => Ok(Op::Add),
        "replace" => Ok(Op::Replace),
        "remove" => Ok(Op::Remove),
        other => Err(bad("invalid_operation").ctx(format!("op={other}"))),
    }
}

fn apply_at(obj: &mut Map<String, Value>, segs: &[Seg], op: Op, value: Option<Value>) -> Result<(), Fail> {
    let (first, rest) = segs.split_first().expect("non-empty path");
    match first {
        Seg::Key(k) => {
            let key = canon_key(obj, k);
            if rest.is_empty() {
                match op {
                    Op::Remove => {
                        obj.remove(&key);
                    }
                    Op::Add | Op::Replace => {
                        let value = value.ok_or_else(|| bad("invalid_request_payload").ctx("missing value"))?;
                        match obj.get_mut(&key) {
                            Some(Value::Array(have)) if op == Op::Add => match value {
                                Value::Array(v) => have.extend(v),
                                v => have.push(v),
                            },
                            Some(slot) if slot.is_object() && value.is_object() => merge(slot, value),
                            _ => {
                                obj.insert(key, value);
                            }
                        }
                    }
                }
                return Ok(());
            }
            let slot = obj.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                if op == Op::Remove {
                    return Ok(());
                }
                *slot = Value::Object(Map::new());
            }
            apply_at(slot.as_object_mut().unwrap(), rest, op, value)
        }
        Seg::Filtered(k, f) => {
            let key = canon_key(obj, k);
            let Some(Value::Array(items)) = obj.get_mut(&key) else {
                return if op == Op::Remove { Ok(()) } else { Err(bad("no_target").ctx(k)) };
            };
            let lookup_matches = |v: &Value| eval(f, &|a| json_attr(v, a)).unwrap_or(false);
            if rest.is_empty() {
                match op {
                    Op::Remove => items.retain(|v| !lookup_matches(v)),
                    Op::Add | Op::Replace => {
                        let value = value.ok_or_else(|| bad("invalid_request_payload").ctx("missing value"))?;
                        for it in items.iter_mut().filter(|v| lookup_matches(v)) {
                            merge(it, value.clone());
                        }
                    }
                }
            } else {
                for it in items.iter_mut().filter(|v| lookup_matches(v)) {
                    if let Some(o) = it.as_object_mut() {
                        apply_at(o, rest, op, value.clone())?;
                    }
                }
            }
            Ok(())
        }
    }
}

/// Apply v2 PatchOp operations to a user's v2 JSON document.
pub fn apply_v2_ops(doc: &mut Value, body: &Value) -> Result<(), Fail> {
    let ops = body.get("Operations").and_then(Value::as_array).ok_or_else(|| bad("invalid_request_payload").ctx("Operations missing"))?;
    let obj = doc.as_object_mut().expect("user document is an object");
    for o in ops {
        let op = parse_op(o.get("op").and_then(Value::as_str).unwrap_or(""))?;
        let value = o.get("value").cloned();
        match o.get("path").and_then(Value::as_str).filter(|p| !p.is_empty()) {
            Some(path) => apply_at(obj, &path_segments(path, ApiVersion::V2)?, op, value)?,
            None => {
                // No path: the value is an object of attributes (Entra sends this form).
                let Some(Value::Object(attrs)) = value else {
                    return Err(bad("invalid_request_payload").ctx("op without path needs an object value"));
                };
                for (k, v) in attrs {
                    let segs = match ext_key(&k, ApiVersion::V2) {
                        Some(e) => vec![Seg::Key(e.into())],
                        None => path_segments(&k, ApiVersion::V2)?,
                    };
                    apply_at(obj, &segs, op, Some(v))?;
                }
            }
        }
    }
    Ok(())
}

/// Apply a v1 partial resource to a user's v1 JSON document (reference §5, v1.1).
pub fn apply_v1_partial(doc: &mut Value, body: &Value) -> Result<(), Fail> {
    let body = body.as_object().ok_or_else(|| bad("invalid_request_payload"))?;
    let obj = doc.as_object_mut().expect("user document is an object");
    for (k, v) in body {
        if matches!(k.as_str(), "schemas" | "id" | "meta") {
            continue;
        }
        let key = ext_key(k, ApiVersion::V1).map_or_else(|| canon_key(obj, k), str::to_string);
        match v {
            // A single space clears the field.
            Value::String(s) if s == " " => {
                obj.remove(&key);
            }
            Value::Array(items) if items.iter().any(|it| it.get("operation").is_some()) => {
                let merged = merge_v1_elements(obj.get(&key), items);
                obj.insert(key, Value::Array(merged));
            }
            Value::Array(items) => {
                let is_del = |it: &Value| it.get("operation").and_then(Value::as_str) == Some("delete");
                let deleted: HashSet<String> = items
                    .iter()
                    .filter(|it| is_del(it))
                    .filter_map(|it| it.get("value").and_then(Value::as_str).map(str::to_lowercase))
                    .collect();
                let kept: Vec<Value> = items.iter().filter(|it| !is_del(it)).cloned().collect();
                let base = if kept.is_empty() { obj.get(&key).and_then(Value::as_array).cloned().unwrap_or_default() } else { kept };
                let out: Vec<Value> = base
                    .into_iter()
                    .filter(|it| !it.get("value").and_then(Value::as_str).is_some_and(|s| deleted.contains(&s.to_lowercase())))
                    .collect();
                obj.insert(key, Value::Array(out));
            }
            Value::Object(sub) => {
                let slot = obj.entry(key).or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                let so = slot.as_object_mut().unwrap();
                for (sk, sv) in sub {
                    let skey = canon_key(so, sk);
                    if sv.as_str() == Some(" ") {
                        so.remove(&skey);
                    } else {
                        match so.get_mut(&skey) {
                            Some(t) if t.is_object() && sv.is_object() => merge(t, sv.clone()),
                            _ => {
                                so.insert(skey, sv.clone());
                            }
                        }
                    }
                }
            }
            other => {
                obj.insert(key, other.clone());
            }
        }
    }
    // meta.attributes lists whole attributes or sub-attributes to remove.
    if let Some(attrs) = body.get("meta").and_then(|m| m.get("attributes")).and_then(Value::as_array) {
        for a in attrs.iter().filter_map(Value::as_str) {
            apply_at(obj, &path_segments(a, ApiVersion::V1)?, Op::Remove, None)?;
        }
    }
    Ok(())
}

/// Azure and friends send booleans as strings ("False"); Slack accepts them.
fn fix_active(doc: &mut Value) {
    if let Some(a) = doc.get_mut("active")
        && let Some(s) = a.as_str()
    {
        match s.to_ascii_lowercase().as_str() {
            "true" => *a = Value::Bool(true),
            "false" => *a = Value::Bool(false),
            _ => {}
        }
    }
}

fn parse_user(mut doc: Value) -> Result<User, Fail> {
    fix_active(&mut doc);
    User::from_value(doc).map_err(|e| bad("invalid_attribute_format").ctx(e))
}

/// Keep only the primary and one secondary email, primary first and flagged.
fn canonical_emails(u: &User) -> Result<Vec<MultiValue>, Fail> {
    let Some(list) = u.emails.as_ref().filter(|l| l.iter().any(|e| e.value.as_deref().is_some_and(|v| !v.trim().is_empty()))) else {
        return Err(bad("email_empty"));
    };
    let primary = u.primary_email().unwrap_or_default().trim().to_string();
    let mut out = Vec::new();
    for e in list {
        let Some(v) = e.value.as_deref().map(str::trim).filter(|v| !v.is_empty()) else { continue };
        if !valid_email(v) {
            return Err(bad("email_invalid").ctx(format!("email={v}")));
        }
        if v == primary && out.iter().all(|m: &MultiValue| m.primary != Some(true)) {
            out.insert(0, MultiValue { value: Some(v.into()), kind: e.kind.clone(), primary: Some(true), ..Default::default() });
        } else if !out.iter().any(|m: &MultiValue| m.value.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(v))) {
            out.push(MultiValue { value: Some(v.into()), kind: e.kind.clone(), primary: Some(false), ..Default::default() });
        }
    }
    if primary.is_empty() || !valid_email(&primary) {
        return Err(bad("email_invalid").ctx(format!("email={primary}")));
    }
    out.truncate(2);
    Ok(out)
}

/// The values of a user's photos (not the removals of an update).
fn live_photos(u: &User) -> impl Iterator<Item = &str> {
    u.photos.iter().flatten().filter(|p| p.operation.is_none()).filter_map(|p| p.value.as_deref())
}

/// Does this schemas list name one of the profile extension's URNs?
fn lists_profile(schemas: Option<&Value>) -> bool {
    schemas.and_then(Value::as_array).is_some_and(|a| {
        a.iter().filter_map(Value::as_str).any(|x| x.eq_ignore_ascii_case(urn::V2_PROFILE) || x.eq_ignore_ascii_case(urn::V1_PROFILE))
    })
}

/// Does this body (a user, a v1 partial user, or a v2 PatchOp) write the profile extension?
fn writes_profile(body: &Value) -> bool {
    let is_profile = |k: &str| k.eq_ignore_ascii_case(urn::V2_PROFILE) || k.eq_ignore_ascii_case(urn::V1_PROFILE);
    let has_key = |v: &Value| v.as_object().is_some_and(|o| o.iter().any(|(k, v)| is_profile(k) && !v.is_null()));
    if has_key(body) {
        return true;
    }
    body.get("Operations").and_then(Value::as_array).is_some_and(|ops| {
        ops.iter().any(|o| {
            let path = o.get("path").and_then(Value::as_str).unwrap_or("");
            (path.len() >= urn::V2_PROFILE.len() && is_profile(&path[..urn::V2_PROFILE.len()]))
                || (path.is_empty() && o.get("value").is_some_and(has_key))
        })
    })
}

/// Slack: "Must provide the `urn:ietf:params:scim:schemas:extension:slack:profile:2.0:User`
/// schema in request body" to set `startDate` (reference §3). What Slack answers without it is
/// not documented: the emulator refuses with `missing_schema_element` (a CHOICE), so a client
/// that forgets it finds out here.
fn check_profile_schema(body: &Value) -> Result<(), Fail> {
    if writes_profile(body) && !lists_profile(body.get("schemas")) {
        return Err(bad("missing_schema_element").ctx(format!("the schemas list must name {} to set startDate", urn::V2_PROFILE)));
    }
    Ok(())
}

/// A v1 PATCH of a multi-valued attribute whose elements carry `"operation"` (SCIM 1.1 §3.3.2):
/// the listed values are merged into the stored ones, those marked `delete` removed, the others
/// kept; a new `primary` value takes the flag from the rest, and a phone of a `type` the user has
/// replaces that one (Slack stores one of each, reference §3).
fn merge_v1_elements(existing: Option<&Value>, items: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = existing.and_then(Value::as_array).cloned().unwrap_or_default();
    let val = |v: &Value| v.get("value").and_then(Value::as_str).map(str::to_lowercase);
    for it in items.iter().filter(|it| it.get("operation").and_then(Value::as_str) == Some("delete")) {
        let gone = val(it);
        out.retain(|e| val(e) != gone);
    }
    for it in items.iter().filter(|it| it.get("operation").and_then(Value::as_str) != Some("delete")) {
        let mut it = it.clone();
        if let Some(o) = it.as_object_mut() {
            o.remove("operation");
        }
        if it.get("primary").and_then(Value::as_bool) == Some(true) {
            for e in out.iter_mut().filter_map(Value::as_object_mut) {
                e.remove("primary");
            }
        }
        let kind = it.get("type").and_then(Value::as_str).map(str::to_string);
        let same =
            out.iter().position(|e| val(e) == val(&it) || (kind.is_some() && e.get("type").and_then(Value::as_str) == kind.as_deref()));
        match same {
            Some(i) => merge(&mut out[i], it),
            None => out.push(it),
        }
    }
    out
}

impl Store {
    pub fn new(users: Vec<User>, groups: Vec<Group>, seed: u64) -> Store {
        let mut s = Store::empty(seed, users.len());
        s.push_users(users);
        s.add_groups(groups, Vec::new());
        s
    }

    /// A store with no users or groups yet (room for `users`): they come with
    /// [`Store::push_users`] and [`Store::add_groups`], so a server can answer while it seeds.
    pub fn empty(seed: u64, users: usize) -> Store {
        Store {
            users: Vec::with_capacity(users),
            by_id: KeyIndex::with_capacity(users),
            by_name: KeyIndex::with_capacity(users),
            by_email: KeyIndex::with_capacity(users),
            groups: Vec::new(),
            base: "http://127.0.0.1/scim".into(),
            json_cache: true,
            rng: StdRng::seed_from_u64(seed ^ 0x05ee_d1d5),
            clock: 1_767_225_600,
            guests_allowed: true,
            photo_delay: PHOTO_DELAY,
            pending_photos: Vec::new(),
            custom_profile_fields: 0,
            made_fields: HashSet::new(),
        }
    }

    /// Append seeded users (as listed, after those already there).
    pub fn push_users(&mut self, users: Vec<User>) {
        self.made_fields.extend(users.iter().flat_map(scim::rules::created_profile_fields));
        for u in users {
            let owner = u.roles.iter().flatten().any(|r| match r {
                Role::Text(t) => t == "primary_owner",
                Role::Object(o) => o.value.as_deref() == Some("primary_owner"),
            });
            let bot = emails_of(&u).any(|e| e.ends_with("@slack-bots.com"));
            let ix = self.users.len();
            self.index(ix, &u);
            self.users.push(UserRec::new(u, owner, bot, self.json_cache));
        }
    }

    /// Add seeded groups, and the memberships (user index, group) their users do not list yet.
    pub fn add_groups(&mut self, groups: Vec<Group>, memberships: Vec<(usize, scim::types::GroupRef)>) {
        for g in groups {
            self.groups.push(GroupRec {
                id: g.id().to_string(),
                name: g.name().to_string(),
                created: g.meta.as_ref().and_then(|m| m.created.clone()).unwrap_or_default(),
                members: g.member_ids().map(str::to_string).collect(),
            });
        }
        for (u, g) in memberships {
            if let Some(rec) = self.users.get_mut(u) {
                rec.user.groups.get_or_insert_with(Vec::new).push(g);
                rec.touch();
            }
        }
    }

    pub fn set_base(&mut self, base: String) {
        self.base = base;
        for u in &mut self.users {
            u.touch();
        }
    }

    /// Index `u`, which is (or is about to be) row `ix`: a key already held by another row
    /// that still holds it is taken over, as a map's insert would.
    fn index(&mut self, ix: usize, u: &User) {
        let users = &self.users;
        let row = |i: usize| if i == ix { Some(u) } else { users.get(i).map(|r| &r.user) };
        self.by_id.insert(u.id(), ix, &|i| row(i).is_some_and(|x| holds_id(x, u.id())));
        if let Some(n) = &u.user_name {
            let n = n.to_lowercase();
            self.by_name.insert(&n, ix, &|i| row(i).is_some_and(|x| holds_name(x, &n)));
        }
        for e in emails_of(u) {
            let e = e.to_lowercase();
            self.by_email.insert(&e, ix, &|i| row(i).is_some_and(|x| holds_email(x, &e)));
        }
    }

    fn unindex(&mut self, ix: usize) {
        let u = &self.users[ix].user;
        let users = &self.users;
        if let Some(n) = &u.user_name {
            let n = n.to_lowercase();
            self.by_name.remove(&n, &|i| users.get(i).is_some_and(|r| holds_name(&r.user, &n)));
        }
        for e in emails_of(u) {
            let e = e.to_lowercase();
            self.by_email.remove(&e, &|i| users.get(i).is_some_and(|r| holds_email(&r.user, &e)));
        }
    }

    /// The row of the user with this id.
    fn id_ix(&self, id: &str) -> Option<usize> {
        self.by_id.get(id, &|i| self.users.get(i).is_some_and(|r| holds_id(&r.user, id)))
    }

    /// The row of the user with this userName (lowercased).
    fn name_ix(&self, lower: &str) -> Option<usize> {
        self.by_name.get(lower, &|i| self.users.get(i).is_some_and(|r| holds_name(&r.user, lower)))
    }

    /// The row of the user with this email (lowercased), primary or not.
    fn email_ix(&self, lower: &str) -> Option<usize> {
        self.by_email.get(lower, &|i| self.users.get(i).is_some_and(|r| holds_email(&r.user, lower)))
    }

    pub fn user_ix(&self, id: &str) -> Result<usize, Fail> {
        self.id_ix(id).ok_or_else(|| Fail::new(404, "no_such_user"))
    }

    fn group_ix(&self, id: &str) -> Result<usize, Fail> {
        self.groups.iter().position(|g| g.id == id).ok_or_else(|| Fail::new(404, "no_such_group"))
    }

    fn now(&mut self) -> String {
        // Real wall-clock time, so created dates of new users sort after seeded ones.
        let t = time::OffsetDateTime::now_utc().unix_timestamp().max(self.clock);
        self.clock = t;
        format_time(t)
    }

    // ---------- users ----------

    /// The user's JSON for `version` (cached).
    pub fn user_json(&self, ix: usize, version: ApiVersion) -> std::borrow::Cow<'_, str> {
        let rec = &self.users[ix];
        let make = || {
            let mut u = rec.user.clone();
            let meta = u.meta.get_or_insert_with(Meta::default);
            meta.location = Some(format!("{}/{}/Users/{}", self.base, version.path_segment(), rec.user.id()));
            let mut v = u.to_value(version);
            let o = v.as_object_mut().unwrap();
            // Slack sends these even when unset.
            o.entry("externalId").or_insert(Value::from(""));
            for k in ["userType", "preferredLanguage", "locale", "title", "timezone", "profileUrl"] {
                o.entry(k).or_insert(Value::Null);
            }
            o.entry("groups").or_insert(Value::Array(vec![]));
            o.entry("active").or_insert(Value::Bool(false));
            serde_json::to_string(&v).expect("json")
        };
        match &rec.cache {
            Some(c) if self.json_cache => std::borrow::Cow::Borrowed(c[version_ix(version)].get_or_init(make)),
            _ => std::borrow::Cow::Owned(make()),
        }
    }

    pub fn list_users(&self, filter: Option<&Filter>, start: usize, count: usize, version: ApiVersion) -> Result<Page, Fail> {
        let Some(f) = filter else {
            let total = self.users.len();
            let rows = (start - 1..total.min(start - 1 + count)).map(|i| self.user_json(i, version).to_string()).collect();
            return Ok(Page { total, start, rows });
        };
        let probe = |a: &str| -> Option<Vec<String>> {
            match self.users.first() {
                Some(r) => user_attr(r, a),
                None => user_attr(&UserRec::new(User::default(), false, false, false), a),
            }
        };
        check_attrs(f, &probe)?;
        let matched: Vec<usize> = match self.candidates(f) {
            Some(c) => c.into_iter().filter(|&i| eval(f, &|a| user_attr(&self.users[i], a)).unwrap_or(false)).collect(),
            None => {
                let mut out = Vec::new();
                for (i, r) in self.users.iter().enumerate() {
                    if eval(f, &|a| user_attr(r, a))? {
                        out.push(i);
                    }
                }
                out
            }
        };
        let rows = matched.iter().skip(start - 1).take(count).map(|&i| self.user_json(i, version).to_string()).collect();
        Ok(Page { total: matched.len(), start, rows })
    }

    /// Rows that can possibly match, from the hash indexes; `None` = scan everything.
    fn candidates(&self, f: &Filter) -> Option<Vec<usize>> {
        match f {
            Filter::Compare { attr, op: CompareOp::Eq, value: Literal::Str(s) } => {
                let key = s.to_lowercase();
                let hit = match attr.to_ascii_lowercase().as_str() {
                    "username" => self.name_ix(&key),
                    "email" | "emails" | "emails.value" => self.email_ix(&key),
                    "id" => self.id_ix(s),
                    _ => return None,
                };
                Some(hit.into_iter().collect())
            }
            Filter::And(a, b) => self.candidates(a).or_else(|| self.candidates(b)),
            Filter::Or(a, b) => {
                let mut v = self.candidates(a)?;
                v.extend(self.candidates(b)?);
                v.sort_unstable();
                v.dedup();
                Some(v)
            }
            _ => None,
        }
    }

    /// Validate and normalise a user about to be stored at `ix` (`None` = new).
    fn finalize(&self, mut u: User, ix: Option<usize>, version: ApiVersion) -> Result<User, Fail> {
        let old = ix.map(|i| &self.users[i].user);
        // userName and nickName are tied: a change of either updates the other.
        let name_changed = old.is_none_or(|o| o.user_name != u.user_name);
        // A nickName left out changes nothing (python-slack-sdk's `update_user` PUTs the user it
        // read without it); only one that differs from the stored one renames.
        let nick_changed = old.is_some_and(|o| u.nick_name.is_some() && o.nick_name != u.nick_name);
        let raw = if !name_changed && nick_changed { u.nick_name.clone() } else { u.user_name.clone() };
        let raw = raw.ok_or_else(|| bad("username_required"))?;
        if raw.trim().is_empty() {
            return Err(bad("username_empty"));
        }
        // The plan checks the same rules before any write (`scim::rules`, reference §3).
        let name = match scim::rules::slack_user_name(&raw) {
            Ok(n) => n,
            Err(UserNameProblem::TooLong(_)) => {
                let name = normalize_user_name(&raw);
                return Err(Fail::versioned(400, format!("long_username (user={name})"), "username_too_long"));
            }
            Err(p @ UserNameProblem::Characters(_)) => return Err(bad(p.code()).ctx("userName")),
            Err(UserNameProblem::Empty) => return Err(bad("username_empty")),
        };
        if let Some(other) = self.name_ix(&name)
            && Some(other) != ix
        {
            return Err(Fail::new(409, "username_taken").ctx(format!("user={name}")));
        }
        u.user_name = Some(name.clone());
        u.nick_name = Some(name.clone());
        let emails = canonical_emails(&u)
            .map_err(|e| if old.is_some() && e.code == "email_empty" { Fail::new(400, "missing_primary_email") } else { e })?;
        for e in &emails {
            let v = e.value.as_deref().unwrap().to_lowercase();
            // Deactivated users keep their email, so this also collides with them.
            if let Some(other) = self.email_ix(&v)
                && Some(other) != ix
            {
                return Err(Fail::new(409, "email_taken").ctx(format!("email={v}")));
            }
        }
        u.emails = Some(emails);
        if u.display_name.as_deref().is_none_or(|d| d.trim().is_empty()) {
            u.display_name = Some(name);
        }
        if let Some(g) = &u.guest
            && g.kind.as_deref() != Some("multi")
        {
            return Err(bad("invalid_attribute_format").ctx("guest type must be multi"));
        }
        if let Some(e) = u.guest_expiration()
            && scim::rules::iso_date(e, scim::rules::DateEnd::End).is_err()
        {
            return Err(bad("invalid_attribute_format").ctx(format!("expiration={e}")));
        }
        // Multi-channel guests are an Enterprise plan feature (reference §3). Slack documents no
        // code for the refusal on other plans: `invalid_request_payload` ("may contain
        // unsupported attributes") is a CHOICE.
        if u.is_guest() && !self.guests_allowed && old.is_none_or(|o| !o.is_guest()) {
            return Err(bad("invalid_request_payload").ctx("guest extension: this plan has no multi-channel guests"));
        }
        // Admins, owners and the primary owner are never made guests (reference §3, §7).
        if u.is_guest()
            && old.is_none_or(|o| !o.is_guest())
            && u.role_values().iter().chain(old.map(|o| o.role_values()).iter().flatten()).any(|r| scim::rules::is_admin_role(r))
        {
            return Err(bad("cannot_make_user_guest"));
        }
        if let Some(d) = u.start_date()
            && scim::rules::iso_date(d, scim::rules::DateEnd::Start).is_err()
        {
            return Err(bad("invalid_attribute_format").ctx(format!("startDate={d}")));
        }
        if let Some(p) = live_photos(&u).find(|p| scim::rules::photo_value(p).is_err()) {
            return Err(bad("photos_invalid").ctx(format!("photo={}", scim::sanitize::excerpt(p, 60))));
        }
        // Slack makes a profile field for some attributes the first time one is set, up to 50
        // custom fields in all (reference §3 `unable_to_create_team_profile_fields`).
        let new_fields = scim::rules::created_profile_fields(&u).into_iter().filter(|f| !self.made_fields.contains(f)).count();
        if new_fields > 0 && self.custom_profile_fields + self.made_fields.len() + new_fields > scim::rules::CUSTOM_PROFILE_FIELDS_MAX {
            return Err(bad("unable_to_create_team_profile_fields"));
        }
        // One address stored (reference §3 `addresses`): the primary one, else the first; its
        // `type` and `primary` are not stored.
        if let Some(a) = u.address().cloned() {
            u.addresses = Some(vec![scim::types::Address { primary: None, ..a }]);
        }
        if let Some(e) = &u.enterprise
            && let Some(m) = &e.manager
            && m.manager_id.is_none()
            && m.display_name.is_some()
        {
            return Err(bad("improper_enterprise_schema_format"));
        }
        // A manager is a Slack id, a primary email or a userName (reference §3); one that names
        // nobody is refused (the plan refuses it first). Slack's code for this is UNCERTAIN.
        if let Some(m) = u.manager_id()
            && old.is_none_or(|o| o.manager_id() != Some(m))
            && self.id_ix(m).is_none()
            && self.email_ix(&m.to_lowercase()).is_none()
            && self.name_ix(&m.to_lowercase()).is_none()
        {
            return Err(bad("invalid_attribute_format").ctx(format!("manager={m}")));
        }
        if let Some(i) = ix {
            let rec = &self.users[i];
            if u.active == Some(false) && rec.user.active != Some(false) {
                self.check_deactivate(i)?;
            }
            if (rec.primary_owner || rec.bot) && u.is_guest() {
                return Err(bad("cannot_make_user_guest"));
            }
            // Converting member <-> multi-channel guest also reactivates (reference §2).
            if rec.user.is_guest() != u.is_guest() && rec.user.active == Some(false) {
                u.active = Some(true);
            }
            u.id = rec.user.id.clone();
            u.meta = rec.user.meta.clone();
            u.groups = rec.user.groups.clone();
            // The primary owner's role is not client-editable.
            if rec.primary_owner {
                u.roles = rec.user.roles.clone();
            }
        }
        let _ = version;
        u.password = None;
        u.external_id = None;
        u.extra = Map::new();
        Ok(u)
    }

    fn check_deactivate(&self, ix: usize) -> Result<(), Fail> {
        let rec = &self.users[ix];
        if rec.primary_owner {
            return Err(bad("cannot_disable_primary_owner"));
        }
        if rec.bot {
            return Err(bad("cannot_disable_bot_user_with_scim"));
        }
        Ok(())
    }

    fn replace_user(&mut self, ix: usize, u: User) {
        self.made_fields.extend(scim::rules::created_profile_fields(&u));
        self.unindex(ix);
        self.index(ix, &u);
        let rec = &mut self.users[ix];
        rec.user = u;
        rec.touch();
    }

    pub fn create_user(&mut self, body: &Value, version: ApiVersion) -> Result<usize, Fail> {
        if body.get("schemas").and_then(Value::as_array).is_none_or(|a| a.is_empty()) {
            return Err(bad("missing_schema_element"));
        }
        check_profile_schema(body)?;
        let mut u = parse_user(body.clone())?;
        u.active.get_or_insert(true);
        u.groups = Some(Vec::new());
        u.id = None;
        // Clients cannot make a primary owner.
        if let Some(r) = &mut u.roles {
            r.retain(|r| {
                !matches!(r, Role::Text(t) if t == "primary_owner")
                    && !matches!(r, Role::Object(o) if o.value.as_deref() == Some("primary_owner"))
            });
        }
        let mut u = self.finalize(u, None, version)?;
        let mut id = random_id(&mut self.rng, 'W');
        while self.id_ix(&id).is_some() {
            id = random_id(&mut self.rng, 'W');
        }
        self.defer_photo(&id, None, &mut u);
        u.id = Some(id);
        u.meta = Some(Meta { created: Some(self.now()), ..Default::default() });
        let ix = self.users.len();
        self.index(ix, &u);
        self.made_fields.extend(scim::rules::created_profile_fields(&u));
        self.users.push(UserRec::new(u, false, false, self.json_cache));
        Ok(ix)
    }

    pub fn patch_user(&mut self, id: &str, body: &Value, version: ApiVersion) -> Result<usize, Fail> {
        let ix = self.user_ix(id)?;
        check_profile_schema(body)?;
        let mut doc = self.users[ix].user.to_value(version);
        match version {
            ApiVersion::V2 => apply_v2_ops(&mut doc, body)?,
            ApiVersion::V1 => apply_v1_partial(&mut doc, body)?,
        }
        let u = parse_user(doc)?;
        let mut u = self.finalize(u, Some(ix), version)?;
        let old = self.users[ix].user.photos.clone();
        self.defer_photo(id, old, &mut u);
        self.replace_user_checked(ix, u);
        Ok(ix)
    }

    /// A new photo is applied later (reference §3 `photos`: "applied asynchronously (PATCH
    /// response may still show old photo)", §8.5): the user keeps `old` until
    /// [`Store::settle_photos`] runs after [`Store::photo_delay`]. A photo removed goes at once.
    fn defer_photo(&mut self, id: &str, old: Option<Vec<MultiValue>>, u: &mut User) {
        let new_value = |p: &Option<Vec<MultiValue>>| p.iter().flatten().filter_map(|m| m.value.clone()).collect::<Vec<_>>();
        if u.photos.as_ref().is_none_or(|p| p.is_empty()) || new_value(&u.photos) == new_value(&old) {
            return;
        }
        let due = std::time::Instant::now() + self.photo_delay;
        self.pending_photos.retain(|(pid, _, _)| pid != id);
        self.pending_photos.push((id.to_string(), u.photos.take(), due));
        u.photos = old;
    }

    /// Are photos waiting whose time has come?
    pub fn photos_due(&self, now: std::time::Instant) -> bool {
        self.pending_photos.iter().any(|(_, _, due)| *due <= now)
    }

    /// Apply the photos whose time has come.
    pub fn settle_photos(&mut self, now: std::time::Instant) {
        let (due, wait): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_photos).into_iter().partition(|(_, _, d)| *d <= now);
        self.pending_photos = wait;
        for (id, photos, _) in due {
            if let Some(ix) = self.id_ix(&id) {
                let rec = &mut self.users[ix];
                rec.user.photos = photos;
                rec.touch();
            }
        }
    }

    /// Store a validated user; a user it deactivates loses what Slack takes away.
    fn replace_user_checked(&mut self, ix: usize, u: User) {
        let was_active = self.users[ix].user.active != Some(false);
        let now_active = u.active != Some(false);
        self.replace_user(ix, u);
        if was_active && !now_active {
            self.on_deactivated(ix);
        }
    }

    /// What Slack takes away from a user it deactivates, as the emulator models it.
    ///
    /// VERIFIED: after Slack's April 2024 incident deactivated users updated through SCIM, Slack
    /// reactivated them and then said "there are some remaining issues with user group membership
    /// and administrative roles. Workspace Owners will need to make some manual adjustments"
    /// (reference §8.4, STATUS24): a deactivation costs a user their user-group memberships and
    /// admin roles, and reactivating does not give them back. Slack's help center says the same
    /// of channels ("Deactivate a member's account": they are removed from all channels; a
    /// reactivated member is not added back to them).
    ///
    /// A CHOICE (no source shows the SCIM responses): the emulator drops the user from every
    /// group's `members` (and empties their `groups`) at once, and drops their `roles`, when the
    /// deactivation lands; reactivation gives none of it back. Adding a deactivated user to a
    /// group stays refused (`unable_to_add_deleted_or_guest_to_group`, `check_new_members`).
    fn on_deactivated(&mut self, ix: usize) {
        let id = self.users[ix].user.id().to_string();
        for gi in 0..self.groups.len() {
            if self.groups[gi].members.contains(&id) {
                let keep: Vec<String> = self.groups[gi].members.iter().filter(|m| **m != id).cloned().collect();
                self.set_members(gi, keep);
            }
        }
        let rec = &mut self.users[ix];
        rec.user.groups = Some(Vec::new());
        if !rec.primary_owner {
            rec.user.roles = None;
        }
        rec.touch();
    }

    /// PUT: full replace. Omitted attributes are blanked and an omitted `active` means false
    /// (the v2 docs' PUT example comes back `active:false`; reference §8.1).
    pub fn put_user(&mut self, id: &str, body: &Value, version: ApiVersion) -> Result<usize, Fail> {
        let ix = self.user_ix(id)?;
        if body.get("schemas").and_then(Value::as_array).is_none_or(|a| a.is_empty()) {
            return Err(bad("missing_schema_element"));
        }
        check_profile_schema(body)?;
        let mut u = parse_user(body.clone())?;
        if u.user_name.is_none() {
            return Err(bad("username_required"));
        }
        if u.emails.as_ref().is_none_or(|e| e.is_empty()) {
            return Err(bad("email_empty"));
        }
        u.active.get_or_insert(false);
        let mut u = self.finalize(u, Some(ix), version)?;
        let old = self.users[ix].user.photos.clone();
        self.defer_photo(id, old, &mut u);
        self.replace_user_checked(ix, u);
        Ok(ix)
    }

    /// The April 2024 incident (reference §8.4): an update also deactivated the user.
    pub fn incident_deactivate(&mut self, ix: usize) {
        let rec = &mut self.users[ix];
        if rec.user.active != Some(false) && !rec.primary_owner {
            rec.user.active = Some(false);
            rec.touch();
            self.on_deactivated(ix);
        }
    }

    /// DELETE: deactivate; idempotent.
    pub fn delete_user(&mut self, id: &str) -> Result<(), Fail> {
        let ix = self.user_ix(id)?;
        self.check_deactivate(ix)?;
        let rec = &mut self.users[ix];
        if rec.user.active != Some(false) {
            rec.user.active = Some(false);
            rec.touch();
            self.on_deactivated(ix);
        }
        Ok(())
    }

    pub fn primary_owner_id(&self) -> String {
        self.users.iter().find(|r| r.primary_owner).map(|r| r.user.id().to_string()).unwrap_or_default()
    }

    pub fn bot_ids(&self) -> Vec<String> {
        self.users.iter().filter(|r| r.bot).map(|r| r.user.id().to_string()).collect()
    }

    // ---------- groups ----------

    pub fn group_json(&self, gi: usize, version: ApiVersion) -> Value {
        let g = &self.groups[gi];
        let grp = Group {
            id: Some(g.id.clone()),
            meta: Some(Meta {
                created: Some(g.created.clone()),
                location: Some(format!("{}/{}/Groups/{}", self.base, version.path_segment(), g.id)),
                ..Default::default()
            }),
            display_name: Some(g.name.clone()),
            members: Some(
                g.members
                    .iter()
                    .map(|m| Member { value: Some(m.clone()), display: self.id_ix(m).map(|i| self.users[i].user.label()), operation: None })
                    .collect(),
            ),
            extra: Map::new(),
        };
        grp.to_value(version)
    }

    pub fn list_groups(
        &self,
        filter: Option<&Filter>,
        start: usize,
        count: usize,
        version: ApiVersion,
    ) -> Result<(usize, Vec<Value>), Fail> {
        let mut matched = Vec::new();
        if let Some(f) = filter {
            let probe = GroupRec { id: String::new(), name: String::new(), created: String::new(), members: vec![] };
            check_attrs(f, &|a| group_attr(&probe, a))?;
        }
        for (i, g) in self.groups.iter().enumerate() {
            if filter.map_or(Ok(true), |f| eval(f, &|a| group_attr(g, a)))? {
                matched.push(i);
            }
        }
        let rows = matched.iter().skip(start - 1).take(count).map(|&i| self.group_json(i, version)).collect();
        Ok((matched.len(), rows))
    }

    pub fn get_group(&self, id: &str) -> Result<usize, Fail> {
        self.group_ix(id)
    }

    /// Members to be added must exist and be active. Unknown ids answer `no_such_group_members`
    /// (400; Slack lists that code for "one or more members do not exist" — status UNCERTAIN).
    /// Deactivated users are refused with `unable_to_add_deleted_or_guest_to_group`; guests are
    /// allowed, because the POST/PATCH text permits multi-channel guests (reference §8.11 UNCERTAIN).
    fn check_new_members(&self, ids: &[String]) -> Result<(), Fail> {
        if ids.len() > 15_000 {
            return Err(bad("too_many_users"));
        }
        for id in ids {
            let Some(ix) = self.id_ix(id) else {
                return Err(bad("no_such_group_members").ctx(format!("user={id}")));
            };
            if self.users[ix].user.active == Some(false) {
                return Err(bad("unable_to_add_deleted_or_guest_to_group").ctx(format!("user={id}")));
            }
        }
        Ok(())
    }

    fn member_ids(v: Option<&Value>) -> Result<Vec<String>, Fail> {
        let Some(v) = v else { return Ok(vec![]) };
        let items = match v {
            Value::Array(a) => a.clone(),
            Value::Object(_) => vec![v.clone()],
            Value::Null => vec![],
            _ => return Err(bad("invalid_request_payload").ctx("members must be a list")),
        };
        items
            .iter()
            .map(|m| {
                m.get("value")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| bad("invalid_request_payload").ctx("member without value"))
            })
            .collect()
    }

    /// Slack's cap on a group's members (reference §7 `group_member_max_exceeded`; the plan checks
    /// it before any write, `scim::rules::GROUP_MEMBER_CAP`).
    fn check_cap(members: &[String]) -> Result<(), Fail> {
        let n = members.iter().collect::<HashSet<_>>().len();
        if n > GROUP_MEMBER_CAP {
            return Err(bad("group_member_max_exceeded").ctx(format!("members={n}, max={GROUP_MEMBER_CAP}")));
        }
        Ok(())
    }

    /// Set a group's membership and keep every user's `groups` list in step.
    fn set_members(&mut self, gi: usize, new: Vec<String>) {
        let mut seen = HashSet::new();
        let new: Vec<String> = new.into_iter().filter(|m| seen.insert(m.clone())).collect();
        let old: HashSet<String> = self.groups[gi].members.iter().cloned().collect();
        let gid = self.groups[gi].id.clone();
        let gname = self.groups[gi].name.clone();
        for m in old.iter().filter(|m| !seen.contains(*m)) {
            if let Some(ix) = self.id_ix(m) {
                let rec = &mut self.users[ix];
                if let Some(gs) = &mut rec.user.groups {
                    gs.retain(|g| g.value.as_deref() != Some(gid.as_str()));
                }
                rec.touch();
            }
        }
        for m in new.iter().filter(|m| !old.contains(*m)) {
            if let Some(ix) = self.id_ix(m) {
                let rec = &mut self.users[ix];
                rec.user.groups.get_or_insert_with(Vec::new).push(GroupRef { value: Some(gid.clone()), display: Some(gname.clone()) });
                rec.touch();
            }
        }
        self.groups[gi].members = new;
    }

    fn rename_group(&mut self, gi: usize, name: &str) -> Result<(), Fail> {
        let name = name.trim();
        if name.is_empty() {
            return Err(bad("invalid_display_name"));
        }
        if self.groups.iter().enumerate().any(|(i, g)| i != gi && g.name.eq_ignore_ascii_case(name)) {
            // Slack's code for a duplicate group name is not documented; see create_group.
            return Err(Fail::new(409, "group_creation_failed").ctx("name_taken"));
        }
        self.groups[gi].name = name.to_string();
        let gid = self.groups[gi].id.clone();
        for m in self.groups[gi].members.clone() {
            if let Some(ix) = self.id_ix(&m) {
                let rec = &mut self.users[ix];
                for g in rec.user.groups.iter_mut().flatten() {
                    if g.value.as_deref() == Some(gid.as_str()) {
                        g.display = Some(name.to_string());
                    }
                }
                rec.touch();
            }
        }
        Ok(())
    }

    /// POST /Groups. A duplicate displayName answers 409 `group_creation_failed (name_taken)`:
    /// clients (authentik) treat a create conflict by looking the group up by name; Slack's exact
    /// code for this is UNCERTAIN.
    pub fn create_group(&mut self, body: &Value) -> Result<usize, Fail> {
        if body.get("schemas").and_then(Value::as_array).is_none_or(|a| a.is_empty()) {
            return Err(bad("missing_schema_element"));
        }
        let g = Group::from_value(body.clone()).map_err(|e| bad("invalid_attribute_format").ctx(e))?;
        let name = g.name().trim().to_string();
        if name.is_empty() {
            return Err(bad("invalid_display_name"));
        }
        if self.groups.iter().any(|x| x.name.eq_ignore_ascii_case(&name)) {
            return Err(Fail::new(409, "group_creation_failed").ctx("name_taken"));
        }
        let members: Vec<String> = g.member_ids().map(str::to_string).collect();
        self.check_new_members(&members)?;
        Self::check_cap(&members)?;
        let mut id = random_id(&mut self.rng, 'S');
        while self.groups.iter().any(|g| g.id == id) {
            id = random_id(&mut self.rng, 'S');
        }
        let created = self.now();
        self.groups.push(GroupRec { id, name, created, members: vec![] });
        let gi = self.groups.len() - 1;
        self.set_members(gi, members);
        Ok(gi)
    }

    /// Empty a group (the `memberwipe` fault: what a faulty server does to a member remove).
    pub fn wipe_members(&mut self, gi: usize) {
        self.set_members(gi, Vec::new());
    }

    pub fn patch_group(&mut self, id: &str, body: &Value, version: ApiVersion) -> Result<usize, Fail> {
        let gi = self.group_ix(id)?;
        match version {
            ApiVersion::V1 => {
                let items = body.get("members").and_then(Value::as_array).cloned().unwrap_or_default();
                let mut members = self.groups[gi].members.clone();
                let mut added = Vec::new();
                for it in &items {
                    let Some(v) = it.get("value").and_then(Value::as_str) else {
                        return Err(bad("invalid_request_payload").ctx("member without value"));
                    };
                    if it.get("operation").and_then(Value::as_str) == Some("delete") {
                        members.retain(|m| m != v);
                    } else if !members.iter().any(|m| m == v) {
                        added.push(v.to_string());
                        members.push(v.to_string());
                    }
                }
                self.check_new_members(&added)?;
                Self::check_cap(&members)?;
                if let Some(n) = body.get("displayName").and_then(Value::as_str) {
                    self.rename_group(gi, n)?;
                }
                self.set_members(gi, members);
            }
            ApiVersion::V2 => {
                let ops = body
                    .get("Operations")
                    .and_then(Value::as_array)
                    .ok_or_else(|| bad("invalid_request_payload").ctx("Operations missing"))?;
                // Work on a copy so a failing operation changes nothing.
                let mut members = self.groups[gi].members.clone();
                let mut rename = None;
                for o in ops {
                    let op = parse_op(o.get("op").and_then(Value::as_str).unwrap_or(""))?;
                    let path = o.get("path").and_then(Value::as_str).unwrap_or("").trim();
                    let value = o.get("value");
                    let lower = path.to_ascii_lowercase();
                    if path.is_empty() {
                        let Some(Value::Object(attrs)) = value else {
                            return Err(bad("invalid_request_payload").ctx("op without path needs an object value"));
                        };
                        for (k, v) in attrs {
                            if k.eq_ignore_ascii_case("displayName") {
                                rename = Some(v.as_str().unwrap_or("").to_string());
                            } else if k.eq_ignore_ascii_case("members") {
                                let ids = Self::member_ids(Some(v))?;
                                if op == Op::Replace {
                                    members.clear();
                                }
                                self.check_new_members(&ids.iter().filter(|i| !members.contains(i)).cloned().collect::<Vec<_>>())?;
                                members.extend(ids);
                            }
                        }
                    } else if lower == "displayname" {
                        if op == Op::Remove {
                            return Err(bad("invalid_display_name"));
                        }
                        rename = Some(value.and_then(Value::as_str).unwrap_or("").to_string());
                    } else if lower == "members" {
                        let ids = Self::member_ids(value)?;
                        match op {
                            Op::Add => {
                                let new: Vec<String> = ids.into_iter().filter(|i| !members.contains(i)).collect();
                                self.check_new_members(&new)?;
                                members.extend(new);
                            }
                            Op::Replace => {
                                let new: Vec<String> = ids.iter().filter(|i| !members.contains(i)).cloned().collect();
                                self.check_new_members(&new)?;
                                members = ids;
                            }
                            // Azure-style remove with a value list removes the listed members;
                            // without a value Slack empties the group (reference §5, §8.3).
                            Op::Remove if value.is_some_and(|v| !v.is_null()) => members.retain(|m| !ids.contains(m)),
                            Op::Remove => members.clear(),
                        }
                    } else if lower.starts_with("members[") {
                        let segs = path_segments(path, version)?;
                        let Some(Seg::Filtered(_, f)) = segs.first() else {
                            return Err(bad("invalid_path").ctx(path));
                        };
                        if op != Op::Remove {
                            return Err(bad("invalid_operation").ctx(path));
                        }
                        members.retain(|m| {
                            let el = serde_json::json!({ "value": m });
                            !eval(f, &|a| json_attr(&el, a)).unwrap_or(false)
                        });
                    } else {
                        return Err(bad("invalid_path").ctx(path));
                    }
                }
                Self::check_cap(&members)?;
                if let Some(n) = rename {
                    self.rename_group(gi, &n)?;
                }
                self.set_members(gi, members);
            }
        }
        Ok(gi)
    }

    /// PUT replaces displayName and membership: a rename-only PUT empties the group (reference §8.2).
    pub fn put_group(&mut self, id: &str, body: &Value) -> Result<usize, Fail> {
        let gi = self.group_ix(id)?;
        if body.get("schemas").and_then(Value::as_array).is_none_or(|a| a.is_empty()) {
            return Err(bad("missing_schema_element"));
        }
        let g = Group::from_value(body.clone()).map_err(|e| bad("invalid_attribute_format").ctx(e))?;
        let members: Vec<String> = g.member_ids().map(str::to_string).collect();
        let new: Vec<String> = members.iter().filter(|m| !self.groups[gi].members.contains(m)).cloned().collect();
        self.check_new_members(&new)?;
        Self::check_cap(&members)?;
        if let Some(n) = &g.display_name {
            self.rename_group(gi, n)?;
        }
        self.set_members(gi, members);
        Ok(gi)
    }

    pub fn delete_group(&mut self, id: &str) -> Result<(), Fail> {
        let gi = self.group_ix(id)?;
        self.set_members(gi, vec![]);
        self.groups.remove(gi);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn non_ascii_patch_paths_are_refused_not_panicked_on() {
        // Byte offsets of the URN prefixes must not split a multi-byte character.
        for path in ["é".repeat(40), format!("a{}", "é".repeat(40))] {
            assert!(path_segments(&path, ApiVersion::V2).is_ok_and(|s| s.len() == 1), "{path}");
        }
        assert!(path_segments("urn:ietf:params:scim:schemas:core:2.0:Useré.title", ApiVersion::V2).is_ok());
    }

    use super::*;

    #[test]
    fn the_key_index_holds_no_strings_and_checks_each_row() {
        let mut k = KeyIndex::default();
        // Row 0 holds `a`; row 1 takes it over (a map's insert).
        k.insert("a", 0, &|_| true);
        assert_eq!(k.get("a", &|i| i == 0), Some(0));
        k.insert("a", 1, &|i| i <= 1);
        assert_eq!(k.get("a", &|i| i == 1), Some(1));
        // A row there that does not hold the key (another key with its hash): kept apart.
        k.insert("b", 2, &|_| true);
        k.insert("b", 3, &|i| i == 3);
        assert_eq!(k.get("b", &|i| i == 3), Some(3));
        assert_eq!(k.get("b", &|i| i == 2), Some(2));
        assert!(k.spill.contains_key("b"));
        k.remove("b", &|i| i == 3);
        assert_eq!(k.get("b", &|i| i == 3), None);
        // A row that no longer holds its key is not found by it.
        assert_eq!(k.get("a", &|_| false), None);
        k.remove("a", &|i| i == 1);
        assert_eq!(k.get("a", &|_| true), None);
    }
    use serde_json::json;

    fn store() -> Store {
        let (u, g) = super::super::seed::generate(200, 5, 3);
        Store::new(u, g, 3)
    }

    fn find(s: &Store, f: &str) -> Result<Vec<usize>, Fail> {
        let f = Filter::parse(f).unwrap();
        let p = s.list_users(Some(&f), 1, 1000, ApiVersion::V2)?;
        Ok(p.rows
            .iter()
            .map(|r| {
                let v: Value = serde_json::from_str(r).unwrap();
                s.id_ix(v["id"].as_str().unwrap()).unwrap()
            })
            .collect())
    }

    #[test]
    fn user_name_normalisation() {
        assert_eq!(normalize_user_name("Jane.Doe@Example.com"), "jane.doe");
        assert_eq!(normalize_user_name("Ann Marie+x!"), "ann_marie_x_");
        assert_eq!(normalize_user_name("a-b_c.d"), "a-b_c.d");
        assert!(valid_email("a@b.co"));
        assert!(!valid_email("a@b"));
        assert!(!valid_email("a b@c.de"));
        assert!(!valid_email("@c.de"));
    }

    #[test]
    fn filters_evaluate() {
        let s = store();
        let u = &s.users[10].user;
        let name = u.user_name.clone().unwrap().to_uppercase();
        assert_eq!(find(&s, &format!("userName eq \"{name}\"")).unwrap(), vec![10]);
        let email = u.primary_email().unwrap().to_string();
        assert_eq!(find(&s, &format!("emails.value eq \"{email}\"")).unwrap(), vec![10]);
        assert_eq!(find(&s, &format!("email eq \"{email}\" and active eq true")).unwrap().len(), usize::from(u.is_active()));
        let inactive = s.users.iter().filter(|r| !r.user.is_active()).count();
        assert_eq!(find(&s, "active eq false").unwrap().len(), inactive);
        let guests = s.users.iter().filter(|r| r.user.is_guest()).count();
        assert_eq!(find(&s, "restricted eq \"1\"").unwrap().len(), guests);
        let sw = find(&s, "userName sw \"a\"").unwrap();
        assert!(sw.iter().all(|&i| s.users[i].user.user_name.as_ref().unwrap().starts_with('a')));
        assert_eq!(find(&s, r#"userName eq "\" or userName pr \"""#).unwrap(), Vec::<usize>::new());
        let both = find(
            &s,
            &format!(
                "(userName eq \"{}\" or id eq \"{}\") and active pr",
                s.users[1].user.user_name.clone().unwrap(),
                s.users[2].user.id()
            ),
        )
        .unwrap();
        assert_eq!(both, vec![1, 2]);
        assert_eq!(find(&s, "shoeSize eq \"9\"").unwrap_err().code, "invalid_query");
        assert_eq!(find(&s, "userName eq \"x\" or shoeSize pr").unwrap_err().code, "invalid_query");
    }

    #[test]
    fn create_rules() {
        let mut s = store();
        let v2 = ApiVersion::V2;
        let body = |un: &str, em: &str| json!({"schemas":[urn::V2_USER],"userName":un,"emails":[{"value":em}]});
        let ix = s.create_user(&body("New.Person@x.org", "new.person@x.org"), v2).unwrap();
        let u = &s.users[ix].user;
        assert_eq!(u.user_name.as_deref(), Some("new.person"));
        assert_eq!(u.nick_name.as_deref(), Some("new.person"));
        assert_eq!(u.display_name.as_deref(), Some("new.person"));
        assert!(u.id().starts_with('W') && u.id().len() == 11);
        assert_eq!(s.create_user(&body("other", "NEW.person@x.org"), v2).unwrap_err().code, "email_taken");
        assert_eq!(s.create_user(&body("NEW.PERSON", "b@x.org"), v2).unwrap_err().code, "username_taken");
        let e = s.create_user(&body("abcdefghijklmnopqrstuvwxyz", "c@x.org"), ApiVersion::V1).unwrap_err();
        assert_eq!((e.code.as_str(), e.v1.as_str()), ("username_too_long", "long_username (user=abcdefghijklmnopqrstuvwxyz)"));
        assert_eq!(s.create_user(&json!({"userName":"z","emails":[{"value":"z@x.org"}]}), v2).unwrap_err().code, "missing_schema_element");
        assert_eq!(s.create_user(&json!({"schemas":["x"],"emails":[{"value":"z@x.org"}]}), v2).unwrap_err().code, "username_required");
        assert_eq!(s.create_user(&json!({"schemas":["x"],"userName":"z"}), v2).unwrap_err().code, "email_empty");
        assert_eq!(s.create_user(&body("z", "not-an-email"), v2).unwrap_err().code, "email_invalid");
        // deactivated users keep their email
        let dead = s.users.iter().position(|r| !r.user.is_active()).unwrap();
        let em = s.users[dead].user.primary_email().unwrap().to_string();
        assert_eq!(s.create_user(&body("zz", &em), v2).unwrap_err().code, "email_taken");
        // three emails: only two stored, primary first
        let ix = s.create_user(&json!({"schemas":["x"],"userName":"three","emails":[{"value":"a3@x.org"},{"value":"b3@x.org","primary":true},{"value":"c3@x.org"}]}), v2).unwrap();
        let em = s.users[ix].user.emails.clone().unwrap();
        assert_eq!(em.len(), 2);
        assert_eq!(em[0].value.as_deref(), Some("b3@x.org"));
    }

    #[test]
    fn v2_patch_forms() {
        let mut s = store();
        let id = s.users[20].user.id().to_string();
        let boss = s.users[21].user.id().to_string();
        let body = json!({"schemas":[urn::V2_PATCH],"Operations":[
            {"op":"replace","path":"title","value":"Boss"},
            {"op":"replace","path":"name.givenName","value":"Zed"},
            {"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager.managerId","value":boss},
            {"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Ops"},
            {"op":"add","path":"emails","value":[{"value":"second@x.org"}]},
            {"op":"replace","value":{"displayName":"Zed Z","active":"False"}},
            {"op":"remove","path":"timezone"}
        ]});
        s.patch_user(&id, &body, ApiVersion::V2).unwrap();
        let u = &s.users[20].user;
        assert_eq!(u.title.as_deref(), Some("Boss"));
        assert_eq!(u.name.as_ref().unwrap().given_name.as_deref(), Some("Zed"));
        assert_eq!(u.manager_id(), Some(boss.as_str()));
        assert_eq!(u.department(), Some("Ops"));
        assert_eq!(u.emails.as_ref().unwrap().len(), 2);
        assert_eq!(u.display_name.as_deref(), Some("Zed Z"));
        assert_eq!(u.active, Some(false));
        assert_eq!(u.timezone, None);
        assert_eq!(u.enterprise.as_ref().unwrap().organization.as_deref(), Some("Acme Corp"), "merge keeps siblings");
        // filtered email remove and username change
        let body = json!({"schemas":[urn::V2_PATCH],"Operations":[
            {"op":"remove","path":"emails[value eq \"second@x.org\"]"},
            {"op":"replace","path":"userName","value":"Renamed"}]});
        s.patch_user(&id, &body, ApiVersion::V2).unwrap();
        let u = &s.users[20].user;
        assert_eq!(u.emails.as_ref().unwrap().len(), 1);
        assert_eq!(u.nick_name.as_deref(), Some("renamed"));
        assert_eq!(find(&s, "userName eq \"renamed\"").unwrap(), vec![20]);
        // primary owner and bots cannot be deactivated via PATCH
        let owner = s.primary_owner_id();
        let off = json!({"schemas":[urn::V2_PATCH],"Operations":[{"op":"replace","path":"active","value":false}]});
        assert_eq!(s.patch_user(&owner, &off, ApiVersion::V2).unwrap_err().code, "cannot_disable_primary_owner");
        let bot = s.bot_ids()[0].clone();
        assert_eq!(s.patch_user(&bot, &off, ApiVersion::V2).unwrap_err().code, "cannot_disable_bot_user_with_scim");
        // converting a deactivated member to a guest reactivates them
        s.delete_user(&id).unwrap();
        let guest = json!({"schemas":[urn::V2_PATCH],"Operations":[{"op":"add","path":urn::V2_GUEST,"value":{"type":"multi"}}]});
        s.patch_user(&id, &guest, ApiVersion::V2).unwrap();
        assert!(s.users[20].user.is_guest() && s.users[20].user.is_active());
    }

    #[test]
    fn v1_patch_forms() {
        let mut s = store();
        let id = s.users[30].user.id().to_string();
        let old_email = s.users[30].user.primary_email().unwrap().to_string();
        s.patch_user(
            &id,
            &json!({"schemas":[urn::V1_CORE],"title":" ","emails":[{"value":old_email,"primary":true},{"value":"v1second@x.org"}],
            "urn:scim:schemas:extension:enterprise:1.0":{"department":"Legal","costCenter":" "}}),
            ApiVersion::V1,
        )
        .unwrap();
        let u = &s.users[30].user;
        assert_eq!(u.title, None);
        assert_eq!(u.emails.as_ref().unwrap().len(), 2);
        assert_eq!(u.department(), Some("Legal"));
        assert_eq!(u.enterprise.as_ref().unwrap().cost_center, None);
        s.patch_user(
            &id,
            &json!({"schemas":[urn::V1_CORE],"emails":[{"value":"v1second@x.org","operation":"delete"}],
            "meta":{"attributes":["name.familyName","urn:scim:schemas:extension:enterprise:1.0.department"]}}),
            ApiVersion::V1,
        )
        .unwrap();
        let u = &s.users[30].user;
        assert_eq!(u.emails.as_ref().unwrap().len(), 1);
        assert_eq!(u.name.as_ref().unwrap().family_name, None);
        assert_eq!(u.department(), None);
        assert!(find(&s, "email eq \"v1second@x.org\"").unwrap().is_empty(), "index updated");
    }

    #[test]
    fn the_profile_as_slack_holds_it() {
        let mut s = store();
        let v2 = ApiVersion::V2;
        let ix = s.users.iter().position(|r| r.user.is_active() && !r.user.is_guest() && !r.primary_owner && !r.bot).unwrap();
        let id = s.users[ix].user.id().to_string();
        let patch = |ops: Value| json!({"schemas": [urn::V2_PATCH], "Operations": ops});
        // startDate needs the profile extension's URN in `schemas`.
        let start = json!([{"op": "replace", "path": urn::V2_PROFILE, "value": {"startDate": "2027-01-04T00:00:00+0000"}}]);
        assert_eq!(s.patch_user(&id, &patch(start.clone()), v2).unwrap_err().code, "missing_schema_element");
        let mut with = patch(start);
        with["schemas"].as_array_mut().unwrap().push(urn::V2_PROFILE.into());
        s.patch_user(&id, &with, v2).unwrap();
        assert_eq!(s.users[ix].user.start_date(), Some("2027-01-04T00:00:00+0000"));
        let bad_date = json!({"schemas": [urn::V1_CORE, urn::V1_PROFILE], urn::V1_PROFILE: {"startDate": "04/01/2027"}});
        assert_eq!(s.patch_user(&id, &bad_date, ApiVersion::V1).unwrap_err().code, "invalid_attribute_format");
        // A photo shows later; a private URL is refused.
        s.photo_delay = std::time::Duration::from_millis(50);
        let photo = |v: &str| patch(json!([{"op": "replace", "path": "photos", "value": [{"value": v, "primary": true}]}]));
        assert_eq!(s.patch_user(&id, &photo("https://10.0.0.1/a.png"), v2).unwrap_err().code, "photos_invalid");
        s.patch_user(&id, &photo("https://photos.example.com/a.png"), v2).unwrap();
        assert_eq!(s.users[ix].user.photo(), None, "not yet");
        std::thread::sleep(std::time::Duration::from_millis(60));
        let now = std::time::Instant::now();
        assert!(s.photos_due(now));
        s.settle_photos(now);
        assert_eq!(s.users[ix].user.photo(), Some("https://photos.example.com/a.png"));
        // Guests: never an admin; not on a plan without them.
        let guest = patch(json!([{"op": "add", "path": urn::V2_GUEST, "value": {"type": "multi", "expiration": "2027-11-30T23:59:59Z"}}]));
        let admin = s
            .users
            .iter()
            .position(|r| r.user.is_active() && !r.user.is_guest() && !r.primary_owner && !r.bot && r.user.id() != id)
            .unwrap();
        s.users[admin].user.roles = Some(vec![Role::Text("admin".into())]);
        let admin_id = s.users[admin].user.id().to_string();
        assert_eq!(s.patch_user(&admin_id, &guest, v2).unwrap_err().code, "cannot_make_user_guest");
        s.guests_allowed = false;
        assert_eq!(s.patch_user(&id, &guest, v2).unwrap_err().code, "invalid_request_payload");
        s.guests_allowed = true;
        s.patch_user(&id, &guest, v2).unwrap();
        assert_eq!(s.users[ix].user.guest_expiration(), Some("2027-11-30T23:59:59Z"));
        s.patch_user(&id, &patch(json!([{"op": "remove", "path": urn::V2_GUEST}])), v2).unwrap();
        assert!(!s.users[ix].user.is_guest());
        // v1: an element change keeps the other email.
        let primary = s.users[ix].user.primary_email().unwrap().to_string();
        s.patch_user(
            &id,
            &json!({"schemas": [urn::V1_CORE], "emails": [{"value": primary, "primary": true}, {"value": "home@x.org", "primary": false}]}),
            ApiVersion::V1,
        )
        .unwrap();
        s.patch_user(
            &id,
            &json!({"schemas": [urn::V1_CORE], "emails": [{"value": "new@x.org", "primary": true}, {"value": primary, "operation": "delete"}]}),
            ApiVersion::V1,
        )
        .unwrap();
        let u = &s.users[ix].user;
        assert_eq!((u.primary_email(), u.secondary_email()), (Some("new@x.org"), Some("home@x.org")));
        // PUT: keeps the userName without a nickName (python-slack-sdk's update_user), and
        // clears what it leaves out.
        let name = u.user_name.clone().unwrap();
        assert!(u.title.is_some());
        s.put_user(&id, &json!({"schemas": [urn::V2_USER], "userName": name, "emails": [{"value": "new@x.org"}], "active": true}), v2)
            .unwrap();
        let u = &s.users[ix].user;
        assert_eq!((u.user_name.as_deref(), u.nick_name.as_deref()), (Some(name.as_str()), Some(name.as_str())));
        assert_eq!(
            (u.title.as_deref(), u.start_date(), u.photo(), u.secondary_email()),
            (None, None, None, None),
            "a PUT replaces the whole user"
        );
    }

    #[test]
    fn a_group_over_the_cap_is_refused() {
        let (u, g) = super::super::seed::generate(GROUP_MEMBER_CAP + 3000, 0, 4);
        let mut s = Store::new(u, g, 4);
        let ids: Vec<String> =
            s.users.iter().filter(|r| r.user.is_active()).map(|r| r.user.id().to_string()).take(GROUP_MEMBER_CAP + 1).collect();
        assert_eq!(ids.len(), GROUP_MEMBER_CAP + 1);
        let body = |ids: &[String]| json!({"schemas":[urn::V2_GROUP],"displayName":"big","members": ids.iter().map(|i| json!({"value": i})).collect::<Vec<_>>()});
        // One call with more than 15,000 is `too_many_users` (reference §7); a group growing
        // past the cap is `group_member_max_exceeded`.
        assert_eq!(s.create_group(&body(&ids)).unwrap_err().code, "too_many_users");
        let gi = s.create_group(&body(&ids[..GROUP_MEMBER_CAP])).unwrap();
        let gid = s.groups[gi].id.clone();
        let one_more = json!({"Operations":[{"op":"add","path":"members","value":[{"value": ids[GROUP_MEMBER_CAP]}]}]});
        assert_eq!(s.patch_group(&gid, &one_more, ApiVersion::V2).unwrap_err().code, "group_member_max_exceeded");
        assert_eq!(s.groups[gi].members.len(), GROUP_MEMBER_CAP, "nothing changed");
    }

    #[test]
    fn group_membership_stays_consistent() {
        let mut s = store();
        let a = s.users[40].user.id().to_string();
        let b = s.users[41].user.id().to_string();
        s.users[40].user.active = Some(true);
        s.users[41].user.active = Some(true);
        let gi = s.create_group(&json!({"schemas":[urn::V2_GROUP],"displayName":"g-test","members":[{"value":a}]})).unwrap();
        let gid = s.groups[gi].id.clone();
        let has = |s: &Store, ix: usize| s.users[ix].user.groups.iter().flatten().any(|g| g.value.as_deref() == Some(gid.as_str()));
        assert!(has(&s, 40));
        s.patch_group(&gid, &json!({"Operations":[{"op":"add","path":"members","value":[{"value":b}]}]}), ApiVersion::V2).unwrap();
        assert!(has(&s, 41));
        s.patch_group(&gid, &json!({"Operations":[{"op":"remove","path":format!("members[value eq {a}]")}]}), ApiVersion::V2).unwrap();
        assert!(!has(&s, 40));
        assert_eq!(s.groups[gi].members, vec![b.clone()]);
        s.patch_group(&gid, &json!({"members":[{"value":a},{"value":b,"operation":"delete"}]}), ApiVersion::V1).unwrap();
        assert_eq!(s.groups[gi].members, vec![a.clone()]);
        assert_eq!(
            s.patch_group(&gid, &json!({"Operations":[{"op":"add","path":"members","value":[{"value":"WNOPE"}]}]}), ApiVersion::V2)
                .unwrap_err()
                .code,
            "no_such_group_members"
        );
        s.delete_user(&b).unwrap();
        assert_eq!(
            s.patch_group(&gid, &json!({"Operations":[{"op":"add","path":"members","value":[{"value":b}]}]}), ApiVersion::V2)
                .unwrap_err()
                .code,
            "unable_to_add_deleted_or_guest_to_group"
        );
        s.patch_group(&gid, &json!({"Operations":[{"op":"remove","path":"members"}]}), ApiVersion::V2).unwrap();
        assert!(s.groups[gi].members.is_empty());
        assert!(!has(&s, 40));
    }
}
