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
//! 8. `deactivations` last, and only after `check_ceiling` passed or the admin confirmed;
//!    and, once the users of step 1 exist, `manager_links`: managers (of new or existing users)
//!    who are themselves created by this plan, set in a later pass of the same run, so one apply
//!    converges (a chain A → B → C of new hires in any source order included).
//!
//! # Slack's rules, before any write
//! `compute` checks the source against Slack's rules (`scim::rules` and the reference sections
//! named beside each [`Rule`]); a row that breaks one is named in `violations` with its line and
//! the rule and left out of the plan (its Slack user, if any, is neither changed nor
//! deprovisioned), while the rest of the run goes ahead. The emulator enforces the same rules.
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

/// A rule of Slack's that a source row breaks (checked before any write; see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// userName over 21 characters once Slack normalises it (reference §3 `userName`; §7
    /// `username_too_long` / `long_username`).
    UserNameTooLong,
    /// userName with characters Slack refuses, or empty (reference §3: emoji →
    /// `invalid_emoji_not_allowed`, "Cannot be empty").
    UserNameCharacters,
    /// Two rows want one userName, or a Slack user already has it (reference §3: "Must be
    /// unique"; §7 `username_taken`).
    DuplicateUserName,
    /// Two rows want one email, or another Slack user (active, or claimed by another row) holds
    /// it (reference §2 and §8.6: an email belongs to one account; §7 `email_taken`).
    DuplicateEmail,
    /// A group would have more members than Slack allows (reference §7
    /// `group_member_max_exceeded`, §8.11; `scim::rules::GROUP_MEMBER_CAP`).
    GroupMemberCap,
    /// The row's manager is neither a Slack user nor a row this plan provisions (reference §3:
    /// `manager.managerId` is a Slack id, email or userName).
    ManagerUnresolved,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::UserNameTooLong => "username_too_long",
            Rule::UserNameCharacters => "username_characters",
            Rule::DuplicateUserName => "duplicate_username",
            Rule::DuplicateEmail => "duplicate_email",
            Rule::GroupMemberCap => "group_member_cap",
            Rule::ManagerUnresolved => "manager_unresolved",
        }
    }

    /// What the rule is and where the reference says so.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::UserNameTooLong => "Slack's userName is at most 21 characters (reference §3)",
            Rule::UserNameCharacters => "Slack refuses emoji, control characters and empty userNames (reference §3)",
            Rule::DuplicateUserName => "a userName belongs to one Slack user (reference §3)",
            Rule::DuplicateEmail => "an email belongs to one Slack user, deactivated ones included (reference §2, §8.6)",
            Rule::GroupMemberCap => "a Slack group has at most 15,000 members (reference §7 group_member_max_exceeded, §8.11)",
            Rule::ManagerUnresolved => "a manager must be a Slack user or a row this plan creates (reference §3 manager)",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A source row that breaks one of Slack's rules and what it costs: the row is left out of the
/// plan (or, for [`Rule::GroupMemberCap`], out of that group).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub row_line: usize,
    /// The row's source key.
    pub key: String,
    pub rule: Rule,
    pub message: String,
}

/// A manager to set once the users this plan creates exist: on a user the plan creates or on an
/// existing one, the manager being a user the plan creates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ManagerLink {
    pub user: MemberRef,
    pub row_line: usize,
    /// The manager's source key (a row created by this plan).
    pub manager_key: String,
    pub manager_label: String,
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
    /// Managers that are users this plan creates, set once those exist (the same run).
    pub manager_links: Vec<ManagerLink>,
    /// Rows left out because they break one of Slack's rules.
    pub violations: Vec<Violation>,
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
    pub manager_links: usize,
    pub violations: usize,
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
            + self.manager_links
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
            manager_links: self.manager_links.len(),
            violations: self.violations.len(),
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
        for l in &self.manager_links {
            let id = resolve(&l.user);
            let boss = created[l.manager_key.as_str()].clone();
            Attr::Manager.set(&mut users[pos[&id]], Some(&boss));
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
    /// The row breaks one of Slack's rules: no change for it (see `Plan::violations`).
    left_out: bool,
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
    let pos_of = |a: Attr| mappings.iter().position(|(m, _)| *m == a);
    let (name_pos, email_pos, manager_pos) = (pos_of(Attr::UserName), pos_of(Attr::Email), pos_of(Attr::Manager));
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

    let violation = |plan: &mut Plan, line: usize, key: &str, rule: Rule, message: String| {
        plan.violations.push(Violation { row_line: line, key: key.to_string(), rule, message: format!("{message}; {}", rule.describe()) });
    };

    // First pass: per-row facts and matching.
    let mut rows: Vec<RowState> = Vec::with_capacity(source.rows.len());
    let mut by_source_key: HashMap<String, usize> = HashMap::with_capacity(source.rows.len());
    let mut matched: Vec<Option<usize>> = vec![None; slack_users.len()];
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
            if let Some(other) = matched[si] {
                let rule = if match_attr == Attr::Email { Rule::DuplicateEmail } else { Rule::DuplicateUserName };
                violation(
                    &mut plan,
                    row.line,
                    key,
                    rule,
                    format!(
                        "{}:{}: {} {mk:?} is also line {}'s (both match Slack user {}); row left out",
                        source.name,
                        row.line,
                        match_attr.name(),
                        source.rows[rows[other].row].line,
                        slack_users[si].id()
                    ),
                );
                continue;
            }
            matched[si] = Some(rows.len());
            slack = Some(si);
        }
        let provisioned = in_scope && (enabled || prov.provision_disabled_users);
        by_source_key.insert(lkey, rows.len());
        rows.push(RowState {
            row: ri,
            key: key.to_string(),
            groups,
            provisioned,
            enabled,
            in_scope,
            desired,
            slack,
            pending: false,
            left_out: false,
        });
    }
    let line_of = |rs: &RowState| source.rows[rs.row].line;

    // Every email and userName Slack holds (deactivated users keep theirs: reference §2, §8.6).
    let mut email_holder: HashMap<String, usize> = HashMap::with_capacity(slack_users.len());
    let mut name_holder: HashMap<String, usize> = HashMap::with_capacity(slack_users.len());
    for (i, u) in slack_users.iter().enumerate() {
        for e in u.emails.iter().flatten().filter_map(|e| e.value.as_deref()) {
            email_holder.entry(e.trim().to_lowercase()).or_insert(i);
        }
        if let Some(n) = &u.user_name {
            name_holder.entry(n.trim().to_lowercase()).or_insert(i);
        }
    }

    // A row to create whose email a Slack user holds: Slack refuses the create (`email_taken`).
    // A deactivated holder nobody else claims is this person: the plan reactivates them instead
    // (reference §2 "Deactivated users still own their email", §8.7 "reactivate instead of
    // recreate"); any other holder makes the row a violation.
    for ri in 0..rows.len() {
        let rs = &rows[ri];
        if rs.slack.is_some() || !rs.provisioned {
            continue;
        }
        let Some(email) = email_pos.and_then(|p| rs.desired[p].as_deref()).map(|e| e.trim().to_lowercase()) else { continue };
        let Some(&h) = email_holder.get(&email) else { continue };
        let holder = &slack_users[h];
        let (line, key) = (line_of(rs), rs.key.clone());
        if let Some(other) = matched[h] {
            violation(
                &mut plan,
                line,
                &key,
                Rule::DuplicateEmail,
                format!(
                    "{}:{line}: email {email:?} belongs to Slack user {} ({}), whom line {} matches; row left out",
                    source.name,
                    holder.id(),
                    label_of(holder),
                    line_of(&rows[other])
                ),
            );
            rows[ri].left_out = true;
        } else if !holder.is_active() {
            plan.warnings.push(format!(
                "{}:{line}: email {email:?} belongs to deactivated Slack user {} ({}): Slack refuses a new account with it (reference §2), so the plan reactivates that user instead",
                source.name,
                holder.id(),
                label_of(holder)
            ));
            matched[h] = Some(ri);
            rows[ri].slack = Some(h);
        } else {
            violation(
                &mut plan,
                line,
                &key,
                Rule::DuplicateEmail,
                format!(
                    "{}:{line}: email {email:?} belongs to active Slack user {} ({}), whom no row matches; row left out",
                    source.name,
                    holder.id(),
                    label_of(holder)
                ),
            );
            rows[ri].left_out = true;
        }
    }

    // userName rules (reference §3): for a userName the plan would write (a create, or a change).
    let mut want_name: HashMap<String, usize> = HashMap::new();
    let mut want_email: HashMap<String, usize> = HashMap::new();
    for ri in 0..rows.len() {
        let rs = &rows[ri];
        if !rs.provisioned || rs.left_out {
            continue;
        }
        let (line, key) = (line_of(rs), rs.key.clone());
        let current = rs.slack.map(|si| &slack_users[si]);
        if let Some(raw) = name_pos.and_then(|p| rs.desired[p].as_deref()) {
            let writes = current.is_none_or(|u| u.user_name.as_deref().is_none_or(|h| !same_value(Attr::UserName, h, raw)));
            let checked = if writes { crate::scim::rules::slack_user_name(raw) } else { Ok(normalize_user_name(raw)) };
            match checked {
                Err(p) => {
                    let rule = if matches!(p, crate::scim::rules::UserNameProblem::TooLong(_)) {
                        Rule::UserNameTooLong
                    } else {
                        Rule::UserNameCharacters
                    };
                    violation(
                        &mut plan,
                        line,
                        &key,
                        rule,
                        format!("{}:{line}: userName {}: {p}; row left out", source.name, crate::scim::sanitize::quoted_excerpt(raw, 40)),
                    );
                    rows[ri].left_out = true;
                    continue;
                }
                Ok(name) => {
                    if let Some(&first) = want_name.get(&name) {
                        violation(
                            &mut plan,
                            line,
                            &key,
                            Rule::DuplicateUserName,
                            format!(
                                "{}:{line}: userName {name:?} is also wanted by line {}; row left out",
                                source.name,
                                line_of(&rows[first])
                            ),
                        );
                        rows[ri].left_out = true;
                        continue;
                    }
                    if writes
                        && let Some(&h) = name_holder.get(&name)
                        && Some(h) != rs.slack
                    {
                        violation(
                            &mut plan,
                            line,
                            &key,
                            Rule::DuplicateUserName,
                            format!(
                                "{}:{line}: userName {name:?} belongs to Slack user {} ({}); row left out",
                                source.name,
                                slack_users[h].id(),
                                label_of(&slack_users[h])
                            ),
                        );
                        rows[ri].left_out = true;
                        continue;
                    }
                    want_name.insert(name, ri);
                }
            }
        }
        if let Some(email) = email_pos.and_then(|p| rs.desired[p].as_deref()).map(|e| e.trim().to_lowercase()) {
            if let Some(&first) = want_email.get(&email) {
                violation(
                    &mut plan,
                    line,
                    &key,
                    Rule::DuplicateEmail,
                    format!("{}:{line}: email {email:?} is also wanted by line {}; row left out", source.name, line_of(&rows[first])),
                );
                rows[ri].left_out = true;
                continue;
            }
            want_email.insert(email, ri);
        }
    }

    // Creates first, so managers and members can refer to pending users.
    for rs in rows.iter_mut().filter(|r| r.slack.is_none() && r.provisioned && !r.left_out) {
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

    // Managers (reference §3): each must be a Slack user or a row created here. A row left out
    // that was to be created is nobody, so its reports are left out too (a worklist, so a chain
    // costs one look per row).
    if let Some(mp) = manager_pos {
        let mut reports_of: HashMap<String, Vec<usize>> = HashMap::new();
        for (ri, rs) in rows.iter().enumerate() {
            if let Some(m) = rs.desired[mp].as_deref() {
                reports_of.entry(m.trim().to_lowercase()).or_default().push(ri);
            }
        }
        let resolves = |rows: &[RowState], m: &str| {
            by_source_key.get(&m.trim().to_lowercase()).map(|&i| &rows[i]).is_some_and(|r| r.slack.is_some() || r.pending)
        };
        let mut work: Vec<usize> = (0..rows.len()).collect();
        while let Some(ri) = work.pop() {
            let rs = &rows[ri];
            if rs.left_out || !rs.provisioned || (rs.slack.is_none() && !rs.pending) {
                continue;
            }
            let Some(m) = rs.desired[mp].as_deref() else { continue };
            if resolves(&rows, m) {
                continue;
            }
            let (line, key) = (line_of(rs), rs.key.clone());
            let why = match by_source_key.get(&m.trim().to_lowercase()) {
                Some(&i) => format!("line {} is not provisioned by this plan", line_of(&rows[i])),
                None => "no row has that key".into(),
            };
            violation(
                &mut plan,
                line,
                &key,
                Rule::ManagerUnresolved,
                format!("{}:{line}: manager {m:?} resolves to nobody ({why}); row left out", source.name),
            );
            let was_pending = rows[ri].pending;
            rows[ri].left_out = true;
            rows[ri].pending = false;
            if was_pending && let Some(r) = reports_of.get(&key.to_lowercase()) {
                work.extend(r.iter().copied());
            }
        }
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
    let pending_label =
        |mkey: &str| by_source_key.get(&mkey.trim().to_lowercase()).map(|&i| rows[i].key.clone()).unwrap_or_else(|| mkey.to_string());

    let mut creates = Vec::new();
    let mut updates = Vec::new();
    let mut removals: Vec<Deactivate> = Vec::new();
    let mut kept_by_rule = 0usize;
    let mut left_alone = 0usize;
    for rs in &rows {
        let line = source.rows[rs.row].line;
        if rs.left_out {
            continue;
        }
        if rs.pending {
            let mut user = User { active: Some(true), ..Default::default() };
            for (i, (attr, _)) in mappings.iter().enumerate() {
                let Some(v) = rs.desired[i].as_deref() else { continue };
                match attr {
                    Attr::Manager => match resolve_manager(v) {
                        Ok(Some(id)) => attr.set(&mut user, Some(id)),
                        // Set in a later pass of the same apply, once the manager exists.
                        Ok(None) => plan.manager_links.push(ManagerLink {
                            user: MemberRef::Pending { key: rs.key.clone(), label: rs.key.clone() },
                            row_line: line,
                            manager_key: pending_label(v),
                            manager_label: v.to_string(),
                        }),
                        Err(()) => unreachable!("unresolved managers are violations (checked above)"),
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
                        Ok(None) => {
                            // The manager is created in this run: set in a later pass of it.
                            plan.manager_links.push(ManagerLink {
                                user: MemberRef::User { id: u.id().into(), label: label_of(u) },
                                row_line: line,
                                manager_key: pending_label(mkey),
                                manager_label: mkey.to_string(),
                            });
                            continue;
                        }
                        Err(()) => unreachable!("unresolved managers are violations (checked above)"),
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
        if matched[i].is_some() || !u.is_active() || never_deactivate(u, &prov.protected_users).is_some() {
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
    // The source line of each member, and the existing users whose rows are left out: kept in
    // a group they are in, never added.
    let mut member_line: HashMap<MemberRef, usize> = HashMap::new();
    let mut held: HashSet<String> = HashSet::new();
    let wanted: HashSet<String> = policy.groups.iter().map(|r| r.source.to_lowercase()).collect();
    for rs in rows.iter().filter(|r| r.provisioned && (r.slack.is_some() || r.pending)) {
        if rs.left_out
            && let Some(si) = rs.slack
        {
            held.insert(slack_users[si].id().to_string());
        }
        for g in rs.groups.iter().filter(|g| wanted.contains(*g)) {
            let m = match rs.slack {
                Some(si) => MemberRef::User { id: slack_users[si].id().into(), label: label_of(&slack_users[si]) },
                None => {
                    let c = rs.key.clone();
                    MemberRef::Pending { label: c.clone(), key: c }
                }
            };
            member_line.entry(m.clone()).or_insert(line_of(rs));
            members_of.entry(g.clone()).or_default().push(m);
        }
    }
    // The managed source groups that some row of the source names at all (provisioned or not).
    let named: HashSet<&str> = rows.iter().flat_map(|r| r.groups.iter()).filter(|g| wanted.contains(*g)).map(|g| g.as_str()).collect();
    let key_of_line: HashMap<usize, &str> = rows.iter().map(|r| (line_of(r), r.key.as_str())).collect();
    // Slack's cap on a group's members (reference §7, `scim::rules::GROUP_MEMBER_CAP`): the adds
    // beyond it (the last rows of the source) are left out of that group, each named.
    let cap_adds = |plan: &mut Plan, group: &str, kept: usize, adds: Vec<MemberRef>| -> Vec<MemberRef> {
        let room = crate::scim::rules::GROUP_MEMBER_CAP.saturating_sub(kept);
        if adds.len() <= room {
            return adds;
        }
        let mut adds = adds;
        adds.sort_by_key(|m| member_line.get(m).copied().unwrap_or(usize::MAX));
        let over = adds.split_off(room);
        let total = kept + room + over.len();
        for m in &over {
            let line = member_line.get(m).copied().unwrap_or(0);
            let key = key_of_line.get(&line).copied().unwrap_or("");
            plan.violations.push(Violation {
                row_line: line,
                key: key.to_string(),
                rule: Rule::GroupMemberCap,
                message: format!(
                    "{}:{line}: group {group:?} would have {total} members, over Slack's {}; not added to it; {}",
                    source.name,
                    crate::scim::rules::GROUP_MEMBER_CAP,
                    Rule::GroupMemberCap.describe()
                ),
            });
        }
        adds.sort();
        adds
    };
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
            let members: Vec<MemberRef> =
                desired.into_iter().filter(|m| !matches!(m, MemberRef::User { id, .. } if held.contains(id))).collect();
            let members = cap_adds(&mut plan, &rule.slack_name, 0, members);
            plan.group_creates.push(GroupCreate { key: rule.key.clone(), name: rule.slack_name.clone(), members });
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
                MemberRef::User { id, .. } => !current.contains(id.as_str()) && !held.contains(id),
                MemberRef::Pending { .. } => true,
            })
            .cloned()
            .collect();
        // Members who stay: all current ones (merge), or those the source lists (overwrite).
        let kept = match rule.membership {
            Membership::Merge => current.len(),
            Membership::Overwrite => {
                desired.iter().filter(|m| matches!(m, MemberRef::User { id, .. } if current.contains(id.as_str()))).count()
            }
        };
        let adds = cap_adds(&mut plan, &rule.slack_name, kept, adds);
        let target = GroupTarget::Existing { id: g.id().into() };
        if !adds.is_empty() {
            plan.member_adds.push(MemberChange { group: target.clone(), group_name: rule.slack_name.clone(), members: adds });
        }
        // A source group no row names any more was renamed or deleted in the directory (or the
        // export lost it), not emptied one leaver at a time: overwriting would empty the Slack
        // group in one run. Its members are left alone and the plan says why; follow a rename by
        // changing the rule's `source` (keep its `key`).
        let vanished = !named.contains(rule.source.to_lowercase().as_str());
        if rule.membership == Membership::Overwrite && vanished && g.member_ids().next().is_some() {
            plan.warnings.push(format!(
                "source group {:?} is named by no row of {} (renamed or deleted in the directory?): the {} members of Slack group {:?} are left alone; if it was renamed, set this rule's `source` to the new name",
                rule.source,
                source.name,
                g.member_ids().count(),
                rule.slack_name
            ));
        } else if rule.membership == Membership::Overwrite {
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
    plan.violations.sort_by_key(|v| (v.row_line, v.rule));
    plan.manager_links.sort_by_key(|l| l.row_line);
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
