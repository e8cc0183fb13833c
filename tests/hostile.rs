//! A broken or hostile server (tests/common/hostile.rs, on 127.0.0.1) never crashes the real
//! `scimitar` binary, never floods its memory or time, never reaches the terminal, and never
//! turns into deactivations. One test (or a few) per item of the issue; the runner stops a run
//! that uses more than 1.5 GB or hangs, so a regression fails instead of taking the machine down.

mod common;
use common::hostile::{EVIL, Hostile, Mode, has_raw_escapes, scimitar, scimitar_in};

/// Not `xox?-` shaped: the configured token is scrubbed whatever its shape.
const TOKEN: &str = "tok-EchoMe-4242424242";

fn no_panic(r: &common::hostile::Run) {
    let err = r.stderr();
    assert_ne!(r.code(), Some(101), "panicked: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

// ---------- 1. Retry-After ----------

#[test]
fn a_huge_retry_after_is_capped_and_reported_not_a_panic() {
    let h = Hostile::start(Mode::RetryAfter("1e20"));
    let r = scimitar(&h.url, TOKEN, &["users", "show", "W0ABC12345"]);
    no_panic(&r);
    assert_eq!(r.code(), Some(69), "{}", r.stderr());
    let err = r.stderr();
    assert!(err.contains("Retry-After: 1e20") && err.contains("capped at 300 s"), "{err}");
    // Lists used to panic in a worker and exit 0 with nothing.
    for args in [&["users", "list"][..], &["groups", "list"], &["users", "export"], &["check"]] {
        let r = scimitar(&h.url, TOKEN, args);
        no_panic(&r);
        assert_eq!(r.code(), Some(69), "{args:?}: {}", r.stderr());
        assert!(r.stderr().contains("Retry-After"), "{args:?}: {}", r.stderr());
        assert!(!r.stderr().contains("exported 0 users"), "{}", r.stderr());
    }
}

#[test]
fn a_huge_retry_after_on_a_write_fails_the_operation_and_resume_has_nothing_left() {
    let h = Hostile::start(Mode::RetryAfterWrites("1e30"));
    let dir = tempfile::tempdir().unwrap();
    let r = scimitar_in(dir.path(), &h.url, TOKEN, &["users", "deactivate", "W0ABC12345", "--yes", "--throttle", "off"]);
    no_panic(&r);
    assert_eq!(r.code(), Some(1), "the operation failed: {}", r.stderr());
    assert!(r.stdout().contains("failed") && r.stdout().contains("Retry-After"), "{}", r.stdout());
    assert!(!r.stderr().contains("task panicked"), "{}", r.stderr());
    // Nothing is left `running` in the journal: resume finds nothing, and does not panic.
    let r = scimitar_in(dir.path(), &h.url, TOKEN, &["resume"]);
    no_panic(&r);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert!(r.stderr().contains("nothing to resume"), "{}", r.stderr());
}

#[test]
fn an_absurd_throttle_scale_is_refused() {
    let h = Hostile::start(Mode::RetryAfter("1"));
    for scale in ["1e-300", "1e300", "0", "-1", "NaN"] {
        let r = scimitar(&h.url, TOKEN, &[&format!("--throttle-scale={scale}"), "users", "show", "W0ABC12345"]);
        no_panic(&r);
        assert_eq!(r.code(), Some(64), "{scale}: {}", r.stderr());
        assert!(r.stderr().contains("--throttle-scale must be between"), "{}", r.stderr());
    }
    assert_eq!(h.requests(), 0, "refused before any request");
}

// ---------- 2. totals and pages ----------

#[test]
fn a_huge_total_ends_with_an_error_in_bounded_memory() {
    let h = Hostile::start(Mode::HugeTotal);
    let r = scimitar(&h.url, TOKEN, &["--throttle", "off", "users", "list"]);
    no_panic(&r);
    assert_eq!(r.code(), Some(69), "{}", r.stderr());
    // A total beyond any real org ends the listing at its first page (issue 22 item 13).
    assert!(r.stderr().contains("claims 1000000000000000 results; no Slack organisation is that large"), "{}", r.stderr());
    // Measured, not timed: printed for the record (the runner stops a run above 1.5 GB).
    eprintln!("users list against a 10^15 total: peak RSS {} MiB, {} requests", r.peak_mib, h.requests());
    assert!(r.peak_mib < 300, "peak {} MiB", r.peak_mib);
    assert!(h.requests() < 5, "{} requests", h.requests());
}

#[test]
fn pages_that_never_end_end_the_listing_with_an_error() {
    let h = Hostile::start(Mode::Repeating);
    let r = scimitar(&h.url, TOKEN, &["--throttle", "off", "users", "list"]);
    assert_eq!(r.code(), Some(69), "{}", r.stderr());
    assert!(r.stderr().contains("only results listed already"), "{}", r.stderr());
    assert!(h.requests() <= 3, "{} requests", h.requests());
    let h = Hostile::start(Mode::Endless);
    let r = scimitar(&h.url, TOKEN, &["--throttle", "off", "users", "list"]);
    assert_eq!(r.code(), Some(69), "{}", r.stderr());
    assert!(r.stderr().contains("the listing does not end"), "{}", r.stderr());
    assert!(h.requests() < 50, "{} requests", h.requests());
}

// ---------- 3. server text on the terminal ----------

#[test]
fn escape_sequences_from_the_server_never_reach_the_terminal() {
    let h = Hostile::start(Mode::Escapes);
    let runs: &[&[&str]] = &[
        &["check"],
        &["check", "-o", "json"],
        &["users", "list"],
        &["users", "show", "W0ABC12345"],
        &["users", "find", "ann@acme.example"],
        &["groups", "list"],
        &["groups", "show", "evil"],
        &["groups", "show", "evil", "-o", "csv"],
        &["groups", "show", "evil", "-o", "json"],
    ];
    for args in runs {
        let r = scimitar(&h.url, TOKEN, args);
        no_panic(&r);
        assert!(!has_raw_escapes(&r.stdout()), "{args:?} stdout: {:?}", r.stdout());
        assert!(!has_raw_escapes(&r.stderr()), "{args:?} stderr: {:?}", r.stderr());
    }
    // The text itself is still there, without its escapes.
    let r = scimitar(&h.url, TOKEN, &["users", "show", "W0ABC12345"]);
    assert!(r.stderr().contains("invalid_request"), "{}", r.stderr());
    let r = scimitar(&h.url, TOKEN, &["groups", "show", "evil"]);
    assert!(r.stdout().contains("S0EVIL") && r.stdout().contains("Mallory"), "{}", r.stdout());
    // JSON keeps the exact text, escaped: jq gets it back.
    let r = scimitar(&h.url, TOKEN, &["groups", "show", "evil", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    assert_eq!(v["id"], format!("S0EVIL{EVIL}"));
}

// ---------- 5. body size ----------

#[test]
fn a_500_mb_body_is_not_read() {
    let h = Hostile::start(Mode::HugeBody { status: 200, bytes: 500 << 20 });
    let r = scimitar(&h.url, TOKEN, &["users", "show", "W0ABC12345"]);
    no_panic(&r);
    assert_eq!(r.code(), Some(69), "{}", r.stderr());
    assert!(r.stderr().contains("larger than the 1 MiB"), "{}", r.stderr());
    eprintln!("users show against a 500 MB body: peak RSS {} MiB", r.peak_mib);
    assert!(r.peak_mib < 100, "peak {} MiB", r.peak_mib);
    // An error answer is read only as far as an error goes, on every retry.
    let h = Hostile::start(Mode::HugeBody { status: 500, bytes: 500 << 20 });
    let r = scimitar(&h.url, TOKEN, &["check"]);
    no_panic(&r);
    assert_eq!(r.code(), Some(69), "{}", r.stderr());
    assert!(h.requests() > 1, "retried");
    eprintln!("check against 500 MB error bodies: peak RSS {} MiB over {} requests", r.peak_mib, h.requests());
    assert!(r.peak_mib < 100, "peak {} MiB", r.peak_mib);
}

// ---------- 6. a stalled server ----------

#[test]
fn a_stalled_server_is_given_up_on_at_the_deadlines() {
    let h = Hostile::start(Mode::Stall);
    let r = scimitar(&h.url, TOKEN, &["--op-deadline", "2s", "users", "show", "W0ABC12345"]);
    assert_eq!(r.code(), Some(69), "{}", r.stderr());
    assert!(r.stderr().contains("gave up after 2s (--op-deadline)"), "{}", r.stderr());
    let r = scimitar(&h.url, TOKEN, &["--deadline", "2s", "users", "list"]);
    assert_eq!(r.code(), Some(69), "{}", r.stderr());
    assert!(r.stderr().contains("gave up after 2s (--deadline)"), "{}", r.stderr());
    // A write's lookups are bounded by --deadline too; nothing is done.
    let dir = tempfile::tempdir().unwrap();
    let r = scimitar_in(dir.path(), &h.url, TOKEN, &["--deadline", "2s", "users", "deactivate", "W0ABC12345", "--yes"]);
    assert_eq!(r.code(), Some(69), "{}", r.stderr());
    assert!(r.stderr().contains("--deadline") && r.stderr().contains("nothing was done"), "{}", r.stderr());
}

// ---------- 8. an echoed token ----------

#[test]
fn an_echoed_token_is_never_printed_or_stored() {
    let h = Hostile::start(Mode::TokenEcho);
    let dir = tempfile::tempdir().unwrap();
    let runs: &[&[&str]] = &[
        &["users", "show", "W0NOPE0001"],
        &["users", "list"],
        &["check"],
        &["users", "deactivate", "W0OK000001", "--yes", "--throttle", "off"],
        &["users", "deactivate", "W0OK000002", "--yes", "--throttle", "off", "-o", "json"],
        &["report", "-o", "json"],
        &["report"],
    ];
    for args in runs {
        let r = scimitar_in(dir.path(), &h.url, TOKEN, args);
        no_panic(&r);
        assert!(!r.stdout().contains(TOKEN) && !r.stderr().contains(TOKEN), "{args:?}: {} {}", r.stdout(), r.stderr());
    }
    let r = scimitar_in(dir.path(), &h.url, TOKEN, &["users", "show", "W0NOPE0001"]);
    assert!(r.stderr().contains("token=[redacted]"), "{}", r.stderr());
    let r = scimitar_in(dir.path(), &h.url, TOKEN, &["report", "-o", "json"]);
    assert!(r.stdout().contains("[redacted]"), "the failure is reported: {}", r.stdout());
    // Nothing in the database or its WAL holds it either.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            assert!(!bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()), "{} holds the token", p.display());
        }
    }
}

/// A directory password sent in a create never comes back in an error, whatever its shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_password_is_scrubbed_from_errors() {
    use scimitar::scim::{ApiVersion, ClientConfig, MultiValue, ScimClient, Secret, User};
    let h = Hostile::start(Mode::TokenEcho);
    let c = ScimClient::new(ClientConfig::new(&h.url, Secret::new(TOKEN), ApiVersion::V2).unwrap()).unwrap();
    let password = "Correct Horse Battery 9";
    let u = User {
        user_name: Some("newbie".into()),
        emails: Some(vec![MultiValue::email("newbie@echo.example".to_string(), true)]),
        password: Some(password.into()),
        ..Default::default()
    };
    let e = c.create_user(&u).await.unwrap_err().to_string();
    assert!(e.contains("invalid_request") && e.contains("password [redacted]"), "{e}");
    assert!(!e.contains(password) && !e.contains(TOKEN), "{e}");
}

// ---------- 10. output, lookups, input ----------

#[test]
fn json_output_escapes_c1_bidi_and_invisible_characters_and_tables_strip_them() {
    let h = Hostile::start(Mode::Bidi);
    let hidden = |s: &str| {
        s.chars().any(|c| {
            ('\u{80}'..='\u{9f}').contains(&c) || matches!(c, '\u{202e}' | '\u{200b}' | '\u{feff}' | '\u{61c}' | '\u{2028}' | '\u{2029}')
        })
    };
    for args in [&["users", "list", "-o", "json"][..], &["users", "show", "W0BIDI0001", "-o", "json"], &["users", "export", "-o", "json"]] {
        let r = scimitar(&h.url, TOKEN, args);
        assert_eq!(r.code(), Some(0), "{args:?}: {}", r.stderr());
        let out = r.stdout();
        assert!(!hidden(&out), "{args:?}: {out:?}");
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(v["displayName"], "Pat\u{202e}evil\u{85}\u{9b}2J\u{2028}Doe\u{feff}\u{61c}", "the data survives, escaped");
    }
    for args in [&["users", "list"][..], &["users", "show", "W0BIDI0001"], &["users", "list", "-o", "csv"]] {
        let r = scimitar(&h.url, TOKEN, args);
        assert!(!hidden(&r.stdout()), "{args:?}: {:?}", r.stdout());
        assert!(r.stdout().contains("Patevil"), "{args:?}: {:?}", r.stdout());
    }
}

#[test]
fn server_failures_during_lookups_are_not_bad_input() {
    let h = Hostile::start(Mode::ServerError);
    let dir = tempfile::tempdir().unwrap();
    let r =
        scimitar_in(dir.path(), &h.url, TOKEN, &["users", "deactivate", "W0ABC12345", "ann@acme.example", "--yes", "--throttle", "off"]);
    assert_eq!(r.code(), Some(69), "{}", r.stderr());
    assert!(!r.stderr().contains("bad input row"), "{}", r.stderr());
    assert!(r.stderr().contains("nothing was done"), "{}", r.stderr());
    let h = Hostile::start(Mode::Malformed);
    let r = scimitar(&h.url, TOKEN, &["users", "show", "W0BAD00001"]);
    assert_eq!(r.code(), Some(69), "{}", r.stderr());
    assert!(r.stderr().contains("cannot read"), "{}", r.stderr());
    let r = scimitar_in(dir.path(), &h.url, TOKEN, &["users", "deactivate", "W0BAD00001", "--yes"]);
    assert_eq!(r.code(), Some(69), "{}", r.stderr());
    assert!(!r.stderr().contains("bad input row"), "{}", r.stderr());
}

#[test]
fn a_dry_run_of_a_huge_list_is_bounded_by_the_deadline() {
    let h = Hostile::start(Mode::TokenEcho);
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("leavers.txt");
    let text: String = (0..1_000_000).map(|i| format!("W0OK{i:07}\n")).collect();
    std::fs::write(&list, text).unwrap();
    let r = scimitar_in(
        dir.path(),
        &h.url,
        TOKEN,
        &["--deadline", "3s", "--throttle", "off", "users", "deactivate", "--from", list.to_str().unwrap(), "--dry-run"],
    );
    assert_eq!(r.code(), Some(69), "{}", r.stderr());
    assert!(r.stderr().contains("looking up 1000000 users: gave up after 3s (--deadline)"), "{}", r.stderr());
}

#[test]
fn help_does_not_show_environment_values() {
    let h = Hostile::start(Mode::Stall);
    let secret_url = format!("{}private-tenant-path/", h.url);
    for args in [&["--help"][..], &["users", "list", "--help"]] {
        let r = scimitar(&secret_url, TOKEN, args);
        assert_eq!(r.code(), Some(0));
        assert!(!r.stdout().contains("private-tenant-path"), "{}", r.stdout());
        assert!(r.stdout().contains("--op-deadline") && r.stdout().contains("--deadline"), "{}", r.stdout());
    }
    let r = scimitar(&secret_url, TOKEN, &["emulator", "--help"]);
    assert!(r.stdout().contains("--token-file") && r.stdout().contains("SCIMITAR_EMULATOR_TOKEN"), "{}", r.stdout());
    assert!(!r.stdout().contains("xoxp-emulator-token"), "{}", r.stdout());
    assert_eq!(h.requests(), 0);
}

// ---------- list pages of every shape read as before ----------

/// The client reads list pages straight from the body (`scim::wire`) where it can; whatever a
/// page holds, over real HTTP it comes out as the general path (a `Value` first) reads it, and
/// the CSV the binary writes is the one those users make.
#[test]
fn list_pages_of_every_shape_read_as_the_general_path_reads_them() {
    use scimitar::scim::client::UserSummary;
    use scimitar::scim::wire::general_list;
    use scimitar::scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret, User};
    let e2 = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let bodies = [
        // Unknown attributes at every level; missing fields; nulls.
        format!(
            r#"{{"totalResults":3,"Resources":[{{"id":"W0UNK00001","userName":"ann","x-vendor":{{"deep":[1,2.5,null]}},"meta":{{"created":"c","x-etag":"1"}},"name":{{"givenName":"Ann","nick":1}},"emails":[{{"value":"ann@x.example","odd":true}}],"{e2}":{{"department":"R&D","zone":"eu","manager":{{"value":"W0BOSS0001"}}}}}},{{"id":"W0MIN00001"}},{{"id":"W0NUL00001","userName":null,"name":null,"emails":null,"active":null}}]}}"#
        ),
        // Unicode and escaped strings, in values and keys.
        r#"{"totalResults":1,"Resources":[{"id":"W0UNI00001","user\u004eame":"zo\u00eb","displayName":"Zo\u00eb \"Z\" \\ Lee \ud83d\ude00","title":"日本語","emails":[{"value":"zoë@exämple.com","type":"work"}],"active":true}]}"#.to_string(),
        // Shapes only the general path takes: a name as a list, an extension under both keys.
        format!(
            r#"{{"totalResults":1,"Resources":[{{"id":"W0ODD00001","name":["Ann","Lee"],"{e2}":{{"department":"A"}},"urn:scim:schemas:extension:enterprise:1.0":{{"department":"B"}}}}]}}"#
        ),
    ];
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for body in &bodies {
        let (total, users) = general_list::<User>(body.as_bytes()).unwrap();
        let h = Hostile::start(Mode::ListBody { status: 200, body: body.clone() });
        let mut cc = ClientConfig::new(&h.url, Secret::new(TOKEN), ApiVersion::V2).unwrap();
        cc.rate_limit = RateLimit::Off;
        let c = ScimClient::new(cc).unwrap();
        let (page, summaries) = rt
            .block_on(async { (c.users_page(None, 1, 1000).await.unwrap(), c.users_page_of::<UserSummary>(None, 1, 1000).await.unwrap()) });
        assert_eq!((page.total_results, &page.items), (total, &users), "{body}");
        assert_eq!(summaries.items, users.iter().map(UserSummary::of).collect::<Vec<_>>(), "{body}");
        // The binary's CSV: the rows of those users.
        let r = scimitar(&h.url, TOKEN, &["--throttle", "off", "users", "list", "-o", "csv"]);
        assert_eq!(r.code(), Some(0), "{}", r.stderr());
        let mut want = Vec::new();
        let mut rows = scimitar::output::RowStream::new(
            scimitar::output::OutputFormat::Csv,
            scimitar::commands::users::USER_COLUMNS.to_vec(),
            &mut want,
        );
        for u in &users {
            rows.push(scimitar::commands::users::user_row(u), None).unwrap();
        }
        rows.finish().unwrap();
        assert_eq!(r.stdout(), String::from_utf8(want).unwrap(), "{body}");
    }
    // A page the general path refuses is refused as before (JSON with an out-of-range number
    // inside an unknown attribute is not JSON it can read), and so is an error body.
    let h = Hostile::start(Mode::ListBody { status: 200, body: r#"{"totalResults":1,"Resources":[{"id":"W1","x":{"y":1e400}}]}"#.into() });
    let r = scimitar(&h.url, TOKEN, &["--throttle", "off", "users", "list", "-o", "csv"]);
    assert_eq!(r.code(), Some(69), "{}", r.stderr());
    assert!(r.stderr().contains("non-JSON content"), "{}", r.stderr());
    let h = Hostile::start(Mode::ListBody {
        status: 400,
        body: r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"bad \u00e9 filter","status":"400","scimType":"invalidFilter"}"#.into(),
    });
    let r = scimitar(&h.url, TOKEN, &["--throttle", "off", "users", "list"]);
    assert_ne!(r.code(), Some(0), "{}", r.stderr());
    assert!(r.stderr().contains("bad é filter"), "{}", r.stderr());
}
