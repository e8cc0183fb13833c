//! Issue 20: every change is guarded, verified and can be undone. The real binary against the
//! emulator over real HTTP on 127.0.0.1 (and the hostile fixture where a server must lie): what
//! an admin would see, and what the server then holds.
//!
//! The binary gets its URL, token and directories from the child's environment, so tests never
//! change this process's environment and can run in parallel.

mod common;

use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::scim::{ApiVersion, ClientConfig, MultiValue, RateLimit, ScimClient, Secret, User, UserUpdate};
use std::path::{Path, PathBuf};
use std::process::Output;

struct Env {
    emu: Emulator,
    dir: tempfile::TempDir,
    client: ScimClient,
}

impl Env {
    async fn start(users: usize, groups: usize) -> Env {
        Env::with(EmulatorConfig { users, groups, seed: 20, token: "xoxp-guards-test".into(), ..Default::default() }).await
    }

    async fn with(cfg: EmulatorConfig) -> Env {
        let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
        cc.rate_limit = RateLimit::Off;
        let client = ScimClient::new(cc).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for d in ["data", "config/policies", "work"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Env { emu, dir, client }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }
    fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// Write the config file (profiles, ceilings, protected list).
    fn config(&self, toml: &str) {
        std::fs::write(self.config_dir().join("config.toml"), toml).unwrap();
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_scimitar"));
        cmd.args(args)
            .env("SCIMITAR_URL", self.emu.base_url(ApiVersion::V2))
            .env("SLACK_SCIM_TOKEN", self.emu.token())
            .env("SCIMITAR_DATA_DIR", self.data())
            .env("SCIMITAR_CONFIG_DIR", self.config_dir())
            .env_remove("SCIMITAR_PROFILE")
            .env_remove("SCIMITAR_CONFIG")
            .env_remove("SCIMITAR_API")
            .current_dir(self.work())
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// Run the real binary (off the async workers, so the emulator serves), unthrottled.
    async fn scimitar(&self, args: &[&str]) -> Output {
        let mut all = vec!["--throttle", "off"];
        all.extend_from_slice(args);
        let mut cmd = self.command(&all);
        tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
    }

    async fn users(&self) -> Vec<User> {
        self.client.all_users(None).await.unwrap()
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn show(o: &Output) -> String {
    format!("exit {}\nstdout:\n{}\nstderr:\n{}", code(o), stdout(o), stderr(o))
}

/// Ordinary active users (not the primary owner, not bots).
fn ordinary(emu: &Emulator, users: &[User]) -> Vec<User> {
    let owner = emu.primary_owner_id();
    let bots = emu.bot_ids();
    users.iter().filter(|u| u.is_active() && u.id() != owner && !bots.iter().any(|b| b == u.id())).cloned().collect()
}

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

// ---- item 6: protected users on every email, id and userName, any case ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_protected_by_a_secondary_email_is_never_deactivated() {
    let env = Env::start(30, 2).await;
    let users = ordinary(&env.emu, &env.users().await);
    let (pat, sam) = (&users[0], &users[1]);
    // Pat has a personal address as a secondary email; the protected list names it, in capitals.
    let primary = pat.primary_email().unwrap().to_string();
    let set = User {
        emails: Some(vec![MultiValue::email(&primary, true), MultiValue::email("pat.personal@home.example", false)]),
        ..Default::default()
    };
    env.client.update_user(pat.id(), &UserUpdate { set, clear: vec![] }).await.unwrap();
    let sam_name = sam.user_name.clone().unwrap().to_uppercase();
    env.config(&format!("[profiles.default]\nprotected = [\"PAT.PERSONAL@HOME.EXAMPLE\", \"{sam_name}\"]\n"));
    env.emu.reset_stats();
    let o = env.scimitar(&["users", "deactivate", "--yes", &primary, sam.primary_email().unwrap()]).await;
    let err = stderr(&o);
    assert!(err.contains("protected"), "{}", show(&o));
    assert_eq!(env.emu.stats().writes(), 0, "nothing was sent: {}", show(&o));
    let now = env.users().await;
    for id in [pat.id(), sam.id()] {
        assert!(now.iter().find(|u| u.id() == id).unwrap().is_active(), "{id} is still active");
    }
}
