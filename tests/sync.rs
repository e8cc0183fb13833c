//! `scimitar sync` against a real OpenLDAP server (Debian's slapd, `tests/common/slapd.rs`) and the
//! emulator over real HTTP, driving the real binary: directory changes between cycles are applied
//! exactly; a plan over the ceiling is quarantined (no writes, an alert to a webhook receiver on
//! loopback) until `sync approve`; a sync killed with SIGKILL mid-apply finishes on restart with
//! nothing lost or repeated; two syncs at once: one runs, the other says who holds the lock. The
//! circuit breaker is driven through the library against the emulator replaying Slack's April
//! 2024 incident.

#[path = "common/slapd.rs"]
mod slapd;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scimitar::emulator::{Emulator, EmulatorConfig, Faults, RateLimitMode};
use scimitar::scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret, User};
use slapd::{Directory, Person, Slapd, group_dn, person_dn};

struct World {
    emu: Emulator,
    dir: tempfile::TempDir,
    client: ScimClient,
    slapd: Slapd,
    /// Slack users mirrored in the directory, active and regular (neither bot nor owner).
    regular: Vec<User>,
    /// The uids in the `eng` group.
    eng: Vec<String>,
    pw: PathBuf,
}

fn person(u: &User, enabled: bool) -> Person {
    let name = u.name.clone().unwrap_or_default();
    Person {
        uid: u.user_name.clone().unwrap(),
        given_name: name.given_name.unwrap(),
        sn: name.family_name.unwrap(),
        mail: u.primary_email().unwrap().to_string(),
        user_account_control: Some(if enabled { 512 } else { 514 }),
        ..Default::default()
    }
}

fn new_person(uid: &str) -> Person {
    Person {
        uid: uid.into(),
        given_name: "New".into(),
        sn: uid.replace('.', "-"),
        mail: format!("{uid}@sync-test.example"),
        user_account_control: Some(512),
        ..Default::default()
    }
}

/// The LDIF that adds a person to the directory (and to `staff`).
fn add_person_ldif(p: &Person) -> String {
    format!(
        "dn: {dn}\nchangetype: add\nobjectClass: inetOrgPerson\nobjectClass: scimitarTestUser\nuid: {uid}\ncn: {g} {s}\nsn: {s}\ngivenName: {g}\nmail: {m}\nuserAccountControl: 512\n\n\
         dn: {staff}\nchangetype: modify\nadd: member\nmember: {dn}\n\n",
        dn = p.dn(),
        uid = p.uid,
        g = p.given_name,
        s = p.sn,
        m = p.mail,
        staff = group_dn("staff"),
    )
}

fn policy_text(url: &str, pw: &Path, max: usize, eng_source: &str, eng_name: &str) -> String {
    format!(
        r#"match_on = "email"

[source]
kind = "ldap"
url = "{url}"
bind_dn = "{bind}"
password_file = "{pw}"
base_dn = "{people}"
user_filter = "(objectClass=inetOrgPerson)"
id_column = "uid"
disabled_attribute = "userAccountControl"
groups_from = "memberOf"
group_base_dn = "{groups}"

[attributes]
"emails.work" = "mail"
userName = "uid"
"name.givenName" = "givenName"
"name.familyName" = "sn"

[scope]
groups = ["staff"]

[provisioning]
max_deactivations = {max}

[[groups]]
source = "{eng_source}"
slack_name = "{eng_name}"
key = "grp-eng"
membership = "overwrite"
"#,
        bind = slapd::BIND_DN,
        pw = pw.display(),
        people = slapd::PEOPLE,
        groups = slapd::GROUPS,
    )
}

impl World {
    /// An emulator of `users` users, and a directory mirroring them: every user in `staff`
    /// (enabled as they are active in Slack), five regular ones in `eng`. `config` is the
    /// `config.toml` of the run.
    async fn start(users: usize, seed: u64, rate: RateLimitMode, max: usize, config: &str) -> World {
        let cfg =
            EmulatorConfig { users, groups: 2, seed, token: format!("xoxp-sync-test-{seed}"), rate_limit: rate, ..Default::default() };
        let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
        cc.rate_limit = match rate {
            RateLimitMode::Off => RateLimit::Off,
            RateLimitMode::Slack { scale } => RateLimit::Slack { scale },
        };
        let client = ScimClient::new(cc).unwrap();
        let all = client.all_users(None).await.unwrap();
        let regular: Vec<User> =
            all.iter().filter(|u| u.is_active() && scimitar::policy::plan::never_deactivate(u, &[]).is_none()).cloned().collect();
        let mut directory = Directory::default();
        let mut staff = Vec::new();
        for u in &all {
            let p = person(u, u.is_active());
            staff.push(p.dn());
            directory.people.push(p);
        }
        let eng: Vec<String> = regular.iter().take(5).map(|u| u.user_name.clone().unwrap()).collect();
        directory.group("staff", staff);
        directory.group("eng", eng.iter().map(|uid| person_dn(uid)));
        let slapd = Slapd::start(&directory);
        let dir = tempfile::tempdir().unwrap();
        for d in ["data", "config/policies", "work"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let pw = slapd.password_file(&dir.path().join("work"));
        std::fs::write(dir.path().join("config/config.toml"), config).unwrap();
        let w = World { emu, dir, client, slapd, regular, eng, pw };
        w.write_policy(max, "eng", "sync-eng");
        w
    }

    fn write_policy(&self, max: usize, eng_source: &str, eng_name: &str) {
        std::fs::write(self.policy_file(), policy_text(&self.slapd.url(), &self.pw, max, eng_source, eng_name)).unwrap();
    }

    fn policy_file(&self) -> PathBuf {
        self.dir.path().join("config/policies/hr.toml")
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The binary with this world's connection; `throttle` keeps Slack's pacing (else off).
    fn command(&self, args: &[&str], throttle: bool) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_scimitar"));
        if !throttle {
            cmd.args(["--throttle", "off"]);
        }
        cmd.args(args)
            .env("SCIMITAR_URL", self.emu.base_url(ApiVersion::V2))
            .env("SLACK_SCIM_TOKEN", self.emu.token())
            .env("SCIMITAR_DATA_DIR", self.data())
            .env("SCIMITAR_CONFIG_DIR", self.dir.path().join("config"))
            .env_remove("SCIMITAR_PROFILE")
            .env_remove("SCIMITAR_CONFIG")
            .env_remove("SCIMITAR_API")
            .stdin(Stdio::null());
        cmd
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args, false);
        tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
    }

    async fn users(&self) -> Vec<User> {
        self.client.all_users(None).await.unwrap()
    }

    fn writes(&self) -> u64 {
        self.emu.stats().writes()
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn show(o: &Output) -> String {
    format!("exit {}\nstdout:\n{}\nstderr:\n{}", code(o), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The JSON line `sync --once -o json` prints for its cycle.
fn cycle_json(o: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text.lines().rev().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no JSON line: {}", show(o)));
    serde_json::from_str(line).unwrap()
}

fn active(users: &[User], id: &str) -> bool {
    users.iter().find(|u| u.id() == id).unwrap_or_else(|| panic!("no user {id}")).is_active()
}

async fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Each cycle applies exactly what changed in the directory since the last: a new person
/// (created), a disabled one and one removed from the scope group (deactivated), a renamed group
/// (renamed in Slack, its members untouched); then nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_cycle_applies_exactly_what_changed_in_the_directory() {
    let w = World::start(40, 31, RateLimitMode::Off, 50, "").await;
    let o = w.run(&["sync", "--policy", "hr", "--once", "-o", "json"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    let j = cycle_json(&o);
    assert_eq!(j["record"]["result"], "applied", "{j}");
    assert_eq!((j["record"]["plan"]["group_creates"].as_u64(), j["record"]["ops"]["done"].as_u64()), (Some(1), Some(1)), "{j}");
    let (_, groups) = w.emu.snapshot();
    let eng = groups.iter().find(|g| g.name() == "sync-eng").expect("the eng group is created");
    let eng_id = eng.id().to_string();
    assert_eq!(eng.member_count(), 5);
    let o = w.run(&["sync", "--policy", "hr", "--once", "-o", "json"]).await;
    assert_eq!((code(&o), cycle_json(&o)["record"]["result"].as_str()), (0, Some("no_changes")), "{}", show(&o));

    // The directory changes: a newcomer, a disabled person, a leaver of the scope group, and the
    // eng group renamed (the policy follows the new name and keeps its key: a rename).
    let not_eng: Vec<&User> = w.regular.iter().filter(|u| !w.eng.contains(u.user_name.as_ref().unwrap())).collect();
    let (disabled, leaver) = (not_eng[0], not_eng[1]);
    let newcomer = new_person("new.person");
    w.slapd.modify(&add_person_ldif(&newcomer));
    w.slapd.modify(&format!(
        "dn: {}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n\n\
         dn: {}\nchangetype: modify\ndelete: member\nmember: {}\n\n\
         dn: {}\nchangetype: modrdn\nnewrdn: cn=engineering\ndeleteoldrdn: 1\n",
        person_dn(disabled.user_name.as_ref().unwrap()),
        group_dn("staff"),
        person_dn(leaver.user_name.as_ref().unwrap()),
        group_dn("eng"),
    ));
    w.write_policy(50, "engineering", "sync-engineering");
    let before = w.writes();
    let o = w.run(&["sync", "--policy", "hr", "--once", "-o", "json"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    let j = cycle_json(&o);
    let plan = &j["record"]["plan"];
    let counts: Vec<u64> = ["creates", "deactivations", "group_renames", "updates", "member_adds", "member_removes", "reactivations"]
        .iter()
        .map(|k| plan[k].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [1, 2, 1, 0, 0, 0, 0], "{plan}");
    assert_eq!((j["record"]["ops"]["done"].as_u64(), j["record"]["ops"]["failed"].as_u64()), (Some(4), Some(0)), "{j}");
    assert_eq!(w.writes() - before, 4, "one request per change: {:?}", w.emu.stats().by_method);
    let users = w.users().await;
    assert!(users.iter().any(|u| u.primary_email() == Some("new.person@sync-test.example") && u.is_active()));
    assert!(!active(&users, disabled.id()) && !active(&users, leaver.id()));
    let (_, groups) = w.emu.snapshot();
    let g = groups.iter().find(|g| g.id() == eng_id).unwrap();
    assert_eq!((g.name(), g.member_count()), ("sync-engineering", 5), "renamed, members kept");

    // Nothing more changed: no writes.
    let before = w.writes();
    let o = w.run(&["sync", "--policy", "hr", "--once", "-o", "json"]).await;
    assert_eq!((code(&o), cycle_json(&o)["record"]["result"].as_str()), (0, Some("no_changes")), "{}", show(&o));
    assert_eq!(w.writes(), before);
    let o = w.run(&["sync", "status", "--policy", "hr", "-o", "json"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((s["state"].as_str(), s["last_run"]["result"].as_str()), (Some("ok"), Some("no_changes")), "{s}");
    assert!(s["last_success"].is_string(), "{s}");
}

/// A webhook receiver on loopback: every POST's path and JSON body.
async fn receiver() -> (String, Arc<Mutex<Vec<(String, serde_json::Value)>>>) {
    use axum::extract::{Path as AxPath, State};
    type Got = Arc<Mutex<Vec<(String, serde_json::Value)>>>;
    let got: Got = Arc::default();
    async fn hook(State(got): State<Got>, AxPath(path): AxPath<String>, body: axum::body::Bytes) -> &'static str {
        got.lock().unwrap().push((path, serde_json::from_slice(&body).unwrap_or_default()));
        "ok"
    }
    let app = axum::Router::new().route("/{*path}", axum::routing::post(hook)).with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), got)
}

/// Half the scope group deleted in the directory: the plan is over the policy's ceiling, so the
/// sync writes nothing, quarantines the policy, and the webhook gets the notice (its secret path
/// shown nowhere). The next cycle stays held. `sync approve` shows the plan and applies it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_over_the_ceiling_is_quarantined_until_approved() {
    let (base, got) = receiver().await;
    let secret = "T0SYNC/B0SYNC/hooksecret4242";
    let url = format!("{base}/services/{secret}");
    let config = format!("[sync]\nwebhook_url = \"{url}\"\nalert_on = [\"failure\", \"quarantine\"]\n");
    let w = World::start(50, 37, RateLimitMode::Off, 5, &config).await;
    let o = w.run(&["sync", "--policy", "hr", "--once"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(got.lock().unwrap().is_empty(), "a good run sends no alert unless asked: {:?}", got.lock().unwrap());

    let gone: Vec<&User> = w.regular.iter().skip(5).take(w.regular.len() / 2).collect();
    assert!(gone.len() > 5, "{}", gone.len());
    let ldif: String = gone
        .iter()
        .map(|u| {
            format!(
                "dn: {}\nchangetype: modify\ndelete: member\nmember: {}\n\n",
                group_dn("staff"),
                person_dn(u.user_name.as_ref().unwrap())
            )
        })
        .collect();
    w.slapd.modify(&ldif);
    let before = w.writes();
    let mut outputs = Vec::new();
    let o = w.run(&["sync", "--policy", "hr", "--once", "-o", "json"]).await;
    assert_eq!(code(&o), 3, "{}", show(&o));
    let j = cycle_json(&o);
    assert_eq!(j["record"]["result"], "quarantined", "{j}");
    assert_eq!(j["quarantine"]["kind"], "ceiling", "{j}");
    assert!(j["quarantine"]["reason"].as_str().unwrap().contains(&format!("deactivate {} users", gone.len())), "{j}");
    assert_eq!(w.writes(), before, "zero writes");
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(stderr.contains("QUARANTINED") && stderr.contains("sync approve --policy hr"), "{stderr}");
    outputs.push(o);
    {
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        let (path, body) = &got[0];
        assert_eq!(path, &format!("services/{secret}"));
        assert_eq!(
            (body["event"].as_str(), body["policy"].as_str(), body["result"].as_str()),
            (Some("quarantine"), Some("hr"), Some("quarantined"))
        );
        let text = body["text"].as_str().unwrap();
        assert!(text.contains("QUARANTINED") && text.contains("scimitar sync approve --policy hr"), "{text}");
        assert_eq!(body["plan"]["deactivations"].as_u64(), Some(gone.len() as u64));
    }

    // Held: the next cycle reads and writes nothing and does not alert again.
    let o = w.run(&["sync", "--policy", "hr", "--once", "-o", "json"]).await;
    assert_eq!((code(&o), cycle_json(&o)["record"]["result"].as_str()), (3, Some("held")), "{}", show(&o));
    assert_eq!(w.writes(), before);
    assert_eq!(got.lock().unwrap().len(), 1);
    outputs.push(o);
    let o = w.run(&["sync", "status", "-o", "json"]).await;
    assert_eq!(code(&o), 3, "{}", show(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((s["state"].as_str(), s["quarantine"]["kind"].as_str()), (Some("quarantined"), Some("ceiling")), "{s}");
    outputs.push(o);

    // Approved: the held plan is shown and applied, the quarantine released.
    let o = w.run(&["sync", "approve", "--policy", "hr", "--yes"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(gone.iter().all(|u| stdout.contains(u.primary_email().unwrap())), "the plan is shown: {stdout}");
    assert_eq!(w.writes() - before, gone.len() as u64);
    let users = w.users().await;
    assert!(gone.iter().all(|u| !active(&users, u.id())));
    outputs.push(o);
    let o = w.run(&["sync", "--policy", "hr", "--once", "-o", "json"]).await;
    assert_eq!((code(&o), cycle_json(&o)["record"]["result"].as_str()), (0, Some("no_changes")), "{}", show(&o));
    outputs.push(o);
    // The webhook's secret is in no output and nowhere in the data dir.
    for o in &outputs {
        let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(!all.contains("hooksecret4242"), "{all}");
    }
    for f in std::fs::read_dir(w.data()).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_file()) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!bytes.windows(14).any(|x| x == b"hooksecret4242"), "{}", f.display());
    }
}

/// Read a child's stderr into a shared string.
fn capture_stderr(child: &mut Child) -> Arc<Mutex<String>> {
    let buf = Arc::new(Mutex::new(String::new()));
    let b = buf.clone();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let mut b = b.lock().unwrap();
            b.push_str(&line);
            b.push('\n');
        }
    });
    buf
}

fn metric(text: &str, name: &str, label: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(name) && l.contains(label)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// `sync --every` killed with SIGKILL in the middle of 40 creates (Slack's pace: 20 at once,
/// then 3 a second) and started again: the interrupted run is finished first and nothing is lost
/// or repeated (one POST per person, one report record each); its metrics tell what it did;
/// SIGTERM stops it, exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_mid_apply_finishes_on_restart_with_nothing_lost_or_repeated() {
    let w = World::start(30, 41, RateLimitMode::Slack { scale: 1.0 }, 50, "").await;
    let o = w.run(&["sync", "--policy", "hr", "--once"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    let hires: Vec<Person> = (0..40).map(|i| new_person(&format!("hire{i}"))).collect();
    w.slapd.modify(&hires.iter().map(add_person_ldif).collect::<String>());
    w.emu.reset_stats();

    let mut child =
        w.command(&["sync", "--policy", "hr", "--every", "1s"], true).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let emu = w.emu.clone();
    wait_for("25 creates to reach Slack", Duration::from_secs(60), || emu.stats().method("POST") >= 25).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let sent = w.emu.stats().method("POST");
    assert!(sent < 40, "killed mid-apply ({sent} of 40 sent)");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = w
        .command(&["sync", "--policy", "hr", "--every", "1s", "--metrics", &addr], true)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = capture_stderr(&mut child);
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/metrics");
    let scraped = Arc::new(Mutex::new(String::new()));
    let start = Instant::now();
    loop {
        if let Ok(r) = http.get(&url).send().await
            && let Ok(t) = r.text().await
            && metric(&t, "scimitar_sync_runs_total", "result=\"no_changes\"").unwrap_or(0.0) >= 1.0
        {
            *scraped.lock().unwrap() = t;
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(90), "the restarted sync never converged: {}", stderr.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let term = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    let log = stderr.lock().unwrap().clone();
    assert_eq!(status.code(), Some(0), "SIGTERM stops --every with 0: {log}");
    assert!(log.contains("finishing batch") && log.contains("stopping"), "{log}");

    // Nothing lost, nothing repeated.
    // One create per person reached Slack and was done (the restarted process's fresh burst can
    // meet Slack's bucket still drained by the killed one: those POSTs were refused with a 429
    // and sent again, which creates nobody).
    let stats = w.emu.stats();
    let created = stats.log.iter().filter(|(_, e, status)| *e == scimitar::scim::ratelimit::Endpoint::CreateUser && *status == 201).count();
    let refused = stats.log.iter().filter(|(_, e, status)| *e == scimitar::scim::ratelimit::Endpoint::CreateUser && *status == 429).count();
    assert_eq!(created, 40, "one successful POST per person ({refused} refused by the rate limit)");
    assert_eq!(stats.method("POST") as usize, created + refused);
    let users = w.users().await;
    for h in &hires {
        assert_eq!(users.iter().filter(|u| u.primary_email() == Some(h.mail.as_str())).count(), 1, "{}", h.mail);
    }
    let o = w.run(&["report", "--action", "create_user", "-o", "json"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    let mut done: HashMap<String, usize> = HashMap::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let r = if v.get("record").is_some() { &v["record"] } else { &v };
        if r["outcome"] == "done" {
            *done.entry(r["target_email"].as_str().unwrap_or_default().to_string()).or_default() += 1;
        }
    }
    for h in &hires {
        assert_eq!(done.get(&h.mail), Some(&1), "{}: {done:?}", h.mail);
    }
    let t = scraped.lock().unwrap().clone();
    assert_eq!(metric(&t, "scimitar_sync_quarantined", "policy=\"hr\""), Some(0.0), "{t}");
    assert!(metric(&t, "scimitar_sync_operations_total", "outcome=\"done\"").unwrap() >= 1.0, "{t}");
    assert!(metric(&t, "scimitar_sync_last_success_timestamp_seconds", "policy=\"hr\"").unwrap() > 1.7e9, "{t}");
    let o = w.run(&["sync", "status", "--policy", "hr", "-o", "json"]).await;
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["state"], "ok", "{s}");
    assert!(s["next_run"].is_null(), "a stopped sync has no next run: {s}");
}

/// Two syncs started together: one runs, the other exits 75 saying who holds the lock; while a
/// sync holds it, `scimitar apply` is refused the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_syncs_at_once_one_runs_the_other_is_told_who_holds_the_lock() {
    let w = World::start(30, 43, RateLimitMode::Off, 50, "").await;
    w.slapd.modify(&(0..8).map(|i| add_person_ldif(&new_person(&format!("pair{i}")))).collect::<String>());
    // Slow answers keep the winner's cycle long enough for the others to meet its lock.
    w.emu.set_latency(Duration::from_millis(150));
    let a = w.command(&["sync", "--policy", "hr", "--once"], false).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let b = w.command(&["sync", "--policy", "hr", "--once"], false).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let (pa, pb) = (a.id(), b.id());
    let (a, b) = tokio::task::spawn_blocking(move || (a.wait_with_output().unwrap(), b.wait_with_output().unwrap())).await.unwrap();
    let mut codes = [code(&a), code(&b)];
    codes.sort();
    assert_eq!(codes, [0, 75], "{}\n{}", show(&a), show(&b));
    let (loser, winner_pid) = if code(&a) == 75 { (&a, pb) } else { (&b, pa) };
    let msg = String::from_utf8_lossy(&loser.stderr);
    assert!(msg.contains(&format!("(pid {winner_pid},")) && msg.contains("scimitar sync --policy hr") && msg.contains("lease"), "{msg}");
    let users = w.users().await;
    for i in 0..8 {
        let mail = format!("pair{i}@sync-test.example");
        assert_eq!(users.iter().filter(|u| u.primary_email() == Some(mail.as_str())).count(), 1, "{mail}");
    }

    // Whoever holds the lock (here this test, as the console's policy apply would), a sync and a
    // headless apply are refused with its name, and write nothing.
    w.emu.set_latency(Duration::ZERO);
    w.slapd.modify(&add_person_ldif(&new_person("late.one")));
    let me = scimitar::store::Holder::new("ann", "console-box", "console policy apply hr");
    let org = scimitar::store::OrgKey::of(None, &w.emu.base_url(ApiVersion::V2), w.emu.token());
    let store = scimitar::store::Store::sqlite(&w.data().join("scimitar.db")).unwrap();
    let held = scimitar::store::Lease::acquire(&store, &org, &me, std::time::Duration::from_secs(30)).unwrap();
    let before = w.writes();
    for args in [&["sync", "--policy", "hr", "--once"][..], &["apply", "--policy", "hr", "--yes"][..]] {
        let o = w.run(args).await;
        assert_eq!(code(&o), 75, "{args:?}: {}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("console policy apply hr") && err.contains("ann@console-box"), "{err}");
    }
    assert_eq!(w.writes(), before);
    drop(held);
    let o = w.run(&["sync", "--policy", "hr", "--once"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_eq!(w.writes(), before + 1, "the late one, once the lock is free");
}

/// The circuit breaker, through the library: a plan of 30 updates against an emulator replaying
/// Slack's April 2024 incident (every update also deactivates the user). The first updates fail
/// as surprises; the breaker trips, the rest is cancelled before it is sent, the policy is
/// quarantined with the reason, and the next cycle writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_circuit_breaker_stops_a_run_that_deactivates_users_on_update() {
    use scimitar::env::{Environment, Inputs, Paths};
    use scimitar::queue::{Cancel, EngineConfig};
    use scimitar::sync::{QuarantineKind, RunResult, SyncJob, SyncStore, run_cycle};
    let cfg = EmulatorConfig { users: 60, groups: 2, seed: 47, token: "xoxp-breaker-test".into(), ..Default::default() };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    let client = ScimClient::new(cc).unwrap();
    let root = tempfile::tempdir().unwrap();
    let paths = Paths::under(root.path());
    std::fs::create_dir_all(paths.policies_dir()).unwrap();
    // The policy reads an export of Slack with 30 titles changed: 30 updates, nothing else.
    let mut users = client.all_users(None).await.unwrap();
    let mut n = 0;
    for u in users.iter_mut().filter(|u| u.is_active() && scimitar::policy::plan::never_deactivate(u, &[]).is_none()) {
        if n < 30 {
            u.title = Some(format!("Changed Title {n}"));
            n += 1;
        }
    }
    let mut csv = Vec::new();
    scimitar::policy::export::users_to_source_csv(&users, &mut csv).unwrap();
    std::fs::write(paths.policies_dir().join("users.csv"), csv).unwrap();
    // 30 titles of about 55 users is over the gate's default share (25%): this policy allows it.
    let policy = format!("{}\n[provisioning]\nmax_attribute_change_percent = 100.0\n", scimitar::policy::config::EXPORT_POLICY);
    std::fs::write(paths.policies_dir().join("hr.toml"), policy).unwrap();
    let config = scimitar::config::Config::parse(
        "[sync]\nmax_consecutive_failures = 3\nactive_drop_tolerance = 100\ncheck_active_every = \"200ms\"\n",
        Path::new("config.toml"),
    )
    .unwrap();
    let env = Environment::with_config(Inputs::default(), paths.clone(), config).unwrap().with_client(client.clone());
    let job = SyncJob::new(&env, "hr", EngineConfig { workers: 2, ..Default::default() }, "test sync").unwrap();
    let store = SyncStore::open(&paths.database()).unwrap();
    emu.set_faults(Faults { incident: 1.0, ..Default::default() });
    let r = run_cycle(&env, &job, &store, &Cancel::default(), None).await;
    assert_eq!(r.record.result, RunResult::Quarantined, "{}", r.line());
    let q = r.quarantine.clone().unwrap();
    assert_eq!(q.kind, QuarantineKind::Breaker);
    assert!(q.reason.contains("3 operations in a row failed") && q.reason.contains("SURPRISE"), "{}", q.reason);
    let patches = emu.stats().method("PATCH");
    assert!((3..10).contains(&patches), "stopped after the failures in flight: {patches} of 30 updates sent");
    assert_eq!(r.record.ops.failed, patches, "{}", r.line());
    assert_eq!(r.record.ops.cancelled, 30 - patches, "the rest cancelled in the journal: {}", r.line());
    // Quarantined: nothing more is written, whatever the next cycle finds.
    emu.set_faults(Faults::default());
    let r = run_cycle(&env, &job, &store, &Cancel::default(), None).await;
    assert_eq!(r.record.result, RunResult::Held, "{}", r.line());
    assert_eq!(emu.stats().method("PATCH"), patches);
    assert!(store.state("default", "hr").unwrap().unwrap().quarantine.is_some());
}

/// SIGTERM in the middle of an apply stops it between operations: requests in flight finish,
/// the rest is cancelled in the journal (exit 1, result `interrupted`), and the next cycle
/// creates exactly the people who were not created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_between_operations_and_the_next_cycle_does_the_rest() {
    let w = World::start(20, 53, RateLimitMode::Slack { scale: 1.0 }, 50, "").await;
    let o = w.run(&["sync", "--policy", "hr", "--once"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    let hires: Vec<Person> = (0..30).map(|i| new_person(&format!("term{i}"))).collect();
    w.slapd.modify(&hires.iter().map(add_person_ldif).collect::<String>());
    w.emu.reset_stats();
    // Two workers: an op a worker holds is in flight (it waits for Slack's budget, then goes out);
    // the others are still pending when the signal comes.
    let child = w
        .command(&["sync", "--policy", "hr", "--once", "-o", "json", "--workers", "2"], true)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let emu = w.emu.clone();
    wait_for("22 creates to reach Slack", Duration::from_secs(60), || emu.stats().method("POST") >= 22).await;
    let term = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert_eq!(code(&o), 1, "{}", show(&o));
    let j = cycle_json(&o);
    assert_eq!(j["record"]["result"], "interrupted", "{j}");
    let (done, cancelled) = (j["record"]["ops"]["done"].as_u64().unwrap(), j["record"]["ops"]["cancelled"].as_u64().unwrap());
    assert!(done >= 22 && cancelled > 0 && done + cancelled == 30, "{j}\n{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("stopping"), "{}", show(&o));
    let o = w.run(&["sync", "--policy", "hr", "--once", "-o", "json"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    let j = cycle_json(&o);
    assert_eq!(j["record"]["plan"]["creates"].as_u64(), Some(cancelled), "the next cycle plans exactly the rest: {j}");
    let stats = w.emu.stats();
    let created = stats.log.iter().filter(|(_, e, s)| *e == scimitar::scim::ratelimit::Endpoint::CreateUser && *s == 201).count();
    assert_eq!(created, 30);
    let users = w.users().await;
    assert!(hires.iter().all(|h| users.iter().filter(|u| u.primary_email() == Some(h.mail.as_str())).count() == 1));
}

/// An approved sync (a policy apply held over `approval_over`) runs under the circuit breaker as
/// the unheld cycle does: against an emulator replaying Slack's April 2024 incident, the
/// approver's run trips after the failures in a row, the rest is cancelled before it is sent,
/// and the policy is quarantined again; the approval ends `run` with the counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_sync_run_is_stopped_by_the_circuit_breaker() {
    use scimitar::approval::{self, Proposal, State};
    use scimitar::approved::{self, RunEnv};
    use scimitar::queue::action::UpdateSpec;
    use scimitar::queue::{Action, Cancel, EngineConfig, Journal, Knowledge, RunContext, Safety, Target};
    use scimitar::sync::{BreakerConfig, QuarantineKind, SyncStore, Trip};
    let cfg = EmulatorConfig { users: 60, groups: 2, seed: 48, token: "xoxp-approved-breaker".into(), ..Default::default() };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    let client = ScimClient::new(cc).unwrap();
    let users: Vec<User> = client
        .all_users(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.is_active() && scimitar::policy::plan::never_deactivate(u, &[]).is_none())
        .take(30)
        .collect();
    let actions: Vec<Action> = users
        .iter()
        .enumerate()
        .map(|(n, u)| Action::UpdateUser {
            target: Target::of_user(u),
            update: UpdateSpec { set: User { title: Some(format!("Approved Title {n}")), ..Default::default() }, ..Default::default() },
        })
        .collect();
    let store = scimitar::store::Store::in_memory().unwrap();
    let as_ = |user: &str| {
        Journal::on(
            store.clone(),
            RunContext::new("acme", &client.host(), &scimitar::env::Actor { user: user.into(), host: "jump".into() }),
        )
    };
    let safety = Safety { approval_over: Some(3), ..Safety::default() };
    let d = scimitar::queue::gate(&safety, actions, &Knowledge::from_users(users.iter()));
    let p = Proposal {
        origin: "sync".into(),
        policy_run: None,
        policy: Some("hr".into()),
        description: "sync policy hr".into(),
        later: Some(Default::default()),
    };
    let a = approval::propose(&as_("sync"), None, &p, &d).unwrap();
    // bob approves (past the ceiling, as with --force) while Slack deactivates on every update.
    let decision = approval::screen(&client, &safety, &a).await.unwrap().pass_ceiling();
    emu.reset_stats();
    emu.set_faults(Faults { incident: 1.0, ..Default::default() });
    let breaker = BreakerConfig { max_consecutive_failures: 3, active_drop_tolerance: 100, check_every: Duration::from_millis(200) };
    let env = RunEnv {
        client: client.clone(),
        journal: Arc::new(as_("bob")),
        safety: safety.clone(),
        engine: EngineConfig { workers: 2, ..Default::default() },
        breaker,
    };
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let out = approved::run(env, &a, decision, tx, Cancel::default()).await.unwrap();
    emu.set_faults(Faults::default());
    assert!(matches!(out.trip, Some(Trip::ConsecutiveFailures { count: 3, .. })), "{:?}", out.trip);
    let patches = emu.stats().method("PATCH");
    assert!((3..10).contains(&patches), "stopped after the failures in flight: {patches} of 30 updates sent");
    let cancelled: u64 = out.batches.iter().map(|b| b.count(scimitar::queue::OpState::Cancelled)).sum();
    assert_eq!(cancelled, 30 - patches, "the rest cancelled in the journal: {}", out.summary);
    let q = SyncStore::on(store.clone()).state("acme", "hr").unwrap().and_then(|s| s.quarantine).expect("quarantined again");
    assert_eq!(q.kind, QuarantineKind::Breaker);
    let a = approval::get(&store, &a.id).unwrap();
    assert_eq!((a.state, a.decided_by.as_deref()), (State::Run, Some("bob@jump")));
}
