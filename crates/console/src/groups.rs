//! The Groups pane: the loaded groups (sorted by name), a `/` filter by name, the members list
//! (`Enter`, an overlay: `members.rs`) and the group verbs: `+`/`-` add or remove the users
//! marked in the Users pane, `R` renames, `n` creates a group with the marked users (a name
//! prompt, `prompt.rs`). Every verb goes through the gate (`confirm::ask`). The groups are
//! loaded here (`Effect::LoadGroups`) and read again after a batch that changed one.

use super::component::{Binding, Component, Ctx, Handled, N, NAV, Note, Offer, View, bind, hint_lines, lookup, offers_rw};
use super::directory::GroupRow;
use super::draw::{MARK, block, thousands, visible_offset};
use super::msg::{Effect, Level, Msg};
use super::prompt::PromptKind;
use crossterm::event::{Event, KeyCode, KeyEvent};
use provision::queue::Action;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};
use scim::sanitize::clean;
use std::borrow::Cow;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Open,
    Filter,
    Clear,
    Add,
    Remove,
    Rename,
    Create,
    Delete,
    CopyId,
}

static KEYS: &[Binding<Act>] = &[
    bind!("Enter", "members", "show the group's members", Act::Open, [(KeyCode::Enter, N)]),
    bind!("/", "filter", "filter the groups by name", Act::Filter, [(KeyCode::Char('/'), N)]),
    bind!("Esc", "clear", "clear the filter", Act::Clear, [(KeyCode::Esc, N)]),
    bind!("+", "add", "add the users marked in the Users pane to the group", Act::Add, [(KeyCode::Char('+'), N)]),
    bind!(
        "-",
        "remove",
        "remove the marked users from the group (in the members list: the selected member)",
        Act::Remove,
        [(KeyCode::Char('-'), N)]
    ),
    bind!("R", "rename", "rename the group", Act::Rename, [(KeyCode::Char('R'), N)]),
    bind!("n", "new", "create a group (with the marked users as members)", Act::Create, [(KeyCode::Char('n'), N)]),
    bind!(
        "D",
        "delete",
        "delete the group (its members stay users), after a confirmation naming it",
        Act::Delete,
        [(KeyCode::Char('D'), N)]
    ),
    bind!("y", "copy id", "copy the group id (OSC 52)", Act::CopyId, [(KeyCode::Char('y'), N)]),
];

#[derive(Default)]
pub struct GroupsPane {
    /// Of the last load asked for (an answer of another is stale).
    pub generation: u64,
    pub loading: bool,
    pub error: Option<String>,
    /// The selected group (an index into the loaded groups; `len` when there is none).
    pub selected: usize,
    pub query: String,
    /// The groups the filter shows (indices).
    pub shown: Vec<usize>,
    pub offset: usize,
    editing: bool,
    input: Input,
}

fn rows(area: Rect) -> usize {
    area.height.saturating_sub(3) as usize
}

impl GroupsPane {
    /// The selected group's position among the shown ones.
    pub fn pos(&self) -> Option<usize> {
        self.shown.iter().position(|&i| i == self.selected)
    }

    /// Show the groups whose name contains the filter (any case); keep the selection when it is
    /// still shown, else select the first shown group.
    fn refilter(&mut self, groups: &[GroupRow]) {
        let q = self.query.to_lowercase();
        self.shown = (0..groups.len()).filter(|&i| q.is_empty() || groups[i].name.to_lowercase().contains(&q)).collect();
        if self.pos().is_none() {
            self.selected = self.shown.first().copied().unwrap_or(groups.len());
            self.offset = 0;
        }
    }

    fn set_query(&mut self, q: &str, groups: &[GroupRow]) {
        self.query = q.to_string();
        self.refilter(groups);
    }

    fn reload(&mut self) -> Vec<Effect> {
        self.generation += 1;
        self.loading = true;
        self.error = None;
        vec![Effect::LoadGroups { generation: self.generation }]
    }

    fn move_by(&mut self, delta: isize, h: usize) {
        let n = self.shown.len();
        if n == 0 {
            return;
        }
        let pos = super::component::moved(self.pos().unwrap_or(0), delta, n);
        self.selected = self.shown[pos];
        self.offset = visible_offset(pos, self.offset, h, n);
    }

    /// Keys while the filter is edited: as the Users filter, without the email lookup.
    fn filter_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) {
        match k.code {
            KeyCode::Esc | KeyCode::Enter => {
                if k.code == KeyCode::Esc {
                    self.set_query("", &ctx.dir.groups);
                }
                self.editing = false;
            }
            KeyCode::Up | KeyCode::Down => self.move_by(if k.code == KeyCode::Up { -1 } else { 1 }, rows(ctx.area)),
            _ => {
                self.input.handle_event(&Event::Key(*k));
                if self.input.value() != self.query {
                    let q = self.input.value().to_string();
                    self.set_query(&q, &ctx.dir.groups);
                }
            }
        }
    }

    fn act(&mut self, a: Act, ctx: &mut Ctx) -> Vec<Effect> {
        let groups = &ctx.dir.groups;
        match a {
            Act::Open if self.selected < groups.len() => ctx.open(super::members::Members::new(self.selected)),
            Act::Open => {}
            Act::Filter => {
                self.editing = true;
                self.input = Input::new(self.query.clone());
            }
            Act::Clear => {
                if !self.query.is_empty() {
                    self.set_query("", &ctx.dir.groups);
                }
            }
            Act::Add | Act::Remove => return members_verb(ctx, a == Act::Add, self.selected, None),
            Act::Rename => {
                let Some(g) = groups.get(self.selected) else { return vec![] };
                let (id, from) = (g.id.clone(), g.name.clone());
                super::prompt::open(ctx, PromptKind::RenameGroup { id, from: from.clone() }, &from);
            }
            Act::Create => {
                let members = ctx.dir.marked_ids();
                super::prompt::open(ctx, PromptKind::CreateGroup { members }, "");
            }
            Act::CopyId => {
                let Some(g) = groups.get(self.selected) else { return vec![] };
                let id = g.id.clone();
                return super::component::copy(ctx, "group id", id);
            }
            Act::Delete => return delete_group(ctx, self.selected),
        }
        vec![]
    }
}

/// `D`: delete group `gi`, after one confirmation naming it and its member count.
pub fn delete_group(ctx: &mut Ctx, gi: usize) -> Vec<Effect> {
    let Some(g) = ctx.dir.groups.get(gi) else { return vec![] };
    let n = g.members.len();
    let what = format!("delete group {} ({})", g.name, super::draw::counted(n, "member"));
    let a = Action::DeleteGroup { id: g.id.clone(), name: g.name.clone() };
    super::confirm::ask(ctx, vec![a], &provision::queue::Knowledge::default(), move |_| what, false)
}

/// The user detail's `+`/`-`: add user `uid` to group `gi`, or remove them from it.
pub fn user_membership(ctx: &mut Ctx, add: bool, gi: usize, uid: &str) -> Vec<Effect> {
    let Some(g) = ctx.dir.groups.get(gi) else { return vec![] };
    let (gid, gname) = (g.id.clone(), g.name.clone());
    let ids = vec![uid.to_string()];
    let who = ctx.dir.store.index_of(uid).map_or(uid.to_string(), |i| ctx.dir.store.get(i).name().to_string());
    let known = ctx.dir.knowledge_of(&ids);
    let (what, a) = if add {
        (format!("add {who} to {gname}"), Action::AddMembers { group_id: gid, group_name: gname, user_ids: ids })
    } else {
        (format!("remove {who} from {gname}"), Action::RemoveMembers { group_id: gid, group_name: gname, user_ids: ids })
    };
    super::confirm::ask(ctx, vec![a], &known, move |_| what, false)
}

/// `+`/`-` on group `gi`: the users marked in the Users pane; `-` in the members list (`member`,
/// the selected one): that member, unless marked members of the group are there to remove.
pub fn members_verb(ctx: &mut Ctx, add: bool, gi: usize, member: Option<usize>) -> Vec<Effect> {
    let Some(g) = ctx.dir.groups.get(gi) else { return vec![] };
    let (gid, gname) = (g.id.clone(), g.name.clone());
    let marked = ctx.dir.marked_ids();
    let ids: Vec<String> = if add {
        marked.into_iter().filter(|id| !g.members.contains(id)).collect()
    } else if marked.iter().any(|id| g.members.contains(id)) {
        marked.into_iter().filter(|id| g.members.contains(id)).collect()
    } else if let Some(sel) = member {
        g.members.get(sel).cloned().into_iter().collect()
    } else {
        Vec::new()
    };
    if ids.is_empty() {
        let msg = if ctx.dir.marks.is_empty() {
            if add || member.is_none() {
                "mark users in the Users pane first (Space, *)".to_string()
            } else {
                "no member selected".to_string()
            }
        } else if add {
            format!("every marked user is already in {gname}")
        } else {
            format!("no marked user is in {gname}")
        };
        ctx.log(Level::Warn, msg);
        return vec![];
    }
    // Slack refuses a deactivated user in a group, and one refused member fails the whole PATCH
    // (issue 12: one deactivated user among four failed the add, naming nobody): screen them
    // out here and name them in the dialog.
    let label = |id: &str| super::directory::member_label(ctx.dir, id);
    let mut screened = Vec::new();
    let ids: Vec<String> = if add {
        ids.into_iter()
            .filter(|id| match ctx.dir.store.index_of(id) {
                Some(i) if !ctx.dir.store.get(i).active() => {
                    screened.push(format!("{}: deactivated (Slack refuses deactivated users in groups)", label(id).unwrap_or(id.clone())));
                    false
                }
                _ => true,
            })
            .collect()
    } else {
        ids
    };
    if ids.is_empty() {
        for s in &screened {
            ctx.log(Level::Warn, format!("not added to {gname}: {s}"));
        }
        ctx.log(Level::Warn, format!("nobody to add to {gname}: every marked user was screened out"));
        return vec![];
    }
    let who: Vec<String> = ids.iter().map(|id| label(id).unwrap_or_else(|| id.clone())).collect();
    let n = ids.len();
    let known = ctx.dir.knowledge_of(&ids);
    let s = if n == 1 { "" } else { "s" };
    let (what, a) = if add {
        (format!("add {n} member{s} to {gname}"), Action::AddMembers { group_id: gid, group_name: gname, user_ids: ids })
    } else {
        (format!("remove {n} member{s} from {gname}"), Action::RemoveMembers { group_id: gid, group_name: gname, user_ids: ids })
    };
    // The marks stay: if Slack refuses the change, the admin still has them to fix and retry.
    super::confirm::ask_naming(ctx, vec![a], &known, move |_| what, false, who, screened)
}

impl Component for GroupsPane {
    fn title(&self) -> Cow<'static, str> {
        "Groups".into()
    }

    fn keys(&self, v: &View) -> Vec<Offer> {
        let selected = self.selected < v.dir.groups.len();
        let now = |a| match a {
            Act::Clear => !self.query.is_empty(),
            Act::Filter | Act::Create => true,
            _ => selected,
        };
        let writes = |a| matches!(a, Act::Add | Act::Remove | Act::Rename | Act::Create | Act::Delete);
        offers_rw(KEYS, now, writes, v.queue.read_only())
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        if self.editing {
            self.filter_key(k, ctx);
            return Handled::done();
        }
        if let Some(a) = lookup(KEYS, k) {
            return self.act(a, ctx).into();
        }
        if let Some(nav) = lookup(NAV, k) {
            let h = rows(ctx.area);
            self.move_by(nav.delta(h), h);
            return Handled::done();
        }
        Handled::Ignored
    }

    fn update(&mut self, msg: Msg, ctx: &mut Ctx) -> Result<Vec<Effect>, Msg> {
        let Msg::GroupsLoaded { generation, result } = msg else { return Err(msg) };
        if generation != self.generation {
            return Ok(vec![]);
        }
        self.loading = false;
        match result {
            Ok(gs) => {
                let groups = &mut ctx.dir.groups;
                let keep = groups.get(self.selected).map(|g| g.id.clone());
                *groups = gs
                    .into_iter()
                    .map(|g| GroupRow { id: clean(g.id()), name: clean(g.name()), members: g.member_ids().map(clean).collect() })
                    .collect();
                groups.sort_by_key(|g| g.name.to_lowercase());
                self.selected = keep.and_then(|k| groups.iter().position(|g| g.id == k)).unwrap_or(0);
                self.refilter(&ctx.dir.groups);
                // The members list points into the old groups.
                ctx.close_all::<super::members::Members>();
            }
            Err(e) => {
                self.error = Some(clean(&e));
                ctx.log(Level::Error, format!("loading groups failed: {e}"));
            }
        }
        Ok(vec![])
    }

    fn notify(&mut self, note: &Note, _ctx: &mut Ctx) -> Vec<Effect> {
        match note {
            Note::Refresh | Note::GroupsChanged => self.reload(),
            _ => vec![],
        }
    }

    fn input(&self) -> Option<&Input> {
        self.editing.then_some(&self.input)
    }

    fn busy(&self) -> bool {
        self.loading
    }

    fn render(&self, f: &mut Frame, r: Rect, v: &View) {
        let t = v.theme;
        let groups = &v.dir.groups;
        let count = if self.query.is_empty() && self.shown.len() == groups.len() {
            format!("{} ", thousands(groups.len() as u64))
        } else {
            format!("{} of {} ", thousands(self.shown.len() as u64), thousands(groups.len() as u64))
        };
        let mut title = vec![Span::styled(" Groups ", t.title), Span::styled(count, t.muted)];
        if !self.query.is_empty() {
            title.push(Span::styled(format!("/{} ", clean(&self.query)), t.accent));
        }
        let hints = hint_lines(&self.keys(v), &[": command"], r.width.saturating_sub(4) as usize);
        let mut b = block(t, Line::from(title), true);
        if self.loading {
            b = b.title_top(Line::styled(format!(" {} loading groups ", v.spinner), t.accent).right_aligned());
        }
        let inner = super::draw::hinted_block(f, r, t, b, hints);
        if inner.height == 0 {
            return;
        }
        if groups.is_empty() {
            let msg = match (&self.error, self.loading) {
                (Some(e), _) => Line::styled(format!("  Could not load groups: {e}. Press r to retry."), t.error),
                (None, true) => Line::styled(format!("  {} loading groups…", v.spinner), t.muted),
                (None, false) => Line::styled("  No groups.", t.muted),
            };
            f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), inner);
            return;
        }
        if self.shown.is_empty() {
            let msg = Line::styled(format!("  No group matches /{}. Esc clears the filter.", clean(&self.query)), t.muted);
            f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), inner);
            return;
        }
        let height = inner.height.saturating_sub(1) as usize;
        let pos = self.pos().unwrap_or(0);
        let off = visible_offset(pos, self.offset, height, self.shown.len());
        let end = (off + height).min(self.shown.len());
        let wide = r.width >= 60;
        let rows = self.shown[off..end].iter().map(|&i| &groups[i]).map(|g| {
            let mut cells = vec![Cell::from(g.name.as_str()), Cell::from(format!("{:>7}", thousands(g.members.len() as u64)))];
            if wide {
                cells.push(Cell::from(g.id.as_str()));
            }
            Row::new(cells)
        });
        let mut widths = vec![Constraint::Fill(1), Constraint::Length(7)];
        let mut hdr = vec!["Name", "Members"];
        if wide {
            widths.push(Constraint::Length(12));
            hdr.push("Id");
        }
        let table = Table::new(rows, widths)
            .header(Row::new(hdr).style(t.header))
            .row_highlight_style(t.selected)
            .highlight_symbol(MARK)
            .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
        let mut state = TableState::new().with_selected(Some(pos - off));
        f.render_stateful_widget(table, inner, &mut state);
    }
}
