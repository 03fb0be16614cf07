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

mod bindings;
pub mod console;
pub mod demo;
mod engine;
mod epoch;
mod error;
pub mod limits;
mod manager;
pub mod mods;
pub mod permissions;
mod registry;
pub mod replay;
mod sandbox;
mod session;
mod store_state;
mod system;
mod wasi;
mod world_file;
mod world_hash;

pub use console::{Channel, Console, ConsoleLine};
pub use engine::{
    DEFAULT_MAX_WASM_STACK, EPOCH_TICK, EngineConfig, GUEST_COMPONENT, PoolingConfig, ScriptEngine,
};
pub use error::{LimitKind, ScriptError};
pub use limits::Limits;
pub use manager::{LoadedMod, ModStats, ModStatus, ScriptManager};
pub use permissions::Permissions;
pub use registry::{ComponentRegistry, ComponentValue, RegistryError};
pub use sandbox::{MAX_TEXT_LEN, Sandbox, SandboxConfig};
pub use session::{MAX_OPEN_QUERIES, ViolationPolicy};
pub use system::{Outcome, ScriptSystem};
pub use world_file::{world_from_json, world_to_json};
pub use world_hash::world_hash;

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
