//! Slack's profile through the console's user form, in the real binary in a pseudo-terminal,
//! against an emulator this test runs on loopback: the profile's fields typed into the form, the
//! diff, the gate's confirmation, the queue; then the emulator holds each value, the user detail
//! shows them, and `users export` planned with `EXPORT_POLICY` changes nothing.

mod common;
use common::pty::Session;
use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::scim::ApiVersion;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "xoxp-console-profile-e2e";

fn cli(dir: &std::path::Path, url: &str, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_scimitar"))
        .args(args)
        .env("SCIMITAR_URL", url)
        .env("SLACK_SCIM_TOKEN", TOKEN)
        .env("SCIMITAR_CONFIG_DIR", dir)
        .env("SCIMITAR_DATA_DIR", dir)
        .env_remove("SCIMITAR_PROFILE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_set_in_the_console_form_round_trips() {
    let cfg = EmulatorConfig { users: 60, groups: 3, seed: 31, token: TOKEN.into(), ..Default::default() };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    emu.set_photo_delay(Duration::from_millis(500));
    let url = emu.base_url(ApiVersion::V2);
    let (users, _) = emu.snapshot();
    let who = users
        .iter()
        .find(|u| {
            u.is_active()
                && !u.is_guest()
                && u.roles.is_none()
                && u.profile.is_none()
                && u.enterprise.is_some()
                && !u.primary_email().unwrap().contains("slack-bots")
        })
        .expect("an ordinary member")
        .clone();
    let email = who.primary_email().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let cfg_dir = tempfile::tempdir().unwrap();
    let (url2, email2) = (url.clone(), email.clone());
    let who_label = who.label();
    let session = tokio::task::spawn_blocking(move || {
        let mut s = Session::start_env(&["--no-cache"], cfg_dir, true, &[("SCIMITAR_URL", url2.as_str()), ("SLACK_SCIM_TOKEN", TOKEN)]);
        s.wait_for("the users", |sc| sc.contains("users 60/60") && sc.contains("queue idle"));
        s.type_keys(&format!("/{email2}\r"));
        s.wait_for("the user in the pane", |sc| sc.contains("Users 1 of 60"));
        s.type_keys("e");
        s.wait_for("the form", |sc| sc.contains(&format!("Edit {who_label}")));
        // 16 fields down: secondaryEmail, then startDate, photo, guest, guestExpiration, street,
        // locality.
        s.type_keys(&"\t".repeat(16));
        s.type_keys("pat@home.example\t2027-01-04\thttps://photos.example.com/p.png\tmulti\t2099-06-30\t\tOslo");
        s.send("\x13"); // C-s
        let screen = s.wait_for("the diff", |sc| sc.contains("6 changes, sent as one update"));
        assert!(screen.contains("startDate") && screen.contains("(empty) → 2027-01-04T00:00:00+0000"), "{screen}");
        assert!(screen.contains("guestExpiration") && screen.contains("2099-06-30T23:59:59Z"), "{screen}");
        s.type_keys("\r");
        s.wait_for("the gate's confirmation", |sc| sc.contains("Confirm: update"));
        s.type_keys("y");
        let screen = s.wait_for("the update to be done", |sc| sc.contains("1/1 100%"));
        assert!(!screen.contains("FAILED") && !screen.contains("surprise"), "verified, the photo's delay allowed for: {screen}");
        s.send("\x1b");
        std::thread::sleep(Duration::from_millis(100));
        // The detail, read from the emulator again.
        s.type_keys("r");
        s.wait_for("reloaded", |sc| sc.contains("reloaded 60 users"));
        s.type_keys("\r");
        let screen = s.wait_for("the detail with the profile", |sc| sc.contains("guestExpiration") && sc.contains("startDate"));
        assert!(screen.contains("2027-01-04T00:00:00+0000") && screen.contains("pat@home.example") && screen.contains("Oslo"), "{screen}");
        s.send("\x1b");
        std::thread::sleep(Duration::from_millis(100)); // Esc then q at once reads as Alt-q
        s.type_keys("q");
        assert!(s.wait_exit().success());
    });
    session.await.unwrap();

    // The emulator holds each value (the photo once Slack's delay has passed).
    let deadline = Instant::now() + Duration::from_secs(5);
    let u = loop {
        let (users, _) = emu.snapshot();
        let u = users.into_iter().find(|u| u.id() == who.id()).unwrap();
        if u.photo().is_some() || Instant::now() > deadline {
            break u;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(u.start_date(), Some("2027-01-04T00:00:00+0000"));
    assert_eq!(u.photo(), Some("https://photos.example.com/p.png"));
    assert!(u.is_guest());
    assert_eq!(u.guest_expiration(), Some("2099-06-30T23:59:59Z"));
    assert_eq!(u.secondary_email(), Some("pat@home.example"));
    assert_eq!(u.primary_email(), Some(email.as_str()), "the primary email is kept");
    assert_eq!(u.address().and_then(|a| a.locality.as_deref()), Some("Oslo"));

    // Exported, and planned from the export: no changes.
    let d = dir.path();
    let (code, csv, err) = cli(d, &url, &["users", "export", "-o", "csv"]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(d.join("users.csv"), csv).unwrap();
    std::fs::write(d.join("hr.toml"), scimitar::policy::config::EXPORT_POLICY).unwrap();
    let (code, out, err) = cli(d, &url, &["plan", "--policy", d.join("hr.toml").to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("No changes."), "{out}");
}
