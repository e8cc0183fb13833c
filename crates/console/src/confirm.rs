//! The "ask" half of yazi's ask/do split. A verb (`d`, `a`, `+`, `-`, `R`, `n`) builds actions,
//! [`ask`] hands them to the gate (`queue::gate`), and this dialog shows its decision and asks
//! once: the gate's one-line summary, the count and the first few operations, what is skipped
//! and why (protected, primary owner, bots, already as asked), and, above the confirmation
//! threshold or the deactivation ceiling, a typed count. Only a confirmed dialog emits
//! `Effect::RunBatch`, which carries the decision itself; a cancelled one emits nothing. Under
//! `--read-only` the gate refuses and no dialog opens.

use super::component::{Component, Ctx, Handled, Offer, View, hint_list};
use super::draw::block;
use super::msg::{Effect, Level};
use crossterm::event::{KeyCode, KeyEvent};
use provision::queue::{Action, Decision, Knowledge};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use scim::sanitize::clean;
use std::borrow::Cow;

/// How many targets the dialog names before "… and N more".
pub const FIRST: usize = 5;

/// A decision of the gate waiting for the admin's yes.
#[derive(Clone, Debug, PartialEq)]
pub struct Confirm {
    /// "deactivate 3 users": the dialog's title and the batch's description.
    pub what: String,
    /// What the gate decided: the operations that run and those it skips (journaled and logged
    /// as skipped, with the reason).
    pub decision: Decision,
    /// Destructive operations that will run.
    pub destructive: usize,
    /// The admin must type the count (above the threshold, or past the ceiling).
    pub typed: bool,
    /// The ceiling's warning, when this batch would pass it.
    pub ceiling: Option<String>,
    /// What has been typed so far.
    pub entry: String,
    /// Shown after a wrong count.
    pub error: Option<String>,
    /// Clear the marks once the batch is confirmed (the verbs that used them).
    pub clears_marks: bool,
    /// Who a group change affects (an action per group names nobody by itself).
    pub who: Vec<String>,
    /// Who was screened out before sending, and why (a member Slack would refuse).
    pub screened: Vec<String>,
    /// The approval this dialog approves (the Approvals pane's `a`): confirming runs it as this
    /// account's approval (`Effect::RunApproval`).
    pub approval: Option<String>,
    /// Operations of a second pass that follow in the same run (an approved policy apply's
    /// memberships and managers of what its first pass creates).
    pub later: usize,
}

impl Confirm {
    pub fn new(what: impl Into<String>, decision: Decision, threshold: usize) -> Confirm {
        // The console passes the ceiling with a typed count (there is no --force here).
        let ceiling = decision.ceiling_reason().map(|r| format!("{r}; type the count below if that is really meant"));
        let destructive = decision.destructive();
        Confirm {
            what: what.into(),
            typed: destructive > threshold || ceiling.is_some(),
            destructive,
            ceiling,
            decision,
            entry: String::new(),
            error: None,
            clears_marks: false,
            who: Vec::new(),
            screened: Vec::new(),
            approval: None,
            later: 0,
        }
    }

    /// Four-eyes: confirming keeps the batch as a pending approval for another account instead
    /// of running it (the gate found it over `approval_over`, and this is no approval's run).
    pub fn proposes(&self) -> bool {
        self.approval.is_none() && self.decision.needs_approval().is_some()
    }

    /// Operations that will run.
    pub fn count(&self) -> usize {
        self.decision.runnable().len()
    }

    /// The first few operations, one line each, cleaned for the screen.
    pub fn first(&self) -> Vec<String> {
        self.decision.runnable().iter().take(FIRST).map(|a| clean(&a.describe())).collect()
    }

    /// The dialog's text (also what the tests read).
    pub fn lines(&self) -> Vec<(Level, String)> {
        self.lines_naming(FIRST)
    }

    /// The dialog's text naming at most `first` operations (fewer when the terminal is short).
    pub fn lines_naming(&self, first: usize) -> Vec<(Level, String)> {
        let n = self.count();
        let skipped = self.decision.skipped();
        let level = if skipped.is_empty() { Level::Info } else { Level::Warn };
        let mut out = vec![(level, clean(&gate_line(&self.decision)))];
        out.push((Level::Info, format!("{}:", super::draw::counted(n, "operation"))));
        let named: Vec<String> = self.first().into_iter().take(first).collect();
        let shown = named.len();
        for f in named {
            out.push((Level::Info, format!("  {f}")));
        }
        if n > shown {
            out.push((Level::Info, format!("  … and {} more", n - shown)));
        }
        if self.later > 0 {
            out.push((
                Level::Info,
                format!("Then {} more in a second pass, once the new users exist.", thousands_in(&self.later.to_string())),
            ));
        }
        if !self.who.is_empty() {
            out.push((Level::Info, format!("{}:", super::draw::counted(self.who.len(), "user"))));
            for w in self.who.iter().take(first.max(1)) {
                out.push((Level::Info, format!("  {}", clean(w))));
            }
            if self.who.len() > first.max(1) {
                out.push((Level::Info, format!("  … and {} more", self.who.len() - first.max(1))));
            }
        }
        if !self.screened.is_empty() {
            out.push((Level::Warn, format!("{} left out, never sent:", self.screened.len())));
            for w in self.screened.iter().take(3) {
                out.push((Level::Warn, format!("  {}", clean(w))));
            }
            if self.screened.len() > 3 {
                out.push((Level::Warn, format!("  … and {} more", self.screened.len() - 3)));
            }
        }
        if !skipped.is_empty() {
            out.push((Level::Warn, format!("{} skipped, never sent:", skipped.len())));
            for s in skipped.iter().take(3) {
                out.push((Level::Warn, format!("  {}: {}", clean(&s.action.target().label()), clean(&s.why()))));
            }
            if skipped.len() > 3 {
                out.push((Level::Warn, format!("  … and {} more", skipped.len() - 3)));
            }
        }
        if let Some(c) = &self.ceiling {
            out.push((Level::Error, format!("WARNING: {}", clean(c))));
        }
        if let Some(n) = self.decision.needs_approval().filter(|_| self.proposes()) {
            out.push((Level::Warn, format!("FOUR EYES: {n}. Confirming keeps it as a pending approval; nothing is sent now.")));
        }
        out
    }
}

/// The gate's decision in one line, as every console dialog words it (issue 25: the same
/// dialog said `11 member add` and `1 to add members`): the gate's summary, with a group change
/// counted in members as the plan counts them (`11 members to add (1 group)`), and thousands
/// separated as the status line's counts are (`96,926 to deactivate` beside `marked 96,930`).
pub fn gate_line(d: &Decision) -> String {
    use provision::queue::ActionKind;
    use std::collections::BTreeMap;
    let s = d.summary();
    if d.is_read_only() {
        return thousands_in(&s);
    }
    let rest = s.split_once(" · ").map(|(_, r)| r);
    let mut kinds: BTreeMap<ActionKind, (usize, usize)> = BTreeMap::new();
    for a in d.runnable() {
        let e = kinds.entry(a.kind()).or_default();
        e.0 += 1;
        if let Action::AddMembers { user_ids, .. } | Action::RemoveMembers { user_ids, .. } = a {
            e.1 += user_ids.len();
        }
    }
    let mut line = if kinds.is_empty() {
        "nothing to run".to_string()
    } else {
        kinds
            .iter()
            .map(|(k, (n, members))| match k {
                ActionKind::AddMembers | ActionKind::RemoveMembers => {
                    let verb = if *k == ActionKind::AddMembers { "add" } else { "remove" };
                    let m = super::draw::thousands(*members as u64);
                    format!("{m} member{} to {verb} ({})", if *members == 1 { "" } else { "s" }, super::draw::counted(*n, "group"))
                }
                _ => format!("{} to {}", super::draw::thousands(*n as u64), k.spec().verb),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(r) = rest {
        line.push_str(" · ");
        line.push_str(&thousands_in(r));
    }
    line
}

/// Every number of four digits or more in `s` with thousands separators (`96926` → `96,926`).
pub fn thousands_in(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 4 && !digits.starts_with('0') {
            out.push_str(&super::draw::thousands(digits.parse().unwrap_or(0)));
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    let mut prev_word = false;
    for c in s.chars() {
        if c.is_ascii_digit() && (!digits.is_empty() || !prev_word) {
            digits.push(c);
            continue;
        }
        flush(&mut digits, &mut out);
        prev_word = c.is_alphanumeric() || c == '-' || c == '_';
        out.push(c);
    }
    flush(&mut digits, &mut out);
    out
}

/// Pass actions through the gate and open the dialog for its decision (or say why there is
/// nothing to confirm). `what` names the batch for a count of operations; `clears_marks`: the
/// verb used the marks, which are cleared once the batch is confirmed. Every console verb that
/// writes comes through here.
pub fn ask(ctx: &mut Ctx, actions: Vec<Action>, known: &Knowledge, what: impl FnOnce(usize) -> String, clears_marks: bool) -> Vec<Effect> {
    ask_naming(ctx, actions, known, what, clears_marks, Vec::new(), Vec::new())
}

/// [`ask`], with the users a group change affects (`who`) and those screened out before it
/// (`screened`, each with its reason) named in the dialog.
pub fn ask_naming(
    ctx: &mut Ctx,
    actions: Vec<Action>,
    known: &Knowledge,
    what: impl FnOnce(usize) -> String,
    clears_marks: bool,
    who: Vec<String>,
    screened: Vec<String>,
) -> Vec<Effect> {
    let asked = actions.len();
    if let Some(why) = ctx.queue.busy() {
        ctx.log(Level::Warn, format!("{}: {why}", what(asked)));
        return vec![];
    }
    let mut known = known.clone();
    ctx.dir.share_bases(&mut known);
    let decision = provision::queue::gate(&ctx.queue.safety, actions, &known);
    let what = what(if decision.is_empty() { asked } else { decision.runnable().len() });
    if let Some(h) = decision.hold().filter(|_| decision.is_read_only()) {
        ctx.log(Level::Warn, format!("{what}: {h}"));
        return vec![];
    }
    if decision.is_empty() {
        for s in decision.skipped() {
            ctx.log(Level::Warn, format!("skipping {}: {}", s.action.describe(), s.why()));
        }
        ctx.log(Level::Warn, format!("{what}: nothing to do ({})", gate_line(&decision)));
        return vec![];
    }
    let mut c = Confirm::new(what, decision, ctx.queue.confirm_threshold);
    c.clears_marks = clears_marks;
    c.who = who;
    c.screened = screened;
    ctx.open(c);
    vec![]
}

impl Confirm {
    fn cancel(&mut self, ctx: &mut Ctx) -> Vec<Effect> {
        ctx.close();
        ctx.log(Level::Info, format!("{}: cancelled, nothing was done", self.what));
        vec![]
    }

    fn accept(&mut self, ctx: &mut Ctx) -> Vec<Effect> {
        ctx.close();
        if let Some(why) = ctx.queue.refuse_writes() {
            ctx.log(Level::Warn, format!("{}: {why}", self.what));
            return vec![];
        }
        for s in self.decision.skipped() {
            ctx.log(Level::Warn, format!("skipping {}: {}", s.action.describe(), s.why()));
        }
        if self.clears_marks {
            ctx.dir.marks.clear();
        }
        // Past the ceiling the dialog only accepted the typed count: that passes it.
        let decision = if self.ceiling.is_some() { self.decision.clone().pass_ceiling() } else { self.decision.clone() };
        if self.proposes() {
            ctx.log(
                Level::Warn,
                format!("{}: over approval_over: proposing it for another account's approval; nothing is sent", self.what),
            );
            return vec![Effect::ProposeBatch { decision, description: self.what.clone() }];
        }
        if let Some(id) = &self.approval {
            ctx.log(Level::Info, format!("{}: approved, queued {}", self.what, super::draw::counted(self.count(), "operation")));
            ctx.queue.submitting = true;
            ctx.queue.status = "starting".into();
            ctx.open_queue_view();
            return vec![Effect::RunApproval { id: id.clone(), decision, description: self.what.clone() }];
        }
        ctx.log(Level::Info, format!("{}: confirmed, queued {}", self.what, super::draw::counted(self.count(), "operation")));
        ctx.queue.submitting = true;
        ctx.queue.status = "starting".into();
        ctx.open_queue_view();
        vec![Effect::RunBatch { decision, description: self.what.clone() }]
    }
}

impl Component for Confirm {
    fn title(&self) -> Cow<'static, str> {
        "Confirmation".into()
    }

    fn keys(&self, _v: &View) -> Vec<Offer> {
        let (yes, what) = if self.proposes() {
            ("propose", "propose it for another account's approval (nothing is sent now)")
        } else if self.approval.is_some() {
            ("approve", "approve and run it: the operations listed are queued")
        } else {
            ("confirm", "confirm: the operations listed are queued")
        };
        if self.typed {
            vec![
                Offer::new("0-9 ⌫", "", "type the number of operations", true),
                Offer {
                    help: Cow::Owned(format!("{what} (once the count typed is the number of operations)")),
                    ..Offer::new("Enter", yes, "", true)
                },
                Offer::new("Esc", "cancel", "cancel: nothing is done", true),
            ]
        } else {
            vec![Offer::new("Enter/y", yes, what, true), Offer::new("Esc/n", "cancel", "cancel: nothing is done", true)]
        }
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        let fx = match k.code {
            KeyCode::Esc => self.cancel(ctx),
            KeyCode::Char('n') if !self.typed => self.cancel(ctx),
            KeyCode::Char('y') | KeyCode::Enter if !self.typed => self.accept(ctx),
            KeyCode::Enter => {
                if self.entry.trim() == self.count().to_string() {
                    self.accept(ctx)
                } else {
                    self.error = Some(format!("type {} (the number of operations) to confirm, or Esc to cancel", self.count()));
                    vec![]
                }
            }
            KeyCode::Backspace if self.typed => {
                self.entry.pop();
                vec![]
            }
            KeyCode::Char(d) if self.typed && d.is_ascii_digit() && self.entry.len() < 9 => {
                self.entry.push(d);
                self.error = None;
                vec![]
            }
            _ => return Handled::Ignored,
        };
        Handled::Consumed(fx)
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        let c = self;
        let t = v.theme;
        let w = (area.width.saturating_sub(4)).min(90).max(area.width.min(20));
        let inner_w = w.saturating_sub(2).max(1);
        // Indented lines (the operations, who, what is skipped) wrap under themselves.
        let styled = |body: Vec<(Level, String)>| -> Vec<Line<'static>> {
            body.into_iter()
                .flat_map(|(l, s)| {
                    let st = match l {
                        Level::Warn => t.warning,
                        Level::Error => t.error.add_modifier(Modifier::BOLD),
                        _ => t.text,
                    };
                    super::draw::hang(&s, inner_w as usize).into_iter().map(move |p| Line::styled(p, st))
                })
                .collect()
        };
        // The prompt, its keys and the error of a wrong count: pinned to the dialog's bottom.
        let mut foot = vec![Line::raw("")];
        if c.typed {
            let why = if c.ceiling.is_some() { "past the ceiling" } else { "a large destructive batch" };
            foot.push(Line::styled(format!("This is {why}."), t.warning.add_modifier(Modifier::BOLD)));
            foot.push(Line::from(vec![
                Span::styled(format!("Type {}, the number of operations, to confirm: ", c.count()), t.warning.add_modifier(Modifier::BOLD)),
                Span::styled(format!("[{}_]", c.entry), t.input),
            ]));
        }
        foot.push(Line::styled(hint_list(&self.keys(v), usize::MAX).trim().to_string(), t.muted));
        if let Some(e) = &c.error {
            foot.push(Line::styled(e.clone(), t.error));
        }
        // Name fewer operations on a short terminal, so the skipped ones and the warning show too.
        let room = (area.height as usize).saturating_sub(2 + super::draw::wrapped_rows(&foot, inner_w));
        let mut body = styled(c.lines());
        for first in (0..FIRST).rev() {
            if super::draw::wrapped_rows(&body, inner_w) <= room {
                break;
            }
            body = styled(c.lines_naming(first));
        }
        let title = format!(" Confirm: {} ", clean(&c.what));
        let style = if c.destructive > 0 { t.warning } else { t.title };
        let b = block(t, Line::styled(title, style.add_modifier(Modifier::BOLD)), true);
        super::draw::dialog(f, area, b, body, foot, 90);
    }
}
