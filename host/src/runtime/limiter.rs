//! [`MemoryLimiter`]: the hard cap on a sandbox's linear memory.

use wasmtime::{ResourceLimiter, Result};

use super::meter::FuelOwed;
use super::trap::MemoryCapReached;

/// Most table elements a guest may have (its function pointers).
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The hard cap on a sandbox's linear memory, and its high-water mark.
///
/// Growing past the cap is a trap carrying [`MemoryCapReached`] (not a
/// failed `memory.grow`), so the guest cannot limp on and the host reports
/// the trap as a memory limit by its payload. Growth is host work the
/// guest pays for in fuel (see [`super::meter`]).
pub(crate) struct MemoryLimiter {
    cap: usize,
    peak: usize,
    pub(crate) owed: FuelOwed,
}

impl MemoryLimiter {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap,
            peak: 0,
            owed: FuelOwed::default(),
        }
    }

    pub(crate) fn peak(&self) -> usize {
        self.peak
    }

    /// Sets the peak: a restored sandbox has its original's.
    pub(crate) fn set_peak(&mut self, peak: usize) {
        self.peak = peak;
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool> {
        if desired > self.cap || maximum.is_some_and(|max| desired > max) {
            return Err(MemoryCapReached.into());
        }
        // The first "growth" is the instance's initial memory: the guest's
        // image, not something the script asked for.
        if current > 0 {
            self.owed.memory_growth(current, desired);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    /// A growth that the engine itself refused (e.g. past a pooling slot)
    /// must trap too: the guest would otherwise see a failed allocation
    /// outside Lua's accounting and abort.
    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> Result<()> {
        Err(MemoryCapReached.into())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool> {
        // Tables only hold the guest's function pointers; bound them anyway.
        Ok(desired <= MAX_TABLE_ELEMENTS && maximum.is_none_or(|max| desired <= max))
    }
}
