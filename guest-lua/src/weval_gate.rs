//! The weval gate (issue 18, stage 1; built only by `guest-lua/weval-gate.sh`):
//! the benchmark functions defined in the prepared state, with their
//! bytecode handed to weval for specialisation. Mods loaded later are not
//! specialised: that needs a per-mod snapshot (stage 2).

use mlua::Lua;

unsafe extern "C" {
    /// `lvm.c` (built with `MOONBOX_WEVAL`): queues a weval request for the
    /// Lua function at `idx` and every function nested in it.
    fn moonbox_request_closure(state: *mut mlua::ffi::lua_State, idx: std::ffi::c_int);
}

/// The same source as `benches/weval_gate.rs`, which defines it in
/// sandboxes of guests without it.
const FUNCTIONS: &str = include_str!("../../benches/weval_gate.lua");

/// Defines the benchmark functions and requests their specialisation.
pub fn request(lua: &Lua) -> mlua::Result<()> {
    lua.load(FUNCTIONS).set_name("=weval_gate.lua").exec()?;
    for name in ["fib", "loop", "depth"] {
        let function: mlua::Function = lua.globals().get(name)?;
        // SAFETY: `exec_raw` pushes `function` onto the stack of a protected
        // call; the C function only reads the value at that index.
        unsafe {
            lua.exec_raw::<()>(function, |state| moonbox_request_closure(state, -1))?;
        }
    }
    Ok(())
}
