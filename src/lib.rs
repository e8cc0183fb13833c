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

pub mod bulk;
pub mod cli;
pub mod command_error;
pub mod commands;
pub mod connection;
pub mod exit;
pub mod flags;
pub mod output;
pub mod policy_render;
pub mod sync_metrics;
