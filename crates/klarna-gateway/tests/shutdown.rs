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
async fn sigterm_lets_a_rest_and_an_mcp_capture_in_flight_finish_and_exits_zero() {
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

    // Both captures have reached the sandbox, whose answers wait.
    sandbox_saw(&sandbox, "/captures", 2).await;
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
    // The MCP session's stream closes; the gateway then has nothing to wait for.
    let _ = client.cancel().await;

    let status = tokio::time::timeout(STEP, gateway.child.wait())
        .await
        .expect("the gateway exits within the grace")
        .unwrap();
    assert_eq!(status.code(), Some(0), "{:?}", gateway.stderr);
    // Nothing listens any more, and both captures were made once.
    assert!(tokio::net::TcpStream::connect(rest).await.is_err());
    let captured = sandbox.order(&order).unwrap().captured_amount;
    assert_eq!(captured, Some(5000));
}
