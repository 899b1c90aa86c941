//! Pins what the generator emits. A change to the generator or a spec shows
//! up here as a snapshot diff for review (`cargo insta review`), and a
//! committed crate that no longer matches its spec fails the build.

use std::path::{Path, PathBuf};

use xtask::config::{Settings, APIS};
use xtask::{codegen, generate_api, workspace_root, GeneratedApi, ModelsPath, Outcome};

fn generate(relative: &str, command: &str) -> GeneratedApi {
    generate_api(
        &workspace_root().join(relative),
        relative,
        command,
        &ModelsPath::ChildModule,
        &Settings::FOREIGN,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn generated(relative: &str, command: &str) -> String {
    generate(relative, command).models
}

fn outline(source: &str) -> String {
    xtask::outline::outline(source).unwrap_or_else(|e| panic!("generated code parses: {e}"))
}

/// The public API of each spec's committed output (models module, then
/// client module): a spec change shows here as the API change it is, in a
/// few lines. The code itself is pinned by `committed_crates_match_the_specs`.
#[test]
fn spec_api_outlines() {
    let files = xtask::codegen::workspace_files(&workspace_root())
        .unwrap_or_else(|errors| panic!("{}", errors[0]));
    let contents = |path: PathBuf| {
        &files
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("{} is generated", path.display()))
            .contents
    };
    for api in APIS {
        let models = outline(contents(xtask::codegen::models_file(api)));
        let client = outline(contents(xtask::codegen::client_file(api)));
        // The callbacks' handlers, for the documents that have callbacks.
        let callbacks_file = xtask::codegen::client_file(api).with_file_name("callbacks.rs");
        let callbacks = files
            .iter()
            .find(|f| f.path == callbacks_file && api.client_module.is_none())
            .map(|f| format!("\n// callbacks\n{}", outline(&f.contents)))
            .unwrap_or_default();
        insta::assert_snapshot!(
            format!("api_{}", api.module),
            format!("// models\n{models}\n// client\n{client}{callbacks}")
        );
    }
}

/// Every fixture document's full output: the directory is the list.
#[test]
fn fixtures() {
    let dir = workspace_root().join("tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 6, "{names:?}");
    for name in names {
        let relative = format!("tests/fixtures/{name}.yaml");
        let generated = generate(&relative, "cargo xtask generate");
        insta::assert_snapshot!(format!("fixture_{name}"), generated.models);
        if let Some(client) = generated.client {
            insta::assert_snapshot!(format!("fixture_{name}_client"), client);
        }
        if let Some(callbacks) = generated.callbacks {
            insta::assert_snapshot!(format!("fixture_{name}_callbacks"), callbacks);
        }
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

/// A document's paths that name a callback (`/hooks.ready`, a URL property
/// of its own models) become handlers, not client methods; its routes stay
/// client methods. Checked on the fixture and on Checkout's spec.
#[test]
fn callback_paths_become_handlers_not_client_methods() {
    let fixture = generate("tests/fixtures/parcel_hooks.yaml", "cargo xtask generate");
    let client = outline(fixture.client.as_deref().expect("the routes make a client"));
    let callbacks = outline(
        fixture
            .callbacks
            .as_deref()
            .expect("the callbacks make handlers"),
    );
    for route in ["fn create_parcel", "fn get_parcel"] {
        assert!(
            client.contains(route),
            "{route} is a client method:\n{client}"
        );
        assert!(!callbacks.contains(route), "{route} is no handler");
    }
    for callback in ["fn parcel_ready", "fn audit"] {
        assert!(
            !client.contains(callback),
            "{callback} is no client method:\n{client}"
        );
        assert!(
            callbacks.contains(callback),
            "{callback} is a handler:\n{callbacks}"
        );
    }
    assert!(callbacks.contains("trait Callbacks"), "{callbacks}");
    assert!(callbacks.contains("enum ParcelReadyAnswer"), "{callbacks}");

    let checkout = xtask::config::APIS
        .iter()
        .find(|api| api.module == "checkout")
        .expect("Checkout is configured");
    let generated = generate_api(
        &workspace_root().join(checkout.spec),
        checkout.spec,
        "x",
        &ModelsPath::ChildModule,
        &checkout.settings,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let client = outline(generated.client.as_deref().expect("Checkout has routes"));
    let callbacks = outline(
        generated
            .callbacks
            .as_deref()
            .expect("Checkout has callbacks"),
    );
    for method in [
        "fn create_order",
        "fn read_order",
        "fn update_order",
        "fn abort_order",
    ] {
        assert!(client.contains(method), "{method}:\n{client}");
    }
    for handler in [
        "fn update_address",
        "fn update_shipping_option",
        "fn country_change",
        "fn validate",
        "fn push",
    ] {
        assert!(callbacks.contains(handler), "{handler}:\n{callbacks}");
        assert!(!client.contains(handler), "{handler} is no client method");
    }
}
