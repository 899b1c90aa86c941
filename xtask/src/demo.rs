//! `cargo xtask demo`: the README's fresh-machine command. Regenerates the
//! generated crates from `specs/`, builds the sandbox's demo, and runs it,
//! saying what each step does. A fresh machine spends minutes in the build;
//! it shows a count of the crates compiled so far instead of going silent,
//! and a warm one prints a line per step.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;
use xtask::{codegen, workspace_root, Outcome};

/// The example the demo is, in the sandbox crate.
const PACKAGE: &str = "klarna-sandbox";
const EXAMPLE: &str = "demo";

/// Runs the three steps; `args` go to the demo (`--playground ORDER_ID`).
pub fn run(args: &[String]) -> Result<(), String> {
    let root = workspace_root();

    step(1, "regenerating the generated crates from specs/");
    match codegen(&root, false) {
        Ok(Outcome::UpToDate) => println!("      up to date"),
        Ok(Outcome::Written(paths)) => {
            for path in paths {
                println!("      wrote {}", path.display());
            }
        }
        // Only `--check` reports stale files instead of writing them.
        Ok(Outcome::Stale(_)) => return Err("codegen reported stale files".to_owned()),
        Err(errors) => {
            return Err(errors
                .iter()
                .map(|e| format!("error: {e}"))
                .collect::<Vec<_>>()
                .join("\n"))
        }
    }

    step(
        2,
        "building the demo (minutes on a fresh machine, seconds after)",
    );
    let demo = build(&root)?;

    step(3, "running the demo against a local Klarna sandbox\n");
    let status = Command::new(&demo)
        .args(args)
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", demo.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the demo failed ({status})"))
    }
}

fn step(number: usize, what: &str) {
    println!("[{number}/3] {what}");
}

/// Builds the example, reporting progress on one line, and returns the
/// path of its executable. Cargo's JSON messages say which crates were
/// compiled (`fresh: false`) and where the example landed; compiler
/// errors are rendered as cargo would.
fn build(root: &std::path::Path) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let start = Instant::now();
    let mut child = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--message-format=json-render-diagnostics",
        ])
        .args(["-p", PACKAGE, "--example", EXAMPLE])
        .current_dir(root)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    let stdout = child.stdout.take().ok_or("cargo has no output")?;
    let live = std::io::stdout().is_terminal();
    let (mut compiled, mut executable) = (0usize, None);
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading cargo's output: {e}"))?;
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        if message["fresh"] == false {
            compiled += 1;
            let name = message["target"]["name"].as_str().unwrap_or("?");
            if live {
                // One line, rewritten: `\x1b[K` clears what a longer name left.
                print!("\r      {compiled} crates compiled, last {name}\x1b[K");
                let _ = std::io::stdout().flush();
            } else if compiled % 25 == 0 {
                println!("      {compiled} crates compiled");
            }
        }
        if message["target"]["name"] == EXAMPLE {
            executable = message["executable"].as_str().map(PathBuf::from);
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for cargo: {e}"))?;
    if live && compiled > 0 {
        println!();
    }
    if !status.success() {
        return Err(format!("building the demo failed ({status})"));
    }
    match compiled {
        0 => println!("      up to date"),
        n => println!("      {n} crates compiled in {:.0?}", start.elapsed()),
    }
    executable.ok_or_else(|| "cargo built no demo executable".to_owned())
}
