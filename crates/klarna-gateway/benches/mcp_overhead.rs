//! The MCP adapter's added latency: `klarna-get-capture-details` through
//! rmcp's client over streamable HTTP, against the same call made directly
//! with the generated client, both to one sandbox. Calls alternate so that
//! drift in the machine's load hits both alike. Prints the median and p99 of
//! each and their ratio.

mod common;

use std::time::Instant;

use klarna_gateway::http::{self, HttpOptions};
use klarna_gateway::server;
use klarna_gateway::upstream::{self, Target};
use klarna_gateway::{McpGateway, Surface};
use klarna_ordermanagement::models::CaptureObject;
use klarna_ordermanagement::Captures;
use klarna_runtime::Credentials;
use klarna_sandbox::{physical_line, NewOrder, Sandbox};
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::json;

const CALLS: usize = 1000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sandbox = Sandbox::start().unwrap();
    let order_id = sandbox.add_order(NewOrder::with_lines(
        "EUR",
        vec![physical_line("A12345", "T-shirt", 3000)],
    ));
    let upstream = upstream::upstream(
        &Target::Url(sandbox.base_url().to_owned()),
        Credentials::basic("merchant", "password"),
        None,
    )
    .unwrap();
    let direct = upstream.ordermanagement.clone();
    let body = CaptureObject::new(3000);
    let order = klarna_ordermanagement::OrderId::new(order_id.as_str());
    let capture_id = direct
        .capture_order(&order, &body)
        .await
        .unwrap()
        .into_inner()
        .capture_id;

    let gateway = McpGateway::new(upstream, Surface::default().tools().unwrap()).unwrap();
    let options = HttpOptions::new("127.0.0.1:0".parse().unwrap(), None);
    let listener = tokio::net::TcpListener::bind(options.bind).await.unwrap();
    let url = format!(
        "http://{}{}",
        listener.local_addr().unwrap(),
        http::MCP_PATH
    );
    tokio::spawn(server::serve(
        listener,
        http::mcp_router(gateway, &options),
        std::future::pending(),
    ));
    let client = ClientConfig::default()
        .serve(StreamableHttpClientTransport::from_uri(url))
        .await
        .unwrap();
    let arguments = json!({ "order_id": order_id, "capture_id": capture_id.as_str() });
    let arguments = arguments.as_object().unwrap().clone();

    let mut through_mcp = Vec::with_capacity(CALLS);
    let mut direct_calls = Vec::with_capacity(CALLS);
    for i in 0..CALLS + 50 {
        let start = Instant::now();
        let result = client
            .call_tool(
                CallToolRequestParams::new("klarna-get-capture-details")
                    .with_arguments(arguments.clone()),
            )
            .await
            .unwrap();
        let mcp = start.elapsed();
        assert_eq!(result.is_error, Some(false));
        let start = Instant::now();
        direct.get_capture(&order, &capture_id).await.unwrap();
        let plain = start.elapsed();
        // The first calls warm connections and caches.
        if i >= 50 {
            through_mcp.push(mcp);
            direct_calls.push(plain);
        }
    }
    common::report(CALLS, "MCP", &mut direct_calls, &mut through_mcp);
    client.cancel().await.unwrap();
}
