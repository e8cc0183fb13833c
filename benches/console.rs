//! Console benchmark: 100,000 users loaded into the real `App`, rendered with ratatui's
//! TestBackend at 200x50. Prints `name: value` lines.
//!
//!     cargo bench --bench console
//!
//! - start_to_first_frame_ms: App::new (themes included) + the first 200x50 frame, before any
//!   user has arrived (what the console does before its first request).
//! - load_100k_users_ms: ingesting 100 pages of 1,000 users (row cache + search keys).
//! - filter_keystroke_{median,p99,max}_ms: a key event through `App::update` (filter + lookup
//!   decision) plus the finished 200x50 frame, over typed queries and backspaces.
//! - field_filter_keystroke_{median,p99}_ms: the same with `field:value` terms
//!   (`dept:eng title:engineer active:true`, `manager:maria`, ...), typed and taken back.
//! - frame_render_200x50_{median,p99}_ms: drawing one frame with nothing changed in between.
//! - process_start_to_first_frame_ms: the release binary spawned in a 200x50 pseudo-terminal
//!   against the emulator on loopback, until the pane bar is on the screen (median of 5).
//! - peak_rss_mb: VmHWM of the whole process (users are generated page by page, as they would
//!   arrive from the network, and each page becomes compact rows as the console's worker does).
//! - console_1m_*: the same at 1,000,000 users, in a child process of its own (its own peak RSS):
//!   console_1m_load_users_ms, console_1m_filter_keystroke_{median,p99}_ms, console_1m_peak_rss_mb.
//! - latency_*: the release binary in a 200x50 pseudo-terminal against an emulator holding 100,000
//!   users that answers each request after 400 ms (`--latency-ms 400`): latency_cold_all_rows_ms
//!   (no cache: until the title reads `Users 100,000` and nothing is loading),
//!   latency_cached_all_rows_ms (second start, with the cache the first one wrote: until all rows
//!   are on screen) and latency_cached_fresh_ms (until the refresh from Slack replaced them);
//!   latency_{cold,cached}_peak_rss_mb: the console's peak RSS in each run.
//!
//! - demo_100k_*: `scimitar demo --users 100000` in a 200x50 PTY: demo_100k_first_frame_ms (the
//!   pane bar), demo_100k_first_rows_ms (a user row on screen), demo_100k_all_rows_ms (the title
//!   reads `Users 100,000` and nothing loads), demo_100k_peak_rss_mb (console and emulator, one
//!   process, when all rows are shown).
//!
//! `CONSOLE_BENCH_USERS=N` runs only the in-process part at N users; `CONSOLE_BENCH_BIN=PATH` runs
//! only the PTY parts, with another build of the binary (for a before/after).
//!
//! Before and after in one run: `CONSOLE_BENCH_BEFORE=PATH` (the bench binary of an earlier
//! commit) and `CONSOLE_BENCH_BEFORE_BIN=PATH` (its scimitar) run the in-process parts (100k and
//! 1M) and the demo of both builds alternately, `CONSOLE_BENCH_ROUNDS` times (default 2), and
//! print `compare_<name>: before MIN..MAX after MIN..MAX ratio R` (R: the medians' ratio).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use scimitar::scim::types::{EnterpriseUser, Manager, Meta, ProfileExt};
use scimitar::scim::{MultiValue, Name, User};
use scimitar_console::app::{App, Msg};
use scimitar_console::directory::UserTable;
use scimitar_console::render::render;
use scimitar_console::theme::{Theme, ThemeSet};
use std::time::{Duration, Instant};

const USERS: usize = 100_000;
const MILLION: usize = 1_000_000;
const FIRST: &[&str] = &[
    "Jennifer", "Michael", "Sarah", "David", "Priya", "Wei", "Olga", "Carlos", "Aisha", "Kenji", "Maria", "James", "Fatima", "Lars",
    "Chloe", "Mateo", "Hana", "Noah", "Zoe", "Ravi",
];
const LAST: &[&str] = &[
    "Morales", "Smith", "Nguyen", "Okafor", "Tanaka", "Berg", "Kowalski", "Garcia", "Haddad", "Chen", "Johnson", "Silva", "Ivanova",
    "Patel", "Dubois", "Rossi", "Kim", "Brown", "Novak", "Mensah", "Lopez", "Fischer",
];
const TITLES: &[&str] = &["Engineer", "Staff Engineer", "Designer", "Recruiter", "Account Executive", "Data Scientist"];
const DEPTS: &[&str] = &["Engineering", "Sales", "Support", "Finance", "People", "Marketing", "Security"];

fn user(i: usize, n: usize) -> User {
    let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5bd1e995;
    let mut next = |n: usize| {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 29;
        (x % n as u64) as usize
    };
    let first = FIRST[next(FIRST.len())];
    let last = LAST[next(LAST.len())];
    let handle = format!("{}.{}{}", first.to_lowercase(), last.to_lowercase(), i);
    User {
        id: Some(format!("W{:010}", i)),
        user_name: Some(handle.clone()),
        display_name: Some(format!("{first} {last}")),
        name: Some(Name { given_name: Some(first.into()), family_name: Some(last.into()), ..Default::default() }),
        title: Some(TITLES[next(TITLES.len())].into()),
        emails: Some(vec![MultiValue::email(format!("{handle}@acme-corp.example"), true)]),
        active: Some(next(10) != 0),
        timezone: Some("Europe/Berlin".into()),
        locale: Some("en-US".into()),
        meta: Some(Meta { created: Some("2022-03-04T05:06:07+00:00".into()), ..Default::default() }),
        enterprise: Some(EnterpriseUser {
            department: Some(DEPTS[next(DEPTS.len())].into()),
            employee_number: Some(format!("E{i:06}")),
            cost_center: Some(format!("CC-{}", next(400))),
            organization: Some("Acme Corp".into()),
            manager: Some(Manager { manager_id: Some(format!("W{:010}", next(n))), ..Default::default() }),
            ..Default::default()
        }),
        profile: Some(ProfileExt { start_date: Some("2020-01-01T00:00:00+0000".into()) }),
        ..Default::default()
    }
}

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

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    ms(v[i])
}

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

/// Spawn the real binary in a PTY against an emulator; time until its first frame is on screen.
fn process_first_frame() -> Result<f64, String> {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    use scimitar::emulator::{Emulator, EmulatorConfig};
    use scimitar::scim::ApiVersion;
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let emu = rt
        .block_on(Emulator::start(EmulatorConfig { users: 100, ..Default::default() }, "127.0.0.1:0".parse().unwrap()))
        .map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut times = Vec::new();
    for _ in 0..5 {
        let pair =
            native_pty_system().openpty(PtySize { rows: 50, cols: 200, pixel_width: 0, pixel_height: 0 }).map_err(|e| e.to_string())?;
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_scimitar"));
        cmd.args(["--throttle", "off"]);
        cmd.env("TERM", "xterm-256color");
        cmd.env("SCIMITAR_URL", emu.base_url(ApiVersion::V2));
        cmd.env("SLACK_SCIM_TOKEN", emu.token());
        cmd.env("SCIMITAR_CONFIG_DIR", dir.path());
        cmd.env("SCIMITAR_DATA_DIR", dir.path());
        let seen = Arc::new(Mutex::new(None::<Instant>));
        let t0 = Instant::now();
        let mut child = pair.slave.spawn_command(cmd).map_err(|e| e.to_string())?;
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().map_err(|e| e.to_string())?;
        let mut writer = pair.master.take_writer().map_err(|e| e.to_string())?;
        let seen2 = seen.clone();
        let th = std::thread::spawn(move || {
            let mut p = vt100::Parser::new(50, 200, 0);
            let mut buf = [0u8; 16384];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                p.process(&buf[..n]);
                let mut s = seen2.lock().unwrap();
                if s.is_none() && p.screen().contents().contains("4 Reports") {
                    *s = Some(Instant::now());
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.lock().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(500));
        }
        let first = seen.lock().unwrap().ok_or("no first frame within 10 s")?;
        times.push(first - t0);
        let _ = writer.write_all(b"q");
        let _ = writer.flush();
        std::thread::sleep(Duration::from_millis(50));
        let _ = writer.write_all(b"q");
        let _ = writer.flush();
        let _ = child.wait();
        drop(pair.master);
        drop(writer);
        let _ = th.join();
    }
    rt.block_on(emu.shutdown());
    Ok(pct(&mut times, 0.5))
}

/// Start the release binary in a 200x50 PTY against `url`; return the times (from spawn) at which
/// each of `marks` first held on the screen, then quit with `q` (after `wait_file` exists); and
/// the console's peak RSS (VmHWM, MB) just before it quit.
fn pty_times(
    args: &[&str],
    envs: &[(&str, &str)],
    dir: &std::path::Path,
    marks: &[&(dyn Fn(&str) -> bool + Sync)],
    wait_file: Option<&std::path::Path>,
) -> Result<(Vec<f64>, f64), String> {
    pty_times_with(std::env::var_os("CONSOLE_BENCH_BIN").as_deref(), args, envs, dir, marks, wait_file)
}

/// [`pty_times`] with this binary (`None`: this build's).
fn pty_times_with(
    bin: Option<&std::ffi::OsStr>,
    args: &[&str],
    envs: &[(&str, &str)],
    dir: &std::path::Path,
    marks: &[&(dyn Fn(&str) -> bool + Sync)],
    wait_file: Option<&std::path::Path>,
) -> Result<(Vec<f64>, f64), String> {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    let pair = native_pty_system().openpty(PtySize { rows: 50, cols: 200, pixel_width: 0, pixel_height: 0 }).map_err(|e| e.to_string())?;
    // Another build of the binary (an earlier commit's, for a before/after), or this one.
    let bin = bin.map(std::ffi::OsStr::to_os_string).unwrap_or_else(|| env!("CARGO_BIN_EXE_scimitar").into());
    let mut cmd = CommandBuilder::new(bin);
    cmd.args(args);
    cmd.env("TERM", "xterm-256color");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.env("SCIMITAR_CONFIG_DIR", dir);
    let screen = Arc::new(Mutex::new(String::new()));
    let t0 = Instant::now();
    let mut child = pair.slave.spawn_command(cmd).map_err(|e| e.to_string())?;
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().map_err(|e| e.to_string())?;
    let mut writer = pair.master.take_writer().map_err(|e| e.to_string())?;
    let seen: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; marks.len()]));
    let (seen2, screen2) = (seen.clone(), screen.clone());
    let marks: Vec<&(dyn Fn(&str) -> bool + Sync)> = marks.to_vec();
    std::thread::scope(|scope| {
        let th = scope.spawn(move || {
            let mut p = vt100::Parser::new(50, 200, 0);
            let mut buf = [0u8; 65536];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                p.process(&buf[..n]);
                let now = Instant::now();
                let sc = p.screen().contents();
                let mut s = seen2.lock().unwrap();
                for (m, slot) in marks.iter().zip(s.iter_mut()) {
                    if slot.is_none() && m(&sc) {
                        *slot = Some(now);
                    }
                }
                *screen2.lock().unwrap() = sc;
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        while seen.lock().unwrap().iter().any(Option::is_none) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if let Some(f) = wait_file {
            let deadline = Instant::now() + Duration::from_secs(20);
            while !f.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let last = screen.lock().unwrap().clone();
        let rss = child
            .process_id()
            .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
            .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
            .map_or(0.0, |kb| kb / 1024.0);
        let _ = writer.write_all(b"q");
        let _ = writer.flush();
        std::thread::sleep(Duration::from_millis(50));
        let _ = writer.write_all(b"q");
        let _ = writer.flush();
        let _ = child.wait();
        drop(writer);
        drop(pair.master);
        let _ = th.join();
        let s = seen.lock().unwrap();
        let times = s
            .iter()
            .map(|t| t.map(|t| ms(t - t0)))
            .collect::<Option<Vec<f64>>>()
            .ok_or_else(|| format!("not every mark was seen within 60 s; the screen:\n{last}"))?;
        Ok((times, rss))
    })
}

/// `scimitar demo --users 100000`: times until the first frame (the pane bar), the first user
/// row and all rows are on screen, and the process's peak RSS then.
fn demo_run(bin: Option<&std::ffi::OsStr>) -> Result<Vec<(&'static str, f64)>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let bar = |s: &str| s.contains("4 Reports");
    // A row: a user's email in the table.
    let row = |s: &str| s.lines().any(|l| l.contains('@') && (l.contains(" yes ") || l.contains(" no ")));
    // Every row: the title and the status line say 100,000 and the Log says they are (re)loaded.
    let all = |s: &str| s.contains("Users 100,000") && s.contains("users 100,000/100,000") && s.contains("loaded 100,000 users");
    let (t, rss) = pty_times_with(bin, &["demo", "--users", "100000", "--no-rate-limit"], &[], dir.path(), &[&bar, &row, &all], None)?;
    Ok(vec![
        ("demo_100k_first_frame_ms", t[0]),
        ("demo_100k_first_rows_ms", t[1]),
        ("demo_100k_all_rows_ms", t[2]),
        ("demo_100k_peak_rss_mb", rss),
    ])
}

/// Time until all 100,000 rows are on screen with 400 ms per request: cold, then cached.
fn latency_run() -> Result<Vec<(&'static str, f64)>, String> {
    use scimitar::emulator::{Emulator, EmulatorConfig};
    use scimitar::scim::ApiVersion;
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let emu = rt
        .block_on(Emulator::start(
            EmulatorConfig { users: USERS, latency: Duration::from_millis(400), ..Default::default() },
            "127.0.0.1:0".parse().unwrap(),
        ))
        .map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (url, token) = (emu.base_url(ApiVersion::V2), emu.token().to_string());
    let all = |s: &str| s.contains("Users 100,000 ") && !s.contains("loading");
    let shown = |s: &str| s.contains("Users 100,000 ");
    let fresh = |s: &str| s.contains("refreshed 100,000 users from Slack");
    let cache = scimitar::directory::cache_path(dir.path(), "default");
    let d = dir.path().to_string_lossy().to_string();
    let envs = [("SCIMITAR_URL", url.as_str()), ("SLACK_SCIM_TOKEN", token.as_str()), ("SCIMITAR_DATA_DIR", d.as_str())];
    let (cold, cold_rss) = pty_times(&["--throttle", "off"], &envs, dir.path(), &[&all], Some(&cache))?;
    if !cache.exists() {
        eprintln!("latency: the cold run wrote no cache at {}; no cached run", cache.display());
        rt.block_on(emu.shutdown());
        return Ok(vec![("latency_cold_all_rows_ms", cold[0]), ("latency_cold_peak_rss_mb", cold_rss)]);
    }
    let (warm, warm_rss) = pty_times(&["--throttle", "off"], &envs, dir.path(), &[&shown, &fresh], None)?;
    rt.block_on(emu.shutdown());
    Ok(vec![
        ("latency_cold_all_rows_ms", cold[0]),
        ("latency_cached_all_rows_ms", warm[0]),
        ("latency_cached_fresh_ms", warm[1]),
        ("latency_cold_peak_rss_mb", cold_rss),
        ("latency_cached_peak_rss_mb", warm_rss),
    ])
}

/// The in-process part at `n` users. Returns `name: value` lines.
fn in_process(n: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    // Start to first frame.
    let t0 = Instant::now();
    let mut app = App::new("api.slack.com", "SCIM v2.0", ThemeSet::builtin(), Theme::default());
    app.update(Msg::Resize(200, 50));
    let _ = app.start();
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    term.draw(|f| render(&app, f)).unwrap();
    let first_frame = t0.elapsed();

    // Load the pages, each converted to compact rows as the console's worker does.
    let t = Instant::now();
    for p in 0..n / 1000 {
        let page: Vec<User> = (p * 1000..(p + 1) * 1000).map(|i| user(i, n)).collect();
        let items = UserTable::from_users(&page);
        drop(page);
        app.update(Msg::UsersPage { generation: 1, items, total: n as u64 });
    }
    app.update(Msg::UsersDone { generation: 1, error: None });
    // Generating the users is part of the loop above; time it alone and subtract it.
    let gen_t = Instant::now();
    for p in 0..n / 1000 {
        let items: Vec<User> = (p * 1000..(p + 1) * 1000).map(|i| user(i, n)).collect();
        std::hint::black_box(items);
    }
    let gen_cost = gen_t.elapsed();
    let load = t.elapsed().saturating_sub(gen_cost);
    assert_eq!(app.dir.store.len(), n);
    let rss_loaded = peak_rss_mb();
    term.draw(|f| render(&app, f)).unwrap();
    // Frame render with nothing changed.
    let mut frames = Vec::new();
    for i in 0..300 {
        // Alternate the selection so the frame is not a no-op diff.
        app.update(key(if i % 2 == 0 { KeyCode::Char('j') } else { KeyCode::Char('k') }));
        let t = Instant::now();
        term.draw(|f| render(&app, f)).unwrap();
        frames.push(t.elapsed());
    }

    // Keystroke to finished frame, over typed queries and backspaces.
    app.update(key(KeyCode::Char('/')));
    let queries = [
        "jennifer.mo",
        "acme",
        "ravi.patel1",
        "zoe",
        "w00000",
        "kenji.tan",
        "@acme-corp.ex",
        "lopez99",
        "olga.iv",
        "carlos.garcia12",
        "smith",
        "hana.ber",
        "fatima.haddad7",
    ];
    let mut keys = Vec::new();
    for q in queries {
        for c in q.chars() {
            keys.push(KeyCode::Char(c));
        }
        for _ in 0..q.chars().count() {
            keys.push(KeyCode::Backspace);
        }
    }
    let mut lat = Vec::with_capacity(keys.len());
    // CONSOLE_BENCH_TRACE=1: each keystroke's time and the query after it, on stderr.
    let trace = std::env::var_os("CONSOLE_BENCH_TRACE").is_some();
    for k in keys {
        let t = Instant::now();
        let fx = app.update(key(k));
        std::hint::black_box(fx);
        term.draw(|f| render(&app, f)).unwrap();
        lat.push(t.elapsed());
        if trace {
            let v = &app.pane::<scimitar_console::users::UsersPane>().view;
            eprintln!("key {:>8.3} ms {:>8} rows  {:?}", ms(t.elapsed()), v.filtered.len(), v.query());
        }
    }

    // The same with `field:value` terms (issue 12): typed, then taken back, key by key.
    for _ in 0..200 {
        app.update(key(KeyCode::Backspace));
    }
    let field_queries =
        ["dept:eng title:engineer active:true", "title:staff dept:sec", "manager:maria active:false", "guest:false id:w00000"];
    let mut keys = Vec::new();
    for q in field_queries {
        for c in q.chars() {
            keys.push(KeyCode::Char(c));
        }
        for _ in 0..q.chars().count() {
            keys.push(KeyCode::Backspace);
        }
    }
    let mut field_lat = Vec::with_capacity(keys.len());
    let mut matched = 0;
    for k in keys {
        let t = Instant::now();
        let fx = app.update(key(k));
        std::hint::black_box(fx);
        term.draw(|f| render(&app, f)).unwrap();
        field_lat.push(t.elapsed());
        if trace {
            let v = &app.pane::<scimitar_console::users::UsersPane>().view;
            eprintln!("field {:>8.3} ms {:>8} rows  {:?}", ms(t.elapsed()), v.filtered.len(), v.query());
        }
        if k == KeyCode::Char('e') {
            matched = matched.max(app.pane::<scimitar_console::users::UsersPane>().view.filtered.len());
        }
    }
    assert!(matched > 0, "the field queries match someone");
    let rss_filtered = peak_rss_mb();

    // Sorting by a column once everything is loaded.
    app.update(key(KeyCode::Esc));
    let t = Instant::now();
    app.update(key(KeyCode::Char('s')));
    term.draw(|f| render(&app, f)).unwrap();
    let sort = t.elapsed();

    out.push(("users".into(), n.to_string()));
    out.push(("start_to_first_frame_ms".into(), format!("{:.3}", ms(first_frame))));
    out.push(("load_users_ms".into(), format!("{:.1}", ms(load))));
    out.push(("filter_keystrokes".into(), lat.len().to_string()));
    out.push(("filter_keystroke_median_ms".into(), format!("{:.3}", pct(&mut lat, 0.5))));
    out.push(("filter_keystroke_p99_ms".into(), format!("{:.3}", pct(&mut lat, 0.99))));
    out.push(("filter_keystroke_max_ms".into(), format!("{:.3}", pct(&mut lat, 1.0))));
    out.push(("field_filter_keystrokes".into(), field_lat.len().to_string()));
    out.push(("field_filter_keystroke_median_ms".into(), format!("{:.3}", pct(&mut field_lat, 0.5))));
    out.push(("field_filter_keystroke_p99_ms".into(), format!("{:.3}", pct(&mut field_lat, 0.99))));
    out.push(("frame_render_200x50_median_ms".into(), format!("{:.3}", pct(&mut frames, 0.5))));
    out.push(("frame_render_200x50_p99_ms".into(), format!("{:.3}", pct(&mut frames, 0.99))));
    out.push(("sort_by_name_ms".into(), format!("{:.1}", ms(sort))));
    out.push(("directory_heap_mb".into(), format!("{:.1}", app.dir.store.heap_bytes() as f64 / 1048576.0)));
    out.push(("peak_rss_loaded_mb".into(), format!("{rss_loaded:.1}")));
    out.push(("peak_rss_filtered_mb".into(), format!("{rss_filtered:.1}")));
    drop(app);
    out.push(("peak_rss_mb".into(), format!("{:.1}", peak_rss_mb())));
    out
}

fn main() {
    if let Some(n) = std::env::var("CONSOLE_BENCH_USERS").ok().and_then(|v| v.parse::<usize>().ok()) {
        for (k, v) in in_process(n) {
            println!("{k}: {v}");
        }
        return;
    }
    if let Some(before) = std::env::var_os("CONSOLE_BENCH_BEFORE") {
        compare(std::path::Path::new(&before));
        return;
    }
    let process_first = process_first_frame();
    let latency = latency_run();
    let demo = demo_run(std::env::var_os("CONSOLE_BENCH_BIN").as_deref());
    if std::env::var_os("CONSOLE_BENCH_BIN").is_some() {
        // Another build: only the parts that run the binary.
        for (k, v) in latency.unwrap_or_default() {
            println!("{k}: {v:.0}");
        }
        if let Ok(v) = process_first {
            println!("process_start_to_first_frame_ms: {v:.1}");
        }
        for (k, v) in demo.unwrap_or_default() {
            println!("{k}: {v:.0}");
        }
        return;
    }
    // The in-process parts run in child processes, each with its own peak RSS.
    let lines = in_child(USERS);
    for (k, v) in &lines {
        // The names of the 100k run stay what they were.
        let k = match k.as_str() {
            "load_users_ms" => "load_100k_users_ms",
            "sort_by_name_ms" => "sort_by_name_100k_ms",
            "peak_rss_mb" => continue,
            k => k,
        };
        println!("{k}: {v}");
    }
    match process_first {
        Ok(v) => println!("process_start_to_first_frame_ms: {v:.1}"),
        Err(e) => eprintln!("process_start_to_first_frame_ms: not measured: {e}"),
    }
    match latency {
        Ok(l) => {
            for (k, v) in l {
                println!("{k}: {v:.0}");
            }
        }
        Err(e) => eprintln!("latency: not measured: {e}"),
    }
    match demo {
        Ok(l) => {
            for (k, v) in l {
                println!("{k}: {v:.0}");
            }
        }
        Err(e) => eprintln!("demo_100k: not measured: {e}"),
    }
    println!("peak_rss_mb: {}", lines.iter().find(|(k, _)| k == "peak_rss_mb").map_or("?", |(_, v)| v.as_str()));
    // A million users.
    for (k, v) in in_child(MILLION) {
        if matches!(
            k.as_str(),
            "load_users_ms"
                | "filter_keystroke_median_ms"
                | "filter_keystroke_p99_ms"
                | "field_filter_keystroke_p99_ms"
                | "peak_rss_mb"
                | "sort_by_name_ms"
                | "directory_heap_mb"
        ) {
            println!("console_1m_{k}: {v}");
        }
    }
}

/// Both builds side by side: the in-process parts at 100k and 1M users and the demo, alternately.
fn compare(before: &std::path::Path) {
    let rounds: usize = std::env::var("CONSOLE_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let me = std::env::current_exe().expect("the bench binary");
    let before_bin = std::env::var_os("CONSOLE_BENCH_BEFORE_BIN");
    // name -> (before values, after values)
    let mut seen: Vec<(String, Vec<f64>, Vec<f64>)> = Vec::new();
    let mut note = |name: String, v: f64, after: bool| {
        let slot = match seen.iter().position(|(k, _, _)| *k == name) {
            Some(p) => p,
            None => {
                seen.push((name, Vec::new(), Vec::new()));
                seen.len() - 1
            }
        };
        if after { seen[slot].2.push(v) } else { seen[slot].1.push(v) }
    };
    for round in 0..rounds {
        for (after, exe) in [(false, before), (true, me.as_path())] {
            for n in [USERS, MILLION] {
                for (k, v) in in_child_of(exe, n) {
                    if let Ok(v) = v.parse::<f64>() {
                        let tag = if n == MILLION { "1m" } else { "100k" };
                        note(format!("{tag}_{k}"), v, after);
                    }
                }
            }
            let bin = if after { None } else { before_bin.clone() };
            match demo_run(bin.as_deref()) {
                Ok(l) => l.into_iter().for_each(|(k, v)| note(k.to_string(), v, after)),
                Err(e) => eprintln!("round {round}: demo ({}): {e}", if after { "after" } else { "before" }),
            }
        }
        eprintln!("round {} of {rounds} done", round + 1);
    }
    let range = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{lo:.1}..{hi:.1}")
    };
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    println!("compare_rounds: {rounds}");
    for (k, b, a) in &seen {
        if b.is_empty() || a.is_empty() || k.ends_with("users") || k.ends_with("keystrokes") {
            continue;
        }
        println!("compare_{k}: before {} after {} ratio {:.2}", range(b), range(a), median(b) / median(a));
    }
}

/// `in_process(n)` in a child process of its own; its `name: value` lines.
fn in_child(n: usize) -> Vec<(String, String)> {
    in_child_of(&std::env::current_exe().expect("the bench binary"), n)
}

/// `in_process(n)` of the bench binary `exe` (this one, or an earlier build's).
fn in_child_of(exe: &std::path::Path, n: usize) -> Vec<(String, String)> {
    let child = std::process::Command::new(exe).env("CONSOLE_BENCH_USERS", n.to_string()).output();
    match child {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.split_once(": ").map(|(k, v)| (k.to_string(), v.to_string())))
            .collect(),
        Ok(o) => {
            eprintln!("console at {n} users: failed: {}", String::from_utf8_lossy(&o.stderr));
            Vec::new()
        }
        Err(e) => {
            eprintln!("console at {n} users: not run: {e}");
            Vec::new()
        }
    }
}
