//! Detail views (overlays): one user (every attribute, the manager's name and the groups
//! resolved from what is loaded; `y`/`Y` copy), and [`Detail`], a scrolling list of
//! attribute/value pairs that the Reports pane (one record, hashes included) and the Policies
//! pane (one change of the plan) open.

use super::app::Effect;
use super::component::{Binding, Component, Ctx, Handled, N, NAV, Offer, View, bind, hint_bar, lookup, offers};
use super::directory::{Directory, UserStore};
use super::render::{hint_line, overlay};
use crate::sanitize::clean;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Close,
    Copy,
    CopyId,
}

static USER_KEYS: &[Binding<Act>] = &[
    bind!("Esc q", "close", "close the detail view", Act::Close, [(KeyCode::Esc, N), (KeyCode::Char('q'), N)]),
    bind!("y", "copy email", "copy the email (OSC 52)", Act::Copy, [(KeyCode::Char('y'), N)]),
    bind!("Y", "copy id", "copy the id (OSC 52)", Act::CopyId, [(KeyCode::Char('Y'), N)]),
];

static KEYS: &[Binding<Act>] =
    &[bind!("Esc q", "close", "close the detail view", Act::Close, [(KeyCode::Esc, N), (KeyCode::Char('q'), N)])];

fn scroll_offer() -> Offer {
    Offer::new("j/k", "scroll", "scroll (PgUp/PgDn a page, g/G the ends)", true)
}

/// Scroll by a movement key: a page is half the screen.
fn scroll_by(scroll: &mut u16, k: &KeyEvent, ctx: &Ctx) -> bool {
    let Some(nav) = lookup(NAV, k) else { return false };
    *scroll = (*scroll as isize).saturating_add(nav.delta(ctx.area.height as usize / 2)).clamp(0, 500) as u16;
    true
}

/// What a detail overlay draws: its title, its keys, the rows, the widest key column, the scroll.
struct Page<'a> {
    title: Line<'a>,
    keys: Vec<Offer>,
    rows: Vec<(String, String, Style)>,
    key_width: usize,
    scroll: u16,
}

/// Draw attribute/value rows in an overlay.
fn draw(f: &mut Frame, area: Rect, v: &View, p: Page) {
    let Page { title, keys: hint, rows, key_width: kw, scroll } = p;
    let t = v.theme;
    let (r, b) = overlay(f, area, t, title);
    let b = b.title_bottom(hint_line(t, hint_bar(&hint, &[], r.width.saturating_sub(4) as usize)));
    let kw = rows.iter().map(|(k, _, _)| k.chars().count()).max().unwrap_or(0).min(kw);
    let lines: Vec<Line> = rows
        .into_iter()
        .map(|(k, val, st)| Line::from(vec![Span::styled(format!("{k:<kw$}  "), t.header), Span::styled(val, st)]))
        .collect();
    f.render_widget(Paragraph::new(lines).block(b).wrap(Wrap { trim: false }).scroll((scroll, 0)), r);
}

/// One user's detail view; it follows the user by id across reloads.
pub struct UserDetail {
    pub id: Box<str>,
    pub scroll: u16,
}

impl UserDetail {
    pub fn new(store: &UserStore, idx: u32) -> UserDetail {
        UserDetail { id: store.get(idx).id().into(), scroll: 0 }
    }
}

/// Attribute/value pairs for the detail view, cleaned, with the manager's name and the groups
/// resolved from what is loaded.
///
/// The loaded rows are compact (`provision::directory`); the full record is fetched when the
/// view opens (`Effect::FetchDetail`). Until it arrives, the compact fields are shown.
pub fn detail_rows(dir: &Directory, idx: u32) -> Vec<(String, String)> {
    let r = dir.store.get(idx);
    let full = dir.full.get(r.id());
    let mut rows: Vec<(String, String)> = match full {
        Some(u) => crate::cli::user_detail_rows(u).into_iter().map(|(k, v)| (k, clean(&v))).collect(),
        None => {
            let mut v = vec![("id".to_string(), r.id_shown().into_owned())];
            let mut push = |k: &str, val: &str| {
                if !val.is_empty() {
                    v.push((k.to_string(), val.to_string()));
                }
            };
            push("userName", r.user_name());
            push("displayName", r.name());
            if let Some(a) = r.active_opt() {
                push("active", if a { "true" } else { "false" });
            }
            push("email (primary)", r.email());
            push("title", r.title());
            push("department", r.department());
            push("manager", r.manager_id());
            push("roles", r.roles());
            if r.guest() {
                push("guest", "multi-channel guest");
            }
            v.push(("…".to_string(), "fetching the full record".to_string()));
            v
        }
    };
    for (k, v) in rows.iter_mut() {
        if k == "manager"
            && let Some(m) = dir.store.index_of(v)
        {
            *v = format!("{v} ({})", dir.store.get(m).name());
        }
    }
    if full.is_none_or(|u| u.groups.as_ref().is_none_or(|g| g.is_empty())) {
        let id = r.id();
        for g in dir.groups.iter().filter(|g| g.members.iter().any(|m| m == id)) {
            rows.push(("group".into(), format!("{} {}", g.name, g.id)));
        }
    }
    rows
}

impl Component for UserDetail {
    fn title(&self) -> Cow<'static, str> {
        "User detail".into()
    }

    fn keys(&self, _v: &View) -> Vec<Offer> {
        let mut o = offers(USER_KEYS, |_| true);
        o.push(scroll_offer());
        o
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        if scroll_by(&mut self.scroll, k, ctx) {
            return Handled::done();
        }
        let Some(a) = lookup(USER_KEYS, k) else { return Handled::Ignored };
        let fx: Vec<Effect> = match a {
            Act::Close => {
                ctx.close();
                vec![]
            }
            Act::Copy | Act::CopyId => match ctx.dir.store.index_of(&self.id) {
                Some(i) => {
                    let (what, text) = ctx.dir.user_copy_text(i, a == Act::CopyId);
                    super::directory::copy(ctx, what, text)
                }
                None => vec![],
            },
        };
        Handled::Consumed(fx)
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        let t = v.theme;
        let Some(idx) = v.dir.store.index_of(&self.id) else {
            let rows = vec![("user".to_string(), format!("{} is no longer loaded", self.id), t.warning)];
            return draw(f, area, v, Page { title: Line::from(" User "), keys: self.keys(v), rows, key_width: 24, scroll: 0 });
        };
        let name = v.dir.store.get(idx).name();
        let rows = detail_rows(v.dir, idx)
            .into_iter()
            .map(|(k, val)| {
                let st = if k == "active" && val == "false" { t.warning } else { t.text };
                (k, val, st)
            })
            .collect();
        draw(f, area, v, Page { title: Line::from(format!(" {name} ")), keys: self.keys(v), rows, key_width: 24, scroll: self.scroll });
    }
}

/// How a value is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Text,
    Ok,
    Warning,
    Error,
    Muted,
}

/// A fixed list of attribute/value pairs (a report record, a change of a plan), as it was when
/// it was opened.
pub struct Detail {
    pub title: String,
    pub rows: Vec<(String, String, Tone)>,
    /// The widest key column.
    pub key_width: usize,
    pub scroll: u16,
}

impl Detail {
    pub fn new(title: impl Into<String>, rows: Vec<(String, String, Tone)>, key_width: usize) -> Detail {
        Detail { title: title.into(), rows, key_width, scroll: 0 }
    }
}

impl Component for Detail {
    fn title(&self) -> Cow<'static, str> {
        "Detail view".into()
    }

    fn keys(&self, _v: &View) -> Vec<Offer> {
        let mut o = offers(KEYS, |_| true);
        o.push(scroll_offer());
        o
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        if scroll_by(&mut self.scroll, k, ctx) {
            return Handled::done();
        }
        match lookup(KEYS, k) {
            Some(Act::Close) => {
                ctx.close();
                Handled::done()
            }
            _ => Handled::Ignored,
        }
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        let t = v.theme;
        let rows = self
            .rows
            .iter()
            .map(|(k, val, tone)| {
                let st = match tone {
                    Tone::Text => t.text,
                    Tone::Ok => t.ok,
                    Tone::Warning => t.warning,
                    Tone::Error => t.error,
                    Tone::Muted => t.muted,
                };
                (k.clone(), val.clone(), st)
            })
            .collect();
        draw(
            f,
            area,
            v,
            Page { title: Line::from(self.title.clone()), keys: self.keys(v), rows, key_width: self.key_width, scroll: self.scroll },
        );
    }
}
