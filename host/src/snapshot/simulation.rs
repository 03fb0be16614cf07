//! [`Snapshot`]: everything that decides a simulation's future, as one
//! versioned, checksummed file.

use std::io::{ErrorKind, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::SnapshotError;
use super::world::WorldState;
use crate::mods::ModState;
use crate::runtime::sandbox::SandboxSnapshot;
use crate::system::SystemState;

/// The snapshot file format this build writes and reads.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;

/// Largest snapshot read, in bytes (file or buffer).
pub const MAX_SNAPSHOT_BYTES: u64 = 1 << 30;

/// The first bytes of every snapshot file.
const MAGIC: &[u8; 16] = b"moonbox snapshot";

/// Bytes before the body: magic, version, body length, body SHA-256.
const HEADER: usize = 16 + 4 + 8 + 32;

/// A whole simulation at the end of a tick: the world (every registered
/// component, entity handles and the handles future spawns get), every mod
/// (status, statistics, its sandbox with its Lua state), the system's
/// entity↔mod links, the console, the events waiting for the next tick, the
/// tick and the seed. Take one with [`crate::Moonbox::snapshot`], restore it
/// with [`crate::Moonbox::restore`]; [`Snapshot::to_bytes`] and
/// [`Snapshot::from_bytes`] make it a file (`docs/snapshots.md`).
///
/// The mods' sources are not in it: restoring needs the same mods loaded,
/// which it checks by digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    body: Body,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Body {
    pub(crate) guest: [u8; 32],
    pub(crate) seed: u64,
    pub(crate) world: WorldState,
    pub(crate) system: SystemState,
    pub(crate) mods: Vec<ModState>,
}

impl Snapshot {
    pub(crate) fn new(body: Body) -> Self {
        Self { body }
    }

    pub(crate) fn body(&self) -> &Body {
        &self.body
    }

    /// The tick it was taken after.
    pub fn tick(&self) -> u64 {
        self.body.system.tick()
    }

    /// Each mod's sandbox snapshot, by mod name.
    pub fn sandboxes(&self) -> impl Iterator<Item = (&str, &SandboxSnapshot)> {
        self.body.mods.iter().map(|m| (m.name(), m.sandbox()))
    }

    /// The snapshot as file bytes: a header (magic, format version, body
    /// length, the body's SHA-256) and the body in MessagePack.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain data into a Vec cannot fail.
        let body = rmp_serde::to_vec(&self.body).unwrap_or_default();
        let mut bytes = Vec::with_capacity(HEADER + body.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&Sha256::digest(&body));
        bytes.extend_from_slice(&body);
        bytes
    }

    /// Reads [`Snapshot::to_bytes`]'s output: untrusted input, checked
    /// (magic, version, length, checksum) before the body is decoded.
    ///
    /// ```
    /// assert!(matches!(
    ///     moonbox::Snapshot::from_bytes(b"not a snapshot"),
    ///     Err(moonbox::SnapshotError::NotASnapshot)
    /// ));
    /// ```
    ///
    /// # Errors
    /// [`SnapshotError::NotASnapshot`], [`SnapshotError::Version`],
    /// [`SnapshotError::TooLarge`], [`SnapshotError::Checksum`] or
    /// [`SnapshotError::Corrupt`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SnapshotError> {
        if bytes.len() as u64 > MAX_SNAPSHOT_BYTES {
            return Err(SnapshotError::TooLarge {
                max: MAX_SNAPSHOT_BYTES,
            });
        }
        let Some((header, body)) = bytes.split_at_checked(HEADER) else {
            return Err(SnapshotError::NotASnapshot);
        };
        let (magic, rest) = header.split_at(MAGIC.len());
        if magic != MAGIC {
            return Err(SnapshotError::NotASnapshot);
        }
        let (version, rest) = rest.split_at(4);
        let (length, checksum) = rest.split_at(8);
        let version = u32::from_le_bytes(version.try_into().unwrap_or_default());
        if version != SNAPSHOT_FORMAT_VERSION {
            return Err(SnapshotError::Version {
                found: version,
                supported: SNAPSHOT_FORMAT_VERSION,
            });
        }
        let length = u64::from_le_bytes(length.try_into().unwrap_or_default());
        if length != body.len() as u64 {
            return Err(SnapshotError::corrupt(format!(
                "the header says {length} bytes follow, {} do",
                body.len()
            )));
        }
        if Sha256::digest(body).as_slice() != checksum {
            return Err(SnapshotError::Checksum);
        }
        let body = rmp_serde::from_slice(body)
            .map_err(|e| SnapshotError::corrupt(format!("its body does not decode: {e}")))?;
        Ok(Self { body })
    }

    /// Writes the snapshot to `path`, atomically (a reader never sees half
    /// a file).
    ///
    /// # Errors
    /// [`SnapshotError::Io`].
    pub fn write(&self, path: &Path) -> Result<(), SnapshotError> {
        let io = |source| SnapshotError::Io {
            action: "writing",
            path: path.to_owned(),
            source,
        };
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let mut file = tempfile::NamedTempFile::new_in(folder).map_err(io)?;
        file.write_all(&self.to_bytes()).map_err(io)?;
        file.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Reads a snapshot file (at most [`MAX_SNAPSHOT_BYTES`]).
    ///
    /// # Errors
    /// [`SnapshotError::Io`], or as [`Snapshot::from_bytes`].
    pub fn read(path: &Path) -> Result<Self, SnapshotError> {
        let limit = usize::try_from(MAX_SNAPSHOT_BYTES).unwrap_or(usize::MAX);
        match crate::mods::read_bounded(path, limit) {
            Ok(bytes) => Self::from_bytes(&bytes),
            Err(e) if e.kind() == ErrorKind::FileTooLarge => Err(SnapshotError::TooLarge {
                max: MAX_SNAPSHOT_BYTES,
            }),
            Err(source) => Err(SnapshotError::Io {
                action: "reading",
                path: path.to_owned(),
                source,
            }),
        }
    }
}
