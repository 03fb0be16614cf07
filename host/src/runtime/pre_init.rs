//! Pre-initialising a guest component, Wizer-style: run its
//! `wizer-initialize` export once (a Lua state with the safe library and the
//! prelude, see `guest-lua/src/lib.rs`) and keep the memory it leaves, so a
//! sandbox starts from that image instead of building the state again.
//!
//! The build runs this on the guest (`tools/guest-snapshot`). For a guest
//! specialised for a mod ([`super::specialise`]) it runs on the weval
//! variant, which then also compiles the mod's chunks and requests weval's
//! specialisation of their functions in the same snapshot.
//!
//! The output depends only on the inputs: the initialisation calls no import
//! (every import traps here), and the guest's Lua is deterministic.

use std::path::Path;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Instance, InstancePre, Lift, Linker, WasmList};
use wasmtime::error::Context as _;
use wasmtime::{Config, Engine, Error, OptLevel, Result, Store, bail};
use wasmtime_wizer::{ComponentContext, ComponentInstanceState, Wizer};

use super::cache;
use super::specialise::SpecialiseError;

/// The component `wasm` after its `wizer-initialize` export has run and,
/// when `chunks` is given (the weval variant only), its `specialise` export
/// on them. Returns the component and the number of specialisation requests
/// made.
///
/// # Errors
/// If `wasm` is not a guest built for this, or a chunk does not compile
/// (the error then names it).
#[doc(hidden)]
pub fn pre_initialise(wasm: &[u8], chunks: Option<&[(String, Vec<u8>)]>) -> Result<(Vec<u8>, u32)> {
    Instrumented::new(wasm, None)
        .map_err(Failure::Wasm)
        .and_then(|guest| guest.run(chunks))
        .map_err(|e| match e {
            Failure::Chunk(message) => wasmtime::format_err!("{message}"),
            Failure::Wasm(e) => e,
        })
}

/// A guest instrumented by Wizer and compiled, ready to be pre-initialised
/// any number of times: an engine that specialises mods keeps the weval
/// variant's, so each mod pays only for running it. Compiling it takes
/// about 0.3 s (without optimisation: the code runs for milliseconds), or
/// milliseconds from the compiled-guest cache.
pub(crate) struct Instrumented<'a> {
    wizer: Wizer,
    context: ComponentContext<'a>,
    engine: Engine,
    pre: InstancePre<()>,
}

/// What stopped a pre-initialisation.
enum Failure {
    /// A chunk did not compile: `name: error`, from the guest.
    Chunk(String),
    Wasm(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self::Wasm(e)
    }
}

impl<'a> Instrumented<'a> {
    /// Instruments and compiles `wasm`, or loads it compiled from the
    /// compiled-guest cache folder `cache`.
    pub(crate) fn new(wasm: &'a [u8], cache: Option<&Path>) -> Result<Self> {
        let mut wizer = Wizer::new();
        // Wizer 48 removes the init function from the core module but not
        // the component's export of it, which then fails to validate; it
        // stays, and the host's world (`sandbox`) does not import it.
        wizer.keep_init_func(true);
        let (context, instrumented) = wizer
            .instrument_component(wasm)
            .context("instrumenting the guest")?;
        let mut config = Config::new();
        config.wasm_exceptions(true); // Lua's setjmp/longjmp
        // Its code runs once per snapshot, for milliseconds: not worth
        // optimising (a fifth less to compile).
        config.cranelift_opt_level(OptLevel::None);
        let engine = Engine::new(&config)?;
        let component = match cache {
            None => Component::new(&engine, &instrumented),
            Some(folder) => {
                let make = || Ok(instrumented.clone());
                let wanted = cache::Wanted {
                    kind: "instrumented",
                    identity: Sha256::digest(&instrumented).into(),
                    component: &make,
                };
                // Whether it came from the cache changes nothing but time.
                cache::load_or_compile(&engine, folder, &wanted)
                    .map(|(component, _)| component)
                    .map_err(|e| match e {
                        cache::Failure::Compile(e) => e,
                        cache::Failure::Make(e) => Error::from(e),
                    })
            }
        }
        .context("compiling the instrumented guest")?;
        let mut linker = Linker::<()>::new(&engine);
        // The initialisation must not reach the host: state the host keeps
        // for an instance (WASI streams, resources) would not be in the
        // snapshot. Except two imports that only charge fuel, which a
        // snapshot does not count: a Lua error in a chunk unwinds
        // (`meter.unwinding`), and large copies report themselves
        // (`meter.copying`).
        let mut meter = linker.instance("moonbox:sandbox/meter@0.1.0")?;
        meter.func_wrap("unwinding", |_, (): ()| Ok(()))?;
        meter.func_wrap("copying", |_, (_,): (u64,)| Ok(()))?;
        linker.define_unknown_imports_as_traps(&component)?;
        let pre = linker
            .instantiate_pre(&component)
            .context("linking the guest")?;
        Ok(Self {
            wizer,
            context,
            engine,
            pre,
        })
    }

    /// The weval variant, pre-initialised, with the specialisation of
    /// `chunks`' functions requested.
    pub(crate) fn with_requests(
        &self,
        chunks: &[(String, Vec<u8>)],
    ) -> Result<Vec<u8>, SpecialiseError> {
        match self.run(Some(chunks)) {
            Ok((snapshot, _)) => Ok(snapshot),
            Err(Failure::Chunk(message)) => Err(SpecialiseError::Chunk { message }),
            Err(Failure::Wasm(e)) => Err(SpecialiseError::Build {
                message: format!("{e:#}"),
            }),
        }
    }

    /// A fresh instance, initialised, given `chunks`, snapshotted.
    fn run(
        &self,
        chunks: Option<&[(String, Vec<u8>)]>,
    ) -> std::result::Result<(Vec<u8>, u32), Failure> {
        let mut store = Store::new(&self.engine, ());
        let instance = self
            .pre
            .instantiate(&mut store)
            .context("instantiating the guest")?;
        instance
            .get_typed_func::<(), ()>(&mut store, self.wizer.get_init_func())
            .and_then(|init| init.call(&mut store, ()))
            .context("running the guest's wizer-initialize")?;
        let requests = match chunks {
            None => 0,
            Some(chunks) => instance
                .get_typed_func::<(&[(String, Vec<u8>)],), (Result<u32, String>,)>(
                    &mut store,
                    "specialise",
                )
                .and_then(|specialise| specialise.call(&mut store, (chunks,)))
                .context("running the guest's specialise")?
                .0
                .map_err(Failure::Chunk)?,
        };
        let mut state = Snapshotting {
            store,
            instance,
            error: None,
        };
        let snapshot = block_on(self.wizer.snapshot_component(&self.context, &mut state))?
            .context("snapshotting the guest")?;
        if let Some(error) = state.error {
            return Err(error.context("reading the guest's state").into());
        }
        Ok((snapshot, requests))
    }
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
