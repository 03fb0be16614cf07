//! The world side: the engine's components by name ([`ComponentRegistry`]),
//! what a script may touch ([`Permissions`]), one handler call as a
//! [`Transaction`], the WIT `ecs` host functions that reach it, and the
//! world's hash and JSON file form.

mod ecs;
pub(crate) mod file;
pub(crate) mod hash;
pub(crate) mod permissions;
pub(crate) mod registry;
pub(crate) mod transaction;

pub(crate) use transaction::{Transaction, TransactionInputs};
