//! Detail views (overlays): one user (every attribute, the manager's name and the groups
//! resolved from what is loaded; `y`/`Y` copy), and [`Detail`], a scrolling list of
//! attribute/value pairs that the Reports pane (one record, hashes included) and the Policies
//! pane (one change of the plan) open.

use super::component::{Binding, Component, Ctx, Handled, N, NAV, Offer, View, bind, hint_bar, lookup, offers, offers_rw};
use super::directory::{Directory, UserStore};
use super::draw::{hint_line, overlay, overlay_area};
use super::msg::{Effect, Level};
use super::picker::{Item, Picked, Picker};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use scim::sanitize::clean;
use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Close,
    Copy,
    CopyId,
    Edit,
    AddGroup,
    RemoveGroup,
}

static USER_KEYS: &[Binding<Act>] = &[
    bind!("Esc q", "close", "close the detail view", Act::Close, [(KeyCode::Esc, N), (KeyCode::Char('q'), N)]),
    bind!("e", "edit", "edit the user in the user form", Act::Edit, [(KeyCode::Char('e'), N)]),
    bind!("+", "to group", "add the user to a group (pick it by name), after a confirmation", Act::AddGroup, [(KeyCode::Char('+'), N)]),
    bind!(
        "-",
        "from group",
        "remove the user from one of their groups (pick it), after a confirmation",
        Act::RemoveGroup,
        [(KeyCode::Char('-'), N)]
    ),
    bind!("y", "copy email", "copy the email (OSC 52)", Act::Copy, [(KeyCode::Char('y'), N)]),
    bind!("Y", "copy id", "copy the id (OSC 52)", Act::CopyId, [(KeyCode::Char('Y'), N)]),
];

static KEYS: &[Binding<Act>] =
    &[bind!("Esc q", "close", "close the detail view", Act::Close, [(KeyCode::Esc, N), (KeyCode::Char('q'), N)])];

fn scroll_offer() -> Offer {
    Offer::new("j/k", "scroll", "scroll (PgUp/PgDn a page, g/G the ends)", true)
}

/// Scroll by a movement key: a page is half the screen; never past the last row (`max`, from
/// [`max_scroll`]: issue 12, the view scrolled on into an empty box).
fn scroll_by(scroll: &mut u16, k: &KeyEvent, ctx: &Ctx, max: u16) -> bool {
    let Some(nav) = lookup(NAV, k) else { return false };
    *scroll = (*scroll as isize).saturating_add(nav.delta(ctx.area.height as usize / 2)).clamp(0, max as isize) as u16;
    true
}

/// The rows as lines, the key column `kw` wide.
fn page_lines<'a>(rows: impl IntoIterator<Item = (String, String, Style)>, kw: usize, t: &super::theme::Theme) -> Vec<Line<'a>> {
    // Only the key is styled, not its padding (an underlined header style drew lines under the
    // blanks under NO_COLOR).
    rows.into_iter()
        .map(|(k, val, st)| {
            let pad = " ".repeat(kw.saturating_sub(k.chars().count()) + 2);
            Line::from(vec![Span::styled(k, t.header), Span::raw(pad), Span::styled(val, st)])
        })
        .collect()
}

/// The farthest these rows scroll in an overlay on `screen`: the last row at the bottom.
fn max_scroll(rows: &[(String, String)], kw: usize, screen: Rect) -> u16 {
    let r = overlay_area(screen);
    let kw = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0).min(kw);
    let t = super::theme::Theme::monochrome();
    let lines = page_lines(rows.iter().map(|(k, v)| (k.clone(), v.clone(), Style::default())), kw, &t);
    let n = super::draw::wrapped_rows(&lines, r.width.saturating_sub(2)) as u16;
    n.saturating_sub(r.height.saturating_sub(2))
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
    let lines = page_lines(rows, kw, t);
    let max = (super::draw::wrapped_rows(&lines, r.width.saturating_sub(2)) as u16).saturating_sub(r.height.saturating_sub(2));
    f.render_widget(Paragraph::new(lines).block(b).wrap(Wrap { trim: false }).scroll((scroll.min(max), 0)), r);
}

/// One user's detail view; it follows the user by id across reloads.
pub struct UserDetail {
    pub id: Box<str>,
    pub scroll: u16,
    /// `+`/`-` pick a group (`true`: to add the user to).
    picker: Option<(bool, Picker)>,
}

impl UserDetail {
    pub fn new(store: &UserStore, idx: u32) -> UserDetail {
        UserDetail { id: store.get(idx).id().into(), scroll: 0, picker: None }
    }

    /// `+` (`add`) or `-`: the groups to pick from, or why there is nothing to pick. A
    /// deactivated user is refused before any group is picked: Slack refuses to add one to a
    /// group (`unable_to_add_deleted_or_guest_to_group`), so nothing is sent to learn it.
    fn group_picker(&mut self, ctx: &mut Ctx, add: bool) {
        let Some(i) = ctx.dir.store.index_of(&self.id) else { return };
        let row = ctx.dir.store.get(i);
        let (name, active) = (row.name().to_string(), row.active());
        if let Some(why) = ctx.queue.refuse_writes().or_else(|| ctx.queue.busy()) {
            ctx.log(Level::Warn, format!("{} {}: {why}", if add { "add to a group" } else { "remove from a group" }, name));
            return;
        }
        if add && !active {
            ctx.log(
                Level::Warn,
                format!("{name} is deactivated: Slack refuses to add a deactivated user to a group; reactivate (a) first"),
            );
            return;
        }
        if ctx.dir.groups.is_empty() {
            ctx.log(Level::Warn, "no groups are loaded (the Groups pane loads them; r reloads)");
            return;
        }
        let id = self.id.as_ref();
        let items: Vec<Item> = ctx
            .dir
            .groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == id) != add)
            .map(|g| Item::new(&format!("{} ({})", g.name, super::draw::counted(g.members.len(), "member")), g.id.clone(), None))
            .collect();
        if items.is_empty() {
            let msg = if add { format!("{name} is already in every group") } else { format!("{name} is in no group") };
            ctx.log(Level::Warn, msg);
            return;
        }
        let title = if add { format!("Add {name} to a group") } else { format!("Remove {name} from a group") };
        self.picker = Some((add, Picker::new(title, items, false)));
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
        Some(u) => provision::present::user_detail_rows(u).into_iter().map(|(k, v)| (k, clean(&v))).collect(),
        None => {
            let mut v = vec![("id".to_string(), r.id_shown().into_owned())];
            let mut push = |k: &str, val: &str| {
                if !val.is_empty() {
                    v.push((k.to_string(), val.to_string()));
                }
            };
            push("userName", r.user_name());
            push("displayName", &r.name());
            if let Some(a) = r.active_opt() {
                push("active", if a { "true" } else { "false" });
            }
            push("email (primary)", &r.email());
            push("title", r.title());
            push("department", r.department());
            push("manager", r.manager_id());
            push("roles", r.roles());
            if r.guest() {
                push("guest", "multi");
                push("guestExpiration", r.guest_expiration());
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
    // The loaded groups are read again after every batch that changes one, so they are fresher
    // than the `groups` the user was loaded with: they win when there are any.
    if !dir.groups.is_empty() {
        rows.retain(|(k, _)| k != "group");
    }
    if !dir.groups.is_empty() || full.is_none_or(|u| u.groups.as_ref().is_none_or(|g| g.is_empty())) {
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

    fn keys(&self, v: &View) -> Vec<Offer> {
        if let Some((_, p)) = &self.picker {
            return p.offers();
        }
        let in_groups = v.dir.groups.iter().any(|g| g.members.iter().any(|m| m.as_str() == self.id.as_ref()));
        let now = |a| match a {
            Act::AddGroup => !v.dir.groups.is_empty(),
            Act::RemoveGroup => in_groups,
            _ => true,
        };
        let writes = |a| matches!(a, Act::Edit | Act::AddGroup | Act::RemoveGroup);
        let mut o = offers_rw(USER_KEYS, now, writes, v.queue.read_only());
        o.push(scroll_offer());
        o
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        if let Some((add, p)) = self.picker.as_mut() {
            let add = *add;
            match p.handle_key(k, ctx.area) {
                Picked::Open => return Handled::done(),
                Picked::Cancel => {
                    self.picker = None;
                    return Handled::done();
                }
                Picked::Chosen(ids) => {
                    self.picker = None;
                    let Some(gi) = ids.first().and_then(|gid| ctx.dir.groups.iter().position(|g| &g.id == gid)) else {
                        return Handled::done();
                    };
                    return Handled::Consumed(super::groups::user_membership(ctx, add, gi, &self.id));
                }
            }
        }
        let rows: Vec<(String, String)> =
            ctx.dir.store.index_of(&self.id).map(|i| detail_rows(ctx.dir, i).into_iter().collect()).unwrap_or_default();
        if scroll_by(&mut self.scroll, k, ctx, max_scroll(&rows, 24, ctx.area)) {
            return Handled::done();
        }
        let Some(a) = lookup(USER_KEYS, k) else { return Handled::Ignored };
        let fx: Vec<Effect> = match a {
            Act::Close => {
                ctx.close();
                vec![]
            }
            Act::Edit => match ctx.dir.store.index_of(&self.id) {
                Some(i) => super::user_form::edit_or_fetch(ctx, i),
                None => vec![],
            },
            Act::AddGroup | Act::RemoveGroup => {
                self.group_picker(ctx, a == Act::AddGroup);
                vec![]
            }
            Act::Copy | Act::CopyId => match ctx.dir.store.index_of(&self.id) {
                Some(i) => {
                    let (what, text) = ctx.dir.user_copy_text(i, a == Act::CopyId);
                    super::component::copy(ctx, what, text)
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
        if let Some((_, p)) = &self.picker {
            p.render(f, area, v);
        }
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
        let rows: Vec<(String, String)> = self.rows.iter().map(|(k, v, _)| (k.clone(), v.clone())).collect();
        if scroll_by(&mut self.scroll, k, ctx, max_scroll(&rows, self.key_width, ctx.area)) {
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
