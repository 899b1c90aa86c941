#![doc = include_str!("../README.md")]

pub mod http;
pub mod journal;
pub mod mcp;
pub mod openapi;
pub mod rest;
pub mod server;
pub mod surface;
pub mod table;
#[rustfmt::skip]
pub mod tools;
pub mod upstream;

pub use mcp::McpGateway;
pub use rest::RestGateway;
pub use surface::Surface;
pub use table::Tool;
pub use tools::{Upstream, TOOLS};
