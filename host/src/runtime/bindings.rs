//! Rust bindings generated from `wit/sandbox.wit`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "sandbox",
    // Host functions may trap: a permission denial ends the call.
    imports: { default: trappable },
});

pub use self::exports::moonbox::sandbox::runtime::{
    Config as GuestConfig, LimitKind as GuestLimitKind, LuaError, ScriptError as GuestError,
};
pub use self::moonbox::sandbox::console::Channel as GuestChannel;
pub use self::moonbox::sandbox::ecs::{FrameInfo, QueryPage, WorldError};
