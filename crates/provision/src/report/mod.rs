//! Provisioning reports: a durable, queryable, tamper-evident record of every operation.
//!
//! Every operation scimitar performs (console, headless, policy apply, resume) is handed over once,
//! when it finishes, as an [`OperationRecord`] and appended to the `report` table of the shared
//! database ([`crate::db`]). Records are never updated.
//!
//! **Tamper evidence.** Record `n` carries `hash = sha256(prev_hash || seq || stored columns)` where
//! `prev_hash` is the hash of record `n-1` (64 zeros for the first). The hash covers the columns
//! as migration 1 stored them (type tag plus length-prefixed bytes), so editing any field, deleting or
//! re-ordering rows is found by [`ReportStore::verify`]. (Since migration 6 the table is stored more
//! compactly, see [`crate::db`]: the names once per distinct combination in `report_names`, the
//! hashes as 32 bytes; the hashed columns are rebuilt from that, exactly as before.) The single-row `report_chain` table keeps
//! the head (last seq and hash, so a deleted *last* record is found too) and the anchor (seq and hash
//! of the last pruned record, so pruning old records keeps the rest verifiable). Someone who can
//! write the file can of course rebuild the whole chain; `verify` prints the head hash so an auditor
//! can note it elsewhere and compare later.
//!
//! **Normalisation.** Timestamps are stored as UTC unix milliseconds, so a record comes back in UTC
//! with millisecond precision; empty optional strings are stored as absent; anything that looks like
//! a Slack token (`xoxb-...`) in a message or in `detail`, and `detail` keys named like secrets, are
//! replaced by `[redacted]`. [`ReportStore::append`] returns the record as stored.
//!
//! **Per-day counts.** `report_counts` (migration 3 in [`crate::db`]) holds the number of records per
//! UTC day of the finish time, profile, action and outcome. Triggers on `report` keep it in the same
//! transaction as every append, prune (delete) or edit, so it always agrees with the table; it is
//! not part of the hash chain. [`ReportStore::count_matching`], [`ReportStore::summary`] and
//! [`ReportStore::daily_counts`] add up its whole days when the query has no user or batch filter
//! and read `report` only for the partial days at the ends of the span, so they stay in the
//! milliseconds over a million records with no span at all; [`ReportStore::query`] uses it to start
//! a filtered scan no further back than the newest `limit` matches need.

pub mod interchange;

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params_from_iter};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// The OS user and host that run scimitar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user: String,
    pub host: String,
}

impl Default for Actor {
    fn default() -> Self {
        Actor { user: "unknown".into(), host: "unknown".into() }
    }
}

impl Actor {
    /// `user` as the front end found it (`USER`, `LOGNAME` or `USERNAME`); the host name from
    /// the kernel (`/proc/sys/kernel/hostname`, `/etc/hostname`), else `host_hint` (`HOSTNAME`).
    pub fn new(user: Option<String>, host_hint: Option<String>) -> Actor {
        let user = user.filter(|u| !u.trim().is_empty()).unwrap_or_else(|| "unknown".into());
        let host = ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_string())
            .find(|s| !s.is_empty())
            .or(host_hint.filter(|s| !s.trim().is_empty()))
            .unwrap_or_else(|| "unknown".into());
        Actor { user, host }
    }
}

/// Why a report operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("report database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored record does not read back (the file was altered or is damaged).
    #[error("report record {seq} cannot be read ({message}); run `scimitar report verify`")]
    Record { seq: i64, message: String },
    #[error("report record {0} is missing; run `scimitar report verify`")]
    Missing(i64),
    #[error("the report_chain row is missing: the report database was altered")]
    NoChain,
    #[error("record detail: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a day out of range in the per-day counts: {0}")]
    Day(#[from] time::error::ComponentRange),
}

/// An outcome name that is none of done, failed, cancelled, skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown outcome {0:?}: expected done, failed, cancelled or skipped")]
pub struct UnknownOutcome(pub String);

/// A time given on the command line or in a filter that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid time {0:?}: expected a date (2026-11-01), a date-time (2026-11-01T10:00:00Z or 2026-11-01 10:00, UTC) or a span back from now (30m, 24h, 7d, 2w)"
)]
pub struct BadTime(pub String);

/// Hash that precedes the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The columns covered by the hash, in hashing order (after `seq`), as migration 1 stored them:
/// op_id, batch_id, policy_run, started_ms, finished_ms, profile, host, action, target_id,
/// target_email, target_user_name, target_display, outcome, error_code, error_message,
/// http_status, retries, duration_ms, os_user, os_host, detail, email_key, user_name_key.
/// Rebuilt from migration 6's layout: a value in `report` itself takes the place of the one in
/// `report_names`, and a NULL `started_ms` is `finished_ms - duration_ms`.
const HASHED_COLUMNS: &str = "r.op_id, r.batch_id, r.policy_run, coalesce(r.started_ms, r.finished_ms - r.duration_ms), \
     r.finished_ms, r.profile, coalesce(r.host, n.host), r.action, coalesce(r.target_id, n.target_id), \
     coalesce(r.target_email, n.target_email), coalesce(r.target_user_name, n.target_user_name), \
     coalesce(r.target_display, n.target_display), r.outcome, r.error_code, r.error_message, r.http_status, r.retries, \
     r.duration_ms, coalesce(r.os_user, n.os_user), coalesce(r.os_host, n.os_host), r.detail, \
     coalesce(r.email_key, n.email_key), coalesce(r.user_name_key, n.user_name_key)";
const N_HASHED: usize = 23;
/// The columns of `report_names`, in the order of `NAME_COLUMNS`.
const NAMES: &str = "host, target_id, target_email, target_user_name, target_display, os_user, os_host, email_key, user_name_key";
/// `report` with the names of each record (`r`, `n`), as `query_each` joins them after picking
/// the records (the tests read whole tables this way).
#[cfg(test)]
const FROM_REPORT: &str = "report r LEFT JOIN report_names n ON n.id = r.names_id";
/// Places in `HASHED_COLUMNS` of the columns `report_names` holds, in its own order (host,
/// target_id, target_email, target_user_name, target_display, os_user, os_host, email_key,
/// user_name_key).
const NAME_COLUMNS: [usize; 9] = [6, 8, 9, 10, 11, 18, 19, 21, 22];
const STARTED: usize = 3;
const FINISHED: usize = 4;
const DURATION: usize = 17;

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Done,
    Failed,
    Cancelled,
    /// Not attempted because a safety rule refused it.
    Skipped,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [Outcome::Done, Outcome::Failed, Outcome::Cancelled, Outcome::Skipped];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
            Outcome::Skipped => "skipped",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = UnknownOutcome;
    fn from_str(s: &str) -> Result<Self, UnknownOutcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str().eq_ignore_ascii_case(s.trim())).ok_or_else(|| UnknownOutcome(s.to_string()))
    }
}

/// What the queue hands over when an operation finishes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperationRecord {
    pub op_id: String,
    pub batch_id: Option<String>,
    pub policy_run: Option<String>,
    #[serde(with = "rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "rfc3339")]
    pub finished_at: OffsetDateTime,
    /// Connection profile name.
    pub profile: String,
    /// API host the profile points at.
    pub host: String,
    /// "deactivate", "reactivate", "create_user", "update_user", "create_group", "rename_group",
    /// "delete_group", "add_members", "remove_members".
    pub action: String,
    pub target_id: Option<String>,
    pub target_email: Option<String>,
    pub target_user_name: Option<String>,
    pub target_display: Option<String>,
    pub outcome: Outcome,
    /// Slack's error code (e.g. `user_not_found`).
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub http_status: Option<u16>,
    pub retries: u32,
    pub duration_ms: u64,
    pub os_user: String,
    pub os_host: String,
    /// Action parameters (never secrets).
    pub detail: Option<serde_json::Value>,
}

/// A record as stored, with its place in the chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    pub seq: i64,
    #[serde(flatten)]
    pub record: OperationRecord,
    pub prev_hash: String,
    pub hash: String,
}

/// Filters of a report query; every `Some` must match. `Default` matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportQuery {
    /// Matches the target's id exactly, or its email or userName ignoring case.
    pub user: Option<String>,
    /// `user` also matches part of the email or userName (`maria` finds `maria.ortiz@…`): the
    /// console's filter, as typed. The headless `--user` stays exact (and indexed).
    pub user_contains: bool,
    pub action: Option<String>,
    pub outcome: Option<Outcome>,
    pub profile: Option<String>,
    /// Finished at or after this instant.
    pub since: Option<OffsetDateTime>,
    /// Finished before this instant.
    pub until: Option<OffsetDateTime>,
    /// Matches the batch id or the policy run id.
    pub batch: Option<String>,
    /// At most this many records (the newest).
    pub limit: Option<usize>,
}

/// Result of [`ReportStore::verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Records checked.
    pub checked: u64,
    /// Seq of the last pruned record (0 when nothing was pruned); the chain starts after it.
    pub anchor_seq: i64,
    /// Seq and hash of the newest record the chain ends in.
    pub head_seq: i64,
    pub head_hash: String,
    /// The first record that does not verify, and why; `None` when the whole chain verifies.
    pub broken: Option<Broken>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Broken {
    pub seq: i64,
    pub reason: String,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.broken.is_none()
    }
}

/// The report table of an open database.
pub struct ReportStore {
    conn: Connection,
}

impl ReportStore {
    /// Open the database at `path` (see [`crate::db::open`]).
    pub fn open(path: &Path) -> Result<Self, ReportError> {
        Ok(ReportStore { conn: crate::db::open(path)? })
    }

    /// Use a connection opened by [`crate::db::open`] (or `open_in_memory`).
    pub fn from_connection(conn: Connection) -> Self {
        ReportStore { conn }
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Append one record in its own transaction.
    pub fn append(&mut self, r: &OperationRecord) -> Result<StoredRecord, ReportError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored = append_conn(&tx, r)?;
        tx.commit()?;
        Ok(stored)
    }

    /// Append one record inside the caller's transaction, so that finishing an operation in the
    /// journal and recording it here commit (or roll back) together. Begin that transaction with
    /// `TransactionBehavior::Immediate`: a deferred one that read first may fail with "database is
    /// locked" when another process appended in between.
    pub fn append_in(tx: &Transaction<'_>, r: &OperationRecord) -> Result<StoredRecord, ReportError> {
        append_conn(tx, r)
    }

    /// Append many records in one transaction (all or none).
    pub fn append_many(&mut self, rs: &[OperationRecord]) -> Result<(), ReportError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for r in rs {
            append_conn(&tx, r)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Matching records, newest first (by finish time, then seq), at most `q.limit`.
    ///
    /// With a limit and a profile, action or outcome filter (no user or batch), `report_counts`
    /// tells how far back the newest `limit` matches go, and the scan starts there (or nothing is
    /// read when nothing matches): a rare profile need not walk the whole time index.
    pub fn query(&self, q: &ReportQuery) -> Result<Vec<StoredRecord>, ReportError> {
        let mut out = Vec::new();
        self.query_each(q, |r| {
            out.push(r);
            Ok::<(), ReportError>(())
        })?;
        Ok(out)
    }

    /// [`ReportStore::query`] one record at a time, in the same order, without collecting them
    /// (SQLite walks the time index; `f` sees each record as it is read): for output that
    /// streams. Returns the number of records seen; stops at `f`'s first error.
    pub fn query_each<E: From<ReportError>>(&self, q: &ReportQuery, mut f: impl FnMut(StoredRecord) -> Result<(), E>) -> Result<u64, E> {
        let mut since = q.since.map(to_ms);
        if let Some(limit) = q.limit
            && (q.profile.is_some() || q.action.is_some() || q.outcome.is_some())
            && Split::of(q).days.is_some()
        {
            match self.first_day_needed(q, limit as u64)? {
                None => return Ok(0),
                Some(day) => since = since.max(Some(day * DAY_MS)),
            }
        }
        let (cond, params) = where_clause_ms(q, since, q.until.map(to_ms));
        // The records' keys are picked and ordered first, from `report_finished` alone when the
        // filters allow (its sort of ties by seq then handles two integers a row), and only the
        // picked records are read and joined to their names, in that order (SQLite keeps the
        // subquery's order: no second sort). Sorting the joined rows themselves, as one query
        // with the join did, cost a fifth more per 10,000-row load.
        let limit = q.limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        let sql = format!(
            "SELECT r.seq, {HASHED_COLUMNS}, r.prev_hash, r.hash \
             FROM (SELECT seq, finished_ms FROM report {cond} ORDER BY finished_ms DESC, seq DESC{limit}) k \
             JOIN report r ON r.seq = k.seq LEFT JOIN report_names n ON n.id = r.names_id ORDER BY k.finished_ms DESC, k.seq DESC"
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(ReportError::from)?;
        let rows = st.query_map(params_from_iter(params), row_to_stored).map_err(ReportError::from)?;
        let mut n = 0;
        for r in rows {
            f(r.map_err(ReportError::from)??)?;
            n += 1;
        }
        Ok(n)
    }

    /// Number of records matching `q` (its limit is ignored).
    ///
    /// Whole UTC days without a user or batch filter are added up from `report_counts`; only the
    /// partial days at the ends of the span are counted in `report` (see `Split`).
    pub fn count_matching(&self, q: &ReportQuery) -> Result<u64, ReportError> {
        let split = Split::of(q);
        let mut total = 0;
        if let Some((lo, hi)) = split.days {
            let (cond, params) = counts_where(q, lo, hi);
            let n: i64 =
                self.conn
                    .query_row(&format!("SELECT coalesce(sum(n), 0) FROM report_counts {cond}"), params_from_iter(params), |r| r.get(0))?;
            total += n as u64;
        }
        for (since, until) in split.raw {
            total += self.count_raw(q, since, until)?;
        }
        Ok(total)
    }

    /// Add the whole-day counts of `report_counts` for days `lo..hi`, grouped by `key` (a column
    /// of that table: `action` or `day`) and outcome, into `acc`.
    fn add_counts<K: rusqlite::types::FromSql + Ord>(
        &self,
        q: &ReportQuery,
        lo: Option<i64>,
        hi: Option<i64>,
        key: &str,
        acc: &mut BTreeMap<(K, Outcome), u64>,
    ) -> Result<(), ReportError> {
        let (cond, params) = counts_where(q, lo, hi);
        let sql = format!("SELECT {key}, outcome, sum(n) FROM report_counts {cond} GROUP BY {key}, outcome");
        let mut st = self.conn.prepare_cached(&sql)?;
        let mut rows = st.query(params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            let outcome: String = row.get(1)?;
            let n: i64 = row.get(2)?;
            *acc.entry((
                row.get(0)?,
                outcome
                    .parse()
                    .map_err(|e: UnknownOutcome| rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e)))?,
            ))
            .or_default() += n as u64;
        }
        Ok(())
    }

    /// Counts per action and outcome of the records matching `q`, sorted by action then outcome.
    pub fn summary(&self, q: &ReportQuery) -> Result<Vec<(String, Outcome, u64)>, ReportError> {
        let split = Split::of(q);
        let mut acc: BTreeMap<(String, Outcome), u64> = BTreeMap::new();
        if let Some((lo, hi)) = split.days {
            self.add_counts(q, lo, hi, "action", &mut acc)?;
        }
        for (since, until) in split.raw {
            for (action, outcome, n) in self.summary_raw(q, since, until)? {
                *acc.entry((action, outcome)).or_default() += n;
            }
        }
        Ok(acc.into_iter().filter(|(_, n)| *n > 0).map(|((a, o), n)| (a, o, n)).collect())
    }

    /// Counts per UTC day (of the finish time) and outcome, oldest day first: the Reports pane's
    /// bar chart. Days without records are absent.
    pub fn daily_counts(&self, q: &ReportQuery) -> Result<Vec<(Date, Outcome, u64)>, ReportError> {
        let split = Split::of(q);
        let mut acc: BTreeMap<(i64, Outcome), u64> = BTreeMap::new();
        if let Some((lo, hi)) = split.days {
            self.add_counts(q, lo, hi, "day", &mut acc)?;
        }
        for (since, until) in split.raw {
            for (day, outcome, n) in self.daily_counts_raw(q, since, until)? {
                *acc.entry((day, outcome)).or_default() += n;
            }
        }
        acc.into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|((day, o), n)| Ok((Date::from_julian_day((day + UNIX_EPOCH_JULIAN_DAY) as i32)?, o, n)))
            .collect()
    }

    /// The oldest UTC day the newest `limit` records matching `q` (no user or batch filter) can
    /// be on, from the per-day counts; `None` when no record matches. The day holding `until` is
    /// only partly in the span, so its count does not go towards `limit`.
    fn first_day_needed(&self, q: &ReportQuery, limit: u64) -> Result<Option<i64>, ReportError> {
        let lo = q.since.map(|t| to_ms(t).div_euclid(DAY_MS));
        let until = q.until.map(to_ms);
        let hi = until.map(|u| (u - 1).div_euclid(DAY_MS) + 1);
        let (cond, params) = counts_where(q, lo, hi);
        let sql = format!("SELECT day, sum(n) FROM report_counts {cond} GROUP BY day ORDER BY day DESC");
        let mut st = self.conn.prepare_cached(&sql)?;
        let mut rows = st.query(params_from_iter(params))?;
        let (mut found, mut oldest) = (0u64, None);
        while let Some(row) = rows.next()? {
            let day: i64 = row.get(0)?;
            let n: i64 = row.get(1)?;
            if n <= 0 {
                continue;
            }
            oldest = Some(day);
            if until.is_none_or(|u| (day + 1) * DAY_MS <= u) {
                found += n as u64;
                if found >= limit {
                    break;
                }
            }
        }
        Ok(oldest)
    }

    /// `count_matching` computed from `report` alone, with the span `[since, until)` (UTC ms)
    /// instead of the query's.
    fn count_raw(&self, q: &ReportQuery, since: Option<i64>, until: Option<i64>) -> Result<u64, ReportError> {
        let (cond, params) = where_clause_ms(q, since, until);
        let n: i64 =
            self.conn.prepare_cached(&format!("SELECT count(*) FROM report {cond}"))?.query_row(params_from_iter(params), |r| r.get(0))?;
        Ok(n as u64)
    }

    /// `summary` computed from `report` alone, with the span `[since, until)` (UTC ms).
    fn summary_raw(&self, q: &ReportQuery, since: Option<i64>, until: Option<i64>) -> Result<Vec<(String, Outcome, u64)>, ReportError> {
        let (cond, params) = where_clause_ms(q, since, until);
        let sql = format!("SELECT action, outcome, count(*) FROM report {cond} GROUP BY action, outcome");
        let mut st = self.conn.prepare_cached(&sql)?;
        let mut out = Vec::new();
        let mut rows = st.query(params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            let outcome: String = row.get(1)?;
            let n: i64 = row.get(2)?;
            out.push((
                row.get(0)?,
                outcome
                    .parse()
                    .map_err(|e: UnknownOutcome| rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e)))?,
                n as u64,
            ));
        }
        out.sort();
        Ok(out)
    }

    /// `daily_counts` computed from `report` alone, with the span `[since, until)` (UTC ms); days
    /// as UTC days since the unix epoch.
    fn daily_counts_raw(&self, q: &ReportQuery, since: Option<i64>, until: Option<i64>) -> Result<Vec<(i64, Outcome, u64)>, ReportError> {
        let (cond, params) = where_clause_ms(q, since, until);
        let sql = format!(
            "SELECT finished_ms / 86400000 - (finished_ms % 86400000 < 0) AS day, outcome, count(*) FROM report {cond} GROUP BY day, outcome"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let mut out = Vec::new();
        let mut rows = st.query(params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            let day: i64 = row.get(0)?;
            let outcome: String = row.get(1)?;
            let n: i64 = row.get(2)?;
            out.push((
                day,
                outcome
                    .parse()
                    .map_err(|e: UnknownOutcome| rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e)))?,
                n as u64,
            ));
        }
        out.sort();
        Ok(out)
    }

    /// Recompute the chain from the anchor to the head and name the first record that breaks it.
    pub fn verify(&self) -> Result<VerifyReport, ReportError> {
        let (head_seq, head_hash, anchor_seq, anchor_hash) = chain_state(&self.conn)?;
        let mut report = VerifyReport { checked: 0, anchor_seq, head_seq, head_hash: head_hash.clone(), broken: None };
        // The names once, then the records alone (no join), each column as SQLite holds it (no
        // copies): the same values as `HASHED_COLUMNS` gives, rebuilt here.
        let mut names: std::collections::HashMap<i64, Vec<SqlValue>> = std::collections::HashMap::new();
        {
            let mut st = self.conn.prepare(&format!("SELECT id, {NAMES} FROM report_names"))?;
            let mut rows = st.query([])?;
            while let Some(row) = rows.next()? {
                names.insert(row.get(0)?, (1..=NAME_COLUMNS.len()).map(|i| row.get::<_, SqlValue>(i)).collect::<Result<_, _>>()?);
            }
        }
        let mut name_at = [None; N_HASHED];
        for (k, &i) in NAME_COLUMNS.iter().enumerate() {
            name_at[i] = Some(k);
        }
        let mut st = self.conn.prepare(
            "SELECT r.seq, r.op_id, r.batch_id, r.policy_run, coalesce(r.started_ms, r.finished_ms - r.duration_ms), r.finished_ms, \
             r.profile, r.host, r.action, r.target_id, r.target_email, r.target_user_name, r.target_display, r.outcome, r.error_code, \
             r.error_message, r.http_status, r.retries, r.duration_ms, r.os_user, r.os_host, r.detail, r.email_key, r.user_name_key, \
             r.prev_hash, r.hash, r.names_id FROM report r ORDER BY r.seq",
        )?;
        let mut rows = st.query([])?;
        let mut expect_seq = anchor_seq + 1;
        // the hash of the record before, as text (what is hashed) and as stored
        let mut prev_stored = hash_value(&anchor_hash);
        let mut prev = anchor_hash;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let names = match row.get_ref(3 + N_HASHED)? {
                ValueRef::Integer(id) => names.get(&id),
                _ => None,
            };
            let mut cols: [ValueRef<'_>; N_HASHED] = [ValueRef::Null; N_HASHED];
            for (i, c) in cols.iter_mut().enumerate() {
                *c = match (row.get_ref(1 + i)?, name_at[i]) {
                    (ValueRef::Null, Some(k)) => names.map_or(ValueRef::Null, |n| ValueRef::from(&n[k])),
                    (v, _) => v,
                };
            }
            let prev_hash = row.get_ref(1 + N_HASHED)?;
            let hash = row.get_ref(2 + N_HASHED)?;
            let broken = |reason: String| Some(Broken { seq, reason });
            if seq < expect_seq {
                report.broken = broken(format!("record {seq} is at or before the prune anchor {anchor_seq}"));
            } else if seq > expect_seq {
                report.broken =
                    Some(Broken { seq: expect_seq, reason: format!("missing: records {expect_seq}..{} were deleted", seq - 1) });
            } else if prev_hash != ValueRef::from(&prev_stored) {
                report.broken =
                    broken(format!("does not follow record {}: its prev_hash differs (records inserted, replaced or re-ordered)", seq - 1));
            } else if hash != ValueRef::Blob(&chain_digest(&prev, seq, cols)) {
                report.broken = broken("contents changed after it was written (hash mismatch)".into());
            }
            if report.broken.is_some() {
                return Ok(report);
            }
            report.checked += 1;
            expect_seq = seq + 1;
            prev_stored = SqlValue::from(hash);
            prev = hash_text(hash).unwrap_or_default();
        }
        if expect_seq - 1 != head_seq {
            report.broken = Some(Broken {
                seq: expect_seq,
                reason: format!("missing: the chain ends at record {} but the head is record {head_seq}", expect_seq - 1),
            });
        } else if prev != head_hash {
            report.broken = Some(Broken { seq: head_seq, reason: "hash differs from the recorded head".into() });
        }
        Ok(report)
    }

    /// Delete records that finished more than `retain_days` days before `now`, keeping the chain
    /// verifiable: only a prefix of the chain is removed (a record older than the cutoff but after a
    /// newer one is kept until that one goes too) and the last removed record becomes the anchor.
    /// Returns the number of records deleted.
    pub fn prune(&mut self, retain_days: u32, now: OffsetDateTime) -> Result<u64, ReportError> {
        let cutoff = to_ms(now - Duration::days(retain_days as i64));
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (head_seq, _, anchor_seq, _) = chain_state(&tx)?;
        let first_kept: Option<i64> = tx.query_row("SELECT min(seq) FROM report WHERE finished_ms >= ?1", [cutoff], |r| r.get(0))?;
        let last_pruned = first_kept.map(|s| s - 1).unwrap_or(head_seq);
        if last_pruned <= anchor_seq {
            return Ok(0);
        }
        let hash: Option<Option<String>> =
            tx.query_row("SELECT hash FROM report WHERE seq = ?1", [last_pruned], |r| Ok(hash_text(r.get_ref(0)?))).optional()?;
        let hash = hash.flatten().ok_or(ReportError::Missing(last_pruned))?;
        let n = tx.execute("DELETE FROM report WHERE seq <= ?1", [last_pruned])?;
        // names no record carries any more go too (pruning is how old employee data leaves the file)
        tx.execute("DELETE FROM report_names WHERE NOT EXISTS (SELECT 1 FROM report WHERE names_id = report_names.id)", [])?;
        tx.execute(
            "UPDATE report_chain SET anchor_seq = ?1, anchor_hash = ?2, pruned_at_ms = ?3 WHERE id = 1",
            rusqlite::params![last_pruned, hash, to_ms(now)],
        )?;
        tx.commit()?;
        Ok(n as u64)
    }

    /// Number of records kept.
    pub fn count(&self) -> Result<u64, ReportError> {
        let n: i64 = self.conn.query_row("SELECT count(*) FROM report", [], |r| r.get(0))?;
        Ok(n as u64)
    }
}

const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

const DAY_MS: i64 = 86_400_000;

/// How a count, summary or per-day count is answered: the whole UTC days of the span from
/// `report_counts` (`days`: first day, end day exclusive, either open), the partial days at its ends
/// from `report` (`raw`: `[since, until)` in UTC ms). Queries by user or batch, and spans shorter
/// than a whole day, go to `report` alone (its indexes make those small).
#[derive(Debug, PartialEq, Eq)]
struct Split {
    days: Option<(Option<i64>, Option<i64>)>,
    raw: Vec<(Option<i64>, Option<i64>)>,
}

impl Split {
    fn of(q: &ReportQuery) -> Split {
        let since = q.since.map(to_ms);
        let until = q.until.map(to_ms);
        let by_user = q.user.as_deref().map(str::trim).is_some_and(|u| !u.is_empty());
        let raw_only = Split { days: None, raw: vec![(since, until)] };
        if by_user || q.batch.is_some() {
            return raw_only;
        }
        // the first whole day at or after `since`, the end of the last whole day before `until`
        let lo = since.map(|s| s.div_euclid(DAY_MS) + i64::from(s.rem_euclid(DAY_MS) != 0));
        let hi = until.map(|u| u.div_euclid(DAY_MS));
        if let (Some(l), Some(h)) = (lo, hi)
            && l >= h
        {
            return raw_only;
        }
        let mut raw = Vec::new();
        if let (Some(s), Some(l)) = (since, lo)
            && s < l * DAY_MS
        {
            raw.push((Some(s), Some(l * DAY_MS)));
        }
        if let (Some(u), Some(h)) = (until, hi)
            && h * DAY_MS < u
        {
            raw.push((Some(h * DAY_MS), Some(u)));
        }
        Split { days: Some((lo, hi)), raw }
    }
}

/// The WHERE clause over `report_counts` for the days `[lo, hi)` and the query's profile, action and
/// outcome (callers made sure it has no user or batch filter).
fn counts_where(q: &ReportQuery, lo: Option<i64>, hi: Option<i64>) -> (String, Vec<SqlValue>) {
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    let mut bind = |cond: &str, v: SqlValue| {
        params.push(v);
        conds.push(format!("{cond} ?{}", params.len()));
    };
    if let Some(a) = &q.action {
        bind("action =", SqlValue::Text(a.clone()));
    }
    if let Some(o) = q.outcome {
        bind("outcome =", SqlValue::Text(o.as_str().into()));
    }
    if let Some(p) = &q.profile {
        bind("profile =", SqlValue::Text(p.clone()));
    }
    if let Some(d) = lo {
        bind("day >=", SqlValue::Integer(d));
    }
    if let Some(d) = hi {
        bind("day <", SqlValue::Integer(d));
    }
    let cond = if conds.is_empty() { String::new() } else { format!("WHERE {}", conds.join(" AND ")) };
    (cond, params)
}

fn chain_state(conn: &Connection) -> Result<(i64, String, i64, String), ReportError> {
    conn.query_row("SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM report_chain WHERE id = 1", [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })
    .optional()?
    .ok_or(ReportError::NoChain)
}

fn append_conn(conn: &Connection, r: &OperationRecord) -> Result<StoredRecord, ReportError> {
    let record = normalise(r);
    let (head_seq, head_hash, _, _) = chain_state(conn)?;
    let seq = head_seq + 1;
    let cols = columns(&record)?;
    let hash = chain_hash(&head_hash, seq, &cols);
    let names_id = names_id(conn, &cols)?;
    // NULL when it is finished_ms - duration_ms, as `HASHED_COLUMNS` rebuilds it
    let started = match (&cols[STARTED], &cols[FINISHED], &cols[DURATION]) {
        (SqlValue::Integer(s), SqlValue::Integer(f), SqlValue::Integer(d)) if f.checked_sub(*d) == Some(*s) => SqlValue::Null,
        _ => cols[STARTED].clone(),
    };
    let mut st = conn.prepare_cached(
        "INSERT INTO report (seq, op_id, batch_id, policy_run, started_ms, finished_ms, profile, action, outcome, error_code, \
         error_message, http_status, retries, duration_ms, detail, names_id, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?;
    let c = |i: usize| cols[i].clone();
    #[rustfmt::skip]
    let params = [
        SqlValue::Integer(seq), c(0), c(1), c(2), started, c(FINISHED), c(5), c(7), c(12), c(13), c(14), c(15), c(16), c(DURATION),
        c(20), SqlValue::Integer(names_id), hash_value(&head_hash), hash_value(&hash),
    ];
    st.execute(params_from_iter(params))?;
    conn.prepare_cached("UPDATE report_chain SET head_seq = ?1, head_hash = ?2 WHERE id = 1")?.execute(rusqlite::params![seq, hash])?;
    Ok(StoredRecord { seq, record, prev_hash: head_hash, hash })
}

/// The `report_names` row holding these columns' names (added when there is none yet).
fn names_id(conn: &Connection, cols: &[SqlValue]) -> Result<i64, ReportError> {
    let names = || NAME_COLUMNS.iter().map(|&i| &cols[i]);
    let found: Option<i64> = conn
        .prepare_cached(
            "SELECT id FROM report_names WHERE host IS ?1 AND target_id IS ?2 AND target_email IS ?3 AND target_user_name IS ?4 \
             AND target_display IS ?5 AND os_user IS ?6 AND os_host IS ?7 AND email_key IS ?8 AND user_name_key IS ?9 LIMIT 1",
        )?
        .query_row(params_from_iter(names()), |r| r.get(0))
        .optional()?;
    if let Some(id) = found {
        return Ok(id);
    }
    conn.prepare_cached(
        "INSERT INTO report_names (host, target_id, target_email, target_user_name, target_display, os_user, os_host, email_key, \
         user_name_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params_from_iter(names()))?;
    Ok(conn.last_insert_rowid())
}

/// A hash as stored: the 32 bytes of 64 lower-case hex digits, anything else as it is (only a
/// hand edit makes one), so that it reads back as the same text.
fn hash_value(hex: &str) -> SqlValue {
    match hex::decode(hex) {
        Ok(b) if b.len() == 32 && !hex.bytes().any(|c| c.is_ascii_uppercase()) => SqlValue::Blob(b),
        _ => SqlValue::Text(hex.to_string()),
    }
}

/// The text of a stored hash (see `hash_value`); `None` for a number, NULL or text that is not
/// UTF-8.
fn hash_text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Blob(b) => Some(to_hex(b)),
        ValueRef::Text(s) => std::str::from_utf8(s).ok().map(str::to_string),
        _ => None,
    }
}

/// Lower-case hex (as `hex::encode`, without its per-character iterator: every record read
/// back turns two hashes into text).
fn to_hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(b.len() * 2);
    for &x in b {
        out.push(DIGITS[(x >> 4) as usize]);
        out.push(DIGITS[(x & 15) as usize]);
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The record as it will be stored and read back (see the module notes).
fn normalise(r: &OperationRecord) -> OperationRecord {
    let opt = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
    let time = |t: OffsetDateTime| from_ms(to_ms(t));
    OperationRecord {
        op_id: r.op_id.clone(),
        batch_id: opt(&r.batch_id),
        policy_run: opt(&r.policy_run),
        started_at: time(r.started_at),
        finished_at: time(r.finished_at),
        profile: r.profile.clone(),
        host: r.host.clone(),
        action: r.action.clone(),
        target_id: opt(&r.target_id),
        target_email: opt(&r.target_email),
        target_user_name: opt(&r.target_user_name),
        target_display: opt(&r.target_display),
        outcome: r.outcome,
        error_code: opt(&r.error_code),
        error_message: opt(&r.error_message).map(|s| redact_tokens(&s)),
        http_status: r.http_status,
        retries: r.retries,
        // stored as an SQLite integer (i64); the record said so before it read back so
        duration_ms: r.duration_ms.min(i64::MAX as u64),
        os_user: r.os_user.clone(),
        os_host: r.os_host.clone(),
        detail: r.detail.as_ref().map(redact_json),
    }
}

/// Column values in `HASHED_COLUMNS` order, as migration 1 stored them (what is hashed).
fn columns(r: &OperationRecord) -> Result<Vec<SqlValue>, ReportError> {
    let text = |s: &str| SqlValue::Text(s.to_string());
    let opt = |s: &Option<String>| s.as_deref().map_or(SqlValue::Null, text);
    let key = |s: &Option<String>| s.as_deref().map_or(SqlValue::Null, |s| SqlValue::Text(s.to_lowercase()));
    let detail = match &r.detail {
        Some(v) => SqlValue::Text(serde_json::to_string(v)?),
        None => SqlValue::Null,
    };
    Ok(vec![
        text(&r.op_id),
        opt(&r.batch_id),
        opt(&r.policy_run),
        SqlValue::Integer(to_ms(r.started_at)),
        SqlValue::Integer(to_ms(r.finished_at)),
        text(&r.profile),
        text(&r.host),
        text(&r.action),
        opt(&r.target_id),
        opt(&r.target_email),
        opt(&r.target_user_name),
        opt(&r.target_display),
        text(r.outcome.as_str()),
        opt(&r.error_code),
        opt(&r.error_message),
        r.http_status.map_or(SqlValue::Null, |s| SqlValue::Integer(s as i64)),
        SqlValue::Integer(r.retries as i64),
        SqlValue::Integer(i64::try_from(r.duration_ms).unwrap_or(i64::MAX)),
        text(&r.os_user),
        text(&r.os_host),
        detail,
        key(&r.target_email),
        key(&r.target_user_name),
    ])
}

/// `sha256(prev_hash || "scimitar-report-v1" || seq || columns)`, each column as a type tag and
/// length-prefixed bytes, so no two different rows encode the same.
fn chain_hash(prev_hash: &str, seq: i64, cols: &[SqlValue]) -> String {
    to_hex(&chain_digest(prev_hash, seq, cols.iter().map(ValueRef::from)))
}

/// [`chain_hash`] as bytes, over the columns as SQLite holds them.
fn chain_digest<'a>(prev_hash: &str, seq: i64, cols: impl IntoIterator<Item = ValueRef<'a>>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"scimitar-report-v1");
    h.update(seq.to_be_bytes());
    for c in cols {
        match c {
            ValueRef::Null => h.update(b"N"),
            ValueRef::Integer(i) => {
                h.update(b"I");
                h.update(i.to_be_bytes());
            }
            ValueRef::Real(f) => {
                h.update(b"R");
                h.update(f.to_bits().to_be_bytes());
            }
            ValueRef::Text(s) => {
                h.update(b"T");
                h.update((s.len() as u64).to_be_bytes());
                h.update(s);
            }
            ValueRef::Blob(b) => {
                h.update(b"B");
                h.update((b.len() as u64).to_be_bytes());
                h.update(b);
            }
        }
    }
    h.finalize().into()
}

fn row_to_stored(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<StoredRecord, ReportError>> {
    let started: i64 = row.get(4)?;
    let finished: i64 = row.get(5)?;
    let outcome: String = row.get(13)?;
    let status: Option<i64> = row.get(16)?;
    let retries: i64 = row.get(17)?;
    let duration: i64 = row.get(18)?;
    let detail: Option<String> = row.get(21)?;
    let seq: i64 = row.get(0)?;
    let build = || -> Result<StoredRecord, Box<dyn std::error::Error + Send + Sync>> {
        let record = OperationRecord {
            op_id: row.get(1)?,
            batch_id: row.get(2)?,
            policy_run: row.get(3)?,
            started_at: from_ms(started),
            finished_at: from_ms(finished),
            profile: row.get(6)?,
            host: row.get(7)?,
            action: row.get(8)?,
            target_id: row.get(9)?,
            target_email: row.get(10)?,
            target_user_name: row.get(11)?,
            target_display: row.get(12)?,
            outcome: outcome.parse::<Outcome>()?,
            error_code: row.get(14)?,
            error_message: row.get(15)?,
            http_status: status.map(u16::try_from).transpose()?,
            retries: u32::try_from(retries)?,
            duration_ms: u64::try_from(duration)?,
            os_user: row.get(19)?,
            os_host: row.get(20)?,
            detail: detail.map(|d| serde_json::from_str(&d)).transpose()?,
        };
        let hash = |i: usize| -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
            hash_text(row.get_ref(i)?).ok_or_else(|| "a hash that is not text or bytes".into())
        };
        Ok(StoredRecord { seq, record, prev_hash: hash(1 + N_HASHED)?, hash: hash(2 + N_HASHED)? })
    };
    Ok(build().map_err(|e| ReportError::Record { seq, message: e.to_string() }))
}

#[cfg(test)]
fn where_clause(q: &ReportQuery) -> (String, Vec<SqlValue>) {
    where_clause_ms(q, q.since.map(to_ms), q.until.map(to_ms))
}

/// The WHERE clause over `report` for the query's filters, with the span `[since, until)` (UTC ms)
/// instead of its own.
fn where_clause_ms(q: &ReportQuery, since: Option<i64>, until: Option<i64>) -> (String, Vec<SqlValue>) {
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    let bind = |v: SqlValue, params: &mut Vec<SqlValue>| {
        params.push(v);
        format!("?{}", params.len())
    };
    if let Some(u) = q.user.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        let id = bind(SqlValue::Text(u.to_string()), &mut params);
        let key = bind(SqlValue::Text(u.to_lowercase()), &mut params);
        // the matching names (a small table, indexed), then their records
        if q.user_contains {
            conds.push(format!(
                "names_id IN (SELECT id FROM report_names WHERE target_id = {id} OR instr(email_key, {key}) > 0 OR instr(user_name_key, {key}) > 0)"
            ));
        } else {
            conds.push(format!(
                "names_id IN (SELECT id FROM report_names WHERE target_id = {id} OR email_key = {key} OR user_name_key = {key})"
            ));
        }
    }
    if let Some(a) = &q.action {
        conds.push(format!("action = {}", bind(SqlValue::Text(a.clone()), &mut params)));
    }
    if let Some(o) = q.outcome {
        conds.push(format!("outcome = {}", bind(SqlValue::Text(o.as_str().into()), &mut params)));
    }
    if let Some(p) = &q.profile {
        conds.push(format!("profile = {}", bind(SqlValue::Text(p.clone()), &mut params)));
    }
    if let Some(t) = since {
        conds.push(format!("finished_ms >= {}", bind(SqlValue::Integer(t), &mut params)));
    }
    if let Some(t) = until {
        conds.push(format!("finished_ms < {}", bind(SqlValue::Integer(t), &mut params)));
    }
    if let Some(b) = &q.batch {
        let p = bind(SqlValue::Text(b.clone()), &mut params);
        conds.push(format!("(batch_id = {p} OR policy_run = {p})"));
    }
    let cond = if conds.is_empty() { String::new() } else { format!("WHERE {}", conds.join(" AND ")) };
    (cond, params)
}

/// UTC unix milliseconds (rounded down).
pub fn to_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos().div_euclid(1_000_000)) as i64
}

/// The UTC instant `ms` milliseconds after the unix epoch.
pub fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// RFC 3339 text of an instant (UTC, with milliseconds when there are any).
pub fn format_time(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC).format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Parse a time given on the command line: a date (`2026-11-01`, midnight UTC), a date-time
/// (`2026-11-01T10:00:00Z`, `2026-11-01T10:00:00+01:00`, or `2026-11-01 10:00[:00]` taken as UTC),
/// or a span back from `now` (`30m`, `24h`, `7d`, `2w`, also `90s`).
pub fn parse_time(s: &str, now: OffsetDateTime) -> Result<OffsetDateTime, BadTime> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    let t = s.trim();
    let err = || BadTime(s.to_string());
    if t.is_empty() {
        return Err(err());
    }
    if let Some(unit) = t.chars().last().filter(|c| c.is_ascii_alphabetic()) {
        let num = &t[..t.len() - 1];
        if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) {
            let n: i64 = num.parse().map_err(|_| err())?;
            let secs = match unit.to_ascii_lowercase() {
                's' => Some(1),
                'm' => Some(60),
                'h' => Some(3600),
                'd' => Some(86_400),
                'w' => Some(7 * 86_400),
                _ => None,
            }
            .ok_or_else(err)?;
            let span = n.checked_mul(secs).filter(|s| *s <= 200 * 365 * 86_400).ok_or_else(err)?;
            return Ok(now - Duration::seconds(span));
        }
    }
    if let Ok(dt) = OffsetDateTime::parse(t, &Rfc3339) {
        return Ok(dt);
    }
    if let Ok(d) = Date::parse(t, format_description!("[year]-[month]-[day]")) {
        return Ok(d.midnight().assume_utc());
    }
    let t2 = t.replacen('T', " ", 1);
    for fmt in
        [format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"), format_description!("[year]-[month]-[day] [hour]:[minute]")]
    {
        if let Ok(dt) = PrimitiveDateTime::parse(&t2, fmt) {
            return Ok(dt.assume_utc());
        }
    }
    Err(err())
}

/// Replace every secret this process holds (the configured token and any password sent, whatever
/// their shape; see `scim::redact`) and anything that looks like a Slack token (`xoxb-`, `xoxp-`,
/// `xoxa-`, `xoxr-`, `xoxe-`...) with `[redacted]`.
pub fn redact_tokens(s: &str) -> String {
    let s = &*crate::scim::redact::redact(s);
    if !s.contains("xox") {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut copied = 0;
    while i + 5 <= b.len() {
        if &b[i..i + 3] == b"xox" && b[i + 3].is_ascii_alphabetic() && b[i + 4] == b'-' {
            let mut j = i + 5;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-' || b[j] == b'.') {
                j += 1;
            }
            out.push_str(&s[copied..i]);
            out.push_str("[redacted]");
            copied = j;
            i = j;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[copied..]);
    out
}

fn redact_json(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    const SECRET_KEYS: [&str; 5] = ["token", "secret", "password", "authorization", "bearer"];
    match v {
        Value::String(s) => Value::String(redact_tokens(s)),
        Value::Array(a) => Value::Array(a.iter().map(redact_json).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let lk = k.to_lowercase();
                    if SECRET_KEYS.iter().any(|s| lk.contains(s)) {
                        (k.clone(), Value::String("[redacted]".into()))
                    } else {
                        (k.clone(), redact_json(v))
                    }
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_time(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let s = String::deserialize(d)?;
        OffsetDateTime::parse(&s, &Rfc3339).map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
    }
}

#[cfg(test)]
mod tests;
