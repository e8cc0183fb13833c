//! The Policies pane: the policies on disk, the plan of the selected one against the live
//! directory (computed by the executor), grouped by kind with counts, one change in a detail
//! view, and apply after one confirmation (`apply_confirm.rs`, which shows the gate's decision;
//! `apply_live` gates every pass again when it runs). While a policy is applied the pane takes the
//! engine's events: counts for the status line, one Log line per operation, and the queue view
//! follows the batch.
//!
//! The plan is kept as the executor computed it ([`PlanHandle`]) so that what is applied is
//! exactly what the admin reviewed; drawing uses the rows built once in [`plan_rows`]. (A line of
//! its own for another state of a policy is one more `Line` in `render_plan`'s header.)

use super::component::{Binding, Component, Ctx, Handled, N, NAV, Note, Offer, View, bind, hint_lines, lookup, moved, offers_rw};
use super::detail::{Detail, Tone};
use super::draw::{MARK, block, thousands, truncate, visible_offset};
pub use super::msg::PlanHandle;
use super::msg::{Effect, Level, Msg};
use super::theme::Theme;
use crossterm::event::{KeyCode, KeyEvent};
use provision::policy::apply::ApplyOutcome;
use provision::policy::plan::{GroupTarget, MemberChange, MemberRef, Plan};
use provision::queue::{OpState, QueueEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};
use scim::sanitize::clean;
use std::borrow::Cow;
use std::path::PathBuf;

/// Above this many deactivations the confirmation asks for the count to be typed (as headless).
pub const CONFIRM_THRESHOLD: usize = provision::queue::CONFIRM_THRESHOLD;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Create,
    Update,
    Reactivate,
    Deactivate,
    GroupCreate,
    Rename,
    MemberAdd,
    MemberRemove,
    ReportOnly,
    /// Source rows that break one of Slack's rules: no change for them.
    LeftOut,
    Warning,
}

impl Kind {
    pub fn title(self) -> &'static str {
        match self {
            Kind::Create => "Create users",
            Kind::Update => "Update users",
            Kind::Reactivate => "Reactivate users",
            Kind::Deactivate => "Deactivate users",
            Kind::GroupCreate => "Create groups",
            Kind::Rename => "Rename groups",
            Kind::MemberAdd => "Add members",
            Kind::MemberRemove => "Remove members",
            Kind::ReportOnly => "Would deactivate (reported only)",
            Kind::LeftOut => "Left out (Slack's rules)",
            Kind::Warning => "Warnings",
        }
    }
    fn sign(self) -> &'static str {
        match self {
            Kind::Create | Kind::GroupCreate | Kind::MemberAdd => "+",
            Kind::Update | Kind::Rename => "~",
            Kind::Reactivate => "↺",
            Kind::Deactivate | Kind::MemberRemove => "-",
            Kind::ReportOnly | Kind::LeftOut | Kind::Warning => "!",
        }
    }
}

/// One line of the plan: a kind's heading (with its count) or one change with its details.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeRow {
    pub kind: Kind,
    pub heading: bool,
    pub text: String,
    pub detail: Vec<(String, String)>,
}

/// The plan of one policy as shown.
#[derive(Debug)]
pub struct PlanView {
    pub name: String,
    pub live: PlanHandle,
    pub rows: Vec<ChangeRow>,
    pub selected: usize,
    pub offset: usize,
    /// The policy's own ceiling, when the plan is over it.
    pub ceiling: Option<String>,
}

#[derive(Debug, Default)]
pub struct PoliciesPane {
    pub list: Vec<(String, PathBuf)>,
    /// The list was read at least once.
    pub listed: bool,
    pub selected: usize,
    pub offset: usize,
    /// The plan side has the keys (else the list).
    pub focus_plan: bool,
    pub generation: u64,
    /// The policy whose plan is being computed.
    pub computing: Option<String>,
    pub plan: Option<PlanView>,
    pub error: Option<String>,
    /// The policy being applied, and (done, failed, total) of its batches: the total is the
    /// count confirmed from the start (issue 25 newcomer run: `32/103` after confirming 199, the
    /// deactivations being a later batch), or the batches' sum if more.
    pub applying: Option<String>,
    pub progress: (usize, usize, usize),
    /// The operations of the batches started so far in this apply.
    batched: usize,
    /// A policy file just edited (`e`, `n`): selected and planned once the list is read again.
    pub edited: Option<PathBuf>,
    /// Each policy's sync state, as `sync::status` read it with its plan (absent: never synced).
    pub sync: std::collections::HashMap<String, provision::sync::SyncState>,
    /// A quarantined policy's review is being planned.
    pub reviewing: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Open,
    Plan,
    List,
    Apply,
    Approve,
    Rerun,
    Edit,
    New,
}

static KEYS: &[Binding<Act>] = &[
    bind!("Enter", "open", "list: compute the policy's plan; plan: open the change", Act::Open, [(KeyCode::Enter, N)]),
    bind!("l →", "plan", "move to the plan", Act::Plan, [(KeyCode::Char('l'), N), (KeyCode::Right, N)]),
    bind!("h ← Esc", "list", "back to the list of policies", Act::List, [(KeyCode::Char('h'), N), (KeyCode::Left, N), (KeyCode::Esc, N)]),
    bind!("A", "apply", "apply the plan shown (after one confirmation)", Act::Apply, [(KeyCode::Char('A'), N)]),
    bind!(
        "e",
        "edit",
        "edit the selected policy in $VISUAL / $EDITOR (the console steps aside meanwhile), then its plan is computed again",
        Act::Edit,
        [(KeyCode::Char('e'), N)]
    ),
    bind!(
        "n",
        "new",
        "write a new policy for a source file you name, from a commented template, and edit it",
        Act::New,
        [(KeyCode::Char('n'), N)]
    ),
    bind!(
        "S",
        "approve sync",
        "a quarantined sync: review its held plan and approve it (as `scimitar sync approve`)",
        Act::Approve,
        [(KeyCode::Char('S'), N)]
    ),
    bind!("r", "rerun", "read the policies again and recompute the plan", Act::Rerun, [(KeyCode::Char('r'), N)]),
];

/// The plan's rows that fit (for paging), from the pane's rectangle.
pub fn list_height(body: Rect) -> usize {
    body.height.saturating_sub(4) as usize
}

fn kind_style(t: &Theme, k: Kind) -> Style {
    match k {
        Kind::Create | Kind::GroupCreate | Kind::MemberAdd | Kind::Reactivate => t.ok,
        Kind::Update | Kind::Rename => t.accent,
        Kind::Deactivate | Kind::MemberRemove => t.error,
        Kind::ReportOnly | Kind::LeftOut | Kind::Warning => t.warning,
    }
}

impl PoliciesPane {
    pub fn selected_policy(&self) -> Option<&(String, PathBuf)> {
        self.list.get(self.selected)
    }

    pub fn set_plan(&mut self, name: String, live: PlanHandle) {
        let rows = plan_rows(&live.0.plan);
        // The policy's own ceiling and the source's fall since the last successful run: each
        // holds the apply until the count is typed.
        let mut held: Vec<String> =
            live.0.plan.check_ceiling(&live.0.policy, live.0.active_users).err().map(|e| e.to_string()).into_iter().collect();
        held.extend(live.0.source_drops.iter().cloned());
        let ceiling = (!held.is_empty()).then(|| held.join("; "));
        let selected = rows.iter().position(|r| !r.heading).unwrap_or(0);
        self.plan = Some(PlanView { name, live, rows, selected, offset: 0, ceiling });
    }

    pub fn move_by(&mut self, delta: isize, height: usize) {
        if self.focus_plan {
            if let Some(p) = self.plan.as_mut() {
                p.selected = moved(p.selected, delta, p.rows.len());
                p.offset = visible_offset(p.selected, p.offset, height, p.rows.len());
            }
        } else {
            self.selected = moved(self.selected, delta, self.list.len());
            self.offset = visible_offset(self.selected, self.offset, height, self.list.len());
        }
    }

    fn listed(&mut self, ctx: &mut Ctx, list: Vec<(String, PathBuf)>) -> Vec<Effect> {
        let first = !self.listed;
        let edited = self.edited.take();
        let keep = edited.clone().or_else(|| self.selected_policy().map(|(_, path)| path.clone()));
        self.list = list;
        self.listed = true;
        self.selected = keep.and_then(|k| self.list.iter().position(|(_, path)| *path == k)).unwrap_or(0);
        self.offset = 0;
        if let Some(e) = edited
            && self.selected_policy().is_some_and(|(_, p)| *p == e)
        {
            return self.compute_selected(ctx);
        }
        // The first time, the first policy's plan is computed without asking.
        if first && self.plan.is_none() && self.computing.is_none() && !self.list.is_empty() {
            return self.compute_selected(ctx);
        }
        vec![]
    }

    fn compute_selected(&mut self, ctx: &mut Ctx) -> Vec<Effect> {
        let Some((name, path)) = self.selected_policy().cloned() else { return vec![] };
        if self.applying.is_some() {
            ctx.log(Level::Warn, "a policy is being applied; its plan is recomputed when it ends");
            return vec![];
        }
        self.generation += 1;
        self.computing = Some(name.clone());
        self.error = None;
        ctx.log(Level::Info, format!("computing the plan of policy {name} against the live directory"));
        vec![Effect::ComputePlan { generation: self.generation, name, path }]
    }

    /// `r`: read the list again, and recompute the selected policy's plan when one is shown.
    fn recompute(&mut self, ctx: &mut Ctx) -> Vec<Effect> {
        let mut fx = vec![Effect::ListPolicies];
        if self.plan.is_some() || self.error.is_some() {
            fx.extend(self.compute_selected(ctx));
        }
        fx
    }

    fn open(&mut self, ctx: &mut Ctx) -> Vec<Effect> {
        if !self.focus_plan {
            if let Some(v) = &self.plan
                && self.selected_policy().is_some_and(|(n, _)| *n == v.name)
                && self.computing.is_none()
            {
                self.focus_plan = true;
                return vec![];
            }
            let fx = self.compute_selected(ctx);
            self.focus_plan = !fx.is_empty();
            return fx;
        }
        if let Some(v) = &self.plan
            && let Some(row) = v.rows.get(v.selected)
            && !row.heading
        {
            let title = format!(" {}: {} ", row.kind.title(), truncate(&row.text, 50));
            let rows = with_manager_names(&row.detail, &ctx.dir.store).into_iter().map(|(k, val)| (k, val, Tone::Text)).collect();
            ctx.open(Detail::new(title, rows, 28));
        }
        vec![]
    }

    fn computed(&mut self, ctx: &mut Ctx, generation: u64, name: String, result: Result<PlanHandle, String>) -> Vec<Effect> {
        if generation != self.generation {
            return vec![];
        }
        self.computing = None;
        // A change's detail view shows the old plan.
        ctx.close_all::<Detail>();
        match result {
            Ok(h) => {
                let s = provision::present::plan_summary_short(&h.0.plan);
                let warnings = h.0.plan.warnings.len();
                self.set_plan(name.clone(), h);
                self.error = None;
                let w = if warnings > 0 { format!(", {}", super::draw::counted(warnings, "warning")) } else { String::new() };
                ctx.log(Level::Info, format!("plan of policy {name}: {s}{w}"));
            }
            Err(e) => {
                self.error = Some(clean(&e));
                self.plan = None;
                self.focus_plan = false;
                ctx.log(Level::Error, format!("policy {name}: {e}"));
            }
        }
        vec![]
    }

    /// `A`: the gate decides on the plan shown, and the confirmation shows its decision (under
    /// --read-only there is none).
    fn ask_apply(&mut self, ctx: &mut Ctx) -> Vec<Effect> {
        let why = if self.applying.is_some() {
            Some("a policy is being applied already".to_string())
        } else if self.computing.is_some() {
            Some("the plan is still being computed".into())
        } else {
            match &self.plan {
                None => Some("no plan shown: press Enter on a policy first".into()),
                Some(v) if v.live.0.plan.is_empty() => Some(format!("nothing to apply: Slack already matches policy {}", v.name)),
                Some(_) => None,
            }
        };
        if let Some(w) = why {
            ctx.log(Level::Warn, w);
            return vec![];
        }
        let Some(v) = &self.plan else { return vec![] };
        let decision = provision::policy::apply::preview(&v.live.0, &ctx.queue.safety);
        if let Some(h) = decision.hold().filter(|_| decision.is_read_only()) {
            ctx.log(Level::Warn, format!("apply policy {}: {h}", v.name));
            return vec![];
        }
        if decision.is_empty() {
            ctx.log(Level::Warn, format!("nothing to apply in policy {}: {}", v.name, decision.summary()));
            return vec![];
        }
        ctx.open(super::apply_confirm::ApplyConfirm::new(&v.name, &v.live, v.ceiling.as_ref(), &decision));
        vec![]
    }

    /// The selected policy's sync state, when it is quarantined.
    pub fn quarantined(&self) -> Option<&provision::sync::SyncState> {
        let (name, _) = self.selected_policy()?;
        self.sync.get(name).filter(|s| s.quarantine.is_some())
    }

    /// `S`: plan the quarantined policy again for its review (the dialog opens with it).
    fn ask_approve(&mut self, ctx: &mut Ctx) -> Vec<Effect> {
        let Some((name, path)) = self.selected_policy().cloned() else { return vec![] };
        if self.reviewing.is_some() || self.applying.is_some() {
            return vec![];
        }
        if self.quarantined().is_none() {
            ctx.log(Level::Info, format!("policy {name} is not quarantined; nothing to approve"));
            return vec![];
        }
        if let Some(why) = ctx.queue.refuse_writes() {
            ctx.log(Level::Warn, format!("sync approve {name}: {why}"));
            return vec![];
        }
        self.reviewing = Some(name.clone());
        ctx.log(Level::Info, format!("reviewing the quarantined sync of {name}: planning it again"));
        vec![Effect::ReviewSync { name, path }]
    }

    /// The confirmation was accepted: run the plan shown.
    fn start_apply(&mut self, ctx: &mut Ctx, name: &str, plan: &PlanHandle, force: bool, operations: usize) -> Vec<Effect> {
        let s = provision::present::plan_summary_short(&plan.0.plan);
        self.applying = Some(name.to_string());
        self.progress = (0, 0, operations);
        self.batched = 0;
        ctx.queue.status = format!("applying {name}");
        ctx.log(Level::Info, format!("applying policy {name}: {s}"));
        vec![Effect::ApplyPlan { name: name.to_string(), plan: plan.clone(), force }]
    }

    /// Progress of a batch: counts for the pane and the status line, one Log line per operation.
    fn queue_event(&mut self, ctx: &mut Ctx, ev: QueueEvent) -> Vec<Effect> {
        match ev {
            QueueEvent::BatchStarted { batch_id, total } => {
                self.batched += total;
                self.progress.2 = self.progress.2.max(self.batched);
                ctx.log(Level::Info, format!("batch {batch_id}: {}", super::draw::counted(total, "operation")));
            }
            QueueEvent::OpStarted { .. } | QueueEvent::OpSending { .. } => return vec![],
            QueueEvent::OpFinished { describe, state, message, .. } => {
                let (level, what) = match state {
                    OpState::Done => (Level::Ok, "done"),
                    OpState::Failed => (Level::Error, "failed"),
                    OpState::Skipped => (Level::Warn, "skipped"),
                    OpState::Cancelled => (Level::Warn, "cancelled"),
                    _ => (Level::Info, state.as_str()),
                };
                if state == OpState::Failed {
                    self.progress.1 += 1;
                } else {
                    self.progress.0 += 1;
                }
                let msg = if message.is_empty() { String::new() } else { format!(": {message}") };
                ctx.log(level, format!("{what}: {describe}{msg}"));
            }
            QueueEvent::BatchFinished { batch_id, counts, elapsed, cancelled } => {
                let n = |s: OpState| counts.get(&s).copied().unwrap_or(0);
                let level = if n(OpState::Failed) > 0 || cancelled { Level::Warn } else { Level::Ok };
                ctx.log(
                    level,
                    format!(
                        "batch {batch_id}: {} done, {} failed, {} skipped, {} cancelled in {:.1}s",
                        n(OpState::Done),
                        n(OpState::Failed),
                        n(OpState::Skipped),
                        n(OpState::Cancelled),
                        elapsed.as_secs_f64()
                    ),
                );
            }
        }
        if let Some(name) = &self.applying {
            let (d, f, t) = self.progress;
            ctx.queue.status = format!("{name} {}/{t}{}", d + f, if f > 0 { format!(" ({f} failed)") } else { String::new() });
        }
        vec![]
    }

    fn apply_done(&mut self, ctx: &mut Ctx, name: String, result: Result<ApplyOutcome, super::msg::ApplyFailed>) -> Vec<Effect> {
        self.applying = None;
        ctx.queue.status = "idle".into();
        // New records are in the report: the Reports pane reads them again when it is opened.
        ctx.note(Note::Reported);
        // What the apply wrote shows in Users and Groups without `r` (issue 12: created users
        // were missing and changed titles stale until a reload).
        if self.progress.2 > 0 {
            ctx.note(Note::UsersChanged);
            ctx.note(Note::GroupsChanged);
        }
        match result {
            Ok(o) => {
                for n in o.notes() {
                    ctx.log(Level::Warn, n.clone());
                }
                if o.complete {
                    ctx.log(Level::Ok, format!("policy {name} applied (run {}; report: scimitar report --batch {})", o.run_id, o.run_id));
                } else {
                    ctx.log(
                        Level::Warn,
                        format!("policy {name} was not fully applied (run {}); see the Log, fix and apply again", o.run_id),
                    );
                }
            }
            Err(e) => ctx.log(Level::Error, format!("applying policy {name} failed: {e}")),
        }
        // What is left to do: the plan again.
        if self.plan.as_ref().is_some_and(|v| v.name == name)
            && let Some(i) = self.list.iter().position(|(n, _)| *n == name)
        {
            self.selected = i;
            return self.compute_selected(ctx);
        }
        vec![]
    }
}

impl Component for PoliciesPane {
    fn title(&self) -> Cow<'static, str> {
        "Policies".into()
    }

    fn keys(&self, v: &View) -> Vec<Offer> {
        let shown = self.plan.is_some();
        let now = |a| match a {
            Act::Open => !self.list.is_empty(),
            Act::Plan => shown && !self.focus_plan,
            Act::List => self.focus_plan,
            // A plan with no changes has nothing to apply: `A` is not offered.
            Act::Apply => {
                self.plan.as_ref().is_some_and(|p| !p.live.0.plan.is_empty()) && self.applying.is_none() && self.computing.is_none()
            }
            Act::Rerun | Act::New => true,
            Act::Edit => !self.list.is_empty(),
            Act::Approve => self.quarantined().is_some() && self.applying.is_none() && self.reviewing.is_none(),
        };
        // (`e` and `n` write policy files here, not Slack: they stay under --read-only.)
        offers_rw(KEYS, now, |a| matches!(a, Act::Apply | Act::Approve), v.queue.read_only())
    }

    fn handle_key(&mut self, k: &KeyEvent, ctx: &mut Ctx) -> Handled {
        if let Some(a) = lookup(KEYS, k) {
            let fx = match a {
                Act::Open => self.open(ctx),
                Act::Plan => {
                    self.focus_plan = self.plan.is_some();
                    vec![]
                }
                Act::List => {
                    self.focus_plan = false;
                    vec![]
                }
                Act::Apply => self.ask_apply(ctx),
                Act::Approve => self.ask_approve(ctx),
                Act::Rerun => self.recompute(ctx),
                Act::Edit => match self.selected_policy() {
                    Some((name, path)) => {
                        ctx.log(Level::Info, format!("editing policy {name} ({})", path.display()));
                        vec![Effect::EditFile { path: path.clone() }]
                    }
                    None => vec![],
                },
                Act::New => {
                    ctx.open(super::policy_new::NewPolicy::default());
                    vec![]
                }
            };
            return Handled::Consumed(fx);
        }
        if let Some(nav) = lookup(NAV, k) {
            let h = list_height(ctx.area);
            self.move_by(nav.delta(h), h);
            return Handled::done();
        }
        Handled::Ignored
    }

    fn update(&mut self, msg: Msg, ctx: &mut Ctx) -> Result<Vec<Effect>, Msg> {
        Ok(match msg {
            Msg::PoliciesListed(list) => self.listed(ctx, list),
            Msg::PlanComputed { generation, name, result } => self.computed(ctx, generation, name, result),
            Msg::ApplyDone { name, result } => self.apply_done(ctx, name, result),
            // Back from the editor: read the list again (a new file is in it), then plan the file.
            Msg::Edited { path, result } => {
                match result {
                    Ok(()) => ctx.log(Level::Info, format!("edited {}; computing its plan again", path.display())),
                    Err(e) => ctx.log(Level::Error, format!("editing {}: {e}", path.display())),
                }
                self.edited = Some(path);
                vec![Effect::ListPolicies]
            }
            Msg::SyncState { name, state } => {
                match state {
                    Some(s) => self.sync.insert(name, *s),
                    None => self.sync.remove(&name),
                };
                vec![]
            }
            Msg::SyncReviewed { name, result } => {
                self.reviewing = None;
                match result {
                    Ok(review) => {
                        let path = self.list.iter().find(|(n, _)| *n == name).map(|(_, p)| p.clone()).unwrap_or_default();
                        ctx.open(super::sync_approve::SyncApprove::new(name, path, review));
                    }
                    Err(e) => ctx.log(Level::Error, format!("sync approve {name}: {e}")),
                }
                vec![]
            }
            Msg::SyncApproved { name, result } => {
                match result {
                    Ok(line) => ctx.log(Level::Ok, format!("policy {name}: sync approved: {line}")),
                    Err(line) => ctx.log(Level::Error, format!("policy {name}: sync approve: {line}")),
                }
                // What it wrote shows without `r`; the plan is what is left.
                ctx.note(Note::UsersChanged);
                ctx.note(Note::GroupsChanged);
                ctx.note(Note::Reported);
                if self.plan.as_ref().is_some_and(|v| v.name == name) { self.compute_selected(ctx) } else { vec![] }
            }
            // A policy apply runs its own batches; the queue view follows the batch it started.
            Msg::Queue(ev) if self.applying.is_some() => {
                let what = format!("policy {}", self.applying.clone().unwrap_or_default());
                ctx.queue.mirror_event(&ev, &what);
                self.queue_event(ctx, ev)
            }
            other => return Err(other),
        })
    }

    fn notify(&mut self, note: &Note, ctx: &mut Ctx) -> Vec<Effect> {
        match note {
            Note::ApplyPolicy { name, plan, force, operations } => self.start_apply(ctx, name, plan, *force, *operations),
            _ => vec![],
        }
    }

    fn entered(&mut self, _ctx: &mut Ctx) -> Vec<Effect> {
        if self.listed { vec![] } else { vec![Effect::ListPolicies] }
    }

    fn busy(&self) -> bool {
        self.computing.is_some() || self.applying.is_some()
    }

    fn signs(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("•", "list: the policy whose plan is shown"),
            ("!", "list: its sync is quarantined (it writes nothing until approved: S)"),
            ("⠋", "list: its plan is being computed"),
            ("+", "plan: a user or group to create, a member to add"),
            ("~", "plan: a user to update, a group to rename"),
            ("↺", "plan: a user to reactivate"),
            ("-", "plan: a user to deactivate, a member to remove"),
            ("!", "plan: reported only, left out by Slack's rules, or a warning"),
        ]
    }

    fn render(&self, f: &mut Frame, r: Rect, v: &View) {
        let list_w = if r.width >= 120 { 32 } else { (r.width / 4).clamp(14, 24) };
        let [lr, pr] = Layout::horizontal([Constraint::Length(list_w), Constraint::Fill(1)]).areas(r);
        self.render_list(f, lr, v);
        self.render_plan(f, pr, v);
    }
}

impl PoliciesPane {
    /// The lines above the plan's rows: the counts, the policy's ceiling, the last error, the
    /// rows left out, the sync state. A line of its own for something else about the policy goes
    /// here (the plan's rows take the rest). Each line is whole (issue 25: the quarantine's line
    /// ended mid-sentence): when they do not fit in `rows` rows at `width`, the short forms are
    /// used (the Log has the whole reason), then whole lines are left out from the end.
    fn plan_header(&self, v: &View, pv: &PlanView, width: u16, rows: usize) -> Vec<Line<'static>> {
        let t = v.theme;
        let build = |short: bool| -> Vec<Line<'static>> {
            let mut lines = vec![Line::styled(format!(" {}", provision::present::plan_summary_short(&pv.live.0.plan)), t.header)];
            if let Some(c) = &pv.ceiling {
                let text = if short { "over the policy's ceiling: A asks for the count".to_string() } else { clean(c) };
                lines.push(Line::styled(format!(" ⚠ {text}"), t.warning));
            }
            if let Some(e) = &self.error {
                lines.push(Line::styled(
                    format!(" {}", if short { truncate(e, width.saturating_sub(2) as usize) } else { e.clone() }),
                    t.error,
                ));
            }
            let left_out = pv.live.0.plan.violations.len();
            if left_out > 0 {
                let n = thousands(left_out as u64);
                let text = if short {
                    format!(" ! {n} left out (listed below)")
                } else {
                    format!(" ! {n} left out: rows that break Slack's rules (listed below)")
                };
                lines.push(Line::styled(text, t.warning));
            }
            if let Some(l) = self.sync_line(v, &pv.name, short) {
                lines.push(l);
            }
            lines
        };
        let full = build(false);
        if super::draw::wrapped_rows(&full, width) <= rows {
            return full;
        }
        let mut out = Vec::new();
        let mut used = 0;
        for l in build(true) {
            let h = super::draw::wrapped_rows(std::slice::from_ref(&l), width);
            if used + h > rows.max(1) {
                break;
            }
            used += h;
            out.push(l);
        }
        out
    }

    /// The policy's sync state in one line: quarantined (why, since when, `S` to review), or the
    /// last run's outcome and time, or never synced. `short`: the quarantine without its reason.
    fn sync_line(&self, v: &View, name: &str, short: bool) -> Option<Line<'static>> {
        let t = v.theme;
        let s = self.sync.get(name)?;
        if let Some(q) = &s.quarantine {
            let mut spans =
                vec![Span::styled(format!(" sync QUARANTINED ({:?}) ", q.kind), t.error), Span::styled("S review and approve", t.accent)];
            if !short {
                spans.push(Span::styled(format!(" · since {}: {}", short_time(q.since), clean(&q.reason)), t.warning));
            }
            return Some(Line::from(spans));
        }
        let text = match &s.last_run {
            Some(r) => {
                let mut x = format!(" sync: last run {} at {}", r.result, short_time(r.finished));
                if let Some(m) = &r.message {
                    x.push_str(&format!(" ({})", truncate(&clean(m), 40)));
                }
                x
            }
            None => " sync: never run".to_string(),
        };
        let st = if s.last_run.as_ref().is_some_and(|r| r.result.is_failure()) { t.warning } else { t.muted };
        Some(Line::styled(text, st))
    }

    fn render_list(&self, f: &mut Frame, r: Rect, v: &View) {
        let t = v.theme;
        let p = self;
        let b = block(
            t,
            Line::from(vec![Span::styled(" Policies ", t.title), Span::styled(format!("{} ", p.list.len()), t.muted)]),
            !p.focus_plan,
        );
        let inner = b.inner(r);
        f.render_widget(b, r);
        if inner.height == 0 {
            return;
        }
        if p.list.is_empty() {
            let dir = v.paths.policies_dir();
            let msg = if p.listed {
                format!("No policies. Put policy files (.toml) in {} (see docs/policies.md).", dir.display())
            } else {
                "reading policies…".into()
            };
            f.render_widget(Paragraph::new(Line::styled(msg, t.muted)).wrap(Wrap { trim: true }), inner);
            return;
        }
        let h = inner.height as usize;
        let off = visible_offset(p.selected, p.offset, h, p.list.len());
        let end = (off + h).min(p.list.len());
        let rows = p.list[off..end].iter().map(|(name, _)| {
            let mark = if p.computing.as_deref() == Some(name.as_str()) {
                v.spinner.to_string()
            } else if p.sync.get(name).is_some_and(|s| s.quarantine.is_some()) {
                // Quarantined: its sync writes nothing until it is approved (S).
                "!".into()
            } else if p.plan.as_ref().is_some_and(|v| v.name == *name) {
                "•".into()
            } else {
                " ".into()
            };
            Row::new(vec![Cell::from(clean(name)), Cell::from(mark)])
        });
        let table = Table::new(rows, [Constraint::Fill(1), Constraint::Length(1)])
            .row_highlight_style(if p.focus_plan { t.muted } else { t.selected })
            .highlight_symbol(MARK)
            .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
        let mut state = TableState::new().with_selected(Some(p.selected - off));
        f.render_stateful_widget(table, inner, &mut state);
    }

    fn render_plan(&self, f: &mut Frame, r: Rect, v: &View) {
        let t = v.theme;
        let p = self;
        let name = p.plan.as_ref().map(|v| v.name.as_str()).or(p.selected_policy().map(|(n, _)| n.as_str())).unwrap_or("");
        let mut title = vec![Span::styled(" Plan ", t.title)];
        if !name.is_empty() {
            title.push(Span::styled(format!("{} ", clean(name)), t.muted));
        }
        let hints = hint_lines(&self.keys(v), &[": command"], r.width.saturating_sub(4) as usize);
        let mut b = block(t, Line::from(title), p.focus_plan);
        if let Some(a) = &p.applying {
            let (done, failed, total) = p.progress;
            b = b.title_top(
                Line::styled(format!(" {} applying {}: {done}/{total}, {failed} failed ", v.spinner, clean(a)), t.accent).right_aligned(),
            );
        } else if let Some(c) = &p.computing {
            b = b.title_top(Line::styled(format!(" {} computing the plan of {} ", v.spinner, clean(c)), t.accent).right_aligned());
        }
        let inner = super::draw::hinted_block(f, r, t, b, hints);
        if inner.height == 0 || inner.width < 4 {
            return;
        }
        let Some(pv) = &p.plan else {
            let msg = match (&p.error, &p.computing) {
                (Some(e), _) => Line::styled(format!("  {e}"), t.error),
                (None, Some(_)) => Line::styled(format!("  {} reading the source and the live directory…", v.spinner), t.muted),
                (None, None) if p.list.is_empty() => Line::styled("  No policy selected.", t.muted),
                (None, None) => Line::styled("  Press Enter to compute the selected policy's plan against the live directory.", t.muted),
            };
            f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), inner);
            return;
        };
        // Wrapped, so the sync state's reason shows whole at 80 columns; at most half the pane.
        // The header is drawn one column in, so a line it wraps stays indented under its first
        // (newcomer run: at 80 columns "members to add" started at column 0).
        let head_w = inner.width.saturating_sub(1);
        let head: Vec<Line<'static>> = self.plan_header(v, pv, head_w, (inner.height / 2) as usize).into_iter().map(unindented).collect();
        let n = (super::draw::wrapped_rows(&head, head_w) as u16).min(inner.height / 2);
        f.render_widget(Paragraph::new(head).wrap(Wrap { trim: false }), Rect { x: inner.x + 1, width: head_w, height: n, ..inner });
        let area = Rect { y: inner.y + n, height: inner.height - n, ..inner };
        if pv.rows.is_empty() {
            f.render_widget(Paragraph::new(Line::styled("  Slack already matches this policy: nothing to do.", t.ok)), area);
            return;
        }
        let h = area.height as usize;
        let off = visible_offset(pv.selected, pv.offset, h, pv.rows.len());
        let end = (off + h).min(pv.rows.len());
        let rows = pv.rows[off..end].iter().map(|row| {
            if row.heading {
                Row::new(vec![Cell::from(Span::styled(row.text.as_str(), t.header.patch(kind_style(t, row.kind))))])
            } else {
                Row::new(vec![Cell::from(Line::from(vec![
                    Span::styled(format!("  {} ", row.kind.sign()), kind_style(t, row.kind)),
                    Span::raw(row.text.as_str()),
                ]))])
            }
        });
        let table = Table::new(rows, [Constraint::Fill(1)])
            .row_highlight_style(if p.focus_plan { t.selected } else { Style::default() })
            .highlight_symbol(MARK)
            .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
        let mut state = TableState::new().with_selected(Some(pv.selected - off));
        f.render_stateful_widget(table, area, &mut state);
    }
}

/// A change's detail with each manager id followed by the name the directory knows for it
/// (`W123 (Maria Harris)`, both sides of `old → new`), as the user detail shows it (issue 25:
/// the plan showed the id only).
fn with_manager_names(detail: &[(String, String)], store: &super::directory::UserStore) -> Vec<(String, String)> {
    let named = |id: &str| match store.index_of(id) {
        Some(i) => format!("{id} ({})", clean(&store.get(i).name())),
        None => id.to_string(),
    };
    detail
        .iter()
        .map(|(k, v)| {
            if k == "manager" || k == "enterprise.manager" {
                (k.clone(), v.split(" → ").map(named).collect::<Vec<_>>().join(" → "))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
}

fn member_rows(kind: Kind, changes: &[MemberChange], out: &mut Vec<ChangeRow>) {
    for mc in changes {
        let group = clean(&mc.group_name);
        let gid = match &mc.group {
            GroupTarget::Existing { id } => clean(id),
            GroupTarget::Pending { key } => format!("(created by this plan, rule {})", clean(key)),
        };
        for m in &mc.members {
            let (who, id) = match m {
                MemberRef::User { id, label } => (clean(label), clean(id)),
                MemberRef::Pending { key, label } => (clean(label), format!("(created by this plan, source key {})", clean(key))),
            };
            let arrow = if kind == Kind::MemberAdd { "→" } else { "←" };
            out.push(ChangeRow {
                kind,
                heading: false,
                text: format!("{who} {arrow} {group}"),
                detail: vec![
                    ("group".into(), group.clone()),
                    ("group id".into(), gid.clone()),
                    ("user".into(), who),
                    ("user id".into(), id),
                ],
            });
        }
    }
}

/// The plan as rows: each kind with changes gets a heading with its count, then its changes.
pub fn plan_rows(plan: &Plan) -> Vec<ChangeRow> {
    let mut out = Vec::new();
    let section = |kind: Kind, items: Vec<ChangeRow>, out: &mut Vec<ChangeRow>| {
        if items.is_empty() {
            return;
        }
        out.push(ChangeRow { kind, heading: true, text: format!("{} ({})", kind.title(), thousands(items.len() as u64)), detail: vec![] });
        out.extend(items);
    };
    let line = |n: usize| ("source line".to_string(), n.to_string());
    section(
        Kind::Create,
        plan.creates
            .iter()
            .map(|c| {
                let mut detail = vec![("label".to_string(), clean(&c.label)), ("source key".into(), clean(&c.key)), line(c.row_line)];
                detail.extend(provision::present::user_detail_rows(&c.user).into_iter().map(|(k, v)| (k, clean(&v))));
                ChangeRow { kind: Kind::Create, heading: false, text: clean(&c.label), detail }
            })
            .collect(),
        &mut out,
    );
    section(
        Kind::Update,
        plan.updates
            .iter()
            .map(|u| {
                let mut detail = vec![("user".to_string(), clean(&u.label)), ("id".into(), clean(&u.id)), line(u.row_line)];
                for ch in &u.changes {
                    let old = ch.old.as_deref().map(clean).unwrap_or_else(|| "(none)".into());
                    let new = ch.new.as_deref().map(clean).unwrap_or_else(|| "(cleared)".into());
                    detail.push((ch.attr.name().to_string(), format!("{old} → {new}")));
                }
                let attrs: Vec<&str> = u.changes.iter().map(|c| c.attr.name()).collect();
                ChangeRow { kind: Kind::Update, heading: false, text: format!("{}: {}", clean(&u.label), attrs.join(", ")), detail }
            })
            .collect(),
        &mut out,
    );
    section(
        Kind::Reactivate,
        plan.reactivations
            .iter()
            .map(|r| ChangeRow {
                kind: Kind::Reactivate,
                heading: false,
                text: clean(&r.label),
                detail: vec![
                    ("user".into(), clean(&r.label)),
                    ("email".into(), clean(&r.email)),
                    ("id".into(), clean(&r.id)),
                    line(r.row_line),
                ],
            })
            .collect(),
        &mut out,
    );
    let deact = |kind: Kind, d: &provision::policy::plan::Deactivate| {
        let mut detail = vec![
            ("user".to_string(), clean(&d.label)),
            ("email".into(), clean(&d.email)),
            ("id".into(), clean(&d.id)),
            ("reason".into(), d.reason.as_str().to_string()),
        ];
        if let Some(n) = d.row_line {
            detail.push(line(n));
        }
        ChangeRow { kind, heading: false, text: format!("{} ({})", clean(&d.label), d.reason.as_str()), detail }
    };
    section(Kind::Deactivate, plan.deactivations.iter().map(|d| deact(Kind::Deactivate, d)).collect(), &mut out);
    section(
        Kind::GroupCreate,
        plan.group_creates
            .iter()
            .map(|g| {
                let mut detail = vec![
                    ("group".to_string(), clean(&g.name)),
                    ("rule".into(), clean(&g.key)),
                    ("members".into(), g.members.len().to_string()),
                ];
                detail.extend(g.members.iter().map(|m| ("member".to_string(), clean(m.label()))));
                ChangeRow {
                    kind: Kind::GroupCreate,
                    heading: false,
                    text: format!("{} ({})", clean(&g.name), super::draw::counted(g.members.len(), "member")),
                    detail,
                }
            })
            .collect(),
        &mut out,
    );
    section(
        Kind::Rename,
        plan.group_renames
            .iter()
            .map(|r| ChangeRow {
                kind: Kind::Rename,
                heading: false,
                text: format!("{} → {}", clean(&r.old), clean(&r.new)),
                detail: vec![
                    ("group id".into(), clean(&r.id)),
                    ("rule".into(), clean(&r.key)),
                    ("name".into(), format!("{} → {}", clean(&r.old), clean(&r.new))),
                ],
            })
            .collect(),
        &mut out,
    );
    let mut adds = Vec::new();
    member_rows(Kind::MemberAdd, &plan.member_adds, &mut adds);
    section(Kind::MemberAdd, adds, &mut out);
    let mut removes = Vec::new();
    member_rows(Kind::MemberRemove, &plan.member_removes, &mut removes);
    section(Kind::MemberRemove, removes, &mut out);
    section(Kind::ReportOnly, plan.reported_only.iter().map(|d| deact(Kind::ReportOnly, d)).collect(), &mut out);
    section(
        Kind::LeftOut,
        plan.violations
            .iter()
            .map(|v| ChangeRow {
                kind: Kind::LeftOut,
                heading: false,
                text: format!("row {} {}: {}", v.row_line, clean(&v.key), clean(&v.message)),
                detail: vec![
                    ("row".into(), v.row_line.to_string()),
                    ("source key".into(), clean(&v.key)),
                    ("rule".into(), v.rule.to_string()),
                    ("why".into(), clean(&v.message)),
                ],
            })
            .collect(),
        &mut out,
    );
    section(
        Kind::Warning,
        plan.warnings
            .iter()
            .map(|w| ChangeRow { kind: Kind::Warning, heading: false, text: clean(w), detail: vec![("warning".into(), clean(w))] })
            .collect(),
        &mut out,
    );
    out
}

/// A header line without its one-space indent (the header's area is indented instead).
fn unindented(mut l: Line<'static>) -> Line<'static> {
    if let Some(first) = l.spans.first_mut()
        && let Some(rest) = first.content.strip_prefix(' ')
    {
        first.content = rest.to_string().into();
    }
    l
}

/// `2026-12-07 21:37 UTC`: a time as the pane shows it (to the minute).
fn short_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{}-{:02}-{:02} {:02}:{:02} UTC", t.year(), t.month() as u8, t.day(), t.hour(), t.minute())
}

/// The plan's rows that fit (for paging), from the pane's rectangle.
/// The policies the pane offers: `policies/*.toml` in the data dir (where `scimitar demo` writes
/// its `demo-hr`), then those in the config dir, then `examples/policy.toml` when the console runs
/// from a checkout (blocking; the executor calls it). The same folder is listed once.
pub fn available_in(data: &std::path::Path, config: &std::path::Path) -> Vec<(String, PathBuf)> {
    let mut list = if data.is_dir() && data != config { provision::policy::live::list_policies_in(data) } else { Vec::new() };
    list.extend(provision::policy::live::list_policies_in(config));
    let example = PathBuf::from("examples/policy.toml");
    if example.is_file() && !list.iter().any(|(_, p)| p.ends_with("examples/policy.toml")) {
        list.push(("examples/policy".into(), example));
    }
    list
}
