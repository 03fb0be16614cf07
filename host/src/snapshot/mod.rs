//! Snapshots: a sandbox's whole state ([`crate::SandboxSnapshot`]) and a
//! whole simulation's, for save files, rollback and replays that start
//! mid-run. `docs/snapshots.md` gives the format.

pub(crate) mod error;

pub use error::SnapshotError;
