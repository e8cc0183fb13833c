//! Slack's documented SCIM rate limits (reference §6) as token buckets.
//!
//! The same table drives the client's limiter (which waits before sending) and the emulator's
//! enforcement (which answers 429 with `Retry-After`). A request spends one token from its
//! org-wide bucket (reads or writes) and one from its endpoint's row when it has one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The endpoint classes of Slack's rate-limit table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    ListUsers,
    GetUser,
    CreateUser,
    UpdateUser,
    DeleteUser,
    ListGroups,
    GetGroup,
    CreateGroup,
    UpdateGroup,
    DeleteGroup,
    /// ServiceProviderConfig, Schemas, ResourceTypes.
    Meta,
}

impl Endpoint {
    pub const ALL: [Endpoint; 11] = [
        Endpoint::ListUsers,
        Endpoint::GetUser,
        Endpoint::CreateUser,
        Endpoint::UpdateUser,
        Endpoint::DeleteUser,
        Endpoint::ListGroups,
        Endpoint::GetGroup,
        Endpoint::CreateGroup,
        Endpoint::UpdateGroup,
        Endpoint::DeleteGroup,
        Endpoint::Meta,
    ];

    pub fn is_write(self) -> bool {
        matches!(
            self,
            Endpoint::CreateUser
                | Endpoint::UpdateUser
                | Endpoint::DeleteUser
                | Endpoint::CreateGroup
                | Endpoint::UpdateGroup
                | Endpoint::DeleteGroup
        )
    }

    /// The endpoint's own row of the table: (requests per minute, burst). List endpoints have
    /// no row; only the org-wide read limit applies to them.
    pub fn row(self) -> Option<(f64, f64)> {
        match self {
            Endpoint::GetUser | Endpoint::GetGroup => Some((300.0, 300.0)),
            Endpoint::CreateUser | Endpoint::UpdateUser | Endpoint::DeleteUser => Some((180.0, 20.0)),
            Endpoint::CreateGroup | Endpoint::DeleteGroup => Some((180.0, 20.0)),
            Endpoint::UpdateGroup => Some((180.0, 80.0)),
            Endpoint::ListUsers | Endpoint::ListGroups | Endpoint::Meta => None,
        }
    }

    /// Classify a request by method and path (relative to the version root, e.g. `Users/W1`).
    pub fn classify(method: &str, path: &str) -> Endpoint {
        let path = path.trim_matches('/');
        let mut parts = path.split('/');
        let resource = parts.next().unwrap_or("");
        let has_id = parts.next().is_some_and(|s| !s.is_empty());
        let m = method.to_ascii_uppercase();
        match (resource, has_id, m.as_str()) {
            ("Users", false, "GET") => Endpoint::ListUsers,
            ("Users", true, "GET") => Endpoint::GetUser,
            ("Users", false, "POST") => Endpoint::CreateUser,
            ("Users", true, "PUT" | "PATCH") => Endpoint::UpdateUser,
            ("Users", true, "DELETE") => Endpoint::DeleteUser,
            ("Groups", false, "GET") => Endpoint::ListGroups,
            ("Groups", true, "GET") => Endpoint::GetGroup,
            ("Groups", false, "POST") => Endpoint::CreateGroup,
            ("Groups", true, "PUT" | "PATCH") => Endpoint::UpdateGroup,
            ("Groups", true, "DELETE") => Endpoint::DeleteGroup,
            _ => Endpoint::Meta,
        }
    }
}

/// The longest wait the limiter ever asks for (a tiny scale or rate would otherwise ask for more
/// seconds than a `Duration` holds).
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Seconds as a `Duration`, never panicking: NaN and negatives are zero, anything above
/// [`MAX_WAIT`] is `MAX_WAIT`.
pub fn secs_saturating(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        Duration::ZERO
    } else if secs >= MAX_WAIT.as_secs_f64() {
        MAX_WAIT
    } else {
        Duration::from_secs_f64(secs)
    }
}

/// Org-wide rows: writes 600/min burst 180, reads 1000/min burst 1000.
pub const ORG_WRITES: (f64, f64) = (600.0, 180.0);
pub const ORG_READS: (f64, f64) = (1000.0, 1000.0);

/// How often a request waiting behind a probe looks again.
pub const PROBE_POLL: Duration = Duration::from_millis(2);
/// A probe not answered in this long no longer holds the others back.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The smallest share of the table a client ever keeps (after 429s, or as configured).
pub const MIN_SHARE: f64 = 0.05;

/// After a 429 `too_many_requests` (someone else spends the org's budget too), a client's rate
/// for that bucket is multiplied by this (once per Retry-After)...
pub const BACKOFF_FACTOR: f64 = 0.5;
/// ...and grows back linearly, from zero to the full rate in the time the full rate spends this
/// many tokens (about 7 minutes of a 180/min row at Slack's rates; proportionally less when
/// scaled). With another app writing at a steady rate, the client's rate saws between its
/// leftover and half of it (AIMD, as TCP flows share a link): a 429 once per climb, not one
/// after every Retry-After (measured, `tests/queue.rs`: 2 instead of 18 for 400 deactivations
/// beside an app spending half the rows).
pub const RECOVERY_TOKENS: f64 = 1200.0;

/// A classic token bucket: `capacity` tokens, refilled at `rate` tokens per second.
///
/// A client's bucket also adapts (`backoff`, `recover`): `rate` moves between a floor and
/// `table_rate`, the rate it was built with.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    pub capacity: f64,
    pub rate: f64,
    /// The rate without any 429 backoff.
    pub table_rate: f64,
    tokens: f64,
    last: Instant,
    /// Until a request of this bucket has been answered other than 429 (at the start, and again
    /// after each 429), one at a time: a budget another app spent meets one 429, not a burst.
    probing: bool,
    /// When the probe went out (a probe never answered, e.g. cancelled, stops holding after
    /// [`PROBE_TIMEOUT`]).
    probe_out: Option<Instant>,
    /// Until when the last backoff holds (one backoff per Retry-After, however many answers
    /// of requests already sent come back 429 with it).
    penalised_until: Option<Instant>,
}

impl TokenBucket {
    pub fn new(per_minute: f64, burst: f64, now: Instant) -> Self {
        let capacity = burst.max(1.0);
        TokenBucket {
            capacity,
            rate: per_minute / 60.0,
            table_rate: per_minute / 60.0,
            tokens: capacity,
            last: now,
            probing: false,
            probe_out: None,
            penalised_until: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.capacity);
        // Additive increase after a backoff: from nothing back to the full rate in the time the
        // full rate spends RECOVERY_TOKENS tokens.
        if self.rate < self.table_rate {
            self.rate = (self.rate + dt * self.table_rate * self.table_rate / RECOVERY_TOKENS).min(self.table_rate);
        }
        self.last = now.max(self.last);
    }

    /// A 429 said someone else spends this bucket too: multiplicative decrease (once per
    /// Retry-After), and probing again.
    fn backoff(&mut self, now: Instant, until: Instant) {
        self.refill(now);
        if self.penalised_until.is_none_or(|u| now >= u) {
            self.rate = (self.rate * BACKOFF_FACTOR).max(self.table_rate * MIN_SHARE);
        }
        self.penalised_until = Some(self.penalised_until.map_or(until, |u| u.max(until)));
        self.probing = true;
        self.probe_out = None;
    }

    /// Probing, with the probe out: nothing more goes until it is answered.
    fn held(&self, now: Instant) -> bool {
        self.probing && self.probe_out.is_some_and(|t| now.saturating_duration_since(t) < PROBE_TIMEOUT)
    }

    pub fn tokens(&mut self, now: Instant) -> f64 {
        self.refill(now);
        self.tokens
    }

    /// Time until one token is available (zero when one is).
    pub fn wait(&mut self, now: Instant) -> Duration {
        self.refill(now);
        if self.tokens >= 1.0 { Duration::ZERO } else { secs_saturating((1.0 - self.tokens) / self.rate) }
    }

    pub fn take(&mut self, now: Instant) {
        self.refill(now);
        self.tokens -= 1.0;
    }

    /// Empty the bucket and keep it empty until `until` (a 429's Retry-After).
    pub fn drain_until(&mut self, now: Instant, until: Instant) {
        self.refill(now);
        let secs = until.saturating_duration_since(now).as_secs_f64();
        self.tokens = self.tokens.min(1.0 - secs * self.rate).min(0.0);
    }
}

/// Slack's whole table as buckets, scaled by `scale` (rates and bursts alike).
#[derive(Clone, Debug)]
pub struct SlackBudget {
    pub scale: f64,
    org_reads: TokenBucket,
    org_writes: TokenBucket,
    rows: HashMap<Endpoint, TokenBucket>,
}

impl SlackBudget {
    /// `scale` multiplies every limit; `margin` (<= 1) slows rates only, so a client stays a
    /// hair under a server that uses the same table.
    pub fn new(scale: f64, margin: f64, now: Instant) -> Self {
        let mk = |(per_min, burst): (f64, f64)| TokenBucket::new(per_min * scale * margin, (burst * scale).floor(), now);
        let rows = Endpoint::ALL.iter().filter_map(|e| e.row().map(|r| (*e, mk(r)))).collect();
        SlackBudget { scale, org_reads: mk(ORG_READS), org_writes: mk(ORG_WRITES), rows }
    }

    fn buckets(&mut self, e: Endpoint) -> (&mut TokenBucket, Option<&mut TokenBucket>) {
        let org = if e.is_write() { &mut self.org_writes } else { &mut self.org_reads };
        (org, self.rows.get_mut(&e))
    }

    /// The client's copy of the table: Slack's rates, bursts one token smaller.
    ///
    /// The client takes a token when a request leaves; the server counts it when it arrives,
    /// never earlier. Both buckets refill at the same rate, so the server's holds at least as
    /// many tokens more than the client's as it did at the start, whatever the delays and the
    /// order of arrival (a late arrival only leaves the server fuller; when the server's bucket
    /// is full, the client's smaller one is full too). One token of headroom is therefore
    /// enough for the client never to be refused while it is the only one spending the
    /// budget, and the rate needs no margin; see [`SlackBudget::for_client_sharing`] for leaving
    /// part of the table to other apps.
    pub fn for_client(scale: f64, now: Instant) -> Self {
        Self::for_client_sharing(scale, 1.0, now)
    }

    /// As [`SlackBudget::for_client`], using only `share` (0 < share <= 1) of every rate: the
    /// rest is left to other apps of the organisation (Slack's table is org-wide: an IdP such as
    /// Okta spends from the same buckets).
    pub fn for_client_sharing(scale: f64, share: f64, now: Instant) -> Self {
        let share = if share.is_finite() { share.clamp(MIN_SHARE, 1.0) } else { 1.0 };
        let mut b = SlackBudget::new(scale, share, now);
        for (e, bucket) in b.rows.iter_mut() {
            bucket.probing = e.is_write();
        }
        for bucket in b.rows.values_mut().chain([&mut b.org_reads, &mut b.org_writes]) {
            bucket.table_rate = bucket.rate;
            if bucket.capacity > 1.0 {
                bucket.capacity -= 1.0;
                bucket.tokens = bucket.capacity;
            }
        }
        b
    }

    /// Spend one request of `e` if every bucket it draws on has a token; otherwise say how long
    /// to wait, spending nothing.
    pub fn try_acquire(&mut self, e: Endpoint, now: Instant) -> Result<(), Duration> {
        let (org, row) = self.buckets(e);
        let mut wait = org.wait(now);
        let row_wait = match row {
            Some(r) if r.held(now) => PROBE_POLL,
            Some(r) => {
                let w = r.wait(now);
                if w.is_zero() && wait.is_zero() {
                    r.take(now);
                    if r.probing {
                        r.probe_out = Some(now);
                    }
                }
                w
            }
            None => Duration::ZERO,
        };
        wait = wait.max(row_wait);
        if wait.is_zero() {
            org.take(now);
            Ok(())
        } else {
            Err(wait)
        }
    }

    /// After a 429: nothing of this endpoint's direction goes out before `until`, and the
    /// bucket's rate backs off (the server spent tokens this client did not: another app is
    /// spending the same org budget).
    pub fn penalise(&mut self, e: Endpoint, now: Instant, until: Instant) {
        let (org, row) = self.buckets(e);
        let b = row.unwrap_or(org);
        b.backoff(now, until);
        b.drain_until(now, until);
    }

    /// A request of `e` was answered, other than with a 429 (`ok`), or not at all: a probe
    /// that got through ends the probing; any answer lets the next probe go.
    pub fn settle(&mut self, e: Endpoint, ok: bool) {
        if let Some(r) = self.rows.get_mut(&e) {
            r.probe_out = None;
            if ok {
                r.probing = false;
            }
        }
    }

    /// The rate (per second) of `e`'s own bucket now, after any backoff, and its table rate.
    pub fn current_rate(&self, e: Endpoint) -> (f64, f64) {
        let org = if e.is_write() { &self.org_writes } else { &self.org_reads };
        let b = self.rows.get(&e).unwrap_or(org);
        (b.rate, b.table_rate)
    }

    /// The best sustained rate (requests/second) the table allows for one endpoint alone.
    pub fn sustained_rate(&self, e: Endpoint) -> f64 {
        let org = if e.is_write() { &self.org_writes } else { &self.org_reads };
        let row = self.rows.get(&e).map_or(f64::INFINITY, |r| r.rate);
        org.rate.min(row)
    }

    /// Burst capacity for one endpoint alone.
    pub fn burst(&self, e: Endpoint) -> f64 {
        let org = if e.is_write() { &self.org_writes } else { &self.org_reads };
        let row = self.rows.get(&e).map_or(f64::INFINITY, |r| r.capacity);
        org.capacity.min(row)
    }

    /// Take every bucket as empty now. A process that takes over work a killed one was doing
    /// (`scimitar resume`) cannot know how much of the budget the killed one spent; starting
    /// empty, it sends at the sustained rate from its first request, which never outruns the
    /// server's buckets (they hold at least as many tokens and refill at least as fast), where
    /// starting full sends a burst into buckets the killed process emptied and meets 429s.
    pub fn assume_spent(&mut self, now: Instant) {
        for b in self.rows.values_mut().chain([&mut self.org_reads, &mut self.org_writes]) {
            b.refill(now);
            b.tokens = b.tokens.min(0.0);
        }
    }

    /// Whole tokens left now for the endpoint (the smaller of its buckets).
    pub fn remaining(&mut self, e: Endpoint, now: Instant) -> f64 {
        let (org, row) = self.buckets(e);
        let o = org.tokens(now);
        row.map_or(o, |r| r.tokens(now).min(o)).max(0.0).floor()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_burst_then_rate() {
        let t0 = Instant::now();
        let mut b = SlackBudget::new(1.0, 1.0, t0);
        for _ in 0..20 {
            b.try_acquire(Endpoint::DeleteUser, t0).unwrap();
        }
        let wait = b.try_acquire(Endpoint::DeleteUser, t0).unwrap_err();
        // 180/min = one every 1/3 s
        assert!((wait.as_secs_f64() - 1.0 / 3.0).abs() < 1e-6, "{wait:?}");
        // a PATCH has its own row but shares the org write bucket (180 burst)
        b.try_acquire(Endpoint::UpdateUser, t0).unwrap();
        assert!(b.try_acquire(Endpoint::DeleteUser, t0 + Duration::from_millis(340)).is_ok());
    }

    #[test]
    fn a_spent_budget_sends_at_the_sustained_rate_from_the_start() {
        let t0 = Instant::now();
        let mut b = SlackBudget::new(1.0, 1.0, t0);
        b.assume_spent(t0);
        assert_eq!(b.remaining(Endpoint::DeleteUser, t0), 0.0);
        let wait = b.try_acquire(Endpoint::DeleteUser, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 1.0 / 3.0).abs() < 1e-6, "one DELETE every 1/3 s, no burst: {wait:?}");
        assert!(b.try_acquire(Endpoint::ListUsers, t0).is_err(), "reads start empty too");
        let t1 = t0 + Duration::from_millis(340);
        b.try_acquire(Endpoint::DeleteUser, t1).unwrap();
        assert!(b.try_acquire(Endpoint::DeleteUser, t1).is_err(), "then one at a time");
    }

    #[test]
    fn a_client_probes_then_bursts_and_backs_off_once_per_retry_after() {
        let t0 = Instant::now();
        let mut b = SlackBudget::for_client(1.0, t0);
        b.try_acquire(Endpoint::DeleteUser, t0).unwrap();
        assert!(b.try_acquire(Endpoint::DeleteUser, t0).is_err(), "one write until one is answered");
        assert!(b.try_acquire(Endpoint::GetUser, t0).is_ok(), "reads are not held");
        b.settle(Endpoint::DeleteUser, true);
        for _ in 0..18 {
            b.try_acquire(Endpoint::DeleteUser, t0).unwrap();
        }
        assert!(b.try_acquire(Endpoint::DeleteUser, t0).is_err(), "the burst is Slack's less one token of headroom");
        assert!((b.sustained_rate(Endpoint::DeleteUser) - 3.0).abs() < 1e-9, "the full rate, no margin");
        let until = t0 + Duration::from_secs(1);
        b.penalise(Endpoint::DeleteUser, t0, until);
        b.penalise(Endpoint::DeleteUser, t0, until);
        let (rate, table) = b.current_rate(Endpoint::DeleteUser);
        assert!((rate - table * BACKOFF_FACTOR).abs() < 1e-9, "halved once for one Retry-After: {rate}");
        let later = t0 + Duration::from_secs(600);
        assert!(b.try_acquire(Endpoint::DeleteUser, later).is_ok());
        assert_eq!(b.current_rate(Endpoint::DeleteUser).0, table, "grown back");
        assert!(b.try_acquire(Endpoint::DeleteUser, later).is_err(), "probing again after the 429");
        let shared = SlackBudget::for_client_sharing(1.0, 0.5, t0);
        assert!((shared.sustained_rate(Endpoint::DeleteUser) - 1.5).abs() < 1e-9);
    }

    #[test]
    fn org_write_bucket_caps_all_writes() {
        let t0 = Instant::now();
        let mut b = SlackBudget::new(1.0, 1.0, t0);
        let mut ok = 0;
        for e in [
            Endpoint::DeleteUser,
            Endpoint::UpdateUser,
            Endpoint::CreateUser,
            Endpoint::UpdateGroup,
            Endpoint::CreateGroup,
            Endpoint::DeleteGroup,
        ] {
            while b.try_acquire(e, t0).is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 20 + 20 + 20 + 80 + 20 + 20);
        // list reads do not touch write buckets
        assert!(b.try_acquire(Endpoint::ListUsers, t0).is_ok());
    }

    #[test]
    fn scale_multiplies_rates_and_bursts() {
        let t0 = Instant::now();
        let b = SlackBudget::new(10.0, 1.0, t0);
        assert_eq!(b.burst(Endpoint::DeleteUser), 200.0);
        assert!((b.sustained_rate(Endpoint::DeleteUser) - 30.0).abs() < 1e-9);
    }

    #[test]
    fn classify_paths() {
        assert_eq!(Endpoint::classify("DELETE", "Users/W1"), Endpoint::DeleteUser);
        assert_eq!(Endpoint::classify("get", "/Users"), Endpoint::ListUsers);
        assert_eq!(Endpoint::classify("PATCH", "Groups/S1"), Endpoint::UpdateGroup);
        assert_eq!(Endpoint::classify("GET", "ServiceProviderConfigs"), Endpoint::Meta);
    }
}
