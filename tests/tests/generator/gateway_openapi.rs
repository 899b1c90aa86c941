//! The REST adapter's OpenAPI document (what klarna-gateway serves at
//! `/v1/openapi.json`) goes through our own generator as
//! `cargo xtask generate` runs it, and the crate it makes compiles against
//! this checkout's `klarna-runtime`: for the default surface and for every
//! operation of the table.
//!
//! The check runs `cargo check --offline` on the generated crate, with the
//! workspace's lock file and a target directory of its own under
//! `target/` (`target/gateway-openapi`), so it neither waits for the lock
//! of the `cargo test` that runs it nor reaches the network; the runtime's
//! dependencies are built there once and reused by later runs.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use klarna_gateway::{openapi, Surface};
use xtask::{generate_crate, workspace_root, Runtime};

/// Longest the check of one generated crate may take: a cold build of the
/// runtime's dependencies on a busy two-core machine, with room to spare.
/// A bound against a hang, not a measure of speed.
const CHECK_LIMIT: Duration = Duration::from_secs(15 * 60);

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "klarna-tests-gateway-openapi-{label}-{}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    dir
}

/// Writes the document of `surface` to a scratch directory, generates a
/// crate from it and checks that crate; fails naming what broke.
fn generate_and_check(label: &str, surface: Surface) {
    let dir = scratch(label);
    fs::create_dir_all(&dir).unwrap();
    let tools = surface.tools().expect("known tags");
    let document = openapi::document(&tools, Some("http://127.0.0.1:8080"));
    let spec = dir.join(format!("gateway-{label}.json"));
    fs::write(&spec, serde_json::to_vec_pretty(&document).unwrap()).unwrap();

    // The crate lies outside the checkout: this checkout's runtime by its
    // absolute path, as `cargo xtask sweep` does.
    let out = dir.join("crate");
    let runtime = Runtime::Path(workspace_root().join("crates/klarna-runtime"));
    let name = format!("klarna-gateway-{label}");
    let written = generate_crate(&spec, &out, Some(&name), &runtime)
        .unwrap_or_else(|e| panic!("the generator refused the {label} document: {e}"));
    assert!(written.iter().any(|p| p.ends_with("lib.rs")), "{written:?}");

    // Generated: one client method per tool, each route's operation.
    let lib = fs::read_to_string(out.join("src/lib.rs")).unwrap();
    for tool in &tools {
        assert!(
            lib.contains(&format!("fn {}", operation_method(&document, tool))),
            "{label}: no client method for `{}`",
            tool.name
        );
    }

    check(&out, label);
    let _ = fs::remove_dir_all(&dir);
}

/// The method name the generator gives an operation: its `operationId` in
/// snake case, which the document writes in snake case already.
fn operation_method(document: &serde_json::Value, tool: &klarna_gateway::Tool) -> String {
    document["paths"][tool.route][tool.method.to_ascii_lowercase()]["operationId"]
        .as_str()
        .expect("an operationId")
        .to_owned()
}

fn check(crate_dir: &Path, label: &str) {
    let root = workspace_root();
    // The workspace's lock file pins the runtime's dependencies to what the
    // workspace builds with, so `--offline` finds them all.
    fs::copy(root.join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .args(["check", "--offline", "--message-format", "short"])
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", root.join("target/gateway-openapi"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cargo runs");
    // Read stderr on a thread, so a chatty build cannot fill the pipe and
    // stall while this thread waits for it to exit.
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for cargo") {
            break status;
        }
        if started.elapsed() > CHECK_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{label}: cargo check did not finish in {CHECK_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = reader.join().unwrap();
    assert!(
        status.success(),
        "{label}: the generated crate does not compile:\n{stderr}"
    );
    // `--message-format short`: a warning is one `path:line:col: warning:` line.
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains(": warning"))
        .collect();
    assert!(
        warnings.is_empty(),
        "{label}: warnings:\n{}",
        warnings.join("\n")
    );
}

#[test]
fn the_gateway_document_of_the_default_surface_generates_a_crate_that_compiles() {
    generate_and_check("default", Surface::default());
}

#[test]
fn the_gateway_document_of_every_operation_generates_a_crate_that_compiles() {
    generate_and_check("all", Surface::All);
}
