//! `moonbox run`.

use moonbox::{Channel, Limits, SandboxConfig, ScriptError};

use crate::args::RunArgs;
use crate::exit;
use crate::profile::Profiles;
use crate::report::{self, Outcome};

/// The command line keeps far more output than an embedded sandbox would.
const CONSOLE_MAX_LINES: usize = 1_000_000;
const CONSOLE_MAX_BYTES: usize = 256 * 1024 * 1024;

pub fn run(args: &RunArgs, options: &crate::engine::Options) -> u8 {
    let source = match std::fs::read(&args.script) {
        Ok(source) => source,
        Err(error) => {
            eprintln!("moonbox: cannot read {}: {error}", args.script.display());
            return exit::USAGE;
        }
    };
    let name = args.script.file_name().map_or_else(
        || args.script.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let config = SandboxConfig {
        limits: Limits {
            fuel: args.fuel,
            memory: args.memory,
            max_depth: args.max_depth,
            ..Limits::default()
        },
        seed: args.seed,
        console_max_lines: CONSOLE_MAX_LINES,
        console_max_bytes: CONSOLE_MAX_BYTES,
    };

    let engine = match crate::engine::engine(options, args.profile.is_some()) {
        Ok(engine) => engine,
        Err(error) => return report::fatal(&error, args.json),
    };
    let engine = match engine.for_sources(&[(name.clone(), source.clone())]) {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("moonbox: {}", moonbox::terminal_safe(&error.to_string()));
            return exit::USAGE;
        }
    };
    let mut sandbox = match engine.sandbox(&config) {
        Ok(sandbox) => sandbox,
        Err(error @ ScriptError::InvalidConfig { .. }) => {
            eprintln!("moonbox: {error}");
            return exit::USAGE;
        }
        Err(error) => return report::fatal(&error, args.json),
    };
    let result = sandbox.run(&name, &source);

    let dropped = sandbox.console().dropped();
    let lines = sandbox.console_mut().drain();
    let mut output = Vec::new();
    for line in lines {
        match line.channel {
            Channel::Out => output.push(line.text),
            Channel::Warn => eprintln!("Lua warning: {}", moonbox::terminal_safe(&line.text)),
        }
    }
    if dropped > 0 {
        eprintln!("moonbox: {dropped} console lines were dropped (console full)");
    }
    if let (Some(path), Some(profile)) = (&args.profile, sandbox.profile()) {
        let profiles = Profiles(vec![(name.as_str(), profile)]);
        match profiles.write(path, &format!("moonbox run {name}: fuel")) {
            // The summary goes to stderr: stdout is the script's.
            Ok(svg) => profiles.print_summary(&mut std::io::stderr().lock(), (path, &svg)),
            Err(error) => {
                eprintln!("moonbox: {error:#}");
                return exit::USAGE;
            }
        }
    }
    report::finish(&Outcome {
        result,
        output,
        fuel_used: sandbox.fuel_used(),
        memory_peak: sandbox.memory_peak(),
        json: args.json,
    })
}
