//! The event loop: crossterm events, worker results and (only while something spins) a tick,
//! multiplexed with `tokio::select!`. Every input becomes a `Msg` for `App::update`; the effects
//! it returns are run here on tokio tasks, whose results come back through the channel. A frame
//! is drawn only when something changed, at most once per `FRAME`, inside a synchronized update.

use super::app::App;

use super::msg::{Effect, Level, Msg};
use super::queue_runner::{QueueRunner, QueueSetup};
use super::render::render;
use super::term::TerminalGuard;
use crossterm::event::{Event, EventStream};
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use crossterm::{execute, queue};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use scim::ScimClient;
use scim::ratelimit::Endpoint;
use std::io::{IsTerminal, Stdout};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

const FRAME: Duration = Duration::from_millis(12);
const TICK: Duration = Duration::from_millis(100);

/// What the console's workers need besides the client, taken from the [`Environment`]: where
/// the files are and who runs it. (The gate's rules are the queue's, `QueueSetup::safety`: the
/// Policies pane's apply uses the same ones, `--read-only` included.)
///
/// [`Environment`]: provision::env::Environment
#[derive(Clone, Debug)]
pub struct ConsoleEnv {
    pub profile: String,
    pub actor: provision::env::Actor,
    pub engine: provision::queue::EngineConfig,
    pub paths: provision::env::Paths,
    /// The directory cache file (None: caching is off).
    pub cache: Option<std::path::PathBuf>,
    /// The environment itself, for `sync::approve` (None in tests without one: approving says so).
    pub full: Option<std::sync::Arc<provision::env::Environment>>,
    /// Messages from outside the console (the demo's emulator), delivered like the runtime's own.
    pub news: Option<News>,
    /// A batch stopped by quitting can be resumed by a later run (false in the demo).
    pub resumable: bool,
    /// A shared store (`[store] url`, PostgreSQL); `None`: the SQLite file in the data dir.
    pub store: Option<provision::store::Store>,
    /// Why the configured shared store could not be opened (nothing falls back to SQLite then).
    pub store_error: Option<String>,
    /// The org's lease: what a write takes before it journals (`store::lease`).
    pub lease: provision::store::LeaseSpec,
}

/// The receiving end of messages from outside the console ([`ConsoleEnv::news`]): taken once by
/// the event loop.
#[derive(Clone, Default)]
pub struct News(std::sync::Arc<std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<Msg>>>>);

impl News {
    /// A sender for the console's news, and the end to put in [`ConsoleEnv::news`].
    pub fn channel() -> (UnboundedSender<Msg>, News) {
        let (tx, rx) = unbounded_channel();
        (tx, News(std::sync::Arc::new(std::sync::Mutex::new(Some(rx)))))
    }

    fn take(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Msg>> {
        self.0.lock().ok()?.take()
    }
}

impl std::fmt::Debug for News {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("News")
    }
}

impl ConsoleEnv {
    pub fn from_env(env: &provision::env::Environment) -> ConsoleEnv {
        ConsoleEnv {
            profile: env.profile_name.clone(),
            actor: env.actor.clone(),
            engine: provision::queue::EngineConfig::default(),
            paths: env.paths.clone(),
            cache: env.config.ui.cache.unwrap_or(true).then(|| provision::directory::cache_path(&env.paths.data_dir, &env.profile_name)),
            full: None,
            news: None,
            resumable: true,
            store: None,
            store_error: None,
            lease: env.lease_spec().unwrap_or_else(|_| provision::store::LeaseSpec::test(&env.actor.user)),
        }
        .with_store(env)
    }

    fn with_store(mut self, env: &provision::env::Environment) -> ConsoleEnv {
        match env.store_location() {
            Ok(provision::store::Location::Sqlite(_)) => {}
            Ok(provision::store::Location::Postgres(_) | provision::store::Location::SharedSqlite(_)) => match env.store() {
                Ok(s) => self.store = Some(s),
                Err(e) => self.store_error = Some(e.to_string()),
            },
            Err(e) => self.store_error = Some(e.to_string()),
        }
        self
    }

    /// The store: the shared one, or the SQLite file in the data dir (a connection of its own).
    pub fn store(&self) -> Result<provision::store::Store, String> {
        if let Some(s) = &self.store {
            return Ok(s.clone());
        }
        if let Some(e) = &self.store_error {
            return Err(e.clone());
        }
        provision::store::Store::sqlite(&self.paths.database())
            .map_err(|e| format!("cannot open {}: {e:#}", self.paths.database().display()))
    }

    /// Everything under `root` (tests), with the default rules.
    pub fn under(root: &std::path::Path) -> ConsoleEnv {
        ConsoleEnv {
            profile: "console".into(),
            actor: provision::env::Actor::default(),
            engine: provision::queue::EngineConfig::default(),
            paths: provision::env::Paths::under(root),
            cache: None,
            full: None,
            news: None,
            resumable: true,
            store: None,
            store_error: None,
            lease: provision::store::LeaseSpec::test("console"),
        }
    }
}

struct Executor {
    client: ScimClient,
    tx: UnboundedSender<Msg>,
    users: Option<JoinHandle<()>>,
    groups: Option<JoinHandle<()>>,
    queue: QueueRunner,
    env: ConsoleEnv,
    /// The gate's rules (the queue's), for the policy apply.
    safety: provision::queue::Safety,
    /// Cancels the running policy apply when the console closes.
    apply_cancel: Option<provision::queue::Cancel>,
    /// The plan being computed (a newer request replaces it).
    plan: Option<JoinHandle<()>>,
}

impl Executor {
    fn run(&mut self, e: Effect) {
        let tx = self.tx.clone();
        let client = self.client.clone();
        match e {
            Effect::LoadUsers { generation } => {
                if let Some(h) = self.users.take() {
                    h.abort();
                }
                self.users = Some(tokio::spawn(async move {
                    // Read as summaries (the fields the rows keep; `scim::wire`), each page
                    // becomes compact rows at once.
                    let mut pages = std::pin::pin!(client.user_pages_of::<scim::client::UserSummary>(None, 1000));
                    while let Some(p) = pages.next().await {
                        match p {
                            Ok(page) => {
                                let items = super::directory::UserStore::from_summaries(page.items);
                                let msg = Msg::UsersPage { generation, items, total: page.total_results };
                                if tx.send(msg).is_err() {
                                    return;
                                }
                            }
                            Err(e) => {
                                let _ = tx.send(Msg::UsersDone { generation, error: Some(e.to_string()) });
                                return;
                            }
                        }
                    }
                    let _ = tx.send(Msg::UsersDone { generation, error: None });
                }));
            }
            Effect::LoadGroups { generation } => {
                if let Some(h) = self.groups.take() {
                    h.abort();
                }
                self.groups = Some(tokio::spawn(async move {
                    let result = client.all_groups().await.map_err(|e| e.to_string());
                    let _ = tx.send(Msg::GroupsLoaded { generation, result });
                }));
            }
            Effect::LookupEmail { generation, email } => {
                tokio::spawn(async move {
                    let result = client.find_user_by_email(&email).await.map_err(|e| e.to_string());
                    let _ = tx.send(Msg::EmailLookup { generation, email, result });
                });
            }
            Effect::FetchUser { id } => {
                tokio::spawn(async move {
                    let result = client.get_user(&id).await.map_err(|e| e.to_string());
                    let _ = tx.send(Msg::UserFetched { id, result });
                });
            }
            Effect::FetchDetail { id } => {
                tokio::spawn(async move {
                    let result = client.get_user(&id).await.map_err(|e| e.to_string());
                    let _ = tx.send(Msg::DetailFetched { id, result });
                });
            }
            Effect::SaveCache(snap) => {
                let Some(path) = self.env.cache.clone() else { return };
                tokio::task::spawn_blocking(move || {
                    let now = time::OffsetDateTime::now_utc().unix_timestamp();
                    if let Err(e) = snap.0.write_cache(&path, now) {
                        let _ = tx.send(Msg::Log(super::LogEntry::now(Level::Warn, format!("the directory cache was not written: {e}"))));
                    }
                });
            }
            Effect::Debounce { generation, email, after } => {
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let _ = tx.send(Msg::LookupDue { generation, email });
                });
            }
            Effect::Copy(text) => {
                let r = execute!(std::io::stdout(), crossterm::clipboard::CopyToClipboard::to_clipboard_from(text));
                if let Err(e) = r {
                    let _ = tx.send(Msg::Log(super::LogEntry::now(Level::Error, format!("copy failed: {e}"))));
                }
            }
            e @ (Effect::RunBatch { .. }
            | Effect::RunApproval { .. }
            | Effect::CancelBatch { .. }
            | Effect::RetryFailed { .. }
            | Effect::ResumeBatches { .. }
            | Effect::LeaseWait { .. }) => {
                // `x` in the queue view also stops a policy apply it is showing.
                if matches!(e, Effect::CancelBatch { .. })
                    && let Some(c) = &self.apply_cancel
                {
                    c.cancel();
                }
                self.queue.run(e)
            }
            Effect::QueryReports { generation, query } => {
                let db = self.env.paths.database();
                let (shared, error) = (self.env.store.clone(), self.env.store_error.clone());
                tokio::spawn(async move {
                    let result = tokio::task::spawn_blocking(move || match (shared, error) {
                        (Some(s), _) => super::reports::load_from(&s, &query),
                        (None, Some(e)) => Err(e),
                        (None, None) => super::reports::load(&db, &query),
                    })
                    .await
                    .unwrap_or_else(|e| Err(format!("the report query stopped: {e}")));
                    let _ = tx.send(Msg::ReportsLoaded { generation, result });
                });
            }
            Effect::ExportReports { records } => {
                let dir = self.env.paths.exports_dir();
                tokio::spawn(async move {
                    let count = records.len();
                    let result = tokio::task::spawn_blocking(move || {
                        super::reports::export_csv(&records, &super::reports::export_dir(&dir), time::OffsetDateTime::now_utc())
                    })
                    .await
                    .unwrap_or_else(|e| Err(format!("the export stopped: {e}")));
                    let _ = tx.send(Msg::ReportsExported { count, result });
                });
            }
            Effect::ListPolicies => {
                let (data, config) = (self.env.paths.data_dir.join("policies"), self.env.paths.policies_dir());
                tokio::spawn(async move {
                    let list = tokio::task::spawn_blocking(move || super::policies::available_in(&data, &config)).await.unwrap_or_default();
                    let _ = tx.send(Msg::PoliciesListed(list));
                });
            }
            Effect::ComputePlan { generation, name, path } => {
                let state_dir = self.env.paths.state_dir();
                if let Some(h) = self.plan.take() {
                    h.abort();
                }
                // The policy's sync state (quarantined and why, or its last run) goes to the Log.
                sync_state_to_log(&self.env, &name, &tx);
                self.plan = Some(tokio::spawn(async move {
                    let result = provision::policy::live::live_plan(&client, &path, &state_dir)
                        .await
                        .map(|l| super::msg::PlanHandle(std::sync::Arc::new(l)))
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::PlanComputed { generation, name, result });
                }));
            }
            Effect::ApplyPlan { name, plan, force } => {
                let cancel = provision::queue::Cancel::default();
                self.apply_cancel = Some(cancel.clone());
                let env = self.env.clone();
                let safety = self.safety.clone();
                tokio::spawn(async move {
                    let result = apply_plan(client, env, safety, &name, plan, force, tx.clone(), cancel).await;
                    let _ = tx.send(Msg::ApplyDone { name, result });
                });
            }
            Effect::ListBatches => self.queue.list_batches(),
            Effect::ListApprovals { generation, all } => self.queue.list_approvals(generation, all),
            Effect::ProposeBatch { decision, description } => self.queue.propose(decision, description),
            Effect::ScreenApproval { id } => self.queue.screen_approval(id),
            Effect::RejectApproval { id } => self.queue.reject_approval(id),
            Effect::PlanRestore { which } => self.queue.plan_restore(which),
            Effect::ReviewSync { name, path } => {
                let env = self.env.full.clone();
                tokio::spawn(async move {
                    let result = review_sync(env, &path).await;
                    let _ = tx.send(Msg::SyncReviewed { name, result });
                });
            }
            Effect::ApproveSync { name, path, review } => {
                let env = self.env.full.clone();
                let (profile, store) = (self.env.profile.clone(), self.env.store());
                tokio::spawn(async move {
                    let result = approve_sync(env, &path, review, tx.clone()).await;
                    let _ = tx.send(Msg::SyncApproved { name: name.clone(), result });
                    // The pane shows the state the approval left.
                    if let Ok(store) = store
                        && let Ok(state) = tokio::task::spawn_blocking(move || {
                            provision::sync::status(&store, &profile, &name).map(|s| (name, s.map(Box::new)))
                        })
                        .await
                        && let Ok((name, state)) = state
                    {
                        let _ = tx.send(Msg::SyncState { name, state });
                    }
                });
            }
            Effect::Quit | Effect::Suspend | Effect::EditFile { .. } => {}
        }
    }

    fn shutdown(&mut self) {
        self.queue.shutdown();
        if let Some(c) = self.apply_cancel.take() {
            c.cancel();
        }
        for h in [self.users.take(), self.groups.take(), self.plan.take()].into_iter().flatten() {
            h.abort();
        }
    }
}

/// Open the journal, then run the plan with the queue's events forwarded as `Msg::Queue`.
/// `apply_live` gates every pass with `safety` (read-only refuses there too, whatever the pane
/// did); `force` is the admin's typed count past a ceiling.
#[allow(clippy::too_many_arguments)]
async fn apply_plan(
    client: ScimClient,
    env: ConsoleEnv,
    safety: provision::queue::Safety,
    name: &str,
    plan: super::msg::PlanHandle,
    force: bool,
    tx: UnboundedSender<Msg>,
    cancel: provision::queue::Cancel,
) -> Result<provision::policy::apply::ApplyOutcome, super::msg::ApplyFailed> {
    use super::msg::ApplyFailed;
    use provision::queue::{Journal, RunContext};
    // One writer per org: a sync (or another apply, or another admin) writing to this org now
    // refuses this one, naming who.
    let ctx = RunContext::new(&env.profile, &client.host(), &env.actor);
    // Four-eyes: a plan over approval_over is kept as a pending approval (what the run can know
    // up front: pass 1 and the deactivations), nothing sent.
    let preview = provision::policy::apply::preview(&plan.0, &safety);
    if let Some(n) = preview.needs_approval().cloned() {
        let (store, ctx2, org) = (env.store().map_err(ApplyFailed::Store)?, ctx.clone(), env.lease.org.0.clone());
        let description = format!("apply policy {name}");
        // with its pass 2: approving it runs both passes, as this apply would
        let later = Some(provision::policy::apply::Later::of(&plan.0));
        let a = tokio::task::spawn_blocking(move || {
            let p = provision::approval::Proposal { origin: "console".into(), policy_run: None, policy: None, description, later };
            provision::approval::propose(&Journal::on(store, ctx2), Some(&org), &p, &preview)
        })
        .await??;
        return Err(ApplyFailed::HeldForApproval { reason: n, id: a.id });
    }
    let (store, spec, command) = (env.store().map_err(ApplyFailed::Store)?, env.lease.clone(), format!("console policy apply {name}"));
    let (lease, journal) = tokio::task::spawn_blocking(move || {
        let lease = spec.take(&store, &command)?;
        let journal = Journal::on(store, ctx).fenced(lease.fence());
        Ok::<_, provision::store::LeaseError>((lease, journal))
    })
    .await??;
    let apply_env = provision::policy::apply::ApplyEnv {
        journal: std::sync::Arc::new(journal),
        // (the preview was under approval_over: the passes are not held for it again)
        safety: provision::queue::Safety { force: force || safety.force, approval_over: None, ..safety },
        engine: env.engine.clone(),
        origin: "console".into(),
    };
    let (etx, mut erx) = unbounded_channel();
    let forward = tokio::spawn(async move {
        while let Some(ev) = erx.recv().await {
            if tx.send(Msg::Queue(ev)).is_err() {
                return;
            }
        }
    });
    let run_id = provision::queue::journal::new_id("pr");
    let r = provision::policy::apply::apply_live(&client, &plan.0, name, &run_id, apply_env, etx, cancel).await;
    let _ = forward.await;
    drop(lease);
    // Applying a quarantined policy's plan from the pane (shown, confirmed, past its ceiling by
    // the typed count) is its approval: release the sync's quarantine once everything was done.
    if let Ok(o) = &r
        && o.complete
        && let Ok(store) = env.store()
    {
        let _ = provision::sync::release_after_console_apply(&store, &env.profile, name, &env.actor.user);
    }
    Ok(r?)
}

/// The domain's `sync::status` of a policy, for the Policies pane (and one Log line while it is
/// quarantined).
fn sync_state_to_log(env: &ConsoleEnv, name: &str, tx: &UnboundedSender<Msg>) {
    let (db, profile, name, tx) = (env.paths.database(), env.profile.clone(), name.to_string(), tx.clone());
    if env.store.is_none() && !db.exists() {
        let _ = tx.send(Msg::SyncState { name, state: None });
        return;
    }
    let store = env.store();
    tokio::task::spawn_blocking(move || {
        let state = store.ok().and_then(|s| provision::sync::status(&s, &profile, &name).ok().flatten()).map(Box::new);
        if let Some(s) = state.as_ref().filter(|s| s.quarantine.is_some()) {
            let _ = tx.send(Msg::Log(super::LogEntry::now(Level::Warn, format!("policy {name}: {}", s.line()))));
        }
        let _ = tx.send(Msg::SyncState { name, state });
    });
}

/// The job and the status store `sync approve` uses, for a policy file.
fn sync_job(
    env: &provision::env::Environment,
    path: &std::path::Path,
) -> Result<(provision::sync::SyncJob, provision::sync::SyncStore), String> {
    let job =
        provision::sync::SyncJob::new(env, &path.to_string_lossy(), provision::queue::EngineConfig::default(), "console sync approve")
            .map_err(|e| e.to_string())?;
    let store = provision::sync::SyncStore::on(env.store().map_err(|e| e.to_string())?);
    Ok((job, store))
}

/// `sync::review`: the held plan of a quarantined policy, planned again.
async fn review_sync(
    env: Option<std::sync::Arc<provision::env::Environment>>,
    path: &std::path::Path,
) -> Result<super::msg::ReviewHandle, String> {
    let env = env.ok_or("this console has no environment to approve a sync with")?;
    let (job, store) = sync_job(&env, path)?;
    match provision::sync::review(&env, &job, &store).await {
        Ok(Some(r)) => Ok(super::msg::ReviewHandle::new(r)),
        Ok(None) => Err(format!("policy {} is not quarantined; nothing to approve", job.name)),
        Err(e) => Err(e.to_string()),
    }
}

/// `sync::approve` (the same function as `scimitar sync approve`): apply the reviewed plan and
/// release the quarantine; its notes go to the Log.
async fn approve_sync(
    env: Option<std::sync::Arc<provision::env::Environment>>,
    path: &std::path::Path,
    review: super::msg::ReviewHandle,
    tx: UnboundedSender<Msg>,
) -> Result<String, String> {
    let env = env.ok_or("this console has no environment to approve a sync with")?;
    let review = review.take().ok_or("this review was already used; review again")?;
    let (job, store) = sync_job(&env, path)?;
    let (etx, mut erx) = unbounded_channel();
    let forward = tokio::spawn(async move {
        while let Some(ev) = erx.recv().await {
            let line = match ev {
                provision::sync::CycleEvent::Note(n) => super::LogEntry::now(Level::Info, format!("sync approve: {n}")),
                provision::sync::CycleEvent::Queue(provision::queue::QueueEvent::OpFinished { describe, state, message, .. }) => {
                    let level = if state == provision::queue::OpState::Done { Level::Ok } else { Level::Warn };
                    let msg = if message.is_empty() { String::new() } else { format!(": {message}") };
                    super::LogEntry::now(level, format!("sync approve: {describe}: {}{msg}", state.as_str()))
                }
                provision::sync::CycleEvent::Queue(_) => continue,
            };
            if tx.send(Msg::Log(line)).is_err() {
                return;
            }
        }
    });
    let by = format!("{}@{} (console)", env.actor.user, env.actor.host);
    let report = provision::sync::approve(&env, &job, &store, review, &by, &provision::queue::Cancel::default(), Some(etx)).await;
    let _ = forward.await;
    let r = &report.record;
    let mut line = format!("{} ({} done, {} failed)", r.result, r.ops.done, r.ops.failed);
    if let Some(m) = &r.message {
        line.push_str(&format!(": {m}"));
    }
    if r.result.is_success() { Ok(line) } else { Err(line) }
}

/// The console's terminal: crossterm over stdout, colours as the terminal knows them.
type Term = Terminal<CrosstermBackend<super::term::SgrWriter<Stdout>>>;

fn new_terminal(app: &App) -> std::io::Result<Term> {
    let ansi16 = app.caps.depth == super::theme::ColorDepth::Ansi16;
    Terminal::new(CrosstermBackend::new(super::term::SgrWriter::new(std::io::stdout(), ansi16)))
}

fn draw(terminal: &mut Term, app: &App) -> std::io::Result<()> {
    queue!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
    terminal.draw(|f| render(app, f))?;
    execute!(terminal.backend_mut(), EndSynchronizedUpdate)?;
    Ok(())
}

/// Open the console on a client, with files under `root`; returns the exit code.
/// (The action queue journals in memory; `run_with_queue` takes a real journal and rules.)
/// Follow the store's changes (`Store::watch`: PostgreSQL's LISTEN, SQLite's `data_version`)
/// and send the records appended since the last look as `Msg::StoreNews`. The cursor starts at
/// the newest record when the console opens.
pub fn watch_store(store: provision::store::Store, tx: UnboundedSender<Msg>) -> Option<provision::store::Watch> {
    let (wake, mut woken) = unbounded_channel::<()>();
    let watch = match store.watch(move || {
        let _ = wake.send(());
    }) {
        Ok(w) => w,
        Err(e) => {
            let _ = tx.send(Msg::Log(super::LogEntry::now(Level::Warn, format!("other writers' operations show on refresh only: {e}"))));
            return None;
        }
    };
    tokio::spawn(async move {
        let reports = move || provision::report::ReportStore::on(store.clone());
        let r = reports();
        let mut seen = tokio::task::spawn_blocking(move || r.head_seq().unwrap_or(0)).await.unwrap_or(0);
        while woken.recv().await.is_some() {
            while woken.try_recv().is_ok() {}
            loop {
                let r = reports();
                let news = tokio::task::spawn_blocking(move || r.after(seen, 500)).await;
                let Ok(Ok(news)) = news else { break };
                let Some(last) = news.last() else { break };
                seen = last.seq;
                let full = news.len() == 500;
                if tx.send(Msg::StoreNews(news)).is_err() {
                    return;
                }
                if !full {
                    break;
                }
            }
        }
    });
    Some(watch)
}

pub async fn run_with_client(
    client: ScimClient,
    ui: super::UiOptions,
    root: &std::path::Path,
) -> Result<super::Ended, super::ConsoleError> {
    let setup = QueueSetup::in_memory("console", &client.host());
    run_with_queue(client, ui, Vec::new(), setup, ConsoleEnv::under(root)).await
}

/// As `run_with_client`, with lines for the Log pane to start with, the action queue's setup
/// (journal, safety rules) and the console's environment (report database, policy state).
pub async fn run_with_queue(
    client: ScimClient,
    ui: super::UiOptions,
    intro: Vec<String>,
    setup: QueueSetup,
    env: ConsoleEnv,
) -> Result<super::Ended, super::ConsoleError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(super::ConsoleError::NotATerminal);
    }
    let (themes, theme, theme_err) =
        super::choose_theme(&env.paths.themes_dir(), ui.theme.as_deref(), setup.theme.as_deref(), ui.no_color, ui.caps);
    let mut app = App::new(client.host(), client.version().label(), themes, theme);
    app.caps = ui.caps;
    app.home = ui.home;
    app.editor = ui.editor;
    app.resumable = env.resumable;
    app.paths = env.paths.clone();
    for line in intro {
        app.push_log(Level::Info, line);
    }
    if let Some(e) = theme_err {
        app.push_log(Level::Error, e);
    }
    app.queue.safety = setup.safety;
    app.queue.confirm_threshold = setup.confirm_threshold;
    let journal = match setup.journal {
        Ok(j) => Some(j),
        Err(e) => {
            app.push_log(Level::Error, format!("the action queue is unavailable: {e}"));
            app.queue.unavailable = Some(e);
            None
        }
    };
    Ok(event_loop(client, app, journal, env).await?)
}

async fn event_loop(
    client: ScimClient,
    mut app: App,
    journal: Option<std::sync::Arc<provision::queue::Journal>>,
    env: ConsoleEnv,
) -> std::io::Result<super::Ended> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let guard = TerminalGuard::enter()?;
    let mut terminal = new_terminal(&app)?;
    let size = terminal.size()?;
    app.update(Msg::Resize(size.width, size.height));
    let (tx, mut rx) = unbounded_channel();
    if let Some(mut news) = env.news.as_ref().and_then(News::take) {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(m) = news.recv().await {
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
    }
    let safety = app.queue.safety.clone();
    // Live across consoles: what others write to the store comes in as `Msg::StoreNews`.
    let _watch = journal.as_ref().and_then(|j| watch_store(j.store().clone(), tx.clone()));
    let queue = QueueRunner::new(client.clone(), journal, safety.clone(), tx.clone())
        .with_lease(env.lease.clone())
        .with_breaker(env.full.as_ref().and_then(|e| provision::sync::BreakerConfig::from_config(&e.config.sync).ok()).unwrap_or_default());
    match queue.unfinished() {
        Ok(offers) => {
            app.update(Msg::Unfinished(offers));
        }
        Err(e) => app.push_log(Level::Error, format!("cannot read the journal's unfinished batches: {e}")),
    }
    let mut exec = Executor { client: client.clone(), tx, users: None, groups: None, queue, env, safety, apply_cancel: None, plan: None };
    app.update(Msg::Budget(client.budget_remaining(Endpoint::ListUsers)));
    // The cached directory is on the first frame; the refresh starts right after it.
    if let Some(path) = exec.env.cache.clone() {
        app.dir.caching = true;
        match provision::directory::UserTable::read_cache(&path) {
            Ok((table, fetched_at)) => {
                app.update(Msg::CacheLoaded { table, fetched_at });
            }
            Err(e) if e.is_missing() => {}
            Err(e) => app.push_log(Level::Warn, format!("the directory cache is not used: {e}")),
        }
    }
    // The first frame goes out before any request does.
    draw(&mut terminal, &app)?;
    let mut last_draw = Instant::now();
    for e in app.start() {
        exec.run(e);
    }
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dirty = true;
    let mut ended = super::Ended::Quit;
    loop {
        if app.quit {
            break;
        }
        if dirty && last_draw.elapsed() >= FRAME {
            draw(&mut terminal, &app)?;
            last_draw = Instant::now();
            dirty = false;
        }
        let busy = app.busy();
        let draw_at = tokio::time::Instant::from_std(last_draw + FRAME);
        let mut msgs = Vec::new();
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) => msgs.push(Msg::Key(k)),
                Some(Ok(Event::Resize(w, h))) => {
                    terminal.autoresize()?;
                    msgs.push(Msg::Resize(w, h));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => break,
            },
            Some(m) = rx.recv() => {
                msgs.push(m);
                while let Ok(m) = rx.try_recv() {
                    msgs.push(m);
                }
                msgs.push(Msg::Budget(client.budget_remaining(Endpoint::ListUsers)));
            }
            _ = tick.tick(), if busy => msgs.push(Msg::Tick),
            _ = tokio::time::sleep_until(draw_at), if dirty => {}
            _ = sigterm.recv() => { ended = super::Ended::Signal(15); break; }
            _ = sighup.recv() => { ended = super::Ended::Signal(1); break; }
        }
        let mut suspend = false;
        let mut edit = None;
        for m in msgs {
            dirty = true;
            for e in app.update(m) {
                if e == Effect::Suspend {
                    suspend = true;
                } else if let Effect::EditFile { path } = e {
                    edit = Some(path);
                } else {
                    exec.run(e);
                }
            }
        }
        if suspend && !super::term::job_control() {
            // Nothing would stop (an orphaned process group drops SIGTSTP): say so, no flicker.
            app.push_log(
                Level::Warn,
                "Ctrl-z: no job control here (no shell to resume the console, as over `ssh host scimitar`); nothing was suspended — q quits",
            );
            dirty = true;
        } else if suspend {
            super::term::suspend()?;
            // Resumed: the screen is the shell's, and the size may have changed meanwhile. A new
            // terminal draws everything again (`clear` asks the terminal where its cursor is,
            // which not every terminal answers: the console stopped with a terminal error).
            crossterm::execute!(std::io::stdout(), crossterm::terminal::Clear(crossterm::terminal::ClearType::All))?;
            terminal = new_terminal(&app)?;
            let size = terminal.size()?;
            app.update(Msg::Resize(size.width, size.height));
            app.push_log(Level::Info, "resumed");
            dirty = true;
        }
        if let Some(path) = edit {
            // The editor reads the keys: stop reading them (dropping the stream ends its reader
            // thread; a new one reads nothing until it is polled).
            events = EventStream::new();
            let result = super::term::outside(|| super::term::run_editor(app.editor.as_deref(), &path))?;
            // A new terminal draws everything again (`clear` would ask the terminal where its
            // cursor is, which not every terminal answers).
            crossterm::execute!(std::io::stdout(), crossterm::terminal::Clear(crossterm::terminal::ClearType::All))?;
            terminal = new_terminal(&app)?;
            let size = terminal.size()?;
            app.update(Msg::Resize(size.width, size.height));
            for e in app.update(Msg::Edited { path, result }) {
                exec.run(e);
            }
            dirty = true;
        }
    }
    exec.shutdown();
    drop(terminal);
    drop(guard);
    Ok(ended)
}
