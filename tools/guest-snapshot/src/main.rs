//! Pre-initialises the Lua guest component, Wizer-style.
//!
//! Runs the guest's `wizer-initialize` export once (it builds a Lua state with
//! the safe standard library and the prelude, see `guest-lua/src/lib.rs`) and
//! writes a component whose memory image already holds that state, so a new
//! sandbox starts from the image instead of building the state again. Called
//! by `guest-lua/build.sh`:
//!
//! ```sh
//! guest-snapshot <built guest.wasm> <pre-initialised guest.wasm>
//! ```
//!
//! For the weval variant (issue 18, `guest-lua/weval-gate.sh`), Lua files
//! after `--specialise` are a mod's chunks: the guest's `specialise` export
//! requests weval's specialisation of their functions in the same snapshot,
//! which weval then reads.
//!
//! The output depends only on the input bytes: the initialisation calls no
//! import (every import traps here), and the guest's Lua is deterministic.

use std::path::PathBuf;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

use wasmtime::component::{Component, Instance, Lift, Linker, WasmList};
use wasmtime::error::Context as _;
use wasmtime::{Config, Engine, Error, Result, Store, bail};
use wasmtime_wizer::{ComponentInstanceState, Wizer};

fn main() -> Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (input, output, specialise) = match args.as_slice() {
        [input, output] => (input, output, None),
        [input, output, flag, chunks @ ..] if flag.as_os_str() == "--specialise" => {
            (input, output, Some(chunks))
        }
        _ => bail!(
            "usage: guest-snapshot <guest.wasm> <pre-initialised.wasm> [--specialise <chunk.lua>...]"
        ),
    };
    let wasm = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let chunks = specialise
        .unwrap_or_default()
        .iter()
        .map(|path| {
            let source =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            Ok((name.into_owned(), source))
        })
        .collect::<Result<Vec<_>>>()?;
    let snapshot = pre_initialise(&wasm, specialise.map(|_| chunks))?;
    std::fs::write(output, snapshot).with_context(|| format!("writing {}", output.display()))?;
    Ok(())
}

/// The component `wasm` after its `wizer-initialize` export has run, and
/// then its `specialise` export on `chunks` if given.
fn pre_initialise(wasm: &[u8], chunks: Option<Vec<(String, Vec<u8>)>>) -> Result<Vec<u8>> {
    let mut wizer = Wizer::new();
    // Wizer 48 removes the init function from the core module but not the
    // component's export of it, which then fails to validate; it stays, and
    // the host's world (`sandbox`) does not import it.
    wizer.keep_init_func(true);
    let (context, instrumented) = wizer
        .instrument_component(wasm)
        .context("instrumenting the guest")?;

    let mut config = Config::new();
    config.wasm_exceptions(true); // Lua's setjmp/longjmp
    let engine = Engine::new(&config)?;
    let component =
        Component::new(&engine, &instrumented).context("compiling the instrumented guest")?;
    let mut linker = Linker::<()>::new(&engine);
    // The initialisation must not reach the host: state the host keeps for an
    // instance (WASI streams, resources) would not be in the snapshot.
    linker.define_unknown_imports_as_traps(&component)?;
    let mut store = Store::new(&engine, ());
    let instance = linker
        .instantiate(&mut store, &component)
        .context("instantiating the guest")?;
    instance
        .get_typed_func::<(), ()>(&mut store, wizer.get_init_func())
        .and_then(|init| init.call(&mut store, ()))
        .context("running the guest's wizer-initialize")?;
    if let Some(chunks) = chunks {
        let made = instance
            .get_typed_func::<(Vec<(String, Vec<u8>)>,), (Result<u32, String>,)>(
                &mut store,
                "specialise",
            )
            .and_then(|specialise| specialise.call(&mut store, (chunks,)))
            .context("running the guest's specialise")?
            .0
            .map_err(|e| wasmtime::format_err!("specialise: {e}"))?;
        eprintln!("guest-snapshot: {made} functions requested for specialisation");
    }

    let mut state = Snapshotting {
        store,
        instance,
        error: None,
    };
    let snapshot = block_on(wizer.snapshot_component(&context, &mut state))?
        .context("snapshotting the guest")?;
    if let Some(error) = state.error {
        return Err(error.context("reading the guest's state"));
    }
    Ok(snapshot)
}

/// Reads the instrumented guest's state through the accessors Wizer added.
struct Snapshotting {
    store: Store<()>,
    instance: Instance,
    /// The first failed read; the trait's methods cannot return errors.
    error: Option<Error>,
}

impl Snapshotting {
    fn call<R: Lift + Send + Sync + 'static>(&mut self, instance: &str, func: &str) -> Option<R> {
        let result = (|| {
            let (_, exported) = self
                .instance
                .get_export(&mut self.store, None, instance)
                .with_context(|| format!("no export {instance}"))?;
            let (_, func_index) = self
                .instance
                .get_export(&mut self.store, Some(&exported), func)
                .with_context(|| format!("no export {instance}#{func}"))?;
            let typed = self
                .instance
                .get_typed_func::<(), (R,)>(&mut self.store, func_index)?;
            let (value,) = typed.call(&mut self.store, ())?;
            Ok::<_, Error>(value)
        })();
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }
}

impl ComponentInstanceState for Snapshotting {
    async fn call_func_ret_list_u8(
        &mut self,
        instance: &str,
        func: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) {
        match self.call::<WasmList<u8>>(instance, func) {
            Some(list) => contents(list.as_le_slice(&self.store)),
            None => contents(&[]),
        }
    }

    async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
        self.call(instance, func).unwrap_or_default()
    }

    async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
        self.call(instance, func).unwrap_or_default()
    }

    async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
        self.call::<f32>(instance, func)
            .unwrap_or_default()
            .to_bits()
    }

    async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
        self.call::<f64>(instance, func)
            .unwrap_or_default()
            .to_bits()
    }
}

/// Drives a future that never waits: every call above completes at once.
fn block_on<F: Future>(future: F) -> Result<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut TaskContext::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => bail!("snapshotting waited on something; it should not"),
    }
}
