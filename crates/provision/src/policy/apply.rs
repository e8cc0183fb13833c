//! Turning a `Plan` into queue actions, in the order `plan.rs` documents.
//!
//! Objects created by the plan have no Slack id until they exist, so apply runs in two passes:
//! 1. creates, reactivations, updates, group creates (with the members whose ids are known),
//!    renames, and the member changes whose user and group ids are all known;
//! 2. after pass 1, the created users and groups are looked up (by email / by name) to resolve
//!    `MemberRef::Pending` and `GroupTarget::Pending`; pass 2 holds those member changes, the
//!    managers that are users pass 1 created (`Plan::manager_links`: an update of the new or
//!    existing report, so a chain of new hires converges in one run, whatever the source order),
//!    and the deactivations, so deactivations always run last.
//!
//! The queue's phases keep the order inside each pass, and every pass goes through the gate
//! (`queue::gate`) in [`apply_live`]. Nothing here talks to the terminal; the front ends
//! (`scimitar apply`, the console's Policies pane) show [`preview`], confirm, and call
//! [`apply_live`].

use std::collections::{BTreeMap, HashMap};

use futures::StreamExt;

use super::config::Attr;
use super::plan::{GroupTarget, ManagerLink, MemberChange, MemberRef, Plan, PriorState, UpdateUser};
use super::state::{group_ids_after, save_prior};
use crate::queue::Target;
use crate::queue::action::{Action, UpdateSpec};
use crate::scim::{ScimClient, ScimError, User};

/// The update path a cleared attribute is removed by (see `scim::client::user_patch_v2`).
pub fn clear_path(attr: Attr) -> String {
    attr.clear_path()
}

/// An update as the queue journals it: new values in `set`, cleared attributes in `clear`, built
/// as a hand edit's is (`queue::edit::update_of`: an email or phone changed on its own, the
/// address sent whole with the parts the plan keeps in `patch`).
pub fn update_spec(u: &UpdateUser) -> UpdateSpec {
    let changes: Vec<(Attr, Option<&str>, Option<&str>)> = u.changes.iter().map(|c| (c.attr, c.old.as_deref(), c.new.as_deref())).collect();
    let mut update = crate::queue::edit::update_of(&changes, u.patch.is_guest(), |a| a.get(&u.patch));
    // What it changes from is journaled with it: undo is data (`restore --batch`).
    for ch in &u.changes {
        update.before.insert(ch.attr.name().to_string(), ch.old.clone());
    }
    update
}

fn user_target(id: &str, email: &str, label: &str) -> Target {
    Target {
        id: Some(id.to_string()),
        email: Some(email.to_string()).filter(|e| !e.is_empty()),
        user_name: None,
        display: Some(label.to_string()).filter(|l| !l.is_empty()),
    }
}

/// A member change that has to wait for pass 1 (it names a user or group created there).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Deferred {
    pub group: GroupTarget,
    pub group_name: String,
    pub members: Vec<MemberRef>,
    pub add: bool,
}

/// The plan split into what can be queued now and what must wait for ids.
#[derive(Debug, Default)]
pub struct Passes {
    pub first: Vec<Action>,
    pub deferred: Vec<Deferred>,
    /// Managers that are users pass 1 creates: set in pass 2.
    pub manager_links: Vec<ManagerLink>,
    pub deactivations: Vec<Action>,
}

impl Passes {
    /// Number of member changes (users) waiting for pass 2.
    pub fn deferred_members(&self) -> usize {
        self.deferred.iter().map(|d| d.members.len()).sum()
    }
}

fn known_id(m: &MemberRef) -> Option<&str> {
    match m {
        MemberRef::User { id, .. } => Some(id),
        MemberRef::Pending { .. } => None,
    }
}

fn split_change(mc: &MemberChange, add: bool, first: &mut Vec<Action>, deferred: &mut Vec<Deferred>) {
    let (known, pending): (Vec<&MemberRef>, Vec<&MemberRef>) = mc.members.iter().partition(|m| known_id(m).is_some());
    match &mc.group {
        GroupTarget::Existing { id } => {
            if !known.is_empty() {
                let user_ids: Vec<String> = known.iter().filter_map(|m| known_id(m)).map(str::to_string).collect();
                let (group_id, group_name) = (id.clone(), mc.group_name.clone());
                first.push(if add {
                    Action::AddMembers { group_id, group_name, user_ids }
                } else {
                    Action::RemoveMembers { group_id, group_name, user_ids }
                });
            }
            if !pending.is_empty() {
                deferred.push(Deferred {
                    group: mc.group.clone(),
                    group_name: mc.group_name.clone(),
                    members: pending.into_iter().cloned().collect(),
                    add,
                });
            }
        }
        GroupTarget::Pending { .. } => {
            deferred.push(Deferred { group: mc.group.clone(), group_name: mc.group_name.clone(), members: mc.members.clone(), add });
        }
    }
}

/// Split a plan into the two passes. `email_of` gives the current email of an updated user (for
/// the log, the report and the profile's `protected` list, which may name emails).
pub fn passes(plan: &Plan, email_of: &dyn Fn(&str) -> Option<String>) -> Passes {
    let mut p = Passes::default();
    for c in &plan.creates {
        p.first.push(Action::CreateUser { target: Target::of_user(&c.user), user: c.user.clone() });
    }
    for r in &plan.reactivations {
        p.first.push(Action::Reactivate { target: user_target(&r.id, &r.email, &r.label) });
    }
    for u in &plan.updates {
        let mut target = user_target(&u.id, "", &u.label);
        target.email = email_of(&u.id).or_else(|| u.changes.iter().find(|c| c.attr == Attr::Email).and_then(|c| c.old.clone()));
        p.first.push(Action::UpdateUser { target, update: update_spec(u) });
    }
    for g in &plan.group_creates {
        let members: Vec<String> = g.members.iter().filter_map(known_id).map(str::to_string).collect();
        p.first.push(Action::CreateGroup { name: g.name.clone(), members });
        let pending: Vec<MemberRef> = g.members.iter().filter(|m| known_id(m).is_none()).cloned().collect();
        if !pending.is_empty() {
            p.deferred.push(Deferred {
                group: GroupTarget::Pending { key: g.key.clone() },
                group_name: g.name.clone(),
                members: pending,
                add: true,
            });
        }
    }
    for r in &plan.group_renames {
        p.first.push(Action::RenameGroup { id: r.id.clone(), from: r.old.clone(), to: r.new.clone() });
    }
    for mc in &plan.member_adds {
        split_change(mc, true, &mut p.first, &mut p.deferred);
    }
    for mc in &plan.member_removes {
        split_change(mc, false, &mut p.first, &mut p.deferred);
    }
    for d in &plan.deactivations {
        p.deactivations.push(Action::Deactivate { target: user_target(&d.id, &d.email, &d.label) });
    }
    p.manager_links = plan.manager_links.clone();
    p
}

/// Slack ids of the objects the plan created: source key -> user id, group rule key -> group id.
#[derive(Debug, Default)]
pub struct Created {
    pub users: HashMap<String, String>,
    pub groups: HashMap<String, String>,
}

/// The emails of the users a plan creates, by source key (how pass 2 finds them once created).
pub fn created_emails(plan: &Plan) -> BTreeMap<String, String> {
    plan.creates.iter().filter_map(|c| Some((c.key.clone(), c.user.primary_email()?.to_string()))).collect()
}

/// Look up the users and groups pass 1 created (only those pending references need); `emails`:
/// [`created_emails`].
pub async fn find_created(
    client: &ScimClient,
    emails: &BTreeMap<String, String>,
    deferred: &[Deferred],
    links: &[ManagerLink],
) -> Result<Created, ScimError> {
    let mut want_users: Vec<&str> = deferred
        .iter()
        .flat_map(|d| d.members.iter())
        .chain(links.iter().map(|l| &l.user))
        .filter_map(|m| match m {
            MemberRef::Pending { key, .. } => Some(key.as_str()),
            MemberRef::User { .. } => None,
        })
        .chain(links.iter().map(|l| l.manager_key.as_str()))
        .collect();
    want_users.sort_unstable();
    want_users.dedup();
    // Owned (key, email) pairs: a closure over borrowed keys makes the future not `Send`
    // (which the console needs, as it runs apply on a tokio task).
    let jobs: Vec<(String, String)> = want_users.into_iter().filter_map(|k| Some((k.to_string(), emails.get(k)?.to_string()))).collect();
    let lookups: Vec<(String, Result<Option<User>, ScimError>)> = futures::stream::iter(jobs.into_iter().map(|(key, email)| {
        let client = client.clone();
        async move {
            let r = client.find_user_by_email(&email).await;
            (key, r)
        }
    }))
    .buffer_unordered(8)
    .collect()
    .await;
    let mut created = Created::default();
    for (key, r) in lookups {
        if let Some(u) = r? {
            created.users.insert(key, u.id().to_string());
        }
    }
    for d in deferred {
        if let GroupTarget::Pending { key } = &d.group
            && !created.groups.contains_key(key)
            && let Some(g) = client.find_group_by_name(&d.group_name).await?
        {
            created.groups.insert(key.clone(), g.id().to_string());
        }
    }
    Ok(created)
}

/// The pass-2 manager updates with every reference resolved; unresolved ones are returned as
/// messages (their creation failed or is not visible yet) and left for the next apply.
pub fn resolve_manager_links(links: &[ManagerLink], emails: &BTreeMap<String, String>, created: &Created) -> (Vec<Action>, Vec<String>) {
    let mut actions = Vec::new();
    let mut missing = Vec::new();
    for l in links {
        let Some(boss) = created.users.get(&l.manager_key) else {
            missing.push(format!(
                "manager {:?} was not found after creation; the manager of row {} waits for the next apply",
                l.manager_key, l.row_line
            ));
            continue;
        };
        let target = match &l.user {
            MemberRef::User { id, label } => user_target(id, "", label),
            MemberRef::Pending { key, label } => match created.users.get(key) {
                Some(id) => user_target(id, emails.get(key.as_str()).map(String::as_str).unwrap_or(""), label),
                None => {
                    missing.push(format!("user {key:?} was not found after creation; its manager waits for the next apply"));
                    continue;
                }
            },
        };
        let mut set = User::default();
        Attr::Manager.set(&mut set, Some(boss));
        actions.push(Action::UpdateUser { target, update: UpdateSpec { set, ..Default::default() } });
    }
    (actions, missing)
}

/// The pass-2 member changes with every reference resolved; unresolved ones are returned as
/// messages (their creation failed or is not visible yet) and left for the next apply.
pub fn resolve_deferred(deferred: &[Deferred], created: &Created) -> (Vec<Action>, Vec<String>) {
    let mut actions = Vec::new();
    let mut missing = Vec::new();
    for d in deferred {
        let group_id = match &d.group {
            GroupTarget::Existing { id } => id.clone(),
            GroupTarget::Pending { key } => match created.groups.get(key) {
                Some(id) => id.clone(),
                None => {
                    missing.push(format!(
                        "group {:?} was not found after creation; its {} member change(s) wait for the next apply",
                        d.group_name,
                        d.members.len()
                    ));
                    continue;
                }
            },
        };
        let mut user_ids = Vec::new();
        for m in &d.members {
            match m {
                MemberRef::User { id, .. } => user_ids.push(id.clone()),
                MemberRef::Pending { key, .. } => match created.users.get(key) {
                    Some(id) => user_ids.push(id.clone()),
                    None => missing.push(format!("user {key:?} was not found after creation; not added to {:?}", d.group_name)),
                },
            }
        }
        if user_ids.is_empty() {
            continue;
        }
        let group_name = d.group_name.clone();
        actions.push(if d.add {
            Action::AddMembers { group_id, group_name, user_ids }
        } else {
            Action::RemoveMembers { group_id, group_name, user_ids }
        });
    }
    (actions, missing)
}

/// Pass 2 of a plan, as data: the member changes and managers that wait for the users and groups
/// pass 1 creates, and how those users are found. An approval of a policy apply keeps it
/// (`crate::approval`), so the approved run does both passes as an unheld apply does.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Later {
    pub deferred: Vec<Deferred>,
    pub manager_links: Vec<ManagerLink>,
    /// The emails of the users pass 1 creates, by source key ([`created_emails`]).
    pub emails: BTreeMap<String, String>,
}

impl Later {
    /// Pass 2 of a live plan.
    pub fn of(live: &super::live::LivePlan) -> Later {
        let p = passes(&live.plan, &|_| None);
        Later { deferred: p.deferred, manager_links: p.manager_links, emails: created_emails(&live.plan) }
    }

    /// The operations pass 2 queues when every object is found (one per membership change of a
    /// group, one per manager link): what confirmations add to pass 1's count.
    pub fn operations(&self) -> usize {
        self.deferred.len() + self.manager_links.len()
    }

    pub fn is_empty(&self) -> bool {
        self.operations() == 0
    }

    /// After pass 1: the users and groups it created are looked up, and pass 2's actions are
    /// made (managers first, then memberships); what could not be found is returned as messages
    /// (left for the next apply).
    pub async fn resolve(&self, client: &ScimClient) -> Result<(Vec<Action>, Vec<String>), ScimError> {
        if self.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let created = find_created(client, &self.emails, &self.deferred, &self.manager_links).await?;
        let (mut actions, mut missing) = resolve_manager_links(&self.manager_links, &self.emails, &created);
        let (members, missing_members) = resolve_deferred(&self.deferred, &created);
        actions.extend(members);
        missing.extend(missing_members);
        Ok((actions, missing))
    }
}

/// What [`apply_live`] needs besides the plan: where to journal, the profile's safety rules (with
/// `--read-only` and whether the admin passed the ceiling) and how the engine runs.
#[derive(Clone)]
pub struct ApplyEnv {
    pub journal: std::sync::Arc<crate::queue::Journal>,
    pub safety: crate::queue::Safety,
    pub engine: crate::queue::EngineConfig,
    /// `BatchInfo::origin` of the batches (`policy` for the command, `console` for the pane).
    pub origin: String,
}

/// Gate, journal and run one pass; skipped actions are added to `notes`. The gate runs here, on
/// each pass, so no caller of [`apply_live`] can run a plan around it (read-only refuses before
/// anything is journaled).
#[allow(clippy::too_many_arguments)]
async fn run_pass(
    engine: &crate::queue::Engine,
    env: &ApplyEnv,
    known: &crate::queue::Knowledge,
    actions: Vec<Action>,
    info: crate::queue::BatchInfo,
    notes: &mut Vec<String>,
    events: &tokio::sync::mpsc::UnboundedSender<crate::queue::QueueEvent>,
    cancel: &crate::queue::Cancel,
) -> Result<crate::queue::BatchResult, ApplyError> {
    let decision = crate::queue::gate(&env.safety, actions, known);
    // (`env.safety` carries the policy's own ceilings: `apply_live` put them there.)
    if let Some(h) = decision.hold() {
        return Err(ApplyError::Held(h.clone()));
    }
    for s in decision.skipped() {
        notes.push(format!("skipped {}: {}", s.action.describe(), s.why()));
    }
    let journal = env.journal.clone();
    let batch = tokio::task::spawn_blocking(move || crate::queue::submit(&journal, &info, decision)).await??;
    engine.run_batch(&batch, Some(events.clone()), cancel.clone()).await.map_err(ApplyError::Queue)
}

/// Why `apply_live` stopped before its passes were done (what it sent is in the journal and the
/// report; nothing after the failure was sent).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The gate held a pass (a safety rule or a ceiling).
    #[error("{0}; nothing was changed by this pass")]
    Held(crate::queue::Hold),
    /// A pass could not be journaled.
    #[error("{0}")]
    Journal(#[from] crate::queue::GateError),
    /// The journal's worker thread failed.
    #[error("{0}")]
    Worker(#[from] tokio::task::JoinError),
    /// The engine stopped (its journal failed mid-batch).
    #[error("the queue stopped: {0:#}")]
    Queue(crate::queue::JournalError),
    /// Looking up what the first pass created failed.
    #[error("{0}")]
    Lookup(#[from] ScimError),
}

/// The gate's decision on everything a run can know up front (pass 1 and the deactivations; the
/// member changes of objects pass 1 creates follow): what confirmations show.
///
/// The ceilings count the whole run: pass 2's operations (see [`later_operations`]) are counted
/// with these (as stand-ins without ids), so a run whose passes are each under a ceiling but
/// together over it is held here, where it is confirmed, and not run past it (issue 25).
pub fn preview(live: &super::live::LivePlan, safety: &crate::queue::Safety) -> crate::queue::Decision {
    let Passes { mut first, deactivations, deferred, manager_links } = passes(&live.plan, &|id| live.update_emails.get(id).cloned());
    first.extend(deactivations);
    let safety = policy_safety(live, safety);
    let later = later_stand_ins(&deferred, &manager_links);
    crate::queue::gate(&safety, first, &live.knowledge).count_later(&safety, &later, &live.knowledge)
}

/// Pass 2's operations as the ceilings count them, before pass 1 gives their objects ids: one
/// manager update per link, one membership change per deferred group change (with one stand-in
/// user per member).
fn later_stand_ins(deferred: &[Deferred], links: &[ManagerLink]) -> Vec<Action> {
    let mut out = Vec::with_capacity(deferred.len() + links.len());
    for l in links {
        let label = match &l.user {
            MemberRef::User { label, .. } | MemberRef::Pending { label, .. } => label.clone(),
        };
        let target = Target { display: Some(label), ..Default::default() };
        let mut set = User::default();
        Attr::Manager.set(&mut set, Some(&l.manager_key));
        out.push(Action::UpdateUser { target, update: UpdateSpec { set, ..Default::default() } });
    }
    for d in deferred {
        let group_id = match &d.group {
            GroupTarget::Existing { id } => id.clone(),
            GroupTarget::Pending { .. } => String::new(),
        };
        let user_ids: Vec<String> = d.members.iter().map(|_| String::new()).collect();
        let group_name = d.group_name.clone();
        out.push(if d.add {
            Action::AddMembers { group_id, group_name, user_ids }
        } else {
            Action::RemoveMembers { group_id, group_name, user_ids }
        });
    }
    out
}

/// The operations of pass 2 that wait for the users and groups pass 1 creates (their
/// memberships, managers that are new hires): not in [`preview`], which cannot gate what has no
/// id yet, but run after it; confirmations say so, with this count. One per membership change
/// of a group and one per manager link, as [`apply_live`] queues them when all are found.
pub fn later_operations(live: &super::live::LivePlan) -> usize {
    Later::of(live).operations()
}

/// The profile's rules with the policy's own ceilings in their place (its `[provisioning]`).
pub fn policy_safety(live: &super::live::LivePlan, safety: &crate::queue::Safety) -> crate::queue::Safety {
    safety.clone().with_ceilings(&live.policy.provisioning.ceilings)
}

/// How an [`apply_live`] run ended.
#[derive(Debug)]
pub struct ApplyOutcome {
    /// The policy run id (`scimitar report --batch RUN`).
    pub run_id: String,
    /// One result per pass that ran.
    pub batches: Vec<crate::queue::BatchResult>,
    /// Actions a safety rule skipped (described with the rule).
    pub skipped: Vec<String>,
    /// Member changes whose user or group was not found after pass 1 (left for the next apply).
    pub missing: Vec<String>,
    /// Pass 1 did not fully succeed (or was cancelled), so pass 2 was not queued.
    pub stopped_after_first: bool,
    /// Every operation succeeded but the state of the policy could not be saved (the next plan
    /// is still right; only the memory of retired scope groups and group ids is stale).
    pub state_error: Option<String>,
    /// Every operation succeeded, nothing was left over, and the policy state was saved.
    pub complete: bool,
}

impl ApplyOutcome {
    /// Everything worth telling the admin besides the per-operation results.
    pub fn notes(&self) -> Vec<String> {
        let mut n: Vec<String> = self.skipped.iter().chain(&self.missing).cloned().collect();
        if self.stopped_after_first {
            n.push(PASS1_STOPPED.into());
        }
        if let Some(e) = &self.state_error {
            n.push(format!("cannot save the policy state: {e}"));
        }
        n
    }
}

pub const PASS1_STOPPED: &str =
    "pass 1 did not fully succeed; memberships of new objects and deactivations were not queued (fix and run apply again)";

/// Run a computed plan through the action queue in its two passes, without printing: progress
/// goes to `events` (the queue's own events), and the state of the policy is saved when
/// everything succeeded. The caller has already shown the plan and had it confirmed (ceilings
/// included); this does not ask again, but every pass goes through the gate (read-only and a
/// ceiling not passed in `env.safety` stop it with an error before anything is journaled). Pass 2
/// is not queued when pass 1 did not fully succeed, or when `cancel` was set.
pub async fn apply_live(
    client: &ScimClient,
    live: &super::live::LivePlan,
    name: &str,
    run_id: &str,
    env: ApplyEnv,
    events: tokio::sync::mpsc::UnboundedSender<crate::queue::QueueEvent>,
    cancel: crate::queue::Cancel,
) -> Result<ApplyOutcome, ApplyError> {
    use crate::queue::{BatchInfo, Engine};
    let plan = &live.plan;
    let mut out = ApplyOutcome {
        run_id: run_id.to_string(),
        batches: Vec::new(),
        skipped: Vec::new(),
        missing: Vec::new(),
        stopped_after_first: false,
        state_error: None,
        complete: false,
    };
    let Passes { first, deferred, manager_links, deactivations } = passes(plan, &|id| live.update_emails.get(id).cloned());
    let env = ApplyEnv { safety: policy_safety(live, &env.safety), ..env };
    let engine = Engine::new(client.clone(), env.journal.clone(), env.engine.clone());
    let info = |pass: u8, text: &str| BatchInfo {
        origin: env.origin.clone(),
        policy_run: Some(run_id.to_string()),
        description: format!("policy {name} pass {pass}: {text}"),
    };
    if !first.is_empty() {
        let r =
            run_pass(&engine, &env, &live.knowledge, first, info(1, "create, update, groups"), &mut out.skipped, &events, &cancel).await?;
        let ok = r.all_succeeded();
        out.batches.push(r);
        if !ok || cancel.is_cancelled() {
            out.stopped_after_first = true;
            return Ok(out);
        }
    }
    let later = Later { deferred, manager_links, emails: created_emails(plan) };
    let (mut second, missing) = later.resolve(client).await?;
    out.missing = missing;
    second.extend(deactivations);
    let mut ok = true;
    if !second.is_empty() {
        let r = run_pass(
            &engine,
            &env,
            &live.knowledge,
            second,
            info(2, "managers and memberships of new objects, deactivations"),
            &mut out.skipped,
            &events,
            &cancel,
        )
        .await?;
        ok = r.all_succeeded();
        out.batches.push(r);
    }
    if ok && out.missing.is_empty() && !cancel.is_cancelled() {
        let saved = match group_ids_after(client, &live.policy, live.prior.as_ref()).await {
            Ok(ids) => {
                // The source this successful run read is the base of the next run's sanity check.
                let next =
                    PriorState { source: Some(live.source_stats.clone()), ..PriorState::next(&live.policy, live.prior.as_ref(), ids) };
                save_prior(&live.state_file, &next).map_err(|e| e.to_string())
            }
            Err(e) => Err(format!("reading the groups after apply: {e}")),
        };
        match saved {
            Ok(()) => out.complete = true,
            Err(e) => out.state_error = Some(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::plan::{AttrChange, CreateUser, Deactivate, GroupCreate, Reason};
    use crate::scim::MultiValue;

    fn pending(k: &str) -> MemberRef {
        MemberRef::Pending { key: k.into(), label: k.into() }
    }
    fn known(id: &str) -> MemberRef {
        MemberRef::User { id: id.into(), label: id.into() }
    }

    #[test]
    fn passes_defer_pending_refs_and_keep_deactivations_last() {
        let new_user =
            User { user_name: Some("ann".into()), emails: Some(vec![MultiValue::email("ann@x.example", true)]), ..Default::default() };
        let plan = Plan {
            creates: vec![CreateUser { row_line: 2, key: "E1".into(), label: "ann".into(), user: new_user }],
            updates: vec![UpdateUser {
                id: "U2".into(),
                label: "bob".into(),
                row_line: 3,
                changes: vec![
                    AttrChange { attr: Attr::Title, old: Some("a".into()), new: Some("b".into()) },
                    AttrChange { attr: Attr::Department, old: Some("Ops".into()), new: None },
                ],
                patch: User::default(),
            }],
            group_creates: vec![GroupCreate { key: "g".into(), name: "new".into(), members: vec![known("U2"), pending("E1")] }],
            member_adds: vec![MemberChange {
                group: GroupTarget::Existing { id: "S1".into() },
                group_name: "old".into(),
                members: vec![known("U3"), pending("E1")],
            }],
            member_removes: vec![MemberChange {
                group: GroupTarget::Existing { id: "S1".into() },
                group_name: "old".into(),
                members: vec![known("U4")],
            }],
            deactivations: vec![Deactivate {
                id: "U5".into(),
                email: "e@x".into(),
                label: "e".into(),
                reason: Reason::Deleted,
                row_line: None,
            }],
            ..Default::default()
        };
        let p = passes(&plan, &|id| (id == "U2").then(|| "bob@x.example".to_string()));
        let names: Vec<&str> = p.first.iter().map(Action::name).collect();
        assert_eq!(names, ["create_user", "update_user", "create_group", "add_members", "remove_members"]);
        match &p.first[1] {
            Action::UpdateUser { update, target } => {
                assert_eq!(target.email.as_deref(), Some("bob@x.example"));
                assert_eq!(update.set.title.as_deref(), Some("b"));
                assert_eq!(update.clear, ["enterprise.department"]);
            }
            _ => unreachable!(),
        }
        match &p.first[2] {
            Action::CreateGroup { members, .. } => assert_eq!(members, &["U2"]),
            _ => unreachable!(),
        }
        assert_eq!(p.deferred.len(), 2);
        assert_eq!(p.deferred_members(), 2);
        assert_eq!(p.deactivations.len(), 1);

        let mut created = Created::default();
        created.users.insert("E1".into(), "UNEW".into());
        created.groups.insert("g".into(), "SNEW".into());
        let (actions, missing) = resolve_deferred(&p.deferred, &created);
        assert!(missing.is_empty());
        let resolved: Vec<(String, Vec<String>)> = actions
            .iter()
            .map(|a| match a {
                Action::AddMembers { group_id, user_ids, .. } => (group_id.clone(), user_ids.clone()),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(resolved, [("SNEW".to_string(), vec!["UNEW".to_string()]), ("S1".to_string(), vec!["UNEW".to_string()])]);
        let (_, missing) = resolve_deferred(&p.deferred, &Created::default());
        assert_eq!(missing.len(), 2, "{missing:?}");
    }
}
