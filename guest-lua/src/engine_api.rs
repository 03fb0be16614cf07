//! The `engine` global: the Lua face of the WIT `engine` interface.
//!
//! `engine.<name>(...)` calls the engine function of that name: no
//! argument crosses as nil, one as itself, several as a list.
//! `engine.emit(name, data)` queues a command for the engine, delivered
//! only if the handler call commits.
//!
//! Both are raw Lua C functions, as `world:get` is (see `world_calls.rs`):
//! through mlua's callbacks a round trip cost twice as much. Errors carry
//! the caller's position, as Lua's own do.

use std::ffi::c_int;

use mlua::ffi::{self, lua_State};
use mlua::{Function, Lua, Table, Value};

use crate::moonbox::sandbox::engine;
use crate::value;
use crate::world_api::failure_message;
use crate::world_calls::{Raise, error, protected, push_value, type_name};

/// Installs the `engine` global.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let api = lua.create_table()?;
    // SAFETY: `emit` raises errors only from frames that own nothing.
    api.raw_set("emit", unsafe { lua.create_c_function(emit)? })?;
    let meta = lua.create_table()?;
    meta.raw_set(
        "__index",
        lua.create_function(|lua, (api, name): (Table, Value)| {
            // `engine.<name>`: made on first use and kept in the table.
            let Value::String(name) = name else {
                return Ok(Value::Nil);
            };
            // SAFETY: the name is pushed as the closure's one upvalue;
            // `call` raises only from frames that own nothing.
            let function = unsafe {
                lua.exec_raw::<Function>(&name, |state| {
                    ffi::lua_pushcclosure(state, call, 1);
                })?
            };
            api.raw_set(name, &function)?;
            Ok(Value::Function(function))
        })?,
    )?;
    api.set_metatable(Some(meta))?;
    lua.globals().raw_set("engine", api)
}

/// `engine.<name>(...)`, with the name as upvalue 1.
unsafe extern "C-unwind" fn call(state: *mut lua_State) -> c_int {
    // SAFETY: `call_onto_stack` leaves the result or an error object on top.
    unsafe {
        crate::profiler::begin();
        match call_onto_stack(state) {
            Ok(()) => {
                crate::profiler::done(state, 0);
                1
            }
            Err(Raise) => ffi::lua_error(state),
        }
    }
}

unsafe fn call_onto_stack(state: *mut lua_State) -> Result<(), Raise> {
    // SAFETY: the upvalue is the name string `install` gave the closure,
    // alive as long as the closure; the arguments are encoded in a
    // protected call; Rust values here are dropped before any raise.
    unsafe {
        let name = text(state, ffi::lua_upvalueindex(1));
        let label = format!("engine.{}", name.unwrap_or("?"));
        let Some(name) = name else {
            return Err(error(state, &format!("{label}: names must be UTF-8 text")));
        };
        let nargs = ffi::lua_gettop(state);
        let mut bytes = value::value_buffer();
        let mut failure = None;
        protected(state, nargs, 0, &mut |state| {
            // The arguments are at 2..=nargs+1 (1 is the closure's pointer).
            let encoded = match nargs {
                0 => {
                    bytes.push(NIL);
                    Ok(())
                }
                1 => value::encode_raw(state, 2, &mut bytes),
                _ => list(state, nargs, &mut bytes),
            };
            failure = encoded.err();
            0
        })?;
        if let Some(reason) = failure {
            return Err(error(
                state,
                &format!("{label}: invalid argument: {reason}"),
            ));
        }
        match engine::call(name, &bytes) {
            Ok(result) => push_value(state, &result, &label),
            Err(e) => Err(error(state, &failure_message(&label, e))),
        }
    }
}

/// MessagePack's nil.
const NIL: u8 = 0xc0;

/// Arguments 2..=n+1 as one MessagePack array.
unsafe fn list(state: *mut lua_State, n: c_int, out: &mut Vec<u8>) -> Result<(), String> {
    let len = u32::try_from(n).map_err(|_| "too many arguments".to_owned())?;
    rmp::encode::write_array_len(out, len).map_err(|e| e.to_string())?;
    // SAFETY: the indexes are the protected call's arguments.
    (2..n + 2).try_for_each(|index| unsafe { value::encode_raw(state, index, out) })
}

/// `engine.emit(name, data)`.
unsafe extern "C-unwind" fn emit(state: *mut lua_State) -> c_int {
    // SAFETY: as in `call`.
    unsafe {
        crate::profiler::begin();
        match emit_from_stack(state) {
            Ok(()) => {
                crate::profiler::done(state, 0);
                0
            }
            Err(Raise) => ffi::lua_error(state),
        }
    }
}

unsafe fn emit_from_stack(state: *mut lua_State) -> Result<(), Raise> {
    // SAFETY: the name is read in place (it stays on the stack); the data
    // is encoded in a protected call with a copy of it as the argument.
    unsafe {
        if ffi::lua_type(state, 1) != ffi::LUA_TSTRING {
            let got = type_name(state, 1);
            return Err(error(
                state,
                &format!("engine.emit: the command name must be a string, got {got}"),
            ));
        }
        let Some(name) = text(state, 1) else {
            return Err(error(
                state,
                "engine.emit: command names must be UTF-8 text",
            ));
        };
        let mut bytes = value::value_buffer();
        let mut failure = None;
        ffi::lua_pushvalue(state, 2);
        protected(state, 1, 0, &mut |state| {
            failure = value::encode_raw(state, 2, &mut bytes).err();
            0
        })?;
        if let Some(reason) = failure {
            return Err(error(
                state,
                &format!("engine.emit: invalid data for command '{name}': {reason}"),
            ));
        }
        engine::emit(name, &bytes).map_err(|e| error(state, &failure_message("engine.emit", e)))
    }
}

/// The string at `index` as UTF-8 text, borrowed from Lua (no conversion:
/// only a string is read).
unsafe fn text<'a>(state: *mut lua_State, index: c_int) -> Option<&'a str> {
    // SAFETY: `lua_tolstring` on a string neither converts nor allocates.
    unsafe {
        if ffi::lua_type(state, index) != ffi::LUA_TSTRING {
            return None;
        }
        let mut len = 0usize;
        let data = ffi::lua_tolstring(state, index, &mut len);
        std::str::from_utf8(std::slice::from_raw_parts(data.cast::<u8>(), len)).ok()
    }
}
