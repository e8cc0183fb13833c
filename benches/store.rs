//! `cargo bench --bench store`: the two stores side by side in one run (issue 21): SQLite (the
//! embedded default: WAL, synchronous=FULL) and PostgreSQL (a real server started here on
//! loopback as `tests/common/pg.rs` does, durable: fsync and synchronous_commit on).
//!
//! 1. `STORE_BENCH_N` records (default 1,000,000, spread over a year) are appended to the SQLite
//!    store in transactions of 10,000, then copied into the PostgreSQL store with `store
//!    migrate`'s copy (`transfer::copy`, which verifies the copy).
//! 2. On those stores: report inserts per second as the journal makes them (one transaction per
//!    finished operation, 2,000 of them) and in transactions of 1,000; and the Reports pane's
//!    load (10,000 rows, the count and the per-day chart) with its default 7-day span and with no
//!    span.
//!
//! Prints `name: value` lines.

#[path = "../tests/common/pg.rs"]
mod pg;

use scimitar::report::{OperationRecord, Outcome, ReportQuery, ReportStore};
use scimitar::store::Store;
use std::time::Instant;
use time::{Duration, OffsetDateTime};

const USERS: u64 = 10_000;

fn record(i: u64, n: u64, start: OffsetDateTime) -> OperationRecord {
    let u = i % USERS;
    let finished = start + Duration::milliseconds((i as i128 * 365 * 86_400_000 / n.max(1) as i128) as i64);
    OperationRecord {
        op_id: format!("op-{i}"),
        batch_id: Some(format!("b-{}", i / 100)),
        policy_run: None,
        started_at: finished - Duration::milliseconds(120),
        finished_at: finished,
        profile: if i.is_multiple_of(10) { "staging".into() } else { "prod".into() },
        host: "api.slack.com".into(),
        action: if i.is_multiple_of(3) { "reactivate".into() } else { "deactivate".into() },
        target_id: Some(format!("U{u:08}")),
        target_email: Some(format!("user{u}@corp.example")),
        target_user_name: Some(format!("user{u}")),
        target_display: Some(format!("User {u}")),
        outcome: match i % 50 {
            0 => Outcome::Failed,
            1 => Outcome::Skipped,
            _ => Outcome::Done,
        },
        error_code: None,
        error_message: None,
        http_status: Some(200),
        retries: 0,
        duration_ms: 120,
        os_user: "ann".into(),
        os_host: "jump1".into(),
        detail: Some(serde_json::json!({"active": i.is_multiple_of(2)})),
        db_role: None,
        proposed_by: Some("ann@jump1".into()),
        approved_by: None,
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn main() -> anyhow::Result<()> {
    let n: u64 = std::env::var("STORE_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("scimitar.db");
    let start = OffsetDateTime::now_utc() - Duration::days(365);

    // 1. the history: SQLite, then the same copied into PostgreSQL
    let mut sqlite = ReportStore::open(&path)?;
    let t = Instant::now();
    let mut i = 0;
    while i < n {
        let end = (i + 10_000).min(n);
        let batch: Vec<OperationRecord> = (i..end).map(|k| record(k, n, start)).collect();
        sqlite.append_many(&batch)?;
        i = end;
    }
    println!("records: {n}");
    println!("sqlite_fill_s: {:.1}", t.elapsed().as_secs_f64());
    let server = pg::PgServer::start_with(true);
    let pg_store = server.store("ann");
    let owner = Store::postgres(&server.config("scimitar_owner"))?;
    let t = Instant::now();
    let copied = scimitar::transfer::copy(sqlite.store(), &owner, |_, _| {})?;
    println!("postgres_copy_s: {:.1}", t.elapsed().as_secs_f64());
    println!("postgres_copy_verified: {}", copied.verified);
    drop(owner);
    let mut postgres = ReportStore::on(pg_store);

    // 2. inserts per second, one transaction per record (as the journal finishes an operation)
    //    and in transactions of 1,000
    let per_tx = 2_000u64;
    for (name, store) in [("sqlite", &mut sqlite), ("postgres", &mut postgres)] {
        let t = Instant::now();
        for k in 0..per_tx {
            store.append(&record(n + k, n, start))?;
        }
        println!("{name}_append_per_s: {:.0}", per_tx as f64 / t.elapsed().as_secs_f64());
        let batch: Vec<OperationRecord> = (0..1_000).map(|k| record(n + per_tx + k, n, start)).collect();
        let t = Instant::now();
        store.append_many(&batch)?;
        println!("{name}_append_batched_per_s: {:.0}", 1_000.0 / t.elapsed().as_secs_f64());
    }

    // 3. the Reports pane's load: 10,000 rows, the count, the chart
    let end = OffsetDateTime::now_utc() + Duration::days(1);
    for (name, store) in [("sqlite", &sqlite), ("postgres", &postgres)] {
        for (label, q) in [
            ("7d", ReportQuery { since: Some(end - Duration::days(8)), limit: Some(10_000), ..Default::default() }),
            ("all", ReportQuery { limit: Some(10_000), ..Default::default() }),
        ] {
            let mut best = f64::MAX;
            let mut rows = 0;
            for _ in 0..3 {
                let t = Instant::now();
                rows = store.query(&q)?.len();
                store.count_matching(&q)?;
                store.daily_counts(&q)?;
                best = best.min(ms(t));
            }
            println!("{name}_pane_{label}_ms: {best:.1}");
            println!("{name}_pane_{label}_rows: {rows}");
        }
        let t = Instant::now();
        let v = store.verify()?;
        println!("{name}_verify_ms: {:.0}", ms(t));
        anyhow::ensure!(v.ok(), "{name}: the chain does not verify: {v:?}");
    }
    Ok(())
}
