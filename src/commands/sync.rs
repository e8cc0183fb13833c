//! `scimitar sync`: unattended provisioning from a policy (the domain is `provision::sync`).
//!
//! - `scimitar sync --policy P --every 5m`: a cycle now, then one every 5 minutes (plus up to a
//!   tenth of that, at most 30 s, of random delay, so that several syncs started together spread
//!   their reads), until SIGTERM or SIGINT; a signal stops the cycle between operations.
//! - `scimitar sync --policy P --once`: one cycle (cron, systemd timers).
//! - `scimitar sync status [--policy P]`: the status record.
//! - `scimitar sync approve --policy P [--yes]`: show a quarantined policy's held plan, apply it
//!   once approved, release the quarantine.
//!
//! Exit codes (`--once`, `approve`): 0 applied or nothing to do; 1 some operations failed or the
//! cycle was interrupted; 3 quarantined (new or still); 75 another scimitar holds the profile's
//! lock (EX_TEMPFAIL: try later); 64/69/77/78 as for `apply` when planning fails. `--every`
//! exits 0 when stopped by a signal, and early only for a problem it cannot outlive (a bad
//! command line, no such policy, `[sync]` unusable).

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::bulk;
use crate::command_error::Fail;
use crate::env::Environment;
use crate::exit;
use crate::flags::parse_duration;
use crate::output::{OutputFormat, Rows};
use crate::queue::{Cancel, DeactivateVia, EngineConfig, OpState, QueueEvent};
use crate::sync::{CycleError, CycleEvent, CycleReport, RunResult, SyncJob, SyncStore};
use crate::sync_metrics::SyncMetrics;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SyncArgs {
    #[command(subcommand)]
    pub action: Option<SyncAction>,
    #[command(flatten)]
    pub run: SyncRunArgs,
}

#[derive(Args, Debug, Clone)]
pub struct SyncRunArgs {
    /// Policy file, or NAME for policies/NAME.toml in the config dir
    #[arg(long, value_name = "FILE|NAME")]
    pub policy: Option<String>,
    /// Run a cycle now and then every DURATION (e.g. 5m, 1h) until SIGTERM or SIGINT
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "once")]
    pub every: Option<Duration>,
    /// Run one cycle and exit (for cron and systemd timers)
    #[arg(long)]
    pub once: bool,
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464)
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// Let --metrics listen on a non-loopback address (e.g. 0.0.0.0:9464 inside a container)
    #[arg(long, requires = "metrics")]
    pub metrics_allow_remote: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// table: one row per cycle; json: one object per cycle (the run record, notes, quarantine)
    #[arg(long, short, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// How the queue runs a sync's operations.
#[derive(Args, Debug, Clone)]
pub struct EngineArgs {
    /// Which endpoint deactivates: delete, patch, or both rows of Slack's rate table (fastest)
    #[arg(long, default_value_t, value_parser = crate::flags::via_parser())]
    pub via: DeactivateVia,
    /// Requests kept in flight
    #[arg(long, default_value_t = 24)]
    pub workers: usize,
}

impl EngineArgs {
    fn config(&self) -> EngineConfig {
        EngineConfig { workers: self.workers, deactivate_via: self.via, ..Default::default() }
    }
}

#[derive(Subcommand, Debug)]
pub enum SyncAction {
    /// Show each policy's sync state: last run, result, counts, next run, quarantine and why
    Status {
        /// Only this policy (file or NAME)
        #[arg(long, value_name = "FILE|NAME")]
        policy: Option<String>,
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Review a quarantined policy's held plan and apply it, releasing the quarantine
    Approve {
        /// Policy file, or NAME for policies/NAME.toml in the config dir
        #[arg(long, value_name = "FILE|NAME")]
        policy: String,
        /// Do not ask (refused when the plan now deactivates more users than the held one)
        #[arg(long, short = 'y')]
        yes: bool,
        #[command(flatten)]
        engine: EngineArgs,
        /// How the plan is shown (table = a readable diff)
        #[arg(long, short, value_enum, default_value_t)]
        output: OutputFormat,
    },
}

/// `scimitar sync ...`.
pub async fn run(env: &Environment, args: SyncArgs) -> Result<i32, Fail> {
    match args.action {
        Some(SyncAction::Status { policy, output }) => status(env, policy.as_deref(), output),
        Some(SyncAction::Approve { policy, yes, engine, output }) => approve(env, &policy, yes, &engine, output).await,
        None => sync(env, args.run).await,
    }
}

fn store(env: &Environment) -> Result<SyncStore, Fail> {
    let store = env.store().map_err(|e| Fail::new(crate::command_error::env_exit_code(&e), format!("cannot open the store: {e}")))?;
    Ok(SyncStore::on(store))
}

fn job(env: &Environment, policy: &str, engine: &EngineArgs, command: String) -> Result<SyncJob, Fail> {
    Ok(SyncJob::new(env, policy, engine.config(), command)?)
}

fn clean(s: &str) -> String {
    crate::sanitize::clean(&crate::scim::redact::redact(s))
}

/// Print a cycle's progress on stderr: failed operations, notes.
async fn print_progress(mut rx: tokio::sync::mpsc::UnboundedReceiver<CycleEvent>, name: String) {
    while let Some(ev) = rx.recv().await {
        match ev {
            CycleEvent::Queue(QueueEvent::OpFinished { state: OpState::Failed, describe, message, .. }) => {
                eprintln!("scimitar: sync {name}: failed: {}: {}", clean(&describe), clean(&message));
            }
            CycleEvent::Queue(QueueEvent::BatchStarted { batch_id, total }) => {
                eprintln!("scimitar: sync {name}: batch {batch_id}: {}", crate::words::count(total, "operation"));
            }
            CycleEvent::Queue(_) => {}
            CycleEvent::Note(n) => eprintln!("scimitar: sync {name}: {}", clean(&n)),
        }
    }
}

/// One cycle's end: a line on stderr, a row (or JSON object) on stdout.
fn print_report(r: &CycleReport, output: OutputFormat, out: &mut dyn Write) -> Result<(), Fail> {
    let name = &r.record.policy;
    eprintln!("scimitar: sync {name}: {}", clean(&r.line()));
    if r.quarantine.is_some() && r.record.result == RunResult::Quarantined {
        eprintln!(
            "scimitar: sync {name}: QUARANTINED: nothing more is written until an admin reviews the plan: scimitar sync approve --policy {name}"
        );
    }
    for f in &r.alert_failures {
        eprintln!("scimitar: sync {name}: warning: {}", clean(f));
    }
    let rec = &r.record;
    let mut rows = Rows::new(vec!["policy", "finished", "result", "done", "failed", "skipped", "cancelled", "run", "message"]);
    let json = serde_json::json!({
        "record": rec, "quarantine": r.quarantine, "notes": r.notes, "alert_failures": r.alert_failures,
    });
    rows.push(
        vec![
            name.clone(),
            crate::report::format_time(rec.finished),
            rec.result.to_string(),
            rec.ops.done.to_string(),
            rec.ops.failed.to_string(),
            rec.ops.skipped.to_string(),
            rec.ops.cancelled.to_string(),
            rec.run_id.clone().unwrap_or_default(),
            rec.message.clone().unwrap_or_default(),
        ],
        Some(json),
    );
    rows.write(output, out)?;
    out.flush()?;
    Ok(())
}

/// Set `cancel` on SIGTERM or SIGINT; `stopped` tells the loop.
fn watch_signals(cancel: Cancel) -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else { return };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("scimitar: sync: stopping: requests in flight finish, nothing else is sent (the journal keeps everything)");
        cancel.cancel();
        let _ = tx.send(true);
    });
    rx
}

/// The random extra wait before the next cycle: up to a tenth of the interval, at most 30 s.
fn jitter(every: Duration) -> Duration {
    let cap = (every / 10).min(Duration::from_secs(30));
    if cap.is_zero() {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::random::<u64>() % (cap.as_millis() as u64 + 1))
}

async fn sync(env: &Environment, a: SyncRunArgs) -> Result<i32, Fail> {
    let Some(policy) = a.policy.clone() else {
        return Err(Fail::new(
            exit::USAGE,
            "scimitar sync needs --policy FILE|NAME (and --every DURATION or --once); see scimitar sync --help",
        ));
    };
    if a.every.is_none() && !a.once {
        return Err(Fail::new(
            exit::USAGE,
            "scimitar sync: give --every DURATION (keep running) or --once (one cycle, for cron and timers)",
        ));
    }
    bulk::refuse_read_only(env)?;
    let job = job(env, &policy, &a.engine, format!("scimitar sync --policy {policy}"))?;
    let store = store(env)?;
    let metrics = Arc::new(SyncMetrics::new(&env.profile_name, &job.name));
    metrics.seed(store.state(&env.profile_name, &job.name).ok().flatten().as_ref());
    if let Some(addr) = a.metrics {
        crate::sync_metrics::check_address(&addr, a.metrics_allow_remote).map_err(|e| Fail::new(exit::USAGE, e))?;
        let bound = crate::sync_metrics::serve(addr, metrics.clone())
            .await
            .map_err(|e| Fail::new(exit::UNAVAILABLE, format!("--metrics {addr}: cannot listen: {e}")))?;
        eprintln!("scimitar: sync {}: metrics at http://{bound}/metrics", job.name);
    }
    let cancel = Cancel::default();
    let mut stopped = watch_signals(cancel.clone());
    eprintln!(
        "scimitar: sync {} ({}): {}; {}",
        job.name,
        job.policy_path.display(),
        match a.every {
            Some(d) => format!("every {}", humantime(d)),
            None => "once".into(),
        },
        job.alerts.describe()
    );
    let stdout = std::io::stdout();
    loop {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let printer = tokio::spawn(print_progress(rx, job.name.clone()));
        let report = crate::sync::run_cycle(env, &job, &store, &cancel, Some(tx)).await;
        let _ = printer.await;
        metrics.observe(&report);
        if report.record.result != RunResult::Held && report.record.result != RunResult::Quarantined {
            metrics.set_quarantined(false);
        }
        print_report(&report, a.output, &mut stdout.lock())?;
        // (The reason of an error is on stderr already, in the report's line; the code says
        // what kind it was.)
        let Some(every) = a.every else { return Ok(crate::command_error::cycle_exit_code(&report)) };
        if cancel.is_cancelled() {
            return Ok(exit::OK);
        }
        let wait = every + jitter(every);
        let next = time::OffsetDateTime::now_utc() + wait;
        metrics.set_next_run(next);
        let _ = store.set_next_run(&env.profile_name, &job.name, Some(next));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => {}
        }
        if cancel.is_cancelled() {
            let _ = store.set_next_run(&env.profile_name, &job.name, None);
            return Ok(exit::OK);
        }
    }
}

fn humantime(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 3600.0 && s % 3600.0 == 0.0 {
        format!("{}h", s / 3600.0)
    } else if s >= 60.0 && s % 60.0 == 0.0 {
        format!("{}m", s / 60.0)
    } else if s >= 1.0 {
        format!("{s}s")
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn status(env: &Environment, policy: Option<&str>, output: OutputFormat) -> Result<i32, Fail> {
    let store = store(env)?;
    let states = match policy {
        Some(p) => {
            let path = crate::policy::live::resolve_policy(p, &env.paths.policies_dir()).map_err(Fail::from)?;
            let name = crate::policy::state::policy_name(&path);
            match store.state(&env.profile_name, &name).map_err(|e| Fail::new(exit::CONFIG, e.to_string()))? {
                Some(s) => vec![s],
                None => {
                    eprintln!("scimitar: policy {name} has never been synced with profile {}", env.profile_name);
                    return Ok(exit::OK);
                }
            }
        }
        None => store.all().map_err(|e| Fail::new(exit::CONFIG, e.to_string()))?,
    };
    let mut rows = Rows::new(vec![
        "profile",
        "policy",
        "state",
        "last_run",
        "result",
        "done",
        "failed",
        "skipped",
        "cancelled",
        "next_run",
        "last_success",
        "why",
    ]);
    let t = |x: Option<time::OffsetDateTime>| x.map(crate::report::format_time).unwrap_or_default();
    let mut quarantined = 0;
    for s in &states {
        let lock = if s.profile == env.profile_name { crate::sync::lock::holder(env) } else { None };
        let state = if s.quarantine.is_some() {
            quarantined += 1;
            "quarantined".to_string()
        } else if let Some(h) = lock.as_ref().filter(|_| s.running_run.is_some()) {
            format!("running (pid {})", h.pid)
        } else if s.running_run.is_some() {
            "interrupted (finishes at the next start)".into()
        } else {
            "ok".into()
        };
        let last = s.last_run.as_ref();
        let why = match &s.quarantine {
            Some(q) => format!("since {}: {}", crate::report::format_time(q.since), q.reason),
            None => last.and_then(|r| r.message.clone()).unwrap_or_default(),
        };
        let mut json = serde_json::to_value(s).unwrap_or_default();
        json["state"] = serde_json::Value::from(state.clone());
        if let Some(h) = &lock {
            json["lock_holder"] = serde_json::to_value(h).unwrap_or_default();
        }
        rows.push(
            vec![
                s.profile.clone(),
                s.policy.clone(),
                state,
                t(last.map(|r| r.finished)),
                last.map(|r| r.result.to_string()).unwrap_or_default(),
                last.map(|r| r.ops.done.to_string()).unwrap_or_default(),
                last.map(|r| r.ops.failed.to_string()).unwrap_or_default(),
                last.map(|r| r.ops.skipped.to_string()).unwrap_or_default(),
                last.map(|r| r.ops.cancelled.to_string()).unwrap_or_default(),
                t(s.next_run),
                t(s.last_success),
                why,
            ],
            Some(json),
        );
    }
    rows.write(output, &mut std::io::stdout().lock())?;
    for s in states.iter().filter(|s| s.quarantine.is_some()) {
        eprintln!("scimitar: {} is quarantined: review and release with scimitar sync approve --policy {}", s.policy, s.policy);
    }
    Ok(if quarantined > 0 { exit::QUARANTINED } else { exit::OK })
}

async fn approve(env: &Environment, policy: &str, yes: bool, engine: &EngineArgs, output: OutputFormat) -> Result<i32, Fail> {
    bulk::refuse_read_only(env)?;
    let job = job(env, policy, engine, format!("scimitar sync approve --policy {policy}"))?;
    let store = store(env)?;
    let review = match crate::sync::review(env, &job, &store).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            eprintln!("scimitar: policy {} is not quarantined; nothing to approve", job.name);
            return Ok(exit::OK);
        }
        Err(CycleError::Plan(e)) => return Err(e.into()),
        Err(CycleError::Env(e)) => return Err(e.into()),
        Err(e) => return Err(Fail::new(exit::FAILURE, e.to_string())),
    };
    let q = &review.quarantine;
    eprintln!(
        "scimitar: policy {} is quarantined since {} ({:?}): {}",
        job.name,
        crate::report::format_time(q.since),
        q.kind,
        clean(&q.reason)
    );
    if let Some(h) = q.held.get("summary").and_then(|v| v.as_str()) {
        eprintln!("scimitar: held plan: {}", clean(h));
    }
    // The plan as it is now: what will be applied.
    crate::policy_render::render(&review.live.plan, output, &mut std::io::stdout().lock())?;
    let plan = &review.live.plan;
    eprintln!("scimitar: plan now: {}", crate::present::plan_summary(plan));
    eprintln!("scimitar: gate: {}", clean(&review.decision.summary()));
    for c in &review.ceilings {
        eprintln!("scimitar: over the ceiling: {}", clean(c));
    }
    let now = plan.deactivations.len() as u64;
    let held = q.held_deactivations();
    let n = review.decision.runnable().len();
    if yes {
        if let Some(h) = held.filter(|h| now > *h) {
            return Err(Fail::new(
                exit::USAGE,
                format!("the plan now deactivates {now} users, the held plan {h}: review it without --yes; nothing was done"),
            ));
        }
        if held.is_none() && now > 0 && !review.ceilings.is_empty() {
            return Err(Fail::new(exit::USAGE, "the held plan's counts are unknown: review it without --yes; nothing was done"));
        }
    } else {
        if !std::io::stdin().is_terminal() {
            return Err(Fail::new(exit::USAGE, "approving needs a terminal to confirm, or --yes; nothing was done"));
        }
        eprint!("Type {n} to apply {} and release the quarantine: ", crate::words::count(n, "operation"));
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| Fail::new(exit::FAILURE, e.to_string()))?;
        if line.trim() != n.to_string() {
            return Err(Fail::new(exit::FAILURE, "not confirmed; the policy stays quarantined"));
        }
    }
    let cancel = Cancel::default();
    let _signals = watch_signals(cancel.clone());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let printer = tokio::spawn(print_progress(rx, job.name.clone()));
    let by = format!("{}@{}", env.actor.user, env.actor.host);
    let report = crate::sync::approve(env, &job, &store, review, &by, &cancel, Some(tx)).await;
    let _ = printer.await;
    // The plan went to stdout; the run's row goes to stderr's line only.
    print_report(&report, OutputFormat::Table, &mut std::io::sink())?;
    Ok(crate::command_error::cycle_exit_code(&report))
}
