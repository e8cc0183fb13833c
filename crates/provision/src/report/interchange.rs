//! Reports as files: every field of a record as CSV (a header and one row per record) or as JSON
//! lines, and both read back to the same records. `scimitar report --output csv|json` and the
//! console's Reports export write these.

use super::{StoredRecord, format_time};
use std::io::{Read, Write};
use time::OffsetDateTime;

/// Every field, in CSV column order. (A file written before migration 7 has the first 24 and
/// reads back too.)
pub const CSV_HEADERS: [&str; 27] = [
    "seq",
    "started_at",
    "finished_at",
    "profile",
    "host",
    "action",
    "target_id",
    "target_email",
    "target_user_name",
    "target_display",
    "outcome",
    "error_code",
    "error_message",
    "http_status",
    "retries",
    "duration_ms",
    "batch_id",
    "policy_run",
    "op_id",
    "os_user",
    "os_host",
    "detail",
    "prev_hash",
    "hash",
    "db_role",
    "proposed_by",
    "approved_by",
];

pub fn csv_row(s: &StoredRecord) -> Vec<String> {
    let r = &s.record;
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    vec![
        s.seq.to_string(),
        format_time(r.started_at),
        format_time(r.finished_at),
        r.profile.clone(),
        r.host.clone(),
        r.action.clone(),
        o(&r.target_id),
        o(&r.target_email),
        o(&r.target_user_name),
        o(&r.target_display),
        r.outcome.to_string(),
        o(&r.error_code),
        o(&r.error_message),
        r.http_status.map(|s| s.to_string()).unwrap_or_default(),
        r.retries.to_string(),
        r.duration_ms.to_string(),
        o(&r.batch_id),
        o(&r.policy_run),
        r.op_id.clone(),
        r.os_user.clone(),
        r.os_host.clone(),
        r.detail.as_ref().map(|d| d.to_string()).unwrap_or_default(),
        s.prev_hash.clone(),
        s.hash.clone(),
        o(&r.db_role),
        o(&r.proposed_by),
        o(&r.approved_by),
    ]
}

/// A report file that cannot be written or read back (names the line and, for CSV, the column).
#[derive(Debug, thiserror::Error)]
pub enum InterchangeError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unexpected CSV header; expected {}", CSV_HEADERS.join(","))]
    Header,
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
}

/// Every field of every record as CSV (cells cleaned of escape sequences; line breaks kept, quoted).
pub fn write_csv(records: &[StoredRecord], out: &mut dyn Write) -> Result<(), InterchangeError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_HEADERS)?;
    for s in records {
        // Cleaned for a terminal, neutralised for a spreadsheet (`read_csv` undoes it).
        w.write_record(csv_row(s).iter().map(|c| crate::strict_csv::neutralise(&scim::sanitize::clean_keep_lines(c)).into_owned()))?;
    }
    w.flush()?;
    Ok(())
}

/// One JSON object per record and line, every field.
pub fn write_json_lines(records: &[StoredRecord], out: &mut dyn Write) -> Result<(), InterchangeError> {
    for s in records {
        // Records hold server text (error messages, names): escaped, never raw, on a terminal.
        crate::scim::sanitize::write_json(&mut *out, s)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Read records written by `--output json`.
pub fn read_json_lines(input: impl Read) -> Result<Vec<StoredRecord>, InterchangeError> {
    use std::io::BufRead;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(input).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).map_err(|e| InterchangeError::Line { line: i + 1, message: e.to_string() })?);
    }
    Ok(out)
}

/// Read records written by `--output csv`.
pub fn read_csv(input: impl Read) -> Result<Vec<StoredRecord>, InterchangeError> {
    use time::format_description::well_known::Rfc3339;
    let mut rdr = csv::Reader::from_reader(input);
    let headers = rdr.headers()?.clone();
    if headers.iter().ne(CSV_HEADERS.iter().copied()) && headers.iter().ne(CSV_HEADERS[..24].iter().copied()) {
        return Err(InterchangeError::Header);
    }
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec?;
        let parse = || -> Result<StoredRecord, Box<dyn std::error::Error + Send + Sync>> {
            let f = |n: usize| crate::strict_csv::restore(rec.get(n).unwrap_or("")).to_string();
            let o = |n: usize| Some(f(n)).filter(|s| !s.is_empty());
            let t = |n: usize| OffsetDateTime::parse(&f(n), &Rfc3339).map_err(|e| format!("column {}: {e}", CSV_HEADERS[n]));
            Ok(StoredRecord {
                seq: f(0).parse()?,
                record: super::OperationRecord {
                    started_at: t(1)?,
                    finished_at: t(2)?,
                    profile: f(3),
                    host: f(4),
                    action: f(5),
                    target_id: o(6),
                    target_email: o(7),
                    target_user_name: o(8),
                    target_display: o(9),
                    outcome: f(10).parse::<super::Outcome>()?,
                    error_code: o(11),
                    error_message: o(12),
                    http_status: o(13).map(|s| s.parse()).transpose()?,
                    retries: f(14).parse()?,
                    duration_ms: f(15).parse()?,
                    batch_id: o(16),
                    policy_run: o(17),
                    op_id: f(18),
                    os_user: f(19),
                    os_host: f(20),
                    detail: o(21).map(|d| serde_json::from_str(&d)).transpose()?,
                    db_role: o(24),
                    proposed_by: o(25),
                    approved_by: o(26),
                },
                prev_hash: f(22),
                hash: f(23),
            })
        };
        out.push(parse().map_err(|e| InterchangeError::Line { line, message: e.to_string() })?);
    }
    Ok(out)
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::report::{OperationRecord, Outcome};
    use proptest::prelude::*;

    /// Text a CSV cell keeps as it is (`write_csv` cleans escape sequences, controls other than
    /// tabs and line breaks, bidi and invisible characters from cells).
    fn cell() -> impl Strategy<Value = String> + Clone {
        prop_oneof!["[a-zé日 ,;\"'\r\n\t{}:=-]{0,12}", any::<String>().prop_map(|s| scim::sanitize::clean_keep_lines(&s))]
    }

    fn opt(s: impl Strategy<Value = String>) -> impl Strategy<Value = Option<String>> {
        proptest::option::of(s.prop_filter("non-empty (empty reads back as none)", |s| !s.is_empty()))
    }

    fn time() -> impl Strategy<Value = OffsetDateTime> {
        (0i64..4_102_444_800, 0u32..1_000_000_000)
            .prop_map(|(s, ns)| OffsetDateTime::from_unix_timestamp(s).unwrap() + time::Duration::nanoseconds(ns.into()))
    }

    fn record(text: impl Strategy<Value = String> + Clone) -> impl Strategy<Value = StoredRecord> {
        let ids = (opt(text.clone()), opt(text.clone()), opt(text.clone()), opt(text.clone()), opt(text.clone()), opt(text.clone()));
        let names = (text.clone(), text.clone(), text.clone(), text.clone(), text.clone(), text.clone(), text.clone(), text.clone());
        let nums = (any::<i64>(), proptest::option::of(any::<u16>()), any::<u32>(), any::<u64>(), 0..4usize, time(), time());
        let detail = proptest::option::of(proptest::collection::btree_map(text.clone(), text.clone(), 0..3));
        (ids, names, nums, (opt(text.clone()), opt(text), detail)).prop_map(
            |(
                (tid, temail, tname, tdisp, code, msg),
                (profile, host, action, op_id, os_user, os_host, hash, prev_hash),
                nums,
                (batch, run, detail),
            )| {
                let (seq, http_status, retries, duration_ms, outcome, started_at, finished_at) = nums;
                let batch_role = batch.as_ref().map(|b| format!("ann@{b}"));
                StoredRecord {
                    seq,
                    record: OperationRecord {
                        op_id,
                        batch_id: batch,
                        policy_run: run,
                        started_at,
                        finished_at,
                        profile,
                        host,
                        action,
                        target_id: tid,
                        target_email: temail,
                        target_user_name: tname,
                        target_display: tdisp,
                        outcome: Outcome::ALL[outcome],
                        error_code: code,
                        error_message: msg,
                        http_status,
                        retries,
                        duration_ms,
                        os_user,
                        os_host,
                        detail: detail.map(|m| serde_json::to_value(m).unwrap()),
                        db_role: None,
                        proposed_by: batch_role.clone(),
                        approved_by: None,
                    },
                    // Its own text: a reversed cleaned text need not be clean (a presentation
                    // selector after its base comes before it), which the CSV then cleans.
                    prev_hash,
                    hash,
                }
            },
        )
    }

    proptest! {
        /// `report --output json` read back gives the very records, whatever their text holds
        /// (escape sequences, bidi controls, line breaks: escaped on the way out, restored).
        #[test]
        fn json_lines_round_trip(records in proptest::collection::vec(record(any::<String>()), 0..4)) {
            let mut out = Vec::new();
            write_json_lines(&records, &mut out).unwrap();
            prop_assert_eq!(read_json_lines(out.as_slice()).unwrap(), records);
        }

        /// `report --output csv` read back gives the same records (for text the CSV keeps:
        /// quotes, commas, line breaks, tabs, any printable Unicode).
        #[test]
        fn csv_round_trip(records in proptest::collection::vec(record(cell()), 0..4)) {
            let mut out = Vec::new();
            write_csv(&records, &mut out).unwrap();
            prop_assert_eq!(read_csv(out.as_slice()).unwrap(), records);
        }
    }
}
