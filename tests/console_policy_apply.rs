//! `policy::apply::apply_live`, the apply the console's Policies pane runs, against the emulator
//! over real HTTP on 127.0.0.1: both passes run through the queue, every queue event reaches the
//! caller's channel, the report records carry the policy run id, the state is saved and the next
//! plan is empty.

use std::sync::Arc;

use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::policy::apply::{ApplyEnv, apply_live};
use scimitar::policy::live::live_plan;
use scimitar::policy::plan::never_deactivate;
use scimitar::queue::{Cancel, EngineConfig, Journal, OpState, QueueEvent, RunContext, Safety};
use scimitar::report::{ReportQuery, ReportStore};
use scimitar::scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret, User};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_live_runs_both_passes_and_streams_queue_events() {
    let cfg = EmulatorConfig { users: 60, groups: 2, seed: 5, token: "xoxp-console-apply".into(), ..Default::default() };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    let client = ScimClient::new(cc).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let users = client.all_users(None).await.unwrap();
    let active: Vec<&User> = users.iter().filter(|u| u.is_active() && never_deactivate(u, &[]).is_none()).collect();
    assert!(active.len() > 20, "{}", active.len());
    // Two active users are missing from the source (deactivate), one changes title (update), two
    // are new hires in a group the policy creates (pass 1 creates, pass 2 adds them).
    let mut w = csv::Writer::from_path(dir.path().join("hr.csv")).unwrap();
    w.write_record(["email", "user_name", "title", "status", "groups"]).unwrap();
    for (i, u) in active.iter().enumerate().skip(2) {
        let title = if i == 2 { "Chief Tester".to_string() } else { u.title.clone().unwrap_or_default() };
        w.write_record([u.primary_email().unwrap(), u.user_name.as_deref().unwrap_or(""), &title, "active", "staff"]).unwrap();
    }
    for n in 0..2 {
        w.write_record([&format!("hire{n}@console-test.example"), &format!("hire{n}"), "Engineer", "active", "staff;squad"]).unwrap();
    }
    w.flush().unwrap();
    let policy = dir.path().join("hr.toml");
    std::fs::write(
        &policy,
        r#"match_on = "email"
[source]
path = "hr.csv"
id_column = "email"
status_column = "status"
enabled_values = ["active"]
groups_column = "groups"
groups_separator = ";"
[attributes]
"emails.work" = "email"
userName = "user_name"
title = "title"
[scope]
groups = ["staff"]
[provisioning]
max_deactivations = 10
[[groups]]
source = "squad"
slack_name = "console-squad"
key = "squad"
"#,
    )
    .unwrap();
    let state_dir = dir.path().join("policy-state");
    let live = live_plan(&client, &policy, &state_dir).await.unwrap();
    let c = live.plan.counts();
    assert_eq!((c.creates, c.deactivations, c.group_creates), (2, 2, 1), "{:?}", live.plan);
    assert!(c.updates >= 1, "{c:?}");

    let db = dir.path().join("scimitar.db");
    let journal = Arc::new(Journal::open(&db, RunContext::new("test", &client.host(), &scimitar::env::Actor::default())).unwrap());
    let env = ApplyEnv {
        journal,
        safety: Safety::default(),
        engine: EngineConfig { workers: 4, ..Default::default() },
        origin: "console".into(),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = apply_live(&client, &live, "hr", "pr-console-test", env, tx, Cancel::default()).await.unwrap();
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    assert!(outcome.complete, "{outcome:?}");
    assert!(outcome.notes().is_empty(), "{:?}", outcome.notes());
    assert_eq!(outcome.run_id, "pr-console-test");
    assert_eq!(outcome.batches.len(), 2, "two passes");
    let started = events.iter().filter(|e| matches!(e, QueueEvent::BatchStarted { .. })).count();
    let finished: Vec<OpState> = events
        .iter()
        .filter_map(|e| match e {
            QueueEvent::OpFinished { state, .. } => Some(*state),
            _ => None,
        })
        .collect();
    assert_eq!(started, 2);
    let ops: u64 = outcome.batches.iter().map(|b| b.ops.len() as u64).sum();
    assert_eq!(finished.len() as u64, ops);
    assert!(finished.iter().all(|s| *s == OpState::Done), "{finished:?}");

    // The report has every operation under the run id; the state was saved; nothing is left.
    let store = ReportStore::open(&db).unwrap();
    let q = ReportQuery { batch: Some(outcome.run_id.clone()), ..Default::default() };
    assert_eq!(store.count_matching(&q).unwrap(), ops);
    assert!(state_dir.join("hr.json").is_file());
    let again = live_plan(&client, &policy, &state_dir).await.unwrap();
    assert!(again.plan.is_empty(), "{:?}", again.plan);
    emu.shutdown().await;
}

/// `apply_live` gates every pass itself: with `--read-only` in its safety rules it refuses before
/// anything is journaled, and not one write reaches the emulator, whatever its caller checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_live_under_read_only_sends_nothing() {
    let cfg = EmulatorConfig { users: 30, groups: 2, seed: 8, token: "xoxp-apply-ro".into(), ..Default::default() };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    let client = ScimClient::new(cc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Two new hires and nobody else: a plan that creates two users and deactivates the rest.
    std::fs::write(dir.path().join("hr.csv"), "email,user_name\nro1@apply-ro.example,ro1\nro2@apply-ro.example,ro2\n").unwrap();
    let policy = dir.path().join("hr.toml");
    std::fs::write(
        &policy,
        "match_on = \"email\"\n[source]\npath = \"hr.csv\"\nid_column = \"email\"\n[attributes]\n\"emails.work\" = \"email\"\nuserName = \"user_name\"\n[provisioning]\nmax_deactivations = 1000\nmax_deactivation_percent = 100.0\n",
    )
    .unwrap();
    let live = live_plan(&client, &policy, &dir.path().join("policy-state")).await.unwrap();
    let c = live.plan.counts();
    assert!(c.creates == 2 && c.deactivations > 5, "{c:?}");
    let db = dir.path().join("scimitar.db");
    let journal = Arc::new(Journal::open(&db, RunContext::new("test", &client.host(), &scimitar::env::Actor::default())).unwrap());
    let env = ApplyEnv {
        journal: journal.clone(),
        safety: Safety { read_only: true, force: true, ..Default::default() },
        engine: EngineConfig::default(),
        origin: "console".into(),
    };
    emu.reset_stats();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let err = apply_live(&client, &live, "hr", "pr-ro", env, tx, Cancel::default()).await.unwrap_err();
    assert!(matches!(err, scimitar::policy::apply::ApplyError::Held(scimitar::queue::Hold::ReadOnly)), "{err:?}");
    assert!(err.to_string().contains("read-only"), "{err}");
    let s = emu.stats();
    assert_eq!(s.writes(), 0, "{:?}", s.by_method);
    assert!(journal.unfinished_batches().unwrap().is_empty());
    let store = ReportStore::open(&db).unwrap();
    assert_eq!(store.count_matching(&ReportQuery::default()).unwrap(), 0, "nothing journaled, nothing reported");
    emu.shutdown().await;
}
