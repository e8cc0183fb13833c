//! `scimitar report`: query, summarise, verify and prune the provisioning reports.
//!
//! ```text
//! scimitar report [--user EMAIL|ID|USERNAME] [--action A] [--outcome O] [--profile P]
//!                 [--since T] [--until T] [--batch B] [--limit N] [--summary] [--output table|json|csv]
//! scimitar report verify
//! scimitar report prune --retain-days N
//! ```
//! Data goes to stdout, diagnostics to stderr. `--output json` writes one object per line with every
//! field; `--output csv` a header and every field; both read back with `report::interchange`
//! to the same records.

use crate::exit;
use crate::output::{OutputFormat, RowStream, Rows};
use crate::report::{Outcome, ReportQuery, ReportStore, StoredRecord, format_time, interchange, parse_time};

use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use time::OffsetDateTime;

#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub cmd: Option<ReportCmd>,
    /// Target's email or userName (any case) or SCIM id.
    #[arg(long, value_name = "EMAIL|ID|USERNAME")]
    pub user: Option<String>,
    /// Action, e.g. deactivate, reactivate, create_user, add_members.
    #[arg(long, value_name = "ACTION")]
    pub action: Option<String>,
    #[arg(long, value_parser = outcome_parser())]
    pub outcome: Option<Outcome>,
    /// Connection profile name.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Finished at or after T: a date (2026-11-01), a date-time (2026-11-01T10:00:00Z, UTC unless an
    /// offset is given) or a span back from now (30m, 24h, 7d, 2w).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Finished before T (same forms as --since).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// Batch id or policy run id.
    #[arg(long, value_name = "ID")]
    pub batch: Option<String>,
    /// Newest N records at most (0: no limit).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub limit: usize,
    /// Counts per action and outcome instead of records.
    #[arg(long)]
    pub summary: bool,
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Table, global = true)]
    pub output: OutputFormat,
    /// `report.retain_days` from the config file (filled in by the caller, not a flag).
    #[arg(skip)]
    pub config_retain_days: Option<u32>,
    /// Database file (default: the configured store: scimitar.db in the data directory, or the
    /// team's PostgreSQL store of `[store] url` / SCIMITAR_STORE_URL)
    #[arg(long, value_name = "PATH", global = true)]
    pub db: Option<PathBuf>,
    /// A shared store to read instead of a file (filled in by the caller, not a flag).
    #[arg(skip)]
    pub store: Option<crate::store::Store>,
}

fn outcome_parser() -> impl clap::builder::TypedValueParser<Value = Outcome> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Outcome::ALL.map(|o| o.as_str())).map(|s| s.parse::<Outcome>().unwrap_or(Outcome::Done))
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ReportCmd {
    /// Check the hash chain; names the first broken record. Exit code 1 when broken.
    Verify,
    /// Delete records older than the retention period (config `report.retain_days`), keeping the
    /// chain verifiable. Refuses when the chain does not verify.
    Prune {
        #[arg(long, value_name = "DAYS")]
        /// Days to keep [default: report.retain_days from the config file]
        retain_days: Option<u32>,
    },
}

/// Run `scimitar report`; returns the exit code (0 ok, 1 verify failed, 64 bad input, 66 no database).
/// `scimitar report` in an environment: the config's retention, the store (the shared one when
/// configured, else the data dir's database) filled in where the flags leave them out.
pub fn run_in(env: &crate::env::Environment, mut args: ReportArgs, out: &mut dyn Write) -> Result<i32, crate::command_error::Fail> {
    args.config_retain_days = env.retain_days();
    if args.db.is_none() && !matches!(env.store_location()?, crate::store::Location::Sqlite(_)) {
        args.store = Some(env.store()?);
    }
    args.db = args.db.or_else(|| Some(env.paths.database()));
    let stderr = std::io::stderr();
    Ok(run(args, out, &mut stderr.lock()))
}

pub fn run(args: ReportArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    match run_inner(args, OffsetDateTime::now_utc(), out, err) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "scimitar report: {e:#}");
            exit::FAILURE
        }
    }
}

fn run_inner(args: ReportArgs, now: OffsetDateTime, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<i32> {
    let path = args.db.clone().unwrap_or_default();
    if args.store.is_none() && args.db.is_none() {
        anyhow::bail!("no database: pass --db PATH");
    }
    let query = match build_query(&args, now) {
        Ok(q) => q,
        Err(msg) => {
            writeln!(err, "scimitar report: {msg}")?;
            return Ok(exit::USAGE);
        }
    };
    let filtered = args.user.is_some()
        || args.action.is_some()
        || args.outcome.is_some()
        || args.profile.is_some()
        || args.since.is_some()
        || args.until.is_some()
        || args.batch.is_some()
        || args.summary;
    if let Some(cmd) = &args.cmd
        && filtered
    {
        let name = if matches!(cmd, ReportCmd::Verify) { "verify" } else { "prune" };
        writeln!(err, "scimitar report: `{name}` works on the whole chain; query options do not apply to it")?;
        return Ok(exit::USAGE);
    }
    let mut store = match args.store.clone() {
        Some(s) => ReportStore::on(s),
        None => {
            if !path.exists() {
                writeln!(err, "scimitar report: no report database at {} (nothing recorded yet, or wrong --db)", path.display())?;
                return Ok(exit::NOT_FOUND);
            }
            ReportStore::open(&path)?
        }
    };
    match args.cmd {
        Some(ReportCmd::Verify) => {
            let v = store.verify()?;
            write_verify(&v, args.output, out)?;
            Ok(if v.ok() { exit::OK } else { exit::FAILURE })
        }
        Some(ReportCmd::Prune { retain_days }) => {
            let Some(retain_days) = retain_days.or(args.config_retain_days) else {
                writeln!(err, "scimitar report prune: give --retain-days N or set report.retain_days in the config file")?;
                return Ok(exit::USAGE);
            };
            let v = store.verify()?;
            if let Some(b) = &v.broken {
                writeln!(
                    err,
                    "scimitar report: not pruning: the chain is broken at record {}: {} (keep the evidence; see `scimitar report verify`)",
                    b.seq, b.reason
                )?;
                return Ok(exit::FAILURE);
            }
            let n = store.prune(retain_days, now)?;
            let after = store.verify()?;
            writeln!(
                out,
                "pruned {n} records finished more than {retain_days} days ago; {} kept, chain verifies from record {}",
                after.checked,
                after.anchor_seq + 1
            )?;
            Ok(if after.ok() { exit::OK } else { exit::FAILURE })
        }
        None if args.summary => {
            let s = store.summary(&query)?;
            let mut rows = Rows::new(vec!["action", "outcome", "count"]);
            for (action, outcome, n) in s {
                let j = json!({"action": action, "outcome": outcome, "count": n});
                rows.push(vec![action, outcome.to_string(), n.to_string()], Some(j));
            }
            rows.write(args.output, out)?;
            Ok(exit::OK)
        }
        None => {
            // Each record is written as SQLite reads it (newest first, from the time index):
            // memory stays flat however many match.
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
            let mut sink = RecordSink::new(args.output, &mut out)?;
            let shown = store.query_each(&query, |r| sink.push(&r))?;
            sink.finish()?;
            out.flush()?;
            if args.limit > 0 && shown == args.limit as u64 {
                let total = store.count_matching(&query)?;
                if total > shown {
                    writeln!(err, "showed the newest {shown} of {total} matching records (--limit N, 0 for all)")?;
                }
            }
            Ok(exit::OK)
        }
    }
}

fn build_query(args: &ReportArgs, now: OffsetDateTime) -> Result<ReportQuery, String> {
    let time = |flag: &str, v: &Option<String>| -> Result<Option<OffsetDateTime>, String> {
        v.as_deref().map(|s| parse_time(s, now).map_err(|e| format!("--{flag}: {e}"))).transpose()
    };
    let since = time("since", &args.since)?;
    let until = time("until", &args.until)?;
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(format!("--since ({}) is not before --until ({})", format_time(s), format_time(u)));
    }
    let nonempty = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    Ok(ReportQuery {
        user: nonempty(&args.user),
        user_contains: false,
        action: nonempty(&args.action),
        outcome: args.outcome,
        profile: nonempty(&args.profile),
        since,
        until,
        batch: nonempty(&args.batch),
        limit: (args.limit > 0).then_some(args.limit),
    })
}

/// Write records as a table (for people), JSON lines or CSV (every field).
pub fn write_records(records: &[StoredRecord], format: OutputFormat, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut sink = RecordSink::new(format, out)?;
    for r in records {
        sink.push(r)?;
    }
    sink.finish()
}

/// Records written one by one as a table, JSON lines or CSV; a table in pages of
/// [`TABLE_PAGE`] records (column widths as `output::RowStream` sets them).
pub struct RecordSink<'a> {
    format: OutputFormat,
    table: Option<RowStream<'a>>,
    csv: Option<csv::Writer<&'a mut dyn Write>>,
    out: Option<&'a mut dyn Write>,
}

pub const TABLE_PAGE: u64 = 1000;
const TABLE_HEADERS: [&str; 10] = ["seq", "finished", "action", "target", "outcome", "http", "error", "profile", "batch", "by"];

impl<'a> RecordSink<'a> {
    pub fn new(format: OutputFormat, out: &'a mut dyn Write) -> anyhow::Result<Self> {
        let mut sink = RecordSink { format, table: None, csv: None, out: None };
        match format {
            OutputFormat::Table => sink.table = Some(RowStream::new(OutputFormat::Table, TABLE_HEADERS.to_vec(), out)),
            OutputFormat::Csv => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record(interchange::CSV_HEADERS)?;
                sink.csv = Some(w);
            }
            OutputFormat::Json => sink.out = Some(out),
        }
        Ok(sink)
    }

    pub fn push(&mut self, s: &StoredRecord) -> anyhow::Result<()> {
        match self.format {
            OutputFormat::Table => {
                let t = self.table.as_mut().expect("a table sink has a table");
                t.push(table_row(s), None)?;
                if t.rows().is_multiple_of(TABLE_PAGE) {
                    t.end_page()?;
                }
            }
            OutputFormat::Csv => {
                let w = self.csv.as_mut().expect("a CSV sink has a writer");
                w.write_record(interchange::csv_row(s).iter().map(|c| crate::output::csv_cell(c)))?;
            }
            // Records hold server text (error messages, names): escaped, never raw, on a terminal.
            OutputFormat::Json => crate::output::write_json_line(*self.out.as_mut().expect("a JSON sink has an output"), s)?,
        }
        Ok(())
    }

    pub fn finish(self) -> anyhow::Result<()> {
        if let Some(t) = self.table {
            t.finish()?;
        }
        if let Some(mut w) = self.csv {
            w.flush()?;
        }
        if let Some(o) = self.out {
            o.flush()?;
        }
        Ok(())
    }
}

fn table_row(s: &StoredRecord) -> Vec<String> {
    let r = &s.record;
    let target = r
        .target_email
        .as_ref()
        .or(r.target_user_name.as_ref())
        .or(r.target_display.as_ref())
        .or(r.target_id.as_ref())
        .cloned()
        .unwrap_or_default();
    let error = match (&r.error_code, &r.error_message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.clone(),
        (None, Some(m)) => m.clone(),
        (None, None) => String::new(),
    };
    vec![
        s.seq.to_string(),
        format_time(r.finished_at),
        r.action.clone(),
        target,
        r.outcome.to_string(),
        r.http_status.map(|h| h.to_string()).unwrap_or_default(),
        error,
        r.profile.clone(),
        r.batch_id.clone().or_else(|| r.policy_run.clone()).unwrap_or_default(),
        format!("{}@{}", r.os_user, r.os_host),
    ]
}

fn write_verify(v: &crate::report::VerifyReport, format: OutputFormat, out: &mut dyn Write) -> anyhow::Result<()> {
    match format {
        OutputFormat::Table => match &v.broken {
            None => writeln!(
                out,
                "ok: {} verified (records {}..{}), head hash {}",
                crate::words::count(v.checked as usize, "record"),
                v.anchor_seq + 1,
                v.head_seq,
                v.head_hash
            )?,
            Some(b) => writeln!(
                out,
                "BROKEN at record {}: {} ({} before it verified)",
                b.seq,
                b.reason,
                crate::words::count(v.checked as usize, "record")
            )?,
        },
        OutputFormat::Json => {
            crate::output::write_json_line(out, v)?;
        }
        OutputFormat::Csv => {
            let (seq, reason) = v.broken.as_ref().map(|b| (b.seq.to_string(), b.reason.clone())).unwrap_or_default();
            let row = vec![
                v.ok().to_string(),
                v.checked.to_string(),
                v.anchor_seq.to_string(),
                v.head_seq.to_string(),
                v.head_hash.clone(),
                seq,
                reason,
            ];
            crate::output::write_csv(&["ok", "checked", "anchor_seq", "head_seq", "head_hash", "broken_seq", "reason"], &[row], out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_time_is_usage_error_naming_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let args = ReportArgs {
            cmd: None,
            user: None,
            action: None,
            outcome: None,
            profile: None,
            since: Some("yesterday".into()),
            config_retain_days: None,
            until: None,
            batch: None,
            limit: 10,
            summary: false,
            output: OutputFormat::Table,
            db: Some(dir.path().join("r.db")),
            store: None,
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(run(args, &mut out, &mut err), exit::USAGE);
        let err = String::from_utf8(err).unwrap();
        assert!(err.contains("--since") && err.contains("\"yesterday\""), "{err}");
    }
}
