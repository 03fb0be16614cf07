//! The vendored code generator (`vendor/wasmtime-internal-cranelift`):
//! `memory.copy` and `memory.fill` of a length known only at run time run
//! inline up to 64 bytes and call the host above. Small modules compiled
//! with fuel on, as Moonbox compiles the guest, checked byte for byte
//! against a model for every length through the inline classes and past
//! them, with overlapping copies both ways.

use wasm_encoder::{
    CodeSection, ExportKind, ExportSection, Function, FunctionSection, Instruction, MemorySection,
    MemoryType, Module, TypeSection, ValType,
};
use wasmtime::{Config, Engine, Instance, Memory, Store, Trap, TypedFunc};

/// Bytes of the memory the tests use (one page).
const PAGE: usize = 65536;

/// `(func (export NAME) (param i32 i32 i32) local.get 0 1 2; OP)` for
/// `memory.copy` and `memory.fill`, and the memory.
fn bulk_module() -> Vec<u8> {
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32; 3], []);
    module.section(&types);
    let mut functions = FunctionSection::new();
    functions.function(0).function(0);
    module.section(&functions);
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 1,
        maximum: Some(1),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    module.section(&memories);
    let mut exports = ExportSection::new();
    exports
        .export("copy", ExportKind::Func, 0)
        .export("fill", ExportKind::Func, 1)
        .export("memory", ExportKind::Memory, 0);
    module.section(&exports);
    let mut code = CodeSection::new();
    for op in [
        Instruction::MemoryCopy {
            src_mem: 0,
            dst_mem: 0,
        },
        Instruction::MemoryFill(0),
    ] {
        let mut body = Function::new([]);
        body.instruction(&Instruction::LocalGet(0))
            .instruction(&Instruction::LocalGet(1))
            .instruction(&Instruction::LocalGet(2))
            .instruction(&op)
            .instruction(&Instruction::End);
        code.function(&body);
    }
    module.section(&code);
    module.finish()
}

type Bulk = TypedFunc<(u32, u32, u32), ()>;

/// The module instantiated with fuel on; its two functions and memory.
fn instance() -> (Store<()>, Bulk, Bulk, Memory) {
    let mut config = Config::new();
    config.consume_fuel(true);
    let engine = Engine::new(&config).unwrap();
    let module = wasmtime::Module::new(&engine, bulk_module()).unwrap();
    let mut store = Store::new(&engine, ());
    store.set_fuel(u64::MAX / 2).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let copy = instance.get_typed_func(&mut store, "copy").unwrap();
    let fill = instance.get_typed_func(&mut store, "fill").unwrap();
    let memory = instance.get_memory(&mut store, "memory").unwrap();
    (store, copy, fill, memory)
}

/// A different byte at every position of the first 64 KiB.
fn pattern() -> Vec<u8> {
    (0..PAGE).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn copies_of_every_short_length_match_memmove_in_both_directions() {
    let (mut store, copy, _, memory) = instance();
    let start = pattern();
    let mut checked = 0;
    for len in 0..=80usize {
        // Apart, then overlapping with the destination behind and ahead.
        for shift in [-200isize, -17, -16, -9, -8, -1, 0, 1, 3, 8, 15, 16, 33, 200] {
            let src = 1000usize;
            let dst = src.checked_add_signed(shift).unwrap();
            memory.data_mut(&mut store).copy_from_slice(&start);
            copy.call(&mut store, (dst as u32, src as u32, len as u32))
                .unwrap();
            let mut expected = start.clone();
            expected.copy_within(src..src + len, dst);
            assert!(
                memory.data(&store) == expected.as_slice(),
                "memory.copy of {len} bytes from {src} to {dst} differs from memmove"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 81 * 14);
}

#[test]
fn fills_of_every_short_length_write_the_low_byte_and_nothing_else() {
    let (mut store, _, fill, memory) = instance();
    let start = pattern();
    for len in 0..=80usize {
        for dst in [0usize, 5, 1000, PAGE - len] {
            memory.data_mut(&mut store).copy_from_slice(&start);
            fill.call(&mut store, (dst as u32, 0x1234_56ab, len as u32))
                .unwrap();
            let mut expected = start.clone();
            expected[dst..dst + len].fill(0xab);
            assert!(
                memory.data(&store) == expected.as_slice(),
                "memory.fill of {len} bytes at {dst} differs"
            );
        }
    }
}

#[test]
fn short_copies_and_fills_out_of_bounds_trap_before_writing() {
    let (mut store, copy, fill, memory) = instance();
    let start = pattern();
    memory.data_mut(&mut store).copy_from_slice(&start);
    let end = PAGE as u32;
    for len in [1u32, 2, 7, 16, 33, 64, 65] {
        for (name, result) in [
            ("copy to", copy.call(&mut store, (end - len + 1, 0, len))),
            ("copy from", copy.call(&mut store, (0, end - len + 1, len))),
            ("fill", fill.call(&mut store, (end - len + 1, 0, len))),
        ] {
            let error = result.expect_err(name);
            assert_eq!(
                error.downcast_ref::<Trap>(),
                Some(&Trap::MemoryOutOfBounds),
                "{name} the last {len} bytes plus one"
            );
        }
    }
    assert!(
        memory.data(&store) == start.as_slice(),
        "a trapping copy or fill wrote"
    );
    // The instance still works after the traps.
    copy.call(&mut store, (0, 100, 64)).unwrap();
    assert_eq!(memory.data(&store)[..64], start[100..164]);
}
