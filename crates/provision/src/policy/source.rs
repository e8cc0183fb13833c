//! Reading a directory export: CSV, a JSON array of objects, or JSON lines.
//!
//! Rows share one header (the column names); each row keeps its values in one string buffer with
//! end offsets, so 100,000 rows of a dozen columns cost a few tens of megabytes rather than one
//! allocation per cell. JSON objects may have different keys: the header is the union of keys in
//! first-seen order, nested objects become dotted columns (`manager.email`), arrays of scalars are
//! joined with the groups separator, `null` is empty.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The file formats a source can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    Csv,
    /// A JSON array of objects, or JSON lines (detected from the first character).
    Json,
    /// One JSON object per line.
    Jsonl,
}

impl SourceFormat {
    /// The format a file name suggests (`.csv`, `.json`, `.jsonl`/`.ndjson`).
    pub fn from_path(path: &Path) -> Option<SourceFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" | "txt" => Some(SourceFormat::Csv),
            "json" => Some(SourceFormat::Json),
            "jsonl" | "ndjson" => Some(SourceFormat::Jsonl),
            _ => None,
        }
    }
}

/// A problem with a source file, naming the file and (when known) the line and column.
#[derive(Debug, thiserror::Error)]
#[error("{}{}", self.brief(), quote_suffix(.quote))]
pub struct SourceError {
    pub file: String,
    /// 1-based line (CSV, JSON lines) or record number (JSON array).
    pub line: Option<usize>,
    /// 1-based character column, when the error is a syntax error at a known place.
    pub column: Option<usize>,
    /// What is wrong, without the file's own text.
    pub message: String,
    /// What the file holds there (its columns, a key), as a short cleaned excerpt: shown on the
    /// terminal, never recorded or alerted ([`SourceError::brief`]). A source path may point at
    /// a file that is no export at all: a token or a password file.
    pub quote: Option<String>,
}

impl SourceError {
    fn new(file: &str, line: Option<usize>, message: impl Into<String>) -> Self {
        SourceError { file: file.to_string(), line, column: None, message: message.into(), quote: None }
    }

    fn quoting(mut self, quote: String) -> Self {
        self.quote = Some(quote);
        self
    }

    /// The message without what the file holds (for the sync's record and alerts).
    pub fn brief(&self) -> String {
        let line = self.line.map(|l| format!(":{l}")).unwrap_or_default();
        let column = self.column.map(|c| format!(":{c}")).unwrap_or_default();
        format!("{}{line}{column}: {}", self.file, self.message)
    }
}

/// ` (QUOTE)` after a message, or nothing.
pub fn quote_suffix(quote: &Option<String>) -> String {
    quote.as_deref().map(|q| format!(" ({q})")).unwrap_or_default()
}

/// The most columns, and characters of one, an error quotes from a source's header.
const QUOTED_COLUMNS: usize = 12;
const QUOTED_CHARS: usize = 32;

/// `columns: a, b, c` from a source's header: at most [`QUOTED_COLUMNS`] names, each cleaned
/// and cut to [`QUOTED_CHARS`] characters, so an error never carries more than a short excerpt
/// of a file (which may be something else than an export: a secret's first line).
pub fn columns_excerpt(headers: &[String]) -> String {
    let mut shown: Vec<String> = headers.iter().take(QUOTED_COLUMNS).map(|h| cut(h)).collect();
    if headers.len() > QUOTED_COLUMNS {
        shown.push(format!("… {} in all", headers.len()));
    }
    format!("columns: {}", shown.join(", "))
}

fn cut(s: &str) -> String {
    let c = crate::scim::sanitize::clean(s);
    if c.chars().count() <= QUOTED_CHARS { c } else { format!("{}…", c.chars().take(QUOTED_CHARS).collect::<String>()) }
}

/// One record of the source. Values are indexed by the source's header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRow {
    /// 1-based line (CSV, JSON lines) or record number (JSON array), for messages.
    pub line: usize,
    buf: Box<str>,
    ends: Box<[u32]>,
}

impl SourceRow {
    /// Build a row from values in header order.
    pub fn new<S: AsRef<str>>(line: usize, values: &[S]) -> SourceRow {
        let mut buf = String::with_capacity(values.iter().map(|v| v.as_ref().len()).sum());
        let mut ends = Vec::with_capacity(values.len());
        for v in values {
            buf.push_str(v.as_ref());
            ends.push(buf.len() as u32);
        }
        SourceRow { line, buf: buf.into_boxed_str(), ends: ends.into_boxed_slice() }
    }

    /// The value of column `idx`; empty when the row is shorter than the header.
    pub fn get(&self, idx: usize) -> &str {
        if idx >= self.ends.len() {
            return "";
        }
        let start = if idx == 0 { 0 } else { self.ends[idx - 1] as usize };
        &self.buf[start..self.ends[idx] as usize]
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// Where the membership file's columns are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipSpec {
    pub path: PathBuf,
    /// Column holding the user's source key (the value of the source's id column).
    pub user_column: String,
    /// Column holding the group name.
    pub group_column: String,
}

/// How to read a source: the resolved `[source]` table of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSpec {
    pub path: PathBuf,
    pub format: Option<SourceFormat>,
    /// Separator used to join JSON arrays into one cell (the groups separator).
    pub array_separator: String,
    pub memberships: Option<MembershipSpec>,
}

/// A whole source: header, rows, and the optional separate memberships.
#[derive(Clone, Debug, Default)]
pub struct Source {
    /// The file name, for messages.
    pub name: String,
    pub headers: Vec<String>,
    index: HashMap<String, usize>,
    pub rows: Vec<SourceRow>,
    /// Memberships from a separate file: lowercased, trimmed user key -> group names.
    pub memberships: HashMap<String, Vec<String>>,
}

impl Source {
    /// Build a source from a header and rows (tests and the benchmark use this).
    pub fn new(name: impl Into<String>, headers: Vec<String>, rows: Vec<SourceRow>) -> Source {
        let index = build_index(&headers);
        Source { name: name.into(), headers, index, rows, memberships: HashMap::new() }
    }

    /// The index of a column: an exact name first, else a case-insensitive match.
    pub fn column(&self, name: &str) -> Option<usize> {
        if let Some(&i) = self.index.get(name) {
            return Some(i);
        }
        self.headers.iter().position(|h| h.eq_ignore_ascii_case(name))
    }

    /// Read the source (and its membership file) a spec describes.
    pub fn read(spec: &SourceSpec) -> Result<Source, SourceError> {
        let name = spec.path.display().to_string();
        let format = spec.format.or_else(|| SourceFormat::from_path(&spec.path)).ok_or_else(|| {
            SourceError::new(&name, None, "cannot tell the format from the file name; set `format` to csv, json or jsonl in [source]")
        })?;
        let file = File::open(&spec.path).map_err(|e| SourceError::new(&name, None, format!("cannot open: {e}")))?;
        let mut src = Source::from_reader(BufReader::with_capacity(1 << 16, file), format, &name, &spec.array_separator)?;
        if let Some(m) = &spec.memberships {
            src.memberships = read_memberships(m)?;
        }
        Ok(src)
    }

    /// Read a source from any reader.
    pub fn from_reader<R: BufRead>(reader: R, format: SourceFormat, name: &str, array_separator: &str) -> Result<Source, SourceError> {
        match format {
            SourceFormat::Csv => read_csv(reader, name),
            SourceFormat::Json | SourceFormat::Jsonl => read_json(reader, format, name, array_separator),
        }
    }
}

fn build_index(headers: &[String]) -> HashMap<String, usize> {
    let mut index = HashMap::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        index.entry(h.clone()).or_insert(i);
    }
    index
}

/// Strict CSV (see [`crate::strict_csv`]): an unclosed quote, text after a closing quote or a
/// quote inside an unquoted field is an error naming the line and column, never a silently
/// swallowed rest of the file (which would turn every later row into a deactivation).
fn read_csv<R: Read>(mut reader: R, name: &str) -> Result<Source, SourceError> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(|e| SourceError::new(name, None, format!("cannot read: {e}")))?;
    let text = crate::strict_csv::utf8(&bytes).map_err(|e| csv_error(name, e))?;
    let mut records = crate::strict_csv::records(text);
    let headers: Vec<String> = match records.next() {
        Some(Ok(h)) => h.fields.iter().map(|f| f.trim().to_string()).collect(),
        Some(Err(e)) => return Err(csv_error(name, e)),
        None => Vec::new(),
    };
    if headers.iter().all(|h| h.is_empty()) {
        return Err(SourceError::new(name, Some(1), "no header row"));
    }
    let mut rows = Vec::new();
    for rec in records {
        let rec = rec.map_err(|e| csv_error(name, e))?;
        if rec.is_blank() {
            continue;
        }
        if rec.len() > headers.len() {
            return Err(SourceError::new(name, Some(rec.line), format!("{} fields but the header has {}", rec.len(), headers.len())));
        }
        rows.push(SourceRow::new(rec.line, &rec.fields));
    }
    Ok(Source::new(name, headers, rows))
}

fn csv_error(name: &str, e: crate::strict_csv::CsvError) -> SourceError {
    SourceError { file: name.to_string(), line: Some(e.line), column: Some(e.column), message: e.message, quote: None }
}

/// Collect JSON objects into rows over a growing header.
struct JsonRows<'a> {
    name: &'a str,
    sep: &'a str,
    headers: Vec<String>,
    index: HashMap<String, usize>,
    rows: Vec<SourceRow>,
    scratch: Vec<String>,
}

impl JsonRows<'_> {
    fn push(&mut self, line: usize, v: Value) -> Result<(), SourceError> {
        let Value::Object(obj) = v else {
            return Err(SourceError::new(self.name, Some(line), "expected a JSON object"));
        };
        for s in &mut self.scratch {
            s.clear();
        }
        self.flatten("", obj, line)?;
        let n = self.scratch.iter().rposition(|s| !s.is_empty()).map_or(0, |i| i + 1);
        self.rows.push(SourceRow::new(line, &self.scratch[..n]));
        Ok(())
    }

    fn flatten(&mut self, prefix: &str, obj: serde_json::Map<String, Value>, line: usize) -> Result<(), SourceError> {
        for (k, v) in obj {
            let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
            if let Value::Object(inner) = v {
                self.flatten(&key, inner, line)?;
                continue;
            }
            let text = match v {
                Value::Null => String::new(),
                Value::String(s) => s,
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                Value::Array(items) => {
                    let mut parts = Vec::with_capacity(items.len());
                    for item in items {
                        parts.push(match item {
                            Value::String(s) => s,
                            Value::Number(n) => n.to_string(),
                            Value::Bool(b) => b.to_string(),
                            Value::Null => continue,
                            _ => {
                                return Err(SourceError::new(
                                    self.name,
                                    Some(line),
                                    "a key holds an array of objects or arrays: only arrays of plain values are supported",
                                )
                                .quoting(format!("key `{}`", cut(&key))));
                            }
                        });
                    }
                    parts.join(self.sep)
                }
                Value::Object(_) => unreachable!(),
            };
            let idx = match self.index.get(&key) {
                Some(&i) => i,
                None => {
                    self.headers.push(key.clone());
                    self.index.insert(key, self.headers.len() - 1);
                    self.scratch.push(String::new());
                    self.headers.len() - 1
                }
            };
            self.scratch[idx] = text;
        }
        Ok(())
    }
}

fn read_json<R: BufRead>(mut reader: R, format: SourceFormat, name: &str, sep: &str) -> Result<Source, SourceError> {
    let mut acc = JsonRows { name, sep, headers: Vec::new(), index: HashMap::new(), rows: Vec::new(), scratch: Vec::new() };
    // Peek at the first non-blank byte: `[` is an array, anything else is JSON lines.
    let is_array = format == SourceFormat::Json && {
        let buf = reader.fill_buf().map_err(|e| SourceError::new(name, None, e.to_string()))?;
        let first = buf.iter().copied().find(|b| !b.is_ascii_whitespace() && *b != 0xef && *b != 0xbb && *b != 0xbf);
        first == Some(b'[')
    };
    if is_array {
        let mut text = String::new();
        reader.read_to_string(&mut text).map_err(|e| SourceError::new(name, None, e.to_string()))?;
        let items: Vec<Value> = serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| SourceError {
            file: name.to_string(),
            line: Some(e.line()),
            column: Some(e.column()),
            message: format!("invalid JSON: {e}"),
            quote: None,
        })?;
        drop(text);
        for (i, item) in items.into_iter().enumerate() {
            acc.push(i + 1, item)?;
        }
    } else {
        let mut line = String::new();
        let mut no = 0;
        loop {
            line.clear();
            let n = reader.read_line(&mut line).map_err(|e| SourceError::new(name, Some(no + 1), e.to_string()))?;
            if n == 0 {
                break;
            }
            no += 1;
            let t = line.trim().trim_start_matches('\u{feff}');
            if t.is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(t).map_err(|e| SourceError {
                file: name.to_string(),
                line: Some(no),
                column: Some(e.column()),
                message: format!("invalid JSON: {e}"),
                quote: None,
            })?;
            acc.push(no, v)?;
        }
    }
    let JsonRows { headers, rows, .. } = acc;
    Ok(Source::new(name, headers, rows))
}

fn read_memberships(spec: &MembershipSpec) -> Result<HashMap<String, Vec<String>>, SourceError> {
    let name = spec.path.display().to_string();
    let file = File::open(&spec.path).map_err(|e| SourceError::new(&name, None, format!("cannot open: {e}")))?;
    let src = read_csv(BufReader::new(file), &name)?;
    let col = |c: &str| {
        src.column(c).ok_or_else(|| SourceError::new(&name, Some(1), format!("no column `{c}`")).quoting(columns_excerpt(&src.headers)))
    };
    let (u, g) = (col(&spec.user_column)?, col(&spec.group_column)?);
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for row in &src.rows {
        let (user, group) = (row.get(u).trim(), row.get(g).trim());
        if user.is_empty() || group.is_empty() {
            return Err(SourceError::new(&name, Some(row.line), "empty user or group"));
        }
        out.entry(user.to_lowercase()).or_default().push(group.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> Result<Source, SourceError> {
        Source::from_reader(text.as_bytes(), SourceFormat::Csv, "t.csv", ";")
    }

    #[test]
    fn csv_rows_keep_lines_and_short_rows_read_empty() {
        let s = csv("id,email,\"multi\nline\"\n1,a@x,\"q\nq\"\n2,b@x\n").unwrap();
        assert_eq!(s.headers, ["id", "email", "multi\nline"]);
        assert_eq!(s.rows.len(), 2);
        assert_eq!(s.rows[0].get(2), "q\nq");
        assert_eq!(s.rows[1].line, 5);
        assert_eq!(s.rows[1].get(1), "b@x");
        assert_eq!(s.rows[1].get(2), "");
        assert_eq!(s.column("EMAIL"), Some(1));
        assert_eq!(s.column("nope"), None);
    }

    #[test]
    fn csv_errors_name_file_and_line() {
        let e = csv("id,email\n1,a@x\n2,b@x,extra\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.to_string().starts_with("t.csv:3: "), "{e}");
        let e = Source::from_reader(&b"id\n\xff\n"[..], SourceFormat::Csv, "t.csv", ";").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
    }

    /// One unclosed quote used to swallow the rest of the file silently, so every later row was
    /// "not in source" and a plan deactivated it.
    #[test]
    fn an_unclosed_quote_is_an_error_naming_file_line_and_column() {
        let mut text = String::from("id,email,name\n");
        for i in 1..=50 {
            let name = if i == 5 { "\"Smith, Ann".to_string() } else { format!("User {i}") };
            text.push_str(&format!("E{i},u{i}@x.example,{name}\n"));
        }
        let e = csv(&text).unwrap_err();
        assert_eq!((e.line, e.column), (Some(6), Some(17)), "{e}");
        assert!(e.to_string().starts_with("t.csv:6:17: this quote is never closed"), "{e}");
        let e = csv("id,name\n1,O\"Brien\n2,x\n").unwrap_err();
        assert!(e.to_string().starts_with("t.csv:2:4: a quote inside an unquoted field"), "{e}");
        let e = Source::from_reader("{\"id\": 1}\n{\"id\": 2,,}\n".as_bytes(), SourceFormat::Jsonl, "t.jsonl", ";").unwrap_err();
        assert_eq!((e.line, e.column.is_some()), (Some(2), true), "{e}");
    }

    #[test]
    fn json_array_and_lines_flatten_and_union_keys() {
        let arr = r#"[{"id": 1, "groups": ["a", "b"], "mgr": {"email": "m@x"}}, {"id": "2", "active": false, "extra": null}]"#;
        let s = Source::from_reader(arr.as_bytes(), SourceFormat::Json, "t.json", ";").unwrap();
        // serde_json objects iterate keys in sorted order; the header is their union
        assert_eq!(s.headers, ["groups", "id", "mgr.email", "active", "extra"]);
        let c = |n: &str| s.column(n).unwrap();
        assert_eq!(s.rows[0].get(c("groups")), "a;b");
        assert_eq!(s.rows[0].get(c("mgr.email")), "m@x");
        assert_eq!(s.rows[0].get(c("active")), "");
        assert_eq!(s.rows[1].get(c("active")), "false");
        assert_eq!(s.rows[1].line, 2);
        let lines = "{\"id\": 1}\n\n{\"id\": 2, \"x\": \"y\"}\n";
        for fmt in [SourceFormat::Json, SourceFormat::Jsonl] {
            let s = Source::from_reader(lines.as_bytes(), fmt, "t.jsonl", ";").unwrap();
            assert_eq!(s.rows.len(), 2);
            assert_eq!(s.rows[1].line, 3);
            assert_eq!(s.rows[1].get(s.column("x").unwrap()), "y");
        }
        let e = Source::from_reader("{\"id\": 1}\n{oops\n".as_bytes(), SourceFormat::Jsonl, "t.jsonl", ";").unwrap_err();
        assert_eq!(e.line, Some(2));
        let e = Source::from_reader("[1]".as_bytes(), SourceFormat::Json, "t.json", ";").unwrap_err();
        assert!(e.to_string().contains("t.json:1: expected a JSON object"), "{e}");
    }

    #[test]
    fn reads_files_and_memberships() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("u.csv"), "id,email\nE1,a@x\n").unwrap();
        std::fs::write(dir.path().join("m.csv"), "employee,group\nE1,eng\ne1,ops\n").unwrap();
        let spec = SourceSpec {
            path: dir.path().join("u.csv"),
            format: None,
            array_separator: ";".into(),
            memberships: Some(MembershipSpec {
                path: dir.path().join("m.csv"),
                user_column: "employee".into(),
                group_column: "group".into(),
            }),
        };
        let s = Source::read(&spec).unwrap();
        assert_eq!(s.memberships["e1"], ["eng", "ops"]);
        std::fs::write(dir.path().join("m.csv"), "employee,grp\nE1,eng\n").unwrap();
        let e = Source::read(&spec).unwrap_err();
        assert!(e.to_string().contains("m.csv:1: no column `group`"), "{e}");
    }
}
