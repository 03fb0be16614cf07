//! The weval variant (issue 18; the `weval` feature, built with the guest):
//! requests weval's specialisation of a mod's functions, made in a snapshot
//! of the prepared state (the host's `ScriptEngine::specialised`). The requests are keyed by bytecode (`lvm.c`), so a
//! sandbox of the specialised guest runs those functions specialised when
//! it loads the mod, like any other guest.

use mlua::Lua;
use mlua::chunk::ChunkMode;

unsafe extern "C" {
    /// `lvm.c` (built with `MOONBOX_WEVAL`): queues a weval request for the
    /// code of the Lua function at `idx` and of every function nested in
    /// it, once per distinct code. Returns the number of new requests, -1
    /// when out of memory.
    fn moonbox_request_closure(
        state: *mut mlua::ffi::lua_State,
        idx: std::ffi::c_int,
    ) -> std::ffi::c_int;
}

/// Compiles each chunk (without running it) and requests the specialisation
/// of every function in it. Returns the number of new requests.
pub fn request(lua: &Lua, chunks: &[(String, Vec<u8>)]) -> Result<u32, String> {
    let mut made = 0u32;
    for (name, source) in chunks {
        let function = lua
            .load(&source[..])
            .set_name(format!("={name}"))
            .set_mode(ChunkMode::Text)
            .into_function()
            .map_err(|e| format!("{name}: {e}"))?;
        // SAFETY: `exec_raw` pushes `function` onto the stack of a protected
        // call; the C function only reads the value at that index, which is
        // then replaced by the result.
        let new = unsafe {
            lua.exec_raw::<std::ffi::c_int>(function, |state| {
                let new = moonbox_request_closure(state, -1);
                mlua::ffi::lua_settop(state, 0);
                mlua::ffi::lua_pushinteger(state, mlua::ffi::lua_Integer::from(new));
            })
        }
        .map_err(|e| format!("{name}: {e}"))?;
        made += u32::try_from(new).map_err(|_| format!("{name}: out of memory"))?;
    }
    // The compiled chunks are garbage now; the requests hold copies of
    // their code.
    lua.gc_collect().map_err(|e| e.to_string())?;
    Ok(made)
}
