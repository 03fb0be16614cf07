//! [`ScriptSystem`]: runs the mods against a `hecs::World`, tick by tick.

use std::collections::{BTreeMap, HashSet};

use hecs::{Entity, World};
use serde::Serialize;

use crate::ScriptError;
use crate::console::{Channel, Console};
use crate::manager::{LoadedMod, ScriptManager};
use crate::session::{SessionInputs, WorldSession};

/// What happened to one mod in one tick or event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Its handler ran (or it has none for this) and its writes were kept.
    Ran,
    /// Its handler failed; its writes were rolled back.
    Failed {
        /// The error.
        error: ScriptError,
        /// Whether the mod was disabled for it.
        disabled: bool,
    },
}

/// The ECS side of Moonbox: calls each active mod's handlers against the
/// world, each call a transaction, and owns the links between entities and
/// the mods that spawned them.
///
/// Mods run one after another in name order; a mod sees the committed
/// writes of the mods before it in the same tick. A handler's writes become
/// visible only if it returns normally: an error, a limit or a violation
/// leaves the world as it was before that call.
///
/// Handlers a mod may define: `on_load()` (once, at its first tick),
/// `on_tick(dt)` and `on_event(name, data)`.
///
/// ```
/// use std::sync::Arc;
/// use moonbox::mods::{ModSource, Policy};
/// use moonbox::{ComponentRegistry, ScriptEngine, ScriptManager, ScriptSystem};
/// # #[derive(serde::Serialize, serde::Deserialize)] struct Health { hp: i64 }
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut registry = ComponentRegistry::new();
/// registry.register::<Health>("Health")?;
/// let registry = Arc::new(registry);
/// let mut manager = ScriptManager::new(ScriptEngine::new()?, registry.clone(), Policy::allow_all(&registry));
/// manager.load(ModSource::from_parts("inline", r#"
///     name = "regen"
///     version = "1"
///     [permissions]
///     read = ["Health"]
///     write = ["Health"]
///     scope = "all"
/// "#, [("main.lua".to_string(), br#"
///     function on_tick(dt)
///         for e, h in world:query("Health") do
///             world:set(e, "Health", { hp = h.hp + 1 })
///         end
///     end
/// "#.to_vec())])?)?;
///
/// let mut world = hecs::World::new();
/// let e = world.spawn((Health { hp: 1 },));
/// let mut system = ScriptSystem::new();
/// system.tick(&mut manager, &mut world, 1.0 / 60.0);
/// assert_eq!(world.get::<&Health>(e)?.hp, 2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ScriptSystem {
    /// Entities each mod spawned, by mod name.
    links: BTreeMap<String, HashSet<Entity>>,
    tick: u64,
    console: Console,
}

impl Default for ScriptSystem {
    fn default() -> Self {
        Self::new()
    }
}

impl ScriptSystem {
    /// A system at tick 0 with an empty console.
    pub fn new() -> Self {
        Self {
            links: BTreeMap::new(),
            tick: 0,
            console: Console::default(),
        }
    }

    /// The number of ticks run so far.
    pub fn tick_count(&self) -> u64 {
        self.tick
    }

    /// Every mod's console output, as `[mod] line`, and the system's own
    /// notes (`[moonbox] ...`): a bounded queue, oldest lines dropped first.
    pub fn console(&self) -> &Console {
        &self.console
    }

    /// The console, to drain it.
    pub fn console_mut(&mut self) -> &mut Console {
        &mut self.console
    }

    /// The mod that spawned `entity`, if a mod did.
    pub fn spawned_by(&self, entity: Entity) -> Option<&str> {
        self.links
            .iter()
            .find(|(_, owned)| owned.contains(&entity))
            .map(|(name, _)| name.as_str())
    }

    /// Runs one tick: for each active mod in name order, `on_load()` if it
    /// has not run yet, then `on_tick(dt)`.
    pub fn tick(
        &mut self,
        manager: &mut ScriptManager,
        world: &mut World,
        dt: f64,
    ) -> BTreeMap<String, Outcome> {
        self.tick += 1;
        self.forget_dead(world);
        let mut outcomes = BTreeMap::new();
        for name in manager.names() {
            let Some(loaded) = manager.get_mut(&name) else {
                continue;
            };
            if !loaded.is_active() {
                continue;
            }
            let mut outcome = Outcome::Ran;
            if loaded.needs_on_load {
                loaded.needs_on_load = false;
                outcome = self.call(loaded, world, dt, "on_load", &());
            }
            if outcome == Outcome::Ran {
                outcome = self.call(loaded, world, dt, "on_tick", &(dt,));
            }
            outcomes.insert(name, outcome);
        }
        outcomes
    }

    /// Calls `on_event(name, data)` of every active mod, in name order.
    /// `data` becomes a Lua value as component values do.
    pub fn dispatch_event<D: Serialize + ?Sized>(
        &mut self,
        manager: &mut ScriptManager,
        world: &mut World,
        name: &str,
        data: &D,
    ) -> BTreeMap<String, Outcome> {
        let mut outcomes = BTreeMap::new();
        for mod_name in manager.names() {
            let Some(loaded) = manager.get_mut(&mod_name) else {
                continue;
            };
            if loaded.is_active() {
                let outcome = self.call(loaded, world, 0.0, "on_event", &(name, data));
                outcomes.insert(mod_name, outcome);
            }
        }
        outcomes
    }

    /// One handler call as a transaction: the world moves into the mod's
    /// sandbox for the call and always comes back, committed or rolled back.
    fn call<A: Serialize + ?Sized>(
        &mut self,
        loaded: &mut LoadedMod,
        world: &mut World,
        dt: f64,
        handler: &str,
        args: &A,
    ) -> Outcome {
        let name = loaded.name().to_owned();
        let inputs = SessionInputs {
            registry: loaded.registry_arc(),
            permissions: loaded.granted_arc(),
            owned: self.links.remove(&name).unwrap_or_default(),
            tick: self.tick,
            dt,
            config: loaded.config_arc(),
            on_violation: loaded.on_violation(),
        };
        let sandbox = loaded.sandbox_mut();
        sandbox.attach(Box::new(WorldSession::new(std::mem::take(world), inputs)));
        let result = sandbox.call_with(handler, args);
        let session = sandbox.detach();
        let end = session.map(|session| session.finish(result.is_ok()));
        let result = match end {
            Some(end) => {
                *world = end.world;
                self.links.insert(name.clone(), end.owned);
                result
            }
            // The session lives in the store's data, which survives even a
            // trap; losing it would be a bug in Moonbox, reported as such.
            None => Err(ScriptError::Host {
                message: "the world was not returned by the sandbox".into(),
            }),
        };
        loaded.record_call();
        for line in loaded.sandbox_mut().console_mut().drain() {
            self.console
                .push(line.channel, format!("[{name}] {}", line.text));
        }
        match result {
            Ok(_) => Outcome::Ran,
            Err(error) => {
                let disabled = loaded.should_disable(&error);
                if disabled {
                    let reason = format!("{error} (in {handler})");
                    self.console.push(
                        Channel::Warn,
                        format!("[moonbox] mod '{name}' disabled: {reason}"),
                    );
                    loaded.disable(reason);
                } else {
                    self.console.push(
                        Channel::Warn,
                        format!("[moonbox] mod '{name}': {error} (in {handler})"),
                    );
                }
                Outcome::Failed { error, disabled }
            }
        }
    }

    /// Drops links to entities that no longer exist (despawned by the engine).
    fn forget_dead(&mut self, world: &World) {
        for owned in self.links.values_mut() {
            owned.retain(|entity| world.contains(*entity));
        }
    }
}
