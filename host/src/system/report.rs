//! [`TickReport`]: what happened to each mod in one tick or event.

use std::sync::Arc;

use crate::{Command, ScriptError};

/// What happened to one mod in one tick or event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Its handler ran (or it has none for this) and its writes were kept.
    Ran,
    /// Its handler failed; its writes were rolled back.
    Failed {
        /// The error.
        error: ScriptError,
        /// Whether the mod was disabled for it.
        disabled: bool,
    },
}

/// What a reload with state ([`crate::ScriptSystem::reload`]) handed from
/// the old version of a mod to the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handover {
    /// `on_unload` returned a state of this many bytes (MessagePack), which
    /// the new version's `on_reload(state)` receives at its next tick.
    State {
        /// Its size, encoded.
        bytes: usize,
    },
    /// The old version has no `on_unload`: the new one starts with `on_load`.
    NoHandler,
    /// The old version was disabled, so nothing of it ran: the new one
    /// starts with `on_load`.
    NotActive,
    /// `on_unload` failed (its writes rolled back): the new version starts
    /// with `on_load`.
    Failed {
        /// The error.
        error: ScriptError,
    },
}

/// The outcome of each mod that ran in one tick (or one event), in the
/// order they ran (name order). The system reuses one report, so a tick
/// allocates nothing for it once the mods are known.
///
/// ```
/// # use moonbox::{Outcome, TickReport};
/// let report = TickReport::default();
/// assert!(report.all_ran());
/// assert_eq!(report.get("movement"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    outcomes: Vec<(Arc<str>, Outcome)>,
    commands: Vec<Command>,
}

impl TickReport {
    /// Each mod that ran and its outcome, in the order they ran.
    pub fn outcomes(&self) -> impl ExactSizeIterator<Item = (&str, &Outcome)> {
        self.outcomes
            .iter()
            .map(|(name, outcome)| (&**name, outcome))
    }

    /// The outcome of mod `name`, if it ran.
    pub fn get(&self, name: &str) -> Option<&Outcome> {
        self.outcomes
            .iter()
            .find(|(mod_name, _)| &**mod_name == name)
            .map(|(_, outcome)| outcome)
    }

    /// Whether every mod that ran kept its writes.
    pub fn all_ran(&self) -> bool {
        self.outcomes
            .iter()
            .all(|(_, outcome)| *outcome == Outcome::Ran)
    }

    /// The mods whose handler failed, with their error and whether they
    /// were disabled for it.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &ScriptError, bool)> {
        self.outcomes
            .iter()
            .filter_map(|(name, outcome)| match outcome {
                Outcome::Ran => None,
                Outcome::Failed { error, disabled } => Some((&**name, error, *disabled)),
            })
    }

    /// The commands mods emitted in calls that committed: mods in the
    /// order they ran, each mod's in the order emitted. A call that failed
    /// (error, limit, violation) delivers none of its commands.
    pub fn commands(&self) -> &[Command] {
        &self.commands
    }

    pub(crate) fn extend_commands(&mut self, commands: Vec<Command>) {
        self.commands.extend(commands);
    }

    /// How many mods ran.
    pub fn len(&self) -> usize {
        self.outcomes.len()
    }

    /// Whether no mod ran.
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.outcomes.clear();
        self.commands.clear();
    }

    pub(crate) fn push(&mut self, name: &Arc<str>, outcome: Outcome) {
        self.outcomes.push((Arc::clone(name), outcome));
    }
}

impl std::ops::Index<&str> for TickReport {
    type Output = Outcome;

    /// The outcome of mod `name`.
    ///
    /// # Panics
    /// If that mod did not run; use [`TickReport::get`] to ask.
    fn index(&self, name: &str) -> &Outcome {
        match self.get(name) {
            Some(outcome) => outcome,
            None => panic!("mod '{name}' did not run in this tick"),
        }
    }
}
