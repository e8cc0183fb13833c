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

use super::action::{Action, Target, UpdateSpec};
use super::gate::Knowledge;
use super::journal::{Journal, JournalError, KeptRow};
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
            actions.push(Action::UpdateUser { target: target.clone(), update: UpdateSpec { set, clear: vec![] } });
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
    RestorePlan { actions, known: Knowledge::from_users(users), names, notes, what, kept }
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

    #[test]
    fn unknown_groups_and_missing_users_are_said() {
        let mut r = row("W1", &[]);
        r.kept.groups = None;
        let p = actions_for(&Which::User("W1".into()), vec![r, row("W8", &["S1"])], &[user("W1", false, &[])], &[]);
        assert_eq!(p.actions.len(), 1);
        assert_eq!(p.notes.len(), 2, "{:?}", p.notes);
    }
}
