//! The user form (an overlay): create a user (`n` in the Users pane) or edit one (`e` in the
//! Users pane and the user detail). One tui-input field per attribute Slack stores (the
//! policies' attributes, `policy::config::Attr`), checked as they are typed: the userName by
//! Slack's rules (`scim::rules::slack_user_name`: what Slack would store, or why it refuses it),
//! the email's shape (`scim::client::normalize_email`), emoji that Slack refuses in a value, an
//! email another loaded user has. The manager is picked by search among the loaded users
//! (`picker.rs`).
//!
//! Save (`C-s`, or `Enter` on the last field) shows the field-level diff (old → new) computed by
//! `provision::edit`; `Enter` there hands the ONE action (an `UpdateUser` that sends only the
//! changed attributes, or a `CreateUser`) to the gate (`confirm::ask`), whose confirmation then
//! queues it; the engine verifies the answer. The fields scroll, so the form fits 80x24.

use super::component::{Component, Ctx, Handled, Offer, View, hint_list};
use super::directory::Directory;
use super::draw::{block, hint_line, visible_offset};
use super::msg::{Effect, Level};
use super::picker::{Item, Picked, Picker};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use provision::edit::{self, Wanted};
use provision::policy::config::Attr;
use provision::policy::plan::AttrChange;
use provision::queue::Knowledge;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use scim::User;
use scim::sanitize::clean;
use std::borrow::Cow;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

/// The form's fields, in order: what Slack stores for a user (reference §3). The profile's
/// attributes are labelled with the names `users update --set`, the policies and `users show`
/// use.
pub const FIELDS: [(Attr, &str); 26] = [
    (Attr::GivenName, "given name"),
    (Attr::FamilyName, "family name"),
    (Attr::DisplayName, "display name"),
    (Attr::UserName, "userName"),
    (Attr::Email, "email"),
    (Attr::PhoneWork, "work phone"),
    (Attr::PhoneMobile, "mobile phone"),
    (Attr::Title, "title"),
    (Attr::Timezone, "timezone"),
    (Attr::UserType, "userType"),
    (Attr::EmployeeNumber, "employee number"),
    (Attr::CostCenter, "cost center"),
    (Attr::Organization, "organization"),
    (Attr::Division, "division"),
    (Attr::Department, "department"),
    (Attr::Manager, "manager"),
    (Attr::SecondaryEmail, "secondaryEmail"),
    (Attr::StartDate, "startDate"),
    (Attr::Photo, "photo"),
    (Attr::Guest, "guest"),
    (Attr::GuestExpiration, "guestExpiration"),
    (Attr::StreetAddress, "streetAddress"),
    (Attr::Locality, "locality"),
    (Attr::Region, "region"),
    (Attr::PostalCode, "postalCode"),
    (Attr::Country, "country"),
];

const LABEL_W: usize = 16;
/// The most lines the form's message takes.
const MSG_ROWS: usize = 3;

/// The form's rectangle: every field, its message line and the borders, at most 96 wide.
fn form_area(screen: Rect) -> Rect {
    super::picker::compact_area(screen, 96, FIELDS.len() as u16 + 3)
}

#[derive(Clone, Debug)]
pub enum Mode {
    Create,
    /// The user as loaded when the form opened (the diff is against it).
    Edit {
        original: Box<User>,
    },
}

pub struct Field {
    pub attr: Attr,
    pub label: &'static str,
    pub input: Input,
}

pub struct UserForm {
    pub mode: Mode,
    pub fields: Vec<Field>,
    pub focus: usize,
    offset: usize,
    /// The picked manager's id (the manager field shows the name).
    pub manager: Option<String>,
    picker: Option<Picker>,
    /// Save was pressed: the changes to confirm.
    pub review: Option<Vec<AttrChange>>,
    /// Why save was refused (the first bad field), until the next key.
    pub error: Option<String>,
}

/// Open the form, unless writes are refused (read-only: asked before anything is typed) or a
/// batch runs.
pub fn open(ctx: &mut Ctx, form: UserForm) {
    let what = match &form.mode {
        Mode::Create => "create a user".to_string(),
        Mode::Edit { original } => format!("edit {}", original.label()),
    };
    if let Some(why) = ctx.queue.refuse_writes().or_else(|| ctx.queue.busy()) {
        ctx.log(Level::Warn, format!("{what}: {why}"));
        return;
    }
    ctx.open(form);
}

/// `e` on a loaded user: the form over its full record. The loaded rows are compact
/// (`provision::directory`), so when the full record is not at hand (a detail view fetches it
/// when it opens) it is fetched first (`Effect::FetchDetail`) and the form opens when it arrives
/// (`Directory::edit_after_fetch`, see `users::UsersPane`).
pub fn edit_or_fetch(ctx: &mut Ctx, idx: u32) -> Vec<Effect> {
    if let Some(form) = UserForm::edit(ctx.dir, idx) {
        open(ctx, form);
        return vec![];
    }
    let r = ctx.dir.store.get(idx);
    let (id, name) = (r.id().to_string(), r.name().to_string());
    if let Some(why) = ctx.queue.refuse_writes().or_else(|| ctx.queue.busy()) {
        ctx.log(Level::Warn, format!("edit {name}: {why}"));
        return vec![];
    }
    ctx.dir.edit_after_fetch = Some(id.clone().into());
    ctx.log(Level::Info, format!("edit {name}: fetching the full record first"));
    vec![Effect::FetchDetail { id }]
}

/// How the manager field shows a manager id.
fn manager_label(dir: &Directory, id: &str) -> String {
    match dir.store.index_of(id) {
        Some(i) => {
            let r = dir.store.get(i);
            format!("{} <{}>", r.name(), r.email())
        }
        None => id.to_string(),
    }
}

impl UserForm {
    pub fn create() -> UserForm {
        UserForm::with(Mode::Create, |_| String::new(), None)
    }

    /// The form over a loaded user whose full record is at hand (`Directory::full`); None when
    /// it is not (fetch it first: [`edit_or_fetch`]).
    pub fn edit(dir: &Directory, idx: u32) -> Option<UserForm> {
        let u = dir.full.get(dir.store.try_get(idx)?.id())?.clone();
        let manager = u.manager_id().map(str::to_string);
        let label = manager.as_deref().map(|m| manager_label(dir, m));
        let mut f = UserForm::with(Mode::Edit { original: Box::new(u.clone()) }, |a| a.get(&u).map(clean).unwrap_or_default(), None);
        f.manager = manager;
        if let Some(l) = label {
            f.set(Attr::Manager, &l);
        }
        Some(f)
    }

    fn with(mode: Mode, value: impl Fn(Attr) -> String, manager: Option<String>) -> UserForm {
        let fields = FIELDS.iter().map(|&(attr, label)| Field { attr, label, input: Input::new(value(attr)) }).collect();
        UserForm { mode, fields, focus: 0, offset: 0, manager, picker: None, review: None, error: None }
    }

    fn index(&self, attr: Attr) -> usize {
        self.fields.iter().position(|f| f.attr == attr).expect("every attribute of the form is a field")
    }

    /// Set a field's text (tests, the manager's name).
    pub fn set(&mut self, attr: Attr, value: &str) {
        let i = self.index(attr);
        self.fields[i].input = Input::new(value.to_string());
    }

    pub fn value(&self, attr: Attr) -> &str {
        self.fields[self.index(attr)].input.value()
    }

    fn user_id(&self) -> Option<&str> {
        match &self.mode {
            Mode::Create => None,
            Mode::Edit { original } => original.id.as_deref(),
        }
    }

    /// What the fields ask for.
    pub fn wanted(&self) -> Vec<Wanted> {
        self.fields
            .iter()
            .map(|f| {
                let v = if f.attr == Attr::Manager { self.manager.clone() } else { Some(f.input.value().to_string()) };
                (f.attr, v)
            })
            .collect()
    }

    /// What is wrong with field `i` as typed (Slack would refuse it), if anything.
    pub fn problem(&self, i: usize, dir: &Directory) -> Option<String> {
        let f = &self.fields[i];
        let v = f.input.value().trim();
        match f.attr {
            Attr::UserName => {
                if v.is_empty() {
                    return Some("userName is required".into());
                }
                scim::rules::slack_user_name(v).err().map(|p| format!("Slack refuses it ({}): {p}", p.code()))
            }
            Attr::Email => {
                if v.is_empty() {
                    return Some("email is required".into());
                }
                if let Err(e) = scim::client::normalize_email(v) {
                    let e = e.to_string();
                    return Some(e.split_once("address: ").map_or(e.clone(), |(_, why)| format!("not an email address: {why}")));
                }
                let other = dir.store.find_email(&v.to_lowercase()).map(|i| dir.store.get(i));
                match other {
                    Some(r) if Some(r.id()) != self.user_id() => Some(format!("{} already has this email ({})", r.name(), r.id_shown())),
                    _ => None,
                }
            }
            Attr::Manager => None,
            Attr::SecondaryEmail if !v.is_empty() => scim::client::normalize_email(v).err().map(|e| {
                let e = e.to_string();
                e.split_once("address: ").map_or(e.clone(), |(_, why)| format!("not an email address: {why}"))
            }),
            Attr::StartDate | Attr::GuestExpiration if !v.is_empty() => {
                let end = f.attr.date_end().expect("a date");
                match scim::rules::iso_date(v, end) {
                    Err(p) => Some(p.to_string()),
                    Ok(d) if f.attr == Attr::GuestExpiration && d.unix < provision::queue::edit::now_unix() => {
                        Some("this date is past: the guest would lose access at once".into())
                    }
                    Ok(_) if f.attr == Attr::GuestExpiration && !self.wants_guest() => {
                        Some("an expiry is for a multi-channel guest: set guest to multi".into())
                    }
                    Ok(_) => None,
                }
            }
            Attr::Photo if !v.is_empty() => scim::rules::photo_value(v).err().map(|p| p.to_string()),
            // Slack's rules, as `scim::rules` has them (the same checks as `users update`).
            Attr::DisplayName => scim::rules::slack_display_name(v).err(),
            Attr::Timezone if !v.is_empty() => scim::rules::iana_timezone(v).err(),
            Attr::UserType if !v.is_empty() => scim::rules::user_type(v).err(),
            Attr::Guest => match Attr::Guest.sendable(v).as_deref() {
                None => None,
                Some("multi") => match &self.mode {
                    Mode::Edit { original } if !original.is_guest() => provision::queue::edit::admin_role(original)
                        .map(|r| format!("cannot_make_user_guest: Slack never makes an admin or owner a guest (role {:?})", clean(r))),
                    _ => None,
                },
                Some(_) => Some("multi (a multi-channel guest) or member".into()),
            },
            _ => v
                .chars()
                .find(|&c| scim::rules::is_emoji(c) || c.is_control())
                .map(|c| format!("Slack refuses U+{:04X} in a value (emoji or a control character)", c as u32)),
        }
    }

    /// A word about field `i` when it is fine but not stored as typed.
    pub fn note(&self, i: usize) -> Option<String> {
        let f = &self.fields[i];
        let v = f.input.value().trim();
        match f.attr {
            Attr::UserName => match scim::rules::slack_user_name(v) {
                Ok(n) if n != v => Some(format!("Slack stores it as {n}")),
                _ => None,
            },
            Attr::Manager => Some(match &self.manager {
                Some(id) => format!("{id} · Enter picks another, ⌫ clears it"),
                None => "Enter (or typing) searches the loaded users".into(),
            }),
            Attr::DisplayName if v.is_empty() => Some("empty: \"given family\" when both are there".into()),
            Attr::Timezone => Some(match scim::rules::iana_timezone(v) {
                Ok(z) if z != v => format!("sent as {z}"),
                _ => "an IANA time zone name, e.g. America/New_York, Europe/Berlin, UTC".into(),
            }),
            Attr::UserType => Some(match scim::rules::user_type(v) {
                Ok(u) if u != v => format!("sent as {u}"),
                _ => format!("one of {}", scim::rules::USER_TYPES.join(", ")),
            }),
            Attr::Email => self
                .case_only(i)
                .map(|old| format!("only the case differs from {old}: Slack compares emails without case, so it is not sent")),
            Attr::StartDate => Some(match Attr::StartDate.sendable(v) {
                Some(s) if !v.is_empty() && s != v => format!("sent as {s}"),
                _ => "ISO-8601, e.g. 2027-01-04".into(),
            }),
            Attr::GuestExpiration => Some(match Attr::GuestExpiration.sendable(v) {
                Some(s) if !v.is_empty() && s != v => format!("sent as {s}: the guest keeps that whole day"),
                _ => "ISO-8601, e.g. 2027-06-30; empty: no expiry".into(),
            }),
            Attr::Photo => Some("a public https:// URL or a data: URL; Slack shows it a little later".into()),
            Attr::Guest => Some("multi: a multi-channel guest (Enterprise plans); empty or member: a full member".into()),
            a if a.is_address() => Some("Slack keeps one address: its parts are sent together".into()),
            _ => None,
        }
    }

    /// The user's value of field `i` when what is typed differs from it only in case, for an
    /// attribute compared without case (email, userName): nothing is sent for it (issue 25: the
    /// change vanished from the old → new review without a word).
    pub fn case_only(&self, i: usize) -> Option<String> {
        let Mode::Edit { original } = &self.mode else { return None };
        let f = &self.fields[i];
        if !matches!(f.attr, Attr::Email | Attr::UserName | Attr::SecondaryEmail) {
            return None;
        }
        let (typed, old) = (f.input.value().trim(), f.attr.get(original)?);
        (typed != old && typed.eq_ignore_ascii_case(old)).then(|| clean(old))
    }

    /// Does the guest field ask for a multi-channel guest?
    fn wants_guest(&self) -> bool {
        Attr::Guest.sendable(self.value(Attr::Guest)).as_deref() == Some("multi")
    }

    /// Save: check every field, then show the changes (nothing to send: say so).
    fn save(&mut self, ctx: &mut Ctx) {
        if let Some((i, p)) = (0..self.fields.len()).find_map(|i| self.problem(i, ctx.dir).map(|p| (i, p))) {
            self.focus = i;
            self.error = Some(format!("{}: {p}", self.fields[i].label));
            return;
        }
        let changes = match &self.mode {
            Mode::Create => edit::changes(&User::default(), &self.wanted()),
            Mode::Edit { original } => edit::changes(original, &self.wanted()),
        };
        if changes.is_empty() {
            let cased: Vec<&str> = (0..self.fields.len()).filter(|&i| self.case_only(i).is_some()).map(|i| self.fields[i].label).collect();
            self.error = Some(if cased.is_empty() {
                "nothing changed: there is nothing to send".into()
            } else {
                format!("nothing to send: {} differs only in case, which Slack does not tell apart", cased.join(", "))
            });
            return;
        }
        self.review = Some(changes);
    }

    /// The reviewed changes go to the gate (one action); its confirmation queues them.
    fn submit(&mut self, ctx: &mut Ctx) -> Vec<Effect> {
        let Some(changes) = self.review.take() else { return vec![] };
        let (action, what, known) = match &self.mode {
            Mode::Create => {
                let a = edit::create_action(&self.wanted());
                let what = format!("create user {}", self.value(Attr::Email).trim());
                (a, what, Knowledge::default())
            }
            Mode::Edit { original } => {
                let Some(a) = edit::update_action(original, &changes) else { return vec![] };
                let names: Vec<&str> = changes.iter().map(|c| short(c.attr)).collect();
                let what = format!("update {} ({})", original.label(), names.join(", "));
                (a, what, Knowledge::from_users([original.as_ref()]))
            }
        };
        ctx.close();
        super::confirm::ask(ctx, vec![action], &known, move |_| what, false)
    }

    fn open_picker(&mut self, dir: &Directory, query: &str) {
        let me = self.user_id().map(str::to_string);
        let items = dir
            .store
            .iter()
            .filter(|r| Some(r.id()) != me.as_deref())
            .map(|r| {
                let gone = if r.active() { "" } else { "  (deactivated)" };
                let item = Item::new(&format!("{} <{}>{gone}", r.name(), r.email()), r.id().to_string(), None);
                if r.active() { item } else { item.ranked_last() }
            })
            .collect();
        self.picker = Some(Picker::new("Manager: pick a loaded user", items, false).with_query(query));
    }

    fn edit_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Vec<Effect> {
        let n = self.fields.len();
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let on_manager = self.fields[self.focus].attr == Attr::Manager;
        match k.code {
            KeyCode::Esc => {
                ctx.close();
                ctx.log(Level::Info, "user form: cancelled, nothing was sent");
            }
            KeyCode::Char('s') if ctrl => self.save(ctx),
            KeyCode::Tab | KeyCode::Down => self.focus = (self.focus + 1) % n,
            KeyCode::BackTab | KeyCode::Up => self.focus = (self.focus + n - 1) % n,
            KeyCode::Enter if on_manager => self.open_picker(ctx.dir, ""),
            KeyCode::Enter if self.focus + 1 == n => self.save(ctx),
            KeyCode::Enter => self.focus += 1,
            KeyCode::Backspace | KeyCode::Delete if on_manager => {
                self.manager = None;
                self.set(Attr::Manager, "");
            }
            KeyCode::Char(c) if on_manager && !ctrl => self.open_picker(ctx.dir, &c.to_string()),
            _ if on_manager => {}
            _ => {
                self.fields[self.focus].input.handle_event(&Event::Key(*k));
            }
        }
        vec![]
    }

    /// Rows of fields on this screen (the rest of the inner area: the focused field's message).
    fn field_rows(&self, screen: Rect, dir: &Directory) -> usize {
        let r = form_area(screen);
        let (inner_w, inner_h) = (r.width.saturating_sub(2) as usize, r.height.saturating_sub(2) as usize);
        let msg = super::draw::wrap_words(&self.message(dir).0, inner_w.max(1)).len().min(MSG_ROWS);
        inner_h.saturating_sub(msg.min(inner_h.saturating_sub(1))).max(1)
    }

    /// The form's message: why save was refused, else the focused field's problem or note, else
    /// where the list is; `true` for a problem.
    fn message(&self, dir: &Directory) -> (String, bool) {
        if let Some(e) = &self.error {
            (clean(e), true)
        } else if let Some(p) = self.problem(self.focus, dir) {
            (clean(&p), true)
        } else if let Some(n) = self.note(self.focus) {
            (clean(&n), false)
        } else {
            (format!("field {} of {}", self.focus + 1, self.fields.len()), false)
        }
    }

    fn heading(&self) -> String {
        match &self.mode {
            Mode::Create => " New user ".to_string(),
            Mode::Edit { original } => format!(" Edit {} ", clean(&original.label())),
        }
    }
}

/// A short name for an attribute in a title (`enterprise.department` → `department`).
fn short(a: Attr) -> &'static str {
    let n = a.name();
    match a {
        Attr::Email => "email",
        Attr::PhoneWork => "work phone",
        Attr::PhoneMobile => "mobile phone",
        Attr::SecondaryEmail | Attr::StartDate | Attr::Photo | Attr::Guest | Attr::GuestExpiration => a.short(),
        a if a.is_address() => a.short(),
        _ => n.rsplit('.').next().unwrap_or(n),
    }
}

impl Component for UserForm {
    fn title(&self) -> Cow<'static, str> {
        "User form".into()
    }

    fn keys(&self, _v: &View) -> Vec<Offer> {
        if let Some(p) = &self.picker {
            return p.offers();
        }
        if self.review.is_some() {
            return vec![
                Offer::new("Enter/y", "queue it", "hand the change to the gate: its confirmation queues it", true),
                Offer::new("Esc", "back", "back to the form: nothing is sent", true),
            ];
        }
        vec![
            Offer::new("C-s", "save", "save: show the changes (old → new) before anything is sent", true),
            Offer::new("Tab ↓", "next", "next field (Enter too; Enter on the last field saves)", true),
            Offer::new("S-Tab ↑", "prev", "previous field", true),
            Offer::new("Enter", "", "next field; on the manager field: pick the manager among the loaded users", true),
            Offer::new("Esc", "cancel", "close the form: nothing is sent", true),
            Offer::new("text", "", "edit the field (←/→, C-a/C-e, C-w …); on the manager field ⌫ clears it", true),
        ]
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        self.error = None;
        if let Some(p) = self.picker.as_mut() {
            match p.handle_key(k, ctx.area) {
                Picked::Open => {}
                Picked::Cancel => self.picker = None,
                Picked::Chosen(ids) => {
                    self.picker = None;
                    if let Some(id) = ids.into_iter().next() {
                        let label = manager_label(ctx.dir, &id);
                        self.manager = Some(id);
                        self.set(Attr::Manager, &label);
                    }
                }
            }
            return Handled::done();
        }
        if self.review.is_some() {
            return match k.code {
                KeyCode::Enter | KeyCode::Char('y') => Handled::Consumed(self.submit(ctx)),
                KeyCode::Esc | KeyCode::Char('n') => {
                    self.review = None;
                    Handled::done()
                }
                _ => Handled::done(),
            };
        }
        let fx = self.edit_key(k, ctx);
        let h = self.field_rows(ctx.area, ctx.dir);
        self.offset = visible_offset(self.focus, self.offset, h, self.fields.len());
        Handled::Consumed(fx)
    }

    fn render(&self, f: &mut Frame, area: Rect, v: &View) {
        let t = v.theme;
        let r = form_area(area);
        let hint = hint_list(&self.keys(v), r.width.saturating_sub(4) as usize);
        let b = block(t, Line::styled(self.heading(), t.title), true).title_bottom(hint_line(t, hint));
        let inner = b.inner(r);
        f.render_widget(Clear, r);
        f.render_widget(b, r);
        if inner.height < 2 || inner.width < 10 {
            return;
        }
        let w = inner.width as usize;
        let cut = |s: String| -> String { s.chars().take(w).collect() };
        if let Some(changes) = &self.review {
            let n = changes.len();
            let mut lines = vec![Line::styled(
                cut(match &self.mode {
                    Mode::Create => format!("A new user with {}:", super::draw::counted(n, "attribute")),
                    Mode::Edit { .. } => format!("{}, sent as one update of only these:", super::draw::counted(n, "change")),
                }),
                t.header,
            )];
            let show = |a: Attr, s: &Option<String>| match (a, s) {
                (_, None) => "(empty)".to_string(),
                (Attr::Manager, Some(id)) => manager_label(v.dir, id),
                (_, Some(s)) => clean(s),
            };
            for c in changes {
                let line = format!("  {:<LABEL_W$}{} → {}", short(c.attr), show(c.attr, &c.old), show(c.attr, &c.new));
                lines.push(Line::styled(cut(line), t.text));
            }
            for i in (0..self.fields.len()).filter(|&i| self.case_only(i).is_some()) {
                let line = format!("  {:<LABEL_W$}only the case differs: not sent (Slack does not tell it apart)", self.fields[i].label);
                lines.push(Line::styled(cut(line), t.muted));
            }
            lines.push(Line::raw(""));
            lines.push(Line::styled(cut("Enter: to the gate's confirmation · Esc: back to the form".into()), t.muted));
            let h = inner.height as usize;
            if lines.len() > h {
                // Keep the prompt: drop changes from the end, saying how many.
                let hidden = lines.len() - h + 1;
                let keep = lines.len() - 2 - hidden;
                let tail = lines.split_off(lines.len() - 2);
                lines.truncate(keep);
                lines.push(Line::styled(format!("  … and {hidden} more"), t.muted));
                lines.extend(tail);
            }
            f.render_widget(Paragraph::new(lines), inner);
            return;
        }
        // The last lines: why save was refused, else the focused field's problem or note, else
        // where the list is; wrapped (issue 25: it was cut at 80 columns, `…it is 22 chara`).
        let (msg, bad_msg) = self.message(v.dir);
        let msg_lines = super::draw::wrap_words(&msg, w);
        let msg_rows = msg_lines.len().min(MSG_ROWS).min(inner.height as usize - 1);
        let rows = inner.height as usize - msg_rows;
        let off = visible_offset(self.focus, self.offset, rows, self.fields.len());
        let vw = w.saturating_sub(LABEL_W + 4);
        let mut lines = Vec::new();
        for (i, fld) in self.fields.iter().enumerate().skip(off).take(rows) {
            let bad = self.problem(i, v.dir).is_some();
            let focus = i == self.focus;
            // The focus marker and the problem marker each have a column: an invalid field keeps
            // its focus marker (issue 25).
            let label_st = if bad {
                t.error
            } else if focus {
                t.header.add_modifier(Modifier::BOLD)
            } else {
                t.header
            };
            let manager = fld.attr == Attr::Manager;
            // The manager shows from its start ("Maria Harris <maria@…>"), never scrolled to its end.
            let scroll = if focus && !manager { fld.input.visual_scroll(vw.max(1)) } else { 0 };
            let val: String = if manager {
                super::draw::truncate(&clean(fld.input.value()), vw)
            } else {
                clean(fld.input.value()).chars().skip(scroll).take(vw).collect()
            };
            let val_st = if focus { t.input } else { t.text };
            // Only the label is styled: its padding is not (an underlined header style drew lines
            // under blanks under NO_COLOR).
            let pad = " ".repeat(LABEL_W.saturating_sub(unicode_width::UnicodeWidthStr::width(fld.label)) + 1);
            lines.push(Line::from(vec![
                if focus { Span::styled("›", t.accent) } else { Span::raw(" ") },
                if bad { Span::styled("!", t.error) } else { Span::raw(" ") },
                Span::raw(" "),
                Span::styled(fld.label, label_st),
                Span::raw(pad),
                Span::styled(val, val_st),
            ]));
            if focus && !manager {
                let x = inner.x + (LABEL_W + 4) as u16 + fld.input.visual_cursor().saturating_sub(scroll) as u16;
                let y = inner.y + (i - off) as u16;
                f.set_cursor_position((x.min(inner.right().saturating_sub(1)), y));
            }
        }
        f.render_widget(Paragraph::new(lines), Rect { height: rows as u16, ..inner });
        let more = if off + rows < self.fields.len() { "↓ more" } else { "" };
        let st = if bad_msg { t.error } else { t.muted };
        let mut shown: Vec<Line> = msg_lines.into_iter().take(msg_rows).map(|l| Line::styled(l, st)).collect();
        if !more.is_empty()
            && let Some(last) = shown.last_mut()
        {
            let room = w.saturating_sub(last.width());
            if room > more.len() {
                last.spans.push(Span::styled(format!("{}{more}", " ".repeat(room - more.chars().count())), t.muted));
            }
        }
        f.render_widget(Paragraph::new(shown), Rect { y: inner.bottom() - msg_rows as u16, height: msg_rows as u16, ..inner });
        if let Some(p) = &self.picker {
            p.render(f, area, v);
        }
    }
}
