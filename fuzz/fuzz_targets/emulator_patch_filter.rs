//! The emulator's store (`emulator::store`), called directly: PATCH (both versions' forms), PUT,
//! POST and DELETE of users and groups with arbitrary JSON bodies and paths, PatchOp application
//! on arbitrary documents, and filter evaluation in lists.
//!
//! Input: byte 0 picks the operation, byte 1 the target (user or group) and the API version,
//! bytes 2.. are the body (JSON) or the filter text.
//!
//! Invariants: no panic; a refused request changes nothing; after any request every user is
//! still one Slack would store (a normalised userName of at most 21 characters, one or two valid
//! emails, unique names and emails), group membership and the users' `groups` lists agree, the
//! lookup indexes find every user by name and email, and a filtered list answers the same
//! whether it is served from an index or by scanning.
//!
//! Runs on a 256 KiB stack (see `small_stack.rs`).
#![no_main]

mod small_stack;

use emulator::store::{Store, normalize_user_name, valid_email};
use libfuzzer_sys::fuzz_target;
use scim::filter::{CompareOp, Filter, Literal};
use scim::{ApiVersion, Group, User};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};

type Fingerprint = (Vec<(User, bool, bool)>, Vec<(String, String, Vec<String>)>);

fn fingerprint(s: &Store) -> Fingerprint {
    let users = s.users.iter().map(|r| (r.user.clone(), r.primary_owner, r.bot)).collect();
    let groups = s.groups.iter().map(|g| (g.id.clone(), g.name.clone(), g.members.clone())).collect();
    (users, groups)
}

/// The rows (JSON text) a filtered list answers.
fn rows(s: &Store, f: &Filter) -> Option<BTreeSet<String>> {
    Some(s.list_users(Some(f), 1, usize::MAX / 2, ApiVersion::V2).ok()?.rows.into_iter().collect())
}

fn check(s: &Store) {
    let mut names = HashSet::new();
    let mut emails = HashMap::new();
    for (i, rec) in s.users.iter().enumerate() {
        let u = &rec.user;
        let name = u.user_name.as_deref().expect("every user has a userName");
        assert!(!name.is_empty() && name.chars().count() <= 21, "{name:?}");
        assert_eq!(normalize_user_name(name), name, "userName not normalised");
        assert!(names.insert(name.to_lowercase()), "userName {name:?} twice");
        let list = u.emails.as_deref().expect("every user has emails");
        assert!((1..=2).contains(&list.len()), "{} emails", list.len());
        assert_eq!(list[0].primary, Some(true), "primary email first");
        for e in list {
            let v = e.value.as_deref().unwrap();
            assert!(valid_email(v), "stored invalid email {v:?}");
            if let Some(other) = emails.insert(v.to_lowercase(), i)
                && other != i
            {
                panic!("email {v:?} on two users");
            }
        }
        // The JSON the server answers parses back to a user.
        for version in [ApiVersion::V1, ApiVersion::V2] {
            let v: Value = serde_json::from_str(s.user_json(i, version)).unwrap();
            let back = User::from_value(v).unwrap_or_else(|e| panic!("user JSON does not parse: {e}"));
            assert_eq!(back.id, u.id);
        }
        // The indexes find the user by name and by each email.
        let me = BTreeSet::from([s.user_json(i, ApiVersion::V2).to_string()]);
        assert_eq!(rows(s, &Filter::eq("userName", name)).unwrap(), me, "index by userName");
        for e in list {
            assert_eq!(rows(s, &Filter::eq("email", e.value.as_deref().unwrap())).unwrap(), me, "index by email");
        }
    }
    let mut gnames = HashSet::new();
    let mut member_of: HashSet<(String, String)> = HashSet::new();
    for (gi, g) in s.groups.iter().enumerate() {
        assert!(!g.name.trim().is_empty() && g.name.trim() == g.name, "group name {:?}", g.name);
        assert!(gnames.insert(g.name.to_lowercase()), "group name {:?} twice", g.name);
        let mut seen = HashSet::new();
        for m in &g.members {
            assert!(seen.insert(m), "member {m} twice in {}", g.id);
            member_of.insert((m.clone(), g.id.clone()));
        }
        let back = Group::from_value(s.group_json(gi, ApiVersion::V2)).unwrap();
        assert_eq!(back.member_count(), g.members.len());
    }
    let listed: HashSet<(String, String)> = s
        .users
        .iter()
        .flat_map(|r| r.user.groups.iter().flatten().filter_map(move |g| Some((r.user.id().to_string(), g.value.clone()?))))
        .collect();
    let members_known: HashSet<(String, String)> =
        member_of.into_iter().filter(|(m, _)| s.users.iter().any(|r| r.user.id() == m)).collect();
    assert_eq!(listed, members_known, "users' groups lists and group membership disagree");
}

static SEED: std::sync::OnceLock<(Vec<User>, Vec<Group>)> = std::sync::OnceLock::new();

fn store() -> Store {
    let (users, groups) = SEED.get_or_init(|| emulator::seed::generate(12, 3, 7)).clone();
    Store::new(users, groups, 7)
}

fuzz_target!(init: check(&store()), |data: &[u8]| small_stack::run(|| one(data)));

fn one(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let (op, pick) = (data[0], data[1]);
    let rest = &data[2..];
    let version = if pick & 0x80 == 0 { ApiVersion::V2 } else { ApiVersion::V1 };
    let mut s = store();
    let uid = s.users[pick as usize % s.users.len()].user.id().to_string();
    let gid = s.groups[pick as usize % s.groups.len()].id.clone();
    // Members of a seeded group must be active for group writes to succeed sometimes.
    let body = || serde_json::from_slice::<Value>(rest).ok();
    let before = fingerprint(&s);
    let result: Result<(), emulator::store::Fail> = match op % 12 {
        0 => body().map_or(Ok(()), |b| s.patch_user(&uid, &b, version).map(drop)),
        1 => body().map_or(Ok(()), |b| s.put_user(&uid, &b, version).map(drop)),
        2 => body().map_or(Ok(()), |b| s.create_user(&b, version).map(drop)),
        3 => body().map_or(Ok(()), |b| s.patch_group(&gid, &b, version).map(drop)),
        4 => body().map_or(Ok(()), |b| s.put_group(&gid, &b).map(drop)),
        5 => body().map_or(Ok(()), |b| s.create_group(&b).map(drop)),
        6 => s.delete_user(&uid),
        7 => s.delete_group(&gid),
        8 => {
            // PatchOp / v1 partial on an arbitrary document: `[doc, body]`.
            if let Some(Value::Array(mut pair)) = body()
                && pair.len() == 2
                && pair[0].is_object()
            {
                let b = pair.pop().unwrap();
                let mut doc = pair.pop().unwrap();
                let _ = match version {
                    ApiVersion::V2 => emulator::store::apply_v2_ops(&mut doc, &b),
                    ApiVersion::V1 => emulator::store::apply_v1_partial(&mut doc, &b),
                };
            }
            Ok(())
        }
        _ => {
            // A filter, as `?filter=` gives it: users and groups, indexed and scanned.
            let Ok(text) = std::str::from_utf8(rest) else { return };
            let Ok(f) = Filter::parse(text) else { return };
            let start = [1usize, 2, 5, i64::MAX as usize][pick as usize % 4];
            let count = (pick as usize / 4) % 12;
            let _ = s.list_users(Some(&f), start, count, version);
            let _ = s.list_groups(Some(&f), start, count, version);
            // `id eq null` never matches and has no index: `f or id eq null` is answered by a scan.
            let scanned = f.clone().or(Filter::Compare { attr: "id".into(), op: CompareOp::Eq, value: Literal::Null });
            if let (Some(a), Some(b)) = (rows(&s, &f), rows(&s, &scanned)) {
                assert_eq!(a, b, "index and scan disagree on {text:?}");
            }
            Ok(())
        }
    };
    match result {
        // A refused request changes nothing (the seeded store is checked once, at start).
        Err(e) => assert!(fingerprint(&s) == before, "a refused request ({e:?}) changed the store"),
        // Lists and op 8 take the store read-only.
        Ok(()) if op % 12 < 8 => check(&s),
        Ok(()) => {}
    }
}
