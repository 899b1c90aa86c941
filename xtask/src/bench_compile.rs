//! `cargo xtask bench-compile`: what the generator and its crates cost as
//! whole processes and builds, which criterion (in-process) cannot show.
//! Results are Markdown tables on stdout, for BENCHMARKS.md.
//!
//! Everything is built in scratch target directories under
//! `$CARGO_TARGET_DIR/bench-compile`, never in the one the workspace uses,
//! so that cleaning a crate for a rebuild disturbs no one's build.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use xtask::codegen::workspace_files;
use xtask::config::APIS;
use xtask::{load, workspace_root};

/// The document both generators make a crate of for the comparison, and
/// progenitor's crate name.
const PROGENITOR_SPEC: &str = "specs/ordermanagement.yaml";
const PROGENITOR_CRATE: &str = "progenitor-ordermanagement";
/// Our generator's standalone crate for the same document.
const GENERATED_CRATE: &str = "generated-ordermanagement";
/// The template of a new user's first program.
const HELLO: &str = "benches/hello-klarna";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Lines,
    Codegen,
    Rebuild,
    Cold,
}

pub struct Settings {
    sections: Vec<Section>,
    /// Runs of each process and of each rebuild; the median is reported.
    runs: usize,
    /// Cold builds: minutes each, so one by default.
    cold_runs: usize,
}

impl Settings {
    /// `None` for arguments that are not understood.
    pub fn from_args(args: &[String]) -> Option<Settings> {
        let mut settings = Settings {
            sections: Vec::new(),
            runs: 11,
            cold_runs: 1,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--runs" => settings.runs = args.next()?.parse().ok().filter(|&n| n > 0)?,
                "--cold-runs" => {
                    settings.cold_runs = args.next()?.parse().ok().filter(|&n| n > 0)?
                }
                "lines" => settings.sections.push(Section::Lines),
                "codegen" => settings.sections.push(Section::Codegen),
                "rebuild" => settings.sections.push(Section::Rebuild),
                "cold" => settings.sections.push(Section::Cold),
                _ => return None,
            }
        }
        if settings.sections.is_empty() {
            settings.sections = vec![
                Section::Lines,
                Section::Codegen,
                Section::Rebuild,
                Section::Cold,
            ];
        }
        Some(settings)
    }
}

/// Where the benchmark finds its tools and puts its scratch files.
struct Env {
    root: PathBuf,
    scratch: PathBuf,
    cargo: PathBuf,
    xtask: PathBuf,
    progenitor: Option<PathBuf>,
}

pub fn run(settings: &Settings) -> Result<(), String> {
    let root = workspace_root();
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let env = Env {
        scratch: target.join("bench-compile"),
        cargo: std::env::var_os("CARGO").map_or_else(|| "cargo".into(), PathBuf::from),
        xtask: std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?,
        progenitor: on_path("cargo-progenitor"),
        root,
    };
    fs::create_dir_all(&env.scratch).map_err(|e| io(&env.scratch, e))?;
    println!("{}", machine());
    // progenitor's crate is generated once, for every section that needs it.
    let progenitor = match &env.progenitor {
        Some(program) => {
            let progenitor = progenitor_crate(&env, program)?;
            println!("progenitor's input: `{PROGENITOR_SPEC}` with these edits:\n");
            for edit in &progenitor.edits {
                println!("- {edit}");
            }
            println!();
            Some(progenitor)
        }
        None => {
            println!(
                "progenitor: skipped, `cargo-progenitor` is not on PATH \
                 (`cargo install cargo-progenitor --root DIR`, then add DIR/bin to PATH)\n"
            );
            None
        }
    };
    for section in &settings.sections {
        let report = match section {
            Section::Lines => lines(&env, progenitor.as_ref())?,
            Section::Codegen => codegen(&env, settings.runs, progenitor.as_ref())?,
            Section::Rebuild => rebuild(&env, settings.runs, progenitor.as_ref())?,
            Section::Cold => cold(&env, settings.cold_runs)?,
        };
        println!("{report}");
    }
    Ok(())
}

fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|model| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "machine: {cores} cores, {cpu}; load average at start: {}\n",
        load_average()
    )
}

/// The 1, 5 and 15 minute load averages: other work on the machine makes
/// every figure here slower, so each table says how busy it was.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

fn io(path: &Path, e: std::io::Error) -> String {
    format!("{}: {e}", path.display())
}

/// progenitor's generated crate, and the edits its input needed.
struct Progenitor {
    program: PathBuf,
    input: PathBuf,
    dir: PathBuf,
    edits: Vec<String>,
}

impl Progenitor {
    fn generate(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.arg("progenitor").arg("-i").arg(&self.input);
        command.arg("-o").arg(&self.dir);
        command.args([
            "-n",
            PROGENITOR_CRATE,
            "-v",
            "0.1.0",
            "--interface",
            "positional",
        ]);
        command
    }
}

fn progenitor_crate(env: &Env, program: &Path) -> Result<Progenitor, String> {
    let spec = env.root.join(PROGENITOR_SPEC);
    let mut document = load::read_tree(&spec).map_err(|e| e.to_string())?;
    let edits = edit_for_progenitor(&mut document);
    let input = env.scratch.join("progenitor-input.json");
    let json = serde_json::to_string_pretty(&document).expect("a JSON tree serialises");
    fs::write(&input, json).map_err(|e| io(&input, e))?;
    let progenitor = Progenitor {
        program: program.to_path_buf(),
        input,
        dir: env.scratch.join(PROGENITOR_CRATE),
        edits,
    };
    run_quietly(&mut progenitor.generate())?;
    // A crate of its own, even when the scratch directory sits inside the
    // workspace (the default target directory).
    let manifest = progenitor.dir.join("Cargo.toml");
    let mut toml = fs::read_to_string(&manifest).map_err(|e| io(&manifest, e))?;
    if !toml.contains("[workspace]") {
        toml.push_str("\n[workspace]\n");
        fs::write(&manifest, toml).map_err(|e| io(&manifest, e))?;
    }
    Ok(progenitor)
}

/// The smallest changes that let progenitor take the document, each
/// described for the report. progenitor wants one type for all the error
/// responses of an operation (it asserts `response_types.len() <= 1`), so
/// every error response of an operation gets the schema of its first.
fn edit_for_progenitor(document: &mut Value) -> Vec<String> {
    let mut edits = Vec::new();
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return edits;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            let is_error = |status: &str| !status.starts_with('2');
            let schema_of = |response: &Value| {
                response
                    .pointer("/content/application~1json/schema")
                    .cloned()
            };
            let schemas: Vec<(String, Value)> = responses
                .iter()
                .filter(|(status, _)| is_error(status))
                .filter_map(|(status, response)| Some((status.clone(), schema_of(response)?)))
                .collect();
            let Some((_, first)) = schemas.first().cloned() else {
                continue;
            };
            if schemas.iter().all(|(_, schema)| *schema == first) {
                continue;
            }
            let changed: Vec<&str> = schemas
                .iter()
                .filter(|(_, schema)| *schema != first)
                .map(|(status, _)| status.as_str())
                .collect();
            edits.push(format!(
                "`{} {path}`: error responses {} take the schema of {} ({})",
                method.to_uppercase(),
                changed.join(", "),
                schemas[0].0,
                first
                    .get("$ref")
                    .and_then(Value::as_str)
                    .unwrap_or("inline"),
            ));
            for (status, response) in responses.iter_mut() {
                if is_error(status) {
                    if let Some(schema) = response.pointer_mut("/content/application~1json/schema")
                    {
                        *schema = first.clone();
                    }
                }
            }
        }
    }
    edits
}

/// Runs a command to completion; its output only matters when it fails.
fn run_quietly(command: &mut Command) -> Result<Output, String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        return Ok(output);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
    Err(format!(
        "{command:?} failed ({}):\n{}",
        output.status,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))
}

fn timed(command: &mut Command) -> Result<(Duration, Output), String> {
    let start = Instant::now();
    let output = run_quietly(command)?;
    Ok((start.elapsed(), output))
}

/// Median, minimum and maximum.
struct Stats {
    median: Duration,
    min: Duration,
    max: Duration,
}

impl Stats {
    fn of(mut times: Vec<Duration>) -> Stats {
        times.sort();
        let n = times.len();
        let median = if n % 2 == 1 {
            times[n / 2]
        } else {
            (times[n / 2 - 1] + times[n / 2]) / 2
        };
        Stats {
            median,
            min: times[0],
            max: times[n - 1],
        }
    }

    fn cells(&self) -> String {
        format!(
            "{} | {} – {}",
            seconds(self.median),
            seconds(self.min),
            seconds(self.max)
        )
    }
}

fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// One warm-up run (caches, a stale binary), then `runs` timed ones.
fn median_of(runs: usize, mut command: impl FnMut() -> Command) -> Result<Stats, String> {
    timed(&mut command())?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        times.push(timed(&mut command())?.0);
    }
    Ok(Stats::of(times))
}

fn lines(env: &Env, progenitor: Option<&Progenitor>) -> Result<String, String> {
    let files = workspace_files(&env.root).map_err(|errors| {
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        errors.join("\n")
    })?;
    let mut out = String::from("### Generated lines\n\n| file | lines |\n| --- | ---: |\n");
    let mut total = 0;
    for file in &files {
        let count = file.contents.lines().count();
        total += count;
        let _ = writeln!(out, "| `{}` | {count} |", file.path.display());
    }
    let _ = writeln!(out, "| total | {total} |");
    if let Some(progenitor) = progenitor {
        let lib = progenitor.dir.join("src/lib.rs");
        let text = fs::read_to_string(&lib).map_err(|e| io(&lib, e))?;
        let _ = writeln!(
            out,
            "| progenitor (positional), `{PROGENITOR_SPEC}`: `src/lib.rs` | {} |",
            text.lines().count()
        );
    }
    Ok(out)
}

fn codegen(env: &Env, runs: usize, progenitor: Option<&Progenitor>) -> Result<String, String> {
    let mut out = format!(
        "### Codegen as a process (median of {runs} runs after one warm-up; load at start {})\n\n\
         | command | median | min – max |\n| --- | ---: | --- |\n",
        load_average()
    );
    let check = median_of(runs, || {
        let mut command = Command::new(&env.xtask);
        command.args(["codegen", "--check"]).current_dir(&env.root);
        command
    })?;
    let _ = writeln!(
        out,
        "| `xtask codegen --check` (the binary) | {} |",
        check.cells()
    );
    let cargo_check = median_of(runs, || {
        let mut command = Command::new(&env.cargo);
        command
            .args(["xtask", "codegen", "--check"])
            .current_dir(&env.root);
        command
    })?;
    let _ = writeln!(
        out,
        "| `cargo xtask codegen --check` | {} |",
        cargo_check.cells()
    );
    let mut specs: Vec<&str> = APIS.iter().map(|api| api.spec).collect();
    specs.sort_unstable();
    for spec in specs {
        let dir = env.scratch.join("generate");
        let generate = median_of(runs, || {
            let mut command = Command::new(&env.xtask);
            command
                .arg("generate")
                .arg("--spec")
                .arg(env.root.join(spec));
            command.arg("--out").arg(&dir);
            command
        })?;
        let _ = writeln!(
            out,
            "| `xtask generate --spec {spec}` (standalone crate) | {} |",
            generate.cells()
        );
    }
    if let Some(progenitor) = progenitor {
        let generate = median_of(runs, || progenitor.generate())?;
        let _ = writeln!(
            out,
            "| `cargo-progenitor progenitor --interface positional` on `{PROGENITOR_SPEC}` (edited) | {} |",
            generate.cells()
        );
    }
    Ok(out)
}

/// A crate to rebuild: cleaned (untimed), then built (timed).
struct Unit {
    label: String,
    manifest: PathBuf,
    target: PathBuf,
    build: Vec<String>,
    clean: Vec<String>,
}

impl Unit {
    fn cargo(&self, env: &Env, args: &[String]) -> Command {
        let mut command = Command::new(&env.cargo);
        command
            .args(args)
            .arg("--quiet")
            .arg("--manifest-path")
            .arg(&self.manifest)
            .env("CARGO_TARGET_DIR", &self.target)
            // What "full rebuild" means here: no incremental cache to lean on.
            .env("CARGO_INCREMENTAL", "0");
        command
    }

    fn build(&self, env: &Env) -> Command {
        let mut args = strings(&["build", "--timings"]);
        args.extend(self.build.iter().cloned());
        self.cargo(env, &args)
    }

    fn clean(&self, env: &Env) -> Option<Command> {
        if self.clean.is_empty() {
            return None;
        }
        let mut args = vec!["clean".to_owned()];
        for package in &self.clean {
            args.push("-p".to_owned());
            args.push(package.clone());
        }
        Some(self.cargo(env, &args))
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The client crates, by package name (their directory's name).
fn client_packages() -> Vec<String> {
    let mut packages: Vec<String> = APIS
        .iter()
        .filter_map(|api| Path::new(api.client_crate).file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    packages.dedup();
    packages
}

fn rebuild(env: &Env, runs: usize, progenitor: Option<&Progenitor>) -> Result<String, String> {
    let manifest = env.root.join("Cargo.toml");
    let target = env.scratch.join("workspace");
    let unit = |label: String, build: Vec<String>, clean: Vec<String>| Unit {
        label,
        manifest: manifest.clone(),
        target: target.clone(),
        build,
        clean,
    };
    let mut units = Vec::new();
    for api in APIS {
        units.push(unit(
            format!("klarna-models, feature `{}` only", api.module),
            strings(&[
                "-p",
                "klarna-models",
                "--no-default-features",
                "--features",
                api.module,
            ]),
            strings(&["klarna-models"]),
        ));
    }
    // The unit compared with progenitor's crate, which holds types and
    // client alike.
    let mut ours = None;
    let mut ours_without_guides = None;
    for package in client_packages() {
        units.push(unit(
            format!("{package} alone (models built)"),
            strings(&["-p", &package]),
            strings(&[&package]),
        ));
        if package == "klarna-ordermanagement" {
            ours = Some(units.len());
        }
        units.push(unit(
            format!("{package} with its klarna-models features"),
            strings(&["-p", &package]),
            strings(&["klarna-models", &package]),
        ));
        if package == "klarna-ordermanagement" {
            ours_without_guides = Some(units.len());
            units.push(unit(
                format!("{package} without default features (no guides), with its klarna-models features"),
                strings(&["-p", &package, "--no-default-features"]),
                strings(&["klarna-models", &package]),
            ));
        }
    }
    units.push(unit(
        "nothing to do: cargo's own start-up and checks".to_owned(),
        strings(&["-p", "klarna-ordermanagement"]),
        Vec::new(),
    ));
    // The generator's output alone, as `cargo xtask generate` writes it:
    // types and client in one crate, like progenitor's, and without the
    // hand-written modules klarna-ordermanagement also holds.
    let generated_dir = env.scratch.join(GENERATED_CRATE);
    xtask::generate_crate(
        &env.root.join(PROGENITOR_SPEC),
        &generated_dir,
        Some(GENERATED_CRATE),
        // The scratch directory may lie outside the checkout
        // (`$CARGO_TARGET_DIR`): this checkout's runtime, by absolute path.
        &xtask::Runtime::Path(env.root.join("crates/klarna-runtime")),
    )
    .map_err(|e| e.to_string())?;
    let lock = env.root.join("Cargo.lock");
    fs::copy(&lock, generated_dir.join("Cargo.lock")).map_err(|e| io(&lock, e))?;
    units.push(Unit {
        label: format!("`cargo xtask generate` of `{PROGENITOR_SPEC}`: `{GENERATED_CRATE}`"),
        manifest: generated_dir.join("Cargo.toml"),
        target: env.scratch.join("generated-target"),
        build: Vec::new(),
        clean: strings(&[GENERATED_CRATE]),
    });
    let generated = units.len() - 1;
    let theirs = progenitor.map(|progenitor| {
        units.push(Unit {
            label: format!("progenitor (positional): `{PROGENITOR_CRATE}`"),
            manifest: progenitor.dir.join("Cargo.toml"),
            target: env.scratch.join("progenitor-target"),
            build: Vec::new(),
            clean: strings(&[PROGENITOR_CRATE]),
        });
        units.len() - 1
    });
    let start_load = load_average();
    // Round-robin: every unit once per round, so that a busy moment of the
    // machine spreads over all of them instead of skewing one.
    let mut walls: Vec<Vec<Duration>> = vec![Vec::new(); units.len()];
    let mut rustcs: Vec<Vec<Duration>> = vec![Vec::new(); units.len()];
    for _ in 0..runs {
        for (i, unit) in units.iter().enumerate() {
            // Untimed: whatever an earlier unit cleaned (all of a package's
            // features go at once) is built again, so that only this unit's
            // own packages are compiled in the timed build.
            run_quietly(&mut unit.build(env))?;
            if let Some(mut clean) = unit.clean(env) {
                run_quietly(&mut clean)?;
            }
            walls[i].push(timed(&mut unit.build(env))?.0);
            if let Some(rustc) = compile_span(&unit.target, &unit.clean) {
                rustcs[i].push(rustc);
            }
        }
    }
    let walls: Vec<Stats> = walls.into_iter().map(Stats::of).collect();
    let rustcs: Vec<Option<Stats>> = rustcs
        .into_iter()
        .map(|times| (!times.is_empty()).then(|| Stats::of(times)))
        .collect();
    let mut out = format!(
        "### Full rebuild, dependencies built (`CARGO_INCREMENTAL=0 cargo build --timings`, dev \
         profile; median of {runs} runs, round-robin; load {start_load} at start, {} at end)\n\n\
         `cargo build` is the whole command; the crates' own is the span from the first of \
         them starting to the last finishing, from cargo's timings, without cargo's start-up.\n\n\
         | crate | `cargo build` median | min – max | the crates' own median | min – max |\n\
         | --- | ---: | --- | ---: | --- |\n",
        load_average()
    );
    for ((unit, wall), rustc) in units.iter().zip(&walls).zip(&rustcs) {
        let rustc = rustc.as_ref().map_or("– | –".to_owned(), Stats::cells);
        let _ = writeln!(out, "| {} | {} | {rustc} |", unit.label, wall.cells());
    }
    if let (Some(ours), Some(theirs)) = (ours, theirs) {
        let ratio = |a: usize| {
            let wall = walls[a].median.as_secs_f64() / walls[theirs].median.as_secs_f64();
            match (&rustcs[a], &rustcs[theirs]) {
                (Some(a), Some(b)) => format!(
                    "`cargo build` **{wall:.2}×**, the crates' own **{:.2}×**",
                    a.median.as_secs_f64() / b.median.as_secs_f64()
                ),
                _ => format!("`cargo build` **{wall:.2}×**"),
            }
        };
        let _ = writeln!(
            out,
            "\nAgainst progenitor's crate (target: at most 0.75×):\n\n\
             - klarna-models (ordermanagement) + klarna-ordermanagement: {}\n\
             - the same without the `guides` feature: {}\n\
             - `{GENERATED_CRATE}`, the generated code alone: {}",
            ratio(ours),
            ours_without_guides.map_or_else(|| "–".to_owned(), ratio),
            ratio(generated)
        );
    }
    Ok(out)
}

/// From the report `cargo build --timings` just wrote: the time from the
/// first of `packages` starting to compile to the last finishing. `None`
/// when there is no such report, or cargo changed its layout.
fn compile_span(target: &Path, packages: &[String]) -> Option<Duration> {
    let html = fs::read_to_string(target.join("cargo-timings/cargo-timing.html")).ok()?;
    const DATA: &str = "const UNIT_DATA = ";
    let start = html.find(DATA)? + DATA.len();
    let end = start + html[start..].find("];")? + 1;
    let units: Vec<Value> = serde_json::from_str(&html[start..end]).ok()?;
    let (mut first, mut last) = (f64::MAX, f64::MIN);
    for unit in &units {
        let name = unit.get("name")?.as_str()?;
        let duration = unit.get("duration")?.as_f64()?;
        if packages.iter().any(|p| p == name) && duration > 0.0 {
            let begin = unit.get("start")?.as_f64()?;
            first = first.min(begin);
            last = last.max(begin + duration);
        }
    }
    (last > first).then(|| Duration::from_secs_f64(last - first))
}

/// A new user's first build: the template program, once per TLS provider,
/// beside the same program without the SDK (`hello-bare`) built with the
/// same provider. Each is a copy whose path dependencies point into this
/// workspace, pinned by the workspace's lock file, built from an empty
/// target directory (with the registry's sources already downloaded); the
/// four builds take turns, so a busy moment of the machine falls on all.
fn cold(env: &Env, runs: usize) -> Result<String, String> {
    const PROGRAMS: [(&str, &str, &str); 4] = [
        ("hello-klarna", "benches/hello-klarna", "aws-lc-rs"),
        ("hello-bare", "benches/hello-bare", "aws-lc-rs"),
        ("hello-klarna", "benches/hello-klarna", "ring"),
        ("hello-bare", "benches/hello-bare", "ring"),
    ];
    let mut dirs = Vec::new();
    for (name, template, _) in PROGRAMS {
        let dir = env.scratch.join(name);
        copy_program(env, &env.root.join(template), &dir)?;
        dirs.push(dir);
    }
    let target = env.scratch.join("cold-target");
    let start_load = load_average();
    let mut times = vec![Vec::new(); PROGRAMS.len()];
    let mut compiled = vec![Vec::new(); PROGRAMS.len()];
    for _ in 0..runs {
        for (i, (_, _, provider)) in PROGRAMS.iter().enumerate() {
            let _ = fs::remove_dir_all(&target);
            let mut command = Command::new(&env.cargo);
            command
                .args(["build", "--no-default-features", "--features", provider])
                .current_dir(&dirs[i])
                .env("CARGO_TARGET_DIR", &target)
                // A new user's defaults.
                .env_remove("CARGO_INCREMENTAL");
            let (time, output) = timed(&mut command)?;
            times[i].push(time);
            compiled[i] = String::from_utf8_lossy(&output.stderr)
                .lines()
                .filter_map(|line| line.trim().strip_prefix("Compiling "))
                .filter_map(|rest| rest.split_whitespace().next())
                .map(str::to_owned)
                .collect();
        }
    }
    let _ = fs::remove_dir_all(&target);
    let mut out = format!(
        "### Cold build of a one-call program, per TLS provider (`cargo build`, dev profile, \
         empty target directory; median of {runs}, the four builds taking turns; load \
         {start_load} at start, {} at end)\n\n\
         `hello-klarna` is `{HELLO}`; `hello-bare` is the same call with reqwest, rustls and \
         serde_json alone.\n\n\
         | program | TLS provider | median | min – max | crates compiled | crypto crates |\n\
         | --- | --- | ---: | --- | ---: | --- |\n",
        load_average()
    );
    for (i, (name, _, provider)) in PROGRAMS.iter().enumerate() {
        let stats = Stats::of(std::mem::take(&mut times[i]));
        let crypto: Vec<&str> = compiled[i]
            .iter()
            .map(String::as_str)
            .filter(|name| ["aws-lc-sys", "aws-lc-rs", "ring", "openssl-sys"].contains(name))
            .collect();
        let _ = writeln!(
            out,
            "| {name} | {provider} | {} | {} | {} |",
            stats.cells(),
            compiled[i].len(),
            crypto.join(", ")
        );
    }
    Ok(out)
}

/// Copies a template program to `dir`, its path dependencies pointing into
/// this workspace and the workspace's lock file beside it.
fn copy_program(env: &Env, template: &Path, dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir.join("src")).map_err(|e| io(dir, e))?;
    let manifest = template.join("Cargo.toml");
    let toml = fs::read_to_string(&manifest).map_err(|e| io(&manifest, e))?;
    let toml = toml.replace(
        "path = \"../../",
        &format!("path = \"{}/", env.root.display()),
    );
    fs::write(dir.join("Cargo.toml"), toml).map_err(|e| io(dir, e))?;
    let copies = [
        (template.join("src/main.rs"), dir.join("src/main.rs")),
        (env.root.join("Cargo.lock"), dir.join("Cargo.lock")),
    ];
    for (from, to) in copies {
        fs::copy(&from, &to).map_err(|e| io(&from, e))?;
    }
    Ok(())
}
