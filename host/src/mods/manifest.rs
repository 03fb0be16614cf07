//! `mod.toml`: what a mod is and what it asks for.

use serde::Deserialize;

use crate::world::permissions::{ComponentAccess, EntityScope, Permissions};

/// A mod's manifest, `mod.toml`:
///
/// ```toml
/// name = "movement"          # letters, digits, '-' and '_'; unique
/// version = "1.0.0"
/// entry = "main.lua"         # default: main.lua
/// description = "Moves things by their velocity"
///
/// [permissions]              # what it asks for; the policy may grant less
/// read = ["Position", "Velocity"]
/// write = ["Position"]
/// spawn = false
/// despawn = false
/// scope = "all"              # "all", "spawned" (default) or "tag:Component"
/// call = ["raycast"]         # engine functions it calls
/// emit = ["play_sound"]      # commands it emits to the engine
/// receive = ["door_opened"]  # other mods' commands it receives as events
///
/// [budget]
/// fuel_per_call = 20_000_000 # per handler call (was `fuel_per_tick`)
/// memory = 4_194_304         # bytes of Lua heap
/// entities = 1_000           # entities its spawns may keep alive
/// world_bytes = 1_048_576    # bytes of component data it may add to the world
///
/// [config]                   # anything; the mod reads it with world:config()
/// speed = 2.5
/// ```
///
/// Unknown keys are errors, so a typo never silently drops a setting.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The mod's name.
    pub name: String,
    /// Its version, free-form.
    pub version: String,
    /// The script run at load, relative to the mod's folder.
    #[serde(default = "default_entry")]
    pub entry: String,
    /// One line about it.
    #[serde(default)]
    pub description: String,
    /// What it asks to be granted.
    #[serde(default)]
    pub permissions: RequestedPermissions,
    /// The resources it asks for.
    #[serde(default)]
    pub budget: Budget,
    /// Its own settings, handed to it as a table.
    #[serde(default)]
    pub config: Option<toml::Table>,
}

/// The `[permissions]` table of a manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestedPermissions {
    /// Components it wants to read.
    #[serde(default)]
    pub read: Vec<String>,
    /// Components it wants to write.
    #[serde(default)]
    pub write: Vec<String>,
    /// Whether it wants to spawn entities.
    #[serde(default)]
    pub spawn: bool,
    /// Whether it wants to despawn entities.
    #[serde(default)]
    pub despawn: bool,
    /// `all`, `spawned` or `tag:Component`.
    #[serde(default)]
    pub scope: Option<String>,
    /// Engine functions it wants to call.
    #[serde(default)]
    pub call: Vec<String>,
    /// Commands it wants to emit to the engine.
    #[serde(default)]
    pub emit: Vec<String>,
    /// Other mods' commands it wants to receive as events.
    #[serde(default)]
    pub receive: Vec<String>,
}

/// The `[budget]` table of a manifest; what is left out gets the policy's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Fuel per handler call: each call (`on_load`, `on_tick`, `on_event`)
    /// gets this budget afresh.
    pub fuel_per_call: Option<u64>,
    /// The old name of `fuel_per_call`, still read; deprecated because a
    /// tick may make several calls. Setting both is an error.
    pub fuel_per_tick: Option<u64>,
    /// Bytes of Lua heap.
    pub memory: Option<u64>,
    /// Entities its spawns may keep alive at once.
    pub entities: Option<u64>,
    /// Bytes of component data its spawns and writes may add to the world
    /// (see [`crate::Policy::default_world_bytes`] for what counts).
    pub world_bytes: Option<u64>,
}

fn default_entry() -> String {
    "main.lua".into()
}

impl Budget {
    /// The fuel per handler call asked for, under either key.
    pub fn fuel(&self) -> Option<u64> {
        self.fuel_per_call.or(self.fuel_per_tick)
    }
}

/// Why `mod.toml` is not a valid manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// `mod.toml` could not be read.
    #[error("cannot read: {message}")]
    Unreadable {
        /// The I/O error.
        message: String,
    },
    /// Not TOML, or keys and types that do not fit; TOML's message gives
    /// the line and a short excerpt.
    #[error("{message}")]
    Toml {
        /// TOML's message.
        message: String,
    },
    /// A field whose value is not allowed.
    #[error("{message}")]
    Invalid {
        /// The field, e.g. `name` or `permissions.scope`.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

impl ManifestError {
    fn invalid(field: &'static str, message: String) -> Self {
        Self::Invalid { field, message }
    }
}

/// The name of the host's own console notes (`[moonbox] ...`): no mod may
/// take it, so no mod can forge a note.
const RESERVED_NAME: &str = "moonbox";

/// Longest mod name.
const MAX_NAME_LEN: usize = 64;

impl Manifest {
    /// Parses and checks `mod.toml` text.
    ///
    /// # Errors
    /// [`ManifestError`] saying what is wrong (TOML errors include the line).
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let manifest: Self = toml::from_str(text).map_err(|e| ManifestError::Toml {
            message: excerpt(e.to_string().trim()),
        })?;
        manifest.check()?;
        Ok(manifest)
    }

    /// Notes on deprecated keys the manifest uses, one line each.
    pub fn deprecations(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.budget.fuel_per_tick.is_some() {
            notes.push(
                "[budget] fuel_per_tick is deprecated: it is a per-call budget, now named fuel_per_call"
                    .to_owned(),
            );
        }
        notes
    }

    fn check(&self) -> Result<(), ManifestError> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= MAX_NAME_LEN
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(ManifestError::invalid(
                "name",
                format!(
                    "name '{}' must be 1 to {MAX_NAME_LEN} letters, digits, '-' or '_'",
                    self.name
                ),
            ));
        }
        if self.name.eq_ignore_ascii_case(RESERVED_NAME) {
            return Err(ManifestError::invalid(
                "name",
                format!("name '{}' is reserved for the host's own notes", self.name),
            ));
        }
        if self.version.trim().is_empty() {
            return Err(ManifestError::invalid(
                "version",
                "version must not be empty".into(),
            ));
        }
        if !is_relative_lua_path(&self.entry) {
            return Err(ManifestError::invalid(
                "entry",
                format!(
                    "entry '{}' must be a .lua file inside the mod's folder",
                    self.entry
                ),
            ));
        }
        if self.budget.fuel_per_call.is_some() && self.budget.fuel_per_tick.is_some() {
            return Err(ManifestError::invalid(
                "budget.fuel_per_call",
                "[budget] sets both fuel_per_call and its old name fuel_per_tick; keep fuel_per_call"
                    .into(),
            ));
        }
        self.permissions.to_permissions()?;
        Ok(())
    }

    /// The config table as one MessagePack value (nil when absent).
    pub(crate) fn config_bytes(&self) -> Result<Vec<u8>, ManifestError> {
        match &self.config {
            None => Ok(vec![0xc0]),
            Some(table) => rmp_serde::to_vec_named(table)
                .map_err(|e| ManifestError::invalid("config", format!("[config]: {e}"))),
        }
    }
}

impl RequestedPermissions {
    /// The request as [`Permissions`].
    ///
    /// # Errors
    /// A bad `scope`.
    pub fn to_permissions(&self) -> Result<Permissions, ManifestError> {
        let mut permissions = Permissions::none();
        for name in &self.read {
            permissions.components.entry(name.clone()).or_default().read = true;
        }
        for name in &self.write {
            permissions
                .components
                .entry(name.clone())
                .or_default()
                .write = true;
        }
        permissions
            .components
            .retain(|_, a| *a != ComponentAccess::default());
        permissions.spawn = self.spawn;
        permissions.despawn = self.despawn;
        permissions.scope = match self.scope.as_deref() {
            None | Some("spawned") => EntityScope::Spawned,
            Some("all") => EntityScope::All,
            Some(other) => match other.strip_prefix("tag:") {
                Some(tag) if !tag.is_empty() => EntityScope::Tagged(tag.to_owned()),
                _ => {
                    return Err(ManifestError::invalid(
                        "permissions.scope",
                        format!(
                            "permissions.scope '{other}' must be \"all\", \"spawned\" or \"tag:Component\""
                        ),
                    ));
                }
            },
        };
        for (field, names, granted) in [
            ("permissions.call", &self.call, &mut permissions.calls),
            ("permissions.emit", &self.emit, &mut permissions.emits),
            (
                "permissions.receive",
                &self.receive,
                &mut permissions.receives,
            ),
        ] {
            for name in names {
                if !crate::engine_api::is_engine_name(name) {
                    return Err(ManifestError::invalid(
                        field,
                        format!(
                            "{field} entry '{}' must be a Lua name of at most {} bytes",
                            crate::engine_api::printable(name),
                            crate::engine_api::MAX_NAME_LEN
                        ),
                    ));
                }
                granted.insert(name.clone());
            }
        }
        Ok(permissions)
    }
}

/// A relative path to a `.lua` file that stays inside its folder.
pub(crate) fn is_relative_lua_path(path: &str) -> bool {
    path.ends_with(".lua")
        && !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// Longest line of a TOML error quoted back (TOML quotes the offending line).
const MAX_QUOTED_LINE: usize = 160;
/// Most lines of a TOML error quoted back.
const MAX_QUOTED_LINES: usize = 12;

/// A TOML error with each quoted line cut short: a manifest is untrusted,
/// and its lines may be megabytes long.
fn excerpt(message: &str) -> String {
    let mut out = String::new();
    for line in message.lines().take(MAX_QUOTED_LINES) {
        if !out.is_empty() {
            out.push('\n');
        }
        match line.char_indices().nth(MAX_QUOTED_LINE) {
            Some((cut, _)) => {
                out.push_str(&line[..cut]);
                out.push_str("...");
            }
            None => out.push_str(line),
        }
    }
    out
}
