//! [`Guest`]: the compiled guest an engine instantiates, and what its
//! sandboxes' snapshots are measured against.

use std::sync::{Arc, Mutex, PoisonError};

use wasmtime::Engine;

use super::bindings::SandboxPre;
use super::store::StoreState;

/// A region of a guest's linear memory: its address and bytes.
pub(crate) type Region = (u32, Vec<u8>);

/// A config's digest and the memory of a fresh sandbox with it.
type Baseline = ([u8; 32], Arc<[Region]>);

/// Configs whose fresh memory an engine keeps, for snapshots; one more
/// replaces the oldest (it is only a cache: a miss costs one sandbox).
const MAX_BASELINES: usize = 16;

/// The compiled guest, shared by an engine and its sandboxes.
pub(crate) struct Guest {
    pub(crate) engine: Engine,
    pub(crate) pre: SandboxPre<StoreState>,
    /// SHA-256 of the guest component's bytes: what a snapshot belongs to.
    pub(crate) digest: [u8; 32],
    /// Its sandboxes run the fuel profiler ([`crate::EngineConfig::profile`]).
    pub(crate) profile: bool,
    /// The memory of a fresh sandbox, per config digest: a snapshot stores
    /// only the pages that differ from it.
    baselines: Mutex<Vec<Baseline>>,
}

impl Guest {
    /// `digest`: SHA-256 naming the component `pre` was compiled from.
    pub(crate) fn new(
        engine: Engine,
        pre: SandboxPre<StoreState>,
        digest: [u8; 32],
        profile: bool,
    ) -> Self {
        Self {
            engine,
            pre,
            digest,
            profile,
            baselines: Mutex::new(Vec::new()),
        }
    }

    /// The fresh memory for config digest `config`, made by `make` on a miss.
    pub(crate) fn baseline<E>(
        &self,
        config: [u8; 32],
        make: impl FnOnce() -> Result<Vec<Region>, E>,
    ) -> Result<Arc<[Region]>, E> {
        let found = self
            .baselines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(digest, _)| *digest == config)
            .map(|(_, regions)| Arc::clone(regions));
        if let Some(regions) = found {
            return Ok(regions);
        }
        // Made outside the lock: it instantiates a sandbox.
        let regions: Arc<[Region]> = make()?.into();
        let mut baselines = self
            .baselines
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if baselines.len() >= MAX_BASELINES {
            baselines.remove(0);
        }
        baselines.push((config, Arc::clone(&regions)));
        Ok(regions)
    }
}
