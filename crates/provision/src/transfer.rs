//! `scimitar store migrate --to URL`: copy an account's SQLite history (journal, kept snapshots,
//! provisioning report with its hash chain, sync state and runs, approvals) into a team's PostgreSQL store,
//! so that `report verify` passes on the copy with the same head hash.
//!
//! Everything is copied as stored (the report's `seq`, names ids and hashes included: the chain
//! is not recomputed, it is carried over), in one transaction on the target (all or nothing),
//! and the copy is then verified there (the chain, and the four-eyes approvals: the same rows, each
//! matching its proposal in the copied chain). The lease is not copied (it belongs to a run). A target
//! that already holds records or batches is refused: histories are not merged.

use crate::store::{Row, Sql, Store, StoreError, Value, ValueRef};

/// What was copied.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TransferReport {
    pub tables: Vec<(String, u64)>,
    /// The copy's `report verify`: records checked and the head.
    pub verified: u64,
    pub head_seq: i64,
    pub head_hash: String,
    /// Approvals copied, each verified against its proposal in the copied chain.
    pub approvals: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error("the target store already holds {0}; `store migrate` copies into an empty store only (histories are not merged)")]
    NotEmpty(String),
    #[error("the source report does not verify ({0}); run `scimitar report verify` and fix that first")]
    SourceBroken(String),
    #[error("the copy does not verify: {0}")]
    CopyBroken(String),
    #[error("record {seq}: its {what} is not a hash (a hand edit?); it cannot be copied")]
    BadHash { seq: i64, what: &'static str },
    #[error("the approvals: {0}")]
    Approval(#[from] crate::approval::ApprovalError),
}

/// Tables in copy order (parents first) and their columns.
const TABLES: &[(&str, &str)] = &[
    ("report_names", "id, host, target_id, target_email, target_user_name, target_display, os_user, os_host, email_key, user_name_key"),
    (
        "report",
        "seq, op_id, batch_id, policy_run, started_ms, finished_ms, profile, action, outcome, error_code, error_message, http_status, \
         retries, duration_ms, detail, names_id, prev_hash, hash, host, target_id, target_email, target_user_name, target_display, os_user, \
         os_host, email_key, user_name_key, db_role, proposed_by, approved_by",
    ),
    (
        "batch",
        "batch_id, created_ms, origin, policy_run, description, profile, host, state, org, lease_generation, proposed_by, approved_by",
    ),
    (
        "op",
        "op_id, batch_id, seq, phase, action, object_key, state, attempts, started_ms, finished_ms, error_code, error_message, http_status, \
         retries, note",
    ),
    ("kept", "op_id, batch_id, user_id, taken_ms, source, groups, roles"),
    (
        "sync_state",
        "profile, policy, quarantined_ms, quarantine_kind, quarantine_reason, quarantine_run, held, running_run, running_pid, next_run_ms, \
         last_success_ms, released_ms, released_by",
    ),
    ("sync_run", "seq, profile, policy, run_id, started_ms, finished_ms, result, message, counts"),
    ("approval", crate::approval::COLUMNS),
];

/// Rows per INSERT statement.
const CHUNK: usize = 200;

/// Copy `from` (an SQLite store) into `to` (an empty store) and verify the copy.
pub fn copy(from: &Store, to: &Store, mut progress: impl FnMut(&str, u64)) -> Result<TransferReport, TransferError> {
    let source = from.with(|s| crate::report::verify_in(s))?;
    if let Some(b) = &source.broken {
        return Err(TransferError::SourceBroken(format!("record {}: {}", b.seq, b.reason)));
    }
    // The approvals as the source holds them (each checked against its proposal in the chain).
    let approvals = from.with(|s| crate::approval::fingerprint_in(s))?;
    let mut report = TransferReport::default();
    to.write(|t| {
        for what in ["report", "batch", "approval"] {
            let n = t.int(&format!("SELECT count(*) FROM {what}"), &[])?;
            if n > 0 {
                return Err(TransferError::NotEmpty(format!("{n} rows in {what}")));
            }
        }
        for (table, cols) in TABLES {
            let n = copy_table(from, t, table, cols)?;
            progress(table, n);
            report.tables.push((table.to_string(), n));
        }
        let chain = from.with(|s| {
            s.first("SELECT head_seq, head_hash, anchor_seq, anchor_hash, pruned_at_ms FROM report_chain WHERE id = 1", &[], |r| {
                Ok([r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)].map(Value::from))
            })
        })?;
        if let Some(chain) = chain {
            t.execute(
                "UPDATE report_chain SET head_seq = ?1, head_hash = ?2, anchor_seq = ?3, anchor_hash = ?4, pruned_at_ms = ?5 WHERE id = 1",
                &chain,
            )?;
        }
        if t.dialect() == crate::store::Dialect::Postgres {
            // the identity columns go on after the copied ids
            for (table, col) in [("report_names", "id"), ("sync_run", "seq")] {
                t.batch(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', '{col}'), (SELECT coalesce(max({col}), 0) + 1 FROM {table}), false)"
                ))?;
            }
        }
        let v = crate::report::verify_in(t)?;
        if let Some(b) = &v.broken {
            return Err(TransferError::CopyBroken(format!("record {}: {}", b.seq, b.reason)));
        }
        if v.head_hash != source.head_hash || v.checked != source.checked {
            return Err(TransferError::CopyBroken(format!(
                "{} records with head {} copied, the source has {} with head {}",
                v.checked, v.head_hash, source.checked, source.head_hash
            )));
        }
        // The approvals: the same rows, each still matching its proposal in the copied chain.
        let copied = crate::approval::fingerprint_in(t).map_err(|e| TransferError::CopyBroken(e.to_string()))?;
        if copied != approvals {
            return Err(TransferError::CopyBroken(format!(
                "{} approvals copied ({}), the source has {} ({})",
                copied.0, copied.1, approvals.0, approvals.1
            )));
        }
        report.approvals = copied.0;
        report.verified = v.checked;
        report.head_seq = v.head_seq;
        report.head_hash = v.head_hash;
        Ok(())
    })?;
    Ok(report)
}

/// Copy one table in chunks of [`CHUNK`] rows; returns the rows copied.
fn copy_table(from: &Store, t: &mut dyn Sql, table: &str, cols: &str) -> Result<u64, TransferError> {
    let ncols = cols.split(',').count();
    let order = cols.split(',').next().unwrap_or("1").trim();
    let mut rows: Vec<Vec<Value>> = Vec::new();
    let mut n = 0u64;
    let mut failed: Option<TransferError> = None;
    let flush = |t: &mut dyn Sql, rows: &mut Vec<Vec<Value>>| -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut sql = format!("INSERT INTO {table} ({cols}");
        if table == "report_names" {
            sql.push_str(", names_key");
        }
        sql.push_str(") VALUES ");
        let width = ncols + usize::from(table == "report_names");
        let mut params = Vec::with_capacity(rows.len() * width);
        for (i, row) in rows.iter_mut().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..width {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("?{}", i * width + c + 1));
            }
            sql.push(')');
            params.append(row);
        }
        t.execute(&sql, &params)?;
        rows.clear();
        Ok(())
    };
    let r = from.with(|s| {
        s.each(&format!("SELECT {cols} FROM {table} ORDER BY {order}"), &[], &mut |r| {
            match row_values(table, r, ncols) {
                Ok(v) => rows.push(v),
                Err(e) => {
                    failed = Some(e);
                    return Err(StoreError::Stopped);
                }
            }
            n += 1;
            if rows.len() >= CHUNK {
                flush(t, &mut rows)?;
            }
            Ok(())
        })
    });
    if let Some(e) = failed {
        return Err(e);
    }
    r?;
    flush(t, &mut rows)?;
    Ok(n)
}

/// A row's values as the target stores them: the report's hashes as 32 bytes, `report_names`
/// with its key.
fn row_values(table: &str, r: &dyn Row, ncols: usize) -> Result<Vec<Value>, TransferError> {
    let mut v: Vec<Value> = (0..ncols).map(|i| Value::from(r.get(i))).collect();
    if table == "report" {
        let seq = match r.get(0) {
            ValueRef::Integer(s) => s,
            _ => 0,
        };
        for (i, what) in [(16, "prev_hash"), (17, "hash")] {
            v[i] = match &v[i] {
                Value::Blob(b) if b.len() == 32 => Value::Blob(b.clone()),
                Value::Text(t) => match hex::decode(t) {
                    Ok(b) if b.len() == 32 => Value::Blob(b),
                    _ => return Err(TransferError::BadHash { seq, what }),
                },
                _ => return Err(TransferError::BadHash { seq, what }),
            };
        }
    }
    if table == "report_names" {
        v.push(Value::Blob(crate::report::names_key(&v[1..]).to_vec()));
    }
    Ok(v)
}
