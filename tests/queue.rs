//! The action queue against the emulator with Slack's rate limits on (scaled so runs take
//! seconds), over real HTTP on 127.0.0.1.

#[path = "common/other_app.rs"]
mod other_app;

use scimitar::emulator::{Emulator, EmulatorConfig, Faults, RateLimitMode};
use scimitar::queue::{
    Action, BatchInfo, Cancel, DeactivateVia, Engine, EngineConfig, GatedBatch, Journal, Knowledge, OpState, RunContext, Safety, Target,
};
use scimitar::report::{Outcome, ReportQuery, ReportStore};
use scimitar::scim::ratelimit::Endpoint;
use scimitar::scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret, User};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCALE: f64 = 5.0;

async fn emulator(users: usize, scale: Option<f64>) -> Emulator {
    let cfg = EmulatorConfig {
        users,
        groups: 5,
        seed: 11,
        token: "xoxp-queue-test".into(),
        rate_limit: scale.map_or(RateLimitMode::Off, |scale| RateLimitMode::Slack { scale }),
        ..Default::default()
    };
    Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn client(emu: &Emulator, scale: Option<f64>) -> ScimClient {
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = scale.map_or(RateLimit::Off, |scale| RateLimit::Slack { scale });
    cc.backoff_base = Duration::from_millis(20);
    ScimClient::new(cc).unwrap()
}

/// Active users that Slack lets us deactivate (not the primary owner, not bots).
async fn ordinary_users(emu: &Emulator, n: usize) -> Vec<User> {
    let c = client(emu, None);
    let bots = emu.bot_ids();
    let owner = emu.primary_owner_id();
    let all = c.all_users(None).await.unwrap();
    let picked: Vec<User> =
        all.into_iter().filter(|u| u.is_active() && u.id() != owner && !bots.contains(&u.id().to_string())).take(n).collect();
    assert_eq!(picked.len(), n, "the emulator has enough ordinary users");
    picked
}

fn journal(dir: &tempfile::TempDir) -> Arc<Journal> {
    Arc::new(
        Journal::open(&dir.path().join("scimitar.db"), RunContext::new("test", "127.0.0.1", &scimitar::env::Actor::default())).unwrap(),
    )
}

fn deactivations(users: &[User]) -> Vec<Action> {
    users.iter().map(|u| Action::Deactivate { target: Target::of_user(u) }).collect()
}

/// Through the gate, knowing nothing of the targets (the engine's behaviour is under test, so
/// Slack decides what the gate cannot know).
fn submit(j: &Journal, actions: Vec<Action>, safety: Safety) -> GatedBatch {
    let decision = scimitar::queue::gate(&safety, actions, &Knowledge::default());
    let info = BatchInfo { origin: "test".into(), policy_run: None, description: "test batch".into() };
    scimitar::queue::submit(j, &info, decision).unwrap()
}

async fn all_inactive(c: &ScimClient, users: &[User]) -> usize {
    let mut inactive = 0;
    for u in users {
        if c.get_user(u.id()).await.unwrap().active == Some(false) {
            inactive += 1;
        }
    }
    inactive
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_deactivations_within_the_budget() {
    let emu = emulator(400, Some(SCALE)).await;
    let users = ordinary_users(&emu, 300).await;
    let dir = tempfile::tempdir().unwrap();
    let j = journal(&dir);
    let batch = submit(&j, deactivations(&users), Safety { force: true, ..Default::default() });
    let c = client(&emu, Some(SCALE));
    emu.reset_stats();
    let engine = Engine::new(c.clone(), j.clone(), EngineConfig::default());
    let result = engine.run_batch(&batch, None, Cancel::default()).await.unwrap();
    assert_eq!(result.count(OpState::Done), 300, "{:?}", result.counts);

    let stats = emu.stats();
    assert_eq!(stats.rate_limited, 0, "no request beyond the budget");
    assert_eq!(stats.lock_conflicts, 0);
    assert!(stats.max_concurrent_writes_per_object <= 1);
    // Both rows of the table were used: DELETE and PATCH each within their own budget.
    let del = stats.by_endpoint.get(&Endpoint::DeleteUser).copied().unwrap_or(0);
    let patch = stats.by_endpoint.get(&Endpoint::UpdateUser).copied().unwrap_or(0);
    assert_eq!(del + patch, 300);
    // Split evenly: the rows refill at the same rate, so a batch ends when its longer queue
    // does (alternating blindly once gave 189/211 of 400, the PATCH row draining alone at the
    // end). How close to the table's bound it runs is `cargo bench --bench bulk`'s to measure.
    assert!(del.abs_diff(patch) <= 4, "deactivations split evenly over both endpoints: {del} DELETE, {patch} PATCH");

    assert_eq!(all_inactive(&client(&emu, None), &users).await, 300);
    let store = ReportStore::open(&dir.path().join("scimitar.db")).unwrap();
    let recs = store.query(&ReportQuery { batch: Some(batch.id().to_string()), limit: None, ..Default::default() }).unwrap();
    assert_eq!(recs.len(), 300);
    assert!(recs.iter().all(|r| r.record.outcome == Outcome::Done && r.record.action == "deactivate"));
    assert!(store.verify().unwrap().ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_429s_and_503s_end_done_or_failed_with_a_reason() {
    let emu = emulator(300, Some(SCALE)).await;
    let users = ordinary_users(&emu, 200).await;
    // 5% 503s, and 429 bursts from "another app" spending the org budget.
    emu.set_faults(Faults { p503: 0.05, p429: 0.05, retry_after: Duration::from_secs(1), ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let j = journal(&dir);
    let batch = submit(&j, deactivations(&users), Safety { force: true, ..Default::default() });
    let engine = Engine::new(client(&emu, Some(SCALE)), j.clone(), EngineConfig::default());
    let result = engine.run_batch(&batch, None, Cancel::default()).await.unwrap();
    let stats = emu.stats();
    assert!(stats.injected_503 > 0 && stats.injected_429 > 0, "faults were injected: {stats:?}");
    let done = result.count(OpState::Done);
    let failed = result.count(OpState::Failed);
    assert_eq!(done + failed, 200, "every op ended: {:?}", result.counts);
    for op in result.ops.iter().filter(|o| o.state == OpState::Failed) {
        assert!(op.error_code.is_some() && op.error_message.is_some(), "failed with a reason: {op:?}");
    }
    assert!(done >= 195, "retries turned transient faults into successes: {done}");
    assert!(result.ops.iter().any(|o| o.retries > 0), "retries are recorded per operation");
    emu.set_faults(Faults::default());
    let done_users: Vec<User> = users
        .iter()
        .filter(|u| result.ops.iter().any(|o| o.state == OpState::Done && o.action.target().id.as_deref() == Some(u.id())))
        .cloned()
        .collect();
    assert_eq!(all_inactive(&client(&emu, None), &done_users).await, done_users.len());
}

/// The gate skips the primary owner and bots before anything is sent when it knows them; known
/// only by id (nothing for the gate to go on), Slack refuses them and the engine says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_owner_and_bot_are_skipped_by_the_gate_or_refused_by_slack() {
    let emu = emulator(60, Some(SCALE)).await;
    let c = client(&emu, None);
    let mut batch_users = ordinary_users(&emu, 10).await;
    batch_users.push(c.get_user(&emu.primary_owner_id()).await.unwrap());
    batch_users.push(c.get_user(&emu.bot_ids()[0]).await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let j = journal(&dir);
    let decision = scimitar::queue::gate(&Safety::default(), deactivations(&batch_users), &Knowledge::from_users(&batch_users));
    assert_eq!(decision.summary(), "10 to deactivate · skipped: 1 bot, 1 primary owner");
    let info = BatchInfo { origin: "test".into(), policy_run: None, description: "test batch".into() };
    let batch = scimitar::queue::submit(&j, &info, decision).unwrap();
    emu.reset_stats();
    let engine = Engine::new(client(&emu, Some(SCALE)), j.clone(), EngineConfig { workers: 8, ..Default::default() });
    let result = engine.run_batch(&batch, None, Cancel::default()).await.unwrap();
    assert_eq!((result.count(OpState::Done), result.count(OpState::Skipped)), (10, 2), "{:?}", result.counts);
    assert_eq!(emu.stats().writes(), 10, "nothing was sent for the owner or the bot");
    let codes: Vec<String> = result.ops.iter().filter(|o| o.state == OpState::Skipped).map(|o| o.error_code.clone().unwrap()).collect();
    assert_eq!(codes, ["primary_owner", "bot"]);

    // Known only by id: Slack's own refusals, with Slack's codes.
    let id_only: Vec<Action> =
        batch_users[10..].iter().map(|u| Action::Deactivate { target: Target { id: u.id.clone(), ..Default::default() } }).collect();
    let batch = submit(&j, id_only, Safety::default());
    for via in [DeactivateVia::Delete] {
        let engine =
            Engine::new(client(&emu, Some(SCALE)), j.clone(), EngineConfig { workers: 8, deactivate_via: via, ..Default::default() });
        let result = engine.run_batch(&batch, None, Cancel::default()).await.unwrap();
        assert_eq!(result.count(OpState::Failed), 2, "{:?}", result.counts);
        let codes: HashMap<String, String> = result
            .ops
            .iter()
            .filter(|o| o.state == OpState::Failed)
            .map(|o| (o.action.target().id.unwrap(), o.error_code.clone().unwrap()))
            .collect();
        assert_eq!(codes[&emu.primary_owner_id()], "cannot_disable_primary_owner");
        assert_eq!(codes[&emu.bot_ids()[0]], "cannot_disable_bot_user_with_scim");
    }
    // The reasons are in the report, readable: the gate's skips and Slack's refusals.
    let store = ReportStore::open(&dir.path().join("scimitar.db")).unwrap();
    let failed = store.query(&ReportQuery { outcome: Some(Outcome::Failed), ..Default::default() }).unwrap();
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().any(|r| r.record.error_message.as_deref().unwrap_or("").contains("primary owner")));
    let skipped = store.query(&ReportQuery { outcome: Some(Outcome::Skipped), ..Default::default() }).unwrap();
    assert_eq!(skipped.len(), 2);
    assert!(skipped.iter().all(|r| r.record.error_message.is_none()), "a skip is no error");
    assert!(skipped.iter().any(|r| r.record.error_code.as_deref() == Some("bot")), "{skipped:?}");
}

/// A DELETE that Slack answers 204 while the user stays active (the emulator's `deletenoop`
/// fault) is read back, read again a bounded number of times, and fails loudly as a surprise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_answered_204_that_leaves_the_user_active_is_a_surprise() {
    let emu = emulator(30, None).await;
    let users = ordinary_users(&emu, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let j = journal(&dir);
    let batch = submit(&j, deactivations(&users), Safety::default());
    emu.set_faults(Faults { delete_noop: 1.0, ..Default::default() });
    emu.reset_stats();
    let waits = vec![Duration::from_millis(10), Duration::from_millis(20)];
    let config = EngineConfig { workers: 4, deactivate_via: DeactivateVia::Delete, readback_waits: waits };
    let result = Engine::new(client(&emu, None), j.clone(), config).run_batch(&batch, None, Cancel::default()).await.unwrap();
    assert_eq!(result.count(OpState::Failed), 3, "{:?}", result.counts);
    for op in &result.ops {
        assert_eq!(op.error_code.as_deref(), Some("surprise"), "{op:?}");
        let m = op.error_message.as_deref().unwrap();
        assert!(m.contains("still active") && m.contains("3 reads"), "{m}");
    }
    let s = emu.stats();
    assert_eq!(s.method("DELETE"), 3, "{s:?}");
    // The batch was journaled without the users' groups (no knowledge), so the engine reads each
    // user once before sending (what the deactivation takes away, `queue::kept`), then reads each
    // DELETE back 3 times (1 + 2 re-polls).
    assert_eq!(s.by_endpoint.get(&Endpoint::GetUser).copied(), Some(3 + 9), "{s:?}");
    // In the report as failures with the code, for the admin to check those users.
    let store = ReportStore::open(&dir.path().join("scimitar.db")).unwrap();
    let failed = store.query(&ReportQuery { outcome: Some(Outcome::Failed), ..Default::default() }).unwrap();
    assert!(failed.len() == 3 && failed.iter().all(|r| r.record.error_code.as_deref() == Some("surprise")));

    // Without the fault the same DELETE is read back once and is done.
    emu.set_faults(Faults::default());
    emu.reset_stats();
    let batch = submit(&j, deactivations(&users[..1]), Safety::default());
    let config = EngineConfig { workers: 4, deactivate_via: DeactivateVia::Delete, ..Default::default() };
    let result = Engine::new(client(&emu, None), j.clone(), config).run_batch(&batch, None, Cancel::default()).await.unwrap();
    assert_eq!(result.count(OpState::Done), 1, "{:?}", result.ops);
    assert_eq!(emu.stats().by_endpoint.get(&Endpoint::GetUser).copied(), Some(1 + 1), "one read kept, one read back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_users_are_skipped_and_reported() {
    let emu = emulator(40, None).await;
    let users = ordinary_users(&emu, 5).await;
    let dir = tempfile::tempdir().unwrap();
    let j = journal(&dir);
    let protected = users[0].primary_email().unwrap().to_uppercase();
    let batch = submit(&j, deactivations(&users), Safety { protected: vec![protected], ..Default::default() });
    let engine = Engine::new(client(&emu, None), j.clone(), EngineConfig::default());
    let result = engine.run_batch(&batch, None, Cancel::default()).await.unwrap();
    assert_eq!((result.count(OpState::Done), result.count(OpState::Skipped)), (4, 1));
    let c = client(&emu, None);
    assert_eq!(c.get_user(users[0].id()).await.unwrap().active, Some(true), "the protected user was never touched");
    let store = ReportStore::open(&dir.path().join("scimitar.db")).unwrap();
    let skipped = store.query(&ReportQuery { outcome: Some(Outcome::Skipped), ..Default::default() }).unwrap();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].record.target_id.as_deref(), Some(users[0].id()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_pending_work() {
    let emu = emulator(120, Some(1.0)).await;
    let users = ordinary_users(&emu, 100).await;
    let dir = tempfile::tempdir().unwrap();
    let j = journal(&dir);
    let batch = submit(&j, deactivations(&users), Safety::default());
    let engine = Engine::new(
        client(&emu, Some(1.0)),
        j.clone(),
        EngineConfig { workers: 4, deactivate_via: DeactivateVia::Delete, ..Default::default() },
    );
    let cancel = Cancel::default();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let run = {
        let cancel = cancel.clone();
        tokio::spawn(async move { engine.run_batch(&batch, Some(tx), cancel).await })
    };
    // After the first 10 results, cancel.
    let mut finished = 0;
    while let Some(ev) = rx.recv().await {
        if let scimitar::queue::QueueEvent::OpFinished { .. } = ev {
            finished += 1;
            if finished == 10 {
                cancel.cancel();
            }
        }
    }
    let result = run.await.unwrap().unwrap();
    let cancelled = result.count(OpState::Cancelled);
    assert!(cancelled >= 70, "most of the batch was cancelled: {:?}", result.counts);
    assert_eq!(result.count(OpState::Done) + cancelled, 100);
    assert!(j.unfinished_batches().unwrap().is_empty(), "a cancelled batch is closed");
}

#[tokio::test]
async fn create_user_after_an_interruption_checks_before_creating() {
    let emu = emulator(20, None).await;
    let dir = tempfile::tempdir().unwrap();
    let j = journal(&dir);
    let mut u = User {
        user_name: Some("late.joiner".into()),
        emails: Some(vec![scimitar::scim::MultiValue::email("late.joiner@acme-corp.example", true)]),
        active: Some(true),
        ..Default::default()
    };
    let batch = submit(&j, vec![Action::CreateUser { target: Target::of_user(&u), user: u.clone() }], Safety::default());
    // Simulate a crash after the request went out: the op is "running" and the user exists.
    let op_id = j.ops(batch.id()).unwrap()[0].op_id.clone();
    j.mark_running(&op_id).unwrap();
    let c = client(&emu, None);
    u.user_name = Some("late.joiner".into());
    c.create_user(&u).await.unwrap();
    let engine = Engine::new(c.clone(), j.clone(), EngineConfig::default());
    let result = engine.run_batch(&batch, None, Cancel::default()).await.unwrap();
    assert_eq!(result.count(OpState::Done), 1);
    assert!(result.ops[0].note.as_deref().unwrap_or("").contains("already exists"), "{:?}", result.ops[0]);
    let page = c.users_page(Some(&scimitar::scim::Filter::eq("userName", "late.joiner")), 1, 10).await.unwrap();
    assert_eq!(page.total_results, 1, "no duplicate user");
}

/// Resume passes the gate again: read-only refuses before the journal changes; an op that was in
/// flight and whose user is now deactivated is done (its request landed); a pending op whose user
/// someone else deactivated meanwhile is skipped; the rest runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_passes_the_gate_again() {
    let emu = emulator(30, None).await;
    let users = ordinary_users(&emu, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let j = journal(&dir);
    let batch = submit(&j, deactivations(&users), Safety::default());
    let ops = j.ops(batch.id()).unwrap();
    // The first was sent when the run was killed (and landed); the second was done by someone else.
    j.mark_running(&ops[0].op_id).unwrap();
    let c = client(&emu, None);
    c.deactivate(users[0].id()).await.unwrap();
    c.deactivate(users[1].id()).await.unwrap();
    emu.reset_stats();
    let read_only = Safety { read_only: true, ..Default::default() };
    let e = scimitar::queue::regate(&c, &j, &read_only, batch.id(), true).await.unwrap_err();
    assert!(e.to_string().contains("read-only"), "{e}");
    assert_eq!(emu.stats().requests, 0);
    assert_eq!(j.counts(batch.id()).unwrap().get(&OpState::Pending), Some(&2), "the journal is as it was");

    let r = scimitar::queue::regate(&c, &j, &Safety::default(), batch.id(), false).await.unwrap();
    assert_eq!((r.confirmed, r.skipped.len()), (1, 1), "{r:?}");
    assert_eq!(r.skipped[0].reason, scimitar::queue::SkipReason::AlreadyInState);
    assert_eq!(emu.stats().writes(), 0, "gating reads, it does not write");
    let result = Engine::new(c.clone(), j.clone(), EngineConfig::default()).run_batch(&r.batch, None, Cancel::default()).await.unwrap();
    assert_eq!((result.count(OpState::Done), result.count(OpState::Skipped)), (2, 1), "{:?}", result.ops);
    assert_eq!(emu.stats().writes(), 1, "only the third user was sent anything");
    assert!(result.ops[0].note.as_deref().unwrap().contains("had landed"), "{:?}", result.ops[0]);
    assert_eq!(all_inactive(&c, &users).await, 3);
}

// ---------- the real binary ----------

fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_scimitar"))
}

fn env_for(cmd: &mut std::process::Command, emu: &Emulator, dir: &std::path::Path) {
    cmd.env("SCIMITAR_URL", emu.base_url(ApiVersion::V2))
        .env("SLACK_SCIM_TOKEN", emu.token())
        .env("SCIMITAR_DATA_DIR", dir)
        .env("SCIMITAR_CONFIG_DIR", dir)
        .env_remove("SCIMITAR_PROFILE")
        .stdin(std::process::Stdio::null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_run_then_resumed_ends_with_each_user_deactivated_once() {
    let emu = emulator(600, Some(SCALE)).await;
    let users = ordinary_users(&emu, 500).await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("leavers.txt");
    std::fs::write(&list, users.iter().map(|u| u.primary_email().unwrap().to_string() + "\n").collect::<String>()).unwrap();
    emu.reset_stats();

    let mut cmd = bin();
    env_for(&mut cmd, &emu, dir.path());
    cmd.args(["users", "deactivate", "--from", list.to_str().unwrap(), "--yes", "--force", "--throttle-scale", "5", "-o", "json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    // Kill -9 once about half the deactivations have reached the server.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = emu.stats();
        let writes =
            s.by_endpoint.get(&Endpoint::DeleteUser).copied().unwrap_or(0) + s.by_endpoint.get(&Endpoint::UpdateUser).copied().unwrap_or(0);
        if writes >= 250 {
            break;
        }
        assert!(Instant::now() < deadline, "the run never got going");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let c = client(&emu, None);
    let inactive_after_kill = all_inactive(&c, &users).await;
    assert!(inactive_after_kill < 500, "killed mid-run: {inactive_after_kill} done");

    let mut cmd = bin();
    env_for(&mut cmd, &emu, dir.path());
    let out = cmd.args(["resume", "--yes", "--throttle-scale", "5", "-o", "csv"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "resume succeeds: {stderr}");
    assert!(stderr.contains("resuming batch"), "{stderr}");

    assert_eq!(all_inactive(&c, &users).await, 500, "every user ends deactivated");
    let s = emu.stats();
    let writes =
        s.by_endpoint.get(&Endpoint::DeleteUser).copied().unwrap_or(0) + s.by_endpoint.get(&Endpoint::UpdateUser).copied().unwrap_or(0);
    // Requests that had landed are confirmed by reading, not sent again, and the resumed run
    // starts from a spent budget (it cannot know what the killed one spent), so it meets no 429:
    // at most one write more than targets, for the kill.
    assert!(writes <= 500 + 1, "writes seen by the server: {writes} (429s: {})", s.rate_limited);

    // Each user recorded once, as done.
    let store = ReportStore::open(&dir.path().join("scimitar.db")).unwrap();
    let recs = store.query(&ReportQuery { limit: None, ..Default::default() }).unwrap();
    let mut per_user: HashMap<String, Vec<Outcome>> = HashMap::new();
    for r in &recs {
        per_user.entry(r.record.target_id.clone().unwrap()).or_default().push(r.record.outcome);
    }
    assert_eq!(per_user.len(), 500);
    assert!(per_user.values().all(|o| o == &vec![Outcome::Done]), "each recorded once as done");
    assert!(store.verify().unwrap().ok());

    // And nothing is left to resume.
    let mut cmd = bin();
    env_for(&mut cmd, &emu, dir.path());
    let out = cmd.args(["resume", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to resume"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_are_reported_by_line_before_anything_runs() {
    let emu = emulator(30, None).await;
    let users = ordinary_users(&emu, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("leavers.csv");
    let e0 = users[0].primary_email().unwrap();
    let e1 = users[1].primary_email().unwrap();
    std::fs::write(&list, format!("name,email\nA,{e0}\nB,not-an-email\nC,nobody@acme-corp.example\nD,{}\nE,{e1}\n", e0.to_uppercase()))
        .unwrap();
    emu.reset_stats();
    let mut cmd = bin();
    env_for(&mut cmd, &emu, dir.path());
    let out = cmd.args(["users", "deactivate", "--from", list.to_str().unwrap(), "--yes"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("line 3") && stderr.contains("not-an-email"), "{stderr}");
    assert!(stderr.contains("line 5") && stderr.contains("duplicate"), "{stderr}");
    let writes: u64 = emu.stats().by_endpoint.iter().filter(|(e, _)| e.is_write()).map(|(_, n)| n).sum();
    assert_eq!(writes, 0, "nothing ran");

    // unknown users are found in the lookup pass, still before anything runs
    std::fs::write(&list, format!("email\n{e0}\nnobody@acme-corp.example\n")).unwrap();
    let mut cmd = bin();
    env_for(&mut cmd, &emu, dir.path());
    let out = cmd.args(["users", "deactivate", "--from", list.to_str().unwrap(), "--yes"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("line 3") && stderr.contains("no user with email nobody@acme-corp.example"), "{stderr}");
    assert_eq!(client(&emu, None).get_user(users[0].id()).await.unwrap().active, Some(true));

    // without --yes and without a terminal, a destructive run refuses
    let mut cmd = bin();
    env_for(&mut cmd, &emu, dir.path());
    let out = cmd.args(["users", "deactivate", e0]).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));

    // dry run changes nothing, says what would happen
    let mut cmd = bin();
    env_for(&mut cmd, &emu, dir.path());
    let out = cmd.args(["users", "deactivate", e0, "--dry-run", "-o", "csv"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("deactivate {e0}")));
    assert_eq!(client(&emu, None).get_user(users[0].id()).await.unwrap().active, Some(true));

    // a real run: one JSON line per operation, exit 0
    let mut cmd = bin();
    env_for(&mut cmd, &emu, dir.path());
    let out = cmd.args(["users", "deactivate", e0, e1, "--yes", "-o", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["outcome"] == "done"));
    let rendered = format!("{:?}{}", out, String::from_utf8_lossy(&out.stdout));
    assert!(!rendered.contains(emu.token()), "the token never appears in output");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_that_deactivates_is_reported_as_a_surprise() {
    let emu = emulator(30, None).await;
    let users = ordinary_users(&emu, 2).await;
    // Replay Slack's April 2024 incident: updates deactivate the user.
    emu.set_faults(Faults { incident: 1.0, ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let j = journal(&dir);
    let update = |u: &User| Action::UpdateUser {
        target: Target::of_user(u),
        update: scimitar::queue::action::UpdateSpec {
            set: User { title: Some("Principal Engineer".into()), ..Default::default() },
            ..Default::default()
        },
    };
    let batch = submit(&j, vec![update(&users[0]), update(&users[1])], Safety::default());
    let result =
        Engine::new(client(&emu, None), j.clone(), EngineConfig::default()).run_batch(&batch, None, Cancel::default()).await.unwrap();
    assert_eq!(result.count(OpState::Failed), 2, "{:?}", result.counts);
    for op in &result.ops {
        assert_eq!(op.error_code.as_deref(), Some("surprise"));
        assert!(op.error_message.as_deref().unwrap().contains("should be active"), "{op:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_create_and_group_commands() {
    let emu = emulator(40, None).await;
    let users = ordinary_users(&emu, 3).await;
    let [a, b, c] = [0, 1, 2].map(|i| users[i].primary_email().unwrap().to_string());
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = bin();
        env_for(&mut cmd, &emu, dir.path());
        let out = cmd.args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    let csv = dir.path().join("new-hires.csv");
    std::fs::write(&csv, "email,first_name,last_name,title,department\nnina.new@acme-corp.example,Nina,New,Analyst,Finance\nomar.new@acme-corp.example,Omar,New,Engineer,Platform\n").unwrap();
    let (code, out, err) = run(&["users", "create", "--from", csv.to_str().unwrap(), "-o", "csv"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.lines().filter(|l| l.contains(",done,")).count(), 2, "{out}");
    let nina = client(&emu, None).find_user_by_email("nina.new@acme-corp.example").await.unwrap().unwrap();
    assert_eq!((nina.title.as_deref(), nina.department()), (Some("Analyst"), Some("Finance")));
    // existing accounts are linked, never duplicated: a second run refuses before sending
    let (code, _, err) = run(&["users", "create", "--from", csv.to_str().unwrap()]);
    assert_eq!(code, Some(64));
    assert!(err.contains("line 2") && err.contains("already exists"), "{err}");

    assert_eq!(run(&["groups", "create", "team-x", &a, &b]).0, Some(0));
    assert_eq!(run(&["groups", "add", "team-x", &c]).0, Some(0));
    let (code, _, err) = run(&["groups", "remove", "team-x", &a]);
    assert_eq!(code, Some(64), "removing members is destructive: needs --yes without a terminal: {err}");
    assert_eq!(run(&["groups", "remove", "team-x", &a, "--yes"]).0, Some(0));
    assert_eq!(run(&["groups", "rename", "team-x", "team-y"]).0, Some(0));
    let (code, out, _) = run(&["groups", "show", "team-y", "-o", "json"]);
    assert_eq!(code, Some(0));
    let g: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let mut members: Vec<String> = g["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap().to_string()).collect();
    members.sort();
    let mut want = vec![users[1].id().to_string(), users[2].id().to_string()];
    want.sort();
    assert_eq!(members, want, "rename kept the members; remove took only the one");
    assert_eq!(run(&["groups", "delete", "team-y", "--yes"]).0, Some(0));
    assert_eq!(run(&["groups", "show", "team-y"]).0, Some(66));

    // all of it is in the report
    let (code, out, _) = run(&["report", "--summary", "-o", "csv"]);
    assert_eq!(code, Some(0));
    for action in ["create_user", "create_group", "add_members", "remove_members", "rename_group", "delete_group"] {
        assert!(out.contains(action), "{action} missing from {out}");
    }
}

/// Another app of the organisation writes half of both rows scimitar's deactivations use, all
/// along (Slack's table is org-wide). scimitar's client cannot know it until the server answers
/// 429; then it honours Retry-After and backs off (AIMD), so its 429s stay few, the other app
/// keeps getting its share, and every deactivation still ends done, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_writer_spending_half_the_budget_is_shared_with() {
    const SCALE: f64 = 20.0;
    const N: usize = 400;
    let emu = emulator(N + 300, Some(SCALE)).await;
    let mut users = ordinary_users(&emu, N + 100).await;
    let others: Vec<String> = users.split_off(N).into_iter().map(|u| u.id().to_string()).collect();
    let dir = tempfile::tempdir().unwrap();
    let j = journal(&dir);
    let batch = submit(&j, deactivations(&users), Safety { force: true, ..Default::default() });
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Slack { scale: SCALE };
    cc.max_throttle_retries = 1000;
    let c = ScimClient::new(cc).unwrap();
    emu.reset_stats();
    // It has just spent both rows' bursts, and goes on with half of the DELETE row and half of
    // the PATCH row: 3 writes a second at Slack's rates.
    let other = other_app::OtherApp::start(&emu.base_url(ApiVersion::V2), emu.token(), others, 3.0 * SCALE, (40.0 * SCALE) as u64).await;
    let engine = Engine::new(c.clone(), j.clone(), EngineConfig::default());
    let result = engine.run_batch(&batch, None, Cancel::default()).await.unwrap();
    let (other_sent, other_429) = other.stop().await;
    assert_eq!(result.count(OpState::Done), N as u64, "{:?}", result.counts);

    let stats = emu.stats();
    let ours = stats.rate_limited.saturating_sub(other_429);
    eprintln!("scimitar 429s: {ours}; other app: {other_429} of {other_sent}");
    // Scimitar's 429s stay few: at most 5 % of the batch. Seen: 2-16 on a shared 2-core machine
    // (the count follows how the two writers are scheduled). This bounds the harm, it does not
    // tell the backoff from plain Retry-After (without the backoff one run saw 18); the bench's
    // `second_writer_*` lines measure that.
    assert!(ours <= N as u64 / 20, "scimitar was refused {ours} times for the rate (the other app {other_429} of {other_sent})");
    assert!(other_429 * 10 <= other_sent, "the other app still gets its share: {other_429} of its {other_sent} writes refused");
    assert_eq!(stats.lock_conflicts, 0);
    assert_eq!(all_inactive(&client(&emu, None), &users).await, N);
    let store = ReportStore::open(&dir.path().join("scimitar.db")).unwrap();
    let recs = store.query(&ReportQuery { batch: Some(batch.id().to_string()), limit: None, ..Default::default() }).unwrap();
    assert_eq!(recs.len(), N, "one report record per user");
}
