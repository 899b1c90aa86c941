//! The two commands, as functions: regenerate the workspace's crates from
//! `specs/`, or generate a standalone crate from any one document.

use std::path::{Path, PathBuf};

use quote::quote;

use crate::config::{APIS, IDEMPOTENCY_HEADER, MODELS_CRATE_DIR};
use crate::emit_client::ModelsPath;
use crate::error::Error;
use crate::format::{format, header};
use crate::write::{self, GeneratedFile, Staleness};
use crate::{docs, emit_client, emit_models, load, resolve};

const CODEGEN: &str = "cargo xtask codegen";
const GENERATE: &str = "cargo xtask generate";

/// The workspace root, for `cargo xtask` and for tests.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// The generated source of one document: its models module and its client.
pub struct GeneratedApi {
    pub models: String,
    /// `None` when the document has no operations.
    pub client: Option<String>,
}

/// Generates one document; `cited_as` is how the header names it, `models`
/// where the client finds the models.
pub fn generate_api(
    spec: &Path,
    cited_as: &str,
    command: &str,
    models: &ModelsPath,
) -> Result<GeneratedApi, Error> {
    let doc = load::load(spec)?;
    let api = resolve::resolve(&doc, Some(IDEMPOTENCY_HEADER))?;
    let header = header(command, cited_as);
    let models_file =
        format(&header, emit_models::emit(&api)).map_err(|e| Error::in_file(spec, e))?;
    let client = if api.operations.is_empty() {
        None
    } else {
        let client = emit_client::emit(&api, models);
        // The client is a crate root: `cargo fmt` must leave it as
        // prettyplease wrote it, or the two would disagree.
        let crate_docs = match models {
            ModelsPath::Crate(_) => {
                quote! { #![doc = include_str!("../README.md")] #![cfg_attr(rustfmt, rustfmt::skip)] }
            }
            ModelsPath::ChildModule => {
                let title = docs::inner(&api.title);
                quote! { #title #![cfg_attr(rustfmt, rustfmt::skip)] }
            }
        };
        Some(format(&header, quote! { #crate_docs #client }).map_err(|e| Error::in_file(spec, e))?)
    };
    Ok(GeneratedApi {
        models: models_file,
        client,
    })
}

/// Every file `cargo xtask codegen` owns, generated in memory. All errors
/// are collected, so one run reports every broken spec.
pub fn workspace_files(root: &Path) -> Result<Vec<GeneratedFile>, Vec<Error>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for api in APIS {
        let module = emit_models::field_ident(api.module);
        let models = ModelsPath::Crate(quote! { klarna_models::#module });
        match generate_api(&root.join(api.spec), api.spec, CODEGEN, &models) {
            Ok(generated) => {
                files.push(GeneratedFile {
                    path: Path::new(MODELS_CRATE_DIR)
                        .join("src")
                        .join(format!("{}.rs", api.module)),
                    contents: generated.models,
                });
                match generated.client {
                    Some(client) => files.push(GeneratedFile {
                        path: Path::new(api.client_crate).join("src/lib.rs"),
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
    let modules = APIS.iter().map(|api| {
        let module = emit_models::field_ident(api.module);
        let feature = api.module;
        // Generated modules are formatted by prettyplease; `cargo fmt`
        // leaves them alone so the two never disagree.
        quote! {
            #[cfg(feature = #feature)]
            #[rustfmt::skip]
            pub mod #module;
        }
    });
    let lib = quote! {
        #![doc = include_str!("../README.md")]
        #![cfg_attr(rustfmt, rustfmt::skip)]
        #(#modules)*
    };
    let lib = format(&header(CODEGEN, "specs/"), lib)
        .map_err(|e| vec![Error::in_file(Path::new(MODELS_CRATE_DIR), e)])?;
    files.push(GeneratedFile {
        path: Path::new(MODELS_CRATE_DIR).join("src/lib.rs"),
        contents: lib,
    });
    Ok(files)
}

pub fn owned_dirs() -> Vec<PathBuf> {
    let clients = APIS
        .iter()
        .map(|api| Path::new(api.client_crate).join("src"));
    std::iter::once(Path::new(MODELS_CRATE_DIR).join("src"))
        .chain(clients)
        .collect()
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

/// `cargo xtask generate --spec FILE --out DIR [--name CRATE]`: a standalone
/// crate that depends on this workspace's runtime by path.
pub fn generate_crate(spec: &Path, out: &Path, name: Option<&str>) -> Result<Vec<PathBuf>, Error> {
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
    let generated = generate_api(spec, &cited, GENERATE, &ModelsPath::ChildModule)?;
    let runtime = workspace_root().join("crates/klarna-runtime");
    let manifest = format!(
        "{header}\n[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nklarna-runtime = {{ path = {runtime:?}, features = [\"client\"] }}\n\
         serde = {{ version = \"1\", features = [\"derive\"] }}\nserde_json = \"1\"\n\n\
         # A crate of its own, even when generated inside another workspace.\n[workspace]\n",
        header = header(GENERATE, &cited).replace("// ", "# "),
        runtime = runtime.display().to_string(),
    );
    let lib = match generated.client {
        Some(client) => client,
        None => format(
            &header(GENERATE, &cited),
            quote! { #[rustfmt::skip] pub mod models; },
        )
        .map_err(|e| Error::in_file(spec, e))?,
    };
    let files = vec![
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
    write::write(out, &files, &[PathBuf::from("src")])
        .map_err(|e| Error::in_file(out, e.to_string()))
}
