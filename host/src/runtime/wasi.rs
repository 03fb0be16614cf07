//! The WASI world the guest sees: nothing from the host, nothing that varies.
//!
//! Rust's std and wasi-libc make the guest import WASI; the host decides what
//! those imports can do. Here: no preopened directories, no environment, no
//! arguments, no sockets, stdin closed, stdout discarded, stderr captured in a
//! small buffer (a guest panic message), clocks frozen, randomness seeded.

use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx};

/// Bytes of guest stderr kept for diagnostics.
pub(crate) const STDERR_CAPACITY: usize = 4096;

/// A WASI context whose every observable value derives from `seed`.
pub(crate) fn context(seed: u64, stderr: MemoryOutputPipe) -> WasiCtx {
    WasiCtx::builder()
        .stderr(stderr)
        .wall_clock(FrozenWallClock)
        .monotonic_clock(FrozenMonotonicClock)
        .secure_random(StdRng::seed_from_u64(seed))
        .insecure_random(StdRng::seed_from_u64(seed ^ 0x5eed_5eed_5eed_5eed))
        .insecure_random_seed(u128::from(seed))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

/// Always the Unix epoch: scripts never observe real time.
struct FrozenWallClock;

impl HostWallClock for FrozenWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

/// Always zero: scripts never observe elapsed time.
struct FrozenMonotonicClock;

impl HostMonotonicClock for FrozenMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    //! What the guest's WASI imports answer: checked on the context the
    //! sandbox builds, through the same host traits the guest's calls reach.
    #![allow(clippy::unwrap_used)]

    use wasmtime::component::ResourceTable;
    use wasmtime_wasi::cli::WasiCliCtxView;
    use wasmtime_wasi::clocks::WasiClocksCtxView;
    use wasmtime_wasi::filesystem::WasiFilesystemCtxView;
    use wasmtime_wasi::p2::bindings::cli::environment::Host as _;
    use wasmtime_wasi::p2::bindings::clocks::{monotonic_clock, wall_clock};
    use wasmtime_wasi::p2::bindings::filesystem::preopens::Host as _;
    use wasmtime_wasi::p2::bindings::random::random::Host as _;

    use super::*;

    fn ctx(seed: u64) -> WasiCtx {
        context(seed, MemoryOutputPipe::new(STDERR_CAPACITY))
    }

    #[test]
    fn no_environment_arguments_directories_or_real_time() {
        let mut ctx = ctx(7);
        let mut table = ResourceTable::new();
        let mut cli = WasiCliCtxView {
            ctx: ctx.cli(),
            table: &mut table,
        };
        assert!(cli.get_environment().unwrap().is_empty());
        assert!(cli.get_arguments().unwrap().is_empty());
        assert_eq!(cli.initial_cwd().unwrap(), None);
        let mut fs = WasiFilesystemCtxView {
            ctx: ctx.filesystem(),
            table: &mut table,
        };
        assert!(fs.get_directories().unwrap().is_empty());
        let mut clocks = WasiClocksCtxView {
            ctx: ctx.clocks(),
            table: &mut table,
        };
        let wall = wall_clock::Host::now(&mut clocks).unwrap();
        assert_eq!((wall.seconds, wall.nanoseconds), (0, 0));
        assert_eq!(monotonic_clock::Host::now(&mut clocks).unwrap(), 0);
    }

    #[test]
    fn randomness_is_seeded() {
        let bytes = |seed| ctx(seed).random().get_random_bytes(32).unwrap();
        assert_eq!(bytes(1), bytes(1));
        assert_ne!(bytes(1), bytes(2));
    }
}
