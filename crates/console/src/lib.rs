//! The console: a ratatui + crossterm interface over the SCIM client.
//!
//! - `component`: the `Component` trait every pane and overlay implements (its state, keymap,
//!   hint bar, `update`, pure `render`), the context they get and the requests they make.
//! - `app`: `App` (what is global: the registry of panes, the active one, the overlay stack, the
//!   Log, the command line) and its router; the `Msg`/`Effect` enums.
//! - panes: `users`, `groups`, `policies`, `reports`; overlays: `help`, `detail` (user, record,
//!   change), `members`, `confirm` (the gate's decision), `prompt`, `queue_view`, `resume`,
//!   `apply_confirm`.
//! - `directory`: what several components show (loaded users and groups, marks); `queue`: the
//!   action queue's console state.
//! - `render`: the frame (tabs, Log, input line, status line) and shared drawing helpers.
//! - `theme`: TOML themes, `NO_COLOR`.
//! - `term`/`runtime`: the terminal guard and the event loop that runs effects on tokio tasks.
//!
//! The console gets its [`Environment`] (paths, config, profile, client, safety) from `main`, the
//! same way the headless commands do; `scimitar demo` builds one too, with its client pointed at
//! the embedded emulator and its data dir private to the run.

pub mod app;
pub mod apply_confirm;
pub mod approvals;
pub mod component;
pub mod confirm;
pub mod detail;
pub mod directory;
pub mod draw;
pub mod groups;
pub mod help;
pub mod lease_wait;
pub mod members;
pub mod msg;
pub mod picker;
pub mod policies;
pub mod policy_new;
pub mod prompt;
pub mod queue;
pub mod queue_flow;
mod queue_runner;
pub mod queue_view;
pub mod quit;
pub mod render;
pub mod reports;
pub mod resume;
mod runtime;
pub mod sync_approve;
pub mod term;
pub mod theme;
pub mod user_form;
pub mod users;

pub use app::{App, Effect, LogEntry, Msg};
pub use runtime::{ConsoleEnv, run_with_client, watch_store};

use provision::env::{EnvError, Environment};
use render::thousands;
use std::path::Path;

/// The most user pages the console has in flight while it loads the directory. Slack's read
/// budget (a burst of 1,000, then 1,000 a minute) lets a 100-page directory go out at once; 32
/// brings 100,000 users over a 400 ms link in about five round trips, where the headless
/// default (4) needs 25. The client's window still spends no more than the budget holds.
pub const LIST_CONCURRENCY: usize = 32;

/// How the console looks, from the front end's flags and environment.
#[derive(Clone, Debug, Default)]
pub struct UiOptions {
    /// `--theme` / `SCIMITAR_THEME`.
    pub theme: Option<String>,
    /// `NO_COLOR` is set (https://no-color.org): a monochrome screen whatever the theme says.
    pub no_color: bool,
    /// What the terminal shows (`TERM`, `COLORTERM`, `NO_COLOR`, the locale): the theme is
    /// brought down to its colours, and drawn in ASCII when the locale is not UTF-8.
    pub caps: theme::Caps,
    /// `--no-cache`: no local directory cache (neither read nor written).
    pub no_cache: bool,
    /// `$HOME`: `~/` in a path typed into the console.
    pub home: Option<std::path::PathBuf>,
    /// `$VISUAL`, else `$EDITOR`: the editor for `e` on a policy (`vi` when neither is set).
    pub editor: Option<String>,
}

/// Pick the theme: `--theme`, else the config's `ui.theme`, else `default`; `NO_COLOR` wins.
/// User themes come from `themes_dir`. The theme is fitted to the terminal (`caps`).
pub fn choose_theme(
    themes_dir: &Path,
    flag: Option<&str>,
    config: Option<&str>,
    no_color: bool,
    caps: theme::Caps,
) -> (theme::ThemeSet, theme::Theme, Option<String>) {
    let set = theme::ThemeSet::load(themes_dir);
    if no_color {
        return (set, theme::Theme::monochrome().fit(caps), None);
    }
    let name = flag.or(config).unwrap_or("default");
    match set.get(name) {
        Ok(t) => (set, t.fit(caps), None),
        Err(e) => (set, theme::Theme::default().fit(caps), Some(e)),
    }
}

/// How a console run ended when it was not an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The user quit.
    Quit,
    /// A signal (its number: SIGTERM, SIGHUP) ended the run; the terminal was restored.
    Signal(i32),
}

/// Why the console could not run (or stopped on an error). The front end maps each to its exit
/// code; the message is the variant's `Display`.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// stdin or stdout is not a terminal.
    #[error("the console needs a terminal; for scripts use the commands (scimitar --help)")]
    NotATerminal,
    /// The environment could not give a client (no token, bad config ...).
    #[error(transparent)]
    Env(#[from] EnvError),
    /// `demo`: the embedded emulator's listener could not be opened.
    #[error("cannot start the demo emulator: {0}")]
    DemoEmulator(std::io::Error),
    /// `demo`: no client for the embedded emulator.
    #[error("cannot connect to the demo emulator: {0}")]
    DemoClient(scim::ScimError),
    /// Reading from or drawing on the terminal failed.
    #[error("terminal error: {0}")]
    Terminal(#[from] std::io::Error),
}

/// `scimitar demo`'s options (the front end fills them from its flags).
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Users to seed the emulator with.
    pub users: usize,
    /// Groups to seed the emulator with.
    pub groups: usize,
    /// Seed for the generated directory (same seed, same people).
    pub seed: u64,
    /// Extra latency per emulator response, in milliseconds.
    pub latency_ms: u64,
    /// Multiply Slack's rate limits (emulator and client alike); 1 = real Slack.
    pub rate_scale: f64,
    /// Run without Slack's rate limits.
    pub no_rate_limit: bool,
    /// Do not write the demo HR export and its policy into the demo's data dir.
    pub no_policy: bool,
    /// The wire format the console speaks to the emulator (SCIM 2.0 when `None`).
    pub api: Option<scim::ApiVersion>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions { users: 5000, groups: 60, seed: 1, latency_ms: 0, rate_scale: 1.0, no_rate_limit: false, no_policy: false, api: None }
    }
}

/// `scimitar` with no command: the console against the environment's connection.
pub async fn run_console(env: Environment, ui: UiOptions) -> Result<Ended, ConsoleError> {
    run_in(env, ui, Vec::new(), None, true).await
}

/// The console in an environment, with lines for the Log pane to start with. `resumable`: a
/// batch stopped by quitting can be resumed later (not in the demo: its emulator goes away).
async fn run_in(
    env: Environment,
    ui: UiOptions,
    intro: Vec<String>,
    news: Option<runtime::News>,
    resumable: bool,
) -> Result<Ended, ConsoleError> {
    let client = env.client()?.clone();
    let setup = queue_runner::QueueSetup::from_env(&env);
    let mut console = ConsoleEnv::from_env(&env);
    console.resumable = resumable;
    if ui.no_cache {
        console.cache = None;
    }
    console.news = news;
    // `sync approve` from the Policies pane runs the domain's own function, which takes the
    // whole environment.
    console.full = Some(std::sync::Arc::new(env));
    runtime::run_with_queue(client, ui, intro, setup, console).await
}

/// `scimitar demo`: start the embedded emulator on a free loopback port with a random token,
/// then open the console against it. `env` is built as for any run (so the config's `[ui]`
/// settings and themes apply); its connection and profile are replaced by the emulator's.
/// `own_data_dir`: the data dir is the demo's own (then the demo policy is written there).
pub async fn run_demo(args: DemoOptions, env: Environment, ui: UiOptions, own_data_dir: bool) -> Result<Ended, ConsoleError> {
    use emulator::{Emulator, EmulatorConfig, Faults, RateLimitMode};
    use scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret};
    let token = format!("xoxp-demo-{:032x}", rand::random::<u128>());
    let config = EmulatorConfig {
        users: args.users,
        groups: args.groups,
        seed: args.seed,
        token: token.clone(),
        // Slack's documented limits, so bulk work in the demo runs at the real rate.
        rate_limit: if args.no_rate_limit { RateLimitMode::Off } else { RateLimitMode::Slack { scale: args.rate_scale } },
        latency: std::time::Duration::from_millis(args.latency_ms),
        faults: Faults::default(),
    };
    // The console draws its first frame before the emulator has seeded its users: the listener
    // is bound first (so the URL is known), the seed runs in the background, and the console's
    // first requests wait in the listener's backlog until it serves.
    let listener =
        tokio::net::TcpListener::bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await.map_err(ConsoleError::DemoEmulator)?;
    let addr = listener.local_addr().map_err(ConsoleError::DemoEmulator)?;
    // `--api v1` speaks SCIM 1.1 to the emulator (it serves both); `--url` is refused (`cli`).
    let version = args.api.unwrap_or(ApiVersion::V2);
    let url = format!("http://{addr}/scim/{}/", version.path_segment());
    let client = ClientConfig::new(&url, Secret::new(token), version)
        .and_then(|mut cc| {
            cc.rate_limit = if args.no_rate_limit { RateLimit::Off } else { RateLimit::Slack { scale: args.rate_scale } };
            // The emulator makes each page in this process: a few pages in flight keep both ends
            // busy without holding dozens of pages at once.
            cc.list_concurrency = DEMO_LIST_CONCURRENCY;
            ScimClient::new(cc)
        })
        .map_err(ConsoleError::DemoClient)?;
    let data_dir = env.paths.data_dir.clone();
    let write_policy = own_data_dir && !args.no_policy;
    let seed = args.seed;
    // The emulator answers once its first users are seeded (the console shows them at once)
    // and seeds the rest meanwhile; then the console loads everything again, and the demo policy
    // is derived from the whole directory. The Log says each step.
    let (news, news_rx) = runtime::News::channel();
    let (users, groups) = (args.users, args.groups);
    let emu_task = tokio::spawn(async move {
        use app::{Msg, Reload};
        let (emu, seeding) = Emulator::serve_seeding(config, listener, DEMO_FIRST_USERS).await?;
        if seeding.await.is_err() {
            return Err(std::io::Error::other("seeding the emulator stopped"));
        }
        if users > DEMO_FIRST_USERS {
            let text = format!("demo: the emulator has seeded all {} users and {} groups; loading them", thousands(users as u64), groups);
            let _ = news.send(Msg::News { text, reload: Reload::Grown });
        }
        if write_policy {
            let text = demo_policy(&emu, seed, &data_dir).await;
            let _ = news.send(Msg::News { text, reload: Reload::Pane("Policies") });
        }
        Ok::<_, std::io::Error>(emu)
    });
    // The demo acts on its own emulated org: the real profile's rules and name do not apply.
    let mut env = env.with_client(client);
    env.paths = demo_paths(env.paths);
    env.profile_name = "demo".into();
    env.profile = Default::default();
    env.safety = provision::queue::Safety::default().with_read_only(env.read_only);
    let mut intro = vec![format!(
        "demo: embedded Slack SCIM emulator at {url} with {} and {} (seed {})",
        render::counted(args.users, "user"),
        render::counted(args.groups, "group"),
        args.seed
    )];
    if args.users > DEMO_FIRST_USERS {
        intro.push(format!(
            "demo: seeding {} users; the first {} are shown as soon as they are there, the rest when all are",
            thousands(args.users as u64),
            thousands(DEMO_FIRST_USERS as u64)
        ));
    }
    if own_data_dir && !args.no_policy {
        intro.push("demo: the HR export and policy demo-hr are written to the data dir once the emulator is seeded".into());
    }
    // A batch stopped by quitting the demo cannot be resumed: its emulator (and, by default,
    // its data dir) goes away with it.
    let ended = run_in(env, ui, intro, Some(news_rx), false).await;
    match emu_task.await {
        Ok(Ok(emu)) => emu.shutdown().await,
        Ok(Err(e)) => eprintln!("scimitar: the demo emulator did not start: {e}"),
        Err(_) => {}
    }
    ended
}

/// The demo's paths: the config dir is still read (its `[ui]` settings, themes and policies),
/// but a new policy (`n` in the Policies pane) is written to the demo's data dir (where the
/// demo policy is), so the demo never writes into the real config folder.
pub fn demo_paths(mut paths: provision::env::Paths) -> provision::env::Paths {
    paths.policies = Some(paths.data_dir.join("policies"));
    paths
}

/// Pages the demo's console asks its (in-process) emulator for at once.
const DEMO_LIST_CONCURRENCY: usize = 4;

/// The demo's emulator answers once this many users are seeded (a larger org is seeded on
/// meanwhile, see `run_demo`).
const DEMO_FIRST_USERS: usize = 2_000;

/// Write the demo's HR export and policy into the data dir; the Log line saying what it holds.
async fn demo_policy(emu: &emulator::Emulator, seed: u64, dir: &Path) -> String {
    let dir = dir.to_path_buf();
    let emu = emu.clone();
    // Read in place (no copy of the directory), off the async workers.
    let written = tokio::task::spawn_blocking(move || {
        emu.with_directory(|users, groups| provision::policy::demo::write_from(users, groups, &dir, seed))
    })
    .await
    .unwrap_or_else(|e| Err(provision::policy::demo::DemoError::Io(std::io::Error::other(e.to_string()))));
    match written {
        Ok((path, s)) => format!(
            "demo: policy {} over demo-hr.csv: {} new hires, {} left, {} on leave, {} changed title or department, {} returning, {} joining {} (3 Policies)",
            path.display(),
            s.hires.len(),
            s.left.len(),
            s.disabled.len(),
            s.changed.len(),
            usize::from(s.returning.is_some()),
            s.oncall_adds,
            provision::policy::demo::ONCALL_SLACK
        ),
        Err(e) => format!("demo: no demo policy: {e}"),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod queue_tests;

#[cfg(test)]
pub(crate) mod approvals_tests;

#[cfg(test)]
mod panes_tests;

#[cfg(test)]
mod snapshots;

#[cfg(test)]
mod form_tests;

#[cfg(test)]
mod dialog_tests;
