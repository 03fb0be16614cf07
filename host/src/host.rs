//! [`Moonbox`]: the front door for engines. One value that owns the engine,
//! the mods and the system, made by a builder in one expression.

use std::path::Path;
use std::sync::Arc;

use hecs::{Entity, World};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::engine_api::{CallContext, EngineFunctions, FunctionError};

use crate::mods::{LoadError, LoadedMod, ModSource, Policy, ScriptManager};
use crate::runtime::console::Console;
use crate::runtime::engine::{EngineConfig, ScriptEngine};
use crate::runtime::error::ScriptError;
use crate::snapshot::error::short_hex;
use crate::snapshot::world::WorldState;
use crate::snapshot::{Body, Snapshot, SnapshotError};
use crate::system::{EventError, Handover, ScriptSystem, TickReport, WorldUsage};
use crate::world::registry::ComponentRegistry;

/// A ready script host: mods loaded from folders, run against your
/// `hecs::World` tick by tick, each handler call a transaction, each mod
/// limited by the [`Policy`].
///
/// Inside, the three parts keep their jobs: the [`ScriptEngine`] only
/// executes, the [`ScriptManager`] is the only store of mods, and the
/// [`ScriptSystem`] is the only owner of the links between entities and
/// the mods that spawned them. [`Moonbox::manager`] and
/// [`Moonbox::system`] reach them; engines that need to drive them
/// separately can build them on their own.
///
/// ```
/// use moonbox::{ComponentRegistry, ModSource, Moonbox, Policy};
/// # #[derive(serde::Serialize, serde::Deserialize)] struct Health { hp: i64 }
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut registry = ComponentRegistry::new();
/// registry.register::<Health>("Health")?;
/// let policy = Policy::allow_all(&registry);
/// let mut host = Moonbox::builder(registry).policy(policy).seed(7).build()?;
/// host.load(ModSource::from_parts("inline", "name = 'regen'\nversion = '1'\n[permissions]\nread = ['Health']\nwrite = ['Health']\nscope = 'all'", [(
///     "main.lua".to_string(),
///     b"function on_tick(dt) for e, h in world:query('Health') do world:set(e, 'Health', { hp = h.hp + 1 }) end end".to_vec(),
/// )])?)?;
/// let mut world = hecs::World::new();
/// let e = world.spawn((Health { hp: 1 },));
/// assert!(host.tick(&mut world, 1.0 / 60.0).all_ran());
/// assert_eq!(world.get::<&Health>(e)?.hp, 2);
/// # Ok(())
/// # }
/// ```
pub struct Moonbox {
    manager: ScriptManager,
    system: ScriptSystem,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Moonbox>();
};

/// Builds a [`Moonbox`]; see [`Moonbox::builder`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct MoonboxBuilder {
    registry: Arc<ComponentRegistry>,
    policy: Policy,
    seed: u64,
    engine: Option<ScriptEngine>,
    engine_config: EngineConfig,
    functions: EngineFunctions,
}

impl MoonboxBuilder {
    /// What mods may be granted. Default: [`Policy::default`], which grants
    /// nothing: pass one that allows what your mods need.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The seed every mod's random sources derive from. Default: 0.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// An engine to share (it compiles the guest once per process).
    /// Default: a new one, made with [`MoonboxBuilder::engine_config`].
    pub fn engine(mut self, engine: ScriptEngine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Settings of the engine to make when none is given with
    /// [`MoonboxBuilder::engine`]. Default: [`EngineConfig::default`].
    pub fn engine_config(mut self, config: EngineConfig) -> Self {
        self.engine_config = config;
        self
    }

    /// Offers `function` to mods as `engine.<name>` (see
    /// [`EngineFunctions::register`]); mods need the grant
    /// `[permissions] call = ["<name>"]`.
    ///
    /// # Errors
    /// [`FunctionError`] for a name that is not a Lua name or is taken.
    pub fn function<A, R, E, F>(
        mut self,
        name: &str,
        cost: u64,
        function: F,
    ) -> Result<Self, FunctionError>
    where
        A: DeserializeOwned,
        R: Serialize,
        E: std::fmt::Display,
        F: Fn(&CallContext<'_>, A) -> Result<R, E> + Send + Sync + 'static,
    {
        self.functions.register(name, cost, function)?;
        Ok(self)
    }

    /// Makes the host: compiles the guest unless an engine was given.
    ///
    /// # Errors
    /// [`ScriptError::Host`] if the engine cannot be made.
    pub fn build(self) -> Result<Moonbox, ScriptError> {
        let engine = match self.engine {
            Some(engine) => engine,
            None => ScriptEngine::with_config(&self.engine_config)?,
        };
        let mut manager = ScriptManager::new(engine, self.registry, self.policy);
        manager.set_seed(self.seed);
        manager.set_functions(self.functions);
        Ok(Moonbox {
            manager,
            system: ScriptSystem::new(),
        })
    }
}

impl Moonbox {
    /// Starts building a host for the components of `registry`.
    pub fn builder(registry: impl Into<Arc<ComponentRegistry>>) -> MoonboxBuilder {
        MoonboxBuilder {
            registry: registry.into(),
            policy: Policy::default(),
            seed: 0,
            engine: None,
            functions: EngineFunctions::new(),
            engine_config: EngineConfig::default(),
        }
    }

    /// Loads the mod in `dir`, or every mod in its sub-folders when `dir`
    /// has no `mod.toml`, in name order. One bad mod does not stop the
    /// others: each gets its own result.
    ///
    /// # Errors
    /// [`LoadError::Io`] if `dir` cannot be listed.
    pub fn load_dir(&mut self, dir: &Path) -> Result<Vec<Result<String, LoadError>>, LoadError> {
        self.manager.load_all(dir)
    }

    /// Loads one mod; see [`ScriptManager::load`].
    ///
    /// # Errors
    /// As [`ScriptManager::load`].
    pub fn load(&mut self, source: ModSource) -> Result<String, LoadError> {
        self.manager.load(source)
    }

    /// Runs one tick of every active mod against `world`; see
    /// [`ScriptSystem::tick`].
    pub fn tick(&mut self, world: &mut World, dt: f64) -> &TickReport {
        self.system.tick(&mut self.manager, world, dt)
    }

    /// Sends an event to every active mod's `on_event(name, data)`; see
    /// [`ScriptSystem::dispatch_event`].
    ///
    /// # Errors
    /// [`EventError`] for data no mod could receive; no mod runs.
    pub fn dispatch_event<D: Serialize + ?Sized>(
        &mut self,
        world: &mut World,
        name: &str,
        data: &D,
    ) -> Result<&TickReport, EventError> {
        self.system
            .dispatch_event(&mut self.manager, world, name, data)
    }

    /// Every mod, in name order (the order they run in).
    pub fn mods(&self) -> impl Iterator<Item = &LoadedMod> {
        self.manager.mods()
    }

    /// The mod called `name`.
    pub fn get(&self, name: &str) -> Option<&LoadedMod> {
        self.manager.get(name)
    }

    /// Reloads a mod from its folder, handing its state over: the old
    /// version's `on_unload()` runs now and the new version's
    /// `on_reload(state)` at its next tick; see [`ScriptSystem::reload`].
    ///
    /// # Errors
    /// As [`ScriptManager::reload`]: the new version did not load, and the
    /// old one runs on unchanged.
    pub fn reload(&mut self, world: &mut World, name: &str) -> Result<Handover, LoadError> {
        self.system.reload(&mut self.manager, world, name)
    }

    /// Reloads a mod from `source` (a mod of the same name), handing its
    /// state over as [`Moonbox::reload`] does.
    ///
    /// # Errors
    /// As [`Moonbox::reload`].
    pub fn reload_source(
        &mut self,
        world: &mut World,
        source: crate::ModSource,
    ) -> Result<Handover, LoadError> {
        self.system.reload_source(&mut self.manager, world, source)
    }

    /// Lets a disabled mod run again; see [`ScriptManager::enable`].
    ///
    /// # Errors
    /// As [`ScriptManager::enable`].
    pub fn enable(&mut self, name: &str) -> Result<(), LoadError> {
        self.manager.enable(name)
    }

    /// Stops a mod, recording why.
    ///
    /// # Errors
    /// [`LoadError::UnknownMod`].
    pub fn disable(&mut self, name: &str, reason: &str) -> Result<(), LoadError> {
        self.manager.disable(name, reason)
    }

    /// Removes a mod, its Lua state and its links to the entities it
    /// spawned (the entities stay in the world).
    ///
    /// # Errors
    /// [`LoadError::UnknownMod`].
    pub fn unload(&mut self, name: &str) -> Result<(), LoadError> {
        self.manager.unload(name)?;
        self.system.forget_mod(name);
        Ok(())
    }

    /// The mod that spawned `entity`, if a loaded mod did.
    pub fn spawned_by(&self, entity: Entity) -> Option<&str> {
        self.system.spawned_by(entity)
    }

    /// What mod `name` holds in the world against its quota: see
    /// [`ScriptSystem::world_usage`].
    ///
    /// ```
    /// use moonbox::{ComponentRegistry, ModSource, Moonbox, Policy, HELD_ENTITY_BYTES};
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct Health { hp: i64 }
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut registry = ComponentRegistry::new();
    /// registry.register::<Health>("Health")?;
    /// let policy = Policy::allow_all(&registry);
    /// let mut host = Moonbox::builder(registry).policy(policy).build()?;
    /// host.load(ModSource::from_parts("inline", "name = 'maker'\nversion = '1'\n[permissions]\nwrite = ['Health']\nspawn = true", [(
    ///     "main.lua".to_string(),
    ///     b"function on_tick() world:spawn{ Health = { hp = 3 } } end".to_vec(),
    /// )])?)?;
    /// let mut world = hecs::World::new();
    /// host.tick(&mut world, 1.0 / 60.0);
    /// let usage = host.world_usage("maker");
    /// assert_eq!(usage.entities, 1);
    /// // `Health` owns no heap memory: it counts its size.
    /// assert_eq!(usage.bytes, size_of::<Health>() as u64 + HELD_ENTITY_BYTES);
    /// assert!(usage.bytes <= host.get("maker").map_or(0, |m| m.max_world_bytes()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn world_usage(&self, name: &str) -> WorldUsage {
        self.system.world_usage(name)
    }

    /// Every mod's console output and the host's notes.
    pub fn console(&self) -> &Console {
        self.system.console()
    }

    /// The console, to drain it.
    pub fn console_mut(&mut self) -> &mut Console {
        self.system.console_mut()
    }

    /// Ticks run so far.
    pub fn tick_count(&self) -> u64 {
        self.system.tick_count()
    }

    /// The component registry.
    pub fn registry(&self) -> &Arc<ComponentRegistry> {
        self.manager.registry()
    }

    /// The manager: the store of mods.
    pub fn manager(&self) -> &ScriptManager {
        &self.manager
    }

    /// The manager, to change mods directly.
    pub fn manager_mut(&mut self) -> &mut ScriptManager {
        &mut self.manager
    }

    /// The system: the ECS side and the entity links.
    pub fn system(&self) -> &ScriptSystem {
        &self.system
    }

    /// Captures the whole simulation after a tick: `world`'s registered
    /// components and entity handles, every mod with its Lua state, the
    /// links, the console and the events waiting. Taking a snapshot changes
    /// nothing, fuel included. Components the registry does not know are
    /// not in it: an engine that keeps others saves them itself.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let registry = std::sync::Arc::new(moonbox::ComponentRegistry::new());
    /// let mut host = moonbox::Moonbox::builder(registry).build()?;
    /// let mut world = hecs::World::new();
    /// host.tick(&mut world, 1.0 / 60.0);
    /// let saved = host.snapshot(&world)?;
    /// host.tick(&mut world, 1.0 / 60.0);
    /// host.restore(&mut world, &saved)?; // rolled back
    /// assert_eq!(host.tick_count(), 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`SnapshotError`] if a component cannot be encoded.
    pub fn snapshot(&mut self, world: &World) -> Result<Snapshot, SnapshotError> {
        let world = WorldState::capture(world, self.manager.registry())?;
        Ok(Snapshot::new(Body {
            guest: self.manager.engine().guest_digest(),
            seed: self.manager.seed(),
            world,
            system: self.system.capture(),
            mods: self.manager.capture()?,
        }))
    }

    /// Puts the simulation (and `world`) back in the state `snapshot`
    /// captured; the next tick runs as the tick after it did. The mods
    /// loaded must be those of the snapshot, from the same sources, with
    /// the same policy and seed. Nothing changes unless it all restores.
    ///
    /// # Errors
    /// [`SnapshotError`]: another guest or seed, other mods or sources, a
    /// world that does not fit the registry, or a damaged snapshot.
    pub fn restore(&mut self, world: &mut World, snapshot: &Snapshot) -> Result<(), SnapshotError> {
        let body = snapshot.body();
        let guest = self.manager.engine().guest_digest();
        if body.guest != guest {
            return Err(SnapshotError::OtherGuest {
                expected: short_hex(&guest),
                found: short_hex(&body.guest),
            });
        }
        if body.seed != self.manager.seed() {
            return Err(SnapshotError::OtherConfig {
                what: format!("the simulation (seed {})", body.seed),
            });
        }
        let restored_world = body.world.restore(self.manager.registry())?;
        let system = ScriptSystem::restored(&body.system, self.system.console())?;
        self.manager.restore(&body.mods)?;
        *world = restored_world;
        self.system = system;
        Ok(())
    }
}
