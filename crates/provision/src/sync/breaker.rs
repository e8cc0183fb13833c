//! The circuit breaker of a sync's apply: it watches the engine's [`QueueEvent`]s and the count
//! of active Slack users, and trips when
//!
//! - **operations fail in a row**: `max_consecutive_failures` operations finish `failed` with no
//!   success between them (Slack refusing everything, a token that lost its scope, an incident
//!   that deactivates users on update: every such op is a `surprise`); or
//! - **active users fall faster than the plan said**: the count read from Slack is below
//!   `before + (users this run created or reactivated) - (deactivations this run sent) -
//!   active_drop_tolerance`. Something other than this run's own operations is deactivating
//!   people (Slack's April 2024 incident; another tool; a mistake), and a sync must not keep going
//!   while it does.
//!
//! The count is conservative on both sides: a deactivation counts as soon as it is *sent* (it may
//! have landed), a creation only once it is *done* and done before the count started (a listing
//! takes a while, and a user created while it pages may not be on it). When it trips, the cycle
//! cancels the apply (`queue::Cancel`): requests in flight finish, nothing else is sent, and the
//! operations not yet sent are cancelled in the journal.

use crate::queue::{ActionKind, OpState, QueueEvent};
use std::collections::HashMap;
use std::time::Duration;

/// When the breaker trips.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerConfig {
    pub max_consecutive_failures: u32,
    pub active_drop_tolerance: usize,
    /// How often the active users are counted while a run applies.
    pub check_every: Duration,
}

pub const DEFAULT_MAX_CONSECUTIVE_FAILURES: u32 = 5;
pub const DEFAULT_ACTIVE_DROP_TOLERANCE: usize = 5;
pub const DEFAULT_CHECK_EVERY: Duration = Duration::from_secs(30);

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            max_consecutive_failures: DEFAULT_MAX_CONSECUTIVE_FAILURES,
            active_drop_tolerance: DEFAULT_ACTIVE_DROP_TOLERANCE,
            check_every: DEFAULT_CHECK_EVERY,
        }
    }
}

impl BreakerConfig {
    /// From `[sync]` in config.toml.
    pub fn from_config(c: &crate::config::SyncConfig) -> Result<BreakerConfig, super::alert::AlertConfigError> {
        let check_every = match &c.check_active_every {
            Some(s) => crate::config::parse_duration(s).map_err(super::alert::AlertConfigError::Duration)?,
            None => DEFAULT_CHECK_EVERY,
        };
        Ok(BreakerConfig {
            max_consecutive_failures: c.max_consecutive_failures.unwrap_or(DEFAULT_MAX_CONSECUTIVE_FAILURES).max(1),
            active_drop_tolerance: c.active_drop_tolerance.unwrap_or(DEFAULT_ACTIVE_DROP_TOLERANCE),
            check_every,
        })
    }
}

/// Why the breaker tripped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trip {
    ConsecutiveFailures { count: u32, last: String },
    ActiveDrop { before: usize, observed: usize, explained: i64, tolerance: usize },
}

impl std::fmt::Display for Trip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trip::ConsecutiveFailures { count, last } => {
                write!(f, "circuit breaker: {count} operations in a row failed (the last: {last}); the rest of the run was cancelled")
            }
            Trip::ActiveDrop { before, observed, explained, tolerance } => write!(
                f,
                "circuit breaker: active Slack users fell from {before} to {observed}, more than this run's own operations explain ({explained} expected, tolerance {tolerance}): something else is deactivating users; the rest of the run was cancelled"
            ),
        }
    }
}

/// The breaker's state over one apply.
#[derive(Debug)]
pub struct Breaker {
    cfg: BreakerConfig,
    /// Active users when the plan was made (None: no baseline, e.g. a resumed batch).
    before: Option<usize>,
    kinds: HashMap<String, ActionKind>,
    consecutive: u32,
    /// Creations and reactivations done.
    up_done: usize,
    /// Deactivations sent (they may have landed).
    down_sent: usize,
    /// Deactivations taken up for the first time, not sent yet (waiting for their rate token: a
    /// cancel stops them unsent).
    down_waiting: std::collections::HashSet<String>,
    tripped: Option<Trip>,
}

impl Breaker {
    pub fn new(cfg: BreakerConfig, active_before: Option<usize>) -> Breaker {
        Breaker {
            cfg,
            before: active_before,
            kinds: HashMap::new(),
            consecutive: 0,
            up_done: 0,
            down_sent: 0,
            down_waiting: Default::default(),
            tripped: None,
        }
    }

    pub fn config(&self) -> &BreakerConfig {
        &self.cfg
    }

    /// The kinds of a batch's ops (read from the journal when the batch starts).
    pub fn learn(&mut self, ops: impl IntoIterator<Item = (String, ActionKind)>) {
        self.kinds.extend(ops);
    }

    pub fn tripped(&self) -> Option<&Trip> {
        self.tripped.as_ref()
    }

    /// Creations and reactivations done so far (snapshot this before counting active users).
    pub fn up_done(&self) -> usize {
        self.up_done
    }

    /// Whether the active-user check applies at all (a baseline is known).
    pub fn watches_active(&self) -> bool {
        self.before.is_some()
    }

    fn trip(&mut self, t: Trip) -> Option<Trip> {
        if self.tripped.is_none() {
            self.tripped = Some(t.clone());
            return Some(t);
        }
        None
    }

    /// Feed one queue event; returns the trip when this event trips the breaker.
    pub fn on_event(&mut self, ev: &QueueEvent) -> Option<Trip> {
        match ev {
            QueueEvent::OpStarted { op_id, attempt, .. } => {
                // A resumed op (attempt > 1) was counted by the run that first sent it.
                if *attempt == 1 && self.kinds.get(op_id).is_some_and(|k| k.spec().leaves_active == Some(false)) {
                    self.down_waiting.insert(op_id.clone());
                }
                None
            }
            // Counted once its request leaves.
            QueueEvent::OpSending { op_id, .. } => {
                if self.down_waiting.remove(op_id) {
                    self.down_sent += 1;
                }
                None
            }
            QueueEvent::OpFinished { op_id, state, message, describe, .. } => match state {
                OpState::Failed => {
                    self.consecutive += 1;
                    if self.consecutive >= self.cfg.max_consecutive_failures {
                        let last = format!("{describe}: {message}");
                        return self.trip(Trip::ConsecutiveFailures { count: self.consecutive, last });
                    }
                    None
                }
                OpState::Done => {
                    self.consecutive = 0;
                    if self.kinds.get(op_id).is_some_and(|k| *k == ActionKind::CreateUser || k.spec().leaves_active == Some(true)) {
                        self.up_done += 1;
                    }
                    None
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// The active users counted now; `up_done_before` is [`Breaker::up_done`] taken before the
    /// count started. Returns the trip when the count trips the breaker.
    pub fn on_active_count(&mut self, observed: usize, up_done_before: usize) -> Option<Trip> {
        let before = self.before?;
        let explained = before as i64 + up_done_before as i64 - self.down_sent as i64;
        if (observed as i64) < explained - self.cfg.active_drop_tolerance as i64 {
            return self.trip(Trip::ActiveDrop { before, observed, explained, tolerance: self.cfg.active_drop_tolerance });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(op: &str, attempt: i64) -> QueueEvent {
        QueueEvent::OpStarted { batch_id: "b".into(), op_id: op.into(), seq: 1, describe: op.into(), attempt }
    }
    fn finished(op: &str, state: OpState) -> QueueEvent {
        QueueEvent::OpFinished {
            batch_id: "b".into(),
            op_id: op.into(),
            seq: 1,
            describe: format!("update {op}"),
            state,
            message: "SURPRISE: deactivated".into(),
            retries: 0,
        }
    }

    #[test]
    fn failures_in_a_row_trip_and_a_success_resets_the_count() {
        let cfg = BreakerConfig { max_consecutive_failures: 3, ..Default::default() };
        let mut b = Breaker::new(cfg, Some(100));
        assert_eq!(b.on_event(&finished("1", OpState::Failed)), None);
        assert_eq!(b.on_event(&finished("2", OpState::Failed)), None);
        assert_eq!(b.on_event(&finished("3", OpState::Done)), None);
        assert_eq!(b.on_event(&finished("4", OpState::Failed)), None);
        assert_eq!(b.on_event(&finished("5", OpState::Skipped)), None, "a skip neither counts nor resets");
        assert_eq!(b.on_event(&finished("6", OpState::Failed)), None);
        let t = b.on_event(&finished("7", OpState::Failed)).unwrap();
        assert!(t.to_string().contains("3 operations in a row failed") && t.to_string().contains("update 7"), "{t}");
        assert_eq!(b.on_event(&finished("8", OpState::Failed)), None, "trips once");
        assert!(b.tripped().is_some());
    }

    #[test]
    fn active_users_may_fall_by_what_the_run_sent_and_the_tolerance_only() {
        let cfg = BreakerConfig { active_drop_tolerance: 2, ..Default::default() };
        let mut b = Breaker::new(cfg, Some(100));
        b.learn([("d1".to_string(), ActionKind::Deactivate), ("d2".into(), ActionKind::Deactivate), ("c1".into(), ActionKind::CreateUser)]);
        b.on_event(&started("d1", 1));
        b.on_event(&started("d2", 1));
        b.on_event(&started("c1", 1));
        // A deactivation counts once its request leaves (one waiting for its token may be
        // cancelled unsent).
        assert_eq!(b.on_active_count(97, 0), Some(Trip::ActiveDrop { before: 100, observed: 97, explained: 100, tolerance: 2 }));
        let mut b = Breaker::new(BreakerConfig { active_drop_tolerance: 2, ..Default::default() }, Some(100));
        b.learn([("d1".to_string(), ActionKind::Deactivate), ("d2".into(), ActionKind::Deactivate), ("c1".into(), ActionKind::CreateUser)]);
        for op in ["d1", "d2", "c1"] {
            b.on_event(&started(op, 1));
            b.on_event(&QueueEvent::OpSending { batch_id: "b".into(), op_id: op.into(), seq: 1 });
        }
        b.on_event(&finished("c1", OpState::Done));
        assert_eq!(b.up_done(), 1);
        // 100 + 1 created - 2 deactivations sent = 99; 97 is within the tolerance of 2.
        assert_eq!(b.on_active_count(97, 1), None);
        // The create done after the count started is not counted on it: 100 - 2 = 98, so 96 is fine.
        assert_eq!(b.on_active_count(96, 0), None);
        let t = b.on_active_count(96, 1).unwrap();
        assert_eq!(t, Trip::ActiveDrop { before: 100, observed: 96, explained: 99, tolerance: 2 });
        // A resumed deactivation was counted by the run that sent it first; no baseline, no check.
        let mut b = Breaker::new(BreakerConfig::default(), None);
        b.learn([("d".to_string(), ActionKind::Deactivate)]);
        b.on_event(&started("d", 2));
        assert_eq!(b.on_active_count(0, 0), None);
        assert!(!b.watches_active());
    }
}
