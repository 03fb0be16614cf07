//! # Moonbox
//!
//! Runs untrusted Lua 5.4 scripts inside a WebAssembly sandbox. Lua itself is
//! compiled to a wasm component (the *guest*) and runs under wasmtime with:
//!
//! - **fuel**: a deterministic instruction budget per call;
//! - **memory limits**: a catchable Lua heap limit and a hard wasm memory cap;
//! - **a call-depth limit** and a bounded wasm stack;
//! - **a wall-clock backstop** through wasmtime epochs, if the engine asks
//!   for it ([`EngineConfig::wall_clock_backstop`]);
//! - **a safe standard library**: base (no `dofile`, `loadfile`, binary
//!   chunks), `table`, `string`, `math`, `coroutine`, `utf8`. Never `os`,
//!   `io`, `debug` or `package`. `print` and `warn` go to the sandbox's
//!   [`Console`].
//!
//! Make one [`ScriptEngine`] per process (it compiles the guest), then one
//! [`Sandbox`] per script:
//!
//! ```
//! use moonbox::{Limits, SandboxConfig, ScriptEngine, ScriptError, LimitKind};
//! # fn main() -> Result<(), ScriptError> {
//! let engine = ScriptEngine::new()?;
//! let config = SandboxConfig { limits: Limits { fuel: 5_000_000, ..Limits::default() }, ..SandboxConfig::default() };
//! let mut sandbox = engine.sandbox(&config)?;
//! let err = sandbox.run("spin.lua", b"while true do end").unwrap_err();
//! assert_eq!(err.limit_kind(), Some(LimitKind::Fuel));
//! # Ok(())
//! # }
//! ```

//! Engines usually want the front door, [`Moonbox`]: a registry of their
//! component types, a [`Policy`], mods from a folder and a game loop. The
//! parts it is made of ([`ScriptEngine`], [`ScriptManager`],
//! [`ScriptSystem`]) are public for engines that need them separately.
//! `docs/architecture.md` maps the modules.

mod engine_api;
mod host;
mod mods;
mod replay;
mod runtime;
mod snapshot;
mod system;
mod world;

#[cfg(feature = "demo")]
pub mod demo;

pub use engine_api::{
    CallContext, Command, CommandError, EngineFunctions, FunctionError, MAX_COMMAND_BYTES_PER_CALL,
    MAX_COMMANDS_PER_CALL,
};
pub use host::{Moonbox, MoonboxBuilder};
pub use mods::{
    Budget, DEFAULT_FUEL_PER_CALL, DEFAULT_MAX_ENTITIES, DEFAULT_MAX_TASK_TICKS,
    DEFAULT_MAX_WORLD_BYTES, LoadError, LoadedMod, MAX_FILES, MAX_MANIFEST_BYTES, MAX_SOURCE_BYTES,
    Manifest, ManifestError, ModSource, ModStats, ModStatus, Policy, RequestedPermissions,
    ScriptManager, read_bounded,
};
pub use replay::{
    Difference as WorldDifference, Divergence, FORMAT_VERSION as REPLAY_FORMAT_VERSION,
    Inputs as ReplayInputs, MAX_EVENTS_PER_TICK, MAX_REPLAY_FILE_BYTES, RecordedEvent, RecordedMod,
    ReplayError, ReplayFile, ReplayReport, Simulation, StartSnapshot, TickRecord, first_difference,
    replay,
};
pub use runtime::cache::CacheOutcome;
pub use runtime::console::{
    Channel, Console, ConsoleLine, DEFAULT_MAX_BYTES, DEFAULT_MAX_LINES, terminal_safe,
};
pub use runtime::engine::{
    DEFAULT_MAX_WASM_STACK, EPOCH_TICK, EngineConfig, GUEST_COMPONENT, PoolingConfig, ScriptEngine,
};
pub use runtime::error::{LimitKind, ScriptError};
pub use runtime::function_cache::{FUNCTION_CACHE_BYTES, FunctionCacheStats};
pub use runtime::limits::{
    DEFAULT_FUEL, DEFAULT_HARD_MEMORY_HEADROOM, DEFAULT_MAX_DEPTH, DEFAULT_MEMORY,
    DEFAULT_WALL_CLOCK, Limits, MIN_HARD_MEMORY, MIN_MEMORY,
};
pub use runtime::meter::{HOST_FUEL_PRICES, HostFuelPrices};
pub use runtime::pre_init::pre_initialise;
pub use runtime::profile::{
    FunctionCost, MAX_LABEL_LEN, MAX_LABELS, MAX_STACK_DEPTH, MAX_STACKS, PROFILE_PERIOD,
    PROFILER_FRAME, Profile,
};
pub use runtime::sandbox::{MAX_TEXT_LEN, Sandbox, SandboxConfig, SandboxSnapshot};
pub use runtime::specialise::{MAX_SPECIALISED_SOURCE, SpecialiseError, WEVAL_TIMEOUT};
pub use snapshot::{MAX_SNAPSHOT_BYTES, SNAPSHOT_FORMAT_VERSION, Snapshot, SnapshotError};
pub use system::{
    EventError, Handover, MAX_EVENT_DEPTH, MAX_PENDING_EVENT_BYTES, Outcome, ScriptSystem,
    TickReport, WorldUsage,
};
pub use world::file::{MAX_WORLD_ENTITIES, WorldFileError, world_from_json, world_to_json};
pub use world::hash::world_hash;
pub use world::holdings::HELD_ENTITY_BYTES;
pub use world::lua_types::lua_annotations;
pub use world::permissions::{
    ANY_NAME, ComponentAccess, Denied, EntityFacts, EntityScope, Operation, Permissions,
};
pub use world::registry::{ComponentRegistry, DEFAULT_MAX_VALUE_BYTES, RegistryError};
pub use world::shape::{
    MAX_DECLARED_COMPONENTS, MAX_SHAPE_DEPTH, Shape, ShapeError, parse_components,
};
pub use world::transaction::{
    MAX_COMPONENT_NAME_LEN, MAX_OPEN_QUERIES, MAX_PAGE_BYTES, MAX_QUERY_COMPONENTS, ViolationPolicy,
};

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The snapshot guide's examples, compiled and run as doctests.
#[doc = include_str!("../../docs/snapshots.md")]
#[cfg(doctest)]
pub struct SnapshotsDoctests;

/// The specialisation guide's example, compiled as a doctest.
#[doc = include_str!("../../docs/specialising.md")]
#[cfg(doctest)]
pub struct SpecialisingDoctests;
