//! Load and soak runs (SECURITY.md and BENCHMARKS.md record the figures).
//!
//! ```sh
//! cargo run --release --example soak -- many 1000 100     # 1000 mods, 100 ticks
//! cargo run --release --example soak -- demo 100000       # the demo plus hostile mods
//! ```
//!
//! `many N T` loads N small mods at once (each reads and writes its own
//! spawned entity every tick) and runs T ticks. `demo T` runs the demo world
//! and example mods with three more hostile ones for T ticks: one that
//! exhausts its fuel, one that exhausts its memory, one that prints without
//! end; every 100 ticks the disabled ones are enabled again, so their
//! sandboxes are discarded and recreated all run long. Both print resident
//! memory, open file descriptors and threads at the start, after warm-up
//! and at the end, and the ticks per second.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // a measuring tool

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use moonbox::demo;
use moonbox::{ModSource, Policy};
use moonbox::{ScriptEngine, ScriptManager, ScriptSystem};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["many", mods, ticks] => many(mods.parse()?, ticks.parse()?),
        ["demo", ticks] => soak_demo(ticks.parse()?),
        _ => bail!("usage: soak many <mods> <ticks> | soak demo <ticks>"),
    }
}

/// Resident memory, open file descriptors and threads of this process.
fn sample(label: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let rss_kib = field("VmRSS:");
    let threads = field("Threads:");
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    println!(
        "{label:>28}: resident {:>8.1} MiB, {fds} fds, {threads} threads",
        rss_kib as f64 / 1024.0
    );
    rss_kib
}

fn manifest(name: &str, permissions: &str, extra: &str) -> String {
    format!("name = '{name}'\nversion = '1'\n{extra}\n[permissions]\n{permissions}\n")
}

fn many(mods: usize, ticks: u64) -> Result<()> {
    let engine = ScriptEngine::new()?;
    let registry = Arc::new(demo::registry()?);
    let mut manager =
        ScriptManager::new(engine, Arc::clone(&registry), Policy::allow_all(&registry));
    let mut world = demo::world(1, demo::DEMO_ENTITIES);
    let mut system = ScriptSystem::new();
    sample("start");
    let lua = "local me
        function on_load() me = world:spawn{ Position = { x = 0, y = 0 }, Velocity = { x = 1, y = 1 } } end
        function on_tick(dt)
          local p, v = world:get(me, 'Position'), world:get(me, 'Velocity')
          world:set(me, 'Position', { x = p.x + v.x * dt, y = p.y + v.y * dt })
        end";
    let permissions = "read = ['Position', 'Velocity']\nwrite = ['Position', 'Velocity']\nspawn = true\nscope = 'spawned'";
    let started = Instant::now();
    for i in 0..mods {
        let name = format!("m{i:05}");
        let source = ModSource::from_parts(
            "soak",
            &manifest(&name, permissions, ""),
            [("main.lua".to_string(), lua.as_bytes().to_vec())],
        )?;
        manager.load(source)?;
    }
    println!(
        "loaded {mods} mods in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    sample("after loading");
    let started = Instant::now();
    for tick in 1..=ticks {
        if tick % (ticks / 5).max(1) == 0 {
            sample(&format!("tick {tick}"));
        }
        let outcomes = system.tick(&mut manager, &mut world, 1.0 / 60.0);
        if !outcomes.all_ran() {
            bail!("a mod failed: {outcomes:?}");
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{ticks} ticks of {mods} mods in {elapsed:.2} s: {:.1} ticks/s, {:.1} µs per mod call",
        ticks as f64 / elapsed,
        elapsed * 1e6 / (ticks as f64 * mods as f64)
    );
    sample("end");
    Ok(())
}

fn soak_demo(ticks: u64) -> Result<()> {
    let engine = ScriptEngine::new()?;
    let registry = Arc::new(demo::registry()?);
    let mut manager =
        ScriptManager::new(engine, Arc::clone(&registry), Policy::allow_all(&registry));
    for source in demo::example_mods()? {
        manager.load(source)?;
    }
    let budget = "[budget]\nfuel_per_call = 2000000\nmemory = 1048576";
    let hostile = [
        ("spinner", "function on_tick() while true do end end"),
        (
            "hoarder",
            "local t = {} function on_tick() while true do t[#t + 1] = ('x'):rep(4096) end end",
        ),
        (
            "chatty",
            "function on_tick() for i = 1, 200 do print(('spam '):rep(40)) end error('and fail') end",
        ),
    ];
    for (name, lua) in hostile {
        let source = ModSource::from_parts(
            "soak",
            &manifest(name, "read = ['Position']", budget),
            [("main.lua".to_string(), lua.as_bytes().to_vec())],
        )?;
        manager.load(source)?;
    }
    let mut world = demo::world(1, demo::DEMO_ENTITIES);
    let mut system = ScriptSystem::new();
    sample("start");
    let warm_up = (ticks / 10).max(1);
    let mut after_warm_up = 0;
    let mut disabled_events = 0u64;
    let started = Instant::now();
    for tick in 1..=ticks {
        let outcomes = system.tick(&mut manager, &mut world, 1.0 / 60.0);
        disabled_events += outcomes
            .failures()
            .filter(|(_, _, disabled)| *disabled)
            .count() as u64;
        if tick % 100 == 0 {
            for (name, _) in hostile {
                if !manager.get(name).context("hostile mod")?.is_active() {
                    manager.enable(name)?;
                }
            }
        }
        if tick == warm_up {
            after_warm_up = sample(&format!("after warm-up (tick {tick})"));
        }
        if tick % (ticks / 5).max(1) == 0 {
            sample(&format!("tick {tick}"));
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let end = sample("end");
    println!(
        "{ticks} ticks in {elapsed:.1} s: {:.0} ticks/s; {disabled_events} disables (and re-enables) of hostile mods",
        ticks as f64 / elapsed
    );
    println!(
        "resident growth after warm-up: {:+.1} MiB; console {} lines kept, {} dropped",
        (end as f64 - after_warm_up as f64) / 1024.0,
        system.console().lines().len(),
        system.console().dropped()
    );
    println!("world: {} entities", world.len());
    for m in manager.mods() {
        let stats = m.stats();
        println!(
            "  {:<10} {:<8} fuel {:>14}  peak memory {:>9}",
            m.name(),
            if m.is_active() { "active" } else { "disabled" },
            stats.fuel_used,
            stats.memory_peak
        );
    }
    Ok(())
}
