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

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::config::{Attr, Membership, Part, Policy, PolicyError, RemoveAction, RuleRemoval, Template, normalize_user_name};
use super::plan_users::PlanUsers;
use super::source::{Source, SourceRow};
use crate::scim::types::{Group, Member, User};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The projection of the Slack users was made for a policy that does not map this attribute
    /// (a caller's mistake: build it with `PlanUsers::for_policy` of the same policy).
    #[error("the Slack users were projected without the attribute {0} the policy maps")]
    Projection(Attr),
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
    /// What the source held at the last successful run: the base of the source sanity check
    /// (absent in state files written before it was kept: nothing is compared then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceStats>,
}

/// What a policy's source held: its rows, and how many of them have a value in each column the
/// policy maps (the attributes' columns, the groups column; `(memberships)`: rows with a
/// membership from the memberships file). A column that went blank, or rows that went missing,
/// for more than a share of the rows since the last successful run holds the run
/// ([`SourceStats::drops`]): an export that lost a column would otherwise clear it everywhere.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStats {
    pub rows: usize,
    pub non_blank: BTreeMap<String, usize>,
}

/// The pseudo-column of the memberships file in [`SourceStats::non_blank`].
pub const MEMBERSHIPS_COLUMN: &str = "(memberships)";

impl SourceStats {
    /// Count the rows of `source` and the non-blank values of every column `policy` maps.
    pub fn of(policy: &Policy, source: &Source) -> SourceStats {
        let mut cols: Vec<&str> = policy.attributes.iter().flat_map(|m| m.template.columns()).collect();
        cols.extend(policy.source.groups_column.as_deref());
        cols.sort_unstable();
        cols.dedup();
        let mut non_blank = BTreeMap::new();
        for c in cols {
            if let Some(i) = source.column(c) {
                non_blank.insert(c.to_string(), source.rows.iter().filter(|r| !r.get(i).trim().is_empty()).count());
            }
        }
        if policy.source.spec.memberships.is_some() {
            non_blank.insert(MEMBERSHIPS_COLUMN.to_string(), source.memberships.values().filter(|g| !g.is_empty()).count());
        }
        SourceStats { rows: source.rows.len(), non_blank }
    }

    /// How `now` fell from these stats (the last successful run's) by more than `percent` of
    /// the rows then: the row count, and each column's values; one reason each, naming the
    /// numbers. Empty: the source looks as it did.
    pub fn drops(&self, now: &SourceStats, percent: f64) -> Vec<String> {
        let allowed = self.rows as f64 * percent / 100.0;
        let mut out = Vec::new();
        if now.rows < self.rows && (self.rows - now.rows) as f64 > allowed {
            out.push(format!(
                "the source has {} rows, {} fewer than the {} of the last successful run (more than {percent}% of them: max_source_drop_percent)",
                now.rows,
                self.rows - now.rows,
                self.rows
            ));
        }
        for (col, &was) in &self.non_blank {
            let is = now.non_blank.get(col).copied().unwrap_or(0);
            if is < was && (was - is) as f64 > allowed {
                out.push(format!(
                    "column `{col}` has a value in {is} of {} rows, {} fewer than the {was} of {} at the last successful run (more than {percent}% of the rows: max_source_drop_percent); did the export lose it?",
                    now.rows,
                    was - is,
                    self.rows
                ));
            }
        }
        out
    }
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
        PriorState {
            scope_groups: policy.scope_groups.clone(),
            retired_scope_groups: retired,
            group_ids,
            source: prior.and_then(|p| p.source.clone()),
        }
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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// A start date or guest expiry that is no ISO-8601 date (reference §3: `startDate` "like
    /// `2024-04-10T00:00:00+0000`", `expiration` "ISO-8601").
    InvalidDate,
    /// A guest expiry already past.
    GuestExpirationPast,
    /// A photo that is neither a public `https://` URL nor an image `data:` URL (reference §3
    /// `photos`; §7 `photos_invalid`).
    PhotoInvalid,
    /// A guest type other than `multi` (or `member`): Slack's guest extension takes `multi` only
    /// (reference §3).
    GuestType,
    /// The row would make an admin or owner a guest (reference §3, §7 `cannot_make_user_guest`).
    GuestAdmin,
    /// A guest expiry for someone who is no guest (nor made one by the row).
    GuestExpirationMember,
    /// The row would make Slack create a profile field past its 50 custom ones (reference §3:
    /// `unable_to_create_team_profile_fields`), given `[provisioning] custom_profile_fields`.
    CustomFieldCap,
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
            Rule::InvalidDate => "invalid_date",
            Rule::GuestExpirationPast => "guest_expiration_past",
            Rule::PhotoInvalid => "photos_invalid",
            Rule::GuestType => "guest_type",
            Rule::GuestAdmin => "cannot_make_user_guest",
            Rule::GuestExpirationMember => "guest_expiration_member",
            Rule::CustomFieldCap => "custom_field_cap",
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
            Rule::InvalidDate => "startDate and guest expirations are ISO-8601 dates, e.g. 2027-01-04 (reference §3)",
            Rule::GuestExpirationPast => "a guest whose expiry has passed would lose access at once",
            Rule::PhotoInvalid => "a photo is a public https:// URL or an image data: URL (reference §3 photos)",
            Rule::GuestType => "the guest extension's type is multi (a multi-channel guest); member means no guest (reference §3)",
            Rule::GuestAdmin => "Slack never makes an admin or owner a guest (reference §3 cannot_make_user_guest)",
            Rule::GuestExpirationMember => "an expiry belongs to a multi-channel guest (reference §3 guest extension)",
            Rule::CustomFieldCap => {
                "Slack allows 50 custom profile fields, those SCIM creates included (reference §3 unable_to_create_team_profile_fields)"
            }
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
        let emails = u.emails.iter().flatten().filter_map(|e| e.value.as_deref());
        if crate::queue::gate::is_protected_user(protected, Some(u.id()), emails, u.user_name.as_deref()) {
            return Some("protected_users");
        }
    }
    None
}

/// `never_deactivate` for user `i` of a projection.
fn never_deactivate_at(users: &PlanUsers, i: usize, protected: &[String]) -> Option<&'static str> {
    match users.account(i) {
        crate::queue::gate::Account::Bot => return Some("bot user"),
        crate::queue::gate::Account::PrimaryOwner => return Some("primary owner"),
        crate::queue::gate::Account::Member => {}
    }
    if !protected.is_empty() && crate::queue::gate::is_protected_user(protected, Some(users.id(i)), users.emails(i), users.user_name(i)) {
        return Some("protected_users");
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

#[cfg(test)]
fn render(parts: &[BPart], row: &SourceRow) -> Option<String> {
    let mut out = String::new();
    render_into(parts, row, &mut out).map(|(o, l)| out[o as usize..(o + l) as usize].to_string())
}

/// Render a template for a row at the end of `out`: the span of the trimmed value, or `None`
/// (and `out` unchanged) when it is empty.
fn render_into(parts: &[BPart], row: &SourceRow, out: &mut String) -> Option<(u32, u32)> {
    let start = out.len();
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
    let t = out[start..].trim_start();
    let lead = out.len() - start - t.len();
    let t = t.trim_end();
    if t.is_empty() {
        out.truncate(start);
        return None;
    }
    Some(((start + lead) as u32, t.len() as u32))
}

/// The rendered values of every row's mappings (`k` a row), in one arena.
struct Rendered {
    text: String,
    spans: Vec<Option<(u32, u32)>>,
    k: usize,
}

impl Rendered {
    fn get(&self, row: usize, p: usize) -> Option<&str> {
        self.spans[row * self.k + p].map(|(o, l)| &self.text[o as usize..(o + l) as usize])
    }
}

/// `a.to_lowercase() == b.to_lowercase()`, without allocating for ASCII.
fn eq_lower(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() { a.eq_ignore_ascii_case(b) } else { a.to_lowercase() == b.to_lowercase() }
}

/// `normalize_user_name(v)`, borrowed when `v` is already a userName Slack keeps as it is.
fn user_name_key(v: &str) -> Cow<'_, str> {
    let kept = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-');
    if !v.is_empty() && v.len() <= crate::scim::rules::USER_NAME_MAX && v.bytes().all(kept) {
        Cow::Borrowed(v)
    } else {
        Cow::Owned(normalize_user_name(v))
    }
}

/// `s.to_lowercase()`, borrowed when `s` has nothing to lower.
fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) { Cow::Owned(s.to_lowercase()) } else { Cow::Borrowed(s) }
}

/// The comparable form of a value.
fn norm(attr: Attr, v: &str) -> Cow<'_, str> {
    match attr {
        Attr::UserName => user_name_key(v),
        a if a.case_insensitive() => lower(v.trim()),
        _ => Cow::Borrowed(v.trim()),
    }
}

fn label_of(u: &User) -> String {
    let l = u.label();
    if l.is_empty() { u.primary_email().unwrap_or(u.id()).to_string() } else { l }
}

/// The plan's tables. Their keys are the org's own data; foldhash (seeded per process) hashes
/// short strings several times faster than the standard SipHash.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type Set<K> = HashSet<K, foldhash::fast::RandomState>;

/// Per-row facts gathered in the first pass.
#[derive(Clone, Copy)]
struct RowState<'a> {
    row: usize,
    /// This row's index in `rows` (its values in `Rendered`).
    d: usize,
    key: &'a str,
    /// Its groups: `row_groups[groups.0..groups.1]`, interned (see `Planner`).
    groups: (u32, u32),
    /// In scope and enabled (or `provision_disabled_users`): should have an active Slack account.
    provisioned: bool,
    enabled: bool,
    in_scope: bool,
    slack: Option<usize>,
    pending: bool,
    /// The row breaks one of Slack's rules: no change for it (see `Plan::violations`).
    left_out: bool,
}

/// Compare the source with the live directory. Pure: no network, no files.
/// Projects `slack_users` onto what the plan reads and calls [`compute_on`].
pub fn compute(
    policy: &Policy,
    source: &Source,
    slack_users: &[User],
    slack_groups: &[Group],
    prior: Option<&PriorState>,
) -> Result<Plan, PlanError> {
    compute_on(policy, source, &PlanUsers::from_users(policy, slack_users), slack_groups, prior)
}

/// [`compute`] on Slack users already projected (`PlanUsers::for_policy(policy)`, filled while
/// the listing streams in).
pub fn compute_on(
    policy: &Policy,
    source: &Source,
    users: &PlanUsers,
    slack_groups: &[Group],
    prior: Option<&PriorState>,
) -> Result<Plan, PlanError> {
    let mut p = Planner::new(policy, source, users, slack_groups, prior)?;
    p.read_rows();
    p.scope_rows();
    p.check_taken_emails();
    p.check_names_and_emails();
    p.check_values();
    p.check_custom_fields();
    p.mark_creates();
    p.check_managers();
    p.user_changes();
    p.group_changes();
    Ok(p.finish())
}

/// Record that a row breaks one of Slack's rules (see `Plan::violations`).
fn violation(plan: &mut Plan, line: usize, key: &str, rule: Rule, message: String) {
    plan.violations.push(Violation { row_line: line, key: key.to_string(), rule, message: format!("{message}; {}", rule.describe()) });
}

/// One plan being computed: its inputs, what each phase has learnt, and the plan so far.
/// [`compute_on`] runs the phases in order; each reads what the ones before it left here.
struct Planner<'a> {
    policy: &'a Policy,
    source: &'a Source,
    users: &'a PlanUsers,
    slack_groups: &'a [Group],
    prior: Option<&'a PriorState>,
    /// The projected column of each mapping's values.
    cols: Vec<usize>,
    mappings: Vec<(Attr, Vec<BPart<'a>>)>,
    match_attr: Attr,
    match_pos: usize,
    plan: Plan,
    /// Group names are interned (a few hundred in a large org): `gname[g]`, `gsym[name] == g`.
    gsym: Map<String, u32>,
    gname: Vec<String>,
    /// Every kept row's groups (`RowState::groups` a range of it).
    row_groups: Vec<u32>,
    rendered: Rendered,
    rows: Vec<RowState<'a>>,
    /// A kept row's index in `rows` by its lowercased key.
    by_source_key: Map<Cow<'a, str>, usize>,
    /// The row (an index in `rows`) each Slack user is matched to.
    matched: Vec<Option<usize>>,
    /// Per interned group: a removed scope rule; managed by a group rule.
    gremoved: Vec<bool>,
    gwanted: Vec<bool>,
}

/// The Slack groups and who should be in them, for [`Planner::group_rule`].
struct GroupTables<'a> {
    groups_by_id: Map<&'a str, &'a Group>,
    groups_by_name: Map<String, &'a Group>,
    /// Members are rows (indices into `rows`) until they are written into the plan.
    members_of: Map<u32, Vec<usize>>,
    /// The existing users whose rows are left out: kept in a group they are in, never added.
    held: Set<&'a str>,
    /// The managed source groups that some row of the source names at all (provisioned or
    /// not): only filled when some rule overwrites (only they ask).
    named: Vec<bool>,
    users_by_id: Map<&'a str, usize>,
}

impl<'a> Planner<'a> {
    fn new(
        policy: &'a Policy,
        source: &'a Source,
        users: &'a PlanUsers,
        slack_groups: &'a [Group],
        prior: Option<&'a PriorState>,
    ) -> Result<Self, PlanError> {
        policy.check_source(source)?;
        let cols: Vec<usize> =
            policy.attributes.iter().map(|m| users.column(m.attr).ok_or(PlanError::Projection(m.attr))).collect::<Result<_, _>>()?;
        let mappings: Vec<(Attr, Vec<BPart>)> = policy.attributes.iter().map(|m| (m.attr, bind(&m.template, source))).collect();
        let match_attr = match policy.match_on {
            super::config::MatchOn::Email => Attr::Email,
            super::config::MatchOn::UserName => Attr::UserName,
        };
        let match_pos = mappings.iter().position(|(a, _)| *a == match_attr).expect("validated: match attribute is mapped");
        // About a dozen bytes a value: one allocation, not a doubling every few thousand rows.
        let rendered = Rendered {
            text: String::with_capacity(source.rows.len() * mappings.len() * 12),
            spans: Vec::with_capacity(source.rows.len() * mappings.len()),
            k: mappings.len(),
        };
        Ok(Planner {
            policy,
            source,
            users,
            slack_groups,
            prior,
            cols,
            mappings,
            match_attr,
            match_pos,
            plan: Plan::default(),
            gsym: Map::default(),
            gname: Vec::new(),
            row_groups: Vec::with_capacity(source.rows.len() * 2),
            rendered,
            rows: Vec::with_capacity(source.rows.len()),
            by_source_key: Map::with_capacity_and_hasher(source.rows.len(), Default::default()),
            matched: vec![None; users.len()],
            gremoved: Vec::new(),
            gwanted: Vec::new(),
        })
    }

    fn pos_of(&self, a: Attr) -> Option<usize> {
        self.mappings.iter().position(|(m, _)| *m == a)
    }

    fn line_of(&self, rs: &RowState) -> usize {
        self.source.rows[rs.row].line
    }

    fn groups_of(&self, rs: &RowState) -> &[u32] {
        &self.row_groups[rs.groups.0 as usize..rs.groups.1 as usize]
    }

    /// Intern a (lowercased) group name and add it to the row being read.
    fn intern(&mut self, g: &str) {
        let n = match self.gsym.get(g) {
            Some(&n) => n,
            None => {
                let n = self.gname.len() as u32;
                self.gname.push(g.to_string());
                self.gsym.insert(g.to_string(), n);
                n
            }
        };
        self.row_groups.push(n);
    }

    /// First pass: per-row facts, each row's values and groups, and matching to Slack users.
    fn read_rows(&mut self) {
        let (policy, source, users) = (self.policy, self.source, self.users);
        let (match_attr, match_pos) = (self.match_attr, self.match_pos);
        let col = |c: &str| source.column(c).expect("checked by check_source");
        let id_idx = col(&policy.source.id_column);
        let status_idx = policy.source.status_column.as_deref().map(col);
        let groups_idx = policy.source.groups_column.as_deref().map(col);
        let sep = policy.source.groups_separator.as_str();
        let enabled_values: Set<&str> = policy.source.enabled_values.iter().map(String::as_str).collect();

        // Slack side: match key -> user index, preferring active users over deactivated ones.
        let mut by_key: Map<Cow<str>, usize> = Map::with_capacity_and_hasher(users.len(), Default::default());
        for i in 0..users.len() {
            let Some(k) = users.value(i, self.cols[match_pos]).map(|v| norm(match_attr, v)) else { continue };
            match by_key.get(&k) {
                Some(&j) if users.is_active(j) || !users.is_active(i) => {}
                _ => {
                    by_key.insert(k, i);
                }
            }
        }

        let mut lowered = String::new();
        for (ri, row) in source.rows.iter().enumerate() {
            let key = row.get(id_idx).trim();
            if key.is_empty() {
                self.plan.warnings.push(format!("{}:{}: empty `{}`; row skipped", source.name, row.line, policy.source.id_column));
                continue;
            }
            let lkey = lower(key);
            if let Some(&prev) = self.by_source_key.get(lkey.as_ref()) {
                self.plan.warnings.push(format!(
                    "{}:{}: duplicate key {key:?} (first on line {}); row skipped",
                    source.name, row.line, source.rows[self.rows[prev].row].line
                ));
                continue;
            }
            let enabled = status_idx.is_none_or(|i| enabled_values.contains(lower(row.get(i).trim()).as_ref()));
            let groups_start = self.row_groups.len();
            if let Some(gi) = groups_idx {
                for g in row.get(gi).split(sep).map(str::trim).filter(|g| !g.is_empty()) {
                    if g.is_ascii() {
                        lowered.clear();
                        lowered.push_str(g);
                        lowered.make_ascii_lowercase();
                        self.intern(&lowered);
                    } else {
                        self.intern(&g.to_lowercase());
                    }
                }
            }
            if !source.memberships.is_empty()
                && let Some(extra) = source.memberships.get(lkey.as_ref())
            {
                for g in extra {
                    self.intern(&g.trim().to_lowercase());
                }
            }
            let text_start = self.rendered.text.len();
            let d = self.rows.len();
            for (_, parts) in &self.mappings {
                let span = render_into(parts, row, &mut self.rendered.text);
                self.rendered.spans.push(span);
            }
            let mut slack = None;
            if let Some(mk) = self.rendered.get(d, match_pos).map(|v| norm(match_attr, v))
                && let Some(&si) = by_key.get(mk.as_ref())
            {
                if let Some(other) = self.matched[si] {
                    let rule = if match_attr == Attr::Email { Rule::DuplicateEmail } else { Rule::DuplicateUserName };
                    let message = format!(
                        "{}:{}: {} {mk:?} is also line {}'s (both match Slack user {}); row left out",
                        source.name,
                        row.line,
                        match_attr.name(),
                        source.rows[self.rows[other].row].line,
                        users.id(si)
                    );
                    violation(&mut self.plan, row.line, key, rule, message);
                    // The row is not kept: neither are its values or groups.
                    self.rendered.text.truncate(text_start);
                    self.rendered.spans.truncate(d * self.rendered.k);
                    self.row_groups.truncate(groups_start);
                    continue;
                }
                self.matched[si] = Some(d);
                slack = Some(si);
            }
            self.by_source_key.insert(lkey, d);
            self.rows.push(RowState {
                row: ri,
                d,
                key,
                groups: (groups_start as u32, self.row_groups.len() as u32),
                provisioned: false,
                enabled,
                in_scope: false,
                slack,
                pending: false,
                left_out: false,
            });
        }
    }

    /// What the plan asks of each group (in scope, a removed scope rule, managed by a rule), and
    /// so which rows are in scope and provisioned.
    fn scope_rows(&mut self) {
        let scope = self.policy.scope_set();
        let removed_rules: Set<String> = self
            .prior
            .map(|p| {
                p.scope_groups.iter().chain(&p.retired_scope_groups).map(|g| g.to_lowercase()).filter(|g| !scope.contains(g)).collect()
            })
            .unwrap_or_default();
        let in_set = |has: &dyn Fn(&String) -> bool| -> Vec<bool> { self.gname.iter().map(has).collect() };
        let (gscope, gremoved) = (in_set(&|g| scope.contains(g)), in_set(&|g| removed_rules.contains(g)));
        let wanted: Set<String> = self.policy.groups.iter().map(|r| r.source.to_lowercase()).collect();
        let gwanted = in_set(&|g| wanted.contains(g));
        let provision_disabled = self.policy.provisioning.provision_disabled_users;
        for ri in 0..self.rows.len() {
            let in_scope = scope.is_empty() || self.groups_of(&self.rows[ri]).iter().any(|&g| gscope[g as usize]);
            let rs = &mut self.rows[ri];
            rs.in_scope = in_scope;
            rs.provisioned = rs.in_scope && (rs.enabled || provision_disabled);
        }
        (self.gremoved, self.gwanted) = (gremoved, gwanted);
    }

    /// A row to create whose email a Slack user holds: Slack refuses the create (`email_taken`).
    /// A deactivated holder nobody else claims is this person: the plan reactivates them instead
    /// (reference §2 "Deactivated users still own their email", §8.7 "reactivate instead of
    /// recreate"); any other holder makes the row a violation.
    fn check_taken_emails(&mut self) {
        let (source, users) = (self.source, self.users);
        // Every email Slack holds (deactivated users keep theirs: reference §2, §8.6).
        let mut email_holder: Map<Cow<str>, usize> = Map::with_capacity_and_hasher(users.len(), Default::default());
        for i in 0..users.len() {
            for e in users.emails(i) {
                email_holder.entry(lower(e.trim())).or_insert(i);
            }
        }
        let email_pos = self.pos_of(Attr::Email);
        for ri in 0..self.rows.len() {
            let rs = self.rows[ri];
            if rs.slack.is_some() || !rs.provisioned {
                continue;
            }
            let Some(email) = email_pos.and_then(|p| self.rendered.get(rs.d, p)).map(|e| lower(e.trim())) else { continue };
            let Some(&h) = email_holder.get(email.as_ref()) else { continue };
            let (line, key) = (self.line_of(&rs), rs.key);
            if let Some(other) = self.matched[h] {
                let message = format!(
                    "{}:{line}: email {email:?} belongs to Slack user {} ({}), whom line {} matches; row left out",
                    source.name,
                    users.id(h),
                    users.label(h),
                    self.line_of(&self.rows[other])
                );
                violation(&mut self.plan, line, key, Rule::DuplicateEmail, message);
                self.rows[ri].left_out = true;
            } else if !users.is_active(h) {
                self.plan.warnings.push(format!(
                    "{}:{line}: email {email:?} belongs to deactivated Slack user {} ({}): Slack refuses a new account with it (reference §2), so the plan reactivates that user instead",
                    source.name,
                    users.id(h),
                    users.label(h)
                ));
                self.matched[h] = Some(ri);
                self.rows[ri].slack = Some(h);
            } else {
                let message = format!(
                    "{}:{line}: email {email:?} belongs to active Slack user {} ({}), whom no row matches; row left out",
                    source.name,
                    users.id(h),
                    users.label(h)
                );
                violation(&mut self.plan, line, key, Rule::DuplicateEmail, message);
                self.rows[ri].left_out = true;
            }
        }
    }

    /// userName rules (reference §3) for a userName the plan would write (a create, or a
    /// change), and no two rows wanting one userName or one email.
    fn check_names_and_emails(&mut self) {
        let (source, users) = (self.source, self.users);
        // Every userName Slack holds (deactivated users keep theirs: reference §2, §8.6).
        let mut name_holder: Map<Cow<str>, usize> = Map::with_capacity_and_hasher(users.len(), Default::default());
        for i in 0..users.len() {
            if let Some(n) = users.user_name(i) {
                name_holder.entry(lower(n.trim())).or_insert(i);
            }
        }
        let (name_pos, email_pos) = (self.pos_of(Attr::UserName), self.pos_of(Attr::Email));
        let rendered = &self.rendered;
        let mut want_name: Map<Cow<str>, usize> = Map::default();
        let mut want_email: Map<Cow<str>, usize> = Map::default();
        for ri in 0..self.rows.len() {
            let rs = self.rows[ri];
            if !rs.provisioned || rs.left_out {
                continue;
            }
            let (line, key) = (self.source.rows[rs.row].line, rs.key);
            let line_of = |r: usize| source.rows[self.rows[r].row].line;
            let mut problem: Option<(Rule, String)> = None;
            if let Some(raw) = name_pos.and_then(|p| rendered.get(rs.d, p)) {
                let writes = rs.slack.is_none_or(|si| users.user_name(si).is_none_or(|h| !Attr::UserName.same_value(h, raw)));
                let checked = if writes { crate::scim::rules::slack_user_name(raw).map(Cow::Owned) } else { Ok(user_name_key(raw)) };
                match checked {
                    Err(p) => {
                        let rule = if matches!(p, crate::scim::rules::UserNameProblem::TooLong(_)) {
                            Rule::UserNameTooLong
                        } else {
                            Rule::UserNameCharacters
                        };
                        problem = Some((
                            rule,
                            format!(
                                "{}:{line}: userName {}: {p}; row left out",
                                source.name,
                                crate::scim::sanitize::quoted_excerpt(raw, 40)
                            ),
                        ));
                    }
                    Ok(name) => {
                        if let Some(&first) = want_name.get(name.as_ref()) {
                            problem = Some((
                                Rule::DuplicateUserName,
                                format!(
                                    "{}:{line}: userName {name:?} is also wanted by line {}; row left out",
                                    source.name,
                                    line_of(first)
                                ),
                            ));
                        } else if writes
                            && let Some(&h) = name_holder.get(name.as_ref())
                            && Some(h) != rs.slack
                        {
                            problem = Some((
                                Rule::DuplicateUserName,
                                format!(
                                    "{}:{line}: userName {name:?} belongs to Slack user {} ({}); row left out",
                                    source.name,
                                    users.id(h),
                                    users.label(h)
                                ),
                            ));
                        } else {
                            want_name.insert(name, ri);
                        }
                    }
                }
            }
            if problem.is_none()
                && let Some(email) = email_pos.and_then(|p| rendered.get(rs.d, p)).map(|e| lower(e.trim()))
            {
                if let Some(&first) = want_email.get(email.as_ref()) {
                    problem = Some((
                        Rule::DuplicateEmail,
                        format!("{}:{line}: email {email:?} is also wanted by line {}; row left out", source.name, line_of(first)),
                    ));
                } else {
                    want_email.insert(email, ri);
                }
            }
            if let Some((rule, message)) = problem {
                violation(&mut self.plan, line, key, rule, message);
                self.rows[ri].left_out = true;
            }
        }
    }

    /// Profile, photo and guest values (reference §3), checked as `users update --set` checks
    /// them, for the values the plan would write (a create, or a change).
    fn check_values(&mut self) {
        let (source, users) = (self.source, self.users);
        let now = crate::queue::edit::now_unix();
        let guest_pos = self.pos_of(Attr::Guest);
        for ri in 0..self.rows.len() {
            let rs = self.rows[ri];
            if !rs.provisioned || rs.left_out {
                continue;
            }
            let (line, key) = (self.line_of(&rs), rs.key);
            let value = |a: Attr| self.pos_of(a).and_then(|p| self.rendered.get(rs.d, p));
            let have = |a: Attr| rs.slack.and_then(|si| users.column(a).and_then(|c| users.value(si, c)));
            let writes = |a: Attr, v: &str| have(a).is_none_or(|h| !a.same_value(h, v));
            let q = |v: &str| crate::scim::sanitize::quoted_excerpt(v, 40);
            let mut problem: Option<(Rule, String)> = None;
            for a in [Attr::StartDate, Attr::GuestExpiration] {
                let Some(v) = value(a).filter(|v| writes(a, v)) else { continue };
                match crate::scim::rules::iso_date(v, a.date_end().expect("a date")) {
                    Err(p) => problem = problem.or(Some((Rule::InvalidDate, format!("{} {}: {p}", a.short(), q(v))))),
                    Ok(d) if a == Attr::GuestExpiration && d.unix < now => {
                        problem = problem.or(Some((Rule::GuestExpirationPast, format!("guestExpiration {} is past", q(v)))))
                    }
                    Ok(_) => {}
                }
            }
            if let Some(v) = value(Attr::Photo).filter(|v| writes(Attr::Photo, v))
                && let Err(p) = crate::scim::rules::photo_value(v)
            {
                problem = problem.or(Some((Rule::PhotoInvalid, format!("photo {}: {p}", q(v)))));
            }
            let is_guest = rs.slack.is_some_and(|si| users.is_guest(si));
            let want_guest = match guest_pos.map(|p| self.rendered.get(rs.d, p)) {
                Some(v) => match v.and_then(|v| Attr::Guest.sendable(v)) {
                    Some(t) if t == "multi" => true,
                    Some(t) => {
                        problem = problem.or(Some((Rule::GuestType, format!("guest {}: give multi or member", q(&t)))));
                        false
                    }
                    None => false,
                },
                None => is_guest,
            };
            if want_guest
                && !is_guest
                && let Some(role) = rs.slack.and_then(|si| users.admin_role(si))
            {
                problem = problem.or(Some((
                    Rule::GuestAdmin,
                    format!("{} has the role {role:?} and cannot be made a guest", users.label(rs.slack.unwrap())),
                )));
            }
            if value(Attr::GuestExpiration).is_some() && !want_guest {
                problem = problem.or(Some((Rule::GuestExpirationMember, "guestExpiration for someone who is no guest".to_string())));
            }
            if let Some((rule, what)) = problem {
                violation(&mut self.plan, line, key, rule, format!("{}:{line}: {what}; row left out", source.name));
                self.rows[ri].left_out = true;
            }
        }
    }

    /// Slack's 50 custom profile fields (reference §3): the fields Slack would create for mapped
    /// attributes no Slack user has a value of yet (`Attr::slack_profile_field`).
    fn check_custom_fields(&mut self) {
        let (source, users) = (self.source, self.users);
        let mut new_fields: Vec<(&'static str, Vec<usize>)> = Vec::new();
        for (pos, (attr, _)) in self.mappings.iter().enumerate() {
            let Some(name) = attr.slack_profile_field() else { continue };
            let exists = self
                .mappings
                .iter()
                .enumerate()
                .filter(|(_, (a, _))| a.slack_profile_field() == Some(name))
                .any(|(p, _)| (0..users.len()).any(|i| users.value(i, self.cols[p]).is_some()));
            let wanted = self.rows.iter().any(|rs| rs.provisioned && !rs.left_out && self.rendered.get(rs.d, pos).is_some());
            if exists || !wanted {
                continue;
            }
            match new_fields.iter_mut().find(|(n, _)| *n == name) {
                Some((_, ps)) => ps.push(pos),
                None => new_fields.push((name, vec![pos])),
            }
        }
        if new_fields.is_empty() {
            return;
        }
        let cap = crate::scim::rules::CUSTOM_PROFILE_FIELDS_MAX;
        let names = new_fields.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
        match self.policy.provisioning.custom_profile_fields {
            None => self.plan.warnings.push(format!(
                "Slack will create {} ({names}): no Slack user has these attributes yet, and each counts against Slack's {cap} custom profile fields (reference §3); set [provisioning] custom_profile_fields to the number the org has for the plan to check the cap",
                crate::words::count(new_fields.len(), "profile field")
            )),
            Some(n) => {
                let room = cap.saturating_sub(n as usize);
                for (name, ps) in new_fields.iter().skip(room) {
                    for ri in 0..self.rows.len() {
                        let rs = self.rows[ri];
                        if !rs.provisioned || rs.left_out || !ps.iter().any(|&p| self.rendered.get(rs.d, p).is_some()) {
                            continue;
                        }
                        let line = self.line_of(&rs);
                        let message = format!(
                            "{}:{line}: {name} would be a new Slack profile field, and the org has {n} of {cap} custom fields; row left out",
                            source.name
                        );
                        violation(&mut self.plan, line, rs.key, Rule::CustomFieldCap, message);
                        self.rows[ri].left_out = true;
                    }
                }
            }
        }
    }

    /// Creates first, so managers and members can refer to pending users.
    fn mark_creates(&mut self) {
        if !self.policy.provisioning.allow_create {
            return;
        }
        for ri in 0..self.rows.len() {
            let rs = self.rows[ri];
            if rs.slack.is_some() || !rs.provisioned || rs.left_out {
                continue;
            }
            let line = self.line_of(&rs);
            let missing: Vec<&str> = [Attr::UserName, Attr::Email]
                .into_iter()
                .filter(|&a| self.pos_of(a).is_none_or(|p| self.rendered.get(rs.d, p).is_none()))
                .map(Attr::name)
                .collect();
            if !missing.is_empty() {
                self.plan.warnings.push(format!("{}:{line}: cannot create {:?}: no {}", self.source.name, rs.key, missing.join(", ")));
                continue;
            }
            self.rows[ri].pending = true;
        }
    }

    /// Managers (reference §3): each must be a Slack user or a row created here. A row left out
    /// that was to be created is nobody, so its reports are left out too (a worklist, so a chain
    /// costs one look per row).
    fn check_managers(&mut self) {
        let Some(mp) = self.pos_of(Attr::Manager) else { return };
        let source = self.source;
        let mut reports_of: Map<Cow<str>, Vec<usize>> = Map::default();
        for (ri, rs) in self.rows.iter().enumerate() {
            if let Some(m) = self.rendered.get(rs.d, mp) {
                reports_of.entry(lower(m.trim())).or_default().push(ri);
            }
        }
        let mut work: Vec<usize> = (0..self.rows.len()).collect();
        while let Some(ri) = work.pop() {
            let rs = self.rows[ri];
            if rs.left_out || !rs.provisioned || (rs.slack.is_none() && !rs.pending) {
                continue;
            }
            let Some(m) = self.rendered.get(rs.d, mp) else { continue };
            let manager = self.by_source_key.get(lower(m.trim()).as_ref()).map(|&i| &self.rows[i]);
            if manager.is_some_and(|r| r.slack.is_some() || r.pending) {
                continue;
            }
            let line = self.line_of(&rs);
            let why = match manager {
                Some(r) => format!("line {} is not provisioned by this plan", self.line_of(r)),
                None => "no row has that key".into(),
            };
            let message = format!("{}:{line}: manager {m:?} resolves to nobody ({why}); row left out", source.name);
            violation(&mut self.plan, line, rs.key, Rule::ManagerUnresolved, message);
            self.rows[ri].left_out = true;
            self.rows[ri].pending = false;
            if rs.pending
                && let Some(r) = reports_of.get(lower(rs.key).as_ref())
            {
                work.extend(r.iter().copied());
            }
        }
    }

    /// The Slack id a manager key resolves to: Ok(Some(id)), Ok(None) = pending, Err = unknown.
    fn resolve_manager(&self, mkey: &str) -> Result<Option<&'a str>, ()> {
        let rs = self.by_source_key.get(lower(mkey.trim()).as_ref()).map(|&i| &self.rows[i]).ok_or(())?;
        match rs.slack {
            Some(si) => Ok(Some(self.users.id(si))),
            None if rs.pending => Ok(None),
            None => Err(()),
        }
    }

    fn pending_label(&self, mkey: &str) -> String {
        self.by_source_key.get(lower(mkey.trim()).as_ref()).map(|&i| self.rows[i].key.to_string()).unwrap_or_else(|| mkey.to_string())
    }

    /// Users: the creates, reactivations, updates and removals, each row in turn.
    fn user_changes(&mut self) {
        let (source, users) = (self.source, self.users);
        let prov = &self.policy.provisioning;
        let mut creates = Vec::new();
        let mut updates = Vec::new();
        let mut removals: Vec<Deactivate> = Vec::new();
        let mut kept_by_rule = 0usize;
        let mut left_alone = 0usize;
        for ri in 0..self.rows.len() {
            let rs = self.rows[ri];
            let line = self.line_of(&rs);
            if rs.left_out {
                continue;
            }
            if rs.pending {
                creates.push(self.create_user(&rs));
                continue;
            }
            let Some(u) = rs.slack else { continue };
            if rs.provisioned {
                if !users.is_active(u) {
                    if !prov.allow_create {
                        continue;
                    }
                    self.plan.reactivations.push(Reactivate {
                        id: users.id(u).into(),
                        email: users.primary_email(u).unwrap_or("").into(),
                        label: users.label(u).to_string(),
                        row_line: line,
                    });
                }
                if !prov.allow_update {
                    continue;
                }
                if let Some(update) = self.update_user(&rs, u) {
                    updates.push(update);
                }
                continue;
            }
            // Matched but should not have access.
            if !users.is_active(u) {
                continue;
            }
            let reason = if !rs.enabled && !prov.provision_disabled_users {
                Reason::Disabled
            } else if self.groups_of(&rs).iter().any(|&g| self.gremoved[g as usize]) {
                if prov.deprovision_on_rule_removal == RuleRemoval::Keep {
                    kept_by_rule += 1;
                    continue;
                }
                Reason::RuleRemoved
            } else {
                debug_assert!(!rs.in_scope);
                Reason::LeftScope
            };
            if let Some(why) = never_deactivate_at(users, u, &prov.protected_users) {
                self.plan.warnings.push(format!(
                    "{}:{line}: {} would be deactivated ({}) but is never deactivated ({why})",
                    source.name,
                    users.label(u),
                    reason.as_str()
                ));
                continue;
            }
            removals.push(Deactivate {
                id: users.id(u).into(),
                email: users.primary_email(u).unwrap_or("").into(),
                label: users.label(u).to_string(),
                reason,
                row_line: Some(line),
            });
        }
        // Slack users no source row matches.
        for (u, m) in self.matched.iter().enumerate() {
            if m.is_some() || !users.is_active(u) || never_deactivate_at(users, u, &prov.protected_users).is_some() {
                continue;
            }
            removals.push(Deactivate {
                id: users.id(u).into(),
                email: users.primary_email(u).unwrap_or("").into(),
                label: users.label(u).to_string(),
                reason: Reason::Deleted,
                row_line: None,
            });
        }
        let plan = &mut self.plan;
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
    }

    /// The create of a pending row (its manager, if pending too, a link set later).
    fn create_user(&mut self, rs: &RowState<'a>) -> CreateUser {
        let line = self.line_of(rs);
        let mut user = User { active: Some(true), ..Default::default() };
        for i in 0..self.mappings.len() {
            let attr = self.mappings[i].0;
            let Some(v) = self.rendered.get(rs.d, i) else { continue };
            match attr {
                Attr::Manager => match self.resolve_manager(v) {
                    Ok(Some(id)) => attr.set(&mut user, Some(id)),
                    // Set in a later pass of the same apply, once the manager exists.
                    Ok(None) => {
                        let link = ManagerLink {
                            user: MemberRef::Pending { key: rs.key.to_string(), label: rs.key.to_string() },
                            row_line: line,
                            manager_key: self.pending_label(v),
                            manager_label: v.to_string(),
                        };
                        self.plan.manager_links.push(link);
                    }
                    Err(()) => unreachable!("unresolved managers are violations (checked above)"),
                },
                Attr::UserName => attr.set(&mut user, Some(&normalize_user_name(v))),
                _ => {
                    if let Some(v) = attr.sendable(v) {
                        attr.set(&mut user, Some(&v));
                    }
                }
            }
        }
        let label = label_of(&user);
        CreateUser { row_line: line, key: rs.key.to_string(), label, user }
    }

    /// The update of matched Slack user `u` to its row's values, if anything differs.
    fn update_user(&mut self, rs: &RowState<'a>, u: usize) -> Option<UpdateUser> {
        let users = self.users;
        let line = self.line_of(rs);
        let mut changes = Vec::new();
        let mut patch = User::default();
        for i in 0..self.mappings.len() {
            let attr = self.mappings[i].0;
            let want = self.rendered.get(rs.d, i);
            let have = users.value(u, self.cols[i]);
            if want.is_none() && matches!(attr, Attr::UserName | Attr::Email) {
                continue; // Slack requires both; an empty source value never clears them
            }
            let want: Option<Cow<str>> = match (attr, want) {
                (Attr::Manager, Some(mkey)) => match self.resolve_manager(mkey) {
                    Ok(Some(id)) => {
                        // Slack accepts a manager as id, email or userName: any of them matches.
                        let m = self.by_source_key.get(lower(mkey.trim()).as_ref()).and_then(|&r| self.rows[r].slack);
                        if let (Some(h), Some(m)) = (have, m)
                            && (users.primary_email(m).is_some_and(|e| eq_lower(e, h))
                                || users.user_name(m).is_some_and(|n| eq_lower(n, h)))
                        {
                            continue;
                        }
                        Some(Cow::Borrowed(id))
                    }
                    Ok(None) => {
                        // The manager is created in this run: set in a later pass of it.
                        let link = ManagerLink {
                            user: MemberRef::User { id: users.id(u).into(), label: users.label(u).to_string() },
                            row_line: line,
                            manager_key: self.pending_label(mkey),
                            manager_label: mkey.to_string(),
                        };
                        self.plan.manager_links.push(link);
                        continue;
                    }
                    Err(()) => unreachable!("unresolved managers are violations (checked above)"),
                },
                (Attr::UserName, Some(v)) => Some(user_name_key(v)),
                (a, Some(v)) if a == Attr::Guest || a.date_end().is_some() => a.sendable(v).map(Cow::Owned),
                (_, w) => w.map(Cow::Borrowed),
            };
            let same = match (have, want.as_deref()) {
                (None, None) => true,
                (Some(h), Some(w)) => attr.same_value(h, w),
                _ => false,
            };
            if !same {
                attr.set(&mut patch, want.as_deref());
                changes.push(AttrChange { attr, old: have.map(str::to_string), new: want.map(Cow::into_owned) });
            }
        }
        // The address is sent whole (Slack stores one): its other parts as they are.
        if changes.iter().any(|c| c.attr.is_address()) {
            for a in Attr::ADDRESS {
                if !changes.iter().any(|c| c.attr == a)
                    && let Some(v) = users.column(a).and_then(|c| users.value(u, c))
                {
                    a.set(&mut patch, Some(v));
                }
            }
        }
        // The other email or phone of a changed one, as it is (SCIM 1.1 sends it along).
        for (a, b) in [(Attr::Email, Attr::SecondaryEmail), (Attr::PhoneWork, Attr::PhoneMobile)] {
            for (this, other) in [(a, b), (b, a)] {
                if changes.iter().any(|c| c.attr == this)
                    && !changes.iter().any(|c| c.attr == other)
                    && let Some(v) = users.column(other).and_then(|c| users.value(u, c))
                {
                    other.set(&mut patch, Some(v));
                }
            }
        }
        if users.is_guest(u) && changes.iter().any(|c| c.attr == Attr::GuestExpiration) {
            patch.guest.get_or_insert_with(Default::default).kind.get_or_insert_with(|| "multi".into());
        }
        (!changes.is_empty()).then(|| UpdateUser {
            id: users.id(u).into(),
            label: users.label(u).to_string(),
            row_line: line,
            changes,
            patch,
        })
    }

    fn member_ref(&self, ri: usize) -> MemberRef {
        let rs = &self.rows[ri];
        match rs.slack {
            Some(si) => MemberRef::User { id: self.users.id(si).into(), label: self.users.label(si).into() },
            None => MemberRef::Pending { label: rs.key.to_string(), key: rs.key.to_string() },
        }
    }

    /// `MemberRef`'s order (existing users by id, then pending ones by key), without building them.
    fn member_order(&self, ri: usize) -> (bool, &'a str, &'a str) {
        let rs = &self.rows[ri];
        match rs.slack {
            Some(si) => (false, self.users.id(si), self.users.label(si)),
            None => (true, rs.key, rs.key),
        }
    }

    fn existing_id(&self, ri: usize) -> Option<&'a str> {
        self.rows[ri].slack.map(|si| self.users.id(si))
    }

    /// Slack's cap on a group's members (reference §7, `scim::rules::GROUP_MEMBER_CAP`): the adds
    /// beyond it (the last rows of the source) are left out of that group, each named.
    fn cap_adds(&mut self, group: &str, kept: usize, adds: Vec<usize>) -> Vec<MemberRef> {
        let room = crate::scim::rules::GROUP_MEMBER_CAP.saturating_sub(kept);
        if adds.len() <= room {
            return adds.into_iter().map(|ri| self.member_ref(ri)).collect();
        }
        let mut adds = adds;
        adds.sort_by_key(|&ri| self.line_of(&self.rows[ri]));
        let over = adds.split_off(room);
        let total = kept + room + over.len();
        self.plan.violations.reserve(over.len());
        for &ri in &over {
            let line = self.line_of(&self.rows[ri]);
            self.plan.violations.push(Violation {
                row_line: line,
                key: self.rows[ri].key.to_string(),
                rule: Rule::GroupMemberCap,
                message: format!(
                    "{}:{line}: group {group:?} would have {total} members, over Slack's {}; not added to it; {}",
                    self.source.name,
                    crate::scim::rules::GROUP_MEMBER_CAP,
                    Rule::GroupMemberCap.describe()
                ),
            });
        }
        adds.sort_by(|&a, &b| self.member_order(a).cmp(&self.member_order(b)));
        adds.into_iter().map(|ri| self.member_ref(ri)).collect()
    }

    /// Groups: each rule's Slack group created, renamed, and its members added or removed.
    fn group_changes(&mut self) {
        let users = self.users;
        let mut members_of: Map<u32, Vec<usize>> = Map::default();
        let mut held: Set<&str> = Set::default();
        for (ri, rs) in self.rows.iter().enumerate().filter(|(_, r)| r.provisioned && (r.slack.is_some() || r.pending)) {
            if rs.left_out
                && let Some(si) = rs.slack
            {
                held.insert(users.id(si));
            }
            for &g in self.groups_of(rs).iter().filter(|&&g| self.gwanted[g as usize]) {
                members_of.entry(g).or_default().push(ri);
            }
        }
        let overwrites = self.policy.groups.iter().any(|r| r.membership == Membership::Overwrite);
        let named: Vec<bool> = if overwrites {
            let mut named = vec![false; self.gname.len()];
            for &g in &self.row_groups {
                named[g as usize] = true;
            }
            named
        } else {
            Vec::new()
        };
        let t = GroupTables {
            groups_by_id: self.slack_groups.iter().map(|g| (g.id(), g)).collect(),
            groups_by_name: self.slack_groups.iter().map(|g| (g.name().trim().to_lowercase(), g)).collect(),
            members_of,
            held,
            named,
            users_by_id: if overwrites { (0..users.len()).map(|u| (users.id(u), u)).collect() } else { Map::default() },
        };
        let mut rules: Vec<&super::config::GroupRule> = self.policy.groups.iter().collect();
        rules.sort_by_key(|r| r.slack_name.to_lowercase());
        for rule in rules {
            self.group_rule(rule, &t);
        }
    }

    /// One group rule's changes.
    fn group_rule(&mut self, rule: &super::config::GroupRule, t: &GroupTables<'a>) {
        let users = self.users;
        let gid = self.gsym.get(&rule.source.to_lowercase()).copied();
        let mut desired: Vec<usize> = gid.and_then(|g| t.members_of.get(&g)).cloned().unwrap_or_default();
        desired.sort_by(|&a, &b| self.member_order(a).cmp(&self.member_order(b)));
        desired.dedup();
        let by_prior = self.prior.and_then(|p| p.group_ids.get(&rule.key)).and_then(|id| t.groups_by_id.get(id.as_str()).copied());
        let existing = by_prior.or_else(|| t.groups_by_name.get(&rule.slack_name.to_lowercase()).copied());
        let Some(g) = existing else {
            let members: Vec<usize> =
                desired.into_iter().filter(|&ri| !self.existing_id(ri).is_some_and(|id| t.held.contains(id))).collect();
            let members = self.cap_adds(&rule.slack_name, 0, members);
            self.plan.group_creates.push(GroupCreate { key: rule.key.clone(), name: rule.slack_name.clone(), members });
            return;
        };
        if g.name().trim() != rule.slack_name {
            self.plan.group_renames.push(GroupRename {
                id: g.id().into(),
                key: rule.key.clone(),
                old: g.name().into(),
                new: rule.slack_name.clone(),
            });
        }
        let current: Set<&str> = g.member_ids().collect();
        let adds: Vec<usize> = desired
            .iter()
            .copied()
            .filter(|&ri| match self.existing_id(ri) {
                Some(id) => !current.contains(id) && !t.held.contains(id),
                None => true,
            })
            .collect();
        // Members who stay: all current ones (merge), or those the source lists (overwrite).
        let kept = match rule.membership {
            Membership::Merge => current.len(),
            Membership::Overwrite => desired.iter().filter(|&&ri| self.existing_id(ri).is_some_and(|id| current.contains(id))).count(),
        };
        let adds = self.cap_adds(&rule.slack_name, kept, adds);
        let target = GroupTarget::Existing { id: g.id().into() };
        if !adds.is_empty() {
            self.plan.member_adds.push(MemberChange { group: target.clone(), group_name: rule.slack_name.clone(), members: adds });
        }
        // A source group no row names any more was renamed or deleted in the directory (or the
        // export lost it), not emptied one leaver at a time: overwriting would empty the Slack
        // group in one run. Its members are left alone and the plan says why; follow a rename by
        // changing the rule's `source` (keep its `key`).
        // (`named` is only filled when some rule overwrites: only they ask.)
        let vanished = !gid.is_some_and(|g| t.named.get(g as usize).copied().unwrap_or(false));
        if rule.membership == Membership::Overwrite && vanished && g.member_ids().next().is_some() {
            self.plan.warnings.push(format!(
                "source group {:?} is named by no row of {} (renamed or deleted in the directory?): the {} members of Slack group {:?} are left alone; if it was renamed, set this rule's `source` to the new name",
                rule.source,
                self.source.name,
                g.member_ids().count(),
                rule.slack_name
            ));
        } else if rule.membership == Membership::Overwrite {
            let keep: Set<&str> = desired.iter().filter_map(|&ri| self.existing_id(ri)).collect();
            let mut removes: Vec<MemberRef> = g
                .members
                .iter()
                .flatten()
                .filter_map(|m| {
                    let id = m.value.as_deref()?;
                    (!keep.contains(id)).then(|| MemberRef::User {
                        id: id.into(),
                        label: t
                            .users_by_id
                            .get(id)
                            .map(|&u| users.label(u).to_string())
                            .or_else(|| m.display.clone())
                            .unwrap_or_else(|| id.into()),
                    })
                })
                .collect();
            removes.sort();
            removes.dedup();
            if !removes.is_empty() {
                self.plan.member_removes.push(MemberChange { group: target, group_name: rule.slack_name.clone(), members: removes });
            }
        }
    }

    /// The plan, its violations and manager links in row order.
    fn finish(mut self) -> Plan {
        self.plan.violations.sort_by_key(|v| (v.row_line, v.rule));
        self.plan.manager_links.sort_by_key(|l| l.row_line);
        self.plan
    }
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

    proptest::proptest! {
        /// The allocation-free forms the plan compares with are the forms they stand for.
        #[test]
        fn borrowed_comparison_forms_equal_the_allocating_ones(s in "[ -~ÄäÖöİıẞß🎉@._-]{0,30}", t in "[ -~Ää]{0,12}") {
            proptest::prop_assert_eq!(user_name_key(&s).into_owned(), normalize_user_name(&s));
            proptest::prop_assert_eq!(lower(&s).into_owned(), s.to_lowercase());
            proptest::prop_assert_eq!(eq_lower(&s, &t), s.to_lowercase() == t.to_lowercase());
            proptest::prop_assert_eq!(norm(Attr::Email, &s).into_owned(), s.trim().to_lowercase());
            // Rendering into the shared arena keeps what came before and trims the value.
            let src = Source::new("t", vec!["a".into()], vec![SourceRow::new(2, &[s.as_str()])]);
            let template = Template::parse("{a} x").unwrap();
            let parts = bind(&template, &src);
            let mut arena = t.clone();
            let span = render_into(&parts, &src.rows[0], &mut arena);
            let want = format!("{} x", s.trim());
            let got = span.map(|(o, l)| arena[o as usize..(o + l) as usize].to_string());
            proptest::prop_assert_eq!(got, Some(want.trim().to_string()));
            proptest::prop_assert!(arena.starts_with(t.as_str()));
        }
    }

    #[test]
    fn templates_render_with_filters_and_values_compare_normalised() {
        let src = Source::new("t", vec!["email".into(), "first".into()], vec![SourceRow::new(2, &["Ann.Lee@X.com ", " Ann"])]);
        let t = Template::parse("{first|upper}-{email|local|lower} {{x}}").unwrap();
        assert_eq!(render(&bind(&t, &src), &src.rows[0]).as_deref(), Some("ANN-ann.lee {x}"));
        assert_eq!(render(&bind(&Template::parse("first").unwrap(), &src), &SourceRow::new(3, &["", "  "])), None);
        assert!(Attr::Email.same_value("A@x.COM", " a@X.com"));
        assert!(Attr::UserName.same_value("Ann Lee", "ann_lee"));
        assert!(!Attr::Title.same_value("Dev", "dev"));
        // Slack refuses a userName over 21 characters (reference §3): it never stores a cut one,
        // so a longer wanted name is never the same as the 21 characters Slack holds.
        assert!(!Attr::UserName.same_value("abcdefghijklmnopqrstu", "abcdefghijklmnopqrstuvwxy"));
    }

    #[test]
    fn a_source_that_fell_since_the_last_run_says_how() {
        let was = SourceStats { rows: 1000, non_blank: BTreeMap::from([("title".into(), 990), ("dept".into(), 1000)]) };
        assert!(was.drops(&was, 10.0).is_empty());
        // 100 rows fewer is 10%: not more than the share; 101 is.
        let now = SourceStats { rows: 900, non_blank: BTreeMap::from([("title".into(), 890), ("dept".into(), 900)]) };
        assert!(was.drops(&now, 10.0).is_empty(), "{:?}", was.drops(&now, 10.0));
        let now = SourceStats { rows: 899, non_blank: BTreeMap::from([("title".into(), 40), ("dept".into(), 899)]) };
        let d = was.drops(&now, 10.0);
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d[0].contains("899 rows, 101 fewer than the 1000"), "{d:?}");
        assert!(d.iter().any(|l| l.contains("column `title` has a value in 40 of 899 rows, 950 fewer than the 990")), "{d:?}");
        // A column gone from the source counts as blank everywhere.
        let now = SourceStats { rows: 1000, non_blank: BTreeMap::from([("dept".into(), 1000)]) };
        assert_eq!(was.drops(&now, 10.0).len(), 1);
        // Old state files have no stats: nothing to compare.
        let old: PriorState = serde_json::from_str(r#"{"scope_groups":[],"group_ids":{}}"#).unwrap();
        assert_eq!(old.source, None);
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
