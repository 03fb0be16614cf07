//! The Moonbox guest: Lua 5.4 (through mlua) compiled to a wasm component.
//!
//! The host creates one `sandbox` resource per script; the resource owns the
//! Lua state. Everything a script can reach outside pure computation is an
//! import of `wit/sandbox.wit`.
//!
//! The build pre-initialises the guest (`tools/guest-snapshot`, Wizer): it
//! runs `wizer-initialize`, which prepares a Lua state with the safe library,
//! and ships the memory that results. A new sandbox then starts from that
//! image and only applies its own settings.

mod depth;
mod engine_api;
mod environment;
mod errors;
mod limits;
mod profiler;
mod snapshot;
#[cfg(feature = "weval")]
mod specialise;
mod tasks;
mod value;
mod world_api;
mod world_calls;
mod world_query;

#[cfg(not(feature = "weval"))]
wit_bindgen::generate!({
    path: "../wit",
    world: "sandbox-build",
});
#[cfg(feature = "weval")]
wit_bindgen::generate!({
    path: "../wit",
    world: "sandbox-weval",
});

use exports::moonbox::sandbox::runtime::{Config, GuestSandbox, ScriptError};
use mlua::chunk::ChunkMode;
use std::cell::Cell;

use mlua::{Lua, MultiValue, Value};

/// First byte of every precompiled Lua chunk (`LUA_SIGNATURE`).
const BINARY_CHUNK_MARK: u8 = 0x1b;

thread_local! {
    /// The Lua state `wizer-initialize` prepared at build time, until the
    /// instance's first `create` takes it. The one piece of state outside a
    /// resource, and a hand-off, not a share: the host makes one sandbox per
    /// instance, and any later `create` prepares a state of its own.
    static PREPARED: Cell<Option<Lua>> = const { Cell::new(None) };
}

struct Component;

impl Guest for Component {
    fn wizer_initialize() {
        // Runs only in the build (tools/guest-snapshot): a failure there must
        // fail the build, not ship a guest without its prepared state.
        match environment::prepare() {
            Ok(lua) => PREPARED.set(Some(lua)),
            Err(e) => panic!("cannot prepare the Lua state: {e}"),
        }
    }

    #[cfg(feature = "weval")]
    fn specialise(chunks: Vec<(String, Vec<u8>)>) -> Result<u32, String> {
        let lua = PREPARED
            .take()
            .ok_or("specialise runs on the prepared state, before any sandbox")?;
        let made = specialise::request(&lua, &chunks);
        PREPARED.set(Some(lua));
        made
    }
}

impl exports::moonbox::sandbox::runtime::Guest for Component {
    type Sandbox = LuaSandbox;
}

/// One Lua state with the sandbox's safe environment.
struct LuaSandbox {
    lua: Lua,
    max_text_len: usize,
}

impl LuaSandbox {
    /// Where this state lives in the linear memory.
    fn address(&self) -> u32 {
        (self as *const Self).addr() as u32
    }

    /// The global function `name` and its decoded `args` (a MessagePack
    /// array, or empty for none), for a call; none when there is no such
    /// function. Clears the limits raised by an earlier call.
    fn global_function(
        &self,
        name: &str,
        args: &[u8],
    ) -> Result<Option<(mlua::Function, MultiValue)>, ScriptError> {
        limits::take(&self.lua);
        let fail = |e: mlua::Error| self.script_error(&e);
        let value: Value = self.lua.globals().raw_get(name).map_err(fail)?;
        let Value::Function(function) = value else {
            return Ok(None);
        };
        let args = if args.is_empty() {
            MultiValue::new()
        } else {
            value::decode_args(&self.lua, args).map_err(fail)?
        };
        Ok(Some((function, args)))
    }

    /// The WIT error for `error`, classified by the limits Lua raised in
    /// this call (never by the message alone).
    fn script_error(&self, error: &mlua::Error) -> ScriptError {
        errors::to_script_error(error, self.max_text_len, limits::take(&self.lua))
    }
}

impl GuestSandbox for LuaSandbox {
    fn create(config: Config) -> Result<exports::moonbox::sandbox::runtime::Sandbox, String> {
        let lua = match PREPARED.take() {
            Some(lua) => lua,
            None => environment::prepare().map_err(|e| format!("cannot set up Lua: {e}"))?,
        };
        environment::configure(&lua, &config).map_err(|e| format!("cannot configure Lua: {e}"))?;
        Ok(exports::moonbox::sandbox::runtime::Sandbox::new(
            LuaSandbox {
                lua,
                max_text_len: usize::try_from(config.max_text_len).unwrap_or(usize::MAX),
            },
        ))
    }

    fn run(&self, name: String, source: Vec<u8>) -> Result<(), ScriptError> {
        limits::take(&self.lua);
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
            .map_err(|e| self.script_error(&e))
    }

    fn define_module(&self, name: String, chunk_name: String, source: Vec<u8>) {
        // Defining only stores the text; compiling waits for `require`.
        let defined = self
            .lua
            .named_registry_value::<mlua::Function>(environment::DEFINE_MODULE)
            .and_then(|define| {
                let source = self.lua.create_string(&source)?;
                define.call::<()>((name, chunk_name, source))
            });
        if let Err(e) = defined {
            crate::moonbox::sandbox::console::write(
                crate::moonbox::sandbox::console::Channel::Warn,
                &format!("could not define a module: {e}"),
            );
        }
    }

    fn call(&self, name: String, args: Vec<u8>) -> Result<bool, ScriptError> {
        let Some((function, args)) = self.global_function(&name, &args)? else {
            return Ok(false);
        };
        function
            .call::<()>(args)
            .map_err(|e| self.script_error(&e))?;
        Ok(true)
    }

    fn call_returning(&self, name: String, args: Vec<u8>) -> Result<Option<Vec<u8>>, ScriptError> {
        let Some((function, args)) = self.global_function(&name, &args)? else {
            return Ok(None);
        };
        let fail = |e: mlua::Error| self.script_error(&e);
        let result: Value = function.call(args).map_err(fail)?;
        let mut out = value::value_buffer();
        value::encode(&self.lua, &result, &mut out).map_err(|reason| {
            fail(mlua::Error::runtime(format!(
                "{name} returned a value that cannot be handed over: {reason}"
            )))
        })?;
        Ok(Some(out))
    }

    fn deliver(&self, events: Vec<u8>) -> Result<bool, ScriptError> {
        limits::take(&self.lua);
        let fail = |e: mlua::Error| self.script_error(&e);
        let value: Value = self.lua.globals().raw_get("on_event").map_err(fail)?;
        let Value::Function(on_event) = value else {
            return Ok(false);
        };
        for event in value::decode_args(&self.lua, &events).map_err(fail)? {
            let Value::Table(event) = event else {
                return Err(fail(mlua::Error::runtime("an event must be a list")));
            };
            let name: Value = event.raw_get(1).map_err(fail)?;
            let data: Value = event.raw_get(2).map_err(fail)?;
            let from: Value = event.raw_get(3).map_err(fail)?;
            on_event.call::<()>((name, data, from)).map_err(fail)?;
        }
        Ok(true)
    }

    fn run_tasks(&self, reserve: u64, max_slices: u32) -> Result<u32, ScriptError> {
        limits::take(&self.lua);
        tasks::run(&self.lua, reserve, max_slices).map_err(|e| self.script_error(&e))
    }

    fn memory_used(&self) -> u64 {
        u64::try_from(self.lua.used_memory()).unwrap_or(u64::MAX)
    }

    fn save(&self) -> u32 {
        snapshot::save();
        self.address()
    }

    fn restore(&self, state: u32, pages: u32) -> u32 {
        if self.address() != state {
            return 1;
        }
        snapshot::restore(pages)
    }

    fn profile(&self, period: u32) {
        // SAFETY: called from the host, so the state `exec_raw` hands over
        // is the main thread; `set` neither allocates Lua memory nor raises.
        let set = unsafe {
            self.lua
                .exec_raw::<()>((), |state| profiler::set(state, period))
        };
        if let Err(e) = set {
            crate::moonbox::sandbox::console::write(
                crate::moonbox::sandbox::console::Channel::Warn,
                &format!("could not start the profiler: {e}"),
            );
        }
    }
}

/// Called by `csrc/wasm_sjlj.c` before every long jump (a Lua error or a
/// yield that leaves by a throw): the host charges the unwinding in fuel.
#[unsafe(no_mangle)]
pub extern "C" fn moonbox_unwinding() {
    moonbox::sandbox::meter::unwinding();
}

/// Called by the Lua build (`vendor/lua-src/onelua.c`) before each copy of
/// 4 KiB or more: one wasm instruction, whose work the host charges in fuel.
#[unsafe(no_mangle)]
pub extern "C" fn moonbox_copying(bytes: usize) {
    moonbox::sandbox::meter::copying(u64::try_from(bytes).unwrap_or(u64::MAX));
}

export!(Component);
