//! The user form, the user detail's `+`/`-` and the Groups pane's `D`, on the pure state: what
//! the admin sees and what goes to the gate; snapshots at 80x24 and 200x50.

use super::app::App;

use super::confirm::Confirm;
use super::detail::UserDetail;
use super::msg::{Effect, Msg};
use super::tests::{app_with, screen};
use super::user_form::UserForm;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use provision::policy::config::Attr;
use provision::queue::Action;

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ctrl(app: &mut App, c: char) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)))
}

fn typ(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn form(app: &App) -> &UserForm {
    app.top::<UserForm>().expect("the user form is on top")
}

/// `e` on the selected user. The loaded rows are compact, so unless a detail view fetched the
/// full record already, `e` fetches it first and the form opens when it arrives.
fn edit(app: &mut App) {
    let fx = key(app, KeyCode::Char('e'));
    if let [Effect::FetchDetail { id }] = &fx[..] {
        assert!(app.top::<UserForm>().is_none(), "the form waits for the full record");
        let id = id.clone();
        let i = app.dir.store.index_of(&id).expect("a loaded user") as usize;
        assert!(app.update(Msg::DetailFetched { id, result: Ok(super::tests::make_user(i)) }).is_empty());
    } else {
        assert!(fx.is_empty(), "{fx:?}");
    }
    form(app);
}

/// Move the form's focus to `attr` and empty the field.
fn field(app: &mut App, attr: Attr) {
    while form(app).fields[form(app).focus].attr != attr {
        key(app, KeyCode::Tab);
    }
    if attr != Attr::Manager {
        key(app, KeyCode::End);
        for _ in 0..80 {
            key(app, KeyCode::Backspace);
        }
    }
}

fn snap(name: &str, app: &mut App) {
    for e in app.log.iter_mut() {
        e.time = "00:00:00".into();
    }
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(app, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), s);
    }
}

#[test]
fn editing_a_title_shows_old_and_new_and_queues_one_update_of_only_the_title() {
    let mut app = app_with(30);
    edit(&mut app);
    assert_eq!(form(&app).value(Attr::Title), "Engineer");
    assert_eq!(form(&app).value(Attr::Department), "Engineering");
    field(&mut app, Attr::Title);
    typ(&mut app, "Staff Engineer");
    ctrl(&mut app, 's');
    let review = form(&app).review.as_ref().expect("save shows the changes");
    assert_eq!(review.len(), 1);
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("title") && s.contains("Engineer → Staff Engineer"), "{s}");
    assert!(s.contains("Enter"), "{s}");
    key(&mut app, KeyCode::Enter);
    assert!(app.top::<UserForm>().is_none(), "the form hands over to the gate's confirmation");
    let c = app.top::<Confirm>().expect("the gate's confirmation");
    assert_eq!(c.count(), 1);
    let Action::UpdateUser { target, update } = &c.decision.runnable()[0] else { panic!("{:?}", c.decision) };
    assert_eq!(target.id.as_deref(), Some("W00000000"));
    assert_eq!(update.set.title.as_deref(), Some("Staff Engineer"));
    assert!(update.set.enterprise.is_none() && update.set.user_name.is_none() && update.clear.is_empty(), "{update:?}");
    let fx = key(&mut app, KeyCode::Enter);
    assert!(matches!(&fx[..], [Effect::RunBatch { decision, .. }] if decision.runnable().len() == 1), "{fx:?}");
}

#[test]
fn save_refuses_what_slack_would_refuse_naming_the_field_and_nothing_changed_sends_nothing() {
    let mut app = app_with(30);
    key(&mut app, KeyCode::Char('n'));
    // Required fields are empty.
    ctrl(&mut app, 's');
    assert!(form(&app).review.is_none());
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("userName: userName is required"), "{s}");
    field(&mut app, Attr::UserName);
    typ(&mut app, "new🎉hire");
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("Slack refuses it") && s.contains("invalid_emoji_not_allowed"), "{s}");
    field(&mut app, Attr::UserName);
    typ(&mut app, "New Hire");
    assert!(screen(&mut app, 200, 50).contains("Slack stores it as new_hire"));
    field(&mut app, Attr::Email);
    typ(&mut app, "not an email");
    assert!(screen(&mut app, 200, 50).contains("not an email address"));
    field(&mut app, Attr::Email);
    // Someone loaded has this one.
    typ(&mut app, "bob.lee1@example.com");
    ctrl(&mut app, 's');
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("email: Bob Lee already has this email (W00000001)"), "{s}");
    assert!(form(&app).review.is_none());

    // Editing with nothing changed: nothing to send.
    key(&mut app, KeyCode::Esc);
    edit(&mut app);
    ctrl(&mut app, 's');
    assert!(form(&app).review.is_none());
    assert!(screen(&mut app, 80, 24).contains("nothing changed"));
}

#[test]
fn a_new_user_is_one_create_with_the_manager_picked_by_search() {
    let mut app = app_with(30);
    key(&mut app, KeyCode::Char('n'));
    field(&mut app, Attr::GivenName);
    typ(&mut app, "Nia");
    field(&mut app, Attr::FamilyName);
    typ(&mut app, "Park");
    field(&mut app, Attr::UserName);
    typ(&mut app, "nia.park");
    field(&mut app, Attr::Email);
    typ(&mut app, "nia.park@example.com");
    field(&mut app, Attr::Title);
    typ(&mut app, "Analyst");
    field(&mut app, Attr::Manager);
    // Typing on the manager field searches the loaded users.
    typ(&mut app, "cleo");
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Manager: pick a loaded user") && s.contains("Cleo Lee"), "{s}");
    key(&mut app, KeyCode::Enter);
    assert_eq!(form(&app).manager.as_deref(), Some("W00000002"));
    assert!(form(&app).value(Attr::Manager).starts_with("Cleo Lee <"));
    ctrl(&mut app, 's');
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("(empty) → Analyst") && s.contains("(empty) → Cleo Lee"), "{s}");
    key(&mut app, KeyCode::Enter);
    let c = app.top::<Confirm>().expect("the gate's confirmation");
    let Action::CreateUser { user, .. } = &c.decision.runnable()[0] else { panic!() };
    assert_eq!(user.display_name.as_deref(), Some("Nia Park"));
    assert_eq!(user.manager_id(), Some("W00000002"));
    assert_eq!(user.title.as_deref(), Some("Analyst"));
    assert!(user.enterprise.as_ref().unwrap().department.is_none(), "empty fields are not sent");
}

#[test]
fn the_user_detail_adds_to_and_removes_from_a_picked_group() {
    let mut app = app_with(30);
    key(&mut app, KeyCode::Enter); // W00000000: in eng (S000)
    assert!(app.top::<UserDetail>().is_some());
    key(&mut app, KeyCode::Char('+'));
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Add Ann Lee to a group") && s.contains("sales") && s.contains("everyone"), "{s}");
    typ(&mut app, "every");
    key(&mut app, KeyCode::Enter);
    let c = app.top::<Confirm>().expect("a confirmation");
    assert_eq!(c.what, "add Ann Lee to everyone");
    assert!(
        matches!(&c.decision.runnable()[0], Action::AddMembers { group_id, user_ids, .. } if group_id == "S002" && user_ids == &["W00000000"])
    );
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('-'));
    assert!(screen(&mut app, 80, 24).contains("Remove Ann Lee from a group"));
    key(&mut app, KeyCode::Enter);
    let c = app.top::<Confirm>().expect("a confirmation");
    assert_eq!(c.what, "remove Ann Lee from eng");
}

#[test]
fn a_deactivated_user_is_not_offered_a_group_slack_would_refuse() {
    let mut app = app_with(30);
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('j')); // W00000003: deactivated
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('+'));
    assert!(app.top::<UserDetail>().is_some() && app.top::<Confirm>().is_none());
    let last = app.log.back().unwrap().text.clone();
    assert!(last.contains("is deactivated: Slack refuses to add a deactivated user to a group"), "{last}");
}

#[test]
fn group_delete_names_the_group_and_its_member_count() {
    let mut app = app_with(30);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('D'));
    let c = app.top::<Confirm>().expect("a confirmation");
    assert_eq!(c.what, "delete group eng (6 members)");
    assert!(matches!(&c.decision.runnable()[0], Action::DeleteGroup { id, .. } if id == "S000"));
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("delete group eng (6 members)") && s.contains("Esc"), "{s}");
}

#[test]
fn snapshots_of_the_form_the_review_and_the_pickers() {
    let mut app = app_with(30);
    edit(&mut app);
    field(&mut app, Attr::Title);
    typ(&mut app, "Staff Engineer");
    snap("user_form_edit", &mut app);
    ctrl(&mut app, 's');
    snap("user_form_review", &mut app);
    key(&mut app, KeyCode::Esc);
    field(&mut app, Attr::Manager);
    key(&mut app, KeyCode::Enter);
    snap("user_form_manager_picker", &mut app);
    let mut app = app_with(30);
    super::tests::open_detail(&mut app, 0);
    key(&mut app, KeyCode::Char('+'));
    snap("user_detail_group_picker", &mut app);
}

/// Issue 25, defect 10: an invalid field keeps its focus marker, its message wraps instead of
/// being cut at 80 columns, the picked manager shows from its start, and under NO_COLOR no blank
/// is underlined.
#[test]
fn an_invalid_field_keeps_its_focus_its_whole_message_and_the_manager_shows_from_its_start() {
    let mut app = app_with(30);
    edit(&mut app);
    field(&mut app, Attr::UserName);
    typ(&mut app, "abcdefghijklmnopqrstuv"); // 22 characters
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut app, w, h);
        let line = s.lines().find(|l| l.contains("│›")).expect("the focused field");
        assert!(line.contains("›!"), "the focus and the problem both marked: {line}");
        assert!(s.contains("it is 22 characters long") && s.contains("Slack's 21"), "the whole message at {w}x{h}:\n{s}");
    }
    snap("user_form_invalid", &mut app);
    // The manager picked: the name first, whatever the field's width.
    field(&mut app, Attr::UserName);
    typ(&mut app, "ann.lee0");
    field(&mut app, Attr::Manager);
    key(&mut app, KeyCode::Enter);
    typ(&mut app, "Bob Lee");
    key(&mut app, KeyCode::Enter);
    assert_eq!(form(&app).manager.as_deref(), Some("W00000001"));
    for (w, h) in [(60, 20), (80, 24)] {
        let s = screen(&mut app, w, h);
        let line = s.lines().find(|l| l.contains("manager ")).expect("the manager field");
        assert!(line.contains("Bob Lee <bob.lee1@"), "{line}");
    }
    // NO_COLOR: the header style underlines; the labels' padding is not underlined.
    app.theme = super::theme::Theme::monochrome();
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    t.draw(|f| super::render::render(&app, f)).unwrap();
    let buf = t.backend().buffer();
    let r = super::picker::compact_area(ratatui::layout::Rect::new(0, 0, 80, 24), 96, 29);
    for y in r.y + 1..r.bottom() - 1 {
        for x in r.x + 1..r.right() - 1 {
            // (A blank between two words of a label is part of it.)
            let ul = |x: u16| buf[(x, y)].modifier.contains(ratatui::style::Modifier::UNDERLINED);
            let blank = |x: u16| buf[(x, y)].symbol() == " ";
            let gap = !blank(x - 1) && !blank(x + 1) && ul(x - 1) && ul(x + 1);
            assert!(!(blank(x) && ul(x) && !gap), "an underlined blank at {x},{y}");
        }
    }
}

/// Issue 25, defect 27: Slack's rules as they are typed: a displayName with `@`, a timezone
/// that is no IANA name, a userType Slack does not take.
#[test]
fn the_form_checks_display_name_timezone_and_user_type_as_typed() {
    let mut app = app_with(30);
    edit(&mut app);
    for (attr, typed, says) in [
        (Attr::DisplayName, "zed@tester", "invalid_name_specials"),
        (Attr::Timezone, "Mars/Base", "not an IANA time zone"),
        (Attr::UserType, "wizard", "not a userType Slack takes"),
    ] {
        field(&mut app, attr);
        typ(&mut app, typed);
        let s = screen(&mut app, 80, 24);
        assert!(s.contains(says), "{attr:?}:\n{s}");
        ctrl(&mut app, 's');
        assert!(form(&app).review.is_none(), "{attr:?}: save refused");
        assert!(form(&app).error.as_deref().unwrap_or("").contains(says), "{:?}", form(&app).error);
        field(&mut app, attr);
    }
    // Valid ones are sent as Slack spells them.
    field(&mut app, Attr::Timezone);
    typ(&mut app, "europe/paris");
    assert!(screen(&mut app, 80, 24).contains("sent as Europe/Paris"));
    field(&mut app, Attr::UserType);
    typ(&mut app, "contractor");
    ctrl(&mut app, 's');
    let review = form(&app).review.as_ref().expect("saved");
    let tz = review.iter().find(|c| c.attr == Attr::Timezone).unwrap();
    let ut = review.iter().find(|c| c.attr == Attr::UserType).unwrap();
    assert_eq!((tz.new.as_deref(), ut.new.as_deref()), (Some("Europe/Paris"), Some("Contractor")));
}

/// Issue 25, defect 3: an email changed only in case is not sent (Slack does not tell emails
/// apart by case), and the form says so instead of dropping it from the review silently.
#[test]
fn an_email_changed_only_in_case_is_said_not_to_be_sent() {
    let mut app = app_with(30);
    edit(&mut app);
    field(&mut app, Attr::Email);
    typ(&mut app, "Ann.Lee0@Example.com");
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("only the case differs from ann.lee0@example.com"), "{s}");
    ctrl(&mut app, 's');
    assert!(form(&app).review.is_none());
    assert!(form(&app).error.as_deref().unwrap().contains("email differs only in case"), "{:?}", form(&app).error);
    // With another change, the review lists the email as not sent.
    field(&mut app, Attr::Title);
    typ(&mut app, "Lead");
    ctrl(&mut app, 's');
    assert_eq!(form(&app).review.as_ref().unwrap().len(), 1);
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("only the case differs: not sent"), "{s}");
}

#[test]
fn the_members_list_filters_sorts_shows_active_and_removes_the_marked_members() {
    use super::members::{Members, Sort};
    let mut app = app_with(30);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Enter); // eng: W0, W3 (deactivated), W6, W9, W12, one not loaded
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Active") && s.contains("(not loaded)"), "{s}");
    let dev = s.lines().find(|l| l.contains("Dev Lee")).expect("W3 listed");
    assert!(dev.contains(" no "), "{dev}");
    // s: by name, then email, then active (deactivated first).
    key(&mut app, KeyCode::Char('s'));
    key(&mut app, KeyCode::Char('s'));
    key(&mut app, KeyCode::Char('s'));
    let m = app.top::<Members>().unwrap();
    assert_eq!(m.sort, Sort::Active);
    assert_eq!(m.shown(&app.dir)[0], "W00000003");
    assert!(screen(&mut app, 80, 24).contains("by active"));
    // /: by name, email or id.
    key(&mut app, KeyCode::Char('/'));
    typ(&mut app, "okafor");
    key(&mut app, KeyCode::Enter);
    let m = app.top::<Members>().unwrap();
    assert_eq!(m.shown(&app.dir), ["W00000009", "W00000012"]);
    assert!(screen(&mut app, 80, 24).contains("/okafor"));
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char('-'));
    let c = app.top::<Confirm>().expect("a confirmation");
    assert_eq!(c.what, "remove 2 members from eng");
    assert!(matches!(&c.decision.runnable()[0], Action::RemoveMembers { user_ids, .. } if user_ids == &["W00000009", "W00000012"]));
}

#[test]
fn the_member_picker_marks_several_comes_with_the_users_marks_and_names_who_slack_refuses() {
    use super::members::Members;
    let mut app = app_with(30);
    // Mark W1 and W10 (deactivated) in the Users pane.
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char(' '));
    for _ in 0..8 {
        key(&mut app, KeyCode::Char('j'));
    }
    key(&mut app, KeyCode::Char(' '));
    assert_eq!(app.dir.marks.len(), 2);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Enter);
    assert!(app.top::<Members>().is_some());
    key(&mut app, KeyCode::Char('+'));
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Add to eng") && s.contains("1 marked"), "{s}");
    assert!(s.contains("not offered: Ann Okafor") || s.contains("not offered: "), "{s}");
    // Search and mark one more; a deactivated one cannot be marked.
    typ(&mut app, "finn lee");
    key(&mut app, KeyCode::Tab);
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("2 marked"), "{s}");
    key(&mut app, KeyCode::Enter);
    let c = app.top::<Confirm>().expect("a confirmation");
    assert_eq!(c.what, "add 2 members to eng");
    assert!(matches!(&c.decision.runnable()[0], Action::AddMembers { user_ids, .. } if user_ids == &["W00000001", "W00000005"]));
}

#[test]
fn snapshots_of_the_members_list_and_its_picker() {
    let mut app = app_with(30);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char(' '));
    snap("members_marked", &mut app);
    key(&mut app, KeyCode::Char('+'));
    snap("members_picker", &mut app);
}

/// Issue 25, defect 11: the members list's remove and add confirmations name the members, and
/// the list's marks are still there after a cancel.
#[test]
fn member_confirmations_name_the_members_and_a_cancel_keeps_the_marks() {
    use super::members::Members;
    let mut app = app_with(30);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Enter); // eng: W0, W3, W6, ...
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char('-'));
    assert!(app.top::<Confirm>().is_some());
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut app, w, h);
        assert!(
            s.contains("2 users:") && s.contains("Ann Lee <ann.lee0@example.com>") && s.contains("Dev Lee <dev.lee3@example.com>"),
            "{s}"
        );
    }
    snap("members_remove_confirm", &mut app);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.top::<Members>().expect("the list").marks.len(), 2, "a cancel keeps the marks");
    // The picker's add names them too.
    key(&mut app, KeyCode::Char('+'));
    typ(&mut app, "bob lee");
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Enter);
    let s = screen(&mut app, 80, 24);
    assert!(app.top::<Confirm>().is_some() && s.contains("1 user:") && s.contains("Bob Lee <bob.lee1@example.com>"), "{s}");
}

#[test]
fn policies_e_edits_the_selected_policy_and_plans_it_again_on_return() {
    use super::panes_tests::{plan, policies_app};
    use std::path::PathBuf;
    let mut app = policies_app(plan(3));
    key(&mut app, KeyCode::Char('j')); // contractors
    let fx = key(&mut app, KeyCode::Char('e'));
    assert_eq!(fx, [Effect::EditFile { path: PathBuf::from("/p/contractors.toml") }]);
    let fx = app.update(Msg::Edited { path: PathBuf::from("/p/contractors.toml"), result: Ok(()) });
    assert_eq!(fx, [Effect::ListPolicies]);
    let list = vec![("hr".to_string(), PathBuf::from("/p/hr.toml")), ("contractors".to_string(), PathBuf::from("/p/contractors.toml"))];
    let fx = app.update(Msg::PoliciesListed(list));
    assert!(matches!(&fx[..], [Effect::ComputePlan { name, .. }] if name == "contractors"), "the edited policy is planned again: {fx:?}");
    // An editor that failed is said so.
    app.update(Msg::Edited { path: PathBuf::from("/p/hr.toml"), result: Err("vi exited with 1".into()) });
    assert!(app.log.iter().any(|e| e.text.contains("editing /p/hr.toml: vi exited with 1")));
}

#[test]
fn policies_n_writes_a_policy_for_the_source_typed_and_opens_it_in_the_editor() {
    use super::panes_tests::{plan, policies_app};
    use super::policy_new::NewPolicy;
    let dir = tempfile::tempdir().unwrap();
    let mut app = policies_app(plan(3));
    app.paths = provision::env::Paths::under(dir.path());
    let policies = app.paths.policies_dir();
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(policies.join("people.csv"), "email,first_name,last_name,title\n").unwrap();
    key(&mut app, KeyCode::Char('n'));
    assert!(app.top::<NewPolicy>().is_some());
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("New policy for a source file") && s.contains("Enter write and edit"), "{s}");
    typ(&mut app, "nope.csv");
    key(&mut app, KeyCode::Enter);
    assert!(screen(&mut app, 200, 50).contains("nope.csv: no such file"));
    for _ in 0..8 {
        key(&mut app, KeyCode::Backspace);
    }
    typ(&mut app, "people.csv");
    let fx = key(&mut app, KeyCode::Enter);
    assert_eq!(fx, [Effect::EditFile { path: policies.join("people.toml") }]);
    assert!(app.top::<NewPolicy>().is_none());
    let text = std::fs::read_to_string(policies.join("people.toml")).unwrap();
    assert!(text.contains("\"name.givenName\" = \"first_name\"") && text.contains("path = \"people.csv\""), "{text}");
    // Issue 25, defect 14: a second source of that name: the message is whole at 80x24, the
    // name field has the keys, and the name typed is the policy's.
    std::fs::create_dir_all(policies.join("2027")).unwrap();
    std::fs::write(policies.join("2027/people.csv"), "email\n").unwrap();
    key(&mut app, KeyCode::Char('n'));
    typ(&mut app, "2027/people.csv");
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("name:   empty: people") && s.contains("Tab source/name"), "{s}");
    key(&mut app, KeyCode::Enter);
    let s = screen(&mut app, 80, 24);
    let flat: String = s.lines().map(|l| l.trim_matches(|c: char| c == '│' || c == ' ')).collect::<Vec<_>>().join(" ");
    assert!(flat.contains("give this one another name, or edit that one (e)"), "{s}");
    assert!(app.top::<NewPolicy>().unwrap().on_name);
    typ(&mut app, "people-2027");
    assert_eq!(key(&mut app, KeyCode::Enter), [Effect::EditFile { path: policies.join("people-2027.toml") }]);
    let text = std::fs::read_to_string(policies.join("people-2027.toml")).unwrap();
    assert!(text.contains("path = \"2027/people.csv\"  # relative to this file's directory"), "{text}");
}

#[test]
fn on_a_short_terminal_the_fields_scroll_and_the_keys_stay() {
    let mut app = app_with(30);
    edit(&mut app);
    let s = screen(&mut app, 80, 16);
    assert!(s.contains("given name") && !s.contains("manager") && s.contains("↓ more") && s.contains("C-s save"), "{s}");
    field(&mut app, Attr::Manager);
    let s = screen(&mut app, 80, 16);
    assert!(s.contains("manager") && !s.contains("given name") && s.contains("C-s save"), "{s}");
}

#[test]
fn read_only_refuses_the_form_the_pickers_and_group_delete_before_anything_is_typed() {
    use super::members::Members;
    let mut app = app_with(30);
    app.queue.safety = provision::queue::Safety::default().with_read_only(true);
    for k in ['n', 'e'] {
        key(&mut app, KeyCode::Char(k));
        assert!(app.overlays.is_empty(), "{k}");
        assert!(app.log.back().unwrap().text.contains("read-only"), "{k}: {}", app.log.back().unwrap().text);
    }
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('+'));
    assert_eq!(app.overlays.len(), 1, "no group picker over the detail");
    assert!(!screen(&mut app, 80, 24).contains("Add Ann Lee to a group"));
    assert!(app.log.back().unwrap().text.contains("read-only"));
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('D'));
    assert!(app.top::<Confirm>().is_none() && app.log.back().unwrap().text.contains("read-only"));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('+'));
    assert!(app.top::<Members>().is_some());
    assert!(!screen(&mut app, 80, 24).contains("Add to eng"));
}

/// Issue 25: under `--read-only` no hint bar offers a key that writes (it would only refuse);
/// `?` still lists them, saying they are refused.
#[test]
fn read_only_hint_bars_offer_no_key_that_writes_and_help_says_why() {
    // (pane keys, the writes that must not be offered, what stays)
    let cases: [(&str, &[&str], &[&str]); 4] = [
        ("", &["d deactivate", "a reactivate", "e edit", "n new"], &["Space mark", "/ filter", "y copy"]),
        ("\n", &["e edit", "+ to group", "- from group"], &["y copy email", "Esc q close"]),
        ("2", &["+ add", "- remove", "R rename", "n new", "D delete"], &["Enter members", "/ filter"]),
        ("2\n", &["- remove", "+ add"], &["Enter jump", "/ filter"]),
    ];
    for (keys, writes, stays) in cases {
        let (mut ro, mut w) = (app_with(30), app_with(30));
        ro.queue.safety = provision::queue::Safety::default().with_read_only(true);
        for a in [&mut ro, &mut w] {
            key(a, KeyCode::Char(' '));
            key(a, KeyCode::Char('k'));
            for c in keys.chars() {
                key(a, if c == '\n' { KeyCode::Enter } else { KeyCode::Char(c) });
            }
        }
        for (wd, h) in [(80, 24), (200, 50)] {
            let (s, sw) = (screen(&mut ro, wd, h), screen(&mut w, wd, h));
            for k in writes {
                assert!(!s.contains(k), "read-only offers {k:?} ({keys:?} {wd}x{h}):\n{s}");
                assert!(sw.contains(k), "{k:?} is offered when writes are allowed ({keys:?} {wd}x{h}):\n{sw}");
            }
            for k in stays {
                assert!(s.contains(k), "{k:?} ({keys:?}):\n{s}");
            }
        }
        // `?` lists the writes, saying they are refused.
        key(&mut ro, KeyCode::Char('?'));
        let help = ro.top::<super::help::Help>().expect("help");
        let refused: Vec<&str> = help.sections[..2]
            .iter()
            .flat_map(|(_, o)| o)
            .filter(|o| o.help.ends_with("(refused: read-only)"))
            .map(|o| o.label.as_ref())
            .collect();
        assert!(
            !refused.is_empty()
                && help.sections[..2].iter().flat_map(|(_, o)| o).filter(|o| o.help.contains("refused: read-only")).all(|o| !o.now),
            "{keys:?}: {refused:?}"
        );
    }
}

// ---------- Slack's whole profile (issue 24) ----------

/// An app whose users 4, 14, 24, ... are multi-channel guests with these expiries (`None`: none).
fn app_with_guests(n: usize, expiry: impl Fn(usize) -> Option<String>) -> App {
    use super::theme::{Theme, ThemeSet};
    let mut app = App::new("api.slack.test", "SCIM v2", ThemeSet::builtin(), Theme::default());
    app.update(Msg::Resize(200, 50));
    app.start();
    let users: Vec<scim::User> = (0..n)
        .map(|i| {
            let mut u = super::tests::make_user(i);
            if i % 10 == 4 {
                u.active = Some(true);
                u.guest = Some(scim::types::GuestExt { kind: Some("multi".into()), expiration: expiry(i) });
            }
            u
        })
        .collect();
    app.update(Msg::UsersPage { generation: 1, items: users.iter().collect(), total: n as u64 });
    app.update(Msg::UsersDone { generation: 1, error: None });
    app.update(Msg::GroupsLoaded { generation: 1, result: Ok(super::tests::fixture_groups()) });
    app
}

fn in_days(days: i64) -> String {
    scim::rules::utc_day(provision::queue::edit::now_unix() + days * 86_400)
}

#[test]
fn the_profile_fields_are_in_the_form_and_go_as_one_update() {
    let mut app = app_with(30);
    edit(&mut app);
    for (attr, v) in [
        (Attr::SecondaryEmail, "ann@home.example"),
        (Attr::StartDate, "2027-01-04"),
        (Attr::Photo, "https://photos.example.com/a.png"),
        (Attr::Guest, "multi"),
        (Attr::GuestExpiration, "2099-06-30"),
        (Attr::Locality, "Oslo"),
    ] {
        field(&mut app, attr);
        typ(&mut app, v);
    }
    field(&mut app, Attr::GuestExpiration);
    typ(&mut app, "2099-06-30");
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("guestExpiration") && s.contains("2099-06-30") && s.contains("sent as 2099-06-30T23:59:59Z"), "{s}");
    snap("user_form_profile", &mut app);
    ctrl(&mut app, 's');
    let review = form(&app).review.clone().expect("the changes");
    let names: Vec<&str> = review.iter().map(|c| c.attr.short()).collect();
    assert_eq!(names, ["secondaryEmail", "startDate", "photo", "guest", "guestExpiration", "locality"]);
    snap("user_form_profile_review", &mut app);
    key(&mut app, KeyCode::Enter);
    let c = app.top::<Confirm>().expect("the gate's confirmation");
    let Action::UpdateUser { update, .. } = &c.decision.runnable()[0] else { panic!("{:?}", c.decision) };
    let u = &update.set;
    assert_eq!(u.start_date(), Some("2027-01-04T00:00:00+0000"));
    assert_eq!(u.photo(), Some("https://photos.example.com/a.png"));
    assert_eq!((u.is_guest(), u.guest_expiration()), (true, Some("2099-06-30T23:59:59Z")));
    assert_eq!(u.address().and_then(|a| a.locality.as_deref()), Some("Oslo"));
    assert!(u.emails.iter().flatten().any(|e| e.value.as_deref() == Some("ann@home.example") && e.primary == Some(false)));
}

#[test]
fn the_form_refuses_what_slack_refuses_in_the_profile_before_anything_is_sent() {
    let mut app = app_with(30);
    // An admin's full record.
    let fx = key(&mut app, KeyCode::Char('e'));
    let [Effect::FetchDetail { id }] = &fx[..] else { panic!("{fx:?}") };
    let mut admin = super::tests::make_user(0);
    admin.roles = Some(vec![scim::types::Role::Text("admin".into())]);
    app.update(Msg::DetailFetched { id: id.clone(), result: Ok(admin) });
    for (attr, v, why) in [
        (Attr::Guest, "multi", "cannot_make_user_guest"),
        (Attr::StartDate, "04/01/2027", "ISO-8601"),
        (Attr::Photo, "http://intranet/a.png", "https://"),
    ] {
        field(&mut app, attr);
        typ(&mut app, v);
        ctrl(&mut app, 's');
        assert!(form(&app).review.is_none(), "{v}: nothing to confirm");
        let s = screen(&mut app, 80, 24);
        assert!(s.contains(why), "{v}: the reason is on screen\n{s}");
        field(&mut app, attr);
    }
    field(&mut app, Attr::GuestExpiration);
    typ(&mut app, "2099-01-01");
    ctrl(&mut app, 's');
    assert!(form(&app).error.as_deref().is_some_and(|e| e.contains("set guest to multi")), "{:?}", form(&app).error);
}

#[test]
fn guest_filters_list_guests_by_expiry_and_soon_shows_those_expiring_within_30_days() {
    let expiry = |i: usize| match i {
        4 => Some(in_days(5)),
        14 => Some("2099-01-01".into()),
        24 => None,
        34 => Some(in_days(20)),
        44 => Some("2001-01-01T23:59:59Z".into()),
        _ => Some(in_days(90)),
    };
    let mut app = app_with_guests(60, expiry);
    key(&mut app, KeyCode::Char('/'));
    typ(&mut app, "guest:true");
    let v = &super::tests::users(&app).view;
    let ids: Vec<&str> = v.filtered.iter().map(|&i| app.dir.store.get(i).id()).collect();
    assert_eq!(ids, ["W00000044", "W00000004", "W00000034", "W00000054", "W00000014", "W00000024"], "by expiry, none last");
    assert_eq!(v.sort, Some(super::directory::Column::Expires));
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Expires") && s.contains("expired") && s.contains("soon") && s.contains("no expiry"), "{s}");
    for _ in 0..4 {
        key(&mut app, KeyCode::Backspace);
    }
    typ(&mut app, "soon");
    let v = &super::tests::users(&app).view;
    let ids: Vec<&str> = v.filtered.iter().map(|&i| app.dir.store.get(i).id()).collect();
    assert_eq!(ids, ["W00000044", "W00000004", "W00000034"], "expired and within 30 days");
    // The filter gone, the sort it set goes with it.
    key(&mut app, KeyCode::Esc);
    assert_eq!(super::tests::users(&app).view.sort, None);
}

#[test]
fn snapshot_of_the_guests_by_expiry() {
    // Dates that stay where they are (expired, far off, none), so the picture does not age.
    let expiry = |i: usize| match i % 30 {
        4 => Some("2001-03-31T23:59:59Z".into()),
        14 => Some("2099-01-01".into()),
        _ => None,
    };
    let mut app = app_with_guests(60, expiry);
    key(&mut app, KeyCode::Char('/'));
    typ(&mut app, "guest:true");
    key(&mut app, KeyCode::Enter);
    snap("users_guests_by_expiry", &mut app);
}

#[test]
fn newcomer_1_a_policy_made_with_n_in_the_demo_is_written_to_the_demos_dir_not_the_real_config() {
    use super::panes_tests::{plan, policies_app};
    let config = tempfile::tempdir().unwrap();
    let demo = tempfile::tempdir().unwrap();
    let mut app = policies_app(plan(3));
    // The demo's paths: the real config folder, the demo's own private data dir.
    let real = provision::env::Paths {
        config_dir: config.path().to_path_buf(),
        config_file: config.path().join("config.toml"),
        data_dir: demo.path().to_path_buf(),
        exports: None,
        policies: None,
    };
    app.paths = super::demo_paths(real);
    std::fs::write(demo.path().join("people.csv"), "email,first_name,last_name\n").unwrap();
    key(&mut app, KeyCode::Char('n'));
    typ(&mut app, "people.csv");
    let fx = key(&mut app, KeyCode::Enter);
    let written = demo.path().join("policies/people.toml");
    assert_eq!(fx, [Effect::EditFile { path: written.clone() }]);
    assert!(written.is_file());
    assert!(!config.path().join("policies").exists(), "the demo wrote into the real config folder");
    assert_eq!(std::fs::read_dir(config.path()).unwrap().count(), 0, "the demo wrote into the real config folder");
}
