//! Key handling on the pure state, and rendering with ratatui's TestBackend at 80x24, 200x50 and
//! a tiny 20x5, for every pane and overlay.

use super::app::{App, InputMode};

use super::detail::UserDetail;
use super::groups::GroupsPane;
use super::help::Help;
use super::members::Members;
use super::msg::{BatchLoad, Effect, Level, LogEntry, Msg, QueueOp};
use super::policies::PoliciesPane;
use super::render::render;
use super::reports::ReportsPane;
use super::theme::{Theme, ThemeSet};
use super::users::UsersPane;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use provision::queue::{Action, OpState, QueueEvent};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use scim::types::{EnterpriseUser, GroupRef, Manager};
use scim::{Group, Member, MultiValue, Name, User};

const FIRST: [&str; 8] = ["Ann", "Bob", "Cleo", "Dev", "Eve", "Finn", "Gus", "Hana"];
const LAST: [&str; 6] = ["Lee", "Okafor", "Smith", "Tanaka", "Nguyen", "Berg"];

pub fn make_user(i: usize) -> User {
    let first = FIRST[i % FIRST.len()];
    let last = LAST[(i / FIRST.len()) % LAST.len()];
    let handle = format!("{}.{}{}", first.to_lowercase(), last.to_lowercase(), i);
    User {
        id: Some(format!("W{:08}", i)),
        user_name: Some(handle.clone()),
        display_name: Some(format!("{first} {last}")),
        name: Some(Name { given_name: Some(first.into()), family_name: Some(last.into()), ..Default::default() }),
        title: Some(["Engineer", "Designer", "Manager"][i % 3].into()),
        emails: Some(vec![MultiValue::email(format!("{handle}@example.com"), true)]),
        active: Some(i % 7 != 3),
        enterprise: Some(EnterpriseUser {
            department: Some(["Engineering", "Sales", "Support"][i % 3].into()),
            employee_number: Some(format!("E{i}")),
            manager: (i > 0).then(|| Manager { manager_id: Some("W00000000".into()), ..Default::default() }),
            ..Default::default()
        }),
        groups: (i == 1).then(|| vec![GroupRef { value: Some("S001".into()), display: Some("eng".into()) }]),
        ..Default::default()
    }
}

pub fn fixture_groups() -> Vec<Group> {
    (0..3)
        .map(|g| Group {
            id: Some(format!("S00{g}")),
            display_name: Some(["eng", "sales", "everyone"][g].into()),
            members: Some((0..5).map(|i| Member::id(format!("W{:08}", i * 3 + g))).chain([Member::id("W99999999")]).collect()),
            ..Default::default()
        })
        .collect()
}

pub fn app_with(n: usize) -> App {
    let mut app = App::new("api.slack.test", "SCIM v2", ThemeSet::builtin(), Theme::default());
    app.update(Msg::Resize(200, 50));
    let fx = app.start();
    assert!(matches!(fx[0], Effect::LoadUsers { .. }));
    let users: Vec<User> = (0..n).map(make_user).collect();
    for chunk in users.chunks(1000) {
        app.update(Msg::UsersPage { generation: 1, items: chunk.iter().collect(), total: n as u64 });
    }
    app.update(Msg::UsersDone { generation: 1, error: None });
    app.update(Msg::GroupsLoaded { generation: 1, result: Ok(fixture_groups()) });
    app
}

pub fn users(app: &App) -> &UsersPane {
    app.pane::<UsersPane>()
}

pub fn groups(app: &App) -> &GroupsPane {
    app.pane::<GroupsPane>()
}

pub fn reports(app: &App) -> &ReportsPane {
    app.pane::<ReportsPane>()
}

pub fn policies(app: &App) -> &PoliciesPane {
    app.pane::<PoliciesPane>()
}

/// The overlays open, bottom first (for failure messages).
pub fn titles(app: &App) -> Vec<String> {
    app.overlays.iter().map(|o| o.title().into_owned()).collect()
}

/// Rows of the Users table on screen.
pub fn table_rows(app: &App) -> usize {
    app.body_area().height.saturating_sub(3) as usize
}

pub fn input_value(app: &App) -> String {
    app.input().map(|i| i.value().to_string()).unwrap_or_default()
}

/// The gate's deactivation ceiling (snapshots).
pub fn set_max_deactivations(app: &mut App, n: usize) {
    app.queue.safety.ceilings.deactivations = n;
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// Enter on the selected user: the detail view opens on the compact row and asks for the full
/// record, which is then delivered as the runtime would.
pub fn open_detail(app: &mut App, i: usize) {
    let fx = key(app, KeyCode::Enter);
    let id = format!("W{i:08}");
    assert_eq!(fx, vec![Effect::FetchDetail { id: id.clone() }]);
    app.update(Msg::DetailFetched { id, result: Ok(make_user(i)) });
}

fn typ(app: &mut App, s: &str) -> Vec<Effect> {
    let mut fx = vec![];
    for c in s.chars() {
        fx.extend(key(app, KeyCode::Char(c)));
    }
    fx
}

pub fn screen(app: &mut App, w: u16, h: u16) -> String {
    app.update(Msg::Resize(w, h));
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(app, f)).unwrap();
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

// The action queue's test batches (queue_tests, snapshots, dialogs).

pub fn id(i: usize) -> String {
    format!("W{i:08}")
}

pub fn deact(app: &App, i: usize) -> Action {
    let idx = app.dir.store.index_of(&id(i)).unwrap();
    Action::Deactivate { target: app.dir.store.get(idx).target() }
}

pub fn op(app: &App, i: usize, seq: i64) -> QueueOp {
    QueueOp::new(&format!("op{seq}"), seq, &deact(app, i))
}

pub fn loaded_batch(app: &mut App, n: usize, rate: Option<f64>) {
    let ops = (0..n).map(|i| op(app, i, i as i64 + 1)).collect();
    app.update(Msg::BatchLoaded(BatchLoad { batch_id: "b-test".into(), description: format!("deactivate {n} users"), ops, rate }));
    app.update(Msg::Queue(QueueEvent::BatchStarted { batch_id: "b-test".into(), total: n }));
}

pub fn finished(seq: i64, state: OpState, message: &str, retries: u32) -> Msg {
    Msg::Queue(QueueEvent::OpFinished {
        batch_id: "b-test".into(),
        op_id: format!("op{seq}"),
        seq,
        describe: format!("op {seq}"),
        state,
        message: message.into(),
        retries,
    })
}

pub fn started(seq: i64) -> Msg {
    Msg::Queue(QueueEvent::OpStarted { batch_id: "b-test".into(), op_id: format!("op{seq}"), seq, describe: String::new(), attempt: 1 })
}

/// A batch of 6 under way: one done, one failed, one running (snapshots).
pub fn running_batch(app: &mut App) {
    loaded_batch(app, 6, Some(2.0));
    app.update(finished(1, OpState::Done, "ok", 0));
    app.update(finished(2, OpState::Failed, "user_not_found: no user with this id (HTTP 404)", 2));
    app.update(started(3));
}

#[test]
fn filter_narrows_and_esc_clears() {
    let mut app = app_with(200);
    assert_eq!(users(&app).view.filtered.len(), 200);
    key(&mut app, KeyCode::Char('/'));
    assert_eq!(app.mode(), InputMode::Filter);
    typ(&mut app, "hana.");
    assert!(users(&app).view.filtered.iter().all(|&i| app.dir.store.get(i).user_name().starts_with("hana.")));
    typ(&mut app, "berg");
    let n = users(&app).view.filtered.len();
    assert!(n > 0 && n < 10, "{n}");
    key(&mut app, KeyCode::Backspace);
    assert!(users(&app).view.filtered.len() >= n);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.mode(), InputMode::Normal);
    assert_eq!(users(&app).view.query(), "hana.ber");
    // j moves (not typed into the filter), Esc clears the filter.
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(users(&app).view.selected, 1);
    key(&mut app, KeyCode::Esc);
    assert_eq!(users(&app).view.query(), "");
    assert_eq!(users(&app).view.filtered.len(), 200);
}

#[test]
fn movement_keys() {
    let mut app = app_with(500);
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(users(&app).view.selected, 499);
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(users(&app).view.selected, 0);
    key(&mut app, KeyCode::PageDown);
    let page = table_rows(&app);
    assert_eq!(users(&app).view.selected, page);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char('k'));
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(users(&app).view.selected, page - 1);
    app.update(Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)));
    assert_eq!(users(&app).view.selected, 0);
    // Release events are ignored.
    let mut rel = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
    rel.kind = crossterm::event::KeyEventKind::Release;
    app.update(Msg::Key(rel));
    assert_eq!(users(&app).view.selected, 0);
}

#[test]
fn panes_tabs_and_quit() {
    let mut app = app_with(10);
    key(&mut app, KeyCode::Char('2'));
    assert_eq!(app.pane_title(), "Groups");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.pane_title(), "Policies");
    app.update(Msg::Key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)));
    assert_eq!(app.pane_title(), "Groups");
    key(&mut app, KeyCode::Char('4'));
    assert_eq!(app.pane_title(), "Reports");
    key(&mut app, KeyCode::Char('1'));
    assert_eq!(app.pane_title(), "Users");
    assert_eq!(key(&mut app, KeyCode::Char('q')), vec![Effect::Quit]);
    assert!(app.quit);
}

#[test]
fn sort_and_show_keys() {
    let mut app = app_with(50);
    key(&mut app, KeyCode::Char('s'));
    let names: Vec<_> = users(&app).view.filtered.iter().map(|&i| app.dir.store.get(i).name().to_lowercase()).collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]));
    key(&mut app, KeyCode::Char('S'));
    let names: Vec<_> = users(&app).view.filtered.iter().map(|&i| app.dir.store.get(i).name().to_lowercase()).collect();
    assert!(names.windows(2).all(|w| w[0] >= w[1]));
    key(&mut app, KeyCode::Char('A'));
    assert!(users(&app).view.filtered.iter().all(|&i| app.dir.store.get(i).active()));
    key(&mut app, KeyCode::Char('A'));
    assert!(users(&app).view.filtered.iter().all(|&i| !app.dir.store.get(i).active()));
    assert!(!users(&app).view.filtered.is_empty());
}

#[test]
fn detail_copy_and_members_jump() {
    let mut app = app_with(30);
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.top::<UserDetail>().map(|d| &*d.id), Some("W00000001"));
    let fx = key(&mut app, KeyCode::Char('y'));
    assert_eq!(fx, vec![Effect::Copy("bob.lee1@example.com".into())]);
    let fx = key(&mut app, KeyCode::Char('Y'));
    assert_eq!(fx, vec![Effect::Copy("W00000001".into())]);
    key(&mut app, KeyCode::Esc);
    assert!(app.overlays.is_empty());

    key(&mut app, KeyCode::Char('2'));
    // groups are sorted by name: eng, everyone, sales
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.top::<Members>().map(|m| m.group), Some(1));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Enter); // second member of "everyone": W00000005
    assert_eq!(app.pane_title(), "Users");
    assert!(app.overlays.is_empty());
    assert_eq!(app.dir.store.get(users(&app).view.selected_index().unwrap()).id(), "W00000005");

    // A member that is not loaded is fetched, then selected.
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('G'));
    let fx = key(&mut app, KeyCode::Enter);
    assert_eq!(fx, vec![Effect::FetchUser { id: "W99999999".into() }]);
    assert!(app.busy());
    let mut u = make_user(99);
    u.id = Some("W99999999".into());
    app.update(Msg::UserFetched { id: "W99999999".into(), result: Ok(u) });
    assert_eq!(app.pane_title(), "Users");
    assert_eq!(app.dir.store.get(users(&app).view.selected_index().unwrap()).id(), "W99999999");
}

#[test]
fn email_not_loaded_is_looked_up_with_debounce_and_stale_results_dropped() {
    let mut app = app_with(20);
    key(&mut app, KeyCode::Char('/'));
    let fx = typ(&mut app, "new.person@example.com");
    let Some(Effect::Debounce { generation, email, .. }) = fx.last().cloned() else { panic!("{fx:?}") };
    assert_eq!(email, "new.person@example.com");
    // A newer keystroke makes that timer stale.
    let fx2 = key(&mut app, KeyCode::Char('x'));
    assert!(matches!(&fx2[..], [Effect::Debounce { generation: g, .. }] if *g > generation), "{fx2:?}");
    assert!(app.update(Msg::LookupDue { generation, email: email.clone() }).is_empty());
    key(&mut app, KeyCode::Backspace);
    let fx = app.update(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    let Some(Effect::LookupEmail { generation, email }) = fx.last().cloned() else { panic!("{fx:?}") };
    assert!(users(&app).lookup_in_flight.is_some());
    let mut u = make_user(1000);
    u.emails = Some(vec![MultiValue::email("new.person@example.com", true)]);
    u.id = Some("W77777777".into());
    // A stale generation is dropped.
    app.update(Msg::EmailLookup { generation: generation - 1, email: email.clone(), result: Ok(Some(u.clone())) });
    assert!(app.dir.store.index_of("W77777777").is_none());
    app.update(Msg::EmailLookup { generation, email: email.clone(), result: Ok(Some(u)) });
    assert!(users(&app).lookup_in_flight.is_none());
    assert_eq!(app.dir.store.get(users(&app).view.selected_index().unwrap()).id(), "W77777777");
    assert_eq!(app.dir.total, Some(21));
}

#[test]
fn find_command_local_remote_and_not_found() {
    let mut app = app_with(20);
    key(&mut app, KeyCode::Char(':'));
    typ(&mut app, "find EVE.LEE4@example.com");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(app.dir.store.get(users(&app).view.selected_index().unwrap()).id(), "W00000004");
    let fx = app.run_command_line("find ghost@example.com");
    let Some(Effect::LookupEmail { generation, email }) = fx.last().cloned() else { panic!("{fx:?}") };
    app.update(Msg::EmailLookup { generation, email, result: Ok(None) });
    assert!(app.log.back().unwrap().text.contains("no user with email ghost@example.com"));
    assert_eq!(app.log.flash.as_ref().unwrap().0, Level::Warn);
    app.run_command_line("find not-an-email");
    assert_eq!(app.log.back().unwrap().level, Level::Error);
    // History
    key(&mut app, KeyCode::Char(':'));
    key(&mut app, KeyCode::Up);
    assert_eq!(input_value(&app), "find EVE.LEE4@example.com");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.mode(), InputMode::Normal);
}

#[test]
fn theme_and_quit_commands() {
    let mut app = app_with(5);
    app.run_command_line("theme light");
    assert_eq!(app.theme.name, "light");
    app.run_command_line("theme nope");
    assert!(app.log.back().unwrap().text.contains("available"));
    assert_eq!(app.theme.name, "light");
    assert_eq!(app.run_command_line("q"), vec![Effect::Quit]);
}

#[test]
fn refresh_stages_and_keeps_selection() {
    let mut app = app_with(100);
    key(&mut app, KeyCode::Char('G'));
    open_detail(&mut app, 99);
    let fx = app.run_command_line("refresh");
    assert!(fx.contains(&Effect::LoadUsers { generation: 2 }));
    assert!(fx.contains(&Effect::LoadGroups { generation: 2 }));
    // A page of the old generation is dropped; the new one is merged into the rows on screen
    // (the table never empties), its new user shown at once.
    app.update(Msg::UsersPage { generation: 1, items: [make_user(5000)].iter().collect(), total: 1 });
    assert_eq!(app.dir.store.len(), 100);
    app.update(Msg::UsersPage { generation: 2, items: (0..101).map(make_user).collect(), total: 101 });
    assert_eq!(app.dir.store.len(), 101);
    assert!(app.dir.store.index_of("W00005000").is_none());
    assert_eq!(app.dir.store.get(users(&app).view.selected_index().unwrap()).id(), "W00000099");
    app.update(Msg::UsersDone { generation: 2, error: None });
    assert_eq!(app.dir.store.len(), 101);
    assert_eq!(app.dir.store.get(users(&app).view.selected_index().unwrap()).id(), "W00000099");
    // The open detail view still shows the same user.
    assert_eq!(app.top::<UserDetail>().map(|d| &*d.id), Some("W00000099"));
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("employeeNumber") && s.contains("E99"), "{s}");
}

#[test]
fn a_refresh_merges_each_page_in_place_and_removes_who_is_gone_at_the_end() {
    let mut app = app_with(100);
    app.dir.marks.ids.insert("W00000050".into());
    app.dir.marks.ids.insert("W00000010".into());
    app.run_command_line("refresh");
    let mut changed = make_user(7);
    changed.title = Some("Chief Tinkerer".into());
    let first: Vec<User> = (0..50).map(|i| if i == 7 { changed.clone() } else { make_user(i) }).collect();
    app.update(Msg::UsersPage { generation: 2, items: first.iter().collect(), total: 100 });
    // At once: the new title on screen, marked as changed; nobody removed yet.
    let i7 = app.dir.store.index_of("W00000007").unwrap();
    assert_eq!(app.dir.store.get(i7).title(), "Chief Tinkerer");
    assert!(app.dir.changed.contains(&i7));
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("Chief Tinkerer"), "{s}");
    // Issue 25: `• Hana Lee`, not `•Hana Lee`.
    assert!(s.contains("• Hana Lee"), "{s}");
    // The second page lacks user 50 and brings user 100.
    let second: Vec<User> = (51..101).map(make_user).collect();
    app.update(Msg::UsersPage { generation: 2, items: second.iter().collect(), total: 100 });
    assert_eq!(app.dir.store.len(), 101);
    assert!(app.dir.store.index_of("W00000050").is_some(), "removed only when the listing is complete");
    app.update(Msg::UsersDone { generation: 2, error: None });
    let st = &app.dir.store;
    assert_eq!(st.len(), 100);
    assert!(st.index_of("W00000050").is_none());
    let (i7, i100) = (st.index_of("W00000007").unwrap(), st.index_of("W00000100").unwrap());
    assert_eq!(st.get(i7).title(), "Chief Tinkerer");
    let mut marked: Vec<u32> = app.dir.changed.iter().copied().collect();
    marked.sort_unstable();
    assert_eq!(marked, [i7, i100], "the marks follow the users into the compacted table");
    assert!(app.dir.marks.ids.contains("W00000010") && !app.dir.marks.ids.contains("W00000050"));
    assert_eq!(users(&app).view.filtered.len(), 100, "the view shows every user once");
    assert!(app.log.iter().any(|e| e.text.contains("1 new, 1 changed (marked •), 1 gone")), "{:?}", app.log.back());
}

#[test]
fn log_entries_and_server_text_are_cleaned() {
    let mut app = app_with(3);
    app.update(Msg::Log(LogEntry { time: "12:00:00".into(), level: Level::Error, text: "boom\u{1b}[2J".into() }));
    assert_eq!(app.log.back().unwrap().text, "boom");
    let mut u = make_user(3);
    u.display_name = Some("Mallory\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[31m".into());
    app.update(Msg::UsersPage { generation: 1, items: Default::default(), total: 0 });
    let s = {
        let mut a = app_with(0);
        a.update(Msg::EmailLookup { generation: 0, email: "x".into(), result: Ok(Some(u)) });
        screen(&mut a, 120, 30)
    };
    assert!(s.contains("Mallory"));
    assert!(!s.contains('\u{1b}'));
}

// ---- rendering ----

fn all_screens(app: &mut App, w: u16, h: u16) -> Vec<(String, String)> {
    let mut out = vec![];
    for (i, name) in ["users", "groups", "policies", "reports"].iter().enumerate() {
        key(app, KeyCode::Char(char::from(b'1' + i as u8)));
        out.push((name.to_string(), screen(app, w, h)));
    }
    key(app, KeyCode::Char('1'));
    out
}

#[test]
fn render_every_pane_at_80x24_and_200x50() {
    for (w, h) in [(80, 24), (200, 50)] {
        let mut app = app_with(300);
        for (pane, s) in all_screens(&mut app, w, h) {
            assert!(s.contains("1 Users") && s.contains("4 Reports"), "{pane} {w}x{h}\n{s}");
            assert!(s.contains("api.slack.test") && s.contains("queue idle"), "{pane}\n{s}");
            // (The API version gives way first on a narrow status line.)
            assert!(w < 200 || s.contains("SCIM v2"), "{pane}\n{s}");
            assert!(s.contains("users 300/300"), "{pane}\n{s}");
            match pane.as_str() {
                "users" => {
                    assert!(s.contains("Ann Lee") && s.contains("ann.lee0@example.com"), "{s}");
                    assert!(s.contains("Active"), "{s}");
                    // Wide screens show every column; 80 columns drop title, department and id.
                    assert_eq!(s.contains("Department"), w == 200, "{s}");
                    assert_eq!(s.contains("W00000000"), w == 200, "{s}");
                }
                "groups" => assert!(s.contains("everyone") && s.contains("Members"), "{s}"),
                "policies" => assert!(s.contains("reading policies") && s.contains("Plan"), "{s}"),
                "reports" => assert!(s.contains("querying") && s.contains("since: 7d"), "{s}"),
                _ => unreachable!(),
            }
        }
    }
}

#[test]
fn render_overlays_and_input_lines() {
    for (w, h) in [(80, 24), (200, 50)] {
        let mut app = app_with(40);
        key(&mut app, KeyCode::Char('j'));
        // Before the full record arrives, the compact row's fields show.
        assert_eq!(key(&mut app, KeyCode::Enter), vec![Effect::FetchDetail { id: "W00000001".into() }]);
        let s = screen(&mut app, w, h);
        assert!(s.contains("bob.lee1@example.com") && s.contains("fetching the full record") && !s.contains("employeeNumber"), "{s}");
        app.update(Msg::DetailFetched { id: "W00000001".into(), result: Ok(make_user(1)) });
        let s = screen(&mut app, w, h);
        assert!(s.contains("employeeNumber") && s.contains("E1") && !s.contains("fetching the full"), "{s}");
        assert!(s.contains("W00000000 (Ann Lee)"), "manager resolved:\n{s}");
        // The loaded groups (read again after every group batch) win over the user's own list.
        assert!(s.contains("sales S001"), "{s}");
        key(&mut app, KeyCode::Char('?'));
        let s = screen(&mut app, w, h);
        assert!(s.contains("Help") && s.contains("close"), "{s}");
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char('?'));
        let s = screen(&mut app, w, h);
        assert!(s.contains("Users pane") && s.contains("sort by the next column"), "{s}");
        if h >= 50 {
            assert!(s.contains("copy the email"), "{s}");
        }
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char('2'));
        key(&mut app, KeyCode::Enter);
        let s = screen(&mut app, w, h);
        assert!(s.contains("members") && s.contains("(not loaded)"), "{s}");
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char('1'));
        key(&mut app, KeyCode::Char('/'));
        typ(&mut app, "zz@nowhere.example");
        let s = screen(&mut app, w, h);
        assert!(s.contains("/zz@nowhere.example"), "{s}");
        assert!(s.contains("No loaded user matches"), "{s}");
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char(':'));
        typ(&mut app, "theme");
        let s = screen(&mut app, w, h);
        assert!(s.lines().any(|l| l.starts_with(":theme")), "{s}");
    }
}

#[test]
fn tiny_terminals_do_not_panic() {
    let mut app = app_with(50);
    for (w, h) in [(20, 5), (1, 1), (0, 0), (10, 3), (30, 8), (80, 2)] {
        for (_, _s) in all_screens(&mut app, w, h) {}
        key(&mut app, KeyCode::Enter);
        screen(&mut app, w, h);
        key(&mut app, KeyCode::Char('?'));
        screen(&mut app, w, h);
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Esc);
    }
    let mut empty = App::new("h", "SCIM v2", ThemeSet::builtin(), Theme::default());
    let s = screen(&mut empty, 44, 12);
    assert!(s.contains("Users"), "{s}");
}

#[test]
fn loading_progress_and_empty_states() {
    let mut app = App::new("h", "SCIM v2", ThemeSet::builtin(), Theme::default());
    app.start();
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("loading users"), "{s}");
    app.update(Msg::UsersPage { generation: 1, items: (0..1000).map(make_user).collect(), total: 4000 });
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("loading 1,000/4,000 25%"), "{s}");
    assert!(s.contains("users 1,000/4,000"), "{s}");
    app.update(Msg::UsersDone { generation: 1, error: Some("HTTP 401 invalid_authentication".into()) });
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("load failed"), "{s}");
    assert!(s.contains("invalid_authentication"), "{s}");
}

#[test]
fn no_color_theme_marks_selection_without_colour() {
    let mut app = app_with(10);
    app.theme = Theme::monochrome();
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| render(&app, f)).unwrap();
    let buf = t.backend().buffer();
    for cell in buf.content() {
        assert_eq!(cell.fg, ratatui::style::Color::Reset);
        assert_eq!(cell.bg, ratatui::style::Color::Reset);
    }
    let s = screen(&mut app, 80, 24);
    assert!(s.lines().any(|l| l.contains("> Ann Lee")), "{s}");
    assert!(s.contains("[1 Users]"), "{s}");
}

/// Issue 25: under a locale that is not UTF-8 every cell drawn is ASCII: the borders, the
/// separators, the marks, the sort arrows, the spinner, the overlays, and a server's accented
/// names.
#[test]
fn a_terminal_without_utf8_gets_ascii_only() {
    use super::theme::{Caps, ColorDepth};
    let mut app = app_with(30);
    app.theme = Theme::default().fit(Caps { depth: ColorDepth::Ansi16, ascii: true });
    // Accents from the server, a mark, a sort arrow, a filter, the spinner (a reload).
    typ(&mut app, "  s");
    app.push_log(Level::Info, "found José Müller… (W1)");
    key(&mut app, KeyCode::Char('r'));
    let mut screens = vec![screen(&mut app, 80, 24), screen(&mut app, 200, 50)];
    for keys in ["?", "Q", "2\n", "3", "4"] {
        let mut a = app_with(30);
        a.theme = app.theme.clone();
        typ(&mut a, "  ");
        for c in keys.chars() {
            key(&mut a, if c == '\n' { KeyCode::Enter } else { KeyCode::Char(c) });
        }
        screens.push(screen(&mut a, 80, 24));
    }
    let mut c = app_with(30);
    c.theme = app.theme.clone();
    typ(&mut c, "   d");
    screens.push(screen(&mut c, 80, 24));
    for s in &screens {
        assert!(s.is_ascii(), "{}", s.chars().filter(|c| !c.is_ascii()).collect::<String>());
        assert!(s.contains("+-"), "ASCII corners and borders:\n{s}");
    }
    assert!(screens[0].contains("Jose Muller"), "{}", screens[0]);
    assert!(screens[0].contains("Name ^"), "the sort arrow:\n{}", screens[0]);
    assert!(screens[0].contains(" | "), "the hint bar's separators:\n{}", screens[0]);
    // The same screen in UTF-8 is not ASCII (so the test above can fail).
    let mut utf = app_with(30);
    typ(&mut utf, "  s");
    assert!(!screen(&mut utf, 80, 24).is_ascii());
}

/// Issue 25: at 80 columns the status line kept the numbers but lost the host, cut the last
/// message to a stub (`plan of…`) and ran `budget 998? help` together.
#[test]
fn the_status_line_keeps_the_host_shows_no_stub_and_separates_help() {
    let mut app = app_with(2000);
    app.host = "127.0.0.1:35037".into();
    app.api = "SCIM v2.0".into();
    app.budget = Some(998.0);
    let last = |app: &mut App, w: u16| screen(app, w, 24).lines().last().unwrap().to_string();
    // With the Log on screen its lines are not repeated: the room goes to the host.
    app.push_log(Level::Info, "plan of policy demo-hr: 5 create, 9 update, 8 deactivate");
    let s = last(&mut app, 80);
    assert!(s.contains("127.0.0.1:35037") && s.contains("users 2,000") && s.contains("budget 998 "), "{s}");
    assert!(s.trim_end().ends_with(" │ ? help") && !s.contains("998?"), "{s}");
    assert!(!s.contains("plan of"), "{s}");
    // The Log hidden: the message shows where 16 columns of it fit, never as a stub.
    key(&mut app, KeyCode::Char('L'));
    let s = last(&mut app, 80);
    assert!(!s.contains("plan of") && s.contains("127.0.0.1:35037"), "{s}");
    let s = last(&mut app, 100);
    assert!(s.contains("plan of policy demo-hr") && s.contains("127.0.0.1:35037"), "{s}");
    // A message for the status line only (not in the Log) shows with the Log on screen too.
    key(&mut app, KeyCode::Char('L'));
    typ(&mut app, "   ");
    assert!(last(&mut app, 120).contains("3 marked"), "{}", last(&mut app, 120));
    // A batch with failures, marks, the Log hidden, a warning: the host still shows (shortened
    // if need be), the numbers whole, the warning where it fits.
    running_batch(&mut app);
    key(&mut app, KeyCode::Char('L'));
    app.push_log(Level::Warn, "exported 1 record to /home/admin/.local/share/scimitar/exports/x.csv");
    let s = last(&mut app, 80);
    for want in ["127.0.0", "running 2/6 · 1 failed", "marked 3", "budget 998 "] {
        assert!(s.contains(want), "{want}: {s}");
    }
    assert!(!s.contains("exporte…"), "{s}");
    let s = last(&mut app, 120);
    assert!(s.contains("127.0.0.1:35037") && s.contains("exported 1 record to"), "{s}");
    // 200 columns: everything, the API version and the message whole.
    app.push_log(Level::Warn, "deactivate 3 users: a batch is running: wait for it to finish");
    let s = last(&mut app, 200);
    for want in [
        "127.0.0.1:35037",
        "SCIM v2.0",
        "users 2,000/2,000",
        "queue running 2/6",
        "deactivate 3 users: a batch is running: wait for it to finish",
    ] {
        assert!(s.contains(want), "{want}: {s}");
    }
}

#[test]
fn log_pane_toggles_and_resizes() {
    let mut app = app_with(10);
    let s = screen(&mut app, 100, 30);
    assert!(s.contains("Log"));
    assert!(s.contains("loaded 10 users"), "{s}");
    let rows = table_rows(&app);
    // `}` / `{` resize (not `+`/`-`: Groups adds and removes members with them; issue 12).
    key(&mut app, KeyCode::Char('}'));
    assert_eq!(table_rows(&app), rows - 2);
    key(&mut app, KeyCode::Char('{'));
    assert_eq!(table_rows(&app), rows);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('}'));
    assert_eq!(app.log.height, 8, "the Log is resized in Groups too");
    key(&mut app, KeyCode::Char('{'));
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Char('L'));
    assert!(table_rows(&app) > rows);
    let s = screen(&mut app, 100, 30);
    assert!(!s.contains("loaded 10 users") || s.lines().last().unwrap().contains("loaded 10 users"), "{s}");
}

#[test]
fn log_scrolls_back_wraps_long_lines_and_keeps_a_bounded_history() {
    let mut app = app_with(10);
    for i in 0..40 {
        app.push_log(Level::Info, format!("line {i:02}"));
    }
    let long = format!("user_not_found: {} END-OF-ERROR", "the server said something long ".repeat(4));
    app.push_log(Level::Error, long);
    let s = screen(&mut app, 80, 24);
    // The whole error, wrapped, at 80 columns (issue 12: errors were cut).
    assert!(s.contains("END-OF-ERROR") && s.contains("user_not_found"), "{s}");
    assert!(s.contains("[ older"), "the Log's keys are on its border:\n{s}");
    key(&mut app, KeyCode::Char('['));
    let s = screen(&mut app, 80, 24);
    assert!(!s.contains("END-OF-ERROR") && s.contains("line 3"), "{s}");
    assert!(s.contains("newer below") && s.contains("] newer"), "{s}");
    // New lines keep the view where it is while scrolled back.
    let before = app.log.scroll;
    app.push_log(Level::Info, "later");
    assert_eq!(app.log.scroll, before + 1);
    let rows = |app: &mut App| -> Vec<String> {
        screen(app, 80, 24).lines().skip_while(|l| !l.contains("╭ Log")).skip(1).take(4).map(str::to_string).collect()
    };
    let shown = rows(&mut app);
    app.push_log(Level::Info, format!("a long one {}", "that wraps over rows ".repeat(8)));
    assert_eq!(rows(&mut app), shown, "the view stays put while a wrapped entry arrives");
    for _ in 0..100 {
        key(&mut app, KeyCode::Char('['));
    }
    let oldest = app.log.iter().next().unwrap().text.clone();
    assert!(screen(&mut app, 80, 24).contains(&oldest), "the oldest line is reachable: {oldest}");
    for _ in 0..100 {
        key(&mut app, KeyCode::Char(']'));
    }
    assert_eq!(app.log.scroll, 0);
    assert!(screen(&mut app, 80, 24).contains("later"));
    // Bounded: at most LOG_CAP entries are kept.
    for i in 0..2500 {
        app.push_log(Level::Info, format!("flood {i}"));
    }
    assert_eq!(app.log.len(), 2000);
}

/// Issue 25: the Log scrolls by rows, so a long wrapped entry (the demo's first line, the
/// emulator's URL, at 80x24) can be read whole from its start.
#[test]
fn the_log_scrolls_back_by_rows_to_the_start_of_a_long_entry() {
    let mut app = app_with(10);
    let first = "demo: embedded Slack SCIM emulator at http://127.0.0.1:35037/scim/v2/ with 100,000 users and 500 groups (seed 42) END";
    let mut log = super::msg::Log::default();
    log.push(Level::Info, first);
    for i in 0..6 {
        log.push(Level::Info, format!("line {i}"));
    }
    app.log = log;
    app.update(Msg::Resize(80, 24));
    let s = screen(&mut app, 80, 24);
    assert!(!s.contains("demo: embedded"), "{s}");
    // `[` pages back (a page is the pane's rows less one) until the first entry's first row shows,
    // then its last.
    let mut seen_start = false;
    let mut seen_end = false;
    for _ in 0..10 {
        key(&mut app, KeyCode::Char('['));
        let s = screen(&mut app, 80, 24);
        seen_start |= s.contains("demo: embedded Slack SCIM emulator at");
        seen_end |= s.contains("(seed 42) END");
    }
    assert!(seen_start && seen_end, "{}", screen(&mut app, 80, 24));
    // At the top, the first entry's first row is the pane's first row, whole.
    let s = screen(&mut app, 80, 24);
    let log_rows: Vec<&str> = s.lines().skip_while(|l| !l.contains("╭ Log")).skip(1).take(4).collect();
    assert!(log_rows[0].contains("info  demo: embedded Slack SCIM emulator at"), "{log_rows:?}");
    assert!(log_rows.iter().any(|l| l.contains("(seed 42) END")), "{log_rows:?}");
    assert!(s.contains("newer below"), "{s}");
}

/// `cargo test --lib tui::tests::print_screens -- --ignored --nocapture` prints sample screens
/// (used for docs/console.md).
#[test]
#[ignore]
fn print_screens() {
    let mut app = app_with(5000);
    app.update(Msg::Budget(Some(20.0)));
    for (w, h) in [(80, 24), (120, 32)] {
        println!("{}", screen(&mut app, w, h));
    }
    key(&mut app, KeyCode::Char('/'));
    typ(&mut app, "hana.ber");
    println!("{}", screen(&mut app, 100, 30));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    println!("{}", screen(&mut app, 100, 30));
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('?'));
    println!("{}", screen(&mut app, 100, 40));
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('2'));
    println!("{}", screen(&mut app, 80, 24));
}

#[test]
fn groups_filter_narrows_incrementally_and_esc_clears() {
    let mut app = app_with(20);
    key(&mut app, KeyCode::Char('2'));
    assert_eq!(app.pane_title(), "Groups");
    // The Users filter is kept aside while the Groups one is edited.
    let third = groups(&app).shown[2];
    app.pane_mut::<GroupsPane>().selected = third;
    key(&mut app, KeyCode::Char('/'));
    assert_eq!(app.mode(), InputMode::Filter);
    typ(&mut app, "E");
    let names = |app: &App| groups(app).shown.iter().map(|&i| app.dir.groups[i].name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&app), ["eng", "everyone", "sales"], "any case");
    typ(&mut app, "v");
    assert_eq!(names(&app), ["everyone"]);
    assert_eq!(app.dir.groups[groups(&app).selected].name, "everyone", "the selection follows the filter");
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Groups 1 of 3 /Ev"), "{s}");
    assert!(!s.contains("sales"), "{s}");
    // Backspace widens again; ↑/↓ move while typing.
    key(&mut app, KeyCode::Backspace);
    assert_eq!(names(&app).len(), 3);
    key(&mut app, KeyCode::Down);
    assert_eq!(app.dir.groups[groups(&app).selected].name, "sales");
    // Enter keeps the filter, and Enter opens the selected group's members.
    typ(&mut app, "s");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.mode(), InputMode::Normal);
    assert_eq!(names(&app), ["sales"]);
    key(&mut app, KeyCode::Enter);
    assert!(app.top::<Members>().is_some_and(|m| app.dir.groups[m.group].name == "sales"));
    key(&mut app, KeyCode::Esc);
    // Nothing matches: the pane says so and keys do nothing.
    key(&mut app, KeyCode::Char('/'));
    typ(&mut app, "zz");
    assert!(groups(&app).shown.is_empty());
    key(&mut app, KeyCode::Down);
    assert!(screen(&mut app, 80, 24).contains("No group matches /Eszz"));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    assert!(app.overlays.is_empty());
    // Esc in the pane clears it.
    key(&mut app, KeyCode::Esc);
    assert_eq!(groups(&app).query, "");
    assert_eq!(names(&app).len(), 3);
    assert!(screen(&mut app, 80, 24).contains("Groups 3 "));
    // Esc while typing clears it too; the Users filter was left alone.
    key(&mut app, KeyCode::Char('/'));
    typ(&mut app, "eng");
    key(&mut app, KeyCode::Esc);
    assert_eq!((app.mode(), groups(&app).query.as_str(), groups(&app).shown.len()), (InputMode::Normal, "", 3));
    assert_eq!(users(&app).view.query(), "");
    // A reload keeps the filter.
    key(&mut app, KeyCode::Char('/'));
    typ(&mut app, "sal");
    key(&mut app, KeyCode::Enter);
    let g = groups(&app).generation;
    app.update(Msg::GroupsLoaded { generation: g, result: Ok(fixture_groups()) });
    assert_eq!(names(&app), ["sales"]);
}

#[test]
fn groups_filter_leaves_the_users_filter_alone() {
    let mut app = app_with(20);
    key(&mut app, KeyCode::Char('/'));
    typ(&mut app, "user1");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('/'));
    assert_eq!(input_value(&app), "");
    typ(&mut app, "eng");
    key(&mut app, KeyCode::Enter);
    assert_eq!(users(&app).view.query(), "user1");
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Char('/'));
    assert_eq!(input_value(&app), "user1");
}

#[test]
fn ctrl_z_suspends_from_anywhere() {
    let ctrl_z = || Msg::Key(KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL));
    let mut app = app_with(20);
    assert_eq!(app.update(ctrl_z()), vec![Effect::Suspend]);
    // While typing a filter (the text is not touched) and in an overlay, too.
    key(&mut app, KeyCode::Char('/'));
    typ(&mut app, "user");
    assert_eq!(app.update(ctrl_z()), vec![Effect::Suspend]);
    assert_eq!((app.mode(), input_value(&app)), (InputMode::Filter, "user".to_string()));
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('?'));
    assert_eq!(app.update(ctrl_z()), vec![Effect::Suspend]);
    assert!(app.top::<Help>().is_some());
    assert!(!app.quit);
    // The help lists it (near its end: scroll there; the help stops at its last line).
    let seen = (0..80).any(|_| {
        key(&mut app, KeyCode::Char('j'));
        screen(&mut app, 200, 50).contains("suspend to the shell")
    });
    assert!(seen, "{}", screen(&mut app, 200, 50));
}
