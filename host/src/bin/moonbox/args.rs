//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use moonbox::limits;

use crate::size::parse_size;

/// Run untrusted Lua 5.4 scripts in a WebAssembly sandbox.
#[derive(Debug, Parser)]
#[command(name = "moonbox", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one Lua script in a fresh sandbox.
    ///
    /// Exit codes: 0 success, 1 Lua syntax or runtime error, 2 usage or I/O
    /// error, 3 resource limit exceeded, 4 security violation.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The Lua source file to run.
    pub script: PathBuf,

    /// Fuel for the script (roughly 10 million units per millisecond of Lua work).
    #[arg(long, value_name = "N", default_value_t = limits::DEFAULT_FUEL)]
    pub fuel: u64,

    /// Lua heap limit: bytes, or a number with a KiB or MiB suffix.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "16MiB")]
    pub memory: u64,

    /// Maximum Lua call depth (0 disables the check).
    #[arg(long, value_name = "N", default_value_t = limits::DEFAULT_MAX_DEPTH)]
    pub max_depth: u32,

    /// Seed of math.random and of every random source the script can reach.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,

    /// Print one JSON object with the outcome on stdout instead of the script's output.
    #[arg(long)]
    pub json: bool,
}
