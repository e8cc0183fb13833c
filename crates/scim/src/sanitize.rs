//! Text that came from a server is stripped of control characters and escape sequences before it
//! reaches a terminal, a table or a log line.

/// Remove ANSI escape sequences and control characters; tabs and newlines become spaces.
pub fn clean(s: &str) -> String {
    clean_with(s, false)
}

/// Like [`clean`], but keeps tabs and line breaks (for CSV cells, which quote them, so data with
/// line breaks still round-trips while escape sequences never reach a terminal).
pub fn clean_keep_lines(s: &str) -> String {
    clean_with(s, true)
}

fn clean_with(s: &str, keep_lines: bool) -> String {
    if s.chars().all(|c| (!c.is_control() || (keep_lines && matches!(c, '\t' | '\n' | '\r'))) && !is_bidi_control(c)) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            '\u{9b}' => skip_csi_body(&mut chars),
            '\t' | '\n' | '\r' if keep_lines => out.push(c),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Bidirectional overrides can make a terminal show text in a misleading order.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
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
            while let Some(c) = chars.next() {
                if c == '\u{7}' {
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
        Some(_) => {
            chars.next();
        }
        None => {}
    }
}

fn skip_csi_body(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn strips_escapes_and_controls() {
        assert_eq!(clean("plain"), "plain");
        assert_eq!(clean("a\u{1b}[31mred\u{1b}[0m"), "ared");
        assert_eq!(clean("x\u{1b}]52;c;ZXZpbA==\u{7}y"), "xy");
        assert_eq!(clean("x\u{1b}]0;title\u{1b}\\y"), "xy");
        assert_eq!(clean("line\nbreak\u{7}"), "line break");
        assert_eq!(clean("evil\u{202e}txt"), "eviltxt");
        assert_eq!(clean("Zoë 日本"), "Zoë 日本");
        assert_eq!(super::clean_keep_lines("a\nb\u{1b}[2Jc"), "a\nbc");
    }
}
