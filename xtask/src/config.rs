//! What `cargo xtask codegen` generates from which spec. Per-API choices live
//! here, not in the stages.

pub struct ApiConfig {
    /// The document, relative to the workspace root.
    pub spec: &'static str,
    /// The module of `klarna-models`, and the cargo feature that enables it.
    pub module: &'static str,
    /// The crate whose `src/lib.rs` is the generated client.
    pub client_crate: &'static str,
}

/// The header Klarna's APIs take idempotency keys in. Operations that declare
/// it get a key argument that the client fills in when the caller does not.
pub const IDEMPOTENCY_HEADER: &str = "Klarna-Idempotency-Key";

pub const APIS: &[ApiConfig] = &[
    ApiConfig {
        spec: "specs/ordermanagement.yaml",
        module: "ordermanagement",
        client_crate: "crates/klarna-ordermanagement",
    },
    ApiConfig {
        spec: "specs/payments.yaml",
        module: "payments",
        client_crate: "crates/klarna-payments",
    },
];

pub const MODELS_CRATE_DIR: &str = "crates/klarna-models";
