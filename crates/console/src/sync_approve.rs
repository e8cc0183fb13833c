//! The review of a quarantined sync (`S` in the Policies pane on a quarantined policy): why it
//! is held, the held plan's summary, the plan as it is now, the gate's decision and the ceilings
//! it is over; the count of operations is typed, as `scimitar sync approve` asks. Accepting runs
//! `sync::approve` itself (the runtime's `Effect::ApproveSync`), which applies the plan, records
//! the run and releases the quarantine, exactly as the headless command does.

use super::component::{Component, Ctx, Handled, Offer, View, hint_list};
use super::draw::{block, dialog, truncate};
pub use super::msg::ReviewHandle;
use super::msg::{Effect, Level};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use scim::sanitize::clean;
use std::borrow::Cow;
use std::path::PathBuf;

/// What the dialog shows, taken from the review once.
pub struct SyncApprove {
    pub name: String,
    pub path: PathBuf,
    pub review: ReviewHandle,
    lines: Vec<(Level, String)>,
    /// Operations the gate lets through: the count to type.
    pub count: usize,
    pub typed: String,
    pub error: Option<String>,
}

impl SyncApprove {
    pub fn new(name: String, path: PathBuf, review: ReviewHandle) -> SyncApprove {
        let (lines, count) = review
            .with(|r| {
                let q = &r.quarantine;
                let mut l = vec![(
                    Level::Warn,
                    format!("quarantined since {} ({:?}): {}", provision::report::format_time(q.since), q.kind, clean(&q.reason)),
                )];
                if let Some(h) = q.held.get("summary").and_then(|v| v.as_str()) {
                    l.push((Level::Info, format!("held plan: {}", clean(h))));
                }
                l.push((Level::Info, format!("plan now: {}", clean(&provision::present::plan_summary(&r.live.plan)))));
                l.push((
                    Level::Info,
                    format!(
                        "{} to send: {}",
                        super::draw::counted(r.decision.runnable().len(), "operation"),
                        clean(&super::confirm::gate_line(&r.decision))
                    ),
                ));
                for c in &r.ceilings {
                    l.push((Level::Error, format!("over the ceiling: {}", clean(c))));
                }
                (l, r.decision.runnable().len())
            })
            .unwrap_or_default();
        SyncApprove { name, path, review, lines, count, typed: String::new(), error: None }
    }
}

impl Component for SyncApprove {
    fn title(&self) -> Cow<'static, str> {
        "Sync approval".into()
    }

    fn keys(&self, _v: &View) -> Vec<Offer> {
        vec![
            Offer::new("0-9 ⌫", "", "type the number of operations", true),
            Offer::new("Enter", "approve", "apply the plan shown and release the quarantine (sync approve)", true),
            Offer::new("Esc", "cancel", "cancel: the policy stays quarantined", true),
        ]
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        match k.code {
            KeyCode::Esc => {
                ctx.close();
                ctx.log(Level::Info, format!("policy {}: not approved; it stays quarantined", self.name));
            }
            KeyCode::Char(c) if c.is_ascii_digit() => {
                if self.typed.len() < 9 {
                    self.typed.push(c);
                }
                self.error = None;
            }
            KeyCode::Backspace => {
                self.typed.pop();
            }
            KeyCode::Enter => {
                if self.typed != self.count.to_string() {
                    let what =
                        if self.typed.is_empty() { "nothing typed".to_string() } else { format!("{} is not {}", self.typed, self.count) };
                    self.error = Some(format!("{what}: type {} (the number of operations), then Enter; Esc cancels", self.count));
                    self.typed.clear();
                    return Handled::done();
                }
                ctx.close();
                if let Some(why) = ctx.queue.refuse_writes() {
                    ctx.log(Level::Warn, format!("sync approve {}: {why}", self.name));
                    return Handled::done();
                }
                ctx.log(
                    Level::Info,
                    format!(
                        "approving policy {}: applying {}, then releasing its quarantine",
                        self.name,
                        super::draw::counted(self.count, "operation")
                    ),
                );
                let fx = vec![Effect::ApproveSync { name: self.name.clone(), path: self.path.clone(), review: self.review.clone() }];
                return Handled::Consumed(fx);
            }
            _ => return Handled::Ignored,
        }
        Handled::done()
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        let t = v.theme;
        let style = |l: Level| match l {
            Level::Warn => t.warning,
            Level::Error => t.error,
            _ => t.text,
        };
        let body: Vec<Line> = self.lines.iter().map(|(l, s)| Line::styled(s.clone(), style(*l))).collect();
        let mut foot = vec![
            Line::raw(""),
            Line::from(vec![
                Span::styled(
                    format!("Type {}, the number of operations, and Enter to apply and release the quarantine: ", self.count),
                    t.warning,
                ),
                Span::styled(format!("[{}_]", self.typed), t.input),
            ]),
        ];
        if let Some(e) = &self.error {
            foot.push(Line::styled(e.clone(), t.error));
        }
        foot.push(Line::styled(hint_list(&self.keys(v), usize::MAX).trim().to_string(), t.muted));
        let b = block(t, format!(" Approve the quarantined sync of {}? ", truncate(&self.name, 40)), true);
        dialog(f, area, b, body, foot, 90);
    }
}
