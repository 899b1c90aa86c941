//! Test support for the workspace: the fixture documents' generated models,
//! compiled here so that tests can use them (see `build.rs`), a loopback
//! HTTP server that records requests and plays canned responses, what the
//! client tests that use it share, and JSON pointers for the property tests.

/// The workspace README's examples, compiled as doc tests.
#[doc = include_str!("../../README.md")]
pub mod readme {}

pub mod client_support;
pub mod json_pointers;
pub mod server;

/// What `cargo xtask generate` makes of each document in `tests/fixtures/`:
/// a models module, or for documents with operations a client module with
/// the models in its `models` (see `build.rs`).
pub mod fixtures {
    include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));
}
