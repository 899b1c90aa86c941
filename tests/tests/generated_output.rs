//! Pins what the generator emits. A change to the generator or a spec shows
//! up here as a snapshot diff for review (`cargo insta review`), and a
//! committed crate that no longer matches its spec fails the build.

use std::path::Path;

use xtask::config::APIS;
use xtask::{codegen, generate_api, workspace_root, GeneratedApi, ModelsPath, Outcome};

fn generate(relative: &str, command: &str) -> GeneratedApi {
    generate_api(
        &workspace_root().join(relative),
        relative,
        command,
        &ModelsPath::ChildModule,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn generated(relative: &str, command: &str) -> String {
    generate(relative, command).models
}

#[test]
fn specs() {
    for api in APIS {
        let generated = generate(api.spec, "cargo xtask codegen");
        insta::assert_snapshot!(api.module, generated.models);
        let client = generated.client.expect("every spec has operations");
        insta::assert_snapshot!(format!("{}_client", api.module), client);
    }
}

#[test]
fn fixtures() {
    for name in ["quirks", "composition", "containers", "recursive"] {
        let relative = format!("tests/fixtures/{name}.yaml");
        insta::assert_snapshot!(
            format!("fixture_{name}"),
            generated(&relative, "cargo xtask generate")
        );
    }
}

#[test]
fn committed_crates_match_the_specs() {
    match codegen(&workspace_root(), true) {
        Ok(Outcome::UpToDate) => {}
        Ok(Outcome::Stale(stale)) => {
            panic!("stale generated files, run `cargo xtask codegen`: {stale:?}")
        }
        Ok(Outcome::Written(_)) => unreachable!("check mode writes nothing"),
        Err(errors) => panic!(
            "{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

#[test]
fn generation_is_deterministic() {
    let spec = APIS[0].spec;
    assert_eq!(generated(spec, "x"), generated(spec, "x"));
    assert!(Path::new(&workspace_root().join(spec)).exists());
}

/// The gateway's operation table: tool names, hints, schemas and the
/// client call of every operation.
#[test]
fn gateway_tools() {
    let files = xtask::codegen::workspace_files(&workspace_root())
        .unwrap_or_else(|errors| panic!("{}", errors[0]));
    let tools = files
        .iter()
        .find(|f| f.path == Path::new(xtask::config::GATEWAY_TOOLS_FILE))
        .expect("codegen writes the gateway's table");
    insta::assert_snapshot!("gateway_tools", tools.contents);
}
