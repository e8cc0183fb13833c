//! `?`: the help overlay. Its text is made from the keymaps themselves when it opens (the app
//! gathers each open overlay's keys, the active pane's, movement, the global keys, the input
//! lines and the other panes'), so it can never disagree with what the keys do.

use super::component::{Binding, Component, Ctx, Handled, N, NAV, Offer, View, bind, hint_list, lookup, offers};
use super::draw::{hint_line, overlay};
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

    /// The help's lines for a box `width` columns wide inside: each key's text wraps under
    /// itself (issue 12: lines were cut at 80 columns).
    pub fn lines(&self, v: &View, width: u16) -> Vec<Line<'static>> {
        let t = v.theme;
        const KEY_W: usize = 13;
        let text_w = (width as usize).saturating_sub(KEY_W).max(10);
        let mut lines = Vec::new();
        for (name, keys) in &self.sections {
            if keys.is_empty() {
                continue;
            }
            lines.push(Line::styled(name.clone(), t.header));
            for o in keys {
                let help = if o.now { t.text } else { t.muted };
                for (i, part) in super::draw::wrap_words(&o.help, text_w).into_iter().enumerate() {
                    // Only the key is styled, not the blanks around it (NO_COLOR underlines it).
                    let key = if i == 0 { o.label.to_string() } else { String::new() };
                    let pad = " ".repeat(KEY_W.saturating_sub(2 + unicode_width::UnicodeWidthStr::width(key.as_str())).max(1));
                    lines.push(Line::from(vec![Span::raw("  "), Span::styled(key, t.accent), Span::raw(pad), Span::styled(part, help)]));
                }
            }
            lines.push(Line::raw(""));
        }
        lines
    }

    /// The farthest the help scrolls on this screen: its last line at the bottom of the box.
    pub fn max_scroll(&self, screen: Rect) -> u16 {
        let r = super::draw::overlay_area(screen);
        let (w, h) = (r.width.saturating_sub(2), r.height.saturating_sub(2));
        let text_w = (w as usize).saturating_sub(13).max(10);
        let rows: usize = self
            .sections
            .iter()
            .filter(|(_, keys)| !keys.is_empty())
            .map(|(_, keys)| 2 + keys.iter().map(|o| super::draw::wrap_words(&o.help, text_w).len()).sum::<usize>())
            .sum();
        (rows as u16).saturating_sub(h)
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
            // Never past the end into an empty box (issue 12).
            let max = self.max_scroll(ctx.area) as isize;
            self.scroll = (self.scroll as isize).saturating_add(nav.delta(page)).clamp(0, max) as u16;
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
        let scroll = self.scroll.min(self.max_scroll(area));
        f.render_widget(Paragraph::new(self.lines(v, r.width.saturating_sub(2))).block(b).scroll((scroll, 0)), r);
    }
}
