//! Drawing the frame: `render(&App, &mut Frame)` is a pure function of the state. No I/O, no
//! awaits and no state changes here. The app draws the tab bar (from the registry), the Log
//! pane, the input line and the status line; the active pane and the overlays draw themselves
//! (`Component::render`). The layout helpers are shared with the components so that paging and
//! scrolling agree with what is on screen.

use super::app::{App, InputMode, areas};
pub use super::draw::*;
use super::msg::Level;
use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use scim::sanitize::clean;

pub fn render(app: &App, f: &mut Frame) {
    draw_frame(app, f);
    // A terminal whose locale is not UTF-8 gets ASCII only: box drawing, `·`, `…`, the spinner
    // and any text from the server are replaced cell by cell (issue 25).
    if app.theme.ascii {
        asciify(f.buffer_mut());
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
    let lead = super::msg::LOG_LEAD;
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

pub(super) fn level_style(t: &Theme, l: Level) -> Style {
    match l {
        Level::Info => t.text,
        Level::Ok => t.ok,
        Level::Warn => t.warning,
        Level::Error => t.error,
    }
}

pub(crate) fn level_tag(l: Level) -> &'static str {
    match l {
        Level::Info => "info ",
        Level::Ok => "ok   ",
        Level::Warn => "warn ",
        Level::Error => "error",
    }
}
