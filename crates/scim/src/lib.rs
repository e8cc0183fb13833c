//! Typed SCIM 2.0 / 1.1 client for Slack, correct against any RFC 7644 server. Knows nothing of
//! the UI.

pub mod client;
pub mod error;
pub mod filter;
pub mod idset;
pub mod ratelimit;
pub mod redact;
pub mod rules;
pub mod sanitize;
pub mod types;
pub mod unicode_tables;
pub mod wire;

pub use client::{ClientConfig, Page, RateLimit, ScimClient, Secret, ServerChoice, ServerProfile, UserUpdate};
pub use error::{ApiError, ScimError};
pub use filter::{CompareOp, Filter, Literal};
pub use types::{ApiVersion, Dialect, EnterpriseUser, Group, Member, MultiValue, Name, User};
