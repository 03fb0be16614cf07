//! `moonbox`: run Lua scripts in the Moonbox sandbox from the command line.

mod args;
mod engine;
mod html_report;
mod profile;
mod replay;
mod report;
mod run;
mod sim;
mod size;
mod types;
mod watch;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

/// Exit codes of the command line contract.
mod exit {
    pub const OK: u8 = 0;
    /// Lua syntax or runtime error.
    pub const SCRIPT_ERROR: u8 = 1;
    /// Bad usage or an I/O error.
    pub const USAGE: u8 = 2;
    /// A resource limit stopped the script.
    pub const LIMIT: u8 = 3;
    /// The sandbox refused something.
    pub const VIOLATION: u8 = 4;
    /// A replay diverged from its recording.
    pub const DIVERGED: u8 = 5;
}

/// Reads a text file of at most `limit` bytes (see [`moonbox::read_bounded`]):
/// input files (worlds, events, replays) are untrusted.
fn read_text(path: &std::path::Path, limit: usize, what: &str) -> anyhow::Result<String> {
    let bytes = moonbox::read_bounded(path, limit)
        .map_err(|e| anyhow::anyhow!("cannot read {what} {}: {e}", path.display()))?;
    String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{what} {} is not UTF-8 text", path.display()))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version are not errors; everything else is usage.
            let code = if error.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    let options = cli.engine_options();
    let code = match cli.command {
        Command::Run(args) => run::run(&args, &options),
        Command::Sim(args) => sim::sim(&args, &options),
        Command::Types(args) => types::types(&args),
        Command::Replay(args) => replay::replay(&args, &options),
    };
    ExitCode::from(code)
}
