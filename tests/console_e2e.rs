//! The real binary in a pseudo-terminal: `scimitar demo` (embedded emulator on loopback), read
//! through a vt100 parser. No fixed sleeps: every step polls the screen with a deadline.

mod common;
use common::pty::Session;
use std::time::Duration;

fn loaded(s: &str) -> bool {
    s.contains("users 300/300") && s.contains("loaded 300 users")
}

/// Email-looking tokens on the screen, in order.
fn emails(screen: &str) -> Vec<String> {
    screen.split(|c: char| c.is_whitespace() || c == '│').filter(|t| t.contains('@') && t.len() > 3).map(str::to_string).collect()
}

#[test]
fn filter_by_part_of_an_email_shows_the_user() {
    let mut s = Session::start(&["demo", "--users", "300", "--groups", "5"]);
    let screen = s.wait_for("300 users loaded", loaded);
    let on_screen = emails(&screen);
    assert!(on_screen.len() > 5, "{screen}");
    let target = on_screen[3].clone();
    let local = target.split('@').next().unwrap().to_string();
    let other = on_screen[0].clone();
    assert_ne!(other.split('@').next().unwrap(), local);
    s.type_keys(&format!("/{local}@"));
    let typed = format!("/{local}@ ");
    let screen = s.wait_for("the filter to apply", |sc| sc.contains("Users 1 of 300") && sc.contains(&typed));
    assert!(screen.contains(&target) || screen.contains(&format!("{local}@")), "{screen}");
    assert!(!screen.contains(&other), "{other} should be filtered out:\n{screen}");
    let shown = emails(&screen).into_iter().filter(|e| !e.starts_with('/')).collect::<Vec<_>>();
    assert_eq!(shown.len(), 1, "{shown:?}\n{screen}");
    // Enter keeps the filter, Enter again opens the detail view with the full email.
    s.type_keys("\r");
    std::thread::sleep(Duration::from_millis(50));
    s.type_keys("\r");
    let screen = s.wait_for("the detail view", |sc| sc.contains("email (primary)"));
    assert!(screen.contains(&format!("{local}@")), "{screen}");
    s.send("\x1b");
    s.wait_for("the detail view to close", |sc| !sc.contains("email (primary)"));
    // An address that is not loaded is looked up live through SCIM.
    s.type_keys(":find ghost@nowhere.example\r");
    s.wait_for("the live lookup", |sc| sc.contains("no user with email ghost@nowhere.example"));
    s.type_keys("q");
    assert!(s.wait_exit().success());
}

#[test]
fn quitting_restores_the_terminal() {
    let mut s = Session::start(&["demo", "--users", "300", "--groups", "5"]);
    s.wait_for("300 users loaded", loaded);
    // Idle: once nothing is in flight, nothing more is drawn.
    s.wait_for("groups loaded", |sc| sc.contains("queue idle") && !sc.contains("loading"));
    std::thread::sleep(Duration::from_millis(300));
    let before = s.state.lock().unwrap().1.len();
    std::thread::sleep(Duration::from_millis(700));
    let after = s.state.lock().unwrap().1.len();
    assert_eq!(before, after, "the console drew while idle");
    s.type_keys("q");
    let st = s.wait_exit();
    assert!(st.success(), "{st:?}");
    s.assert_restored();
}

fn signal_restores(sig: &str, code: u32) {
    let mut s = Session::start(&["demo", "--users", "300", "--groups", "5"]);
    s.wait_for("300 users loaded", loaded);
    let pid = s.child.process_id().expect("pid");
    let ok = std::process::Command::new("kill").args([sig, &pid.to_string()]).status().unwrap();
    assert!(ok.success());
    let st = s.wait_exit();
    assert_eq!(st.exit_code(), code, "{st:?}");
    s.assert_restored();
}

#[test]
fn sigterm_restores_the_terminal() {
    signal_restores("-TERM", 143);
}

/// A dropped SSH session arrives as SIGHUP.
#[test]
fn sighup_restores_the_terminal() {
    signal_restores("-HUP", 129);
}

/// The action queue from the keyboard: mark three users with Space, `d`, confirm, and watch the
/// queue view until all three are done; the results land in the Log pane and the rows update.
#[test]
fn mark_three_deactivate_confirm_and_watch_the_queue() {
    let mut s = Session::start(&["demo", "--users", "300", "--groups", "5"]);
    s.wait_for("300 users loaded", loaded);
    // Active users only; row 0 is the primary owner (Slack refuses to deactivate it).
    s.type_keys("A");
    s.wait_for("the active filter", |sc| sc.contains("[active]"));
    s.type_keys("j   ");
    let screen = s.wait_for("three marks", |sc| sc.contains("marked 3"));
    let marked: Vec<String> = screen.lines().filter(|l| l.contains('✓')).flat_map(emails).collect();
    assert_eq!(marked.len(), 3, "{screen}");
    s.type_keys("d");
    let screen = s.wait_for("the confirmation", |sc| sc.contains("Confirm: deactivate 3 users"));
    for e in &marked {
        let local = e.split('@').next().unwrap();
        assert!(screen.contains(&format!("deactivate {local}")), "{e} named in the dialog:\n{screen}");
    }
    s.type_keys("y");
    // The status line says `queue done 3/3`, or `done 3/3` where the batch's message takes the
    // room of the longer wording (issue 25, defect 18).
    let screen = s.wait_for("the queue to finish", |sc| sc.contains("done 3/3 │") && sc.contains("3/3 100%"));
    assert!(screen.contains("Queue: deactivate 3 users"), "{screen}");
    assert!(screen.matches(" done ").count() >= 3, "{screen}");
    assert!(!screen.contains("FAILED"), "{screen}");
    // Close the view: the Log pane has one line per result, and the marks are gone.
    s.send("\x1b");
    s.wait_for("the queue view to close", |sc| !sc.contains("Queue: deactivate"));
    // A taller Log pane, so the three results are in it whatever else was logged meanwhile.
    s.type_keys("}}");
    let locals: Vec<String> = marked.iter().map(|e| format!("deactivate {}@", e.split('@').next().unwrap())).collect();
    let screen = s.wait_for("the three results in the Log pane", |sc| locals.iter().all(|l| sc.contains(l.as_str())));
    assert!(screen.contains("finished in") || screen.contains(": done"), "{screen}");
    assert!(!screen.contains("marked 3"), "{screen}");
    // The deactivated users leave the active-only view without a reload.
    let table = screen.split("╭ Log").next().unwrap();
    for e in &marked {
        // The table may cut a long address short; the local part identifies the user.
        let local = format!("{}@", e.split('@').next().unwrap());
        assert!(!table.contains(&local), "{e} still listed as active:\n{screen}");
        assert!(screen.contains(&format!("deactivate {local}")), "{e} in the Log pane:\n{screen}");
    }
    s.type_keys("q");
    assert!(s.wait_exit().success());
}

/// Issue 25 (13): `demo --api v1` speaks SCIM 1.1 to the emulator (it was ignored: always v2), and
/// a SCIMITAR_URL in the environment (not a flag) does not stop the demo.
#[test]
fn demo_speaks_v1_with_api_v1() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::start_env(
        &["demo", "--users", "300", "--groups", "5", "--api", "v1"],
        dir,
        true,
        &[("SCIMITAR_URL", "https://api.slack.com/scim/v2/")],
    );
    let screen = s.wait_for("300 users loaded over v1", |sc| loaded(sc) && sc.contains("SCIM v1.1"));
    assert!(screen.contains("/scim/v1/"), "{screen}");
    s.type_keys("q");
    assert!(s.wait_exit().success());
}

/// Issue 25 (17): a large demo shows rows while the emulator seeds, says so in the Log, then
/// loads everyone (it showed an empty table with `loading 0/?` until the whole seed was done).
#[test]
fn a_large_demo_shows_rows_while_it_seeds_then_all() {
    let mut s = Session::start(&["demo", "--users", "9000", "--groups", "5", "--no-rate-limit"]);
    let screen = s.wait_for("the seeding note", |sc| sc.contains("demo: seeding 9,000 users"));
    assert!(screen.contains("first 2,000 are shown"), "{screen}");
    s.wait_for("rows on screen", |sc| sc.lines().any(|l| l.contains("@acme-corp.example")));
    s.wait_for("the seed's end", |sc| sc.contains("seeded all 9,000 users"));
    let screen =
        s.wait_for("every user", |sc| sc.contains("Users 9,000") && sc.contains("users 9,000/9,000") && sc.contains("loaded 9,000 users"));
    // The users the rest of the seed brought are not news to the admin: no `•` marks.
    assert!(!screen.contains('•') && !screen.contains("new,"), "{screen}");
    s.type_keys("q");
    assert!(s.wait_exit().success());
}
