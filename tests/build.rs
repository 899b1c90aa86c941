//! Generates the models of every fixture document into `OUT_DIR`, for
//! `src/lib.rs` to compile.

use std::path::Path;

fn main() {
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    println!("cargo:rerun-if-changed=fixtures");
    for name in ["quirks", "composition", "containers", "recursive"] {
        let cited = format!("tests/fixtures/{name}.yaml");
        let spec = Path::new("fixtures").join(format!("{name}.yaml"));
        let module = xtask::generate_api(
            &spec,
            &cited,
            "cargo xtask generate",
            &xtask::ModelsPath::ChildModule,
        )
        .unwrap_or_else(|e| panic!("fixture {name} does not generate: {e}"))
        .models;
        // `include!` takes items only: the module's inner doc comment goes.
        let items: String = module
            .lines()
            .filter(|line| !line.starts_with("//!"))
            .map(|line| format!("{line}\n"))
            .collect();
        std::fs::write(Path::new(&out_dir).join(format!("{name}.rs")), items)
            .expect("OUT_DIR is writable");
    }
}
