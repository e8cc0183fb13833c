//! The console: a ratatui + crossterm interface over the SCIM client.
//!
//! - `app`: the state, the `Msg`/`Effect` enums and `App::update` (the one place state changes).
//! - `render`: `render(&App, &mut Frame)`, pure.
//! - `keys`: the keymap tables (dispatch and the `?` help both read them).
//! - `users`: the Users table model (store, filter, sort, selection).
//! - `theme`: TOML themes, `NO_COLOR`.
//! - `term`/`runtime`: the terminal guard and the event loop that runs effects on tokio tasks.

pub mod app;
pub mod confirm;
pub mod keys;
pub mod policies;
pub mod queue;
mod queue_runner;
pub mod render;
pub mod reports;
mod runtime;
pub mod term;
pub mod theme;
pub mod users;

pub use app::{App, Effect, LogEntry, Msg};
pub use runtime::{ConsoleEnv, run_with_client};

use crate::cli::ConnArgs;

/// Pick the theme: `--theme`, else the config's `ui.theme`, else `default`; `NO_COLOR` wins.
pub fn choose_theme(flag: Option<&str>, config: Option<&str>) -> (theme::ThemeSet, theme::Theme, Option<String>) {
    let set = theme::ThemeSet::load(&crate::paths::config_dir().join("themes"));
    if theme::no_color() {
        return (set, theme::Theme::monochrome(), None);
    }
    let name = flag.or(config).unwrap_or("default");
    match set.get(name) {
        Ok(t) => (set, t, None),
        Err(e) => (set, theme::Theme::default(), Some(e)),
    }
}

/// `scimitar` with no command: the console against the configured URL and token.
pub async fn run_console(conn: &ConnArgs, theme: Option<String>) -> i32 {
    run_console_opts(conn, theme, false).await
}

/// `run_console`, with `--read-only` (every write refused).
pub async fn run_console_opts(conn: &ConnArgs, theme: Option<String>, read_only: bool) -> i32 {
    let c = match conn.connect() {
        Ok(c) => c,
        Err(f) => {
            eprintln!("scimitar: {}", f.message);
            return f.code;
        }
    };
    let theme = theme.or_else(|| c.config.ui.theme.clone());
    let mut setup = queue_runner::QueueSetup::from_connection(&c);
    setup.safety.read_only |= read_only;
    let env = ConsoleEnv { profile: c.profile_name.clone(), ..ConsoleEnv::default() };
    runtime::run_with_queue(c.client, theme, Vec::new(), setup, env).await
}

/// `scimitar demo`: start the embedded emulator on a free loopback port with a random token,
/// then open the console against it.
pub async fn run_demo(args: crate::cli::DemoArgs, theme: Option<String>) -> i32 {
    run_demo_opts(args, theme, false).await
}

/// `run_demo`, with `--read-only` (every write refused).
pub async fn run_demo_opts(args: crate::cli::DemoArgs, theme: Option<String>, read_only: bool) -> i32 {
    use crate::emulator::{Emulator, EmulatorConfig, Faults, RateLimitMode};
    use crate::scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret};
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
    let emu = match Emulator::start(config, std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("scimitar: cannot start the demo emulator: {e}");
            return crate::exit::FAILURE;
        }
    };
    let url = emu.base_url(ApiVersion::V2);
    let client = match ClientConfig::new(&url, Secret::new(token), ApiVersion::V2).and_then(|mut cc| {
        cc.rate_limit = if args.no_rate_limit { RateLimit::Off } else { RateLimit::Slack { scale: args.rate_scale } };
        ScimClient::new(cc)
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("scimitar: cannot connect to the demo emulator: {e}");
            return crate::exit::FAILURE;
        }
    };
    let mut intro = vec![format!(
        "demo: embedded Slack SCIM emulator at {url} with {} users and {} groups (seed {})",
        args.users, args.groups, args.seed
    )];
    if args.own_data_dir && !args.no_policy {
        intro.push(demo_policy(&emu, args.seed).await);
    }
    let mut setup = queue_runner::QueueSetup::in_data_dir("demo", &client.host());
    setup.safety.read_only = read_only;
    let env = ConsoleEnv { profile: "demo".into(), ..ConsoleEnv::default() };
    let code = runtime::run_with_queue(client, theme, intro, setup, env).await;
    emu.shutdown().await;
    code
}

/// Write the demo's HR export and policy into the data dir; the Log line saying what it holds.
async fn demo_policy(emu: &crate::emulator::Emulator, seed: u64) -> String {
    let dir = crate::paths::data_dir();
    let (users, groups) = emu.snapshot();
    let written = tokio::task::spawn_blocking(move || crate::policy::demo::write_from(&users, &groups, &dir, seed))
        .await
        .unwrap_or_else(|e| Err(crate::policy::demo::DemoError::Io(std::io::Error::other(e.to_string()))));
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
            crate::policy::demo::ONCALL_SLACK
        ),
        Err(e) => format!("demo: no demo policy: {e}"),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod queue_tests;

#[cfg(test)]
mod panes_tests;
