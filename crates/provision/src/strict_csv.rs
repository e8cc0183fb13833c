//! A strict RFC 4180 CSV reader for every file that decides who is acted on (policy sources,
//! membership files, `--from FILE`).
//!
//! The `csv` crate is lenient: a quote that is never closed makes the rest of the file one field,
//! silently. For a policy source that means every later row is "not in source" and gets
//! deactivated. Here anything ambiguous is an error naming the line and column:
//! - a quote opened at the start of a field and never closed;
//! - text after the closing quote of a quoted field (`"Doe"x`);
//! - a quote inside an unquoted field (`Do"e`): quote the whole field and double the quote.
//!
//! Records end at `\n`, `\r\n` or `\r`; a leading byte-order mark is skipped; the text must be
//! UTF-8 (the error names the line of the first bad byte).
//!
//! Every CSV scimitar writes neutralises cells a spreadsheet would run as a formula (a leading
//! `'` before `=`, `+`, `-`, `@`, a tab or a carriage return: [`neutralise`]); this reader undoes
//! exactly that ([`restore`]) in every field, so an export reads back as a policy source, a
//! `--from` file or a report, cell for cell.

use std::borrow::Cow;

/// Where a CSV text is malformed (1-based line and character column).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct CsvError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// One record: the line it starts on and its fields (borrowed unless a doubled quote was undone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub line: usize,
    pub fields: Vec<Cow<'a, str>>,
}

impl Record<'_> {
    pub fn get(&self, i: usize) -> Option<&str> {
        self.fields.get(i).map(|f| f.as_ref())
    }
    pub fn len(&self) -> usize {
        self.fields.len()
    }
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
    /// Every field is empty or blank (a blank line).
    pub fn is_blank(&self) -> bool {
        self.fields.iter().all(|f| f.trim().is_empty())
    }
}

/// Characters that make a spreadsheet read a cell as a formula when it begins with one (OWASP's
/// "CSV injection": `=`, `+`, `-`, `@`, and tab and carriage return, which some strip first).
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Would a spreadsheet take `cell` for a formula, once the quotes [`neutralise`] adds are
/// counted? (Quotes first, then a formula character: so `'=x` is escaped again, and the reader
/// undoes exactly one quote.)
fn formula_like(cell: &str) -> bool {
    cell.trim_start_matches('\'').starts_with(FORMULA_STARTS)
}

/// A cell as CSV output writes it: one beginning with a formula character (after any quotes) gets
/// a leading `'`, as OWASP recommends and spreadsheets expect (the quote is not shown, the text is
/// never run). [`restore`] undoes it exactly, so `users export` stays readable as a policy source.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if formula_like(cell) { Cow::Owned(format!("'{cell}")) } else { Cow::Borrowed(cell) }
}

/// The cell [`neutralise`] was given: the leading `'` it adds removed (from a cell that is a
/// quote and a formula-like rest), anything else as it is. For every string `s`,
/// `restore(&neutralise(s)) == s`.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if formula_like(rest) => rest,
        _ => cell,
    }
}

/// [`restore`] on a field as read.
fn restored(c: Cow<'_, str>) -> Cow<'_, str> {
    match c {
        Cow::Borrowed(b) => Cow::Borrowed(restore(b)),
        Cow::Owned(o) if restore(&o).len() < o.len() => Cow::Owned(o[1..].to_string()),
        owned => owned,
    }
}

/// Bytes as UTF-8 text, or an error naming the line of the first bad byte.
pub fn utf8(bytes: &[u8]) -> Result<&str, CsvError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let before = &bytes[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
        CsvError { line, column, message: "not valid UTF-8 (save the file as UTF-8)".into() }
    })
}

/// The records of `text`, in order; iteration stops after the first error.
pub fn records(text: &str) -> Records<'_> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    Records { text, pos: 0, line: 1, done: false }
}

pub struct Records<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    done: bool,
}

impl<'a> Records<'a> {
    fn error(&mut self, at: usize, line: usize, message: impl Into<String>) -> CsvError {
        self.done = true;
        let line_start = self.text[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1);
        CsvError { line, column: self.text[line_start..at].chars().count() + 1, message: message.into() }
    }

    fn record(&mut self) -> Result<Record<'a>, CsvError> {
        let b = self.text.as_bytes();
        let start_line = self.line;
        let mut fields = Vec::new();
        loop {
            // One field, starting at self.pos.
            let field_start = self.pos;
            if b.get(self.pos) == Some(&b'"') {
                let open_line = self.line;
                let mut i = self.pos + 1;
                let mut owned: Option<String> = None;
                let mut seg = i;
                loop {
                    match b.get(i) {
                        None => {
                            return Err(self.error(
                                field_start,
                                open_line,
                                "this quote is never closed: the rest of the file would be read as one field",
                            ));
                        }
                        Some(b'"') if b.get(i + 1) == Some(&b'"') => {
                            owned.get_or_insert_with(String::new).push_str(&self.text[seg..=i]);
                            i += 2;
                            seg = i;
                        }
                        Some(b'"') => break,
                        Some(b'\n') => {
                            self.line += 1;
                            i += 1;
                        }
                        Some(b'\r') => {
                            if b.get(i + 1) != Some(&b'\n') {
                                self.line += 1;
                            }
                            i += 1;
                        }
                        Some(_) => i += 1,
                    }
                }
                let value = match owned {
                    Some(mut o) => {
                        o.push_str(&self.text[seg..i]);
                        Cow::Owned(o)
                    }
                    None => Cow::Borrowed(&self.text[seg..i]),
                };
                self.pos = i + 1;
                match b.get(self.pos) {
                    None | Some(b',' | b'\n' | b'\r') => {}
                    Some(_) => {
                        let (at, line) = (self.pos, self.line);
                        return Err(self.error(
                            at,
                            line,
                            "text after the closing quote of a quoted field (a quote inside a field is written twice: \"\")",
                        ));
                    }
                }
                fields.push(restored(value));
            } else {
                let mut i = self.pos;
                while let Some(&c) = b.get(i) {
                    match c {
                        b',' | b'\n' | b'\r' => break,
                        b'"' => {
                            let line = self.line;
                            return Err(self.error(
                                i,
                                line,
                                "a quote inside an unquoted field: quote the whole field and write the quote twice (\"Do\"\"e\")",
                            ));
                        }
                        _ => i += 1,
                    }
                }
                fields.push(Cow::Borrowed(restore(&self.text[self.pos..i])));
                self.pos = i;
            }
            match b.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'\r') => {
                    self.pos += if b.get(self.pos + 1) == Some(&b'\n') { 2 } else { 1 };
                    self.line += 1;
                    return Ok(Record { line: start_line, fields });
                }
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                    return Ok(Record { line: start_line, fields });
                }
                _ => {
                    self.done = true;
                    return Ok(Record { line: start_line, fields });
                }
            }
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, CsvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.text.len() {
            return None;
        }
        Some(self.record())
    }
}

/// Write one CSV record with RFC 4180 quoting (fields with `,` `"` CR or LF are quoted); for
/// tests and for the round-trip property.
pub fn write_record(fields: &[&str], out: &mut String) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if f.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out.push('\n');
}

/// A file's text, UTF-8, without its byte-order mark.
pub(crate) fn read_text(path: &std::path::Path, name: &str) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let text = utf8(&bytes).map_err(|e| format!("{name} {e}"))?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_restored_exactly() {
        for (cell, out) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1 555 0100", "'+1 555 0100"),
            ("-5", "'-5"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("'=x", "''=x"),
            ("ann@x.example", "ann@x.example"),
            ("'quoted'", "'quoted'"),
            ("", ""),
            ("a=b", "a=b"),
        ] {
            assert_eq!(neutralise(cell), out, "{cell:?}");
            assert_eq!(restore(out), cell, "{out:?}");
        }
    }

    fn all(text: &str) -> Result<Vec<(usize, Vec<String>)>, CsvError> {
        records(text).map(|r| r.map(|r| (r.line, r.fields.into_iter().map(|f| f.into_owned()).collect()))).collect()
    }

    #[test]
    fn reads_rfc4180() {
        let r = all("\u{feff}id,name\r\n1,\"Doe, \"\"Jane\"\"\"\n2,\"two\nlines\"\n\n3,\r4,x").unwrap();
        assert_eq!(r[0], (1, vec!["id".into(), "name".into()]));
        assert_eq!(r[1], (2, vec!["1".into(), "Doe, \"Jane\"".into()]));
        assert_eq!(r[2], (3, vec!["2".into(), "two\nlines".into()]));
        assert_eq!(r[3], (5, vec!["".into()]));
        assert_eq!(r[4], (6, vec!["3".into(), "".into()]));
        assert_eq!(r[5], (7, vec!["4".into(), "x".into()]));
        assert_eq!(all("a,\"\"\n").unwrap()[0].1, vec!["a".to_string(), String::new()]);
    }

    #[test]
    fn an_unclosed_quote_is_an_error_at_the_quote() {
        let e = all("id,name\n1,ann\n2,\"bob\n3,cy\n4,dee\n").unwrap_err();
        assert_eq!((e.line, e.column), (3, 3), "{e}");
        assert!(e.message.contains("never closed"), "{e}");
    }

    #[test]
    fn stray_quotes_are_errors() {
        let e = all("a,b\n1,\"x\"y\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 6), "{e}");
        let e = all("a,b\n1,O\"Brien\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 4), "{e}");
        let e = utf8(b"a,b\n1,\xff\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 3), "{e}");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Source CSV quoting round trip: whatever the cells hold (commas, quotes, line breaks,
        /// unicode), writing with RFC 4180 quoting and reading back gives the same cells.
        #[test]
        fn quoting_round_trips(rows in proptest::collection::vec(
            proptest::collection::vec("[a-z,\"\r\n é\u{feff}]{0,8}", 1..5), 1..8)
        ) {
            let mut text = String::new();
            for r in &rows {
                let cells: Vec<&str> = r.iter().map(String::as_str).collect();
                write_record(&cells, &mut text);
            }
            // A record of one empty cell is a blank line; a leading BOM in the first cell would be
            // read as the file's BOM. Neither can be told from the text, so they are not generated.
            prop_assume!(rows.iter().all(|r| !(r.len() == 1 && r[0].is_empty())));
            prop_assume!(!rows[0][0].starts_with('\u{feff}'));
            let back: Vec<Vec<String>> = records(&text).map(|r| r.unwrap().fields.into_iter().map(|f| f.into_owned()).collect()).collect();
            prop_assert_eq!(back, rows);
        }

        /// Neutralising a cell for a spreadsheet and restoring it gives it back exactly, and
        /// what is written never starts with a formula character.
        #[test]
        fn neutralise_round_trips(cell in "['=+@\t\r a-z-]{0,6}") {
            let out = neutralise(&cell);
            prop_assert!(!out.starts_with(FORMULA_STARTS));
            prop_assert_eq!(restore(&out), cell.as_str());
        }

        #[test]
        fn never_panics(text in "[a-z,\"\r\n]{0,40}") {
            let _ = records(&text).count();
        }
    }
}
