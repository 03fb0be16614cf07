//! The benchmark suite's programs (`benches/lua/`), at reduced sizes, print
//! the same in the sandbox as natively: the benchmark compares like with like.

use crate::lua_suite::{PROGRAMS, run_native, run_sandboxed, suite_native, suite_sandbox};
use crate::support::engine;

#[test]
fn every_benchmark_program_prints_the_same_as_native_lua() {
    let lua = suite_native(true).unwrap();
    let mut sandbox = suite_sandbox(engine(), true).unwrap();
    assert!(PROGRAMS.len() >= 9);
    for program in PROGRAMS {
        let native = run_native(&lua, program).unwrap();
        assert!(!native.is_empty(), "{} prints nothing", program.name);
        let sandboxed = run_sandboxed(&mut sandbox, program)
            .unwrap_or_else(|e| panic!("{} fails in the sandbox: {e}", program.name));
        assert_eq!(sandboxed, native, "{}", program.name);
    }
}
