//! The policy file: what to read, how rows map to Slack users, who is in scope, what may change.
//!
//! ```toml
//! match_on = "email"                      # or "userName": how a row finds its existing Slack user
//!
//! [source]
//! path = "hr-export.csv"                  # relative to this file; .csv, .json (array or lines), .jsonl
//! id_column = "employee_id"               # the row's stable key (also used by manager and memberships)
//! status_column = "status"                # optional; no column = every row is enabled
//! enabled_values = ["active", "enabled", "true", "1", "yes"]   # case-insensitive
//! groups_column = "groups"                # optional
//! groups_separator = ";"
//! memberships_path = "memberships.csv"    # optional CSV: one (user key, group) pair per row
//! memberships_user_column = "employee_id" # default: id_column
//! memberships_group_column = "group"      # default: "group"
//!
//! [attributes]                            # Slack attribute = column, or a template
//! userName = "{email|local}"
//! "emails.work" = "email"
//! displayName = "{first_name} {last_name}"
//! "enterprise.manager" = "manager_id"     # the manager's source key, resolved to a Slack id
//!
//! [scope]
//! groups = ["staff"]                      # source groups granting Slack access; empty = every row
//!
//! [provisioning]
//! allow_create = true
//! allow_update = true
//! allow_deprovision = true
//! provision_disabled_users = false
//! remove_action = "deactivate"            # or "report" (Slack cannot delete users)
//! max_deactivations = 50                  # ceiling per run; with the percentage the lower wins
//! max_deactivation_percent = 10.0         # default 10 when neither is set
//! deprovision_on_rule_removal = "deactivate"   # or "keep"
//! protected_users = ["it-admin@example.com"]   # emails, userNames or ids never deactivated
//! max_attribute_changes = 500             # the gate's other ceilings for this policy's runs, in place
//! max_attribute_change_percent = 25.0     # of the profile's (config.toml; the defaults are these):
//! max_member_removals = 200               # one attribute changed or cleared on too many users,
//! max_member_removal_percent = 25.0       # too many memberships or too much of one group removed,
//! max_group_deletes = 2                   # too many groups deleted or renamed, users created
//! max_group_renames = 10
//! max_creates = 500
//! max_source_drop_percent = 10.0          # a mapped column blank (or rows missing) in more of the rows than at
//!                                         # the last successful run holds plan, apply and sync
//!
//! [[groups]]
//! source = "eng"                          # source group name (case-insensitive)
//! slack_name = "engineering"              # default: source
//! key = "grp-eng"                         # stable key; a changed slack_name with the same key = rename
//! membership = "merge"                    # "merge" only adds; "overwrite" adds and removes
//! ```
//!
//! Templates: `{column}` inserts a column, `{column|filter|...}` applies filters (`lower`, `upper`,
//! `trim`, `local` = part of an email before `@`, `domain` = part after it, `initial` = first
//! character); `{{` and `}}` are literal braces. A value without braces is a column name.
//!
//! Every error names the file, the line and the key. Unknown settings are errors.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::ldap::{self, Disabled, GroupSpec, GroupsFrom, LdapSpec, PasswordSource, SearchScope};
use super::source::{MembershipSpec, Source, SourceFormat, SourceSpec};

/// A policy problem, located.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: `{key}`: {message}{}", file.display(), super::source::quote_suffix(.quote))]
pub struct PolicyError {
    pub file: PathBuf,
    /// 1-based line in the policy file.
    pub line: usize,
    /// Dotted key, e.g. `provisioning.remove_action` or `groups[1].key`.
    pub key: String,
    pub message: String,
    /// What the source file holds there (its columns), as a short cleaned excerpt: shown on the
    /// terminal, never recorded or alerted ([`PolicyError::brief`]); the path may point at a
    /// file that is no export at all (a secret).
    pub quote: Option<String>,
}

impl PolicyError {
    /// The message without what the source file holds (for the sync's record and alerts).
    pub fn brief(&self) -> String {
        format!("{}:{}: `{}`: {}", self.file.display(), self.line, self.key, self.message)
    }
}

/// Why a policy's source could not be used: it does not read, or it does not fit the policy.
#[derive(Debug, thiserror::Error)]
pub enum ReadSourceError {
    #[error(transparent)]
    Source(#[from] super::SourceError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The directory server of an LDAP source failed (names server, bind DN and result code).
    #[error(transparent)]
    Directory(#[from] super::ldap::LdapError),
    #[error("reading the source stopped: {0}")]
    Stopped(String),
}

impl ReadSourceError {
    /// The message without what the source file holds (for the sync's record and alerts).
    pub fn brief(&self) -> String {
        match self {
            ReadSourceError::Source(e) => e.brief(),
            ReadSourceError::Policy(e) => e.brief(),
            e => e.to_string(),
        }
    }
}

/// A template in the attribute mapping that does not parse (the message says where).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchOn {
    #[serde(rename = "email")]
    Email,
    #[serde(rename = "userName")]
    UserName,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemoveAction {
    Deactivate,
    Report,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleRemoval {
    Deactivate,
    Keep,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Membership {
    /// Only add members.
    Merge,
    /// Add missing members and remove members the source does not list.
    Overwrite,
}

pub use crate::queue::attr::Attr;

/// Slack's userName rule (reference §3): lowercased, only `a-z 0-9 . _ -`, other characters become
/// `_`, at most 21 characters. An email becomes its local part (Slack converts emails given as
/// userName to a username; the local part is our reading of that rule).
pub fn normalize_user_name(s: &str) -> String {
    crate::scim::rules::normalize_user_name(s).chars().take(crate::scim::rules::USER_NAME_MAX).collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    Lower,
    Upper,
    Trim,
    Local,
    Domain,
    Initial,
}

impl Filter {
    fn parse(s: &str) -> Option<Filter> {
        Some(match s {
            "lower" => Filter::Lower,
            "upper" => Filter::Upper,
            "trim" => Filter::Trim,
            "local" => Filter::Local,
            "domain" => Filter::Domain,
            "initial" => Filter::Initial,
            _ => return None,
        })
    }

    pub fn apply(self, s: &str, out: &mut String) {
        match self {
            Filter::Lower => out.push_str(&s.to_lowercase()),
            Filter::Upper => out.push_str(&s.to_uppercase()),
            Filter::Trim => out.push_str(s.trim()),
            Filter::Local => out.push_str(s.split_once('@').map_or(s, |(l, _)| l)),
            Filter::Domain => out.push_str(s.split_once('@').map_or("", |(_, d)| d)),
            Filter::Initial => out.extend(s.trim().chars().next()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Lit(String),
    Col { name: String, filters: Vec<Filter> },
}

/// A parsed template: literal text and column references.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
}

impl Template {
    /// A value without `{` is one column name; otherwise a template.
    pub fn parse(s: &str) -> Result<Template, TemplateError> {
        Self::parse_text(s).map_err(TemplateError)
    }

    fn parse_text(s: &str) -> Result<Template, String> {
        if !s.contains(['{', '}']) {
            if s.trim().is_empty() {
                return Err("empty column name".into());
            }
            return Ok(Template { parts: vec![Part::Col { name: s.trim().to_string(), filters: vec![] }] });
        }
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = s.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|p| p.1) == Some('{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek().map(|p| p.1) == Some('}') => {
                    chars.next();
                    lit.push('}');
                }
                '}' => return Err(format!("unmatched `}}` at character {} (write `}}}}` for a literal brace)", i + 1)),
                '{' => {
                    let rest = &s[i + 1..];
                    let end = rest.find('}').ok_or_else(|| format!("unclosed `{{` at character {}", i + 1))?;
                    let inner = &rest[..end];
                    if inner.contains('{') {
                        return Err(format!("unclosed `{{` at character {}", i + 1));
                    }
                    let mut it = inner.split('|').map(str::trim);
                    let name = it.next().unwrap_or("");
                    if name.is_empty() {
                        return Err(format!("empty `{{}}` at character {}", i + 1));
                    }
                    let filters = it
                        .map(|f| {
                            Filter::parse(f)
                                .ok_or_else(|| format!("unknown filter `{f}` (known: lower, upper, trim, local, domain, initial)"))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Col { name: name.to_string(), filters });
                    for _ in 0..inner.chars().count() + 1 {
                        chars.next();
                    }
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template { parts })
    }

    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Col { name, .. } => Some(name.as_str()),
            Part::Lit(_) => None,
        })
    }
}

/// One `[attributes]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub attr: Attr,
    pub template: Template,
    /// The policy line, for messages.
    pub line: usize,
}

/// The resolved `[source]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceConfig {
    pub spec: SourceSpec,
    pub id_column: String,
    pub status_column: Option<String>,
    /// Lowercased.
    pub enabled_values: Vec<String>,
    pub groups_column: Option<String>,
    pub groups_separator: String,
    /// `kind = "ldap"`: the directory to read (`spec` is then unused).
    pub ldap: Option<LdapSpec>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Provisioning {
    pub allow_create: bool,
    pub allow_update: bool,
    pub allow_deprovision: bool,
    pub provision_disabled_users: bool,
    pub remove_action: RemoveAction,
    pub max_deactivations: Option<u64>,
    pub max_deactivation_percent: Option<f64>,
    pub deprovision_on_rule_removal: RuleRemoval,
    /// Lowercased emails or userNames that are never deactivated.
    pub protected_users: Vec<String>,
    /// The custom profile fields the org has now (Slack's admin pages show them; SCIM does not):
    /// with it, the plan checks the fields Slack would create against its 50
    /// (`scim::rules::CUSTOM_PROFILE_FIELDS_MAX`).
    pub custom_profile_fields: Option<u32>,
    /// The gate's ceilings for this policy's runs, where set (in place of the profile's).
    pub ceilings: crate::queue::CeilingSettings,
    /// A mapped column that lost its values, or rows that went missing, for more than this share
    /// (percent) of the rows since the last successful run holds the run (default 10).
    pub max_source_drop_percent: f64,
}

/// One `[[groups]]` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRule {
    /// Source group name, as written.
    pub source: String,
    pub slack_name: String,
    /// Stable key: a rule whose slack_name changes but key stays renames the Slack group.
    pub key: String,
    pub membership: Membership,
    pub line: usize,
}

/// A validated policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub file: PathBuf,
    pub match_on: MatchOn,
    pub source: SourceConfig,
    pub attributes: Vec<Mapping>,
    /// Source groups granting access, as written; empty = every row.
    pub scope_groups: Vec<String>,
    pub provisioning: Provisioning,
    pub groups: Vec<GroupRule>,
    /// (key, column, line) of every plain column setting, checked against the source header.
    column_refs: Vec<(String, String, usize)>,
}

pub const DEFAULT_ENABLED_VALUES: [&str; 5] = ["active", "enabled", "true", "1", "yes"];
/// The share of the rows a mapped column may lose (or the row count fall by) between two runs
/// before the run is held (`max_source_drop_percent`).
pub const DEFAULT_MAX_SOURCE_DROP_PERCENT: f64 = 10.0;
/// The ceiling when a policy sets neither `max_deactivations` nor `max_deactivation_percent`.
pub const DEFAULT_MAX_DEACTIVATION_PERCENT: f64 = 10.0;

/// A policy that reads what `users export --output csv` writes (see `export.rs`): exporting the
/// live directory and planning against the export gives an empty plan.
pub const EXPORT_POLICY: &str = r#"# Reads the CSV written by `scimitar users export --output csv`.
match_on = "email"

[source]
path = "users.csv"
id_column = "email"
status_column = "active"
enabled_values = ["true"]
groups_column = "groups"
groups_separator = ";"

[attributes]
userName = "user_name"
"emails.work" = "email"
"name.givenName" = "given_name"
"name.familyName" = "family_name"
"name.honorificPrefix" = "honorific_prefix"
displayName = "display_name"
title = "title"
timezone = "timezone"
locale = "locale"
preferredLanguage = "preferred_language"
userType = "user_type"
"phoneNumbers.work" = "phone_work"
"phoneNumbers.mobile" = "phone_mobile"
"enterprise.employeeNumber" = "employee_number"
"enterprise.costCenter" = "cost_center"
"enterprise.organization" = "organization"
"enterprise.division" = "division"
"enterprise.department" = "department"
"enterprise.manager" = "manager"
secondaryEmail = "secondary_email"
startDate = "start_date"
photo = "photo"
guest = "guest"
guestExpiration = "guest_expiration"
streetAddress = "street_address"
locality = "locality"
region = "region"
postalCode = "postal_code"
country = "country"
"#;

// ---- raw TOML shape ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    match_on: Option<MatchOn>,
    source: RawSource,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    scope: RawScope,
    #[serde(default)]
    provisioning: RawProvisioning,
    #[serde(default)]
    groups: Vec<RawGroupRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    kind: Option<SourceKind>,
    path: Option<String>,
    format: Option<SourceFormat>,
    id_column: String,
    status_column: Option<String>,
    enabled_values: Option<Vec<String>>,
    groups_column: Option<String>,
    groups_separator: Option<String>,
    memberships_path: Option<String>,
    memberships_user_column: Option<String>,
    memberships_group_column: Option<String>,
    // kind = "ldap"
    url: Option<String>,
    starttls: Option<bool>,
    ca_file: Option<String>,
    bind_dn: Option<String>,
    password_command: Option<String>,
    password_file: Option<String>,
    base_dn: Option<String>,
    user_filter: Option<String>,
    search_scope: Option<SearchScope>,
    groups_from: Option<GroupsFrom>,
    group_base_dn: Option<String>,
    group_filter: Option<String>,
    nested_groups: Option<bool>,
    disabled_attribute: Option<String>,
    disabled_values: Option<Vec<String>>,
    page_size: Option<u32>,
    timeout_seconds: Option<f64>,
}

/// `[source] kind`: a file format, or a directory server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SourceKind {
    Csv,
    Json,
    Jsonl,
    Ldap,
}

impl RawSource {
    /// The keys only `kind = "ldap"` takes, and whether each is set.
    fn ldap_keys(&self) -> [(&'static str, bool); 17] {
        [
            ("url", self.url.is_some()),
            ("starttls", self.starttls.is_some()),
            ("ca_file", self.ca_file.is_some()),
            ("bind_dn", self.bind_dn.is_some()),
            ("password_command", self.password_command.is_some()),
            ("password_file", self.password_file.is_some()),
            ("base_dn", self.base_dn.is_some()),
            ("user_filter", self.user_filter.is_some()),
            ("search_scope", self.search_scope.is_some()),
            ("groups_from", self.groups_from.is_some()),
            ("group_base_dn", self.group_base_dn.is_some()),
            ("group_filter", self.group_filter.is_some()),
            ("nested_groups", self.nested_groups.is_some()),
            ("disabled_attribute", self.disabled_attribute.is_some()),
            ("disabled_values", self.disabled_values.is_some()),
            ("page_size", self.page_size.is_some()),
            ("timeout_seconds", self.timeout_seconds.is_some()),
        ]
    }

    /// The keys only file sources take, and whether each is set.
    fn file_keys(&self) -> [(&'static str, bool); 7] {
        [
            ("path", self.path.is_some()),
            ("format", self.format.is_some()),
            ("groups_column", self.groups_column.is_some()),
            ("groups_separator", self.groups_separator.is_some()),
            ("memberships_path", self.memberships_path.is_some()),
            ("memberships_user_column", self.memberships_user_column.is_some()),
            ("memberships_group_column", self.memberships_group_column.is_some()),
        ]
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawScope {
    #[serde(default)]
    groups: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvisioning {
    #[serde(default = "yes")]
    allow_create: bool,
    #[serde(default = "yes")]
    allow_update: bool,
    #[serde(default = "yes")]
    allow_deprovision: bool,
    #[serde(default)]
    provision_disabled_users: bool,
    remove_action: Option<RemoveAction>,
    max_deactivations: Option<u64>,
    max_deactivation_percent: Option<f64>,
    deprovision_on_rule_removal: Option<RuleRemoval>,
    #[serde(default)]
    protected_users: Vec<String>,
    custom_profile_fields: Option<u32>,
    max_attribute_changes: Option<usize>,
    max_attribute_change_percent: Option<f64>,
    max_member_removals: Option<usize>,
    max_member_removal_percent: Option<f64>,
    max_group_deletes: Option<usize>,
    max_group_renames: Option<usize>,
    max_creates: Option<usize>,
    max_source_drop_percent: Option<f64>,
}

impl Default for RawProvisioning {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroupRule {
    source: String,
    slack_name: Option<String>,
    key: Option<String>,
    membership: Option<Membership>,
}

// ---- locating keys ----

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Finds the line of a key path in the parsed document.
struct Locator<'t> {
    text: &'t str,
    doc: Option<Spanned<DeTable<'t>>>,
}

impl<'t> Locator<'t> {
    fn new(text: &'t str) -> Self {
        Locator { text, doc: DeTable::parse(text).ok() }
    }

    fn line_at(&self, offset: usize) -> usize {
        line_of(self.text, offset)
    }

    /// The line of the deepest part of `path` that exists (the key itself when present).
    fn line(&self, path: &[Seg]) -> usize {
        let Some(doc) = &self.doc else { return 1 };
        let mut best = 1;
        let mut table: Option<&DeTable> = Some(doc.get_ref());
        let mut value: Option<&DeValue> = None;
        for seg in path {
            match seg {
                Seg::Key(k) => {
                    let t = match (table, value) {
                        (Some(t), _) => t,
                        (None, Some(v)) => match v.as_table() {
                            Some(t) => t,
                            None => break,
                        },
                        _ => break,
                    };
                    let Some((key, v)) = t.iter().find(|(key, _)| key.get_ref().as_ref() == *k) else { break };
                    best = self.line_at(key.span().start);
                    table = None;
                    value = Some(v.get_ref());
                }
                Seg::Index(i) => {
                    let Some(arr) = value.and_then(|v| v.as_array()) else { break };
                    let Some(item) = arr.get(*i) else { break };
                    best = self.line_at(item.span().start);
                    table = None;
                    value = Some(item.get_ref());
                }
            }
        }
        best
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// The `[table]` (or `[[table]]`) header in effect at a line.
fn table_at(text: &str, line: usize) -> Option<String> {
    text.lines()
        .take(line)
        .filter_map(|l| {
            let t = l.trim();
            let t = t
                .strip_prefix("[[")
                .and_then(|t| t.split("]]").next())
                .or_else(|| t.strip_prefix('[').and_then(|t| t.split(']').next()))?;
            Some(t.trim().trim_matches('"').to_string())
        })
        .last()
}

impl Policy {
    /// Read and validate a policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            file: path.to_path_buf(),
            line: 0,
            key: String::new(),
            message: format!("cannot read: {e}"),
            quote: None,
        })?;
        Policy::parse(&text, path)
    }

    /// Validate policy text; `path` is used for messages and to resolve relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Policy, PolicyError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| toml_error(text, path, &e))?;
        let loc = Locator::new(text);
        let err = |segs: &[Seg], key: &str, message: String| PolicyError {
            file: path.to_path_buf(),
            line: loc.line(segs),
            key: key.to_string(),
            message,
            quote: None,
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &str| {
            let p = Path::new(p);
            if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
        };
        let mut column_refs = Vec::new();

        // [source]
        let s = raw.source;
        let nonempty = |v: &str, key: &str, field: &str| -> Result<(), PolicyError> {
            if v.trim().is_empty() { Err(err(&[Seg::Key("source"), Seg::Key(field)], key, "must not be empty".into())) } else { Ok(()) }
        };
        let is_ldap = s.kind == Some(SourceKind::Ldap);
        let (wrong, why) = if is_ldap {
            (s.file_keys().into_iter().find(|k| k.1), "is for file sources; kind = \"ldap\" reads groups with `groups_from`")
        } else {
            (s.ldap_keys().into_iter().find(|k| k.1), "needs kind = \"ldap\" in [source]")
        };
        if let Some((k, _)) = wrong {
            return Err(err(&[Seg::Key("source"), Seg::Key(k)], &format!("source.{k}"), why.into()));
        }
        let format = match s.kind {
            Some(SourceKind::Csv) => Some(SourceFormat::Csv),
            Some(SourceKind::Json) => Some(SourceFormat::Json),
            Some(SourceKind::Jsonl) => Some(SourceFormat::Jsonl),
            Some(SourceKind::Ldap) | None => s.format,
        };
        if s.kind.is_some() && s.format.is_some_and(|f| Some(f) != format) {
            return Err(err(&[Seg::Key("source"), Seg::Key("format")], "source.format", "disagrees with `kind`; set one of them".into()));
        }
        let src_path = match (&s.path, is_ldap) {
            (_, true) => String::new(),
            (Some(p), false) => p.clone(),
            (None, false) => {
                return Err(err(
                    &[Seg::Key("source")],
                    "source.path",
                    "missing field `path` (or set kind = \"ldap\" to read a directory server)".into(),
                ));
            }
        };
        if !is_ldap {
            nonempty(&src_path, "source.path", "path")?;
        }
        nonempty(&s.id_column, "source.id_column", "id_column")?;
        column_refs.push(("source.id_column".into(), s.id_column.clone(), loc.line(&[Seg::Key("source"), Seg::Key("id_column")])));
        if let Some(c) = &s.status_column {
            column_refs.push(("source.status_column".into(), c.clone(), loc.line(&[Seg::Key("source"), Seg::Key("status_column")])));
        } else if s.enabled_values.is_some() {
            return Err(err(
                &[Seg::Key("source"), Seg::Key("enabled_values")],
                "source.enabled_values",
                "needs `status_column` in [source]".into(),
            ));
        }
        if let Some(c) = &s.groups_column {
            column_refs.push(("source.groups_column".into(), c.clone(), loc.line(&[Seg::Key("source"), Seg::Key("groups_column")])));
        }
        let groups_separator = s.groups_separator.clone().unwrap_or_else(|| ";".into());
        if groups_separator.is_empty() {
            return Err(err(&[Seg::Key("source"), Seg::Key("groups_separator")], "source.groups_separator", "must not be empty".into()));
        }
        if s.memberships_path.is_none() {
            for (f, set) in [
                ("memberships_user_column", s.memberships_user_column.is_some()),
                ("memberships_group_column", s.memberships_group_column.is_some()),
            ] {
                if set {
                    return Err(err(
                        &[Seg::Key("source"), Seg::Key(f)],
                        &format!("source.{f}"),
                        "needs `memberships_path` in [source]".into(),
                    ));
                }
            }
        }
        let memberships = s.memberships_path.as_deref().map(|p| MembershipSpec {
            path: resolve(p),
            user_column: s.memberships_user_column.clone().unwrap_or_else(|| s.id_column.clone()),
            group_column: s.memberships_group_column.clone().unwrap_or_else(|| "group".into()),
        });
        let has_groups = s.groups_column.is_some() || memberships.is_some() || is_ldap;
        let mut source = SourceConfig {
            spec: SourceSpec { path: resolve(&src_path), format, array_separator: groups_separator.clone(), memberships },
            id_column: s.id_column.clone(),
            status_column: s.status_column.clone(),
            enabled_values: s
                .enabled_values
                .clone()
                .unwrap_or_else(|| DEFAULT_ENABLED_VALUES.iter().map(|s| s.to_string()).collect())
                .iter()
                .map(|v| v.trim().to_lowercase())
                .collect(),
            groups_column: s.groups_column.clone(),
            groups_separator,
            ldap: None,
        };

        // [attributes]
        let mut attributes = Vec::new();
        let mut seen: HashMap<Attr, String> = HashMap::new();
        for (k, v) in &raw.attributes {
            let segs = [Seg::Key("attributes"), Seg::Key(k)];
            let key = format!("attributes.{k}");
            let attr = Attr::parse(k)
                .ok_or_else(|| err(&segs, &key, format!("unknown Slack attribute (known: {})", Attr::ALL.map(Attr::name).join(", "))))?;
            if let Some(prev) = seen.insert(attr, k.clone()) {
                return Err(err(&segs, &key, format!("sets {} again (already set by `attributes.{prev}`)", attr.name())));
            }
            let template = Template::parse(v).map_err(|m| err(&segs, &key, format!("bad template {v:?}: {m}")))?;
            attributes.push(Mapping { attr, template, line: loc.line(&segs) });
        }
        attributes.sort_by_key(|m| m.attr);
        let mapped = |a: Attr| attributes.iter().any(|m| m.attr == a);
        let match_on = raw.match_on.unwrap_or(MatchOn::Email);
        let (match_attr, match_key) = match match_on {
            MatchOn::Email => (Attr::Email, "\"emails.work\""),
            MatchOn::UserName => (Attr::UserName, "userName"),
        };
        if !mapped(match_attr) {
            let segs = if raw.match_on.is_some() { vec![Seg::Key("match_on")] } else { vec![Seg::Key("attributes")] };
            return Err(err(&segs, "match_on", format!("matches on {} but [attributes] has no {match_key} mapping", match_attr.name())));
        }

        // [provisioning]
        let provisioning = parse_provisioning(raw.provisioning, &mapped, &err)?;

        // [scope]
        // A directory's groups can be named by DN, in any spacing and case.
        let group_name = |g: &str| if is_ldap && g.contains('=') { ldap::normalize_dn(g) } else { g.trim().to_string() };
        let scope_groups: Vec<String> = raw.scope.groups.iter().map(|g| group_name(g)).collect();
        if !scope_groups.is_empty() && !has_groups {
            return Err(err(
                &[Seg::Key("scope"), Seg::Key("groups")],
                "scope.groups",
                "scoping by group needs `groups_column` or `memberships_path` in [source]".into(),
            ));
        }
        if let Some(i) = scope_groups.iter().position(|g| g.is_empty()) {
            return Err(err(&[Seg::Key("scope"), Seg::Key("groups"), Seg::Index(i)], "scope.groups", "empty group name".into()));
        }

        // [[groups]]
        let mut groups = Vec::new();
        let mut keys: HashMap<String, usize> = HashMap::new();
        let mut names: HashMap<String, usize> = HashMap::new();
        for (i, g) in raw.groups.into_iter().enumerate() {
            let at = |f: &'static str| [Seg::Key("groups"), Seg::Index(i), Seg::Key(f)];
            let key_of = |f: &str| format!("groups[{i}].{f}");
            if !has_groups {
                return Err(err(
                    &at("source"),
                    &key_of("source"),
                    "group rules need `groups_column` or `memberships_path` in [source]".into(),
                ));
            }
            let source = group_name(&g.source);
            if source.is_empty() {
                return Err(err(&at("source"), &key_of("source"), "must not be empty".into()));
            }
            // A group named by DN gets its CN as the default Slack name.
            let default_name = if source.contains('=') && is_ldap { ldap::first_rdn_value(&g.source) } else { source.clone() };
            let slack_name = g.slack_name.map(|s| s.trim().to_string()).unwrap_or(default_name);
            if slack_name.is_empty() {
                return Err(err(&at("slack_name"), &key_of("slack_name"), "must not be empty".into()));
            }
            let key = g.key.map(|s| s.trim().to_string()).unwrap_or_else(|| slack_name.to_lowercase());
            if key.is_empty() {
                return Err(err(&at("key"), &key_of("key"), "must not be empty".into()));
            }
            if let Some(prev) = keys.insert(key.clone(), i) {
                let f = if loc.line(&at("key")) != loc.line(&[Seg::Key("groups"), Seg::Index(i)]) { "key" } else { "slack_name" };
                return Err(err(&at(f), &key_of(f), format!("key {key:?} is already used by groups[{prev}]")));
            }
            if let Some(prev) = names.insert(slack_name.to_lowercase(), i) {
                let f = if loc.line(&at("slack_name")) != loc.line(&[Seg::Key("groups"), Seg::Index(i)]) { "slack_name" } else { "source" };
                return Err(err(&at(f), &key_of(f), format!("Slack group {slack_name:?} is already the target of groups[{prev}]")));
            }
            groups.push(GroupRule {
                source,
                slack_name,
                key,
                membership: g.membership.unwrap_or(Membership::Merge),
                line: loc.line(&[Seg::Key("groups"), Seg::Index(i)]),
            });
        }

        if is_ldap {
            let needs_groups = !scope_groups.is_empty() || !groups.is_empty();
            ldap_source(&s, &mut source, &attributes, &column_refs, needs_groups, path, &resolve, &err)?;
        }
        Ok(Policy { file: path.to_path_buf(), match_on, source, attributes, scope_groups, provisioning, groups, column_refs })
    }

    /// Check every column the policy names against the source header.
    pub fn check_source(&self, source: &Source) -> Result<(), PolicyError> {
        let unknown = |key: &str, col: &str, line: usize| PolicyError {
            file: self.file.clone(),
            line,
            key: key.to_string(),
            message: format!("unknown column `{col}` in {}", source.name),
            quote: Some(super::source::columns_excerpt(&source.headers)),
        };
        for (key, col, line) in &self.column_refs {
            if source.column(col).is_none() {
                return Err(unknown(key, col, *line));
            }
        }
        for m in &self.attributes {
            for col in m.template.columns() {
                if source.column(col).is_none() {
                    return Err(unknown(&format!("attributes.{}", m.attr.name()), col, m.line));
                }
            }
        }
        Ok(())
    }

    /// The mapping of an attribute, if any.
    pub fn mapping(&self, attr: Attr) -> Option<&Mapping> {
        self.attributes.iter().find(|m| m.attr == attr)
    }

    /// Read the source this policy names and check it against the policy. Blocks (an LDAP
    /// source is read on a helper thread); async code uses [`Policy::read_source_async`].
    pub fn read_source(&self) -> Result<Source, ReadSourceError> {
        let source = match &self.source.ldap {
            Some(spec) => ldap::read_blocking(spec)?,
            None => Source::read(&self.source.spec)?,
        };
        self.check_source(&source)?;
        Ok(source)
    }

    /// [`Policy::read_source`] without blocking the async workers: a file is read on the
    /// blocking pool, a directory over async LDAP.
    pub async fn read_source_async(&self) -> Result<Source, ReadSourceError> {
        let source = match &self.source.ldap {
            Some(spec) => ldap::read(spec).await?,
            None => {
                let spec = self.source.spec.clone();
                tokio::task::spawn_blocking(move || Source::read(&spec)).await.map_err(|e| ReadSourceError::Stopped(e.to_string()))??
            }
        };
        self.check_source(&source)?;
        Ok(source)
    }

    /// The deactivation ceiling for an org with `active_users` active users: the lower of the
    /// absolute and the percentage limit.
    pub fn deactivation_limit(&self, active_users: usize) -> u64 {
        let p = &self.provisioning;
        let abs = p.max_deactivations.unwrap_or(u64::MAX);
        let pct = p.max_deactivation_percent.map_or(u64::MAX, |pc| (active_users as f64 * pc / 100.0).floor() as u64);
        abs.min(pct)
    }

    /// Lowercased scope groups.
    pub fn scope_set(&self) -> HashSet<String> {
        self.scope_groups.iter().map(|g| g.to_lowercase()).collect()
    }
}

/// Whether `s` can name an LDAP attribute: a name (letters, digits, `-`, starting with a letter)
/// or a numeric OID, each with optional `;options`.
fn is_attribute_name(s: &str) -> bool {
    let mut parts = s.split(';');
    let name = parts.next().unwrap_or("");
    let descr = name.starts_with(|c: char| c.is_ascii_alphabetic()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let oid = !name.is_empty() && name.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    (descr || oid) && parts.all(|o| !o.is_empty() && o.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

fn is_computed_column(c: &str) -> bool {
    [ldap::DN_COLUMN, ldap::GROUPS_COLUMN, ldap::ENABLED_COLUMN].iter().any(|x| x.eq_ignore_ascii_case(c))
}

/// The `[provisioning]` table of a policy, checked (`mapped`: whether [attributes] maps an attribute).
fn parse_provisioning(
    p: RawProvisioning,
    mapped: &dyn Fn(Attr) -> bool,
    err: &dyn Fn(&[Seg], &str, String) -> PolicyError,
) -> Result<Provisioning, PolicyError> {
    if p.allow_create {
        for a in [Attr::UserName, Attr::Email] {
            if !mapped(a) {
                return Err(err(
                    &[Seg::Key("provisioning"), Seg::Key("allow_create")],
                    "provisioning.allow_create",
                    format!(
                        "creating users needs a `{}` mapping in [attributes] (Slack requires it); map it or set allow_create = false",
                        a.name()
                    ),
                ));
            }
        }
    }
    if let Some(pc) = p.max_deactivation_percent
        && !(0.0..=100.0).contains(&pc)
    {
        return Err(err(
            &[Seg::Key("provisioning"), Seg::Key("max_deactivation_percent")],
            "provisioning.max_deactivation_percent",
            format!("{pc} is not a percentage between 0 and 100"),
        ));
    }
    let ceilings = crate::queue::CeilingSettings {
        max_attribute_changes: p.max_attribute_changes,
        max_attribute_change_percent: p.max_attribute_change_percent,
        max_member_removals: p.max_member_removals,
        max_member_removal_percent: p.max_member_removal_percent,
        max_group_deletes: p.max_group_deletes,
        max_group_renames: p.max_group_renames,
        max_creates: p.max_creates,
    };
    if let Some((k, m)) = ceilings.bad_percent() {
        return Err(err(&[Seg::Key("provisioning"), Seg::Key(k)], &format!("provisioning.{k}"), m));
    }
    if let Some(pc) = p.max_source_drop_percent.filter(|pc| !(0.0..=100.0).contains(pc)) {
        return Err(err(
            &[Seg::Key("provisioning"), Seg::Key("max_source_drop_percent")],
            "provisioning.max_source_drop_percent",
            format!("{pc} is not a percentage between 0 and 100"),
        ));
    }
    let provisioning = Provisioning {
        allow_create: p.allow_create,
        allow_update: p.allow_update,
        allow_deprovision: p.allow_deprovision,
        provision_disabled_users: p.provision_disabled_users,
        remove_action: p.remove_action.unwrap_or(RemoveAction::Deactivate),
        max_deactivations: p.max_deactivations,
        max_deactivation_percent: match (p.max_deactivations, p.max_deactivation_percent) {
            (None, None) => Some(DEFAULT_MAX_DEACTIVATION_PERCENT),
            (_, pc) => pc,
        },
        deprovision_on_rule_removal: p.deprovision_on_rule_removal.unwrap_or(RuleRemoval::Deactivate),
        protected_users: p.protected_users.iter().map(|u| u.trim().to_lowercase()).collect(),
        custom_profile_fields: p.custom_profile_fields,
        ceilings,
        max_source_drop_percent: p.max_source_drop_percent.unwrap_or(DEFAULT_MAX_SOURCE_DROP_PERCENT),
    };
    if let Some(n) = provisioning.custom_profile_fields
        && n as usize > crate::scim::rules::CUSTOM_PROFILE_FIELDS_MAX
    {
        let segs = [Seg::Key("provisioning"), Seg::Key("custom_profile_fields")];
        return Err(err(
            &segs,
            "provisioning.custom_profile_fields",
            format!("{n} is over Slack's cap of {} custom profile fields", crate::scim::rules::CUSTOM_PROFILE_FIELDS_MAX),
        ));
    }
    Ok(provisioning)
}

/// Complete a `kind = "ldap"` source: the connection, the searches, and which attributes the
/// policy's columns need.
#[allow(clippy::too_many_arguments)]
fn ldap_source(
    s: &RawSource,
    source: &mut SourceConfig,
    attributes: &[Mapping],
    column_refs: &[(String, String, usize)],
    needs_groups: bool,
    file: &Path,
    resolve: &dyn Fn(&str) -> PathBuf,
    err: &dyn Fn(&[Seg], &str, String) -> PolicyError,
) -> Result<(), PolicyError> {
    let e = |k: &'static str, m: String| err(&[Seg::Key("source"), Seg::Key(k)], &format!("source.{k}"), m);
    let required = |k: &'static str, v: &Option<String>| -> Result<String, PolicyError> {
        match v {
            Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
            Some(_) => Err(e(k, "must not be empty".into())),
            None => Err(err(&[Seg::Key("source")], &format!("source.{k}"), format!("kind = \"ldap\" needs `{k}`"))),
        }
    };
    let url_text = required("url", &s.url)?;
    let url = url::Url::parse(&url_text).map_err(|x| e("url", format!("{url_text:?} is not a URL: {x}")))?;
    if url.scheme() != "ldap" && url.scheme() != "ldaps" {
        return Err(e(
            "url",
            format!("{url_text:?}: use ldaps://HOST, or ldap://HOST (StartTLS is then required unless HOST is loopback)"),
        ));
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(e("url", format!("{url_text:?} has no host")));
    };
    if !(url.path().is_empty() || url.path() == "/") || url.query().is_some() || !url.username().is_empty() {
        return Err(e("url", format!("{url_text:?}: give only scheme, host and port here; the search base goes in base_dn")));
    }
    let loopback = ldap::is_loopback_host(host);
    let starttls = match (url.scheme(), s.starttls) {
        ("ldaps", Some(true)) => return Err(e("starttls", "ldaps:// is TLS already; remove starttls".into())),
        ("ldaps", _) => false,
        (_, Some(false)) if !loopback => {
            return Err(e(
                "starttls",
                format!(
                    "an ldap:// connection to {host} must use StartTLS (the bind password would cross the network in clear); remove starttls = false, or use ldaps://"
                ),
            ));
        }
        (_, Some(v)) => v,
        (_, None) => !loopback,
    };
    let bind_dn = required("bind_dn", &s.bind_dn)?;
    let password = match (&s.password_command, &s.password_file) {
        (Some(_), Some(_)) => return Err(e("password_file", "set one of password_command and password_file".into())),
        (Some(_), None) => PasswordSource::Command(required("password_command", &s.password_command)?),
        (None, Some(_)) => PasswordSource::File(resolve(&required("password_file", &s.password_file)?)),
        (None, None) => {
            return Err(err(
                &[Seg::Key("source")],
                "source.password_command",
                "kind = \"ldap\" needs `password_command` or `password_file` (the password never goes in the policy)".into(),
            ));
        }
    };
    let base_dn = required("base_dn", &s.base_dn)?;
    let filter = |k: &'static str, v: String| -> Result<String, PolicyError> {
        if ldap3::parse_filter(&v).is_err() {
            return Err(e(k, format!("{v:?} is not an LDAP filter (RFC 4515), e.g. \"(objectClass=person)\"")));
        }
        Ok(v)
    };
    let user_filter = filter("user_filter", required("user_filter", &s.user_filter)?)?;
    let page_size = s.page_size.unwrap_or(ldap::DEFAULT_PAGE_SIZE);
    if page_size == 0 || page_size > i32::MAX as u32 {
        return Err(e("page_size", format!("{page_size} is not a page size (1 to {})", i32::MAX)));
    }
    let timeout = match s.timeout_seconds {
        None => ldap::DEFAULT_TIMEOUT,
        Some(t) if t.is_finite() && t > 0.0 && t <= 86_400.0 => std::time::Duration::from_secs_f64(t),
        Some(t) => return Err(e("timeout_seconds", format!("{t} is not a number of seconds between 0 and 86400"))),
    };
    let ca_file = s.ca_file.as_deref().map(resolve);

    // Which attributes the columns name.
    let bad_name = |key: &str, line: usize, col: &str| PolicyError {
        file: file.to_path_buf(),
        line,
        key: key.to_string(),
        message: format!("`{col}` is not an LDAP attribute name (letters, digits and `-`, starting with a letter; or an OID)"),
        quote: None,
    };
    let mut columns: Vec<String> = Vec::new();
    let add = |col: &str, columns: &mut Vec<String>| {
        if !is_computed_column(col) && !columns.iter().any(|c| c == col) {
            columns.push(col.to_string());
        }
    };
    for (key, col, line) in column_refs {
        if !is_computed_column(col) && !is_attribute_name(col) {
            return Err(bad_name(key, *line, col));
        }
        add(col, &mut columns);
    }
    let mut required_cols: Vec<String> = Vec::new();
    let mut dn_columns: Vec<String> = Vec::new();
    for m in attributes {
        for col in m.template.columns() {
            if !is_computed_column(col) && !is_attribute_name(col) {
                return Err(bad_name(&format!("attributes.{}", m.attr.name()), m.line, col));
            }
            add(col, &mut columns);
            if !is_computed_column(col) {
                required_cols.push(col.to_string());
                if m.attr == Attr::Manager {
                    dn_columns.push(col.to_string());
                }
            }
        }
    }
    if !is_computed_column(&source.id_column) {
        required_cols.push(source.id_column.clone());
    }
    required_cols.dedup();

    let disabled = match (&s.disabled_attribute, &s.disabled_values) {
        (None, Some(_)) => return Err(e("disabled_values", "needs `disabled_attribute`".into())),
        (None, None) => None,
        (Some(a), values) => {
            let a = a.trim().to_string();
            if !is_attribute_name(&a) {
                return Err(e("disabled_attribute", format!("`{a}` is not an LDAP attribute name")));
            }
            if source.status_column.is_some() {
                return Err(e("disabled_attribute", "set one of disabled_attribute and status_column".into()));
            }
            if a.eq_ignore_ascii_case("userAccountControl") {
                if values.is_some() {
                    return Err(e(
                        "disabled_values",
                        "userAccountControl is read as Active Directory's flags (bit 2, ACCOUNTDISABLE); remove disabled_values".into(),
                    ));
                }
                Some(Disabled::AccountControl { attribute: a })
            } else {
                let values: Vec<String> = values.iter().flatten().map(|v| v.trim().to_lowercase()).filter(|v| !v.is_empty()).collect();
                if values.is_empty() {
                    return Err(e("disabled_attribute", format!("needs `disabled_values`: the values of {a} that mean disabled")));
                }
                Some(Disabled::Values { attribute: a, values })
            }
        }
    };
    let uses_groups = needs_groups || attributes.iter().any(|m| m.template.columns().any(|c| c.eq_ignore_ascii_case(ldap::GROUPS_COLUMN)));
    let groups = if uses_groups {
        Some(GroupSpec {
            from: s.groups_from.unwrap_or(GroupsFrom::MemberOf),
            base_dn: match &s.group_base_dn {
                Some(_) => required("group_base_dn", &s.group_base_dn)?,
                None => base_dn.clone(),
            },
            filter: filter("group_filter", s.group_filter.clone().unwrap_or_else(|| ldap::DEFAULT_GROUP_FILTER.to_string()))?,
            nested: s.nested_groups.unwrap_or(true),
        })
    } else {
        None
    };
    if disabled.is_some() {
        source.status_column = Some(ldap::ENABLED_COLUMN.to_string());
        source.enabled_values = vec!["true".into()];
    }
    source.groups_column = Some(ldap::GROUPS_COLUMN.to_string());
    source.groups_separator = ldap::GROUPS_SEPARATOR.to_string();
    source.spec =
        SourceSpec { path: PathBuf::from(&url_text), format: None, array_separator: ldap::GROUPS_SEPARATOR.into(), memberships: None };
    source.ldap = Some(LdapSpec {
        url: url_text,
        starttls,
        ca_file,
        bind_dn,
        password,
        base_dn,
        user_filter,
        scope: s.search_scope.unwrap_or(SearchScope::Sub),
        columns,
        dn_columns,
        id_column: source.id_column.clone(),
        required: required_cols,
        disabled,
        groups,
        page_size,
        timeout,
    });
    Ok(())
}

fn toml_error(text: &str, path: &Path, e: &toml::de::Error) -> PolicyError {
    let line = e.span().map_or(1, |s| line_of(text, s.start));
    let message = e.message().trim().to_string();
    let named = message.split('`').nth(1).filter(|_| message.contains("field `")).map(str::to_string);
    let key = match named {
        Some(k) => {
            let table = table_at(text, line);
            let is_header = text.lines().nth(line - 1).is_some_and(|l| l.trim_start().starts_with('['));
            match table {
                // A missing field is reported at its table's header; an unknown one at itself.
                Some(t) if !t.is_empty() && (!is_header || message.starts_with("missing")) => format!("{t}.{k}"),
                _ => k,
            }
        }
        None => {
            let l = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
            let k = l.split('=').next().unwrap_or("").trim().trim_matches('"');
            let k = if l.contains('=') { k.to_string() } else { l.trim().to_string() };
            match table_at(text, line) {
                Some(t) if !t.is_empty() && !l.trim_start().starts_with('[') && !k.is_empty() => format!("{t}.{k}"),
                _ => k,
            }
        }
    };
    PolicyError { file: path.to_path_buf(), line, key, message, quote: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::types::User;

    const OK: &str = r#"
match_on = "email"
[source]
path = "hr.csv"
id_column = "id"
status_column = "status"
groups_column = "groups"
[attributes]
userName = "{email|local}"
"emails.work" = "email"
displayName = "{first} {last}"
[scope]
groups = ["staff"]
[[groups]]
source = "eng"
slack_name = "Engineering"
key = "grp-eng"
membership = "overwrite"
"#;

    fn parse(t: &str) -> Result<Policy, PolicyError> {
        Policy::parse(t, Path::new("/etc/p/policy.toml"))
    }

    #[test]
    fn parses_and_resolves_relative_paths() {
        let p = parse(OK).unwrap();
        assert_eq!(p.source.spec.path, Path::new("/etc/p/hr.csv"));
        assert_eq!(p.match_on, MatchOn::Email);
        assert_eq!(p.groups[0].membership, Membership::Overwrite);
        assert_eq!(p.groups[0].line, 14);
        assert_eq!(p.mapping(Attr::DisplayName).unwrap().line, 11);
        assert_eq!(p.provisioning.max_deactivation_percent, Some(10.0));
        assert_eq!(p.deactivation_limit(1000), 100);
        assert!(p.provisioning.allow_create);
    }

    #[test]
    fn templates_parse_and_reject_bad_syntax() {
        let t = Template::parse("{first} {{x}} {email|local|upper}").unwrap();
        assert_eq!(t.parts.len(), 3);
        assert_eq!(t.parts[1], Part::Lit(" {x} ".into()));
        assert_eq!(t.columns().collect::<Vec<_>>(), ["first", "email"]);
        assert_eq!(Template::parse("email").unwrap().columns().collect::<Vec<_>>(), ["email"]);
        assert!(Template::parse("{first").unwrap_err().to_string().contains("unclosed"));
        assert!(Template::parse("a}").unwrap_err().to_string().contains("unmatched"));
        assert!(Template::parse("{}").unwrap_err().to_string().contains("empty"));
        assert!(Template::parse("{x|shout}").unwrap_err().to_string().contains("unknown filter `shout`"));
    }

    #[test]
    fn errors_name_line_and_key() {
        let append = |extra: &str| format!("{OK}{extra}");
        let cases: Vec<(String, usize, &str)> = vec![
            (append("[provisioning]\nalow_create = true\n"), 20, "provisioning.alow_create"),
            (OK.replace("\"overwrite\"", "\"sometimes\""), 18, "groups.membership"),
            (OK.replace("{last}\"", "{last\""), 11, "attributes.displayName"),
            (OK.replace("displayName", "nickname"), 11, "attributes.nickname"),
            (append("[[groups]]\nsource = \"ops\"\nkey = \"grp-eng\"\n"), 21, "groups[1].key"),
            (append("[[groups]]\nsource = \"ops\"\nslack_name = \"engineering\"\n"), 21, "groups[1].slack_name"),
            (OK.replace("\"email\"\n[source]", "\"phone\"\n[source]"), 2, "match_on"),
            (OK.replace("match_on = \"email\"", "match_on = \"userName\"").replace("userName = \"{email|local}\"\n", ""), 2, "match_on"),
            (append("[provisioning]\nremove_action = \"delete\"\n"), 20, "provisioning.remove_action"),
            (append("[provisioning]\nmax_deactivation_percent = 150.0\n"), 20, "provisioning.max_deactivation_percent"),
            (OK.replace("groups_column = \"groups\"\n", ""), 12, "scope.groups"),
            (OK.replace("id_column = \"id\"\n", ""), 3, "source.id_column"),
            (OK.replace("path = \"hr.csv\"", "path = \"hr.csv"), 4, "source.path"),
        ];
        for (text, line, key) in cases {
            let e = parse(&text).expect_err(key);
            assert_eq!((e.line, e.key.as_str()), (line, key), "{e}\n{text}");
            assert!(e.to_string().starts_with(&format!("/etc/p/policy.toml:{line}: `{key}`: ")), "{e}");
        }
    }

    const LDAP: &str = r#"
[source]
kind = "ldap"
url = "ldaps://dc1.corp.example"
bind_dn = "CN=svc-scimitar,OU=Service,DC=corp,DC=example"
password_file = "ldap.pw"
base_dn = "OU=People,DC=corp,DC=example"
user_filter = "(&(objectCategory=person)(objectClass=user))"
id_column = "objectGUID"
disabled_attribute = "userAccountControl"
[attributes]
"emails.work" = "mail"
userName = "{sAMAccountName|lower}"
"enterprise.manager" = "manager"
[scope]
groups = ["CN=Slack Users, OU=Groups, DC=corp, DC=example"]
[[groups]]
source = "CN=Engineering,OU=Groups,DC=corp,DC=example"
"#;

    #[test]
    fn ldap_sources_parse_with_their_defaults() {
        let p = parse(LDAP).unwrap();
        let l = p.source.ldap.as_ref().unwrap();
        assert_eq!(l.url, "ldaps://dc1.corp.example");
        assert!(!l.starttls);
        assert_eq!(l.password, PasswordSource::File("/etc/p/ldap.pw".into()));
        assert_eq!(l.columns, ["objectGUID", "sAMAccountName", "mail", "manager"]);
        assert_eq!(l.dn_columns, ["manager"]);
        assert_eq!(l.disabled, Some(Disabled::AccountControl { attribute: "userAccountControl".into() }));
        let g = l.groups.as_ref().unwrap();
        assert_eq!((g.from, g.base_dn.as_str(), g.nested), (GroupsFrom::MemberOf, "OU=People,DC=corp,DC=example", true));
        assert_eq!((l.page_size, l.timeout), (ldap::DEFAULT_PAGE_SIZE, ldap::DEFAULT_TIMEOUT));
        assert_eq!(p.scope_groups, ["cn=slack users,ou=groups,dc=corp,dc=example"]);
        assert_eq!(p.groups[0].source, "cn=engineering,ou=groups,dc=corp,dc=example");
        assert_eq!(p.groups[0].slack_name, "Engineering");
        assert_eq!(p.source.status_column.as_deref(), Some("enabled"));
        assert_eq!(p.source.groups_column.as_deref(), Some("groups"));

        // ldap:// to another host gets StartTLS; to loopback it may go without.
        let p = parse(&LDAP.replace("ldaps://dc1.corp.example", "ldap://dc1.corp.example:389")).unwrap();
        assert!(p.source.ldap.unwrap().starttls);
        let p = parse(&LDAP.replace("ldaps://dc1.corp.example", "ldap://127.0.0.1:3890")).unwrap();
        assert!(!p.source.ldap.unwrap().starttls);
        // No groups in the policy: none are read.
        let p =
            parse(LDAP.replace("groups = [\"CN=Slack Users, OU=Groups, DC=corp, DC=example\"]", "").split("[[groups]]").next().unwrap())
                .unwrap();
        assert!(p.source.ldap.unwrap().groups.is_none());
    }

    #[test]
    fn ldap_errors_name_line_and_key() {
        let line_of = |text: &str, needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let cases: Vec<(String, &str, &str)> = vec![
            (LDAP.replace("ldaps://dc1.corp.example\"", "ldap://dc1.corp.example\"\nstarttls = false"), "starttls", "source.starttls"),
            (LDAP.replace("\"ldaps://dc1.corp.example\"", "\"ldaps://dc1.corp.example\"\nstarttls = true"), "starttls", "source.starttls"),
            (LDAP.replace("ldaps://dc1.corp.example", "https://dc1.corp.example"), "url =", "source.url"),
            (LDAP.replace("ldaps://dc1.corp.example", "ldaps://dc1.corp.example/dc=corp"), "url =", "source.url"),
            (LDAP.replace("kind = \"ldap\"", "kind = \"ldap\"\npath = \"x.csv\""), "path =", "source.path"),
            (LDAP.replace("kind = \"ldap\"\n", "path = \"x.csv\"\n"), "url =", "source.url"),
            (LDAP.replace("password_file = \"ldap.pw\"\n", ""), "[source]", "source.password_command"),
            (
                LDAP.replace("password_file = \"ldap.pw\"", "password_file = \"a\"\npassword_command = \"pass x\""),
                "password_file",
                "source.password_file",
            ),
            (LDAP.replace("(&(objectCategory=person)(objectClass=user))", "objectClass=user)"), "user_filter", "source.user_filter"),
            (
                LDAP.replace(
                    "disabled_attribute = \"userAccountControl\"",
                    "disabled_attribute = \"userAccountControl\"\ndisabled_values = [\"1\"]",
                ),
                "disabled_values",
                "source.disabled_values",
            ),
            (
                LDAP.replace("disabled_attribute = \"userAccountControl\"", "disabled_attribute = \"nsAccountLock\""),
                "disabled_attribute",
                "source.disabled_attribute",
            ),
            (
                LDAP.replace("\"emails.work\" = \"mail\"", "\"emails.work\" = \"mail\"\ndisplayName = \"{first name}\""),
                "displayName",
                "attributes.displayName",
            ),
            (LDAP.replace("base_dn = \"OU=People,DC=corp,DC=example\"\n", ""), "[source]", "source.base_dn"),
            (LDAP.replace("disabled_attribute = \"userAccountControl\"", "page_size = 0"), "page_size", "source.page_size"),
        ];
        for (text, at, key) in cases {
            let e = parse(&text).expect_err(key);
            assert_eq!((e.line, e.key.as_str()), (line_of(&text, at), key), "{e}\n{text}");
        }
        let e = parse(&LDAP.replace("ldaps://dc1.corp.example\"", "ldap://dc1.corp.example\"\nstarttls = false")).unwrap_err();
        assert!(e.message.contains("must use StartTLS"), "{e}");
    }

    #[test]
    fn user_name_normalisation() {
        assert_eq!(normalize_user_name(" Jane.Doe+x@Example.com"), "jane.doe_x");
        assert_eq!(normalize_user_name("a very long name that goes on"), "a_very_long_name_that");
    }

    #[test]
    fn attr_set_then_get_round_trips() {
        let mut u = User::default();
        for a in Attr::ALL {
            a.set(&mut u, Some(&format!("v-{}", a.name())));
        }
        for a in Attr::ALL {
            assert_eq!(a.get(&u), Some(format!("v-{}", a.name()).as_str()), "{a}");
            assert_eq!(Attr::parse(a.name()), Some(a));
        }
        Attr::Title.set(&mut u, None);
        assert_eq!(Attr::Title.get(&u), None);
        assert_eq!(u.title.as_deref(), Some(""));
    }
}
