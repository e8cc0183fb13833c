//! `insta` snapshots of every pane and overlay, drawn with ratatui's TestBackend at 80x24 and
//! 200x50 (the buffer as text, one line per row). They show what a string assert cannot: the
//! layout, which columns collapse, where the hint bar is cut, that a dialog's prompt is on screen.
//!
//! The `.snap` files are committed (`crates/console/src/snapshots/`). A changed or missing snapshot fails
//! the test (CI runs with `INSTA_UPDATE=no`); after a deliberate change, review the diff the
//! failure prints and accept it with `INSTA_UPDATE=always cargo test -p scimitar-console snapshots` (or
//! `cargo insta review` where cargo-insta is installed).
//!
//! Everything on screen is fixed: Log times are set to 00:00:00, report records have fixed
//! dates and the chart a fixed span.

use super::app::App;

use super::msg::Msg;
use super::tests::{app_with, screen};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

const SIZES: [(u16, u16); 2] = [(80, 24), (200, 50)];

fn key(app: &mut App, code: KeyCode) {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn typ(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// The screen at both sizes, with the clock taken out of the Log pane.
fn snap(name: &str, app: &mut App) {
    for e in app.log.iter_mut() {
        e.time = "00:00:00".into();
    }
    for (w, h) in SIZES {
        let s = screen(app, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), s);
    }
}

#[test]
fn users_pane() {
    let mut app = app_with(300);
    snap("users", &mut app);
}

#[test]
fn users_pane_marked_and_filtered() {
    let mut app = app_with(300);
    typ(&mut app, "  j ");
    key(&mut app, KeyCode::Char('/'));
    typ(&mut app, "lee");
    snap("users_filtered", &mut app);
}

/// The Approvals view (`P`, four-eyes): the pending list, then the selected one's plan and the
/// gate's screening its proposer saw.
#[test]
fn approvals_overlay() {
    let mut app = super::approvals_tests::approvals_app();
    snap("approvals", &mut app);
    key(&mut app, KeyCode::Enter);
    snap("approvals_plan", &mut app);
}

#[test]
fn groups_pane() {
    let mut app = app_with(30);
    key(&mut app, KeyCode::Char('2'));
    snap("groups", &mut app);
}

#[test]
fn help_overlay() {
    let mut app = app_with(30);
    key(&mut app, KeyCode::Char('?'));
    snap("help", &mut app);
}

#[test]
fn user_detail_overlay() {
    let mut app = app_with(30);
    key(&mut app, KeyCode::Char('j'));
    super::tests::open_detail(&mut app, 1);
    snap("user_detail", &mut app);
}

#[test]
fn members_overlay() {
    let mut app = app_with(30);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Enter);
    snap("members", &mut app);
}

#[test]
fn confirm_overlay() {
    let mut app = app_with(30);
    typ(&mut app, "   ");
    key(&mut app, KeyCode::Char('d'));
    snap("confirm", &mut app);
}

#[test]
fn confirm_overlay_with_typed_count_past_the_ceiling() {
    let mut app = app_with(30);
    super::tests::set_max_deactivations(&mut app, 2);
    typ(&mut app, "     ");
    key(&mut app, KeyCode::Char('d'));
    typ(&mut app, "4");
    snap("confirm_typed", &mut app);
}

#[test]
fn prompt_overlay() {
    let mut app = app_with(30);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('R'));
    snap("prompt", &mut app);
}

#[test]
fn queue_overlay() {
    let mut app = app_with(30);
    super::tests::running_batch(&mut app);
    key(&mut app, KeyCode::Char('Q'));
    snap("queue", &mut app);
}

#[test]
fn resume_overlay() {
    let mut app = app_with(30);
    app.update(Msg::Unfinished(vec![super::msg::ResumeOffer {
        batch_id: "b-old".into(),
        description: "deactivate 40 users".into(),
        created: "2026-11-22 10:00:00".into(),
        open: 12,
        total: 40,
    }]));
    snap("resume", &mut app);
}

#[test]
fn lease_held_overlay() {
    let mut app = app_with(30);
    app.update(Msg::LeaseHeld(
        "ann@jump1 (pid 4242, database role ann, `scimitar sync --policy hr`, since 2026-11-22T10:00:00Z) holds the lease of org:acme"
            .into(),
    ));
    snap("lease_held", &mut app);
}

#[test]
fn policies_pane() {
    let mut app = super::panes_tests::policies_app(super::panes_tests::plan(3));
    snap("policies", &mut app);
}

/// Newcomer run, item 2: a plan with no changes does not offer `A apply` (a plan with changes
/// does).
#[test]
fn policies_pane_plan_without_changes_offers_no_apply() {
    let mut app = super::panes_tests::policies_app(provision::policy::plan::Plan::default());
    for (w, h) in SIZES {
        let s = screen(&mut app, w, h);
        assert!(!s.contains("A apply"), "{s}");
    }
    snap("policies_no_changes", &mut app);
    let mut app = super::panes_tests::policies_app(super::panes_tests::plan(3));
    assert!(screen(&mut app, 200, 50).contains("A apply"));
}

/// Newcomer run, item 4: a plan header too long for 80 columns wraps indented under its first
/// line, not from column 0.
#[test]
fn policies_pane_long_header_wraps_indented() {
    use provision::policy::plan::{GroupTarget, MemberChange, MemberRef};
    let mut p = super::panes_tests::plan(3);
    let user = |i: usize| MemberRef::User { id: format!("W0000000{i}"), label: format!("old{i}@example.com") };
    p.member_removes = vec![MemberChange {
        group: GroupTarget::Existing { id: "S002".into() },
        group_name: "ops".into(),
        members: vec![user(1), user(2)],
    }];
    let mut app = super::panes_tests::policies_app(p);
    let s = screen(&mut app, 80, 24);
    let lines: Vec<&str> = s.lines().collect();
    let i = lines.iter().position(|l| l.contains("1 create,")).unwrap_or_else(|| panic!("{s}"));
    assert!(lines[i + 1].contains("to remove"), "the header wraps at 80 columns:\n{s}");
    // Blanks between the plan pane's left border and its text.
    let indent = |l: &str| l.split_once("││").map(|(_, r)| r.chars().take_while(|c| *c == ' ').count());
    assert_eq!(indent(lines[i + 1]), indent(lines[i]), "the wrapped line starts under the first:\n{s}");
    assert_eq!(indent(lines[i]), Some(1), "{s}");
    snap("policies_long_header", &mut app);
}

/// Newcomer run, item 5: the past batches' ids are whole at 200x50 (they were cut).
#[test]
fn past_batches_ids_whole() {
    let mut app = app_with(30);
    key(&mut app, KeyCode::Char('Q'));
    let ids = ["b-20261207-234704-0a1b2c3d", "b-20261207-221500-ffee0011"];
    app.update(Msg::BatchesListed(Ok(vec![
        super::queue_tests::past(ids[0], "policy demo-hr pass 1: create, update, groups", 0),
        super::queue_tests::past(ids[1], "deactivate 3 users", 3),
    ])));
    let s = screen(&mut app, 200, 50);
    for id in ids {
        assert!(s.contains(id), "{id} is whole:\n{s}");
    }
    snap("past_batches", &mut app);
}

#[test]
fn change_detail_overlay() {
    let mut app = super::panes_tests::policies_app(super::panes_tests::plan(3));
    typ(&mut app, "l");
    typ(&mut app, "jj");
    key(&mut app, KeyCode::Enter);
    snap("change_detail", &mut app);
}

#[test]
fn apply_confirm_overlay() {
    let mut app = super::panes_tests::policies_app(super::panes_tests::plan(30));
    key(&mut app, KeyCode::Char('A'));
    typ(&mut app, "3");
    snap("apply_confirm", &mut app);
}

#[test]
fn reports_pane() {
    let mut app = super::panes_tests::fixed_reports_app();
    snap("reports", &mut app);
}

#[test]
fn record_detail_overlay() {
    let mut app = super::panes_tests::fixed_reports_app();
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Enter);
    snap("record_detail", &mut app);
}

#[test]
fn quit_during_a_batch() {
    let mut app = app_with(30);
    super::tests::running_batch(&mut app);
    key(&mut app, KeyCode::Char('q'));
    snap("quit_guard", &mut app);
}

/// Issue 25, defect 14: the new-policy dialog with its name field, after Enter found a policy
/// of the source's name (the whole message, the name field focused).
#[test]
fn new_policy_name_taken() {
    let mut app = super::panes_tests::policies_app(super::panes_tests::plan(3));
    let root = std::path::Path::new("/tmp/scimitar-snapshot-new-policy");
    let _ = std::fs::remove_dir_all(root);
    app.paths = provision::env::Paths::under(root);
    let policies = app.paths.policies_dir();
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(policies.join("hr.csv"), "email\n").unwrap();
    std::fs::write(policies.join("hr.toml"), "").unwrap();
    key(&mut app, KeyCode::Char('n'));
    typ(&mut app, "hr.csv");
    key(&mut app, KeyCode::Enter);
    snap("new_policy_name_taken", &mut app);
    let _ = std::fs::remove_dir_all(root);
}

/// Issue 25, defect 26: below the smallest size the console says the size it needs, whole, at
/// any size (at 9x3 only `scimitar:` showed); at the smallest size the tabs keep every digit
/// and the Reports filters do not collide.
#[test]
fn tiny_terminals_say_the_minimum_size() {
    use super::render::MIN_SIZE;
    let mut app = app_with(30);
    let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    for (w, h, want) in [
        (9, 3, "needs 44x12, is 9x3"),
        (30, 8, "scimitar needs a terminal of at least 44x12; this one is 30x8. Make it larger (or the font smaller)."),
        (43, 24, "scimitar needs a terminal of at least 44x12; this one is 43x24."),
        (80, 11, "this one is 80x11"),
        (5, 2, "min 44x12"),
    ] {
        let s = screen(&mut app, w, h);
        assert!(flat(&s).contains(want), "{w}x{h}:\n{s}");
    }
    assert!(screen(&mut app, 4, 1).trim().is_empty() || screen(&mut app, 4, 1).contains("44"), "no cut word");
    let (w, h) = MIN_SIZE;
    for k in ['1', '2', '3', '4'] {
        key(&mut app, KeyCode::Char(k));
        let s = screen(&mut app, w, h);
        let tabs = s.lines().next().unwrap();
        assert!(["1", "2", "3", "4"].iter().all(|d| tabs.contains(d)), "{tabs}");
        assert!(!s.contains("needs"), "{s}");
    }
    for e in app.log.iter_mut() {
        e.time = "00:00:00".into();
    }
    let s = screen(&mut app, w, h);
    assert!(s.contains("action: · outcome: · profile: ·"), "{s}");
    insta::assert_snapshot!("reports_at_the_smallest_size", s);
    insta::assert_snapshot!("too_small_30x8", screen(&mut app, 30, 8));
}
