//! Provisioning reports end to end: records from a bulk run, a failed operation and a resumed run are
//! found by user, time span and outcome; CLI exports parse back to the same records; an edited record
//! fails `verify`; two processes appending at once lose nothing.

#[path = "common/old_report_layout.rs"]
mod old_report_layout;

use clap::Parser;
use scimitar::commands::report::{self as cli, ReportArgs};
use scimitar::env::Actor;
use scimitar::report::interchange;
use scimitar::report::{OperationRecord, Outcome, ReportQuery, ReportStore, StoredRecord};
use std::path::Path;
use std::process::{Command, Stdio};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ReportArgs,
}

/// Run `scimitar report ARGS --db DB`; returns (exit code, stdout, stderr).
fn report(db: &Path, args: &[&str]) -> (i32, String, String) {
    let mut argv = vec!["report", "--db", db.to_str().unwrap()];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = cli::run(cli.args, &mut out, &mut err);
    (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

const T0: OffsetDateTime = datetime!(2026-11-01 09:00 UTC);
const RESUMED: OffsetDateTime = datetime!(2026-11-03 14:00 UTC);

fn deactivate(i: u32, started: OffsetDateTime, outcome: Outcome) -> OperationRecord {
    let Actor { user: os_user, host: os_host } = Actor::of_process(None);
    OperationRecord {
        op_id: format!("op-{i}-{}", started.unix_timestamp()),
        batch_id: Some("bulk-7f3a".into()),
        policy_run: None,
        started_at: started,
        finished_at: started + Duration::milliseconds(180),
        profile: "prod".into(),
        host: "api.slack.com".into(),
        action: "deactivate".into(),
        target_id: Some(format!("U{i:04}")),
        target_email: Some(format!("user{i}@corp.example")),
        target_user_name: Some(format!("user{i}")),
        target_display: Some(format!("User, \"{i}\"\nNumber {i}")),
        outcome,
        error_code: None,
        error_message: None,
        http_status: (outcome == Outcome::Done).then_some(200),
        retries: 0,
        duration_ms: 180,
        os_user,
        os_host,
        detail: Some(serde_json::json!({"active": false, "reason": "offboarding"})),
        db_role: None,
        proposed_by: None,
        approved_by: None,
    }
}

/// A bulk run of 50 deactivations (40 done, one failed with Slack's error, 9 cancelled when the
/// run was interrupted) and a resumed run of the same batch two days later that finishes the 9.
fn populate(store: &mut ReportStore) {
    let mut bulk = Vec::new();
    for i in 0..50u32 {
        let started = T0 + Duration::seconds(i as i64);
        let mut r = deactivate(i, started, if i < 41 { Outcome::Done } else { Outcome::Cancelled });
        if i == 40 {
            r.target_email = Some("Jane.Doe@Corp.Example".into());
            r.target_user_name = Some("JDoe".into());
            r.outcome = Outcome::Failed;
            r.error_code = Some("cannot_disable_primary_owner".into());
            r.error_message = Some("The primary owner cannot be disabled.".into());
            r.http_status = Some(403);
            r.retries = 2;
            r.detail = None;
        }
        if i == 7 {
            r.retries = 3; // survived a few 429s
        }
        bulk.push(r);
    }
    store.append_many(&bulk).unwrap();
    for i in 41..50u32 {
        store.append(&deactivate(i, RESUMED + Duration::seconds(i as i64), Outcome::Done)).unwrap();
    }
}

fn seqs(rs: &[StoredRecord]) -> Vec<i64> {
    rs.iter().map(|r| r.seq).collect()
}

#[test]
fn bulk_failed_and_resumed_runs_are_found_by_user_span_and_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scimitar.db");
    let mut store = ReportStore::open(&db).unwrap();
    populate(&mut store);
    assert_eq!(store.count().unwrap(), 59);
    let q = |q: ReportQuery| store.query(&q).unwrap();
    let user = |u: &str| q(ReportQuery { user: Some(u.into()), ..Default::default() });

    // the failed operation, by email in another case, by id and by userName
    for u in ["jane.doe@corp.example", "JANE.DOE@CORP.EXAMPLE", "U0040", "jdoe"] {
        let found = user(u);
        assert_eq!(found.len(), 1, "{u}");
        let r = &found[0].record;
        assert_eq!(r.outcome, Outcome::Failed);
        assert_eq!(r.error_code.as_deref(), Some("cannot_disable_primary_owner"));
        assert_eq!(r.error_message.as_deref(), Some("The primary owner cannot be disabled."));
        assert_eq!((r.http_status, r.retries), (Some(403), 2));
    }
    // an interrupted then resumed operation: both records, newest (the resumed one) first
    let u45 = user("User45@corp.example");
    assert_eq!(u45.iter().map(|r| r.record.outcome).collect::<Vec<_>>(), vec![Outcome::Done, Outcome::Cancelled]);
    assert_eq!(u45[0].record.finished_at, RESUMED + Duration::seconds(45) + Duration::milliseconds(180));
    assert_eq!(seqs(&user("U0045")), seqs(&u45));
    assert_eq!(seqs(&user("user45")), seqs(&u45));
    assert!(user("user4").iter().all(|r| r.record.target_id.as_deref() == Some("U0004")), "no prefix matches");

    // time spans
    let resumed = q(ReportQuery { since: Some(RESUMED - Duration::hours(1)), ..Default::default() });
    assert_eq!(resumed.len(), 9);
    assert!(resumed.iter().all(|r| r.record.outcome == Outcome::Done && r.seq > 50));
    let first_ten_s = q(ReportQuery { since: Some(T0), until: Some(T0 + Duration::seconds(10)), ..Default::default() });
    assert_eq!(seqs(&first_ten_s), (1..=10).rev().collect::<Vec<_>>());
    assert!(q(ReportQuery { until: Some(T0), ..Default::default() }).is_empty());

    // outcomes, batch
    assert_eq!(seqs(&q(ReportQuery { outcome: Some(Outcome::Failed), ..Default::default() })), vec![41]);
    assert_eq!(q(ReportQuery { outcome: Some(Outcome::Cancelled), ..Default::default() }).len(), 9);
    assert_eq!(q(ReportQuery { outcome: Some(Outcome::Done), ..Default::default() }).len(), 49);
    assert_eq!(q(ReportQuery { batch: Some("bulk-7f3a".into()), ..Default::default() }).len(), 59);
    assert!(q(ReportQuery { batch: Some("bulk-other".into()), ..Default::default() }).is_empty());
    assert_eq!(
        store.summary(&ReportQuery::default()).unwrap(),
        vec![
            ("deactivate".into(), Outcome::Done, 49),
            ("deactivate".into(), Outcome::Failed, 1),
            ("deactivate".into(), Outcome::Cancelled, 9)
        ]
    );
    let days = store.daily_counts(&ReportQuery::default()).unwrap();
    assert_eq!(days.len(), 4);
    assert_eq!(days[3], (RESUMED.date(), Outcome::Done, 9));

    // the same through the CLI, with relative and absolute times
    let (code, out, err) = report(&db, &["--user", "JANE.doe@corp.example", "--output", "json"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(interchange::read_json_lines(out.as_bytes()).unwrap(), user("jdoe"));
    let (code, out, _) = report(&db, &["--since", "2026-11-03", "--until", "2026-11-04 00:00", "--output", "csv"]);
    assert_eq!(code, 0);
    assert_eq!(interchange::read_csv(out.as_bytes()).unwrap(), resumed);
    let (code, out, _) = report(&db, &["--outcome", "cancelled", "--since", "3650d", "--output", "json"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 9);
    let (code, out, _) = report(&db, &["--summary", "--batch", "bulk-7f3a", "--output", "json"]);
    assert_eq!(code, 0);
    let summary: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(summary.contains(&serde_json::json!({"action": "deactivate", "outcome": "failed", "count": 1})), "{out}");
    let (code, out, _) = report(&db, &["--user", "jdoe"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("SEQ") && out.contains("cannot_disable_primary_owner") && out.contains("failed"), "{out}");
    let (code, _, err) = report(&db, &["--since", "last tuesday"]);
    assert_eq!(code, 64);
    assert!(err.contains("\"last tuesday\""), "{err}");
}

#[test]
fn csv_and_json_exports_parse_back_to_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scimitar.db");
    let mut store = ReportStore::open(&db).unwrap();
    populate(&mut store);
    let all = store.query(&ReportQuery::default()).unwrap();
    assert_eq!(all.len(), 59);
    let (code, json, _) = report(&db, &["--limit", "0", "--output", "json"]);
    assert_eq!(code, 0);
    assert_eq!(interchange::read_json_lines(json.as_bytes()).unwrap(), all);
    let (code, csv, _) = report(&db, &["--limit", "0", "--output", "csv"]);
    assert_eq!(code, 0);
    assert_eq!(interchange::read_csv(csv.as_bytes()).unwrap(), all);
    // the limit keeps the newest and says so on stderr
    let (code, json, err) = report(&db, &["--limit", "5", "--output", "json"]);
    assert_eq!(code, 0);
    assert_eq!(interchange::read_json_lines(json.as_bytes()).unwrap(), all[..5]);
    assert!(err.contains("newest 5 of 59"), "{err}");
}

#[test]
fn an_edited_record_fails_verify() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scimitar.db");
    let mut store = ReportStore::open(&db).unwrap();
    populate(&mut store);
    let (code, out, _) = report(&db, &["verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("ok: 59 records"), "{out}");
    // someone hides the failure
    store
        .connection()
        .execute(
            "UPDATE report SET outcome = 'done', error_code = NULL, http_status = 200 \
             WHERE names_id IN (SELECT id FROM report_names WHERE target_user_name = 'JDoe')",
            [],
        )
        .unwrap();
    let (code, out, _) = report(&db, &["verify"]);
    assert_eq!(code, 1);
    assert!(out.starts_with("BROKEN at record 41:"), "{out}");
    let (code, out, _) = report(&db, &["verify", "--output", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["broken"]["seq"], 41);
    // pruning refuses to destroy the evidence
    let (code, _, err) = report(&db, &["prune", "--retain-days", "0"]);
    assert_eq!(code, 1);
    assert!(err.contains("record 41"), "{err}");
    assert_eq!(store.count().unwrap(), 59);
}

#[test]
fn prune_through_the_cli_keeps_the_chain_verifiable() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scimitar.db");
    let mut store = ReportStore::open(&db).unwrap();
    let now = OffsetDateTime::now_utc();
    for i in 0..8u32 {
        let age = if i < 5 { Duration::days(10) } else { Duration::days(1) };
        store.append(&deactivate(i, now - age + Duration::seconds(i as i64), Outcome::Done)).unwrap();
    }
    let (code, out, err) = report(&db, &["prune", "--retain-days", "7"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("pruned 5 records"), "{out}");
    assert_eq!(store.count().unwrap(), 3);
    let (code, out, _) = report(&db, &["verify"]);
    assert_eq!(code, 0, "{out}");
    store.connection().execute("UPDATE report SET target_email = 'x@y.z' WHERE seq = 6", []).unwrap();
    let (code, out, _) = report(&db, &["verify"]);
    assert_eq!(code, 1);
    assert!(out.starts_with("BROKEN at record 6:"), "{out}");
}

/// Appends `SCIMITAR_REPORT_CHILD_N` records tagged with `SCIMITAR_REPORT_CHILD_TAG` to the
/// database at `SCIMITAR_REPORT_CHILD_DB`, one transaction each. Run as a child process by
/// `two_processes_writing_at_once_lose_nothing`; does nothing when run on its own.
#[test]
#[ignore = "helper: run as a child process"]
fn child_writer() {
    let Ok(db) = std::env::var("SCIMITAR_REPORT_CHILD_DB") else { return };
    let n: u32 = std::env::var("SCIMITAR_REPORT_CHILD_N").unwrap().parse().unwrap();
    let tag = std::env::var("SCIMITAR_REPORT_CHILD_TAG").unwrap();
    let mut store = ReportStore::open(Path::new(&db)).unwrap();
    for i in 0..n {
        let mut r = deactivate(i, OffsetDateTime::now_utc(), Outcome::Done);
        r.op_id = format!("{tag}-{i}");
        r.batch_id = Some(tag.clone());
        store.append(&r).unwrap();
    }
    println!("child {tag} wrote {n}");
}

#[test]
fn two_processes_writing_at_once_lose_nothing() {
    const N: u32 = 2000;
    let dir = tempfile::tempdir().unwrap();
    // the children race to create and migrate the database too
    let db = dir.path().join("fresh/scimitar.db");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = ["proc-a", "proc-b"]
        .iter()
        .map(|tag| {
            Command::new(&exe)
                .args(["child_writer", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
                .env("SCIMITAR_REPORT_CHILD_DB", &db)
                .env("SCIMITAR_REPORT_CHILD_N", N.to_string())
                .env("SCIMITAR_REPORT_CHILD_TAG", tag)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (c, tag) in children.into_iter().zip(["proc-a", "proc-b"]) {
        let o = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{tag}: {stdout}\n{}", String::from_utf8_lossy(&o.stderr));
        assert!(stdout.contains(&format!("child {tag} wrote {N}")), "{tag} did not run the helper: {stdout}");
    }
    let store = ReportStore::open(&db).unwrap();
    assert_eq!(store.count().unwrap(), 2 * N as u64);
    let v = store.verify().unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!((v.checked, v.head_seq), (2 * N as u64, 2 * N as i64));
    for tag in ["proc-a", "proc-b"] {
        let q = ReportQuery { batch: Some(tag.into()), ..Default::default() };
        let mut ops: Vec<String> = store.query(&q).unwrap().into_iter().map(|r| r.record.op_id).collect();
        ops.sort();
        ops.dedup();
        assert_eq!(ops.len(), N as usize, "{tag}");
    }
}

/// A database written before the per-day counts existed (schema version 2) gets them on open,
/// backfilled from its records, and `--summary` through the CLI agrees with the records.
#[test]
fn migration_3_backfills_the_counts_of_existing_records() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scimitar.db");
    {
        // the records written by this version, then copied into a version-2 database as migration
        // 1 laid `report` out (migration 6 stores it differently since)
        let current = dir.path().join("current.db");
        populate(&mut ReportStore::open(&current).unwrap());
        let conn = rusqlite::Connection::open(&db).unwrap();
        for sql in &scimitar::db::MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute("ATTACH DATABASE ?1 AS cur", [current.to_string_lossy()]).unwrap();
        conn.execute_batch(old_report_layout::COPY_FROM_CURRENT).unwrap();
        conn.execute_batch("DETACH DATABASE cur;").unwrap();
    }
    let mut store = ReportStore::open(&db).unwrap();
    assert_eq!(scimitar::db::schema_version(&store.connection()).unwrap(), scimitar::db::MIGRATIONS.len());
    let counts: i64 = store.connection().query_row("SELECT sum(n) FROM report_counts", [], |r| r.get(0)).unwrap();
    assert_eq!(counts, 59);
    let summary = |s: &ReportStore, q: &ReportQuery| s.summary(q).unwrap();
    let all = summary(&store, &ReportQuery::default());
    assert_eq!(
        all,
        vec![
            ("deactivate".to_string(), Outcome::Done, 49),
            ("deactivate".to_string(), Outcome::Failed, 1),
            ("deactivate".to_string(), Outcome::Cancelled, 9)
        ]
    );
    let (code, out, err) = report(&db, &["--summary", "--profile", "prod", "--output", "csv"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().skip(1).collect::<Vec<_>>(), ["deactivate,done,49", "deactivate,failed,1", "deactivate,cancelled,9"]);
    // appends after the migration are counted too, and a prune takes its records' counts away
    store.append(&deactivate(99, RESUMED + Duration::hours(1), Outcome::Failed)).unwrap();
    assert_eq!(store.count_matching(&ReportQuery { outcome: Some(Outcome::Failed), ..Default::default() }).unwrap(), 2);
    store.prune(1, RESUMED).unwrap();
    assert_eq!(store.count_matching(&ReportQuery::default()).unwrap(), store.count().unwrap());
    assert_eq!(
        summary(&store, &ReportQuery::default()),
        vec![("deactivate".to_string(), Outcome::Done, 9), ("deactivate".to_string(), Outcome::Failed, 1)]
    );
    assert!(store.verify().unwrap().ok());
}
