//! SCIM response bodies as the client reads them: the body is scrubbed of secrets
//! (`redact::redact_bytes`), then read as a User, a Group, a ListResponse (each resource as a
//! User and a Group) and as both of Slack's error shapes (`ApiError::from_body`). The first two
//! bytes are the HTTP status.
//!
//! Invariants: no panic; a user or group that parses writes back (either API version) to JSON
//! that parses to the same value; an error's message is terminal-clean and bounded; a registered
//! token never survives into anything parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim::error::{ApiError, MAX_DETAIL_CHARS};
use scim::types::ListResponse;
use scim::{ApiVersion, Group, User};
use serde_json::Value;

const TOKEN: &str = "xoxp-fuzz-secret-token";

fn user_round_trips(u: &User) {
    for version in [ApiVersion::V2, ApiVersion::V1] {
        let v = u.to_value(version);
        let back = User::from_value(v.clone()).unwrap_or_else(|e| panic!("{version:?} rendering of a user does not parse: {e}\n{v}"));
        let again = back.to_value(version);
        assert_eq!(again, v, "user JSON is not a fixed point for {version:?}");
    }
    let _ = (u.label(), u.primary_email(), u.is_active(), u.is_guest(), u.department(), u.manager_id(), format!("{u:?}"));
}

fn group_round_trips(g: &Group) {
    for version in [ApiVersion::V2, ApiVersion::V1] {
        let v = g.to_value(version);
        let back = Group::from_value(v.clone()).unwrap_or_else(|e| panic!("{version:?} rendering of a group does not parse: {e}\n{v}"));
        assert_eq!(&back, g, "group round trip for {version:?}");
    }
    let _ = (g.name(), g.member_ids().count(), g.member_count());
}

fuzz_target!(|data: &[u8]| {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| scim::redact::register(TOKEN));
    if data.len() < 2 {
        return;
    }
    let status = u16::from_le_bytes([data[0], data[1]]);
    let body = scim::redact::redact_bytes(&data[2..]);

    if let Some(e) = ApiError::from_body(status, &body) {
        let shown = e.to_string();
        assert!(scim::sanitize::is_clean(&shown), "error text reaches the terminal raw: {shown:?}");
        assert!(e.detail.chars().count() <= MAX_DETAIL_CHARS + 40, "detail not cut: {} chars", e.detail.chars().count());
        assert!(e.code.chars().count() <= 64 && !e.code.contains(char::is_whitespace), "{:?}", e.code);
        assert!(!shown.contains(TOKEN), "the token reached an error: {shown}");
        if status >= 400 {
            assert_eq!(e.status, status);
        }
        let _ = (e.human(), scim::ScimError::Api(e.clone()).is_retryable());
    }

    let Ok(v) = serde_json::from_slice::<Value>(&body) else { return };
    assert!(!v.to_string().contains(TOKEN), "the token survived redaction");
    if let Ok(u) = User::from_value(v.clone()) {
        user_round_trips(&u);
    }
    if let Ok(g) = Group::from_value(v.clone()) {
        group_round_trips(&g);
    }
    if let Ok(list) = serde_json::from_value::<ListResponse>(v) {
        let _ = list.total_results.min(1 << 40);
        for r in list.resources {
            if let Ok(u) = User::from_value(r.clone()) {
                user_round_trips(&u);
            }
            if let Ok(g) = Group::from_value(r) {
                group_round_trips(&g);
            }
        }
    }
});
