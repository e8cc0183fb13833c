//! One failure type for every headless command (`Fail`: a message for stderr and an exit code)
//! and every mapping from a library error or a domain result to an exit code (the codes
//! themselves and what each means: `exit`).

use crate::config::ConfigError;
use crate::env::EnvError;
use crate::exit::{self, AUTH, FAILURE, NOT_FOUND, UNAVAILABLE, USAGE};
use crate::policy::ldap::FailureKind;
use crate::policy::live::LiveError;
use crate::scim::ScimError;
use crate::sync::{CycleError, CycleReport, RunResult};

/// A failure of a headless command: what to print on stderr and the exit code.
#[derive(Debug)]
pub struct Fail {
    pub code: i32,
    pub message: String,
}

impl Fail {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Fail { code, message: message.into() }
    }
}

impl From<ScimError> for Fail {
    fn from(e: ScimError) -> Self {
        Fail { code: scim_exit_code(&e), message: e.to_string() }
    }
}

impl From<ConfigError> for Fail {
    fn from(e: ConfigError) -> Self {
        Fail { code: exit::CONFIG, message: e.to_string() }
    }
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            // The reader went away (`| head`): stop quietly, like other Unix tools.
            return Fail { code: exit::OK, message: String::new() };
        }
        Fail { code: exit::FAILURE, message: format!("write failed: {e}") }
    }
}

impl From<EnvError> for Fail {
    fn from(e: EnvError) -> Self {
        Fail::new(env_exit_code(&e), e.to_string())
    }
}

/// The exit code of an environment that could not be made (or a part of it).
pub fn env_exit_code(e: &EnvError) -> i32 {
    match e {
        EnvError::Config(_) => exit::CONFIG,
        EnvError::Scim(e) => scim_exit_code(e),
        EnvError::ThrottleScale(_) => exit::USAGE,
        EnvError::Journal(_) => exit::CONFIG,
        EnvError::Store(e) => store_exit_code(e),
        EnvError::Lease(crate::store::LeaseError::Held { .. }) => exit::TEMPFAIL,
        EnvError::Lease(crate::store::LeaseError::Store(e)) => store_exit_code(e),
        EnvError::Lease(crate::store::LeaseError::Lost { .. }) => exit::FAILURE,
    }
}

/// The exit code of a store that failed: unreachable 69, misconfigured 78, else 1.
pub fn store_exit_code(e: &crate::store::StoreError) -> i32 {
    use crate::store::StoreError;
    match e {
        StoreError::Unreachable { .. } => exit::UNAVAILABLE,
        StoreError::Config(_) | StoreError::TooNew { .. } | StoreError::Db(_) => exit::CONFIG,
        _ => exit::FAILURE,
    }
}

impl From<scimitar_console::ConsoleError> for Fail {
    fn from(e: scimitar_console::ConsoleError) -> Fail {
        use scimitar_console::ConsoleError;
        let code = match &e {
            ConsoleError::NotATerminal => exit::USAGE,
            ConsoleError::Env(e) => env_exit_code(e),
            ConsoleError::DemoEmulator(_) | ConsoleError::DemoClient(_) | ConsoleError::Terminal(_) => exit::FAILURE,
        };
        Fail::new(code, e.to_string())
    }
}

/// The exit code of a console run: 0 when the user quit, 128 + the signal's number when a signal
/// ended it; an error is a `Fail`.
pub fn console_exit(r: Result<scimitar_console::Ended, scimitar_console::ConsoleError>) -> Result<i32, Fail> {
    match r? {
        scimitar_console::Ended::Quit => Ok(exit::OK),
        scimitar_console::Ended::Signal(n) => Ok(128 + n),
    }
}

/// The exit code for a failed SCIM call.
pub fn scim_exit_code(e: &crate::scim::ScimError) -> i32 {
    match e {
        ScimError::Invalid(_) => USAGE,
        ScimError::Api(_) if e.is_auth() => AUTH,
        ScimError::Api(_) if e.is_not_found() => NOT_FOUND,
        ScimError::Api(a) if a.status >= 500 => UNAVAILABLE,
        // A server that stalls past a deadline or breaks the protocol is as good as unreachable.
        ScimError::Transport { .. }
        | ScimError::NotScim { .. }
        | ScimError::Protocol { .. }
        | ScimError::Redirect { .. }
        | ScimError::Deadline { .. } => UNAVAILABLE,
        ScimError::Api(_) | ScimError::Cancelled { .. } => FAILURE,
    }
}

/// The exit code of a plan that could not be made (`plan`, `apply`, `sync`).
pub fn live_exit_code(e: &LiveError) -> i32 {
    match e {
        LiveError::NotFound(_) | LiveError::Policy(_) | LiveError::Source(_) => exit::USAGE,
        LiveError::State(_) => exit::CONFIG,
        LiveError::Scim(e) => scim_exit_code(e),
        LiveError::Directory(e) => match e.kind {
            FailureKind::Auth => exit::AUTH,
            FailureKind::Unavailable => exit::UNAVAILABLE,
            FailureKind::Config => exit::CONFIG,
            FailureKind::Server => exit::USAGE,
        },
    }
}

impl From<LiveError> for Fail {
    fn from(e: LiveError) -> Fail {
        Fail::new(live_exit_code(&e), e.to_string())
    }
}

/// The exit code of a cycle (`--once`, `approve`).
pub fn cycle_exit_code(r: &CycleReport) -> i32 {
    match r.record.result {
        RunResult::Applied | RunResult::NoChanges => exit::OK,
        RunResult::Failed | RunResult::Interrupted => exit::FAILURE,
        RunResult::Quarantined | RunResult::Held => exit::QUARANTINED,
        RunResult::Locked => exit::TEMPFAIL,
        RunResult::Error => match &r.error {
            Some(CycleError::Plan(e)) => live_exit_code(e),
            Some(CycleError::Env(e)) => env_exit_code(e),
            Some(CycleError::Status(_)) => exit::CONFIG,
            Some(CycleError::Locked(_)) => exit::TEMPFAIL,
            _ => exit::FAILURE,
        },
    }
}

/// Rows of bad input (64): each row's message, then how many; nothing was done.
pub fn input_errors(errors: Vec<String>) -> Fail {
    let n = errors.len();
    Fail::new(USAGE, format!("{}\n{}; nothing was done", errors.join("\n"), crate::words::count(n, "bad input row")))
}

impl Fail {
    /// `--read-only` refused a write (64).
    pub fn read_only() -> Fail {
        Fail::new(USAGE, "--read-only: this command changes Slack; nothing was done")
    }
}

/// The gate refused the batch (a rule or a ceiling: 64), or the journal or server failed.
impl From<crate::queue::GateError> for Fail {
    fn from(e: crate::queue::GateError) -> Fail {
        use crate::queue::{GateError, Hold};
        match e {
            GateError::Held(Hold::ReadOnly) => Fail::read_only(),
            GateError::Held(h) => Fail::new(USAGE, format!("{h}; nothing was done")),
            GateError::NeedsApproval(n) => Fail::new(exit::PENDING_APPROVAL, format!("{n}; nothing was done")),
            GateError::Scim(e) => e.into(),
            GateError::Journal(e) => Fail::new(FAILURE, format!("journal: {e:#}")),
        }
    }
}

/// A sync job that could not be set up: its policy (as `plan`), or its alerts (78).
impl From<crate::sync::SetupError> for Fail {
    fn from(e: crate::sync::SetupError) -> Fail {
        match e {
            crate::sync::SetupError::Policy(e) => e.into(),
            crate::sync::SetupError::Alerts(e) => Fail::new(exit::CONFIG, e.to_string()),
        }
    }
}

/// A policy apply that stopped (a pass held, the journal or the queue failed): 1, as before the
/// apply's errors were typed (a ceiling is caught before, by `bulk::approve`: 64).
impl From<crate::policy::apply::ApplyError> for Fail {
    fn from(e: crate::policy::apply::ApplyError) -> Fail {
        Fail::new(exit::FAILURE, e.to_string())
    }
}

/// A four-eyes approval refused: not found (66), one's own, not pending or for another server
/// (64), else 1. The store's text is cleaned (it holds what accounts typed).
impl From<crate::approval::ApprovalError> for Fail {
    fn from(e: crate::approval::ApprovalError) -> Fail {
        use crate::approval::ApprovalError;
        let code = match &e {
            ApprovalError::NotFound(_) => exit::NOT_FOUND,
            ApprovalError::OwnProposal { .. } | ApprovalError::NotPending { .. } | ApprovalError::OtherServer { .. } => exit::USAGE,
            _ => exit::FAILURE,
        };
        Fail::new(code, crate::sanitize::clean(&e.to_string()))
    }
}
