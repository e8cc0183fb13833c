//! `cargo bench --bench report`: insert rate and query times of the provisioning reports.
//!
//! Inserts `REPORT_BENCH_N` (default 1,000,000) records spread evenly over a year, in transactions
//! of 10,000, into a temporary database on disk (WAL, synchronous=FULL), then times the queries
//! the CLI and the Reports pane make (with no span and single filters too, and the same answers by
//! the pre-`report_counts` SQL as `scan_*`), verifies the chain, prunes half,
//! times the migration that backfills the per-day counts and the one that converts a version-5
//! database to the compact layout (migration 6). Prints `name: value` lines.

#[path = "../tests/common/old_report_layout.rs"]
mod old_report_layout;

use scimitar::env::Actor;
use scimitar::report::{OperationRecord, Outcome, ReportQuery, ReportStore};
use std::time::Instant;
use time::{Duration, OffsetDateTime};

const USERS: u64 = 10_000;
const BATCH: usize = 10_000;

fn record(i: u64, n: u64, start: OffsetDateTime, actor: &(String, String)) -> OperationRecord {
    let year_ms: i64 = 365 * 86_400_000;
    let finished = start + Duration::milliseconds((i as i128 * year_ms as i128 / n as i128) as i64);
    let u = i % USERS;
    let outcome = match i % 100 {
        0..=89 => Outcome::Done,
        90..=95 => Outcome::Failed,
        96..=98 => Outcome::Skipped,
        _ => Outcome::Cancelled,
    };
    let actions = ["deactivate", "reactivate", "update_user", "add_members", "remove_members", "create_user"];
    OperationRecord {
        op_id: format!("op-{i:08}"),
        batch_id: Some(format!("batch-{}", i / 1000)),
        policy_run: i.is_multiple_of(7).then(|| format!("run-{}", i / 5000)),
        started_at: finished - Duration::milliseconds(150),
        finished_at: finished,
        profile: if i.is_multiple_of(5) { "staging".into() } else { "prod".into() },
        host: "api.slack.com".into(),
        action: actions[(i % actions.len() as u64) as usize].into(),
        target_id: Some(format!("U{u:08}")),
        target_email: Some(format!("user{u}@corp.example")),
        target_user_name: Some(format!("user{u}")),
        target_display: Some(format!("User Number {u}")),
        outcome,
        error_code: (outcome == Outcome::Failed).then(|| "user_not_found".into()),
        error_message: (outcome == Outcome::Failed).then(|| "No user with that id.".into()),
        http_status: Some(if outcome == Outcome::Failed { 404 } else { 200 }),
        retries: i.is_multiple_of(13) as u32,
        duration_ms: 150,
        os_user: actor.0.clone(),
        os_host: actor.1.clone(),
        detail: Some(serde_json::json!({"active": i.is_multiple_of(2)})),
        db_role: None,
        proposed_by: None,
        approved_by: None,
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing to parse.
    let n: u64 = std::env::var("REPORT_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("scimitar.db");
    let mut store = ReportStore::open(&path)?;
    let actor = Actor::new(std::env::var("USER").ok(), None);
    let actor = (actor.user, actor.host);
    let start = OffsetDateTime::now_utc() - Duration::days(365);

    let t = Instant::now();
    let mut i = 0;
    while i < n {
        let end = (i + BATCH as u64).min(n);
        let batch: Vec<OperationRecord> = (i..end).map(|k| record(k, n, start, &actor)).collect();
        store.append_many(&batch)?;
        i = end;
    }
    let insert_s = t.elapsed().as_secs_f64();
    println!("insert_records: {n}");
    println!("insert_s: {insert_s:.2}");
    println!("insert_rate_per_s: {:.0}", n as f64 / insert_s);
    let t = Instant::now();
    store.append(&record(n, n + 1, start, &actor))?;
    println!("single_append_ms: {:.2}", ms(t));

    // by user: 20 different users, three ways of naming them; mean per query
    let t = Instant::now();
    let mut found = 0;
    for k in 0..20u64 {
        let u = k * 487 % USERS;
        let who = match k % 3 {
            0 => format!("USER{u}@corp.example"),
            1 => format!("U{u:08}"),
            _ => format!("user{u}"),
        };
        found += store.query(&ReportQuery { user: Some(who), limit: Some(1000), ..Default::default() })?.len();
    }
    println!("query_by_user_ms: {:.2}", ms(t) / 20.0);
    println!("query_by_user_rows: {}", found / 20);

    let end = OffsetDateTime::now_utc();
    let span = ReportQuery { since: Some(end - Duration::days(7)), until: Some(end), limit: Some(1000), ..Default::default() };
    let t = Instant::now();
    let rows = store.query(&span)?;
    println!("query_7d_span_ms: {:.2}", ms(t));
    println!("query_7d_span_rows: {}", rows.len());
    let t = Instant::now();
    let total = store.count_matching(&span)?;
    println!("count_7d_span_ms: {:.2}", ms(t));
    println!("count_7d_span: {total}");
    let mid = start + Duration::days(180);
    let failed_mid = ReportQuery {
        since: Some(mid),
        until: Some(mid + Duration::days(7)),
        outcome: Some(Outcome::Failed),
        limit: Some(1000),
        ..Default::default()
    };
    let t = Instant::now();
    let rows = store.query(&failed_mid)?;
    println!("query_7d_failed_ms: {:.2}", ms(t));
    println!("query_7d_failed_rows: {}", rows.len());
    let t = Instant::now();
    let s = store.summary(&span)?;
    println!("summary_7d_ms: {:.2}", ms(t));
    println!("summary_7d_groups: {}", s.len());
    let t = Instant::now();
    let s = store.summary(&ReportQuery::default())?;
    println!("summary_all_ms: {:.2}", ms(t));
    println!("summary_all_groups: {}", s.len());
    let t = Instant::now();
    let d = store.daily_counts(&ReportQuery { since: Some(end - Duration::days(30)), ..Default::default() })?;
    println!("daily_counts_30d_ms: {:.2}", ms(t));
    println!("daily_counts_30d_rows: {}", d.len());
    // no span (`--summary` without filters, the Reports pane with `since` cleared), or only a
    // profile, action or outcome filter
    let all = ReportQuery::default();
    let t = Instant::now();
    let total = store.count_matching(&all)?;
    println!("count_all_ms: {:.2}", ms(t));
    println!("count_all: {total}");
    let staging = ReportQuery { profile: Some("staging".into()), ..Default::default() };
    let t = Instant::now();
    let s = store.summary(&staging)?;
    println!("summary_profile_ms: {:.2}", ms(t));
    println!("summary_profile_total: {}", s.iter().map(|g| g.2).sum::<u64>());
    let t = Instant::now();
    let s = store.summary(&ReportQuery { action: Some("deactivate".into()), ..Default::default() })?;
    println!("summary_action_ms: {:.2}", ms(t));
    println!("summary_action_groups: {}", s.len());
    let t = Instant::now();
    let s = store.summary(&ReportQuery { outcome: Some(Outcome::Cancelled), ..Default::default() })?;
    println!("summary_outcome_ms: {:.2}", ms(t));
    println!("summary_outcome_groups: {}", s.len());
    let t = Instant::now();
    let c = store.count_matching(&ReportQuery { outcome: Some(Outcome::Failed), profile: Some("staging".into()), ..Default::default() })?;
    println!("count_profile_outcome_ms: {:.2}", ms(t));
    println!("count_profile_outcome: {c}");
    let t = Instant::now();
    let d = store.daily_counts(&all)?;
    println!("daily_counts_all_ms: {:.2}", ms(t));
    println!("daily_counts_all_rows: {}", d.len());
    // the same answers straight from `report`, as every query did before `report_counts`
    let scan = |name: &str, sql: &str| -> anyhow::Result<()> {
        let t = Instant::now();
        let conn = store.connection();
        let mut st = conn.prepare(sql)?;
        let n = st.query_map([], |_| Ok(()))?.count();
        println!("{name}_ms: {:.2}", ms(t));
        println!("{name}_rows: {n}");
        Ok(())
    };
    scan("scan_summary_all", "SELECT action, outcome, count(*) FROM report GROUP BY action, outcome")?;
    scan("scan_count_all", "SELECT count(*) FROM report")?;
    scan("scan_summary_profile", "SELECT action, outcome, count(*) FROM report WHERE profile = 'staging' GROUP BY action, outcome")?;
    scan("scan_summary_action", "SELECT action, outcome, count(*) FROM report WHERE action = 'deactivate' GROUP BY action, outcome")?;
    scan(
        "scan_daily_counts_all",
        "SELECT finished_ms / 86400000 - (finished_ms % 86400000 < 0) AS day, outcome, count(*) FROM report GROUP BY day, outcome",
    )?;
    scan(
        "scan_rows_absent_profile",
        "SELECT * FROM report WHERE profile = 'no-such-profile' ORDER BY finished_ms DESC, seq DESC LIMIT 10000",
    )?;
    // what the Reports pane loads (rows up to its limit, the count, the chart), default 7d span
    // and with `since` cleared
    let pane = |q: &ReportQuery| -> anyhow::Result<(f64, usize)> {
        let t = Instant::now();
        let rows = store.query(q)?;
        store.count_matching(q)?;
        store.daily_counts(q)?;
        Ok((ms(t), rows.len()))
    };
    let lim = Some(10_000);
    let (t7, n7) = pane(&ReportQuery { since: Some(end - Duration::days(7)), limit: lim, ..Default::default() })?;
    println!("pane_7d_ms: {t7:.2}");
    println!("pane_7d_rows: {n7}");
    let (ta, na) = pane(&ReportQuery { limit: lim, ..Default::default() })?;
    println!("pane_all_ms: {ta:.2}");
    println!("pane_all_rows: {na}");
    let (tp, np) = pane(&ReportQuery { profile: Some("staging".into()), limit: lim, ..Default::default() })?;
    println!("pane_profile_ms: {tp:.2}");
    println!("pane_profile_rows: {np}");
    let (tc, nc) = pane(&ReportQuery { outcome: Some(Outcome::Cancelled), limit: lim, ..Default::default() })?;
    println!("pane_cancelled_ms: {tc:.2}");
    println!("pane_cancelled_rows: {nc}");
    let (tn, nn) = pane(&ReportQuery { profile: Some("no-such-profile".into()), limit: lim, ..Default::default() })?;
    println!("pane_absent_profile_ms: {tn:.2}");
    println!("pane_absent_profile_rows: {nn}");
    let t = Instant::now();
    let v = store.verify()?;
    println!("verify_ms: {:.0}", ms(t));
    println!("verify_ok: {}", v.ok());
    let size: u64 = std::fs::metadata(&path)?.len() + std::fs::metadata(dir.path().join("scimitar.db-wal")).map(|m| m.len()).unwrap_or(0);
    println!("db_size_mb: {:.1}", size as f64 / 1e6);
    // pruning half a year: the per-day counts lose the pruned records in the same transaction
    let t = Instant::now();
    let pruned = store.prune(182, OffsetDateTime::now_utc())?;
    println!("prune_half_ms: {:.0}", ms(t));
    println!("prune_half_records: {pruned}");
    let (kept, counted) = (store.count()?, store.count_matching(&ReportQuery::default())?);
    println!("after_prune_count_matching_equals_count: {}", kept == counted);
    anyhow::ensure!(kept == counted, "after the prune: {kept} records but count_matching says {counted}");
    // migration 3's backfill of the per-day counts, over what is left: the counts and their
    // triggers dropped, then migration 3's SQL run again (as opening a version-2 database would)
    {
        let conn = store.connection();
        conn.execute_batch(
            "DROP TRIGGER report_counts_insert; DROP TRIGGER report_counts_delete; DROP TRIGGER report_counts_update; DROP TABLE report_counts;",
        )?;
        let t = Instant::now();
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {} COMMIT;", scimitar::db::MIGRATIONS[2]))?;
        println!("migrate_v3_backfill_ms: {:.0}", ms(t));
    }
    let counted = store.count_matching(&ReportQuery::default())?;
    anyhow::ensure!(kept == counted, "after the backfill: {kept} records but count_matching says {counted}");
    // migration 6 (the compact layout), over the same records written as version 5 stored them
    let head = store.verify()?;
    let v5_path = dir.path().join("v5.db");
    {
        let conn = rusqlite::Connection::open(&v5_path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let tx = rusqlite::Transaction::new_unchecked(&conn, rusqlite::TransactionBehavior::Immediate)?;
        for sql in &scimitar::db::MIGRATIONS[..5] {
            tx.execute_batch(sql)?;
        }
        tx.pragma_update(None, "user_version", 5)?;
        tx.commit()?;
        conn.execute("ATTACH DATABASE ?1 AS cur", [path.to_string_lossy()])?;
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {} COMMIT;", old_report_layout::COPY_FROM_CURRENT))?;
        conn.execute_batch("DETACH DATABASE cur;")?;
    }
    drop(store);
    println!("migrate_v6_size_before_mb: {:.1}", std::fs::metadata(&v5_path)?.len() as f64 / 1e6);
    let t = Instant::now();
    let v6 = ReportStore::open(&v5_path)?;
    println!("migrate_v6_ms: {:.0}", ms(t));
    println!("migrate_v6_records: {}", v6.count()?);
    let again = v6.verify()?;
    anyhow::ensure!(
        again.ok() && again.head_hash == head.head_hash && again.checked == head.checked,
        "after migration 6: {again:?} vs {head:?}"
    );
    println!("migrate_v6_verify_ok: {}", again.ok());
    drop(v6);
    println!("migrate_v6_size_after_mb: {:.1}", std::fs::metadata(&v5_path)?.len() as f64 / 1e6);
    anyhow::ensure!(v.ok(), "verify failed: {v:?}");
    Ok(())
}
