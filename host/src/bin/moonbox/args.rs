//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use moonbox::{DEFAULT_FUEL, DEFAULT_MAX_DEPTH};

use crate::size::parse_size;

/// Run untrusted Lua 5.4 scripts in a WebAssembly sandbox.
#[derive(Debug, Parser)]
#[command(name = "moonbox", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Compile the guest instead of loading it from the compiled-guest
    /// cache (the platform's cache folder, or MOONBOX_CACHE), and store nothing.
    #[arg(long, global = true)]
    pub no_cache: bool,

    /// Specialise each mod (for run: the script) with the weval executable
    /// at PATH (scripts/build-weval builds the pinned one): faster, less
    /// fuel, same results; loading takes seconds more. Recorded runs replay
    /// only with it too.
    #[arg(long, global = true, value_name = "PATH")]
    pub weval: Option<PathBuf>,
}

impl Cli {
    /// The settings of the engine every command uses.
    pub fn engine_options(&self) -> crate::engine::Options {
        crate::engine::Options {
            no_cache: self.no_cache,
            weval: self.weval.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one Lua script in a fresh sandbox.
    ///
    /// Exit codes: 0 success, 1 Lua syntax or runtime error, 2 usage or I/O
    /// error, 3 resource limit exceeded, 4 security violation.
    Run(RunArgs),
    /// Run mods against an ECS world for a number of ticks (the main job).
    ///
    /// With no mod folders and no --world it runs the built-in demo: a world
    /// of critters and the example mods, one of them hostile. Each MODS_DIR
    /// is a mod (a folder with mod.toml) or a folder of mods.
    ///
    /// Exit codes: 0 the run completed (mods may have been disabled), 2 bad
    /// usage, unreadable or invalid world file or policy.
    Sim(SimArgs),
    /// Write editor annotations for mods (Lua language server, `---@meta`):
    /// the components with their fields, the world API, the handlers.
    ///
    /// Exit codes: 0 written, 2 unreadable or invalid components file, or
    /// an output that cannot be written.
    Types(TypesArgs),
    /// Re-run a recording made with `sim --record` and compare every tick.
    ///
    /// Exit codes: 0 identical, 5 diverged (the first diverging tick is
    /// named), 2 unreadable, corrupted or newer-version file.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub struct TypesArgs {
    /// Annotate the components this file declares (see --components of
    /// `sim`) instead of the built-in demo's.
    #[arg(long, value_name = "FILE")]
    pub components: Option<PathBuf>,

    /// Write to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The replay file.
    pub file: PathBuf,

    /// Print one JSON object with the outcome on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Mod folders, or folders of mod folders. Default: the built-in example mods.
    #[arg(value_name = "MODS_DIR")]
    pub mods: Vec<PathBuf>,

    /// A world file (JSON, see docs/mods.md#world-files). Default: the built-in demo world.
    #[arg(long, value_name = "FILE")]
    pub world: Option<PathBuf>,

    /// Ticks to run. Default: 300; with --watch, until stopped (Ctrl-C).
    #[arg(long, value_name = "N")]
    pub ticks: Option<u64>,

    /// Seed of the demo world and of every mod's random sources.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,

    /// Simulated seconds per tick.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0 / 60.0)]
    pub dt: f64,

    /// Declare the world's components in a TOML file (fields with types,
    /// docs/mods.md#declared-components) instead of using the demo's; needs
    /// --world. Recorded in --record's file.
    #[arg(long, value_name = "FILE", requires = "world")]
    pub components: Option<PathBuf>,

    /// Events to inject: a JSON list of {"tick": N, "name": "...", "data": ...}.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,

    /// Record the run (inputs and every tick's result) to FILE for `moonbox replay`.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// Write a snapshot of the whole simulation (world, mods with their Lua
    /// state, console) to FILE at the end of the run (docs/snapshots.md).
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,

    /// Continue from a snapshot written by --save, with the same mods, world
    /// source and seed: --ticks more ticks are run after the snapshot's.
    /// With --record, the replay file starts from it (embedded in the file).
    #[arg(long, value_name = "FILE")]
    pub load: Option<PathBuf>,

    /// With --load and --record: the replay file names the snapshot file
    /// (in the same folder) instead of embedding it.
    #[arg(long, requires_all = ["load", "record"])]
    pub reference_snapshot: bool,

    /// Keep running in real time (one tick per --dt seconds) and reload a
    /// mod when its files change, printing each reload and any error, the
    /// old version's on_unload state handed to the new one's on_reload.
    #[arg(long, requires = "mods", conflicts_with_all = ["record", "save", "load", "report", "json"])]
    pub watch: bool,

    /// Write a self-contained HTML report of the run to FILE: fuel, memory
    /// and entities per tick as charts, the ticks where mods were disabled
    /// and why, the console's end, and the world's positions at the end.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Profile the mods' fuel: write the fuel spent per Lua stack to FILE
    /// (folded stacks) and a flamegraph to FILE.svg. Profiling costs fuel
    /// (+41% on the demo, docs/profiling.md), so fuel figures differ from a
    /// run without it; it cannot be combined with --record, --save or --load.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["record", "save", "load"])]
    pub profile: Option<PathBuf>,

    /// Print one JSON object with the outcome on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The Lua source file to run.
    pub script: PathBuf,

    /// Fuel for the script (roughly 10 million units per millisecond of Lua work).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_FUEL)]
    pub fuel: u64,

    /// Lua heap limit: bytes, or a number with a KiB or MiB suffix.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "16MiB")]
    pub memory: u64,

    /// Maximum Lua call depth (0 disables the check).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_DEPTH)]
    pub max_depth: u32,

    /// Seed of math.random and of every random source the script can reach.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,

    /// Profile the script's fuel: write the fuel spent per Lua stack to
    /// FILE (folded stacks) and a flamegraph to FILE.svg. Profiling costs
    /// fuel (up to +120% for pure Lua code, docs/profiling.md).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,

    /// Print one JSON object with the outcome on stdout instead of the script's output.
    #[arg(long)]
    pub json: bool,
}
