//! The `world` global: the Lua face of the WIT `world` interface.
//!
//! Entities are Lua integers (the host's entity bits); component values are
//! Lua values (tables, numbers, strings), converted by `value.rs`. Errors are Lua errors carrying the
//! caller's position, so a mod's author sees the line of the failing call.

use mlua::{Function, Lua, Table, Value, ffi};

use crate::moonbox::sandbox::ecs::{self as world, WorldError};
use crate::profiler;
use crate::{value, world_calls, world_query};

/// Installs the `world` global.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let api = lua.create_table()?;
    // SAFETY: these are Lua C functions that raise errors only from frames
    // that own nothing (world_calls.rs, world_query.rs).
    unsafe {
        // `get` and `set` share one upvalue: the component ids the host gave.
        let (get, set) = lua.exec_raw::<(Function, Function)>((), |state| {
            ffi::lua_createtable(state, 0, 0);
            ffi::lua_pushvalue(state, -1);
            ffi::lua_pushcclosure(state, world_calls::get, 1);
            ffi::lua_rotate(state, -2, 1);
            ffi::lua_pushcclosure(state, world_calls::set, 1);
        })?;
        api.raw_set("get", get)?;
        api.raw_set("set", set)?;
        api.raw_set("query", lua.create_c_function(world_query::query)?)?;
    }
    api.raw_set("remove", lua.create_function(remove)?)?;
    api.raw_set("has", lua.create_function(has)?)?;
    api.raw_set("spawn", lua.create_function(spawn)?)?;
    api.raw_set("despawn", lua.create_function(despawn)?)?;
    api.raw_set(
        "tick",
        lua.create_function(|_, _: Value| {
            Ok(i64::try_from(world::frame().tick).unwrap_or(i64::MAX))
        })?,
    )?;
    api.raw_set(
        "dt",
        lua.create_function(|_, _: Value| Ok(world::frame().dt))?,
    )?;
    api.raw_set(
        "config",
        lua.create_function(|lua, _: Value| value::decode(lua, &world::config()))?,
    )?;
    let open = world_query::OPEN_QUERIES
        .to_str()
        .map_err(mlua::Error::external)?;
    lua.set_named_registry_value(open, 0)?;
    lua.globals().raw_set("world", api)
}

fn remove(lua: &Lua, (_, entity, component): (Value, i64, mlua::LuaString)) -> mlua::Result<bool> {
    profiler::begin();
    let component = name(lua, "remove", &component)?;
    let removed = world::remove(entity_bits(entity), &world::Component::Name(component))
        .map_err(|e| failed(lua, "remove", e))?;
    profiler::done_lua(lua);
    Ok(removed)
}

fn has(lua: &Lua, (_, entity, component): (Value, i64, mlua::LuaString)) -> mlua::Result<bool> {
    profiler::begin();
    let component = name(lua, "has", &component)?;
    let has = world::has(entity_bits(entity), &world::Component::Name(component))
        .map_err(|e| failed(lua, "has", e))?;
    profiler::done_lua(lua);
    Ok(has)
}

/// `world:spawn{Position = {x = 1, y = 2}}` returns the new entity.
fn spawn(lua: &Lua, (_, components): (Value, Option<Table>)) -> mlua::Result<i64> {
    profiler::begin();
    let mut encoded = Vec::new();
    if let Some(components) = components {
        for pair in components.pairs::<Value, Value>() {
            let (key, data) = pair?;
            let Value::String(key) = key else {
                return Err(located(
                    lua,
                    "world:spawn: component names must be strings".into(),
                ));
            };
            let component = name(lua, "spawn", &key)?;
            let bytes = encoded_value(lua, "spawn", &component, &data)?;
            encoded.push((component, bytes));
        }
    }
    // Sorted by name so the host sees the same request whatever the table's order.
    encoded.sort_by(|a, b| a.0.cmp(&b.0));
    let entity = world::spawn(&encoded)
        .map(entity_to_lua)
        .map_err(|e| failed(lua, "spawn", e))?;
    profiler::done_lua(lua);
    Ok(entity)
}

fn despawn(lua: &Lua, (_, entity): (Value, i64)) -> mlua::Result<()> {
    profiler::begin();
    world::despawn(entity_bits(entity)).map_err(|e| failed(lua, "despawn", e))?;
    profiler::done_lua(lua);
    Ok(())
}

fn encoded_value(lua: &Lua, call: &str, component: &str, data: &Value) -> mlua::Result<Vec<u8>> {
    let mut bytes = value::value_buffer();
    value::encode(lua, data, &mut bytes).map_err(|reason| {
        located(
            lua,
            format!("world:{call}: invalid value for component '{component}': {reason}"),
        )
    })?;
    Ok(bytes)
}

fn name(lua: &Lua, call: &str, name: &mlua::LuaString) -> mlua::Result<String> {
    match name.to_str() {
        Ok(text) => Ok(text.to_owned()),
        Err(_) => Err(located(
            lua,
            format!("world:{call}: component names must be UTF-8 text"),
        )),
    }
}

fn failed(lua: &Lua, call: &str, error: WorldError) -> mlua::Error {
    located(lua, failure_message(&format!("world:{call}"), error))
}

/// The message of a Lua error for a call the host refused; `call` names
/// it as the mod wrote it (`world:get`, `engine.raycast`).
pub fn failure_message(call: &str, error: WorldError) -> String {
    match error {
        WorldError::Denied(why) => format!("{call}: permission denied: {why}"),
        WorldError::Invalid(why) | WorldError::Unavailable(why) | WorldError::Failed(why) => {
            format!("{call}: {why}")
        }
        WorldError::NoEntity(entity) => {
            format!("{call}: no such entity {}", entity_to_lua(entity))
        }
    }
}

/// Prefixes the position of the Lua code that made the call, as `error` does.
fn located(lua: &Lua, message: String) -> mlua::Error {
    let position = lua
        .inspect_stack(1, |debug| {
            let line = debug.current_line()?;
            let source = debug.source();
            let chunk = source.short_src?;
            Some(format!("{chunk}:{line}: "))
        })
        .flatten()
        .unwrap_or_default();
    mlua::Error::runtime(format!("{position}{message}"))
}

/// Lua integers are i64; entity bits are u64. Reinterpreting keeps them distinct.
pub fn entity_bits(entity: i64) -> u64 {
    u64::from_ne_bytes(entity.to_ne_bytes())
}

pub fn entity_to_lua(bits: u64) -> i64 {
    i64::from_ne_bytes(bits.to_ne_bytes())
}
