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

use crate::store::{Dialect, Row, Sql, Store, StoreError, Value as SqlValue, ValueRef};
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
    /// `user` as given (tests); the host name from the kernel (`/proc/sys/kernel/hostname`,
    /// `/etc/hostname`), else `host_hint` (`HOSTNAME`).
    pub fn new(user: Option<String>, host_hint: Option<String>) -> Actor {
        let user = user.filter(|u| !u.trim().is_empty()).unwrap_or_else(|| "unknown".into());
        Actor { user, host: host_name(host_hint) }
    }

    /// Who runs this process: the OS account of its real uid (`getpwuid_r`; `uid N` when the
    /// account has no name), never `$USER`, which anyone can set; the host as in [`Actor::new`].
    pub fn of_process(host_hint: Option<String>) -> Actor {
        Actor { user: account_of_uid(), host: host_name(host_hint) }
    }
}

fn host_name(hint: Option<String>) -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .or(hint.filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// The name of the account of this process's real uid.
#[cfg(unix)]
pub fn account_of_uid() -> String {
    // SAFETY: getuid cannot fail; getpwuid_r writes only into `pw` and `buf`, whose sizes we
    // pass, and `result` points into `pw` (or is NULL) only while `buf` lives.
    unsafe {
        let uid = libc::getuid();
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut result);
        if rc == 0 && !result.is_null() && !pw.pw_name.is_null() {
            let name = std::ffi::CStr::from_ptr(pw.pw_name).to_string_lossy().into_owned();
            if !name.is_empty() {
                return name;
            }
        }
        format!("uid {uid}")
    }
}

#[cfg(not(unix))]
pub fn account_of_uid() -> String {
    "unknown".into()
}

/// Why a report operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("report store: {0}")]
    Store(#[from] StoreError),
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

impl From<rusqlite::Error> for ReportError {
    fn from(e: rusqlite::Error) -> Self {
        ReportError::Store(e.into())
    }
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
    /// The database role the record was written as (PostgreSQL's `current_user` on a shared
    /// store; absent on SQLite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_role: Option<String>,
    /// Who confirmed the batch (`account@host`, with the role on a shared store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposed_by: Option<String>,
    /// Who approved it (four-eyes approvals; absent until then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
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

/// The report of a store.
pub struct ReportStore {
    store: Store,
}

impl ReportStore {
    /// Open the SQLite database at `path` (see [`crate::db::open`]).
    pub fn open(path: &Path) -> Result<Self, ReportError> {
        Ok(ReportStore { store: Store::sqlite(path)? })
    }

    /// The report in `store` (SQLite or PostgreSQL).
    pub fn on(store: Store) -> Self {
        ReportStore { store }
    }

    /// Use an SQLite connection opened by [`crate::db::open`] (or `open_in_memory`).
    pub fn from_connection(conn: rusqlite::Connection) -> Self {
        ReportStore { store: Store::from_connection(conn) }
    }

    /// The SQLite connection (tests and benches that look inside the file).
    pub fn connection(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.store.sqlite_connection()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Append one record in its own transaction.
    pub fn append(&mut self, r: &OperationRecord) -> Result<StoredRecord, ReportError> {
        self.store.write(|s| append_conn(s, r))
    }

    /// Append one record inside the caller's transaction ([`Store::write`]), so that finishing
    /// an operation in the journal and recording it here commit (or roll back) together. The
    /// chain's head is read and moved inside that transaction (SQLite's `BEGIN IMMEDIATE` holds
    /// the file; PostgreSQL locks the head row), so any number of writers make one chain.
    pub fn append_in(s: &mut dyn Sql, r: &OperationRecord) -> Result<StoredRecord, ReportError> {
        append_conn(s, r)
    }

    /// Append many records in one transaction (all or none).
    pub fn append_many(&mut self, rs: &[OperationRecord]) -> Result<(), ReportError> {
        self.store.write(|s| {
            for r in rs {
                append_conn(s, r)?;
            }
            Ok(())
        })
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
        let d = self.store.dialect();
        let (cond, params) = where_clause_ms(d, q, since, q.until.map(to_ms));
        // The records' keys are picked and ordered first, from `report_finished` alone when the
        // filters allow (its sort of ties by seq then handles two integers a row), and only the
        // picked records are read and joined to their names, in that order (SQLite keeps the
        // subquery's order: no second sort). Sorting the joined rows themselves, as one query
        // with the join did, cost a fifth more per 10,000-row load.
        let limit = q.limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        let sql = format!(
            "SELECT r.seq, {HASHED_COLUMNS}, r.prev_hash, r.hash, {EXTRA_COLUMNS} \
             FROM (SELECT seq, finished_ms FROM report {cond} ORDER BY finished_ms DESC, seq DESC{limit}) k \
             JOIN report r ON r.seq = k.seq LEFT JOIN report_names n ON n.id = r.names_id ORDER BY k.finished_ms DESC, k.seq DESC"
        );
        let mut n = 0;
        let mut failed: Option<E> = None;
        let r = self.store.with(|s| {
            s.each(&sql, &params, &mut |row| {
                let e = match row_to_stored(row) {
                    Ok(rec) => match f(rec) {
                        Ok(()) => {
                            n += 1;
                            return Ok(());
                        }
                        Err(e) => e,
                    },
                    Err(e) => E::from(e),
                };
                failed = Some(e);
                Err(StoreError::Stopped)
            })
        });
        if let Some(e) = failed {
            return Err(e);
        }
        r.map_err(|e| E::from(ReportError::from(e)))?;
        Ok(n)
    }

    /// The records appended after `seq` (at most `limit`, oldest first): what another writer
    /// (another admin, the sync) recorded since a console last looked (`store::Store::watch`).
    pub fn after(&self, seq: i64, limit: usize) -> Result<Vec<StoredRecord>, ReportError> {
        let sql = format!(
            "SELECT r.seq, {HASHED_COLUMNS}, r.prev_hash, r.hash, {EXTRA_COLUMNS} \
             FROM report r LEFT JOIN report_names n ON n.id = r.names_id WHERE r.seq > ?1 ORDER BY r.seq LIMIT {limit}"
        );
        let rows = self.store.with(|s| s.all(&sql, &[crate::store::i(seq)], |row| Ok(row_to_stored(row))))?;
        rows.into_iter().collect()
    }

    /// The newest record's seq (0: none).
    pub fn head_seq(&self) -> Result<i64, ReportError> {
        Ok(self.store.with(|s| s.int("SELECT CAST(coalesce(max(seq), 0) AS BIGINT) FROM report", &[]))?)
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
            let n =
                self.store.with(|s| s.int(&format!("SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM report_counts {cond}"), &params))?;
            total += n as u64;
        }
        for (since, until) in split.raw {
            total += self.count_raw(q, since, until)?;
        }
        Ok(total)
    }

    /// Add the whole-day counts of `report_counts` for days `lo..hi`, grouped by `key` (a column
    /// of that table: `action` or `day`) and outcome, into `acc`.
    fn add_counts<K: Ord>(
        &self,
        q: &ReportQuery,
        lo: Option<i64>,
        hi: Option<i64>,
        key: &str,
        key_of: impl Fn(&dyn Row) -> Result<K, StoreError>,
        acc: &mut BTreeMap<(K, Outcome), u64>,
    ) -> Result<(), ReportError> {
        let (cond, params) = counts_where(q, lo, hi);
        let sql = format!("SELECT {key}, outcome, CAST(sum(n) AS BIGINT) FROM report_counts {cond} GROUP BY {key}, outcome");
        let rows =
            self.store.with(|s| s.all(&sql, &params, |row| Ok((key_of(row)?, crate::store::text(row, 1)?, crate::store::int(row, 2)?))))?;
        for (k, outcome, n) in rows {
            *acc.entry((k, outcome.parse().map_err(|e: UnknownOutcome| ReportError::Record { seq: 0, message: e.to_string() })?))
                .or_default() += n as u64;
        }
        Ok(())
    }

    /// Counts per action and outcome of the records matching `q`, sorted by action then outcome.
    pub fn summary(&self, q: &ReportQuery) -> Result<Vec<(String, Outcome, u64)>, ReportError> {
        let split = Split::of(q);
        let mut acc: BTreeMap<(String, Outcome), u64> = BTreeMap::new();
        if let Some((lo, hi)) = split.days {
            self.add_counts(q, lo, hi, "action", |r| crate::store::text(r, 0), &mut acc)?;
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
            self.add_counts(q, lo, hi, "day", |r| crate::store::int(r, 0), &mut acc)?;
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
        let sql = format!("SELECT day, CAST(sum(n) AS BIGINT) FROM report_counts {cond} GROUP BY day ORDER BY day DESC");
        let (mut found, mut oldest) = (0u64, None);
        let mut enough = false;
        self.store.with(|s| {
            s.each(&sql, &params, &mut |row| {
                if enough {
                    return Ok(());
                }
                let day = crate::store::int(row, 0)?;
                let n = crate::store::int(row, 1)?;
                if n <= 0 {
                    return Ok(());
                }
                oldest = Some(day);
                if until.is_none_or(|u| (day + 1) * DAY_MS <= u) {
                    found += n as u64;
                    if found >= limit {
                        enough = true;
                    }
                }
                Ok(())
            })
        })?;
        Ok(oldest)
    }

    /// `count_matching` computed from `report` alone, with the span `[since, until)` (UTC ms)
    /// instead of the query's.
    fn count_raw(&self, q: &ReportQuery, since: Option<i64>, until: Option<i64>) -> Result<u64, ReportError> {
        let (cond, params) = where_clause_ms(self.store.dialect(), q, since, until);
        let n = self.store.with(|s| s.int(&format!("SELECT count(*) FROM report {cond}"), &params))?;
        Ok(n as u64)
    }

    /// `summary` computed from `report` alone, with the span `[since, until)` (UTC ms).
    fn summary_raw(&self, q: &ReportQuery, since: Option<i64>, until: Option<i64>) -> Result<Vec<(String, Outcome, u64)>, ReportError> {
        let (cond, params) = where_clause_ms(self.store.dialect(), q, since, until);
        let sql = format!("SELECT action, outcome, count(*) FROM report {cond} GROUP BY action, outcome");
        let rows = self.store.with(|s| {
            s.all(&sql, &params, |row| Ok((crate::store::text(row, 0)?, crate::store::text(row, 1)?, crate::store::int(row, 2)?)))
        })?;
        let mut out = Vec::new();
        for (action, outcome, n) in rows {
            out.push((
                action,
                outcome.parse().map_err(|e: UnknownOutcome| ReportError::Record { seq: 0, message: e.to_string() })?,
                n as u64,
            ));
        }
        out.sort();
        Ok(out)
    }

    /// `daily_counts` computed from `report` alone, with the span `[since, until)` (UTC ms); days
    /// as UTC days since the unix epoch.
    fn daily_counts_raw(&self, q: &ReportQuery, since: Option<i64>, until: Option<i64>) -> Result<Vec<(i64, Outcome, u64)>, ReportError> {
        let d = self.store.dialect();
        let (cond, params) = where_clause_ms(d, q, since, until);
        let sql = format!("SELECT {} AS day, outcome, count(*) FROM report {cond} GROUP BY day, outcome", d.day_of("finished_ms"));
        let rows = self.store.with(|s| {
            s.all(&sql, &params, |row| Ok((crate::store::int(row, 0)?, crate::store::text(row, 1)?, crate::store::int(row, 2)?)))
        })?;
        let mut out = Vec::new();
        for (day, outcome, n) in rows {
            out.push((day, outcome.parse().map_err(|e: UnknownOutcome| ReportError::Record { seq: 0, message: e.to_string() })?, n as u64));
        }
        out.sort();
        Ok(out)
    }

    /// Recompute the chain from the anchor to the head and name the first record that breaks it.
    pub fn verify(&self) -> Result<VerifyReport, ReportError> {
        self.store.with(verify_in)
    }

    /// Delete records that finished more than `retain_days` days before `now`, keeping the chain
    /// verifiable: only a prefix of the chain is removed (a record older than the cutoff but after a
    /// newer one is kept until that one goes too) and the last removed record becomes the anchor.
    /// Returns the number of records deleted.
    pub fn prune(&mut self, retain_days: u32, now: OffsetDateTime) -> Result<u64, ReportError> {
        let cutoff = to_ms(now - Duration::days(retain_days as i64));
        self.store.write(|s| {
            let (head_seq, _, anchor_seq, _) = chain_state(s, true)?;
            let first_kept = s
                .first("SELECT min(seq) FROM report WHERE finished_ms >= ?1", &[SqlValue::Integer(cutoff)], |r| {
                    crate::store::opt_int(r, 0)
                })?
                .flatten();
            let last_pruned = first_kept.map(|s| s - 1).unwrap_or(head_seq);
            if last_pruned <= anchor_seq {
                return Ok(0);
            }
            let hash = s.first("SELECT hash FROM report WHERE seq = ?1", &[SqlValue::Integer(last_pruned)], |r| Ok(hash_text(r.get(0))))?;
            let hash = hash.flatten().ok_or(ReportError::Missing(last_pruned))?;
            let n = s.execute("DELETE FROM report WHERE seq <= ?1", &[SqlValue::Integer(last_pruned)])?;
            // names no record carries any more go too (pruning is how old employee data leaves the file)
            s.execute("DELETE FROM report_names WHERE NOT EXISTS (SELECT 1 FROM report WHERE names_id = report_names.id)", &[])?;
            s.execute(
                "UPDATE report_chain SET anchor_seq = ?1, anchor_hash = ?2, pruned_at_ms = ?3 WHERE id = 1",
                &[SqlValue::Integer(last_pruned), SqlValue::Text(hash), SqlValue::Integer(to_ms(now))],
            )?;
            Ok(n)
        })
    }

    /// Number of records kept.
    pub fn count(&self) -> Result<u64, ReportError> {
        Ok(self.store.with(|s| s.int("SELECT count(*) FROM report", &[]))? as u64)
    }
}

/// [`ReportStore::verify`] on a connection (also what `store migrate` checks on its copy).
pub fn verify_in(s: &mut dyn Sql) -> Result<VerifyReport, ReportError> {
    let (head_seq, head_hash, anchor_seq, anchor_hash) = chain_state(s, false)?;
    let mut report = VerifyReport { checked: 0, anchor_seq, head_seq, head_hash: head_hash.clone(), broken: None };
    // The names once, then the records alone (no join), each column as the store holds it (no
    // copies): the same values as `HASHED_COLUMNS` gives, rebuilt here.
    let mut names: std::collections::HashMap<i64, Vec<SqlValue>> = std::collections::HashMap::new();
    s.each(&format!("SELECT id, {NAMES} FROM report_names"), &[], &mut |row| {
        names.insert(crate::store::int(row, 0)?, (1..=NAME_COLUMNS.len()).map(|i| SqlValue::from(row.get(i))).collect());
        Ok(())
    })?;
    let mut name_at = [None; N_HASHED];
    for (k, &i) in NAME_COLUMNS.iter().enumerate() {
        name_at[i] = Some(k);
    }
    let mut expect_seq = anchor_seq + 1;
    // the hash of the record before, as text (what is hashed) and as stored
    let mut prev_stored = hash_value(&anchor_hash);
    let mut prev = anchor_hash;
    let r = s.each(
        "SELECT r.seq, r.op_id, r.batch_id, r.policy_run, coalesce(r.started_ms, r.finished_ms - r.duration_ms), r.finished_ms, \
         r.profile, r.host, r.action, r.target_id, r.target_email, r.target_user_name, r.target_display, r.outcome, r.error_code, \
         r.error_message, r.http_status, r.retries, r.duration_ms, r.os_user, r.os_host, r.detail, r.email_key, r.user_name_key, \
         r.prev_hash, r.hash, r.names_id, r.db_role, r.proposed_by, r.approved_by FROM report r ORDER BY r.seq",
        &[],
        &mut |row| {
            let seq = crate::store::int(row, 0)?;
            let names = match row.get(3 + N_HASHED) {
                ValueRef::Integer(id) => names.get(&id),
                _ => None,
            };
            let mut cols: [ValueRef<'_>; N_HASHED] = [ValueRef::Null; N_HASHED];
            for (i, c) in cols.iter_mut().enumerate() {
                *c = match (row.get(1 + i), name_at[i]) {
                    (ValueRef::Null, Some(k)) => names.map_or(ValueRef::Null, |n| ValueRef::from(&n[k])),
                    (v, _) => v,
                };
            }
            let extras = [row.get(4 + N_HASHED), row.get(5 + N_HASHED), row.get(6 + N_HASHED)];
            let prev_hash = row.get(1 + N_HASHED);
            let hash = row.get(2 + N_HASHED);
            let broken = |reason: String| Some(Broken { seq, reason });
            if seq < expect_seq {
                report.broken = broken(format!("record {seq} is at or before the prune anchor {anchor_seq}"));
            } else if seq > expect_seq {
                report.broken =
                    Some(Broken { seq: expect_seq, reason: format!("missing: records {expect_seq}..{} were deleted", seq - 1) });
            } else if prev_hash != ValueRef::from(&prev_stored) {
                report.broken =
                    broken(format!("does not follow record {}: its prev_hash differs (records inserted, replaced or re-ordered)", seq - 1));
            } else if hash != ValueRef::Blob(&chain_digest(&prev, seq, cols, extras)) {
                report.broken = broken("contents changed after it was written (hash mismatch)".into());
            }
            if report.broken.is_some() {
                return Err(StoreError::Stopped);
            }
            report.checked += 1;
            expect_seq = seq + 1;
            prev_stored = SqlValue::from(hash);
            prev = hash_text(hash).unwrap_or_default();
            Ok(())
        },
    );
    match r {
        Err(StoreError::Stopped) => return Ok(report),
        r => r?,
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

/// The chain's head and anchor; `lock`: hold the row until the transaction ends (appending and
/// pruning on PostgreSQL; SQLite's `BEGIN IMMEDIATE` holds the file already).
fn chain_state(s: &mut dyn Sql, lock: bool) -> Result<(i64, String, i64, String), ReportError> {
    let lock = if lock { s.dialect().for_update() } else { "" };
    s.first(&format!("SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM report_chain WHERE id = 1{lock}"), &[], |r| {
        Ok((crate::store::int(r, 0)?, crate::store::text(r, 1)?, crate::store::int(r, 2)?, crate::store::text(r, 3)?))
    })?
    .ok_or(ReportError::NoChain)
}

fn append_conn(s: &mut dyn Sql, r: &OperationRecord) -> Result<StoredRecord, ReportError> {
    let record = normalise(r);
    let (head_seq, head_hash, _, _) = chain_state(s, true)?;
    let seq = head_seq + 1;
    let cols = columns(&record)?;
    let extras = extras(&record);
    let hash = to_hex(&chain_digest(&head_hash, seq, cols.iter().map(ValueRef::from), extras.each_ref().map(ValueRef::from)));
    let names_id = names_id(s, &cols)?;
    // NULL when it is finished_ms - duration_ms, as `HASHED_COLUMNS` rebuilds it
    let started = match (&cols[STARTED], &cols[FINISHED], &cols[DURATION]) {
        (SqlValue::Integer(s), SqlValue::Integer(f), SqlValue::Integer(d)) if f.checked_sub(*d) == Some(*s) => SqlValue::Null,
        _ => cols[STARTED].clone(),
    };
    let c = |i: usize| cols[i].clone();
    let [role, proposed, approved] = extras;
    #[rustfmt::skip]
    let params = [
        SqlValue::Integer(seq), c(0), c(1), c(2), started, c(FINISHED), c(5), c(7), c(12), c(13), c(14), c(15), c(16), c(DURATION),
        c(20), SqlValue::Integer(names_id), hash_value(&head_hash), hash_value(&hash), role, proposed, approved,
    ];
    s.execute(
        "INSERT INTO report (seq, op_id, batch_id, policy_run, started_ms, finished_ms, profile, action, outcome, error_code, \
         error_message, http_status, retries, duration_ms, detail, names_id, prev_hash, hash, db_role, proposed_by, approved_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
        &params,
    )?;
    s.execute(
        "UPDATE report_chain SET head_seq = ?1, head_hash = ?2 WHERE id = 1",
        &[SqlValue::Integer(seq), SqlValue::Text(hash.clone())],
    )?;
    Ok(StoredRecord { seq, record, prev_hash: head_hash, hash })
}

/// The `report_names` row holding these columns' names (added when there is none yet).
fn names_id(s: &mut dyn Sql, cols: &[SqlValue]) -> Result<i64, ReportError> {
    let names: Vec<SqlValue> = NAME_COLUMNS.iter().map(|&i| cols[i].clone()).collect();
    match s.dialect() {
        Dialect::Sqlite => {
            let found = s.first(
                "SELECT id FROM report_names WHERE host IS ?1 AND target_id IS ?2 AND target_email IS ?3 AND target_user_name IS ?4 \
                 AND target_display IS ?5 AND os_user IS ?6 AND os_host IS ?7 AND email_key IS ?8 AND user_name_key IS ?9 LIMIT 1",
                &names,
                |r| crate::store::int(r, 0),
            )?;
            if let Some(id) = found {
                return Ok(id);
            }
            let id = s.first(
                "INSERT INTO report_names (host, target_id, target_email, target_user_name, target_display, os_user, os_host, email_key, \
                 user_name_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
                &names,
                |r| crate::store::int(r, 0),
            )?;
            id.ok_or(ReportError::NoChain)
        }
        Dialect::Postgres => {
            // PostgreSQL cannot index a null-safe match of nine columns: the names' own key.
            let key = SqlValue::Blob(names_key(&names).to_vec());
            if let Some(id) =
                s.first("SELECT id FROM report_names WHERE names_key = ?1", std::slice::from_ref(&key), |r| crate::store::int(r, 0))?
            {
                return Ok(id);
            }
            let mut params = vec![key];
            params.extend(names);
            let id = s.first(
                "INSERT INTO report_names (names_key, host, target_id, target_email, target_user_name, target_display, os_user, os_host, \
                 email_key, user_name_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
                &params,
                |r| crate::store::int(r, 0),
            )?;
            id.ok_or(ReportError::NoChain)
        }
    }
}

/// SHA-256 over the nine names, each as a type tag and length-prefixed bytes.
pub(crate) fn names_key(names: &[SqlValue]) -> [u8; 32] {
    let mut h = Sha256::new();
    for v in names {
        match v {
            SqlValue::Text(t) => {
                h.update(b"T");
                h.update((t.len() as u64).to_be_bytes());
                h.update(t.as_bytes());
            }
            _ => h.update(b"N"),
        }
    }
    h.finalize().into()
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
        db_role: opt(&r.db_role),
        proposed_by: opt(&r.proposed_by),
        approved_by: opt(&r.approved_by),
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
#[cfg(test)]
fn chain_hash(prev_hash: &str, seq: i64, cols: &[SqlValue]) -> String {
    to_hex(&chain_digest(prev_hash, seq, cols.iter().map(ValueRef::from), [ValueRef::Null; 3]))
}

/// The columns of migration 7 (database role, proposer, approver), in hashing order.
const EXTRA_COLUMNS: &str = "r.db_role, r.proposed_by, r.approved_by";

/// The record's migration-7 columns as stored.
fn extras(r: &OperationRecord) -> [SqlValue; 3] {
    let opt = |s: &Option<String>| s.as_deref().map_or(SqlValue::Null, |s| SqlValue::Text(s.to_string()));
    [opt(&r.db_role), opt(&r.proposed_by), opt(&r.approved_by)]
}

/// [`chain_hash`] as bytes, over the columns as the store holds them. When any of the
/// migration-7 columns (`extras`: database role, proposer, approver) is set, they follow the
/// others after the tag `scimitar-report-v2-actor`; a record without them hashes exactly as
/// before migration 7.
fn chain_digest<'a>(prev_hash: &str, seq: i64, cols: impl IntoIterator<Item = ValueRef<'a>>, extras: [ValueRef<'_>; 3]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"scimitar-report-v1");
    h.update(seq.to_be_bytes());
    for c in cols {
        feed(&mut h, c);
    }
    if extras.iter().any(|v| *v != ValueRef::Null) {
        h.update(b"scimitar-report-v2-actor");
        for c in extras {
            feed(&mut h, c);
        }
    }
    h.finalize().into()
}

/// One column: a type tag, then its bytes (length-prefixed for text and blobs).
fn feed(h: &mut Sha256, c: ValueRef<'_>) {
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

/// A record read by `query_each`: `r.seq`, `HASHED_COLUMNS`, the two hashes, `EXTRA_COLUMNS`.
fn row_to_stored(row: &dyn Row) -> Result<StoredRecord, ReportError> {
    use crate::store::{int, opt_int, opt_text, text};
    let seq = int(row, 0).map_err(|e| ReportError::Record { seq: 0, message: e.to_string() })?;
    let build = || -> Result<StoredRecord, Box<dyn std::error::Error + Send + Sync>> {
        let record = OperationRecord {
            op_id: text(row, 1)?,
            batch_id: opt_text(row, 2)?,
            policy_run: opt_text(row, 3)?,
            started_at: from_ms(int(row, 4)?),
            finished_at: from_ms(int(row, 5)?),
            profile: text(row, 6)?,
            host: text(row, 7)?,
            action: text(row, 8)?,
            target_id: opt_text(row, 9)?,
            target_email: opt_text(row, 10)?,
            target_user_name: opt_text(row, 11)?,
            target_display: opt_text(row, 12)?,
            outcome: text(row, 13)?.parse::<Outcome>()?,
            error_code: opt_text(row, 14)?,
            error_message: opt_text(row, 15)?,
            http_status: opt_int(row, 16)?.map(u16::try_from).transpose()?,
            retries: u32::try_from(int(row, 17)?)?,
            duration_ms: u64::try_from(int(row, 18)?)?,
            os_user: text(row, 19)?,
            os_host: text(row, 20)?,
            detail: opt_text(row, 21)?.map(|d| serde_json::from_str(&d)).transpose()?,
            db_role: opt_text(row, 3 + N_HASHED)?,
            proposed_by: opt_text(row, 4 + N_HASHED)?,
            approved_by: opt_text(row, 5 + N_HASHED)?,
        };
        let hash = |i: usize| -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
            hash_text(row.get(i)).ok_or_else(|| "a hash that is not text or bytes".into())
        };
        Ok(StoredRecord { seq, record, prev_hash: hash(1 + N_HASHED)?, hash: hash(2 + N_HASHED)? })
    };
    build().map_err(|e| ReportError::Record { seq, message: e.to_string() })
}

#[cfg(test)]
fn where_clause(q: &ReportQuery) -> (String, Vec<SqlValue>) {
    where_clause_ms(Dialect::Sqlite, q, q.since.map(to_ms), q.until.map(to_ms))
}

/// The WHERE clause over `report` for the query's filters, with the span `[since, until)` (UTC ms)
/// instead of its own.
fn where_clause_ms(d: Dialect, q: &ReportQuery, since: Option<i64>, until: Option<i64>) -> (String, Vec<SqlValue>) {
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
                "names_id IN (SELECT id FROM report_names WHERE target_id = {id} OR {} > 0 OR {} > 0)",
                d.instr("email_key", &key),
                d.instr("user_name_key", &key)
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
