//! The table form of `world:query`: reused tables, and values written back
//! a page at a time (docs/world-api.md).

use hecs::Entity;
use moonbox::demo::{Critter, Position, Velocity};
use moonbox::{LimitKind, Outcome, ScriptError};

use crate::world::{Fixture, fixture};

const MOVER: &str = "read = ['Position', 'Velocity']\nwrite = ['Position']\nscope = 'all'";

/// `n` entities with a Position and a Velocity, besides the fixture's.
fn movers(f: &mut Fixture, n: usize) -> Vec<Entity> {
    (0..n)
        .map(|i| {
            let x = i as f64;
            f.world
                .spawn((Position { x, y: -x }, Velocity { x: 1.0, y: 0.5 }))
        })
        .collect()
}

fn positions(f: &Fixture) -> Vec<(u64, Position)> {
    let mut all: Vec<_> = f
        .world
        .query::<(Entity, &Position)>()
        .iter()
        .map(|(e, p)| (e.to_bits().get(), *p))
        .collect();
    all.sort_by_key(|(e, _)| *e);
    all
}

#[test]
fn writes_through_the_loop_tables_equal_world_set_over_many_pages() {
    // 1,300 movers: three pages of 512.
    let mut per_entity = fixture();
    movers(&mut per_entity, 1300);
    per_entity.load(
        "m",
        MOVER,
        "function on_tick(dt)
           for e, p, v in world:query('Position', 'Velocity') do
             world:set(e, 'Position', { x = p.x + v.x * dt, y = p.y + v.y * dt })
           end
         end",
    );
    let mut batched = fixture();
    movers(&mut batched, 1300);
    batched.load(
        "m",
        MOVER,
        "function on_tick(dt)
           local tables = {}
           for e, p, v in world:query{ 'Position', 'Velocity', write = { 'Position' } } do
             p.x = p.x + v.x * dt
             p.y = p.y + v.y * dt
             tables[p] = true
           end
           local n = 0 for _ in pairs(tables) do n = n + 1 end
           print('tables', n)
         end",
    );
    let before = positions(&batched);
    for _ in 0..3 {
        assert_eq!(per_entity.tick()["m"], Outcome::Ran);
        assert_eq!(batched.tick()["m"], Outcome::Ran);
    }
    assert_ne!(positions(&batched), before, "the loop wrote");
    assert_eq!(positions(&batched), positions(&per_entity));
    // One table for all 1,301 entities.
    assert_eq!(batched.printed()[0], "[m] tables\t1");
}

#[test]
fn a_reused_table_never_shows_the_last_entitys_fields() {
    let mut f = fixture();
    for kind in ["ant", "bee", "cat"] {
        f.world.spawn((Critter { kind: kind.into() },));
    }
    f.load(
        "r",
        "read = ['Critter']\nscope = 'all'",
        "function on_event()
           local seen = {}
           for e, c in world:query{ 'Critter' } do
             seen[#seen + 1] = tostring(c.kind) .. ':' .. tostring(c.extra)
             c.extra = 'stale'
           end
           print(table.concat(seen, ' '))
         end",
    );
    assert_eq!(f.poke(f.mover)["r"], Outcome::Ran);
    assert_eq!(f.printed(), ["[r] ant:nil ant:nil bee:nil cat:nil"]);
}

#[test]
fn an_error_rolls_the_loops_writes_back() {
    let mut f = fixture();
    movers(&mut f, 600);
    let before = positions(&f);
    f.load(
        "m",
        MOVER,
        "function on_event()
           local n = 0
           for e, p in world:query{ 'Position', 'Velocity', write = { 'Position' } } do
             p.x = 1e6
             n = n + 1
             if n == 550 then error('boom') end
           end
         end",
    );
    let report = f.poke(f.mover);
    assert!(
        matches!(&report["m"], Outcome::Failed { error: ScriptError::Runtime { message, .. }, .. } if message.contains("boom")),
        "{report:?}"
    );
    assert_eq!(positions(&f), before, "the first page's writes were undone");
}

#[test]
fn break_writes_the_current_entity_and_a_caught_error_keeps_the_finished_ones() {
    let mut f = fixture();
    let entities = movers(&mut f, 3);
    f.load(
        "m",
        MOVER,
        "function on_event()
           for e, p in world:query{ 'Position', 'Velocity', write = { 'Position' } } do
             p.x = 100
             break
           end
           local n = 0
           print(pcall(function()
             for e, p in world:query{ 'Position', 'Velocity', write = { 'Position' } } do
               n = n + 1
               p.y = 200
               if n == 3 then error('third', 0) end
             end
           end))
         end",
    );
    assert_eq!(f.poke(f.mover)["m"], Outcome::Ran);
    assert_eq!(f.printed(), ["[m] false\tthird"]);
    // Query order: the fixture's mover first, then the three.
    let pos = |e: Entity| *f.world.get::<&Position>(e).unwrap();
    assert_eq!(pos(f.mover), Position { x: 100.0, y: 200.0 });
    assert_eq!(pos(entities[0]), Position { x: 0.0, y: 200.0 });
    assert_eq!(
        pos(entities[1]),
        Position { x: 1.0, y: -1.0 },
        "its body failed"
    );
}

#[test]
fn writing_back_a_component_not_granted_for_writing_is_a_violation() {
    let mut f = fixture();
    f.load(
        "sneaky",
        MOVER,
        "function on_event()
           for e, p, v in world:query{ 'Position', 'Velocity', write = { 'Velocity' } } do end
         end",
    );
    f.load(
        "typo",
        MOVER,
        "function on_event()
           print(pcall(function()
             for e, p in world:query{ 'Position', write = { 'Velocity' } } do end
           end))
         end",
    );
    let report = f.poke(f.mover);
    assert!(
        matches!(
            &report["sneaky"],
            Outcome::Failed {
                error: ScriptError::SecurityViolation { .. },
                disabled: true
            }
        ),
        "{report:?}"
    );
    assert_eq!(report["typo"], Outcome::Ran);
    assert!(
        f.printed().iter().any(|l| l.starts_with("[typo] false")
            && l.contains("'Velocity' is in `write` but not queried")),
        "{:?}",
        f.printed()
    );
    assert_eq!(
        *f.world.get::<&Velocity>(f.mover).unwrap(),
        Velocity { x: 10.0, y: 0.0 }
    );
}

#[test]
fn entities_despawned_in_the_loop_are_not_written_and_bad_values_are_refused() {
    let mut f = fixture();
    let entities = movers(&mut f, 2);
    let mut grants = MOVER.to_owned();
    grants.push_str("\ndespawn = true");
    f.load(
        "m",
        &grants,
        "function on_event()
           local all = {}
           for e in world:query('Position', 'Velocity') do all[#all + 1] = e end
           for e, p in world:query{ 'Position', 'Velocity', write = { 'Position' } } do
             if e == all[1] then world:despawn(all[3]) end
             p.x = 7
           end
           print(pcall(function()
             for e, p in world:query{ 'Position', 'Velocity', write = { 'Position' } } do
               p.x = 'seven'
             end
           end))
         end",
    );
    assert_eq!(f.poke(f.mover)["m"], Outcome::Ran);
    let printed = f.printed();
    assert!(
        printed[0].starts_with("[m] false") && printed[0].contains("component 'Position'"),
        "{printed:?}"
    );
    assert!(!f.world.contains(entities[1]), "despawned at the commit");
    assert_eq!(f.world.get::<&Position>(entities[0]).unwrap().x, 7.0);
}

#[test]
fn the_loop_pays_for_its_writes_within_the_byte_quota() {
    let mut f = fixture();
    for _ in 0..100 {
        f.world.spawn((Critter { kind: "ant".into() },));
    }
    let mut grow = crate::world::source(
        "grow",
        "read = ['Critter']\nwrite = ['Critter']\nscope = 'all'",
        "function on_event()
           for e, c in world:query{ 'Critter', write = { 'Critter' } } do c.kind = string.rep('x', 1000) end
         end",
    );
    grow.manifest.budget.world_bytes = Some(16 * 1024);
    f.manager.load(grow).unwrap();
    let report = f.poke(f.mover);
    let Outcome::Failed { error, .. } = &report["grow"] else {
        panic!("{report:?}");
    };
    assert_eq!(error.limit_kind(), Some(LimitKind::World), "{error:?}");
    assert!(
        f.world
            .query::<&Critter>()
            .iter()
            .all(|c| c.kind.len() == 3)
    );
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct Score(i64);

#[test]
fn a_component_that_is_not_a_table_is_read_but_not_written_back() {
    let mut registry = moonbox::ComponentRegistry::new();
    registry.register::<Score>("Score").unwrap();
    registry.register::<Position>("Position").unwrap();
    let mut host = crate::support::host(&std::sync::Arc::new(registry));
    host.load(crate::world::source(
        "s",
        "read = ['Score', 'Position']\nwrite = ['Score', 'Position']\nscope = 'all'",
        "function on_event()
           local total = 0
           for e, s, p in world:query{ 'Score', 'Position', write = { 'Position' } } do
             total = total + s
             p.x = s
           end
           print(total)
           print(pcall(function()
             for e, s in world:query{ 'Score', write = { 'Score' } } do end
           end))
         end",
    ))
    .unwrap();
    let mut world = hecs::World::new();
    let e = world.spawn((Score(5), Position { x: 0.0, y: 0.0 }));
    world.spawn((Score(7), Position { x: 0.0, y: 0.0 }));
    let report = host.dispatch_event(&mut world, "poke", &0).unwrap().clone();
    assert_eq!(report["s"], Outcome::Ran);
    let printed: Vec<String> = host.console().lines().map(|l| l.text.clone()).collect();
    assert_eq!(printed[0], "[s] 12");
    assert!(
        printed[1].starts_with("[s] false")
            && printed[1].contains("component 'Score' is not a table"),
        "{printed:?}"
    );
    assert_eq!(world.get::<&Position>(e).unwrap().x, 5.0);
}
