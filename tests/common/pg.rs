//! A real PostgreSQL server (Debian's `postgresql`) for tests and benchmarks: `initdb` into a
//! throwaway directory, `postgres` on a free loopback port, scram-sha-256 password
//! authentication for every connection (TCP and the private socket), no system service.
//!
//! PostgreSQL refuses to run as root. Run as root (as here and in CI), the server runs as the
//! system account `scimitar-pg`, which `./scripts/test` creates (with `scimitar-admin1` and
//! `scimitar-admin2`, two OS accounts for the team tests). Missing binaries or accounts fail
//! loudly: run `./scripts/test`.
//!
//! Roles, as docs/team.md sets them up: `scimitar_owner` owns the database and its tables (it
//! runs the migrations); `scimitar_team` may read and write them (default privileges); the admins
//! `ann` and `bob` log in and are members of `scimitar_team`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SUPERUSER: &str = "postgres";
pub const DB: &str = "scimitar";
pub const ROLES: [&str; 3] = ["scimitar_owner", "ann", "bob"];
/// The OS account the server runs as when the tests run as root.
pub const SERVER_ACCOUNT: &str = "scimitar-pg";
/// Two OS accounts of admins (team tests).
pub const ADMIN_ACCOUNTS: [&str; 2] = ["scimitar-admin1", "scimitar-admin2"];

pub fn password_of(role: &str) -> String {
    format!("pw-{role}-7c1e0f")
}

pub fn is_root() -> bool {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() == 0 }
}

/// uid and gid of a system account (panics, naming `./scripts/test`, when it does not exist).
pub fn account(name: &str) -> (u32, u32) {
    let out = Command::new("id").args(["-u", name]).output().expect("id");
    let gid = Command::new("id").args(["-g", name]).output().expect("id");
    assert!(
        out.status.success() && gid.status.success(),
        "the system account {name} is missing: run ./scripts/test as root (it creates {SERVER_ACCOUNT} and {ADMIN_ACCOUNTS:?})"
    );
    let n = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).trim().parse::<u32>().unwrap();
    (n(&out), n(&gid))
}

/// `cmd` run as `name` (setpriv: its uid, gid and groups), when this process is root.
pub fn as_account(cmd: &Path, name: Option<&str>) -> Command {
    match name {
        Some(name) => {
            let (uid, gid) = account(name);
            let mut c = Command::new("setpriv");
            c.args([format!("--reuid={uid}"), format!("--regid={gid}"), "--init-groups".into(), "--".into()]).arg(cmd);
            c
        }
        None => Command::new(cmd),
    }
}

/// Make `path` belong to `name` (root only).
pub fn give(path: &Path, name: &str) {
    let (uid, gid) = account(name);
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
}

/// The newest installed PostgreSQL's bin directory (`SCIMITAR_PG_BIN` overrides).
pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SCIMITAR_PG_BIN") {
        return PathBuf::from(d);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_string_lossy().parse::<u32>().ok()?, e.path().join("bin"))))
        .filter(|(_, p)| p.join("postgres").exists() && p.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, p)| p)
        .expect("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/postgres): run ./scripts/test, which installs Debian's postgresql")
}

pub struct PgServer {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
    child: Option<Child>,
    /// The OS account the server runs as (None: this one).
    runs_as: Option<&'static str>,
    fsync: bool,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl PgServer {
    /// initdb, start, and set up the database and roles (see the module notes).
    pub fn start() -> PgServer {
        Self::start_with(false)
    }

    /// As [`PgServer::start`]; `fsync`: keep PostgreSQL's durable default (benchmarks), else off.
    pub fn start_with(fsync: bool) -> PgServer {
        let bin = bin_dir();
        let runs_as = is_root().then_some(SERVER_ACCOUNT);
        let dir = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        let pwfile = dir.path().join("superuser.pw");
        std::fs::write(&pwfile, password_of(SUPERUSER)).unwrap();
        std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o600)).unwrap();
        if let Some(a) = runs_as {
            give(&data, a);
            give(&pwfile, a);
        }
        let out = as_account(&bin.join("initdb"), runs_as)
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "--auth=scram-sha-256", "--encoding=UTF8", "--no-sync", "--no-instructions"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .stdin(Stdio::null())
            .output()
            .expect("initdb");
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        let mut s = PgServer { dir, port: free_port(), bin, child: None, runs_as, fsync };
        s.run();
        s.psql(
            None,
            &format!(
                "CREATE ROLE scimitar_team NOLOGIN;
                 CREATE ROLE scimitar_owner LOGIN PASSWORD '{o}';
                 CREATE ROLE ann LOGIN PASSWORD '{a}' IN ROLE scimitar_team;
                 CREATE ROLE bob LOGIN PASSWORD '{b}' IN ROLE scimitar_team;",
                o = password_of("scimitar_owner"),
                a = password_of("ann"),
                b = password_of("bob")
            ),
        );
        s.psql(None, &format!("CREATE DATABASE {DB} OWNER scimitar_owner"));
        s.psql(
            Some(("scimitar_owner", DB)),
            "ALTER DEFAULT PRIVILEGES GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO scimitar_team;
             ALTER DEFAULT PRIVILEGES GRANT USAGE, SELECT ON SEQUENCES TO scimitar_team;",
        );
        s
    }

    /// Start (or start again) the server on its port.
    pub fn run(&mut self) {
        let data = self.dir.path().join("data");
        let log = std::fs::File::create(self.dir.path().join("postgres.log")).unwrap();
        let mut cmd = as_account(&self.bin.join("postgres"), self.runs_as);
        cmd.arg("-D").arg(&data).args(["-p", &self.port.to_string(), "-c", "listen_addresses=127.0.0.1"]);
        cmd.arg("-c").arg(format!("unix_socket_directories={}", data.display()));
        cmd.args(["-c", "max_connections=200", "-c", "shared_buffers=64MB"]);
        if !self.fsync {
            cmd.args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        }
        let child = cmd.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).spawn().expect("postgres");
        self.child = Some(child);
        let t0 = Instant::now();
        loop {
            let ok = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                break;
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!("postgres exited ({status}): {}", std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default());
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "postgres did not start in 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stop the server (a fast shutdown: clients are disconnected, what was committed stays).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGINT: PostgreSQL's fast shutdown.
            unsafe {
                libc::kill(c.id() as i32, libc::SIGINT);
            }
            let _ = c.wait();
        }
    }

    /// Run SQL as the superuser (None) or as (role, database).
    pub fn psql(&self, who: Option<(&str, &str)>, sql: &str) -> String {
        let (role, db) = who.unwrap_or((SUPERUSER, "postgres"));
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", role, "-d", db, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .env("PGPASSWORD", password_of(role))
            .stdin(Stdio::null())
            .output()
            .expect("psql");
        assert!(out.status.success(), "psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn url(&self, role: &str) -> String {
        format!("postgres://{role}@127.0.0.1:{}/{DB}", self.port)
    }

    /// An owner-only password file for `role` in `dir` (given to `owner`, an OS account, when set).
    pub fn password_file(&self, dir: &Path, role: &str, owner: Option<&str>) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(format!("{role}.pw"));
        std::fs::write(&p, password_of(role)).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        if let Some(o) = owner {
            give(&p, o);
        }
        p
    }

    /// The store's settings for `role` (its password file written in the server's directory).
    pub fn config(&self, role: &str) -> scimitar::store::pg::PgConfig {
        let mut c = scimitar::store::pg::PgConfig::parse(&self.url(role)).unwrap();
        c.password = scimitar::store::pg::Password::File(self.password_file(self.dir.path(), role, None));
        c
    }

    /// `[store]` lines for a config.toml (password file in `dir`, owned by `owner` if set).
    pub fn config_toml(&self, role: &str, dir: &Path, owner: Option<&str>) -> String {
        let pw = self.password_file(dir, role, owner);
        format!("[store]\nurl = \"{}\"\npassword_file = \"{}\"\n", self.url(role), pw.display())
    }

    /// Open the store as the owner first (it runs the migrations), then as `role`.
    pub fn store(&self, role: &str) -> scimitar::store::Store {
        scimitar::store::Store::postgres(&self.config("scimitar_owner")).expect("the owner migrates the store");
        scimitar::store::Store::postgres(&self.config(role)).expect("open the store")
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe {
                libc::kill(c.id() as i32, libc::SIGQUIT);
            }
            let _ = c.wait();
        }
    }
}
