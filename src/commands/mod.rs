//! The headless commands, one file per command group (the shape of jj's `cli/src/commands/`):
//! each takes the `Environment` (or its `Connection`) and its own arguments, writes data to `out`
//! and returns an exit code or a `Fail` (`command_error`). `Command` is the clap tree's
//! subcommands; `cli` routes them here. Writes go through `bulk` (the one gate and the queue).

pub mod approvals;
pub mod cache;
pub mod check;
pub mod demo;
pub mod docs;
pub mod edit;
pub mod emulator;
pub mod groups;
pub mod policy;
pub mod report;
pub mod store;
pub mod sync;
pub mod users;

use crate::flags::{RunArgs, UnusedGlobalsAndToken};
use crate::output::OutputFormat;
use cache::CacheCmd;
use check::CheckArgs;
use clap::Subcommand;
use demo::DemoArgs;
use groups::GroupsCmd;
use std::path::PathBuf;
use store::StoreCmd;
use users::UsersCmd;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check that the URL answers as SCIM, that the token is accepted, and which version it speaks
    Check(CheckArgs),
    /// Look up, create, update, deactivate and reactivate users
    #[command(subcommand)]
    Users(UsersCmd),
    /// Look up and change groups
    #[command(subcommand)]
    Groups(GroupsCmd),
    /// Undo a batch from the journal's before-values (updates set back, memberships re-added or
    /// removed, groups renamed back, deactivations reactivated with their memberships and roles),
    /// or a user's latest deactivation. A value is set back only where the server still holds what
    /// the batch wrote; anything changed since is listed as a conflict and left alone
    Restore {
        /// Every done operation of this batch, or of every batch of a policy run `pr-…` (ids:
        /// `scimitar report`, or the console's `Q`)
        #[arg(long, required_unless_present = "user", conflicts_with = "user")]
        batch: Option<String>,
        /// The latest deactivation of this user (id or email)
        #[arg(long)]
        user: Option<String>,
        /// Also deactivate the users the batch created (else they are listed and left active)
        #[arg(long, requires = "batch")]
        deactivate_created: bool,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Finish batches that a crash or kill left unfinished (each op runs at most once more, safely)
    Resume {
        /// Only this batch
        #[arg(long)]
        batch: Option<String>,
        /// Queue the batch's failed operations again (needs --batch)
        #[arg(long, requires = "batch")]
        retry_failed: bool,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Show every change a policy would make (exit 0: none, 2: some, 64: policy error)
    Plan {
        /// Policy file, or NAME for policies/NAME.toml in the config dir
        #[arg(long, value_name = "FILE|NAME")]
        policy: String,
        /// table = a readable diff
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Make the changes a policy's plan lists, through the action queue (journal, rate limits, ceilings)
    Apply {
        /// Policy file, or NAME for policies/NAME.toml in the config dir
        #[arg(long, value_name = "FILE|NAME")]
        policy: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Keep Slack in line with a policy unattended: plan, gate, apply, report, every interval
    /// (--every 5m) or once (--once); quarantine, alerts, status, metrics
    Sync(crate::commands::sync::SyncArgs),
    /// Four-eyes approvals: batches over the profile's `approval_over` wait here until another
    /// account approves (runs) or rejects them; without a subcommand, list the pending ones
    Approvals(approvals::ApprovalsArgs),
    /// Query the provisioning report: who did what to whom, when, and did it work
    Report(crate::commands::report::ReportArgs),
    /// The store: where the journal, reports, sync state and the org's lease live (see docs/team.md)
    #[command(subcommand)]
    Store(StoreCmd),
    /// Run the Slack SCIM emulator (for the demo, tests and benchmarks); prints its base URL first
    Emulator(crate::commands::emulator::EmulatorArgs),
    /// Open the console against an embedded Slack SCIM emulator (loopback only, random token)
    Demo(DemoArgs),
    /// The console's local directory cache (one owner-only file per profile in the data dir)
    #[command(subcommand)]
    Cache(CacheCmd),
    /// Print a shell completion script, generated from this CLI's definition
    /// (e.g. `scimitar completions bash > ~/.local/share/bash-completion/completions/scimitar`)
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
        #[command(flatten)]
        unused: UnusedGlobalsAndToken,
    },
    /// Print the manual page (roff), generated from this CLI's definition
    /// (`scimitar man | man -l -`); `--dir DIR` writes one page per command instead
    Man {
        /// Write scimitar.1 and a page for every command (scimitar-users-list.1, ...) into DIR
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        unused: UnusedGlobalsAndToken,
    },
}

/// Read-only commands, bounded by `--deadline` (default [`DEFAULT_READ_DEADLINE`]).
pub fn is_read(command: &Command) -> bool {
    matches!(
        command,
        Command::Check(_)
            | Command::Users(UsersCmd::Find { .. } | UsersCmd::Show { .. } | UsersCmd::List { .. } | UsersCmd::Export { .. })
            | Command::Groups(GroupsCmd::List { .. } | GroupsCmd::Show { .. })
            | Command::Plan { .. }
    )
}
