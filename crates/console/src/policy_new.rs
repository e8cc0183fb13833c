//! The Policies pane's `n`: two one-line inputs (tui-input), the source file a new policy reads
//! and the policy's name (Tab between them; empty: the source's name). `Enter` writes
//! `<policies dir>/<name>.toml` from the commented template
//! (`policy::template`: the source's columns mapped where their names say what they hold,
//! nothing deactivated until the admin says so) and opens it in the editor (`Effect::EditFile`);
//! back from the editor, the pane lists it and computes its plan. Nothing is sent to Slack.

use super::component::{Component, Ctx, Handled, Offer, View, hint_list};
use super::draw::{block, hint_line, overlay_area};
use super::msg::{Effect, Level};
use crossterm::event::{Event, KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph};
use scim::sanitize::clean;
use std::borrow::Cow;
use std::path::Path;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

#[derive(Default)]
pub struct NewPolicy {
    pub input: Input,
    /// The policy's name (issue 25: it was always the source's stem, so a second `hr.csv`
    /// could not get a policy).
    pub name: Input,
    /// The name field has the keys (else the source).
    pub on_name: bool,
    /// Why the last Enter wrote nothing.
    pub error: Option<String>,
}

impl NewPolicy {
    fn source(typed: &str, ctx: &Ctx) -> std::path::PathBuf {
        let path = match (typed.strip_prefix("~/"), ctx.home) {
            (Some(rest), Some(h)) => Path::new(&h).join(rest),
            _ => Path::new(typed).to_path_buf(),
        };
        // A relative path is the policies dir's first, then the data dir's (the demo's HR
        // export is there), else the working directory's.
        let dir = ctx.paths.policies_dir();
        if !path.is_relative() || dir.join(&path).is_file() {
            path
        } else if ctx.paths.data_dir.join(&path).is_file() {
            ctx.paths.data_dir.join(&path)
        } else {
            std::env::current_dir().map(|d| d.join(&path)).unwrap_or(path)
        }
    }

    fn submit(&mut self, ctx: &mut Ctx) -> Vec<Effect> {
        let typed = self.input.value().trim();
        if typed.is_empty() {
            self.error = Some("type the path of the source file (CSV, JSON or JSON lines)".into());
            self.on_name = false;
            return vec![];
        }
        let source = Self::source(typed, ctx);
        let dir = ctx.paths.new_policies_dir();
        match provision::policy::template::write_new(&dir, &source, Some(self.name.value())) {
            Ok(p) => {
                ctx.close();
                ctx.log(Level::Ok, format!("wrote a new policy {} for {}; edit it, then read its plan", p.display(), source.display()));
                vec![Effect::EditFile { path: p }]
            }
            Err(e) => {
                // The field to change next has the keys.
                self.on_name = matches!(
                    e,
                    provision::policy::template::TemplateError::Exists { .. } | provision::policy::template::TemplateError::BadName(_)
                );
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
            Offer::new("Tab", "source/name", "between the source and the policy's name", true),
            Offer::new("Esc", "cancel", "cancel: nothing is written", true),
            Offer::new(
                "source",
                "",
                "the source file's path (relative: to the policies dir, the data dir, else the current dir; ~/ is home)",
                true,
            ),
            Offer::new("name", "", "the policy's name (letters, digits, - and _); empty: the source file's name", true),
        ]
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        match k.code {
            KeyCode::Esc => ctx.close(),
            KeyCode::Enter => return Handled::Consumed(self.submit(ctx)),
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down => self.on_name = !self.on_name,
            _ => {
                self.error = None;
                let input = if self.on_name { &mut self.name } else { &mut self.input };
                input.handle_event(&Event::Key(*k));
            }
        }
        Handled::done()
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        let t = v.theme;
        let full = overlay_area(area);
        let w = full.width.saturating_sub(2).max(1) as usize;
        let (msg, st) = match &self.error {
            Some(e) => (clean(e), t.error),
            None => (format!("written to {}", v.paths.new_policies_dir().display()), t.muted),
        };
        // The whole message, wrapped (it was cut at two lines).
        let msg_lines = super::draw::wrap_words(&msg, w);
        let h = (4 + msg_lines.len() as u16).min(area.height);
        let r = Rect::new(full.x, area.y + area.height.saturating_sub(h) / 2, full.width, h);
        let hint = hint_list(&self.keys(v), r.width.saturating_sub(4) as usize);
        let b = block(t, Line::styled(" New policy for a source file ", t.title), true).title_bottom(hint_line(t, hint));
        let inner = b.inner(r);
        f.render_widget(Clear, r);
        f.render_widget(b, r);
        if inner.height == 0 || inner.width < 10 {
            return;
        }
        let (mark, name_mark) = if self.on_name { ("  ", "> ") } else { ("> ", "  ") };
        let typed = self.input.value().trim();
        let placeholder = if typed.is_empty() {
            "empty: the source file's name".to_string()
        } else {
            format!("empty: {}", provision::policy::template::default_name(Path::new(typed)))
        };
        let rows = [(format!("{mark}source: "), &self.input, !self.on_name), (format!("{name_mark}name:   "), &self.name, self.on_name)];
        for (i, (label, input, focus)) in rows.iter().enumerate() {
            let y = inner.y + i as u16;
            if y >= inner.bottom() {
                break;
            }
            let row = Rect { y, height: 1, ..inner };
            if *focus {
                super::draw::labelled_input(f, t, row, label, input);
            } else {
                let value = if input.value().is_empty() && i == 1 {
                    ratatui::text::Span::styled(placeholder.clone(), t.muted)
                } else {
                    ratatui::text::Span::styled(clean(input.value()), t.input)
                };
                f.render_widget(Paragraph::new(Line::from(vec![ratatui::text::Span::styled(label.clone(), t.header), value])), row);
            }
            if *focus && i == 1 && input.value().is_empty() {
                let x = row.x + label.len() as u16;
                if x < row.right() {
                    f.render_widget(Paragraph::new(Line::styled(placeholder.clone(), t.muted)), Rect { x, width: row.right() - x, ..row });
                }
            }
        }
        if inner.height > 2 {
            let lines: Vec<Line> = msg_lines.into_iter().map(|l| Line::styled(l, st)).collect();
            f.render_widget(Paragraph::new(lines), Rect { y: inner.y + 2, height: inner.height - 2, ..inner });
        }
    }
}
