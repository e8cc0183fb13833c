//! One writer per Slack org: a lease in the store.
//!
//! Every write path (the console's batches and policy apply, headless `users`/`groups` writes,
//! `apply`, `restore`, `resume`, `sync`) takes the org's lease before it journals anything and
//! holds it until it is done. The lease lives in the store (`lease` table, migration 7), so on a
//! shared PostgreSQL store it excludes every account on every host; on the default SQLite store it
//! excludes every process of the account that owns the file.
//!
//! - **Which org**: [`OrgKey`]: the profile's `org = "..."` when set, else derived from the
//!   profile's URL (normalised) and a hash of its token. Two differently named profiles pointing
//!   at one org with one token get one key. The limits: two *different* tokens for one org (each
//!   admin their own) give two keys: set `org` to the same name in each profile; and `org` set to
//!   one name for two different orgs makes them exclude each other (safe, only slower).
//! - **Who holds it** ([`Holder`]): OS account, host, pid, command, since; shown to whoever is
//!   refused ([`LeaseError::Held`]).
//! - **Renewed while held** (a thread renews it every third of its time to live) and **expires**
//!   after a crash or `kill -9` ([`DEFAULT_TTL`], `[store] lease_ttl`): then the next writer takes it
//!   over.
//! - **Fenced**: each taking gets a new `generation`. The journal checks the generation in the
//!   store, in the same transaction, when it marks an op running and when it records its result;
//!   a holder that lost its lease (stopped with SIGSTOP, continued after someone took over) is
//!   refused both. And the engine checks [`Fence::check`] just before each request goes out (after
//!   Slack's pacing): a holder whose renewals stopped for longer than the time to live (less a
//!   margin) sends nothing more, before anyone else may take over. What is left: the instant
//!   between that check and the request leaving the socket.

use super::{Dialect, Store, StoreError, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a lease lives without renewal.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// The key of a Slack org in the lease table.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OrgKey(pub String);

impl std::fmt::Display for OrgKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl OrgKey {
    /// `org:NAME` for an explicit `org = "NAME"`; else `url:HOST[:PORT]/PATH#HASH`: the URL
    /// normalised (scheme and case of the host dropped, default ports dropped, a trailing
    /// `/scim/v1` or `/scim/v2` and slashes dropped, so v1 and v2 of one org agree) and the first
    /// 16 hex digits of SHA-256 over a fixed prefix and the token (the token cannot be read back
    /// from it).
    pub fn of(explicit: Option<&str>, url: &str, token: &str) -> OrgKey {
        if let Some(name) = explicit.map(str::trim).filter(|s| !s.is_empty()) {
            return OrgKey(format!("org:{name}"));
        }
        OrgKey(format!("url:{}#{}", normalise_url(url), token_hash(token)))
    }
}

fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"scimitar-org-key-v1\0");
    h.update(token.trim().as_bytes());
    hex::encode(&h.finalize()[..8])
}

/// Host (lower case), port unless the scheme's default, and the path without a trailing
/// `scim/v1` / `scim/v2` and slashes.
pub fn normalise_url(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("").to_ascii_lowercase();
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let mut path = u.path().trim_end_matches('/').to_string();
            for suffix in ["/scim/v2", "/scim/v1", "/scim"] {
                if path.to_ascii_lowercase().ends_with(suffix) {
                    path.truncate(path.len() - suffix.len());
                    break;
                }
            }
            format!("{host}{port}{}", path.trim_end_matches('/'))
        }
        Err(_) => url.trim().to_ascii_lowercase(),
    }
}

/// Who holds (or asks for) a lease.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    pub pid: u32,
    /// The OS account (from the process's uid).
    pub user: String,
    pub host: String,
    /// What runs: `scimitar sync --policy hr`, `console deactivate 3 users`, ...
    pub command: String,
    /// RFC 3339, UTC.
    pub since: String,
    /// The database role (PostgreSQL's `current_user`), when the store has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

impl Holder {
    /// This process, run by `user` on `host`, doing `command`.
    pub fn new(user: &str, host: &str, command: impl Into<String>) -> Holder {
        let now = time::OffsetDateTime::now_utc();
        let since = now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        Holder { pid: std::process::id(), user: user.into(), host: host.into(), command: command.into(), since, role: None }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{} (pid {}", self.user, self.host, self.pid)?;
        if let Some(r) = &self.role {
            write!(f, ", database role {r}")?;
        }
        write!(f, ", `{}`, since {})", self.command, self.since)
    }
}

/// The lease could not be taken, or was lost.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Someone else writes to this org right now.
    #[error(
        "another scimitar is writing to this Slack org: {holder} holds its lease (org {org}; it lapses {expires_in}s after its holder stops renewing it); try again when it is done, or wait for it with --wait DURATION"
    )]
    Held { org: OrgKey, holder: Box<Holder>, expires_in: u64 },
    /// This holder's lease was taken over (it was stopped for longer than the lease lives) or
    /// could not be renewed: nothing more is sent or recorded under it.
    #[error(
        "the lease on {org} was lost ({why}); nothing more is sent or recorded under it (`scimitar resume` finishes the batch once this org is free)"
    )]
    Lost { org: OrgKey, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a running batch carries: the org and the generation it writes under, and whether the
/// lease is (still) good as far as this process knows.
#[derive(Clone, Debug)]
pub struct Fence {
    pub org: OrgKey,
    pub generation: i64,
    state: Arc<FenceState>,
}

#[derive(Debug)]
struct FenceState {
    /// Until when this process may send (the last renewal's start plus the time to live, less a
    /// margin), by the monotonic clock.
    valid_until: Mutex<Instant>,
    lost: AtomicBool,
    why: Mutex<String>,
}

impl Fence {
    /// `Ok` while this process still holds the lease by its own clock; else why not. Checked
    /// just before each request is sent.
    pub fn check(&self) -> Result<(), LeaseError> {
        if self.state.lost.load(Ordering::SeqCst) {
            return Err(LeaseError::Lost { org: self.org.clone(), why: self.state.why.lock().unwrap_or_else(|e| e.into_inner()).clone() });
        }
        if Instant::now() >= *self.state.valid_until.lock().unwrap_or_else(|e| e.into_inner()) {
            return Err(LeaseError::Lost { org: self.org.clone(), why: "not renewed in time (was this process stopped?)".into() });
        }
        Ok(())
    }

    fn lose(&self, why: String) {
        *self.state.why.lock().unwrap_or_else(|e| e.into_inner()) = why;
        self.state.lost.store(true, Ordering::SeqCst);
    }

    /// A fence for tests that never expires (no lease behind it: the store's checks refuse it
    /// unless a lease row with this generation is there).
    pub fn detached(org: OrgKey, generation: i64) -> Fence {
        Fence {
            org,
            generation,
            state: Arc::new(FenceState {
                valid_until: Mutex::new(Instant::now() + Duration::from_secs(365 * 86_400)),
                lost: AtomicBool::new(false),
                why: Mutex::new(String::new()),
            }),
        }
    }

    /// The SQL condition (with `?A`, `?B` placeholders filled by [`Fence::params`]) that the
    /// lease row still has this generation and a holder: `EXISTS (...)`. PostgreSQL locks the
    /// row (`FOR SHARE`) so a takeover waits for the transaction that checked it.
    pub fn holds_sql(d: Dialect, org_param: usize, generation_param: usize) -> String {
        format!(
            "EXISTS (SELECT 1 FROM lease WHERE org = ?{org_param} AND generation = ?{generation_param} AND holder IS NOT NULL{})",
            d.for_share()
        )
    }

    pub fn params(&self) -> [Value; 2] {
        [Value::Text(self.org.0.clone()), Value::Integer(self.generation)]
    }
}

/// A held lease. Dropping it stops the renewals and releases it.
pub struct Lease {
    store: Store,
    fence: Fence,
    holder: Holder,
    ttl: Duration,
    stop: Arc<(Mutex<bool>, Condvar)>,
    renewer: Option<std::thread::JoinHandle<()>>,
    release_on_drop: bool,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("org", &self.fence.org).field("generation", &self.fence.generation).finish_non_exhaustive()
    }
}

/// The margin kept from the end of the time to live: a holder stops sending this much before
/// anyone else may take over.
fn margin(ttl: Duration) -> Duration {
    (ttl / 5).min(Duration::from_secs(5))
}

impl Lease {
    /// Take the org's lease now, or say who holds it.
    pub fn acquire(store: &Store, org: &OrgKey, holder: &Holder, ttl: Duration) -> Result<Lease, LeaseError> {
        let ttl = ttl.max(Duration::from_millis(500));
        let mut holder = holder.clone();
        if holder.role.is_none() {
            holder.role = store.role();
        }
        let text = serde_json::to_string(&holder).map_err(|e| StoreError::Config(e.to_string()))?;
        let started = Instant::now();
        let d = store.dialect();
        let got = store.write(|s| {
            s.execute(
                "INSERT INTO lease (org, generation, expires_ms) VALUES (?1, 0, 0) ON CONFLICT (org) DO NOTHING",
                &[super::t(&org.0)],
            )?;
            let row = s.first(
                &format!(
                    "SELECT generation, holder, expires_ms, CAST(expires_ms - {now} AS BIGINT) FROM lease WHERE org = ?1{}",
                    d.for_update(),
                    now = d.now_ms()
                ),
                &[super::t(&org.0)],
                |r| Ok((super::int(r, 0)?, super::opt_text(r, 1)?, super::int(r, 3)?)),
            )?;
            let (generation, current, left) = row.ok_or_else(|| StoreError::Config("the lease row vanished".into()))?;
            if let Some(current) = current.filter(|_| left > 0) {
                let h = serde_json::from_str::<Holder>(&current).unwrap_or_else(|_| Holder::new("unknown", "unknown", current.clone()));
                // A holder on this host whose process is gone (killed, crashed) is taken over
                // at once; anywhere else, once its lease lapses.
                if h.host != holder.host || process_alive(h.pid) {
                    return Ok(Err(LeaseError::Held {
                        org: org.clone(),
                        holder: Box::new(h),
                        expires_in: (left.max(0) as u64).div_ceil(1000),
                    }));
                }
            }
            let generation = generation + 1;
            s.execute(
                &format!(
                    "UPDATE lease SET generation = ?2, holder = ?3, acquired_ms = {now}, expires_ms = {now} + ?4 WHERE org = ?1",
                    now = d.now_ms()
                ),
                &[super::t(&org.0), super::i(generation), super::t(text.clone()), super::i(ttl.as_millis() as i64)],
            )?;
            Ok::<_, StoreError>(Ok(generation))
        })?;
        let generation = got?;
        let fence = Fence {
            org: org.clone(),
            generation,
            state: Arc::new(FenceState {
                valid_until: Mutex::new(started + ttl - margin(ttl)),
                lost: AtomicBool::new(false),
                why: Mutex::new(String::new()),
            }),
        };
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let renewer = {
            let (store, fence, stop) = (store.clone(), fence.clone(), stop.clone());
            std::thread::Builder::new()
                .name("scimitar-lease".into())
                .spawn(move || renew_loop(&store, &fence, ttl, &stop))
                .map_err(|e| StoreError::Config(format!("cannot start the lease's renewals: {e}")))?
        };
        Ok(Lease { store: store.clone(), fence, holder, ttl, stop, renewer: Some(renewer), release_on_drop: true })
    }

    /// [`Lease::acquire`], waiting up to `wait` for the holder to finish (checking every
    /// second; `on_wait` hears who holds it each time).
    pub fn acquire_waiting(
        store: &Store,
        org: &OrgKey,
        holder: &Holder,
        ttl: Duration,
        wait: Duration,
        mut on_wait: impl FnMut(&LeaseError),
    ) -> Result<Lease, LeaseError> {
        let until = Instant::now() + wait;
        loop {
            match Lease::acquire(store, org, holder, ttl) {
                Err(e @ LeaseError::Held { .. }) if Instant::now() < until => {
                    on_wait(&e);
                    std::thread::sleep(
                        Duration::from_secs(1).min(until.saturating_duration_since(Instant::now())).max(Duration::from_millis(50)),
                    );
                }
                r => return r,
            }
        }
    }

    pub fn fence(&self) -> Fence {
        self.fence.clone()
    }

    pub fn generation(&self) -> i64 {
        self.fence.generation
    }

    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    pub fn org(&self) -> &OrgKey {
        &self.fence.org
    }

    /// Renew now (the renewer does this by itself).
    pub fn renew(&self) -> Result<(), LeaseError> {
        renew(&self.store, &self.fence, self.ttl)
    }

    /// The store it is held in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stop renewing and walk away without releasing it, as a holder killed with `kill -9` does
    /// (tests of what the others see).
    #[doc(hidden)]
    pub fn abandon(mut self) {
        self.stop_renewing();
        self.release_on_drop = false;
    }

    fn stop_renewing(&mut self) {
        *self.stop.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.stop.1.notify_all();
        if let Some(t) = self.renewer.take() {
            let _ = t.join();
        }
    }
}

fn renew(store: &Store, fence: &Fence, ttl: Duration) -> Result<(), LeaseError> {
    let started = Instant::now();
    let d = store.dialect();
    let n = store.with(|s| {
        s.execute(
            &format!("UPDATE lease SET expires_ms = {} + ?3 WHERE org = ?1 AND generation = ?2 AND holder IS NOT NULL", d.now_ms()),
            &[super::t(&fence.org.0), super::i(fence.generation), super::i(ttl.as_millis() as i64)],
        )
    })?;
    if n == 0 {
        let why = "another writer took it over".to_string();
        fence.lose(why.clone());
        return Err(LeaseError::Lost { org: fence.org.clone(), why });
    }
    *fence.state.valid_until.lock().unwrap_or_else(|e| e.into_inner()) = started + ttl - margin(ttl);
    Ok(())
}

fn renew_loop(store: &Store, fence: &Fence, ttl: Duration, stop: &(Mutex<bool>, Condvar)) {
    let every = ttl / 3;
    let mut stopped = stop.0.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let (s, _) = stop.1.wait_timeout(stopped, every).unwrap_or_else(|e| e.into_inner());
        stopped = s;
        if *stopped {
            return;
        }
        match renew(store, fence, ttl) {
            Ok(()) => {}
            Err(LeaseError::Lost { .. }) => return,
            // The store is unreachable: the fence's own deadline stops the sending; keep trying.
            Err(e) => tracing::warn!("renewing the lease on {}: {e}", fence.org),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.stop_renewing();
        if !self.release_on_drop {
            return;
        }
        // Release it (only if still ours: a lease taken over stays with its new holder).
        let f = &self.fence;
        let _ = self.store.with(|s| {
            s.execute(
                "UPDATE lease SET holder = NULL, expires_ms = 0 WHERE org = ?1 AND generation = ?2",
                &[super::t(&f.org.0), super::i(f.generation)],
            )
        });
    }
}

/// Whether a process with this pid exists on this host (one of another account counts: `kill`
/// answers EPERM for it). A pid reused since is taken for alive (the lease then lapses as usual).
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return true };
    if pid <= 0 {
        return true;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// What a front end needs to take an org's lease: the org, who it is, how long a lease lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSpec {
    pub org: OrgKey,
    pub user: String,
    pub host: String,
    pub ttl: Duration,
}

impl LeaseSpec {
    /// A spec for tests (`org:test`, the default time to live).
    pub fn test(user: &str) -> LeaseSpec {
        LeaseSpec { org: OrgKey("org:test".into()), user: user.into(), host: "localhost".into(), ttl: DEFAULT_TTL }
    }

    /// Take the lease in `store` for `command` now, or say who holds it.
    pub fn take(&self, store: &Store, command: &str) -> Result<Lease, LeaseError> {
        Lease::acquire(store, &self.org, &Holder::new(&self.user, &self.host, command), self.ttl)
    }
}

/// Who holds the org's lease now, if anyone (for `sync status` and the console).
pub fn holder(store: &Store, org: &OrgKey) -> Result<Option<Holder>, StoreError> {
    let d = store.dialect();
    store.with(|s| {
        let h = s.first(
            &format!("SELECT holder FROM lease WHERE org = ?1 AND holder IS NOT NULL AND expires_ms > {}", d.now_ms()),
            &[super::t(&org.0)],
            |r| super::opt_text(r, 0),
        )?;
        Ok(h.flatten().map(|t| serde_json::from_str(&t).unwrap_or_else(|_| Holder::new("unknown", "unknown", t))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_keys_agree_for_one_org_and_differ_between_orgs() {
        let a = OrgKey::of(None, "https://api.slack.com/scim/v2/", "xoxp-1");
        let b = OrgKey::of(None, "HTTPS://API.SLACK.COM:443/scim/v1", "xoxp-1");
        assert_eq!(a, b, "v1 and v2 of one org with one token");
        assert_ne!(a, OrgKey::of(None, "https://api.slack.com/scim/v2/", "xoxp-2"), "another token is another org");
        assert!(!a.0.contains("xoxp"), "{a}");
        assert_eq!(OrgKey::of(Some(" acme "), "https://x/", "t"), OrgKey("org:acme".into()));
        assert_eq!(normalise_url("http://127.0.0.1:8080/scim/v2/"), "127.0.0.1:8080");
    }
}
