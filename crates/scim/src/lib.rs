//! Typed SCIM 2.0 / 1.1 client for Slack. Knows nothing of the UI.

pub mod client;
pub mod error;
pub mod filter;
pub mod ratelimit;
pub mod redact;
pub mod sanitize;
pub mod types;

pub use client::{ClientConfig, Page, RateLimit, ScimClient, Secret, UserUpdate};
pub use error::{ApiError, ScimError};
pub use filter::{CompareOp, Filter, Literal};
pub use types::{ApiVersion, EnterpriseUser, Group, Member, MultiValue, Name, User};
