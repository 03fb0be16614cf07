//! What one sandbox may consume.

use std::time::Duration;

use crate::ScriptError;

/// Default fuel per call: about 100 ms of Lua work on the reference machine
/// (2-core x86_64 VM, release build), which ran 8.3 billion fuel units per
/// second on a mixed string/table/call workload and 14 billion on recursive
/// `fib`: 1e9 is 120 ms of the one and 70 ms of the other. See the README.
pub const DEFAULT_FUEL: u64 = 1_000_000_000;
/// Default Lua heap limit: 16 MiB.
pub const DEFAULT_MEMORY: u64 = 16 * MIB;
/// Default maximum Lua call depth.
pub const DEFAULT_MAX_DEPTH: u32 = 100;
/// Default wall-clock backstop per call.
pub const DEFAULT_WALL_CLOCK: Duration = Duration::from_secs(5);
/// Smallest accepted Lua heap limit: the standard library itself needs some.
pub const MIN_MEMORY: u64 = 256 * 1024;
/// Smallest accepted hard memory cap: the guest's stack and data alone take
/// about 1.2 MiB before Lua allocates anything.
pub const MIN_HARD_MEMORY: u64 = 2 * MIB;
/// What the hard wasm memory cap adds on top of the Lua heap limit by default:
/// the guest's stack (1 MiB), its code's data, and allocator slack.
pub const DEFAULT_HARD_MEMORY_HEADROOM: u64 = 8 * MIB;

const MIB: u64 = 1024 * 1024;

/// Resource limits of one sandbox. Every field has a documented default.
///
/// ```
/// use moonbox::Limits;
/// let limits = Limits { fuel: 1_000_000, ..Limits::default() };
/// assert_eq!(limits.memory, moonbox::DEFAULT_MEMORY);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Fuel (wasm instructions, roughly) for each call into the sandbox.
    /// Exhaustion is a trap no script can catch. Default: [`DEFAULT_FUEL`].
    pub fuel: u64,
    /// Bytes the Lua allocator may hold. Past it Lua raises a catchable
    /// "not enough memory" error. Default: [`DEFAULT_MEMORY`] (16 MiB).
    pub memory: u64,
    /// The sandbox's hard linear-memory cap in bytes; growing past it traps.
    /// `None` means twice [`Limits::memory`] plus
    /// [`DEFAULT_HARD_MEMORY_HEADROOM`], far enough above the Lua limit that
    /// scripts meet the catchable Lua error first. A cap at or below
    /// [`Limits::memory`] makes the trap come first instead.
    pub hard_memory: Option<u64>,
    /// Maximum Lua call levels on a stack, with a catchable error naming the
    /// limit past it; 0 disables the check. Default: [`DEFAULT_MAX_DEPTH`].
    pub max_depth: u32,
    /// Wall-clock backstop for one call, checked through wasmtime epochs
    /// (granularity [`crate::EPOCH_TICK`]) on engines made with
    /// [`crate::EngineConfig::wall_clock_backstop`]; other engines ignore it.
    /// Default: [`DEFAULT_WALL_CLOCK`].
    pub wall_clock: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: DEFAULT_FUEL,
            memory: DEFAULT_MEMORY,
            hard_memory: None,
            max_depth: DEFAULT_MAX_DEPTH,
            wall_clock: DEFAULT_WALL_CLOCK,
        }
    }
}

impl Limits {
    /// The hard linear-memory cap in bytes (see [`Limits::hard_memory`]).
    pub fn hard_memory_cap(&self) -> u64 {
        self.hard_memory.unwrap_or_else(|| {
            self.memory
                .saturating_mul(2)
                .saturating_add(DEFAULT_HARD_MEMORY_HEADROOM)
        })
    }

    /// Checks that the limits can work together.
    ///
    /// # Errors
    /// [`ScriptError::InvalidConfig`] naming the first value out of range.
    pub fn validate(&self) -> Result<(), ScriptError> {
        let invalid = |message: String| Err(ScriptError::InvalidConfig { message });
        if self.fuel == 0 {
            return invalid("fuel must be greater than 0".into());
        }
        if self.memory < MIN_MEMORY {
            return invalid(format!(
                "memory limit {} bytes is below the minimum of {MIN_MEMORY} bytes",
                self.memory
            ));
        }
        if self.hard_memory_cap() < MIN_HARD_MEMORY {
            return invalid(format!(
                "hard memory cap {} bytes is below the minimum of {MIN_HARD_MEMORY} bytes",
                self.hard_memory_cap()
            ));
        }
        if usize::try_from(self.hard_memory_cap()).is_err() {
            return invalid("hard memory cap does not fit this platform's address space".into());
        }
        if self.wall_clock.is_zero() {
            return invalid("wall-clock limit must be greater than 0".into());
        }
        Ok(())
    }
}
