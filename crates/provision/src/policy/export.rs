//! `users export --output csv`: the live directory in the shape `config::EXPORT_POLICY` reads, so
//! an export can be a source (exporting and planning against the export gives an empty plan).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Seek, Write};

use super::config::Attr;
use crate::scim::types::User;

/// Columns of the export, in order, and the attribute each holds (`None`: not an attribute).
/// An attribute's column is [`Attr::column`] (its name everywhere else, in snake_case).
pub const COLUMNS: [(&str, Option<Attr>); 33] = [
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
    ("secondary_email", Some(Attr::SecondaryEmail)),
    ("start_date", Some(Attr::StartDate)),
    ("photo", Some(Attr::Photo)),
    ("guest", Some(Attr::Guest)),
    ("guest_expiration", Some(Attr::GuestExpiration)),
    ("street_address", Some(Attr::StreetAddress)),
    ("locality", Some(Attr::Locality)),
    ("region", Some(Attr::Region)),
    ("postal_code", Some(Attr::PostalCode)),
    ("country", Some(Attr::Country)),
    ("active", None),
    ("groups", None),
    ("roles", None),
    ("slack_id", None),
];

/// Write users as a source CSV, streamed: users are pushed as their pages arrive and memory
/// stays flat whatever the directory's size.
///
/// The `manager` column holds the manager's email, and a manager may be listed after the people
/// who report to them, so rows cannot go out as they arrive. Each row is spooled to `rows` (with
/// the manager's id), each user's (id, email) to `keys`, and the ids that are someone's manager
/// are kept; [`SourceCsvExport::finish`] then reads `keys` once keeping only managers' emails,
/// and copies the rows to the output with the emails in. Memory holds the managers only (a
/// fraction of the directory, about 40 bytes and an email each); the spools are the caller's
/// files, meant to be anonymous temporary files (unlinked, 0600: they hold employee data).
pub struct SourceCsvExport {
    rows: csv::Writer<BufWriter<File>>,
    keys: csv::Writer<BufWriter<File>>,
    managers: Managers,
    count: u64,
    rec: Vec<String>,
}

/// The managers' ids ([`scim::idset::IdSet`]: 8 to 16 bytes each), then, once
/// [`SourceCsvExport::finish`] has found them, their emails in one arena, by the id's rank.
#[derive(Default)]
struct Managers {
    ids: crate::scim::idset::IdSet,
    emails: Vec<(u32, u32)>,
    arena: String,
}

impl Managers {
    fn note(&mut self, id: &str) {
        self.ids.insert(id);
    }

    /// Keep `email` if `id` is a manager (a later email for the same id replaces it, as a map
    /// insert would).
    fn found(&mut self, id: &str, email: &str) {
        if self.emails.len() != self.ids.len() {
            self.ids.freeze();
            self.emails = vec![(u32::MAX, 0); self.ids.len()];
        }
        let Some(i) = self.ids.rank(id) else { return };
        self.emails[i] = (self.arena.len() as u32, email.len() as u32);
        self.arena.push_str(email);
    }

    fn email(&self, id: &str) -> Option<&str> {
        let &(off, len) = self.emails.get(self.ids.rank(id)?)?;
        (off != u32::MAX).then(|| &self.arena[off as usize..(off + len) as usize])
    }
}

/// The position of the `manager` column.
const MANAGER_COLUMN: usize = 18;
const _: () = assert!(matches!(COLUMNS[MANAGER_COLUMN].1, Some(Attr::Manager)));

impl SourceCsvExport {
    pub fn new(rows: File, keys: File) -> io::Result<Self> {
        // Each spool starts with a one-field header record, skipped when read back: the CSV
        // reader drops a byte-order mark at the start of its input, which would otherwise eat
        // one that starts the first user's first cell.
        let mk = |f: File| -> io::Result<csv::Writer<BufWriter<File>>> {
            let mut w = csv::WriterBuilder::new().has_headers(false).flexible(true).from_writer(BufWriter::with_capacity(256 * 1024, f));
            w.write_record(["spool"])?;
            Ok(w)
        };
        Ok(SourceCsvExport {
            rows: mk(rows)?,
            keys: mk(keys)?,
            managers: Managers::default(),
            count: 0,
            rec: Vec::with_capacity(COLUMNS.len()),
        })
    }

    pub fn push(&mut self, u: &User) -> io::Result<()> {
        self.rec.clear();
        for (name, attr) in COLUMNS {
            let v = match (name, attr) {
                (_, Some(Attr::Manager)) => {
                    let m = u.manager_id().unwrap_or("");
                    if !m.is_empty() {
                        self.managers.note(m);
                    }
                    m.to_string()
                }
                (_, Some(a)) => a.get(u).unwrap_or("").to_string(),
                ("active", _) => u.is_active().to_string(),
                ("groups", _) => u.groups.iter().flatten().filter_map(|g| g.display.as_deref()).collect::<Vec<_>>().join(";"),
                ("roles", _) => u.role_values().join(";"),
                ("slack_id", _) => u.id().to_string(),
                _ => String::new(),
            };
            self.rec.push(v);
        }
        self.rows.write_record(&self.rec)?;
        if let Some(email) = u.primary_email() {
            self.keys.write_record([u.id(), email])?;
        }
        self.count += 1;
        Ok(())
    }

    /// Rows pushed so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Write the header and every row, managers' emails in, to `out`; returns the row count.
    pub fn finish(self, out: &mut dyn Write) -> io::Result<u64> {
        let reopen = |w: csv::Writer<BufWriter<File>>| -> io::Result<BufReader<File>> {
            let mut f = w.into_inner().map_err(|e| e.into_error())?.into_inner().map_err(|e| e.into_error())?;
            f.rewind()?;
            Ok(BufReader::with_capacity(256 * 1024, f))
        };
        let reader = |r: BufReader<File>| csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(r);
        let SourceCsvExport { rows, keys, mut managers, count, .. } = self;
        let mut rec = csv::StringRecord::new();
        let mut keys = reader(reopen(keys)?);
        while keys.read_record(&mut rec)? {
            managers.found(&rec[0], &rec[1]);
        }
        let mut w = csv::Writer::from_writer(out);
        w.write_record(COLUMNS.iter().map(|c| c.0))?;
        let mut rows = reader(reopen(rows)?);
        let mut line: Vec<String> = Vec::with_capacity(COLUMNS.len());
        while rows.read_record(&mut rec)? {
            line.clear();
            line.extend(rec.iter().map(str::to_string));
            if let Some(email) = managers.email(&line[MANAGER_COLUMN]) {
                line[MANAGER_COLUMN] = email.to_string();
            }
            // Neutralised for spreadsheets; the policy source reader restores each cell exactly.
            w.write_record(line.iter().map(|c| crate::strict_csv::neutralise(c).into_owned()))?;
        }
        w.flush()?;
        Ok(count)
    }
}

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
                ("roles", _) => u.role_values().join(";"),
                ("slack_id", _) => u.id().to_string(),
                _ => String::new(),
            };
            rec.push(v);
        }
        w.write_record(rec.iter().map(|c| crate::strict_csv::neutralise(c).into_owned()))?;
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
        prop_oneof![
            any::<String>(),
            "[a-z,;\"\r\n é\u{feff}\t#]{0,10}",
            // What a spreadsheet would run, and quotes before it: neutralised, and read back as it was.
            "['=+@\t\r-]{1,3}[a-z=(\")]{0,6}",
            Just(String::new()),
            Just(" ".into()),
            Just("\"".into())
        ]
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
        /// The streamed export writes the same bytes as the in-memory one, managers listed
        /// before or after their reports alike (each user's manager is another of the batch).
        #[test]
        fn streamed_export_is_the_whole_export(
            mut users in proptest::collection::vec(user(), 0..8),
            links in proptest::collection::vec(any::<Option<usize>>(), 8),
        ) {
            let n = users.len();
            for i in 0..n {
                if let Some(k) = links[i] {
                    let id = users[k % n].id().to_string();
                    Attr::Manager.set(&mut users[i], Some(&id));
                }
            }
            let mut whole = Vec::new();
            users_to_source_csv(&users, &mut whole).unwrap();
            let mut s = SourceCsvExport::new(tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap()).unwrap();
            for u in &users {
                s.push(u).unwrap();
            }
            let mut streamed = Vec::new();
            prop_assert_eq!(s.finish(&mut streamed).unwrap(), n as u64);
            prop_assert_eq!(String::from_utf8_lossy(&streamed), String::from_utf8_lossy(&whole));
        }

        /// `users export --output csv` read back by the policy source reader (strict CSV): every
        /// cell comes back as the exporter wrote it, whatever it holds (quotes, commas, line
        /// breaks, a byte-order mark, leading spaces, a formula neutralised with a `'`), one row
        /// per user; and no cell of the file starts a formula.
        #[test]
        fn export_csv_reads_back_cell_for_cell(users in proptest::collection::vec(user(), 0..6)) {
            let mut out = Vec::new();
            users_to_source_csv(&users, &mut out).unwrap();
            // The raw cells (the strict reader undoes the neutralisation).
            let mut raw = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(out.as_slice());
            for rec in raw.records() {
                let rec = rec.unwrap();
                for cell in rec.iter() {
                    prop_assert!(!cell.starts_with(crate::strict_csv::FORMULA_STARTS), "{:?}", cell);
                }
            }
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
                        ("roles", _) => u.role_values().join(";"),
                        _ => u.id().to_string(),
                    };
                    prop_assert_eq!(row.get(i), want.as_str(), "column {}", name);
                }
            }
        }
    }
}
