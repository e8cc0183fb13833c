//! `scimitar users update` (the field-level edit of users: `queue::edit`) and `scimitar restore`
//! (undo deactivations with what they took away: `queue::restore`). Both hand their actions to
//! the one gate and run them as a journaled batch (`bulk::execute` / `bulk::submit_and_run`).

use crate::bulk;
use crate::command_error::Fail;
use crate::env::Environment;
use crate::exit;
use crate::flags::RunArgs;
use crate::output::Rows;
use crate::queue::edit::{self, Attr, EditRow, FieldSet, UserEdit};
use crate::queue::restore::{self, Which};
use crate::queue::{BatchInfo, Knowledge};
use crate::scim::sanitize::quoted_excerpt;
use crate::scim::{ScimClient, User};
use std::path::Path;

/// `users update ID|EMAIL --set f=v ...` or `users update --from FILE.csv`.
pub async fn update(env: &Environment, user: Option<&str>, sets: &[String], from: Option<&Path>, run: &RunArgs) -> Result<i32, Fail> {
    // Everything typed is checked before anything is looked up.
    let rows: Vec<EditRow> = match (user, from) {
        (Some(who), None) => {
            if sets.is_empty() {
                return Err(Fail::new(exit::USAGE, "nothing to set: give --set FIELD=VALUE (e.g. --set title=\"Staff Engineer\")"));
            }
            let mut parsed = Vec::new();
            let mut bad = Vec::new();
            for s in sets {
                match FieldSet::parse(s).and_then(|f| edit::check(&f).map(|_| f)) {
                    Ok(f) => parsed.push(f),
                    Err(e) => bad.push(format!("--set {}: {e}", quoted_excerpt(s, 80))),
                }
            }
            if !bad.is_empty() {
                return Err(Fail::new(exit::USAGE, format!("{}\nnothing was done", bad.join("\n"))));
            }
            vec![EditRow { origin: "argument".into(), who: who.to_string(), sets: parsed }]
        }
        (None, Some(path)) => edit::read_csv(path).map_err(bulk::input_errors)?,
        _ => return Err(Fail::new(exit::USAGE, "give a user (id or email) with --set FIELD=VALUE, or --from FILE.csv")),
    };
    let (c, safety) = bulk::writer(env, run)?;
    let mut errors = Vec::new();
    let mut edits: Vec<(String, User, UserEdit)> = Vec::new();
    for mut row in rows {
        let u = match crate::queue::input::find_user(c.client, &row.who).await {
            Ok(Ok(u)) => u,
            Ok(Err(miss)) => {
                errors.push(format!("{}: {miss}", row.origin));
                continue;
            }
            Err(e @ crate::scim::ScimError::Invalid(_)) => {
                errors.push(format!("{}: {e}", row.origin));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        // A manager given by email or userName is sent as the manager's id (as `users create`).
        if let Err(e) = manager_ids(c.client, &mut row.sets).await? {
            errors.push(format!("{}: {e}", row.origin));
            continue;
        }
        match edit::diff(&u, &row.sets) {
            Ok(e) => edits.push((row.origin, u, e)),
            Err(e) => errors.push(format!("{}: {e}", row.origin)),
        }
    }
    if !errors.is_empty() {
        return Err(bulk::input_errors(errors));
    }
    let mut table = Rows::new(vec!["user", "id", "field", "old", "new"]);
    for (_, u, e) in &edits {
        for ch in &e.changes {
            let json = serde_json::json!({"user": u.label(), "id": u.id(), "field": ch.attr.short(), "old": ch.old, "new": ch.new});
            table.push(
                vec![
                    u.label(),
                    u.id().to_string(),
                    ch.attr.short().into(),
                    ch.old.clone().unwrap_or_default(),
                    ch.new.clone().unwrap_or_default(),
                ],
                Some(json),
            );
        }
    }
    let unchanged: Vec<&str> = edits.iter().filter(|(_, _, e)| e.is_empty()).map(|(o, _, _)| o.as_str()).collect();
    if !unchanged.is_empty() && edits.len() <= 20 {
        for (o, u, _) in edits.iter().filter(|(_, _, e)| e.is_empty()) {
            eprintln!("scimitar: {o}: {} is already as asked", crate::sanitize::clean(&u.label()));
        }
    }
    let known = Knowledge::from_users(edits.iter().map(|(_, u, _)| u));
    let actions: Vec<_> = edits.iter().filter_map(|(_, u, e)| e.action(u)).collect();
    if actions.is_empty() {
        eprintln!("scimitar: nothing to do: every value is already as asked");
        return Ok(exit::OK);
    }
    if run.dry_run {
        // The field-level diff is the dry run: what would be sent, old -> new.
        let decision = bulk::gate(&safety, actions, &known);
        if decision.is_read_only() {
            return Err(Fail::new(exit::USAGE, "--read-only: this command changes Slack; nothing was done"));
        }
        table.write(run.output, &mut std::io::stdout().lock())?;
        eprintln!("scimitar: dry run: {}; nothing was changed", crate::sanitize::clean(&decision.summary()));
        return Ok(exit::OK);
    }
    for (_, u, e) in &edits {
        for l in e.lines() {
            eprintln!("scimitar: {}: {}", crate::sanitize::clean(&u.label()), crate::sanitize::clean(&l));
        }
    }
    bulk::execute(c, &safety, actions, &known, run, "update users").await
}

/// Replace a manager given as an email or userName by the id of the user it names.
async fn manager_ids(client: &ScimClient, sets: &mut [FieldSet]) -> Result<Result<(), String>, Fail> {
    for s in sets.iter_mut() {
        if Attr::from_field(&s.field) != Some(Attr::Manager) || s.value.trim().is_empty() {
            continue;
        }
        match crate::queue::input::find_user(client, s.value.trim()).await {
            Ok(Ok(boss)) => s.value = boss.id().to_string(),
            Ok(Err(_)) => return Ok(Err(format!("the manager {} is no user here", quoted_excerpt(&s.value, 80)))),
            Err(e @ crate::scim::ScimError::Invalid(_)) => return Ok(Err(format!("manager: {e}"))),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Ok(()))
}

/// `scimitar restore --batch B | --user U`: undo every done operation of a batch from the
/// journal's before-values (`queue::restore`), or reactivate the user's latest deactivation, with
/// the group memberships and roles the journal kept.
/// `scimitar restore`.
pub async fn restore_command(
    env: &Environment,
    batch: Option<&str>,
    user: Option<&str>,
    deactivate_created: bool,
    run: &RunArgs,
) -> Result<i32, Fail> {
    restore(env, batch, user, crate::queue::restore::Options { deactivate_created }, run).await
}

pub async fn restore(
    env: &Environment,
    batch: Option<&str>,
    user: Option<&str>,
    opts: restore::Options,
    run: &RunArgs,
) -> Result<i32, Fail> {
    let (c, safety) = bulk::writer(env, run)?;
    let which = match (batch, user) {
        (Some(b), None) => Which::Batch(b.to_string()),
        (None, Some(u)) => {
            // An email or userName names the user; the journal knows them by id.
            let id = match crate::queue::input::find_user(c.client, u).await? {
                Ok(found) => found.id().to_string(),
                Err(miss) => return Err(Fail::new(exit::NOT_FOUND, miss)),
            };
            Which::User(id)
        }
        _ => return Err(Fail::new(exit::USAGE, "give --batch BATCH_ID or --user ID|EMAIL")),
    };
    let journal = bulk::open_journal(c)?;
    let plan = restore::plan_with(c.client, &journal, &which, opts).await.map_err(|e| match e {
        restore::RestoreError::NothingKept(m) => Fail::new(exit::NOT_FOUND, m),
        restore::RestoreError::Scim(e) => e.into(),
        e => Fail::new(exit::FAILURE, e.to_string()),
    })?;
    for n in &plan.notes {
        eprintln!("scimitar: note: {}", crate::sanitize::clean(n));
    }
    for k in &plan.kept {
        let who = plan.names.get(&k.kept.user_id).cloned().unwrap_or_else(|| k.target.label());
        eprintln!("scimitar: {} had {}", crate::sanitize::clean(&who), crate::sanitize::clean(&k.kept.summary()));
    }
    for c in &plan.conflicts {
        eprintln!("scimitar: conflict: {}", crate::sanitize::clean(c));
    }
    let decision = bulk::gate(&safety, plan.actions, &plan.known);
    if decision.is_read_only() {
        return Err(Fail::new(exit::USAGE, "--read-only: this command changes Slack; nothing was done"));
    }
    if run.dry_run {
        // The diff: every value and membership it would set back, from what to what.
        let mut rows = Rows::new(vec!["action", "object", "id", "field", "now", "back"]);
        for d in &plan.diff {
            let json = serde_json::to_value(d).ok();
            rows.push(vec![d.action.clone(), d.object.clone(), d.id.clone(), d.field.clone(), d.now.clone(), d.back.clone()], json);
        }
        rows.write(run.output, &mut std::io::stdout().lock())?;
        if let Some(e) = decision.ceiling() {
            eprintln!("scimitar: note: {e}");
        }
        eprintln!(
            "scimitar: dry run: {}{}; nothing was changed",
            crate::sanitize::clean(&decision.summary()),
            if plan.conflicts.is_empty() {
                String::new()
            } else {
                format!("; {} left alone", crate::words::count(plan.conflicts.len(), "conflict"))
            }
        );
        return Ok(exit::OK);
    }
    if decision.is_empty() {
        eprintln!("scimitar: nothing to do: {}", crate::sanitize::clean(&decision.summary()));
        return Ok(exit::OK);
    }
    // Over the profile's approval_over: held for another account's approval, nothing sent.
    if decision.needs_approval().is_some() {
        return crate::bulk::hold(c, &decision, crate::queue::engine::RESTORE_ORIGIN, None, &plan.what, None);
    }
    // A restore passes the gate like any batch: over a ceiling only --force (or the typed count)
    // passes it; one confirmation for the whole restore (`--yes` skips it).
    let held = decision.ceiling().is_some();
    let decision = bulk::approve(decision, None, run, &plan.what)?;
    // `approve` asked already for a ceiling or a destructive batch; any other restore asks too.
    if !run.yes && !held && decision.destructive() == 0 && !bulk::confirm(&decision, &plan.what, None)? {
        return Err(Fail::new(exit::FAILURE, "not confirmed; nothing was done"));
    }
    // Recorded as a restore naming the batch it undoes, under the org's lease like any write
    // (held by another writer: exit 75 naming it, or --wait).
    let info = BatchInfo { origin: crate::queue::engine::RESTORE_ORIGIN.into(), policy_run: None, description: plan.what.clone() };
    let (_lease, journal) = bulk::take_lease(c, run, &bulk::command_line())?;
    bulk::submit_and_run(c, journal, &info, decision, run).await
}
