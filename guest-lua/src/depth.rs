//! The call-depth limit: a C-level Lua hook on call events.
//!
//! The limit is kept in the hook's (otherwise unused) instruction count, so
//! the hook needs no global state, and coroutines inherit both the hook and
//! the limit from the thread that creates them (`lua_newthread` copies them).

use std::ffi::c_int;

use mlua::{Lua, ffi};

/// Message of the error raised when a script goes past the depth limit. The
/// error is an ordinary Lua error: `pcall` catches it.
pub const DEPTH_ERROR: &str = "recursion depth limit exceeded";

/// Installs the limit on the main thread of `lua`. `max_depth == 0` leaves calls unchecked.
pub fn install(lua: &Lua, max_depth: u32) -> mlua::Result<()> {
    if max_depth == 0 {
        return Ok(());
    }
    let count = c_int::try_from(max_depth).unwrap_or(c_int::MAX);
    // SAFETY: `exec_raw` hands us the locked main state; `lua_sethook` only
    // stores the hook, mask and count on it.
    unsafe {
        lua.exec_raw::<()>((), |state| {
            ffi::lua_sethook(state, Some(depth_hook), ffi::LUA_MASKCALL, count);
        })
    }
}

/// Raises [`DEPTH_ERROR`] when a Lua function is called with `max_depth`
/// levels already on the stack. Cost per call: one walk of at most
/// `max_depth` frames, which is short for ordinary (shallow) code.
unsafe extern "C-unwind" fn depth_hook(state: *mut ffi::lua_State, ar: *mut ffi::lua_Debug) {
    // SAFETY: Lua passes a valid state and activation record to hooks.
    unsafe {
        if (*ar).event != ffi::LUA_HOOKCALL {
            return; // tail calls reuse their frame
        }
        let max_depth = ffi::lua_gethookcount(state);
        let mut probe: ffi::lua_Debug = std::mem::zeroed();
        if ffi::lua_getstack(state, max_depth, &mut probe) == 0 {
            return;
        }
        // C functions (message handlers, library functions) may go past the
        // limit so that reporting the error itself cannot fail; their own
        // nesting is bounded by Lua's C-stack limit.
        if ffi::lua_getinfo(state, c"f".as_ptr(), ar) != 0 {
            let is_c = ffi::lua_iscfunction(state, -1) != 0;
            ffi::lua_settop(state, -2);
            if is_c {
                return;
            }
        }
        let message = format!("{DEPTH_ERROR} ({max_depth} call levels)");
        ffi::luaL_where(state, 1);
        ffi::lua_pushlstring(state, message.as_ptr().cast(), message.len());
        drop(message); // lua_error does not return: free the buffer first
        ffi::lua_concat(state, 2);
        ffi::lua_error(state);
    }
}
