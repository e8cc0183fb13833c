//! The members list of one group (an overlay over the Groups pane): `Enter` shows the member in
//! the Users pane (fetching it first when it is not loaded), `y`/`Y` copy, `-` removes the
//! selected member and `+` adds the marked users, both through the gate.

use super::app::Level;
use super::component::{Binding, Component, Ctx, Handled, N, NAV, Note, Offer, View, bind, hint_bar, lookup, moved, offers};
use super::render::{MARK, hint_line, overlay, overlay_area, visible_offset};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Jump,
    Close,
    Copy,
    CopyId,
    Remove,
    Add,
}

static KEYS: &[Binding<Act>] = &[
    bind!("Enter", "jump to user", "show the member in the Users pane (fetched first when not loaded)", Act::Jump, [(KeyCode::Enter, N)]),
    bind!("Esc q", "close", "close the members list", Act::Close, [(KeyCode::Esc, N), (KeyCode::Char('q'), N)]),
    bind!("-", "remove", "remove the selected member (or the marked members) from the group", Act::Remove, [(KeyCode::Char('-'), N)]),
    bind!("+", "add marked", "add the users marked in the Users pane to the group", Act::Add, [(KeyCode::Char('+'), N)]),
    bind!("y", "copy", "copy the member's email (OSC 52)", Act::Copy, [(KeyCode::Char('y'), N)]),
    bind!("Y", "copy id", "copy the member's id (OSC 52)", Act::CopyId, [(KeyCode::Char('Y'), N)]),
];

/// The members of group `group` (an index into the loaded groups, which close this list when
/// they are read again).
pub struct Members {
    pub group: usize,
    pub selected: usize,
    pub offset: usize,
}

impl Members {
    pub fn new(group: usize) -> Members {
        Members { group, selected: 0, offset: 0 }
    }

    fn member<'a>(&self, ctx: &'a Ctx) -> Option<&'a String> {
        ctx.dir.groups.get(self.group).and_then(|g| g.members.get(self.selected))
    }
}

/// Rows of the list that fit (borders and header taken off).
fn rows(screen: Rect) -> usize {
    overlay_area(screen).height.saturating_sub(3) as usize
}

impl Component for Members {
    fn title(&self) -> Cow<'static, str> {
        "Members list".into()
    }

    fn keys(&self, v: &View) -> Vec<Offer> {
        let any = v.dir.groups.get(self.group).is_some_and(|g| !g.members.is_empty());
        offers(KEYS, |a| a == Act::Close || a == Act::Add || any)
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        if let Some(nav) = lookup(NAV, k) {
            let n = ctx.dir.groups.get(self.group).map_or(0, |g| g.members.len());
            let h = rows(ctx.area);
            self.selected = moved(self.selected, nav.delta(h), n);
            self.offset = visible_offset(self.selected, self.offset, h, n);
            return Handled::done();
        }
        let Some(a) = lookup(KEYS, k) else { return Handled::Ignored };
        let fx = match a {
            Act::Close => {
                ctx.close();
                vec![]
            }
            Act::Jump => {
                let Some(id) = self.member(ctx).cloned() else { return Handled::done() };
                match ctx.dir.store.index_of(&id) {
                    Some(idx) => ctx.show_user(idx),
                    None if crate::scim::types::check_id(&id).is_err() => {
                        ctx.log(Level::Warn, format!("member {id} has no usable user id"))
                    }
                    None => ctx.note(Note::FetchUser(id)),
                }
                vec![]
            }
            Act::Copy | Act::CopyId => {
                let Some(mid) = self.member(ctx).cloned() else { return Handled::done() };
                let (what, text) = match ctx.dir.store.index_of(&mid) {
                    Some(i) => ctx.dir.user_copy_text(i, a == Act::CopyId),
                    None => ("id", mid),
                };
                super::directory::copy(ctx, what, text)
            }
            Act::Remove => super::groups::members_verb(ctx, false, self.group, Some(self.selected)),
            Act::Add => super::groups::members_verb(ctx, true, self.group, None),
        };
        Handled::Consumed(fx)
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        let t = v.theme;
        let Some(g) = v.dir.groups.get(self.group) else { return };
        let title = Line::from(vec![
            Span::styled(format!(" {} ", g.name), t.title),
            Span::styled(format!("{} members ", g.members.len()), t.muted),
        ]);
        let (r, b) = overlay(f, area, t, title);
        let hint = hint_bar(&self.keys(v), &[], r.width.saturating_sub(4) as usize);
        let b = b.title_bottom(hint_line(t, hint));
        let inner = b.inner(r);
        f.render_widget(b, r);
        if g.members.is_empty() {
            f.render_widget(Paragraph::new(Line::styled("  This group has no members.", t.muted)), inner);
            return;
        }
        let height = inner.height.saturating_sub(1) as usize;
        let off = visible_offset(self.selected, self.offset, height, g.members.len());
        let end = (off + height).min(g.members.len());
        let rows = g.members[off..end].iter().map(|id| match v.dir.store.index_of(id) {
            Some(i) => {
                let u = v.dir.store.get(i);
                let row = Row::new(vec![Cell::from(u.name()), Cell::from(u.email()), Cell::from(id.as_str())]);
                if u.active() { row } else { row.style(t.inactive) }
            }
            None => Row::new(vec![Cell::from("(not loaded)"), Cell::from(""), Cell::from(id.as_str())]).style(t.muted),
        });
        let table = Table::new(rows, [Constraint::Fill(2), Constraint::Fill(3), Constraint::Length(11)])
            .header(Row::new(["Name", "Email", "Id"]).style(t.header))
            .row_highlight_style(t.selected)
            .highlight_symbol(MARK)
            .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
        let mut state = TableState::new().with_selected(Some(self.selected - off));
        f.render_stateful_widget(table, inner, &mut state);
    }
}
