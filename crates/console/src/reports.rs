//! The Reports pane: the filters of `scimitar report` as text fields, the matching records in a
//! virtualised table, a bar chart of operations per day and outcome for the span, a detail view
//! of one record (`detail::Detail`) and an export of the records shown to CSV.
//!
//! The database is read by the executor ([`load`], [`export_csv`] run on `spawn_blocking`);
//! the pane asks for it with effects and takes the results; drawing is pure.

use super::component::{Binding, Component, Ctx, Handled, N, NAV, Note, Offer, View, bind, hint_bar, hint_list, lookup, moved, offers_rw};
use super::detail::{Detail, Tone};
use super::draw::{MARK, block, hint_line, thousands, visible_offset};
use super::msg::{Effect, Level, Msg};
pub use super::msg::{ReportData, ReportRow};
use super::theme::Theme;
use crossterm::event::{Event, KeyCode, KeyEvent};
use provision::report::{Outcome, ReportQuery, ReportStore, StoredRecord, format_time, parse_time};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Cell, Paragraph, Row, Table, TableState, Wrap};
use scim::sanitize::clean;
use std::borrow::Cow;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use time::{Date, OffsetDateTime};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

/// The filter fields, in the order of `scimitar report`'s options.
pub const FIELDS: [&str; 7] = ["user", "action", "outcome", "profile", "since", "until", "batch"];
pub const SINCE: usize = 4;
pub const UNTIL: usize = 5;
/// The span the pane opens with.
pub const DEFAULT_SINCE: &str = "7d";
/// Records loaded into the table at most (the newest); the title says when more match.
pub const LIMIT: usize = 10_000;
/// Days the chart covers at most (the newest).
const CHART_DAYS: i64 = 62;

#[derive(Debug)]
pub struct ReportsPane {
    pub inputs: [Input; 7],
    /// The field being edited (the filter bar has the keys while this is set).
    pub focus: Option<usize>,
    pub data: ReportData,
    /// The chart's days (first, last), from the filters of the query that is shown.
    pub span: Option<(Date, Date)>,
    pub selected: usize,
    pub offset: usize,
    pub generation: u64,
    pub loading: bool,
    /// A query ran (or is running) since the pane opened.
    pub started: bool,
    pub error: Option<String>,
    /// Why the last filter was refused (the rows are still the previous query's); shown until
    /// the next key, beside the export's path rather than over it (issue 25).
    pub refused: Option<String>,
    /// The last export's file.
    pub exported: Option<String>,
    pub exporting: bool,
    /// The fields of the query the rows are for: a refused filter puts them back.
    applied: Vec<String>,
}

impl Default for ReportsPane {
    fn default() -> Self {
        let mut inputs: [Input; 7] = Default::default();
        inputs[SINCE] = Input::new(DEFAULT_SINCE.into());
        ReportsPane {
            inputs,
            focus: None,
            data: ReportData::default(),
            span: None,
            selected: 0,
            offset: 0,
            generation: 0,
            loading: false,
            started: false,
            error: None,
            refused: None,
            exported: None,
            exporting: false,
            applied: Vec::new(),
        }
    }
}

impl ReportsPane {
    pub fn value(&self, field: usize) -> &str {
        self.inputs[field].value().trim()
    }

    /// The query of the fields, times read against `now`; errors name the field and the value.
    pub fn build_query(&self, now: OffsetDateTime) -> Result<(ReportQuery, (Date, Date)), String> {
        let opt = |i: usize| Some(self.value(i).to_string()).filter(|s| !s.is_empty());
        let time = |i: usize| -> Result<Option<OffsetDateTime>, String> {
            opt(i).map(|s| parse_time(&s, now).map_err(|e| format!("{}: {e}", FIELDS[i]))).transpose()
        };
        let outcome = opt(2).map(|s| s.parse::<Outcome>().map_err(|e| format!("outcome: {e}"))).transpose()?;
        let since = time(SINCE)?;
        let until = time(UNTIL)?;
        let last = until.map(|u| (u - time::Duration::milliseconds(1)).date()).unwrap_or(now.date()).min(now.date());
        let first = since.map(|s| s.date()).unwrap_or(last - time::Duration::days(6)).max(last - time::Duration::days(CHART_DAYS - 1));
        let q = ReportQuery {
            user: opt(0),
            user_contains: true,
            action: opt(1),
            outcome,
            profile: opt(3),
            since,
            until,
            batch: opt(6),
            limit: Some(LIMIT),
        };
        Ok((q, (first.min(last), last)))
    }

    pub fn selected_row(&self) -> Option<&ReportRow> {
        self.data.rows.get(self.selected)
    }

    pub fn move_by(&mut self, delta: isize, height: usize) {
        let n = self.data.rows.len();
        if n == 0 {
            return;
        }
        self.selected = moved(self.selected, delta, n);
        self.offset = visible_offset(self.selected, self.offset, height, n);
    }
}

/// Executor side: run a query against the database at `db` (blocking; call on `spawn_blocking`).
pub fn load(db: &Path, q: &ReportQuery) -> Result<ReportData, String> {
    if !db.exists() {
        return Ok(ReportData { no_db: true, ..Default::default() });
    }
    let store = ReportStore::open(db).map_err(|e| format!("cannot open {}: {e:#}", db.display()))?;
    load_report(&store, q)
}

/// Executor side: [`load`] from a shared store (PostgreSQL).
pub fn load_from(store: &provision::store::Store, q: &ReportQuery) -> Result<ReportData, String> {
    load_report(&ReportStore::on(store.clone()), q)
}

fn load_report(store: &ReportStore, q: &ReportQuery) -> Result<ReportData, String> {
    let rows = store.query(q).map_err(|e| format!("{e:#}"))?;
    let total = store.count_matching(q).map_err(|e| format!("{e:#}"))?;
    let daily = store.daily_counts(q).map_err(|e| format!("{e:#}"))?;
    Ok(ReportData { rows: rows.into_iter().map(ReportRow::new).collect(), total, daily, no_db: false })
}

/// The export file's name for an instant: `scimitar-report-20261122-190700.csv`.
pub fn export_name(now: OffsetDateTime) -> String {
    format!(
        "scimitar-report-{}{:02}{:02}-{:02}{:02}{:02}.csv",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Executor side: write records as CSV (every field, the columns of `scimitar report --output
/// csv`, so `report::interchange::read_csv` reads it back) to a new file in `dir`; returns its path.
/// Blocking; never overwrites an existing file.
pub fn export_csv(records: &[StoredRecord], dir: &Path, now: OffsetDateTime) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let name = export_name(now);
    let mut path = dir.join(&name);
    let mut n = 1;
    while path.exists() {
        path = dir.join(name.replace(".csv", &format!("-{n}.csv")));
        n += 1;
    }
    // Owner-only: the records hold emails and names.
    let mut f = provision::files::create_new_private(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    provision::report::interchange::write_csv(records, &mut f).map_err(|e| format!("{}: {e:#}", path.display()))?;
    Ok(path)
}

/// Where exports go: `dir` when it exists or can be made (owner-only), else the current directory.
pub fn export_dir(dir: &std::path::Path) -> PathBuf {
    let made = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir);
    if made.is_ok() { dir.to_path_buf() } else { PathBuf::from(".") }
}

/// Every field of a record for the detail view, cleaned.
pub fn detail_rows(s: &StoredRecord) -> Vec<(&'static str, String)> {
    let mut rows: Vec<(&'static str, String)> = provision::report::interchange::CSV_HEADERS
        .iter()
        .copied()
        .zip(provision::report::interchange::csv_row(s))
        .map(|(k, v)| (k, clean(&v)))
        .collect();
    for (k, v) in rows.iter_mut() {
        if (*k == "started_at" || *k == "finished_at") && v.is_empty() {
            *v = format_time(s.record.finished_at);
        }
    }
    rows
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Open,
    Filter,
    Export,
    Rerun,
    Restore,
}

static KEYS: &[Binding<Act>] = &[
    bind!("Enter", "open", "open the record's detail view (every field, hash included)", Act::Open, [(KeyCode::Enter, N)]),
    bind!(
        "/",
        "filter",
        "edit the filters (Tab/↑↓ between fields, Enter runs the query, Esc leaves)",
        Act::Filter,
        [(KeyCode::Char('/'), N)]
    ),
    bind!("e", "export", "export the records shown to a CSV file (path in the Log)", Act::Export, [(KeyCode::Char('e'), N)]),
    bind!("r", "rerun", "run the query again", Act::Rerun, [(KeyCode::Char('r'), N)]),
    bind!(
        "u",
        "restore",
        "undo a done operation from the journal: a value set back where Slack still holds what it wrote, a membership, a name, a deactivation with its groups and roles (one confirmation)",
        Act::Restore,
        [(KeyCode::Char('u'), N)]
    ),
];

/// A record `u` can restore: a done operation whose kind has an undo (`queue::restore`).
fn restorable(r: &provision::report::OperationRecord) -> bool {
    let undoable = ["deactivate", "reactivate", "update_user", "add_members", "remove_members", "rename_group"];
    undoable.contains(&r.action.as_str()) && r.outcome == Outcome::Done
}

/// Keys while a filter field is edited.
fn field_offers() -> Vec<Offer> {
    vec![
        Offer::new("Tab/↓", "next field", "the next filter field", true),
        Offer::new("S-Tab/↑", "previous", "the previous filter field", true),
        Offer::new("Enter", "run", "run the query of the fields", true),
        Offer::new("Esc", "leave", "leave the fields (the query shown stays)", true),
    ]
}

impl ReportsPane {
    /// Run the query of the filter fields (stale answers to earlier ones are dropped).
    fn run_query(&mut self, ctx: &mut Ctx) -> Vec<Effect> {
        match self.build_query(OffsetDateTime::now_utc()) {
            Ok((query, span)) => {
                self.applied = (0..FIELDS.len()).map(|i| self.value(i).to_string()).collect();
                self.generation += 1;
                self.loading = true;
                self.started = true;
                self.error = None;
                self.span = Some(span);
                self.refused = None;
                vec![Effect::QueryReports { generation: self.generation, query }]
            }
            Err(e) => {
                // Refused: the fields go back to the query the rows are for, so the header never
                // shows a filter the rows do not match.
                let shown = if self.started { "the rows shown are still for the filters above" } else { "no query ran" };
                let msg = clean(&format!("{e}; refused, {shown}"));
                if self.applied.len() == FIELDS.len() {
                    for (i, v) in self.applied.iter().enumerate() {
                        self.inputs[i] = Input::new(v.clone());
                    }
                } else {
                    let def = ReportsPane::default();
                    self.inputs = def.inputs;
                }
                self.refused = Some(msg.clone());
                ctx.log(Level::Error, format!("report filter: {msg}"));
                vec![]
            }
        }
    }

    fn loaded(&mut self, ctx: &mut Ctx, generation: u64, result: Result<ReportData, String>) -> Vec<Effect> {
        if generation != self.generation {
            return vec![];
        }
        self.loading = false;
        match result {
            Ok(data) => {
                // An open detail view shows a record of the old rows.
                ctx.close_all::<Detail>();
                self.data = data;
                self.selected = 0;
                self.offset = 0;
                self.error = None;
            }
            Err(e) => {
                self.error = Some(clean(&e));
                ctx.log(Level::Error, format!("reading the report failed: {e}"));
            }
        }
        vec![]
    }

    fn export(&mut self, ctx: &mut Ctx) -> Vec<Effect> {
        if self.exporting {
            return vec![];
        }
        if self.data.rows.is_empty() {
            ctx.log(Level::Warn, "nothing to export: no records shown");
            return vec![];
        }
        self.exporting = true;
        let records = self.data.rows.iter().map(|r| r.stored.clone()).collect();
        vec![Effect::ExportReports { records }]
    }

    fn exported(&mut self, ctx: &mut Ctx, count: usize, result: Result<PathBuf, String>) -> Vec<Effect> {
        self.exporting = false;
        match result {
            Ok(path) => {
                let shown = path.display().to_string();
                self.exported = Some(clean(&shown));
                let more = self.data.total.saturating_sub(count as u64);
                let note = if more > 0 {
                    format!(
                        " ({} older matching records were not loaded; narrow the span or use `scimitar report --output csv --limit 0`)",
                        super::draw::thousands(more)
                    )
                } else {
                    String::new()
                };
                ctx.log(Level::Ok, format!("exported {} to {shown}{note}", super::draw::counted(count, "record")));
            }
            Err(e) => ctx.log(Level::Error, format!("export failed: {e}")),
        }
        vec![]
    }

    /// Keys while a filter field is being edited.
    fn field_key(&mut self, i: usize, k: &KeyEvent, ctx: &mut Ctx) -> Vec<Effect> {
        match k.code {
            KeyCode::Esc => self.focus = None,
            KeyCode::Enter => {
                self.focus = None;
                return self.run_query(ctx);
            }
            KeyCode::Tab | KeyCode::Down => self.focus = Some((i + 1) % FIELDS.len()),
            KeyCode::BackTab | KeyCode::Up => self.focus = Some((i + FIELDS.len() - 1) % FIELDS.len()),
            _ => {
                self.inputs[i].handle_event(&Event::Key(*k));
            }
        }
        vec![]
    }

    fn open(&mut self, ctx: &mut Ctx) {
        let Some(row) = self.selected_row() else { return };
        let tone = match row.stored.record.outcome {
            Outcome::Done => Tone::Ok,
            Outcome::Failed => Tone::Error,
            Outcome::Cancelled => Tone::Muted,
            Outcome::Skipped => Tone::Warning,
        };
        let rows =
            detail_rows(&row.stored).into_iter().map(|(k, v)| (k.to_string(), v, if k == "outcome" { tone } else { Tone::Text })).collect();
        ctx.open(Detail::new(format!(" Record {} ", row.stored.seq), rows, usize::MAX));
    }
}

impl Component for ReportsPane {
    fn title(&self) -> Cow<'static, str> {
        "Reports".into()
    }

    fn keys(&self, v: &View) -> Vec<Offer> {
        if self.focus.is_some() {
            return field_offers();
        }
        let rows = !self.data.rows.is_empty();
        let restore = self.selected_row().is_some_and(|r| restorable(&r.stored.record)) && v.queue.refuse_writes().is_none();
        let now = |a| match a {
            Act::Open | Act::Export => rows,
            Act::Filter | Act::Rerun => true,
            Act::Restore => restore,
        };
        offers_rw(KEYS, now, |a| a == Act::Restore, v.queue.read_only())
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        if let Some(i) = self.focus {
            return self.field_key(i, k, ctx).into();
        }
        // A refused filter was said (and is in the Log); the next key puts it away.
        self.refused = None;
        if let Some(a) = lookup(KEYS, k) {
            let fx = match a {
                Act::Open => {
                    self.open(ctx);
                    vec![]
                }
                Act::Filter => {
                    self.focus = Some(0);
                    vec![]
                }
                Act::Export => self.export(ctx),
                Act::Rerun => self.run_query(ctx),
                Act::Restore => match self.selected_row().map(|r| &r.stored.record) {
                    Some(r) if restorable(r) => super::queue_flow::ask_restore(ctx, provision::queue::restore::Which::Op(r.op_id.clone())),
                    Some(_) => {
                        ctx.log(Level::Info, "restore: select a done deactivation (u undoes it with what it took away)");
                        vec![]
                    }
                    None => vec![],
                },
            };
            return Handled::Consumed(fx);
        }
        if let Some(nav) = lookup(NAV, k) {
            let h = table_height(ctx.area);
            self.move_by(nav.delta(h), h);
            return Handled::done();
        }
        Handled::Ignored
    }

    fn update(&mut self, msg: Msg, ctx: &mut Ctx) -> Result<Vec<Effect>, Msg> {
        Ok(match msg {
            Msg::ReportsLoaded { generation, result } => self.loaded(ctx, generation, result),
            Msg::ReportsExported { count, result } => self.exported(ctx, count, result),
            other => return Err(other),
        })
    }

    fn notify(&mut self, note: &Note, ctx: &mut Ctx) -> Vec<Effect> {
        // New records (a batch finished, a restore started from here among them): read the
        // query again now, so the rows and the title's count are never stale (issue 25: they
        // were until `r`). Not queried yet: the first visit does it.
        if *note == Note::Reported && self.started && self.focus.is_none() {
            return self.run_query(ctx);
        }
        vec![]
    }

    fn entered(&mut self, ctx: &mut Ctx) -> Vec<Effect> {
        if self.started { vec![] } else { self.run_query(ctx) }
    }

    fn busy(&self) -> bool {
        self.loading || self.exporting
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        render_pane(self, f, area, v);
    }
}

// ---- drawing ----------------------------------------------------------------------------------

/// Heights of the filter bar, the chart and the table inside the pane's border at `inner`.
pub fn layout(inner: Rect) -> [Rect; 3] {
    let filter_h = filter_lines(inner.width);
    let chart_h = if inner.height >= 14 { (inner.height / 3).clamp(5, 10) } else { 0 };
    Layout::vertical([Constraint::Length(filter_h), Constraint::Length(chart_h), Constraint::Fill(1)]).areas(inner)
}

fn filter_lines(width: u16) -> u16 {
    if width >= 140 { 1 } else { 2 }
}

/// Table rows that fit (header taken off), for paging.
pub fn table_height(body: Rect) -> usize {
    let inner = Rect { x: body.x + 1, y: body.y + 1, width: body.width.saturating_sub(2), height: body.height.saturating_sub(2) };
    layout(inner)[2].height.saturating_sub(1) as usize
}

fn render_pane(p: &ReportsPane, f: &mut Frame, r: Rect, v: &View) {
    let t = v.theme;
    let mut title = vec![Span::styled(" Reports ", t.title)];
    let shown = p.data.rows.len() as u64;
    if p.started && !p.data.no_db {
        let counts =
            if shown == p.data.total { thousands(shown) } else { format!("newest {} of {}", thousands(shown), thousands(p.data.total)) };
        title.push(Span::styled(format!("{counts} "), t.muted));
    }
    let width = r.width.saturating_sub(4) as usize;
    let hint = if p.focus.is_some() { hint_list(&p.keys(v), width) } else { hint_bar(&p.keys(v), &[": command"], width) };
    let mut b = block(t, Line::from(title), true).title_bottom(hint_line(t, hint));
    if p.loading {
        b = b.title_top(Line::styled(format!(" {} querying ", v.spinner), t.accent).right_aligned());
    }
    let inner = b.inner(r);
    f.render_widget(b, r);
    if inner.height < 3 || inner.width < 10 {
        return;
    }
    let [fa, ca, ta] = layout(inner);
    render_filters(p, f, fa, v);
    if p.data.no_db {
        let msg = vec![
            Line::styled("  No operations recorded yet; they appear here after the first bulk action.", t.muted),
            Line::styled(format!("  (The report is kept in {}.)", v.paths.database().display()), t.muted),
        ];
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), Rect { y: ca.y, height: ca.height + ta.height, ..ca });
        return;
    }
    if ca.height > 0 {
        render_chart(p, f, ca, v);
    }
    render_table(p, f, ta, v);
}

fn field_areas(r: Rect) -> Vec<Rect> {
    let per_line = if r.height >= 2 { 4 } else { 7 };
    let mut out = Vec::new();
    for line in 0..r.height.min(2) {
        let n = if line == 0 { per_line.min(7) } else { 7 - per_line };
        if n == 0 {
            continue;
        }
        let cols = Layout::horizontal(vec![Constraint::Ratio(1, per_line as u32); per_line]).split(Rect { y: r.y + line, height: 1, ..r });
        out.extend(cols.iter().take(n).copied());
    }
    out
}

fn render_filters(p: &ReportsPane, f: &mut Frame, r: Rect, v: &View) {
    let t = v.theme;
    for (i, a) in field_areas(r).into_iter().enumerate() {
        let label = format!("{}:", FIELDS[i]);
        let lw = label.len() as u16 + 1;
        let focused = p.focus == Some(i);
        let vw = a.width.saturating_sub(lw + 1).max(1) as usize;
        let input = &p.inputs[i];
        let scroll = input.visual_scroll(vw);
        let val: String = clean(input.value()).chars().skip(scroll).take(vw).collect();
        let vstyle = if focused {
            t.selected
        } else if val.is_empty() {
            t.muted
        } else {
            t.input
        };
        let shown = if val.is_empty() && !focused { "·".to_string() } else { format!("{val:<vw$}") };
        let lstyle = if focused { t.accent } else { t.header };
        f.render_widget(Paragraph::new(Line::from(vec![Span::styled(label, lstyle), Span::raw(" "), Span::styled(shown, vstyle)])), a);
        if focused {
            let x = a.x + lw + (input.visual_cursor().saturating_sub(scroll)) as u16;
            f.set_cursor_position((x.min(a.right().saturating_sub(1)), a.y));
        }
    }
}

fn outcome_style(t: &Theme, o: Outcome) -> Style {
    match o {
        Outcome::Done => t.ok,
        Outcome::Failed => t.error,
        Outcome::Cancelled => t.muted,
        Outcome::Skipped => t.warning,
    }
}

fn render_chart(p: &ReportsPane, f: &mut Frame, r: Rect, v: &View) {
    let t = v.theme;
    let Some((first, last)) = p.span else { return };
    let outcomes: Vec<Outcome> = Outcome::ALL.into_iter().filter(|o| p.data.daily.iter().any(|(_, x, n)| x == o && *n > 0)).collect();
    let mut legend = vec![Span::styled("per day ", t.header)];
    for o in &outcomes {
        let n: u64 = p.data.daily.iter().filter(|(_, x, _)| x == o).map(|(_, _, n)| n).sum();
        legend.push(Span::styled(format!("■ {o} {} ", thousands(n)), outcome_style(t, *o)));
    }
    if outcomes.is_empty() {
        legend.push(Span::styled("no operations in this span", t.muted));
    }
    f.render_widget(Paragraph::new(Line::from(legend)), Rect { height: 1, ..r });
    let area = Rect { y: r.y + 1, height: r.height - 1, ..r };
    if outcomes.is_empty() || area.height < 2 {
        return;
    }
    let bars_per_day = outcomes.len() as u16;
    let mut days: Vec<Date> = Vec::new();
    let mut d = first;
    while d <= last {
        days.push(d);
        d = d.next_day().unwrap_or(d);
        if days.len() as i64 > CHART_DAYS {
            break;
        }
    }
    // Bars as wide as fit, one column between days; the oldest days give way when too many.
    let fit_days = (area.width / (bars_per_day + 1)).max(1) as usize;
    if days.len() > fit_days {
        days.drain(..days.len() - fit_days);
    }
    let bar_w = ((area.width.saturating_sub(days.len() as u16)) / (days.len() as u16 * bars_per_day).max(1)).clamp(1, 8);
    let group_w = bar_w * bars_per_day;
    let mut chart = BarChart::default().bar_width(bar_w).bar_gap(0).group_gap(1).style(t.text).label_style(t.muted);
    for day in &days {
        let bars: Vec<Bar> = outcomes
            .iter()
            .map(|o| {
                let n = p.data.daily.iter().find(|(dd, x, _)| dd == day && x == o).map_or(0, |(_, _, n)| *n);
                Bar::default()
                    .value(n)
                    .text_value(if (bar_w as usize) > n.to_string().len() && n > 0 { n.to_string() } else { String::new() })
                    .style(outcome_style(t, *o))
            })
            .collect();
        let label = if group_w >= 5 { format!("{:02}-{:02}", day.month() as u8, day.day()) } else { format!("{:02}", day.day()) };
        chart = chart.data(BarGroup::default().label(Line::from(label).centered()).bars(&bars));
    }
    f.render_widget(chart, area);
}

/// Columns of the table at a width: (header, constraint, which cell).
fn columns(width: u16) -> Vec<(&'static str, Constraint, u8)> {
    let mut c = vec![
        if width >= 120 { ("Finished (UTC)", Constraint::Length(19), 0) } else { ("UTC", Constraint::Length(11), 0) },
        ("Action", Constraint::Length(14), 1),
        ("Target", Constraint::Fill(3), 2),
        ("Outcome", Constraint::Length(9), 3),
    ];
    if width >= 100 {
        c.push(("Code", Constraint::Length(18), 4));
    }
    if width >= 90 {
        c.push(("Message", Constraint::Fill(4), 5));
    }
    c
}

fn render_table(p: &ReportsPane, f: &mut Frame, r: Rect, v: &View) {
    let t = v.theme;
    let cols = columns(r.width);
    let header = Row::new(cols.iter().map(|(h, _, _)| Cell::from(*h))).style(t.header);
    let widths: Vec<Constraint> = cols.iter().map(|(_, c, _)| *c).collect();
    if p.data.rows.is_empty() {
        f.render_widget(Table::new(Vec::<Row>::new(), widths.clone()).header(header), r);
        let msg = if let Some(e) = p.refused.as_ref().or(p.error.as_ref()) {
            Line::styled(format!("  {e}"), t.error)
        } else if p.loading || !p.started {
            Line::styled(format!("  {} querying the report…", v.spinner), t.muted)
        } else {
            Line::styled("  No operation matches these filters. Press / to change them.", t.muted)
        };
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), Rect { y: r.y + 1, height: r.height.saturating_sub(1), ..r });
        return;
    }
    let height = r.height.saturating_sub(1) as usize;
    let off = visible_offset(p.selected, p.offset, height, p.data.rows.len());
    let end = (off + height).min(p.data.rows.len());
    let wide_time = r.width >= 120;
    let rows = p.data.rows[off..end].iter().map(|row| {
        let o = row.stored.record.outcome;
        Row::new(cols.iter().map(|(_, _, c)| match c {
            0 => Cell::from(if wide_time { row.time.as_str() } else { row.short_time.as_str() }),
            1 => Cell::from(clean(&row.stored.record.action)),
            2 => Cell::from(row.target.as_str()),
            3 => Cell::from(Span::styled(o.as_str(), outcome_style(t, o))),
            4 => Cell::from(row.code.as_str()),
            _ => Cell::from(row.message.as_str()),
        }))
    });
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(t.selected)
        .highlight_symbol(MARK)
        .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
    let mut state = TableState::new().with_selected(Some(p.selected - off));
    f.render_stateful_widget(table, r, &mut state);
    // A refused filter, a load error and the last export's path, each whole: one never hides
    // another (issue 25: a refused filter hid the export's path).
    let mut msg: Vec<Line> = Vec::new();
    for e in [&p.refused, &p.error].into_iter().flatten() {
        msg.push(Line::styled(e.clone(), t.error));
    }
    if let Some(path) = &p.exported {
        msg.push(Line::styled(format!("exported to {path}"), t.ok));
    }
    if !msg.is_empty() {
        // Over the last rows, wrapped, so the whole message (a path) shows at 80 columns.
        let h = (super::draw::wrapped_rows(&msg, r.width) as u16).min(r.height.saturating_sub(1)).max(1);
        let area = Rect { y: r.bottom().saturating_sub(h), height: h, ..r };
        f.render_widget(ratatui::widgets::Clear, area);
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: false }), area);
    }
}
