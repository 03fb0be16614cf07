//! [`SnapshotError`]: why a snapshot could not be taken, read or restored.

use std::path::PathBuf;

use crate::runtime::error::ScriptError;

/// Why a snapshot could not be taken, read or restored. A snapshot is
/// untrusted input: every check happens before anything is allocated for it
/// or restored from it, and a failed restore changes nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The bytes do not start like a Moonbox snapshot.
    #[error("not a Moonbox snapshot")]
    NotASnapshot,
    /// Written by a newer (or unknown) version of the format.
    #[error("snapshot format version {found}; this Moonbox reads version {supported}")]
    Version {
        /// The file's version.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The checksum does not match the contents.
    #[error("the snapshot's checksum does not match its contents: it is damaged")]
    Checksum,
    /// More bytes than a snapshot may have.
    #[error("a snapshot may hold at most {max} bytes")]
    TooLarge {
        /// The limit, in bytes.
        max: u64,
    },
    /// The contents are inconsistent (the checksum matched, so it was made
    /// so, or by another program).
    #[error("the snapshot is damaged: {what}")]
    Corrupt {
        /// What is wrong, and where.
        what: String,
    },
    /// Taken with another guest component than this engine runs.
    #[error("the snapshot belongs to guest {found}; this engine runs guest {expected}")]
    OtherGuest {
        /// This engine's guest (SHA-256 prefix).
        expected: String,
        /// The snapshot's guest (SHA-256 prefix).
        found: String,
    },
    /// Taken with other sandbox settings (limits, seed, console size) than
    /// it is being restored with.
    #[error("{what} was saved with other limits, seed or console size than it has here")]
    OtherConfig {
        /// The sandbox or mod.
        what: String,
    },
    /// The engine profiles ([`crate::EngineConfig::profile`]): its
    /// sandboxes carry the profiler's state, so they are neither
    /// snapshotted nor restored.
    #[error("a profiling engine neither takes nor restores snapshots")]
    Profiling,
    /// A mod of the snapshot does not match the mods loaded here.
    #[error("mod '{name}': {message}")]
    Mod {
        /// The mod.
        name: String,
        /// What differs.
        message: String,
    },
    /// The snapshot's world does not fit this registry.
    #[error("the snapshot's world: {message}")]
    World {
        /// What does not fit.
        message: String,
    },
    /// The sandbox could not be saved or restored.
    #[error("{action}: {source}")]
    Script {
        /// What was being done.
        action: String,
        /// Why it failed.
        #[source]
        source: ScriptError,
    },
    /// A snapshot file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// Reading or writing.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
}

/// The first 8 bytes of a digest, in hex, to name a guest in errors.
pub(crate) fn short_hex(digest: &[u8; 32]) -> String {
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl SnapshotError {
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt { what: what.into() }
    }
}
