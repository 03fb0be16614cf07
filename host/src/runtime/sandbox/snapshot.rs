//! [`SandboxSnapshot`]: a sandbox's whole state between calls, restorable
//! into a fresh instance of the same guest.
//!
//! Between calls the guest's state is its linear memory outside the shadow
//! stack (the guest hands it over with `save`, allocating nothing) and what
//! the host keeps for the sandbox (fuel statistics, console, counters). A
//! snapshot stores the 4 KiB pages that differ from a fresh sandbox with
//! the same config, each XORed with the fresh page, LZ4-compressed. Restoring creates that fresh sandbox
//! and has the guest write the pages back (`restore`); the guest's state
//! sits at the same address in every instance created with that config,
//! which the guest checks.

use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Sandbox, SandboxConfig, State};
use crate::runtime::console::{Channel, Console};
use crate::runtime::error::LimitKind;
use crate::runtime::guest::{Guest, Region};
use crate::runtime::store::Transfer;
use crate::snapshot::SnapshotError;
use crate::snapshot::error::short_hex;

/// Fuel for the guest's side of saving or restoring: it copies nothing
/// itself (one host call per region or run), so this is never reached; the
/// calls are not counted in the sandbox's statistics.
pub(super) const FUEL: u64 = 1 << 40;

/// The unit of a snapshot's difference from a fresh sandbox.
const PAGE: usize = 4096;

const WASM_PAGE: u64 = 65_536;

/// A sandbox's complete state between calls: taken with
/// [`Sandbox::snapshot`], restored with
/// [`crate::ScriptEngine::restore_sandbox`]. It names the guest and the
/// sandbox settings it was taken with and restores into nothing else.
///
/// Serializable with serde; decoded from untrusted bytes, it is checked
/// before anything is allocated for it, and the guest's memory it carries
/// only ever runs inside the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSnapshot {
    guest: [u8; 32],
    config: [u8; 32],
    /// The guest's memory, or why there is none.
    memory: Memory,
    fuel_used: u64,
    last_fuel_used: u64,
    memory_peak: u64,
    queries_opened: u32,
    tasks_pending: u32,
    console: Vec<(Channel, String)>,
    console_dropped: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Memory {
    /// A trap discarded the sandbox, for this reason.
    Discarded(Option<LimitKind>),
    Live {
        /// The guest's state's address (`save` returned it).
        state: u32,
        /// The memory's size, in wasm pages.
        pages: u32,
        /// The pages that differ from a fresh sandbox, as runs of
        /// consecutive bytes: address and length.
        runs: Vec<(u32, u32)>,
        /// The runs' bytes end to end, as one LZ4 block.
        #[serde(with = "serde_bytes")]
        compressed: Vec<u8>,
    },
}

/// A snapshot checked against a guest and config, its memory unpacked:
/// restoring it can no longer fail for its contents.
pub(crate) struct Prepared<'a> {
    snapshot: &'a SandboxSnapshot,
    /// `None` for a discarded sandbox.
    memory: Option<Unpacked>,
    baseline: Arc<[Region]>,
}

struct Unpacked {
    state: u32,
    pages: u32,
    /// The snapshot's pages: address and range of `bytes`.
    runs: Vec<(u32, Range<usize>)>,
    bytes: Vec<u8>,
}

impl<'a> Prepared<'a> {
    /// Checks `snapshot` against `guest` and `config` and unpacks it.
    pub(crate) fn new(
        guest: &Arc<Guest>,
        config: &SandboxConfig,
        snapshot: &'a SandboxSnapshot,
    ) -> Result<Self, SnapshotError> {
        check(guest, config, snapshot)?;
        let baseline = guest.baseline(config_digest(config), || fresh_regions(guest, config))?;
        let memory = match &snapshot.memory {
            Memory::Discarded(_) => None,
            Memory::Live {
                state,
                pages,
                runs,
                compressed,
            } => {
                let (runs, bytes) = unpack(&baseline, config, *pages, runs, compressed)?;
                Some(Unpacked {
                    state: *state,
                    pages: *pages,
                    runs,
                    bytes,
                })
            }
        };
        Ok(Self {
            snapshot,
            memory,
            baseline,
        })
    }
}

impl SandboxSnapshot {
    /// Bytes of guest memory that differ from a fresh sandbox's.
    pub fn memory_bytes(&self) -> u64 {
        match &self.memory {
            Memory::Discarded(_) => 0,
            Memory::Live { runs, .. } => runs.iter().map(|&(_, len)| u64::from(len)).sum(),
        }
    }

    /// Those bytes compressed, as stored.
    pub fn stored_bytes(&self) -> usize {
        match &self.memory {
            Memory::Discarded(_) => 0,
            Memory::Live { compressed, .. } => compressed.len(),
        }
    }

    /// Fuel the sandbox had used when the snapshot was taken.
    pub fn fuel_used(&self) -> u64 {
        self.fuel_used
    }

    /// Whether the sandbox had been discarded by a trap.
    pub fn is_poisoned(&self) -> bool {
        matches!(self.memory, Memory::Discarded(_))
    }
}

impl Sandbox {
    /// Captures the sandbox's whole state: its Lua state (globals,
    /// closures, coroutines, tasks), its console and its statistics.
    /// Taking a snapshot changes nothing the script or the engine can see,
    /// fuel included. A discarded sandbox gives a snapshot of a discarded
    /// sandbox. See [`crate::ScriptEngine::restore_sandbox`].
    ///
    /// # Errors
    /// [`SnapshotError::Script`] if the guest cannot be read (a bug);
    /// [`SnapshotError::Profiling`] if the engine profiles.
    pub fn snapshot(&mut self) -> Result<SandboxSnapshot, SnapshotError> {
        if self.guest.profile {
            return Err(SnapshotError::Profiling);
        }
        let memory = match &self.state {
            State::Discarded { cause, .. } => Memory::Discarded(*cause),
            State::Live { .. } => {
                let (state, regions) = self.save()?;
                let guest = Arc::clone(&self.guest);
                let baseline = guest.baseline(config_digest(&self.config), || {
                    fresh_regions(&guest, &self.config)
                })?;
                let end = regions
                    .iter()
                    .map(|(address, data)| u64::from(*address) + data.len() as u64)
                    .max()
                    .unwrap_or(0);
                let (runs, bytes) = diff(&baseline, &regions);
                Memory::Live {
                    state,
                    pages: u32::try_from(end / WASM_PAGE).unwrap_or(u32::MAX),
                    runs,
                    compressed: lz4_flex::block::compress(&bytes),
                }
            }
        };
        let data = self.state_data();
        Ok(SandboxSnapshot {
            guest: self.guest.digest,
            config: config_digest(&self.config),
            memory,
            fuel_used: self.fuel_used,
            last_fuel_used: self.last_fuel_used,
            memory_peak: self.memory_peak(),
            queries_opened: data.queries_opened,
            tasks_pending: data.tasks_pending,
            console: data
                .console
                .lines()
                .map(|line| (line.channel, line.text.clone()))
                .collect(),
            console_dropped: data.console.dropped(),
        })
    }

    /// A fresh sandbox made into the one `snapshot` captured.
    pub(crate) fn restore(
        guest: &Arc<Guest>,
        config: &SandboxConfig,
        snapshot: &SandboxSnapshot,
    ) -> Result<Self, SnapshotError> {
        let prepared = Prepared::new(guest, config, snapshot)?;
        Self::from_prepared(guest, config, &prepared)
    }

    /// A fresh sandbox made into the one `prepared` describes.
    pub(crate) fn from_prepared(
        guest: &Arc<Guest>,
        config: &SandboxConfig,
        prepared: &Prepared<'_>,
    ) -> Result<Self, SnapshotError> {
        let mut sandbox = Sandbox::new(guest, config).map_err(|source| SnapshotError::Script {
            action: "creating the sandbox to restore".into(),
            source,
        })?;
        match &prepared.memory {
            None => {
                sandbox.restore_host_side(prepared.snapshot);
                if let Memory::Discarded(cause) = &prepared.snapshot.memory {
                    sandbox.discard(*cause);
                }
            }
            Some(memory) => {
                let (runs, bytes) = (memory.runs.clone(), memory.bytes.clone());
                sandbox.write_memory(memory.state, memory.pages, runs, bytes)?;
                sandbox.restore_host_side(prepared.snapshot);
            }
        }
        Ok(sandbox)
    }

    /// Makes this live sandbox the one `snapshot` captured, writing only
    /// the pages that differ: a rollback without a new instance. Returns
    /// `Ok(false)`, having changed nothing, when that cannot be done in
    /// place: the sandbox is discarded, the snapshot's is, or the memory
    /// has grown past the snapshot's. Then restore a new sandbox with
    /// [`crate::ScriptEngine::restore_sandbox`].
    ///
    /// # Errors
    /// As [`crate::ScriptEngine::restore_sandbox`].
    pub fn restore_in_place(&mut self, snapshot: &SandboxSnapshot) -> Result<bool, SnapshotError> {
        let guest = Arc::clone(&self.guest);
        let prepared = Prepared::new(&guest, &self.config, snapshot)?;
        self.apply_in_place(&prepared)
    }

    /// [`Sandbox::restore_in_place`] with a snapshot already checked.
    pub(crate) fn apply_in_place(
        &mut self,
        prepared: &Prepared<'_>,
    ) -> Result<bool, SnapshotError> {
        let Some(memory) = &prepared.memory else {
            return Ok(false);
        };
        if self.is_poisoned()
            || self.guest.digest != prepared.snapshot.guest
            || config_digest(&self.config) != prepared.snapshot.config
        {
            return Ok(false);
        }
        let (_, current) = self.save()?;
        if memory_end(&current) > u64::from(memory.pages) * WASM_PAGE {
            return Ok(false);
        }
        let (runs, bytes) = changes(
            &prepared.baseline,
            &current,
            memory.pages,
            &memory.runs,
            &memory.bytes,
        );
        self.write_memory(memory.state, memory.pages, runs, bytes)?;
        self.restore_host_side(prepared.snapshot);
        Ok(true)
    }

    /// Has the guest grow its memory to `pages` and write `runs`.
    fn write_memory(
        &mut self,
        state: u32,
        pages: u32,
        runs: Vec<(u32, Range<usize>)>,
        bytes: Vec<u8>,
    ) -> Result<(), SnapshotError> {
        self.state_data_mut().transfer = Transfer::Restoring { runs, bytes };
        let written = self.enter_metered(None, |world, store, lua| {
            world
                .moonbox_sandbox_runtime()
                .sandbox()
                .call_restore(store, lua, state, pages)
        });
        self.state_data_mut().transfer = Transfer::Idle;
        match written {
            Ok(0) => Ok(()),
            Ok(1) => Err(SnapshotError::corrupt(
                "the Lua state is not where this guest keeps it",
            )),
            Ok(2) => Err(SnapshotError::corrupt(format!(
                "the memory cannot grow to {pages} pages"
            ))),
            Ok(_) => Err(SnapshotError::corrupt(
                "a run of memory did not land where it belongs",
            )),
            Err(source) => Err(SnapshotError::Script {
                action: "restoring the sandbox's memory".into(),
                source,
            }),
        }
    }

    /// The statistics, counters and console the host keeps.
    fn restore_host_side(&mut self, snapshot: &SandboxSnapshot) {
        self.fuel_used = snapshot.fuel_used;
        self.last_fuel_used = snapshot.last_fuel_used;
        let (lines, bytes) = (self.config.console_max_lines, self.config.console_max_bytes);
        let data = self.state_data_mut();
        data.queries_opened = snapshot.queries_opened;
        data.tasks_pending = snapshot.tasks_pending;
        data.memory
            .set_peak(usize::try_from(snapshot.memory_peak).unwrap_or(usize::MAX));
        let console = &mut data.console;
        *console = Console::new(lines, bytes);
        for (channel, text) in &snapshot.console {
            // Pushed, so the console's own bounds hold for untrusted lines.
            console.push(*channel, text.clone());
        }
        console.add_dropped(snapshot.console_dropped);
    }

    /// The guest's memory outside its stack, and its state's address.
    fn save(&mut self) -> Result<(u32, Vec<Region>), SnapshotError> {
        self.state_data_mut().transfer = Transfer::Saving(Vec::new());
        let state = self.enter_metered(None, |world, store, lua| {
            world
                .moonbox_sandbox_runtime()
                .sandbox()
                .call_save(store, lua)
        });
        let regions = match std::mem::take(&mut self.state_data_mut().transfer) {
            Transfer::Saving(regions) => regions,
            _ => Vec::new(),
        };
        let state = state.map_err(|source| SnapshotError::Script {
            action: "saving the sandbox".into(),
            source,
        })?;
        Ok((state, regions))
    }

    fn save_regions(&mut self) -> Result<Vec<Region>, SnapshotError> {
        self.save().map(|(_, regions)| regions)
    }
}

/// Refuses a snapshot of another guest or config.
fn check(
    guest: &Guest,
    config: &SandboxConfig,
    snapshot: &SandboxSnapshot,
) -> Result<(), SnapshotError> {
    if guest.profile {
        return Err(SnapshotError::Profiling);
    }
    if snapshot.guest != guest.digest {
        return Err(SnapshotError::OtherGuest {
            expected: short_hex(&guest.digest),
            found: short_hex(&snapshot.guest),
        });
    }
    if snapshot.config != config_digest(config) {
        return Err(SnapshotError::OtherConfig {
            what: "the sandbox".into(),
        });
    }
    Ok(())
}

/// Where the last of `regions` ends.
fn memory_end(regions: &[Region]) -> u64 {
    regions
        .iter()
        .map(|(address, data)| u64::from(*address) + data.len() as u64)
        .max()
        .unwrap_or(0)
}

/// The pages to write over memory `current` to make it the snapshot's:
/// its runs (`runs` over `bytes`) on `base` up to `pages` wasm pages, where
/// that differs from what `current` holds (zeros past its end).
fn changes(
    base: &[Region],
    current: &[Region],
    pages: u32,
    runs: &[(u32, Range<usize>)],
    bytes: &[u8],
) -> (Vec<(u32, Range<usize>)>, Vec<u8>) {
    let size = u64::from(pages) * WASM_PAGE;
    let last = base.iter().map(|(start, _)| *start).max().unwrap_or(0);
    let mut out_runs: Vec<(u32, Range<usize>)> = Vec::new();
    let mut out = Vec::new();
    let mut next_run = runs.iter().peekable();
    for (start, fresh) in base {
        let end = if *start == last {
            size
        } else {
            u64::from(*start) + fresh.len() as u64
        };
        let now: &[u8] = current
            .iter()
            .find(|(address, _)| address == start)
            .map_or(&[], |(_, data)| data);
        let mut at = u64::from(*start);
        while at < end {
            let len = (PAGE as u64).min(end - at) as usize;
            let offset = (at - u64::from(*start)) as usize;
            // The snapshot's page: from a run if one covers it, else fresh.
            while next_run
                .peek()
                .is_some_and(|(address, range)| u64::from(*address) + range.len() as u64 <= at)
            {
                next_run.next();
            }
            let from_run = next_run.peek().and_then(|(address, range)| {
                let skip = usize::try_from(at.checked_sub(u64::from(*address))?).ok()?;
                let start = range.start + skip;
                bytes.get(start..(start + len).min(range.end))
            });
            let want = from_run.unwrap_or_else(|| page_of(fresh, offset, len));
            let have = page_of(now, offset, len);
            if !equal_zero_padded(want, have) {
                let address = u32::try_from(at).unwrap_or(u32::MAX);
                match out_runs.last_mut() {
                    Some((previous, range)) if u64::from(*previous) + range.len() as u64 == at => {
                        range.end += len;
                    }
                    _ => out_runs.push((address, out.len()..out.len() + len)),
                }
                out.extend_from_slice(want);
                out.resize(out.len() + len - want.len(), 0);
            }
            at += len as u64;
        }
    }
    (out_runs, out)
}

/// Up to `len` bytes of `region` from `offset` (fewer past its end, where
/// memory is zeros).
fn page_of(region: &[u8], offset: usize, len: usize) -> &[u8] {
    let page = region.get(offset..).unwrap_or_default();
    &page[..page.len().min(len)]
}

/// Whether `a` and `b` are equal once the shorter is padded with zeros.
fn equal_zero_padded(a: &[u8], b: &[u8]) -> bool {
    let common = a.len().min(b.len());
    a[..common] == b[..common]
        && a[common..]
            .iter()
            .chain(&b[common..])
            .all(|&byte| byte == 0)
}

/// The memory regions of a fresh sandbox with `config`.
fn fresh_regions(guest: &Arc<Guest>, config: &SandboxConfig) -> Result<Vec<Region>, SnapshotError> {
    Sandbox::new(guest, config)
        .map_err(|source| SnapshotError::Script {
            action: "creating a fresh sandbox to compare with".into(),
            source,
        })?
        .save_regions()
}

/// The pages of `now` that differ from `base` (memory beyond `base` is
/// zero in a fresh sandbox), merged into runs, and their bytes end to end.
fn diff(base: &[Region], now: &[Region]) -> (Vec<(u32, u32)>, Vec<u8>) {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    let mut bytes = Vec::new();
    for (address, data) in now {
        let old: &[u8] = base
            .iter()
            .find(|(start, _)| start == address)
            .map_or(&[], |(_, data)| data);
        for (index, page) in data.chunks(PAGE).enumerate() {
            let offset = index * PAGE;
            let before = page_of(old, offset, page.len());
            if equal_zero_padded(page, before) {
                continue;
            }
            // Regions lie inside a 4 GiB memory: offsets fit.
            let at = address.saturating_add(u32::try_from(offset).unwrap_or(u32::MAX));
            let len = u32::try_from(page.len()).unwrap_or(u32::MAX);
            match runs.last_mut() {
                Some((start, run)) if start.saturating_add(*run) == at => *run += len,
                _ => runs.push((at, len)),
            }
            // Stored as the difference from the fresh page: the bytes
            // that did not change are zeros, which LZ4 packs fast and small.
            let from = bytes.len();
            bytes.extend_from_slice(page);
            xor(&mut bytes[from..], before);
        }
    }
    (runs, bytes)
}

/// Turns runs stored as differences from `base` back into memory.
fn undiff(base: &[Region], runs: &[(u32, Range<usize>)], bytes: &mut [u8]) {
    for (address, range) in runs {
        let Some((start, old)) = base
            .iter()
            .filter(|(start, _)| start <= address)
            .max_by_key(|(start, _)| *start)
        else {
            continue;
        };
        let offset = (address - start) as usize;
        xor(
            &mut bytes[range.clone()],
            old.get(offset..).unwrap_or_default(),
        );
    }
}

/// XORs `other` into the start of `bytes`, eight bytes at a time.
fn xor(bytes: &mut [u8], other: &[u8]) {
    let len = bytes.len().min(other.len());
    let (bytes, other) = (&mut bytes[..len], &other[..len]);
    let mut words = bytes.chunks_exact_mut(8);
    let mut others = other.chunks_exact(8);
    for (word, with) in (&mut words).zip(&mut others) {
        let value = u64::from_ne_bytes(word.try_into().unwrap_or_default())
            ^ u64::from_ne_bytes(with.try_into().unwrap_or_default());
        word.copy_from_slice(&value.to_ne_bytes());
    }
    for (byte, with) in words.into_remainder().iter_mut().zip(others.remainder()) {
        *byte ^= with;
    }
}

/// Checks a snapshot's runs against where this guest keeps its state and
/// against the sandbox's memory cap, then decompresses them.
#[allow(clippy::type_complexity)]
fn unpack(
    baseline: &[Region],
    config: &SandboxConfig,
    pages: u32,
    runs: &[(u32, u32)],
    compressed: &[u8],
) -> Result<(Vec<(u32, Range<usize>)>, Vec<u8>), SnapshotError> {
    let size = u64::from(pages) * WASM_PAGE;
    if size > config.limits.hard_memory_cap() {
        return Err(SnapshotError::corrupt(format!(
            "its memory ({size} bytes) is over the sandbox's cap ({} bytes)",
            config.limits.hard_memory_cap()
        )));
    }
    // Where runs may go: the regions `save` hands over; the last one ends
    // at the memory's end. Never the shadow stack, which is in use.
    let last = baseline.iter().map(|(start, _)| *start).max().unwrap_or(0);
    let allowed = |start: u64, end: u64| {
        baseline.iter().any(|(region, data)| {
            let region = u64::from(*region);
            let region_end = if region == u64::from(last) {
                size
            } else {
                region + data.len() as u64
            };
            region <= start && end <= region_end
        })
    };
    let mut checked = Vec::with_capacity(runs.len().min(1 << 20));
    let mut previous_end = 0u64;
    let mut total = 0usize;
    for &(address, len) in runs {
        let (start, end) = (u64::from(address), u64::from(address) + u64::from(len));
        if len == 0 || start < previous_end || !allowed(start, end) {
            return Err(SnapshotError::corrupt(format!(
                "a run of {len} bytes at {address:#x} is out of order or outside the memory it may write"
            )));
        }
        previous_end = end;
        let len = len as usize;
        checked.push((address, total..total + len));
        total += len;
    }
    // `total` is bounded by the memory size, checked above.
    let mut bytes = vec![0; total];
    match lz4_flex::block::decompress_into(compressed, &mut bytes) {
        Ok(n) if n == total => {
            undiff(baseline, &checked, &mut bytes);
            Ok((checked, bytes))
        }
        Ok(n) => Err(SnapshotError::corrupt(format!(
            "its memory decompresses to {n} bytes, not {total}"
        ))),
        Err(e) => Err(SnapshotError::corrupt(format!(
            "its memory does not decompress: {e}"
        ))),
    }
}

/// A digest of the settings that decide a sandbox's behaviour (the
/// wall-clock backstop does not).
pub(crate) fn config_digest(config: &SandboxConfig) -> [u8; 32] {
    let limits = &config.limits;
    let mut sha = Sha256::new();
    sha.update(b"moonbox-sandbox-config-1");
    for value in [
        limits.fuel,
        limits.memory,
        limits.hard_memory.map_or(0, |v| v.saturating_add(1)),
        u64::from(limits.max_depth),
        config.seed,
        config.console_max_lines as u64,
        config.console_max_bytes as u64,
    ] {
        sha.update(value.to_le_bytes());
    }
    sha.finalize().into()
}
