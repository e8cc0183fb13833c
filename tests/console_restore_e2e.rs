//! Restore from the console, the real binary in a pseudo-terminal against an emulator this test
//! runs on 127.0.0.1: three users who are in groups are deactivated (the headless command, same
//! data dir), then `Q` lists the batch among the past ones, `u` restores it through the gate and
//! one confirmation, and the emulator has them active again and back in the same groups.

mod common;
use common::pty::Session;
use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::scim::ApiVersion;
use std::collections::{BTreeMap, BTreeSet};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivate_three_in_groups_then_restore_the_batch_from_q() {
    let cfg = EmulatorConfig { users: 60, groups: 6, seed: 9, token: "xoxp-restore-console".into(), ..Default::default() };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = emu.base_url(ApiVersion::V2);
    let before = memberships(&emu);
    let (users, _) = emu.snapshot();
    let owner = emu.primary_owner_id();
    let bots = emu.bot_ids();
    let picked: Vec<_> = users
        .iter()
        .filter(|u| u.is_active() && u.id() != owner && !bots.contains(&u.id().to_string()) && before.contains_key(u.id()))
        .take(3)
        .collect();
    assert_eq!(picked.len(), 3);
    let ids: Vec<String> = picked.iter().map(|u| u.id().to_string()).collect();
    let dir = tempfile::tempdir().unwrap();

    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_scimitar"));
    cmd.args(["users", "deactivate", "--yes"])
        .args(picked.iter().map(|u| u.primary_email().unwrap()))
        .env("SCIMITAR_URL", &url)
        .env("SLACK_SCIM_TOKEN", emu.token())
        .env("SCIMITAR_CONFIG_DIR", dir.path())
        .env("SCIMITAR_DATA_DIR", dir.path())
        .env_remove("SCIMITAR_PROFILE")
        .stdin(std::process::Stdio::null());
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let gone = memberships(&emu);
    assert!(ids.iter().all(|id| !gone.contains_key(id)), "the deactivation took their groups away");

    let env = [("SCIMITAR_URL", url.as_str()), ("SLACK_SCIM_TOKEN", emu.token())];
    let mut s = Session::start_env(&[], dir, true, &env);
    s.wait_for("the users", |sc| sc.contains("loaded 60 users"));
    s.type_keys("Q");
    let screen = s.wait_for("the past batches", |sc| sc.contains("past batches") && sc.contains("deactivate users"));
    assert!(screen.contains("u: 3"), "what u can restore is on the row:\n{screen}");
    s.type_keys("u");
    let screen = s.wait_for("the confirmation", |sc| sc.contains("Confirm: restore batch"));
    assert!(screen.contains("3 users") && screen.contains("reactivate"), "{screen}");
    s.type_keys("y");
    let screen = s.wait_for("the restore to finish", |sc| {
        sc.contains("Queue: restore batch") && sc.contains("100%") && (sc.contains("queue done") || sc.contains("│ done "))
    });
    assert!(!screen.contains("FAILED"), "{screen}");

    let (now, _) = emu.snapshot();
    let after = memberships(&emu);
    for id in &ids {
        assert_eq!(now.iter().find(|u| u.id() == id).unwrap().active, Some(true), "{id} is active again");
        assert_eq!(after.get(id), before.get(id), "{id} is back in the same groups");
    }
    // The list now has the restore too, newest first, with nothing of it to restore.
    s.type_keys("b");
    s.wait_for("the restore in the list", |sc| sc.contains("past batches") && sc.contains("restore batch"));
    s.send("\x1b");
    s.wait_for("the queue view to close", |sc| !sc.contains("past batches"));
    s.type_keys("q");
    assert!(s.wait_exit().success());
}
