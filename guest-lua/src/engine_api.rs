//! The `engine` global: the Lua face of the WIT `engine` interface.
//!
//! `engine.<name>(...)` calls the engine function of that name: no
//! argument crosses as nil, one as itself, several as a list.
//! `engine.emit(name, data)` queues a command for the engine, delivered
//! only if the handler call commits.
//!
//! The Rust halves return `ok, result` instead of raising, and small Lua
//! wrappers raise with `error(message, 2)`: a mod's `pcall` gets a plain
//! string that names the mod's own line, as for any Lua error.

use mlua::{Function, Lua, MultiValue, Table, Value};

use crate::moonbox::sandbox::ecs::WorldError;
use crate::moonbox::sandbox::engine;
use crate::value;

/// Wraps the Rust halves: `make(name)` gives `engine.<name>`.
const WRAPPERS: &str = r#"
local call, emit = ...
local function raise(ok, result)
  if ok then return result end
  error(result, 3)
end
-- No tail calls: `error(result, 3)` must find the mod's line two frames up.
local function make(name)
  return function(...)
    local result = raise(call(name, ...))
    return result
  end
end
local function checked_emit(name, data)
  local result = raise(emit(name, data))
  return result
end
return make, checked_emit
"#;

/// Installs the `engine` global.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let (make, emit): (Function, Function) = lua
        .load(WRAPPERS)
        .set_name("=engine")
        .call((lua.create_function(call)?, lua.create_function(emit)?))?;
    let api = lua.create_table()?;
    api.raw_set("emit", emit)?;
    let meta = lua.create_table()?;
    meta.raw_set(
        "__index",
        lua.create_function(move |_, (api, name): (Table, Value)| {
            // `engine.<name>`: made on first use and kept in the table.
            if !matches!(name, Value::String(_)) {
                return Ok(Value::Nil);
            }
            let function: Function = make.call(&name)?;
            api.raw_set(name, &function)?;
            Ok(Value::Function(function))
        })?,
    )?;
    api.set_metatable(Some(meta))?;
    lua.globals().raw_set("engine", api)
}

/// `call(name, ...)`: `true, result` or `false, message`.
fn call(lua: &Lua, (name, args): (mlua::LuaString, MultiValue)) -> mlua::Result<(bool, Value)> {
    let label = format!("engine.{}", name.display());
    let Ok(name) = name.to_str() else {
        return failed(lua, format!("{label}: function names must be UTF-8 text"));
    };
    let mut bytes = value::value_buffer();
    let encoded = match args.len() {
        0 => value::encode(lua, &Value::Nil, &mut bytes),
        1 => value::encode(lua, &args[0], &mut bytes),
        _ => value::encode_list(lua, args.iter(), &mut bytes),
    };
    if let Err(reason) = encoded {
        return failed(lua, format!("{label}: invalid argument: {reason}"));
    }
    match engine::call(&name, &bytes) {
        Ok(result) => Ok((true, value::decode(lua, &result)?)),
        Err(e) => failed(lua, message(&label, e)),
    }
}

/// `emit(name, data)`: `true, nil` or `false, message`.
fn emit(lua: &Lua, (name, data): (mlua::LuaString, Value)) -> mlua::Result<(bool, Value)> {
    let Ok(name) = name.to_str() else {
        return failed(lua, "engine.emit: command names must be UTF-8 text".into());
    };
    let mut bytes = value::value_buffer();
    if let Err(reason) = value::encode(lua, &data, &mut bytes) {
        return failed(
            lua,
            format!(
                "engine.emit: invalid data for command '{}': {reason}",
                &*name
            ),
        );
    }
    match engine::emit(&name, &bytes) {
        Ok(()) => Ok((true, Value::Nil)),
        Err(e) => failed(lua, message("engine.emit", e)),
    }
}

fn failed(lua: &Lua, message: String) -> mlua::Result<(bool, Value)> {
    Ok((false, Value::String(lua.create_string(message)?)))
}

/// The message of a Lua error for an engine call the host refused.
fn message(call: &str, error: WorldError) -> String {
    match error {
        WorldError::Denied(why) => format!("{call}: permission denied: {why}"),
        WorldError::Invalid(why) | WorldError::Unavailable(why) | WorldError::Failed(why) => {
            format!("{call}: {why}")
        }
        WorldError::NoEntity(entity) => format!("{call}: no such entity {entity}"),
    }
}
