//! `world:get` and `world:set` as raw Lua C functions: the calls a mod makes
//! once per entity per tick. Through mlua's callbacks each call converted its
//! arguments into Rust values, copied the component name into a `String` and
//! returned the table through mlua's reference stack; a third of a
//! `world:get` went there.
//!
//! A Lua error is a `longjmp`, which skips destructors. So every step that
//! can raise (pushing a value, encoding one, building an error message) runs
//! inside a protected call of its own, and the functions that own Rust values
//! (the host's bytes, a message) return before `lua_error` is called.

use std::ffi::{c_int, c_void};

use mlua::ffi::{self, lua_State};

use crate::moonbox::sandbox::ecs as world;
use crate::value;
use crate::world_api::{entity_bits, failure_message};

/// `world:get(e, "Name")`: the component as a table, or nil.
///
/// # Safety
/// Called by Lua as a C function.
pub unsafe extern "C-unwind" fn get(state: *mut lua_State) -> c_int {
    // SAFETY: `state` is the calling Lua state; `get_onto_stack` leaves
    // either the result or an error object on top of the stack.
    unsafe {
        crate::profiler::begin();
        match get_onto_stack(state) {
            Ok(()) => {
                crate::profiler::done(state, 0);
                1
            }
            Err(Raise) => ffi::lua_error(state),
        }
    }
}

/// `world:set(e, "Name", value)`.
///
/// # Safety
/// Called by Lua as a C function.
pub unsafe extern "C-unwind" fn set(state: *mut lua_State) -> c_int {
    // SAFETY: as in `get`.
    unsafe {
        crate::profiler::begin();
        match set_from_stack(state) {
            Ok(()) => {
                crate::profiler::done(state, 0);
                0
            }
            Err(Raise) => ffi::lua_error(state),
        }
    }
}

/// An error object is on top of the stack, to be raised by the caller.
pub(crate) struct Raise;

unsafe fn get_onto_stack(state: *mut lua_State) -> Result<(), Raise> {
    // SAFETY: arguments are read in place; the host's bytes live in this
    // frame and the value is pushed from them in a protected call.
    unsafe {
        let entity = entity_arg(state, "get")?;
        let component = name_arg(state, "get")?;
        let reference = component_ref(state, component)?;
        match world::get(entity, &reference) {
            Ok(Some(bytes)) => push_value(state, &bytes, "world:get"),
            Ok(None) => {
                ffi::lua_pushnil(state);
                Ok(())
            }
            Err(e) => Err(error(state, &failure_message("world:get", e))),
        }
    }
}

unsafe fn set_from_stack(state: *mut lua_State) -> Result<(), Raise> {
    // SAFETY: as in `get_onto_stack`; the value is read at index 4.
    unsafe {
        let entity = entity_arg(state, "set")?;
        let component = name_arg(state, "set")?;
        let reference = component_ref(state, component)?;
        let bytes = encode_value(state, 4, component)?;
        world::set(entity, &reference, &bytes)
            .map_err(|e| error(state, &failure_message("world:set", e)))
    }
}

/// Argument 2, the entity: an integer (entity bits).
unsafe fn entity_arg(state: *mut lua_State, call: &str) -> Result<u64, Raise> {
    // SAFETY: reading an argument slot does not raise.
    unsafe {
        let mut is_integer = 0;
        let entity = ffi::lua_tointegerx(state, 2, &mut is_integer);
        if ffi::lua_type(state, 2) != ffi::LUA_TNUMBER || is_integer == 0 {
            let got = type_name(state, 2);
            return Err(error(
                state,
                &format!("world:{call}: the entity must be an integer, got {got}"),
            ));
        }
        Ok(entity_bits(entity))
    }
}

/// Argument 3, the component name: a string of UTF-8 text, borrowed from
/// Lua (it stays on the stack for the whole call).
unsafe fn name_arg<'a>(state: *mut lua_State, call: &str) -> Result<&'a str, Raise> {
    // SAFETY: `lua_tolstring` on a string neither converts nor allocates.
    unsafe {
        if ffi::lua_type(state, 3) != ffi::LUA_TSTRING {
            let got = type_name(state, 3);
            return Err(error(
                state,
                &format!("world:{call}: the component name must be a string, got {got}"),
            ));
        }
        let mut len = 0usize;
        let data = ffi::lua_tolstring(state, 3, &mut len);
        let bytes = std::slice::from_raw_parts(data.cast::<u8>(), len);
        std::str::from_utf8(bytes).map_err(|_| {
            error(
                state,
                &format!("world:{call}: component names must be UTF-8 text"),
            )
        })
    }
}

/// How to name the component of argument 3 (whose text is `name`) to the
/// host: by the id the host gave for it, asked once per sandbox and kept
/// in the calling function's upvalue (a table of ids by name, shared by
/// `get` and `set`), so a loop neither copies nor looks up the name; by
/// the name if the host has no id for it (it is not registered, or no
/// world is attached: the call then fails as it would by name).
unsafe fn component_ref(state: *mut lua_State, name: &str) -> Result<world::Component, Raise> {
    // SAFETY: the calling closure has the ids table as upvalue 1 (see
    // `world_api::install`); a raw get neither raises nor allocates. The
    // new id is stored in a protected call (growing the table allocates).
    unsafe {
        let ids = ffi::lua_upvalueindex(1);
        ffi::lua_pushvalue(state, 3);
        ffi::lua_rawget(state, ids);
        let mut is_integer = 0;
        let known = ffi::lua_tointegerx(state, -1, &mut is_integer);
        ffi::lua_settop(state, -2);
        if is_integer != 0
            && let Ok(id) = u32::try_from(known)
        {
            return Ok(world::Component::Id(id));
        }
        let Some(id) = world::component_id(name) else {
            return Ok(world::Component::Name(name.to_owned()));
        };
        ffi::lua_pushvalue(state, ids);
        ffi::lua_pushvalue(state, 3);
        protected(state, 2, 0, &mut |state| {
            ffi::lua_pushinteger(state, i64::from(id));
            ffi::lua_rawset(state, 2);
            0
        })?;
        Ok(world::Component::Id(id))
    }
}

/// "a nil", "a string": the type of argument `index`, for messages.
pub(crate) unsafe fn type_name(state: *mut lua_State, index: c_int) -> String {
    // SAFETY: reading an argument's type does not raise.
    unsafe { format!("a {}", value::type_name(state, ffi::lua_type(state, index))) }
}

/// Pushes the decoded `bytes`, or leaves an error object naming `call`.
pub(crate) unsafe fn push_value(
    state: *mut lua_State,
    bytes: &[u8],
    call: &str,
) -> Result<(), Raise> {
    let mut malformed = false;
    // SAFETY: the closure runs in a protected call; on a Lua error it
    // unwinds only its own frames, which own nothing.
    unsafe {
        protected(state, 0, 1, &mut |state| {
            if !value::push_raw(state, bytes) {
                malformed = true;
                ffi::lua_pushnil(state);
            }
            1
        })?;
        if malformed {
            ffi::lua_settop(state, -2);
            return Err(error(
                state,
                &format!("{call}: the host sent a malformed value"),
            ));
        }
    }
    Ok(())
}

/// The Lua value at `index` as MessagePack, or an error object.
unsafe fn encode_value(
    state: *mut lua_State,
    index: c_int,
    component: &str,
) -> Result<Vec<u8>, Raise> {
    let mut bytes = value::value_buffer();
    let mut failure = None;
    // SAFETY: the value is passed to the protected call as its argument (its
    // index 2, after the closure); encoding raises only for stack space.
    unsafe {
        ffi::lua_pushvalue(state, index);
        protected(state, 1, 0, &mut |state| {
            if let Err(reason) = value::encode_raw(state, 2, &mut bytes) {
                failure = Some(reason);
            }
            0
        })?;
        match failure {
            None => Ok(bytes),
            Some(reason) => Err(error(
                state,
                &format!("world:set: invalid value for component '{component}': {reason}"),
            )),
        }
    }
}

/// Pushes `message`, prefixed with the position of the Lua code that made
/// the world call (as `error` does), and returns [`Raise`].
pub(crate) unsafe fn error(state: *mut lua_State, message: &str) -> Raise {
    // SAFETY: building the string allocates, so it runs protected; if that
    // fails, its error object (out of memory) is what gets raised.
    // Either the message or, if building it failed, that error is on top.
    let (Ok(()) | Err(Raise)) = unsafe {
        protected(state, 0, 1, &mut |state| {
            // Level 0 is this closure, 1 the world call, 2 its caller.
            ffi::luaL_where(state, 2);
            ffi::lua_pushlstring(state, message.as_ptr().cast(), message.len());
            ffi::lua_concat(state, 2);
            1
        })
    };
    Raise
}

/// Calls `body` in a protected call with the top `nargs` values as its
/// arguments (from index 2: index 1 is the closure's pointer). On success
/// its `nresults` results are on the stack; on a Lua error the error object
/// is, and `Err(Raise)` says so.
///
/// `body` must own nothing that needs dropping: a Lua error unwinds it
/// without running destructors.
pub(crate) unsafe fn protected<F: FnMut(*mut lua_State) -> c_int>(
    state: *mut lua_State,
    nargs: c_int,
    nresults: c_int,
    body: &mut F,
) -> Result<(), Raise> {
    unsafe extern "C-unwind" fn trampoline<F: FnMut(*mut lua_State) -> c_int>(
        state: *mut lua_State,
    ) -> c_int {
        // SAFETY: argument 1 is the `&mut F` pushed below, alive for the call.
        unsafe {
            let body = &mut *ffi::lua_touserdata(state, 1).cast::<F>();
            body(state)
        }
    }
    // SAFETY: a light C function and a light userdata need no allocation;
    // Lua guarantees C functions `LUA_MINSTACK` free slots.
    unsafe {
        ffi::lua_pushcfunction(state, trampoline::<F>);
        ffi::lua_pushlightuserdata(state, std::ptr::from_mut(body).cast::<c_void>());
        // Function and pointer go below the arguments.
        ffi::lua_rotate(state, -(nargs + 2), 2);
        if ffi::lua_pcall(state, nargs + 1, nresults, 0) == ffi::LUA_OK {
            Ok(())
        } else {
            Err(Raise)
        }
    }
}
