//! [`ScriptManager`]: the one store of mods, their sources and their
//! sandboxes, and their lifecycle.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::{LoadError, ModSource, Policy};
use crate::engine_api::EngineFunctions;
use crate::runtime::engine::ScriptEngine;
use crate::runtime::error::ScriptError;
use crate::runtime::limits::Limits;
use crate::runtime::sandbox::{Sandbox, SandboxConfig, SandboxSnapshot};
use crate::snapshot::SnapshotError;
use crate::world::WorldQuota;
use crate::world::permissions::{EntityScope, Permissions};
use crate::world::registry::ComponentRegistry;
use crate::world::transaction::ViolationPolicy;

/// Whether a mod runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModStatus {
    /// It runs every tick.
    Active,
    /// It was stopped; it runs again only after `enable` or `reload`.
    Disabled {
        /// Why, e.g. the security violation or the error.
        reason: String,
    },
}

impl ModStatus {
    /// `active` or `disabled`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled { .. } => "disabled",
        }
    }
}

/// What a mod has used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModStats {
    /// Fuel of all its handler calls.
    pub fuel_used: u64,
    /// Largest size its sandbox's memory reached, in bytes.
    pub memory_peak: u64,
    /// Handler calls made.
    pub calls: u64,
}

impl ModStats {
    /// Both together: fuel and calls added, the larger peak.
    #[must_use]
    pub fn plus(self, other: Self) -> Self {
        Self {
            fuel_used: self.fuel_used.saturating_add(other.fuel_used),
            memory_peak: self.memory_peak.max(other.memory_peak),
            calls: self.calls.saturating_add(other.calls),
        }
    }
}

/// One loaded mod.
pub struct LoadedMod {
    /// Its name, shared with the system's links and reports (no copies per tick).
    name: Arc<str>,
    source: ModSource,
    granted: Arc<Permissions>,
    limits: Limits,
    config: Arc<[u8]>,
    /// The engine its sandbox runs on: the manager's, or one specialised
    /// for its sources ([`crate::EngineConfig::weval`]).
    engine: ScriptEngine,
    sandbox: Sandbox,
    status: ModStatus,
    /// This incarnation's calls and fuel (its sandbox knows its memory peak).
    stats: ModStats,
    /// What earlier incarnations used, before a `reload` or an `enable`
    /// that had to reload.
    earlier: ModStats,
    registry: Arc<ComponentRegistry>,
    functions: Arc<EngineFunctions>,
    on_violation: ViolationPolicy,
    max_task_ticks: u32,
    quota: WorldQuota,
    disable_on_error: bool,
    pub(crate) needs_on_load: bool,
    /// What the previous version's `on_unload` returned (one MessagePack
    /// value), for this version's `on_reload(state)` at its first tick.
    pub(crate) handover: Option<Vec<u8>>,
}

impl LoadedMod {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
    pub(crate) fn name_arc(&self) -> &Arc<str> {
        &self.name
    }
    /// Its version.
    pub fn version(&self) -> &str {
        &self.source.manifest.version
    }
    /// Its source: manifest and files.
    pub fn source(&self) -> &ModSource {
        &self.source
    }
    /// What it was granted: its request intersected with the policy.
    pub fn granted(&self) -> &Permissions {
        &self.granted
    }
    /// Its limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    /// Whether it runs.
    pub fn status(&self) -> &ModStatus {
        &self.status
    }
    /// Whether it runs on a guest specialised for its sources
    /// ([`crate::EngineConfig::weval`]).
    pub fn is_specialised(&self) -> bool {
        self.engine.is_specialised()
    }
    /// Whether it is active.
    pub fn is_active(&self) -> bool {
        self.status == ModStatus::Active
    }
    /// What it used since it was first loaded, across reloads.
    pub fn stats(&self) -> ModStats {
        self.earlier.plus(self.incarnation_stats())
    }
    /// Where its current incarnation's fuel went, per Lua stack, when the
    /// engine profiles ([`crate::EngineConfig::profile`]).
    pub fn profile(&self) -> Option<&crate::Profile> {
        self.sandbox.profile()
    }
    /// What its current incarnation used: since its latest load, `reload`
    /// or reloading `enable`.
    pub fn incarnation_stats(&self) -> ModStats {
        ModStats {
            memory_peak: self.sandbox.memory_peak(),
            ..self.stats
        }
    }

    pub(crate) fn granted_arc(&self) -> Arc<Permissions> {
        Arc::clone(&self.granted)
    }
    pub(crate) fn config_arc(&self) -> Arc<[u8]> {
        Arc::clone(&self.config)
    }
    pub(crate) fn sandbox_mut(&mut self) -> &mut Sandbox {
        &mut self.sandbox
    }
    pub(crate) fn record_call(&mut self) {
        self.stats.calls += 1;
        self.stats.fuel_used = self
            .stats
            .fuel_used
            .saturating_add(self.sandbox.last_fuel_used());
    }
    pub(crate) fn registry_arc(&self) -> Arc<ComponentRegistry> {
        Arc::clone(&self.registry)
    }
    pub(crate) fn functions_arc(&self) -> Arc<EngineFunctions> {
        Arc::clone(&self.functions)
    }
    pub(crate) fn on_violation(&self) -> ViolationPolicy {
        self.on_violation
    }
    pub(crate) fn max_task_ticks(&self) -> u32 {
        self.max_task_ticks
    }
    /// Entities its spawns may keep alive at once.
    pub fn max_entities(&self) -> u64 {
        self.quota.entities
    }
    /// Bytes of component data its spawns and writes may add to the world.
    pub fn max_world_bytes(&self) -> u64 {
        self.quota.bytes
    }
    pub(crate) fn world_quota(&self) -> WorldQuota {
        self.quota
    }
    /// Whether `error` from a handler disables the mod: violations, limits
    /// and traps always do; Lua errors as the policy says.
    pub(crate) fn should_disable(&self, error: &ScriptError) -> bool {
        match error {
            ScriptError::Syntax { .. }
            | ScriptError::Runtime { .. }
            | ScriptError::PermissionDenied { .. } => {
                self.disable_on_error || self.sandbox.is_poisoned()
            }
            _ => true,
        }
    }
    pub(crate) fn disable(&mut self, reason: String) {
        self.status = ModStatus::Disabled { reason };
    }
}

/// Owns every mod: loads, validates, enables, disables, reloads and unloads
/// them, and is the only place their sources and Lua states live. Mods run
/// in name order (see [`crate::ScriptSystem`]).
///
/// ```
/// use moonbox::{ComponentRegistry, ModSource, Policy, ScriptEngine, ScriptManager};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let registry = std::sync::Arc::new(ComponentRegistry::new());
/// let mut manager = ScriptManager::new(ScriptEngine::new()?, registry, Policy::default());
/// let source = ModSource::from_parts("inline", "name = 'hello'\nversion = '1'", [
///     ("main.lua".to_string(), b"function on_tick(dt) end".to_vec()),
/// ])?;
/// manager.load(source)?;
/// assert!(manager.get("hello").unwrap().is_active());
/// # Ok(())
/// # }
/// ```
pub struct ScriptManager {
    engine: ScriptEngine,
    registry: Arc<ComponentRegistry>,
    functions: Arc<EngineFunctions>,
    policy: Policy,
    seed: u64,
    mods: BTreeMap<String, LoadedMod>,
}

impl ScriptManager {
    /// A manager with no mods. `registry` names the components mods may use.
    pub fn new(engine: ScriptEngine, registry: Arc<ComponentRegistry>, policy: Policy) -> Self {
        Self {
            engine,
            registry,
            functions: Arc::default(),
            policy,
            seed: 0,
            mods: BTreeMap::new(),
        }
    }

    /// Sets the seed mods' random sources derive from (each mod gets its own
    /// stream, fixed by the seed and its name). Affects mods loaded later.
    pub fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }

    /// Sets the functions the engine offers mods ([`EngineFunctions`]).
    /// Affects mods loaded later: a mod's grant of `call` is checked
    /// against these when it loads.
    pub fn set_functions(&mut self, functions: impl Into<Arc<EngineFunctions>>) {
        self.functions = functions.into();
    }

    /// The functions the engine offers mods.
    pub fn functions(&self) -> &Arc<EngineFunctions> {
        &self.functions
    }

    /// The component registry.
    pub fn registry(&self) -> &Arc<ComponentRegistry> {
        &self.registry
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Loads a mod: checks its manifest against the registry, grants it what
    /// the policy allows, creates its sandbox, makes its files `require`-able
    /// and runs its entry script. Its `on_load` runs at its first tick.
    ///
    /// # Errors
    /// [`LoadError`] naming the mod, file and line; nothing is kept.
    pub fn load(&mut self, source: ModSource) -> Result<String, LoadError> {
        let name = source.manifest.name.clone();
        if self.mods.contains_key(&name) {
            return Err(LoadError::Duplicate { name });
        }
        let loaded = self.prepare(source)?;
        self.mods.insert(name.clone(), loaded);
        Ok(name)
    }

    /// Loads the mod in folder `dir` (see [`ModSource::from_dir`]).
    ///
    /// # Errors
    /// As [`ScriptManager::load`].
    pub fn load_dir(&mut self, dir: &Path) -> Result<String, LoadError> {
        self.load(ModSource::from_dir(dir)?)
    }

    /// Loads `dir` if it is a mod (has `mod.toml`), otherwise every
    /// sub-folder of it that is one, in name order. One bad mod does not
    /// stop the others: each gets its own result.
    ///
    /// # Errors
    /// [`LoadError::Io`] if `dir` cannot be listed.
    pub fn load_all(&mut self, dir: &Path) -> Result<Vec<Result<String, LoadError>>, LoadError> {
        Ok(ModSource::discover(dir)?
            .into_iter()
            .map(|source| source.and_then(|source| self.load(source)))
            .collect())
    }

    /// The mod called `name`.
    pub fn get(&self, name: &str) -> Option<&LoadedMod> {
        self.mods.get(name)
    }

    /// Every mod, in name order (the order they run in).
    pub fn mods(&self) -> impl Iterator<Item = &LoadedMod> {
        self.mods.values()
    }

    /// Stops a mod from running, recording why.
    ///
    /// # Errors
    /// [`LoadError::UnknownMod`].
    pub fn disable(&mut self, name: &str, reason: &str) -> Result<(), LoadError> {
        self.entry(name)?.disable(reason.to_owned());
        Ok(())
    }

    /// Lets a disabled mod run again. A mod whose sandbox was discarded (by
    /// a trap) is reloaded from its source first.
    ///
    /// # Errors
    /// As [`ScriptManager::reload`].
    pub fn enable(&mut self, name: &str) -> Result<(), LoadError> {
        if self.entry(name)?.sandbox.is_poisoned() {
            return self.reload(name);
        }
        self.entry(name)?.status = ModStatus::Active;
        Ok(())
    }

    /// Reloads a mod from its folder (or its stored source when it was not
    /// read from disk) into a fresh sandbox; `on_load` runs again at the next
    /// tick. If the new source fails, the old mod stays as it was. No state
    /// is handed over: [`crate::Moonbox::reload`] (through
    /// [`crate::ScriptSystem::reload`]) also runs `on_unload` and
    /// `on_reload(state)`.
    ///
    /// # Errors
    /// [`LoadError`] from reading or loading the new source.
    pub fn reload(&mut self, name: &str) -> Result<(), LoadError> {
        let fresh = self.prepare_reload(name)?;
        self.replace(fresh, None);
        Ok(())
    }

    /// The new version of mod `name`, loaded from its folder (or its stored
    /// source) into a fresh sandbox, not yet in place of the old one.
    pub(crate) fn prepare_reload(&mut self, name: &str) -> Result<LoadedMod, LoadError> {
        let old = self.entry(name)?;
        let source = match &old.source.dir {
            Some(dir) => ModSource::from_dir(dir)?,
            None => old.source.clone(),
        };
        if source.manifest.name != name {
            return Err(LoadError::Rejected {
                name: name.to_owned(),
                message: format!("reloaded manifest renames it to '{}'", source.manifest.name),
            });
        }
        self.prepare(source)
    }

    /// The new version of a loaded mod from `source` (a mod of the same
    /// name), in a fresh sandbox, not yet in place of the old one.
    pub(crate) fn prepare_replacement(
        &mut self,
        source: ModSource,
    ) -> Result<LoadedMod, LoadError> {
        self.entry(&source.manifest.name)?;
        self.prepare(source)
    }

    /// Puts `fresh` in place of the mod of its name, keeping what the old
    /// one used in its statistics, with `handover` for its `on_reload`.
    pub(crate) fn replace(&mut self, mut fresh: LoadedMod, handover: Option<Vec<u8>>) {
        if let Some(old) = self.mods.get(fresh.name()) {
            fresh.earlier = old.stats();
        }
        fresh.handover = handover;
        self.mods.insert(fresh.name().to_owned(), fresh);
    }

    /// The mod called `name`, to run it.
    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut LoadedMod> {
        self.mods.get_mut(name)
    }

    /// Removes a mod and its Lua state. Entities it spawned stay in the world.
    ///
    /// # Errors
    /// [`LoadError::UnknownMod`].
    pub fn unload(&mut self, name: &str) -> Result<(), LoadError> {
        self.mods
            .remove(name)
            .map(drop)
            .ok_or_else(|| LoadError::UnknownMod {
                name: name.to_owned(),
            })
    }

    /// Every mod, in name order, to run them.
    pub(crate) fn mods_mut(&mut self) -> impl Iterator<Item = &mut LoadedMod> {
        self.mods.values_mut()
    }

    fn entry(&mut self, name: &str) -> Result<&mut LoadedMod, LoadError> {
        self.mods
            .get_mut(name)
            .ok_or_else(|| LoadError::UnknownMod {
                name: name.to_owned(),
            })
    }

    fn prepare(&self, source: ModSource) -> Result<LoadedMod, LoadError> {
        let manifest = &source.manifest;
        let name = manifest.name.clone();
        let rejected = |message: String| LoadError::Rejected {
            name: name.clone(),
            message,
        };
        let requested = manifest
            .permissions
            .to_permissions()
            .map_err(|e| rejected(e.to_string()))?;
        let mut named: Vec<&str> = requested.components.keys().map(String::as_str).collect();
        if let EntityScope::Tagged(tag) = &requested.scope {
            named.push(tag);
        }
        if let Some(unknown) = named.iter().find(|c| !self.registry.contains(c)) {
            return Err(rejected(format!(
                "requests unknown component '{unknown}' (known: {})",
                self.registry.names().collect::<Vec<_>>().join(", ")
            )));
        }
        if let Some(unknown) = requested.calls.iter().find(|f| !self.functions.contains(f)) {
            let known: Vec<&str> = self.functions.names().collect();
            return Err(rejected(format!(
                "requests unknown engine function '{unknown}' (known: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        }
        let granted = requested.intersect(&self.policy.allowed);
        let limits = self
            .policy
            .limits(manifest.budget.fuel(), manifest.budget.memory);
        let config = manifest
            .config_bytes()
            .map_err(|e| rejected(e.to_string()))?;
        let script = |error| LoadError::Script {
            name: name.clone(),
            error,
        };
        let engine = if self.engine.specialises() {
            let chunks: Vec<(String, Vec<u8>)> = source
                .files
                .iter()
                .map(|(path, text)| (path.clone(), text.clone()))
                .collect();
            self.engine
                .for_sources(&chunks)
                .map_err(|error| LoadError::Specialise {
                    name: name.clone(),
                    error,
                })?
        } else {
            self.engine.clone()
        };
        let mut sandbox = engine
            .sandbox(&self.sandbox_config(&limits, &name))
            .map_err(script)?;
        for (path, text) in &source.files {
            sandbox
                .define_module(&ModSource::module_name(path), path, text)
                .map_err(script)?;
        }
        let entry = source
            .files
            .get(&manifest.entry)
            .ok_or_else(|| LoadError::MissingFile {
                name: name.clone(),
                file: manifest.entry.clone(),
            })?;
        sandbox.run(&manifest.entry, entry).map_err(script)?;
        Ok(LoadedMod {
            name: name.as_str().into(),
            granted: Arc::new(granted),
            limits,
            config: config.into(),
            engine,
            sandbox,
            status: ModStatus::Active,
            stats: ModStats::default(),
            earlier: ModStats::default(),
            registry: Arc::clone(&self.registry),
            functions: Arc::clone(&self.functions),
            on_violation: self.policy.on_violation,
            max_task_ticks: self.policy.max_task_ticks,
            quota: self.policy.world_quota(&manifest.budget),
            disable_on_error: self.policy.disable_on_error,
            needs_on_load: true,
            handover: None,
            source,
        })
    }
}

/// What a snapshot keeps of one mod besides its sources, which must be
/// loaded already when it is restored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ModState {
    name: String,
    /// [`ModSource::digest`] of the sources it ran.
    sources: [u8; 32],
    /// Why it is disabled; `None` if it is active.
    disabled: Option<String>,
    stats: ModStats,
    earlier: ModStats,
    needs_on_load: bool,
    /// The state waiting for `on_reload`.
    handover: Option<serde_bytes::ByteBuf>,
    sandbox: SandboxSnapshot,
}

impl ModState {
    /// The mod's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Its sandbox's snapshot.
    pub(crate) fn sandbox(&self) -> &SandboxSnapshot {
        &self.sandbox
    }
}

impl ScriptManager {
    /// The engine the mods run on.
    pub(crate) fn engine(&self) -> &ScriptEngine {
        &self.engine
    }

    /// The seed mods' random sources derive from.
    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    /// The config of the sandbox of mod `name` with `limits`.
    fn sandbox_config(&self, limits: &Limits, name: &str) -> SandboxConfig {
        SandboxConfig {
            limits: limits.clone(),
            seed: mod_seed(self.seed, name),
            ..SandboxConfig::default()
        }
    }

    /// Every mod's state, in name order.
    pub(crate) fn capture(&mut self) -> Result<Vec<ModState>, SnapshotError> {
        self.mods
            .values_mut()
            .map(|loaded| {
                Ok(ModState {
                    name: loaded.name.to_string(),
                    sources: loaded.source.digest(),
                    disabled: match &loaded.status {
                        ModStatus::Active => None,
                        ModStatus::Disabled { reason } => Some(reason.clone()),
                    },
                    stats: loaded.stats,
                    earlier: loaded.earlier,
                    needs_on_load: loaded.needs_on_load,
                    handover: loaded.handover.clone().map(serde_bytes::ByteBuf::from),
                    sandbox: loaded.sandbox.snapshot()?,
                })
            })
            .collect()
    }

    /// Puts every mod in the state `states` gives it. The mods loaded must
    /// be exactly those of `states`, from the same sources; nothing changes
    /// unless every mod restores.
    pub(crate) fn restore(&mut self, states: &[ModState]) -> Result<(), SnapshotError> {
        let mismatch = |name: &str, message: &str| SnapshotError::Mod {
            name: name.to_owned(),
            message: message.to_owned(),
        };
        if let Some(extra) = self
            .mods
            .keys()
            .find(|name| !states.iter().any(|s| s.name == **name))
        {
            return Err(mismatch(extra, "is loaded here but not in the snapshot"));
        }
        // Everything is checked and unpacked before any mod changes.
        let mut prepared = Vec::with_capacity(states.len());
        for state in states {
            let loaded = self
                .mods
                .get(&state.name)
                .ok_or_else(|| mismatch(&state.name, "is in the snapshot but not loaded here"))?;
            if loaded.source.digest() != state.sources {
                return Err(mismatch(
                    &state.name,
                    "its sources differ from those the snapshot was taken with",
                ));
            }
            if state
                .handover
                .as_ref()
                .is_some_and(|state| state.len() as u64 > loaded.limits.memory)
            {
                return Err(mismatch(
                    &state.name,
                    "its state for on_reload is larger than its memory limit",
                ));
            }
            let config = self.sandbox_config(&loaded.limits, &state.name);
            let ready = loaded
                .engine
                .prepare_restore(&config, &state.sandbox)
                .map_err(|error| match error {
                    SnapshotError::OtherConfig { .. } => SnapshotError::OtherConfig {
                        what: format!("mod '{}'", state.name),
                    },
                    other => SnapshotError::Mod {
                        name: state.name.clone(),
                        message: other.to_string(),
                    },
                })?;
            prepared.push((config, ready));
        }
        for (state, (config, ready)) in states.iter().zip(prepared) {
            if let Some(loaded) = self.mods.get_mut(&state.name) {
                // In place when it can (a rollback: no new instance), else
                // in a new sandbox.
                if !loaded.sandbox.apply_in_place(&ready).unwrap_or(false) {
                    loaded.sandbox = loaded.engine.restore_prepared(&config, &ready)?;
                }
                loaded.status = match &state.disabled {
                    None => ModStatus::Active,
                    // From a file: cut like any disable reason.
                    Some(reason) => ModStatus::Disabled {
                        reason: crate::runtime::console::bounded(reason.clone()),
                    },
                };
                loaded.stats = state.stats;
                loaded.earlier = state.earlier;
                loaded.needs_on_load = state.needs_on_load;
                loaded.handover = state.handover.clone().map(serde_bytes::ByteBuf::into_vec);
            }
        }
        Ok(())
    }
}

/// Each mod's own seed: the run's seed mixed with its name (FNV-1a), so two
/// mods never share a random stream and the result never depends on load order.
fn mod_seed(seed: u64, name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
