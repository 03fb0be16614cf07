//! The built-in demo that `moonbox sim` runs with no arguments: a few
//! component types, a seeded world of critters, and the example mods of
//! `examples/mods/` (embedded, so the demo runs from any directory).

use hecs::World;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::mods::{LoadError, ModSource};
use crate::{ComponentRegistry, RegistryError};

/// Where an entity is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Horizontal, in `0..1000`.
    pub x: f64,
    /// Vertical, in `0..1000`.
    pub y: f64,
}

/// How fast it moves, in units per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Velocity {
    /// Horizontal.
    pub x: f64,
    /// Vertical.
    pub y: f64,
}

/// Hit points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Current.
    pub hp: i64,
    /// Maximum.
    pub max: i64,
}

/// A tag: the entity is a critter of some kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Critter {
    /// `ant`, `beetle`, `moth`...
    pub kind: String,
}

/// Entities in the demo world.
pub const DEMO_ENTITIES: usize = 300;

/// A registry with the demo's components: `Position`, `Velocity`, `Health`, `Critter`.
///
/// # Errors
/// None in practice (the names are distinct).
pub fn registry() -> Result<ComponentRegistry, RegistryError> {
    let mut registry = ComponentRegistry::new();
    registry
        .register::<Position>("Position")?
        .register::<Velocity>("Velocity")?
        .register::<Health>("Health")?
        .register::<Critter>("Critter")?;
    Ok(registry)
}

/// The demo world: `count` critters placed by `seed`; most move, some are wounded.
pub fn world(seed: u64, count: usize) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut world = World::new();
    let kinds = ["ant", "beetle", "moth"];
    for i in 0..count {
        let position = Position {
            x: rng.random_range(0.0..1000.0),
            y: rng.random_range(0.0..1000.0),
        };
        let max = 20;
        let health = Health {
            hp: rng.random_range(1..=max),
            max,
        };
        let critter = Critter {
            kind: kinds[i % kinds.len()].to_owned(),
        };
        if i % 5 == 4 {
            world.spawn((position, health, critter)); // resting: no velocity
        } else {
            let velocity = Velocity {
                x: rng.random_range(-30.0..30.0),
                y: rng.random_range(-30.0..30.0),
            };
            world.spawn((position, velocity, health, critter));
        }
    }
    world
}

/// The example mods, as embedded in the binary: `hostile`, `medic`,
/// `movement`, `spawner`.
///
/// # Errors
/// None in practice (they are tested).
pub fn example_mods() -> Result<Vec<ModSource>, LoadError> {
    macro_rules! file {
        ($mod:literal, $path:literal) => {
            (
                $path.to_string(),
                include_bytes!(concat!("../../examples/mods/", $mod, "/", $path)).to_vec(),
            )
        };
    }
    macro_rules! manifest {
        ($mod:literal) => {
            include_str!(concat!("../../examples/mods/", $mod, "/mod.toml"))
        };
    }
    Ok(vec![
        ModSource::from_parts(
            "built-in:hostile",
            manifest!("hostile"),
            [file!("hostile", "main.lua")],
        )?,
        ModSource::from_parts(
            "built-in:medic",
            manifest!("medic"),
            [file!("medic", "main.lua"), file!("medic", "lib/heal.lua")],
        )?,
        ModSource::from_parts(
            "built-in:movement",
            manifest!("movement"),
            [file!("movement", "main.lua")],
        )?,
        ModSource::from_parts(
            "built-in:spawner",
            manifest!("spawner"),
            [file!("spawner", "main.lua")],
        )?,
    ])
}
