//! The pseudo-terminal harness of the console's end-to-end tests: the real binary in a PTY,
//! its output fed to a vt100 parser (and kept raw). No fixed sleeps: every step polls the screen
//! with a deadline.
#![allow(dead_code)]

use portable_pty::{Child, CommandBuilder, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ROWS: u16 = 30;
pub const COLS: u16 = 100;

pub struct Session {
    pub child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    pub state: Arc<Mutex<(vt100::Parser, Vec<u8>)>>,
    _config: tempfile::TempDir,
}

impl Session {
    /// In a fresh temp dir that is both the config and the data dir.
    pub fn start(args: &[&str]) -> Session {
        Session::start_in(args, tempfile::tempdir().unwrap())
    }

    /// With the given config dir (also the data dir and the working dir).
    pub fn start_in(args: &[&str], config: tempfile::TempDir) -> Session {
        Session::start_with(args, config, true)
    }

    /// `data_dir`: the data dir is the config dir; else the demo makes one of its own.
    pub fn start_with(args: &[&str], config: tempfile::TempDir, data_dir: bool) -> Session {
        Session::start_env(args, config, data_dir, &[])
    }

    /// `start_with`, with more environment (e.g. `SCIMITAR_URL` and `SLACK_SCIM_TOKEN` for the
    /// console against an emulator the test runs).
    pub fn start_env(args: &[&str], config: tempfile::TempDir, data_dir: bool, env: &[(&str, &str)]) -> Session {
        Session::start_program(&Session::bin(), args, config, data_dir, env)
    }

    /// The binary under test (SCIMITAR_TEST_BIN runs the suite against another build, e.g. an
    /// older release).
    pub fn bin() -> String {
        std::env::var("SCIMITAR_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_scimitar").to_string())
    }

    /// `start_env` with another program (a shell running the console, say).
    pub fn start_program(program: &str, args: &[&str], config: tempfile::TempDir, data_dir: bool, env: &[(&str, &str)]) -> Session {
        let pty = native_pty_system();
        let pair = pty.openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 }).unwrap();
        let mut cmd = CommandBuilder::new(program);
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        // A UTF-8 locale and no COLORTERM, whatever the test runner has (a test that wants
        // another terminal passes its own in `env`).
        cmd.env("LANG", "C.UTF-8");
        cmd.env_remove("LC_ALL");
        cmd.env_remove("LC_CTYPE");
        cmd.env_remove("COLORTERM");
        cmd.env("SCIMITAR_CONFIG_DIR", config.path());
        if data_dir {
            cmd.env("SCIMITAR_DATA_DIR", config.path());
        } else {
            cmd.env_remove("SCIMITAR_DATA_DIR");
        }
        cmd.env_remove("NO_COLOR");
        cmd.env_remove("SCIMITAR_THEME");
        cmd.env_remove("SCIMITAR_PROFILE");
        for (k, v) in env {
            cmd.env(k, v);
        }
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

    pub fn screen(&self) -> String {
        self.state.lock().unwrap().0.screen().contents()
    }

    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        // The screen is returned once it has settled (the same on two reads in a row), so a frame
        // read between its top and its bottom is never what a test asserts on.
        let mut matched: Option<String> = None;
        loop {
            let s = self.screen();
            if pred(&s) {
                // (a screen that never settles, an animation, is taken as it is at the deadline)
                if matched.as_deref() == Some(s.as_str()) || Instant::now() > deadline {
                    return s;
                }
                matched = Some(s);
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            matched = None;
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn send(&mut self, s: &str) {
        self.writer.write_all(s.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Type one key at a time, as a person would (an Esc glued to the next key reads as Alt).
    pub fn type_keys(&mut self, s: &str) {
        for c in s.chars() {
            self.send(&c.to_string());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn wait_exit(&mut self) -> portable_pty::ExitStatus {
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

    pub fn assert_restored(&self) {
        let s = self.state.lock().unwrap();
        assert!(!s.0.screen().alternate_screen(), "still on the alternate screen");
        assert!(!s.0.screen().hide_cursor(), "cursor still hidden");
        let raw = &s.1;
        let last = |needle: &[u8]| raw.windows(needle.len()).rposition(|w| w == needle);
        let enter = last(b"\x1b[?1049h").expect("entered the alternate screen");
        let leave = last(b"\x1b[?1049l").expect("left the alternate screen");
        let show = last(b"\x1b[?25h").expect("showed the cursor");
        assert!(leave > enter && show > enter, "restore sequences come after the last frame");
        // Nothing but the restore sequences after the last draw.
        let tail = &raw[leave.min(show)..];
        assert!(tail.len() < 64, "unexpected output after restore: {:?}", String::from_utf8_lossy(tail));
    }
}
