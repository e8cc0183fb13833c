//! An LDAP / Active Directory source (`[source] kind = "ldap"`): the directory's user entries as
//! the same [`Source`] rows a CSV export gives, so the mapping, the plan and apply are unchanged.
//!
//! - Columns are attribute names, as the policy writes them (`mail`, `sAMAccountName`, `uid`,
//!   `givenName`, `sn`, `title`, `department`, `employeeNumber`, `manager`, ...). A multi-valued
//!   attribute gives its first value; a binary one (e.g. `objectGUID`) its lowercase hex. Three
//!   columns are computed: `dn` (the entry's DN), `groups` (every group the entry is in, nested
//!   ones followed, each as its CN and as its normalised DN) and `enabled` (`true`/`false`).
//! - Columns used by the `enterprise.manager` mapping hold DNs; each is resolved to the manager's
//!   row key (the `id_column` of the entry with that DN). A DN outside the search stays as it is
//!   and the plan warns that the manager is not in the source.
//! - Disabled: Active Directory's `userAccountControl` bit 2 (ACCOUNTDISABLE), or an attribute
//!   whose value (any case) is one of `disabled_values`.
//! - Groups: the users' `memberOf` (Active Directory; OpenLDAP's memberof overlay) or the groups'
//!   `member` / `uniqueMember` lists. Nested groups are followed through the groups' own
//!   `memberOf` or `member` values, with cycle protection.
//! - Both searches use the Paged Results control (RFC 2696) and stream: each page becomes compact
//!   rows before the next one is asked for, so 100,000 entries never sit in memory as LDAP
//!   entries. Every operation has a timeout; every failure names the server, the bind DN, the
//!   step and the LDAP result code.
//!
//! The password comes from `password_command` or a `password_file` no one else can read; it lives
//! in a [`Secret`] only until the bind and is never part of the spec, a message or `Debug`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::asn1::StructureTag;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope};
use serde::{Deserialize, Serialize};

use super::source::{Source, SourceRow};
use crate::scim::Secret;

/// The computed column holding the entry's DN.
pub const DN_COLUMN: &str = "dn";
/// The computed column holding the entry's groups (CN and normalised DN of each).
pub const GROUPS_COLUMN: &str = "groups";
/// The computed column holding `true` or `false`.
pub const ENABLED_COLUMN: &str = "enabled";
/// What separates the groups in [`GROUPS_COLUMN`] (no CN or DN holds a line break).
pub const GROUPS_SEPARATOR: &str = "\n";
/// Active Directory's ACCOUNTDISABLE bit of `userAccountControl`.
pub const ACCOUNTDISABLE: i64 = 0x2;

pub const DEFAULT_PAGE_SIZE: u32 = 500;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_GROUP_FILTER: &str = "(|(objectClass=group)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))";

/// Where the bind password comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordSource {
    /// Run with `sh -c`; stdout, trimmed, is the password.
    Command(String),
    /// A file no one but its owner can read (mode 0600 or stricter).
    File(PathBuf),
}

/// `sub` (the base and everything below it) or `one` (the base's children only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchScope {
    Sub,
    One,
}

/// Where group membership is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupsFrom {
    /// The user entries' `memberOf` (and, for nesting, the groups' own `memberOf`).
    #[serde(rename = "memberOf")]
    MemberOf,
    /// The groups' `member` lists.
    #[serde(rename = "member")]
    Member,
    /// The groups' `uniqueMember` lists (`groupOfUniqueNames`).
    #[serde(rename = "uniqueMember")]
    UniqueMember,
}

impl GroupsFrom {
    pub fn attribute(self) -> &'static str {
        match self {
            GroupsFrom::MemberOf => "memberOf",
            GroupsFrom::Member => "member",
            GroupsFrom::UniqueMember => "uniqueMember",
        }
    }
}

/// How the directory says an account is disabled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disabled {
    /// Active Directory: bit 2 (ACCOUNTDISABLE) of this integer attribute (`userAccountControl`).
    AccountControl { attribute: String },
    /// Disabled when any value of `attribute` equals one of `values` (lowercased).
    Values { attribute: String, values: Vec<String> },
}

/// How groups are read (only when the policy uses groups).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSpec {
    pub from: GroupsFrom,
    pub base_dn: String,
    pub filter: String,
    pub nested: bool,
}

/// The resolved LDAP `[source]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LdapSpec {
    /// `ldaps://host[:port]` or `ldap://host[:port]`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS (always on for hosts other than loopback).
    pub starttls: bool,
    /// Extra trusted CA certificates (PEM), besides the system's.
    pub ca_file: Option<PathBuf>,
    pub bind_dn: String,
    pub password: PasswordSource,
    pub base_dn: String,
    pub user_filter: String,
    pub scope: SearchScope,
    /// Attribute columns, as the policy names them (computed columns excluded).
    pub columns: Vec<String>,
    /// Columns holding DNs that are resolved to the referenced entry's `id_column` (the manager).
    pub dn_columns: Vec<String>,
    pub id_column: String,
    /// Columns that must have a value on at least one entry (a misspelt attribute, or one the
    /// bind DN may not read, would otherwise clear that attribute on every Slack user).
    pub required: Vec<String>,
    pub disabled: Option<Disabled>,
    pub groups: Option<GroupSpec>,
    pub page_size: u32,
    pub timeout: Duration,
}

impl LdapSpec {
    /// The name rows are reported under: the LDAP URL of the search base.
    pub fn source_name(&self) -> String {
        format!("{}/{}", self.url.trim_end_matches('/'), self.base_dn)
    }
}

/// What kind of failure, so the binary can choose an exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The password could not be had (file permissions, command failed).
    Config,
    /// The server could not be reached, TLS failed, or it did not answer in time.
    Unavailable,
    /// The bind was refused.
    Auth,
    /// The server refused or failed the search (no such base, size limit, access, bad filter).
    Server,
}

/// An LDAP failure, naming the server, the bind DN, the step and (when the server sent one) the
/// result code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("LDAP {server} (bind DN {bind_dn:?}): {step}: {detail}")]
pub struct LdapError {
    pub server: String,
    pub bind_dn: String,
    /// `password`, `connect`, `bind`, `search users under ...`, ...
    pub step: String,
    /// The LDAP result code, when the server sent one.
    pub code: Option<u32>,
    /// What happened (the code's name, the server's sanitised text, what to do).
    pub detail: String,
    pub kind: FailureKind,
}

/// The RFC 4511 name of an LDAP result code.
pub fn code_name(rc: u32) -> &'static str {
    match rc {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        33 => "aliasProblem",
        34 => "invalidDNSyntax",
        36 => "aliasDereferencingProblem",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        80 => "other",
        _ => "unknown result code",
    }
}

/// What to do about a result code, when there is something to say.
fn code_hint(rc: u32, text: &str) -> Option<String> {
    Some(match rc {
        49 => {
            // Active Directory says why in "data NNN" of its diagnostic text.
            let ad = text.split("data ").nth(1).map(|d| d.chars().take_while(|c| c.is_ascii_hexdigit()).collect::<String>());
            let why = match ad.as_deref() {
                Some("525") => "the bind DN does not exist",
                Some("52e") => "wrong password",
                Some("530") | Some("531") => "the account may not log on now or from here",
                Some("532") => "the password has expired",
                Some("533") => "the account is disabled",
                Some("701") => "the account has expired",
                Some("773") => "the password must be reset",
                Some("775") => "the account is locked out",
                _ => "check bind_dn and the password",
            };
            why.to_string()
        }
        32 => "no such entry; check base_dn (and group_base_dn)".into(),
        4 => "the server's size limit for this bind DN stops the read before the last entry; raise it for the bind DN (OpenLDAP: limits ... size.prtotal=unlimited; Active Directory: MaxPageSize is per page, paging continues) or narrow user_filter".into(),
        11 => "the server's administrative limit stopped the search; narrow user_filter or lower page_size".into(),
        3 => "the server's time limit stopped the search; raise it for the bind DN or narrow user_filter".into(),
        8 | 13 => "the server wants an encrypted connection: use ldaps:// or starttls = true".into(),
        50 => "the bind DN may not read these entries".into(),
        12 => "the server does not support paged results (RFC 2696)".into(),
        10 => "the base DN is held by another server (a referral); point url at that server, or use the Global Catalog (port 3268/3269) for a forest-wide search".into(),
        _ => return None,
    })
}

struct Ctx<'a> {
    spec: &'a LdapSpec,
}

impl Ctx<'_> {
    fn err(&self, step: &str, kind: FailureKind, detail: impl Into<String>) -> LdapError {
        LdapError {
            server: self.spec.url.clone(),
            bind_dn: self.spec.bind_dn.clone(),
            step: step.to_string(),
            code: None,
            detail: detail.into(),
            kind,
        }
    }

    /// An `ldap3` error at a step.
    fn ldap(&self, step: &str, e: ldap3::LdapError) -> LdapError {
        match e {
            ldap3::LdapError::LdapResult { result } => self.result(step, result.rc, &result.text, &result.matched),
            ldap3::LdapError::Timeout { .. } => self.err(
                step,
                FailureKind::Unavailable,
                format!("no answer within {} s (timeout_seconds)", self.spec.timeout.as_secs_f64()),
            ),
            ldap3::LdapError::Io { source } => self.err(step, FailureKind::Unavailable, crate::sanitize::clean(&source.to_string())),
            other => self.err(step, FailureKind::Unavailable, crate::sanitize::clean(&other.to_string())),
        }
    }

    fn result(&self, step: &str, rc: u32, text: &str, matched: &str) -> LdapError {
        let mut detail = format!("{} ({rc})", code_name(rc));
        let text = crate::sanitize::clean(text.trim());
        if !text.is_empty() {
            detail.push_str(&format!(": {text}"));
        }
        if rc == 32 && !matched.is_empty() {
            detail.push_str(&format!(" (the deepest existing entry is {:?})", crate::sanitize::clean(matched)));
        }
        if let Some(h) = code_hint(rc, &text) {
            detail.push_str(&format!("; {h}"));
        }
        let kind = match rc {
            49 | 48 | 7 => FailureKind::Auth,
            51 | 52 => FailureKind::Unavailable,
            _ => FailureKind::Server,
        };
        LdapError { code: Some(rc), ..self.err(step, kind, detail) }
    }
}

/// Why the directory's bind password could not be read. Never holds the password, nor the
/// command line or its output (either could carry it): the program name only.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password_command {shown} could not run: {source}")]
    CommandRun { shown: String, source: std::io::Error },
    #[error("password_command {shown} failed: exit status {status}")]
    CommandFailed { shown: String, status: std::process::ExitStatus },
    #[error("password_command {shown} printed nothing")]
    CommandEmpty { shown: String },
    #[error("cannot read password_file {}: {source}", .path.display())]
    FileRead { path: PathBuf, source: std::io::Error },
    #[error("password_file {p} is readable by group or others; run: chmod 600 {p}", p = .path.display())]
    FileOpen { path: PathBuf },
    #[error("password_file {} is empty", .path.display())]
    FileEmpty { path: PathBuf },
}

impl PasswordSource {
    /// Read the password. Never prints it, nor the command's stderr (it could echo it).
    pub async fn read(&self) -> Result<Secret, PasswordError> {
        match self {
            PasswordSource::File(path) => read_password_file(path),
            PasswordSource::Command(command) => {
                // Neither the command line (it may carry a credential) nor its output is shown:
                // the program name only, as for a token_command.
                let shown = crate::config::shown_command(command);
                let mut out = crate::child::tokio_command("sh")
                    .arg("-c")
                    .arg(command)
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .output()
                    .await
                    .map_err(|source| PasswordError::CommandRun { shown: shown.clone(), source })?;
                if !out.status.success() {
                    return Err(PasswordError::CommandFailed { shown, status: out.status });
                }
                let pw = Secret::new(String::from_utf8_lossy(&out.stdout).to_string());
                zeroize::Zeroize::zeroize(&mut out.stdout);
                if pw.is_empty() {
                    return Err(PasswordError::CommandEmpty { shown });
                }
                Ok(pw)
            }
        }
    }
}

/// A password file must not be readable by group or others (like the token file).
pub fn read_password_file(path: &Path) -> Result<Secret, PasswordError> {
    let read_err = |source| PasswordError::FileRead { path: path.to_path_buf(), source };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(read_err)?;
        if meta.permissions().mode() & 0o044 != 0 {
            return Err(PasswordError::FileOpen { path: path.to_path_buf() });
        }
    }
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    let pw = Secret::new(text);
    if pw.is_empty() {
        return Err(PasswordError::FileEmpty { path: path.to_path_buf() });
    }
    Ok(pw)
}

/// Whether a URL's host is this machine (StartTLS may then be left off).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A DN in one comparable form: lowercased, no spaces around `,`, `+` and `=` (escapes kept).
pub fn normalize_dn(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    let mut chars = dn.trim().chars();
    let mut skip_space = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push('\\');
                if let Some(n) = chars.next() {
                    out.extend(n.to_lowercase());
                }
                skip_space = false;
            }
            ',' | '+' | '=' => {
                while out.ends_with(' ') && !out.ends_with("\\ ") {
                    out.pop();
                }
                out.push(c);
                skip_space = true;
            }
            ' ' if skip_space => {}
            c => {
                out.extend(c.to_lowercase());
                skip_space = false;
            }
        }
    }
    out
}

/// The value of a DN's first RDN (`cn=Eng Team,ou=groups` -> `Eng Team`), unescaped.
pub fn first_rdn_value(dn: &str) -> String {
    let mut out = String::new();
    let mut in_value = false;
    let mut chars = dn.trim().chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next()
                    && in_value
                {
                    out.push(n);
                }
            }
            '=' if !in_value => in_value = true,
            ',' | '+' => break,
            c if in_value => out.push(c),
            _ => {}
        }
    }
    out.trim().to_string()
}

/// One search result entry: its DN and (attribute description, values) pairs. Parsed without
/// panicking (ldap3's `SearchEntry::construct` panics on a malformed entry).
struct Entry {
    dn: String,
    attrs: Vec<(String, Vec<Vec<u8>>)>,
}

fn parse_entry(tag: StructureTag) -> Option<Entry> {
    let mut parts = tag.match_id(4)?.expect_constructed()?.into_iter();
    let dn = String::from_utf8(parts.next()?.expect_primitive()?).ok()?;
    let mut attrs = Vec::new();
    for pa in parts.next()?.expect_constructed()? {
        let mut pa = pa.expect_constructed()?.into_iter();
        let name = String::from_utf8(pa.next()?.expect_primitive()?).ok()?;
        let values = pa.next()?.expect_constructed()?.into_iter().map(|v| v.expect_primitive()).collect::<Option<Vec<_>>>()?;
        attrs.push((name, values));
    }
    Some(Entry { dn, attrs })
}

fn text_of(v: &[u8]) -> String {
    match std::str::from_utf8(v) {
        Ok(s) => s.to_string(),
        Err(_) => hex::encode(v),
    }
}

/// The attribute name of a description (`member;range=0-1499` -> `member`), lowercased.
fn base_name(desc: &str) -> String {
    desc.split(';').next().unwrap_or(desc).to_ascii_lowercase()
}

/// Read every user entry the spec selects.
pub async fn read(spec: &LdapSpec) -> Result<Source, LdapError> {
    let cx = Ctx { spec };
    let password = spec.password.read().await.map_err(|m| cx.err("password", FailureKind::Config, m.to_string()))?;
    let mut ldap = connect(&cx).await?;
    let bound = ldap.with_timeout(spec.timeout).simple_bind(&spec.bind_dn, password.expose()).await;
    drop(password);
    let bound = bound.map_err(|e| cx.ldap("bind", e))?;
    if bound.rc != 0 {
        return Err(cx.result("bind", bound.rc, &bound.text, &bound.matched));
    }
    let groups = match &spec.groups {
        Some(g) => Some(read_groups(&cx, &mut ldap, g).await?),
        None => None,
    };
    let source = read_users(&cx, &mut ldap, groups.as_ref()).await;
    let _ = ldap.unbind().await;
    source
}

/// [`read`] from synchronous code (tests, `Policy::read_source`): on a helper thread with its
/// own runtime, so it works inside and outside an async context.
pub fn read_blocking(spec: &LdapSpec) -> Result<Source, LdapError> {
    let cx = Ctx { spec };
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| cx.err("start", FailureKind::Unavailable, e.to_string()))?;
            rt.block_on(read(spec))
        })
        .join()
        .unwrap_or_else(|_| Err(cx.err("read", FailureKind::Unavailable, "the reader stopped unexpectedly")))
    })
}

fn tls_config(cx: &Ctx) -> Result<Arc<rustls::ClientConfig>, LdapError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = &cx.spec.ca_file {
        use rustls::pki_types::pem::PemObject;
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| cx.err("TLS", FailureKind::Config, format!("ca_file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(cx.err("TLS", FailureKind::Config, format!("ca_file {} holds no certificate", path.display())));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| cx.err("TLS", FailureKind::Config, format!("ca_file {}: {e}", path.display())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| cx.err("TLS", FailureKind::Config, e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

async fn connect(cx: &Ctx<'_>) -> Result<Ldap, LdapError> {
    let spec = cx.spec;
    let step = if spec.starttls { "connect (StartTLS)" } else { "connect" };
    let mut settings = LdapConnSettings::new().set_conn_timeout(spec.timeout).set_starttls(spec.starttls);
    if spec.starttls || spec.url.to_ascii_lowercase().starts_with("ldaps:") {
        settings = settings.set_config(tls_config(cx)?);
    }
    let (conn, ldap) = LdapConnAsync::with_settings(settings, &spec.url).await.map_err(|e| cx.ldap(step, e))?;
    tokio::spawn(async move {
        let _ = conn.drive().await;
    });
    Ok(ldap)
}

/// The groups the directory has, as a graph.
#[derive(Default)]
struct GroupTable {
    /// Normalised DN -> index.
    index: HashMap<String, u32>,
    /// (CN, normalised DN) of each group.
    names: Vec<(String, String)>,
    /// The groups each group is directly a member of.
    parents: Vec<Vec<u32>>,
    /// `member` mode: normalised member DN -> the groups listing it.
    members_of: HashMap<String, Vec<u32>>,
    from: Option<GroupsFrom>,
    nested: bool,
}

impl GroupTable {
    fn intern(&mut self, dn_norm: String) -> u32 {
        if let Some(&i) = self.index.get(&dn_norm) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push((first_rdn_value(&dn_norm), dn_norm.clone()));
        self.parents.push(Vec::new());
        self.index.insert(dn_norm, i);
        i
    }

    /// Every group reachable from `direct` through parents; each at most once, cycles stop.
    fn closure(&self, direct: &[u32], memo: &mut [Option<Box<[u32]>>]) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for &d in direct {
            if !self.nested {
                out.push(d);
                continue;
            }
            if memo[d as usize].is_none() {
                let mut seen = vec![d];
                let mut stack = vec![d];
                while let Some(g) = stack.pop() {
                    for &p in &self.parents[g as usize] {
                        if !seen.contains(&p) {
                            seen.push(p);
                            stack.push(p);
                        }
                    }
                }
                memo[d as usize] = Some(seen.into_boxed_slice());
            }
            out.extend(memo[d as usize].as_deref().unwrap_or_default());
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// One search: the step it is named by in messages, and what it asks.
struct Query<'a> {
    step: &'a str,
    base: &'a str,
    scope: Scope,
    filter: &'a str,
    attrs: Vec<String>,
}

/// Run a paged, streaming search and hand each entry to `each`.
async fn paged_search(
    cx: &Ctx<'_>,
    ldap: &mut Ldap,
    q: Query<'_>,
    mut each: impl FnMut(Entry) -> Result<(), LdapError>,
) -> Result<(), LdapError> {
    let Query { step, base, scope, filter, attrs } = q;
    let page = i32::try_from(cx.spec.page_size).unwrap_or(i32::MAX);
    let adapters: Vec<Box<dyn Adapter<String, Vec<String>>>> = vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(page))];
    let mut stream = ldap
        .with_timeout(cx.spec.timeout)
        .streaming_search_with(adapters, base, scope, filter, attrs)
        .await
        .map_err(|e| cx.ldap(step, e))?;
    loop {
        match stream.next().await {
            Ok(Some(re)) => {
                let entry = parse_entry(re.0).ok_or_else(|| cx.err(step, FailureKind::Server, "the server sent a malformed entry"))?;
                if let Err(e) = each(entry) {
                    let _ = stream.finish().await;
                    return Err(e);
                }
            }
            Ok(None) => break,
            Err(e) => {
                let res = stream.finish().await;
                if res.rc != 0 {
                    return Err(cx.result(step, res.rc, &res.text, &res.matched));
                }
                return Err(cx.ldap(step, e));
            }
        }
    }
    let res = stream.finish().await;
    if res.rc != 0 {
        return Err(cx.result(step, res.rc, &res.text, &res.matched));
    }
    Ok(())
}

async fn read_groups(cx: &Ctx<'_>, ldap: &mut Ldap, g: &GroupSpec) -> Result<GroupTable, LdapError> {
    let step = format!("search groups under {:?} with {}", g.base_dn, g.filter);
    let link = match g.from {
        GroupsFrom::MemberOf => "memberof",
        GroupsFrom::Member => "member",
        GroupsFrom::UniqueMember => "uniquemember",
    };
    let mut table = GroupTable { from: Some(g.from), nested: g.nested, ..Default::default() };
    // memberOf mode: (group, parent DN) pairs, resolved once every group is known.
    let mut parent_dns: Vec<(u32, String)> = Vec::new();
    let attrs = vec!["cn".to_string(), g.from.attribute().to_string()];
    let q = Query { step: &step, base: &g.base_dn, scope: Scope::Subtree, filter: &g.filter, attrs };
    paged_search(cx, ldap, q, |e| {
        let me = table.intern(normalize_dn(&e.dn));
        for (desc, values) in e.attrs {
            let name = base_name(&desc);
            if name == "cn" {
                if let Some(v) = values.first() {
                    table.names[me as usize].0 = text_of(v);
                }
            } else if name == link {
                if desc.contains(';') && desc.to_ascii_lowercase().contains("range=") {
                    return Err(cx.err(
                        &step,
                        FailureKind::Server,
                        format!(
                            "group {:?} has more members than the server returns at once (ranged `{desc}`); use groups_from = \"memberOf\"",
                            crate::sanitize::clean(&e.dn)
                        ),
                    ));
                }
                for v in values {
                    let dn = normalize_dn(&text_of(&v));
                    if g.from == GroupsFrom::MemberOf {
                        parent_dns.push((me, dn));
                    } else {
                        table.members_of.entry(dn).or_default().push(me);
                    }
                }
            }
        }
        Ok(())
    })
    .await?;
    for (child, parent) in parent_dns {
        let p = table.intern(parent);
        table.parents[child as usize].push(p);
    }
    if g.from != GroupsFrom::MemberOf {
        for gi in 0..table.names.len() {
            if let Some(ps) = table.members_of.get(&table.names[gi].1) {
                table.parents[gi] = ps.clone();
            }
        }
    }
    Ok(table)
}

async fn read_users(cx: &Ctx<'_>, ldap: &mut Ldap, groups: Option<&GroupTable>) -> Result<Source, LdapError> {
    let spec = cx.spec;
    let step = format!("search users under {:?} with {}", spec.base_dn, spec.user_filter);
    let ncols = spec.columns.len();
    let (dn_i, groups_i, enabled_i) = (ncols, ncols + 1, ncols + 2);
    let mut headers = spec.columns.clone();
    headers.extend([DN_COLUMN, GROUPS_COLUMN, ENABLED_COLUMN].map(String::from));
    // Lowercased attribute name -> the columns it fills.
    let mut wanted: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, c) in spec.columns.iter().enumerate() {
        wanted.entry(c.to_ascii_lowercase()).or_default().push(i);
    }
    let mut attrs: Vec<String> = spec.columns.clone();
    let disabled_attr = match &spec.disabled {
        Some(Disabled::AccountControl { attribute } | Disabled::Values { attribute, .. }) => Some(attribute.to_ascii_lowercase()),
        None => None,
    };
    if let Some(Disabled::AccountControl { attribute } | Disabled::Values { attribute, .. }) = &spec.disabled {
        attrs.push(attribute.clone());
    }
    let member_of = groups.is_some_and(|g| g.from == Some(GroupsFrom::MemberOf));
    if member_of {
        attrs.push("memberOf".into());
    }
    if attrs.is_empty() {
        attrs.push("1.1".into()); // RFC 4511: no attributes
    }
    attrs.sort_by_key(|a| a.to_ascii_lowercase());
    attrs.dedup_by(|a, b| a.eq_ignore_ascii_case(b));

    let mut rows: Vec<SourceRow> = Vec::new();
    let mut values: Vec<String> = vec![String::new(); ncols + 3];
    let mut filled = vec![false; ncols];
    let q = Query { step: &step, base: &spec.base_dn, scope: scope_of(spec.scope), filter: &spec.user_filter, attrs };
    paged_search(cx, ldap, q, |e| {
        for v in values.iter_mut() {
            v.clear();
        }
        let mut enabled = true;
        let mut direct: Vec<String> = Vec::new();
        for (desc, vals) in &e.attrs {
            let name = base_name(desc);
            if let Some(cols) = wanted.get(&name)
                && let Some(first) = vals.first()
            {
                for &c in cols {
                    values[c] = text_of(first);
                    filled[c] = true;
                }
            }
            if disabled_attr.as_deref() == Some(name.as_str()) {
                match &spec.disabled {
                    Some(Disabled::AccountControl { attribute }) => {
                        for v in vals {
                            let t = text_of(v);
                            let n: i64 = t.trim().parse().map_err(|_| {
                                cx.err(
                                    &step,
                                    FailureKind::Server,
                                    format!(
                                        "entry {:?}: {attribute} {:?} is not a number",
                                        crate::sanitize::clean(&e.dn),
                                        crate::sanitize::clean(&t)
                                    ),
                                )
                            })?;
                            if n & ACCOUNTDISABLE != 0 {
                                enabled = false;
                            }
                        }
                    }
                    Some(Disabled::Values { values: off, .. }) => {
                        enabled &= !vals.iter().any(|v| off.contains(&text_of(v).trim().to_lowercase()));
                    }
                    None => {}
                }
            }
            if member_of && name == "memberof" {
                direct.extend(vals.iter().map(|v| normalize_dn(&text_of(v))));
            }
        }
        values[dn_i] = e.dn;
        values[groups_i] = direct.join(GROUPS_SEPARATOR);
        values[enabled_i] = if enabled { "true" } else { "false" }.into();
        rows.push(SourceRow::new(rows.len() + 1, &values));
        Ok(())
    })
    .await?;

    if !rows.is_empty()
        && let Some(c) = spec.required.iter().find(|c| spec.columns.iter().position(|x| x == *c).is_some_and(|i| !filled[i]))
    {
        return Err(cx.err(
            &step,
            FailureKind::Server,
            format!(
                "attribute `{c}` has no value on any of the {} entries read (misspelt, or not readable by the bind DN?); without it every Slack user's value would be cleared",
                rows.len()
            ),
        ));
    }

    // Second pass: managers' DNs to row keys, groups to their nested closure.
    let dn_cols: Vec<usize> = spec.dn_columns.iter().filter_map(|c| spec.columns.iter().position(|x| x == c)).collect();
    let id_i =
        headers.iter().position(|h| h == &spec.id_column).or_else(|| headers.iter().position(|h| h.eq_ignore_ascii_case(&spec.id_column)));
    let by_dn: HashMap<String, usize> =
        if dn_cols.is_empty() { HashMap::new() } else { rows.iter().enumerate().map(|(i, r)| (normalize_dn(r.get(dn_i)), i)).collect() };
    let mut memo: Vec<Option<Box<[u32]>>> = groups.map_or_else(Vec::new, |g| vec![None; g.names.len()]);
    let mut direct: Vec<u32> = Vec::new();
    // Rebuilt in place (one copy of the rows at a time); the id column never changes.
    let rebuild = !dn_cols.is_empty() || groups.is_some();
    for ri in (0..rows.len()).filter(|_| rebuild) {
        let r = &rows[ri];
        let mut vals: Vec<String> = (0..headers.len()).map(|i| r.get(i).to_string()).collect();
        for &c in &dn_cols {
            let v = r.get(c).trim();
            if v.is_empty() {
                continue;
            }
            if let (Some(&m), Some(id_i)) = (by_dn.get(&normalize_dn(v)), id_i) {
                let key = rows[m].get(id_i).trim();
                if !key.is_empty() {
                    vals[c] = key.to_string();
                }
            }
        }
        if let Some(g) = groups {
            direct.clear();
            if member_of {
                let mut outside: Vec<&str> = Vec::new();
                for dn in r.get(groups_i).split(GROUPS_SEPARATOR).filter(|s| !s.is_empty()) {
                    match g.index.get(dn) {
                        Some(&gi) => direct.push(gi),
                        // A group outside the group search: known by its DN only, not followed.
                        None => outside.push(dn),
                    }
                }
                vals[groups_i] = group_cell(g, &g.closure(&direct, &mut memo), &outside);
            } else {
                if let Some(gs) = g.members_of.get(&normalize_dn(r.get(dn_i))) {
                    direct.extend(gs);
                }
                vals[groups_i] = group_cell(g, &g.closure(&direct, &mut memo), &[]);
            }
        }
        let line = r.line;
        rows[ri] = SourceRow::new(line, &vals);
    }
    Ok(Source::new(spec.source_name(), headers, rows))
}

/// The groups cell: CN and normalised DN of each group, then groups known only by DN.
fn group_cell(g: &GroupTable, groups: &[u32], outside: &[&str]) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(groups.len() * 2 + outside.len() * 2);
    let named = groups.iter().map(|&gi| g.names[gi as usize].clone());
    let outside = outside.iter().map(|dn| (first_rdn_value(dn), dn.to_string()));
    for (cn, dn) in named.chain(outside) {
        if !cn.is_empty() {
            parts.push(cn);
        }
        parts.push(dn);
    }
    parts.join(GROUPS_SEPARATOR)
}

fn scope_of(s: SearchScope) -> Scope {
    match s {
        SearchScope::Sub => Scope::Subtree,
        SearchScope::One => Scope::OneLevel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_normalise_and_give_their_first_value() {
        assert_eq!(normalize_dn(" CN=Eng Team , OU=Groups,DC=Example, DC=com "), "cn=eng team,ou=groups,dc=example,dc=com");
        assert_eq!(normalize_dn("cn=a\\, b+uid=X,dc=x"), "cn=a\\, b+uid=x,dc=x");
        assert_eq!(first_rdn_value("CN=Eng Team,OU=Groups"), "Eng Team");
        assert_eq!(first_rdn_value("cn=Smith\\, Ann,ou=people"), "Smith, Ann");
        assert_eq!(first_rdn_value("ou=x"), "x");
    }

    #[test]
    fn common_directory_filters_parse() {
        for f in [
            "(&(objectCategory=person)(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
            "(memberOf:1.2.840.113556.1.4.1941:=CN=Slack,OU=Groups,DC=corp,DC=example)",
            "(|(objectClass=inetOrgPerson)(objectClass=posixAccount))",
            "(mail=*@corp.example)",
        ] {
            assert!(ldap3::parse_filter(f).is_ok(), "{f}");
        }
        assert!(ldap3::parse_filter("objectClass=user)").is_err());
    }

    #[test]
    fn loopback_hosts() {
        for h in ["localhost", "127.0.0.1", "127.9.9.9", "[::1]", "::1"] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in ["ldap.example.com", "10.0.0.1", "192.168.1.1", "[::2]"] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn result_codes_have_names_and_ad_reasons() {
        assert_eq!(code_name(49), "invalidCredentials");
        assert_eq!(code_name(32), "noSuchObject");
        assert_eq!(code_name(4), "sizeLimitExceeded");
        let h = code_hint(49, "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 533, v4563").unwrap();
        assert_eq!(h, "the account is disabled");
        assert_eq!(code_hint(49, "").unwrap(), "check bind_dn and the password");
    }

    #[test]
    fn nested_groups_follow_parents_and_stop_at_cycles() {
        let mut t = GroupTable { nested: true, ..Default::default() };
        let a = t.intern("cn=a".into());
        let b = t.intern("cn=b".into());
        let c = t.intern("cn=c".into());
        let d = t.intern("cn=d".into());
        t.parents[a as usize] = vec![b];
        t.parents[b as usize] = vec![c];
        t.parents[c as usize] = vec![a]; // a cycle
        let mut memo = vec![None; 4];
        assert_eq!(t.closure(&[a], &mut memo), [a, b, c]);
        assert_eq!(t.closure(&[d, a], &mut memo), [a, b, c, d]);
        t.nested = false;
        assert_eq!(t.closure(&[a], &mut vec![None; 4]), [a]);
    }

    #[test]
    fn password_files_readable_by_others_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "hunter2\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = read_password_file(&p).unwrap_err().to_string();
            assert!(e.contains("readable by group or others") && !e.contains("hunter2"), "{e}");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let pw = read_password_file(&p).unwrap();
        assert_eq!(pw.expose(), "hunter2");
        assert!(!format!("{pw:?} {pw}").contains("hunter2"));
    }
}
