//! `cargo xtask sweep DIR...`: run the generator over every document in some
//! directories and compile what it makes, to show how it copes with
//! documents written by others (Klarna's published ones above all).
//!
//! Each document becomes a standalone crate (as `cargo xtask generate` makes
//! it) in a scratch directory, then `cargo clippy -- -D warnings` checks it.
//! All crates share one target directory, so the runtime and its
//! dependencies are checked once for the whole sweep.

use std::fmt::Write as _;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::codegen::{generate_crate, workspace_root, Runtime};

const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// What happened to one document.
pub struct Row {
    /// The document, as the table names it (`more/klarna-orders-api.yml`).
    pub document: String,
    pub generated: Step,
    /// `Skipped` when nothing was generated.
    pub compiled: Step,
}

pub enum Step {
    Done,
    Skipped,
    /// The first line of the problem, naming the file and the place.
    Failed(String),
    /// The generator refused the document with an error that names a place
    /// in it: the expected answer to a document it cannot handle.
    Rejected(String),
}

impl Row {
    /// A document the generator took but whose crate does not compile, or
    /// one it failed on without saying where (or by panicking): a bug of
    /// the generator, not of the document.
    pub fn is_failure(&self) -> bool {
        matches!(self.generated, Step::Failed(_)) || matches!(self.compiled, Step::Failed(_))
    }

    fn error(&self) -> &str {
        match (&self.generated, &self.compiled) {
            (Step::Failed(e) | Step::Rejected(e), _) | (_, Step::Failed(e) | Step::Rejected(e)) => {
                e
            }
            _ => "",
        }
    }
}

/// Where a sweep works.
pub struct Settings {
    /// Scratch directory for the generated crates; one subdirectory each.
    pub work_dir: PathBuf,
    /// Target directory shared by every generated crate.
    pub target_dir: PathBuf,
    /// The `cargo` to run (the one that runs the xtask, when known).
    pub cargo: PathBuf,
}

/// The documents of each directory (not recursive), sorted by name.
pub fn documents(dirs: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut all = Vec::new();
    for dir in dirs {
        let mut found = Vec::new();
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            let has_extension = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
            if has_extension && path.is_file() {
                found.push(path);
            }
        }
        found.sort();
        all.extend(found);
    }
    Ok(all)
}

/// Generates and compiles each document in turn; `progress` hears about
/// each row as it is done, since compiling takes a while.
pub fn sweep(
    documents: &[PathBuf],
    settings: &Settings,
    mut progress: impl FnMut(&Row),
) -> Vec<Row> {
    let mut rows = Vec::new();
    for (index, spec) in documents.iter().enumerate() {
        let stem = spec
            .file_stem()
            .map(|s| crate::names::snake(&s.to_string_lossy()).replace('_', "-"))
            .unwrap_or_default();
        // Two directories may hold documents of the same name; the index
        // keeps their crates apart, and a letter first keeps the name valid.
        let name = format!("sweep-{index:02}-{stem}");
        let out = settings.work_dir.join(&name);
        let row = sweep_one(spec, &out, &name, settings);
        progress(&row);
        rows.push(row);
    }
    rows
}

fn sweep_one(spec: &Path, out: &Path, name: &str, settings: &Settings) -> Row {
    let document = match (spec.parent().and_then(Path::file_name), spec.file_name()) {
        (Some(dir), Some(file)) => Path::new(dir).join(file).display().to_string(),
        _ => spec.display().to_string(),
    };
    // The crates lie outside the checkout, in a scratch directory of this
    // machine: this checkout's runtime, by its absolute path.
    let runtime = Runtime::Path(workspace_root().join("crates/klarna-runtime"));
    let generated = panic::catch_unwind(AssertUnwindSafe(|| {
        generate_crate(spec, out, Some(name), &runtime)
    }));
    let generated = match generated {
        Ok(Ok(_)) => Step::Done,
        Ok(Err(e)) if e.location.is_some() => Step::Rejected(e.to_string()),
        Ok(Err(e)) => Step::Failed(e.to_string()),
        Err(panic) => Step::Failed(format!(
            "{}: the generator panicked: {}",
            spec.display(),
            panic_message(panic.as_ref())
        )),
    };
    let compiled = match generated {
        Step::Done => compile(out, settings),
        _ => Step::Skipped,
    };
    Row {
        document,
        generated,
        compiled,
    }
}

pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

fn compile(crate_dir: &Path, settings: &Settings) -> Step {
    // The workspace's lock file pins the runtime's dependencies to the
    // versions the workspace builds with: no registry lookup, and the shared
    // target directory holds them once.
    let lock = workspace_root().join("Cargo.lock");
    if let Err(e) = fs::copy(&lock, crate_dir.join("Cargo.lock")) {
        return Step::Failed(format!("cannot copy {}: {e}", lock.display()));
    }
    let output = Command::new(&settings.cargo)
        .args([
            "clippy",
            "--quiet",
            "--message-format",
            "short",
            "--",
            "-D",
            "warnings",
        ])
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", &settings.target_dir)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) => return Step::Failed(format!("cannot run {}: {e}", settings.cargo.display())),
    };
    if output.status.success() {
        return Step::Done;
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    // `--message-format short` puts `file:line:column: error...` on one line.
    let first = stderr
        .lines()
        .find(|line| line.contains("error"))
        .or_else(|| stderr.lines().find(|line| !line.trim().is_empty()))
        .unwrap_or("cargo failed and said nothing");
    Step::Failed(format!("{}: {}", crate_dir.display(), first.trim()))
}

/// The table: one row per document, columns aligned.
pub fn table(rows: &[Row]) -> String {
    let cell = |step: &Step| match step {
        Step::Done => "yes",
        Step::Skipped => "-",
        Step::Failed(_) | Step::Rejected(_) => "no",
    };
    let width = rows
        .iter()
        .map(|r| r.document.len())
        .chain(std::iter::once("document".len()))
        .max()
        .unwrap_or(0);
    let mut out = format!("{:width$}  generated  compiled  error\n", "document");
    for row in rows {
        let _ = writeln!(
            out,
            "{:width$}  {:9}  {:8}  {}",
            row.document,
            cell(&row.generated),
            cell(&row.compiled),
            row.error()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_the_generator_refuses_are_reported_not_compiled() {
        let broken = workspace_root().join("tests/fixtures/broken");
        let documents = documents(std::slice::from_ref(&broken)).unwrap();
        assert!(documents.len() >= 8, "{documents:?}");
        assert!(documents.windows(2).all(|w| w[0] < w[1]), "sorted");
        let work_dir =
            std::env::temp_dir().join(format!("xtask-sweep-test-{}", std::process::id()));
        let settings = Settings {
            work_dir: work_dir.clone(),
            target_dir: work_dir.join("target"),
            // Never run: nothing here generates.
            cargo: PathBuf::from("/nonexistent/cargo"),
        };
        let mut heard = 0;
        let rows = sweep(&documents, &settings, |_| heard += 1);
        assert_eq!(heard, documents.len());
        for row in &rows {
            assert!(
                matches!(row.generated, Step::Rejected(_)) && matches!(row.compiled, Step::Skipped),
                "{}: {}",
                row.document,
                row.error()
            );
            assert!(!row.is_failure());
            assert!(row.error().contains(&row.document), "{}", row.error());
        }
        assert!(!work_dir.exists(), "a refused document writes nothing");
        let table = table(&rows);
        assert!(table.starts_with("document"), "{table}");
        assert!(table.contains("broken/not-utf8.yaml  "), "{table}");
    }
}
