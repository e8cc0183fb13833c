//! The SCIM client against the emulator over real HTTP on 127.0.0.1 (v1 and v2).

use futures::TryStreamExt;
use scimitar::emulator::{Emulator, EmulatorConfig, Faults, RateLimitMode};
use scimitar::scim::{ApiVersion, ClientConfig, Filter, MultiValue, RateLimit, ScimClient, ScimError, Secret, User, UserUpdate};
use std::collections::HashSet;
use std::time::{Duration, Instant};

async fn emulator(users: usize) -> Emulator {
    let cfg = EmulatorConfig { users, groups: 8, seed: 7, token: "xoxp-test-token".into(), ..Default::default() };
    Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn client(emu: &Emulator, v: ApiVersion, rate: RateLimit) -> ScimClient {
    let mut cc = ClientConfig::new(&emu.base_url(v), Secret::new(emu.token()), v).unwrap();
    cc.rate_limit = rate;
    cc.backoff_base = Duration::from_millis(20);
    ScimClient::new(cc).unwrap()
}

async fn some_users(c: &ScimClient, n: u32) -> Vec<User> {
    c.users_page(None, 20, n).await.unwrap().items
}

#[tokio::test]
async fn email_lookup_on_both_versions() {
    let emu = emulator(200).await;
    for v in [ApiVersion::V1, ApiVersion::V2] {
        let c = client(&emu, v, RateLimit::Off);
        let users = some_users(&c, 5).await;
        let target = users.iter().find(|u| u.is_active()).unwrap();
        let email = target.primary_email().unwrap();

        // present, and upper-case input finds the same person
        let found = c.find_user_by_email(email).await.unwrap().unwrap();
        assert_eq!(found.id, target.id, "{v}");
        let upper = c.find_user_by_email(&email.to_uppercase()).await.unwrap().unwrap();
        assert_eq!(upper.id, target.id, "{v}: upper-case input");

        // absent
        assert!(c.find_user_by_email("nobody.at.all@acme-corp.example").await.unwrap().is_none());

        // malformed input never reaches the server
        let e = c.find_user_by_email("not-an-email").await.unwrap_err();
        assert!(matches!(e, ScimError::Invalid(_)) && e.to_string().contains("not-an-email"), "{e}");
    }
    // deactivated users are found, and show active=false
    let c = client(&emu, ApiVersion::V2, RateLimit::Off);
    let victim = some_users(&c, 10).await.into_iter().filter(|u| u.is_active()).nth(2).unwrap();
    c.deactivate(victim.id()).await.unwrap();
    c.deactivate(victim.id()).await.unwrap(); // idempotent
    let found = c.find_user_by_email(victim.primary_email().unwrap()).await.unwrap().unwrap();
    assert_eq!(found.id, victim.id);
    assert_eq!(found.active, Some(false));
    assert_eq!(c.stats().email_fallbacks, 0, "the filter form was accepted, no scan needed");
}

#[tokio::test]
async fn hostile_email_matches_nothing() {
    let emu = emulator(50).await;
    for v in [ApiVersion::V1, ApiVersion::V2] {
        let c = client(&emu, v, RateLimit::Off);
        for hostile in [r#"x" or userName pr "@evil.example"#, r#"a\"@b.example"#, r#"" or userName pr ""@x.example"#] {
            let r = c.find_user_by_email(hostile).await;
            match r {
                Ok(found) => assert!(found.is_none(), "{v}: {hostile:?} matched {found:?}"),
                Err(ScimError::Invalid(_)) => {} // refused before sending: also fine
                Err(e) => panic!("{v}: {hostile:?}: {e}"),
            }
        }
        // The same value as a raw filter through the list API also matches nothing.
        let f = Filter::eq("userName", r#"" or userName pr ""#);
        let page = c.users_page(Some(&f), 1, 100).await.unwrap();
        assert_eq!(page.total_results, 0, "{v}: the value stayed one literal");
    }
}

#[tokio::test]
async fn paging_2500_users_without_duplicates_or_gaps() {
    let emu = emulator(2500).await;
    for v in [ApiVersion::V2, ApiVersion::V1] {
        let c = client(&emu, v, RateLimit::Off);
        for page_size in [1000u32, 333] {
            let users: Vec<User> = c.list_users(None, page_size).try_collect().await.unwrap();
            let ids: HashSet<&str> = users.iter().map(User::id).collect();
            assert_eq!(users.len(), 2500, "{v} page {page_size}: no gaps");
            assert_eq!(ids.len(), 2500, "{v} page {page_size}: no duplicates");
        }
    }
}

#[tokio::test]
async fn errors_are_mapped_to_readable_messages() {
    let emu = emulator(30).await;
    let c = client(&emu, ApiVersion::V2, RateLimit::Off);

    // wrong token, both versions
    for (v, code) in [(ApiVersion::V2, "unsupported_version"), (ApiVersion::V1, "invalid_authentication")] {
        let cc = ClientConfig::new(&emu.base_url(v), Secret::new("xoxp-wrong"), v).unwrap();
        let bad = ScimClient::new(cc).unwrap();
        let e = bad.users_page(None, 1, 1).await.unwrap_err();
        assert!(e.is_auth(), "{v}: {e}");
        assert_eq!(e.code(), code);
        assert!(e.to_string().contains("token"), "{v}: {e}");
        assert!(!e.to_string().contains("xoxp-wrong"), "the token never appears in errors");
        let report = bad.check().await;
        assert!(report.scim_endpoint && !report.token_accepted, "{v}: {report:?}");
    }

    // unknown user
    let e = c.get_user("W0NOSUCHUSER").await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert!(e.to_string().contains("no such user"), "{e}");

    // email taken, userName too long
    let existing = some_users(&c, 3).await.remove(0);
    let dup = User {
        user_name: Some("fresh.name".into()),
        emails: Some(vec![MultiValue::email(existing.primary_email().unwrap(), true)]),
        ..Default::default()
    };
    let e = c.create_user(&dup).await.unwrap_err();
    assert_eq!(e.code(), "email_taken");
    assert!(e.to_string().contains("already has this email"), "{e}");
    let long = User {
        user_name: Some("this.name.is.much.too.long.for.slack".into()),
        emails: Some(vec![MultiValue::email("long.name@acme-corp.example", true)]),
        ..Default::default()
    };
    let e = c.create_user(&long).await.unwrap_err();
    assert!(e.to_string().contains("21 characters"), "{e}");

    // primary owner and bots cannot be deactivated
    let e = c.deactivate(&emu.primary_owner_id()).await.unwrap_err();
    assert_eq!(e.code(), "cannot_disable_primary_owner");
    assert!(e.to_string().contains("primary owner"), "{e}");
    let bot = emu.bot_ids().remove(0);
    let e = c.set_active(&bot, false).await.unwrap_err();
    assert_eq!(e.code(), "cannot_disable_bot_user_with_scim");

    // Ids are opaque, but a hostile one cannot change the URL: it stays one path segment
    // (percent-encoded), so this is a user lookup that finds nobody, not a read of /Groups.
    let before = emu.stats().by_endpoint.get(&scimitar::scim::ratelimit::Endpoint::ListGroups).copied().unwrap_or(0);
    let e = c.get_user("../Groups").await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert_eq!(emu.stats().by_endpoint.get(&scimitar::scim::ratelimit::Endpoint::ListGroups).copied().unwrap_or(0), before);
    // Only what no server issues is refused before it is sent.
    assert!(matches!(c.get_user("..").await.unwrap_err(), ScimError::Invalid(_)));

    // unreachable URL
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cc = ClientConfig::new(&format!("http://127.0.0.1:{dead}/scim/v2/"), Secret::new("t"), ApiVersion::V2).unwrap();
    cc.max_retries = 1;
    cc.backoff_base = Duration::from_millis(10);
    let e = ScimClient::new(cc).unwrap().users_page(None, 1, 1).await.unwrap_err();
    assert!(matches!(e, ScimError::Transport { .. }), "{e}");
    assert!(e.to_string().contains("could not reach"), "{e}");

    // plain http to a non-loopback host is refused outright
    let e = ClientConfig::new("http://scim.example.com/scim/v2/", Secret::new("t"), ApiVersion::V2).unwrap_err();
    assert!(e.to_string().contains("clear text"), "{e}");
}

/// A server that answers HTML (a captive portal, a proxy error page, a wrong URL).
#[tokio::test]
async fn html_instead_of_json_is_named() {
    use axum::{Router, routing::get};
    let app = Router::new().fallback(get(|| async { axum::response::Html("<html><body>Sign in to the Wi-Fi</body></html>") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let cc = ClientConfig::new(&format!("http://{addr}/scim/v2/"), Secret::new("t"), ApiVersion::V2).unwrap();
    let e = ScimClient::new(cc).unwrap().users_page(None, 1, 1).await.unwrap_err();
    assert!(matches!(e, ScimError::NotScim { .. }), "{e}");
    assert!(e.to_string().contains("HTML page"), "{e}");
}

#[tokio::test]
async fn retry_after_two_seconds_is_waited_out() {
    let emu = emulator(20).await;
    // Every request of this phase gets 429 with Retry-After: 2 until the fault is lifted.
    emu.set_faults(Faults { p429: 1.0, retry_after: Duration::from_secs(2), ..Default::default() });
    let c = client(&emu, ApiVersion::V2, RateLimit::Off);
    let lift = {
        let emu_faults = emu.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            emu_faults.set_faults(Faults::default());
        })
    };
    let t = Instant::now();
    let page = c.users_page(None, 1, 5).await.unwrap();
    let waited = t.elapsed();
    lift.await.unwrap();
    assert_eq!(page.items.len(), 5);
    assert!(waited >= Duration::from_millis(1950), "Retry-After: 2 must be honoured, waited {waited:?}");
    assert!(waited < Duration::from_secs(5), "and not much more: {waited:?}");
    assert_eq!(c.stats().throttled, 1);
    assert_eq!(emu.stats().injected_429, 1);
}

#[tokio::test]
async fn server_errors_and_resets_are_retried() {
    let emu = emulator(300).await;
    emu.set_faults(Faults { p503: 0.3, ..Default::default() });
    let c = client(&emu, ApiVersion::V2, RateLimit::Off);
    let users: Vec<User> = c.list_users(None, 10).try_collect().await.unwrap();
    assert_eq!(users.len(), 300);
    assert!(c.stats().server_errors > 0, "faults were injected and retried");

    // A reset after the server created the user: the client looks before re-sending, so one user.
    // (The server profile is detected first, as any write would: its read is not the one reset.)
    assert!(c.profile().await.is_slack());
    emu.set_faults(Faults { reset: 1.0, ..Default::default() });
    let new = User {
        user_name: Some("reset.victim".into()),
        emails: Some(vec![MultiValue::email("reset.victim@acme-corp.example", true)]),
        active: Some(true),
        ..Default::default()
    };
    let lift = {
        let emu = emu.clone();
        tokio::spawn(async move {
            // the create's own request is the one that gets reset; lookups go through afterwards
            tokio::time::sleep(Duration::from_millis(100)).await;
            emu.set_faults(Faults::default());
        })
    };
    let created = c.create_user(&new).await.unwrap();
    lift.await.unwrap();
    assert_eq!(created.user_name.as_deref(), Some("reset.victim"));
    assert_eq!(c.stats().recovered_creates, 1, "found the user the reset hid, instead of creating a second");
    let matches = c.users_page(Some(&Filter::eq("userName", "reset.victim")), 1, 10).await.unwrap();
    assert_eq!(matches.total_results, 1);
}

#[tokio::test]
async fn writes_v1_and_v2() {
    let emu = emulator(40).await;
    for v in [ApiVersion::V1, ApiVersion::V2] {
        let c = client(&emu, v, RateLimit::Off);
        let email = format!("new.hire.{v}@acme-corp.example");
        let mut u = User {
            user_name: Some(format!("new.hire.{v}")),
            emails: Some(vec![MultiValue::email(email.clone(), true)]),
            title: Some("Engineer".into()),
            active: Some(true),
            ..Default::default()
        };
        u.enterprise = Some(scimitar::scim::EnterpriseUser { department: Some("R&D".into()), ..Default::default() });
        let created = c.create_user(&u).await.unwrap();
        assert_eq!(created.department(), Some("R&D"), "{v}: enterprise extension round-trips");

        let mut set = User { title: Some("Staff Engineer".into()), ..Default::default() };
        set.enterprise = Some(scimitar::scim::EnterpriseUser { department: Some("Platform".into()), ..Default::default() });
        let updated = c.update_user(created.id(), &UserUpdate { set, clear: vec![] }).await.unwrap();
        assert_eq!(updated.title.as_deref(), Some("Staff Engineer"));
        assert_eq!(updated.department(), Some("Platform"));
        assert_eq!(updated.active, Some(true), "an update leaves the user active");

        let off = c.set_active(created.id(), false).await.unwrap();
        assert_eq!(off.active, Some(false));
        let on = c.set_active(created.id(), true).await.unwrap();
        assert_eq!(on.active, Some(true));

        // groups: create, add, remove one (never the whole list), rename keeps members
        let others: Vec<String> = some_users(&c, 6).await.iter().filter(|u| u.is_active()).take(3).map(|u| u.id().to_string()).collect();
        let g = c.create_group(&format!("test-group-{v}"), &others[..2]).await.unwrap();
        c.add_members(g.id(), &[created.id().to_string(), others[2].clone()]).await.unwrap();
        c.remove_members(g.id(), &[others[0].clone()]).await.unwrap();
        c.rename_group(g.id(), &format!("renamed-{v}")).await.unwrap();
        let g2 = c.get_group(g.id()).await.unwrap();
        let members: HashSet<&str> = g2.member_ids().collect();
        assert_eq!(g2.name(), format!("renamed-{v}"));
        assert_eq!(members, HashSet::from([others[1].as_str(), others[2].as_str(), created.id()]), "{v}");
        assert_eq!(c.find_group_by_name(&format!("RENAMED-{v}")).await.unwrap().unwrap().id, g2.id);
        c.delete_group(g.id()).await.unwrap();
        assert!(c.get_group(g.id()).await.unwrap_err().is_not_found());

        // PUT is refused when it would blank the user
        let e = c.replace_user(created.id(), &User { title: Some("x".into()), ..Default::default() }).await.unwrap_err();
        assert!(e.to_string().contains("whole user"), "{e}");
    }
}

#[tokio::test]
async fn slack_pacing_spends_budget_without_429s() {
    let emu = emulator(200).await;
    // scale 2: DELETE 360/min (6/s) with burst 40
    emu.set_rate_limit(RateLimitMode::Slack { scale: 2.0 });
    let c = client(&emu, ApiVersion::V2, RateLimit::Slack { scale: 2.0 });
    let ids: Vec<String> = c
        .users_page(None, 10, 100)
        .await
        .unwrap()
        .items
        .iter()
        .filter(|u| u.is_active() && !emu.bot_ids().contains(&u.id().to_string()) && u.id() != emu.primary_owner_id())
        .take(52)
        .map(|u| u.id().to_string())
        .collect();
    emu.reset_stats();
    let t = Instant::now();
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let c = c.clone();
            let id = id.clone();
            tokio::spawn(async move { c.deactivate(&id).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let elapsed = t.elapsed().as_secs_f64();
    let stats = emu.stats();
    if stats.rate_limited > 0 {
        for (t, e, s) in &stats.log {
            eprintln!("{t:.3} {e:?} {s}");
        }
    }
    assert_eq!(stats.rate_limited, 0, "the client never went beyond the budget");
    // 39 in the burst (one token of headroom), then 13 more at 6/s less 2%: about 2.2 s
    assert!(elapsed > 1.7, "burst then paced: {elapsed}");
    assert!(elapsed < 4.0, "no time wasted: {elapsed}");
}
