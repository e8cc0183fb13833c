//! Restore: undo deactivations with what they took away. From the snapshots the journal kept
//! before each deactivation was sent (`kept.rs`), [`plan`] builds the actions that give it back:
//! reactivate each user, add them back to every group they were in (one add per group, with all
//! the batch's users who were in it), and give back the roles Slack dropped. The actions are
//! ordinary ones: the front ends pass them through the gate (`gate::gate`), confirm once, journal
//! and run them as any other batch, and the report records them like any other.
//!
//! What is read first: the users as they are now (a user already active is a no-op for the gate)
//! and every group (a member already back is not added again; a group deleted since is named and
//! left out).
//!
//! **A whole batch** ([`Which::Batch`], or one op: [`Which::Op`]) is undone from the journal's
//! before-values, every operation of it that is done: updates are set back (from the values the
//! update journaled it changed from, `UpdateSpec::before`), memberships added are removed and
//! removed ones added back, groups renamed back, deactivations reactivated with memberships and
//! roles (above), reactivations deactivated, and users the batch created deactivated only when
//! asked ([`Options::deactivate_created`]). A value is set back only where the server still holds
//! what the batch wrote; where it holds something else since, that is a [conflict](RestorePlan::conflicts),
//! listed and left alone. [`RestorePlan::diff`] is what `--dry-run` shows. A batch id `pr-…`
//! names a policy run: every batch of it is undone.

use super::action::{Action, ActionKind, Target, UpdateSpec};
use super::gate::Knowledge;
use super::journal::{Journal, JournalError, KeptRow, OpRow, OpState};
use crate::scim::{ScimClient, ScimError, User};
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// What to restore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Which {
    /// Every done deactivation of a batch.
    Batch(String),
    /// The latest done deactivation of a user (by id).
    User(String),
    /// One deactivation (a report record's op).
    Op(String),
}

impl std::fmt::Display for Which {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Which::Batch(b) => write!(f, "batch {b}"),
            Which::User(u) => write!(f, "user {u}"),
            Which::Op(o) => write!(f, "operation {o}"),
        }
    }
}

/// Why nothing could be planned.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0}")]
    NothingKept(String),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("reading the users and groups as they are now: {0}")]
    Scim(#[from] ScimError),
}

/// What a restore may do besides setting values back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Deactivate the users the batch created (`--deactivate-created`); else they are listed.
    pub deactivate_created: bool,
}

/// One change a restore would make: what it changes, on which object, from what, to what.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DiffRow {
    /// `update`, `reactivate`, `deactivate`, `add_member`, `remove_member`, `rename_group`.
    pub action: String,
    /// The user or group, as people know it.
    pub object: String,
    pub id: String,
    /// The attribute (`title`), `active`, `member` or `name`.
    pub field: String,
    /// What the server holds now ("" for unset).
    pub now: String,
    /// What it is set back to ("" for unset).
    pub back: String,
}

/// The actions that restore, with what the gate needs to know about their users.
#[derive(Debug)]
pub struct RestorePlan {
    pub actions: Vec<Action>,
    /// The users as they are now (for the gate and the confirmation).
    pub known: Knowledge,
    /// Names of the users (id -> label), for the confirmation to name them.
    pub names: HashMap<String, String>,
    /// What could not be planned (a user or group gone, groups unknown), one line each.
    pub notes: Vec<String>,
    /// "restore batch b-…: 3 users, 2 groups": the batch's description.
    pub what: String,
    /// The snapshots used.
    pub kept: Vec<KeptRow>,
    /// Values the server holds that are neither what the batch wrote nor what was there before:
    /// someone changed them since; left alone, one line each.
    pub conflicts: Vec<String>,
    /// Every change the actions make (what `--dry-run` shows), besides the deactivations'
    /// memberships (their `kept` says).
    pub diff: Vec<DiffRow>,
}

async fn blocking<T: Send + 'static>(
    journal: &Arc<Journal>,
    f: impl FnOnce(&Journal) -> Result<T, JournalError> + Send + 'static,
) -> Result<T, RestoreError> {
    let j = journal.clone();
    Ok(tokio::task::spawn_blocking(move || f(&j)).await.map_err(|e| JournalError::Stopped(e.to_string()))??)
}

/// Read the snapshots of `which` and the directory as it is now; the actions that restore.
pub async fn plan(client: &ScimClient, journal: &Arc<Journal>, which: &Which) -> Result<RestorePlan, RestoreError> {
    plan_with(client, journal, which, Options::default()).await
}

/// [`plan`], with the [`Options`].
pub async fn plan_with(client: &ScimClient, journal: &Arc<Journal>, which: &Which, opts: Options) -> Result<RestorePlan, RestoreError> {
    match which {
        Which::Batch(_) | Which::Op(_) => undo_plan(client, journal, which, opts).await,
        Which::User(_) => deactivations_plan(client, journal, which).await,
    }
}

/// The deactivations' snapshots of `which` and the directory now: reactivate, roles, groups.
async fn deactivations_plan(client: &ScimClient, journal: &Arc<Journal>, which: &Which) -> Result<RestorePlan, RestoreError> {
    let w = which.clone();
    let rows: Vec<KeptRow> = blocking(journal, move |j| match &w {
        Which::Batch(b) => j.kept_of_batch(b),
        Which::User(u) => Ok(j.kept_of_user(u)?.into_iter().collect()),
        Which::Op(o) => Ok(j.kept_of_op(o)?.into_iter().collect()),
    })
    .await?;
    if rows.is_empty() {
        return Err(RestoreError::NothingKept(format!(
            "nothing to restore for {which}: no deactivation of it is done with what it took away kept in the journal"
        )));
    }
    // One snapshot per user: the latest (a batch deactivates each user once anyway).
    let mut by_user: BTreeMap<String, KeptRow> = BTreeMap::new();
    for r in rows {
        match by_user.get(&r.kept.user_id) {
            Some(have) if have.taken >= r.taken => {}
            _ => {
                by_user.insert(r.kept.user_id.clone(), r);
            }
        }
    }
    let ids: Vec<String> = by_user.keys().cloned().collect();
    let (users, groups) = tokio::try_join!(current_users(client, &ids), client.all_groups())?;
    Ok(actions_for(which, by_user.into_values().collect(), &users, &groups))
}

/// The users with these ids as they are now (one read each, or one listing for many).
async fn current_users(client: &ScimClient, ids: &[String]) -> Result<Vec<User>, ScimError> {
    if ids.len() > super::gate::FETCH_ONE_BY_ONE {
        let want: HashSet<&str> = ids.iter().map(String::as_str).collect();
        return Ok(client.all_users(None).await?.into_iter().filter(|u| want.contains(u.id())).collect());
    }
    let got: Vec<Result<User, ScimError>> = futures::stream::iter(ids.iter().cloned().map(|id| {
        let client = client.clone();
        async move { client.get_user(&id).await }
    }))
    .buffer_unordered(8)
    .collect()
    .await;
    let mut out = Vec::new();
    for r in got {
        match r {
            Ok(u) => out.push(u),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The actions (pure): reactivate, roles back, one add per group.
pub fn actions_for(which: &Which, kept: Vec<KeptRow>, users: &[User], groups: &[crate::scim::Group]) -> RestorePlan {
    let now: HashMap<&str, &User> = users.iter().map(|u| (u.id(), u)).collect();
    let group_now: HashMap<&str, &crate::scim::Group> = groups.iter().map(|g| (g.id(), g)).collect();
    let mut actions = Vec::new();
    let mut notes = Vec::new();
    let mut names = HashMap::new();
    // group id -> (name, users to add back), in the order first met.
    let mut adds: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut restored = 0;
    for row in &kept {
        let k = &row.kept;
        let Some(u) = now.get(k.user_id.as_str()) else {
            notes.push(format!("{} ({}) is not in the directory any more; not restored", row.target.label(), k.user_id));
            continue;
        };
        restored += 1;
        names.insert(k.user_id.clone(), u.label());
        let target = Target::of_user(u);
        actions.push(Action::Reactivate { target: target.clone() });
        let roles = k.roles_to_restore();
        if !roles.is_empty() && u.roles.as_deref().unwrap_or(&[]) != k.roles.as_slice() {
            let set = User { roles: Some(k.roles.clone()), ..Default::default() };
            actions.push(Action::UpdateUser { target: target.clone(), update: UpdateSpec { set, ..Default::default() } });
        }
        match &k.groups {
            None => notes.push(format!("{}: which groups they were in is not known ({}); only reactivated", u.label(), k.source)),
            Some(gs) => {
                for g in gs {
                    let Some(now_g) = group_now.get(g.id.as_str()) else {
                        notes.push(format!("group {} ({}) no longer exists; {} is not added back to it", g.name, g.id, u.label()));
                        continue;
                    };
                    if now_g.member_ids().any(|m| m == k.user_id) {
                        continue;
                    }
                    match adds.iter_mut().find(|(id, _, _)| *id == g.id) {
                        Some((_, _, ids)) => ids.push(k.user_id.clone()),
                        None => adds.push((g.id.clone(), now_g.name().to_string(), vec![k.user_id.clone()])),
                    }
                }
            }
        }
    }
    let n_groups = adds.len();
    for (group_id, group_name, user_ids) in adds {
        actions.push(Action::AddMembers { group_id, group_name, user_ids });
    }
    let s = crate::words::count;
    let what = format!("restore {which}: {}, {}", s(restored, "user"), s(n_groups, "group"));
    let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let mut diff = Vec::new();
    for a in &actions {
        let t = a.target();
        let (object, id) = (t.label(), t.id.clone().unwrap_or_default());
        match a {
            Action::Reactivate { .. } => diff.push(DiffRow {
                action: "reactivate".into(),
                object,
                id,
                field: "active".into(),
                now: "false".into(),
                back: "true".into(),
            }),
            Action::UpdateUser { update, .. } => diff.push(DiffRow {
                action: "update".into(),
                object,
                id,
                field: "roles".into(),
                now: String::new(),
                back: update.set.roles.iter().flatten().map(role_value).collect::<Vec<_>>().join(", "),
            }),
            Action::AddMembers { user_ids, .. } => {
                for u in user_ids {
                    diff.push(DiffRow {
                        action: "add_member".into(),
                        object: object.clone(),
                        id: id.clone(),
                        field: "member".into(),
                        now: String::new(),
                        back: name_of(u),
                    });
                }
            }
            _ => {}
        }
    }
    RestorePlan { actions, known: Knowledge::from_users(users), names, notes, what, kept, conflicts: Vec::new(), diff }
}

fn role_value(r: &crate::scim::types::Role) -> String {
    match r {
        crate::scim::types::Role::Text(s) => s.clone(),
        crate::scim::types::Role::Object(o) => o.value.clone().unwrap_or_default(),
    }
}

/// The done operations of a batch (every batch of a policy run `pr-…`), or of one op.
fn done_ops(j: &Journal, which: &Which) -> Result<(Vec<OpRow>, usize), JournalError> {
    let ops: Vec<OpRow> = match which {
        Which::Batch(b) if b.starts_with("pr-") => {
            let mut ops = Vec::new();
            let mut batches: Vec<_> =
                j.recent_batches(usize::MAX >> 1)?.into_iter().filter(|h| h.policy_run.as_deref() == Some(b)).collect();
            batches.reverse();
            for h in batches {
                ops.extend(j.ops(&h.batch_id)?);
            }
            ops
        }
        Which::Batch(b) => j.ops(b)?,
        Which::Op(o) => {
            let batch = o.rsplit_once('-').map_or(o.as_str(), |(b, _)| b);
            j.ops(batch)?.into_iter().filter(|r| r.op_id == *o).collect()
        }
        Which::User(_) => Vec::new(),
    };
    let other = ops.iter().filter(|o| o.state != OpState::Done && o.state != OpState::Skipped).count();
    Ok((ops.into_iter().filter(|o| o.state == OpState::Done).collect(), other))
}

/// The id a create's op named when it was done ("created W…").
fn created_id(op: &OpRow) -> Option<String> {
    op.note.as_deref()?.strip_prefix("created ")?.split_whitespace().next().map(str::to_string)
}

/// Undo every done op of a batch (or one op) from the journal's before-values.
async fn undo_plan(client: &ScimClient, journal: &Arc<Journal>, which: &Which, opts: Options) -> Result<RestorePlan, RestoreError> {
    let w = which.clone();
    let (ops, other, kept) = blocking(journal, move |j| {
        let (ops, other) = done_ops(j, &w)?;
        let mut kept = Vec::new();
        for o in ops.iter().filter(|o| o.action.spec().keeps) {
            kept.extend(j.kept_of_op(&o.op_id)?);
        }
        Ok((ops, other, kept))
    })
    .await?;
    if ops.is_empty() {
        return Err(RestoreError::NothingKept(format!("nothing to restore for {which}: no operation of it is done")));
    }
    // The users and groups the ops name, as they are now.
    let mut ids: Vec<String> = Vec::new();
    let mut groups_needed = !kept.is_empty();
    for o in &ops {
        ids.extend(o.action.member_ids().iter().cloned());
        groups_needed |= o.action.spec().subject == super::Subject::Group;
        match &o.action {
            Action::CreateUser { .. } => ids.extend(created_id(o)),
            a if a.spec().subject == super::Subject::User => ids.extend(a.target().id),
            _ => {}
        }
    }
    ids.extend(kept.iter().map(|k| k.kept.user_id.clone()));
    ids.sort();
    ids.dedup();
    let groups_now = async { if groups_needed { client.all_groups().await } else { Ok(Vec::new()) } };
    let (users, groups) = tokio::try_join!(current_users(client, &ids), groups_now)?;
    let mut p = undo_actions(which, &ops, kept, &users, &groups, opts);
    if other > 0 {
        p.notes.push(format!(
            "{} of it did not finish (failed or cancelled): nothing of them is undone; read them with `scimitar report --batch`",
            crate::words::count(other, "operation")
        ));
    }
    Ok(p)
}

/// An attribute's value before a batch (the earliest update's) and what the batch wrote last.
type BeforeAfter = (Option<String>, Option<String>);

/// The undo of done ops (pure): see the module documentation.
pub fn undo_actions(
    which: &Which,
    ops: &[OpRow],
    kept: Vec<KeptRow>,
    users: &[User],
    groups: &[crate::scim::Group],
    opts: Options,
) -> RestorePlan {
    use super::attr::Attr;
    let now: HashMap<&str, &User> = users.iter().map(|u| (u.id(), u)).collect();
    let group_now: HashMap<&str, &crate::scim::Group> = groups.iter().map(|g| (g.id(), g)).collect();
    // The deactivations first: reactivate, roles, groups (as `restore --user`).
    let mut p = actions_for(which, kept, users, groups);
    let mut conflicts = Vec::new();
    let mut diff = std::mem::take(&mut p.diff);
    let reactivated: HashSet<String> = p.actions.iter().filter_map(|a| a.leaves_user().map(|(id, _)| id.to_string())).collect();
    let label = |id: &str, t: &Target| now.get(id).map(|u| u.label()).unwrap_or_else(|| t.label());
    let show = |v: Option<&str>| v.unwrap_or("").to_string();
    // Updates: per user and attribute, the earliest before-value and the latest value written.
    let mut updates: BTreeMap<String, (Target, BTreeMap<Attr, BeforeAfter>)> = BTreeMap::new();
    let mut unknown_before: Vec<String> = Vec::new();
    // Memberships to take back out / put back in: group -> (name, users), in the order met.
    let mut removes: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut adds: Vec<(String, String, Vec<String>)> = Vec::new();
    let add_to = |list: &mut Vec<(String, String, Vec<String>)>, gid: &str, name: &str, uid: &str| match list
        .iter_mut()
        .find(|(g, _, _)| g == gid)
    {
        Some((_, _, ids)) if !ids.iter().any(|i| i == uid) => ids.push(uid.to_string()),
        Some(_) => {}
        None => list.push((gid.to_string(), name.to_string(), vec![uid.to_string()])),
    };
    // Members the deactivations' restore adds back already.
    let readding: HashSet<(String, String)> = p
        .actions
        .iter()
        .filter(|a| a.kind() == ActionKind::AddMembers)
        .flat_map(|a| {
            let g = a.target().id.unwrap_or_default();
            a.member_ids().iter().map(move |m| (g.clone(), m.clone())).collect::<Vec<_>>()
        })
        .collect();
    let mut deactivate: Vec<(String, Target)> = Vec::new();
    let mut created_users: Vec<String> = Vec::new();
    let mut ops: Vec<&OpRow> = ops.iter().collect();
    ops.sort_by_key(|o| (o.batch_id.clone(), o.seq));
    for o in ops {
        match &o.action {
            Action::UpdateUser { target, update } => {
                let Some(id) = target.id.clone() else { continue };
                let entry = updates.entry(id.clone()).or_insert_with(|| (target.clone(), BTreeMap::new()));
                for (attr, cleared) in update.touched() {
                    let written = if cleared { None } else { attr.get(&update.set).map(str::to_string) };
                    match update.before_of(attr) {
                        Some(before) => {
                            let e = entry.1.entry(attr).or_insert_with(|| (before.map(str::to_string), None));
                            e.1 = written;
                        }
                        None if !entry.1.contains_key(&attr) => unknown_before.push(format!("{} of {}", attr.short(), target.label())),
                        None => entry.1.get_mut(&attr).unwrap().1 = written,
                    }
                }
            }
            Action::Reactivate { target } => {
                if let Some(id) = target.id.clone().filter(|id| now.get(id.as_str()).is_some_and(|u| u.active == Some(true))) {
                    deactivate.push((id, target.clone()));
                }
            }
            Action::CreateUser { target, .. } => match created_id(o) {
                Some(id) if now.get(id.as_str()).is_some_and(|u| u.active == Some(true)) => {
                    if opts.deactivate_created {
                        let t = now.get(id.as_str()).map(|u| Target::of_user(u)).unwrap_or_else(|| target.clone());
                        deactivate.push((id, t));
                    } else {
                        created_users.push(target.label());
                    }
                }
                _ => {}
            },
            Action::AddMembers { group_id, group_name, user_ids } | Action::RemoveMembers { group_id, group_name, user_ids } => {
                let Some(g) = group_now.get(group_id.as_str()) else {
                    p.notes.push(format!("group {group_name} ({group_id}) no longer exists; its membership changes are not undone"));
                    continue;
                };
                let members: HashSet<&str> = g.member_ids().collect();
                let added = o.action.kind() == ActionKind::AddMembers;
                for uid in user_ids {
                    let is_member = members.contains(uid.as_str());
                    if added && is_member {
                        add_to(&mut removes, group_id, g.name(), uid);
                    } else if !added && !is_member && !readding.contains(&(group_id.clone(), uid.clone())) {
                        if now.contains_key(uid.as_str()) {
                            add_to(&mut adds, group_id, g.name(), uid);
                        } else {
                            p.notes.push(format!("{uid} is not in the directory any more; not added back to {}", g.name()));
                        }
                    }
                }
            }
            Action::RenameGroup { id, from, to } => match group_now.get(id.as_str()) {
                Some(g) if g.name() == to.as_str() => {
                    diff.push(DiffRow {
                        action: "rename_group".into(),
                        object: to.clone(),
                        id: id.clone(),
                        field: "name".into(),
                        now: to.clone(),
                        back: from.clone(),
                    });
                    p.actions.push(Action::RenameGroup { id: id.clone(), from: to.clone(), to: from.clone() });
                }
                Some(g) if g.name() == from.as_str() => {}
                Some(g) => conflicts
                    .push(format!("group {id}: the batch renamed it {from:?} -> {to:?}, it is named {:?} now; left alone", g.name())),
                None => p.notes.push(format!("group {to} ({id}) no longer exists; not renamed back")),
            },
            Action::CreateGroup { name, .. } => {
                let id = created_id(o).unwrap_or_default();
                p.notes
                    .push(format!("group {name} ({id}) was created by it; delete it with `scimitar groups delete {id}` if it should go"));
            }
            Action::DeleteGroup { id, name } => p.notes.push(format!(
                "group {name} ({id}) was deleted by it: a deleted group and its memberships cannot be made again as they were"
            )),
            Action::Deactivate { .. } => {}
        }
    }
    for (id, (target, attrs)) in updates {
        let Some(u) = now.get(id.as_str()) else {
            p.notes.push(format!("{} ({id}) is not in the directory any more; its update is not undone", target.label()));
            continue;
        };
        let mut back: Vec<(Attr, Option<String>)> = Vec::new();
        for (attr, (before, written)) in attrs {
            let have = attr.get(u);
            let same = |a: Option<&str>, b: Option<&str>| match (a, b) {
                (None, None) => true,
                (Some(a), Some(b)) => attr.same_value(a, b),
                _ => false,
            };
            if same(have, before.as_deref()) {
                continue;
            }
            if same(have, written.as_deref()) {
                diff.push(DiffRow {
                    action: "update".into(),
                    object: u.label(),
                    id: id.clone(),
                    field: attr.short().into(),
                    now: show(have),
                    back: show(before.as_deref()),
                });
                back.push((attr, before));
            } else {
                conflicts.push(format!(
                    "{} of {}: the batch wrote {:?}, the server holds {:?} now (changed since); left alone",
                    attr.short(),
                    u.label(),
                    show(written.as_deref()),
                    show(have)
                ));
            }
        }
        if !back.is_empty() {
            let update = super::edit::update_for(u, back.iter().map(|(a, v)| (*a, v.as_deref())));
            p.actions.push(Action::UpdateUser { target: Target::of_user(u), update });
        }
    }
    for (gid, name, ids) in removes {
        for uid in &ids {
            diff.push(DiffRow {
                action: "remove_member".into(),
                object: name.clone(),
                id: gid.clone(),
                field: "member".into(),
                now: label(uid, &Target::default()),
                back: String::new(),
            });
        }
        p.actions.push(Action::RemoveMembers { group_id: gid, group_name: name, user_ids: ids });
    }
    for (gid, name, ids) in adds {
        for uid in &ids {
            diff.push(DiffRow {
                action: "add_member".into(),
                object: name.clone(),
                id: gid.clone(),
                field: "member".into(),
                now: String::new(),
                back: label(uid, &Target::default()),
            });
        }
        p.actions.push(Action::AddMembers { group_id: gid, group_name: name, user_ids: ids });
    }
    for (id, target) in deactivate {
        if reactivated.contains(&id) {
            continue;
        }
        diff.push(DiffRow {
            action: "deactivate".into(),
            object: label(&id, &target),
            id: id.clone(),
            field: "active".into(),
            now: "true".into(),
            back: "false".into(),
        });
        p.actions.push(Action::Deactivate { target });
    }
    if !created_users.is_empty() {
        p.notes.push(format!(
            "{} created by it left active (pass --deactivate-created to deactivate them): {}",
            crate::words::count(created_users.len(), "user"),
            created_users.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if !unknown_before.is_empty() {
        p.notes.push(format!(
            "{} written without what it changed from (journaled by an older scimitar): left alone ({}{})",
            crate::words::count(unknown_before.len(), "value"),
            unknown_before.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
            if unknown_before.len() > 5 { ", …" } else { "" }
        ));
    }
    let users_changed: HashSet<&str> =
        diff.iter().filter(|d| !d.action.contains("member") && d.action != "rename_group").map(|d| d.id.as_str()).collect();
    let groups_changed: HashSet<&str> =
        diff.iter().filter(|d| d.action.contains("member") || d.action == "rename_group").map(|d| d.id.as_str()).collect();
    let mut parts = vec![crate::words::count(users_changed.len(), "user")];
    if !groups_changed.is_empty() {
        parts.push(crate::words::count(groups_changed.len(), "group"));
    }
    if !conflicts.is_empty() {
        parts.push(format!("{} left alone", crate::words::count(conflicts.len(), "conflict")));
    }
    p.what = format!("restore {which}: {}", parts.join(", "));
    p.known = Knowledge::from_users(users);
    p.conflicts = conflicts;
    p.diff = diff;
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::kept::{Kept, KeptGroup};
    use crate::queue::{Safety, gate};
    use crate::scim::types::GroupRef;
    use crate::scim::{Group, Member, MultiValue};

    fn user(id: &str, active: bool, groups: &[&str]) -> User {
        User {
            id: Some(id.into()),
            user_name: Some(id.to_lowercase()),
            emails: Some(vec![MultiValue::email(format!("{}@x.example", id.to_lowercase()), true)]),
            active: Some(active),
            groups: Some(groups.iter().map(|g| GroupRef { value: Some(g.to_string()), display: None }).collect()),
            ..Default::default()
        }
    }

    fn row(id: &str, groups: &[&str]) -> KeptRow {
        KeptRow {
            op_id: format!("b-1-{id}"),
            batch_id: "b-1".into(),
            taken: time::OffsetDateTime::UNIX_EPOCH,
            kept: Kept {
                user_id: id.into(),
                groups: Some(groups.iter().map(|g| KeptGroup { id: g.to_string(), name: g.to_lowercase() }).collect()),
                roles: vec![],
                source: "test".into(),
            },
            target: Target { id: Some(id.into()), ..Default::default() },
        }
    }

    fn group(id: &str, members: &[&str]) -> Group {
        Group {
            id: Some(id.into()),
            display_name: Some(id.to_lowercase()),
            members: Some(members.iter().map(|m| Member::id(*m)).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn reactivate_then_one_add_per_group_and_the_gate_lets_the_adds_through() {
        let users = vec![user("W1", false, &[]), user("W2", false, &[]), user("W3", true, &["S2"])];
        let groups = vec![group("S1", &[]), group("S2", &["W3"])];
        let kept = vec![row("W1", &["S1", "S2"]), row("W2", &["S1", "S9"]), row("W3", &["S2"])];
        let p = actions_for(&Which::Batch("b-1".into()), kept, &users, &groups);
        let kinds: Vec<&str> = p.actions.iter().map(Action::name).collect();
        assert_eq!(kinds, ["reactivate", "reactivate", "reactivate", "add_members", "add_members"]);
        assert_eq!(p.actions[3].member_ids(), ["W1", "W2"]);
        assert_eq!(p.actions[4].member_ids(), ["W1"], "W3 is in S2 already");
        assert!(p.notes.iter().any(|n| n.contains("S9") && n.contains("no longer exists")), "{:?}", p.notes);
        assert_eq!(p.what, "restore batch b-1: 3 users, 2 groups");
        // The users are deactivated now, but the batch reactivates them first: nothing is screened.
        let d = gate(&Safety::default(), p.actions, &p.known);
        assert_eq!(d.summary(), "2 to reactivate, 2 to add members · skipped: 1 already active");
    }

    fn done(seq: i64, action: Action) -> OpRow {
        OpRow {
            op_id: format!("b-1-{seq:05}"),
            batch_id: "b-1".into(),
            seq,
            phase: action.phase() as i64,
            action,
            state: OpState::Done,
            attempts: 1,
            error_code: None,
            error_message: None,
            http_status: None,
            retries: 0,
            note: None,
            started_ms: None,
        }
    }

    #[test]
    fn updates_go_back_to_the_earliest_value_where_the_latest_still_holds() {
        use crate::queue::attr::Attr;
        let mut ann = user("W1", true, &[]);
        ann.title = Some("A".into());
        let mut bob = user("W2", true, &[]);
        bob.title = Some("X".into());
        // Ann: A -> B -> C in one batch; Bob: X -> Y, then someone made it Z.
        let up = |u: &User, to: &str| Action::UpdateUser {
            target: Target::of_user(u),
            update: crate::queue::edit::update_for(u, [(Attr::Title, Some(to))]),
        };
        let mut ann_b = ann.clone();
        ann_b.title = Some("B".into());
        let ops = vec![done(1, up(&ann, "B")), done(2, up(&ann_b, "C")), done(3, up(&bob, "Y"))];
        let mut ann_now = ann.clone();
        ann_now.title = Some("C".into());
        let mut bob_now = bob.clone();
        bob_now.title = Some("Z".into());
        let p = undo_actions(&Which::Batch("b-1".into()), &ops, vec![], &[ann_now, bob_now], &[], Options::default());
        assert_eq!(p.actions.len(), 1, "{:?}", p.actions);
        match &p.actions[0] {
            Action::UpdateUser { target, update } => {
                assert_eq!(target.id.as_deref(), Some("W1"));
                assert_eq!(update.set.title.as_deref(), Some("A"), "the value before the batch");
                assert_eq!(update.before_of(Attr::Title), Some(Some("C")), "the undo keeps what it changes from too");
            }
            a => panic!("{a:?}"),
        }
        assert_eq!(p.diff.len(), 1);
        assert_eq!((p.diff[0].now.as_str(), p.diff[0].back.as_str()), ("C", "A"));
        assert_eq!(p.conflicts.len(), 1, "{:?}", p.conflicts);
        assert!(p.conflicts[0].contains("\"Y\"") && p.conflicts[0].contains("\"Z\""), "{:?}", p.conflicts);
        assert_eq!(p.what, "restore batch b-1: 1 user, 1 conflict left alone");
        // An update journaled without its before-values (an older journal) is left alone, said.
        let old = Action::UpdateUser {
            target: Target::of_user(&bob),
            update: UpdateSpec { set: User { title: Some("Y".into()), ..Default::default() }, ..Default::default() },
        };
        let p = undo_actions(&Which::Batch("b-1".into()), &[done(1, old)], vec![], &[bob], &[], Options::default());
        assert!(p.actions.is_empty() && p.notes.iter().any(|n| n.contains("without what it changed from")), "{:?}", p.notes);
    }

    #[test]
    fn unknown_groups_and_missing_users_are_said() {
        let mut r = row("W1", &[]);
        r.kept.groups = None;
        let p = actions_for(&Which::User("W1".into()), vec![r, row("W8", &["S1"])], &[user("W1", false, &[])], &[]);
        assert_eq!(p.actions.len(), 1);
        assert_eq!(p.notes.len(), 2, "{:?}", p.notes);
    }
}
