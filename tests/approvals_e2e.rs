//! Four-eyes approvals (issue 21, item 6), end to end: the real binary run as two OS accounts
//! (`scimitar-admin1` proposes, `scimitar-admin2` approves or rejects; created by
//! `./scripts/test`), on one store (a real PostgreSQL server from `common/pg.rs`, or an SQLite file
//! the two accounts share), against our emulator on 127.0.0.1, whose write counts say what
//! reached the server.

mod common;
#[path = "common/pg.rs"]
mod pg;

use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::report::{ReportQuery, ReportStore};
use scimitar::scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret, User};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

async fn emulator(users: usize, seed: u64) -> (Emulator, ScimClient) {
    let cfg = EmulatorConfig { users, groups: 2, seed, token: format!("xoxp-four-eyes-{seed}"), ..Default::default() };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    (emu, ScimClient::new(cc).unwrap())
}

/// Active users a write may touch (no bots, not the primary owner).
async fn regular(client: &ScimClient, n: usize) -> Vec<User> {
    let all = client.all_users(None).await.unwrap();
    all.into_iter().filter(|u| u.is_active() && scimitar::policy::plan::never_deactivate(u, &[]).is_none()).take(n).collect()
}

/// One admin: an OS account, its config dir (profile `acme`, `approval_over = 3`) and data dir.
struct Admin {
    account: &'static str,
    root: tempfile::TempDir,
}

impl Admin {
    fn new(account: &'static str, emu: &Emulator, store: impl FnOnce(&Path) -> String) -> Admin {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let (config, data) = (root.path().join("config"), root.path().join("data"));
        for d in [&config, &data, &config.join("policies")] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let store = store(&config);
        std::fs::write(
            config.join("config.toml"),
            format!(
                "default_profile = \"acme\"\n\n[profiles.acme]\nurl = \"{}\"\norg = \"acme\"\napproval_over = 3\nmax_deactivations = 1000\n\n{store}\n",
                emu.base_url(ApiVersion::V2)
            ),
        )
        .unwrap();
        let a = Admin { account, root };
        a.give_all();
        a
    }

    fn config(&self) -> PathBuf {
        self.root.path().join("config")
    }

    fn give_all(&self) {
        fn walk(p: &Path, a: &str) {
            pg::give(p, a);
            if p.is_dir() {
                for e in std::fs::read_dir(p).unwrap().flatten() {
                    walk(&e.path(), a);
                }
            }
        }
        walk(&self.config(), self.account);
        walk(&self.root.path().join("data"), self.account);
    }

    async fn run(&self, emu: &Emulator, args: &[&str]) -> Output {
        // Both accounts are members of the team's group (here admin2's primary group), as the
        // members of a shared SQLite store's group are.
        let (uid, gid) = pg::account(self.account);
        let (_, team) = pg::account(pg::ADMIN_ACCOUNTS[1]);
        let mut c = Command::new("setpriv");
        c.args([format!("--reuid={uid}"), format!("--regid={gid}"), format!("--groups={gid},{team}"), "--".into()])
            .arg(env!("CARGO_BIN_EXE_scimitar"));
        c.args(args)
            .env("SLACK_SCIM_TOKEN", emu.token())
            .env("SCIMITAR_CONFIG_DIR", self.config())
            .env("SCIMITAR_DATA_DIR", self.root.path().join("data"))
            .env("HOME", self.root.path())
            .env_remove("SCIMITAR_URL")
            .env_remove("SCIMITAR_PROFILE")
            .env_remove("SCIMITAR_STORE_URL")
            .env_remove("USER")
            .stdin(Stdio::null());
        tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap()
    }

    /// A file of emails, one a line.
    fn list(&self, name: &str, users: &[User]) -> PathBuf {
        let p = self.config().join(name);
        std::fs::write(&p, users.iter().map(|u| format!("{}\n", u.primary_email().unwrap())).collect::<String>()).unwrap();
        self.give_all();
        p
    }
}

fn show(o: &Output) -> String {
    format!("exit {:?}\nstdout: {}\nstderr: {}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn need_root() {
    assert!(pg::is_root(), "the four-eyes tests run scimitar as two OS accounts: run them as root (./scripts/test does in CI)");
}

async fn active(client: &ScimClient, users: &[User]) -> usize {
    let mut n = 0;
    for u in users {
        if client.get_user(u.id()).await.unwrap().is_active() {
            n += 1;
        }
    }
    n
}

/// The flow both stores go through: admin1 proposes (exit 3 and the id, nothing written), cannot
/// approve their own; admin2 approves (the writes happen, counted at the server), the chain
/// verifies and names both; a second proposal rejected by admin2 leaves nothing written.
async fn four_eyes(emu: &Emulator, client: &ScimClient, a1: &Admin, a2: &Admin, store: scimitar::store::Store) {
    let users = regular(client, 10).await;
    let (leavers, others) = users.split_at(5);
    let list = a1.list("leavers.txt", leavers);
    emu.reset_stats();

    // admin1 proposes: held (exit 3), its id on stdout, nothing sent.
    let o = a1.run(emu, &["users", "deactivate", "--from", list.to_str().unwrap(), "--yes"]).await;
    assert_eq!(o.status.code(), Some(3), "held for approval: {}", show(&o));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(id.starts_with("ap-"), "the approval id on stdout: {}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("approval_over = 3") && err.contains(&format!("approvals approve {id}")), "{err}");
    assert_eq!(emu.stats().writes(), 0, "nothing written while pending");

    // admin2 lists it (JSON), with the proposer and the counts.
    let o = a2.run(emu, &["approvals", "--output", "json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&id) && out.contains(pg::ADMIN_ACCOUNTS[0]) && out.contains("\"users\":5"), "{out}");
    let o = a2.run(emu, &["approvals", "show", &id]).await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("5 to deactivate") && out.contains(leavers[0].primary_email().unwrap()), "the plan and the gate: {out}");

    // admin1 may not approve their own.
    let o = a1.run(emu, &["approvals", "approve", &id, "--yes"]).await;
    assert_ne!(o.status.code(), Some(0), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot approve your own batch"), "{}", show(&o));
    assert_eq!(emu.stats().writes(), 0, "the proposer's own approval writes nothing");
    assert_eq!(active(client, leavers).await, 5);

    // admin2 approves: the five writes reach the server, once each.
    let o = a2.run(emu, &["approvals", "approve", &id, "--yes"]).await;
    assert_eq!(o.status.code(), Some(0), "approved and run: {}", show(&o));
    assert_eq!(emu.stats().writes(), 5, "one write per leaver, counted at the server");
    assert_eq!(active(client, leavers).await, 0, "deactivated");
    let o = a2.run(emu, &["approvals", "approve", &id, "--yes"]).await;
    assert_ne!(o.status.code(), Some(0), "run once: {}", show(&o));
    assert_eq!(emu.stats().writes(), 5);

    // The chain verifies, and names the proposer and the approver on every operation.
    let reports = ReportStore::on(store.clone());
    assert!(reports.verify().unwrap().ok(), "the report chain verifies");
    let recs = reports.query(&ReportQuery::default()).unwrap();
    let ops: Vec<_> = recs.iter().filter(|r| r.record.action == "deactivate").collect();
    assert_eq!(ops.len(), 5);
    for r in &ops {
        let (p, a) = (r.record.proposed_by.as_deref().unwrap_or(""), r.record.approved_by.as_deref().unwrap_or(""));
        assert!(p.starts_with(&format!("{}@", pg::ADMIN_ACCOUNTS[0])), "proposed by admin1: {p}");
        assert!(a.starts_with(&format!("{}@", pg::ADMIN_ACCOUNTS[1])), "approved by admin2: {a}");
        assert_eq!(r.record.os_user, pg::ADMIN_ACCOUNTS[1], "run by admin2");
    }
    for event in ["propose_batch", "approve_batch", "run_batch"] {
        let e = recs.iter().find(|r| r.record.action == event && r.record.target_id.as_deref() == Some(id.as_str()));
        assert!(e.is_some(), "{event} in the chain");
    }
    let o = a2.run(emu, &["report", "verify"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));

    // A second proposal, rejected by admin2: nothing written, and it can no longer be approved.
    let list = a1.list("others.txt", others);
    let o = a1.run(emu, &["users", "deactivate", "--from", list.to_str().unwrap(), "--yes"]).await;
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    let id2 = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let o = a2.run(emu, &["approvals", "reject", &id2, "--reason", "not before Friday"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let o = a2.run(emu, &["approvals", "approve", &id2, "--yes"]).await;
    assert_ne!(o.status.code(), Some(0), "a rejected approval is not run: {}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("rejected"), "{}", show(&o));
    assert_eq!(emu.stats().writes(), 5, "the rejected batch wrote nothing");
    assert_eq!(active(client, others).await, 5);
    let recs = reports.query(&ReportQuery::default()).unwrap();
    let rej = recs.iter().find(|r| r.record.action == "reject_batch").expect("the rejection in the chain");
    assert_eq!(rej.record.os_user, pg::ADMIN_ACCOUNTS[1]);
    assert!(reports.verify().unwrap().ok());
    let o = a1.run(emu, &["approvals", "--all", "--output", "csv"]).await;
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("{id},")) && out.contains(",run,") && out.contains(",rejected,"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_eyes_on_postgres_between_two_os_accounts() {
    need_root();
    let server = pg::PgServer::start();
    let store = server.store("ann"); // the owner migrates it first
    let (emu, client) = emulator(60, 71).await;
    let a1 = Admin::new(pg::ADMIN_ACCOUNTS[0], &emu, |d| server.config_toml("ann", d, Some(pg::ADMIN_ACCOUNTS[0])));
    let a2 = Admin::new(pg::ADMIN_ACCOUNTS[1], &emu, |d| server.config_toml("bob", d, Some(pg::ADMIN_ACCOUNTS[1])));
    four_eyes(&emu, &client, &a1, &a2, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_eyes_on_a_shared_sqlite_between_two_os_accounts() {
    need_root();
    use std::os::unix::fs::PermissionsExt;
    let (emu, client) = emulator(60, 72).await;
    // The team's folder: admin1's, group admin2's primary group, setgid, no access for others.
    let shared = tempfile::tempdir().unwrap();
    let db = shared_sqlite(shared.path());
    let toml = format!("[store]\nsqlite_shared = \"{}\"\n", db.display());
    let a1 = Admin::new(pg::ADMIN_ACCOUNTS[0], &emu, |_| toml.clone());
    let a2 = Admin::new(pg::ADMIN_ACCOUNTS[1], &emu, |_| toml.clone());
    // admin1 creates the file (0660, the folder's group)
    let o = a1.run(&emu, &["store", "show"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "the shared store is the group's only");
    let store = scimitar::store::Store::open(&scimitar::store::Location::SharedSqlite(db.clone())).unwrap();
    four_eyes(&emu, &client, &a1, &a2, store).await;
}

/// A team folder for an SQLite store both accounts share (admin1's, admin2's group, setgid).
fn shared_sqlite(root: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = root.join("team");
    std::fs::create_dir(&dir).unwrap();
    let (uid1, _) = pg::account(pg::ADMIN_ACCOUNTS[0]);
    let (_, gid2) = pg::account(pg::ADMIN_ACCOUNTS[1]);
    std::os::unix::fs::chown(&dir, Some(uid1), Some(gid2)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o2770)).unwrap();
    dir.join("team.db")
}

/// The unattended sync holds a run over `approval_over` for another account's approval (exit
/// 3, one pending approval however many cycles run, nothing written); admin2 approves it and the
/// changes reach the server; the next cycle finds nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_holds_a_run_over_approval_over_until_another_account_approves_it() {
    need_root();
    let (emu, client) = emulator(60, 73).await;
    let shared = tempfile::tempdir().unwrap();
    let db = shared_sqlite(shared.path());
    let toml = format!("[store]\nsqlite_shared = \"{}\"\n", db.display());
    let a1 = Admin::new(pg::ADMIN_ACCOUNTS[0], &emu, |_| toml.clone());
    let a2 = Admin::new(pg::ADMIN_ACCOUNTS[1], &emu, |_| toml.clone());
    // The source retitles 6 users (over approval_over = 3).
    let mut users = client.all_users(None).await.unwrap();
    let mut changed = Vec::new();
    for u in users.iter_mut().filter(|u| u.is_active() && scimitar::policy::plan::never_deactivate(u, &[]).is_none()) {
        if changed.len() < 6 {
            u.title = Some(format!("Four Eyes {}", changed.len()));
            changed.push(u.id().to_string());
        }
    }
    let mut csv = Vec::new();
    scimitar::policy::export::users_to_source_csv(&users, &mut csv).unwrap();
    std::fs::write(a1.config().join("policies/users.csv"), &csv).unwrap();
    std::fs::write(a1.config().join("policies/hr.toml"), scimitar::policy::config::EXPORT_POLICY).unwrap();
    a1.give_all();
    emu.reset_stats();
    for cycle in 0..2 {
        let o = a1.run(&emu, &["sync", "--policy", "hr", "--once"]).await;
        assert_eq!(o.status.code(), Some(3), "cycle {cycle}: held for approval\n{}", show(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains("approvals approve ap-"), "{}", show(&o));
    }
    assert_eq!(emu.stats().writes(), 0, "nothing written while the approval is pending");
    let o = a2.run(&emu, &["approvals", "--output", "json"]).await;
    // (one JSON object a line)
    let list: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("{}", show(&o)))).collect();
    assert_eq!(list.len(), 1, "one pending approval for the policy, whatever the cycles: {list:?}");
    assert_eq!((list[0]["origin"].as_str(), list[0]["policy"].as_str(), list[0]["users"].as_u64()), (Some("sync"), Some("hr"), Some(6)));
    let id = list[0]["id"].as_str().unwrap().to_string();
    let o = a1.run(&emu, &["approvals", "approve", &id, "--yes"]).await;
    assert_ne!(o.status.code(), Some(0), "the sync's account cannot approve its own: {}", show(&o));
    assert_eq!(emu.stats().writes(), 0);
    let o = a2.run(&emu, &["approvals", "approve", &id, "--yes"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(emu.stats().writes(), changed.len() as u64, "each change once, counted at the server");
    for id in &changed {
        assert!(client.get_user(id).await.unwrap().title.unwrap_or_default().starts_with("Four Eyes"));
    }
    let o = a1.run(&emu, &["sync", "--policy", "hr", "--once"]).await;
    assert_eq!(o.status.code(), Some(0), "nothing left to do: {}", show(&o));
    assert_eq!(emu.stats().writes(), changed.len() as u64);
}

#[test]
fn a_shared_sqlite_open_to_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("team.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o666)).unwrap();
    let e = scimitar::store::Store::open(&scimitar::store::Location::SharedSqlite(db)).unwrap_err().to_string();
    assert!(e.contains("may be read or written by others"), "{e}");
}

/// An `apply` over `approval_over` that creates users who belong in a group is held; the approved
/// run does what the unheld apply would, in the same run: pass 1 creates the users, pass 2 adds
/// them to the group (counted at the server), and the approver was told the second pass's count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_apply_adds_the_users_it_creates_to_their_group_in_the_same_run() {
    need_root();
    let (emu, client) = emulator(40, 91).await;
    let shared = tempfile::tempdir().unwrap();
    let db = shared_sqlite(shared.path());
    let toml = format!("[store]\nsqlite_shared = \"{}\"\n", db.display());
    let a1 = Admin::new(pg::ADMIN_ACCOUNTS[0], &emu, |_| toml.clone());
    let a2 = Admin::new(pg::ADMIN_ACCOUNTS[1], &emu, |_| toml.clone());
    let group = client.all_groups().await.unwrap().into_iter().next().expect("the emulator has groups");
    // The directory as it is, plus 5 new hires in "newhires" (over approval_over = 3).
    let mut users = client.all_users(None).await.unwrap();
    let mut hires = Vec::new();
    for k in 0..5 {
        let u = User {
            user_name: Some(format!("newhire{k}")),
            display_name: Some(format!("New Hire {k}")),
            emails: Some(vec![scimitar::scim::MultiValue::email(format!("newhire{k}@example.com"), true)]),
            active: Some(true),
            groups: Some(vec![scimitar::scim::types::GroupRef { value: None, display: Some("newhires".into()) }]),
            ..Default::default()
        };
        hires.push(format!("newhire{k}@example.com"));
        users.push(u);
    }
    let mut csv = Vec::new();
    scimitar::policy::export::users_to_source_csv(&users, &mut csv).unwrap();
    std::fs::write(a1.config().join("policies/users.csv"), &csv).unwrap();
    let policy = format!(
        "{}\n[[groups]]\nsource = \"newhires\"\nslack_name = {:?}\nkey = \"grp-new\"\nmembership = \"merge\"\n",
        scimitar::policy::config::EXPORT_POLICY,
        group.display_name.clone().unwrap()
    );
    std::fs::write(a1.config().join("policies/hr.toml"), policy).unwrap();
    a1.give_all();
    emu.reset_stats();
    let o = a1.run(&emu, &["apply", "--policy", "hr", "--yes"]).await;
    assert_eq!(o.status.code(), Some(3), "held for approval\n{}", show(&o));
    assert_eq!(emu.stats().writes(), 0, "nothing written while it is pending");
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let o = a2.run(&emu, &["approvals", "approve", &id, "--yes"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("more in a second pass, once the new users exist"), "the approver is told of pass 2: {}", show(&o));
    // At the server, in this run: the 5 users exist and are in the group.
    let g = client.get_group(group.id()).await.unwrap();
    let members: Vec<String> = g.members.iter().flatten().filter_map(|m| m.value.clone()).collect();
    for email in &hires {
        let u = client.find_user_by_email(email).await.unwrap().unwrap_or_else(|| panic!("{email} created"));
        assert!(members.contains(&u.id().to_string()), "{email} is in {:?} after the approved run: {}", group.display_name, show(&o));
    }
    let done = String::from_utf8_lossy(&o.stdout).lines().filter(|l| l.contains(" done ")).count() as u64;
    assert!(done >= 6, "5 creates and at least the membership change: {}", show(&o));
    assert_eq!(emu.stats().writes(), done, "each operation once, counted at the server");
    let store = scimitar::store::Store::open(&scimitar::store::Location::SharedSqlite(db.clone())).unwrap();
    let recs = ReportStore::on(store).query(&ReportQuery::default()).unwrap();
    let adds: Vec<_> = recs.iter().filter(|r| r.record.action == "add_members").collect();
    assert_eq!(adds.len(), 1, "{:?}", recs.iter().map(|r| &r.record.action).collect::<Vec<_>>());
    assert_eq!(adds[0].record.approved_by.as_deref().map(|s| s.starts_with(pg::ADMIN_ACCOUNTS[1])), Some(true));
}
