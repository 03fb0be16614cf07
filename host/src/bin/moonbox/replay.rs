//! `moonbox replay`: re-run a recording and compare every tick.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result};
use moonbox::{ReplayFile, ReplayReport, replay as run_replay};

use crate::args::ReplayArgs;
use crate::exit;

pub fn replay(args: &ReplayArgs, options: &crate::engine::Options) -> u8 {
    match check(args, options) {
        Ok(report) => {
            print(&report, args.json);
            if report.identical {
                exit::OK
            } else {
                exit::DIVERGED
            }
        }
        Err(error) => {
            eprintln!(
                "moonbox replay: {}",
                moonbox::terminal_safe(&format!("{error:#}"))
            );
            exit::USAGE
        }
    }
}

fn check(args: &ReplayArgs, options: &crate::engine::Options) -> Result<ReplayReport> {
    let text = crate::read_text(&args.file, moonbox::MAX_REPLAY_FILE_BYTES, "replay file")?;
    let file = ReplayFile::from_text(&text).with_context(|| args.file.display().to_string())?;
    if file.inputs_edited() {
        eprintln!("moonbox replay: note: the inputs were edited after recording");
    }
    let registry = Arc::new(crate::types::registry(
        file.inputs.components.as_deref(),
        None,
    )?);
    let engine = crate::engine::engine(options, false)?;
    let folder = args.file.parent();
    Ok(run_replay(&engine, &registry, &file, folder)?)
}

fn print(report: &ReplayReport, json: bool) {
    let mut out = std::io::stdout().lock();
    if json {
        let _ = serde_json::to_writer(&mut out, report);
        let _ = writeln!(out);
        return;
    }
    if report.guest_differs {
        let _ = writeln!(
            out,
            "note: the recording was made with a different guest component"
        );
    }
    match &report.first_divergence {
        None => {
            if report.start_tick == 0 {
                let _ = writeln!(out, "identical: {} ticks match the recording", report.ticks);
            } else {
                let _ = writeln!(
                    out,
                    "identical: ticks {} to {} match the recording (it starts from a snapshot at tick {})",
                    report.start_tick + 1,
                    report.ticks,
                    report.start_tick
                );
            }
        }
        Some(divergence) => {
            let _ = writeln!(
                out,
                "diverged at tick {}: {}",
                divergence.tick,
                moonbox::terminal_safe(&divergence.detail)
            );
        }
    }
}
