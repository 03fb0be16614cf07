//! Moonbox: NaN canonicalisation off the data path.
//!
//! Cranelift's own pass (`enable_nan_canonicalization`) follows every
//! floating-point result that may be a NaN with a compare and a select of
//! the canonical NaN. On x86-64 that is `cmpunord` + `pblendvb`, and the
//! result waits for both: in a chain of float operations each one pays their
//! latency. This pass gives the same results (the same canonical NaN, after
//! the same operations) with a branch instead for scalars: the result is
//! compared with itself and, if unordered, a cold block supplies the
//! canonical NaN. The branch is never taken by honest float code and the
//! compare is not on the result's path. Vectors keep the select, as upstream.
//!
//! The builder turns Cranelift's flag off and this pass on when wasmtime asks
//! for NaN canonicalisation (`crate::builder`); it runs on each function's
//! CLIF right after translation.

use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::{
    Function, Inst, InstBuilder, InstructionData, MemFlagsData, Opcode, types,
};

/// Canonicalises the NaN results of every floating-point operation of
/// `func` that Cranelift's `enable_nan_canonicalization` would.
pub fn canonicalize_nans(func: &mut Function) {
    let mut pos = FuncCursor::new(func);
    while let Some(_block) = pos.next_block() {
        while let Some(inst) = pos.next_inst() {
            if is_fp_arith(&pos.func.dfg.insts[inst]) {
                add_nan_canon(&mut pos, inst);
            }
        }
    }
}

/// The operations Cranelift's pass canonicalises (`is_fp_arith` in
/// `cranelift_codegen::nan_canonicalization`): everything that may make a
/// new NaN, not the sign-bit operations.
fn is_fp_arith(data: &InstructionData) -> bool {
    match *data {
        InstructionData::Unary { opcode, .. } => matches!(
            opcode,
            Opcode::Ceil
                | Opcode::Floor
                | Opcode::Nearest
                | Opcode::Sqrt
                | Opcode::Trunc
                | Opcode::Fdemote
                | Opcode::Fpromote
                | Opcode::FvpromoteLow
                | Opcode::Fvdemote
        ),
        InstructionData::Binary { opcode, .. } => matches!(
            opcode,
            Opcode::Fadd | Opcode::Fdiv | Opcode::Fmax | Opcode::Fmin | Opcode::Fmul | Opcode::Fsub
        ),
        InstructionData::Ternary { opcode, .. } => opcode == Opcode::Fma,
        _ => false,
    }
}

/// Makes `inst`'s result canonical if it is a NaN. Leaves the cursor at the
/// end of `inst`'s block, so that iteration goes on with the block that now
/// holds the instructions after it.
fn add_nan_canon(pos: &mut FuncCursor, inst: Inst) {
    let val = pos.func.dfg.first_result(inst);
    let ty = pos.func.dfg.value_type(val);
    match ty {
        types::F32 | types::F64 => {}
        types::F32X4 | types::F64X2 => return add_vector_canon(pos, inst),
        // wasm has no other float types
        _ => return,
    }
    // `inst` now defines `raw`; `val`, which every use names, becomes the
    // parameter of the block that holds the rest of `inst`'s block.
    let raw = pos.func.dfg.replace_result(val, ty);
    let block = pos
        .func
        .layout
        .inst_block(inst)
        .expect("instruction in the layout");
    let next = pos
        .func
        .layout
        .next_inst(inst)
        .expect("an instruction before its block's terminator");
    let rest = pos.func.dfg.make_block();
    pos.func.layout.split_block(rest, next);
    pos.func.dfg.attach_block_param(rest, val);

    let nan = pos.func.dfg.make_block();
    pos.func.layout.append_block(nan);
    pos.func.layout.set_cold(nan);

    pos.goto_bottom(block);
    let is_nan = pos.ins().fcmp(FloatCC::Unordered, raw, raw);
    pos.ins().brif(is_nan, nan, &[], rest, &[raw.into()]);

    pos.goto_bottom(nan);
    let canonical = if ty == types::F32 {
        pos.ins().f32const(Ieee32::NAN)
    } else {
        pos.ins().f64const(Ieee64::NAN)
    };
    pos.ins().jump(rest, &[canonical.into()]);

    pos.goto_bottom(block);
}

/// Upstream's sequence for vectors: a lane-wise select of the canonical NaN.
fn add_vector_canon(pos: &mut FuncCursor, inst: Inst) {
    let val = pos.func.dfg.first_result(inst);
    let ty = pos.func.dfg.value_type(val);
    let raw = pos.func.dfg.replace_result(val, ty);
    pos.goto_after_inst(inst);
    let lane = if ty == types::F32X4 {
        pos.ins().f32const(Ieee32::NAN)
    } else {
        pos.ins().f64const(Ieee64::NAN)
    };
    let canonical = pos.ins().splat(ty, lane);
    let is_nan = pos.ins().fcmp(FloatCC::Unordered, raw, raw);
    let is_nan = pos.ins().bitcast(ty, MemFlagsData::new(), is_nan);
    pos.ins().with_result(val).bitselect(is_nan, canonical, raw);
    // back onto the last instruction added, so the next one is looked at
    let last = pos.func.dfg.value_def(val).unwrap_inst();
    pos.goto_inst(last);
}
