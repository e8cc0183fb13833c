//! The Approvals view (`P`, four-eyes, issue 21; an overlay, like the queue view `Q`): the store's pending approvals (batches over the
//! profile's `approval_over`, proposed by this or another account, or held by the sync), newest
//! first. `Enter` shows the selected one's plan and the gate's screening its proposer saw; `a`
//! approves it: its actions pass the gate again against the server now (the account that proposed
//! it is refused), and the confirmation shows that decision; confirming runs it through the queue
//! under the org's lease. `x` rejects it (then `y`), nothing sent. `A` lists decided ones too (or
//! the pending ones again; each press reads them afresh); `Esc`/`q`/`P` closes it. While it is
//! open it follows the store: another account's proposal, approval, rejection or run (a record
//! in the report, which the console's store watch hands over as `Msg::StoreNews`) reads the list
//! again, with no key pressed.
//! The domain (`provision::approval`) decides; this pane only routes and draws.

use super::component::{Binding, Component, Ctx, Handled, N, NAV, Offer, View, bind, hint_bar, lookup, moved, offers_rw};
use super::draw::{block, hint_line, visible_offset};
use super::msg::{Effect, Level, Msg};
use crossterm::event::{KeyCode, KeyEvent};
use provision::approval::{Approval, State};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};
use scim::sanitize::clean;
use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Show,
    Approve,
    Reject,
    All,
    Close,
}

static KEYS: &[Binding<Act>] = &[
    bind!(
        "Enter",
        "plan",
        "show / hide the selected approval's plan and the gate's screening its proposer saw",
        Act::Show,
        [(KeyCode::Enter, N)]
    ),
    bind!(
        "a",
        "approve",
        "approve and run it (another account than its proposer): its actions pass the gate again against the server now; one confirmation",
        Act::Approve,
        [(KeyCode::Char('a'), N)]
    ),
    bind!("x", "reject", "reject it (then y): nothing is sent", Act::Reject, [(KeyCode::Char('x'), N)]),
    bind!(
        "A",
        "all",
        "list decided approvals too (approved, run, rejected), or the pending ones only (each press reads them again)",
        Act::All,
        [(KeyCode::Char('A'), N)]
    ),
    bind!(
        "Esc q P",
        "close",
        "close the Approvals view",
        Act::Close,
        [(KeyCode::Esc, N), (KeyCode::Char('q'), N), (KeyCode::Char('P'), N)]
    ),
];

#[derive(Default)]
pub struct Approvals {
    pub list: Vec<Approval>,
    pub selected: usize,
    pub offset: usize,
    /// Decided approvals too.
    pub all: bool,
    /// The selected one's plan is shown.
    pub detail: bool,
    /// Asked to reject this one: `y` rejects, anything else keeps it.
    pub rejecting: Option<String>,
    pub loading: bool,
    pub started: bool,
    pub error: Option<String>,
    generation: u64,
}

impl Approvals {
    /// The view, opened, and the read of the pending approvals it starts.
    pub fn opened() -> (Approvals, Vec<Effect>) {
        let mut a = Approvals::default();
        let fx = a.load();
        (a, fx)
    }

    /// The store's approvals changed (another account proposed, approved, rejected or ran one,
    /// `Msg::StoreNews`): read them again; the selection stays on the same approval.
    pub fn changed(&mut self) -> Vec<Effect> {
        self.load()
    }

    pub fn selected(&self) -> Option<&Approval> {
        self.list.get(self.selected)
    }

    fn load(&mut self) -> Vec<Effect> {
        self.generation += 1;
        self.loading = true;
        self.started = true;
        vec![Effect::ListApprovals { generation: self.generation, all: self.all }]
    }

    fn pending(&self) -> bool {
        self.selected().is_some_and(|a| a.state == State::Pending)
    }

    fn act(&mut self, a: Act, ctx: &mut Ctx) -> Vec<Effect> {
        match a {
            Act::Show => {
                self.detail = !self.detail && self.selected().is_some();
                vec![]
            }
            Act::All => {
                self.all = !self.all;
                self.load()
            }
            Act::Close => {
                ctx.close();
                vec![]
            }
            Act::Approve => {
                let Some(sel) = self.selected() else { return vec![] };
                if let Some(why) = ctx.queue.refuse_writes() {
                    ctx.log(Level::Warn, format!("approve {}: {why}", sel.id));
                    return vec![];
                }
                if sel.state != State::Pending {
                    ctx.log(Level::Warn, format!("approval {} is {}: nothing to approve", sel.id, sel.state.as_str()));
                    return vec![];
                }
                let id = sel.id.clone();
                ctx.log(Level::Info, format!("approval {id}: screening it again against the server…"));
                self.loading = true;
                vec![Effect::ScreenApproval { id }]
            }
            Act::Reject => {
                match self.selected() {
                    Some(sel) if sel.state == State::Pending => self.rejecting = Some(sel.id.clone()),
                    Some(sel) => ctx.log(Level::Warn, format!("approval {} is {}: nothing to reject", sel.id, sel.state.as_str())),
                    None => {}
                }
                vec![]
            }
        }
    }

    fn screened(&mut self, ctx: &mut Ctx, id: String, result: Result<(Approval, provision::queue::Decision), String>) -> Vec<Effect> {
        self.loading = false;
        match result {
            Err(e) => {
                ctx.log(Level::Error, format!("approve {id}: {e}; nothing was done"));
                vec![]
            }
            Ok((a, decision)) => {
                if decision.is_empty() {
                    ctx.log(Level::Warn, format!("approval {id}: nothing left to do now ({})", decision.summary()));
                }
                let what = format!("approve {} ({}, by {})", a.id, a.description, a.proposer);
                let mut c = super::confirm::Confirm::new(what, decision, ctx.queue.confirm_threshold);
                // A policy apply's second pass runs in the same approval: its count is shown too.
                c.later = a.later_operations().unwrap_or(0);
                c.approval = Some(a.id);
                ctx.open(c);
                vec![]
            }
        }
    }
}

impl Component for Approvals {
    fn title(&self) -> Cow<'static, str> {
        "Approvals".into()
    }

    fn keys(&self, v: &View) -> Vec<Offer> {
        if self.rejecting.is_some() {
            return vec![
                Offer::new("y", "reject", "reject it: nothing is sent, the report records who rejected it", true),
                Offer::new("n Esc", "keep", "keep it pending", true),
            ];
        }
        let some = self.selected().is_some();
        let pending = self.pending();
        let now = |a| match a {
            Act::Show => some,
            Act::Approve | Act::Reject => pending,
            Act::All | Act::Close => true,
        };
        offers_rw(KEYS, now, |a| matches!(a, Act::Approve | Act::Reject), v.queue.read_only())
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        if let Some(id) = self.rejecting.take() {
            return match k.code {
                KeyCode::Char('y') => {
                    ctx.log(Level::Info, format!("approval {id}: rejecting…"));
                    Handled::Consumed(vec![Effect::RejectApproval { id }])
                }
                KeyCode::Char('n') | KeyCode::Esc => {
                    ctx.log(Level::Info, format!("approval {id}: kept pending"));
                    Handled::done()
                }
                _ => {
                    self.rejecting = Some(id);
                    Handled::done()
                }
            };
        }
        if let Some(a) = lookup(KEYS, k) {
            return Handled::Consumed(self.act(a, ctx));
        }
        if let Some(nav) = lookup(NAV, k) {
            let h = super::draw::wide_overlay_area(ctx.area).height.saturating_sub(4).max(1) as usize;
            self.selected = moved(self.selected, nav.delta(h), self.list.len());
            self.offset = visible_offset(self.selected, self.offset, h, self.list.len());
            return Handled::done();
        }
        Handled::Ignored
    }

    fn update(&mut self, msg: Msg, ctx: &mut Ctx) -> Result<Vec<Effect>, Msg> {
        Ok(match msg {
            Msg::ApprovalsLoaded { generation, result } => {
                if generation != self.generation {
                    return Ok(vec![]);
                }
                self.loading = false;
                match result {
                    Ok(list) => {
                        // Keep the selection on the same approval when it is still listed.
                        let keep = self.selected().map(|a| a.id.clone());
                        self.list = list;
                        self.selected = keep.and_then(|id| self.list.iter().position(|a| a.id == id)).unwrap_or(0);
                        self.error = None;
                    }
                    Err(e) => self.error = Some(e),
                }
                vec![]
            }
            Msg::ApprovalProposed(r) => {
                log_proposed(ctx, r);
                self.load()
            }
            Msg::ApprovalScreened { id, result } => self.screened(ctx, id, result),
            Msg::ApprovalDecided(r) => {
                match r {
                    Ok(line) => ctx.log(Level::Ok, line),
                    Err(e) => ctx.log(Level::Error, e),
                }
                self.load()
            }
            other => return Err(other),
        })
    }

    fn store_changed(&mut self, records: &[provision::report::StoredRecord], _ctx: &mut Ctx) -> Vec<Effect> {
        // Another account (or the sync) proposed, approved, rejected or ran an approval.
        if records.iter().any(|r| provision::approval::is_event(&r.record.action)) { self.changed() } else { vec![] }
    }

    fn busy(&self) -> bool {
        self.loading
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        render_pane(self, f, area, v);
    }
}

/// A batch kept for approval (or not): one Log line saying where it waits and who may run it.
pub fn log_proposed(ctx: &mut Ctx, r: Result<Approval, String>) {
    match r {
        Ok(a) => ctx.log(
            Level::Warn,
            format!(
                "{}: held for approval as {} ({}); another account approves it (P, or `scimitar approvals approve {}`); nothing was sent",
                a.description,
                a.id,
                a.counts(),
                a.id
            ),
        ),
        Err(e) => ctx.log(Level::Error, format!("could not keep the batch for approval: {e}; nothing was sent")),
    }
}

/// The plan and screening of one approval, as lines (also what tests read).
pub fn detail_lines(a: &Approval) -> Vec<(Level, String)> {
    let mut out = vec![
        (Level::Info, format!("{} · {} · proposed {} by {}", a.id, a.state.as_str(), a.created, clean(&a.proposer))),
        (Level::Info, format!("{}: {}, {}", clean(&a.description), a.counts(), super::draw::counted(a.operations as usize, "operation"))),
    ];
    if let Some(by) = &a.decided_by {
        let why = a.reason.as_deref().map(|r| format!(": {}", clean(r))).unwrap_or_default();
        out.push((Level::Info, format!("decided {} by {}{why}", a.decided.clone().unwrap_or_default(), clean(by))));
    }
    out.push((Level::Info, format!("gate, as the proposer saw it: {}", clean(&a.screening.summary))));
    if !a.screening.held.is_empty() {
        out.push((Level::Warn, clean(&a.screening.held)));
    }
    if let Some(c) = &a.screening.ceiling {
        out.push((Level::Error, format!("ceiling: {}", clean(c))));
    }
    for s in a.screening.skipped.iter().take(3) {
        out.push((Level::Warn, format!("skipped {}", clean(s))));
    }
    if a.screening.skipped.len() > 3 {
        out.push((Level::Warn, format!("… and {} more skipped", a.screening.skipped.len() - 3)));
    }
    out.push((Level::Info, "plan:".into()));
    for (n, d) in a.plan().iter().enumerate() {
        out.push((Level::Info, format!("  {:>3} {}", n + 1, clean(d))));
    }
    out
}

fn render_pane(p: &Approvals, f: &mut Frame, area: Rect, v: &View) {
    let t = v.theme;
    let r = super::draw::wide_overlay_area(area);
    f.render_widget(ratatui::widgets::Clear, r);
    let shown = if p.all { "all" } else { "pending" };
    let title = Line::from(vec![Span::styled(" Approvals ", t.title), Span::styled(format!("{} {shown} ", p.list.len()), t.muted)]);
    let width = r.width.saturating_sub(4) as usize;
    let hint = hint_bar(&p.keys(v), &[], width);
    let mut b = block(t, title, true).title_bottom(hint_line(t, hint));
    if p.loading {
        b = b.title_top(Line::styled(format!(" {} reading ", v.spinner), t.accent).right_aligned());
    }
    let inner = b.inner(r);
    f.render_widget(b, r);
    if inner.height < 2 || inner.width < 10 {
        return;
    }
    let mut top = Vec::new();
    if let Some(e) = &p.error {
        top.push(Line::styled(format!("  the approvals could not be read: {}", clean(e)), t.error));
    }
    if let Some(id) = &p.rejecting {
        top.push(Line::styled(format!("  Reject {id}? y rejects · n/Esc keeps"), t.warning.add_modifier(Modifier::BOLD)));
    }
    if p.list.is_empty() {
        let empty = if p.loading {
            "  reading the approvals…".to_string()
        } else if !p.started {
            "  (not read yet)".to_string()
        } else {
            format!(
                "  No {}approvals. A batch that changes more users than the profile's approval_over waits here for another account.",
                if p.all { "" } else { "pending " }
            )
        };
        top.push(Line::styled(empty, t.muted));
        f.render_widget(Paragraph::new(top).wrap(Wrap { trim: true }), inner);
        return;
    }
    let top_h = top.len() as u16;
    // The plan gets the room the list does not need (the list keeps a few rows around the selection).
    let list_h = (p.list.len() as u16 + 1).clamp(2, 6);
    let detail_h = if p.detail { inner.height.saturating_sub(top_h + list_h).max(3) } else { 0 };
    let [ta, la, da] = Layout::vertical([Constraint::Length(top_h), Constraint::Fill(1), Constraint::Length(detail_h)]).areas(inner);
    if top_h > 0 {
        f.render_widget(Paragraph::new(top), ta);
    }
    render_table(p, f, la, v);
    if p.detail
        && let Some(a) = p.selected()
        && da.height > 0
    {
        let lines: Vec<Line> = detail_lines(a)
            .into_iter()
            .flat_map(|(l, s)| {
                let st = match l {
                    Level::Warn => t.warning,
                    Level::Error => t.error,
                    _ => t.text,
                };
                super::draw::hang(&s, da.width.max(1) as usize).into_iter().map(move |x| Line::styled(x, st))
            })
            .collect();
        let bl = ratatui::widgets::Block::default()
            .borders(ratatui::widgets::Borders::TOP)
            .border_style(t.border)
            .title(Span::styled(" plan ", t.title));
        f.render_widget(Paragraph::new(lines).block(bl), da);
    }
}

fn render_table(p: &Approvals, f: &mut Frame, r: Rect, v: &View) {
    let t = v.theme;
    if r.height < 2 {
        return;
    }
    let height = r.height.saturating_sub(1) as usize;
    let off = visible_offset(p.selected, p.offset, height, p.list.len());
    let end = (off + height).min(p.list.len());
    let wide = r.width >= 120;
    let rows = p.list[off..end].iter().map(|a| {
        let state = match a.state {
            State::Pending => Span::styled("pending", t.warning),
            State::Approved => Span::styled("approved", t.accent),
            State::Run => Span::styled("run", t.ok),
            State::Rejected => Span::styled("rejected", t.muted),
        };
        let created = a.created.replacen('T', " ", 1);
        let when = if wide { created.chars().take(19).collect::<String>() } else { created.chars().skip(5).take(11).collect() };
        let mut cells = vec![
            Cell::from(when),
            Cell::from(state),
            Cell::from(clean(&a.proposer)),
            Cell::from(clean(&a.description)),
            Cell::from(format!("{:>5}", a.users)),
        ];
        if wide {
            cells.push(Cell::from(format!("{:>5}", a.deactivations)));
            cells.push(Cell::from(Span::styled(a.id.clone(), t.muted)));
            cells.push(Cell::from(clean(a.decided_by.as_deref().unwrap_or(""))));
        }
        Row::new(cells)
    });
    let when_w = if wide { 19 } else { 11 };
    let mut widths =
        vec![Constraint::Length(when_w), Constraint::Length(8), Constraint::Fill(3), Constraint::Fill(4), Constraint::Length(5)];
    let mut hdr = vec!["proposed", "state", "proposer", "what", "users"];
    if wide {
        let id_w = p.list[off..end].iter().map(|a| a.id.chars().count()).max().unwrap_or(2) as u16;
        widths.extend([Constraint::Length(5), Constraint::Length(id_w), Constraint::Fill(3)]);
        hdr.extend(["deact", "id", "decided by"]);
    }
    let table = Table::new(rows, widths)
        .header(Row::new(hdr).style(t.header))
        .column_spacing(1)
        .row_highlight_style(t.selected)
        .highlight_symbol("> ")
        .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
    let mut state = TableState::new().with_selected(Some(p.selected - off));
    f.render_stateful_widget(table, r, &mut state);
}
