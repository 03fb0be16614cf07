//! [`StoreState`]: what each sandbox's wasmtime `Store` holds.

use std::sync::Mutex;

use wasmtime::Result;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{
    GuestChannel,
    moonbox::sandbox::{console, meter, profiler, snapshot},
};
use super::console::{Channel, Console};
use super::guest::Region;
use super::limiter::MemoryLimiter;
use super::meter::{FuelOwed, price, priced};
use super::profile::Profile;
use crate::world::Transaction;

/// The data of one sandbox's store.
pub(crate) struct StoreState {
    /// WASI's context and resource table. Their streams are `Send` but not
    /// `Sync`; the host only ever reaches them through `&mut self`
    /// (`Mutex::get_mut`, no locking), so the mutex makes the store `Sync`
    /// at no cost.
    wasi: Mutex<(WasiCtx, ResourceTable)>,
    pub(crate) console: Console,
    pub(crate) memory: MemoryLimiter,
    pub(crate) stderr: MemoryOutputPipe,
    /// The world, while a handler call runs against it.
    pub(crate) transaction: Option<Box<Transaction>>,
    /// Queries the sandbox's calls have opened (see
    /// [`Transaction::number_queries_from`]).
    pub(crate) queries_opened: u32,
    /// Fuel for host work the guest has caused and not yet paid.
    pub(crate) owed: FuelOwed,
    /// The store's fuel when the guest last called the host.
    pub(crate) fuel_at_host_call: u64,
    /// Tasks the script has waiting (`task.spawn`), as it last said.
    pub(crate) tasks_pending: u32,
    /// Memory on its way out of or into the guest, during a snapshot.
    pub(crate) transfer: Transfer,
    /// Where the fuel went, when the engine profiles.
    pub(crate) profile: Option<Profile>,
}

/// Memory moving between the host and the guest for a snapshot.
#[derive(Default)]
pub(crate) enum Transfer {
    /// No snapshot is being taken or restored.
    #[default]
    Idle,
    /// `save` runs: the regions it handed so far.
    Saving(Vec<Region>),
    /// `restore` runs: each run's address and its range of `bytes`.
    Restoring {
        runs: Vec<(u32, std::ops::Range<usize>)>,
        bytes: Vec<u8>,
    },
}

impl StoreState {
    pub(crate) fn new(
        wasi: WasiCtx,
        console: Console,
        memory: MemoryLimiter,
        stderr: MemoryOutputPipe,
    ) -> Self {
        Self {
            wasi: Mutex::new((wasi, ResourceTable::new())),
            console,
            memory,
            stderr,
            transaction: None,
            queries_opened: 0,
            owed: FuelOwed::default(),
            fuel_at_host_call: 0,
            tasks_pending: 0,
            transfer: Transfer::Idle,
            profile: None,
        }
    }

    /// A placeholder with nothing in it, while a discarded store is taken apart.
    pub(crate) fn empty() -> Self {
        Self::new(
            WasiCtx::builder().build(),
            Console::new(0, 0),
            MemoryLimiter::new(0),
            MemoryOutputPipe::new(0),
        )
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        // Never locked, so never poisoned; `into_inner` covers it anyway.
        let (ctx, table) = self
            .wasi
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        WasiCtxView { ctx, table }
    }
}

impl console::Host for StoreState {
    fn write(&mut self, channel: GuestChannel, line: String) -> Result<()> {
        let channel = match channel {
            GuestChannel::Out => Channel::Out,
            GuestChannel::Warn => Channel::Warn,
        };
        self.owed.call(line.len());
        self.console.push(channel, line);
        Ok(())
    }
}

impl meter::Host for StoreState {
    fn unwinding(&mut self) -> Result<()> {
        self.owed.call(0);
        self.owed.add(price.unwind);
        Ok(())
    }

    fn copying(&mut self, bytes: u64) -> Result<()> {
        self.owed.call(0);
        self.owed.add(bytes.saturating_mul(price.byte));
        Ok(())
    }

    fn fuel_left(&mut self) -> Result<u64> {
        self.owed.call(0);
        Ok(self.fuel_now())
    }
}

impl StoreState {
    /// The fuel the running call has left, the host work it caused so far
    /// paid (what `meter.fuel-left` reports).
    fn fuel_now(&self) -> u64 {
        let owed = self
            .owed
            .pending()
            .saturating_add(self.memory.owed.pending());
        self.fuel_at_host_call.saturating_sub(owed)
    }
}

/// The profiler's calls are priced by the bytes they copy only: they come
/// from the engine's choice to profile, not from the script, and each does
/// bounded work (a stack of at most [`crate::MAX_STACK_DEPTH`] frames).
impl profiler::Host for StoreState {
    fn begin(&mut self) -> Result<()> {
        let fuel = self.fuel_now();
        if let Some(profile) = &mut self.profile {
            profile.begin_world_call(fuel);
        }
        Ok(())
    }

    fn sampling(&mut self) -> Result<()> {
        let fuel = self.fuel_now();
        if let Some(profile) = &mut self.profile {
            profile.sampling(fuel);
        }
        Ok(())
    }

    fn frame(&mut self, id: u32, label: String) -> Result<()> {
        self.owed.add(priced(label.len(), price.byte));
        if let Some(profile) = &mut self.profile {
            profile.frame(id, &label);
        }
        Ok(())
    }

    fn sample(&mut self, stack: Vec<u32>) -> Result<()> {
        let fuel = self.fuel_now();
        self.owed
            .add(priced(stack.len().saturating_mul(4), price.byte));
        if let Some(profile) = &mut self.profile {
            profile.sample(&stack, fuel);
        }
        Ok(())
    }
}

impl snapshot::Host for StoreState {
    fn memory(&mut self, address: u32, data: Vec<u8>) -> Result<()> {
        if let Transfer::Saving(regions) = &mut self.transfer {
            regions.push((address, data));
        }
        Ok(())
    }

    fn run_address(&mut self, index: u32) -> Result<Option<u32>> {
        Ok(match &self.transfer {
            Transfer::Restoring { runs, .. } => runs
                .get(usize::try_from(index).unwrap_or(usize::MAX))
                .map(|(address, _)| *address),
            _ => None,
        })
    }

    fn run_data(&mut self, index: u32) -> Result<Vec<u8>> {
        let Transfer::Restoring { runs, bytes } = &self.transfer else {
            return Ok(Vec::new());
        };
        let run = runs.get(usize::try_from(index).unwrap_or(usize::MAX));
        Ok(run
            .and_then(|(_, range)| bytes.get(range.clone()))
            .unwrap_or_default()
            .to_vec())
    }
}
