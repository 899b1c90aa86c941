//! Prints the REST adapter's OpenAPI document, as `/v1/openapi.json` serves
//! it, for a generator of another language:
//!
//! ```sh
//! cargo run -q -p klarna-gateway --example openapi > klarna-gateway.json
//! cargo run -q -p klarna-gateway --example openapi -- --all
//! ```
//!
//! `--all`: every operation of the table, not only the Captures surface;
//! `--server URL`: the gateway's origin, written as the document's server.

use std::process::ExitCode;

use klarna_gateway::{openapi, Surface};

fn main() -> ExitCode {
    let mut surface = Surface::default();
    let mut server = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.len()) {
            ("--all", _) => surface = Surface::All,
            ("--server", 1..) => server = args.next(),
            _ => {
                eprintln!("usage: openapi [--all] [--server URL]");
                return ExitCode::FAILURE;
            }
        }
    }
    let tools = match surface.tools() {
        Ok(tools) => tools,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let document = openapi::document(&tools, server.as_deref());
    match serde_json::to_string_pretty(&document) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("the document did not serialise: {e}");
            ExitCode::FAILURE
        }
    }
}
