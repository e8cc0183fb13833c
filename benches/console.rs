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
//!   arrive from the network, so no second copy of the directory is held).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use scimitar::scim::types::{EnterpriseUser, Manager, Meta, ProfileExt};
use scimitar::scim::{MultiValue, Name, User};
use scimitar::tui::app::{App, Msg};
use scimitar::tui::render::render;
use scimitar::tui::theme::{Theme, ThemeSet};
use std::time::{Duration, Instant};

const USERS: usize = 100_000;
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

fn user(i: usize) -> User {
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
            manager: Some(Manager { manager_id: Some(format!("W{:010}", next(USERS))), ..Default::default() }),
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
        let _ = child.wait();
        drop(pair.master);
        drop(writer);
        let _ = th.join();
    }
    rt.block_on(emu.shutdown());
    Ok(pct(&mut times, 0.5))
}

fn main() {
    let process_first = process_first_frame();

    // Start to first frame.
    let t0 = Instant::now();
    let mut app = App::new("api.slack.com", "SCIM v2.0", ThemeSet::builtin(), Theme::default());
    app.update(Msg::Resize(200, 50));
    let _ = app.start();
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    term.draw(|f| render(&app, f)).unwrap();
    let first_frame = t0.elapsed();

    // Load 100 pages.
    let t = Instant::now();
    for p in 0..USERS / 1000 {
        let items: Vec<User> = (p * 1000..(p + 1) * 1000).map(user).collect();
        app.update(Msg::UsersPage { generation: 1, items, total: USERS as u64 });
    }
    app.update(Msg::UsersDone { generation: 1, error: None });
    // Generating the users is part of the loop above; time it alone and subtract it.
    let gen_t = Instant::now();
    for p in 0..USERS / 1000 {
        let items: Vec<User> = (p * 1000..(p + 1) * 1000).map(user).collect();
        std::hint::black_box(items);
    }
    let gen_cost = gen_t.elapsed();
    let load = t.elapsed().saturating_sub(gen_cost);
    assert_eq!(app.dir.store.len(), USERS);
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
    for k in keys {
        let t = Instant::now();
        let fx = app.update(key(k));
        std::hint::black_box(fx);
        term.draw(|f| render(&app, f)).unwrap();
        lat.push(t.elapsed());
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
        if k == KeyCode::Char('e') {
            matched = matched.max(app.pane::<scimitar::tui::users::UsersPane>().view.filtered.len());
        }
    }
    assert!(matched > 0, "the field queries match someone");

    // Sorting by a column once everything is loaded.
    app.update(key(KeyCode::Esc));
    let t = Instant::now();
    app.update(key(KeyCode::Char('s')));
    term.draw(|f| render(&app, f)).unwrap();
    let sort = t.elapsed();

    println!("users: {USERS}");
    println!("start_to_first_frame_ms: {:.3}", ms(first_frame));
    println!("load_100k_users_ms: {:.1}", ms(load));
    println!("filter_keystrokes: {}", lat.len());
    println!("filter_keystroke_median_ms: {:.3}", pct(&mut lat, 0.5));
    println!("filter_keystroke_p99_ms: {:.3}", pct(&mut lat, 0.99));
    println!("filter_keystroke_max_ms: {:.3}", pct(&mut lat, 1.0));
    println!("field_filter_keystrokes: {}", field_lat.len());
    println!("field_filter_keystroke_median_ms: {:.3}", pct(&mut field_lat, 0.5));
    println!("field_filter_keystroke_p99_ms: {:.3}", pct(&mut field_lat, 0.99));
    println!("frame_render_200x50_median_ms: {:.3}", pct(&mut frames, 0.5));
    println!("frame_render_200x50_p99_ms: {:.3}", pct(&mut frames, 0.99));
    println!("sort_by_name_100k_ms: {:.1}", ms(sort));
    match process_first {
        Ok(v) => println!("process_start_to_first_frame_ms: {v:.1}"),
        Err(e) => eprintln!("process_start_to_first_frame_ms: not measured: {e}"),
    }
    println!("peak_rss_mb: {:.1}", peak_rss_mb());
}
