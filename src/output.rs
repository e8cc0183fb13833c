//! Data output of the headless commands: `--output table|json|csv`.
//!
//! `table` is for people (aligned columns, text sanitised); `json` writes one JSON object per line
//! (JSON lines, easy to stream into `jq`); `csv` writes a header row and RFC 4180 quoting.

use serde_json::Value;
use std::io::{self, Write};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
    Csv,
}

/// Rows of data with named columns, plus a JSON form for each row.
pub struct Rows {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    /// One JSON value per row for `--output json`; when empty, an object is built from the columns.
    pub json: Vec<Value>,
}

impl Rows {
    pub fn new(headers: Vec<&'static str>) -> Self {
        Rows { headers, rows: Vec::new(), json: Vec::new() }
    }

    pub fn push(&mut self, row: Vec<String>, json: Option<Value>) {
        debug_assert_eq!(row.len(), self.headers.len());
        self.rows.push(row);
        if let Some(j) = json {
            self.json.push(j);
        }
    }

    pub fn write(&self, format: OutputFormat, out: &mut dyn Write) -> io::Result<()> {
        match format {
            OutputFormat::Table => write_table(&self.headers, &self.rows, out),
            OutputFormat::Csv => write_csv(&self.headers, &self.rows, out),
            OutputFormat::Json => {
                if self.json.len() == self.rows.len() && !self.json.is_empty() {
                    for j in &self.json {
                        write_json_line(out, j)?;
                    }
                } else {
                    for r in &self.rows {
                        let obj: serde_json::Map<String, Value> =
                            self.headers.iter().zip(r).map(|(h, v)| (h.to_string(), Value::from(v.as_str()))).collect();
                        write_json_line(out, &obj)?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// One JSON line of `--output json`: every string goes through the sanitiser's JSON formatter, so
/// control, bidi and invisible characters arrive as `\uXXXX` escapes (the data is intact for
/// `jq`; a plain `cat` shows nothing raw).
pub fn write_json_line<T: serde::Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> io::Result<()> {
    crate::sanitize::write_json(&mut *out, value)?;
    out.write_all(b"\n")
}

pub fn write_csv(headers: &[&str], rows: &[Vec<String>], out: &mut dyn Write) -> io::Result<()> {
    // Cells are sanitised too: CSV often lands on a terminal, and an escape sequence in a
    // server-supplied name must not reach it.
    let mut w = csv::Writer::from_writer(out);
    w.write_record(headers)?;
    for r in rows {
        w.write_record(r.iter().map(|c| crate::sanitize::clean_keep_lines(c)))?;
    }
    w.flush()
}

pub fn write_table(headers: &[&str], rows: &[Vec<String>], out: &mut dyn Write) -> io::Result<()> {
    use unicode_width::UnicodeWidthStr;
    let clean: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| crate::sanitize::clean(c)).collect()).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.width()).collect();
    for r in &clean {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.width());
        }
    }
    let line = |cells: Vec<&str>, out: &mut dyn Write| -> io::Result<()> {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i] - c.width() + 2));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(headers.iter().map(|h| h.to_uppercase()).collect::<Vec<_>>().iter().map(String::as_str).collect(), out)?;
    for r in &clean {
        line(r.iter().map(String::as_str).collect(), out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_table_sanitises() {
        let mut rows = Rows::new(vec!["name", "email"]);
        rows.push(vec!["Doe, \"Jane\"".into(), "j@x\u{1b}[31m".into()], None);
        let mut csv = Vec::new();
        rows.write(OutputFormat::Csv, &mut csv).unwrap();
        assert_eq!(String::from_utf8(csv).unwrap(), "name,email\n\"Doe, \"\"Jane\"\"\",j@x\n");
        let mut t = Vec::new();
        rows.write(OutputFormat::Table, &mut t).unwrap();
        let t = String::from_utf8(t).unwrap();
        assert!(t.starts_with("NAME"));
        assert!(!t.contains('\u{1b}'));
        let mut j = Vec::new();
        rows.write(OutputFormat::Json, &mut j).unwrap();
        let v: Value = serde_json::from_slice(&j).unwrap();
        assert_eq!(v["name"], "Doe, \"Jane\"");
        assert!(!String::from_utf8(j).unwrap().contains('\u{1b}'), "json escapes ESC");
    }
}
