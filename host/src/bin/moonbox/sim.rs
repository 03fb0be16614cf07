//! `moonbox sim`: mods against a world for N ticks, and the summary.

use std::collections::{BTreeMap, VecDeque};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use moonbox::ModSource;
use moonbox::{ReplayFile, ReplayInputs as Inputs, Simulation, StartSnapshot};
use moonbox::{demo, terminal_safe as safe};
use serde::Serialize;

use crate::args::SimArgs;
use crate::exit;
use crate::html_report::RunReport;
use crate::profile::Profiles;
use crate::watch::ModWatcher;

/// Largest world file read (it is parsed entity by entity).
const MAX_WORLD_FILE_BYTES: usize = 64 * 1024 * 1024;
/// Largest events file read.
const MAX_EVENTS_FILE_BYTES: usize = 16 * 1024 * 1024;
/// Lines of the console shown at the end.
const CONSOLE_TAIL: usize = 10;
/// Commands shown at the end (the latest).
const COMMANDS_TAIL: usize = 10;
/// Ticks run when --ticks is not given (and not --watch).
const DEFAULT_TICKS: u64 = 300;
/// Runs shorter than this show no progress bar.
const PROGRESS_MIN_TICKS: u64 = 500;

#[derive(Serialize)]
struct Report {
    ticks: u64,
    entities: u32,
    mods: Vec<ModReport>,
    load_errors: Vec<String>,
    world_hash: String,
    console_tail: Vec<String>,
    /// Commands each mod emitted in calls that committed, over the run.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    commands: BTreeMap<String, u64>,
    /// The latest commands, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    commands_tail: Vec<CommandReport>,
    /// With --profile: the files written.
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<ProfileFiles>,
    /// With --profile: the hottest functions, for the text report.
    #[serde(skip)]
    profile_summary: Vec<u8>,
}

#[derive(Serialize)]
struct ProfileFiles {
    folded: std::path::PathBuf,
    svg: std::path::PathBuf,
}

#[derive(Serialize)]
struct CommandReport {
    tick: u64,
    #[serde(rename = "mod")]
    mod_name: String,
    name: String,
    data: serde_json::Value,
}

#[derive(Serialize)]
struct ModReport {
    name: String,
    version: String,
    status: &'static str,
    reason: Option<String>,
    fuel_used: u64,
    memory_peak: u64,
}

pub fn sim(args: &SimArgs, options: &crate::engine::Options) -> u8 {
    match simulate(args, options) {
        Ok(report) => {
            print(&report, args.json);
            exit::OK
        }
        Err(error) => {
            eprintln!("moonbox sim: {error:#}");
            exit::USAGE
        }
    }
}

fn simulate(args: &SimArgs, options: &crate::engine::Options) -> Result<Report> {
    if !args.dt.is_finite() || args.dt < 0.0 {
        anyhow::bail!("--dt must be a finite number of seconds >= 0");
    }
    let components = match &args.components {
        Some(path) => Some(crate::read_text(
            path,
            crate::types::MAX_COMPONENTS_FILE_BYTES,
            "components file",
        )?),
        None => None,
    };
    let registry = Arc::new(crate::types::registry(
        components.as_deref(),
        args.components.as_deref(),
    )?);
    let world = match &args.world {
        Some(path) => {
            let text = crate::read_text(path, MAX_WORLD_FILE_BYTES, "world file")?;
            moonbox::world_from_json(&text, &registry)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => demo::world(args.seed, demo::DEMO_ENTITIES),
    };
    let mut load_errors = Vec::new();
    let sources = if args.mods.is_empty() {
        demo::example_mods()?
    } else {
        let mut sources = Vec::new();
        for dir in &args.mods {
            for found in ModSource::discover(dir).unwrap_or_else(|error| vec![Err(error)]) {
                match found {
                    Ok(source) => {
                        // Names are checked to be letters, digits, '-' and '_'.
                        for note in source.manifest.deprecations() {
                            eprintln!("moonbox sim: mod '{}': {note}", source.manifest.name);
                        }
                        sources.push(source);
                    }
                    Err(error) => load_errors.push(error.to_string()),
                }
            }
        }
        sources
    };
    let ticks = args
        .ticks
        .unwrap_or(if args.watch { u64::MAX } else { DEFAULT_TICKS });
    let watched: Vec<(String, std::path::PathBuf)> = sources
        .iter()
        .filter_map(|s| Some((s.manifest.name.clone(), s.dir.clone()?)))
        .collect();
    let mut inputs = Inputs::new(&registry, &world, &sources, args.seed, ticks, args.dt)?;
    inputs.components = components;
    if let Some(path) = &args.events {
        let text = crate::read_text(path, MAX_EVENTS_FILE_BYTES, "events file")?;
        inputs.events = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not a JSON list of {{tick, name, data}}",
                path.display()
            )
        })?;
    }
    if let Some(path) = &args.load {
        inputs.start = Some(
            start_snapshot(path, args)
                .with_context(|| format!("cannot continue from snapshot {}", path.display()))?,
        );
    }
    let engine = crate::engine::engine(options, args.profile.is_some())?;
    inputs.specialised = engine.specialises();
    let folder = args.load.as_deref().and_then(Path::parent);
    let mut sim =
        Simulation::open(&engine, Arc::clone(&registry), &inputs, folder).with_context(|| {
            match &args.load {
                Some(path) => format!("cannot continue from snapshot {}", path.display()),
                None => "cannot start the simulation".to_owned(),
            }
        })?;
    load_errors.extend(sim.load_errors().values().cloned());
    for error in &load_errors {
        eprintln!("moonbox sim: {}", safe(error));
    }

    let mut recording = args
        .record
        .as_ref()
        .map(|_| ReplayFile::new(inputs.clone()));
    if let Some(file) = &mut recording {
        file.ticks.push(sim.start()?);
    }
    let mut run_report = args.report.as_ref().map(|_| RunReport::default());
    let mut watcher = if args.watch {
        println!(
            "moonbox sim: watching {} mods; a change reloads the mod (Ctrl-C stops)",
            watched.len()
        );
        Some(ModWatcher::new(watched)?)
    } else {
        None
    };
    let pace = Pace::new(args.watch, args.dt);
    let mut printed = 0_u64;
    let progress = progress_bar(args, ticks);
    let mut commands = BTreeMap::new();
    let mut commands_tail = VecDeque::with_capacity(COMMANDS_TAIL);
    while !sim.is_done() {
        if let Some(watcher) = &mut watcher {
            reload_changed(&mut sim, watcher);
            pace.wait(sim.tick());
        }
        let record = sim.step(recording.is_some())?;
        if watcher.is_some() {
            // The console as it grows: what mods print shows at once.
            let console = sim.system().console();
            let total = console.dropped() + console.lines().len() as u64;
            let new = usize::try_from(total.saturating_sub(printed)).unwrap_or(usize::MAX);
            let skip = console.lines().len().saturating_sub(new);
            for line in console.lines().skip(skip) {
                println!("  {}", safe(&line.text));
            }
            printed = total;
        }
        for command in sim.commands() {
            *commands.entry(command.mod_name().to_owned()).or_insert(0) += 1;
            if commands_tail.len() == COMMANDS_TAIL {
                commands_tail.pop_front();
            }
            commands_tail.push_back(CommandReport {
                tick: sim.tick(),
                mod_name: command.mod_name().to_owned(),
                name: command.name().to_owned(),
                data: command.data_json(),
            });
        }
        if let Some(report) = &mut run_report {
            let memory = sim
                .manager()
                .mods()
                .map(|m| (m.name().to_owned(), m.stats().memory_peak));
            report.tick(record.tick, &record, memory, sim.world().len());
        }
        if let Some(file) = &mut recording {
            file.ticks.push(record);
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    if let Some(path) = &args.save {
        sim.snapshot()
            .and_then(|snapshot| snapshot.write(path))
            .with_context(|| format!("cannot write snapshot {}", path.display()))?;
    }
    if let (Some(path), Some(file)) = (&args.record, &recording) {
        std::fs::write(path, file.to_text())
            .with_context(|| format!("cannot write replay file {}", path.display()))?;
    }

    let mut profile_summary = Vec::new();
    let profile = match &args.profile {
        Some(path) => {
            let profiles = Profiles(
                sim.manager()
                    .mods()
                    .filter_map(|m| Some((m.name(), m.profile()?)))
                    .collect(),
            );
            let svg = profiles.write(path, &format!("moonbox sim: {} ticks, fuel", sim.tick()))?;
            profiles.print_summary(&mut profile_summary, (path, &svg));
            Some(ProfileFiles {
                folded: path.clone(),
                svg,
            })
        }
        None => None,
    };

    if let (Some(path), Some(report)) = (&args.report, &run_report) {
        write_report(path, report, &sim, &registry)?;
    }

    let console = sim.system().console();
    let skip = console.lines().len().saturating_sub(CONSOLE_TAIL);
    Ok(Report {
        ticks: sim.tick(),
        entities: sim.world().len(),
        mods: sim
            .manager()
            .mods()
            .map(|loaded| {
                let stats = loaded.stats();
                ModReport {
                    name: loaded.name().to_owned(),
                    version: loaded.version().to_owned(),
                    status: loaded.status().as_str(),
                    reason: match loaded.status() {
                        moonbox::ModStatus::Disabled { reason } => Some(reason.clone()),
                        moonbox::ModStatus::Active => None,
                    },
                    fuel_used: stats.fuel_used,
                    memory_peak: stats.memory_peak,
                }
            })
            .collect(),
        load_errors,
        world_hash: moonbox::world_hash(sim.world(), &registry)?,
        console_tail: console.lines().skip(skip).map(|l| l.text.clone()).collect(),
        commands,
        commands_tail: commands_tail.into(),
        profile,
        profile_summary,
    })
}

/// Writes the HTML report of the finished run `sim`.
fn write_report(
    path: &Path,
    report: &RunReport,
    sim: &Simulation,
    registry: &moonbox::ComponentRegistry,
) -> Result<()> {
    let summary: Vec<[String; 4]> = sim
        .manager()
        .mods()
        .map(|m| {
            let reason = match m.status() {
                moonbox::ModStatus::Disabled { reason } => reason.clone(),
                moonbox::ModStatus::Active => String::new(),
            };
            [
                m.name().to_owned(),
                m.status().as_str().to_owned(),
                m.stats().fuel_used.to_string(),
                reason,
            ]
        })
        .collect();
    let console: Vec<String> = sim
        .system()
        .console()
        .lines()
        .map(|l| l.text.clone())
        .collect();
    let mut positions = Vec::new();
    if registry.contains("Position") {
        for entity in sim.world().iter().map(|e| e.entity()) {
            if let Ok(Some(value)) =
                registry.get::<serde_json::Value>(sim.world(), entity, "Position")
                && let (Some(x), Some(y)) = (value["x"].as_f64(), value["y"].as_f64())
            {
                positions.push((x, y));
            }
        }
    }
    let title = format!(
        "moonbox sim: {} ticks, {} entities, {} mods",
        sim.tick(),
        sim.world().len(),
        summary.len()
    );
    report.write(path, &title, &summary, &console, &positions)
}

/// The start of a run that continues from the snapshot file at `path`:
/// embedded, or with `--reference-snapshot` referenced by its name (the
/// replay file then must be in the snapshot's folder).
fn start_snapshot(path: &Path, args: &SimArgs) -> Result<StartSnapshot> {
    let limit = usize::try_from(moonbox::MAX_SNAPSHOT_BYTES).unwrap_or(usize::MAX);
    let bytes = moonbox::read_bounded(path, limit)?;
    if !args.reference_snapshot {
        return Ok(StartSnapshot::embed(&bytes));
    }
    let folder = |p: &Path| {
        p.parent()
            .map(|dir| {
                if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                }
            })
            .and_then(|dir| dir.canonicalize().ok())
    };
    let record = args.record.as_deref().map(folder);
    if record != Some(folder(path)) {
        anyhow::bail!(
            "--reference-snapshot needs the replay file (--record) in the snapshot's folder"
        );
    }
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .context("the snapshot's file name is not UTF-8")?;
    Ok(StartSnapshot::reference(name, &bytes)?)
}

/// Reloads the mods whose files changed, saying what happened.
fn reload_changed(sim: &mut Simulation, watcher: &mut ModWatcher) {
    for (name, dir) in watcher.changed() {
        let tick = sim.tick();
        let reloaded = ModSource::from_dir(&dir).and_then(|source| sim.reload_source(source));
        let line = match reloaded {
            Ok(handover) => format!(
                "tick {tick}: reloaded mod '{name}' ({})",
                handover_text(&handover)
            ),
            Err(error) => {
                format!("tick {tick}: mod '{name}' not reloaded, the old version runs on: {error}")
            }
        };
        println!("{}", safe(&line));
    }
    let _ = std::io::stdout().flush();
}

fn handover_text(handover: &moonbox::Handover) -> String {
    match handover {
        moonbox::Handover::State { bytes } => {
            format!("on_unload handed {bytes} bytes of state to on_reload")
        }
        moonbox::Handover::NoHandler => "no on_unload: on_load runs".into(),
        moonbox::Handover::NotActive => "it was disabled: on_load runs".into(),
        moonbox::Handover::Failed { error } => format!("on_unload failed: {error}; on_load runs"),
    }
}

/// Real-time ticks for --watch: tick `n` starts `n * dt` after the first.
struct Pace {
    start: std::time::Instant,
    dt: Option<std::time::Duration>,
}

impl Pace {
    fn new(watch: bool, dt: f64) -> Self {
        Self {
            start: std::time::Instant::now(),
            dt: watch
                .then(|| std::time::Duration::try_from_secs_f64(dt).ok())
                .flatten(),
        }
    }

    fn wait(&self, ticks_done: u64) {
        let Some(dt) = self.dt else { return };
        let due = dt.saturating_mul(u32::try_from(ticks_done).unwrap_or(u32::MAX));
        if let Some(sleep) = due.checked_sub(self.start.elapsed()) {
            std::thread::sleep(sleep);
        }
    }
}

fn progress_bar(args: &SimArgs, ticks: u64) -> ProgressBar {
    if args.json || args.watch || ticks < PROGRESS_MIN_TICKS || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(ticks);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} ticks  {elapsed} (eta {eta})")
    {
        bar.set_style(style);
    }
    bar
}

fn print(report: &Report, json: bool) {
    let mut out = std::io::stdout().lock();
    if json {
        let _ = serde_json::to_writer(&mut out, report);
        let _ = writeln!(out);
        return;
    }
    let _ = writeln!(
        out,
        "moonbox sim: {} ticks, {} entities, {} mods",
        report.ticks,
        report.entities,
        report.mods.len()
    );
    let _ = writeln!(
        out,
        "{:<12} {:<9} {:>14} {:>12}  reason",
        "mod", "status", "fuel used", "peak memory"
    );
    for m in &report.mods {
        let _ = writeln!(
            out,
            "{:<12} {:<9} {:>14} {:>12}  {}",
            m.name,
            m.status,
            m.fuel_used,
            m.memory_peak,
            safe(m.reason.as_deref().unwrap_or(""))
        );
    }
    for error in &report.load_errors {
        let _ = writeln!(out, "not loaded: {}", safe(error));
    }
    let _ = writeln!(out, "world hash: {}", report.world_hash);
    if !report.commands.is_empty() {
        let counts: Vec<String> = report
            .commands
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "commands: {} ({}), last {}:",
            report.commands.values().sum::<u64>(),
            counts.join(", "),
            report.commands_tail.len()
        );
        for c in &report.commands_tail {
            let line = format!("tick {} [{}] {} {}", c.tick, c.mod_name, c.name, c.data);
            let _ = writeln!(out, "  {}", safe(&line));
        }
    }
    if !report.console_tail.is_empty() {
        let _ = writeln!(out, "console (last {} lines):", report.console_tail.len());
        for line in &report.console_tail {
            let _ = writeln!(out, "  {}", safe(line));
        }
    }
    let _ = out.write_all(&report.profile_summary);
}
