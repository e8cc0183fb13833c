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

#[cfg(test)]
mod props {
    use super::*;
    use crate::policy::source::{Source, SourceFormat};
    use crate::scim::types::GroupRef;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![any::<String>(), "[a-z,;\"\r\n é\u{feff}\t#]{0,10}", Just(String::new()), Just(" ".into()), Just("\"".into())]
    }

    fn user() -> impl Strategy<Value = User> {
        (proptest::collection::vec(text(), Attr::ALL.len()), any::<bool>(), "[A-Z0-9]{2,8}", proptest::collection::vec(text(), 0..3))
            .prop_map(|(values, active, id, groups)| {
                let mut u = User { id: Some(id), active: Some(active), ..Default::default() };
                for (a, v) in Attr::ALL.into_iter().zip(&values) {
                    a.set(&mut u, Some(v));
                }
                u.groups = Some(groups.into_iter().map(|g| GroupRef { value: Some("S1".into()), display: Some(g) }).collect());
                u
            })
    }

    proptest! {
        /// `users export --output csv` read back by the policy source reader (strict CSV): every
        /// cell comes back as the exporter wrote it, whatever it holds (quotes, commas, line
        /// breaks, a byte-order mark, leading spaces), one row per user.
        #[test]
        fn export_csv_reads_back_cell_for_cell(users in proptest::collection::vec(user(), 0..6)) {
            let mut out = Vec::new();
            users_to_source_csv(&users, &mut out).unwrap();
            let src = Source::from_reader(out.as_slice(), SourceFormat::Csv, "users.csv", ";")
                .map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&out))))?;
            prop_assert_eq!(src.headers.iter().map(String::as_str).collect::<Vec<_>>(), COLUMNS.map(|c| c.0).to_vec());
            prop_assert_eq!(src.rows.len(), users.len());
            let by_id: HashMap<&str, &str> = users.iter().filter_map(|u| Some((u.id(), u.primary_email()?))).collect();
            for (u, row) in users.iter().zip(&src.rows) {
                for (i, (name, attr)) in COLUMNS.into_iter().enumerate() {
                    let want = match (name, attr) {
                        (_, Some(Attr::Manager)) => {
                            let m = u.manager_id().unwrap_or("");
                            by_id.get(m).copied().unwrap_or(m).to_string()
                        }
                        (_, Some(a)) => a.get(u).unwrap_or("").to_string(),
                        ("active", _) => u.is_active().to_string(),
                        ("groups", _) => u.groups.iter().flatten().filter_map(|g| g.display.as_deref()).collect::<Vec<_>>().join(";"),
                        _ => u.id().to_string(),
                    };
                    prop_assert_eq!(row.get(i), want.as_str(), "column {}", name);
                }
            }
        }
    }
}
