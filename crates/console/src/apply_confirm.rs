//! The confirmation of a policy apply (`A` in the Policies pane): the plan's counts, the
//! deactivations, the gate's decision (`policy::apply::preview`) and the ceilings it is over;
//! above the threshold or a ceiling the count of deactivations is typed. Accepting tells the
//! Policies pane to apply exactly the plan shown (`Note::ApplyPolicy`).

use super::component::{Component, Ctx, Handled, Note, Offer, View, hint_list};
use super::draw::{block, dialog, thousands, truncate};
use super::msg::PlanHandle;
use super::msg::{Effect, Level};
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

/// What the apply confirmation asks.
#[derive(Clone, Debug, PartialEq)]
pub struct ApplyTerms {
    /// Operations the gate lets through: the count to type, as every confirmation asks it (the
    /// console's, `scimitar apply`'s and `sync approve`'s; issue 25: `A` asked for deactivations).
    pub operations: usize,
    /// Deactivations the gate lets through.
    pub deactivations: usize,
    /// Operations of the second pass, once the users and groups the first creates exist (new
    /// users added to groups, their managers): said in the dialog, counted in the progress.
    pub later: usize,
    pub must_type: bool,
    /// The policy's ceiling and the profile's (the gate's), when the plan is over them.
    pub warnings: Vec<String>,
    /// The gate's one line: "5 to create user, 9 to update, 8 to deactivate · skipped: 1 bot".
    pub summary: String,
}

/// What the confirmation asks, from the gate's decision on the plan shown.
pub fn terms(live: &PlanHandle, ceiling: Option<&String>, d: &Decision) -> ApplyTerms {
    let mut warnings: Vec<String> = ceiling.into_iter().cloned().collect();
    // The console passes the ceiling with the typed count (there is no --force here).
    warnings.extend(d.ceiling_reason().map(|r| format!("{r}; type the count below if that is really meant")));
    let deactivations = d.deactivations();
    // As headless (`bulk::confirm`): a typed count past a ceiling or above the threshold of
    // destructive operations.
    let must_type = !warnings.is_empty() || d.destructive() > provision::queue::CONFIRM_THRESHOLD;
    let later = provision::policy::apply::later_operations(&live.0);
    ApplyTerms { operations: d.runnable().len(), deactivations, later, must_type, warnings, summary: super::confirm::gate_line(d) }
}

impl ApplyConfirm {
    /// The confirmation of applying policy `name`'s plan `live` (over the policy's own `ceiling`,
    /// when it is) as the gate decided it.
    pub fn new(name: &str, live: &PlanHandle, ceiling: Option<&String>, decision: &Decision) -> ApplyConfirm {
        ApplyConfirm {
            name: name.to_string(),
            plan: live.clone(),
            terms: terms(live, ceiling, decision),
            typed: String::new(),
            error: None,
        }
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
                Span::styled(provision::present::plan_summary_short(plan), t.header),
            ]),
            Line::styled(
                clean(&format!("{} to send: {gate_line}", super::draw::counted(*ops, "operation"))),
                if *deact > 0 { t.warning } else { t.text },
            ),
            Line::styled(format!("{}.", super::draw::counted(*deact, "deactivation")), if *deact > 0 { t.warning } else { t.text }),
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
