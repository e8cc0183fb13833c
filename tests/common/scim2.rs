//! An independent, RFC-strict SCIM 2.0 server that nobody here wrote: python-scim's
//! `scim2-server` from PyPI (RFC 7643/7644 Users and Groups in memory, lower-case hex ids,
//! string `status` and `scimType` in errors, ETags, `application/scim+json`), started on a free
//! loopback port for one test.
//!
//! `./scripts/test` installs it into `target/interop-venv` (pip, from PyPI) when it is missing;
//! `SCIMITAR_INTEROP_VENV` names another virtualenv. A missing server fails the test loudly,
//! naming `./scripts/test`: it never skips.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the server's virtualenv is.
pub fn venv() -> PathBuf {
    std::env::var_os("SCIMITAR_INTEROP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join("interop-venv"))
}

/// The `scim2-server` program, or a panic that says how to get it.
pub fn program() -> PathBuf {
    let p = venv().join("bin").join("scim2-server");
    assert!(
        p.is_file(),
        "{} is missing: run ./scripts/test (it installs python-scim's scim2-server from PyPI into target/interop-venv), \
         or set SCIMITAR_INTEROP_VENV to a virtualenv that has it",
        p.display()
    );
    p
}

pub struct Scim2 {
    child: Child,
    pub port: u16,
    /// `http://127.0.0.1:PORT/v2/`.
    pub url: String,
    pub token: String,
    /// The server's request log (stderr): one line per request, written just after its answer, `"METHOD /path HTTP/1.1" status`.
    log: PathBuf,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().unwrap().port()
}

impl Scim2 {
    /// Start a server with this bearer token and wait until it answers; a port taken between
    /// choosing and binding it is retried with another.
    pub fn start(token: &str) -> Scim2 {
        let program = program();
        let dir = tempfile::tempdir().unwrap();
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let log = dir.path().join(format!("scim2-server-{port}.log"));
            let child = Command::new(&program)
                .args(["--hostname", "127.0.0.1", "--port", &port.to_string(), "--bearer-token", token])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e} (run ./scripts/test to install it)", program.display()));
            let mut s = Scim2 {
                child,
                port,
                url: format!("http://127.0.0.1:{port}/v2/"),
                token: token.to_string(),
                log,
                _dir: tempfile::tempdir().unwrap(),
            };
            match s.wait_ready(Duration::from_secs(30)) {
                Ok(()) => {
                    s._dir = dir;
                    return s;
                }
                Err(e) => {
                    last = e;
                    let _ = s.child.kill();
                    let _ = s.child.wait();
                }
            }
        }
        panic!("scim2-server did not start: {last}");
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("it exited with {status}: {}", self.log_text()));
            }
            // A raw HTTP/1.0 request: no client library between the test and the server.
            if let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = write!(c, "GET /v2/ServiceProviderConfig HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
                let mut buf = String::new();
                let _ = c.read_to_string(&mut buf);
                if buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200") {
                    return Ok(());
                }
            }
            if started.elapsed() > limit {
                return Err(format!("no answer on port {} within {limit:?}: {}", self.port, self.log_text()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until the server has logged every request answered so far: it writes a request's
    /// log line just after the answer (each in its own thread), so a marker request is sent, its
    /// line awaited, and then the log must stay unchanged for a moment.
    fn settle(&self) {
        use std::io::{Read, Write};
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let marker = format!("settle={}", N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        if let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = write!(c, "GET /v2/ServiceProviderConfig?{marker} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
            let _ = c.read_to_string(&mut String::new());
        }
        let started = Instant::now();
        while !self.log_text().contains(&marker) && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut len = self.log_text().len();
        loop {
            std::thread::sleep(Duration::from_millis(150));
            let now = self.log_text().len();
            if now == len || started.elapsed() > Duration::from_secs(10) {
                return;
            }
            len = now;
        }
    }

    /// Requests of this method to this resource (`DELETE`, `Users`) in the server's log, every
    /// request answered so far included.
    pub fn requests(&self, method: &str, resource: &str) -> usize {
        self.settle();
        let a = format!("\"{method} /v2/{resource}");
        let b = format!("\"{method} /{resource}");
        self.log_text().lines().filter(|l| l.contains(&a) || l.contains(&b)).count()
    }
}

impl Drop for Scim2 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
