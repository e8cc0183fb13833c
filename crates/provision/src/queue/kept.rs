//! What a deactivation takes away, kept in the journal before it is sent (`KindSpec::keeps`).
//!
//! Reactivating a user gives back `active` (the registry's inverse) but not what Slack took with
//! it. After Slack's April 2024 incident deactivated users by mistake, Slack reactivated them and
//! then said that "user group membership and administrative roles" still needed manual repair
//! (reference §8.4, STATUS24); its help center says a reactivated member is not added back to the
//! channels they were in. So before a deactivation is sent, the journal keeps the user's group
//! memberships and roles ([`Kept`], table `kept`, migration 5): from the directory the front end
//! read the targets with (the gate's [`Knowledge`](super::Knowledge)), or, when it did not say,
//! from a `GET /Users/{id}` the engine makes just before sending. `restore` (`restore.rs`) reads
//! them back. Channels are not SCIM's: nothing here can keep or restore them.

use crate::scim::User;
use crate::scim::types::{GroupRef, Role};
use serde::{Deserialize, Serialize};

/// One group a user was a member of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptGroup {
    pub id: String,
    pub name: String,
}

/// What one deactivation takes away.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    pub user_id: String,
    /// The groups the user was in; `None` when the server's user had no `groups` attribute and no
    /// group listing said (a generic SCIM server need not send it).
    pub groups: Option<Vec<KeptGroup>>,
    /// The user's roles (Slack drops administrative roles with a deactivation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
    /// Where it was read (shown by `restore`).
    pub source: String,
}

/// `Kept::source` of a snapshot read with the targets, before the batch was journaled.
pub const FROM_TARGETS: &str = "read with the targets before the batch was journaled";
/// `Kept::source` of a snapshot the engine read just before sending.
pub const BEFORE_SENDING: &str = "read just before the deactivation was sent";

impl Kept {
    /// From a user as the server sent it.
    pub fn of(u: &User, source: &str) -> Kept {
        Kept::from_parts(u.id(), u.groups.as_deref(), u.roles.as_deref().unwrap_or(&[]), source)
    }

    pub fn from_parts(id: &str, groups: Option<&[GroupRef]>, roles: &[Role], source: &str) -> Kept {
        let groups = groups.map(|gs| {
            gs.iter()
                .filter_map(|g| {
                    let id = g.value.as_deref().filter(|s| !s.is_empty())?;
                    Some(KeptGroup { id: id.to_string(), name: g.display.clone().unwrap_or_else(|| id.to_string()) })
                })
                .collect()
        });
        Kept { user_id: id.to_string(), groups, roles: roles.to_vec(), source: source.to_string() }
    }

    /// The roles worth giving back: all but the plain member role (an object's `value` or a
    /// string; any case).
    pub fn roles_to_restore(&self) -> Vec<Role> {
        self.roles
            .iter()
            .filter(|r| {
                let v = match r {
                    Role::Text(s) => Some(s.as_str()),
                    Role::Object(o) => o.value.as_deref(),
                };
                v.is_some_and(|v| !v.trim().is_empty() && !v.trim().eq_ignore_ascii_case("member"))
            })
            .cloned()
            .collect()
    }

    /// One line: "3 groups (eng, oncall, sales), roles admin" / "groups unknown".
    pub fn summary(&self) -> String {
        let mut s = match &self.groups {
            None => "groups unknown (the server did not list them)".to_string(),
            Some(g) if g.is_empty() => "no groups".to_string(),
            Some(g) => {
                let names: Vec<&str> = g.iter().take(5).map(|g| g.name.as_str()).collect();
                let more = if g.len() > 5 { format!(", … {} more", g.len() - 5) } else { String::new() };
                format!("{} ({}{more})", crate::words::count(g.len(), "group"), names.join(", "))
            }
        };
        let roles = self.roles_to_restore();
        if !roles.is_empty() {
            let names: Vec<String> = roles
                .iter()
                .map(|r| match r {
                    Role::Text(s) => s.clone(),
                    Role::Object(o) => o.value.clone().unwrap_or_default(),
                })
                .collect();
            s.push_str(&format!(", roles {}", names.join(", ")));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::MultiValue;

    #[test]
    fn kept_from_a_user_and_its_summary() {
        let u = User {
            id: Some("W1".into()),
            groups: Some(vec![
                GroupRef { value: Some("S1".into()), display: Some("eng".into()) },
                GroupRef { value: Some("S2".into()), display: None },
                GroupRef { value: None, display: Some("nameless".into()) },
            ]),
            roles: Some(vec![Role::Text("member".into()), Role::Object(MultiValue { value: Some("admin".into()), ..Default::default() })]),
            ..Default::default()
        };
        let k = Kept::of(&u, FROM_TARGETS);
        assert_eq!(k.groups.as_ref().unwrap().len(), 2, "an entry without an id cannot be restored");
        assert_eq!(k.groups.as_ref().unwrap()[1].name, "S2");
        assert_eq!(k.summary(), "2 groups (eng, S2), roles admin");
        let back: Kept = serde_json::from_str(&serde_json::to_string(&k).unwrap()).unwrap();
        assert_eq!(back, k);
        let none = Kept::of(&User { id: Some("W2".into()), ..Default::default() }, BEFORE_SENDING);
        assert_eq!(none.groups, None);
        assert!(none.summary().starts_with("groups unknown"));
    }
}
