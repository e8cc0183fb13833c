//! The policy source readers (`provision::policy::source`, strict CSV, JSON array, JSON lines)
//! and the strict CSV reader on arbitrary bytes. Byte 0 picks the format.
//!
//! Invariants: no panic; every CSV row has at most as many fields as the header and every row of
//! any format can be read at every column; line numbers grow; a CSV source that reads written
//! back by the `csv` crate's writer (as `users export` writes) reads back to the same header and
//! rows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provision::policy::source::{Source, SourceFormat};

fn cells(s: &Source) -> Vec<Vec<String>> {
    s.rows.iter().map(|r| (0..s.headers.len()).map(|i| r.get(i).to_string()).collect()).collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else { return };
    let format = [SourceFormat::Csv, SourceFormat::Json, SourceFormat::Jsonl][sel as usize % 3];
    let sep = if sel & 0x80 == 0 { ";" } else { "|" };

    // The strict reader on its own: stops after the first error, lines never go back.
    if let Ok(text) = provision::strict_csv::utf8(bytes) {
        let mut last = 0;
        for rec in provision::strict_csv::records(text) {
            match rec {
                Ok(r) => {
                    assert!(r.line > last, "record lines go back: {} after {last}", r.line);
                    last = r.line;
                }
                Err(e) => {
                    assert!(e.line >= 1 && e.column >= 1, "{e}");
                    break;
                }
            }
        }
    }

    let Ok(src) = Source::from_reader(bytes, format, "fuzz", sep) else { return };
    let mut last = 0;
    for r in &src.rows {
        assert!(r.len() <= src.headers.len(), "row of {} fields, header of {}", r.len(), src.headers.len());
        assert!(r.line > last || format == SourceFormat::Json, "row lines go back");
        last = r.line;
        for i in 0..src.headers.len() + 2 {
            let _ = r.get(i);
        }
    }
    for h in &src.headers {
        assert_eq!(src.column(h).map(|i| src.headers[i].eq_ignore_ascii_case(h)), Some(true));
    }
    if format != SourceFormat::Csv {
        return;
    }
    // Write it back as `users export` does (the csv crate's writer) and read it again. A first
    // header cell that starts with U+FEFF would be read back as a byte-order mark; `users export`
    // always starts with `email`.
    if src.headers[0].starts_with('\u{feff}') {
        return;
    }
    let mut out = Vec::new();
    {
        let mut w = csv::WriterBuilder::new().flexible(true).from_writer(&mut out);
        w.write_record(&src.headers).unwrap();
        for r in &src.rows {
            w.write_record((0..r.len()).map(|i| r.get(i))).unwrap();
        }
        w.flush().unwrap();
    }
    let back = Source::from_reader(out.as_slice(), SourceFormat::Csv, "fuzz", sep)
        .unwrap_or_else(|e| panic!("written back, the source does not read: {e}\n{}", String::from_utf8_lossy(&out)));
    assert_eq!(back.headers, src.headers, "header changed on the way back");
    assert_eq!(cells(&back), cells(&src), "rows changed on the way back");
});
