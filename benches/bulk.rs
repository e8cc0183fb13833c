//! `cargo bench --bench bulk`: 2,000 deactivations against the emulator with Slack's rate limits
//! on (scaled by BULK_SCALE, default 20, so the run takes seconds), measured side by side:
//!
//! - the queue engine using both rows of Slack's table (DELETE and PATCH),
//! - the queue engine using DELETE only,
//! - a plain sequential client: one request at a time, no pacing, honouring Retry-After.
//!
//! "best" is the fastest the table allows for the same batch: the bursts go at once, the rest at
//! the sustained rate (both rows: 2 x 180/min, burst 2 x 20; DELETE only: 180/min, burst 20).
//!
//! Then the engine (both rows) at each scale of BULK_SCALES (default `1,5,20`; `scale_S_*`
//! lines), with batches sized so the sustained rate dominates (scale 1, Slack's real rates: 400
//! ops, about a minute; scale 5: 1,000; scale 20: BULK_OPS), and once more at BULK_SCALE with a
//! second app writing half of both rows all along (`second_writer_*`): scimitar's 429s, the
//! other app's, and the writes both got through against the table's bound over the same span.
//! `*_write_span_seconds` is first to last write as the server saw them; the rest of
//! `*_seconds` is start-up (journal, profile) and the read-back of the last op.

#[path = "../tests/common/other_app.rs"]
mod other_app;

use scimitar::emulator::{Emulator, EmulatorConfig, RateLimitMode};
use scimitar::queue::{
    Action, BatchInfo, Cancel, DeactivateVia, Engine, EngineConfig, Journal, Knowledge, OpState, RunContext, Safety, Target,
};
use scimitar::scim::ratelimit::Endpoint;
use scimitar::scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret, User};
use std::sync::Arc;
use std::time::Instant;

async fn setup(n: usize, scale: f64) -> (Emulator, Vec<User>) {
    let (emu, mut users) = setup_with_spare(n + 100, scale).await;
    users.truncate(n);
    (emu, users)
}

/// `n` ordinary users (not the owner, not bots) of a fresh emulator, limits on afterwards.
async fn setup_with_spare(n: usize, scale: f64) -> (Emulator, Vec<User>) {
    let cfg = EmulatorConfig {
        users: n + 200,
        groups: 2,
        seed: 5,
        token: "xoxp-bench".into(),
        rate_limit: RateLimitMode::Off,
        ..Default::default()
    };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let c = client(&emu, None);
    let bots = emu.bot_ids();
    let owner = emu.primary_owner_id();
    let users: Vec<User> = c
        .all_users(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.is_active() && u.id() != owner && !bots.contains(&u.id().to_string()))
        .take(n)
        .collect();
    assert_eq!(users.len(), n);
    // Limits on only now, with full buckets, as for a quiet org.
    emu.set_rate_limit(RateLimitMode::Slack { scale });
    emu.reset_stats();
    (emu, users)
}

fn client(emu: &Emulator, scale: Option<f64>) -> ScimClient {
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = scale.map_or(RateLimit::Off, |scale| RateLimit::Slack { scale });
    cc.max_throttle_retries = 1000;
    ScimClient::new(cc).unwrap()
}

fn best_seconds(n: usize, rows: f64, scale: f64) -> f64 {
    let burst = 20.0 * scale * rows;
    let rate = 180.0 / 60.0 * scale * rows;
    (n as f64 - burst).max(0.0) / rate
}

/// What one engine run did, as the server saw it.
struct Run {
    secs: f64,
    r429: u64,
    failed: u64,
    /// First to last write arriving at the server.
    write_span: f64,
    /// Writes answered other than 429, per row (DELETE, PATCH).
    accepted: (u64, u64),
    readback_gets: u64,
    /// The longest time between two writes arriving, and when it began (seconds after the first).
    max_gap: (f64, f64),
}

async fn engine_run(n: usize, scale: f64, via: DeactivateVia) -> (f64, u64, u64) {
    let r = engine_run_with(n, scale, via, false).await;
    println!("engine_{via}_readback_gets: {}", r.readback_gets);
    (r.secs, r.r429, r.failed)
}

async fn engine_run_with(n: usize, scale: f64, via: DeactivateVia, second_writer: bool) -> Run {
    let (emu, mut users) = setup_with_spare(n + 100, scale).await;
    let others: Vec<String> = users.split_off(n).into_iter().map(|u| u.id().to_string()).collect();
    let dir = tempfile::tempdir().unwrap();
    let j = Arc::new(
        Journal::open(&dir.path().join("bench.db"), RunContext::new("bench", "127.0.0.1", &scimitar::env::Actor::default())).unwrap(),
    );
    let actions: Vec<Action> = users.iter().map(|u| Action::Deactivate { target: Target::of_user(u) }).collect();
    let decision = scimitar::queue::gate(&Safety { force: true, ..Default::default() }, actions, &Knowledge::from_users(&users));
    let batch = scimitar::queue::submit(&j, &BatchInfo { origin: "bench".into(), policy_run: None, description: "bench".into() }, decision)
        .unwrap();
    // The other app: half of the DELETE row and half of the PATCH row (3/s per row at scale 1).
    // It has just spent both rows' bursts when the batch starts.
    let other = match second_writer {
        true => {
            Some(other_app::OtherApp::start(&emu.base_url(ApiVersion::V2), emu.token(), others, 3.0 * scale, (40.0 * scale) as u64).await)
        }
        false => None,
    };
    // Every DELETE is read back (GET /Users/{id}, a read row): part of what is measured.
    let engine = Engine::new(client(&emu, Some(scale)), j, EngineConfig { workers: 32, deactivate_via: via, ..Default::default() });
    let t = Instant::now();
    let r = engine.run_batch(&batch, None, Cancel::default()).await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    let other = match other {
        Some(o) => Some(o.stop().await),
        None => None,
    };
    assert_eq!(r.count(OpState::Done) as usize, n, "{:?}", r.counts);
    let s = emu.stats();
    let writes: Vec<&(f64, Endpoint, u16)> = s.log.iter().filter(|(_, e, _)| e.is_write()).collect();
    let write_span = match (writes.first(), writes.last()) {
        (Some(a), Some(b)) => b.0 - a.0,
        _ => 0.0,
    };
    let max_gap = writes.windows(2).map(|w| (w[1].0 - w[0].0, w[0].0 - writes[0].0)).fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a });
    if std::env::var_os("BULK_TRACE").is_some() {
        // Per second of the run: DELETEs, PATCHes, GETs arriving (and 429s).
        let t0 = s.log.first().map_or(0.0, |x| x.0);
        let mut secs: Vec<[u64; 4]> = Vec::new();
        for (t, e, st) in &s.log {
            let i = (t - t0) as usize;
            if secs.len() <= i {
                secs.resize(i + 1, [0; 4]);
            }
            let col = match e {
                Endpoint::DeleteUser => 0,
                Endpoint::UpdateUser => 1,
                Endpoint::GetUser => 2,
                _ => continue,
            };
            secs[i][col] += 1;
            if *st == 429 {
                secs[i][3] += 1;
            }
        }
        for (i, c) in secs.iter().enumerate() {
            eprintln!("trace t={i:>3} delete={} patch={} get={} r429={}", c[0], c[1], c[2], c[3]);
        }
    }
    let ok = |e: Endpoint| writes.iter().filter(|(_, w, st)| *w == e && *st != 429).count() as u64;
    let accepted = (ok(Endpoint::DeleteUser), ok(Endpoint::UpdateUser));
    let mut r429 = s.rate_limited;
    if let Some((sent, throttled)) = other {
        let mine = r429.saturating_sub(throttled);
        println!("second_writer_other_sent: {sent}");
        println!("second_writer_other_429s: {throttled}");
        println!("second_writer_scimitar_429s: {mine}");
        r429 = mine;
    }
    Run { secs, r429, failed: r.count(OpState::Failed), write_span, accepted, readback_gets: s.method("GET"), max_gap }
}

async fn sequential_run(n: usize, scale: f64) -> (f64, u64) {
    let (emu, users) = setup(n, scale).await;
    let c = client(&emu, None);
    let t = Instant::now();
    for u in &users {
        c.deactivate(u.id()).await.unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    (secs, emu.stats().rate_limited)
}

fn main() {
    let n: usize = std::env::var("BULK_OPS").ok().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let scale: f64 = std::env::var("BULK_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(20.0);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        println!("ops: {n}");
        println!("rate_scale: {scale}");
        let best_both = best_seconds(n, 2.0, scale);
        let best_delete = best_seconds(n, 1.0, scale);
        println!("best_seconds_both_rows: {best_both:.2}");
        println!("best_seconds_delete_only: {best_delete:.2}");
        // BULK_ONLY_SCALES=1: only the per-scale runs (diagnosis; the other lines are left out).
        let only_scales = std::env::var_os("BULK_ONLY_SCALES").is_some();

        if !only_scales {
            let (secs, r429, failed) = engine_run(n, scale, DeactivateVia::Both).await;
            println!("engine_both_seconds: {secs:.2}");
            println!("engine_both_rate_per_s: {:.1}", n as f64 / secs);
            println!("engine_both_fraction_of_best: {:.3}", best_both / secs);
            println!("engine_both_429s: {r429}");
            println!("engine_both_failed: {failed}");

            let (secs_d, r429_d, _) = engine_run(n, scale, DeactivateVia::Delete).await;
            println!("engine_delete_seconds: {secs_d:.2}");
            println!("engine_delete_fraction_of_best_delete_only: {:.3}", best_delete / secs_d);
            println!("engine_delete_429s: {r429_d}");

            let (secs_s, r429_s) = sequential_run(n, scale).await;
            println!("sequential_seconds: {secs_s:.2}");
            println!("sequential_rate_per_s: {:.1}", n as f64 / secs_s);
            println!("sequential_429s: {r429_s}");
            println!("speedup_engine_both_vs_sequential: {:.2}", secs_s / secs);
        }

        let scales = std::env::var("BULK_SCALES").unwrap_or_else(|_| "1,5,20".into());
        for sc in scales.split(',').filter_map(|s| s.trim().parse::<f64>().ok()) {
            let ops = if sc <= 1.0 {
                400
            } else if sc <= 5.0 {
                1000
            } else {
                n
            };
            let r = engine_run_with(ops, sc, DeactivateVia::Both, false).await;
            let best = best_seconds(ops, 2.0, sc);
            let tag = format!("scale_{sc}");
            println!("{tag}_ops: {ops}");
            println!("{tag}_best_seconds: {best:.2}");
            println!("{tag}_engine_both_seconds: {:.2}", r.secs);
            println!("{tag}_engine_both_write_span_seconds: {:.2}", r.write_span);
            println!("{tag}_engine_both_max_write_gap_seconds: {:.2}", r.max_gap.0);
            println!("{tag}_engine_both_max_write_gap_at_seconds: {:.2}", r.max_gap.1);
            println!("{tag}_engine_both_readback_gets: {}", r.readback_gets);
            println!("{tag}_engine_both_accepted_delete_patch: {} {}", r.accepted.0, r.accepted.1);
            println!("{tag}_engine_both_fraction_of_best: {:.3}", best / r.secs);
            println!("{tag}_engine_both_429s: {}", r.r429);
            println!("{tag}_engine_both_failed: {}", r.failed);
        }

        if only_scales {
            return;
        }
        // A second app writing half of both rows all along.
        let r = engine_run_with(n, scale, DeactivateVia::Both, true).await;
        // The table's bound over the span, per row: its burst plus its rate for the span (both
        // apps' writes; the other app spent the bursts just before).
        let bound = 20.0 * scale + 3.0 * scale * r.write_span;
        let (del, patch) = r.accepted;
        println!("second_writer_scale: {scale}");
        println!("second_writer_engine_seconds: {:.2}", r.secs);
        println!("second_writer_engine_rate_per_s: {:.1}", n as f64 / r.secs);
        println!("second_writer_engine_failed: {}", r.failed);
        println!("second_writer_delete_row_accepted_fraction_of_table: {:.3}", del as f64 / bound);
        println!("second_writer_patch_row_accepted_fraction_of_table: {:.3}", patch as f64 / bound);
    });
}
