//! scimitar: a keyboard-driven console and headless tool for Slack SCIM provisioning.
//!
//! This crate is the application: the headless commands and the console. The domain lives in
//! `provision`, the wire protocol and client in `scim`, the emulator in `emulator` (see
//! docs/architecture.md).
//!
//! Data flows one way: input -> action -> queue -> SCIM client -> result -> state -> render.

pub use emulator;
pub use provision::{
    approval, approved, child, config, db, directory, edit, env, files, policy, present, queue, report, store, strict_csv, sync, transfer,
    words,
};
pub use scim;
pub use scim::sanitize;

pub mod approvals_cmd;
pub mod bulk;
pub mod cli;
pub mod docs_cmd;
pub mod edit_cmd;
pub mod emulator_cmd;
pub mod exit;
pub mod output;
pub mod policy_cmd;
pub mod policy_render;
pub mod report_cmd;
pub mod sync_cmd;
pub mod sync_metrics;
