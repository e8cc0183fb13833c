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

/// A classic token bucket: `capacity` tokens, refilled at `rate` tokens per second.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    pub capacity: f64,
    pub rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(per_minute: f64, burst: f64, now: Instant) -> Self {
        let capacity = burst.max(1.0);
        TokenBucket { capacity, rate: per_minute / 60.0, tokens: capacity, last: now }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.capacity);
        self.last = now.max(self.last);
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

    /// The client's copy of the table: rates 2% under Slack's and bursts a little smaller.
    ///
    /// The client takes a token when a request leaves; the server counts it when it arrives.
    /// Requests of a burst that open new connections (or wait for a busy CPU) arrive later than
    /// the next request on a warm connection, so the server's bucket can look emptier than the
    /// client's. Headroom of 100 ms worth of tokens (at least one) absorbs that skew (measured:
    /// about 20 ms on an idle loopback), and the rate margin keeps the server's bucket slowly
    /// filling relative to ours. At Slack's real limits that is one request of each burst.
    pub fn for_client(scale: f64, now: Instant) -> Self {
        let mut b = SlackBudget::new(scale, 0.98, now);
        for bucket in b.rows.values_mut().chain([&mut b.org_reads, &mut b.org_writes]) {
            let headroom = (bucket.rate * 0.1).ceil().max(1.0);
            if bucket.capacity > headroom {
                bucket.capacity -= headroom;
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
            Some(r) => {
                let w = r.wait(now);
                if w.is_zero() && wait.is_zero() {
                    r.take(now);
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

    /// After a 429: nothing of this endpoint's direction goes out before `until`.
    pub fn penalise(&mut self, e: Endpoint, now: Instant, until: Instant) {
        let (org, row) = self.buckets(e);
        match row {
            Some(r) => r.drain_until(now, until),
            None => org.drain_until(now, until),
        }
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
