//! `?`: the help overlay. Its text is made from the keymaps themselves when it opens (the app
//! gathers each open overlay's keys, the active pane's, movement, the global keys, the input
//! lines and the other panes'), so it can never disagree with what the keys do.

use super::component::{Binding, Component, Ctx, Handled, N, NAV, Offer, View, bind, hint_list, lookup, offers};
use super::render::{hint_line, overlay};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Close,
}

static KEYS: &[Binding<Act>] = &[bind!("Esc q", "close", "close the help", Act::Close, [(KeyCode::Esc, N), (KeyCode::Char('q'), N)])];

pub struct Help {
    /// The pane it was opened from.
    pub pane: String,
    pub sections: Vec<(String, Vec<Offer>)>,
    pub scroll: u16,
}

impl Help {
    pub fn new(pane: String, sections: Vec<(String, Vec<Offer>)>) -> Help {
        Help { pane, sections, scroll: 0 }
    }

    pub fn lines(&self, v: &View) -> Vec<Line<'static>> {
        let t = v.theme;
        let mut lines = Vec::new();
        for (name, keys) in &self.sections {
            if keys.is_empty() {
                continue;
            }
            lines.push(Line::styled(name.clone(), t.header));
            for o in keys {
                let help = if o.now { t.text } else { t.muted };
                lines.push(Line::from(vec![Span::styled(format!("  {:<11}", o.label), t.accent), Span::styled(o.help.to_string(), help)]));
            }
            lines.push(Line::raw(""));
        }
        lines
    }
}

impl Component for Help {
    fn title(&self) -> Cow<'static, str> {
        "Help".into()
    }

    fn keys(&self, _v: &View) -> Vec<Offer> {
        let mut o = offers(KEYS, |_| true);
        o.push(Offer::new("j/k", "scroll", "scroll (PgUp/PgDn a page, g/G the ends)", true));
        o
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        if let Some(nav) = lookup(NAV, k) {
            let page = ctx.area.height as usize / 2;
            self.scroll = (self.scroll as isize).saturating_add(nav.delta(page)).clamp(0, 500) as u16;
            return Handled::done();
        }
        match lookup(KEYS, k) {
            Some(Act::Close) => {
                ctx.close();
                Handled::done()
            }
            None => Handled::Ignored,
        }
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        let t = v.theme;
        let (r, b) = overlay(f, area, t, format!(" Help: {} ", self.pane));
        let b = b.title_bottom(hint_line(t, hint_list(&self.keys(v), r.width.saturating_sub(4) as usize)));
        f.render_widget(Paragraph::new(self.lines(v)).block(b).scroll((self.scroll, 0)), r);
    }
}
