//! Editing one user by hand (the console's user form): the field-level diff between a user as
//! loaded and the values the admin typed, and the ONE action that sends only what changed
//! (`UpdateUser`), or the `CreateUser` of a new user. The action then goes to the gate like any
//! other write; nothing here sends anything.
//!
//! The attributes are the policies' ([`Attr`]: the same names, reads and writes), so a change the
//! form makes is the change a policy would make, and the update is built the way
//! `policy::apply::update_spec` builds a policy's: new values in `set`, emptied ones in `clear`.
//!
//! (A top-level module beside `queue::edit`, which is the headless `users update --set`'s: this
//! one speaks the policies' `AttrChange`, which `queue` may not import (`policy` imports `queue`;
//! see `tests/architecture.rs`). Both build the update with `queue::edit::update_for`.)

use crate::policy::config::{Attr, normalize_user_name};
use crate::policy::plan::AttrChange;
use crate::queue::action::{Action, Target, UpdateSpec};
use crate::scim::User;

/// What the admin asked an attribute to be: `None` (or only spaces) empties it.
pub type Wanted = (Attr, Option<String>);

fn tidy(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// The value as Slack would store it (a userName is normalised, reference §3; a date alone in
/// Slack's form; a guest `member` is no guest: `None`).
fn stored(attr: Attr, v: &str) -> Option<String> {
    match attr {
        Attr::UserName => Some(normalize_user_name(v)),
        Attr::Guest | Attr::StartDate | Attr::GuestExpiration => attr.sendable(v),
        _ => Some(v.to_string()),
    }
}

/// The attributes that differ between `old` and what is wanted, in the order asked, each with
/// the value it had and the one it gets (`None`: unset). Unchanged ones are left out, so an
/// empty list means there is nothing to send.
pub fn changes(old: &User, wanted: &[Wanted]) -> Vec<AttrChange> {
    let mut out = Vec::new();
    for (attr, want) in wanted {
        let have = attr.get(old);
        let want = tidy(want.as_deref()).and_then(|w| stored(*attr, w));
        let unchanged = match (have, want.as_deref()) {
            (None, None) => true,
            (Some(h), Some(w)) => attr.same_value(h, w),
            _ => false,
        };
        if !unchanged && !out.iter().any(|c: &AttrChange| c.attr == *attr) {
            out.push(AttrChange { attr: *attr, old: have.map(str::to_string), new: want });
        }
    }
    out
}

/// The update that sends exactly `changes` (`queue::edit::update_for`, the one builder of a hand
/// edit's update: a changed phone re-sends the other so a PATCH of `phoneNumbers` keeps it).
pub fn update_spec(old: &User, changes: &[AttrChange]) -> UpdateSpec {
    crate::queue::edit::update_for(old, changes.iter().map(|c| (c.attr, c.new.as_deref())))
}

/// The one `UpdateUser` for these changes of `old` (None: nothing changed).
pub fn update_action(old: &User, changes: &[AttrChange]) -> Option<Action> {
    if changes.is_empty() {
        return None;
    }
    Some(Action::UpdateUser { target: Target::of_user(old), update: update_spec(old, changes) })
}

/// A new user with the values given (empty ones left out), active. Without a displayName, Slack
/// would show the userName: "given family" is used when both names are there.
pub fn new_user(wanted: &[Wanted]) -> User {
    let mut u = User { active: Some(true), ..Default::default() };
    for (attr, v) in wanted {
        if let Some(v) = tidy(v.as_deref()).and_then(|v| stored(*attr, v)) {
            attr.set(&mut u, Some(&v));
        }
    }
    if u.display_name.is_none()
        && let Some(n) = &u.name
        && let (Some(g), Some(f)) = (tidy(n.given_name.as_deref()), tidy(n.family_name.as_deref()))
    {
        u.display_name = Some(format!("{g} {f}"));
    }
    u
}

/// The `CreateUser` of [`new_user`].
pub fn create_action(wanted: &[Wanted]) -> Action {
    let user = new_user(wanted);
    Action::CreateUser { target: Target::of_user(&user), user }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::types::{EnterpriseUser, Manager, MultiValue, Name};

    fn ann() -> User {
        User {
            id: Some("W1".into()),
            user_name: Some("ann".into()),
            display_name: Some("Ann Lee".into()),
            name: Some(Name { given_name: Some("Ann".into()), family_name: Some("Lee".into()), ..Default::default() }),
            title: Some("Engineer".into()),
            emails: Some(vec![MultiValue::email("ann@example.com", true)]),
            phone_numbers: Some(vec![
                MultiValue { value: Some("+1 555 0100".into()), kind: Some("work".into()), ..Default::default() },
                MultiValue { value: Some("+1 555 0199".into()), kind: Some("mobile".into()), ..Default::default() },
            ]),
            enterprise: Some(EnterpriseUser { department: Some("Eng".into()), manager: Some(Manager::of("W9")), ..Default::default() }),
            active: Some(true),
            ..Default::default()
        }
    }

    fn w(attr: Attr, v: &str) -> Wanted {
        (attr, Some(v.to_string()))
    }

    #[test]
    fn only_what_differs_is_a_change_with_its_old_and_new_value() {
        let u = ann();
        let asked = [
            w(Attr::Title, "Staff Engineer"),
            w(Attr::DisplayName, "Ann Lee"),
            w(Attr::UserName, "ANN"),             // the same once Slack normalises it
            w(Attr::Email, "Ann@Example.com"),    // emails compare without case
            w(Attr::Department, "  Eng  "),       // spaces around do not count
            (Attr::CostCenter, Some(" ".into())), // unset stays unset
            (Attr::Manager, None),
        ];
        let ch = changes(&u, &asked);
        assert_eq!(
            ch,
            vec![
                AttrChange { attr: Attr::Title, old: Some("Engineer".into()), new: Some("Staff Engineer".into()) },
                AttrChange { attr: Attr::Manager, old: Some("W9".into()), new: None },
            ]
        );
        assert!(changes(&u, &[w(Attr::Title, "Engineer")]).is_empty());
    }

    #[test]
    fn the_update_sends_only_the_changed_attributes_and_clears_the_emptied_ones() {
        let u = ann();
        let ch = changes(&u, &[w(Attr::Title, "Staff Engineer"), w(Attr::Division, "Platform"), (Attr::Department, None)]);
        let a = update_action(&u, &ch).expect("an update");
        assert_eq!(a.describe(), "update ann@example.com (title, division, -enterprise.department)");
        let Action::UpdateUser { target, update } = a else { panic!("an update") };
        assert_eq!(target.id.as_deref(), Some("W1"));
        assert_eq!(target.email.as_deref(), Some("ann@example.com"));
        let v = update.set.to_value(crate::scim::ApiVersion::V2);
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).filter(|k| *k != "schemas").collect();
        keys.sort();
        assert_eq!(keys, ["title", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]);
        assert_eq!(v["title"], "Staff Engineer");
        assert_eq!(v["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"], serde_json::json!({"division": "Platform"}));
        assert_eq!(update.clear, ["enterprise.department"]);
        assert!(update_action(&u, &[]).is_none(), "no change, no action");
    }

    #[test]
    fn changing_one_phone_keeps_the_other() {
        let u = ann();
        let ch = changes(&u, &[w(Attr::PhoneWork, "+1 555 0111")]);
        let spec = update_spec(&u, &ch);
        let phones = spec.set.phone_numbers.clone().unwrap();
        let got: Vec<(Option<&str>, Option<&str>, Option<&str>)> =
            phones.iter().map(|p| (p.kind.as_deref(), p.value.as_deref(), p.operation.as_deref())).collect();
        // The new value, then the old one marked for removal: one element changes; the other
        // one as it is, marked "keep" (sent along in SCIM 1.1 only).
        assert_eq!(
            got,
            [
                (Some("work"), Some("+1 555 0111"), None),
                (None, Some("+1 555 0100"), Some("delete")),
                (Some("mobile"), Some("+1 555 0199"), Some("keep"))
            ]
        );
        let v1 = crate::scim::client::user_patch_v1(&(&spec).into());
        assert_eq!(
            v1["phoneNumbers"],
            serde_json::json!([{"value": "+1 555 0111", "type": "work"}, {"value": "+1 555 0100", "operation": "delete"}, {"value": "+1 555 0199", "type": "mobile"}])
        );
        let p = crate::scim::client::user_patch_v2(&(&spec).into(), crate::scim::Dialect::Rfc, crate::scim::client::ExtPath::Colon);
        let ops: Vec<(&str, Option<&str>)> = p.operations.iter().map(|o| (o.op.as_str(), o.path.as_deref())).collect();
        assert_eq!(ops, [("replace", Some(r#"phoneNumbers[value eq "+1 555 0100"].value"#))], "the mobile phone is not touched");
    }

    #[test]
    fn a_new_user_is_active_with_a_normalised_user_name_and_a_display_name_from_the_names() {
        let a = create_action(&[
            w(Attr::GivenName, "New"),
            w(Attr::FamilyName, "Hire"),
            w(Attr::UserName, "New.Hire"),
            w(Attr::Email, "new.hire@example.com"),
            w(Attr::Title, ""),
            w(Attr::Department, "Sales"),
        ]);
        let Action::CreateUser { target, user } = a else { panic!("a create") };
        assert_eq!(user.active, Some(true));
        assert_eq!(user.user_name.as_deref(), Some("new.hire"));
        assert_eq!(user.display_name.as_deref(), Some("New Hire"));
        assert_eq!(user.primary_email(), Some("new.hire@example.com"));
        assert_eq!(user.title, None, "an empty field is not sent");
        assert_eq!(user.department(), Some("Sales"));
        assert_eq!(target.email.as_deref(), Some("new.hire@example.com"));
        let given = new_user(&[w(Attr::DisplayName, "Newbie"), w(Attr::GivenName, "New"), w(Attr::FamilyName, "Hire")]);
        assert_eq!(given.display_name.as_deref(), Some("Newbie"), "a displayName typed wins");
    }
}
