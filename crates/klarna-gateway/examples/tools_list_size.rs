//! How big the gateway's `tools/list` answer is, for the default surface
//! (the seven Captures tools) and for `--all`: the bytes of the `tools`
//! result as it goes over the wire (compact JSON).
//!
//! `cargo run -p klarna-gateway --example tools_list_size`

use klarna_gateway::upstream::{upstream, Target};
use klarna_gateway::{McpGateway, Surface};
use klarna_runtime::Credentials;

fn main() -> Result<(), String> {
    // Nothing is sent: the upstream is only needed to build the gateway.
    let target = Target::Url("http://127.0.0.1:9".to_owned());
    for (label, surface) in [
        ("default (Captures)", Surface::default()),
        ("--all", Surface::All),
    ] {
        let upstream = upstream(&target, Credentials::basic("user", "pass"), None)?;
        let tools = surface.tools()?;
        let gateway = McpGateway::new(upstream, tools)?;
        let listed = gateway.listed();
        let bytes = serde_json::to_vec(&serde_json::json!({ "tools": listed }))
            .map_err(|e| e.to_string())?;
        println!(
            "{label}: {} tools, tools/list {} bytes",
            listed.len(),
            bytes.len()
        );
    }
    Ok(())
}
