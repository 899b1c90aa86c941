//! Operating the binary: one JSON log line per call with none of the
//! known secrets anywhere in the output, metrics that move with the calls
//! (by tool and outcome, latency, upstream attempts, retry budget), and
//! `/healthz` and `/readyz` on both ports. The upstream is a sandbox of
//! the test; every wait is bounded.

use std::net::SocketAddr;
use std::process::Stdio;

use klarna_sandbox::{NewOrder, Sandbox};
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

mod common;

use common::{gateway_command, send_signal, PASSWORD, STEP};

/// The secrets the gateway holds in this test: none may appear in what it
/// prints.
const TOKEN: &str = "gateway-token-7c41d2";
const API_KEY: &str = "klarna-api-key-93be10";
const SECRETS: &[&str] = &[PASSWORD, TOKEN, API_KEY];

/// The binary, its adapters' addresses and its standard error, line by line.
struct Running {
    child: tokio::process::Child,
    rest: SocketAddr,
    mcp: SocketAddr,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

/// Starts the gateway against `upstream` with the known secrets in its
/// environment and JSON logs, REST and MCP on ephemeral ports.
async fn start(upstream: &str, extra: &[&str]) -> Running {
    let mut command = gateway_command();
    command
        .args([
            "--rest",
            "127.0.0.1:0",
            "--mcp",
            "127.0.0.1:0",
            "--upstream",
            upstream,
            "--no-journal",
            "--no-confirm",
            "--log-format",
            "json",
        ])
        .args(extra)
        .env("KLARNA_USER", "merchant")
        .env("KLARNA_PASS", PASSWORD)
        .env("KLARNA_GATEWAY_TOKEN", TOKEN)
        .env("KLARNA_API_KEY", API_KEY)
        .env("KLARNA_PARTNER_ACCOUNT", "partner-1")
        .env_remove("KLARNA_GATEWAY_LOG")
        .env_remove("KLARNA_GATEWAY_LOG_FORMAT")
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the binary starts");
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let (send, mut lines) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            let _ = send.send(line);
        }
    });
    let address = |line: &str, marker: &str| -> Option<SocketAddr> {
        line.split(marker).nth(1)?.split('/').next()?.parse().ok()
    };
    let (mut rest, mut mcp) = (None, None);
    tokio::time::timeout(STEP, async {
        while rest.is_none() || mcp.is_none() {
            let line = lines
                .recv()
                .await
                .expect("the gateway prints its addresses");
            rest = rest.or(address(&line, "REST at http://"));
            mcp = mcp.or(address(&line, "MCP at http://"));
        }
    })
    .await
    .expect("the gateway starts in time");
    Running {
        child,
        rest: rest.unwrap(),
        mcp: mcp.unwrap(),
        lines,
    }
}

impl Running {
    /// Stops the gateway with SIGTERM and returns all it printed after
    /// starting.
    async fn stop(mut self) -> Vec<String> {
        send_signal(&self.child, "TERM");
        let status = tokio::time::timeout(STEP, self.child.wait())
            .await
            .expect("the gateway stops in time")
            .unwrap();
        assert!(status.success());
        let mut printed = Vec::new();
        while let Ok(Some(line)) = tokio::time::timeout(STEP, self.lines.recv()).await {
            printed.push(line);
        }
        printed
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(STEP)
        .build()
        .unwrap()
}

async fn get(url: String) -> (u16, String) {
    let response = http().get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The value of the sample `name{labels}` in a scrape, 0 when absent.
fn sample(metrics: &str, name_and_labels: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}

const LIST: &str = "klarna-list-all-order-captures";
const CAPTURE: &str = "klarna-capture-order";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_call_is_one_log_line_without_secrets_and_moves_the_metrics() {
    klarna_runtime::install_crypto_provider();
    let sandbox = Sandbox::start().unwrap();
    let order = sandbox.add_order(NewOrder::guide_cart());
    let gateway = start(sandbox.base_url(), &[]).await;
    let (rest, mcp) = (gateway.rest, gateway.mcp);

    // Health and readiness need no token, on both ports.
    for addr in [rest, mcp] {
        assert_eq!(
            get(format!("http://{addr}/healthz")).await,
            (200, "ok\n".into())
        );
        let (status, ready) = get(format!("http://{addr}/readyz")).await;
        assert_eq!(status, 200, "{ready}");
        let ready: Value = serde_json::from_str(&ready).unwrap();
        assert_eq!(ready["ready"], json!(true));
    }
    let calls = |tool: &str, adapter: &str, outcome: &str| {
        format!(
            "klarna_gateway_calls_total{{tool=\"{tool}\",adapter=\"{adapter}\",outcome=\"{outcome}\"}}"
        )
    };
    let (_, before) = get(format!("http://{rest}/metrics")).await;
    assert_eq!(sample(&before, &calls(LIST, "rest", "done")), 0.0);

    // A read that Klarna first answers 503: the client retries once.
    sandbox.fail_next_requests(1);
    let captures = format!("http://{rest}/v1/ordermanagement/v1/orders/{order}/captures");
    let listed = http()
        .get(&captures)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    // A capture with a key, and one without (refused, nothing sent).
    let captured = http()
        .post(&captures)
        .bearer_auth(TOKEN)
        .header("Klarna-Idempotency-Key", "ops-capture-1")
        .header("Content-Type", "application/json")
        .body(r#"{"captured_amount": 3000}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(captured.status(), 201);
    let keyless = http()
        .post(&captures)
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/json")
        .body(r#"{"captured_amount": 1000}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(keyless.status(), 400);
    // And a read over MCP.
    let mut config = StreamableHttpClientTransportConfig::with_uri(format!("http://{mcp}/mcp"));
    config.auth_header = Some(TOKEN.to_owned());
    let client = tokio::time::timeout(
        STEP,
        ClientConfig::default().serve(StreamableHttpClientTransport::from_config(config)),
    )
    .await
    .unwrap()
    .unwrap();
    let request = CallToolRequestParams::new(LIST)
        .with_arguments(json!({ "order_id": order }).as_object().unwrap().clone());
    let result = tokio::time::timeout(STEP, client.call_tool(request))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(result.is_error, Some(true), "{result:?}");
    drop(client);

    let (status, after) = get(format!("http://{rest}/metrics")).await;
    assert_eq!(status, 200);
    assert_eq!(sample(&after, &calls(LIST, "rest", "done")), 1.0, "{after}");
    assert_eq!(sample(&after, &calls(LIST, "mcp", "done")), 1.0, "{after}");
    assert_eq!(
        sample(&after, &calls(CAPTURE, "rest", "done")),
        1.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, &calls(CAPTURE, "rest", "not_sent")),
        1.0,
        "{after}"
    );
    let attempts = |tool: &str| {
        format!("klarna_gateway_upstream_attempts_total{{tool=\"{tool}\",adapter=\"rest\"}}")
    };
    assert_eq!(sample(&after, &attempts(LIST)), 2.0, "{after}");
    assert_eq!(sample(&after, &attempts(CAPTURE)), 1.0, "{after}");
    assert_eq!(
        sample(
            &after,
            &format!(
                "klarna_gateway_call_duration_seconds_count{{tool=\"{CAPTURE}\",adapter=\"rest\"}}"
            )
        ),
        2.0,
        "{after}"
    );
    let budget = sample(
        &after,
        "klarna_gateway_retry_budget_tokens{client=\"regional\"}",
    );
    assert!(budget > 0.0 && budget <= 500.0, "{after}");

    let printed = gateway.stop().await;
    let all = printed.join("\n");
    for secret in SECRETS {
        assert!(!all.contains(secret), "{secret} in the output:\n{all}");
    }
    let lines: Vec<Value> = printed
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["message"] == "call")
        .collect();
    assert_eq!(lines.len(), 4, "one line per call: {lines:#?}");
    let line = |tool: &str, adapter: &str, outcome: &str| -> &Value {
        lines
            .iter()
            .find(|l| l["tool"] == tool && l["adapter"] == adapter && l["outcome"] == outcome)
            .unwrap_or_else(|| panic!("no line for {tool} {adapter} {outcome}: {lines:#?}"))
    };
    let list = line(LIST, "rest", "done");
    assert_eq!(list["status"], json!(200));
    assert_eq!(list["attempts"], json!(2));
    assert_eq!(
        list["route"],
        json!("GET /v1/ordermanagement/v1/orders/{order-id}/captures")
    );
    assert!(list["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0));
    let capture = line(CAPTURE, "rest", "done");
    assert_eq!(capture["status"], json!(201));
    assert_eq!(capture["attempts"], json!(1));
    assert_eq!(capture["idempotency_key"], json!("ops-capture-1"));
    let refused = line(CAPTURE, "rest", "not_sent");
    assert_eq!(refused["status"], json!(400));
    assert_eq!(refused["error"], json!("IDEMPOTENCY_KEY_REQUIRED"));
    assert_eq!(refused["attempts"], json!(0));
    let over_mcp = line(LIST, "mcp", "done");
    assert_eq!(over_mcp["attempts"], json!(1));
    assert!(over_mcp.get("route").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_says_why_a_gateway_is_not_ready() {
    // The Payment API's tools without its key: alive, not ready.
    let mut command = gateway_command();
    command
        .args([
            "rest",
            "--rest",
            "127.0.0.1:0",
            "--upstream",
            "http://127.0.0.1:9",
            "--no-journal",
            "--tag",
            "PaymentRequests",
        ])
        .env("KLARNA_USER", "merchant")
        .env("KLARNA_PASS", PASSWORD)
        .env_remove("KLARNA_API_KEY")
        .env_remove("KLARNA_PARTNER_ACCOUNT")
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let rest: SocketAddr = tokio::time::timeout(STEP, async {
        loop {
            let line = stderr.next_line().await.unwrap().expect("an address line");
            if let Some(rest) = line.split("REST at http://").nth(1) {
                break rest.split('/').next().unwrap().parse().unwrap();
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(get(format!("http://{rest}/healthz")).await.0, 200);
    let (status, body) = get(format!("http://{rest}/readyz")).await;
    assert_eq!(status, 503, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["ready"], json!(false));
    assert_eq!(body["listening"], json!(true));
    assert_eq!(body["api_key"], json!(false));
    send_signal(&child, "TERM");
    let status = tokio::time::timeout(STEP, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}
