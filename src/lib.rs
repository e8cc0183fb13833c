//! scimitar: a keyboard-driven console and headless tool for Slack SCIM provisioning.
//!
//! Data flows one way: input -> action -> queue -> SCIM client -> result -> state -> render.

pub mod bulk;
pub mod cli;
pub mod config;
pub use emulator;
pub mod emulator_cmd;
pub mod exit;
pub mod output;
pub mod paths;
pub mod policy;
pub mod queue;
pub mod report;

pub use scim;
pub use scim::sanitize;
pub mod store;
pub mod tui;
