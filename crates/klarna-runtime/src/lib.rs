//! Hand-written runtime support for the generated Klarna SDK crates.
//!
//! Nothing in this crate is generated. The generated crates call into it
//! for the logic that would otherwise be repeated in every generated type or
//! operation: open enums and struct decoding (always), and with the `client` feature the HTTP
//! client itself: [`Config`], [`Credentials`], [`Client`] and [`Error`]. What
//! only generated code calls (struct and open-enum decoding, the request
//! builder) is in a hidden `private` module. With `test-util`,
//! `mock`: the same client on a scripted transport, for tests without
//! sockets.

// On docs.rs (`--cfg docsrs`), the `client` items are labelled with their
// feature; `doc_cfg` is unstable, see the README's "Documentation".
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(hidden)]
pub mod private;

mod nullable;
pub use nullable::Nullable;

#[cfg(feature = "callbacks")]
pub mod callback;
#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
mod config;
#[cfg(feature = "client")]
mod config_error;
#[cfg(feature = "client")]
mod credentials;
#[cfg(feature = "client")]
mod credentials_kind;
#[cfg(feature = "client")]
mod error;
#[cfg(feature = "client")]
mod idempotency;
#[cfg(feature = "test-util")]
pub mod mock;
#[cfg(feature = "client")]
mod multipart;
#[cfg(feature = "client")]
mod operation;
#[cfg(feature = "client")]
mod paging;
#[cfg(feature = "client")]
mod retry;
#[cfg(feature = "client")]
mod stream;
#[cfg(feature = "client")]
mod transport;
#[cfg(feature = "client")]
mod upload;

/// The `bytes` crate, whose `Bytes` [`ByteStream::chunk`] returns.
#[cfg(feature = "client")]
pub use bytes;
#[cfg(feature = "client")]
pub use client::{install_crypto_provider, Client, Response};
#[cfg(feature = "client")]
pub use config::{
    payment_api_base_url, Config, Environment, Host, Region, DEFAULT_MAX_RESPONSE_BYTES,
    KUSTOM_BASE_URL, KUSTOM_PLAYGROUND_BASE_URL, PAYMENT_API_BASE_URL, PAYMENT_API_TEST_BASE_URL,
};
#[cfg(feature = "client")]
pub use config_error::ConfigError;
#[cfg(feature = "client")]
pub use credentials::{Credentials, SchemeCredentials};
#[cfg(feature = "client")]
pub use credentials_kind::CredentialsKind;
#[cfg(feature = "client")]
pub use error::{ApiError, Error, ErrorKind, ResponseDetails, TransportError};
/// The `http` crate, whose `Method` and `HeaderMap` this crate's API names.
#[cfg(feature = "client")]
pub use http;
#[cfg(feature = "client")]
pub use idempotency::IdempotencyKey;
#[cfg(feature = "client")]
pub use multipart::Multipart;
#[cfg(feature = "client")]
pub use operation::Operation;
#[cfg(feature = "client")]
pub use paging::Paginator;
#[cfg(feature = "client")]
pub use retry::{RetryBudget, RetryPolicy};
#[cfg(feature = "client")]
pub use stream::ByteStream;
#[cfg(feature = "client")]
pub use upload::{BoxError, Upload};
