//! The environment: everything a run takes from outside (paths, the config file, the profile, the
//! connection, the safety settings, who is running it, the database), resolved once at the edge
//! and passed down.
//!
//! Flags and environment variables are read by the front end only, into [`Inputs`]; nothing in
//! this crate reads an environment variable. [`Environment::load`] reads the config file and picks
//! the profile; the SCIM client (which needs the token) and the journal are built on first use, at
//! most once, so commands that never talk to Slack (`report`, `plan` of a broken policy) never
//! need a token.
//!
//! ## Where files live
//! - config dir: `config.toml`, `policies/`, `themes/`. The platform's config dir
//!   (`$XDG_CONFIG_HOME/scimitar`), or `SCIMITAR_CONFIG_DIR`, or the folder of `--config FILE`.
//! - data dir: `scimitar.db` (journal and reports), `policy-state/`, report exports. The platform's
//!   data dir, or `SCIMITAR_DATA_DIR`. When the config dir is moved (by `SCIMITAR_CONFIG_DIR` or
//!   `--config`) and no data dir is given, the data dir is `data/` inside it: one root holds
//!   everything.

use crate::config::{self, Config, ConfigError, Profile};
use crate::queue::{Journal, RunContext, Safety};
use crate::store::{Holder, Lease, LeaseError, Location, OrgKey, Store, StoreError};
use scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, ScimError, Secret};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// What the front end read from its flags and the process environment: the only input of
/// [`Environment::load`].
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// `--config FILE` / `SCIMITAR_CONFIG`: the config file; its folder is the config dir.
    pub config_file: Option<PathBuf>,
    /// `SCIMITAR_CONFIG_DIR`.
    pub config_dir: Option<PathBuf>,
    /// `SCIMITAR_DATA_DIR` (the demo passes a private temporary folder).
    pub data_dir: Option<PathBuf>,
    /// `--profile` / `SCIMITAR_PROFILE`.
    pub profile: Option<String>,
    /// `--url` / `SCIMITAR_URL`.
    pub url: Option<String>,
    /// `--api` / `SCIMITAR_API`.
    pub api: Option<ApiVersion>,
    /// `--token-file`.
    pub token_file: Option<PathBuf>,
    /// `SLACK_SCIM_TOKEN`.
    pub env_token: Option<Secret>,
    /// `--throttle off`.
    pub throttle_off: bool,
    /// `--throttle-scale`.
    pub throttle_scale: Option<f64>,
    /// `--read-only`: every write is refused.
    pub read_only: bool,
    /// `--deadline`: how long a whole read command (or a write command's lookups) may take.
    pub deadline: Option<std::time::Duration>,
    /// `--op-deadline`: one SCIM call with all its retries and waits.
    pub op_deadline: Option<std::time::Duration>,
    /// `--request-timeout`: one HTTP request.
    pub request_timeout: Option<std::time::Duration>,
    /// `--server`: the server profile (default: detected).
    pub server: Option<scim::ServerChoice>,
    /// The most list pages in flight (the front end's choice: the console fetches the whole
    /// directory at once and wants it fast; a headless listing streams and keeps memory flat).
    /// Default: [`scim::client::DEFAULT_LIST_CONCURRENCY`].
    pub list_concurrency: Option<usize>,
    /// Who runs this process (stamped on every report record).
    pub actor: Actor,
    /// `SCIMITAR_STORE_URL`: the store (overrides `[store] url`).
    pub store_url: Option<String>,
    /// Names of the process's environment variables that hold secrets
    /// ([`crate::child::is_secret_variable`]): removed from every child process's environment.
    pub secret_variables: Vec<std::ffi::OsString>,
}

pub use crate::report::Actor;

/// Where scimitar's files are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub config_file: PathBuf,
    pub data_dir: PathBuf,
    /// Where exports go when not in the data dir (the demo's data dir is removed on quit, so its
    /// exports go to the real one's `exports/`).
    pub exports: Option<PathBuf>,
    /// Where new policies are written when not in the config dir (the demo's go to its own
    /// data dir: a policy made in the demo never lands in the real config folder).
    pub policies: Option<PathBuf>,
}

fn project() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "scimitar")
}

impl Paths {
    /// The platform's defaults (`directories`), overridden by the inputs (see the module docs).
    pub fn resolve(inputs: &Inputs) -> Paths {
        let default_config = project().map(|p| p.config_dir().to_path_buf()).unwrap_or_else(|| PathBuf::from(".scimitar"));
        let default_data = project().map(|p| p.data_dir().to_path_buf()).unwrap_or_else(|| PathBuf::from(".scimitar"));
        let config_dir = match (&inputs.config_file, &inputs.config_dir) {
            (Some(f), _) => f.parent().filter(|p| !p.as_os_str().is_empty()).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(".")),
            (None, Some(d)) => d.clone(),
            (None, None) => default_config.clone(),
        };
        let config_file = inputs.config_file.clone().unwrap_or_else(|| config_dir.join("config.toml"));
        let data_dir = match &inputs.data_dir {
            Some(d) => d.clone(),
            None if config_dir != default_config => config_dir.join("data"),
            None => default_data,
        };
        Paths { config_dir, config_file, data_dir, exports: None, policies: None }
    }

    /// Everything under one folder (tests, the demo).
    pub fn under(root: &Path) -> Paths {
        Paths {
            config_dir: root.to_path_buf(),
            config_file: root.join("config.toml"),
            data_dir: root.join("data"),
            exports: None,
            policies: None,
        }
    }

    /// Named policies: `policies/NAME.toml` in the config dir.
    pub fn policies_dir(&self) -> PathBuf {
        self.config_dir.join("policies")
    }

    /// Where a new policy is written (`n` in the Policies pane): the policies dir, unless set
    /// apart (the demo's own).
    pub fn new_policies_dir(&self) -> PathBuf {
        self.policies.clone().unwrap_or_else(|| self.policies_dir())
    }

    /// User themes: `themes/NAME.toml` in the config dir.
    pub fn themes_dir(&self) -> PathBuf {
        self.config_dir.join("themes")
    }

    /// The SQLite database holding the action journal and the provisioning reports (the
    /// default store; see [`Environment::store_location`]).
    pub fn database(&self) -> PathBuf {
        self.data_dir.join("scimitar.db")
    }

    /// Saved state of earlier policy applies.
    pub fn state_dir(&self) -> PathBuf {
        self.data_dir.join("policy-state")
    }

    /// Where the console writes its exports (report CSVs): the data dir, unless set apart.
    pub fn exports_dir(&self) -> PathBuf {
        self.exports.clone().unwrap_or_else(|| self.data_dir.clone())
    }
}

/// Why the environment could not be built, or a part of it could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Scim(#[from] ScimError),
    #[error("--throttle-scale must be between {lo} and {hi}, not {0}", lo = scim::client::RATE_SCALE_RANGE.start(), hi = scim::client::RATE_SCALE_RANGE.end())]
    ThrottleScale(f64),
    #[error("cannot open the journal: {0}")]
    Journal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lease(#[from] LeaseError),
}

/// Everything a run needs, resolved once.
pub struct Environment {
    pub paths: Paths,
    pub config: Config,
    pub profile_name: String,
    pub profile: Profile,
    /// The gate's rules: the profile's (protected users, the ceiling) and `--read-only`; `force`
    /// is per command.
    pub safety: Safety,
    /// `--read-only`: every write is refused.
    pub read_only: bool,
    /// `--deadline` (see [`Inputs::deadline`]).
    pub deadline: Option<std::time::Duration>,
    pub actor: Actor,
    inputs: Inputs,
    client: OnceLock<ScimClient>,
    journal: OnceLock<Arc<Journal>>,
    store: OnceLock<Store>,
    org: OnceLock<OrgKey>,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("paths", &self.paths)
            .field("profile", &self.profile_name)
            .field("read_only", &self.read_only)
            .field("actor", &self.actor)
            .field("connected", &self.client.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Environment {
    /// Read the config file and pick the profile. Nothing is connected yet.
    pub fn load(inputs: Inputs) -> Result<Environment, EnvError> {
        let paths = Paths::resolve(&inputs);
        let config = Config::load(&paths.config_file)?;
        Self::with_config(inputs, paths, config)
    }

    /// As [`Environment::load`] with the paths and config already known.
    pub fn with_config(inputs: Inputs, paths: Paths, config: Config) -> Result<Environment, EnvError> {
        let (profile_name, profile) = config.profile(inputs.profile.as_deref())?;
        if let Some(s) = inputs.throttle_scale.or(profile.rate_scale)
            && !scim::client::RATE_SCALE_RANGE.contains(&s)
        {
            return Err(EnvError::ThrottleScale(s));
        }
        for (key, pc) in [
            ("max_attribute_change_percent", profile.max_attribute_change_percent),
            ("max_member_removal_percent", profile.max_member_removal_percent),
        ] {
            if let Some(pc) = pc.filter(|pc| !(0.0..=100.0).contains(pc)) {
                return Err(EnvError::Config(ConfigError::Other(format!(
                    "config file {}: profile {profile_name:?}: {key} = {pc} is not a percentage between 0 and 100",
                    paths.config_file.display()
                ))));
            }
        }
        let safety = Safety::from_profile(&profile, false).with_read_only(inputs.read_only);
        crate::child::forbid(inputs.secret_variables.iter().cloned());
        Ok(Environment {
            paths,
            config,
            profile_name,
            profile,
            safety,
            read_only: inputs.read_only,
            deadline: inputs.deadline,
            actor: inputs.actor.clone(),
            inputs,
            client: OnceLock::new(),
            journal: OnceLock::new(),
            store: OnceLock::new(),
            org: OnceLock::new(),
        })
    }

    /// Use this client instead of one built from the profile (the demo's embedded emulator).
    pub fn with_client(self, client: ScimClient) -> Environment {
        let cell = OnceLock::new();
        let _ = cell.set(client);
        Environment { client: cell, ..self }
    }

    /// The URL and API version the profile and flags point at.
    pub fn target(&self) -> (String, ApiVersion) {
        let url = self.inputs.url.clone().or_else(|| self.profile.url.clone());
        let version =
            self.inputs.api.or(self.profile.api).or_else(|| url.as_deref().and_then(config::version_from_url)).unwrap_or_default();
        let url = url.unwrap_or_else(|| config::default_url(version));
        (url, version)
    }

    fn build_client(&self) -> Result<ScimClient, EnvError> {
        let (url, version) = self.target();
        let token = config::resolve_token(self.inputs.token_file.as_deref(), self.inputs.env_token.clone(), &self.profile)?;
        let _ = self.org.set(OrgKey::of(self.profile.org.as_deref(), &url, token.expose()));
        let mut cc = ClientConfig::new(&url, token, version)?;
        let scale = self.inputs.throttle_scale.or(self.profile.rate_scale).unwrap_or(1.0);
        cc.rate_limit = if self.inputs.throttle_off { RateLimit::Off } else { RateLimit::Slack { scale } };
        if let Some(share) = self.profile.rate_share {
            cc.rate_share = share;
        }
        if let Some(d) = self.inputs.op_deadline {
            cc.op_deadline = d;
        }
        if let Some(d) = self.inputs.request_timeout {
            cc.timeout = d;
        }
        if let Some(s) = self.inputs.server {
            cc.server = s;
        }
        if let Some(n) = self.inputs.list_concurrency {
            cc.list_concurrency = n.max(1);
        }
        Ok(ScimClient::new(cc)?)
    }

    /// The SCIM client: built on first use (resolving the token), the same one afterwards. (A
    /// failure is not kept: the next call tries again.)
    pub fn client(&self) -> Result<&ScimClient, EnvError> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let c = self.build_client()?;
        Ok(self.client.get_or_init(|| c))
    }

    /// Who runs this, against what (for the journal and the reports).
    pub fn run_context(&self, host: &str) -> RunContext {
        RunContext::new(&self.profile_name, host, &self.actor)
    }

    /// The journal in the store: opened on first use, the same one afterwards. (Unfenced: a
    /// front end that writes takes the org's lease and uses [`Journal::fenced`].)
    pub fn journal(&self) -> Result<Arc<Journal>, EnvError> {
        if let Some(j) = self.journal.get() {
            return Ok(j.clone());
        }
        let host = self.client()?.host();
        let store = self.store().map_err(|e| EnvError::Journal(format!("{e:#}")))?;
        let j = Journal::on(store, self.run_context(&host));
        Ok(self.journal.get_or_init(|| Arc::new(j)).clone())
    }

    /// Where the store is: `SCIMITAR_STORE_URL`, else `[store] url`, else the SQLite file in the
    /// data dir.
    pub fn store_location(&self) -> Result<Location, EnvError> {
        let sc = &self.config.store;
        let Some(url) = self.inputs.store_url.clone().or_else(|| sc.url.clone()).filter(|u| !u.trim().is_empty()) else {
            if let Some(p) = &sc.sqlite_shared {
                return Ok(Location::SharedSqlite(p.clone()));
            }
            return Ok(Location::Sqlite(self.paths.database()));
        };
        self.postgres_at(&url)
    }

    /// The PostgreSQL store at `url`, with `[store]`'s password, TLS and timeout settings
    /// (`store migrate --to URL`).
    pub fn postgres_at(&self, url: &str) -> Result<Location, EnvError> {
        let sc = &self.config.store;
        let bad = |m: String| EnvError::Store(StoreError::Config(m));
        let mut cfg = crate::store::pg::PgConfig::parse(url)?;
        cfg.password = match (&sc.password_file, &sc.password_command) {
            (Some(_), Some(_)) => return Err(bad("[store]: set one of password_file and password_command".into())),
            (Some(f), None) => crate::store::pg::Password::File(f.clone()),
            (None, Some(c)) => crate::store::pg::Password::Command(c.clone()),
            (None, None) => crate::store::pg::Password::None,
        };
        cfg.ca_file = sc.ca_file.clone();
        cfg.tls = match sc.tls.as_deref().map(str::trim) {
            None | Some("auto") => crate::store::pg::TlsMode::Auto,
            Some("require") => crate::store::pg::TlsMode::Require,
            Some("off") => crate::store::pg::TlsMode::Off,
            Some(other) => return Err(bad(format!("[store] tls = {other:?}: expected auto, require or off"))),
        };
        if let Some(t) = &sc.connect_timeout {
            cfg.connect_timeout = config::parse_duration(t).map_err(|e| bad(format!("[store] connect_timeout: {e}")))?;
        }
        cfg.uses_tls()?;
        Ok(Location::Postgres(Box::new(cfg)))
    }

    /// The store (journal, reports, sync state, lease): opened (and migrated) on first use.
    pub fn store(&self) -> Result<Store, EnvError> {
        if let Some(s) = self.store.get() {
            return Ok(s.clone());
        }
        let s = Store::open(&self.store_location()?)?;
        Ok(self.store.get_or_init(|| s).clone())
    }

    /// The Slack org this profile writes to (the lease's key): the profile's `org`, else the URL
    /// and a hash of the token ([`OrgKey::of`]).
    pub fn org_key(&self) -> Result<OrgKey, EnvError> {
        if let Some(o) = self.org.get() {
            return Ok(o.clone());
        }
        if self.profile.org.as_deref().is_some_and(|o| !o.trim().is_empty()) {
            let (url, _) = self.target();
            return Ok(self.org.get_or_init(|| OrgKey::of(self.profile.org.as_deref(), &url, "")).clone());
        }
        // Building the client resolves the token and sets the key; a client given from outside
        // (the demo's emulator) has a private store anyway.
        let c = self.client()?;
        Ok(self.org.get_or_init(|| OrgKey::of(None, c.base_url().as_str(), "")).clone())
    }

    /// `[store] lease_ttl` (default 30 s).
    pub fn lease_ttl(&self) -> Result<std::time::Duration, EnvError> {
        match &self.config.store.lease_ttl {
            None => Ok(crate::store::lease::DEFAULT_TTL),
            Some(t) => config::parse_duration(t).map_err(|e| EnvError::Store(StoreError::Config(format!("[store] lease_ttl: {e}")))),
        }
    }

    /// The org, who runs this and the lease's time to live: what taking the lease needs.
    pub fn lease_spec(&self) -> Result<crate::store::LeaseSpec, EnvError> {
        Ok(crate::store::LeaseSpec {
            org: self.org_key()?,
            user: self.actor.user.clone(),
            host: self.actor.host.clone(),
            ttl: self.lease_ttl()?,
        })
    }

    /// Take the org's lease for `command` (waiting up to `wait` for its holder; `on_wait` hears
    /// who holds it meanwhile) and the journal that writes under it.
    pub fn take_lease(
        &self,
        command: &str,
        wait: Option<std::time::Duration>,
        on_wait: impl FnMut(&LeaseError),
    ) -> Result<(Lease, Arc<Journal>), EnvError> {
        let journal = self.journal()?;
        let spec = self.lease_spec()?;
        let holder = Holder::new(&spec.user, &spec.host, command);
        let lease = match wait {
            Some(w) => Lease::acquire_waiting(journal.store(), &spec.org, &holder, spec.ttl, w, on_wait)?,
            None => Lease::acquire(journal.store(), &spec.org, &holder, spec.ttl)?,
        };
        let fenced = Arc::new(journal.fenced(lease.fence()));
        Ok((lease, fenced))
    }
    /// `report.retain_days` from the config file.
    pub fn retain_days(&self) -> Option<u32> {
        self.config.retain_days()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_config_dir_holds_policies_themes_and_data() {
        let p = Paths::resolve(&Inputs { config_dir: Some("/x/cfg".into()), ..Default::default() });
        assert_eq!(p.config_file, PathBuf::from("/x/cfg/config.toml"));
        assert_eq!(p.policies_dir(), PathBuf::from("/x/cfg/policies"));
        assert_eq!(p.themes_dir(), PathBuf::from("/x/cfg/themes"));
        assert_eq!(p.database(), PathBuf::from("/x/cfg/data/scimitar.db"));
        let p = Paths::resolve(&Inputs { config_file: Some("/y/my.toml".into()), ..Default::default() });
        assert_eq!((p.config_file.clone(), p.policies_dir()), (PathBuf::from("/y/my.toml"), PathBuf::from("/y/policies")));
        assert_eq!(p.data_dir, PathBuf::from("/y/data"));
        let p = Paths::resolve(&Inputs { config_dir: Some("/x".into()), data_dir: Some("/d".into()), ..Default::default() });
        assert_eq!(p.database(), PathBuf::from("/d/scimitar.db"));
    }

    #[test]
    fn the_client_is_built_once_and_a_missing_token_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let inputs = Inputs { config_dir: Some(dir.path().into()), url: Some("http://127.0.0.1:9/scim/v2/".into()), ..Default::default() };
        let env = Environment::load(inputs.clone()).unwrap();
        assert!(env.client().unwrap_err().to_string().contains("no token"));
        let env = Environment::load(Inputs { env_token: Some(Secret::new("xoxp-t")), ..inputs }).unwrap();
        let a = env.client().unwrap() as *const ScimClient;
        let b = env.client().unwrap() as *const ScimClient;
        assert_eq!(a, b);
        assert_eq!(env.target().1, ApiVersion::V2);
    }

    #[test]
    fn a_bad_throttle_scale_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e =
            Environment::load(Inputs { config_dir: Some(dir.path().into()), throttle_scale: Some(0.0), ..Default::default() }).unwrap_err();
        assert!(e.to_string().contains("--throttle-scale"), "{e}");
    }
}
