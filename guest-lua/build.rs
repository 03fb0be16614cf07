//! Builds the two static libraries lua-src asks the final link for on WASI:
//! `setjmp` (the sjlj runtime) and `wasi-emulated-signal` (empty), and
//! precompiles the prelude to Lua bytecode.

fn main() {
    println!("cargo:rerun-if-changed=csrc");
    println!("cargo:rerun-if-changed=src/prelude.lua");
    if let Err(e) = precompile_prelude() {
        panic!("cannot precompile src/prelude.lua: {e}");
    }
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

/// Compiling the prelude's source was two thirds of the fuel a new sandbox
/// spent before its first script (about 740k of 1.14M). Loading bytecode
/// costs a fraction of that. Lua 5.4's bytecode depends on the sizes of
/// instructions, integers and floats (4, 8 and 8 bytes in both the host and
/// the wasm build), not on the pointer size, so the host's Lua (the same
/// vendored 5.4.9) can make it. The dump keeps line information, so errors
/// raised in the prelude still name `moonbox:<line>`.
fn precompile_prelude() -> Result<(), Box<dyn std::error::Error>> {
    let source = std::fs::read("src/prelude.lua")?;
    let lua = mlua::Lua::new();
    let prelude = lua.load(&source).set_name("=moonbox").into_function()?;
    let bytecode = prelude.dump(false);
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("prelude.luac");
    std::fs::write(out, bytecode)?;
    Ok(())
}
