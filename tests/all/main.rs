//! Moonbox integration tests: one binary, one module per behaviour.
//!
//! Every test drives the real guest component under wasmtime, but
//! `codegen`'s, which check the workspace's patched code generator on
//! small modules of their own.

// A failed unwrap is how a test reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod arena_example;
mod cache;
mod cli;
mod codegen;
mod console;
mod declared;
mod determinism;
mod engine;
mod engine_api;
mod errors;
mod faults;
mod host;
mod host_resources;
mod imports;
mod limits;
#[path = "../common/lua_suite.rs"]
mod lua_suite;
mod lua_suite_outputs;
mod mods;
#[path = "../common/native_lua.rs"]
mod native_lua;
mod permissions;
mod profiler;
mod registry;
mod reload;
mod replay;
mod report;
mod security;
mod semantics;
mod sim_snapshots;
mod snapshots;
mod specialise;
mod support;
mod tasks;
mod value_shapes;
mod watch;
mod world;
mod world_batch;
