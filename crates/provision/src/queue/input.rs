//! Reading who to act on: command-line arguments and `--from FILE` (one email or id per line,
//! or a CSV with an `email` or `id` column). Every bad row is reported by its line before
//! anything runs.

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
        Err(format!("{t:?} is neither an email address nor a Slack user id"))
    }
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
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return (Vec::new(), vec![format!("cannot read {name}: {e}")]),
    };
    let first = text.lines().find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).unwrap_or("");
    let is_csv = first.contains(',') || matches!(first.trim().to_ascii_lowercase().as_str(), "email" | "id");
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    if is_csv {
        let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
        let headers = match rdr.headers() {
            Ok(h) => h.iter().map(|h| h.trim().to_ascii_lowercase()).collect::<Vec<_>>(),
            Err(e) => return (Vec::new(), vec![format!("{name} line 1: {e}")]),
        };
        let email_col = headers.iter().position(|h| h == "email" || h == "mail" || h == "e-mail");
        let id_col = headers.iter().position(|h| h == "id" || h == "user_id" || h == "slack_id");
        if email_col.is_none() && id_col.is_none() {
            return (
                Vec::new(),
                vec![format!("{name} line 1: the CSV header needs an `email` or `id` column (found: {})", headers.join(", "))],
            );
        }
        for rec in rdr.records() {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    errors.push(format!("{name} line {line}: {e}"));
                    continue;
                }
            };
            let line = rec.position().map_or(0, |p| p.line());
            let origin = format!("{name} line {line}");
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

/// Look every row up (8 at a time). Unknown users are errors naming their row.
pub async fn resolve(client: &ScimClient, rows: &[InputRow]) -> Result<Vec<(InputRow, User)>, Vec<String>> {
    let results: Vec<Result<Option<User>, ScimError>> = futures::stream::iter(rows.iter().map(|r| {
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
    .collect()
    .await;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (r, res) in rows.iter().zip(results) {
        match res {
            Ok(Some(u)) => out.push((r.clone(), u)),
            Ok(None) => errors.push(format!("{}: no Slack user {}", r.origin, r.ident)),
            Err(e) => errors.push(format!("{}: looking up {} failed: {e}", r.origin, r.ident)),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// Read users to create from a CSV. Columns (any case, some aliases): email (required),
/// userName, givenName/first_name, familyName/last_name, displayName, title, department,
/// employeeNumber, costCenter, organization, division, manager (id or email), timezone.
pub fn read_new_users(path: &Path) -> Result<Vec<(String, User)>, Vec<String>> {
    let name = path.display().to_string();
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_path(path).map_err(|e| vec![format!("cannot read {name}: {e}")])?;
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| vec![format!("{name} line 1: {e}")])?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase().replace(['_', ' ', '-'], ""))
        .collect();
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
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("{name} line {}: {e}", e.position().map_or(0, |p| p.line())));
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line()) as usize;
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
            errors.push(format!("{origin}: userName {un:?} is longer than Slack's 21 characters"));
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
