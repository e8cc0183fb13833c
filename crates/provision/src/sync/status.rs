//! The status record of `scimitar sync`, in the database (`sync_state`, `sync_run`: migration 4
//! in `db/schema.rs`): per (profile, policy) whether it is quarantined and why, the cycle in
//! progress, the next and the last successful run; and one row per cycle. `sync status`, the
//! metrics and the console read it; the cycle, `sync approve` and the console write it.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::Path;
use std::sync::Mutex;
use time::OffsetDateTime;

use crate::report::{format_time, from_ms, to_ms};

/// How a cycle ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunResult {
    /// The plan was applied; every operation succeeded.
    Applied,
    /// Slack already matched the source.
    NoChanges,
    /// Some operations failed (the journal has them; the next cycle tries what is still missing).
    Failed,
    /// This cycle quarantined the policy (a ceiling, or the breaker); nothing more was written.
    Quarantined,
    /// The policy was already quarantined: nothing was read or written.
    Held,
    /// Another scimitar held the profile's lock: nothing was done.
    Locked,
    /// The cycle could not plan (the policy, its source, Slack or the directory failed).
    Error,
    /// Stopped by SIGTERM/SIGINT between operations (the rest is cancelled in the journal).
    Interrupted,
}

impl RunResult {
    pub const ALL: [RunResult; 8] = [
        RunResult::Applied,
        RunResult::NoChanges,
        RunResult::Failed,
        RunResult::Quarantined,
        RunResult::Held,
        RunResult::Locked,
        RunResult::Error,
        RunResult::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Applied => "applied",
            RunResult::NoChanges => "no_changes",
            RunResult::Failed => "failed",
            RunResult::Quarantined => "quarantined",
            RunResult::Held => "held",
            RunResult::Locked => "locked",
            RunResult::Error => "error",
            RunResult::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<RunResult> {
        RunResult::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// A run that did what it was asked (the last-success time moves).
    pub fn is_success(self) -> bool {
        matches!(self, RunResult::Applied | RunResult::NoChanges)
    }

    /// A run worth a `failure` alert.
    pub fn is_failure(self) -> bool {
        matches!(self, RunResult::Failed | RunResult::Error | RunResult::Interrupted)
    }
}

impl std::fmt::Display for RunResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Operations of a run by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct OpCounts {
    pub done: u64,
    pub failed: u64,
    pub skipped: u64,
    pub cancelled: u64,
}

impl OpCounts {
    pub fn add_batch(&mut self, b: &crate::queue::BatchResult) {
        use crate::queue::OpState;
        self.done += b.count(OpState::Done);
        self.failed += b.count(OpState::Failed);
        self.skipped += b.count(OpState::Skipped);
        self.cancelled += b.count(OpState::Cancelled);
    }

    pub fn total(&self) -> u64 {
        self.done + self.failed + self.skipped + self.cancelled
    }
}

/// One cycle, as `sync_run` keeps it.
#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    pub profile: String,
    pub policy: String,
    pub run_id: Option<String>,
    #[serde(serialize_with = "ts")]
    pub started: OffsetDateTime,
    #[serde(serialize_with = "ts")]
    pub finished: OffsetDateTime,
    pub result: RunResult,
    pub message: Option<String>,
    pub ops: OpCounts,
    /// The plan's counts (`PlanCounts` as JSON), when the cycle planned.
    pub plan: Option<serde_json::Value>,
}

/// Why a policy is quarantined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QuarantineKind {
    /// The plan was over the policy's or the profile's ceiling: nothing was written.
    Ceiling,
    /// The circuit breaker tripped during apply: what was not yet sent was cancelled.
    Breaker,
}

impl QuarantineKind {
    fn as_str(self) -> &'static str {
        match self {
            QuarantineKind::Ceiling => "ceiling",
            QuarantineKind::Breaker => "breaker",
        }
    }
}

/// A quarantine: the sync writes nothing until an admin releases it (`sync approve`).
#[derive(Clone, Debug, Serialize)]
pub struct Quarantine {
    pub kind: QuarantineKind,
    pub reason: String,
    pub run_id: Option<String>,
    #[serde(serialize_with = "ts")]
    pub since: OffsetDateTime,
    /// What was held: `{"plan": PlanCounts, "gate": "...", "summary": "..."}`.
    pub held: serde_json::Value,
}

impl Quarantine {
    /// Deactivations of the held plan (what `sync approve --yes` may apply at most).
    pub fn held_deactivations(&self) -> Option<u64> {
        self.held.get("plan")?.get("deactivations")?.as_u64()
    }
}

/// Everything `sync status` shows for one policy.
#[derive(Clone, Debug, Serialize)]
pub struct SyncState {
    pub profile: String,
    pub policy: String,
    pub quarantine: Option<Quarantine>,
    /// A cycle that started and has not recorded its end (running now, or killed).
    pub running_run: Option<String>,
    pub running_pid: Option<u32>,
    #[serde(serialize_with = "ts_opt")]
    pub next_run: Option<OffsetDateTime>,
    #[serde(serialize_with = "ts_opt")]
    pub last_success: Option<OffsetDateTime>,
    pub last_run: Option<RunRecord>,
}

impl SyncState {
    /// One line for a log or a pane: `quarantined since ...: why` / `last run applied at ...`.
    pub fn line(&self) -> String {
        if let Some(q) = &self.quarantine {
            return format!(
                "sync: QUARANTINED since {} ({}): {}; review and release with `scimitar sync approve --policy {}`",
                format_time(q.since),
                q.kind.as_str(),
                q.reason,
                self.policy
            );
        }
        match &self.last_run {
            Some(r) => {
                let mut s = format!("sync: last run {} at {}", r.result, format_time(r.finished));
                if let Some(m) = &r.message {
                    s.push_str(&format!(" ({m})"));
                }
                if let Some(n) = self.next_run {
                    s.push_str(&format!("; next {}", format_time(n)));
                }
                s
            }
            None => "sync: never run".into(),
        }
    }
}

/// Why the status record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("sync status: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// The status record (its own connection to the database file; SQLite serialises the writers).
pub struct SyncStore {
    conn: Mutex<Connection>,
}

fn ts<S: serde::Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*t))
}

fn ts_opt<S: serde::Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_time(*t)),
        None => s.serialize_none(),
    }
}

fn ms(t: OffsetDateTime) -> i64 {
    to_ms(t)
}

impl SyncStore {
    pub fn open(path: &Path) -> Result<SyncStore, StatusError> {
        Ok(SyncStore { conn: Mutex::new(crate::db::open(path)?) })
    }

    pub fn in_memory() -> Result<SyncStore, StatusError> {
        Ok(SyncStore { conn: Mutex::new(crate::db::open_in_memory()?) })
    }

    fn ensure(conn: &Connection, profile: &str, policy: &str) -> rusqlite::Result<()> {
        conn.execute("INSERT OR IGNORE INTO sync_state (profile, policy) VALUES (?1, ?2)", params![profile, policy])?;
        Ok(())
    }

    /// A cycle starts: remember its policy run, so that a killed cycle is finished next time.
    pub fn begin(&self, profile: &str, policy: &str, run_id: &str) -> Result<(), StatusError> {
        let conn = self.conn.lock().unwrap();
        Self::ensure(&conn, profile, policy)?;
        conn.execute(
            "UPDATE sync_state SET running_run = ?3, running_pid = ?4 WHERE profile = ?1 AND policy = ?2",
            params![profile, policy, run_id, std::process::id()],
        )?;
        Ok(())
    }

    /// A cycle ended: append its record, clear the run in progress, move the last success.
    pub fn finish(&self, rec: &RunRecord) -> Result<(), StatusError> {
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction()?;
        Self::ensure(&tx, &rec.profile, &rec.policy)?;
        let counts = serde_json::json!({ "ops": rec.ops, "plan": rec.plan });
        tx.execute(
            "INSERT INTO sync_run (profile, policy, run_id, started_ms, finished_ms, result, message, counts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                rec.profile,
                rec.policy,
                rec.run_id,
                ms(rec.started),
                ms(rec.finished),
                rec.result.as_str(),
                rec.message,
                counts.to_string()
            ],
        )?;
        // A cycle refused by the lock was never ours to begin: it leaves the run in progress alone.
        if rec.result != RunResult::Locked {
            tx.execute(
                "UPDATE sync_state SET running_run = NULL, running_pid = NULL WHERE profile = ?1 AND policy = ?2",
                params![rec.profile, rec.policy],
            )?;
        }
        if rec.result.is_success() {
            tx.execute(
                "UPDATE sync_state SET last_success_ms = ?3 WHERE profile = ?1 AND policy = ?2",
                params![rec.profile, rec.policy, ms(rec.finished)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn set_next_run(&self, profile: &str, policy: &str, at: Option<OffsetDateTime>) -> Result<(), StatusError> {
        let conn = self.conn.lock().unwrap();
        Self::ensure(&conn, profile, policy)?;
        conn.execute("UPDATE sync_state SET next_run_ms = ?3 WHERE profile = ?1 AND policy = ?2", params![profile, policy, at.map(ms)])?;
        Ok(())
    }

    /// Quarantine the policy: nothing is written for it until [`SyncStore::release`].
    pub fn quarantine(&self, profile: &str, policy: &str, q: &Quarantine) -> Result<(), StatusError> {
        let conn = self.conn.lock().unwrap();
        Self::ensure(&conn, profile, policy)?;
        conn.execute(
            "UPDATE sync_state SET quarantined_ms = ?3, quarantine_kind = ?4, quarantine_reason = ?5, quarantine_run = ?6, held = ?7 WHERE profile = ?1 AND policy = ?2",
            params![profile, policy, ms(q.since), q.kind.as_str(), q.reason, q.run_id, q.held.to_string()],
        )?;
        Ok(())
    }

    /// Release a quarantine (`sync approve` after its apply, or the console's). Returns whether
    /// the policy was quarantined.
    pub fn release(&self, profile: &str, policy: &str, by: &str) -> Result<bool, StatusError> {
        let conn = self.conn.lock().unwrap();
        let n = conn.execute(
            "UPDATE sync_state SET quarantined_ms = NULL, quarantine_kind = NULL, quarantine_reason = NULL, quarantine_run = NULL, held = NULL, released_ms = ?3, released_by = ?4
             WHERE profile = ?1 AND policy = ?2 AND quarantined_ms IS NOT NULL",
            params![profile, policy, ms(OffsetDateTime::now_utc()), by],
        )?;
        Ok(n > 0)
    }

    /// The state of one policy (None: never synced).
    pub fn state(&self, profile: &str, policy: &str) -> Result<Option<SyncState>, StatusError> {
        let conn = self.conn.lock().unwrap();
        Self::read_state(&conn, profile, policy)
    }

    /// Every policy ever synced (for `sync status` without `--policy`), by profile and name.
    pub fn all(&self) -> Result<Vec<SyncState>, StatusError> {
        let conn = self.conn.lock().unwrap();
        let keys: Vec<(String, String)> = {
            let mut st = conn.prepare("SELECT profile, policy FROM sync_state ORDER BY profile, policy")?;
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?
        };
        let mut out = Vec::new();
        for (p, n) in keys {
            out.extend(Self::read_state(&conn, &p, &n)?);
        }
        Ok(out)
    }

    /// The last `limit` runs of a policy, newest first.
    pub fn runs(&self, profile: &str, policy: &str, limit: usize) -> Result<Vec<RunRecord>, StatusError> {
        let conn = self.conn.lock().unwrap();
        Self::read_runs(&conn, profile, policy, limit)
    }

    fn read_runs(conn: &Connection, profile: &str, policy: &str, limit: usize) -> Result<Vec<RunRecord>, StatusError> {
        let mut st = conn.prepare(
            "SELECT run_id, started_ms, finished_ms, result, message, counts FROM sync_run WHERE profile = ?1 AND policy = ?2 ORDER BY seq DESC LIMIT ?3",
        )?;
        let rows = st.query_map(params![profile, policy, limit as i64], |r| {
            let counts: String = r.get(5)?;
            let counts: serde_json::Value = serde_json::from_str(&counts).unwrap_or_default();
            Ok(RunRecord {
                profile: profile.to_string(),
                policy: policy.to_string(),
                run_id: r.get(0)?,
                started: from_ms(r.get(1)?),
                finished: from_ms(r.get(2)?),
                result: RunResult::parse(&r.get::<_, String>(3)?).unwrap_or(RunResult::Error),
                message: r.get(4)?,
                ops: serde_json::from_value(counts["ops"].clone()).unwrap_or_default(),
                plan: Some(counts["plan"].clone()).filter(|p| !p.is_null()),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn read_state(conn: &Connection, profile: &str, policy: &str) -> Result<Option<SyncState>, StatusError> {
        type Row = (
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        );
        let row: Option<Row> = conn
            .query_row(
                "SELECT quarantined_ms, quarantine_kind, quarantine_reason, quarantine_run, held, running_run, running_pid, next_run_ms, last_success_ms
                 FROM sync_state WHERE profile = ?1 AND policy = ?2",
                params![profile, policy],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?)),
            )
            .optional()?;
        let Some((q_ms, kind, reason, q_run, held, running_run, running_pid, next, last_ok)) = row else { return Ok(None) };
        let quarantine = q_ms.map(|since| Quarantine {
            kind: if kind.as_deref() == Some("breaker") { QuarantineKind::Breaker } else { QuarantineKind::Ceiling },
            reason: reason.unwrap_or_default(),
            run_id: q_run,
            since: from_ms(since),
            held: held.and_then(|h| serde_json::from_str(&h).ok()).unwrap_or_default(),
        });
        let last_run = Self::read_runs(conn, profile, policy, 1)?.into_iter().next();
        Ok(Some(SyncState {
            profile: profile.into(),
            policy: policy.into(),
            quarantine,
            running_run,
            running_pid: running_pid.map(|p| p as u32),
            next_run: next.map(from_ms),
            last_success: last_ok.map(from_ms),
            last_run,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(result: RunResult, finished: i64) -> RunRecord {
        RunRecord {
            profile: "p".into(),
            policy: "hr".into(),
            run_id: Some("pr-1".into()),
            started: from_ms(finished - 1000),
            finished: from_ms(finished),
            result,
            message: None,
            ops: OpCounts { done: 3, failed: 1, skipped: 0, cancelled: 0 },
            plan: Some(serde_json::json!({"creates": 2})),
        }
    }

    #[test]
    fn runs_quarantine_and_release_round_trip() {
        let s = SyncStore::in_memory().unwrap();
        assert!(s.state("p", "hr").unwrap().is_none());
        s.begin("p", "hr", "pr-1").unwrap();
        assert_eq!(s.state("p", "hr").unwrap().unwrap().running_run.as_deref(), Some("pr-1"));
        s.finish(&rec(RunResult::Applied, 10_000)).unwrap();
        s.finish(&rec(RunResult::Failed, 20_000)).unwrap();
        let st = s.state("p", "hr").unwrap().unwrap();
        assert_eq!(st.running_run, None);
        assert_eq!(st.last_success, Some(from_ms(10_000)), "a failed run does not move the last success");
        let last = st.last_run.unwrap();
        assert_eq!((last.result, last.ops.failed, last.plan.unwrap()["creates"].as_u64()), (RunResult::Failed, 1, Some(2)));
        let q = Quarantine {
            kind: QuarantineKind::Ceiling,
            reason: "the plan would deactivate 20 users".into(),
            run_id: Some("pr-2".into()),
            since: from_ms(30_000),
            held: serde_json::json!({"plan": {"deactivations": 20}}),
        };
        s.quarantine("p", "hr", &q).unwrap();
        let st = s.state("p", "hr").unwrap().unwrap();
        let got = st.quarantine.clone().unwrap();
        assert_eq!((got.kind, got.held_deactivations()), (QuarantineKind::Ceiling, Some(20)));
        assert!(st.line().contains("QUARANTINED") && st.line().contains("deactivate 20"), "{}", st.line());
        assert!(s.release("p", "hr", "ann").unwrap());
        assert!(!s.release("p", "hr", "ann").unwrap(), "nothing left to release");
        assert!(s.state("p", "hr").unwrap().unwrap().quarantine.is_none());
        assert_eq!(s.runs("p", "hr", 10).unwrap().len(), 2);
        assert_eq!(s.all().unwrap().len(), 1);
    }
}
