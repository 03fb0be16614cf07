//! The component registry: engine types by name, converted both ways, with
//! bad values refused whole (host logic, no wasm).

use moonbox::{ComponentRegistry, RegistryError};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Position {
    x: f32,
    y: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Faction {
    Red,
    Blue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inventory {
    owner: String,
    gold: i64,
    open: bool,
    items: Vec<Item>,
    faction: Faction,
    note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Item {
    name: String,
    tags: Vec<String>,
    weight: f64,
}

/// A component whose conversion code panics, as a buggy engine type might.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Fragile(u8);

impl<'de> Deserialize<'de> for Fragile {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let n = u8::deserialize(deserializer)?;
        assert!(n != 13, "unlucky number");
        Ok(Fragile(n))
    }
}

fn registry() -> ComponentRegistry {
    let mut registry = ComponentRegistry::new();
    registry
        .register::<Position>("Position")
        .unwrap()
        .register::<Inventory>("Inventory")
        .unwrap()
        .register::<Fragile>("Fragile")
        .unwrap();
    registry
}

#[test]
fn nested_values_round_trip() {
    let registry = registry();
    let mut world = hecs::World::new();
    let e = world.spawn(());
    let value = json!({
        "owner": "ann", "gold": 9_007_199_254_740_993_i64, "open": true,
        "items": [{"name": "sword", "tags": ["sharp", "old"], "weight": 2.5}, {"name": "rope", "tags": [], "weight": 0.25}],
        "faction": "Blue", "note": null
    });
    registry.set(&mut world, e, "Inventory", &value).unwrap();
    assert_eq!(
        world.get::<&Inventory>(e).unwrap().gold,
        9_007_199_254_740_993
    );
    assert_eq!(
        registry
            .get::<serde_json::Value>(&world, e, "Inventory")
            .unwrap(),
        Some(value)
    );
}

#[test]
fn malformed_values_are_refused_and_nothing_is_written() {
    let registry = registry();
    let mut world = hecs::World::new();
    let e = world.spawn((Position { x: 1.0, y: 2.0 },));
    for bad in [
        json!({"x": 1.0}),             // missing field
        json!({"x": "one", "y": 2.0}), // wrong type
        json!([1.0, 2.0, 3.0]),        // wrong shape
        json!(null),
        json!({"x": 1.0, "y": {"z": 1}}),
    ] {
        let error = registry.set(&mut world, e, "Position", &bad).unwrap_err();
        assert!(
            matches!(error, RegistryError::InvalidValue { .. }),
            "{bad}: {error:?}"
        );
        assert_eq!(
            *world.get::<&Position>(e).unwrap(),
            Position { x: 1.0, y: 2.0 },
            "{bad} changed the world"
        );
    }
    let inventory = json!({"owner": "a", "gold": 1.5, "open": true, "items": [], "faction": "Red", "note": null});
    assert!(
        registry
            .set(&mut world, e, "Inventory", &inventory)
            .is_err(),
        "a float is not an integer"
    );
    assert!(!registry.has(&world, e, "Inventory").unwrap());
}

#[test]
fn integers_are_accepted_where_floats_are_expected() {
    let registry = registry();
    let mut world = hecs::World::new();
    let e = world.spawn(());
    registry
        .set(&mut world, e, "Position", &json!({"x": 3, "y": -4}))
        .unwrap();
    assert_eq!(
        *world.get::<&Position>(e).unwrap(),
        Position { x: 3.0, y: -4.0 }
    );
}

#[test]
fn unknown_names_dead_entities_and_duplicates_are_errors() {
    let mut registry = registry();
    let mut world = hecs::World::new();
    let e = world.spawn(());
    assert!(matches!(
        registry.get::<serde_json::Value>(&world, e, "Mana"),
        Err(RegistryError::UnknownComponent { .. })
    ));
    world.despawn(e).unwrap();
    assert!(matches!(
        registry.set(&mut world, e, "Position", &json!({"x": 1, "y": 1})),
        Err(RegistryError::NoSuchEntity { .. })
    ));
    assert!(matches!(
        registry.register::<Position>("Position"),
        Err(RegistryError::DuplicateName { .. })
    ));
    assert_eq!(
        registry.names().collect::<Vec<_>>(),
        ["Fragile", "Inventory", "Position"]
    );
}

#[test]
fn get_has_and_remove_follow_the_world() {
    let registry = registry();
    let mut world = hecs::World::new();
    let e = world.spawn((Position { x: 0.5, y: 0.0 },));
    assert_eq!(
        registry
            .get::<serde_json::Value>(&world, e, "Inventory")
            .unwrap(),
        None
    );
    assert!(registry.has(&world, e, "Position").unwrap());
    assert!(registry.remove(&mut world, e, "Position").unwrap());
    assert!(!registry.remove(&mut world, e, "Position").unwrap());
    assert!(!registry.has(&world, e, "Position").unwrap());
}

#[test]
fn a_panicking_conversion_is_an_error_and_leaves_the_world_unchanged() {
    let registry = registry();
    let mut world = hecs::World::new();
    let e = world.spawn((Fragile(1),));
    let error = registry
        .set(&mut world, e, "Fragile", &json!(13))
        .unwrap_err();
    assert!(matches!(error, RegistryError::ConversionPanicked { .. }));
    assert_eq!(*world.get::<&Fragile>(e).unwrap(), Fragile(1));
    registry.set(&mut world, e, "Fragile", &json!(2)).unwrap();
    assert_eq!(*world.get::<&Fragile>(e).unwrap(), Fragile(2));
}
