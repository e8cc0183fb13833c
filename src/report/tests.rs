use super::*;
use time::macros::datetime;

fn store() -> ReportStore {
    ReportStore::from_connection(crate::store::open_in_memory().unwrap())
}

fn rec(i: u32, email: &str, outcome: Outcome, finished: OffsetDateTime) -> OperationRecord {
    OperationRecord {
        op_id: format!("op-{i}"),
        batch_id: Some("b1".into()),
        policy_run: None,
        started_at: finished - Duration::milliseconds(250),
        finished_at: finished,
        profile: "prod".into(),
        host: "api.slack.com".into(),
        action: "deactivate".into(),
        target_id: Some(format!("U{i:05}")),
        target_email: Some(email.into()),
        target_user_name: Some(email.split('@').next().unwrap().into()),
        target_display: Some(format!("User {i}")),
        outcome,
        error_code: None,
        error_message: None,
        http_status: Some(200),
        retries: 0,
        duration_ms: 250,
        os_user: "alice".into(),
        os_host: "ws1".into(),
        detail: Some(serde_json::json!({"active": false})),
    }
}

fn filled(n: u32) -> ReportStore {
    let mut s = store();
    let t0 = datetime!(2026-11-01 09:00 UTC);
    for i in 0..n {
        s.append(&rec(i, &format!("user{i}@example.com"), Outcome::Done, t0 + Duration::hours(i as i64))).unwrap();
    }
    s
}

#[test]
fn parse_time_forms() {
    let now = datetime!(2026-11-22 12:00 UTC);
    assert_eq!(parse_time("2026-11-01", now).unwrap(), datetime!(2026-11-01 00:00 UTC));
    assert_eq!(parse_time("2026-11-01T10:00:00Z", now).unwrap(), datetime!(2026-11-01 10:00 UTC));
    assert_eq!(parse_time("2026-11-01T10:00:00+02:00", now).unwrap(), datetime!(2026-11-01 08:00 UTC));
    assert_eq!(parse_time("2026-11-01 10:00", now).unwrap(), datetime!(2026-11-01 10:00 UTC));
    assert_eq!(parse_time("2026-11-01 10:00:30", now).unwrap(), datetime!(2026-11-01 10:00:30 UTC));
    assert_eq!(parse_time("2026-11-01T10:00", now).unwrap(), datetime!(2026-11-01 10:00 UTC));
    assert_eq!(parse_time("24h", now).unwrap(), datetime!(2026-11-21 12:00 UTC));
    assert_eq!(parse_time("7d", now).unwrap(), datetime!(2026-11-15 12:00 UTC));
    assert_eq!(parse_time("30m", now).unwrap(), datetime!(2026-11-22 11:30 UTC));
    assert_eq!(parse_time("2w", now).unwrap(), datetime!(2026-11-08 12:00 UTC));
    assert_eq!(parse_time(" 7D ", now).unwrap(), datetime!(2026-11-15 12:00 UTC));
    for bad in ["", "yesterday", "7x", "d", "-7d", "2026-13-01", "2026-11-01 25:00", "99999999999999999d"] {
        let e = parse_time(bad, now).unwrap_err();
        assert!(e.contains(&format!("{bad:?}")), "error for {bad:?} should name it: {e}");
    }
}

#[test]
fn outcome_text_round_trips() {
    for o in Outcome::ALL {
        assert_eq!(o.to_string().parse::<Outcome>().unwrap(), o);
        assert_eq!(serde_json::to_string(&o).unwrap(), format!("\"{o}\""));
    }
    assert!("deleted".parse::<Outcome>().unwrap_err().contains("deleted"));
}

#[test]
fn chain_links_each_record_to_the_previous() {
    let s = filled(5);
    let mut all = s.query(&ReportQuery::default()).unwrap();
    all.reverse();
    assert_eq!(all.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    assert_eq!(all[0].prev_hash, GENESIS_HASH);
    for w in all.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
        assert_ne!(w[0].hash, w[1].hash);
    }
    let v = s.verify().unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!((v.checked, v.head_seq), (5, 5));
    assert_eq!(v.head_hash, all[4].hash);
}

#[test]
fn append_returns_the_record_as_stored() {
    let mut s = store();
    let mut r = rec(1, "Jane@Example.com", Outcome::Failed, datetime!(2026-11-01 10:00:00.123456789 +01:00));
    r.error_message = Some("bad token xoxb-123-abc given".into());
    r.detail = Some(serde_json::json!({"token": "abc", "note": "xoxp-1-2", "n": 3}));
    r.target_display = Some(String::new());
    let stored = s.append(&r).unwrap();
    assert_eq!(stored.record.finished_at, datetime!(2026-11-01 09:00:00.123 UTC));
    assert_eq!(stored.record.error_message.as_deref(), Some("bad token [redacted] given"));
    assert_eq!(stored.record.detail, Some(serde_json::json!({"token": "[redacted]", "note": "[redacted]", "n": 3})));
    assert_eq!(stored.record.target_display, None);
    let back = s.query(&ReportQuery::default()).unwrap();
    assert_eq!(back, vec![stored]);
}

fn assert_broken_at(s: &ReportStore, seq: i64, reason_part: &str) {
    let v = s.verify().unwrap();
    let b = v.broken.as_ref().unwrap_or_else(|| panic!("tampering not detected: {v:?}"));
    assert_eq!(b.seq, seq, "{v:?}");
    assert!(b.reason.contains(reason_part), "{v:?}");
}

#[test]
fn verify_finds_an_edited_field() {
    let s = filled(6);
    s.connection().execute("UPDATE report SET outcome = 'done', error_code = NULL WHERE seq = 4", []).unwrap();
    assert!(s.verify().unwrap().ok(), "a no-op update must not break the chain");
    s.connection().execute("UPDATE report SET target_email = 'someone@else.com' WHERE seq = 4", []).unwrap();
    assert_broken_at(&s, 4, "hash mismatch");
}

#[test]
fn verify_finds_a_changed_type_and_a_rehashed_row() {
    let s = filled(4);
    // the same bytes stored as a blob instead of text are still a change
    s.connection().execute("UPDATE report SET op_id = CAST(op_id AS BLOB) WHERE seq = 2", []).unwrap();
    assert_broken_at(&s, 2, "hash mismatch");
    let s = filled(4);
    // an editor who also fixes the row's own hash breaks the link of the next record
    s.connection().execute("UPDATE report SET action = 'reactivate', hash = 'ff' WHERE seq = 2", []).unwrap();
    let v = s.verify().unwrap();
    assert_eq!(v.broken.unwrap().seq, 2);
}

#[test]
fn verify_finds_deleted_rows() {
    let s = filled(6);
    s.connection().execute("DELETE FROM report WHERE seq IN (3, 4)", []).unwrap();
    assert_broken_at(&s, 3, "deleted");
    let s = filled(6);
    s.connection().execute("DELETE FROM report WHERE seq = 6", []).unwrap();
    assert_broken_at(&s, 6, "missing");
    let s = filled(3);
    s.connection().execute("DELETE FROM report", []).unwrap();
    assert_broken_at(&s, 1, "missing");
}

#[test]
fn verify_finds_reordered_rows() {
    let s = filled(4);
    let c = s.connection();
    c.execute_batch("UPDATE report SET seq = 100 WHERE seq = 2; UPDATE report SET seq = 2 WHERE seq = 3; UPDATE report SET seq = 3 WHERE seq = 100;")
        .unwrap();
    assert_broken_at(&s, 2, "prev_hash");
}

#[test]
fn pruning_keeps_the_chain_verifiable_and_tampering_still_shows() {
    let mut s = filled(10); // finished hourly from 2026-11-01 09:00
    let now = datetime!(2026-11-02 14:30 UTC);
    // retain 1 day: cutoff 2026-11-01 14:30, so records 1..=6 (09:00..14:00) go
    assert_eq!(s.prune(1, now).unwrap(), 6);
    assert_eq!(s.count().unwrap(), 4);
    let v = s.verify().unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!((v.anchor_seq, v.checked, v.head_seq), (6, 4, 10));
    assert_eq!(s.prune(1, now).unwrap(), 0, "pruning again removes nothing");
    // appending after a prune continues the chain
    s.append(&rec(99, "late@example.com", Outcome::Done, now)).unwrap();
    assert!(s.verify().unwrap().ok());
    s.connection().execute("UPDATE report SET duration_ms = 1 WHERE seq = 8", []).unwrap();
    assert_broken_at(&s, 8, "hash mismatch");
    let mut s = filled(10);
    s.prune(1, now).unwrap();
    s.connection().execute("DELETE FROM report WHERE seq = 7", []).unwrap();
    assert_broken_at(&s, 7, "deleted");
}

#[test]
fn pruning_removes_only_a_prefix() {
    let mut s = store();
    let old = datetime!(2026-01-01 00:00 UTC);
    let new = datetime!(2026-11-01 00:00 UTC);
    for (i, t) in [old, new, old, old].into_iter().enumerate() {
        s.append(&rec(i as u32, "a@b.c", Outcome::Done, t)).unwrap();
    }
    assert_eq!(s.prune(30, datetime!(2026-11-02 00:00 UTC)).unwrap(), 1);
    assert!(s.verify().unwrap().ok());
    assert_eq!(s.prune(0, datetime!(2026-11-02 00:00 UTC)).unwrap(), 3);
    assert_eq!(s.count().unwrap(), 0);
    let v = s.verify().unwrap();
    assert!(v.ok(), "{v:?}");
}

#[test]
fn queries_filter_and_summarise() {
    let mut s = store();
    let t0 = datetime!(2026-11-01 09:00 UTC);
    s.append(&rec(1, "Jane@Example.com", Outcome::Done, t0)).unwrap();
    let mut f = rec(2, "bob@example.com", Outcome::Failed, t0 + Duration::days(1));
    f.action = "reactivate".into();
    f.profile = "staging".into();
    f.batch_id = None;
    f.policy_run = Some("run-7".into());
    s.append(&f).unwrap();
    s.append(&rec(3, "carl@example.com", Outcome::Skipped, t0 + Duration::days(2))).unwrap();
    let q = |q: ReportQuery| s.query(&q).unwrap().iter().map(|r| r.seq).collect::<Vec<_>>();
    let user = |u: &str| ReportQuery { user: Some(u.into()), ..Default::default() };
    assert_eq!(q(user("jane@example.com")), vec![1]);
    assert_eq!(q(user("JANE")), vec![1]);
    assert_eq!(q(user("U00001")), vec![1]);
    assert_eq!(q(user("u00001")), Vec::<i64>::new(), "ids are exact");
    assert_eq!(q(ReportQuery { outcome: Some(Outcome::Failed), ..Default::default() }), vec![2]);
    assert_eq!(q(ReportQuery { action: Some("deactivate".into()), ..Default::default() }), vec![3, 1]);
    assert_eq!(q(ReportQuery { profile: Some("staging".into()), ..Default::default() }), vec![2]);
    assert_eq!(q(ReportQuery { batch: Some("run-7".into()), ..Default::default() }), vec![2]);
    assert_eq!(q(ReportQuery { batch: Some("b1".into()), ..Default::default() }), vec![3, 1]);
    let span = ReportQuery { since: Some(t0 + Duration::hours(1)), until: Some(t0 + Duration::days(2)), ..Default::default() };
    assert_eq!(q(span.clone()), vec![2]);
    assert_eq!(q(ReportQuery { limit: Some(2), ..Default::default() }), vec![3, 2]);
    assert_eq!(s.count_matching(&ReportQuery { limit: Some(1), ..Default::default() }).unwrap(), 3);
    assert_eq!(
        s.summary(&ReportQuery::default()).unwrap(),
        vec![
            ("deactivate".to_string(), Outcome::Done, 1),
            ("deactivate".to_string(), Outcome::Skipped, 1),
            ("reactivate".to_string(), Outcome::Failed, 1)
        ]
    );
    assert_eq!(
        s.daily_counts(&ReportQuery::default()).unwrap(),
        vec![
            (time::macros::date!(2026 - 11 - 01), Outcome::Done, 1),
            (time::macros::date!(2026 - 11 - 02), Outcome::Failed, 1),
            (time::macros::date!(2026 - 11 - 03), Outcome::Skipped, 1)
        ]
    );
}

#[test]
fn append_in_commits_or_rolls_back_with_the_callers_transaction() {
    let mut conn = crate::store::open_in_memory().unwrap();
    let t = datetime!(2026-11-01 09:00 UTC);
    {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).unwrap();
        ReportStore::append_in(&tx, &rec(1, "a@b.c", Outcome::Done, t)).unwrap();
        // dropped without commit: rolled back
    }
    {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).unwrap();
        let r = ReportStore::append_in(&tx, &rec(2, "a@b.c", Outcome::Done, t)).unwrap();
        assert_eq!(r.seq, 1);
        tx.commit().unwrap();
    }
    let s = ReportStore::from_connection(conn);
    assert_eq!(s.count().unwrap(), 1);
    assert!(s.verify().unwrap().ok());
}

#[test]
fn redact_tokens_only_touches_tokens() {
    assert_eq!(redact_tokens("no secrets, xox here"), "no secrets, xox here");
    assert_eq!(redact_tokens("Bearer xoxe.xoxp-1-abc"), "Bearer xoxe.[redacted]");
    assert_eq!(redact_tokens("a xoxb-1-2-x b xoxp-9"), "a [redacted] b [redacted]");
}

fn plan(s: &ReportStore, q: &ReportQuery, select: &str, tail: &str) -> Vec<String> {
    let (cond, params) = where_clause(q);
    let sql = format!("EXPLAIN QUERY PLAN SELECT {select} FROM report {cond} {tail}");
    let mut st = s.connection().prepare(&sql).unwrap();
    st.query_map(params_from_iter(params), |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect()
}

#[test]
fn queries_by_user_and_time_use_indexes() {
    let s = filled(3);
    let full_scan = |p: &[String]| p.iter().any(|d| d.starts_with("SCAN report") && !d.contains("INDEX"));
    let by_user = plan(&s, &ReportQuery { user: Some("x".into()), ..Default::default() }, "*", "ORDER BY finished_ms DESC");
    assert!(!full_scan(&by_user), "{by_user:?}");
    assert!(by_user.iter().any(|d| d.contains("report_email")) && by_user.iter().any(|d| d.contains("report_user_name")), "{by_user:?}");
    let t = datetime!(2026-11-01 00:00 UTC);
    let span = ReportQuery { since: Some(t), until: Some(t + Duration::days(7)), ..Default::default() };
    let by_time = plan(&s, &span, "*", "ORDER BY finished_ms DESC, seq DESC LIMIT 1000");
    assert!(by_time.iter().any(|d| d.contains("report_finished")), "{by_time:?}");
    // ties on finished_ms are sorted by seq ("LAST TERM"), but never the whole span
    assert!(!by_time.iter().any(|d| d.contains("TEMP B-TREE FOR ORDER BY")), "sorted by the index: {by_time:?}");
    let summary = plan(&s, &span, "action, outcome, count(*)", "GROUP BY action, outcome");
    assert!(summary.iter().any(|d| d.contains("COVERING INDEX report_finished")), "{summary:?}");
    let batch = plan(&s, &ReportQuery { batch: Some("b".into()), ..Default::default() }, "*", "");
    assert!(!full_scan(&batch), "{batch:?}");
}
