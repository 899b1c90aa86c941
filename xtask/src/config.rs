//! What `cargo xtask codegen` generates from which spec. Per-API choices live
//! here, not in the stages.

pub struct ApiConfig {
    /// The document, relative to the workspace root.
    pub spec: &'static str,
    /// The module of `klarna-models`, and the cargo feature that enables it.
    pub module: &'static str,
}

pub const APIS: &[ApiConfig] = &[
    ApiConfig {
        spec: "specs/ordermanagement.yaml",
        module: "ordermanagement",
    },
    ApiConfig {
        spec: "specs/payments.yaml",
        module: "payments",
    },
];

pub const MODELS_CRATE_DIR: &str = "crates/klarna-models";
