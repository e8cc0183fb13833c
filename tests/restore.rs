//! `scimitar restore` and `scimitar users update`, run as the real binary against the emulator
//! over real HTTP on 127.0.0.1: what an admin would see and what the emulator then holds.

use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::scim::{ApiVersion, User};
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output, Stdio};

const TOKEN: &str = "xoxp-restore-test-token-7";

async fn emulator() -> Emulator {
    let cfg = EmulatorConfig { users: 80, groups: 8, seed: 5, token: TOKEN.into(), ..Default::default() };
    Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn run(dir: &std::path::Path, url: &str, args: &[&str]) -> Output {
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

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Each user's groups (by group id), from the groups' member lists.
fn memberships(emu: &Emulator) -> BTreeMap<String, BTreeSet<String>> {
    let (_, groups) = emu.snapshot();
    let mut of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for g in &groups {
        for m in g.member_ids() {
            of.entry(m.to_string()).or_default().insert(g.id().to_string());
        }
    }
    of
}

fn user<'a>(users: &'a [User], id: &str) -> &'a User {
    users.iter().find(|u| u.id() == id).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivate_three_users_in_groups_then_restore_the_batch() {
    let emu = emulator().await;
    let url = emu.base_url(ApiVersion::V2);
    let dir = tempfile::tempdir().unwrap();
    let (users, _) = emu.snapshot();
    let before = memberships(&emu);
    let owner = emu.primary_owner_id();
    let bots = emu.bot_ids();
    // Three active, ordinary users who are in groups (one in two or more, when there is one).
    let mut picked: Vec<&User> = users
        .iter()
        .filter(|u| u.is_active() && u.id() != owner && !bots.contains(&u.id().to_string()) && before.contains_key(u.id()))
        .collect();
    picked.sort_by_key(|u| std::cmp::Reverse(before[u.id()].len()));
    let picked: Vec<&User> = picked.into_iter().take(3).collect();
    assert_eq!(picked.len(), 3, "the seed has users in groups");
    let emails: Vec<String> = picked.iter().map(|u| u.primary_email().unwrap().to_string()).collect();
    let ids: Vec<String> = picked.iter().map(|u| u.id().to_string()).collect();
    let n_memberships: usize = ids.iter().map(|id| before[id].len()).sum();

    let mut args = vec!["users", "deactivate", "--yes", "-o", "json"];
    args.extend(emails.iter().map(String::as_str));
    let o = run(dir.path(), &url, &args);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let (out, _) = text(&o);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let batch = first["batch_id"].as_str().unwrap().to_string();

    // Slack takes the memberships with the deactivation (reference §8.4); so does the emulator.
    let (now, _) = emu.snapshot();
    let after = memberships(&emu);
    for id in &ids {
        assert_eq!(user(&now, id).active, Some(false));
        assert!(!after.contains_key(id), "{id} was dropped from their groups");
    }

    // The dry run lists what it would do and changes nothing.
    let o = run(dir.path(), &url, &["restore", "--batch", &batch, "--dry-run"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    // The diff: a row per user reactivated and per membership put back.
    assert_eq!(out.matches("reactivate").count(), 3, "a row per user: {out}");
    assert_eq!(out.matches("add_member").count(), n_memberships, "a row per membership: {out}");
    assert!(err.contains("dry run") && err.contains("3 to reactivate"), "{err}");
    for id in &ids {
        assert!(err.contains(&format!("{} group", before[id].len())), "what each user had is said: {err}");
    }
    let (now, _) = emu.snapshot();
    assert!(ids.iter().all(|id| user(&now, id).active == Some(false)), "a dry run changes nothing");

    // Without a terminal and without --yes, it asks once, which it cannot: refused.
    let o = run(dir.path(), &url, &["restore", "--batch", &batch]);
    assert_eq!(o.status.code(), Some(64), "{:?}", text(&o));
    assert!(text(&o).1.contains("without confirmation"), "{}", text(&o).1);

    let o = run(dir.path(), &url, &["restore", "--batch", &batch, "--yes", "-o", "json"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let rows: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(rows.iter().all(|r| r["outcome"] == "done"), "{out}");
    let restore_batch = rows[0]["batch_id"].as_str().unwrap();
    assert_ne!(restore_batch, batch, "a restore is a batch of its own, reported like any other");
    let (now, _) = emu.snapshot();
    let restored = memberships(&emu);
    for id in &ids {
        assert_eq!(user(&now, id).active, Some(true), "{id} is active again");
        assert_eq!(restored.get(id), before.get(id), "{id} is back in the same groups");
    }
    let back: usize = ids.iter().map(|id| restored[id].len()).sum();
    assert_eq!(back, n_memberships);

    // The report has the restore's operations.
    let o = run(dir.path(), &url, &["report", "--batch", restore_batch, "-o", "json"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert_eq!(out.lines().filter(|l| l.contains("\"reactivate\"")).count(), 3, "{out}");

    // Restoring again finds everything as it should be: nothing to do.
    let o = run(dir.path(), &url, &["restore", "--batch", &batch, "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(text(&o).1.contains("nothing to do"), "{}", text(&o).1);

    // A user whose deactivation kept nothing is named; an unknown batch too.
    let other = users.iter().find(|u| u.is_active() && !ids.contains(&u.id().to_string()) && u.id() != owner).unwrap();
    let o = run(dir.path(), &url, &["restore", "--user", other.primary_email().unwrap()]);
    assert_eq!(o.status.code(), Some(66), "{:?}", text(&o));
    assert!(text(&o).1.contains("nothing to restore for user"), "{}", text(&o).1);
    let o = run(dir.path(), &url, &["restore", "--batch", "b-nope"]);
    assert_eq!(o.status.code(), Some(66), "{:?}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_update_sets_fields_shows_the_diff_and_refuses_bad_values() {
    let emu = emulator().await;
    let url = emu.base_url(ApiVersion::V2);
    let dir = tempfile::tempdir().unwrap();
    let (users, _) = emu.snapshot();
    let owner = emu.primary_owner_id();
    let bots = emu.bot_ids();
    let mut ordinary = users.iter().filter(|u| u.is_active() && u.id() != owner && !bots.contains(&u.id().to_string()));
    let ann = ordinary.next().unwrap().clone();
    let bob = ordinary.next().unwrap().clone();
    let email = ann.primary_email().unwrap().to_string();
    let old_title = ann.title.clone().unwrap();
    let dept = ann.department().unwrap().to_string();

    // --dry-run: the field-level diff, old -> new; an unchanged field is not listed; nothing sent.
    emu.reset_stats();
    let o = run(
        dir.path(),
        &url,
        &["users", "update", &email, "--set", "title=Staff Wrangler", "--set", &format!("department={dept}"), "--dry-run", "-o", "csv"],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains(&format!("title,{old_title},Staff Wrangler")), "{out}");
    assert!(!out.contains("department"), "an unchanged field is not in the diff: {out}");
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(emu.stats().writes(), 0);
    let (now, _) = emu.snapshot();
    assert_eq!(user(&now, ann.id()).title.as_deref(), Some(old_title.as_str()));

    // For real: the emulator has the new title; one PATCH.
    let o = run(dir.path(), &url, &["users", "update", &email, "--set", "title=Staff Wrangler", "--set", "costCenter=CC-999"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(err.contains(&format!("title: \"{old_title}\" -> \"Staff Wrangler\"")), "{err}");
    assert!(out.contains("update_user") && out.contains("done"), "{out}");
    assert_eq!(emu.stats().method("PATCH"), 1);
    let (now, _) = emu.snapshot();
    let a = user(&now, ann.id());
    assert_eq!(a.title.as_deref(), Some("Staff Wrangler"));
    assert_eq!(a.enterprise.as_ref().unwrap().cost_center.as_deref(), Some("CC-999"));
    assert_eq!(a.department(), Some(dept.as_str()), "what was not asked is left alone");

    // Bad values are named, nothing is sent.
    emu.reset_stats();
    for (set, named) in [
        ("shoe_size=9", "unknown field \"shoe_size\""),
        ("email=not-an-email", "\"not-an-email\""),
        ("userName=ann🎉", "invalid_emoji_not_allowed"),
        ("userName=aaaaaaaaaaaaaaaaaaaaaaaaaaaa", "username_too_long"),
        ("title", "is not field=value"),
    ] {
        let o = run(dir.path(), &url, &["users", "update", &email, "--set", set]);
        assert_eq!(o.status.code(), Some(64), "{set}: {:?}", text(&o));
        assert!(text(&o).1.contains(named), "{set}: {}", text(&o).1);
    }
    assert_eq!(emu.stats().writes(), 0);

    // --from FILE.csv: one row per user; a bad row is named by line and nothing runs.
    let csv = dir.path().join("edits.csv");
    std::fs::write(
        &csv,
        format!("email,title,division\n{email},Chief Wrangler,\n{},,Ops\nghost@nowhere.example,x,\n", bob.primary_email().unwrap()),
    )
    .unwrap();
    let o = run(dir.path(), &url, &["users", "update", "--from", csv.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(64), "{:?}", text(&o));
    assert!(text(&o).1.contains("line 4"), "{}", text(&o).1);
    assert_eq!(emu.stats().writes(), 0);
    std::fs::write(&csv, format!("email,title,division\n{email},Chief Wrangler,\n{},,Ops\n", bob.primary_email().unwrap())).unwrap();
    let o = run(dir.path(), &url, &["users", "update", "--from", csv.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let (now, _) = emu.snapshot();
    assert_eq!(user(&now, ann.id()).title.as_deref(), Some("Chief Wrangler"));
    assert_eq!(user(&now, bob.id()).enterprise.as_ref().unwrap().division.as_deref(), Some("Ops"));
    assert_eq!(user(&now, bob.id()).title, bob.title, "an empty cell leaves the field as it is");
}
