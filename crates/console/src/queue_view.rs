//! The queue view (`Q`, opened by itself when a batch starts): every operation of the current
//! batch with its state, Slack's reason and retries, a gauge with an ETA from the rate-limit
//! budget. Only the visible rows are drawn. `x` stops sending, `F` runs the failed operations
//! again (through the gate, in the runner). `b` switches to the list of past batches (the
//! journal's, newest first: `Queue::history`, read afresh each time the view opens and when a
//! batch finishes), where `u` restores the selected batch: it reactivates the users it
//! deactivated and puts back the groups and roles the journal kept (`queue::restore`), through
//! the gate and one confirmation, as a batch of its own.

use super::component::{Binding, Component, Ctx, Handled, N, NAV, Offer, View, bind, hint_bar, lookup, moved, offers_rw};
use super::draw::{block, hint_line, overlay_area, thousands, visible_offset};
use super::msg::QueueOp;
use super::msg::{Effect, Level};
use super::queue::Queue;
use super::queue::eta_text;
use super::theme::Theme;
use crossterm::event::{KeyCode, KeyEvent};
use provision::queue::OpState;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Clear, Paragraph, Row, Table, TableState, Wrap};
use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Open,
    Cancel,
    Retry,
    History,
    Restore,
    Close,
}

static KEYS: &[Binding<Act>] = &[
    bind!("Enter", "details", "the selected operation in full: Slack's whole answer, retries", Act::Open, [(KeyCode::Enter, N)]),
    bind!("x", "cancel pending", "cancel the operations not sent yet", Act::Cancel, [(KeyCode::Char('x'), N)]),
    bind!("F", "retry failed", "retry the failed operations (they pass the gate again)", Act::Retry, [(KeyCode::Char('F'), N)]),
    bind!("b", "batches", "switch between the current batch and the list of past batches", Act::History, [(KeyCode::Char('b'), N)]),
    bind!(
        "u",
        "restore",
        "undo the selected past batch from the journal: values set back where Slack still holds what it wrote, memberships, names, deactivations with groups and roles (one confirmation)",
        Act::Restore,
        [(KeyCode::Char('u'), N)]
    ),
    bind!(
        "Esc q Q",
        "close",
        "close the queue view (the batch goes on)",
        Act::Close,
        [(KeyCode::Esc, N), (KeyCode::Char('q'), N), (KeyCode::Char('Q'), N)]
    ),
];

/// The view over `Queue::batch` (the selection is kept with the batch).
pub struct QueueView;

/// Rows of the table that fit (the gauge, counts and header taken off).
fn rows(screen: Rect) -> usize {
    overlay_area(screen).height.saturating_sub(5) as usize
}

impl Component for QueueView {
    fn title(&self) -> Cow<'static, str> {
        "Queue view".into()
    }

    fn keys(&self, v: &View) -> Vec<Offer> {
        let b = v.queue.batch.as_ref();
        let history = showing_history(v.queue);
        let running = b.is_some_and(|b| b.running);
        let failed = b.is_some_and(|b| b.count(OpState::Failed) > 0);
        // Restore of whole batches (issue 20): any batch that did something.
        let restorable = history && v.queue.history.selected().is_some_and(|h| h.done > 0) && v.queue.refuse_writes().is_none();
        let now = |a| match a {
            Act::Open => b.is_some_and(|b| !b.ops.is_empty()),
            Act::Cancel => running,
            Act::Retry => failed && !running,
            Act::History => b.is_some(),
            Act::Restore => restorable,
            Act::Close => true,
        };
        offers_rw(KEYS, now, |a| matches!(a, Act::Retry | Act::Restore), v.queue.read_only())
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        let history = showing_history(ctx.queue);
        if let Some(nav) = lookup(NAV, k) {
            let h = rows(ctx.area).saturating_sub(1).max(1);
            if history {
                let l = &mut ctx.queue.history;
                l.selected = moved(l.selected, nav.delta(h), l.batches.len());
                l.offset = visible_offset(l.selected, l.offset, h, l.batches.len());
            } else if let Some(b) = ctx.queue.batch.as_mut() {
                let h = rows(ctx.area);
                b.selected = moved(b.selected, nav.delta(h), b.ops.len());
                b.offset = visible_offset(b.selected, b.offset, h, b.ops.len());
            }
            return Handled::done();
        }
        let fx: Vec<Effect> = match lookup(KEYS, k) {
            Some(Act::Close) => {
                ctx.close();
                vec![]
            }
            Some(Act::Open) => {
                // The whole error, wrapped (the table cuts it to its column).
                if let Some(b) = ctx.queue.batch.as_ref()
                    && let Some(o) = b.ops.get(b.selected)
                {
                    use super::detail::{Detail, Tone};
                    let tone = if o.state == OpState::Failed { Tone::Error } else { Tone::Text };
                    let rows = vec![
                        ("operation".to_string(), o.describe.clone(), Tone::Text),
                        ("state".to_string(), state_label(o).to_string(), tone),
                        ("message".to_string(), if o.message.is_empty() { "–".into() } else { o.message.clone() }, tone),
                        ("retries".to_string(), o.retries.to_string(), Tone::Text),
                        ("attempts".to_string(), o.attempt.to_string(), Tone::Text),
                        ("op id".to_string(), o.op_id.clone(), Tone::Muted),
                        ("batch".to_string(), b.batch_id.clone(), Tone::Muted),
                    ];
                    ctx.open(Detail::new(format!(" Operation {} ", o.seq), rows, 10));
                }
                vec![]
            }
            Some(Act::Cancel) => super::queue_flow::cancel_batch(ctx),
            // `F` is the current batch's, in either list (the gate answers first: read-only).
            Some(Act::Retry) => super::queue_flow::retry_failed(ctx),
            Some(Act::History) => {
                let h = &mut ctx.queue.history;
                h.shown = !h.shown;
                if h.shown {
                    h.loading = true;
                    vec![Effect::ListBatches]
                } else {
                    vec![]
                }
            }
            Some(Act::Restore) if history => match ctx.queue.history.selected() {
                Some(b) if b.done > 0 => {
                    let which = provision::queue::restore::Which::Batch(b.batch_id.clone());
                    super::queue_flow::ask_restore(ctx, which)
                }
                Some(b) => {
                    let id = b.batch_id.clone();
                    ctx.log(Level::Info, format!("batch {id}: no operation of it is done: nothing to restore"));
                    vec![]
                }
                None => vec![],
            },
            _ => return Handled::Ignored,
        };
        Handled::Consumed(fx)
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        self.draw(f, area, v);
    }
}

fn state_label(o: &QueueOp) -> &'static str {
    if o.surprise {
        return "SURPRISE";
    }
    match o.state {
        OpState::Pending => "pending",
        // Taken up but not sent: it waits for its rate token (a cancel stops it unsent).
        OpState::Running if !o.sending => "waiting",
        OpState::Running => "sending",
        OpState::Done => "done",
        OpState::Failed => "FAILED",
        OpState::Cancelled => "cancelled",
        OpState::Skipped => "skipped",
    }
}

fn state_style(t: &Theme, o: &QueueOp) -> Style {
    if o.surprise {
        return t.warning.add_modifier(Modifier::BOLD | Modifier::REVERSED);
    }
    match o.state {
        OpState::Pending => t.muted,
        OpState::Running => t.accent,
        OpState::Done => t.ok,
        OpState::Failed => t.error.add_modifier(Modifier::BOLD),
        OpState::Cancelled | OpState::Skipped => t.warning,
    }
}

/// A text gauge (readable without colour): `[██████░░░░] 6/10 60%`.
pub fn gauge_text(done: usize, total: usize, width: usize) -> String {
    let width = width.max(4);
    let filled = (done * width).checked_div(total).map_or(width, |f| f.min(width));
    let pct = (done * 100).checked_div(total).unwrap_or(100);
    format!("[{}{}] {}/{} {pct}%", "█".repeat(filled), "░".repeat(width - filled), thousands(done as u64), thousands(total as u64))
}

impl QueueView {
    fn draw(&self, f: &mut Frame, area: Rect, v: &View) {
        let t = v.theme;
        let r = super::draw::wide_overlay_area(area);
        f.render_widget(Clear, r);
        if showing_history(v.queue) {
            return self.draw_history(f, r, v);
        }
        let Some(b) = &v.queue.batch else {
            let text = match (&v.queue.lease_holder, v.queue.submitting) {
                (Some(who), true) => format!("  waiting for the org's lease (nothing journaled or sent yet): {who}. x stops waiting."),
                (None, true) => "  journaling the batch…".to_string(),
                _ => "  No batch yet. Mark users (Space, V, *) and press d or a; in Groups: + - R n.".to_string(),
            };
            let hint = hint_bar(&self.keys(v), &[], r.width.saturating_sub(4) as usize);
            let bl = block(t, Line::styled(" Queue ", t.title), true).title_bottom(hint_line(t, hint));
            f.render_widget(Paragraph::new(Line::styled(text, t.muted)).block(bl).wrap(Wrap { trim: true }), r);
            return;
        };
        let title = Line::from(vec![
            Span::styled(format!(" Queue: {} ", b.description), t.title),
            Span::styled(format!("{} ", b.batch_id), t.muted),
        ]);
        let hint = hint_bar(&self.keys(v), &[], r.width.saturating_sub(4) as usize);
        let bl = block(t, title, true).title_bottom(hint_line(t, hint));
        let inner = bl.inner(r);
        f.render_widget(bl, r);
        if inner.height < 2 || inner.width < 10 {
            return;
        }
        // The gauge line and a counts line.
        let (n, total) = (b.ended(), b.ops.len());
        let eta = match (b.running, b.eta) {
            (true, Some(e)) => format!("  eta {}", eta_text(e)),
            (true, None) => "  eta –".into(),
            (false, _) => String::new(),
        };
        let state = if b.running {
            if b.cancelling { "cancelling" } else { "running" }
        } else if b.cancelled {
            "cancelled"
        } else {
            "finished"
        };
        let gw = (inner.width as usize).saturating_sub(30 + eta.len()).clamp(4, 60);
        let gauge = Line::from(vec![
            Span::styled(gauge_text(n, total, gw), if b.count(OpState::Failed) > 0 { t.warning } else { t.ok }),
            Span::styled(eta, t.accent),
            Span::styled(format!("  {state}"), t.muted),
        ]);
        let mut counts = vec![
            Span::styled(format!("done {}", b.count(OpState::Done)), t.ok),
            Span::styled(format!(" · failed {}", b.count(OpState::Failed)), if b.count(OpState::Failed) > 0 { t.error } else { t.muted }),
        ];
        // Running ops are either on the wire ("sending") or waiting for their rate token
        // ("waiting": a cancel stops them unsent).
        let (sending, waiting) = (b.sending(), b.count(OpState::Running) - b.sending());
        if sending > 0 {
            counts.push(Span::styled(format!(" · sending {sending}"), t.accent));
        }
        if waiting > 0 || sending == 0 {
            counts.push(Span::styled(format!(" · waiting {waiting}"), t.accent));
        }
        counts.push(Span::styled(format!(" · pending {}", b.count(OpState::Pending)), t.muted));
        for (s, label) in [(OpState::Skipped, "skipped"), (OpState::Cancelled, "cancelled")] {
            if b.count(s) > 0 {
                counts.push(Span::styled(format!(" · {label} {}", b.count(s)), t.warning));
            }
        }
        if b.surprises() > 0 {
            counts
                .push(Span::styled(format!(" · {} SURPRISE", b.surprises()), t.warning.add_modifier(Modifier::BOLD | Modifier::REVERSED)));
        }
        if let Some(rate) = b.rate {
            counts.push(Span::styled(format!(" · {rate:.1}/s allowed"), t.muted));
        }
        f.render_widget(Paragraph::new(vec![gauge, Line::from(counts)]), Rect { height: 2, ..inner });
        let table_area = Rect { y: inner.y + 2, height: inner.height - 2, ..inner };
        if table_area.height < 2 {
            return;
        }
        // Only the visible slice becomes rows (bottom's rule): a 100,000-op batch draws as fast as 10.
        let height = table_area.height.saturating_sub(1) as usize;
        let off = visible_offset(b.selected, b.offset, height, b.ops.len());
        let end = (off + height).min(b.ops.len());
        let wide = table_area.width >= 100;
        let rows = b.ops[off..end].iter().map(|o| {
            let mut cells = vec![
                Cell::from(format!("{:>4}", o.seq)),
                Cell::from(Span::styled(state_label(o), state_style(t, o))),
                Cell::from(o.describe.as_str()),
                Cell::from(Span::styled(o.message.as_str(), if o.state == OpState::Failed { t.error } else { t.muted })),
            ];
            if wide {
                cells.push(Cell::from(format!("{:>7}", o.retries)));
            }
            Row::new(cells)
        });
        let mut widths = vec![Constraint::Length(4), Constraint::Length(9), Constraint::Fill(5), Constraint::Fill(4)];
        let mut hdr = vec!["   #", "state", "operation", "message"];
        if wide {
            widths.push(Constraint::Length(7));
            hdr.push("retries");
        }
        let table = selectable_table(t, rows, widths, hdr);
        let mut state = TableState::new().with_selected((!b.ops.is_empty()).then(|| b.selected - off));
        f.render_stateful_widget(table, table_area, &mut state);
    }
}

/// The view lists past batches: asked for with `b`, or there is no current batch to show.
fn showing_history(q: &Queue) -> bool {
    q.history.shown || (q.batch.is_none() && !q.submitting)
}

impl QueueView {
    /// The list of past batches, newest first: when, what, counts, and what `u` can restore.
    fn draw_history(&self, f: &mut Frame, r: Rect, v: &View) {
        let t = v.theme;
        let h = &v.queue.history;
        let hint = hint_bar(&self.keys(v), &[], r.width.saturating_sub(4) as usize);
        let title =
            Line::from(vec![Span::styled(" Queue: past batches ", t.title), Span::styled(format!("{} ", h.batches.len()), t.muted)]);
        let bl = block(t, title, true).title_bottom(hint_line(t, hint));
        let inner = bl.inner(r);
        f.render_widget(bl, r);
        if inner.height < 2 || inner.width < 10 {
            return;
        }
        let empty = if let Some(e) = &h.error {
            Some(Line::styled(format!("  the journal could not be read: {e}"), t.error))
        } else if h.batches.is_empty() && h.loading {
            Some(Line::styled("  reading the journal…", t.muted))
        } else if h.batches.is_empty() {
            Some(Line::styled("  No batch yet. Mark users (Space, V, *) and press d or a; in Groups: + - R n.", t.muted))
        } else {
            None
        };
        if let Some(l) = empty {
            f.render_widget(Paragraph::new(l).wrap(Wrap { trim: true }), inner);
            return;
        }
        let height = inner.height.saturating_sub(1) as usize;
        let off = visible_offset(h.selected, h.offset, height, h.batches.len());
        let end = (off + height).min(h.batches.len());
        let wide = inner.width >= 100;
        let rows = h.batches[off..end].iter().map(|b| {
            let state = if b.open > 0 {
                Span::styled("open", t.warning)
            } else if b.failed > 0 {
                Span::styled("failed", t.error)
            } else {
                Span::styled("done", t.ok)
            };
            // Failed and open batches say so in the state column.
            let counts = format!("{}/{}", thousands(b.done), thousands(b.total));
            // `created` is "YYYY-MM-DD HH:MM:SS…": the time of day is enough at 80 columns.
            let when = if wide { b.created.chars().take(19).collect::<String>() } else { b.created.chars().skip(5).take(11).collect() };
            // `u: N`: deactivations whose groups and roles can be given back; `u`: an undo of the
            // batch's other done operations (from the journal's before-values).
            let restore = if b.restorable > 0 {
                Span::styled(format!("u: {}", b.restorable), t.accent)
            } else if b.done > 0 {
                Span::styled("u", t.accent)
            } else {
                Span::raw("")
            };
            let mut cells = vec![
                Cell::from(when),
                Cell::from(state),
                Cell::from(scim::sanitize::clean(&b.description)),
                Cell::from(counts),
                Cell::from(restore),
            ];
            if wide {
                cells.push(Cell::from(Span::styled(b.batch_id.clone(), t.muted)));
            }
            Row::new(cells)
        });
        let when_w = if wide { 19 } else { 11 };
        let mut widths =
            vec![Constraint::Length(when_w), Constraint::Length(6), Constraint::Fill(5), Constraint::Length(9), Constraint::Length(7)];
        let mut hdr = vec!["when", "state", "batch", "done", "restore"];
        if wide {
            // As wide as the longest id shown (`b-20261207-234704-0a1b2c3d`): whole, to copy
            // into `scimitar restore --batch` (newcomer run: it was cut at 200x50).
            let id_w = h.batches[off..end].iter().map(|b| b.batch_id.chars().count()).max().unwrap_or(0).max(2);
            widths.push(Constraint::Length(id_w as u16));
            hdr.push("id");
        }
        let table = selectable_table(t, rows, widths, hdr);
        let mut state = TableState::new().with_selected(Some(h.selected - off));
        f.render_stateful_widget(table, inner, &mut state);
    }
}

/// A table with a header and a `> ` marker on the selected row (the batch and the past batches).
fn selectable_table<'a>(
    t: &super::theme::Theme,
    rows: impl IntoIterator<Item = Row<'a>>,
    widths: Vec<Constraint>,
    hdr: Vec<&'a str>,
) -> Table<'a> {
    Table::new(rows, widths)
        .header(Row::new(hdr).style(t.header))
        .column_spacing(1)
        .row_highlight_style(t.selected)
        .highlight_symbol("> ")
        .highlight_spacing(ratatui::widgets::HighlightSpacing::Always)
}
