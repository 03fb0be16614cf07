//! Rust bindings generated from `wit/sandbox.wit`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "sandbox",
});

pub use self::exports::moonbox::sandbox::runtime::{
    Config as GuestConfig, LimitKind as GuestLimitKind, LuaError, ScriptError as GuestError,
};
pub use self::moonbox::sandbox::console::Channel as GuestChannel;
