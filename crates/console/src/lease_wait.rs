//! The offer to wait for the org's lease: another writer (an admin on another host, a sync)
//! holds it, so this batch may not start. The dialog says who; `Enter`/`y` waits for them to
//! finish (the runner checks every second; `x` in the queue view stops waiting), `Esc`/`n` gives
//! the batch up (nothing was journaled or sent).

use super::component::{Component, Ctx, Handled, Offer, View, hint_list};
use super::draw::{block, dialog};
use super::msg::{Effect, Level};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use scim::sanitize::clean;
use std::borrow::Cow;

pub struct LeaseWait {
    /// Who holds the lease, as the store says (`ann@jump1 (pid 4242, …)`) and the whole message.
    pub message: String,
}

impl LeaseWait {
    pub fn new(message: String) -> LeaseWait {
        LeaseWait { message }
    }
}

impl Component for LeaseWait {
    fn title(&self) -> Cow<'static, str> {
        "Lease held".into()
    }

    fn keys(&self, _v: &View) -> Vec<Offer> {
        vec![
            Offer::new("Enter/y", "wait for it", "wait until the other writer is done, then run the batch (x stops waiting)", true),
            Offer::new("Esc/n/q", "give up", "do not run the batch (nothing was journaled or sent)", true),
        ]
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        let wait = match k.code {
            KeyCode::Enter | KeyCode::Char('y') => true,
            KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('q') => false,
            _ => return Handled::Ignored,
        };
        ctx.close();
        if wait {
            ctx.log(Level::Info, "waiting for the org's lease (x in the queue view stops waiting)".to_string());
        } else {
            ctx.log(Level::Info, "not waiting for the org's lease: the batch was not run".to_string());
        }
        Handled::Consumed(vec![Effect::LeaseWait { wait }])
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        let t = v.theme;
        let body = vec![
            Line::styled("Another scimitar is writing to this Slack org:", t.warning),
            Line::raw(""),
            Line::styled(format!("  {}", clean(&self.message)), t.text),
        ];
        let foot = vec![
            Line::raw(""),
            Line::styled("Nothing of this batch was journaled or sent. Waiting starts it once the other one is done.", t.muted),
            Line::styled(format!("Wait for it? {}", hint_list(&self.keys(v), usize::MAX).trim()), t.accent),
        ];
        let b = block(t, Line::styled(" The org's lease is held ", t.title), true);
        dialog(f, area, b, body, foot, 100);
    }
}
