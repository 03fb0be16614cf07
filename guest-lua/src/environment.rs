//! The sandbox's Lua environment: which standard libraries exist and how the
//! unsafe or nondeterministic parts of the base library are narrowed.

use mlua::{Lua, LuaOptions, StdLib};

use crate::exports::moonbox::sandbox::runtime::Config;
use crate::moonbox::sandbox::console::{self, Channel};
use crate::{depth, engine_api, tasks, world_api};

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
/// Registry key of the prelude's function that applies one sandbox's seed.
const CONFIGURE: &str = "moonbox.configure";

/// The longest console line, from the sandbox's config (Lua app data).
struct MaxTextLen(usize);

/// A Lua state with the safe environment and no sandbox's settings yet:
/// the same for every sandbox, so the guest's build runs it once and ships
/// the result in the memory image (`wizer_initialize` in lib.rs).
pub fn prepare() -> mlua::Result<Lua> {
    let lua = Lua::new_with(libraries(), LuaOptions::new())?;
    let console_out = lua.create_function(|lua, line: mlua::LuaString| {
        console::write(Channel::Out, &console_text(lua, &line.as_bytes()));
        Ok(())
    })?;
    let console_warn = lua.create_function(|lua, line: mlua::LuaString| {
        console::write(Channel::Warn, &console_text(lua, &line.as_bytes()));
        Ok(())
    })?;
    let (define_module, configure): (mlua::Function, mlua::Function) = lua
        .load(PRELUDE)
        .set_mode(mlua::chunk::ChunkMode::Binary)
        .set_name("=moonbox")
        .call((console_out, console_warn))?;
    lua.set_named_registry_value(DEFINE_MODULE, define_module)?;
    lua.set_named_registry_value(CONFIGURE, configure)?;
    world_api::install(&lua)?;
    engine_api::install(&lua)?;
    tasks::install(&lua)?;
    // `fuel_left()`: what the running call has left, for work paced by hand.
    lua.globals().raw_set(
        "fuel_left",
        lua.create_function(|_, ()| {
            Ok(i64::try_from(crate::moonbox::sandbox::meter::fuel_left()).unwrap_or(i64::MAX))
        })?,
    )?;
    Ok(lua)
}

/// Applies one sandbox's settings to a state from [`prepare`]: the seed, the
/// console's line length, the depth limit and, last, the memory limit.
pub fn configure(lua: &Lua, config: &Config) -> mlua::Result<()> {
    lua.set_app_data(MaxTextLen(
        usize::try_from(config.max_text_len).unwrap_or(usize::MAX),
    ));
    // Lua integers are i64; reinterpreting the seed's bits keeps every u64 distinct.
    let seed = i64::from_ne_bytes(config.seed.to_ne_bytes());
    lua.named_registry_value::<mlua::Function>(CONFIGURE)?
        .call::<()>(seed)?;
    depth::install(lua, config.max_depth)?;
    let memory_limit = usize::try_from(config.memory_limit).unwrap_or(usize::MAX);
    lua.set_memory_limit(memory_limit)?;
    Ok(())
}

fn console_text(lua: &Lua, bytes: &[u8]) -> String {
    let max_len = lua.app_data_ref::<MaxTextLen>().map_or(usize::MAX, |m| m.0);
    text_of(bytes, max_len)
}

/// Lua strings are bytes; the console carries UTF-8 text of bounded length.
pub fn text_of(bytes: &[u8], max_len: usize) -> String {
    crate::errors::truncate(String::from_utf8_lossy(bytes).into_owned(), max_len)
}
