//! The engine's own API for mods, besides the world: functions the engine
//! registers ([`EngineFunctions`]) and commands mods emit to it
//! ([`Command`]). Both need a grant (`[permissions] call` and `emit`),
//! checked on every call like world access, and both are paid in the
//! calling mod's fuel.

mod commands;
pub(crate) mod functions;
mod host;

pub(crate) use commands::CommandQueue;
pub use commands::{Command, CommandError, MAX_COMMAND_BYTES_PER_CALL, MAX_COMMANDS_PER_CALL};
pub use functions::{CallContext, EngineFunctions, FunctionError};

/// Longest name of an engine function or command, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// Whether `name` can name an engine function or a command: a Lua name
/// (`engine.name` must work), ASCII, at most [`MAX_NAME_LEN`] bytes.
pub(crate) fn is_engine_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= MAX_NAME_LEN
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A name from untrusted input, cut and made safe to print.
pub(crate) fn printable(name: &str) -> String {
    let cut: String = name.chars().take(MAX_NAME_LEN).collect();
    crate::terminal_safe(&cut).into_owned()
}
