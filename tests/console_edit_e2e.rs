//! The user form and the user detail's memberships in the real binary, in a pseudo-terminal
//! (`scimitar demo`, embedded emulator on loopback; the harness is `console_e2e.rs`'s): create a
//! user through the form, find them in the Users pane after reading the users again from the
//! emulator; edit their title, see the diff, and read the new title back; add them to a group
//! from the user detail and see the membership the emulator answers with. One session, so the
//! demo starts once.

mod common;
use common::pty::Session;
use std::time::Duration;

fn esc(s: &mut Session) {
    s.send("\x1b");
    std::thread::sleep(Duration::from_millis(60));
}

#[test]
fn create_edit_and_add_to_a_group_through_the_console() {
    let mut s = Session::start(&["demo", "--users", "300", "--groups", "5"]);
    s.wait_for("300 users loaded", |sc| sc.contains("users 300/300") && sc.contains("queue idle") && !sc.contains("loading"));

    // Create: the form, the review of what will be sent, the gate's confirmation, the queue.
    s.type_keys("n");
    s.wait_for("the form", |sc| sc.contains("New user") && sc.contains("C-s save"));
    // given name, family name, display name (left empty), userName, email
    s.type_keys("Nia\tPark\t\tnia.e2e\tnia.e2e@edit-e2e.example");
    s.send("\x13"); // C-s
    let screen = s.wait_for("the review", |sc| sc.contains("A new user with"));
    assert!(screen.contains("(empty) → nia.e2e@edit-e2e.example") && screen.contains("(empty) → Nia"), "{screen}");
    s.type_keys("\r");
    s.wait_for("the gate's confirmation", |sc| sc.contains("Confirm: create user nia.e2e@edit-e2e.example"));
    s.type_keys("y");
    let screen = s.wait_for("the create to be done", |sc| sc.contains("Queue: create user nia.e2e") && sc.contains("1/1 100%"));
    assert!(!screen.contains("FAILED"), "{screen}");
    esc(&mut s);
    // Read the users again from the emulator: the new user is there.
    s.type_keys("r");
    s.wait_for("301 users loaded", |sc| sc.contains("users 301/301") && sc.contains("loaded 301 users"));
    s.type_keys("/nia.e2e\r");
    let screen = s.wait_for("the new user in the Users pane", |sc| sc.contains("Users 1 of 301") && sc.contains("nia.e2e@"));
    assert!(screen.contains("Nia Park"), "{screen}");

    // Edit the title: the diff, then the emulator's answer read back.
    s.type_keys("e");
    s.wait_for("the form over the user", |sc| sc.contains("Edit Nia Park"));
    // given, family, display, userName, email, work phone, mobile phone, title
    s.type_keys("\t\t\t\t\t\t\tAnalyst");
    s.send("\x13");
    let screen = s.wait_for("the diff", |sc| sc.contains("1 change, sent as one update"));
    assert!(screen.contains("title") && screen.contains("(empty) → Analyst"), "{screen}");
    s.type_keys("\r");
    s.wait_for("the gate's confirmation", |sc| sc.contains("Confirm: update Nia Park (title)"));
    s.type_keys("y");
    let screen = s.wait_for("the update to be done", |sc| sc.contains("Queue: update Nia Park (title)") && sc.contains("1/1 100%"));
    assert!(!screen.contains("FAILED"), "{screen}");
    esc(&mut s);
    // Read the users again; the detail follows the user by id into the new rows.
    s.type_keys("r");
    s.type_keys("\r");
    let screen = s.wait_for("the detail with the new title", |sc| sc.lines().any(|l| l.contains("title") && l.contains("Analyst")));
    assert!(screen.contains("email (primary)"), "{screen}");

    // Add to a group from the user detail: pick it, confirm, and the group lists the user.
    s.type_keys("+");
    s.wait_for("the group picker", |sc| sc.contains("Add Nia Park to a group"));
    s.type_keys("\r");
    let screen = s.wait_for("the confirmation", |sc| sc.contains("Confirm: add Nia Park to "));
    let line = screen.lines().find(|l| l.contains("Confirm: add Nia Park to ")).unwrap();
    let group = line.split("Confirm: add Nia Park to ").nth(1).unwrap().split(" ─").next().unwrap().trim().to_string();
    assert!(!group.is_empty(), "{screen}");
    s.type_keys("y");
    let screen = s.wait_for("the add to be done", |sc| sc.contains("Queue: add Nia Park to") && sc.contains("1/1 100%"));
    assert!(!screen.contains("FAILED"), "{screen}");
    esc(&mut s);
    // The groups were read again after the batch; the detail lists the group.
    s.type_keys("\r");
    let screen = s.wait_for("the membership in the detail", |sc| sc.lines().any(|l| l.contains("group") && l.contains(group.as_str())));
    assert!(screen.contains("email (primary)"), "{screen}");
    esc(&mut s);
    s.type_keys("q");
    assert!(s.wait_exit().success());
}

/// Policies `n` and `e` with an editor that changes the file (`sed -i`, given the path last, as
/// any editor is): the console hands the terminal over, takes it back, and plans the policy.
#[test]
fn a_new_policy_from_the_template_edited_then_planned() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(policies.join("people.csv"), "email,first_name,last_name,title\nnew.person@policy-e2e.example,New,Person,Analyst\n")
        .unwrap();
    let editor = "sed -i s/^max_deactivations.=.25/max_deactivations\\x20=\\x205/";
    let mut s =
        Session::start_env(&["demo", "--users", "300", "--groups", "5", "--no-policy"], dir, true, &[("EDITOR", editor), ("VISUAL", "")]);
    s.wait_for("300 users loaded", |sc| sc.contains("users 300/300"));
    s.type_keys("3");
    s.wait_for("the Policies pane", |sc| sc.contains("n new"));
    s.type_keys("n");
    s.wait_for("the prompt", |sc| sc.contains("New policy for a source file"));
    s.type_keys("people.csv\r");
    let screen = s.wait_for("the plan after the editor", |sc| sc.contains("Create users (1)"));
    assert!(screen.contains("people"), "{screen}");
    let text = std::fs::read_to_string(policies.join("people.toml")).unwrap();
    assert!(
        text.contains("max_deactivations = 5") && text.contains("\"name.givenName\" = \"first_name\""),
        "the editor ran on the new file:\n{text}"
    );
    // e: the same editor on the selected policy, and the plan is computed again.
    s.type_keys("h");
    s.type_keys("e");
    s.wait_for("the edit to be logged", |sc| sc.matches("computing its plan again").count() >= 1 && sc.contains("editing policy people"));
    s.type_keys("q");
    assert!(s.wait_exit().success());
}
