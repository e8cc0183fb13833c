//! The LDAP source against a real OpenLDAP server (Debian's slapd, started by
//! `tests/common/slapd.rs` on a loopback port with a seeded directory) and the emulator over real
//! HTTP: exact plans, apply through the real binary, directory changes followed, failures named.

#[path = "common/pty.rs"]
mod pty;
#[path = "common/slapd.rs"]
mod slapd;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::policy::config::Policy;
use scimitar::policy::ldap::{FailureKind, LdapError};
use scimitar::policy::live::{LivePlan, live_plan};
use scimitar::policy::plan::{MemberRef, Reason, never_deactivate};
use scimitar::scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret, User};
use slapd::{Directory, Person, Slapd, group_dn, person_dn};

struct Env {
    emu: Emulator,
    dir: tempfile::TempDir,
    client: ScimClient,
}

impl Env {
    async fn start(users: usize, groups: usize) -> Env {
        let cfg = EmulatorConfig { users, groups, seed: 23, token: "xoxp-ldap-test".into(), ..Default::default() };
        let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
        cc.rate_limit = RateLimit::Off;
        let client = ScimClient::new(cc).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for d in ["data", "config", "work"] {
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

    async fn scimitar(&self, args: &[&str]) -> Output {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_scimitar"));
        cmd.args(["--throttle", "off"])
            .args(args)
            .env("SCIMITAR_URL", self.emu.base_url(ApiVersion::V2))
            .env("SLACK_SCIM_TOKEN", self.emu.token())
            .env("SCIMITAR_DATA_DIR", self.data())
            .env("SCIMITAR_CONFIG_DIR", self.dir.path().join("config"))
            .env_remove("SCIMITAR_PROFILE")
            .env_remove("SCIMITAR_CONFIG")
            .env_remove("SCIMITAR_API")
            .stdin(std::process::Stdio::null());
        tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
    }

    async fn plan(&self, policy: &Path) -> LivePlan {
        live_plan(&self.client, policy, &self.data().join("policy-state")).await.unwrap()
    }

    async fn users(&self) -> Vec<User> {
        self.client.all_users(None).await.unwrap()
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn show(o: &Output) -> String {
    format!("exit {}\nstdout:\n{}\nstderr:\n{}", code(o), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// An AD-style policy (memberOf, userAccountControl, sAMAccountName) or, with `member_lists`, an
/// OpenLDAP-style one (groups' member lists, employeeType = disabled). Both describe the same
/// people, so they must give the same plan.
fn policy_text(url: &str, password_file: &Path, member_lists: bool, extra_source: &str) -> String {
    let (groups_from, disabled) = if member_lists {
        ("member", "disabled_attribute = \"employeeType\"\ndisabled_values = [\"Disabled\"]")
    } else {
        ("memberOf", "disabled_attribute = \"userAccountControl\"")
    };
    format!(
        r#"match_on = "email"

[source]
kind = "ldap"
url = "{url}"
bind_dn = "{bind}"
password_file = "{pw}"
base_dn = "{people}"
user_filter = "(objectClass=inetOrgPerson)"
id_column = "sAMAccountName"
{disabled}
groups_from = "{groups_from}"
group_base_dn = "{groups}"
{extra_source}

[attributes]
"emails.work" = "mail"
userName = "uid"
"name.givenName" = "givenName"
"name.familyName" = "sn"
title = "title"
"enterprise.department" = "department"
"enterprise.manager" = "manager"

[scope]
groups = ["CN=Staff, OU=Groups, DC=example, DC=com"]

[provisioning]
max_deactivations = 100

[[groups]]
source = "eng"
slack_name = "policy-eng"
key = "grp-eng"
membership = "overwrite"
"#,
        bind = slapd::BIND_DN,
        pw = password_file.display(),
        people = slapd::PEOPLE,
        groups = slapd::GROUPS,
    )
}

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

/// A directory entry mirroring a Slack user.
fn person_of(u: &User, by_id: &HashMap<&str, &User>, enabled: bool) -> Person {
    let name = u.name.clone().unwrap_or_default();
    let uid = u.user_name.clone().unwrap();
    Person {
        uid: uid.clone(),
        given_name: name.given_name.unwrap(),
        sn: name.family_name.unwrap(),
        mail: u.primary_email().unwrap().to_string(),
        title: u.title.clone(),
        department: u.department().map(str::to_string),
        employee_number: u.enterprise.as_ref().and_then(|e| e.employee_number.clone()),
        sam: Some(uid),
        manager: u.manager_id().and_then(|m| by_id.get(m)).and_then(|m| m.user_name.clone()),
        user_account_control: Some(if enabled { 512 } else { 514 }),
        employee_type: Some(if enabled { "Employee" } else { "Disabled" }.into()),
    }
}

/// Set equality that shows only the difference.
fn assert_same(got: &BTreeSet<String>, want: &BTreeSet<String>, what: &str) {
    let missing: Vec<&String> = want.difference(got).take(5).collect();
    let extra: Vec<&String> = got.difference(want).take(5).collect();
    assert!(missing.is_empty() && extra.is_empty(), "{what}: missing {missing:?}, extra {extra:?} (of {} wanted)", want.len());
}

fn ids(users: &[&User]) -> BTreeSet<String> {
    users.iter().map(|u| u.id().to_string()).collect()
}

/// Every file under `dir`, for grepping.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() { stack.push(p) } else { out.push(p) }
        }
    }
    out
}

/// 10,000 Slack users and a directory of 10,017 entries mirroring them: 20 new hires (in a group
/// nested in `eng`, with a manager by DN), 50 changed attributes and 10 changed managers, 25
/// disabled (userAccountControl 514), 25 outside the scope group, one deactivated in Slack but
/// enabled in the directory, 3 Slack users the directory no longer has, groups with a cycle.
/// The plan is exact; memberOf and member lists agree; one apply converges; then users removed
/// from the scope group or disabled in the directory are deactivated, and come back when
/// re-enabled. The password never shows in any output or file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_plan_is_exact_apply_converges_and_directory_changes_follow() {
    let env = Env::start(10_000, 8).await;
    let all = env.users().await;
    let by_id: HashMap<&str, &User> = all.iter().map(|u| (u.id(), u)).collect();
    let managers: HashSet<&str> = all.iter().filter_map(|u| u.manager_id()).collect();
    let regular: Vec<&User> = all.iter().filter(|u| never_deactivate(u, &[]).is_none()).collect();
    let active: Vec<&User> = regular.iter().copied().filter(|u| u.is_active()).collect();
    let inactive: Vec<&User> = regular.iter().copied().filter(|u| !u.is_active()).collect();
    assert!(active.len() > 9_000 && inactive.len() > 100, "{} active, {} inactive", active.len(), inactive.len());
    // The directory no longer has 3 users (who manage no one, so every manager stays resolvable).
    let deleted: Vec<&User> = active.iter().copied().filter(|u| !managers.contains(u.id())).take(3).collect();
    let gone: HashSet<&str> = deleted.iter().map(|u| u.id()).collect();
    let body: Vec<&User> = active.iter().copied().filter(|u| !gone.contains(u.id())).collect();
    let back = inactive[0];
    let new_manager = body[200];
    let hire_manager = body[300];

    let mut dir = Directory::default();
    let mut staff: Vec<String> = Vec::new();
    let mut eng: Vec<String> = vec![group_dn("eng-platform")];
    let mut want_eng: BTreeSet<String> = BTreeSet::new();
    let mut want_updates: Vec<(String, String, Option<String>, Option<String>)> = Vec::new();
    for (i, u) in body.iter().enumerate() {
        let mut p = person_of(u, &by_id, i >= 25);
        match i {
            50..75 => {
                p.title = Some(format!("Changed Title {i}"));
                want_updates.push((u.id().into(), "title".into(), u.title.clone(), p.title.clone()));
            }
            75..100 => {
                p.department = Some(format!("Changed Dept {i}"));
                want_updates.push((u.id().into(), "enterprise.department".into(), u.department().map(Into::into), p.department.clone()));
            }
            100..110 => {
                assert_ne!(u.manager_id(), Some(new_manager.id()));
                p.manager = new_manager.user_name.clone();
                want_updates.push((
                    u.id().into(),
                    "enterprise.manager".into(),
                    u.manager_id().map(Into::into),
                    Some(new_manager.id().into()),
                ));
            }
            _ => {}
        }
        if (25..50).contains(&i) {
            dir.group("alumni", [p.dn()]);
        } else {
            staff.push(p.dn());
        }
        if i >= 50 && i % 3 == 0 {
            eng.push(p.dn());
            want_eng.insert(u.id().to_string());
        }
        dir.people.push(p);
    }
    // Everyone else Slack has: the deactivated (disabled in the directory, but one), bots and
    // the primary owner (enabled).
    let mut platform: Vec<String> = Vec::new();
    for u in all.iter().filter(|u| !gone.contains(u.id()) && !body.iter().any(|b| b.id() == u.id())) {
        let enabled = u.is_active() || u.id() == back.id();
        let p = person_of(u, &by_id, enabled);
        staff.push(p.dn());
        if u.id() == back.id() {
            platform.push(p.dn());
            want_eng.insert(u.id().to_string());
        }
        dir.people.push(p);
    }
    let mut new_keys = BTreeSet::new();
    for n in 0..20 {
        let uid = format!("new.hire{n}");
        let p = Person {
            uid: uid.clone(),
            given_name: "New".into(),
            sn: format!("Hire{n}"),
            mail: format!("{uid}@acme-corp.example"),
            title: Some("Engineer".into()),
            department: Some("Engineering".into()),
            sam: Some(uid.clone()),
            manager: hire_manager.user_name.clone(),
            user_account_control: Some(512),
            employee_type: Some("Employee".into()),
            ..Default::default()
        };
        staff.push(p.dn());
        platform.push(p.dn());
        new_keys.insert(uid);
        dir.people.push(p);
    }
    dir.group("staff", staff);
    // eng-platform is nested in eng, and (a cycle) eng in eng-platform.
    platform.push(group_dn("eng"));
    dir.group("eng-platform", platform);
    dir.group("eng", eng);
    assert!(dir.people.len() >= 10_000, "{}", dir.people.len());

    let server = Slapd::start(&dir);
    eprintln!("slapadd: {} entries in {} ms", server.entries, server.seed_time.as_millis());
    // Without paging the server stops at 1,000 entries: reading all of them proves the reader pages.
    let (rc, text) = server.ldapsearch_unpaged(slapd::PEOPLE, "(objectClass=inetOrgPerson)");
    assert_eq!(rc, 4, "unpaged search should hit the size limit: {}", &text[text.len().saturating_sub(300)..]);

    let pw = server.password_file(&env.work());
    let ad = write(&env.work().join("ad.toml"), &policy_text(&server.url(), &pw, false, ""));
    let lists = write(&env.work().join("lists.toml"), &policy_text(&server.url(), &pw, true, "page_size = 250"));
    let t = std::time::Instant::now();
    let source = Policy::load(&ad).unwrap().read_source().unwrap();
    assert_eq!(source.rows.len(), dir.people.len());
    eprintln!("read {} entries in {} ms", source.rows.len(), t.elapsed().as_millis());
    let t = std::time::Instant::now();

    let live = env.plan(&ad).await;
    eprintln!("first live plan in {} ms", t.elapsed().as_millis());
    let plan = &live.plan;
    assert!(plan.warnings.is_empty(), "{:?}", &plan.warnings[..plan.warnings.len().min(5)]);
    let created: BTreeSet<String> = plan.creates.iter().map(|c| c.key.clone()).collect();
    assert_eq!(created, new_keys);
    for c in &plan.creates {
        assert_eq!(c.user.manager_id(), Some(hire_manager.id()), "a new hire's manager DN resolves to a Slack id");
        assert_eq!(c.user.department(), Some("Engineering"));
    }
    assert_eq!(plan.reactivations.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [back.id()]);
    want_updates.sort();
    let mut got_updates: Vec<(String, String, Option<String>, Option<String>)> = plan
        .updates
        .iter()
        .flat_map(|up| up.changes.iter().map(move |c| (up.id.clone(), c.attr.name().to_string(), c.old.clone(), c.new.clone())))
        .collect();
    got_updates.sort();
    assert_eq!(got_updates, want_updates);
    let mut want_deact: Vec<(String, Reason)> = deleted.iter().map(|u| (u.id().to_string(), Reason::Deleted)).collect();
    want_deact.extend(body[..25].iter().map(|u| (u.id().to_string(), Reason::Disabled)));
    want_deact.extend(body[25..50].iter().map(|u| (u.id().to_string(), Reason::LeftScope)));
    want_deact.sort();
    let mut got_deact: Vec<(String, Reason)> = plan.deactivations.iter().map(|d| (d.id.clone(), d.reason)).collect();
    got_deact.sort();
    assert_eq!(got_deact, want_deact);
    assert_eq!(plan.group_creates.len(), 1);
    let gc = &plan.group_creates[0];
    let known: BTreeSet<String> =
        gc.members.iter().filter(|m| matches!(m, MemberRef::User { .. })).map(|m| m.target().to_string()).collect();
    let pending: BTreeSet<String> =
        gc.members.iter().filter(|m| matches!(m, MemberRef::Pending { .. })).map(|m| m.target().to_string()).collect();
    assert_same(&known, &want_eng, "members of eng: its own, and eng-platform's through the nesting");
    assert_eq!(pending, new_keys);
    let c = plan.counts();
    assert_eq!((c.creates, c.reactivations, c.updates, c.attribute_changes, c.group_creates, c.deactivations), (20, 1, 60, 60, 1, 53));
    assert_eq!((c.group_renames, c.member_adds, c.member_removes, c.reported_only), (0, 0, 0, 0));
    assert!(!format!("{:?}", live.policy).contains(&server.password));

    // Member lists and employeeType say the same as memberOf and userAccountControl.
    assert_eq!(env.plan(&lists).await.plan, *plan);

    let mut outputs: Vec<Output> = Vec::new();
    let out = env.scimitar(&["plan", "--policy", ad.to_str().unwrap(), "--output", "json"]).await;
    assert_eq!(code(&out), 2, "{}", show(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((doc["counts"]["creates"].as_u64(), doc["counts"]["deactivations"].as_u64()), (Some(20), Some(53)));
    outputs.push(out);

    let out = env.scimitar(&["apply", "--policy", ad.to_str().unwrap(), "--yes", "--output", "json"]).await;
    assert_eq!(code(&out), 0, "{}", show(&out));
    outputs.push(out);
    let after = env.users().await;
    let get = |id: &str| after.iter().find(|u| u.id() == id).unwrap().clone();
    assert!(get(back.id()).is_active());
    for (id, _) in &want_deact {
        assert!(!get(id).is_active(), "{id} still active");
    }
    assert_eq!(get(body[100].id()).manager_id(), Some(new_manager.id()));
    let hire = after.iter().find(|u| u.primary_email() == Some("new.hire0@acme-corp.example")).expect("new hire created");
    assert_eq!(hire.manager_id(), Some(hire_manager.id()));
    assert!(env.plan(&ad).await.plan.is_empty(), "one apply converges");
    assert!(env.plan(&lists).await.plan.is_empty());

    // In the directory: one user leaves the scope group, another is disabled.
    let (leaver, disabled) = (body[61], body[62]);
    let staff_dn = group_dn("staff");
    let leaver_dn = person_dn(leaver.user_name.as_deref().unwrap());
    let disabled_dn = person_dn(disabled.user_name.as_deref().unwrap());
    server.modify(&format!(
        "dn: {staff_dn}\nchangetype: modify\ndelete: member\nmember: {leaver_dn}\n\n\
         dn: {disabled_dn}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n-\nreplace: employeeType\nemployeeType: Disabled\n"
    ));
    let plan = env.plan(&ad).await.plan;
    let got: Vec<(&str, Reason)> = plan.deactivations.iter().map(|d| (d.id.as_str(), d.reason)).collect();
    let mut want = vec![(leaver.id(), Reason::LeftScope), (disabled.id(), Reason::Disabled)];
    want.sort();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    assert_eq!(got_sorted, want);
    assert_eq!(plan.counts().changes(), 2, "{:?}", plan.counts());
    assert_eq!(env.plan(&lists).await.plan, plan, "the overlay updated memberOf; the member list says the same");
    let out = env.scimitar(&["apply", "--policy", ad.to_str().unwrap(), "--yes"]).await;
    assert_eq!(code(&out), 0, "{}", show(&out));
    outputs.push(out);
    let after = env.users().await;
    assert!(!after.iter().find(|u| u.id() == leaver.id()).unwrap().is_active());
    assert!(!after.iter().find(|u| u.id() == disabled.id()).unwrap().is_active());
    assert!(env.plan(&ad).await.plan.is_empty());

    // Back in the group and re-enabled: both are reactivated.
    server.modify(&format!(
        "dn: {staff_dn}\nchangetype: modify\nadd: member\nmember: {leaver_dn}\n\n\
         dn: {disabled_dn}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 512\n-\nreplace: employeeType\nemployeeType: Employee\n"
    ));
    let plan = env.plan(&ad).await.plan;
    let got: BTreeSet<&str> = plan.reactivations.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(got, ids(&[leaver, disabled]).iter().map(String::as_str).collect());
    assert_eq!(plan.counts().changes(), 2, "{:?}", plan.counts());
    let out = env.scimitar(&["apply", "--policy", ad.to_str().unwrap(), "--yes"]).await;
    assert_eq!(code(&out), 0, "{}", show(&out));
    outputs.push(out);
    let after = env.users().await;
    assert!(after.iter().find(|u| u.id() == leaver.id()).unwrap().is_active());
    assert!(after.iter().find(|u| u.id() == disabled.id()).unwrap().is_active());
    assert!(env.plan(&ad).await.plan.is_empty());

    // The password is in no output, journal, report, database or state file.
    for o in &outputs {
        assert!(
            !String::from_utf8_lossy(&o.stdout).contains(&server.password)
                && !String::from_utf8_lossy(&o.stderr).contains(&server.password)
        );
    }
    let files = files_under(&env.data());
    assert!(files.iter().any(|f| f.ends_with("scimitar.db")), "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!bytes.windows(server.password.len()).any(|w| w == server.password.as_bytes()), "password in {}", f.display());
    }
}

/// A small directory: 150 people in `staff`.
fn small_directory() -> Directory {
    let mut dir = Directory::default();
    for i in 0..150 {
        dir.people.push(Person {
            uid: format!("p{i}"),
            given_name: format!("Given{i}"),
            sn: format!("Family{i}"),
            mail: format!("p{i}@corp.example"),
            title: Some("Engineer".into()),
            sam: Some(format!("p{i}")),
            user_account_control: Some(if i % 10 == 0 { 514 } else { 512 }),
            ..Default::default()
        });
    }
    let staff = dir.people.iter().map(Person::dn).collect::<Vec<_>>();
    dir.group("staff", staff);
    dir
}

fn small_policy(url: &str, bind_dn: &str, password: &str, base_dn: &str, extra: &str) -> String {
    format!(
        r#"[source]
kind = "ldap"
url = "{url}"
bind_dn = "{bind_dn}"
{password}
base_dn = "{base_dn}"
user_filter = "(objectClass=inetOrgPerson)"
id_column = "uid"
disabled_attribute = "userAccountControl"
{extra}
[attributes]
"emails.work" = "mail"
userName = "uid"
title = "title"
[scope]
groups = ["staff"]
"#
    )
}

fn read_err(dir: &Path, name: &str, text: &str) -> LdapError {
    let p = write(&dir.join(format!("{name}.toml")), text);
    let e = Policy::load(&p).unwrap().read_source().expect_err(name);
    match e {
        scimitar::policy::config::ReadSourceError::Directory(e) => e,
        e => panic!("{name}: not an LDAP error: {e:#}"),
    }
}

/// Every failure names the server, the bind DN and (when the server sent one) the LDAP result
/// code; none shows the password; the binary maps them to exit codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_failures_name_server_bind_dn_and_result_code() {
    let server = Slapd::start(&small_directory());
    let env = Env::start(20, 1).await;
    let work = env.work();
    let pw = server.password_file(&work);
    let pw_line = format!("password_file = \"{}\"", pw.display());
    let url = server.url();

    // The good case reads every entry: 150 rows, 15 of them disabled.
    let p = write(&work.join("ok.toml"), &small_policy(&url, slapd::BIND_DN, &pw_line, slapd::PEOPLE, ""));
    let src = Policy::load(&p).unwrap().read_source().unwrap();
    assert_eq!(src.rows.len(), 150);
    let en = src.column("enabled").unwrap();
    assert_eq!(src.rows.iter().filter(|r| r.get(en) == "false").count(), 15);
    let groups = src.column("groups").unwrap();
    assert!(src.rows.iter().all(|r| r.get(groups).split('\n').any(|g| g == "staff")));

    let wrong = write(&work.join("wrong.pw"), "not-the-password-42\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let wrong_line = format!("password_file = \"{}\"", wrong.display());
    let e = read_err(&work, "badpw", &small_policy(&url, slapd::BIND_DN, &wrong_line, slapd::PEOPLE, ""));
    let msg = e.to_string();
    assert_eq!((e.code, e.kind, e.step.as_str()), (Some(49), FailureKind::Auth, "bind"), "{msg}");
    assert!(msg.contains(&url) && msg.contains(slapd::BIND_DN) && msg.contains("invalidCredentials (49)"), "{msg}");
    assert!(!msg.contains("not-the-password-42") && !msg.contains(&server.password), "{msg}");

    let e = read_err(&work, "nobase", &small_policy(&url, slapd::BIND_DN, &pw_line, "ou=nobody,dc=example,dc=com", ""));
    let msg = e.to_string();
    assert_eq!(e.code, Some(32), "{msg}");
    assert!(msg.contains("noSuchObject (32)") && msg.contains("ou=nobody") && msg.contains(slapd::BIND_DN), "{msg}");

    let e = read_err(&work, "limited", &small_policy(&url, slapd::LIMITED_DN, &pw_line, slapd::PEOPLE, "page_size = 50"));
    let msg = e.to_string();
    assert_eq!(e.code, Some(4), "{msg}");
    assert!(msg.contains("sizeLimitExceeded (4)") && msg.contains(slapd::LIMITED_DN) && msg.contains(&url), "{msg}");

    // Nothing listens: the connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let closed_url = format!("ldap://127.0.0.1:{closed}");
    let e = read_err(&work, "closed", &small_policy(&closed_url, slapd::BIND_DN, &pw_line, slapd::PEOPLE, ""));
    assert_eq!((e.kind, e.code), (FailureKind::Unavailable, None), "{e}");
    assert!(e.to_string().contains(&closed_url) && e.step.starts_with("connect"), "{e}");

    // Something listens but never answers: the timeout names it.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("ldap://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let e = read_err(&work, "silent", &small_policy(&silent_url, slapd::BIND_DN, &pw_line, slapd::PEOPLE, "timeout_seconds = 0.5"));
    assert_eq!(e.kind, FailureKind::Unavailable, "{e}");
    assert!(e.to_string().contains("no answer within 0.5 s") && e.to_string().contains(&silent_url), "{e}");
    drop(silent);

    // A password file others can read is refused before anything is sent; so is a failing command.
    let open = write(&work.join("open.pw"), &format!("{}\n", server.password));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let open_line = format!("password_file = \"{}\"", open.display());
    let e = read_err(&work, "openpw", &small_policy(&url, slapd::BIND_DN, &open_line, slapd::PEOPLE, ""));
    assert_eq!((e.kind, e.step.as_str()), (FailureKind::Config, "password"), "{e}");
    assert!(e.to_string().contains("chmod 600") && !e.to_string().contains(&server.password), "{e}");
    let e = read_err(&work, "cmd", &small_policy(&url, slapd::BIND_DN, "password_command = \"exit 3\"", slapd::PEOPLE, ""));
    assert_eq!(e.kind, FailureKind::Config, "{e}");
    // password_command works too (the password is not in the command).
    let cmd_line = format!("password_command = \"cat '{}'\"", pw.display());
    let p = write(&work.join("cmd-ok.toml"), &small_policy(&url, slapd::BIND_DN, &cmd_line, slapd::PEOPLE, ""));
    assert_eq!(Policy::load(&p).unwrap().read_source().unwrap().rows.len(), 150);

    // A misspelt attribute would clear every user's value: refused.
    let typo = small_policy(&url, slapd::BIND_DN, &pw_line, slapd::PEOPLE, "").replace("title = \"title\"", "title = \"titel\"");
    let e = read_err(&work, "typo", &typo);
    assert!(e.to_string().contains("`titel` has no value on any of the 150 entries"), "{e}");

    // Through the binary: exit 77 for a refused bind, 69 for an unreachable server; stderr names
    // the server and the code and never the password.
    let badpw = work.join("badpw.toml");
    let out = env.scimitar(&["plan", "--policy", badpw.to_str().unwrap()]).await;
    assert_eq!(code(&out), 77, "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalidCredentials (49)") && err.contains(&url) && err.contains(slapd::BIND_DN), "{}", show(&out));
    assert!(!err.contains("not-the-password-42"));
    let out = env.scimitar(&["plan", "--policy", work.join("closed.toml").to_str().unwrap()]).await;
    assert_eq!(code(&out), 69, "{}", show(&out));
    let out = env.scimitar(&["plan", "--policy", work.join("openpw.toml").to_str().unwrap()]).await;
    assert_eq!(code(&out), 78, "{}", show(&out));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&server.password));
}

/// StartTLS and ldaps:// verify the server's certificate against `ca_file`; without the CA the
/// connection is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_and_ldaps_verify_the_server_certificate() {
    let server = Slapd::start_tls(&small_directory());
    let work = tempfile::tempdir().unwrap();
    let pw = server.password_file(work.path());
    let pw_line = format!("password_file = \"{}\"", pw.display());
    let ca = format!("ca_file = \"{}\"", server.ca_file.as_ref().unwrap().display());
    let read = |name: &str, text: String| {
        let p = write(&work.path().join(format!("{name}.toml")), &text);
        Policy::load(&p).unwrap().read_source()
    };
    let starttls =
        read("starttls", small_policy(&server.url(), slapd::BIND_DN, &pw_line, slapd::PEOPLE, &format!("starttls = true\n{ca}")));
    assert_eq!(starttls.unwrap().rows.len(), 150);
    let ldaps = read("ldaps", small_policy(&server.ldaps_url(), slapd::BIND_DN, &pw_line, slapd::PEOPLE, &ca));
    assert_eq!(ldaps.unwrap().rows.len(), 150);
    let e = read("untrusted", small_policy(&server.ldaps_url(), slapd::BIND_DN, &pw_line, slapd::PEOPLE, "")).unwrap_err();
    let scimitar::policy::config::ReadSourceError::Directory(e) = e else { panic!("not an LDAP error: {e}") };
    assert_eq!(e.kind, FailureKind::Unavailable, "{e}");
    assert!(e.to_string().contains(&server.ldaps_url()) && e.to_string().to_lowercase().contains("certificate"), "{e}");
}

/// docs/policies.md shows examples/ldap-policy.toml word for word, and it parses.
#[test]
fn the_ldap_example_is_in_the_docs_and_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("docs/policies.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/ldap-policy.toml")).unwrap();
    let at = docs.find("# scimitar policy example: provision Slack from Active Directory").expect("example in docs");
    let block = &docs[at..at + docs[at..].find("```").unwrap()];
    assert_eq!(block, example, "docs/policies.md shows examples/ldap-policy.toml word for word");
    let p = Policy::parse(&example, &root.join("examples/ldap-policy.toml")).unwrap();
    let l = p.source.ldap.as_ref().unwrap();
    assert!(!l.starttls && l.url.starts_with("ldaps://"));
    assert_eq!(l.dn_columns, ["manager"]);
    assert_eq!(p.scope_groups, ["cn=slack users,ou=groups,dc=corp,dc=example"]);
}

/// The console's Policies pane with an LDAP policy: the real binary in a PTY (`scimitar demo`),
/// the plan computed in the background from slapd, applied after the confirmation, and the next
/// plan empty. The password is never on the screen.
#[test]
fn the_console_plans_and_applies_an_ldap_policy() {
    let mut dir = Directory::default();
    for (uid, title) in [("new.one", "Engineer"), ("new.two", "Designer")] {
        dir.people.push(Person {
            uid: uid.into(),
            given_name: "New".into(),
            sn: uid.into(),
            mail: format!("{uid}@console-ldap.example"),
            title: Some(title.into()),
            ..Default::default()
        });
    }
    let server = Slapd::start(&dir);
    let config = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(config.path().join("policies")).unwrap();
    let pw = server.password_file(config.path());
    let policy = format!(
        r#"match_on = "email"
[source]
kind = "ldap"
url = "{}"
bind_dn = "{}"
password_file = "{}"
base_dn = "{}"
user_filter = "(objectClass=inetOrgPerson)"
id_column = "uid"
[attributes]
"emails.work" = "mail"
userName = "uid"
title = "title"
[provisioning]
remove_action = "report"
"#,
        server.url(),
        slapd::BIND_DN,
        pw.display(),
        slapd::PEOPLE
    );
    std::fs::write(config.path().join("policies/directory.toml"), policy).unwrap();
    let mut s = pty::Session::start_in(&["demo", "--users", "200", "--groups", "3"], config);
    s.wait_for("200 users loaded", |sc| sc.contains("users 200/200"));
    s.type_keys("3");
    let screen = s.wait_for("the plan from the directory", |sc| sc.contains("Create users (2)"));
    assert!(screen.contains("directory") && screen.contains("+ new.one") && screen.contains("reported only"), "{screen}");
    s.type_keys("A");
    s.wait_for("the confirmation", |sc| sc.contains("Apply policy directory?"));
    s.type_keys("y");
    s.wait_for("the apply to end and the plan to be computed again", |sc| sc.contains("no changes"));
    s.type_keys("q");
    assert!(s.wait_exit().success());
    let raw = String::from_utf8_lossy(&s.state.lock().unwrap().1).into_owned();
    assert!(!raw.contains(&server.password));
}
