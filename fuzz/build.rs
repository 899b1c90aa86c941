//! Writes the decoder table of `klarna-models` (`xtask::decoders`) and, per
//! API, an instance of each schema of its spec as seeds for the replay
//! driver.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let root = Path::new("..");
    let models_src = root.join("crates/klarna-models/src");
    println!("cargo:rerun-if-changed={}", models_src.display());
    println!("cargo:rerun-if-changed=../specs");
    let decoders = xtask::decoders::decoders_source(&models_src)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", models_src.display()));
    std::fs::write(Path::new(&out_dir).join("decoders.rs"), decoders).expect("OUT_DIR is writable");

    let mut seeds = String::from(
        "/// Per API, JSON instances of its schemas.\npub const SEEDS: &[(&str, &[&str])] = &[\n",
    );
    for api in xtask::config::APIS {
        let spec = xtask::load::read_tree(&root.join(api.spec)).unwrap_or_else(|e| panic!("{e}"));
        let _ = writeln!(seeds, "    ({:?}, &[", api.module);
        for instance in xtask::decoders::schema_instances(&spec) {
            let _ = writeln!(seeds, "        {:?},", instance.to_string());
        }
        seeds.push_str("    ]),\n");
    }
    seeds.push_str("];\n");
    std::fs::write(Path::new(&out_dir).join("seeds.rs"), seeds).expect("OUT_DIR is writable");
}
