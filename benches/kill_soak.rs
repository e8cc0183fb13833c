//! `cargo bench --bench kill_soak`: kill -9 in the middle of a 500-user deactivation, resume, and
//! check nothing was lost or done twice, 20 times over.
//!
//! One in-process emulator with Slack's rate limits on (scaled by KILL_SOAK_SCALE, default 8, so
//! 500 deactivations take a few seconds), one data directory for every round. Each round:
//!
//! 1. `scimitar users deactivate --from leavers.txt --yes --force` (the real binary) for the
//!    same 500 ordinary users;
//! 2. SIGKILL once the emulator has seen a random number (1..=499) of writes, after a random
//!    0-40 ms more;
//! 3. `scimitar resume --yes`;
//! 4. checks: every target inactive (read from the emulator); exactly one report record per user
//!    in the round's batch, each `done` (`scimitar report --batch B -o json`); `scimitar report
//!    verify` exits 0; the writes the emulator saw this round (POST, PUT, PATCH, DELETE, counted
//!    as they arrive, refused ones too; the read-back GETs are reads) are at most targets + kills;
//! 5. the 500 are reactivated directly through the client with the limits off (not journaled),
//!    and the limits go back on with full buckets.
//!
//! Prints `name: value` lines; the last is `rounds_passed: N/ROUNDS`. Exit status 1 when a round
//! failed. KILL_SOAK_ROUNDS (20), KILL_SOAK_USERS (500) and KILL_SOAK_SEED (random) change the
//! run; the seed is printed so a failing run can be repeated.

use rand::{Rng, SeedableRng};
use scimitar::emulator::{Emulator, EmulatorConfig, RateLimitMode};
use scimitar::report::interchange;
use scimitar::scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret, User};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn bin(emu: &Emulator, dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scimitar"));
    cmd.env("SCIMITAR_URL", emu.base_url(ApiVersion::V2))
        .env("SLACK_SCIM_TOKEN", emu.token())
        .env("SCIMITAR_DATA_DIR", dir)
        .env("SCIMITAR_CONFIG_DIR", dir)
        .env_remove("SCIMITAR_PROFILE")
        .stdin(Stdio::null());
    cmd
}

fn client(emu: &Emulator) -> ScimClient {
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    ScimClient::new(cc).unwrap()
}

/// Writes the emulator has seen since the last reset, and how many of them it answered 429.
fn writes(emu: &Emulator) -> (u64, u64) {
    let s = emu.stats();
    let refused = s.log.iter().filter(|(_, e, status)| e.is_write() && *status == 429).count() as u64;
    (s.writes(), refused)
}

fn inactive(emu: &Emulator, targets: &[User]) -> usize {
    let (users, _) = emu.snapshot();
    let state: HashMap<&str, bool> = users.iter().map(|u| (u.id(), u.is_active())).collect();
    targets.iter().filter(|t| state.get(t.id()) == Some(&false)).count()
}

/// The batch id a run or resume printed (`resuming batch B (`, or `batch B: N done` at the end).
fn batch_id(stderr: &str) -> Option<String> {
    for line in stderr.lines() {
        for marker in ["resuming batch ", "scimitar: batch "] {
            if let Some(rest) = line.split(marker).nth(1) {
                let id: String = rest.chars().take_while(|c| !c.is_whitespace() && *c != ':' && *c != '(').collect();
                if !id.is_empty() {
                    return Some(id);
                }
            }
        }
    }
    None
}

struct Round {
    killed: bool,
    at_kill: usize,
    writes: u64,
    refused: u64,
    problems: Vec<String>,
    seconds: f64,
}

async fn round(emu: &Emulator, dir: &Path, list: &Path, targets: &[User], scale: f64, rng: &mut impl Rng) -> Round {
    let n = targets.len();
    let t0 = Instant::now();
    let mut problems = Vec::new();
    let kill_at = rng.random_range(1..n as u64);
    let jitter = Duration::from_millis(rng.random_range(0..=40));
    let err_path = dir.join("deactivate.stderr");
    // Reaped in every path: `try_wait` returned its status, or it is killed and waited for.
    #[allow(clippy::zombie_processes)]
    let mut child = bin(emu, dir)
        .args(["users", "deactivate", "--from", list.to_str().unwrap(), "--yes", "--force", "-o", "json"])
        .args(["--throttle-scale", &scale.to_string()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut finished = None;
    while writes(emu).0 < kill_at {
        if let Some(status) = child.try_wait().unwrap() {
            finished = Some(status);
            break;
        }
        if Instant::now() > deadline {
            problems.push("the run never reached its kill point".into());
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    if finished.is_none() {
        tokio::time::sleep(jitter).await;
        finished = child.try_wait().unwrap();
    }
    let killed = finished.is_none();
    if killed {
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    } else if finished.is_some_and(|s| !s.success()) {
        problems.push(format!("the run ended by itself with {finished:?}"));
    }
    let at_kill = inactive(emu, targets);
    let run_err = std::fs::read_to_string(&err_path).unwrap_or_default();

    let out = bin(emu, dir).args(["resume", "--yes", "-o", "json", "--throttle-scale", &scale.to_string()]).output().unwrap();
    let resume_err = String::from_utf8_lossy(&out.stderr).to_string();
    if out.status.code() != Some(0) {
        problems.push(format!("resume exited {:?}: {}", out.status.code(), resume_err.trim()));
    }
    let batch = batch_id(&resume_err).or_else(|| batch_id(&run_err));

    let done = inactive(emu, targets);
    if done != n {
        problems.push(format!("{} of {n} targets still active", n - done));
    }
    match &batch {
        None => problems.push(format!("no batch id in the output: {}", resume_err.trim())),
        Some(b) => {
            let out = bin(emu, dir).args(["report", "--batch", b, "--limit", "0", "-o", "json"]).output().unwrap();
            if !out.status.success() {
                problems.push(format!("report --batch exited {:?}", out.status.code()));
            }
            let records = interchange::read_json_lines(out.stdout.as_slice()).unwrap_or_else(|e| {
                problems.push(format!("report output does not read back: {e}"));
                Vec::new()
            });
            let mut per_user: HashMap<String, Vec<String>> = HashMap::new();
            for r in &records {
                per_user.entry(r.record.target_id.clone().unwrap_or_default()).or_default().push(r.record.outcome.to_string());
            }
            let once_done = targets.iter().filter(|t| per_user.get(t.id()).is_some_and(|o| o.len() == 1 && o[0] == "done")).count();
            if once_done != n || records.len() != n {
                let twice = per_user.values().filter(|o| o.len() > 1).count();
                problems.push(format!(
                    "batch {b}: {} records for {} users; {once_done} users recorded once as done, {twice} more than once",
                    records.len(),
                    per_user.len()
                ));
            }
        }
    }
    let verify = bin(emu, dir).args(["report", "verify"]).output().unwrap();
    if verify.status.code() != Some(0) {
        problems.push(format!("report verify exited {:?}: {}", verify.status.code(), String::from_utf8_lossy(&verify.stdout).trim()));
    }
    let (w, refused) = writes(emu);
    if w > n as u64 + u64::from(killed) {
        problems.push(format!(
            "{w} writes reached the emulator for {n} targets and {} kill ({refused} of them answered 429)",
            u64::from(killed)
        ));
    }
    Round { killed, at_kill, writes: w, refused, problems, seconds: t0.elapsed().as_secs_f64() }
}

/// Reactivate the targets with the limits off (not through scimitar: nothing journaled), then
/// turn the limits back on with full buckets and clear the counters.
async fn reset(emu: &Emulator, c: &ScimClient, targets: &[User], scale: f64) {
    use futures::StreamExt;
    emu.set_rate_limit(RateLimitMode::Off);
    let results: Vec<_> = futures::stream::iter(targets.iter().map(|u| c.set_active(u.id(), true))).buffer_unordered(16).collect().await;
    for r in results {
        r.expect("reactivation");
    }
    emu.set_rate_limit(RateLimitMode::Slack { scale });
    emu.reset_stats();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = env_or("KILL_SOAK_ROUNDS", 20);
    let n: usize = env_or("KILL_SOAK_USERS", 500);
    let scale: f64 = env_or("KILL_SOAK_SCALE", 8.0);
    let seed: u64 = env_or("KILL_SOAK_SEED", rand::rng().random());
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let cfg = EmulatorConfig {
        users: n + 100,
        groups: 3,
        seed: 17,
        token: "xoxp-kill-soak".into(),
        rate_limit: RateLimitMode::Off,
        ..Default::default()
    };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let c = client(&emu);
    let (bots, owner) = (emu.bot_ids(), emu.primary_owner_id());
    let targets: Vec<User> = c
        .all_users(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.is_active() && u.id() != owner && !bots.contains(&u.id().to_string()))
        .take(n)
        .collect();
    assert_eq!(targets.len(), n, "the emulator has enough ordinary users");
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("leavers.txt");
    std::fs::write(&list, targets.iter().map(|u| u.primary_email().unwrap().to_string() + "\n").collect::<String>()).unwrap();
    emu.set_rate_limit(RateLimitMode::Slack { scale });
    emu.reset_stats();

    println!("seed: {seed}");
    println!("rounds: {rounds}");
    println!("targets_per_round: {n}");
    println!("rate_scale: {scale}");
    let t0 = Instant::now();
    let (mut passed, mut kills, mut max_extra, mut total_writes, mut total_refused) = (0, 0u64, 0i64, 0u64, 0u64);
    let mut at_kill = Vec::new();
    for r in 1..=rounds {
        let res = round(&emu, dir.path(), &list, &targets, scale, &mut rng).await;
        kills += u64::from(res.killed);
        max_extra = max_extra.max(res.writes as i64 - n as i64);
        total_writes += res.writes;
        total_refused += res.refused;
        if res.killed {
            at_kill.push(res.at_kill);
        }
        println!(
            "round_{r:02}: {} at {} of {n} deactivated, {} writes ({} answered 429), {:.1}s{}",
            if res.killed { "killed" } else { "finished before the kill" },
            res.at_kill,
            res.writes,
            res.refused,
            res.seconds,
            if res.problems.is_empty() { String::new() } else { format!(", FAILED: {}", res.problems.join("; ")) }
        );
        passed += usize::from(res.problems.is_empty());
        reset(&emu, &c, &targets, scale).await;
    }
    at_kill.sort_unstable();
    println!("kills: {kills}");
    println!("deactivated_at_kill_min: {}", at_kill.first().copied().unwrap_or(0));
    println!("deactivated_at_kill_median: {}", at_kill.get(at_kill.len() / 2).copied().unwrap_or(0));
    println!("deactivated_at_kill_max: {}", at_kill.last().copied().unwrap_or(0));
    println!("writes_total: {total_writes}");
    println!("writes_limit_total: {}", (n * rounds) as u64 + kills);
    println!("writes_answered_429_total: {total_refused}");
    println!("max_extra_writes_per_round: {max_extra}");
    println!("seconds: {:.1}", t0.elapsed().as_secs_f64());
    println!("rounds_passed: {passed}/{rounds}");
    if passed != rounds {
        std::process::exit(1);
    }
}
