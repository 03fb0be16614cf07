//! `moonbox types`, and the registry every command builds: the demo's, or
//! the components a components file declares.

use std::path::Path;

use anyhow::{Context, Result};
use moonbox::{ComponentRegistry, demo};

use crate::args::TypesArgs;
use crate::exit;

/// Largest components file read.
pub const MAX_COMPONENTS_FILE_BYTES: usize = 1024 * 1024;

/// The registry of a run: the components `components` (the text of the
/// file at `path`, for errors) declares, or the demo's.
pub fn registry(components: Option<&str>, path: Option<&Path>) -> Result<ComponentRegistry> {
    match components {
        Some(text) => ComponentRegistry::declared(text).with_context(|| match path {
            Some(path) => format!("components file {}", path.display()),
            None => "the recorded components file".to_owned(),
        }),
        None => Ok(demo::registry()?),
    }
}

pub fn types(args: &TypesArgs) -> u8 {
    match write(args) {
        Ok(()) => exit::OK,
        Err(error) => {
            eprintln!(
                "moonbox types: {}",
                moonbox::terminal_safe(&format!("{error:#}"))
            );
            exit::USAGE
        }
    }
}

fn write(args: &TypesArgs) -> Result<()> {
    let text = match &args.components {
        Some(path) => Some(crate::read_text(
            path,
            MAX_COMPONENTS_FILE_BYTES,
            "components file",
        )?),
        None => None,
    };
    let registry = registry(text.as_deref(), args.components.as_deref())?;
    // The CLI offers mods no engine functions.
    let annotations = moonbox::lua_annotations(&registry, std::iter::empty());
    match &args.output {
        Some(path) => std::fs::write(path, annotations)
            .with_context(|| format!("cannot write {}", path.display())),
        None => {
            use std::io::Write;
            std::io::stdout()
                .lock()
                .write_all(annotations.as_bytes())
                .context("cannot write to stdout")
        }
    }
}
