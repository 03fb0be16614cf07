//! The front door: `Moonbox` builds a ready host and runs the same
//! simulation as its three parts driven by hand.

use std::path::Path;
use std::sync::Arc;

use moonbox::{Moonbox, Policy, ScriptManager, ScriptSystem, demo, world_hash};

use crate::support::engine;

fn examples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/mods"))
}

#[test]
fn the_front_door_runs_the_demo_exactly_as_its_parts_do() {
    let registry = Arc::new(demo::registry().unwrap());
    let mut host = Moonbox::builder(Arc::clone(&registry))
        .policy(Policy::allow_all(&registry))
        .seed(3)
        .engine(engine().clone())
        .build()
        .unwrap();
    let loaded = host.load_dir(examples()).unwrap();
    assert_eq!(loaded.len(), 4);
    assert!(loaded.iter().all(Result::is_ok), "{loaded:?}");

    let mut manager = ScriptManager::new(
        engine().clone(),
        Arc::clone(&registry),
        Policy::allow_all(&registry),
    );
    manager.set_seed(3);
    for result in manager.load_all(examples()).unwrap() {
        result.unwrap();
    }
    let mut system = ScriptSystem::new();

    let mut a = demo::world(3, 50);
    let mut b = demo::world(3, 50);
    for _ in 0..20 {
        let by_host = host.tick(&mut a, 0.1).clone();
        let by_parts = system.tick(&mut manager, &mut b, 0.1);
        assert_eq!(&by_host, by_parts);
    }
    assert_eq!(
        world_hash(&a, &registry).unwrap(),
        world_hash(&b, &registry).unwrap()
    );
    let lines = |console: &moonbox::Console| -> Vec<String> {
        console.lines().map(|l| l.text.clone()).collect()
    };
    assert_eq!(lines(host.console()), lines(system.console()));
    assert_eq!(host.tick_count(), 20);
    assert!(!host.get("hostile").unwrap().is_active());
}

#[test]
fn unloading_a_mod_drops_its_links_to_the_entities_it_spawned() {
    let registry = Arc::new(demo::registry().unwrap());
    let mut host = Moonbox::builder(Arc::clone(&registry))
        .policy(Policy::allow_all(&registry))
        .engine(engine().clone())
        .build()
        .unwrap();
    host.load_dir(&examples().join("spawner")).unwrap();
    let mut world = demo::world(0, 10);
    for _ in 0..30 {
        assert!(host.tick(&mut world, 0.1).all_ran());
    }
    let spawned: Vec<hecs::Entity> = world
        .iter()
        .map(|e| e.entity())
        .filter(|e| host.spawned_by(*e) == Some("spawner"))
        .collect();
    assert!(!spawned.is_empty(), "the spawner spawned nothing");
    host.unload("spawner").unwrap();
    assert!(spawned.iter().all(|e| host.spawned_by(*e).is_none()));
    assert!(spawned.iter().all(|e| world.contains(*e)), "entities stay");
    assert!(host.tick(&mut world, 0.1).is_empty());
}

#[test]
fn the_default_policy_grants_nothing() {
    let registry = demo::registry().unwrap();
    let mut host = Moonbox::builder(registry)
        .engine(engine().clone())
        .build()
        .unwrap();
    host.load_dir(&examples().join("movement")).unwrap();
    let mut world = demo::world(0, 10);
    let report = host.tick(&mut world, 0.1);
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1, "{report:?}");
    assert!(matches!(
        failures[0].1,
        moonbox::ScriptError::SecurityViolation { .. }
    ));
}
