//! Printing the outcome of a run, as text or as one JSON object.

use std::io::{IsTerminal, Write};

use moonbox::ScriptError;
use serde::Serialize;

use crate::exit;

pub struct Outcome {
    pub result: Result<(), ScriptError>,
    pub output: Vec<String>,
    pub fuel_used: u64,
    pub memory_peak: u64,
    pub json: bool,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    status: &'static str,
    error: Option<JsonError>,
    output: &'a [String],
    fuel_used: u64,
    memory_peak: u64,
}

#[derive(Serialize)]
struct JsonError {
    kind: &'static str,
    message: String,
}

/// How an error is classified: (status, kind, exit code).
fn classify(error: &ScriptError) -> (&'static str, &'static str, u8) {
    match error {
        ScriptError::Syntax { .. } => ("error", "syntax", exit::SCRIPT_ERROR),
        ScriptError::Runtime { .. } => ("error", "runtime", exit::SCRIPT_ERROR),
        ScriptError::ResourceLimitExceeded { kind, .. } => ("limit", kind.as_str(), exit::LIMIT),
        ScriptError::SecurityViolation { .. } => ("violation", "security", exit::VIOLATION),
        _ => ("error", "internal", exit::SCRIPT_ERROR),
    }
}

/// Prints the outcome and returns the exit code.
pub fn finish(outcome: &Outcome) -> u8 {
    let (status, error, code) = match &outcome.result {
        Ok(()) => ("ok", None, exit::OK),
        Err(error) => {
            let (status, kind, code) = classify(error);
            (status, Some((kind, error)), code)
        }
    };
    if outcome.json {
        let report = JsonReport {
            status,
            error: error.map(|(kind, error)| JsonError {
                kind,
                message: error.to_string(),
            }),
            output: &outcome.output,
            fuel_used: outcome.fuel_used,
            memory_peak: outcome.memory_peak,
        };
        print_json(&report);
    } else {
        let mut stdout = std::io::stdout().lock();
        // Piped, the script's output is exact; on a terminal, control and
        // bidi characters are escaped so a script cannot drive the terminal.
        let terminal = stdout.is_terminal();
        for line in &outcome.output {
            let line = if terminal {
                moonbox::terminal_safe(line)
            } else {
                std::borrow::Cow::Borrowed(line.as_str())
            };
            // A closed pipe (e.g. `| head`) is not the script's failure.
            if writeln!(stdout, "{line}").is_err() {
                break;
            }
        }
        if let Some((_, error)) = error {
            print_error(error);
        }
    }
    code
}

/// Reports an error that happened before the script could run.
pub fn fatal(error: &ScriptError, json: bool) -> u8 {
    finish(&Outcome {
        result: Err(error.clone()),
        output: Vec::new(),
        fuel_used: 0,
        memory_peak: 0,
        json,
    })
}

/// Errors carry text the script controls: always escaped, each traceback
/// line on its own line.
fn print_error(error: &ScriptError) {
    let safe = |text: &str| moonbox::terminal_safe(text).into_owned();
    match error {
        ScriptError::Runtime { traceback, .. } if !traceback.is_empty() => {
            let traceback: Vec<String> = traceback.lines().map(safe).collect();
            eprintln!(
                "{}\nstack traceback:\n{}",
                safe(&error.to_string()),
                traceback.join("\n")
            );
        }
        ScriptError::Syntax { .. } | ScriptError::Runtime { .. } => {
            eprintln!("{}", safe(&error.to_string()));
        }
        _ => eprintln!("moonbox: {}", safe(&error.to_string())),
    }
}

fn print_json(report: &JsonReport<'_>) {
    match serde_json::to_string(report) {
        Ok(text) => println!("{text}"),
        // Serializing strings and integers cannot fail; say so if it ever does.
        Err(error) => eprintln!("moonbox: cannot encode the JSON report: {error}"),
    }
}
