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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpdateSpec {
    #[serde(with = "wire_user")]
    pub set: User,
    #[serde(default)]
    pub clear: Vec<String>,
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

impl Action {
    /// The name used in reports and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Deactivate { .. } => "deactivate",
            Action::Reactivate { .. } => "reactivate",
            Action::CreateUser { .. } => "create_user",
            Action::UpdateUser { .. } => "update_user",
            Action::CreateGroup { .. } => "create_group",
            Action::RenameGroup { .. } => "rename_group",
            Action::DeleteGroup { .. } => "delete_group",
            Action::AddMembers { .. } => "add_members",
            Action::RemoveMembers { .. } => "remove_members",
        }
    }

    pub fn is_destructive(&self) -> bool {
        matches!(self, Action::Deactivate { .. } | Action::DeleteGroup { .. } | Action::RemoveMembers { .. })
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
                let keys: Vec<String> =
                    v.as_object().map(|o| o.keys().filter(|k| *k != "schemas").map(|k| short_attr(k)).collect()).unwrap_or_default();
                let mut all = keys;
                all.extend(update.clear.iter().map(|c| format!("-{c}")));
                format!("update {t} ({})", all.join(", "))
            }
            Action::CreateGroup { name, members } => format!("create group {name} with {} members", members.len()),
            Action::RenameGroup { from, to, .. } => format!("rename group {from} -> {to}"),
            Action::DeleteGroup { name, .. } => format!("delete group {name}"),
            Action::AddMembers { group_name, user_ids, .. } => format!("add {} members to {group_name}", user_ids.len()),
            Action::RemoveMembers { group_name, user_ids, .. } => format!("remove {} members from {group_name}", user_ids.len()),
        }
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
}
