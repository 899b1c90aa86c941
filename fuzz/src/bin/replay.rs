//! The fuzz targets on a stable toolchain, where `cargo fuzz` (libFuzzer
//! with sanitizers) cannot run: a mutation loop over a seed corpus, with no
//! coverage feedback, driving the same `klarna_fuzz::decode`.
//!
//!   replay [ITERATIONS] [API...]   mutate seeds ITERATIONS times per API
//!   replay --files API FILE...     run saved inputs (a crash from `cargo fuzz`)
//!
//! Seeds: an instance of each schema of the API's spec (built in), the JSON
//! files under `tests/fixtures/`, and `corpus/API/` when a fuzzer left one.
//! A crashing input is written to `artifacts/API/` and the exit code is 1.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// xorshift64*: deterministic, so a run can be repeated exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"null",
    b"true",
    b"0",
    b"-1",
    b"1e308",
    b"-0.0",
    b"18446744073709551616",
    b"9223372036854775807",
    b"\"\"",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"[]",
    b"{}",
    b"[",
    b"{",
    b"\"",
    b",",
    b":",
    b"]",
    b"}",
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    for _ in 0..=rng.below(3) {
        let at = rng.below(input.len() + 1);
        match rng.below(6) {
            0 => input.truncate(at),
            1 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] ^= 1 << rng.below(8);
            }
            2 if at < input.len() => {
                let end = (at + 1 + rng.below(16)).min(input.len());
                input.drain(at..end);
            }
            3 => {
                let token = INTERESTING[rng.below(INTERESTING.len())];
                input.splice(at..at, token.iter().copied());
            }
            4 => {
                // A piece of another seed: a value of another schema where
                // this one expects something else.
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                let to = (from + rng.below(64)).min(other.len());
                input.splice(at..at, other[from..to].iter().copied());
            }
            _ => {
                let byte = rng.next() as u8;
                input.insert(at, byte);
            }
        }
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn seeds(api: &str) -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = klarna_fuzz::SEEDS
        .iter()
        .filter(|(module, _)| *module == api)
        .flat_map(|(_, instances)| instances.iter().map(|i| i.as_bytes().to_vec()))
        .collect();
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    files_under(&here.join("../tests/fixtures"), &mut files);
    files.retain(|f| f.extension().is_some_and(|e| e == "json"));
    files_under(&here.join("corpus").join(api), &mut files);
    files.sort();
    seeds.extend(files.iter().filter_map(|f| std::fs::read(f).ok()));
    seeds.push(b"{}".to_vec());
    seeds
}

/// Runs one input; `Err` carries the panic message.
fn run(api: &str, input: &[u8]) -> Result<(), String> {
    panic::catch_unwind(AssertUnwindSafe(|| klarna_fuzz::decode(api, input))).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    })
}

fn save_crash(api: &str, input: &[u8]) -> PathBuf {
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("artifacts")
        .join(api);
    let path = dir.join(format!("crash-{hash:016x}"));
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(&path, input);
    path
}

fn fuzz(api: &str, iterations: u64) -> Result<u64, String> {
    let types = klarna_fuzz::types(api).ok_or_else(|| format!("no API `{api}`"))?;
    let seeds = seeds(api);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ api.len() as u64);
    let mut executions = 0;
    // Every seed as every type first, then mutations.
    let unmutated = seeds.iter().flat_map(|seed| {
        (0..types.len()).map(move |i| {
            let mut input = vec![i as u8];
            input.extend_from_slice(seed);
            input
        })
    });
    for input in unmutated {
        executions += 1;
        run(api, &input)
            .map_err(|e| format!("{e} (saved as {})", save_crash(api, &input).display()))?;
    }
    for _ in 0..iterations {
        let mut input = vec![rng.next() as u8];
        input.extend_from_slice(&seeds[rng.below(seeds.len())]);
        mutate(&mut rng, &mut input, &seeds);
        executions += 1;
        run(api, &input)
            .map_err(|e| format!("{e} (saved as {})", save_crash(api, &input).display()))?;
    }
    Ok(executions)
}

fn main() -> ExitCode {
    // The panics are reported below, with the saved input.
    panic::set_hook(Box::new(|_| {}));
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, api, files @ ..] = args.as_slice() {
        if flag == "--files" {
            let mut failed = false;
            for file in files {
                let input = std::fs::read(file).unwrap_or_default();
                if let Err(e) = run(api, &input) {
                    eprintln!("{file}: {e}");
                    failed = true;
                }
            }
            return if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    }
    let (iterations, apis): (u64, Vec<&str>) = match args.split_first() {
        Some((n, rest)) if n.parse::<u64>().is_ok() => (
            n.parse().unwrap_or(0),
            rest.iter().map(String::as_str).collect(),
        ),
        _ => (10_000, args.iter().map(String::as_str).collect()),
    };
    let apis = if apis.is_empty() {
        klarna_fuzz::APIS
            .iter()
            .map(|(module, _)| *module)
            .collect()
    } else {
        apis
    };
    let mut failed = false;
    for api in apis {
        match fuzz(api, iterations) {
            Ok(executions) => println!("{api}: {executions} executions, no crash"),
            Err(e) => {
                println!("{api}: crash: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
