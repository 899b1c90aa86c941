//! The MCP adapter end to end: rmcp's own client over streamable HTTP (and
//! over stdio, against the binary) talking to a gateway on an ephemeral
//! loopback port, backed by a klarna-sandbox. Every wait is bounded.

use std::net::SocketAddr;
use std::time::Duration;

use klarna_gateway::http::{self, HttpOptions, Token};
use klarna_gateway::upstream;
use klarna_gateway::{McpGateway, Policy, Surface};
use klarna_ordermanagement::OrderId;
use klarna_sandbox::{NewOrder, Sandbox};
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientConfig};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::ServiceExt;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

mod common;

use common::{gateway_command, PASSWORD, STEP};

/// Seed 001's Captures tools: name, readOnly, destructive, idempotent.
const SEED_TOOLS: [(&str, bool, bool, bool); 7] = [
    ("klarna-capture-order", false, false, false),
    ("klarna-list-all-order-captures", true, false, true),
    ("klarna-get-capture-details", true, false, true),
    ("klarna-extend-payment-due-date", false, false, true),
    ("klarna-list-options-extension-payment", true, false, true),
    ("klarna-add-shipping-information", false, false, false),
    ("klarna-send-customer-communication", false, false, false),
];

struct Gateway {
    addr: SocketAddr,
    sandbox: Sandbox,
    order_id: OrderId,
    _stop: oneshot::Sender<()>,
}

impl Gateway {
    fn url(&self) -> String {
        format!("http://{}{}", self.addr, http::MCP_PATH)
    }
}

/// A gateway with the default surface on 127.0.0.1:0, in front of a
/// sandbox holding one 200.00 EUR order of three lines.
async fn start(token: Option<&str>) -> Gateway {
    let sandbox = Sandbox::start().expect("sandbox starts");
    let order_id = sandbox.add_order(NewOrder::guide_cart());
    let upstream = common::upstream_at(sandbox.base_url(), upstream::DEFAULT_OVERALL_TIMEOUT);
    // Confirmation has tests of its own (tests/agents.rs).
    let gateway = McpGateway::with_policy(
        upstream,
        Surface::default().tools().unwrap(),
        Policy::unattended(),
    )
    .unwrap();
    let options = HttpOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        token.map(|t| Token::new(t).unwrap()),
    );
    let (addr, stop) = common::serve_on_loopback(http::mcp_router(gateway, &options)).await;
    Gateway {
        addr,
        sandbox,
        order_id,
        _stop: stop,
    }
}

async fn client(url: &str, token: Option<&str>) -> RunningService<RoleClient, ClientConfig> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    config.auth_header = token.map(str::to_owned);
    let transport = StreamableHttpClientTransport::from_config(config);
    tokio::time::timeout(STEP, ClientConfig::default().serve(transport))
        .await
        .expect("the handshake finishes in time")
        .expect("the handshake succeeds")
}

async fn call(
    client: &RunningService<RoleClient, ClientConfig>,
    tool: &str,
    arguments: Value,
) -> CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("arguments are an object")
    };
    let request = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
    tokio::time::timeout(STEP, client.call_tool(request))
        .await
        .expect("the call finishes in time")
        .expect("the call gets a result")
}

fn capture_arguments(order_id: &str, amount: i64, key: Option<&str>) -> Value {
    let mut arguments = json!({
        "order_id": order_id,
        "body": {
            "captured_amount": amount,
            "description": "first shipment",
            "order_lines": [{
                "type": "physical", "reference": "A12345", "name": "T-shirt",
                "quantity": 1, "unit_price": 3000, "total_amount": 3000
            }]
        }
    });
    if let Some(key) = key {
        arguments["idempotency_key"] = json!(key);
    }
    arguments
}

fn structured(result: &CallToolResult) -> &Value {
    result
        .structured_content
        .as_ref()
        .expect("every result is structured")
}

fn tool_schema(tools: &[rmcp::model::Tool], name: &str, output: bool) -> Value {
    let tool = tools.iter().find(|t| t.name == name).expect("listed");
    let schema = if output {
        tool.output_schema.clone().expect("an output schema")
    } else {
        tool.input_schema.clone()
    };
    Value::Object(Map::clone(&schema))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tool_list_is_the_captures_capability() {
    let gateway = start(None).await;
    let client = client(&gateway.url(), None).await;
    let tools = client.list_all_tools().await.unwrap();
    let mut listed: Vec<(&str, bool, bool, bool)> = tools
        .iter()
        .map(|t| {
            let a = t.annotations.as_ref().expect("every tool has hints");
            (
                t.name.as_ref(),
                a.read_only_hint.unwrap(),
                a.destructive_hint.unwrap(),
                a.idempotent_hint.unwrap(),
            )
        })
        .collect();
    // The table keeps spec order (a path's GET before its POST); the set
    // is what the capability defines.
    listed.sort();
    let mut expected = SEED_TOOLS.to_vec();
    expected.sort();
    assert_eq!(listed, expected);
    for tool in &tools {
        assert!(tool.name.len() <= 64);
        assert!(tool.title.as_deref().is_some_and(|t| !t.is_empty()));
        assert!(tool.description.as_deref().is_some_and(|d| !d.is_empty()));
        for schema in [
            tool_schema(&tools, &tool.name, false),
            tool_schema(&tools, &tool.name, true),
        ] {
            assert!(
                jsonschema::draft202012::meta::is_valid(&schema),
                "{}: not a valid JSON Schema",
                tool.name
            );
            assert_eq!(schema["type"], "object", "{}", tool.name);
            jsonschema::draft202012::new(&schema).unwrap_or_else(|e| panic!("{}: {e}", tool.name));
        }
    }
    let capture = tool_schema(&tools, "klarna-capture-order", false);
    assert_eq!(
        capture["required"],
        json!(["order_id", "body", "idempotency_key"])
    );
    assert_eq!(
        capture["properties"]["body"]["$ref"],
        "#/$defs/CaptureObject"
    );
    assert!(capture["$defs"]["OrderLine"].is_object());
    assert!(capture["properties"]["idempotency_key"].is_object());
    let get = tool_schema(&tools, "klarna-get-capture-details", false);
    assert_eq!(get["required"], json!(["order_id", "capture_id"]));
    assert!(get["properties"].get("idempotency_key").is_none());
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_through_the_tool_is_a_capture_in_the_sandbox() {
    let gateway = start(None).await;
    let client = client(&gateway.url(), None).await;
    let tools = client.list_all_tools().await.unwrap();
    let arguments = capture_arguments(
        &gateway.order_id,
        3000,
        Some("0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"),
    );
    jsonschema::draft202012::validate(
        &tool_schema(&tools, "klarna-capture-order", false),
        &arguments,
    )
    .expect("the arguments fit the input schema");
    let result = call(&client, "klarna-capture-order", arguments).await;
    assert_eq!(result.is_error, Some(false), "{result:?}");
    let output = structured(&result);
    jsonschema::draft202012::validate(&tool_schema(&tools, "klarna-capture-order", true), output)
        .expect("the result fits the output schema");
    assert_eq!(output["status"], 201);
    let capture_id = output["headers"]["capture_id"]
        .as_str()
        .expect("a capture id");
    assert!(output["idempotency_key"]
        .as_str()
        .is_some_and(|k| !k.is_empty()));
    let order = gateway.sandbox.order(&gateway.order_id).unwrap();
    let captures = order.captures.unwrap_or_default();
    assert_eq!(captures.len(), 1);
    assert_eq!(captures[0].capture_id.as_deref(), Some(capture_id));
    assert_eq!(captures[0].captured_amount, Some(3000));

    // The capture reads back through the read-only tools, typed.
    let listed = call(
        &client,
        "klarna-list-all-order-captures",
        json!({ "order_id": gateway.order_id }),
    )
    .await;
    let output = structured(&listed);
    jsonschema::draft202012::validate(
        &tool_schema(&tools, "klarna-list-all-order-captures", true),
        output,
    )
    .expect("the list fits the output schema");
    assert_eq!(output["status"], 200);
    assert_eq!(output["body"][0]["capture_id"], capture_id);
    assert_eq!(output["body"][0]["captured_amount"], 3000);
    let shipped = call(
        &client,
        "klarna-add-shipping-information",
        json!({
            "order_id": gateway.order_id,
            "capture_id": capture_id,
            "body": { "shipping_info": [{ "shipping_company": "DHL", "tracking_number": "63456415674545679874" }] },
            "idempotency_key": "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
        }),
    )
    .await;
    assert_eq!(structured(&shipped)["status"], 204, "{shipped:?}");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_idempotency_key_twice_makes_one_capture() {
    let gateway = start(None).await;
    let client = client(&gateway.url(), None).await;
    let key = "4b0c6a2e-9a43-4c5e-b7d6-7d1c2f0e9a11";
    let first = call(
        &client,
        "klarna-capture-order",
        capture_arguments(&gateway.order_id, 3000, Some(key)),
    )
    .await;
    let second = call(
        &client,
        "klarna-capture-order",
        capture_arguments(&gateway.order_id, 3000, Some(key)),
    )
    .await;
    assert_eq!(structured(&first)["idempotency_key"], key);
    assert_eq!(structured(&second)["idempotency_key"], key);
    assert_eq!(
        structured(&first)["headers"]["capture_id"],
        structured(&second)["headers"]["capture_id"]
    );
    // The second is answered from the gateway's memory of the key.
    assert_eq!(structured(&second)["replayed"], true);
    let captures = gateway
        .sandbox
        .order(&gateway.order_id)
        .unwrap()
        .captures
        .unwrap_or_default();
    assert_eq!(captures.len(), 1);
    let sent: Vec<_> = gateway
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(sent, vec![Some(key.to_owned())]);
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_capture_is_a_tool_error_with_klarnas_error() {
    let gateway = start(None).await;
    let client = client(&gateway.url(), None).await;
    let result = call(
        &client,
        "klarna-capture-order",
        capture_arguments(
            &gateway.order_id,
            20001,
            Some("c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"),
        ),
    )
    .await;
    assert_eq!(result.is_error, Some(true));
    let error = structured(&result);
    assert_eq!(error["error_code"], "CAPTURE_NOT_ALLOWED");
    assert_eq!(error["status"], 403);
    // A refusal: Klarna answered, nothing happened.
    assert_eq!(error["outcome"], "refused");
    assert_eq!(error["may_have_reached_klarna"], false);
    assert!(error["correlation_id"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
    assert!(error["error_messages"][0]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    assert!(error["idempotency_key"].is_string());
    assert!(gateway
        .sandbox
        .order(&gateway.order_id)
        .unwrap()
        .captures
        .unwrap_or_default()
        .is_empty());
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_that_do_not_fit_are_refused_before_anything_is_sent() {
    let gateway = start(None).await;
    let client = client(&gateway.url(), None).await;
    let key = "d4c3b2a1-0f9e-4d8c-b7a6-958473625140";
    let mut wrong_type = capture_arguments(&gateway.order_id, 3000, Some(key));
    wrong_type["body"]["captured_amount"] = json!("thirty euros");
    let mut unknown = capture_arguments(&gateway.order_id, 3000, Some(key));
    unknown["orderid"] = json!("typo");
    let cases = [
        (wrong_type, "body.captured_amount"),
        (
            json!({ "body": { "captured_amount": 3000 }, "idempotency_key": key }),
            "order_id",
        ),
        (
            json!({ "order_id": 42, "body": { "captured_amount": 3000 }, "idempotency_key": key }),
            "order_id",
        ),
        (unknown, "orderid"),
    ];
    for (arguments, named) in cases {
        let result = call(&client, "klarna-capture-order", arguments).await;
        assert_eq!(result.is_error, Some(true));
        let error = structured(&result);
        assert_eq!(error["error_code"], "INVALID_ARGUMENTS");
        assert_eq!(error["may_have_reached_klarna"], false);
        assert_eq!(error["outcome"], "not_sent");
        let message = error["error_messages"][0].as_str().unwrap();
        assert!(message.contains(named), "{message} names {named}");
    }
    assert!(gateway.sandbox.requests().is_empty());
    // A tool outside the surface is a protocol error, not a tool result.
    let request = CallToolRequestParams::new("klarna-cancel-order").with_arguments(Map::new());
    assert!(client.call_tool(request).await.is_err());
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_reaches_a_result_or_an_error() {
    let gateway = start(None).await;
    let client = client(&gateway.url(), None).await;
    let ok = call(
        &client,
        "klarna-capture-order",
        capture_arguments(&gateway.order_id, 3000, None),
    )
    .await;
    let refused = call(
        &client,
        "klarna-capture-order",
        capture_arguments(&gateway.order_id, 90000, None),
    )
    .await;
    gateway.sandbox.drop_next_connections(10);
    let lost = call(
        &client,
        "klarna-get-capture-details",
        json!({ "order_id": gateway.order_id, "capture_id": "x" }),
    )
    .await;
    assert_eq!(structured(&lost)["kind"], "no_response", "{lost:?}");
    for result in [ok, refused, lost] {
        let text = serde_json::to_string(&result).unwrap();
        assert!(!text.contains(PASSWORD));
        // Basic credentials, base64: `merchant:secret-password`.
        assert!(!text.contains("bWVyY2hhbnQ6c2VjcmV0LXBhc3N3b3Jk"));
    }
    client.cancel().await.unwrap();
}

/// One raw HTTP/1.1 exchange, for requests rmcp's client would not send.
async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut response = Vec::new();
        let mut buffer = [0u8; 4096];
        // The head is all a test reads; stop at the first read that has it.
        while response.len() < 64 * 1024 {
            let n = stream.read(&mut buffer).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            response.extend_from_slice(&buffer[..n]);
            if response.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        String::from_utf8_lossy(&response).into_owned()
    };
    tokio::time::timeout(STEP, exchange)
        .await
        .expect("the exchange finishes in time")
}

fn initialize_request(host: &str, extra_headers: &str) -> Vec<u8> {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;
    format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\n{extra_headers}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_token_gets_401_and_reaches_no_tool() {
    let token = "correct-horse-battery-staple";
    let gateway = start(Some(token)).await;
    let host = format!("127.0.0.1:{}", gateway.addr.port());
    for auth in [
        "",
        "Authorization: Bearer wrong\r\n",
        "Authorization: Basic Zm9vOmJhcg==\r\n",
    ] {
        let response = raw(gateway.addr, &initialize_request(&host, auth)).await;
        assert_eq!(status_of(&response), 401, "{response}");
        assert!(response
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer"));
        assert!(!response.contains(token));
    }
    // Nor does a tool call with a wrong token reach the sandbox.
    let call_body = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"klarna-capture-order","arguments":{}}}}}"#,
        capture_arguments(&gateway.order_id, 3000, None)
    );
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer wrong\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{call_body}",
        call_body.len()
    );
    assert_eq!(status_of(&raw(gateway.addr, request.as_bytes()).await), 401);
    assert!(gateway.sandbox.requests().is_empty());

    // With the token, rmcp's client works as without one.
    let client = client(&gateway.url(), Some(token)).await;
    assert_eq!(client.list_all_tools().await.unwrap().len(), 7);
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_hosts_and_origins_and_huge_bodies_are_refused() {
    let gateway = start(None).await;
    let host = format!("127.0.0.1:{}", gateway.addr.port());
    let ok = raw(gateway.addr, &initialize_request(&host, "")).await;
    assert_eq!(status_of(&ok), 200, "{ok}");
    let local_page = raw(
        gateway.addr,
        &initialize_request(&host, "Origin: http://localhost:3000\r\n"),
    )
    .await;
    assert_eq!(status_of(&local_page), 200, "{local_page}");

    // DNS rebinding: a page of evil.example resolving to 127.0.0.1.
    let rebound = raw(gateway.addr, &initialize_request("evil.example:9090", "")).await;
    assert!(matches!(status_of(&rebound), 400 | 403), "{rebound}");
    let foreign_page = raw(
        gateway.addr,
        &initialize_request(&host, "Origin: http://evil.example\r\n"),
    )
    .await;
    assert!(
        matches!(status_of(&foreign_page), 400 | 403),
        "{foreign_page}"
    );

    let huge = format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        http::MAX_BODY_BYTES + 1
    );
    let mut request = huge.into_bytes();
    request.extend(std::iter::repeat_n(b' ', http::MAX_BODY_BYTES + 1));
    let response = raw(gateway.addr, &request).await;
    assert_eq!(status_of(&response), 413, "{response}");
}

#[test]
fn a_non_loopback_bind_needs_a_token() {
    let open = HttpOptions::new("0.0.0.0:9090".parse().unwrap(), None);
    assert!(open.check().unwrap_err().contains("KLARNA_GATEWAY_TOKEN"));
    let guarded = HttpOptions::new("0.0.0.0:9090".parse().unwrap(), Token::new("t0ken"));
    assert!(guarded.check().is_ok());
    assert!(HttpOptions::new("127.0.0.1:9090".parse().unwrap(), None)
        .check()
        .is_ok());
    assert!(HttpOptions::new("[::1]:9090".parse().unwrap(), None)
        .check()
        .is_ok());
    assert!(Token::new("  ").is_none());
    assert!(!format!("{guarded:?}").contains("t0ken"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_refuses_a_non_loopback_bind_without_a_token() {
    common::refuses_to_start(&["--sandbox", "--mcp", "0.0.0.0:0"], "KLARNA_GATEWAY_TOKEN").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_answers_the_same_tool_list_and_calls() {
    let http_gateway = start(None).await;
    let http_client = client(&http_gateway.url(), None).await;
    let over_http = http_client.list_all_tools().await.unwrap();
    http_client.cancel().await.unwrap();

    let mut command = gateway_command();
    command.args(["mcp", "--stdio", "--sandbox"]);
    let transport = TokioChildProcess::new(command).expect("the binary starts");
    let client = tokio::time::timeout(STEP, ClientConfig::default().serve(transport))
        .await
        .expect("the handshake finishes in time")
        .expect("the handshake succeeds");
    let over_stdio = client.list_all_tools().await.unwrap();
    assert_eq!(over_stdio, over_http);
    // The sandbox's order is in the server's instructions, so an agent
    // started by a desktop client (which shows no standard error) finds it.
    let instructions = client
        .peer_info()
        .and_then(|info| info.instructions.clone())
        .expect("instructions");
    let order_id = instructions
        .split("It holds one order, `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("the seeded order id in {instructions}"));
    let seeded = call(
        &client,
        "klarna-list-all-order-captures",
        json!({ "order_id": order_id }),
    )
    .await;
    assert_eq!(structured(&seeded)["status"], 200, "{seeded:?}");
    // The binary's own sandbox has an order we do not know: the tool
    // answers Klarna's 404 as a tool error.
    let result = call(
        &client,
        "klarna-list-all-order-captures",
        json!({ "order_id": "no-such-order" }),
    )
    .await;
    assert_eq!(result.is_error, Some(true));
    assert_eq!(structured(&result)["status"], 404);
    client.cancel().await.unwrap();
}

/// A JSON-RPC body that stops arriving ties up nothing: 408 once the body
/// deadline passes, before rmcp sees the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_gets_408() {
    let sandbox = Sandbox::start().expect("sandbox starts");
    let upstream = common::upstream_at(sandbox.base_url(), upstream::DEFAULT_OVERALL_TIMEOUT);
    let gateway = McpGateway::new(upstream, Surface::default().tools().unwrap()).unwrap();
    let mut options = HttpOptions::new("127.0.0.1:0".parse().unwrap(), None);
    options.body_timeout = Duration::from_millis(300);
    let (addr, _stop) = common::serve_on_loopback(http::mcp_router(gateway, &options)).await;
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: 500\r\n\r\n{{\"jsonrpc\"",
        addr.port()
    );
    let response = raw(addr, request.as_bytes()).await;
    assert_eq!(status_of(&response), 408, "{response}");
}

/// The process's count of tool calls the MCP fast path answered.
fn fast_path_calls() -> u64 {
    let metrics = klarna_gateway::observe::metrics().render(None);
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("klarna_gateway_mcp_fast_path_calls_total "))
        .and_then(|count| count.trim().parse().ok())
        .expect("the fast path's counter")
}

/// One POST of a 2026-07-28 client: its JSON-RPC body, and the headers the
/// revision requires (`Mcp-Name` may be changed by the caller).
fn modern_call(id: Value, tool: &str, arguments: Value, capabilities: Value) -> Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {
            "name": tool,
            "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": { "name": "test", "version": "0" },
                "io.modelcontextprotocol/clientCapabilities": capabilities,
            },
        },
    })
}

/// `value` with every `correlation_id` blanked, also inside JSON text.
fn without_correlation_ids(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, item) in object.iter_mut() {
                if key == "correlation_id" {
                    *item = json!("<id>");
                } else if key == "text" {
                    if let Some(mut inner) =
                        item.as_str().and_then(|t| serde_json::from_str(t).ok())
                    {
                        without_correlation_ids(&mut inner);
                        *item = Value::String(inner.to_string());
                    }
                } else {
                    without_correlation_ids(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(without_correlation_ids),
        _ => {}
    }
}

/// What an answer is made of, for comparing two: status, content type, and
/// the body as JSON with what differs per gateway by design blanked: a
/// confirmation's unguessable `requestState`, and the sandbox's
/// correlation id, new for every request.
async fn answer_of(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap();
    let mut body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if let Some(state) = body.pointer_mut("/result/requestState") {
        assert!(state.as_str().is_some_and(|s| s.starts_with("confirm-")));
        *state = json!("<state>");
    }
    without_correlation_ids(&mut body);
    (status, content_type, body)
}

/// The gateway answers a 2026-07-28 `tools/call` itself (the MCP fast
/// path); each answer is the one rmcp gives for the same request, for
/// results, tool errors, confirmations asked and refused, and the requests
/// it leaves to rmcp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fast_path_answers_as_rmcp_does() {
    let sandbox = Sandbox::start().expect("sandbox starts");
    let order_id = sandbox.add_order(NewOrder::guide_cart());
    let mut addrs = Vec::new();
    let mut stops = Vec::new();
    for fast in [true, false] {
        let upstream = common::upstream_at(sandbox.base_url(), upstream::DEFAULT_OVERALL_TIMEOUT);
        // The default rules: money calls are confirmed.
        let gateway = McpGateway::with_policy(
            upstream,
            Surface::default().tools().unwrap(),
            Policy::default(),
        )
        .unwrap();
        let mut options = HttpOptions::new("127.0.0.1:0".parse().unwrap(), None);
        options.mcp_fast_path = fast;
        let (addr, stop) = common::serve_on_loopback(http::mcp_router(gateway, &options)).await;
        addrs.push(addr);
        stops.push(stop);
    }
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let order = order_id.to_string();
    let elicit = json!({ "elicitation": {} });
    let capture = capture_arguments(&order, 3000, Some("5b0b1c8e-4f1e-4b8e-9a33-0c9f3a1d2e31"));
    // (what, body, Mcp-Name)
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "a result",
            modern_call(
                json!(1),
                "klarna-list-all-order-captures",
                json!({ "order_id": order }),
                json!({}),
            ),
            "klarna-list-all-order-captures",
        ),
        (
            "a string id",
            modern_call(
                json!("call-2"),
                "klarna-list-all-order-captures",
                json!({ "order_id": order }),
                json!({}),
            ),
            "klarna-list-all-order-captures",
        ),
        (
            "Klarna's 404 as a tool error",
            modern_call(
                json!(3),
                "klarna-get-capture-details",
                json!({ "order_id": order, "capture_id": "nope" }),
                json!({}),
            ),
            "klarna-get-capture-details",
        ),
        (
            "a misspelt argument",
            modern_call(
                json!(4),
                "klarna-list-all-order-captures",
                json!({ "order": order }),
                json!({}),
            ),
            "klarna-list-all-order-captures",
        ),
        (
            "a confirmation asked",
            modern_call(
                json!(5),
                "klarna-capture-order",
                capture.clone(),
                elicit.clone(),
            ),
            "klarna-capture-order",
        ),
        (
            "a confirmation the client cannot give",
            modern_call(json!(6), "klarna-capture-order", capture.clone(), json!({})),
            "klarna-capture-order",
        ),
        (
            "a tool not served (left to rmcp)",
            modern_call(json!(7), "klarna-refund-order", json!({}), json!({})),
            "klarna-refund-order",
        ),
        (
            "an Mcp-Name that is not the body's (left to rmcp)",
            modern_call(
                json!(8),
                "klarna-list-all-order-captures",
                json!({ "order_id": order }),
                json!({}),
            ),
            "klarna-get-capture-details",
        ),
        (
            "no _meta (left to rmcp)",
            json!({
                "jsonrpc": "2.0", "id": 9, "method": "tools/call",
                "params": { "name": "klarna-list-all-order-captures", "arguments": { "order_id": order } },
            }),
            "klarna-list-all-order-captures",
        ),
    ];
    let list = || {
        modern_call(
            json!(10),
            "klarna-list-all-order-captures",
            json!({ "order_id": order }),
            json!({}),
        )
    };
    let mut with_result = list();
    with_result["result"] = json!({});
    let mut old_jsonrpc = list();
    old_jsonrpc["jsonrpc"] = json!("1.0");
    let mut null_arguments = list();
    null_arguments["params"]["arguments"] = Value::Null;
    let mut float_id = list();
    float_id["id"] = json!(1.5);
    let mut older_meta = list();
    older_meta["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2025-11-25");
    // All but `arguments: null` (a call without arguments, which both
    // read alike) are left to rmcp.
    let more = [
        ("a `result` beside `method`", with_result),
        ("`jsonrpc` 1.0", old_jsonrpc),
        ("`arguments` null", null_arguments),
        ("a fractional id", float_id),
        ("`_meta` naming another version than the header", older_meta),
    ];
    // How many of the cases the fast path answers: those not left to rmcp.
    let answered_fast = cases.len() - 3 + 1;
    let mut cases: Vec<(&str, Value, &str, &str)> = cases
        .into_iter()
        .map(|(what, body, name)| (what, body, name, "application/json, text/event-stream"))
        .collect();
    cases.extend(more.map(|(what, body)| {
        (
            what,
            body,
            "klarna-list-all-order-captures",
            "application/json, text/event-stream",
        )
    }));
    cases.push((
        "an Accept list with a quote (left to rmcp)",
        list(),
        "klarna-list-all-order-captures",
        "\", application/json, text/event-stream",
    ));
    let before = fast_path_calls();
    for (what, body, name, accept) in cases {
        let mut answers = Vec::new();
        for addr in &addrs {
            let response = http
                .post(format!("http://{addr}{}", http::MCP_PATH))
                .header("Content-Type", "application/json")
                .header("Accept", accept)
                .header("MCP-Protocol-Version", "2026-07-28")
                .header("Mcp-Method", "tools/call")
                .header("Mcp-Name", name)
                .json(&body)
                .timeout(STEP)
                .send()
                .await
                .unwrap();
            answers.push(answer_of(response).await);
        }
        assert_eq!(answers[0], answers[1], "{what}");
        let (status, _, body) = &answers[0];
        println!("{what}: {status} {body}");
    }
    // The fast path did answer the calls it should, and no others.
    assert_eq!(fast_path_calls() - before, answered_fast as u64);
    // The confirmations sent nothing.
    assert!(sandbox.requests().iter().all(|r| r.method != "POST"));

    // A confirmation answered: the call again with the user's answer and
    // the state it was asked with captures, once, on either path.
    for (n, addr) in addrs.iter().enumerate() {
        let key = format!("5b0b1c8e-4f1e-4b8e-9a33-0c9f3a1d2e4{n}");
        let capture = capture_arguments(&order, 3000, Some(&key));
        let post = |body: Value| {
            http.post(format!("http://{addr}{}", http::MCP_PATH))
                .header("Accept", "application/json, text/event-stream")
                .header("MCP-Protocol-Version", "2026-07-28")
                .header("Mcp-Method", "tools/call")
                .header("Mcp-Name", "klarna-capture-order")
                .json(&body)
                .timeout(STEP)
                .send()
        };
        let asked = modern_call(json!(10), "klarna-capture-order", capture, elicit.clone());
        let question: Value = post(asked.clone()).await.unwrap().json().await.unwrap();
        let state = question["result"]["requestState"].clone();
        assert!(state.is_string(), "{question}");
        let mut answered = asked;
        answered["params"]["requestState"] = state;
        answered["params"]["inputResponses"] =
            json!({ "confirm": { "action": "accept", "content": {} } });
        let result: Value = post(answered).await.unwrap().json().await.unwrap();
        assert_eq!(result["result"]["isError"], false, "{result}");
        assert_eq!(
            result["result"]["structuredContent"]["status"], 201,
            "{result}"
        );
    }
    let captures = sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(captures, 2);
}
