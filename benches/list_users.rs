//! `cargo bench --bench list_users`: list 100,000 users from the emulator (rate limits off) and
//! report users per second and the client's peak RSS. The emulator runs as a separate process
//! (the real binary) so the RSS printed is the client's alone.
//!
//! `LIST_BENCH_USERS` changes the user count.
//!
//! `list_users_streamed_*`: the listing as the headless commands consume it (page by page, each
//! dropped once handled), with the default in-flight window; the RSS line after it is the peak
//! so far (the collecting runs below raise it).
//!
//! Then the whole process: `scimitar users list -o csv|json|table`, `users export -o csv` and
//! `groups list` against the same emulator, wall time and peak RSS from `/usr/bin/time` (skipped
//! when it is missing). `LIST_BENCH_BEFORE_BIN=/path/to/old/scimitar` measures an older build the
//! same way, side by side (`before_cmd_*` lines).

use futures::{StreamExt, TryStreamExt};
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

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) start after the last ')'.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12].iter().filter_map(|&i| f.get(i)?.parse::<f64>().ok()).sum();
    ticks / 100.0
}

/// Read every captured page body `reps` times with `read`; users per second.
fn parse_rate<T>(bodies: &[Vec<u8>], reps: usize, read: impl Fn(&[u8]) -> Result<(u64, Vec<T>), String>) -> f64 {
    let t = Instant::now();
    let mut n = 0usize;
    for _ in 0..reps {
        for b in bodies {
            n += read(b).expect("the page reads").1.len();
        }
    }
    n as f64 / t.elapsed().as_secs_f64()
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
        let count = |c: ScimClient| async move {
            let mut pages = std::pin::pin!(c.user_pages(None, 1000));
            let mut seen = 0usize;
            while let Some(p) = pages.next().await {
                seen += p.unwrap().items.len();
            }
            seen
        };
        assert_eq!(count(make(4)).await, n);
        let c = make(scimitar::scim::client::DEFAULT_LIST_CONCURRENCY);
        let emu_pid = emu.id().to_string();
        let (emu_cpu, own_cpu) = (cpu_seconds(&emu_pid), cpu_seconds("self"));
        let t = Instant::now();
        assert_eq!(count(c.clone()).await, n, "every user, once");
        let secs = t.elapsed().as_secs_f64();
        println!("list_users_streamed_seconds: {secs:.3}");
        println!("list_users_streamed_per_s: {:.0}", n as f64 / secs);
        println!("list_users_streamed_requests: {}", c.stats().requests);
        println!("list_users_streamed_peak_rss_mb: {:.1}", peak_rss_mb());
        // Who spent the time: the emulator rendering pages, or this client reading them.
        println!("list_users_streamed_emulator_cpu_seconds: {:.3}", cpu_seconds(&emu_pid) - emu_cpu);
        println!("list_users_streamed_client_cpu_seconds: {:.3}", cpu_seconds("self") - own_cpu);
        // The listing the headless columns (`users list -o csv|table`) and the console read: a
        // summary of each user.
        let c = make(scimitar::scim::client::DEFAULT_LIST_CONCURRENCY);
        let t = Instant::now();
        let mut pages = std::pin::pin!(c.user_pages_of::<scimitar::scim::client::UserSummary>(None, 1000));
        let mut seen = 0usize;
        while let Some(p) = pages.next().await {
            seen += p.unwrap().items.len();
        }
        assert_eq!(seen, n, "every user, once");
        println!("list_users_streamed_summary_per_s: {:.0}", n as f64 / t.elapsed().as_secs_f64());
        // The client's reading alone, on page bodies captured from the emulator (no HTTP, no
        // server): the general path (a `Value` first, as before), the fast whole-user reader,
        // the summary reader.
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut bodies = Vec::new();
        for start in (1..=n.min(10_000)).step_by(1000) {
            let r = http.get(format!("{url}Users?startIndex={start}&count=1000")).bearer_auth(token).send().await.unwrap();
            bodies.push(r.bytes().await.unwrap().to_vec());
        }
        let reps = 3;
        use scimitar::scim::wire::{general_list, read_list};
        println!("client_parse_general_users_per_s: {:.0}", parse_rate(&bodies, reps, general_list::<User>));
        println!("client_parse_fast_users_per_s: {:.0}", parse_rate(&bodies, reps, read_list::<User>));
        println!("client_parse_summary_users_per_s: {:.0}", parse_rate(&bodies, reps, read_list::<scimitar::scim::client::UserSummary>));
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
    if std::path::Path::new("/usr/bin/time").exists() {
        let dir = tempfile::tempdir().unwrap();
        let mut bins = vec![("cmd", env!("CARGO_BIN_EXE_scimitar").to_string())];
        if let Ok(b) = std::env::var("LIST_BENCH_BEFORE_BIN") {
            bins.push(("before_cmd", b));
        }
        let cmds: [(&str, &[&str]); 6] = [
            ("users_list_csv", &["users", "list", "-o", "csv"]),
            ("users_list_json", &["users", "list", "-o", "json"]),
            ("users_list_table", &["users", "list"]),
            ("users_export_csv", &["users", "export", "-o", "csv"]),
            ("users_export_json", &["users", "export", "-o", "json"]),
            ("groups_list", &["groups", "list"]),
        ];
        for (name, args) in cmds {
            for (prefix, bin) in &bins {
                let o = Command::new("/usr/bin/time")
                    .args(["-f", "TIME %M %e"])
                    .arg(bin)
                    .args(args)
                    .env("SCIMITAR_URL", &url)
                    .env("SLACK_SCIM_TOKEN", token)
                    .env("SCIMITAR_CONFIG_DIR", dir.path())
                    .env("SCIMITAR_DATA_DIR", dir.path())
                    .env_remove("SCIMITAR_PROFILE")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .output()
                    .unwrap();
                let err = String::from_utf8_lossy(&o.stderr);
                let Some(line) = err.lines().rev().find(|l| l.starts_with("TIME ")) else { continue };
                let mut f = line.split_whitespace().skip(1);
                let kb: f64 = f.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
                let secs: f64 = f.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
                if !o.status.success() {
                    println!("{prefix}_{name}_failed: 1");
                    continue;
                }
                println!("{prefix}_{name}_seconds: {secs:.2}");
                println!("{prefix}_{name}_peak_rss_mb: {:.1}", kb / 1024.0);
            }
        }
    }
    let _ = emu.kill();
    let _ = emu.wait();
}
