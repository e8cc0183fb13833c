//! Slack's rules for users and groups, in one place: the plan checks a source against them before
//! any write (`provision::policy::plan`), and the emulator enforces them (`emulator::store`), so
//! the two cannot drift apart. Each rule names the reference section it rests on
//! (`/work/shared/slack-scim-reference.md`).

/// The longest userName Slack takes (reference §3 `userName`: "Max 21 chars"; errors
/// `username_too_long` / `long_username`, §7 and OKTA-KB).
pub const USER_NAME_MAX: usize = 21;

/// The most members one group may have (reference §7 `group_member_max_exceeded`: "IdP group
/// ~15k, user group 5k", and §8.11: up to 15,000 members per call). Enterprise Grid's IdP groups
/// are the larger case and the one this tool targets; a Business+ user group may refuse more
/// than 5,000 (UNCERTAIN which applies to an org, so the plan checks the documented maximum).
pub const GROUP_MEMBER_CAP: usize = 15_000;

/// Why Slack would refuse a userName.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserNameProblem {
    /// Nothing is left (reference §3: "Cannot be empty"; `username_empty`).
    Empty,
    /// Emoji or control/invisible characters (reference §3: "Emoji in values →
    /// `invalid_emoji_not_allowed`"). Other specials are not refused: Slack turns them into `_`.
    Characters(char),
    /// Longer than [`USER_NAME_MAX`] once Slack has normalised it (its length in characters).
    TooLong(usize),
}

impl UserNameProblem {
    /// Slack's error code for it (reference §7).
    pub fn code(&self) -> &'static str {
        match self {
            UserNameProblem::Empty => "username_empty",
            UserNameProblem::Characters(_) => "invalid_emoji_not_allowed",
            UserNameProblem::TooLong(_) => "username_too_long",
        }
    }
}

impl std::fmt::Display for UserNameProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserNameProblem::Empty => f.write_str("it is empty once Slack has normalised it"),
            UserNameProblem::Characters(c) => {
                write!(f, "it contains U+{:04X}, which Slack refuses (emoji or a control character)", *c as u32)
            }
            UserNameProblem::TooLong(n) => write!(f, "it is {n} characters long, over Slack's {USER_NAME_MAX}"),
        }
    }
}

/// Is this an emoji (or a part of one: variation selectors, skin tones, regional indicators,
/// the zero-width joiner)?
pub fn is_emoji(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF   // mahjong .. symbols and pictographs extended-A (incl. regional indicators, skin tones)
        | 0x2600..=0x27BF   // miscellaneous symbols, dingbats
        | 0x2B00..=0x2BFF   // arrows and stars used as emoji (⭐ ⬛)
        | 0x2300..=0x23FF   // technical symbols used as emoji (⌚ ⏰)
        | 0xFE0E..=0xFE0F   // variation selectors
        | 0x200D            // zero-width joiner
        | 0xE0020..=0xE007F // tag characters (flag sequences)
    )
}

/// Slack's userName mapping (reference §3): an email becomes its local part; lowercased; `.`,
/// `_` and `-` are kept and every other special becomes `_`. Not cut: see [`slack_user_name`].
pub fn normalize_user_name(raw: &str) -> String {
    let s = raw.trim();
    let s = match s.split_once('@') {
        Some((local, _)) if !local.is_empty() => local,
        _ => s,
    };
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect()
}

/// The userName Slack would store for `raw`, or why it refuses it.
pub fn slack_user_name(raw: &str) -> Result<String, UserNameProblem> {
    if let Some(c) =
        raw.chars().find(|&c| is_emoji(c) || c.is_control() || crate::sanitize::is_invisible(c) || crate::sanitize::is_bidi_control(c))
    {
        return Err(UserNameProblem::Characters(c));
    }
    let name = normalize_user_name(raw);
    let n = name.chars().count();
    if n == 0 {
        Err(UserNameProblem::Empty)
    } else if n > USER_NAME_MAX {
        Err(UserNameProblem::TooLong(n))
    } else {
        Ok(name)
    }
}

/// An ISO-8601 date or date-time as Slack's profile and guest extensions take them (reference §3:
/// `startDate` like `2024-04-10T00:00:00+0000`, a guest's `expiration` like
/// `2020-11-30T23:59:59Z`): `YYYY-MM-DD`, or that with `THH:MM[:SS[.fff]]` and `Z`, `±HH:MM` or
/// `±HHMM`. A date alone is the start of that day (UTC) for a start date, its last second for an
/// expiry ([`DateEnd`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsoDate {
    /// The instant, in seconds since the Unix epoch.
    pub unix: i64,
    /// The text gave a date only.
    pub date_only: bool,
}

/// Which second of the day a date alone stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateEnd {
    /// 00:00:00 (a start date).
    Start,
    /// 23:59:59 (an expiry: the guest keeps that whole day).
    End,
}

/// Why a date is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateProblem(pub String);

impl std::fmt::Display for DateProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parse an ISO-8601 date or date-time ([`IsoDate`]).
pub fn iso_date(text: &str, end: DateEnd) -> Result<IsoDate, DateProblem> {
    let s = text.trim();
    let bad = |why: &str| Err(DateProblem(format!("{why} (ISO-8601: 2027-01-04 or 2027-01-04T09:00:00Z)")));
    let num = |t: &str| -> Option<i64> { (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok()).flatten() };
    let (date, rest) = match s.split_once(['T', 't', ' ']) {
        Some((d, r)) => (d, Some(r)),
        None => (s, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() != 2 || parts[2].len() != 2 {
        return bad("not a date");
    }
    let (Some(y), Some(m), Some(d)) = (num(parts[0]), num(parts[1]), num(parts[2])) else { return bad("not a date") };
    let Ok(month) = time::Month::try_from(m as u8) else { return bad("no such month") };
    let Ok(day) = time::Date::from_calendar_date(y as i32, month, d as u8) else { return bad("no such day") };
    let midnight = day.midnight().assume_utc().unix_timestamp();
    let Some(rest) = rest else {
        let unix = match end {
            DateEnd::Start => midnight,
            DateEnd::End => midnight + 86_399,
        };
        return Ok(IsoDate { unix, date_only: true });
    };
    // The offset: Z, +HH:MM, +HHMM, -HH:MM, -HHMM.
    let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(at) = rest.rfind(['+', '-']) {
        let (c, o) = rest.split_at(at);
        let sign = if o.starts_with('-') { -1 } else { 1 };
        let o = o[1..].replace(':', "");
        let (Some(h), Some(mm)) = (o.get(..2).and_then(num), o.get(2..).and_then(num)) else { return bad("not a time zone offset") };
        if o.len() != 4 || h > 23 || mm > 59 {
            return bad("not a time zone offset");
        }
        (c, sign * (h * 3600 + mm * 60))
    } else {
        return bad("a time needs its zone (Z or +00:00)");
    };
    let clock = clock.split_once('.').map_or(clock, |(c, frac)| if num(frac).is_some() { c } else { "x" });
    let hms: Vec<&str> = clock.split(':').collect();
    if !(2..=3).contains(&hms.len()) || hms.iter().any(|p| p.len() != 2) {
        return bad("not a time");
    }
    let Some(v) = hms.iter().map(|p| num(p)).collect::<Option<Vec<i64>>>() else { return bad("not a time") };
    let (h, mi, sec) = (v[0], v[1], v.get(2).copied().unwrap_or(0));
    if h > 23 || mi > 59 || sec > 60 {
        return bad("no such time");
    }
    Ok(IsoDate { unix: midnight + h * 3600 + mi * 60 + sec - offset, date_only: false })
}

/// A date as the extension is sent: a date alone in Slack's documented form
/// (`2027-01-04T00:00:00+0000` for a start date, `2027-01-04T23:59:59Z` for an expiry); a
/// date-time as given.
pub fn slack_date(text: &str, end: DateEnd) -> Result<String, DateProblem> {
    let d = iso_date(text, end)?;
    let s = text.trim();
    Ok(match (d.date_only, end) {
        (true, DateEnd::Start) => format!("{s}T00:00:00+0000"),
        (true, DateEnd::End) => format!("{s}T23:59:59Z"),
        (false, _) => s.to_string(),
    })
}

/// The UTC date (`YYYY-MM-DD`) of an instant.
pub fn utc_day(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix).map(|t| t.date().to_string()).unwrap_or_default()
}

/// The longest `data:` URL a photo may be (Slack documents none: a CHOICE, about 750 KB of image).
pub const PHOTO_DATA_MAX: usize = 1_000_000;

/// Why a photo value is refused (reference §3 `photos`: "value = public URL or `data:` URL";
/// Slack's error `photos_invalid`, §7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhotoProblem(pub String);

impl std::fmt::Display for PhotoProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Check a photo value: a public `https://` URL (a host name or a public address; not
/// `localhost`, loopback, private or link-local addresses, which Slack's servers cannot fetch), or
/// a `data:image/{png,jpeg,gif,webp};base64,…` URL of valid base64 up to [`PHOTO_DATA_MAX`].
pub fn photo_value(v: &str) -> Result<(), PhotoProblem> {
    let bad = |why: String| Err(PhotoProblem(why));
    let v = v.trim();
    if let Some(data) = v.strip_prefix("data:") {
        if v.len() > PHOTO_DATA_MAX {
            return bad(format!("a data: URL of {} bytes, over {PHOTO_DATA_MAX}", v.len()));
        }
        let Some((kind, payload)) = data.split_once(";base64,") else {
            return bad("a data: URL needs the form data:image/png;base64,…".into());
        };
        if !matches!(kind.to_ascii_lowercase().as_str(), "image/png" | "image/jpeg" | "image/jpg" | "image/gif" | "image/webp") {
            return bad(format!("a data: URL of type {kind:?}; Slack takes an image (png, jpeg, gif, webp)"));
        }
        let body = payload.trim_end_matches('=');
        if body.is_empty() || payload.len() - body.len() > 2 || !body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/') {
            return bad("the data: URL's payload is not base64".into());
        }
        return Ok(());
    }
    let Some(rest) = v.strip_prefix("https://").or_else(|| v.get(..8).filter(|p| p.eq_ignore_ascii_case("https://")).map(|_| &v[8..]))
    else {
        return bad("a photo is a public https:// URL or a data: URL".into());
    };
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("a URL with spaces or control characters".into());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(h) => h.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    if host.is_empty() {
        return bad("the URL has no host".into());
    }
    let lower = host.to_ascii_lowercase();
    let private = match lower.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => a.is_loopback() || a.is_private() || a.is_link_local() || a.is_unspecified() || a.is_broadcast(),
        Ok(std::net::IpAddr::V6(a)) => {
            a.is_loopback() || a.is_unspecified() || (a.segments()[0] & 0xfe00) == 0xfc00 || (a.segments()[0] & 0xffc0) == 0xfe80
        }
        Err(_) => {
            lower == "localhost"
                || lower.ends_with(".localhost")
                || lower.ends_with(".local")
                || lower.ends_with(".internal")
                || !lower.contains('.')
        }
    };
    if private {
        return bad(format!("{host} is not a public host: Slack fetches the photo from the internet"));
    }
    Ok(())
}

/// The `roles` values that make an account an admin or owner, whom Slack never makes a guest
/// (reference §3: "Admins/Owners cannot be turned into guests (`cannot_make_user_guest`)").
/// Compared without regard to case, spaces or `-`.
pub fn is_admin_role(role: &str) -> bool {
    matches!(role.trim().to_lowercase().replace([' ', '-'], "_").as_str(), "primary_owner" | "owner" | "admin" | "org_owner" | "org_admin")
}

/// Slack's cap on custom profile fields, those its SCIM API creates included (reference §3:
/// "Custom profile fields are capped at 50 including SCIM-created ones
/// (`unable_to_create_team_profile_fields`)").
pub const CUSTOM_PROFILE_FIELDS_MAX: usize = 50;

/// The Slack profile fields Slack's SCIM API creates when a user carries these attributes (Slack's
/// docs, "Slack will also create profile fields if the following SCIM attributes are present":
/// Addresses, City, Cost Center, Country, Department, Division, Employee ID, Honorific Prefix,
/// Locale, Manager, Organization, Phone, Preferred Language, Roles, Title, UserType, Zip Code).
/// They count against [`CUSTOM_PROFILE_FIELDS_MAX`]. Nothing else of SCIM makes a custom field:
/// the API has no attribute for an arbitrary one.
pub fn created_profile_fields(u: &crate::User) -> Vec<&'static str> {
    let set = |v: Option<&str>| v.is_some_and(|v| !v.trim().is_empty());
    let ent = u.enterprise.as_ref();
    let addr = u.address();
    let mut out = Vec::new();
    let mut add = |on: bool, name: &'static str| {
        if on && !out.contains(&name) {
            out.push(name);
        }
    };
    add(addr.is_some_and(|a| set(a.street_address.as_deref()) || set(a.region.as_deref())), "Addresses");
    add(set(addr.and_then(|a| a.locality.as_deref())), "City");
    add(set(ent.and_then(|e| e.cost_center.as_deref())), "Cost Center");
    add(set(addr.and_then(|a| a.country.as_deref())), "Country");
    add(set(u.department()), "Department");
    add(set(ent.and_then(|e| e.division.as_deref())), "Division");
    add(set(ent.and_then(|e| e.employee_number.as_deref())), "Employee ID");
    add(set(u.name.as_ref().and_then(|n| n.honorific_prefix.as_deref())), "Honorific Prefix");
    add(set(u.locale.as_deref()), "Locale");
    add(set(u.manager_id()), "Manager");
    add(set(ent.and_then(|e| e.organization.as_deref())), "Organization");
    add(u.phone_numbers.iter().flatten().any(|p| p.operation.is_none() && set(p.value.as_deref())), "Phone");
    add(set(u.preferred_language.as_deref()), "Preferred Language");
    add(!u.role_values().is_empty(), "Roles");
    add(set(u.title.as_deref()), "Title");
    add(set(u.user_type.as_deref()), "UserType");
    add(set(addr.and_then(|a| a.postal_code.as_deref())), "Zip Code");
    out
}

/// The longest displayName Slack takes (reference §3 `displayName`: "max 80 chars").
pub const DISPLAY_NAME_MAX: usize = 80;

/// Why Slack would refuse a displayName, timezone or userType (the reason as Slack's error code
/// names it, where it has one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueProblem {
    #[error("invalid_emoji_not_allowed: it contains U+{:04X} (emoji or a control character)", *.0 as u32)]
    DisplayNameCharacter(char),
    #[error("invalid_starts_with_at: a display name cannot start with @")]
    DisplayNameStartsWithAt,
    #[error("invalid_name_specials: a display name cannot contain @")]
    DisplayNameAt,
    #[error("it is {0} characters long, over Slack's {DISPLAY_NAME_MAX}")]
    DisplayNameTooLong(usize),
    #[error("not an IANA time zone name ({hint})")]
    Timezone { hint: String },
    #[error("not a userType Slack takes: one of {}", USER_TYPES.join(", "))]
    UserType,
}

/// Check a displayName as Slack would (reference §3 `displayName`: "Same character rule as
/// userName, max 80 chars. Must not contain/start with `@` (`invalid_starts_with_at`,
/// `invalid_name_specials`)"). Empty is fine (Slack falls back to the userName).
pub fn slack_display_name(raw: &str) -> Result<(), ValueProblem> {
    let v = raw.trim();
    if let Some(c) =
        v.chars().find(|&c| is_emoji(c) || c.is_control() || crate::sanitize::is_invisible(c) || crate::sanitize::is_bidi_control(c))
    {
        return Err(ValueProblem::DisplayNameCharacter(c));
    }
    if v.starts_with('@') {
        return Err(ValueProblem::DisplayNameStartsWithAt);
    }
    if v.contains('@') {
        return Err(ValueProblem::DisplayNameAt);
    }
    let n = v.chars().count();
    if n > DISPLAY_NAME_MAX {
        return Err(ValueProblem::DisplayNameTooLong(n));
    }
    Ok(())
}

/// Check a timezone: an IANA time zone name (`America/Los_Angeles`, reference §3 `timezone` and
/// the user example of §9), as tzdata names it ([`crate::timezones::IANA_TIMEZONES`]). Returns
/// the name as tzdata spells it (a name typed in another case is found too).
pub fn iana_timezone(raw: &str) -> Result<&'static str, ValueProblem> {
    let v = raw.trim();
    let all = crate::timezones::IANA_TIMEZONES;
    if let Ok(i) = all.binary_search(&v) {
        return Ok(all[i]);
    }
    if let Some(z) = all.iter().find(|z| z.eq_ignore_ascii_case(v)) {
        return Ok(z);
    }
    // A hint: the zones of the same area, or the areas.
    let (area, _) = v.split_once('/').unwrap_or((v, ""));
    let near: Vec<&str> =
        all.iter().filter(|z| z.split('/').next().is_some_and(|a| a.eq_ignore_ascii_case(area))).take(3).copied().collect();
    let hint = if near.is_empty() {
        "e.g. America/New_York, Europe/Berlin, Asia/Tokyo, UTC".to_string()
    } else {
        format!("e.g. {}", near.join(", "))
    };
    Err(ValueProblem::Timezone { hint })
}

/// The userType values scimitar lets through: RFC 7643 §4.1.1's examples for "the relationship
/// between the organization and the user" ("Contractor", "Employee", "Intern", "Temp",
/// "External", "Unknown"), which Slack's docs and the identity providers' Slack mappings use (Okta
/// maps userType to "Slack account type"). UNCERTAIN: Slack does not document a closed list; the
/// form and `users update` accept these only, so a typo (`Emplyee`, `wizard`) is caught before it
/// reaches Slack's profile field.
pub const USER_TYPES: [&str; 6] = ["Employee", "Contractor", "Intern", "Temp", "External", "Unknown"];

/// Check a userType ([`USER_TYPES`], any case); returns it as listed.
pub fn user_type(raw: &str) -> Result<&'static str, ValueProblem> {
    let v = raw.trim();
    USER_TYPES.iter().find(|t| t.eq_ignore_ascii_case(v)).copied().ok_or(ValueProblem::UserType)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_as_slack_takes_them() {
        assert_eq!(slack_user_name("Jane.Doe@Example.com").unwrap(), "jane.doe");
        assert_eq!(slack_user_name("Ann Marie+x!").unwrap(), "ann_marie_x_");
        assert_eq!(slack_user_name("a".repeat(21).as_str()).unwrap().len(), 21);
        assert_eq!(slack_user_name(&"a".repeat(22)), Err(UserNameProblem::TooLong(22)));
        assert_eq!(slack_user_name("  "), Err(UserNameProblem::Empty));
        assert_eq!(slack_user_name("ann🎉"), Err(UserNameProblem::Characters('🎉')));
        assert_eq!(slack_user_name("ann\u{200b}x").unwrap_err().code(), "invalid_emoji_not_allowed");
        assert_eq!(UserNameProblem::TooLong(30).code(), "username_too_long");
    }

    #[test]
    fn dates_as_slack_takes_them() {
        let d = iso_date("2027-01-04", DateEnd::Start).unwrap();
        assert!(d.date_only);
        assert_eq!(utc_day(d.unix), "2027-01-04");
        assert_eq!(iso_date("2027-01-04T00:00:00+0000", DateEnd::Start).unwrap().unix, d.unix);
        assert_eq!(iso_date("2027-01-04T01:00:00+01:00", DateEnd::Start).unwrap().unix, d.unix);
        assert_eq!(iso_date("2027-01-04T00:00:00.000Z", DateEnd::Start).unwrap().unix, d.unix);
        assert_eq!(iso_date("2027-01-04", DateEnd::End).unwrap().unix, iso_date("2027-01-04T23:59:59Z", DateEnd::End).unwrap().unix);
        assert_eq!(slack_date("2027-01-04", DateEnd::Start).unwrap(), "2027-01-04T00:00:00+0000");
        assert_eq!(slack_date("2027-01-04", DateEnd::End).unwrap(), "2027-01-04T23:59:59Z");
        for bad in ["04/01/2027", "2027-02-30", "2027-13-01", "2027-01-04T25:00:00Z", "2027-01-04T10:00", "tomorrow", "", "2027-1-4"] {
            assert!(iso_date(bad, DateEnd::Start).is_err(), "{bad}");
        }
    }

    #[test]
    fn photos_are_public_urls_or_data_urls() {
        for ok in ["https://photos.example.com/a.jpg", "https://cdn.example.org:8443/x?s=192", "data:image/png;base64,iVBORw0KGgo="] {
            assert_eq!(photo_value(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://photos.example.com/a.jpg",
            "https://localhost/a.png",
            "https://127.0.0.1/a.png",
            "https://10.1.2.3/a.png",
            "https://[::1]/a.png",
            "https://intranet/a.png",
            "ftp://x.example/a",
            "data:text/html;base64,PGgxPg==",
            "data:image/png;base64,not base64!",
            "https://a.example/a b.png",
        ] {
            assert!(photo_value(bad).is_err(), "{bad}");
        }
        assert!(photo_value(&format!("data:image/png;base64,{}", "A".repeat(PHOTO_DATA_MAX))).is_err());
        assert!(is_admin_role("Primary Owner") && is_admin_role("admin") && !is_admin_role("Tech Lead") && !is_admin_role("member"));
    }

    #[test]
    fn display_names_timezones_and_user_types_as_slack_takes_them() {
        assert!(slack_display_name("Zed Tester").is_ok());
        assert!(slack_display_name("").is_ok());
        assert!(slack_display_name("zed@tester").unwrap_err().to_string().starts_with("invalid_name_specials"));
        assert!(slack_display_name("@zed").unwrap_err().to_string().starts_with("invalid_starts_with_at"));
        assert!(slack_display_name("zed 🎉").unwrap_err().to_string().starts_with("invalid_emoji_not_allowed"));
        assert!(slack_display_name(&"a".repeat(81)).is_err());
        assert_eq!(iana_timezone("America/Los_Angeles"), Ok("America/Los_Angeles"));
        assert_eq!(iana_timezone("europe/berlin"), Ok("Europe/Berlin"));
        assert_eq!(iana_timezone("UTC"), Ok("UTC"));
        let e = iana_timezone("Mars/Base").unwrap_err().to_string();
        assert!(e.contains("not an IANA time zone") && e.contains("Europe/Berlin"), "{e}");
        assert!(iana_timezone("America/Gotham").unwrap_err().to_string().contains("America/"), "the area's zones as a hint");
        assert!(crate::timezones::IANA_TIMEZONES.windows(2).all(|w| w[0] < w[1]), "sorted, for binary_search");
        assert!(crate::timezones::IANA_TIMEZONES.len() > 400);
        assert_eq!(user_type("employee"), Ok("Employee"));
        assert!(user_type("wizard").unwrap_err().to_string().contains("Contractor"));
    }
}
