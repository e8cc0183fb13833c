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
        Paths { config_dir, config_file, data_dir, exports: None }
    }

    /// Everything under one folder (tests, the demo).
    pub fn under(root: &Path) -> Paths {
        Paths { config_dir: root.to_path_buf(), config_file: root.join("config.toml"), data_dir: root.join("data"), exports: None }
    }

    /// Named policies: `policies/NAME.toml` in the config dir.
    pub fn policies_dir(&self) -> PathBuf {
        self.config_dir.join("policies")
    }

    /// User themes: `themes/NAME.toml` in the config dir.
    pub fn themes_dir(&self) -> PathBuf {
        self.config_dir.join("themes")
    }

    /// The SQLite database holding the action journal and the provisioning reports.
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

    /// The journal in the data dir's database: opened on first use, the same one afterwards.
    pub fn journal(&self) -> Result<Arc<Journal>, EnvError> {
        if let Some(j) = self.journal.get() {
            return Ok(j.clone());
        }
        let host = self.client()?.host();
        let j = Journal::open(&self.paths.database(), self.run_context(&host)).map_err(|e| EnvError::Journal(format!("{e:#}")))?;
        Ok(self.journal.get_or_init(|| Arc::new(j)).clone())
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
