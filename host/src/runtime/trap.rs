//! Traps: the payloads the host raises to end a call, and how a trap is
//! reported as a [`ScriptError`].
//!
//! A host function or the memory limiter that must stop the guest returns
//! one of the payload types below as its error; wasmtime unwinds the guest
//! and hands the same error back from the call, where [`classify`] finds it
//! by downcasting. Nothing is stored on the side and read back.

use wasmtime::Trap;

use crate::{LimitKind, Limits, ScriptError};

/// Trap payload: the sandbox's linear memory reached its hard cap.
#[derive(Debug, thiserror::Error)]
#[error("the sandbox reached its hard memory cap")]
pub(crate) struct MemoryCapReached;

/// Trap payload: the script attempted something its permissions deny, and
/// the policy ends the call for it (uncatchable, so `pcall` cannot probe).
#[derive(Debug, thiserror::Error)]
#[error("security violation: {message}")]
pub(crate) struct ViolationTrap {
    /// What was refused.
    pub(crate) message: String,
}

/// Trap payload: a mod went past a bound on what it may make the host hold
/// (its entity quota, the size of a component value).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct WorldLimitTrap {
    /// Which bound, and the mod's figure against it.
    pub(crate) message: String,
}

/// Names the limit or violation behind a trap, or reports an internal
/// error. `guest_stderr` is what the guest wrote before it trapped (a
/// panic message), kept for the report of an internal error.
pub(crate) fn classify(
    trap: &wasmtime::Error,
    guest_stderr: &[u8],
    limits: &Limits,
    doing: &str,
) -> ScriptError {
    let limit = |kind, message: String| ScriptError::ResourceLimitExceeded { kind, message };
    if let Some(violation) = trap.downcast_ref::<ViolationTrap>() {
        return ScriptError::SecurityViolation {
            message: violation.message.clone(),
        };
    }
    if let Some(world) = trap.downcast_ref::<WorldLimitTrap>() {
        return limit(LimitKind::World, world.message.clone());
    }
    if trap.downcast_ref::<MemoryCapReached>().is_some() {
        return limit(
            LimitKind::Memory,
            format!(
                "the sandbox reached its hard memory cap of {} bytes",
                limits.hard_memory_cap()
            ),
        );
    }
    match trap.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => limit(
            LimitKind::Fuel,
            format!(
                "the script used all {} units of fuel of one call",
                limits.fuel
            ),
        ),
        Some(Trap::Interrupt) => limit(
            LimitKind::WallClock,
            format!("the script ran longer than {:?}", limits.wall_clock),
        ),
        Some(Trap::StackOverflow) => limit(LimitKind::Stack, "the wasm stack was exhausted".into()),
        _ => {
            // Not a limit: a bug in the guest (a panic aborts it) or an
            // instantiation failure such as a full pool. Keep what the guest
            // wrote to stderr, if anything, for the report.
            let said = String::from_utf8_lossy(guest_stderr);
            let said = said.trim();
            let message = if said.is_empty() {
                format!("{doing}: {trap:#}")
            } else {
                format!("{doing}: {trap:#} (guest stderr: {said})")
            };
            ScriptError::Host { message }
        }
    }
}
