//! The two commands, as functions: regenerate the workspace's crates from
//! `specs/`, or generate a standalone crate from any one document.

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::quote;

use crate::config::{
    ApiConfig, Settings, APIS, GATEWAY_TOOLS_FILE, HAND_WRITTEN_MODULES, MODELS_CRATE_DIR,
};
use crate::emit_client::ModelsPath;
use crate::error::Error;
use crate::format::{format, header};
use crate::write::{self, GeneratedFile, Staleness};
use crate::{docs, emit_callbacks, emit_client, emit_gateway, emit_models, load, model, resolve};

const CODEGEN: &str = "cargo xtask codegen";
const GENERATE: &str = "cargo xtask generate";

/// The workspace root, for `cargo xtask` and for tests.
///
/// Found at run time, from the `CARGO_MANIFEST_DIR` that cargo sets for
/// `cargo run`, `cargo test` and build scripts: the nearest directory at or
/// above it that holds `xtask/Cargo.toml`. The path compiled into the binary
/// is only the fallback, for a binary started by hand. It cannot be the
/// answer: checkouts that share a `CARGO_TARGET_DIR` share one xtask binary
/// (cargo does not rebuild it for a workspace at another path), and that
/// binary would read and write the first checkout's files from all of them.
pub fn workspace_root() -> PathBuf {
    let holds_xtask = |dir: &&Path| dir.join("xtask/Cargo.toml").is_file();
    std::env::var_os("CARGO_MANIFEST_DIR")
        .and_then(|dir| {
            Path::new(&dir)
                .ancestors()
                .find(holds_xtask)
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| {
            let compiled = Path::new(env!("CARGO_MANIFEST_DIR"));
            compiled.parent().unwrap_or(compiled).to_path_buf()
        })
}

/// The generated source of one document: its models module and its client.
pub struct GeneratedApi {
    pub models: String,
    /// `None` when the document has no operations.
    pub client: Option<String>,
    /// The handlers of the document's callbacks (`emit_callbacks`), a
    /// module the client declares; `None` when it has none.
    pub callbacks: Option<String>,
}

/// Generates one document as a standalone crate would hold it: the client
/// is a crate root. `cited_as` is how the header names the document,
/// `models` where the client finds the models, `settings` what the
/// document does not say ([`Settings::FOREIGN`] for one we did not write).
pub fn generate_api(
    spec: &Path,
    cited_as: &str,
    command: &str,
    models: &ModelsPath,
    settings: &Settings,
) -> Result<GeneratedApi, Error> {
    generate_placed(
        spec,
        cited_as,
        command,
        &Placement::standalone(models, settings),
    )
}

/// Where one document's generated files sit, and which other modules they
/// declare.
struct Placement<'a> {
    settings: &'a Settings,
    models: &'a ModelsPath,
    client_is_crate_root: bool,
    models_declares: TokenStream,
    client_declares: TokenStream,
}

impl<'a> Placement<'a> {
    /// A crate of its own: the client is the root and declares nothing else.
    fn standalone(models: &'a ModelsPath, settings: &'a Settings) -> Self {
        Placement {
            settings,
            models,
            client_is_crate_root: true,
            models_declares: TokenStream::new(),
            client_declares: TokenStream::new(),
        }
    }
}

/// Generates a document that is already a JSON tree, as `generate_api`
/// does a file: for tests that build or mutate documents in memory. `file`
/// is the name errors give it.
pub fn generate_value(file: &Path, document: serde_json::Value) -> Result<GeneratedApi, Error> {
    let doc = load::from_tree(file, document)?;
    let cited = file.display().to_string();
    let placement = Placement::standalone(&ModelsPath::ChildModule, &Settings::FOREIGN);
    generate_loaded(&doc, &cited, GENERATE, &placement)
}

fn generate_placed(
    spec: &Path,
    cited_as: &str,
    command: &str,
    placement: &Placement,
) -> Result<GeneratedApi, Error> {
    let doc = load::load(spec)?;
    generate_loaded(&doc, cited_as, command, placement)
}

fn generate_loaded(
    doc: &load::Document,
    cited_as: &str,
    command: &str,
    placement: &Placement,
) -> Result<GeneratedApi, Error> {
    let spec = doc.path.as_path();
    let api = resolve::resolve(doc, placement.settings)?;
    let header = header(command, cited_as);
    let models_declares = &placement.models_declares;
    let models = emit_models::emit(&api);
    let models_file = format(&header, quote! { #models #models_declares })
        .map_err(|e| Error::in_file(spec, e))?;
    let client = if api.operations.is_empty() {
        None
    } else {
        let client = emit_client::emit(&api, placement.models);
        // A crate root says `cargo fmt` must leave it as prettyplease wrote
        // it, or the two would disagree; a module is skipped where declared.
        let module_docs = if placement.client_is_crate_root {
            match placement.models {
                // `doc_cfg`: on docs.rs (`--cfg docsrs`, see the crate's
                // `[package.metadata.docs.rs]`) items behind a cargo feature
                // are labelled with it. Unstable: docs.rs builds with
                // nightly, `.ci/run` with `RUSTC_BOOTSTRAP=1`.
                ModelsPath::Crate(_) => quote! {
                    #![doc = include_str!("../README.md")]
                    #![cfg_attr(docsrs, feature(doc_cfg))]
                    #![cfg_attr(rustfmt, rustfmt::skip)]
                },
                ModelsPath::ChildModule => {
                    let title = docs::inner(&api.title);
                    let allow = large_variants_allowed();
                    quote! { #title #![cfg_attr(rustfmt, rustfmt::skip)] #allow }
                }
            }
        } else {
            docs::inner(&api.title)
        };
        let declares = &placement.client_declares;
        let callbacks = (!api.callbacks.is_empty()).then(|| declare("callbacks", None, true));
        Some(
            format(
                &header,
                quote! { #module_docs #client #callbacks #declares },
            )
            .map_err(|e| Error::in_file(spec, e))?,
        )
    };
    let callbacks = if api.callbacks.is_empty() {
        None
    } else {
        let tokens = emit_callbacks::emit(&api).map_err(|e| Error::in_file(spec, e))?;
        Some(format(&header, tokens).map_err(|e| Error::in_file(spec, e))?)
    };
    Ok(GeneratedApi {
        models: models_file,
        client,
        callbacks,
    })
}

/// The crate-level `allow` of a crate generated from a document of others:
/// how large a union's or a response's variants are depends on the
/// document (one of Adyen's holds a 672-byte struct beside a string), and
/// boxing them would change the types a caller matches on.
fn large_variants_allowed() -> TokenStream {
    quote! { #![allow(clippy::large_enum_variant)] }
}

/// `pub mod module;`, gated on a feature when given. Generated modules are
/// formatted by prettyplease and skipped by `cargo fmt`, so the two never
/// disagree; hand-written ones are formatted as usual.
fn declare(module: &str, feature: Option<&str>, generated: bool) -> TokenStream {
    let ident = emit_models::field_ident(module);
    let cfg = feature.map(|feature| quote! { #[cfg(feature = #feature)] });
    let skip = generated.then(|| quote! { #[rustfmt::skip] });
    quote! { #cfg #skip pub mod #ident; }
}

/// The hand-written modules declared by the generated file at `path`.
fn hand_written_declared_in(path: &Path) -> TokenStream {
    HAND_WRITTEN_MODULES
        .iter()
        .filter(|m| Path::new(m.declared_in) == path)
        .map(|m| declare(m.module, m.feature, false))
        .collect()
}

/// Where `cargo xtask codegen` writes an API's client.
pub fn client_file(api: &ApiConfig) -> PathBuf {
    let file = match api.client_module {
        None => "lib".to_owned(),
        Some(module) => module.to_owned(),
    };
    Path::new(api.client_crate)
        .join("src")
        .join(format!("{file}.rs"))
}

/// Where `cargo xtask codegen` writes an API's models module.
pub fn models_file(api: &ApiConfig) -> PathBuf {
    Path::new(MODELS_CRATE_DIR)
        .join("src")
        .join(format!("{}.rs", api.module))
}

/// Every file `cargo xtask codegen` owns, generated in memory. All errors
/// are collected, so one run reports every broken spec.
pub fn workspace_files(root: &Path) -> Result<Vec<GeneratedFile>, Vec<Error>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for api in APIS {
        let module = emit_models::field_ident(api.module);
        let models = ModelsPath::Crate(quote! { klarna_models::#module });
        // A crate root declares the APIs that share its crate.
        let children = APIS
            .iter()
            .filter(|other| api.client_module.is_none() && other.client_crate == api.client_crate)
            .filter_map(|other| other.client_module)
            .map(|module| declare(module, None, true));
        let placement = Placement {
            settings: &api.settings,
            models: &models,
            client_is_crate_root: api.client_module.is_none(),
            models_declares: hand_written_declared_in(&models_file(api)),
            client_declares: children
                .chain(std::iter::once(hand_written_declared_in(&client_file(api))))
                .collect(),
        };
        match generate_placed(&root.join(api.spec), api.spec, CODEGEN, &placement) {
            Ok(generated) => {
                files.push(GeneratedFile {
                    path: models_file(api),
                    contents: generated.models,
                });
                if let Some(callbacks) = generated.callbacks {
                    files.push(GeneratedFile {
                        path: client_file(api).with_file_name("callbacks.rs"),
                        contents: callbacks,
                    });
                }
                match generated.client {
                    Some(client) => files.push(GeneratedFile {
                        path: client_file(api),
                        contents: client,
                    }),
                    None => errors.push(Error::in_file(
                        Path::new(api.spec),
                        "the spec has no operations for its client crate",
                    )),
                }
            }
            Err(mut e) => {
                e.file = PathBuf::from(api.spec);
                errors.push(e);
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let models_lib = Path::new(MODELS_CRATE_DIR).join("src/lib.rs");
    let modules = APIS
        .iter()
        .map(|api| declare(api.module, Some(api.module), true));
    let hand_written = hand_written_declared_in(&models_lib);
    let lib = quote! {
        #![doc = include_str!("../README.md")]
        // Feature labels on docs.rs, as in the client crates' roots.
        #![cfg_attr(docsrs, feature(doc_cfg))]
        #![cfg_attr(rustfmt, rustfmt::skip)]
        #(#modules)*
        #hand_written
    };
    let lib = format(&header(CODEGEN, "specs/"), lib)
        .map_err(|e| vec![Error::in_file(Path::new(MODELS_CRATE_DIR), e)])?;
    files.push(GeneratedFile {
        path: models_lib,
        contents: lib,
    });
    files.push(gateway_file(root)?);
    Ok(files)
}

/// The gateway's operation table, from the models of every API at once.
/// Each spec is resolved again here rather than threading the models out of
/// the per-API loop: resolving takes milliseconds, and the loop stays as it is.
fn gateway_file(root: &Path) -> Result<GeneratedFile, Vec<Error>> {
    let mut resolved: Vec<(&ApiConfig, model::Api)> = Vec::new();
    for api in APIS.iter().filter(|api| api.in_gateway) {
        let doc = load::load(&root.join(api.spec)).map_err(|e| vec![e])?;
        let model = resolve::resolve(&doc, &api.settings).map_err(|e| vec![e])?;
        resolved.push((api, model));
    }
    let apis: Vec<(&ApiConfig, &model::Api)> = resolved.iter().map(|(c, m)| (*c, m)).collect();
    let path = Path::new(GATEWAY_TOOLS_FILE);
    let tokens = emit_gateway::emit(&apis).map_err(|e| vec![Error::in_file(path, e)])?;
    let contents =
        format(&header(CODEGEN, "specs/"), tokens).map_err(|e| vec![Error::in_file(path, e)])?;
    Ok(GeneratedFile {
        path: path.to_path_buf(),
        contents,
    })
}

pub fn owned_dirs() -> Vec<PathBuf> {
    let clients = APIS
        .iter()
        .map(|api| Path::new(api.client_crate).join("src"));
    let gateway = Path::new(GATEWAY_TOOLS_FILE)
        .parent()
        .map(Path::to_path_buf);
    let mut dirs: Vec<PathBuf> = std::iter::once(Path::new(MODELS_CRATE_DIR).join("src"))
        .chain(clients)
        .chain(gateway)
        .collect();
    // Two APIs may share a client crate.
    dirs.dedup();
    dirs
}

/// What a `codegen` run found or did, for the command line to report.
pub enum Outcome {
    UpToDate,
    Written(Vec<PathBuf>),
    Stale(Vec<(PathBuf, Staleness)>),
}

/// `cargo xtask codegen [--check]`.
pub fn codegen(root: &Path, check: bool) -> Result<Outcome, Vec<Error>> {
    let files = workspace_files(root)?;
    let io_error = |e: std::io::Error| vec![Error::in_file(root, e.to_string())];
    if check {
        let stale = write::stale(root, &files, &owned_dirs()).map_err(io_error)?;
        return Ok(if stale.is_empty() {
            Outcome::UpToDate
        } else {
            Outcome::Stale(stale)
        });
    }
    let written = write::write(root, &files, &owned_dirs()).map_err(io_error)?;
    Ok(if written.is_empty() {
        Outcome::UpToDate
    } else {
        Outcome::Written(written)
    })
}

/// How a crate made by `cargo xtask generate` finds `klarna-runtime`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// `--runtime path:DIR`: the runtime's directory, written into the
    /// manifest as given, so a relative one is read from the generated
    /// crate's directory, as cargo reads every path there.
    Path(PathBuf),
    /// `--runtime version:X.Y[.Z]`: the released runtime, from the registry.
    Version(String),
    /// Neither given: this checkout's runtime by relative path when the crate
    /// lies inside this checkout, otherwise the runtime of this generator's
    /// version from the registry once it is published
    /// ([`RUNTIME_PUBLISHED`](crate::config::RUNTIME_PUBLISHED)); until then
    /// a refusal that names `--runtime`. No absolute path of this machine goes
    /// into a manifest unless the user passes one.
    Default,
}

impl Runtime {
    /// Reads the value of `--runtime`.
    pub fn parse(value: &str) -> Result<Runtime, String> {
        if let Some(dir) = value.strip_prefix("path:").filter(|dir| !dir.is_empty()) {
            return Ok(Runtime::Path(PathBuf::from(dir)));
        }
        if let Some(version) = value.strip_prefix("version:") {
            let parts: Vec<&str> = version.split('.').collect();
            let numeric = parts
                .iter()
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
            if (2..=3).contains(&parts.len()) && numeric {
                return Ok(Runtime::Version(version.to_owned()));
            }
        }
        Err(format!(
            "--runtime takes `path:DIR` or `version:X.Y[.Z]`, not `{value}`"
        ))
    }

    /// The manifest's `klarna-runtime` entry, before its features.
    fn manifest_source(&self, out: &Path) -> Result<String, String> {
        let path = match self {
            Runtime::Version(version) => return Ok(format!("version = {version:?}")),
            Runtime::Path(dir) => dir.clone(),
            Runtime::Default => {
                let root = absolute(&workspace_root())?;
                let out = absolute(out)?;
                if !out.starts_with(&root) {
                    let version = env!("CARGO_PKG_VERSION");
                    if !crate::config::RUNTIME_PUBLISHED {
                        // A registry dependency on a version that is not
                        // published fails in the user's `cargo check`, far
                        // from here; say it now, with what to pass instead.
                        let runtime = root.join("crates/klarna-runtime");
                        return Err(format!(
                            "outside this checkout, and klarna-runtime {version} is not \
                             published yet, so a crate here would not build: pass `--runtime \
                             path:{}` (this checkout's runtime; a relative path is read from the \
                             generated crate) or `--runtime version:X.Y` for a published one",
                            runtime.display()
                        ));
                    }
                    return Ok(format!("version = {version:?}"));
                }
                relative_to(&out, &root.join("crates/klarna-runtime"))
            }
        };
        // Resolved by name: the crate's directory may not exist yet.
        let runtime = absolute(&out.join(&path))?;
        if !runtime.join("Cargo.toml").is_file() {
            return Err(format!(
                "no klarna-runtime at {} (a relative --runtime path is read from the generated crate)",
                runtime.display()
            ));
        }
        // Forward slashes: cargo reads them on every platform.
        let path = path.to_string_lossy().replace('\\', "/");
        Ok(format!("path = {path:?}"))
    }
}

/// `path` made absolute against the current directory, with `.` and `..`
/// resolved by name (the directory may not exist yet).
fn absolute(path: &Path) -> Result<PathBuf, String> {
    let joined = std::path::absolute(path)
        .map_err(|e| format!("cannot make {} absolute: {e}", path.display()))?;
    let mut clean = PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::ParentDir => {
                clean.pop();
            }
            std::path::Component::CurDir => {}
            other => clean.push(other),
        }
    }
    Ok(clean)
}

/// The relative path from directory `from` to `to`, both absolute.
fn relative_to(from: &Path, to: &Path) -> PathBuf {
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut path: PathBuf = from.components().skip(common).map(|_| "..").collect();
    path.extend(to.components().skip(common));
    path
}

/// `cargo xtask generate --spec FILE --out DIR [--name CRATE] [--runtime ..]`:
/// a standalone crate that depends on `klarna-runtime` as `runtime` says.
pub fn generate_crate(
    spec: &Path,
    out: &Path,
    name: Option<&str>,
    runtime: &Runtime,
) -> Result<Vec<PathBuf>, Error> {
    let name = match name {
        Some(name) => name.to_owned(),
        None => spec
            .file_stem()
            .map(|stem| crate::names::snake(&stem.to_string_lossy()).replace('_', "-"))
            .unwrap_or_else(|| "generated-api".to_owned()),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::in_file(
            spec,
            format!("`{name}` is not a valid crate name"),
        ));
    }
    let cited = spec.display().to_string();
    let generated = generate_api(
        spec,
        &cited,
        GENERATE,
        &ModelsPath::ChildModule,
        &Settings::FOREIGN,
    )?;
    let runtime = runtime
        .manifest_source(out)
        .map_err(|e| Error::in_file(out, e))?;
    let manifest = format!(
        "{header}\n[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
         [features]\n# TLS crypto: aws-lc-rs by default; ring for a build without a C compiler.\n\
         default = [\"aws-lc-rs\"]\naws-lc-rs = [\"klarna-runtime/aws-lc-rs\"]\nring = [\"klarna-runtime/ring\"]\n\n\
         [dependencies]\nklarna-runtime = {{ {runtime}, default-features = false, features = [\"client\"] }}\n\
         serde = {{ version = \"1\", features = [\"derive\"] }}\nserde_json = \"1\"\n\n\
         # A crate of its own, even when generated inside another workspace.\n[workspace]\n",
        header = header(GENERATE, &cited).replace("// ", "# "),
    );
    let lib = match generated.client {
        Some(client) => client,
        None => {
            let allow = large_variants_allowed();
            format(
                &header(GENERATE, &cited),
                quote! { #allow #[rustfmt::skip] pub mod models; },
            )
        }
        .map_err(|e| Error::in_file(spec, e))?,
    };
    // Callback handlers need the runtime's `callbacks` feature too.
    let manifest = if generated.callbacks.is_some() {
        manifest.replace(
            "features = [\"client\"]",
            "features = [\"client\", \"callbacks\"]",
        )
    } else {
        manifest
    };
    let mut files = vec![
        GeneratedFile {
            path: "Cargo.toml".into(),
            contents: manifest,
        },
        GeneratedFile {
            path: "src/lib.rs".into(),
            contents: lib,
        },
        GeneratedFile {
            path: "src/models.rs".into(),
            contents: generated.models,
        },
    ];
    if let Some(callbacks) = generated.callbacks {
        files.push(GeneratedFile {
            path: "src/callbacks.rs".into(),
            contents: callbacks,
        });
    }
    write::write(out, &files, &[PathBuf::from("src")])
        .map_err(|e| Error::in_file(out, e.to_string()))
}
