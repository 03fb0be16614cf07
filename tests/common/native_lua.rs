//! Native Lua (mlua, the same vendored Lua 5.4) with the same libraries as
//! the sandbox: the reference that tests and benchmarks compare against.

/// A native Lua state with `base`, `table`, `string`, `math`, `coroutine` and `utf8`.
pub fn safe_native_lua() -> mlua::Result<mlua::Lua> {
    mlua::Lua::new_with(
        mlua::StdLib::TABLE
            | mlua::StdLib::STRING
            | mlua::StdLib::MATH
            | mlua::StdLib::COROUTINE
            | mlua::StdLib::UTF8,
        mlua::LuaOptions::new(),
    )
}
