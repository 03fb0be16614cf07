//! [`ReplayFile`]: the versioned, checksummed text form of a recording.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Inputs, TickRecord};
use crate::world::file::WorldFileError;
use crate::world::registry::RegistryError;

/// The format version this Moonbox writes. It reads this one and version
/// 1, which is version 2 without the inputs' `start` (a start snapshot).
pub const FORMAT_VERSION: u32 = 2;

const FORMAT_NAME: &str = "moonbox-replay";

/// A recording: the inputs (editable), a sealed copy of them, and the
/// result of every tick.
///
/// The file is JSON Lines: a header, the inputs, the sealed inputs, one line
/// per tick (0 = the starting state) and a SHA-256 checksum over every line
/// but the editable inputs. Editing the inputs is how to ask "what changes
/// if"; the checksum still guards what was recorded. See `docs/replay.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayFile {
    /// The inputs a replay runs.
    pub inputs: Inputs,
    /// The inputs as recorded (covered by the checksum).
    pub recorded_inputs: Inputs,
    /// Tick 0 and each tick run.
    pub ticks: Vec<TickRecord>,
}

/// Largest replay file read, in bytes.
pub const MAX_REPLAY_FILE_BYTES: usize = 64 * 1024 * 1024;

/// Why a replay file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The text is not a Moonbox replay file.
    #[error("not a moonbox replay file: {reason}")]
    NotReplay {
        /// What is missing.
        reason: String,
    },
    /// Written by a newer Moonbox.
    #[error(
        "replay format version {found} is newer than this moonbox reads ({FORMAT_VERSION}); use a newer moonbox"
    )]
    NewerVersion {
        /// The file's version.
        found: u32,
    },
    /// The checksum does not match, or the file is cut short.
    #[error("corrupted replay file: {reason}")]
    Corrupted {
        /// What does not match.
        reason: String,
    },
    /// A line that does not parse.
    #[error("replay file line {line}: {message}")]
    Malformed {
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The recorded world does not fit the registry.
    #[error("replay inputs: world: {error}")]
    World {
        /// Which entity and component, and why.
        error: WorldFileError,
    },
    /// A component could not be converted while hashing or comparing worlds.
    #[error("replay: {doing}: {error}")]
    Component {
        /// What was being done, e.g. `hashing the world`.
        doing: &'static str,
        /// Which component and why.
        error: RegistryError,
    },
    /// The snapshot the recording starts from cannot be read, does not
    /// match its recorded SHA-256, or does not fit the inputs' mods.
    #[error("replay start snapshot: {message}")]
    Start {
        /// What is wrong.
        message: String,
    },
    /// The inputs cannot be run (unsupported policy or time step).
    #[error("replay inputs: {message}")]
    Inputs {
        /// What is wrong.
        message: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputsLine {
    inputs: Inputs,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedLine {
    recorded_inputs: Inputs,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChecksumLine {
    sha256: String,
}

impl ReplayFile {
    /// A recording whose editable and sealed inputs are both `inputs`.
    pub fn new(inputs: Inputs) -> Self {
        Self {
            recorded_inputs: inputs.clone(),
            inputs,
            ticks: Vec::new(),
        }
    }

    /// Whether the editable inputs differ from the recorded ones.
    pub fn inputs_edited(&self) -> bool {
        self.inputs != self.recorded_inputs
    }

    /// The file's text. The same recording always gives the same bytes.
    pub fn to_text(&self) -> String {
        let mut sealed = String::new();
        let header = Header {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
        };
        push_line(&mut sealed, &header);
        let mut text = sealed.clone();
        push_line(
            &mut text,
            &InputsLine {
                inputs: self.inputs.clone(),
            },
        );
        let mut rest = String::new();
        push_line(
            &mut rest,
            &SealedLine {
                recorded_inputs: self.recorded_inputs.clone(),
            },
        );
        for tick in &self.ticks {
            push_line(&mut rest, tick);
        }
        sealed.push_str(&rest);
        text.push_str(&rest);
        push_line(
            &mut text,
            &ChecksumLine {
                sha256: sha256_hex(sealed.as_bytes()),
            },
        );
        text
    }

    /// Reads a file's text, checking its format, version and checksum.
    ///
    /// # Errors
    /// [`ReplayError`] saying what is wrong.
    pub fn from_text(text: &str) -> Result<Self, ReplayError> {
        if text.len() > MAX_REPLAY_FILE_BYTES {
            return Err(ReplayError::NotReplay {
                reason: format!("the file is larger than {MAX_REPLAY_FILE_BYTES} bytes"),
            });
        }
        let lines: Vec<&str> = text.lines().collect();
        let Some(first) = lines.first() else {
            return Err(ReplayError::NotReplay {
                reason: "the file is empty".into(),
            });
        };
        let header: Header = serde_json::from_str(first).map_err(|_| ReplayError::NotReplay {
            reason: "the first line is not a moonbox-replay header".into(),
        })?;
        if header.format != FORMAT_NAME {
            return Err(ReplayError::NotReplay {
                reason: format!("format is '{}'", header.format),
            });
        }
        if header.version > FORMAT_VERSION {
            return Err(ReplayError::NewerVersion {
                found: header.version,
            });
        }
        if header.version == 0 {
            return Err(ReplayError::NotReplay {
                reason: format!("unknown format version {}", header.version),
            });
        }
        if lines.len() < 5 {
            return Err(ReplayError::Corrupted {
                reason: "the file is cut short".into(),
            });
        }
        let last = lines.len() - 1;
        let checksum: ChecksumLine =
            parse(lines[last], last).map_err(|_| ReplayError::Corrupted {
                reason: "the checksum line is missing (the file is cut short?)".into(),
            })?;
        let mut sealed = String::new();
        for (index, line) in lines[..last].iter().enumerate() {
            if index != 1 {
                sealed.push_str(line);
                sealed.push('\n');
            }
        }
        let actual = sha256_hex(sealed.as_bytes());
        if actual != checksum.sha256 {
            return Err(ReplayError::Corrupted {
                reason: format!(
                    "checksum mismatch (recorded {}, computed {actual})",
                    checksum.sha256
                ),
            });
        }
        let inputs: InputsLine = parse(lines[1], 1)?;
        let sealed_inputs: SealedLine = parse(lines[2], 2)?;
        let ticks = lines[3..last]
            .iter()
            .enumerate()
            .map(|(i, line)| parse::<TickRecord>(line, i + 3))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            inputs: inputs.inputs,
            recorded_inputs: sealed_inputs.recorded_inputs,
            ticks,
        })
    }
}

fn push_line<T: Serialize>(out: &mut String, value: &T) {
    // Serializing these plain structs and JSON values cannot fail.
    if let Ok(line) = serde_json::to_string(value) {
        out.push_str(&line);
    }
    out.push('\n');
}

fn parse<T: serde::de::DeserializeOwned>(line: &str, index: usize) -> Result<T, ReplayError> {
    serde_json::from_str(line).map_err(|e| ReplayError::Malformed {
        line: index + 1,
        message: e.to_string(),
    })
}

/// Lower-case hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    crate::world::hash::hex(&Sha256::digest(bytes))
}
