//! The gateway with agents as callers, who retry, misspell and misread:
//! keys, the memory of keys, strict input, outcomes, hints, secrets,
//! limits and a human's confirmation, through rmcp's client (with an
//! elicitation handler standing in for the user) and reqwest, over
//! loopback, against a klarna-sandbox. Every wait is bounded.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use klarna_gateway::http::{self, HttpOptions};
use klarna_gateway::rest::{self, RestGateway};
use klarna_gateway::upstream;
use klarna_gateway::{CallPath, Confirm, McpGateway, Policy, Surface};
use klarna_sandbox::{NewOrder, Sandbox};
use reqwest::StatusCode;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ElicitRequestParams,
    ElicitResult, ElicitationAction, Implementation, ProtocolVersion,
};
use rmcp::service::{RequestContext, RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, ErrorData, ServiceExt};
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;

mod common;

use common::STEP;

/// A sandbox with the 200.00 EUR order, and both adapters on one call path
/// on ephemeral loopback ports.
struct Gateway {
    sandbox: Sandbox,
    order_id: klarna_ordermanagement::OrderId,
    mcp: String,
    rest: String,
    _stops: (oneshot::Sender<()>, oneshot::Sender<()>),
}

async fn start(surface: Surface, policy: Policy) -> Gateway {
    let sandbox = Sandbox::start().expect("sandbox starts");
    let order_id = sandbox.add_order(NewOrder::guide_cart());
    // With an API key too, for the Notification API's signing keys.
    let upstream = upstream::upstream_with_timeout(
        &upstream::Target::Url(sandbox.base_url().to_owned()),
        klarna_runtime::Credentials::basic("merchant", common::PASSWORD),
        Some(klarna_runtime::Credentials::api_key("api-key", "partner")),
        Duration::from_secs(10),
    )
    .unwrap();
    let path = Arc::new(CallPath::new(upstream, surface.tools().unwrap(), policy));
    let options = HttpOptions::new("127.0.0.1:0".parse().unwrap(), None);
    let mcp = McpGateway::from_path(path.clone()).unwrap();
    let (mcp_addr, mcp_stop) = common::serve_on_loopback(http::mcp_router(mcp, &options)).await;
    let (rest_addr, rest_stop) =
        common::serve_on_loopback(rest::rest_router(RestGateway::from_path(path), &options)).await;
    Gateway {
        sandbox,
        order_id,
        mcp: format!("http://{mcp_addr}{}", http::MCP_PATH),
        rest: format!("http://{rest_addr}"),
        _stops: (mcp_stop, rest_stop),
    }
}

impl Gateway {
    fn captures(&self) -> usize {
        self.sandbox
            .order(&self.order_id)
            .and_then(|o| o.captures)
            .unwrap_or_default()
            .len()
    }

    /// Requests of `method` that reached the sandbox.
    fn sent(&self, method: &str) -> usize {
        self.sandbox
            .requests()
            .iter()
            .filter(|r| r.method == method)
            .count()
    }
}

/// The stand-in for the user: answers every confirmation with `action`
/// and keeps the questions.
#[derive(Clone)]
struct User {
    action: ElicitationAction,
    config: ClientConfig,
    asked: Arc<Mutex<Vec<String>>>,
}

impl User {
    fn new(action: ElicitationAction, protocol: Option<ProtocolVersion>) -> Self {
        let mut config = ClientConfig::new(
            ClientCapabilities::builder().enable_elicitation().build(),
            Implementation::new("agents-test", "0"),
        );
        if let Some(protocol) = protocol {
            config = config.with_protocol_version(protocol);
        }
        User {
            action,
            config,
            asked: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn questions(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl ClientHandler for User {
    fn get_info(&self) -> ClientConfig {
        self.config.clone()
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = request {
            self.asked.lock().unwrap().push(message);
        }
        let mut result = ElicitResult::new(self.action.clone());
        if self.action == ElicitationAction::Accept {
            result = result.with_content(json!({}));
        }
        Ok(result)
    }
}

async fn connect<H: ClientHandler>(url: &str, handler: H) -> RunningService<RoleClient, H> {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url.to_owned()),
    );
    tokio::time::timeout(STEP, handler.serve(transport))
        .await
        .expect("the handshake finishes in time")
        .expect("the handshake succeeds")
}

async fn call<H: ClientHandler>(
    client: &RunningService<RoleClient, H>,
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

fn structured(result: &CallToolResult) -> &Value {
    result.structured_content.as_ref().expect("structured")
}

fn capture(order_id: &str, amount: i64, key: Option<&str>) -> Value {
    let mut arguments = json!({
        "order_id": order_id,
        "body": { "captured_amount": amount, "description": "first shipment" }
    });
    if let Some(key) = key {
        arguments["idempotency_key"] = json!(key);
    }
    arguments
}

const KEY: &str = "7f1d2c3b-4a59-4e68-8b7a-6c5d4e3f2a10";

/// Waits, boundedly, until the sandbox holds `count` captures.
async fn wait_for_captures(gateway: &Gateway, count: usize) {
    for _ in 0..100 {
        if gateway.captures() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{count} captures did not appear in time");
}

/// The agent's read times out while Klarna is slow; it re-issues the same
/// call, as agent runtimes do. With a key: the repeat while the first runs
/// is `IN_PROGRESS`, the repeat after it ended is the same capture from
/// memory, and the order holds one capture. Without a key it is refused
/// before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_reissued_makes_one_capture() {
    let gateway = start(Surface::default(), Policy::unattended()).await;
    let client = connect(&gateway.mcp, ClientConfig::default()).await;

    let keyless = call(
        &client,
        "klarna-capture-order",
        capture(&gateway.order_id, 6000, None),
    )
    .await;
    assert_eq!(keyless.is_error, Some(true));
    let error = structured(&keyless);
    assert_eq!(error["error_code"], "IDEMPOTENCY_KEY_REQUIRED", "{error}");
    assert_eq!(error["outcome"], "not_sent");
    assert!(gateway.sandbox.requests().is_empty());

    // Klarna acts, then holds its answer back longer than the agent waits.
    gateway.sandbox.delay_responses(Duration::from_millis(3000));
    let arguments = capture(&gateway.order_id, 6000, Some(KEY));
    let Value::Object(object) = arguments.clone() else {
        unreachable!()
    };
    let lost = tokio::time::timeout(
        Duration::from_millis(600),
        client.call_tool(CallToolRequestParams::new("klarna-capture-order").with_arguments(object)),
    )
    .await;
    assert!(lost.is_err(), "the agent's read times out");
    wait_for_captures(&gateway, 1).await;
    let again = call(&client, "klarna-capture-order", arguments.clone()).await;
    let error = structured(&again);
    assert_eq!(error["error_code"], "IN_PROGRESS", "{error}");
    assert_eq!(error["outcome"], "not_sent");
    gateway.sandbox.delay_responses(Duration::ZERO);
    // The first call's answer is recorded once the sandbox answers it.
    let mut replayed = None;
    for _ in 0..200 {
        let result = call(&client, "klarna-capture-order", arguments.clone()).await;
        if result.is_error != Some(true) {
            replayed = Some(result);
            break;
        }
        assert_eq!(structured(&result)["error_code"], "IN_PROGRESS");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let replayed = replayed.expect("the first call ends in time");
    let output = structured(&replayed);
    assert_eq!(output["status"], 201, "{output}");
    assert_eq!(output["replayed"], true);
    assert!(output["headers"]["capture_id"].is_string());
    assert_eq!(gateway.captures(), 1);
    assert_eq!(gateway.sent("POST"), 1);
    client.cancel().await.unwrap();
}

/// The gateway's own call loses Klarna's answer (the sandbox acts, then
/// drops the connection, every retry too): the outcome is `unknown`; the
/// agent repeats with the same key, the gateway sends it again with that
/// key, and Klarna's idempotency makes it the same capture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_repeated_with_the_key_is_sent_again_and_captures_once() {
    let gateway = start(Surface::default(), Policy::unattended()).await;
    let client = connect(&gateway.mcp, ClientConfig::default()).await;
    gateway.sandbox.drop_next_connections(16);
    let arguments = capture(&gateway.order_id, 6000, Some(KEY));
    let lost = call(&client, "klarna-capture-order", arguments.clone()).await;
    let error = structured(&lost);
    assert_eq!(error["outcome"], "unknown", "{error}");
    assert_eq!(error["may_have_reached_klarna"], true);
    assert_eq!(gateway.captures(), 1);
    gateway.sandbox.drop_next_connections(0);
    let again = call(&client, "klarna-capture-order", arguments).await;
    assert_eq!(again.is_error, Some(false), "{again:?}");
    assert_eq!(structured(&again)["status"], 201);
    assert_eq!(gateway.captures(), 1);
    client.cancel().await.unwrap();
}

/// `--allow-keyless` restores the old behaviour, and its risk: the same
/// lost call re-issued without a key captures twice (the "before" figure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_as_allowed_a_reissued_lost_call_captures_twice() {
    let policy = Policy {
        allow_keyless: true,
        ..Policy::unattended()
    };
    let gateway = start(Surface::default(), policy).await;
    let client = connect(&gateway.mcp, ClientConfig::default()).await;
    let tools = client.list_all_tools().await.unwrap();
    let capture_tool = tools
        .iter()
        .find(|t| t.name == "klarna-capture-order")
        .unwrap();
    assert_eq!(
        capture_tool.input_schema["required"],
        json!(["order_id", "body"])
    );
    gateway.sandbox.delay_responses(Duration::from_millis(1500));
    let arguments = capture(&gateway.order_id, 6000, None);
    let Value::Object(object) = arguments.clone() else {
        unreachable!()
    };
    let lost = tokio::time::timeout(
        Duration::from_millis(600),
        client.call_tool(CallToolRequestParams::new("klarna-capture-order").with_arguments(object)),
    )
    .await;
    assert!(lost.is_err());
    wait_for_captures(&gateway, 1).await;
    gateway.sandbox.delay_responses(Duration::ZERO);
    let again = call(&client, "klarna-capture-order", arguments).await;
    assert_eq!(again.is_error, Some(false), "{again:?}");
    wait_for_captures(&gateway, 2).await;
    assert_eq!(gateway.captures(), 2);
    client.cancel().await.unwrap();
}

/// A key means one request: another amount with it is refused, naming
/// the difference, and nothing more reaches Klarna. The same over REST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reused_with_other_arguments_is_refused_naming_the_difference() {
    let gateway = start(Surface::default(), Policy::unattended()).await;
    let client = connect(&gateway.mcp, ClientConfig::default()).await;
    let first = call(
        &client,
        "klarna-capture-order",
        capture(&gateway.order_id, 6000, Some(KEY)),
    )
    .await;
    assert_eq!(first.is_error, Some(false), "{first:?}");
    let other = call(
        &client,
        "klarna-capture-order",
        capture(&gateway.order_id, 7000, Some(KEY)),
    )
    .await;
    let error = structured(&other);
    assert_eq!(error["error_code"], "IDEMPOTENCY_KEY_REUSED", "{error}");
    assert_eq!(error["differences"], json!(["body.captured_amount"]));
    assert_eq!(error["outcome"], "not_sent");
    assert_eq!(gateway.sent("POST"), 1);

    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(STEP)
        .build()
        .unwrap();
    let url = format!(
        "{}/v1/ordermanagement/v1/orders/{}/captures",
        gateway.rest, gateway.order_id
    );
    let reused = http
        .post(&url)
        .header("Klarna-Idempotency-Key", KEY)
        .header("Content-Type", "application/json")
        .body(json!({ "captured_amount": 7000, "description": "first shipment" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(reused.status(), StatusCode::CONFLICT);
    let body: Value = serde_json::from_str(&reused.text().await.unwrap()).unwrap();
    assert_eq!(body["error_code"], "IDEMPOTENCY_KEY_REUSED");
    // The same call over REST is the MCP call's answer, from memory.
    let same = http
        .post(&url)
        .header("Klarna-Idempotency-Key", KEY)
        .header("Content-Type", "application/json")
        .body(json!({ "captured_amount": 6000, "description": "first shipment" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), StatusCode::CREATED);
    assert_eq!(
        same.headers()["Capture-Id"].to_str().unwrap(),
        structured(&first)["headers"]["capture_id"]
    );
    let keyless = http
        .post(&url)
        .header("Content-Type", "application/json")
        .body(json!({ "captured_amount": 1000 }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(keyless.status(), StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_str(&keyless.text().await.unwrap()).unwrap();
    assert_eq!(body["error_code"], "IDEMPOTENCY_KEY_REQUIRED");
    assert_eq!(gateway.sent("POST"), 1);
    assert_eq!(gateway.captures(), 1);
    client.cancel().await.unwrap();
}

/// A misspelled body field of every tool of `--all` is refused before
/// anything is sent, with the field and the name it probably meant; over
/// REST the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelled_field_is_refused_with_the_nearest_name_for_every_tool() {
    let gateway = start(Surface::All, Policy::unattended()).await;
    let client = connect(&gateway.mcp, ClientConfig::default()).await;
    let tools = client.list_all_tools().await.unwrap();
    let mut checked = 0;
    for tool in &tools {
        let schema = Value::Object((*tool.input_schema).clone());
        let Some(body) = schema["properties"].get("body") else {
            continue;
        };
        let body = match body.get("$ref").and_then(Value::as_str) {
            Some(reference) => &schema["$defs"][reference.trim_start_matches("#/$defs/")],
            None => body,
        };
        let Some(first) = body["properties"]
            .as_object()
            .and_then(|p| p.keys().find(|k| k.len() >= 6))
        else {
            continue;
        };
        assert_eq!(body["additionalProperties"], false, "{}", tool.name);
        // Two letters swapped, as a hurried typist does.
        let mut letters: Vec<char> = first.chars().collect();
        letters.swap(2, 3);
        let typo: String = letters.into_iter().collect();
        if typo == *first {
            continue;
        }
        let mut arguments = Map::new();
        for (name, property) in schema["properties"].as_object().unwrap() {
            if name != "body" && property["type"] == "string" {
                arguments.insert(name.clone(), json!("x"));
            }
        }
        arguments.insert("body".into(), json!({ typo.clone(): 1 }));
        let result = call(&client, &tool.name, Value::Object(arguments)).await;
        assert_eq!(result.is_error, Some(true), "{}", tool.name);
        let error = structured(&result);
        assert_eq!(
            error["error_code"], "INVALID_ARGUMENTS",
            "{}: {error}",
            tool.name
        );
        let message = error["error_messages"][0].as_str().unwrap();
        assert!(
            message.contains(&format!("`body.{typo}`"))
                && message.contains(&format!("did you mean `{first}`")),
            "{}: {message}",
            tool.name
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} tools have a body");
    assert!(gateway.sandbox.requests().is_empty());

    // The example, over REST.
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(STEP)
        .build()
        .unwrap();
    let answer = http
        .post(format!(
            "{}/v1/ordermanagement/v1/orders/{}/captures",
            gateway.rest, gateway.order_id
        ))
        .header("Klarna-Idempotency-Key", KEY)
        .header("Content-Type", "application/json")
        .body(json!({"captured_amount": 1000, "descripton": "x", "shiping_info": []}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    assert_eq!(body["error_code"], "INVALID_ARGUMENTS");
    assert_eq!(
        body["error_messages"][0],
        "unknown field `body.descripton`; did you mean `description`?"
    );
    assert!(gateway.sandbox.requests().is_empty());
    client.cancel().await.unwrap();
}

/// Every tool that cancels, voids, releases or deletes says it is
/// destructive; the seed's seven keep the seed's hints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destructive_tools_say_so_under_all() {
    let gateway = start(Surface::All, Policy::unattended()).await;
    let client = connect(&gateway.mcp, ClientConfig::default()).await;
    let tools = client.list_all_tools().await.unwrap();
    let mut destructive = Vec::new();
    for tool in &tools {
        let hints = tool.annotations.as_ref().unwrap();
        let name = tool.name.to_string();
        let by_name = ["cancel", "void", "release", "delete"]
            .iter()
            .any(|word| name.contains(word));
        assert_eq!(hints.destructive_hint, Some(by_name), "{name}");
        if by_name {
            destructive.push(name);
        }
    }
    assert_eq!(destructive.len(), 7, "{destructive:?}");
    for name in [
        "klarna-cancel-order",
        "klarna-release-remaining-authorization",
        "klarna-void-payment-transaction",
        "klarna-delete-webhook",
        "klarna-delete-signing-key",
    ] {
        assert!(destructive.iter().any(|d| d == name), "{name}");
    }
    client.cancel().await.unwrap();
}

/// The signing key's secret never reaches an MCP result: creating one is
/// not an MCP tool (its secret shows once, so redacting would lose it),
/// and no tool's result carries the secret REST handed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tool_result_holds_a_secret() {
    let gateway = start(Surface::All, Policy::unattended()).await;
    let client = connect(&gateway.mcp, ClientConfig::default()).await;
    let tools = client.list_all_tools().await.unwrap();
    assert!(!tools.iter().any(|t| t.name == "klarna-create-signing-key"));
    assert!(tools.iter().any(|t| t.name == "klarna-list-signing-keys"));
    let request = CallToolRequestParams::new("klarna-create-signing-key")
        .with_arguments(Map::from_iter([("idempotency_key".to_owned(), json!(KEY))]));
    assert!(client.call_tool(request).await.is_err(), "not a tool");

    // REST is where the secret is handed out, once.
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(STEP)
        .build()
        .unwrap();
    let created = http
        .post(format!("{}/v1/v1/notification/signing-keys", gateway.rest))
        .header("Klarna-Idempotency-Key", KEY)
        .send()
        .await
        .unwrap();
    let status = created.status();
    let text = created.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let secret = serde_json::from_str::<Value>(&text).unwrap()["signing_key"]
        .as_str()
        .expect("the secret, once, over REST")
        .to_owned();
    // Every tool, with its path parameters and a key: no result, success
    // or error, carries the secret.
    for tool in &tools {
        let schema = Value::Object((*tool.input_schema).clone());
        let mut arguments = Map::new();
        for name in schema["required"].as_array().unwrap() {
            let name = name.as_str().unwrap();
            let value = match name {
                "idempotency_key" => json!(KEY),
                "body" => json!({}),
                _ => json!("x"),
            };
            arguments.insert(name.to_owned(), value);
        }
        let result = call(&client, &tool.name, Value::Object(arguments)).await;
        let text = serde_json::to_string(&result).unwrap();
        assert!(!text.contains(&secret), "{}: {text}", tool.name);
    }
    let listed = call(&client, "klarna-list-signing-keys", json!({})).await;
    assert_eq!(structured(&listed)["status"], 200, "{listed:?}");
    client.cancel().await.unwrap();
}

/// `--read-only` lists and routes no write; `--max-amount` refuses a
/// larger capture before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_and_max_amount_hold() {
    let read_only = Policy {
        read_only: true,
        ..Policy::unattended()
    };
    let gateway = start(Surface::All, read_only).await;
    let client = connect(&gateway.mcp, ClientConfig::default()).await;
    let tools = client.list_all_tools().await.unwrap();
    assert!(!tools.is_empty());
    for tool in &tools {
        assert_eq!(
            tool.annotations.as_ref().unwrap().read_only_hint,
            Some(true),
            "{}",
            tool.name
        );
    }
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(STEP)
        .build()
        .unwrap();
    let url = format!(
        "{}/v1/ordermanagement/v1/orders/{}/captures",
        gateway.rest, gateway.order_id
    );
    let write = http
        .post(&url)
        .header("Klarna-Idempotency-Key", KEY)
        .header("Content-Type", "application/json")
        .body(json!({ "captured_amount": 1000 }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        http.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    client.cancel().await.unwrap();

    let limited = Policy {
        max_amount: Some(5000),
        ..Policy::unattended()
    };
    let gateway = start(Surface::default(), limited).await;
    let client = connect(&gateway.mcp, ClientConfig::default()).await;
    let over = call(
        &client,
        "klarna-capture-order",
        capture(&gateway.order_id, 6000, Some(KEY)),
    )
    .await;
    let error = structured(&over);
    assert_eq!(error["error_code"], "LIMIT_EXCEEDED", "{error}");
    assert_eq!(error["outcome"], "not_sent");
    assert!(gateway.sandbox.requests().is_empty());
    let under = call(
        &client,
        "klarna-capture-order",
        capture(&gateway.order_id, 5000, Some(KEY)),
    )
    .await;
    assert_eq!(under.is_error, Some(false), "{under:?}");
    assert_eq!(gateway.captures(), 1);
    client.cancel().await.unwrap();
}

/// The user confirms, through `input_required` (protocol 2026-07-28) and
/// through an elicitation request (2025-11-25): one capture, after a
/// question with the amount and what the order still holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_confirmation_captures_once() {
    for protocol in [None, Some(ProtocolVersion::V_2025_11_25)] {
        let gateway = start(Surface::default(), Policy::default()).await;
        let user = User::new(ElicitationAction::Accept, protocol.clone());
        let client = connect(&gateway.mcp, user.clone()).await;
        let result = call(
            &client,
            "klarna-capture-order",
            capture(&gateway.order_id, 6000, Some(KEY)),
        )
        .await;
        assert_eq!(result.is_error, Some(false), "{protocol:?}: {result:?}");
        assert_eq!(structured(&result)["status"], 201);
        assert_eq!(
            user.questions(),
            vec![format!(
                "Capture 60.00 EUR of 200.00 EUR still authorized on order {}?",
                gateway.order_id
            )],
            "{protocol:?}"
        );
        assert_eq!(gateway.captures(), 1);
        // The repeat is answered from memory: no second question.
        let again = call(
            &client,
            "klarna-capture-order",
            capture(&gateway.order_id, 6000, Some(KEY)),
        )
        .await;
        assert_eq!(structured(&again)["replayed"], true);
        assert_eq!(user.questions().len(), 1);
        assert_eq!(gateway.sent("POST"), 1);
        client.cancel().await.unwrap();
    }
}

/// Declined: `DECLINED`, nothing sent. A client without elicitation:
/// `CONFIRMATION_UNAVAILABLE` naming the flags, nothing sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_or_impossible_confirmation_sends_nothing() {
    for protocol in [None, Some(ProtocolVersion::V_2025_11_25)] {
        let gateway = start(Surface::default(), Policy::default()).await;
        let user = User::new(ElicitationAction::Decline, protocol.clone());
        let client = connect(&gateway.mcp, user.clone()).await;
        let result = call(
            &client,
            "klarna-capture-order",
            capture(&gateway.order_id, 6000, Some(KEY)),
        )
        .await;
        let error = structured(&result);
        assert_eq!(error["error_code"], "DECLINED", "{protocol:?}: {error}");
        assert_eq!(error["outcome"], "not_sent");
        assert_eq!(user.questions().len(), 1);
        assert_eq!(gateway.sent("POST"), 0);
        client.cancel().await.unwrap();

        let mut config = ClientConfig::default();
        if let Some(protocol) = protocol.clone() {
            config = config.with_protocol_version(protocol);
        }
        let client = connect(&gateway.mcp, config).await;
        let result = call(
            &client,
            "klarna-capture-order",
            capture(&gateway.order_id, 6000, Some(KEY)),
        )
        .await;
        let error = structured(&result);
        assert_eq!(error["error_code"], "CONFIRMATION_UNAVAILABLE", "{error}");
        let message = error["error_messages"][0].as_str().unwrap();
        assert!(message.contains("--no-confirm"), "{message}");
        assert_eq!(gateway.sent("POST"), 0);
        assert_eq!(gateway.captures(), 0);
        client.cancel().await.unwrap();
    }
}

/// `--confirm-above 5000`: 50.00 goes without a question, 60.00 asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_above_asks_only_above_the_threshold() {
    let policy = Policy {
        confirm: Confirm::Above(5000),
        ..Policy::default()
    };
    let gateway = start(Surface::default(), policy).await;
    let user = User::new(ElicitationAction::Accept, None);
    let client = connect(&gateway.mcp, user.clone()).await;
    let below = call(
        &client,
        "klarna-capture-order",
        capture(&gateway.order_id, 5000, Some(KEY)),
    )
    .await;
    assert_eq!(below.is_error, Some(false), "{below:?}");
    assert!(user.questions().is_empty());
    let above = call(
        &client,
        "klarna-capture-order",
        capture(
            &gateway.order_id,
            6000,
            Some("0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"),
        ),
    )
    .await;
    assert_eq!(above.is_error, Some(false), "{above:?}");
    assert_eq!(
        user.questions(),
        vec![format!(
            "Capture 60.00 EUR of 150.00 EUR still authorized on order {}?",
            gateway.order_id
        )]
    );
    assert_eq!(gateway.captures(), 2);
    client.cancel().await.unwrap();
}
