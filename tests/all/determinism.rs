//! The same script with the same seed costs the same fuel and prints the same.

use moonbox::SandboxConfig;

use crate::support::{engine, printed};

const WORKLOAD: &[u8] = br#"
local t = {}
for i = 1, 2000 do t["k" .. i] = math.random() end
local n = 0
for k, v in pairs(t) do n = n + #k end
print(n, tostring(math.random(1 << 30)), collectgarbage("count") > 0, os == nil)
"#;

fn run_once(seed: u64) -> (u64, Vec<String>) {
    let mut sandbox = engine()
        .sandbox(&SandboxConfig {
            seed,
            ..SandboxConfig::default()
        })
        .unwrap();
    sandbox.run("work.lua", WORKLOAD).unwrap();
    (sandbox.last_fuel_used(), printed(&sandbox))
}

#[test]
fn same_script_and_seed_cost_the_same_fuel_in_every_sandbox() {
    let first = run_once(3);
    for _ in 0..3 {
        assert_eq!(run_once(3), first);
    }
    assert!(first.0 > 0);
}

#[test]
fn clocks_and_randomness_of_the_guest_are_virtual() {
    // Nothing in the safe library reads the clock; `os` is absent. The guest's
    // WASI clocks are frozen: sandbox creation and runs cost identical fuel
    // whenever they happen.
    let a = run_once(11);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let b = run_once(11);
    assert_eq!(a, b);
}
