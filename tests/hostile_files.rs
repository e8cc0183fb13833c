//! Broken files never turn into deactivations or half-run batches: the real binary against the
//! emulator on 127.0.0.1, with a policy source and `--from` files that do not parse completely.

mod common;
use common::hostile::scimitar_in;
use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::scim::ApiVersion;

const TOKEN: &str = "xoxp-files-test-token-7777";

async fn emulator() -> Emulator {
    let cfg = EmulatorConfig { users: 120, groups: 4, seed: 5, token: TOKEN.into(), ..Default::default() };
    Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn deactivated(dir: &std::path::Path, url: &str) -> usize {
    let r = scimitar_in(dir, url, TOKEN, &["--throttle", "off", "users", "list", "--active", "false", "-o", "csv"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    r.stdout().lines().count() - 1
}

/// One unclosed quote used to swallow the rest of the source silently: every later row was
/// "not in source", and apply deactivated them (stopped only by the ceilings).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unclosed_quote_in_a_policy_source_stops_plan_and_apply() {
    let emu = emulator().await;
    let url = emu.base_url(ApiVersion::V2);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = scimitar_in(d, &url, TOKEN, &["--throttle", "off", "users", "export", "-o", "csv"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    std::fs::write(d.join("users.csv"), r.stdout()).unwrap();
    let policy = d.join("policy.toml");
    std::fs::write(&policy, scimitar::policy::config::EXPORT_POLICY).unwrap();
    let p = policy.to_str().unwrap();
    let r = scimitar_in(d, &url, TOKEN, &["--throttle", "off", "plan", "--policy", p]);
    assert_eq!(r.code(), Some(0), "the export plans as nothing to do: {} {}", r.stdout(), r.stderr());
    let before = deactivated(d, &url);

    // An opening quote in line 6 that nothing closes.
    let mut lines: Vec<String> = std::fs::read_to_string(d.join("users.csv")).unwrap().lines().map(str::to_string).collect();
    lines[5] = lines[5].replacen(',', ",\"", 1);
    let column = lines[5].find('"').unwrap() + 1;
    std::fs::write(d.join("users.csv"), lines.join("\n") + "\n").unwrap();

    let r = scimitar_in(d, &url, TOKEN, &["--throttle", "off", "plan", "--policy", p]);
    assert_eq!(r.code(), Some(64), "{} {}", r.stdout(), r.stderr());
    assert!(r.stderr().contains(&format!("users.csv:6:{column}: this quote is never closed")), "{}", r.stderr());
    assert!(!r.stdout().contains("deactivate"), "no plan from a source that did not parse: {}", r.stdout());
    let r = scimitar_in(d, &url, TOKEN, &["--throttle", "off", "apply", "--policy", p, "--yes", "--force"]);
    assert_eq!(r.code(), Some(64), "{} {}", r.stdout(), r.stderr());
    assert_eq!(deactivated(d, &url), before, "nobody was deactivated");
}

/// README: write commands check every input row first and run nothing if any is bad.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unclosed_quote_in_users_create_from_runs_nothing() {
    let emu = emulator().await;
    let url = emu.base_url(ApiVersion::V2);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let new = d.join("new.csv");
    std::fs::write(&new, "email,first_name\nzoe.new@acme-corp.example,Zoe\nyan.new@acme-corp.example,\"Yan\nxi.new@acme-corp.example,Xi\n")
        .unwrap();
    let r = scimitar_in(d, &url, TOKEN, &["--throttle", "off", "users", "create", "--from", new.to_str().unwrap(), "--yes"]);
    assert_eq!(r.code(), Some(64), "{} {}", r.stdout(), r.stderr());
    assert!(r.stderr().contains("line 3, column 27") && r.stderr().contains("never closed"), "{}", r.stderr());
    let r = scimitar_in(d, &url, TOKEN, &["users", "find", "zoe.new@acme-corp.example", "yan.new@acme-corp.example"]);
    assert_eq!(r.code(), Some(1), "neither was created: {}", r.stdout());
    assert!(r.stderr().contains("2 of 2 not found"), "{}", r.stderr());
}

/// An invisible byte-order mark at the start of a list used to make its first email "not found".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byte_order_mark_does_not_hide_the_first_user() {
    let emu = emulator().await;
    let url = emu.base_url(ApiVersion::V2);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = scimitar_in(d, &url, TOKEN, &["--throttle", "off", "users", "list", "--active", "true", "--limit", "3", "-o", "csv"]);
    let emails: Vec<String> = r.stdout().lines().skip(2).map(|l| l.split(',').nth(2).unwrap().to_string()).collect();
    let list = d.join("leavers.txt");
    std::fs::write(&list, format!("\u{feff}{}\n{}\n", emails[0], emails[1])).unwrap();
    let r = scimitar_in(d, &url, TOKEN, &["--throttle", "off", "users", "deactivate", "--from", list.to_str().unwrap(), "--dry-run"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert!(r.stdout().contains(&emails[0]), "{}", r.stdout());
}
