//! The binary stops on SIGTERM (what Docker, Kubernetes and systemd send)
//! exactly as on Ctrl-C: it stops accepting, lets the calls in flight
//! finish within the grace, and exits 0. The upstream is a sandbox whose
//! answers are held back, so that the calls are in flight when the signal
//! comes. Every wait is bounded.

use std::time::Duration;

use klarna_sandbox::{NewOrder, Sandbox};
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::json;

mod common;

use common::{sandbox_saw, send_signal, spawn_gateway, STEP};

/// How long the sandbox holds each answer back.
const DELAY: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_rest_and_mcp_captures_in_flight_finish_and_exits_zero() {
    // Both HTTP clients of the test (reqwest's, rmcp's) need one.
    klarna_runtime::install_crypto_provider();
    let sandbox = Sandbox::start().unwrap();
    let order = sandbox.add_order(NewOrder::guide_cart());
    let mut gateway = spawn_gateway(&[
        "--rest",
        "127.0.0.1:0",
        "--mcp",
        "127.0.0.1:0",
        "--no-journal",
        // No human to ask in this test: the MCP capture goes straight through.
        "--no-confirm",
        "--upstream",
        sandbox.base_url(),
    ])
    .await;
    let (rest, mcp) = (gateway.rest.unwrap(), gateway.mcp.unwrap());

    // The MCP client's session is set up before the delay starts.
    let config = StreamableHttpClientTransportConfig::with_uri(format!("http://{mcp}/mcp"));
    let client = tokio::time::timeout(
        STEP,
        ClientConfig::default().serve(StreamableHttpClientTransport::from_config(config)),
    )
    .await
    .unwrap()
    .unwrap();
    sandbox.delay_responses(DELAY);

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let rest_capture = tokio::spawn(
        http.post(format!(
            "http://{rest}/v1/ordermanagement/v1/orders/{order}/captures"
        ))
        .header("Content-Type", "application/json")
        .header("Klarna-Idempotency-Key", "sigterm-rest-1")
        .body(r#"{"captured_amount": 3000}"#)
        .timeout(STEP)
        .send(),
    );
    let arguments = json!({
        "order_id": order,
        "idempotency_key": "sigterm-mcp-1",
        "body": { "captured_amount": 2000 },
    });
    let request = CallToolRequestParams::new("klarna-capture-order")
        .with_arguments(arguments.as_object().unwrap().clone());
    let peer = client.peer().clone();
    let mcp_capture = tokio::spawn(async move { peer.call_tool(request).await });
    // A 2026-07-28 client's call, which the gateway answers itself (the
    // fast path) rather than through rmcp.
    let stateless = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": "klarna-capture-order",
            "arguments": {
                "order_id": order,
                "idempotency_key": "sigterm-mcp-2",
                "body": { "captured_amount": 1000 },
            },
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": { "name": "test", "version": "0" },
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    });
    let stateless_capture = tokio::spawn(
        http.post(format!("http://{mcp}/mcp"))
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2026-07-28")
            .header("Mcp-Method", "tools/call")
            .header("Mcp-Name", "klarna-capture-order")
            .json(&stateless)
            .timeout(STEP)
            .send(),
    );

    // The three captures have reached the sandbox, whose answers wait.
    sandbox_saw(&sandbox, "/captures", 3).await;
    send_signal(&gateway.child, "TERM");

    let answer = tokio::time::timeout(STEP, rest_capture)
        .await
        .unwrap()
        .unwrap()
        .expect("the REST caller gets its answer");
    assert_eq!(answer.status(), 201);
    assert!(answer.headers().contains_key("capture-id"));
    let result = tokio::time::timeout(STEP, mcp_capture)
        .await
        .unwrap()
        .unwrap()
        .expect("the MCP caller gets its result");
    assert_eq!(result.is_error, Some(false), "{result:?}");
    assert_eq!(result.structured_content.unwrap()["status"], 201);
    let answer = tokio::time::timeout(STEP, stateless_capture)
        .await
        .unwrap()
        .unwrap()
        .expect("the 2026-07-28 caller gets its answer");
    assert_eq!(answer.status(), 200);
    let answer: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(
        answer["result"]["structuredContent"]["status"], 201,
        "{answer}"
    );
    // The MCP session's stream closes; the gateway then has nothing to wait for.
    let _ = client.cancel().await;

    let status = tokio::time::timeout(STEP, gateway.child.wait())
        .await
        .expect("the gateway exits within the grace")
        .unwrap();
    assert_eq!(status.code(), Some(0), "{:?}", gateway.stderr);
    // Nothing listens any more, and the three captures were made once.
    assert!(tokio::net::TcpStream::connect(rest).await.is_err());
    let captured = sandbox.order(&order).unwrap().captured_amount;
    assert_eq!(captured, Some(6000));
}
