//! `scimitar demo`'s HR export and policy (`policy::demo`): written from an emulated directory
//! read over HTTP, the plan is small and varied, and it applies cleanly (the next plan is empty).

use std::sync::Arc;

use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::policy::apply::{ApplyEnv, apply_live};
use scimitar::policy::demo;
use scimitar::policy::live::{list_policies_in, live_plan};
use scimitar::queue::{Cancel, EngineConfig, Journal, RunContext, Safety};
use scimitar::scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret};

async fn start(users: usize, groups: usize) -> (Emulator, ScimClient) {
    let cfg = EmulatorConfig { users, groups, seed: 1, token: "xoxp-demo-policy".into(), ..Default::default() };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    (emu, ScimClient::new(cc).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_policy_plan_is_small_and_varied() {
    let (emu, client) = start(5000, 60).await;
    let dir = tempfile::tempdir().unwrap();
    let (path, summary) = demo::write(&client, dir.path(), 1).await.unwrap();
    assert_eq!(path, dir.path().join("policies/demo-hr.toml"));
    assert!(dir.path().join("demo-hr.csv").is_file());
    #[cfg(unix)]
    {
        // The HR export holds employees' emails and names: owner-only.
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(dir.path().join("demo-hr.csv")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(list_policies_in(&dir.path().join("policies"))[0].0, "demo-hr");

    let live = live_plan(&client, &path, &dir.path().join("policy-state")).await.unwrap();
    let plan = &live.plan;
    let c = plan.counts();
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    assert_eq!(c.creates, demo::NEW_HIRES, "{c:?}");
    assert_eq!(c.reactivations, 1, "{c:?}");
    assert_eq!(plan.reactivations[0].email, summary.returning.clone().unwrap());
    // ~2% change title or department.
    assert_eq!(c.updates, summary.changed.len(), "{c:?}");
    assert!((60..=120).contains(&c.updates), "{c:?}");
    // ~1% left and ~1% on leave; no bot, no primary owner.
    assert_eq!(c.deactivations, summary.left.len() + summary.disabled.len(), "{c:?}");
    assert!((60..=120).contains(&c.deactivations), "{c:?}");
    assert!(c.deactivations * 100 / live.active_users <= 3, "{} of {}", c.deactivations, live.active_users);
    assert!(plan.deactivations.iter().all(|d| !d.email.ends_with("@slack-bots.com")));
    let owner = emu.primary_owner_id();
    assert!(plan.deactivations.iter().all(|d| d.id != owner));
    plan.check_ceiling(&live.policy, live.active_users).unwrap();
    // The on-call rule: engineers joining eng-oncall (merge: nobody removed, no group created).
    assert_eq!(c.group_creates, 0, "{c:?}");
    assert_eq!(c.member_removes, 0, "{c:?}");
    assert_eq!(c.member_adds, summary.oncall_adds, "{c:?}");
    assert!((5..=22).contains(&c.member_adds), "{c:?}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_policy_applies_cleanly_on_a_small_org() {
    let (emu, client) = start(300, 10).await;
    let dir = tempfile::tempdir().unwrap();
    let (path, summary) = demo::write(&client, dir.path(), 7).await.unwrap();
    let state_dir = dir.path().join("policy-state");
    let live = live_plan(&client, &path, &state_dir).await.unwrap();
    let c = live.plan.counts();
    assert!(live.plan.warnings.is_empty(), "{:?}", live.plan.warnings);
    assert_eq!((c.creates, c.reactivations), (5, 1), "{c:?}");
    assert!(c.updates >= 2 && c.deactivations >= 2 && c.member_adds >= 3, "{c:?}");
    assert_eq!(c.deactivations, summary.left.len() + summary.disabled.len());

    let journal = Arc::new(
        Journal::open(&dir.path().join("scimitar.db"), RunContext::new("test", &client.host(), &scimitar::env::Actor::default())).unwrap(),
    );
    let env =
        ApplyEnv { journal, safety: Safety::default(), engine: EngineConfig { workers: 4, ..Default::default() }, origin: "test".into() };
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = apply_live(&client, &live, demo::POLICY_NAME, "pr-demo-test", env, tx, Cancel::default()).await.unwrap();
    assert!(outcome.complete, "{outcome:?}");
    assert!(outcome.notes().is_empty(), "{:?}", outcome.notes());
    let again = live_plan(&client, &path, &state_dir).await.unwrap();
    assert!(again.plan.is_empty(), "{:?}", again.plan);
    emu.shutdown().await;
}
