//! The plan: every change that would bring the live Slack directory in line with the source.
//!
//! `compute` is pure (no I/O) and works on hash maps keyed by lowercased values, so 100,000 rows
//! against 100,000 users take well under a second.
//!
//! # The order apply must follow
//! 1. `creates` (ids become known; `MemberRef::Pending` / `GroupTarget::Pending` refer to them by
//!    source key or rule key);
//! 2. `reactivations` (PATCH `active: true`);
//! 3. `updates` (send `patch`; a `Some("")` in it clears the attribute);
//! 4. `group_creates` (with their members, pending ones resolved through step 1);
//! 5. `group_renames`;
//! 6. `member_adds`;
//! 7. `member_removes` (one member per PATCH filter: an unfiltered `remove` empties a group);
//! 8. `deactivations` last, and only after `check_ceiling` passed or the admin confirmed.
//!
//! After apply, persist `PriorState::next(policy, prior, created group ids)` for the next run.
//! `Plan::apply_in_memory` is the reference semantics of these steps (tests use it).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::config::{Attr, Membership, Part, Policy, PolicyError, RemoveAction, RuleRemoval, Template, normalize_user_name};
use super::source::{Source, SourceRow};
use crate::scim::types::{Group, Member, User};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

/// What earlier applies recorded; the apply step persists it (e.g. as JSON next to the journal).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorState {
    /// The scope groups of the last applied policy (as written).
    #[serde(default)]
    pub scope_groups: Vec<String>,
    /// Scope groups whose rule was removed while `deprovision_on_rule_removal = "keep"`: their
    /// users stay active even though they are out of scope.
    #[serde(default)]
    pub retired_scope_groups: Vec<String>,
    /// Group rule key -> Slack group id, so a changed `slack_name` renames instead of creating.
    #[serde(default)]
    pub group_ids: BTreeMap<String, String>,
}

impl PriorState {
    /// The state to persist after applying a plan computed with `policy` and `prior`.
    /// `group_ids` are the rule key -> Slack group id pairs known after apply (found or created).
    pub fn next(policy: &Policy, prior: Option<&PriorState>, group_ids: BTreeMap<String, String>) -> PriorState {
        let current = policy.scope_set();
        let mut retired: Vec<String> = Vec::new();
        if policy.provisioning.deprovision_on_rule_removal == RuleRemoval::Keep
            && let Some(p) = prior
        {
            for g in p.retired_scope_groups.iter().chain(&p.scope_groups) {
                let l = g.to_lowercase();
                if !current.contains(&l) && !retired.iter().any(|r| r.eq_ignore_ascii_case(g)) {
                    retired.push(g.clone());
                }
            }
        }
        retired.sort();
        PriorState { scope_groups: policy.scope_groups.clone(), retired_scope_groups: retired, group_ids }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The row is no longer in a scope group.
    LeftScope,
    /// The row's status is disabled.
    Disabled,
    /// No source row matches the Slack user.
    Deleted,
    /// The scope rule that provisioned the user was removed.
    RuleRemoved,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::LeftScope => "left scope",
            Reason::Disabled => "disabled in source",
            Reason::Deleted => "not in source",
            Reason::RuleRemoved => "scope rule removed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreateUser {
    pub row_line: usize,
    /// The row's source key (how pending members and managers refer to it).
    pub key: String,
    pub label: String,
    #[serde(serialize_with = "ser_user")]
    pub user: User,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AttrChange {
    pub attr: Attr,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UpdateUser {
    pub id: String,
    pub label: String,
    pub row_line: usize,
    pub changes: Vec<AttrChange>,
    /// A partial user holding only the new values; `Some("")` clears an attribute.
    #[serde(serialize_with = "ser_user")]
    pub patch: User,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Deactivate {
    pub id: String,
    pub email: String,
    pub label: String,
    pub reason: Reason,
    pub row_line: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reactivate {
    pub id: String,
    pub email: String,
    pub label: String,
    pub row_line: usize,
}

/// A user in a membership change: an existing Slack user, or one created earlier in the plan.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MemberRef {
    User { id: String, label: String },
    Pending { key: String, label: String },
}

impl MemberRef {
    pub fn label(&self) -> &str {
        match self {
            MemberRef::User { label, .. } | MemberRef::Pending { label, .. } => label,
        }
    }
    pub fn target(&self) -> &str {
        match self {
            MemberRef::User { id, .. } => id,
            MemberRef::Pending { key, .. } => key,
        }
    }
}

/// A group in a membership change: an existing Slack group, or one created earlier in the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GroupTarget {
    Existing { id: String },
    Pending { key: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupCreate {
    pub key: String,
    pub name: String,
    pub members: Vec<MemberRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupRename {
    pub id: String,
    pub key: String,
    pub old: String,
    pub new: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberChange {
    pub group: GroupTarget,
    pub group_name: String,
    pub members: Vec<MemberRef>,
}

/// Every change, in the order apply must follow (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Plan {
    pub creates: Vec<CreateUser>,
    pub reactivations: Vec<Reactivate>,
    pub updates: Vec<UpdateUser>,
    pub group_creates: Vec<GroupCreate>,
    pub group_renames: Vec<GroupRename>,
    pub member_adds: Vec<MemberChange>,
    pub member_removes: Vec<MemberChange>,
    pub deactivations: Vec<Deactivate>,
    /// Users that would be deactivated, listed only (`remove_action = "report"`).
    pub reported_only: Vec<Deactivate>,
    pub warnings: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PlanCounts {
    pub creates: usize,
    pub reactivations: usize,
    pub updates: usize,
    pub attribute_changes: usize,
    pub group_creates: usize,
    pub group_renames: usize,
    pub member_adds: usize,
    pub member_removes: usize,
    pub deactivations: usize,
    pub reported_only: usize,
}

impl PlanCounts {
    /// Number of changes (reports and warnings are not changes).
    pub fn changes(&self) -> usize {
        self.creates
            + self.reactivations
            + self.updates
            + self.group_creates
            + self.group_renames
            + self.member_adds
            + self.member_removes
            + self.deactivations
    }
}

/// The plan would deactivate more users than the policy allows in one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the plan would deactivate {would} users, above the limit of {limit} per run (max_deactivations / max_deactivation_percent); review the plan and confirm, or raise the limit"
)]
pub struct CeilingExceeded {
    pub would: usize,
    pub limit: u64,
}

impl Plan {
    /// Nothing would change (reports and warnings do not count).
    pub fn is_empty(&self) -> bool {
        self.counts().changes() == 0
    }

    pub fn counts(&self) -> PlanCounts {
        PlanCounts {
            creates: self.creates.len(),
            reactivations: self.reactivations.len(),
            updates: self.updates.len(),
            attribute_changes: self.updates.iter().map(|u| u.changes.len()).sum(),
            group_creates: self.group_creates.len(),
            group_renames: self.group_renames.len(),
            member_adds: self.member_adds.iter().map(|m| m.members.len()).sum(),
            member_removes: self.member_removes.iter().map(|m| m.members.len()).sum(),
            deactivations: self.deactivations.len(),
            reported_only: self.reported_only.len(),
        }
    }

    /// Stop when the plan deactivates more users than the policy's ceiling allows.
    pub fn check_ceiling(&self, policy: &Policy, active_slack_users: usize) -> Result<(), CeilingExceeded> {
        let limit = policy.deactivation_limit(active_slack_users);
        let would = self.deactivations.len();
        if would as u64 > limit { Err(CeilingExceeded { would, limit }) } else { Ok(()) }
    }

    /// Apply the plan to an in-memory directory, in the documented order: the reference
    /// semantics for the queue-backed apply, used by tests. New users and groups get ids
    /// `UNEW<n>` / `SNEW<n>`. Returns rule key -> group id for `PriorState::next`.
    pub fn apply_in_memory(&self, users: &mut Vec<User>, groups: &mut Vec<Group>) -> BTreeMap<String, String> {
        let mut created: HashMap<&str, String> = HashMap::new();
        for (n, c) in self.creates.iter().enumerate() {
            let mut u = c.user.clone();
            let id = format!("UNEW{n}");
            u.id = Some(id.clone());
            users.push(u);
            created.insert(&c.key, id);
        }
        let pos: HashMap<String, usize> = users.iter().enumerate().map(|(i, u)| (u.id().to_string(), i)).collect();
        for r in &self.reactivations {
            users[pos[&r.id]].active = Some(true);
        }
        for up in &self.updates {
            let u = &mut users[pos[&up.id]];
            for ch in &up.changes {
                ch.attr.set(u, ch.new.as_deref());
            }
        }
        let resolve = |m: &MemberRef| match m {
            MemberRef::User { id, .. } => id.clone(),
            MemberRef::Pending { key, .. } => created[key.as_str()].clone(),
        };
        let mut group_ids = BTreeMap::new();
        for (n, gc) in self.group_creates.iter().enumerate() {
            let id = format!("SNEW{n}");
            groups.push(Group {
                id: Some(id.clone()),
                display_name: Some(gc.name.clone()),
                members: Some(gc.members.iter().map(|m| Member::id(resolve(m))).collect()),
                ..Default::default()
            });
            group_ids.insert(gc.key.clone(), id);
        }
        let gpos = |groups: &Vec<Group>, t: &GroupTarget| -> usize {
            let id = match t {
                GroupTarget::Existing { id } => id,
                GroupTarget::Pending { key } => &group_ids[key],
            };
            groups.iter().position(|g| g.id() == id).expect("group exists")
        };
        for r in &self.group_renames {
            let i = gpos(groups, &GroupTarget::Existing { id: r.id.clone() });
            groups[i].display_name = Some(r.new.clone());
        }
        for ma in &self.member_adds {
            let i = gpos(groups, &ma.group);
            let members = groups[i].members.get_or_insert_with(Vec::new);
            members.extend(ma.members.iter().map(|m| Member::id(resolve(m))));
        }
        for mr in &self.member_removes {
            let i = gpos(groups, &mr.group);
            let gone: HashSet<String> = mr.members.iter().map(resolve).collect();
            if let Some(members) = groups[i].members.as_mut() {
                members.retain(|m| !m.value.as_ref().is_some_and(|v| gone.contains(v)));
            }
        }
        let pos: HashMap<String, usize> = users.iter().enumerate().map(|(i, u)| (u.id().to_string(), i)).collect();
        for d in &self.deactivations {
            users[pos[&d.id]].active = Some(false);
        }
        group_ids
    }
}

fn ser_user<S: serde::Serializer>(u: &User, s: S) -> Result<S::Ok, S::Error> {
    u.to_value(crate::scim::types::ApiVersion::V2).serialize(s)
}

/// Why a Slack user must never be deactivated by a plan, if so: Slack bot users (emails ending in
/// `@slack-bots.com`; Slack refuses with `cannot_disable_bot_user_with_scim`), the primary owner
/// (a `roles` entry `primary_owner`, as a string or an object's value, any case, spaces or `_`),
/// and the policy's `protected_users` (emails or userNames).
pub fn never_deactivate(u: &User, protected: &[String]) -> Option<&'static str> {
    // The same classifier the gate uses (`queue::gate::account_of`).
    match crate::queue::gate::account_of(u) {
        crate::queue::gate::Account::Bot => return Some("bot user"),
        crate::queue::gate::Account::PrimaryOwner => return Some("primary owner"),
        crate::queue::gate::Account::Member => {}
    }
    if !protected.is_empty() {
        let email = u.primary_email().map(|e| e.trim().to_lowercase());
        let name = u.user_name.as_deref().map(|n| n.trim().to_lowercase());
        if protected.iter().any(|p| Some(p) == email.as_ref() || Some(p) == name.as_ref()) {
            return Some("protected_users");
        }
    }
    None
}

/// A template bound to column indices of one source.
enum BPart<'a> {
    Lit(&'a str),
    Col(usize, &'a [super::config::Filter]),
}

fn bind<'a>(t: &'a Template, src: &Source) -> Vec<BPart<'a>> {
    t.parts
        .iter()
        .map(|p| match p {
            Part::Lit(s) => BPart::Lit(s),
            Part::Col { name, filters } => BPart::Col(src.column(name).expect("checked by check_source"), filters),
        })
        .collect()
}

fn render(parts: &[BPart], row: &SourceRow) -> Option<String> {
    let mut out = String::new();
    for p in parts {
        match p {
            BPart::Lit(s) => out.push_str(s),
            BPart::Col(i, []) => out.push_str(row.get(*i).trim()),
            BPart::Col(i, filters) => {
                let mut v = row.get(*i).trim().to_string();
                for f in *filters {
                    let mut next = String::new();
                    f.apply(&v, &mut next);
                    v = next;
                }
                out.push_str(&v);
            }
        }
    }
    let t = out.trim();
    if t.is_empty() {
        None
    } else if t.len() == out.len() {
        Some(out)
    } else {
        Some(t.to_string())
    }
}

/// The comparable form of a value.
fn norm(attr: Attr, v: &str) -> String {
    match attr {
        Attr::UserName => normalize_user_name(v),
        a if a.case_insensitive() => v.trim().to_lowercase(),
        _ => v.trim().to_string(),
    }
}

/// `norm(a) == norm(b)` without allocating in the common cases.
fn same_value(attr: Attr, a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    match attr {
        Attr::UserName => a == b || normalize_user_name(a) == normalize_user_name(b),
        x if x.case_insensitive() => {
            if a.is_ascii() && b.is_ascii() {
                a.eq_ignore_ascii_case(b)
            } else {
                a.to_lowercase() == b.to_lowercase()
            }
        }
        _ => a == b,
    }
}

fn label_of(u: &User) -> String {
    let l = u.label();
    if l.is_empty() { u.primary_email().unwrap_or(u.id()).to_string() } else { l }
}

/// Per-row facts gathered in the first pass.
struct RowState {
    row: usize,
    key: String,
    groups: Vec<String>,
    /// In scope and enabled (or `provision_disabled_users`): should have an active Slack account.
    provisioned: bool,
    enabled: bool,
    in_scope: bool,
    desired: Vec<Option<String>>,
    slack: Option<usize>,
    pending: bool,
}

/// Compare the source with the live directory. Pure: no network, no files.
pub fn compute(
    policy: &Policy,
    source: &Source,
    slack_users: &[User],
    slack_groups: &[Group],
    prior: Option<&PriorState>,
) -> Result<Plan, PlanError> {
    policy.check_source(source)?;
    let prov = &policy.provisioning;
    let mut plan = Plan::default();
    let col = |c: &str| source.column(c).expect("checked by check_source");
    let id_idx = col(&policy.source.id_column);
    let status_idx = policy.source.status_column.as_deref().map(col);
    let groups_idx = policy.source.groups_column.as_deref().map(col);
    let sep = policy.source.groups_separator.as_str();
    let enabled_values: HashSet<&str> = policy.source.enabled_values.iter().map(String::as_str).collect();
    let scope = policy.scope_set();
    let mappings: Vec<(Attr, Vec<BPart>)> = policy.attributes.iter().map(|m| (m.attr, bind(&m.template, source))).collect();
    let match_attr = match policy.match_on {
        super::config::MatchOn::Email => Attr::Email,
        super::config::MatchOn::UserName => Attr::UserName,
    };
    let match_pos = mappings.iter().position(|(a, _)| *a == match_attr).expect("validated: match attribute is mapped");
    let removed_rules: HashSet<String> = prior
        .map(|p| p.scope_groups.iter().chain(&p.retired_scope_groups).map(|g| g.to_lowercase()).filter(|g| !scope.contains(g)).collect())
        .unwrap_or_default();

    // Slack side: match key -> user index, preferring active users over deactivated ones.
    let mut by_key: HashMap<String, usize> = HashMap::with_capacity(slack_users.len());
    for (i, u) in slack_users.iter().enumerate() {
        let Some(k) = match_attr.get(u).map(|v| norm(match_attr, v)) else { continue };
        match by_key.get(&k) {
            Some(&j) if slack_users[j].is_active() || !u.is_active() => {}
            _ => {
                by_key.insert(k, i);
            }
        }
    }

    // First pass: per-row facts and matching.
    let mut rows: Vec<RowState> = Vec::with_capacity(source.rows.len());
    let mut by_source_key: HashMap<String, usize> = HashMap::with_capacity(source.rows.len());
    let mut matched: Vec<bool> = vec![false; slack_users.len()];
    for (ri, row) in source.rows.iter().enumerate() {
        let key = row.get(id_idx).trim();
        if key.is_empty() {
            plan.warnings.push(format!("{}:{}: empty `{}`; row skipped", source.name, row.line, policy.source.id_column));
            continue;
        }
        let lkey = key.to_lowercase();
        if let Some(&prev) = by_source_key.get(&lkey) {
            plan.warnings.push(format!(
                "{}:{}: duplicate key {key:?} (first on line {}); row skipped",
                source.name, row.line, source.rows[rows[prev].row].line
            ));
            continue;
        }
        let enabled = status_idx.is_none_or(|i| enabled_values.contains(row.get(i).trim().to_lowercase().as_str()));
        let mut groups: Vec<String> = Vec::new();
        if let Some(gi) = groups_idx {
            groups.extend(row.get(gi).split(sep).map(|g| g.trim().to_lowercase()).filter(|g| !g.is_empty()));
        }
        if let Some(extra) = source.memberships.get(&lkey) {
            groups.extend(extra.iter().map(|g| g.trim().to_lowercase()));
        }
        let in_scope = scope.is_empty() || groups.iter().any(|g| scope.contains(g));
        let desired: Vec<Option<String>> = mappings.iter().map(|(_, parts)| render(parts, row)).collect();
        let mut slack = None;
        if let Some(mk) = desired[match_pos].as_deref().map(|v| norm(match_attr, v))
            && let Some(&si) = by_key.get(&mk)
        {
            if matched[si] {
                plan.warnings.push(format!(
                    "{}:{}: {} {mk:?} matches a Slack user already matched by another row; row skipped",
                    source.name,
                    row.line,
                    match_attr.name()
                ));
                continue;
            }
            matched[si] = true;
            slack = Some(si);
        }
        let provisioned = in_scope && (enabled || prov.provision_disabled_users);
        by_source_key.insert(lkey, rows.len());
        rows.push(RowState { row: ri, key: key.to_string(), groups, provisioned, enabled, in_scope, desired, slack, pending: false });
    }

    // Creates first, so managers and members can refer to pending users.
    for rs in rows.iter_mut().filter(|r| r.slack.is_none() && r.provisioned) {
        if !prov.allow_create {
            continue;
        }
        let line = source.rows[rs.row].line;
        let missing: Vec<&str> = [Attr::UserName, Attr::Email]
            .into_iter()
            .filter(|a| mappings.iter().position(|(m, _)| m == a).is_none_or(|p| rs.desired[p].is_none()))
            .map(Attr::name)
            .collect();
        if !missing.is_empty() {
            plan.warnings.push(format!("{}:{line}: cannot create {:?}: no {}", source.name, rs.key, missing.join(", ")));
            continue;
        }
        rs.pending = true;
    }

    // The Slack id a manager key resolves to: Ok(Some(id)), Ok(None) = pending, Err = unknown.
    let resolve_manager = |mkey: &str| -> Result<Option<&str>, ()> {
        let rs = by_source_key.get(&mkey.trim().to_lowercase()).map(|&i| &rows[i]).ok_or(())?;
        match rs.slack {
            Some(si) => Ok(Some(slack_users[si].id())),
            None if rs.pending => Ok(None),
            None => Err(()),
        }
    };

    let mut creates = Vec::new();
    let mut updates = Vec::new();
    let mut removals: Vec<Deactivate> = Vec::new();
    let mut kept_by_rule = 0usize;
    let mut left_alone = 0usize;
    for rs in &rows {
        let line = source.rows[rs.row].line;
        if rs.pending {
            let mut user = User { active: Some(true), ..Default::default() };
            for (i, (attr, _)) in mappings.iter().enumerate() {
                let Some(v) = rs.desired[i].as_deref() else { continue };
                match attr {
                    Attr::Manager => match resolve_manager(v) {
                        Ok(Some(id)) => attr.set(&mut user, Some(id)),
                        Ok(None) => plan.warnings.push(format!(
                            "{}:{line}: manager {v:?} of {:?} is created in this run; it is set on the next run",
                            source.name, rs.key
                        )),
                        Err(()) => plan
                            .warnings
                            .push(format!("{}:{line}: manager {v:?} of {:?} is not in Slack or the source", source.name, rs.key)),
                    },
                    Attr::UserName => attr.set(&mut user, Some(&normalize_user_name(v))),
                    _ => attr.set(&mut user, Some(v)),
                }
            }
            let label = label_of(&user);
            creates.push(CreateUser { row_line: line, key: rs.key.clone(), label, user });
            continue;
        }
        let Some(si) = rs.slack else { continue };
        let u = &slack_users[si];
        if rs.provisioned {
            if !u.is_active() {
                if !prov.allow_create {
                    continue;
                }
                plan.reactivations.push(Reactivate {
                    id: u.id().into(),
                    email: u.primary_email().unwrap_or("").into(),
                    label: label_of(u),
                    row_line: line,
                });
            }
            if !prov.allow_update {
                continue;
            }
            let mut changes = Vec::new();
            let mut patch = User::default();
            for (i, (attr, _)) in mappings.iter().enumerate() {
                let attr = *attr;
                let want = rs.desired[i].as_deref();
                let have = attr.get(u);
                if want.is_none() && matches!(attr, Attr::UserName | Attr::Email) {
                    continue; // Slack requires both; an empty source value never clears them
                }
                let want: Option<String> = match (attr, want) {
                    (Attr::Manager, Some(mkey)) => match resolve_manager(mkey) {
                        Ok(Some(id)) => {
                            // Slack accepts a manager as id, email or userName: any of them matches.
                            let m = by_source_key.get(&mkey.trim().to_lowercase()).and_then(|&r| rows[r].slack).map(|s| &slack_users[s]);
                            if let (Some(h), Some(m)) = (have, m) {
                                let h = h.to_lowercase();
                                if m.primary_email().is_some_and(|e| e.to_lowercase() == h)
                                    || m.user_name.as_deref().is_some_and(|n| n.to_lowercase() == h)
                                {
                                    continue;
                                }
                            }
                            Some(id.to_string())
                        }
                        Ok(None) => continue, // manager is created in this run; set next run
                        Err(()) => {
                            plan.warnings.push(format!(
                                "{}:{line}: manager {mkey:?} of {:?} is not in Slack or the source; left unchanged",
                                source.name, rs.key
                            ));
                            continue;
                        }
                    },
                    (Attr::UserName, Some(v)) => Some(normalize_user_name(v)),
                    (_, w) => w.map(str::to_string),
                };
                let same = match (have, want.as_deref()) {
                    (None, None) => true,
                    (Some(h), Some(w)) => same_value(attr, h, w),
                    _ => false,
                };
                if !same {
                    attr.set(&mut patch, want.as_deref());
                    changes.push(AttrChange { attr, old: have.map(str::to_string), new: want });
                }
            }
            if !changes.is_empty() {
                updates.push(UpdateUser { id: u.id().into(), label: label_of(u), row_line: line, changes, patch });
            }
            continue;
        }
        // Matched but should not have access.
        if !u.is_active() {
            continue;
        }
        let reason = if !rs.enabled && !prov.provision_disabled_users {
            Reason::Disabled
        } else if rs.groups.iter().any(|g| removed_rules.contains(g)) {
            if prov.deprovision_on_rule_removal == RuleRemoval::Keep {
                kept_by_rule += 1;
                continue;
            }
            Reason::RuleRemoved
        } else {
            debug_assert!(!rs.in_scope);
            Reason::LeftScope
        };
        if let Some(why) = never_deactivate(u, &prov.protected_users) {
            plan.warnings.push(format!(
                "{}:{line}: {} would be deactivated ({}) but is never deactivated ({why})",
                source.name,
                label_of(u),
                reason.as_str()
            ));
            continue;
        }
        removals.push(Deactivate {
            id: u.id().into(),
            email: u.primary_email().unwrap_or("").into(),
            label: label_of(u),
            reason,
            row_line: Some(line),
        });
    }
    // Slack users no source row matches.
    for (i, u) in slack_users.iter().enumerate() {
        if matched[i] || !u.is_active() || never_deactivate(u, &prov.protected_users).is_some() {
            continue;
        }
        removals.push(Deactivate {
            id: u.id().into(),
            email: u.primary_email().unwrap_or("").into(),
            label: label_of(u),
            reason: Reason::Deleted,
            row_line: None,
        });
    }
    if kept_by_rule > 0 {
        plan.warnings.push(format!("{kept_by_rule} users of removed scope rules are kept (deprovision_on_rule_removal = \"keep\")"));
    }
    if !prov.allow_deprovision {
        left_alone = removals.len();
        removals.clear();
    }
    if left_alone > 0 {
        plan.warnings
            .push(format!("{left_alone} users are no longer in the source or scope but are left alone (allow_deprovision = false)"));
    }
    removals.sort_by(|a, b| (a.reason, &a.email, &a.id).cmp(&(b.reason, &b.email, &b.id)));
    match prov.remove_action {
        RemoveAction::Deactivate => plan.deactivations = removals,
        RemoveAction::Report => plan.reported_only = removals,
    }
    creates.sort_by_key(|c| c.row_line);
    updates.sort_by(|a, b| a.id.cmp(&b.id));
    plan.creates = creates;
    plan.updates = updates;
    plan.reactivations.sort_by(|a, b| a.id.cmp(&b.id));

    // Groups.
    let groups_by_id: HashMap<&str, &Group> = slack_groups.iter().map(|g| (g.id(), g)).collect();
    let groups_by_name: HashMap<String, &Group> = slack_groups.iter().map(|g| (g.name().trim().to_lowercase(), g)).collect();
    let mut members_of: HashMap<String, Vec<MemberRef>> = HashMap::new();
    let wanted: HashSet<String> = policy.groups.iter().map(|r| r.source.to_lowercase()).collect();
    for rs in rows.iter().filter(|r| r.provisioned && (r.slack.is_some() || r.pending)) {
        for g in rs.groups.iter().filter(|g| wanted.contains(*g)) {
            let m = match rs.slack {
                Some(si) => MemberRef::User { id: slack_users[si].id().into(), label: label_of(&slack_users[si]) },
                None => {
                    let c = rs.key.clone();
                    MemberRef::Pending { label: c.clone(), key: c }
                }
            };
            members_of.entry(g.clone()).or_default().push(m);
        }
    }
    let users_by_id: HashMap<&str, &User> = if policy.groups.iter().any(|r| r.membership == Membership::Overwrite) {
        slack_users.iter().map(|u| (u.id(), u)).collect()
    } else {
        HashMap::new()
    };
    let mut rules: Vec<&super::config::GroupRule> = policy.groups.iter().collect();
    rules.sort_by_key(|r| r.slack_name.to_lowercase());
    for rule in rules {
        let mut desired = members_of.get(&rule.source.to_lowercase()).cloned().unwrap_or_default();
        desired.sort();
        desired.dedup();
        let by_prior = prior.and_then(|p| p.group_ids.get(&rule.key)).and_then(|id| groups_by_id.get(id.as_str()).copied());
        let existing = by_prior.or_else(|| groups_by_name.get(&rule.slack_name.to_lowercase()).copied());
        let Some(g) = existing else {
            plan.group_creates.push(GroupCreate { key: rule.key.clone(), name: rule.slack_name.clone(), members: desired });
            continue;
        };
        if g.name().trim() != rule.slack_name {
            plan.group_renames.push(GroupRename {
                id: g.id().into(),
                key: rule.key.clone(),
                old: g.name().into(),
                new: rule.slack_name.clone(),
            });
        }
        let current: HashSet<&str> = g.member_ids().collect();
        let adds: Vec<MemberRef> = desired
            .iter()
            .filter(|m| match m {
                MemberRef::User { id, .. } => !current.contains(id.as_str()),
                MemberRef::Pending { .. } => true,
            })
            .cloned()
            .collect();
        let target = GroupTarget::Existing { id: g.id().into() };
        if !adds.is_empty() {
            plan.member_adds.push(MemberChange { group: target.clone(), group_name: rule.slack_name.clone(), members: adds });
        }
        if rule.membership == Membership::Overwrite {
            let keep: HashSet<&str> = desired
                .iter()
                .filter_map(|m| match m {
                    MemberRef::User { id, .. } => Some(id.as_str()),
                    MemberRef::Pending { .. } => None,
                })
                .collect();
            let mut removes: Vec<MemberRef> = g
                .members
                .iter()
                .flatten()
                .filter_map(|m| {
                    let id = m.value.as_deref()?;
                    (!keep.contains(id)).then(|| MemberRef::User {
                        id: id.into(),
                        label: users_by_id.get(id).map(|u| label_of(u)).or_else(|| m.display.clone()).unwrap_or_else(|| id.into()),
                    })
                })
                .collect();
            removes.sort();
            removes.dedup();
            if !removes.is_empty() {
                plan.member_removes.push(MemberChange { group: target, group_name: rule.slack_name.clone(), members: removes });
            }
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::types::MultiValue;

    #[test]
    fn never_deactivate_bots_owner_and_protected() {
        let mut u = User { emails: Some(vec![MultiValue::email("botuser-T1-A2@Slack-Bots.com", true)]), ..Default::default() };
        assert_eq!(never_deactivate(&u, &[]), Some("bot user"));
        u.emails = Some(vec![MultiValue::email("boss@x.com", true)]);
        assert_eq!(never_deactivate(&u, &[]), None);
        u.roles = Some(vec![crate::scim::types::Role::Text("Primary Owner".into())]);
        assert_eq!(never_deactivate(&u, &[]), Some("primary owner"));
        u.roles = Some(vec![crate::scim::types::Role::Text("admin".into())]);
        assert_eq!(never_deactivate(&u, &["boss@x.com".into()]), Some("protected_users"));
    }

    #[test]
    fn templates_render_with_filters_and_values_compare_normalised() {
        let src = Source::new("t", vec!["email".into(), "first".into()], vec![SourceRow::new(2, &["Ann.Lee@X.com ", " Ann"])]);
        let t = Template::parse("{first|upper}-{email|local|lower} {{x}}").unwrap();
        assert_eq!(render(&bind(&t, &src), &src.rows[0]).as_deref(), Some("ANN-ann.lee {x}"));
        assert_eq!(render(&bind(&Template::parse("first").unwrap(), &src), &SourceRow::new(3, &["", "  "])), None);
        assert!(same_value(Attr::Email, "A@x.COM", " a@X.com"));
        assert!(same_value(Attr::UserName, "Ann Lee", "ann_lee"));
        assert!(!same_value(Attr::Title, "Dev", "dev"));
    }

    #[test]
    fn ceiling_and_counts() {
        let p = Policy::parse("[source]\npath = \"s.csv\"\nid_column = \"e\"\n[attributes]\nemail = \"e\"\n[provisioning]\nallow_create = false\nmax_deactivations = 1\n", std::path::Path::new("p.toml")).unwrap();
        let d = Deactivate { id: "U1".into(), email: "a@x".into(), label: "a".into(), reason: Reason::Deleted, row_line: None };
        let mut plan = Plan { deactivations: vec![d.clone()], ..Default::default() };
        assert!(plan.check_ceiling(&p, 1000).is_ok());
        plan.deactivations.push(d);
        assert_eq!(plan.check_ceiling(&p, 1000), Err(CeilingExceeded { would: 2, limit: 1 }));
        assert_eq!(plan.counts().changes(), 2);
        assert!(Plan { reported_only: plan.deactivations.clone(), warnings: vec!["w".into()], ..Default::default() }.is_empty());
    }
}
