//! Why a mod could not be loaded.

use super::manifest::ManifestError;
use crate::ScriptError;

/// Why a mod could not be loaded (or reloaded). Each names the mod, or the
/// folder when the manifest could not even be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The folder or one of its files could not be read.
    #[error("{origin}: {message}")]
    Io {
        /// The folder or file.
        origin: String,
        /// What went wrong.
        message: String,
    },
    /// `mod.toml` is missing or malformed.
    #[error("{origin}/mod.toml: {error}")]
    Manifest {
        /// The mod's folder (or `built-in:NAME`).
        origin: String,
        /// What is wrong, with the line when TOML reported one.
        error: ManifestError,
    },
    /// The manifest names a file the mod does not have.
    #[error("mod '{name}': missing file '{file}'")]
    MissingFile {
        /// The mod.
        name: String,
        /// The file.
        file: String,
    },
    /// The manifest asks for something the host cannot give.
    #[error("mod '{name}': {message}")]
    Rejected {
        /// The mod.
        name: String,
        /// Why.
        message: String,
    },
    /// A mod of the same name is already loaded.
    #[error("mod '{name}' is already loaded")]
    Duplicate {
        /// The mod.
        name: String,
    },
    /// No mod of that name is loaded.
    #[error("no mod named '{name}'")]
    UnknownMod {
        /// The name asked for.
        name: String,
    },
    /// The sandbox could not be made, or the entry script failed (syntax
    /// error, runtime error, limit); the error names the file and line.
    #[error("mod '{name}': {error}")]
    Script {
        /// The mod.
        name: String,
        /// The script's error.
        error: ScriptError,
    },
    /// The engine specialises mods ([`crate::EngineConfig::weval`]) and
    /// could not specialise this one: weval is missing or failed, or the
    /// result did not compile. Never a fallback to the built-in guest, which
    /// would change the mod's fuel with the machine.
    #[error("mod '{name}': {error}")]
    Specialise {
        /// The mod.
        name: String,
        /// What failed.
        #[source]
        error: crate::SpecialiseError,
    },
}
