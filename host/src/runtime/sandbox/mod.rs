//! [`Sandbox`]: one Lua state in its own wasm instance and store.

mod snapshot;

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::ResourceAny;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use super::bindings::{GuestConfig, GuestError, GuestLimitKind, LuaError, Sandbox as SandboxWorld};
use super::console::{self, Console};
use super::engine::EPOCH_TICK;
use super::guest::Guest;
use super::limiter::MemoryLimiter;
use super::profile::{PROFILE_PERIOD, Profile};
use super::store::StoreState;
use super::{meter, trap, wasi};

use crate::world::Transaction;
use crate::{LimitKind, Limits, ScriptError};
pub(crate) use snapshot::Prepared;
pub use snapshot::SandboxSnapshot;

/// Longest error message, traceback or console line (in bytes) a sandbox
/// reports; longer text is cut inside the guest and ends in `... (truncated)`.
pub const MAX_TEXT_LEN: usize = 8 * 1024;

/// MessagePack's nil.
const NIL: u8 = 0xc0;

/// Fuel for setting up a sandbox's Lua state. With the pre-initialised guest
/// that is 4,985 units (524,634 when a state is built from scratch, which
/// the guest falls back to if it has no prepared one); the margin keeps it
/// from mattering.
const SETUP_FUEL: u64 = 50_000_000;

/// Everything that decides how a sandbox behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Resource limits.
    pub limits: Limits,
    /// Seed of `math.random` and of every random source the guest can reach.
    /// Default: 0.
    pub seed: u64,
    /// Lines the console keeps. Default: [`console::DEFAULT_MAX_LINES`].
    pub console_max_lines: usize,
    /// Text bytes the console keeps. Default: [`console::DEFAULT_MAX_BYTES`].
    pub console_max_bytes: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            seed: 0,
            console_max_lines: console::DEFAULT_MAX_LINES,
            console_max_bytes: console::DEFAULT_MAX_BYTES,
        }
    }
}

/// One Lua state, isolated in its own wasm instance, memory and store.
///
/// Each [`Sandbox::run`] or [`Sandbox::call`] gets the full fuel and
/// wall-clock budgets of [`Limits`]. A trap (fuel, wall clock, hard memory
/// cap, wasm stack) discards the instance at once, without running Lua
/// finalizers; later calls return [`ScriptError::SandboxPoisoned`]. Lua
/// errors, including the catchable Lua-level limits, leave it usable.
///
/// Create sandboxes with [`crate::ScriptEngine::sandbox`].
pub struct Sandbox {
    state: State,
    guest: Arc<Guest>,
    config: SandboxConfig,
    limits: Limits,
    fuel_used: u64,
    last_fuel_used: u64,
}

enum State {
    Live {
        store: Store<StoreState>,
        // Boxed: its export indices would make every `State` large.
        world: Box<SandboxWorld>,
        lua: ResourceAny,
    },
    /// The instance is gone; what the host keeps of it stays readable.
    Discarded {
        cause: Option<LimitKind>,
        leftovers: Box<StoreState>,
    },
}

impl Sandbox {
    pub(crate) fn new(guest: &Arc<Guest>, config: &SandboxConfig) -> Result<Self, ScriptError> {
        let limits = &config.limits;
        limits.validate()?;
        let cap =
            usize::try_from(limits.hard_memory_cap()).map_err(|_| ScriptError::InvalidConfig {
                message: "hard memory cap does not fit this platform's address space".into(),
            })?;
        let stderr = MemoryOutputPipe::new(wasi::STDERR_CAPACITY);
        let state = StoreState::new(
            wasi::context(config.seed, stderr.clone()),
            Console::new(config.console_max_lines, config.console_max_bytes),
            MemoryLimiter::new(cap),
            stderr,
        );
        let mut store = Store::new(&guest.engine, state);
        store.limiter(|state| &mut state.memory);
        meter::install(&mut store);
        store.epoch_deadline_trap();
        arm(&mut store, SETUP_FUEL, limits)?;
        let guest_config = GuestConfig {
            seed: config.seed,
            memory_limit: limits.memory,
            max_depth: limits.max_depth,
            max_text_len: u32::try_from(MAX_TEXT_LEN).unwrap_or(u32::MAX),
        };
        let created = guest.pre.instantiate(&mut store).and_then(|world| {
            let lua = world
                .moonbox_sandbox_runtime()
                .sandbox()
                .call_create(&mut store, guest_config)?;
            Ok((world, lua))
        });
        match created {
            Ok((world, Ok(lua))) => {
                let mut sandbox = Self {
                    state: State::Live {
                        store,
                        world: Box::new(world),
                        lua,
                    },
                    guest: Arc::clone(guest),
                    config: config.clone(),
                    limits: limits.clone(),
                    fuel_used: 0,
                    last_fuel_used: 0,
                };
                if guest.profile {
                    sandbox.start_profiler()?;
                }
                Ok(sandbox)
            }
            Ok((_, Err(message))) => Err(ScriptError::Host {
                message: format!("the guest could not create a Lua state: {message}"),
            }),
            Err(error) => Err(trap::classify(
                &error,
                &store.data().stderr.contents(),
                limits,
                "setting up the sandbox",
            )),
        }
    }

    /// Compiles `source` as a text chunk named `name` and runs it.
    ///
    /// # Errors
    /// - [`ScriptError::Syntax`] / [`ScriptError::Runtime`]: Lua errors;
    /// - [`ScriptError::ResourceLimitExceeded`]: a limit (the sandbox is
    ///   discarded if it was a trap);
    /// - [`ScriptError::SecurityViolation`]: `source` is a precompiled chunk;
    /// - [`ScriptError::SandboxPoisoned`]: an earlier call trapped.
    ///
    /// ```
    /// # fn main() -> Result<(), moonbox::ScriptError> {
    /// # let engine = moonbox::ScriptEngine::new()?;
    /// let mut sandbox = engine.sandbox(&moonbox::SandboxConfig::default())?;
    /// let err = sandbox.run("boom.lua", b"\n error('boom')").unwrap_err();
    /// assert!(matches!(err, moonbox::ScriptError::Runtime { line: Some(2), .. }));
    /// # Ok(())
    /// # }
    /// ```
    pub fn run(&mut self, name: &str, source: &[u8]) -> Result<(), ScriptError> {
        let outcome = self.enter(name, |world, store, lua| {
            world
                .moonbox_sandbox_runtime()
                .sandbox()
                .call_run(store, lua, name, source)
        })?;
        outcome.map_err(|error| script_error(error, name))
    }

    /// Calls the global function `function` with no arguments. Returns
    /// `Ok(false)` if there is no such global function.
    ///
    /// # Errors
    /// As [`Sandbox::run`].
    pub fn call(&mut self, function: &str) -> Result<bool, ScriptError> {
        self.call_encoded(function, &[])
    }

    /// Calls the global function `function` with `args`, a tuple (or any
    /// value serde turns into a sequence) whose items become the Lua
    /// arguments, converted as component values are. Returns `Ok(false)` if
    /// there is no such global function.
    ///
    /// ```
    /// # fn main() -> Result<(), moonbox::ScriptError> {
    /// # let engine = moonbox::ScriptEngine::new()?;
    /// let mut sandbox = engine.sandbox(&moonbox::SandboxConfig::default())?;
    /// sandbox.run("greet.lua", b"function greet(who, n) print(who, n * 2) end")?;
    /// assert!(sandbox.call_with("greet", &("moon", 21))?);
    /// assert_eq!(sandbox.console().lines().last().unwrap().text, "moon\t42");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Sandbox::run`]; [`ScriptError::InvalidConfig`] if `args` cannot
    /// be encoded.
    pub fn call_with<A: serde::Serialize + ?Sized>(
        &mut self,
        function: &str,
        args: &A,
    ) -> Result<bool, ScriptError> {
        let encoded = rmp_serde::to_vec(args).map_err(|e| ScriptError::InvalidConfig {
            message: format!("arguments of {function} cannot be encoded: {e}"),
        })?;
        // `()` encodes as nil: no arguments.
        let encoded = if encoded == [NIL] {
            Vec::new()
        } else {
            encoded
        };
        self.call_encoded(function, &encoded)
    }

    /// Like [`Sandbox::call_with`], with the arguments already encoded: one
    /// MessagePack array (empty bytes for no arguments). For engines that
    /// forward events as MessagePack. The guest checks the bytes: malformed,
    /// too deep or non-finite input is a Lua error and the call does not run.
    ///
    /// ```
    /// # fn main() -> Result<(), moonbox::ScriptError> {
    /// # let engine = moonbox::ScriptEngine::new()?;
    /// let mut sandbox = engine.sandbox(&moonbox::SandboxConfig::default())?;
    /// sandbox.run("m.lua", b"function add(a, b) print(a + b) end")?;
    /// sandbox.call_msgpack("add", &[0x92, 0x01, 0x02])?; // [1, 2]
    /// assert_eq!(sandbox.console().lines().last().unwrap().text, "3");
    /// assert!(sandbox.call_msgpack("add", &[0x92, 0x01]).is_err()); // cut short
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Sandbox::run`].
    pub fn call_msgpack(&mut self, function: &str, args: &[u8]) -> Result<bool, ScriptError> {
        self.call_encoded(function, args)
    }

    /// Like [`Sandbox::call_msgpack`], and returns the function's first
    /// result as one MessagePack value, encoded as a component value is
    /// (nil when it returned nothing). `Ok(None)` if there is no such global
    /// function.
    ///
    /// ```
    /// # fn main() -> Result<(), moonbox::ScriptError> {
    /// # let engine = moonbox::ScriptEngine::new()?;
    /// let mut sandbox = engine.sandbox(&moonbox::SandboxConfig::default())?;
    /// sandbox.run("m.lua", b"function pair(a) return { a, a * 2 } end")?;
    /// let result = sandbox.call_returning("pair", &[0x91, 0x05])?; // [5]
    /// assert_eq!(result, Some(vec![0x92, 0x05, 0x0a])); // [5, 10]
    /// assert_eq!(sandbox.call_returning("missing", &[])?, None);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Sandbox::run`]; a result that cannot be encoded (a function, a
    /// cycle, tables nested too deep) is a [`ScriptError::Runtime`].
    pub fn call_returning(
        &mut self,
        function: &str,
        args: &[u8],
    ) -> Result<Option<Vec<u8>>, ScriptError> {
        let outcome = self.enter(function, |world, store, lua| {
            world
                .moonbox_sandbox_runtime()
                .sandbox()
                .call_call_returning(store, lua, function, args)
        })?;
        outcome.map_err(|error| script_error(error, function))
    }

    /// Calls `on_event(name, data, from)` for each event of `events`, a
    /// MessagePack array of `[name, data, from]` arrays, in order, in one
    /// call (one fuel budget); stops at the first error. `Ok(false)` if
    /// the script has no `on_event`.
    ///
    /// # Errors
    /// As [`Sandbox::call`].
    pub(crate) fn deliver(&mut self, events: &[u8]) -> Result<bool, ScriptError> {
        let outcome = self.enter("on_event", |world, store, lua| {
            world
                .moonbox_sandbox_runtime()
                .sandbox()
                .call_deliver(store, lua, events)
        })?;
        outcome.map_err(|error| script_error(error, "on_event"))
    }

    /// Runs the script's tasks (`task.spawn`) in one call, keeping
    /// `reserve` fuel for the end of the call; a task that has run in
    /// `max_slices` calls without finishing is an error. Returns how many
    /// tasks are left.
    ///
    /// # Errors
    /// As [`Sandbox::call`]: a task's error, or a limit.
    pub(crate) fn run_tasks(&mut self, reserve: u64, max_slices: u32) -> Result<u32, ScriptError> {
        let outcome = self.enter("[tasks]", |world, store, lua| {
            world
                .moonbox_sandbox_runtime()
                .sandbox()
                .call_run_tasks(store, lua, reserve, max_slices)
        })?;
        outcome.map_err(|error| script_error(error, "task"))
    }

    /// How many tasks (`task.spawn`) the script has waiting.
    pub(crate) fn pending_tasks(&self) -> u32 {
        self.state_data().tasks_pending
    }

    fn call_encoded(&mut self, function: &str, args: &[u8]) -> Result<bool, ScriptError> {
        let outcome = self.enter(function, |world, store, lua| {
            world
                .moonbox_sandbox_runtime()
                .sandbox()
                .call_call(store, lua, function, args)
        })?;
        outcome.map_err(|error| script_error(error, function))
    }

    /// Makes `source` loadable by the script with `require(name)`; it is
    /// compiled (text only) and run on the first `require`, and its errors
    /// name `chunk_name`.
    ///
    /// # Errors
    /// As [`Sandbox::run`].
    pub fn define_module(
        &mut self,
        name: &str,
        chunk_name: &str,
        source: &[u8],
    ) -> Result<(), ScriptError> {
        self.enter("[define module]", |world, store, lua| {
            world
                .moonbox_sandbox_runtime()
                .sandbox()
                .call_define_module(store, lua, name, chunk_name, source)
        })
    }

    /// Attaches the world, as a transaction, for the next calls.
    pub(crate) fn attach(&mut self, mut transaction: Box<Transaction>) {
        let state = self.state_data_mut();
        transaction.number_queries_from(state.queries_opened);
        state.transaction = Some(transaction);
    }

    /// Takes the transaction back (also from a discarded sandbox).
    pub(crate) fn detach(&mut self) -> Option<Box<Transaction>> {
        let state = self.state_data_mut();
        let transaction = state.transaction.take()?;
        state.queries_opened = transaction.next_query_number();
        Some(transaction)
    }

    /// Bytes the Lua allocator holds now (0 once the sandbox is discarded).
    ///
    /// # Errors
    /// As [`Sandbox::run`], for the (tiny) call that asks the guest.
    pub fn lua_memory(&mut self) -> Result<u64, ScriptError> {
        if matches!(self.state, State::Discarded { .. }) {
            return Ok(0);
        }
        self.enter("[memory used]", |world, store, lua| {
            world
                .moonbox_sandbox_runtime()
                .sandbox()
                .call_memory_used(store, lua)
        })
    }

    /// Where this sandbox's fuel went, per Lua stack, when its engine
    /// profiles ([`crate::EngineConfig::profile`]); also after a trap
    /// discarded it. Its [`Profile::total`] is [`Sandbox::fuel_used`].
    pub fn profile(&self) -> Option<&Profile> {
        self.state_data().profile.as_ref()
    }

    /// Starts the guest's profiler and the host's record of it.
    fn start_profiler(&mut self) -> Result<(), ScriptError> {
        self.state_data_mut().profile = Some(Profile::default());
        self.enter_metered(None, |world, store, lua| {
            world
                .moonbox_sandbox_runtime()
                .sandbox()
                .call_profile(store, lua, PROFILE_PERIOD)
        })
    }

    /// Fuel consumed by all calls so far (sandbox setup excluded).
    pub fn fuel_used(&self) -> u64 {
        self.fuel_used
    }

    /// Fuel consumed by the latest call.
    pub fn last_fuel_used(&self) -> u64 {
        self.last_fuel_used
    }

    /// Largest size the sandbox's linear memory reached, in bytes.
    pub fn memory_peak(&self) -> u64 {
        u64::try_from(self.state_data().memory.peak()).unwrap_or(u64::MAX)
    }

    /// The console: what `print` and `warn` wrote.
    pub fn console(&self) -> &Console {
        &self.state_data().console
    }

    /// The console, to drain it.
    pub fn console_mut(&mut self) -> &mut Console {
        &mut self.state_data_mut().console
    }

    /// The limit whose trap discarded this sandbox, if one did.
    pub fn poisoned_by(&self) -> Option<LimitKind> {
        match &self.state {
            State::Live { .. } => None,
            State::Discarded { cause, .. } => *cause,
        }
    }

    /// Whether a trap discarded this sandbox (see [`Sandbox::poisoned_by`]).
    pub fn is_poisoned(&self) -> bool {
        matches!(self.state, State::Discarded { .. })
    }

    fn state_data_mut(&mut self) -> &mut StoreState {
        match &mut self.state {
            State::Live { store, .. } => store.data_mut(),
            State::Discarded { leftovers, .. } => leftovers,
        }
    }

    fn state_data(&self) -> &StoreState {
        match &self.state {
            State::Live { store, .. } => store.data(),
            State::Discarded { leftovers, .. } => leftovers,
        }
    }

    /// Runs one call into the guest with fresh budgets, accounting its fuel
    /// and discarding the instance if it traps.
    fn enter<R>(
        &mut self,
        entry: &str,
        call: impl FnOnce(&SandboxWorld, &mut Store<StoreState>, ResourceAny) -> wasmtime::Result<R>,
    ) -> Result<R, ScriptError> {
        self.enter_metered(Some(entry), call)
    }

    /// As [`Sandbox::enter`] when `entry` (what the profile calls the
    /// call) is given; an unmetered call (saving, restoring, starting the
    /// profiler) is not counted in the fuel statistics, so that taking a
    /// snapshot changes nothing a script or an engine can see.
    fn enter_metered<R>(
        &mut self,
        entry: Option<&str>,
        call: impl FnOnce(&SandboxWorld, &mut Store<StoreState>, ResourceAny) -> wasmtime::Result<R>,
    ) -> Result<R, ScriptError> {
        let (store, world, lua) = match &mut self.state {
            State::Live { store, world, lua } => (store, world, *lua),
            State::Discarded { cause, .. } => {
                return Err(ScriptError::SandboxPoisoned { cause: *cause });
            }
        };
        let fuel = match entry {
            Some(_) => self.limits.fuel,
            None => snapshot::FUEL,
        };
        arm(store, fuel, &self.limits)?;
        if let (Some(entry), Some(profile)) = (entry, &mut store.data_mut().profile) {
            profile.begin(entry, fuel);
        }
        let result = call(world, store, lua);
        if entry.is_some() {
            let left = store.get_fuel().unwrap_or(0);
            self.last_fuel_used = self.limits.fuel.saturating_sub(left);
            self.fuel_used = self.fuel_used.saturating_add(self.last_fuel_used);
            if let Some(profile) = &mut store.data_mut().profile {
                profile.end(left);
            }
        }
        match result {
            Ok(value) => Ok(value),
            Err(trap) => {
                let stderr = store.data().stderr.contents();
                let error = trap::classify(&trap, &stderr, &self.limits, "running the script");
                self.discard(error.limit_kind());
                Err(error)
            }
        }
    }

    /// Drops the instance and its memory without calling into it again, so
    /// no Lua finalizer runs; keeps the console and statistics.
    fn discard(&mut self, cause: Option<LimitKind>) {
        let placeholder = State::Discarded {
            cause,
            leftovers: Box::new(StoreState::empty()),
        };
        if let State::Live { store, .. } = std::mem::replace(&mut self.state, placeholder) {
            self.state = State::Discarded {
                cause,
                leftovers: Box::new(store.into_data()),
            };
        }
    }
}

/// Gives the store a full fuel tank and a fresh wall-clock deadline.
fn arm(store: &mut Store<StoreState>, fuel: u64, limits: &Limits) -> Result<(), ScriptError> {
    store
        .set_fuel(fuel)
        .map_err(|e| ScriptError::host("setting fuel", &e))?;
    let tick = EPOCH_TICK.as_nanos().max(1);
    let ticks = limits.wall_clock.as_nanos().div_ceil(tick);
    // One extra tick: the ticker may advance right after the deadline is set.
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1));
    Ok(())
}

/// Converts the guest's error, whose chunk defaults to `name`.
fn script_error(error: GuestError, name: &str) -> ScriptError {
    let script = |e: &LuaError| e.chunk.clone().unwrap_or_else(|| name.to_owned());
    match error {
        GuestError::Syntax(e) => ScriptError::Syntax {
            script: script(&e),
            line: e.line,
            message: e.message,
        },
        GuestError::Runtime(e) => ScriptError::Runtime {
            script: script(&e),
            line: e.line,
            message: e.message,
            traceback: e.traceback,
        },
        GuestError::Limit((kind, e)) => ScriptError::ResourceLimitExceeded {
            kind: match kind {
                GuestLimitKind::Memory => LimitKind::Memory,
                GuestLimitKind::Recursion => LimitKind::Recursion,
                GuestLimitKind::Stack => LimitKind::Stack,
            },
            message: match e.line {
                Some(line) => format!("{}:{line}: {}", script(&e), e.message),
                None => e.message,
            },
        },
        GuestError::Refused(message) => ScriptError::SecurityViolation { message },
    }
}

#[cfg(test)]
mod tests {
    //! The committed guest is pre-initialised (`tools/guest-snapshot`): a new
    //! sandbox adopts the Lua state in the guest's memory image instead of
    //! building one. Fuel is exact, so this is measured, not timed.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{SandboxConfig, ScriptEngine};

    fn setup_fuel(sandbox: &Sandbox) -> u64 {
        let State::Live { store, .. } = &sandbox.state else {
            panic!("a new sandbox is live");
        };
        SETUP_FUEL - store.get_fuel().unwrap()
    }

    #[test]
    fn a_new_sandbox_starts_from_the_pre_initialised_lua_state() {
        let engine = ScriptEngine::new().unwrap();
        let mut sandbox = engine.sandbox(&SandboxConfig::default()).unwrap();
        // Building the state (mlua, the libraries, the prelude) costs about
        // 525,000 fuel; applying a config to a prepared one about 5,000.
        let fuel = setup_fuel(&sandbox);
        assert!(
            fuel < 50_000,
            "setup took {fuel} fuel: is the guest pre-initialised?"
        );
        // And the prepared state is the whole environment.
        sandbox
            .run(
                "check.lua",
                b"assert(print and string.format and world and require and not os)",
            )
            .unwrap();
    }
}
