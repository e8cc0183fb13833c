//! Every dialog and overlay at 80x24 (and the ones issue 12 saw cut, at 200x50 too) with long
//! content: many targets, long names and emails, long server messages. Each must show its prompt
//! and its keys, whatever the body holds (`render::dialog` pins them to the bottom).

use super::app::App;

use super::msg::{BatchLoad, QueueOp, ResumeOffer};
use super::msg::{Effect, Msg};
use super::tests::{app_with, fixture_groups, make_user, screen};
use super::theme::{Theme, ThemeSet};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use provision::queue::{Action, OpState, QueueEvent};
use scim::{MultiValue, User};

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn typ(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// `n` users with very long names and emails.
fn long_user(i: usize) -> User {
    let mut u = make_user(i);
    u.display_name = Some(format!("Maximiliana Alexandrovna Konstantinopoulou-Featherstonehaugh the {i}th"));
    let email = format!("maximiliana.alexandrovna.konstantinopoulou.{i}@a-very-long-subdomain.example-corporation.com");
    u.emails = Some(vec![MultiValue::email(email, true)]);
    u.title = Some("Principal Distinguished Senior Staff Engineering Manager of Platform Reliability".into());
    u.active = Some(true);
    u
}

fn long_app(n: usize) -> App {
    let mut app = App::new("api.slack.test", "SCIM v2", ThemeSet::builtin(), Theme::default());
    app.update(Msg::Resize(80, 24));
    app.start();
    app.update(Msg::UsersPage { generation: 1, items: (0..n).map(long_user).collect(), total: n as u64 });
    app.update(Msg::UsersDone { generation: 1, error: None });
    app.update(Msg::GroupsLoaded { generation: 1, result: Ok(fixture_groups()) });
    app
}

fn shows_all(s: &str, parts: &[&str], what: &str) {
    for p in parts {
        assert!(s.contains(p), "{what}: {p:?} is not on screen:\n{s}");
    }
}

#[test]
fn the_confirmation_shows_its_prompt_with_many_long_targets() {
    // 40 long targets: above the typed-count threshold.
    let mut app = long_app(40);
    key(&mut app, KeyCode::Char('*'));
    key(&mut app, KeyCode::Char('d'));
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut app, w, h);
        shows_all(
            &s,
            &["Confirm: deactivate 40 users", "Type 40, the number of operations, to confirm", "Enter confirm", "Esc cancel"],
            &format!("{w}x{h}"),
        );
    }
    key(&mut app, KeyCode::Enter);
    shows_all(&screen(&mut app, 80, 24), &["type 40 (the number of operations)", "Esc cancel"], "wrong count");
    // Past the ceiling: the warning says what the console offers, never `--force`.
    let mut app = long_app(40);
    super::tests::set_max_deactivations(&mut app, 2);
    typ(&mut app, "     ");
    key(&mut app, KeyCode::Char('d'));
    let s = screen(&mut app, 80, 24);
    shows_all(
        &s,
        &["WARNING", "ceiling of 2", "type the count below", "Type 5, the number of operations, to confirm", "Enter confirm"],
        "ceiling",
    );
    assert!(!s.contains("--force"), "{s}");
}

#[test]
fn the_group_dialogs_show_their_prompt_with_many_long_members() {
    let mut app = long_app(40);
    key(&mut app, KeyCode::Char('*'));
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('+'));
    let s = screen(&mut app, 80, 24);
    shows_all(&s, &["Confirm: add", "Enter/y confirm", "Esc/n cancel"], "group add");
    key(&mut app, KeyCode::Esc);
    // The name prompt with a very long name.
    key(&mut app, KeyCode::Char('R'));
    typ(&mut app, &"a-very-long-group-name-".repeat(6));
    shows_all(&screen(&mut app, 80, 24), &["Enter next", "Esc cancel"], "prompt");
}

#[test]
fn the_resume_offer_shows_its_question_with_many_long_batches() {
    let mut app = app_with(10);
    let offers = (0..12)
        .map(|i| ResumeOffer {
            batch_id: format!("b-20261201-{i:04}-0123456789abcdef"),
            description: format!("deactivate {} users of the departing Platform Reliability Engineering organisation", 100 + i),
            created: "2026-11-22 10:00:00".into(),
            open: 40,
            total: 140,
        })
        .collect();
    app.update(Msg::Unfinished(offers));
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut app, w, h);
        shows_all(&s, &["Resume unfinished work?", "Resume now?", "Enter/y resume now", "Esc/n/q leave for later"], &format!("{w}x{h}"));
    }
}

#[test]
fn the_apply_confirmation_shows_its_prompt_with_many_deactivations() {
    let mut app = super::panes_tests::policies_app(super::panes_tests::plan(93));
    key(&mut app, KeyCode::Char('A'));
    // The count typed is the number of operations, as in every other confirmation (issue 25).
    let ops = app.top::<super::apply_confirm::ApplyConfirm>().unwrap().terms.operations;
    assert!(ops > 93, "the create and the update too: {ops}");
    let prompt = format!("Type {ops}, the number of operations, and Enter to apply");
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut app, w, h);
        shows_all(&s, &["Apply policy hr?", "93 deactivations", &prompt, "Enter apply", "Esc/n/q cancel"], &format!("{w}x{h}"));
        assert!(!s.contains("--force"), "{s}");
    }
    typ(&mut app, "93");
    assert!(key(&mut app, KeyCode::Enter).is_empty(), "the deactivations' count is not the one asked");
    typ(&mut app, &ops.to_string());
    let fx = key(&mut app, KeyCode::Enter);
    assert!(matches!(fx.as_slice(), [Effect::ApplyPlan { force: true, .. }]), "Enter applies once the count is typed: {fx:?}");
}

#[test]
fn help_wraps_at_80_columns_and_stops_at_its_end() {
    let mut app = app_with(10);
    key(&mut app, KeyCode::Char('?'));
    let s = screen(&mut app, 80, 24);
    // The `/` line is long: it wraps under itself instead of being cut.
    shows_all(&s, &["field:value too", "dept:eng active:true", "Esc q close"], "help");
    key(&mut app, KeyCode::Char('G'));
    let s = screen(&mut app, 80, 24);
    let help = app.top::<super::help::Help>().unwrap();
    let max = help.max_scroll(ratatui::layout::Rect::new(0, 0, 80, 24));
    assert_eq!(help.scroll, max, "G stops at the end");
    // The last section's last key is on screen, and the box is not empty.
    let last = help.sections.iter().rev().find(|(_, k)| !k.is_empty()).unwrap().1.last().unwrap().label.to_string();
    assert!(s.contains(&last), "{last}:\n{s}");
    for _ in 0..5 {
        key(&mut app, KeyCode::Char('j'));
    }
    assert_eq!(app.top::<super::help::Help>().unwrap().scroll, max);
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(app.top::<super::help::Help>().unwrap().scroll, max - 1, "one key back up, not five");
}

#[test]
fn the_detail_views_stop_at_their_end() {
    let mut app = long_app(3);
    key(&mut app, KeyCode::Enter);
    for _ in 0..40 {
        key(&mut app, KeyCode::Char('j'));
    }
    let d = app.top::<super::detail::UserDetail>().unwrap();
    let scrolled = d.scroll;
    let s = screen(&mut app, 80, 24);
    shows_all(&s, &["Esc q close"], "user detail");
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(app.top::<super::detail::UserDetail>().unwrap().scroll, scrolled.saturating_sub(1));
    assert!(scrolled < 40, "it stopped at the end ({scrolled})");
    // A report record.
    let mut app = super::panes_tests::fixed_reports_app();
    screen(&mut app, 80, 24);
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('G'));
    let s = screen(&mut app, 80, 24);
    shows_all(&s, &["Esc q close", "hash"], "record detail at its end");
}

#[test]
fn enter_on_a_queue_row_shows_the_whole_error() {
    let mut app = long_app(3);
    let a = Action::Deactivate { target: app.dir.store.get(0).target() };
    app.update(Msg::BatchLoaded(BatchLoad {
        batch_id: "b-long".into(),
        description: "deactivate 1 user".into(),
        ops: vec![QueueOp::new("op1", 1, &a)],
        rate: None,
    }));
    let long = format!("cannot_disable_primary_owner: {} THE-END", "Slack refused this change because of a long reason. ".repeat(4));
    app.update(Msg::Queue(QueueEvent::OpFinished {
        batch_id: "b-long".into(),
        op_id: "op1".into(),
        seq: 1,
        describe: "deactivate someone".into(),
        state: OpState::Failed,
        message: long,
        retries: 2,
    }));
    key(&mut app, KeyCode::Char('Q'));
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Enter details"), "{s}");
    key(&mut app, KeyCode::Enter);
    let s = screen(&mut app, 80, 24);
    shows_all(&s, &["Operation 1", "cannot_disable_primary_owner", "THE-END", "Esc q close"], "operation detail");
}

#[test]
fn the_record_and_change_details_show_their_keys() {
    let mut app = super::panes_tests::policies_app(super::panes_tests::plan(30));
    typ(&mut app, "ljj");
    key(&mut app, KeyCode::Enter);
    shows_all(&screen(&mut app, 80, 24), &["Esc q close"], "change detail");
}

#[test]
fn a_group_add_names_who_it_affects_and_screens_out_deactivated_users() {
    // Rows 0-3 marked: Ann, Bob, Cleo and Dev (deactivated); Cleo is in `everyone` already.
    let mut app = app_with(30);
    typ(&mut app, "    ");
    assert!(!app.dir.store.get(3).active());
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('+'));
    let s = screen(&mut app, 80, 24);
    shows_all(
        &s,
        &[
            "Confirm: add 2 members to everyone",
            "Ann Lee <ann.lee0@example.com>",
            "Bob Lee",
            "1 left out",
            "Dev Lee",
            "deactivated",
            "Enter/y confirm",
        ],
        "group add",
    );
    let fx = key(&mut app, KeyCode::Enter);
    let [Effect::RunBatch { decision, .. }] = fx.as_slice() else { panic!("{fx:?}") };
    let Action::AddMembers { user_ids, .. } = &decision.runnable()[0] else { panic!() };
    assert_eq!(user_ids, &["W00000000", "W00000001"], "the deactivated user is never sent");
    assert_eq!(app.dir.marks.len(), 4, "the marks stay until the admin clears them");
}

#[test]
fn sort_is_shown_announced_and_goes_to_the_top() {
    let mut app = app_with(300);
    for _ in 0..50 {
        key(&mut app, KeyCode::Char('j'));
    }
    app.run_command_line("sort title");
    let s = screen(&mut app, 80, 24);
    // The sorted column is on screen at 80 columns, the title says so, and the status line too.
    shows_all(&s, &["Title ▲", "sort Title ▲", "sorted by Title"], "sort title");
    let users = app.pane::<super::users::UsersPane>();
    assert_eq!((users.view.selected, users.view.offset), (0, 0), "the view goes to the top");
    key(&mut app, KeyCode::Char('s'));
    shows_all(&screen(&mut app, 80, 24), &["Department ▲", "sorted by Department"], "s");
}

#[test]
fn a_pending_range_shows_and_esc_clearing_marks_says_so() {
    let mut app = app_with(30);
    key(&mut app, KeyCode::Char('V'));
    shows_all(&screen(&mut app, 80, 24), &["range from Ann Lee"], "range");
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('V'));
    assert_eq!(app.dir.marks.len(), 3);
    assert!(!screen(&mut app, 80, 24).contains("range from"));
    key(&mut app, KeyCode::Esc);
    assert!(app.dir.marks.is_empty());
    assert!(app.log.iter().any(|e| e.text == "cleared 3 marks (nothing was changed)"), "Esc says what it did");
    // Esc on a pending range cancels it, and says so.
    key(&mut app, KeyCode::Char('V'));
    key(&mut app, KeyCode::Esc);
    assert!(app.dir.marks.anchor.is_none() && app.log.back().unwrap().text == "range cancelled (Esc)");
}

#[test]
fn slash_takes_field_terms_in_the_users_pane() {
    let mut app = app_with(60);
    key(&mut app, KeyCode::Char('/'));
    typ(&mut app, "dept:sup title:manager active:true");
    let users = app.pane::<super::users::UsersPane>();
    let rows: Vec<_> = users.view.filtered.iter().map(|&i| app.dir.store.get(i)).collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.department() == "Support" && r.title() == "Manager" && r.active()), "only what the terms ask");
    let want = app.dir.store.iter().filter(|r| r.department() == "Support" && r.title() == "Manager" && r.active()).count();
    assert_eq!(rows.len(), want, "and all of it");
    // Backspacing to `dept:sup title:manager active:` widens again (the flag term is incomplete).
    for _ in 0.."true".len() {
        key(&mut app, KeyCode::Backspace);
    }
    let all = app.dir.store.iter().filter(|r| r.department() == "Support" && r.title() == "Manager").count();
    assert_eq!(app.pane::<super::users::UsersPane>().view.filtered.len(), all);
    typ(&mut app, "maybe");
    shows_all(&screen(&mut app, 80, 24), &["active is true or false"], "a bad flag is named");
}

#[test]
fn a_batch_that_creates_or_updates_users_reloads_them() {
    let mut app = app_with(10);
    let a = Action::RenameGroup { id: "S001".into(), from: "eng".into(), to: "engineering".into() };
    let u = Action::Deactivate { target: app.dir.store.get(0).target() };
    let mut create = QueueOp::new("op2", 2, &u);
    // An op on a user whose effect the rows cannot patch (as a create or an update is).
    create.user = None;
    app.update(Msg::BatchLoaded(BatchLoad {
        batch_id: "b-w".into(),
        description: "writes".into(),
        ops: vec![QueueOp::new("op1", 1, &a), create],
        rate: None,
    }));
    for (seq, op) in [(1, "op1"), (2, "op2")] {
        app.update(Msg::Queue(QueueEvent::OpFinished {
            batch_id: "b-w".into(),
            op_id: op.into(),
            seq,
            describe: String::new(),
            state: OpState::Done,
            message: String::new(),
            retries: 0,
        }));
    }
    let fx = app.update(Msg::Queue(QueueEvent::BatchFinished {
        batch_id: "b-w".into(),
        counts: Default::default(),
        elapsed: std::time::Duration::from_millis(10),
        cancelled: false,
    }));
    assert!(fx.iter().any(|e| matches!(e, Effect::LoadGroups { .. })), "{fx:?}");
    assert!(fx.iter().any(|e| matches!(e, Effect::LoadUsers { .. })), "{fx:?}");
}

/// Issue 25, defect 19: indented lines of a confirmation wrap under themselves; a picker's
/// reason stays whole (its label gives way).
#[test]
fn wrapped_dialog_lines_keep_their_indent_and_picker_reasons_stay_whole() {
    let mut app = long_app(3);
    typ(&mut app, "   ");
    key(&mut app, KeyCode::Char('d'));
    let s = screen(&mut app, 80, 24);
    let rows: Vec<&str> = s.lines().collect();
    let i = rows.iter().position(|l| l.contains("│  deactivate")).expect("an operation");
    assert!(rows[i + 1].contains("│    maximiliana"), "the continuation is indented:\n{s}");
    // A picker over users whose names fill the line: the deactivated one's reason is whole.
    let mut users: Vec<User> = (0..4).map(long_user).collect();
    users[1].active = Some(false);
    let mut app = App::new("api.slack.test", "SCIM v2", ThemeSet::builtin(), Theme::default());
    app.update(Msg::Resize(80, 24));
    app.start();
    app.update(Msg::UsersPage { generation: 1, items: users.iter().collect(), total: 4 });
    app.update(Msg::UsersDone { generation: 1, error: None });
    app.update(Msg::GroupsLoaded { generation: 1, result: Ok(fixture_groups()) });
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('+'));
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("(deactivated: Slack refuses)"), "{s}");
}

/// Issue 25, defect 20: the queue view takes the screen's width under 100 columns, so an
/// operation's target is whole at 80.
#[test]
fn the_queue_view_shows_whole_operations_at_80_columns() {
    let mut app = app_with(30);
    super::tests::running_batch(&mut app);
    key(&mut app, KeyCode::Char('Q'));
    let s = screen(&mut app, 80, 24);
    for i in 0..6 {
        let email = app.dir.store.get(i).email().to_string();
        assert!(s.contains(&format!("deactivate {email}")), "{email}:\n{s}");
    }
    let top = s.lines().find(|l| l.contains("Queue: deactivate")).unwrap();
    assert!(top.starts_with("│╭") && top.ends_with("╮│"), "78 columns wide: {top}");
}

/// Issue 25, defect 21: the filter's help names every field `/` knows (`user:` was missing),
/// and the table's header stays where it is when no row matches.
#[test]
fn the_filter_help_names_every_field_and_the_header_stays_put() {
    use super::directory::Field;
    let mut app = app_with(30);
    key(&mut app, KeyCode::Char('?'));
    let help = app.top::<super::help::Help>().unwrap();
    let slash = help.sections.iter().flat_map(|(_, o)| o).find(|o| o.label == "/" && o.help.contains("field:value")).unwrap();
    for (name, field) in Field::NAMES {
        let named = Field::NAMES.iter().filter(|(_, f)| f == field).any(|(n, _)| slash.help.contains(&format!(" {n}")));
        assert!(named, "{name}: {}", slash.help);
    }
    assert!(slash.help.contains("user:"), "{}", slash.help);
    key(&mut app, KeyCode::Esc);
    for marks in [false, true] {
        let mut app = app_with(30);
        if marks {
            key(&mut app, KeyCode::Char(' '));
        }
        let header = |s: &str| s.lines().nth(2).unwrap().to_string();
        let before = header(&screen(&mut app, 80, 24));
        key(&mut app, KeyCode::Char('/'));
        typ(&mut app, "zzzz-nobody");
        let s = screen(&mut app, 80, 24);
        assert!(s.contains("No loaded user matches"), "{s}");
        assert_eq!(header(&s), before, "marks {marks}");
    }
}

/// Issue 25, defect 25: `?` explains the signs the pane draws (the policy list's `•` was
/// explained nowhere).
#[test]
fn help_explains_the_signs_of_the_pane() {
    let mut app = super::panes_tests::policies_app(super::panes_tests::plan(3));
    key(&mut app, KeyCode::Char('?'));
    let help = app.top::<super::help::Help>().unwrap();
    let signs = help.sections.iter().find(|(n, _)| n == "Signs in the Policies pane").expect("a section of signs");
    assert!(signs.1.iter().any(|o| o.label == "•" && o.help.contains("plan is shown")), "{:?}", signs.1);
    // After the keys (the first screen keeps them), reached by scrolling.
    let s = screen(&mut app, 200, 50);
    assert!(!s.contains("Signs in the Policies pane") && s.contains("Everywhere"), "the keys come first:\n{s}");
    let seen = (0..80).any(|_| {
        key(&mut app, KeyCode::Char('j'));
        let s = screen(&mut app, 200, 50);
        s.contains("Signs in the Policies pane") && s.contains("the policy whose plan is shown")
    });
    assert!(seen, "{}", screen(&mut app, 200, 50));
    let mut app = app_with(10);
    key(&mut app, KeyCode::Char('?'));
    let help = app.top::<super::help::Help>().unwrap();
    assert!(help.sections.iter().any(|(n, o)| n == "Signs in the Users pane" && o.iter().any(|o| o.label == "✓")));
}

/// Issue 25, defect 25: `*` marks every row and leaves the cursor where it was (it was reported
/// jumping to the last row), scrolled down or not, at both sizes.
#[test]
fn star_marks_all_and_the_cursor_stays() {
    for (w, h) in [(80, 24), (200, 50)] {
        for down in [3, 40] {
            let mut app = app_with(100);
            screen(&mut app, w, h);
            for _ in 0..down {
                key(&mut app, KeyCode::Char('j'));
            }
            let selected = |s: &str| s.lines().find(|l| l.starts_with("│>")).map(|l| l.split_whitespace().nth(1).unwrap().to_string());
            let before = selected(&screen(&mut app, w, h)).expect("a selected row");
            key(&mut app, KeyCode::Char('*'));
            let s = screen(&mut app, w, h);
            assert!(s.contains("100 marked"), "{s}");
            let after = s.lines().find(|l| l.starts_with("│>")).map(|l| l.split_whitespace().nth(2).unwrap().to_string());
            assert_eq!(after.as_deref(), Some(before.as_str()), "{w}x{h}, {down} down:\n{s}");
        }
    }
}
