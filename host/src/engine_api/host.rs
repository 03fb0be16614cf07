//! The WIT `engine` host functions.

use crate::runtime::bindings::{WorldError, moonbox::sandbox::engine};
use crate::runtime::store::StoreState;
use crate::world::transaction::with_transaction;

impl engine::Host for StoreState {
    fn call(
        &mut self,
        name: String,
        args: Vec<u8>,
    ) -> wasmtime::Result<Result<Vec<u8>, WorldError>> {
        let sent = name.len() + args.len();
        with_transaction(self, sent, |t| t.call_function(&name, &args))
    }

    fn tasks(&mut self, pending: u32) -> wasmtime::Result<()> {
        self.owed.call(0);
        self.tasks_pending = pending;
        Ok(())
    }

    fn emit(&mut self, name: String, data: Vec<u8>) -> wasmtime::Result<Result<(), WorldError>> {
        let sent = name.len() + data.len();
        with_transaction(self, sent, |t| t.emit(&name, &data))
    }
}
