//! The PostgreSQL backend: a team's shared store.
//!
//! ```toml
//! [store]
//! url = "postgres://scimitar_ann@db.corp.example:5432/scimitar"   # SCIMITAR_STORE_URL overrides
//! password_file = "/home/ann/.scimitar-db.pw"   # owner-only (chmod 600), or:
//! # password_command = "pass show scimitar/db"
//! # ca_file = "/etc/ssl/corp-ca.pem"            # a private CA for the server's certificate
//! ```
//!
//! - **TLS** verifies the server's certificate (the system's roots, plus `ca_file`) and its name
//!   for every host that is not loopback; plain TCP is allowed only to 127.0.0.1/::1/localhost
//!   (`tls = "require"` asks for TLS there too; `tls = "off"` is refused for any other host).
//! - **The password** never comes from the URL (a URL with one is refused: URLs end up in shell
//!   history and process lists); it is read when connecting, registered for redaction, and never
//!   printed (`Debug` shows `postgres://user@host:port/db`).
//! - **One connection per [`PgConn`]**, driven by a small tokio runtime of our own (one worker
//!   thread shared by every connection of the process). A call hands its request to that
//!   connection and waits on a plain future executor (`futures::executor::block_on`), so the
//!   store is usable from anywhere, including inside the console's or a command's tokio runtime.
//! - **A broken connection** (the server stopped, the network) fails the call with
//!   [`StoreError::Unreachable`]; the next call connects again.
//! - **Migrations** (`db::schema::PG_MIGRATIONS`) run in one transaction under an advisory lock,
//!   and the version is kept in `scimitar_schema`.

use super::{Dialect, Row, Sql, StoreError, Value, ValueRef};
use scim::Secret;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Statement};

/// How the password is found.
#[derive(Clone, PartialEq, Eq)]
pub enum Password {
    None,
    File(PathBuf),
    Command(String),
}

/// When to use TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// TLS for every host but loopback (the default).
    #[default]
    Auto,
    /// TLS always, loopback included.
    Require,
    /// Plain TCP: only to loopback.
    Off,
}

/// A PostgreSQL store's settings (from `[store]` and `SCIMITAR_STORE_URL`).
#[derive(Clone, PartialEq, Eq)]
pub struct PgConfig {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub password: Password,
    pub tls: TlsMode,
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

/// Whether a host name is this machine.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl PgConfig {
    /// Parse `postgres://USER@HOST[:PORT]/DB` (also `postgresql://`).
    pub fn parse(url: &str) -> Result<PgConfig, StoreError> {
        let bad = |why: &str| StoreError::Config(format!("store url {:?}: {why}", shown_url(url)));
        let u = url::Url::parse(url.trim()).map_err(|e| bad(&e.to_string()))?;
        if !matches!(u.scheme(), "postgres" | "postgresql") {
            return Err(bad("expected postgres://USER@HOST:PORT/DB"));
        }
        if u.password().is_some() {
            return Err(bad(
                "a password in the URL is refused (it would show in shell history and process lists); use password_file or password_command",
            ));
        }
        let host = u.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("no host"))?.to_string();
        let user = percent(u.username());
        if user.is_empty() {
            return Err(bad("no user (postgres://USER@HOST:PORT/DB)"));
        }
        let dbname = percent(u.path().trim_start_matches('/'));
        if dbname.is_empty() || dbname.contains('/') {
            return Err(bad("no database name (postgres://USER@HOST:PORT/DB)"));
        }
        if u.query().is_some_and(|q| !q.is_empty()) {
            return Err(bad("options after `?` are not read; use [store] settings (tls, ca_file, password_file)"));
        }
        Ok(PgConfig {
            host,
            port: u.port().unwrap_or(5432),
            user,
            dbname,
            password: Password::None,
            tls: TlsMode::Auto,
            ca_file: None,
            connect_timeout: Duration::from_secs(10),
        })
    }

    /// `postgres://user@host:port/db` (never a password).
    pub fn shown(&self) -> String {
        let host = if self.host.contains(':') && !self.host.starts_with('[') { format!("[{}]", self.host) } else { self.host.clone() };
        format!("postgres://{}@{host}:{}/{}", self.user, self.port, self.dbname)
    }

    fn at(&self) -> String {
        self.shown()
    }

    /// Whether this connection uses TLS; `Err` for plain TCP to a host that is not loopback.
    pub fn uses_tls(&self) -> Result<bool, StoreError> {
        match self.tls {
            TlsMode::Require => Ok(true),
            TlsMode::Auto => Ok(!is_loopback(&self.host)),
            TlsMode::Off if is_loopback(&self.host) => Ok(false),
            TlsMode::Off => Err(StoreError::Config(format!(
                "tls = \"off\" is allowed only to a loopback host, not {}: the password and employee data would cross the network in clear",
                self.host
            ))),
        }
    }
}

fn percent(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// A URL as it may be shown: without anything after `:` in the user part.
fn shown_url(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "(unparsable)".into(),
    }
}

impl Password {
    /// Read it (never printed; registered for redaction).
    fn read(&self) -> Result<Option<Secret>, StoreError> {
        match self {
            Password::None => Ok(None),
            Password::File(path) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let meta = std::fs::metadata(path)
                        .map_err(|e| StoreError::Config(format!("cannot read password_file {}: {e}", path.display())))?;
                    if meta.permissions().mode() & 0o077 != 0 {
                        return Err(StoreError::Config(format!(
                            "password_file {0} is open to group or others; run: chmod 600 {0}",
                            path.display()
                        )));
                    }
                }
                let text = std::fs::read_to_string(path)
                    .map_err(|e| StoreError::Config(format!("cannot read password_file {}: {e}", path.display())))?;
                let pw = Secret::new(text);
                if pw.is_empty() {
                    return Err(StoreError::Config(format!("password_file {} is empty", path.display())));
                }
                Ok(Some(pw))
            }
            Password::Command(command) => {
                let program = command.split_whitespace().next().unwrap_or("").to_string();
                let out = crate::child::command("sh")
                    .arg("-c")
                    .arg(command)
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .output()
                    .map_err(|e| StoreError::Config(format!("password_command ({program}) could not run: {e}")))?;
                if !out.status.success() {
                    return Err(StoreError::Config(format!("password_command ({program}) failed: {}", out.status)));
                }
                let pw = Secret::new(String::from_utf8_lossy(&out.stdout).to_string());
                if pw.is_empty() {
                    return Err(StoreError::Config(format!("password_command ({program}) printed nothing")));
                }
                Ok(Some(pw))
            }
        }
    }
}

/// The runtime that drives every PostgreSQL connection of this process.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("scimitar-pg")
            .enable_all()
            .build()
            .expect("a tokio runtime for the store's connections")
    })
}

fn tls_config(cfg: &PgConfig) -> Result<rustls::ClientConfig, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = &cfg.ca_file {
        use rustls::pki_types::pem::PemObject;
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| StoreError::Config(format!("ca_file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(StoreError::Config(format!("ca_file {} holds no certificate", path.display())));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| StoreError::Config(format!("ca_file {}: {e}", path.display())))?;
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A live connection and its prepared statements.
struct Live {
    client: Client,
    stmts: HashMap<String, Statement>,
    role: String,
}

/// One connection to the server (made again after it breaks).
pub struct PgConn {
    cfg: PgConfig,
    live: Mutex<Option<Live>>,
}

fn pg_error(at: &str, e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        return StoreError::Pg { at: at.into(), message: format!("{} ({})", db.message(), db.code().code()) };
    }
    if e.is_closed() || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()) {
        return StoreError::Unreachable { at: at.into(), message: e.to_string() };
    }
    StoreError::Pg { at: at.into(), message: e.to_string() }
}

/// How long the server lets a session sit idle inside a transaction before ending it
/// (`idle_in_transaction_session_timeout`, set on every connection).
pub const IDLE_IN_TRANSACTION: Duration = Duration::from_secs(5);

/// The channel the store's triggers notify when records or approvals are written
/// (`db::schema::PG_CHANGES`): what [`listen`] hears.
pub const CHANGES_CHANNEL: &str = "scimitar_changes";

/// `LISTEN` on [`CHANGES_CHANNEL`] over a connection of its own (made again after it breaks,
/// every second): `on_change` is called on each notification (once per transaction that wrote).
/// Stops when the returned handle is aborted.
pub fn listen(cfg: &PgConfig, on_change: std::sync::Arc<dyn Fn() + Send + Sync>) -> Result<tokio::task::AbortHandle, StoreError> {
    let (c, tls_cfg) = pg_config(cfg)?;
    let task = runtime().spawn(async move {
        use futures::StreamExt;
        loop {
            let run = async {
                let (client, mut messages) = match tls_cfg.clone() {
                    Some(t) => {
                        let mut c = c.clone();
                        c.ssl_mode(tokio_postgres::config::SslMode::Require);
                        let (client, mut conn) = c.connect(tokio_postgres_rustls::MakeRustlsConnect::new(t)).await?;
                        let s = futures::stream::poll_fn(move |cx| conn.poll_message(cx)).boxed();
                        (client, s)
                    }
                    None => {
                        let mut c = c.clone();
                        c.ssl_mode(tokio_postgres::config::SslMode::Disable);
                        let (client, mut conn) = c.connect(tokio_postgres::NoTls).await?;
                        let s = futures::stream::poll_fn(move |cx| conn.poll_message(cx)).boxed();
                        (client, s)
                    }
                };
                // The connection's messages must be polled for the LISTEN to be answered.
                let sql = format!("LISTEN {CHANGES_CHANNEL}");
                let listen = client.batch_execute(&sql);
                let mut listen = std::pin::pin!(listen);
                let mut listening = false;
                loop {
                    tokio::select! {
                        r = &mut listen, if !listening => {
                            r?;
                            listening = true;
                            // Whatever was written while (re)connecting.
                            on_change();
                        }
                        m = messages.next() => match m {
                            Some(Ok(tokio_postgres::AsyncMessage::Notification(_))) => on_change(),
                            Some(Ok(_)) => {}
                            Some(Err(e)) => return Err(e),
                            None => return Ok::<(), tokio_postgres::Error>(()),
                        },
                    }
                }
            };
            let _ = run.await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    Ok(task.abort_handle())
}

/// The client's settings for `cfg` (password read now) and its TLS, if it speaks TLS.
fn pg_config(cfg: &PgConfig) -> Result<(tokio_postgres::Config, Option<rustls::ClientConfig>), StoreError> {
    let tls = cfg.uses_tls()?;
    let password = cfg.password.read()?;
    let mut c = tokio_postgres::Config::new();
    c.host(&cfg.host)
        .port(cfg.port)
        .user(&cfg.user)
        .dbname(&cfg.dbname)
        .application_name("scimitar")
        .connect_timeout(cfg.connect_timeout)
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30));
    if let Some(pw) = &password {
        c.password(pw.expose());
    }
    Ok((c, if tls { Some(tls_config(cfg)?) } else { None }))
}

fn connect(cfg: &PgConfig) -> Result<Live, StoreError> {
    let at = cfg.at();
    let tls = cfg.uses_tls()?;
    let password = cfg.password.read()?;
    let mut c = tokio_postgres::Config::new();
    c.host(&cfg.host)
        .port(cfg.port)
        .user(&cfg.user)
        .dbname(&cfg.dbname)
        .application_name("scimitar")
        .connect_timeout(cfg.connect_timeout)
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30))
        // A client stopped inside a transaction (SIGSTOP, a hung host) must not hold its row locks
        // (the lease's, the report chain's head) for ever: the server ends such a session, its
        // transaction rolls back, and the other writers go on; the stopped one, continued, finds
        // its connection gone and its lease lost. Our transactions never wait on the client.
        .options(format!("-c idle_in_transaction_session_timeout={}", IDLE_IN_TRANSACTION.as_millis()));
    if let Some(pw) = &password {
        c.password(pw.expose());
    }
    let tls_cfg = if tls { Some(tls_config(cfg)?) } else { None };
    let made = runtime().spawn(async move {
        match tls_cfg {
            Some(t) => {
                c.ssl_mode(tokio_postgres::config::SslMode::Require);
                let (client, conn) = c.connect(tokio_postgres_rustls::MakeRustlsConnect::new(t)).await?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok::<Client, tokio_postgres::Error>(client)
            }
            None => {
                c.ssl_mode(tokio_postgres::config::SslMode::Disable);
                let (client, conn) = c.connect(tokio_postgres::NoTls).await?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok(client)
            }
        }
    });
    let client = futures::executor::block_on(made)
        .map_err(|e| StoreError::Unreachable { at: at.clone(), message: e.to_string() })?
        .map_err(|e| match pg_error(&at, e) {
            StoreError::Pg { at, message } => StoreError::Unreachable { at, message },
            other => other,
        })?;
    let role: String =
        futures::executor::block_on(client.query_one("SELECT CAST(current_user AS TEXT)", &[])).map_err(|e| pg_error(&at, e))?.get(0);
    Ok(Live { client, stmts: HashMap::new(), role })
}

/// `?1` → `$1` (our SQL holds no `?` elsewhere).
fn dollars(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// A parameter as PostgreSQL wants it for the type the statement expects.
#[derive(Debug)]
struct PgVal<'a>(&'a Value);

impl ToSql for PgVal<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(n) => match *ty {
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                Type::FLOAT8 => (*n as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => n.to_string().to_sql(ty, out),
                _ => n.to_sql(ty, out),
            },
            Value::Real(f) => f.to_sql(ty, out),
            Value::Text(s) => match *ty {
                Type::BYTEA => s.as_bytes().to_sql(ty, out),
                _ => s.as_str().to_sql(ty, out),
            },
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

struct PgRow<'a>(&'a tokio_postgres::Row);

impl Row for PgRow<'_> {
    fn get(&self, i: usize) -> ValueRef<'_> {
        let r = self.0;
        let Some(col) = r.columns().get(i) else { return ValueRef::Null };
        let v = match *col.type_() {
            Type::INT8 => r.try_get::<_, Option<i64>>(i).ok().flatten().map(ValueRef::Integer),
            Type::INT4 => r.try_get::<_, Option<i32>>(i).ok().flatten().map(|n| ValueRef::Integer(n.into())),
            Type::INT2 => r.try_get::<_, Option<i16>>(i).ok().flatten().map(|n| ValueRef::Integer(n.into())),
            Type::BOOL => r.try_get::<_, Option<bool>>(i).ok().flatten().map(|b| ValueRef::Integer(b.into())),
            Type::FLOAT8 => r.try_get::<_, Option<f64>>(i).ok().flatten().map(ValueRef::Real),
            Type::BYTEA => r.try_get::<_, Option<&[u8]>>(i).ok().flatten().map(ValueRef::Blob),
            _ => r.try_get::<_, Option<&str>>(i).ok().flatten().map(|s| ValueRef::Text(s.as_bytes())),
        };
        v.unwrap_or(ValueRef::Null)
    }
}

/// A connection or a transaction on it.
enum On<'a> {
    Client(&'a Client),
    Tx(&'a tokio_postgres::Transaction<'a>),
}

/// [`Sql`] over one PostgreSQL connection.
struct PgSql<'a> {
    on: On<'a>,
    stmts: &'a mut HashMap<String, Statement>,
    at: &'a str,
}

impl PgSql<'_> {
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        let text = dollars(sql);
        let st = match &self.on {
            On::Client(c) => futures::executor::block_on(c.prepare(&text)),
            On::Tx(t) => futures::executor::block_on(t.prepare(&text)),
        }
        .map_err(|e| pg_error(self.at, e))?;
        self.stmts.insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

impl Sql for PgSql<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let st = self.statement(sql)?;
        let vals: Vec<PgVal<'_>> = params.iter().map(PgVal).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = vals.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        match &self.on {
            On::Client(c) => futures::executor::block_on(c.execute(&st, &refs)),
            On::Tx(t) => futures::executor::block_on(t.execute(&st, &refs)),
        }
        .map_err(|e| pg_error(self.at, e))
    }

    fn each(&mut self, sql: &str, params: &[Value], f: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>) -> Result<(), StoreError> {
        use futures::StreamExt;
        let st = self.statement(sql)?;
        let vals: Vec<PgVal<'_>> = params.iter().map(PgVal).collect();
        let stream = match &self.on {
            On::Client(c) => futures::executor::block_on(c.query_raw(&st, vals.iter())),
            On::Tx(t) => futures::executor::block_on(t.query_raw(&st, vals.iter())),
        }
        .map_err(|e| pg_error(self.at, e))?;
        let mut stream = Box::pin(stream);
        // One row at a time, each handed to `f` outside the executor.
        while let Some(row) = futures::executor::block_on(stream.next()) {
            let row = row.map_err(|e| pg_error(self.at, e))?;
            f(&PgRow(&row))?;
        }
        Ok(())
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        match &self.on {
            On::Client(c) => futures::executor::block_on(c.batch_execute(sql)),
            On::Tx(t) => futures::executor::block_on(t.batch_execute(sql)),
        }
        .map_err(|e| pg_error(self.at, e))
    }
}

/// An arbitrary number of ours: the advisory lock migrations hold.
const MIGRATION_LOCK: i64 = 0x005c_17a2_0001;

impl PgConn {
    /// Connect and bring the schema up to date.
    pub fn open(cfg: &PgConfig) -> Result<PgConn, StoreError> {
        let conn = PgConn { cfg: cfg.clone(), live: Mutex::new(Some(connect(cfg)?)) };
        conn.migrate()?;
        Ok(conn)
    }

    pub fn shown(&self) -> String {
        self.cfg.shown()
    }

    pub fn role(&self) -> Option<String> {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|l| l.role.clone())
    }

    fn live<'a>(&self, slot: &'a mut Option<Live>) -> Result<&'a mut Live, StoreError> {
        if slot.as_ref().is_some_and(|l| l.client.is_closed()) {
            *slot = None;
        }
        if slot.is_none() {
            *slot = Some(connect(&self.cfg)?);
        }
        Ok(slot.as_mut().expect("connected"))
    }

    /// Forget a connection that broke, so the next call connects again.
    fn after<T, E: From<StoreError>>(slot: &mut Option<Live>, r: Result<T, E>) -> Result<T, E> {
        if slot.as_ref().is_some_and(|l| l.client.is_closed()) {
            *slot = None;
        }
        r
    }

    pub fn with<T, E: From<StoreError>>(&self, f: impl FnOnce(&mut dyn Sql) -> Result<T, E>) -> Result<T, E> {
        let at = self.cfg.at();
        let mut slot = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let live = self.live(&mut slot)?;
        let r = f(&mut PgSql { on: On::Client(&live.client), stmts: &mut live.stmts, at: &at });
        Self::after(&mut slot, r)
    }

    pub fn write<T, E: From<StoreError>>(&self, f: impl FnOnce(&mut dyn Sql) -> Result<T, E>) -> Result<T, E> {
        let at = self.cfg.at();
        let mut slot = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let r = (|| {
            let live = self.live(&mut slot)?;
            let tx = futures::executor::block_on(live.client.transaction()).map_err(|e| pg_error(&at, e))?;
            let out = f(&mut PgSql { on: On::Tx(&tx), stmts: &mut live.stmts, at: &at })?;
            futures::executor::block_on(tx.commit()).map_err(|e| pg_error(&at, e))?;
            Ok(out)
        })();
        Self::after(&mut slot, r)
    }

    /// The settings it connects with (a listener makes a connection of its own).
    pub fn config(&self) -> &PgConfig {
        &self.cfg
    }

    pub fn schema_version(&self) -> Result<usize, StoreError> {
        self.with(|s| Ok::<_, StoreError>(s.int("SELECT CAST(coalesce(max(version), 0) AS BIGINT) FROM scimitar_schema", &[])? as usize))
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let known = crate::db::PG_MIGRATIONS.len();
        // Cheap check first, without writing (an admin's role may not create tables: only the
        // owner's migrates, see docs/team.md).
        let current = self.with(|s| {
            if s.int("SELECT CASE WHEN to_regclass('scimitar_schema') IS NULL THEN 0 ELSE 1 END", &[])? == 0 {
                return Ok::<_, StoreError>(0);
            }
            Ok(s.int("SELECT CAST(coalesce(max(version), 0) AS BIGINT) FROM scimitar_schema", &[])? as usize)
        })?;
        if current == known {
            return Ok(());
        }
        if current > known {
            return Err(StoreError::TooNew { found: current, known });
        }
        self.write(|s| {
            s.batch(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))?;
            if s.int("SELECT CASE WHEN to_regclass('scimitar_schema') IS NULL THEN 0 ELSE 1 END", &[])? == 0 {
                s.batch("CREATE TABLE scimitar_schema (version BIGINT NOT NULL)")?;
            }
            let current = s.int("SELECT CAST(coalesce(max(version), 0) AS BIGINT) FROM scimitar_schema", &[])? as usize;
            if current > known {
                return Err(StoreError::TooNew { found: current, known });
            }
            for (i, sql) in crate::db::PG_MIGRATIONS.iter().enumerate().skip(current) {
                s.batch(sql).map_err(|e| StoreError::Pg { at: self.cfg.at(), message: format!("migration {}: {e}", i + 1) })?;
                s.execute("INSERT INTO scimitar_schema (version) VALUES (?1)", &[Value::Integer(i as i64 + 1)])?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_never_carry_a_password() {
        let c = PgConfig::parse("postgres://ann@db.example:6543/scim").unwrap();
        assert_eq!((c.user.as_str(), c.host.as_str(), c.port, c.dbname.as_str()), ("ann", "db.example", 6543, "scim"));
        assert_eq!(c.shown(), "postgres://ann@db.example:6543/scim");
        assert!(c.uses_tls().unwrap(), "TLS for a remote host");
        let l = PgConfig::parse("postgresql://ann@127.0.0.1/scim").unwrap();
        assert_eq!(l.port, 5432);
        assert!(!l.uses_tls().unwrap(), "plain TCP to loopback");
        let e = PgConfig::parse("postgres://ann:hunter2@db.example/scim").unwrap_err().to_string();
        assert!(e.contains("password in the URL is refused") && !e.contains("hunter2"), "{e}");
        assert!(PgConfig::parse("mysql://ann@db/x").is_err());
        assert!(PgConfig::parse("postgres://db.example/x").unwrap_err().to_string().contains("no user"));
        assert!(PgConfig::parse("postgres://ann@db.example/").unwrap_err().to_string().contains("no database"));
        let off = PgConfig { tls: TlsMode::Off, ..c };
        assert!(off.uses_tls().unwrap_err().to_string().contains("only to a loopback host"));
    }

    #[test]
    fn placeholders_become_dollars() {
        assert_eq!(dollars("SELECT ?1, ?12 FROM t WHERE a = ?2"), "SELECT $1, $12 FROM t WHERE a = $2");
    }

    #[cfg(unix)]
    #[test]
    fn a_password_file_open_to_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "s3cret-store-pw\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = Password::File(p.clone()).read().unwrap_err().to_string();
        assert!(e.contains("chmod 600") && !e.contains("s3cret"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(Password::File(p).read().unwrap().unwrap().expose(), "s3cret-store-pw");
        let e = Password::Command("exit 3".into()).read().unwrap_err().to_string();
        assert!(e.contains("failed"), "{e}");
    }
}
