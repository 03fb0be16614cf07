//! Host work paid in fuel.
//!
//! Fuel meters the guest's wasm instructions. Without this module the work
//! the host does *for* a guest (world calls, console lines, growing its
//! memory) would be free, and a mod could make one unit of fuel cost
//! thousands of times more time than the guest's own code does. Each host
//! function adds the cost of its work to the store's [`FuelOwed`]; a call
//! hook ([`install`]) takes it out of the fuel tank as the host returns to
//! wasm, and ends the call as out of fuel when the tank cannot pay.
//!
//! Every cost is a function of the call's inputs and the world's state
//! (entities scanned, values encoded, bytes copied), never of time, so fuel
//! stays deterministic and replays stay bit-identical. The prices are set so
//! that host work runs at about the same nanoseconds per fuel unit as Lua
//! code (the `fuel_calibration` benchmark measures both; BENCHMARKS.md).

use wasmtime::{CallHook, Store, StoreContextMut, Trap};

use super::store::StoreState;

/// What host work costs in fuel: see [`HOST_FUEL_PRICES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostFuelPrices {
    /// One host call: the transition into the host and back, lifting its
    /// arguments and lowering its result.
    pub call: u64,
    /// One byte copied between the guest and the host (arguments, results,
    /// console text).
    pub byte: u64,
    /// One component value encoded, decoded, inserted, removed or looked up.
    pub value: u64,
    /// One byte of a component value encoded or decoded (MessagePack to or
    /// from the registry's Rust type).
    pub value_byte: u64,
    /// One entity a query checks for one of its components, or a page visits.
    pub entity: u64,
    /// One entity spawned or despawned (archetype moves and bookkeeping).
    pub spawn: u64,
    /// One 64 KiB wasm page the guest's memory grows by (the host maps and
    /// zeroes it).
    pub memory_page: u64,
    /// One unwinding of the guest's stack (each Lua error thrown, and each
    /// coroutine yield that must leave by a throw): the runtime walks the
    /// wasm frames, outside the fuel counter.
    pub unwind: u64,
}

/// The fuel prices of the host's work for a guest, added to the fuel of the
/// call that caused it.
///
/// ```
/// // A query over 10,000 entities costs at least this much fuel to open:
/// let p = moonbox::HOST_FUEL_PRICES;
/// assert!(p.call + 10_000 * p.entity > 1_000_000);
/// ```
pub const HOST_FUEL_PRICES: HostFuelPrices = HostFuelPrices {
    call: 4_000,
    byte: 1,
    value: 600,
    value_byte: 2,
    entity: 120,
    spawn: 15_000,
    memory_page: 40_000,
    unwind: 10_000,
};

/// Shorthand for the prices inside the crate.
pub(crate) use HOST_FUEL_PRICES as price;

/// Size of a wasm page, in bytes.
const WASM_PAGE: u64 = 64 * 1024;

/// Fuel the host's work for a guest has cost and the guest has not paid yet.
#[derive(Debug, Default)]
pub(crate) struct FuelOwed(u64);

impl FuelOwed {
    /// Adds `fuel` to the debt.
    pub(crate) fn add(&mut self, fuel: u64) {
        self.0 = self.0.saturating_add(fuel);
    }

    /// Adds the price of one host call that copies `bytes` bytes.
    pub(crate) fn call(&mut self, bytes: usize) {
        self.add(price.call.saturating_add(priced(bytes, price.byte)));
    }

    /// Adds the price of growing linear memory from `current` to `desired` bytes.
    pub(crate) fn memory_growth(&mut self, current: usize, desired: usize) {
        let grown = u64::try_from(desired.saturating_sub(current)).unwrap_or(u64::MAX);
        self.add(grown.div_ceil(WASM_PAGE).saturating_mul(price.memory_page));
    }

    /// The debt, still owed.
    pub(crate) fn pending(&self) -> u64 {
        self.0
    }

    /// The debt, leaving none.
    pub(crate) fn take(&mut self) -> u64 {
        std::mem::take(&mut self.0)
    }
}

/// `count` things (bytes, entities, values) at `each` fuel apiece.
pub(crate) fn priced(count: usize, each: u64) -> u64 {
    u64::try_from(count)
        .unwrap_or(u64::MAX)
        .saturating_mul(each)
}

/// Makes the store collect what its guest owes each time the host returns to
/// wasm (and when the outermost call returns to the host).
pub(crate) fn install(store: &mut Store<StoreState>) {
    store.call_hook(collect);
}

fn collect(mut store: StoreContextMut<'_, StoreState>, hook: CallHook) -> wasmtime::Result<()> {
    match hook {
        CallHook::ReturningFromHost | CallHook::ReturningFromWasm => {}
        // What `fuel-left` reports: host functions see only the store's data.
        CallHook::CallingHost => {
            let left = store.get_fuel()?;
            store.data_mut().fuel_at_host_call = left;
            return Ok(());
        }
        CallHook::CallingWasm => return Ok(()),
    }
    let state = store.data_mut();
    let owed = state.owed.take().saturating_add(state.memory.owed.take());
    if owed == 0 {
        return Ok(());
    }
    let left = store.get_fuel()?;
    match left.checked_sub(owed) {
        Some(left) => store.set_fuel(left),
        None => {
            store.set_fuel(0)?;
            Err(Trap::OutOfFuel.into())
        }
    }
}
