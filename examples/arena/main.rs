//! `cargo run --release --example arena`: the arena game of `game.rs`.

mod game;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mods = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/arena/mods");
    let outcome = game::play(&mods, 200)?;
    println!(
        "after 200 ticks: red {} alive, blue {} alive, {} sounds ({} failures)",
        outcome.red_alive,
        outcome.blue_alive,
        outcome.sounds.len(),
        outcome.failures
    );
    for sound in outcome.sounds.iter().take(5) {
        println!("  play_sound {sound}");
    }
    Ok(())
}
