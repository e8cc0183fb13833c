//! The console (the real binary in a pseudo-terminal) against each mode of the hostile server:
//! it shows the failure, never hangs, quits on `q` and leaves the terminal as it found it, and
//! nothing the server sent reaches the terminal raw.

mod common;
use common::hostile::{Hostile, Mode};
use common::pty::Session;

const TOKEN: &str = "tok-ConsoleEcho-31415926";

fn console(h: &Hostile, args: &[&str]) -> Session {
    let dir = tempfile::tempdir().unwrap();
    Session::start_env(args, dir, true, &[("SCIMITAR_URL", &h.url), ("SLACK_SCIM_TOKEN", TOKEN)])
}

/// Quit with `q`, and check the exit, the terminal and the raw output.
fn quit_cleanly(mut s: Session) {
    s.type_keys("q");
    let st = s.wait_exit();
    assert!(st.success(), "{st:?}");
    s.assert_restored();
    let raw = s.state.lock().unwrap().1.clone();
    let has = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"pwned-title"), "a title write reached the terminal");
    assert!(!has(b"\x1b]52;c;cHduZWQ"), "an OSC 52 clipboard write reached the terminal");
    assert!(
        !has("\u{202e}".as_bytes()) && !has("\u{200b}".as_bytes()) && !has("\u{9b}".as_bytes()),
        "bidi/invisible/C1 reached the terminal"
    );
    assert!(!has(TOKEN.as_bytes()), "the token reached the terminal");
}

fn failed_loading(s: &Session, what: &str) -> String {
    // The Users pane says so in its title or in place of its rows (the Log, whose lines wrap, may have scrolled
    // the same line away behind the groups' failure).
    s.wait_for(what, |sc| {
        sc.contains("loading users failed")
            || sc.contains("Could not load users")
            || sc.lines().any(|l| l.contains("╭ Users") && l.contains("load failed"))
    })
}

#[test]
fn a_huge_retry_after_is_shown_and_q_still_quits() {
    let h = Hostile::start(Mode::RetryAfter("1e20"));
    let s = console(&h, &[]);
    let screen = failed_loading(&s, "the Retry-After failure");
    assert!(screen.contains("Retry-After"), "{screen}");
    quit_cleanly(s);
}

#[test]
fn a_total_beyond_any_org_fails_the_load_and_q_quits() {
    let h = Hostile::start(Mode::HugeTotal);
    let s = console(&h, &["--throttle", "off"]);
    failed_loading(&s, "the total beyond any org to fail the load");
    quit_cleanly(s);
}

#[test]
fn pages_that_never_end_and_malformed_users_fail_the_load() {
    for mode in [Mode::Repeating, Mode::Endless, Mode::Malformed] {
        let h = Hostile::start(mode.clone());
        let s = console(&h, &["--throttle", "off"]);
        failed_loading(&s, &format!("{mode:?} to fail"));
        quit_cleanly(s);
    }
}

#[test]
fn escapes_echoed_tokens_and_bidi_never_reach_the_terminal() {
    for mode in [Mode::Escapes, Mode::TokenEcho] {
        let h = Hostile::start(mode.clone());
        let s = console(&h, &[]);
        let screen = failed_loading(&s, &format!("{mode:?} to fail"));
        assert!(!screen.contains(TOKEN), "{screen}");
        quit_cleanly(s);
    }
    let h = Hostile::start(Mode::Bidi);
    let s = console(&h, &[]);
    s.wait_for("the user", |sc| sc.contains("loaded 1 users") || sc.contains("loaded 1 user"));
    s.wait_for("the cleaned name", |sc| sc.contains("Patevil"));
    quit_cleanly(s);
}

#[test]
fn a_huge_body_and_a_stalled_server_neither_flood_nor_hang_the_console() {
    let h = Hostile::start(Mode::HugeBody { status: 200, bytes: 500 << 20 });
    let s = console(&h, &[]);
    let screen = failed_loading(&s, "the body limit");
    assert!(screen.contains("larger than"), "{screen}");
    quit_cleanly(s);
    // Quitting while every request hangs.
    let h = Hostile::start(Mode::Stall);
    let s = console(&h, &[]);
    s.wait_for("the first frame", |sc| sc.contains("Users"));
    quit_cleanly(s);
    // And with a short operation deadline, the stall is reported.
    let s = console(&h, &["--op-deadline", "1s"]);
    let screen = failed_loading(&s, "the deadline");
    assert!(screen.contains("--op-deadline"), "{screen}");
    quit_cleanly(s);
}
