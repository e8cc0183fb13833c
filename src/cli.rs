//! The router: the clap tree's root (`Cli`: the global flags, read once into `env::Inputs` and
//! the console's `UiOptions`) and `run`, which sends each command to its file under `commands/`.
//! Data goes to stdout (`--output table|json|csv`), diagnostics to stderr, and the exit code says
//! what happened (`exit`, `command_error`).

use crate::bulk;
use crate::command_error::Fail;
use crate::commands::{self, Command, cache::CacheCmd, is_read};
use crate::env::{Actor, Environment, Inputs};
use crate::exit;
use crate::flags::{ConnArgs, DEFAULT_READ_DEADLINE, ENV_CONFIG_DIR, ENV_DATA_DIR, ENV_NO_COLOR, ENV_TOKEN, RateLimitFlag};
use crate::scim::ScimError;
use clap::Parser;
use std::io::Write;
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
    /// The console neither reads nor writes the local directory cache (also `[ui] cache = false`)
    #[arg(long, global = true)]
    pub no_cache: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

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

async fn run_command(env: &Environment, command: Command, out: &mut dyn Write) -> Result<i32, Fail> {
    match command {
        Command::Check(a) => commands::check::run(env, a, out).await,
        Command::Users(c) => commands::users::run(env, c, out).await,
        Command::Groups(c) => commands::groups::run(env, c, out).await,
        Command::Restore { batch, user, deactivate_created, run } => {
            commands::edit::restore_command(env, batch.as_deref(), user.as_deref(), deactivate_created, &run).await
        }
        Command::Resume { batch, retry_failed, run } => bulk::resume(env, batch.as_deref(), retry_failed, &run).await,
        Command::Plan { policy, output } => commands::policy::plan(env, &policy, output, out).await,
        Command::Apply { policy, run } => commands::policy::apply(env, &policy, &run).await,
        Command::Sync(args) => commands::sync::run(env, args).await,
        Command::Approvals(args) => commands::approvals::run(env, args, out).await,
        Command::Emulator(args) => commands::emulator::run(args).await,
        Command::Store(c) => commands::store::run(env, c, out),
        Command::Report(args) => commands::report::run_in(env, args, out),
        Command::Demo(_) => Err(Fail::new(exit::USAGE, "demo opens the console; run it from the scimitar binary")),
        Command::Cache(CacheCmd::Clear { all }) => commands::cache::clear(env, all, out),
        Command::Completions { shell, .. } => commands::docs::completions(shell, <Cli as clap::CommandFactory>::command(), out),
        Command::Man { dir, .. } => commands::docs::man(<Cli as clap::CommandFactory>::command(), dir.as_deref(), out),
    }
}
