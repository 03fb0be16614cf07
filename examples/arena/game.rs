//! A small arena game embedding Moonbox: its own components, two mods from
//! disk, one engine function (`nearest_enemy`) and one command
//! (`play_sound`). `main.rs` runs it; `tests/all/arena_example.rs` runs
//! the same code under `cargo test`.

use std::path::Path;

use hecs::{Entity, World};
use moonbox::{CallContext, ComponentRegistry, Moonbox, Policy};
use serde::{Deserialize, Serialize};

/// Where an entity stands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pos {
    pub x: f32,
    pub y: f32,
}

/// Hit points: a newtype, so mods see a number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hp(pub i32);

/// Which side an entity fights for: mods see "Red" or "Blue".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Team {
    Red,
    Blue,
}

/// The result of `engine.nearest_enemy(e)`.
#[derive(Serialize)]
struct Nearest {
    entity: u64,
    distance: f32,
}

/// What `engine.emit("play_sound", ...)` carries.
#[derive(Debug, Deserialize)]
pub struct Sound {
    pub name: String,
}

/// What a game of `ticks` ticks ended with.
#[derive(Debug)]
pub struct Outcome {
    /// Fighters with hit points left, per team.
    pub red_alive: usize,
    pub blue_alive: usize,
    /// Sounds played, by name, in order.
    pub sounds: Vec<String>,
    /// Mods that failed in some tick.
    pub failures: usize,
}

/// The engine's own code: the living enemy nearest to `entity`.
fn nearest_enemy(world: &World, entity: Entity) -> Option<Nearest> {
    let me = *world.get::<&Pos>(entity).ok()?;
    let team = *world.get::<&Team>(entity).ok()?;
    world
        .query::<(Entity, &Pos, &Team, &Hp)>()
        .iter()
        .filter(|(_, _, t, hp)| **t != team && hp.0 > 0)
        .map(|(e, p, _, _)| (e, (p.x - me.x).hypot(p.y - me.y)))
        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.to_bits().cmp(&b.0.to_bits())))
        .map(|(e, distance)| Nearest {
            entity: e.to_bits().get(),
            distance,
        })
}

/// Runs the arena for `ticks` ticks with the mods under `mods`.
pub fn play(mods: &Path, ticks: u32) -> Result<Outcome, Box<dyn std::error::Error>> {
    let mut registry = ComponentRegistry::new();
    registry
        .register::<Pos>("Pos")?
        .register::<Hp>("Hp")?
        .register::<Team>("Team")?;
    let policy = Policy::allow_all(&registry);
    let mut host = Moonbox::builder(registry)
        .policy(policy)
        .function(
            "nearest_enemy",
            2_000,
            |ctx: &CallContext<'_>, bits: u64| {
                let entity = Entity::from_bits(bits).ok_or("not an entity")?;
                Ok::<_, &str>(nearest_enemy(ctx.world(), entity))
            },
        )?
        .build()?;
    for loaded in host.load_dir(mods)? {
        loaded?;
    }

    let mut world = World::new();
    for i in 0..4 {
        let y = i as f32 * 3.0;
        world.spawn((Pos { x: 0.0, y }, Hp(5), Team::Red));
        world.spawn((Pos { x: 12.0, y }, Hp(3), Team::Blue));
    }
    let mut outcome = Outcome {
        red_alive: 0,
        blue_alive: 0,
        sounds: Vec::new(),
        failures: 0,
    };
    for _ in 0..ticks {
        let report = host.tick(&mut world, 0.1);
        outcome.failures += report.failures().count();
        for command in report.commands() {
            if command.name() == "play_sound" {
                outcome.sounds.push(command.decode::<Sound>()?.name);
            }
        }
    }
    for (hp, team) in world.query::<(&Hp, &Team)>().iter() {
        match (hp.0 > 0, team) {
            (true, Team::Red) => outcome.red_alive += 1,
            (true, Team::Blue) => outcome.blue_alive += 1,
            (false, _) => {}
        }
    }
    Ok(outcome)
}
