//! `q` or `Ctrl-c` while a batch runs: a dialog (not a Log line that scrolls away) that says what
//! quitting now does to the batch and waits for `q`/`Ctrl-c` again (quit) or `Esc` (stay). What
//! happens to the operations not sent yet depends on the journal: kept (the next start offers to
//! resume them), or, in the demo, whose data dir is deleted when it quits, dropped.

use super::component::{Component, Ctx, Handled, Offer, View, hint_list};
use super::draw::{block, dialog, thousands};
use crossterm::event::{KeyCode, KeyEvent};
use provision::queue::OpState;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::Line;
use scim::sanitize::clean;
use std::borrow::Cow;

pub struct QuitGuard {
    /// The journal outlives this run (false in the demo: its data dir is deleted at quit).
    pub resumable: bool,
}

impl QuitGuard {
    /// The dialog's text for the batch as it is now.
    pub fn lines(&self, v: &View) -> Vec<String> {
        let Some(b) = v.queue.batch.as_ref().filter(|b| b.running) else {
            return vec!["The batch has finished: nothing is lost by quitting now.".into()];
        };
        let left = b.count(OpState::Pending) + b.count(OpState::Running);
        let mut out = vec![format!(
            "A batch is running: {} ({} of {} done).",
            clean(&b.description),
            thousands(b.ended() as u64),
            thousands(b.ops.len() as u64)
        )];
        let n = super::draw::counted(left, "operation");
        out.push(if self.resumable {
            format!(
                "Quitting now stops it: the {n} not finished stay in the journal, and the next start offers to resume them (or `scimitar resume`)."
            )
        } else {
            format!("Quitting now stops it: the {n} not finished are dropped (the demo's emulator and its data go away when it quits).")
        });
        out.push("To stop sending and stay, cancel it instead: x in the queue view (Q).".into());
        out
    }
}

impl Component for QuitGuard {
    fn title(&self) -> Cow<'static, str> {
        "Quit while a batch runs".into()
    }

    fn keys(&self, _v: &View) -> Vec<Offer> {
        vec![
            Offer::new("q/C-c", "quit now", "quit now (the batch stops where it is)", true),
            Offer::new("Esc/n", "stay", "close this and keep working (the batch goes on)", true),
        ]
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        match k.code {
            KeyCode::Char('q') => ctx.quit(),
            KeyCode::Esc | KeyCode::Char('n') => ctx.close(),
            _ => return Handled::Ignored,
        }
        Handled::done()
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        let t = v.theme;
        let body: Vec<Line> = self.lines(v).into_iter().map(|l| Line::styled(l, t.text)).collect();
        let foot = vec![
            Line::raw(""),
            Line::styled("q again (or Ctrl-c) quits now; Esc stays.", t.warning.add_modifier(Modifier::BOLD)),
            Line::styled(hint_list(&self.keys(v), usize::MAX).trim().to_string(), t.muted),
        ];
        let b = block(t, Line::styled(" Quit while a batch runs? ", t.warning.add_modifier(Modifier::BOLD)), true);
        dialog(f, area, b, body, foot, 76);
    }
}
