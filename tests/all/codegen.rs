//! The vendored code generator (`vendor/wasmtime-internal-cranelift`):
//! `memory.copy` and `memory.fill` of a length known only at run time run
//! inline up to 64 bytes and call the host above. Small modules compiled
//! with fuel on, as Moonbox compiles the guest, checked byte for byte
//! against a model for every length through the inline classes and past
//! them, with overlapping copies both ways. And NaN canonicalisation, done
//! by the vendored crate's own pass: every float operation that may make a
//! NaN gives the canonical one, scalar and vector, and every other result
//! is untouched.

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

/// The canonical NaNs Cranelift's pass gives (positive, quiet, no payload).
const CANONICAL_F64: u64 = 0x7ff8_0000_0000_0000;
const CANONICAL_F32: u32 = 0x7fc0_0000;

/// Inputs: ordinary numbers, zeros, infinities, and NaNs with other bits
/// (negative, with a payload, signalling) that canonicalisation must
/// replace.
const F64_INPUTS: [u64; 10] = [
    0x3ff8_0000_0000_0000, // 1.5
    0xc002_0000_0000_0000, // -2.25
    0x0000_0000_0000_0000, // 0
    0x8000_0000_0000_0000, // -0
    0x7ff0_0000_0000_0000, // inf
    0xfff0_0000_0000_0000, // -inf
    CANONICAL_F64,
    0xfff8_0000_0000_0000,
    0x7ff8_0000_0000_0001,
    0x7ff0_0000_0000_0001,
];

/// What the function computes, as wasm (operands from `local 0` and
/// `local 1`, i64 bit patterns, result an i64 bit pattern) and as Rust.
struct FloatCase {
    name: &'static str,
    body: Vec<Instruction<'static>>,
    model: fn(f64, f64) -> u64,
}

fn f64_bits(x: f64) -> u64 {
    if x.is_nan() {
        CANONICAL_F64
    } else {
        x.to_bits()
    }
}

fn f32_bits(x: f32) -> u64 {
    u64::from(if x.is_nan() {
        CANONICAL_F32
    } else {
        x.to_bits()
    })
}

/// wasm's `min`/`max`: NaN if either operand is one, -0 below +0.
fn wasm_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        f64::from_bits(a.to_bits() | b.to_bits())
    } else {
        a.min(b)
    }
}

fn wasm_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        f64::from_bits(a.to_bits() & b.to_bits())
    } else {
        a.max(b)
    }
}

fn float_cases() -> Vec<FloatCase> {
    use Instruction as I;
    let a = || [I::LocalGet(0), I::F64ReinterpretI64];
    let b = || [I::LocalGet(1), I::F64ReinterpretI64];
    let out = || [I::I64ReinterpretF64];
    let binary = |name, op: I<'static>, model| FloatCase {
        name,
        body: [a().as_slice(), b().as_slice(), &[op], out().as_slice()].concat(),
        model,
    };
    let unary = |name, op: I<'static>, model| FloatCase {
        name,
        body: [a().as_slice(), &[op], out().as_slice()].concat(),
        model,
    };
    let splat = |x: [I<'static>; 2]| [x[0].clone(), x[1].clone(), I::F64x2Splat];
    let vector = |name, op: I<'static>, model| FloatCase {
        name,
        body: [
            splat(a()).as_slice(),
            splat(b()).as_slice(),
            &[op, I::F64x2ExtractLane(1)],
            out().as_slice(),
        ]
        .concat(),
        model,
    };
    vec![
        binary("f64.add", I::F64Add, |a, b| f64_bits(a + b)),
        binary("f64.sub", I::F64Sub, |a, b| f64_bits(a - b)),
        binary("f64.mul", I::F64Mul, |a, b| f64_bits(a * b)),
        binary("f64.div", I::F64Div, |a, b| f64_bits(a / b)),
        binary("f64.min", I::F64Min, |a, b| f64_bits(wasm_min(a, b))),
        binary("f64.max", I::F64Max, |a, b| f64_bits(wasm_max(a, b))),
        unary("f64.sqrt", I::F64Sqrt, |a, _| f64_bits(a.sqrt())),
        unary("f64.ceil", I::F64Ceil, |a, _| f64_bits(a.ceil())),
        unary("f64.floor", I::F64Floor, |a, _| f64_bits(a.floor())),
        unary("f64.trunc", I::F64Trunc, |a, _| f64_bits(a.trunc())),
        unary("f64.nearest", I::F64Nearest, |a, _| {
            f64_bits(a.round_ties_even())
        }),
        // Sign operations are not canonicalised: they only move the sign.
        unary("f64.neg", I::F64Neg, |a, _| (-a).to_bits()),
        unary("f64.abs", I::F64Abs, |a, _| a.abs().to_bits()),
        FloatCase {
            name: "f32.demote_f64",
            body: [
                a().as_slice(),
                &[I::F32DemoteF64, I::I32ReinterpretF32, I::I64ExtendI32U],
            ]
            .concat(),
            model: |a, _| f32_bits(a as f32),
        },
        FloatCase {
            name: "f64.promote_f32 of the demoted",
            body: [
                a().as_slice(),
                &[I::F32DemoteF64, I::F64PromoteF32],
                out().as_slice(),
            ]
            .concat(),
            model: |a, _| f64_bits(f64::from(a as f32)),
        },
        // Several in one block, each one's NaN feeding the next.
        FloatCase {
            name: "(a + b) * b - a / b",
            body: [
                a().as_slice(),
                b().as_slice(),
                &[I::F64Add],
                b().as_slice(),
                &[I::F64Mul],
                a().as_slice(),
                b().as_slice(),
                &[I::F64Div, I::F64Sub],
                out().as_slice(),
            ]
            .concat(),
            model: |a, b| f64_bits((a + b) * b - a / b),
        },
        vector("f64x2.add", I::F64x2Add, |a, b| f64_bits(a + b)),
        vector("f64x2.mul", I::F64x2Mul, |a, b| f64_bits(a * b)),
        vector("f64x2.div", I::F64x2Div, |a, b| f64_bits(a / b)),
        vector("f64x2.min", I::F64x2Min, |a, b| f64_bits(wasm_min(a, b))),
        FloatCase {
            name: "f64x2.sqrt",
            body: [
                splat(a()).as_slice(),
                &[I::F64x2Sqrt, I::F64x2ExtractLane(0)],
                out().as_slice(),
            ]
            .concat(),
            model: |a, _| f64_bits(a.sqrt()),
        },
    ]
}

#[test]
fn float_operations_give_the_canonical_nan_and_exact_results() {
    let cases = float_cases();
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([ValType::I64; 2], [ValType::I64]);
    module.section(&types);
    let mut functions = FunctionSection::new();
    for _ in &cases {
        functions.function(0);
    }
    module.section(&functions);
    let mut exports = ExportSection::new();
    for (index, case) in cases.iter().enumerate() {
        exports.export(case.name, ExportKind::Func, index as u32);
    }
    module.section(&exports);
    let mut code = CodeSection::new();
    for case in &cases {
        let mut body = Function::new([]);
        for instruction in &case.body {
            body.instruction(instruction);
        }
        body.instruction(&Instruction::End);
        code.function(&body);
    }
    module.section(&code);

    let mut config = Config::new();
    config
        .consume_fuel(true)
        .cranelift_nan_canonicalization(true);
    let engine = Engine::new(&config).unwrap();
    assert_eq!(engine.get_cranelift_nan_canonicalization(), Some(true));
    let module = wasmtime::Module::new(&engine, module.finish()).unwrap();
    let mut store = Store::new(&engine, ());
    store.set_fuel(u64::MAX / 2).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let mut checked = 0;
    for case in &cases {
        let function: TypedFunc<(u64, u64), u64> =
            instance.get_typed_func(&mut store, case.name).unwrap();
        for a in F64_INPUTS {
            for b in F64_INPUTS {
                let got = function.call(&mut store, (a, b)).unwrap();
                let want = (case.model)(f64::from_bits(a), f64::from_bits(b));
                assert_eq!(
                    got, want,
                    "{}({a:#018x}, {b:#018x}) gave {got:#018x}, not {want:#018x}",
                    case.name
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, cases.len() * F64_INPUTS.len() * F64_INPUTS.len());
}
