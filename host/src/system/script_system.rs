//! [`ScriptSystem`]: runs the mods against a `hecs::World`, tick by tick.

use std::collections::BTreeMap;
use std::sync::Arc;

use hecs::{Entity, World};
use serde::Serialize;

use serde::Deserialize;
use serde_bytes::ByteBuf;

use super::event::{self, EventError};
use super::report::{Handover, Outcome, TickReport};
use crate::engine_api::Command;
use crate::mods::{LoadError, LoadedMod, ModSource, ScriptManager};
use crate::runtime::console::{Channel, Console, bounded};
use crate::runtime::error::ScriptError;
use crate::snapshot::SnapshotError;
use crate::world::{HeldEntry, Holdings, Transaction, TransactionInputs};

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
/// `on_tick(dt)`, `on_event(name, data)`, and for a reload with state
/// `on_unload()` and `on_reload(state)` (see [`ScriptSystem::reload`]).
///
/// Most engines use it through [`crate::Moonbox`], which owns a manager
/// and a system; it stays usable on its own:
///
/// ```
/// use std::sync::Arc;
/// use moonbox::{ComponentRegistry, ModSource, Policy, ScriptEngine, ScriptManager, ScriptSystem};
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
    /// What each mod holds in the world (the entities it spawned, the
    /// bytes its writes added), by mod name. The only record of them.
    links: BTreeMap<Arc<str>, Holdings>,
    tick: u64,
    console: Console,
    /// The latest tick's or event's outcomes, reused.
    report: TickReport,
    /// Commands committed since the latest tick began: the events other
    /// mods receive at the next tick.
    events: Vec<Command>,
    /// Their bytes (see [`MAX_PENDING_EVENT_BYTES`]).
    event_bytes: usize,
}

/// Most bytes of commands kept for delivery to mods between two ticks
/// (64 MiB); past it, commands still reach the engine but not other mods,
/// and the console says so.
pub const MAX_PENDING_EVENT_BYTES: usize = 64 * 1024 * 1024;

/// Most events one delivery call carries, and most bytes of their data:
/// a tick's events reach a mod in calls of at most this size.
const DELIVERY_EVENTS: usize = 256;
const DELIVERY_BYTES: usize = 64 * 1024;

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
            report: TickReport::default(),
            events: Vec::new(),
            event_bytes: 0,
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

    /// The mod that spawned `entity`, if a loaded mod did.
    pub fn spawned_by(&self, entity: Entity) -> Option<&str> {
        self.links
            .iter()
            .find(|(_, holdings)| holdings.spawned(entity))
            .map(|(name, _)| &**name)
    }

    /// What mod `name` holds in the world now, against its quota
    /// ([`crate::LoadedMod::max_entities`], [`crate::LoadedMod::max_world_bytes`]);
    /// zero for a mod that has not run.
    pub fn world_usage(&self, name: &str) -> WorldUsage {
        self.links
            .get(name)
            .map_or_else(WorldUsage::default, |holdings| WorldUsage {
                entities: holdings.spawned_count(),
                bytes: holdings.bytes(),
            })
    }

    /// Forgets which entities mod `name` spawned (it was unloaded). Ticks do
    /// this by themselves for mods no longer in the manager.
    pub fn forget_mod(&mut self, name: &str) {
        self.links.remove(name);
    }

    /// Runs one tick: for each active mod in name order, `on_load()` if it
    /// has not run yet, then the events it receives, then `on_tick(dt)`,
    /// then its tasks (`task.spawn`) if it has any, in a call of their own
    /// that preempts them when a quarter of its fuel is left.
    ///
    /// Events are the commands other mods emitted in calls that committed
    /// since the previous tick began, in the order they were emitted, for
    /// the mods granted to receive them (`[permissions] receive`); never a
    /// mod's own. They reach `on_event(name, data, from)`, several per call
    /// (at most 256 events and 64 KiB of data), each call a transaction.
    pub fn tick(&mut self, manager: &mut ScriptManager, world: &mut World, dt: f64) -> &TickReport {
        self.tick += 1;
        self.forget_dead(manager, world);
        self.report.clear();
        let events = std::mem::take(&mut self.events);
        self.event_bytes = 0;
        for loaded in manager.mods_mut() {
            if !loaded.is_active() {
                continue;
            }
            let mut outcome = Outcome::Ran;
            if loaded.needs_on_load {
                loaded.needs_on_load = false;
                outcome = self.start(loaded, world, dt);
            }
            for batch in deliveries(loaded, &events) {
                if outcome != Outcome::Ran {
                    break;
                }
                outcome = self.call(loaded, world, dt, "on_event", Args::Events(&batch));
            }
            if outcome == Outcome::Ran {
                outcome = self.call(loaded, world, dt, "on_tick", Args::Dt(dt));
            }
            if outcome == Outcome::Ran && loaded.sandbox_mut().pending_tasks() > 0 {
                // A quarter of the call's fuel is kept to end it cleanly.
                let reserve = loaded.limits().fuel / 4;
                let slices = loaded.max_task_ticks();
                outcome = self.call(loaded, world, dt, "task", Args::Tasks { reserve, slices });
            }
            self.report.push(loaded.name_arc(), outcome);
        }
        self.keep_events();
        &self.report
    }

    /// Keeps the report's commands for delivery at the next tick.
    fn keep_events(&mut self) {
        let mut dropped = 0usize;
        for command in self.report.commands() {
            let bytes = command.name().len() + command.data().len();
            if self.event_bytes.saturating_add(bytes) > MAX_PENDING_EVENT_BYTES {
                dropped += 1;
                continue;
            }
            self.event_bytes += bytes;
            self.events.push(command.clone());
        }
        if dropped > 0 {
            self.console.push(
                Channel::Warn,
                format!(
                    "[moonbox] {dropped} commands not kept as events: more than {MAX_PENDING_EVENT_BYTES} bytes of them wait for the next tick"
                ),
            );
        }
    }

    /// Calls `on_event(name, data)` of every active mod, in name order.
    /// `data` becomes a Lua value as component values do; it is encoded
    /// once and checked first, so data no mod can receive is the engine's
    /// error and no mod runs.
    ///
    /// # Errors
    /// [`EventError`] for data that cannot be encoded, nests deeper than
    /// [`super::MAX_EVENT_DEPTH`] or holds a NaN or an infinity.
    pub fn dispatch_event<D: Serialize + ?Sized>(
        &mut self,
        manager: &mut ScriptManager,
        world: &mut World,
        name: &str,
        data: &D,
    ) -> Result<&TickReport, EventError> {
        let args = event::encode(name, data)?;
        self.report.clear();
        for loaded in manager.mods_mut() {
            if loaded.is_active() {
                let outcome = self.call(loaded, world, 0.0, "on_event", Args::Encoded(&args));
                self.report.push(loaded.name_arc(), outcome);
            }
        }
        self.keep_events();
        Ok(&self.report)
    }

    /// Reloads mod `name` with its state. The new version is loaded (from
    /// its folder, or its stored source) into a fresh sandbox; if that
    /// fails, the old version stays as it was. Otherwise, if the old
    /// version is active, its `on_unload()` runs as a handler (a
    /// transaction with its fuel and the world) and what it returns, one
    /// value converted as component values are, waits for the new
    /// version: at its next tick it runs `on_reload(state)` instead of
    /// `on_load()`, or `on_load()` if it has no `on_reload`. Commands that
    /// `on_unload` emits reach other mods at the next tick.
    ///
    /// The state is held until then, at most the old version's memory
    /// limit in bytes (the guest built it in its own memory).
    ///
    /// # Errors
    /// [`LoadError`] from reading or loading the new version.
    pub fn reload(
        &mut self,
        manager: &mut ScriptManager,
        world: &mut World,
        name: &str,
    ) -> Result<Handover, LoadError> {
        let fresh = manager.prepare_reload(name)?;
        self.hand_over(manager, world, fresh)
    }

    /// As [`ScriptSystem::reload`], with the new version's source given
    /// (a mod of the same name): for tools that read it themselves, such
    /// as `moonbox sim --watch`.
    ///
    /// # Errors
    /// [`LoadError`] from loading the new version, or if no mod of its
    /// name is loaded.
    pub fn reload_source(
        &mut self,
        manager: &mut ScriptManager,
        world: &mut World,
        source: ModSource,
    ) -> Result<Handover, LoadError> {
        let fresh = manager.prepare_replacement(source)?;
        self.hand_over(manager, world, fresh)
    }

    /// Runs the old version's `on_unload` and puts `fresh` in its place.
    fn hand_over(
        &mut self,
        manager: &mut ScriptManager,
        world: &mut World,
        fresh: LoadedMod,
    ) -> Result<Handover, LoadError> {
        let name = fresh.name().to_owned();
        let name = name.as_str();
        let old = manager.get_mut(name).ok_or_else(|| LoadError::UnknownMod {
            name: name.to_owned(),
        })?;
        self.report.clear();
        let (handover, state) = if old.is_active() {
            match self.transact(old, world, 0.0, "on_unload", Args::Unload) {
                Ok(Returned::Value(state)) => (Handover::State { bytes: state.len() }, Some(state)),
                Ok(_) => (Handover::NoHandler, None),
                Err(error) => {
                    self.console.push(
                        Channel::Warn,
                        bounded(format!(
                            "[moonbox] mod '{name}': {error} (in on_unload); its new version starts without its state"
                        )),
                    );
                    (Handover::Failed { error }, None)
                }
            }
        } else {
            (Handover::NotActive, None)
        };
        self.keep_events();
        manager.replace(fresh, state);
        Ok(handover)
    }

    /// A mod's first call: `on_reload(state)` when an earlier version
    /// handed it a state and it has that handler, else `on_load()`.
    fn start(&mut self, loaded: &mut LoadedMod, world: &mut World, dt: f64) -> Outcome {
        if let Some(state) = loaded.handover.take() {
            // One argument: a MessagePack array of one, then the value.
            let mut args = Vec::with_capacity(state.len() + 1);
            args.push(0x91);
            args.extend_from_slice(&state);
            let result = self.transact(loaded, world, dt, "on_reload", Args::Encoded(&args));
            if !matches!(result, Ok(Returned::Missing)) {
                return self.settle(loaded, "on_reload", result.map(drop));
            }
        }
        self.call(loaded, world, dt, "on_load", Args::None)
    }

    /// One handler call, its failure handled (see [`ScriptSystem::settle`]).
    fn call(
        &mut self,
        loaded: &mut LoadedMod,
        world: &mut World,
        dt: f64,
        handler: &str,
        args: Args<'_>,
    ) -> Outcome {
        let result = self.transact(loaded, world, dt, handler, args);
        self.settle(loaded, handler, result.map(drop))
    }

    /// One handler call as a transaction: the world moves into the mod's
    /// sandbox for the call and always comes back, committed or rolled back.
    /// The mod's console lines move to the system's console.
    fn transact(
        &mut self,
        loaded: &mut LoadedMod,
        world: &mut World,
        dt: f64,
        handler: &str,
        args: Args<'_>,
    ) -> Result<Returned, ScriptError> {
        let links = self.links.entry(Arc::clone(loaded.name_arc())).or_default();
        let inputs = TransactionInputs {
            registry: loaded.registry_arc(),
            permissions: loaded.granted_arc(),
            holdings: std::mem::take(links),
            tick: self.tick,
            dt,
            config: loaded.config_arc(),
            on_violation: loaded.on_violation(),
            quota: loaded.world_quota(),
            functions: loaded.functions_arc(),
            mod_name: Arc::clone(loaded.name_arc()),
        };
        let sandbox = loaded.sandbox_mut();
        sandbox.attach(Box::new(Transaction::new(std::mem::take(world), inputs)));
        let found = |found: bool| {
            if found {
                Returned::Ran
            } else {
                Returned::Missing
            }
        };
        let result = match args {
            Args::None => sandbox.call(handler).map(found),
            Args::Dt(dt) => sandbox.call_with(handler, &(dt,)).map(found),
            Args::Encoded(bytes) => sandbox.call_msgpack(handler, bytes).map(found),
            Args::Events(bytes) => sandbox.deliver(bytes).map(found),
            Args::Tasks { reserve, slices } => {
                sandbox.run_tasks(reserve, slices).map(|_| Returned::Ran)
            }
            Args::Unload => sandbox
                .call_returning(handler, &[])
                .map(|value| value.map_or(Returned::Missing, Returned::Value)),
        };
        let result = match sandbox.detach() {
            Some(transaction) => {
                let result = result.map_err(|error| transaction.classify(error));
                let finished = transaction.finish(result.is_ok());
                *world = finished.world;
                *links = finished.holdings;
                self.report.extend_commands(finished.commands);
                result
            }
            // The transaction lives in the store's data, which survives even
            // a trap; losing it would be a bug in Moonbox, reported as such.
            None => Err(ScriptError::Host {
                message: "the world was not returned by the sandbox".into(),
            }),
        };
        loaded.record_call();
        let name = Arc::clone(loaded.name_arc());
        for line in loaded.sandbox_mut().console_mut().drain() {
            self.console
                .push(line.channel, format!("[{name}] {}", line.text));
        }
        result
    }

    /// The outcome of a call of `handler` that gave `result`: a failure is
    /// noted in the console and disables the mod if its policy says so.
    fn settle(
        &mut self,
        loaded: &mut LoadedMod,
        handler: &str,
        result: Result<(), ScriptError>,
    ) -> Outcome {
        let Err(error) = result else {
            return Outcome::Ran;
        };
        let name = loaded.name_arc();
        let disabled = loaded.should_disable(&error);
        if disabled {
            let reason = bounded(format!("{error} (in {handler})"));
            self.console.push(
                Channel::Warn,
                format!("[moonbox] mod '{name}' disabled: {reason}"),
            );
            loaded.disable(reason);
        } else {
            self.console.push(
                Channel::Warn,
                bounded(format!("[moonbox] mod '{name}': {error} (in {handler})")),
            );
        }
        Outcome::Failed { error, disabled }
    }

    /// Drops links to entities that no longer exist (despawned by the
    /// engine) and to mods that are no longer loaded.
    fn forget_dead(&mut self, manager: &ScriptManager, world: &World) {
        self.links.retain(|name, holdings| {
            holdings.forget_dead(world);
            manager.get(name).is_some()
        });
    }
}

/// What a snapshot keeps of a [`ScriptSystem`]: the tick, the links, the
/// console and the commands waiting to be delivered as events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SystemState {
    tick: u64,
    /// Per mod: its holdings' entries (entity bits, spawned, bytes).
    links: Vec<(String, Vec<HeldEntry>)>,
    console: Vec<(Channel, String)>,
    console_dropped: u64,
    /// Commands waiting for the next tick: mod, name, data.
    events: Vec<(String, String, ByteBuf)>,
}

impl SystemState {
    /// The tick it was taken after.
    pub(crate) fn tick(&self) -> u64 {
        self.tick
    }
}

impl ScriptSystem {
    /// Its state, for a snapshot.
    pub(crate) fn capture(&self) -> SystemState {
        SystemState {
            tick: self.tick,
            links: self
                .links
                .iter()
                .map(|(name, holdings)| (name.to_string(), holdings.entries()))
                .collect(),
            console: self
                .console
                .lines()
                .map(|line| (line.channel, line.text.clone()))
                .collect(),
            console_dropped: self.console.dropped(),
            events: self
                .events
                .iter()
                .map(|c| {
                    let data = ByteBuf::from(c.data().to_vec());
                    (c.mod_name().to_owned(), c.name().to_owned(), data)
                })
                .collect(),
        }
    }

    /// A system in `state`, with `console`'s bounds (the embedder's).
    pub(crate) fn restored(state: &SystemState, console: &Console) -> Result<Self, SnapshotError> {
        let bad = |what: String| SnapshotError::corrupt(what);
        let mut system = Self::new();
        system.tick = state.tick;
        for (name, entries) in &state.links {
            let holdings = Holdings::from_entries(entries)
                .ok_or_else(|| bad(format!("mod '{name}' holds an entity that is no handle")))?;
            system.links.insert(name.as_str().into(), holdings);
        }
        system.console = Console::new(console.max_lines(), console.max_bytes());
        for (channel, text) in &state.console {
            system.console.push(*channel, text.clone());
        }
        system.console.add_dropped(state.console_dropped);
        for (from, name, data) in &state.events {
            let bytes = name.len().saturating_add(data.len());
            if system.event_bytes.saturating_add(bytes) > MAX_PENDING_EVENT_BYTES {
                return Err(bad(format!(
                    "more than {MAX_PENDING_EVENT_BYTES} bytes of events wait"
                )));
            }
            if !event::fits_an_event(data) {
                return Err(bad(format!(
                    "event '{name}' from '{from}' is not a value an event can carry"
                )));
            }
            system.event_bytes += bytes;
            let command = Command::restored(from.as_str().into(), name.clone(), data.to_vec());
            system.events.push(command);
        }
        Ok(system)
    }
}

/// What one mod holds in the world: see [`ScriptSystem::world_usage`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorldUsage {
    /// Entities alive that it spawned.
    pub entities: u64,
    /// Bytes of component data its spawns and writes added, with
    /// [`crate::HELD_ENTITY_BYTES`] per entity held.
    pub bytes: u64,
}

/// The arguments of a handler call.
enum Args<'a> {
    /// `on_load()`.
    None,
    /// `on_tick(dt)`.
    Dt(f64),
    /// `on_event(name, data)`, encoded and checked once for every mod.
    Encoded(&'a [u8]),
    /// `on_event(name, data, from)` for each of a batch of other mods'
    /// commands (see [`deliveries`]).
    Events(&'a [u8]),
    /// The mod's tasks, keeping `reserve` fuel, each task allowed `slices` calls.
    Tasks { reserve: u64, slices: u32 },
    /// `on_unload()`, for the value it returns.
    Unload,
}

/// What a handler call gave back.
enum Returned {
    /// The mod has no such handler.
    Missing,
    /// The handler ran.
    Ran,
    /// The handler ran and returned this value (one MessagePack value).
    Value(Vec<u8>),
}

/// The events of `events` that `loaded` receives, encoded in batches of
/// at most [`DELIVERY_EVENTS`] events and about [`DELIVERY_BYTES`] bytes
/// (a larger single event travels alone) as `[[name, data, from], ...]`.
fn deliveries(loaded: &LoadedMod, events: &[Command]) -> Vec<Vec<u8>> {
    let granted = loaded.granted();
    let mine = events
        .iter()
        .filter(|c| c.mod_name() != loaded.name() && granted.receives(c.name()));
    let mut batches = Vec::new();
    let mut batch: Vec<&Command> = Vec::new();
    let mut bytes = 0;
    for command in mine {
        let size = command.name().len() + command.data().len() + command.mod_name().len();
        if !batch.is_empty() && (batch.len() == DELIVERY_EVENTS || bytes + size > DELIVERY_BYTES) {
            batches.push(encode_batch(&batch));
            batch.clear();
            bytes = 0;
        }
        batch.push(command);
        bytes += size;
    }
    if !batch.is_empty() {
        batches.push(encode_batch(&batch));
    }
    batches
}

fn encode_batch(batch: &[&Command]) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail; lengths are bounded by the batch limits.
    let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let _ = rmp::encode::write_array_len(&mut out, len(batch.len()));
    for command in batch {
        let _ = rmp::encode::write_array_len(&mut out, 3);
        let _ = rmp::encode::write_str(&mut out, command.name());
        out.extend_from_slice(command.data());
        let _ = rmp::encode::write_str(&mut out, command.mod_name());
    }
    out
}
