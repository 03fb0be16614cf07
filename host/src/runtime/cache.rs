//! The compiled-guest cache: Cranelift's output for the guest kept on disk,
//! so that an engine starts in milliseconds instead of compiling.
//!
//! An entry is named by a SHA-256 key of everything that decides the
//! compiled code: the guest's bytes (for a guest specialised for a mod,
//! everything it is made from: the weval variant, the weval executable and
//! the mod's sources), Moonbox's and wasmtime's versions and
//! wasmtime's compatibility hash of the engine (its configuration, target
//! and CPU features). Its file holds a magic line, the SHA-256 of the
//! payload and the payload, wasmtime's serialized component. Loading checks
//! the folder (owned by this user, writable by no one else), the file (the
//! same, a regular file, not a link), the size, the magic and the checksum,
//! and wasmtime then checks that the payload was made by a compatible
//! engine; anything wrong means the guest is compiled and the entry
//! rewritten. Entries are written to a temporary file in the folder and
//! renamed into place, so a reader sees a whole entry or none, and two
//! processes starting at once both end with a valid one.

use std::fmt::Write as _;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::specialise::SpecialiseError;

/// The first bytes of every entry, with the format's version.
const MAGIC: &[u8; 16] = b"moonbox-guest-1\n";
/// The vendored code generator's revision (`vendor/wasmtime-internal-cranelift`):
/// part of the key, since its patches change the code compiled with the same
/// versions and configuration. Change it with every patch that changes code.
const CODE_GENERATOR: &[u8] = b"wasmtime-internal-cranelift 48.0.8 + moonbox patches 4";
/// Bytes of the checksum after the magic.
const CHECKSUM_LEN: usize = 32;
/// Largest entry read: far above the compiled guest (about 10 MiB), so a
/// planted huge file is refused unread.
const MAX_ENTRY_BYTES: u64 = 256 * 1024 * 1024;

/// What an engine's start did with its cache: [`crate::ScriptEngine::cache_outcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheOutcome {
    /// No cache folder was set ([`crate::EngineConfig::cache`]): compiled.
    Off,
    /// The compiled guest was loaded from `entry`.
    Loaded {
        /// The entry's file.
        entry: PathBuf,
    },
    /// The guest was compiled: `entry` was missing or could not be used
    /// (`rejected` says why), then written (or `not_stored` says why not).
    Compiled {
        /// The entry's file.
        entry: PathBuf,
        /// Why an existing entry was not loaded; `None` if there was none.
        rejected: Option<String>,
        /// Why the new entry was not written; `None` if it was.
        not_stored: Option<String>,
    },
    /// The folder is not safe to load code from (`reason`): compiled,
    /// nothing read or written.
    Unsafe {
        /// The cache folder.
        folder: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// A guest to load from the cache or compile.
pub(crate) struct Wanted<'a> {
    /// The start of its entry's name: `guest` or `specialised`.
    pub(crate) kind: &'static str,
    /// SHA-256 naming the component: of its bytes, or of everything a
    /// specialised guest is made from.
    pub(crate) identity: [u8; 32],
    /// The component's bytes, made only when no valid entry exists.
    pub(crate) component: &'a dyn Fn() -> Result<Vec<u8>, SpecialiseError>,
}

/// Why a guest could be neither loaded nor compiled.
pub(crate) enum Failure {
    /// Its bytes could not be made.
    Make(SpecialiseError),
    /// wasmtime could not compile them.
    Compile(wasmtime::Error),
}

/// The compiled guest for `engine`, from the cache folder `folder` if an
/// entry there is valid, else compiled (and stored if the folder allows).
pub(crate) fn load_or_compile(
    engine: &Engine,
    folder: &Path,
    wanted: &Wanted<'_>,
) -> Result<(Component, CacheOutcome), Failure> {
    let bytes = || (wanted.component)().map_err(Failure::Make);
    if let Err(reason) = prepare_folder(folder) {
        let component = Component::new(engine, bytes()?).map_err(Failure::Compile)?;
        let folder = folder.to_path_buf();
        return Ok((component, CacheOutcome::Unsafe { folder, reason }));
    }
    let entry = folder.join(format!(
        "{}-{}.cwasm",
        wanted.kind,
        key(engine, &wanted.identity)
    ));
    let rejected = match read_entry(&entry) {
        Ok(None) => None,
        Ok(Some(payload)) => match deserialize(engine, &payload) {
            Ok(component) => return Ok((component, CacheOutcome::Loaded { entry })),
            Err(error) => Some(format!("wasmtime refused it: {error}")),
        },
        Err(reason) => Some(reason),
    };
    let payload = engine
        .precompile_component(&bytes()?)
        .map_err(Failure::Compile)?;
    let not_stored = write_entry(folder, &entry, &payload).err();
    // Just made by this engine.
    let component = deserialize(engine, &payload).map_err(Failure::Compile)?;
    let outcome = CacheOutcome::Compiled {
        entry,
        rejected,
        not_stored,
    };
    Ok((component, outcome))
}

/// Loads a serialized component.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, payload: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime runs deserialized code as it is, so the bytes must
    // come from `precompile_component` of a compatible engine. They do:
    // either this process made them, or `read_entry` checked that the entry
    // sits in a folder only this user can write and matches its checksum
    // (no torn or corrupted write), under a key that names the guest, the
    // versions and the engine's configuration; wasmtime checks the rest of
    // the compatibility itself. SECURITY.md states this trust model.
    unsafe { Component::deserialize(engine, payload) }
}

/// The entry's key: SHA-256 over what decides the compiled code, in hex.
fn key(engine: &Engine, identity: &[u8; 32]) -> String {
    let mut sha = Sha256::new();
    sha.update(MAGIC);
    sha.update(CODE_GENERATOR);
    sha.update(env!("CARGO_PKG_VERSION").as_bytes());
    sha.update(identity);
    engine
        .precompile_compatibility_hash()
        .hash(&mut ShaHasher(&mut sha));
    let mut hex = String::with_capacity(64);
    for byte in sha.finalize() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Feeds a `Hash` into SHA-256 (its `finish` is never used).
struct ShaHasher<'a>(&'a mut Sha256);

impl Hasher for ShaHasher<'_> {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// Creates the folder if needed (private to this user) and checks that it
/// is safe to load code from.
fn prepare_folder(folder: &Path) -> Result<(), String> {
    if !folder.exists() {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(folder)
            .map_err(|e| format!("cannot create it: {e}"))?;
    }
    let meta = fs::symlink_metadata(folder).map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_dir() {
        return Err("it is not a folder (links are not followed)".into());
    }
    private(&meta)
}

/// Checks that `meta` belongs to this user and that no one else may write it.
#[cfg(unix)]
fn private(meta: &fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "it belongs to user {}, not to this user ({me})",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "others may write it (mode {:o})",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Elsewhere the folder's access rules are the platform's (the default
/// cache folder is private to the user).
#[cfg(not(unix))]
fn private(_meta: &fs::Metadata) -> Result<(), String> {
    Ok(())
}

/// The payload of a valid entry; `Ok(None)` if there is none.
fn read_entry(entry: &Path) -> Result<Option<Vec<u8>>, String> {
    let meta = match fs::symlink_metadata(entry) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    if !meta.is_file() {
        return Err("it is not a regular file (links are not followed)".into());
    }
    private(&meta)?;
    if meta.len() > MAX_ENTRY_BYTES {
        return Err(format!("{} bytes is more than an entry can be", meta.len()));
    }
    let mut bytes = Vec::new();
    fs::File::open(entry)
        .and_then(|file| file.take(MAX_ENTRY_BYTES).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read it: {e}"))?;
    let header = MAGIC.len() + CHECKSUM_LEN;
    if bytes.len() < header || &bytes[..MAGIC.len()] != MAGIC {
        return Err("it is not a Moonbox cache entry of this format".into());
    }
    let payload = bytes.split_off(header);
    if Sha256::digest(&payload).as_slice() != &bytes[MAGIC.len()..] {
        return Err("its checksum does not match (corrupt or truncated)".into());
    }
    Ok(Some(payload))
}

/// Writes an entry atomically: a temporary file in the folder, renamed.
fn write_entry(folder: &Path, entry: &Path, payload: &[u8]) -> Result<(), String> {
    let write = || -> std::io::Result<()> {
        let mut file = tempfile::Builder::new()
            .prefix(".guest-")
            .suffix(".tmp")
            .tempfile_in(folder)?;
        file.write_all(MAGIC)?;
        file.write_all(&Sha256::digest(payload))?;
        file.write_all(payload)?;
        file.as_file().sync_all()?;
        file.persist(entry).map_err(|e| e.error)?;
        Ok(())
    };
    write().map_err(|e| format!("cannot write it: {e}"))
}
