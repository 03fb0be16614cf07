//! Guests specialised for a mod with weval (issue 18; BENCHMARKS.md,
//! "Specialised mods"): the interpreter's loop, partially evaluated over
//! the bytecode of the mod's functions.
//!
//! The steps, all functions of their inputs:
//! 1. the weval variant of the guest (built and committed with the guest)
//!    is pre-initialised, then compiles the mod's chunks without running
//!    them and requests the specialisation of every function in them
//!    ([`super::pre_init::pre_initialise`]);
//! 2. weval (an external executable: `guest-lua/weval-gate.sh` builds the
//!    pinned, patched one) reads the requests in that snapshot and appends
//!    the specialised functions;
//! 3. the result is compiled as an engine's guest.
//!
//! A sandbox of that engine loads the mod as usual. The requests are keyed
//! by bytecode, so each function whose code was requested runs specialised,
//! whenever and however it is loaded; every other function runs on the
//! generic interpreter. Results are those of the built-in guest; fuel is
//! lower where specialised code runs, and the same on every run.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::pre_init::Instrumented;

/// The weval variant: the guest with weval's intrinsics in its Lua VM and
/// the `specialise` export, not pre-initialised (`guest-lua/build.sh`).
pub(crate) const WEVAL_VARIANT: &[u8] = include_bytes!("../../guest/moonbox_guest_weval.wasm");

/// Most source bytes, all chunks together, that one specialisation takes:
/// weval's time grows with the bytecode (0.8 s for 36 KB of Lua on 2
/// cores), so a mod cannot make it unbounded.
pub const MAX_SPECIALISED_SOURCE: usize = 128 * 1024;

/// Longest weval may run before it is stopped.
pub const WEVAL_TIMEOUT: Duration = Duration::from_secs(120);

/// Most bytes of weval's error output kept in [`SpecialiseError::Weval`].
const WEVAL_MESSAGE_BYTES: usize = 2048;

/// Why a guest specialised for a mod could not be made. The engine that was
/// asked is unchanged and still runs the mod generically.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecialiseError {
    /// The chunks are larger than [`MAX_SPECIALISED_SOURCE`].
    #[error("{bytes} bytes of Lua is more than one specialisation takes ({max})")]
    TooLarge {
        /// Source bytes of all chunks.
        bytes: usize,
        /// [`MAX_SPECIALISED_SOURCE`].
        max: usize,
    },
    /// A chunk does not compile; `message` names it and gives Lua's error.
    #[error("cannot specialise {message}")]
    Chunk {
        /// `name: error`.
        message: String,
    },
    /// weval could not be started, failed or ran out of time.
    #[error("weval ({program}): {message}")]
    Weval {
        /// The executable that was run.
        program: PathBuf,
        /// What went wrong, with the end of its error output.
        message: String,
    },
    /// Pre-initialising the variant or compiling the result failed.
    #[error("building the specialised guest: {message}")]
    Build {
        /// What failed.
        message: String,
    },
}

/// The digest of the weval executable an engine last used, and its path:
/// the executable is hashed once per engine (42 MB), not once per mod.
#[derive(Default)]
pub(crate) struct WevalDigest(Mutex<Option<(PathBuf, [u8; 32])>>);

/// Refuses chunks larger than one specialisation takes, before any work.
pub(crate) fn check_size(chunks: &[(String, Vec<u8>)]) -> Result<(), SpecialiseError> {
    let bytes = chunks.iter().map(|(_, source)| source.len()).sum();
    if bytes > MAX_SPECIALISED_SOURCE {
        return Err(SpecialiseError::TooLarge {
            bytes,
            max: MAX_SPECIALISED_SOURCE,
        });
    }
    Ok(())
}

/// SHA-256 of everything the guest specialised for `chunks` by `weval` is
/// made from: the weval variant, the executable's bytes and the chunks.
/// It names the guest in the compiled-guest cache and in snapshots.
pub(crate) fn identity(
    weval: &Path,
    chunks: &[(String, Vec<u8>)],
    known: &WevalDigest,
) -> Result<[u8; 32], SpecialiseError> {
    let mut known = known.0.lock().unwrap_or_else(PoisonError::into_inner);
    let tool = match known.as_ref() {
        Some((path, digest)) if path == weval => *digest,
        _ => {
            let mut sha = Sha256::new();
            std::fs::File::open(weval)
                .and_then(|mut file| std::io::copy(&mut file, &mut sha))
                .map_err(|e| SpecialiseError::Weval {
                    program: weval.to_path_buf(),
                    message: format!("cannot read it: {e}"),
                })?;
            let digest: [u8; 32] = sha.finalize().into();
            *known = Some((weval.to_path_buf(), digest));
            digest
        }
    };
    let mut sha = Sha256::new();
    let mut field = |bytes: &[u8]| {
        sha.update((bytes.len() as u64).to_le_bytes());
        sha.update(bytes);
    };
    field(b"moonbox-specialised-1");
    field(&Sha256::digest(WEVAL_VARIANT));
    field(&tool);
    for (name, source) in chunks {
        field(name.as_bytes());
        field(source);
    }
    Ok(sha.finalize().into())
}

/// The weval variant specialised for `chunks` (name, Lua source), by the
/// weval executable at `weval`: the component's bytes.
pub(crate) fn specialised_component(
    weval: &Path,
    chunks: &[(String, Vec<u8>)],
    variant: &Variant,
    cache: Option<&Path>,
) -> Result<Vec<u8>, SpecialiseError> {
    let requests = variant.instrumented(cache)?.with_requests(chunks)?;
    run_weval(weval, &requests)
}

/// The weval variant instrumented for pre-initialising, made at the first
/// specialisation and kept by the engine for the next ones.
#[derive(Default)]
pub(crate) struct Variant(Mutex<Option<Arc<Instrumented<'static>>>>);

impl Variant {
    /// Made once; `cache` is the compiled-guest cache folder, if any.
    fn instrumented(
        &self,
        cache: Option<&Path>,
    ) -> Result<Arc<Instrumented<'static>>, SpecialiseError> {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(instrumented) = kept.as_ref() {
            return Ok(Arc::clone(instrumented));
        }
        let instrumented = Arc::new(Instrumented::new(WEVAL_VARIANT, cache).map_err(|e| {
            SpecialiseError::Build {
                message: format!("{e:#}"),
            }
        })?);
        *kept = Some(Arc::clone(&instrumented));
        Ok(instrumented)
    }
}

/// Runs `weval weval -i IN -o OUT` on `input` in a private temporary folder.
fn run_weval(program: &Path, input: &[u8]) -> Result<Vec<u8>, SpecialiseError> {
    let fail = |message: String| SpecialiseError::Weval {
        program: program.to_path_buf(),
        message,
    };
    let folder = tempfile::tempdir().map_err(|e| fail(format!("temporary folder: {e}")))?;
    let (input_path, output_path) = (
        folder.path().join("in.wasm"),
        folder.path().join("out.wasm"),
    );
    std::fs::write(&input_path, input).map_err(|e| fail(format!("writing its input: {e}")))?;
    let mut child = Command::new(program)
        .arg("weval")
        .arg("-i")
        .arg(&input_path)
        .arg("-o")
        .arg(&output_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot start it: {e}")))?;
    // weval's error output is small; read it on a thread so a full pipe
    // cannot stall it while we wait.
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(stderr) = stderr.as_mut() {
            let _ = stderr.take(1 << 20).read_to_end(&mut text);
        }
        text
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < WEVAL_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("stopped after {} s", WEVAL_TIMEOUT.as_secs())));
            }
            Err(e) => return Err(fail(format!("waiting for it: {e}"))),
        }
    };
    let errors = reader.join().unwrap_or_default();
    if !status.success() {
        let text = String::from_utf8_lossy(&errors);
        let start = text.len().saturating_sub(WEVAL_MESSAGE_BYTES);
        let tail = text.get(start..).unwrap_or(&text).trim();
        return Err(fail(format!("{status}: {tail}")));
    }
    std::fs::read(&output_path).map_err(|e| fail(format!("reading its output: {e}")))
}
