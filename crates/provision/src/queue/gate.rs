//! The gate: the one function every write passes before anything is journaled or sent.
//!
//! [`gate`] takes the profile's [`Safety`] rules, the actions a front end built and what the
//! caller knows about their targets ([`Knowledge`]), and decides, in this order:
//!
//! 1. **read-only**: every action that writes is refused (nothing is journaled, nothing is sent);
//! 2. **protected**: users on the profile's `protected` list are skipped;
//! 3. **accounts Slack refuses**: deactivating the primary owner or a bot is skipped before it is
//!    sent (Slack would answer `cannot_disable_primary_owner` / `cannot_disable_bot_user_with_scim`);
//! 4. **no-ops**: targets already in the requested state are skipped (`already deactivated`);
//! 5. **ceilings**: a batch that changes more than the profile (or policy) allows of any kind is
//!    held as a whole until the admin passes it (`--force`, or a typed count:
//!    [`Decision::pass_ceiling`]; `--yes` never does): more deactivations than
//!    `max_deactivations`, one attribute changed or cleared on more users than
//!    `max_attribute_changes` or `max_attribute_change_percent` of the users, more of one group's
//!    members removed than `max_member_removal_percent`, more memberships removed than
//!    `max_member_removals`, more groups deleted or renamed than `max_group_deletes` /
//!    `max_group_renames`, more users created than `max_creates` ([`Ceilings`]). The hold lists
//!    every ceiling tripped and by how much ([`Tripped`]).
//!
//! The [`Decision`] it returns is what confirmations show ([`Decision::summary`]: "3 to deactivate
//! · skipped: 1 already deactivated, 1 bot, 1 primary owner") and the only thing [`submit`]
//! journals; the engine runs only a [`GatedBatch`], which only [`submit`] and [`regate`] (resume
//! and retry, which pass the gate again) make. So no front end can write around the gate: there
//! is no other way to get a batch the engine will run.
//!
//! **What the gate knows.** [`gate`] is pure: it decides from the caller's [`Knowledge`]. Every
//! front end has the target users at hand (the console's table, the headless commands' lookups,
//! the policy's live directory); resume and retry, which start from the journal, fetch them first
//! with [`Knowledge::fetch`]. A target the caller knows nothing about is not skipped for its
//! state: it is sent, Slack refuses what it refuses, and the engine's read-back catches the rest.

use super::action::{Action, ActionKind, Subject};
use super::journal::{BatchInfo, Finish, Journal, OpState};
use super::kept::{self, Kept};
use crate::queue::journal::JournalError;
use crate::scim::types::{GroupRef, Role};
use crate::scim::{ScimClient, ScimError, User};
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Default per-run ceiling on deactivations (accidental-deletion prevention).
pub const DEFAULT_MAX_DEACTIVATIONS: usize = 100;
/// Default: one attribute may change (or be cleared) on at most this many users in one run ...
pub const DEFAULT_MAX_ATTRIBUTE_CHANGES: usize = 500;
/// ... and on at most this share of the users (when the caller knows how many there are).
pub const DEFAULT_MAX_ATTRIBUTE_CHANGE_PERCENT: f64 = 25.0;
/// A share ceiling on attribute changes never holds a run that changes this many users or fewer
/// (a small org's ordinary edits are not a mass change).
pub const ATTRIBUTE_SHARE_FLOOR: usize = 10;
/// Default: at most this many group memberships removed in one run ...
pub const DEFAULT_MAX_MEMBER_REMOVALS: usize = 200;
/// ... and at most this share of one group's members.
pub const DEFAULT_MAX_MEMBER_REMOVAL_PERCENT: f64 = 25.0;
/// A share ceiling on one group's members never holds this many removals or fewer.
pub const MEMBER_SHARE_FLOOR: usize = 2;
/// Default: at most this many groups deleted in one run.
pub const DEFAULT_MAX_GROUP_DELETES: usize = 2;
/// Default: at most this many groups renamed in one run.
pub const DEFAULT_MAX_GROUP_RENAMES: usize = 10;
/// Default: at most this many users created in one run.
pub const DEFAULT_MAX_CREATES: usize = 500;
/// Above this many destructive operations the admin types the count to confirm (every front
/// end's confirmation; the console's `ui.confirm_threshold` may lower or raise it).
pub const CONFIRM_THRESHOLD: usize = 25;

/// How much of each kind of change one run may make before the gate holds it (the profile's
/// `max_*` settings in config.toml; a policy's `[provisioning]` may set its own for its runs).
#[derive(Clone, Debug, PartialEq)]
pub struct Ceilings {
    pub deactivations: usize,
    /// Users one attribute may be changed or cleared on.
    pub attribute_changes: usize,
    /// ... as a share (percent) of the users.
    pub attribute_change_percent: f64,
    /// Group memberships removed in the run, all groups together.
    pub member_removals: usize,
    /// Share (percent) of one group's members removed.
    pub member_removal_percent: f64,
    pub group_deletes: usize,
    pub group_renames: usize,
    pub creates: usize,
}

impl Default for Ceilings {
    fn default() -> Self {
        Ceilings {
            deactivations: DEFAULT_MAX_DEACTIVATIONS,
            attribute_changes: DEFAULT_MAX_ATTRIBUTE_CHANGES,
            attribute_change_percent: DEFAULT_MAX_ATTRIBUTE_CHANGE_PERCENT,
            member_removals: DEFAULT_MAX_MEMBER_REMOVALS,
            member_removal_percent: DEFAULT_MAX_MEMBER_REMOVAL_PERCENT,
            group_deletes: DEFAULT_MAX_GROUP_DELETES,
            group_renames: DEFAULT_MAX_GROUP_RENAMES,
            creates: DEFAULT_MAX_CREATES,
        }
    }
}

/// Settings that override [`Ceilings`] (a profile's or a policy's; unset keeps what is there).
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CeilingSettings {
    pub max_attribute_changes: Option<usize>,
    pub max_attribute_change_percent: Option<f64>,
    pub max_member_removals: Option<usize>,
    pub max_member_removal_percent: Option<f64>,
    pub max_group_deletes: Option<usize>,
    pub max_group_renames: Option<usize>,
    pub max_creates: Option<usize>,
}

impl CeilingSettings {
    /// The keys, for messages.
    pub const KEYS: [&'static str; 7] = [
        "max_attribute_changes",
        "max_attribute_change_percent",
        "max_member_removals",
        "max_member_removal_percent",
        "max_group_deletes",
        "max_group_renames",
        "max_creates",
    ];

    /// A percentage that is none (the key and the message), if any.
    pub fn bad_percent(&self) -> Option<(&'static str, String)> {
        [
            ("max_attribute_change_percent", self.max_attribute_change_percent),
            ("max_member_removal_percent", self.max_member_removal_percent),
        ]
        .into_iter()
        .find_map(|(k, v)| v.filter(|p| !(0.0..=100.0).contains(p)).map(|p| (k, format!("{p} is not a percentage between 0 and 100"))))
    }
}

impl Ceilings {
    /// These ceilings with the set ones of `s` in their place.
    pub fn with(&self, s: &CeilingSettings) -> Ceilings {
        Ceilings {
            deactivations: self.deactivations,
            attribute_changes: s.max_attribute_changes.unwrap_or(self.attribute_changes),
            attribute_change_percent: s.max_attribute_change_percent.unwrap_or(self.attribute_change_percent),
            member_removals: s.max_member_removals.unwrap_or(self.member_removals),
            member_removal_percent: s.max_member_removal_percent.unwrap_or(self.member_removal_percent),
            group_deletes: s.max_group_deletes.unwrap_or(self.group_deletes),
            group_renames: s.max_group_renames.unwrap_or(self.group_renames),
            creates: s.max_creates.unwrap_or(self.creates),
        }
    }
}

/// The profile's rules, plus the run's `--read-only` and `--force`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Safety {
    /// `--read-only`: refuse every write.
    pub read_only: bool,
    /// Emails (any case), userNames or ids that are never touched.
    pub protected: Vec<String>,
    /// How much of each kind of change a run may make before it is held.
    pub ceilings: Ceilings,
    /// Let a run pass the ceilings.
    pub force: bool,
    /// Four-eyes: a batch that would deactivate or change more users than this is held for
    /// another account's approval (the profile's `approval_over`; `crate::approval`).
    pub approval_over: Option<usize>,
}

impl Safety {
    pub fn from_profile(p: &crate::config::Profile, force: bool) -> Safety {
        let ceilings = Ceilings { deactivations: p.max_deactivations.unwrap_or(DEFAULT_MAX_DEACTIVATIONS), ..Ceilings::default() }.with(
            &CeilingSettings {
                max_attribute_changes: p.max_attribute_changes,
                max_attribute_change_percent: p.max_attribute_change_percent,
                max_member_removals: p.max_member_removals,
                max_member_removal_percent: p.max_member_removal_percent,
                max_group_deletes: p.max_group_deletes,
                max_group_renames: p.max_group_renames,
                max_creates: p.max_creates,
            },
        );
        Safety { protected: p.protected.clone(), ceilings, force, approval_over: p.approval_over, ..Safety::default() }
    }

    /// These rules with a policy's own ceilings (its `[provisioning]` settings) in place of the
    /// profile's, for that policy's runs.
    pub fn with_ceilings(self, s: &CeilingSettings) -> Safety {
        let ceilings = self.ceilings.with(s);
        Safety { ceilings, ..self }
    }

    pub fn with_read_only(self, read_only: bool) -> Safety {
        Safety { read_only, ..self }
    }

    /// The gate's first rule on its own, for a front end that wants to refuse before it even
    /// builds actions (a headless write command before it connects, a name prompt before it
    /// opens). [`gate`] applies the same rule to every action.
    pub fn refuses_writes(&self) -> Option<Hold> {
        self.read_only.then_some(Hold::ReadOnly)
    }

    /// On the protected list by id, userName or any of the emails (primary and secondary), without
    /// regard to case ([`is_protected_user`], the one matcher; the policy planner uses it too).
    fn is_protected<'a>(&self, id: Option<&str>, emails: impl Iterator<Item = &'a str>, user_name: Option<&str>) -> bool {
        is_protected_user(&self.protected, id, emails, user_name)
    }
}

/// A user matches a protected list on any of their emails (primary and secondary), their id or
/// their userName, without regard to case or surrounding spaces.
pub fn is_protected_user<'a>(
    protected: &[String],
    id: Option<&str>,
    mut emails: impl Iterator<Item = &'a str>,
    user_name: Option<&str>,
) -> bool {
    if protected.is_empty() {
        return false;
    }
    let hit = |v: &str| {
        let v = v.trim();
        !v.is_empty()
            && protected
                .iter()
                .map(|p| p.trim())
                .any(|p| p.eq_ignore_ascii_case(v) || (!p.is_ascii() && p.to_lowercase() == v.to_lowercase()))
    };
    id.is_some_and(hit) || user_name.is_some_and(hit) || emails.any(hit)
}

/// What kind of account a user is, as far as Slack's refusals go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Account {
    #[default]
    Member,
    /// A `roles` entry `primary_owner` (a string or an object's value; any case, spaces or `-`).
    PrimaryOwner,
    /// An email at `slack-bots.com` (reference §3: `botuser-T…-A…@slack-bots.com`).
    Bot,
}

pub fn is_bot_email(email: &str) -> bool {
    email.trim().to_ascii_lowercase().ends_with("@slack-bots.com")
}

/// The one classifier of the accounts Slack refuses to deactivate (the policy planner uses it too).
pub fn account_of(u: &User) -> Account {
    let emails = u.emails.iter().flatten().filter_map(|e| e.value.as_deref());
    let roles = u.roles.iter().flatten().filter_map(role_value);
    account_from(emails, roles)
}

/// A role's value, in either form a server sends it.
fn role_value(r: &Role) -> Option<&str> {
    match r {
        Role::Text(s) => Some(s.as_str()),
        Role::Object(mv) => mv.value.as_deref(),
    }
}

/// [`account_of`] from a user's email values and role values (a listing's
/// [`scim::wire::UserSummary`] keeps just these).
pub fn account_from<'a>(mut emails: impl Iterator<Item = &'a str>, mut roles: impl Iterator<Item = &'a str>) -> Account {
    if emails.any(is_bot_email) {
        return Account::Bot;
    }
    if roles.any(|v| v.trim().to_lowercase().replace([' ', '-'], "_") == "primary_owner") { Account::PrimaryOwner } else { Account::Member }
}

/// What the gate needs to know about one user.
#[derive(Clone, Debug, PartialEq)]
pub struct UserFacts {
    pub active: Option<bool>,
    pub email: Option<String>,
    /// Every email of the user (primary and secondary), for the protected list; empty when only
    /// the primary is known (then `email` is matched).
    pub emails: Vec<String>,
    pub user_name: Option<String>,
    pub account: Account,
    /// The groups the user is in (the user's `groups`, or a group listing); `None`: not known.
    /// A deactivation keeps them (`kept.rs`).
    pub groups: Option<Vec<GroupRef>>,
    pub roles: Vec<Role>,
}

impl UserFacts {
    /// The primary email and every other one known.
    pub fn all_emails(&self) -> impl Iterator<Item = &str> {
        self.email.as_deref().into_iter().chain(self.emails.iter().map(String::as_str))
    }

    pub fn of(u: &User) -> UserFacts {
        UserFacts {
            active: u.active,
            email: u.primary_email().map(str::to_string),
            emails: u.emails.iter().flatten().filter_map(|e| e.value.clone()).filter(|e| !e.trim().is_empty()).collect(),
            user_name: u.user_name.clone(),
            account: account_of(u),
            groups: u.groups.clone(),
            roles: u.roles.clone().unwrap_or_default(),
        }
    }
}

/// What the caller knows about the targets, by user id; and, for the share ceilings, how many
/// users there are and how many members each group has.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Knowledge {
    users: HashMap<String, UserFacts>,
    /// Users [`Knowledge::fetch`] could not read (id, the error after the client's retries):
    /// [`regate`] does not send what depends on them.
    unread: HashMap<String, String>,
    /// The users of the directory (active ones), when the caller knows.
    population: Option<usize>,
    /// Members of each group (by id), when the caller knows.
    group_sizes: HashMap<String, usize>,
}

/// Up to this many unknown users are read one by one (`GET /Users/{id}`, 300/min); more are read
/// by listing every user (1,000 a page under the 1,000 reads/min org budget), which is cheaper.
pub const FETCH_ONE_BY_ONE: usize = 50;

impl Knowledge {
    pub fn from_users<'a>(users: impl IntoIterator<Item = &'a User>) -> Knowledge {
        let mut k = Knowledge::default();
        for u in users {
            k.add(u);
        }
        k
    }

    pub fn add(&mut self, u: &User) {
        if let Some(id) = u.id.as_deref().filter(|s| !s.is_empty()) {
            self.users.insert(id.to_string(), UserFacts::of(u));
        }
    }

    /// Add what is known about one user (from the compact directory, say).
    pub fn insert(&mut self, id: String, facts: UserFacts) {
        if !id.is_empty() {
            self.users.insert(id, facts);
        }
    }

    pub fn user(&self, id: &str) -> Option<&UserFacts> {
        self.users.get(id)
    }

    /// Why reading this user failed in [`Knowledge::fetch`] (not "Slack does not know them").
    pub fn unread(&self, id: &str) -> Option<&str> {
        self.unread.get(id).map(String::as_str)
    }

    /// How many (active) users the directory has: the base of the attribute share ceiling.
    pub fn set_population(&mut self, n: usize) {
        self.population = Some(n);
    }

    pub fn population(&self) -> Option<usize> {
        self.population
    }

    /// How many members a group has now: the base of the member removal share ceiling.
    pub fn set_group_size(&mut self, group_id: &str, members: usize) {
        self.group_sizes.insert(group_id.to_string(), members);
    }

    pub fn group_size(&self, group_id: &str) -> Option<usize> {
        self.group_sizes.get(group_id).copied()
    }

    /// Fill in the groups of the known users whose `groups` the server did not send, from a
    /// complete group listing (id, name, member ids).
    pub fn add_memberships<'a>(&mut self, groups: impl IntoIterator<Item = (&'a str, &'a str, &'a [String])>) {
        let mut of: HashMap<&str, Vec<GroupRef>> = HashMap::new();
        for (gid, name, members) in groups {
            for m in members {
                if self.users.get(m.as_str()).is_some_and(|f| f.groups.is_none()) {
                    of.entry(m.as_str()).or_default().push(GroupRef { value: Some(gid.to_string()), display: Some(name.to_string()) });
                }
            }
        }
        for (id, f) in self.users.iter_mut() {
            if f.groups.is_none() {
                f.groups = Some(of.remove(id.as_str()).unwrap_or_default());
            }
        }
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The user ids the gate would look at for these actions.
    fn wanted(safety: &Safety, actions: &[Action]) -> Vec<String> {
        let mut ids = HashSet::new();
        for a in actions {
            match a {
                Action::RemoveMembers { user_ids, .. } if !safety.protected.is_empty() => ids.extend(user_ids.iter().cloned()),
                a if a.spec().subject == Subject::User && a.kind() != ActionKind::CreateUser => {
                    ids.extend(a.target().id.filter(|s| !s.is_empty()))
                }
                _ => {}
            }
        }
        let mut ids: Vec<String> = ids.into_iter().collect();
        ids.sort();
        ids
    }

    /// Read the targets of `actions` that the gate looks at (the async half of the gate, for
    /// callers that start from the journal: resume and retry). A user Slack does not know is left
    /// unknown (the op then fails with Slack's reason); a user whose read failed otherwise (after
    /// the client's retries) is noted in [`Knowledge::unread`], and the others are still read
    /// (issue 25: one failed read gave up the whole retry). Only a failed listing is an error.
    pub async fn fetch(client: &ScimClient, safety: &Safety, actions: &[Action]) -> Result<Knowledge, ScimError> {
        let ids = Self::wanted(safety, actions);
        let mut k = Knowledge::default();
        if ids.is_empty() {
            return Ok(k);
        }
        if ids.len() > FETCH_ONE_BY_ONE {
            let want: HashSet<&str> = ids.iter().map(String::as_str).collect();
            for u in client.all_users(None).await? {
                if want.contains(u.id()) {
                    k.add(&u);
                }
            }
            return Ok(k);
        }
        let got: Vec<(String, Result<User, ScimError>)> = futures::stream::iter(ids.into_iter().map(|id| {
            let client = client.clone();
            async move {
                let r = client.get_user(&id).await;
                (id, r)
            }
        }))
        .buffer_unordered(8)
        .collect()
        .await;
        for (id, r) in got {
            match r {
                Ok(u) => k.add(&u),
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    k.unread.insert(id, e.to_string());
                }
            }
        }
        Ok(k)
    }
}

/// Why the gate skipped an action. The order is the summary's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// The target is already as asked.
    AlreadyInState,
    /// A bot user: Slack refuses to deactivate bots through SCIM.
    Bot,
    /// The primary owner: Slack refuses to deactivate them.
    PrimaryOwner,
    /// On the profile's `protected` list.
    Protected,
    /// `--read-only`.
    ReadOnly,
    /// A member to add who is deactivated (and not reactivated by the same batch): Slack refuses
    /// the whole add (`unable_to_add_deleted_or_guest_to_group`, reference §7).
    Deactivated,
    /// An admin or owner an update would make a guest: Slack refuses (`cannot_make_user_guest`,
    /// reference §3).
    AdminGuest,
}

impl SkipReason {
    /// The journal's and the report's `error_code`.
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::AlreadyInState => "already_in_state",
            SkipReason::Bot => "bot",
            SkipReason::PrimaryOwner => "primary_owner",
            SkipReason::Protected => "protected",
            SkipReason::ReadOnly => "read_only",
            SkipReason::Deactivated => "deactivated",
            SkipReason::AdminGuest => "admin_guest",
        }
    }

    /// Words for the summary ("1 bot", "2 bots", "1 already deactivated").
    pub fn label(self, kind: ActionKind, n: usize) -> String {
        let one = n == 1;
        match self {
            SkipReason::AlreadyInState => kind.spec().no_op.into(),
            SkipReason::Bot => (if one { "bot" } else { "bots" }).into(),
            SkipReason::PrimaryOwner => (if one { "primary owner" } else { "primary owners" }).into(),
            SkipReason::Protected => "protected".into(),
            SkipReason::ReadOnly => "refused (read-only)".into(),
            SkipReason::Deactivated => "deactivated".into(),
            SkipReason::AdminGuest => (if one { "admin or owner made a guest" } else { "admins or owners made guests" }).into(),
        }
    }

    /// One sentence for the Log, the journal's note and the report.
    pub fn explain(self, kind: ActionKind) -> String {
        match self {
            SkipReason::AlreadyInState => kind.spec().no_op.to_string(),
            SkipReason::Bot => "a bot user: Slack refuses to deactivate bots through SCIM (cannot_disable_bot_user_with_scim)".into(),
            SkipReason::PrimaryOwner => "the primary owner: Slack refuses to deactivate them (cannot_disable_primary_owner)".into(),
            SkipReason::Protected => "protected by the config's protected list".into(),
            SkipReason::ReadOnly => "read-only mode: writes are refused".into(),
            SkipReason::Deactivated => "deactivated: Slack refuses to add a deactivated user to a group (unable_to_add_deleted_or_guest_to_group); reactivate them first".into(),
            SkipReason::AdminGuest => {
                "an admin or owner: Slack never makes an admin or owner a guest (cannot_make_user_guest); change their role in Slack first".into()
            }
        }
    }
}

/// One action the gate will not send, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Skip {
    pub action: Action,
    pub reason: SkipReason,
}

impl Skip {
    pub fn why(&self) -> String {
        self.reason.explain(self.action.kind())
    }
}

/// Which ceiling of [`Ceilings`] a run is over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ceiling {
    Deactivations,
    /// One attribute (its short name: `title`) changed or cleared on too many users; `cleared` of
    /// them are clears.
    Attribute {
        attr: &'static str,
        cleared: usize,
    },
    /// Too many of one group's members removed.
    GroupMembers {
        group: String,
    },
    /// Too many memberships removed in the run.
    MemberRemovals,
    GroupDeletes,
    GroupRenames,
    Creates,
}

/// One ceiling a batch is over, and by how much.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tripped {
    pub ceiling: Ceiling,
    /// What the batch would do.
    pub count: usize,
    /// Out of how many (the users, the group's members), when known.
    pub of: Option<usize>,
    /// The ceiling it is over.
    pub limit: usize,
    /// The setting (and the share, when the share set the limit) that makes the limit.
    pub setting: String,
}

impl std::fmt::Display for Tripped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.count;
        let of = |noun: &str| match self.of {
            Some(total) => format!("{n} of {}", crate::words::count(total, noun)),
            None => crate::words::count(n, noun),
        };
        let what = match &self.ceiling {
            Ceiling::Deactivations => format!("deactivate {}", crate::words::count(n, "user")),
            Ceiling::Attribute { attr, cleared } if *cleared == n => format!("clear {attr} on {}", of("user")),
            Ceiling::Attribute { attr, cleared: 0 } => format!("change {attr} on {}", of("user")),
            Ceiling::Attribute { attr, cleared } => format!("change or clear {attr} on {} ({cleared} cleared)", of("user")),
            Ceiling::GroupMembers { group } => match self.of {
                Some(total) => format!("remove {n} of the {total} members of group {group}"),
                None => format!("remove {} from group {group}", crate::words::count(n, "member")),
            },
            Ceiling::MemberRemovals => format!("remove {}", crate::words::count(n, "group membership")),
            Ceiling::GroupDeletes => format!("delete {}", crate::words::count(n, "group")),
            Ceiling::GroupRenames => format!("rename {}", crate::words::count(n, "group")),
            Ceiling::Creates => format!("create {}", crate::words::count(n, "user")),
        };
        write!(f, "this run would {what}, above the ceiling of {} ({})", self.limit, self.setting)
    }
}

/// Why a whole decision may not be journaled as it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hold {
    /// `--read-only`: nothing may run, ever, in this process.
    ReadOnly,
    /// Over one or more ceilings (every one listed): only `--force` or a typed count passes;
    /// `--yes` never does.
    Ceilings(Vec<Tripped>),
}

impl std::fmt::Display for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hold::ReadOnly => f.write_str("read-only mode: writes are refused (restart without --read-only to change anything)"),
            Hold::Ceilings(_) => write!(f, "{}; pass --force if that is really meant", self.reason()),
        }
    }
}

impl Hold {
    /// What holds the run, without the headless advice (`--force`): a front end that passes the
    /// ceiling another way (the console's typed count) says its own.
    pub fn reason(&self) -> String {
        match self {
            Hold::ReadOnly => self.to_string(),
            Hold::Ceilings(t) => t.iter().map(Tripped::to_string).collect::<Vec<_>>().join("; "),
        }
    }

    /// The ceilings tripped (none for read-only).
    pub fn tripped(&self) -> &[Tripped] {
        match self {
            Hold::ReadOnly => &[],
            Hold::Ceilings(t) => t,
        }
    }
}

/// What the gate decided about a list of actions. Only [`gate`] makes one.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    run: Vec<Action>,
    skipped: Vec<Skip>,
    hold: Option<Hold>,
    /// What the runnable deactivations take away, by user id, as the caller's knowledge says
    /// (journaled with the batch; the engine reads the others just before sending).
    kept: BTreeMap<String, Kept>,
    /// Four-eyes: the batch changes more users than `approval_over` allows without another
    /// account's approval; [`submit`] refuses it until [`Decision::approved`].
    approval: Option<NeedsApproval>,
}

/// A batch over the profile's `approval_over`: how many users it would deactivate or change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NeedsApproval {
    /// Distinct users the runnable actions deactivate, reactivate, create, change or move in or
    /// out of a group.
    pub users: usize,
    /// The profile's `approval_over`.
    pub over: usize,
}

impl std::fmt::Display for NeedsApproval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "this batch changes {} (over approval_over = {}): it needs the approval of another account",
            crate::words::count(self.users, "user"),
            self.over
        )
    }
}

/// Proof that another account approved a batch (made only by `crate::approval`, after it checked
/// that the approver is not the proposer).
pub struct FourEyes(());

impl FourEyes {
    pub(crate) fn new() -> FourEyes {
        FourEyes(())
    }
}

/// The distinct users a list of actions deactivates or changes (what `approval_over` counts):
/// the targets of user actions (each user created counts as one) and the members added to or
/// removed from groups.
pub fn users_changed(actions: &[Action]) -> usize {
    let mut ids: HashSet<&str> = HashSet::new();
    let mut created = 0;
    let mut targets = Vec::new();
    for a in actions {
        if a.spec().subject == Subject::User {
            match a.target().id {
                Some(id) => targets.push(id),
                None => created += 1,
            }
        }
        ids.extend(a.member_ids().iter().map(String::as_str));
    }
    for t in &targets {
        ids.insert(t.as_str());
    }
    ids.len() + created
}

impl Decision {
    /// The actions that will be sent, in the caller's order.
    pub fn runnable(&self) -> &[Action] {
        &self.run
    }

    pub fn skipped(&self) -> &[Skip] {
        &self.skipped
    }

    pub fn hold(&self) -> Option<&Hold> {
        self.hold.as_ref()
    }

    /// What the runnable deactivations take away, as far as the caller knew (by user id).
    pub fn kept(&self) -> &BTreeMap<String, Kept> {
        &self.kept
    }

    pub fn is_read_only(&self) -> bool {
        self.hold == Some(Hold::ReadOnly)
    }

    /// The ceilings' warning (every one tripped, and by how much), when the batch is held by them.
    pub fn ceiling(&self) -> Option<String> {
        self.hold.as_ref().filter(|h| matches!(h, Hold::Ceilings(_))).map(Hold::to_string)
    }

    /// The ceilings' reason without the headless advice (see [`Hold::reason`]).
    pub fn ceiling_reason(&self) -> Option<String> {
        self.hold.as_ref().filter(|h| matches!(h, Hold::Ceilings(_))).map(Hold::reason)
    }

    /// The ceilings the batch is over (empty when it is not held by one).
    pub fn tripped(&self) -> &[Tripped] {
        self.hold.as_ref().map_or(&[], Hold::tripped)
    }

    /// Four-eyes: the batch needs another account's approval before [`submit`] takes it.
    pub fn needs_approval(&self) -> Option<&NeedsApproval> {
        self.approval.as_ref()
    }

    /// Another account approved the batch (`crate::approval`): [`submit`] takes it.
    pub fn approved(mut self, _: &FourEyes) -> Decision {
        self.approval = None;
        self
    }

    /// Count in the ceilings what a later batch of the same run will send (a policy's second
    /// pass: managers and memberships of users the first creates, which have no id to gate yet):
    /// the ceilings are the run's, not each batch's (issue 25). `later` is not added to the
    /// runnable actions; it only counts. Read-only and `--force` decisions are left as they are.
    pub fn count_later(mut self, safety: &Safety, later: &[Action], known: &Knowledge) -> Decision {
        if later.is_empty() || safety.read_only || safety.force || self.is_read_only() {
            return self;
        }
        let all: Vec<Action> = self.run.iter().chain(later).cloned().collect();
        let tripped = over_ceilings(&safety.ceilings, &all, known);
        self.hold = (!tripped.is_empty()).then_some(Hold::Ceilings(tripped));
        self
    }

    /// The admin passed the ceilings (`--force`, or typed the count). Read-only is never passed.
    pub fn pass_ceiling(mut self) -> Decision {
        if matches!(self.hold, Some(Hold::Ceilings(_))) {
            self.hold = None;
        }
        self
    }

    pub fn deactivations(&self) -> usize {
        self.run.iter().filter(|a| a.kind() == ActionKind::Deactivate).count()
    }

    pub fn destructive(&self) -> usize {
        self.run.iter().filter(|a| a.is_destructive()).count()
    }

    /// Nothing will be sent.
    pub fn is_empty(&self) -> bool {
        self.run.is_empty()
    }

    /// One line: "3 to deactivate · skipped: 1 already deactivated, 1 bot, 1 primary owner".
    pub fn summary(&self) -> String {
        if self.is_read_only() {
            let n = self.skipped.len();
            return format!("read-only: {} refused, nothing will be sent", crate::words::count(n, "operation"));
        }
        let mut kinds: BTreeMap<ActionKind, usize> = BTreeMap::new();
        for a in &self.run {
            *kinds.entry(a.kind()).or_default() += 1;
        }
        let mut s = if kinds.is_empty() {
            "nothing to run".to_string()
        } else {
            kinds.iter().map(|(k, n)| format!("{n} to {}", k.spec().verb)).collect::<Vec<_>>().join(", ")
        };
        if !self.skipped.is_empty() {
            // Grouped by reason, and for no-ops by what "already" means for the kind.
            let mut groups: BTreeMap<(SkipReason, &'static str), (ActionKind, usize)> = BTreeMap::new();
            for sk in &self.skipped {
                let k = sk.action.kind();
                let key = if sk.reason == SkipReason::AlreadyInState { k.spec().no_op } else { "" };
                groups.entry((sk.reason, key)).or_insert((k, 0)).1 += 1;
            }
            let parts: Vec<String> = groups.iter().map(|((r, _), (k, n))| format!("{n} {}", r.label(*k, *n))).collect();
            s.push_str(&format!(" · skipped: {}", parts.join(", ")));
        }
        // (A ceiling is told by `ceiling()`, on a line of its own.)
        s
    }
}

/// Steps 1-4 for one action: None = it runs.
fn verdict(safety: &Safety, a: &Action, known: &Knowledge) -> Option<SkipReason> {
    if safety.read_only && a.writes() {
        return Some(SkipReason::ReadOnly);
    }
    let kind = a.kind();
    let target = a.target();
    let facts = target.id.as_deref().and_then(|id| known.user(id));
    if kind.spec().subject == Subject::User {
        let email = target.email.as_deref().or(facts.and_then(|f| f.email.as_deref()));
        let name = target.user_name.as_deref().or(facts.and_then(|f| f.user_name.as_deref()));
        // A user created by this run is not yet anyone's to protect.
        if kind != ActionKind::CreateUser
            && (safety.is_protected(target.id.as_deref(), email.into_iter(), name)
                || facts.is_some_and(|f| safety.is_protected(None, f.all_emails(), f.user_name.as_deref())))
        {
            return Some(SkipReason::Protected);
        }
    }
    if let Action::RemoveMembers { user_ids, .. } = a
        && user_ids.iter().any(|id| {
            let f = known.user(id);
            safety.is_protected(Some(id), f.into_iter().flat_map(UserFacts::all_emails), f.and_then(|f| f.user_name.as_deref()))
        })
    {
        return Some(SkipReason::Protected);
    }
    // Slack refuses to deactivate (or make a guest of) the primary owner and bots.
    let refused_change = match a {
        Action::Deactivate { .. } => true,
        Action::UpdateUser { update, .. } => update.set.active == Some(false) || update.set.guest.is_some(),
        _ => false,
    };
    if refused_change {
        let account = facts
            .map(|f| f.account)
            .unwrap_or_else(|| if target.email.as_deref().is_some_and(is_bot_email) { Account::Bot } else { Account::Member });
        match account {
            Account::PrimaryOwner => return Some(SkipReason::PrimaryOwner),
            Account::Bot => return Some(SkipReason::Bot),
            Account::Member => {}
        }
    }
    // Slack never makes an admin or owner a guest, whichever front end built the update.
    if let Action::UpdateUser { update, .. } = a
        && update.set.guest.is_some()
        && facts.is_some_and(|f| f.roles.iter().filter_map(role_value).any(crate::scim::rules::is_admin_role))
    {
        return Some(SkipReason::AdminGuest);
    }
    let already = match a {
        Action::RenameGroup { from, to, .. } => from == to,
        _ => kind.spec().leaves_active.is_some_and(|want| facts.and_then(|f| f.active) == Some(want)),
    };
    already.then_some(SkipReason::AlreadyInState)
}

/// Split the members of an add (or a new group) Slack would refuse: users known to be
/// deactivated whom the same batch does not reactivate. Returns (the action with the others, the
/// refused ones).
fn screen_members(a: Action, known: &Knowledge, reactivated: &HashSet<String>) -> (Option<Action>, Option<Action>) {
    let adds = matches!(a, Action::AddMembers { .. } | Action::CreateGroup { .. });
    if !adds {
        return (Some(a), None);
    }
    let (refused, kept): (Vec<String>, Vec<String>) =
        a.member_ids().iter().cloned().partition(|id| known.user(id).is_some_and(|f| f.active == Some(false)) && !reactivated.contains(id));
    if refused.is_empty() {
        return (Some(a), None);
    }
    let refused_action = a.with_members(refused);
    // A new group is still made with the others (or none); an add of nobody is nothing.
    let rest = match &a {
        Action::AddMembers { .. } if kept.is_empty() => None,
        _ => Some(a.with_members(kept)),
    };
    (rest, Some(refused_action))
}

/// **The gate.** Decide which actions run and which are skipped (and why), and whether the batch
/// is held (read-only, ceiling). See the module documentation for the order of the rules.
pub fn gate(safety: &Safety, actions: Vec<Action>, known: &Knowledge) -> Decision {
    let mut d = Decision { run: Vec::new(), skipped: Vec::new(), hold: None, kept: BTreeMap::new(), approval: None };
    // Users this batch reactivates may be added to groups by it (a restore does both).
    let reactivated: HashSet<String> = actions
        .iter()
        .filter(|a| a.kind() == ActionKind::Reactivate && verdict(safety, a, known).is_none())
        .filter_map(|a| a.target().id)
        .collect();
    for a in actions {
        let a = if safety.read_only {
            a
        } else {
            let (rest, refused) = screen_members(a, known, &reactivated);
            if let Some(r) = refused {
                d.skipped.push(Skip { action: r, reason: SkipReason::Deactivated });
            }
            match rest {
                Some(a) => a,
                None => continue,
            }
        };
        match verdict(safety, &a, known) {
            None => {
                if a.spec().keeps
                    && let Some(id) = a.target().id
                    && let Some(f) = known.user(&id)
                    && f.groups.is_some()
                {
                    d.kept.insert(id.clone(), Kept::from_parts(&id, f.groups.as_deref(), &f.roles, kept::FROM_TARGETS));
                }
                d.run.push(a)
            }
            Some(reason) => d.skipped.push(Skip { action: a, reason }),
        }
    }
    d.hold = if safety.read_only {
        Some(Hold::ReadOnly)
    } else if safety.force {
        None
    } else {
        let tripped = over_ceilings(&safety.ceilings, &d.run, known);
        (!tripped.is_empty()).then_some(Hold::Ceilings(tripped))
    };
    if !safety.read_only
        && let Some(over) = safety.approval_over
    {
        let users = users_changed(&d.run);
        if users > over {
            d.approval = Some(NeedsApproval { users, over });
        }
    }
    d
}

/// The share `percent` of `total`, but never below `floor`.
fn share_limit(percent: f64, total: usize, floor: usize) -> usize {
    ((total as f64 * percent / 100.0).floor() as usize).max(floor)
}

/// The lower of an absolute limit and a share of `of` (when known), and the setting that made it.
fn limit_of(abs: usize, abs_key: &str, share: Option<(f64, usize, usize, &str, &str)>) -> (usize, String) {
    match share {
        Some((pct, total, floor, key, noun)) => {
            let by_share = share_limit(pct, total, floor);
            if by_share < abs {
                (by_share, format!("{pct}% of {}: {key}", crate::words::count(total, noun)))
            } else {
                (abs, abs_key.to_string())
            }
        }
        None => (abs, abs_key.to_string()),
    }
}

/// Step 5: every ceiling the runnable actions are over.
fn over_ceilings(c: &Ceilings, run: &[Action], known: &Knowledge) -> Vec<Tripped> {
    let mut out = Vec::new();
    let count = |kind: ActionKind| run.iter().filter(|a| a.kind() == kind).count();
    let simple = [
        (Ceiling::Creates, count(ActionKind::CreateUser), c.creates, "max_creates"),
        (Ceiling::Deactivations, count(ActionKind::Deactivate), c.deactivations, "max_deactivations"),
        (Ceiling::GroupRenames, count(ActionKind::RenameGroup), c.group_renames, "max_group_renames"),
        (Ceiling::GroupDeletes, count(ActionKind::DeleteGroup), c.group_deletes, "max_group_deletes"),
    ];
    // Attributes: users whose value each attribute changes, and of them how many are clears.
    let mut attrs: BTreeMap<super::attr::Attr, (usize, usize)> = BTreeMap::new();
    // Removals per group (in the order first met), and in all.
    let mut removals: Vec<(&str, &str, usize)> = Vec::new();
    for a in run {
        match a {
            Action::UpdateUser { update, .. } => {
                for (attr, cleared) in update.touched() {
                    let e = attrs.entry(attr).or_default();
                    e.0 += 1;
                    e.1 += cleared as usize;
                }
            }
            Action::RemoveMembers { group_id, group_name, user_ids } => match removals.iter_mut().find(|(id, _, _)| id == group_id) {
                Some(r) => r.2 += user_ids.len(),
                None => removals.push((group_id, group_name, user_ids.len())),
            },
            _ => {}
        }
    }
    let mut push = |ceiling: Ceiling, n: usize, of: Option<usize>, (limit, setting): (usize, String)| {
        if n > limit {
            out.push(Tripped { ceiling, count: n, of, limit, setting });
        }
    };
    for (ceiling, n, limit, key) in simple {
        push(ceiling, n, None, (limit, key.to_string()));
    }
    let users = known.population();
    for (attr, (n, cleared)) in attrs {
        let share = users.map(|u| (c.attribute_change_percent, u, ATTRIBUTE_SHARE_FLOOR, "max_attribute_change_percent", "user"));
        push(Ceiling::Attribute { attr: attr.short(), cleared }, n, users, limit_of(c.attribute_changes, "max_attribute_changes", share));
    }
    let total: usize = removals.iter().map(|r| r.2).sum();
    for (id, name, n) in &removals {
        if let Some(size) = known.group_size(id) {
            let limit = (
                share_limit(c.member_removal_percent, size, MEMBER_SHARE_FLOOR),
                format!("{}% of its members: max_member_removal_percent", c.member_removal_percent),
            );
            push(Ceiling::GroupMembers { group: name.to_string() }, *n, Some(size), limit);
        }
    }
    push(Ceiling::MemberRemovals, total, None, (c.member_removals, "max_member_removals".into()));
    out
}

/// A batch the gate let through, journaled and ready for [`Engine::run_batch`]. Only
/// [`submit`] and [`regate`] make one.
///
/// [`Engine::run_batch`]: super::Engine::run_batch
#[derive(Debug, PartialEq, Eq)]
pub struct GatedBatch {
    id: String,
    /// The lease generation it was journaled (or claimed for resuming) under, when the journal
    /// is fenced (`store::lease`); the engine's marks and records carry the same.
    generation: Option<i64>,
}

impl GatedBatch {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn generation(&self) -> Option<i64> {
        self.generation
    }
}

/// Why [`submit`] or [`regate`] did not produce a batch.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("{0}")]
    Held(Hold),
    /// Four-eyes: the batch is over `approval_over` and nobody else approved it.
    #[error("{0}")]
    NeedsApproval(NeedsApproval),
    #[error("reading the targets before running: {0}")]
    Scim(#[from] ScimError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Journal a decision: runnable ops `pending` (with their phase), skipped ones finished at once as
/// `skipped` with the reason (so the report has them). A held decision is refused.
pub fn submit(journal: &Journal, info: &BatchInfo, decision: Decision) -> Result<GatedBatch, GateError> {
    if let Some(h) = decision.hold {
        return Err(GateError::Held(h));
    }
    if let Some(n) = decision.approval {
        return Err(GateError::NeedsApproval(n));
    }
    let run = decision.run.len();
    // What the deactivations take away is committed with the batch, before anything is sent.
    let kept: Vec<(usize, Kept)> = decision
        .run
        .iter()
        .enumerate()
        .filter(|(_, a)| a.spec().keeps)
        .filter_map(|(i, a)| decision.kept.get(a.target().id.as_deref()?).map(|k| (i, k.clone())))
        .collect();
    let mut all: Vec<(u8, Action)> = decision.run.into_iter().map(|a| (a.phase(), a)).collect();
    all.extend(decision.skipped.iter().map(|s| (s.action.phase(), s.action.clone())));
    let (batch_id, ids) = journal.create_batch_keeping(info, &all, &kept)?;
    for (skip, id) in decision.skipped.iter().zip(&ids[run..]) {
        journal.finish(
            id,
            OpState::Skipped,
            &Finish { note: Some(skip.why()), error_code: Some(skip.reason.code().into()), ..Default::default() },
        )?;
    }
    Ok(GatedBatch { id: batch_id, generation: journal.fence().map(|f| f.generation) })
}

/// What [`regate`] did before handing the batch back.
#[derive(Debug)]
pub struct Regated {
    pub batch: GatedBatch,
    /// Failed ops put back to pending (`retry_failed`).
    pub requeued: usize,
    /// Open ops the gate now skips (finished as `skipped`).
    pub skipped: Vec<Skip>,
    /// Ops sent before the interruption whose target is now as asked (finished as `done`).
    pub confirmed: usize,
    /// Open ops not sent because a user they depend on could not be read first (finished as
    /// `failed` with the reason: `F` or `resume --retry-failed` tries them again).
    pub unread: Vec<(Action, String)>,
}

async fn blocking<T: Send + 'static>(
    journal: &Arc<Journal>,
    f: impl FnOnce(&Journal) -> Result<T, JournalError> + Send + 'static,
) -> Result<T, GateError> {
    let j = journal.clone();
    Ok(tokio::task::spawn_blocking(move || f(&j)).await.map_err(|e| JournalError::Stopped(e.to_string()))??)
}

/// Pass a journaled batch through the gate again before it runs once more (`scimitar resume`,
/// the console's resume offer, `F` and `resume --retry-failed`): read-only refuses before
/// anything changes, even in the journal; then the failed ops are requeued when asked, the open
/// ops' targets are read ([`Knowledge::fetch`]) and gated. An open op the gate now skips is
/// finished as `skipped`, except one that was sent before (attempts > 0) whose target is already
/// as asked: that request landed, so it is `done`. An open op a user it depends on could not be
/// read for is finished as `failed` (nothing sent; the others go on). The ceiling is not asked
/// again: the batch passed it when it was confirmed.
pub async fn regate(
    client: &ScimClient,
    journal: &Arc<Journal>,
    safety: &Safety,
    batch_id: &str,
    retry_failed: bool,
) -> Result<Regated, GateError> {
    if let Some(h) = safety.refuses_writes() {
        return Err(GateError::Held(h));
    }
    let bid = batch_id.to_string();
    let (requeued, ops) = blocking(journal, move |j| {
        // Only a batch whose owner is gone (or this run) is touched: a live run's batch is
        // refused here, in one transaction with the check, before anything changes.
        j.claim(&bid)?;
        let n = if retry_failed { j.requeue_failed(&bid)? } else { 0 };
        Ok((n, j.ops(&bid)?))
    })
    .await?;
    let open: Vec<_> = ops.into_iter().filter(|o| !o.state.is_final()).collect();
    let actions: Vec<Action> = open.iter().map(|o| o.action.clone()).collect();
    let known = Knowledge::fetch(client, safety, &actions).await?;
    let mut skipped = Vec::new();
    let mut finishes = Vec::new();
    let mut unread = Vec::new();
    for o in &open {
        let why = Knowledge::wanted(safety, std::slice::from_ref(&o.action))
            .into_iter()
            .find_map(|id| known.unread(&id).map(|e| format!("not sent: reading {id} first failed: {e}")));
        if let Some(why) = why {
            let f = Finish { error_code: Some("unread".into()), error_message: Some(why.clone()), ..Default::default() };
            finishes.push((o.op_id.clone(), OpState::Failed, f));
            unread.push((o.action.clone(), why));
            continue;
        }
        let Some(reason) = verdict(safety, &o.action, &known) else { continue };
        let skip = Skip { action: o.action.clone(), reason };
        let f = if reason == SkipReason::AlreadyInState && o.attempts > 0 {
            let note = format!("{}: the request sent before the interruption had landed", skip.why());
            (o.op_id.clone(), OpState::Done, Finish { note: Some(note), ..Default::default() })
        } else {
            let f = Finish { note: Some(skip.why()), error_code: Some(reason.code().into()), ..Default::default() };
            skipped.push(skip);
            (o.op_id.clone(), OpState::Skipped, f)
        };
        finishes.push(f);
    }
    let confirmed = finishes.iter().filter(|(_, s, _)| *s == OpState::Done).count();
    blocking(journal, move |j| {
        for (id, state, f) in &finishes {
            j.finish(id, *state, f)?;
        }
        Ok(())
    })
    .await?;
    let generation = journal.fence().map(|f| f.generation);
    Ok(Regated { batch: GatedBatch { id: batch_id.to_string(), generation }, requeued, skipped, confirmed, unread })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::journal::RunContext;
    use crate::queue::{Target, action::UpdateSpec};
    use crate::scim::MultiValue;

    fn user(id: &str, email: &str, active: bool) -> User {
        User {
            id: Some(id.into()),
            user_name: Some(email.split('@').next().unwrap().into()),
            emails: Some(vec![MultiValue::email(email, true)]),
            active: Some(active),
            ..Default::default()
        }
    }

    fn owner() -> User {
        let mut u = user("W0", "boss@x.example", true);
        u.roles = Some(vec![Role::Object(MultiValue { value: Some("primary_owner".into()), ..Default::default() })]);
        u
    }

    fn deact(u: &User) -> Action {
        Action::Deactivate { target: Target::of_user(u) }
    }

    /// The batch: the primary owner, a bot, a deactivated user and three others.
    fn six() -> Vec<User> {
        vec![
            owner(),
            user("W1", "botuser-T1-A1@slack-bots.com", true),
            user("W2", "gone@x.example", false),
            user("W3", "a@x.example", true),
            user("W4", "b@x.example", true),
            user("W5", "c@x.example", true),
        ]
    }

    #[test]
    fn an_admin_is_never_made_a_guest_whoever_built_the_update() {
        let mut admin = user("W7", "admin@x.example", true);
        admin.roles = Some(vec![Role::Text("Admin".into())]);
        let member = user("W8", "m@x.example", true);
        let guest_of = |u: &User| {
            let set = User { guest: Some(Default::default()), ..Default::default() };
            Action::UpdateUser { target: Target::of_user(u), update: UpdateSpec { set, ..Default::default() } }
        };
        let users = vec![admin.clone(), member.clone()];
        let d = gate(&Safety::default(), vec![guest_of(&admin), guest_of(&member)], &Knowledge::from_users(&users));
        assert_eq!(d.runnable(), &[guest_of(&member)][..]);
        assert_eq!(d.skipped().iter().map(|s| s.reason).collect::<Vec<_>>(), [SkipReason::AdminGuest]);
        assert!(SkipReason::AdminGuest.explain(ActionKind::UpdateUser).contains("cannot_make_user_guest"));
    }

    #[test]
    fn refused_accounts_and_no_ops_are_skipped_before_sending() {
        let users = six();
        let d = gate(&Safety::default(), users.iter().map(deact).collect(), &Knowledge::from_users(&users));
        assert_eq!(d.runnable(), &users[3..].iter().map(deact).collect::<Vec<_>>()[..]);
        let reasons: Vec<SkipReason> = d.skipped().iter().map(|s| s.reason).collect();
        assert_eq!(reasons, [SkipReason::PrimaryOwner, SkipReason::Bot, SkipReason::AlreadyInState]);
        assert_eq!(d.summary(), "3 to deactivate · skipped: 1 already deactivated, 1 bot, 1 primary owner");
        assert!(d.hold().is_none());
        assert!(d.skipped()[1].why().contains("cannot_disable_bot_user_with_scim"));
        // Without knowledge a bot is still known by its email; the rest is sent and Slack decides.
        let d = gate(&Safety::default(), users.iter().map(deact).collect(), &Knowledge::default());
        assert_eq!((d.runnable().len(), d.skipped().len()), (5, 1));
        // Reactivating an active user is a no-op too; a deactivated one is not.
        let d = gate(
            &Safety::default(),
            vec![Action::Reactivate { target: Target::of_user(&users[2]) }, Action::Reactivate { target: Target::of_user(&users[3]) }],
            &Knowledge::from_users(&users),
        );
        assert_eq!(d.summary(), "1 to reactivate · skipped: 1 already active");
    }

    #[test]
    fn the_rules_apply_in_order_read_only_first() {
        let users = six();
        let known = Knowledge::from_users(&users);
        let safety = Safety { read_only: true, protected: vec!["W0".into()], ..Default::default() };
        let d = gate(&safety, users.iter().map(deact).collect(), &known);
        assert!(d.is_read_only() && d.is_empty());
        assert!(d.skipped().iter().all(|s| s.reason == SkipReason::ReadOnly));
        assert_eq!(d.summary(), "read-only: 6 operations refused, nothing will be sent");
        assert!(d.clone().pass_ceiling().is_read_only(), "read-only is never passed");
        // Protected comes before Slack's own refusal.
        let d = gate(&Safety { read_only: false, ..safety }, vec![deact(&users[0])], &known);
        assert_eq!(d.skipped()[0].reason, SkipReason::Protected);
    }

    #[test]
    fn a_deactivated_user_is_split_off_a_group_add_and_the_others_are_added() {
        // Slack refuses the whole add for one deactivated user (the emulator does too).
        let known = Knowledge::from_users(&six());
        let add = |ids: &[&str]| Action::AddMembers {
            group_id: "S1".into(),
            group_name: "eng".into(),
            user_ids: ids.iter().map(|s| s.to_string()).collect(),
        };
        let d = gate(&Safety::default(), vec![add(&["W3", "W2", "W4", "W9"])], &known);
        assert_eq!(d.runnable(), [add(&["W3", "W4", "W9"])], "an unknown user is left to Slack");
        assert_eq!(d.skipped().len(), 1);
        assert_eq!(d.skipped()[0].action, add(&["W2"]));
        assert_eq!(d.skipped()[0].reason.code(), "deactivated");
        assert!(d.skipped()[0].why().contains("unable_to_add_deleted_or_guest_to_group"));
        assert_eq!(d.summary(), "1 to add members · skipped: 1 deactivated");
        // Nobody left: nothing runs.
        let d = gate(&Safety::default(), vec![add(&["W2"])], &known);
        assert!(d.is_empty() && d.skipped().len() == 1);
    }

    #[test]
    fn protected_by_email_username_or_id_also_as_a_removed_member() {
        let users = six();
        let known = Knowledge::from_users(&users);
        let safety = Safety { protected: vec!["A@X.EXAMPLE".into(), "b".into(), "W5".into()], ..Default::default() };
        let d = gate(&safety, users[3..].iter().map(deact).collect(), &known);
        assert!(d.is_empty() && d.skipped().iter().all(|s| s.reason == SkipReason::Protected));
        // A removal that names a protected user by id is skipped, whatever the list says (email).
        let rm = Action::RemoveMembers { group_id: "S1".into(), group_name: "g".into(), user_ids: vec!["W2".into(), "W3".into()] };
        let d = gate(&safety, vec![rm.clone()], &known);
        assert_eq!(d.skipped()[0].reason, SkipReason::Protected);
        let d = gate(&safety, vec![rm], &Knowledge::default());
        assert!(d.skipped().is_empty(), "without knowledge only the ids are compared");
        // An update that keeps the owner active passes; one that makes them a guest does not.
        let guest = Action::UpdateUser {
            target: Target::of_user(&users[0]),
            update: UpdateSpec {
                set: User { guest: Some(crate::scim::types::GuestExt::default()), ..Default::default() },
                ..Default::default()
            },
        };
        let title = Action::UpdateUser {
            target: Target::of_user(&users[0]),
            update: UpdateSpec { set: User { title: Some("CEO".into()), ..Default::default() }, ..Default::default() },
        };
        let d = gate(&Safety::default(), vec![guest, title], &known);
        assert_eq!((d.runnable().len(), d.skipped()[0].reason), (1, SkipReason::PrimaryOwner));
    }

    #[test]
    fn protected_on_any_email_id_or_user_name_without_regard_to_case() {
        let mut u = user("W7", "pat@x.example", true);
        u.emails.as_mut().unwrap().push(MultiValue::email("Pat.Personal@Home.Example", false));
        u.user_name = Some("Pat.Doe".into());
        let known = Knowledge::from_users([&u]);
        for p in ["pat.personal@home.example", "  PAT.PERSONAL@HOME.EXAMPLE ", "w7", "pat.doe", "PAT@X.EXAMPLE"] {
            let safety = Safety { protected: vec![p.into()], ..Default::default() };
            let d = gate(&safety, vec![deact(&u)], &known);
            assert_eq!(d.skipped().first().map(|s| s.reason), Some(SkipReason::Protected), "{p:?}");
            let rm = Action::RemoveMembers { group_id: "S1".into(), group_name: "g".into(), user_ids: vec!["W7".into()] };
            assert_eq!(gate(&safety, vec![rm], &known).skipped().first().map(|s| s.reason), Some(SkipReason::Protected), "{p:?}");
        }
        let safety = Safety { protected: vec!["someone@else.example".into()], ..Default::default() };
        assert!(gate(&safety, vec![deact(&u)], &known).skipped().is_empty());
    }

    #[test]
    fn the_ceiling_holds_the_batch_until_passed() {
        let users: Vec<User> = (0..5).map(|i| user(&format!("W{i}"), &format!("u{i}@x.example"), true)).collect();
        let safety = Safety { ceilings: Ceilings { deactivations: 4, ..Default::default() }, ..Default::default() };
        let d = gate(&safety, users.iter().map(deact).collect(), &Knowledge::default());
        let c = d.ceiling().unwrap();
        assert!(c.contains("deactivate 5 users") && c.contains("ceiling of 4") && c.contains("--force"), "{c}");
        assert_eq!(d.summary(), "5 to deactivate");
        let j = Journal::in_memory(RunContext::new("test", "127.0.0.1", &crate::report::Actor::default())).unwrap();
        let info = BatchInfo { origin: "test".into(), policy_run: None, description: "t".into() };
        assert!(matches!(submit(&j, &info, d.clone()), Err(GateError::Held(Hold::Ceilings(_)))));
        assert!(j.unfinished_batches().unwrap().is_empty(), "nothing journaled");
        let b = submit(&j, &info, d.pass_ceiling()).unwrap();
        assert_eq!(j.counts(b.id()).unwrap().get(&OpState::Pending), Some(&5));
        assert!(gate(&Safety { force: true, ..safety }, users.iter().map(deact).collect(), &Knowledge::default()).hold().is_none());
    }

    fn clear_title(u: &User) -> Action {
        Action::UpdateUser { target: Target::of_user(u), update: UpdateSpec { clear: vec!["title".into()], ..Default::default() } }
    }

    #[test]
    fn every_kind_of_change_has_a_ceiling_and_the_hold_says_by_how_much() {
        let users: Vec<User> = (0..60).map(|i| user(&format!("W{i}"), &format!("u{i}@x.example"), true)).collect();
        // 60 titles cleared in an org of 80: over the share (25% of 80 = 20), under the number.
        let mut known = Knowledge::from_users(&users);
        known.set_population(80);
        let d = gate(&Safety::default(), users.iter().map(clear_title).collect(), &known);
        let t = d.tripped();
        assert_eq!(t.len(), 1, "{t:?}");
        assert_eq!((t[0].count, t[0].of, t[0].limit), (60, Some(80), 20));
        let why = d.ceiling().unwrap();
        assert!(
            why.contains("clear title on 60 of 80 users") && why.contains("ceiling of 20") && why.contains("max_attribute_change_percent"),
            "{why}"
        );
        assert!(why.ends_with("pass --force if that is really meant"), "{why}");
        assert_eq!(d.summary(), "60 to update", "the summary is the one wording of what runs");
        // Without the org's size only the number counts; a small batch never trips the share.
        assert!(gate(&Safety::default(), users.iter().map(clear_title).collect(), &Knowledge::from_users(&users)).hold().is_none());
        assert!(gate(&Safety::default(), users[..10].iter().map(clear_title).collect(), &known).hold().is_none());
        // Per profile or policy: a lower number trips, and so does every other kind, all listed.
        let strict = CeilingSettings {
            max_attribute_changes: Some(5),
            max_group_deletes: Some(0),
            max_group_renames: Some(0),
            max_creates: Some(1),
            max_member_removals: Some(3),
            ..Default::default()
        };
        let safety = Safety::default().with_ceilings(&strict);
        let mut actions: Vec<Action> = users[..6].iter().map(clear_title).collect();
        actions.push(Action::DeleteGroup { id: "S1".into(), name: "old".into() });
        actions.push(Action::RenameGroup { id: "S2".into(), from: "a".into(), to: "b".into() });
        actions.extend(users[..2].iter().map(|u| Action::CreateUser { target: Target::of_user(u), user: u.clone() }));
        let ids: Vec<String> = users[..4].iter().map(|u| u.id().to_string()).collect();
        actions.push(Action::RemoveMembers { group_id: "S3".into(), group_name: "eng".into(), user_ids: ids });
        let mut known = Knowledge::default();
        known.set_group_size("S3", 5);
        let d = gate(&safety, actions.clone(), &known);
        let kinds: Vec<&Ceiling> = d.tripped().iter().map(|t| &t.ceiling).collect();
        assert_eq!(
            kinds,
            [
                &Ceiling::Creates,
                &Ceiling::GroupRenames,
                &Ceiling::GroupDeletes,
                &Ceiling::Attribute { attr: "title", cleared: 6 },
                &Ceiling::GroupMembers { group: "eng".into() },
                &Ceiling::MemberRemovals
            ]
        );
        let why = d.ceiling_reason().unwrap();
        assert!(
            why.contains("remove 4 of the 5 members of group eng") && why.contains("delete 1 group") && why.contains("create 2 users"),
            "{why}"
        );
        // --force (or a typed count) passes them all; read-only is never passed.
        assert!(gate(&Safety { force: true, ..safety.clone() }, actions.clone(), &known).hold().is_none());
        assert!(d.clone().pass_ceiling().hold().is_none());
    }

    #[test]
    fn submit_journals_skips_with_their_reason() {
        let users = six();
        let j = Journal::in_memory(RunContext::new("test", "127.0.0.1", &crate::report::Actor::default())).unwrap();
        let d = gate(&Safety::default(), users.iter().map(deact).collect(), &Knowledge::from_users(&users));
        let info = BatchInfo { origin: "test".into(), policy_run: None, description: "t".into() };
        let b = submit(&j, &info, d).unwrap();
        let counts = j.counts(b.id()).unwrap();
        assert_eq!((counts.get(&OpState::Skipped), counts.get(&OpState::Pending)), (Some(&3), Some(&3)));
        let codes: Vec<Option<String>> =
            j.ops(b.id()).unwrap().into_iter().filter(|o| o.state == OpState::Skipped).map(|o| o.error_code).collect();
        assert_eq!(codes, [Some("primary_owner".into()), Some("bot".into()), Some("already_in_state".into())]);
        // Read-only journals nothing at all.
        let d = gate(&Safety { read_only: true, ..Default::default() }, users.iter().map(deact).collect(), &Knowledge::default());
        assert!(matches!(submit(&j, &info, d), Err(GateError::Held(Hold::ReadOnly))));
        assert_eq!(j.unfinished_batches().unwrap().len(), 1);
    }

    #[test]
    fn a_rename_to_the_same_name_is_a_no_op() {
        let d = gate(
            &Safety::default(),
            vec![Action::RenameGroup { id: "S1".into(), from: "a".into(), to: "a".into() }],
            &Knowledge::default(),
        );
        assert_eq!(d.summary(), "nothing to run · skipped: 1 already has that name");
    }
}
