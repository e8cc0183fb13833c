use super::*;
use rusqlite::{Connection, TransactionBehavior, params_from_iter};
use time::macros::datetime;

fn store() -> ReportStore {
    ReportStore::from_connection(crate::db::open_in_memory().unwrap())
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
        db_role: None,
        proposed_by: None,
        approved_by: None,
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
        let e = parse_time(bad, now).unwrap_err().to_string();
        assert!(e.contains(&format!("{bad:?}")), "error for {bad:?} should name it: {e}");
    }
}

#[test]
fn outcome_text_round_trips() {
    for o in Outcome::ALL {
        assert_eq!(o.to_string().parse::<Outcome>().unwrap(), o);
        assert_eq!(serde_json::to_string(&o).unwrap(), format!("\"{o}\""));
    }
    assert!("deleted".parse::<Outcome>().unwrap_err().to_string().contains("deleted"));
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
    s.connection()
        .execute_batch(
            "UPDATE report SET seq = 100 WHERE seq = 2; UPDATE report SET seq = 2 WHERE seq = 3; UPDATE report SET seq = 3 WHERE seq = 100;",
        )
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
    assert_eq!(q(user("jan")), Vec::<i64>::new(), "headless --user is exact");
    // The console's filter matches part of an email or userName (issue 12: `maria` found nothing).
    let part = |u: &str| ReportQuery { user: Some(u.into()), user_contains: true, ..Default::default() };
    assert_eq!(q(part("jan")), vec![1]);
    assert_eq!(q(part("EXAMPLE.COM")), vec![3, 2, 1]);
    assert_eq!(q(part("U00001")), vec![1]);
    assert_eq!(q(part("nobody")), Vec::<i64>::new());
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
    let mut conn = crate::db::open_in_memory().unwrap();
    let t = datetime!(2026-11-01 09:00 UTC);
    {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).unwrap();
        ReportStore::append_in(&mut crate::store::Lite(&tx), &rec(1, "a@b.c", Outcome::Done, t)).unwrap();
        // dropped without commit: rolled back
    }
    {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).unwrap();
        let r = ReportStore::append_in(&mut crate::store::Lite(&tx), &rec(2, "a@b.c", Outcome::Done, t)).unwrap();
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
    let conn = s.connection();
    let mut st = conn.prepare(&sql).unwrap();
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

#[test]
fn split_answers_whole_days_from_the_counts() {
    let day = |d: i64| from_ms(d * DAY_MS);
    let q = |since: Option<OffsetDateTime>, until: Option<OffsetDateTime>| ReportQuery { since, until, ..Default::default() };
    assert_eq!(Split::of(&ReportQuery::default()), Split { days: Some((None, None)), raw: vec![] });
    assert_eq!(Split::of(&q(Some(day(10)), Some(day(17)))), Split { days: Some((Some(10), Some(17))), raw: vec![] });
    let (s, u) = (day(10) + Duration::hours(5), day(17) + Duration::minutes(1));
    assert_eq!(
        Split::of(&q(Some(s), Some(u))),
        Split { days: Some((Some(11), Some(17))), raw: vec![(Some(to_ms(s)), Some(11 * DAY_MS)), (Some(17 * DAY_MS), Some(to_ms(u)))] }
    );
    assert_eq!(Split::of(&q(Some(s), None)), Split { days: Some((Some(11), None)), raw: vec![(Some(to_ms(s)), Some(11 * DAY_MS))] });
    // less than a whole day, and a user or batch filter: the records alone
    let short = q(Some(s), Some(s + Duration::hours(20)));
    assert_eq!(Split::of(&short), Split { days: None, raw: vec![(Some(to_ms(s)), Some(to_ms(s) + 20 * 3_600_000))] });
    let by_user = ReportQuery { user: Some("a@b.c".into()), ..Default::default() };
    assert_eq!(Split::of(&by_user), Split { days: None, raw: vec![(None, None)] });
    let blank_user = ReportQuery { user: Some("  ".into()), ..Default::default() };
    assert_eq!(Split::of(&blank_user).days, Some((None, None)));
    assert_eq!(Split::of(&ReportQuery { batch: Some("b".into()), ..Default::default() }).days, None);
    // before 1970 days round down too
    let neg = from_ms(-1);
    assert_eq!(Split::of(&q(Some(neg), None)), Split { days: Some((Some(0), None)), raw: vec![(Some(-1), Some(0))] });
}

/// Varied records over ten days around midnights, and two before 1970.
fn varied(s: &mut ReportStore, from: u32, to: u32) {
    let t0 = datetime!(2026-10-28 22:30 UTC);
    let actions = ["deactivate", "reactivate", "update_user"];
    for i in from..to {
        let finished = match i % 50 {
            0 => (t0 + Duration::days((i / 50) as i64)).date().midnight().assume_utc(),
            1 => (t0 + Duration::days((i / 50) as i64)).date().midnight().assume_utc() - Duration::milliseconds(1),
            _ => t0 + Duration::minutes(47 * i as i64),
        };
        let mut r = rec(i, &format!("User{}@Example.com", i % 17), Outcome::ALL[(i % 4) as usize], finished);
        r.action = actions[(i % 3) as usize].into();
        r.profile = if i % 5 == 0 { "staging".into() } else { "prod".into() };
        r.batch_id = Some(format!("b{}", i % 6));
        r.policy_run = (i % 7 == 0).then(|| "run-1".into());
        s.append(&r).unwrap();
    }
    for (i, ms) in [(to, -1), (to + 1, -DAY_MS - 5)] {
        s.append(&rec(i, "old@example.com", Outcome::Done, from_ms(ms))).unwrap();
    }
}

fn matches(r: &OperationRecord, q: &ReportQuery) -> bool {
    let ms = to_ms(r.finished_at);
    let user = q.user.as_deref().map(str::trim).filter(|u| !u.is_empty());
    let lower = |s: &Option<String>| s.as_deref().map(str::to_lowercase);
    user.is_none_or(|u| {
        let key = u.to_lowercase();
        let part = |s: Option<String>| s.is_some_and(|s| if q.user_contains { s.contains(&key) } else { s == key });
        r.target_id.as_deref() == Some(u) || part(lower(&r.target_email)) || part(lower(&r.target_user_name))
    }) && q.action.as_ref().is_none_or(|a| &r.action == a)
        && q.outcome.is_none_or(|o| r.outcome == o)
        && q.profile.as_ref().is_none_or(|p| &r.profile == p)
        && q.since.is_none_or(|t| ms >= to_ms(t))
        && q.until.is_none_or(|t| ms < to_ms(t))
        && q.batch.as_ref().is_none_or(|b| r.batch_id.as_ref() == Some(b) || r.policy_run.as_ref() == Some(b))
}

/// Every filter combination, answered three ways: the store, SQL over `report` alone, and Rust
/// over all records.
fn assert_counts_agree(s: &ReportStore) {
    let stored = s.query(&ReportQuery::default()).unwrap();
    let all: Vec<OperationRecord> = stored.iter().map(|r| r.record.clone()).collect();
    // report_counts is exactly the records grouped
    let grouped = |sql: &str| -> Vec<(i64, String, String, String, i64)> {
        let conn = s.connection();
        let mut st = conn.prepare(sql).unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(
        grouped("SELECT day, profile, action, outcome, n FROM report_counts ORDER BY 1, 2, 3, 4"),
        grouped(
            "SELECT finished_ms / 86400000 - (finished_ms % 86400000 < 0), profile, action, outcome, count(*) \
             FROM report GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
        )
    );
    let midnight = datetime!(2026-11-01 00:00 UTC);
    let spans: Vec<(Option<OffsetDateTime>, Option<OffsetDateTime>)> = vec![
        (None, None),
        (Some(midnight), None),
        (Some(midnight + Duration::minutes(90)), None),
        (None, Some(midnight + Duration::days(3))),
        (None, Some(midnight + Duration::days(3) + Duration::milliseconds(1))),
        (Some(midnight - Duration::days(2)), Some(midnight + Duration::days(4))),
        (Some(midnight - Duration::hours(30)), Some(midnight + Duration::hours(75))),
        (Some(midnight + Duration::hours(2)), Some(midnight + Duration::hours(20))),
        (Some(midnight - Duration::hours(2)), Some(midnight + Duration::hours(20))),
        (Some(midnight + Duration::days(2)), Some(midnight)),
        (Some(from_ms(-DAY_MS - 5)), Some(from_ms(0))),
    ];
    let mut checked = 0;
    let users = [(None, false), (Some("user3@example.COM".to_string()), false), (Some("ER3@EX".to_string()), true)];
    for (user, user_contains) in users {
        for action in [None, Some("reactivate".to_string()), Some("nope".to_string())] {
            for outcome in [None, Some(Outcome::Failed)] {
                for profile in [None, Some("staging".to_string())] {
                    for batch in [None, Some("run-1".to_string())] {
                        for &(since, until) in &spans {
                            let q = ReportQuery {
                                user: user.clone(),
                                user_contains,
                                action: action.clone(),
                                outcome,
                                profile: profile.clone(),
                                since,
                                until,
                                batch: batch.clone(),
                                limit: Some(3),
                            };
                            let (raw_since, raw_until) = (since.map(to_ms), until.map(to_ms));
                            let m: Vec<&OperationRecord> = all.iter().filter(|r| matches(r, &q)).collect();
                            let count = s.count_matching(&q).unwrap();
                            assert_eq!(count, m.len() as u64, "{q:?}");
                            assert_eq!(count, s.count_raw(&q, raw_since, raw_until).unwrap(), "{q:?}");
                            let mut summary: BTreeMap<(String, Outcome), u64> = BTreeMap::new();
                            let mut daily: BTreeMap<(Date, Outcome), u64> = BTreeMap::new();
                            for r in &m {
                                *summary.entry((r.action.clone(), r.outcome)).or_default() += 1;
                                *daily.entry((r.finished_at.date(), r.outcome)).or_default() += 1;
                            }
                            let got = s.summary(&q).unwrap();
                            assert_eq!(got, summary.into_iter().map(|((a, o), n)| (a, o, n)).collect::<Vec<_>>(), "{q:?}");
                            assert_eq!(got, s.summary_raw(&q, raw_since, raw_until).unwrap(), "{q:?}");
                            let got = s.daily_counts(&q).unwrap();
                            assert_eq!(got, daily.into_iter().map(|((d, o), n)| (d, o, n)).collect::<Vec<_>>(), "{q:?}");
                            let raw: Vec<(Date, Outcome, u64)> = s
                                .daily_counts_raw(&q, raw_since, raw_until)
                                .unwrap()
                                .into_iter()
                                .map(|(d, o, n)| (Date::from_julian_day((d + UNIX_EPOCH_JULIAN_DAY) as i32).unwrap(), o, n))
                                .collect();
                            assert_eq!(got, raw, "{q:?}");
                            // the newest records, bounded by the counts or not
                            for limit in [0, 1, 3, 20, 1000] {
                                let q = ReportQuery { limit: Some(limit), ..q.clone() };
                                let want: Vec<i64> = stored.iter().filter(|r| matches(&r.record, &q)).take(limit).map(|r| r.seq).collect();
                                let got: Vec<i64> = s.query(&q).unwrap().iter().map(|r| r.seq).collect();
                                assert_eq!(got, want, "{q:?}");
                            }
                            checked += usize::from(count > 0);
                        }
                    }
                }
            }
        }
    }
    assert!(all.is_empty() || checked > 50, "most queries should match something: {checked}");
}

#[test]
fn counts_summaries_and_daily_counts_equal_the_straightforward_computation() {
    let mut s = store();
    varied(&mut s, 0, 400);
    assert_counts_agree(&s);
    // pruning removes counts in the same transaction
    let pruned = s.prune(7, datetime!(2026-11-05 12:00 UTC)).unwrap();
    assert!(pruned > 0 && pruned < 400, "{pruned}");
    assert_counts_agree(&s);
    // appending after a prune, and everything pruned
    varied(&mut s, 402, 600);
    assert_counts_agree(&s);
    s.prune(0, datetime!(2030-01-01 00:00 UTC)).unwrap();
    assert_eq!(s.count().unwrap(), 0);
    let n: i64 = s.connection().query_row("SELECT count(*) FROM report_counts", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0, "no zero rows left behind");
    assert_counts_agree(&s);
    assert!(s.verify().unwrap().ok());
}

#[test]
fn counts_follow_a_rolled_back_append_and_an_edited_row() {
    let mut s = store();
    varied(&mut s, 0, 60);
    {
        let mut c = s.connection();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).unwrap();
        ReportStore::append_in(&mut crate::store::Lite(&tx), &rec(1000, "x@example.com", Outcome::Failed, datetime!(2026-11-02 10:00 UTC)))
            .unwrap();
        // dropped: rolled back
    }
    assert_counts_agree(&s);
    // tampering with a row moves its count too (verify still finds the edit)
    s.connection().execute("UPDATE report SET action = 'delete_group', finished_ms = finished_ms + 86400000 WHERE seq = 5", []).unwrap();
    s.connection().execute("DELETE FROM report WHERE seq = 9", []).unwrap();
    assert_counts_agree(&s);
    assert!(!s.verify().unwrap().ok());
}

#[test]
fn counts_without_a_user_or_batch_read_the_counts_table() {
    let s = filled(3);
    let q = ReportQuery { profile: Some("prod".into()), action: Some("deactivate".into()), ..Default::default() };
    let (cond, params) = counts_where(&q, Some(1), Some(9));
    let sql = format!("EXPLAIN QUERY PLAN SELECT action, outcome, sum(n) FROM report_counts {cond} GROUP BY action, outcome");
    let conn = s.connection();
    let mut st = conn.prepare(&sql).unwrap();
    let plan: Vec<String> = st.query_map(params_from_iter(params), |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect();
    assert!(plan.iter().any(|d| d.contains("report_counts") && d.contains("PRIMARY KEY")), "{plan:?}");
}

/// Records with every odd value a field can hold: absent optional fields, empty strings (stored as
/// absent), unicode, upper-case emails (their lower-cased key differs), a 100,000-character
/// message, a duration that does not fit (stored as i64::MAX), a start after the finish, times
/// before 1970, the same user from two machines.
fn odd_records() -> Vec<OperationRecord> {
    let t0 = datetime!(2026-11-01 09:00 UTC);
    let mut out = Vec::new();
    for i in 0..40u32 {
        let mut r = rec(i, &format!("User{}@Example.com", i % 7), Outcome::ALL[(i % 4) as usize], t0 + Duration::minutes(97 * i as i64));
        r.target_id = Some(format!("U{:05}", i % 7));
        r.target_display = Some(format!("User {}", i % 7));
        r.os_host = if i % 3 == 0 { "ws2".into() } else { "ws1".into() };
        r.policy_run = (i % 5 == 0).then(|| format!("run-{}", i / 5));
        out.push(r);
    }
    let mut bare = rec(40, "x@y.z", Outcome::Failed, t0);
    bare.batch_id = None;
    bare.target_id = None;
    bare.target_email = None;
    bare.target_user_name = None;
    bare.target_display = Some(String::new());
    bare.http_status = None;
    bare.detail = None;
    bare.error_code = Some("user_not_found".into());
    bare.error_message = Some("m".repeat(100_000));
    out.push(bare);
    let mut uni = rec(41, "ÖSTEN.Åberg@Exämple.com", Outcome::Done, t0 - Duration::days(25_000));
    uni.target_user_name = Some("ÖSTEN".into());
    uni.target_display = Some("Östen Åberg 🦀 e\u{301}".into());
    uni.os_user = "ユーザー".into();
    uni.host = "例え.jp".into();
    uni.detail = Some(serde_json::json!({"name": "Å\n\"q\"", "n": [1, 2.5, null, true]}));
    out.push(uni);
    let mut odd_times = rec(42, "t@example.com", Outcome::Done, t0);
    odd_times.duration_ms = u64::MAX;
    out.push(odd_times);
    let mut backwards = rec(43, "t@example.com", Outcome::Done, t0);
    backwards.started_at = t0 + Duration::seconds(5);
    out.push(backwards);
    let mut long = rec(44, &format!("{}@example.com", "a".repeat(5000)), Outcome::Skipped, t0);
    long.host = "h".repeat(3000);
    out.push(long);
    out
}

#[test]
fn every_field_round_trips_through_the_compact_layout() {
    let mut s = store();
    let records = odd_records();
    let mut stored = Vec::new();
    for r in &records {
        stored.push(s.append(r).unwrap());
    }
    // read back as appended, and hashed over the columns migration 1 stored
    let mut back = s.query(&ReportQuery::default()).unwrap();
    back.sort_by_key(|r| r.seq);
    assert_eq!(back, stored);
    assert_eq!(stored[40].record.target_display, None);
    assert_eq!(stored[40].record.error_message.as_deref().map(str::len), Some(100_000));
    assert_eq!(stored[42].record.duration_ms, i64::MAX as u64);
    assert_eq!(stored[41].record.os_user, "ユーザー");
    let conn = s.connection();
    let mut st = conn.prepare(&format!("SELECT {HASHED_COLUMNS} FROM {FROM_REPORT} ORDER BY r.seq")).unwrap();
    let rebuilt: Vec<Vec<SqlValue>> =
        st.query_map([], |row| (0..N_HASHED).map(|i| row.get::<_, SqlValue>(i)).collect()).unwrap().map(Result::unwrap).collect();
    let want: Vec<Vec<SqlValue>> = stored.iter().map(|r| columns(&r.record).unwrap()).collect();
    assert_eq!(rebuilt, want);
    drop(st);
    drop(conn);
    let v = s.verify().unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!((v.checked, v.head_hash.as_str()), (records.len() as u64, stored.last().unwrap().hash.as_str()));
    let bytes: Vec<u8> = (0..=255).collect();
    assert_eq!(to_hex(&bytes), hex::encode(&bytes));
    // the names once per distinct combination; hashes as 32 bytes; the start only when it is not
    // the finish minus the duration
    let c = |sql: &str| -> i64 { s.connection().query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(c("SELECT count(*) FROM report_names"), 7 + 7 + 5, "7 users from ws1 and from ws2, then 5 more");
    assert_eq!(c("SELECT count(*) FROM report WHERE typeof(hash) = 'blob' AND length(hash) = 32 AND length(prev_hash) = 32"), 45);
    assert_eq!(c("SELECT count(*) FROM report WHERE started_ms IS NOT NULL"), 2, "the overflowing duration and the backwards start");
    let by = |u: &str, contains: bool| {
        let mut got: Vec<i64> = s
            .query(&ReportQuery { user: Some(u.into()), user_contains: contains, ..Default::default() })
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect();
        got.sort();
        got
    };
    assert_eq!(by("östen.åberg@exämple.com", false), vec![42]);
    assert_eq!(by("ÅBERG", true), vec![42]);
    assert_eq!(by("user3@EXAMPLE.com", false), vec![4, 11, 18, 25, 32, 39]);
    assert_eq!(by("U00003", false), vec![4, 11, 18, 25, 32, 39]);
    assert_eq!(by("nobody@example.com", false), Vec::<i64>::new());
}

/// The report columns in migration 1's order, as version 5 wrote them.
const V5_COLUMNS: &str = "op_id, batch_id, policy_run, started_ms, finished_ms, profile, host, action, \
     target_id, target_email, target_user_name, target_display, outcome, error_code, error_message, \
     http_status, retries, duration_ms, os_user, os_host, detail, email_key, user_name_key";

/// A database file as scimitar wrote it at schema version 5: migrations 1-5, and the records
/// appended the way that version did (every hashed column in `report` as hashed, the hashes as hex
/// text). Returns the records as that version stored them.
fn v5_database(path: &Path, records: &[OperationRecord]) -> Vec<StoredRecord> {
    crate::files::create_private_file(path).unwrap();
    let mut conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    let tx = conn.transaction().unwrap();
    for sql in &crate::db::MIGRATIONS[..5] {
        tx.execute_batch(sql).unwrap();
    }
    tx.pragma_update(None, "user_version", 5).unwrap();
    let mut out = Vec::new();
    let placeholders = (1..=N_HASHED + 3).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
    for r in records {
        let record = normalise(r);
        let (head_seq, head_hash, _, _) = chain_state(&mut crate::store::Lite(&tx), false).unwrap();
        let seq = head_seq + 1;
        let cols = columns(&record).unwrap();
        let hash = chain_hash(&head_hash, seq, &cols);
        let params: Vec<SqlValue> = [SqlValue::Integer(seq)]
            .into_iter()
            .chain(cols)
            .chain([SqlValue::Text(head_hash.clone()), SqlValue::Text(hash.clone())])
            .collect();
        tx.execute(&format!("INSERT INTO report (seq, {V5_COLUMNS}, prev_hash, hash) VALUES ({placeholders})"), params_from_iter(params))
            .unwrap();
        tx.execute("UPDATE report_chain SET head_seq = ?1, head_hash = ?2 WHERE id = 1", rusqlite::params![seq, hash]).unwrap();
        out.push(StoredRecord { seq, record, prev_hash: head_hash, hash });
    }
    tx.commit().unwrap();
    out
}

/// Every table's rows of a report database as stored (`report` itself aside), for comparing.
fn other_tables(c: &Connection) -> Vec<Vec<SqlValue>> {
    let mut out = Vec::new();
    for sql in ["SELECT * FROM report_chain", "SELECT * FROM report_counts ORDER BY day, profile, action, outcome"] {
        let mut st = c.prepare(sql).unwrap();
        let n = st.column_count();
        out.extend(st.query_map([], |r| (0..n).map(|i| r.get::<_, SqlValue>(i)).collect()).unwrap().map(Result::unwrap));
    }
    out
}

fn exports(records: &[StoredRecord]) -> (Vec<u8>, Vec<u8>) {
    let (mut csv, mut json) = (Vec::new(), Vec::new());
    interchange::write_csv(records, &mut csv).unwrap();
    interchange::write_json_lines(records, &mut json).unwrap();
    (csv, json)
}

#[test]
fn migration_6_converts_a_version_5_database_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimitar.db");
    let records = odd_records();
    let v5 = v5_database(&path, &records);
    let (v5_rows, v5_other) = {
        let c = Connection::open(&path).unwrap();
        let mut st = c.prepare(&format!("SELECT seq, {V5_COLUMNS}, prev_hash, hash FROM report ORDER BY seq")).unwrap();
        let rows: Vec<Vec<SqlValue>> =
            st.query_map([], |r| (0..N_HASHED + 3).map(|i| r.get::<_, SqlValue>(i)).collect()).unwrap().map(Result::unwrap).collect();
        (rows, other_tables(&c))
    };
    assert_eq!(v5_rows.len(), records.len());

    let mut s = ReportStore::open(&path).unwrap();
    assert_eq!(crate::db::schema_version(&s.connection()).unwrap(), crate::db::MIGRATIONS.len());
    let free: i64 = s.connection().query_row("PRAGMA freelist_count", [], |r| r.get(0)).unwrap();
    assert_eq!(free, 0, "the old table's space went back to the file system");
    // every value as version 5 stored it, the hashes as the same text
    let conn = s.connection();
    let mut st = conn
        .prepare(&format!("SELECT r.seq, {HASHED_COLUMNS}, lower(hex(r.prev_hash)), lower(hex(r.hash)) FROM {FROM_REPORT} ORDER BY r.seq"))
        .unwrap();
    let rows: Vec<Vec<SqlValue>> =
        st.query_map([], |r| (0..N_HASHED + 3).map(|i| r.get::<_, SqlValue>(i)).collect()).unwrap().map(Result::unwrap).collect();
    drop(st);
    drop(conn);
    assert_eq!(rows, v5_rows);
    assert_eq!(other_tables(&s.connection()), v5_other, "the chain's head and anchor and the per-day counts are untouched");
    // the same records, the same exports byte for byte, the chain verifies to the same head
    let mut back = s.query(&ReportQuery::default()).unwrap();
    back.sort_by_key(|r| r.seq);
    assert_eq!(back, v5);
    assert_eq!(exports(&back), exports(&v5));
    let v = s.verify().unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!((v.checked, v.head_seq, v.head_hash.as_str()), (45, 45, v5[44].hash.as_str()));
    assert_counts_agree(&s);
    // and it goes on: appending continues the chain, pruning keeps it verifiable and takes the
    // names of pruned records with it
    s.append(&rec(99, "late@example.com", Outcome::Done, datetime!(2026-12-01 00:00 UTC))).unwrap();
    assert_eq!(s.prune(0, datetime!(2026-11-30 00:00 UTC)).unwrap(), 45);
    let v = s.verify().unwrap();
    assert!(v.ok() && v.checked == 1, "{v:?}");
    let orphans: i64 = s
        .connection()
        .query_row("SELECT count(*) FROM report_names WHERE id NOT IN (SELECT names_id FROM report)", [], |r| r.get(0))
        .unwrap();
    assert_eq!(orphans, 0);
    let old: i64 =
        s.connection().query_row("SELECT count(*) FROM report_names WHERE target_user_name = 'ÖSTEN'", [], |r| r.get(0)).unwrap();
    assert_eq!(old, 0, "the 1958 record was pruned, and its names with it");
    drop(s);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn migration_6_keeps_hand_edits_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimitar.db");
    v5_database(&path, &odd_records()[..10]);
    let edits = [
        (4, "UPDATE report SET target_email = 'someone@else.com' WHERE seq = 4"),
        (6, "UPDATE report SET hash = upper(hash) WHERE seq = 6"),
        (3, "UPDATE report SET op_id = CAST(op_id AS BLOB), started_ms = finished_ms - duration_ms + 1 WHERE seq = 3"),
        (7, "UPDATE report SET prev_hash = 'ff' WHERE seq = 7"),
    ];
    for (seq, sql) in edits {
        let c = Connection::open(&path).unwrap();
        let before: Vec<SqlValue> = c
            .query_row(&format!("SELECT {V5_COLUMNS}, prev_hash, hash FROM report WHERE seq = ?1"), [seq], |r| {
                (0..N_HASHED + 2).map(|i| r.get::<_, SqlValue>(i)).collect()
            })
            .unwrap();
        let copy = dir.path().join(format!("edit{seq}.db"));
        c.execute("VACUUM INTO ?1", [copy.to_string_lossy()]).unwrap();
        drop(c);
        let e = Connection::open(&copy).unwrap();
        e.execute(sql, []).unwrap();
        let edited: Vec<SqlValue> = e
            .query_row(&format!("SELECT {V5_COLUMNS}, prev_hash, hash FROM report WHERE seq = ?1"), [seq], |r| {
                (0..N_HASHED + 2).map(|i| r.get::<_, SqlValue>(i)).collect()
            })
            .unwrap();
        assert_ne!(edited, before, "{sql}");
        drop(e);
        let s = ReportStore::open(&copy).unwrap();
        let after: Vec<SqlValue> = s
            .connection()
            .query_row(
                &format!(
                    "SELECT {HASHED_COLUMNS}, CASE typeof(r.prev_hash) WHEN 'blob' THEN lower(hex(r.prev_hash)) ELSE r.prev_hash END, \
                     CASE typeof(r.hash) WHEN 'blob' THEN lower(hex(r.hash)) ELSE r.hash END FROM {FROM_REPORT} WHERE r.seq = ?1"
                ),
                [seq],
                |r| (0..N_HASHED + 2).map(|i| r.get::<_, SqlValue>(i)).collect(),
            )
            .unwrap();
        assert_eq!(after, edited, "{sql}: the edit survives the migration");
        let v = s.verify().unwrap();
        assert_eq!(v.broken.as_ref().map(|b| b.seq), Some(seq), "{sql}: {v:?}");
    }
}
