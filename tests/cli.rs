//! The headless lookup commands, run as the real binary against the emulator on 127.0.0.1.

use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::scim::ApiVersion;
use std::process::{Command, Output, Stdio};

const TOKEN: &str = "xoxp-cli-test-token-4242";

async fn emulator() -> Emulator {
    let cfg = EmulatorConfig { users: 120, groups: 6, seed: 3, token: TOKEN.into(), ..Default::default() };
    Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn run(url: &str, token: &str, args: &[&str]) -> Output {
    let dir = std::env::temp_dir().join("scimitar-cli-test-empty-config");
    Command::new(env!("CARGO_BIN_EXE_scimitar"))
        .args(args)
        .env("SCIMITAR_URL", url)
        .env("SLACK_SCIM_TOKEN", token)
        .env("SCIMITAR_CONFIG_DIR", &dir)
        .env("SCIMITAR_DATA_DIR", &dir)
        .env_remove("SCIMITAR_PROFILE")
        .env_remove("SCIMITAR_API")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn no_token(o: &Output) {
    let (out, err) = text(o);
    assert!(!out.contains(TOKEN) && !err.contains(TOKEN), "the token must never be printed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_with_every_output_format() {
    let emu = emulator().await;
    let url = emu.base_url(ApiVersion::V2);
    let o = run(&url, TOKEN, &["check"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(text(&o).0.contains("token accepted         yes"), "{}", text(&o).0);
    no_token(&o);

    let o = run(&url, TOKEN, &["users", "list", "--limit", "3", "-o", "csv"]);
    let (out, _) = text(&o);
    let mut rdr = csv::Reader::from_reader(out.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let email = rows[1][2].to_string();
    let id = rows[1][0].to_string();

    // find: two hits (one in upper case) and a miss -> exit 1, rows in input order
    let o = run(&url, TOKEN, &["users", "find", &email.to_uppercase(), "ghost@acme-corp.example", "-o", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let (out, err) = text(&o);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["id"], id.as_str());
    assert_eq!(lines[1]["found"], false);
    assert!(err.contains("1 of 2 not found"), "{err}");

    let o = run(&url, TOKEN, &["users", "show", &id]);
    assert_eq!(o.status.code(), Some(0));
    let (out, _) = text(&o);
    assert!(out.contains(&email) && out.contains("department"), "{out}");

    let o = run(&url, TOKEN, &["users", "show", "W0NOBODY00"]);
    assert_eq!(o.status.code(), Some(66));
    assert!(text(&o).1.contains("no user with id or userName \"W0NOBODY00\""), "{}", text(&o).1);

    let o = run(&url, TOKEN, &["users", "list", "--active", "false", "-o", "json"]);
    let out = text(&o).0;
    assert!(out.lines().count() > 0 && out.lines().all(|l| l.contains("\"active\":false")), "{out}");

    let o = run(&url, TOKEN, &["users", "list", "--filter", "userName eq"]);
    assert_eq!(o.status.code(), Some(64));
    assert!(text(&o).1.contains("--filter"), "{}", text(&o).1);

    let o = run(&url, TOKEN, &["groups", "list"]);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o).0;
    let first_group = out.lines().nth(1).unwrap().split_whitespace().nth(1).unwrap().to_string();
    let o = run(&url, TOKEN, &["groups", "show", &first_group, "-o", "csv"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(text(&o).0.starts_with("member_id,display"));
    let o = run(&url, TOKEN, &["groups", "show", "no-such-group"]);
    assert_eq!(o.status.code(), Some(66));

    // v1 works the same way
    let o = run(&emu.base_url(ApiVersion::V1), TOKEN, &["users", "find", &email]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors_and_exit_codes() {
    let emu = emulator().await;
    let url = emu.base_url(ApiVersion::V2);

    // malformed email on the command line: nothing is sent
    emu.reset_stats();
    let o = run(&url, TOKEN, &["users", "find", "jane.doe", "ok@acme-corp.example"]);
    assert_eq!(o.status.code(), Some(64));
    assert!(text(&o).1.contains("argument 1: \"jane.doe\" is not an email address"), "{}", text(&o).1);
    assert_eq!(emu.stats().requests, 0);

    // wrong token, on both versions
    let o = run(&url, "xoxp-wrong-token", &["users", "find", "ok@acme-corp.example"]);
    assert_eq!(o.status.code(), Some(77));
    assert!(text(&o).1.contains("token"), "{}", text(&o).1);
    assert!(!text(&o).1.contains("xoxp-wrong-token"));
    let o = run(&emu.base_url(ApiVersion::V1), "xoxp-wrong-token", &["check"]);
    assert_eq!(o.status.code(), Some(77));

    // unreachable URL
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let o = run(&format!("http://127.0.0.1:{port}/scim/v2/"), TOKEN, &["check"]);
    assert_eq!(o.status.code(), Some(69));
    assert!(text(&o).1.contains("could not reach"), "{}", text(&o).1);

    // plain http to a remote host is refused before anything is sent
    let o = run("http://scim.example.com/scim/v2/", TOKEN, &["check"]);
    assert_eq!(o.status.code(), Some(64));
    assert!(text(&o).1.contains("clear text"));

    // a server that answers HTML
    let app = axum::Router::new().fallback(|| async { axum::response::Html("<!doctype html><title>Login</title>") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let o = run(&format!("http://{addr}/scim/v2/"), TOKEN, &["users", "list"]);
    assert_eq!(o.status.code(), Some(69));
    assert!(text(&o).1.contains("HTML page instead of SCIM JSON"), "{}", text(&o).1);

    // no token at all
    let o = Command::new(env!("CARGO_BIN_EXE_scimitar"))
        .args(["check"])
        .env("SCIMITAR_URL", &url)
        .env_remove("SLACK_SCIM_TOKEN")
        .env("SCIMITAR_CONFIG_DIR", std::env::temp_dir().join("scimitar-cli-test-empty-config"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78));
    assert!(text(&o).1.contains("SLACK_SCIM_TOKEN"));
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_files_and_profiles() {
    use std::os::unix::fs::PermissionsExt;
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let tok = dir.path().join("token");
    std::fs::write(&tok, format!("{TOKEN}\n")).unwrap();
    std::fs::set_permissions(&tok, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "default_profile = \"lab\"\n[profiles.lab]\nurl = \"{}\"\ntoken_file = \"{}\"\n",
            emu.base_url(ApiVersion::V1),
            tok.display()
        ),
    )
    .unwrap();
    let cmd = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_scimitar"))
            .args(args)
            .env("SCIMITAR_CONFIG_DIR", dir.path())
            .env_remove("SLACK_SCIM_TOKEN")
            .env_remove("SCIMITAR_URL")
            .output()
            .unwrap()
    };
    let o = cmd(&["check"]);
    assert_eq!(o.status.code(), Some(78), "a token file others can read is refused");
    assert!(text(&o).1.contains("chmod 600"));
    std::fs::set_permissions(&tok, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = cmd(&["check", "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let v: serde_json::Value = serde_json::from_str(text(&o).0.trim()).unwrap();
    assert_eq!((v["version"].as_str(), v["profile"].as_str()), (Some("v1"), Some("lab")));
    no_token(&o);
    let o = cmd(&["--profile", "nope", "check"]);
    assert_eq!(o.status.code(), Some(78));
    assert!(text(&o).1.contains("no profile named \"nope\""));
}

#[test]
fn every_command_has_help() {
    let cmds: &[&[&str]] = &[
        &[],
        &["check"],
        &["users"],
        &["users", "find"],
        &["users", "show"],
        &["users", "list"],
        &["users", "deactivate"],
        &["users", "reactivate"],
        &["users", "create"],
        &["groups"],
        &["groups", "list"],
        &["groups", "show"],
        &["groups", "create"],
        &["groups", "rename"],
        &["groups", "delete"],
        &["groups", "add"],
        &["groups", "remove"],
        &["resume"],
        &["report"],
        &["report", "verify"],
        &["emulator"],
    ];
    for c in cmds {
        let mut args: Vec<&str> = c.to_vec();
        args.push("--help");
        let o = Command::new(env!("CARGO_BIN_EXE_scimitar")).args(&args).env("SLACK_SCIM_TOKEN", TOKEN).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("Usage:"), "{args:?}: {out}");
        assert!(!out.contains(TOKEN), "help never shows the token from the environment");
    }
}

/// Issue 25 (1): a usage error exits 64 (EX_USAGE), never 2 (`plan`'s "there are changes");
/// `--help` and `--version` still exit 0.
#[test]
fn usage_errors_exit_64_and_help_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let bin = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_scimitar"))
            .args(args)
            .env("SCIMITAR_CONFIG_DIR", dir.path())
            .env("SCIMITAR_DATA_DIR", dir.path())
            .env("SLACK_SCIM_TOKEN", TOKEN)
            .env("SCIMITAR_URL", "http://127.0.0.1:9/scim/v2/")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let usage: &[&[&str]] = &[
        &["plan", "--polcy", "hr"],
        &["plan"],
        &["report", "--outcome", "bogus"],
        &["users", "find"],
        &["bogus"],
        &["users"],
        &["apply", "--policy"],
        &["users", "list", "--deadline", "soon"],
        &["completions", "tcsh"],
    ];
    for args in usage {
        let o = bin(args);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(64), "{args:?}: {out}{err}");
        assert!(out.is_empty() && !err.is_empty(), "{args:?}: the message goes to stderr: {out}|{err}");
    }
    for args in [&["--help"][..], &["--version"], &["plan", "--help"], &["users", "--help"], &["help", "users"]] {
        let o = bin(args);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert!(!out.is_empty(), "{args:?}: on stdout");
    }
}

/// Issue 25 (13): `demo --url` was accepted and ignored (a v1 URL still gave the v2 emulator):
/// it is refused, naming what to use instead; SCIMITAR_URL in the environment is not a flag and
/// does not stop the demo (covered by `console_e2e::demo_speaks_v1_with_api_v1`).
#[test]
fn demo_refuses_url() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["demo", "--url", "http://127.0.0.1:9/scim/v1/"][..], &["--url", "http://127.0.0.1:9/scim/v1/", "demo", "--users", "10"]]
    {
        let o = Command::new(env!("CARGO_BIN_EXE_scimitar"))
            .args(args)
            .env("SCIMITAR_CONFIG_DIR", dir.path())
            .env("SCIMITAR_DATA_DIR", dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(64), "{args:?}: {err}");
        assert!(err.contains("--url does not apply") && err.contains("demo --api v1"), "{err}");
    }
}

/// Issue 25 (23): counted nouns in headless messages agree with the count (`exported 1 users`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_counts_agree_with_their_nouns() {
    let cfg = EmulatorConfig { users: 1, groups: 0, seed: 3, token: TOKEN.into(), ..Default::default() };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = emu.base_url(ApiVersion::V2);
    let o = tokio::task::spawn_blocking(move || run(&url, TOKEN, &["--throttle", "off", "users", "export", "-o", "json"])).await.unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("exported 1 user") && !err.contains("1 users"), "{err}");
}

/// `run` with a data and config dir of the test's own.
fn run_in(dir: &std::path::Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scimitar"))
        .args(args)
        .env("SCIMITAR_URL", url)
        .env("SLACK_SCIM_TOKEN", TOKEN)
        .env("SCIMITAR_CONFIG_DIR", dir)
        .env("SCIMITAR_DATA_DIR", dir)
        .env_remove("SCIMITAR_PROFILE")
        .env_remove("SCIMITAR_API")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `--read-only` refuses every headless write (each write command, `apply`, `resume` with a batch
/// open in the journal) before it connects: not one request reaches the emulator (counted by
/// method), the open batch stays open, and lookups still work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_refuses_writes() {
    use scimitar::queue::{Action, BatchInfo, Journal, Knowledge, RunContext, Safety, Target};
    let emu = emulator().await;
    let url = emu.base_url(ApiVersion::V2);
    let c = scimitar::scim::ScimClient::new(
        scimitar::scim::ClientConfig::new(&url, scimitar::scim::Secret::new(TOKEN.to_string()), ApiVersion::V2).unwrap(),
    )
    .unwrap();
    let owner = emu.primary_owner_id();
    let victim = c.all_users(None).await.unwrap().into_iter().find(|u| u.is_active() && u.id() != owner).unwrap();
    let group = c.all_groups().await.unwrap().remove(0);
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    std::fs::write(p("hires.csv"), "email,first_name,last_name\nro.new@acme-corp.example,Ro,New\n").unwrap();
    std::fs::write(p("hr.csv"), "email,user_name\nro.new@acme-corp.example,ro.new\n").unwrap();
    std::fs::write(
        p("hr.toml"),
        "match_on = \"email\"\n[source]\npath = \"hr.csv\"\nid_column = \"email\"\n[attributes]\n\"emails.work\" = \"email\"\nuserName = \"user_name\"\n",
    )
    .unwrap();
    // A run that was killed left a batch open in the journal.
    let open = {
        let j = Journal::open(&dir.path().join("scimitar.db"), RunContext::new("default", &c.host(), &scimitar::env::Actor::default()))
            .unwrap();
        let d =
            scimitar::queue::gate(&Safety::default(), vec![Action::Deactivate { target: Target::of_user(&victim) }], &Knowledge::default());
        let info = BatchInfo { origin: "headless".into(), policy_run: None, description: "deactivate users".into() };
        scimitar::queue::submit(&j, &info, d).unwrap().id().to_string()
    };
    emu.reset_stats();
    let (id, g) = (victim.id(), group.name());
    let (hires, policy) = (p("hires.csv"), p("hr.toml"));
    for args in [
        vec!["users", "deactivate", "--yes", id],
        vec!["users", "deactivate", "--dry-run", id],
        vec!["users", "reactivate", "--yes", id],
        vec!["users", "create", "--from", &hires, "--yes"],
        vec!["groups", "create", "--yes", "newgroup", id],
        vec!["groups", "rename", g, "renamed", "--yes"],
        vec!["groups", "delete", g, "--yes"],
        vec!["groups", "add", g, id, "--yes"],
        vec!["groups", "remove", g, id, "--yes"],
        vec!["apply", "--policy", &policy, "--yes", "--force"],
        vec!["resume", "--yes"],
        vec!["resume", "--batch", &open, "--retry-failed", "--yes"],
    ] {
        let mut args = args.clone();
        args.insert(0, "--read-only");
        let o = run_in(dir.path(), &url, &args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(64), "{args:?}: {err}");
        assert!(err.contains("--read-only: this command changes Slack; nothing was done"), "{args:?}: {err}");
    }
    let s = emu.stats();
    assert_eq!(s.writes(), 0, "{:?}", s.by_method);
    assert_eq!(s.requests, 0, "refused before connecting: {:?}", s.by_method);
    assert!(c.get_user(victim.id()).await.unwrap().is_active(), "nothing was changed");
    let j =
        Journal::open(&dir.path().join("scimitar.db"), RunContext::new("default", &c.host(), &scimitar::env::Actor::default())).unwrap();
    let left = j.unfinished_batches().unwrap();
    assert_eq!((left.len(), left[0].batch_id.as_str(), left[0].open), (1, open.as_str(), 1), "the open batch is left as it was");
    let o = run_in(dir.path(), &url, &["--read-only", "groups", "list"]);
    assert!(o.status.success(), "{:?}", text(&o));
    // Without --read-only the same resume finishes the batch.
    let o = run_in(dir.path(), &url, &["resume", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_eq!(c.get_user(victim.id()).await.unwrap().active, Some(false));
}

#[test]
fn the_emulator_command_prints_its_url_first_and_serves() {
    use std::io::{BufRead, BufReader};
    let mut emu = Command::new(env!("CARGO_BIN_EXE_scimitar"))
        .args(["emulator", "--listen", "127.0.0.1:0", "--users", "25", "--groups", "2", "--token", TOKEN])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(emu.stdout.take().unwrap()).lines();
    let v2 = lines.next().unwrap().unwrap();
    let v1 = lines.next().unwrap().unwrap();
    assert!(v2.starts_with("http://127.0.0.1:") && v2.ends_with("/scim/v2/"), "{v2}");
    assert!(v1.ends_with("/scim/v1/"), "{v1}");
    let o = run(&v2, TOKEN, &["check", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(text(&o).0.trim()).unwrap();
    assert_eq!(v["total_users"], 25);
    let o = run(&v1, TOKEN, &["users", "list", "-o", "csv"]);
    assert_eq!(text(&o).0.lines().count(), 26, "header + 25 users over v1");
    let _ = emu.kill();
    let _ = emu.wait();
}
