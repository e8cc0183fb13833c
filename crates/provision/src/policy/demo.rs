//! `scimitar demo`'s policy: an HR export derived from the live (emulated) directory with a few
//! realistic differences, and a policy mapping it, so the Policies pane shows a small, varied
//! plan: some people left (omitted) or are on leave (disabled), a few changed title or
//! department, five new hires, one returning employee, and an on-call group to fill.
//!
//! [`build`] is pure (users and groups in, files' contents out); [`write`] reads the directory
//! through the client and writes `demo-hr.csv` and `policies/demo-hr.toml` into a folder.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::config::Attr;
use super::plan::never_deactivate;
use crate::scim::{Group, ScimClient, ScimError, User};

/// The policy's name (the file is `policies/demo-hr.toml`).
pub const POLICY_NAME: &str = "demo-hr";
/// The source group of the group rule, and the Slack group it fills.
pub const ONCALL_SOURCE: &str = "oncall";
pub const ONCALL_SLACK: &str = "eng-oncall";
/// New hires in every demo export.
pub const NEW_HIRES: usize = 5;

const COLUMNS: [&str; 11] = [
    "email",
    "user_name",
    "given_name",
    "family_name",
    "display_name",
    "title",
    "department",
    "employee_number",
    "manager",
    "status",
    "groups",
];

const TITLES: [&str; 8] = [
    "Principal Engineer",
    "Engineering Manager",
    "Senior Product Manager",
    "Staff Designer",
    "Director of Sales",
    "Senior Data Scientist",
    "Head of Support",
    "Security Engineer",
];
const DEPARTMENTS: [&str; 8] = ["Engineering", "Platform", "Security", "Data", "Product", "Sales", "Customer Success", "Finance"];
const ONCALL_DEPARTMENTS: [&str; 3] = ["Engineering", "Platform", "Security"];

/// (given, family, title, department)
const HIRES: [(&str, &str, &str, &str); NEW_HIRES] = [
    ("Priya", "Raman", "Software Engineer", "Engineering"),
    ("Tomas", "Ortega", "Site Reliability Engineer", "Platform"),
    ("Ngozi", "Eze", "Account Executive", "Sales"),
    ("Lena", "Vogel", "Designer", "Design"),
    ("Kenji", "Mori", "Financial Analyst", "Finance"),
];

/// What the export differs from the directory by (the plan the policy should produce).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DemoSummary {
    /// Active Slack users omitted from the export (they left).
    pub left: Vec<String>,
    /// Active Slack users with status `leave` (disabled).
    pub disabled: Vec<String>,
    /// Users whose title or department changed.
    pub changed: Vec<String>,
    /// New hires' emails.
    pub hires: Vec<String>,
    /// The deactivated Slack user who is back.
    pub returning: Option<String>,
    /// Rows in the `oncall` source group who are not members of `eng-oncall` yet.
    pub oncall_adds: usize,
}

/// The demo's files' contents.
#[derive(Clone, Debug)]
pub struct DemoData {
    pub csv: String,
    pub policy: String,
    pub summary: DemoSummary,
}

/// The policy mapping the export (`max_deactivations` above what the export deactivates).
pub fn policy_toml(max_deactivations: usize) -> String {
    format!(
        r#"# scimitar demo: provision Slack from the HR export next to this file (demo-hr.csv).
# Written by `scimitar demo` from the emulated directory; see docs/policies.md for the schema.
match_on = "email"                     # link existing Slack users by email; never duplicate them

[source]
path = "../demo-hr.csv"                # relative to this file
id_column = "email"
status_column = "status"
enabled_values = ["active"]            # "leave" and "terminated" are disabled
groups_column = "groups"
groups_separator = ";"

[attributes]
userName = "user_name"
"emails.work" = "email"
"name.givenName" = "given_name"
"name.familyName" = "family_name"
displayName = "display_name"
title = "title"
"enterprise.department" = "department"
"enterprise.employeeNumber" = "employee_number"
"enterprise.manager" = "manager"       # the manager's email, resolved to their Slack id

[provisioning]
allow_create = true
allow_update = true
allow_deprovision = true
provision_disabled_users = false
remove_action = "deactivate"
max_deactivations = {max_deactivations}
max_deactivation_percent = 5.0

[[groups]]
source = "{ONCALL_SOURCE}"
slack_name = "{ONCALL_SLACK}"
key = "grp-{ONCALL_SLACK}"
membership = "merge"                   # only add members
"#
    )
}

fn is_bot(u: &User) -> bool {
    never_deactivate(u, &[]) == Some("bot user")
}

fn value(u: &User, a: Attr) -> String {
    a.get(u).unwrap_or("").to_string()
}

/// Derive the export and the policy from the directory, deterministically for `seed`.
pub fn build(users: &[&User], groups: &[Group], seed: u64) -> DemoData {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5ca1_ab1e);
    let people: Vec<&User> = users.iter().copied().filter(|u| !is_bot(u) && u.primary_email().is_some()).collect();
    let email_by_id: std::collections::HashMap<&str, &str> = people.iter().filter_map(|u| Some((u.id(), u.primary_email()?))).collect();
    let managers: HashSet<&str> = people.iter().filter_map(|u| u.manager_id()).collect();

    // Active people who may leave, be on leave or change: never the primary owner.
    let mut candidates: Vec<usize> =
        (0..people.len()).filter(|&i| people[i].is_active() && never_deactivate(people[i], &[]).is_none()).collect();
    candidates.shuffle(&mut rng);
    let active = candidates.len();
    let n_left = (active / 100).max(1);
    let n_disabled = (active / 100).max(1);
    let n_changed = (active / 50).max(2);
    // Those who leave manage nobody (their reports' manager would point nowhere).
    let mut left: HashSet<usize> = HashSet::new();
    let mut rest = Vec::with_capacity(candidates.len());
    for i in candidates {
        if left.len() < n_left && !managers.contains(people[i].id()) {
            left.insert(i);
        } else {
            rest.push(i);
        }
    }
    let disabled: HashSet<usize> = rest.iter().take(n_disabled).copied().collect();
    let changed: HashSet<usize> = rest.iter().skip(n_disabled).take(n_changed).copied().collect();
    let returning = (0..people.len()).find(|&i| !people[i].is_active() && !managers.contains(people[i].id()));

    // The on-call rotation: today's members of eng-oncall, and a few engineers joining it.
    let oncall_group = groups.iter().find(|g| g.name().eq_ignore_ascii_case(ONCALL_SLACK));
    let members: HashSet<&str> = oncall_group.map(|g| g.member_ids().collect()).unwrap_or_default();
    let mut joining: Vec<usize> = (0..people.len())
        .filter(|&i| {
            let u = people[i];
            u.is_active()
                && !left.contains(&i)
                && !disabled.contains(&i)
                && !members.contains(u.id())
                && ONCALL_DEPARTMENTS.iter().any(|d| Attr::Department.get(u).is_some_and(|x| x.eq_ignore_ascii_case(d)))
        })
        .collect();
    joining.shuffle(&mut rng);
    joining.truncate((active / 500).clamp(3, 20));
    let joining: HashSet<usize> = joining.into_iter().collect();

    let mut summary = DemoSummary::default();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS).expect("writing to memory");
    for (i, u) in people.iter().enumerate() {
        let email = u.primary_email().unwrap_or("").to_string();
        if left.contains(&i) {
            summary.left.push(email);
            continue;
        }
        let mut title = value(u, Attr::Title);
        let mut department = value(u, Attr::Department);
        if changed.contains(&i) {
            if rng.random_bool(0.5) {
                title = pick_other(&mut rng, &TITLES, &title);
            } else {
                department = pick_other(&mut rng, &DEPARTMENTS, &department);
            }
            summary.changed.push(email.clone());
        }
        let status = if disabled.contains(&i) {
            summary.disabled.push(email.clone());
            "leave"
        } else if Some(i) == returning {
            summary.returning = Some(email.clone());
            "active"
        } else if u.is_active() {
            "active"
        } else {
            "terminated"
        };
        let in_oncall = status == "active" && (members.contains(u.id()) || joining.contains(&i));
        if in_oncall && !members.contains(u.id()) {
            summary.oncall_adds += 1;
        }
        let manager = u.manager_id().map(|m| email_by_id.get(m).copied().unwrap_or(m)).unwrap_or("").to_string();
        w.write_record([
            email.as_str(),
            &value(u, Attr::UserName),
            &value(u, Attr::GivenName),
            &value(u, Attr::FamilyName),
            &value(u, Attr::DisplayName),
            &title,
            &department,
            &value(u, Attr::EmployeeNumber),
            &manager,
            status,
            if in_oncall { ONCALL_SOURCE } else { "" },
        ])
        .expect("writing to memory");
    }

    // New hires: addresses in the org's domain, reporting to someone who stays.
    let domain =
        people.iter().find_map(|u| u.primary_email()?.split_once('@').map(|(_, d)| d.to_string())).unwrap_or_else(|| "example.com".into());
    let taken_emails: HashSet<String> = users.iter().filter_map(|u| u.primary_email()).map(str::to_lowercase).collect();
    let taken_names: HashSet<String> = users.iter().filter_map(|u| u.user_name.as_deref()).map(str::to_lowercase).collect();
    let stay: Vec<usize> = (0..people.len()).filter(|&i| people[i].is_active() && !left.contains(&i) && !disabled.contains(&i)).collect();
    for (k, (given, family, title, department)) in HIRES.iter().enumerate() {
        let base = format!("{}.{}", given.to_lowercase(), family.to_lowercase());
        let mut local = base.clone();
        let mut n = 1;
        while taken_emails.contains(&format!("{local}@{domain}")) || taken_names.contains(&local) {
            n += 1;
            local = format!("{base}{n}");
        }
        let email = format!("{local}@{domain}");
        let manager = stay.get(rng.random_range(0..stay.len().max(1))).and_then(|&i| people[i].primary_email()).unwrap_or("");
        let oncall = k < 2; // the two engineers join the rotation
        if oncall {
            summary.oncall_adds += 1;
        }
        w.write_record([
            email.as_str(),
            &local,
            given,
            family,
            &format!("{given} {family}"),
            title,
            department,
            &format!("H{:05}", 90001 + k),
            manager,
            "active",
            if oncall { ONCALL_SOURCE } else { "" },
        ])
        .expect("writing to memory");
        summary.hires.push(email);
    }
    let csv = String::from_utf8(w.into_inner().expect("writing to memory")).expect("utf-8 in, utf-8 out");
    let expected = summary.left.len() + summary.disabled.len();
    DemoData { csv, policy: policy_toml((expected * 2).max(25)), summary }
}

fn pick_other(rng: &mut StdRng, choices: &[&str], current: &str) -> String {
    let others: Vec<&&str> = choices.iter().filter(|c| !c.eq_ignore_ascii_case(current)).collect();
    others[rng.random_range(0..others.len())].to_string()
}

/// Read the directory through `client` and write `<dir>/demo-hr.csv` and
/// `<dir>/policies/demo-hr.toml`; returns the policy's path and what the export changes.
pub async fn write(client: &ScimClient, dir: &Path, seed: u64) -> Result<(PathBuf, DemoSummary), DemoError> {
    let (users, groups) = tokio::try_join!(client.all_users(None), client.all_groups())?;
    write_from(&users.iter().collect::<Vec<_>>(), &groups, dir, seed)
}

/// As [`write`], from a directory already in memory.
pub fn write_from(users: &[&User], groups: &[Group], dir: &Path, seed: u64) -> Result<(PathBuf, DemoSummary), DemoError> {
    let data = build(users, groups, seed);
    // An HR export holds employee data: owner-only, and written new (never through a link).
    let policies = dir.join("policies");
    crate::files::create_private_dir(&policies)?;
    crate::files::write_new_private(&dir.join("demo-hr.csv"), data.csv.as_bytes())?;
    let path = policies.join(format!("{POLICY_NAME}.toml"));
    crate::files::write_new_private(&path, data.policy.as_bytes())?;
    Ok((path, data.summary))
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("reading the directory: {0}")]
    Scim(#[from] ScimError),
    #[error("writing the demo policy: {0}")]
    Io(#[from] std::io::Error),
}
