//! `--profile FILE`: the fuel profile as folded stacks (FILE) and a
//! flamegraph (FILE.svg), and a summary of the hottest functions.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use moonbox::{Profile, terminal_safe as safe};

/// Functions the summary names.
const SUMMARY_TOP: usize = 5;

/// The profiles of a run, each under its root (a mod's name, a script's).
pub struct Profiles<'a>(pub Vec<(&'a str, &'a Profile)>);

impl Profiles<'_> {
    /// Writes the folded stacks to `path` and the flamegraph to `path`.svg;
    /// returns the flamegraph's path.
    pub fn write(&self, path: &Path, title: &str) -> Result<PathBuf> {
        let folded: String = self
            .0
            .iter()
            .map(|(root, profile)| profile.folded(root))
            .collect();
        std::fs::write(path, &folded)
            .with_context(|| format!("cannot write profile {}", path.display()))?;
        let svg = svg_path(path);
        let mut options = inferno::flamegraph::Options::default();
        options.title = title.to_owned();
        options.count_name = "fuel".to_owned();
        // Colours from the names, not from a random source: the same
        // profile gives the same file.
        options.deterministic = true;
        let mut out = Vec::new();
        if folded.is_empty() {
            // inferno refuses an empty profile; say so in the picture's place.
            out.extend_from_slice(EMPTY_SVG.as_bytes());
        } else {
            inferno::flamegraph::from_lines(&mut options, folded.lines(), &mut out)
                .context("cannot draw the flamegraph")?;
        }
        std::fs::write(&svg, out)
            .with_context(|| format!("cannot write flamegraph {}", svg.display()))?;
        Ok(svg)
    }

    /// The functions that spent the most fuel themselves, with their share.
    pub fn print_summary(&self, out: &mut impl Write, files: (&Path, &Path)) {
        let total: u64 = self.0.iter().map(|(_, p)| p.total()).sum();
        let mut rows: Vec<(&str, moonbox::FunctionCost)> = self
            .0
            .iter()
            .flat_map(|(root, profile)| profile.functions().into_iter().map(move |f| (*root, f)))
            .collect();
        rows.sort_by(|a, b| {
            b.1.exclusive
                .cmp(&a.1.exclusive)
                .then_with(|| (a.0, &a.1.name).cmp(&(b.0, &b.1.name)))
        });
        let _ = writeln!(
            out,
            "profile: {} and {} (fuel per Lua stack); hottest functions:",
            files.0.display(),
            files.1.display()
        );
        let _ = writeln!(
            out,
            "  {:<12} {:>14} {:>6} {:>14}  function",
            "mod", "self fuel", "self", "total fuel"
        );
        for (root, f) in rows.iter().take(SUMMARY_TOP) {
            let share = if total == 0 {
                0.0
            } else {
                f.exclusive as f64 * 100.0 / total as f64
            };
            let _ = writeln!(
                out,
                "  {:<12} {:>14} {:>5.1}% {:>14}  {}",
                safe(root),
                f.exclusive,
                share,
                f.inclusive,
                safe(&f.name)
            );
        }
    }
}

/// `path` with `.svg` added.
pub fn svg_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".svg");
    PathBuf::from(name)
}

const EMPTY_SVG: &str = r#"<?xml version="1.0" standalone="no"?>
<svg version="1.1" width="400" height="40" xmlns="http://www.w3.org/2000/svg"><text x="10" y="25">No fuel was profiled.</text></svg>
"#;
