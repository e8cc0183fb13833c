//! A team's store (issue 21): the store's own behaviour on both backends (SQLite, and a real
//! PostgreSQL server these tests start: `common/pg.rs`), the org's lease and its fencing, one hash
//! chain under concurrent writers.

#[path = "common/pg.rs"]
mod pg;

use scimitar::queue::journal::Finish;
use scimitar::queue::{Action, BatchInfo, Journal, OpState, RunContext, Target};
use scimitar::report::{Actor, ReportQuery, ReportStore};
use scimitar::store::{Holder, Lease, LeaseError, OrgKey, Store};
use std::time::Duration;

/// Both backends, fresh: an SQLite file and a PostgreSQL database (as the admin role `ann`).
struct Backends {
    _dir: tempfile::TempDir,
    pg: pg::PgServer,
    sqlite: std::path::PathBuf,
}

impl Backends {
    fn start() -> Backends {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = dir.path().join("scimitar.db");
        Backends { _dir: dir, pg: pg::PgServer::start(), sqlite }
    }

    /// A new connection to each: (name, store).
    fn stores(&self) -> Vec<(&'static str, Store)> {
        vec![("sqlite", Store::sqlite(&self.sqlite).unwrap()), ("postgres", self.pg.store("ann"))]
    }

    /// A new connection to the backend named `which`.
    fn open(&self, which: &str) -> Store {
        match which {
            "sqlite" => Store::sqlite(&self.sqlite).unwrap(),
            _ => Store::postgres(&self.pg.config("ann")).unwrap(),
        }
    }
}

fn ctx() -> RunContext {
    RunContext::new("acme", "127.0.0.1", &Actor { user: "ann".into(), host: "jump1".into() })
}

fn deactivations(n: usize) -> Vec<(u8, Action)> {
    (0..n)
        .map(|i| {
            let target = Target { id: Some(format!("W{i:05}")), email: Some(format!("u{i}@acme.example")), ..Default::default() };
            (3, Action::Deactivate { target })
        })
        .collect()
}

fn info(what: &str) -> BatchInfo {
    BatchInfo { origin: "test".into(), policy_run: None, description: what.into() }
}

fn holder(user: &str, cmd: &str) -> Holder {
    Holder::new(user, "jump1", cmd)
}

#[test]
fn the_journal_report_sync_state_and_lease_work_the_same_on_both_backends() {
    let b = Backends::start();
    for (name, store) in b.stores() {
        let org = OrgKey::of(Some("acme"), "https://api.slack.com/scim/v2/", "");
        // The lease: one holder, the second is told who.
        let lease = Lease::acquire(&store, &org, &holder("ann", "scimitar apply --policy hr"), Duration::from_secs(30)).unwrap();
        let e = Lease::acquire(&b.open(name), &org, &Holder::new("bob", "jump2", "scimitar sync"), Duration::from_secs(30)).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, LeaseError::Held { .. }), "{name}: {msg}");
        assert!(msg.contains("ann@jump1") && msg.contains("scimitar apply --policy hr"), "{name}: {msg}");
        assert_eq!(scimitar::store::lease::holder(&store, &org).unwrap().unwrap().command, "scimitar apply --policy hr");

        // The journal under it: a batch, its ops marked and recorded, its report records chained.
        let journal = Journal::on(store.clone(), ctx()).fenced(lease.fence());
        let (batch, ids) = journal.create_batch(&info("deactivate 3"), &deactivations(3)).unwrap();
        assert_eq!(journal.mark_running(&ids[0]).unwrap(), 1);
        journal.finish(&ids[0], OpState::Done, &Finish::default()).unwrap();
        journal.finish(&ids[1], OpState::Failed, &Finish { error_code: Some("user_not_found".into()), ..Default::default() }).unwrap();
        let open = journal.unfinished_batches().unwrap();
        assert_eq!(open.len(), 1, "{name}");
        assert!(open[0].owner_alive, "{name}: the batch's run holds the lease");
        assert!(open[0].owner.as_deref().unwrap().contains("ann@jump1"), "{name}: {:?}", open[0].owner);
        // Another org's writer (its own lease) may not take a live run's batch.
        let other = Lease::acquire(&store, &OrgKey("org:other".into()), &holder("bob", "x"), Duration::from_secs(30)).unwrap();
        let e = Journal::on(b.open(name), ctx()).fenced(other.fence()).claim(&batch).unwrap_err();
        assert!(e.to_string().contains("still alive"), "{name}: {e}");
        drop(lease);
        assert!(!journal.unfinished_batches().unwrap()[0].owner_alive, "{name}: released, the owner is gone");

        let report = ReportStore::on(b.open(name));
        let recs = report.query(&ReportQuery::default()).unwrap();
        assert_eq!(recs.len(), 2, "{name}");
        let r = &recs[0].record;
        assert_eq!(r.os_user, "ann", "{name}");
        let role = if name == "postgres" { Some("ann") } else { None };
        assert_eq!(r.db_role.as_deref(), role, "{name}: the database role on PostgreSQL");
        assert!(r.proposed_by.as_deref().unwrap().starts_with("ann@jump1"), "{name}: {:?}", r.proposed_by);
        let v = report.verify().unwrap();
        assert!(v.ok() && v.checked == 2, "{name}: {v:?}");
        assert_eq!(
            report.count_matching(&ReportQuery { outcome: Some(scimitar::report::Outcome::Failed), ..Default::default() }).unwrap(),
            1
        );
        assert_eq!(report.summary(&ReportQuery::default()).unwrap().len(), 2, "{name}");
        assert_eq!(report.daily_counts(&ReportQuery::default()).unwrap().len(), 2, "{name}");
        let by_user = ReportQuery { user: Some("U1@ACME.example".into()), ..Default::default() };
        assert_eq!(report.query(&by_user).unwrap().len(), 1, "{name}: the user filter");
        let contains = ReportQuery { user: Some("u0@".into()), user_contains: true, ..Default::default() };
        assert_eq!(report.query(&contains).unwrap().len(), 1, "{name}: the console's contains filter");

        // Sync state and quarantines.
        let sync = scimitar::sync::SyncStore::on(b.open(name));
        sync.begin("acme", "hr", "pr-1").unwrap();
        let q = scimitar::sync::Quarantine {
            kind: scimitar::sync::QuarantineKind::Ceiling,
            reason: "over".into(),
            run_id: Some("pr-1".into()),
            since: time::OffsetDateTime::now_utc(),
            held: serde_json::json!({"plan": {"deactivations": 20}}),
        };
        sync.quarantine("acme", "hr", &q).unwrap();
        assert_eq!(sync.state("acme", "hr").unwrap().unwrap().quarantine.unwrap().held_deactivations(), Some(20), "{name}");
        assert!(sync.release("acme", "hr", "ann").unwrap());
        assert_eq!(
            store.schema_version().unwrap(),
            if name == "sqlite" { scimitar::db::MIGRATIONS.len() } else { scimitar::db::PG_MIGRATIONS.len() }
        );
        drop(other);
    }
}

#[test]
fn a_holder_that_lost_its_lease_can_neither_mark_nor_record() {
    let b = Backends::start();
    for (name, store) in b.stores() {
        let org = OrgKey("org:fenced".into());
        let old = Lease::acquire(&store, &org, &holder("ann", "old"), Duration::from_secs(30)).unwrap();
        let journal = Journal::on(store.clone(), ctx()).fenced(old.fence());
        let (batch, ids) = journal.create_batch(&info("d"), &deactivations(2)).unwrap();
        journal.mark_running(&ids[0]).unwrap();
        // Someone takes over (as after the old holder was stopped for longer than its lease).
        b.open(name)
            .write(|s| {
                s.execute("UPDATE lease SET generation = generation + 1, holder = '{\"pid\":1,\"user\":\"bob\",\"host\":\"jump2\",\"command\":\"resume\",\"since\":\"\"}' WHERE org = ?1", &[scimitar::store::t("org:fenced")])
            })
            .unwrap();
        let e = journal.finish(&ids[0], OpState::Done, &Finish::default()).unwrap_err();
        assert!(e.to_string().contains("lost"), "{name}: {e}");
        let e = journal.mark_running(&ids[1]).unwrap_err();
        assert!(e.to_string().contains("lost"), "{name}: {e}");
        assert!(old.renew().is_err(), "{name}: its renewal finds it lost");
        assert!(old.fence().check().is_err(), "{name}: and it sends nothing more");
        let report = ReportStore::on(b.open(name));
        assert_eq!(report.count().unwrap(), 0, "{name}: nothing recorded under the lost lease");
        let ops = journal.ops(&batch).unwrap();
        assert_eq!(ops[1].state, OpState::Pending, "{name}: the second op was never marked");
        drop(old);
    }
}

#[test]
fn a_lease_lapses_after_its_time_and_is_taken_over_with_a_new_generation() {
    let b = Backends::start();
    for (name, store) in b.stores() {
        let org = OrgKey("org:lapse".into());
        // A holder on another host (so its process cannot be checked): it lapses after its time.
        let a = Lease::acquire(&store, &org, &Holder::new("ann", "elsewhere", "x"), Duration::from_millis(600)).unwrap();
        let gen_a = a.generation();
        a.abandon(); // as after kill -9: neither renewed nor released
        let t0 = std::time::Instant::now();
        let b2 = Lease::acquire_waiting(&b.open(name), &org, &holder("bob", "y"), Duration::from_secs(5), Duration::from_secs(10), |_| {})
            .unwrap();
        assert!(t0.elapsed() >= Duration::from_millis(300), "{name}: not before it lapsed");
        assert_eq!(b2.generation(), gen_a + 1, "{name}");
        // Renewed while held: still held after several times its (short) life.
        let c =
            Lease::acquire(&b.open(name), &OrgKey("org:renew".into()), &Holder::new("ann", "elsewhere", "z"), Duration::from_millis(600))
                .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        assert!(c.fence().check().is_ok(), "{name}");
        let e = Lease::acquire(&b.open(name), &OrgKey("org:renew".into()), &holder("bob", "w"), Duration::from_secs(5)).unwrap_err();
        assert!(matches!(e, LeaseError::Held { .. }), "{name}: {e}");
    }
}

/// A writer stopped inside a transaction on PostgreSQL (as a SIGSTOP may catch it, holding the
/// lease's row lock) does not block the org for ever: the server ends its idle transaction after
/// `IDLE_IN_TRANSACTION` and another admin takes the lapsed lease; the stopped one's transaction
/// is rolled back.
#[test]
fn a_writer_stopped_inside_a_transaction_does_not_block_the_org_on_postgres() {
    let b = Backends::start();
    let org = OrgKey("org:stuck".into());
    let first = b.pg.store("ann"); // the owner migrates it first
    let a = Lease::acquire(&first, &org, &Holder::new("ann", "elsewhere", "x"), Duration::from_millis(600)).unwrap();
    a.abandon();
    let stuck = b.open("postgres");
    let stopped = std::thread::spawn(move || {
        stuck.write(|s| {
            s.execute("UPDATE lease SET generation = generation WHERE org = ?1", &[scimitar::store::t("org:stuck")])?;
            std::thread::sleep(Duration::from_secs(20)); // stopped, mid-transaction
            Ok::<_, scimitar::store::StoreError>(())
        })
    });
    std::thread::sleep(Duration::from_millis(800));
    let t0 = std::time::Instant::now();
    let taken = Lease::acquire_waiting(
        &b.open("postgres"),
        &org,
        &holder("bob", "resume"),
        Duration::from_secs(5),
        Duration::from_secs(30),
        |_| {},
    )
    .unwrap();
    let waited = t0.elapsed();
    assert!(waited < Duration::from_secs(12), "the stopped writer's row lock held the org for {waited:?}");
    assert!(stopped.join().unwrap().is_err(), "the stopped writer's transaction was ended, not committed");
    drop(taken);
}

#[test]
fn three_writers_times_a_thousand_records_make_one_chain_on_both_backends() {
    let b = Backends::start();
    for (name, _) in b.stores() {
        let t0 = std::time::Instant::now();
        std::thread::scope(|s| {
            for w in 0..3 {
                let store = b.open(name);
                s.spawn(move || {
                    let journal =
                        Journal::on(store, RunContext::new("acme", "127.0.0.1", &Actor { user: format!("w{w}"), host: "h".into() }));
                    let (_, ids) = journal.create_batch(&info("bulk"), &deactivations(1000)).unwrap();
                    for id in &ids {
                        journal.finish(id, OpState::Done, &Finish::default()).unwrap();
                    }
                });
            }
        });
        let report = ReportStore::on(b.open(name));
        let v = report.verify().unwrap();
        assert!(v.ok(), "{name}: {v:?}");
        assert_eq!((v.checked, report.count().unwrap()), (3000, 3000), "{name}");
        eprintln!("{name}: 3 writers x 1,000 records in {:.1}s", t0.elapsed().as_secs_f64());
    }
}
