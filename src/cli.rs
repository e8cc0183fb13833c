//! The headless commands. Data goes to stdout (`--output table|json|csv`), diagnostics to
//! stderr, and the exit code says what happened (see `exit`).

use crate::bulk::{self, RunArgs, Targets};
use crate::config::ConfigError;
use crate::env::{Actor, EnvError, Environment, Inputs};
use crate::exit;
use crate::output::{OutputFormat, RowStream, Rows};
use crate::scim::client::{CheckReport, UserSummary, check_email};
use crate::scim::{ApiVersion, Filter, Group, ScimClient, ScimError, User};
use clap::{Args, Parser, Subcommand, ValueEnum};
use futures::StreamExt;
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "scimitar",
    version,
    about = "Provision and deprovision Slack users and groups through SCIM, from the keyboard.",
    long_about = "Provision and deprovision Slack users and groups through Slack's SCIM API.\n\nWith no command, opens the console. `scimitar demo` runs everything against an embedded Slack SCIM emulator.\n\nThe token comes from --token-file, SLACK_SCIM_TOKEN, or the profile's token_command / token_file in the config file."
)]
pub struct Cli {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Console theme: default, dark, light, high-contrast, ansi16 or a file stem from
    /// <config dir>/themes (NO_COLOR gives a monochrome screen whatever this says)
    #[arg(long, env = "SCIMITAR_THEME", global = true)]
    pub theme: Option<String>,
    /// The console neither reads nor writes the local directory cache (also `[ui] cache = false`)
    #[arg(long, global = true)]
    pub no_cache: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ConnArgs {
    /// SCIM base URL [default: https://api.slack.com/scim/v2/]
    #[arg(long, env = "SCIMITAR_URL", global = true, hide_env_values = true)]
    pub url: Option<String>,
    /// Wire format: v1 (SCIM 1.1) or v2 (SCIM 2.0); guessed from the URL when not given
    #[arg(long, env = "SCIMITAR_API", global = true, value_parser = parse_version)]
    pub api: Option<ApiVersion>,
    /// Named connection profile from the config file
    #[arg(long, env = "SCIMITAR_PROFILE", global = true, hide_env_values = true)]
    pub profile: Option<String>,
    /// File holding the token (must not be readable by group or others)
    #[arg(long, global = true)]
    pub token_file: Option<PathBuf>,
    /// Config file [default: config.toml in the user's config dir]
    #[arg(long, env = "SCIMITAR_CONFIG", global = true, hide_env_values = true)]
    pub config: Option<PathBuf>,
    /// Client-side pacing: Slack's documented rate-limit table, or off
    #[arg(long, global = true, value_enum, value_name = "slack|off")]
    pub throttle: Option<RateLimitFlag>,
    /// Multiply Slack's rate limits in the client's pacing (for an emulator run with --rate-scale; real Slack is 1;
    /// 0.001 to 1000)
    #[arg(long, global = true, value_name = "X")]
    pub throttle_scale: Option<f64>,
    /// Give up on a read-only command (check, users find/show/list/export, groups list/show, plan) after this long
    /// [default: 15m]; for a write command, on looking up its targets (the batch itself is bounded per operation)
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub deadline: Option<Duration>,
    /// Give up on one operation (a request with its retries and Retry-After waits) after this long [default: 2m]
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub op_deadline: Option<Duration>,
    /// Give up on one HTTP request (connect to last byte) after this long [default: 60s]
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub request_timeout: Option<Duration>,
    /// Refuse every write (console and commands): look, never touch
    #[arg(long, global = true)]
    pub read_only: bool,
    /// What the server is: auto (detected from the host, its ServiceProviderConfig and its error
    /// shapes; `check` shows the result), slack, or rfc (any other SCIM 2.0 server: deactivation
    /// is PATCH active=false only, never DELETE)
    #[arg(long, env = "SCIMITAR_SERVER", global = true, value_name = "auto|slack|rfc", value_parser = parse_server)]
    pub server: Option<crate::scim::ServerChoice>,
}

/// The global flags, for a command that connects to nothing (`emulator`, `completions`, `man`):
/// the same ids, types and parsers as [`ConnArgs`]' and [`Cli`]'s, hidden. Clap adds a global
/// flag to a subcommand only where the subcommand has no argument of that id, so these keep
/// `scimitar emulator --help` (and its man page) to what the command does; the flags are still
/// accepted, and ignored, as before.
#[derive(Args, Debug, Clone, Default)]
pub struct UnusedGlobals {
    #[arg(long, hide = true)]
    url: Option<String>,
    #[arg(long, hide = true, value_parser = parse_version)]
    api: Option<ApiVersion>,
    #[arg(long, hide = true)]
    profile: Option<String>,
    #[arg(long, hide = true)]
    config: Option<PathBuf>,
    #[arg(long, hide = true, value_enum)]
    throttle: Option<RateLimitFlag>,
    #[arg(long, hide = true)]
    throttle_scale: Option<f64>,
    #[arg(long, hide = true, value_parser = parse_duration)]
    deadline: Option<Duration>,
    #[arg(long, hide = true, value_parser = parse_duration)]
    op_deadline: Option<Duration>,
    #[arg(long, hide = true, value_parser = parse_duration)]
    request_timeout: Option<Duration>,
    #[arg(long, hide = true)]
    read_only: bool,
    #[arg(long, hide = true, value_parser = parse_server)]
    server: Option<crate::scim::ServerChoice>,
    #[arg(long, hide = true)]
    theme: Option<String>,
    #[arg(long, hide = true)]
    no_cache: bool,
}

/// [`UnusedGlobals`] with `--token-file` too (the emulator has a `--token-file` of its own).
#[derive(Args, Debug, Clone, Default)]
pub struct UnusedGlobalsAndToken {
    #[command(flatten)]
    globals: UnusedGlobals,
    #[arg(long, hide = true)]
    token_file: Option<PathBuf>,
}

fn parse_server(s: &str) -> Result<crate::scim::ServerChoice, String> {
    s.parse()
}

/// How long a read-only command may take when `--deadline` is not given.
pub const DEFAULT_READ_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// `90`, `90s`, `500ms`, `2m`, `1h` (a bare number is seconds); 1 ms to 7 days.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::config::parse_duration(s)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RateLimitFlag {
    Slack,
    Off,
}

fn parse_version(s: &str) -> Result<ApiVersion, crate::scim::types::UnknownVersion> {
    s.parse()
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check that the URL answers as SCIM, that the token is accepted, and which version it speaks
    Check(CheckArgs),
    /// Look up, create, update, deactivate and reactivate users
    #[command(subcommand)]
    Users(UsersCmd),
    /// Look up and change groups
    #[command(subcommand)]
    Groups(GroupsCmd),
    /// Undo a batch from the journal's before-values (updates set back, memberships re-added or
    /// removed, groups renamed back, deactivations reactivated with their memberships and roles),
    /// or a user's latest deactivation. A value is set back only where the server still holds what
    /// the batch wrote; anything changed since is listed as a conflict and left alone
    Restore {
        /// Every done operation of this batch, or of every batch of a policy run `pr-…` (ids:
        /// `scimitar report`, or the console's `Q`)
        #[arg(long, required_unless_present = "user", conflicts_with = "user")]
        batch: Option<String>,
        /// The latest deactivation of this user (id or email)
        #[arg(long)]
        user: Option<String>,
        /// Also deactivate the users the batch created (else they are listed and left active)
        #[arg(long, requires = "batch")]
        deactivate_created: bool,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Finish batches that a crash or kill left unfinished (each op runs at most once more, safely)
    Resume {
        /// Only this batch
        #[arg(long)]
        batch: Option<String>,
        /// Queue the batch's failed operations again (needs --batch)
        #[arg(long, requires = "batch")]
        retry_failed: bool,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Show every change a policy would make (exit 0: none, 2: some, 64: policy error)
    Plan {
        /// Policy file, or NAME for policies/NAME.toml in the config dir
        #[arg(long, value_name = "FILE|NAME")]
        policy: String,
        /// table = a readable diff
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Make the changes a policy's plan lists, through the action queue (journal, rate limits, ceilings)
    Apply {
        /// Policy file, or NAME for policies/NAME.toml in the config dir
        #[arg(long, value_name = "FILE|NAME")]
        policy: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Keep Slack in line with a policy unattended: plan, gate, apply, report, every interval
    /// (--every 5m) or once (--once); quarantine, alerts, status, metrics
    Sync(crate::sync_cmd::SyncArgs),
    /// Four-eyes approvals: batches over the profile's `approval_over` wait here until another
    /// account approves (runs) or rejects them; without a subcommand, list the pending ones
    Approvals(crate::approvals_cmd::ApprovalsArgs),
    /// Query the provisioning report: who did what to whom, when, and did it work
    Report(crate::report_cmd::ReportArgs),
    /// The store: where the journal, reports, sync state and the org's lease live (see docs/team.md)
    #[command(subcommand)]
    Store(StoreCmd),
    /// Run the Slack SCIM emulator (for the demo, tests and benchmarks); prints its base URL first
    Emulator(crate::emulator_cmd::EmulatorArgs),
    /// Open the console against an embedded Slack SCIM emulator (loopback only, random token)
    Demo(DemoArgs),
    /// The console's local directory cache (one owner-only file per profile in the data dir)
    #[command(subcommand)]
    Cache(CacheCmd),
    /// Print a shell completion script, generated from this CLI's definition
    /// (e.g. `scimitar completions bash > ~/.local/share/bash-completion/completions/scimitar`)
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
        #[command(flatten)]
        unused: UnusedGlobalsAndToken,
    },
    /// Print the manual page (roff), generated from this CLI's definition
    /// (`scimitar man | man -l -`); `--dir DIR` writes one page per command instead
    Man {
        /// Write scimitar.1 and a page for every command (scimitar-users-list.1, ...) into DIR
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        unused: UnusedGlobalsAndToken,
    },
}

#[derive(Subcommand, Debug)]
pub enum CacheCmd {
    /// Remove the profile's directory cache (`--all`: every profile's)
    Clear {
        #[arg(long)]
        all: bool,
    },
}

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Users to seed the emulator with
    #[arg(long, default_value_t = 5000)]
    pub users: usize,
    /// Groups to seed the emulator with
    #[arg(long, default_value_t = 60)]
    pub groups: usize,
    /// Seed for the generated directory (same seed, same people)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Extra latency per emulator response, in milliseconds
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Multiply Slack's rate limits (emulator and client alike); 1 = real Slack
    #[arg(long, default_value_t = 1.0)]
    pub rate_scale: f64,
    /// Run without Slack's rate limits
    #[arg(long)]
    pub no_rate_limit: bool,
    /// Do not write the demo HR export and its policy (`demo-hr`) into the demo's data dir
    #[arg(long)]
    pub no_policy: bool,
    /// The global `--api` (the wire format the console speaks to the emulator), filled in by
    /// [`Cli::parse_args`].
    #[arg(skip)]
    pub api: Option<ApiVersion>,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[arg(long, short, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Subcommand, Debug)]
pub enum UsersCmd {
    /// Find users by email (deactivated users included)
    Find {
        /// One or more email addresses
        #[arg(required = true)]
        emails: Vec<String>,
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
        /// Answer from the local directory cache (the console's; as old as it says on stderr), not from Slack
        #[arg(long)]
        cached: bool,
    },
    /// Deactivate users (Slack keeps them, readable, with active=false)
    Deactivate {
        #[command(flatten)]
        targets: Targets,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Reactivate deactivated users
    Reactivate {
        #[command(flatten)]
        targets: Targets,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Create users from a CSV (columns: email, userName, first_name, last_name, displayName, title, department, ...)
    Create {
        /// The CSV file
        #[arg(long)]
        from: PathBuf,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Change attributes of a user (--set FIELD=VALUE, repeatable; an empty value clears) or of the
    /// users of a CSV (--from: an id or email column, then one column per field); only changed
    /// attributes are sent; --dry-run shows the field-level diff (old -> new)
    Update {
        /// Slack user id, email or userName (not with --from)
        #[arg(required_unless_present = "from", conflicts_with = "from")]
        user: Option<String>,
        /// FIELD=VALUE: title, department, givenName, familyName, displayName, userName, email,
        /// timezone, userType, employeeNumber, costCenter, organization, division, manager, phone,
        /// mobile, locale, preferredLanguage, honorificPrefix
        #[arg(long = "set", value_name = "FIELD=VALUE", conflicts_with = "from")]
        set: Vec<String>,
        /// A CSV: header `id` or `email` (or `userName`), then the fields; an empty cell leaves
        /// that field as it is
        #[arg(long)]
        from: Option<PathBuf>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Show every attribute of one user (by id, or by email)
    Show {
        /// Slack user id (W… or U…) or an email address
        id: String,
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
        /// Answer from the local directory cache (the listed fields only), not from Slack
        #[arg(long)]
        cached: bool,
    },
    /// Write the live directory; `--output csv` is a policy source (see docs/policies.md)
    Export {
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Csv)]
        output: OutputFormat,
    },
    /// List users
    List {
        /// SCIM filter (RFC 7644 §3.4.2.2: eq ne co sw ew gt ge lt le pr, and, or, not (…), value paths
        /// such as emails[type eq "work"]), e.g. 'userName sw "jane"'; checked here for syntax, then sent on
        /// (Slack documents eq co sw pr gt ge lt le, and, or; it refuses the rest)
        #[arg(long)]
        filter: Option<String>,
        /// Only active (true) or deactivated (false) users; applied on this side because Slack
        /// does not document an `active` filter
        #[arg(long)]
        active: Option<bool>,
        /// Stop after this many users
        #[arg(long)]
        limit: Option<usize>,
        /// Only multi-channel guests, soonest expiry first (those without one last), with their
        /// expiry and whether it falls within --soon days
        #[arg(long)]
        guests: bool,
        /// With --guests: the days ahead that count as expiring soon
        #[arg(long, default_value_t = 30, requires = "guests")]
        soon: u32,
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
}

#[derive(Subcommand, Debug)]
pub enum GroupsCmd {
    /// List groups with their member counts
    List {
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Show one group and its members (by name or id)
    Show {
        /// Group display name or id (S…)
        group: String,
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Create a group, optionally with members
    Create {
        /// The new group's display name
        name: String,
        #[command(flatten)]
        members: Targets,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Rename a group (membership is kept: PATCH, never a PUT)
    Rename {
        /// Group display name or id
        group: String,
        /// The new name
        to: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Delete a group (its members stay in Slack)
    Delete {
        /// Group display name or id
        group: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Add users to a group
    Add {
        /// Group display name or id
        group: String,
        #[command(flatten)]
        targets: Targets,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Remove users from a group (one filtered remove per member, never the whole list)
    Remove {
        /// Group display name or id
        group: String,
        #[command(flatten)]
        targets: Targets,
        #[command(flatten)]
        run: RunArgs,
    },
}

/// A failure of a headless command: what to print on stderr and the exit code.
#[derive(Debug)]
pub struct Fail {
    pub code: i32,
    pub message: String,
}

impl Fail {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Fail { code, message: message.into() }
    }
}

impl From<ScimError> for Fail {
    fn from(e: ScimError) -> Self {
        Fail { code: exit::of_scim(&e), message: e.to_string() }
    }
}

impl From<ConfigError> for Fail {
    fn from(e: ConfigError) -> Self {
        Fail { code: exit::CONFIG, message: e.to_string() }
    }
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            // The reader went away (`| head`): stop quietly, like other Unix tools.
            return Fail { code: exit::OK, message: String::new() };
        }
        Fail { code: exit::FAILURE, message: format!("write failed: {e}") }
    }
}

/// The exit code of an environment that could not be made (or a part of it).
pub fn env_exit_code(e: &EnvError) -> i32 {
    match e {
        EnvError::Config(_) => exit::CONFIG,
        EnvError::Scim(e) => exit::of_scim(e),
        EnvError::ThrottleScale(_) => exit::USAGE,
        EnvError::Journal(_) => exit::CONFIG,
        EnvError::Store(e) => store_exit_code(e),
        EnvError::Lease(crate::store::LeaseError::Held { .. }) => exit::TEMPFAIL,
        EnvError::Lease(crate::store::LeaseError::Store(e)) => store_exit_code(e),
        EnvError::Lease(crate::store::LeaseError::Lost { .. }) => exit::FAILURE,
    }
}

/// The exit code of a store that failed: unreachable 69, misconfigured 78, else 1.
pub fn store_exit_code(e: &crate::store::StoreError) -> i32 {
    use crate::store::StoreError;
    match e {
        StoreError::Unreachable { .. } => exit::UNAVAILABLE,
        StoreError::Config(_) | StoreError::TooNew { .. } | StoreError::Db(_) => exit::CONFIG,
        _ => exit::FAILURE,
    }
}

impl From<scimitar_console::ConsoleError> for Fail {
    fn from(e: scimitar_console::ConsoleError) -> Fail {
        use scimitar_console::ConsoleError;
        let code = match &e {
            ConsoleError::NotATerminal => exit::USAGE,
            ConsoleError::Env(e) => env_exit_code(e),
            ConsoleError::DemoEmulator(_) | ConsoleError::DemoClient(_) | ConsoleError::Terminal(_) => exit::FAILURE,
        };
        Fail::new(code, e.to_string())
    }
}

/// The exit code of a console run: 0 when the user quit, 128 + the signal's number when a signal
/// ended it; an error is a `Fail`.
pub fn console_exit(r: Result<scimitar_console::Ended, scimitar_console::ConsoleError>) -> Result<i32, Fail> {
    match r? {
        scimitar_console::Ended::Quit => Ok(exit::OK),
        scimitar_console::Ended::Signal(n) => Ok(128 + n),
    }
}

impl From<DemoArgs> for scimitar_console::DemoOptions {
    fn from(a: DemoArgs) -> Self {
        scimitar_console::DemoOptions {
            users: a.users,
            groups: a.groups,
            seed: a.seed,
            latency_ms: a.latency_ms,
            rate_scale: a.rate_scale,
            no_rate_limit: a.no_rate_limit,
            no_policy: a.no_policy,
            api: a.api,
        }
    }
}

impl From<EnvError> for Fail {
    fn from(e: EnvError) -> Self {
        Fail::new(env_exit_code(&e), e.to_string())
    }
}

/// A command's view of the environment once the client is built.
#[derive(Clone, Copy, Debug)]
pub struct Connection<'e> {
    pub env: &'e Environment,
    pub client: &'e ScimClient,
}

impl<'e> Connection<'e> {
    /// Build (once) the environment's client.
    pub fn of(env: &'e Environment) -> Result<Connection<'e>, Fail> {
        Ok(Connection { env, client: env.client()? })
    }
}

/// The token, when no `--token-file` and no profile's `token_command`/`token_file` give one.
pub const ENV_TOKEN: &str = "SLACK_SCIM_TOKEN";
/// The config dir.
pub const ENV_CONFIG_DIR: &str = "SCIMITAR_CONFIG_DIR";
/// The data dir.
pub const ENV_DATA_DIR: &str = "SCIMITAR_DATA_DIR";
/// Any value: the console draws without colour.
pub const ENV_NO_COLOR: &str = "NO_COLOR";

/// The environment variables read without a flag (the manual page's ENVIRONMENT lists them after
/// every flag's own variable).
pub const ENVIRONMENT: &[(&str, &str)] = &[
    (ENV_TOKEN, "The SCIM token, when neither --token-file nor the profile's token_command or token_file gives one. Never printed."),
    (
        ENV_CONFIG_DIR,
        "The config dir (config.toml, policies/, themes/); the data dir becomes data/ inside it unless SCIMITAR_DATA_DIR is set.",
    ),
    (ENV_DATA_DIR, "The data dir (scimitar.db, policy-state/, cache/, exports)."),
    (ENV_NO_COLOR, "Set and not empty: the console draws without colour, whatever the theme."),
    ("VISUAL, EDITOR", "The editor the console opens a policy in (e in Policies); vi when neither is set."),
];

/// What a command line that is not run says: `--help` and `--version` exit 0 (their text on
/// stdout), a usage error exits 64 (EX_USAGE, the message on stderr): clap's own 2 is `plan`'s
/// "there are changes".
fn clap_exit(e: clap::Error) -> i32 {
    let _ = e.print();
    if e.use_stderr() { exit::USAGE } else { exit::OK }
}

impl Cli {
    /// Parse a command line (the program name first). `Err` carries the exit code, the message
    /// printed already: 0 for `--help`/`--version`, 64 for a usage error, including a flag the
    /// command cannot use (`demo --url`: the demo runs its own emulator).
    pub fn parse_args<I, T>(args: I) -> Result<Cli, i32>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::parser::ValueSource;
        use clap::{CommandFactory, FromArgMatches};
        let m = Cli::command().try_get_matches_from(args).map_err(clap_exit)?;
        let mut cli = Cli::from_arg_matches(&m).map_err(clap_exit)?;
        if let Some(Command::Demo(d)) = &mut cli.command {
            d.api = cli.conn.api;
        }
        if let Some(("demo", sub)) = m.subcommand() {
            let given = |id: &str| [m.value_source(id), sub.value_source(id)].contains(&Some(ValueSource::CommandLine));
            if given("url") {
                eprintln!(
                    "scimitar: demo: --url does not apply: the demo runs its own emulator on a loopback port \
                     (for a real server: scimitar --url URL; for the SCIM 1.1 wire format: scimitar demo --api v1)"
                );
                return Err(exit::USAGE);
            }
        }
        Ok(cli)
    }

    /// Everything the run takes from flags and the process environment, read here and only here.
    pub fn inputs(&self) -> Inputs {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let text = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let c = &self.conn;
        Inputs {
            config_file: c.config.clone(),
            config_dir: var(ENV_CONFIG_DIR).map(PathBuf::from),
            data_dir: var(ENV_DATA_DIR).map(PathBuf::from),
            profile: c.profile.clone(),
            url: c.url.clone(),
            api: c.api,
            token_file: c.token_file.clone(),
            env_token: text(ENV_TOKEN).map(crate::scim::Secret::new),
            throttle_off: c.throttle == Some(RateLimitFlag::Off),
            throttle_scale: c.throttle_scale,
            read_only: c.read_only,
            deadline: c.deadline,
            op_deadline: c.op_deadline,
            request_timeout: c.request_timeout,
            server: c.server,
            // The console (no command) loads the whole directory for the panes.
            list_concurrency: self.command.is_none().then_some(scimitar_console::LIST_CONCURRENCY),
            // The OS account of the process's uid, not `$USER` (which anyone can set).
            actor: Actor::of_process(text("HOSTNAME")),
            store_url: text("SCIMITAR_STORE_URL"),
            secret_variables: std::env::vars_os().map(|(k, _)| k).filter(|k| crate::child::is_secret_variable(k)).collect(),
        }
    }

    /// How the console looks: `--theme`, `NO_COLOR` and the terminal's capabilities (read here, once).
    pub fn ui(&self) -> scimitar_console::UiOptions {
        scimitar_console::UiOptions {
            theme: self.theme.clone(),
            no_color: std::env::var_os(ENV_NO_COLOR).is_some_and(|v| !v.is_empty()),
            no_cache: self.no_cache,
            // TERM, COLORTERM, NO_COLOR and the locale: how many colours, and whether UTF-8.
            caps: scimitar_console::theme::Caps::detect(&|k| std::env::var(k).ok()),
            home: std::env::var_os("HOME").map(std::path::PathBuf::from),
            // As git reads them: the first one set and not blank.
            editor: ["VISUAL", "EDITOR"].iter().filter_map(|k| std::env::var(k).ok()).find(|v| !v.trim().is_empty()),
        }
    }
}

/// Run a headless command in its environment; returns the exit code.
pub async fn run(env: &Environment, command: Command) -> i32 {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let deadline = if is_read(&command) { Some(env.deadline.unwrap_or(DEFAULT_READ_DEADLINE)) } else { None };
    let work = run_command(env, command, &mut out);
    let result = match deadline {
        Some(d) => match tokio::time::timeout(d, work).await {
            Ok(r) => r,
            Err(_) => Err(Fail::from(ScimError::Deadline {
                what: "the command".into(),
                after: d,
                limit: "--deadline".into(),
                reason: "not finished in time (give more with --deadline, e.g. --deadline 1h)".into(),
            })),
        },
        None => work.await,
    };
    let _ = out.flush();
    match result {
        Ok(code) => code,
        Err(f) => {
            if !f.message.is_empty() {
                // The one exit for diagnostics: whatever a server put in an error message is
                // cleaned here (escapes, bidi, invisible characters) and scrubbed of secrets.
                let msg = crate::scim::redact::redact(&f.message);
                eprintln!("scimitar: {}", crate::sanitize::clean_lines(&msg));
            }
            f.code
        }
    }
}

/// Read-only commands, bounded by `--deadline` (default [`DEFAULT_READ_DEADLINE`]).
#[derive(Subcommand, Debug)]
pub enum StoreCmd {
    /// Copy this account's SQLite history (journal, reports with their hash chain, sync state)
    /// into an empty PostgreSQL store, and verify the copy there
    Migrate {
        /// The target: postgres://USER@HOST:PORT/DB (password and TLS from [store] in config.toml)
        #[arg(long, value_name = "URL")]
        to: String,
        /// The SQLite file to copy (default: scimitar.db in the data directory)
        #[arg(long, value_name = "PATH")]
        from: Option<PathBuf>,
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Where the store is, its schema version, and who holds this profile's org lease
    Show {
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
}

pub fn is_read(command: &Command) -> bool {
    matches!(
        command,
        Command::Check(_)
            | Command::Users(UsersCmd::Find { .. } | UsersCmd::Show { .. } | UsersCmd::List { .. } | UsersCmd::Export { .. })
            | Command::Groups(GroupsCmd::List { .. } | GroupsCmd::Show { .. })
            | Command::Plan { .. }
    )
}

async fn run_command(env: &Environment, command: Command, out: &mut dyn Write) -> Result<i32, Fail> {
    match command {
        Command::Check(a) => cmd_check(env, a, out).await,
        Command::Users(c) => cmd_users(env, c, out).await,
        Command::Groups(c) => cmd_groups(env, c, out).await,
        Command::Restore { batch, user, deactivate_created, run } => {
            let opts = crate::queue::restore::Options { deactivate_created };
            crate::edit_cmd::restore(env, batch.as_deref(), user.as_deref(), opts, &run).await
        }
        Command::Resume { batch, retry_failed, run } => bulk::resume(env, batch.as_deref(), retry_failed, &run).await,
        Command::Plan { policy, output } => crate::policy_cmd::plan(env, &policy, output, out).await,
        Command::Apply { policy, run } => crate::policy_cmd::apply(env, &policy, &run).await,
        Command::Sync(args) => crate::sync_cmd::run(env, args).await,
        Command::Approvals(args) => crate::approvals_cmd::run(env, args, out).await,
        Command::Emulator(args) => match crate::emulator_cmd::serve_forever(args).await {
            Ok(()) => Ok(exit::OK),
            Err(e) => Err(Fail::new(exit::UNAVAILABLE, format!("emulator: {e:#}"))),
        },
        Command::Store(c) => cmd_store(env, c, out),
        Command::Report(mut args) => {
            args.config_retain_days = env.retain_days();
            if args.db.is_none() && !matches!(env.store_location()?, crate::store::Location::Sqlite(_)) {
                args.store = Some(env.store()?);
            }
            args.db = args.db.or_else(|| Some(env.paths.database()));
            let stderr = std::io::stderr();
            Ok(crate::report_cmd::run(args, out, &mut stderr.lock()))
        }
        Command::Demo(_) => Err(Fail::new(exit::USAGE, "demo opens the console; run it from the scimitar binary")),
        Command::Cache(CacheCmd::Clear { all }) => cache_clear(env, all, out),
        Command::Completions { shell, .. } => crate::docs_cmd::completions(shell, out),
        Command::Man { dir, .. } => crate::docs_cmd::man(dir.as_deref(), out),
    }
}

fn cmd_store(env: &Environment, cmd: StoreCmd, out: &mut dyn Write) -> Result<i32, Fail> {
    use crate::store::{Location, Store};
    match cmd {
        StoreCmd::Migrate { to, from, output } => {
            let from = from.unwrap_or_else(|| env.paths.database());
            if !from.exists() {
                return Err(Fail::new(exit::NOT_FOUND, format!("no SQLite store at {}; nothing to copy", from.display())));
            }
            let target = env.postgres_at(&to)?;
            let source = Store::sqlite(&from).map_err(|e| Fail::new(exit::CONFIG, format!("{}: {e}", from.display())))?;
            let dest = Store::open(&target).map_err(|e| Fail::new(store_exit_code(&e), e.to_string()))?;
            eprintln!("scimitar: copying {} into {}", from.display(), target.shown());
            let r = crate::transfer::copy(&source, &dest, |table, n| eprintln!("scimitar: {table}: {n} rows"))
                .map_err(|e| Fail::new(exit::FAILURE, format!("{e}; nothing was copied")))?;
            let mut rows = crate::output::Rows::new(vec!["table", "rows"]);
            for (t, n) in &r.tables {
                rows.push(vec![t.clone(), n.to_string()], Some(serde_json::json!({"table": t, "rows": n})));
            }
            rows.write(output, out)?;
            eprintln!(
                "scimitar: the copy verifies: {} records, head {} {}, {} each matching its proposal; point [store] url (or SCIMITAR_STORE_URL) at {} to use it",
                r.verified,
                r.head_seq,
                r.head_hash,
                crate::words::count(r.approvals as usize, "approval"),
                target.shown()
            );
            Ok(exit::OK)
        }
        StoreCmd::Show { output } => {
            let loc = env.store_location()?;
            let store = env.store()?;
            let holder = env.org_key().ok().and_then(|o| crate::store::lease::holder(&store, &o).ok().flatten().map(|h| (o, h)));
            let kind = match loc {
                Location::Sqlite(_) => "sqlite",
                Location::SharedSqlite(_) => "sqlite (shared)",
                Location::Postgres(_) => "postgres",
            };
            let version = store.schema_version().map_err(|e| Fail::new(store_exit_code(&e), e.to_string()))?;
            let mut rows = crate::output::Rows::new(vec!["store", "where", "schema", "role", "org", "lease held by"]);
            let (org, held) = match &holder {
                Some((o, h)) => (o.to_string(), h.to_string()),
                None => (env.org_key().map(|o| o.to_string()).unwrap_or_default(), String::new()),
            };
            let role = store.role().unwrap_or_default();
            let json = serde_json::json!({"store": kind, "where": loc.shown(), "schema": version, "role": role, "org": org, "lease_holder": holder.as_ref().map(|(_, h)| h)});
            rows.push(vec![kind.into(), loc.shown(), version.to_string(), role, org, held], Some(json));
            rows.write(output, out)?;
            Ok(exit::OK)
        }
    }
}

fn cache_clear(env: &Environment, all: bool, out: &mut dyn Write) -> Result<i32, Fail> {
    use crate::directory::{cache_dir, cache_path};
    let paths: Vec<PathBuf> = if all {
        match std::fs::read_dir(cache_dir(&env.paths.data_dir)) {
            Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "users")).collect(),
            Err(_) => Vec::new(),
        }
    } else {
        vec![cache_path(&env.paths.data_dir, &env.profile_name)].into_iter().filter(|p| p.exists()).collect()
    };
    if paths.is_empty() {
        writeln!(out, "no directory cache to remove").map_err(|e| Fail::new(exit::FAILURE, e.to_string()))?;
        return Ok(exit::OK);
    }
    for p in paths {
        std::fs::remove_file(&p).map_err(|e| Fail::new(exit::FAILURE, format!("cannot remove {}: {e}", p.display())))?;
        writeln!(out, "removed {}", p.display()).map_err(|e| Fail::new(exit::FAILURE, e.to_string()))?;
    }
    Ok(exit::OK)
}

/// The profile's directory cache, for `--cached` lookups (its age goes to stderr).
fn read_cached(env: &Environment) -> Result<crate::directory::UserTable, Fail> {
    let path = crate::directory::cache_path(&env.paths.data_dir, &env.profile_name);
    match crate::directory::UserTable::read_cache(&path) {
        Ok((t, at)) => {
            let age = crate::directory::age_text(time::OffsetDateTime::now_utc().unix_timestamp() - at);
            eprintln!(
                "scimitar: from the directory cache of profile {} ({}, {age} old)",
                env.profile_name,
                crate::words::count(t.len(), "user")
            );
            Ok(t)
        }
        Err(e) if e.is_missing() => Err(Fail::new(
            exit::NOT_FOUND,
            format!("no directory cache for profile {}: open the console once (it writes one), or leave out --cached", env.profile_name),
        )),
        Err(e) => Err(Fail::new(exit::FAILURE, e.to_string())),
    }
}

/// `users find`'s answer: a row per query (the user's `USER_COLUMNS` and JSON when found, from
/// the cache or from Slack); exit 1 when any is missing, saying how many on stderr.
fn write_found(
    queries: &[String],
    found: impl Iterator<Item = Option<(Vec<String>, Value)>>,
    cached: bool,
    output: OutputFormat,
    out: &mut dyn Write,
) -> Result<i32, Fail> {
    let mut headers = vec!["query", "found"];
    headers.extend(USER_COLUMNS);
    let mut rows = Rows::new(headers);
    let mut missing = 0;
    for (q, f) in queries.iter().zip(found) {
        match f {
            Some((r, mut j)) => {
                let mut row = vec![q.clone(), "yes".into()];
                row.extend(r);
                j["query"] = Value::from(q.as_str());
                j["found"] = Value::Bool(true);
                rows.push(row, Some(j));
            }
            None => {
                missing += 1;
                let mut row = vec![q.clone(), "no".into()];
                row.extend(std::iter::repeat_n(String::new(), USER_COLUMNS.len()));
                let j = match cached {
                    true => serde_json::json!({"query": q, "found": false, "cached": true}),
                    false => serde_json::json!({"query": q, "found": false}),
                };
                rows.push(row, Some(j));
            }
        }
    }
    rows.write(output, out)?;
    if missing > 0 {
        let whence = if cached { " in the cache" } else { "" };
        eprintln!("scimitar: {missing} of {} not found{whence}", queries.len());
        return Ok(exit::FAILURE);
    }
    Ok(exit::OK)
}

/// The `USER_COLUMNS` of a cached (compact) user, and its JSON.
fn cached_user_row(r: crate::directory::UserRef<'_>) -> (Vec<String>, Value) {
    let active = match r.active_opt() {
        Some(a) => a.to_string(),
        None => String::new(),
    };
    let row = vec![
        r.id_shown().into_owned(),
        r.user_name().into(),
        r.email().into(),
        r.name().into(),
        r.title().into(),
        r.department().into(),
        active,
        r.roles().into(),
    ];
    let j = serde_json::json!({
        "id": r.id(), "userName": r.user_name(), "email": r.email(), "displayName": r.name(), "title": r.title(),
        "department": r.department(), "manager": r.manager_id(), "roles": r.roles(), "guest": r.guest(),
        "active": r.active_opt(), "cached": true,
    });
    (row, j)
}

async fn cmd_check(env: &Environment, a: CheckArgs, out: &mut dyn Write) -> Result<i32, Fail> {
    let c = Connection::of(env)?;
    let r: CheckReport = c.client.check().await;
    let mut rows = Rows::new(vec!["check", "result"]);
    rows.push(vec!["url".into(), r.url.clone()], None);
    rows.push(vec!["api".into(), r.version.label().into()], None);
    rows.push(vec!["profile".into(), env.profile_name.clone()], None);
    rows.push(vec!["scim endpoint answers".into(), yes_no(r.scim_endpoint)], None);
    rows.push(vec!["provider config".into(), r.service_provider_config.clone().unwrap_or_else(|| "-".into())], None);
    rows.push(
        vec![
            "server".into(),
            r.server.as_ref().map(|p| format!("{} ({})", p.label(), crate::sanitize::clean(&p.reason))).unwrap_or_else(|| "-".into()),
        ],
        None,
    );
    rows.push(
        vec![
            "deactivates with".into(),
            r.server
                .as_ref()
                .map(|p| {
                    if p.delete_deactivates() { "DELETE or PATCH active=false" } else { "PATCH active=false (DELETE would delete)" }
                        .to_string()
                })
                .unwrap_or_else(|| "-".into()),
        ],
        None,
    );
    rows.push(vec!["token accepted".into(), yes_no(r.token_accepted)], None);
    rows.push(vec!["users".into(), r.total_users.map(|n| n.to_string()).unwrap_or_else(|| "-".into())], None);
    rows.push(vec!["latency".into(), format!("{} ms", r.latency_ms)], None);
    if a.output == OutputFormat::Json {
        let mut v = serde_json::to_value(&r).unwrap();
        v["profile"] = Value::from(env.profile_name.clone());
        crate::output::write_json_line(out, &v)?;
    } else {
        rows.write(a.output, out)?;
    }
    match (&r.problem, r.token_accepted, r.scim_endpoint) {
        (_, true, _) => Ok(exit::OK),
        (Some(p), _, _) if r.token_refused => Err(Fail::new(exit::AUTH, p.clone())),
        (Some(p), _, _) => Err(Fail::new(exit::UNAVAILABLE, p.clone())),
        (None, _, _) => Err(Fail::new(exit::FAILURE, "check failed")),
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes".into() } else { "no".into() }
}

/// Groups per page when listing them headless: a page carries every group's members (up to
/// 15,000 each), so pages are smaller than users'.
pub const GROUP_PAGE: u32 = 100;

pub const USER_COLUMNS: [&str; 8] = ["id", "userName", "email", "displayName", "title", "department", "active", "roles"];

pub fn user_row(u: &User) -> Vec<String> {
    vec![
        u.id().to_string(),
        u.user_name.clone().unwrap_or_default(),
        u.primary_email().unwrap_or_default().to_string(),
        u.label(),
        u.title.clone().unwrap_or_default(),
        u.department().unwrap_or_default().to_string(),
        match u.active {
            Some(true) => "true".into(),
            Some(false) => "false".into(),
            None => String::new(),
        },
        u.role_values().join(";"),
    ]
}

async fn cmd_users(env: &Environment, cmd: UsersCmd, out: &mut dyn Write) -> Result<i32, Fail> {
    match cmd {
        UsersCmd::Find { emails, output, cached } => {
            // Every address is checked before any request is sent.
            let mut bad = Vec::new();
            let mut norm = Vec::new();
            for (i, e) in emails.iter().enumerate() {
                match check_email(e) {
                    Ok(n) => norm.push(n),
                    Err(err) => bad.push(format!("argument {}: {err}", i + 1)),
                }
            }
            if !bad.is_empty() {
                return Err(Fail::new(exit::USAGE, bad.join("\n")));
            }
            if cached {
                let t = read_cached(env)?;
                let found = norm.iter().map(|q| t.find_email(&q.to_lowercase()).map(|i| cached_user_row(t.get(i))));
                return write_found(&norm, found, true, output, out);
            }
            let c = Connection::of(env)?;
            let found: Vec<Result<Option<User>, ScimError>> = futures::stream::iter(norm.iter().map(|e| {
                let client = c.client.clone();
                let e = e.clone();
                async move { client.find_user_by_email(&e).await }
            }))
            .buffered(8)
            .collect()
            .await;
            let found = found.into_iter().collect::<Result<Vec<_>, _>>()?;
            let found = found.into_iter().map(|u| u.map(|u| (user_row(&u), u.to_value(ApiVersion::V2))));
            write_found(&norm, found, false, output, out)
        }
        UsersCmd::Deactivate { targets, run } => bulk::deactivate(env, &targets, &run, false).await,
        UsersCmd::Reactivate { targets, run } => bulk::deactivate(env, &targets, &run, true).await,
        UsersCmd::Create { from, run } => bulk::create_users(env, &from, &run).await,
        UsersCmd::Update { user, set, from, run } => crate::edit_cmd::update(env, user.as_deref(), &set, from.as_deref(), &run).await,
        UsersCmd::Export { output } => crate::policy_cmd::export_users(Connection::of(env)?, output, out).await,
        UsersCmd::Show { id, output, cached: true } => {
            let t = read_cached(env)?;
            let q = id.trim().to_lowercase();
            let idx = t
                .index_of(id.trim())
                .or_else(|| t.find_email(&q))
                .or_else(|| t.iter().position(|r| r.user_name_lower() == q).map(|i| i as u32))
                .ok_or_else(|| Fail::new(exit::NOT_FOUND, format!("{id}: no such user in the directory cache")))?;
            let (_, j) = cached_user_row(t.get(idx));
            if output == OutputFormat::Json {
                crate::output::write_json_line(out, &j)?;
            } else {
                let mut rows = Rows::new(vec!["attribute", "value"]);
                if let Value::Object(m) = &j {
                    for (k, v) in m {
                        let v = match v {
                            Value::String(s) => crate::sanitize::clean(s),
                            Value::Null => continue,
                            v => v.to_string(),
                        };
                        if !v.is_empty() {
                            rows.push(vec![k.clone(), v], None);
                        }
                    }
                }
                rows.write(output, out)?;
            }
            Ok(exit::OK)
        }
        UsersCmd::Show { id, output, cached: false } => {
            let c = Connection::of(env)?;
            // An email, an id or a userName: whichever the server knows (`queue::input::lookup`).
            let user = crate::queue::input::find_user(c.client, &id).await?.map_err(|miss| Fail::new(exit::NOT_FOUND, miss))?;
            write_user_detail(&user, output, out)?;
            Ok(exit::OK)
        }
        UsersCmd::List { filter, active, limit, guests, soon, output } => {
            let filter = match filter {
                Some(text) => Some(Filter::parse(&text).map_err(|e| Fail::new(exit::USAGE, format!("--filter {text:?}: {e}")))?),
                None => None,
            };
            let c = Connection::of(env)?;
            if guests {
                return list_guests(&c, filter, active, limit, soon, output, out).await;
            }
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
            let mut rows = RowStream::new(output, USER_COLUMNS.to_vec(), &mut out);
            let limit = limit.map_or(u64::MAX, |l| l as u64);
            // JSON writes each whole user; the columns need a summary of each (a fraction of
            // the parsing and memory: `scim::wire`).
            if output == OutputFormat::Json {
                let pages = c.client.user_pages(filter, 1000);
                list_rows(
                    pages,
                    &mut rows,
                    limit,
                    |u: &User| active.is_none_or(|a| u.is_active() == a),
                    |u| {
                        let j = u.to_value(ApiVersion::V2);
                        (user_row(&u), Some(j))
                    },
                )
                .await?;
            } else {
                let pages = c.client.user_pages_of::<UserSummary>(filter, 1000);
                list_rows(pages, &mut rows, limit, |u: &UserSummary| active.is_none_or(|a| u.is_active() == a), |u| (summary_row(u), None))
                    .await?;
            }
            rows.finish()?;
            Ok(exit::OK)
        }
    }
}

/// Write a listing's rows as its pages arrive (each page goes out, then is dropped: memory holds
/// a page), those `keep` keeps, at most `limit`; progress on stderr when it is a terminal.
async fn list_rows<T: crate::scim::wire::Listed>(
    pages: impl futures::Stream<Item = Result<crate::scim::Page<T>, ScimError>>,
    rows: &mut RowStream<'_>,
    limit: u64,
    keep: impl Fn(&T) -> bool,
    row: impl Fn(T) -> (Vec<String>, Option<Value>),
) -> Result<(), Fail> {
    let progress = std::io::stderr().is_terminal();
    let mut pages = std::pin::pin!(pages);
    let mut loaded = 0u64;
    'pages: while let Some(page) = pages.next().await {
        let page = page?;
        loaded += page.items.len() as u64;
        if progress {
            let p = page.progress;
            eprint!("\rloading users {loaded}/{} (page {}/{})", page.total_results, p.pages_done, p.pages_total);
        }
        for u in page.items {
            if !keep(&u) {
                continue;
            }
            if rows.rows() >= limit {
                break 'pages;
            }
            let (r, j) = row(u);
            rows.push(r, j.as_ref())?;
        }
        rows.end_page()?;
    }
    if progress {
        eprint!("\r\x1b[2K");
    }
    Ok(())
}

/// [`user_row`] of a listed user's summary (the same cells: `summary_row(UserSummary::of(u))`
/// is `user_row(u)`).
pub fn summary_row(u: UserSummary) -> Vec<String> {
    vec![
        u.id.unwrap_or_default(),
        u.user_name.unwrap_or_default(),
        u.primary_email.unwrap_or_default(),
        u.label,
        u.title.unwrap_or_default(),
        u.department.unwrap_or_default(),
        match u.active {
            Some(true) => "true".into(),
            Some(false) => "false".into(),
            None => String::new(),
        },
        u.roles.join(";"),
    ]
}

/// The columns of `users list --guests`.
pub const GUEST_COLUMNS: [&str; 7] = ["id", "userName", "email", "displayName", "guestExpiration", "expiresIn", "soon"];

/// A guest's row for `users list --guests`: their expiry, the days left (`expired`, `none`), and
/// whether that is within `soon` days.
fn guest_row(u: &UserSummary, now: i64, soon: u32) -> (Vec<String>, Value) {
    let exp = u.guest_expiration.as_deref();
    let at = exp.and_then(|e| crate::scim::rules::iso_date(e, crate::scim::rules::DateEnd::End).ok()).map(|d| d.unix);
    let (left, is_soon) = match at {
        Some(t) if t < now => ("expired".to_string(), true),
        Some(t) => {
            let days = (t - now) / 86_400;
            (crate::words::count(days as usize, "day"), days <= i64::from(soon))
        }
        None if exp.is_some() => ("unreadable date".into(), false),
        None => ("none".into(), false),
    };
    let row = vec![
        u.id.clone().unwrap_or_default(),
        u.user_name.clone().unwrap_or_default(),
        u.primary_email.clone().unwrap_or_default(),
        u.label.clone(),
        exp.unwrap_or_default().to_string(),
        left.clone(),
        if is_soon { "yes".into() } else { String::new() },
    ];
    let j = serde_json::json!({
        "id": u.id, "userName": u.user_name, "email": u.primary_email, "displayName": u.label,
        "guestExpiration": exp, "expiresIn": left, "soon": is_soon, "active": u.active,
    });
    (row, j)
}

/// `users list --guests`: every multi-channel guest (read page by page, only the guests kept),
/// soonest expiry first, guests without an expiry last; `soon` marks those expiring within
/// `soon` days (expired ones too). A count of them goes to stderr.
async fn list_guests(
    c: &Connection<'_>,
    filter: Option<Filter>,
    active: Option<bool>,
    limit: Option<usize>,
    soon: u32,
    output: OutputFormat,
    out: &mut dyn Write,
) -> Result<i32, Fail> {
    let mut pages = std::pin::pin!(c.client.user_pages_of::<UserSummary>(filter, 1000));
    let mut guests: Vec<(Option<i64>, UserSummary)> = Vec::new();
    while let Some(page) = pages.next().await {
        for u in page?.items {
            if u.guest && active.is_none_or(|a| u.is_active() == a) {
                let at = u.guest_expiration.as_deref().and_then(|e| crate::scim::rules::iso_date(e, crate::scim::rules::DateEnd::End).ok());
                guests.push((at.map(|d| d.unix), u));
            }
        }
    }
    guests.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.1.label.cmp(&b.1.label),
    });
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut rows = RowStream::new(output, GUEST_COLUMNS.to_vec(), out);
    let mut soon_count = 0;
    for (_, u) in guests.iter().take(limit.unwrap_or(usize::MAX)) {
        let (r, j) = guest_row(u, now, soon);
        soon_count += usize::from(j["soon"] == true);
        rows.push(r, Some(&j))?;
    }
    rows.finish()?;
    eprintln!(
        "scimitar: {}, {} expiring within {soon} days or expired",
        crate::words::count(guests.len(), "multi-channel guest"),
        soon_count
    );
    Ok(exit::OK)
}

fn write_user_detail(u: &User, output: OutputFormat, out: &mut dyn Write) -> Result<(), Fail> {
    if output == OutputFormat::Json {
        crate::output::write_json_line(out, &u.to_value(ApiVersion::V2))?;
        return Ok(());
    }
    let mut rows = Rows::new(vec!["attribute", "value"]);
    for (k, v) in crate::present::user_detail_rows(u) {
        rows.push(vec![k, v], None);
    }
    rows.write(output, out)?;
    Ok(())
}

async fn cmd_groups(env: &Environment, cmd: GroupsCmd, out: &mut dyn Write) -> Result<i32, Fail> {
    match cmd {
        GroupsCmd::List { output } => {
            let c = Connection::of(env)?;
            // Page by page (a page of groups carries their members; only counts are kept).
            let mut pages = std::pin::pin!(c.client.group_pages(None, GROUP_PAGE));
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
            let mut rows = RowStream::new(output, vec!["id", "displayName", "members"], &mut out);
            while let Some(page) = pages.next().await {
                for g in page?.items {
                    let j = serde_json::json!({"id": g.id, "displayName": g.display_name, "members": g.member_count()});
                    rows.push(vec![g.id().to_string(), g.name().to_string(), g.member_count().to_string()], Some(&j))?;
                }
                rows.end_page()?;
            }
            rows.finish()?;
            Ok(exit::OK)
        }
        // The write commands connect through `bulk::writer` (read-only is refused before that).
        GroupsCmd::Create { name, members, run } => bulk::group_create(env, &name, &members, &run).await,
        GroupsCmd::Rename { group, to, run } => bulk::group_rename(env, &group, &to, &run).await,
        GroupsCmd::Delete { group, run } => bulk::group_delete(env, &group, &run).await,
        GroupsCmd::Add { group, targets, run } => bulk::group_members(env, &group, &targets, true, &run).await,
        GroupsCmd::Remove { group, targets, run } => bulk::group_members(env, &group, &targets, false, &run).await,
        GroupsCmd::Show { group, output } => {
            let c = Connection::of(env)?;
            let g: Group = bulk::find_group(c.client, &group).await?;
            if output == OutputFormat::Json {
                crate::output::write_json_line(out, &g.to_value(ApiVersion::V2))?;
                return Ok(exit::OK);
            }
            if output == OutputFormat::Table {
                writeln!(
                    out,
                    "{} ({}), {}",
                    crate::sanitize::clean(g.name()),
                    crate::sanitize::clean(g.id()),
                    crate::words::count(g.member_count(), "member")
                )?;
            }
            let mut rows = Rows::new(vec!["member_id", "display"]);
            for m in g.members.iter().flatten() {
                rows.push(vec![m.value.clone().unwrap_or_default(), m.display.clone().unwrap_or_default()], None);
            }
            rows.write(output, out)?;
            Ok(exit::OK)
        }
    }
}
