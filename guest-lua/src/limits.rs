//! Which Lua-level limits were really raised: Moonbox's patch to Lua marks
//! each one where it is raised (`vendor/lua-src/MOONBOX.md`), so an error
//! is reported as a limit only if the limit was hit, never because a script
//! wrote its message (`error("not enough memory", 0)`).

use std::ffi::c_int;

use mlua::{Lua, ffi};

unsafe extern "C" {
    /// Added by the patch in `lstate.c`: the `MOONBOX_LIMIT_*` mask raised
    /// since the last call, cleared.
    fn moonbox_takelimits(state: *mut ffi::lua_State) -> c_int;
}

/// The allocator limit (`LUA_ERRMEM`).
const MEMORY: c_int = 1;
/// The call-depth limit.
const DEPTH: c_int = 2;
/// Lua's stack limits ("stack overflow", "C stack overflow").
const STACK: c_int = 4;

/// The limits raised since the last `take`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hit(c_int);

impl Hit {
    pub fn memory(self) -> bool {
        self.0 & MEMORY != 0
    }
    pub fn depth(self) -> bool {
        self.0 & DEPTH != 0
    }
    pub fn stack(self) -> bool {
        self.0 & STACK != 0
    }
}

/// The limits raised since the last call, forgetting them.
pub fn take(lua: &Lua) -> Hit {
    // SAFETY: `exec_raw` hands us the locked state; the call reads and
    // clears one byte of its global state.
    let hit = unsafe {
        lua.exec_raw::<c_int>((), |state| {
            let mask = moonbox_takelimits(state);
            ffi::lua_pushinteger(state, ffi::lua_Integer::from(mask));
        })
    };
    Hit(hit.unwrap_or(0))
}
