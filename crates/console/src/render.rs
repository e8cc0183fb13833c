//! Drawing the frame: `render(&App, &mut Frame)` is a pure function of the state. No I/O, no
//! awaits and no state changes here. The app draws the tab bar (from the registry), the Log
//! pane, the input line and the status line; the active pane and the overlays draw themselves
//! (`Component::render`). The layout helpers are shared with the components so that paging and
//! scrolling agree with what is on screen.

use super::app::{App, InputMode, Level};
use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};
use scim::sanitize::clean;

pub const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
pub(super) const MARK: &str = "> ";

pub struct Areas {
    pub tabs: Rect,
    pub body: Rect,
    pub log: Option<Rect>,
    pub input: Option<Rect>,
    pub status: Rect,
}

pub fn areas(app: &App, area: Rect) -> Areas {
    let h = area.height;
    let input_h = u16::from(app.mode() != InputMode::Normal && h >= 4);
    let fixed = 1 + 1 + input_h; // tabs + status + input
    let room = h.saturating_sub(fixed);
    // The Log pane gives way first when the terminal is short: the table keeps at least 5 rows.
    let log_h = if app.log.visible && room >= 10 { app.log.height.clamp(3, room - 7) } else { 0 };
    let [tabs, body, log, input, status] = Layout::vertical([
        Constraint::Length(1.min(h)),
        Constraint::Fill(1),
        Constraint::Length(log_h),
        Constraint::Length(input_h),
        Constraint::Length(u16::from(h >= 2)),
    ])
    .areas(area);
    Areas {
        tabs,
        body,
        log: (log_h > 0).then_some(log),
        input: (input_h > 0).then_some(input),
        status: if h >= 2 { status } else { Rect { height: 0, ..status } },
    }
}

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
pub(super) fn overlay<'a>(f: &mut Frame, area: Rect, t: &Theme, title: impl Into<Line<'a>>) -> (Rect, Block<'a>) {
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

pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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

pub(super) fn level_style(t: &Theme, l: Level) -> Style {
    match l {
        Level::Info => t.text,
        Level::Ok => t.ok,
        Level::Warn => t.warning,
        Level::Error => t.error,
    }
}

fn level_tag(l: Level) -> &'static str {
    match l {
        Level::Info => "info ",
        Level::Ok => "ok   ",
        Level::Warn => "warn ",
        Level::Error => "error",
    }
}

pub fn render(app: &App, f: &mut Frame) {
    draw_frame(app, f);
    // A terminal whose locale is not UTF-8 gets ASCII only: box drawing, `·`, `…`, the spinner
    // and any text from the server are replaced cell by cell (issue 25).
    if app.theme.ascii {
        asciify(f.buffer_mut());
    }
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

/// The smallest terminal the console draws in (columns, rows): below it the panes' labels
/// collide and the dialogs cannot show their keys, so it says the size it needs instead.
pub const MIN_SIZE: (u16, u16) = (44, 12);

/// What a terminal below [`MIN_SIZE`] shows: the longest wording that fits whole, wrapped
/// (issue 25: at 9x3 only `scimitar:` showed).
pub fn too_small(w: u16, h: u16) -> Vec<String> {
    let (mw, mh) = MIN_SIZE;
    let wordings = [
        format!("scimitar needs a terminal of at least {mw}x{mh}; this one is {w}x{h}. Make it larger (or the font smaller)."),
        format!("scimitar needs at least {mw}x{mh} (this is {w}x{h})"),
        format!("needs {mw}x{mh}, is {w}x{h}"),
        format!("min {mw}x{mh}"),
        format!("{mw}x{mh}"),
    ];
    for text in &wordings {
        let lines = wrap_words(text, w as usize);
        let whole = lines.iter().all(|l| unicode_width::UnicodeWidthStr::width(l.as_str()) <= w as usize);
        if lines.len() <= h as usize && whole && !text.split(' ').any(|word| word.len() > w as usize) {
            return lines;
        }
    }
    Vec::new()
}

fn draw_frame(app: &App, f: &mut Frame) {
    let area = f.area();
    let t = &app.theme;
    f.render_widget(Block::new().style(t.text), area);
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let lines: Vec<Line> = too_small(area.width, area.height).into_iter().map(Line::from).collect();
        let top = area.height.saturating_sub(lines.len() as u16) / 2;
        f.render_widget(Paragraph::new(lines), Rect { y: area.y + top, height: area.height - top, ..area });
        return;
    }
    let v = app.view();
    let a = areas(app, area);
    render_tabs(app, f, a.tabs);
    app.panes[app.active].render(f, a.body, &v);
    if let Some(l) = a.log {
        render_log(app, f, l);
    }
    if let Some(i) = a.input {
        render_input(app, f, i);
    }
    render_status(app, f, a.status);
    for o in &app.overlays {
        o.render(f, area, &v);
    }
}

fn render_tabs(app: &App, f: &mut Frame, r: Rect) {
    let t = &app.theme;
    // Narrower than every tab whole: the name goes first, then the other panes' titles (their
    // digits stay), so the last tab is never cut off the line.
    let line = |brand: bool, others: bool| {
        let mut spans = if brand { vec![Span::styled(" scimitar ", t.title)] } else { vec![] };
        for (i, p) in app.panes.iter().enumerate() {
            let active = i == app.active;
            let style = if active { t.tab_active } else { t.tab_inactive };
            let label = if t.mono && active {
                format!("[{} {}]", i + 1, p.title())
            } else if active || others {
                format!(" {} {} ", i + 1, p.title())
            } else {
                format!(" {} ", i + 1)
            };
            spans.push(Span::styled(label, style));
            spans.push(Span::raw(" "));
        }
        Line::from(spans)
    };
    let fits = |l: &Line| l.width() <= r.width as usize + 1;
    let full = line(true, true);
    let l = if fits(&full) {
        full
    } else if fits(&line(false, true)) {
        line(false, true)
    } else {
        line(false, false)
    };
    f.render_widget(Paragraph::new(l).style(t.text), r);
}

fn render_log(app: &App, f: &mut Frame, r: Rect) {
    let t = &app.theme;
    let log = &app.log;
    let mut title = vec![Span::styled(" Log ", t.title)];
    if log.scroll > 0 {
        title.push(Span::styled(format!("{} newer below ", counted(log.scroll, "row")), t.warning));
    }
    let keys = if log.scroll > 0 { " [ older · ] newer · { } size · L hide " } else { " [ older · { } size · L hide " };
    let b = block(t, Line::from(title), false).title_bottom(hint_line(t, keys.to_string()));
    let inner = b.inner(r);
    f.render_widget(b, r);
    let n = inner.height as usize;
    // Entries wrap (issue 12: errors were cut at 80 columns), the newest at the bottom: walk back
    // from the newest entry until the rows scrolled back and the pane's are there, then show the
    // pane's rows of them. (The Log wraps at its own width, the app's; a pane drawn narrower cuts.)
    let lead = super::app::LOG_LEAD;
    let want = n + log.scroll;
    let mut lines: Vec<Line> = Vec::new();
    for e in log.iter().rev() {
        if lines.len() >= want {
            break;
        }
        let st = level_style(t, e.level);
        let mut entry: Vec<Line> = log
            .wrapped(e)
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                if i == 0 {
                    Line::from(vec![
                        Span::styled(format!("{} ", e.time), t.muted),
                        Span::styled(format!("{} ", level_tag(e.level)), st),
                        Span::styled(p, st),
                    ])
                } else {
                    Line::from(vec![Span::raw(" ".repeat(lead)), Span::styled(p, st)])
                }
            })
            .collect();
        entry.reverse();
        lines.extend(entry);
    }
    // `lines` runs newest first: skip the rows scrolled back, keep the pane's.
    let mut shown: Vec<Line> = lines.into_iter().skip(log.scroll).take(n).collect();
    shown.reverse();
    f.render_widget(Paragraph::new(shown), inner);
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

fn render_input(app: &App, f: &mut Frame, r: Rect) {
    let Some(input) = app.input() else { return };
    let t = &app.theme;
    let prompt = if app.mode() == InputMode::Filter { "/" } else { ":" };
    let width = r.width.saturating_sub(1) as usize;
    let scroll = input.visual_scroll(width.max(1));
    let p = Paragraph::new(Line::from(vec![Span::styled(prompt, t.input), Span::styled(clean(input.value()), t.text)]))
        .scroll((0, scroll as u16));
    f.render_widget(p, r);
    let x = r.x + 1 + (input.visual_cursor().saturating_sub(scroll)) as u16;
    f.set_cursor_position((x.min(r.right().saturating_sub(1)), r.y));
}

fn render_status(app: &App, f: &mut Frame, r: Rect) {
    if r.height == 0 {
        return;
    }
    let t = &app.theme;
    // The Log pane on screen, following the newest line, already shows a message that went to it.
    let full = Rect::new(0, 0, app.size.0, app.size.1);
    let log_shows = app.log.flash_logged && app.log.scroll == 0 && app.overlays.is_empty() && areas(app, full).log.is_some();
    let (line, help) = status_line(app, r.width as usize, log_shows);
    let [left, right] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(width(&help) as u16)]).areas(r);
    f.render_widget(Paragraph::new(line).style(t.status_bar), left);
    f.render_widget(Paragraph::new(help).style(t.status_bar), right);
}

fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// The status line in `w` columns: the host, the API version, the users loaded, the queue, the
/// marks, read-only, the read budget, the last message, and `? help` after a separator of its
/// own (issue 25: `budget 998? help` ran together). The numbers are never cut (issue 12); when
/// the line is too narrow, the API version goes first, then the longer wordings
/// (`users 2,000/2,000` → `users 2,000`, `queue running 3/6` → `running 3/6`), then the host is
/// shortened (never below 10 columns); a message is shown only where at least 16 columns of it
/// fit (a stub like `plan of…` said nothing; the Log has it whole), a warning or an error before
/// the host's full name, and none that the Log pane on screen shows (`log_shows`).
pub fn status_line(app: &App, w: usize, log_shows: bool) -> (Line<'static>, String) {
    const SEP: &str = " │ ";
    const SEP_W: usize = 3;
    const MSG_MIN: usize = 16;
    const HOST_MIN: usize = 10;
    let t = &app.theme;
    let help = "│ ? help ".to_string();
    // One blank column before the help's separator.
    let avail = w.saturating_sub(width(&help) + 1);
    let loaded = app.dir.store.len() as u64;
    let spin = if app.busy() { format!(" {}", app.view().spinner) } else { String::new() };
    let users_long = match app.dir.total {
        Some(total) => format!("users {}/{}{spin}", thousands(loaded), thousands(total)),
        None => format!("users {}{spin}", thousands(loaded)),
    };
    let users_short = match app.dir.total {
        Some(total) if total == loaded => format!("users {}{spin}", thousands(loaded)),
        _ => users_long.clone(),
    };
    let queue_long = format!("queue {}", app.queue.status);
    let queue_short = if app.queue.status == "idle" { queue_long.clone() } else { app.queue.status.clone() };
    let budget = match app.budget {
        Some(b) => format!("budget {}", b.floor() as i64),
        None => "rate limit off".to_string(),
    };
    let bold = t.status_bar.add_modifier(Modifier::BOLD);
    let mut tail: Vec<(String, Style)> = Vec::new();
    if !app.dir.marks.is_empty() {
        tail.push((format!("marked {}", thousands(app.dir.marks.len() as u64)), bold));
    }
    if app.queue.read_only() {
        tail.push(("read-only".into(), bold));
    }
    tail.push((budget, t.status_bar));
    let host = clean(&app.host);
    let msg = app.log.flash.as_ref().map(|(l, m)| (*l, clean(m)));
    let urgent = msg.as_ref().is_some_and(|(l, _)| matches!(l, Level::Warn | Level::Error));
    let sum = |parts: &[&str]| 1 + parts.iter().map(|p| width(p)).sum::<usize>() + SEP_W * parts.len().saturating_sub(1);
    let tail_w: usize = tail.iter().map(|(s, _)| width(s) + SEP_W).sum();
    // The plainest line without the host: what a warning may take room from (the host keeps
    // its 10 columns).
    let compact = sum(&[spin.trim(), &queue_short]) + tail_w;
    // A message takes room from the API version and the long wordings; a warning or an error
    // from the host's full name too.
    let reserved = match &msg {
        // What the Log on screen shows is repeated only where it fits whole, taking no room.
        Some(_) if log_shows => 0,
        Some((_, m)) => {
            let want = (width(m) + SEP_W).min(40 + SEP_W);
            let need = MSG_MIN.min(width(m)) + SEP_W;
            let full_host = avail.saturating_sub(sum(&[&host, &users_short, &queue_short]) + tail_w);
            let short_host = avail.saturating_sub(compact + HOST_MIN + SEP_W);
            if full_host >= need {
                want.min(full_host)
            } else if urgent && short_host >= need {
                want.min(short_host)
            } else {
                0
            }
        }
        _ => 0,
    };
    let room = avail.saturating_sub(reserved);
    // From the richest line to the plainest: the first that fits (with the host whole, else
    // with the host shortened).
    let mut chosen: Option<(Option<String>, bool, &str, &str)> = None;
    for (api, users, queue) in [
        (true, &users_long, &queue_long),
        (false, &users_long, &queue_long),
        (false, &users_short, &queue_long),
        (false, &users_short, &queue_short),
    ] {
        let mut parts: Vec<&str> = vec![&host];
        if api {
            parts.push(&app.api);
        }
        parts.push(users);
        parts.push(queue);
        if sum(&parts) + tail_w <= room {
            chosen = Some((Some(host.clone()), api, users, queue));
            break;
        }
    }
    let (host_shown, api, users, queue) = chosen.unwrap_or_else(|| {
        // The host shortened; then the users' count goes (the Users pane's title has it), its
        // spinner staying; the host goes last.
        let left = room.saturating_sub(sum(&[&users_short, &queue_short]) + tail_w + SEP_W);
        if left >= HOST_MIN {
            return (Some(truncate(&host, left)), false, users_short.as_str(), queue_short.as_str());
        }
        let spin_only = spin.trim();
        let left = room.saturating_sub(sum(&[spin_only, &queue_short]) + tail_w + SEP_W);
        if left >= HOST_MIN {
            return (Some(truncate(&host, left)), false, spin_only, queue_short.as_str());
        }
        (None, false, users_short.as_str(), queue_short.as_str())
    });
    let mut parts: Vec<(String, Style)> = Vec::new();
    if let Some(h) = host_shown {
        parts.push((h, bold));
    }
    if api {
        parts.push((app.api.clone(), t.status_bar));
    }
    if !users.is_empty() {
        parts.push((users.to_string(), t.status_bar));
    }
    parts.push((queue.to_string(), t.status_bar));
    parts.extend(tail);
    let used = 1 + parts.iter().map(|(s, _)| width(s)).sum::<usize>() + SEP_W * (parts.len() - 1);
    let left = avail.saturating_sub(used);
    if let Some((lvl, m)) = msg
        && left >= SEP_W + if log_shows { width(&m) } else { MSG_MIN.min(width(&m)) }
    {
        let st = match lvl {
            Level::Error | Level::Warn => t.status_bar.patch(level_style(t, lvl)),
            _ => t.status_bar,
        };
        parts.push((truncate(&m, left - SEP_W), st));
    }
    let sep = Span::styled(SEP, t.status_bar);
    let mut spans = vec![Span::styled(" ", t.status_bar)];
    for (i, (text, st)) in parts.into_iter().enumerate() {
        if i > 0 {
            spans.push(sep.clone());
        }
        spans.push(Span::styled(text, st));
    }
    (Line::from(spans), help)
}
