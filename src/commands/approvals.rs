//! `scimitar approvals`: four-eyes approvals (`provision::approval`). A batch over the profile's
//! `approval_over` is held as a pending approval (exit 3 and its id: `bulk::hold`); another account
//! lists it, shows it, approves it (re-screened by the gate against the server now, run under
//! the org's lease) or rejects it. This module only routes and formats.

use crate::approval::{self, Approval};
use crate::bulk;
use crate::command_error::Fail;
use crate::connection::Connection;
use crate::env::Environment;
use crate::exit;
use crate::flags::RunArgs;
use crate::output::{OutputFormat, Rows};
use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct ApprovalsArgs {
    #[command(subcommand)]
    pub action: Option<ApprovalsAction>,
    /// List every approval (approved, run, rejected too), not only the pending ones
    #[arg(long)]
    pub all: bool,
    #[arg(long, short, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Subcommand, Debug)]
pub enum ApprovalsAction {
    /// The plan of an approval and the gate's screening its proposer saw
    Show {
        /// The approval's id (or a unique part of it)
        id: String,
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Approve and run it (another account than the proposer's): its actions pass the gate again,
    /// against the server's state now, under the org's lease
    Approve {
        /// The approval's id (or a unique part of it)
        id: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Reject it: nothing is sent
    Reject {
        /// The approval's id (or a unique part of it)
        id: String,
        /// Why (recorded in the report)
        #[arg(long)]
        reason: Option<String>,
    },
}

pub async fn run(env: &Environment, args: ApprovalsArgs, out: &mut dyn std::io::Write) -> Result<i32, Fail> {
    match args.action {
        None => list(env, args.all, args.output, out),
        Some(ApprovalsAction::Show { id, output }) => show(env, &id, output, out),
        Some(ApprovalsAction::Approve { id, run }) => approve(env, &id, &run).await,
        Some(ApprovalsAction::Reject { id, reason }) => reject(env, &id, reason.as_deref()),
    }
}

fn row(a: &Approval) -> Vec<String> {
    vec![
        a.id.clone(),
        a.proposer.clone(),
        a.description.clone(),
        a.users.to_string(),
        a.operations.to_string(),
        a.deactivations.to_string(),
        a.created.clone(),
        a.state.as_str().into(),
        a.decided_by.clone().unwrap_or_default(),
    ]
}

const COLUMNS: [&str; 9] = ["id", "proposer", "what", "users", "operations", "deactivations", "proposed", "state", "decided_by"];

fn list(env: &Environment, all: bool, output: OutputFormat, out: &mut dyn std::io::Write) -> Result<i32, Fail> {
    let store = env.store()?;
    let list = approval::list(&store, all).map_err(Fail::from)?;
    let mut rows = Rows::new(COLUMNS.to_vec());
    for a in &list {
        rows.push(row(a), serde_json::to_value(a).ok());
    }
    rows.write(output, out)?;
    if output == OutputFormat::Table && list.is_empty() {
        eprintln!("scimitar: no {}approvals", if all { "" } else { "pending " });
    }
    Ok(exit::OK)
}

fn show(env: &Environment, id: &str, output: OutputFormat, out: &mut dyn std::io::Write) -> Result<i32, Fail> {
    let store = env.store()?;
    let a = approval::get(&store, id).map_err(Fail::from)?;
    if output == OutputFormat::Json {
        let mut v = serde_json::to_value(&a).unwrap_or_default();
        v["plan"] = a
            .actions
            .iter()
            .map(|x| serde_json::json!({"action": x.name(), "target": x.target().label(), "would": x.describe()}))
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default())?;
        return Ok(exit::OK);
    }
    if output == OutputFormat::Table {
        let clean = |s: &str| crate::sanitize::clean(s);
        writeln!(out, "approval {} ({})", a.id, a.state.as_str())?;
        writeln!(out, "  what:      {}", clean(&a.description))?;
        writeln!(out, "  proposer:  {}  at {}", clean(&a.proposer), a.created)?;
        writeln!(out, "  profile:   {} ({})", clean(&a.profile), clean(&a.host))?;
        writeln!(out, "  counts:    {}, {}", a.counts(), crate::words::count(a.operations as usize, "operation"))?;
        if let Some(by) = &a.decided_by {
            writeln!(out, "  decided:   {} by {}", a.decided.clone().unwrap_or_default(), clean(by))?;
        }
        if let Some(r) = &a.reason {
            writeln!(out, "  reason:    {}", clean(r))?;
        }
        if let Some(b) = &a.batch_id {
            writeln!(out, "  batch:     {b} (scimitar report --batch {b})")?;
        }
        writeln!(out, "gate, as the proposer saw it:")?;
        writeln!(out, "  {}", clean(&a.screening.summary))?;
        writeln!(out, "  {}", clean(&a.screening.held))?;
        if let Some(c) = &a.screening.ceiling {
            writeln!(out, "  ceiling: {}", clean(c))?;
        }
        for s in &a.screening.skipped {
            writeln!(out, "  skipped {}", clean(s))?;
        }
        writeln!(out, "plan:")?;
    }
    let mut rows = Rows::new(vec!["seq", "action", "target", "would"]);
    for (n, x) in a.actions.iter().enumerate() {
        rows.push(vec![(n + 1).to_string(), x.name().into(), x.target().label(), x.describe()], None);
    }
    rows.write(output, out)?;
    Ok(exit::OK)
}

async fn approve(env: &Environment, id: &str, run: &RunArgs) -> Result<i32, Fail> {
    let (c, safety) = bulk::writer(env, run)?;
    let store = env.store()?;
    let a = approval::get(&store, id).map_err(Fail::from)?;
    // The four-eyes rule first: the proposer is told before anything is read or held.
    approval::may_approve(&a, bulk::open_journal(c)?.context()).map_err(Fail::from)?;
    eprintln!(
        "scimitar: approval {} by {} at {}: {} ({}); the proposer's gate: {}",
        a.id,
        crate::sanitize::clean(&a.proposer),
        a.created,
        crate::sanitize::clean(&a.description),
        a.counts(),
        crate::sanitize::clean(&a.screening.summary)
    );
    // The org's lease from here: the screening and the run see the same server.
    let (lease, journal) = if run.dry_run {
        (None, bulk::open_journal(c)?)
    } else {
        bulk::take_lease(c, run, &bulk::command_line()).map(|(l, j)| (Some(l), j))?
    };
    let decision = approval::screen(c.client, &safety, &a).await.map_err(Fail::from)?;
    for s in decision.skipped() {
        eprintln!("scimitar: now skipping {}: {}", crate::sanitize::clean(&s.action.describe()), s.why());
    }
    eprintln!("scimitar: gate now: {}", crate::sanitize::clean(&decision.summary()));
    if run.dry_run {
        bulk::write_dry_run(&decision, run)?;
        if let Some(e) = decision.ceiling() {
            eprintln!("scimitar: note: {e}");
        }
        eprintln!("scimitar: dry run: approval {} not approved; nothing was changed", a.id);
        return Ok(exit::OK);
    }
    // The confirmation counts a policy apply's second pass too (it runs in the same approval), in
    // the words `apply`'s and the console's use; the progress counts it from the start.
    let later = a.later_operations().unwrap_or(0);
    if let Some(l) = bulk::later_line(later).filter(|_| run.yes) {
        eprintln!("scimitar: {l}");
    }
    let expected = decision.runnable().len() + later;
    let decision = bulk::approve_run(decision, None, run, &format!("approve {} ({})", a.id, a.description), later)?;
    eprintln!("scimitar: approving {}", a.id);
    let breaker = crate::sync::BreakerConfig::from_config(&env.config.sync).map_err(|e| Fail::new(exit::CONFIG, e.to_string()))?;
    let renv =
        crate::approved::RunEnv { client: c.client.clone(), journal: journal.clone(), safety, engine: bulk::engine_config(run), breaker };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = crate::queue::Cancel::default();
    let (result, interrupted) = tokio::join!(
        crate::approved::run(renv, &a, decision, tx, cancel.clone()),
        bulk::follow_run(rx, &cancel, crate::queue::planned_rate(c.client, run.via), expected)
    );
    let done = result.map_err(Fail::from)?;
    for b in &done.batches {
        bulk::print_batch(b, run)?;
    }
    for n in done.notes() {
        eprintln!("scimitar: {}", crate::sanitize::clean(&n));
    }
    if a.policy.is_some() && done.complete() && !interrupted {
        eprintln!("scimitar: sync of policy {} may write again", a.policy.as_deref().unwrap_or_default());
    }
    eprintln!("scimitar: approval {}: {}", a.id, done.summary);
    drop(lease);
    Ok(if done.complete() && !interrupted { exit::OK } else { exit::FAILURE })
}

fn reject(env: &Environment, id: &str, reason: Option<&str>) -> Result<i32, Fail> {
    let c = Connection::of(env)?;
    let journal = bulk::open_journal(c)?;
    let a = approval::get(journal.store(), id).map_err(Fail::from)?;
    let a = approval::reject(&journal, &a.id, reason).map_err(Fail::from)?;
    eprintln!(
        "scimitar: rejected approval {} ({}, proposed by {}); nothing was sent",
        a.id,
        crate::sanitize::clean(&a.description),
        crate::sanitize::clean(&a.proposer)
    );
    Ok(exit::OK)
}
