//! [`Simulation`]: mods against a world, tick by tick, decided by its inputs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use hecs::World;

use super::{Inputs, ReplayError, TickRecord, WorldJson};
use crate::engine_api::Command;
use crate::host::Moonbox;
use crate::mods::{LoadError, ModSource, ModStatus, Policy, ScriptManager};
use crate::runtime::engine::{GUEST_COMPONENT, ScriptEngine};
use crate::snapshot::{Snapshot, SnapshotError};
use crate::system::{Handover, ScriptSystem};
use crate::world::file::{world_from_json, world_to_json_text};
use crate::world::hash::{hex, world_hash};
use crate::world::registry::ComponentRegistry;

/// Most events the inputs may inject into one tick: each runs every mod's
/// `on_event` under its fuel budget, so the count bounds a replay's work.
pub const MAX_EVENTS_PER_TICK: usize = 256;

/// A run of mods against a world, fully decided by its [`Inputs`].
///
/// ```
/// use std::sync::Arc;
/// use moonbox::{ReplayInputs as Inputs, Simulation};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let engine = moonbox::ScriptEngine::new()?;
/// let registry = Arc::new(moonbox::demo::registry()?);
/// let inputs = Inputs::demo(&registry, 0, 5, 1.0 / 60.0)?;
/// let mut a = Simulation::new(&engine, registry.clone(), &inputs)?;
/// let mut b = Simulation::new(&engine, registry, &inputs)?;
/// for _ in 0..5 {
///     assert_eq!(a.step(true)?, b.step(true)?);
/// }
/// # Ok(())
/// # }
/// ```
pub struct Simulation {
    registry: Arc<ComponentRegistry>,
    host: Moonbox,
    world: World,
    inputs: Inputs,
    tick: u64,
    load_errors: BTreeMap<String, String>,
    /// The commands of the last tick, events' first.
    commands: Vec<Command>,
}

impl Simulation {
    /// Builds the world and loads the mods of `inputs`. Mods that fail to
    /// load are left out and reported in [`Simulation::start`]. When the
    /// inputs start from a snapshot, it must be embedded (see
    /// [`Simulation::open`]).
    ///
    /// # Errors
    /// An unsupported policy or a world that does not fit the registry;
    /// a start snapshot that cannot be used.
    pub fn new(
        engine: &ScriptEngine,
        registry: Arc<ComponentRegistry>,
        inputs: &Inputs,
    ) -> Result<Self, ReplayError> {
        Self::open(engine, registry, inputs, None)
    }

    /// As [`Simulation::new`], looking for a referenced start snapshot
    /// ([`crate::StartSnapshot::File`]) in `folder`, the replay file's.
    ///
    /// # Errors
    /// As [`Simulation::new`].
    pub fn open(
        engine: &ScriptEngine,
        registry: Arc<ComponentRegistry>,
        inputs: &Inputs,
        folder: Option<&Path>,
    ) -> Result<Self, ReplayError> {
        let start = inputs
            .start
            .as_ref()
            .map(|start| start.load(folder))
            .transpose()?;
        let mut sim = Self::load(engine, registry, inputs)?;
        if let Some(snapshot) = start {
            sim.restore(&snapshot, inputs.ticks)
                .map_err(|e| ReplayError::Start {
                    message: e.to_string(),
                })?;
        }
        Ok(sim)
    }

    /// The world and the mods of `inputs`, at tick 0.
    fn load(
        engine: &ScriptEngine,
        registry: Arc<ComponentRegistry>,
        inputs: &Inputs,
    ) -> Result<Self, ReplayError> {
        if inputs.policy != "allow-all" {
            return Err(ReplayError::Inputs {
                message: format!(
                    "policy '{}' is not supported (only 'allow-all')",
                    inputs.policy
                ),
            });
        }
        let mut per_tick = BTreeMap::new();
        for event in &inputs.events {
            let count = per_tick.entry(event.tick).or_insert(0_usize);
            *count += 1;
            if *count > MAX_EVENTS_PER_TICK {
                return Err(ReplayError::Inputs {
                    message: format!(
                        "more than {MAX_EVENTS_PER_TICK} events at tick {}",
                        event.tick
                    ),
                });
            }
        }
        if !inputs.dt.is_finite() {
            return Err(ReplayError::Inputs {
                message: "dt must be a finite number".into(),
            });
        }
        if inputs.specialised != engine.specialises() {
            return Err(ReplayError::Inputs {
                message: if inputs.specialised {
                    "the run specialised its mods with weval; replay it on an engine \
                     that does too (EngineConfig::weval, moonbox --weval)"
                        .into()
                } else {
                    "the run did not specialise its mods; replay it on an engine \
                     that does not (no EngineConfig::weval, no moonbox --weval)"
                        .into()
                },
            });
        }
        let world = world_from_json(inputs.world.as_text(), &registry)
            .map_err(|error| ReplayError::World { error })?;
        let policy = Policy::allow_all(&registry);
        let mut host = Moonbox::builder(Arc::clone(&registry))
            .policy(policy)
            .seed(inputs.seed)
            .engine(engine.clone())
            .build()
            .map_err(|e| ReplayError::Inputs {
                message: e.to_string(),
            })?;
        let mut load_errors = BTreeMap::new();
        for (index, recorded) in inputs.mods.iter().enumerate() {
            match recorded.to_source() {
                Ok(source) => {
                    let name = source.manifest.name.clone();
                    if let Err(error) = host.load(source) {
                        load_errors.insert(name, format!("not loaded: {error}"));
                    }
                }
                Err(error) => {
                    load_errors.insert(format!("mods[{index}]"), format!("not loaded: {error}"));
                }
            }
        }
        Ok(Self {
            registry,
            host,
            world,
            inputs: inputs.clone(),
            tick: 0,
            load_errors,
            commands: Vec::new(),
        })
    }

    /// The record of the starting state: tick 0 (or the start snapshot's
    /// tick), the world and the mods that failed to load.
    ///
    /// # Errors
    /// A component whose conversion fails while hashing.
    pub fn start(&self) -> Result<TickRecord, ReplayError> {
        Ok(TickRecord {
            tick: self.tick,
            world_hash: self.hash()?,
            fuel: BTreeMap::new(),
            disabled: self.load_errors.clone(),
            commands: 0,
            commands_hash: String::new(),
        })
    }

    /// Runs the next tick: its events (to `on_event`), then `on_tick`.
    /// `hash` computes the world hash (left empty otherwise, which is faster).
    ///
    /// # Errors
    /// A component whose conversion fails while hashing.
    pub fn step(&mut self, hash: bool) -> Result<TickRecord, ReplayError> {
        self.tick += 1;
        let before = self.fuel_by_mod();
        // Mods that ran (an event or the tick), and those disabled doing so.
        let mut ran = BTreeMap::new();
        let mut record = |report: &crate::TickReport| {
            for (name, _) in report.outcomes() {
                ran.entry(name.to_owned()).or_insert(());
            }
            report
                .failures()
                .filter(|(_, _, disabled)| *disabled)
                .map(|(name, _, _)| name.to_owned())
                .collect::<Vec<_>>()
        };
        let mut newly_disabled = Vec::new();
        self.commands.clear();
        for event in self.inputs.events.iter().filter(|e| e.tick == self.tick) {
            let tick = self.tick;
            let report = self
                .host
                .dispatch_event(&mut self.world, &event.name, &event.data)
                .map_err(|e| ReplayError::Inputs {
                    message: format!("tick {tick}: {e}"),
                })?;
            newly_disabled.extend(record(report));
            self.commands.extend_from_slice(report.commands());
        }
        let report = self.host.tick(&mut self.world, self.inputs.dt);
        newly_disabled.extend(record(report));
        self.commands.extend_from_slice(report.commands());
        let after = self.fuel_by_mod();
        let fuel = ran
            .into_keys()
            .map(|name| {
                let used = after
                    .get(&name)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(before.get(&name).copied().unwrap_or(0));
                (name, used)
            })
            .collect();
        let mut disabled = BTreeMap::new();
        for name in newly_disabled {
            if let Some(ModStatus::Disabled { reason }) = self.host.get(&name).map(|m| m.status()) {
                disabled.insert(name, reason.clone());
            }
        }
        Ok(TickRecord {
            tick: self.tick,
            world_hash: if hash { self.hash()? } else { String::new() },
            fuel,
            disabled,
            commands: u64::try_from(self.commands.len()).unwrap_or(u64::MAX),
            commands_hash: commands_hash(&self.commands),
        })
    }

    /// The whole simulation now (see [`Moonbox::snapshot`]).
    ///
    /// # Errors
    /// As [`Moonbox::snapshot`].
    pub fn snapshot(&mut self) -> Result<Snapshot, SnapshotError> {
        self.host.snapshot(&self.world)
    }

    /// Continues from `snapshot`, taken by a simulation of the same mods
    /// and seed: the next step runs tick `snapshot.tick() + 1`, and the
    /// inputs' tick count becomes `ticks` more than that.
    ///
    /// # Errors
    /// As [`Moonbox::restore`].
    pub fn restore(&mut self, snapshot: &Snapshot, ticks: u64) -> Result<(), SnapshotError> {
        self.host.restore(&mut self.world, snapshot)?;
        self.tick = snapshot.tick();
        self.inputs.ticks = self.tick.saturating_add(ticks);
        self.commands.clear();
        Ok(())
    }

    /// The commands mods emitted in the last tick, in order: those of its
    /// events first, then those of `on_tick`.
    pub fn commands(&self) -> &[Command] {
        &self.commands
    }

    /// Ticks run so far.
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// Whether all the ticks of the inputs have run.
    pub fn is_done(&self) -> bool {
        self.tick >= self.inputs.ticks
    }

    /// The world.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Reloads a mod from `source`, handing its state over
    /// ([`Moonbox::reload_source`]): for `moonbox sim --watch`. A reload is
    /// not one of the recorded inputs, so a recording of a run with one
    /// does not replay.
    ///
    /// # Errors
    /// As [`Moonbox::reload`]: the old version runs on.
    pub fn reload_source(&mut self, source: ModSource) -> Result<Handover, LoadError> {
        self.host.reload_source(&mut self.world, source)
    }

    /// The host running the mods (its console holds their output).
    pub fn host(&self) -> &Moonbox {
        &self.host
    }

    /// The mods.
    pub fn manager(&self) -> &ScriptManager {
        self.host.manager()
    }

    /// The system (its console holds the mods' output).
    pub fn system(&self) -> &ScriptSystem {
        self.host.system()
    }

    /// Mods that failed to load, with why.
    pub fn load_errors(&self) -> &BTreeMap<String, String> {
        &self.load_errors
    }

    /// The component registry.
    pub fn registry(&self) -> &Arc<ComponentRegistry> {
        &self.registry
    }

    fn hash(&self) -> Result<String, ReplayError> {
        world_hash(&self.world, &self.registry).map_err(|error| ReplayError::Component {
            doing: "hashing the world",
            error,
        })
    }

    fn fuel_by_mod(&self) -> BTreeMap<String, u64> {
        self.host
            .mods()
            .map(|m| (m.name().to_owned(), m.stats().fuel_used))
            .collect()
    }
}

impl Inputs {
    /// The inputs of the built-in demo: its world for `seed`, its example
    /// mods, no events.
    ///
    /// # Errors
    /// None in practice (the demo is tested).
    #[cfg(feature = "demo")]
    pub fn demo(
        registry: &ComponentRegistry,
        seed: u64,
        ticks: u64,
        dt: f64,
    ) -> Result<Self, ReplayError> {
        let world = crate::demo::world(seed, crate::demo::DEMO_ENTITIES);
        let sources = crate::demo::example_mods().map_err(|e| ReplayError::Inputs {
            message: e.to_string(),
        })?;
        Self::new(registry, &world, &sources, seed, ticks, dt)
    }

    /// The inputs of a run of `sources` against `world`.
    ///
    /// # Errors
    /// A world or a mod that cannot be recorded.
    pub fn new(
        registry: &ComponentRegistry,
        world: &World,
        sources: &[ModSource],
        seed: u64,
        ticks: u64,
        dt: f64,
    ) -> Result<Self, ReplayError> {
        let inputs_error = |message: String| ReplayError::Inputs { message };
        let world = world_to_json_text(world, registry)
            .map_err(|e| inputs_error(e.to_string()))
            .and_then(|text| WorldJson::from_text(text).map_err(|e| inputs_error(e.to_string())))?;
        let mods = sources
            .iter()
            .map(super::RecordedMod::from_source)
            .collect::<Result<_, _>>()
            .map_err(|e| inputs_error(e.to_string()))?;
        Ok(Self {
            moonbox_version: env!("CARGO_PKG_VERSION").to_owned(),
            guest_sha256: super::file::sha256_hex(GUEST_COMPONENT),
            seed,
            ticks,
            dt,
            policy: "allow-all".into(),
            world,
            mods,
            events: Vec::new(),
            start: None,
            components: None,
            specialised: false,
        })
    }
}

/// What [`TickRecord::commands_hash`] holds for `commands`.
fn commands_hash(commands: &[Command]) -> String {
    use sha2::{Digest, Sha256};
    if commands.is_empty() {
        return String::new();
    }
    let mut hasher = Sha256::new();
    for command in commands {
        for part in [
            command.mod_name().as_bytes(),
            command.name().as_bytes(),
            command.data(),
        ] {
            hasher.update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_le_bytes());
            hasher.update(part);
        }
    }
    hex(&hasher.finalize())
}
