//! Live across consoles (issue 21, item 7): another process writes to the store, and the
//! console's model shows the new records as they happen, with no key pressed: the store's watch
//! (PostgreSQL's LISTEN/NOTIFY, SQLite's `PRAGMA data_version` polled every second) wakes the
//! runtime's reader, which hands `Msg::StoreNews` to the app; the Log names each operation and
//! who did it. On both backends, with a real second process (the binary) writing through our
//! emulator on 127.0.0.1.

mod common;
#[path = "common/pg.rs"]
mod pg;

use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret, User};
use scimitar_console::{App, Msg};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

async fn emulator(seed: u64) -> (Emulator, ScimClient) {
    let cfg = EmulatorConfig { users: 30, groups: 2, seed, token: format!("xoxp-live-{seed}"), ..Default::default() };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    (emu, ScimClient::new(cc).unwrap())
}

async fn two_active(client: &ScimClient) -> Vec<User> {
    let all = client.all_users(None).await.unwrap();
    all.into_iter().filter(|u| u.is_active() && scimitar::policy::plan::never_deactivate(u, &[]).is_none()).take(2).collect()
}

/// The console's model, as the runtime builds it.
fn console() -> App {
    let mut app = App::new("127.0.0.1", "SCIM v2", scimitar_console::theme::ThemeSet::builtin(), scimitar_console::theme::Theme::default());
    app.update(Msg::Resize(120, 40));
    app
}

/// Another process (the binary, as another admin would run it) deactivates `users` through the
/// emulator, writing to the store `config_dir` points at.
async fn another_process_deactivates(emu: &Emulator, root: &Path, store_toml: &str, users: &[User]) {
    let config = root.join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        format!("default_profile = \"acme\"\n[profiles.acme]\nurl = \"{}\"\n\n{store_toml}\n", emu.base_url(ApiVersion::V2)),
    )
    .unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_scimitar"));
    c.args(["users", "deactivate", "--yes"])
        .args(users.iter().map(|u| u.primary_email().unwrap().to_string()))
        .env("SLACK_SCIM_TOKEN", emu.token())
        .env("SCIMITAR_CONFIG_DIR", &config)
        .env("SCIMITAR_DATA_DIR", root.join("data"))
        .env_remove("SCIMITAR_STORE_URL")
        .env_remove("SCIMITAR_URL")
        .env_remove("SCIMITAR_PROFILE")
        .stdin(Stdio::null());
    let o = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The console watches `store`; another process deactivates two users; within a few ticks the
/// Log says both, naming the OS account and the batch, and no key was pressed.
async fn shows_others_writes(store: scimitar::store::Store, emu: &Emulator, client: &ScimClient, root: &Path, store_toml: &str) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _watch = scimitar_console::watch_store(store, tx).expect("the store can be watched");
    // (the reader takes its starting point: the newest record now)
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut app = console();
    let users = two_active(client).await;
    another_process_deactivates(emu, root, store_toml, &users).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut seen = 0;
    while seen < 2 {
        let m = tokio::time::timeout_at(deadline, rx.recv()).await.expect("the other process's records arrive by themselves").unwrap();
        if let Msg::StoreNews(recs) = &m {
            seen += recs.iter().filter(|r| r.record.action == "deactivate").count();
        }
        app.update(m);
    }
    let log: Vec<String> = app.log.iter().map(|e| e.text.clone()).collect();
    for u in &users {
        let email = u.primary_email().unwrap();
        assert!(
            log.iter().any(|l| l.contains(&format!("deactivate {email}: done")) && l.contains('@') && l.contains("(b-")),
            "the Log names {email}, who and the batch: {log:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_s_writes_show_in_the_console_on_sqlite() {
    let (emu, client) = emulator(81).await;
    let root = tempfile::tempdir().unwrap();
    let db = root.path().join("data/scimitar.db");
    let store = scimitar::store::Store::sqlite(&db).unwrap();
    shows_others_writes(store, &emu, &client, root.path(), "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_s_writes_show_in_the_console_on_postgres() {
    let server = pg::PgServer::start();
    let store = server.store("ann");
    let (emu, client) = emulator(82).await;
    let root = tempfile::tempdir().unwrap();
    let toml = server.config_toml("bob", root.path(), None);
    shows_others_writes(store, &emu, &client, root.path(), &toml).await;
}
