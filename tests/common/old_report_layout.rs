//! The report database's records copied into the layout before migration 6 (`report` with the
//! names inline and hex hashes): for the test that migrates such a database and for the report
//! bench's before/after. Run with the current database attached as `cur`.

pub const COPY_FROM_CURRENT: &str =
    "INSERT INTO report SELECT r.seq, r.op_id, r.batch_id, r.policy_run, coalesce(r.started_ms, r.finished_ms - r.duration_ms),
     r.finished_ms, r.profile, n.host, r.action, n.target_id, n.target_email, n.target_user_name, n.target_display,
     r.outcome, r.error_code, r.error_message, r.http_status, r.retries, r.duration_ms, n.os_user, n.os_host, r.detail,
     n.email_key, n.user_name_key, lower(hex(r.prev_hash)), lower(hex(r.hash))
 FROM cur.report r JOIN cur.report_names n ON n.id = r.names_id ORDER BY r.seq;
 DELETE FROM report_chain;
 INSERT INTO report_chain SELECT * FROM cur.report_chain;";
