//! Four-eyes in the console (issue 21, item 6): a batch over `approval_over` becomes a pending
//! approval instead of running; the Approvals view (`P`) lists, shows, approves (re-screened,
//! through the queue) and rejects; and one run of the real runner against the emulator where the
//! proposer's console is refused and another account's console approves and writes.

use super::app::App;

use super::approvals::Approvals;
use super::confirm::Confirm;
use super::msg::{Effect, Msg};
use super::tests::{app_with, screen, titles};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use provision::approval::{Approval, Proposal, State};
use provision::queue::{Action, Journal, Knowledge, QueueEvent, RunContext, Safety, Target};
use provision::store::Store;
use std::time::Duration;

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ch(app: &mut App, c: char) -> Vec<Effect> {
    key(app, KeyCode::Char(c))
}

fn last_log(app: &App) -> String {
    app.log.back().map(|e| e.text.clone()).unwrap_or_default()
}

fn deactivations(n: usize) -> Vec<Action> {
    (0..n)
        .map(|k| Action::Deactivate {
            target: Target { id: Some(format!("W{k:08}")), email: Some(format!("leaver{k}@example.com")), ..Default::default() },
        })
        .collect()
}

/// Approvals as the store would hand them (fixed times and ids, for snapshots too).
pub fn fixed_approvals() -> Vec<Approval> {
    let store = Store::in_memory().unwrap();
    let ann = Journal::on(
        store.clone(),
        RunContext::new("acme", "api.slack.test", &provision::env::Actor { user: "ann".into(), host: "jump1".into() }),
    );
    let safety = Safety { approval_over: Some(3), ..Safety::default() };
    let mut out = Vec::new();
    for (n, what) in [(12, "deactivate users"), (5, "apply policy hr (5 to deactivate)")] {
        let d = provision::queue::gate(&safety, deactivations(n), &Knowledge::default());
        let p = Proposal { origin: "headless".into(), policy_run: None, policy: None, description: what.into(), later: None };
        let mut a = provision::approval::propose(&ann, Some("acme"), &p, &d).unwrap();
        a.id = format!("ap-20261208-0100{:02}-0000000{n:x}", n);
        a.created = format!("2026-12-08 01:00:{n:02}Z");
        out.push(a);
    }
    out
}

/// The console with the Approvals view open and `fixed_approvals` loaded.
pub fn approvals_app() -> App {
    let mut app = app_with(30);
    let fx = ch(&mut app, 'P');
    assert_eq!(fx, vec![Effect::ListApprovals { generation: 1, all: false }], "P opens the view and reads the pending ones");
    app.update(Msg::ApprovalsLoaded { generation: 1, result: Ok(fixed_approvals()) });
    app
}

#[test]
fn a_console_batch_over_approval_over_becomes_a_pending_approval_not_a_run() {
    let mut app = app_with(30);
    app.queue.safety.approval_over = Some(2);
    // Three active users marked, d: the dialog says it waits for another account.
    for _ in 0..3 {
        ch(&mut app, ' ');
    }
    ch(&mut app, 'd');
    let c = app.overlay::<Confirm>().cloned().unwrap_or_else(|| panic!("{:?}", titles(&app)));
    assert!(c.proposes());
    let text: Vec<String> = c.lines().into_iter().map(|(_, s)| s).collect();
    assert!(text.iter().any(|l| l.contains("FOUR EYES") && l.contains("3 users") && l.contains("approval_over = 2")), "{text:?}");
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("FOUR EYES") && s.contains("propose"), "the prompt and its key at 80x24:\n{s}");
    // y: proposed, never run (no RunBatch, no queue view).
    let fx = ch(&mut app, 'y');
    assert!(
        matches!(&fx[..], [Effect::ProposeBatch { decision, description }] if decision.runnable().len() == 3 && description == "deactivate 3 users"),
        "{fx:?}"
    );
    assert!(app.overlays.is_empty(), "{:?}", titles(&app));
    assert!(last_log(&app).contains("proposing it for another account's approval"), "{}", last_log(&app));
    // The store kept it: the Log names its id and how to approve it.
    let a = fixed_approvals().remove(0);
    app.update(Msg::ApprovalProposed(Ok(a.clone())));
    assert!(
        last_log(&app).contains(&format!("held for approval as {}", a.id)) && last_log(&app).contains("nothing was sent"),
        "{}",
        last_log(&app)
    );
    // Under the threshold it runs as ever.
    ch(&mut app, 'j');
    ch(&mut app, ' ');
    ch(&mut app, 'd');
    let fx = ch(&mut app, 'y');
    assert!(matches!(&fx[..], [Effect::RunBatch { .. }]), "{fx:?}");
}

#[test]
fn the_approvals_view_shows_approves_and_rejects() {
    let mut app = approvals_app();
    let v = app.overlay::<Approvals>().unwrap();
    assert_eq!(v.list.len(), 2);
    let id = v.list[0].id.clone();
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Approvals") && s.contains("ann@jump1") && s.contains("deactivate users"), "{s}");
    assert!(s.contains("approve") && s.contains("reject"), "the hint bar lists its keys:\n{s}");
    // Enter shows the plan and the gate's screening the proposer saw.
    key(&mut app, KeyCode::Enter);
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("gate, as the proposer saw it: 12 to deactivate") && s.contains("leaver0@example.com"), "{s}");
    // a: screened again against the server (the runtime checks the four-eyes rule first).
    let fx = ch(&mut app, 'a');
    assert_eq!(fx, vec![Effect::ScreenApproval { id: id.clone() }]);
    // Refused (one's own): said, nothing opens.
    app.update(Msg::ApprovalScreened {
        id: id.clone(),
        result: Err(format!(
            "approval {id} was proposed by ann@jump1: you (ann@jump1) cannot approve your own batch; another account must approve it"
        )),
    });
    assert!(app.overlay::<Confirm>().is_none());
    assert!(last_log(&app).contains("cannot approve your own batch"), "{}", last_log(&app));
    // Another account: the confirmation shows the decision now; y runs it as that approval.
    ch(&mut app, 'a');
    let a = fixed_approvals().remove(0);
    let now = provision::queue::gate(&Safety { approval_over: Some(3), ..Safety::default() }, deactivations(12), &Knowledge::default());
    app.update(Msg::ApprovalScreened { id: id.clone(), result: Ok((a, now)) });
    let c = app.overlay::<Confirm>().cloned().expect("the approval's confirmation");
    assert_eq!(c.approval.as_deref(), Some(a_id(&c)));
    assert!(!c.proposes(), "approving runs it, it does not propose it again");
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Enter/y approve") && s.contains("12 to deactivate"), "the decision now and the key at 80x24: {s}");
    let fx = ch(&mut app, 'y');
    assert!(matches!(&fx[..], [Effect::RunApproval { id: x, decision, .. }] if *x == id && decision.runnable().len() == 12), "{fx:?}");
    // The queue view runs it over the Approvals view; Esc goes back to the list.
    assert!(app.top::<super::queue_view::QueueView>().is_some(), "{:?}", titles(&app));
    key(&mut app, KeyCode::Esc);
    assert!(app.top::<Approvals>().is_some(), "{:?}", titles(&app));
    // x then y rejects the other one; n keeps it.
    app.update(Msg::ApprovalsLoaded { generation: 1, result: Ok(fixed_approvals()) });
    ch(&mut app, 'j');
    assert!(ch(&mut app, 'x').is_empty());
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("y rejects · n/Esc keeps"), "the question whole at 80 columns: {s}");
    assert!(ch(&mut app, 'n').is_empty());
    ch(&mut app, 'x');
    let fx = ch(&mut app, 'y');
    assert!(matches!(&fx[..], [Effect::RejectApproval { id }] if id.ends_with('5')), "{fx:?}");
    // Esc closes it.
    key(&mut app, KeyCode::Esc);
    assert!(app.overlay::<Approvals>().is_none());
}

fn a_id(c: &Confirm) -> &str {
    c.approval.as_deref().unwrap_or("")
}

/// The real runner against the emulator, two accounts on one store: the proposer's console is
/// refused its own approval; another account's console approves it, and the writes reach the
/// server once each, the records naming both.
#[tokio::test]
async fn another_accounts_console_approves_and_the_writes_reach_the_server() {
    use emulator::{Emulator, EmulatorConfig};
    use scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret};
    let emu = Emulator::start(
        EmulatorConfig { users: 30, groups: 2, seed: 21, token: "xoxp-4eyes".into(), ..Default::default() },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    let client = ScimClient::new(cc).unwrap();
    let (owner, bots) = (emu.primary_owner_id(), emu.bot_ids());
    let three: Vec<scim::User> = client
        .all_users(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.is_active() && u.id() != owner && !bots.contains(&u.id().to_string()))
        .take(3)
        .collect();
    let store = Store::in_memory().unwrap();
    let as_ = |user: &str| {
        std::sync::Arc::new(Journal::on(
            store.clone(),
            RunContext::new("acme", &client.host(), &provision::env::Actor { user: user.into(), host: "jump".into() }),
        ))
    };
    let safety = Safety { approval_over: Some(2), ..Safety::default() };
    let actions: Vec<Action> = three.iter().map(|u| Action::Deactivate { target: Target::of_user(u) }).collect();
    let d = provision::queue::gate(&safety, actions, &Knowledge::from_users(three.iter()));
    let p = Proposal { origin: "console".into(), policy_run: None, policy: None, description: "deactivate 3 users".into(), later: None };
    let a = provision::approval::propose(&as_("ann"), None, &p, &d).unwrap();
    emu.reset_stats();
    // ann's console: refused.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = super::queue_runner::QueueRunner::new(client.clone(), Some(as_("ann")), safety.clone(), tx);
    runner.screen_approval(a.id.clone());
    let m = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
    let Msg::ApprovalScreened { result: Err(e), .. } = m else { panic!("{m:?}") };
    assert!(e.contains("cannot approve your own batch"), "{e}");
    // bob's console: the view, a, the confirmation, y; the batch runs.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut runner = super::queue_runner::QueueRunner::new(client.clone(), Some(as_("bob")), safety.clone(), tx);
    let mut app = app_with(0);
    app.queue.safety = safety.clone();
    ch(&mut app, 'P');
    runner.list_approvals(1, false);
    let m = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
    app.update(m);
    assert_eq!(app.overlay::<Approvals>().unwrap().list.len(), 1);
    let fx = ch(&mut app, 'a');
    let [Effect::ScreenApproval { id }] = &fx[..] else { panic!("{fx:?}") };
    runner.screen_approval(id.clone());
    let m = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
    app.update(m);
    assert_eq!(emu.stats().writes(), 0, "nothing written before the approver confirms");
    let fx = ch(&mut app, 'y');
    let [e @ Effect::RunApproval { .. }] = &fx[..] else { panic!("{fx:?} {:?}", titles(&app)) };
    runner.run(e.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut decided = None;
    loop {
        let m = tokio::time::timeout_at(deadline, rx.recv()).await.expect("the batch finishes").expect("channel open");
        assert!(!matches!(m, Msg::QueueFailed(_)), "{m:?}");
        if let Msg::ApprovalDecided(r) = &m {
            decided = Some(r.clone());
        }
        let finished = matches!(m, Msg::Queue(QueueEvent::BatchFinished { .. }));
        app.update(m);
        if finished && decided.is_some() {
            break;
        }
        if finished {
            // the approval's `run` record follows the batch's end
            let m = tokio::time::timeout_at(deadline, rx.recv()).await.unwrap().unwrap();
            if let Msg::ApprovalDecided(r) = &m {
                decided = Some(r.clone());
            }
            app.update(m);
            break;
        }
    }
    assert!(decided.expect("the run is said").unwrap().contains("run, 3 done"), "{:?}", app.log);
    assert_eq!(emu.stats().writes(), 3, "one write per user, counted at the server");
    for u in &three {
        assert_eq!(client.get_user(u.id()).await.unwrap().active, Some(false));
    }
    let a = provision::approval::get(&store, &a.id).unwrap();
    assert_eq!((a.state, a.decided_by.as_deref()), (State::Run, Some("bob@jump")));
    let reports = provision::report::ReportStore::on(store);
    let recs = reports.query(&provision::report::ReportQuery::default()).unwrap();
    let ops: Vec<_> = recs.iter().filter(|r| r.record.action == "deactivate").collect();
    assert_eq!(ops.len(), 3);
    assert!(ops.iter().all(|r| r.record.proposed_by.as_deref() == Some("ann@jump") && r.record.approved_by.as_deref() == Some("bob@jump")));
    assert!(reports.verify().unwrap().ok());
    emu.shutdown().await;
}

/// Live across consoles (item 7): records another writer appended (`Msg::StoreNews`, as the
/// runtime's store watch hands them over) are Log lines naming who did what, and the Users rows
/// they deactivated follow, with no key pressed; the console's own running batch is not repeated.
#[test]
fn others_operations_show_in_the_log_and_the_rows_as_they_arrive() {
    use provision::report::{OperationRecord, Outcome, StoredRecord};
    let mut app = app_with(30);
    let idx = app.dir.store.index_of("W00000001").unwrap();
    assert!(app.dir.store.get(idx).active());
    let now = time::OffsetDateTime::now_utc();
    let rec = |seq: i64, action: &str, id: &str, email: &str, batch: &str| StoredRecord {
        seq,
        record: OperationRecord {
            op_id: format!("{batch}-0000{seq}"),
            batch_id: Some(batch.into()),
            policy_run: None,
            started_at: now,
            finished_at: now,
            profile: "acme".into(),
            host: "api.slack.test".into(),
            action: action.into(),
            target_id: Some(id.into()),
            target_email: Some(email.into()),
            target_user_name: None,
            target_display: None,
            outcome: Outcome::Done,
            error_code: None,
            error_message: None,
            http_status: None,
            retries: 0,
            duration_ms: 3,
            os_user: "bob".into(),
            os_host: "jump2".into(),
            detail: None,
            db_role: None,
            proposed_by: None,
            approved_by: None,
        },
        prev_hash: String::new(),
        hash: String::new(),
    };
    let email = app.dir.store.get(idx).email().to_string();
    app.update(Msg::StoreNews(vec![rec(7, "deactivate", "W00000001", &email, "b-others")]));
    assert_eq!(last_log(&app), format!("bob@jump2: deactivate {email}: done (b-others)"));
    assert!(!app.dir.store.get(idx).active(), "the row follows");
    // This console's own running batch: the queue logs it already.
    super::tests::running_batch(&mut app);
    let own = app.queue.batch.as_ref().unwrap().batch_id.clone();
    let before = app.log.len();
    app.update(Msg::StoreNews(vec![rec(8, "deactivate", "W00000002", "x@example.com", &own)]));
    assert_eq!(app.log.len(), before, "not repeated");
}

/// The Approvals view follows the store live (issue 21, item 7 for approvals): with the view
/// open, another account's proposal and another's rejection reach it through the console's real
/// store watch (`runtime::watch_store` on an SQLite store, `data_version`), and it reads the list
/// again with no key pressed: its rows and its pending count follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_approvals_view_follows_other_accounts_as_they_propose_and_reject() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::sqlite(&dir.path().join("team.db")).unwrap();
    let as_ = |user: &str| {
        Journal::on(
            store.clone(),
            RunContext::new("acme", "api.slack.test", &provision::env::Actor { user: user.into(), host: "jump".into() }),
        )
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _watch = super::runtime::watch_store(store.clone(), tx).expect("the store can be watched");
    let mut app = app_with(0);
    // What the runtime does with `Effect::ListApprovals` (`QueueRunner::list_approvals`).
    let serve = |app: &mut App, fx: Vec<Effect>| {
        for e in fx {
            if let Effect::ListApprovals { generation, all } = e {
                let result = provision::approval::list(&store, all).map_err(|e| e.to_string());
                app.update(Msg::ApprovalsLoaded { generation, result });
            }
        }
    };
    let fx = ch(&mut app, 'P');
    serve(&mut app, fx);
    assert!(screen(&mut app, 80, 24).contains("0 pending"), "{}", screen(&mut app, 80, 24));
    // Until the watch says the store changed: what the app asks for then.
    async fn next_news(app: &mut App, rx: &mut tokio::sync::mpsc::UnboundedReceiver<Msg>) -> Vec<Effect> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let m = tokio::time::timeout_at(deadline, rx.recv()).await.expect("the watch reports the change").expect("open");
            if matches!(m, Msg::StoreNews(_)) {
                return app.update(m);
            }
            app.update(m);
        }
    }
    // ann (another console, another account) proposes 5 deactivations.
    let safety = Safety { approval_over: Some(3), ..Safety::default() };
    let d = provision::queue::gate(&safety, deactivations(5), &Knowledge::default());
    let p = Proposal { origin: "console".into(), policy_run: None, policy: None, description: "deactivate 5 users".into(), later: None };
    let a = provision::approval::propose(&as_("ann"), Some("acme"), &p, &d).unwrap();
    let fx = next_news(&mut app, &mut rx).await;
    assert!(fx.iter().any(|e| matches!(e, Effect::ListApprovals { all: false, .. })), "the view reads them again: {fx:?}");
    serve(&mut app, fx);
    let view = app.overlay::<Approvals>().unwrap();
    assert_eq!(view.list.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(), [a.id.as_str()]);
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("1 pending") && s.contains("deactivate 5 users"), "{s}");
    assert!(app.log.iter().any(|e| e.text.contains("ann@jump: propose_batch")), "and the Log names who: {:?}", app.log);
    // bob rejects it elsewhere: it leaves the pending list.
    provision::approval::reject(&as_("bob"), &a.id, Some("not today")).unwrap();
    let fx = next_news(&mut app, &mut rx).await;
    serve(&mut app, fx);
    assert!(app.overlay::<Approvals>().unwrap().list.is_empty());
    assert!(screen(&mut app, 80, 24).contains("0 pending"));
    // Others' plain operations do not read the approvals again.
    let fx = app.update(Msg::StoreNews(Vec::new()));
    assert!(!fx.iter().any(|e| matches!(e, Effect::ListApprovals { .. })), "{fx:?}");
}

/// Approving a policy apply's approval: the confirmation counts its second pass (the memberships
/// of the users its first pass creates), which the approved run does too (`approved::run`).
#[test]
fn the_approvers_confirmation_counts_a_policy_applys_second_pass() {
    use provision::policy::apply::{Deferred, Later};
    use provision::policy::plan::{GroupTarget, MemberRef};
    let mut app = approvals_app();
    let mut a = fixed_approvals().remove(1);
    let member = |k: &str| MemberRef::Pending { key: k.into(), label: k.into() };
    let add =
        |g: &str| Deferred { group: GroupTarget::Existing { id: g.into() }, group_name: g.into(), members: vec![member("e1")], add: true };
    a.screening.later = Some(Later { deferred: vec![add("S1"), add("S2")], ..Later::default() });
    assert_eq!(a.later_operations(), Some(2));
    let d = provision::queue::gate(&Safety::default(), a.actions.clone(), &Knowledge::default());
    app.update(Msg::ApprovalScreened { id: a.id.clone(), result: Ok((a, d)) });
    let c = app.overlay::<Confirm>().cloned().unwrap_or_else(|| panic!("{:?}", titles(&app)));
    let text: Vec<String> = c.lines().into_iter().map(|(_, s)| s).collect();
    assert!(text.iter().any(|l| l == "Then 2 more in a second pass, once the new users exist."), "{text:?}");
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Then 2 more in a second pass"), "at 80x24:\n{s}");
}
