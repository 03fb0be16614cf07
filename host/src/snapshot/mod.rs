//! Snapshots: a sandbox's whole state ([`crate::SandboxSnapshot`]) and a
//! whole simulation's, for save files, rollback and replays that start
//! mid-run. `docs/snapshots.md` gives the format.

pub(crate) mod error;
mod simulation;
pub(crate) mod world;

pub use error::SnapshotError;
pub(crate) use simulation::Body;
pub use simulation::{MAX_SNAPSHOT_BYTES, SNAPSHOT_FORMAT_VERSION, Snapshot};
