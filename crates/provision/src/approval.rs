//! Four-eyes approvals (issue 21): a batch that would deactivate or change more users than the
//! profile's `approval_over` is not run; it waits in the store as a pending approval until
//! another account approves it (then it runs through the same gate, re-screened against the
//! server's state at that moment, under the org's lease) or anyone rejects it.
//!
//! - **The rule** is the gate's ([`crate::queue::gate`]): with `Safety::approval_over` set, a
//!   decision whose runnable actions change more users than that carries
//!   [`NeedsApproval`], and [`crate::queue::submit`] refuses it. Only this module can clear it
//!   ([`crate::queue::FourEyes`]), after it checked that the approver is not the proposer. So no
//!   front end can run such a batch around the rule.
//! - **Who.** The proposer and the approver are the OS accounts of the processes' real uids
//!   (`report::Actor::of_process`), as the journal and the report name them. The account that
//!   proposed can never approve (whatever the host or database role); any account may reject.
//! - **Journaled.** Proposing, approving, rejecting and the end of the approved run are each a
//!   report record in the one hash chain (`propose_batch`, `approve_batch`, `reject_batch`,
//!   `run_batch`, naming the proposer and, once approved, the approver); every operation of the
//!   approved batch carries both too (`batch.proposed_by`, `batch.approved_by`).
//! - **Stored** in the `approval` table (SQLite migration 8, PostgreSQL migration 2) of the
//!   store: on PostgreSQL the team's, so another admin sees and approves it.

use crate::policy::apply::Later;
use crate::queue::{Action, BatchInfo, Decision, FourEyes, GateError, GatedBatch, Journal, JournalError, Knowledge, RunContext, Safety};
use crate::report::{OperationRecord, Outcome, ReportError, ReportStore};
use crate::scim::ScimClient;
use crate::store::{self, Row, Sql, Store, StoreError, i, opt_int, opt_text, ot, t, text};
use serde::{Deserialize, Serialize};

/// Why an approval could not be proposed, read, approved or rejected.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("no approval {0} in the store (`scimitar approvals` lists them)")]
    NotFound(String),
    /// The four-eyes rule: the account that proposed a batch can never approve it.
    #[error("approval {id} was proposed by {proposer}: you ({you}) cannot approve your own batch; another account must approve it")]
    OwnProposal { id: String, proposer: String, you: String },
    #[error("approval {id} is {state}, not pending; nothing was done")]
    NotPending { id: String, state: String },
    #[error("approval {id} is for {theirs}; this connection is {ours}; nothing was done")]
    OtherServer { id: String, theirs: String, ours: String },
    /// The approval's row no longer matches the proposal the report chain recorded (its
    /// proposer or its actions were changed in the store): it is not run.
    #[error("approval {id} does not match its proposal in the report ({why}); it is not run")]
    Tampered { id: String, why: String },
    #[error("approval {id} holds an action this version cannot read: {message}")]
    Unreadable { id: String, message: String },
    #[error("approvals: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Gate(#[from] GateError),
}

/// Where an approval is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for another account.
    Pending,
    /// Approved; its batch is being run.
    Approved,
    /// Approved and run (its batch finished).
    Run,
    Rejected,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Run => "run",
            State::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "pending" => State::Pending,
            "approved" => State::Approved,
            "run" => State::Run,
            _ => State::Rejected,
        }
    }
}

/// What the gate told the proposer: shown again by `approvals show`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Screening {
    /// `Decision::summary`: "40 to deactivate · skipped: 1 bot".
    pub summary: String,
    /// One line per skipped action, with why.
    pub skipped: Vec<String>,
    /// The ceilings the batch was over, if any (the approver must pass them too).
    pub ceiling: Option<String>,
    /// Why it waits: "this batch changes 40 users (over approval_over = 10) ...".
    pub held: String,
    /// A policy apply's pass 2 (memberships and managers of the users and groups its first pass
    /// creates): the approved run does both passes, as an unheld apply does (`crate::approved::run`). Checked
    /// against the proposal in the chain as the actions are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub later: Option<Later>,
}

impl Screening {
    pub fn of(d: &Decision) -> Screening {
        Screening {
            summary: d.summary(),
            skipped: d.skipped().iter().map(|s| format!("{}: {}", s.action.describe(), s.why())).collect(),
            ceiling: d.ceiling_reason(),
            held: d.needs_approval().map(ToString::to_string).unwrap_or_default(),
            later: None,
        }
    }
}

/// One approval as the store holds it.
#[derive(Clone, Debug, Serialize)]
pub struct Approval {
    pub id: String,
    /// When it was proposed (RFC 3339, UTC).
    pub created: String,
    #[serde(skip)]
    pub created_ms: i64,
    pub profile: String,
    /// The SCIM host the batch is for.
    pub host: String,
    pub org: Option<String>,
    /// `headless`, `policy`, `sync`, `restore`, `console`.
    pub origin: String,
    pub policy_run: Option<String>,
    /// The policy of a `sync` proposal.
    pub policy: Option<String>,
    /// What the batch does ("deactivate users", "apply policy hr (...)").
    pub description: String,
    /// `account@host`, with the database role on PostgreSQL.
    pub proposer: String,
    /// The proposer's OS account (never the approver's).
    pub proposer_account: String,
    /// Distinct users it deactivates or changes, its operations, its deactivations.
    pub users: u64,
    pub operations: u64,
    pub deactivations: u64,
    pub state: State,
    /// Who approved or rejected it, when, and (rejected) why.
    pub decided_by: Option<String>,
    pub decided: Option<String>,
    pub reason: Option<String>,
    /// The batch it ran as, once approved.
    pub batch_id: Option<String>,
    pub screening: Screening,
    /// The runnable actions as the proposer's gate decided them.
    #[serde(skip)]
    pub actions: Vec<Action>,
}

impl Approval {
    /// The plan: one line per action, as confirmations word them.
    pub fn plan(&self) -> Vec<String> {
        let mut plan: Vec<String> = self.actions.iter().map(Action::describe).collect();
        if let Some(n) = self.later_operations() {
            plan.push(format!(
                "then {} in a second pass, once the users and groups the first creates exist",
                crate::words::count(n, "operation")
            ));
        }
        plan
    }

    /// The operations of a policy apply's second pass (memberships and managers of what its
    /// first pass creates), when it has any: what the approver's confirmation adds to the
    /// screened count.
    pub fn later_operations(&self) -> Option<usize> {
        self.screening.later.as_ref().map(Later::operations).filter(|n| *n > 0)
    }

    /// One line for a list: "40 users (40 deactivations) · deactivate users".
    pub fn counts(&self) -> String {
        let mut s = crate::words::count(self.users as usize, "user");
        if self.deactivations > 0 {
            s.push_str(&format!(" ({})", crate::words::count(self.deactivations as usize, "deactivation")));
        }
        s
    }
}

/// What a front end proposes: where it comes from and what it is.
#[derive(Clone, Debug)]
pub struct Proposal {
    pub origin: String,
    pub policy_run: Option<String>,
    /// The policy of a `sync` proposal (one pending approval per policy).
    pub policy: Option<String>,
    pub description: String,
    /// A policy apply's pass 2 ([`Later::of`]); `None` for a batch that is all its actions.
    pub later: Option<Later>,
}

/// The `approval` table's columns (also what `store migrate` copies, `crate::transfer`).
pub(crate) const COLUMNS: &str = "approval_id, created_ms, profile, host, org, origin, policy_run, description, proposer, proposer_account, \
     actions, screening, users, operations, deactivations, state, decided_by, decided_ms, reason, batch_id, policy";

fn from_row(r: &dyn Row) -> Result<Result<Approval, ApprovalError>, StoreError> {
    let id = text(r, 0)?;
    let created_ms = store::int(r, 1)?;
    let actions_json = text(r, 10)?;
    let screening_json = text(r, 11)?;
    let actions = match serde_json::from_str::<Vec<Action>>(&actions_json) {
        Ok(a) => a,
        Err(e) => return Ok(Err(ApprovalError::Unreadable { id, message: e.to_string() })),
    };
    let screening = serde_json::from_str::<Screening>(&screening_json).unwrap_or_default();
    let decided_ms = opt_int(r, 17)?;
    Ok(Ok(Approval {
        id,
        created: crate::report::format_time(crate::report::from_ms(created_ms)),
        created_ms,
        profile: text(r, 2)?,
        host: text(r, 3)?,
        org: opt_text(r, 4)?,
        origin: text(r, 5)?,
        policy_run: opt_text(r, 6)?,
        description: text(r, 7)?,
        proposer: text(r, 8)?,
        proposer_account: text(r, 9)?,
        users: store::int(r, 12)? as u64,
        operations: store::int(r, 13)? as u64,
        deactivations: store::int(r, 14)? as u64,
        state: State::parse(&text(r, 15)?),
        decided_by: opt_text(r, 16)?,
        decided: decided_ms.map(|ms| crate::report::format_time(crate::report::from_ms(ms))),
        reason: opt_text(r, 18)?,
        batch_id: opt_text(r, 19)?,
        policy: opt_text(r, 20)?,
        screening,
        actions,
    }))
}

fn read(s: &mut dyn Sql, id: &str) -> Result<Approval, ApprovalError> {
    s.first(&format!("SELECT {COLUMNS} FROM approval WHERE approval_id = ?1"), &[t(id)], from_row)?
        .ok_or_else(|| ApprovalError::NotFound(id.to_string()))?
}

/// Hold a gated batch over `approval_over` as a pending approval (with the gate's screening the
/// proposer saw), journaled in the report chain. Nothing is sent.
pub fn propose(journal: &Journal, org: Option<&str>, p: &Proposal, decision: &Decision) -> Result<Approval, ApprovalError> {
    let ctx = journal.context();
    let id = crate::queue::journal::new_id("ap");
    let actions = decision.runnable().to_vec();
    let users = crate::queue::users_changed(&actions) as i64;
    let deactivations = decision.deactivations() as i64;
    let screening = Screening { later: p.later.clone(), ..Screening::of(decision) };
    let operations = actions.len() + p.later.as_ref().map_or(0, Later::operations);
    journal.store().write(|s| {
        s.execute(
            &format!("INSERT INTO approval ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 'pending', NULL, NULL, NULL, NULL, ?16)"),
            &[
                t(&id),
                i(store::now_ms()),
                t(&ctx.profile),
                t(&ctx.host),
                ot(org),
                t(&p.origin),
                ot(p.policy_run.clone()),
                t(&p.description),
                t(ctx.proposer()),
                t(&ctx.os_user),
                t(serde_json::to_string(&actions).map_err(JournalError::from)?),
                t(serde_json::to_string(&screening).map_err(JournalError::from)?),
                i(users),
                i(operations as i64),
                i(deactivations),
                ot(p.policy.clone()),
            ],
        )?;
        let a = read(s, &id)?;
        record(s, ctx, &a, "propose", None, None)?;
        Ok(a)
    })
}

/// The pending approval a `sync` of `policy` on `profile` proposed, if any (a cycle proposes one,
/// not one per cycle).
pub fn pending_for_policy(store: &Store, profile: &str, policy: &str) -> Result<Option<Approval>, ApprovalError> {
    let row = store.with(|s| {
        s.first(
            &format!("SELECT {COLUMNS} FROM approval WHERE state = 'pending' AND profile = ?1 AND policy = ?2 ORDER BY created_ms DESC"),
            &[t(profile), t(policy)],
            from_row,
        )
    })?;
    row.transpose()
}

/// The approvals, newest first: the pending ones, or (`all`) every one.
pub fn list(store: &Store, all: bool) -> Result<Vec<Approval>, ApprovalError> {
    let cond = if all { "" } else { "WHERE state = 'pending' " };
    let rows = store
        .with(|s| s.all(&format!("SELECT {COLUMNS} FROM approval {cond}ORDER BY created_ms DESC, approval_id DESC"), &[], from_row))?;
    rows.into_iter().collect()
}

/// One approval by id (a unique prefix of it is enough).
pub fn get(store: &Store, id: &str) -> Result<Approval, ApprovalError> {
    let d = store.dialect();
    store.with(|s| {
        let ids = s.all(
            &format!("SELECT approval_id FROM approval WHERE {} = 1 ORDER BY approval_id LIMIT 2", d.instr("approval_id", "?1")),
            &[t(id)],
            |r| text(r, 0),
        )?;
        match ids.as_slice() {
            [one] => read(s, one),
            _ if ids.iter().any(|x| x == id) => read(s, id),
            _ => Err(ApprovalError::NotFound(id.to_string())),
        }
    })
}

/// The four-eyes rule for `ctx` (who is about to approve): refused for the proposer's own OS
/// account, and for anything not pending.
pub fn may_approve(a: &Approval, ctx: &RunContext) -> Result<(), ApprovalError> {
    if a.state != State::Pending {
        return Err(ApprovalError::NotPending { id: a.id.clone(), state: a.state.as_str().into() });
    }
    if a.proposer_account == ctx.os_user {
        return Err(ApprovalError::OwnProposal { id: a.id.clone(), proposer: a.proposer.clone(), you: ctx.proposer() });
    }
    Ok(())
}

/// Screen the approval's actions again, against the server's state now: its targets are read
/// ([`Knowledge::fetch`]) and the batch passes the gate like any other (read-only, protected,
/// refused accounts, no-ops, ceilings). What the approver is shown and what [`approve`] runs.
pub async fn screen(client: &ScimClient, safety: &Safety, a: &Approval) -> Result<Decision, ApprovalError> {
    if a.host != client.host() {
        return Err(ApprovalError::OtherServer { id: a.id.clone(), theirs: a.host.clone(), ours: client.host() });
    }
    let known = Knowledge::fetch(client, safety, &a.actions).await.map_err(GateError::from)?;
    Ok(crate::queue::gate(safety, a.actions.clone(), &known))
}

/// Approve `a` as `journal`'s account (under the org's lease: `journal` is fenced) and journal
/// its batch from `decision` (from [`screen`]; a ceiling it is held by must have been passed):
/// in one transaction the approval becomes `approved` (only while pending, only by another
/// account than the proposer) with its record in the chain; then the batch is submitted naming
/// the proposer and the approver. Returns the batch for the engine.
pub fn approve(journal: &Journal, a: &Approval, decision: Decision) -> Result<GatedBatch, ApprovalError> {
    let approver = mark_approved(journal, a, &decision)?;
    let info = BatchInfo {
        origin: a.origin.clone(),
        policy_run: a.policy_run.clone(),
        description: format!("{} (approval {})", a.description, a.id),
    };
    let j = journal.approved_by(&a.proposer, &approver);
    let batch = crate::queue::submit(&j, &info, decision.approved(&FourEyes::new()))?;
    set_batch(journal, &a.id, batch.id())?;
    Ok(batch)
}

pub(crate) fn set_batch(journal: &Journal, id: &str, batch: &str) -> Result<(), ApprovalError> {
    journal.store().with(|s| {
        s.execute("UPDATE approval SET batch_id = ?2 WHERE approval_id = ?1", &[t(id), t(batch)])?;
        Ok::<_, ApprovalError>(())
    })
}

/// The four-eyes rule and the row's check against its proposal, then, in one transaction, the
/// approval becomes `approved` with its record in the chain. Returns who approved.
pub(crate) fn mark_approved(journal: &Journal, a: &Approval, decision: &Decision) -> Result<String, ApprovalError> {
    let ctx = journal.context();
    may_approve(a, ctx)?;
    if let Some(h) = decision.hold() {
        return Err(ApprovalError::Gate(GateError::Held(h.clone())));
    }
    let approver = ctx.proposer();
    journal.store().write(|s| {
        // The row as it is in this transaction, checked against its proposal in the chain.
        let row = read(s, &a.id)?;
        check_proposal(s, &row)?;
        if row.actions != a.actions || row.screening.later != a.screening.later {
            return Err(ApprovalError::Tampered { id: a.id.clone(), why: "its actions changed since they were screened".into() });
        }
        let n = s.execute(
            "UPDATE approval SET state = 'approved', decided_by = ?2, decided_ms = ?3 WHERE approval_id = ?1 AND state = 'pending' AND proposer_account <> ?4",
            &[t(&a.id), t(&approver), i(store::now_ms()), t(&ctx.os_user)],
        )?;
        let now = read(s, &a.id)?;
        if n == 0 {
            may_approve(&now, ctx)?;
            return Err(ApprovalError::NotPending { id: a.id.clone(), state: now.state.as_str().into() });
        }
        record(s, ctx, &now, "approve", Some(&approver), None)
    })?;
    Ok(approver)
}

/// The four-eyes token for the passes of an approved run (`crate::approved::run`, only after
/// [`mark_approved`] recorded another account's approval).
pub(crate) fn four_eyes() -> FourEyes {
    FourEyes::new()
}

/// The approved batch finished: the approval is `run`, with a record naming both accounts and
/// what came of it (`summary`: "40 done, 0 failed").
pub fn finished(journal: &Journal, id: &str, summary: &str) -> Result<Approval, ApprovalError> {
    let ctx = journal.context();
    journal.store().write(|s| {
        s.execute("UPDATE approval SET state = 'run' WHERE approval_id = ?1 AND state = 'approved'", &[t(id)])?;
        let a = read(s, id)?;
        record(s, ctx, &a, "run", a.decided_by.clone().as_deref(), Some(summary.to_string()))?;
        Ok(a)
    })
}

/// Reject a pending approval (any account may, the proposer too: withdrawing it). Nothing is
/// sent; the record names who rejected it and why.
pub fn reject(journal: &Journal, id: &str, reason: Option<&str>) -> Result<Approval, ApprovalError> {
    let ctx = journal.context();
    let by = ctx.proposer();
    journal.store().write(|s| {
        let a = read(s, id)?;
        let n = s.execute(
            "UPDATE approval SET state = 'rejected', decided_by = ?2, decided_ms = ?3, reason = ?4 WHERE approval_id = ?1 AND state = 'pending'",
            &[t(&a.id), t(&by), i(store::now_ms()), ot(reason.map(str::to_string))],
        )?;
        if n == 0 {
            return Err(ApprovalError::NotPending { id: a.id.clone(), state: a.state.as_str().into() });
        }
        let a = read(s, &a.id)?;
        record(s, ctx, &a, "reject", None, reason.map(|r| format!("rejected by {by}: {r}")).or(Some(format!("rejected by {by}"))))?;
        Ok(a)
    })
}

/// Whether a report record is an approval's event (`propose_batch`, `approve_batch`,
/// `reject_batch`, `run_batch`): what tells a watcher of the store (the console) that the
/// approvals changed.
pub fn is_event(action: &str) -> bool {
    matches!(action, "propose_batch" | "approve_batch" | "reject_batch" | "run_batch")
}

/// SHA-256 (hex) of the actions as the approval row stores them (JSON).
fn actions_digest(actions: &[Action]) -> String {
    use sha2::{Digest, Sha256};
    let json = serde_json::to_string(actions).unwrap_or_default();
    Sha256::digest(json.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (hex) of a policy apply's pass 2 as the approval row stores it (JSON).
fn later_digest(later: &Later) -> String {
    use sha2::{Digest, Sha256};
    let json = serde_json::to_string(later).unwrap_or_default();
    Sha256::digest(json.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The approval's row must still be what its `propose_batch` record in the chain says: the same
/// proposer's OS account, the same actions. A role that may write the store's tables could
/// otherwise change the row's proposer (to approve its own batch) or its actions after another
/// account read them. (The record is in the hash chain: `report verify` shows it changed.)
fn check_proposal(s: &mut dyn Sql, a: &Approval) -> Result<(), ApprovalError> {
    let tampered = |why: &str| ApprovalError::Tampered { id: a.id.clone(), why: why.into() };
    let found = s.first(
        "SELECT COALESCE(r.os_user, n.os_user), r.detail FROM report r LEFT JOIN report_names n ON n.id = r.names_id WHERE r.op_id = ?1",
        &[t(format!("{}-propose", a.id))],
        |r| Ok((opt_text(r, 0)?, opt_text(r, 1)?)),
    )?;
    let Some((who, detail)) = found else { return Err(tampered("its proposal is not in the report")) };
    if who.as_deref() != Some(a.proposer_account.as_str()) {
        return Err(tampered(&format!("proposed by {}, the row says {}", who.unwrap_or_default(), a.proposer_account)));
    }
    let detail = detail.as_deref().and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()).unwrap_or_default();
    if detail["actions_sha256"].as_str() != Some(actions_digest(&a.actions).as_str()) {
        return Err(tampered("its actions changed since they were proposed"));
    }
    if detail["later_sha256"].as_str().map(str::to_string) != a.screening.later.as_ref().map(later_digest) {
        return Err(tampered("its second pass changed since it was proposed"));
    }
    Ok(())
}

/// The approvals a store holds, as a copy must hold them (`store migrate`, `crate::transfer`):
/// their count and a SHA-256 over every row as this version reads it (ids, states, who proposed
/// and decided, actions, screening). Each row is also checked against its proposal in the
/// report chain (an approval whose row does not match its `propose_batch` record is refused).
pub(crate) fn fingerprint_in(s: &mut dyn Sql) -> Result<(u64, String), ApprovalError> {
    use sha2::{Digest, Sha256};
    let rows = s.all(&format!("SELECT {COLUMNS} FROM approval ORDER BY approval_id"), &[], from_row)?;
    let mut h = Sha256::new();
    let mut n = 0u64;
    for a in rows {
        let a = a?;
        check_proposal(s, &a)?;
        let row = serde_json::json!([a, a.created_ms, a.actions, a.proposer_account]);
        h.update(serde_json::to_string(&row).map_err(JournalError::from)?.as_bytes());
        h.update(b"\n");
        n += 1;
    }
    Ok((n, h.finalize().iter().map(|b| format!("{b:02x}")).collect()))
}

/// One record in the report chain for an approval's event (`propose`, `approve`, `reject`,
/// `run`), written by `ctx`'s account in the caller's transaction.
fn record(
    s: &mut dyn Sql,
    ctx: &RunContext,
    a: &Approval,
    event: &str,
    approver: Option<&str>,
    note: Option<String>,
) -> Result<(), ApprovalError> {
    let now = crate::report::from_ms(store::now_ms());
    let mut detail = serde_json::json!({
        "approval": a.id,
        "origin": a.origin,
        "users": a.users,
        "operations": a.operations,
        "deactivations": a.deactivations,
    });
    if let Some(b) = &a.batch_id {
        detail["batch_id"] = b.as_str().into();
    }
    // What was proposed, as the chain keeps it: approving checks the row against it.
    detail["actions_sha256"] = actions_digest(&a.actions).into();
    if let Some(l) = &a.screening.later {
        detail["later_sha256"] = later_digest(l).into();
    }
    if let Some(n) = &note {
        detail["note"] = crate::scim::redact::redact(n).into_owned().into();
    }
    let rec = OperationRecord {
        op_id: format!("{}-{event}", a.id),
        batch_id: a.batch_id.clone(),
        policy_run: a.policy_run.clone(),
        started_at: now,
        finished_at: now,
        profile: a.profile.clone(),
        host: a.host.clone(),
        action: format!("{event}_batch"),
        target_id: Some(a.id.clone()),
        target_email: None,
        target_user_name: None,
        target_display: Some(a.description.clone()),
        outcome: Outcome::Done,
        error_code: None,
        error_message: None,
        http_status: None,
        retries: 0,
        duration_ms: 0,
        os_user: ctx.os_user.clone(),
        os_host: ctx.os_host.clone(),
        detail: Some(detail),
        db_role: ctx.db_role.clone(),
        proposed_by: Some(a.proposer.clone()),
        approved_by: approver.map(str::to_string),
    };
    ReportStore::append_in(s, &rec)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{Safety, Target};
    use crate::report::Actor;

    fn journal_as(store: &Store, user: &str) -> Journal {
        let actor = Actor { user: user.into(), host: "jump".into() };
        Journal::on(store.clone(), RunContext::new("acme", "127.0.0.1", &actor))
    }

    fn deactivations(n: usize) -> Vec<Action> {
        (0..n)
            .map(|k| Action::Deactivate {
                target: Target { id: Some(format!("U{k:04}")), email: Some(format!("u{k}@example.com")), ..Default::default() },
            })
            .collect()
    }

    #[test]
    fn a_batch_over_approval_over_is_held_and_only_another_account_approves_it() {
        let store = Store::in_memory().unwrap();
        let safety = Safety { approval_over: Some(3), ..Safety::default() };
        let under = crate::queue::gate(&safety, deactivations(3), &Knowledge::default());
        assert!(under.needs_approval().is_none(), "3 users is not over 3");
        let d = crate::queue::gate(&safety, deactivations(5), &Knowledge::default());
        assert_eq!(d.needs_approval().map(|n| n.users), Some(5));
        let ann = journal_as(&store, "ann");
        let info = BatchInfo { origin: "headless".into(), policy_run: None, description: "deactivate users".into() };
        assert!(matches!(crate::queue::submit(&ann, &info, d.clone()), Err(GateError::NeedsApproval(_))), "submit refuses it");
        let p = Proposal { origin: "headless".into(), policy_run: None, policy: None, description: "deactivate users".into(), later: None };
        let a = propose(&ann, Some("acme"), &p, &d).unwrap();
        assert_eq!((a.state, a.users, a.deactivations, a.proposer_account.as_str()), (State::Pending, 5, 5, "ann"));
        assert_eq!(list(&store, false).unwrap().len(), 1);
        assert_eq!(get(&store, &a.id[..10]).unwrap().id, a.id, "a unique prefix finds it");
        let e = approve(&ann, &a, d.clone()).unwrap_err();
        assert!(matches!(e, ApprovalError::OwnProposal { .. }), "{e}");
        assert!(e.to_string().contains("cannot approve your own"), "{e}");
        let bob = journal_as(&store, "bob");
        let batch = approve(&bob, &a, d.clone()).unwrap();
        let ops = bob.ops(batch.id()).unwrap();
        assert_eq!(ops.len(), 5);
        let a2 = get(&store, &a.id).unwrap();
        assert_eq!((a2.state, a2.decided_by.as_deref(), a2.batch_id.as_deref()), (State::Approved, Some("bob@jump"), Some(batch.id())));
        assert!(matches!(approve(&bob, &a2, d), Err(ApprovalError::NotPending { .. })), "approved once");
        finished(&bob, &a.id, "5 done").unwrap();
        bob.cancel_pending(batch.id()).unwrap();
        let recs = ReportStore::on(store.clone()).query(&crate::report::ReportQuery::default()).unwrap();
        let actions: Vec<&str> = recs.iter().map(|r| r.record.action.as_str()).collect();
        assert!(actions.contains(&"propose_batch") && actions.contains(&"approve_batch") && actions.contains(&"run_batch"), "{actions:?}");
        let op = recs.iter().find(|r| r.record.action == "deactivate").unwrap();
        assert_eq!((op.record.proposed_by.as_deref(), op.record.approved_by.as_deref()), (Some("ann@jump"), Some("bob@jump")));
        assert!(ReportStore::on(store).verify().unwrap().ok());
    }

    #[test]
    fn an_approval_row_changed_in_the_store_is_not_run() {
        let store = Store::in_memory().unwrap();
        let safety = Safety { approval_over: Some(1), ..Safety::default() };
        let d = crate::queue::gate(&safety, deactivations(3), &Knowledge::default());
        let ann = journal_as(&store, "ann");
        let p = Proposal { origin: "headless".into(), policy_run: None, policy: None, description: "deactivate users".into(), later: None };
        let a = propose(&ann, None, &p, &d).unwrap();
        // ann rewrites the row's proposer to approve her own batch: refused.
        store.with(|s| s.execute("UPDATE approval SET proposer_account = 'mallory' WHERE approval_id = ?1", &[t(&a.id)])).unwrap();
        let e = approve(&ann, &get(&store, &a.id).unwrap(), d.clone()).unwrap_err();
        assert!(matches!(e, ApprovalError::Tampered { .. }), "{e}");
        store.with(|s| s.execute("UPDATE approval SET proposer_account = 'ann' WHERE approval_id = ?1", &[t(&a.id)])).unwrap();
        // Another action slipped in after proposing: refused too.
        let more = serde_json::to_string(&deactivations(4)).unwrap();
        store.with(|s| s.execute("UPDATE approval SET actions = ?2 WHERE approval_id = ?1", &[t(&a.id), t(more)])).unwrap();
        let bob = journal_as(&store, "bob");
        let d4 = crate::queue::gate(&safety, deactivations(4), &Knowledge::default());
        let e = approve(&bob, &get(&store, &a.id).unwrap(), d4).unwrap_err();
        assert!(e.to_string().contains("actions changed"), "{e}");
        assert_eq!(get(&store, &a.id).unwrap().state, State::Pending, "nothing approved");
    }

    #[test]
    fn an_approvals_second_pass_changed_in_the_store_is_not_run() {
        use crate::policy::apply::Deferred;
        use crate::policy::plan::{GroupTarget, MemberRef};
        let store = Store::in_memory().unwrap();
        let safety = Safety { approval_over: Some(1), ..Safety::default() };
        let d = crate::queue::gate(&safety, deactivations(3), &Knowledge::default());
        let add = Deferred {
            group: GroupTarget::Existing { id: "S1".into() },
            group_name: "eng".into(),
            members: vec![MemberRef::Pending { key: "e1".into(), label: "e1".into() }],
            add: true,
        };
        let later = Later { deferred: vec![add], ..Later::default() };
        let p =
            Proposal { origin: "policy".into(), policy_run: None, policy: None, description: "apply policy hr".into(), later: Some(later) };
        let a = propose(&journal_as(&store, "ann"), None, &p, &d).unwrap();
        assert_eq!((a.operations, a.later_operations()), (4, Some(1)), "the second pass is counted");
        // The second pass now adds someone else to another group: refused.
        let mut screening = a.screening.clone();
        screening.later.as_mut().unwrap().deferred[0].group = GroupTarget::Existing { id: "S-ADMINS".into() };
        let json = serde_json::to_string(&screening).unwrap();
        store.with(|s| s.execute("UPDATE approval SET screening = ?2 WHERE approval_id = ?1", &[t(&a.id), t(json)])).unwrap();
        let e = approve(&journal_as(&store, "bob"), &get(&store, &a.id).unwrap(), d).unwrap_err();
        assert!(e.to_string().contains("second pass changed"), "{e}");
        assert_eq!(get(&store, &a.id).unwrap().state, State::Pending, "nothing approved");
    }

    #[test]
    fn a_rejected_approval_cannot_be_approved() {
        let store = Store::in_memory().unwrap();
        let safety = Safety { approval_over: Some(0), ..Safety::default() };
        let d = crate::queue::gate(&safety, deactivations(1), &Knowledge::default());
        let ann = journal_as(&store, "ann");
        let p = Proposal { origin: "headless".into(), policy_run: None, policy: None, description: "deactivate users".into(), later: None };
        let a = propose(&ann, None, &p, &d).unwrap();
        let bob = journal_as(&store, "bob");
        let r = reject(&bob, &a.id, Some("not today")).unwrap();
        assert_eq!((r.state, r.reason.as_deref()), (State::Rejected, Some("not today")));
        let e = approve(&journal_as(&store, "carol"), &r, d).unwrap_err();
        assert!(matches!(e, ApprovalError::NotPending { .. }), "{e}");
        assert!(list(&store, false).unwrap().is_empty());
        assert_eq!(list(&store, true).unwrap().len(), 1);
    }
}
