//! [`ModSource`]: a mod's manifest and files, read whole before anything runs.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::LoadError;
use super::manifest::{Manifest, ManifestError, is_relative_lua_path};

/// Most `.lua` files one mod may have.
pub const MAX_FILES: usize = 256;
/// Most bytes of Lua source one mod may have.
pub const MAX_SOURCE_BYTES: usize = 4 * 1024 * 1024;
/// Largest `mod.toml`, in bytes.
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;
/// Deepest folder nesting read inside a mod.
const MAX_DEPTH: usize = 8;

/// A mod as loaded: its manifest and every `.lua` file of its folder, by
/// path relative to the folder (`/`-separated).
#[derive(Debug, Clone, PartialEq)]
pub struct ModSource {
    /// The parsed manifest.
    pub manifest: Manifest,
    /// The manifest's text, as read (replay files keep it).
    pub manifest_text: String,
    /// The Lua files, by relative path.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The folder it was read from, for reloading; `None` when built in memory.
    pub dir: Option<PathBuf>,
}

impl ModSource {
    /// SHA-256 of the manifest's text and every file (path and bytes): what
    /// a snapshot checks the loaded mod against.
    pub fn digest(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut sha = Sha256::new();
        let mut field = |bytes: &[u8]| {
            sha.update((bytes.len() as u64).to_le_bytes());
            sha.update(bytes);
        };
        field(self.manifest_text.as_bytes());
        for (path, text) in &self.files {
            field(path.as_bytes());
            field(text);
        }
        sha.finalize().into()
    }

    /// Reads the mod in folder `dir`: `mod.toml` and every `.lua` file below
    /// it. Symbolic links are not followed, so a mod cannot reach outside
    /// its folder.
    ///
    /// # Errors
    /// [`LoadError::Io`], [`LoadError::Manifest`] or [`LoadError::MissingFile`].
    pub fn from_dir(dir: &Path) -> Result<Self, LoadError> {
        let origin = dir.display().to_string();
        let manifest_path = dir.join("mod.toml");
        let unreadable = |message: String| LoadError::Manifest {
            origin: origin.clone(),
            error: ManifestError::Unreadable { message },
        };
        let bytes = read_bounded_no_link(&manifest_path, MAX_MANIFEST_BYTES)
            .map_err(|e| unreadable(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|_| unreadable("not UTF-8 text".into()))?;
        let mut files = BTreeMap::new();
        let mut total = 0;
        collect(dir, "", 0, &mut files, &mut total)?;
        let mut source = Self::from_parts(&origin, &text, files)?;
        source.dir = Some(dir.to_path_buf());
        Ok(source)
    }

    /// A mod from a manifest's text and its files; `origin` names it in errors.
    ///
    /// ```
    /// use moonbox::ModSource;
    /// let source = ModSource::from_parts(
    ///     "example",
    ///     "name = 'hello'\nversion = '1'\n",
    ///     [("main.lua".to_string(), b"print('hi')".to_vec())],
    /// )?;
    /// assert_eq!(source.manifest.entry, "main.lua");
    /// # Ok::<(), moonbox::LoadError>(())
    /// ```
    ///
    /// # Errors
    /// [`LoadError::Manifest`], or [`LoadError::MissingFile`] for the entry.
    pub fn from_parts(
        origin: &str,
        manifest: &str,
        files: impl IntoIterator<Item = (String, Vec<u8>)>,
    ) -> Result<Self, LoadError> {
        let manifest_text = manifest;
        let manifest = Manifest::parse(manifest).map_err(|error| LoadError::Manifest {
            origin: origin.to_owned(),
            error,
        })?;
        let files: BTreeMap<String, Vec<u8>> = files.into_iter().collect();
        if let Some(bad) = files.keys().find(|path| !is_relative_lua_path(path)) {
            return Err(LoadError::Rejected {
                name: manifest.name.clone(),
                message: format!("file '{bad}' is not a .lua file inside the mod"),
            });
        }
        if !files.contains_key(&manifest.entry) {
            return Err(LoadError::MissingFile {
                name: manifest.name.clone(),
                file: manifest.entry.clone(),
            });
        }
        Ok(Self {
            manifest,
            manifest_text: manifest_text.to_owned(),
            files,
            dir: None,
        })
    }

    /// The mod in `dir` if it has a `mod.toml`, otherwise every sub-folder
    /// of it that has one, in name order; each read on its own, so one bad
    /// mod does not hide the others.
    ///
    /// # Errors
    /// [`LoadError::Io`] if `dir` cannot be listed.
    pub fn discover(dir: &Path) -> Result<Vec<Result<Self, LoadError>>, LoadError> {
        if dir.join("mod.toml").is_file() {
            return Ok(vec![Self::from_dir(dir)]);
        }
        let io = |e: std::io::Error| LoadError::Io {
            origin: dir.display().to_string(),
            message: e.to_string(),
        };
        let mut dirs: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(io)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(io)?
            .into_iter()
            // A linked folder is not followed: a mod is what the folder holds.
            .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
            .map(|entry| entry.path())
            .filter(|path| path.join("mod.toml").is_file())
            .collect();
        dirs.sort();
        Ok(dirs.iter().map(|path| Self::from_dir(path)).collect())
    }

    /// The name `require` knows a file by: `lib/util.lua` is `lib.util`.
    pub fn module_name(path: &str) -> String {
        path.strip_suffix(".lua").unwrap_or(path).replace('/', ".")
    }
}

fn collect(
    dir: &Path,
    prefix: &str,
    depth: usize,
    files: &mut BTreeMap<String, Vec<u8>>,
    total: &mut usize,
) -> Result<(), LoadError> {
    let io = |path: &Path, e: std::io::Error| LoadError::Io {
        origin: path.display().to_string(),
        message: e.to_string(),
    };
    let mut entries = fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| io(dir, e))?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let kind = entry.file_type().map_err(|e| io(&path, e))?;
        let relative = format!("{prefix}{name}");
        if kind.is_dir() && depth < MAX_DEPTH && !name.starts_with('.') {
            collect(&path, &format!("{relative}/"), depth + 1, files, total)?;
        } else if kind.is_file() && name.ends_with(".lua") {
            let too_much = || LoadError::Io {
                origin: dir.display().to_string(),
                message: format!(
                    "a mod may have at most {MAX_FILES} .lua files and {MAX_SOURCE_BYTES} bytes of source"
                ),
            };
            if files.len() >= MAX_FILES {
                return Err(too_much());
            }
            // Read no more than the mod may still have, whatever the file
            // claims to be (a sparse file, a file that grows while read).
            let room = MAX_SOURCE_BYTES.saturating_sub(*total);
            let bytes = read_bounded_no_link(&path, room).map_err(|_| too_much())?;
            *total += bytes.len();
            files.insert(relative, bytes);
        }
    }
    Ok(())
}

/// Reads the regular file at `path`, refusing a symbolic link (a mod is
/// what its folder holds), through [`read_bounded`].
fn read_bounded_no_link(path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
    if fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "is a symbolic link, which a mod may not use",
        ));
    }
    read_bounded(path, limit)
}

/// Reads the regular file at `path`, at most `limit` bytes: the size is
/// checked before reading, and no more than `limit + 1` bytes are read
/// whatever the file claims (a sparse file, a file that grows while read).
/// For files that come from untrusted hands: mods, worlds, replays.
///
/// # Errors
/// The file cannot be read, is not a regular file, or is larger than `limit`.
pub fn read_bounded(path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    let file = fs::File::open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, "is not a regular file"));
    }
    let too_large = || {
        Error::new(
            ErrorKind::FileTooLarge,
            format!("is larger than {limit} bytes"),
        )
    };
    if usize::try_from(metadata.len()).map_or(true, |len| len > limit) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    file.take(cap).read_to_end(&mut bytes)?;
    if bytes.len() > limit {
        return Err(too_large());
    }
    Ok(bytes)
}
