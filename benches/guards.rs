//! `cargo bench --bench guards`: the cost of guarding every change, side by side in one run.
//!
//! - `gate_100k_*`: the one gate (`queue::gate`: protected, refused accounts, no-ops, every
//!   ceiling) over a 100,000-operation plan (60,000 attribute updates, 20,000 deactivations,
//!   15,000 reactivations, 5,000 membership removals across 500 groups) with what a policy run
//!   knows (100,000 users, the org's size, each group's members): median of 5 runs, and the
//!   child process's peak RSS before the gate ran (the plan and what is known) and after.
//! - `undo_10k_*`: the undo of a 10,000-update batch (`restore --batch`): the batch is run
//!   against the emulator on 127.0.0.1 (unthrottled), then `queue::restore::plan_with` reads the
//!   journal's before-values and the users as they are now and builds the undo
//!   (`undo_10k_plan_ms`), which passes the gate and runs through the engine
//!   (`undo_10k_run_seconds`); the child's peak RSS. Every value is checked to be back.
//!
//! Each part runs in a child process of its own (its own peak RSS, VmHWM).

use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::queue::action::UpdateSpec;
use scimitar::queue::gate::UserFacts;
use scimitar::queue::{Action, BatchInfo, Cancel, Engine, EngineConfig, Journal, Knowledge, RunContext, Safety, Target};
use scimitar::scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret, User};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn peak_rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The 100k-operation plan and what the caller knows about its targets.
fn plan_100k() -> (Vec<Action>, Knowledge) {
    let n = 100_000;
    let mut known = Knowledge::default();
    for i in 0..n {
        let email = format!("user.{i:06}@example.com");
        known.insert(
            format!("W{i:010}"),
            UserFacts {
                active: Some(i % 7 != 0),
                email: Some(email.clone()),
                emails: vec![email, format!("u{i}@home.example")],
                user_name: Some(format!("user.{i:06}")),
                account: Default::default(),
                groups: None,
                roles: vec![],
            },
        );
    }
    known.set_population(n);
    for g in 0..500 {
        known.set_group_size(&format!("S{g:06}"), 400);
    }
    let target = |i: usize| Target {
        id: Some(format!("W{i:010}")),
        email: Some(format!("user.{i:06}@example.com")),
        user_name: None,
        display: Some(format!("User {i}")),
    };
    let mut actions = Vec::with_capacity(n);
    for i in 0..60_000 {
        let set = User { title: Some(format!("Title {}", i % 50)), ..Default::default() };
        let clear = if i % 3 == 0 { vec!["enterprise.department".to_string()] } else { vec![] };
        actions.push(Action::UpdateUser { target: target(i), update: UpdateSpec { set, clear, ..Default::default() } });
    }
    actions.extend((60_000..80_000).map(|i| Action::Deactivate { target: target(i) }));
    actions.extend((80_000..95_000).map(|i| Action::Reactivate { target: target(i) }));
    // One member per removal (a policy's overwrite rule removes each on its own PATCH).
    for k in 0..5_000 {
        let g = k % 500;
        let user_ids = vec![format!("W{:010}", 95_000 + k)];
        actions.push(Action::RemoveMembers { group_id: format!("S{g:06}"), group_name: format!("group-{g}"), user_ids });
    }
    (actions, known)
}

fn gate_part() -> Vec<(String, f64)> {
    let (actions, known) = plan_100k();
    let safety =
        Safety { protected: vec!["user.000042@example.com".into(), "u77@home.example".into(), "W0000000099".into()], ..Default::default() };
    let rss_before = peak_rss_mb();
    let mut times = Vec::new();
    let mut summary = String::new();
    for _ in 0..5 {
        let a = actions.clone();
        let t = Instant::now();
        let d = scimitar::queue::gate(&safety, a, &known);
        times.push(t.elapsed());
        summary = format!("{} | {}", d.summary(), d.ceiling_reason().unwrap_or_default());
        std::hint::black_box(&d);
    }
    times.sort();
    eprintln!("gate: {summary}");
    vec![
        ("gate_100k_ops".into(), actions.len() as f64),
        ("gate_100k_median_ms".into(), ms(times[2])),
        ("gate_100k_min_ms".into(), ms(times[0])),
        ("gate_100k_peak_rss_mb_before_gate".into(), rss_before),
        ("gate_100k_peak_rss_mb".into(), peak_rss_mb()),
    ]
}

fn client(emu: &Emulator) -> ScimClient {
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    ScimClient::new(cc).unwrap()
}

fn undo_part() -> Vec<(String, f64)> {
    let n = 10_000;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let cfg = EmulatorConfig { users: n + n / 10, groups: 4, seed: 9, token: "xoxp-bench-guards".into(), ..Default::default() };
        let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let c = client(&emu);
        let owner = emu.primary_owner_id();
        let bots = emu.bot_ids();
        let users: Vec<User> = c
            .all_users(None)
            .await
            .unwrap()
            .into_iter()
            .filter(|u| u.is_active() && u.id() != owner && !bots.iter().any(|b| b == u.id()))
            .take(n)
            .collect();
        assert_eq!(users.len(), n);
        let dir = tempfile::tempdir().unwrap();
        let j = Arc::new(Journal::open(&dir.path().join("bench.db"), RunContext::new("bench", "127.0.0.1", &Default::default())).unwrap());
        let forced = Safety { force: true, ..Default::default() };
        // The batch: every title changed (a policy's update, with its before-values).
        let actions: Vec<Action> = users
            .iter()
            .map(|u| {
                let update = scimitar::queue::edit::update_for(u, [(scimitar::queue::attr::Attr::Title, Some("Renamed By Mistake"))]);
                Action::UpdateUser { target: Target::of_user(u), update }
            })
            .collect();
        let info = BatchInfo { origin: "bench".into(), policy_run: None, description: "10k updates".into() };
        let d = scimitar::queue::gate(&forced, actions, &Knowledge::from_users(&users));
        let batch = scimitar::queue::submit(&j, &info, d).unwrap();
        let engine = Engine::new(c.clone(), j.clone(), EngineConfig::default());
        let t = Instant::now();
        let r = engine.run_batch(&batch, None, Cancel::default()).await.unwrap();
        let batch_s = t.elapsed().as_secs_f64();
        assert!(r.all_succeeded(), "{:?}", r.counts);
        // The undo.
        let rss_before = peak_rss_mb();
        let t = Instant::now();
        let which = scimitar::queue::restore::Which::Batch(batch.id().to_string());
        let plan = scimitar::queue::restore::plan_with(&c, &j, &which, Default::default()).await.unwrap();
        let plan_ms = ms(t.elapsed());
        assert_eq!(plan.diff.len(), n, "{:?}", plan.notes);
        let t = Instant::now();
        let d = scimitar::queue::gate(&forced, plan.actions, &plan.known);
        let gate_ms = ms(t.elapsed());
        let info = BatchInfo { origin: scimitar::queue::engine::RESTORE_ORIGIN.into(), policy_run: None, description: plan.what.clone() };
        let undo = scimitar::queue::submit(&j, &info, d).unwrap();
        let t = Instant::now();
        let r = engine.run_batch(&undo, None, Cancel::default()).await.unwrap();
        let run_s = t.elapsed().as_secs_f64();
        assert!(r.all_succeeded(), "{:?}", r.counts);
        let now = c.all_users(None).await.unwrap();
        let back = users.iter().filter(|u| now.iter().find(|x| x.id() == u.id()).is_some_and(|x| x.title == u.title)).count();
        assert_eq!(back, n, "every title is back");
        vec![
            ("undo_10k_batch_run_seconds".into(), batch_s),
            ("undo_10k_plan_ms".into(), plan_ms),
            ("undo_10k_gate_ms".into(), gate_ms),
            ("undo_10k_run_seconds".into(), run_s),
            ("undo_10k_peak_rss_mb_before_undo".into(), rss_before),
            ("undo_10k_peak_rss_mb".into(), peak_rss_mb()),
        ]
    })
}

/// Run one part in a child process of this program (its own peak RSS).
fn in_child(part: &str) -> Vec<(String, f64)> {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env("GUARDS_BENCH_PART", part)
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "part {part} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(": ")?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn main() {
    // `cargo bench` passes `--bench`; the parts run in children.
    match std::env::var("GUARDS_BENCH_PART").as_deref() {
        Ok("gate") => {
            for (k, v) in gate_part() {
                println!("{k}: {v}");
            }
            return;
        }
        Ok("undo") => {
            for (k, v) in undo_part() {
                println!("{k}: {v}");
            }
            return;
        }
        _ => {}
    }
    for part in ["gate", "undo"] {
        for (k, v) in in_child(part) {
            println!("{k}: {v:.1}");
        }
    }
}
