//! The action queue's flow in the console: a batch loaded, its engine events, the confirmation
//! and the restore/cancel/retry dialogs it opens. The queue's state is `queue::Queue`.

use super::component::{Ctx, Note};
use super::msg::{BatchLoad, Effect, Level, Msg};
use super::queue::*;
use provision::queue::{OpState, QueueEvent};
use scim::sanitize::clean;
use std::time::Instant;

fn batch_loaded(ctx: &mut Ctx, b: BatchLoad) -> Vec<Effect> {
    ctx.queue.submitting = false;
    ctx.queue.lease_holder = None;
    // The view shows the batch that starts, not the list of past ones.
    ctx.queue.history.shown = false;
    let v = BatchView::new(b);
    ctx.log(Level::Info, format!("batch {}: {} ({})", v.batch_id, v.description, super::draw::counted(v.ops.len(), "operation")));
    ctx.queue.status = v.status();
    ctx.queue.batch = Some(v);
    vec![]
}

fn queue_failed(ctx: &mut Ctx, e: String) -> Vec<Effect> {
    ctx.queue.submitting = false;
    ctx.queue.lease_holder = None;
    if let Some(b) = ctx.queue.batch.as_mut() {
        b.running = false;
    }
    ctx.queue.status = "stopped".into();
    ctx.log(Level::Error, format!("the queue stopped: {e}"));
    vec![]
}

/// The engine's progress on the console's batch: the queue view's rows, the status line, one Log
/// line per operation; a done (de)activation shows in the Users pane at once, and a batch that
/// changed groups has them read again (notes to the panes).
fn queue_event(ctx: &mut Ctx, ev: QueueEvent) -> Vec<Effect> {
    let Some(b) = ctx.queue.batch.as_mut() else { return vec![] };
    match ev {
        QueueEvent::BatchStarted { batch_id, .. } => {
            if batch_id == b.batch_id {
                b.started = Some(Instant::now());
                b.running = true;
            }
        }
        QueueEvent::OpStarted { batch_id, op_id, attempt, .. } => {
            if batch_id != b.batch_id {
                return vec![];
            }
            if let Some(o) = b.by_id.get(&op_id).and_then(|&i| b.ops.get_mut(i)) {
                o.state = OpState::Running;
                o.sending = false;
                o.attempt = attempt;
            }
        }
        QueueEvent::OpSending { batch_id, op_id, .. } => {
            if batch_id != b.batch_id {
                return vec![];
            }
            if let Some(o) = b.by_id.get(&op_id).and_then(|&i| b.ops.get_mut(i)) {
                o.sending = true;
            }
        }
        QueueEvent::OpFinished { batch_id, op_id, describe, state, message, retries, .. } => {
            if batch_id != b.batch_id {
                return vec![];
            }
            let surprise = message.starts_with("SURPRISE");
            let mut user = None;
            if let Some(o) = b.by_id.get(&op_id).and_then(|&i| b.ops.get_mut(i)) {
                o.state = state;
                o.message = clean(&message);
                o.retries = retries;
                o.surprise = surprise;
                o.attempt = o.attempt.max(1);
                if state == OpState::Done {
                    user = o.user.clone();
                }
            }
            b.update_eta();
            let s = b.status();
            ctx.queue.status = s;
            let retry = if retries > 0 { format!(" ({})", super::draw::counted(retries as usize, "retry")) } else { String::new() };
            let (level, text) = match state {
                OpState::Done => (Level::Ok, format!("{describe}: done{retry}")),
                OpState::Failed if surprise => (Level::Warn, format!("!! {describe}: {message}{retry}")),
                OpState::Failed => (Level::Error, format!("{describe}: failed: {message}{retry}")),
                OpState::Cancelled => (Level::Warn, format!("{describe}: cancelled")),
                OpState::Skipped => (Level::Warn, format!("{describe}: skipped: {message}")),
                OpState::Pending | OpState::Running => (Level::Info, format!("{describe}: {}", state.as_str())),
            };
            ctx.log(level, text);
            if let Some((id, active)) = user {
                ctx.note(Note::UserActive { id, active });
            }
        }
        QueueEvent::BatchFinished { batch_id, elapsed, cancelled, .. } => {
            if batch_id != b.batch_id {
                return vec![];
            }
            b.running = false;
            b.cancelling = false;
            b.cancelled = cancelled;
            if cancelled {
                for o in b.ops.iter_mut().filter(|o| o.state == OpState::Pending) {
                    o.state = OpState::Cancelled;
                    o.message = "cancelled before it was sent".into();
                }
            }
            b.eta = None;
            let s = b.status();
            ctx.queue.status = s;
            let (done, failed, cancelled_n, skipped) =
                (b.count(OpState::Done), b.count(OpState::Failed), b.count(OpState::Cancelled), b.count(OpState::Skipped));
            let surprises = b.surprises();
            let groups = b.ops.iter().any(|o| o.group && o.state == OpState::Done);
            // A done op on a user that the rows cannot patch (a create, an update) means a reload.
            let users = b.ops.iter().any(|o| !o.group && o.user.is_none() && o.state == OpState::Done);
            let level = if surprises > 0 || failed > 0 {
                Level::Error
            } else if cancelled {
                Level::Warn
            } else {
                Level::Ok
            };
            let mut text = format!(
                "batch {batch_id} finished in {:.1}s: {done} done, {failed} failed, {skipped} skipped, {cancelled_n} cancelled",
                elapsed.as_secs_f64()
            );
            if surprises > 0 {
                text.push_str(&format!("; {surprises} SURPRISE(S): Slack answered differently from what was asked, check those users"));
            } else if failed > 0 {
                text.push_str("; F in the queue view (Q) retries the failed ones");
            }
            ctx.log(level, text);
            if groups {
                ctx.note(Note::GroupsChanged);
            }
            if users {
                ctx.note(Note::UsersChanged);
            }
            ctx.note(Note::Reported);
            // The queue view's list of past batches shows it (and what it can restore).
            return vec![Effect::ListBatches];
        }
    }
    vec![]
}

/// The runtime's reports on batches (and the unfinished batches found at start).
#[allow(clippy::result_large_err)]
pub fn on_msg(msg: Msg, ctx: &mut Ctx) -> Result<Vec<Effect>, Msg> {
    Ok(match msg {
        Msg::BatchLoaded(b) => batch_loaded(ctx, b),
        Msg::Queue(ev) => queue_event(ctx, ev),
        Msg::QueueFailed(e) => queue_failed(ctx, e),
        Msg::BatchesListed(r) => {
            let h = &mut ctx.queue.history;
            h.loading = false;
            match r {
                Ok(list) => {
                    // Keep the selection on the same batch when the list is read again.
                    let keep = h.selected().map(|b| b.batch_id.clone());
                    h.batches = list;
                    h.selected = keep.and_then(|id| h.batches.iter().position(|b| b.batch_id == id)).unwrap_or(0);
                    h.error = None;
                }
                Err(e) => h.error = Some(clean(&e)),
            }
            vec![]
        }
        Msg::RestorePlanned { which, result } => restore_planned(ctx, which, result),
        // (The Approvals view takes these while it is open; closed, the Log says them.)
        Msg::ApprovalProposed(r) => {
            super::approvals::log_proposed(ctx, r);
            vec![]
        }
        Msg::ApprovalDecided(r) => {
            match r {
                Ok(line) => ctx.log(Level::Ok, line),
                Err(e) => ctx.log(Level::Error, e),
            }
            vec![]
        }
        Msg::ApprovalsLoaded { .. } | Msg::ApprovalScreened { .. } => vec![],
        Msg::StoreNews(records) => store_news(ctx, records),
        Msg::LeaseHeld(message) => {
            ctx.log(Level::Warn, format!("another scimitar is writing to this Slack org: {}", clean(&message)));
            ctx.queue.lease_holder = Some(clean(&message));
            ctx.open(super::lease_wait::LeaseWait::new(message));
            vec![]
        }
        Msg::Unfinished(offers) => {
            if !offers.is_empty() {
                let open: u64 = offers.iter().map(|o| o.open).sum();
                let (batches, ops) =
                    (super::draw::counted(offers.len(), "unfinished batch"), super::draw::counted(open as usize, "operation"));
                ctx.log(Level::Warn, format!("{batches} from an earlier run ({ops} open)"));
                ctx.open(super::resume::Resume::new(offers));
            }
            vec![]
        }
        other => return Err(other),
    })
}

/// `u` on a batch (queue view) or a report record: read what its deactivations took away.
pub fn ask_restore(ctx: &mut Ctx, which: provision::queue::restore::Which) -> Vec<Effect> {
    if let Some(why) = ctx.queue.refuse_writes() {
        ctx.log(Level::Warn, format!("restore {which}: {why}"));
        return vec![];
    }
    ctx.log(Level::Info, format!("restore {which}: reading what the deactivations took away and the directory now…"));
    vec![Effect::PlanRestore { which }]
}

/// The restore's actions are read: they pass the gate and are confirmed once (`confirm::ask`),
/// then run and are reported like any other batch.
fn restore_planned(
    ctx: &mut Ctx,
    which: provision::queue::restore::Which,
    result: Result<provision::queue::restore::RestorePlan, String>,
) -> Vec<Effect> {
    let plan = match result {
        Ok(p) => p,
        Err(e) => {
            ctx.log(Level::Error, format!("restore {which}: {e}"));
            return vec![];
        }
    };
    for n in &plan.notes {
        ctx.log(Level::Warn, format!("restore: {n}"));
    }
    for k in &plan.kept {
        let who = plan.names.get(&k.kept.user_id).cloned().unwrap_or_else(|| k.target.label());
        ctx.log(Level::Info, format!("restore: {who} had {}", k.kept.summary()));
    }
    for c in &plan.conflicts {
        ctx.log(Level::Warn, format!("restore: conflict: {c}"));
    }
    // The diff in the Log: what is set back, from what, to what.
    for d in plan.diff.iter().take(50) {
        ctx.log(Level::Info, format!("restore: {} {} {}: {:?} -> {:?}", d.action, d.object, d.field, d.now, d.back));
    }
    if plan.diff.len() > 50 {
        ctx.log(Level::Info, format!("restore: … and {} more changes", plan.diff.len() - 50));
    }
    let what = plan.what.clone();
    // The list it was asked from closes: a confirmed restore opens the queue view on its batch.
    ctx.close_queue_views();
    // The dialog names the conflicts (values changed since the batch: left alone).
    super::confirm::ask_naming(ctx, plan.actions, &plan.known, move |_| what, false, Vec::new(), plan.conflicts)
}

/// `x` in the queue view: stop sending the running batch's pending operations.
pub fn cancel_batch(ctx: &mut Ctx) -> Vec<Effect> {
    let Some(b) = ctx.queue.batch.as_mut().filter(|b| b.running) else {
        ctx.log(Level::Info, "nothing to cancel: no batch is running");
        return vec![];
    };
    if b.cancelling {
        return vec![];
    }
    b.cancelling = true;
    let batch_id = b.batch_id.clone();
    let pending = b.count(OpState::Pending);
    let s = b.status();
    ctx.queue.status = s;
    ctx.log(
        Level::Warn,
        format!(
            "cancelling batch {batch_id}: {} will not be sent; requests in flight finish",
            super::draw::counted(pending, "pending operation")
        ),
    );
    vec![Effect::CancelBatch { batch_id }]
}

/// `F` in the queue view: the failed operations again (the runner passes them through the gate).
pub fn retry_failed(ctx: &mut Ctx) -> Vec<Effect> {
    if let Some(why) = ctx.queue.refuse_writes() {
        ctx.log(Level::Warn, format!("retry: {why}"));
        return vec![];
    }
    let Some(b) = ctx.queue.batch.as_ref() else {
        ctx.log(Level::Info, "nothing to retry: no batch yet");
        return vec![];
    };
    let failed = b.count(OpState::Failed);
    if failed == 0 {
        ctx.log(Level::Info, "nothing to retry: no failed operation");
        return vec![];
    }
    let batch_id = b.batch_id.clone();
    ctx.queue.submitting = true;
    ctx.queue.status = "starting".into();
    ctx.log(Level::Info, format!("retrying {} of batch {batch_id}", super::draw::counted(failed, "failed operation")));
    vec![Effect::RetryFailed { batch_id }]
}

/// Records others appended to the store (`Msg::StoreNews`): one Log line each (at most
/// `NEWS_LINES`, then a count), leaving out this console's own running batch, which the queue
/// logs already; the Reports pane reads its query again.
fn store_news(ctx: &mut Ctx, records: Vec<provision::report::StoredRecord>) -> Vec<Effect> {
    let own = ctx.queue.batch.as_ref().map(|b| b.batch_id.clone());
    let others: Vec<_> = records.iter().filter(|r| r.record.batch_id.is_none() || r.record.batch_id != own).collect();
    for r in others.iter().take(NEWS_LINES) {
        ctx.log(news_level(r), news_line(r));
    }
    if others.len() > NEWS_LINES {
        ctx.log(Level::Info, format!("… and {} more operations by others (Reports lists them)", others.len() - NEWS_LINES));
    }
    // The rows of users others deactivated or reactivated follow at once.
    for r in &others {
        let active = match r.record.action.as_str() {
            "deactivate" => false,
            "reactivate" => true,
            _ => continue,
        };
        if r.record.outcome == provision::report::Outcome::Done
            && let Some(id) = &r.record.target_id
        {
            ctx.note(super::component::Note::UserActive { id: id.clone(), active });
        }
    }
    if !others.is_empty() {
        ctx.note(super::component::Note::Reported);
    }
    vec![]
}

/// How many of a burst of others' records the Log names one by one.
pub const NEWS_LINES: usize = 20;

fn news_level(r: &provision::report::StoredRecord) -> Level {
    match r.record.outcome {
        provision::report::Outcome::Done => Level::Info,
        provision::report::Outcome::Failed => Level::Error,
        _ => Level::Warn,
    }
}

/// `ann@jump1: deactivate maria@acme.example: done (b-…)`.
pub fn news_line(r: &provision::report::StoredRecord) -> String {
    let rec = &r.record;
    let target = rec
        .target_email
        .as_deref()
        .or(rec.target_user_name.as_deref())
        .or(rec.target_display.as_deref())
        .or(rec.target_id.as_deref())
        .unwrap_or("");
    let by = format!("{}@{}", rec.os_user, rec.os_host);
    let batch = rec.batch_id.as_deref().map(|b| format!(" ({b})")).unwrap_or_default();
    clean(&format!("{by}: {} {target}: {}{batch}", rec.action, rec.outcome.as_str()))
}
