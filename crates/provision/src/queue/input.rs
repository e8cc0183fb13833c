//! Reading who to act on: command-line arguments and `--from FILE` (one email, id or userName
//! per line, or a CSV with an `email` or `id` column). Every bad row is reported by its line
//! before anything runs; a CSV that does not parse completely (an unclosed quote, a stray quote)
//! is an error naming the line and column, never a file read in part. Echoed values are cut
//! short and shown with their invisible characters escaped.
//!
//! **What an argument is, the server decides.** Ids are opaque (Slack's `W0ABC123`, another
//! server's UUID or hex: any of them is used exactly as the server issued it), so text without
//! an `@` is looked up as an id and as a userName ([`lookup`]); text that looks like an id
//! (`scim::types::looks_like_id`) is tried as an id first, other text as a userName first. Only
//! what the server finds counts. Groups likewise ([`find_group`]): by id and by name.

use crate::scim::client::{check_email, normalize_email};
use crate::scim::types::{check_id, looks_like_id};
use crate::scim::{Group, MultiValue, Name, ScimClient, ScimError, User};
use futures::StreamExt;
use std::collections::HashMap;
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ident {
    /// An email address, as typed (a lookup sends it so; duplicates are found without regard to
    /// case, [`Ident::key`]).
    Email(String),
    /// A value of an `id` column: a user id exactly as the server issued it.
    Id(String),
    /// Text that is no email: a user id or a userName, whichever the server knows.
    Text(String),
}

impl std::fmt::Display for Ident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ident::Email(e) => f.write_str(e),
            Ident::Id(i) | Ident::Text(i) => f.write_str(i),
        }
    }
}

impl Ident {
    /// The identity for finding duplicates: an email without regard to case.
    fn key(&self) -> Ident {
        match self {
            Ident::Email(e) => Ident::Email(e.to_lowercase()),
            other => other.clone(),
        }
    }

    /// What a miss says: "no user with email X", "… with id X", "… with id or userName X".
    fn missing(&self) -> String {
        match self {
            Ident::Email(e) => format!("no user with email {e}"),
            Ident::Id(i) => format!("no user with id {}", crate::scim::sanitize::quoted_excerpt(i, 80)),
            Ident::Text(t) => format!("no user with id or userName {}", crate::scim::sanitize::quoted_excerpt(t, 80)),
        }
    }
}

/// One requested target and where it came from ("argument 3", "leavers.csv line 7").
#[derive(Clone, Debug)]
pub struct InputRow {
    pub origin: String,
    pub ident: Ident,
}

/// An argument or a line: an email when it has an `@`, else an id or userName (the server
/// decides which when it is looked up).
pub fn parse_ident(text: &str) -> Result<Ident, String> {
    let t = text.trim();
    if t.contains('@') {
        check_email(t).map(Ident::Email).map_err(|e| e.to_string())
    } else {
        check_id(t).map(|()| Ident::Text(t.to_string())).map_err(|why| {
            format!("{} is neither an email address nor an id or userName: {why}", crate::scim::sanitize::quoted_excerpt(t, 80))
        })
    }
}

/// A value of an `id` column.
fn parse_id(text: &str) -> Result<Ident, String> {
    let t = text.trim();
    check_id(t)
        .map(|()| Ident::Id(t.to_string()))
        .map_err(|why| format!("{} is not an id: {why}", crate::scim::sanitize::quoted_excerpt(t, 80)))
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
        if let Some(first) = seen.get(&r.ident.key()) {
            errors.push(format!("{}: {} is a duplicate of {first}", r.origin, r.ident));
        } else {
            seen.insert(r.ident.key(), r.origin.clone());
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
    let text = match crate::strict_csv::read_text(path, &name) {
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
                (Some(id), _) => parse_id(id),
                // An `email` column holds emails: no guessing there.
                (None, Some(email)) => check_email(email).map(Ident::Email).map_err(|e| e.to_string()),
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

/// A user by id; `None` when the server knows no such id.
async fn by_id(client: &ScimClient, id: &str) -> Result<Option<User>, ScimError> {
    match client.get_user(id).await {
        Ok(u) => Ok(Some(u)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// A user by userName; `None` when none has it, or the server refuses a userName filter.
async fn by_user_name(client: &ScimClient, name: &str) -> Result<Option<User>, ScimError> {
    match client.find_user_by_user_name(name).await {
        Err(e) if e.status() == Some(400) => Ok(None),
        r => r,
    }
}

/// Look one target up as the server knows it (see the module docs for the order of lookups).
pub async fn lookup(client: &ScimClient, ident: &Ident) -> Result<Option<User>, ScimError> {
    match ident {
        Ident::Email(e) => client.find_user_by_email(e).await,
        Ident::Id(id) => by_id(client, id).await,
        Ident::Text(t) if looks_like_id(t) => match by_id(client, t).await? {
            Some(u) => Ok(Some(u)),
            None => by_user_name(client, t).await,
        },
        Ident::Text(t) => match by_user_name(client, t).await? {
            Some(u) => Ok(Some(u)),
            None => by_id(client, t).await,
        },
    }
}

/// One user named by an email, an id or a userName (`users show`): `Err` for text that can name
/// nobody, `Ok(None)` for a miss (with what was tried).
pub async fn find_user(client: &ScimClient, text: &str) -> Result<Result<User, String>, ScimError> {
    let ident = match parse_ident(text) {
        Ok(i) => i,
        Err(e) => return Err(ScimError::Invalid(e)),
    };
    Ok(lookup(client, &ident).await?.ok_or_else(|| ident.missing()))
}

/// A group by id or by display name: text that looks like an id (Slack's `S…`, a UUID) is
/// tried as an id first, other text as a name first; the server decides.
pub async fn find_group(client: &ScimClient, text: &str) -> Result<Option<Group>, ScimError> {
    let by_id = || async {
        if check_id(text).is_err() {
            return Ok(None);
        }
        match client.get_group(text).await {
            Ok(g) => Ok(Some(g)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    };
    if looks_like_id(text) {
        if let Some(g) = by_id().await? {
            return Ok(Some(g));
        }
        return client.find_group_by_name(text).await;
    }
    if let Some(g) = client.find_group_by_name(text).await? {
        return Ok(Some(g));
    }
    by_id().await
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
            async move { lookup(&c, &ident).await }
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
            Ok(None) => errors.push(format!("{}: {}", r.origin, r.ident.missing())),
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
/// employeeNumber, costCenter, organization, division, manager (id or email), timezone, and any
/// other attribute by the name `users update --set` takes (startDate, photo, guest,
/// guestExpiration, secondaryEmail, phone, mobile, streetAddress, locality, region, postalCode,
/// country, ...).
pub fn read_new_users(path: &Path) -> Result<Vec<(String, User)>, Vec<String>> {
    let name = path.display().to_string();
    let text = crate::strict_csv::read_text(path, &name).map_err(|e| vec![e])?;
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
    // Every other column that names an attribute (`users update --set`'s names: startDate,
    // photo, guest, guestExpiration, secondaryEmail, phone, mobile, locality, ...), checked as
    // `--set` checks it.
    let handled = [Some(email), user_name, given, family, display, title, dept, empno, cost, org, div, manager, tz];
    let others: Vec<(usize, super::attr::Attr)> = headers
        .iter()
        .enumerate()
        .filter(|(i, _)| !handled.contains(&Some(*i)))
        .filter_map(|(i, h)| super::attr::Attr::from_field(h).map(|a| (i, a)))
        .collect();
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
        // Slack's userName rules (reference §3), as the plan checks them.
        if let Err(p) = crate::scim::rules::slack_user_name(&un) {
            errors.push(format!("{origin}: userName {}: {p} (reference §3, {})", crate::scim::sanitize::quoted_excerpt(&un, 40), p.code()));
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
        // Without a displayName Slack shows the userName (`new.hire`): the names make a better one.
        if u.display_name.is_none() {
            let names: Vec<String> = [get(given), get(family)].into_iter().flatten().collect();
            if !names.is_empty() {
                u.display_name = Some(names.join(" "));
            }
        }
        let ent = crate::scim::EnterpriseUser {
            department: get(dept),
            employee_number: get(empno),
            cost_center: get(cost),
            organization: get(org),
            division: get(div),
            manager: get(manager).map(crate::scim::types::Manager::of),
        };
        if ent != crate::scim::EnterpriseUser::default() {
            u.enterprise = Some(ent);
        }
        let mut bad = false;
        for &(i, attr) in &others {
            let Some(v) = get(Some(i)) else { continue };
            match super::edit::check(&super::edit::FieldSet::new(attr.short(), v)) {
                Ok((attr, Some(v))) => attr.set(&mut u, Some(&v)),
                Ok((_, None)) => {}
                Err(e) => {
                    errors.push(format!("{origin}: {e}"));
                    bad = true;
                }
            }
        }
        if !bad && u.guest_expiration().is_some() && !u.is_guest() {
            errors.push(format!("{origin}: guestExpiration is for a multi-channel guest: add guest=multi (reference §3)"));
            bad = true;
        }
        if bad {
            continue;
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
        std::fs::write(&p, "# leavers\nann@acme.example\n\nnot-an@email\nANN@acme.example\nW0ABC123\nc7ec60ba55c1\n").unwrap();
        let errs = collect(&[], Some(&p)).unwrap_err();
        assert!(errs.iter().any(|e| e.contains("line 4") && e.contains("not-an@email")), "{errs:?}");
        assert_eq!(errs.len(), 2, "ids and userNames of any shape are rows to look up, not errors: {errs:?}");
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
        assert_eq!(users[0].1.display_name.as_deref(), Some("Zoe Quinn"), "named from the names, not `zoe`");
    }
}
