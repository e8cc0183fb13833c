//! Drawing helpers the components and the frame share: overlay rectangles, dialogs and blocks
//! with their hint lines, word wrapping (so paging and scrolling agree with what is on screen),
//! counts and numbers in words, the Log's level styles, ASCII fallbacks. Pure functions of their
//! arguments; nothing here knows the `App`.

use super::theme::Theme;
pub use provision::words::thousands;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};
use scim::sanitize::clean;

pub const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

pub const MARK: &str = "> ";

/// The rectangle of a full-size overlay (detail views, lists, help) on the screen `area`.
pub fn overlay_area(area: Rect) -> Rect {
    let w = (area.width.saturating_mul(4) / 5).max(area.width.min(60)).min(area.width);
    let h = (area.height.saturating_mul(4) / 5).max(area.height.min(16)).min(area.height);
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

/// [`overlay_area`], nearly the screen's whole width under 100 columns: for views whose rows
/// are wide (the queue view; issue 25: 64 columns of 80 cut its operations).
pub fn wide_overlay_area(area: Rect) -> Rect {
    let o = overlay_area(area);
    if area.width >= 100 {
        return o;
    }
    let w = area.width.saturating_sub(2).max(o.width).min(area.width);
    Rect { x: area.x + (area.width - w) / 2, width: w, ..o }
}

/// Clear the overlay rectangle and give it a focused block.
pub fn overlay<'a>(f: &mut Frame, area: Rect, t: &Theme, title: impl Into<Line<'a>>) -> (Rect, Block<'a>) {
    let r = overlay_area(area);
    f.render_widget(Clear, r);
    (r, block(t, title, true))
}

/// Rows `lines` take when wrapped at `width` columns (words wrap as ratatui wraps them).
pub fn wrapped_rows(lines: &[Line], width: u16) -> usize {
    if lines.is_empty() {
        return 0;
    }
    Paragraph::new(lines.to_vec()).wrap(Wrap { trim: false }).line_count(width.max(1))
}

/// Words of `s` wrapped at `width` columns (a word longer than a line is cut across lines).
pub fn wrap_words(s: &str, width: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let width = width.max(1);
    let mut out = Vec::new();
    let mut line = String::new();
    for word in s.split(' ') {
        let mut word = word.to_string();
        loop {
            let lw = line.width();
            let sep = usize::from(lw > 0);
            if lw + sep + word.width() <= width {
                if sep == 1 {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if lw > 0 {
                out.push(std::mem::take(&mut line));
                continue;
            }
            // A word longer than the line: cut it.
            let cut: String = word
                .chars()
                .scan(0, |w, c| {
                    *w += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
                    (*w <= width).then_some(c)
                })
                .collect();
            let rest = word[cut.len()..].to_string();
            out.push(cut);
            word = rest;
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
}

/// `s` wrapped at `width` columns with a hanging indent: a line that starts with spaces keeps
/// them, and its continuations are indented two more (issue 25: wrapped `skipped` lines lost
/// their indent and read as new items).
pub fn hang(s: &str, width: usize) -> Vec<String> {
    let k = s.len() - s.trim_start_matches(' ').len();
    if k == 0 {
        return wrap_words(s, width);
    }
    let cont = k + 2;
    wrap_words(s.trim_start(), width.saturating_sub(cont).max(8))
        .into_iter()
        .enumerate()
        .map(|(i, l)| format!("{}{l}", " ".repeat(if i == 0 { k } else { cont })))
        .collect()
}

/// A centred dialog at most `max_w` columns wide: `body` (wrapped; cut at its end when the
/// screen is too short for all of it) above `foot` (the prompt and its keys), which is pinned to
/// the dialog's bottom rows so it is on screen at any size. Returns the dialog's rectangle.
pub(super) fn dialog<'a>(f: &mut Frame, area: Rect, b: Block<'a>, body: Vec<Line<'a>>, foot: Vec<Line<'a>>, max_w: u16) -> Rect {
    let w = area.width.saturating_sub(4).min(max_w).max(area.width.min(20));
    let inner_w = w.saturating_sub(2).max(1);
    let foot_h = wrapped_rows(&foot, inner_w) as u16;
    let body_h = wrapped_rows(&body, inner_w) as u16;
    let h = (body_h + foot_h + 2).min(area.height);
    let r = Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h);
    f.render_widget(Clear, r);
    let inner = b.inner(r);
    f.render_widget(b, r);
    let foot_h = foot_h.min(inner.height);
    let body_area = Rect { height: inner.height - foot_h, ..inner };
    let foot_area = Rect { y: inner.y + body_area.height, height: foot_h, ..inner };
    f.render_widget(Paragraph::new(body).wrap(Wrap { trim: false }), body_area);
    f.render_widget(Paragraph::new(foot).wrap(Wrap { trim: false }), foot_area);
    r
}

/// A bordered block with the theme's title style.
pub(super) fn block<'a>(t: &Theme, title: impl Into<Line<'a>>, focus: bool) -> Block<'a> {
    Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(if focus { t.border_focus } else { t.border })
        .title(title.into().style(t.title))
        .style(t.text)
}

/// Draw block `b` with the hint `lines` (`component::hint_lines`): the last is its bottom
/// title, any others take the inner area's last rows. Returns what is left inside.
pub(super) fn hinted_block(f: &mut Frame, r: Rect, t: &Theme, b: Block, mut lines: Vec<String>) -> Rect {
    let last = lines.pop().unwrap_or_default();
    let b = b.title_bottom(hint_line(t, last));
    let mut inner = b.inner(r);
    f.render_widget(b, r);
    if !lines.is_empty() && inner.height > 6 {
        let n = lines.len() as u16;
        let ls: Vec<Line> = lines.into_iter().map(|h| hint_line(t, h)).collect();
        f.render_widget(Paragraph::new(ls), Rect { y: inner.bottom() - n, height: n, ..inner });
        inner.height -= n;
    }
    inner
}

/// A hint bar as a block's bottom title.
pub(super) fn hint_line(t: &Theme, text: String) -> Line<'static> {
    Line::styled(text, t.muted).right_aligned()
}

/// `n` and the noun, plural unless `n` is 1, with thousands separated (`1 retry`, `2 retries`,
/// `96,926 users`): every count the console words (issue 25: `1 retries`, `96926 to deactivate`).
pub fn counted(n: usize, noun: &str) -> String {
    let plural = if n == 1 {
        noun.to_string()
    } else if let Some(stem) = noun.strip_suffix('y').filter(|s| !s.ends_with(['a', 'e', 'o', 'u'])) {
        format!("{stem}ies")
    } else if noun.ends_with("ch") || noun.ends_with('s') || noun.ends_with('x') {
        format!("{noun}es")
    } else {
        format!("{noun}s")
    };
    format!("{} {plural}", thousands(n as u64))
}

pub(super) fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n.saturating_sub(1)).chain(['…']).collect() }
}

/// The first visible row so that `selected` is inside a window of `height` rows.
pub fn visible_offset(selected: usize, offset: usize, height: usize, len: usize) -> usize {
    let height = height.max(1);
    if len <= height {
        return 0;
    }
    let mut off = offset.min(len.saturating_sub(1));
    if selected < off {
        off = selected;
    } else if selected >= off + height {
        off = selected + 1 - height;
    }
    // Don't leave blank space at the bottom when the list could fill the window.
    if len >= height && off + height > len {
        off = len - height;
    }
    off
}

/// The ASCII stand-in for a symbol drawn in one cell (`None`: it is ASCII already). Box
/// drawing becomes `+ - |`, the separators and signs their nearest ASCII, letters with accents
/// the letter, anything else `?`.
pub fn ascii_symbol(sym: &str) -> Option<&'static str> {
    if sym.is_ascii() {
        return None;
    }
    let c = sym.chars().next().unwrap_or('?');
    Some(match c {
        '─' | '━' | '╌' | '┄' | '╴' | '╶' => "-",
        '│' | '┃' | '╎' | '┆' | '║' => "|",
        '═' => "=",
        '╭' | '╮' | '╯' | '╰' | '┌' | '┐' | '└' | '┘' | '├' | '┤' | '┬' | '┴' | '┼' | '┏' | '┓' | '┗' | '┛' | '╔' | '╗' | '╚' | '╝' => {
            "+"
        }
        '·' => "|",
        '•' | '●' | '■' | '█' | '▉' | '▊' | '▋' | '▌' | '▍' | '▎' | '▏' => "*",
        '░' | '▒' | '▓' => ".",
        '…' => ".",
        '✓' | '✔' => "x",
        '▲' | '↑' | '▴' => "^",
        '▼' | '↓' | '▾' => "v",
        '→' | '›' | '»' | '⟶' => ">",
        '←' | '‹' | '«' => "<",
        '↺' | '↻' => "^",
        '⚠' => "!",
        '⌫' => "<",
        '–' | '—' | '−' => "-",
        '‘' | '’' | '′' => "'",
        '“' | '”' | '″' => "\"",
        '§' => "S",
        '×' => "x",
        // The spinner's frames: . o O o in turn (`|` would read as a separator).
        '⠋' | '⠼' | '⠇' => ".",
        '⠙' | '⠴' | '⠏' | '⠸' | '⠧' => "o",
        '⠹' | '⠦' => "O",
        _ => ascii_letter(c),
    })
}

/// A Latin letter with a diacritic as its base letter (`é` → `e`), else `?`.
fn ascii_letter(c: char) -> &'static str {
    const TABLE: &[(&str, &str)] = &[
        ("àáâãäåāăą", "a"),
        ("ÀÁÂÃÄÅĀĂĄ", "A"),
        ("çćĉċč", "c"),
        ("ÇĆĈĊČ", "C"),
        ("ďđ", "d"),
        ("ĎĐ", "D"),
        ("èéêëēĕėęě", "e"),
        ("ÈÉÊËĒĔĖĘĚ", "E"),
        ("ĝğġģ", "g"),
        ("ĜĞĠĢ", "G"),
        ("ìíîïĩīĭįı", "i"),
        ("ÌÍÎÏĨĪĬĮİ", "I"),
        ("ĺļľŀł", "l"),
        ("ĹĻĽĿŁ", "L"),
        ("ñńņňŉ", "n"),
        ("ÑŃŅŇ", "N"),
        ("òóôõöøōŏő", "o"),
        ("ÒÓÔÕÖØŌŎŐ", "O"),
        ("ŕŗř", "r"),
        ("ŔŖŘ", "R"),
        ("śŝşšș", "s"),
        ("ŚŜŞŠȘ", "S"),
        ("ţťŧț", "t"),
        ("ŢŤŦȚ", "T"),
        ("ùúûüũūŭůűų", "u"),
        ("ÙÚÛÜŨŪŬŮŰŲ", "U"),
        ("ýÿŷ", "y"),
        ("ÝŸŶ", "Y"),
        ("źżž", "z"),
        ("ŹŻŽ", "Z"),
        ("ß", "s"),
        ("æ", "a"),
        ("Æ", "A"),
        ("œ", "o"),
        ("Œ", "O"),
    ];
    TABLE.iter().find(|(set, _)| set.contains(c)).map_or("?", |(_, r)| r)
}

/// Replace every cell that is not ASCII with its ASCII stand-in ([`ascii_symbol`]). An ellipsis
/// with two blank cells after it becomes `...`. A wide character (two cells) becomes `?` and a
/// blank.
pub fn asciify(buf: &mut ratatui::buffer::Buffer) {
    let area = buf.area;
    for y in area.top()..area.bottom() {
        let mut x = area.left();
        while x < area.right() {
            let sym = buf[(x, y)].symbol().to_string();
            if let Some(r) = ascii_symbol(&sym) {
                let blank = |b: &ratatui::buffer::Buffer, x: u16| x < area.right() && b[(x, y)].symbol() == " ";
                if sym == "…" && blank(buf, x + 1) && blank(buf, x + 2) {
                    for i in 0..3 {
                        buf[(x + i, y)].set_symbol(".");
                    }
                    x += 3;
                    continue;
                }
                buf[(x, y)].set_symbol(r);
            }
            x += 1;
        }
    }
}

/// One labelled text field on the first row of `inner` (`search: text`), scrolled so the cursor
/// shows, with the terminal cursor at it: the prompt, the picker and the new-policy dialog.
pub fn labelled_input(f: &mut Frame, t: &Theme, inner: Rect, label: &str, input: &tui_input::Input) {
    let width = inner.width.saturating_sub(label.len() as u16 + 1) as usize;
    let scroll = input.visual_scroll(width.max(1));
    let value: String = clean(input.value()).chars().skip(scroll).collect();
    f.render_widget(
        Paragraph::new(Line::from(vec![Span::styled(label.to_string(), t.header), Span::styled(value, t.input)])),
        Rect { height: 1, ..inner },
    );
    let x = inner.x + label.len() as u16 + input.visual_cursor().saturating_sub(scroll) as u16;
    f.set_cursor_position((x.min(inner.right().saturating_sub(1)), inner.y));
}
