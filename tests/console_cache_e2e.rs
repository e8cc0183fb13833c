//! The local directory cache, end to end: the real binary in a pseudo-terminal against the
//! emulator over real HTTP on 127.0.0.1. The first console run writes the cache (0600); the
//! next one shows the cached rows while its refresh is still waiting on the server; headless
//! `--cached` lookups read it; `cache clear` removes it; `--no-cache` writes none. No fixed
//! sleeps: every step polls with a deadline.

mod common;
use common::hostile::scimitar_in;
use common::pty::Session;
use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::scim::ApiVersion;
use std::path::Path;
use std::time::{Duration, Instant};

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The console against the emulator, with `dir` as config and data dir.
fn console(dir: &Path, url: &str, token: &str, extra: &[&str]) -> Session {
    let d = dir.to_str().unwrap();
    let mut args = vec!["--throttle", "off"];
    args.extend(extra);
    Session::start_env(
        &args,
        tempfile::tempdir().unwrap(),
        true,
        &[("SCIMITAR_URL", url), ("SLACK_SCIM_TOKEN", token), ("SCIMITAR_CONFIG_DIR", d), ("SCIMITAR_DATA_DIR", d)],
    )
}

fn emails(screen: &str) -> Vec<String> {
    screen.split(|c: char| c.is_whitespace() || c == '│').filter(|t| t.contains('@') && t.len() > 3).map(str::to_string).collect()
}

#[test]
fn the_console_caches_the_directory_and_opens_with_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let emu = rt.block_on(Emulator::start(EmulatorConfig { users: 300, ..Default::default() }, "127.0.0.1:0".parse().unwrap())).unwrap();
    let (url, token) = (emu.base_url(ApiVersion::V2), emu.token().to_string());
    let dir = tempfile::tempdir().unwrap();
    let cache = scimitar::directory::cache_path(dir.path(), "default");

    // First run: no cache yet; once loaded, the console writes one, owner-only.
    let mut s = console(dir.path(), &url, &token, &[]);
    let screen = s.wait_for("300 users loaded", |sc| sc.contains("users 300/300") && sc.contains("loaded 300 users"));
    assert!(!screen.contains("cached "), "{screen}");
    let seen = emails(&screen);
    assert!(seen.len() > 3, "{screen}");
    wait_until("the cache file", || cache.exists());
    s.type_keys("q");
    assert!(s.wait_exit().success());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(cache.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    }
    let (table, _) = scimitar::directory::UserTable::read_cache(&cache).unwrap();
    assert_eq!(table.len(), 300);

    // Second run, with the server now answering after 30 s: the cached rows are on screen while
    // the refresh is still waiting, and the title says they are cached.
    emu.set_latency(Duration::from_secs(30));
    let mut s = console(dir.path(), &url, &token, &[]);
    // (the whole frame: the title and the Log line are drawn in one frame, but the terminal may
    // be read between its top and its bottom)
    let screen =
        s.wait_for("the cached rows", |sc| sc.contains("Users 300 ") && sc.contains("cached ") && sc.contains("showing 300 cached users"));
    assert!(!screen.contains("refreshed"), "the refresh is still waiting on the server:\n{screen}");
    assert!(screen.contains(&seen[0]), "{} is shown from the cache:\n{screen}", seen[0]);
    s.type_keys("q");
    assert!(s.wait_exit().success());
    emu.set_latency(Duration::ZERO);

    // Headless lookups use the cache only when asked.
    let r = scimitar_in(dir.path(), "http://127.0.0.1:9/scim/v2/", &token, &["users", "find", "--cached", &seen[0], "-o", "json"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert!(r.stdout().contains("\"cached\":true") && r.stdout().contains(&seen[0]), "{}", r.stdout());
    assert!(r.stderr().contains("directory cache"), "{}", r.stderr());
    let r = scimitar_in(dir.path(), "http://127.0.0.1:9/scim/v2/", &token, &["users", "find", &seen[0]]);
    assert_ne!(r.code(), Some(0), "without --cached the lookup goes to the (dead) server: {}", r.stdout());

    // `cache clear` removes it.
    let r = scimitar_in(dir.path(), &url, &token, &["cache", "clear"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert!(r.stdout().contains("removed"), "{}", r.stdout());
    assert!(!cache.exists());
    let r = scimitar_in(dir.path(), &url, &token, &["users", "show", "--cached", &seen[0]]);
    assert_ne!(r.code(), Some(0));
    assert!(r.stderr().contains("no directory cache"), "{}", r.stderr());

    // `--no-cache`: a full load writes nothing.
    let mut s = console(dir.path(), &url, &token, &["--no-cache"]);
    s.wait_for("300 users loaded", |sc| sc.contains("users 300/300") && sc.contains("loaded 300 users"));
    s.type_keys("q");
    assert!(s.wait_exit().success());
    assert!(!cache.exists(), "--no-cache wrote a cache");
    assert!(!cache.parent().unwrap().exists() || std::fs::read_dir(cache.parent().unwrap()).unwrap().next().is_none());

    // `[ui] cache = false` in the config does the same.
    std::fs::write(dir.path().join("config.toml"), "[ui]\ncache = false\n").unwrap();
    let mut s = console(dir.path(), &url, &token, &[]);
    s.wait_for("300 users loaded", |sc| sc.contains("users 300/300") && sc.contains("loaded 300 users"));
    s.type_keys("q");
    assert!(s.wait_exit().success());
    assert!(!cache.exists(), "ui.cache = false wrote a cache");
    rt.block_on(emu.shutdown());
}
