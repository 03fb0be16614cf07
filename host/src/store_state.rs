//! What each sandbox's wasmtime `Store` holds, and its memory limiter.

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Result};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::{GuestChannel, moonbox::sandbox::console};
use crate::console::{Channel, Console};

/// The data of one sandbox's store.
pub(crate) struct StoreState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) console: Console,
    pub(crate) memory: MemoryLimiter,
    pub(crate) stderr: MemoryOutputPipe,
}

impl StoreState {
    /// A placeholder with nothing in it, while a discarded store is taken apart.
    pub(crate) fn empty() -> Self {
        let stderr = MemoryOutputPipe::new(0);
        Self {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            console: Console::new(0, 0),
            memory: MemoryLimiter::new(0),
            stderr,
        }
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl console::Host for StoreState {
    fn write(&mut self, channel: GuestChannel, line: String) {
        let channel = match channel {
            GuestChannel::Out => Channel::Out,
            GuestChannel::Warn => Channel::Warn,
        };
        self.console.push(channel, line);
    }
}

/// The hard cap on a sandbox's linear memory, and its high-water mark.
///
/// Growing past the cap is a trap (not a failed `memory.grow`), so the guest
/// cannot limp on; `cap_hit` lets the host report it as a memory limit.
pub(crate) struct MemoryLimiter {
    cap: usize,
    peak: usize,
    cap_hit: bool,
}

impl MemoryLimiter {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap,
            peak: 0,
            cap_hit: false,
        }
    }

    pub(crate) fn peak(&self) -> usize {
        self.peak
    }

    pub(crate) fn cap_hit(&self) -> bool {
        self.cap_hit
    }
}

/// Returned (as a trap) when the hard cap is reached.
#[derive(Debug)]
pub(crate) struct MemoryCapReached;

impl std::fmt::Display for MemoryCapReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the sandbox reached its hard memory cap")
    }
}

impl std::error::Error for MemoryCapReached {}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool> {
        if desired > self.cap || maximum.is_some_and(|max| desired > max) {
            self.cap_hit = true;
            return Err(MemoryCapReached.into());
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    /// A growth that the engine itself refused (e.g. past a pooling slot)
    /// must trap too: the guest would otherwise see a failed allocation
    /// outside Lua's accounting and abort.
    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> Result<()> {
        self.cap_hit = true;
        Err(error)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool> {
        // Tables only hold the guest's function pointers; bound them anyway.
        Ok(desired <= 100_000 && maximum.is_none_or(|max| desired <= max))
    }
}
