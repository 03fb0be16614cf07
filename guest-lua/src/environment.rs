//! The sandbox's Lua environment: which standard libraries exist and how the
//! unsafe or nondeterministic parts of the base library are narrowed.

use mlua::{Lua, LuaOptions, StdLib};

use crate::exports::moonbox::sandbox::runtime::Config;
use crate::moonbox::sandbox::console::{self, Channel};
use crate::{depth, world_api};

/// Libraries loaded besides `base`. Never `io`, `os`, `debug` or `package`.
fn libraries() -> StdLib {
    StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::COROUTINE | StdLib::UTF8
}

/// Narrows the base library; see `prelude.lua` for what and why. Embedded as
/// bytecode compiled by `build.rs` from that file: trusted, and much cheaper
/// to load than source (scripts themselves may only be text).
const PRELUDE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/prelude.luac"));

/// Registry key of the prelude's function that makes a module `require`-able.
pub const DEFINE_MODULE: &str = "moonbox.define_module";

/// Creates a Lua state with the safe environment and the limits of `config`.
pub fn create(config: &Config) -> mlua::Result<Lua> {
    let lua = Lua::new_with(libraries(), LuaOptions::new())?;
    let max_line = usize::try_from(config.max_text_len).unwrap_or(usize::MAX);
    let console_out = lua.create_function(move |_, line: mlua::LuaString| {
        console::write(Channel::Out, &text_of(&line.as_bytes(), max_line));
        Ok(())
    })?;
    let console_warn = lua.create_function(move |_, line: mlua::LuaString| {
        console::write(Channel::Warn, &text_of(&line.as_bytes(), max_line));
        Ok(())
    })?;
    // Lua integers are i64; reinterpreting the seed's bits keeps every u64 distinct.
    let seed = i64::from_ne_bytes(config.seed.to_ne_bytes());
    let define_module: mlua::Function = lua
        .load(PRELUDE)
        .set_mode(mlua::chunk::ChunkMode::Binary)
        .set_name("=moonbox")
        .call((console_out, console_warn, seed))?;
    lua.set_named_registry_value(DEFINE_MODULE, define_module)?;
    world_api::install(&lua)?;
    depth::install(&lua, config.max_depth)?;
    let memory_limit = usize::try_from(config.memory_limit).unwrap_or(usize::MAX);
    lua.set_memory_limit(memory_limit)?;
    Ok(lua)
}

/// Lua strings are bytes; the console carries UTF-8 text of bounded length.
pub fn text_of(bytes: &[u8], max_len: usize) -> String {
    crate::errors::truncate(String::from_utf8_lossy(bytes).into_owned(), max_len)
}
