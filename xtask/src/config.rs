//! What `cargo xtask codegen` generates from which spec. Per-API choices live
//! here, not in the stages.

pub struct ApiConfig {
    /// The document, relative to the workspace root.
    pub spec: &'static str,
    /// The module of `klarna-models`, and the cargo feature that enables it.
    pub module: &'static str,
    /// The crate the generated client goes into.
    pub client_crate: &'static str,
    /// `None`: the client is the crate's root (`src/lib.rs`). `Some(m)`: it
    /// is module `m` of a crate whose root is another API's client, so that
    /// one crate can serve two of Klarna's APIs side by side.
    pub client_module: Option<&'static str>,
}

/// A hand-written module that a generated file declares, so that helpers
/// written by people sit in the same crate as the generated code they build
/// on, without anyone editing a generated file.
pub struct HandWrittenModule {
    /// The generated file that declares it, relative to the workspace root.
    pub declared_in: &'static str,
    pub module: &'static str,
    /// The crate feature that compiles it in, when it is optional.
    pub feature: Option<&'static str>,
}

/// The header Klarna's APIs take idempotency keys in. Operations that declare
/// it get a key argument that the client fills in when the caller does not.
pub const IDEMPOTENCY_HEADER: &str = "Klarna-Idempotency-Key";

pub const APIS: &[ApiConfig] = &[
    ApiConfig {
        spec: "specs/ordermanagement.yaml",
        module: "ordermanagement",
        client_crate: "crates/klarna-ordermanagement",
        client_module: None,
    },
    ApiConfig {
        spec: "specs/payments.yaml",
        module: "payments",
        client_crate: "crates/klarna-payments",
        client_module: None,
    },
    ApiConfig {
        spec: "specs/payment-api.yaml",
        module: "payment_api",
        client_crate: "crates/klarna-payments",
        client_module: Some("payment_api"),
    },
    // The Notification API (webhooks and their signing keys) shares the
    // Payment API's host and credentials, so its client sits beside it.
    ApiConfig {
        spec: "specs/notifications.yaml",
        module: "notifications",
        client_crate: "crates/klarna-payments",
        client_module: Some("notifications"),
    },
];

pub const HAND_WRITTEN_MODULES: &[HandWrittenModule] = &[
    HandWrittenModule {
        declared_in: "crates/klarna-ordermanagement/src/lib.rs",
        module: "guides",
        // On by default; off, the crate compiles in about half the time.
        feature: Some("guides"),
    },
    HandWrittenModule {
        declared_in: "crates/klarna-models/src/payment_api.rs",
        module: "webhooks",
        feature: None,
    },
];

pub const MODELS_CRATE_DIR: &str = "crates/klarna-models";
