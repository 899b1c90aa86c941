//! The built `xtask` binary, run as `cargo xtask` runs it.
//!
//! It works on the checkout that `cargo run` starts it in, not on the one it
//! was compiled in: checkouts that share a `CARGO_TARGET_DIR` share one
//! binary, so a root compiled into it would make a second checkout's
//! `cargo xtask codegen` read the first one's specs (and pass `--check` on
//! stale output) and write into the first one's tree. And `generate` writes
//! crates that find the runtime wherever they are copied to.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use xtask::codegen::owned_dirs;
use xtask::config::APIS;
use xtask::workspace_root;

/// What `codegen` reads and checks, copied from this checkout to `to`: the
/// specs, the directories of generated files, and the two manifests by
/// which a checkout is recognised. Not `target/`, not the tests.
fn copy_checkout(to: &Path) {
    let from = workspace_root();
    let mut files: Vec<PathBuf> = vec!["Cargo.toml".into(), "xtask/Cargo.toml".into()];
    files.extend(APIS.iter().map(|api| PathBuf::from(api.spec)));
    for dir in owned_dirs() {
        collect_files(&from, &dir, &mut files);
    }
    for file in files {
        let target = to.join(&file);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::copy(from.join(&file), &target)
            .unwrap_or_else(|e| panic!("cannot copy {}: {e}", file.display()));
    }
}

/// Every file below `root/dir`, as paths relative to `root`.
fn collect_files(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(root.join(dir)).unwrap() {
        let relative = dir.join(entry.unwrap().file_name());
        if root.join(&relative).is_dir() {
            collect_files(root, &relative, files);
        } else {
            files.push(relative);
        }
    }
}

/// The binary this test was built with, started as `cargo run` in the
/// checkout at `root` starts it: from that directory, with cargo's
/// `CARGO_MANIFEST_DIR` pointing at its `xtask/`.
fn run_xtask(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(root)
        .env("CARGO_MANIFEST_DIR", root.join("xtask"))
        .output()
        .expect("the xtask binary starts")
}

#[test]
fn codegen_reads_and_writes_the_checkout_it_runs_in() {
    let copy = std::env::temp_dir().join(format!("xtask-another-checkout-{}", std::process::id()));
    let _ = fs::remove_dir_all(&copy);
    copy_checkout(&copy);

    // The copy as committed is up to date, like the checkout it came from.
    let fresh = run_xtask(&copy, &["codegen", "--check"]);
    assert!(
        fresh.status.success(),
        "{}",
        String::from_utf8_lossy(&fresh.stderr)
    );

    // A schema that only the copy's spec has.
    let spec = copy.join("specs/ordermanagement.yaml");
    let text = fs::read_to_string(&spec).unwrap();
    assert_eq!(text.matches("\n  schemas:\n").count(), 1, "one schemas map");
    let added =
        "\n  schemas:\n    CopyOnlyMarker:\n      type: object\n      properties:\n        \
                 marker:\n          type: string\n";
    fs::write(&spec, text.replace("\n  schemas:\n", added)).unwrap();

    let models = "crates/klarna-models/src/ordermanagement.rs";
    let original = workspace_root().join(models);
    let original_before = fs::read(&original).unwrap();

    let check = run_xtask(&copy, &["codegen", "--check"]);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success(), "--check passed on a stale copy");
    assert!(
        stderr.contains(&format!("{models} (differs from its spec)")),
        "{stderr}"
    );

    let write = run_xtask(&copy, &["codegen"]);
    let stdout = String::from_utf8_lossy(&write.stdout);
    assert!(
        write.status.success(),
        "{}",
        String::from_utf8_lossy(&write.stderr)
    );
    assert_eq!(stdout.trim(), format!("wrote {models}"));
    let rewritten = fs::read_to_string(copy.join(models)).unwrap();
    assert!(
        rewritten.contains("pub struct CopyOnlyMarker"),
        "{rewritten}"
    );
    assert_eq!(
        fs::read(&original).unwrap(),
        original_before,
        "the original checkout was written to"
    );
    assert!(run_xtask(&copy, &["codegen", "--check"]).status.success());

    fs::remove_dir_all(&copy).unwrap();
}

/// A scratch directory for one test, emptied first.
fn scratch(parent: &Path, label: &str) -> PathBuf {
    let dir = parent.join(format!("xtask-cli-{label}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// `cargo xtask generate` of the Order Management spec into `dir/crate`, run
/// from this checkout; the spec is copied into `dir` first, so that the
/// manifest's header cites no path of the checkout. Returns the manifest.
fn generate(dir: &Path, extra: &[&str]) -> Result<String, String> {
    let spec = dir.join("ordermanagement.yaml");
    fs::copy(workspace_root().join("specs/ordermanagement.yaml"), &spec).unwrap();
    let out = dir.join("crate");
    let mut args = vec![
        "generate",
        "--spec",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let run = run_xtask(&workspace_root(), &args);
    if !run.status.success() {
        return Err(String::from_utf8_lossy(&run.stderr).into_owned());
    }
    Ok(fs::read_to_string(out.join("Cargo.toml")).unwrap())
}

/// The manifest's lines that are not comments.
fn entries(manifest: &str) -> Vec<&str> {
    manifest
        .lines()
        .filter(|line| !line.starts_with('#'))
        .collect()
}

#[test]
fn generate_with_a_runtime_version_outside_the_checkout_writes_no_path() {
    let dir = scratch(&std::env::temp_dir(), "version");
    let manifest = generate(&dir, &["--runtime", "version:0.1"]).unwrap();
    let entries = entries(&manifest);
    assert!(
        entries.contains(&r#"klarna-runtime = { version = "0.1", default-features = false, features = ["client"] }"#),
        "{manifest}"
    );
    assert!(
        !entries.iter().any(|line| line.contains("path")),
        "{manifest}"
    );
    let root = workspace_root().display().to_string();
    assert!(!manifest.contains(&root), "{manifest}");
    fs::remove_dir_all(&dir).unwrap();
}

/// Until `klarna-runtime` is published, the registry version would not
/// resolve: outside the checkout the default is a refusal that names
/// `--runtime`, and nothing is written (issue 29).
#[test]
fn generate_outside_the_checkout_asks_for_a_runtime_while_it_is_unpublished() {
    let dir = scratch(&std::env::temp_dir(), "default-outside");
    match generate(&dir, &[]) {
        Ok(manifest) if xtask::config::RUNTIME_PUBLISHED => {
            let expected = format!(
                r#"klarna-runtime = {{ version = "{}", default-features = false, features = ["client"] }}"#,
                env!("CARGO_PKG_VERSION")
            );
            assert!(
                entries(&manifest).contains(&expected.as_str()),
                "{manifest}"
            );
        }
        Ok(manifest) => panic!("an unresolvable manifest was written: {manifest}"),
        Err(stderr) => {
            assert!(stderr.contains("is not published yet"), "{stderr}");
            assert!(stderr.contains("--runtime path:"), "{stderr}");
            assert!(!dir.join("crate").exists(), "nothing may be written");
        }
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn generate_inside_the_checkout_takes_its_runtime_by_relative_path_by_default() {
    let dir = scratch(&workspace_root().join("target"), "default-inside");
    let manifest = generate(&dir, &[]).unwrap();
    let line = entries(&manifest)
        .into_iter()
        .find(|line| line.starts_with("klarna-runtime = "))
        .unwrap_or_else(|| panic!("no runtime dependency: {manifest}"));
    let path = line
        .strip_prefix(r#"klarna-runtime = { path = ""#)
        .and_then(|rest| {
            rest.strip_suffix(r#"", default-features = false, features = ["client"] }"#)
        })
        .unwrap_or_else(|| panic!("not a path dependency: {line}"));
    assert!(Path::new(path).is_relative(), "{line}");
    let runtime = dir.join("crate").join(path);
    assert_eq!(
        fs::canonicalize(&runtime).unwrap(),
        fs::canonicalize(workspace_root().join("crates/klarna-runtime")).unwrap(),
        "{line}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn generate_refuses_a_runtime_it_cannot_read_and_writes_nothing() {
    let dir = scratch(&std::env::temp_dir(), "bad-runtime");
    for (value, expected) in [
        (
            "1.0",
            "--runtime takes `path:DIR` or `version:X.Y[.Z]`, not `1.0`",
        ),
        ("version:latest", "not `version:latest`"),
        ("path:", "not `path:`"),
        ("path:no/such/dir", "no klarna-runtime at"),
    ] {
        let error = generate(&dir, &["--runtime", value]).unwrap_err();
        assert!(error.contains(expected), "{value}: {error}");
        assert!(!dir.join("crate").exists(), "{value}: wrote a crate");
    }
    fs::remove_dir_all(&dir).unwrap();
}
