//! The ECS integration: [`ScriptSystem`] runs the mods' handlers against a
//! `hecs::World` and owns the links between entities and the mods that
//! spawned them; [`TickReport`] says what happened to each mod.

pub(crate) mod event;
mod report;
mod script_system;

pub use event::{EventError, MAX_EVENT_DEPTH};
pub use report::{Handover, Outcome, TickReport};
pub(crate) use script_system::SystemState;
pub use script_system::{MAX_PENDING_EVENT_BYTES, ScriptSystem, WorldUsage};
