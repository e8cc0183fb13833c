//! The offer to resume what a previous run left unfinished on this host (opened at start when
//! the journal has open batches): `Enter` resumes them (each passes the gate again in the
//! runner, `queue::regate`), `Esc` leaves them for `scimitar resume`.

use super::component::{Component, Ctx, Handled, Offer, View, hint_list};
use super::draw::{block, dialog};
use super::msg::ResumeOffer;
use super::msg::{Effect, Level};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use scim::sanitize::clean;
use std::borrow::Cow;

pub struct Resume {
    pub offers: Vec<ResumeOffer>,
}

impl Resume {
    pub fn new(offers: Vec<ResumeOffer>) -> Resume {
        Resume { offers }
    }
}

impl Component for Resume {
    fn title(&self) -> Cow<'static, str> {
        "Resume offer".into()
    }

    fn keys(&self, _v: &View) -> Vec<Offer> {
        vec![
            Offer::new("Enter/y", "resume now", "resume the batches now (finished operations never run again)", true),
            Offer::new("Esc/n/q", "leave for later (scimitar resume)", "leave them in the journal for `scimitar resume`", true),
        ]
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        let fx = match k.code {
            KeyCode::Enter | KeyCode::Char('y') => {
                ctx.close();
                if let Some(why) = ctx.queue.refuse_writes() {
                    ctx.log(Level::Warn, format!("resume: {why}"));
                    return Handled::done();
                }
                let batch_ids: Vec<String> = self.offers.iter().map(|o| o.batch_id.clone()).collect();
                ctx.log(Level::Info, format!("resuming {} unfinished batch(es)", batch_ids.len()));
                ctx.queue.submitting = true;
                ctx.queue.status = "starting".into();
                ctx.open_queue_view();
                vec![Effect::ResumeBatches { batch_ids }]
            }
            KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('q') => {
                ctx.close();
                let n = self.offers.len();
                ctx.log(Level::Info, format!("left {n} unfinished batch(es) for later: `scimitar resume` finishes them"));
                vec![]
            }
            _ => return Handled::Ignored,
        };
        Handled::Consumed(fx)
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        let t = v.theme;
        let mut body = vec![Line::styled("A previous run stopped before finishing these batches:", t.warning), Line::raw("")];
        for o in self.offers.iter().take(6) {
            body.push(Line::styled(
                format!("  {}  {}: {} of {} operations open (started {})", o.batch_id, clean(&o.description), o.open, o.total, o.created),
                t.text,
            ));
        }
        if self.offers.len() > 6 {
            body.push(Line::styled(format!("  … and {} more", self.offers.len() - 6), t.text));
        }
        // The question and its keys are pinned to the bottom: on screen at any size.
        let foot = vec![
            Line::raw(""),
            Line::styled("Resuming is safe: nothing that finished runs again; an operation that was in flight is checked first.", t.muted),
            Line::styled(format!("Resume now? {}", hint_list(&self.keys(v), usize::MAX).trim()), t.accent),
        ];
        let b = block(t, Line::styled(" Resume unfinished work? ", t.title), true);
        dialog(f, area, b, body, foot, 100);
    }
}
