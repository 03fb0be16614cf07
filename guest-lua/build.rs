//! Builds the two static libraries lua-src asks the final link for on WASI:
//! `setjmp` (the sjlj runtime) and `wasi-emulated-signal` (empty).

fn main() {
    println!("cargo:rerun-if-changed=csrc");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.starts_with("wasm32-wasi") {
        return;
    }
    cc::Build::new()
        .file("csrc/wasm_sjlj.c")
        // The same lowering flags as Lua's own objects, so that the compiler
        // defines the `__c_longjmp` tag this file throws.
        .flag("-mllvm")
        .flag("-wasm-enable-sjlj")
        .flag("-mllvm")
        .flag("-wasm-use-legacy-eh=false")
        .compile("setjmp");
    cc::Build::new()
        .file("csrc/empty.c")
        .compile("wasi-emulated-signal");
}
