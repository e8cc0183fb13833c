//! The store: where the journal, the provisioning report (its hash chain), sync state and runs,
//! quarantines and the per-org lease live. Two backends behind one small SQL interface:
//!
//! - **SQLite** (the default): one embedded file per OS account (`scimitar.db` in the data dir,
//!   [`crate::db`]), nothing to set up.
//! - **PostgreSQL** (`[store] url = "postgres://USER@HOST:PORT/DB"` in config.toml, or
//!   `SCIMITAR_STORE_URL`): one store a team shares, so the lease, the journal and the report are
//!   the org's, not one account's ([`pg`]).
//!
//! The domain modules (`queue::journal`, `report`, `sync::status`, [`lease`]) write their SQL
//! once against [`Sql`] and ask [`Dialect`] for the few places the two differ (the current time,
//! row locks, a substring test). Parameters are written `?1`, `?2`, ... (PostgreSQL gets `$1`,
//! `$2`). Values are SQLite's: integers, text, blobs and NULL ([`Value`], [`ValueRef`]); every
//! PostgreSQL column we define is `BIGINT`, `TEXT` or `BYTEA`.
//!
//! **Why the API is synchronous.** Everything used rusqlite synchronously already, also from
//! async code (through `spawn_blocking` where it matters). The PostgreSQL client (tokio-postgres)
//! runs its connection task on a small runtime of its own ([`pg`]); a call here hands the request
//! to it and waits on a plain future executor, so it works the same from a tokio worker, a
//! blocking thread or a plain thread, and never nests one tokio runtime in another.
//!
//! **Writes are serialised where order matters.** [`Store::write`] is one transaction: `BEGIN
//! IMMEDIATE` on SQLite (the file's write lock from the start), `BEGIN` on PostgreSQL, where the
//! statements that need order take a row lock (`Dialect::for_update`: the report chain's head row
//! when appending, the lease row when a fenced operation checks it).

pub mod lease;
pub mod pg;
mod sqlite;

pub use lease::{Fence, Holder, Lease, LeaseError, LeaseSpec, OrgKey};
pub use rusqlite::types::{Value, ValueRef};
pub use sqlite::Lite;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Which SQL the store speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Milliseconds since the unix epoch, by the store's clock (PostgreSQL: the server's, so that
    /// every host of a team agrees on when a lease expires).
    pub fn now_ms(self) -> &'static str {
        match self {
            Dialect::Sqlite => "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
            Dialect::Postgres => "CAST(floor(extract(epoch from clock_timestamp()) * 1000) AS BIGINT)",
        }
    }

    /// ` FOR UPDATE` after a SELECT that must hold its row until the transaction ends
    /// (PostgreSQL; SQLite's `BEGIN IMMEDIATE` already holds the whole file).
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// ` FOR SHARE`: the row may not change until the transaction ends, others may read it.
    pub fn for_share(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR SHARE",
        }
    }

    /// Null-safe equality.
    pub fn is(self) -> &'static str {
        match self {
            Dialect::Sqlite => "IS",
            Dialect::Postgres => "IS NOT DISTINCT FROM",
        }
    }

    /// `position of needle in haystack` (0: absent).
    pub fn instr(self, haystack: &str, needle: &str) -> String {
        match self {
            Dialect::Sqlite => format!("instr({haystack}, {needle})"),
            Dialect::Postgres => format!("strpos({haystack}, {needle})"),
        }
    }

    /// The UTC day (days since the unix epoch, rounded down) of a millisecond column.
    pub fn day_of(self, col: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{col} / 86400000 - ({col} % 86400000 < 0)"),
            Dialect::Postgres => format!("CAST(floor({col} / 86400000.0) AS BIGINT)"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
        }
    }
}

/// Why the store could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL answered with an error, or the connection broke.
    #[error("store (PostgreSQL at {at}): {message}")]
    Pg { at: String, message: String },
    /// The PostgreSQL server could not be reached (stopped, network): nothing was written.
    #[error(
        "store (PostgreSQL at {at}) is unreachable: {message}; nothing more is sent until it is back (`scimitar resume` finishes what is open)"
    )]
    Unreachable { at: String, message: String },
    /// The `[store]` settings are wrong (URL, password file, TLS).
    #[error("store: {0}")]
    Config(String),
    /// A column holds a value of another type than the code expects (a hand-edited file).
    #[error("column {col} holds {found}, expected {expected}")]
    Type { col: usize, expected: &'static str, found: &'static str },
    #[error("store schema version {found} is newer than this scimitar understands ({known}); upgrade scimitar")]
    TooNew { found: usize, known: usize },
    /// Internal: a row callback asked to stop (its own error is kept by the caller).
    #[error("stopped by the caller")]
    Stopped,
}

impl StoreError {
    /// The connection to a shared store broke or could not be made (worth saying plainly).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, StoreError::Unreachable { .. })
    }
}

/// One row of a query: its columns as SQLite values, borrowed.
pub trait Row {
    fn get(&self, i: usize) -> ValueRef<'_>;
}

/// Statements against one connection (or one transaction on it).
pub trait Sql {
    fn dialect(&self) -> Dialect;
    /// Run a statement; the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError>;
    /// Run a query and hand each row to `f`, in order, as it is read. `f` must not use the store.
    fn each(&mut self, sql: &str, params: &[Value], f: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>) -> Result<(), StoreError>;
    /// Run several statements without parameters (migrations).
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;
}

impl<'a> dyn Sql + 'a {
    /// The first row's value of `f`, if there is a row.
    pub fn first<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        f: impl FnOnce(&dyn Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut f = Some(f);
        let mut out = None;
        self.each(sql, params, &mut |r| {
            if let Some(f) = f.take() {
                out = Some(f(r)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Every row mapped by `f`.
    pub fn all<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        mut f: impl FnMut(&dyn Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.each(sql, params, &mut |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// One integer (a count, a sum); 0 when there is no row or it is NULL.
    pub fn int(&mut self, sql: &str, params: &[Value]) -> Result<i64, StoreError> {
        Ok(self.first(sql, params, |r| opt_int(r, 0))?.flatten().unwrap_or(0))
    }
}

fn type_name(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    }
}

/// Column `i` as an integer.
pub fn int(r: &dyn Row, i: usize) -> Result<i64, StoreError> {
    match r.get(i) {
        ValueRef::Integer(n) => Ok(n),
        v => Err(StoreError::Type { col: i, expected: "an integer", found: type_name(v) }),
    }
}

/// Column `i` as an integer or NULL.
pub fn opt_int(r: &dyn Row, i: usize) -> Result<Option<i64>, StoreError> {
    match r.get(i) {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(n) => Ok(Some(n)),
        v => Err(StoreError::Type { col: i, expected: "an integer", found: type_name(v) }),
    }
}

/// Column `i` as text.
pub fn text(r: &dyn Row, i: usize) -> Result<String, StoreError> {
    opt_text(r, i)?.ok_or(StoreError::Type { col: i, expected: "text", found: "NULL" })
}

/// Column `i` as text or NULL.
pub fn opt_text(r: &dyn Row, i: usize) -> Result<Option<String>, StoreError> {
    match r.get(i) {
        ValueRef::Null => Ok(None),
        ValueRef::Text(t) => Ok(Some(String::from_utf8_lossy(t).into_owned())),
        v => Err(StoreError::Type { col: i, expected: "text", found: type_name(v) }),
    }
}

/// A text parameter.
pub fn t(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

/// An optional text parameter (NULL for `None`).
pub fn ot(s: Option<impl Into<String>>) -> Value {
    s.map_or(Value::Null, |s| Value::Text(s.into()))
}

/// An integer parameter.
pub fn i(n: impl Into<i64>) -> Value {
    Value::Integer(n.into())
}

/// An optional integer parameter.
pub fn oi(n: Option<impl Into<i64>>) -> Value {
    n.map_or(Value::Null, |n| Value::Integer(n.into()))
}

/// Where the store is.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file (created 0600 in a 0700 folder when missing).
    Sqlite(PathBuf),
    /// An SQLite file a team on one host shares (`[store] sqlite_shared`): group-owned, no
    /// access for others (created 0660 in an existing folder; see [`crate::db::open_shared`]).
    SharedSqlite(PathBuf),
    /// A PostgreSQL server.
    Postgres(Box<pg::PgConfig>),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "Sqlite({})", p.display()),
            Location::SharedSqlite(p) => write!(f, "SharedSqlite({})", p.display()),
            Location::Postgres(c) => write!(f, "Postgres({})", c.shown()),
        }
    }
}

impl Location {
    /// What to call it in a message: the file, or `postgres://user@host:port/db` (never a password).
    pub fn shown(&self) -> String {
        match self {
            Location::Sqlite(p) | Location::SharedSqlite(p) => p.display().to_string(),
            Location::Postgres(c) => c.shown(),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Location::Sqlite(_) | Location::SharedSqlite(_) => Dialect::Sqlite,
            Location::Postgres(_) => Dialect::Postgres,
        }
    }
}

/// A handle on the store: cheap to clone (one connection shared by the clones). Open one per
/// job that reads or writes a lot at once (the console's Reports pane has its own), as with
/// SQLite files before.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

enum Inner {
    Sqlite(Mutex<rusqlite::Connection>),
    Pg(Box<pg::PgConn>),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.inner {
            Inner::Sqlite(_) => f.write_str("Store(SQLite)"),
            Inner::Pg(c) => write!(f, "Store({})", c.shown()),
        }
    }
}

impl Store {
    /// Open (creating and migrating if needed) the store at `loc`.
    pub fn open(loc: &Location) -> Result<Store, StoreError> {
        match loc {
            Location::Sqlite(path) => Store::sqlite(path),
            Location::SharedSqlite(path) => Ok(Store::from_connection(crate::db::open_shared(path)?)),
            Location::Postgres(cfg) => Store::postgres(cfg),
        }
    }

    /// The SQLite file at `path` ([`crate::db::open`]).
    pub fn sqlite(path: &Path) -> Result<Store, StoreError> {
        Ok(Store::from_connection(crate::db::open(path)?))
    }

    /// A private in-memory SQLite store with the full schema (tests, dry runs).
    pub fn in_memory() -> Result<Store, StoreError> {
        Ok(Store::from_connection(crate::db::open_in_memory()?))
    }

    /// An SQLite connection opened by [`crate::db::open`].
    pub fn from_connection(conn: rusqlite::Connection) -> Store {
        Store { inner: Arc::new(Inner::Sqlite(Mutex::new(conn))) }
    }

    /// A PostgreSQL server: connect, check its schema and bring it up to date.
    pub fn postgres(cfg: &pg::PgConfig) -> Result<Store, StoreError> {
        Ok(Store { inner: Arc::new(Inner::Pg(Box::new(pg::PgConn::open(cfg)?))) })
    }

    pub fn dialect(&self) -> Dialect {
        match &*self.inner {
            Inner::Sqlite(_) => Dialect::Sqlite,
            Inner::Pg(_) => Dialect::Postgres,
        }
    }

    /// The SQLite connection (tests and benches that look inside the file). Panics on PostgreSQL.
    pub fn sqlite_connection(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        match &*self.inner {
            Inner::Sqlite(c) => c.lock().unwrap_or_else(|e| e.into_inner()),
            Inner::Pg(_) => panic!("sqlite_connection() on a PostgreSQL store"),
        }
    }

    /// Statements outside a transaction (each commits on its own).
    pub fn with<T, E: From<StoreError>>(&self, f: impl FnOnce(&mut dyn Sql) -> Result<T, E>) -> Result<T, E> {
        match &*self.inner {
            Inner::Sqlite(c) => {
                let conn = c.lock().unwrap_or_else(|e| e.into_inner());
                f(&mut Lite(&conn))
            }
            Inner::Pg(c) => c.with(f),
        }
    }

    /// One transaction that writes: committed when `f` returns `Ok`, rolled back otherwise.
    /// SQLite: `BEGIN IMMEDIATE`; PostgreSQL: `BEGIN` (READ COMMITTED; statements that need an
    /// order lock their rows, see the module notes).
    pub fn write<T, E: From<StoreError>>(&self, f: impl FnOnce(&mut dyn Sql) -> Result<T, E>) -> Result<T, E> {
        match &*self.inner {
            Inner::Sqlite(c) => {
                let mut conn = c.lock().unwrap_or_else(|e| e.into_inner());
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(StoreError::from)?;
                let out = f(&mut Lite(&tx))?;
                tx.commit().map_err(StoreError::from)?;
                Ok(out)
            }
            Inner::Pg(c) => c.write(f),
        }
    }

    /// The database role the store connects as (PostgreSQL's `current_user`); `None` on SQLite.
    pub fn role(&self) -> Option<String> {
        match &*self.inner {
            Inner::Sqlite(_) => None,
            Inner::Pg(c) => c.role(),
        }
    }

    /// The schema version (migrations applied).
    pub fn schema_version(&self) -> Result<usize, StoreError> {
        match &*self.inner {
            Inner::Sqlite(c) => Ok(crate::db::schema_version(&c.lock().unwrap_or_else(|e| e.into_inner()))?),
            Inner::Pg(c) => c.schema_version(),
        }
    }
}

/// How often an SQLite store's watch asks whether another connection committed.
pub const SQLITE_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// A subscription to the store's changes ([`Store::watch`]): stops when dropped.
pub struct Watch {
    stop: Arc<std::sync::atomic::AtomicBool>,
    pg: Option<tokio::task::AbortHandle>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(h) = &self.pg {
            h.abort();
        }
    }
}

impl Store {
    /// Call `on_change` soon after another connection (another admin's console or command, the
    /// sync, another process of this account) commits to the store: on PostgreSQL when its
    /// `LISTEN` hears the store's triggers (records appended, approvals written); on SQLite when
    /// `PRAGMA data_version`, read every [`SQLITE_POLL`] on a read-only connection of its own,
    /// moves (a cheap read of a counter in the file's shared memory). Then read what is new
    /// ([`crate::report::ReportStore::after`], [`crate::approval::list`]). A private in-memory
    /// store has nobody else: nothing is called.
    pub fn watch(&self, on_change: impl Fn() + Send + Sync + 'static) -> Result<Watch, StoreError> {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        match &*self.inner {
            Inner::Pg(c) => {
                let h = pg::listen(c.config(), Arc::new(on_change))?;
                Ok(Watch { stop, pg: Some(h) })
            }
            Inner::Sqlite(c) => {
                let path = c.lock().unwrap_or_else(|e| e.into_inner()).path().filter(|p| !p.is_empty()).map(PathBuf::from);
                let Some(path) = path else { return Ok(Watch { stop, pg: None }) };
                let conn = rusqlite::Connection::open_with_flags(
                    &path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(std::time::Duration::from_secs(1))?;
                let version = |c: &rusqlite::Connection| c.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0)).ok();
                let mut last = version(&conn);
                let stop2 = stop.clone();
                std::thread::Builder::new()
                    .name("scimitar-store-watch".into())
                    .spawn(move || {
                        while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
                            std::thread::sleep(SQLITE_POLL);
                            let now = version(&conn);
                            if now.is_some() && now != last {
                                last = now;
                                on_change();
                            }
                        }
                    })
                    .map_err(|e| StoreError::Config(format!("cannot start the store's watch: {e}")))?;
                Ok(Watch { stop, pg: None })
            }
        }
    }
}

/// Milliseconds since the unix epoch by this host's clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
