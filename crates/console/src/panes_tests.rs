//! The Reports and Policies panes: key handling on the pure state, the executor-side functions
//! (query, CSV export) against a temporary database, and TestBackend renders at 80x24 and 200x50.

use super::app::App;

use super::apply_confirm::ApplyConfirm;
use super::detail::Detail;
use super::msg::PlanHandle;
use super::msg::{Effect, Level, Msg};
use super::msg::{ReportData, ReportRow};
use super::policies::{Kind, plan_rows};
use super::reports;
use super::reports::ReportsPane;
use super::tests::{app_with, screen};
use super::tests::{policies, reports, titles};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use provision::policy::Attr;
use provision::policy::Policy;
use provision::policy::live::LivePlan;
use provision::policy::plan::{AttrChange, CreateUser, Deactivate, GroupTarget, MemberChange, MemberRef, Plan, Reason, UpdateUser};
use provision::queue::{OpState, QueueEvent};
use provision::report::{OperationRecord, Outcome, ReportStore, StoredRecord};
use scim::{MultiValue, User};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn typ(app: &mut App, s: &str) -> Vec<Effect> {
    s.chars().flat_map(|c| key(app, KeyCode::Char(c))).collect()
}

fn op(i: u32, email: &str, outcome: Outcome, finished: OffsetDateTime) -> OperationRecord {
    let mut r = op_clean(i, email, outcome, finished);
    r.error_message = r.error_message.map(|m| format!("{m}\x1b[31m"));
    r
}

/// A record without control characters (the CSV writer cleans those, so they do not round-trip).
fn op_clean(i: u32, email: &str, outcome: Outcome, finished: OffsetDateTime) -> OperationRecord {
    OperationRecord {
        op_id: format!("op-{i}"),
        batch_id: Some("b-test".into()),
        policy_run: None,
        started_at: finished - Duration::milliseconds(250),
        finished_at: finished,
        profile: "prod".into(),
        host: "api.slack.com".into(),
        action: if i.is_multiple_of(2) { "deactivate".into() } else { "update_user".into() },
        target_id: Some(format!("U{i:05}")),
        target_email: Some(email.into()),
        target_user_name: None,
        target_display: Some(format!("User {i}")),
        outcome,
        error_code: (outcome == Outcome::Failed).then(|| "invalid_manager".into()),
        error_message: (outcome == Outcome::Failed).then(|| "manager W1 does not exist".into()),
        http_status: Some(if outcome == Outcome::Failed { 400 } else { 200 }),
        retries: 0,
        duration_ms: 250,
        os_user: "alice".into(),
        os_host: "ws1".into(),
        detail: Some(serde_json::json!({"active": false})),
        db_role: None,
        proposed_by: None,
        approved_by: None,
    }
}

/// Records as the store hands them back (seq and hashes filled in), newest first.
fn stored(n: u32, now: OffsetDateTime) -> Vec<StoredRecord> {
    stored_with(n, now, op)
}

fn stored_with(n: u32, now: OffsetDateTime, op: fn(u32, &str, Outcome, OffsetDateTime) -> OperationRecord) -> Vec<StoredRecord> {
    let mut s = ReportStore::from_connection(provision::db::open_in_memory().unwrap());
    for i in 0..n {
        let outcome = if i % 5 == 1 { Outcome::Failed } else { Outcome::Done };
        s.append(&op(i, &format!("user{i}@example.com"), outcome, now - Duration::hours(i as i64 * 7))).unwrap();
    }
    s.query(&Default::default()).unwrap()
}

fn data(records: Vec<StoredRecord>) -> ReportData {
    let mut daily: HashMap<(time::Date, Outcome), u64> = HashMap::new();
    for r in &records {
        *daily.entry((r.record.finished_at.date(), r.record.outcome)).or_default() += 1;
    }
    let mut daily: Vec<_> = daily.into_iter().map(|((d, o), n)| (d, o, n)).collect();
    daily.sort();
    ReportData { total: records.len() as u64, rows: records.into_iter().map(ReportRow::new).collect(), daily, no_db: false }
}

/// The Reports pane opened (its first query answered with `records`).
fn reports_app(records: Vec<StoredRecord>) -> App {
    let mut app = app_with(20);
    let fx = key(&mut app, KeyCode::Char('4'));
    assert_eq!(app.pane_title(), "Reports");
    let [Effect::QueryReports { generation, query }] = fx.as_slice() else { panic!("{fx:?}") };
    assert!(query.since.is_some(), "opens on the default span");
    app.update(Msg::ReportsLoaded { generation: *generation, result: Ok(data(records)) });
    app
}

/// The Reports pane with 20 records of fixed dates and a fixed chart span (snapshots).
pub fn fixed_reports_app() -> App {
    let at = time::macros::datetime!(2026-11-22 19:07:00 UTC);
    let mut app = reports_app(stored(20, at));
    app.pane_mut::<ReportsPane>().span = Some(((at - Duration::days(6)).date(), at.date()));
    app
}

#[test]
fn reports_render_table_chart_and_collapse_columns() {
    let now = OffsetDateTime::now_utc();
    for (w, h) in [(80, 24), (200, 50)] {
        let mut app = reports_app(stored(20, now));
        let s = screen(&mut app, w, h);
        assert!(s.contains("Reports") && s.contains("user0@example.com"), "{s}");
        assert!(s.contains("since: 7d") && s.contains("outcome:"), "{s}");
        assert!(s.contains("■ done") && s.contains("■ failed"), "chart legend\n{s}");
        assert!(s.contains("Outcome") && s.contains("failed"), "{s}");
        // 80 columns keep time, action, target and outcome; 200 show code and message too.
        assert_eq!(s.contains("Message"), w == 200, "{s}");
        assert_eq!(s.contains("invalid_manager"), w == 200, "{s}");
        if w == 200 {
            assert!(s.contains("manager W1 does not exist"), "{s}");
            assert!(!s.contains('\x1b'), "server text is cleaned");
        }
        let today = format!("{:02}-{:02}", now.month() as u8, now.day());
        assert!(s.contains(&today) || s.contains(&format!(" {:02} ", now.day())), "today's bar label\n{s}");
    }
}

#[test]
fn reports_without_a_database_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = reports::load(&dir.path().join("none.db"), &Default::default()).unwrap();
    assert!(d.no_db);
    for (w, h) in [(80, 24), (200, 50)] {
        let mut app = app_with(5);
        let fx = key(&mut app, KeyCode::Char('4'));
        let [Effect::QueryReports { generation, .. }] = fx.as_slice() else { panic!() };
        app.update(Msg::ReportsLoaded { generation: *generation, result: Ok(d.clone()) });
        let s = screen(&mut app, w, h);
        assert!(s.contains("No operations recorded yet"), "{s}");
    }
}

#[test]
fn report_filters_are_edited_and_run() {
    let mut app = reports_app(stored(3, OffsetDateTime::now_utc()));
    key(&mut app, KeyCode::Char('/'));
    assert_eq!(reports(&app).focus, Some(0));
    // Typed keys go to the field, not to the keymap (j would move, q would quit).
    assert!(typ(&mut app, "jq@x.example").is_empty());
    assert!(!app.quit);
    key(&mut app, KeyCode::Tab);
    typ(&mut app, "deactivate");
    key(&mut app, KeyCode::Tab);
    typ(&mut app, "failed");
    key(&mut app, KeyCode::BackTab);
    assert_eq!(reports(&app).focus, Some(1));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    assert_eq!(reports(&app).focus, Some(reports::SINCE));
    for _ in 0..2 {
        key(&mut app, KeyCode::Backspace);
    }
    typ(&mut app, "24h");
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("jq@x.example") && s.contains("since: 24h"), "{s}");
    assert!(s.contains("Enter run · Esc leave"), "the hint bar says how to leave the fields\n{s}");
    let gen_before = reports(&app).generation;
    let fx = key(&mut app, KeyCode::Enter);
    assert_eq!(reports(&app).focus, None);
    let [Effect::QueryReports { generation, query }] = fx.as_slice() else { panic!("{fx:?}") };
    assert_eq!(*generation, gen_before + 1);
    assert_eq!(query.user.as_deref(), Some("jq@x.example"));
    assert_eq!(query.action.as_deref(), Some("deactivate"));
    assert_eq!(query.outcome, Some(Outcome::Failed));
    let since = query.since.unwrap();
    assert!((OffsetDateTime::now_utc() - since - Duration::hours(24)).abs() < Duration::minutes(1));
    // A stale answer (the earlier generation) is dropped.
    app.update(Msg::ReportsLoaded { generation: gen_before, result: Ok(ReportData::default()) });
    assert!(reports(&app).loading && reports(&app).data.rows.len() == 3);
    // A bad value names the field and runs nothing.
    key(&mut app, KeyCode::Char('/'));
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    typ(&mut app, "x");
    let fx = key(&mut app, KeyCode::Enter);
    assert!(fx.is_empty());
    let e = reports(&app).refused.clone().unwrap();
    assert!(e.starts_with("outcome:") && e.contains("failedx"), "{e}");
    // Refused (issue 12): the field is back to the query the rows are for, and the screen says so.
    assert_eq!(reports(&app).value(2), "failed");
    assert!(query.user_contains, "the console's user filter matches part of an email");
    let s = screen(&mut app, 80, 24);
    assert!(!s.contains("failedx") || s.contains("refused"), "{s}");
    assert!(s.contains("outcome: failed") && s.contains("refused"), "{s}");
    // Esc leaves the fields; then keys are pane keys again.
    key(&mut app, KeyCode::Char('/'));
    key(&mut app, KeyCode::Esc);
    assert_eq!(reports(&app).focus, None);
}

/// Issue 25, defect 6: a batch that finishes (a restore started from Reports among them) reads
/// the query again at once: the new records and the title's count are there without `r`.
#[test]
fn reports_are_read_again_when_a_batch_finishes() {
    use provision::queue::QueueEvent;
    let mut app = reports_app(stored(3, OffsetDateTime::now_utc()));
    assert!(screen(&mut app, 80, 24).contains("Reports 3 "));
    app.update(Msg::BatchLoaded(crate::msg::BatchLoad { batch_id: "b-r".into(), description: "restore".into(), ops: vec![], rate: None }));
    let fx = app.update(Msg::Queue(QueueEvent::BatchFinished {
        batch_id: "b-r".into(),
        counts: HashMap::new(),
        elapsed: std::time::Duration::from_millis(10),
        cancelled: false,
    }));
    let Some(Effect::QueryReports { generation, .. }) = fx.iter().find(|e| matches!(e, Effect::QueryReports { .. })) else {
        panic!("the query runs again: {fx:?}")
    };
    app.update(Msg::ReportsLoaded { generation: *generation, result: Ok(data(stored(5, OffsetDateTime::now_utc()))) });
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Reports 5 ") && s.contains("user4@example.com"), "{s}");
}

/// Issue 25, defect 7: a refused filter says why until the next key, and never hides the path
/// of the last export.
#[test]
fn a_refused_filter_neither_stays_nor_hides_the_export_path() {
    let mut app = reports_app(stored(3, OffsetDateTime::now_utc()));
    app.update(Msg::ReportsExported { count: 3, result: Ok(std::path::PathBuf::from("/data/exports/scimitar-report-1.csv")) });
    key(&mut app, KeyCode::Char('/'));
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    typ(&mut app, "bogus");
    key(&mut app, KeyCode::Enter);
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut app, w, h);
        let pane: String = s.lines().take_while(|l| !l.contains("╭ Log")).collect::<Vec<_>>().join("\n");
        assert!(pane.contains("refused") && pane.contains("exported to /data/exports/scimitar-report-1.csv"), "{w}x{h}\n{s}");
    }
    assert!(app.log.iter().any(|e| e.text.contains("exported 3 records to")));
    key(&mut app, KeyCode::Char('j'));
    let s = screen(&mut app, 80, 24);
    let pane: String = s.lines().take_while(|l| !l.contains("╭ Log")).collect::<Vec<_>>().join("\n");
    assert!(!pane.contains("refused") && pane.contains("exported to /data/exports"), "{s}");
}

#[test]
fn report_detail_and_export_effect() {
    let recs = stored(30, OffsetDateTime::now_utc());
    let mut app = reports_app(recs.clone());
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.top::<Detail>().map(|d| d.title.clone()), Some(format!(" Record {} ", recs[1].seq)));
    for (w, h) in [(200, 50), (80, 24)] {
        if h == 24 {
            app.update(Msg::Resize(w, h));
            key(&mut app, KeyCode::PageDown); // the hashes are the last fields
        }
        let s = screen(&mut app, w, h);
        assert!(s.contains(&format!("Record {}", recs[1].seq)), "{s}");
        assert!(s.contains("prev_hash") && s.contains(&recs[1].hash[..20]), "{s}");
    }
    key(&mut app, KeyCode::Esc);
    assert!(app.overlays.is_empty());
    let fx = key(&mut app, KeyCode::Char('e'));
    let [Effect::ExportReports { records }] = fx.as_slice() else { panic!("{fx:?}") };
    assert_eq!(records, &recs);
    assert!(key(&mut app, KeyCode::Char('e')).is_empty(), "one export at a time");
    app.update(Msg::ReportsExported { count: 30, result: Ok(PathBuf::from("/tmp/x/scimitar-report-1.csv")) });
    let last = app.log.back().unwrap();
    assert_eq!(last.level, Level::Ok);
    assert!(last.text.contains("exported 30 records to /tmp/x/scimitar-report-1.csv"), "{}", last.text);
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("exported to /tmp/x/scimitar-report-1.csv"), "{s}");
}

#[test]
fn export_writes_csv_that_reads_back_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let recs = stored_with(12, OffsetDateTime::now_utc(), op_clean);
    let now = time::macros::datetime!(2026-11-22 19:07:00 UTC);
    let p1 = reports::export_csv(&recs, dir.path(), now).unwrap();
    assert_eq!(p1.file_name().unwrap(), "scimitar-report-20261122-190700.csv");
    let back = provision::report::interchange::read_csv(std::fs::File::open(&p1).unwrap()).unwrap();
    assert_eq!(back, recs);
    let p2 = reports::export_csv(&recs[..2], dir.path(), now).unwrap();
    assert_ne!(p1, p2);
    assert_eq!(provision::report::interchange::read_csv(std::fs::File::open(&p2).unwrap()).unwrap(), recs[..2]);
    assert_eq!(provision::report::interchange::read_csv(std::fs::File::open(&p1).unwrap()).unwrap().len(), 12, "first file untouched");
}

/// A record whose fields begin with what a spreadsheet runs (`=`, `+`, `-`, `@`) is exported with
/// a leading `'` in those cells, and reads back as it was.
#[test]
fn export_neutralises_formula_cells_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut recs = stored_with(3, OffsetDateTime::now_utc(), op_clean);
    recs[0].record.target_display = Some("=HYPERLINK(\"http://evil.example\")".into());
    recs[1].record.error_message = Some("+cmd|' /C calc'!A0".into());
    recs[2].record.target_user_name = Some("@SUM(1)".into());
    recs[2].record.target_display = Some("'-quoted".into());
    let p = reports::export_csv(&recs, dir.path(), OffsetDateTime::now_utc()).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    let mut raw = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
    for rec in raw.records() {
        for cell in rec.unwrap().iter() {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "{cell:?}");
        }
    }
    assert!(text.contains("'=HYPERLINK") && text.contains("''-quoted"), "{text}");
    assert_eq!(provision::report::interchange::read_csv(std::fs::File::open(&p).unwrap()).unwrap(), recs);
}

/// The export holds emails and names: owner-only, whatever the umask.
#[cfg(unix)]
#[test]
fn export_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let recs = stored_with(3, OffsetDateTime::now_utc(), op_clean);
    let p = reports::export_csv(&recs, dir.path(), OffsetDateTime::now_utc()).unwrap();
    assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn load_reads_records_counts_and_days_from_a_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scimitar.db");
    let now = OffsetDateTime::now_utc();
    let mut s = ReportStore::open(&db).unwrap();
    for i in 0..6 {
        let o = if i == 2 { Outcome::Failed } else { Outcome::Done };
        s.append(&op(i, &format!("u{i}@x.example"), o, now - Duration::days(i as i64))).unwrap();
    }
    drop(s);
    let mut app = app_with(1);
    key(&mut app, KeyCode::Char('4'));
    let (q, span) = reports(&app).build_query(now).unwrap();
    assert_eq!(span, ((now - Duration::days(7)).date(), now.date()));
    let d = reports::load(&db, &q).unwrap();
    assert_eq!((d.rows.len(), d.total), (6, 6));
    assert_eq!(d.rows[0].target, "u0@x.example");
    assert_eq!(d.daily.iter().filter(|(_, o, _)| *o == Outcome::Failed).count(), 1);
    app.pane_mut::<ReportsPane>().inputs[2] = tui_input::Input::new("failed".into());
    let (q, _) = reports(&app).build_query(now).unwrap();
    let d = reports::load(&db, &q).unwrap();
    assert_eq!(d.total, 1);
    assert_eq!(d.rows[0].code, "invalid_manager");
}

// ---- Policies ---------------------------------------------------------------------------------

fn policy() -> Policy {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/policy.toml")).unwrap();
    Policy::parse(&text, std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/policy.toml"))).unwrap()
}

fn deact(i: usize) -> Deactivate {
    Deactivate {
        id: format!("W9{i:04}"),
        email: format!("gone{i}@example.com"),
        label: format!("gone{i}@example.com"),
        reason: Reason::Deleted,
        row_line: None,
    }
}

pub fn plan(deactivations: usize) -> Plan {
    let new_user =
        User { user_name: Some("ann".into()), emails: Some(vec![MultiValue::email("ann@example.com", true)]), ..Default::default() };
    Plan {
        creates: vec![CreateUser { row_line: 2, key: "ann@example.com".into(), label: "ann@example.com".into(), user: new_user }],
        updates: vec![UpdateUser {
            id: "W00000001".into(),
            label: "bob@example.com".into(),
            row_line: 3,
            changes: vec![AttrChange { attr: Attr::Title, old: Some("Engineer".into()), new: Some("Staff Engineer".into()) }],
            patch: User::default(),
        }],
        member_adds: vec![MemberChange {
            group: GroupTarget::Existing { id: "S001".into() },
            group_name: "eng".into(),
            members: vec![MemberRef::Pending { key: "ann@example.com".into(), label: "ann@example.com".into() }],
        }],
        deactivations: (0..deactivations).map(deact).collect(),
        warnings: vec!["row 9: manager zed@example.com is not in the source".into()],
        ..Default::default()
    }
}

fn handle(p: Plan) -> PlanHandle {
    PlanHandle(Arc::new(LivePlan {
        policy: policy(),
        plan: p,
        prior: None,
        active_users: 1000,
        state_file: PathBuf::from("/nonexistent/hr.json"),
        update_emails: HashMap::new(),
        knowledge: Default::default(),
        source_stats: Default::default(),
        source_drops: vec![],
    }))
}

/// The Policies pane opened, listed, and the first policy's plan computed as `p`.
pub fn policies_app(p: Plan) -> App {
    let mut app = app_with(20);
    let fx = key(&mut app, KeyCode::Char('3'));
    assert_eq!(fx, [Effect::ListPolicies]);
    let list = vec![("hr".to_string(), PathBuf::from("/p/hr.toml")), ("contractors".to_string(), PathBuf::from("/p/contractors.toml"))];
    let fx = app.update(Msg::PoliciesListed(list));
    let [Effect::ComputePlan { generation, name, path }] = fx.as_slice() else { panic!("{fx:?}") };
    assert_eq!((name.as_str(), path.as_path()), ("hr", std::path::Path::new("/p/hr.toml")));
    assert!(app.busy(), "a spinner runs while the plan is computed");
    app.update(Msg::PlanComputed { generation: *generation, name: name.clone(), result: Ok(handle(p)) });
    assert!(!app.busy());
    app
}

#[test]
fn plan_rows_group_changes_by_kind_with_counts() {
    let rows = plan_rows(&plan(3));
    let heads: Vec<&str> = rows.iter().filter(|r| r.heading).map(|r| r.text.as_str()).collect();
    assert_eq!(heads, ["Create users (1)", "Update users (1)", "Deactivate users (3)", "Add members (1)", "Warnings (1)"]);
    let upd = rows.iter().find(|r| r.kind == Kind::Update && !r.heading).unwrap();
    assert!(upd.detail.contains(&("title".into(), "Engineer → Staff Engineer".into())), "{:?}", upd.detail);
    let d = rows.iter().find(|r| r.kind == Kind::Deactivate && !r.heading).unwrap();
    assert!(d.detail.contains(&("reason".into(), "not in source".into())));
}

#[test]
fn rows_that_break_slacks_rules_are_listed_as_left_out() {
    let mut p = plan(1);
    p.violations = vec![provision::policy::plan::Violation {
        row_line: 7,
        key: "zoe@example.com".into(),
        rule: provision::policy::plan::Rule::UserNameTooLong,
        message: "userName zoe.has.a.very.long.username is 31 characters once Slack normalises it".into(),
    }];
    let rows = plan_rows(&p);
    let heads: Vec<&str> = rows.iter().filter(|r| r.heading).map(|r| r.text.as_str()).collect();
    assert!(heads.contains(&"Left out (Slack's rules) (1)"), "{heads:?}");
    let row = rows.iter().find(|r| r.kind == Kind::LeftOut && !r.heading).unwrap();
    assert!(row.detail.contains(&("row".into(), "7".into())) && row.detail.contains(&("source key".into(), "zoe@example.com".into())));
    for (w, h) in [(80, 24), (200, 50)] {
        let mut app = policies_app(p.clone());
        let s = screen(&mut app, w, h);
        assert!(s.contains("1 left out"), "the plan's header says rows are left out ({w}x{h}):\n{s}");
        if h == 50 {
            assert!(s.contains("row 7 zoe@example.com: userName zoe.has.a.very.long.username"), "{s}");
        }
    }
}

#[test]
fn policies_render_list_and_plan() {
    for (w, h) in [(80, 24), (200, 50)] {
        let mut app = policies_app(plan(3));
        let s = screen(&mut app, w, h);
        assert!(s.contains("hr") && s.contains("contractors"), "{s}");
        assert!(s.contains("1 create, 1 update, 3 deactivate"), "{s}");
        assert!(s.contains("Create users (1)") && s.contains("Deactivate users (3)"), "{s}");
        assert!(s.contains("gone0@example.com (not in source)"), "{s}");
        if h == 50 {
            assert!(s.contains("Warnings (1)") && s.contains("ann@example.com → eng"), "{s}");
        }
    }
    // Before a plan: the computing indicator.
    let mut app = app_with(5);
    key(&mut app, KeyCode::Char('3'));
    app.update(Msg::PoliciesListed(vec![("hr".into(), PathBuf::from("/p/hr.toml"))]));
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("computing the plan of hr"), "{s}");
    // A failure shows the error.
    let g = policies(&app).generation;
    app.update(Msg::PlanComputed { generation: g, name: "hr".into(), result: Err("hr.toml:3: `match_on`: bad".into()) });
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("hr.toml:3: `match_on`: bad"), "{s}");
}

#[test]
fn selecting_a_policy_computes_its_plan_and_drops_stale_results() {
    let mut app = policies_app(plan(1));
    key(&mut app, KeyCode::Char('j'));
    let fx = key(&mut app, KeyCode::Enter);
    let [Effect::ComputePlan { generation, name, .. }] = fx.as_slice() else { panic!("{fx:?}") };
    assert_eq!(name, "contractors");
    let stale = generation - 1;
    app.update(Msg::PlanComputed { generation: stale, name: "hr".into(), result: Ok(handle(Plan::default())) });
    assert!(policies(&app).computing.is_some(), "stale result dropped");
    app.update(Msg::PlanComputed { generation: *generation, name: "contractors".into(), result: Ok(handle(Plan::default())) });
    assert_eq!(policies(&app).plan.as_ref().unwrap().name, "contractors");
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("nothing to do"), "{s}");
    // An empty plan is not applied.
    assert!(key(&mut app, KeyCode::Char('A')).is_empty());
    assert!(app.overlays.is_empty());
    assert!(app.log.back().unwrap().text.contains("nothing to apply"));
}

#[test]
fn enter_on_a_change_opens_its_detail() {
    let mut app = policies_app(plan(2));
    assert!(!policies(&app).focus_plan, "the plan computed on opening leaves the keys with the list");
    assert!(key(&mut app, KeyCode::Enter).is_empty(), "Enter on the policy whose plan is shown moves to it");
    assert!(policies(&app).focus_plan);
    // The first change row is selected (headings are skipped at first).
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Enter);
    let d = app.top::<Detail>().unwrap_or_else(|| panic!("{:?}", titles(&app)));
    assert!(d.title.starts_with(" Update users: "), "{}", d.title);
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut app, w, h);
        assert!(s.contains("Update users") && s.contains("Engineer → Staff Engineer"), "{s}");
    }
    key(&mut app, KeyCode::Esc);
    // On a heading Enter opens nothing; h goes back to the list.
    key(&mut app, KeyCode::Char('g'));
    key(&mut app, KeyCode::Enter);
    assert!(app.overlays.is_empty());
    key(&mut app, KeyCode::Char('h'));
    assert!(!policies(&app).focus_plan);
}

#[test]
fn apply_needs_one_confirmation_and_reports_progress() {
    let mut app = policies_app(plan(2));
    key(&mut app, KeyCode::Char('A'));
    assert_eq!(app.top::<ApplyConfirm>().map(|c| c.typed.as_str()), Some(""));
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut app, w, h);
        assert!(s.contains("Apply policy hr?") && s.contains("2 deactivations") && s.contains("Enter/y apply"), "{s}");
    }
    // Esc cancels; nothing runs.
    assert!(key(&mut app, KeyCode::Esc).is_empty());
    assert!(app.overlays.is_empty());
    key(&mut app, KeyCode::Char('A'));
    let shown = screen(&mut app, 200, 50);
    let ops: usize = shown
        .split(" operations to send")
        .next()
        .and_then(|b| b.rsplit(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{shown}"));
    // Newcomer run, item 3 (199 confirmed, 200 ran): the second pass (ann, a new user, added to
    // eng once she exists) is said with its count, and counted in the progress.
    assert!(shown.contains("Then 1 more in a second pass, once the new users exist."), "{shown}");
    let fx = key(&mut app, KeyCode::Char('y'));
    let [Effect::ApplyPlan { name, plan, force }] = fx.as_slice() else { panic!("{fx:?}") };
    // The total is the count confirmed from the start, before any batch (the newcomer run saw
    // `32/103` after confirming 199: the deactivations are a later batch).
    let ops = ops + 1;
    assert_eq!(policies(&app).progress, (0, 0, ops));
    assert_eq!((name.as_str(), *force), ("hr", false));
    assert_eq!(plan, &policies(&app).plan.as_ref().unwrap().live, "the plan applied is the plan shown");
    assert!(app.busy());
    // A second A while applying does nothing.
    assert!(key(&mut app, KeyCode::Char('A')).is_empty());
    // Queue events flow into the Log pane and the status line.
    app.update(Msg::Queue(QueueEvent::BatchStarted { batch_id: "b1".into(), total: 2 }));
    app.update(Msg::Queue(QueueEvent::OpFinished {
        batch_id: "b1".into(),
        op_id: "o1".into(),
        seq: 1,
        describe: "create user ann@example.com".into(),
        state: OpState::Done,
        message: String::new(),
        retries: 0,
    }));
    app.update(Msg::Queue(QueueEvent::OpFinished {
        batch_id: "b1".into(),
        op_id: "o2".into(),
        seq: 2,
        describe: "deactivate gone0@example.com".into(),
        state: OpState::Failed,
        message: "user_not_found".into(),
        retries: 1,
    }));
    assert_eq!(policies(&app).progress, (1, 1, ops));
    assert!(ops > 2);
    assert!(app.queue.status.contains(&format!("hr 2/{ops} (1 failed)")), "{}", app.queue.status);
    let texts: Vec<&str> = app.log.iter().map(|e| e.text.as_str()).collect();
    assert!(texts.contains(&"done: create user ann@example.com"), "{texts:?}");
    assert!(app.log.iter().any(|e| e.level == Level::Error && e.text == "failed: deactivate gone0@example.com: user_not_found"));
    let s = screen(&mut app, 200, 50);
    assert!(s.contains(&format!("applying hr: 1/{ops}, 1 failed")), "{s}");
    // The end: a summary, and the plan is computed again.
    let outcome = provision::policy::apply::ApplyOutcome {
        run_id: "pr-1".into(),
        batches: vec![],
        skipped: vec!["skipped x: protected".into()],
        missing: vec![],
        stopped_after_first: true,
        state_error: None,
        complete: false,
    };
    let fx = app.update(Msg::ApplyDone { name: "hr".into(), result: Ok(outcome) });
    // Fresh views (issue 12): Users and Groups are read again without `r`, then the plan.
    assert!(
        matches!(fx.as_slice(), [Effect::ComputePlan { name, .. }, Effect::LoadUsers { .. }, Effect::LoadGroups { .. }] if name == "hr"),
        "{fx:?}"
    );
    assert_eq!(app.queue.status, "idle");
    assert!(app.log.iter().any(|e| e.level == Level::Warn && e.text.contains("not fully applied (run pr-1)")));
    assert!(app.log.iter().any(|e| e.text == "skipped x: protected"));
    assert!(app.log.iter().any(|e| e.text.starts_with("pass 1 did not fully succeed")));
}

/// `A` shows the gate's decision; under `--read-only` the gate refuses and no confirmation opens
/// (the issue: Policies → A → Enter applied the whole plan while the status line said read-only).
#[test]
fn apply_shows_the_gate_and_read_only_refuses_it() {
    let mut app = policies_app(plan(2));
    key(&mut app, KeyCode::Char('A'));
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("operations to send: 1 to create user, 1 to update, 2 to deactivate"), "{s}");
    key(&mut app, KeyCode::Esc);

    let mut app = policies_app(plan(2));
    app.queue.safety.read_only = true;
    assert!(key(&mut app, KeyCode::Char('A')).is_empty());
    assert!(app.overlays.is_empty(), "{:?}", titles(&app));
    let last = app.log.back().unwrap().text.clone();
    assert!(last.starts_with("apply policy hr: read-only mode"), "{last}");
    // Enter afterwards opens the change under the cursor at most, never an apply.
    let fx = key(&mut app, KeyCode::Enter);
    assert!(!fx.iter().any(|e| matches!(e, Effect::ApplyPlan { .. })), "{fx:?}");
    assert!(policies(&app).applying.is_none());
}

#[test]
fn many_deactivations_or_a_ceiling_need_the_count_typed() {
    // 30 > 25 (the typed-confirmation threshold) and > the example policy's max_deactivations 25.
    let mut app = policies_app(plan(30));
    assert!(policies(&app).plan.as_ref().unwrap().ceiling.is_some());
    key(&mut app, KeyCode::Char('A'));
    // The count is the operations' (32: the create, the update, the 30 deactivations), as
    // every confirmation asks it (issue 25: this one asked for the deactivations).
    let n = app.top::<ApplyConfirm>().unwrap().terms.operations;
    assert_eq!(n, 32);
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("WARNING") && s.contains("Type 32, the number of operations,"), "{s}");
    assert!(key(&mut app, KeyCode::Char('y')).is_empty(), "y alone does not apply");
    // Enter with nothing typed does what the dialog says: it asks for the count, in the dialog.
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut app, w, h);
        assert!(
            s.contains("nothing typed: type 32") && s.contains("Type 32, the number of operations, and Enter to apply"),
            "{w}x{h}\n{s}"
        );
        assert!(!s.contains("--force"), "the console has no --force: {s}");
    }
    typ(&mut app, "30");
    assert!(key(&mut app, KeyCode::Enter).is_empty(), "a wrong count (the deactivations') does not apply");
    assert_eq!(app.top::<ApplyConfirm>().map(|c| c.typed.as_str()), Some(""));
    assert!(screen(&mut app, 80, 24).contains("30 is not 32"));
    typ(&mut app, "32");
    let fx = key(&mut app, KeyCode::Enter);
    assert!(matches!(fx.as_slice(), [Effect::ApplyPlan { force: true, .. }]), "{fx:?}");
    assert!(app.overlays.is_empty());
}

#[test]
fn pane_keys_are_in_the_help_and_hint_bar() {
    let mut app = policies_app(plan(1));
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("A apply"), "hint bar\n{s}");
    key(&mut app, KeyCode::Char('?'));
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("Policies pane") && s.contains("apply the plan shown"), "{s}");
    let mut app = reports_app(vec![]);
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("No operation matches") && s.contains("/ filter"), "{s}");
    assert!(!s.contains("e export"), "nothing to export: the hint bar does not offer it\n{s}");
    let mut app = reports_app(stored(3, OffsetDateTime::now_utc()));
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("e export"), "{s}");
}

#[test]
fn policies_in_the_data_dir_come_first() {
    let data = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data.path().join("policies")).unwrap();
    std::fs::create_dir_all(config.path().join("policies")).unwrap();
    std::fs::write(data.path().join("policies/demo-hr.toml"), "").unwrap();
    std::fs::write(config.path().join("policies/aaa.toml"), "").unwrap();
    let names = |l: Vec<(String, std::path::PathBuf)>| l.into_iter().map(|(n, _)| n).filter(|n| n != "examples/policy").collect::<Vec<_>>();
    let list = super::policies::available_in(&data.path().join("policies"), &config.path().join("policies"));
    assert_eq!(names(list), ["demo-hr", "aaa"]);
    // No policies folder in the data dir, or the same folder twice: listed once.
    let list = super::policies::available_in(&data.path().join("nothing"), &config.path().join("policies"));
    assert_eq!(names(list), ["aaa"]);
    let list = super::policies::available_in(&config.path().join("policies"), &config.path().join("policies"));
    assert_eq!(names(list), ["aaa"]);
}

#[test]
fn a_policy_apply_shows_in_the_queue_view() {
    let mut app = policies_app(plan(2));
    key(&mut app, KeyCode::Char('A'));
    let fx = key(&mut app, KeyCode::Char('y'));
    assert!(matches!(fx.as_slice(), [Effect::ApplyPlan { .. }]), "{fx:?}");
    app.update(Msg::Queue(QueueEvent::BatchStarted { batch_id: "b-7".into(), total: 2 }));
    app.update(Msg::Queue(QueueEvent::OpStarted {
        batch_id: "b-7".into(),
        op_id: "b-7-00001".into(),
        seq: 1,
        describe: "deactivate gone0@example.com".into(),
        attempt: 1,
    }));
    app.update(Msg::Queue(QueueEvent::OpFinished {
        batch_id: "b-7".into(),
        op_id: "b-7-00002".into(),
        seq: 2,
        describe: "deactivate gone1@example.com".into(),
        state: OpState::Failed,
        message: "cannot_disable_primary_owner".into(),
        retries: 0,
    }));
    let b = app.queue.batch.as_ref().expect("the queue view follows the apply");
    assert_eq!(b.ops.len(), 2, "ops are matched by the journal's ids");
    assert_eq!((b.ops[0].state, b.ops[0].describe.as_str()), (OpState::Running, "deactivate gone0@example.com"));
    assert_eq!(b.ops[1].state, OpState::Failed);
    // `Q` shows it; `x` there cancels (the executor stops the apply).
    key(&mut app, KeyCode::Char('Q'));
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("policy hr") && s.contains("deactivate gone0@example.com") && s.contains("FAILED"), "{s}");
    let fx = key(&mut app, KeyCode::Char('x'));
    assert!(matches!(fx.as_slice(), [Effect::CancelBatch { batch_id }] if batch_id == "b-7"), "{fx:?}");
}

/// Issue 11's left-over: the pane shows each policy's sync state, and a quarantined one is
/// reviewed and approved from it (the runtime runs `sync::approve`, as `scimitar sync approve`).
#[test]
fn the_policies_pane_shows_sync_state_and_approves_a_quarantine() {
    use provision::sync::{Quarantine, QuarantineKind, RunRecord, RunResult, SyncState};
    let mut app = policies_app(plan(3));
    let t = OffsetDateTime::now_utc();
    let state = |quarantine: Option<Quarantine>, result: RunResult| SyncState {
        profile: "console".into(),
        policy: "hr".into(),
        quarantine,
        running_run: None,
        running_pid: None,
        next_run: None,
        last_success: None,
        last_run: Some(RunRecord {
            profile: "console".into(),
            policy: "hr".into(),
            run_id: Some("pr-1".into()),
            started: t,
            finished: t,
            result,
            message: None,
            ops: Default::default(),
            plan: None,
        }),
    };
    app.update(Msg::SyncState { name: "hr".into(), state: Some(Box::new(state(None, RunResult::Applied))) });
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("sync: last run applied at"), "{s}");
    assert!(!crate::component::Component::keys(policies(&app), &app.view()).iter().any(|o| o.now && o.label == "S"), "nothing to approve");
    assert!(key(&mut app, KeyCode::Char('S')).is_empty());
    // Quarantined: the pane says so, and why; S reviews it.
    let q = Quarantine {
        kind: QuarantineKind::Ceiling,
        reason: "the plan would deactivate 40 users, above the limit of 25".into(),
        run_id: Some("pr-2".into()),
        since: t,
        held: serde_json::json!({"summary": "40 deactivate", "plan": {"deactivations": 40}}),
    };
    app.update(Msg::SyncState { name: "hr".into(), state: Some(Box::new(state(Some(q.clone()), RunResult::Quarantined))) });
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut app, w, h);
        assert!(s.contains("sync QUARANTINED") && s.contains("(Ceiling)"), "{w}x{h}\n{s}");
    }
    assert!(screen(&mut app, 200, 50).contains("S approve sync"));
    let fx = key(&mut app, KeyCode::Char('S'));
    assert_eq!(fx, [Effect::ReviewSync { name: "hr".into(), path: PathBuf::from("/p/hr.toml") }]);
    assert!(key(&mut app, KeyCode::Char('S')).is_empty(), "one review at a time");
    // The runtime's review (`sync::review`) opens the approval dialog.
    let live = handle(plan(3)).0;
    let live = Arc::try_unwrap(live).unwrap_or_else(|_| panic!("one owner"));
    let decision = provision::policy::apply::preview(&live, &app.queue.safety);
    let n = decision.runnable().len();
    let review = provision::sync::Review { quarantine: q, live, decision, ceilings: vec!["over 25".into()] };
    let handle = super::msg::ReviewHandle::new(review);
    app.update(Msg::SyncReviewed { name: "hr".into(), result: Ok(handle.clone()) });
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut app, w, h);
        for part in [
            "Approve the quarantined sync of hr?",
            "quarantined since",
            "over the ceiling",
            &format!("Type {n}, the number of operations,"),
            "Esc cancel",
        ] {
            assert!(s.contains(part), "{part} at {w}x{h}:\n{s}");
        }
    }
    assert!(key(&mut app, KeyCode::Enter).is_empty(), "Enter without the count does not approve");
    assert!(screen(&mut app, 80, 24).contains("nothing typed"));
    typ(&mut app, &n.to_string());
    let fx = key(&mut app, KeyCode::Enter);
    assert_eq!(fx, [Effect::ApproveSync { name: "hr".into(), path: PathBuf::from("/p/hr.toml"), review: handle }]);
    assert!(app.overlays.is_empty());
    // The result: a Log line, fresh views and the plan again.
    let fx = app.update(Msg::SyncApproved { name: "hr".into(), result: Ok("applied (4 done, 0 failed)".into()) });
    assert!(app.log.iter().any(|e| e.text == "policy hr: sync approved: applied (4 done, 0 failed)"));
    assert!(
        fx.iter().any(|e| matches!(e, Effect::LoadUsers { .. })) && fx.iter().any(|e| matches!(e, Effect::ComputePlan { .. })),
        "{fx:?}"
    );
}

/// Issue 25, defect 19: the plan's header never ends mid-sentence: a quarantine's reason and the
/// ceiling show whole where there is room (200x50), else in their short forms (80x24; the Log
/// and `S` have the reason).
#[test]
fn the_plan_header_shows_whole_lines_or_short_forms() {
    use provision::sync::{Quarantine, QuarantineKind, SyncState};
    let mut app = policies_app(plan(30));
    let q = Quarantine {
        kind: QuarantineKind::Ceiling,
        reason: "the plan would deactivate 40 users, above the limit of 25 set by the policy; review it END".into(),
        run_id: Some("pr-2".into()),
        since: OffsetDateTime::now_utc(),
        held: serde_json::json!({"summary": "40 deactivate"}),
    };
    let state = SyncState {
        profile: "console".into(),
        policy: "hr".into(),
        quarantine: Some(q),
        running_run: None,
        running_pid: None,
        next_run: None,
        last_success: None,
        last_run: None,
    };
    app.update(Msg::SyncState { name: "hr".into(), state: Some(Box::new(state)) });
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("review it") && s.contains("END") && s.contains("or raise the limit"), "whole at 200x50:\n{s}");
    for (w, h) in [(80, 24), (60, 20)] {
        let s = screen(&mut app, w, h);
        assert!(!s.contains("the limit of 25 set") || s.contains("END"), "no reason cut at {w}x{h}:\n{s}");
        assert!(!s.contains("p…"), "{s}");
    }
    assert!(screen(&mut app, 80, 24).contains("sync QUARANTINED (Ceiling) S review and approve"));
}

/// Issue 25, defect 24: a plan's manager change names both managers, as the user detail does
/// (it showed `W00000004 → W00000005`).
#[test]
fn a_manager_change_in_the_plan_names_the_managers() {
    let mut p = plan(2);
    p.updates[0].changes.push(AttrChange { attr: Attr::Manager, old: Some("W00000004".into()), new: Some("W00000005".into()) });
    let mut app = policies_app(p);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Enter);
    let d = app.top::<Detail>().unwrap_or_else(|| panic!("{:?}", titles(&app)));
    assert!(d.title.starts_with(" Update users: "), "{}", d.title);
    let (old, new) = (super::tests::make_user(4), super::tests::make_user(5));
    let want = format!("W00000004 ({}) → W00000005 ({})", old.display_name.unwrap(), new.display_name.unwrap());
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut app, w, h);
        let flat: String = s.lines().map(|l| l.trim_matches(|c: char| c == '│' || c == ' ')).collect::<Vec<_>>().join(" ");
        assert!(flat.contains(&want), "{want}\n{s}");
    }
}
