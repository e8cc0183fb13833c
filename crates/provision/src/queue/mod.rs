//! The action queue: actions (one registry of kinds, `action.rs`) pass the gate (`gate.rs`: safety
//! rules, refused accounts, no-ops, ceilings), are journaled as a batch, and are run and verified
//! by the engine at the rate Slack allows. Knows nothing of the UI.

pub mod action;
pub mod attr;
pub mod edit;
pub mod engine;
pub mod gate;
pub mod input;
pub mod journal;
pub mod kept;
pub mod restore;

pub use action::{Action, ActionKind, Subject, Target};
pub use engine::{BatchResult, Cancel, DeactivateVia, Engine, EngineConfig, QueueEvent, planned_rate};
pub use gate::{
    CONFIRM_THRESHOLD, Ceiling, CeilingSettings, Ceilings, DEFAULT_MAX_DEACTIVATIONS, Decision, FourEyes, GateError, GatedBatch, Hold,
    Knowledge, NeedsApproval, Regated, Safety, Skip, SkipReason, Tripped, gate, regate, submit, users_changed,
};
pub use journal::{BatchInfo, Journal, JournalError, OpState, RunContext};
pub use kept::Kept;
