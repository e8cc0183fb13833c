//! Data output of the headless commands: `--output table|json|csv`.
//!
//! `table` is for people (aligned columns, text sanitised); `json` writes one JSON object per line
//! (JSON lines, easy to stream into `jq`); `csv` writes a header row and RFC 4180 quoting.
//!
//! Listings stream through [`RowStream`]: CSV and JSON rows go out as they are pushed, a table
//! page by page. A streamed table's column widths are set by its first page (header included)
//! and only ever grow: a wider cell in a later page widens its column from that page on, so no
//! cell is cut and memory holds one page, at the price of a column shifting between pages.

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

/// A CSV cell as every `--output csv` writes it: cleaned of escapes and invisible characters (tabs
/// and line breaks kept: CSV quotes them), and neutralised for spreadsheets (a cell beginning with
/// `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`; see
/// `strict_csv::neutralise`).
pub fn csv_cell(c: &str) -> String {
    let clean = crate::sanitize::clean_keep_lines(c);
    crate::strict_csv::neutralise(&clean).into_owned()
}

pub fn write_csv(headers: &[&str], rows: &[Vec<String>], out: &mut dyn Write) -> io::Result<()> {
    // Cells are sanitised too: CSV often lands on a terminal, and an escape sequence in a
    // server-supplied name must not reach it.
    let mut w = csv::Writer::from_writer(out);
    w.write_record(headers)?;
    for r in rows {
        w.write_record(r.iter().map(|c| csv_cell(c)))?;
    }
    w.flush()
}

pub fn write_table(headers: &[&str], rows: &[Vec<String>], out: &mut dyn Write) -> io::Result<()> {
    let mut t = RowStream::new(OutputFormat::Table, headers.to_vec(), out);
    for r in rows {
        t.push(r.clone(), None)?;
    }
    t.finish()
}

/// Rows written as they come (see the module notes): push each row, end each page, finish once.
/// The header goes out with the first page (or at `finish` when there were no rows); every page
/// ends with a flush, so a pipe reader sees the rows of a page as soon as it is written.
pub struct RowStream<'a> {
    format: OutputFormat,
    headers: Vec<&'a str>,
    out: &'a mut dyn Write,
    /// The table rows of the current page, cleaned.
    page: Vec<Vec<String>>,
    widths: Option<Vec<usize>>,
    started: bool,
    rows: u64,
}

impl<'a> RowStream<'a> {
    pub fn new(format: OutputFormat, headers: Vec<&'a str>, out: &'a mut dyn Write) -> Self {
        RowStream { format, headers, out, page: Vec::new(), widths: None, started: false, rows: 0 }
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// One row; `json` is its `--output json` form (an object of the columns when `None`).
    pub fn push(&mut self, row: Vec<String>, json: Option<&Value>) -> io::Result<()> {
        debug_assert_eq!(row.len(), self.headers.len());
        self.rows += 1;
        match self.format {
            OutputFormat::Table => {
                self.page.push(row.iter().map(|c| crate::sanitize::clean(c)).collect());
                Ok(())
            }
            OutputFormat::Csv => {
                self.start()?;
                let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(&mut *self.out);
                w.write_record(row.iter().map(|c| csv_cell(c)))?;
                w.flush()
            }
            OutputFormat::Json => match json {
                Some(j) => write_json_line(self.out, j),
                None => {
                    let obj: serde_json::Map<String, Value> =
                        self.headers.iter().zip(&row).map(|(h, v)| (h.to_string(), Value::from(v.as_str()))).collect();
                    write_json_line(self.out, &obj)
                }
            },
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        match self.format {
            OutputFormat::Csv => {
                let mut w = csv::Writer::from_writer(&mut *self.out);
                w.write_record(&self.headers)?;
                w.flush()
            }
            OutputFormat::Table => {
                let header: Vec<String> = self.headers.iter().map(|h| h.to_uppercase()).collect();
                self.table_line(&header)
            }
            OutputFormat::Json => Ok(()),
        }
    }

    fn table_line(&mut self, cells: &[String]) -> io::Result<()> {
        use unicode_width::UnicodeWidthStr;
        let widths = self.widths.as_ref().expect("widths are set before a table line");
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            s.push_str(c);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(widths[i].saturating_sub(c.width()) + 2));
            }
        }
        writeln!(self.out, "{}", s.trim_end())
    }

    /// The end of a page: a table's rows go out; everything is flushed.
    pub fn end_page(&mut self) -> io::Result<()> {
        use unicode_width::UnicodeWidthStr;
        if self.format == OutputFormat::Table && (!self.page.is_empty() || !self.started) {
            let widths = self.widths.get_or_insert_with(|| self.headers.iter().map(|h| h.width()).collect());
            for r in &self.page {
                for (i, c) in r.iter().enumerate() {
                    widths[i] = widths[i].max(c.width());
                }
            }
            self.start()?;
            for r in std::mem::take(&mut self.page) {
                self.table_line(&r)?;
            }
        }
        self.out.flush()
    }

    /// After the last page: the header if nothing was written yet, then a flush.
    pub fn finish(mut self) -> io::Result<()> {
        self.end_page()?;
        self.start()?;
        self.out.flush()
    }
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
