//! Stage 5: put generated files on disk, or compare them with what is there.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub struct GeneratedFile {
    /// Relative to the output root.
    pub path: PathBuf,
    pub contents: String,
}

/// Why a file on disk differs from what the generator makes.
#[derive(Debug, PartialEq, Eq)]
pub enum Staleness {
    Missing,
    Differs,
    /// Carries the generated header but no spec produces it any more.
    Orphaned,
}

/// Files under `root` that are stale, with the reason. `owned_dirs` are the
/// directories whose generated files all come from this run.
pub fn stale(
    root: &Path,
    files: &[GeneratedFile],
    owned_dirs: &[PathBuf],
) -> io::Result<Vec<(PathBuf, Staleness)>> {
    let mut stale = Vec::new();
    for file in files {
        match fs::read(root.join(&file.path)) {
            Ok(existing) if normalize(&existing) == file.contents.as_bytes() => {}
            Ok(_) => stale.push((file.path.clone(), Staleness::Differs)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                stale.push((file.path.clone(), Staleness::Missing))
            }
            Err(e) => return Err(e),
        }
    }
    for orphan in orphans(root, files, owned_dirs)? {
        stale.push((orphan, Staleness::Orphaned));
    }
    Ok(stale)
}

/// Writes every file that changed (through a temporary file and a rename, so
/// no reader sees half a file) and removes orphaned generated files.
pub fn write(
    root: &Path,
    files: &[GeneratedFile],
    owned_dirs: &[PathBuf],
) -> io::Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    for (path, staleness) in stale(root, files, owned_dirs)? {
        let target = root.join(&path);
        if staleness == Staleness::Orphaned {
            fs::remove_file(&target)?;
        } else {
            let file = files
                .iter()
                .find(|f| f.path == path)
                .expect("stale files come from `files`");
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)?;
            }
            let temporary = target.with_extension("rs.tmp");
            fs::write(&temporary, &file.contents)?;
            fs::rename(&temporary, &target)?;
        }
        changed.push(path);
    }
    Ok(changed)
}

/// A checkout on Windows may have CRLF line endings; they are not a change.
fn normalize(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        if !(b == b'\r' && bytes.get(i + 1) == Some(&b'\n')) {
            out.push(b);
        }
    }
    out
}

fn orphans(
    root: &Path,
    files: &[GeneratedFile],
    owned_dirs: &[PathBuf],
) -> io::Result<Vec<PathBuf>> {
    let mut orphans = Vec::new();
    for dir in owned_dirs {
        let Ok(entries) = fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = dir.join(entry?.file_name());
            let is_generated = fs::read_to_string(root.join(&path))
                .is_ok_and(|text| text.starts_with("// @generated"));
            if is_generated && !files.iter().any(|f| f.path == path) {
                orphans.push(path);
            }
        }
    }
    orphans.sort();
    Ok(orphans)
}
