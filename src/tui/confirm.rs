//! The "ask" half of yazi's ask/do split. A verb (`d`, `a`, `+`, `-`, `R`, `n`) builds actions,
//! the gate (`queue::gate`) decides on them, and this dialog shows its decision and asks once:
//! the gate's one-line summary, the count and the first few operations, what is skipped and why
//! (protected, primary owner, bots, already as asked), and, above the confirmation threshold or
//! the deactivation ceiling, a typed count. Only a confirmed dialog emits `Effect::RunBatch`, which
//! carries the decision itself; a cancelled one emits nothing. Under `--read-only` the gate refuses
//! and no dialog opens. The group-name prompt (`R`, `n`) lives here too.

use super::app::{App, Effect, Level, Modal};
use super::render::{block_for, overlay_area};
use crate::queue::{Action, Decision, Knowledge};
use crate::sanitize::clean;
use crossterm::event::{Event, KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

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
}

impl Confirm {
    pub fn new(what: impl Into<String>, decision: Decision, threshold: usize) -> Confirm {
        let ceiling = decision.ceiling();
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
        }
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
        let mut out = vec![(level, clean(&self.decision.summary()))];
        out.push((Level::Info, format!("{} operation{}:", n, if n == 1 { "" } else { "s" })));
        let named: Vec<String> = self.first().into_iter().take(first).collect();
        let shown = named.len();
        for f in named {
            out.push((Level::Info, format!("  {f}")));
        }
        if n > shown {
            out.push((Level::Info, format!("  … and {} more", n - shown)));
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
        out
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum PromptKind {
    RenameGroup {
        id: String,
        from: String,
    },
    /// The new group's members (the marked users).
    CreateGroup {
        members: Vec<String>,
    },
}

/// A one-line text prompt (tui-input), e.g. a group's new name.
#[derive(Clone, Debug)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: Input,
}

impl Prompt {
    pub fn title(&self) -> String {
        match &self.kind {
            PromptKind::RenameGroup { from, .. } => format!(" Rename group {} ", clean(from)),
            PromptKind::CreateGroup { members } => {
                format!(" New group ({} marked member{}) ", members.len(), if members.len() == 1 { "" } else { "s" })
            }
        }
    }
}

impl App {
    /// Pass actions through the gate and open the dialog for its decision (or say why there is
    /// nothing to confirm). `what` names the batch for a count of operations.
    pub(super) fn ask(
        &mut self,
        actions: Vec<Action>,
        known: &Knowledge,
        what: impl FnOnce(usize) -> String,
        clears_marks: bool,
    ) -> Vec<Effect> {
        let asked = actions.len();
        if let Some(why) = self.queue.busy() {
            self.push_log(Level::Warn, format!("{}: {why}", what(asked)));
            return vec![];
        }
        let decision = crate::queue::gate(&self.queue.safety, actions, known);
        let what = what(if decision.is_empty() { asked } else { decision.runnable().len() });
        if let Some(h) = decision.hold().filter(|_| decision.is_read_only()) {
            self.push_log(Level::Warn, format!("{what}: {h}"));
            return vec![];
        }
        if decision.is_empty() {
            for s in decision.skipped() {
                self.push_log(Level::Warn, format!("skipping {}: {}", s.action.describe(), s.why()));
            }
            self.push_log(Level::Warn, format!("{what}: nothing to do ({})", decision.summary()));
            return vec![];
        }
        let mut c = Confirm::new(what, decision, self.queue.confirm_threshold);
        c.clears_marks = clears_marks;
        self.queue.confirm = Some(c);
        self.modals.retain(|m| !matches!(m, Modal::Help { .. }));
        self.modals.push(Modal::Confirm);
        vec![]
    }

    pub(super) fn confirm_key(&mut self, k: &KeyEvent) -> Vec<Effect> {
        let Some(c) = self.queue.confirm.as_mut() else {
            self.modals.pop();
            return vec![];
        };
        match k.code {
            KeyCode::Esc => return self.confirm_cancel(),
            KeyCode::Char('n') if !c.typed => return self.confirm_cancel(),
            KeyCode::Char('y') | KeyCode::Enter if !c.typed => return self.confirm_accept(),
            KeyCode::Enter => {
                if c.entry.trim() == c.count().to_string() {
                    return self.confirm_accept();
                }
                c.error = Some(format!("type {} (the number of operations) to confirm, or Esc to cancel", c.count()));
            }
            KeyCode::Backspace if c.typed => {
                c.entry.pop();
            }
            KeyCode::Char(d) if c.typed && d.is_ascii_digit() && c.entry.len() < 9 => {
                c.entry.push(d);
                c.error = None;
            }
            _ => {}
        }
        vec![]
    }

    fn confirm_cancel(&mut self) -> Vec<Effect> {
        self.modals.retain(|m| *m != Modal::Confirm);
        if let Some(c) = self.queue.confirm.take() {
            self.push_log(Level::Info, format!("{}: cancelled, nothing was done", c.what));
        }
        vec![]
    }

    fn confirm_accept(&mut self) -> Vec<Effect> {
        self.modals.retain(|m| *m != Modal::Confirm);
        let Some(c) = self.queue.confirm.take() else { return vec![] };
        if let Some(why) = self.queue.refuse_writes() {
            self.push_log(Level::Warn, format!("{}: {why}", c.what));
            return vec![];
        }
        for s in c.decision.skipped() {
            self.push_log(Level::Warn, format!("skipping {}: {}", s.action.describe(), s.why()));
        }
        if c.clears_marks {
            self.marks.clear();
            self.queue.anchor = None;
        }
        self.push_log(Level::Info, format!("{}: confirmed, queued {} operation(s)", c.what, c.count()));
        self.queue.submitting = true;
        self.queue_status = "starting".into();
        self.modals.push(Modal::Queue);
        // Past the ceiling the dialog only accepted the typed count: that passes it.
        let decision = if c.ceiling.is_some() { c.decision.pass_ceiling() } else { c.decision };
        vec![Effect::RunBatch { decision, description: c.what }]
    }

    pub(super) fn open_prompt(&mut self, kind: PromptKind, initial: &str) -> Vec<Effect> {
        // Read-only (the gate's first rule) is asked before a name is typed for nothing.
        if let Some(why) = self.queue.refuse_writes() {
            let what = match &kind {
                PromptKind::RenameGroup { from, .. } => format!("rename group {from}"),
                PromptKind::CreateGroup { .. } => "create a group".to_string(),
            };
            self.push_log(Level::Warn, format!("{what}: {why}"));
            return vec![];
        }
        self.queue.prompt = Some(Prompt { kind, input: Input::new(initial.to_string()) });
        self.modals.push(Modal::Prompt);
        vec![]
    }

    pub(super) fn prompt_key(&mut self, k: &KeyEvent) -> Vec<Effect> {
        let Some(p) = self.queue.prompt.as_mut() else {
            self.modals.pop();
            return vec![];
        };
        match k.code {
            KeyCode::Esc => {
                self.modals.retain(|m| *m != Modal::Prompt);
                self.queue.prompt = None;
                vec![]
            }
            KeyCode::Enter => {
                let name = p.input.value().trim().to_string();
                if name.is_empty() {
                    self.push_log(Level::Warn, "the group name is empty");
                    return vec![];
                }
                let kind = p.kind.clone();
                self.modals.retain(|m| *m != Modal::Prompt);
                self.queue.prompt = None;
                let (what, action, clears) = match kind {
                    PromptKind::RenameGroup { id, from } => {
                        if from == name {
                            self.push_log(Level::Info, "same name; nothing to do");
                            return vec![];
                        }
                        if self.groups.iter().any(|g| g.id != id && g.name.eq_ignore_ascii_case(&name)) {
                            self.push_log(Level::Error, format!("a group named {name:?} already exists"));
                            return vec![];
                        }
                        (format!("rename group {from} to {name}"), Action::RenameGroup { id, from, to: name }, false)
                    }
                    PromptKind::CreateGroup { members } => {
                        if self.groups.iter().any(|g| g.name.eq_ignore_ascii_case(&name)) {
                            self.push_log(Level::Error, format!("a group named {name:?} already exists"));
                            return vec![];
                        }
                        let n = members.len();
                        (format!("create group {name} with {n} members"), Action::CreateGroup { name, members }, n > 0)
                    }
                };
                self.ask(vec![action], &Knowledge::default(), move |_| what, clears)
            }
            _ => {
                p.input.handle_event(&Event::Key(*k));
                vec![]
            }
        }
    }
}

pub fn render_confirm(app: &App, f: &mut Frame, area: Rect) {
    let Some(c) = &app.queue.confirm else { return };
    let t = &app.theme;
    let w = (area.width.saturating_sub(4)).min(90).max(area.width.min(20));
    // Name fewer operations on a short terminal, so the prompt at the bottom always shows.
    let inner_w = w.saturating_sub(2).max(1) as usize;
    let rows = |ls: &[(Level, String)]| ls.iter().map(|(_, s)| s.chars().count().max(1).div_ceil(inner_w)).sum::<usize>();
    // A blank line, the prompt (and its hint when a count is typed), the error of a wrong count.
    let footer = 1 + if c.typed { 2 } else { 1 } + usize::from(c.error.is_some());
    let mut body = c.lines();
    for first in (0..FIRST).rev() {
        if rows(&body) + footer + 2 <= area.height as usize {
            break;
        }
        body = c.lines_naming(first);
    }
    let body_rows = rows(&body);
    let mut lines: Vec<Line> = body
        .into_iter()
        .map(|(l, s)| {
            let st = match l {
                Level::Warn => t.warning,
                Level::Error => t.error.add_modifier(Modifier::BOLD),
                _ => t.text,
            };
            Line::styled(s, st)
        })
        .collect();
    lines.push(Line::raw(""));
    if c.typed {
        let why = if c.ceiling.is_some() { "past the ceiling" } else { "a large destructive batch" };
        lines.push(Line::from(vec![
            Span::styled(format!("This is {why}. Type {} to confirm: ", c.count()), t.warning.add_modifier(Modifier::BOLD)),
            Span::styled(format!("[{}_]", c.entry), t.input),
        ]));
        lines.push(Line::styled("Enter confirm · Esc cancel", t.muted));
    } else {
        lines.push(Line::styled("Enter/y confirm · Esc/n cancel", t.muted));
    }
    if let Some(e) = &c.error {
        lines.push(Line::styled(e.clone(), t.error));
    }
    let h = ((body_rows + footer + 2) as u16).min(area.height);
    let r = Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h);
    let title = format!(" Confirm: {} ", clean(&c.what));
    let style = if c.destructive > 0 { t.warning } else { t.title };
    let b = block_for(t, Line::styled(title, style.add_modifier(Modifier::BOLD)));
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(b).wrap(Wrap { trim: false }), r);
}

pub fn render_prompt(app: &App, f: &mut Frame, area: Rect) {
    let Some(p) = &app.queue.prompt else { return };
    let t = &app.theme;
    let full = overlay_area(area);
    let r = Rect::new(full.x, area.y + area.height.saturating_sub(5) / 2, full.width, 5.min(area.height));
    let b = block_for(t, Line::styled(p.title(), t.title)).title_bottom(Line::styled(" Enter next · Esc cancel ", t.muted).right_aligned());
    let inner = b.inner(r);
    f.render_widget(Clear, r);
    f.render_widget(b, r);
    if inner.height == 0 || inner.width < 4 {
        return;
    }
    let label = "name: ";
    let width = inner.width.saturating_sub(label.len() as u16 + 1) as usize;
    let scroll = p.input.visual_scroll(width.max(1));
    let value: String = clean(p.input.value()).chars().skip(scroll).collect();
    f.render_widget(
        Paragraph::new(Line::from(vec![Span::styled(label, t.header), Span::styled(value, t.input)])),
        Rect { height: 1, ..inner },
    );
    let x = inner.x + label.len() as u16 + (p.input.visual_cursor().saturating_sub(scroll)) as u16;
    f.set_cursor_position((x.min(inner.right().saturating_sub(1)), inner.y));
}
