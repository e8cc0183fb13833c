//! The Policies pane: the policies on disk, the plan of the selected one against the live
//! directory (computed by the executor), grouped by kind with counts, one change in a detail
//! view, and apply after one confirmation.
//!
//! The plan is kept as the executor computed it ([`PlanHandle`]) so that what is applied is
//! exactly what the admin reviewed; drawing uses the rows built once in [`plan_rows`].

use super::app::App;
use super::render::{MARK, block, spinner, thousands, truncate};
use super::users::visible_offset;
use crate::policy::live::LivePlan;
use crate::policy::plan::{GroupTarget, MemberChange, MemberRef, Plan};
use crate::sanitize::clean;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};
use std::path::PathBuf;
use std::sync::Arc;

/// Above this many deactivations the confirmation asks for the count to be typed (as headless).
pub const CONFIRM_THRESHOLD: usize = crate::bulk::CONFIRM_THRESHOLD;

/// A computed plan, shared between the pane and the apply effect. Two handles are equal when
/// they are the same computation.
#[derive(Clone, Debug)]
pub struct PlanHandle(pub Arc<LivePlan>);

impl PartialEq for PlanHandle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Create,
    Update,
    Reactivate,
    Deactivate,
    GroupCreate,
    Rename,
    MemberAdd,
    MemberRemove,
    ReportOnly,
    Warning,
}

impl Kind {
    pub fn title(self) -> &'static str {
        match self {
            Kind::Create => "Create users",
            Kind::Update => "Update users",
            Kind::Reactivate => "Reactivate users",
            Kind::Deactivate => "Deactivate users",
            Kind::GroupCreate => "Create groups",
            Kind::Rename => "Rename groups",
            Kind::MemberAdd => "Add members",
            Kind::MemberRemove => "Remove members",
            Kind::ReportOnly => "Would deactivate (reported only)",
            Kind::Warning => "Warnings",
        }
    }
    fn sign(self) -> &'static str {
        match self {
            Kind::Create | Kind::GroupCreate | Kind::MemberAdd => "+",
            Kind::Update | Kind::Rename => "~",
            Kind::Reactivate => "↺",
            Kind::Deactivate | Kind::MemberRemove => "-",
            Kind::ReportOnly | Kind::Warning => "!",
        }
    }
}

/// One line of the plan: a kind's heading (with its count) or one change with its details.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeRow {
    pub kind: Kind,
    pub heading: bool,
    pub text: String,
    pub detail: Vec<(String, String)>,
}

/// The plan of one policy as shown.
#[derive(Debug)]
pub struct PlanView {
    pub name: String,
    pub live: PlanHandle,
    pub rows: Vec<ChangeRow>,
    pub selected: usize,
    pub offset: usize,
    /// The policy's own ceiling, when the plan is over it.
    pub ceiling: Option<String>,
}

#[derive(Debug, Default)]
pub struct PoliciesPane {
    pub list: Vec<(String, PathBuf)>,
    /// The list was read at least once.
    pub listed: bool,
    pub selected: usize,
    pub offset: usize,
    /// The plan side has the keys (else the list).
    pub focus_plan: bool,
    pub generation: u64,
    /// The policy whose plan is being computed.
    pub computing: Option<String>,
    pub plan: Option<PlanView>,
    pub error: Option<String>,
    /// The policy being applied, and (done, failed, total) of the running batch.
    pub applying: Option<String>,
    pub progress: (usize, usize, usize),
    /// The gate's decision on the plan shown, made when `A` opened the confirmation (what the
    /// confirmation shows; `apply_live` gates every pass again when it runs).
    pub pending: Option<crate::queue::Decision>,
}

/// What the apply confirmation asks.
#[derive(Clone, Debug, PartialEq)]
pub struct ApplyTerms {
    /// Deactivations the gate lets through (the count to type).
    pub deactivations: usize,
    pub must_type: bool,
    /// The policy's ceiling and the profile's (the gate's), when the plan is over them.
    pub warnings: Vec<String>,
    /// The gate's one line: "5 to create user, 9 to update, 8 to deactivate · skipped: 1 bot".
    pub summary: String,
}

impl PoliciesPane {
    pub fn new() -> Self {
        PoliciesPane::default()
    }

    pub fn selected_policy(&self) -> Option<&(String, PathBuf)> {
        self.list.get(self.selected)
    }

    pub fn set_plan(&mut self, name: String, live: PlanHandle) {
        let rows = plan_rows(&live.0.plan);
        let ceiling = live.0.plan.check_ceiling(&live.0.policy, live.0.active_users).err().map(|e| e.to_string());
        let selected = rows.iter().position(|r| !r.heading).unwrap_or(0);
        self.plan = Some(PlanView { name, live, rows, selected, offset: 0, ceiling });
    }

    pub fn move_by(&mut self, delta: isize, height: usize) {
        if self.focus_plan {
            if let Some(p) = self.plan.as_mut() {
                let n = p.rows.len();
                if n > 0 {
                    p.selected = (p.selected as isize).saturating_add(delta).clamp(0, n as isize - 1) as usize;
                    p.offset = visible_offset(p.selected, p.offset, height, n);
                }
            }
        } else {
            let n = self.list.len();
            if n > 0 {
                self.selected = (self.selected as isize).saturating_add(delta).clamp(0, n as isize - 1) as usize;
                self.offset = visible_offset(self.selected, self.offset, height, n);
            }
        }
    }

    /// What the confirmation asks (from the gate's decision made when it opened).
    pub fn confirm_terms(&self) -> Option<ApplyTerms> {
        let p = self.plan.as_ref()?;
        let d = self.pending.as_ref()?;
        let mut warnings: Vec<String> = p.ceiling.iter().cloned().collect();
        warnings.extend(d.ceiling());
        let deactivations = d.deactivations();
        let must_type = !warnings.is_empty() || deactivations > CONFIRM_THRESHOLD;
        Some(ApplyTerms { deactivations, must_type, warnings, summary: d.summary() })
    }
}

fn member_rows(kind: Kind, changes: &[MemberChange], out: &mut Vec<ChangeRow>) {
    for mc in changes {
        let group = clean(&mc.group_name);
        let gid = match &mc.group {
            GroupTarget::Existing { id } => clean(id),
            GroupTarget::Pending { key } => format!("(created by this plan, rule {})", clean(key)),
        };
        for m in &mc.members {
            let (who, id) = match m {
                MemberRef::User { id, label } => (clean(label), clean(id)),
                MemberRef::Pending { key, label } => (clean(label), format!("(created by this plan, source key {})", clean(key))),
            };
            let arrow = if kind == Kind::MemberAdd { "→" } else { "←" };
            out.push(ChangeRow {
                kind,
                heading: false,
                text: format!("{who} {arrow} {group}"),
                detail: vec![
                    ("group".into(), group.clone()),
                    ("group id".into(), gid.clone()),
                    ("user".into(), who),
                    ("user id".into(), id),
                ],
            });
        }
    }
}

/// The plan as rows: each kind with changes gets a heading with its count, then its changes.
pub fn plan_rows(plan: &Plan) -> Vec<ChangeRow> {
    let mut out = Vec::new();
    let section = |kind: Kind, items: Vec<ChangeRow>, out: &mut Vec<ChangeRow>| {
        if items.is_empty() {
            return;
        }
        out.push(ChangeRow { kind, heading: true, text: format!("{} ({})", kind.title(), thousands(items.len() as u64)), detail: vec![] });
        out.extend(items);
    };
    let line = |n: usize| ("source line".to_string(), n.to_string());
    section(
        Kind::Create,
        plan.creates
            .iter()
            .map(|c| {
                let mut detail = vec![("label".to_string(), clean(&c.label)), ("source key".into(), clean(&c.key)), line(c.row_line)];
                detail.extend(crate::cli::user_detail_rows(&c.user).into_iter().map(|(k, v)| (k, clean(&v))));
                ChangeRow { kind: Kind::Create, heading: false, text: clean(&c.label), detail }
            })
            .collect(),
        &mut out,
    );
    section(
        Kind::Update,
        plan.updates
            .iter()
            .map(|u| {
                let mut detail = vec![("user".to_string(), clean(&u.label)), ("id".into(), clean(&u.id)), line(u.row_line)];
                for ch in &u.changes {
                    let old = ch.old.as_deref().map(clean).unwrap_or_else(|| "(none)".into());
                    let new = ch.new.as_deref().map(clean).unwrap_or_else(|| "(cleared)".into());
                    detail.push((ch.attr.name().to_string(), format!("{old} → {new}")));
                }
                let attrs: Vec<&str> = u.changes.iter().map(|c| c.attr.name()).collect();
                ChangeRow { kind: Kind::Update, heading: false, text: format!("{}: {}", clean(&u.label), attrs.join(", ")), detail }
            })
            .collect(),
        &mut out,
    );
    section(
        Kind::Reactivate,
        plan.reactivations
            .iter()
            .map(|r| ChangeRow {
                kind: Kind::Reactivate,
                heading: false,
                text: clean(&r.label),
                detail: vec![
                    ("user".into(), clean(&r.label)),
                    ("email".into(), clean(&r.email)),
                    ("id".into(), clean(&r.id)),
                    line(r.row_line),
                ],
            })
            .collect(),
        &mut out,
    );
    let deact = |kind: Kind, d: &crate::policy::plan::Deactivate| {
        let mut detail = vec![
            ("user".to_string(), clean(&d.label)),
            ("email".into(), clean(&d.email)),
            ("id".into(), clean(&d.id)),
            ("reason".into(), d.reason.as_str().to_string()),
        ];
        if let Some(n) = d.row_line {
            detail.push(line(n));
        }
        ChangeRow { kind, heading: false, text: format!("{} ({})", clean(&d.label), d.reason.as_str()), detail }
    };
    section(Kind::Deactivate, plan.deactivations.iter().map(|d| deact(Kind::Deactivate, d)).collect(), &mut out);
    section(
        Kind::GroupCreate,
        plan.group_creates
            .iter()
            .map(|g| {
                let mut detail = vec![
                    ("group".to_string(), clean(&g.name)),
                    ("rule".into(), clean(&g.key)),
                    ("members".into(), g.members.len().to_string()),
                ];
                detail.extend(g.members.iter().map(|m| ("member".to_string(), clean(m.label()))));
                ChangeRow {
                    kind: Kind::GroupCreate,
                    heading: false,
                    text: format!("{} ({} members)", clean(&g.name), g.members.len()),
                    detail,
                }
            })
            .collect(),
        &mut out,
    );
    section(
        Kind::Rename,
        plan.group_renames
            .iter()
            .map(|r| ChangeRow {
                kind: Kind::Rename,
                heading: false,
                text: format!("{} → {}", clean(&r.old), clean(&r.new)),
                detail: vec![
                    ("group id".into(), clean(&r.id)),
                    ("rule".into(), clean(&r.key)),
                    ("name".into(), format!("{} → {}", clean(&r.old), clean(&r.new))),
                ],
            })
            .collect(),
        &mut out,
    );
    let mut adds = Vec::new();
    member_rows(Kind::MemberAdd, &plan.member_adds, &mut adds);
    section(Kind::MemberAdd, adds, &mut out);
    let mut removes = Vec::new();
    member_rows(Kind::MemberRemove, &plan.member_removes, &mut removes);
    section(Kind::MemberRemove, removes, &mut out);
    section(Kind::ReportOnly, plan.reported_only.iter().map(|d| deact(Kind::ReportOnly, d)).collect(), &mut out);
    section(
        Kind::Warning,
        plan.warnings
            .iter()
            .map(|w| ChangeRow { kind: Kind::Warning, heading: false, text: clean(w), detail: vec![("warning".into(), clean(w))] })
            .collect(),
        &mut out,
    );
    out
}

/// "2 create, 1 update, …": the counts of a plan, the kinds with changes only.
pub fn summary(plan: &Plan) -> String {
    let c = plan.counts();
    let parts: Vec<String> = [
        (c.creates, "create"),
        (c.updates, "update"),
        (c.reactivations, "reactivate"),
        (c.deactivations, "deactivate"),
        (c.group_creates, "group create"),
        (c.group_renames, "rename"),
        (c.member_adds, "member add"),
        (c.member_removes, "member remove"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, s)| format!("{} {s}", thousands(n as u64)))
    .collect();
    if parts.is_empty() { "no changes".into() } else { parts.join(", ") }
}

/// The plan's rows that fit (for paging), from the pane's rectangle.
pub fn list_height(body: Rect) -> usize {
    body.height.saturating_sub(4) as usize
}

fn kind_style(app: &App, k: Kind) -> Style {
    let t = &app.theme;
    match k {
        Kind::Create | Kind::GroupCreate | Kind::MemberAdd | Kind::Reactivate => t.ok,
        Kind::Update | Kind::Rename => t.accent,
        Kind::Deactivate | Kind::MemberRemove => t.error,
        Kind::ReportOnly | Kind::Warning => t.warning,
    }
}

pub fn render(app: &App, f: &mut Frame, r: Rect) {
    let list_w = if r.width >= 120 { 32 } else { (r.width / 4).clamp(14, 24) };
    let [lr, pr] = Layout::horizontal([Constraint::Length(list_w), Constraint::Fill(1)]).areas(r);
    render_list(app, f, lr);
    render_plan(app, f, pr);
}

fn render_list(app: &App, f: &mut Frame, r: Rect) {
    let t = &app.theme;
    let p = &app.policies;
    let b =
        block(t, Line::from(vec![Span::styled(" Policies ", t.title), Span::styled(format!("{} ", p.list.len()), t.muted)]), !p.focus_plan);
    let inner = b.inner(r);
    f.render_widget(b, r);
    if inner.height == 0 {
        return;
    }
    if p.list.is_empty() {
        let dir = app.paths.policies_dir();
        let msg = if p.listed {
            format!("No policies. Put policy files (.toml) in {} (see docs/policies.md).", dir.display())
        } else {
            "reading policies…".into()
        };
        f.render_widget(Paragraph::new(Line::styled(msg, t.muted)).wrap(Wrap { trim: true }), inner);
        return;
    }
    let h = inner.height as usize;
    let off = visible_offset(p.selected, p.offset, h, p.list.len());
    let end = (off + h).min(p.list.len());
    let rows = p.list[off..end].iter().map(|(name, _)| {
        let mark = if p.computing.as_deref() == Some(name.as_str()) {
            spinner(app).to_string()
        } else if p.plan.as_ref().is_some_and(|v| v.name == *name) {
            "•".into()
        } else {
            " ".into()
        };
        Row::new(vec![Cell::from(clean(name)), Cell::from(mark)])
    });
    let table = Table::new(rows, [Constraint::Fill(1), Constraint::Length(1)])
        .row_highlight_style(if p.focus_plan { t.muted } else { t.selected })
        .highlight_symbol(MARK)
        .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
    let mut state = TableState::new().with_selected(Some(p.selected - off));
    f.render_stateful_widget(table, inner, &mut state);
}

fn render_plan(app: &App, f: &mut Frame, r: Rect) {
    let t = &app.theme;
    let p = &app.policies;
    let name = p.plan.as_ref().map(|v| v.name.as_str()).or(p.selected_policy().map(|(n, _)| n.as_str())).unwrap_or("");
    let mut title = vec![Span::styled(" Plan ", t.title)];
    if !name.is_empty() {
        title.push(Span::styled(format!("{} ", clean(name)), t.muted));
    }
    let hint = super::keys::hint(super::keys::POLICIES, r.width.saturating_sub(4) as usize);
    let mut b = block(t, Line::from(title), p.focus_plan).title_bottom(Line::styled(hint, t.muted).right_aligned());
    if let Some(a) = &p.applying {
        let (done, failed, total) = p.progress;
        b = b.title_top(
            Line::styled(format!(" {} applying {}: {done}/{total}, {failed} failed ", spinner(app), clean(a)), t.accent).right_aligned(),
        );
    } else if let Some(c) = &p.computing {
        b = b.title_top(Line::styled(format!(" {} computing the plan of {} ", spinner(app), clean(c)), t.accent).right_aligned());
    }
    let inner = b.inner(r);
    f.render_widget(b, r);
    if inner.height == 0 || inner.width < 4 {
        return;
    }
    let Some(v) = &p.plan else {
        let msg = match (&p.error, &p.computing) {
            (Some(e), _) => Line::styled(format!("  {e}"), t.error),
            (None, Some(_)) => Line::styled(format!("  {} reading the source and the live directory…", spinner(app)), t.muted),
            (None, None) if p.list.is_empty() => Line::styled("  No policy selected.", t.muted),
            (None, None) => Line::styled("  Press Enter to compute the selected policy's plan against the live directory.", t.muted),
        };
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), inner);
        return;
    };
    let plan = &v.live.0.plan;
    let mut head = vec![Span::styled(format!(" {} ", summary(plan)), t.header)];
    if let Some(c) = &v.ceiling {
        head.push(Span::styled(format!(" ⚠ {}", truncate(c, 60)), t.warning));
    }
    if let Some(e) = &p.error {
        head.push(Span::styled(format!(" {}", truncate(e, 60)), t.error));
    }
    f.render_widget(Paragraph::new(Line::from(head)), Rect { height: 1, ..inner });
    let area = Rect { y: inner.y + 1, height: inner.height - 1, ..inner };
    if v.rows.is_empty() {
        f.render_widget(Paragraph::new(Line::styled("  Slack already matches this policy: nothing to do.", t.ok)), area);
        return;
    }
    let h = area.height as usize;
    let off = visible_offset(v.selected, v.offset, h, v.rows.len());
    let end = (off + h).min(v.rows.len());
    let rows = v.rows[off..end].iter().map(|row| {
        if row.heading {
            Row::new(vec![Cell::from(Span::styled(row.text.as_str(), t.header.patch(kind_style(app, row.kind))))])
        } else {
            Row::new(vec![Cell::from(Line::from(vec![
                Span::styled(format!("  {} ", row.kind.sign()), kind_style(app, row.kind)),
                Span::raw(row.text.as_str()),
            ]))])
        }
    });
    let table = Table::new(rows, [Constraint::Fill(1)])
        .row_highlight_style(if p.focus_plan { t.selected } else { Style::default() })
        .highlight_symbol(MARK)
        .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
    let mut state = TableState::new().with_selected(Some(v.selected - off));
    f.render_stateful_widget(table, area, &mut state);
}

/// The detail overlay of one change.
pub fn render_change(app: &App, f: &mut Frame, area: Rect, row: usize, scroll: u16) {
    let t = &app.theme;
    let Some(r) = app.policies.plan.as_ref().and_then(|v| v.rows.get(row)) else { return };
    let (rect, b) = super::render::overlay(f, area, t, format!(" {}: {} ", r.kind.title(), truncate(&r.text, 50)));
    let b = b.title_bottom(Line::styled(" Esc close · j/k scroll ", t.muted).right_aligned());
    let kw = r.detail.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0).min(28);
    let lines: Vec<Line> = r
        .detail
        .iter()
        .map(|(k, v)| Line::from(vec![Span::styled(format!("{k:<kw$}  "), t.header), Span::styled(v.as_str(), t.text)]))
        .collect();
    f.render_widget(Paragraph::new(lines).block(b).wrap(Wrap { trim: false }).scroll((scroll, 0)), rect);
}

/// The apply confirmation: counts, deactivations, ceilings; the count typed when it must be.
pub fn render_confirm(app: &App, f: &mut Frame, area: Rect, typed: &str) {
    let t = &app.theme;
    let p = &app.policies;
    let Some(v) = &p.plan else { return };
    let Some(ApplyTerms { deactivations: deact, must_type, warnings: warns, summary: gate_line }) = p.confirm_terms() else { return };
    let gate_line = format!("gate: {gate_line}");
    let w = area.width.min(72);
    // Borders, counts, deactivations, a blank line and the prompt, plus the gate's line and the
    // warnings as wrapped.
    let inner_w = w.saturating_sub(2).max(1) as usize;
    // One spare line per warning: word wrapping can take more lines than the characters need.
    let warn_lines: usize = warns.iter().map(|x| (x.chars().count() + 9).div_ceil(inner_w) + 1).sum();
    let gate_lines = gate_line.chars().count().div_ceil(inner_w) + 1;
    let h = (6 + (warn_lines + gate_lines) as u16).min(area.height);
    let r = Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h);
    f.render_widget(ratatui::widgets::Clear, r);
    let b = block(t, format!(" Apply policy {}? ", truncate(&v.name, 40)), true);
    let plan = &v.live.0.plan;
    let mut lines = vec![
        Line::from(vec![
            Span::raw(format!("{} changes: ", thousands(plan.counts().changes() as u64))),
            Span::styled(summary(plan), t.header),
        ]),
        Line::styled(format!("{} deactivation(s).", deact), if deact > 0 { t.warning } else { t.text }),
        Line::styled(clean(&gate_line), t.text),
    ];
    for w in &warns {
        lines.push(Line::styled(format!("WARNING: {w}"), t.error));
    }
    lines.push(Line::raw(""));
    if must_type {
        lines.push(Line::from(vec![
            Span::raw(format!("Type {deact} and Enter to apply, Esc to cancel: ")),
            Span::styled(format!("{typed}_"), t.input),
        ]));
    } else {
        lines.push(Line::styled("Enter/y apply · Esc/n cancel", t.muted));
    }
    f.render_widget(Paragraph::new(lines).block(b).wrap(Wrap { trim: true }), r);
}

// ---- state changes (called from `App::update`) ------------------------------------------------

use super::app::{Effect, Level, Modal};
use crate::policy::apply::ApplyOutcome;
use crate::queue::{OpState, QueueEvent};
use crossterm::event::{KeyCode, KeyEvent};

impl App {
    pub(super) fn policies_listed(&mut self, list: Vec<(String, PathBuf)>) -> Vec<Effect> {
        let p = &mut self.policies;
        let first = !p.listed;
        let keep = p.selected_policy().map(|(_, path)| path.clone());
        p.list = list;
        p.listed = true;
        p.selected = keep.and_then(|k| p.list.iter().position(|(_, path)| *path == k)).unwrap_or(0);
        p.offset = 0;
        // The first time, the first policy's plan is computed without asking.
        if first && p.plan.is_none() && p.computing.is_none() && !p.list.is_empty() {
            return self.compute_selected();
        }
        vec![]
    }

    fn compute_selected(&mut self) -> Vec<Effect> {
        let p = &mut self.policies;
        let Some((name, path)) = p.selected_policy().cloned() else { return vec![] };
        if p.applying.is_some() {
            self.push_log(Level::Warn, "a policy is being applied; its plan is recomputed when it ends");
            return vec![];
        }
        p.generation += 1;
        p.computing = Some(name.clone());
        p.error = None;
        self.push_log(Level::Info, format!("computing the plan of policy {name} against the live directory"));
        vec![Effect::ComputePlan { generation: self.policies.generation, name, path }]
    }

    /// `r`: read the list again, and recompute the selected policy's plan when one is shown.
    pub(super) fn recompute_plan(&mut self) -> Vec<Effect> {
        let mut fx = vec![Effect::ListPolicies];
        if self.policies.plan.is_some() || self.policies.error.is_some() {
            fx.extend(self.compute_selected());
        }
        fx
    }

    pub(super) fn policies_open(&mut self) -> Vec<Effect> {
        let p = &mut self.policies;
        if !p.focus_plan {
            if let Some(v) = &p.plan
                && p.selected_policy().is_some_and(|(n, _)| *n == v.name)
                && p.computing.is_none()
            {
                p.focus_plan = true;
                return vec![];
            }
            let fx = self.compute_selected();
            self.policies.focus_plan = !fx.is_empty();
            return fx;
        }
        if let Some(v) = &p.plan
            && let Some(row) = v.rows.get(v.selected)
            && !row.heading
        {
            self.modals.push(Modal::PolicyChange { row: v.selected, scroll: 0 });
        }
        vec![]
    }

    pub(super) fn plan_computed(&mut self, generation: u64, name: String, result: Result<PlanHandle, String>) -> Vec<Effect> {
        let p = &mut self.policies;
        if generation != p.generation {
            return vec![];
        }
        p.computing = None;
        match result {
            Ok(h) => {
                let s = summary(&h.0.plan);
                let warnings = h.0.plan.warnings.len();
                p.set_plan(name.clone(), h);
                p.error = None;
                self.modals.retain(|m| !matches!(m, Modal::PolicyChange { .. }));
                let w = if warnings > 0 { format!(", {warnings} warning(s)") } else { String::new() };
                self.push_log(Level::Info, format!("plan of policy {name}: {s}{w}"));
            }
            Err(e) => {
                p.error = Some(clean(&e));
                p.plan = None;
                p.focus_plan = false;
                self.modals.retain(|m| !matches!(m, Modal::PolicyChange { .. }));
                self.push_log(Level::Error, format!("policy {name}: {e}"));
            }
        }
        vec![]
    }

    /// `A`: ask once before applying the plan shown.
    pub(super) fn confirm_apply(&mut self) -> Vec<Effect> {
        let p = &self.policies;
        let why = if p.applying.is_some() {
            Some("a policy is being applied already".to_string())
        } else if p.computing.is_some() {
            Some("the plan is still being computed".into())
        } else {
            match &p.plan {
                None => Some("no plan shown: press Enter on a policy first".into()),
                Some(v) if v.live.0.plan.is_empty() => Some(format!("nothing to apply: Slack already matches policy {}", v.name)),
                Some(_) => None,
            }
        };
        if let Some(w) = why {
            self.push_log(Level::Warn, w);
            return vec![];
        }
        let Some(v) = &self.policies.plan else { return vec![] };
        // The gate's decision is what the confirmation shows; under --read-only there is none.
        let decision = crate::policy::apply::preview(&v.live.0, &self.queue.safety);
        let name = v.name.clone();
        if let Some(h) = decision.hold().filter(|_| decision.is_read_only()) {
            self.push_log(Level::Warn, format!("apply policy {name}: {h}"));
            return vec![];
        }
        if decision.is_empty() {
            self.push_log(Level::Warn, format!("nothing to apply in policy {name}: {}", decision.summary()));
            return vec![];
        }
        self.policies.pending = Some(decision);
        self.modals.push(Modal::ConfirmApply { typed: String::new() });
        vec![]
    }

    /// Keys of the confirmation: Enter/`y` apply (with the count typed when asked), Esc/`n` cancel.
    pub(super) fn on_confirm_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        let Some(ApplyTerms { deactivations: deact, must_type, .. }) = self.policies.confirm_terms() else {
            self.modals.pop();
            return vec![];
        };
        let Some(Modal::ConfirmApply { typed }) = self.modals.last_mut() else { return vec![] };
        let go = match k.code {
            KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('q') => {
                self.modals.pop();
                self.policies.pending = None;
                self.push_log(Level::Info, "apply cancelled; nothing was changed");
                return vec![];
            }
            KeyCode::Char(c) if must_type && c.is_ascii_digit() => {
                if typed.len() < 9 {
                    typed.push(c);
                }
                false
            }
            KeyCode::Backspace => {
                typed.pop();
                false
            }
            KeyCode::Enter if must_type => {
                if *typed == deact.to_string() {
                    true
                } else {
                    typed.clear();
                    self.push_log(Level::Warn, format!("type {deact} (the number of deactivations) to apply, or Esc to cancel"));
                    false
                }
            }
            KeyCode::Enter | KeyCode::Char('y') | KeyCode::Char('Y') => !must_type,
            _ => false,
        };
        if !go {
            return vec![];
        }
        self.modals.pop();
        self.policies.pending = None;
        let Some(v) = &self.policies.plan else { return vec![] };
        let (name, plan) = (v.name.clone(), v.live.clone());
        let s = summary(&plan.0.plan);
        self.policies.applying = Some(name.clone());
        self.policies.progress = (0, 0, 0);
        self.queue_status = format!("applying {name}");
        self.push_log(Level::Info, format!("applying policy {name}: {s}"));
        vec![Effect::ApplyPlan { name, plan, force: must_type }]
    }

    /// Progress of a batch: counts for the pane and the status line, one Log line per operation.
    pub(super) fn apply_queue_event(&mut self, ev: QueueEvent) -> Vec<Effect> {
        match ev {
            QueueEvent::BatchStarted { batch_id, total } => {
                self.policies.progress.2 += total;
                self.push_log(Level::Info, format!("batch {batch_id}: {total} operation(s)"));
            }
            QueueEvent::OpStarted { .. } => return vec![],
            QueueEvent::OpFinished { describe, state, message, .. } => {
                let (level, what) = match state {
                    OpState::Done => (Level::Ok, "done"),
                    OpState::Failed => (Level::Error, "failed"),
                    OpState::Skipped => (Level::Warn, "skipped"),
                    OpState::Cancelled => (Level::Warn, "cancelled"),
                    _ => (Level::Info, state.as_str()),
                };
                if state == OpState::Failed {
                    self.policies.progress.1 += 1;
                } else {
                    self.policies.progress.0 += 1;
                }
                let msg = if message.is_empty() { String::new() } else { format!(": {message}") };
                self.push_log(level, format!("{what}: {describe}{msg}"));
            }
            QueueEvent::BatchFinished { batch_id, counts, elapsed, cancelled } => {
                let n = |s: OpState| counts.get(&s).copied().unwrap_or(0);
                let level = if n(OpState::Failed) > 0 || cancelled { Level::Warn } else { Level::Ok };
                self.push_log(
                    level,
                    format!(
                        "batch {batch_id}: {} done, {} failed, {} skipped, {} cancelled in {:.1}s",
                        n(OpState::Done),
                        n(OpState::Failed),
                        n(OpState::Skipped),
                        n(OpState::Cancelled),
                        elapsed.as_secs_f64()
                    ),
                );
            }
        }
        if let Some(name) = &self.policies.applying {
            let (d, f, t) = self.policies.progress;
            self.queue_status = format!("{name} {}/{t}{}", d + f, if f > 0 { format!(" ({f} failed)") } else { String::new() });
        }
        vec![]
    }

    pub(super) fn apply_done(&mut self, name: String, result: Result<ApplyOutcome, String>) -> Vec<Effect> {
        self.policies.applying = None;
        self.queue_status = "idle".into();
        // New records are in the report: the Reports pane reads them again when it is opened.
        self.reports.started = false;
        match result {
            Ok(o) => {
                for n in o.notes() {
                    self.push_log(Level::Warn, n.clone());
                }
                if o.complete {
                    self.push_log(
                        Level::Ok,
                        format!("policy {name} applied (run {}; report: scimitar report --batch {})", o.run_id, o.run_id),
                    );
                } else {
                    self.push_log(
                        Level::Warn,
                        format!("policy {name} was not fully applied (run {}); see the Log, fix and apply again", o.run_id),
                    );
                }
            }
            Err(e) => self.push_log(Level::Error, format!("applying policy {name} failed: {e}")),
        }
        // What is left to do: the plan again.
        if self.policies.plan.as_ref().is_some_and(|v| v.name == name)
            && let Some(i) = self.policies.list.iter().position(|(n, _)| *n == name)
        {
            self.policies.selected = i;
            return self.compute_selected();
        }
        vec![]
    }
}
/// The policies the pane offers: `policies/*.toml` in the data dir (where `scimitar demo` writes
/// its `demo-hr`), then those in the config dir, then `examples/policy.toml` when the console runs
/// from a checkout (blocking; the executor calls it). The same folder is listed once.
pub fn available_in(data: &std::path::Path, config: &std::path::Path) -> Vec<(String, PathBuf)> {
    let mut list = if data.is_dir() && data != config { crate::policy::live::list_policies_in(data) } else { Vec::new() };
    list.extend(crate::policy::live::list_policies_in(config));
    let example = PathBuf::from("examples/policy.toml");
    if example.is_file() && !list.iter().any(|(_, p)| p.ends_with("examples/policy.toml")) {
        list.push(("examples/policy".into(), example));
    }
    list
}
