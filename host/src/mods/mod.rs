//! Mods: folders with a `mod.toml` manifest and Lua files, and the policy
//! that decides what each one is granted.

mod error;
mod manifest;
mod policy;
mod source;

pub use error::LoadError;
pub use manifest::{Budget, Manifest, RequestedPermissions};
pub use policy::Policy;
pub use source::{MAX_FILES, MAX_SOURCE_BYTES, ModSource};
