//! The generator behind `cargo xtask codegen` and `cargo xtask generate`.
//!
//! A pipeline, one stage per module, in run order:
//!
//! 1. `load`: a file (YAML or JSON) to an `openapiv3::OpenAPI`, through a
//!    JSON tree that errors can point into.
//! 2. `resolve`: the document to the intermediate `model`, where every
//!    decision is made and every name is final: `resolve_types` names and
//!    resolves the component schemas, `resolve_operations` turns paths into
//!    operations (naming the inline schemas they hold), `settle` decides
//!    derives and where recursion needs a `Box`, and `resolve_client` names
//!    the client module's own items.
//! 3. `emit_models`, `emit_client` and `emit_callbacks` (the handlers of the
//!    operations whose path names a callback): the model to tokens,
//!    translating only.
//! 4. `format`: tokens to text with prettyplease, the same on every machine.
//! 5. `write`: files to disk, or a staleness check that writes nothing.
//!
//! `codegen` runs the pipeline for `specs/` with the per-API `Settings` of
//! `config` (the one home of per-API facts), or for any single document.
//! Beside it: `names` (casing, collisions, the reserved-name table), `refs`
//! (the one `$ref` follower), `schema_view`, `docs`, `error`; `outline`,
//! `decoders`, `sweep` and `bench_compile` serve tests and measurements.

pub mod codegen;
pub mod config;
pub mod decoders;
mod docs;
mod emit_callbacks;
pub mod emit_client;
mod emit_gateway;
mod emit_models;
mod emit_paging;
mod emit_params;
pub mod error;
mod format;
pub mod load;
mod model;
mod names;
mod normalise;
pub mod outline;
mod param_style;
mod refs;
mod resolve;
mod resolve_callbacks;
mod resolve_client;
mod resolve_ids;
mod resolve_operations;
mod resolve_paging;
mod resolve_security;
mod resolve_types;
mod schema_view;
mod settle;
pub mod sweep;
mod tags;
pub mod write;

pub use codegen::{
    codegen, generate_api, generate_crate, generate_value, workspace_root, GeneratedApi, Outcome,
    Runtime,
};
pub use emit_client::ModelsPath;
pub use error::Error;
