//! A command's connection: the environment and its client, built once.

use crate::command_error::Fail;
use crate::env::Environment;
use crate::scim::ScimClient;

/// A command's view of the environment once the client is built.
#[derive(Clone, Copy, Debug)]
pub struct Connection<'e> {
    pub env: &'e Environment,
    pub client: &'e ScimClient,
}

impl<'e> Connection<'e> {
    /// Build (once) the environment's client.
    pub fn of(env: &'e Environment) -> Result<Connection<'e>, Fail> {
        Ok(Connection { env, client: env.client()? })
    }
}
