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
use std::sync::Arc;

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
        // SCIMITAR_TEST_BIN runs these against another build (e.g. main, to see them fail there).
        let bin = std::env::var("SCIMITAR_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_scimitar").to_string());
        let mut cmd = std::process::Command::new(bin);
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

// ---- item 1: ceilings for every kind of change ----

/// The org as it is now, as an HR export (`users export -o csv` shape), after `edit` changed
/// some users; and the export policy reading it, with `extra` appended.
async fn hr_export(env: &Env, edit: impl FnMut(&mut User), extra: &str) -> PathBuf {
    let mut users = env.users().await;
    users.iter_mut().for_each(edit);
    let csv = env.work().join("hr.csv");
    let mut out = Vec::new();
    scimitar::policy::export::users_to_source_csv(&users, &mut out).unwrap();
    std::fs::write(&csv, out).unwrap();
    let policy = scimitar::policy::config::EXPORT_POLICY.replace("path = \"users.csv\"", &format!("path = {:?}", csv.to_str().unwrap()));
    write(&env.config_dir().join("policies/hr.toml"), &format!("{policy}{extra}"))
}

/// The titles of every user, by id.
async fn titles(env: &Env) -> std::collections::BTreeMap<String, Option<String>> {
    env.users().await.into_iter().map(|u| (u.id().to_string(), u.title.clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_that_lost_its_titles_is_held_with_nothing_written() {
    let env = Env::start(2000, 4).await;
    hr_export(&env, |_| {}, "").await;
    let o = env.scimitar(&["apply", "--policy", "hr", "--yes"]).await;
    assert_eq!(code(&o), 0, "the export as it is changes nothing: {}", show(&o));
    let before = titles(&env).await;
    let had = before.values().filter(|t| t.is_some()).count();
    // The HR export lost its title values: every title would be cleared.
    hr_export(&env, |u| u.title = None, "").await;
    env.emu.reset_stats();
    let o = env.scimitar(&["apply", "--policy", "hr", "--yes"]).await;
    assert_eq!(code(&o), 64, "held: {}", show(&o));
    let err = stderr(&o);
    let n: usize = err.split("clear title on ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).expect(&err);
    assert!(n > had * 9 / 10 && err.contains("above the ceiling of") && err.contains("--force"), "{had} titles: {err}");
    assert_eq!(env.emu.stats().writes(), 0, "nothing was written under --yes: {err}");
    assert_eq!(titles(&env).await, before);
    // `sync` quarantines on it, as on deactivations.
    let o = env.scimitar(&["sync", "--policy", "hr", "--once"]).await;
    assert_eq!(code(&o), scimitar::exit::QUARANTINED, "{}", show(&o));
    assert!(show(&o).contains("clear title on"), "{}", show(&o));
    assert_eq!(env.emu.stats().writes(), 0, "nothing was written by sync: {}", show(&o));

    // Forced, it clears them; `restore --batch` of the run sets every one back, exactly.
    let o = env.scimitar(&["apply", "--policy", "hr", "--yes", "--force"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    let run = run_id(&o);
    let wiped = titles(&env).await;
    assert!(wiped.values().filter(|t| t.is_some()).count() < had / 10, "the titles are gone");
    let o = env.scimitar(&["restore", "--batch", &run, "--dry-run", "-o", "json"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    let diff: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(diff.len(), n, "one row per title set back: {}", stderr(&o));
    for d in &diff {
        assert_eq!((d["action"].as_str(), d["field"].as_str(), d["now"].as_str()), (Some("update"), Some("title"), Some("")), "{d}");
        assert_eq!(before[d["id"].as_str().unwrap()].as_deref(), d["back"].as_str(), "{d}");
    }
    assert_eq!(titles(&env).await, wiped, "a dry run changes nothing");
    // The undo is a mass change too: held under --yes, passed with --force.
    env.emu.reset_stats();
    let o = env.scimitar(&["restore", "--batch", &run, "--yes"]).await;
    assert_eq!((code(&o), env.emu.stats().writes()), (64, 0), "{}", show(&o));
    let o = env.scimitar(&["restore", "--batch", &run, "--yes", "--force", "-o", "json"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_eq!(titles(&env).await, before, "every title is back as it was");
    // Undone once: nothing left to set back.
    let o = env.scimitar(&["restore", "--batch", &run, "--yes", "--force"]).await;
    assert!(code(&o) == 0 && stderr(&o).contains("nothing to do"), "{}", show(&o));
}

/// The policy run id an apply printed (`scimitar: policy run pr-…`).
fn run_id(o: &Output) -> String {
    let err = stderr(o);
    err.split("policy run ").nth(1).and_then(|r| r.split_whitespace().next()).expect(&err).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwrite_rule_that_would_empty_a_group_is_held_with_nothing_written() {
    let env = Env::start(200, 4).await;
    let members: Vec<String> = ordinary(&env.emu, &env.users().await).iter().take(56).map(|u| u.id().to_string()).collect();
    let g = env.client.create_group("oncall", &members).await.unwrap();
    // The source now names one of the 56 in "oncall".
    let keep = members[0].clone();
    let rule = "\n[[groups]]\nsource = \"oncall\"\nmembership = \"overwrite\"\n";
    hr_export(
        &env,
        |u| {
            if u.id() != keep {
                u.groups.iter_mut().flatten().for_each(|r| {
                    if r.display.as_deref() == Some("oncall") {
                        r.display = Some("oncall-old".into());
                    }
                })
            }
        },
        rule,
    )
    .await;
    env.emu.reset_stats();
    let o = env.scimitar(&["apply", "--policy", "hr", "--yes"]).await;
    assert_eq!(code(&o), 64, "held: {}", show(&o));
    assert!(stderr(&o).contains("remove 55 of the 56 members of group oncall"), "{}", show(&o));
    assert_eq!(env.emu.stats().writes(), 0, "nothing was written under --yes");
    let members_of = |g: scimitar::scim::Group| g.member_ids().map(str::to_string).collect::<std::collections::BTreeSet<_>>();
    let before = members_of(env.client.get_group(g.id()).await.unwrap());
    assert_eq!(before.len(), 56);
    // Forced, 55 go; `restore --batch` of the run puts every one back.
    let o = env.scimitar(&["apply", "--policy", "hr", "--yes", "--force"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_eq!(members_of(env.client.get_group(g.id()).await.unwrap()), [keep.clone()].into(), "{}", show(&o));
    let o = env.scimitar(&["restore", "--batch", &run_id(&o), "--yes"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_eq!(members_of(env.client.get_group(g.id()).await.unwrap()), before, "every member is back");
}

// ---- item 3: undo a whole batch ----

/// The batch id of a write command's `-o json` results.
fn batch_of(o: &Output) -> String {
    let out = stdout(o);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap_or("{}")).unwrap_or_default();
    first["batch_id"].as_str().unwrap_or_else(|| panic!("no batch: {}", show(o))).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_undoes_every_kind_of_batch_and_leaves_what_changed_since() {
    let env = Env::start(40, 3).await;
    let users = ordinary(&env.emu, &env.users().await);
    let (ann, bob) = (&users[0], &users[1]);
    let title = |id: &str| {
        let client = env.client.clone();
        let id = id.to_string();
        async move { client.get_user(&id).await.unwrap().title }
    };
    let (ann_before, bob_before) = (title(ann.id()).await, title(bob.id()).await);

    // Two updates in one batch; then someone else changes Bob's title.
    let csv = write(
        &env.work().join("titles.csv"),
        &format!("id,title,department\n{},Chief Of Staff,Office\n{},Night Porter,\n", ann.id(), bob.id()),
    );
    let o = env.scimitar(&["users", "update", "--from", csv.to_str().unwrap(), "--yes", "-o", "json"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    let updates = batch_of(&o);
    let set = User { title: Some("Changed By Someone Else".into()), ..Default::default() };
    env.client.update_user(bob.id(), &UserUpdate { set, clear: vec![] }).await.unwrap();
    let o = env.scimitar(&["restore", "--batch", &updates, "--yes"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(stderr(&o).contains("conflict: title of") && stderr(&o).contains("Changed By Someone Else"), "{}", show(&o));
    // The restore's records name the batch they undo.
    let o2 = env.scimitar(&["report", "--since", "1h", "-o", "json"]).await;
    let named = stdout(&o2).lines().filter(|l| l.contains("update_user") && l.contains(&format!("restore batch {updates}"))).count();
    assert_eq!(named, 1, "the one update set back names the batch: {}", stdout(&o2));
    let ann_now = env.client.get_user(ann.id()).await.unwrap();
    assert_eq!(ann_now.title, ann_before, "Ann's title is set back");
    assert_eq!(ann_now.department(), ann.department(), "and her department");
    assert_eq!(title(bob.id()).await.as_deref(), Some("Changed By Someone Else"), "Bob's, changed since, is left alone");
    assert_ne!(title(bob.id()).await, bob_before);

    // A rename, undone.
    let g = &env.client.create_group("guards", &[users[5].id().to_string(), users[6].id().to_string()]).await.unwrap();
    let o = env.scimitar(&["groups", "rename", g.id(), "renamed-by-mistake", "--yes", "-o", "json"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    let o = env.scimitar(&["restore", "--batch", &batch_of(&o), "--yes"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_eq!(env.client.get_group(g.id()).await.unwrap().name(), g.name(), "named back");

    // Members added, undone: only those the batch added go.
    let outsiders: Vec<&User> = users.iter().filter(|u| !g.member_ids().any(|m| m == u.id())).take(2).collect();
    let ids: Vec<&str> = outsiders.iter().map(|u| u.id()).collect();
    let mut args = vec!["groups", "add", g.id()];
    args.extend(&ids);
    args.extend(["--yes", "-o", "json"]);
    let o = env.scimitar(&args).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    let o = env.scimitar(&["restore", "--batch", &batch_of(&o), "--yes"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    let members: Vec<String> = env.client.get_group(g.id()).await.unwrap().member_ids().map(str::to_string).collect();
    assert_eq!(members.len(), g.member_ids().count(), "back to the members it had");

    // Created users are deactivated only when asked.
    let new = write(&env.work().join("new.csv"), "email,userName,givenName,familyName\nnew.hire@example.com,new.hire,New,Hire\n");
    let o = env.scimitar(&["users", "create", "--from", new.to_str().unwrap(), "--yes", "-o", "json"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    let created = batch_of(&o);
    let o = env.scimitar(&["restore", "--batch", &created, "--yes"]).await;
    assert!(stderr(&o).contains("--deactivate-created"), "{}", show(&o));
    let hire = env.client.find_user_by_email("new.hire@example.com").await.unwrap().unwrap();
    assert!(hire.is_active(), "left active without the flag");
    let o = env.scimitar(&["restore", "--batch", &created, "--deactivate-created", "--yes"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(!env.client.get_user(hire.id()).await.unwrap().is_active(), "deactivated when asked");
}

// ---- item 5: every write verified against the user asked for ----

/// A group PATCH that removes one member empties the group and is answered 2xx (the emulator's
/// `memberwipe`): the read-back sees the drop beyond the change asked for, puts the lost members
/// back, fails the op (`member_loss`) and stops the batch (the next op is never sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_remove_that_empties_the_group_is_caught_repaired_and_stops_the_batch() {
    use scimitar::emulator::Faults;
    use scimitar::queue::{Action, BatchInfo, Cancel, Engine, EngineConfig, Journal, Knowledge, OpState, RunContext, Safety};
    let env = Env::start(60, 2).await;
    let users = ordinary(&env.emu, &env.users().await);
    let ids = |r: std::ops::Range<usize>| users[r].iter().map(|u| u.id().to_string()).collect::<Vec<_>>();
    let a = env.client.create_group("wipe-a", &ids(0..10)).await.unwrap();
    let b = env.client.create_group("wipe-b", &ids(10..20)).await.unwrap();
    env.emu.set_faults(Faults { member_wipe: 1.0, ..Default::default() });
    let j =
        Arc::new(Journal::open(&env.data().join("j.db"), RunContext::new("test", "127.0.0.1", &scimitar::env::Actor::default())).unwrap());
    let remove = |g: &scimitar::scim::Group, id: String| Action::RemoveMembers {
        group_id: g.id().into(),
        group_name: g.name().into(),
        user_ids: vec![id],
    };
    let actions = vec![remove(&a, users[0].id().into()), remove(&b, users[10].id().into())];
    let decision = scimitar::queue::gate(&Safety::default(), actions, &Knowledge::default());
    let info = BatchInfo { origin: "test".into(), policy_run: None, description: "t".into() };
    let batch = scimitar::queue::submit(&j, &info, decision).unwrap();
    env.emu.reset_stats();
    let engine = Engine::new(env.client.clone(), j.clone(), EngineConfig { workers: 1, ..Default::default() });
    let r = engine.run_batch(&batch, None, Cancel::default()).await.unwrap();
    let first = &r.ops[0];
    assert_eq!((first.state, first.error_code.as_deref()), (OpState::Failed, Some("member_loss")), "{first:?}");
    let msg = first.error_message.clone().unwrap();
    assert!(msg.contains("removed 9 other members beyond the 1 asked") && msg.contains("all 9 were put back"), "{msg}");
    assert_eq!(r.ops[1].state, OpState::Cancelled, "the batch stopped: {:?}", r.ops[1]);
    let members = |g: scimitar::scim::Group| g.member_ids().map(str::to_string).collect::<std::collections::BTreeSet<_>>();
    assert_eq!(
        members(env.client.get_group(a.id()).await.unwrap()),
        ids(1..10).into_iter().collect(),
        "the 9 are back, the one asked is gone"
    );
    assert_eq!(members(env.client.get_group(b.id()).await.unwrap()).len(), 10, "the second group was never touched");
    assert_eq!(env.emu.stats().method("PATCH"), 2, "the remove and the repair; nothing of the second op was sent");
}

fn hostile_run(h: &common::hostile::Hostile, args: &[&str]) -> common::hostile::Run {
    common::hostile::scimitar(&h.url, "xoxp-hostile-guards", args)
}

/// A PATCH answered 200 without `active` is read back (the user is still active: not done).
#[test]
fn a_deactivation_answered_without_active_is_read_back_and_not_recorded_done() {
    let h = common::hostile::Hostile::start(common::hostile::Mode::PatchWithoutActive);
    let r = hostile_run(&h, &["users", "deactivate", "W0HOST0001", "--yes", "-o", "json"]);
    let row: serde_json::Value = serde_json::from_str(r.stdout().lines().next().unwrap_or("{}")).unwrap_or_default();
    assert_eq!(
        (r.code(), row["outcome"].as_str(), row["code"].as_str()),
        (Some(1), Some("failed"), Some("surprise")),
        "{}\n{}",
        r.stdout(),
        r.stderr()
    );
    assert!(row["message"].as_str().unwrap_or("").contains("still active"), "{row}");
}

/// `GET /Users/W1` answered with W2: the lookup is refused; nothing is written to anyone.
#[test]
fn a_read_answered_with_another_user_is_refused_and_nothing_is_written() {
    let h = common::hostile::Hostile::start(common::hostile::Mode::OtherUser);
    let r = hostile_run(&h, &["users", "deactivate", "W0HOST0001", "--yes"]);
    assert_ne!(r.code(), Some(0), "{}", r.stderr());
    assert!(r.stderr().contains("answered with user W0OTHER0002") && r.stderr().contains("refused"), "{}", r.stderr());
    assert_eq!(h.writes.load(std::sync::atomic::Ordering::Relaxed), 0, "nothing was written: {}", r.stderr());
}

/// A PATCH of W1 answered with W2 is an error, never "done".
#[test]
fn a_write_answered_with_another_user_is_an_error() {
    let h = common::hostile::Hostile::start(common::hostile::Mode::OtherUserOnPatch);
    let r = hostile_run(&h, &["users", "deactivate", "W0HOST0001", "--yes", "-o", "json"]);
    let row: serde_json::Value = serde_json::from_str(r.stdout().lines().next().unwrap_or("{}")).unwrap_or_default();
    assert_eq!((r.code(), row["outcome"].as_str()), (Some(1), Some("failed")), "{}\n{}", r.stdout(), r.stderr());
    assert!(row["message"].as_str().unwrap_or("").contains("answered with user W0OTHER0002"), "{row}");
}

// ---- item 4: cancel means stop ----

/// SIGINT into 150 deactivations at Slack's rates (past the burst of 40): nothing more reaches the server, counted
/// at the server by arrival time (the emulator's request log); the ops that were waiting for
/// their rate token are cancelled, never sent, each named in the results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigint_no_write_reaches_the_server() {
    let cfg = EmulatorConfig {
        users: 200,
        groups: 2,
        seed: 21,
        token: "xoxp-guards-test".into(),
        latency: std::time::Duration::from_millis(150),
        ..Default::default()
    };
    let env = Env::with(cfg).await;
    let users = ordinary(&env.emu, &env.users().await);
    let list = write(&env.work().join("leavers.txt"), &users[..150].iter().map(|u| u.id()).collect::<Vec<_>>().join("\n"));
    env.emu.reset_stats();
    // At Slack's own rates (the default throttle): a burst of 40, then 6 a second.
    let mut cmd = env.command(&["users", "deactivate", "--from", list.to_str().unwrap(), "--yes", "--force", "-o", "json"]);
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Under way: past the burst, paced at the sustained rate (or 30 s, whichever comes first).
    let started = std::time::Instant::now();
    while env.emu.stats().writes() < 45 && started.elapsed() < std::time::Duration::from_secs(30) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let writes_log =
        |emu: &Emulator| emu.stats().log.into_iter().filter(|(_, e, _)| e.is_write()).map(|(at, _, _)| at).collect::<Vec<f64>>();
    let at_sigint = env.emu.uptime();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    let writes = writes_log(&env.emu);
    let before = writes.iter().filter(|&&t| t <= at_sigint).count();
    let after = writes.iter().filter(|&&t| t > at_sigint).count();
    assert!((20..150).contains(&before), "the run was under way: {before} writes before SIGINT\n{}", show(&out));
    // What was on the wire when the process handled the signal finishes; a request given its
    // token in the instant the signal was being handled may still leave (at 6 a second, one in
    // a few; the emulator cannot tell it from one on the wire). Nothing later.
    let late: Vec<f64> = writes.iter().filter(|&&t| t > at_sigint).map(|t| ((t - at_sigint) * 1000.0).round()).collect();
    assert!(
        late.iter().all(|&ms| ms <= 50.0) && after <= 2,
        "{after} writes reached the server after SIGINT ({before} before), ms after: {late:?}\n{}",
        show(&out)
    );
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(stderr(&out).contains("interrupted: nothing more is sent"), "{}", show(&out));
    let rows: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 150, "one row per operation");
    let cancelled: Vec<&serde_json::Value> = rows.iter().filter(|r| r["outcome"] == "cancelled").collect();
    assert_eq!(cancelled.len(), 150 - before - after, "every op not sent is cancelled\n{}", stderr(&out));
    assert!(
        cancelled.iter().all(|r| r["action"] == "deactivate" && r["id"].as_str().is_some_and(|id| !id.is_empty())),
        "each names its operation"
    );
    // The server holds what was sent, no more: the cancelled users are all still active.
    let now = env.users().await;
    for r in &cancelled {
        assert!(now.iter().find(|u| Some(u.id()) == r["id"].as_str()).unwrap().is_active(), "{r}");
    }
}

// ---- item 2: source sanity in plan, apply and sync ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_lost_a_column_holds_plan_apply_and_sync() {
    let env = Env::start(400, 3).await;
    hr_export(&env, |_| {}, "").await;
    let o = env.scimitar(&["apply", "--policy", "hr", "--yes"]).await;
    assert_eq!(code(&o), 0, "the last successful run: {}", show(&o));
    // The export lost the department of one row in five: fewer than the gate's ceilings (a
    // quarter of the users), more than the source may lose between runs (10% of its rows).
    let mut n = 0;
    hr_export(
        &env,
        |u| {
            if n % 5 == 0
                && let Some(e) = u.enterprise.as_mut()
            {
                e.department = None;
            }
            n += 1;
        },
        "",
    )
    .await;
    let o = env.scimitar(&["plan", "--policy", "hr"]).await;
    assert!(stderr(&o).contains("apply will stop: column `department` has a value in"), "{}", show(&o));
    env.emu.reset_stats();
    let o = env.scimitar(&["apply", "--policy", "hr", "--yes"]).await;
    assert_eq!(code(&o), 64, "{}", show(&o));
    let err = stderr(&o);
    assert!(
        err.contains("column `department`") && err.contains("at the last successful run") && !err.contains("above the ceiling"),
        "{err}"
    );
    let o = env.scimitar(&["sync", "--policy", "hr", "--once"]).await;
    assert_eq!(code(&o), scimitar::exit::QUARANTINED, "{}", show(&o));
    assert_eq!(env.emu.stats().writes(), 0, "held: nothing written");
    // Passed once, the source it read is the base from then on.
    let o = env.scimitar(&["apply", "--policy", "hr", "--yes", "--force"]).await;
    assert_eq!(code(&o), 0, "{}", show(&o));
    let o = env.scimitar(&["apply", "--policy", "hr", "--yes"]).await;
    assert!(code(&o) == 0 && stderr(&o).contains("nothing to do"), "{}", show(&o));
}
