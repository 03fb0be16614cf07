//! Deterministic replay: record a simulation's inputs and per-tick results,
//! run it again from the file, and find the first tick that differs.
//!
//! A [`Simulation`] is fully decided by its [`Inputs`]: the seed, the time
//! step, the starting world, the mods' sources and manifests, the injected
//! events and the policy. Everything a script can observe comes from these
//! (see DETERMINISM.md), so running the same inputs gives the same world
//! hash and the same fuel at every tick. [`ReplayFile`] is the on-disk form
//! (format in `docs/replay.md`); [`replay`] re-runs one and compares.

mod diff;
mod file;
mod inputs;
mod run;
mod simulation;
mod start;

pub use diff::{Difference, first_difference};
pub use file::{FORMAT_VERSION, MAX_REPLAY_FILE_BYTES, ReplayError, ReplayFile};
pub use inputs::{Inputs, RecordedEvent, RecordedMod, TickRecord, WorldJson};
pub use run::{Divergence, ReplayReport, replay};
pub use simulation::{MAX_EVENTS_PER_TICK, Simulation};
pub use start::StartSnapshot;
