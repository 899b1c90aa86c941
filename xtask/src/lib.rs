//! The generator behind `cargo xtask codegen` and `cargo xtask generate`.
//!
//! A pipeline, one stage per module:
//! `load` (file to `openapiv3`) → `resolve` (to the intermediate `model`,
//! via `resolve_types` and `settle`) → `emit_models` (tokens) → `format`
//! (prettyplease) → `write` (disk, or a staleness check). `codegen` runs it.

pub mod codegen;
pub mod config;
pub mod decoders;
mod docs;
pub mod emit_client;
mod emit_gateway;
mod emit_models;
pub mod error;
mod format;
pub mod load;
mod model;
mod names;
mod resolve;
mod resolve_operations;
mod resolve_types;
mod schema_view;
mod settle;
pub mod sweep;
pub mod write;

pub use codegen::{
    codegen, generate_api, generate_crate, generate_value, workspace_root, GeneratedApi, Outcome,
};
pub use emit_client::ModelsPath;
pub use error::Error;
