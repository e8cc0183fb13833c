//! The provisioning domain: configuration and profiles, the database, the action queue (actions,
//! safety, engine, journal), policies (sources, plan, apply) and provisioning reports.
//!
//! Depends on the `scim` crate, never on a user interface (no clap, ratatui or crossterm): the
//! console and the headless commands of the `scimitar` binary are its front ends.

pub use scim;
pub use scim::sanitize;

pub mod approval;
pub mod approved;
pub mod child;
pub mod config;
pub mod db;
pub mod directory;
pub mod edit;
pub mod env;
pub mod files;
pub mod policy;
pub mod present;
pub mod queue;
pub mod report;
pub mod store;
pub mod strict_csv;
pub mod sync;
pub mod transfer;
pub mod words;
