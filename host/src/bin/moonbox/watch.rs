//! `sim --watch`: the mods' folders, watched for changes (notify), so the
//! simulation reloads a mod when its files change.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use notify::{EventKind, RecursiveMode, Watcher as _};

/// How long a mod's files must stay unchanged before it is reloaded: an
/// editor's save is often several writes.
const QUIET: Duration = Duration::from_millis(150);

pub struct ModWatcher {
    _watcher: notify::RecommendedWatcher,
    events: Receiver<notify::Result<notify::Event>>,
    /// Each watched mod's name and folder (canonical).
    mods: Vec<(String, PathBuf)>,
    /// Mods with changes not reloaded yet, and when the last one came.
    pending: BTreeMap<String, Instant>,
}

impl ModWatcher {
    /// Watches the folder of each of `mods` (name, folder).
    pub fn new(mods: Vec<(String, PathBuf)>) -> Result<Self> {
        let (tx, events) = channel();
        let mut watcher = notify::recommended_watcher(tx).context("cannot watch files")?;
        let mut canonical = Vec::with_capacity(mods.len());
        for (name, dir) in mods {
            let dir = dir
                .canonicalize()
                .with_context(|| format!("cannot watch {}", dir.display()))?;
            watcher
                .watch(&dir, RecursiveMode::Recursive)
                .with_context(|| format!("cannot watch {}", dir.display()))?;
            canonical.push((name, dir));
        }
        Ok(Self {
            _watcher: watcher,
            events,
            mods: canonical,
            pending: BTreeMap::new(),
        })
    }

    /// The mods whose files changed and have been quiet since, by name,
    /// with their folders.
    pub fn changed(&mut self) -> Vec<(String, PathBuf)> {
        let now = Instant::now();
        while let Ok(event) = self.events.try_recv() {
            let Ok(event) = event else { continue };
            if matches!(event.kind, EventKind::Access(_)) {
                continue;
            }
            for path in &event.paths {
                if let Some((name, _)) = self.mods.iter().find(|(_, dir)| path.starts_with(dir)) {
                    self.pending.insert(name.clone(), now);
                }
            }
        }
        let ready: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, at)| now.duration_since(**at) >= QUIET)
            .map(|(name, _)| name.clone())
            .collect();
        ready
            .into_iter()
            .filter_map(|name| {
                self.pending.remove(&name);
                let dir = self.mods.iter().find(|(n, _)| *n == name)?.1.clone();
                Some((name, dir))
            })
            .collect()
    }
}
