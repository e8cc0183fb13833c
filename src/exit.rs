//! Process exit codes of the headless commands (sysexits-style where one fits).

/// Everything asked for was done.
pub const OK: i32 = 0;
/// Some operations failed, or a lookup found nothing.
pub const FAILURE: i32 = 1;
/// `plan`: the plan is not empty (like `terraform plan -detailed-exitcode`).
pub const CHANGES: i32 = 2;
/// `sync`: the policy is quarantined (a plan over a ceiling, or the circuit breaker): nothing is
/// written until `scimitar sync approve`.
pub const QUARANTINED: i32 = 3;
/// A batch over the profile's `approval_over` is held as a pending approval (its id on stdout):
/// nothing was sent until another account approves it (`scimitar approvals approve ID`).
pub const PENDING_APPROVAL: i32 = 3;
/// Bad command line or input (an unknown flag or command, a missing argument, a malformed email, a
/// bad file); also a ceiling that stopped `apply` (or would stop it: `apply --dry-run`).
pub const USAGE: i32 = 64;
/// The object asked for does not exist.
pub const NOT_FOUND: i32 = 66;
/// The server could not be reached or did not speak SCIM.
pub const UNAVAILABLE: i32 = 69;
/// Configuration problem (no token, token file readable by others, bad config file).
pub const CONFIG: i32 = 78;
/// Another scimitar holds the profile's lock (EX_TEMPFAIL: try again later).
pub const TEMPFAIL: i32 = 75;
/// The token was rejected.
pub const AUTH: i32 = 77;

/// Every exit code with what it means (the manual page's EXIT STATUS is generated from this).
pub const TABLE: &[(i32, &str)] = &[
    (OK, "Everything asked for was done (`plan`, `apply --dry-run`: nothing would change); --help, --version."),
    (FAILURE, "Some operations failed, or a lookup found nothing."),
    (CHANGES, "`plan` and `apply --dry-run`: there are changes to make."),
    (
        QUARANTINED,
        "`sync`: the policy is quarantined (a plan over a ceiling, or the circuit breaker); nothing is written until `sync approve`. A write over the profile's `approval_over`: held as a pending approval (its id on stdout), nothing sent until another account runs `approvals approve ID`.",
    ),
    (
        USAGE,
        "Usage error: an unknown command or flag, a missing or invalid argument, bad input (a malformed email, a bad file or policy); a ceiling stopped `apply` (or would stop it: `apply --dry-run`).",
    ),
    (NOT_FOUND, "The object asked for does not exist."),
    (UNAVAILABLE, "The server could not be reached, or did not speak SCIM."),
    (TEMPFAIL, "Another scimitar holds the profile's lock: try again later."),
    (AUTH, "The token was rejected."),
    (CONFIG, "Configuration problem: no token, a token file readable by others, a bad config file."),
];
