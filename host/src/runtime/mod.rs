//! Running Lua in wasm: the engine that compiles the guest, sandboxes, their
//! stores and limits, the WASI world the guest sees, the console, traps and
//! errors. Nothing here knows about mods; the world is attached to a
//! sandbox as a [`crate::world::Transaction`] for the length of a call.

pub(crate) mod bindings;
pub(crate) mod cache;
pub(crate) mod console;
pub(crate) mod engine;
mod epoch;
pub(crate) mod error;
pub(crate) mod function_cache;
pub(crate) mod guest;
mod limiter;
pub(crate) mod limits;
pub(crate) mod meter;
pub(crate) mod pre_init;
pub(crate) mod profile;
pub(crate) mod sandbox;
pub(crate) mod specialise;
pub(crate) mod store;
pub(crate) mod trap;
mod wasi;
