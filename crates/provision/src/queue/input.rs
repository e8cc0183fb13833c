//! Reading who to act on: command-line arguments and `--from FILE` (one email or id per line,
//! or a CSV with an `email` or `id` column). Every bad row is reported by its line before
//! anything runs; a CSV that does not parse completely (an unclosed quote, a stray quote) is
//! an error naming the line and column, never a file read in part. Echoed values are cut short
//! and shown with their invisible characters escaped.

use crate::scim::client::normalize_email;
use crate::scim::types::is_valid_id;
use crate::scim::{MultiValue, Name, ScimClient, ScimError, User};
use futures::StreamExt;
use std::collections::HashMap;
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ident {
    Email(String),
    Id(String),
}

impl std::fmt::Display for Ident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ident::Email(e) => f.write_str(e),
            Ident::Id(i) => f.write_str(i),
        }
    }
}

/// One requested target and where it came from ("argument 3", "leavers.csv line 7").
#[derive(Clone, Debug)]
pub struct InputRow {
    pub origin: String,
    pub ident: Ident,
}

fn parse_ident(text: &str) -> Result<Ident, String> {
    let t = text.trim();
    if t.contains('@') {
        normalize_email(t).map(Ident::Email).map_err(|e| e.to_string())
    } else if is_valid_id(t) {
        Ok(Ident::Id(t.to_string()))
    } else {
        Err(format!("{} is neither an email address nor a Slack user id", crate::scim::sanitize::quoted_excerpt(t, 80)))
    }
}

/// A file's text, UTF-8, without its byte-order mark.
fn read_text(path: &Path, name: &str) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let text = crate::strict_csv::utf8(&bytes).map_err(|e| format!("{name} {e}"))?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text).to_string())
}

/// Check arguments and file rows; duplicates count as errors (they usually mean a copy-paste slip).
pub fn collect(args: &[String], from: Option<&Path>) -> Result<Vec<InputRow>, Vec<String>> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, a) in args.iter().enumerate() {
        match parse_ident(a) {
            Ok(ident) => rows.push(InputRow { origin: format!("argument {}", i + 1), ident }),
            Err(e) => errors.push(format!("argument {}: {e}", i + 1)),
        }
    }
    if let Some(path) = from {
        let (mut r, mut e) = read_ident_rows(path);
        rows.append(&mut r);
        errors.append(&mut e);
    }
    let mut seen: HashMap<Ident, String> = HashMap::new();
    for r in &rows {
        if let Some(first) = seen.get(&r.ident) {
            errors.push(format!("{}: {} is a duplicate of {first}", r.origin, r.ident));
        } else {
            seen.insert(r.ident.clone(), r.origin.clone());
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push("no users given: pass emails or ids, or --from FILE".into());
    }
    if errors.is_empty() { Ok(rows) } else { Err(errors) }
}

/// One email or id per line, or a CSV with a header that has an `email` or `id` column.
pub fn read_ident_file(path: &Path) -> Result<Vec<InputRow>, Vec<String>> {
    let (rows, errors) = read_ident_rows(path);
    if errors.is_empty() { Ok(rows) } else { Err(errors) }
}

/// The good rows and the errors of the bad ones, so that duplicates can be checked across both.
fn read_ident_rows(path: &Path) -> (Vec<InputRow>, Vec<String>) {
    let name = path.display().to_string();
    let text = match read_text(path, &name) {
        Ok(t) => t,
        Err(e) => return (Vec::new(), vec![e]),
    };
    let first = text.lines().find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).unwrap_or("");
    let is_csv = first.contains(',') || matches!(first.trim().to_ascii_lowercase().as_str(), "email" | "id");
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    if is_csv {
        let mut records = crate::strict_csv::records(&text);
        let headers = match records.next() {
            Some(Ok(h)) => h.fields.iter().map(|h| h.trim().to_ascii_lowercase()).collect::<Vec<_>>(),
            Some(Err(e)) => return (Vec::new(), vec![format!("{name} {e}")]),
            None => Vec::new(),
        };
        let email_col = headers.iter().position(|h| h == "email" || h == "mail" || h == "e-mail");
        let id_col = headers.iter().position(|h| h == "id" || h == "user_id" || h == "slack_id");
        if email_col.is_none() && id_col.is_none() {
            let found: Vec<String> = headers.iter().map(|h| crate::scim::sanitize::excerpt(h, 40)).collect();
            return (
                Vec::new(),
                vec![format!("{name} line 1: the CSV header needs an `email` or `id` column (found: {})", found.join(", "))],
            );
        }
        for rec in records {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    // The file did not parse completely: nothing of it is used.
                    return (Vec::new(), vec![format!("{name} {e}; nothing was read from this file")]);
                }
            };
            if rec.is_blank() {
                continue;
            }
            let origin = format!("{name} line {}", rec.line);
            let cell = |c: Option<usize>| c.and_then(|i| rec.get(i)).map(str::trim).filter(|s| !s.is_empty());
            let parsed = match (cell(id_col), cell(email_col)) {
                (Some(id), _) => parse_ident(id),
                (None, Some(email)) => parse_ident(email),
                (None, None) => Err("no email or id in this row".into()),
            };
            match parsed {
                Ok(ident) => rows.push(InputRow { origin, ident }),
                Err(e) => errors.push(format!("{origin}: {e}")),
            }
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let origin = format!("{name} line {}", i + 1);
            match parse_ident(t) {
                Ok(ident) => rows.push(InputRow { origin, ident }),
                Err(e) => errors.push(format!("{origin}: {e}")),
            }
        }
    }
    (rows, errors)
}

/// Why looking the rows up failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Rows that name no Slack user, each message naming its row: the input's fault.
    #[error("{}", .0.join("\n"))]
    Rows(Vec<String>),
    /// The server failed while looking a row up (5xx, a malformed user, a deadline): not the
    /// input's fault, and nothing was done.
    #[error("looking up {origin} ({ident}) failed: {source}")]
    Server {
        origin: String,
        ident: String,
        #[source]
        source: ScimError,
    },
}

/// Look every row up (8 at a time). Unknown users are errors naming their row; a server failure
/// stops the lookups at once.
pub async fn resolve(client: &ScimClient, rows: &[InputRow]) -> Result<Vec<(InputRow, User)>, ResolveError> {
    resolve_with_progress(client, rows, |_, _| {}).await
}

/// As [`resolve`], calling `progress(done, total)` as lookups finish.
pub async fn resolve_with_progress(
    client: &ScimClient,
    rows: &[InputRow],
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<(InputRow, User)>, ResolveError> {
    let mut results = std::pin::pin!(
        futures::stream::iter(rows.iter().map(|r| {
            let c = client.clone();
            let ident = r.ident.clone();
            async move {
                match ident {
                    Ident::Email(e) => c.find_user_by_email(&e).await,
                    Ident::Id(id) => match c.get_user(&id).await {
                        Ok(u) => Ok(Some(u)),
                        Err(e) if e.is_not_found() => Ok(None),
                        Err(e) => Err(e),
                    },
                }
            }
        }))
        .buffered(8)
    );
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut done = 0;
    let mut rows_iter = rows.iter();
    while let Some(res) = results.next().await {
        let r = rows_iter.next().expect("one result per row");
        done += 1;
        progress(done, rows.len());
        match res {
            Ok(Some(u)) => out.push((r.clone(), u)),
            Ok(None) => errors.push(format!("{}: no Slack user {}", r.origin, r.ident)),
            // A rejected lookup (Slack says the filter or id is bad) is the row's fault;
            // anything else is the server's.
            Err(e @ ScimError::Invalid(_)) => errors.push(format!("{}: {e}", r.origin)),
            Err(e) if e.status().is_some_and(|s| (400..500).contains(&s) && s != 429) && !e.is_auth() => {
                errors.push(format!("{}: looking up {} failed: {e}", r.origin, r.ident))
            }
            Err(source) => return Err(ResolveError::Server { origin: r.origin.clone(), ident: r.ident.to_string(), source }),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(ResolveError::Rows(errors)) }
}

/// Read users to create from a CSV. Columns (any case, some aliases): email (required),
/// userName, givenName/first_name, familyName/last_name, displayName, title, department,
/// employeeNumber, costCenter, organization, division, manager (id or email), timezone.
pub fn read_new_users(path: &Path) -> Result<Vec<(String, User)>, Vec<String>> {
    let name = path.display().to_string();
    let text = read_text(path, &name).map_err(|e| vec![e])?;
    let mut records = crate::strict_csv::records(&text);
    let headers: Vec<String> = match records.next() {
        Some(Ok(h)) => h.fields.iter().map(|h| h.trim().to_ascii_lowercase().replace(['_', ' ', '-'], "")).collect(),
        Some(Err(e)) => return Err(vec![format!("{name} {e}")]),
        None => Vec::new(),
    };
    let col = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let email =
        col(&["email", "mail", "emailaddress"]).ok_or_else(|| vec![format!("{name} line 1: the header needs an `email` column")])?;
    let user_name = col(&["username", "login"]);
    let given = col(&["givenname", "firstname", "first"]);
    let family = col(&["familyname", "lastname", "last", "surname"]);
    let display = col(&["displayname", "name"]);
    let title = col(&["title", "jobtitle"]);
    let dept = col(&["department", "dept"]);
    let empno = col(&["employeenumber", "employeeid"]);
    let cost = col(&["costcenter"]);
    let org = col(&["organization", "organisation"]);
    let div = col(&["division"]);
    let manager = col(&["manager", "managerid"]);
    let tz = col(&["timezone", "tz"]);
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for rec in records {
        let rec = match rec {
            Ok(r) => r,
            // The file did not parse completely: nothing of it may run.
            Err(e) => return Err(vec![format!("{name} {e}; nothing was read from this file")]),
        };
        if rec.is_blank() {
            continue;
        }
        let line = rec.line;
        let get = |c: Option<usize>| c.and_then(|i| rec.get(i)).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let origin = format!("{name} line {line}");
        let Some(raw_email) = get(Some(email)) else {
            errors.push(format!("{origin}: no email"));
            continue;
        };
        let em = match normalize_email(&raw_email) {
            Ok(e) => e,
            Err(e) => {
                errors.push(format!("{origin}: {e}"));
                continue;
            }
        };
        if let Some(first) = seen.insert(em.clone(), line) {
            errors.push(format!("{origin}: {em} is a duplicate of line {first}"));
            continue;
        }
        let un = get(user_name).unwrap_or_else(|| em.split('@').next().unwrap_or_default().to_string());
        if un.chars().count() > 21 {
            errors.push(format!(
                "{origin}: userName {} is longer than Slack's 21 characters",
                crate::scim::sanitize::quoted_excerpt(&un, 40)
            ));
            continue;
        }
        let mut u = User {
            user_name: Some(un.clone()),
            nick_name: Some(un),
            emails: Some(vec![MultiValue::email(em.clone(), true)]),
            display_name: get(display),
            title: get(title),
            timezone: get(tz),
            active: Some(true),
            ..Default::default()
        };
        if given.is_some() || family.is_some() {
            u.name = Some(Name { given_name: get(given), family_name: get(family), ..Default::default() });
        }
        let ent = crate::scim::EnterpriseUser {
            department: get(dept),
            employee_number: get(empno),
            cost_center: get(cost),
            organization: get(org),
            division: get(div),
            manager: get(manager).map(|m| crate::scim::types::Manager { manager_id: Some(m), display_name: None }),
        };
        if ent != crate::scim::EnterpriseUser::default() {
            u.enterprise = Some(ent);
        }
        out.push((origin, u));
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rows_are_named_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("leavers.txt");
        std::fs::write(&p, "# leavers\nann@acme.example\n\nnot-an-email\nANN@acme.example\nW0ABC123\n").unwrap();
        let errs = collect(&[], Some(&p)).unwrap_err();
        assert!(errs.iter().any(|e| e.contains("line 4") && e.contains("not-an-email")), "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("line 5") && e.contains("duplicate of") && e.contains("line 2")), "{errs:?}");
        let p2 = dir.path().join("l.csv");
        std::fs::write(&p2, "name,email\nAnn,ann@acme.example\nBob,bob@\n").unwrap();
        let errs = collect(&[], Some(&p2)).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert!(errs[0].contains("line 3") && errs[0].contains("bob@"), "{errs:?}");
        std::fs::write(&p2, "name,email\nAnn,ann@acme.example\n").unwrap();
        assert_eq!(collect(&["W0XYZ".into()], Some(&p2)).unwrap().len(), 2);
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_email() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [("l.txt", "\u{feff}ann@acme.example\nbob@acme.example\n"), ("l.csv", "\u{feff}email\nann@acme.example\n")] {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            let rows = collect(&[], Some(&p)).unwrap();
            assert_eq!(rows[0].ident, Ident::Email("ann@acme.example".into()), "{name}");
        }
    }

    #[test]
    fn hidden_characters_in_emails_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.txt");
        std::fs::write(&p, "ann\u{200b}@acme.example\nbob@acme\u{202e}elpmaxe.com\n\"eve\"@acme.example\nx,y@acme.example\n").unwrap();
        let errs = collect(&[], Some(&p)).unwrap_err();
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(errs[0].contains("line 1") && errs[0].contains("\\u{200b}") && errs[0].contains("U+200B"), "{errs:?}");
        assert!(errs[1].contains("U+202E") && !errs[1].contains('\u{202e}'), "{errs:?}");
    }

    #[test]
    fn a_huge_line_is_not_echoed_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.txt");
        std::fs::write(&p, format!("ann@acme.example\n{}\n", "z".repeat(50 << 20))).unwrap();
        let errs = collect(&[], Some(&p)).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].len() < 400 && errs[0].contains("line 2") && errs[0].contains("bytes in all"),
            "{}",
            &errs[0][..errs[0].len().min(400)]
        );
    }

    #[test]
    fn a_csv_that_does_not_parse_completely_is_not_used_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.csv");
        std::fs::write(&p, "name,email\nAnn,ann@acme.example\n\"Bob,bob@acme.example\nCy,cy@acme.example\n").unwrap();
        let errs = collect(&[], Some(&p)).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("line 3, column 1") && errs[0].contains("never closed") && errs[0].contains("nothing was read"),
            "{errs:?}"
        );
        let p = dir.path().join("new.csv");
        std::fs::write(&p, "email,first_name\nzoe@acme.example,Zoe\nyan@acme.example,\"Yan\nxi@acme.example,Xi\n").unwrap();
        let errs = read_new_users(&p).unwrap_err();
        assert!(errs.len() == 1 && errs[0].contains("line 3, column 18") && errs[0].contains("never closed"), "{errs:?}");
    }

    #[test]
    fn new_users_csv() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("new.csv");
        std::fs::write(&p, "email,first_name,last_name,Department\nzoe@acme.example,Zoe,Quinn,Ops\nbad,X,Y,Z\nthis.user.name.is.way.too.long@acme.example,A,B,C\n").unwrap();
        let errs = read_new_users(&p).unwrap_err();
        assert!(errs[0].contains("line 3"), "{errs:?}");
        assert!(errs[1].contains("line 4") && errs[1].contains("21"), "{errs:?}");
        std::fs::write(&p, "email,first_name,last_name,Department\nzoe@acme.example,Zoe,Quinn,Ops\n").unwrap();
        let users = read_new_users(&p).unwrap();
        assert_eq!(users[0].1.department(), Some("Ops"));
        assert_eq!(users[0].1.user_name.as_deref(), Some("zoe"));
    }
}
