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
    /// The secondary email (Slack stores the primary and one more, reference §3 `emails`).
    SecondaryEmail,
    /// The Slack profile extension's `startDate` (ISO-8601; the extension's URN goes in `schemas`).
    StartDate,
    /// The profile photo: a public `https://` URL or a `data:` URL (Slack applies it later).
    Photo,
    /// The Slack guest extension's `type`: `multi` (a multi-channel guest) or unset (a member).
    Guest,
    /// The Slack guest extension's `expiration` (ISO-8601).
    GuestExpiration,
    /// The one stored address's `streetAddress` (reference §3 `addresses`: one stored).
    StreetAddress,
    /// The address's `locality` (Slack's profile field "City").
    Locality,
    /// The address's `region`.
    Region,
    /// The address's `postalCode` (Slack's "Zip Code").
    PostalCode,
    /// The address's `country`.
    Country,
}

impl Attr {
    pub const ALL: [Attr; 29] = [
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
        Attr::SecondaryEmail,
        Attr::StartDate,
        Attr::Photo,
        Attr::Guest,
        Attr::GuestExpiration,
        Attr::StreetAddress,
        Attr::Locality,
        Attr::Region,
        Attr::PostalCode,
        Attr::Country,
    ];

    /// The parts of the one address Slack stores (sent together: see `queue::edit::update_for`).
    pub const ADDRESS: [Attr; 5] = [Attr::StreetAddress, Attr::Locality, Attr::Region, Attr::PostalCode, Attr::Country];

    pub fn is_address(self) -> bool {
        Attr::ADDRESS.contains(&self)
    }

    /// One value of a multi-valued attribute, changed on its own (the others kept): the two
    /// emails and the two phones (see `scim::client::user_patch_v2`).
    pub fn is_element(self) -> bool {
        matches!(self, Attr::Email | Attr::SecondaryEmail | Attr::PhoneWork | Attr::PhoneMobile)
    }

    /// A date (ISO-8601), compared as an instant; `DateEnd` says which second a date alone is.
    pub fn date_end(self) -> Option<crate::scim::rules::DateEnd> {
        match self {
            Attr::StartDate => Some(crate::scim::rules::DateEnd::Start),
            Attr::GuestExpiration => Some(crate::scim::rules::DateEnd::End),
            _ => None,
        }
    }

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
            Attr::SecondaryEmail => "emails.secondary",
            Attr::StartDate => "profile.startDate",
            Attr::Photo => "photos",
            Attr::Guest => "guest.type",
            Attr::GuestExpiration => "guest.expiration",
            Attr::StreetAddress => "addresses.streetAddress",
            Attr::Locality => "addresses.locality",
            Attr::Region => "addresses.region",
            Attr::PostalCode => "addresses.postalCode",
            Attr::Country => "addresses.country",
        }
    }

    /// Parse a policy key: the policy name, a few aliases, or any name `users update --set` takes
    /// ([`Attr::from_field`]: `startDate`, `photo`, `guest`, `secondaryEmail`, ...), so one name
    /// works everywhere.
    pub fn parse(s: &str) -> Option<Attr> {
        let alias = match s {
            "email" | "emails" | "emails.primary" => Some(Attr::Email),
            "enterprise.manager.managerId" | "manager" => Some(Attr::Manager),
            "department" => Some(Attr::Department),
            "photos.value" | "photo" => Some(Attr::Photo),
            "guest" | "urn:ietf:params:scim:schemas:extension:slack:guest:2.0:User.type" => Some(Attr::Guest),
            _ => None,
        };
        alias.or_else(|| Attr::ALL.into_iter().find(|a| a.name() == s)).or_else(|| Attr::from_field(s))
    }

    /// Compared without regard to case (and, for userName, after Slack's normalisation).
    pub fn case_insensitive(self) -> bool {
        matches!(self, Attr::UserName | Attr::Email | Attr::Manager | Attr::SecondaryEmail | Attr::Guest)
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
            Attr::SecondaryEmail => u.secondary_email(),
            Attr::StartDate => u.start_date(),
            Attr::Photo => u.photo(),
            Attr::Guest => u.guest.as_ref().and_then(|g| g.kind.as_deref()),
            Attr::GuestExpiration => u.guest_expiration(),
            Attr::StreetAddress => u.address().and_then(|a| a.street_address.as_deref()),
            Attr::Locality => u.address().and_then(|a| a.locality.as_deref()),
            Attr::Region => u.address().and_then(|a| a.region.as_deref()),
            Attr::PostalCode => u.address().and_then(|a| a.postal_code.as_deref()),
            Attr::Country => u.address().and_then(|a| a.country.as_deref()),
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
            Attr::SecondaryEmail => {
                let emails = u.emails.get_or_insert_with(Vec::new);
                match emails.iter_mut().find(|e| e.primary == Some(false) && e.operation.is_none()) {
                    Some(e) => e.value = v,
                    None => emails.push(MultiValue { value: v, primary: Some(false), ..Default::default() }),
                }
            }
            Attr::StartDate => u.profile.get_or_insert_with(Default::default).start_date = v,
            Attr::Photo => {
                u.photos = Some(vec![MultiValue { value: v, kind: Some("photo".into()), primary: Some(true), ..Default::default() }])
            }
            Attr::Guest => u.guest.get_or_insert_with(Default::default).kind = v,
            Attr::GuestExpiration => u.guest.get_or_insert_with(Default::default).expiration = v,
            Attr::StreetAddress | Attr::Locality | Attr::Region | Attr::PostalCode | Attr::Country => {
                let list = u.addresses.get_or_insert_with(Vec::new);
                if list.is_empty() {
                    list.push(Default::default());
                }
                let a = &mut list[0];
                match self {
                    Attr::StreetAddress => a.street_address = v,
                    Attr::Locality => a.locality = v,
                    Attr::Region => a.region = v,
                    Attr::PostalCode => a.postal_code = v,
                    _ => a.country = v,
                }
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
            Attr::SecondaryEmail => "secondaryEmail",
            Attr::StartDate => "startDate",
            Attr::Photo => "photo",
            Attr::Guest => "guest",
            Attr::GuestExpiration => "guestExpiration",
            Attr::StreetAddress => "streetAddress",
            Attr::Locality => "locality",
            Attr::Region => "region",
            Attr::PostalCode => "postalCode",
            Attr::Country => "country",
        }
    }

    /// The column `users export` writes it in (the short name in snake_case: `start_date`,
    /// which [`Attr::from_field`] reads back as the same attribute).
    pub fn column(self) -> &'static str {
        match self {
            Attr::Email => "email",
            Attr::UserName => "user_name",
            Attr::GivenName => "given_name",
            Attr::FamilyName => "family_name",
            Attr::HonorificPrefix => "honorific_prefix",
            Attr::DisplayName => "display_name",
            Attr::Title => "title",
            Attr::Timezone => "timezone",
            Attr::Locale => "locale",
            Attr::PreferredLanguage => "preferred_language",
            Attr::UserType => "user_type",
            Attr::PhoneWork => "phone_work",
            Attr::PhoneMobile => "phone_mobile",
            Attr::EmployeeNumber => "employee_number",
            Attr::CostCenter => "cost_center",
            Attr::Organization => "organization",
            Attr::Division => "division",
            Attr::Department => "department",
            Attr::Manager => "manager",
            Attr::SecondaryEmail => "secondary_email",
            Attr::StartDate => "start_date",
            Attr::Photo => "photo",
            Attr::Guest => "guest",
            Attr::GuestExpiration => "guest_expiration",
            Attr::StreetAddress => "street_address",
            Attr::Locality => "locality",
            Attr::Region => "region",
            Attr::PostalCode => "postal_code",
            Attr::Country => "country",
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
            "secondemail" | "emailsecondary" | "otheremail" | "homeemail" => Some(Attr::SecondaryEmail),
            "start" | "hiredate" | "profile.startdate" => Some(Attr::StartDate),
            "photos" | "photourl" | "avatar" | "picture" => Some(Attr::Photo),
            "guesttype" | "accounttype" => Some(Attr::Guest),
            "expiration" | "guestexpiry" | "expires" | "guest.expiration" => Some(Attr::GuestExpiration),
            "street" | "address" => Some(Attr::StreetAddress),
            "city" => Some(Attr::Locality),
            "state" | "province" => Some(Attr::Region),
            "zip" | "zipcode" | "postcode" => Some(Attr::PostalCode),
            _ => None,
        };
        alias.or_else(|| Attr::ALL.into_iter().find(|a| a.short().to_lowercase() == k || a.name().to_lowercase() == k))
    }

    /// The Slack profile field Slack's SCIM API creates for this attribute, counted against its
    /// 50 custom fields (`scim::rules::created_profile_fields`), if any.
    pub fn slack_profile_field(self) -> Option<&'static str> {
        Some(match self {
            Attr::StreetAddress | Attr::Region => "Addresses",
            Attr::Locality => "City",
            Attr::CostCenter => "Cost Center",
            Attr::Country => "Country",
            Attr::Department => "Department",
            Attr::Division => "Division",
            Attr::EmployeeNumber => "Employee ID",
            Attr::HonorificPrefix => "Honorific Prefix",
            Attr::Locale => "Locale",
            Attr::Manager => "Manager",
            Attr::Organization => "Organization",
            Attr::PhoneWork | Attr::PhoneMobile => "Phone",
            Attr::PreferredLanguage => "Preferred Language",
            Attr::Title => "Title",
            Attr::UserType => "UserType",
            Attr::PostalCode => "Zip Code",
            _ => return None,
        })
    }

    /// The value as it is sent, for a value from a source or typed: a guest `member` (or
    /// `none`) is no guest (`None`), `multi` in any case is `multi`; a date alone becomes
    /// Slack's documented form (`scim::rules::slack_date`); anything else as given. A value that
    /// does not parse is returned as given (the plan's rules name it).
    pub fn sendable(self, v: &str) -> Option<String> {
        let v = v.trim();
        match self {
            Attr::Guest => match v.to_ascii_lowercase().as_str() {
                "" | "member" | "full" | "none" => None,
                "multi" | "multi-channel" | "guest" => Some("multi".into()),
                _ => Some(v.to_string()),
            },
            a => match a.date_end() {
                Some(end) => Some(crate::scim::rules::slack_date(v, end).unwrap_or_else(|_| v.to_string())),
                None => (!v.is_empty()).then(|| v.to_string()),
            },
        }
    }

    /// The update path a cleared attribute is removed by (see `scim::client::user_patch_v2`).
    pub fn clear_path(self) -> String {
        match self {
            Attr::PhoneWork => "phoneNumbers[type eq \"work\"]".into(),
            Attr::PhoneMobile => "phoneNumbers[type eq \"mobile\"]".into(),
            Attr::Manager => "enterprise.manager".into(),
            Attr::Email => "emails".into(),
            Attr::SecondaryEmail => "emails[primary eq false]".into(),
            Attr::StartDate => "profile.startDate".into(),
            Attr::Photo => "photos".into(),
            Attr::Guest => "guest".into(),
            Attr::GuestExpiration => "guest.expiration".into(),
            a if a.is_address() => "addresses".into(),
            a => a.name().to_string(),
        }
    }

    /// Whether two values are the same for this attribute: trimmed; without regard to case for
    /// userName, email and manager, and userName after Slack's normalisation.
    pub fn same_value(self, a: &str, b: &str) -> bool {
        let (a, b) = (a.trim(), b.trim());
        match self {
            Attr::UserName => a == b || crate::scim::rules::normalize_user_name(a) == crate::scim::rules::normalize_user_name(b),
            // The same instant, however written (`2027-01-04` is `2027-01-04T00:00:00+0000`).
            x if x.date_end().is_some() => {
                let end = x.date_end().unwrap();
                match (crate::scim::rules::iso_date(a, end), crate::scim::rules::iso_date(b, end)) {
                    (Ok(p), Ok(q)) => p.unix == q.unix,
                    _ => a == b,
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_fields_slack_creates_are_named_alike_on_both_sides() {
        for a in Attr::ALL {
            let mut u = User::default();
            a.set(&mut u, Some("x"));
            let made = crate::scim::rules::created_profile_fields(&u);
            assert_eq!(made, a.slack_profile_field().into_iter().collect::<Vec<_>>(), "{a}");
        }
    }
}
