//! Hand-written runtime support for the generated Klarna SDK crates.
//!
//! Nothing in this crate is generated. The generated crates call into it
//! for the logic that would otherwise be repeated in every generated type or
//! operation: open enums and struct decoding (always), and with the `client` feature the HTTP
//! client itself: [`Config`], [`Credentials`], [`Client`], [`Error`] and the
//! [`call`] builder that each generated operation uses.

pub mod object;
pub mod open_enum;

#[cfg(feature = "client")]
pub mod call;
#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
mod config;
#[cfg(feature = "client")]
mod credentials;
#[cfg(feature = "client")]
mod error;
#[cfg(feature = "client")]
mod idempotency;
#[cfg(feature = "client")]
mod operation;
#[cfg(feature = "client")]
pub mod retry;

#[cfg(feature = "client")]
pub use client::{install_crypto_provider, Client, Response};
#[cfg(feature = "client")]
pub use config::{Config, ConfigError, Environment, Region, PAYMENT_API_BASE_URL};
#[cfg(feature = "client")]
pub use credentials::{Credentials, CredentialsKind};
#[cfg(feature = "client")]
pub use error::{ApiError, Error, ErrorKind, ResponseDetails};
#[cfg(feature = "client")]
pub use idempotency::IdempotencyKey;
#[cfg(feature = "client")]
pub use operation::Operation;
#[cfg(feature = "client")]
pub use retry::RetryPolicy;
