//! The call-depth limit, enforced by Moonbox's patch to Lua (see
//! `vendor/lua-src/MOONBOX.md`): one compare per call, exact, and shared by
//! every coroutine of the state.

use std::ffi::c_uint;

use mlua::{Lua, ffi};

/// Start of the message of the error raised past the depth limit. The error
/// is an ordinary Lua error: `pcall` catches it.
pub const DEPTH_ERROR: &str = "recursion depth limit exceeded";

unsafe extern "C" {
    /// Added by the patch in `lstate.c`; `0` removes the limit.
    fn moonbox_setmaxdepth(state: *mut ffi::lua_State, depth: c_uint);
}

/// Sets the limit on `lua`. `max_depth == 0` leaves calls unchecked.
pub fn install(lua: &Lua, max_depth: u32) -> mlua::Result<()> {
    // SAFETY: `exec_raw` hands us the locked state; the call only stores the
    // limit in its global state.
    unsafe {
        lua.exec_raw::<()>((), |state| {
            moonbox_setmaxdepth(state, max_depth);
        })
    }
}
