//! What a recording holds: the inputs of a run and its result per tick.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::StartSnapshot;
use crate::mods::{LoadError, ModSource};

/// Everything that decides a simulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The Moonbox version that recorded it.
    pub moonbox_version: String,
    /// SHA-256 of the guest component that ran it.
    pub guest_sha256: String,
    /// The seed of every random source the mods can reach.
    pub seed: u64,
    /// Ticks to run.
    pub ticks: u64,
    /// Seconds per tick.
    pub dt: f64,
    /// The policy: only `allow-all` (mods get what their manifests ask for).
    pub policy: String,
    /// The starting world, as world-file JSON.
    pub world: WorldJson,
    /// The mods, in load order, with their full sources.
    pub mods: Vec<RecordedMod>,
    /// Events injected into the run, in order.
    pub events: Vec<RecordedEvent>,
    /// The snapshot the run continues from, if it does not start at tick
    /// 0: the mods (which must be those of `mods`), their state and the
    /// world come from it, and `ticks` more ticks run after its tick.
    /// `world` then is the world the snapshotted run began with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<StartSnapshot>,
    /// The components file the run declared its components with
    /// ([`crate::ComponentRegistry::declared`]); none for the engine's
    /// registry (for `moonbox`, the demo's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<String>,
    /// The mods ran on guests specialised for them
    /// ([`crate::EngineConfig::weval`]), which changes their fuel: the run
    /// replays only on an engine that specialises too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub specialised: bool,
}

/// A world as world-file JSON text, kept unparsed: a large world is never
/// held as a JSON tree, which takes many times its text's size. It is
/// parsed entity by entity when a simulation starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorldJson(Box<serde_json::value::RawValue>);

impl WorldJson {
    /// Wraps world-file JSON text.
    ///
    /// # Errors
    /// Text that is not JSON.
    pub fn from_text(text: String) -> Result<Self, serde_json::Error> {
        serde_json::value::RawValue::from_string(text).map(Self)
    }

    /// The JSON text.
    pub fn as_text(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for WorldJson {
    fn eq(&self, other: &Self) -> bool {
        self.as_text() == other.as_text()
    }
}

/// One mod's manifest and files, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedMod {
    /// `mod.toml`.
    pub manifest: String,
    /// The Lua files by relative path.
    pub files: BTreeMap<String, String>,
}

/// An event dispatched to every mod's `on_event(name, data)` at the start of
/// a tick, before `on_tick`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedEvent {
    /// The tick (1 is the first).
    pub tick: u64,
    /// The event's name.
    pub name: String,
    /// Its data.
    pub data: serde_json::Value,
}

/// The result of one tick (tick 0 is the starting state, after loading).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TickRecord {
    /// The tick.
    pub tick: u64,
    /// [`crate::world_hash`] at the end of the tick.
    pub world_hash: String,
    /// Fuel each mod that ran used in this tick.
    pub fuel: BTreeMap<String, u64>,
    /// Mods disabled in this tick (at tick 0: not loaded), with the reason.
    pub disabled: BTreeMap<String, String>,
    /// Commands the mods' committed calls emitted in this tick.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub commands: u64,
    /// SHA-256 (hex) of those commands in order (each mod's name, the
    /// command's name and its MessagePack data); empty when there are none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub commands_hash: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl RecordedMod {
    /// The recorded form of `source`.
    ///
    /// # Errors
    /// A file that is not UTF-8 text (it could not be recorded faithfully).
    pub fn from_source(source: &ModSource) -> Result<Self, LoadError> {
        let mut files = BTreeMap::new();
        for (path, bytes) in &source.files {
            let text = String::from_utf8(bytes.clone()).map_err(|_| LoadError::Rejected {
                name: source.manifest.name.clone(),
                message: format!("{path} is not UTF-8 text, so it cannot be recorded"),
            })?;
            files.insert(path.clone(), text);
        }
        Ok(Self {
            manifest: source.manifest_text.clone(),
            files,
        })
    }

    /// The mod as a [`ModSource`].
    ///
    /// # Errors
    /// As [`ModSource::from_parts`].
    pub fn to_source(&self) -> Result<ModSource, LoadError> {
        ModSource::from_parts(
            "replay",
            &self.manifest,
            self.files
                .iter()
                .map(|(path, text)| (path.clone(), text.as_bytes().to_vec())),
        )
    }
}
