#![doc = include_str!("../README.md")]

pub mod call;
pub mod cli;
pub mod http;
pub mod journal;
pub mod ledger;
pub mod mcp;
pub mod oauth;
pub mod observe;
pub mod openapi;
pub mod ops;
pub mod rest;
pub mod revoke;
pub mod server;
mod stateless;
pub mod strict;
pub mod surface;
pub mod table;
#[rustfmt::skip]
pub mod tools;
pub mod upstream;

pub use call::{CallPath, Confirm, Policy};
pub use mcp::McpGateway;
pub use rest::RestGateway;
pub use surface::Surface;
pub use table::Tool;
pub use tools::{Upstream, TOOLS};
