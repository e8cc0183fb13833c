//! A new policy for a source file, written from a commented template (the console's Policies
//! `n`): every section with what it does, the source's columns mapped where their names say what
//! they hold (`email`, `first_name`, `department`, ...), the other columns listed in a comment,
//! and the cautious settings (`remove_action = "report"`: nothing is deactivated until the admin
//! says so). The result parses as a policy (a test checks it); the admin edits it from there.

use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Why no policy was written.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{0}: no such file")]
    NoSource(String),
    #[error("{path}: a policy of that name exists already; edit it (e) or pick another source")]
    Exists { path: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The attribute a column's name suggests (names compared lowercased, `-` and spaces as `_`).
fn guess(column: &str) -> Option<&'static str> {
    let c = column.trim().to_lowercase().replace(['-', ' '], "_");
    Some(match c.as_str() {
        "email" | "mail" | "work_email" | "email_address" => "emails.work",
        "given_name" | "first_name" | "firstname" | "givenname" => "name.givenName",
        "family_name" | "last_name" | "lastname" | "surname" | "familyname" => "name.familyName",
        "display_name" | "displayname" => "displayName",
        "title" | "job_title" | "jobtitle" => "title",
        "department" | "dept" => "enterprise.department",
        "employee_number" | "employee_id" | "employeenumber" | "employee_no" => "enterprise.employeeNumber",
        "manager" | "manager_email" | "manager_id" => "enterprise.manager",
        "cost_center" | "costcenter" => "enterprise.costCenter",
        "division" => "enterprise.division",
        "organization" | "organisation" | "company" => "enterprise.organization",
        "timezone" | "time_zone" => "timezone",
        "phone" | "work_phone" => "phoneNumbers.work",
        "mobile" | "mobile_phone" | "cell" => "phoneNumbers.mobile",
        "user_type" | "usertype" | "employee_type" => "userType",
        _ => return None,
    })
}

fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The columns of a CSV source (its header line); none for other formats or an empty file.
pub fn source_columns(source: &Path) -> Vec<String> {
    if super::source::SourceFormat::from_path(source) != Some(super::source::SourceFormat::Csv) {
        return Vec::new();
    }
    let Ok(f) = std::fs::File::open(source) else { return Vec::new() };
    let mut line = String::new();
    if std::io::BufReader::new(f).read_line(&mut line).is_err() {
        return Vec::new();
    }
    let line = line.trim_start_matches('\u{feff}');
    crate::strict_csv::records(line)
        .next()
        .and_then(Result::ok)
        .map(|r| (0..r.len()).filter_map(|i| r.get(i)).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

/// The template's text for a source at `source_ref` (as the policy names it) with `columns`.
pub fn text(source_ref: &str, columns: &[String]) -> String {
    let mut mapped: Vec<(&'static str, &str)> = Vec::new();
    let mut unmapped = Vec::new();
    for c in columns {
        match guess(c) {
            Some(a) if !mapped.iter().any(|(m, _)| *m == a) => mapped.push((a, c)),
            _ => unmapped.push(c.as_str()),
        }
    }
    let email = mapped.iter().find(|(a, _)| *a == "emails.work").map(|(_, c)| *c);
    let id_column = email.or(columns.first().map(String::as_str)).unwrap_or("email");
    let mut t = String::new();
    t.push_str("# A scimitar policy: provision Slack from one source file.\n");
    t.push_str("# Written by the console (Policies, n). Edit it (e), then read its plan: nothing is sent to\n");
    t.push_str("# Slack until you apply the plan (A) and confirm it. The keys are described in docs/policies.md.\n\n");
    t.push_str("match_on = \"email\"                     # link existing Slack users by email; never duplicate them\n\n");
    t.push_str("[source]\n");
    t.push_str(&format!("path = {}{}# relative to this file\n", toml_str(source_ref), " ".repeat(2)));
    t.push_str(&format!("id_column = {}  # the stable key of a row (managers refer to it)\n", toml_str(id_column)));
    t.push_str("# status_column = \"active\"             # a column saying who is enabled\n");
    t.push_str("# enabled_values = [\"true\", \"active\"]\n");
    t.push_str("# groups_column = \"groups\"             # a column listing each person's groups\n");
    t.push_str("# groups_separator = \";\"\n\n");
    t.push_str("[attributes]                           # Slack attribute = column, or a template \"{given} {family}\"\n");
    if let Some(e) = email {
        t.push_str(&format!("userName = {}\n", toml_str(&format!("{{{e}|local}}"))));
    }
    for (a, c) in &mapped {
        t.push_str(&format!("{} = {}\n", toml_str(a), toml_str(c)));
    }
    if mapped.is_empty() {
        t.push_str("\"emails.work\" = \"email\"\n");
        t.push_str("userName = \"{email|local}\"\n");
    }
    if !unmapped.is_empty() {
        t.push_str(&format!("# not mapped (map them above if Slack should have them): {}\n", unmapped.join(", ")));
    }
    t.push_str("\n[provisioning]\n");
    t.push_str("allow_create = true\n");
    t.push_str("allow_update = true\n");
    t.push_str("allow_deprovision = true\n");
    t.push_str("remove_action = \"report\"                # who left the source is reported; \"deactivate\" deactivates them\n");
    t.push_str("max_deactivations = 25                 # a plan deactivating more is refused\n");
    t.push_str("# protected_users = [\"it-admin@example.com\"]   # never changed by this policy\n");
    t.push_str("# max_attribute_changes = 500          # the gate's other ceilings for this policy (else the profile's)\n");
    t.push_str("# max_source_drop_percent = 10.0       # a column blank in more rows than last time holds the run\n\n");
    t.push_str("# Groups from the source (needs groups_column):\n");
    t.push_str("# [[groups]]\n");
    t.push_str("# source = \"engineering\"\n");
    t.push_str("# slack_name = \"eng\"\n");
    t.push_str("# membership = \"merge\"                 # only add members; \"overwrite\" also removes\n");
    t
}

/// Write a new policy for `source` into `policies_dir` (named after the source file) and say
/// where. The source is named relative to the policy when it is inside the policies dir.
pub fn write_new(policies_dir: &Path, source: &Path) -> Result<PathBuf, TemplateError> {
    let source = if source.is_absolute() { source.to_path_buf() } else { policies_dir.join(source) };
    if !source.is_file() {
        return Err(TemplateError::NoSource(source.display().to_string()));
    }
    let stem: String = source
        .file_stem()
        .map(|s| s.to_string_lossy().chars().map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect())
        .unwrap_or_else(|| "new".into());
    let path = policies_dir.join(format!("{stem}.toml"));
    let source_ref = match source.strip_prefix(policies_dir) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => source.display().to_string(),
    };
    let body = text(&source_ref, &source_columns(&source));
    let io = |e: std::io::Error| TemplateError::Io { path: path.display().to_string(), source: e };
    std::fs::create_dir_all(policies_dir).map_err(io)?;
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists { TemplateError::Exists { path: path.display().to_string() } } else { io(e) }
    })?;
    f.write_all(body.as_bytes()).map_err(io)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_maps_the_columns_it_recognises_and_parses_as_a_policy() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hr.csv"), "Email,First Name,last_name,Job Title,dept,badge\nann@x.example,Ann,Lee,Eng,R&D,7\n")
            .unwrap();
        let path = write_new(dir.path(), Path::new("hr.csv")).unwrap();
        assert_eq!(path, dir.path().join("hr.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        for line in [
            "path = \"hr.csv\"",
            "id_column = \"Email\"",
            "userName = \"{Email|local}\"",
            "\"name.givenName\" = \"First Name\"",
            "\"title\" = \"Job Title\"",
            "\"enterprise.department\" = \"dept\"",
            "# not mapped (map them above if Slack should have them): badge",
            "remove_action = \"report\"",
        ] {
            assert!(text.contains(line), "{line}:\n{text}");
        }
        let policy = crate::policy::Policy::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let src = policy.read_source().unwrap();
        policy.check_source(&src).unwrap();
        // Never over an existing policy; a missing source is named.
        assert!(matches!(write_new(dir.path(), Path::new("hr.csv")), Err(TemplateError::Exists { .. })));
        let e = write_new(dir.path(), Path::new("nope.csv")).unwrap_err().to_string();
        assert!(e.contains("nope.csv: no such file"), "{e}");
    }

    #[test]
    fn a_source_without_a_header_gets_a_template_that_still_parses() {
        let dir = tempfile::tempdir().unwrap();
        let t = text("people.json", &[]);
        std::fs::write(dir.path().join("p.toml"), &t).unwrap();
        crate::policy::config::Policy::parse(&t, &dir.path().join("p.toml")).unwrap_or_else(|e| panic!("{e}\n{t}"));
    }
}
