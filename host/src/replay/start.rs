//! [`StartSnapshot`]: a recording that starts from a snapshot instead of
//! tick 0, with the snapshot embedded in the replay file or beside it.

use std::path::{Component, Path};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::ReplayError;
use super::file::sha256_hex;
use crate::snapshot::{MAX_SNAPSHOT_BYTES, Snapshot};

/// The snapshot a recording starts from (see `docs/replay.md`): the run
/// continues from it, and its first recorded tick is the snapshot's.
/// Either way the snapshot file's SHA-256 is recorded and checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StartSnapshot {
    /// The snapshot file's bytes, in the replay file (base64).
    Embedded {
        /// SHA-256 (hex) of the snapshot file.
        sha256: String,
        /// The snapshot file, base64 (standard alphabet, padded).
        base64: String,
    },
    /// A snapshot file in the replay file's folder.
    File {
        /// SHA-256 (hex) of the snapshot file.
        sha256: String,
        /// Its file name: a plain name, no folders.
        name: String,
    },
}

impl StartSnapshot {
    /// `snapshot` (a snapshot file's bytes, [`Snapshot::to_bytes`]) embedded.
    pub fn embed(snapshot: &[u8]) -> Self {
        Self::Embedded {
            sha256: sha256_hex(snapshot),
            base64: BASE64.encode(snapshot),
        }
    }

    /// A reference to the snapshot file `name`, next to the replay file,
    /// whose bytes are `snapshot`.
    ///
    /// # Errors
    /// [`ReplayError::Inputs`] if `name` is not a plain file name.
    pub fn reference(name: &str, snapshot: &[u8]) -> Result<Self, ReplayError> {
        check_name(name)?;
        Ok(Self::File {
            sha256: sha256_hex(snapshot),
            name: name.to_owned(),
        })
    }

    /// The snapshot: decoded, or read from `folder` (the replay file's), and
    /// checked against the recorded SHA-256. Untrusted input: a referenced
    /// name must be a plain file name, and the file is read only up to
    /// [`MAX_SNAPSHOT_BYTES`].
    ///
    /// # Errors
    /// [`ReplayError::Start`] saying what is wrong.
    pub fn load(&self, folder: Option<&Path>) -> Result<Snapshot, ReplayError> {
        let start = |message: String| ReplayError::Start { message };
        let (sha256, bytes) = match self {
            Self::Embedded { sha256, base64 } => {
                let bytes = BASE64
                    .decode(base64)
                    .map_err(|e| start(format!("the embedded snapshot is not base64: {e}")))?;
                (sha256, bytes)
            }
            Self::File { sha256, name } => {
                check_name(name).map_err(|e| start(e.to_string()))?;
                let folder = folder.ok_or_else(|| {
                    start(format!(
                        "the snapshot '{name}' is referenced, and there is no folder to look in"
                    ))
                })?;
                let path = folder.join(name);
                let limit = usize::try_from(MAX_SNAPSHOT_BYTES).unwrap_or(usize::MAX);
                let bytes = crate::mods::read_bounded(&path, limit)
                    .map_err(|e| start(format!("{}: {e}", path.display())))?;
                (sha256, bytes)
            }
        };
        let found = sha256_hex(&bytes);
        if &found != sha256 {
            return Err(start(format!(
                "the snapshot's SHA-256 is {found}, the recording names {sha256}"
            )));
        }
        Snapshot::from_bytes(&bytes).map_err(|e| start(e.to_string()))
    }
}

/// A referenced snapshot's name must stay in the replay file's folder.
fn check_name(name: &str) -> Result<(), ReplayError> {
    let mut parts = Path::new(name).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(_)), None) if !name.contains(['/', '\\']) => Ok(()),
        _ => Err(ReplayError::Inputs {
            message: format!(
                "start snapshot '{}': the name must be a plain file name in the replay file's folder",
                crate::runtime::console::terminal_safe(name)
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn only_plain_names_are_referenced() {
        for good in ["start.mbs", "a b", "x..y"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "../x", "/etc/passwd", "a/b", "a\\b", "./x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
