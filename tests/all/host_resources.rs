//! What a mod can make the host hold or build is bounded: query pages,
//! component names, value sizes, entities spawned. Each test runs the attack
//! through the real sandbox and checks the host stayed healthy.

use moonbox::{
    HELD_ENTITY_BYTES, LimitKind, MAX_COMPONENT_NAME_LEN, MAX_QUERY_COMPONENTS, MAX_TEXT_LEN,
    ModStatus, Outcome, ScriptError, demo,
};

use crate::world::{Fixture, fixture, source};

#[test]
fn a_query_naming_a_component_twice_is_refused() {
    let mut f = fixture();
    // Before: the host encoded the value once per name into one page.
    f.load(
        "repeat",
        "read = ['Position']\nscope = 'all'",
        "function on_event()
           local names = {} for i = 1, 5000 do names[i] = 'Position' end
           print(pcall(world.query, world, table.unpack(names)))
           print(pcall(world.query, world, 'Position', 'Position'))
         end",
    );
    assert_eq!(f.poke(f.mover)["repeat"], Outcome::Ran);
    let printed = f.printed();
    assert!(printed[0].starts_with("[repeat] false\t"), "{printed:?}");
    assert!(
        printed[0].contains(&format!("at most {MAX_QUERY_COMPONENTS}")),
        "{printed:?}"
    );
    assert!(printed[1].contains("named twice"), "{printed:?}");
}

#[test]
fn query_pages_are_bounded_in_bytes_and_still_yield_every_entity() {
    let mut f = fixture();
    // 40 entities with a 100 KiB value each: 4 MB, more than a page holds.
    let big = "x".repeat(100 * 1024);
    for _ in 0..40 {
        f.world.spawn((demo::Critter { kind: big.clone() },));
    }
    f.load(
        "reader",
        "read = ['Critter']\nscope = 'all'",
        "function on_event()
           local n, bytes = 0, 0
           for e, c in world:query('Critter') do n = n + 1 bytes = bytes + #c.kind end
           print(n, bytes)
         end",
    );
    assert_eq!(f.poke(f.mover)["reader"], Outcome::Ran);
    // The fixture's tagged entity is a critter too ("ant").
    assert_eq!(
        f.printed(),
        [format!("[reader] 41\t{}", 40 * big.len() + 3)]
    );
}

#[test]
fn a_value_larger_than_its_cap_ends_the_call_and_writes_nothing() {
    let mut f = fixture();
    f.load(
        "bloat",
        "read = ['Critter']\nwrite = ['Critter']\nscope = 'all'",
        "function on_event(name, e)
           world:set(e, 'Critter', { kind = 'ok' })
           local ok = pcall(world.set, world, e, 'Critter', { kind = string.rep('x', 100000) })
           print('caught', ok)
         end",
    );
    let before = f
        .world
        .get::<&demo::Critter>(f.tagged)
        .unwrap()
        .kind
        .clone();
    let report = f.poke(f.tagged);
    let Outcome::Failed { error, disabled } = &report["bloat"] else {
        panic!("{report:?}");
    };
    assert_eq!(error.limit_kind(), Some(LimitKind::World), "{error:?}");
    assert!(*disabled);
    assert!(
        f.printed().iter().all(|l| !l.contains("caught")),
        "pcall caught it"
    );
    assert_eq!(
        f.world.get::<&demo::Critter>(f.tagged).unwrap().kind,
        before
    );
}

#[test]
fn spawning_past_the_entity_quota_ends_the_call_and_the_others_run_on() {
    let mut f = fixture();
    let mut greedy = source(
        "greedy",
        "spawn = true\nwrite = ['Position']",
        "function on_event() for i = 1, 6 do world:spawn{ Position = { x = i, y = 0 } } end end",
    );
    greedy.manifest.budget.entities = Some(5);
    f.manager.load(greedy).unwrap();
    f.load("witness", "", "function on_event() print('still here') end");
    let count = f.world.len();
    let report = f.poke(f.mover);
    let Outcome::Failed { error, .. } = &report["greedy"] else {
        panic!("{report:?}");
    };
    assert!(
        matches!(error, ScriptError::ResourceLimitExceeded { kind: LimitKind::World, message } if message.contains("quota of 5")),
        "{error:?}"
    );
    assert_eq!(f.world.len(), count, "the spawns were rolled back");
    assert_eq!(report["witness"], Outcome::Ran);
    assert!(f.printed().contains(&"[witness] still here".to_owned()));
}

#[test]
fn writing_into_entities_it_did_not_spawn_counts_against_the_byte_quota() {
    let mut f = fixture();
    // 200 of the engine's entities; each write stays under the 16 KiB
    // value cap, all of them together pass the mod's 64 KiB quota.
    let critters: Vec<_> = (0..200)
        .map(|_| f.world.spawn((demo::Critter { kind: "ant".into() },)))
        .collect();
    let mut bloat = source(
        "bloat",
        "read = ['Critter']\nwrite = ['Critter']\nscope = 'all'",
        "function on_event()
           local big = string.rep('x', 1000)
           for e in world:query('Critter') do
             pcall(world.set, world, e, 'Critter', { kind = big })
           end
           print('wrote them all')
         end",
    );
    bloat.manifest.budget.world_bytes = Some(64 * 1024);
    f.manager.load(bloat).unwrap();
    f.load("witness", "", "function on_event() print('still here') end");
    let report = f.poke(f.mover);
    let Outcome::Failed { error, disabled } = &report["bloat"] else {
        panic!("{report:?}");
    };
    assert!(
        matches!(error, ScriptError::ResourceLimitExceeded { kind: LimitKind::World, message }
            if message.contains("quota of 65536 bytes")),
        "{error:?}"
    );
    assert!(*disabled);
    assert_eq!(report["witness"], Outcome::Ran);
    let printed = f.printed();
    assert!(
        !printed.iter().any(|l| l.contains("wrote them all")),
        "pcall caught it"
    );
    assert!(printed.contains(&"[witness] still here".to_owned()));
    // Rolled back: every value is the engine's again, and the mod holds nothing.
    for e in critters {
        assert_eq!(f.world.get::<&demo::Critter>(e).unwrap().kind, "ant");
    }
    assert_eq!(f.system.world_usage("bloat").bytes, 0);
}

#[test]
fn honest_writes_and_despawned_spawns_do_not_use_up_the_byte_quota() {
    let mut f = fixture();
    // Each call: rewrite the engine entity's value (same size), grow and
    // shrink the critter's text, spawn ten entities and despawn the ten
    // of the call before.
    let mut churn = source(
        "churn",
        "read = ['Position', 'Critter']\nwrite = ['Position', 'Critter']\nspawn = true\ndespawn = true\nscope = 'all'",
        "local mine, calls = {}, 0
         function on_event(name, e)
           calls = calls + 1
           local p = world:get(e, 'Position')
           world:set(e, 'Position', { x = p.x + 1, y = p.y })
           world:set(e, 'Critter', { kind = string.rep('g', 500 + calls % 2 * 500) })
           for _, old in ipairs(mine) do world:despawn(old) end
           mine = {}
           for i = 1, 10 do mine[i] = world:spawn{ Position = { x = i, y = calls } } end
         end",
    );
    // Enough for about 1.5 KiB of growth and 10 small entities, far less
    // than 300 calls would add without credits.
    churn.manifest.budget.world_bytes = Some(4096);
    f.manager.load(churn).unwrap();
    let size = |f: &Fixture, e, component| {
        let registry = f.manager.registry();
        registry
            .get_msgpack(&f.world, e, component)
            .unwrap()
            .unwrap()
            .len() as u64
    };
    let engines_critter = size(&f, f.tagged, "Critter");
    for call in 0..300 {
        let report = f.poke(f.tagged);
        assert_eq!(report["churn"], Outcome::Ran, "call {call}");
    }
    let usage = f.system.world_usage("churn");
    assert_eq!(usage.entities, 10);
    // Ten spawned entities with one Position each (a type without heap
    // data counts its size), and the critter's growth (its String counts
    // its encoding: 500 bytes of text after an even call count; the
    // engine's was "ant").
    let position = size_of::<demo::Position>() as u64;
    let growth = size(&f, f.tagged, "Critter") - engines_critter;
    assert!(growth > 490, "{growth}");
    assert_eq!(
        usage.bytes,
        10 * (position + HELD_ENTITY_BYTES) + growth + HELD_ENTITY_BYTES
    );
    // Spawns the engine despawns are credited at the next tick.
    let spawned: Vec<_> = f
        .world
        .iter()
        .map(|e| e.entity())
        .filter(|&e| f.system.spawned_by(e) == Some("churn"))
        .collect();
    assert_eq!(spawned.len(), 10);
    for e in spawned {
        f.world.despawn(e).unwrap();
    }
    f.tick();
    let usage = f.system.world_usage("churn");
    assert_eq!(
        (usage.entities, usage.bytes),
        (0, growth + HELD_ENTITY_BYTES)
    );
}

#[test]
fn component_names_are_bounded_so_reasons_stay_short() {
    let mut f = fixture();
    f.load(
        "longname",
        "read = ['Position']\nscope = 'all'",
        "function on_event(name, e)
           print(pcall(world.get, world, e, string.rep('N', 1000000)))
           world:get(e, string.rep('H', 1000000))
         end",
    );
    let report = f.poke(f.mover);
    let printed = f.printed();
    assert!(
        printed[0].contains(&format!("longer than {MAX_COMPONENT_NAME_LEN}")),
        "{printed:?}"
    );
    assert!(printed[0].len() < 1024, "{} bytes", printed[0].len());
    assert!(matches!(report["longname"], Outcome::Failed { .. }));
    let Some(ModStatus::Disabled { reason }) =
        f.manager.get("longname").map(|m| m.status().clone())
    else {
        panic!("not disabled");
    };
    assert!(reason.len() <= MAX_TEXT_LEN, "{} bytes", reason.len());
    assert!(f.printed().iter().all(|l| l.len() <= MAX_TEXT_LEN + 64));
}

#[test]
fn event_data_no_mod_can_receive_is_the_engines_error_and_no_mod_is_blamed() {
    let mut f = fixture();
    f.load(
        "listener",
        "",
        "function on_event(name, data) print(name) end",
    );
    // 40 levels: before, every mod with an on_event handler was disabled.
    let mut deep = serde_json::json!(1);
    for _ in 0..40 {
        deep = serde_json::json!([deep]);
    }
    let error = f
        .system
        .dispatch_event(&mut f.manager, &mut f.world, "deep", &deep)
        .unwrap_err();
    assert!(
        matches!(error, moonbox::EventError::TooDeep { .. }),
        "{error}"
    );
    let error = f
        .system
        .dispatch_event(&mut f.manager, &mut f.world, "nan", &[f64::NAN])
        .unwrap_err();
    assert!(
        matches!(error, moonbox::EventError::NonFinite { .. }),
        "{error}"
    );
    assert!(f.active("listener"));
    assert!(f.printed().is_empty(), "no mod ran: {:?}", f.printed());
    // Data at the documented depth still arrives.
    let mut fine = serde_json::json!(1);
    for _ in 1..moonbox::MAX_EVENT_DEPTH {
        fine = serde_json::json!([fine]);
    }
    let report = f
        .system
        .dispatch_event(&mut f.manager, &mut f.world, "fine", &fine)
        .unwrap();
    assert_eq!(report["listener"], Outcome::Ran);
    assert_eq!(f.printed(), ["[listener] fine"]);
}

#[test]
fn world_files_are_loaded_entity_by_entity_and_their_size_is_bounded() {
    let registry = demo::registry().unwrap();
    let mut text = String::from(r#"{"entities": ["#);
    for i in 0..=moonbox::MAX_WORLD_ENTITIES {
        if i > 0 {
            text.push(',');
        }
        text.push_str("{}");
    }
    text.push_str("]}");
    let Err(error) = moonbox::world_from_json(&text, &registry) else {
        panic!(
            "a world of more than {} entities loaded",
            moonbox::MAX_WORLD_ENTITIES
        );
    };
    assert_eq!(error, moonbox::WorldFileError::TooManyEntities);
    // A bad entity is named by its index, and the keys are checked.
    let Err(error) = moonbox::world_from_json(
        r#"{"entities": [{}, {"Health": {"hp": "x", "max": 1}}]}"#,
        &registry,
    ) else {
        panic!("a bad entity loaded");
    };
    assert!(
        matches!(error, moonbox::WorldFileError::Entity { index: 1, .. }),
        "{error}"
    );
    assert!(moonbox::world_from_json(r#"{"entities": [], "extra": 1}"#, &registry).is_err());
    assert!(moonbox::world_from_json(r#"{"things": []}"#, &registry).is_err());
    let world = moonbox::world_from_json(
        r#"{"entities": [{"Health": {"hp": 1, "max": 2}}, {}]}"#,
        &registry,
    )
    .unwrap();
    assert_eq!(world.len(), 2);
}

#[test]
fn a_replay_cannot_ask_for_unbounded_events_in_a_tick() {
    use moonbox::{RecordedEvent, ReplayError, ReplayInputs, Simulation};
    let registry = std::sync::Arc::new(demo::registry().unwrap());
    let mut inputs = ReplayInputs::demo(&registry, 0, 2, 0.1).unwrap();
    inputs.events = (0..=moonbox::MAX_EVENTS_PER_TICK)
        .map(|_| RecordedEvent {
            tick: 1,
            name: "spam".into(),
            data: serde_json::Value::Null,
        })
        .collect();
    let result = Simulation::new(crate::support::engine(), registry, &inputs);
    assert!(
        matches!(result, Err(ReplayError::Inputs { ref message }) if message.contains("events at tick 1")),
        "{:?}",
        result.err()
    );
}

/// Fuel one `poke` of the only mod `name` used.
fn fuel_of_poke(f: &mut crate::world::Fixture, name: &str) -> u64 {
    let before = f.manager.get(name).unwrap().stats().fuel_used;
    assert_eq!(f.poke(f.mover)[name], Outcome::Ran);
    f.manager.get(name).unwrap().stats().fuel_used - before
}

#[test]
fn queries_pay_fuel_for_every_entity_the_host_scans() {
    // Before: opening a query over N entities cost the same few hundred
    // units of fuel whatever N was, while the host scanned all N.
    let opener = "function on_event()
                    for i = 1, 16 do world:query('Position', 'Velocity') end
                  end";
    let mut small = fixture();
    small.load(
        "opener",
        "read = ['Position', 'Velocity']\nscope = 'all'",
        opener,
    );
    let mut large = fixture();
    for i in 0..20_000 {
        large.world.spawn((demo::Position {
            x: f64::from(i),
            y: 0.0,
        },));
    }
    large.load(
        "opener",
        "read = ['Position', 'Velocity']\nscope = 'all'",
        opener,
    );
    let extra = fuel_of_poke(&mut large, "opener") - fuel_of_poke(&mut small, "opener");
    // 16 queries, each checking 20,000 more entities for two components.
    let scanned = 16 * 20_000 * 2;
    assert!(
        extra >= scanned * moonbox::HOST_FUEL_PRICES.entity,
        "{extra} fuel for {scanned} entity checks"
    );
}

#[test]
fn host_work_past_the_budget_ends_the_call_as_out_of_fuel() {
    let mut f = fixture();
    for i in 0..50_000 {
        f.world.spawn((demo::Position {
            x: f64::from(i),
            y: 0.0,
        },));
    }
    let mut scanner = source(
        "scanner",
        "read = ['Position']\nscope = 'all'",
        "function on_event() for i = 1, 1000 do world:query('Position') end end",
    );
    // Ample for the Lua loop (about 100 units per turn), not for the scans.
    scanner.manifest.budget.fuel_per_call = Some(5_000_000);
    f.manager.load(scanner).unwrap();
    f.load("witness", "", "function on_event() print('still here') end");
    let hash = f.hash();
    let report = f.poke(f.mover);
    let Outcome::Failed { error, disabled } = &report["scanner"] else {
        panic!("{report:?}");
    };
    assert_eq!(error.limit_kind(), Some(LimitKind::Fuel), "{error:?}");
    assert!(*disabled);
    assert_eq!(report["witness"], Outcome::Ran);
    assert_eq!(f.hash(), hash);
    // It stopped at the first query the tank could not pay for.
    assert!(f.manager.get("scanner").unwrap().stats().fuel_used <= 5_000_000);
}

#[test]
fn console_lines_and_values_cost_fuel_by_their_size() {
    let mut f = fixture();
    f.load(
        "short",
        "",
        "function on_event() for i = 1, 100 do print('x') end end",
    );
    let short = fuel_of_poke(&mut f, "short");
    let mut f = fixture();
    f.load(
        "long",
        "",
        "local s = string.rep('x', 4000)
         function on_event() for i = 1, 100 do print(s) end end",
    );
    let long = fuel_of_poke(&mut f, "long");
    // 100 lines of 3,999 more bytes each, copied into the host.
    let copied = 100 * 3_999;
    assert!(
        long - short >= copied * moonbox::HOST_FUEL_PRICES.byte,
        "{short} vs {long}"
    );
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct Scale {
    factor: f32,
}

#[test]
fn values_that_would_break_the_saved_world_are_refused_after_narrowing() {
    // Before: 1e300 passed the guest's finiteness check as an f64, became
    // infinity in the f32 field, and the saved world no longer loaded; an
    // unknown field was silently dropped.
    let mut registry = moonbox::ComponentRegistry::new();
    registry.register::<Scale>("Scale").unwrap();
    let registry = std::sync::Arc::new(registry);
    let mut host = crate::support::host(&registry);
    host.load(source(
        "scaler",
        "read = ['Scale']\nwrite = ['Scale']\nscope = 'all'",
        "function on_event(name, e)
           print(pcall(world.set, world, e, 'Scale', { factor = 1e300 }))
           print(pcall(world.set, world, e, 'Scale', { factor = 2, facter = 3 }))
           world:set(e, 'Scale', { factor = 0.5 })
         end",
    ))
    .unwrap();
    let mut world = hecs::World::new();
    let e = world.spawn((Scale { factor: 1.0 },));
    let report = host
        .dispatch_event(&mut world, "poke", &e.to_bits().get())
        .unwrap()
        .clone();
    assert_eq!(report["scaler"], Outcome::Ran);
    let printed: Vec<String> = host.console().lines().map(|l| l.text.clone()).collect();
    assert!(
        printed[0].starts_with("[scaler] false\t") && printed[0].contains("out of range"),
        "{printed:?}"
    );
    assert!(
        printed[1].starts_with("[scaler] false\t") && printed[1].contains("no field 'facter'"),
        "{printed:?}"
    );
    assert_eq!(*world.get::<&Scale>(e).unwrap(), Scale { factor: 0.5 });
    // The world still saves and loads.
    let saved = moonbox::world_to_json(&world, &registry).unwrap();
    let loaded = moonbox::world_from_json(&saved.to_string(), &registry).unwrap();
    assert_eq!(loaded.len(), 1);
}

#[test]
fn nan_is_the_same_on_every_cpu() {
    // x86 makes 0/0 a negative NaN ("-nan"), ARM a positive one; with
    // canonicalisation every arithmetic NaN is the positive quiet NaN.
    let mut sandbox = crate::support::sandbox();
    sandbox
        .run(
            "nan.lua",
            b"local z = 0 print(tostring(z/z), tostring(math.huge - math.huge), \
              string.format('%q', z/z), math.sqrt(-1))",
        )
        .unwrap();
    assert_eq!(crate::support::printed(&sandbox), ["nan\tnan\t(0/0)\tnan"]);
}

#[test]
fn every_float_operation_gives_the_canonical_nan_bits() {
    // The NaN bits themselves, through string.pack: each operation that
    // makes a NaN, from numbers or from a NaN with other bits (a negative
    // one, one with a payload; unpacked, so never canonicalised), gives
    // 0x7ff8000000000000 (f32: 0x7fc00000). On x86 without canonicalisation
    // the made ones are 0xfff8000000000000 and the others keep their bits.
    // Sign operations (negation, math.abs) only flip or clear the sign.
    let script = br#"
        local function bits(x) return string.format('%016x', string.unpack('<i8', string.pack('<d', x))) end
        local function bits32(x) return string.format('%08x', string.unpack('<I4', string.pack('<f', x))) end
        local z, inf = 0.0, math.huge
        local neg = string.unpack('<d', string.pack('<i8', -2251799813685248)) -- fff8000000000000
        local payload = string.unpack('<d', string.pack('<i8', 0x7ff8000000000001))
        local negf = string.unpack('<f', string.pack('<I4', 0xffc00000))
        local made = { z / z, inf - inf, z * inf, math.sqrt(-1), math.fmod(1, z), -inf % inf,
                       math.log(-1), (-8) ^ 0.5, z // z, math.tointeger(z / z) or z / z }
        local carried = {}
        for _, x in ipairs({ neg, payload }) do
          for _, y in ipairs({ x + 1, 1 - x, x * 2, x / 2, x // 1, x % 2, x ^ 2, math.sqrt(x),
                                math.floor(x), math.ceil(x), math.fmod(x, 3), x + 0.0, negf + 1 }) do
            carried[#carried + 1] = y
          end
        end
        local out = {}
        for _, x in ipairs(made) do out[#out + 1] = bits(x) end
        for _, x in ipairs(carried) do out[#out + 1] = bits(x) end
        print(table.concat(out, ' '))
        print(bits32(z / z), bits32(neg), bits32(negf), bits(negf))
        print(bits(neg), bits(payload), bits(-(z / z)), bits(math.abs(neg)))
    "#;
    let mut sandbox = crate::support::sandbox();
    sandbox.run("nan_bits.lua", script).unwrap();
    let printed = crate::support::printed(&sandbox);
    let canonical = vec!["7ff8000000000000"; 10 + 2 * 13].join(" ");
    assert_eq!(
        printed,
        [
            canonical.as_str(),
            "7fc00000\t7fc00000\t7fc00000\t7ff8000000000000",
            "fff8000000000000\t7ff8000000000001\tfff8000000000000\t7ff8000000000000",
        ]
    );
}

#[test]
fn query_values_are_read_a_page_at_a_time_as_documented() {
    // docs/world-api.md: a write or despawn during the loop is seen by the
    // loop only for entities whose page (512 entities) was not fetched yet.
    let mut f = fixture();
    let first_page_entity = f.world.spawn((demo::Position { x: 0.0, y: 0.0 },));
    let mut later = Vec::new();
    for i in 0..1_200 {
        later.push(f.world.spawn((demo::Position {
            x: f64::from(i),
            y: 0.0,
        },)));
    }
    let (written, despawned) = (later[1_100], later[1_150]);
    f.load(
        "looper",
        "read = ['Position']\nwrite = ['Position']\ndespawn = true\nscope = 'all'",
        &format!(
            "function on_event()
               local n, seen_near, seen_far, saw_despawned = 0, nil, nil, false
               for e, p in world:query('Position') do
                 n = n + 1
                 if n == 1 then
                   world:set({near}, 'Position', {{ x = -1, y = -1 }})
                   world:set({far}, 'Position', {{ x = -2, y = -2 }})
                   world:despawn({gone})
                 end
                 if e == {near} then seen_near = p.x end
                 if e == {far} then seen_far = p.x end
                 if e == {gone} then saw_despawned = true end
               end
               print(n, seen_near, seen_far, saw_despawned)
             end",
            near = first_page_entity.to_bits(),
            far = written.to_bits(),
            gone = despawned.to_bits(),
        ),
    );
    assert_eq!(f.poke(f.mover)["looper"], Outcome::Ran);
    // 2 fixture entities + 1 + 1,200, less the one despawned in a later page.
    // The first-page entity keeps the value its page was read with; the
    // later-page entity shows the write.
    assert_eq!(f.printed(), ["[looper] 1202\t0.0\t-2.0\tfalse"]);
}
