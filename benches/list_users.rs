//! `cargo bench --bench list_users`: list 100,000 users from the emulator (rate limits off) and
//! report users per second and the client's peak RSS. The emulator runs as a separate process
//! (the real binary) so the RSS printed is the client's alone.
//!
//! `LIST_BENCH_USERS` changes the user count.

use futures::TryStreamExt;
use scimitar::scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret, User};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

fn peak_rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let n: usize = std::env::var("LIST_BENCH_USERS").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let token = "xoxp-bench-token";
    let mut emu = Command::new(env!("CARGO_BIN_EXE_scimitar"))
        .args(["emulator", "--listen", "127.0.0.1:0", "--users", &n.to_string(), "--groups", "10", "--token", token])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the emulator");
    let mut lines = BufReader::new(emu.stdout.take().unwrap()).lines();
    let url = lines.next().expect("emulator prints its URL").unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let rss_before = peak_rss_mb();
    rt.block_on(async {
        let make = |concurrency: usize| {
            let mut cc = ClientConfig::new(&url, Secret::new(token), ApiVersion::V2).unwrap();
            cc.rate_limit = RateLimit::Off;
            cc.list_concurrency = concurrency;
            ScimClient::new(cc).unwrap()
        };
        // Warm-up: the emulator caches each user's JSON on first read.
        let warm: Vec<User> = make(4).list_users(None, 1000).try_collect().await.unwrap();
        assert_eq!(warm.len(), n);
        drop(warm);
        for (name, conc) in [("sequential", 1usize), ("concurrent4", 4)] {
            let c = make(conc);
            let t = Instant::now();
            let users: Vec<User> = c.list_users(None, 1000).try_collect().await.unwrap();
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(users.len(), n, "every user, once");
            println!("list_users_{name}_seconds: {secs:.3}");
            println!("list_users_{name}_per_s: {:.0}", n as f64 / secs);
            println!("list_users_{name}_requests: {}", c.stats().requests);
        }
    });
    println!("users: {n}");
    println!("client_rss_before_mb: {rss_before:.1}");
    println!("client_peak_rss_mb: {:.1}", peak_rss_mb());
    let _ = emu.kill();
    let _ = emu.wait();
}
