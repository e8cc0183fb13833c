//! One environment, built once at the edge: the config dir moves everything with it, the demo
//! builds its environment the same way (so `[ui] theme` and user themes apply) in a private data
//! dir of its own, and no library code reads the process environment.

mod common;
use common::pty::Session;
use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::scim::ApiVersion;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// `scimitar demo` makes a fresh 0700 data dir under TMPDIR, writes its HR export and policy
/// there 0600, and removes it on quit.
#[test]
fn the_demo_data_dir_is_private_and_gone_after_quit() {
    let tmp = tempfile::tempdir().unwrap();
    let tmpdir = tmp.path().to_str().unwrap().to_string();
    let mut s =
        Session::start_env(&["demo", "--users", "60", "--groups", "4"], tempfile::tempdir().unwrap(), false, &[("TMPDIR", &tmpdir)]);
    s.wait_for("the demo to load", |sc| sc.contains("users 60/60"));
    let dirs: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let d = &dirs[0];
    assert!(d.file_name().unwrap().to_string_lossy().starts_with("scimitar-demo-"), "{d:?}");
    assert_eq!(mode(d), 0o700, "{d:?}");
    assert_eq!(mode(&d.join("demo-hr.csv")), 0o600);
    assert_eq!(mode(&d.join("policies/demo-hr.toml")), 0o600);
    assert!(std::fs::read_to_string(d.join("demo-hr.csv")).unwrap().lines().count() > 10);
    s.type_keys("q");
    assert!(s.wait_exit().success());
    assert!(!d.exists(), "the demo's data dir is removed on quit");
}

/// The config's `[ui] theme` and a user theme from `themes/` of the config dir apply to the demo.
#[test]
fn the_demo_uses_the_configured_theme() {
    let status_bg = |config: tempfile::TempDir| {
        // A 24-bit terminal: the theme's colours are written as they are (on a 256-colour one
        // they are brought down to the nearest of its colours, issue 25 defect 9).
        let mut s =
            Session::start_env(&["demo", "--users", "40", "--groups", "3", "--no-policy"], config, true, &[("COLORTERM", "truecolor")]);
        s.wait_for("the demo to load", |sc| sc.contains("users 40/40"));
        let bg = s.state.lock().unwrap().0.screen().cell(common::pty::ROWS - 1, 2).unwrap().bgcolor();
        s.type_keys("q");
        assert!(s.wait_exit().success());
        bg
    };
    let plain = status_bg(tempfile::tempdir().unwrap());
    let config = tempfile::tempdir().unwrap();
    std::fs::write(config.path().join("config.toml"), "[ui]\ntheme = \"mine\"\n").unwrap();
    std::fs::create_dir(config.path().join("themes")).unwrap();
    std::fs::write(
        config.path().join("themes/mine.toml"),
        "extends = \"default\"\n[styles]\nstatus_bar = { fg = \"#000000\", bg = \"#ff00aa\" }\n",
    )
    .unwrap();
    let themed = status_bg(config);
    assert_eq!(themed, vt100::Color::Rgb(0xff, 0x00, 0xaa), "the status line takes the configured theme (default: {plain:?})");
    assert_ne!(plain, themed);
}

/// `--config DIR/FILE` moves the policies (and the data dir) with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_config_file_brings_its_policies_and_data_dir() {
    let emu = Emulator::start(
        EmulatorConfig { users: 30, groups: 2, token: "xoxp-env-test".into(), ..Default::default() },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let cfg = root.path().join("elsewhere");
    std::fs::create_dir_all(cfg.join("policies")).unwrap();
    std::fs::write(cfg.join("my-config.toml"), "").unwrap();
    std::fs::write(
        cfg.join("policies/hr.toml"),
        "match_on = \"email\"\n[source]\npath = \"hr.csv\"\nid_column = \"email\"\n[attributes]\n\"emails.work\" = \"email\"\nuserName = \"user_name\"\n[provisioning]\nremove_action = \"report\"\n",
    )
    .unwrap();
    std::fs::write(cfg.join("policies/hr.csv"), "email,user_name\nfresh.hire@env-test.example,fresh.hire\n").unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_scimitar"));
    cmd.args(["--throttle", "off", "--config"])
        .arg(cfg.join("my-config.toml"))
        .args(["plan", "--policy", "hr"])
        .env("SCIMITAR_URL", emu.base_url(ApiVersion::V2))
        .env("SLACK_SCIM_TOKEN", emu.token())
        .env_remove("SCIMITAR_CONFIG_DIR")
        .env_remove("SCIMITAR_DATA_DIR")
        .env_remove("SCIMITAR_PROFILE")
        .env_remove("SCIMITAR_CONFIG")
        .current_dir(root.path());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "changes to make: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("fresh.hire@env-test.example"), "{stdout}");
    emu.shutdown().await;
}

/// Flags and environment variables are read at the edge (the binary's `cli.rs` and `main.rs`);
/// no library crate reads the process environment or changes it.
#[test]
fn no_library_crate_reads_the_environment() {
    let mut offenders = Vec::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("crates")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                for (i, line) in text.lines().enumerate() {
                    if ["env::var(", "env::var_os(", "env::vars(", "set_var(", "remove_var("].iter().any(|n| line.contains(n)) {
                        offenders.push(format!("{}:{}: {}", p.display(), i + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(offenders.is_empty(), "library code reads the environment:\n{}", offenders.join("\n"));
}
