//! The action queue: actions are screened by the safety rules, journaled as a batch, and run by
//! the engine at the rate Slack allows. Knows nothing of the UI.

pub mod action;
pub mod engine;
pub mod input;
pub mod journal;

pub use action::{Action, Target};
pub use engine::{BatchResult, Cancel, DeactivateVia, Engine, EngineConfig, QueueEvent};
pub use journal::{BatchInfo, Journal, OpState, RunContext};

/// Default per-run ceiling on deactivations (accidental-deletion prevention).
pub const DEFAULT_MAX_DEACTIVATIONS: usize = 100;

/// The order a mixed batch runs in: create before use, deactivate last.
pub fn phase_of(a: &Action) -> u8 {
    match a {
        Action::CreateUser { .. } => 0,
        Action::Reactivate { .. } => 1,
        Action::UpdateUser { .. } => 2,
        Action::CreateGroup { .. } => 3,
        Action::RenameGroup { .. } => 4,
        Action::AddMembers { .. } => 5,
        Action::RemoveMembers { .. } => 6,
        Action::Deactivate { .. } => 7,
        Action::DeleteGroup { .. } => 8,
    }
}

/// Safety rules applied before anything is journaled.
#[derive(Clone, Debug)]
pub struct Safety {
    /// Emails (any case) or ids that are never touched.
    pub protected: Vec<String>,
    pub max_deactivations: usize,
    /// Let a run pass the ceiling.
    pub force: bool,
}

impl Default for Safety {
    fn default() -> Self {
        Safety { protected: Vec::new(), max_deactivations: DEFAULT_MAX_DEACTIVATIONS, force: false }
    }
}

/// Actions split into those that will run and those a safety rule skipped (with the reason).
#[derive(Debug, Default)]
pub struct Screened {
    pub run: Vec<Action>,
    pub skipped: Vec<(Action, String)>,
}

impl Screened {
    pub fn deactivations(&self) -> usize {
        self.run.iter().filter(|a| matches!(a, Action::Deactivate { .. })).count()
    }
}

impl Safety {
    pub fn from_profile(p: &crate::config::Profile, force: bool) -> Safety {
        Safety { protected: p.protected.clone(), max_deactivations: p.max_deactivations.unwrap_or(DEFAULT_MAX_DEACTIVATIONS), force }
    }

    fn is_protected(&self, t: &Target) -> bool {
        self.protected.iter().any(|p| {
            let p = p.trim();
            t.id.as_deref().is_some_and(|id| id == p) || t.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(p))
        })
    }

    /// Skip actions on protected users (they are still journaled and reported, as `skipped`).
    pub fn screen(&self, actions: Vec<Action>) -> Screened {
        let mut s = Screened::default();
        for a in actions {
            let user_action = matches!(a, Action::Deactivate { .. } | Action::Reactivate { .. } | Action::UpdateUser { .. });
            if user_action && self.is_protected(&a.target()) {
                s.skipped.push((a, "protected by the config's protected list".into()));
            } else if let Action::AddMembers { user_ids, .. } | Action::RemoveMembers { user_ids, .. } = &a
                && matches!(a, Action::RemoveMembers { .. })
                && user_ids.iter().any(|id| self.protected.iter().any(|p| p == id))
            {
                s.skipped.push((a, "removes a protected user from a group".into()));
            } else {
                s.run.push(a);
            }
        }
        s
    }

    /// The ceiling: more deactivations than allowed need `--force` (or a typed confirmation).
    pub fn check_ceiling(&self, s: &Screened) -> Result<(), String> {
        let n = s.deactivations();
        if n > self.max_deactivations && !self.force {
            return Err(format!(
                "this run would deactivate {n} users, above the ceiling of {} (max_deactivations in the profile); pass --force if that is really meant",
                self.max_deactivations
            ));
        }
        Ok(())
    }
}

/// Journal a screened batch: runnable ops pending, skipped ones finished as `skipped` at once.
pub fn submit(journal: &Journal, info: &BatchInfo, screened: &Screened) -> anyhow::Result<String> {
    let mut all: Vec<(u8, Action)> = screened.run.iter().map(|a| (phase_of(a), a.clone())).collect();
    all.extend(screened.skipped.iter().map(|(a, _)| (phase_of(a), a.clone())));
    let (batch_id, ids) = journal.create_batch(info, &all)?;
    for ((_, reason), id) in screened.skipped.iter().zip(&ids[screened.run.len()..]) {
        journal.finish(
            id,
            OpState::Skipped,
            &journal::Finish { note: Some(reason.clone()), error_code: Some("protected".into()), ..Default::default() },
        )?;
    }
    Ok(batch_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deact(email: &str, id: &str) -> Action {
        Action::Deactivate { target: Target { id: Some(id.into()), email: Some(email.into()), ..Default::default() } }
    }

    #[test]
    fn protected_users_are_skipped_and_ceiling_holds() {
        let safety = Safety { protected: vec!["CEO@acme.example".into(), "W0BOSS".into()], max_deactivations: 2, force: false };
        let s = safety.screen(vec![
            deact("ceo@acme.example", "W1"),
            deact("a@x.example", "W0BOSS"),
            deact("b@x.example", "W3"),
            deact("c@x.example", "W4"),
            deact("d@x.example", "W5"),
        ]);
        assert_eq!(s.skipped.len(), 2);
        assert_eq!(s.run.len(), 3);
        let e = safety.check_ceiling(&s).unwrap_err();
        assert!(e.contains("deactivate 3") && e.contains("--force"), "{e}");
        assert!(Safety { force: true, ..safety }.check_ceiling(&s).is_ok());
    }

    #[test]
    fn submit_journals_skips_as_reported_records() {
        let j = Journal::in_memory(RunContext::new("test", "127.0.0.1", &crate::env::Actor::default())).unwrap();
        let safety = Safety { protected: vec!["W1".into()], ..Default::default() };
        let s = safety.screen(vec![deact("a@x.example", "W1"), deact("b@x.example", "W2")]);
        let info = BatchInfo { origin: "test".into(), policy_run: None, description: "t".into() };
        let b = submit(&j, &info, &s).unwrap();
        let counts = j.counts(&b).unwrap();
        assert_eq!(counts.get(&OpState::Skipped), Some(&1));
        assert_eq!(counts.get(&OpState::Pending), Some(&1));
        assert_eq!(j.unfinished_batches().unwrap().len(), 1);
    }
}
