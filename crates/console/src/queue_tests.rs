//! The action queue in the console: marking, the confirmation, the effects a confirmed or
//! cancelled dialog emits, the queue view (TestBackend at 80x24 and 200x50), cancel, retry,
//! the Log pane and the resume offer. Plus one run of the real runner against the emulator.

use super::app::App;

use super::confirm::Confirm;
use super::msg::{BatchLoad, QueueOp, ResumeOffer};
use super::msg::{Effect, Level, Msg};
use super::prompt::Prompt;
use super::queue_view::QueueView;
use super::resume::Resume;
use super::tests::{app_with, deact, finished, groups, id, loaded_batch, op, running_batch, screen, started, titles, users};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use provision::queue::{Action, Knowledge, OpState, QueueEvent, Safety, Target};
use std::collections::HashMap;
use std::time::Duration;

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ch(app: &mut App, c: char) -> Vec<Effect> {
    key(app, KeyCode::Char(c))
}

fn typ(app: &mut App, s: &str) -> Vec<Effect> {
    s.chars().flat_map(|c| ch(app, c)).collect()
}

fn marked(app: &App) -> Vec<String> {
    let mut v: Vec<String> = app.dir.marks.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn email(app: &App, i: usize) -> String {
    app.dir.store.get(app.dir.store.index_of(&id(i)).unwrap()).email().to_string()
}

/// The effect a confirmed dialog emits when the gate skips nothing.
fn batch(actions: Vec<Action>, description: &str) -> Effect {
    Effect::RunBatch {
        decision: provision::queue::gate(&Safety::default(), actions, &Knowledge::default()),
        description: description.into(),
    }
}

fn confirm(app: &App) -> Confirm {
    app.overlay::<Confirm>().cloned().unwrap_or_else(|| panic!("no confirmation: {:?}", titles(app)))
}

fn last_log(app: &App) -> String {
    app.log.back().map(|e| e.text.clone()).unwrap_or_default()
}

#[test]
fn space_v_star_u_and_esc_mark_and_clear() {
    let mut app = app_with(200);
    // Space toggles and moves down.
    ch(&mut app, ' ');
    ch(&mut app, ' ');
    assert_eq!(marked(&app), vec![id(0), id(1)]);
    assert_eq!(users(&app).view.selected, 2);
    key(&mut app, KeyCode::Char('k'));
    ch(&mut app, ' ');
    assert_eq!(marked(&app), vec![id(0)], "Space on a marked row unmarks it");
    // V starts a range, V again marks from the anchor to the cursor (either direction).
    typ(&mut app, "u");
    assert!(app.dir.marks.is_empty());
    typ(&mut app, "jjjjj"); // row 7
    ch(&mut app, 'V');
    assert!(app.dir.marks.is_empty(), "the first V only sets the anchor");
    typ(&mut app, "kkk"); // row 4
    ch(&mut app, 'V');
    assert_eq!(marked(&app), (4..=7).map(id).collect::<Vec<_>>());
    // * marks every row matching the filter, and only those.
    ch(&mut app, 'u');
    ch(&mut app, '/');
    typ(&mut app, "hana.");
    key(&mut app, KeyCode::Enter);
    let matching: Vec<String> = users(&app).view.filtered.iter().map(|&i| app.dir.store.get(i).id().to_string()).collect();
    assert!(matching.len() > 3 && matching.len() < 200);
    ch(&mut app, '*');
    let mut want = matching.clone();
    want.sort();
    assert_eq!(marked(&app), want);
    // The mark count is on the status line and the marked rows carry a marker.
    let s = screen(&mut app, 200, 50);
    assert!(s.contains(&format!("marked {}", matching.len())), "{s}");
    assert!(s.contains(&format!("{} marked", matching.len())), "{s}");
    assert!(s.lines().filter(|l| l.contains('✓') && l.contains("hana.")).count() >= 3, "{s}");
    // Esc clears the filter first, then the marks.
    key(&mut app, KeyCode::Esc);
    assert_eq!(users(&app).view.query(), "");
    assert_eq!(app.dir.marks.len(), matching.len());
    key(&mut app, KeyCode::Esc);
    assert!(app.dir.marks.is_empty());
    let s = screen(&mut app, 200, 50);
    assert!(!s.contains('✓') && !s.contains("marked"), "{s}");
}

#[test]
fn deactivate_confirms_with_count_and_first_names_then_emits_run_batch() {
    let mut app = app_with(200);
    typ(&mut app, "   "); // rows 0, 1, 2
    assert!(ch(&mut app, 'd').is_empty(), "asking does nothing yet");
    assert!(app.top::<Confirm>().is_some(), "{:?}", titles(&app));
    let c = confirm(&app);
    assert_eq!(c.count(), 3);
    assert!(!c.typed && c.ceiling.is_none());
    for s in [screen(&mut app, 80, 24), screen(&mut app, 200, 50)] {
        assert!(s.contains("Confirm: deactivate 3 users"), "{s}");
        assert!(s.contains("3 operations:"), "{s}");
        for i in 0..3 {
            assert!(s.contains(&format!("deactivate {}", email(&app, i))), "{s}");
        }
        assert!(s.contains("Enter/y confirm · Esc/n cancel"), "{s}");
    }
    // n cancels: nothing is emitted, the marks stay.
    assert!(ch(&mut app, 'n').is_empty());
    assert!(app.overlays.is_empty() && app.overlay::<Confirm>().is_none());
    assert_eq!(app.dir.marks.len(), 3);
    assert!(last_log(&app).contains("cancelled, nothing was done"));
    // Esc cancels too.
    ch(&mut app, 'd');
    assert!(key(&mut app, KeyCode::Esc).is_empty());
    assert!(app.overlays.is_empty());
    // y confirms: one RunBatch with exactly the marked users, marks cleared, queue view open.
    ch(&mut app, 'd');
    let fx = ch(&mut app, 'y');
    let known = app.dir.knowledge_of(&[id(0), id(1), id(2)]);
    let decision = provision::queue::gate(&Safety::default(), vec![deact(&app, 0), deact(&app, 1), deact(&app, 2)], &known);
    // What each deactivation takes away is kept by the engine: the compact rows carry no
    // `groups`, so it reads the users just before sending (nothing is kept at the gate).
    assert!(decision.kept().is_empty(), "{:?}", decision.kept());
    assert_eq!(fx, vec![Effect::RunBatch { decision, description: "deactivate 3 users".into() }]);
    assert!(app.dir.marks.is_empty());
    assert!(app.top::<QueueView>().is_some(), "{:?}", titles(&app));
    assert!(app.busy(), "a submitted batch keeps the spinner going");
    // While it runs, another verb is refused.
    key(&mut app, KeyCode::Esc);
    assert!(ch(&mut app, 'd').is_empty());
    assert!(app.overlays.is_empty());
    assert!(last_log(&app).contains("a batch is running"), "{}", last_log(&app));
}

#[test]
fn without_marks_the_selected_user_is_the_target_and_a_reactivates() {
    let mut app = app_with(50);
    typ(&mut app, "jjj"); // row 3 is deactivated in the fixture
    ch(&mut app, 'a');
    let c = confirm(&app);
    assert_eq!(c.what, "reactivate 1 user");
    let idx = app.dir.store.index_of(&id(3)).unwrap();
    let fx = key(&mut app, KeyCode::Enter);
    assert_eq!(fx, vec![batch(vec![Action::Reactivate { target: app.dir.store.get(idx).target() }], "reactivate 1 user")]);
}

#[test]
fn above_the_threshold_the_count_must_be_typed() {
    let mut app = app_with(200);
    ch(&mut app, '/');
    typ(&mut app, "e");
    key(&mut app, KeyCode::Enter);
    // 30 rows: above the default threshold of 25.
    ch(&mut app, 'V');
    for _ in 0..29 {
        ch(&mut app, 'j');
    }
    ch(&mut app, 'V');
    assert_eq!(app.dir.marks.len(), 30);
    ch(&mut app, 'd');
    // Four of the 30 are deactivated already (every 7th user of the fixture): the gate skips them.
    let c = confirm(&app);
    assert!(c.typed && c.ceiling.is_none());
    assert_eq!((c.count(), c.decision.skipped().len()), (26, 4));
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Type 26, the number of operations, to confirm"), "{s}");
    assert!(s.contains("26 to deactivate · skipped: 4 already deactivated"), "{s}");
    assert!(s.contains("… and 21 more"), "{s}");
    // y and Enter alone do not confirm; a wrong count does not either.
    assert!(ch(&mut app, 'y').is_empty());
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(app.top::<Confirm>().is_some(), "{:?}", titles(&app));
    typ(&mut app, "30");
    assert!(key(&mut app, KeyCode::Enter).is_empty(), "the marked count is not the count that runs");
    assert!(screen(&mut app, 80, 24).contains("type 26"), "the wrong count is explained");
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    typ(&mut app, "26");
    let fx = key(&mut app, KeyCode::Enter);
    assert!(matches!(&fx[..], [Effect::RunBatch { decision, .. }] if decision.runnable().len() == 26), "{fx:?}");

    // A configured threshold applies; non-destructive batches never need typing.
    let mut app = app_with(50);
    app.queue.confirm_threshold = 2;
    typ(&mut app, "   ");
    ch(&mut app, 'd');
    assert!(app.overlay::<Confirm>().unwrap().typed);
    key(&mut app, KeyCode::Esc);
    // Reactivate three deactivated users (rows 3, 10, 17; the cursor is on row 3).
    ch(&mut app, 'u');
    ch(&mut app, ' ');
    typ(&mut app, "jjjjjj ");
    typ(&mut app, "jjjjjj ");
    ch(&mut app, 'a');
    let c = app.overlay::<Confirm>().unwrap();
    assert_eq!(c.count(), 3, "{:?}", c.decision);
    assert!(!c.typed, "reactivations are not destructive");
}

#[test]
fn past_the_ceiling_a_warning_and_a_typed_count() {
    let mut app = app_with(50);
    app.queue.safety.ceilings.deactivations = 4;
    typ(&mut app, "      "); // 6 users, one of them deactivated already (row 3): 5 run
    ch(&mut app, 'd');
    let c = confirm(&app);
    assert!(c.typed, "the ceiling needs a typed count even below the threshold");
    assert!(c.ceiling.as_deref().unwrap().contains("above the ceiling of 4"), "{c:?}");
    for s in [screen(&mut app, 80, 24), screen(&mut app, 200, 50)] {
        assert!(s.contains("WARNING: this run would deactivate 5 users"), "{s}");
        assert!(s.contains("Type 5, the number of operations, to confirm"), "{s}");
    }
    typ(&mut app, "5");
    let fx = key(&mut app, KeyCode::Enter);
    // The typed count passes the ceiling: the decision the runner gets is no longer held.
    assert!(matches!(&fx[..], [Effect::RunBatch { decision, .. }] if decision.runnable().len() == 5 && decision.hold().is_none()));
}

#[test]
fn protected_users_are_skipped_listed_and_never_sent() {
    let mut app = app_with(50);
    let e1 = email(&app, 1).to_uppercase();
    app.queue.safety.protected = vec![e1, id(2)];
    typ(&mut app, "   ");
    ch(&mut app, 'd');
    let c = confirm(&app);
    assert_eq!(c.count(), 1);
    assert_eq!(c.decision.skipped().len(), 2);
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("1 to deactivate · skipped: 2 protected"), "{s}");
    assert!(s.contains("2 skipped, never sent:"), "{s}");
    assert!(s.contains(&email(&app, 1)) && s.contains(&email(&app, 2)), "{s}");
    let fx = ch(&mut app, 'y');
    let [Effect::RunBatch { decision, .. }] = &fx[..] else { panic!("{fx:?}") };
    assert_eq!(decision.runnable(), &[deact(&app, 0)]);
    assert_eq!(decision.skipped().iter().map(|s| s.action.clone()).collect::<Vec<_>>(), vec![deact(&app, 1), deact(&app, 2)]);
    assert!(app.log.iter().any(|e| e.level == Level::Warn && e.text.contains(&format!("skipping deactivate {}", email(&app, 2)))));

    // Only protected users: no dialog at all, a warning.
    let mut app = app_with(50);
    app.queue.safety.protected = vec![id(0)];
    assert!(ch(&mut app, 'd').is_empty());
    assert!(app.overlays.is_empty());
    assert!(last_log(&app).contains("nothing to do"), "{}", last_log(&app));
}

fn batch_finished(cancelled: bool) -> Msg {
    Msg::Queue(QueueEvent::BatchFinished {
        batch_id: "b-test".into(),
        counts: HashMap::new(),
        elapsed: Duration::from_millis(1500),
        cancelled,
    })
}

#[test]
fn queue_view_shows_every_state_the_gauge_and_eta() {
    let mut app = app_with(50);
    loaded_batch(&mut app, 6, Some(2.0));
    app.update(finished(1, OpState::Done, "ok", 0));
    app.update(finished(2, OpState::Failed, "user_not_found: no such user", 2));
    app.update(finished(3, OpState::Failed, "SURPRISE: Slack answered with x active but it should be deactivated", 0));
    app.update(started(4));
    ch(&mut app, 'Q');
    assert!(app.top::<QueueView>().is_some(), "{:?}", titles(&app));
    assert!(app.busy());
    assert_eq!(app.queue.status, "running 3/6 · 2 failed · 1 SURPRISE");
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut app, w, h);
        assert!(s.contains("Queue: deactivate 6 users"), "{s}");
        assert!(s.contains("3/6 50%"), "{s}");
        assert!(s.contains('█') && s.contains('░'), "{s}");
        // 3 left at 2/s allowed.
        assert!(s.contains("eta 2s"), "{s}");
        for label in ["done", "FAILED", "SURPRISE", "running", "pending"] {
            assert!(s.contains(label), "{label} missing at {w}x{h}:\n{s}");
        }
        assert!(s.contains("user_not_found"), "{s}");
        let want = if w >= 200 { format!("deactivate {}", email(&app, 0)) } else { "deactivate ann.lee0".into() };
        assert!(s.contains(&want), "{s}");
        assert!(s.contains("x cancel pending"), "{s}");
        // (At 80 columns the status line says `running 3/6` without `queue`, to keep the host.)
        assert!(s.contains(if w >= 200 { "queue running 3/6" } else { "running 3/6" }), "{s}");
        assert!(s.contains("api.slack"), "the host, shortened at 80 columns:\n{s}");
    }
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("retries"), "the wide view has a retries column:\n{s}");
    // Big batches draw only the visible rows and scroll.
    let mut app = app_with(50);
    let ops = (0..5000).map(|i| op(&app, i % 50, i as i64 + 1)).collect();
    app.update(Msg::BatchLoaded(BatchLoad { batch_id: "b-big".into(), description: "big".into(), ops, rate: None }));
    ch(&mut app, 'Q');
    ch(&mut app, 'G');
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("5000") && s.contains("0/5,000"), "{s}");
}

#[test]
fn results_land_in_the_log_and_patch_the_rows() {
    let mut app = app_with(50);
    assert!(app.dir.store.get(0).active());
    loaded_batch(&mut app, 3, None);
    app.update(finished(1, OpState::Done, "ok", 1));
    app.update(finished(2, OpState::Failed, "HTTP 429 ratelimited", 3));
    app.update(finished(3, OpState::Failed, "SURPRISE: Slack answered with someone active", 0));
    let fx = app.update(batch_finished(false));
    assert_eq!(fx, [Effect::ListBatches], "no group changed, nothing to reload (the list of past batches is read again)");
    let texts: Vec<(Level, String)> = app.log.iter().map(|e| (e.level, e.text.clone())).collect();
    assert!(texts.iter().any(|(l, t)| *l == Level::Ok && t.contains("op 1: done (1 retry)")), "{texts:?}");
    assert!(texts.iter().any(|(l, t)| *l == Level::Error && t.contains("op 2: failed: HTTP 429 ratelimited (3 retries)")), "{texts:?}");
    assert!(texts.iter().any(|(l, t)| *l == Level::Warn && t.contains("!! op 3: SURPRISE")), "{texts:?}");
    assert!(texts.iter().any(|(l, t)| *l == Level::Error && t.contains("1 done, 2 failed") && t.contains("SURPRISE")), "{texts:?}");
    assert!(!app.dir.store.get(0).active(), "the deactivated user shows as deactivated");
    assert!(app.dir.store.get(1).active() && app.dir.store.get(2).active(), "failed ops leave rows alone");
    assert!(!app.busy());
    assert_eq!(app.queue.status, "done 3/3 · 2 failed · 1 SURPRISE");
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("op 2: failed: HTTP 429"), "the Log pane shows results:\n{s}");
}

#[test]
fn x_cancels_pending_and_f_retries_failed() {
    let mut app = app_with(50);
    loaded_batch(&mut app, 5, None);
    app.update(finished(1, OpState::Failed, "user_not_found", 0));
    app.update(started(2));
    ch(&mut app, 'Q');
    assert_eq!(ch(&mut app, 'F'), vec![], "no retry while running");
    assert_eq!(ch(&mut app, 'x'), vec![Effect::CancelBatch { batch_id: "b-test".into() }]);
    assert_eq!(ch(&mut app, 'x'), vec![], "one cancel is enough");
    assert!(app.queue.status.starts_with("cancelling"));
    app.update(finished(2, OpState::Done, "ok", 0));
    app.update(batch_finished(true));
    let b = app.queue.batch.as_ref().unwrap();
    assert_eq!((b.count(OpState::Cancelled), b.count(OpState::Done), b.count(OpState::Failed)), (3, 1, 1));
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("cancelled"), "{s}");
    assert!(!s.contains("x cancel pending"), "{s}");
    // Issue 12: a cancelled batch's bar counts what ran, not what was cancelled (not 5/5 100%).
    assert!(s.contains("2/5 40%") && !s.contains("5/5 100%"), "{s}");
    assert_eq!(app.queue.status, "cancelled 2/5 · 1 failed");
    assert_eq!(ch(&mut app, 'x'), vec![], "nothing left to cancel");
    assert_eq!(ch(&mut app, 'F'), vec![Effect::RetryFailed { batch_id: "b-test".into() }]);
    assert!(app.busy());
    // The runtime answers with the re-opened batch.
    let mut o = op(&app, 0, 1);
    o.state = OpState::Pending;
    app.update(Msg::BatchLoaded(BatchLoad { batch_id: "b-test".into(), description: "d".into(), ops: vec![o], rate: None }));
    assert_eq!(app.queue.status, "running 0/1");
    // Esc closes the view.
    key(&mut app, KeyCode::Esc);
    assert!(app.overlays.is_empty());
    // q while it runs asks first (a dialog that stays); the second q quits.
    assert!(ch(&mut app, 'q').is_empty());
    assert!(!app.quit && app.top::<crate::quit::QuitGuard>().is_some(), "{:?}", titles(&app));
    assert_eq!(ch(&mut app, 'q'), vec![Effect::Quit]);
}

/// Issue 25: `q` during a batch says "q again quits" in a dialog that stays on screen (at 80x24
/// the Log showed it for under a second); Ctrl-c asks the same way; the demo does not promise a
/// resume it cannot give.
#[test]
fn quitting_during_a_batch_asks_in_a_dialog_that_stays_and_ctrl_c_asks_too() {
    let ctrl_c = || Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    let mut app = app_with(50);
    running_batch(&mut app);
    assert!(app.update(ctrl_c()).is_empty(), "Ctrl-c asks first while a batch runs");
    assert!(!app.quit);
    // Log lines and progress arrive; the question stays on screen.
    for i in 0..10 {
        app.push_log(Level::Info, format!("line {i}"));
    }
    app.update(finished(3, OpState::Done, "ok", 0));
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut app, w, h);
        assert!(s.contains("q again (or Ctrl-c) quits now; Esc stays."), "{s}");
        assert!(s.contains("3 operations not finished stay in the journal"), "{s}");
        assert!(s.contains("resume"), "{s}");
    }
    // Esc stays; q asks again; Ctrl-c in the dialog quits.
    key(&mut app, KeyCode::Esc);
    assert!(app.overlays.is_empty() && !app.quit);
    assert!(ch(&mut app, 'q').is_empty());
    assert_eq!(app.update(ctrl_c()), vec![Effect::Quit]);
    // No batch: Ctrl-c quits at once.
    let mut idle = app_with(5);
    assert_eq!(idle.update(ctrl_c()), vec![Effect::Quit]);
    // The demo: nothing can be resumed (its emulator goes away), and it says so.
    let mut demo = app_with(50);
    demo.resumable = false;
    running_batch(&mut demo);
    ch(&mut demo, 'q');
    let s = screen(&mut demo, 80, 24);
    assert!(s.contains("are dropped") && !s.contains("resume"), "{s}");
}

#[test]
fn resume_offer_at_start() {
    let mut app = app_with(10);
    let offer = ResumeOffer {
        batch_id: "b-old".into(),
        description: "deactivate 40 users".into(),
        created: "2026-11-22 10:00:00".into(),
        open: 12,
        total: 40,
    };
    app.update(Msg::Unfinished(vec![offer.clone()]));
    assert!(app.top::<Resume>().is_some(), "{:?}", titles(&app));
    for (w, h) in [(80, 24), (200, 50)] {
        let s = screen(&mut app, w, h);
        assert!(s.contains("Resume unfinished work?"), "{s}");
        assert!(s.contains("b-old") && s.contains("12 of 40"), "{s}");
    }
    assert!(ch(&mut app, 'd').is_empty(), "keys go to the offer");
    assert_eq!(key(&mut app, KeyCode::Enter), vec![Effect::ResumeBatches { batch_ids: vec!["b-old".into()] }]);
    assert!(app.top::<QueueView>().is_some(), "{:?}", titles(&app));
    // Esc leaves it for later.
    let mut app = app_with(10);
    app.update(Msg::Unfinished(vec![offer]));
    assert!(key(&mut app, KeyCode::Esc).is_empty());
    assert!(app.overlays.is_empty());
    assert!(last_log(&app).contains("scimitar resume"));
    // Nothing open: no offer.
    let mut app = app_with(10);
    app.update(Msg::Unfinished(vec![]));
    assert!(app.overlays.is_empty());
}

#[test]
fn group_verbs_use_the_marked_users_and_a_name_prompt() {
    let mut app = app_with(50);
    app.active = 1; // eng (S000): members 0, 3, 6, 9, 12 and one not loaded
    assert!(ch(&mut app, '+').is_empty());
    assert!(last_log(&app).contains("mark users in the Users pane first"), "{}", last_log(&app));
    app.active = 0;
    typ(&mut app, "   "); // 0, 1, 2
    app.active = 1;
    ch(&mut app, '+');
    assert_eq!(app.overlay::<Confirm>().unwrap().what, "add 2 members to eng");
    let fx = ch(&mut app, 'y');
    assert_eq!(
        fx,
        vec![batch(
            vec![Action::AddMembers { group_id: "S000".into(), group_name: "eng".into(), user_ids: vec![id(1), id(2)] }],
            "add 2 members to eng"
        )]
    );
    // A finished group batch reloads the groups.
    app.update(Msg::BatchLoaded(BatchLoad {
        batch_id: "b-test".into(),
        description: "g".into(),
        ops: vec![QueueOp::new("op1", 1, &Action::AddMembers { group_id: "S000".into(), group_name: "eng".into(), user_ids: vec![id(1)] })],
        rate: None,
    }));
    app.update(finished(1, OpState::Done, "ok", 0));
    let fx = app.update(batch_finished(false));
    assert!(matches!(&fx[..], [Effect::ListBatches, Effect::LoadGroups { .. }]), "{fx:?}");
    app.update(Msg::GroupsLoaded { generation: groups(&app).generation, result: Ok(vec![]) });
    app.overlays.clear();

    // R: a prompt with the current name, then the confirmation.
    let mut app = app_with(50);
    app.active = 1;
    ch(&mut app, 'R');
    assert!(app.top::<Prompt>().is_some(), "{:?}", titles(&app));
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Rename group eng") && s.contains("name: eng"), "{s}");
    for _ in 0..3 {
        key(&mut app, KeyCode::Backspace);
    }
    typ(&mut app, "platform");
    key(&mut app, KeyCode::Enter);
    assert!(app.top::<Confirm>().is_some(), "{:?}", titles(&app));
    let fx = key(&mut app, KeyCode::Enter);
    assert_eq!(
        fx,
        vec![batch(
            vec![Action::RenameGroup { id: "S000".into(), from: "eng".into(), to: "platform".into() }],
            "rename group eng to platform"
        )]
    );

    // n: a new group with the marked users; an existing name is refused.
    let mut app = app_with(50);
    typ(&mut app, "  ");
    app.active = 1;
    ch(&mut app, 'n');
    typ(&mut app, "Sales");
    key(&mut app, KeyCode::Enter);
    assert!(last_log(&app).contains("already exists"));
    assert!(app.overlays.is_empty());
    ch(&mut app, 'n');
    typ(&mut app, "oncall");
    key(&mut app, KeyCode::Enter);
    let fx = ch(&mut app, 'y');
    assert_eq!(
        fx,
        vec![batch(vec![Action::CreateGroup { name: "oncall".into(), members: vec![id(0), id(1)] }], "create group oncall with 2 members")]
    );

    // - in the members list removes the selected member (destructive: same dialog).
    let mut app = app_with(50);
    app.active = 1;
    key(&mut app, KeyCode::Enter);
    ch(&mut app, 'j'); // W00000003
    ch(&mut app, '-');
    let c = confirm(&app);
    assert_eq!((c.what.as_str(), c.destructive), ("remove 1 member from eng", 1));
    let fx = ch(&mut app, 'y');
    assert_eq!(
        fx,
        vec![batch(
            vec![Action::RemoveMembers { group_id: "S000".into(), group_name: "eng".into(), user_ids: vec![id(3)] }],
            "remove 1 member from eng"
        )]
    );
}

/// Under `--read-only` every verb is refused by the gate's first rule: no effect, no dialog, no
/// prompt, and the Log says what was refused (`d`, `a`, `+`, `-`, `R`, `n`, the resume offer, `F`;
/// Policies `A` is in `panes_tests`). The runner refuses on its own too (the next test).
#[test]
fn read_only_refuses_every_write() {
    let mut app = app_with(20);
    // A batch with a failed op is on view (from before; F must not retry it now).
    loaded_batch(&mut app, 2, None);
    app.update(finished(1, OpState::Done, "ok", 0));
    app.update(finished(2, OpState::Failed, "no_such_user", 0));
    app.update(batch_finished(false));
    app.overlays.clear();
    app.queue.safety.read_only = true;
    typ(&mut app, "  "); // users 0 and 1 (0 is in eng, 1 is not)
    let refused = |app: &mut App, what: &str, fx: Vec<Effect>| {
        assert!(fx.is_empty(), "{what}: {fx:?}");
        assert!(app.overlay::<Confirm>().is_none() && app.overlay::<Prompt>().is_none(), "{what}: {:?}", titles(app));
        let l = last_log(app);
        assert!(l.starts_with(what) && l.contains("read-only mode: writes are refused"), "{what}: {l}");
    };
    let fx = ch(&mut app, 'd');
    refused(&mut app, "deactivate 2 users", fx);
    let fx = ch(&mut app, 'a');
    refused(&mut app, "reactivate 2 users", fx);
    app.active = 1;
    let fx = ch(&mut app, '+');
    refused(&mut app, "add 1 member to eng", fx);
    let fx = ch(&mut app, '-');
    refused(&mut app, "remove 1 member from eng", fx);
    let fx = ch(&mut app, 'R');
    refused(&mut app, "rename group eng", fx);
    let fx = ch(&mut app, 'n');
    refused(&mut app, "create a group", fx);
    ch(&mut app, 'Q');
    let fx = ch(&mut app, 'F');
    refused(&mut app, "retry", fx);
    app.overlays.clear();
    app.update(Msg::Unfinished(vec![ResumeOffer {
        batch_id: "b-old".into(),
        description: "deactivate 3 users".into(),
        created: "2026-11-22 10:00:00".into(),
        open: 3,
        total: 3,
    }]));
    let fx = key(&mut app, KeyCode::Enter);
    refused(&mut app, "resume", fx);
    assert_eq!(app.dir.marks.len(), 2, "nothing was confirmed, so the marks stay");
    assert!(screen(&mut app, 80, 24).contains("read-only"), "the status line says so");
}

/// A confirmed batch whose lease is held by another writer: the admin chooses to wait, and the
/// queue view says what it waits for and who holds the lease (not "journaling"), at both sizes;
/// once the batch loads, that is gone.
#[test]
fn the_queue_view_says_whose_lease_a_batch_waits_for() {
    let mut app = app_with(20);
    typ(&mut app, " ");
    ch(&mut app, 'd');
    let fx = ch(&mut app, 'y');
    assert!(fx.iter().any(|e| matches!(e, Effect::RunBatch { .. })), "{fx:?}");
    app.update(Msg::LeaseHeld("bob@jump2 (pid 77, `scimitar sync --policy hr`) holds the lease of org:acme".into()));
    let fx = ch(&mut app, 'y');
    assert!(fx.iter().any(|e| matches!(e, Effect::LeaseWait { wait: true })), "{fx:?}");
    assert!(app.overlay::<QueueView>().is_some(), "the queue view opened with the batch: {:?}", titles(&app));
    for s in [screen(&mut app, 80, 24), screen(&mut app, 200, 50)] {
        assert!(s.contains("waiting for the org's lease (nothing journaled") && s.contains("bob@jump2"), "{s}");
        assert!(!s.contains("journaling the batch"), "{s}");
    }
    app.update(Msg::BatchLoaded(BatchLoad { batch_id: "b-test".into(), description: "deactivate 1 user".into(), ops: vec![], rate: None }));
    assert!(!screen(&mut app, 200, 50).contains("waiting for the org's lease (nothing journaled"));
}

/// A batch asked for while another writer holds the org's lease: nothing is journaled or sent;
/// the app is told who holds it (the dialog offers to wait). Giving up ends it with nothing
/// sent; waiting runs it once the other writer releases the lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_waits_for_the_orgs_lease_only_when_the_admin_says_so() {
    use emulator::{Emulator, EmulatorConfig};
    use scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret};
    let emu = Emulator::start(
        EmulatorConfig { users: 20, groups: 2, seed: 5, token: "xoxp-lease".into(), ..Default::default() },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    let client = ScimClient::new(cc).unwrap();
    let users: Vec<_> = client.all_users(None).await.unwrap().into_iter().filter(|u| u.is_active()).skip(1).take(2).collect();
    let journal = super::queue_runner::QueueSetup::in_memory("test", &client.host()).journal.unwrap();
    let spec = provision::store::LeaseSpec::test("console");
    let other = provision::store::Holder::new("bob", "jump2", "scimitar sync --policy hr");
    let held = provision::store::Lease::acquire(journal.store(), &spec.org, &other, spec.ttl).unwrap();
    let actions: Vec<Action> = users.iter().map(|u| Action::Deactivate { target: Target::of_user(u) }).collect();
    emu.reset_stats();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut runner = super::queue_runner::QueueRunner::new(client.clone(), Some(journal.clone()), Safety::default(), tx).with_lease(spec);
    let next = |rx: &mut tokio::sync::mpsc::UnboundedReceiver<Msg>| {
        let m = rx.try_recv();
        m.ok()
    };
    let wait_for = async |rx: &mut tokio::sync::mpsc::UnboundedReceiver<Msg>, want: &dyn Fn(&Msg) -> bool| loop {
        let m = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await.expect("an answer").expect("channel open");
        if want(&m) {
            return m;
        }
    };
    runner.run(batch(actions.clone(), "deactivate 2 users"));
    let m = wait_for(&mut rx, &|m| matches!(m, Msg::LeaseHeld(_))).await;
    let Msg::LeaseHeld(who) = m else { unreachable!() };
    assert!(who.contains("bob@jump2") && who.contains("scimitar sync --policy hr"), "{who}");
    runner.run(Effect::LeaseWait { wait: false });
    let m = wait_for(&mut rx, &|m| matches!(m, Msg::QueueFailed(_))).await;
    assert!(matches!(&m, Msg::QueueFailed(w) if w.contains("nothing was sent")), "{m:?}");
    assert_eq!(journal.recent_batches(10).unwrap().len(), 0, "nothing journaled");
    runner.run(batch(actions, "deactivate 2 users"));
    wait_for(&mut rx, &|m| matches!(m, Msg::LeaseHeld(_))).await;
    runner.run(Effect::LeaseWait { wait: true });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(next(&mut rx).is_none_or(|m| !matches!(m, Msg::BatchLoaded(_))), "still waiting while the lease is held");
    assert_eq!(emu.stats().writes(), 0, "nothing sent while another writer holds the lease");
    tokio::task::spawn_blocking(move || drop(held)).await.unwrap();
    wait_for(&mut rx, &|m| matches!(m, Msg::Queue(QueueEvent::BatchFinished { .. }))).await;
    assert_eq!(emu.stats().writes(), 2, "run once the lease was free");
    emu.shutdown().await;
}

/// The runner under `--read-only` refuses a decision handed to it, a retry and a resume, with
/// zero requests of any kind at the emulator and the journal as it was.
#[tokio::test]
async fn read_only_runner_sends_nothing() {
    use emulator::{Emulator, EmulatorConfig};
    use provision::queue::BatchInfo;
    use scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret};
    let emu = Emulator::start(
        EmulatorConfig { users: 20, groups: 2, seed: 4, token: "xoxp-ro".into(), ..Default::default() },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    let client = ScimClient::new(cc).unwrap();
    let users: Vec<_> = client.all_users(None).await.unwrap().into_iter().filter(|u| u.is_active()).skip(1).take(2).collect();
    let journal = super::queue_runner::QueueSetup::in_memory("test", &client.host()).journal.unwrap();
    let actions: Vec<Action> = users.iter().map(|u| Action::Deactivate { target: Target::of_user(u) }).collect();
    let info = BatchInfo { origin: "console".into(), policy_run: None, description: "deactivate 2 users".into() };
    let open =
        provision::queue::submit(&journal, &info, provision::queue::gate(&Safety::default(), actions.clone(), &Knowledge::default()))
            .unwrap()
            .id()
            .to_string();
    emu.reset_stats();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let read_only = Safety { read_only: true, ..Default::default() };
    let mut runner = super::queue_runner::QueueRunner::new(client.clone(), Some(journal.clone()), read_only, tx);
    for e in [
        batch(actions, "deactivate 2 users"),
        Effect::RetryFailed { batch_id: open.clone() },
        Effect::ResumeBatches { batch_ids: vec![open.clone()] },
    ] {
        runner.run(e.clone());
        let m = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("an answer").expect("channel open");
        let Msg::QueueFailed(why) = m else { panic!("{e:?}: {m:?}") };
        assert!(why.contains("read-only"), "{e:?}: {why}");
    }
    assert_eq!(emu.stats().requests, 0, "{:?}", emu.stats().by_method);
    let left = journal.unfinished_batches().unwrap();
    assert_eq!((left.len(), left[0].open), (1, 2), "the journal is as it was");
    emu.shutdown().await;
}

/// The issue's batch in the console: the primary owner, a bot, a deactivated user and three
/// others. The confirmation says 3 will run and names the skipped and why; exactly 3 writes reach
/// the emulator; the report records the 3 skips with their reasons.
#[tokio::test]
async fn owner_bot_and_deactivated_are_skipped_and_three_run() {
    use emulator::{Emulator, EmulatorConfig};
    use provision::report::{Outcome, ReportQuery, ReportStore};
    use scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret};
    let emu = Emulator::start(
        EmulatorConfig { users: 40, groups: 2, seed: 6, token: "xoxp-six".into(), ..Default::default() },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    let client = ScimClient::new(cc).unwrap();
    let (owner, bots) = (emu.primary_owner_id(), emu.bot_ids());
    let ordinary: Vec<_> = client
        .all_users(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.is_active() && u.id() != owner && !bots.contains(&u.id().to_string()))
        .take(4)
        .collect();
    // One of them left earlier.
    client.deactivate(ordinary[3].id()).await.unwrap();
    let mut six = vec![client.get_user(&owner).await.unwrap(), client.get_user(&bots[0]).await.unwrap()];
    six.push(client.get_user(ordinary[3].id()).await.unwrap());
    six.extend(ordinary[..3].iter().cloned());
    assert_eq!(six[2].active, Some(false));

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scimitar.db");
    let journal = std::sync::Arc::new(
        provision::queue::Journal::open(&db, provision::queue::RunContext::new("test", &client.host(), &provision::env::Actor::default()))
            .unwrap(),
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut runner = super::queue_runner::QueueRunner::new(client.clone(), Some(journal), Safety::default(), tx);
    let mut app = app_with(0);
    for u in &six {
        app.update(Msg::UserFetched { id: u.id().into(), result: Ok(u.clone()) });
    }
    app.overlays.clear();
    ch(&mut app, '*');
    assert_eq!(app.dir.marks.len(), 6);
    ch(&mut app, 'd');
    let c = confirm(&app);
    assert_eq!(c.count(), 3);
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("Confirm: deactivate 3 users"), "{s}");
    assert!(s.contains("3 to deactivate · skipped: 1 already deactivated, 1 bot, 1 primary owner"), "{s}");
    assert!(s.contains("3 skipped, never sent:"), "{s}");
    for (u, why) in [(&six[0], "the primary owner"), (&six[1], "a bot user"), (&six[2], "already deactivated")] {
        let line = format!("{}: {why}", u.primary_email().unwrap());
        assert!(s.contains(&line), "{line}:\n{s}");
    }
    emu.reset_stats();
    let fx = ch(&mut app, 'y');
    let [e @ Effect::RunBatch { .. }] = &fx[..] else { panic!("{fx:?}") };
    runner.run(e.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let m = tokio::time::timeout_at(deadline, rx.recv()).await.expect("the batch finishes").expect("channel open");
        let done = matches!(m, Msg::Queue(QueueEvent::BatchFinished { .. }));
        app.update(m);
        if done {
            break;
        }
    }
    let b = app.queue.batch.as_ref().unwrap();
    assert_eq!((b.count(OpState::Done), b.count(OpState::Skipped)), (3, 3), "{:?}", b.ops);
    let stats = emu.stats();
    assert_eq!(stats.writes(), 3, "exactly the three ordinary users: {:?}", stats.by_method);
    for u in &ordinary[..3] {
        assert_eq!(client.get_user(u.id()).await.unwrap().active, Some(false));
    }
    assert!(client.get_user(&owner).await.unwrap().is_active() && client.get_user(&bots[0]).await.unwrap().is_active());
    let store = ReportStore::open(&db).unwrap();
    let skipped = store.query(&ReportQuery { outcome: Some(Outcome::Skipped), ..Default::default() }).unwrap();
    let mut codes: Vec<(String, String)> =
        skipped.iter().map(|r| (r.record.target_id.clone().unwrap(), r.record.error_code.clone().unwrap_or_default())).collect();
    codes.sort();
    let mut want = vec![
        (owner.clone(), "primary_owner".to_string()),
        (bots[0].clone(), "bot".to_string()),
        (ordinary[3].id().to_string(), "already_in_state".to_string()),
    ];
    want.sort();
    assert_eq!(codes, want);
    let done = store.query(&ReportQuery { outcome: Some(Outcome::Done), ..Default::default() }).unwrap();
    assert_eq!(done.len(), 3);
    emu.shutdown().await;
}

#[test]
fn help_lists_the_queue_keys() {
    let mut app = app_with(5);
    ch(&mut app, '?');
    let s = screen(&mut app, 200, 50);
    for k in ["Space", "mark every row matching the filter", "deactivate the marked users", "the queue view"] {
        assert!(s.contains(k), "{k}:\n{s}");
    }
    key(&mut app, KeyCode::Esc);
    ch(&mut app, 'Q');
    ch(&mut app, '?');
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("Queue view") && s.contains("cancel the operations not sent yet"), "{s}");
}

/// The runtime half against the emulator on loopback: a confirmed batch is journaled, run, and
/// its events turn into the queue view's rows and Log lines.
#[tokio::test]
async fn runner_journals_runs_and_reports_through_messages() {
    use emulator::{Emulator, EmulatorConfig};
    use scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret};
    let emu = Emulator::start(
        EmulatorConfig { users: 40, groups: 2, seed: 5, token: "xoxp-t".into(), ..Default::default() },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    let client = ScimClient::new(cc).unwrap();
    let owner = emu.primary_owner_id();
    let bots = emu.bot_ids();
    let users: Vec<_> = client
        .all_users(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.is_active() && u.id() != owner && !bots.contains(&u.id().to_string()))
        .take(3)
        .collect();
    let setup = super::queue_runner::QueueSetup::in_memory("test", &client.host());
    let journal = setup.journal.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut runner = super::queue_runner::QueueRunner::new(client.clone(), Some(journal.clone()), Safety::default(), tx);
    let mut app = app_with(0);
    for u in &users {
        app.update(Msg::UserFetched { id: u.id().into(), result: Ok(u.clone()) });
    }
    app.overlays.clear();
    let actions: Vec<Action> = users.iter().map(|u| Action::Deactivate { target: Target::of_user(u) }).collect();
    runner.run(batch(actions, "deactivate 3 users"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let m = tokio::time::timeout_at(deadline, rx.recv()).await.expect("the batch finishes").expect("channel open");
        let done = matches!(m, Msg::Queue(QueueEvent::BatchFinished { .. }));
        app.update(m);
        if done {
            break;
        }
    }
    let b = app.queue.batch.as_ref().unwrap();
    assert_eq!(b.count(OpState::Done), 3, "{:?}", b.ops);
    assert_eq!(app.queue.status, "done 3/3");
    assert!(runner.unfinished().unwrap().is_empty(), "the batch is closed in the journal");
    for u in &users {
        assert_eq!(client.get_user(u.id()).await.unwrap().active, Some(false));
        let i = app.dir.store.index_of(u.id()).unwrap();
        assert!(!app.dir.store.get(i).active());
    }
    assert_eq!(app.log.iter().filter(|e| e.text.ends_with(": done")).count(), 3);
    emu.shutdown().await;
}

/// Resume and retry through the real runner: a batch journaled by an earlier run is offered,
/// passes the gate again when resumed (the primary owner in it is skipped before anything is
/// sent), a failure carries Slack's reason, and `F` runs the failed op again (through the gate).
#[tokio::test]
async fn runner_offers_resumes_and_retries() {
    use emulator::{Emulator, EmulatorConfig};
    use provision::queue::BatchInfo;
    use scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret};
    let emu = Emulator::start(
        EmulatorConfig { users: 30, groups: 2, seed: 9, token: "xoxp-r".into(), ..Default::default() },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    cc.backoff_base = Duration::from_millis(5);
    let client = ScimClient::new(cc).unwrap();
    let all = client.all_users(None).await.unwrap();
    let owner = all.iter().find(|u| u.id() == emu.primary_owner_id()).unwrap().clone();
    let other = all
        .iter()
        .find(|u| u.is_active() && u.id() != owner.id() && !u.primary_email().unwrap().ends_with("slack-bots.com"))
        .unwrap()
        .clone();
    // Someone Slack does not know (left since the batch was made): Slack answers no_such_user.
    let ghost = scim::User {
        id: Some("W0GHOST001".into()),
        emails: Some(vec![scim::MultiValue::email("ghost@acme-corp.example", true)]),
        ..Default::default()
    };
    let journal = super::queue_runner::QueueSetup::in_memory("test", &client.host()).journal.unwrap();
    // An earlier run journaled this batch (knowing nothing of its targets) and was killed before
    // sending anything.
    let actions = [&owner, &other, &ghost].map(|u| Action::Deactivate { target: Target::of_user(u) }).to_vec();
    let decision = provision::queue::gate(&Safety::default(), actions, &Knowledge::default());
    let info = BatchInfo { origin: "console".into(), policy_run: None, description: "deactivate 3 users".into() };
    let batch = provision::queue::submit(&journal, &info, decision).unwrap().id().to_string();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut runner = super::queue_runner::QueueRunner::new(client.clone(), Some(journal), Safety::default(), tx);
    let mut app = app_with(0);
    app.update(Msg::Unfinished(runner.unfinished().unwrap()));
    assert!(app.top::<Resume>().is_some(), "{:?}", titles(&app));
    assert_eq!(app.top::<Resume>().unwrap().offers[0].batch_id, batch);
    emu.reset_stats();
    let mut fx = key(&mut app, KeyCode::Enter);
    for round in 0..2 {
        assert_eq!(fx.len(), 1, "{fx:?}");
        runner.run(fx.remove(0));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let m = tokio::time::timeout_at(deadline, rx.recv()).await.expect("the batch finishes").expect("channel open");
            let done = matches!(m, Msg::Queue(QueueEvent::BatchFinished { .. }));
            app.update(m);
            if done {
                break;
            }
        }
        let b = app.queue.batch.as_ref().unwrap();
        assert_eq!(b.batch_id, batch);
        let failed: Vec<&QueueOp> = b.ops.iter().filter(|o| o.state == OpState::Failed).collect();
        assert_eq!(failed.len(), 1, "round {round}: {:?}", b.ops);
        assert!(failed[0].message.contains("no_such_user"), "Slack's reason is shown: {:?}", failed[0]);
        assert_eq!((b.count(OpState::Done), b.count(OpState::Skipped)), (1, 1), "round {round}: {:?}", b.ops);
        let skipped = b.ops.iter().find(|o| o.state == OpState::Skipped).unwrap();
        assert!(skipped.message.contains("primary owner"), "{skipped:?}");
        let done_lines =
            app.log.iter().filter(|e| e.text.contains(&format!("deactivate {}: done", other.primary_email().unwrap()))).count();
        assert_eq!(done_lines, 1, "round {round}: the done op is not run again");
        let s = screen(&mut app, 200, 50);
        assert!(s.contains("FAILED") && s.contains("no_such_user") && s.contains("skipped"), "{s}");
        fx = ch(&mut app, 'F');
        assert_eq!(fx, vec![Effect::RetryFailed { batch_id: batch.clone() }]);
    }
    assert_eq!(client.get_user(other.id()).await.unwrap().active, Some(false));
    assert!(client.get_user(owner.id()).await.unwrap().is_active());
    let deletes_or_patches_of_the_owner =
        emu.stats().log.iter().filter(|(_, e, s)| e.is_write() && *s != 404 && *s != 200 && *s != 204).count();
    assert_eq!(deletes_or_patches_of_the_owner, 0, "Slack was never asked to deactivate the owner (it refuses with 400)");
    emu.shutdown().await;
}

/// `cargo test --lib print_queue_screens -- --ignored --nocapture` prints the captures used in
/// docs/console.md.
#[test]
#[ignore]
fn print_queue_screens() {
    let mut app = app_with(200);
    typ(&mut app, "j   ");
    ch(&mut app, 'd');
    println!("{}", screen(&mut app, 100, 24));
    ch(&mut app, 'y');
    loaded_batch(&mut app, 6, Some(6.0));
    app.update(finished(1, OpState::Done, "ok", 0));
    app.update(finished(2, OpState::Failed, "user_not_found: no user with this id (HTTP 404)", 2));
    app.update(started(3));
    println!("{}", screen(&mut app, 100, 24));
}

pub fn past(batch_id: &str, description: &str, restorable: u64) -> provision::queue::journal::BatchHistory {
    provision::queue::journal::BatchHistory {
        batch_id: batch_id.into(),
        created: "2026-12-01T09:30:00Z".into(),
        origin: "console".into(),
        description: description.into(),
        host: "127.0.0.1".into(),
        policy_run: None,
        finished: true,
        total: 3,
        done: 3,
        failed: 0,
        open: 0,
        restorable,
    }
}

/// `Q` lists past batches (read afresh when it opens); `u` on one plans its undo (a batch that
/// deactivated users: their restore); the plan passes the gate and is confirmed once; `y` runs it as a batch of its own.
#[test]
fn q_lists_past_batches_and_u_restores_one_through_one_confirmation() {
    let mut app = app_with(50);
    assert_eq!(ch(&mut app, 'Q'), [Effect::ListBatches], "the list is read when the view opens");
    app.update(Msg::BatchesListed(Ok(vec![past("b-2", "add 2 members to eng", 0), past("b-1", "deactivate 3 users", 3)])));
    for s in [screen(&mut app, 80, 24), screen(&mut app, 200, 50)] {
        assert!(s.contains("past batches") && s.contains("deactivate 3 users") && s.contains("add 2 members to eng"), "{s}");
        assert!(s.contains("u: 3"), "what u can restore is on the row: {s}");
    }
    // The newest (selected) batch added members: u undoes it too (the whole batch).
    assert_eq!(ch(&mut app, 'u'), [Effect::PlanRestore { which: provision::queue::restore::Which::Batch("b-2".into()) }]);
    key(&mut app, KeyCode::Down);
    assert!(screen(&mut app, 80, 24).contains("u restore"), "the hint bar offers it");
    let which = provision::queue::restore::Which::Batch("b-1".into());
    assert_eq!(ch(&mut app, 'u'), [Effect::PlanRestore { which: which.clone() }]);
    // The plan: reactivate two deactivated users, put them back in eng.
    let mut users_now: Vec<scim::User> =
        (1..=2).map(super::tests::make_user).inspect(|u| assert!(app.dir.store.index_of(u.id()).is_some())).collect();
    for u in &mut users_now {
        u.active = Some(false);
    }
    let actions = vec![
        Action::Reactivate { target: Target::of_user(&users_now[0]) },
        Action::Reactivate { target: Target::of_user(&users_now[1]) },
        Action::AddMembers { group_id: "S001".into(), group_name: "eng".into(), user_ids: vec![id(1), id(2)] },
    ];
    let plan = provision::queue::restore::RestorePlan {
        actions: actions.clone(),
        known: Knowledge::from_users(users_now.iter()),
        names: HashMap::new(),
        notes: vec!["group old-team (S099) no longer exists; Bob Lee is not added back to it".into()],
        what: "restore batch b-1: 2 users, 1 group".into(),
        kept: vec![],
        conflicts: vec!["title of Bob Lee: the batch wrote \"A\", the server holds \"B\" now (changed since); left alone".into()],
        diff: vec![],
    };
    assert!(app.update(Msg::RestorePlanned { which, result: Ok(plan) }).is_empty(), "asking does nothing yet");
    let c = confirm(&app);
    assert_eq!(c.count(), 3, "{:?}", c.lines());
    assert!(app.log.iter().any(|e| e.text.contains("old-team") && e.text.contains("no longer exists")), "notes are in the Log");
    assert!(app.log.iter().any(|e| e.text.contains("conflict") && e.text.contains("left alone")), "conflicts are in the Log");
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("restore batch b-1") && s.contains("reactivate"), "{s}");
    let fx = ch(&mut app, 'y');
    let Some(Effect::RunBatch { decision, description }) = fx.first() else { panic!("{fx:?}") };
    assert_eq!(description, "restore batch b-1: 2 users, 1 group");
    assert_eq!(decision.runnable(), actions.as_slice(), "the deactivated members are not screened out: the batch reactivates them first");
}

/// A policy apply's batch, followed from its events: an op taken up is "waiting" until its
/// request leaves ("sending"); a cancel names every op it left unsent (the engine says each),
/// and none stays "pending" with an empty operation column.
#[test]
fn a_cancelled_apply_shows_waiting_sending_and_names_every_cancelled_op() {
    let mut app = app_with(10);
    let b = "b-apply".to_string();
    let op = |i: i64| format!("{b}-{i:05}");
    let mirror = |app: &mut App, ev: QueueEvent| app.queue.mirror_event(&ev, "policy hr");
    mirror(&mut app, QueueEvent::BatchStarted { batch_id: b.clone(), total: 3 });
    mirror(
        &mut app,
        QueueEvent::OpStarted { batch_id: b.clone(), op_id: op(1), seq: 1, describe: "deactivate a@x.example".into(), attempt: 1 },
    );
    mirror(
        &mut app,
        QueueEvent::OpStarted { batch_id: b.clone(), op_id: op(2), seq: 2, describe: "deactivate b@x.example".into(), attempt: 1 },
    );
    mirror(&mut app, QueueEvent::OpSending { batch_id: b.clone(), op_id: op(1), seq: 1 });
    ch(&mut app, 'Q');
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("sending   deactivate a@x") && s.contains("waiting   deactivate b@x"), "{s}");
    assert!(s.contains("sending 1 · waiting 1 · pending 1"), "{s}");
    // Cancelled: op 1 was on the wire and finishes; op 2 (waiting) and op 3 (never taken up)
    // are cancelled, each with its operation.
    mirror(
        &mut app,
        QueueEvent::OpFinished {
            batch_id: b.clone(),
            op_id: op(1),
            seq: 1,
            describe: "deactivate a@x.example".into(),
            state: OpState::Done,
            message: "ok".into(),
            retries: 0,
        },
    );
    for (i, who) in [(2, "b"), (3, "c")] {
        mirror(
            &mut app,
            QueueEvent::OpFinished {
                batch_id: b.clone(),
                op_id: op(i),
                seq: i,
                describe: format!("deactivate {who}@x.example"),
                state: OpState::Cancelled,
                message: "cancelled before it was sent".into(),
                retries: 0,
            },
        );
    }
    mirror(
        &mut app,
        QueueEvent::BatchFinished { batch_id: b.clone(), counts: HashMap::new(), elapsed: Duration::from_secs(1), cancelled: true },
    );
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("cancelled deactivate b@x") && s.contains("cancelled deactivate c@x"), "{s}");
    assert!(s.contains("pending 0 · cancelled 2") && !s.contains(" pending   "), "no row is left pending: {s}");
}

/// The console's rows keep each user's primary email only; a user protected by a secondary email
/// is still never deactivated: the runner reads the targets whole and gates them again before
/// anything is sent.
#[tokio::test]
async fn a_user_protected_by_a_secondary_email_is_skipped_by_the_console_too() {
    use emulator::{Emulator, EmulatorConfig};
    use scim::{ApiVersion, ClientConfig, MultiValue, RateLimit, ScimClient, Secret, User, UserUpdate};
    let emu = Emulator::start(
        EmulatorConfig { users: 30, groups: 2, seed: 8, token: "xoxp-prot".into(), ..Default::default() },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    let client = ScimClient::new(cc).unwrap();
    let (owner, bots) = (emu.primary_owner_id(), emu.bot_ids());
    let two: Vec<User> = client
        .all_users(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.is_active() && u.id() != owner && !bots.contains(&u.id().to_string()))
        .take(2)
        .collect();
    let primary = two[0].primary_email().unwrap().to_string();
    let set =
        User { emails: Some(vec![MultiValue::email(&primary, true), MultiValue::email("Pat@Home.Example", false)]), ..Default::default() };
    client.update_user(two[0].id(), &UserUpdate { set, clear: vec![] }).await.unwrap();
    let journal = super::queue_runner::QueueSetup::in_memory("test", &client.host()).journal.unwrap();
    let safety = Safety { protected: vec!["pat@home.example".into()], ..Default::default() };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut runner = super::queue_runner::QueueRunner::new(client.clone(), Some(journal), safety.clone(), tx);
    // What the console's table knows: the primary email only.
    let mut known = Knowledge::default();
    for u in &two {
        let mut f = provision::queue::gate::UserFacts::of(u);
        f.emails.clear();
        known.insert(u.id().into(), f);
    }
    let actions: Vec<Action> = two.iter().map(|u| Action::Deactivate { target: Target::of_user(u) }).collect();
    let decision = provision::queue::gate(&safety, actions, &known);
    assert_eq!(decision.runnable().len(), 2, "the table alone cannot tell");
    emu.reset_stats();
    runner.run(Effect::RunBatch { decision, description: "deactivate 2 users".into() });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut skipped_line = false;
    loop {
        let m = tokio::time::timeout_at(deadline, rx.recv()).await.expect("the batch finishes").expect("channel open");
        if let Msg::Log(e) = &m {
            skipped_line |= e.text.contains("skipping deactivate") && e.text.contains("protected");
        }
        if matches!(m, Msg::Queue(QueueEvent::BatchFinished { .. })) {
            break;
        }
    }
    assert!(skipped_line, "the skip is in the Log");
    assert_eq!(emu.stats().writes(), 1, "only the unprotected user: {:?}", emu.stats().by_method);
    assert!(client.get_user(two[0].id()).await.unwrap().is_active());
    assert!(!client.get_user(two[1].id()).await.unwrap().is_active());
    emu.shutdown().await;
}

/// Issue 25, defect 12 and 23: one wording for member changes (the plan and the gate both count
/// members: `11 members to add`, not `11 member add` beside `1 to add members`), and counts with
/// thousands separators as the status line has them.
#[test]
fn the_gate_line_counts_members_as_the_plan_does_and_separates_thousands() {
    use crate::confirm::{gate_line, thousands_in};
    let ids: Vec<String> = (0..11).map(|i| format!("W{i:08}")).collect();
    let add = Action::AddMembers { group_id: "S1".into(), group_name: "eng".into(), user_ids: ids };
    let d = provision::queue::gate(&Safety::default(), vec![add], &Knowledge::default());
    assert_eq!(d.summary(), "1 to add members", "the gate's own line counts actions");
    assert_eq!(gate_line(&d), "11 members to add (1 group)");
    let users: Vec<scim::User> = (0..1200).map(crate::tests::make_user).filter(|u| u.active == Some(true)).collect();
    let actions: Vec<Action> = users.iter().map(|u| Action::Deactivate { target: Target::of_user(u) }).collect();
    let d = provision::queue::gate(&Safety { force: true, ..Safety::default() }, actions, &Knowledge::from_users(users.iter()));
    assert_eq!(gate_line(&d), format!("{} to deactivate", crate::draw::thousands(users.len() as u64)));
    assert!(gate_line(&d).contains(','), "{}", gate_line(&d));
    assert_eq!(
        thousands_in("96926 to deactivate · skipped: 4 already deactivated, b-20261122 W12345"),
        "96,926 to deactivate · skipped: 4 already deactivated, b-20261122 W12345"
    );
    // The plan's summary words member changes the same way.
    let mut p = crate::panes_tests::plan(0);
    p.member_adds[0].members =
        (0..11).map(|i| provision::policy::plan::MemberRef::User { id: format!("W{i}"), label: format!("u{i}") }).collect();
    let s = provision::present::plan_summary_short(&p);
    assert!(s.contains("11 members to add") && !s.contains("member add"), "{s}");
    use crate::draw::counted;
    assert_eq!(
        [counted(1, "retry"), counted(2, "retry"), counted(1, "record"), counted(1000, "record")],
        ["1 retry", "2 retries", "1 record", "1,000 records"]
    );
    assert_eq!(counted(2, "unfinished batch"), "2 unfinished batches");
}

/// Issue 25, defect 8: a failed read no longer gives up the whole retry (each op it concerns stays
/// failed, saying why, and the rest goes on), and a failed op counts the retries of the read made
/// before sending (it said `retries 0` after two seconds of them).
#[tokio::test]
async fn a_failed_read_fails_its_op_not_the_whole_retry_and_retries_are_counted() {
    use emulator::{Emulator, EmulatorConfig, Faults};
    use scim::{ApiVersion, ClientConfig, RateLimit, ScimClient, Secret};
    let emu = Emulator::start(
        EmulatorConfig { users: 30, groups: 2, seed: 9, token: "xoxp-r".into(), ..Default::default() },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let mut cc = ClientConfig::new(&emu.base_url(ApiVersion::V2), Secret::new(emu.token()), ApiVersion::V2).unwrap();
    cc.rate_limit = RateLimit::Off;
    cc.backoff_base = Duration::from_millis(2);
    cc.max_retries = 3;
    let client = ScimClient::new(cc).unwrap();
    let all = client.all_users(None).await.unwrap();
    let two: Vec<scim::User> = all
        .iter()
        .filter(|u| u.is_active() && u.id() != emu.primary_owner_id() && !emu.bot_ids().contains(&u.id().to_string()))
        .take(2)
        .cloned()
        .collect();
    let journal = super::queue_runner::QueueSetup::in_memory("test", &client.host()).journal.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut runner = super::queue_runner::QueueRunner::new(client.clone(), Some(journal), Safety::default(), tx);
    let mut app = app_with(0);
    // Every request answers 503: the deactivations fail while reading what they take away.
    emu.set_faults(Faults { p503: 1.0, ..Default::default() });
    let actions = two.iter().map(|u| Action::Deactivate { target: Target::of_user(u) }).collect();
    let decision = provision::queue::gate(&Safety::default(), actions, &Knowledge::default());
    run_to_end(&mut runner, &mut rx, &mut app, Effect::RunBatch { decision, description: "deactivate 2 users".into() }).await;
    let b = app.queue.batch.clone().unwrap();
    assert_eq!(b.count(OpState::Failed), 2, "{:?}", b.ops);
    assert!(b.ops.iter().all(|o| o.retries == 3), "the read's retries are counted: {:?}", b.ops);
    // F (in the queue view) while the reads still fail: both stay failed with the reason; the
    // batch finishes.
    if app.top::<QueueView>().is_none() {
        ch(&mut app, 'Q');
    }
    let fx = ch(&mut app, 'F');
    assert_eq!(fx.len(), 1, "{fx:?}");
    run_to_end(&mut runner, &mut rx, &mut app, fx.into_iter().next().unwrap()).await;
    let b = app.queue.batch.clone().unwrap();
    assert_eq!(b.count(OpState::Failed), 2, "{:?}", b.ops);
    let lines: Vec<&str> = app.log.iter().map(|e| e.text.as_str()).filter(|t| t.contains("first failed")).collect();
    assert_eq!(lines.len(), 2, "one line per op not sent: {:?}", app.log);
    assert!(lines.iter().all(|l| l.contains("not sent: reading W") && l.contains("F retries it")), "{lines:?}");
    // The reads work again: F sends both.
    emu.set_faults(Faults::default());
    let fx = ch(&mut app, 'F');
    run_to_end(&mut runner, &mut rx, &mut app, fx.into_iter().next().unwrap()).await;
    let b = app.queue.batch.clone().unwrap();
    assert_eq!(b.count(OpState::Done), 2, "{:?}", b.ops);
    for u in &two {
        assert_eq!(client.get_user(u.id()).await.unwrap().active, Some(false));
    }
    emu.shutdown().await;
}

async fn run_to_end(
    runner: &mut super::queue_runner::QueueRunner,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Msg>,
    app: &mut App,
    e: Effect,
) {
    runner.run(e);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let m = tokio::time::timeout_at(deadline, rx.recv()).await.expect("the batch finishes").expect("channel open");
        assert!(!matches!(m, Msg::QueueFailed(_)), "the whole run gave up: {m:?}");
        let done = matches!(m, Msg::Queue(QueueEvent::BatchFinished { .. }));
        app.update(m);
        if done {
            break;
        }
    }
}
