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
