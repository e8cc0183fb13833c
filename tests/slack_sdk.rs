//! A real client nobody here wrote against the emulator: python-slack-sdk's `SCIMClient` (PyPI
//! `slack_sdk`, Slack's own SDK; its SCIM client speaks v1.1 only, reference §1), installed by
//! `./scripts/test` into the interop virtualenv (`common/scim2.rs`). `slack_sdk/scim_client.py`
//! drives search, read, create, patch, PUT and delete of users and groups over real HTTP on
//! 127.0.0.1; this test then checks the emulator's state itself. A missing SDK fails loudly,
//! naming `./scripts/test`.

#[path = "common/scim2.rs"]
mod scim2;

use scimitar::emulator::{Emulator, EmulatorConfig};
use scimitar::scim::ApiVersion;
use std::process::{Command, Stdio};

const TOKEN: &str = "xoxp-slack-sdk-test-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_slack_sdk_scim_client_drives_the_emulator() {
    let python = scim2::venv().join("bin").join("python");
    let probe = Command::new(&python).args(["-c", "import slack_sdk.scim"]).output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "{} cannot import slack_sdk: run ./scripts/test (it installs slack_sdk from PyPI into target/interop-venv), \
         or set SCIMITAR_INTEROP_VENV to a virtualenv that has it ({probe:?})",
        python.display()
    );
    let cfg = EmulatorConfig { users: 30, groups: 2, seed: 6, token: TOKEN.into(), ..Default::default() };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slack_sdk/scim_client.py");
    let base = emu.base_url(ApiVersion::V1);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("SCIM_BASE_URL", base)
            .env("SCIM_TOKEN", TOKEN)
            // Loopback only, whatever proxy the environment names.
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env("NO_PROXY", "127.0.0.1")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "python-slack-sdk against the emulator:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all steps passed"), "{stdout}");
    for step in [
        "search_users",
        "create_user",
        "read_user",
        "patch_user",
        "update_user (PUT)",
        "search_groups",
        "patch_group",
        "update_group (PUT)",
        "delete_group",
        "delete_user",
    ] {
        assert!(stdout.contains(&format!("step {step}\n")), "{step} ran:\n{stdout}");
    }

    // The emulator's own state agrees: the user exists, deactivated, renamed by the PUT; the
    // group is gone.
    let (users, groups) = emu.snapshot();
    let u = users.iter().find(|u| u.primary_email() == Some("sdk.user@acme-corp.example")).expect("the SDK's user");
    assert_eq!(
        (u.user_name.as_deref(), u.nick_name.as_deref(), u.active),
        (Some("sdk.user.renamed"), Some("sdk.user.renamed"), Some(false))
    );
    assert!(groups.iter().all(|g| !g.name().starts_with("sdk-group")), "the SDK's group was deleted");
    let stats = emu.stats();
    assert!(stats.method("PUT") >= 3 && stats.method("DELETE") >= 3 && stats.method("PATCH") >= 4, "{stats:?}");
}
