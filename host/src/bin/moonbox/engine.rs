//! The engine every command uses, with the compiled-guest cache.

use std::path::PathBuf;

use moonbox::{CacheOutcome, EngineConfig, ScriptEngine, ScriptError, terminal_safe as safe};

/// The environment variable that moves the compiled-guest cache.
const CACHE_VAR: &str = "MOONBOX_CACHE";

/// The global options that shape the engine (`--no-cache`, `--weval`).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub no_cache: bool,
    pub weval: Option<PathBuf>,
}

/// An engine that loads the compiled guest from the cache folder
/// (`MOONBOX_CACHE`, else the platform's cache folder + `moonbox`) unless
/// `no_cache`, specialises mods with `weval` if given, and profiles its
/// sandboxes if `profile`. A cache that cannot be used is noted on stderr;
/// the command runs on with a compiled guest.
pub fn engine(options: &Options, profile: bool) -> Result<ScriptEngine, ScriptError> {
    let cache = (!options.no_cache).then(cache_folder).flatten();
    let engine = ScriptEngine::with_config(&EngineConfig {
        cache,
        profile,
        weval: options.weval.clone(),
        ..EngineConfig::default()
    })?;
    let problem = match engine.cache_outcome() {
        CacheOutcome::Unsafe { folder, reason } => {
            Some(format!("{} is not used: {reason}", folder.display()))
        }
        CacheOutcome::Compiled {
            entry,
            not_stored: Some(reason),
            ..
        } => Some(format!("{} was not stored: {reason}", entry.display())),
        _ => None,
    };
    if let Some(problem) = problem {
        eprintln!(
            "moonbox: note: the compiled-guest cache {} (--no-cache skips it, {CACHE_VAR} moves it)",
            safe(&problem)
        );
    }
    Ok(engine)
}

fn cache_folder() -> Option<PathBuf> {
    match std::env::var_os(CACHE_VAR) {
        Some(folder) if !folder.is_empty() => Some(PathBuf::from(folder)),
        _ => dirs::cache_dir().map(|folder| folder.join("moonbox")),
    }
}
