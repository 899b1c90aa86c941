//! The generator, in process, on every document in `specs/`: load, resolve,
//! emit and format, as `cargo xtask codegen` runs them per document, without
//! the writing or comparing of files.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use xtask::ModelsPath;

fn specs() -> Vec<PathBuf> {
    let dir = xtask::workspace_root().join("specs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    files
}

fn generate(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate_api");
    for spec in specs() {
        let name = spec.file_name().expect("a file").to_string_lossy();
        let cited = format!("specs/{name}");
        group.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| {
                xtask::generate_api(
                    &spec,
                    &cited,
                    "cargo xtask codegen",
                    &ModelsPath::ChildModule,
                )
                .unwrap_or_else(|e| panic!("{e}"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, generate);
criterion_main!(benches);
