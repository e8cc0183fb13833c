//! The Slack side of a plan in compact form: per user, the handful of fields
//! [`super::plan::compute_on`] reads (id, `active`, the account kind, the primary email, every
//! email, userName, the list label, roles and groups for the gate) and the values of the
//! attributes the policy maps, every string in one arena.
//!
//! Built one user at a time ([`PlanUsers::push`]) while the listing's pages stream in, so a plan
//! of 100,000 users never holds 100,000 full SCIM resources (every attribute and an `extra` map
//! each); [`PlanUsers::from_users`] projects a slice the same way.

use crate::queue::gate::{Account, UserFacts, account_of};
use crate::scim::types::{GroupRef, Role, User};
use std::collections::HashMap;

use super::config::{Attr, Policy};

/// A string in the arena; `len == u32::MAX` is "absent".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    off: u32,
    len: u32,
}

const NONE: Span = Span { off: 0, len: u32::MAX };

const ACTIVE: u8 = 1;
/// The server sent `active` (`UserFacts::active` is `Some`).
const ACTIVE_KNOWN: u8 = 2;
const BOT: u8 = 4;
const OWNER: u8 = 8;
/// A multi-channel guest (`User::is_guest`).
const GUEST: u8 = 16;

/// One user, fixed-size.
#[derive(Clone, Copy, Debug)]
struct Row {
    id: Span,
    label: Span,
    email: Span,
    user_name: Span,
    /// Every email value: `emails[first..first + count]`.
    emails_first: u32,
    emails_count: u32,
    flags: u8,
}

/// Roles and groups, kept for the few users that have them (the gate's knowledge).
#[derive(Clone, Debug, Default, PartialEq)]
struct Extra {
    groups: Option<Vec<GroupRef>>,
    roles: Vec<Role>,
}

/// The Slack users a plan compares with, projected onto what the plan reads.
#[derive(Clone, Debug, Default)]
pub struct PlanUsers {
    /// The attributes whose values are kept, in column order.
    attrs: Vec<Attr>,
    text: String,
    rows: Vec<Row>,
    /// `rows.len() * attrs.len()` values, row-major.
    values: Vec<Span>,
    emails: Vec<Span>,
    extra: HashMap<u32, Extra>,
}

impl PlanUsers {
    /// An empty projection keeping the values of the attributes `policy` maps.
    pub fn for_policy(policy: &Policy) -> PlanUsers {
        let mut attrs: Vec<Attr> = Vec::with_capacity(policy.attributes.len());
        for m in &policy.attributes {
            if !attrs.contains(&m.attr) {
                attrs.push(m.attr);
            }
        }
        // Slack stores one address and a change sends it whole: its parts the policy does not
        // map are kept as they are (`policy::apply::update_spec`).
        if attrs.iter().any(|a| a.is_address()) {
            for a in Attr::ADDRESS {
                if !attrs.contains(&a) {
                    attrs.push(a);
                }
            }
        }
        // So are the emails and the phones in SCIM 1.1 (a changed one sends the other along).
        let elements = [Attr::Email, Attr::SecondaryEmail, Attr::PhoneWork, Attr::PhoneMobile];
        if attrs.iter().any(|a| a.is_element()) {
            for a in elements {
                if !attrs.contains(&a) {
                    attrs.push(a);
                }
            }
        }
        PlanUsers { attrs, ..Default::default() }
    }

    /// `for_policy` filled with `users`.
    pub fn from_users(policy: &Policy, users: &[User]) -> PlanUsers {
        let mut p = PlanUsers::for_policy(policy);
        p.reserve(users.len());
        for u in users {
            p.push(u);
        }
        p
    }

    pub fn reserve(&mut self, users: usize) {
        self.rows.reserve(users);
        self.values.reserve(users * self.attrs.len());
        self.emails.reserve(users);
    }

    fn put(&mut self, s: Option<&str>) -> Span {
        match s {
            None => NONE,
            Some(s) => {
                let off = self.text.len() as u32;
                self.text.push_str(s);
                Span { off, len: s.len() as u32 }
            }
        }
    }

    /// A span for `s` when it is the text of `within`, its start or its end (no copy), else a
    /// new one.
    fn put_reusing(&mut self, s: Option<&str>, within: Span) -> Span {
        if let (Some(v), Some(w)) = (s, self.get(within)) {
            let at = if w.starts_with(v) {
                Some(0)
            } else if w.ends_with(v) {
                Some(w.len() - v.len())
            } else {
                None
            };
            if let Some(at) = at {
                return Span { off: within.off + at as u32, len: v.len() as u32 };
            }
        }
        self.put(s)
    }

    fn get(&self, s: Span) -> Option<&str> {
        (s.len != u32::MAX).then(|| &self.text[s.off as usize..(s.off + s.len) as usize])
    }

    /// Add one user (in listing order: the plan's preferences among duplicates follow it).
    pub fn push(&mut self, u: &User) {
        let i = self.rows.len() as u32;
        let id = self.put(u.id.as_deref());
        let emails_first = self.emails.len() as u32;
        let mut email = NONE;
        let primary = u.primary_email();
        for e in u.emails.iter().flatten() {
            let Some(v) = e.value.as_deref() else { continue };
            let span = self.put(Some(v));
            if email == NONE && primary.is_some_and(|p| std::ptr::eq(p, v)) {
                email = span;
            }
            self.emails.push(span);
        }
        let emails_count = self.emails.len() as u32 - emails_first;
        let user_name = self.put(u.user_name.as_deref());
        let label = u.label();
        let label = if label.is_empty() { u.primary_email().unwrap_or(u.id()).to_string() } else { label };
        let label = self.put(Some(&label));
        let mut flags = 0;
        if u.active == Some(true) {
            flags |= ACTIVE;
        }
        if u.active.is_some() {
            flags |= ACTIVE_KNOWN;
        }
        match account_of(u) {
            Account::Bot => flags |= BOT,
            Account::PrimaryOwner => flags |= OWNER,
            Account::Member => {}
        }
        if u.is_guest() {
            flags |= GUEST;
        }
        for k in 0..self.attrs.len() {
            let attr = self.attrs[k];
            let v = attr.get(u);
            // Most values are a user's id, email, userName or label already in the arena.
            let span = match attr {
                Attr::UserName => self.put_reusing(v, user_name),
                Attr::Email => self.put_reusing(v, email),
                Attr::DisplayName | Attr::GivenName | Attr::FamilyName => self.put_reusing(v, label),
                _ => self.put(v),
            };
            self.values.push(span);
        }
        let roles = u.roles.as_ref().filter(|r| !r.is_empty());
        if u.groups.is_some() || roles.is_some() {
            self.extra.insert(i, Extra { groups: u.groups.clone(), roles: roles.cloned().unwrap_or_default() });
        }
        self.rows.push(Row { id, label, email, user_name, emails_first, emails_count, flags });
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Whether the values of `attr` are kept.
    pub fn has(&self, attr: Attr) -> bool {
        self.attrs.contains(&attr)
    }

    /// The column of `attr`'s values, when kept.
    pub(crate) fn column(&self, attr: Attr) -> Option<usize> {
        self.attrs.iter().position(|a| *a == attr)
    }

    /// `Attr::get` of the user's column `col`: trimmed, empty reads as unset.
    pub(crate) fn value(&self, i: usize, col: usize) -> Option<&str> {
        self.get(self.values[i * self.attrs.len() + col])
    }

    /// `User::is_guest()`.
    pub fn is_guest(&self, i: usize) -> bool {
        self.rows[i].flags & GUEST != 0
    }

    /// A role that keeps the user from being made a guest (an admin or owner), if any.
    pub fn admin_role(&self, i: usize) -> Option<String> {
        let e = self.extra.get(&(i as u32))?;
        e.roles
            .iter()
            .filter_map(|r| match r {
                Role::Text(s) => Some(s.as_str()),
                Role::Object(mv) => mv.value.as_deref(),
            })
            .find(|r| crate::scim::rules::is_admin_role(r))
            .map(str::to_string)
    }

    /// `User::id()`.
    pub fn id(&self, i: usize) -> &str {
        self.get(self.rows[i].id).unwrap_or("")
    }

    /// `User::is_active()`.
    pub fn is_active(&self, i: usize) -> bool {
        self.rows[i].flags & ACTIVE != 0
    }

    /// `User::primary_email()`.
    pub fn primary_email(&self, i: usize) -> Option<&str> {
        self.get(self.rows[i].email)
    }

    /// The userName as the server sent it.
    pub fn user_name(&self, i: usize) -> Option<&str> {
        self.get(self.rows[i].user_name)
    }

    /// Every email value of the user.
    pub fn emails(&self, i: usize) -> impl Iterator<Item = &str> {
        let r = self.rows[i];
        self.emails[r.emails_first as usize..(r.emails_first + r.emails_count) as usize].iter().filter_map(|s| self.get(*s))
    }

    /// The label plans show: `User::label()`, else the primary email, else the id.
    pub fn label(&self, i: usize) -> &str {
        self.get(self.rows[i].label).unwrap_or("")
    }

    /// `queue::gate::account_of` of the user.
    pub fn account(&self, i: usize) -> Account {
        let f = self.rows[i].flags;
        if f & BOT != 0 {
            Account::Bot
        } else if f & OWNER != 0 {
            Account::PrimaryOwner
        } else {
            Account::Member
        }
    }

    /// `UserFacts::of` the user, for the gate.
    pub fn facts(&self, i: usize) -> UserFacts {
        let f = self.rows[i].flags;
        let extra = self.extra.get(&(i as u32));
        UserFacts {
            active: (f & ACTIVE_KNOWN != 0).then_some(f & ACTIVE != 0),
            email: self.primary_email(i).map(str::to_string),
            emails: self.emails(i).map(str::to_string).collect(),
            user_name: self.user_name(i).map(str::to_string),
            account: self.account(i),
            groups: extra.and_then(|e| e.groups.clone()),
            roles: extra.map(|e| e.roles.clone()).unwrap_or_default(),
        }
    }

    /// Bytes held (arena and tables), for benchmarks.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity()
            + self.rows.capacity() * std::mem::size_of::<Row>()
            + (self.values.capacity() + self.emails.capacity()) * std::mem::size_of::<Span>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::types::{EnterpriseUser, Manager, MultiValue, Name};

    fn policy() -> Policy {
        Policy::parse(
            "[source]\npath = \"s.csv\"\nid_column = \"id\"\n[attributes]\nuserName = \"u\"\nemail = \"e\"\ndisplayName = \"d\"\n\"name.givenName\" = \"g\"\ntitle = \"t\"\n\"enterprise.manager\" = \"m\"\n",
            std::path::Path::new("p.toml"),
        )
        .unwrap()
    }

    #[test]
    fn projection_reads_what_the_full_user_says() {
        let full = User {
            id: Some("U1".into()),
            user_name: Some(" Ann ".into()),
            name: Some(Name { given_name: Some("Ann".into()), family_name: Some("Lee".into()), ..Default::default() }),
            display_name: Some("Ann Lee".into()),
            title: Some("  ".into()),
            active: Some(false),
            emails: Some(vec![MultiValue::email("old@x.com", false), MultiValue::email("Ann@X.com", true)]),
            roles: Some(vec![Role::Text("Primary Owner".into())]),
            enterprise: Some(EnterpriseUser {
                manager: Some(Manager { manager_id: Some("U9".into()), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let bare =
            User { id: Some("U2".into()), emails: Some(vec![MultiValue::email("botuser-T1@slack-bots.com", true)]), ..Default::default() };
        let nameless = User { id: Some("U3".into()), active: Some(true), ..Default::default() };
        let users = [full, bare, nameless];
        let p = PlanUsers::from_users(&policy(), &users);
        assert_eq!(p.len(), 3);
        for (i, u) in users.iter().enumerate() {
            assert_eq!(p.id(i), u.id());
            assert_eq!(p.is_active(i), u.is_active());
            assert_eq!(p.primary_email(i), u.primary_email());
            assert_eq!(p.user_name(i), u.user_name.as_deref());
            assert_eq!(p.emails(i).collect::<Vec<_>>(), u.emails.iter().flatten().filter_map(|e| e.value.as_deref()).collect::<Vec<_>>());
            assert_eq!(p.account(i), account_of(u));
            assert_eq!(p.facts(i), UserFacts::of(u));
            for a in [Attr::UserName, Attr::Email, Attr::DisplayName, Attr::GivenName, Attr::Title, Attr::Manager] {
                assert_eq!(p.value(i, p.column(a).unwrap()), a.get(u), "{a} of user {i}");
            }
        }
        assert_eq!(p.label(0), "Ann Lee");
        assert_eq!(p.label(1), "botuser-T1@slack-bots.com");
        assert_eq!(p.label(2), "U3");
        assert!(!p.has(Attr::Department) && p.column(Attr::Department).is_none());
    }
}
