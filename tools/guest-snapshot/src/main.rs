//! Pre-initialises the Lua guest component, Wizer-style (the code is the
//! library's, `moonbox::pre_initialise`, which also serves guests specialised
//! for a mod). Called by `guest-lua/build.sh`:
//!
//! ```sh
//! guest-snapshot <built guest.wasm> <pre-initialised guest.wasm>
//! ```
//!
//! For the weval variant, Lua files after `--specialise` are a mod's chunks:
//! the guest's `specialise` export requests weval's specialisation of their
//! functions in the same snapshot, which weval then reads
//! (`guest-lua/weval-gate.sh`).

use std::path::PathBuf;

use wasmtime::error::Context as _;
use wasmtime::{Result, bail};

fn main() -> Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (input, output, specialise) = match args.as_slice() {
        [input, output] => (input, output, None),
        [input, output, flag, chunks @ ..] if flag.as_os_str() == "--specialise" => {
            (input, output, Some(chunks))
        }
        _ => bail!(
            "usage: guest-snapshot <guest.wasm> <pre-initialised.wasm> [--specialise <chunk.lua>...]"
        ),
    };
    let wasm = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let chunks = specialise
        .unwrap_or_default()
        .iter()
        .map(|path| {
            let source =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            Ok((name.into_owned(), source))
        })
        .collect::<Result<Vec<_>>>()?;
    let (snapshot, requests) =
        moonbox::pre_initialise(&wasm, specialise.map(|_| chunks.as_slice()))?;
    if specialise.is_some() {
        eprintln!("guest-snapshot: {requests} functions requested for specialisation");
    }
    std::fs::write(output, snapshot).with_context(|| format!("writing {}", output.display()))?;
    Ok(())
}
