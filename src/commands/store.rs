//! `scimitar store ...`: where the store is, and `store migrate` (SQLite -> PostgreSQL).

use crate::command_error::{Fail, store_exit_code};
use crate::env::Environment;
use crate::exit;
use crate::output::OutputFormat;
use clap::Subcommand;
use std::io::Write;
use std::path::PathBuf;

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

pub fn run(env: &Environment, cmd: StoreCmd, out: &mut dyn Write) -> Result<i32, Fail> {
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
