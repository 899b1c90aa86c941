//! Generates every fixture document in `fixtures/` (the directory is the one
//! list of them) into `OUT_DIR`, as `cargo xtask generate` would lay it out,
//! with an index that `src/lib.rs` includes; and the table of `klarna-models`
//! types the decoding tests go through.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let out_dir = Path::new(&out_dir);
    println!("cargo:rerun-if-changed=fixtures");
    println!("cargo:rerun-if-changed=../crates/klarna-models/src");
    let models_src = Path::new("../crates/klarna-models/src");
    let decoders = xtask::decoders::decoders_source(models_src)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", models_src.display()));
    write(&out_dir.join("decoders.rs"), &decoders);

    let mut index = String::new();
    for (name, spec) in klarna_fixtures() {
        let cited = format!("tests/fixtures/{name}.yaml");
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
        // A client is a module root that declares `mod models;` beside it,
        // as a generated crate's `src/lib.rs` does.
        let root = match generated.client {
            Some(client) => {
                let dir = out_dir.join("fixtures").join(&name);
                write(&dir.join("mod.rs"), &client);
                write(&dir.join("models.rs"), &generated.models);
                // The handlers of a document's callbacks, which the client declares.
                if let Some(callbacks) = &generated.callbacks {
                    write(&dir.join("callbacks.rs"), callbacks);
                }
                dir.join("mod.rs")
            }
            None => {
                let file = out_dir.join("fixtures").join(format!("{name}.rs"));
                write(&file, &generated.models);
                file
            }
        };
        let path = root.to_str().expect("OUT_DIR is UTF-8");
        writeln!(
            index,
            "/// Generated from `{cited}`.\n#[path = {path:?}]\npub mod {name};"
        )
        .expect("writing to a String");
    }
    write(&out_dir.join("fixtures.rs"), &index);
}

/// Every `fixtures/*.yaml`, by module name, in name order.
fn klarna_fixtures() -> Vec<(String, std::path::PathBuf)> {
    let mut fixtures: Vec<(String, std::path::PathBuf)> = std::fs::read_dir("fixtures")
        .expect("tests/fixtures exists")
        .map(|entry| entry.expect("fixtures is readable").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .map(|path| {
            let stem = path.file_stem().expect("a file name").to_string_lossy();
            (stem.replace('-', "_"), path)
        })
        .collect();
    fixtures.sort();
    fixtures
}

fn write(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().expect("a file in OUT_DIR"))
        .expect("OUT_DIR is writable");
    std::fs::write(path, contents).expect("OUT_DIR is writable");
}
