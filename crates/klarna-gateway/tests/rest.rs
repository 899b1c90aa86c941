//! The REST adapter end to end: a real HTTP client (reqwest) against a
//! gateway on an ephemeral loopback port, backed by a klarna-sandbox, and
//! the same calls made directly with the generated client to compare.
//! Every wait is bounded.

use std::net::SocketAddr;
use std::time::Duration;

use klarna_gateway::http::{HttpOptions, Token};
use klarna_gateway::rest::{self, RestGateway};
use klarna_gateway::upstream;
use klarna_gateway::{Policy, Surface};
use klarna_ordermanagement::{CaptureId, Captures as _, OrderId};
use klarna_runtime::{Config, Credentials};
use klarna_sandbox::{NewOrder, Sandbox};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;

mod common;

use common::{gateway_command, PASSWORD, STEP};

struct Gateway {
    addr: SocketAddr,
    sandbox: Sandbox,
    order_id: OrderId,
    http: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

/// A sandbox holding one 200.00 EUR order of three lines.
fn sandbox() -> (Sandbox, OrderId) {
    let sandbox = Sandbox::start().expect("sandbox starts");
    let order_id = sandbox.add_order(NewOrder::guide_cart());
    (sandbox, order_id)
}

/// A REST gateway with the default surface on 127.0.0.1:0 in front of
/// `base_url` (the sandbox's unless given), calls limited to `timeout`.
async fn start_with(token: Option<&str>, base_url: Option<String>, timeout: Duration) -> Gateway {
    start_surface(token, base_url, timeout, Surface::default()).await
}

async fn start_surface(
    token: Option<&str>,
    base_url: Option<String>,
    timeout: Duration,
    surface: Surface,
) -> Gateway {
    let (sandbox, order_id) = sandbox();
    let base_url = base_url.unwrap_or_else(|| sandbox.base_url().to_owned());
    let upstream = common::upstream_at(&base_url, timeout);
    // These tests are of the adapter's mechanics, keyless calls included
    // (`--allow-keyless`); the rules for agents have tests/agents.rs.
    let policy = Policy {
        allow_keyless: true,
        ..Policy::default()
    };
    let gateway = RestGateway::with_policy(upstream, surface.tools().unwrap(), policy);
    let options = HttpOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        token.map(|t| Token::new(t).unwrap()),
    );
    let (addr, stop) = common::serve_on_loopback(rest::rest_router(gateway, &options)).await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(STEP)
        .build()
        .unwrap();
    Gateway {
        addr,
        sandbox,
        order_id,
        http,
        _stop: stop,
    }
}

async fn start() -> Gateway {
    start_with(None, None, upstream::DEFAULT_OVERALL_TIMEOUT).await
}

/// An answer: status, headers and the body as JSON (`Null` when empty).
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        if self.text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&self.text)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Gateway {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn order_path(&self) -> String {
        format!("/v1/ordermanagement/v1/orders/{}", self.order_id)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = tokio::time::timeout(STEP, request.send())
            .await
            .expect("answered in time")
            .expect("answered");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a whole body");
        Answer {
            status,
            headers,
            text,
        }
    }

    /// Each request gets the status and a gateway error naming the
    /// message: nothing was sent to Klarna for it.
    async fn assert_refused(
        &self,
        cases: impl IntoIterator<Item = (reqwest::RequestBuilder, StatusCode, &str)>,
    ) {
        for (request, status, message) in cases {
            let answer = self.send(request).await;
            assert_eq!(answer.status, status, "{}", answer.text);
            let body = answer.json();
            assert_eq!(body["may_have_reached_klarna"], false, "{body}");
            assert!(body["correlation_id"].is_null());
            assert!(body["error_code"].is_string());
            let text = body["error_messages"][0].as_str().unwrap();
            assert!(text.contains(message), "{text:?} lacks {message:?}");
        }
    }

    async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        self.send(request).await
    }

    /// `GET .../captures` of the sandbox's order.
    async fn list_captures(&self) -> Answer {
        let path = format!("{}/captures", self.order_path());
        self.request(Method::GET, &path, None).await
    }

    async fn capture(&self, amount: i64, key: Option<&str>) -> Answer {
        let mut request = self
            .http
            .post(self.url(&format!("{}/captures", self.order_path())))
            .header("Content-Type", "application/json")
            .body(json!({ "captured_amount": amount, "description": "shipped" }).to_string());
        if let Some(key) = key {
            request = request.header("Klarna-Idempotency-Key", key);
        }
        self.send(request).await
    }

    fn captures(&self) -> Vec<klarna_ordermanagement::models::Capture> {
        self.sandbox
            .order(&self.order_id)
            .unwrap()
            .captures
            .unwrap_or_default()
    }

    /// The generated client, straight at the sandbox.
    fn direct(&self) -> klarna_ordermanagement::Client {
        klarna_ordermanagement::Client::from_config(Config::with_base_url(
            self.sandbox.base_url(),
            Credentials::basic("merchant", PASSWORD),
        ))
        .unwrap()
    }
}

fn json_of<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_captures_route_answers_as_the_client_does() {
    let gateway = start().await;
    let direct = gateway.direct();
    let order_id = gateway.order_id.clone();

    // POST .../captures: 201, the capture's id, and its gateway location.
    let key = "0f5a3b4c-1d2e-4f60-8a9b-0c1d2e3f4a5b";
    let created = gateway.capture(3000, Some(key)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.text, "");
    assert_eq!(created.header("Klarna-Idempotency-Key"), Some(key));
    let capture_id = CaptureId::new(created.header("Capture-Id").expect("Capture-Id"));
    let location = created.header("Location").expect("Location").to_owned();
    assert_eq!(
        location,
        format!("{}/captures/{capture_id}", gateway.order_path())
    );
    assert_eq!(gateway.captures().len(), 1);

    // GET .../captures and the Location: what the client reads, as JSON.
    let listed = gateway.list_captures().await;
    assert_eq!(listed.status, StatusCode::OK);
    let expected = direct.get_captures(&order_id).await.unwrap().into_inner();
    assert_eq!(listed.json(), json_of(&expected));
    assert_eq!(listed.json()[0]["capture_id"], capture_id.as_str());
    let one = gateway.request(Method::GET, &location, None).await;
    assert_eq!(one.status, StatusCode::OK);
    let capture = CaptureId::new(capture_id.clone());
    let expected = direct
        .get_capture(&order_id, &capture)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one.json(), json_of(&expected));
    assert_eq!(one.json()["captured_amount"], 3000);

    // GET .../extend-due-date-options.
    let options = gateway
        .request(
            Method::GET,
            &format!("{location}/extend-due-date-options"),
            None,
        )
        .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.text);
    let expected = direct
        .get_options_for_extend_due_date(&order_id, &capture)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(options.json(), json_of(&expected));

    // PATCH .../extend-due-date.
    let extended = gateway
        .request(
            Method::PATCH,
            &format!("{location}/extend-due-date"),
            Some(json!({ "number_of_days": 14 })),
        )
        .await;
    assert_eq!(extended.status, StatusCode::NO_CONTENT, "{}", extended.text);
    assert!(extended.header("Klarna-Idempotency-Key").is_some());
    assert_eq!(
        gateway
            .sandbox
            .due_date_extension_days(&gateway.order_id, &capture_id),
        Some(14)
    );

    // POST .../shipping-info.
    let shipped = gateway
        .request(
            Method::POST,
            &format!("{location}/shipping-info"),
            Some(json!({ "shipping_info": [{ "shipping_company": "DHL", "tracking_number": "63456415674545679874" }] })),
        )
        .await;
    assert_eq!(shipped.status, StatusCode::NO_CONTENT, "{}", shipped.text);
    let stored = direct
        .get_capture(&order_id, &capture)
        .await
        .unwrap()
        .into_inner();
    let shipping = stored.shipping_info.unwrap_or_default();
    assert_eq!(shipping.len(), 1);
    assert_eq!(shipping[0].shipping_company.as_deref(), Some("DHL"));

    // POST .../trigger-send-out: no body.
    let sent = gateway
        .request(Method::POST, &format!("{location}/trigger-send-out"), None)
        .await;
    assert_eq!(sent.status, StatusCode::NO_CONTENT, "{}", sent.text);
    assert_eq!(
        gateway
            .sandbox
            .send_out_count(&gateway.order_id, &capture_id),
        Some(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_twice_makes_one_capture_and_a_missing_key_is_made_and_returned() {
    let gateway = start().await;
    let key = "4b0c6a2e-9a43-4c5e-b7d6-7d1c2f0e9a11";
    let first = gateway.capture(3000, Some(key)).await;
    let second = gateway.capture(3000, Some(key)).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(first.header("Capture-Id"), second.header("Capture-Id"));
    assert_eq!(gateway.captures().len(), 1);

    // Without a key the client makes one; it comes back for a retry.
    let keyless = gateway.capture(2000, None).await;
    assert_eq!(keyless.status, StatusCode::CREATED);
    let made = keyless
        .header("Klarna-Idempotency-Key")
        .expect("the key it was sent with")
        .to_owned();
    let again = gateway.capture(2000, Some(&made)).await;
    assert_eq!(again.header("Capture-Id"), keyless.header("Capture-Id"));
    assert_eq!(gateway.captures().len(), 2);
    let sent: Vec<_> = gateway
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.idempotency_key)
        .collect();
    // The second call with `key` is answered from the gateway's memory,
    // and so is the repeat with the key the gateway made: every call that
    // is not read-only is recorded under its key before it is sent.
    assert_eq!(sent, vec![Some(key.to_owned()), Some(made)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_capture_is_klarnas_403_with_klarnas_body() {
    let gateway = start().await;
    let refused = gateway.capture(20001, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let body = refused.json();
    assert_eq!(body["error_code"], "CAPTURE_NOT_ALLOWED");
    assert!(body["correlation_id"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
    // Klarna's body as Klarna sent it, nothing of the gateway's added.
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["correlation_id", "error_code", "error_messages"],
        "{body}"
    );
    assert!(refused.header("Klarna-Idempotency-Key").is_some());
    assert!(gateway.captures().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_before_anything_is_sent() {
    let gateway = start().await;
    let captures = format!("{}/captures", gateway.order_path());
    let post = |body: &str, content_type: &str| {
        gateway
            .http
            .post(gateway.url(&captures))
            .header("Content-Type", content_type)
            .body(body.to_owned())
    };
    let cases = [
        (
            post("{\"captured_amount\": 3000,", "application/json"),
            StatusCode::BAD_REQUEST,
            "not JSON",
        ),
        (
            post("{\"captured_amount\": \"3000\"}", "application/json"),
            StatusCode::BAD_REQUEST,
            "`body.captured_amount`",
        ),
        (
            post("{\"captured_amount\": 30.5}", "application/json"),
            StatusCode::BAD_REQUEST,
            "`body.captured_amount`",
        ),
        (
            post("{\"captured_amount\": 3000}", "text/plain"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/json",
        ),
        (
            gateway.http.post(gateway.url(&captures)),
            StatusCode::BAD_REQUEST,
            "needs a JSON body",
        ),
        (
            gateway.http.get(gateway.url(&format!("{captures}?page=2"))),
            StatusCode::BAD_REQUEST,
            "unknown query parameter `page`",
        ),
        (
            post(&"x".repeat(2 * 1024 * 1024), "application/json"),
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger than",
        ),
        (
            gateway
                .http
                .post(gateway.url("/v1/ordermanagement/v1/orders/x/refunds")),
            StatusCode::NOT_FOUND,
            "no route",
        ),
        (
            gateway.http.delete(gateway.url(&captures)),
            StatusCode::METHOD_NOT_ALLOWED,
            "DELETE",
        ),
        (
            gateway
                .http
                .post(gateway.url(&format!("{captures}/c/trigger-send-out")))
                .header("Content-Type", "application/json")
                .body("{}"),
            StatusCode::BAD_REQUEST,
            "takes no body",
        ),
    ];
    gateway.assert_refused(cases).await;
    // Refused before its body was read: the connection closes, and says so,
    // so the client's next request does not go out on it and break off.
    let big = gateway
        .send(post(&"x".repeat(2 * 1024 * 1024), "application/json"))
        .await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", big.text);
    assert_eq!(big.header("connection"), Some("close"));
    assert!(
        gateway.sandbox.requests().is_empty(),
        "{:?}",
        gateway.sandbox.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn klarna_unreachable_is_502_not_sent() {
    // A port that was just free: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let gateway = start_with(None, Some(url), Duration::from_secs(10)).await;
    let answer = gateway.capture(3000, Some("k-unreachable")).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["error_code"], "NOT_SENT");
    assert_eq!(body["kind"], "not_sent");
    assert_eq!(body["may_have_reached_klarna"], false);
    assert_eq!(
        answer.header("Klarna-Idempotency-Key"),
        Some("k-unreachable")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_whose_answer_is_lost_is_502_and_its_retry_with_the_key_captures_once() {
    let gateway = start().await;
    // Every attempt the client makes is read, acted on, and not answered.
    gateway.sandbox.drop_next_connections(10);
    let lost = gateway.capture(3000, None).await;
    assert_eq!(lost.status, StatusCode::BAD_GATEWAY, "{}", lost.text);
    let body = lost.json();
    assert_eq!(body["error_code"], "NO_RESPONSE");
    assert_eq!(body["may_have_reached_klarna"], true);
    let key = lost
        .header("Klarna-Idempotency-Key")
        .expect("the key to retry with")
        .to_owned();
    assert_eq!(body["idempotency_key"], key.as_str());
    // It did reach Klarna.
    assert_eq!(gateway.captures().len(), 1);

    gateway.sandbox.drop_next_connections(0);
    let retried = gateway.capture(3000, Some(&key)).await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.text);
    let captures = gateway.captures();
    assert_eq!(captures.len(), 1, "one capture, however many attempts");
    assert_eq!(
        captures[0].capture_id.as_deref(),
        retried.header("Capture-Id")
    );
    assert_eq!(
        gateway
            .sandbox
            .order(&gateway.order_id)
            .unwrap()
            .captured_amount,
        Some(3000)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_the_overall_timeout_is_504() {
    let gateway = start_with(None, None, Duration::from_millis(300)).await;
    gateway.sandbox.delay_responses(Duration::from_secs(3));
    let answer = gateway.list_captures().await;
    assert_eq!(
        answer.status,
        StatusCode::GATEWAY_TIMEOUT,
        "{}",
        answer.text
    );
    let body = answer.json();
    assert_eq!(body["error_code"], "TIMEOUT");
    assert_eq!(body["may_have_reached_klarna"], true);
    gateway.sandbox.delay_responses(Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_checked_and_foreign_hosts_and_origins_are_refused() {
    let token = "correct-horse-battery-staple";
    let gateway = start_with(Some(token), None, upstream::DEFAULT_OVERALL_TIMEOUT).await;
    let captures = gateway.url(&format!("{}/captures", gateway.order_path()));
    let cases = [
        (gateway.http.get(&captures), StatusCode::UNAUTHORIZED),
        (
            gateway.http.get(&captures).bearer_auth("wrong"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            // Unknown routes are not told apart without the token.
            gateway.http.get(gateway.url("/v1/nope")),
            StatusCode::UNAUTHORIZED,
        ),
        (
            gateway.http.get(&captures).bearer_auth(token),
            StatusCode::OK,
        ),
        (
            gateway
                .http
                .get(&captures)
                .bearer_auth(token)
                .header("Host", "rebound.example"),
            StatusCode::FORBIDDEN,
        ),
        (
            gateway
                .http
                .get(&captures)
                .bearer_auth(token)
                .header("Origin", "https://shop.example"),
            StatusCode::FORBIDDEN,
        ),
        (
            gateway
                .http
                .get(&captures)
                .bearer_auth(token)
                .header("Origin", "http://localhost:3000"),
            StatusCode::OK,
        ),
    ];
    for (request, status) in cases {
        let answer = gateway.send(request).await;
        assert_eq!(answer.status, status, "{}", answer.text);
        assert!(!answer.text.contains(token));
    }
    let fetched = gateway.sandbox.requests().len();
    assert_eq!(fetched, 2, "only the two accepted requests reached Klarna");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_reaches_an_answer() {
    let gateway = start().await;
    let mut answers = vec![
        gateway.capture(3000, None).await,
        gateway.capture(90000, None).await,
    ];
    gateway.sandbox.drop_next_connections(10);
    answers.push(gateway.list_captures().await);
    for answer in answers {
        let mut text = answer.text.clone();
        for (name, value) in &answer.headers {
            text.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or_default()));
        }
        assert!(!text.contains(PASSWORD), "{text}");
        // Basic credentials, base64: `merchant:secret-password`.
        assert!(!text.contains("bWVyY2hhbnQ6c2VjcmV0LXBhc3N3b3Jk"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_rest_and_refuses_a_non_loopback_bind_without_a_token() {
    use tokio::io::AsyncBufReadExt;

    common::refuses_to_start(
        &["--sandbox", "--rest", "0.0.0.0:0"],
        "KLARNA_GATEWAY_TOKEN",
    )
    .await;

    let mut command = gateway_command();
    command
        .args(["rest", "--sandbox", "--rest", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut order_id, mut base) = (None, None);
    // The sandbox line, the order line, then the REST line: a few lines.
    for _ in 0..10 {
        let Some(line) = tokio::time::timeout(STEP, lines.next_line())
            .await
            .expect("a line in time")
            .unwrap()
        else {
            break;
        };
        assert!(!line.contains("MCP at"), "only REST was asked for: {line}");
        if let Some(rest) = line.strip_prefix("klarna-gateway: seeded order ") {
            order_id = rest.split(' ').next().map(str::to_owned);
        }
        if let Some(rest) = line.strip_prefix("klarna-gateway: REST at ") {
            base = rest.split(' ').next().map(str::to_owned);
            break;
        }
    }
    let (order_id, base) = (order_id.expect("an order id"), base.expect("an address"));
    // reqwest is built without a TLS provider of its own; the SDK's.
    klarna_runtime::install_crypto_provider();
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(STEP)
        .build()
        .unwrap();
    let response = http
        .post(format!(
            "{base}/ordermanagement/v1/orders/{order_id}/captures"
        ))
        .header("Content-Type", "application/json")
        .header(
            "Klarna-Idempotency-Key",
            "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
        )
        .body(r#"{"captured_amount": 3000}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.headers().contains_key("Capture-Id"));
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_of_every_api_has_a_route() {
    let gateway = start_surface(None, None, Duration::from_secs(5), Surface::All).await;
    let tools = Surface::All.tools().unwrap();
    assert!(tools.len() > 40, "{}", tools.len());
    for tool in tools {
        // Every placeholder filled with a value of the right shape.
        let path = tool
            .route
            .split('/')
            .map(|part| if part.starts_with('{') { "x-1" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(tool.method.as_bytes()).unwrap();
        let answer = gateway.request(method, &path, None).await;
        let routed = answer.status != StatusCode::METHOD_NOT_ALLOWED
            && !(answer.status == StatusCode::NOT_FOUND
                && answer.json()["error_messages"][0]
                    .as_str()
                    .is_some_and(|m| m.starts_with("no route")));
        assert!(
            routed,
            "{} {path}: {} {}",
            tool.method, answer.status, answer.text
        );
    }
}

/// The served document is the one the generator test builds a crate from
/// (`tests/tests/generator/gateway_openapi.rs`), with this server's origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served_with_its_origin() {
    let gateway = start().await;
    let served = gateway.request(Method::GET, rest::OPENAPI_PATH, None).await;
    assert_eq!(served.status, StatusCode::OK);
    let origin = format!("http://{}", gateway.addr);
    let expected =
        klarna_gateway::openapi::document(&Surface::default().tools().unwrap(), Some(&origin));
    assert_eq!(served.json(), expected);
    assert_eq!(served.json()["servers"][0]["url"], origin.as_str());
    assert!(
        served.json()["paths"]["/v1/ordermanagement/v1/orders/{order-id}/captures"]["post"]
            .is_object()
    );
}

/// A Klarna that reads the first request, closes the connection without an
/// answer, and is gone: the client's retries find no listener. The last
/// attempt was not sent, the first may have acted; the answer must say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_then_a_refused_retry_is_502_may_have_reached() {
    use tokio::io::AsyncReadExt;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let klarna = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 64 * 1024];
        let mut read = 0;
        // Until the end of the JSON body, bounded by the buffer.
        while read < request.len() {
            let n = stream.read(&mut request[read..]).await.unwrap();
            read += n;
            if n == 0 || request[..read].ends_with(b"}") {
                break;
            }
        }
        // Dropping both closes the connection and stops listening.
        String::from_utf8_lossy(&request[..read]).into_owned()
    });
    let gateway = start_with(None, Some(url), Duration::from_secs(10)).await;
    let answer = gateway.capture(3000, None).await;
    let seen = tokio::time::timeout(STEP, klarna).await.unwrap().unwrap();
    assert!(
        seen.starts_with("POST /ordermanagement/v1/orders/"),
        "{seen}"
    );
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["may_have_reached_klarna"], true, "{body}");
    assert_eq!(body["kind"], "no_response", "{body}");
    assert_ne!(body["error_code"], "NOT_SENT", "{body}");
    let key = answer.header("Klarna-Idempotency-Key").expect("a key");
    assert!(seen
        .to_ascii_lowercase()
        .contains(&format!("klarna-idempotency-key: {key}")));
}

/// A Klarna that answers every request with `answer` (a whole HTTP/1.1
/// response), for the answers the sandbox never gives. At most 16
/// connections, each within the step's time.
async fn fake_klarna(answer: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        for _ in 0..16 {
            let Ok(Ok((mut stream, _))) = tokio::time::timeout(STEP, listener.accept()).await
            else {
                return;
            };
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn klarnas_other_answers_keep_their_status_or_say_it_was_klarna() {
    let cases: [(&str, StatusCode, &str); 3] = [
        (
            // Klarna refusing the merchant's credentials is not the
            // caller's 401 (that one means the gateway's token).
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 82\r\nConnection: close\r\n\r\n{\"error_code\":\"UNAUTHORIZED\",\"error_messages\":[\"bad creds\"],\"correlation_id\":\"c-1\"}",
            StatusCode::BAD_GATEWAY,
            "UPSTREAM_UNAUTHORIZED",
        ),
        (
            // A load balancer's page instead of Klarna's JSON.
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 13\r\nConnection: close\r\n\r\n<html></html>",
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 3600\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            StatusCode::SERVICE_UNAVAILABLE,
            "",
        ),
    ];
    for (answer, status, error_code) in cases {
        let url = fake_klarna(answer).await;
        let gateway = start_with(None, Some(url), Duration::from_secs(10)).await;
        let answer = gateway.list_captures().await;
        assert_eq!(answer.status, status, "{}", answer.text);
        let body = answer.json();
        // The gateway's account, not a body it made up for Klarna: a
        // refusal (4xx) says nothing happened, a 503 that it may have.
        let refused = status != StatusCode::SERVICE_UNAVAILABLE;
        assert_eq!(body["may_have_reached_klarna"], !refused, "{body}");
        assert_eq!(
            body["outcome"],
            if refused { "refused" } else { "unknown" },
            "{body}"
        );
        if !error_code.is_empty() {
            assert_eq!(body["error_code"], error_code, "{body}");
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(answer.header("Retry-After"), Some("3600"));
            assert_eq!(body["status"], 503);
        }
        if status == StatusCode::NOT_FOUND {
            assert_eq!(body["status"], 404, "{body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_paths_keys_and_bodies_get_json_errors() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let gateway = start().await;
    let captures = format!("{}/captures", gateway.order_path());
    let post = |path: &str| {
        gateway
            .http
            .post(gateway.url(path))
            .header("Content-Type", "application/json")
            .body(r#"{"captured_amount": 3000}"#)
    };
    let cases = [
        (
            gateway.http.get(gateway.url(&format!("{captures}/%FF"))),
            StatusCode::BAD_REQUEST,
            "UTF-8",
        ),
        (
            post(&captures).header("Klarna-Idempotency-Key", " "),
            StatusCode::BAD_REQUEST,
            "is empty",
        ),
        (
            post(&captures)
                .header("Klarna-Idempotency-Key", "a")
                .header("Klarna-Idempotency-Key", "b"),
            StatusCode::BAD_REQUEST,
            "more than once",
        ),
    ];
    gateway.assert_refused(cases).await;

    // `..` would be the order's own shipping info. Sent raw: reqwest's URL
    // parser would resolve it before sending.
    let response = raw(
        gateway.addr,
        format!(
            "POST {captures}/%2E%2E/shipping-info HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains("cannot be `..`"), "{response}");

    // No Content-Length (chunked): the limit counts what arrives.
    let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    let head = format!(
        "POST {captures} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 64 * 1024];
    // 2 MiB in 32 chunks, or fewer if the gateway has answered and closed.
    for _ in 0..32 {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(STEP, stream.read_to_end(&mut response))
        .await
        .expect("answered in time");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("PAYLOAD_TOO_LARGE"), "{response}");
    assert!(gateway.sandbox.requests().is_empty());

    // A body that stops arriving: 408 once the body deadline passes.
    let (sandbox, order_id) = sandbox();
    let upstream = common::upstream_at(sandbox.base_url(), upstream::DEFAULT_OVERALL_TIMEOUT);
    let slow = RestGateway::new(upstream, Surface::default().tools().unwrap());
    let mut options = HttpOptions::new("127.0.0.1:0".parse().unwrap(), None);
    options.body_timeout = Duration::from_millis(300);
    let (addr, _stop) = common::serve_on_loopback(rest::rest_router(slow, &options)).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/ordermanagement/v1/orders/{order_id}/captures HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"captured"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(STEP, stream.read_to_end(&mut response))
        .await
        .expect("answered in time")
        .unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("REQUEST_TIMEOUT"), "{response}");
    assert!(sandbox.requests().is_empty());
}

/// One raw exchange on a new connection: what the server sent until it
/// closed.
async fn raw(addr: SocketAddr, request: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(STEP, stream.read_to_end(&mut response))
        .await
        .expect("answered in time");
    String::from_utf8_lossy(&response).into_owned()
}
