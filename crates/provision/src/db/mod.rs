//! The embedded SQLite database shared by the action journal and the provisioning reports.
//!
//! One file (`scimitar.db` in the data dir, `env::Paths::database`), opened in WAL mode with `synchronous=FULL` so a committed
//! transaction survives a crash or power loss, and with a 10 s busy timeout so a console and a
//! headless run can write at the same time (SQLite serialises the writers; nobody loses a record).
//!
//! The schema is versioned with `PRAGMA user_version`: it is the number of entries of [`MIGRATIONS`]
//! applied so far. Adding a migration is appending one entry to that list.

use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

mod schema;
pub use schema::{MIGRATIONS, PG_MIGRATIONS};

/// The schema version whose migration stores the report compactly (see `schema::REPORT_COMPACT`).
const REPORT_COMPACT_VERSION: usize = 6;

/// Why the database could not be opened or used. (Every message names the file.)
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create {what} {}: {source}", path.display())]
    Create { what: &'static str, path: std::path::PathBuf, source: std::io::Error },
    #[error("cannot {what} database {}: {source}", path.display())]
    Open { what: &'static str, path: std::path::PathBuf, source: Box<DbError> },
    #[error("database schema version {found} is newer than this scimitar understands ({known}); upgrade scimitar")]
    TooNew { found: usize, known: usize },
    #[error("migration {number} failed: {source}")]
    Migration { number: usize, source: rusqlite::Error },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// Open (creating if needed) the database at `path` and bring its schema up to date.
///
/// A parent directory that does not exist yet is created with mode 0700 and a new database file
/// with mode 0600 (it holds names and email addresses); existing directories are left alone.
pub fn open(path: &Path) -> Result<Connection, DbError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::files::create_private_dir(parent).map_err(|source| DbError::Create { what: "directory", path: parent.into(), source })?;
    }
    crate::files::create_private_file(path).map_err(|source| DbError::Create { what: "database file", path: path.into(), source })?;
    let at = |what: &'static str| move |e: DbError| DbError::Open { what, path: path.into(), source: Box::new(e) };
    let conn = Connection::open(path).map_err(DbError::from).map_err(at("open"))?;
    configure(&conn).map_err(DbError::from).map_err(at("configure"))?;
    migrate(&conn).map_err(at("migrate"))?;
    Ok(conn)
}

/// Open (creating if needed) an SQLite file a team of OS accounts on one host shares
/// (`[store] sqlite_shared`): its folder must exist (it is the team's: a group's, setgid, `2770`);
/// a new file is created `0660`; an existing one must be a regular file with one name that others
/// (outside its group) can neither read nor write, and never a link. SQLite's locks serialise
/// the accounts' writers as they do one account's processes.
pub fn open_shared(path: &Path) -> Result<Connection, DbError> {
    crate::files::open_shared_file(path).map_err(|source| DbError::Create { what: "shared database file", path: path.into(), source })?;
    let at = |what: &'static str| move |e: DbError| DbError::Open { what, path: path.into(), source: Box::new(e) };
    let conn = Connection::open(path).map_err(DbError::from).map_err(at("open"))?;
    configure(&conn).map_err(DbError::from).map_err(at("configure"))?;
    migrate(&conn).map_err(at("migrate"))?;
    Ok(conn)
}

/// A private in-memory database with the full schema (tests, dry runs).
pub fn open_in_memory() -> Result<Connection, DbError> {
    let conn = Connection::open_in_memory()?;
    conn.pragma_update(None, "foreign_keys", true)?;
    migrate(&conn)?;
    Ok(conn)
}

/// The schema version of an open database (the number of migrations applied).
pub fn schema_version(conn: &Connection) -> rusqlite::Result<usize> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(v as usize)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // The busy timeout first: switching to WAL itself needs a lock another process may hold.
    conn.busy_timeout(Duration::from_secs(10))?;
    // SQLite does not call the busy handler for this switch when another process is creating
    // the same new database at that moment; it answers SQLITE_BUSY at once. Try again for up to
    // the busy timeout.
    let started = std::time::Instant::now();
    let mode: String = loop {
        match conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                    && started.elapsed() < Duration::from_secs(10) =>
            {
                std::thread::sleep(Duration::from_millis(5 + rand::random::<u64>() % 20));
            }
            r => break r?,
        }
    };
    if !mode.eq_ignore_ascii_case("wal") {
        // e.g. a network file system without shared memory: still correct, just not concurrent.
        tracing::warn!("database journal mode is {mode}, not WAL");
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // 32 MiB page cache (default 2 MiB): the report indexes are keyed by user, so inserts touch
    // pages all over them. (Measured on a loaded 2-core box: 14.4k -> 15.3k inserts/s at 1M rows,
    // within noise; kept because it costs little and helps large scans such as `verify`.)
    conn.pragma_update(None, "cache_size", -32_768)?;
    // The WAL file keeps the size of the largest transaction written through it (a batch of
    // report records touching pages all over the indexes, or a migration rewriting a table) until
    // the last connection closes; cut it back to 16 MiB when it starts over after a checkpoint.
    conn.pragma_update_and_check(None, "journal_size_limit", 16 * 1024 * 1024, |r| r.get::<_, i64>(0))?;
    Ok(())
}

fn migrate(conn: &Connection) -> Result<(), DbError> {
    // Cheap check outside a write lock first; most opens find the schema current.
    if schema_version(conn)? == MIGRATIONS.len() {
        return Ok(());
    }
    // Two processes may open a fresh database at once: take the write lock, then re-read.
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let current = schema_version(&tx)?;
    if current > MIGRATIONS.len() {
        return Err(DbError::TooNew { found: current, known: MIGRATIONS.len() });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.execute_batch(sql).map_err(|source| DbError::Migration { number: i + 1, source })?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    // Migration 6 rewrote the report table in about half the space; the old table's pages are
    // free but still part of the file until it is rebuilt. Once, after that migration, when there
    // was a table to rewrite (best effort: another process in the middle of a transaction makes
    // it wait the busy timeout, then it is left for later, nothing lost).
    if (1..REPORT_COMPACT_VERSION).contains(&current)
        && MIGRATIONS.len() >= REPORT_COMPACT_VERSION
        && let Err(e) = conn.execute_batch("VACUUM")
    {
        tracing::warn!("could not give the space of the old report table back (VACUUM): {e}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_creates_private_dir_and_migrates_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/sub/scimitar.db");
        let conn = open(&path).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len());
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        drop(conn);
        // a second open finds the schema current and does not re-run migration 1 (it would fail)
        let conn = open(&path).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(m(path.parent().unwrap()), 0o700);
            assert_eq!(m(&dir.path().join("data")), 0o700);
            assert_eq!(m(&path), 0o600);
        }
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scimitar.db");
        let conn = open(&path).unwrap();
        conn.pragma_update(None, "user_version", (MIGRATIONS.len() + 1) as i64).unwrap();
        drop(conn);
        let e = format!("{:#}", open(&path).unwrap_err());
        assert!(e.contains("newer than this scimitar"), "{e}");
    }
}
