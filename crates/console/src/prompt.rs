//! A one-line text prompt (tui-input) over the Groups pane: the new name of a group (`R`) or the
//! name of a new one (`n`). `Enter` checks the name and hands the action to the gate
//! (`confirm::ask`), which opens the confirmation; `Esc` cancels.

use super::component::{Component, Ctx, Handled, Offer, View, hint_list};
use super::draw::{block, hint_line, overlay_area};
use super::msg::{Effect, Level};
use crossterm::event::{Event, KeyCode, KeyEvent};
use provision::queue::{Action, Knowledge};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Clear;
use scim::sanitize::clean;
use std::borrow::Cow;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

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

#[derive(Clone, Debug)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: Input,
}

/// Open the prompt, unless writes are refused (read-only is the gate's first rule, asked before
/// a name is typed for nothing) or a batch runs.
pub fn open(ctx: &mut Ctx, kind: PromptKind, initial: &str) {
    if let Some(why) = ctx.queue.refuse_writes() {
        let what = match &kind {
            PromptKind::RenameGroup { from, .. } => format!("rename group {from}"),
            PromptKind::CreateGroup { .. } => "create a group".to_string(),
        };
        ctx.log(Level::Warn, format!("{what}: {why}"));
        return;
    }
    ctx.open(Prompt { kind, input: Input::new(initial.to_string()) });
}

impl Prompt {
    pub fn heading(&self) -> String {
        match &self.kind {
            PromptKind::RenameGroup { from, .. } => format!(" Rename group {} ", clean(from)),
            PromptKind::CreateGroup { members } => {
                format!(" New group ({}) ", super::draw::counted(members.len(), "marked member"))
            }
        }
    }

    fn submit(&mut self, ctx: &mut Ctx) -> Vec<Effect> {
        let name = self.input.value().trim().to_string();
        if name.is_empty() {
            ctx.log(Level::Warn, "the group name is empty");
            return vec![];
        }
        ctx.close();
        let groups = &ctx.dir.groups;
        let (what, action, clears) = match self.kind.clone() {
            PromptKind::RenameGroup { id, from } => {
                if from == name {
                    ctx.log(Level::Info, "same name; nothing to do");
                    return vec![];
                }
                if groups.iter().any(|g| g.id != id && g.name.eq_ignore_ascii_case(&name)) {
                    ctx.log(Level::Error, format!("a group named {name:?} already exists"));
                    return vec![];
                }
                (format!("rename group {from} to {name}"), Action::RenameGroup { id, from, to: name }, false)
            }
            PromptKind::CreateGroup { members } => {
                if groups.iter().any(|g| g.name.eq_ignore_ascii_case(&name)) {
                    ctx.log(Level::Error, format!("a group named {name:?} already exists"));
                    return vec![];
                }
                let n = members.len();
                (format!("create group {name} with {}", super::draw::counted(n, "member")), Action::CreateGroup { name, members }, n > 0)
            }
        };
        super::confirm::ask(ctx, vec![action], &Knowledge::default(), move |_| what, clears)
    }
}

impl Component for Prompt {
    fn title(&self) -> Cow<'static, str> {
        "Group name".into()
    }

    fn keys(&self, _v: &View) -> Vec<Offer> {
        vec![
            Offer::new("Enter", "next", "check the name, then the confirmation", true),
            Offer::new("Esc", "cancel", "cancel: nothing is done", true),
            Offer::new("text", "", "edit the name (arrows, C-a/C-e, C-w ...)", true),
        ]
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        match k.code {
            KeyCode::Esc => ctx.close(),
            KeyCode::Enter => return Handled::Consumed(self.submit(ctx)),
            _ => {
                self.input.handle_event(&Event::Key(*k));
            }
        }
        Handled::done()
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        let t = v.theme;
        let full = overlay_area(area);
        let r = Rect::new(full.x, area.y + area.height.saturating_sub(5) / 2, full.width, 5.min(area.height));
        let hint = hint_list(&self.keys(v), r.width.saturating_sub(4) as usize);
        let b = block(t, Line::styled(self.heading(), t.title), true).title_bottom(hint_line(t, hint));
        let inner = b.inner(r);
        f.render_widget(Clear, r);
        f.render_widget(b, r);
        if inner.height == 0 || inner.width < 4 {
            return;
        }
        super::draw::labelled_input(f, t, inner, "name: ", &self.input);
    }
}
