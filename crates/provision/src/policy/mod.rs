//! The policy engine: read a directory export and a policy, compare with the live Slack
//! directory, and produce the plan of changes (see `plan.rs` for the order apply must follow).

pub mod config;
pub mod ldap;
pub mod source;

pub use config::{Attr, Policy, PolicyError};
pub use source::{Source, SourceError, SourceRow};
pub mod plan;
pub mod plan_users;
pub use plan::{Plan, PlanError, PriorState, compute, compute_on};
pub use plan_users::PlanUsers;
pub mod apply;
pub mod demo;
pub mod export;
pub mod live;
pub mod state;
pub mod template;
