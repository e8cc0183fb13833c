//! The flag groups several commands share: the connection's global flags, the write commands'
//! `RunArgs` and `Targets`, the flags that are accepted and ignored, the duration and version
//! parsers, and the environment variables read without a flag.

use crate::output::OutputFormat;
use crate::queue::DeactivateVia;
use crate::scim::ApiVersion;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

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

/// Options every write command shares.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Show what would be done, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Pass the gate's ceilings (the profile's or policy's max_deactivations, max_attribute_changes,
    /// max_member_removals, max_group_deletes, ...: see the held message); --yes never does
    #[arg(long)]
    pub force: bool,
    /// Which endpoint deactivates on Slack: delete, patch, or both rows of Slack's rate table (fastest).
    /// Only Slack deactivates on DELETE: on any other SCIM server (see `check`) DELETE removes the user
    /// (RFC 7644 §3.6), so there `both` means PATCH active=false and `delete` is refused
    #[arg(long, default_value_t, value_parser = via_parser())]
    pub via: DeactivateVia,
    /// Requests kept in flight
    #[arg(long, default_value_t = 24)]
    pub workers: usize,
    /// When another scimitar writes to this Slack org (holds its lease), wait up to this long
    /// for it instead of stopping with exit 75 (e.g. 30s, 10m)
    #[arg(long, value_name = "DURATION", value_parser = crate::flags::parse_duration)]
    pub wait: Option<std::time::Duration>,
    #[arg(long, short, value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub fn via_parser() -> impl clap::builder::TypedValueParser<Value = DeactivateVia> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(DeactivateVia::ALL.map(|v| v.as_str())).map(|s| s.parse::<DeactivateVia>().unwrap_or_default())
}

/// Who to act on: arguments and/or a file.
#[derive(Args, Debug, Clone)]
pub struct Targets {
    /// Emails or Slack user ids
    pub users: Vec<String>,
    /// A file with one email or id per line, or a CSV with an `email` or `id` column
    #[arg(long)]
    pub from: Option<PathBuf>,
}
