//! Mods: folders with a `mod.toml` manifest and Lua files, the policy that
//! decides what each one is granted, and the [`ScriptManager`] that is the
//! only store of loaded mods.

mod error;
mod manager;
mod manifest;
mod policy;
mod source;

pub use error::LoadError;
pub(crate) use manager::ModState;
pub use manager::{LoadedMod, ModStats, ModStatus, ScriptManager};
pub use manifest::{Budget, Manifest, ManifestError, RequestedPermissions};
pub use policy::{
    DEFAULT_FUEL_PER_CALL, DEFAULT_MAX_ENTITIES, DEFAULT_MAX_TASK_TICKS, DEFAULT_MAX_WORLD_BYTES,
    Policy,
};
pub use source::{MAX_FILES, MAX_MANIFEST_BYTES, MAX_SOURCE_BYTES, ModSource, read_bounded};
