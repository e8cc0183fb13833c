//! Editing a user's attributes: the field-level diff between a user as the server has it and the
//! values an admin asks for, and the update that sends only what changed. The headless
//! `scimitar users update ID|EMAIL --set title=… [--from FILE.csv]` and the console's user edit
//! form both call [`diff`]; the [`Action::UpdateUser`] it builds passes the one gate
//! (`gate::gate`) like any other write, and the engine reads the user back after ([`unmet`]).
//!
//! Fields are the [`Attr`]s (`title`, `department`, `givenName`, `familyName`, `displayName`,
//! `userName`, `email`, `timezone`, `userType`, `employeeNumber`, `costCenter`, `organization`,
//! `division`, `manager` (a user id), `phone`, `mobile`, `locale`, `preferredLanguage`,
//! `honorificPrefix`; policy names such as `enterprise.department` work too). An empty value
//! clears the attribute, except `userName` and `email`, which Slack requires.

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
        Attr::Email => crate::scim::client::normalize_email(v).map_err(|e| EditError::Email {
            value: quoted_excerpt(v, 80),
            why: e.to_string().rsplit_once(": ").map_or_else(|| e.to_string(), |(_, w)| w.to_string()),
        })?,
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
    let update = update_for(user, changes.iter().map(|c| (c.attr, c.new.as_deref())));
    Ok(UserEdit { user_id: user.id().to_string(), changes, update })
}

/// **The update** that sends exactly these changes of `old` (each attribute with its new value;
/// `None` or blank: clear it): new values in `set`, emptied ones in `clear`. The one builder of a
/// hand edit's update, for `users update` ([`diff`]) and the console's user form
/// (`provision::edit`).
///
/// A phone number is one element of the multi-valued `phoneNumbers`, which a PATCH replaces as a
/// whole: when one phone is set, the other one the user has is sent again so it is kept.
pub fn update_for<'a>(old: &User, changes: impl IntoIterator<Item = (Attr, Option<&'a str>)>) -> UpdateSpec {
    let mut update = UpdateSpec::default();
    let mut changed = Vec::new();
    let mut phone_set = false;
    for (attr, new) in changes {
        changed.push(attr);
        match new.map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => {
                attr.set(&mut update.set, Some(v));
                phone_set |= matches!(attr, Attr::PhoneWork | Attr::PhoneMobile);
            }
            None => update.clear.push(attr.clear_path()),
        }
    }
    if phone_set {
        for p in [Attr::PhoneWork, Attr::PhoneMobile] {
            if !changed.contains(&p)
                && let Some(v) = p.get(old)
            {
                p.set(&mut update.set, Some(v));
            }
        }
    }
    // What it changes from is journaled with it: undo is data (`restore --batch`).
    update.keeping_before(old)
}

/// The read-back check of an update: each attribute it set or cleared that the user `after`
/// does not show as asked, one line each (empty: all as asked). A manager given as an email is
/// not compared (Slack stores the id it names).
pub fn unmet(update: &UpdateSpec, after: &User) -> Vec<String> {
    let mut out = Vec::new();
    for attr in Attr::ALL {
        let Some(want) = attr.get(&update.set) else { continue };
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
        if let Some(attr) = Attr::ALL.into_iter().find(|a| a.clear_path() == *path)
            && let Some(have) = attr.get(after)
        {
            out.push(format!("{} is {}, not cleared", attr.short(), quoted_excerpt(have, 60)));
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
    let text = super::input::read_text(path, &name).map_err(|e| vec![e])?;
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
    fn a_changed_phone_keeps_the_other_one() {
        // phoneNumbers is replaced whole by a PATCH: the mobile phone must be sent again.
        let mut u = ann();
        Attr::PhoneWork.set(&mut u, Some("+1 555 0100"));
        Attr::PhoneMobile.set(&mut u, Some("+1 555 0199"));
        let e = diff(&u, &[FieldSet::new(Attr::PhoneWork.short(), "+1 555 0111")]).unwrap();
        assert_eq!(e.changes.len(), 1);
        assert_eq!(Attr::PhoneWork.get(&e.update.set), Some("+1 555 0111"));
        assert_eq!(Attr::PhoneMobile.get(&e.update.set), Some("+1 555 0199"), "the other phone is kept");
        // Clearing one phone sends no other.
        let e = diff(&u, &[FieldSet::new(Attr::PhoneWork.short(), "")]).unwrap();
        assert!(e.update.set.phone_numbers.is_none() && e.update.clear.len() == 1, "{:?}", e.update);
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
