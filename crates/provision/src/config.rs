//! The config file (`config.toml` in the user's config dir) and how a connection is resolved:
//! URL, API version and token from flags, environment and named profiles.
//!
//! ```toml
//! default_profile = "acme"
//!
//! [profiles.acme]
//! url = "https://api.slack.com/scim/v2/"
//! api = "v2"
//! token_command = "pass show slack/acme-scim"   # or token_file = "/home/me/.acme.token"
//! protected = ["ceo@acme.example", "W0FOUNDER1"]
//! max_deactivations = 100
//! max_attribute_changes = 500            # one attribute changed or cleared on more users holds a run
//! max_attribute_change_percent = 25.0    # ... or on more than this share of the users
//! max_member_removals = 200              # memberships removed in one run
//! max_member_removal_percent = 25.0      # share of one group's members removed in one run
//! max_group_deletes = 2
//! max_group_renames = 10
//! max_creates = 500
//!
//! [report]
//! retain_days = 400
//!
//! [ui]
//! theme = "default"
//! ```
//!
//! The token is looked for in this order: `--token-file`, `SLACK_SCIM_TOKEN`, the profile's
//! `token_command`, the profile's `token_file`. Token files must not be readable by group or
//! others. The token is held in a [`Secret`] that never prints.

use crate::scim::{ApiVersion, Secret};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub default_profile: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
    #[serde(default)]
    pub report: ReportConfig,
    #[serde(default)]
    pub ui: UiConfig,
    /// `[sync]`: alerts and the circuit breaker of `scimitar sync` (see `crate::sync`).
    #[serde(default)]
    pub sync: SyncConfig,
    /// `[store]`: where the journal, reports, sync state and the lease live (see `crate::store`).
    #[serde(default)]
    pub store: StoreConfig,
}

/// `[store]` in config.toml: SQLite in the data dir when `url` is unset; a shared PostgreSQL
/// server otherwise (`SCIMITAR_STORE_URL` overrides `url`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `postgres://USER@HOST:PORT/DB` (no password in it).
    pub url: Option<String>,
    /// An SQLite file shared by a team of OS accounts on one host (group-owned, 0660, in a
    /// setgid folder of the group); `url` wins when both are set.
    pub sqlite_shared: Option<PathBuf>,
    /// The database password, in an owner-only file (chmod 600).
    pub password_file: Option<PathBuf>,
    /// ... or printed by this command (`sh -c`).
    pub password_command: Option<String>,
    /// PEM certificates of a private CA that signed the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// `auto` (TLS to every host but loopback, the default), `require`, `off` (loopback only).
    pub tls: Option<String>,
    /// How long a writer's lease on an org lives without renewal (default `30s`): after a crash
    /// another writer may take over this long after the last renewal.
    pub lease_ttl: Option<String>,
    /// How long to wait for the store to answer a connection (default `10s`).
    pub connect_timeout: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub url: Option<String>,
    pub api: Option<ApiVersion>,
    pub token_file: Option<PathBuf>,
    pub token_command: Option<String>,
    /// Emails or ids that scimitar never changes.
    #[serde(default)]
    pub protected: Vec<String>,
    /// Per-run ceiling on deactivations (default 100).
    pub max_deactivations: Option<usize>,
    /// Per-run ceilings on the other kinds of change (`queue::gate::Ceilings`; the defaults there).
    /// Users one attribute may change or be cleared on (default 500) ...
    pub max_attribute_changes: Option<usize>,
    /// ... and the share of the users (percent, default 25).
    pub max_attribute_change_percent: Option<f64>,
    /// Group memberships removed in one run (default 200).
    pub max_member_removals: Option<usize>,
    /// Share of one group's members removed in one run (percent, default 25).
    pub max_member_removal_percent: Option<f64>,
    /// Groups deleted in one run (default 2).
    pub max_group_deletes: Option<usize>,
    /// Groups renamed in one run (default 10).
    pub max_group_renames: Option<usize>,
    /// Users created in one run (default 500).
    pub max_creates: Option<usize>,
    /// Multiply Slack's rate limits (only for emulators; real Slack is 1.0).
    pub rate_scale: Option<f64>,
    /// The part of Slack's org-wide rate table scimitar may use (0.05 to 1, default 1); less
    /// leaves a margin for other apps of the organisation.
    pub rate_share: Option<f64>,
    /// The Slack org this profile writes to, for the one-writer-per-org lease: profiles with
    /// the same `org` exclude each other. Unset: derived from the URL and a hash of the token
    /// (`store::lease::OrgKey`).
    pub org: Option<String>,
    /// Four-eyes: a batch that would deactivate or change more users than this waits in the
    /// store for another account's approval (`scimitar approvals`; `crate::approval`).
    pub approval_over: Option<usize>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    pub retain_days: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiConfig {
    pub theme: Option<String>,
    pub confirm_threshold: Option<usize>,
    /// `cache = false`: the console neither reads nor writes the local directory cache.
    pub cache: Option<bool>,
}

/// `[sync]` in config.toml: where `scimitar sync` sends its alerts and when its circuit breaker
/// trips. The webhook URL (a Slack incoming-webhook URL is a secret: anyone holding it can post)
/// and the alert command are never printed: `Debug` and every message show the URL's scheme and
/// host only, and the command's program name only.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// POST the JSON summary here (`https://`, or `http://` to a loopback address).
    pub webhook_url: Option<String>,
    /// ... or read the URL from this file (mode 0600, like a token file).
    pub webhook_url_file: Option<PathBuf>,
    /// Run this (`sh -c`) with the JSON summary on stdin.
    pub alert_command: Option<String>,
    /// When to alert: `"failure"`, `"quarantine"` (the default is both), `"run"` (every run).
    pub alert_on: Option<Vec<AlertOn>>,
    /// The breaker trips after this many operations in a row fail (default 5).
    pub max_consecutive_failures: Option<u32>,
    /// The breaker trips when active users fall this many below what the run's own operations
    /// explain (default 5).
    pub active_drop_tolerance: Option<usize>,
    /// How often the breaker counts active users while a run applies (default `30s`).
    pub check_active_every: Option<String>,
}

/// `[sync] alert_on` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertOn {
    Failure,
    Quarantine,
    Run,
}

impl std::fmt::Debug for SyncConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncConfig")
            .field("webhook_url", &self.webhook_url.as_deref().map(shown_url))
            .field("webhook_url_file", &self.webhook_url_file)
            .field("alert_command", &self.alert_command.as_deref().map(shown_command))
            .field("alert_on", &self.alert_on)
            .field("max_consecutive_failures", &self.max_consecutive_failures)
            .field("active_drop_tolerance", &self.active_drop_tolerance)
            .field("check_active_every", &self.check_active_every)
            .finish()
    }
}

/// Why a duration (`--deadline`, `lease_ttl`, `check_active_every`, ...) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("{0:?} is not a duration (e.g. 90s, 500ms, 2m, 1h)")]
    NotANumber(String),
    #[error("unknown unit {unit:?} in {text:?} (use ms, s, m or h)")]
    Unit { unit: String, text: String },
    #[error("{0:?} is out of range (1ms to 7 days)")]
    OutOfRange(String),
}

/// `90`, `90s`, `500ms`, `2m`, `1h` (a bare number is seconds); 1 ms to 7 days.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, DurationError> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| DurationError::NotANumber(s.to_string()))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        u => return Err(DurationError::Unit { unit: u.to_string(), text: s.to_string() }),
    };
    if !(0.001..=7.0 * 24.0 * 3600.0).contains(&secs) {
        return Err(DurationError::OutOfRange(s.to_string()));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("no profile named {0:?} in the config file (profiles: {1})")]
    NoProfile(String, String),
    #[error("no token: set SLACK_SCIM_TOKEN, pass --token-file FILE, or give the profile a token_command or token_file")]
    NoToken,
    #[error("token file {0} is readable by group or others; run: chmod 600 {0}")]
    TokenFileOpen(PathBuf),
    #[error("cannot read token file {path}: {source}")]
    TokenFile { path: PathBuf, source: std::io::Error },
    /// The command itself is not shown (it may carry a secret, e.g. `curl -u user:password …`):
    /// only its program name.
    #[error("the profile's token_command (`{program} …`) failed: {message}")]
    TokenCommand { program: String, message: String },
    /// The config file (or its folder) can be changed by other users; it can run commands
    /// (`token_command`, `alert_command`), so it is not used.
    #[error("{what} {} is {why}; it can run commands (token_command, alert_command), so it is not used; run: {fix}", path.display())]
    Unsafe { what: &'static str, path: PathBuf, why: String, fix: String },
    #[error("{0}")]
    Other(String),
}

impl Config {
    /// Load the config file; a missing file is an empty config. A file or folder others can
    /// write to is refused ([`check_not_writable_by_others`]).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            check_not_writable_by_others("config dir", dir)?;
        }
        check_not_writable_by_others("config file", path)?;
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => return Err(ConfigError::Read { path: path.into(), source }),
        };
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| error_line(text, s.start, e.message()));
            let message = match line {
                Some(l) => format!("line {l}: {}", e.message()),
                None => e.message().to_string(),
            };
            ConfigError::Parse { path: path.into(), message }
        })
    }

    pub fn retain_days(&self) -> Option<u32> {
        self.report.retain_days
    }

    pub fn profile(&self, name: Option<&str>) -> Result<(String, Profile), ConfigError> {
        let name = name.map(str::to_string).or_else(|| self.default_profile.clone());
        match name {
            None => Ok(("default".into(), self.profiles.get("default").cloned().unwrap_or_default())),
            Some(n) => match self.profiles.get(&n) {
                Some(p) => Ok((n, p.clone())),
                None if n == "default" => Ok((n, Profile::default())),
                None => Err(ConfigError::NoProfile(n, self.profiles.keys().cloned().collect::<Vec<_>>().join(", "))),
            },
        }
    }
}

/// The 1-based line of a TOML error. For an unknown field, serde points at the enclosing table,
/// so we look for the key itself from there on.
pub fn error_line(text: &str, offset: usize, message: &str) -> usize {
    let offset = offset.min(text.len());
    let line_of = |off: usize| text[..off].matches('\n').count() + 1;
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some(key) = rest.split('`').next()
    {
        let mut pos = offset;
        for line in text[offset..].split_inclusive('\n') {
            let t = line.trim_start();
            if let Some(after) = t.strip_prefix(key)
                && after.trim_start().starts_with('=')
            {
                return line_of(pos);
            }
            pos += line.len();
        }
    }
    line_of(offset)
}

/// Refuse a file or folder (if it exists) that anyone may write to, or that another user (not
/// root) owns: whoever can change the config can make scimitar run their commands with the
/// token at hand. The message gives the fix. (Group-writable is allowed: with per-user groups,
/// the usual umask 002 makes every file so.)
pub fn check_not_writable_by_others(what: &'static str, path: &Path) -> Result<(), ConfigError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(path) else { return Ok(()) };
        let shown = path.display().to_string();
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me && meta.uid() != 0 {
            return Err(ConfigError::Unsafe {
                what,
                path: path.into(),
                why: format!("owned by another user (uid {})", meta.uid()),
                fix: format!("chown {me} {shown}"),
            });
        }
        if meta.mode() & 0o002 != 0 {
            return Err(ConfigError::Unsafe {
                what,
                path: path.into(),
                why: "writable by anyone".into(),
                fix: format!("chmod o-w {shown}"),
            });
        }
    }
    Ok(())
}

/// Read a token file, refusing one that group or others can read.
pub fn read_token_file(path: &Path) -> Result<Secret, ConfigError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|source| ConfigError::TokenFile { path: path.into(), source })?;
        if meta.permissions().mode() & 0o044 != 0 {
            return Err(ConfigError::TokenFileOpen(path.into()));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::TokenFile { path: path.into(), source })?;
    let token = Secret::new(text);
    if token.is_empty() {
        return Err(ConfigError::Other(format!("token file {} is empty", path.display())));
    }
    Ok(token)
}

fn run_token_command(command: &str) -> Result<Secret, ConfigError> {
    let program: String = crate::scim::sanitize::clean(command.split_whitespace().next().unwrap_or("")).chars().take(40).collect();
    let fail = |message: String| ConfigError::TokenCommand { program: program.clone(), message };
    let mut out = crate::child::command("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        // Neither the command line nor its output is shown: either could hold the secret.
        return Err(fail(format!("exit status {}", out.status)));
    }
    let token = Secret::new(String::from_utf8_lossy(&out.stdout).to_string());
    zeroize::Zeroize::zeroize(&mut out.stdout);
    if token.is_empty() {
        return Err(fail("printed nothing".into()));
    }
    Ok(token)
}

/// Where the token comes from, in order of precedence.
pub fn resolve_token(token_file: Option<&Path>, env_token: Option<Secret>, profile: &Profile) -> Result<Secret, ConfigError> {
    if let Some(p) = token_file {
        return read_token_file(p);
    }
    if let Some(t) = env_token.filter(|t| !t.is_empty()) {
        return Ok(t);
    }
    if let Some(c) = &profile.token_command {
        return run_token_command(c);
    }
    if let Some(p) = &profile.token_file {
        return read_token_file(p);
    }
    Err(ConfigError::NoToken)
}

/// The default Slack SCIM URL for a version.
pub fn default_url(version: ApiVersion) -> String {
    format!("https://api.slack.com/scim/{}/", version.path_segment())
}

/// Guess the version from a URL's path (`…/scim/v1/` is v1).
pub fn version_from_url(url: &str) -> Option<ApiVersion> {
    let path = url::Url::parse(url).ok()?.path().to_ascii_lowercase();
    if path.contains("/v1") {
        Some(ApiVersion::V1)
    } else if path.contains("/v2") {
        Some(ApiVersion::V2)
    } else {
        None
    }
}

/// The URL as messages may show it: scheme and host, never the path or query (which carry the
/// secret of a Slack webhook).
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(u) => match u.host_str() {
            Some(h) => match u.port() {
                Some(p) => format!("{}://{h}:{p}/…", u.scheme()),
                None => format!("{}://{h}/…", u.scheme()),
            },
            None => format!("{}:…", u.scheme()),
        },
        Err(_) => "(not a URL)".into(),
    }
}

/// A command as messages may show it: its program name only.
pub fn shown_command(command: &str) -> String {
    let program: String = crate::scim::sanitize::clean(command.split_whitespace().next().unwrap_or("")).chars().take(40).collect();
    format!("`{program} …`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_line() {
        let e = Config::parse("default_profile = \"a\"\n\n[profiles.a]\nurl = 3\n", Path::new("/x/config.toml")).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("/x/config.toml") && s.contains("line 4"), "{s}");
        let e = Config::parse("[profiles.a]\ntokn = \"x\"\n", Path::new("c.toml")).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("tokn"), "{e}");
    }

    #[test]
    fn profiles() {
        let c =
            Config::parse("default_profile = \"b\"\n[profiles.b]\nurl = \"https://x.example/scim/v1/\"\napi = \"v1\"\n", Path::new("c"))
                .unwrap();
        let (n, p) = c.profile(None).unwrap();
        assert_eq!(n, "b");
        assert_eq!(p.api, Some(ApiVersion::V1));
        assert!(c.profile(Some("zzz")).unwrap_err().to_string().contains("zzz"));
    }

    #[cfg(unix)]
    #[test]
    fn token_file_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tok");
        std::fs::write(&p, "xoxp-secret\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_token_file(&p).unwrap_err().to_string();
        assert!(e.contains("chmod 600") && !e.contains("xoxp"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_token_file(&p).unwrap().expose(), "xoxp-secret");
    }

    #[cfg(unix)]
    #[test]
    fn a_config_others_can_write_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.toml");
        std::fs::write(&cfg, "[sync]\nalert_command = \"x\"\n").unwrap();
        assert!(Config::load(&cfg).is_ok());
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = Config::load(&cfg).unwrap_err().to_string();
        assert!(e.contains("writable by anyone") && e.contains(&format!("chmod o-w {}", cfg.display())), "{e}");
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert!(Config::load(&cfg).is_ok(), "group-writable is allowed");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = Config::load(&cfg).unwrap_err().to_string();
        assert!(e.contains("config dir") && e.contains(&format!("chmod o-w {}", dir.path().display())), "{e}");
        // Even with no config file yet: one could be planted.
        std::fs::remove_file(&cfg).unwrap();
        assert!(Config::load(&cfg).is_err());
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(Config::load(&cfg).is_ok());
    }

    #[test]
    fn a_failing_token_command_is_not_printed() {
        let p = Profile {
            token_command: Some("curl -u admin:hunter2-secret https://vault.example/token; exit 3".into()),
            ..Default::default()
        };
        let e = resolve_token(None, None, &p).unwrap_err().to_string();
        assert!(e.contains("`curl …`") && e.contains("exit status"), "{e}");
        assert!(!e.contains("hunter2") && !e.contains("vault"), "{e}");
    }

    #[test]
    fn precedence() {
        let p = Profile { token_command: Some("echo from-command".into()), ..Default::default() };
        assert_eq!(resolve_token(None, Some(Secret::new("from-env")), &p).unwrap().expose(), "from-env");
        assert_eq!(resolve_token(None, None, &p).unwrap().expose(), "from-command");
        assert!(matches!(resolve_token(None, None, &Profile::default()), Err(ConfigError::NoToken)));
    }
}
