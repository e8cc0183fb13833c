//! The status record of `scimitar sync`, in the database (`sync_state`, `sync_run`: migration 4
//! in `db/schema.rs`): per (profile, policy) whether it is quarantined and why, the cycle in
//! progress, the next and the last successful run; and one row per cycle. `sync status`, the
//! metrics and the console read it; the cycle, `sync approve` and the console write it.

use crate::store::{Sql, Store, StoreError, i, oi, opt_int, opt_text, ot, t, text};
use serde::Serialize;
use std::path::Path;
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
    Store(#[from] StoreError),
}

/// The status record (its own connection to the store).
pub struct SyncStore {
    store: Store,
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
    /// The SQLite file at `path`.
    pub fn open(path: &Path) -> Result<SyncStore, StatusError> {
        Ok(SyncStore { store: Store::sqlite(path)? })
    }

    /// The status record in `store`.
    pub fn on(store: Store) -> SyncStore {
        SyncStore { store }
    }

    pub fn in_memory() -> Result<SyncStore, StatusError> {
        Ok(SyncStore { store: Store::in_memory()? })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn ensure(s: &mut dyn Sql, profile: &str, policy: &str) -> Result<(), StoreError> {
        s.execute(
            "INSERT INTO sync_state (profile, policy) VALUES (?1, ?2) ON CONFLICT (profile, policy) DO NOTHING",
            &[t(profile), t(policy)],
        )?;
        Ok(())
    }

    /// A cycle starts: remember its policy run, so that a killed cycle is finished next time.
    pub fn begin(&self, profile: &str, policy: &str, run_id: &str) -> Result<(), StatusError> {
        Ok(self.store.write(|s| {
            Self::ensure(s, profile, policy)?;
            s.execute(
                "UPDATE sync_state SET running_run = ?3, running_pid = ?4 WHERE profile = ?1 AND policy = ?2",
                &[t(profile), t(policy), t(run_id), i(std::process::id())],
            )?;
            Ok::<_, StoreError>(())
        })?)
    }

    /// A cycle ended: append its record, clear the run in progress, move the last success.
    pub fn finish(&self, rec: &RunRecord) -> Result<(), StatusError> {
        Ok(self.store.write(|s| {
            Self::ensure(s, &rec.profile, &rec.policy)?;
            let counts = serde_json::json!({ "ops": rec.ops, "plan": rec.plan });
            s.execute(
                "INSERT INTO sync_run (profile, policy, run_id, started_ms, finished_ms, result, message, counts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                &[
                    t(&rec.profile),
                    t(&rec.policy),
                    ot(rec.run_id.clone()),
                    i(ms(rec.started)),
                    i(ms(rec.finished)),
                    t(rec.result.as_str()),
                    ot(rec.message.clone()),
                    t(counts.to_string()),
                ],
            )?;
            // A cycle refused by the lease was never ours to begin: it leaves the run in progress alone.
            if rec.result != RunResult::Locked {
                s.execute(
                    "UPDATE sync_state SET running_run = NULL, running_pid = NULL WHERE profile = ?1 AND policy = ?2",
                    &[t(&rec.profile), t(&rec.policy)],
                )?;
            }
            if rec.result.is_success() {
                s.execute(
                    "UPDATE sync_state SET last_success_ms = ?3 WHERE profile = ?1 AND policy = ?2",
                    &[t(&rec.profile), t(&rec.policy), i(ms(rec.finished))],
                )?;
            }
            Ok::<_, StoreError>(())
        })?)
    }

    pub fn set_next_run(&self, profile: &str, policy: &str, at: Option<OffsetDateTime>) -> Result<(), StatusError> {
        Ok(self.store.write(|s| {
            Self::ensure(s, profile, policy)?;
            s.execute(
                "UPDATE sync_state SET next_run_ms = ?3 WHERE profile = ?1 AND policy = ?2",
                &[t(profile), t(policy), oi(at.map(ms))],
            )?;
            Ok::<_, StoreError>(())
        })?)
    }

    /// Quarantine the policy: nothing is written for it until [`SyncStore::release`].
    pub fn quarantine(&self, profile: &str, policy: &str, q: &Quarantine) -> Result<(), StatusError> {
        Ok(self.store.write(|s| {
            Self::ensure(s, profile, policy)?;
            s.execute(
                "UPDATE sync_state SET quarantined_ms = ?3, quarantine_kind = ?4, quarantine_reason = ?5, quarantine_run = ?6, held = ?7 WHERE profile = ?1 AND policy = ?2",
                &[t(profile), t(policy), i(ms(q.since)), t(q.kind.as_str()), t(&q.reason), ot(q.run_id.clone()), t(q.held.to_string())],
            )?;
            Ok::<_, StoreError>(())
        })?)
    }

    /// Release a quarantine (`sync approve` after its apply, or the console's). Returns whether
    /// the policy was quarantined.
    pub fn release(&self, profile: &str, policy: &str, by: &str) -> Result<bool, StatusError> {
        let n = self.store.with(|s| {
            s.execute(
                "UPDATE sync_state SET quarantined_ms = NULL, quarantine_kind = NULL, quarantine_reason = NULL, quarantine_run = NULL, held = NULL, released_ms = ?3, released_by = ?4
                 WHERE profile = ?1 AND policy = ?2 AND quarantined_ms IS NOT NULL",
                &[t(profile), t(policy), i(ms(OffsetDateTime::now_utc())), t(by)],
            )
        })?;
        Ok(n > 0)
    }

    /// The state of one policy (None: never synced).
    pub fn state(&self, profile: &str, policy: &str) -> Result<Option<SyncState>, StatusError> {
        self.store.with(|s| Self::read_state(s, profile, policy))
    }

    /// Every policy ever synced (for `sync status` without `--policy`), by profile and name.
    pub fn all(&self) -> Result<Vec<SyncState>, StatusError> {
        self.store.with(|s| {
            let keys: Vec<(String, String)> =
                s.all("SELECT profile, policy FROM sync_state ORDER BY profile, policy", &[], |r| Ok((text(r, 0)?, text(r, 1)?)))?;
            let mut out = Vec::new();
            for (p, n) in keys {
                out.extend(Self::read_state(s, &p, &n)?);
            }
            Ok(out)
        })
    }

    /// The last `limit` runs of a policy, newest first.
    pub fn runs(&self, profile: &str, policy: &str, limit: usize) -> Result<Vec<RunRecord>, StatusError> {
        self.store.with(|s| Self::read_runs(s, profile, policy, limit))
    }

    fn read_runs(s: &mut dyn Sql, profile: &str, policy: &str, limit: usize) -> Result<Vec<RunRecord>, StatusError> {
        Ok(s.all(
            "SELECT run_id, started_ms, finished_ms, result, message, counts FROM sync_run WHERE profile = ?1 AND policy = ?2 ORDER BY seq DESC LIMIT ?3",
            &[t(profile), t(policy), i(limit as i64)],
            |r| {
                let counts: serde_json::Value = serde_json::from_str(&text(r, 5)?).unwrap_or_default();
                Ok(RunRecord {
                    profile: profile.to_string(),
                    policy: policy.to_string(),
                    run_id: opt_text(r, 0)?,
                    started: from_ms(crate::store::int(r, 1)?),
                    finished: from_ms(crate::store::int(r, 2)?),
                    result: RunResult::parse(&text(r, 3)?).unwrap_or(RunResult::Error),
                    message: opt_text(r, 4)?,
                    ops: serde_json::from_value(counts["ops"].clone()).unwrap_or_default(),
                    plan: Some(counts["plan"].clone()).filter(|p| !p.is_null()),
                })
            },
        )?)
    }

    fn read_state(s: &mut dyn Sql, profile: &str, policy: &str) -> Result<Option<SyncState>, StatusError> {
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
        let row: Option<Row> = s.first(
            "SELECT quarantined_ms, quarantine_kind, quarantine_reason, quarantine_run, held, running_run, running_pid, next_run_ms, last_success_ms
             FROM sync_state WHERE profile = ?1 AND policy = ?2",
            &[t(profile), t(policy)],
            |r| {
                Ok((
                    opt_int(r, 0)?,
                    opt_text(r, 1)?,
                    opt_text(r, 2)?,
                    opt_text(r, 3)?,
                    opt_text(r, 4)?,
                    opt_text(r, 5)?,
                    opt_int(r, 6)?,
                    opt_int(r, 7)?,
                    opt_int(r, 8)?,
                ))
            },
        )?;
        let Some((q_ms, kind, reason, q_run, held, running_run, running_pid, next, last_ok)) = row else { return Ok(None) };
        let quarantine = q_ms.map(|since| Quarantine {
            kind: if kind.as_deref() == Some("breaker") { QuarantineKind::Breaker } else { QuarantineKind::Ceiling },
            reason: reason.unwrap_or_default(),
            run_id: q_run,
            since: from_ms(since),
            held: held.and_then(|h| serde_json::from_str(&h).ok()).unwrap_or_default(),
        });
        let last_run = Self::read_runs(s, profile, policy, 1)?.into_iter().next();
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
