//! Generates the models of every fixture document into `OUT_DIR`, and the
//! client of those that have operations, for `src/lib.rs` to compile; and
//! the table of `klarna-models` types the decoding tests go through.

use std::path::Path;

fn main() {
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    println!("cargo:rerun-if-changed=fixtures");
    println!("cargo:rerun-if-changed=../crates/klarna-models/src");
    let models_src = Path::new("../crates/klarna-models/src");
    let decoders = xtask::decoders::decoders_source(models_src)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", models_src.display()));
    write(&out_dir, "decoders.rs", &decoders);
    for name in [
        "quirks",
        "composition",
        "containers",
        "recursive",
        "collisions",
        "mixed_responses",
    ] {
        let cited = format!("tests/fixtures/{name}.yaml");
        let spec = Path::new("fixtures").join(format!("{name}.yaml"));
        // The collisions fixture also pins that an idempotency header is
        // not taken by a parameter of the same Rust name.
        let settings = if name == "collisions" {
            xtask::config::Settings {
                idempotency_header: Some("Klarna-Idempotency-Key"),
                ..xtask::config::Settings::FOREIGN
            }
        } else {
            xtask::config::Settings::FOREIGN
        };
        let generated = xtask::generate_api(
            &spec,
            &cited,
            "cargo xtask generate",
            &xtask::ModelsPath::ChildModule,
            &settings,
        )
        .unwrap_or_else(|e| panic!("fixture {name} does not generate: {e}"));
        write(&out_dir, &format!("{name}.rs"), &generated.models);
        if let Some(client) = generated.client {
            // The client declares `mod models;`, a file `include!` cannot
            // find: `src/lib.rs` declares the module around it instead.
            let declaration = "#[rustfmt::skip]\npub mod models;\n";
            assert!(
                client.contains(declaration),
                "{name}: no models declaration"
            );
            let client = client.replace(declaration, "");
            write(&out_dir, &format!("{name}_client.rs"), &client);
        }
    }
}

/// `include!` takes items only: inner doc comments and attributes go.
fn write(out_dir: &str, file: &str, module: &str) {
    let items: String = module
        .lines()
        .filter(|line| !line.starts_with("//!") && !line.starts_with("#!["))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(Path::new(out_dir).join(file), items).expect("OUT_DIR is writable");
}
