//! The user's policy: the most any mod may be granted.

use crate::mods::manifest::Budget;
use crate::runtime::limits::{DEFAULT_MEMORY, Limits};
use crate::world::WorldQuota;
use crate::world::permissions::{ANY_NAME, ComponentAccess, EntityScope, Permissions};
use crate::world::registry::ComponentRegistry;
use crate::world::transaction::ViolationPolicy;

/// Fuel per handler call when a manifest names none.
pub const DEFAULT_FUEL_PER_CALL: u64 = 100_000_000;

/// Entities a mod's spawns may keep alive at once when its manifest names
/// no `[budget] entities`.
pub const DEFAULT_MAX_ENTITIES: u64 = 10_000;

/// Bytes of component data a mod's spawns and writes may add to the world
/// when its manifest names no `[budget] world_bytes`: 16 MiB.
pub const DEFAULT_MAX_WORLD_BYTES: u64 = 16 * 1024 * 1024;

/// Ticks a task may run in by default: a minute at 60 ticks a second.
pub const DEFAULT_MAX_TASK_TICKS: u32 = 3_600;

/// What the host allows mods, whatever their manifests ask. Mods are
/// untrusted: each gets the intersection of its request and
/// [`Policy::allowed`], and budgets no larger than the caps here.
///
/// ```
/// use moonbox::{ComponentAccess, Permissions, Policy};
/// let policy = Policy {
///     allowed: Permissions::none().with_component("Position", ComponentAccess::READ),
///     ..Policy::default()
/// };
/// assert!(!policy.allowed.component("Position").write);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The most any mod is granted. Default: nothing.
    pub allowed: Permissions,
    /// Fuel per handler call for mods that ask for none. Default:
    /// [`DEFAULT_FUEL_PER_CALL`].
    pub default_fuel_per_call: u64,
    /// The most fuel per handler call a mod may ask for. Default: ten
    /// times [`DEFAULT_FUEL_PER_CALL`].
    pub max_fuel_per_call: u64,
    /// Lua heap bytes for mods that ask for none.
    pub default_memory: u64,
    /// The most Lua heap a mod may ask for.
    pub max_memory: u64,
    /// Entities alive that a mod spawned, for mods that ask for no number.
    /// Default: [`DEFAULT_MAX_ENTITIES`].
    pub default_max_entities: u64,
    /// The most entities a mod may ask to keep alive. Default:
    /// [`DEFAULT_MAX_ENTITIES`].
    pub max_entities: u64,
    /// Bytes of component data a mod's spawns and writes may add to the
    /// world, for mods that ask for no number. A value counts its type's
    /// size if that owns no heap memory, else its MessagePack size; each
    /// entity the mod holds adds [`crate::HELD_ENTITY_BYTES`].
    /// Default: [`DEFAULT_MAX_WORLD_BYTES`].
    pub default_world_bytes: u64,
    /// The most such bytes a mod may ask for. Default:
    /// [`DEFAULT_MAX_WORLD_BYTES`]: all mods together hold at most their
    /// count times this.
    pub max_world_bytes: u64,
    /// Ticks a task (`task.spawn`) may run in before it must be done; past
    /// it the mod's task call fails (an endless task is bounded by this).
    /// Default: [`DEFAULT_MAX_TASK_TICKS`].
    pub max_task_ticks: u32,
    /// What a permission denial does. Default: disable the mod.
    pub on_violation: ViolationPolicy,
    /// Whether a Lua error in a handler disables the mod (default) or only
    /// rolls back that call.
    pub disable_on_error: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            allowed: Permissions::none(),
            default_fuel_per_call: DEFAULT_FUEL_PER_CALL,
            max_fuel_per_call: 10 * DEFAULT_FUEL_PER_CALL,
            default_memory: DEFAULT_MEMORY,
            max_memory: 4 * DEFAULT_MEMORY,
            default_max_entities: DEFAULT_MAX_ENTITIES,
            max_entities: DEFAULT_MAX_ENTITIES,
            default_world_bytes: DEFAULT_MAX_WORLD_BYTES,
            max_world_bytes: DEFAULT_MAX_WORLD_BYTES,
            max_task_ticks: DEFAULT_MAX_TASK_TICKS,
            on_violation: ViolationPolicy::Disable,
            disable_on_error: true,
        }
    }
}

impl Policy {
    /// A policy that allows everything on every component of `registry`,
    /// every engine function and every command: mods get exactly what
    /// they ask for. For trusted mods and demos.
    pub fn allow_all(registry: &ComponentRegistry) -> Self {
        let mut allowed = Permissions::none();
        for name in registry.names() {
            allowed
                .components
                .insert(name.to_owned(), ComponentAccess::READ_WRITE);
        }
        allowed.spawn = true;
        allowed.despawn = true;
        allowed.scope = EntityScope::All;
        allowed.calls.insert(ANY_NAME.to_owned());
        allowed.emits.insert(ANY_NAME.to_owned());
        allowed.receives.insert(ANY_NAME.to_owned());
        Self {
            allowed,
            ..Self::default()
        }
    }

    /// The world quota of a mod whose manifest asks for `budget`.
    pub(crate) fn world_quota(&self, budget: &Budget) -> WorldQuota {
        WorldQuota {
            entities: budget
                .entities
                .unwrap_or(self.default_max_entities)
                .min(self.max_entities),
            bytes: budget
                .world_bytes
                .unwrap_or(self.default_world_bytes)
                .min(self.max_world_bytes),
        }
    }

    /// The limits of a mod that asks for `fuel` and `memory`.
    pub(crate) fn limits(&self, fuel: Option<u64>, memory: Option<u64>) -> Limits {
        Limits {
            fuel: fuel
                .unwrap_or(self.default_fuel_per_call)
                .min(self.max_fuel_per_call),
            memory: memory.unwrap_or(self.default_memory).min(self.max_memory),
            ..Limits::default()
        }
    }
}
