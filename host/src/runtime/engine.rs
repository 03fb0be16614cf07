//! [`ScriptEngine`]: one wasmtime engine with the Lua guest compiled and
//! pre-linked, from which sandboxes are made.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use super::bindings::{Sandbox as SandboxWorld, SandboxPre};
use super::cache::{self, CacheOutcome};
use super::epoch::EpochTicker;
use super::function_cache::{FUNCTION_CACHE_BYTES, FunctionCache, FunctionCacheStats};
use super::guest::Guest;
use super::sandbox::{Prepared, Sandbox, SandboxConfig, SandboxSnapshot};
use super::specialise::{self, SpecialiseError};
use super::store::StoreState;
use crate::ScriptError;
use crate::snapshot::SnapshotError;

/// The guest component (Lua 5.4 in wasm), built by `guest-lua/build.sh`.
pub const GUEST_COMPONENT: &[u8] = include_bytes!("../../guest/moonbox_guest.wasm");

/// How often the epoch advances; the wall-clock limit is counted in these.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Default size of the wasm stack: 512 KiB (wasmtime's default). Deeper wasm
/// recursion traps as a [`crate::LimitKind::Stack`] limit.
pub const DEFAULT_MAX_WASM_STACK: usize = 512 * 1024;

/// Engine-wide settings (the same for every sandbox of an engine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Bytes of native stack wasm code may use. Default: [`DEFAULT_MAX_WASM_STACK`].
    pub max_wasm_stack: usize,
    /// Use wasmtime's pooling allocator: slots for sandboxes are reserved
    /// once, when the engine is created, and reused, which makes creating and
    /// dropping sandboxes cheaper. Default: `None` (memory is mapped per sandbox).
    pub pooling: Option<PoolingConfig>,
    /// Enforce [`crate::Limits::wall_clock`] through wasmtime epochs: a
    /// background thread advances the epoch every [`EPOCH_TICK`] and the
    /// guest checks it at every loop head and function entry. Default:
    /// `false`. Fuel already bounds every call deterministically (host calls
    /// are bounded per call), and the checks cost 10–15% of the guest's speed
    /// (BENCHMARKS.md). Turn it on when a fuel budget is set so large that
    /// time must bound it too; a call stopped by the clock is not
    /// reproducible, so replays should not rely on it.
    pub wall_clock_backstop: bool,
    /// A folder for the compiled guest: the engine loads it from there
    /// instead of compiling it (milliseconds instead of hundreds), and
    /// stores it there after compiling. The folder is created private to
    /// this user; one that others may write is not used. Default: `None`
    /// (compile at every start). See [`ScriptEngine::cache_outcome`] and
    /// SECURITY.md for what protects an entry.
    pub cache: Option<PathBuf>,
    /// Profile every sandbox: where its fuel goes, per Lua function
    /// ([`Sandbox::profile`], [`crate::Profile`]). Default: `false`. A
    /// profiled sandbox says its Lua stack to the host every
    /// [`crate::PROFILE_PERIOD`] instructions and at every world call, and
    /// pays for it in fuel (+41% on the demo, +120% on pure Lua code:
    /// docs/profiling.md), so fuel figures differ from an engine that does
    /// not profile, and a mod near its budget may run out. Its sandboxes are neither snapshotted
    /// nor restored ([`crate::SnapshotError::Profiling`]). The profile is
    /// deterministic: the same inputs give the same profile.
    pub profile: bool,
    /// Specialise every mod's guest with the weval executable at this path
    /// (`scripts/build-weval` builds the pinned one): see
    /// [`ScriptEngine::specialised`]. A mod then runs faster and on less
    /// fuel, with the same results, and takes seconds more to load. Default:
    /// `None` (every mod runs on the built-in guest). Replays record whether
    /// their run specialised, and replay only on an engine that does the
    /// same. A mod whose source is too large or does not compile runs on
    /// the built-in guest, which reports its errors as usual.
    pub weval: Option<PathBuf>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_wasm_stack: DEFAULT_MAX_WASM_STACK,
            pooling: None,
            wall_clock_backstop: false,
            cache: None,
            profile: false,
            weval: None,
        }
    }
}

/// Sizes of the pooling allocator's slots (see [`EngineConfig::pooling`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolingConfig {
    /// Most sandboxes alive at once; creating one more fails with
    /// [`ScriptError::Host`]. Default: 1000.
    pub max_sandboxes: u32,
    /// Largest linear memory of any sandbox, in bytes. A sandbox whose hard
    /// memory cap is larger meets this one instead. Default: 64 MiB.
    pub max_memory: usize,
}

impl Default for PoolingConfig {
    fn default() -> Self {
        Self {
            max_sandboxes: 1000,
            max_memory: 64 * 1024 * 1024,
        }
    }
}

/// Core module instances in one guest instance (the Lua module and the two
/// small modules wit-component adds for indirect calls), with a margin.
const CORE_INSTANCES_PER_SANDBOX: u32 = 4;
/// Tables in one guest instance (one per core module that has one), with a margin.
const TABLES_PER_SANDBOX: u32 = 3;
/// Memory slots per sandbox: the guest's linear memory, and the GC heap that
/// holds wasm exception objects (Lua's longjmp throws them).
const MEMORIES_PER_SANDBOX: u32 = 2;

/// Compiles the Lua guest once and creates sandboxes from it.
///
/// Creating an engine compiles the guest with Cranelift (a few hundred
/// milliseconds): make one per process and share it; it is cheap to clone and
/// `Send + Sync`. Each [`Sandbox`] gets its own wasmtime `Store`. With
/// [`EngineConfig::wall_clock_backstop`] the engine owns one background thread
/// that advances the epoch for the wall-clock limit.
///
/// ```
/// use moonbox::{ScriptEngine, SandboxConfig};
/// # fn main() -> Result<(), moonbox::ScriptError> {
/// let engine = ScriptEngine::new()?;
/// let mut sandbox = engine.sandbox(&SandboxConfig::default())?;
/// sandbox.run("hello.lua", b"print('hello from Lua ' .. _VERSION)")?;
/// assert_eq!(sandbox.console().lines().next().map(|l| l.text.as_str()), Some("hello from Lua Lua 5.4"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ScriptEngine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    config: EngineConfig,
    /// The engine whose wasmtime engine (and epoch ticker) this one shares:
    /// kept alive while this one lives. `None` for an engine of its own.
    _base: Option<Arc<EngineInner>>,
    /// SHA-256 of the weval executable last used, by path: hashed once per
    /// engine, not once per mod.
    weval_digest: specialise::WevalDigest,
    /// The weval variant, instrumented and compiled at the first
    /// specialisation, for the next ones.
    variant: specialise::Variant,
    /// Its guest was specialised for a mod ([`ScriptEngine::specialised`]).
    specialised: bool,
    /// Compiled functions the wasmtime engine reuses when it compiles
    /// specialised guests, with [`EngineConfig::weval`] set: shared with the
    /// base engine.
    functions: Arc<FunctionCache>,
    guest: Arc<Guest>,
    cache: CacheOutcome,
    _ticker: Option<EpochTicker>,
}

/// Where an engine's guest comes from.
enum GuestCode<'a> {
    /// The committed guest, embedded.
    BuiltIn,
    /// Another build of it (benchmarks of guest variants).
    Variant(&'a [u8]),
    /// A guest specialised for a mod, on the wasmtime engine of `base`
    /// (one pooling allocator and one epoch ticker for all): `identity`
    /// names it (for the cache and for snapshots), `make` makes it when the
    /// cache has none.
    Specialised {
        base: Arc<EngineInner>,
        identity: [u8; 32],
        make: &'a dyn Fn() -> Result<Vec<u8>, SpecialiseError>,
    },
}

/// Why an engine could not be built.
enum Failure {
    /// A specialised guest could not be made.
    Make(SpecialiseError),
    /// wasmtime could not be set up or compile the guest.
    Compile(ScriptError),
}

impl Failure {
    /// For the engines whose guest needs no making.
    fn into_script_error(self) -> ScriptError {
        match self {
            Self::Compile(e) => e,
            Self::Make(e) => ScriptError::Host {
                message: e.to_string(),
            },
        }
    }
}

impl std::fmt::Debug for ScriptEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptEngine")
            .field("config", &self.inner.config)
            .field("cache", &self.inner.cache)
            .finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ScriptEngine>();
};

impl ScriptEngine {
    /// An engine with [`EngineConfig::default`].
    ///
    /// # Errors
    /// [`ScriptError::Host`] if wasmtime cannot be configured or the guest does not compile.
    pub fn new() -> Result<Self, ScriptError> {
        Self::with_config(&EngineConfig::default())
    }

    /// An engine with the given settings.
    ///
    /// # Errors
    /// [`ScriptError::Host`] if wasmtime cannot be configured or the guest does not compile.
    pub fn with_config(config: &EngineConfig) -> Result<Self, ScriptError> {
        Self::build(config, GuestCode::BuiltIn).map_err(Failure::into_script_error)
    }

    /// An engine running another build of the guest component: for
    /// benchmarks of guest variants (`guest-lua/weval-gate.sh`), not for
    /// games. The compiled-artifact cache is not used, snapshots belong to
    /// `component`, and replay files still name the built-in guest.
    ///
    /// # Errors
    /// As [`ScriptEngine::with_config`].
    #[doc(hidden)]
    pub fn with_guest_variant(
        config: &EngineConfig,
        component: &[u8],
    ) -> Result<Self, ScriptError> {
        Self::build(config, GuestCode::Variant(component)).map_err(Failure::into_script_error)
    }

    /// An engine with this one's settings whose guest is specialised for a
    /// mod: weval (the executable at `weval`, as `scripts/build-weval`
    /// builds it) partially evaluates the Lua interpreter over the bytecode
    /// of every function in `chunks` (name, Lua source; compiled, not run).
    /// Its sandboxes load and run the mod as usual, with the same results;
    /// each function whose code was specialised runs faster and on less
    /// fuel, the same fuel on every run (BENCHMARKS.md, "Specialised mods").
    ///
    /// This takes seconds (about 2.4 s for 1,000 lines on 2 cores; 1.8 s
    /// for a later mod of an engine with [`EngineConfig::weval`] set, which
    /// compiles only the functions it has not compiled before). With
    /// [`EngineConfig::cache`], the compiled result is kept under a key of
    /// everything it is made from (the weval variant, the weval executable's
    /// bytes, the chunks, the versions and the engine's configuration), and
    /// later calls load it in milliseconds: a cache hit gives exactly the
    /// code a fresh specialisation would. Snapshots of its sandboxes belong
    /// to the specialised guest. It shares this engine's wasmtime engine
    /// (its pooling allocator's slots and its epoch ticker).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let engine = moonbox::ScriptEngine::new()?;
    /// let source = b"function fib(n) if n < 2 then return n end return fib(n-1) + fib(n-2) end";
    /// let weval = std::path::Path::new("target/weval-tool/target/release/weval");
    /// let fast = engine.specialised(weval, &[("fib.lua".into(), source.to_vec())])?;
    /// let mut sandbox = fast.sandbox(&moonbox::SandboxConfig::default())?;
    /// sandbox.run("fib.lua", source)?;
    /// sandbox.run("main", b"print(fib(20))")?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`SpecialiseError`]: chunks too large or not compiling, weval
    /// missing or failing, or the result not compiling. This engine is
    /// unchanged either way.
    pub fn specialised(
        &self,
        weval: &Path,
        chunks: &[(String, Vec<u8>)],
    ) -> Result<Self, SpecialiseError> {
        specialise::check_size(chunks)?;
        self.inner.functions.open();
        let identity = specialise::identity(weval, chunks, &self.inner.weval_digest)?;
        let make = || {
            let cache = self.inner.config.cache.as_deref();
            specialise::specialised_component(weval, chunks, &self.inner.variant, cache)
        };
        let code = GuestCode::Specialised {
            base: Arc::clone(&self.inner),
            identity,
            make: &make,
        };
        Self::build(&self.inner.config, code).map_err(|e| match e {
            Failure::Make(e) => e,
            Failure::Compile(e) => SpecialiseError::Build {
                message: e.to_string(),
            },
        })
    }

    /// The engine to run these sources (name, Lua source) on: this one, or
    /// with [`EngineConfig::weval`] set, one specialised for them
    /// ([`ScriptEngine::specialised`]). Sources too large to specialise or
    /// that do not compile get this one, which reports their errors as
    /// usual: which engine runs them depends only on the sources and the
    /// configuration. [`crate::ScriptManager`] asks this for every mod.
    ///
    /// # Errors
    /// [`SpecialiseError::Weval`] and [`SpecialiseError::Build`]: weval is
    /// missing or failed, or its result did not compile.
    pub fn for_sources(&self, chunks: &[(String, Vec<u8>)]) -> Result<Self, SpecialiseError> {
        let Some(weval) = &self.inner.config.weval else {
            return Ok(self.clone());
        };
        match self.specialised(weval, chunks) {
            Ok(engine) => Ok(engine),
            Err(SpecialiseError::TooLarge { .. } | SpecialiseError::Chunk { .. }) => {
                Ok(self.clone())
            }
            Err(e) => Err(e),
        }
    }

    /// Whether mods on this engine are specialised ([`EngineConfig::weval`]).
    pub fn specialises(&self) -> bool {
        self.inner.config.weval.is_some()
    }

    /// Whether this engine's guest is specialised for a mod.
    pub fn is_specialised(&self) -> bool {
        self.inner.specialised
    }

    /// What the store of compiled functions that specialisation reuses
    /// holds and has served (see [`FUNCTION_CACHE_BYTES`]).
    #[doc(hidden)]
    pub fn function_cache_stats(&self) -> FunctionCacheStats {
        self.inner.functions.stats()
    }

    fn build(config: &EngineConfig, code: GuestCode<'_>) -> Result<Self, Failure> {
        let compile_error = |e: wasmtime::Error| {
            Failure::Compile(ScriptError::host("compiling the guest component", &e))
        };
        let configure_error =
            |e: wasmtime::Error| Failure::Compile(ScriptError::host("configuring wasmtime", &e));
        let (engine, functions) = match &code {
            GuestCode::Specialised { base, .. } => {
                (base.guest.engine.clone(), Arc::clone(&base.functions))
            }
            _ => {
                let functions = Arc::new(FunctionCache::new(FUNCTION_CACHE_BYTES));
                let mut wasm = wasmtime_config(config);
                // Only for an engine that specialises every mod: asking the
                // store costs 5% more to compile an uncached guest.
                if config.weval.is_some() {
                    wasm.enable_incremental_compilation(functions.clone())
                        .map_err(configure_error)?;
                }
                (Engine::new(&wasm).map_err(configure_error)?, functions)
            }
        };
        let built_in = || Ok(GUEST_COMPONENT.to_vec());
        let (wanted, base) = match &code {
            GuestCode::BuiltIn => (
                cache::Wanted {
                    kind: "guest",
                    identity: Sha256::digest(GUEST_COMPONENT).into(),
                    component: &built_in,
                },
                None,
            ),
            GuestCode::Variant(bytes) => {
                let component = Component::new(&engine, bytes).map_err(compile_error)?;
                let digest = Sha256::digest(bytes).into();
                let compiled = (engine, component, functions);
                return Self::assemble(config, compiled, digest, CacheOutcome::Off, None)
                    .map_err(Failure::Compile);
            }
            GuestCode::Specialised {
                base,
                identity,
                make,
            } => (
                cache::Wanted {
                    kind: "specialised",
                    identity: *identity,
                    component: *make,
                },
                Some(Arc::clone(base)),
            ),
        };
        let (component, outcome) = match &config.cache {
            Some(folder) => {
                cache::load_or_compile(&engine, folder, &wanted).map_err(|e| match e {
                    cache::Failure::Make(e) => Failure::Make(e),
                    cache::Failure::Compile(e) => compile_error(e),
                })?
            }
            None => {
                let bytes = (wanted.component)().map_err(Failure::Make)?;
                let component = Component::new(&engine, bytes).map_err(compile_error)?;
                (component, CacheOutcome::Off)
            }
        };
        let compiled = (engine, component, functions);
        Self::assemble(config, compiled, wanted.identity, outcome, base).map_err(Failure::Compile)
    }

    /// The engine around a compiled guest (with the store of compiled
    /// functions its wasmtime engine uses). `digest` names the guest for
    /// snapshots; `base` is the engine a specialised guest shares its
    /// wasmtime engine with.
    fn assemble(
        config: &EngineConfig,
        (engine, component, functions): (Engine, Component, Arc<FunctionCache>),
        digest: [u8; 32],
        cache: CacheOutcome,
        base: Option<Arc<EngineInner>>,
    ) -> Result<Self, ScriptError> {
        let mut linker = Linker::<StoreState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| ScriptError::host("linking WASI", &e))?;
        SandboxWorld::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(|e| ScriptError::host("linking the console", &e))?;
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(|e| ScriptError::host("pre-linking the guest", &e))?;
        let pre = SandboxPre::new(instance_pre)
            .map_err(|e| ScriptError::host("checking the guest's exports", &e))?;
        let ticker = if config.wall_clock_backstop && base.is_none() {
            let ticker =
                EpochTicker::start(engine.clone(), EPOCH_TICK).map_err(|e| ScriptError::Host {
                    message: format!("starting the epoch thread: {e}"),
                })?;
            Some(ticker)
        } else {
            None
        };
        Ok(Self {
            inner: Arc::new(EngineInner {
                config: config.clone(),
                weval_digest: specialise::WevalDigest::default(),
                variant: specialise::Variant::default(),
                specialised: base.is_some(),
                functions,
                _base: base,
                guest: Arc::new(Guest::new(engine, pre, digest, config.profile)),
                cache,
                _ticker: ticker,
            }),
        })
    }

    /// Creates a sandbox: a fresh store and instance, with a Lua state set up
    /// with the safe standard library and `config`'s limits.
    ///
    /// # Errors
    /// [`ScriptError::InvalidConfig`] for limits out of range;
    /// [`ScriptError::Host`] if the guest cannot be instantiated.
    pub fn sandbox(&self, config: &SandboxConfig) -> Result<Sandbox, ScriptError> {
        Sandbox::new(&self.inner.guest, config)
    }

    /// A sandbox in the state `snapshot` captured (see
    /// [`Sandbox::snapshot`]), in a fresh instance: it behaves from here on
    /// exactly as the captured sandbox did, fuel included. `config` must be
    /// the one the captured sandbox was created with: a snapshot never
    /// chooses its own limits.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let engine = moonbox::ScriptEngine::new()?;
    /// let config = moonbox::SandboxConfig::default();
    /// let mut sandbox = engine.sandbox(&config)?;
    /// sandbox.run("count.lua", b"n = 0 function bump() n = n + 1 print(n) end")?;
    /// sandbox.call("bump")?;
    /// let saved = sandbox.snapshot()?;
    /// sandbox.call("bump")?;
    /// let mut restored = engine.restore_sandbox(&config, &saved)?;
    /// restored.call("bump")?;
    /// assert_eq!(restored.console().lines().last().unwrap().text, "2");
    /// assert_eq!(restored.fuel_used(), sandbox.fuel_used());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`SnapshotError`] if the snapshot belongs to another guest or
    /// config, or is damaged; the guest's own state is only ever checked
    /// inside the new sandbox.
    pub fn restore_sandbox(
        &self,
        config: &SandboxConfig,
        snapshot: &SandboxSnapshot,
    ) -> Result<Sandbox, SnapshotError> {
        Sandbox::restore(&self.inner.guest, config, snapshot)
    }

    /// What the engine's start did with [`EngineConfig::cache`]: loaded the
    /// compiled guest, compiled it (and why), or found the folder unsafe.
    pub fn cache_outcome(&self) -> &CacheOutcome {
        &self.inner.cache
    }

    /// Checks `snapshot` against this engine's guest and `config`, and
    /// unpacks it: what restoring a mod needs before anything changes.
    pub(crate) fn prepare_restore<'a>(
        &self,
        config: &SandboxConfig,
        snapshot: &'a SandboxSnapshot,
    ) -> Result<Prepared<'a>, SnapshotError> {
        Prepared::new(&self.inner.guest, config, snapshot)
    }

    /// A new sandbox in the state `prepared` describes.
    pub(crate) fn restore_prepared(
        &self,
        config: &SandboxConfig,
        prepared: &Prepared<'_>,
    ) -> Result<Sandbox, SnapshotError> {
        Sandbox::from_prepared(&self.inner.guest, config, prepared)
    }

    /// SHA-256 of the guest component: what snapshots belong to.
    pub(crate) fn guest_digest(&self) -> [u8; 32] {
        self.inner.guest.digest
    }

    /// The underlying wasmtime engine.
    pub fn wasmtime_engine(&self) -> &Engine {
        &self.inner.guest.engine
    }
}

fn wasmtime_config(config: &EngineConfig) -> Config {
    let mut wasm = Config::new();
    wasm.wasm_exceptions(true) // Lua's setjmp/longjmp
        .consume_fuel(true) // deterministic per-call budgets
        .epoch_interruption(config.wall_clock_backstop)
        .max_wasm_stack(config.max_wasm_stack)
        .concurrency_support(false) // no async components: cheaper calls
        // NaN bits differ between CPUs (x86 makes 0/0 negative, ARM does
        // not): one canonical NaN keeps results and output identical on all.
        .cranelift_nan_canonicalization(true)
        .cranelift_opt_level(OptLevel::Speed);
    if let Some(pooling) = &config.pooling {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(pooling.max_sandboxes)
            .total_core_instances(
                pooling
                    .max_sandboxes
                    .saturating_mul(CORE_INSTANCES_PER_SANDBOX),
            )
            .total_memories(pooling.max_sandboxes.saturating_mul(MEMORIES_PER_SANDBOX))
            .total_gc_heaps(pooling.max_sandboxes)
            .total_tables(pooling.max_sandboxes.saturating_mul(TABLES_PER_SANDBOX))
            .max_memory_size(pooling.max_memory);
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    wasm
}
