//! The one error type of the library.

use std::fmt;

/// Why a script could not run to completion.
///
/// Lua errors carry where they happened; limits say which limit; nothing here
/// is produced by a panic. Match on variants, not on message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScriptError {
    /// The source does not compile.
    #[error("{}", located(script, *line, message))]
    Syntax {
        /// The chunk the error points at: the script's name.
        script: String,
        /// The line Lua reported, if any.
        line: Option<u32>,
        /// Lua's message, without the `script:line:` prefix.
        message: String,
    },

    /// The script raised an error that it did not catch.
    #[error("{}", located(script, *line, message))]
    Runtime {
        /// The chunk the error points at (the script's name, or a chunk it
        /// loaded), or the script's name when Lua reported no position.
        script: String,
        /// The line Lua reported, if any.
        line: Option<u32>,
        /// Lua's message, without the `script:line:` prefix.
        message: String,
        /// Lua's `stack traceback:` lines (without that heading).
        traceback: String,
    },

    /// A world call was refused for a missing permission, and the script
    /// let the refusal propagate. Only under
    /// [`ViolationPolicy::Reject`](crate::ViolationPolicy::Reject): the
    /// default policy ends the call with [`ScriptError::SecurityViolation`].
    #[error("{}", located(script, *line, message))]
    PermissionDenied {
        /// The chunk the error points at.
        script: String,
        /// The line Lua reported, if any.
        line: Option<u32>,
        /// The message, e.g. `world:get: permission denied: no read
        /// permission for component 'Health'`.
        message: String,
        /// Lua's `stack traceback:` lines (without that heading).
        traceback: String,
    },

    /// A limit of [`Limits`](crate::Limits) stopped the script.
    #[error("{kind} limit exceeded: {message}")]
    ResourceLimitExceeded {
        /// Which limit.
        kind: LimitKind,
        /// What happened, e.g. Lua's message with its position.
        message: String,
    },

    /// The script or its input tried something the sandbox forbids.
    #[error("security violation: {message}")]
    SecurityViolation {
        /// What was refused.
        message: String,
    },

    /// The sandbox trapped earlier and was discarded; create a new one.
    #[error("the sandbox was discarded after an earlier trap{}", cause.map(|k| format!(" ({k} limit)")).unwrap_or_default())]
    SandboxPoisoned {
        /// The limit whose trap discarded it; `None` for an internal trap.
        cause: Option<LimitKind>,
    },

    /// A configuration value is out of range.
    #[error("invalid configuration: {message}")]
    InvalidConfig {
        /// Which value and why.
        message: String,
    },

    /// Something failed inside Moonbox or wasmtime, not in the script.
    #[error("internal error: {message}")]
    Host {
        /// The error chain, outermost first.
        message: String,
    },
}

impl ScriptError {
    /// The limit this error reports, if it is [`ScriptError::ResourceLimitExceeded`].
    pub fn limit_kind(&self) -> Option<LimitKind> {
        match self {
            Self::ResourceLimitExceeded { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    pub(crate) fn host(context: &str, error: &wasmtime::Error) -> Self {
        Self::Host {
            message: format!("{context}: {error:#}"),
        }
    }
}

/// The limits a script can run into. See [`Limits`](crate::Limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum LimitKind {
    /// The fuel (instruction budget) of one call ran out. Cannot be caught.
    Fuel,
    /// The Lua heap limit (catchable in Lua) or the hard wasm memory cap (a trap).
    Memory,
    /// The Lua call-depth limit. Catchable in Lua.
    Recursion,
    /// Lua's stack or C-stack checks (catchable), or wasm stack exhaustion (a trap).
    Stack,
    /// The wall-clock backstop. Cannot be caught.
    WallClock,
    /// A bound on what a mod may make the host hold or build: entities it
    /// spawned, the size of one component value, the size of a query page's
    /// request. Cannot be caught; the call is rolled back.
    World,
}

impl LimitKind {
    /// The stable name used in reports: `fuel`, `memory`, `recursion`,
    /// `stack`, `wall-clock`, `world`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fuel => "fuel",
            Self::Memory => "memory",
            Self::Recursion => "recursion",
            Self::Stack => "stack",
            Self::WallClock => "wall-clock",
            Self::World => "world",
        }
    }
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn located(script: &str, line: Option<u32>, message: &str) -> String {
    match line {
        Some(line) => format!("{script}:{line}: {message}"),
        None => format!("{script}: {message}"),
    }
}
