//! What every front end shows the same way, worded once (no clap, no ratatui): the console
//! and the headless commands only lay these out.

use crate::policy::plan::Plan;
use crate::queue::attr::Attr;
use crate::scim::User;

/// Attribute/value rows for one user: `users show` (table/csv), the console's detail pane and
/// a policy candidate's detail. Values are as Slack sent them (the photo URL cut to 120).
pub fn user_detail_rows(u: &User) -> Vec<(String, String)> {
    let mut v = Vec::new();
    let mut push = |k: &str, val: Option<String>| {
        if let Some(val) = val.filter(|s| !s.is_empty()) {
            v.push((k.to_string(), val));
        }
    };
    push("id", u.id.clone());
    push("userName", u.user_name.clone());
    push("displayName", u.display_name.clone());
    push(
        "name",
        u.name.as_ref().map(|n| {
            [n.honorific_prefix.as_deref(), n.given_name.as_deref(), n.family_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        }),
    );
    push("active", u.active.map(|a| a.to_string()));
    // The attributes under the names `users update --set`, the policies and the user form use
    // (`provision::queue::attr::Attr::short`), the primary email named as before.
    let attr = |a: Attr| a.get(u).map(str::to_string);
    push("email (primary)", attr(Attr::Email));
    push(Attr::SecondaryEmail.short(), attr(Attr::SecondaryEmail));
    push("roles", Some(u.role_values().join(", ")));
    push("title", u.title.clone());
    push("userType", u.user_type.clone());
    push("timezone", u.timezone.clone());
    push("locale", u.locale.clone());
    push("preferredLanguage", u.preferred_language.clone());
    for a in [Attr::PhoneWork, Attr::PhoneMobile] {
        push(a.short(), attr(a));
    }
    for p in u.phone_numbers.iter().flatten().filter(|p| !matches!(p.kind.as_deref(), Some("work" | "mobile"))) {
        push("phone", p.value.clone());
    }
    if let Some(e) = &u.enterprise {
        push("employeeNumber", e.employee_number.clone());
        push("costCenter", e.cost_center.clone());
        push("organization", e.organization.clone());
        push("division", e.division.clone());
        push("department", e.department.clone());
        push("manager", e.manager.as_ref().and_then(|m| m.id().map(str::to_string)));
    }
    for a in [Attr::Guest, Attr::GuestExpiration, Attr::StartDate, Attr::Photo] {
        push(a.short(), attr(a).map(|v| if a == Attr::Photo { crate::sanitize::excerpt(&v, 120) } else { v }));
    }
    for a in Attr::ADDRESS {
        push(a.short(), attr(a));
    }
    for g in u.groups.iter().flatten() {
        push(
            "group",
            Some(format!("{} {}", g.display.clone().unwrap_or_default(), g.value.clone().unwrap_or_default()).trim().to_string()),
        );
    }
    push("created", u.meta.as_ref().and_then(|m| m.created.clone()));
    v
}

/// A plan's counts in one line, every kind named (`plan`, `apply`, `sync`'s held summary and its
/// approval, the console's sync review): "3 create, 0 reactivate, 2 update (5 attributes), ...".
pub fn plan_summary(plan: &Plan) -> String {
    let c = plan.counts();
    let mut s = format!(
        "{} create, {} reactivate, {} update ({} attributes), {} group create, {} rename, {} member add, {} member remove, {} deactivate",
        c.creates,
        c.reactivations,
        c.updates,
        c.attribute_changes,
        c.group_creates,
        c.group_renames,
        c.member_adds,
        c.member_removes,
        c.deactivations
    );
    if c.reported_only > 0 {
        s.push_str(&format!(", {} reported only", c.reported_only));
    }
    if c.manager_links > 0 {
        s.push_str(&format!(", {} manager set once created", c.manager_links));
    }
    if c.violations > 0 {
        s.push_str(&format!(", {} left out (Slack's rules)", c.violations));
    }
    s
}

/// A plan's counts in one short line, only the kinds present ("5 create, 2 update, 11 members to
/// add"; "no changes"): the console's Policies pane and its apply confirmation.
pub fn plan_summary_short(plan: &Plan) -> String {
    let c = plan.counts();
    // Members are counted as the gate's line counts them (`11 members to add`, issue 25).
    let members = |n: usize, verb: &str| format!("{} member{} to {verb}", crate::words::thousands(n as u64), if n == 1 { "" } else { "s" });
    let parts: Vec<String> = [
        (c.creates, "create"),
        (c.updates, "update"),
        (c.reactivations, "reactivate"),
        (c.deactivations, "deactivate"),
        (c.group_creates, "group create"),
        (c.group_renames, "rename"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, s)| format!("{} {s}", crate::words::thousands(n as u64)))
    .chain((c.member_adds > 0).then(|| members(c.member_adds, "add")))
    .chain((c.member_removes > 0).then(|| members(c.member_removes, "remove")))
    .collect();
    if parts.is_empty() { "no changes".into() } else { parts.join(", ") }
}
