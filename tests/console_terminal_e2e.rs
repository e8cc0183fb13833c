//! The real binary in a pseudo-terminal under terminals that are not a UTF-8 xterm with 24-bit
//! colour (issue 25, defect 9): the bytes it writes are checked, not the parsed screen.
//!
//! - `LANG=C` / `LC_ALL=C` with `TERM=vt100`: no byte >= 0x80 (ASCII box drawing, separators,
//!   marks, arrows, the spinner, the gauge) and no colour at all (a VT100 has none);
//! - `TERM=xterm` (16 colours) with `--theme dark` (24-bit colours): only the 16-colour codes
//!   (`30-37`, `90-97`, `40-47`, `100-107`), never `38;2`/`38;5`;
//! - `TERM=xterm-256color`: the 256 colours, no 24-bit; with `COLORTERM=truecolor`, the theme
//!   as written (so the checks above can fail).

mod common;
use common::pty::Session;

const DEMO: &[&str] = &["demo", "--users", "300", "--groups", "5", "--theme", "dark"];

fn loaded(s: &str) -> bool {
    s.contains("users 300/300") && s.contains("loaded 300 users")
}

fn raw(s: &Session) -> Vec<u8> {
    s.state.lock().unwrap().1.clone()
}

/// The parameters of every SGR sequence (`ESC [ … m`) written.
fn sgr_params(raw: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < raw.len() {
        if raw[i] == 0x1b && raw[i + 1] == b'[' {
            let mut j = i + 2;
            while j < raw.len() && (raw[j].is_ascii_digit() || raw[j] == b';') {
                j += 1;
            }
            if raw.get(j) == Some(&b'm') {
                out.push(String::from_utf8_lossy(&raw[i + 2..j]).into_owned());
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// The colour parameters among SGR parameters: foreground/background, 16-colour or extended.
fn colours(params: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for p in params {
        let ps: Vec<&str> = p.split(';').collect();
        let mut k = 0;
        while k < ps.len() {
            let n: u32 = ps[k].parse().unwrap_or(0);
            match n {
                38 | 48 => {
                    let len = if ps.get(k + 1) == Some(&"2") { 5 } else { 3 };
                    out.push(ps[k..(k + len).min(ps.len())].join(";"));
                    k += len;
                    continue;
                }
                30..=37 | 40..=47 | 90..=97 | 100..=107 => out.push(n.to_string()),
                _ => {}
            }
            k += 1;
        }
    }
    out
}

/// A day in the console: loaded, two users marked, sorted, the help, a deactivation with the
/// queue view's gauge, the Groups and Reports panes, then quit.
fn a_short_day(s: &mut Session) {
    s.wait_for("300 users loaded", loaded);
    s.type_keys("  s");
    s.wait_for("marked and sorted", |sc| sc.contains("marked 2"));
    s.type_keys("?");
    s.wait_for("the help", |sc| sc.contains("Help: Users"));
    s.type_keys("q");
    s.type_keys("d");
    s.wait_for("the confirmation", |sc| sc.contains("Confirm: deactivate"));
    s.type_keys("y");
    s.wait_for("the batch to finish", |sc| sc.contains("finished") && sc.contains("100%"));
    s.type_keys("q2");
    s.wait_for("the Groups pane", |sc| sc.contains("Members"));
    s.type_keys("4");
    s.wait_for("the Reports pane", |sc| sc.contains("deactivate") && sc.contains("done"));
    s.type_keys("q");
    assert!(s.wait_exit().success());
    s.assert_restored();
}

#[test]
fn lang_c_on_a_vt100_gets_ascii_only_and_no_colour() {
    let config = tempfile::tempdir().unwrap();
    let mut s = Session::start_env(DEMO, config, true, &[("LANG", "C"), ("LC_ALL", "C"), ("TERM", "vt100")]);
    a_short_day(&mut s);
    let raw = raw(&s);
    let high: Vec<(usize, u8)> = raw.iter().copied().enumerate().filter(|(_, b)| *b >= 0x80).take(5).collect();
    assert!(high.is_empty(), "bytes >= 0x80 written under LANG=C: {high:?} in {:?}", String::from_utf8_lossy(&raw[..raw.len().min(4000)]));
    let c = colours(&sgr_params(&raw));
    assert!(c.is_empty(), "a VT100 has no colours, yet these were sent: {:?}", &c[..c.len().min(10)]);
    // Still drawn: ASCII borders, and reverse video for the selection.
    assert!(raw.windows(2).any(|w| w == b"+-"), "ASCII corners and borders");
    assert!(sgr_params(&raw).iter().any(|p| p.split(';').any(|x| x == "7")), "reverse video marks the selection");
}

#[test]
fn a_16_colour_terminal_gets_only_the_16_colour_codes() {
    let config = tempfile::tempdir().unwrap();
    let mut s = Session::start_env(DEMO, config, true, &[("TERM", "xterm")]);
    a_short_day(&mut s);
    let c = colours(&sgr_params(&raw(&s)));
    assert!(!c.is_empty(), "the dark theme's colours, as 16");
    let extended: Vec<&String> = c.iter().filter(|p| p.starts_with("38") || p.starts_with("48")).collect();
    assert!(extended.is_empty(), "256-colour or 24-bit codes sent to a 16-colour terminal: {:?}", &extended[..extended.len().min(10)]);
    // UTF-8 all the same (the locale is).
    assert!(String::from_utf8_lossy(&raw(&s)).contains('─'));
}

#[test]
fn a_256_colour_terminal_gets_no_24_bit_colour_and_a_truecolor_one_gets_the_theme() {
    let mut s = Session::start_env(DEMO, tempfile::tempdir().unwrap(), true, &[("TERM", "xterm-256color")]);
    s.wait_for("300 users loaded", loaded);
    s.type_keys("q");
    assert!(s.wait_exit().success());
    let c = colours(&sgr_params(&raw(&s)));
    assert!(c.iter().any(|p| p.starts_with("38;5;") || p.starts_with("48;5;")), "{c:?}");
    assert!(!c.iter().any(|p| p.starts_with("38;2;") || p.starts_with("48;2;")), "24-bit colour sent to a 256-colour terminal");

    let mut s = Session::start_env(DEMO, tempfile::tempdir().unwrap(), true, &[("TERM", "xterm-256color"), ("COLORTERM", "truecolor")]);
    s.wait_for("300 users loaded", loaded);
    s.type_keys("q");
    assert!(s.wait_exit().success());
    let c = colours(&sgr_params(&raw(&s)));
    assert!(c.iter().any(|p| p.starts_with("38;2;")), "the dark theme's 24-bit colours: {c:?}");
}

/// Issue 25, defect 15: without job control (the console leads its own session, as under
/// `ssh host scimitar`; the PTY here is the same) Ctrl-z says so and the console goes on; it
/// used to flicker and log `resumed` with nothing suspended. Under a shell with job control
/// (`set -m`) Ctrl-z stops it, the shell has the terminal, and `fg` brings it back.
#[test]
fn ctrl_z_without_job_control_says_so_and_with_it_suspends() {
    let mut s = Session::start(DEMO);
    s.wait_for("300 users loaded", loaded);
    s.send("\x1a");
    let sc = s.wait_for("the refusal", |sc| sc.contains("no job control here"));
    assert!(!sc.contains("resumed"), "{sc}");
    s.type_keys("2");
    s.wait_for("still running", |sc| sc.contains("Groups 5"));
    s.type_keys("q");
    assert!(s.wait_exit().success());
    // A shell with job control: stopped, the shell prints its line, fg resumes.
    let script = r#"set -m; "$0" "$@"; echo "the shell has the terminal"; fg; echo "back from fg""#;
    let mut args = vec!["-c", script, Box::leak(Session::bin().into_boxed_str())];
    args.extend_from_slice(DEMO);
    let mut s = Session::start_program("bash", &args, tempfile::tempdir().unwrap(), true, &[]);
    s.wait_for("300 users loaded", loaded);
    s.send("\x1a");
    s.wait_for("resumed", |sc| sc.contains("resumed") && sc.contains("users 300/300"));
    // The shell's lines went by before fg redrew the console (the bytes keep them).
    let written = String::from_utf8_lossy(&raw(&s)).into_owned();
    assert!(written.contains("Stopped") && written.contains("the shell has the terminal"), "{written}");
    s.type_keys("q");
    s.wait_for("the shell again", |sc| sc.contains("back from fg"));
    assert!(s.wait_exit().success());
}
