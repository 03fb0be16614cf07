//! [`replay`]: run a recording again and compare it tick by tick.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::{ReplayError, ReplayFile, Simulation, TickRecord, first_difference};
use crate::{ComponentRegistry, ScriptEngine};

/// The first tick whose result differs from the recording.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Divergence {
    /// The tick (0 = the starting state).
    pub tick: u64,
    /// The entity whose state differs first, if the world differs.
    pub entity: Option<u64>,
    /// Its component, if the difference is inside one.
    pub component: Option<String>,
    /// The mod whose fuel or status differed, if one did.
    #[serde(rename = "mod")]
    pub mod_name: Option<String>,
    /// What differs, recorded against replayed.
    pub detail: String,
}

/// The outcome of a replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayReport {
    /// The tick the recording starts from: 0, or its start snapshot's.
    pub start_tick: u64,
    /// The last tick compared (the divergence, if there is one).
    pub ticks: u64,
    /// Whether every tick matched.
    pub identical: bool,
    /// The first tick that differs.
    pub first_divergence: Option<Divergence>,
    /// Whether the file's editable inputs differ from the recorded ones.
    pub inputs_edited: bool,
    /// Whether the guest component differs from the recording's.
    pub guest_differs: bool,
}

/// Runs `file`'s inputs and compares each tick with the recording. On the
/// first difference it runs the recorded inputs to that tick as well and
/// diffs the two worlds, to name the entity, component and field.
/// `folder`, the replay file's, is where a referenced start snapshot is
/// read from ([`crate::StartSnapshot`]).
///
/// # Errors
/// Inputs that cannot be run.
pub fn replay(
    engine: &ScriptEngine,
    registry: &Arc<ComponentRegistry>,
    file: &ReplayFile,
    folder: Option<&Path>,
) -> Result<ReplayReport, ReplayError> {
    let mut sim = Simulation::open(engine, Arc::clone(registry), &file.inputs, folder)?;
    let mut report = ReplayReport {
        start_tick: sim.tick(),
        ticks: 0,
        identical: true,
        first_divergence: None,
        inputs_edited: file.inputs_edited(),
        guest_differs: file.recorded_inputs.guest_sha256
            != super::file::sha256_hex(crate::GUEST_COMPONENT),
    };
    let mut current = sim.start()?;
    // The first record is the starting state: tick 0, or the start
    // snapshot's tick.
    let first = current.tick;
    loop {
        let tick = current.tick;
        let recorded = file
            .ticks
            .get(usize::try_from(tick - first).unwrap_or(usize::MAX));
        report.ticks = tick;
        let divergence = match recorded {
            None => Some(Divergence {
                tick,
                entity: None,
                component: None,
                mod_name: None,
                detail: format!("the recording ends before tick {tick}"),
            }),
            Some(recorded) => compare(recorded, &current),
        };
        if let Some(mut divergence) = divergence {
            if recorded.is_some_and(|r| r.world_hash != current.world_hash) {
                locate(engine, registry, file, folder, &sim, &mut divergence)?;
            }
            report.identical = false;
            report.first_divergence = Some(divergence);
            return Ok(report);
        }
        if sim.is_done() {
            break;
        }
        current = sim.step(true)?;
    }
    let run = report.ticks - first;
    if file.ticks.len() as u64 > run + 1 {
        report.identical = false;
        report.first_divergence = Some(Divergence {
            tick: report.ticks + 1,
            entity: None,
            component: None,
            mod_name: None,
            detail: format!(
                "the recording has {} ticks, the inputs ask for {run}",
                file.ticks.len() - 1,
            ),
        });
    }
    Ok(report)
}

/// The first difference between a recorded tick and a replayed one: a mod's
/// fuel or status (in mod order) before the world.
fn compare(recorded: &TickRecord, replayed: &TickRecord) -> Option<Divergence> {
    let divergence = |mod_name: Option<String>, detail: String| Divergence {
        tick: recorded.tick,
        entity: None,
        component: None,
        mod_name,
        detail,
    };
    let mods: std::collections::BTreeSet<&String> = recorded
        .fuel
        .keys()
        .chain(replayed.fuel.keys())
        .chain(recorded.disabled.keys())
        .chain(replayed.disabled.keys())
        .collect();
    for name in mods {
        let (a, b) = (recorded.fuel.get(name), replayed.fuel.get(name));
        if a != b {
            let show =
                |v: Option<&u64>| v.map_or("did not run".to_owned(), |f| format!("{f} fuel"));
            return Some(divergence(
                Some(name.clone()),
                format!("mod '{name}': recorded {}, replayed {}", show(a), show(b)),
            ));
        }
        let (a, b) = (recorded.disabled.get(name), replayed.disabled.get(name));
        if a != b {
            let show =
                |v: Option<&String>| v.map_or("active".to_owned(), |r| format!("disabled ({r})"));
            return Some(divergence(
                Some(name.clone()),
                format!("mod '{name}': recorded {}, replayed {}", show(a), show(b)),
            ));
        }
    }
    if recorded.commands_hash != replayed.commands_hash {
        return Some(divergence(
            None,
            format!(
                "commands: recorded {} ({}), replayed {} ({})",
                recorded.commands,
                short_hash(&recorded.commands_hash),
                replayed.commands,
                short_hash(&replayed.commands_hash)
            ),
        ));
    }
    (recorded.world_hash != replayed.world_hash).then(|| {
        divergence(
            None,
            format!(
                "world hash: recorded {}, replayed {}",
                recorded.world_hash, replayed.world_hash
            ),
        )
    })
}

/// The first 16 digits of a hash, or "none".
fn short_hash(hash: &str) -> &str {
    if hash.is_empty() {
        "none"
    } else {
        hash.get(..16).unwrap_or(hash)
    }
}

/// Runs the recorded inputs to the diverging tick and diffs the two worlds.
fn locate(
    engine: &ScriptEngine,
    registry: &Arc<ComponentRegistry>,
    file: &ReplayFile,
    folder: Option<&Path>,
    replayed: &Simulation,
    divergence: &mut Divergence,
) -> Result<(), ReplayError> {
    let mut original =
        Simulation::open(engine, Arc::clone(registry), &file.recorded_inputs, folder)?;
    while original.tick() < replayed.tick() {
        original.step(false)?;
    }
    let difference =
        first_difference(original.world(), replayed.world(), registry).map_err(|error| {
            ReplayError::Component {
                doing: "comparing worlds",
                error,
            }
        })?;
    match difference {
        Some(difference) => {
            divergence.entity = Some(difference.entity);
            divergence.component.clone_from(&difference.component);
            let world = difference.to_string();
            divergence.detail = if divergence.mod_name.is_some() {
                format!("{}; {world}", divergence.detail)
            } else {
                world
            };
        }
        None => {
            divergence.detail.push_str(
                "; the recorded inputs give the replayed world on this build: the recording was made by a build or machine that computes differently",
            );
        }
    }
    Ok(())
}
