//! Actions: every change scimitar can make, as a value that can be shown, queued, journaled,
//! executed and reported.

use crate::scim::{ApiVersion, User, UserUpdate};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who an action is about, as they were when it was queued (for the log and the report).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub id: Option<String>,
    pub email: Option<String>,
    pub user_name: Option<String>,
    pub display: Option<String>,
}

impl Target {
    pub fn of_user(u: &User) -> Target {
        Target {
            id: u.id.clone(),
            email: u.primary_email().map(str::to_string),
            user_name: u.user_name.clone(),
            display: Some(u.label()).filter(|s| !s.is_empty()),
        }
    }

    pub fn group(id: Option<&str>, name: &str) -> Target {
        Target { id: id.map(str::to_string), display: Some(name.to_string()), ..Default::default() }
    }

    /// The most readable identifier: email, else display name, else id.
    pub fn label(&self) -> String {
        self.email
            .clone()
            .or_else(|| self.display.clone())
            .or_else(|| self.user_name.clone())
            .or_else(|| self.id.clone())
            .unwrap_or_else(|| "?".into())
    }
}

/// A user value in the journal, kept in SCIM v2 wire form so every extension survives.
mod wire_user {
    use crate::scim::{ApiVersion, User};
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_json::Value;

    pub fn serialize<S: Serializer>(u: &User, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_some(&u.to_value(ApiVersion::V2))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<User, D::Error> {
        let v = Value::deserialize(d)?;
        User::from_value(v).map_err(serde::de::Error::custom)
    }
}

/// A user update in the journal.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateSpec {
    #[serde(with = "wire_user")]
    pub set: User,
    #[serde(default)]
    pub clear: Vec<String>,
    /// What each attribute this update writes held before it (by `Attr::name`; `None`: unset),
    /// as the front end read the user: the update's inverse is data (`restore` sets a value
    /// back where the server still holds what the update wrote). Empty in journals written
    /// before it was kept, and for attributes that are no `Attr` (roles).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub before: std::collections::BTreeMap<String, Option<String>>,
}

impl UpdateSpec {
    /// Keep what `old` holds for every attribute this update writes (its before-values).
    pub fn keeping_before(mut self, old: &User) -> UpdateSpec {
        for (a, _) in self.touched() {
            self.before.insert(a.name().to_string(), a.get(old).map(str::to_string));
        }
        self
    }

    /// The before-value of an attribute: `None` when none was kept, `Some(None)` when it was unset.
    pub fn before_of(&self, a: super::attr::Attr) -> Option<Option<&str>> {
        self.before.get(a.name()).map(|v| v.as_deref())
    }

    /// The attributes this update writes, each with whether it clears it (a value set to
    /// nothing, or a path in `clear`), in `Attr` order.
    pub fn touched(&self) -> Vec<(super::attr::Attr, bool)> {
        use super::attr::Attr;
        Attr::ALL
            .into_iter()
            .filter_map(|a| {
                let cleared = !self.clear.is_empty() && {
                    let path = a.clear_path();
                    self.clear.iter().any(|p| *p == path || *p == a.name())
                };
                if cleared { Some((a, true)) } else { a.get(&self.set).map(|_| (a, false)) }
            })
            .collect()
    }
}

impl From<&UpdateSpec> for UserUpdate {
    fn from(s: &UpdateSpec) -> UserUpdate {
        UserUpdate { set: s.set.clone(), clear: s.clear.clone() }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    Deactivate {
        target: Target,
    },
    Reactivate {
        target: Target,
    },
    CreateUser {
        target: Target,
        #[serde(with = "wire_user")]
        user: User,
    },
    UpdateUser {
        target: Target,
        update: UpdateSpec,
    },
    CreateGroup {
        name: String,
        members: Vec<String>,
    },
    RenameGroup {
        id: String,
        from: String,
        to: String,
    },
    DeleteGroup {
        id: String,
        name: String,
    },
    AddMembers {
        group_id: String,
        group_name: String,
        user_ids: Vec<String>,
    },
    RemoveMembers {
        group_id: String,
        group_name: String,
        user_ids: Vec<String>,
    },
}

/// Every kind of action, in the order a mixed batch runs them (see [`KindSpec::phase`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionKind {
    CreateUser,
    Reactivate,
    UpdateUser,
    CreateGroup,
    RenameGroup,
    AddMembers,
    RemoveMembers,
    Deactivate,
    DeleteGroup,
}

/// What an action is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    User,
    Group,
}

/// Everything about an action kind that is not in its values: one row of [`KINDS`].
#[derive(Debug, PartialEq, Eq)]
pub struct KindSpec {
    pub kind: ActionKind,
    /// The name in reports, logs and the journal (`deactivate`, `add_members`, ...).
    pub name: &'static str,
    /// Batches run phase by phase, lowest first: create before use, deactivate last.
    pub phase: u8,
    /// It changes Slack (the gate refuses it in read-only mode).
    pub writes: bool,
    /// It takes something away: confirmations warn, and above the threshold ask for the count.
    pub destructive: bool,
    pub subject: Subject,
    /// The verb of the gate's summary: "3 to deactivate".
    pub verb: &'static str,
    /// The `active` a user is left with, for kinds that (de)activate (the gate skips a user
    /// already in that state; the console patches its rows when the op is done).
    pub leaves_active: Option<bool>,
    /// The skip reason when the target is already as asked ("already deactivated").
    pub no_op: &'static str,
    /// The kind that undoes this one, if any (the value is built by [`Action::inverse`]).
    pub inverse: Option<ActionKind>,
    /// Before it is sent, the journal keeps what it takes away besides what its inverse gives
    /// back (a deactivation: the user's group memberships and roles, `kept.rs`), so that
    /// `restore` can put them back.
    pub keeps: bool,
}

/// The registry: one row per kind, in [`ActionKind`] order. Adding a kind means a variant of
/// [`Action`], a row here, its arms in the `match`es of `impl Action` below and its execution in
/// `engine.rs` (the compiler points at each); nothing else keeps a list of actions.
pub const KINDS: [KindSpec; 9] = [
    KindSpec {
        kind: ActionKind::CreateUser,
        name: "create_user",
        phase: 0,
        writes: true,
        destructive: false,
        subject: Subject::User,
        verb: "create user",
        leaves_active: None,
        no_op: "already exists",
        // Slack never deletes a user through SCIM, and deactivating is not the same thing.
        inverse: None,
        keeps: false,
    },
    KindSpec {
        kind: ActionKind::Reactivate,
        name: "reactivate",
        phase: 1,
        writes: true,
        destructive: false,
        subject: Subject::User,
        verb: "reactivate",
        leaves_active: Some(true),
        no_op: "already active",
        inverse: Some(ActionKind::Deactivate),
        keeps: false,
    },
    KindSpec {
        kind: ActionKind::UpdateUser,
        name: "update_user",
        phase: 2,
        writes: true,
        destructive: false,
        subject: Subject::User,
        verb: "update",
        leaves_active: None,
        no_op: "already up to date",
        // The old values are not part of the action (a later issue may journal them).
        inverse: None,
        keeps: false,
    },
    KindSpec {
        kind: ActionKind::CreateGroup,
        name: "create_group",
        phase: 3,
        writes: true,
        destructive: false,
        subject: Subject::Group,
        verb: "create group",
        leaves_active: None,
        no_op: "already exists",
        inverse: Some(ActionKind::DeleteGroup),
        keeps: false,
    },
    KindSpec {
        kind: ActionKind::RenameGroup,
        name: "rename_group",
        phase: 4,
        writes: true,
        destructive: false,
        subject: Subject::Group,
        verb: "rename group",
        leaves_active: None,
        no_op: "already has that name",
        inverse: Some(ActionKind::RenameGroup),
        keeps: false,
    },
    KindSpec {
        kind: ActionKind::AddMembers,
        name: "add_members",
        phase: 5,
        writes: true,
        destructive: false,
        subject: Subject::Group,
        verb: "add members",
        leaves_active: None,
        no_op: "already members",
        inverse: Some(ActionKind::RemoveMembers),
        keeps: false,
    },
    KindSpec {
        kind: ActionKind::RemoveMembers,
        name: "remove_members",
        phase: 6,
        writes: true,
        destructive: true,
        subject: Subject::Group,
        verb: "remove members",
        leaves_active: None,
        no_op: "not members",
        inverse: Some(ActionKind::AddMembers),
        keeps: false,
    },
    KindSpec {
        kind: ActionKind::Deactivate,
        name: "deactivate",
        phase: 7,
        writes: true,
        destructive: true,
        subject: Subject::User,
        verb: "deactivate",
        leaves_active: Some(false),
        no_op: "already deactivated",
        inverse: Some(ActionKind::Reactivate),
        keeps: true,
    },
    KindSpec {
        kind: ActionKind::DeleteGroup,
        name: "delete_group",
        phase: 8,
        writes: true,
        destructive: true,
        subject: Subject::Group,
        verb: "delete group",
        leaves_active: None,
        no_op: "already deleted",
        // The members are gone with the group; a new group would have a new id.
        inverse: None,
        keeps: false,
    },
];

impl ActionKind {
    pub const ALL: [ActionKind; 9] = [
        ActionKind::CreateUser,
        ActionKind::Reactivate,
        ActionKind::UpdateUser,
        ActionKind::CreateGroup,
        ActionKind::RenameGroup,
        ActionKind::AddMembers,
        ActionKind::RemoveMembers,
        ActionKind::Deactivate,
        ActionKind::DeleteGroup,
    ];

    pub fn spec(self) -> &'static KindSpec {
        &KINDS[self as usize]
    }

    /// The kind whose report name this is.
    pub fn from_name(name: &str) -> Option<ActionKind> {
        KINDS.iter().find(|k| k.name == name).map(|k| k.kind)
    }
}

impl Action {
    /// The one place a value is mapped to its kind.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Deactivate { .. } => ActionKind::Deactivate,
            Action::Reactivate { .. } => ActionKind::Reactivate,
            Action::CreateUser { .. } => ActionKind::CreateUser,
            Action::UpdateUser { .. } => ActionKind::UpdateUser,
            Action::CreateGroup { .. } => ActionKind::CreateGroup,
            Action::RenameGroup { .. } => ActionKind::RenameGroup,
            Action::DeleteGroup { .. } => ActionKind::DeleteGroup,
            Action::AddMembers { .. } => ActionKind::AddMembers,
            Action::RemoveMembers { .. } => ActionKind::RemoveMembers,
        }
    }

    pub fn spec(&self) -> &'static KindSpec {
        self.kind().spec()
    }

    /// The name used in reports and logs.
    pub fn name(&self) -> &'static str {
        self.spec().name
    }

    /// The phase the batch runs it in.
    pub fn phase(&self) -> u8 {
        self.spec().phase
    }

    pub fn is_destructive(&self) -> bool {
        self.spec().destructive
    }

    pub fn writes(&self) -> bool {
        self.spec().writes
    }

    /// The user this action (de)activates and the `active` it leaves them with.
    pub fn leaves_user(&self) -> Option<(&str, bool)> {
        let active = self.spec().leaves_active?;
        match self {
            Action::Deactivate { target } | Action::Reactivate { target } => target.id.as_deref().map(|id| (id, active)),
            _ => None,
        }
    }

    pub fn target(&self) -> Target {
        match self {
            Action::Deactivate { target }
            | Action::Reactivate { target }
            | Action::CreateUser { target, .. }
            | Action::UpdateUser { target, .. } => target.clone(),
            Action::CreateGroup { name, .. } => Target::group(None, name),
            Action::RenameGroup { id, from, .. } => Target::group(Some(id), from),
            Action::DeleteGroup { id, name } => Target::group(Some(id), name),
            Action::AddMembers { group_id, group_name, .. } | Action::RemoveMembers { group_id, group_name, .. } => {
                Target::group(Some(group_id), group_name)
            }
        }
    }

    /// The object a write locks: two actions with the same key never run at once.
    pub fn object_key(&self) -> String {
        let t = self.target();
        match self {
            Action::CreateUser { .. } => format!("new-user:{}", t.email.clone().unwrap_or_default().to_lowercase()),
            Action::CreateGroup { name, .. } => format!("new-group:{}", name.to_lowercase()),
            _ => t.id.unwrap_or_default(),
        }
    }

    /// One line for logs, lists and confirmations.
    pub fn describe(&self) -> String {
        let t = self.target().label();
        match self {
            Action::Deactivate { .. } => format!("deactivate {t}"),
            Action::Reactivate { .. } => format!("reactivate {t}"),
            Action::CreateUser { .. } => format!("create user {t}"),
            Action::UpdateUser { update, .. } => {
                let v = update.set.to_value(ApiVersion::V2);
                // An extension names its attributes (`department`), not its URN's last word.
                let keys: Vec<String> = v
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .filter(|(k, _)| *k != "schemas")
                            .flat_map(|(k, val)| match val.as_object().filter(|_| k.starts_with("urn:")) {
                                // The guest extension's attributes by the names `--set` takes.
                                Some(ext) if k.contains(":guest:") => ext
                                    .keys()
                                    .map(|g| {
                                        if g == "type" { "guest".to_string() } else { format!("guest{}{}", g[..1].to_uppercase(), &g[1..]) }
                                    })
                                    .collect::<Vec<_>>(),
                                Some(ext) => ext.keys().cloned().collect::<Vec<_>>(),
                                None => vec![short_attr(k)],
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let mut all = keys;
                all.extend(update.clear.iter().map(|c| format!("-{c}")));
                format!("update {t} ({})", all.join(", "))
            }
            Action::CreateGroup { name, members: m } => format!("create group {name} with {}", members(m.len())),
            Action::RenameGroup { from, to, .. } => format!("rename group {from} -> {to}"),
            Action::DeleteGroup { name, .. } => format!("delete group {name}"),
            Action::AddMembers { group_name, user_ids, .. } => format!("add {} to {group_name}", members(user_ids.len())),
            Action::RemoveMembers { group_name, user_ids, .. } => format!("remove {} from {group_name}", members(user_ids.len())),
        }
    }

    /// The action that undoes this one once it is done (`KindSpec::inverse`). `created` is the id
    /// the op's result named (a created group's `S…`), which only creates need.
    pub fn inverse(&self, created: Option<&str>) -> Option<Action> {
        let a = match self {
            Action::Deactivate { target } => Action::Reactivate { target: target.clone() },
            Action::Reactivate { target } => Action::Deactivate { target: target.clone() },
            Action::AddMembers { group_id, group_name, user_ids } => {
                Action::RemoveMembers { group_id: group_id.clone(), group_name: group_name.clone(), user_ids: user_ids.clone() }
            }
            Action::RemoveMembers { group_id, group_name, user_ids } => {
                Action::AddMembers { group_id: group_id.clone(), group_name: group_name.clone(), user_ids: user_ids.clone() }
            }
            Action::RenameGroup { id, from, to } => Action::RenameGroup { id: id.clone(), from: to.clone(), to: from.clone() },
            Action::CreateGroup { name, .. } => Action::DeleteGroup { id: created?.to_string(), name: name.clone() },
            Action::CreateUser { .. } | Action::UpdateUser { .. } | Action::DeleteGroup { .. } => return None,
        };
        debug_assert_eq!(Some(a.kind()), self.spec().inverse);
        Some(a)
    }

    /// Parameters for the report's `detail` column (never secrets: passwords are dropped).
    pub fn detail(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(u) = v.get_mut("user").and_then(Value::as_object_mut) {
            u.remove("password");
        }
        if let Some(u) = v.pointer_mut("/update/set").and_then(Value::as_object_mut) {
            u.remove("password");
        }
        v
    }
}

/// "1 member", "3 members".
pub fn members(n: usize) -> String {
    if n == 1 { "1 member".into() } else { format!("{n} members") }
}

impl Action {
    /// The users a member change (or a new group) names; empty for other kinds.
    pub fn member_ids(&self) -> &[String] {
        match self {
            Action::AddMembers { user_ids, .. } | Action::RemoveMembers { user_ids, .. } => user_ids,
            Action::CreateGroup { members, .. } => members,
            _ => &[],
        }
    }

    /// The same change for other members (the gate screens members out of an add).
    pub fn with_members(&self, ids: Vec<String>) -> Action {
        match self {
            Action::AddMembers { group_id, group_name, .. } => {
                Action::AddMembers { group_id: group_id.clone(), group_name: group_name.clone(), user_ids: ids }
            }
            Action::RemoveMembers { group_id, group_name, .. } => {
                Action::RemoveMembers { group_id: group_id.clone(), group_name: group_name.clone(), user_ids: ids }
            }
            Action::CreateGroup { name, .. } => Action::CreateGroup { name: name.clone(), members: ids },
            other => other.clone(),
        }
    }
}

fn short_attr(k: &str) -> String {
    if k.starts_with("urn:") { k.rsplit(':').next().unwrap_or(k).to_string() } else { k.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::EnterpriseUser;

    #[test]
    fn journal_round_trip_keeps_extensions_and_drops_password_from_detail() {
        let mut u = User { user_name: Some("ann".into()), password: Some("pw".into()), ..Default::default() };
        u.emails = Some(vec![crate::scim::MultiValue::email("ann@x.example", true)]);
        u.enterprise = Some(EnterpriseUser { department: Some("Ops".into()), ..Default::default() });
        let a = Action::CreateUser { target: Target::of_user(&u), user: u };
        let text = serde_json::to_string(&a).unwrap();
        let back: Action = serde_json::from_str(&text).unwrap();
        match back {
            Action::CreateUser { user, .. } => assert_eq!(user.department(), Some("Ops")),
            _ => panic!("kind changed"),
        }
        assert!(!a.detail().to_string().contains("\"pw\""));
        assert_eq!(a.object_key(), "new-user:ann@x.example");
    }

    #[test]
    fn an_update_journaled_before_before_values_were_kept_still_reads() {
        let old = r#"{"kind":"update_user","target":{"id":"W1","email":null,"user_name":null,"display":null},"update":{"set":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"title":"X"},"clear":["enterprise.department"]}}"#;
        let a: Action = serde_json::from_str(old).unwrap();
        let Action::UpdateUser { update, .. } = &a else { panic!("{a:?}") };
        assert!(update.before.is_empty());
        let touched: Vec<(&str, bool)> = update.touched().into_iter().map(|(a, c)| (a.short(), c)).collect();
        assert_eq!(touched, [("title", false), ("department", true)]);
        // Written now, with before-values, it reads back the same.
        let u = User { title: Some("Old".into()), ..Default::default() };
        let b = UpdateSpec { before: Default::default(), ..update.clone() }.keeping_before(&u);
        assert_eq!(b.before_of(super::super::attr::Attr::Title), Some(Some("Old")));
        assert_eq!(b.before_of(super::super::attr::Attr::Department), Some(None));
        let back: UpdateSpec = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        assert_eq!(back, b);
    }

    fn one_of_each() -> Vec<Action> {
        let t = Target { id: Some("W1".into()), email: Some("a@x.example".into()), ..Default::default() };
        let ids = vec!["W1".to_string()];
        vec![
            Action::CreateUser { target: t.clone(), user: User::default() },
            Action::Reactivate { target: t.clone() },
            Action::UpdateUser { target: t.clone(), update: UpdateSpec::default() },
            Action::CreateGroup { name: "g".into(), members: ids.clone() },
            Action::RenameGroup { id: "S1".into(), from: "g".into(), to: "h".into() },
            Action::AddMembers { group_id: "S1".into(), group_name: "g".into(), user_ids: ids.clone() },
            Action::RemoveMembers { group_id: "S1".into(), group_name: "g".into(), user_ids: ids },
            Action::Deactivate { target: t },
            Action::DeleteGroup { id: "S1".into(), name: "g".into() },
        ]
    }

    #[test]
    fn the_registry_has_one_row_per_kind_in_phase_order() {
        for (i, k) in ActionKind::ALL.iter().enumerate() {
            assert_eq!(KINDS[i].kind, *k, "row {i} is in ActionKind order");
            assert_eq!(k.spec().phase as usize, i, "phases follow the kind order");
            assert_eq!(ActionKind::from_name(k.spec().name), Some(*k));
        }
        let all = one_of_each();
        assert_eq!(all.iter().map(Action::kind).collect::<Vec<_>>(), ActionKind::ALL);
        // The journal's `kind` tag and the report's name are the same word.
        for a in &all {
            assert_eq!(serde_json::to_value(a).unwrap()["kind"], a.name(), "{a:?}");
        }
        let destructive: Vec<&str> = all.iter().filter(|a| a.is_destructive()).map(Action::name).collect();
        assert_eq!(destructive, ["remove_members", "deactivate", "delete_group"]);
    }

    #[test]
    fn inverses_undo_and_round_trip() {
        for a in one_of_each() {
            let inv = a.inverse(Some("S9"));
            assert_eq!(inv.as_ref().map(Action::kind), a.spec().inverse, "{a:?}");
            if let Some(inv) = inv
                && a.kind() != ActionKind::CreateGroup
            {
                assert_eq!(inv.inverse(None), Some(a.clone()), "undoing the undo gives the action back");
            }
        }
        let create = Action::CreateGroup { name: "g".into(), members: vec![] };
        assert_eq!(create.inverse(None), None, "a create needs the id it produced");
        assert_eq!(create.inverse(Some("S9")), Some(Action::DeleteGroup { id: "S9".into(), name: "g".into() }));
    }
}
