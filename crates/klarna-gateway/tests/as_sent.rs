//! Klarna's answer as sent: a field Klarna adds before our spec has it
//! reaches the REST and the MCP caller unchanged, and Klarna's
//! `Klarna-Correlation-Id` is passed on for a success and for an error.
//! The upstream is a loopback fake that answers with fixed bytes; every
//! wait is bounded.

use std::time::Duration;

use klarna_gateway::http::{self, HttpOptions};
use klarna_gateway::rest::{self, RestGateway};
use klarna_gateway::{McpGateway, Policy, Surface};
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::{json, Value};

mod common;

use common::STEP;

/// A capture as a later Klarna might send it: the fields our spec knows,
/// and `klarna_future_field`, which it does not (with a number written the
/// way Klarna wrote it, `2.50`, and keys out of alphabetical order).
const CAPTURE: &str = r#"{"capture_id":"cap-1","captured_amount":6000,"klarna_future_field":{"z":1,"a":[2.50,"x",null]},"refunded_amount":0}"#;

const CORRELATION_ID: &str = "corr-4f1b2c";

/// A Klarna that answers every request with `status` and `body` (JSON),
/// naming the answer `CORRELATION_ID`. At most 16 connections, each within
/// the step's time.
async fn fake_klarna(status: &'static str, body: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nKlarna-Correlation-Id: \
         {CORRELATION_ID}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tokio::spawn(async move {
        for _ in 0..16 {
            let Ok(Ok((mut stream, _))) = tokio::time::timeout(STEP, listener.accept()).await
            else {
                return;
            };
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut head = vec![0u8; 16 * 1024];
                let mut read = 0;
                // The requests here are GETs: the head is all there is.
                while read < head.len() && !head[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut head[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                }
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    url
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(STEP)
        .build()
        .unwrap()
}

async fn rest_get_capture(base_url: &str) -> reqwest::Response {
    let upstream = common::upstream_at(base_url, Duration::from_secs(10));
    let gateway = RestGateway::with_policy(
        upstream,
        Surface::default().tools().unwrap(),
        Policy::unattended(),
    );
    let options = HttpOptions::new("127.0.0.1:0".parse().unwrap(), None);
    let (addr, stop) = common::serve_on_loopback(rest::rest_router(gateway, &options)).await;
    let response = http_client()
        .get(format!(
            "http://{addr}/v1/ordermanagement/v1/orders/o-1/captures/cap-1"
        ))
        .send()
        .await
        .unwrap();
    drop(stop);
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_passes_klarnas_body_on_byte_for_byte_with_its_correlation_id() {
    let url = fake_klarna("200 OK", CAPTURE).await;
    let response = rest_get_capture(&url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("Klarna-Correlation-Id")
            .and_then(|v| v.to_str().ok()),
        Some(CORRELATION_ID)
    );
    // The very bytes: the unknown field, the `2.50`, the key order.
    assert_eq!(response.text().await.unwrap(), CAPTURE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_passes_the_correlation_id_of_an_error_on() {
    let url = fake_klarna(
        "404 Not Found",
        r#"{"error_code":"NO_SUCH_CAPTURE","error_messages":["no such capture"],"correlation_id":"corr-4f1b2c"}"#,
    )
    .await;
    let response = rest_get_capture(&url).await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response
            .headers()
            .get("Klarna-Correlation-Id")
            .and_then(|v| v.to_str().ok()),
        Some(CORRELATION_ID)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_results_carry_klarnas_unknown_fields_and_correlation_id() {
    let url = fake_klarna("200 OK", CAPTURE).await;
    let upstream = common::upstream_at(&url, Duration::from_secs(10));
    let gateway = McpGateway::with_policy(
        upstream,
        Surface::default().tools().unwrap(),
        Policy::unattended(),
    )
    .unwrap();
    let options = HttpOptions::new("127.0.0.1:0".parse().unwrap(), None);
    let (addr, _stop) = common::serve_on_loopback(http::mcp_router(gateway, &options)).await;
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}{}", http::MCP_PATH)),
    );
    let client = tokio::time::timeout(STEP, ClientConfig::default().serve(transport))
        .await
        .expect("the handshake finishes in time")
        .expect("the handshake succeeds");
    let Value::Object(arguments) = json!({"order_id": "o-1", "capture_id": "cap-1"}) else {
        unreachable!()
    };
    let request =
        CallToolRequestParams::new("klarna-get-capture-details").with_arguments(arguments);
    let result = tokio::time::timeout(STEP, client.call_tool(request))
        .await
        .expect("the call finishes in time")
        .expect("the call gets a result");
    assert_ne!(result.is_error, Some(true), "{result:?}");
    let structured = result.structured_content.as_ref().expect("structured");
    let sent: Value = serde_json::from_str(CAPTURE).unwrap();
    // The whole body as Klarna sent it, the field our spec lacks included.
    assert_eq!(structured["body"], sent, "{structured}");
    assert_eq!(
        structured["body"]["klarna_future_field"],
        json!({"z": 1, "a": [2.5, "x", null]})
    );
    assert_eq!(structured["correlation_id"], CORRELATION_ID, "{structured}");
    client.cancel().await.ok();
}
