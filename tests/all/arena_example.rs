//! The runnable example `examples/arena` (an engine's own components, two
//! mods from disk, an engine function and a command), run by `cargo test`.

#[path = "../../examples/arena/game.rs"]
#[allow(dead_code)] // the example's own `main` prints what the test asserts
mod game;

#[test]
fn the_arena_example_plays_to_the_end_with_sounds_from_both_mods() {
    let mods = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/arena/mods");
    let outcome = game::play(&mods, 200).unwrap();
    assert_eq!(outcome.failures, 0, "{outcome:?}");
    // Four blue fighters of 3 hit points: 12 hits (brawler), 4 laments (bard).
    assert_eq!(
        (outcome.red_alive, outcome.blue_alive),
        (4, 0),
        "{outcome:?}"
    );
    let count = |name: &str| outcome.sounds.iter().filter(|s| *s == name).count();
    assert_eq!((count("hit"), count("lament")), (12, 4), "{outcome:?}");
    // Deterministic: the same game again gives the same sounds in the same order.
    assert_eq!(game::play(&mods, 200).unwrap().sounds, outcome.sounds);
}
