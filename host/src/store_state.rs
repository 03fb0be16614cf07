//! What each sandbox's wasmtime `Store` holds, and its memory limiter.

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Result};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::{
    FrameInfo, GuestChannel, QueryPage, WorldError,
    moonbox::sandbox::{console, ecs},
};
use crate::console::{Channel, Console};
use crate::session::{Refusal, ViolationPolicy, WorldSession};

/// The data of one sandbox's store.
pub(crate) struct StoreState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) console: Console,
    pub(crate) memory: MemoryLimiter,
    pub(crate) stderr: MemoryOutputPipe,
    /// The world, while a handler call runs against it.
    pub(crate) session: Option<Box<WorldSession>>,
    /// Queries the sandbox's calls have opened. Numbering queries across
    /// calls lets an iterator kept past its call be refused, instead of
    /// reading a later call's query that got the same number.
    pub(crate) queries_opened: u32,
    /// A permission denial that ended the current call.
    pub(crate) violation: Option<String>,
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
            session: None,
            queries_opened: 0,
            violation: None,
        }
    }

    /// Runs `call` against the attached session and turns a denial into a
    /// trap or a refused call, as the session's policy says.
    fn with_session<T>(
        &mut self,
        call: impl FnOnce(&mut WorldSession) -> Result<T, Refusal>,
    ) -> Result<Result<T, WorldError>> {
        let Some(session) = self.session.as_deref_mut() else {
            return Ok(Err(WorldError::Unavailable(
                "no world is attached: world calls work inside handlers run by a ScriptSystem"
                    .into(),
            )));
        };
        match call(session) {
            Ok(value) => Ok(Ok(value)),
            Err(Refusal::Error(error)) => Ok(Err(error)),
            Err(Refusal::Denied(denied)) => match session.on_violation {
                ViolationPolicy::Reject => Ok(Err(WorldError::Denied(denied.to_string()))),
                ViolationPolicy::Disable => {
                    let message = denied.to_string();
                    self.violation = Some(message.clone());
                    Err(wasmtime::Error::msg(format!(
                        "security violation: {message}"
                    )))
                }
            },
        }
    }
}

impl ecs::Host for StoreState {
    fn get(
        &mut self,
        entity: u64,
        component: String,
    ) -> Result<Result<Option<Vec<u8>>, WorldError>> {
        self.with_session(|s| s.get(entity, &component))
    }

    fn set(
        &mut self,
        entity: u64,
        component: String,
        value: Vec<u8>,
    ) -> Result<Result<(), WorldError>> {
        self.with_session(|s| s.set(entity, &component, &value))
    }

    fn remove(&mut self, entity: u64, component: String) -> Result<Result<bool, WorldError>> {
        self.with_session(|s| s.remove(entity, &component))
    }

    fn has(&mut self, entity: u64, component: String) -> Result<Result<bool, WorldError>> {
        self.with_session(|s| s.has(entity, &component))
    }

    fn query(
        &mut self,
        components: Vec<String>,
        max: u32,
    ) -> Result<Result<QueryPage, WorldError>> {
        self.with_session(|s| s.query(components, max))
    }

    fn query_next(&mut self, cursor: u32, max: u32) -> Result<Result<QueryPage, WorldError>> {
        self.with_session(|s| s.query_next(cursor, max))
    }

    fn spawn(&mut self, components: Vec<(String, Vec<u8>)>) -> Result<Result<u64, WorldError>> {
        self.with_session(|s| s.spawn(components))
    }

    fn despawn(&mut self, entity: u64) -> Result<Result<(), WorldError>> {
        self.with_session(|s| s.despawn(entity))
    }

    fn frame(&mut self) -> Result<FrameInfo> {
        Ok(self
            .session
            .as_deref()
            .map_or(FrameInfo { tick: 0, dt: 0.0 }, WorldSession::frame))
    }

    fn config(&mut self) -> Result<Vec<u8>> {
        // MessagePack nil when there is no session or no config.
        Ok(self
            .session
            .as_deref()
            .map_or_else(|| vec![0xc0], WorldSession::config))
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
    fn write(&mut self, channel: GuestChannel, line: String) -> Result<()> {
        let channel = match channel {
            GuestChannel::Out => Channel::Out,
            GuestChannel::Warn => Channel::Warn,
        };
        self.console.push(channel, line);
        Ok(())
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
