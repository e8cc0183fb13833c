//! The confirmation of a policy apply (`A` in the Policies pane): the plan's counts, the
//! deactivations, the gate's decision (`policy::apply::preview`) and the ceilings it is over;
//! above the threshold or a ceiling the count of deactivations is typed. Accepting tells the
//! Policies pane to apply exactly the plan shown (`Note::ApplyPolicy`).

use super::app::{Effect, Level};
use super::component::{Component, Ctx, Handled, Note, Offer, View, hint_list};
use super::policies::{ApplyTerms, PlanHandle, PlanView, summary, terms};
use super::render::{block, dialog, thousands, truncate};
use crossterm::event::{KeyCode, KeyEvent};
use provision::queue::Decision;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use scim::sanitize::clean;
use std::borrow::Cow;

pub struct ApplyConfirm {
    pub name: String,
    pub plan: PlanHandle,
    /// What the gate decided when `A` was pressed (`apply_live` gates every pass again).
    pub terms: ApplyTerms,
    /// The count typed so far, when one is asked for.
    pub typed: String,
    /// Shown in the dialog after Enter with a wrong count.
    pub error: Option<String>,
}

impl ApplyConfirm {
    pub fn new(plan: &PlanView, decision: &Decision) -> ApplyConfirm {
        ApplyConfirm { name: plan.name.clone(), plan: plan.live.clone(), terms: terms(plan, decision), typed: String::new(), error: None }
    }
}

impl Component for ApplyConfirm {
    fn title(&self) -> Cow<'static, str> {
        "Apply confirmation".into()
    }

    fn keys(&self, _v: &View) -> Vec<Offer> {
        if self.terms.must_type {
            vec![
                Offer::new("0-9 ⌫", "", "type the number of operations", true),
                Offer::new("Enter", "apply", "apply (once the count typed is the number of operations)", true),
                Offer::new("Esc/n/q", "cancel", "cancel: nothing is changed", true),
            ]
        } else {
            vec![
                Offer::new("Enter/y", "apply", "apply the plan shown", true),
                Offer::new("Esc/n/q", "cancel", "cancel: nothing is changed", true),
            ]
        }
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        let ApplyTerms { operations: ops, later, must_type, .. } = self.terms;
        let go = match k.code {
            KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('q') => {
                ctx.close();
                ctx.log(Level::Info, "apply cancelled; nothing was changed");
                return Handled::done();
            }
            KeyCode::Char(c) if must_type && c.is_ascii_digit() => {
                if self.typed.len() < 9 {
                    self.typed.push(c);
                }
                self.error = None;
                false
            }
            KeyCode::Backspace if must_type => {
                self.typed.pop();
                false
            }
            KeyCode::Enter if must_type => {
                if self.typed == ops.to_string() {
                    true
                } else {
                    // Said in the dialog, where the admin is looking (and in the Log).
                    let what = if self.typed.is_empty() { "nothing typed".to_string() } else { format!("{} is not {ops}", self.typed) };
                    let msg = format!("{what}: type {ops} (the number of operations), then Enter to apply; Esc cancels");
                    self.typed.clear();
                    ctx.log(Level::Warn, msg.clone());
                    self.error = Some(msg);
                    false
                }
            }
            KeyCode::Enter | KeyCode::Char('y') if !must_type => true,
            _ => return Handled::Ignored,
        };
        if go {
            ctx.close();
            ctx.note(Note::ApplyPolicy { name: self.name.clone(), plan: self.plan.clone(), force: must_type, operations: ops + later });
        }
        Handled::Consumed(Vec::<Effect>::new())
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        let t = v.theme;
        let ApplyTerms { operations: ops, deactivations: deact, later, must_type, warnings: warns, summary: gate_line } = &self.terms;
        let b = block(t, format!(" Apply policy {}? ", truncate(&self.name, 40)), true);
        let plan = &self.plan.0.plan;
        let mut body = vec![
            Line::from(vec![
                Span::raw(format!("{} changes: ", thousands(plan.counts().changes() as u64))),
                Span::styled(summary(plan), t.header),
            ]),
            Line::styled(
                clean(&format!("{} to send: {gate_line}", super::render::counted(*ops, "operation"))),
                if *deact > 0 { t.warning } else { t.text },
            ),
            Line::styled(format!("{}.", super::render::counted(*deact, "deactivation")), if *deact > 0 { t.warning } else { t.text }),
        ];
        if *later > 0 {
            // Newcomer run: 199 confirmed, 200 ran. The second pass is said, with its count.
            body.insert(
                2,
                Line::styled(format!("Then {} more in a second pass, once the new users exist.", thousands(*later as u64)), t.text),
            );
        }
        for w in warns {
            body.push(Line::styled(format!("WARNING: {}", clean(w)), t.error));
        }
        // The prompt and its keys are pinned to the bottom: on screen at any size.
        let mut foot = vec![Line::raw("")];
        if *must_type {
            foot.push(Line::from(vec![
                Span::styled(format!("Type {ops}, the number of operations, and Enter to apply: "), t.warning),
                Span::styled(format!("[{}_]", self.typed), t.input),
            ]));
        }
        if let Some(e) = &self.error {
            foot.push(Line::styled(e.clone(), t.error));
        }
        foot.push(Line::styled(hint_list(&self.keys(v), usize::MAX).trim().to_string(), t.muted));
        dialog(f, area, b, body, foot, 72);
    }
}
