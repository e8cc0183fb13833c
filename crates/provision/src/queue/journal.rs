//! The journal: every operation is committed (fsync'd, SQLite WAL with `synchronous=FULL`)
//! before it is sent, marked running as it goes out, and committed again with its result, in the
//! same transaction that appends its provisioning-report record. After a crash the journal says
//! exactly which operations were pending or in flight; `resume` finishes them.
//!
//! The journal never holds the token: actions carry ids, emails and attribute values only.

use super::action::Action;
use super::kept::Kept;
use crate::report::{OperationRecord, Outcome, ReportStore};
use crate::store::{self, Fence, Row, Sql, Store, StoreError, i, oi, opt_int, opt_text, ot, t, text};
use serde::Serialize;
use std::path::Path;
use time::OffsetDateTime;

/// Why the journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("journal: {0}")]
    Store(#[from] StoreError),
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
    /// This run's lease on the org was taken over (or lapsed): the op is neither sent nor
    /// recorded under it (`store::lease`).
    #[error("{0}")]
    Fenced(#[from] crate::store::LeaseError),
    /// `resume` was asked for a batch whose owner still holds the org's lease.
    #[error("batch {batch_id} belongs to a run that is still alive ({holder}); it is not resumed")]
    Owned { batch_id: String, holder: String },
}

impl From<rusqlite::Error> for JournalError {
    fn from(e: rusqlite::Error) -> Self {
        JournalError::Store(e.into())
    }
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
    /// The store's database role (PostgreSQL's `current_user`), when it has one.
    pub db_role: Option<String>,
}

impl RunContext {
    pub fn new(profile: &str, host: &str, actor: &crate::report::Actor) -> Self {
        RunContext { profile: profile.into(), host: host.into(), os_user: actor.user.clone(), os_host: actor.host.clone(), db_role: None }
    }

    /// Who proposes a batch: `account@host`, with the database role on a shared store.
    pub fn proposer(&self) -> String {
        match &self.db_role {
            Some(r) => format!("{}@{} (role {r})", self.os_user, self.os_host),
            None => format!("{}@{}", self.os_user, self.os_host),
        }
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
    /// The org and lease generation of the run that owns the batch (NULL for batches journaled
    /// before migration 7).
    pub org: Option<String>,
    pub lease_generation: Option<i64>,
    /// Whether the owner still holds the org's lease: such a batch is never resumed.
    pub owner_alive: bool,
    /// Who holds that lease, when alive.
    pub owner: Option<String>,
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

#[derive(Clone)]
pub struct Journal {
    store: Store,
    ctx: RunContext,
    /// The lease this journal writes under (front ends that write take one; see `store::lease`).
    fence: Option<Fence>,
    /// Four-eyes: the batches it journals were proposed by the first and approved by the second
    /// (`crate::approval`), stamped on the batch and on each of its records.
    approval: Option<(String, String)>,
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
    /// The SQLite file at `path`.
    pub fn open(path: &Path, ctx: RunContext) -> Result<Journal, JournalError> {
        Ok(Journal::on(Store::sqlite(path)?, ctx))
    }

    pub fn in_memory(ctx: RunContext) -> Result<Journal, JournalError> {
        Ok(Journal::on(Store::in_memory()?, ctx))
    }

    /// The journal in `store` (the database role, when the store has one, is stamped on records).
    pub fn on(store: Store, mut ctx: RunContext) -> Journal {
        if ctx.db_role.is_none() {
            ctx.db_role = store.role();
        }
        Journal { store, ctx, fence: None, approval: None }
    }

    /// The same journal writing under `fence`: ops are marked running and recorded only while
    /// the store says the lease still has this generation.
    pub fn fenced(&self, fence: Fence) -> Journal {
        Journal { store: self.store.clone(), ctx: self.ctx.clone(), fence: Some(fence), approval: self.approval.clone() }
    }

    /// The same journal for a batch another account approved: its batches name `proposer` as who
    /// proposed them and `approver` as who approved them (`crate::approval`).
    pub fn approved_by(&self, proposer: &str, approver: &str) -> Journal {
        Journal { approval: Some((proposer.to_string(), approver.to_string())), ..self.clone() }
    }

    pub fn fence(&self) -> Option<&Fence> {
        self.fence.as_ref()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn context(&self) -> &RunContext {
        &self.ctx
    }

    /// Refuse (in the caller's transaction) when this journal's lease is no longer the org's.
    fn check_fence(&self, s: &mut dyn Sql) -> Result<(), JournalError> {
        let Some(f) = &self.fence else { return Ok(()) };
        let sql = format!("SELECT CASE WHEN {} THEN 1 ELSE 0 END", Fence::holds_sql(s.dialect(), 1, 2));
        if s.int(&sql, &f.params())? == 1 {
            return Ok(());
        }
        Err(JournalError::Fenced(crate::store::LeaseError::Lost { org: f.org.clone(), why: "another writer took it over".into() }))
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
        self.store.write(|s| {
            self.check_fence(s)?;
            let (org, generation) = match &self.fence {
                Some(f) => (Some(f.org.0.clone()), Some(f.generation)),
                None => (None, None),
            };
            s.execute(
                "INSERT INTO batch (batch_id, created_ms, origin, policy_run, description, profile, host, state, org, lease_generation, proposed_by, approved_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8, ?9, ?10, ?11)",
                &[
                    t(&batch_id),
                    i(now_ms()),
                    t(&info.origin),
                    ot(info.policy_run.clone()),
                    t(&info.description),
                    t(&self.ctx.profile),
                    t(&self.ctx.host),
                    ot(org),
                    oi(generation),
                    t(self.approval.as_ref().map_or_else(|| self.ctx.proposer(), |(p, _)| p.clone())),
                    ot(self.approval.as_ref().map(|(_, a)| a.clone())),
                ],
            )?;
            let mut ids = Vec::with_capacity(actions.len());
            for (n, (phase, a)) in actions.iter().enumerate() {
                let op_id = format!("{batch_id}-{:05}", n + 1);
                s.execute(
                    "INSERT INTO op (op_id, batch_id, seq, phase, action, object_key, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending')",
                    &[t(&op_id), t(&batch_id), i(n as i64 + 1), i(*phase as i64), t(serde_json::to_string(a)?), t(a.object_key())],
                )?;
                ids.push(op_id);
            }
            for (n, k) in kept {
                if let Some(op_id) = ids.get(*n) {
                    keep_in(s, op_id, &batch_id, k)?;
                }
            }
            Ok((batch_id.clone(), ids))
        })
    }

    /// Mark an op as sent. Committed before the request goes out. Returns the attempt number.
    /// Under a lease, only while the store says the lease is still this run's
    /// ([`JournalError::Fenced`] otherwise: the op is not sent).
    pub fn mark_running(&self, op_id: &str) -> Result<i64, JournalError> {
        self.store.write(|s| {
            self.check_fence(s)?;
            s.execute(
                "UPDATE op SET state = 'running', attempts = attempts + 1, started_ms = COALESCE(started_ms, ?2) WHERE op_id = ?1",
                &[t(op_id), i(now_ms())],
            )?;
            Ok(s.int("SELECT attempts FROM op WHERE op_id = ?1", &[t(op_id)])?)
        })
    }

    /// Record an op's final state and append its report record, in one transaction. Under a
    /// lease, only while the store says it is still this run's (the check and the record commit
    /// together).
    pub fn finish(&self, op_id: &str, state: OpState, f: &Finish) -> Result<(), JournalError> {
        let outcome = state.outcome().ok_or(JournalError::NotFinal(state))?;
        self.store.write(|s| {
            self.check_fence(s)?;
            let row = read_op(s, op_id)?.ok_or_else(|| JournalError::NoOp(op_id.to_string()))?;
            if row.state.is_final() {
                // Already finished (e.g. cancelled while in flight): one report record per op.
                return Ok(());
            }
            let finished = now_ms();
            // The token or a password never lands in the journal, whatever a server echoed.
            let scrub = |m: &Option<String>| m.as_deref().map(|m| crate::scim::redact::redact(m).into_owned());
            let (error_message, note) = (scrub(&f.error_message), scrub(&f.note));
            s.execute(
                "UPDATE op SET state = ?2, finished_ms = ?3, error_code = ?4, error_message = ?5, http_status = ?6, retries = retries + ?7, note = ?8 WHERE op_id = ?1",
                &[
                    t(op_id),
                    t(state.as_str()),
                    i(finished),
                    ot(f.error_code.clone()),
                    ot(error_message.clone()),
                    oi(f.http_status),
                    i(f.retries),
                    ot(note.clone()),
                ],
            )?;
            let (policy_run, proposed_by, approved_by) = s
                .first("SELECT policy_run, proposed_by, approved_by FROM batch WHERE batch_id = ?1", &[t(&row.batch_id)], |r| {
                    Ok((opt_text(r, 0)?, opt_text(r, 1)?, opt_text(r, 2)?))
                })?
                .unwrap_or_default();
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
                db_role: self.ctx.db_role.clone(),
                proposed_by,
                approved_by,
            };
            ReportStore::append_in(s, &rec)?;
            Ok(())
        })
    }

    /// Cancel every op of a batch that has not been sent. Returns how many.
    pub fn cancel_pending(&self, batch_id: &str) -> Result<usize, JournalError> {
        let pending: Vec<String> = self.store.with(|s| {
            s.all("SELECT op_id FROM op WHERE batch_id = ?1 AND state = 'pending' ORDER BY seq", &[t(batch_id)], |r| text(r, 0))
        })?;
        for id in &pending {
            self.finish(id, OpState::Cancelled, &Finish { note: Some("cancelled before it was sent".into()), ..Default::default() })?;
        }
        Ok(pending.len())
    }

    /// Put failed ops of a batch back to pending (the `F` key, `resume --retry-failed`).
    pub fn requeue_failed(&self, batch_id: &str) -> Result<usize, JournalError> {
        self.store.write(|s| {
            let n = s.execute(
                "UPDATE op SET state = 'pending', finished_ms = NULL, error_code = NULL, error_message = NULL, http_status = NULL WHERE batch_id = ?1 AND state = 'failed'",
                &[t(batch_id)],
            )?;
            if n > 0 {
                s.execute("UPDATE batch SET state = 'open' WHERE batch_id = ?1", &[t(batch_id)])?;
            }
            Ok(n as usize)
        })
    }

    pub fn close_batch_if_done(&self, batch_id: &str) -> Result<bool, JournalError> {
        self.store.write(|s| {
            let open = s.int("SELECT COUNT(*) FROM op WHERE batch_id = ?1 AND state IN ('pending', 'running')", &[t(batch_id)])?;
            if open == 0 {
                s.execute("UPDATE batch SET state = 'finished' WHERE batch_id = ?1", &[t(batch_id)])?;
            }
            Ok(open == 0)
        })
    }

    pub fn ops(&self, batch_id: &str) -> Result<Vec<OpRow>, JournalError> {
        let rows = self.store.with(|s| {
            s.all(&format!("SELECT {OP_COLUMNS} FROM op WHERE batch_id = ?1 ORDER BY phase, seq"), &[t(batch_id)], op_from_row)
        })?;
        rows.into_iter().collect()
    }

    /// Batches with ops still pending or running (a crash or kill left them, or a run still at
    /// work), oldest first, each with whether its owner still holds the org's lease.
    pub fn unfinished_batches(&self) -> Result<Vec<BatchSummary>, JournalError> {
        let d = self.store.dialect();
        let rows = self.store.with(|s| {
            s.all(
                &format!(
                    "SELECT b.batch_id, b.created_ms, b.origin, b.description, b.profile, b.host, b.policy_run,
                        (SELECT COUNT(*) FROM op o WHERE o.batch_id = b.batch_id),
                        (SELECT COUNT(*) FROM op o WHERE o.batch_id = b.batch_id AND o.state IN ('pending','running')),
                        b.org, b.lease_generation,
                        (SELECT l.holder FROM lease l WHERE l.org = b.org AND l.generation = b.lease_generation
                            AND l.holder IS NOT NULL AND l.expires_ms > {now})
                     FROM batch b WHERE b.state = 'open' ORDER BY b.created_ms",
                    now = d.now_ms()
                ),
                &[],
                |r| {
                    let owner = opt_text(r, 11)?;
                    Ok(BatchSummary {
                        batch_id: text(r, 0)?,
                        created: crate::report::format_time(crate::report::from_ms(store::int(r, 1)?)),
                        origin: text(r, 2)?,
                        description: text(r, 3)?,
                        profile: text(r, 4)?,
                        host: text(r, 5)?,
                        policy_run: opt_text(r, 6)?,
                        total: store::int(r, 7)? as u64,
                        open: store::int(r, 8)? as u64,
                        org: opt_text(r, 9)?,
                        lease_generation: opt_int(r, 10)?,
                        owner_alive: owner.is_some(),
                        owner: owner.map(|h| serde_json::from_str::<crate::store::Holder>(&h).map(|h| h.to_string()).unwrap_or(h)),
                    })
                },
            )
        })?;
        Ok(rows.into_iter().filter(|b| b.open > 0).collect())
    }

    /// Make this run the owner of a batch it is about to resume: refused when the batch's owner
    /// still holds the org's lease (a live run is never resumed by another), in one transaction
    /// with that check. Under a lease, the batch then carries this run's org and generation.
    pub fn claim(&self, batch_id: &str) -> Result<(), JournalError> {
        let d = self.store.dialect();
        self.store.write(|s| {
            self.check_fence(s)?;
            let owner = s
                .first(
                    &format!(
                        "SELECT l.holder, l.generation, l.org FROM batch b JOIN lease l ON l.org = b.org AND l.generation = b.lease_generation
                         WHERE b.batch_id = ?1 AND l.holder IS NOT NULL AND l.expires_ms > {}",
                        d.now_ms()
                    ),
                    &[t(batch_id)],
                    |r| Ok((opt_text(r, 0)?, store::int(r, 1)?, text(r, 2)?)),
                )?
                // (this run's own batch is its own to run)
                .filter(|(_, g, org)| self.fence.as_ref().is_none_or(|f| f.generation != *g || f.org.0 != *org));
            if let Some((holder, _, _)) = owner {
                let holder = holder.unwrap_or_default();
                let holder = serde_json::from_str::<crate::store::Holder>(&holder).map(|h| h.to_string()).unwrap_or(holder);
                return Err(JournalError::Owned { batch_id: batch_id.into(), holder });
            }
            if let Some(f) = &self.fence {
                s.execute(
                    "UPDATE batch SET org = ?2, lease_generation = ?3 WHERE batch_id = ?1",
                    &[t(batch_id), t(&f.org.0), i(f.generation)],
                )?;
            }
            Ok(())
        })
    }

    /// Keep what a deactivation takes away, unless something is kept for it already (the first
    /// snapshot, taken before the first send, is the one that counts). Returns whether it wrote.
    pub fn keep(&self, op_id: &str, kept: &Kept) -> Result<bool, JournalError> {
        self.store.write(|s| {
            let batch_id = s
                .first("SELECT batch_id FROM op WHERE op_id = ?1", &[t(op_id)], |r| text(r, 0))?
                .ok_or_else(|| JournalError::NoOp(op_id.into()))?;
            Ok(keep_in(s, op_id, &batch_id, kept)?)
        })
    }

    /// What is kept for this op, if anything.
    pub fn kept(&self, op_id: &str) -> Result<Option<Kept>, JournalError> {
        let row = self.store.with(|s| {
            s.first(
                &format!("SELECT {KEPT_COLUMNS} FROM kept k JOIN op o ON o.op_id = k.op_id WHERE k.op_id = ?1"),
                &[t(op_id)],
                kept_from_row,
            )
        })?;
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
        let rows = self.store.with(|s| {
            s.all(&format!("SELECT {KEPT_COLUMNS} FROM kept k JOIN op o ON o.op_id = k.op_id WHERE {cond}"), &[t(arg)], kept_from_row)
        })?;
        rows.into_iter().collect()
    }

    /// The newest batches (any state), newest first, with their counts per state: the console's
    /// list of past batches.
    pub fn recent_batches(&self, limit: usize) -> Result<Vec<BatchHistory>, JournalError> {
        Ok(self.store.with(|s| {
            s.all(
                "SELECT b.batch_id, b.created_ms, b.origin, b.description, b.host, b.policy_run, b.state,
                    (SELECT COUNT(*) FROM op o WHERE o.batch_id = b.batch_id),
                    (SELECT COUNT(*) FROM op o WHERE o.batch_id = b.batch_id AND o.state = 'done'),
                    (SELECT COUNT(*) FROM op o WHERE o.batch_id = b.batch_id AND o.state = 'failed'),
                    (SELECT COUNT(*) FROM op o WHERE o.batch_id = b.batch_id AND o.state IN ('pending', 'running')),
                    (SELECT COUNT(*) FROM kept k JOIN op o ON o.op_id = k.op_id WHERE k.batch_id = b.batch_id AND o.state = 'done')
                 FROM batch b ORDER BY b.created_ms DESC, b.batch_id DESC LIMIT ?1",
                &[i(limit as i64)],
                |r| {
                    Ok(BatchHistory {
                        batch_id: text(r, 0)?,
                        created: crate::report::format_time(crate::report::from_ms(store::int(r, 1)?)),
                        origin: text(r, 2)?,
                        description: text(r, 3)?,
                        host: text(r, 4)?,
                        policy_run: opt_text(r, 5)?,
                        finished: text(r, 6)? == "finished",
                        total: store::int(r, 7)? as u64,
                        done: store::int(r, 8)? as u64,
                        failed: store::int(r, 9)? as u64,
                        open: store::int(r, 10)? as u64,
                        restorable: store::int(r, 11)? as u64,
                    })
                },
            )
        })?)
    }

    /// Count of ops per state in a batch.
    pub fn counts(&self, batch_id: &str) -> Result<std::collections::HashMap<OpState, u64>, JournalError> {
        let rows = self.store.with(|s| {
            s.all("SELECT state, COUNT(*) FROM op WHERE batch_id = ?1 GROUP BY state", &[t(batch_id)], |r| {
                Ok((OpState::parse(&text(r, 0)?), store::int(r, 1)? as u64))
            })
        })?;
        Ok(rows.into_iter().collect())
    }
}

/// Write a snapshot unless one is there (the first one counts).
fn keep_in(s: &mut dyn Sql, op_id: &str, batch_id: &str, k: &Kept) -> Result<bool, StoreError> {
    let groups = k.groups.as_ref().map(|g| serde_json::to_string(g).unwrap_or_else(|_| "[]".into()));
    let roles = serde_json::to_string(&k.roles).unwrap_or_else(|_| "[]".into());
    let n = s.execute(
        "INSERT INTO kept (op_id, batch_id, user_id, taken_ms, source, groups, roles) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (op_id) DO NOTHING",
        &[t(op_id), t(batch_id), t(&k.user_id), i(now_ms()), t(&k.source), ot(groups), t(roles)],
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

fn kept_from_row(r: &dyn Row) -> Result<Result<KeptRow, JournalError>, StoreError> {
    let op_id: String = text(r, 0)?;
    let groups: Option<String> = opt_text(r, 5)?;
    let roles: String = text(r, 6)?;
    let action: String = text(r, 7)?;
    let (batch_id, taken, user_id, source) = (text(r, 1)?, store::int(r, 3)?, text(r, 2)?, text(r, 4)?);
    let parse = || -> Result<KeptRow, serde_json::Error> {
        let groups = groups.as_deref().map(serde_json::from_str).transpose()?;
        let roles = serde_json::from_str(&roles)?;
        let target = serde_json::from_str::<Action>(&action)?.target();
        Ok(KeptRow {
            op_id: op_id.clone(),
            batch_id: batch_id.clone(),
            taken: crate::report::from_ms(taken),
            kept: Kept { user_id: user_id.clone(), groups, roles, source: source.clone() },
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

fn op_from_row(r: &dyn Row) -> Result<Result<OpRow, JournalError>, StoreError> {
    let action_text: String = text(r, 4)?;
    let op_id: String = text(r, 0)?;
    let action = match serde_json::from_str::<Action>(&action_text) {
        Ok(a) => a,
        Err(e) => return Ok(Err(JournalError::Unreadable { op_id, message: e.to_string() })),
    };
    Ok(Ok(OpRow {
        op_id,
        batch_id: text(r, 1)?,
        seq: store::int(r, 2)?,
        phase: store::int(r, 3)?,
        action,
        state: OpState::parse(&text(r, 5)?),
        attempts: store::int(r, 6)?,
        error_code: opt_text(r, 7)?,
        error_message: opt_text(r, 8)?,
        http_status: opt_int(r, 9)?.map(|s| s as u16),
        retries: store::int(r, 10)? as u32,
        note: opt_text(r, 11)?,
        started_ms: opt_int(r, 12)?,
    }))
}

fn read_op(s: &mut dyn Sql, op_id: &str) -> Result<Option<OpRow>, JournalError> {
    let row = s.first(&format!("SELECT {OP_COLUMNS} FROM op WHERE op_id = ?1"), &[t(op_id)], op_from_row)?;
    row.transpose()
}
