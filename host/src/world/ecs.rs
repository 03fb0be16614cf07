//! The WIT `ecs` interface, implemented for a sandbox's store: each call
//! goes to the attached [`Transaction`], and a permission denial becomes a
//! refused call or a trap as the transaction's policy says.

use wasmtime::Result;

use super::transaction::{Refusal, Transaction, ViolationPolicy};
use crate::runtime::bindings::{FrameInfo, QueryPage, WorldError, moonbox::sandbox::ecs};
use crate::runtime::store::StoreState;
use crate::runtime::trap::ViolationTrap;

/// MessagePack's nil: the config of a sandbox with no world or no config.
const NIL: u8 = 0xc0;

/// Runs `call` against the attached transaction.
fn with_transaction<T>(
    state: &mut StoreState,
    call: impl FnOnce(&mut Transaction) -> Result<T, Refusal>,
) -> Result<Result<T, WorldError>> {
    let Some(transaction) = state.transaction.as_deref_mut() else {
        return Ok(Err(WorldError::Unavailable(
            "no world is attached: world calls work inside handlers run by a ScriptSystem".into(),
        )));
    };
    match call(transaction) {
        Ok(value) => Ok(Ok(value)),
        Err(Refusal::Error(error)) => Ok(Err(error)),
        Err(Refusal::Denied(denied)) => match transaction.on_violation() {
            ViolationPolicy::Reject => {
                transaction.note_denial(&denied);
                Ok(Err(WorldError::Denied(denied.to_string())))
            }
            ViolationPolicy::Disable => Err(ViolationTrap {
                message: denied.to_string(),
            }
            .into()),
        },
    }
}

impl ecs::Host for StoreState {
    fn get(
        &mut self,
        entity: u64,
        component: String,
    ) -> Result<Result<Option<Vec<u8>>, WorldError>> {
        with_transaction(self, |t| t.get(entity, &component))
    }

    fn set(
        &mut self,
        entity: u64,
        component: String,
        value: Vec<u8>,
    ) -> Result<Result<(), WorldError>> {
        with_transaction(self, |t| t.set(entity, &component, &value))
    }

    fn remove(&mut self, entity: u64, component: String) -> Result<Result<bool, WorldError>> {
        with_transaction(self, |t| t.remove(entity, &component))
    }

    fn has(&mut self, entity: u64, component: String) -> Result<Result<bool, WorldError>> {
        with_transaction(self, |t| t.has(entity, &component))
    }

    fn query(
        &mut self,
        components: Vec<String>,
        max: u32,
    ) -> Result<Result<QueryPage, WorldError>> {
        with_transaction(self, |t| t.query(components, max))
    }

    fn query_next(&mut self, cursor: u32, max: u32) -> Result<Result<QueryPage, WorldError>> {
        with_transaction(self, |t| t.query_next(cursor, max))
    }

    fn spawn(&mut self, components: Vec<(String, Vec<u8>)>) -> Result<Result<u64, WorldError>> {
        with_transaction(self, |t| t.spawn(components))
    }

    fn despawn(&mut self, entity: u64) -> Result<Result<(), WorldError>> {
        with_transaction(self, |t| t.despawn(entity))
    }

    fn frame(&mut self) -> Result<FrameInfo> {
        Ok(self
            .transaction
            .as_deref()
            .map_or(FrameInfo { tick: 0, dt: 0.0 }, Transaction::frame))
    }

    fn config(&mut self) -> Result<Vec<u8>> {
        Ok(self
            .transaction
            .as_deref()
            .map_or_else(|| vec![NIL], Transaction::config))
    }
}
