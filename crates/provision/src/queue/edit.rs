//! Editing a user's attributes: the field-level diff between a user as the server has it and the
//! values an admin asks for, and the update that sends only what changed. The headless
//! `scimitar users update ID|EMAIL --set title=… [--from FILE.csv]` and the console's user edit
//! form both call [`diff`]; the [`Action::UpdateUser`] it builds passes the one gate
//! (`gate::gate`) like any other write, and the engine reads the user back after ([`unmet`]).
//!
//! Fields are the [`Attr`]s (`title`, `department`, `givenName`, `familyName`, `displayName`,
//! `userName`, `email`, `timezone`, `userType`, `employeeNumber`, `costCenter`, `organization`,
//! `division`, `manager` (a user id), `phone`, `mobile`, `locale`, `preferredLanguage`,
//! `honorificPrefix`, and Slack's profile: `secondaryEmail`, `startDate`, `photo`, `guest`
//! (`multi`/`member`), `guestExpiration`, `streetAddress`, `locality`, `region`, `postalCode`,
//! `country`; policy names such as `enterprise.department` work too). An empty value clears the
//! attribute, except `userName` and `email`, which Slack requires.

use super::action::{Action, Target, UpdateSpec};
pub use super::attr::Attr;
use crate::scim::User;
use crate::scim::sanitize::quoted_excerpt;

/// One requested value: `field=value` (an empty value clears the field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSet {
    pub field: String,
    pub value: String,
}

impl FieldSet {
    pub fn new(field: impl Into<String>, value: impl Into<String>) -> FieldSet {
        FieldSet { field: field.into(), value: value.into() }
    }

    /// `title=Staff Engineer` (the first `=` splits; the value may hold more).
    pub fn parse(text: &str) -> Result<FieldSet, EditError> {
        match text.split_once('=') {
            Some((f, v)) if !f.trim().is_empty() => Ok(FieldSet::new(f.trim(), v)),
            _ => Err(EditError::Syntax(quoted_excerpt(text, 80))),
        }
    }
}

/// One attribute that changes: its value now and the value asked for (`None`: unset / cleared).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldChange {
    pub attr: Attr,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl FieldChange {
    /// `title: "Engineer" -> "Staff Engineer"` (`(unset)` for no value).
    pub fn line(&self) -> String {
        let show = |v: &Option<String>| v.as_deref().map_or_else(|| "(unset)".to_string(), |v| quoted_excerpt(v, 80));
        format!("{}: {} -> {}", self.attr.short(), show(&self.old), show(&self.new))
    }
}

/// The diff of one user: what changes, and the update that sends only that.
#[derive(Clone, Debug, PartialEq)]
pub struct UserEdit {
    /// The user's id.
    pub user_id: String,
    /// In the order the fields were asked for; empty when every value is already as asked.
    pub changes: Vec<FieldChange>,
    /// New values in `set`, cleared attributes in `clear`: only the changed attributes.
    pub update: UpdateSpec,
}

impl UserEdit {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The one `update_user` action for the gate, or `None` when nothing changes.
    pub fn action(&self, user: &User) -> Option<Action> {
        (!self.is_empty()).then(|| Action::UpdateUser { target: Target::of_user(user), update: self.update.clone() })
    }

    /// One line per change ([`FieldChange::line`]).
    pub fn lines(&self) -> Vec<String> {
        self.changes.iter().map(FieldChange::line).collect()
    }
}

/// Why a requested edit is refused (each names the field and the value).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("{0} is not field=value (e.g. title=\"Staff Engineer\")")]
    Syntax(String),
    #[error("unknown field {field}; fields: {known}")]
    UnknownField { field: String, known: String },
    #[error("{field} is given twice")]
    Twice { field: String },
    #[error("{field} cannot be cleared: Slack requires it")]
    Required { field: &'static str },
    #[error("email {value} is not an email address: {why}")]
    Email { value: String, why: String },
    #[error("userName {value}: {why} (reference §3, {code})")]
    UserName { value: String, why: String, code: &'static str },
    #[error("{field} {value} holds a control character (U+{code:04X})")]
    Control { field: &'static str, value: String, code: u32 },
    #[error("{field} {value}: {why}")]
    Date { field: &'static str, value: String, why: String },
    #[error("photo {value}: {why} (reference §3 photos, Slack's photos_invalid)")]
    Photo { value: String, why: String },
    /// A value one of Slack's rules refuses (`scim::rules`: displayName, timezone, userType).
    #[error("{field} {value}: {why}")]
    Refused { field: &'static str, value: String, why: String },
    #[error("guest {value}: give multi (a multi-channel guest) or member")]
    GuestType { value: String },
    #[error(
        "{who} has the role {role:?}: Slack never makes an admin or owner a guest (cannot_make_user_guest, reference §3); nothing was sent"
    )]
    GuestAdmin { who: String, role: String },
    #[error("guestExpiration is for a multi-channel guest: {who} is a member (add guest=multi to make them one)")]
    ExpirationNeedsGuest { who: String },
    #[error("guestExpiration {value} is in the past: the guest would lose access at once")]
    ExpirationPast { value: String },
}

/// The field names [`diff`] takes, for messages and the edit form.
pub fn known_fields() -> String {
    Attr::ALL.iter().map(|a| a.short()).collect::<Vec<_>>().join(", ")
}

/// Check one requested value: the attribute, and the value Slack would store (`None`: clear).
pub fn check(set: &FieldSet) -> Result<(Attr, Option<String>), EditError> {
    let attr = Attr::from_field(&set.field)
        .ok_or_else(|| EditError::UnknownField { field: quoted_excerpt(&set.field, 40), known: known_fields() })?;
    let v = set.value.trim();
    if v.is_empty() {
        return match attr {
            Attr::UserName | Attr::Email => Err(EditError::Required { field: attr.short() }),
            _ => Ok((attr, None)),
        };
    }
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return Err(EditError::Control { field: attr.short(), value: quoted_excerpt(v, 80), code: c as u32 });
    }
    let value = match attr {
        Attr::Email | Attr::SecondaryEmail => crate::scim::client::normalize_email(v).map_err(|e| EditError::Email {
            value: quoted_excerpt(v, 80),
            why: e.to_string().rsplit_once(": ").map_or_else(|| e.to_string(), |(_, w)| w.to_string()),
        })?,
        Attr::StartDate | Attr::GuestExpiration => {
            let end = attr.date_end().expect("a date attribute");
            let sent = crate::scim::rules::slack_date(v, end).map_err(|p| EditError::Date {
                field: attr.short(),
                value: quoted_excerpt(v, 40),
                why: p.to_string(),
            })?;
            if attr == Attr::GuestExpiration && crate::scim::rules::iso_date(v, end).is_ok_and(|d| d.unix < now_unix()) {
                return Err(EditError::ExpirationPast { value: quoted_excerpt(v, 40) });
            }
            sent
        }
        Attr::Photo => {
            crate::scim::rules::photo_value(v).map_err(|p| EditError::Photo { value: quoted_excerpt(v, 60), why: p.to_string() })?;
            v.to_string()
        }
        Attr::Guest => match v.to_ascii_lowercase().as_str() {
            "multi" | "multi-channel" | "guest" => "multi".to_string(),
            "member" | "full" | "none" => return Ok((attr, None)),
            _ => return Err(EditError::GuestType { value: quoted_excerpt(v, 40) }),
        },
        // Slack's rules (reference §3), as `scim::rules` has them.
        Attr::DisplayName => {
            crate::scim::rules::slack_display_name(v).map_err(|why| EditError::Refused {
                field: attr.short(),
                value: quoted_excerpt(v, 40),
                why,
            })?;
            v.to_string()
        }
        Attr::Timezone => crate::scim::rules::iana_timezone(v)
            .map_err(|why| EditError::Refused { field: attr.short(), value: quoted_excerpt(v, 40), why })?
            .to_string(),
        Attr::UserType => crate::scim::rules::user_type(v)
            .map_err(|why| EditError::Refused { field: attr.short(), value: quoted_excerpt(v, 40), why })?
            .to_string(),
        // Slack's userName rules (reference §3), as `scim::rules` has them: what it would store.
        Attr::UserName => crate::scim::rules::slack_user_name(v).map_err(|p| EditError::UserName {
            value: quoted_excerpt(v, 40),
            why: p.to_string(),
            code: p.code(),
        })?,
        _ => v.to_string(),
    };
    Ok((attr, Some(value)))
}

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The role that keeps a user from being made a guest (an admin or owner), if any (reference §3
/// `cannot_make_user_guest`).
pub fn admin_role(user: &User) -> Option<&str> {
    user.role_values().into_iter().find(|r| crate::scim::rules::is_admin_role(r))
}

/// Slack's guest rules for one edit, before anything is sent (reference §3): an admin or owner is
/// never made a guest; an expiry belongs to a guest (one already, or made one by the same edit).
pub fn guest_rules(user: &User, changes: &[FieldChange]) -> Result<(), EditError> {
    let who = || user.primary_email().or(user.user_name.as_deref()).unwrap_or(user.id()).to_string();
    let new_of = |a: Attr| changes.iter().find(|c| c.attr == a).map(|c| c.new.as_deref());
    let guest_after = match new_of(Attr::Guest) {
        Some(v) => v.is_some(),
        None => user.is_guest(),
    };
    if new_of(Attr::Guest).is_some_and(|v| v.is_some())
        && !user.is_guest()
        && let Some(role) = admin_role(user)
    {
        return Err(EditError::GuestAdmin { who: who(), role: role.to_string() });
    }
    if new_of(Attr::GuestExpiration).is_some_and(|v| v.is_some()) && !guest_after {
        return Err(EditError::ExpirationNeedsGuest { who: who() });
    }
    Ok(())
}

/// **The diff.** Compare `user` (as the server has it) with the requested values: the changed
/// attributes with their old and new values, and the update that sends only those. Values
/// already as asked (trimmed; userName, email and manager without regard to case) are left out.
/// Every value is checked first ([`check`]); the first bad one is the error.
pub fn diff(user: &User, sets: &[FieldSet]) -> Result<UserEdit, EditError> {
    let mut seen = Vec::new();
    let mut changes = Vec::new();
    for s in sets {
        let (attr, want) = check(s)?;
        if seen.contains(&attr) {
            return Err(EditError::Twice { field: attr.short().to_string() });
        }
        seen.push(attr);
        let have = attr.get(user);
        let same = match (have, want.as_deref()) {
            (None, None) => true,
            (Some(h), Some(w)) => attr.same_value(h, w),
            _ => false,
        };
        if same {
            continue;
        }
        changes.push(FieldChange { attr, old: have.map(str::to_string), new: want });
    }
    guest_rules(user, &changes)?;
    let update = update_for(user, changes.iter().map(|c| (c.attr, c.new.as_deref())));
    Ok(UserEdit { user_id: user.id().to_string(), changes, update })
}

/// **The update** that sends exactly these changes of `old` (each attribute with its new value;
/// `None` or blank: clear it): new values in `set`, emptied ones in `clear`. The one builder of a
/// hand edit's update, for `users update` ([`diff`]) and the console's user form
/// (`provision::edit`).
///
/// Each of the two emails and the two phones is one element of a multi-valued attribute, which a
/// PATCH of the whole attribute replaces (RFC 7644 §3.5.2.3), dropping a user's secondary email
/// or mobile phone: an element that changes is sent as its new value followed by the old one
/// marked `"operation": "delete"` (SCIM 1.1's form; `scim::client::user_patch_v2` turns it into
/// `replace` of `emails[value eq "OLD"].value`), a new one marked `"operation": "add"`, a removed
/// one as the delete alone. The one address Slack stores is sent whole, its unchanged parts
/// included.
pub fn update_for<'a>(old: &User, changes: impl IntoIterator<Item = (Attr, Option<&'a str>)>) -> UpdateSpec {
    let changes: Vec<(Attr, Option<&str>, Option<&str>)> = changes.into_iter().map(|(a, new)| (a, a.get(old), new)).collect();
    update_of(&changes, old.is_guest(), |a| a.get(old))
}

/// [`update_for`] from each attribute's value before and after (`old` reads the attributes that
/// do not change, for the address's other parts), `guest` whether the user is a guest now.
pub fn update_of<'a>(
    changes: &[(Attr, Option<&'a str>, Option<&'a str>)],
    guest: bool,
    old: impl Fn(Attr) -> Option<&'a str>,
) -> UpdateSpec {
    use crate::scim::types::MultiValue;
    let mut update = UpdateSpec::default();
    let mut address = false;
    for &(attr, was, new) in changes {
        let new = new.map(str::trim).filter(|v| !v.is_empty());
        if attr.is_address() {
            address = true;
            continue;
        }
        if attr.is_element() {
            let list = match attr {
                Attr::Email | Attr::SecondaryEmail => update.set.emails.get_or_insert_with(Vec::new),
                _ => update.set.phone_numbers.get_or_insert_with(Vec::new),
            };
            let element = |v: &str| element_of(attr, v);
            let delete = |v: &str| MultiValue { value: Some(v.into()), operation: Some("delete".into()), ..Default::default() };
            match (was, new) {
                (Some(w), Some(n)) => {
                    list.push(element(n));
                    list.push(delete(w));
                }
                (None, Some(n)) => list.push(MultiValue { operation: Some("add".into()), ..element(n) }),
                (Some(w), None) => list.push(delete(w)),
                (None, None) => {}
            }
            continue;
        }
        match new {
            Some(v) => {
                attr.set(&mut update.set, Some(v));
                // A guest's expiry moves with its type, as Slack's docs send it (reference §3).
                if attr == Attr::GuestExpiration && guest {
                    update.set.guest.get_or_insert_with(Default::default).kind.get_or_insert_with(|| "multi".into());
                }
            }
            None => update.clear.push(attr.clear_path()),
        }
    }
    // The other element of a changed list, as it is, marked "keep": nothing to send in SCIM 2.0
    // (the change names its one value), but a SCIM 1.1 partial resource that lists an attribute
    // may stand for its whole list (reference §5 v1: "Listed attributes overwrite"), so v1 sends
    // it along (`scim::client::user_patch_v1`).
    for (a, b) in [(Attr::Email, Attr::SecondaryEmail), (Attr::PhoneWork, Attr::PhoneMobile)] {
        let changed = |x: Attr| changes.iter().any(|c| c.0 == x);
        for (this, other) in [(a, b), (b, a)] {
            if changed(this)
                && !changed(other)
                && let Some(v) = old(other)
            {
                let list = if a == Attr::Email { &mut update.set.emails } else { &mut update.set.phone_numbers };
                list.get_or_insert_with(Vec::new).push(MultiValue { operation: Some("keep".into()), ..element_of(other, v) });
            }
        }
    }
    // Removing the guest extension takes its expiry with it.
    if update.clear.iter().any(|c| c == "guest") {
        update.clear.retain(|c| c != "guest.expiration");
    }
    if address {
        let mut a = crate::scim::types::Address::default();
        let mut any = false;
        for part in Attr::ADDRESS {
            let v = match changes.iter().find(|c| c.0 == part) {
                Some(&(_, _, new)) => new.map(str::trim).filter(|v| !v.is_empty()),
                None => old(part),
            };
            let Some(v) = v else { continue };
            any = true;
            let slot = match part {
                Attr::StreetAddress => &mut a.street_address,
                Attr::Locality => &mut a.locality,
                Attr::Region => &mut a.region,
                Attr::PostalCode => &mut a.postal_code,
                _ => &mut a.country,
            };
            *slot = Some(v.to_string());
        }
        if any {
            update.set.addresses = Some(vec![a]);
        } else {
            update.clear.push("addresses".into());
        }
    }
    // What it changes from is journaled with it: undo is data (`restore --batch`).
    for (a, _) in update.touched() {
        update.before.insert(a.name().to_string(), old(a).map(str::to_string));
    }
    update
}

/// One element of `emails` or `phoneNumbers` as an update sends it.
fn element_of(attr: Attr, v: &str) -> crate::scim::types::MultiValue {
    use crate::scim::types::MultiValue;
    match attr {
        Attr::Email => MultiValue::email(v, true),
        Attr::SecondaryEmail => MultiValue { value: Some(v.into()), primary: Some(false), ..Default::default() },
        Attr::PhoneWork => MultiValue { value: Some(v.into()), kind: Some("work".into()), ..Default::default() },
        _ => MultiValue { value: Some(v.into()), kind: Some("mobile".into()), ..Default::default() },
    }
}

/// The read-back check of an update: each attribute it set or cleared that the user `after`
/// does not show as asked, one line each (empty: all as asked). A manager given as an email is
/// not compared (Slack stores the id it names).
pub fn unmet(update: &UpdateSpec, after: &User) -> Vec<String> {
    let mut out = Vec::new();
    // An update's emails are the ones it changes, flagged: the primary one by `primary: true`,
    // the secondary by `primary: false` (not Slack's order rule for a whole user).
    let email = |primary: bool| {
        update
            .set
            .emails
            .iter()
            .flatten()
            .find(|e| e.operation.as_deref() != Some("delete") && e.primary == Some(primary))
            .and_then(|e| e.value.as_deref())
    };
    for attr in Attr::ALL {
        let want = match attr {
            Attr::Email => email(true),
            Attr::SecondaryEmail => email(false),
            a => a.get(&update.set),
        };
        let Some(want) = want else { continue };
        if attr == Attr::Manager && want.contains('@') {
            continue;
        }
        match attr.get(after) {
            Some(have) if attr.same_value(have, want) => {}
            have => out.push(format!(
                "{} is {}, not {}",
                attr.short(),
                have.map_or("unset".into(), |h| quoted_excerpt(h, 60)),
                quoted_excerpt(want, 60)
            )),
        }
    }
    for path in &update.clear {
        for attr in Attr::ALL.into_iter().filter(|a| a.clear_path() == *path) {
            if let Some(have) = attr.get(after) {
                out.push(format!("{} is {}, not cleared", attr.short(), quoted_excerpt(have, 60)));
            }
        }
    }
    // A removed email or phone (an element marked `"operation": "delete"` that no new value
    // replaced) must be gone.
    let removed = |list: &Option<Vec<crate::scim::MultiValue>>| -> Vec<String> {
        let l = list.as_deref().unwrap_or_default();
        l.iter()
            .enumerate()
            .filter(|(i, e)| e.operation.as_deref() == Some("delete") && (*i == 0 || l[i - 1].operation.is_some()))
            .filter_map(|(_, e)| e.value.clone())
            .collect()
    };
    for (gone, now) in [(removed(&update.set.emails), &after.emails), (removed(&update.set.phone_numbers), &after.phone_numbers)] {
        for v in gone {
            if now
                .iter()
                .flatten()
                .any(|e| e.operation.is_none() && e.value.as_deref().is_some_and(|x| x.trim().eq_ignore_ascii_case(v.trim())))
            {
                out.push(format!("{} is still there, not removed", quoted_excerpt(&v, 60)));
            }
        }
    }
    out
}

/// One row of `users update --from FILE.csv`: who (`id`, else `email`, else `userName` column)
/// and the values of the other, non-empty cells (an empty cell leaves the field as it is).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditRow {
    /// "file.csv line 3".
    pub origin: String,
    /// The id, email or userName that names the user.
    pub who: String,
    pub sets: Vec<FieldSet>,
}

/// Read an edit CSV. The header names the key column (`id`, or `email`, or `userName`) and the
/// fields; an unknown column, a bad value or a row without a key is named by line and column.
pub fn read_csv(path: &std::path::Path) -> Result<Vec<EditRow>, Vec<String>> {
    let name = path.display().to_string();
    let text = crate::strict_csv::read_text(path, &name).map_err(|e| vec![e])?;
    let mut records = crate::strict_csv::records(&text);
    let headers: Vec<String> = match records.next() {
        Some(Ok(h)) => h.fields.iter().map(|h| h.trim().to_string()).collect(),
        Some(Err(e)) => return Err(vec![format!("{name} {e}")]),
        None => return Err(vec![format!("{name}: empty file (the header needs an id or email column and the fields to set)")]),
    };
    let low: Vec<String> = headers.iter().map(|h| h.to_ascii_lowercase().replace(['_', ' ', '-'], "")).collect();
    let key = ["id", "email", "username"]
        .iter()
        .find_map(|k| low.iter().position(|h| h == k))
        .ok_or_else(|| vec![format!("{name} line 1: the header needs an `id`, `email` or `userName` column to name each user")])?;
    let mut errors = Vec::new();
    let mut fields = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        if i == key {
            continue;
        }
        match Attr::from_field(h) {
            Some(_) => fields.push((i, h.clone())),
            None => errors.push(format!("{name} line 1: unknown column {}; fields: {}", quoted_excerpt(h, 40), known_fields())),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut out = Vec::new();
    for rec in records {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => return Err(vec![format!("{name} {e}; nothing was read from this file")]),
        };
        if rec.is_blank() {
            continue;
        }
        let origin = format!("{name} line {}", rec.line);
        let Some(who) = rec.get(key).map(str::trim).filter(|s| !s.is_empty()) else {
            errors.push(format!("{origin}: no {}", headers[key]));
            continue;
        };
        let mut sets = Vec::new();
        for (i, h) in &fields {
            if let Some(v) = rec.get(*i).map(str::trim).filter(|v| !v.is_empty()) {
                let s = FieldSet::new(h.clone(), v);
                match check(&s) {
                    Ok(_) => sets.push(s),
                    Err(e) => errors.push(format!("{origin}: {e}")),
                }
            }
        }
        out.push(EditRow { origin, who: who.to_string(), sets });
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::{EnterpriseUser, MultiValue};

    fn ann() -> User {
        User {
            id: Some("W1".into()),
            user_name: Some("ann".into()),
            emails: Some(vec![MultiValue::email("ann@x.example", true)]),
            title: Some("Engineer".into()),
            enterprise: Some(EnterpriseUser { department: Some("R&D".into()), ..Default::default() }),
            ..Default::default()
        }
    }

    /// Issue 25: Slack's rules for displayName (no `@`), timezone (an IANA name) and userType,
    /// checked before anything is sent (`users update`, `users create --from`, the console's form).
    #[test]
    fn display_name_timezone_and_user_type_follow_slacks_rules() {
        let c = |f: &str, v: &str| check(&FieldSet::new(f, v));
        assert!(c("displayName", "zed@tester").unwrap_err().to_string().contains("invalid_name_specials"));
        assert!(c("timezone", "Mars/Base").unwrap_err().to_string().contains("not an IANA time zone"));
        assert!(c("userType", "wizard").unwrap_err().to_string().contains("Employee"));
        assert_eq!(c("timezone", "europe/paris").unwrap(), (Attr::Timezone, Some("Europe/Paris".into())));
        assert_eq!(c("userType", "contractor").unwrap(), (Attr::UserType, Some("Contractor".into())));
        assert_eq!(c("displayName", "Zed Tester").unwrap(), (Attr::DisplayName, Some("Zed Tester".into())));
    }

    #[test]
    fn only_changed_fields_are_sent_with_old_and_new() {
        let sets = [
            FieldSet::parse("title=Staff Engineer").unwrap(),
            FieldSet::parse("department=R&D").unwrap(),
            FieldSet::parse("email=ANN@x.example").unwrap(),
            FieldSet::parse("division=").unwrap(),
            FieldSet::parse("costCenter=42").unwrap(),
        ];
        let e = diff(&ann(), &sets).unwrap();
        assert_eq!(e.lines(), ["title: \"Engineer\" -> \"Staff Engineer\"", "costCenter: (unset) -> \"42\""]);
        assert_eq!(e.update.set.title.as_deref(), Some("Staff Engineer"));
        assert!(e.update.set.enterprise.as_ref().unwrap().department.is_none(), "unchanged: not sent");
        assert!(e.update.set.emails.is_none() && e.update.clear.is_empty());
        let Some(Action::UpdateUser { target, .. }) = e.action(&ann()) else { panic!() };
        assert_eq!(target.id.as_deref(), Some("W1"));
        let mut after = ann();
        assert_eq!(unmet(&e.update, &after).len(), 2);
        after.title = Some("Staff Engineer".into());
        after.enterprise.as_mut().unwrap().cost_center = Some("42".into());
        assert!(unmet(&e.update, &after).is_empty());
        let clear = diff(&ann(), &[FieldSet::new("department", "")]).unwrap();
        assert_eq!(clear.update.clear, ["enterprise.department"]);
        assert!(diff(&ann(), &[FieldSet::new("title", " Engineer ")]).unwrap().is_empty());
    }

    #[test]
    fn a_changed_phone_or_email_changes_that_one_value() {
        // A PATCH of the whole multi-valued attribute would drop the mobile phone or the
        // secondary email: only the one value is replaced (`emails[value eq "OLD"].value`).
        let mut u = ann();
        Attr::PhoneWork.set(&mut u, Some("+1 555 0100"));
        Attr::PhoneMobile.set(&mut u, Some("+1 555 0199"));
        Attr::SecondaryEmail.set(&mut u, Some("ann@home.example"));
        let ops = |e: &UserEdit| -> Vec<(String, String)> {
            let p = crate::scim::client::user_patch_v2(&(&e.update).into(), crate::scim::Dialect::Rfc, crate::scim::client::ExtPath::Colon);
            p.operations.iter().map(|o| (o.op.clone(), o.path.clone().unwrap_or_default())).collect()
        };
        let e = diff(&u, &[FieldSet::new(Attr::PhoneWork.short(), "+1 555 0111")]).unwrap();
        assert_eq!(e.changes.len(), 1);
        assert_eq!(Attr::PhoneWork.get(&e.update.set), Some("+1 555 0111"));
        assert_eq!(Attr::PhoneMobile.get(&e.update.set), Some("+1 555 0199"), "the other phone is kept (and checked after)");
        assert_eq!(ops(&e), [("replace".to_string(), r#"phoneNumbers[value eq "+1 555 0100"].value"#.to_string())]);
        let e = diff(&u, &[FieldSet::new("email", "ann.new@x.example")]).unwrap();
        assert_eq!(ops(&e), [("replace".to_string(), r#"emails[value eq "ann@x.example"].value"#.to_string())]);
        assert!(unmet(&e.update, &u).iter().any(|m| m.contains("email")));
        // A phone the user did not have is added; a cleared one is removed by its value.
        let e = diff(&ann(), &[FieldSet::new("mobile", "+1 555 0142")]).unwrap();
        assert_eq!(ops(&e), [("add".to_string(), "phoneNumbers".to_string())]);
        let e = diff(&u, &[FieldSet::new(Attr::PhoneWork.short(), ""), FieldSet::new("secondaryEmail", "")]).unwrap();
        assert_eq!(
            ops(&e),
            [
                ("remove".to_string(), r#"emails[value eq "ann@home.example"]"#.to_string()),
                ("remove".to_string(), r#"phoneNumbers[value eq "+1 555 0100"]"#.to_string())
            ]
        );
        assert_eq!(unmet(&e.update, &u).len(), 2, "both still there");
        let mut after = u.clone();
        after.emails.as_mut().unwrap().retain(|m| m.primary == Some(true));
        after.phone_numbers.as_mut().unwrap().retain(|m| m.kind.as_deref() == Some("mobile"));
        assert!(unmet(&e.update, &after).is_empty(), "{:?}", unmet(&e.update, &after));
    }

    #[test]
    fn profile_guest_and_address_fields() {
        let u = ann();
        let e =
            diff(&u, &[FieldSet::new("startDate", "2027-01-04"), FieldSet::new("photo", "https://photos.example.com/ann.jpg")]).unwrap();
        assert_eq!(e.update.set.start_date(), Some("2027-01-04T00:00:00+0000"), "Slack's documented form");
        let p = crate::scim::client::user_patch_v2(&(&e.update).into(), crate::scim::Dialect::Slack, crate::scim::client::ExtPath::Colon);
        assert!(p.schemas.iter().any(|s| s == crate::scim::types::urn::V2_PROFILE), "the profile URN is listed: {:?}", p.schemas);
        // The same date written otherwise is no change.
        let mut with = u.clone();
        Attr::StartDate.set(&mut with, Some("2027-01-04T00:00:00+0000"));
        assert!(diff(&with, &[FieldSet::new("start_date", "2027-01-04")]).unwrap().is_empty());
        let err = |u: &User, s: &[(&str, &str)]| {
            diff(u, &s.iter().map(|(f, v)| FieldSet::new(*f, *v)).collect::<Vec<_>>()).unwrap_err().to_string()
        };
        assert!(err(&u, &[("startDate", "04/01/2027")]).contains("startDate"));
        assert!(err(&u, &[("photo", "http://x.example/a.png")]).contains("https"));
        assert!(err(&u, &[("guest", "single")]).contains("multi"));
        assert!(err(&u, &[("guestExpiration", "2099-01-01")]).contains("is a member"));
        assert!(err(&u, &[("guest", "multi"), ("guestExpiration", "2001-01-01")]).contains("in the past"));
        let mut admin = u.clone();
        admin.roles = Some(vec![crate::scim::types::Role::Text("Admin".into())]);
        let why = err(&admin, &[("guest", "multi")]);
        assert!(why.contains("\"Admin\"") && why.contains("cannot_make_user_guest"), "{why}");
        let e = diff(&u, &[FieldSet::new("guest", "multi"), FieldSet::new("guestExpiration", "2099-03-31")]).unwrap();
        let g = e.update.set.guest.clone().unwrap();
        assert_eq!((g.kind.as_deref(), g.expiration.as_deref()), (Some("multi"), Some("2099-03-31T23:59:59Z")));
        let mut guest = u.clone();
        guest.guest = Some(g);
        let e = diff(&guest, &[FieldSet::new("guest", "member")]).unwrap();
        assert_eq!(e.update.clear, ["guest"]);
        // One address: a changed part sends it whole.
        let mut home = u.clone();
        Attr::Locality.set(&mut home, Some("Oslo"));
        Attr::Country.set(&mut home, Some("NO"));
        let e = diff(&home, &[FieldSet::new("city", "Bergen")]).unwrap();
        let a = e.update.set.address().unwrap();
        assert_eq!((a.locality.as_deref(), a.country.as_deref()), (Some("Bergen"), Some("NO")));
    }

    #[test]
    fn refusals_name_the_value() {
        let err = |s: &str| diff(&ann(), &[FieldSet::parse(s).unwrap()]).unwrap_err().to_string();
        assert!(err("shoe_size=9").contains("unknown field \"shoe_size\""), "{}", err("shoe_size=9"));
        assert!(err("email=not-an-email").contains("\"not-an-email\""), "{}", err("email=not-an-email"));
        assert!(err("userName=ann🎉").contains("invalid_emoji_not_allowed"), "{}", err("userName=ann🎉"));
        assert!(err(&format!("userName={}", "a".repeat(30))).contains("username_too_long"));
        assert!(err("email=").contains("Slack requires"));
        assert!(FieldSet::parse("title").is_err());
        let twice = diff(&ann(), &[FieldSet::new("title", "a"), FieldSet::new("Title", "b")]).unwrap_err();
        assert_eq!(twice, EditError::Twice { field: "title".into() });
    }

    #[test]
    fn csv_rows_are_named_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.csv");
        std::fs::write(&p, "email,title,department\nann@x.example,Lead,\n,x,y\nbob@x.example,,Sales\n").unwrap();
        let errs = read_csv(&p).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert!(errs[0].contains("line 3") && errs[0].contains("no email"), "{errs:?}");
        std::fs::write(&p, "email,title,department\nann@x.example,Lead,\nbob@x.example,,Sales\n").unwrap();
        let rows = read_csv(&p).unwrap();
        assert_eq!(rows[0].sets, [FieldSet::new("title", "Lead")]);
        assert_eq!(rows[1].who, "bob@x.example");
        std::fs::write(&p, "id,shoe\nW1,9\n").unwrap();
        assert!(read_csv(&p).unwrap_err()[0].contains("unknown column \"shoe\""));
    }
}
