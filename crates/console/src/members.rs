//! The members list of one group (an overlay over the Groups pane): a `/` filter (name, email or
//! id), an Active column, `s` sorts (name, email, active), `Space` marks members, `-` removes the
//! marked members (else the users marked in the Users pane that are members, else the selected
//! one), `+` opens the member picker (search the loaded users, `Tab` marks, `Enter` confirms; the
//! users marked in the Users pane come marked, and a deactivated user, whom Slack refuses in a
//! group, is shown with the reason and cannot be picked). Both verbs go through the gate. `Enter`
//! shows the member in the Users pane (fetching it first when it is not loaded), `y`/`Y` copy.

use super::component::{Binding, Component, Ctx, Handled, N, NAV, Note, Offer, View, bind, hint_bar, lookup, moved, offers_rw};
use super::directory::Directory;
use super::draw::{MARK, hint_line, overlay, overlay_area, visible_offset};
use super::msg::{Effect, Level};
use super::picker::{Item, Picked, Picker};
use crossterm::event::{Event, KeyCode, KeyEvent};
use provision::queue::Action;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use scim::sanitize::clean;
use std::borrow::Cow;
use std::collections::BTreeSet;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Jump,
    Close,
    Filter,
    Sort,
    Mark,
    Copy,
    CopyId,
    Remove,
    Add,
}

static KEYS: &[Binding<Act>] = &[
    bind!("Enter", "jump", "show the member in the Users pane (fetched first when not loaded)", Act::Jump, [(KeyCode::Enter, N)]),
    bind!(
        "-",
        "remove",
        "remove the marked members (else the selected one) from the group, after a confirmation",
        Act::Remove,
        [(KeyCode::Char('-'), N)]
    ),
    bind!(
        "+",
        "add",
        "add users: the member picker (search, Tab marks, Enter confirms; the Users pane's marks come marked)",
        Act::Add,
        [(KeyCode::Char('+'), N)]
    ),
    bind!("Space", "mark", "mark / unmark the member and move down", Act::Mark, [(KeyCode::Char(' '), N)]),
    bind!("/", "filter", "filter the members by name, email or id", Act::Filter, [(KeyCode::Char('/'), N)]),
    bind!("s", "sort", "sort by name, email, active, then as the group lists them", Act::Sort, [(KeyCode::Char('s'), N)]),
    bind!("Esc q", "close", "clear the filter, else close the members list", Act::Close, [(KeyCode::Esc, N), (KeyCode::Char('q'), N)]),
    bind!("y", "copy", "copy the member's email (OSC 52)", Act::Copy, [(KeyCode::Char('y'), N)]),
    bind!("Y", "copy id", "copy the member's id (OSC 52)", Act::CopyId, [(KeyCode::Char('Y'), N)]),
];

/// How the list is sorted (`s` cycles).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// As the group lists them.
    #[default]
    Group,
    Name,
    Email,
    /// Deactivated first (they are the ones to look at), then by name.
    Active,
}

impl Sort {
    fn next(self) -> Sort {
        match self {
            Sort::Group => Sort::Name,
            Sort::Name => Sort::Email,
            Sort::Email => Sort::Active,
            Sort::Active => Sort::Group,
        }
    }
    fn label(self) -> &'static str {
        match self {
            Sort::Group => "group order",
            Sort::Name => "name",
            Sort::Email => "email",
            Sort::Active => "active",
        }
    }
}

/// The members of group `group` (an index into the loaded groups, which close this list when
/// they are read again).
pub struct Members {
    pub group: usize,
    /// The selected position in the shown rows.
    pub selected: usize,
    pub offset: usize,
    pub query: String,
    editing: bool,
    input: Input,
    pub sort: Sort,
    /// Marked member ids.
    pub marks: BTreeSet<String>,
    picker: Option<Picker>,
}

/// A member as the list shows it: (name, email, active), `None` when not loaded.
fn facts<'a>(dir: &'a Directory, id: &str) -> Option<(Cow<'a, str>, Cow<'a, str>, bool)> {
    dir.store.index_of(id).map(|i| {
        let r = dir.store.get(i);
        (r.name(), r.email(), r.active())
    })
}

impl Members {
    pub fn new(group: usize) -> Members {
        Members {
            group,
            selected: 0,
            offset: 0,
            query: String::new(),
            editing: false,
            input: Input::default(),
            sort: Sort::Group,
            marks: BTreeSet::new(),
            picker: None,
        }
    }

    /// The member ids shown, filtered and sorted.
    pub fn shown<'a>(&self, dir: &'a Directory) -> Vec<&'a str> {
        let Some(g) = dir.groups.get(self.group) else { return vec![] };
        let q = self.query.to_lowercase();
        let mut ids: Vec<&str> = g
            .members
            .iter()
            .map(String::as_str)
            .filter(|id| {
                q.is_empty()
                    || id.to_lowercase().contains(&q)
                    || facts(dir, id).is_some_and(|(n, e, _)| n.to_lowercase().contains(&q) || e.to_lowercase().contains(&q))
            })
            .collect();
        let key = |id: &str| facts(dir, id).map(|(n, e, a)| (n.to_lowercase(), e.to_lowercase(), a));
        match self.sort {
            Sort::Group => {}
            // Not loaded last.
            Sort::Name => ids.sort_by_cached_key(|id| key(id).map(|k| k.0).unwrap_or_else(|| "\u{10ffff}".into())),
            Sort::Email => ids.sort_by_cached_key(|id| key(id).map(|k| k.1).unwrap_or_else(|| "\u{10ffff}".into())),
            Sort::Active => ids.sort_by_cached_key(|id| {
                let k = key(id);
                (k.as_ref().map_or(2, |k| u8::from(k.2)), k.map(|k| k.0).unwrap_or_default())
            }),
        }
        ids
    }

    fn member(&self, dir: &Directory) -> Option<String> {
        self.shown(dir).get(self.selected).map(|s| s.to_string())
    }

    fn filter_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) {
        match k.code {
            KeyCode::Esc => {
                self.editing = false;
                self.input.reset();
                self.query.clear();
            }
            KeyCode::Enter => self.editing = false,
            KeyCode::Up | KeyCode::Down => {
                let n = self.shown(ctx.dir).len();
                self.selected = moved(self.selected, if k.code == KeyCode::Up { -1 } else { 1 }, n);
            }
            _ => {
                self.input.handle_event(&Event::Key(*k));
                self.query = self.input.value().trim().to_string();
                self.selected = 0;
                self.offset = 0;
            }
        }
    }

    /// `-`: the marked members, else the Users pane's marked users who are members, else the
    /// selected member.
    fn remove(&mut self, ctx: &mut Ctx) -> Vec<Effect> {
        let Some(g) = ctx.dir.groups.get(self.group) else { return vec![] };
        let (gid, gname) = (g.id.clone(), g.name.clone());
        let pane_marked: Vec<String> = ctx.dir.marked_ids().into_iter().filter(|id| g.members.contains(id)).collect();
        let (ids, own) = if !self.marks.is_empty() {
            (self.marks.iter().cloned().collect::<Vec<_>>(), true)
        } else if !pane_marked.is_empty() {
            (pane_marked, false)
        } else {
            (self.member(ctx.dir).into_iter().collect(), false)
        };
        if ids.is_empty() {
            ctx.log(Level::Warn, "no member selected");
            return vec![];
        }
        let n = ids.len();
        let what = format!("remove {} from {gname}", super::draw::counted(n, "member"));
        let known = ctx.dir.knowledge_of(&ids);
        let clears = !own && !ctx.dir.marks.is_empty();
        // The dialog names them (issue 25: it named nobody); the list's marks stay until the
        // batch is confirmed (the list closes when the groups are read again), so a cancel
        // keeps them.
        let who =
            ids.iter().map(|id| super::directory::member_label(ctx.dir, id).unwrap_or_else(|| format!("{id} (not loaded)"))).collect();
        let a = Action::RemoveMembers { group_id: gid, group_name: gname, user_ids: ids };
        super::confirm::ask_naming(ctx, vec![a], &known, move |_| what, clears, who, Vec::new())
    }

    /// `+`: the member picker over the loaded users who are not members.
    fn open_picker(&mut self, ctx: &mut Ctx) {
        let Some(g) = ctx.dir.groups.get(self.group) else { return };
        if let Some(why) = ctx.queue.refuse_writes().or_else(|| ctx.queue.busy()) {
            ctx.log(Level::Warn, format!("add members to {}: {why}", g.name));
            return;
        }
        let members: std::collections::HashSet<&str> = g.members.iter().map(String::as_str).collect();
        let mut items = Vec::new();
        let mut pre = Vec::new();
        let mut refused_marked = Vec::new();
        for r in ctx.dir.store.iter().filter(|r| !members.contains(r.id())) {
            let refused = (!r.active()).then(|| "deactivated: Slack refuses".to_string());
            if ctx.dir.marks.contains(r.id()) {
                if refused.is_some() {
                    refused_marked.push(r.name().to_string());
                } else {
                    pre.push(items.len());
                }
            }
            items.push(Item::new(&format!("{} <{}>", r.name(), r.email()), r.id().to_string(), refused));
        }
        let mut p = Picker::new(format!("Add to {}", g.name), items, true);
        p.marked.extend(pre);
        if !refused_marked.is_empty() {
            let n = refused_marked.len();
            let names = refused_marked.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
            let more = if n > 3 { format!(" and {} more", n - 3) } else { String::new() };
            p.note = Some(format!("not offered: {names}{more} (deactivated: Slack refuses them in a group)"));
        }
        self.picker = Some(p);
    }

    fn add(&mut self, ctx: &mut Ctx, ids: Vec<String>) -> Vec<Effect> {
        let Some(g) = ctx.dir.groups.get(self.group) else { return vec![] };
        let (gid, gname) = (g.id.clone(), g.name.clone());
        let n = ids.len();
        let what = format!("add {} to {gname}", super::draw::counted(n, "member"));
        let known = ctx.dir.knowledge_of(&ids);
        let clears = !ctx.dir.marks.is_empty();
        let who = ids.iter().map(|id| super::directory::member_label(ctx.dir, id).unwrap_or_else(|| id.clone())).collect();
        let a = Action::AddMembers { group_id: gid, group_name: gname, user_ids: ids };
        super::confirm::ask_naming(ctx, vec![a], &known, move |_| what, clears, who, Vec::new())
    }
}

/// Rows of the list that fit (borders, header and the filter line taken off).
fn rows(screen: Rect) -> usize {
    overlay_area(screen).height.saturating_sub(4) as usize
}

impl Component for Members {
    fn title(&self) -> Cow<'static, str> {
        "Members list".into()
    }

    fn keys(&self, v: &View) -> Vec<Offer> {
        if let Some(p) = &self.picker {
            return p.offers();
        }
        if self.editing {
            return vec![
                Offer::new("Enter", "keep", "keep the filter", true),
                Offer::new("Esc", "clear", "clear the filter", true),
                Offer::new("text", "", "filter by name, email or id", true),
            ];
        }
        let any = !self.shown(v.dir).is_empty();
        let now = |a| match a {
            Act::Close | Act::Add | Act::Filter | Act::Sort => true,
            _ => any,
        };
        offers_rw(KEYS, now, |a| matches!(a, Act::Add | Act::Remove), v.queue.read_only())
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        if let Some(p) = self.picker.as_mut() {
            return match p.handle_key(k, ctx.area) {
                Picked::Open => Handled::done(),
                Picked::Cancel => {
                    self.picker = None;
                    Handled::done()
                }
                Picked::Chosen(ids) => {
                    self.picker = None;
                    Handled::Consumed(self.add(ctx, ids))
                }
            };
        }
        if self.editing {
            self.filter_key(k, ctx);
            return Handled::done();
        }
        if let Some(nav) = lookup(NAV, k) {
            let n = self.shown(ctx.dir).len();
            let h = rows(ctx.area);
            self.selected = moved(self.selected, nav.delta(h), n);
            self.offset = visible_offset(self.selected, self.offset, h, n);
            return Handled::done();
        }
        let Some(a) = lookup(KEYS, k) else { return Handled::Ignored };
        let fx = match a {
            Act::Close => {
                if !self.query.is_empty() {
                    self.query.clear();
                    self.input.reset();
                } else {
                    ctx.close();
                }
                vec![]
            }
            Act::Filter => {
                self.editing = true;
                self.input = Input::new(self.query.clone());
                vec![]
            }
            Act::Sort => {
                let keep = self.member(ctx.dir);
                self.sort = self.sort.next();
                let shown = self.shown(ctx.dir);
                self.selected = keep.and_then(|k| shown.iter().position(|s| *s == k)).unwrap_or(0);
                ctx.flash(Level::Info, format!("members sorted by {}", self.sort.label()));
                vec![]
            }
            Act::Mark => {
                if let Some(id) = self.member(ctx.dir) {
                    if !self.marks.remove(&id) {
                        self.marks.insert(id);
                    }
                    let n = self.shown(ctx.dir).len();
                    self.selected = moved(self.selected, 1, n);
                }
                vec![]
            }
            Act::Jump => {
                let Some(id) = self.member(ctx.dir) else { return Handled::done() };
                match ctx.dir.store.index_of(&id) {
                    Some(idx) => ctx.show_user(idx),
                    None if scim::types::check_id(&id).is_err() => ctx.log(Level::Warn, format!("member {id} has no usable user id")),
                    None => ctx.note(Note::FetchUser(id)),
                }
                vec![]
            }
            Act::Copy | Act::CopyId => {
                let Some(mid) = self.member(ctx.dir) else { return Handled::done() };
                let (what, text) = match ctx.dir.store.index_of(&mid) {
                    Some(i) => ctx.dir.user_copy_text(i, a == Act::CopyId),
                    None => ("id", mid),
                };
                super::component::copy(ctx, what, text)
            }
            Act::Remove => self.remove(ctx),
            Act::Add => {
                self.open_picker(ctx);
                vec![]
            }
        };
        Handled::Consumed(fx)
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        let t = v.theme;
        let Some(g) = v.dir.groups.get(self.group) else { return };
        let n = g.members.len();
        let shown = self.shown(v.dir);
        let mut title = vec![
            Span::styled(format!(" {} ", clean(&g.name)), t.title),
            Span::styled(format!("{} member{} ", super::draw::thousands(n as u64), if n == 1 { "" } else { "s" }), t.muted),
        ];
        if shown.len() != n {
            title.push(Span::styled(format!("· {} shown ", shown.len()), t.muted));
        }
        if self.sort != Sort::Group {
            title.push(Span::styled(format!("· by {} ", self.sort.label()), t.accent));
        }
        if !self.marks.is_empty() {
            title.push(Span::styled(format!("· {} marked ", self.marks.len()), t.accent));
        }
        let (r, b) = overlay(f, area, t, Line::from(title));
        let hint = hint_bar(&self.keys(v), &[], r.width.saturating_sub(4) as usize);
        let b = b.title_bottom(hint_line(t, hint));
        let inner = b.inner(r);
        f.render_widget(b, r);
        if inner.height < 2 {
            return;
        }
        let filter_line = Rect { y: inner.bottom() - 1, height: 1, ..inner };
        if self.editing || !self.query.is_empty() {
            let text = format!("/{}", clean(if self.editing { self.input.value() } else { &self.query }));
            f.render_widget(Paragraph::new(Line::styled(text, t.accent)), filter_line);
            if self.editing {
                let x = inner.x + 1 + self.input.visual_cursor() as u16;
                f.set_cursor_position((x.min(inner.right().saturating_sub(1)), filter_line.y));
            }
        }
        let list = Rect { height: inner.height - 1, ..inner };
        if n == 0 {
            f.render_widget(Paragraph::new(Line::styled("  This group has no members. + adds some.", t.muted)), list);
        } else if shown.is_empty() {
            f.render_widget(Paragraph::new(Line::styled("  No member matches the filter. Esc clears it.", t.muted)), list);
        } else {
            let height = list.height.saturating_sub(1) as usize;
            let sel = self.selected.min(shown.len() - 1);
            let off = visible_offset(sel, self.offset, height, shown.len());
            let end = (off + height).min(shown.len());
            let rows = shown[off..end].iter().map(|&id| {
                let mark = if self.marks.contains(id) { "✓" } else { " " };
                match facts(v.dir, id) {
                    Some((name, email, active)) => {
                        let row = Row::new(vec![
                            Cell::from(mark),
                            Cell::from(name),
                            Cell::from(email),
                            Cell::from(if active { "yes" } else { "no" }),
                            Cell::from(id),
                        ]);
                        if active { row } else { row.style(t.inactive) }
                    }
                    None => Row::new(vec![Cell::from(mark), Cell::from("(not loaded)"), Cell::from(""), Cell::from("?"), Cell::from(id)])
                        .style(t.muted),
                }
            });
            let table = Table::new(
                rows,
                [Constraint::Length(1), Constraint::Fill(2), Constraint::Fill(3), Constraint::Length(6), Constraint::Length(11)],
            )
            .header(Row::new(["", "Name", "Email", "Active", "Id"]).style(t.header))
            .row_highlight_style(t.selected)
            .highlight_symbol(MARK)
            .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
            let mut state = TableState::new().with_selected(Some(sel - off));
            f.render_stateful_widget(table, list, &mut state);
        }
        if let Some(p) = &self.picker {
            p.render(f, area, v);
        }
    }
}
