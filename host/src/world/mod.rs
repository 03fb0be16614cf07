//! The world side: the engine's components by name ([`ComponentRegistry`]),
//! what a script may touch ([`Permissions`]), one handler call as a
//! [`Transaction`] (which also implements the WIT `ecs` host functions), and the
//! world's hash and JSON file form.

mod decode_error;
pub(crate) mod file;
mod finite;
pub(crate) mod hash;
pub(crate) mod holdings;
pub(crate) mod lua_types;
pub(crate) mod permissions;
pub(crate) mod registry;
pub(crate) mod shape;
pub(crate) mod transaction;

pub(crate) use decode_error::{describe_at, empty_lists_as_maps, from_msgpack};
pub(crate) use holdings::{HeldEntry, Holdings};
pub(crate) use transaction::{Transaction, TransactionInputs, WorldQuota};
