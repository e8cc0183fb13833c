//! One writer per Slack org, for `scimitar sync`, `sync approve`, `scimitar apply` and the
//! console's policy apply: the org's lease in the store (`store::lease`; it replaced the `flock`
//! on `<data dir>/locks/<profile>.lock`, which excluded only processes of one OS account and one
//! profile name). It names its holder, is renewed while held and lapses after a crash; the one
//! refused is told who holds it ([`LeaseError::Held`]).

use crate::env::{EnvError, Environment};
use crate::queue::Journal;
pub use crate::store::{Holder, Lease, LeaseError};
use std::sync::Arc;

/// Why the org's lease could not be taken.
pub type LockError = EnvError;

/// Take the org's lease for `command` now (or say who holds it), with the journal that writes
/// under it.
pub fn acquire(env: &Environment, command: &str) -> Result<(Lease, Arc<Journal>), EnvError> {
    env.take_lease(command, None, |_| {})
}

/// Who holds the org's lease now, if anyone (for `sync status`).
pub fn holder(env: &Environment) -> Option<Holder> {
    let store = env.store().ok()?;
    crate::store::lease::holder(&store, &env.org_key().ok()?).ok().flatten()
}

/// Whether a failure is "another writer holds the lease" (exit 75, result `locked`).
pub fn is_held(e: &EnvError) -> bool {
    matches!(e, EnvError::Lease(LeaseError::Held { .. }))
}
