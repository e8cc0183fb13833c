//! The headless commands. Data goes to stdout (`--output table|json|csv`), diagnostics to
//! stderr, and the exit code says what happened (see `exit`).

use crate::bulk::{self, RunArgs, Targets};
use crate::config::{self, Config, ConfigError, Profile};
use crate::exit;
use crate::output::{OutputFormat, Rows};
use crate::scim::client::{CheckReport, normalize_email};
use crate::scim::{ApiVersion, ClientConfig, Filter, Group, RateLimit, ScimClient, ScimError, User};
use clap::{Args, Parser, Subcommand, ValueEnum};
use futures::StreamExt;
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

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
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ConnArgs {
    /// SCIM base URL [default: https://api.slack.com/scim/v2/]
    #[arg(long, env = "SCIMITAR_URL", global = true)]
    pub url: Option<String>,
    /// Wire format: v1 (SCIM 1.1) or v2 (SCIM 2.0); guessed from the URL when not given
    #[arg(long, env = "SCIMITAR_API", global = true, value_parser = parse_version)]
    pub api: Option<ApiVersion>,
    /// Named connection profile from the config file
    #[arg(long, env = "SCIMITAR_PROFILE", global = true)]
    pub profile: Option<String>,
    /// File holding the token (must not be readable by group or others)
    #[arg(long, global = true)]
    pub token_file: Option<PathBuf>,
    /// Config file [default: config.toml in the user's config dir]
    #[arg(long, env = "SCIMITAR_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Client-side pacing: Slack's documented rate-limit table, or off
    #[arg(long, global = true, value_enum, value_name = "slack|off")]
    pub throttle: Option<RateLimitFlag>,
    /// Multiply Slack's rate limits in the client's pacing (for an emulator run with --rate-scale; real Slack is 1)
    #[arg(long, global = true, value_name = "X")]
    pub throttle_scale: Option<f64>,
    /// Refuse every write (console and commands): look, never touch
    #[arg(long, global = true)]
    pub read_only: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RateLimitFlag {
    Slack,
    Off,
}

fn parse_version(s: &str) -> Result<ApiVersion, String> {
    s.parse()
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check that the URL answers as SCIM, that the token is accepted, and which version it speaks
    Check(CheckArgs),
    /// Look up users
    #[command(subcommand)]
    Users(UsersCmd),
    /// Look up and change groups
    #[command(subcommand)]
    Groups(GroupsCmd),
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
    /// Query the provisioning report: who did what to whom, when, and did it work
    Report(crate::report_cmd::ReportArgs),
    /// Run the Slack SCIM emulator (for the demo, tests and benchmarks); prints its base URL first
    Emulator(crate::emulator_cmd::EmulatorArgs),
    /// Open the console against an embedded Slack SCIM emulator (loopback only, random token)
    Demo(DemoArgs),
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
    /// The demo runs in a data dir of its own (set by `main` when it made one): only then does it
    /// write its HR export and policy there.
    #[arg(skip)]
    pub own_data_dir: bool,
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
    /// Show every attribute of one user (by id, or by email)
    Show {
        /// Slack user id (W… or U…) or an email address
        id: String,
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Write the live directory; `--output csv` is a policy source (see docs/policies.md)
    Export {
        #[arg(long, short, value_enum, default_value_t = OutputFormat::Csv)]
        output: OutputFormat,
    },
    /// List users
    List {
        /// SCIM filter sent to Slack, e.g. 'userName sw "jane"' (quoted values are escaped)
        #[arg(long)]
        filter: Option<String>,
        /// Only active (true) or deactivated (false) users; applied on this side because Slack
        /// does not document an `active` filter
        #[arg(long)]
        active: Option<bool>,
        /// Stop after this many users
        #[arg(long)]
        limit: Option<usize>,
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

/// A resolved connection: the client plus what the rest of the program needs to know.
#[derive(Clone, Debug)]
pub struct Connection {
    pub client: ScimClient,
    pub profile_name: String,
    pub profile: Profile,
    pub config: Config,
    /// `--read-only`.
    pub read_only: bool,
}

impl Connection {
    /// The gate's rules for this run: the profile's, `--read-only`, and `--force`.
    pub fn safety(&self, force: bool) -> crate::queue::Safety {
        crate::queue::Safety::from_profile(&self.profile, force).with_read_only(self.read_only)
    }
}

impl ConnArgs {
    pub fn load_config(&self) -> Result<Config, ConfigError> {
        let path = self.config.clone().unwrap_or_else(crate::paths::config_file);
        Config::load(&path)
    }

    /// Build the client from flags, environment and profile.
    pub fn connect(&self) -> Result<Connection, Fail> {
        let config = self.load_config()?;
        let (profile_name, profile) = config.profile(self.profile.as_deref())?;
        let url = self.url.clone().or_else(|| profile.url.clone());
        let version = self.api.or(profile.api).or_else(|| url.as_deref().and_then(config::version_from_url)).unwrap_or_default();
        let url = url.unwrap_or_else(|| config::default_url(version));
        let token = config::resolve_token(self.token_file.as_deref(), std::env::var("SLACK_SCIM_TOKEN").ok(), &profile)?;
        let mut cc = ClientConfig::new(&url, token, version)?;
        let scale = self.throttle_scale.or(profile.rate_scale).unwrap_or(1.0);
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Fail::new(exit::USAGE, format!("--throttle-scale must be a positive number, not {scale}")));
        }
        cc.rate_limit = match self.throttle {
            Some(RateLimitFlag::Off) => RateLimit::Off,
            _ => RateLimit::Slack { scale },
        };
        let client = ScimClient::new(cc)?;
        Ok(Connection { client, profile_name, profile, config, read_only: self.read_only })
    }
}

/// Run a headless command; returns the exit code.
pub async fn run(conn: &ConnArgs, command: Command) -> i32 {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match command {
        Command::Check(a) => cmd_check(conn, a, &mut out).await,
        Command::Users(c) => cmd_users(conn, c, &mut out).await,
        Command::Groups(c) => cmd_groups(conn, c, &mut out).await,
        Command::Resume { batch, retry_failed, run } => bulk::resume(conn, batch.as_deref(), retry_failed, &run).await,
        Command::Plan { policy, output } => crate::policy_cmd::plan(conn, &policy, output, &mut out).await,
        Command::Apply { policy, run } => crate::policy_cmd::apply(conn, &policy, &run).await,
        Command::Emulator(args) => match crate::emulator_cmd::serve_forever(args).await {
            Ok(()) => Ok(exit::OK),
            Err(e) => Err(Fail::new(exit::UNAVAILABLE, format!("emulator: {e:#}"))),
        },
        Command::Report(mut args) => {
            if let Ok(cfg) = conn.load_config() {
                args.config_retain_days = cfg.retain_days();
            }
            let stderr = std::io::stderr();
            Ok(crate::report_cmd::run(args, &mut out, &mut stderr.lock()))
        }
        Command::Demo(_) => Err(Fail::new(exit::USAGE, "demo opens the console; run it from the scimitar binary")),
    };
    let _ = out.flush();
    match result {
        Ok(code) => code,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("scimitar: {}", f.message);
            }
            f.code
        }
    }
}

async fn cmd_check(conn: &ConnArgs, a: CheckArgs, out: &mut dyn Write) -> Result<i32, Fail> {
    let c = conn.connect()?;
    let r: CheckReport = c.client.check().await;
    let mut rows = Rows::new(vec!["check", "result"]);
    rows.push(vec!["url".into(), r.url.clone()], None);
    rows.push(vec!["api".into(), r.version.label().into()], None);
    rows.push(vec!["profile".into(), c.profile_name.clone()], None);
    rows.push(vec!["scim endpoint answers".into(), yes_no(r.scim_endpoint)], None);
    rows.push(vec!["token accepted".into(), yes_no(r.token_accepted)], None);
    rows.push(vec!["users".into(), r.total_users.map(|n| n.to_string()).unwrap_or_else(|| "-".into())], None);
    rows.push(vec!["latency".into(), format!("{} ms", r.latency_ms)], None);
    if a.output == OutputFormat::Json {
        let mut v = serde_json::to_value(&r).unwrap();
        v["profile"] = Value::from(c.profile_name.clone());
        writeln!(out, "{v}")?;
    } else {
        rows.write(a.output, out)?;
    }
    match (&r.problem, r.token_accepted, r.scim_endpoint) {
        (_, true, _) => Ok(exit::OK),
        (Some(p), _, false) => Err(Fail::new(exit::UNAVAILABLE, p.clone())),
        (Some(p), _, true) => Err(Fail::new(exit::AUTH, p.clone())),
        (None, _, _) => Err(Fail::new(exit::FAILURE, "check failed")),
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes".into() } else { "no".into() }
}

pub const USER_COLUMNS: [&str; 7] = ["id", "userName", "email", "displayName", "title", "department", "active"];

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
    ]
}

async fn cmd_users(conn: &ConnArgs, cmd: UsersCmd, out: &mut dyn Write) -> Result<i32, Fail> {
    match cmd {
        UsersCmd::Find { emails, output } => {
            // Every address is checked before any request is sent.
            let mut bad = Vec::new();
            let mut norm = Vec::new();
            for (i, e) in emails.iter().enumerate() {
                match normalize_email(e) {
                    Ok(n) => norm.push(n),
                    Err(err) => bad.push(format!("argument {}: {err}", i + 1)),
                }
            }
            if !bad.is_empty() {
                return Err(Fail::new(exit::USAGE, bad.join("\n")));
            }
            let c = conn.connect()?;
            let found: Vec<Result<Option<User>, ScimError>> = futures::stream::iter(norm.iter().map(|e| {
                let client = c.client.clone();
                let e = e.clone();
                async move { client.find_user_by_email(&e).await }
            }))
            .buffered(8)
            .collect()
            .await;
            let mut headers = vec!["query", "found"];
            headers.extend(USER_COLUMNS);
            let mut rows = Rows::new(headers);
            let mut missing = 0;
            for (q, r) in norm.iter().zip(found) {
                match r? {
                    Some(u) => {
                        let mut row = vec![q.clone(), "yes".into()];
                        row.extend(user_row(&u));
                        let mut j = u.to_value(ApiVersion::V2);
                        j["query"] = Value::from(q.as_str());
                        j["found"] = Value::Bool(true);
                        rows.push(row, Some(j));
                    }
                    None => {
                        missing += 1;
                        let mut row = vec![q.clone(), "no".into()];
                        row.extend(std::iter::repeat_n(String::new(), USER_COLUMNS.len()));
                        rows.push(row, Some(serde_json::json!({"query": q, "found": false})));
                    }
                }
            }
            rows.write(output, out)?;
            if missing > 0 {
                eprintln!("scimitar: {missing} of {} not found", norm.len());
                return Ok(exit::FAILURE);
            }
            Ok(exit::OK)
        }
        UsersCmd::Deactivate { targets, run } => bulk::deactivate(conn, &targets, &run, false).await,
        UsersCmd::Reactivate { targets, run } => bulk::deactivate(conn, &targets, &run, true).await,
        UsersCmd::Create { from, run } => bulk::create_users(conn, &from, &run).await,
        UsersCmd::Export { output } => crate::policy_cmd::export_users(&conn.connect()?, output, out).await,
        UsersCmd::Show { id, output } => {
            let c = conn.connect()?;
            let user = if id.contains('@') {
                let e = normalize_email(&id).map_err(|e| Fail::new(exit::USAGE, e.to_string()))?;
                c.client.find_user_by_email(&e).await?.ok_or_else(|| Fail::new(exit::NOT_FOUND, format!("no user with email {e}")))?
            } else {
                c.client
                    .get_user(&id)
                    .await
                    .map_err(|e| if e.is_not_found() { Fail::new(exit::NOT_FOUND, format!("no user with id {id}")) } else { e.into() })?
            };
            write_user_detail(&user, output, out)?;
            Ok(exit::OK)
        }
        UsersCmd::List { filter, active, limit, output } => {
            let filter = match filter {
                Some(text) => Some(Filter::parse(&text).map_err(|e| Fail::new(exit::USAGE, format!("--filter {text:?}: {e}")))?),
                None => None,
            };
            let c = conn.connect()?;
            let progress = std::io::stderr().is_terminal();
            let mut pages = std::pin::pin!(c.client.user_pages(filter, 1000));
            let mut rows = Rows::new(USER_COLUMNS.to_vec());
            let mut loaded = 0u64;
            let limit = limit.unwrap_or(usize::MAX);
            'pages: while let Some(page) = pages.next().await {
                let page = page?;
                loaded += page.items.len() as u64;
                if progress {
                    eprint!("\rloading users {loaded}/{}", page.total_results);
                }
                for u in page.items {
                    if active.is_some_and(|a| u.is_active() != a) {
                        continue;
                    }
                    if rows.rows.len() >= limit {
                        break 'pages;
                    }
                    let row = user_row(&u);
                    rows.push(row, Some(u.to_value(ApiVersion::V2)));
                }
            }
            if progress {
                eprint!("\r\x1b[2K");
            }
            rows.write(output, out)?;
            Ok(exit::OK)
        }
    }
}

/// Attribute/value rows for one user (table/csv), or the SCIM object (json).
pub fn user_detail_rows(u: &User) -> Vec<(String, String)> {
    let mut v = Vec::new();
    let mut push = |k: &str, val: Option<String>| {
        if let Some(val) = val.filter(|s| !s.is_empty()) {
            v.push((k.to_string(), val));
        }
    };
    push("id", u.id.clone());
    push("userName", u.user_name.clone());
    push("displayName", u.display_name.clone());
    push(
        "name",
        u.name.as_ref().map(|n| {
            [n.honorific_prefix.as_deref(), n.given_name.as_deref(), n.family_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        }),
    );
    push("active", u.active.map(|a| a.to_string()));
    for e in u.emails.iter().flatten() {
        let tag = if e.primary == Some(true) { "email (primary)" } else { "email" };
        push(tag, e.value.clone());
    }
    push("title", u.title.clone());
    push("userType", u.user_type.clone());
    push("timezone", u.timezone.clone());
    push("locale", u.locale.clone());
    push("preferredLanguage", u.preferred_language.clone());
    for p in u.phone_numbers.iter().flatten() {
        push("phone", p.value.clone());
    }
    if let Some(e) = &u.enterprise {
        push("employeeNumber", e.employee_number.clone());
        push("costCenter", e.cost_center.clone());
        push("organization", e.organization.clone());
        push("division", e.division.clone());
        push("department", e.department.clone());
        push("manager", e.manager.as_ref().and_then(|m| m.manager_id.clone()));
    }
    if let Some(g) = &u.guest {
        push(
            "guest",
            Some(format!("{} {}", g.kind.clone().unwrap_or_default(), g.expiration.clone().unwrap_or_default()).trim().to_string()),
        );
    }
    push("startDate", u.profile.as_ref().and_then(|p| p.start_date.clone()));
    for g in u.groups.iter().flatten() {
        push(
            "group",
            Some(format!("{} {}", g.display.clone().unwrap_or_default(), g.value.clone().unwrap_or_default()).trim().to_string()),
        );
    }
    push("created", u.meta.as_ref().and_then(|m| m.created.clone()));
    v
}

fn write_user_detail(u: &User, output: OutputFormat, out: &mut dyn Write) -> Result<(), Fail> {
    if output == OutputFormat::Json {
        writeln!(out, "{}", u.to_value(ApiVersion::V2))?;
        return Ok(());
    }
    let mut rows = Rows::new(vec!["attribute", "value"]);
    for (k, v) in user_detail_rows(u) {
        rows.push(vec![k, v], None);
    }
    rows.write(output, out)?;
    Ok(())
}

async fn cmd_groups(conn: &ConnArgs, cmd: GroupsCmd, out: &mut dyn Write) -> Result<i32, Fail> {
    match cmd {
        GroupsCmd::List { output } => {
            let c = conn.connect()?;
            let groups = c.client.all_groups().await?;
            let mut rows = Rows::new(vec!["id", "displayName", "members"]);
            for g in &groups {
                rows.push(
                    vec![g.id().to_string(), g.name().to_string(), g.member_count().to_string()],
                    Some(serde_json::json!({"id": g.id, "displayName": g.display_name, "members": g.member_count()})),
                );
            }
            rows.write(output, out)?;
            Ok(exit::OK)
        }
        // The write commands connect through `bulk::writer` (read-only is refused before that).
        GroupsCmd::Create { name, members, run } => bulk::group_create(conn, &name, &members, &run).await,
        GroupsCmd::Rename { group, to, run } => bulk::group_rename(conn, &group, &to, &run).await,
        GroupsCmd::Delete { group, run } => bulk::group_delete(conn, &group, &run).await,
        GroupsCmd::Add { group, targets, run } => bulk::group_members(conn, &group, &targets, true, &run).await,
        GroupsCmd::Remove { group, targets, run } => bulk::group_members(conn, &group, &targets, false, &run).await,
        GroupsCmd::Show { group, output } => {
            let c = conn.connect()?;
            let g: Group = if crate::scim::types::is_valid_id(&group) && group.starts_with('S') {
                match c.client.get_group(&group).await {
                    Ok(g) => g,
                    Err(e) if e.is_not_found() => find_group(&c.client, &group).await?,
                    Err(e) => return Err(e.into()),
                }
            } else {
                find_group(&c.client, &group).await?
            };
            if output == OutputFormat::Json {
                writeln!(out, "{}", g.to_value(ApiVersion::V2))?;
                return Ok(exit::OK);
            }
            if output == OutputFormat::Table {
                writeln!(out, "{} ({}), {} members", crate::sanitize::clean(g.name()), g.id(), g.member_count())?;
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

async fn find_group(client: &ScimClient, name: &str) -> Result<Group, Fail> {
    client.find_group_by_name(name).await?.ok_or_else(|| Fail::new(exit::NOT_FOUND, format!("no group named {name:?}")))
}
