//! `users export --output csv`: the live directory in the shape `config::EXPORT_POLICY` reads, so
//! an export can be a source (exporting and planning against the export gives an empty plan).

use std::collections::HashMap;
use std::io::{self, Write};

use super::config::Attr;
use crate::scim::types::User;

/// Columns of the export, in order, and the attribute each holds (`None`: not an attribute).
pub const COLUMNS: [(&str, Option<Attr>); 22] = [
    ("email", Some(Attr::Email)),
    ("user_name", Some(Attr::UserName)),
    ("given_name", Some(Attr::GivenName)),
    ("family_name", Some(Attr::FamilyName)),
    ("honorific_prefix", Some(Attr::HonorificPrefix)),
    ("display_name", Some(Attr::DisplayName)),
    ("title", Some(Attr::Title)),
    ("timezone", Some(Attr::Timezone)),
    ("locale", Some(Attr::Locale)),
    ("preferred_language", Some(Attr::PreferredLanguage)),
    ("user_type", Some(Attr::UserType)),
    ("phone_work", Some(Attr::PhoneWork)),
    ("phone_mobile", Some(Attr::PhoneMobile)),
    ("employee_number", Some(Attr::EmployeeNumber)),
    ("cost_center", Some(Attr::CostCenter)),
    ("organization", Some(Attr::Organization)),
    ("division", Some(Attr::Division)),
    ("department", Some(Attr::Department)),
    ("manager", Some(Attr::Manager)),
    ("active", None),
    ("groups", None),
    ("slack_id", None),
];

/// Write users as a source CSV. `manager` holds the manager's email (the export's key column), so
/// it resolves back to the same Slack id; `groups` joins group names with `;`.
pub fn users_to_source_csv(users: &[User], out: &mut dyn Write) -> io::Result<()> {
    let email_by_id: HashMap<&str, &str> = users.iter().filter_map(|u| Some((u.id(), u.primary_email()?))).collect();
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS.iter().map(|c| c.0))?;
    let mut rec: Vec<String> = Vec::with_capacity(COLUMNS.len());
    for u in users {
        rec.clear();
        for (name, attr) in COLUMNS {
            let v = match (name, attr) {
                (_, Some(Attr::Manager)) => {
                    let m = u.manager_id().unwrap_or("");
                    email_by_id.get(m).copied().unwrap_or(m).to_string()
                }
                (_, Some(a)) => a.get(u).unwrap_or("").to_string(),
                ("active", _) => u.is_active().to_string(),
                ("groups", _) => u.groups.iter().flatten().filter_map(|g| g.display.as_deref()).collect::<Vec<_>>().join(";"),
                ("slack_id", _) => u.id().to_string(),
                _ => String::new(),
            };
            rec.push(v);
        }
        w.write_record(&rec)?;
    }
    w.flush()
}
