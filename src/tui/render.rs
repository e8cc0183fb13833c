//! Drawing: `render(&App, &mut Frame)` is a pure function of the state. No I/O, no awaits and no
//! state changes here; the layout helpers are shared with `App` so that paging and scrolling agree
//! with what is on screen. Only the visible slice of the Users table is turned into rows.

use super::app::{App, InputMode, Level, Modal, Pane};
use super::keys;
use super::theme::Theme;
use super::users::{Column, UserRow, visible_offset};
use crate::sanitize::clean;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
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
    let input_h = u16::from(app.mode != InputMode::Normal && h >= 4);
    let fixed = 1 + 1 + input_h; // tabs + status + input
    let room = h.saturating_sub(fixed);
    // The Log pane gives way first when the terminal is short: the table keeps at least 5 rows.
    let log_h = if app.log_visible && room >= 10 { app.log_height.clamp(3, room - 7) } else { 0 };
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

/// Table rows that fit in the current pane (borders and the header row taken off).
pub fn list_height(app: &App) -> u16 {
    let a = areas(app, Rect::new(0, 0, app.size.0, app.size.1));
    a.body.height.saturating_sub(3)
}

fn modal_area(area: Rect) -> Rect {
    let w = (area.width.saturating_mul(4) / 5).max(area.width.min(60)).min(area.width);
    let h = (area.height.saturating_mul(4) / 5).max(area.height.min(16)).min(area.height);
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

/// The overlay rectangle (for the queue's overlays in `queue.rs` and `confirm.rs`).
pub(super) fn overlay_area(area: Rect) -> Rect {
    modal_area(area)
}

/// A focused, bordered block with the theme's title style.
pub(super) fn block_for<'a>(t: &Theme, title: impl Into<Line<'a>>) -> Block<'a> {
    block(t, title, true)
}

/// Rows of the queue view's table that fit (the gauge, counts and header taken off).
pub fn queue_rows(app: &App) -> u16 {
    modal_area(Rect::new(0, 0, app.size.0, app.size.1)).height.saturating_sub(5)
}

/// Rows of the group members overlay that fit.
pub fn members_height(app: &App) -> u16 {
    modal_area(Rect::new(0, 0, app.size.0, app.size.1)).height.saturating_sub(3)
}

pub fn render(app: &App, f: &mut Frame) {
    let area = f.area();
    let t = &app.theme;
    f.render_widget(Block::new().style(t.text), area);
    if area.width < 10 || area.height < 3 {
        f.render_widget(Paragraph::new("scimitar: terminal too small"), area);
        return;
    }
    let a = areas(app, area);
    render_tabs(app, f, a.tabs);
    match app.pane {
        Pane::Users => render_users(app, f, a.body),
        Pane::Groups => render_groups(app, f, a.body),
        Pane::Policies => super::policies::render(app, f, a.body),
        Pane::Reports => super::reports::render(app, f, a.body),
    }
    if let Some(l) = a.log {
        render_log(app, f, l);
    }
    if let Some(i) = a.input {
        render_input(app, f, i);
    }
    render_status(app, f, a.status);
    for m in &app.modals {
        match m {
            Modal::Help { scroll } => render_help(app, f, area, *scroll),
            Modal::UserDetail { idx, scroll } => render_detail(app, f, area, *idx, *scroll),
            Modal::GroupMembers { group, selected, offset } => render_members(app, f, area, *group, *selected, *offset),
            Modal::Confirm => super::confirm::render_confirm(app, f, area),
            Modal::Prompt => super::confirm::render_prompt(app, f, area),
            Modal::Queue => super::queue::render_queue(app, f, area),
            Modal::Resume => super::queue::render_resume(app, f, area),
            Modal::ReportDetail { idx, scroll } => super::reports::render_detail(app, f, area, *idx, *scroll),
            Modal::PolicyChange { row, scroll } => super::policies::render_change(app, f, area, *row, *scroll),
            Modal::ConfirmApply { typed } => super::policies::render_confirm(app, f, area, typed),
        }
    }
}

pub(super) fn block<'a>(t: &Theme, title: impl Into<Line<'a>>, focus: bool) -> Block<'a> {
    Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(if focus { t.border_focus } else { t.border })
        .title(title.into().style(t.title))
        .style(t.text)
}

fn render_tabs(app: &App, f: &mut Frame, r: Rect) {
    let t = &app.theme;
    let mut spans = vec![Span::styled(" scimitar ", t.title)];
    for (i, p) in Pane::ALL.iter().enumerate() {
        let style = if *p == app.pane { t.tab_active } else { t.tab_inactive };
        let label = if t.mono && *p == app.pane { format!("[{} {}]", i + 1, p.title()) } else { format!(" {} {} ", i + 1, p.title()) };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
    }
    f.render_widget(Paragraph::new(Line::from(spans)).style(t.text), r);
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

pub(super) fn spinner(app: &App) -> &'static str {
    SPINNER[app.spinner % SPINNER.len()]
}

/// The columns that fit in `width`, in display order, with their constraints.
pub fn user_columns(width: u16) -> Vec<(Column, Constraint)> {
    // Priority order and the narrowest each column is still useful at.
    let prio = [
        (Column::Name, 16),
        (Column::Email, 26),
        (Column::Active, 6),
        (Column::UserName, 16),
        (Column::Department, 14),
        (Column::Title, 16),
        (Column::Id, 11),
    ];
    let avail = width.saturating_sub(2 + MARK.len() as u16) as u32;
    let mut used = 0u32;
    let mut keep = Vec::new();
    for (c, min) in prio {
        if used + min + 1 > avail && !keep.is_empty() {
            break;
        }
        used += min + 1;
        keep.push(c);
    }
    Column::ALL
        .into_iter()
        .filter(|c| keep.contains(c))
        .map(|c| {
            let cons = match c {
                Column::Active => Constraint::Length(6),
                Column::Id => Constraint::Length(11),
                Column::Name => Constraint::Fill(4),
                Column::UserName => Constraint::Fill(3),
                Column::Email => Constraint::Fill(7),
                Column::Title => Constraint::Fill(4),
                Column::Department => Constraint::Fill(3),
            };
            (c, cons)
        })
        .collect()
}

fn render_users(app: &App, f: &mut Frame, r: Rect) {
    let t = &app.theme;
    let v = &app.view;
    let loaded = app.store.len() as u64;
    let mut title = vec![Span::styled(" Users ", t.title)];
    let shown = v.filtered.len() as u64;
    let counts = if shown == loaded { thousands(loaded) } else { format!("{} of {}", thousands(shown), thousands(loaded)) };
    title.push(Span::styled(format!("{counts} "), t.muted));
    if !v.query().is_empty() {
        title.push(Span::styled(format!("/{} ", clean(v.query())), t.input));
    }
    if v.show != super::users::Show::All {
        title.push(Span::styled(format!("[{}] ", v.show.label()), t.warning));
    }
    if !app.marks.is_empty() {
        title.push(Span::styled(format!("{} marked ", thousands(app.marks.len() as u64)), t.accent));
    }
    let mut right = Vec::new();
    if let Some(l) = &app.loading {
        let total = l.total.map(thousands).unwrap_or_else(|| "?".into());
        let verb = if l.staged.is_some() { "reloading" } else { "loading" };
        let pct = l.total.filter(|t| *t > 0).map(|t| format!(" {}%", (l.loaded * 100 / t).min(100))).unwrap_or_default();
        right.push(Span::styled(format!(" {} {verb} {}/{total}{pct} ", spinner(app), thousands(l.loaded)), t.accent));
    } else if let Some(e) = &app.users_error {
        right.push(Span::styled(format!(" load failed: {} ", truncate(e, 40)), t.error));
    }
    let mut b = block(t, Line::from(title), true)
        .title_bottom(Line::styled(keys::hint(keys::USERS, r.width.saturating_sub(4) as usize), t.muted).right_aligned());
    if !right.is_empty() {
        b = b.title_top(Line::from(right).right_aligned());
    }
    let inner = b.inner(r);
    f.render_widget(b, r);
    if inner.height == 0 || inner.width == 0 {
        return;
    }

    let cols = user_columns(r.width);
    let header = Row::new(cols.iter().map(|(c, _)| {
        let mut h = c.header().to_string();
        if v.sort == Some(*c) {
            h.push_str(if v.descending { " ▼" } else { " ▲" });
        }
        Cell::from(h)
    }))
    .style(t.header);

    let height = inner.height.saturating_sub(1) as usize;
    if v.filtered.is_empty() {
        let table = Table::new(Vec::<Row>::new(), cols.iter().map(|(_, c)| *c)).header(header);
        f.render_widget(table, inner);
        let msg = empty_users_message(app);
        let area = Rect { y: inner.y + 1, height: inner.height.saturating_sub(1), ..inner };
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let off = visible_offset(v.selected, v.offset, height, v.filtered.len());
    let end = (off + height).min(v.filtered.len());
    let marking = !app.marks.is_empty();
    let rows = v.filtered[off..end].iter().map(|&i| {
        let r = &app.store.rows[i as usize];
        user_row(r, &cols, t, marking.then(|| app.marks.contains(&r.id)))
    });
    let mut state = TableState::new().with_selected(Some(v.selected - off));
    // While anything is marked, a one-column marker leads each row (`✓`: readable without colour).
    let widths = marking.then_some(Constraint::Length(1)).into_iter().chain(cols.iter().map(|(_, c)| *c));
    let header = if marking { header_with_marker(&cols, v, t) } else { header };
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(t.selected)
        .highlight_symbol(MARK)
        .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
    f.render_stateful_widget(table, inner, &mut state);
}

fn user_row<'a>(r: &'a UserRow, cols: &[(Column, Constraint)], t: &Theme, marked: Option<bool>) -> Row<'a> {
    let mark = marked.map(|m| Cell::from(if m { "✓" } else { " " }));
    let row = Row::new(mark.into_iter().chain(cols.iter().map(|(c, _)| Cell::from(c.cell(r)))));
    let row = if r.active { row } else { row.style(t.inactive) };
    if marked == Some(true) { row.style(if r.active { t.accent } else { t.inactive }.add_modifier(Modifier::BOLD)) } else { row }
}

fn header_with_marker<'a>(cols: &[(Column, Constraint)], v: &super::users::UsersView, t: &Theme) -> Row<'a> {
    Row::new(std::iter::once(Cell::from("✓")).chain(cols.iter().map(|(c, _)| {
        let mut h = c.header().to_string();
        if v.sort == Some(*c) {
            h.push_str(if v.descending { " ▼" } else { " ▲" });
        }
        Cell::from(h)
    })))
    .style(t.header)
}

fn empty_users_message(app: &App) -> Text<'static> {
    let t = &app.theme;
    let q = clean(app.view.query());
    if app.store.is_empty() {
        if app.loading.is_some() {
            return Text::styled(format!("  {} loading users…", spinner(app)), t.muted);
        }
        if let Some(e) = &app.users_error {
            return Text::from(vec![
                Line::styled(format!("  Could not load users: {e}"), t.error),
                Line::styled("  Press r to retry, : then `find EMAIL` to look one user up.", t.muted),
            ]);
        }
        return Text::styled("  No users.", t.muted);
    }
    let mut lines = vec![Line::styled(
        if q.is_empty() {
            format!("  No {} users. Press A to change which users are shown.", app.view.show.label())
        } else {
            format!("  No loaded user matches \"{q}\".")
        },
        t.muted,
    )];
    if let Some(e) = &app.lookup_in_flight {
        lines.push(Line::styled(format!("  {} looking up {e} through SCIM…", spinner(app)), t.accent));
    } else if let Some(e) = super::app::looks_like_email(&q) {
        if app.not_found_contains(&e) {
            lines.push(Line::styled(format!("  {e} does not exist in SCIM either."), t.warning));
        } else {
            lines.push(Line::styled("  Press Enter to look this email up through SCIM.", t.muted));
        }
    } else if !q.is_empty() {
        lines.push(Line::styled("  Type a full email to look it up through SCIM, or Esc to clear.", t.muted));
    }
    Text::from(lines)
}

pub(super) fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n.saturating_sub(1)).chain(['…']).collect() }
}

fn render_groups(app: &App, f: &mut Frame, r: Rect) {
    let t = &app.theme;
    let count = if app.groups_query.is_empty() && app.groups_shown.len() == app.groups.len() {
        format!("{} ", thousands(app.groups.len() as u64))
    } else {
        format!("{} of {} ", thousands(app.groups_shown.len() as u64), thousands(app.groups.len() as u64))
    };
    let mut title = vec![Span::styled(" Groups ", t.title), Span::styled(count, t.muted)];
    if !app.groups_query.is_empty() {
        title.push(Span::styled(format!("/{} ", clean(&app.groups_query)), t.accent));
    }
    let mut b = block(t, Line::from(title), true)
        .title_bottom(Line::styled(keys::hint(keys::GROUPS, r.width.saturating_sub(4) as usize), t.muted).right_aligned());
    if app.groups_loading {
        b = b.title_top(Line::styled(format!(" {} loading groups ", spinner(app)), t.accent).right_aligned());
    }
    let inner = b.inner(r);
    f.render_widget(b, r);
    if inner.height == 0 {
        return;
    }
    if app.groups.is_empty() {
        let msg = match (&app.groups_error, app.groups_loading) {
            (Some(e), _) => Line::styled(format!("  Could not load groups: {e}. Press r to retry."), t.error),
            (None, true) => Line::styled(format!("  {} loading groups…", spinner(app)), t.muted),
            (None, false) => Line::styled("  No groups.", t.muted),
        };
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), inner);
        return;
    }
    if app.groups_shown.is_empty() {
        let msg = Line::styled(format!("  No group matches /{}. Esc clears the filter.", clean(&app.groups_query)), t.muted);
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), inner);
        return;
    }
    let height = inner.height.saturating_sub(1) as usize;
    let pos = app.groups_pos().unwrap_or(0);
    let off = visible_offset(pos, app.groups_offset, height, app.groups_shown.len());
    let end = (off + height).min(app.groups_shown.len());
    let wide = r.width >= 60;
    let rows = app.groups_shown[off..end].iter().map(|&i| &app.groups[i]).map(|g| {
        let mut cells = vec![Cell::from(g.name.as_str()), Cell::from(format!("{:>7}", thousands(g.members.len() as u64)))];
        if wide {
            cells.push(Cell::from(g.id.as_str()));
        }
        Row::new(cells)
    });
    let mut widths = vec![Constraint::Fill(1), Constraint::Length(7)];
    let mut hdr = vec!["Name", "Members"];
    if wide {
        widths.push(Constraint::Length(12));
        hdr.push("Id");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(hdr).style(t.header))
        .row_highlight_style(t.selected)
        .highlight_symbol(MARK)
        .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
    let mut state = TableState::new().with_selected(Some(pos - off));
    f.render_stateful_widget(table, inner, &mut state);
}

fn level_style(t: &Theme, l: Level) -> Style {
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

fn render_log(app: &App, f: &mut Frame, r: Rect) {
    let t = &app.theme;
    let b = block(t, " Log ", false);
    let inner = b.inner(r);
    f.render_widget(b, r);
    let n = inner.height as usize;
    let start = app.log.len().saturating_sub(n);
    let lines: Vec<Line> = app
        .log
        .iter()
        .skip(start)
        .map(|e| {
            Line::from(vec![
                Span::styled(format!("{} ", e.time), t.muted),
                Span::styled(format!("{} ", level_tag(e.level)), level_style(t, e.level)),
                Span::styled(e.text.as_str(), level_style(t, e.level)),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn render_input(app: &App, f: &mut Frame, r: Rect) {
    let t = &app.theme;
    let prompt = if app.mode == InputMode::Filter { "/" } else { ":" };
    let width = r.width.saturating_sub(1) as usize;
    let scroll = app.input.visual_scroll(width.max(1));
    let p = Paragraph::new(Line::from(vec![Span::styled(prompt, t.input), Span::styled(clean(app.input.value()), t.text)]))
        .scroll((0, scroll as u16));
    f.render_widget(p, r);
    let x = r.x + 1 + (app.input.visual_cursor().saturating_sub(scroll)) as u16;
    f.set_cursor_position((x.min(r.right().saturating_sub(1)), r.y));
}

fn render_status(app: &App, f: &mut Frame, r: Rect) {
    if r.height == 0 {
        return;
    }
    let t = &app.theme;
    let sep = Span::styled(" │ ", t.status_bar);
    let mut users = match app.users_total {
        Some(total) => format!("users {}/{}", thousands(app.store.len() as u64), thousands(total)),
        None => format!("users {}", thousands(app.store.len() as u64)),
    };
    if app.busy() {
        users.push(' ');
        users.push_str(spinner(app));
    }
    let budget = match app.budget {
        Some(b) => format!("budget {}", b.floor() as i64),
        None => "rate limit off".to_string(),
    };
    let mut spans = vec![
        Span::styled(format!(" {}", app.host), t.status_bar.add_modifier(Modifier::BOLD)),
        sep.clone(),
        Span::styled(app.api.clone(), t.status_bar),
        sep.clone(),
        Span::styled(users, t.status_bar),
        sep.clone(),
        Span::styled(format!("queue {}", app.queue_status), t.status_bar),
    ];
    if !app.marks.is_empty() {
        spans.push(sep.clone());
        spans.push(Span::styled(format!("marked {}", thousands(app.marks.len() as u64)), t.status_bar.add_modifier(Modifier::BOLD)));
    }
    if app.queue.read_only() {
        spans.push(sep.clone());
        spans.push(Span::styled("read-only", t.status_bar.add_modifier(Modifier::BOLD)));
    }
    spans.extend([sep.clone(), Span::styled(budget, t.status_bar)]);
    if let Some((lvl, msg)) = &app.flash {
        spans.push(sep.clone());
        let st = match lvl {
            Level::Error | Level::Warn => t.status_bar.patch(level_style(t, *lvl)),
            _ => t.status_bar,
        };
        spans.push(Span::styled(msg.clone(), st));
    }
    let help = " ? help ";
    let [left, right] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(help.len() as u16)]).areas(r);
    f.render_widget(Paragraph::new(Line::from(spans)).style(t.status_bar), left);
    f.render_widget(Paragraph::new(help).style(t.status_bar), right);
}

pub(super) fn overlay<'a>(f: &mut Frame, area: Rect, t: &Theme, title: impl Into<Line<'a>>) -> (Rect, Block<'a>) {
    let r = modal_area(area);
    f.render_widget(Clear, r);
    let b = block(t, title, true);
    (r, b)
}

fn help_lines(app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines = Vec::new();
    let section = |lines: &mut Vec<Line<'static>>, name: &str, rows: Vec<(&'static str, &'static str)>| {
        if rows.is_empty() {
            return;
        }
        lines.push(Line::styled(name.to_string(), t.header));
        for (k, h) in rows {
            lines.push(Line::from(vec![Span::styled(format!("  {k:<11}"), t.accent), Span::styled(h, t.text)]));
        }
        lines.push(Line::raw(""));
    };
    let rows = |b: &'static [keys::Binding]| b.iter().map(|b| (b.label, b.help)).collect::<Vec<_>>();
    let pane_title = format!("{} pane", app.pane.title());
    let in_overlay = app.modals.iter().any(|m| !matches!(m, Modal::Help { .. }));
    if app.modals.contains(&Modal::Queue) {
        section(&mut lines, "Queue view", rows(keys::QUEUE));
    }
    if in_overlay {
        section(&mut lines, "Overlay", rows(keys::OVERLAY));
    }
    section(&mut lines, &pane_title, rows(app.pane.keys()));
    section(&mut lines, "Moving", rows(keys::NAV));
    section(&mut lines, "Everywhere", rows(keys::GLOBAL));
    section(&mut lines, "Filter and command line", keys::INPUT_HELP.to_vec());
    section(&mut lines, "Confirmation (d, a, + - R n)", keys::CONFIRM_HELP.to_vec());
    if !in_overlay {
        section(&mut lines, "Overlays (detail view, members)", rows(keys::OVERLAY));
    }
    lines
}

fn render_help(app: &App, f: &mut Frame, area: Rect, scroll: u16) {
    let t = &app.theme;
    let (r, b) = overlay(f, area, t, format!(" Help: {} ", app.pane.title()));
    let b = b.title_bottom(Line::styled(" Esc close · j/k scroll ", t.muted).right_aligned());
    f.render_widget(Paragraph::new(help_lines(app)).block(b).scroll((scroll, 0)), r);
}

/// Attribute/value pairs for the detail view, cleaned, with the manager's name and the groups
/// resolved from what is loaded.
pub fn detail_rows(app: &App, idx: u32) -> Vec<(String, String)> {
    let u = &app.store.users[idx as usize];
    let mut rows: Vec<(String, String)> = crate::cli::user_detail_rows(u).into_iter().map(|(k, v)| (k, clean(&v))).collect();
    for (k, v) in rows.iter_mut() {
        if k == "manager"
            && let Some(m) = app.store.index_of(v)
        {
            *v = format!("{v} ({})", app.store.rows[m as usize].name);
        }
    }
    if u.groups.as_ref().is_none_or(|g| g.is_empty()) {
        let id = u.id();
        for g in app.groups.iter().filter(|g| g.members.iter().any(|m| m == id)) {
            rows.push(("group".into(), format!("{} {}", g.name, g.id)));
        }
    }
    rows
}

fn render_detail(app: &App, f: &mut Frame, area: Rect, idx: u32, scroll: u16) {
    let t = &app.theme;
    let Some(row) = app.store.rows.get(idx as usize) else { return };
    let (r, b) = overlay(f, area, t, format!(" {} ", row.name));
    let b = b.title_bottom(Line::styled(" Esc close · y copy email · Y copy id ", t.muted).right_aligned());
    let rows = detail_rows(app, idx);
    let kw = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0).min(24);
    let lines: Vec<Line> = rows
        .into_iter()
        .map(|(k, v)| {
            let vs = if k == "active" && v == "false" { t.warning } else { t.text };
            Line::from(vec![Span::styled(format!("{k:<kw$}  "), t.header), Span::styled(v, vs)])
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(b).wrap(Wrap { trim: false }).scroll((scroll, 0)), r);
}

fn render_members(app: &App, f: &mut Frame, area: Rect, group: usize, selected: usize, offset: usize) {
    let t = &app.theme;
    let Some(g) = app.groups.get(group) else { return };
    let (r, b) = overlay(
        f,
        area,
        t,
        Line::from(vec![Span::styled(format!(" {} ", g.name), t.title), Span::styled(format!("{} members ", g.members.len()), t.muted)]),
    );
    let b = b.title_bottom(Line::styled(" Enter jump to user · Esc close ", t.muted).right_aligned());
    let inner = b.inner(r);
    f.render_widget(b, r);
    if g.members.is_empty() {
        f.render_widget(Paragraph::new(Line::styled("  This group has no members.", t.muted)), inner);
        return;
    }
    let height = inner.height.saturating_sub(1) as usize;
    let off = visible_offset(selected, offset, height, g.members.len());
    let end = (off + height).min(g.members.len());
    let rows = g.members[off..end].iter().map(|id| match app.store.index_of(id) {
        Some(i) => {
            let u = &app.store.rows[i as usize];
            let row = Row::new(vec![Cell::from(u.name.as_ref()), Cell::from(u.email.as_ref()), Cell::from(id.as_str())]);
            if u.active { row } else { row.style(t.inactive) }
        }
        None => Row::new(vec![Cell::from("(not loaded)"), Cell::from(""), Cell::from(id.as_str())]).style(t.muted),
    });
    let table = Table::new(rows, [Constraint::Fill(2), Constraint::Fill(3), Constraint::Length(11)])
        .header(Row::new(["Name", "Email", "Id"]).style(t.header))
        .row_highlight_style(t.selected)
        .highlight_symbol(MARK)
        .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
    let mut state = TableState::new().with_selected(Some(selected - off));
    f.render_stateful_widget(table, inner, &mut state);
}
