//! The Policies pane's `n`: a one-line prompt (tui-input) for the source file a new policy reads.
//! `Enter` writes `<policies dir>/<source name>.toml` from the commented template
//! (`policy::template`: the source's columns mapped where their names say what they hold,
//! nothing deactivated until the admin says so) and opens it in the editor (`Effect::EditFile`);
//! back from the editor, the pane lists it and computes its plan. Nothing is sent to Slack.

use super::app::{Effect, Level};
use super::component::{Component, Ctx, Handled, Offer, View, hint_list};
use super::render::{block, hint_line, overlay_area};
use crate::sanitize::clean;
use crossterm::event::{Event, KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph};
use std::borrow::Cow;
use std::path::Path;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

#[derive(Default)]
pub struct NewPolicy {
    pub input: Input,
    /// Why the last Enter wrote nothing.
    pub error: Option<String>,
}

impl NewPolicy {
    fn submit(&mut self, ctx: &mut Ctx) -> Vec<Effect> {
        let typed = self.input.value().trim();
        if typed.is_empty() {
            self.error = Some("type the path of the source file (CSV, JSON or JSON lines)".into());
            return vec![];
        }
        let home = std::env::var_os("HOME");
        let path = match (typed.strip_prefix("~/"), home) {
            (Some(rest), Some(h)) => Path::new(&h).join(rest),
            _ => Path::new(typed).to_path_buf(),
        };
        // A relative path is the policies dir's first, else the working directory's.
        let dir = ctx.paths.policies_dir();
        let source = if path.is_relative() && !dir.join(&path).is_file() {
            std::env::current_dir().map(|d| d.join(&path)).unwrap_or(path)
        } else {
            path
        };
        match crate::policy::template::write_new(&dir, &source) {
            Ok(p) => {
                ctx.close();
                ctx.log(Level::Ok, format!("wrote a new policy {} for {}; edit it, then read its plan", p.display(), source.display()));
                vec![Effect::EditFile { path: p }]
            }
            Err(e) => {
                self.error = Some(e.to_string());
                vec![]
            }
        }
    }
}

impl Component for NewPolicy {
    fn title(&self) -> Cow<'static, str> {
        "New policy".into()
    }

    fn keys(&self, _v: &View) -> Vec<Offer> {
        vec![
            Offer::new("Enter", "write and edit", "write the policy from the template, then open it in $EDITOR", true),
            Offer::new("Esc", "cancel", "cancel: nothing is written", true),
            Offer::new("text", "", "the source file's path (relative: to the policies dir, else the current dir; ~/ is home)", true),
        ]
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        match k.code {
            KeyCode::Esc => ctx.close(),
            KeyCode::Enter => return Handled::Consumed(self.submit(ctx)),
            _ => {
                self.error = None;
                self.input.handle_event(&Event::Key(*k));
            }
        }
        Handled::done()
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        let t = v.theme;
        let full = overlay_area(area);
        let h = 6.min(area.height);
        let r = Rect::new(full.x, area.y + area.height.saturating_sub(h) / 2, full.width, h);
        let hint = hint_list(&self.keys(v), r.width.saturating_sub(4) as usize);
        let b = block(t, Line::styled(" New policy for a source file ", t.title), true).title_bottom(hint_line(t, hint));
        let inner = b.inner(r);
        f.render_widget(Clear, r);
        f.render_widget(b, r);
        if inner.height == 0 || inner.width < 10 {
            return;
        }
        super::render::labelled_input(f, t, inner, "source: ", &self.input);
        if inner.height > 1 {
            let w = inner.width as usize;
            let (msg, st) = match &self.error {
                Some(e) => (clean(e), t.error),
                None => (format!("written to {}", v.paths.policies_dir().display()), t.muted),
            };
            let msg: String = msg.chars().take(w * 2).collect();
            f.render_widget(
                Paragraph::new(Line::styled(msg, st)).wrap(ratatui::widgets::Wrap { trim: true }),
                Rect { y: inner.y + 1, height: inner.height - 1, ..inner },
            );
        }
    }
}
