//! A Slack-faithful SCIM emulator: the same endpoints, body shapes, error codes, rate limits and
//! per-object write locks as Slack's SCIM API (see `/work/shared/slack-scim-reference.md`), served
//! over real HTTP for tests, demos and benchmarks.
//!
//! It speaks through the shared `scim` crate's types: requests are parsed with `User::from_value`
//! and answers written with `User::to_value(version)`, so client and emulator cannot silently agree
//! on a wrong schema.

pub mod seed;
mod server;
pub mod store;

use scim::ratelimit::{Endpoint, SlackBudget};
use scim::{ApiVersion, Group, User};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How the emulator is set up when it starts.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    pub users: usize,
    pub groups: usize,
    pub seed: u64,
    pub token: String,
    pub rate_limit: RateLimitMode,
    pub latency: Duration,
    pub faults: Faults,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            users: 100,
            groups: 10,
            seed: 1,
            token: "xoxp-emulator".into(),
            rate_limit: RateLimitMode::Off,
            latency: Duration::ZERO,
            faults: Faults::default(),
        }
    }
}

/// Rate limiting: none, or Slack's table (reference §6) with every limit multiplied by `scale`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RateLimitMode {
    Off,
    Slack { scale: f64 },
}

/// Injected failures, each a probability per request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Answer 503 before doing anything.
    pub p503: f64,
    /// Do the work, then drop the connection without answering.
    pub reset: f64,
    /// Wait `slow_delay` longer than usual.
    pub slow: f64,
    pub slow_delay: Duration,
    /// Answer 429 `too_many_requests` with `Retry-After: retry_after` (another app spending the
    /// org-wide budget, reference §8.15).
    pub p429: f64,
    pub retry_after: Duration,
    /// Replay Slack's April 2024 incident (reference §8.4): a user update that does not set
    /// `active` also deactivates the user, and the answer shows it.
    pub incident: f64,
    /// `DELETE /Users/{id}` answers as if it deactivated the user but leaves them active (what a
    /// client must catch by reading the user back).
    pub delete_noop: f64,
    /// A group PATCH that removes members empties the whole group and still answers 2xx: the
    /// "remove one member, all members go" failure of Slack's SCIM v2 and other servers
    /// (MicrosoftDocs/entra-docs PR 879, fleetdm/fleet#50724), which a client must catch by
    /// reading the group back.
    pub member_wipe: f64,
}

impl Faults {
    pub fn is_none(&self) -> bool {
        self.p503 == 0.0
            && self.reset == 0.0
            && self.slow == 0.0
            && self.p429 == 0.0
            && self.incident == 0.0
            && self.delete_noop == 0.0
            && self.member_wipe == 0.0
    }
}

/// A `--faults` value that does not parse (the message names the item).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultsError {
    #[error("fault item {0:?} needs the form NAME:VALUE (e.g. 503:0.05)")]
    Form(String),
    #[error("fault item {0:?}: retryafter needs whole seconds")]
    RetryAfter(String),
    #[error("fault item {0:?}: slowms needs whole milliseconds")]
    SlowMs(String),
    #[error("fault item {0:?}: probability must be a number from 0 to 1")]
    Probability(String),
    #[error(
        "fault item {item:?}: unknown fault {name:?} (expected 503, 429, reset, slow, incident, deletenoop, memberwipe, slowms or retryafter)"
    )]
    Unknown { item: String, name: String },
}

impl std::str::FromStr for Faults {
    type Err = FaultsError;
    /// `503:0.05,reset:0.01,slow:0.02,slowms:500,429:0.05,retryafter:2,incident:0.1,deletenoop:0.1,memberwipe:1`; `none` or empty means no faults.
    fn from_str(s: &str) -> Result<Faults, FaultsError> {
        Self::parse(s)
    }
}

impl Faults {
    fn parse(s: &str) -> Result<Faults, FaultsError> {
        let mut f = Faults { slow_delay: Duration::from_secs(2), retry_after: Duration::from_secs(1), ..Default::default() };
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("none") {
            return Ok(f);
        }
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (k, v) = item.split_once(':').ok_or_else(|| FaultsError::Form(item.to_string()))?;
            let k = k.trim().to_ascii_lowercase();
            if k == "retryafter" {
                let secs: u64 = v.trim().parse().map_err(|_| FaultsError::RetryAfter(item.to_string()))?;
                f.retry_after = Duration::from_secs(secs);
                continue;
            }
            if k == "slowms" {
                let ms: u64 = v.trim().parse().map_err(|_| FaultsError::SlowMs(item.to_string()))?;
                f.slow_delay = Duration::from_millis(ms);
                continue;
            }
            let p: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=1.0).contains(p))
                .ok_or_else(|| FaultsError::Probability(item.to_string()))?;
            match k.as_str() {
                "503" => f.p503 = p,
                "reset" => f.reset = p,
                "slow" => f.slow = p,
                "429" => f.p429 = p,
                "incident" => f.incident = p,
                "deletenoop" => f.delete_noop = p,
                "memberwipe" => f.member_wipe = p,
                _ => {
                    return Err(FaultsError::Unknown { item: item.to_string(), name: k });
                }
            }
        }
        Ok(f)
    }
}

/// Counters since start (or the last `reset_stats`).
#[derive(Clone, Debug, Default)]
pub struct EmulatorStats {
    pub requests: u64,
    pub by_endpoint: BTreeMap<Endpoint, u64>,
    /// Requests by HTTP method (`GET`, `POST`, `PATCH`, `PUT`, `DELETE`, ...), counted as they
    /// arrive, whatever the answer: a refused write still counts as one that reached Slack.
    pub by_method: BTreeMap<String, u64>,
    /// 429 `too_many_requests` answers (rate limit).
    pub rate_limited: u64,
    /// 429 `resource_locked` answers (a second write to an object with one in flight).
    pub lock_conflicts: u64,
    pub injected_503: u64,
    pub injected_429: u64,
    pub injected_resets: u64,
    /// Most writes ever in flight at once on one object, counting refused ones. A client that
    /// serialises writes per object keeps this at 1.
    pub max_concurrent_writes_per_object: u32,
    /// (seconds since start, endpoint, status) per request, the last `LOG_CAP`; status 0 = reset.
    pub log: Vec<(f64, Endpoint, u16)>,
}

impl EmulatorStats {
    /// Requests with a method that changes something (POST, PUT, PATCH, DELETE).
    pub fn writes(&self) -> u64 {
        self.by_method.iter().filter(|(m, _)| matches!(m.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")).map(|(_, n)| n).sum()
    }

    pub fn method(&self, m: &str) -> u64 {
        self.by_method.get(m).copied().unwrap_or(0)
    }
}

pub const LOG_CAP: usize = 200_000;

#[derive(Default)]
struct StatsInner {
    s: EmulatorStats,
    log: VecDeque<(f64, Endpoint, u16)>,
}

struct Runtime {
    rate: RateLimitMode,
    budget: Option<SlackBudget>,
    faults: Faults,
    latency: Duration,
    rng: rand::rngs::StdRng,
}

pub(crate) struct Shared {
    store: RwLock<store::Store>,
    runtime: Mutex<Runtime>,
    stats: Mutex<StatsInner>,
    /// Writes in flight per object id (counting ones that will be refused).
    inflight: Mutex<HashMap<String, u32>>,
    locked: Mutex<HashSet<String>>,
    token: String,
    start: Instant,
}

/// A running emulator. Cheap to clone; `shutdown` stops the server.
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Arc<Mutex<Option<tokio::sync::oneshot::Sender<()>>>>,
    task: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

fn budget_for(mode: RateLimitMode) -> Option<SlackBudget> {
    match mode {
        RateLimitMode::Off => None,
        RateLimitMode::Slack { scale } => Some(SlackBudget::new(scale, 1.0, Instant::now())),
    }
}

impl Emulator {
    /// Bind `listen` (port 0 = ephemeral) and serve on the current tokio runtime.
    pub async fn start(config: EmulatorConfig, listen: SocketAddr) -> std::io::Result<Emulator> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {listen}: {e}")))?;
        Emulator::serve_on(config, listener).await
    }

    /// Seed the directory (on a blocking thread) and serve on a listener bound already: clients
    /// may connect as soon as it is bound; their requests wait in its backlog until the seed is
    /// done (the demo opens the console first this way).
    pub async fn serve_on(config: EmulatorConfig, listener: tokio::net::TcpListener) -> std::io::Result<Emulator> {
        Emulator::serve_on_gated(config, listener, None).await
    }

    /// As [`Emulator::serve_on`]; with a `gate`, requests are answered only once it fires (or is
    /// dropped), so the caller can read the seeded directory (`snapshot`) before any client does.
    pub async fn serve_on_gated(
        config: EmulatorConfig,
        listener: tokio::net::TcpListener,
        gate: Option<tokio::sync::oneshot::Receiver<()>>,
    ) -> std::io::Result<Emulator> {
        let (n, g, seed) = (config.users, config.groups, config.seed);
        let st = tokio::task::spawn_blocking(move || {
            let (users, groups) = seed::generate(n, g, seed);
            store::Store::new(users, groups, seed)
        });
        let mut st = st.await.map_err(|e| std::io::Error::other(format!("seeding the emulator stopped: {e}")))?;
        let addr = listener.local_addr()?;
        st.set_base(format!("http://{addr}/scim"));
        let shared = Emulator::shared(config, st);
        // Serialise every user's v2 JSON in the background, so the first full listing of a big
        // org is as fast as later ones (the server must not be a client benchmark's bottleneck).
        let warm = shared.clone();
        tokio::task::spawn_blocking(move || {
            let mut i = 0;
            loop {
                let st = warm.store.read().unwrap();
                let end = (i + 1000).min(st.users.len());
                if i >= end {
                    break;
                }
                for j in i..end {
                    st.user_json(j, ApiVersion::V2);
                }
                i = end;
            }
        });
        Ok(Emulator::serve(shared, listener, addr, gate))
    }

    /// Serve on a listener bound already while the directory is seeded: requests are answered
    /// once the first `first` users are in (all of them in a smaller org); the others follow in
    /// batches, then the groups. The returned task ends when the seed is complete. Each user's
    /// JSON is made when asked for (not all ahead, as [`Emulator::serve_on`] does): a demo
    /// holds less memory this way.
    pub async fn serve_seeding(
        config: EmulatorConfig,
        listener: tokio::net::TcpListener,
        first: usize,
    ) -> std::io::Result<(Emulator, tokio::task::JoinHandle<()>)> {
        let (n, g, seed) = (config.users, config.groups, config.seed);
        let addr = listener.local_addr()?;
        let mut st = store::Store::empty(seed, n);
        st.json_cache = false;
        st.set_base(format!("http://{addr}/scim"));
        let shared = Emulator::shared(config, st);
        let (ready, gate) = tokio::sync::oneshot::channel();
        let seeding = shared.clone();
        let task = tokio::task::spawn_blocking(move || {
            let mut ready = Some(ready);
            let mut seeded = 0;
            let (groups, memberships) = seed::generate_with(n, g, seed, first.clamp(1, 10_000), &mut |batch| {
                seeded += batch.len();
                seeding.store.write().unwrap().push_users(batch);
                if seeded >= first
                    && let Some(r) = ready.take()
                {
                    let _ = r.send(());
                }
            });
            seeding.store.write().unwrap().add_groups(groups, memberships);
            if let Some(r) = ready.take() {
                let _ = r.send(());
            }
        });
        Ok((Emulator::serve(shared, listener, addr, Some(gate)), task))
    }

    fn shared(config: EmulatorConfig, st: store::Store) -> Arc<Shared> {
        use rand::SeedableRng;
        Arc::new(Shared {
            store: RwLock::new(st),
            runtime: Mutex::new(Runtime {
                rate: config.rate_limit,
                budget: budget_for(config.rate_limit),
                faults: config.faults,
                latency: config.latency,
                rng: rand::rngs::StdRng::seed_from_u64(config.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            }),
            stats: Mutex::new(StatsInner::default()),
            inflight: Mutex::new(HashMap::new()),
            locked: Mutex::new(HashSet::new()),
            token: config.token,
            start: Instant::now(),
        })
    }

    /// Answer requests on `listener` (once `gate` fires or is dropped).
    fn serve(
        shared: Arc<Shared>,
        listener: tokio::net::TcpListener,
        addr: SocketAddr,
        gate: Option<tokio::sync::oneshot::Receiver<()>>,
    ) -> Emulator {
        let app = server::router(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            if let Some(g) = gate {
                let _ = g.await;
            }
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Emulator { shared, addr, stop: Arc::new(Mutex::new(Some(tx))), task: Arc::new(Mutex::new(Some(task))) }
    }

    /// Run `f` on every user (in listing order) and group as they are now, without copying
    /// them (the demo derives its HR export from this without a round of HTTP listing).
    pub fn with_directory<R>(&self, f: impl FnOnce(&[&User], &[Group]) -> R) -> R {
        let st = self.shared.store.read().unwrap();
        let users: Vec<&User> = st.users.iter().map(|r| &r.user).collect();
        let groups: Vec<Group> = (0..st.groups.len()).filter_map(|gi| Group::from_value(st.group_json(gi, ApiVersion::V2)).ok()).collect();
        f(&users, &groups)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/scim/v2/`, with the trailing slash.
    pub fn base_url(&self, v: ApiVersion) -> String {
        format!("http://{}/scim/{}/", self.addr, v.path_segment())
    }

    pub fn token(&self) -> &str {
        &self.shared.token
    }

    pub fn set_rate_limit(&self, m: RateLimitMode) {
        let mut rt = self.shared.runtime.lock().unwrap();
        rt.rate = m;
        rt.budget = budget_for(m);
    }

    pub fn set_faults(&self, f: Faults) {
        self.shared.runtime.lock().unwrap().faults = f;
    }

    /// Whether the emulated org's plan has multi-channel guests (Enterprise: on by default).
    pub fn set_guests_allowed(&self, allowed: bool) {
        self.shared.store.write().unwrap().guests_allowed = allowed;
    }

    /// Custom profile fields the emulated org has besides those SCIM made (Slack's cap is 50 in
    /// all: `scim::rules::CUSTOM_PROFILE_FIELDS_MAX`).
    pub fn set_custom_profile_fields(&self, n: usize) {
        self.shared.store.write().unwrap().custom_profile_fields = n;
    }

    /// How long a new photo takes to show ([`store::PHOTO_DELAY`] by default).
    pub fn set_photo_delay(&self, d: Duration) {
        self.shared.store.write().unwrap().photo_delay = d;
    }

    pub fn set_latency(&self, d: Duration) {
        self.shared.runtime.lock().unwrap().latency = d;
    }

    pub fn stats(&self) -> EmulatorStats {
        let inner = self.shared.stats.lock().unwrap();
        let mut s = inner.s.clone();
        s.log = inner.log.iter().copied().collect();
        s
    }

    /// Seconds since the emulator started: the clock of `EmulatorStats::log`.
    pub fn uptime(&self) -> f64 {
        self.shared.start.elapsed().as_secs_f64()
    }

    pub fn reset_stats(&self) {
        *self.shared.stats.lock().unwrap() = StatsInner::default();
    }

    pub fn primary_owner_id(&self) -> String {
        self.shared.store.read().unwrap().primary_owner_id()
    }

    pub fn bot_ids(&self) -> Vec<String> {
        self.shared.store.read().unwrap().bot_ids()
    }

    /// Every user and group as they are now, straight from memory (the demo derives its HR
    /// export from this without a round of HTTP listing).
    pub fn snapshot(&self) -> (Vec<User>, Vec<Group>) {
        let st = self.shared.store.read().unwrap();
        let users = st.users.iter().map(|r| r.user.clone()).collect();
        let groups = (0..st.groups.len()).filter_map(|gi| Group::from_value(st.group_json(gi, ApiVersion::V2)).ok()).collect();
        (users, groups)
    }

    pub fn user_count(&self) -> usize {
        self.shared.store.read().unwrap().users.len()
    }

    /// Stop accepting connections and wait for the server task to end.
    pub async fn shutdown(self) {
        if let Some(tx) = self.stop.lock().unwrap().take() {
            let _ = tx.send(());
        }
        let task = self.task.lock().unwrap().take();
        if let Some(t) = task {
            // Open keep-alive connections may hold graceful shutdown; don't wait forever.
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), t).await.is_err() {
                abort.abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse() {
        let f: Faults = "503:0.05,reset:0.01,slow:0.02".parse().unwrap();
        assert_eq!(
            f,
            Faults {
                p503: 0.05,
                reset: 0.01,
                slow: 0.02,
                slow_delay: Duration::from_secs(2),
                p429: 0.0,
                retry_after: Duration::from_secs(1),
                incident: 0.0,
                delete_noop: 0.0,
                member_wipe: 0.0,
            }
        );
        assert_eq!("memberwipe:1".parse::<Faults>().unwrap().member_wipe, 1.0);
        assert!(!"memberwipe:0.5".parse::<Faults>().unwrap().is_none());
        let f: Faults = "429:0.5,retryafter:2".parse().unwrap();
        assert_eq!((f.p429, f.retry_after), (0.5, Duration::from_secs(2)));
        let f: Faults = "slow:1,slowms:500".parse().unwrap();
        assert_eq!(f.slow_delay, Duration::from_millis(500));
        assert!("none".parse::<Faults>().unwrap().is_none());
        let e = "503:0.1,boom:0.2".parse::<Faults>().unwrap_err().to_string();
        assert!(e.contains("boom"), "{e}");
        let e = "reset:2".parse::<Faults>().unwrap_err().to_string();
        assert!(e.contains("reset:2"), "{e}");
        assert_eq!("deletenoop:1".parse::<Faults>().unwrap().delete_noop, 1.0);
        assert!(!"deletenoop:1".parse::<Faults>().unwrap().is_none());
        let e = "slow".parse::<Faults>().unwrap_err().to_string();
        assert!(e.contains("\"slow\""), "{e}");
    }
}
