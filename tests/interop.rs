//! scimitar against any SCIM server: the same commands, run as the real binary, against our
//! Slack emulator and against an independent, RFC-strict SCIM 2.0 server nobody here wrote
//! (python-scim's `scim2-server` from PyPI, installed by `./scripts/test`; see
//! `common/scim2.rs`). Every scenario runs on both (`<scenario>::emulator`,
//! `<scenario>::scim2_server`); after each write the test reads the server directly (plain
//! HTTP, not scimitar's client) and asserts the effect, and at the end that no user was ever
//! deleted (every user still answers `GET /Users/{id}`, and `scim2-server`'s request log holds no
//! `DELETE /Users`).
//!
//! What differs between the two is what Slack does differently (reference §2, §4, §7):
//! the emulator is detected as Slack (DELETE deactivates; `ne`/`ew`/value-path filters are
//! refused with Slack's error), `scim2-server` as a generic RFC 7644 server (deactivation by
//! `PATCH active=false` only; every RFC filter passes).

#[path = "common/scim2.rs"]
mod scim2;

use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::report::{Outcome, ReportQuery, ReportStore};
use scimitar::scim::types::urn;
use scimitar::scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret, ServerChoice};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "interop-token-5150";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Emulator,
    Scim2,
}

/// A server under test, with a private config/data dir for the binary and a plain HTTP client
/// to read it directly.
struct Server {
    kind: Kind,
    url: String,
    http: reqwest::Client,
    dir: tempfile::TempDir,
    _emu: Option<Emulator>,
    py: Option<scim2::Scim2>,
    /// Every user the test made (seeded or created): none may ever disappear.
    users: Vec<String>,
}

/// A seeded person: userName, email, department, manager (a userName of an earlier one).
const PEOPLE: [(&str, &str, Option<&str>); 6] = [
    ("ann", "Eng", None),
    ("bob", "Eng", Some("ann")),
    ("cyd", "Ops", Some("ann")),
    ("dan", "Ops", Some("cyd")),
    ("eve", "Ops", None),
    ("fay", "Sales", None),
];

fn email(name: &str) -> String {
    format!("{name}@interop.example")
}

impl Server {
    async fn start(kind: Kind) -> Server {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let (url, emu, py) = match kind {
            Kind::Emulator => {
                // Only the primary owner besides the people the test seeds.
                let cfg = EmulatorConfig { users: 1, groups: 0, seed: 5, token: TOKEN.into(), ..Default::default() };
                let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
                (emu.base_url(ApiVersion::V2), Some(emu), None)
            }
            Kind::Scim2 => {
                let py = tokio::task::spawn_blocking(|| scim2::Scim2::start(TOKEN)).await.unwrap();
                (py.url.clone(), None, Some(py))
            }
        };
        let mut s = Server { kind, url, http, dir: tempfile::tempdir().unwrap(), _emu: emu, py, users: Vec::new() };
        let mut ids: HashMap<&str, String> = HashMap::new();
        for (name, dept, manager) in PEOPLE {
            let id = s.seed_user(name, dept, manager.map(|m| ids[m].as_str())).await;
            ids.insert(name, id);
        }
        s
    }

    fn manager_key(&self) -> &'static str {
        // Slack's `managerId` (reference §3); RFC 7643 §4.3's `value`.
        match self.kind {
            Kind::Emulator => "managerId",
            Kind::Scim2 => "value",
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.http.request(method.parse().unwrap(), format!("{}{path}", self.url)).bearer_auth(TOKEN);
        if let Some(b) = body {
            r = r.header("content-type", "application/scim+json").body(b.to_string());
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn seed_user(&mut self, name: &str, dept: &str, manager: Option<&str>) -> String {
        let mut ent = json!({"department": dept});
        if let Some(m) = manager {
            ent["manager"] = json!({ self.manager_key(): m });
        }
        let body = json!({
            "schemas": [urn::V2_USER, urn::V2_ENTERPRISE],
            "userName": name, "displayName": name, "active": true,
            "name": {"givenName": name, "familyName": "Interop"},
            "emails": [{"value": email(name), "type": "work", "primary": true}],
            urn::V2_ENTERPRISE: ent,
        });
        let (status, v) = self.call("POST", "Users", Some(body)).await;
        assert_eq!(status, 201, "seeding {name}: {v}");
        let id = v["id"].as_str().unwrap().to_string();
        self.users.push(id.clone());
        id
    }

    /// One user, read directly (asserts it exists).
    async fn user(&self, id: &str) -> Value {
        let (status, v) = self.call("GET", &format!("Users/{id}"), None).await;
        assert_eq!(status, 200, "GET Users/{id}: {v}");
        v
    }

    /// Every user, read directly (no filter: nothing of scimitar's is trusted here).
    async fn all_users(&self) -> Vec<Value> {
        let (status, v) = self.call("GET", "Users?startIndex=1&count=1000", None).await;
        assert_eq!(status, 200, "{v}");
        v["Resources"].as_array().cloned().unwrap_or_default()
    }

    async fn by_email(&self, e: &str) -> Option<Value> {
        self.all_users()
            .await
            .into_iter()
            .find(|u| u["emails"].as_array().into_iter().flatten().any(|m| m["value"].as_str().is_some_and(|v| v.eq_ignore_ascii_case(e))))
    }

    async fn id_of(&self, name: &str) -> String {
        self.by_email(&email(name)).await.unwrap_or_else(|| panic!("{name} exists"))["id"].as_str().unwrap().to_string()
    }

    async fn active(&self, id: &str) -> bool {
        self.user(id).await["active"].as_bool().unwrap_or(false)
    }

    async fn groups(&self) -> Vec<Value> {
        let (status, v) = self.call("GET", "Groups?startIndex=1&count=1000", None).await;
        assert_eq!(status, 200, "{v}");
        v["Resources"].as_array().cloned().unwrap_or_default()
    }

    async fn group_named(&self, name: &str) -> Option<Value> {
        self.groups().await.into_iter().find(|g| g["displayName"] == name)
    }

    /// Every user the test made still exists, and (on scim2-server) no DELETE of a user was ever
    /// sent.
    async fn assert_none_deleted(&self) {
        for id in &self.users {
            let (status, v) = self.call("GET", &format!("Users/{id}"), None).await;
            assert_eq!(status, 200, "{:?}: user {id} must never be deleted: {v}", self.kind);
        }
        if let Some(py) = &self.py {
            assert_eq!(py.requests("DELETE", "Users"), 0, "no DELETE /Users ever reaches an RFC server:\n{}", py.log_text());
        }
    }

    fn command(&self, token: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_scimitar"));
        c.args(args)
            .env("SCIMITAR_URL", &self.url)
            .env("SLACK_SCIM_TOKEN", token)
            .env("SCIMITAR_CONFIG_DIR", self.dir.path())
            .env("SCIMITAR_DATA_DIR", self.dir.path())
            .env_remove("SCIMITAR_PROFILE")
            .env_remove("SCIMITAR_API")
            .env_remove("SCIMITAR_SERVER")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(TOKEN, args).output().unwrap()
    }

    /// Run and expect `code`; returns (stdout, stderr).
    fn expect(&self, code: i32, args: &[&str]) -> (String, String) {
        let o = self.run(args);
        let (out, err) = (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned());
        assert_eq!(o.status.code(), Some(code), "{:?}: scimitar {}\nstdout: {out}\nstderr: {err}", self.kind, args.join(" "));
        assert!(!out.contains(TOKEN) && !err.contains(TOKEN), "the token is never printed");
        (out, err)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }
}

fn manager_of(u: &Value) -> Option<String> {
    let m = &u[urn::V2_ENTERPRISE]["manager"];
    m["managerId"].as_str().or(m["value"].as_str()).map(str::to_string)
}

fn members(g: &Value) -> Vec<String> {
    let mut v: Vec<String> =
        g["members"].as_array().into_iter().flatten().filter_map(|m| m["value"].as_str().map(str::to_string)).collect();
    v.sort();
    v
}

macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn emulator() {
                super::$name(super::Kind::Emulator).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn scim2_server() {
                super::$name(super::Kind::Scim2).await
            }
        }
    };
}

// ---------- check ----------

on_both!(check_good_and_wrong_token);
async fn check_good_and_wrong_token(kind: Kind) {
    let s = Server::start(kind).await;
    let (out, _) = s.expect(0, &["check"]);
    assert!(out.contains("token accepted") && out.lines().any(|l| l.starts_with("token accepted") && l.ends_with("yes")), "{out}");
    let (server, via) = match kind {
        Kind::Emulator => ("Slack (its ServiceProviderConfig names Slack)", "DELETE or PATCH active=false"),
        Kind::Scim2 => {
            ("generic SCIM 2.0 (RFC 7644) (its ServiceProviderConfig does not name Slack)", "PATCH active=false (DELETE would delete)")
        }
    };
    assert!(out.contains(server) && out.contains(via), "{out}");
    assert!(out.contains("provider config") && out.contains("ServiceProviderConfig"), "{out}");
    let (out, _) = s.expect(0, &["check", "-o", "json"]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["server"]["dialect"], if kind == Kind::Emulator { "slack" } else { "rfc" });
    assert_eq!(v["total_users"].as_u64().unwrap() as usize, s.users.len() + usize::from(kind == Kind::Emulator));

    // A refused token is exit 77 on every server (the authenticated probe, not the config).
    let o = s.command("xoxp-wrong-token", &["check"]).output().unwrap();
    assert_eq!(o.status.code(), Some(77), "{:?}: {}", kind, String::from_utf8_lossy(&o.stderr));
    s.assert_none_deleted().await;
}

// ---------- lookups ----------

on_both!(users_list_find_show_export);
async fn users_list_find_show_export(kind: Kind) {
    let s = Server::start(kind).await;
    let ann = s.id_of("ann").await;
    let bob = s.id_of("bob").await;

    let (out, _) = s.expect(0, &["users", "list", "-o", "json"]);
    let listed: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for id in &s.users {
        assert!(listed.iter().any(|u| u["id"] == id.as_str()), "{id} listed");
    }

    let (out, _) = s.expect(0, &["users", "find", "ANN@interop.example", "-o", "json"]);
    let found: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(found["id"], ann.as_str());
    s.expect(1, &["users", "find", "ghost@interop.example"]);

    // show by the server's own id (hex on scim2-server), by email, by userName.
    let (out, _) = s.expect(0, &["users", "show", &ann, "-o", "json"]);
    let shown: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(shown["userName"], "ann");
    // Meta keeps every attribute the server sent.
    let direct = s.user(&ann).await;
    assert_eq!(shown["meta"], direct["meta"], "JSON output shows the server's meta as it came");
    if kind == Kind::Scim2 {
        assert!(shown["meta"]["lastModified"].is_string() && shown["meta"]["version"].is_string(), "{shown}");
        assert_eq!(shown["meta"]["resourceType"], "User");
    }
    let (out, _) = s.expect(0, &["users", "show", "bob@interop.example"]);
    assert!(out.contains(&bob) && out.contains("Eng"), "{out}");
    let (out, _) = s.expect(0, &["users", "show", "cyd"]);
    assert!(out.contains("cyd@interop.example"), "{out}");
    let (_, err) = s.expect(66, &["users", "show", "nobody-here"]);
    assert!(err.contains("no user with id or userName"), "{err}");

    // export: the policy source shape; a manager is written as the manager's email.
    let (out, _) = s.expect(0, &["users", "export"]);
    let mut rdr = csv::Reader::from_reader(out.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let bob_row = rows.iter().find(|r| &r[col("email")] == "bob@interop.example").unwrap();
    assert_eq!(&bob_row[col("manager")], "ann@interop.example");
    assert_eq!(&bob_row[col("department")], "Eng");

    // --filter: the RFC grammar is checked here and passed on; Slack refuses what it does not
    // document (reference §4), an RFC server answers.
    let filters = [r#"userName ew "nn""#, r#"emails[type eq "work" and value co "ann@"]"#, r#"not (userName ne "ann")"#];
    for f in filters {
        match kind {
            Kind::Scim2 => {
                let (out, _) = s.expect(0, &["users", "list", "--filter", f, "-o", "csv"]);
                assert!(out.contains("ann@interop.example") && !out.contains("bob@"), "{f}: {out}");
            }
            Kind::Emulator => {
                let (_, err) = s.expect(1, &["users", "list", "--filter", f]);
                assert!(err.contains("invalid_query"), "{f}: {err}");
            }
        }
    }
    let (out, _) = s.expect(0, &["users", "list", "--filter", r#"userName sw "an""#, "-o", "csv"]);
    assert!(out.contains("ann@interop.example") && !out.contains("bob@"), "{out}");
    let (_, err) = s.expect(64, &["users", "list", "--filter", "userName eq"]);
    assert!(err.contains("needs a value"), "{err}");

    if kind == Kind::Scim2 {
        // SCIM 1.1's `email eq` filter is refused by an RFC 2.0 server (scimType invalidFilter):
        // the lookup falls back to `emails.value` instead of failing.
        let (out, _) = s.expect(0, &["--api", "v1", "users", "find", "ann@interop.example", "-o", "json"]);
        assert!(out.contains(&ann), "{out}");
    }
    s.assert_none_deleted().await;
}

// ---------- deactivate / reactivate ----------

on_both!(deactivate_and_reactivate_by_email_id_and_from);
async fn deactivate_and_reactivate_by_email_id_and_from(kind: Kind) {
    let s = Server::start(kind).await;
    let [ann, bob, cyd, dan, eve, fay] = [
        s.id_of("ann").await,
        s.id_of("bob").await,
        s.id_of("cyd").await,
        s.id_of("dan").await,
        s.id_of("eve").await,
        s.id_of("fay").await,
    ];
    // --dry-run and the input checks pass with the server's ids (no id shape is assumed).
    let (out, _) = s.expect(0, &["users", "deactivate", &bob, "--dry-run", "-o", "csv"]);
    assert!(out.contains("deactivate bob@interop.example"), "{out}");
    assert!(s.active(&bob).await);

    s.expect(0, &["users", "deactivate", "ann@interop.example", "--yes"]);
    assert!(!s.active(&ann).await, "by email");
    s.expect(0, &["users", "deactivate", &bob, "--yes"]);
    assert!(!s.active(&bob).await, "by id");
    // --from: an email, an id and a userName, one per line.
    let list = s.file("leavers.txt", &format!("cyd@interop.example\n{dan}\neve\n"));
    let (out, _) = s.expect(0, &["users", "deactivate", "--from", &list, "--yes", "-o", "json"]);
    assert_eq!(out.lines().count(), 3, "{out}");
    for id in [&cyd, &dan, &eve] {
        assert!(!s.active(id).await, "{id} by --from");
    }
    assert!(s.active(&fay).await, "only the targets");

    match kind {
        Kind::Scim2 => {
            // DELETE would delete here: `--via delete` is refused before anything is sent.
            let (_, err) = s.expect(64, &["users", "deactivate", "fay@interop.example", "--via", "delete", "--yes"]);
            assert!(err.contains("RFC 7644 §3.6") && err.contains("nothing was done"), "{err}");
            assert!(s.active(&fay).await);
            let py = s.py.as_ref().unwrap();
            assert_eq!(py.requests("DELETE", "Users"), 0);
            assert!(py.requests("PATCH", "Users") >= 5, "deactivated with PATCH active=false");
        }
        Kind::Emulator => {
            // Slack deactivates on DELETE (reference §2): allowed, and verified like any other.
            s.expect(0, &["users", "deactivate", "fay@interop.example", "--via", "delete", "--yes"]);
            assert!(!s.active(&fay).await);
            s.expect(0, &["users", "reactivate", &fay, "--yes"]);
        }
    }

    s.expect(0, &["users", "reactivate", "ann@interop.example", "--yes"]);
    assert!(s.active(&ann).await);
    s.expect(0, &["users", "reactivate", &bob, "--yes"]);
    assert!(s.active(&bob).await);
    let (out, _) = s.expect(0, &["users", "reactivate", "--from", &list, "--yes", "-o", "json"]);
    assert_eq!(out.lines().count(), 3, "{out}");
    for id in [&cyd, &dan, &eve, &fay] {
        assert!(s.active(id).await, "{id} reactivated");
    }
    s.assert_none_deleted().await;
}

// ---------- users create ----------

on_both!(users_create);
async fn users_create(kind: Kind) {
    let mut s = Server::start(kind).await;
    let ann = s.id_of("ann").await;
    let bob = s.id_of("bob").await;
    let csv = s.file(
        "new.csv",
        &format!(
            "email,userName,first_name,last_name,department,manager\n\
             new1@interop.example,new1,New,One,Eng,ann@interop.example\n\
             new2@interop.example,new2,New,Two,Ops,{bob}\n"
        ),
    );
    let (out, _) = s.expect(0, &["users", "create", "--from", &csv, "--yes", "-o", "json"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    for (name, dept, boss) in [("new1", "Eng", &ann), ("new2", "Ops", &bob)] {
        let u = s.by_email(&format!("{name}@interop.example")).await.unwrap_or_else(|| panic!("{name} created"));
        assert_eq!(u["userName"], name);
        assert_eq!(u["active"], true);
        assert_eq!(u[urn::V2_ENTERPRISE]["department"], dept);
        assert_eq!(manager_of(&u).as_deref(), Some(boss.as_str()), "{name}'s manager is sent as an id: {u}");
        s.users.push(u["id"].as_str().unwrap().to_string());
    }
    // Slack's rules before anything is sent: the row is named.
    let bad = s.file("bad.csv", "email,userName\nlong@interop.example,this_user_name_is_too_long\n");
    let (_, err) = s.expect(64, &["users", "create", "--from", &bad, "--yes"]);
    assert!(err.contains("line 2") && err.contains("21"), "{err}");
    assert!(s.by_email("long@interop.example").await.is_none());
    s.assert_none_deleted().await;
}

// ---------- groups ----------

on_both!(groups_create_rename_add_remove_delete);
async fn groups_create_rename_add_remove_delete(kind: Kind) {
    let s = Server::start(kind).await;
    let [ann, bob, cyd] = [s.id_of("ann").await, s.id_of("bob").await, s.id_of("cyd").await];
    s.expect(0, &["groups", "create", "eng-interop", "ann@interop.example", &bob, "--yes"]);
    let g = s.group_named("eng-interop").await.expect("created");
    let gid = g["id"].as_str().unwrap().to_string();
    let mut want = vec![ann.clone(), bob.clone()];
    want.sort();
    assert_eq!(members(&g), want);

    // show by name and by the server's id
    let (out, _) = s.expect(0, &["groups", "show", "eng-interop", "-o", "csv"]);
    assert!(out.contains(&ann) && out.contains(&bob), "{out}");
    let (out, _) = s.expect(0, &["groups", "show", &gid, "-o", "json"]);
    assert!(out.contains("eng-interop"), "{out}");

    s.expect(0, &["groups", "rename", "eng-interop", "eng-renamed", "--yes"]);
    let (_, g) = s.call("GET", &format!("Groups/{gid}"), None).await;
    assert_eq!(g["displayName"], "eng-renamed");
    assert_eq!(members(&g), want, "a rename keeps the members");

    s.expect(0, &["groups", "add", "eng-renamed", "cyd", "--yes"]);
    let (_, g) = s.call("GET", &format!("Groups/{gid}"), None).await;
    assert!(members(&g).contains(&cyd), "{g}");

    // One filtered remove per member (the quoted RFC form on scim2-server, Slack's on Slack).
    s.expect(0, &["groups", "remove", &gid, "ann@interop.example", "--yes"]);
    let (_, g) = s.call("GET", &format!("Groups/{gid}"), None).await;
    let mut left = vec![bob.clone(), cyd.clone()];
    left.sort();
    assert_eq!(members(&g), left, "only ann removed");

    s.expect(0, &["groups", "delete", "eng-renamed", "--yes"]);
    let (status, _) = s.call("GET", &format!("Groups/{gid}"), None).await;
    assert_eq!(status, 404, "the group is gone");
    assert!(s.active(&bob).await, "its members stay");
    s.assert_none_deleted().await;
}

// ---------- plan / apply ----------

on_both!(plan_and_one_apply_converge);
async fn plan_and_one_apply_converge(kind: Kind) {
    let mut s = Server::start(kind).await;
    let ann = s.id_of("ann").await;
    let (export, _) = s.expect(0, &["users", "export"]);
    let mut rdr = csv::Reader::from_reader(export.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
    let mut rows: Vec<Vec<String>> = rdr.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    for r in &mut rows {
        if r[col("email")] == "cyd@interop.example" {
            r[col("department")] = String::new(); // clears an enterprise attribute
        }
        if r[col("email")] == "eve@interop.example" {
            r[col("title")] = "Lead".into();
        }
    }
    let hire = |name: &str, manager: &str| {
        let mut r = vec![String::new(); headers.len()];
        r[col("email")] = email(name);
        r[col("user_name")] = name.into();
        r[col("given_name")] = name.into();
        r[col("family_name")] = "Hire".into();
        r[col("display_name")] = name.into();
        r[col("department")] = "Eng".into();
        r[col("manager")] = manager.into();
        r[col("active")] = "true".into();
        r
    };
    // B managed by new hire A (B listed first), A managed by ann; and a chain c1 -> c2 -> c3 of
    // new hires listed in reverse order.
    rows.push(hire("hireb", "hirea@interop.example"));
    rows.push(hire("hirea", "ann@interop.example"));
    rows.push(hire("chain3", "chain2@interop.example"));
    rows.push(hire("chain2", "chain1@interop.example"));
    rows.push(hire("chain1", ""));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(headers.iter()).unwrap();
    for r in &rows {
        w.write_record(r).unwrap();
    }
    s.file("users.csv", &String::from_utf8(w.into_inner().unwrap()).unwrap());
    let policy = s.file("hr.toml", scimitar::policy::config::EXPORT_POLICY);

    let (out, _) = s.expect(2, &["plan", "--policy", &policy]);
    assert!(out.contains("+ create hirea") && out.contains("managers to set once created"), "{out}");
    assert!(!out.contains("- deactivate"), "{out}");
    let (_, err) = s.expect(0, &["apply", "--policy", &policy, "--yes"]);
    assert!(err.contains("follow once they exist"), "{err}");

    let id = |name: &'static str| {
        let s = &s;
        async move { s.id_of(name).await }
    };
    let (a, b, c1, c2, c3) = (id("hirea").await, id("hireb").await, id("chain1").await, id("chain2").await, id("chain3").await);
    for (who, boss) in [(&b, &a), (&a, &ann), (&c3, &c2), (&c2, &c1)] {
        let u = s.user(who).await;
        assert_eq!(u["active"], true);
        assert_eq!(manager_of(&u).as_deref(), Some(boss.as_str()), "{who}'s manager: {u}");
    }
    assert_eq!(manager_of(&s.user(&c1).await), None);
    let cyd = s.user(&s.id_of("cyd").await).await;
    assert!(cyd[urn::V2_ENTERPRISE]["department"].is_null(), "department cleared: {cyd}");
    assert_eq!(s.user(&s.id_of("eve").await).await["title"], "Lead");
    s.users.extend([a, b, c1, c2, c3]);

    // One apply converged: the next plan is empty.
    let (out, err) = s.expect(0, &["plan", "--policy", &policy]);
    assert!(out.contains("No changes."), "{out}\n{err}");
    s.assert_none_deleted().await;
}

// ---------- resume after SIGKILL ----------

on_both!(resume_after_sigkill);
async fn resume_after_sigkill(kind: Kind) {
    let mut s = Server::start(kind).await;
    const N: usize = 40;
    let mut ids = Vec::new();
    for i in 0..N {
        ids.push(s.seed_user(&format!("k{i:02}"), "Ops", None).await);
    }
    let list = s.file("leavers.txt", &(0..N).map(|i| format!("k{i:02}@interop.example\n")).collect::<String>());
    async fn inactive(s: &Server, ids: &[String]) -> usize {
        let all = s.all_users().await;
        all.iter().filter(|u| ids.iter().any(|id| u["id"] == id.as_str()) && u["active"] == false).count()
    }
    // Slack's pacing at half speed: a burst, then a few a second, so the run can be cut.
    let mut child = s
        .command(TOKEN, &["users", "deactivate", "--from", &list, "--yes", "--throttle-scale", "0.5", "-o", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if inactive(&s, &ids).await >= 12 {
            break;
        }
        assert!(Instant::now() < deadline, "the run never got going");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let after_kill = inactive(&s, &ids).await;
    assert!(after_kill < N, "killed mid-run: {after_kill} done");

    let (_, err) = s.expect(0, &["resume", "--yes", "--throttle", "off", "-o", "csv"]);
    assert!(err.contains("resuming batch"), "{err}");
    assert_eq!(inactive(&s, &ids).await, N, "every user ends deactivated");

    // Each user recorded once, as done.
    let store = ReportStore::open(&s.dir.path().join("scimitar.db")).unwrap();
    let recs = store.query(&ReportQuery { limit: None, ..Default::default() }).unwrap();
    let mut per_user: HashMap<String, Vec<Outcome>> = HashMap::new();
    for r in &recs {
        per_user.entry(r.record.target_id.clone().unwrap()).or_default().push(r.record.outcome);
    }
    assert_eq!(per_user.len(), N);
    assert!(per_user.values().all(|o| o == &vec![Outcome::Done]), "each recorded once as done: {per_user:?}");
    s.expect(0, &["resume", "--yes"]);
    s.assert_none_deleted().await;
}

// ---------- the client alone, against scim2-server ----------

fn client(s: &Server, server: ServerChoice) -> ScimClient {
    let mut cc = ClientConfig::new(&s.url, Secret::new(TOKEN), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    cc.server = server;
    ScimClient::new(cc).unwrap()
}

/// A PATCH form the server refuses for its syntax falls back once to the other form, and the
/// client remembers the one the server took: Slack's unquoted member filter (reference §5) is
/// refused by an RFC server (`invalidPath`), the quoted RFC form is taken, and the next removal
/// sends that form straight away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_patch_form_falls_back_once_and_is_remembered() {
    let s = Server::start(Kind::Scim2).await;
    let py = s.py.as_ref().unwrap();
    let [ann, bob, cyd] = [s.id_of("ann").await, s.id_of("bob").await, s.id_of("cyd").await];
    let (status, g) = s
        .call(
            "POST",
            "Groups",
            Some(json!({"schemas": [urn::V2_GROUP], "displayName": "forms", "members": [{"value": ann}, {"value": bob}, {"value": cyd}]})),
        )
        .await;
    assert_eq!(status, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();

    // Told it is Slack, the client sends Slack's unquoted form first.
    let slack_first = client(&s, ServerChoice::Slack);
    let before = py.requests("PATCH", "Groups");
    slack_first.remove_members(&gid, std::slice::from_ref(&ann)).await.unwrap();
    assert_eq!(py.requests("PATCH", "Groups") - before, 2, "refused unquoted, then quoted");
    let before = py.requests("PATCH", "Groups");
    slack_first.remove_members(&gid, std::slice::from_ref(&bob)).await.unwrap();
    assert_eq!(py.requests("PATCH", "Groups") - before, 1, "the form the server took is remembered");
    let (_, g) = s.call("GET", &format!("Groups/{gid}"), None).await;
    assert_eq!(members(&g), vec![cyd.clone()]);

    // Detected as generic, the client sends the RFC form first: one request.
    let generic = client(&s, ServerChoice::Auto);
    assert!(!generic.profile().await.is_slack());
    let before = py.requests("PATCH", "Groups");
    generic.remove_members(&gid, std::slice::from_ref(&cyd)).await.unwrap();
    assert_eq!(py.requests("PATCH", "Groups") - before, 1);
    let (_, g) = s.call("GET", &format!("Groups/{gid}"), None).await;
    assert!(members(&g).is_empty(), "{g}");

    // Clearing an enterprise attribute: RFC 7644's colon path, taken at once.
    let before = py.requests("PATCH", "Users");
    let upd = scimitar::scim::UserUpdate { clear: vec!["enterprise.department".into()], ..Default::default() };
    let u = generic.update_user(&ann, &upd).await.unwrap();
    assert_eq!(u.department(), None);
    assert_eq!(py.requests("PATCH", "Users") - before, 1);
    assert!(s.user(&ann).await[urn::V2_ENTERPRISE]["department"].is_null());
    s.assert_none_deleted().await;
}

/// The client never sends DELETE /Users to a generic server, whoever asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_never_reaches_a_generic_server() {
    let s = Server::start(Kind::Scim2).await;
    let ann = s.id_of("ann").await;
    let c = client(&s, ServerChoice::Auto);
    let e = c.deactivate(&ann).await.unwrap_err();
    assert!(e.to_string().contains("RFC 7644 §3.6"), "{e}");
    let u = c.set_active(&ann, false).await.unwrap();
    assert_eq!(u.active, Some(false), "PATCH active=false deactivates, read back from the server");
    assert!(!s.active(&ann).await);
    s.assert_none_deleted().await;
}

// ---------- one value of a multi-valued attribute (issue 24) ----------

on_both!(a_changed_email_or_phone_keeps_the_others);
/// `users update --set email=…` (and `phone`) changes that one value: RFC 7644 §3.5.2.3 replaces
/// the whole attribute on a PATCH of `emails`, which would drop a user's home email on an RFC
/// server; the update replaces `emails[value eq "OLD"].value` instead.
async fn a_changed_email_or_phone_keeps_the_others(kind: Kind) {
    let s = Server::start(kind).await;
    let ann = s.id_of("ann").await;
    // A home email and two phones, given straight to the server.
    let (status, v) = s
        .call(
            "PATCH",
            &format!("Users/{ann}"),
            Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "add", "path": "emails", "value": [{"value": "ann@home.example", "type": "home", "primary": false}]},
                {"op": "add", "path": "phoneNumbers", "value": [{"value": "+1 555 0100", "type": "work"}, {"value": "+1 555 0199", "type": "mobile"}]}
            ]})),
        )
        .await;
    assert!((200..300).contains(&status), "{v}");
    let values = |u: &Value, attr: &str| -> Vec<String> {
        let mut v: Vec<String> =
            u[attr].as_array().into_iter().flatten().filter_map(|m| m["value"].as_str().map(str::to_lowercase)).collect();
        v.sort();
        v
    };
    s.expect(0, &["users", "update", "ann@interop.example", "--set", "email=ann.new@interop.example", "--yes"]);
    let u = s.user(&ann).await;
    assert_eq!(values(&u, "emails"), ["ann.new@interop.example", "ann@home.example"], "{kind:?}: the home email is kept: {u}");
    let (out, _) = s.expect(0, &["users", "show", &ann, "-o", "csv"]);
    assert!(out.contains("secondaryEmail,ann@home.example"), "{out}");

    s.expect(0, &["users", "update", &ann, "--set", "phone=+1 555 0111", "--yes"]);
    let u = s.user(&ann).await;
    assert_eq!(values(&u, "phoneNumbers"), ["+1 555 0111", "+1 555 0199"], "{kind:?}: the mobile phone is kept: {u}");
    s.expect(0, &["users", "update", &ann, "--set", "secondaryEmail=ann@elsewhere.example", "--yes"]);
    let u = s.user(&ann).await;
    assert_eq!(values(&u, "emails"), ["ann.new@interop.example", "ann@elsewhere.example"], "{kind:?}: {u}");
    s.assert_none_deleted().await;
}

on_both!(a_mixed_case_user_name_is_found);
/// A lookup sends its argument as typed and compares the answers without regard to case: a
/// server that compares userNames case-sensitively finds `Mixed.Case` (it was asked for
/// `mixed.case` before), and Slack, which lowercases them, still finds it.
async fn a_mixed_case_user_name_is_found(kind: Kind) {
    let mut s = Server::start(kind).await;
    let body = json!({
        "schemas": [urn::V2_USER], "userName": "Mixed.Case", "active": true,
        "emails": [{"value": "Mixed.Case@Interop.example", "type": "work", "primary": true}],
    });
    let (status, v) = s.call("POST", "Users", Some(body)).await;
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    s.users.push(id.clone());
    for typed in ["Mixed.Case", "mixed.case", "Mixed.Case@Interop.example", "mixed.case@interop.example"] {
        let (out, _) = s.expect(0, &["users", "show", typed, "-o", "json"]);
        let shown: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(shown["id"], id.as_str(), "{kind:?}: {typed}");
    }
    s.expect(0, &["users", "deactivate", "Mixed.Case", "--yes"]);
    assert!(!s.active(&id).await);
    if let Some(py) = &s.py {
        // The filter went out as typed: `Mixed.Case`, not a lowercased copy.
        py.requests("GET", "Users");
        let log = py.log_text();
        assert!(
            log.lines().any(|l| l.contains("GET /v2/Users?") && l.contains("Mixed.Case%22")),
            "the userName filter carries the name as typed:\n{log}"
        );
    }
    s.assert_none_deleted().await;
}
