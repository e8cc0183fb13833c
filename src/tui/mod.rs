//! The console: a ratatui + crossterm interface over the SCIM client.
//!
//! - `app`: the state, the `Msg`/`Effect` enums and `App::update` (the one place state changes).
//! - `render`: `render(&App, &mut Frame)`, pure.
//! - `keys`: the keymap tables (dispatch and the `?` help both read them).
//! - `users`: the Users table model (store, filter, sort, selection).
//! - `theme`: TOML themes, `NO_COLOR`.
//! - `term`/`runtime`: the terminal guard and the event loop that runs effects on tokio tasks.

pub mod app;
pub mod keys;
pub mod render;
mod runtime;
pub mod term;
pub mod theme;
pub mod users;

pub use app::{App, Effect, LogEntry, Msg};
pub use runtime::run_with_client;

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
    let c = match conn.connect() {
        Ok(c) => c,
        Err(f) => {
            eprintln!("scimitar: {}", f.message);
            return f.code;
        }
    };
    let theme = theme.or_else(|| c.config.ui.theme.clone());
    run_with_client(c.client, theme).await
}

/// `scimitar demo`: the console against the embedded emulator (available once it is merged).
pub async fn run_demo(_args: crate::cli::DemoArgs, _theme: Option<String>) -> i32 {
    eprintln!("scimitar: the embedded emulator is not part of this build yet");
    crate::exit::USAGE
}

#[cfg(test)]
mod tests;
