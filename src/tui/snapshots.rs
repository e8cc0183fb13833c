//! `insta` snapshots of every pane and overlay, drawn with ratatui's TestBackend at 80x24 and
//! 200x50 (the buffer as text, one line per row). They show what a string assert cannot: the
//! layout, which columns collapse, where the hint bar is cut, that a dialog's prompt is on screen.
//!
//! The `.snap` files are committed (`src/tui/snapshots/`). A changed or missing snapshot fails
//! the test (CI runs with `INSTA_UPDATE=no`); after a deliberate change, review the diff the
//! failure prints and accept it with `INSTA_UPDATE=always cargo test --lib tui::snapshots` (or
//! `cargo insta review` where cargo-insta is installed).
//!
//! Everything on screen is fixed: Log times are set to 00:00:00, report records have fixed
//! dates and the chart a fixed span.

use super::app::{App, Msg};
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
    super::queue_tests::running_batch(&mut app);
    key(&mut app, KeyCode::Char('Q'));
    snap("queue", &mut app);
}

#[test]
fn resume_overlay() {
    let mut app = app_with(30);
    app.update(Msg::Unfinished(vec![super::queue::ResumeOffer {
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
