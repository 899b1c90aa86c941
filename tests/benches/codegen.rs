//! The generator, in process, on every document in `specs/`: load, resolve,
//! emit and format, as `cargo xtask codegen` runs them per document (with
//! each API's settings from `xtask::config::APIS`), without the writing or
//! comparing of files.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use xtask::config::APIS;
use xtask::ModelsPath;

fn generate(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate_api");
    for api in APIS {
        let spec = xtask::workspace_root().join(api.spec);
        let name = spec.file_name().expect("a file").to_string_lossy();
        group.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| {
                xtask::generate_api(
                    &spec,
                    api.spec,
                    "cargo xtask codegen",
                    &ModelsPath::ChildModule,
                    &api.settings,
                )
                .unwrap_or_else(|e| panic!("{e}"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, generate);
criterion_main!(benches);
