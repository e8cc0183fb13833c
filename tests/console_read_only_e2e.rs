//! `scimitar --read-only` (the console, the real binary in a pseudo-terminal) against an emulator
//! this test runs on 127.0.0.1, so that it can count what reaches it: every verb (`d`, `a`, `+`,
//! `-`, `R`, `n`), Policies `A` then Enter, the resume offer and `F` are refused by the gate, and
//! not one write request arrives.

mod common;
use common::pty::Session;
use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::queue::{Action, BatchInfo, Journal, Knowledge, RunContext, Safety, Target};
use scimitar::scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret};

const POLICY: &str = r#"match_on = "email"
[source]
path = "hr.csv"
id_column = "email"
[attributes]
"emails.work" = "email"
userName = "user_name"
[provisioning]
remove_action = "report"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_console_sends_no_write() {
    let cfg = EmulatorConfig { users: 60, groups: 3, seed: 12, token: "xoxp-ro-console".into(), ..Default::default() };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = emu.base_url(ApiVersion::V2);
    let mut cc = ClientConfig::new(&url, Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    let client = ScimClient::new(cc).unwrap();
    let owner = emu.primary_owner_id();
    let victim = client
        .all_users(None)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.is_active() && u.id() != owner && !u.primary_email().unwrap().ends_with("slack-bots.com"))
        .unwrap();
    // A group without the victim (for +) and one with them (for -).
    client.create_group("ro-empty", &[]).await.unwrap();
    client.create_group("ro-full", &[victim.id().to_string()]).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::write(dir.path().join("policies/hr.toml"), POLICY).unwrap();
    std::fs::write(dir.path().join("policies/hr.csv"), "email,user_name\nro.one@ro-e2e.example,ro.one\nro.two@ro-e2e.example,ro.two\n")
        .unwrap();
    // A killed run left a batch open: the console offers to resume it at start.
    let db = dir.path().join("scimitar.db");
    let open = {
        let j = Journal::open(&db, RunContext::new("default", &client.host(), &scimitar::env::Actor::default())).unwrap();
        let d =
            scimitar::queue::gate(&Safety::default(), vec![Action::Deactivate { target: Target::of_user(&victim) }], &Knowledge::default());
        let info = BatchInfo { origin: "console".into(), policy_run: None, description: "deactivate 1 user".into() };
        scimitar::queue::submit(&j, &info, d).unwrap().id().to_string()
    };
    emu.reset_stats();

    let env = [("SCIMITAR_URL", url.as_str()), ("SLACK_SCIM_TOKEN", emu.token())];
    let mut s = Session::start_env(&["--read-only"], dir, true, &env);
    s.wait_for("the resume offer", |sc| sc.contains("Resume unfinished work?") && sc.contains(&open));
    s.type_keys("\r");
    s.wait_for("the resume refused", |sc| sc.contains("resume: read-only mode") && !sc.contains("Resume unfinished work?"));
    s.wait_for("users loaded", |sc| sc.contains("users 60/60") && sc.contains("read-only"));
    // Mark the victim (a live filter on their email), keep the mark, clear the filter.
    let email = victim.primary_email().unwrap().to_string();
    s.type_keys(&format!("/{email}\r"));
    s.wait_for("the victim alone", |sc| sc.contains("Users 1 of 60"));
    s.type_keys(" ");
    s.wait_for("one mark", |sc| sc.contains("marked 1"));
    s.send("\x1b");
    s.wait_for("the filter cleared", |sc| !sc.contains("Users 1 of 60"));
    let refused = |s: &Session, what: &str| {
        let line = format!("{what}: read-only mode");
        let sc = s.wait_for(&line, |sc| sc.contains(&line));
        assert!(!sc.contains("Confirm:") && !sc.contains(" Rename group ") && !sc.contains(" New group ("), "no dialog:\n{sc}");
    };
    s.type_keys("d");
    refused(&s, "deactivate 1 user");
    s.type_keys("a");
    refused(&s, "reactivate 1 user");
    s.type_keys("2");
    s.type_keys("/ro-empty\r");
    s.wait_for("ro-empty selected", |sc| sc.contains("Groups 1 of 5"));
    s.type_keys("+");
    refused(&s, "add 1 member to ro-empty");
    s.send("\x1b");
    s.wait_for("the groups filter cleared", |sc| !sc.contains("/ro-empty"));
    s.type_keys("/ro-full\r");
    s.wait_for("ro-full selected", |sc| sc.contains("Groups 1 of 5 /ro-full"));
    s.type_keys("-");
    refused(&s, "remove 1 member from ro-full");
    s.type_keys("R");
    refused(&s, "rename group ro-full");
    s.type_keys("n");
    refused(&s, "create a group");
    // Policies: the plan shows, A is refused, and Enter after it applies nothing.
    s.type_keys("3");
    s.wait_for("the plan", |sc| sc.contains("Create users (2)"));
    s.type_keys("A");
    refused(&s, "apply policy hr");
    s.type_keys("\r");
    // The queue view: F retries nothing.
    s.type_keys("Q");
    // With no current batch the view lists the past ones (the open batch among them).
    s.wait_for("the past batches", |sc| sc.contains("Queue: past batches"));
    s.type_keys("F");
    s.send("\x1b");
    s.wait_for("the queue view closed", |sc| !sc.contains("No batch yet") && !sc.contains("Queue: past batches"));
    // The refusal is in the Log (the view covered it).
    refused(&s, "retry");
    s.type_keys("q");
    assert!(s.wait_exit().success());

    let stats = emu.stats();
    assert_eq!(stats.writes(), 0, "not one write reached Slack: {:?}", stats.by_method);
    assert!(stats.method("GET") > 0, "the console did read: {:?}", stats.by_method);
    let j = Journal::open(&db, RunContext::new("default", &client.host(), &scimitar::env::Actor::default())).unwrap();
    let left = j.unfinished_batches().unwrap();
    assert_eq!((left.len(), left[0].open), (1, 1), "the open batch is left for later");
    assert!(client.get_user(victim.id()).await.unwrap().is_active());
    emu.shutdown().await;
}
