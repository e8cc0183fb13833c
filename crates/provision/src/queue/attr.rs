//! The user attributes scimitar reads and writes (a policy maps them, `users update --set`
//! edits them: `edit.rs`), with where each lives on a SCIM user.

use crate::scim::types::User;
use serde::Serialize;
use std::fmt;

/// A Slack user attribute a policy can set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Attr {
    UserName,
    Email,
    GivenName,
    FamilyName,
    HonorificPrefix,
    DisplayName,
    Title,
    Timezone,
    Locale,
    PreferredLanguage,
    UserType,
    PhoneWork,
    PhoneMobile,
    EmployeeNumber,
    CostCenter,
    Organization,
    Division,
    Department,
    /// The manager's source key in the source; a Slack user id in Slack.
    Manager,
}

impl Attr {
    pub const ALL: [Attr; 19] = [
        Attr::UserName,
        Attr::Email,
        Attr::GivenName,
        Attr::FamilyName,
        Attr::HonorificPrefix,
        Attr::DisplayName,
        Attr::Title,
        Attr::Timezone,
        Attr::Locale,
        Attr::PreferredLanguage,
        Attr::UserType,
        Attr::PhoneWork,
        Attr::PhoneMobile,
        Attr::EmployeeNumber,
        Attr::CostCenter,
        Attr::Organization,
        Attr::Division,
        Attr::Department,
        Attr::Manager,
    ];

    /// The name used in policy files and plans.
    pub fn name(self) -> &'static str {
        match self {
            Attr::UserName => "userName",
            Attr::Email => "emails.work",
            Attr::GivenName => "name.givenName",
            Attr::FamilyName => "name.familyName",
            Attr::HonorificPrefix => "name.honorificPrefix",
            Attr::DisplayName => "displayName",
            Attr::Title => "title",
            Attr::Timezone => "timezone",
            Attr::Locale => "locale",
            Attr::PreferredLanguage => "preferredLanguage",
            Attr::UserType => "userType",
            Attr::PhoneWork => "phoneNumbers.work",
            Attr::PhoneMobile => "phoneNumbers.mobile",
            Attr::EmployeeNumber => "enterprise.employeeNumber",
            Attr::CostCenter => "enterprise.costCenter",
            Attr::Organization => "enterprise.organization",
            Attr::Division => "enterprise.division",
            Attr::Department => "enterprise.department",
            Attr::Manager => "enterprise.manager",
        }
    }

    /// Parse a policy key (a few aliases are accepted).
    pub fn parse(s: &str) -> Option<Attr> {
        let alias = match s {
            "email" | "emails" | "emails.primary" => Some(Attr::Email),
            "enterprise.manager.managerId" | "manager" => Some(Attr::Manager),
            "department" => Some(Attr::Department),
            _ => None,
        };
        alias.or_else(|| Attr::ALL.into_iter().find(|a| a.name() == s))
    }

    /// Compared without regard to case (and, for userName, after Slack's normalisation).
    pub fn case_insensitive(self) -> bool {
        matches!(self, Attr::UserName | Attr::Email | Attr::Manager)
    }

    /// The attribute's current value on a Slack user; empty strings read as unset.
    pub fn get(self, u: &User) -> Option<&str> {
        let ent = u.enterprise.as_ref();
        let name = u.name.as_ref();
        let phone =
            |kind: &str| u.phone_numbers.as_ref()?.iter().find(|p| p.kind.as_deref() == Some(kind)).and_then(|p| p.value.as_deref());
        let v = match self {
            Attr::UserName => u.user_name.as_deref(),
            Attr::Email => u.primary_email(),
            Attr::GivenName => name.and_then(|n| n.given_name.as_deref()),
            Attr::FamilyName => name.and_then(|n| n.family_name.as_deref()),
            Attr::HonorificPrefix => name.and_then(|n| n.honorific_prefix.as_deref()),
            Attr::DisplayName => u.display_name.as_deref(),
            Attr::Title => u.title.as_deref(),
            Attr::Timezone => u.timezone.as_deref(),
            Attr::Locale => u.locale.as_deref(),
            Attr::PreferredLanguage => u.preferred_language.as_deref(),
            Attr::UserType => u.user_type.as_deref(),
            Attr::PhoneWork => phone("work"),
            Attr::PhoneMobile => phone("mobile"),
            Attr::EmployeeNumber => ent.and_then(|e| e.employee_number.as_deref()),
            Attr::CostCenter => ent.and_then(|e| e.cost_center.as_deref()),
            Attr::Organization => ent.and_then(|e| e.organization.as_deref()),
            Attr::Division => ent.and_then(|e| e.division.as_deref()),
            Attr::Department => ent.and_then(|e| e.department.as_deref()),
            Attr::Manager => u.manager_id(),
        };
        v.map(str::trim).filter(|s| !s.is_empty())
    }

    /// Set the attribute on a (partial) user. `None` clears it: the value is written as `""`,
    /// which a PATCH sends as an empty value.
    pub fn set(self, u: &mut User, value: Option<&str>) {
        use crate::scim::types::{Manager, MultiValue};
        let v = Some(value.unwrap_or("").to_string());
        match self {
            Attr::UserName => u.user_name = v,
            Attr::Email => {
                let emails = u.emails.get_or_insert_with(Vec::new);
                match emails.iter_mut().find(|e| e.primary == Some(true)) {
                    Some(e) => e.value = v,
                    None => emails.insert(0, MultiValue::email(value.unwrap_or(""), true)),
                }
            }
            Attr::GivenName => u.name.get_or_insert_with(Default::default).given_name = v,
            Attr::FamilyName => u.name.get_or_insert_with(Default::default).family_name = v,
            Attr::HonorificPrefix => u.name.get_or_insert_with(Default::default).honorific_prefix = v,
            Attr::DisplayName => u.display_name = v,
            Attr::Title => u.title = v,
            Attr::Timezone => u.timezone = v,
            Attr::Locale => u.locale = v,
            Attr::PreferredLanguage => u.preferred_language = v,
            Attr::UserType => u.user_type = v,
            Attr::PhoneWork | Attr::PhoneMobile => {
                let kind = if self == Attr::PhoneWork { "work" } else { "mobile" };
                let phones = u.phone_numbers.get_or_insert_with(Vec::new);
                match phones.iter_mut().find(|p| p.kind.as_deref() == Some(kind)) {
                    Some(p) => p.value = v,
                    None => phones.push(MultiValue { value: v, kind: Some(kind.into()), ..Default::default() }),
                }
            }
            Attr::EmployeeNumber => u.enterprise.get_or_insert_with(Default::default).employee_number = v,
            Attr::CostCenter => u.enterprise.get_or_insert_with(Default::default).cost_center = v,
            Attr::Organization => u.enterprise.get_or_insert_with(Default::default).organization = v,
            Attr::Division => u.enterprise.get_or_insert_with(Default::default).division = v,
            Attr::Department => u.enterprise.get_or_insert_with(Default::default).department = v,
            Attr::Manager => {
                u.enterprise.get_or_insert_with(Default::default).manager = Some(Manager { manager_id: v, ..Default::default() })
            }
        }
    }
}

impl fmt::Display for Attr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Attr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Attr {
    /// The short name `users update --set` and the edit form use (`title`, `department`,
    /// `givenName`, `phone`, ...).
    pub fn short(self) -> &'static str {
        match self {
            Attr::UserName => "userName",
            Attr::Email => "email",
            Attr::GivenName => "givenName",
            Attr::FamilyName => "familyName",
            Attr::HonorificPrefix => "honorificPrefix",
            Attr::DisplayName => "displayName",
            Attr::Title => "title",
            Attr::Timezone => "timezone",
            Attr::Locale => "locale",
            Attr::PreferredLanguage => "preferredLanguage",
            Attr::UserType => "userType",
            Attr::PhoneWork => "phone",
            Attr::PhoneMobile => "mobile",
            Attr::EmployeeNumber => "employeeNumber",
            Attr::CostCenter => "costCenter",
            Attr::Organization => "organization",
            Attr::Division => "division",
            Attr::Department => "department",
            Attr::Manager => "manager",
        }
    }

    /// A field name as an admin types it: the short name or the policy name, any case, `_`/`-`
    /// ignored, plus `first_name`, `last_name`, `dept`, `tz`, `emails`.
    pub fn from_field(s: &str) -> Option<Attr> {
        let k: String = s.trim().chars().filter(|c| !matches!(c, '_' | '-' | ' ')).flat_map(char::to_lowercase).collect();
        let alias = match k.as_str() {
            "firstname" | "first" => Some(Attr::GivenName),
            "lastname" | "last" | "surname" => Some(Attr::FamilyName),
            "dept" => Some(Attr::Department),
            "tz" => Some(Attr::Timezone),
            "emails" | "mail" | "emails.primary" => Some(Attr::Email),
            "managerid" | "enterprise.manager.managerid" => Some(Attr::Manager),
            "phonenumbers.mobile" | "mobilephone" => Some(Attr::PhoneMobile),
            "phonework" | "workphone" => Some(Attr::PhoneWork),
            _ => None,
        };
        alias.or_else(|| Attr::ALL.into_iter().find(|a| a.short().to_lowercase() == k || a.name().to_lowercase() == k))
    }

    /// The update path a cleared attribute is removed by (see `scim::client::user_patch_v2`).
    pub fn clear_path(self) -> String {
        match self {
            Attr::PhoneWork => "phoneNumbers[type eq \"work\"]".into(),
            Attr::PhoneMobile => "phoneNumbers[type eq \"mobile\"]".into(),
            Attr::Manager => "enterprise.manager".into(),
            Attr::Email => "emails".into(),
            a => a.name().to_string(),
        }
    }

    /// Whether two values are the same for this attribute: trimmed; without regard to case for
    /// userName, email and manager, and userName after Slack's normalisation.
    pub fn same_value(self, a: &str, b: &str) -> bool {
        let (a, b) = (a.trim(), b.trim());
        match self {
            Attr::UserName => a == b || crate::scim::rules::normalize_user_name(a) == crate::scim::rules::normalize_user_name(b),
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
}
