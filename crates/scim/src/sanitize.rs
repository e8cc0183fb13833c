//! The one sanitising path for text that came from a server or a file on its way to a terminal,
//! a table, a log line or a JSON line.
//!
//! Three things are never passed through as they are:
//! - control characters, C0 and C1 (`ESC`, `CSI` U+009B, `NEL` U+0085 …), with whole escape
//!   sequences (CSI, OSC such as the OSC 52 clipboard write, DCS, APC, PM, SOS) dropped;
//! - bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C), which make a
//!   terminal show text in a misleading order;
//! - invisible characters, by their Unicode properties rather than a list ([`is_invisible`]:
//!   Default_Ignorable_Code_Point, format characters (Cf), private-use characters (Co),
//!   noncharacters, and U+2800 BRAILLE PATTERN BLANK), which garble columns or hide in an email
//!   address: U+200B zero-width space, U+FEFF, U+00AD soft hyphen, the Hangul fillers U+115F,
//!   U+1160, U+3164 and U+FFA0, U+034F combining grapheme joiner, tag characters, variation
//!   selectors (one emoji presentation selector, U+FE0E or U+FE0F, right after a character stays:
//!   `❤️`), and zero-width joiner and non-joiner excepted (names in Persian and Indic scripts
//!   and emoji sequences need them); U+2028/U+2029 (line and paragraph separators) count as line
//!   breaks;
//! - combining marks (Mn, Me) beyond [`MAX_MARKS`] on one character ("Zalgo" text, which
//!   stacks marks without end over the lines around it).
//!
//! The tables are generated from the Unicode character database (`scripts/unicode-tables.pl`,
//! [`crate::unicode_tables`]).
//!
//! [`clean`] (one line), [`clean_lines`] (keeps `\n`, for multi-line diagnostics) and
//! [`clean_keep_lines`] (keeps tabs and line breaks, for CSV cells, which quote them) strip
//! them. [`write_json`] keeps the data intact instead: it escapes them as `\uXXXX`, so a `jq` of
//! the output gets the exact text back while a plain `cat` shows nothing raw.

use std::io;

/// Remove ANSI escape sequences, control, bidi and invisible characters; tabs and line breaks
/// become spaces.
pub fn clean(s: &str) -> String {
    clean_with(s, Mode::OneLine)
}

/// Like [`clean`], but keeps `\n` (for multi-line messages on stderr); `\r` and tabs become spaces.
pub fn clean_lines(s: &str) -> String {
    clean_with(s, Mode::Lines)
}

/// Like [`clean`], but keeps tabs and line breaks (for CSV cells, which quote them, so data with
/// line breaks still round-trips while escape sequences never reach a terminal).
pub fn clean_keep_lines(s: &str) -> String {
    clean_with(s, Mode::Cells)
}

/// At most `max_chars` characters of `s`, cleaned, with the size of what was cut: for echoing
/// input (a 50 MB line must not come back whole in an error message).
pub fn excerpt(s: &str, max_chars: usize) -> String {
    let cleaned: String = clean(s).chars().take(max_chars + 1).collect();
    if cleaned.chars().count() <= max_chars {
        return cleaned;
    }
    let head: String = cleaned.chars().take(max_chars).collect();
    format!("{head}… ({} bytes in all)", s.len())
}

/// The first `max_chars` characters of `s` as a Rust-quoted string (every control, invisible
/// and bidi character shown as an escape such as `\u{200b}`, so the reader sees what is
/// wrong), followed by the size of what was cut.
pub fn quoted_excerpt(s: &str, max_chars: usize) -> String {
    let head: String = s.chars().take(max_chars).collect();
    let mut out = String::with_capacity(head.len() + 2);
    out.push('"');
    for c in head.chars() {
        if c.is_control() || is_bidi_control(c) || is_invisible(c) || is_line_separator(c) || matches!(c, '\u{200c}' | '\u{200d}') {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else if c == '"' || c == '\\' {
            out.push('\\');
            out.push(c);
        } else {
            out.push(c);
        }
    }
    out.push('"');
    if head.len() < s.len() {
        out.push_str(&format!("… ({} bytes in all)", s.len()));
    }
    out
}

/// Would [`clean`] change this text?
pub fn is_clean(s: &str) -> bool {
    clean(s) == s
}

/// The most combining marks (Mn, Me) kept on one character; the rest of a run is dropped (and
/// escaped in JSON). Vietnamese needs two, Hebrew with points and cantillation and Tibetan stacks
/// up to five; "Zalgo" text piles dozens.
pub const MAX_MARKS: usize = 6;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    OneLine,
    Lines,
    Cells,
}

fn clean_with(s: &str, mode: Mode) -> String {
    let kept = |c: char| match mode {
        Mode::OneLine => false,
        Mode::Lines => c == '\n',
        Mode::Cells => matches!(c, '\t' | '\n' | '\r'),
    };
    // Printable ASCII needs nothing (the common case).
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return s.to_string();
    }
    let mut out = Out { text: String::with_capacity(s.len()), after_base: false, marks: 0 };
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            '\u{9b}' => skip_csi_body(&mut chars),
            // OSC, DCS, APC, PM, SOS as single C1 characters: run to ST or BEL.
            '\u{9d}' | '\u{90}' | '\u{9f}' | '\u{9e}' | '\u{98}' => skip_string_body(&mut chars),
            c if kept(c) => out.base(c),
            '\r' if mode == Mode::Lines && chars.peek() == Some(&'\n') => {}
            '\t' | '\n' | '\r' | '\u{85}' => out.base(' '),
            '\u{2028}' | '\u{2029}' => out.base(if mode == Mode::OneLine { ' ' } else { '\n' }),
            // One presentation selector right after a character (`❤️`), no other.
            '\u{fe0e}' | '\u{fe0f}' if out.after_base => out.joiner(c),
            '\u{200c}' | '\u{200d}' => out.joiner(c),
            c if c.is_control() || is_bidi_control(c) || is_invisible(c) => {}
            c if is_mark(c) => out.mark(c),
            c => out.base(c),
        }
    }
    out.text
}

/// What [`clean_with`] has written, and what the last of it allows next.
struct Out {
    text: String,
    /// The last character written is one a presentation selector may follow.
    after_base: bool,
    /// Combining marks written on the last character.
    marks: usize,
}

impl Out {
    fn base(&mut self, c: char) {
        self.text.push(c);
        self.after_base = !c.is_whitespace();
        self.marks = 0;
    }
    fn joiner(&mut self, c: char) {
        self.text.push(c);
        self.after_base = false;
    }
    fn mark(&mut self, c: char) {
        if self.marks < MAX_MARKS {
            self.text.push(c);
            self.marks += 1;
            self.after_base = false;
        }
    }
}

/// Bidirectional controls can make a terminal show text in a misleading order.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

fn in_table(table: &[(char, char)], c: char) -> bool {
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Characters that render as nothing, or as a blank of their own, by their Unicode properties:
/// Default_Ignorable_Code_Point (zero-width space, word joiner, BOM, soft hyphen, Hangul fillers,
/// combining grapheme joiner, variation selectors, tag characters, invisible operators), general
/// categories Cf and Co, noncharacters, and U+2800. Zero-width joiner and non-joiner are not in
/// this set: names in Persian and Indic scripts and emoji sequences need them.
pub fn is_invisible(c: char) -> bool {
    !c.is_ascii() && !matches!(c, '\u{200c}' | '\u{200d}') && in_table(crate::unicode_tables::INVISIBLE, c)
}

/// A nonspacing or enclosing combining mark (Mn, Me).
pub fn is_mark(c: char) -> bool {
    !c.is_ascii() && in_table(crate::unicode_tables::MARKS, c)
}

fn is_line_separator(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}')
}

fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.peek() {
        Some('[') => {
            chars.next();
            skip_csi_body(chars);
        }
        // OSC, DCS, APC, PM, SOS: run until BEL or ST (ESC \)
        Some(']' | 'P' | '_' | '^' | 'X') => {
            chars.next();
            skip_string_body(chars);
        }
        Some(_) => {
            chars.next();
        }
        None => {}
    }
}

fn skip_string_body(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        if c == '\u{7}' || c == '\u{9c}' {
            break;
        }
        if c == '\u{1b}' {
            if chars.peek() == Some(&'\\') {
                chars.next();
            }
            break;
        }
    }
}

fn skip_csi_body(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            break;
        }
    }
}

/// Characters [`write_json`] writes as `\uXXXX` besides what JSON itself requires.
fn json_escaped(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || is_invisible(c) || is_line_separator(c)
}

/// A serde_json formatter that escapes DEL, C1 controls, bidi controls, invisible characters and
/// U+2028/U+2029 (serde_json escapes only C0 controls, `"` and `\\`); the layout is the inner
/// formatter's (compact by default, or `serde_json::ser::PrettyFormatter`).
#[derive(Clone, Debug, Default)]
pub struct SafeJson<F = serde_json::ser::CompactFormatter>(pub F);

macro_rules! delegate {
    ($($name:ident $(, $arg:ident: $ty:ty)*;)*) => {$(
        fn $name<W: ?Sized + io::Write>(&mut self, writer: &mut W $(, $arg: $ty)*) -> io::Result<()> {
            self.0.$name(writer $(, $arg)*)
        }
    )*};
}

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for SafeJson<F> {
    delegate! {
        begin_array;
        end_array;
        begin_array_value, first: bool;
        end_array_value;
        begin_object;
        end_object;
        begin_object_key, first: bool;
        end_object_key;
        begin_object_value;
        end_object_value;
    }

    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut start = 0;
        let mut marks = 0usize;
        for (i, c) in fragment.char_indices() {
            // Combining marks past the cap are escaped too (kept, but never stacked on a terminal).
            let over = if is_mark(c) {
                marks += 1;
                marks > MAX_MARKS
            } else {
                marks = 0;
                false
            };
            if over || json_escaped(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{u:04x}")?;
                }
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// Write `value` as compact JSON through [`SafeJson`] (no newline).
pub fn write_json<W: io::Write, T: serde::Serialize + ?Sized>(writer: W, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(writer, SafeJson(serde_json::ser::CompactFormatter));
    value.serialize(&mut ser).map_err(io::Error::other)
}

/// Write `value` as indented JSON through [`SafeJson`] (no newline).
pub fn write_json_pretty<W: io::Write, T: serde::Serialize + ?Sized>(writer: W, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(writer, SafeJson(serde_json::ser::PrettyFormatter::new()));
    value.serialize(&mut ser).map_err(io::Error::other)
}

/// `value` as a compact JSON string through [`SafeJson`].
pub fn to_json_string<T: serde::Serialize + ?Sized>(value: &T) -> String {
    let mut buf = Vec::new();
    // Writing to a Vec cannot fail, and serde_json values always serialise.
    let _ = write_json(&mut buf, value);
    String::from_utf8(buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_escapes_and_controls() {
        assert_eq!(clean("plain"), "plain");
        assert_eq!(clean("a\u{1b}[31mred\u{1b}[0m"), "ared");
        assert_eq!(clean("x\u{1b}]52;c;ZXZpbA==\u{7}y"), "xy");
        assert_eq!(clean("x\u{1b}]0;title\u{1b}\\y"), "xy");
        assert_eq!(clean("x\u{9d}0;title\u{9c}y"), "xy");
        assert_eq!(clean("line\nbreak\u{7}"), "line break");
        assert_eq!(clean("evil\u{202e}txt"), "eviltxt");
        assert_eq!(clean("Zoë 日本"), "Zoë 日本");
        assert_eq!(clean_keep_lines("a\nb\u{1b}[2Jc"), "a\nbc");
        assert_eq!(clean_lines("a\r\nb\tc\u{1b}[2J"), "a\nb c");
    }

    #[test]
    fn strips_invisible_and_separators() {
        assert_eq!(clean("a\u{200b}b\u{feff}c\u{061c}d"), "abcd");
        assert_eq!(clean("a\u{2028}b\u{2029}c\u{85}d"), "a b c d");
        assert_eq!(clean("\u{9b}2Jx"), "x");
        // joiners stay: Persian names and emoji sequences need them
        assert_eq!(clean("می\u{200c}خواهم 👩\u{200d}💻"), "می\u{200c}خواهم 👩\u{200d}💻");
        assert!(is_clean("Zoë"));
        assert!(!is_clean("a\u{200b}"));
    }

    #[test]
    fn invisible_by_unicode_properties_and_marks_capped() {
        // Hangul fillers, the combining grapheme joiner, a braille blank, a private-use character,
        // a variation selector run, a deprecated format character, a noncharacter.
        assert_eq!(clean("P\u{3164}a\u{115f}t\u{1160}\u{ffa0}\u{34f}\u{2800}\u{e000}\u{fe00}\u{fe01}\u{206a}\u{fdd0}!"), "Pat!");
        // One emoji presentation selector after a character stays; more, or one elsewhere, go.
        assert_eq!(clean("\u{2764}\u{fe0f}\u{fe0f} \u{fe0f}x"), "\u{2764}\u{fe0f} x");
        assert_eq!(clean("#\u{fe0f}\u{20e3}"), "#\u{fe0f}\u{20e3}", "a keycap sequence is whole");
        // Marks: what scripts need stays, a pile is cut at MAX_MARKS.
        assert_eq!(clean("Tie\u{302}\u{301}ng Vie\u{323}\u{302}t"), "Tie\u{302}\u{301}ng Vie\u{323}\u{302}t");
        assert_eq!(clean("སྒྲུ"), "སྒྲུ");
        let zalgo = format!("Z{}algo", "\u{301}\u{316}\u{35c}".repeat(30));
        let c = clean(&zalgo);
        assert_eq!(c, format!("Z{}algo", "\u{301}\u{316}\u{35c}".repeat(2)));
        assert!(!is_clean(&zalgo) && is_clean(&c));
        for ch in ['\u{3164}', '\u{115f}', '\u{34f}', '\u{2800}', '\u{e0041}', '\u{fe0f}', '\u{feff}'] {
            assert!(is_invisible(ch), "{ch:?}");
        }
        for ch in ['a', 'é', '日', '\u{200d}', '\u{200c}', ' ', '\u{301}'] {
            assert!(!is_invisible(ch), "{ch:?}");
        }
        // JSON keeps every mark, escaping those past the cap.
        let j = to_json_string(&serde_json::json!({ "t": zalgo }));
        assert_eq!(j.matches("\\u0301").count(), 28, "{j}");
        let back: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(back["t"], zalgo);
        assert!(crate::unicode_tables::UNICODE_VERSION.starts_with("1"));
    }

    #[test]
    fn json_escapes_what_a_terminal_would_act_on() {
        let v = serde_json::json!({"name": "a\u{1b}]52;c;x\u{7}\u{85}\u{202e}\u{200b}\u{2028}\u{e0041}é", "k\u{9b}": 1});
        let s = to_json_string(&v);
        assert!(s.chars().all(|c| !json_escaped(c)), "{s:?}");
        assert!(s.contains("\\u001b") && s.contains("\\u0085") && s.contains("\\u202e") && s.contains("\\udb40\\udc41"), "{s}");
        assert!(s.contains('é'));
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v, "escaping loses nothing");
        let mut pretty = Vec::new();
        write_json_pretty(&mut pretty, &v).unwrap();
        let pretty = String::from_utf8(pretty).unwrap();
        assert!(pretty.contains("\n  \"") && pretty.contains("\\u202e"), "{pretty}");
    }

    #[test]
    fn quoted_excerpts_show_what_is_hidden() {
        assert_eq!(quoted_excerpt("\u{feff}ann@x.com", 80), "\"\\u{feff}ann@x.com\"");
        assert_eq!(quoted_excerpt("a\"b\u{1b}[2J", 80), "\"a\\\"b\\u{1b}[2J\"");
        let q = quoted_excerpt(&"y".repeat(50_000_000), 80);
        assert!(q.len() < 120 && q.contains("50000000 bytes in all"), "{q}");
    }

    #[test]
    fn excerpts_are_short() {
        assert_eq!(excerpt("short", 10), "short");
        let long = "x".repeat(1000);
        let e = excerpt(&long, 20);
        assert!(e.starts_with(&"x".repeat(20)) && e.contains("1000 bytes"), "{e}");
        assert!(e.len() < 60);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn nasty() -> impl Strategy<Value = String> {
        let pieces = prop_oneof![
            any::<char>().prop_map(|c| c.to_string()),
            Just("\u{1b}[".to_string()),
            Just("\u{1b}]52;c;".to_string()),
            Just("\u{1b}\\".to_string()),
            Just("\u{7}".to_string()),
            Just("\u{9b}".to_string()),
            Just("\u{9d}".to_string()),
            Just("\u{202e}".to_string()),
            Just("\u{200b}".to_string()),
            Just("\u{2028}".to_string()),
            Just("\u{fe0f}".to_string()),
            Just("\u{200d}".to_string()),
            Just("\u{3164}".to_string()),
            Just("\u{115f}".to_string()),
            Just("\u{34f}".to_string()),
            Just("\u{2800}".to_string()),
            Just("\u{301}\u{301}\u{301}\u{301}".to_string()),
            "[a-z@. ]{0,5}",
        ];
        proptest::collection::vec(pieces, 0..24).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn sanitizer_is_idempotent_and_leaves_nothing_raw(s in nasty()) {
            for f in [clean, clean_lines, clean_keep_lines] {
                let once = f(&s);
                prop_assert_eq!(f(&once), once.clone());
                let raw = once.contains('\u{1b}') || once.chars().any(is_bidi_control);
                prop_assert!(!raw);
                // Nothing invisible is left but a presentation selector right after a character.
                let mut prev: Option<char> = None;
                let mut run = 0;
                for c in once.chars() {
                    if is_invisible(c) {
                        let base = prev.is_some_and(|p| !is_invisible(p) && !is_mark(p) && !p.is_whitespace() && !matches!(p, '\u{200c}' | '\u{200d}'));
                        prop_assert!(matches!(c, '\u{fe0e}' | '\u{fe0f}') && base, "{:?} in {:?}", c, once);
                    }
                    run = if is_mark(c) { run + 1 } else { 0 };
                    prop_assert!(run <= MAX_MARKS);
                    prev = Some(c);
                }
            }
            prop_assert!(is_clean(&clean(&s)));
        }

        #[test]
        fn safe_json_round_trips_and_escapes(s in nasty()) {
            let out = to_json_string(&serde_json::json!({ "v": s }));
            prop_assert!(out.chars().all(|c| !json_escaped(c)));
            let back: serde_json::Value = serde_json::from_str(&out).unwrap();
            prop_assert_eq!(back["v"].as_str().unwrap(), s.as_str());
        }
    }
}
