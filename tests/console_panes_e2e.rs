//! The Reports and Policies panes in the real binary, in a pseudo-terminal: `scimitar demo` with a
//! policy in the config dir; the plan is computed against the embedded emulator, applied after
//! the confirmation, and the operations then show in the Reports pane and export to CSV.
//! (The session harness is that of `console_e2e.rs`, with the config dir given by the test.)

use portable_pty::{Child, CommandBuilder, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROWS: u16 = 30;
const COLS: u16 = 100;

struct Session {
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    state: Arc<Mutex<(vt100::Parser, Vec<u8>)>>,
    _config: tempfile::TempDir,
}

impl Session {
    fn start(args: &[&str], config: tempfile::TempDir) -> Session {
        Session::start_with(args, config, true)
    }

    /// `data_dir`: the data dir is the config dir; else the demo makes one of its own.
    fn start_with(args: &[&str], config: tempfile::TempDir, data_dir: bool) -> Session {
        let pty = native_pty_system();
        let pair = pty.openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 }).unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_scimitar"));
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        cmd.env("SCIMITAR_CONFIG_DIR", config.path());
        if data_dir {
            cmd.env("SCIMITAR_DATA_DIR", config.path());
        } else {
            cmd.env_remove("SCIMITAR_DATA_DIR");
        }
        cmd.env_remove("NO_COLOR");
        cmd.env_remove("SCIMITAR_THEME");
        cmd.cwd(config.path());
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let state = Arc::new(Mutex::new((vt100::Parser::new(ROWS, COLS, 0), Vec::new())));
        let st = state.clone();
        std::thread::spawn(move || {
            let _master = pair.master; // keep the pty open while reading
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut s = st.lock().unwrap();
                        s.0.process(&buf[..n]);
                        s.1.extend_from_slice(&buf[..n]);
                    }
                }
            }
        });
        Session { child, writer, state, _config: config }
    }

    fn screen(&self) -> String {
        self.state.lock().unwrap().0.screen().contents()
    }

    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn send(&mut self, s: &str) {
        self.writer.write_all(s.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Type one key at a time, as a person would (an Esc glued to the next key reads as Alt).
    fn type_keys(&mut self, s: &str) {
        for c in s.chars() {
            self.send(&c.to_string());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                // Let the reader thread drain what was written last.
                std::thread::sleep(Duration::from_millis(100));
                return st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the console did not exit; screen:\n{}", self.screen());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

const POLICY: &str = r#"match_on = "email"
[source]
path = "hr.csv"
id_column = "email"
[attributes]
"emails.work" = "email"
userName = "user_name"
title = "title"
[provisioning]
remove_action = "report"
"#;

#[test]
fn policy_plan_apply_then_report_and_export() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::write(dir.path().join("policies/hr.toml"), POLICY).unwrap();
    std::fs::write(
        dir.path().join("policies/hr.csv"),
        "email,user_name,title\nnew.one@panes-e2e.example,new.one,Engineer\nnew.two@panes-e2e.example,new.two,Designer\n",
    )
    .unwrap();
    let data = dir.path().to_path_buf();
    let mut s = Session::start(&["demo", "--users", "300", "--groups", "5"], dir);
    s.wait_for("300 users loaded", |sc| sc.contains("users 300/300"));
    // Opening the pane lists the policy and computes its plan in the background.
    s.type_keys("3");
    let screen = s.wait_for("the plan", |sc| sc.contains("Create users (2)"));
    assert!(screen.contains("hr") && screen.contains("+ new.one"), "{screen}");
    assert!(screen.contains("reported only"), "{screen}");
    s.type_keys("A");
    s.wait_for("the confirmation", |sc| sc.contains("Apply policy hr?") && sc.contains("Enter/y apply"));
    s.type_keys("y");
    s.wait_for("the apply to end and the plan to be computed again", |sc| sc.contains("no changes"));
    // The operations are in the report.
    s.type_keys("4");
    let screen = s.wait_for("the report", |sc| sc.matches("create_user").count() >= 2);
    assert!(screen.contains("new.two@panes-e2e.example") && screen.contains("done"), "{screen}");
    s.type_keys("\r");
    s.wait_for("the record's detail", |sc| sc.contains("prev_hash") || sc.contains("policy_run"));
    s.send("\x1b");
    s.wait_for("the detail to close", |sc| !sc.contains("policy_run"));
    s.type_keys("e");
    s.wait_for("the export", |sc| sc.contains("exported 2 records to"));
    s.type_keys("q");
    assert!(s.wait_exit().success());
    let csv: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("scimitar-report-"))
        .collect();
    assert_eq!(csv.len(), 1, "{csv:?}");
    let text = std::fs::read_to_string(&csv[0]).unwrap();
    assert!(text.starts_with("seq,started_at,finished_at") && text.lines().count() == 3, "{text}");
    assert!(text.contains("new.one@panes-e2e.example") && text.contains("create_user"), "{text}");
}

#[test]
fn demo_writes_its_hr_policy_and_the_pane_shows_its_plan_first() {
    let dir = tempfile::tempdir().unwrap();
    // A policy of the admin's own is listed after the demo's.
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::write(dir.path().join("policies/hr.toml"), POLICY).unwrap();
    std::fs::write(dir.path().join("policies/hr.csv"), "email,user_name,title\n").unwrap();
    let mut s = Session::start_with(&["demo", "--users", "1000", "--groups", "30"], dir, false);
    s.wait_for("1000 users loaded", |sc| sc.contains("users 1,000/1,000"));
    s.type_keys("3");
    let screen = s.wait_for("the demo plan", |sc| sc.contains("Plan demo-hr") && sc.contains("member add"));
    let list = screen.find("> demo-hr").unwrap_or_else(|| panic!("demo-hr is first and selected: {screen}"));
    assert!(screen[list..].contains(" hr "), "{screen}");
    for part in ["5 create", "1 reactivate", "deactivate", "update", "Create users (5)", "Priya Raman"] {
        assert!(screen.contains(part), "{part}: {screen}");
    }
    s.type_keys("q");
    assert!(s.wait_exit().success());
}
