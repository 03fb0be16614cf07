//! The Moonbox guest: Lua 5.4 (through mlua) compiled to a wasm component.
//!
//! The host creates one `sandbox` resource per script; the resource owns the
//! Lua state, so nothing lives in a global. Everything a script can reach
//! outside pure computation is an import of `wit/sandbox.wit`.

mod depth;
mod environment;
mod errors;

wit_bindgen::generate!({
    path: "../wit",
    world: "sandbox",
});

use exports::moonbox::sandbox::runtime::{Config, Guest, GuestSandbox, ScriptError};
use mlua::chunk::ChunkMode;
use mlua::{Lua, Value};

/// First byte of every precompiled Lua chunk (`LUA_SIGNATURE`).
const BINARY_CHUNK_MARK: u8 = 0x1b;

struct Component;

impl Guest for Component {
    type Sandbox = LuaSandbox;
}

/// One Lua state with the sandbox's safe environment.
struct LuaSandbox {
    lua: Lua,
    max_text_len: usize,
}

impl GuestSandbox for LuaSandbox {
    fn create(config: Config) -> Result<exports::moonbox::sandbox::runtime::Sandbox, String> {
        let lua = environment::create(&config).map_err(|e| format!("cannot set up Lua: {e}"))?;
        Ok(exports::moonbox::sandbox::runtime::Sandbox::new(
            LuaSandbox {
                lua,
                max_text_len: usize::try_from(config.max_text_len).unwrap_or(usize::MAX),
            },
        ))
    }

    fn run(&self, name: String, source: Vec<u8>) -> Result<(), ScriptError> {
        if source.first() == Some(&BINARY_CHUNK_MARK) {
            return Err(ScriptError::Refused(format!(
                "{name}: precompiled (binary) Lua chunks are not accepted; load the source text"
            )));
        }
        self.lua
            .load(&source[..])
            .set_name(format!("={name}"))
            .set_mode(ChunkMode::Text)
            .exec()
            .map_err(|e| errors::to_script_error(&e, self.max_text_len))
    }

    fn call(&self, name: String) -> Result<bool, ScriptError> {
        let value: Value = self
            .lua
            .globals()
            .raw_get(name)
            .map_err(|e| errors::to_script_error(&e, self.max_text_len))?;
        let Value::Function(function) = value else {
            return Ok(false);
        };
        function
            .call::<()>(())
            .map_err(|e| errors::to_script_error(&e, self.max_text_len))?;
        Ok(true)
    }

    fn memory_used(&self) -> u64 {
        u64::try_from(self.lua.used_memory()).unwrap_or(u64::MAX)
    }
}

export!(Component);
