//! The async SCIM client: one API over Slack's v1.1 and v2.0 wire formats.
//!
//! Every request goes through [`ScimClient::send`], which (1) takes the per-object write lock so
//! two writes to one user or group never overlap (Slack locks the object and answers 429),
//! (2) waits for a token from Slack's rate-limit table, (3) retries 429s after `Retry-After` and
//! 5xx / broken connections with capped, jittered exponential backoff. A create (POST) is never
//! re-sent blindly after an ambiguous failure: the user is looked up first.
//!
//! **One client, any SCIM server.** The server's profile ([`ServerProfile`]: Slack, or a generic
//! RFC 7644 server) is detected once per connection from the host, the ServiceProviderConfig and
//! the shape of its errors; it decides what only Slack does (DELETE deactivates; `managerId`) and
//! which of two PATCH forms to try first (the client remembers the one the server took). Ids are
//! opaque: used as the server returned them, percent-encoded in paths, quoted in filters.
//!
//! Nothing a server sends is trusted: every number is parsed with bounds (`Retry-After` capped at
//! [`MAX_RETRY_AFTER`], a total above [`MAX_LIST_TOTAL`] an error at the first page, a listing stops
//! with an error when a page adds nothing new or when more pages come than the first page's total
//! allows, and is read again from the start when its total falls meanwhile), bodies are
//! read through a size limit per endpoint ([`body_limit`]), one call with all its retries is
//! bounded by [`ClientConfig::op_deadline`], and response bodies are scrubbed of the token (and of
//! a password the request carried) before they are parsed.

use super::error::{ApiError, ScimError};
use super::filter::Filter;
use super::ratelimit::{Endpoint, SlackBudget};
use super::types::{ApiVersion, Dialect, Group, ListResponse, Member, PatchOperation, PatchRequest, User, encode_segment, urn};
pub use super::wire::UserSummary;
use super::wire::{self, Listed};
use futures::{Stream, StreamExt, TryStreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use url::Url;

/// A bearer token (or a password). `Debug` and `Display` never show it, and its memory is zeroed
/// when it is dropped (as is the text it was made from), so a freed secret does not linger in
/// the heap (core dumps are off too: `main.rs`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl zeroize::ZeroizeOnDrop for Secret {}

impl Secret {
    /// Wrap a secret; it is also registered for [`crate::redact::redact`], so it is scrubbed
    /// from any text this process stores or shows, whatever its shape.
    pub fn new(s: impl Into<String>) -> Self {
        let mut raw = s.into();
        let s = raw.trim().to_string();
        zeroize::Zeroize::zeroize(&mut raw);
        crate::redact::register(&s);
        Secret(s)
    }
    /// The token itself, for the Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}
impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Client-side rate limiting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RateLimit {
    /// Send as fast as the server answers (the emulator with limits off).
    Off,
    /// Slack's documented table, every limit multiplied by `scale` (1.0 = real Slack).
    Slack { scale: f64 },
}

#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub base_url: Url,
    pub token: Secret,
    pub version: ApiVersion,
    pub rate_limit: RateLimit,
    /// The part of Slack's (org-wide) table this client uses, 0.05 to 1 (default 1: all of it).
    /// Less leaves a margin for other apps of the organisation (an IdP connector). Either way,
    /// 429s from another app's spending make the client back off and share (`SlackBudget::penalise`).
    pub rate_share: f64,
    /// Retries after 5xx and broken connections (429s are retried separately, see `max_throttle_retries`).
    pub max_retries: u32,
    pub max_throttle_retries: u32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// One HTTP request, from connecting to the last byte of the body.
    pub timeout: Duration,
    /// One call (a request with all its retries and `Retry-After` waits); the time spent waiting
    /// for the client's own rate limiter before the first attempt does not count.
    pub op_deadline: Duration,
    /// The most pages of a listing in flight at once (a memory bound: each holds a page of up
    /// to 1000 resources). How many actually go out is sized from the read budget and the
    /// measured round trip ([`ScimClient::list_window`]); without a rate limit, this many.
    pub list_concurrency: usize,
    /// What the server is: detected (the default), or given.
    pub server: ServerChoice,
}

/// Which server profile to use: detect it ([`ScimClient::profile`]), or take the given one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerChoice {
    #[default]
    Auto,
    Slack,
    /// A generic SCIM 2.0 server (RFC 7643/7644).
    Rfc,
}

impl ServerChoice {
    pub const ALL: [ServerChoice; 3] = [ServerChoice::Auto, ServerChoice::Slack, ServerChoice::Rfc];
    pub fn as_str(self) -> &'static str {
        match self {
            ServerChoice::Auto => "auto",
            ServerChoice::Slack => "slack",
            ServerChoice::Rfc => "rfc",
        }
    }
}

/// A server kind that is none of auto, slack or rfc.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown server kind {0:?} (expected auto, slack or rfc)")]
pub struct UnknownServerKind(pub String);

impl std::str::FromStr for ServerChoice {
    type Err = UnknownServerKind;
    fn from_str(s: &str) -> Result<Self, UnknownServerKind> {
        ServerChoice::ALL.into_iter().find(|c| c.as_str().eq_ignore_ascii_case(s.trim())).ok_or_else(|| UnknownServerKind(s.to_string()))
    }
}

/// What kind of SCIM server this connection talks to, and why the client thinks so.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ServerProfile {
    pub dialect: Dialect,
    /// How it was decided, e.g. `host api.slack.com` or `ServiceProviderConfig names Slack`.
    pub reason: String,
}

impl ServerProfile {
    pub fn slack(reason: impl Into<String>) -> ServerProfile {
        ServerProfile { dialect: Dialect::Slack, reason: reason.into() }
    }
    pub fn rfc(reason: impl Into<String>) -> ServerProfile {
        ServerProfile { dialect: Dialect::Rfc, reason: reason.into() }
    }
    pub fn is_slack(&self) -> bool {
        self.dialect == Dialect::Slack
    }
    pub fn label(&self) -> &'static str {
        match self.dialect {
            Dialect::Slack => "Slack",
            Dialect::Rfc => "generic SCIM 2.0 (RFC 7644)",
        }
    }
    /// Does `DELETE /Users/{id}` deactivate here? On Slack it does and never deletes (reference
    /// §2); RFC 7644 §3.6 says DELETE removes the resource, so anywhere else deactivation is
    /// `PATCH active=false` only.
    pub fn delete_deactivates(&self) -> bool {
        self.is_slack()
    }
}

/// How long a server profile guessed while the server could not be asked is used before the
/// server is asked again (so a failing server is not asked once per operation).
pub const PROFILE_RETRY: Duration = Duration::from_secs(30);
/// The longest `Retry-After` honoured; a longer one is capped and reported in the error.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// The largest `totalResults` a listing accepts. Slack's largest organisations have about
/// 500,000 people (Enterprise Grid, counting deactivated accounts and guests); four times that
/// leaves room for any real org and for a generic SCIM server's directory, and still ends a
/// listing that claims a fantasy total (whose every page brings something new) at its first page,
/// with an error, instead of paging until the command's deadline (15 min by default).
pub const MAX_LIST_TOTAL: u64 = 2_000_000;
/// How many times a listing whose total fell while it ran (results deleted meanwhile, so paging
/// by `startIndex` skipped some) is read again from the start before it gives up with an error.
pub const MAX_RELISTS: u32 = 3;
/// For the page budget of a listing, a page counts as at least this many results (or the page
/// size asked for, when smaller): a server that pages one result at a time while claiming
/// millions runs out of budget instead of listing forever.
pub const MIN_BUDGET_PAGE: u64 = 200;
/// Bytes kept of an error answer's body (enough for any SCIM error; the rest is not read).
pub const ERROR_BODY_LIMIT: u64 = 64 * 1024;
/// The default of [`ClientConfig::list_concurrency`].
pub const DEFAULT_LIST_CONCURRENCY: usize = 4;
/// Bounds for [`ClientConfig`] values that come from flags.
pub const RATE_SCALE_RANGE: std::ops::RangeInclusive<f64> = 0.001..=1000.0;
pub const RATE_SHARE_RANGE: std::ops::RangeInclusive<f64> = crate::ratelimit::MIN_SHARE..=1.0;

impl ClientConfig {
    pub fn new(base_url: &str, token: Secret, version: ApiVersion) -> Result<Self, ScimError> {
        Ok(ClientConfig {
            base_url: check_url(base_url)?,
            token,
            version,
            rate_limit: RateLimit::Slack { scale: 1.0 },
            rate_share: 1.0,
            max_retries: 5,
            max_throttle_retries: 20,
            backoff_base: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(20),
            timeout: Duration::from_secs(60),
            op_deadline: Duration::from_secs(120),
            list_concurrency: DEFAULT_LIST_CONCURRENCY,
            server: ServerChoice::Auto,
        })
    }
}

/// The most body bytes read for a request to `endpoint` asking for `count` results (lists) or
/// one resource. Users are a few KB each; groups carry their members (up to 15,000).
pub fn body_limit(endpoint: Endpoint, count: u64) -> u64 {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    match endpoint {
        Endpoint::ListUsers => MIB + count.clamp(1, 1000) * 64 * KIB,
        Endpoint::ListGroups => (MIB + count.clamp(1, 1000) * 2 * MIB).min(256 * MIB),
        Endpoint::GetGroup | Endpoint::CreateGroup | Endpoint::UpdateGroup | Endpoint::DeleteGroup => 16 * MIB,
        Endpoint::GetUser | Endpoint::CreateUser | Endpoint::UpdateUser | Endpoint::DeleteUser | Endpoint::Meta => MIB,
    }
}

/// Parse and vet a base URL: https anywhere, plain http only on loopback, no credentials in it.
pub fn check_url(s: &str) -> Result<Url, ScimError> {
    let mut url = Url::parse(s.trim()).map_err(|e| ScimError::Invalid(format!("not a valid URL {s:?}: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ScimError::Invalid("the URL must not carry credentials; give the token with SLACK_SCIM_TOKEN or --token-file".into()));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(ScimError::Invalid(format!(
                "refusing plain http:// to {}: the token would cross the network in clear text (http is allowed only for loopback)",
                url.host_str().unwrap_or("?")
            )));
        }
        other => return Err(ScimError::Invalid(format!("unsupported URL scheme {other:?} (use https)"))),
    }
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    Ok(url)
}

pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Counters for the status line and the benchmarks.
#[derive(Debug, Default)]
pub struct ClientStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub throttled: AtomicU64,
    pub server_errors: AtomicU64,
    pub transport_errors: AtomicU64,
    pub recovered_creates: AtomicU64,
    pub email_fallbacks: AtomicU64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub retries: u64,
    pub throttled: u64,
    pub server_errors: u64,
    pub transport_errors: u64,
    pub recovered_creates: u64,
    pub email_fallbacks: u64,
}

/// A page of a listing.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total_results: u64,
    pub start_index: u64,
    /// Where the listing stands as this page is handed over (all zero for a page fetched alone
    /// with `users_page`/`groups_page`).
    pub progress: ListProgress,
}

/// Fetch progress of a paged listing, carried by every page the listing streams.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListProgress {
    /// Pages handed over so far, this one included.
    pub pages_done: u64,
    /// Pages the listing expects in all: the first page's `totalResults` over its page size (it
    /// grows when the server's total does; never below `pages_done`).
    pub pages_total: u64,
    /// Requests of this listing on their way (sent, or waiting for the rate limiter) right now.
    pub in_flight: usize,
}

/// A partial change to a user: attributes in `set` are written, paths in `clear` are emptied.
#[derive(Clone, Debug, Default)]
pub struct UserUpdate {
    pub set: User,
    /// Attribute paths to clear, e.g. `title`, `name.familyName`, `enterprise.department`.
    pub clear: Vec<String>,
}

impl UserUpdate {
    pub fn is_empty(&self) -> bool {
        self.clear.is_empty() && self.set.to_value(ApiVersion::V2).as_object().is_none_or(|o| o.len() <= 1)
    }
}

/// What `check` found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CheckReport {
    pub url: String,
    pub version: ApiVersion,
    /// The server answered as SCIM: its ServiceProviderConfig (which answers even to a bad token),
    /// or a SCIM error body to the authenticated probe.
    pub scim_endpoint: bool,
    /// Which path served the ServiceProviderConfig (`ServiceProviderConfig` or Slack's plural).
    pub service_provider_config: Option<String>,
    /// The server profile (Slack or a generic RFC 7644 server) and why.
    pub server: Option<ServerProfile>,
    pub token_accepted: bool,
    /// The authenticated probe was refused as an authentication failure.
    pub token_refused: bool,
    pub total_users: Option<u64>,
    pub latency_ms: u64,
    pub problem: Option<String>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    token: Secret,
    /// `Bearer <token>`, built once and marked sensitive: every request shares this one copy
    /// (a `HeaderValue` clone shares its bytes) instead of formatting a new one.
    auth: reqwest::header::HeaderValue,
    version: ApiVersion,
    config: ClientConfig,
    limiter: Option<Mutex<SlackBudget>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Which email filter form the server accepted (index into `email_forms`), 255 = unknown.
    email_form: AtomicU8,
    /// The PATCH path form for an extension attribute the server took ([`ExtPath`]), 0 = unknown.
    ext_path_form: AtomicU8,
    /// The member filter form the server took ([`MemberPath`]), 0 = unknown.
    member_path_form: AtomicU8,
    /// The server profile, once detected; a guess made while the server could not be asked is
    /// kept for [`PROFILE_RETRY`] only.
    profile: Mutex<Option<(ServerProfile, Option<Instant>)>>,
    stats: ClientStats,
    /// Round trip of list requests (from leaving to the last byte), microseconds, smoothed; 0 =
    /// none measured yet.
    list_rtt_us: AtomicU64,
    /// Held while a list page's body is read and parsed ([`BODY_READERS`]).
    body_readers: tokio::sync::Semaphore,
}

/// How [`ScimClient::send_once`] reads an answer's body: up to `limit` bytes, and, for a list
/// page (`list`), waiting for one of the [`BODY_READERS`].
#[derive(Clone, Copy)]
struct BodyRead {
    limit: u64,
    list: bool,
}

/// How many list pages' bodies are read and parsed at once. Many pages may be in flight (the
/// console asks for up to 32 at a time on a slow link), and their answers tend to arrive
/// together; reading every body at once would hold all of them (about 1 MB each at 1,000 users
/// a page, plus the connection's buffers) in memory together, where a body left unread waits in
/// the kernel's socket buffer. Measured (`cargo bench --bench console`, `--bench list_users`): two
/// keep a 2-core machine's parsing busy (times as with four or unlimited), and hold 5–10 MB less
/// than four in the console.
pub const BODY_READERS: usize = 2;

/// A cheap-to-clone handle to one SCIM endpoint.
#[derive(Clone)]
pub struct ScimClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ScimClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimClient")
            .field("base", &self.inner.base.as_str())
            .field("version", &self.inner.version)
            .field("token", &self.inner.token)
            .finish()
    }
}

/// A response that passed status checks: its JSON body (None when empty), or what a fast reader
/// made of it (`fast`; then `body` is None).
struct Answer<R = ()> {
    body: Option<Value>,
    fast: Option<R>,
}

/// The fast reader of requests that have none.
fn no_fast(_: &[u8]) -> Option<()> {
    None
}

const UNKNOWN_FORM: u8 = 255;

tokio::task_local! {
    /// Retries made by requests of the current task, when the caller set up a scope (the queue
    /// engine does, to record per-operation retry counts).
    pub static RETRIES: std::cell::Cell<u32>;
    /// How the writes of the current task may be stopped and who hears that one leaves (the
    /// queue engine sets it per operation). Without a scope, writes are never stopped.
    pub static WRITES: WriteControl;
}

/// A stop signal shared by whoever may cancel a run and the writes it makes: once set, a write
/// that has not left yet (waiting for its rate token, for the object's lock, or between retries)
/// is refused with [`ScimError::Cancelled`] and never sent; a request already on the wire
/// finishes. Reads are never stopped (a read-back verifies a write that left).
#[derive(Clone, Debug)]
pub struct Stop(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Stop {
    fn default() -> Self {
        Stop(Arc::new(tokio::sync::watch::Sender::new(false)))
    }
}

impl Stop {
    pub fn stop(&self) {
        self.0.send_replace(true);
    }

    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once [`Stop::stop`] was called (at once if it was already).
    pub async fn stopped(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// The [`WRITES`] of one operation: its stop signal, and what to call when one of its writes
/// leaves (after its token, right before the request is sent): a front end shows "sending"
/// from then on, "waiting" before.
#[derive(Clone, Default)]
pub struct WriteControl {
    pub stop: Stop,
    pub on_send: Option<Arc<dyn Fn() + Send + Sync>>,
}

/// Run `f` with writes that no stop signal refuses (a repair of what a request on the wire did
/// must go out even while its batch stops).
pub async fn unstoppable<F: std::future::Future>(f: F) -> F::Output {
    WRITES.scope(WriteControl::default(), f).await
}

tokio::task_local! {
    /// A check made just before each write request goes out, after the client's own pacing and
    /// before every retry: the queue engine sets it from its lease (`provision::store::lease`), so
    /// a run that lost its lease to another writer, or was stopped for longer than the lease lives,
    /// sends nothing more. `Err(why)`: the request is not sent ([`ScimError::Invalid`]).
    pub static SEND_GUARD: std::sync::Arc<dyn Fn() -> Result<(), String> + Send + Sync>;
}

/// [`SEND_GUARD`]'s verdict for this task (no guard: go).
fn guard_refuses() -> Option<String> {
    SEND_GUARD.try_with(|g| g().err()).ok().flatten()
}

fn count_retry() {
    let _ = RETRIES.try_with(|c| c.set(c.get() + 1));
}

impl ScimClient {
    pub fn new(config: ClientConfig) -> Result<Self, ScimError> {
        if config.token.is_empty() {
            return Err(ScimError::Invalid("no token given".into()));
        }
        if let RateLimit::Slack { scale } = config.rate_limit
            && !RATE_SCALE_RANGE.contains(&scale)
        {
            return Err(ScimError::Invalid(format!(
                "the rate-limit scale must be between {} and {}, not {scale}",
                RATE_SCALE_RANGE.start(),
                RATE_SCALE_RANGE.end()
            )));
        }
        if !RATE_SHARE_RANGE.contains(&config.rate_share) {
            return Err(ScimError::Invalid(format!(
                "the rate share must be between {} and {}, not {}",
                RATE_SHARE_RANGE.start(),
                RATE_SHARE_RANGE.end(),
                config.rate_share
            )));
        }
        for (what, d) in [("request timeout", config.timeout), ("operation deadline", config.op_deadline)] {
            if d.is_zero() || d > Duration::from_secs(7 * 24 * 3600) {
                return Err(ScimError::Invalid(format!("the {what} must be between 1 ms and 7 days, not {d:?}")));
            }
        }
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("scimitar/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            // A SCIM server's redirect is never followed (reqwest follows ten by default, to any
            // host and from https to http): it becomes `ScimError::Redirect` in `send_once`.
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(32);
        if is_loopback(&config.base_url) {
            // Loopback traffic must never detour through a proxy from the environment.
            b = b.no_proxy();
        }
        let http = b.build().map_err(|e| ScimError::Invalid(format!("cannot build HTTP client: {e}")))?;
        let mut bearer = format!("Bearer {}", config.token.expose());
        let auth = reqwest::header::HeaderValue::from_str(&bearer);
        zeroize::Zeroize::zeroize(&mut bearer);
        let mut auth = auth.map_err(|_| ScimError::Invalid("the token holds characters an HTTP header cannot carry".into()))?;
        auth.set_sensitive(true);
        let limiter = match config.rate_limit {
            RateLimit::Off => None,
            RateLimit::Slack { scale } => Some(Mutex::new(SlackBudget::for_client_sharing(scale, config.rate_share, Instant::now()))),
        };
        Ok(ScimClient {
            inner: Arc::new(Inner {
                http,
                base: config.base_url.clone(),
                token: config.token.clone(),
                auth,
                version: config.version,
                limiter,
                locks: Mutex::new(HashMap::new()),
                email_form: AtomicU8::new(UNKNOWN_FORM),
                ext_path_form: AtomicU8::new(0),
                member_path_form: AtomicU8::new(0),
                profile: Mutex::new(None),
                stats: ClientStats::default(),
                list_rtt_us: AtomicU64::new(0),
                body_readers: tokio::sync::Semaphore::new(BODY_READERS),
                config,
            }),
        })
    }

    pub fn version(&self) -> ApiVersion {
        self.inner.version
    }

    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    pub fn host(&self) -> String {
        let u = &self.inner.base;
        match u.port() {
            Some(p) => format!("{}:{p}", u.host_str().unwrap_or("?")),
            None => u.host_str().unwrap_or("?").to_string(),
        }
    }

    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.inner.stats;
        StatsSnapshot {
            requests: s.requests.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            throttled: s.throttled.load(Ordering::Relaxed),
            server_errors: s.server_errors.load(Ordering::Relaxed),
            transport_errors: s.transport_errors.load(Ordering::Relaxed),
            recovered_creates: s.recovered_creates.load(Ordering::Relaxed),
            email_fallbacks: s.email_fallbacks.load(Ordering::Relaxed),
        }
    }

    /// Requests of this endpoint that could go out right now without waiting (None = no limiter).
    pub fn budget_remaining(&self, e: Endpoint) -> Option<f64> {
        let l = self.inner.limiter.as_ref()?;
        Some(l.lock().unwrap().remaining(e, Instant::now()))
    }

    /// Start from a spent budget (`SlackBudget::assume_spent`): for a process that resumes what
    /// a killed one was sending. No-op without a limiter.
    pub fn assume_budget_spent(&self) {
        if let Some(l) = &self.inner.limiter {
            l.lock().unwrap().assume_spent(Instant::now());
        }
    }

    /// The best sustained rate (per second) of one endpoint under the client's limiter.
    pub fn sustained_rate(&self, e: Endpoint) -> Option<f64> {
        let l = self.inner.limiter.as_ref()?;
        Some(l.lock().unwrap().sustained_rate(e))
    }

    fn url(&self, path: &str) -> Url {
        self.inner.base.join(path).expect("relative SCIM path joins")
    }

    fn note_list_rtt(&self, d: Duration) {
        let us = (d.as_micros() as u64).max(1);
        let old = self.inner.list_rtt_us.load(Ordering::Relaxed);
        // A smoothed round trip (weight 1/4 for the newest), so one slow page does not swing it.
        let new = if old == 0 { us } else { (old * 3 + us) / 4 };
        self.inner.list_rtt_us.store(new, Ordering::Relaxed);
    }

    /// How many requests a listing may have in flight now, `in_flight` of them already out.
    ///
    /// Without a rate limit: `list_concurrency`. With Slack's table, the read tokens left now
    /// (each page that goes out spends one; requests beyond them would only wait in the limiter)
    /// on top of those in flight, but never fewer than the sustained read rate keeps busy over
    /// one measured round trip (Little's law: rate x round trip, plus one), so a spent budget
    /// still fetches at the full sustained rate on a slow link. At most `list_concurrency`, at
    /// least one. Every request still waits for its token ([`ScimClient::acquire`]): the window
    /// sizes the queue; the limiter keeps the pace.
    pub fn list_window(&self, in_flight: usize) -> usize {
        let cap = self.inner.config.list_concurrency.max(1);
        let Some(l) = &self.inner.limiter else { return cap };
        let (left, rate) = {
            let mut b = l.lock().unwrap();
            (b.remaining(Endpoint::ListUsers, Instant::now()), b.sustained_rate(Endpoint::ListUsers))
        };
        let rtt = Duration::from_micros(self.inner.list_rtt_us.load(Ordering::Relaxed)).as_secs_f64();
        let keep_busy = (rate * rtt).ceil() + 1.0;
        let want = (in_flight as f64 + left).max(keep_busy);
        (want.min(cap as f64) as usize).max(1)
    }

    async fn acquire(&self, e: Endpoint) {
        let Some(l) = &self.inner.limiter else { return };
        loop {
            let wait = match l.lock().unwrap().try_acquire(e, Instant::now()) {
                Ok(()) => return,
                Err(w) => w,
            };
            tokio::time::sleep(wait).await;
        }
    }

    fn object_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.inner.locks.lock().unwrap();
        if locks.len() > 1024 {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(key.to_string()).or_default().clone()
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let c = &self.inner.config;
        let exp = c.backoff_base.saturating_mul(1u32 << attempt.min(16)).min(c.backoff_cap);
        // "Full jitter": a random wait in [exp/2, exp] spreads retries of many workers apart.
        let half = exp / 2;
        half + Duration::from_secs_f64(rand::random::<f64>() * half.as_secs_f64())
    }

    /// Send one request with locking, rate limiting and retries, within the operation deadline.
    ///
    /// `idempotent = false` (POST) returns ambiguous failures to the caller instead of re-sending.
    /// `count` is the number of results a list request asks for (1 otherwise), for the body limit.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<Answer, ScimError> {
        self.send_with(method, path, query, body, idempotent, no_fast).await
    }

    /// [`ScimClient::send`], a success body read by `fast` when it can (`None`: it cannot, and
    /// the body is parsed into a `Value` as always; see [`crate::wire`]).
    async fn send_with<R>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        idempotent: bool,
        fast: fn(&[u8]) -> Option<R>,
    ) -> Result<Answer<R>, ScimError> {
        let endpoint = Endpoint::classify(method.as_str(), path);
        let count = query.iter().find(|(k, _)| *k == "count").and_then(|(_, v)| v.parse().ok()).unwrap_or(1);
        let limit = body_limit(endpoint, count);
        let read = BodyRead { limit, list: matches!(endpoint, Endpoint::ListUsers | Endpoint::ListGroups) };
        // A password the request carries must not come back in an error or a stored message.
        if let Some(pw) = body.and_then(|b| b.get("password")).and_then(Value::as_str) {
            crate::redact::register(pw);
        }
        let url = self.url(path);
        let what = format!("{method} {}", strip_query(&url));
        // A write of a task that can be stopped: every wait before it leaves watches the stop.
        let control = if endpoint.is_write() { WRITES.try_with(WriteControl::clone).ok() } else { None };
        let stop = control.as_ref().map(|c| c.stop.clone());
        let cancelled = || ScimError::Cancelled { what: what.clone() };
        let _guard = if endpoint.is_write() && path.contains('/') {
            let lock = self.object_lock(path).lock_owned();
            match &stop {
                Some(s) => tokio::select! {
                    biased;
                    _ = s.stopped() => return Err(cancelled()),
                    g = lock => Some(g),
                },
                None => Some(lock.await),
            }
        } else {
            None
        };
        let op_deadline = self.inner.config.op_deadline;
        let mut deadline: Option<Instant> = None;
        let mut failures = 0u32;
        let mut throttles = 0u32;
        let mut last: Option<String> = None;
        let gave_up =
            |reason: String| ScimError::Deadline { what: what.clone(), after: op_deadline, limit: "--op-deadline".into(), reason };
        loop {
            match &stop {
                Some(s) => tokio::select! {
                    biased;
                    _ = s.stopped() => return Err(cancelled()),
                    () = self.acquire(endpoint) => {}
                },
                None => self.acquire(endpoint).await,
            }
            // Checked once more right before the request leaves.
            if stop.as_ref().is_some_and(Stop::is_stopped) {
                return Err(cancelled());
            }
            // Fencing: a run that lost the org's lease sends nothing more.
            if endpoint.is_write()
                && let Some(why) = guard_refuses()
            {
                if let Some(l) = &self.inner.limiter {
                    l.lock().unwrap().settle(endpoint, true);
                }
                return Err(ScimError::Invalid(format!("{what} not sent: {why}")));
            }
            if let Some(f) = control.as_ref().and_then(|c| c.on_send.as_ref()) {
                f();
            }
            // The clock starts when the first attempt goes out (waiting for our own pacing first
            // is not the server's fault).
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + op_deadline);
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(gave_up(last.map_or("no answer in time".into(), |l| format!("last error: {l}"))));
            }
            let sent = Instant::now();
            let result = match tokio::time::timeout(remaining, self.send_once(&method, &url, query, body, read, fast)).await {
                Ok(r) => {
                    if matches!(endpoint, Endpoint::ListUsers | Endpoint::ListGroups) && r.is_ok() {
                        self.note_list_rtt(sent.elapsed());
                    }
                    r
                }
                Err(_) => {
                    if let Some(l) = &self.inner.limiter {
                        l.lock().unwrap().settle(endpoint, false);
                    }
                    let reason = match &last {
                        Some(l) => format!("no answer in time (last error: {l})"),
                        None => "no answer in time".into(),
                    };
                    return Err(gave_up(reason));
                }
            };
            if let Some(l) = &self.inner.limiter {
                let throttled = matches!(&result, Err(ScimError::Api(api)) if api.status == 429 && api.code != "resource_locked");
                l.lock().unwrap().settle(endpoint, !throttled);
            }
            let err = match result {
                Ok(a) => return Ok(a),
                Err(e) => e,
            };
            let stats = &self.inner.stats;
            if let ScimError::Api(api) = &err
                && api.status == 429
            {
                stats.throttled.fetch_add(1, Ordering::Relaxed);
                throttles += 1;
                if throttles > self.inner.config.max_throttle_retries {
                    return Err(err);
                }
                let wait = api.retry_after.unwrap_or(Duration::from_secs(1)).min(MAX_RETRY_AFTER);
                if Instant::now() + wait > deadline {
                    let asked = match (&api.retry_after_asked, api.retry_after_capped) {
                        (Some(a), true) => format!("Retry-After: {a} seconds, capped at {} s", MAX_RETRY_AFTER.as_secs()),
                        _ => format!("Retry-After: {} s", wait.as_secs_f64().round()),
                    };
                    return Err(gave_up(format!(
                        "the server asked to wait ({asked}) longer than this operation may take: {}",
                        api.human()
                    )));
                }
                if api.code != "resource_locked"
                    && let Some(l) = &self.inner.limiter
                {
                    let now = Instant::now();
                    l.lock().unwrap().penalise(endpoint, now, now + wait);
                }
                stats.retries.fetch_add(1, Ordering::Relaxed);
                count_retry();
                last = Some(err.to_string());
                if sleep_unless_stopped(wait, stop.as_ref()).await {
                    return Err(cancelled());
                }
                continue;
            }
            match &err {
                ScimError::Transport { .. } => stats.transport_errors.fetch_add(1, Ordering::Relaxed),
                _ if err.status().is_some_and(|s| s >= 500) => stats.server_errors.fetch_add(1, Ordering::Relaxed),
                _ => 0,
            };
            if !err.is_retryable() || failures >= self.inner.config.max_retries {
                return Err(err);
            }
            if !idempotent && err.is_ambiguous() {
                return Err(err);
            }
            let wait = self.backoff(failures);
            if Instant::now() + wait > deadline {
                return Err(gave_up(format!("last error: {err}")));
            }
            stats.retries.fetch_add(1, Ordering::Relaxed);
            count_retry();
            last = Some(err.to_string());
            if sleep_unless_stopped(wait, stop.as_ref()).await {
                return Err(cancelled());
            }
            failures += 1;
        }
    }

    async fn send_once<R>(
        &self,
        method: &Method,
        url: &Url,
        query: &[(&str, String)],
        body: Option<&Value>,
        read: BodyRead,
        fast: fn(&[u8]) -> Option<R>,
    ) -> Result<Answer<R>, ScimError> {
        let BodyRead { limit, list } = read;
        self.inner.stats.requests.fetch_add(1, Ordering::Relaxed);
        let mut full = url.clone();
        if !query.is_empty() {
            // url's serializer percent-encodes the filter's quotes, spaces and backslashes.
            full.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let mut req = self
            .inner
            .http
            .request(method.clone(), full)
            .header(reqwest::header::AUTHORIZATION, self.inner.auth.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let shown = strip_query(url);
        let resp = req.send().await.map_err(|e| transport(&shown, &e))?;
        let status = resp.status().as_u16();
        let retry_after = resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let ctype = resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        if (300..400).contains(&status) {
            let location = resp.headers().get(reqwest::header::LOCATION).map(|v| shown_location(url, v.as_bytes()));
            return Err(ScimError::Redirect { url: shown, status, location: location.unwrap_or_else(|| "(none)".into()) });
        }
        let ok = (200..300).contains(&status);
        // A list page's body waits for its turn to be read (and parsed: the permit is held to
        // the end of this function), so pages answered together are not all in memory at once.
        let _reading = match ok && list {
            true => self.inner.body_readers.acquire().await.ok(),
            false => None,
        };
        // An error answer is read only as far as any SCIM error goes; a success answer up to the
        // endpoint's limit, beyond which it is refused rather than read.
        let bytes = match read_body(resp, if ok { limit } else { ERROR_BODY_LIMIT }).await.map_err(|e| transport(&shown, &e))? {
            Body::Whole(b) => b,
            Body::Cut(b) if !ok => b,
            Body::Cut(_) => {
                return Err(ScimError::Protocol {
                    url: shown,
                    message: format!(
                        "the answer (HTTP {status}) is larger than the {} this client reads for {method} requests to this endpoint; refusing it",
                        human_bytes(limit)
                    ),
                });
            }
        };
        // The token (and a password the request carried) never get past this point.
        let bytes = crate::redact::redact_bytes(&bytes);
        if ok {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(Answer { body: None, fast: None });
            }
            if let Some(r) = fast(&bytes) {
                return Ok(Answer { body: None, fast: Some(r) });
            }
            return match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => Ok(Answer { body: Some(v), fast: None }),
                Err(_) => Err(not_scim(&shown, status, &ctype, &bytes)),
            };
        }
        let (retry_after, retry_after_capped, retry_after_asked) = match retry_after {
            Some(r) => (Some(r.wait), r.capped, r.capped.then_some(r.asked)),
            None => (None, false, None),
        };
        let with_retry = |mut e: ApiError| {
            e.retry_after = retry_after;
            e.retry_after_capped = retry_after_capped;
            e.retry_after_asked = retry_after_asked.clone();
            ScimError::Api(e)
        };
        match ApiError::from_body(status, &bytes) {
            Some(e) => Err(with_retry(e)),
            // JSON that is no error body, or nothing at all: the status class is the code.
            None if serde_json::from_slice::<Value>(&bytes).is_ok() || (bytes.is_empty() && status != 404) || status == 429 => {
                let detail = if bytes.is_empty() { String::new() } else { format!("HTTP {status}") };
                Err(with_retry(ApiError::from_status(status, detail)))
            }
            None => Err(not_scim(&shown, status, &ctype, &bytes)),
        }
    }

    // ---------- users: reads ----------

    /// One user by id. An answer about another user is refused: a caller must never act on a
    /// user it did not ask for (`users deactivate W1` deactivating W2).
    pub async fn get_user(&self, id: &str) -> Result<User, ScimError> {
        let path = object_path("Users", id)?;
        let a = self.send(Method::GET, &path, &[], None, true).await?;
        let url = self.url(&path);
        let u = parse_user(url.as_str(), a.body)?;
        same_object(url.as_str(), "user", id, u.id.as_deref())?;
        Ok(u)
    }

    /// One page of users; `start` is 1-based.
    pub async fn users_page(&self, filter: Option<&Filter>, start: u64, count: u32) -> Result<Page<User>, ScimError> {
        self.users_page_of(filter, start, count).await
    }

    /// One page of users, each read as `T` (a whole [`User`], or a [`UserSummary`]).
    pub async fn users_page_of<T: Listed>(&self, filter: Option<&Filter>, start: u64, count: u32) -> Result<Page<T>, ScimError> {
        self.page("Users", filter, start, count).await
    }

    /// One page of a list endpoint, each resource read as `T`: straight from the body when the
    /// fast reader can ([`crate::wire`]), else through a `Value`, with the same result.
    async fn page<T: Listed>(&self, path: &str, filter: Option<&Filter>, start: u64, count: u32) -> Result<Page<T>, ScimError> {
        let mut q = vec![("startIndex", start.to_string()), ("count", count.min(1000).to_string())];
        if let Some(f) = filter {
            q.push(("filter", f.to_string()));
        }
        let a = self.send_with(Method::GET, path, &q, None, true, wire::fast_list::<T>).await?;
        let (items, total_results, start_index) = match a.fast {
            Some(l) => (l.resources, l.total_results, l.start_index),
            None => {
                let url = self.url(path).to_string();
                let list = parse_list(&url, a.body)?;
                let items = list.resources.into_iter().map(T::from_value).collect::<Result<Vec<_>, _>>().map_err(|e| {
                    ScimError::Protocol { url: url.clone(), message: format!("the server sent a {} this client cannot read: {e}", T::WHAT) }
                })?;
                (items, list.total_results, list.start_index)
            }
        };
        if total_results > MAX_LIST_TOTAL {
            return Err(ScimError::Protocol {
                url: self.url(path).to_string(),
                message: format!(
                    "the server claims {total_results} results; no Slack organisation is that large (the largest have about \
                     500,000 people; this client stops above {MAX_LIST_TOTAL}); stopping"
                ),
            });
        }
        Ok(Page {
            items,
            total_results,
            start_index: start_index.unwrap_or(start).clamp(1, MAX_LIST_TOTAL + 1),
            progress: ListProgress::default(),
        })
    }

    /// Every user matching `filter`, page by page (`page_size` up to Slack's 1000), de-duplicated
    /// by id. After the first page the remaining pages are fetched with as many in flight as the
    /// read budget allows ([`ScimClient::list_window`]), handed over in order; each page carries
    /// the listing's [`ListProgress`].
    pub fn user_pages(&self, filter: Option<Filter>, page_size: u32) -> impl Stream<Item = Result<Page<User>, ScimError>> + Send + 'static {
        self.user_pages_of(filter, page_size)
    }

    /// [`ScimClient::user_pages`], each user read as `T`: a [`UserSummary`] costs a fraction of
    /// a whole [`User`] in time and memory, for listings that show a few columns.
    pub fn user_pages_of<T: Listed>(
        &self,
        filter: Option<Filter>,
        page_size: u32,
    ) -> impl Stream<Item = Result<Page<T>, ScimError>> + Send + 'static {
        let this = self.clone();
        paged(
            self.url("Users").to_string(),
            page_size,
            {
                let this = this.clone();
                move |in_flight| this.list_window(in_flight)
            },
            move |start, count| {
                let this = this.clone();
                let filter = filter.clone();
                async move { this.users_page_of::<T>(filter.as_ref(), start, count).await }
            },
        )
    }

    pub fn list_users(&self, filter: Option<Filter>, page_size: u32) -> impl Stream<Item = Result<User, ScimError>> + Send + 'static {
        self.user_pages(filter, page_size).map_ok(|p| futures::stream::iter(p.items.into_iter().map(Ok))).try_flatten()
    }

    pub async fn all_users(&self, filter: Option<Filter>) -> Result<Vec<User>, ScimError> {
        self.list_users(filter, 1000).try_collect().await
    }

    /// Find a user by email, on either version, including deactivated users.
    ///
    /// Why several forms: Slack documents `email eq "…"` for v1; for v2 its docs say filtering is
    /// "not applicable", yet Slack's own v2 tests filter on `userName`, and third-party v2 clients
    /// use `emails.value eq` or `email eq` (reference §4). So we try the RFC form and Slack's
    /// documented form in turn, remember the one the server accepts, and, if the server rejects
    /// every form, scan the listing. Results are always re-checked client-side, case-insensitively,
    /// so a server that ignored the filter cannot make us return the wrong person.
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, ScimError> {
        // Sent as typed: a server that compares case-sensitively finds what is stored as typed
        // (reference §4 leaves email case to the server); the answer is compared without regard
        // to case here.
        let email = check_email(email)?;
        let forms: &[&str] = match self.inner.version {
            ApiVersion::V1 => &["email", "emails.value"],
            ApiVersion::V2 => &["emails.value", "email"],
        };
        let known = self.inner.email_form.load(Ordering::Relaxed);
        let order: Vec<usize> = if (known as usize) < forms.len() { vec![known as usize] } else { (0..forms.len()).collect() };
        for i in order {
            let f = Filter::eq(forms[i], email.as_str());
            match self.users_page(Some(&f), 1, 10).await {
                Ok(page) => {
                    self.inner.email_form.store(i as u8, Ordering::Relaxed);
                    return Ok(page.items.into_iter().find(|u| has_email(u, &email)));
                }
                Err(e) if is_filter_rejection(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        self.inner.stats.email_fallbacks.fetch_add(1, Ordering::Relaxed);
        let mut s = std::pin::pin!(self.list_users(None, 1000));
        while let Some(u) = s.next().await {
            let u = u?;
            if has_email(&u, &email) {
                return Ok(Some(u));
            }
        }
        Ok(None)
    }

    /// Find a user by userName. The argument is sent as typed (`Mixed.Case`): Slack matches
    /// userNames without regard to case (reference §4), but a server that compares
    /// case-sensitively would never find `Mixed.Case` asked as `mixed.case`; the answers are
    /// compared without regard to case here.
    pub async fn find_user_by_user_name(&self, user_name: &str) -> Result<Option<User>, ScimError> {
        let name = user_name.trim();
        if name.is_empty() {
            return Err(ScimError::Invalid("empty userName".into()));
        }
        let page = self.users_page(Some(&Filter::eq("userName", name)), 1, 10).await?;
        Ok(page.items.into_iter().find(|u| u.user_name.as_deref().is_some_and(|n| same_text(n.trim(), name))))
    }

    // ---------- users: writes ----------

    /// Create a user. After an ambiguous failure (5xx, connection lost after sending) the user is
    /// looked up by email and userName before anything is re-sent, so a create never doubles.
    pub async fn create_user(&self, user: &User) -> Result<User, ScimError> {
        let email = user.primary_email().map(str::to_string);
        let dialect = self.dialect().await;
        let body = user.to_wire(self.inner.version, dialect);
        self.create("Users", &body, parse_user, || self.find_existing(email.as_deref(), user.user_name.as_deref()))
            .await
            .map_err(|e| explain_guest_refusal(e, user.guest.is_some()))
    }

    /// POST a new object. After an ambiguous failure, `find` looks for the object the server may
    /// have created before anything is sent again.
    async fn create<T, F, Fut>(
        &self,
        path: &str,
        body: &Value,
        parse: fn(&str, Option<Value>) -> Result<T, ScimError>,
        find: F,
    ) -> Result<T, ScimError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, ScimError>>,
    {
        let mut attempts = 0;
        loop {
            match self.send(Method::POST, path, &[], Some(body), false).await {
                Ok(a) => return parse(self.url(path).as_str(), a.body),
                // A deadline ends the call; the create is looked up again only when resumed.
                Err(e) if e.is_ambiguous() && !matches!(e, ScimError::Deadline { .. }) && attempts < self.inner.config.max_retries => {
                    attempts += 1;
                    tokio::time::sleep(self.backoff(attempts)).await;
                    if let Some(found) = find().await? {
                        self.inner.stats.recovered_creates.fetch_add(1, Ordering::Relaxed);
                        return Ok(found);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn find_existing(&self, email: Option<&str>, user_name: Option<&str>) -> Result<Option<User>, ScimError> {
        if let Some(e) = email
            && let Some(u) = self.find_user_by_email(e).await?
        {
            return Ok(Some(u));
        }
        if let Some(n) = user_name {
            return self.find_user_by_user_name(n).await;
        }
        Ok(None)
    }

    /// Change some attributes. v2 sends a PatchOp; v1 sends Slack's partial resource.
    ///
    /// A cleared extension attribute has two path forms ([`ExtPath`]): RFC 7644's colon first;
    /// if the server refuses its syntax, Slack's dot form once, and the client remembers the
    /// one the server took.
    pub async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<User, ScimError> {
        let guest = update.set.guest.is_some() || update.clear.iter().any(|c| c == "guest" || c.starts_with("guest."));
        self.update_user_inner(id, update).await.map_err(|e| explain_guest_refusal(e, guest))
    }

    async fn update_user_inner(&self, id: &str, update: &UserUpdate) -> Result<User, ScimError> {
        let path = object_path("Users", id)?;
        let dialect = self.dialect().await;
        let a = match self.inner.version {
            ApiVersion::V2 if update.clear.iter().any(|c| is_ext_path(c)) => {
                self.patch_in_forms(&path, &self.inner.ext_path_form, ExtPath::ORDER.map(|f| f as u8), |f| {
                    Some(serde_json::to_value(user_patch_v2(update, dialect, ExtPath::from_u8(f))).unwrap())
                })
                .await?
            }
            ApiVersion::V2 => {
                let body = serde_json::to_value(user_patch_v2(update, dialect, ExtPath::Colon)).unwrap();
                self.send(Method::PATCH, &path, &[], Some(&body), true).await?
            }
            ApiVersion::V1 => self.send(Method::PATCH, &path, &[], Some(&user_patch_v1(update)), true).await?,
        };
        match a.body {
            Some(_) => {
                // The answer must be about the user written to: another's is an error.
                let url = self.url(&path);
                let u = parse_user(url.as_str(), a.body)?;
                same_object(url.as_str(), "user", id, u.id.as_deref())?;
                Ok(u)
            }
            None => self.get_user(id).await,
        }
    }

    /// Deactivate or reactivate through PATCH `active`.
    pub async fn set_active(&self, id: &str, active: bool) -> Result<User, ScimError> {
        let update = UserUpdate { set: User { active: Some(active), ..Default::default() }, clear: vec![] };
        self.update_user(id, &update).await
    }

    /// Deactivate through DELETE: only where DELETE deactivates, i.e. on Slack (which never
    /// hard-deletes; repeating it is harmless, reference §2). On any other server DELETE removes
    /// the user for good (RFC 7644 §3.6), so this refuses before anything is sent.
    pub async fn deactivate(&self, id: &str) -> Result<(), ScimError> {
        let path = object_path("Users", id)?;
        let profile = self.profile().await;
        if !profile.delete_deactivates() {
            return Err(ScimError::Invalid(format!(
                "refusing DELETE /Users/{}: this server is {} ({}), where DELETE removes the user for good (RFC 7644 §3.6); deactivate with PATCH active=false (--via patch)",
                crate::sanitize::excerpt(id, 80),
                profile.label(),
                profile.reason
            )));
        }
        self.send(Method::DELETE, &path, &[], None, true).await.map(|_| ())
    }

    /// Full replace. PUT blanks every omitted attribute (reference §8.1), so the caller's user
    /// must be complete: we refuse one without `active`, `userName` or `emails`.
    pub async fn replace_user(&self, id: &str, user: &User) -> Result<User, ScimError> {
        let path = object_path("Users", id)?;
        if user.active.is_none() || user.user_name.is_none() || user.emails.as_ref().is_none_or(Vec::is_empty) {
            return Err(ScimError::Invalid(
                "a PUT replaces the whole user: give active, userName and emails (fetch the user, change it, send it back)".into(),
            ));
        }
        let mut u = user.clone();
        u.id = None;
        u.meta = None;
        if u.nick_name.is_none() {
            u.nick_name = u.user_name.clone();
        }
        let body = u.to_wire(self.inner.version, self.dialect().await);
        let a = self.send(Method::PUT, &path, &[], Some(&body), true).await?;
        let url = self.url(&path);
        let u = parse_user(url.as_str(), a.body)?;
        same_object(url.as_str(), "user", id, u.id.as_deref())?;
        Ok(u)
    }

    // ---------- groups ----------

    /// One group by id; an answer about another group is refused (as [`ScimClient::get_user`]).
    pub async fn get_group(&self, id: &str) -> Result<Group, ScimError> {
        let path = object_path("Groups", id)?;
        let a = self.send(Method::GET, &path, &[], None, true).await?;
        let url = self.url(&path);
        let g = parse_group(url.as_str(), a.body)?;
        same_object(url.as_str(), "group", id, g.id.as_deref())?;
        Ok(g)
    }

    pub async fn groups_page(&self, filter: Option<&Filter>, start: u64, count: u32) -> Result<Page<Group>, ScimError> {
        self.page("Groups", filter, start, count).await
    }

    pub fn group_pages(
        &self,
        filter: Option<Filter>,
        page_size: u32,
    ) -> impl Stream<Item = Result<Page<Group>, ScimError>> + Send + 'static {
        let this = self.clone();
        paged(
            self.url("Groups").to_string(),
            page_size,
            {
                let this = this.clone();
                move |in_flight| this.list_window(in_flight)
            },
            move |start, count| {
                let this = this.clone();
                let filter = filter.clone();
                async move { this.groups_page(filter.as_ref(), start, count).await }
            },
        )
    }

    pub async fn all_groups(&self) -> Result<Vec<Group>, ScimError> {
        let pages: Vec<Page<Group>> = self.group_pages(None, 1000).try_collect().await?;
        Ok(pages.into_iter().flat_map(|p| p.items).collect())
    }

    /// Find a group by its display name (exact, case-insensitive). Slack does not document group
    /// filters, so a rejected filter falls back to scanning the list.
    pub async fn find_group_by_name(&self, name: &str) -> Result<Option<Group>, ScimError> {
        let f = Filter::eq("displayName", name);
        let items = match self.groups_page(Some(&f), 1, 100).await {
            Ok(p) => p.items,
            Err(e) if is_filter_rejection(&e) => self.all_groups().await?,
            Err(e) => return Err(e),
        };
        Ok(items.into_iter().find(|g| g.name().eq_ignore_ascii_case(name)))
    }

    pub async fn create_group(&self, name: &str, members: &[String]) -> Result<Group, ScimError> {
        for m in members {
            check_id(m)?;
        }
        check_name(name)?;
        let g =
            Group { display_name: Some(name.to_string()), members: Some(members.iter().map(Member::id).collect()), ..Default::default() };
        let body = g.to_value(self.inner.version);
        self.create("Groups", &body, parse_group, || self.find_group_by_name(name)).await
    }

    async fn patch_group(&self, id: &str, body: Value) -> Result<(), ScimError> {
        let path = object_path("Groups", id)?;
        self.send(Method::PATCH, &path, &[], Some(&body), true).await.map(|_| ())
    }

    /// Send a PATCH that can be written in two forms (`build(form)`; `None` = that form cannot
    /// express this change): the remembered form if the server took one before, else `order`'s
    /// first, and on a syntax rejection (RFC 7644 §3.12 `invalidPath`/`invalidSyntax`, Slack's
    /// filter codes) the other form once. A refused PATCH changed nothing (RFC 7644 §3.5.2: it
    /// is atomic), so the second send is safe. The form the server took is remembered.
    async fn patch_in_forms(
        &self,
        path: &str,
        memo: &AtomicU8,
        order: [u8; 2],
        build: impl Fn(u8) -> Option<Value>,
    ) -> Result<Answer, ScimError> {
        let known = memo.load(Ordering::Relaxed);
        let forms: Vec<(u8, Value)> =
            if known != 0 { vec![known] } else { order.to_vec() }.into_iter().filter_map(|f| build(f).map(|b| (f, b))).collect();
        let choice = forms.len() > 1;
        let mut first_err = None;
        for (f, body) in forms {
            match self.send(Method::PATCH, path, &[], Some(&body), true).await {
                Ok(a) => {
                    if choice || first_err.is_some() {
                        memo.store(f, Ordering::Relaxed);
                    }
                    return Ok(a);
                }
                Err(e) if e.is_syntax_rejection() && first_err.is_none() && known == 0 => first_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(first_err.unwrap_or_else(|| ScimError::Invalid("no request form can express this change".into())))
    }

    pub async fn rename_group(&self, id: &str, name: &str) -> Result<(), ScimError> {
        check_name(name)?;
        let body = match self.inner.version {
            ApiVersion::V2 => serde_json::to_value(PatchRequest::new(vec![PatchOperation {
                op: "replace".into(),
                path: Some("displayName".into()),
                value: Some(Value::from(name)),
            }]))
            .unwrap(),
            ApiVersion::V1 => json!({"schemas": [urn::V1_CORE], "displayName": name}),
        };
        self.patch_group(id, body).await
    }

    /// Add members, at most 5,000 per call (Slack's recommended batch).
    pub async fn add_members(&self, id: &str, user_ids: &[String]) -> Result<(), ScimError> {
        for chunk in user_ids.chunks(5000) {
            for m in chunk {
                check_id(m)?;
            }
            let members: Vec<Value> = chunk.iter().map(|m| json!({"value": m})).collect();
            let body = match self.inner.version {
                ApiVersion::V2 => json!({"schemas": [urn::V2_PATCH], "Operations": [{"op": "add", "path": "members", "value": members}]}),
                ApiVersion::V1 => json!({"schemas": [urn::V1_CORE], "members": members}),
            };
            self.patch_group(id, body).await?;
        }
        Ok(())
    }

    /// Remove members. v2 uses one filtered `remove` per member: a `remove` on `members` without
    /// a filter empties the whole group (reference §8.3), so that form is never sent.
    ///
    /// The filter's value has two forms ([`MemberPath`]): quoted as RFC 7644 §3.5.2.2 writes it
    /// (`members[value eq "ID"]`, the first form on a generic server) and unquoted as Slack's
    /// docs write it (`members[value eq U123]`, reference §5 and §10.6, first on Slack). A
    /// syntax rejection falls back once to the other form, and the client remembers the one the
    /// server took. The quoted value is a JSON string (quotes and backslashes escaped); the
    /// unquoted form is used only for ids of letters, digits, `.`, `_` and `-`, so no id can
    /// change the path's shape.
    pub async fn remove_members(&self, id: &str, user_ids: &[String]) -> Result<(), ScimError> {
        let path = object_path("Groups", id)?;
        let order = if self.profile().await.is_slack() { MemberPath::SLACK_ORDER } else { MemberPath::RFC_ORDER };
        for chunk in user_ids.chunks(1000) {
            for m in chunk {
                check_id(m)?;
            }
            match self.inner.version {
                ApiVersion::V2 => {
                    self.patch_in_forms(&path, &self.inner.member_path_form, order.map(|f| f as u8), |f| {
                        let form = MemberPath::from_u8(f);
                        let ops = chunk
                            .iter()
                            .map(|m| form.path(m).map(|p| json!({"op": "remove", "path": p})))
                            .collect::<Option<Vec<Value>>>()?;
                        Some(json!({"schemas": [urn::V2_PATCH], "Operations": ops}))
                    })
                    .await?;
                }
                ApiVersion::V1 => {
                    let members: Vec<Value> = chunk.iter().map(|m| json!({"value": m, "operation": "delete"})).collect();
                    self.send(Method::PATCH, &path, &[], Some(&json!({"schemas": [urn::V1_CORE], "members": members})), true).await?;
                }
            }
        }
        Ok(())
    }

    pub async fn delete_group(&self, id: &str) -> Result<(), ScimError> {
        let path = object_path("Groups", id)?;
        self.send(Method::DELETE, &path, &[], None, true).await.map(|_| ())
    }

    // ---------- service ----------

    /// The server's profile: detected on first use and kept for the connection (unless the
    /// configuration named one). See [`ServerProfile`].
    ///
    /// Detection, first match wins: the host (`*.slack.com`); the wire version (SCIM 1.1 is
    /// spoken here only in Slack's dialect); the ServiceProviderConfig (Slack's names Slack in
    /// its documentation URIs); an error body in Slack's v1 `Errors` shape (reference §7: no RFC
    /// server sends it). Anything else is a generic RFC 7644 server. A server that cannot be
    /// reached is taken as generic for now (the safe side: DELETE is never sent) and asked
    /// again next time.
    pub async fn profile(&self) -> ServerProfile {
        if let Some((p, guessed)) = self.inner.profile.lock().unwrap().clone()
            && guessed.is_none_or(|at| at.elapsed() < PROFILE_RETRY)
        {
            return p;
        }
        let (p, keep) = self.detect_profile().await;
        *self.inner.profile.lock().unwrap() = Some((p.clone(), (!keep).then(Instant::now)));
        p
    }

    /// The dialect of the server's profile.
    pub async fn dialect(&self) -> Dialect {
        self.profile().await.dialect
    }

    async fn detect_profile(&self) -> (ServerProfile, bool) {
        match self.inner.config.server {
            ServerChoice::Slack => return (ServerProfile::slack("configured (server = slack)"), true),
            ServerChoice::Rfc => return (ServerProfile::rfc("configured (server = rfc)"), true),
            ServerChoice::Auto => {}
        }
        let host = self.inner.base.host_str().unwrap_or("").to_ascii_lowercase();
        if host == "slack.com" || host.ends_with(".slack.com") {
            return (ServerProfile::slack(format!("host {host}")), true);
        }
        if self.inner.version == ApiVersion::V1 {
            return (ServerProfile::slack("SCIM v1.1 (spoken here only in Slack's dialect)"), true);
        }
        match self.service_provider_config().await {
            Ok((path, v)) => {
                let text = v.to_string().to_ascii_lowercase();
                if text.contains("slack.com") || text.contains("slack.dev") {
                    (ServerProfile::slack(format!("its {path} names Slack")), true)
                } else {
                    (ServerProfile::rfc(format!("its {path} does not name Slack")), true)
                }
            }
            Err(ScimError::Api(a)) if a.v1_body => (ServerProfile::slack("it answers errors in Slack's v1 shape"), true),
            Err(ScimError::Api(a)) if a.status < 500 && a.status != 429 => {
                (ServerProfile::rfc(format!("no ServiceProviderConfig (HTTP {}) and nothing Slack-like", a.status)), true)
            }
            Err(e) => (ServerProfile::rfc(format!("not detected yet ({e}); taken as generic, so DELETE is never sent")), false),
        }
    }

    /// `GET ServiceProviderConfig` (RFC 7644 §4) or Slack's `ServiceProviderConfigs` (reference
    /// §2: the plural on v1, either on v2): the version's usual name first, the other after a 404.
    pub async fn service_provider_config(&self) -> Result<(&'static str, Value), ScimError> {
        let order = match self.inner.version {
            ApiVersion::V1 => ["ServiceProviderConfigs", "ServiceProviderConfig"],
            ApiVersion::V2 => ["ServiceProviderConfig", "ServiceProviderConfigs"],
        };
        let mut first = None;
        for path in order {
            match self.send(Method::GET, path, &[], None, true).await {
                Ok(a) => return Ok((path, a.body.unwrap_or(Value::Null))),
                Err(e) if e.is_not_found() || matches!(&e, ScimError::NotScim { status: 404, .. }) => first = first.or(Some(e)),
                Err(e) => return Err(e),
            }
        }
        Err(first.expect("two paths tried"))
    }

    /// Does the URL answer as SCIM, is the token accepted, which version, which server profile.
    ///
    /// ServiceProviderConfig answers even to a bogus token (reference §2; RFC 7644 §4 lets it
    /// answer unauthenticated), so the token is checked with an authenticated probe,
    /// `GET /Users?count=1`, whose refusal is an auth failure (exit 77) on every server.
    pub async fn check(&self) -> CheckReport {
        let started = Instant::now();
        let mut report = CheckReport {
            url: self.inner.base.to_string(),
            version: self.inner.version,
            scim_endpoint: false,
            service_provider_config: None,
            server: None,
            token_accepted: false,
            token_refused: false,
            total_users: None,
            latency_ms: 0,
            problem: None,
        };
        match self.service_provider_config().await {
            Ok((path, _)) => {
                report.scim_endpoint = true;
                report.service_provider_config = Some(path.to_string());
            }
            Err(
                e @ (ScimError::Transport { .. }
                | ScimError::NotScim { .. }
                | ScimError::Invalid(_)
                | ScimError::Protocol { .. }
                | ScimError::Redirect { .. }
                | ScimError::Deadline { .. }),
            ) if !matches!(e, ScimError::NotScim { status: 404, .. }) => {
                report.problem = Some(e.to_string());
                report.latency_ms = started.elapsed().as_millis() as u64;
                return report;
            }
            Err(_) => {}
        }
        match self.users_page(None, 1, 1).await {
            Ok(p) => {
                report.scim_endpoint = true;
                report.token_accepted = true;
                report.total_users = Some(p.total_results);
            }
            Err(e) => {
                // A SCIM error body is a SCIM server answering, whatever it says.
                if matches!(e, ScimError::Api(_)) {
                    report.scim_endpoint = true;
                }
                report.token_refused = e.is_auth();
                report.problem = Some(e.to_string());
            }
        }
        if report.scim_endpoint {
            report.server = Some(self.profile().await);
        }
        report.latency_ms = started.elapsed().as_millis() as u64;
        report
    }
}

/// Generic paged listing: first page alone (to learn the total), then the rest with up to
/// `window(in_flight)` requests in flight (asked again as each page arrives), handed over in
/// order, de-duplicated by id, continuing sequentially if the server's totals shift.
///
/// Bounded whatever the server says: a claimed total above [`MAX_LIST_TOTAL`] is an error (see
/// `page`); a total that falls while listing (results deleted meanwhile) means a pass from the start
/// again, handing over only what was missed (at most [`MAX_RELISTS`] times); the
/// pages still to fetch are generated lazily; an empty page ends the listing; a page whose every
/// result was listed already ends it with an error (the server ignores `startIndex`); and the
/// number of pages is capped by what the first page's total allows (page size counted as at
/// least [`MIN_BUDGET_PAGE`], plus a quarter for results added while listing).
fn paged<T, W, F, Fut>(
    label: String,
    page_size: u32,
    window: W,
    fetch: F,
) -> impl Stream<Item = Result<Page<T>, ScimError>> + Send + 'static
where
    T: Listed,
    W: Fn(usize) -> usize + Send + Sync + 'static,
    F: Fn(u64, u32) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Result<Page<T>, ScimError>> + Send + 'static,
{
    let count = page_size.clamp(1, 1000);
    async_stream(move |tx| async move {
        let mut seen = crate::idset::IdSet::default();
        // Drops results listed already; `Err` when the page had results and none was new.
        let dedupe = |mut p: Page<T>, seen: &mut crate::idset::IdSet| -> Result<Page<T>, Page<T>> {
            let had = p.items.len();
            p.items.retain(|i| i.key().is_none_or(|k| seen.insert(k)));
            if had > 0 && p.items.is_empty() { Err(p) } else { Ok(p) }
        };
        let protocol = |message: String| ScimError::Protocol { url: label.clone(), message };
        let first = match fetch(1, count).await {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        let total = first.total_results.min(MAX_LIST_TOTAL);
        // Room for every result the first page announces (pages not written to stay unmapped).
        seen.reserve(total);
        let got = first.items.len() as u64;
        let step = got.max(1);
        let budget_step = step.max(u64::from(count).min(MIN_BUDGET_PAGE));
        let max_pages = {
            let pages = total.div_ceil(budget_step);
            pages + pages / 4 + 10
        };
        let mut progress = ListProgress { pages_done: 0, pages_total: total.div_ceil(step).max(1), in_flight: 0 };
        let mut fetched = 1u64;
        let mut next_start = 1 + got;
        let first_empty = got == 0;
        let mut first = dedupe(first, &mut seen).unwrap_or_else(|p| p);
        progress.pages_done = 1;
        first.progress = progress;
        if tx.send(Ok(first)).await.is_err() || first_empty {
            return;
        }
        let over_budget = |fetched: u64, listed: usize| {
            protocol(format!(
                "the listing does not end: {fetched} pages with {listed} results fetched, more than the {total} results its first \
                 page announced allow (it sends {step} per page); stopping"
            ))
        };
        let no_progress = |start: u64| {
            protocol(format!(
                "the page at startIndex={start} holds only results listed already (does the server ignore startIndex?); stopping"
            ))
        };
        // Hands a page over with the progress so far; false when the listing is over (the
        // consumer is gone, or the page only repeated what was listed).
        let deliver = |p: Page<T>, start: u64, progress: &mut ListProgress, in_flight: usize, seen: &mut crate::idset::IdSet| {
            progress.pages_done += 1;
            progress.pages_total = progress.pages_total.max(progress.pages_done);
            progress.in_flight = in_flight;
            match dedupe(p, seen) {
                Ok(mut p) => {
                    p.progress = *progress;
                    Ok(p)
                }
                Err(_) => Err(no_progress(start)),
            }
        };
        // The smallest total any page claimed: below the first page's, results were deleted
        // while this listing ran, and paging by startIndex skipped as many that still exist.
        let mut low_total = total;
        // The rest, generated lazily, as many in flight as `window` says, in order.
        let mut starts = (0u64..).map(move |i| next_start + i * step).take_while(move |s| *s <= total).take(max_pages as usize);
        let mut in_flight = futures::stream::FuturesOrdered::new();
        'pass: {
            loop {
                let want = window(in_flight.len());
                while in_flight.len() < want {
                    let Some(s) = starts.next() else { break };
                    let f = fetch.clone();
                    in_flight.push_back(async move { (s, f(s, step.min(1000) as u32).await) });
                }
                let Some((s, r)) = in_flight.next().await else { break };
                fetched += 1;
                match r {
                    Ok(p) if p.items.is_empty() => break 'pass,
                    Ok(p) => {
                        low_total = low_total.min(p.total_results);
                        let n = p.items.len() as u64;
                        next_start = next_start.max(s + n);
                        let item = deliver(p, s, &mut progress, in_flight.len(), &mut seen);
                        let stop = item.is_err();
                        if tx.send(item).await.is_err() || stop {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
            drop(in_flight);
            // Totals can grow while we list; read on until an empty page, within the budget.
            loop {
                if fetched >= max_pages {
                    let _ = tx.send(Err(over_budget(fetched, seen.len()))).await;
                    return;
                }
                fetched += 1;
                match fetch(next_start, count).await {
                    Ok(p) if p.items.is_empty() => break 'pass,
                    Ok(p) => {
                        low_total = low_total.min(p.total_results);
                        let start = next_start;
                        next_start = next_start.saturating_add(p.items.len() as u64);
                        let item = deliver(p, start, &mut progress, 0, &mut seen);
                        let stop = item.is_err();
                        if tx.send(item).await.is_err() || stop {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        }
        // The total fell: read the listing again from the start. Results listed already are
        // dropped (only those the shifted pages skipped come out), so a consumer sees each once.
        let mut pass_total = total;
        let mut relists = 0;
        while low_total < pass_total {
            if relists == MAX_RELISTS {
                let _ = tx
                    .send(Err(protocol(format!(
                        "the total fell while listing ({pass_total} to {low_total}) in {} passes in a row: results are being \
                         deleted while this listing runs, so some that still exist may be missing; stopping (run it again)",
                        MAX_RELISTS + 1
                    ))))
                    .await;
                return;
            }
            relists += 1;
            let pass_pages = low_total.div_ceil(budget_step);
            let pass_max = pass_pages + pass_pages / 4 + 10;
            progress.pages_total = progress.pages_total.max(progress.pages_done) + low_total.div_ceil(step);
            let (mut start, mut fetched) = (1u64, 0u64);
            let (mut first_total, mut pass_low) = (None, u64::MAX);
            loop {
                if fetched >= pass_max {
                    let _ = tx.send(Err(over_budget(fetched, seen.len()))).await;
                    return;
                }
                fetched += 1;
                let mut p = match fetch(start, count).await {
                    Ok(p) if p.items.is_empty() => break,
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                first_total.get_or_insert(p.total_results);
                pass_low = pass_low.min(p.total_results);
                start = start.saturating_add(p.items.len() as u64);
                // Pages of results listed already are expected here: only new ones go out.
                p.items.retain(|i| i.key().is_none_or(|k| seen.insert(k)));
                progress.pages_done += 1;
                progress.pages_total = progress.pages_total.max(progress.pages_done);
                progress.in_flight = 0;
                if !p.items.is_empty() {
                    p.progress = progress;
                    if tx.send(Ok(p)).await.is_err() {
                        return;
                    }
                }
            }
            // An empty listing now: nothing more to find. Else again while this pass saw a fall.
            let Some(first) = first_total else { return };
            pass_total = first;
            low_total = pass_low;
        }
    })
}

/// A tiny channel-backed stream generator (keeps the paging logic straight-line).
fn async_stream<T, F, Fut>(body: F) -> impl Stream<Item = T> + Send + 'static
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<T>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let mut task = Some((body, tx));
    let mut rx = rx;
    // The producer stops at its next send once the stream (and so `rx`) is dropped.
    futures::stream::poll_fn(move |cx| {
        if let Some((body, tx)) = task.take() {
            tokio::spawn(body(tx));
        }
        rx.poll_recv(cx)
    })
}

/// A refused write that made or unmade a guest: multi-channel guests are provisioned through SCIM
/// on Enterprise plans only (Slack's docs: "Provisioning multi-channel guest users with the SCIM
/// API is only available to Enterprise plan customers", reference §3), and Slack documents no
/// code of its own for the refusal on other plans, so the answer gets that explanation (unless it
/// is one whose cause is known: an admin or owner, throttling, a lock).
fn explain_guest_refusal(e: ScimError, guest: bool) -> ScimError {
    match e {
        ScimError::Api(mut a)
            if guest
                && (400..500).contains(&a.status)
                && !matches!(
                    a.code.as_str(),
                    "cannot_make_user_guest" | "too_many_requests" | "resource_locked" | "invalid_authentication"
                ) =>
        {
            a.detail = format!(
                "{}; multi-channel guests are provisioned through SCIM on Enterprise plans only: on a plan without them Slack refuses the guest extension",
                a.detail
            );
            ScimError::Api(a)
        }
        e => e,
    }
}

fn has_email(u: &User, email: &str) -> bool {
    u.emails.iter().flatten().filter_map(|e| e.value.as_deref()).any(|v| same_text(v.trim(), email))
}

/// Equal without regard to case (Unicode lowercase when either is not ASCII).
fn same_text(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() { a.eq_ignore_ascii_case(b) } else { a.to_lowercase() == b.to_lowercase() }
}

fn is_filter_rejection(e: &ScimError) -> bool {
    matches!(e, ScimError::Api(a) if a.status == 400 && matches!(a.code.as_str(),
        "invalid_query" | "no_filters" | "query_building_failed" | "invalid_filter_group" | "incomplete_filter" | "invalid_filter" | "invalidFilter"))
}

/// Check that text looks like an email address, and lowercase it (Slack's email matching case
/// rules are undocumented, reference §4, so we compare lowercased on both sides).
pub fn normalize_email(email: &str) -> Result<String, ScimError> {
    check_email(email).map(|e| e.to_lowercase())
}

/// Check that text looks like an email address; the address as typed (trimmed). Lookups send
/// this, not a lowercased copy: a server may compare case-sensitively.
pub fn check_email(email: &str) -> Result<String, ScimError> {
    let e = email.trim();
    let bad = |why: &str| Err(ScimError::Invalid(format!("{} is not an email address: {why}", crate::sanitize::quoted_excerpt(email, 80))));
    if e.len() > 254 {
        return bad("longer than 254 characters");
    }
    if let Some(c) =
        e.chars().find(|&c| crate::sanitize::is_bidi_control(c) || crate::sanitize::is_invisible(c) || matches!(c, '\u{200c}' | '\u{200d}'))
    {
        return bad(&format!("contains the invisible or direction-changing character U+{:04X}", c as u32));
    }
    if e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("contains spaces or control characters");
    }
    if let Some(c) = e.chars().find(|c| matches!(c, '"' | '\'' | '`' | ',' | ';' | ':' | '<' | '>' | '(' | ')' | '[' | ']' | '\\')) {
        return bad(&format!("contains {c:?}, which Slack does not accept in an address"));
    }
    let Some((local, domain)) = e.rsplit_once('@') else { return bad("no @") };
    if local.is_empty() || domain.is_empty() {
        return bad("empty part before or after @");
    }
    if local.contains('@') {
        return bad("more than one @");
    }
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return bad("the domain needs a dot, e.g. example.com");
    }
    Ok(e.to_string())
}

fn check_id(id: &str) -> Result<(), ScimError> {
    crate::types::check_id(id)
        .map_err(|why| ScimError::Invalid(format!("{} cannot be used as an id: {why}", crate::sanitize::quoted_excerpt(id, 80))))
}

/// `Users/<id>` or `Groups/<id>`, the id percent-encoded as one path segment (it is opaque: the
/// server's, exactly; encoding keeps `/`, `?`, `#` and `%` in it from changing the URL).
fn object_path(resource: &str, id: &str) -> Result<String, ScimError> {
    check_id(id)?;
    Ok(format!("{resource}/{}", encode_segment(id)))
}

fn check_name(name: &str) -> Result<(), ScimError> {
    if name.trim().is_empty() {
        return Err(ScimError::Invalid("the group name is empty".into()));
    }
    if name.chars().any(char::is_control) {
        return Err(ScimError::Invalid(format!("{} has control characters", crate::sanitize::quoted_excerpt(name, 80))));
    }
    Ok(())
}

/// The two path forms of an enterprise extension attribute in a v2 PATCH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ExtPath {
    /// `urn:…:enterprise:2.0:User:department`: RFC 7644 §3.5.2 / §3.10 (`[URI ":"] attrPath`),
    /// also in one of Slack's own examples (`…:2.0:User:employeeNumber`, reference §5).
    Colon = 1,
    /// `urn:…:enterprise:2.0:User.department`: Slack's other documented example
    /// (`…enterprise:2.0:User.manager.managerId`, reference §5); strict RFC servers refuse it.
    Dot = 2,
}

impl ExtPath {
    /// Both profiles try the RFC form first: Slack documents it too (reference §5).
    pub const ORDER: [ExtPath; 2] = [ExtPath::Colon, ExtPath::Dot];
    fn from_u8(f: u8) -> ExtPath {
        if f == ExtPath::Dot as u8 { ExtPath::Dot } else { ExtPath::Colon }
    }
}

/// The two forms of the filter that removes one member in a v2 PATCH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum MemberPath {
    /// `members[value eq "ID"]`: RFC 7644 §3.5.2.2.
    Quoted = 1,
    /// `members[value eq ID]`: Slack's documented example (reference §5, §10.6).
    Unquoted = 2,
}

impl MemberPath {
    pub const RFC_ORDER: [MemberPath; 2] = [MemberPath::Quoted, MemberPath::Unquoted];
    pub const SLACK_ORDER: [MemberPath; 2] = [MemberPath::Unquoted, MemberPath::Quoted];
    fn from_u8(f: u8) -> MemberPath {
        if f == MemberPath::Unquoted as u8 { MemberPath::Unquoted } else { MemberPath::Quoted }
    }
    /// The path for one member; `None` when the unquoted form cannot carry this id safely.
    pub fn path(self, id: &str) -> Option<String> {
        match self {
            MemberPath::Quoted => Some(format!("members[value eq {}]", crate::filter::Literal::Str(id.to_string()))),
            MemberPath::Unquoted => (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')))
                .then(|| format!("members[value eq {id}]")),
        }
    }
}

/// A `Retry-After` header, bounded.
#[derive(Clone, Debug, PartialEq)]
struct RetryAfter {
    /// What to wait: the header's value, at most [`MAX_RETRY_AFTER`].
    wait: Duration,
    /// The header asked for more than the cap.
    capped: bool,
    /// The header as sent (cleaned, at most 40 characters), for the message.
    asked: String,
}

/// Seconds (`120`, `0.5`, even `1e20`) or an HTTP date; `None` when it is neither (or NaN).
/// Negative values mean no wait; anything above [`MAX_RETRY_AFTER`] (infinity included) is
/// capped, never converted as it is (a `Duration` cannot hold 1e20 seconds).
fn parse_retry_after(v: &str) -> Option<RetryAfter> {
    let v = v.trim();
    let asked: String = crate::sanitize::clean(v).chars().take(40).collect();
    let secs = match v.parse::<f64>() {
        Ok(s) if s.is_nan() => return None,
        Ok(s) => s,
        Err(_) => {
            // HTTP-date form.
            let fmt = time::format_description::well_known::Rfc2822;
            let when = time::OffsetDateTime::parse(v, &fmt).ok()?;
            (when - time::OffsetDateTime::now_utc()).as_seconds_f64()
        }
    };
    let capped = secs > MAX_RETRY_AFTER.as_secs_f64();
    let wait = if capped { MAX_RETRY_AFTER } else { crate::ratelimit::secs_saturating(secs) };
    Some(RetryAfter { wait, capped, asked })
}

/// A body read through a limit.
enum Body {
    Whole(Vec<u8>),
    /// The limit was reached: the first bytes (for an error answer) or nothing (a success).
    Cut(Vec<u8>),
}

async fn read_body(mut resp: reqwest::Response, limit: u64) -> Result<Body, reqwest::Error> {
    let ok = resp.status().is_success();
    let announced = resp.content_length();
    if ok && announced.is_some_and(|n| n > limit) {
        return Ok(Body::Cut(Vec::new()));
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut buf = Vec::with_capacity(announced.map_or(0, |n| usize::try_from(n).unwrap_or(0)).min(limit).min(1 << 20));
    while let Some(chunk) = resp.chunk().await? {
        let room = limit - buf.len();
        if chunk.len() > room {
            if !ok {
                buf.extend_from_slice(&chunk[..room]);
            }
            return Ok(Body::Cut(if ok { Vec::new() } else { buf }));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Body::Whole(buf))
}

fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 { format!("{} MiB", n >> 20) } else { format!("{} KiB", n >> 10) }
}

fn strip_query(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

/// Where a redirect pointed, as messages may show it: resolved against the request's URL,
/// without its query and fragment (which may carry anything), cleaned of escapes and cut short.
fn shown_location(base: &Url, raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(&raw[..raw.len().min(2048)]);
    let shown = match base.join(text.trim()) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => text.split(['?', '#']).next().unwrap_or("").to_string(),
    };
    crate::sanitize::excerpt(&crate::redact::redact(&shown), 200)
}

fn transport(url: &str, e: &reqwest::Error) -> ScimError {
    use std::error::Error as _;
    let mut reason = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        reason = format!("{reason}: {s}");
        src = s.source();
    }
    let reason = if e.is_timeout() { format!("timed out ({reason})") } else { reason };
    ScimError::Transport { url: url.to_string(), reason, connect: e.is_connect() }
}

fn not_scim(url: &str, status: u16, ctype: &str, bytes: &[u8]) -> ScimError {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(80)]);
    let what = if ctype.contains("html") || text.trim_start().starts_with('<') {
        "an HTML page"
    } else if ctype.is_empty() {
        "a non-JSON body"
    } else {
        "non-JSON content"
    };
    ScimError::NotScim {
        url: url.to_string(),
        status,
        what: what.to_string(),
        snippet: crate::sanitize::clean(&text).chars().take(60).collect(),
    }
}

/// Sleep `wait`, or less when `stop` is set meanwhile; returns whether it was.
async fn sleep_unless_stopped(wait: Duration, stop: Option<&Stop>) -> bool {
    match stop {
        Some(s) => tokio::select! {
            biased;
            _ = s.stopped() => true,
            _ = tokio::time::sleep(wait) => s.is_stopped(),
        },
        None => {
            tokio::time::sleep(wait).await;
            false
        }
    }
}

fn protocol(url: &str, message: impl Into<String>) -> ScimError {
    ScimError::Protocol { url: url.to_string(), message: message.into() }
}

/// An answer about object `got` to a request about `asked` is refused: whatever it says is not
/// about what was asked (a read used to decide a write would act on the wrong object).
fn same_object(url: &str, what: &str, asked: &str, got: Option<&str>) -> Result<(), ScimError> {
    match got {
        // (Ids differing in case only are taken for the same: a server may canonicalise them.)
        Some(g) if !g.is_empty() && !g.eq_ignore_ascii_case(asked) => Err(protocol(
            url,
            format!(
                "asked about {what} {}, the server answered with {what} {}; refused (nothing of the answer is used)",
                crate::sanitize::excerpt(asked, 80),
                crate::sanitize::excerpt(g, 80)
            ),
        )),
        _ => Ok(()),
    }
}

fn parse_user(url: &str, body: Option<Value>) -> Result<User, ScimError> {
    let v = body.ok_or_else(|| protocol(url, "the server answered with an empty body where a user was expected"))?;
    User::from_value(v).map_err(|e| protocol(url, format!("the server sent a user this client cannot read: {e}")))
}

fn parse_group(url: &str, body: Option<Value>) -> Result<Group, ScimError> {
    let v = body.ok_or_else(|| protocol(url, "the server answered with an empty body where a group was expected"))?;
    Group::from_value(v).map_err(|e| protocol(url, format!("the server sent a group this client cannot read: {e}")))
}

fn parse_list(url: &str, body: Option<Value>) -> Result<ListResponse, ScimError> {
    let v = body.ok_or_else(|| protocol(url, "the server answered a list request with an empty body"))?;
    serde_json::from_value(v).map_err(|e| protocol(url, format!("the server sent a list this client cannot read: {e}")))
}

/// Top-level attribute keys that are not updatable attributes.
const NOT_PATCHED: &[&str] = &["schemas", "id", "meta", "groups", "externalId"];

/// v2 PatchOp for an update: one `replace` per attribute (the whole enterprise object as one
/// value, Slack's preferred form, reference §5; RFC 7644 §3.5.2.3 leaves the sub-attributes it
/// does not name unchanged), one `remove` per cleared path, extension paths in the `ext` form.
pub fn user_patch_v2(update: &UserUpdate, dialect: Dialect, ext: ExtPath) -> PatchRequest {
    let v = update.set.to_wire(ApiVersion::V2, dialect);
    let mut ops = Vec::new();
    if let Value::Object(map) = v {
        for (k, val) in map {
            if NOT_PATCHED.contains(&k.as_str()) {
                continue;
            }
            match val {
                Value::Array(items) if ELEMENT_WISE.contains(&k.as_str()) && items.iter().any(|i| marker(i).is_some()) => {
                    element_ops(&k, &items, &mut ops)
                }
                val => ops.push(PatchOperation { op: "replace".into(), path: Some(k), value: Some(val) }),
            }
        }
    }
    for path in &update.clear {
        ops.push(PatchOperation { op: "remove".into(), path: Some(v2_path(path, ext)), value: None });
    }
    let mut p = PatchRequest::new(ops);
    // Slack: "Must provide the `…:slack:profile:2.0:User` schema in request body" (its docs on
    // startDate, reference §3).
    if p.operations.iter().any(|o| {
        o.path
            .as_deref()
            .is_some_and(|x| x.len() >= urn::V2_PROFILE.len() && x[..urn::V2_PROFILE.len()].eq_ignore_ascii_case(urn::V2_PROFILE))
    }) {
        p.schemas.push(urn::V2_PROFILE.into());
    }
    p
}

/// The multi-valued attributes an update changes one element at a time (see [`element_ops`]).
const ELEMENT_WISE: &[&str] = &["emails", "phoneNumbers"];

/// An element's `operation` marker: `"delete"` (SCIM 1.1's removal of that value), `"add"` (a
/// new value) or `"keep"` (the other value, as it is).
fn marker(item: &Value) -> Option<&str> {
    item.get("operation").and_then(Value::as_str)
}

/// One element of `emails` or `phoneNumbers` changed, the others kept: a PATCH that replaces the
/// whole attribute would drop a user's secondary email or mobile phone on an RFC 7644 server
/// (§3.5.2.3: "the attribute and all values are replaced"). In an update, an element followed by
/// `{"value": OLD, "operation": "delete"}` becomes `replace` of `attr[value eq "OLD"].value` (the
/// one value); a delete alone becomes `remove` of `attr[value eq "OLD"]`; an element marked
/// `"operation": "add"` (a value the user did not have) becomes an `add`, which appends; one
/// marked `"keep"` (the other value, sent along in v1) sends nothing here. Both forms are in
/// Slack's docs (`phoneNumbers[value eq "x"].value`, `emails[value eq "x"]`,
/// reference §5).
fn element_ops(attr: &str, items: &[Value], ops: &mut Vec<PatchOperation>) {
    let path = |old: &str| format!("{attr}[value eq {}]", crate::filter::Literal::Str(old.to_string()));
    let bare = |item: &Value| {
        let mut v = item.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("operation");
        }
        v
    };
    let mut i = 0;
    while i < items.len() {
        let item = &items[i];
        let old = |it: &Value| it.get("value").and_then(Value::as_str).map(str::to_string);
        match marker(item) {
            // An element the update keeps as it is (sent along in v1 only).
            Some("keep") => {}
            Some("delete") => {
                if let Some(o) = old(item) {
                    ops.push(PatchOperation { op: "remove".into(), path: Some(path(&o)), value: None });
                }
            }
            _ => {
                let next = items.get(i + 1).filter(|n| marker(n) == Some("delete"));
                match (next.and_then(old), item.get("value")) {
                    (Some(o), Some(v)) => {
                        ops.push(PatchOperation {
                            op: "replace".into(),
                            path: Some(format!("{}.value", path(&o))),
                            value: Some(v.clone()),
                        });
                        i += 1;
                    }
                    _ => {
                        ops.push(PatchOperation { op: "add".into(), path: Some(attr.into()), value: Some(Value::Array(vec![bare(item)])) })
                    }
                }
            }
        }
        i += 1;
    }
}

/// The extension prefixes of a cleared path and their URNs, per version.
const EXT_PREFIXES: [(&str, &str, &str); 3] = [
    ("enterprise", urn::V2_ENTERPRISE, urn::V1_ENTERPRISE),
    ("profile", urn::V2_PROFILE, urn::V1_PROFILE),
    ("guest", urn::V2_GUEST, urn::V1_GUEST),
];

/// Does this cleared path name an extension attribute (`enterprise.department`, `guest`)?
fn is_ext_path(path: &str) -> bool {
    EXT_PREFIXES.iter().any(|(p, _, _)| path == *p || path.strip_prefix(p).is_some_and(|r| r.starts_with('.')))
}

fn v2_path(path: &str, ext: ExtPath) -> String {
    for (prefix, v2, _) in EXT_PREFIXES {
        if path == prefix {
            return v2.to_string();
        }
        if let Some(rest) = path.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
            return match ext {
                ExtPath::Colon => format!("{v2}:{rest}"),
                ExtPath::Dot => format!("{v2}.{rest}"),
            };
        }
    }
    path.to_string()
}

/// v1 partial resource: listed attributes overwrite; cleared ones go in `meta.attributes`. An
/// element change of `emails`/`phoneNumbers` goes as SCIM 1.1 has it: the new value, and the old
/// one with `"operation": "delete"`.
pub fn user_patch_v1(update: &UserUpdate) -> Value {
    let mut v = update.set.to_value(ApiVersion::V1);
    let obj = v.as_object_mut().unwrap();
    for k in ["id", "meta", "groups"] {
        obj.remove(k);
    }
    for k in ELEMENT_WISE {
        if let Some(Value::Array(items)) = obj.get_mut(*k) {
            for it in items.iter_mut() {
                if matches!(marker(it), Some("add" | "keep"))
                    && let Some(o) = it.as_object_mut()
                {
                    o.remove("operation");
                }
            }
        }
    }
    if !update.clear.is_empty() {
        let attrs: Vec<Value> = update
            .clear
            .iter()
            .map(|p| {
                for (prefix, _, v1) in EXT_PREFIXES {
                    if p == prefix {
                        return Value::from(v1);
                    }
                    if let Some(rest) = p.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
                        return Value::from(format!("{v1}.{rest}"));
                    }
                }
                Value::from(p.as_str())
            })
            .collect();
        obj.insert("meta".into(), json!({"attributes": attrs}));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_zeroed_on_drop_and_never_printed() {
        fn zeroed_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroed_on_drop::<Secret>();
        let s = Secret::new("  zeroize-me-please-123 \n");
        assert_eq!(s.expose(), "zeroize-me-please-123");
        assert_eq!(format!("{s:?} {s}"), "Secret(<redacted>) <redacted>");
    }

    #[test]
    fn urls_are_vetted() {
        assert!(check_url("https://api.slack.com/scim/v2").unwrap().as_str().ends_with("/v2/"));
        assert!(check_url("http://127.0.0.1:9/scim/v2/").is_ok());
        assert!(check_url("http://localhost:9/scim/v2/").is_ok());
        let e = check_url("http://example.com/scim/v2/").unwrap_err().to_string();
        assert!(e.contains("clear text"), "{e}");
        assert!(check_url("https://u:xoxp-secret@example.com/").unwrap_err().to_string().contains("credentials"));
        assert!(!check_url("https://u:xoxp-secret@example.com/").unwrap_err().to_string().contains("xoxp"));
    }

    #[test]
    fn emails_are_checked() {
        assert_eq!(normalize_email(" Jane.Doe@Example.COM ").unwrap(), "jane.doe@example.com");
        for bad in ["jane", "jane@", "@x.com", "jane@localhost", "ja ne@x.com", "a@x..com"] {
            let e = normalize_email(bad).unwrap_err().to_string();
            assert!(e.contains(bad.trim()), "{e}");
        }
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("xoxp-123");
        assert!(!format!("{s:?} {s}").contains("xoxp"));
    }

    #[test]
    fn patch_forms() {
        let mut u = User { active: Some(false), title: Some("CTO".into()), ..Default::default() };
        u.enterprise = Some(crate::EnterpriseUser { department: Some("R&D".into()), ..Default::default() });
        let upd = UserUpdate { set: u, clear: vec!["enterprise.costCenter".into()] };
        let p = user_patch_v2(&upd, Dialect::Slack, ExtPath::Colon);
        let paths: Vec<_> = p.operations.iter().map(|o| (o.op.as_str(), o.path.clone().unwrap())).collect();
        assert!(paths.contains(&("replace", "active".into())));
        assert!(paths.contains(&("replace", urn::V2_ENTERPRISE.into())));
        assert!(paths.contains(&("remove", format!("{}:costCenter", urn::V2_ENTERPRISE))), "RFC 7644's colon form: {paths:?}");
        let p = user_patch_v2(&upd, Dialect::Slack, ExtPath::Dot);
        assert_eq!(p.operations.last().unwrap().path.as_deref(), Some(format!("{}.costCenter", urn::V2_ENTERPRISE).as_str()));
        // The manager's id: Slack's managerId, RFC 7643's value.
        let u = User {
            enterprise: Some(crate::EnterpriseUser { manager: Some(crate::types::Manager::of("W0BOSS")), ..Default::default() }),
            ..Default::default()
        };
        let upd_m = UserUpdate { set: u, clear: vec![] };
        let ent = |d| serde_json::to_value(user_patch_v2(&upd_m, d, ExtPath::Colon)).unwrap()["Operations"][0]["value"]["manager"].clone();
        assert_eq!(ent(Dialect::Slack), json!({"managerId": "W0BOSS"}));
        assert_eq!(ent(Dialect::Rfc), json!({"value": "W0BOSS"}));
        // Member filters: quoted as a JSON string; unquoted only for plain ids.
        assert_eq!(MemberPath::Quoted.path("a\"]b").unwrap(), r#"members[value eq "a\"]b"]"#);
        assert_eq!(MemberPath::Unquoted.path("W0DEL0001").unwrap(), "members[value eq W0DEL0001]");
        assert_eq!(MemberPath::Unquoted.path("a\"]b"), None);
        let v1 = user_patch_v1(&upd);
        assert_eq!(v1["active"], false);
        assert_eq!(v1["meta"]["attributes"][0], format!("{}.costCenter", urn::V1_ENTERPRISE));
        assert_eq!(v1["schemas"][0], urn::V1_CORE);
    }

    #[test]
    fn retry_after_forms() {
        let w = |v: &str| parse_retry_after(v).map(|r| (r.wait, r.capped));
        assert_eq!(w("2"), Some((Duration::from_secs(2), false)));
        assert_eq!(w("0.5"), Some((Duration::from_millis(500), false)));
        assert_eq!(w("soon"), None);
        assert_eq!(w("NaN"), None);
        assert_eq!(w("-5"), Some((Duration::ZERO, false)));
        for huge in ["1e20", "1e30", "inf", "18446744073709551616", "Fri, 31 Dec 9999 23:59:59 GMT"] {
            assert_eq!(w(huge), Some((MAX_RETRY_AFTER, true)), "{huge}");
        }
        assert_eq!(parse_retry_after("1e20").unwrap().asked, "1e20");
    }

    #[test]
    fn emails_with_hidden_characters_are_refused() {
        for bad in [
            "\u{feff}ann@x.com",
            "ann\u{200b}@x.com",
            "ann@x\u{202e}moc.com",
            "\"ann\"@x.com",
            "ann,bob@x.com",
            "a@b@x.com",
            "ann\u{2028}x@x.com",
        ] {
            let e = normalize_email(bad).unwrap_err().to_string();
            assert!(!e.chars().any(|c| crate::sanitize::is_invisible(c) || crate::sanitize::is_bidi_control(c)), "{e}");
        }
        assert!(normalize_email("\u{feff}ann@x.com").unwrap_err().to_string().contains("U+FEFF"));
        assert_eq!(normalize_email("zoë@exämple.com").unwrap(), "zoë@exämple.com");
    }

    #[test]
    fn body_limits_scale_with_the_page() {
        assert!(body_limit(Endpoint::GetUser, 1) <= 1 << 20);
        assert!(body_limit(Endpoint::ListUsers, 1000) > body_limit(Endpoint::ListUsers, 1));
        assert!(body_limit(Endpoint::ListGroups, 1000) <= 256 << 20);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn retry_after_never_panics_and_is_bounded(v in prop_oneof![
            any::<f64>().prop_map(|f| f.to_string()),
            any::<u128>().prop_map(|n| n.to_string()),
            "[0-9eE.+-]{0,12}",
            any::<String>(),
        ]) {
            if let Some(r) = parse_retry_after(&v) {
                prop_assert!(r.wait <= MAX_RETRY_AFTER);
                prop_assert!(r.asked.chars().count() <= 40);
            }
        }

        #[test]
        fn error_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200), status in any::<u16>()) {
            let _ = ApiError::from_body(status, &body);
        }
    }
}
