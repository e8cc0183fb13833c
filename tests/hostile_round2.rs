//! Hostile, second round (issue 22): redirects, echoed secrets, planted links, the metrics port,
//! child processes, core dumps, CSV cells, listings that shrink or never end. Each test drives the
//! real binary against a hostile server of our own on 127.0.0.1 (tests/common/hostile.rs), files
//! planted in a throwaway data dir, or a child process that prints what it was given.

mod common;
use common::hostile::{Hostile, Mode, scimitar, scimitar_in};

/// Not `xox?-` shaped, and with a `/` (a JSON encoder may write it `\/`).
const TOKEN: &str = "tok/EchoMe-4242424242";

fn no_panic(r: &common::hostile::Run) {
    let err = r.stderr();
    assert_ne!(r.code(), Some(101), "panicked: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Every file under `dir` (recursively), as bytes.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                todo.push(p);
            } else if ft.is_file() {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

// ---------- 1. redirects ----------

/// A 302 to another server is not followed (that server never hears of us) and the error says
/// where it pointed, without the query; a 307 on a write does not replay the PATCH there, and the
/// operation is recorded failed, not done.
#[test]
fn redirects_from_the_scim_server_are_never_followed() {
    let elsewhere = Hostile::start(Mode::Friendly);
    let h = Hostile::start(Mode::Redirect { status: 302, to: elsewhere.url.clone(), writes_only: false });
    let r = scimitar(&h.url, TOKEN, &["users", "show", "W0ABC12345"]);
    no_panic(&r);
    assert_eq!(r.code(), Some(69), "{} {}", r.stdout(), r.stderr());
    let err = r.stderr();
    assert!(err.contains("answered HTTP 302, redirecting to") && err.contains("never follows"), "{err}");
    assert!(err.contains(&format!("{}Users/W0ABC12345", elsewhere.url)), "names where it pointed: {err}");
    for args in [&["users", "list"][..], &["check"], &["groups", "list"]] {
        let r = scimitar(&h.url, TOKEN, args);
        no_panic(&r);
        assert_ne!(r.code(), Some(0), "{args:?}: {}", r.stderr());
        assert!(r.stderr().contains("redirecting to"), "{args:?}: {}", r.stderr());
    }
    assert_eq!(elsewhere.requests(), 0, "nothing reached the other server");

    // A query in the Location (a signature, a token) is not shown.
    let h = Hostile::start(Mode::Redirect { status: 301, to: format!("{}?sig=leaky-signature-77&x=", elsewhere.url), writes_only: false });
    let r = scimitar(&h.url, TOKEN, &["users", "show", "W0ABC12345"]);
    assert_eq!(r.code(), Some(69), "{}", r.stderr());
    assert!(!r.stderr().contains("leaky-signature"), "{}", r.stderr());

    // A 307 on the PATCH of a deactivation: not replayed elsewhere; failed, and reported so.
    let h = Hostile::start(Mode::Redirect { status: 307, to: elsewhere.url.clone(), writes_only: true });
    let dir = tempfile::tempdir().unwrap();
    let r = scimitar_in(dir.path(), &h.url, TOKEN, &["users", "deactivate", "W0ABC12345", "--yes", "--throttle", "off"]);
    no_panic(&r);
    assert_eq!(r.code(), Some(1), "{} {}", r.stdout(), r.stderr());
    assert!(r.stdout().contains("failed") && r.stdout().contains("redirecting to"), "{}", r.stdout());
    assert_eq!(elsewhere.requests(), 0, "the PATCH was not replayed to the other server");
    let r = scimitar_in(dir.path(), &h.url, TOKEN, &["report", "-o", "json"]);
    let rec: serde_json::Value = serde_json::from_str(r.stdout().lines().next().unwrap()).unwrap();
    assert_eq!(rec["outcome"], "failed", "{rec}");
}

// ---------- 2. a token echoed JSON-escaped ----------

/// The server echoes the token with every character as `\uXXXX`, and with its `/` as `\/`: the
/// decoded error text would hold it in clear. Nothing printed or stored holds it, in any form.
#[test]
fn a_token_echoed_json_escaped_is_never_printed_or_stored() {
    let h = Hostile::start(Mode::TokenEchoEscaped);
    let dir = tempfile::tempdir().unwrap();
    let escaped: String = TOKEN.encode_utf16().map(|u| format!("\\u{u:04x}")).collect();
    let slashed = TOKEN.replace('/', "\\/");
    let runs: &[&[&str]] = &[
        &["users", "show", "W0NOPE0001"],
        &["users", "show", "W0NOPE0001", "-o", "json"],
        &["users", "deactivate", "W0OK000001", "--yes", "--throttle", "off"],
        &["users", "deactivate", "W0OK000002", "--yes", "--throttle", "off", "-o", "json"],
        &["report", "-o", "json"],
        &["report", "-o", "csv"],
    ];
    for args in runs {
        let r = scimitar_in(dir.path(), &h.url, TOKEN, args);
        no_panic(&r);
        for (what, text) in [("stdout", r.stdout()), ("stderr", r.stderr())] {
            for form in [TOKEN, escaped.as_str(), slashed.as_str(), "EchoMe-4242424242"] {
                assert!(!text.contains(form), "{args:?} {what} holds {form:?}: {text}");
            }
        }
    }
    let r = scimitar_in(dir.path(), &h.url, TOKEN, &["users", "show", "W0NOPE0001"]);
    assert!(r.stderr().contains("token [redacted] was given; also [redacted]"), "{}", r.stderr());
    let r = scimitar_in(dir.path(), &h.url, TOKEN, &["report", "-o", "json"]);
    assert!(r.stdout().contains("[redacted]"), "the failures are reported: {}", r.stdout());
    for (p, bytes) in files_under(dir.path()) {
        for form in [TOKEN, escaped.as_str(), slashed.as_str(), "EchoMe-4242424242"] {
            assert!(!holds(&bytes, form), "{} holds {form:?}", p.display());
        }
    }
}

/// A config dir with `[sync]` alerts going to a command that saves the alert JSON in
/// `alert.json` (and, with `env`, the environment it was given in `alert-env.txt`).
fn config_with_alert_command(dir: &std::path::Path, alert_on: &str) {
    let config = format!(
        "[sync]\nalert_command = \"cat > '{d}/alert.json'; env > '{d}/alert-env.txt'\"\nalert_on = [{alert_on}]\n",
        d = dir.display()
    );
    std::fs::write(dir.join("config.toml"), config).unwrap();
}

/// Every file under `dir` but `skip` holds none of `secrets`.
fn no_file_holds(dir: &std::path::Path, skip: &[&str], secrets: &[&str]) {
    for (p, bytes) in files_under(dir) {
        if skip.iter().any(|s| p.file_name().is_some_and(|n| n == *s)) {
            continue;
        }
        for s in secrets {
            assert!(!holds(&bytes, s), "{} holds {s:?}: {}", p.display(), String::from_utf8_lossy(&bytes));
        }
    }
}

// ---------- 3. a failing LDAP password_command ----------

/// Its command line (with the credential in it) is never shown: not in output, not in the alert
/// JSON, not in the database; the program name is.
#[test]
fn a_failing_ldap_password_command_is_named_by_its_program_only() {
    let h = Hostile::start(Mode::Friendly);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let secret = "hunter2-LDAP-S3cret";
    let policy = d.join("ldap.toml");
    std::fs::write(
        &policy,
        format!(
            r#"match_on = "email"
[source]
kind = "ldap"
url = "ldap://127.0.0.1:9"
bind_dn = "cn=svc,dc=example,dc=com"
password_command = "false --bind-password={secret}"
base_dn = "ou=people,dc=example,dc=com"
user_filter = "(objectClass=inetOrgPerson)"
id_column = "uid"
[attributes]
"emails.work" = "mail"
userName = "uid"
"#
        ),
    )
    .unwrap();
    config_with_alert_command(d, "\"failure\"");
    let p = policy.to_str().unwrap();
    let r = scimitar_in(d, &h.url, TOKEN, &["plan", "--policy", p]);
    no_panic(&r);
    assert_eq!(r.code(), Some(78), "{} {}", r.stdout(), r.stderr());
    assert!(r.stderr().contains("password_command `false …` failed"), "{}", r.stderr());
    assert!(!r.stderr().contains(secret) && !r.stdout().contains(secret), "{}", r.stderr());
    let r = scimitar_in(d, &h.url, TOKEN, &["sync", "--policy", p, "--once", "-o", "json"]);
    no_panic(&r);
    assert_ne!(r.code(), Some(0), "{}", r.stderr());
    assert!(!r.stderr().contains(secret) && !r.stdout().contains(secret), "{} {}", r.stdout(), r.stderr());
    let alert = std::fs::read_to_string(d.join("alert.json")).expect("the failure was alerted");
    assert!(alert.contains("password_command `false …` failed"), "{alert}");
    let r = scimitar_in(d, &h.url, TOKEN, &["sync", "status", "-o", "json"]);
    assert!(r.stdout().contains("password_command") && !r.stdout().contains(secret), "{}", r.stdout());
    no_file_holds(d, &["ldap.toml", "config.toml"], &[secret]);
}

// ---------- 4. a policy source that is a secret file ----------

/// A policy whose source path points at a secret (here a token file: one line, no commas) makes
/// that line the "header". The terminal gets at most a short cleaned excerpt of it; the database,
/// `sync status` and the alert JSON get none of it.
#[test]
fn a_source_that_is_a_secret_file_is_never_quoted_into_records_or_alerts() {
    let h = Hostile::start(Mode::Friendly);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let line = "xoxp-SECRETLINE-1111\u{1b}]0;t\u{7}-abcdefghijklmnopqrstuvwxyz-0123456789-ABCDEFGHIJKL";
    std::fs::write(d.join("vault.token"), format!("{line}\n")).unwrap();
    let policy = d.join("hr.toml");
    std::fs::write(
        &policy,
        "match_on = \"email\"\n[source]\npath = \"vault.token\"\nformat = \"csv\"\nid_column = \"email\"\n[attributes]\n\"emails.work\" = \"email\"\nuserName = \"{email|local}\"\n",
    )
    .unwrap();
    config_with_alert_command(d, "\"failure\"");
    let p = policy.to_str().unwrap();
    let r = scimitar_in(d, &h.url, TOKEN, &["plan", "--policy", p]);
    no_panic(&r);
    assert_eq!(r.code(), Some(64), "{}", r.stderr());
    let err = r.stderr();
    assert!(err.contains("unknown column `email` in") && err.contains("columns: xoxp-"), "{err}");
    assert!(!err.contains("abcdefghijklmnopqrstuvwxyz") && !err.contains('\u{1b}'), "a short, clean excerpt only: {err}");
    let r = scimitar_in(d, &h.url, TOKEN, &["sync", "--policy", p, "--once", "-o", "json"]);
    no_panic(&r);
    assert_ne!(r.code(), Some(0), "{}", r.stderr());
    assert!(!r.stdout().contains("SECRETLINE"), "{}", r.stdout());
    let alert = std::fs::read_to_string(d.join("alert.json")).expect("the failure was alerted");
    assert!(alert.contains("unknown column `email`"), "{alert}");
    let r = scimitar_in(d, &h.url, TOKEN, &["sync", "status", "-o", "json"]);
    assert!(r.stdout().contains("unknown column `email`") && !r.stdout().contains("SECRETLINE"), "{}", r.stdout());
    let r = scimitar_in(d, &h.url, TOKEN, &["sync", "status"]);
    assert!(!r.stdout().contains("SECRETLINE"), "{}", r.stdout());
    no_file_holds(d, &["vault.token"], &["SECRETLINE"]);
}

// ---------- 11. users deleted while a listing runs ----------

/// 2,500 users; after the first page 100 of those listed already are deleted, so the pages after
/// it start 100 users further on. Every user that still exists is listed, once.
#[test]
fn users_deleted_while_listing_leave_no_one_out() {
    let ids = |out: &str| -> Vec<String> { out.lines().skip(1).map(|l| l.split(',').next().unwrap().to_string()).collect() };
    let h = Hostile::start(Mode::Shrinking { users: 2500, delete: 100, times: 1 });
    let r = scimitar(&h.url, TOKEN, &["--throttle", "off", "users", "list", "-o", "csv"]);
    no_panic(&r);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let got = ids(&r.stdout());
    let unique: std::collections::BTreeSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "each user once");
    for n in 101..=2500 {
        assert!(unique.contains(&format!("W0SHRINK{n:05}")), "W0SHRINK{n:05} still exists and was left out");
    }
    // A directory that keeps shrinking under every pass: an error, never exit 0 with users missing.
    let h = Hostile::start(Mode::Shrinking { users: 5000, delete: 100, times: 100 });
    let r = scimitar(&h.url, TOKEN, &["--throttle", "off", "users", "list", "-o", "csv"]);
    no_panic(&r);
    assert_eq!(r.code(), Some(69), "{}", r.stderr());
    assert!(r.stderr().contains("the total fell while listing") && r.stderr().contains("may be missing"), "{}", r.stderr());
}

// ---------- 13. a total beyond any real org ----------

/// A server claiming 10^15 users whose every page brings one new: the listing ends at the first
/// page with a clear error (it used to page on until the 15-minute deadline), for the headless
/// listings and the lookups alike.
#[test]
fn a_total_beyond_any_real_org_ends_the_listing_at_once() {
    let h = Hostile::start(Mode::HugeTotal);
    for args in [&["users", "list"][..], &["users", "export", "-o", "csv"], &["groups", "list"]] {
        let before = h.requests();
        let started = std::time::Instant::now();
        let r = scimitar(&h.url, TOKEN, args);
        no_panic(&r);
        assert_eq!(r.code(), Some(69), "{args:?}: {}", r.stderr());
        assert!(r.stderr().contains("no Slack organisation is that large"), "{args:?}: {}", r.stderr());
        assert!(r.stderr().contains("the largest have about 500,000 people"), "{}", r.stderr());
        assert!(h.requests() - before <= 3, "{args:?}: {} requests", h.requests() - before);
        eprintln!("{args:?} against a 10^15 total: {:?}, {} requests", started.elapsed(), h.requests() - before);
    }
}

// ---------- 6. a config others can write ----------

/// A world-writable config file or config dir is refused with the fix (it can run commands);
/// nothing in it runs.
#[cfg(unix)]
#[test]
fn a_world_writable_config_is_refused_with_the_fix_and_runs_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let h = Hostile::start(Mode::Friendly);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pwned = d.join("pwned");
    let cfg = d.join("config.toml");
    std::fs::write(&cfg, format!("[profiles.default]\ntoken_command = \"touch '{}'; echo tok-from-command-1234\"\n", pwned.display()))
        .unwrap();
    let mode = |p: &std::path::Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    // As it should be: the command gives the token.
    let r = scimitar_in(d, &h.url, "", &["users", "show", "W0ABC12345"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert!(pwned.exists());
    std::fs::remove_file(&pwned).unwrap();
    for (what, path, m) in [("config file", cfg.clone(), 0o666), ("config dir", d.to_path_buf(), 0o777)] {
        mode(&path, m);
        let r = scimitar_in(d, &h.url, "", &["users", "show", "W0ABC12345"]);
        no_panic(&r);
        assert_eq!(r.code(), Some(78), "{what}: {}", r.stderr());
        let err = r.stderr();
        assert!(err.contains(what) && err.contains("writable by anyone"), "{err}");
        assert!(err.contains(&format!("run: chmod o-w {}", path.display())), "{err}");
        assert!(!pwned.exists(), "{what}: the token_command ran");
        mode(&path, if m == 0o666 { 0o600 } else { 0o700 });
    }
}

// ---------- 8. child processes ----------

/// Secrets in scimitar's environment; a variable a command may need (`VAULT_TOKEN` for
/// `vault read`) is not one of them.
const CHILD_ENV: &[(&str, &str)] = &[
    ("SCIMITAR_EMULATOR_TOKEN", "emu-secret-child-1111"),
    ("PGPASSWORD", "pg-secret-child-2222"),
    ("SCIMITAR_STORE_PASSWORD", "store-secret-child-3333"),
    ("VAULT_TOKEN", "vault-keep-me-4444"),
];

fn assert_clean_env(file: &std::path::Path, token: &str) {
    let env = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(env.contains("PATH="), "{env}");
    assert!(env.contains("VAULT_TOKEN=vault-keep-me-4444"), "other variables stay: {env}");
    assert!(!env.contains("SLACK_SCIM_TOKEN") && !env.contains(token), "{}: {env}", file.display());
    for (k, v) in &CHILD_ENV[..3] {
        assert!(!env.contains(k) && !env.contains(v), "{} holds {k}: {env}", file.display());
    }
}

/// `alert_command`, an LDAP source's `password_command` and a profile's `token_command` run
/// without the token or a store password in their environment.
#[test]
fn child_processes_do_not_inherit_the_token_or_store_passwords() {
    let h = Hostile::start(Mode::Friendly);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let policy = d.join("ldap.toml");
    std::fs::write(
        &policy,
        format!(
            "match_on = \"email\"\n[source]\nkind = \"ldap\"\nurl = \"ldap://127.0.0.1:9\"\nbind_dn = \"cn=svc,dc=example,dc=com\"\n\
             password_command = \"env > '{d}/pw-env.txt'; false\"\nbase_dn = \"ou=people,dc=example,dc=com\"\n\
             user_filter = \"(objectClass=inetOrgPerson)\"\nid_column = \"uid\"\n[attributes]\n\"emails.work\" = \"mail\"\nuserName = \"uid\"\n",
            d = d.display()
        ),
    )
    .unwrap();
    config_with_alert_command(d, "\"failure\"");
    let mut config = std::fs::read_to_string(d.join("config.toml")).unwrap();
    config.push_str(&format!("[profiles.default]\ntoken_command = \"env > '{}/tc-env.txt'; echo tok-from-command-5555\"\n", d.display()));
    std::fs::write(d.join("config.toml"), config).unwrap();
    let r = common::hostile::scimitar_in_env(d, &h.url, TOKEN, &["sync", "--policy", policy.to_str().unwrap(), "--once"], CHILD_ENV);
    no_panic(&r);
    assert!(d.join("alert.json").exists(), "the failure was alerted: {}", r.stderr());
    assert_clean_env(&d.join("pw-env.txt"), TOKEN);
    assert_clean_env(&d.join("alert-env.txt"), TOKEN);
    let alert_env = std::fs::read_to_string(d.join("alert-env.txt")).unwrap();
    assert!(alert_env.contains("SCIMITAR_ALERT_EVENT=failure"), "{alert_env}");
    // The token from the command: SLACK_SCIM_TOKEN is set but empty (so not used).
    let r = common::hostile::scimitar_in_env(d, &h.url, "", &["users", "show", "W0ABC12345"], CHILD_ENV);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert_clean_env(&d.join("tc-env.txt"), TOKEN);
}

/// The console's `$EDITOR` (Policies, `e`) runs without the token in its environment.
#[test]
fn the_editor_does_not_inherit_the_token() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(policies.join("people.csv"), "email,user_name\nnew.person@child-env.example,newperson\n").unwrap();
    std::fs::write(
        policies.join("people.toml"),
        "match_on = \"email\"\n[source]\npath = \"people.csv\"\nid_column = \"email\"\n[attributes]\n\"emails.work\" = \"email\"\nuserName = \"user_name\"\n[provisioning]\nremove_action = \"report\"\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let editor = out.path().join("editor.sh");
    std::fs::write(&editor, format!("#!/bin/sh\nenv > '{}/ed-env.txt'\n", out.path().display())).unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut env: Vec<(&str, &str)> = vec![("EDITOR", editor.to_str().unwrap()), ("VISUAL", ""), ("SLACK_SCIM_TOKEN", TOKEN)];
    env.extend_from_slice(CHILD_ENV);
    let mut s = common::pty::Session::start_env(&["demo", "--users", "60", "--groups", "3", "--no-policy"], dir, true, &env);
    s.wait_for("the demo to load", |sc| sc.contains("users 60/60"));
    s.type_keys("3");
    s.wait_for("the Policies pane", |sc| sc.contains("people"));
    s.type_keys("e");
    s.wait_for("the edit to be logged", |sc| sc.contains("editing policy"));
    s.type_keys("q");
    assert!(s.wait_exit().success());
    assert_clean_env(&out.path().join("ed-env.txt"), TOKEN);
}

// ---------- 9. core dumps ----------

/// A running scimitar has core dumps off (even when started with them allowed), and the token
/// it was given in `SLACK_SCIM_TOKEN` is gone from its environment block (`/proc/PID/environ`).
#[cfg(target_os = "linux")]
#[test]
fn a_running_scimitar_dumps_no_core_and_keeps_no_token_in_its_environment() {
    use std::os::unix::process::CommandExt;
    let h = Hostile::start(Mode::Stall);
    let dir = tempfile::tempdir().unwrap();
    let bin = std::env::var("SCIMITAR_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_scimitar").to_string());
    let mut cmd = std::process::Command::new(bin);
    cmd.args(["--deadline", "30s", "users", "list"])
        .env("SCIMITAR_URL", &h.url)
        .env("SLACK_SCIM_TOKEN", TOKEN)
        .env("SCIMITAR_CONFIG_DIR", dir.path())
        .env("SCIMITAR_DATA_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let unlimited = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
            libc::setrlimit(libc::RLIMIT_CORE, &unlimited);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    // Past its start once it has sent a request.
    let started = std::time::Instant::now();
    while h.requests() == 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "no request");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let core = limits.lines().find(|l| l.starts_with("Max core file size")).unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], ["0", "0"], "{core}");
    assert!(!holds(&environ, TOKEN), "the token is still in the environment block");
    assert!(holds(&environ, "SCIMITAR_URL="), "the rest of the environment is as it was");
}

// ---------- 5. links planted in the data dir ----------

/// A policy the friendly server is already in line with (its one user, `f@ok.example`).
fn friendly_policy(d: &std::path::Path) -> std::path::PathBuf {
    std::fs::write(d.join("hr.csv"), "email,user_name\nf@ok.example,f\n").unwrap();
    let p = d.join("hr.toml");
    std::fs::write(
        &p,
        "match_on = \"email\"\n[source]\npath = \"hr.csv\"\nid_column = \"email\"\n[attributes]\n\"emails.work\" = \"email\"\nuserName = \"user_name\"\n",
    )
    .unwrap();
    p
}

/// `locks/<profile>.lock` (the old lock file's name) and `policy-state/<p>.json.tmp` planted as
/// links to a victim file, and `scimitar.db` as a dangling link: none is followed (the victim
/// keeps its text and mode, the link's target is never made), each refusal names the link.
#[cfg(unix)]
#[test]
fn links_planted_in_the_data_dir_are_never_followed() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let h = Hostile::start(Mode::Friendly);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, "the victim's own text\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let untouched = || {
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "the victim's own text\n");
        assert_eq!(std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777, 0o644);
    };
    let policy = friendly_policy(d);
    let p = policy.to_str().unwrap();

    // Where the profile's lock file was: the org's lease lives in the store now (issue 21), so a
    // link planted at the old name is never opened; the cycle runs and the victim is untouched.
    std::fs::create_dir_all(d.join("locks")).unwrap();
    symlink(&victim, d.join("locks/default.lock")).unwrap();
    let r = scimitar_in(d, &h.url, TOKEN, &["sync", "--policy", p, "--once"]);
    no_panic(&r);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    untouched();
    std::fs::remove_file(d.join("locks/default.lock")).unwrap();

    // The policy state's temporary file.
    std::fs::create_dir_all(d.join("policy-state")).unwrap();
    symlink(&victim, d.join("policy-state/hr.json.tmp")).unwrap();
    let r = scimitar_in(d, &h.url, TOKEN, &["sync", "--policy", p, "--once"]);
    no_panic(&r);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    untouched();
    let state = d.join("policy-state/hr.json");
    assert!(std::fs::symlink_metadata(&state).unwrap().is_file(), "the state was saved as a file of its own");
    assert_eq!(std::fs::metadata(&state).unwrap().permissions().mode() & 0o777, 0o600);

    // A dangling scimitar.db.
    let fresh = tempfile::tempdir().unwrap();
    let target = outside.path().join("made-at-the-target.db");
    symlink(&target, fresh.path().join("scimitar.db")).unwrap();
    for args in [&["resume"][..], &["sync", "--policy", p, "--once"]] {
        let r = scimitar_in(fresh.path(), &h.url, TOKEN, args);
        no_panic(&r);
        assert_ne!(r.code(), Some(0), "{args:?}: {}", r.stderr());
        assert!(r.stderr().contains("scimitar.db is a symbolic link"), "{args:?}: {}", r.stderr());
        assert!(!target.exists(), "{args:?}: the database was made at the link's target");
    }
}

// ---------- 7. the metrics port ----------

/// `sync --every 1s --metrics` at a file-descriptor limit of 128, its metrics port flooded with
/// 400 connections that send half a request and wait: it keeps cycling (no cycle fails to open
/// its lock or its database: none `locked` or `error`) and alerting (the alert command runs each
/// cycle); once the flood is gone, a scrape is answered.
#[cfg(target_os = "linux")]
#[test]
fn the_sync_keeps_cycling_and_alerting_under_a_metrics_flood_at_a_low_fd_limit() {
    use std::io::{BufRead, Read, Write};
    use std::os::unix::process::CommandExt;
    const LIMIT: u64 = 128;
    const FLOOD: usize = 400;
    let h = Hostile::start(Mode::Friendly);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let policy = friendly_policy(d);
    std::fs::write(
        d.join("config.toml"),
        format!(
            "[sync]\nalert_command = \"cat >> '{}/alerts.jsonl'; echo >> '{}/alerts.jsonl'\"\nalert_on = [\"run\"]\n",
            d.display(),
            d.display()
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let bin = std::env::var("SCIMITAR_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_scimitar").to_string());
    let mut cmd = std::process::Command::new(bin);
    cmd.args(["--throttle", "off", "sync", "--policy", policy.to_str().unwrap(), "--every", "1s", "--metrics", &addr, "-o", "json"])
        .env("SCIMITAR_URL", &h.url)
        .env("SLACK_SCIM_TOKEN", TOKEN)
        .env("SCIMITAR_CONFIG_DIR", d)
        .env("SCIMITAR_DATA_DIR", d)
        .env_remove("SCIMITAR_PROFILE")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let files = libc::rlimit { rlim_cur: LIMIT, rlim_max: LIMIT };
            libc::setrlimit(libc::RLIMIT_NOFILE, &files);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let results = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let out = child.stdout.take().unwrap();
    let r2 = results.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                r2.lock().unwrap().push(v["record"]["result"].as_str().unwrap_or("?").to_string());
            }
        }
    });
    let mut err = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let wait = |what: &str, secs: u64, f: &dyn Fn() -> bool| {
        let start = std::time::Instant::now();
        while !f() {
            assert!(start.elapsed() < std::time::Duration::from_secs(secs), "gave up waiting for {what}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        eprintln!("{what}: {:?}", start.elapsed());
    };
    let alerts = || std::fs::read_to_string(d.join("alerts.jsonl")).unwrap_or_default().lines().filter(|l| l.starts_with('{')).count();
    wait("the first cycle", 60, &|| !results.lock().unwrap().is_empty());
    // The flood: connections that send half a request head and wait.
    // (Connections past the kernel's accept queue wait for their SYN to be answered: connect
    // from 20 threads, each giving up on one after 300 ms.)
    let flooders: Vec<_> = (0..20)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for _ in 0..FLOOD / 20 {
                    if let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), std::time::Duration::from_millis(300)) {
                        let _ = s.write_all(b"GET /metr");
                        mine.push(s);
                    }
                }
                mine
            })
        })
        .collect();
    let flood: Vec<std::net::TcpStream> = flooders.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert!(flood.len() > LIMIT as usize, "the flood is more connections than the sync has descriptors ({})", flood.len());
    let (before, alerts_before) = (results.lock().unwrap().len(), alerts());
    wait("4 cycles under the flood", 60, &|| results.lock().unwrap().len() >= before + 4);
    wait("their alerts", 30, &|| alerts() >= alerts_before + 4);
    let during: Vec<String> = results.lock().unwrap()[before..].to_vec();
    drop(flood);
    // Once the flood is gone, a scrape is answered.
    wait("a scrape after the flood", 30, &|| {
        let Ok(mut s) = std::net::TcpStream::connect(&addr) else { return false };
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(10)));
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text.contains("scimitar_sync_runs_total")
    });
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    let log = log.join().unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(during.iter().all(|r| r == "no_changes"), "every cycle under the flood ran: {during:?}\n{log}");
    assert!(!log.contains("warning: alert"), "every alert was delivered: {log}");
}

// ---------- 10. CSV cells a spreadsheet would run ----------

/// Every cell of a CSV, as a lenient reader sees it (no undoing of anything).
fn raw_cells(text: &str) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    r.records().flat_map(|rec| rec.unwrap().iter().map(str::to_string).collect::<Vec<_>>()).collect()
}

fn no_formula(what: &str, text: &str) {
    let cells = raw_cells(text);
    assert!(cells.len() > 5, "{what}: {text}");
    for c in &cells {
        assert!(!c.starts_with(['=', '+', '-', '@', '\t', '\r']), "{what}: a cell starts a formula: {c:?}\n{text}");
    }
}

/// Cells beginning with `=`, `+`, `-`, `@` or a tab get a leading `'` in `users list -o csv`,
/// `users export -o csv` and `report -o csv`; the export still reads back as a policy source
/// (the plan against the same users has nothing to do).
#[test]
fn csv_cells_a_spreadsheet_would_run_are_neutralised_and_the_export_still_reads_back() {
    let h = Hostile::start(Mode::Formulas);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = scimitar_in(d, &h.url, TOKEN, &["--throttle", "off", "users", "list", "-o", "csv"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    no_formula("users list", &r.stdout());
    assert!(r.stdout().contains("'=HYPERLINK"), "{}", r.stdout());
    let r = scimitar_in(d, &h.url, TOKEN, &["--throttle", "off", "users", "export", "-o", "csv"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let export = r.stdout();
    no_formula("users export", &export);
    assert!(export.contains("'+1 555 0100") && export.contains(",''=already quoted,"), "{export}");
    // Read back as a policy source: exactly the users as they are, so nothing to do.
    std::fs::write(d.join("users.csv"), &export).unwrap();
    std::fs::write(d.join("policy.toml"), scimitar::policy::config::EXPORT_POLICY).unwrap();
    let r = scimitar_in(d, &h.url, TOKEN, &["--throttle", "off", "plan", "--policy", d.join("policy.toml").to_str().unwrap()]);
    assert_eq!(r.code(), Some(0), "the export plans as nothing to do: {} {}", r.stdout(), r.stderr());
    // Report exports.
    let r = scimitar_in(d, &h.url, TOKEN, &["--throttle", "off", "users", "deactivate", "W0FORM0001", "--yes"]);
    assert!(r.code().is_some(), "{}", r.stderr());
    let r = scimitar_in(d, &h.url, TOKEN, &["report", "-o", "csv"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    no_formula("report", &r.stdout());
    assert!(r.stdout().contains("'=HYPERLINK"), "{}", r.stdout());
}

// ---------- 12. invisible characters outside a list, and piles of marks ----------

/// Characters a list of invisible ones missed (U+3164, U+115F, U+034F, U+2800, …) are stripped
/// from tables, CSV and the console by their Unicode properties, and a pile of combining marks
/// is cut at the cap; JSON keeps the data, escaped.
#[test]
fn invisible_characters_by_property_and_piled_marks_never_reach_the_terminal() {
    use common::hostile::{HIDDEN, zalgo};
    let hidden = |s: &str| s.chars().any(|c| HIDDEN.contains(c));
    let pile = |s: &str| {
        let mut run = 0;
        s.chars().any(|c| {
            run = if ('\u{300}'..='\u{36f}').contains(&c) { run + 1 } else { 0 };
            run > scimitar::scim::sanitize::MAX_MARKS
        })
    };
    let h = Hostile::start(Mode::Invisible);
    for args in [
        &["users", "list"][..],
        &["users", "list", "-o", "csv"],
        &["users", "show", "W0INVIS001"],
        &["users", "find", "pat@invisible.example"],
    ] {
        let r = scimitar(&h.url, TOKEN, args);
        assert_eq!(r.code(), Some(0), "{args:?}: {}", r.stderr());
        let out = r.stdout();
        assert!(out.contains("PatDoe"), "{args:?}: {out:?}");
        assert!(!hidden(&out), "{args:?}: {out:?}");
        assert!(!pile(&out), "{args:?}: {out:?}");
    }
    let r = scimitar(&h.url, TOKEN, &["users", "show", "W0INVIS001", "-o", "json"]);
    assert!(!hidden(&r.stdout()) && !pile(&r.stdout()), "{:?}", r.stdout());
    let v: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
    assert_eq!(v["displayName"], format!("Pat{HIDDEN}Doe"), "the data survives, escaped");
    assert_eq!(v["title"], zalgo());
    // The console.
    let dir = tempfile::tempdir().unwrap();
    let mut s = common::pty::Session::start_env(&[], dir, true, &[("SCIMITAR_URL", &h.url), ("SLACK_SCIM_TOKEN", TOKEN)]);
    s.wait_for("the user", |sc| sc.contains("PatDoe"));
    s.type_keys("q");
    assert!(s.wait_exit().success());
    let raw = String::from_utf8_lossy(&s.state.lock().unwrap().1).into_owned();
    assert!(!hidden(&raw), "a hidden character reached the terminal");
    assert!(!pile(&raw), "a pile of marks reached the terminal");
}
