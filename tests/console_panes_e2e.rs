//! The Reports and Policies panes in the real binary, in a pseudo-terminal: `scimitar demo` with a
//! policy in the config dir; the plan is computed against the embedded emulator, applied after
//! the confirmation, and the operations then show in the Reports pane and export to CSV.
//! (The session harness is that of `console_e2e.rs`, with the config dir given by the test.)

mod common;
use common::pty::Session;

const POLICY: &str = r#"match_on = "email"
[source]
path = "hr.csv"
id_column = "email"
[attributes]
"emails.work" = "email"
userName = "user_name"
title = "title"
[provisioning]
remove_action = "report"
"#;

#[test]
fn policy_plan_apply_then_report_and_export() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::write(dir.path().join("policies/hr.toml"), POLICY).unwrap();
    std::fs::write(
        dir.path().join("policies/hr.csv"),
        "email,user_name,title\nnew.one@panes-e2e.example,new.one,Engineer\nnew.two@panes-e2e.example,new.two,Designer\n",
    )
    .unwrap();
    let data = dir.path().to_path_buf();
    let mut s = Session::start_in(&["demo", "--users", "300", "--groups", "5"], dir);
    s.wait_for("300 users loaded", |sc| sc.contains("users 300/300"));
    // Opening the pane lists the policy and computes its plan in the background.
    s.type_keys("3");
    let screen = s.wait_for("the plan", |sc| sc.contains("Create users (2)"));
    assert!(screen.contains("hr") && screen.contains("+ new.one"), "{screen}");
    assert!(screen.contains("reported only"), "{screen}");
    s.type_keys("A");
    s.wait_for("the confirmation", |sc| sc.contains("Apply policy hr?") && sc.contains("Enter/y apply"));
    s.type_keys("y");
    s.wait_for("the apply to end and the plan to be computed again", |sc| sc.contains("no changes"));
    // The operations are in the report.
    s.type_keys("4");
    let screen = s.wait_for("the report", |sc| sc.matches("create_user").count() >= 2);
    assert!(screen.contains("new.two@panes-e2e.example") && screen.contains("done"), "{screen}");
    s.type_keys("\r");
    s.wait_for("the record's detail", |sc| sc.contains("prev_hash") || sc.contains("policy_run"));
    s.send("\x1b");
    s.wait_for("the detail to close", |sc| !sc.contains("policy_run"));
    s.type_keys("e");
    s.wait_for("the export", |sc| sc.contains("exported 2 records to"));
    s.type_keys("q");
    assert!(s.wait_exit().success());
    let csv: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("scimitar-report-"))
        .collect();
    assert_eq!(csv.len(), 1, "{csv:?}");
    let text = std::fs::read_to_string(&csv[0]).unwrap();
    assert!(text.starts_with("seq,started_at,finished_at") && text.lines().count() == 3, "{text}");
    assert!(text.contains("new.one@panes-e2e.example") && text.contains("create_user"), "{text}");
}

#[test]
fn demo_writes_its_hr_policy_and_the_pane_shows_its_plan_first() {
    let dir = tempfile::tempdir().unwrap();
    // A policy of the admin's own is listed after the demo's.
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::write(dir.path().join("policies/hr.toml"), POLICY).unwrap();
    std::fs::write(dir.path().join("policies/hr.csv"), "email,user_name,title\n").unwrap();
    let mut s = Session::start_with(&["demo", "--users", "1000", "--groups", "30"], dir, false);
    s.wait_for("1000 users loaded", |sc| sc.contains("users 1,000/1,000"));
    s.type_keys("3");
    let screen = s.wait_for("the demo plan", |sc| sc.contains("Plan demo-hr") && sc.contains("members to add"));
    let list = screen.find("> demo-hr").unwrap_or_else(|| panic!("demo-hr is first and selected: {screen}"));
    assert!(screen[list..].contains(" hr "), "{screen}");
    for part in ["5 create", "1 reactivate", "deactivate", "update", "Create users (5)", "Priya Raman"] {
        assert!(screen.contains(part), "{part}: {screen}");
    }
    s.type_keys("q");
    assert!(s.wait_exit().success());
}

/// Issue 12: a CSV exported from the Reports pane in `demo` outlives the demo (it went into the
/// demo's throwaway data dir): it goes to the real data dir's `exports/`, owner-only, and its
/// path is on screen whole.
#[test]
fn a_demo_export_survives_the_demo() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::write(dir.path().join("policies/hr.toml"), POLICY).unwrap();
    std::fs::write(dir.path().join("policies/hr.csv"), "email,user_name,title\nnew.one@export-e2e.example,new.one,Engineer\n").unwrap();
    let exports = dir.path().join("data/exports");
    let mut s = Session::start_with(&["demo", "--users", "200", "--groups", "5", "--no-policy"], dir, false);
    s.wait_for("200 users loaded", |sc| sc.contains("users 200/200"));
    s.type_keys("3");
    s.wait_for("the plan", |sc| sc.contains("Create users (1)"));
    s.type_keys("A");
    s.wait_for("the confirmation", |sc| sc.contains("Apply policy hr?"));
    s.type_keys("y");
    s.wait_for("the apply to end", |sc| sc.contains("no changes"));
    s.type_keys("4");
    s.wait_for("the report", |sc| sc.contains("create_user"));
    s.type_keys("e");
    let screen = s.wait_for("the export", |sc| sc.contains("exported 1 record to"));
    assert!(screen.contains("scimitar-report-"), "the file's name is on screen: {screen}");
    s.type_keys("q");
    assert!(s.wait_exit().success());
    let csv: Vec<_> = std::fs::read_dir(&exports).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(csv.len(), 1, "{csv:?}");
    let mode = std::fs::metadata(&csv[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "owner-only");
    assert!(std::fs::read_to_string(&csv[0]).unwrap().contains("new.one@export-e2e.example"));
}
