//! The journal: every operation is committed (fsync'd, SQLite WAL with `synchronous=FULL`)
//! before it is sent, marked running as it goes out, and committed again with its result, in the
//! same transaction that appends its provisioning-report record. After a crash the journal says
//! exactly which operations were pending or in flight; `resume` finishes them.
//!
//! The journal never holds the token: actions carry ids, emails and attribute values only.

use super::action::Action;
use super::kept::Kept;
use crate::report::{OperationRecord, Outcome, ReportStore};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use std::path::Path;
use std::sync::Mutex;
use time::OffsetDateTime;

/// Why the journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("journal: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error("journal: {0}")]
    Json(#[from] serde_json::Error),
    #[error("journal op {op_id} holds an action this version cannot read: {message}")]
    Unreadable { op_id: String, message: String },
    #[error("finishing an op needs a final state, not {0:?}")]
    NotFinal(OpState),
    #[error("no op {0} in the journal")]
    NoOp(String),
    /// The thread doing journal work stopped (a panic or a shutdown).
    #[error("journal work stopped: {0}")]
    Stopped(String),
}

/// State of one journaled operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OpState {
    Pending,
    Running,
    Done,
    Failed,
    Cancelled,
    Skipped,
}

impl OpState {
    pub fn as_str(self) -> &'static str {
        match self {
            OpState::Pending => "pending",
            OpState::Running => "running",
            OpState::Done => "done",
            OpState::Failed => "failed",
            OpState::Cancelled => "cancelled",
            OpState::Skipped => "skipped",
        }
    }
    fn parse(s: &str) -> OpState {
        match s {
            "pending" => OpState::Pending,
            "running" => OpState::Running,
            "done" => OpState::Done,
            "failed" => OpState::Failed,
            "cancelled" => OpState::Cancelled,
            _ => OpState::Skipped,
        }
    }
    pub fn is_final(self) -> bool {
        !matches!(self, OpState::Pending | OpState::Running)
    }
    pub fn outcome(self) -> Option<Outcome> {
        match self {
            OpState::Done => Some(Outcome::Done),
            OpState::Failed => Some(Outcome::Failed),
            OpState::Cancelled => Some(Outcome::Cancelled),
            OpState::Skipped => Some(Outcome::Skipped),
            _ => None,
        }
    }
}

/// Who runs a batch, against what: stamped on every report record.
#[derive(Clone, Debug, Default)]
pub struct RunContext {
    pub profile: String,
    pub host: String,
    pub os_user: String,
    pub os_host: String,
}

impl RunContext {
    pub fn new(profile: &str, host: &str, actor: &crate::report::Actor) -> Self {
        RunContext { profile: profile.into(), host: host.into(), os_user: actor.user.clone(), os_host: actor.host.clone() }
    }
}

#[derive(Clone, Debug)]
pub struct BatchInfo {
    pub origin: String,
    pub policy_run: Option<String>,
    pub description: String,
}

/// One operation as the journal holds it.
#[derive(Clone, Debug)]
pub struct OpRow {
    pub op_id: String,
    pub batch_id: String,
    pub seq: i64,
    pub phase: i64,
    pub action: Action,
    pub state: OpState,
    pub attempts: i64,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub http_status: Option<u16>,
    pub retries: u32,
    pub note: Option<String>,
    pub started_ms: Option<i64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BatchSummary {
    pub batch_id: String,
    pub created: String,
    pub origin: String,
    pub description: String,
    pub profile: String,
    pub host: String,
    /// The policy run the batch belongs to (`scimitar apply`, `scimitar sync`, the console).
    pub policy_run: Option<String>,
    pub total: u64,
    pub open: u64,
}

/// The result of one attempt, handed to [`Journal::finish`].
#[derive(Clone, Debug, Default)]
pub struct Finish {
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub http_status: Option<u16>,
    pub retries: u32,
    pub note: Option<String>,
}

pub struct Journal {
    conn: Mutex<Connection>,
    ctx: RunContext,
}

fn now_ms() -> i64 {
    crate::report::to_ms(OffsetDateTime::now_utc())
}

pub fn new_id(prefix: &str) -> String {
    let t = OffsetDateTime::now_utc();
    let r: u32 = rand::random();
    format!("{prefix}-{:04}{:02}{:02}-{:02}{:02}{:02}-{:08x}", t.year(), t.month() as u8, t.day(), t.hour(), t.minute(), t.second(), r)
}

impl Journal {
    pub fn open(path: &Path, ctx: RunContext) -> Result<Journal, JournalError> {
        Ok(Journal { conn: Mutex::new(crate::db::open(path)?), ctx })
    }

    pub fn in_memory(ctx: RunContext) -> Result<Journal, JournalError> {
        Ok(Journal { conn: Mutex::new(crate::db::open_in_memory()?), ctx })
    }

    pub fn context(&self) -> &RunContext {
        &self.ctx
    }

    /// Journal a whole batch (one transaction): every op `pending`, with its phase (phases run in
    /// order; ops within a phase run in parallel).
    pub fn create_batch(&self, info: &BatchInfo, actions: &[(u8, Action)]) -> Result<(String, Vec<String>), JournalError> {
        self.create_batch_keeping(info, actions, &[])
    }

    /// [`Journal::create_batch`], keeping in the same transaction what the deactivations at these
    /// positions of `actions` take away (`kept.rs`).
    pub fn create_batch_keeping(
        &self,
        info: &BatchInfo,
        actions: &[(u8, Action)],
        kept: &[(usize, Kept)],
    ) -> Result<(String, Vec<String>), JournalError> {
        let batch_id = new_id("b");
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO batch (batch_id, created_ms, origin, policy_run, description, profile, host, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open')",
            params![batch_id, now_ms(), info.origin, info.policy_run, info.description, self.ctx.profile, self.ctx.host],
        )?;
        let mut ids = Vec::with_capacity(actions.len());
        {
            let mut stmt = tx.prepare(
                "INSERT INTO op (op_id, batch_id, seq, phase, action, object_key, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending')",
            )?;
            for (i, (phase, a)) in actions.iter().enumerate() {
                let op_id = format!("{batch_id}-{:05}", i + 1);
                stmt.execute(params![op_id, batch_id, i as i64 + 1, *phase as i64, serde_json::to_string(a)?, a.object_key()])?;
                ids.push(op_id);
            }
        }
        for (i, k) in kept {
            if let Some(op_id) = ids.get(*i) {
                keep_in(&tx, op_id, &batch_id, k)?;
            }
        }
        tx.commit()?;
        Ok((batch_id, ids))
    }

    /// Mark an op as sent. Committed before the request goes out. Returns the attempt number.
    pub fn mark_running(&self, op_id: &str) -> Result<i64, JournalError> {
        let conn = self.conn.lock().unwrap();
        conn.execute(
            "UPDATE op SET state = 'running', attempts = attempts + 1, started_ms = COALESCE(started_ms, ?2) WHERE op_id = ?1",
            params![op_id, now_ms()],
        )?;
        Ok(conn.query_row("SELECT attempts FROM op WHERE op_id = ?1", [op_id], |r| r.get(0))?)
    }

    /// Record an op's final state and append its report record, in one transaction.
    pub fn finish(&self, op_id: &str, state: OpState, f: &Finish) -> Result<(), JournalError> {
        let outcome = state.outcome().ok_or(JournalError::NotFinal(state))?;
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row = read_op(&tx, op_id)?.ok_or_else(|| JournalError::NoOp(op_id.to_string()))?;
        if row.state.is_final() {
            // Already finished (e.g. cancelled while in flight): one report record per op.
            return Ok(());
        }
        let finished = now_ms();
        // The token or a password never lands in the journal, whatever a server echoed.
        let scrub = |s: &Option<String>| s.as_deref().map(|m| crate::scim::redact::redact(m).into_owned());
        let (error_message, note) = (scrub(&f.error_message), scrub(&f.note));
        tx.execute(
            "UPDATE op SET state = ?2, finished_ms = ?3, error_code = ?4, error_message = ?5, http_status = ?6, retries = retries + ?7, note = ?8 WHERE op_id = ?1",
            params![op_id, state.as_str(), finished, f.error_code, error_message, f.http_status, f.retries, note],
        )?;
        let policy_run: Option<String> =
            tx.query_row("SELECT policy_run FROM batch WHERE batch_id = ?1", [&row.batch_id], |r| r.get(0)).optional()?.flatten();
        let started = row.started_ms.unwrap_or(finished);
        let target = row.action.target();
        let mut detail = row.action.detail();
        if let Some(n) = &note {
            detail["note"] = serde_json::Value::from(n.as_str());
        }
        let rec = OperationRecord {
            op_id: op_id.to_string(),
            batch_id: Some(row.batch_id.clone()),
            policy_run,
            started_at: crate::report::from_ms(started),
            finished_at: crate::report::from_ms(finished),
            profile: self.ctx.profile.clone(),
            host: self.ctx.host.clone(),
            action: row.action.name().to_string(),
            target_id: target.id,
            target_email: target.email,
            target_user_name: target.user_name,
            target_display: target.display,
            outcome,
            error_code: f.error_code.clone(),
            error_message,
            http_status: f.http_status,
            retries: row.retries + f.retries,
            duration_ms: (finished - started).max(0) as u64,
            os_user: self.ctx.os_user.clone(),
            os_host: self.ctx.os_host.clone(),
            detail: Some(detail),
        };
        ReportStore::append_in(&tx, &rec)?;
        tx.commit()?;
        Ok(())
    }

    /// Cancel every op of a batch that has not been sent. Returns how many.
    pub fn cancel_pending(&self, batch_id: &str) -> Result<usize, JournalError> {
        let pending: Vec<String> = {
            let conn = self.conn.lock().unwrap();
            let mut stmt = conn.prepare("SELECT op_id FROM op WHERE batch_id = ?1 AND state = 'pending' ORDER BY seq")?;
            stmt.query_map([batch_id], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        for id in &pending {
            self.finish(id, OpState::Cancelled, &Finish { note: Some("cancelled before it was sent".into()), ..Default::default() })?;
        }
        Ok(pending.len())
    }

    /// Put failed ops of a batch back to pending (the `F` key, `resume --retry-failed`).
    pub fn requeue_failed(&self, batch_id: &str) -> Result<usize, JournalError> {
        let conn = self.conn.lock().unwrap();
        let n = conn.execute(
            "UPDATE op SET state = 'pending', finished_ms = NULL, error_code = NULL, error_message = NULL, http_status = NULL WHERE batch_id = ?1 AND state = 'failed'",
            [batch_id],
        )?;
        if n > 0 {
            conn.execute("UPDATE batch SET state = 'open' WHERE batch_id = ?1", [batch_id])?;
        }
        Ok(n)
    }

    pub fn close_batch_if_done(&self, batch_id: &str) -> Result<bool, JournalError> {
        let conn = self.conn.lock().unwrap();
        let open: i64 =
            conn.query_row("SELECT COUNT(*) FROM op WHERE batch_id = ?1 AND state IN ('pending', 'running')", [batch_id], |r| r.get(0))?;
        if open == 0 {
            conn.execute("UPDATE batch SET state = 'finished' WHERE batch_id = ?1", [batch_id])?;
        }
        Ok(open == 0)
    }

    pub fn ops(&self, batch_id: &str) -> Result<Vec<OpRow>, JournalError> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn.prepare(&format!("SELECT {OP_COLUMNS} FROM op WHERE batch_id = ?1 ORDER BY phase, seq"))?;
        let rows = stmt.query_map([batch_id], op_from_row)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().collect()
    }

    /// Batches with ops still pending or running (a crash or kill left them), oldest first.
    pub fn unfinished_batches(&self) -> Result<Vec<BatchSummary>, JournalError> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn.prepare(
            "SELECT b.batch_id, b.created_ms, b.origin, b.description, b.profile, b.host, b.policy_run,
                    (SELECT COUNT(*) FROM op o WHERE o.batch_id = b.batch_id),
                    (SELECT COUNT(*) FROM op o WHERE o.batch_id = b.batch_id AND o.state IN ('pending','running'))
             FROM batch b WHERE b.state = 'open' ORDER BY b.created_ms",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(BatchSummary {
                    batch_id: r.get(0)?,
                    created: crate::report::format_time(crate::report::from_ms(r.get(1)?)),
                    origin: r.get(2)?,
                    description: r.get(3)?,
                    profile: r.get(4)?,
                    host: r.get(5)?,
                    policy_run: r.get(6)?,
                    total: r.get::<_, i64>(7)? as u64,
                    open: r.get::<_, i64>(8)? as u64,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows.into_iter().filter(|b| b.open > 0).collect())
    }

    /// Keep what a deactivation takes away, unless something is kept for it already (the first
    /// snapshot, taken before the first send, is the one that counts). Returns whether it wrote.
    pub fn keep(&self, op_id: &str, kept: &Kept) -> Result<bool, JournalError> {
        let conn = self.conn.lock().unwrap();
        let batch_id: String = conn
            .query_row("SELECT batch_id FROM op WHERE op_id = ?1", [op_id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| JournalError::NoOp(op_id.into()))?;
        Ok(keep_in(&conn, op_id, &batch_id, kept)?)
    }

    /// What is kept for this op, if anything.
    pub fn kept(&self, op_id: &str) -> Result<Option<Kept>, JournalError> {
        let conn = self.conn.lock().unwrap();
        let row = conn
            .query_row(
                &format!("SELECT {KEPT_COLUMNS} FROM kept k JOIN op o ON o.op_id = k.op_id WHERE k.op_id = ?1"),
                [op_id],
                kept_from_row,
            )
            .optional()?;
        Ok(row.transpose()?.map(|r| r.kept))
    }

    /// What the done deactivations of a batch took away (in op order).
    pub fn kept_of_batch(&self, batch_id: &str) -> Result<Vec<KeptRow>, JournalError> {
        self.kept_where("k.batch_id = ?1 AND o.state = 'done' ORDER BY o.seq", batch_id)
    }

    /// What the latest done deactivation of this user took away.
    pub fn kept_of_user(&self, user_id: &str) -> Result<Option<KeptRow>, JournalError> {
        Ok(self.kept_where("k.user_id = ?1 AND o.state = 'done' ORDER BY k.taken_ms DESC LIMIT 1", user_id)?.pop())
    }

    /// What one done deactivation took away (a report record names its op).
    pub fn kept_of_op(&self, op_id: &str) -> Result<Option<KeptRow>, JournalError> {
        Ok(self.kept_where("k.op_id = ?1 AND o.state = 'done'", op_id)?.pop())
    }

    fn kept_where(&self, cond: &str, arg: &str) -> Result<Vec<KeptRow>, JournalError> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn.prepare(&format!("SELECT {KEPT_COLUMNS} FROM kept k JOIN op o ON o.op_id = k.op_id WHERE {cond}"))?;
        let rows = stmt.query_map([arg], kept_from_row)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().collect()
    }

    /// The newest batches (any state), newest first, with their counts per state: the console's
    /// list of past batches.
    pub fn recent_batches(&self, limit: usize) -> Result<Vec<BatchHistory>, JournalError> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn.prepare(
            "SELECT b.batch_id, b.created_ms, b.origin, b.description, b.host, b.policy_run, b.state,
                    (SELECT COUNT(*) FROM op o WHERE o.batch_id = b.batch_id),
                    (SELECT COUNT(*) FROM op o WHERE o.batch_id = b.batch_id AND o.state = 'done'),
                    (SELECT COUNT(*) FROM op o WHERE o.batch_id = b.batch_id AND o.state = 'failed'),
                    (SELECT COUNT(*) FROM op o WHERE o.batch_id = b.batch_id AND o.state IN ('pending', 'running')),
                    (SELECT COUNT(*) FROM kept k JOIN op o ON o.op_id = k.op_id WHERE k.batch_id = b.batch_id AND o.state = 'done')
             FROM batch b ORDER BY b.created_ms DESC, b.batch_id DESC LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(BatchHistory {
                    batch_id: r.get(0)?,
                    created: crate::report::format_time(crate::report::from_ms(r.get(1)?)),
                    origin: r.get(2)?,
                    description: r.get(3)?,
                    host: r.get(4)?,
                    policy_run: r.get(5)?,
                    finished: r.get::<_, String>(6)? == "finished",
                    total: r.get::<_, i64>(7)? as u64,
                    done: r.get::<_, i64>(8)? as u64,
                    failed: r.get::<_, i64>(9)? as u64,
                    open: r.get::<_, i64>(10)? as u64,
                    restorable: r.get::<_, i64>(11)? as u64,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Count of ops per state in a batch.
    pub fn counts(&self, batch_id: &str) -> Result<std::collections::HashMap<OpState, u64>, JournalError> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn.prepare("SELECT state, COUNT(*) FROM op WHERE batch_id = ?1 GROUP BY state")?;
        let rows = stmt.query_map([batch_id], |r| Ok((OpState::parse(&r.get::<_, String>(0)?), r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Write a snapshot unless one is there (the first one counts).
fn keep_in(conn: &Connection, op_id: &str, batch_id: &str, k: &Kept) -> rusqlite::Result<bool> {
    let groups = k.groups.as_ref().map(|g| serde_json::to_string(g).unwrap_or_else(|_| "[]".into()));
    let roles = serde_json::to_string(&k.roles).unwrap_or_else(|_| "[]".into());
    let n = conn.execute(
        "INSERT OR IGNORE INTO kept (op_id, batch_id, user_id, taken_ms, source, groups, roles) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![op_id, batch_id, k.user_id, now_ms(), k.source, groups, roles],
    )?;
    Ok(n > 0)
}

/// One kept snapshot with the op it belongs to.
#[derive(Clone, Debug)]
pub struct KeptRow {
    pub op_id: String,
    pub batch_id: String,
    pub taken: OffsetDateTime,
    pub kept: Kept,
    /// The deactivation's target as it was journaled (email, name: for the confirmation).
    pub target: super::Target,
}

const KEPT_COLUMNS: &str = "k.op_id, k.batch_id, k.user_id, k.taken_ms, k.source, k.groups, k.roles, o.action";

fn kept_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<KeptRow, JournalError>> {
    let op_id: String = r.get(0)?;
    let groups: Option<String> = r.get(5)?;
    let roles: String = r.get(6)?;
    let action: String = r.get(7)?;
    let parse = || -> Result<KeptRow, serde_json::Error> {
        let groups = groups.as_deref().map(serde_json::from_str).transpose()?;
        let roles = serde_json::from_str(&roles)?;
        let target = serde_json::from_str::<Action>(&action)?.target();
        Ok(KeptRow {
            op_id: op_id.clone(),
            batch_id: r.get(1).unwrap_or_default(),
            taken: crate::report::from_ms(r.get(3).unwrap_or_default()),
            kept: Kept { user_id: r.get(2).unwrap_or_default(), groups, roles, source: r.get(4).unwrap_or_default() },
            target,
        })
    };
    Ok(parse().map_err(|e| JournalError::Unreadable { op_id: op_id.clone(), message: e.to_string() }))
}

/// One batch as the console's list of past batches shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BatchHistory {
    pub batch_id: String,
    pub created: String,
    pub origin: String,
    pub description: String,
    pub host: String,
    pub policy_run: Option<String>,
    pub finished: bool,
    pub total: u64,
    pub done: u64,
    pub failed: u64,
    pub open: u64,
    /// Done deactivations with what they took away kept: what `restore` can give back.
    pub restorable: u64,
}

impl OpRow {
    /// The users this op changed (target, members, a created user's new id from the engine's
    /// note), for the console to read them again.
    pub fn users_touched(&self) -> Vec<String> {
        let mut out: Vec<String> = self.action.member_ids().to_vec();
        if self.action.spec().subject == super::Subject::User
            && let Some(id) = self.action.target().id
        {
            out.push(id);
        }
        if self.action.kind() == super::ActionKind::CreateUser
            && let Some(id) = self.note.as_deref().and_then(|n| n.strip_prefix("created ")).and_then(|n| n.split_whitespace().next())
        {
            out.push(id.to_string());
        }
        out
    }
}

const OP_COLUMNS: &str =
    "op_id, batch_id, seq, phase, action, state, attempts, error_code, error_message, http_status, retries, note, started_ms";

fn op_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<OpRow, JournalError>> {
    let action_text: String = r.get(4)?;
    let op_id: String = r.get(0)?;
    let action = match serde_json::from_str::<Action>(&action_text) {
        Ok(a) => a,
        Err(e) => return Ok(Err(JournalError::Unreadable { op_id, message: e.to_string() })),
    };
    Ok(Ok(OpRow {
        op_id,
        batch_id: r.get(1)?,
        seq: r.get(2)?,
        phase: r.get(3)?,
        action,
        state: OpState::parse(&r.get::<_, String>(5)?),
        attempts: r.get(6)?,
        error_code: r.get(7)?,
        error_message: r.get(8)?,
        http_status: r.get::<_, Option<i64>>(9)?.map(|s| s as u16),
        retries: r.get::<_, i64>(10)? as u32,
        note: r.get(11)?,
        started_ms: r.get(12)?,
    }))
}

fn read_op(conn: &Connection, op_id: &str) -> Result<Option<OpRow>, JournalError> {
    let row = conn.query_row(&format!("SELECT {OP_COLUMNS} FROM op WHERE op_id = ?1"), [op_id], op_from_row).optional()?;
    row.transpose()
}
