//! OAuth 2.1 on both adapters, against an issuer run in the test on a
//! loopback port: its metadata (RFC 8414), its JWKS (P-256 keys made at
//! run time), and tokens it signs. Valid, expired, for another audience,
//! from another issuer, with an unknown key id, without the scope, and
//! across a key rotation; on the REST adapter with a plain HTTP client,
//! on the MCP adapter with raw JSON-RPC over streamable HTTP and rmcp's
//! client. Every wait is bounded.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use axum::response::IntoResponse;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use klarna_gateway::http::{self, HttpOptions, Token};
use klarna_gateway::journal::{Journal, JournalOptions};
use klarna_gateway::oauth::{Issuer, IssuerOptions, OAuth, ScopeMap};
use klarna_gateway::rest::{self, RestGateway};
use klarna_gateway::revoke::Revocations;
use klarna_gateway::upstream;
use klarna_gateway::{McpGateway, Policy, Surface};
use klarna_ordermanagement::OrderId;
use klarna_sandbox::{NewOrder, Sandbox};
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::{json, Value};
use tokio::sync::oneshot;

mod common;

use common::{TempFile, STEP};

/// The resource URLs the gateways of these tests are reached by (the
/// tokens' audience): names, as behind a proxy; the tests reach them on
/// their loopback ports.
const MCP_RESOURCE: &str = "https://gateway.test/mcp";
const REST_RESOURCE: &str = "https://gateway.test/v1";
const WRITE: &str = "klarna:ordermanagement:write";
const READ: &str = "klarna:ordermanagement:read";

/// A signing key of the issuer: its private half and its public JWK.
struct Key {
    kid: String,
    private: EncodingKey,
    public: Value,
}

fn new_key(kid: &str) -> Key {
    let pkcs8 = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .and_then(|pair| pair.to_pkcs8v1())
        .expect("a P-256 key");
    let private = EncodingKey::from_ec_der(pkcs8.as_ref());
    let mut jwk = Jwk::from_encoding_key(&private, Algorithm::ES256).expect("its JWK");
    jwk.common.key_id = Some(kid.to_owned());
    Key {
        kid: kid.to_owned(),
        private,
        public: serde_json::to_value(jwk).unwrap(),
    }
}

/// An authorization server on a loopback port: metadata and JWKS.
struct TestIssuer {
    url: String,
    /// The JWKS it publishes; a test changes it to rotate keys.
    published: Arc<Mutex<Vec<Value>>>,
    /// How many times its JWKS was fetched.
    fetches: Arc<AtomicUsize>,
    /// While set, its JWKS route answers 503.
    down: Arc<AtomicBool>,
    _stop: oneshot::Sender<()>,
}

impl TestIssuer {
    async fn start(keys: &[&Key]) -> TestIssuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let url = format!("http://{addr}");
        let published = Arc::new(Mutex::new(
            keys.iter().map(|k| k.public.clone()).collect::<Vec<_>>(),
        ));
        let fetches = Arc::new(AtomicUsize::new(0));
        let down = Arc::new(AtomicBool::new(false));
        let metadata = json!({
            "issuer": url,
            "jwks_uri": format!("{url}/jwks"),
            "authorization_endpoint": format!("{url}/authorize"),
            "token_endpoint": format!("{url}/token"),
            "response_types_supported": ["code"],
        });
        let router = axum::Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                axum::routing::get(move || async move { axum::Json(metadata) }),
            )
            .route(
                "/jwks",
                axum::routing::get({
                    let (published, fetches, down) =
                        (published.clone(), fetches.clone(), down.clone());
                    move || async move {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        if down.load(Ordering::SeqCst) {
                            return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
                        }
                        let keys = published.lock().unwrap().clone();
                        axum::Json(json!({ "keys": keys })).into_response()
                    }
                }),
            );
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        TestIssuer {
            url,
            published,
            fetches,
            down,
            _stop: stop,
        }
    }

    fn publish(&self, keys: &[&Key]) {
        *self.published.lock().unwrap() = keys.iter().map(|k| k.public.clone()).collect();
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// The gateway's view of this issuer: discovery through the metadata,
    /// a fetch for an unknown key id at most every `min_refresh`.
    fn issuer(&self, min_refresh: Duration) -> Arc<Issuer> {
        let options = IssuerOptions {
            min_refresh,
            timeout: STEP,
            ..IssuerOptions::default()
        };
        Arc::new(Issuer::new(&self.url, None, options).unwrap())
    }

    /// The claims of a token valid for five minutes.
    fn claims(&self, audience: &str, scope: &str) -> Value {
        let now = now();
        json!({
            "iss": self.url,
            "aud": audience,
            "sub": "agent-1",
            "scope": scope,
            "iat": now,
            "nbf": now - 5,
            "exp": now + 300,
            "jti": format!("t-{now}"),
        })
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn sign(key: &Key, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.private).unwrap()
}

/// A sandbox holding one 200.00 EUR order.
fn sandbox() -> (Sandbox, OrderId) {
    let sandbox = Sandbox::start().expect("sandbox starts");
    let order_id = sandbox.add_order(NewOrder::guide_cart());
    (sandbox, order_id)
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(STEP)
        .build()
        .unwrap()
}

struct Answer {
    status: u16,
    www_authenticate: String,
    body: String,
    session: Option<String>,
}

impl Answer {
    /// A JSON-RPC answer of a tool that did its work.
    fn assert_tool_succeeded(&self) {
        assert_eq!(self.status, 200, "{}", self.body);
        assert_eq!(
            self.json()["result"]["isError"],
            json!(false),
            "{}",
            self.body
        );
    }

    fn json(&self) -> Value {
        // A streamable HTTP answer may come as one SSE event.
        let text = self
            .body
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .find(|data| !data.trim().is_empty())
            .unwrap_or(&self.body);
        serde_json::from_str(text.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = tokio::time::timeout(STEP, request.send())
        .await
        .expect("answered in time")
        .expect("answered");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let www_authenticate = header("www-authenticate").unwrap_or_default();
    let session = header("mcp-session-id");
    let status = response.status().as_u16();
    let body = tokio::time::timeout(STEP, response.text())
        .await
        .expect("body in time")
        .unwrap();
    Answer {
        status,
        www_authenticate,
        body,
        session,
    }
}

fn oauth(issuer: &Arc<Issuer>, resource: &str) -> OAuth {
    OAuth::new(
        issuer.clone(),
        resource,
        ScopeMap::default(),
        &Surface::default().tools().unwrap(),
    )
    .unwrap()
}

/// A REST gateway with OAuth (and, if given, the static token) on
/// 127.0.0.1:0 in front of a sandbox.
async fn rest_gateway(
    oauth: OAuth,
    token: Option<&str>,
) -> (SocketAddr, Sandbox, OrderId, oneshot::Sender<()>) {
    let (sandbox, order_id) = sandbox();
    let upstream = common::upstream_at(sandbox.base_url(), upstream::DEFAULT_OVERALL_TIMEOUT);
    let gateway = RestGateway::with_policy(
        upstream,
        Surface::default().tools().unwrap(),
        Policy::default(),
    );
    let options = HttpOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        token.map(|t| Token::new(t).unwrap()),
    )
    .with_oauth(oauth);
    let (addr, stop) = common::serve_on_loopback(rest::rest_router(gateway, &options)).await;
    (addr, sandbox, order_id, stop)
}

async fn mcp_gateway(oauth: OAuth) -> (SocketAddr, Sandbox, OrderId, oneshot::Sender<()>) {
    mcp_gateway_with(oauth, None).await
}

/// An MCP gateway with OAuth and, if given, the static token.
async fn mcp_gateway_with(
    oauth: OAuth,
    token: Option<&str>,
) -> (SocketAddr, Sandbox, OrderId, oneshot::Sender<()>) {
    let (sandbox, order_id) = sandbox();
    let upstream = common::upstream_at(sandbox.base_url(), upstream::DEFAULT_OVERALL_TIMEOUT);
    let gateway = McpGateway::with_policy(
        upstream,
        Surface::default().tools().unwrap(),
        Policy::unattended(),
    )
    .unwrap();
    let options = HttpOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        token.map(|t| Token::new(t).unwrap()),
    )
    .with_oauth(oauth);
    let (addr, stop) = common::serve_on_loopback(http::mcp_router(gateway, &options)).await;
    (addr, sandbox, order_id, stop)
}

/// The revocation file at `path`, checked on every request (a running
/// gateway checks once a second).
fn revocations(path: &std::path::Path) -> Arc<Revocations> {
    Arc::new(
        Revocations::load(path)
            .unwrap()
            .rechecked_every(Duration::ZERO),
    )
}

/// A JSON-RPC `tools/call` of `klarna-capture-order`.
fn capture_call(id: u64, order_id: &OrderId, key: &str, body: Value) -> Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {
            "name": "klarna-capture-order",
            "arguments": { "order_id": order_id.to_string(), "idempotency_key": key, "body": body },
        },
    })
}

fn capture_body() -> Value {
    json!({ "captured_amount": 3000, "description": "the T-shirt" })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_accepts_the_issuers_tokens_for_its_audience_with_the_scope() {
    let key = new_key("k1");
    let issuer = TestIssuer::start(&[&key]).await;
    let (addr, sandbox, order_id, _stop) =
        rest_gateway(oauth(&issuer.issuer(Duration::ZERO), REST_RESOURCE), None).await;
    let http = http_client();
    let captures = format!("http://{addr}/v1/ordermanagement/v1/orders/{order_id}/captures");

    // The metadata, without a token, at both RFC 9728 locations.
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/v1",
    ] {
        let metadata = send(http.get(format!("http://{addr}{path}"))).await;
        assert_eq!(metadata.status, 200, "{}", metadata.body);
        let metadata = metadata.json();
        assert_eq!(metadata["resource"], REST_RESOURCE);
        assert_eq!(metadata["authorization_servers"], json!([issuer.url]));
        assert_eq!(metadata["bearer_methods_supported"], json!(["header"]));
        assert_eq!(metadata["scopes_supported"], json!([READ, WRITE]));
    }

    // No token: 401 pointing at the metadata, and no error (RFC 6750 3.1).
    let anonymous = send(http.get(&captures)).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.www_authenticate,
        "Bearer resource_metadata=\"https://gateway.test/.well-known/oauth-protected-resource/v1\""
    );

    // A valid token with the write scope reads and captures.
    let writer = sign(&key, &issuer.claims(REST_RESOURCE, WRITE));
    let listed = send(http.get(&captures).bearer_auth(&writer)).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let captured = send(
        http.post(&captures)
            .bearer_auth(&writer)
            .header(
                "Klarna-Idempotency-Key",
                "5b0b1c8e-4f1e-4b8e-9a33-0c9f3a1d2e01",
            )
            .json(&capture_body()),
    )
    .await;
    assert_eq!(captured.status, 201, "{}", captured.body);

    // Refused tokens: each 401 says `invalid_token` and why; none reaches
    // the sandbox.
    let before = sandbox.requests().len();
    let expired = {
        let mut claims = issuer.claims(REST_RESOURCE, WRITE);
        claims["exp"] = json!(now() - 3600);
        claims["nbf"] = json!(now() - 7200);
        sign(&key, &claims)
    };
    let not_yet = {
        let mut claims = issuer.claims(REST_RESOURCE, WRITE);
        claims["nbf"] = json!(now() + 3600);
        sign(&key, &claims)
    };
    let other_audience = sign(&key, &issuer.claims(MCP_RESOURCE, WRITE));
    let other_issuer = {
        let mut claims = issuer.claims(REST_RESOURCE, WRITE);
        claims["iss"] = json!("https://issuer.elsewhere.test");
        sign(&key, &claims)
    };
    let unknown_key = sign(&new_key("k-unknown"), &issuer.claims(REST_RESOURCE, WRITE));
    // A key id the issuer publishes, with a signature of another key.
    let forged = {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k1".into());
        let other = new_key("k1");
        jsonwebtoken::encode(
            &header,
            &issuer.claims(REST_RESOURCE, WRITE),
            &other.private,
        )
        .unwrap()
    };
    // HMAC with the public key's text as the secret: never accepted.
    let symmetric = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let secret = EncodingKey::from_secret(key.public.to_string().as_bytes()).unwrap();
        jsonwebtoken::encode(&header, &issuer.claims(REST_RESOURCE, WRITE), &secret).unwrap()
    };
    for (token, why) in [
        (expired.as_str(), "expired"),
        (not_yet.as_str(), "not valid yet"),
        (other_audience.as_str(), "not for this resource"),
        (other_issuer.as_str(), "another issuer"),
        (unknown_key.as_str(), "signing key is not among"),
        (forged.as_str(), "signature"),
        (symmetric.as_str(), "shared secret"),
        ("not-a-jwt", "not a JWT"),
    ] {
        let answer = send(http.get(&captures).bearer_auth(token)).await;
        assert_eq!(answer.status, 401, "{why}: {}", answer.body);
        assert!(
            answer
                .www_authenticate
                .starts_with("Bearer resource_metadata=\"https://gateway.test/"),
            "{}",
            answer.www_authenticate
        );
        assert!(
            answer.www_authenticate.contains("error=\"invalid_token\""),
            "{}",
            answer.www_authenticate
        );
        assert!(
            answer.www_authenticate.contains(why),
            "{why}: {}",
            answer.www_authenticate
        );
        assert_eq!(answer.json()["error_code"], "UNAUTHORIZED");
        assert!(!answer.body.contains(token));
    }
    assert_eq!(sandbox.requests().len(), before);

    // A read scope reads; a capture is 403 naming the scope it needs.
    let reader = sign(&key, &issuer.claims(REST_RESOURCE, READ));
    assert_eq!(
        send(http.get(&captures).bearer_auth(&reader)).await.status,
        200
    );
    let refused = send(
        http.post(&captures)
            .bearer_auth(&reader)
            .header(
                "Klarna-Idempotency-Key",
                "5b0b1c8e-4f1e-4b8e-9a33-0c9f3a1d2e02",
            )
            .json(&capture_body()),
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(
        refused.www_authenticate,
        format!(
            "Bearer error=\"insufficient_scope\", scope=\"{WRITE}\", \
             resource_metadata=\"https://gateway.test/.well-known/oauth-protected-resource/v1\""
        )
    );
    assert_eq!(refused.json()["error_code"], "INSUFFICIENT_SCOPE");
    assert!(refused.body.contains(WRITE), "{}", refused.body);
    // Another API's write scope covers nothing here.
    let elsewhere = sign(&key, &issuer.claims(REST_RESOURCE, "klarna:payments:write"));
    assert_eq!(
        send(http.get(&captures).bearer_auth(&elsewhere))
            .await
            .status,
        403
    );
    // `scp` as a list (Entra, Okta) counts as `scope`.
    let scp = {
        let mut claims = issuer.claims(REST_RESOURCE, "");
        claims["scp"] = json!([READ]);
        sign(&key, &claims)
    };
    assert_eq!(
        send(http.get(&captures).bearer_auth(&scp)).await.status,
        200
    );
    // Only the allowed calls reached the sandbox: the reads and one capture.
    assert_eq!(
        sandbox
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_names_the_oauth_caller_of_each_call() {
    let key = new_key("k1");
    let issuer = TestIssuer::start(&[&key]).await;
    let file = TempFile::new("oauth-caller");
    let journal = Journal::open(&file.0, JournalOptions::default()).unwrap();
    let (sandbox, order_id) = sandbox();
    let upstream = common::upstream_at(sandbox.base_url(), upstream::DEFAULT_OVERALL_TIMEOUT);
    let tools = Surface::default().tools().unwrap();
    let rest_gateway = RestGateway::with_policy(upstream.clone(), tools.clone(), Policy::default())
        .with_journal(journal.clone(), "loopback");
    let rest_options = HttpOptions::new("127.0.0.1:0".parse().unwrap(), None)
        .with_oauth(oauth(&issuer.issuer(Duration::ZERO), REST_RESOURCE));
    let (rest_addr, _stop_rest) =
        common::serve_on_loopback(rest::rest_router(rest_gateway, &rest_options)).await;
    let mcp_gateway = McpGateway::with_policy(upstream, tools, Policy::unattended())
        .unwrap()
        .with_journal(journal.clone(), "loopback");
    let mcp_options = HttpOptions::new("127.0.0.1:0".parse().unwrap(), None)
        .with_oauth(oauth(&issuer.issuer(Duration::ZERO), MCP_RESOURCE));
    let (mcp_addr, _stop_mcp) =
        common::serve_on_loopback(http::mcp_router(mcp_gateway, &mcp_options)).await;
    let http = http_client();

    // Over REST: a token with a subject, then one that names none.
    let captures = format!("http://{rest_addr}/v1/ordermanagement/v1/orders/{order_id}/captures");
    let subjectless = {
        let mut claims = issuer.claims(REST_RESOURCE, WRITE);
        claims.as_object_mut().unwrap().remove("sub");
        sign(&key, &claims)
    };
    let writer = sign(&key, &issuer.claims(REST_RESOURCE, WRITE));
    for (token, idempotency_key) in [
        (&writer, "5b0b1c8e-4f1e-4b8e-9a33-0c9f3a1d2e21"),
        (&subjectless, "5b0b1c8e-4f1e-4b8e-9a33-0c9f3a1d2e22"),
    ] {
        let captured = send(
            http.post(&captures)
                .bearer_auth(token)
                .header("Klarna-Idempotency-Key", idempotency_key)
                .json(&json!({ "captured_amount": 1000 })),
        )
        .await;
        assert_eq!(captured.status, 201, "{}", captured.body);
    }

    // Over MCP, another subject.
    let agent = {
        let mut claims = issuer.claims(MCP_RESOURCE, WRITE);
        claims["sub"] = json!("agent-7");
        sign(&key, &claims)
    };
    let session = open_session(&http, mcp_addr, &agent).await;
    let call = capture_call(
        3,
        &order_id,
        "5b0b1c8e-4f1e-4b8e-9a33-0c9f3a1d2e23",
        json!({ "captured_amount": 1000 }),
    );
    let captured = send(rpc(&http, mcp_addr, &agent, Some(&session), call)).await;
    captured.assert_tool_succeeded();

    // And a 2026-07-28 client, without a session (the fast path).
    let modern = {
        let mut claims = issuer.claims(MCP_RESOURCE, WRITE);
        claims["sub"] = json!("agent-8");
        sign(&key, &claims)
    };
    let mut stateless = capture_call(
        4,
        &order_id,
        "5b0b1c8e-4f1e-4b8e-9a33-0c9f3a1d2e24",
        json!({ "captured_amount": 1000 }),
    );
    stateless["params"]["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": { "name": "test", "version": "0" },
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    let captured = send(
        rpc(&http, mcp_addr, &modern, None, stateless)
            .header("MCP-Protocol-Version", "2026-07-28")
            .header("Mcp-Method", "tools/call")
            .header("Mcp-Name", "klarna-capture-order"),
    )
    .await;
    captured.assert_tool_succeeded();

    let caller = |key: &'static str| {
        let journal = journal.clone();
        async move { journal.lookup(key).await.unwrap().expect("a record").caller }
    };
    assert_eq!(
        caller("5b0b1c8e-4f1e-4b8e-9a33-0c9f3a1d2e21").await,
        "oauth:sub:agent-1"
    );
    let anonymous = caller("5b0b1c8e-4f1e-4b8e-9a33-0c9f3a1d2e22").await;
    assert!(anonymous.starts_with("oauth:token:"), "{anonymous}");
    assert!(!subjectless.contains(&anonymous["oauth:token:".len()..]));
    assert_eq!(
        caller("5b0b1c8e-4f1e-4b8e-9a33-0c9f3a1d2e23").await,
        "oauth:sub:agent-7"
    );
    assert_eq!(
        caller("5b0b1c8e-4f1e-4b8e-9a33-0c9f3a1d2e24").await,
        "oauth:sub:agent-8"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_revocation_file_ends_tokens_subjects_and_sessions_as_it_changes() {
    let key = new_key("k1");
    let issuer = TestIssuer::start(&[&key]).await;
    let file = TempFile::with_extension("revoked", "txt");
    let write = |text: &str| std::fs::write(&file.0, text).unwrap();
    write("# nothing revoked yet\n");
    let revocations = revocations(&file.0);
    let (mcp, _sandbox, _order, _stop_mcp) = mcp_gateway(
        oauth(&issuer.issuer(Duration::ZERO), MCP_RESOURCE).with_revocations(revocations.clone()),
    )
    .await;
    let (rest, _rest_sandbox, order_id, _stop_rest) = rest_gateway(
        oauth(&issuer.issuer(Duration::ZERO), REST_RESOURCE).with_revocations(revocations),
        None,
    )
    .await;
    let http = http_client();
    let token = |audience: &str, subject: &str, jti: &str| {
        let mut claims = issuer.claims(audience, READ);
        claims["sub"] = json!(subject);
        claims["jti"] = json!(jti);
        sign(&key, &claims)
    };
    let (first, second) = (
        token(MCP_RESOURCE, "agent-1", "t-1"),
        token(MCP_RESOURCE, "agent-1", "t-2"),
    );
    let other = token(MCP_RESOURCE, "agent-3", "t-3");
    let rest_first = token(REST_RESOURCE, "agent-1", "t-1");
    let captures = format!("http://{rest}/v1/ordermanagement/v1/orders/{order_id}/captures");
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let session = open_session(&http, mcp, &first).await;
    let status = |token: &str, session: Option<&str>| {
        let request = rpc(&http, mcp, token, session, list.clone());
        async move { send(request).await }
    };
    assert_eq!(status(&first, Some(&session)).await.status, 200);

    // One token: refused on both adapters, saying why; the subject's other
    // token keeps the session.
    write("jti:t-1\n");
    let refused = status(&first, Some(&session)).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(
        refused.www_authenticate.contains("error=\"invalid_token\"")
            && refused.www_authenticate.contains("revoked"),
        "{}",
        refused.www_authenticate
    );
    let rest_refused = send(http.get(&captures).bearer_auth(&rest_first)).await;
    assert_eq!(rest_refused.status, 401, "{}", rest_refused.body);
    assert_eq!(status(&second, Some(&session)).await.status, 200);

    // One session: gone for its owner, who starts another.
    write(&format!("jti:t-1\nsession:{session}\n"));
    let ended = status(&second, Some(&session)).await;
    assert_eq!(ended.status, 404, "{}", ended.body);
    let again = open_session(&http, mcp, &second).await;
    assert_ne!(again, session);
    assert_eq!(status(&second, Some(&again)).await.status, 200);

    // A subject: every token of it; others are untouched.
    write("sub:agent-1\n");
    assert_eq!(status(&second, Some(&again)).await.status, 401);
    assert_eq!(status(&second, None).await.status, 401);
    let theirs = open_session(&http, mcp, &other).await;
    assert_eq!(status(&other, Some(&theirs)).await.status, 200);

    // A file broken while serving keeps the list it replaced in force.
    write("agent-1 is out\n");
    assert_eq!(status(&second, None).await.status, 401);
    assert_eq!(status(&other, Some(&theirs)).await.status, 200);

    // And the list ends when the file says so.
    write("\n");
    let back = send(http.get(&captures).bearer_auth(&rest_first)).await;
    assert_eq!(back.status, 200, "{}", back.body);

    // A token that names only its client, and one that names nobody, by
    // the digest the journal names it by.
    let client_only = {
        let mut claims = issuer.claims(MCP_RESOURCE, READ);
        claims.as_object_mut().unwrap().remove("sub");
        claims["client_id"] = json!("ci-7");
        sign(&key, &claims)
    };
    let nobody = {
        let mut claims = issuer.claims(MCP_RESOURCE, READ);
        claims.as_object_mut().unwrap().remove("sub");
        claims["jti"] = json!("t-8");
        sign(&key, &claims)
    };
    let digest: String = {
        use sha2::{Digest, Sha256};
        Sha256::digest(nobody.as_bytes())[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert_ne!(status(&client_only, None).await.status, 401);
    assert_ne!(status(&nobody, None).await.status, 401);
    // `sub:ci-7` is somebody's subject, not this client.
    write("sub:ci-7\n");
    assert_ne!(status(&client_only, None).await.status, 401);
    write(&format!("client:ci-7\ntoken:{digest}\n"));
    assert_eq!(status(&client_only, None).await.status, 401);
    assert_eq!(status(&nobody, None).await.status, 401);
}

/// A session the file ends is ended for the static token's requests too,
/// and closed in rmcp: it stays gone when the file no longer names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_session_is_closed_for_every_caller() {
    let key = new_key("k1");
    let issuer = TestIssuer::start(&[&key]).await;
    let file = TempFile::with_extension("revoked-session", "txt");
    std::fs::write(&file.0, "").unwrap();
    let (addr, _sandbox, _order, _stop) = mcp_gateway_with(
        oauth(&issuer.issuer(Duration::ZERO), MCP_RESOURCE).with_revocations(revocations(&file.0)),
        Some("static-token"),
    )
    .await;
    let http = http_client();
    let session = open_session(&http, addr, "static-token").await;
    let list = || {
        let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
        send(rpc(&http, addr, "static-token", Some(&session), list))
    };
    assert_eq!(list().await.status, 200);
    std::fs::write(&file.0, format!("session:{session}\n")).unwrap();
    let ended = list().await;
    assert_eq!(ended.status, 404, "{}", ended.body);
    std::fs::write(&file.0, "").unwrap();
    let still = list().await;
    assert_eq!(still.status, 404, "rmcp closed it: {}", still.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_does_not_start_on_a_revocation_file_it_cannot_read() {
    let key = new_key("k1");
    let issuer = TestIssuer::start(&[&key]).await;
    let file = TempFile::with_extension("revoked-bad", "txt");
    std::fs::write(&file.0, "sub:agent-1\nuser:bob\n").unwrap();
    let missing = file.0.with_extension("missing");
    for (path, said) in [
        (&file.0, "line 2: `user:` is none of"),
        (&missing, "the revocation file"),
    ] {
        common::refuses_to_start_with(
            &["--sandbox", "--rest", "127.0.0.1:0"],
            &[
                ("KLARNA_GATEWAY_OAUTH_ISSUER", issuer.url.as_str()),
                ("KLARNA_GATEWAY_OAUTH_REVOKED", path.to_str().unwrap()),
            ],
            said,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_static_token_still_opens_everything_beside_oauth() {
    let key = new_key("k1");
    let issuer = TestIssuer::start(&[&key]).await;
    let token = "correct-horse-battery-staple";
    let (addr, _sandbox, order_id, _stop) = rest_gateway(
        oauth(&issuer.issuer(Duration::ZERO), REST_RESOURCE),
        Some(token),
    )
    .await;
    let http = http_client();
    let captures = format!("http://{addr}/v1/ordermanagement/v1/orders/{order_id}/captures");
    let captured = send(
        http.post(&captures)
            .bearer_auth(token)
            .header(
                "Klarna-Idempotency-Key",
                "5b0b1c8e-4f1e-4b8e-9a33-0c9f3a1d2e03",
            )
            .json(&capture_body()),
    )
    .await;
    assert_eq!(captured.status, 201, "{}", captured.body);
    let wrong = send(http.get(&captures).bearer_auth("wrong")).await;
    assert_eq!(wrong.status, 401);
    assert!(!wrong.body.contains(token));

    // A non-loopback bind is served with OAuth alone.
    let remote = HttpOptions::new("0.0.0.0:8080".parse().unwrap(), None)
        .with_oauth(oauth(&issuer.issuer(Duration::ZERO), REST_RESOURCE));
    assert!(remote.check().is_ok());
    let open = HttpOptions::new("0.0.0.0:8080".parse().unwrap(), None);
    assert!(open.check().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_fetched_once_and_unknown_key_ids_are_rate_limited() {
    let old = new_key("2026-01");
    let new = new_key("2026-02");
    let issuer = TestIssuer::start(&[&old]).await;
    // No refetch for an unknown key id within an hour, but the first
    // fetch (discovery and keys) is free.
    let (addr, _sandbox, order_id, _stop) = rest_gateway(
        oauth(&issuer.issuer(Duration::from_secs(3600)), REST_RESOURCE),
        None,
    )
    .await;
    let http = http_client();
    let captures = format!("http://{addr}/v1/ordermanagement/v1/orders/{order_id}/captures");
    let with = |key: &Key| sign(key, &issuer.claims(REST_RESOURCE, READ));
    assert_eq!(
        send(http.get(&captures).bearer_auth(with(&old)))
            .await
            .status,
        200
    );
    assert_eq!(issuer.fetches(), 1);
    // The issuer rotates before the hour is up: a token of the new key is
    // refused (its key is not fetched again so soon)...
    issuer.publish(&[&old, &new]);
    assert_eq!(
        send(http.get(&captures).bearer_auth(with(&new)))
            .await
            .status,
        401
    );
    // ...and a flood of made-up key ids costs the issuer nothing more.
    for i in 0..5 {
        let made_up = with(&new_key(&format!("made-up-{i}")));
        assert_eq!(
            send(http.get(&captures).bearer_auth(made_up)).await.status,
            401
        );
    }
    assert_eq!(issuer.fetches(), 1);

    // With refetching allowed, the new key is fetched at its first token,
    // once, and a key the issuer withdrew stops working then.
    let issuer_view = issuer.issuer(Duration::ZERO);
    let (addr, _sandbox, order_id, _stop) =
        rest_gateway(oauth(&issuer_view, REST_RESOURCE), None).await;
    let captures = format!("http://{addr}/v1/ordermanagement/v1/orders/{order_id}/captures");
    issuer.publish(&[&old]);
    let before = issuer.fetches();
    assert_eq!(
        send(http.get(&captures).bearer_auth(with(&old)))
            .await
            .status,
        200
    );
    issuer.publish(&[&new]);
    for _ in 0..3 {
        assert_eq!(
            send(http.get(&captures).bearer_auth(with(&new)))
                .await
                .status,
            200
        );
    }
    assert_eq!(issuer.fetches(), before + 2, "one fetch per key set seen");
    // The old key's tokens are refused once the set without it is fetched.
    assert_eq!(
        send(http.get(&captures).bearer_auth(with(&old)))
            .await
            .status,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keys_fetched_before_serve_while_the_issuer_is_down() {
    let key = new_key("k1");
    let issuer = TestIssuer::start(&[&key]).await;
    // The JWKS URL configured (no discovery); the keys are stale at once,
    // so every request tries to fetch them again.
    let options = IssuerOptions {
        min_refresh: Duration::ZERO,
        max_age: Duration::ZERO,
        timeout: STEP,
        ..IssuerOptions::default()
    };
    let jwks = format!("{}/jwks", issuer.url);
    let view = Arc::new(Issuer::new(&issuer.url, Some(&jwks), options).unwrap());
    let (addr, _sandbox, order_id, _stop) = rest_gateway(oauth(&view, REST_RESOURCE), None).await;
    let http = http_client();
    let captures = format!("http://{addr}/v1/ordermanagement/v1/orders/{order_id}/captures");
    let token = sign(&key, &issuer.claims(REST_RESOURCE, READ));
    assert_eq!(
        send(http.get(&captures).bearer_auth(&token)).await.status,
        200
    );
    assert_eq!(issuer.fetches(), 1);
    issuer.down.store(true, Ordering::SeqCst);
    for _ in 0..2 {
        assert_eq!(
            send(http.get(&captures).bearer_auth(&token)).await.status,
            200
        );
    }
    assert_eq!(
        issuer.fetches(),
        3,
        "each request tried, and failed, to refresh"
    );
    // A key never fetched is still refused.
    let other = sign(&new_key("k2"), &issuer.claims(REST_RESOURCE, READ));
    assert_eq!(
        send(http.get(&captures).bearer_auth(&other)).await.status,
        401
    );
}

/// A JSON-RPC request to the MCP endpoint with `token`, in `session`.
fn rpc(
    http: &reqwest::Client,
    addr: SocketAddr,
    token: &str,
    session: Option<&str>,
    body: Value,
) -> reqwest::RequestBuilder {
    let mut request = http
        .post(format!("http://{addr}{}", http::MCP_PATH))
        .bearer_auth(token)
        .header("Accept", "application/json, text/event-stream")
        .json(&body);
    if let Some(session) = session {
        request = request
            .header("Mcp-Session-Id", session)
            .header("MCP-Protocol-Version", "2025-06-18");
    }
    request
}

fn initialize() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": "oauth-test", "version": "0" },
        },
    })
}

/// Opens an MCP session with `token`: its id.
async fn open_session(http: &reqwest::Client, addr: SocketAddr, token: &str) -> String {
    let opened = send(rpc(http, addr, token, None, initialize())).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    let session = opened.session.expect("a session id");
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let noted = send(rpc(http, addr, token, Some(&session), initialized)).await;
    assert_eq!(noted.status, 202, "{}", noted.body);
    session
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_lists_and_calls_only_what_the_scopes_cover() {
    let key = new_key("k1");
    let issuer = TestIssuer::start(&[&key]).await;
    let (addr, sandbox, order_id, _stop) =
        mcp_gateway(oauth(&issuer.issuer(Duration::ZERO), MCP_RESOURCE)).await;
    let http = http_client();

    let metadata = send(http.get(format!(
        "http://{addr}/.well-known/oauth-protected-resource/mcp"
    )))
    .await;
    assert_eq!(metadata.status, 200);
    assert_eq!(metadata.json()["resource"], MCP_RESOURCE);

    // Refused tokens, on the first request of a session.
    let anonymous = send(
        http.post(format!("http://{addr}/mcp"))
            .header("Accept", "application/json, text/event-stream")
            .json(&initialize()),
    )
    .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.www_authenticate,
        "Bearer resource_metadata=\"https://gateway.test/.well-known/oauth-protected-resource/mcp\""
    );
    let expired = {
        let mut claims = issuer.claims(MCP_RESOURCE, WRITE);
        claims["exp"] = json!(now() - 3600);
        sign(&key, &claims)
    };
    let other_issuer = {
        let mut claims = issuer.claims(MCP_RESOURCE, WRITE);
        claims["iss"] = json!("https://issuer.elsewhere.test");
        sign(&key, &claims)
    };
    for (token, why) in [
        (expired, "expired"),
        (
            sign(&key, &issuer.claims(REST_RESOURCE, WRITE)),
            "not for this resource",
        ),
        (other_issuer, "another issuer"),
        (
            sign(&new_key("k-unknown"), &issuer.claims(MCP_RESOURCE, WRITE)),
            "signing key is not among",
        ),
    ] {
        let answer = send(rpc(&http, addr, &token, None, initialize())).await;
        assert_eq!(answer.status, 401, "{why}");
        assert!(answer.www_authenticate.contains("error=\"invalid_token\""));
        assert!(
            answer.www_authenticate.contains(why),
            "{}",
            answer.www_authenticate
        );
    }

    // A read-only caller: rmcp's client lists the three read-only tools.
    let reader = sign(&key, &issuer.claims(MCP_RESOURCE, READ));
    let mut config = StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"));
    config.auth_header = Some(reader.clone());
    let client = tokio::time::timeout(
        STEP,
        ClientConfig::default().serve(StreamableHttpClientTransport::from_config(config)),
    )
    .await
    .expect("connects in time")
    .expect("connects");
    let mut names: Vec<String> = tokio::time::timeout(STEP, client.list_all_tools())
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "klarna-get-capture-details",
            "klarna-list-all-order-captures",
            "klarna-list-options-extension-payment",
        ]
    );
    let mut arguments = serde_json::Map::new();
    arguments.insert("order_id".into(), json!(order_id.to_string()));
    let listed = tokio::time::timeout(
        STEP,
        client.call_tool(
            CallToolRequestParams::new("klarna-list-all-order-captures").with_arguments(arguments),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert_ne!(listed.is_error, Some(true), "{listed:?}");
    client.cancel().await.unwrap();

    // A money call with the read scope: 403 naming the scope, and a
    // JSON-RPC error naming it too; nothing reaches the sandbox.
    let session = open_session(&http, addr, &reader).await;
    let call = capture_call(
        7,
        &order_id,
        "5b0b1c8e-4f1e-4b8e-9a33-0c9f3a1d2e04",
        capture_body(),
    );
    let refused = send(rpc(&http, addr, &reader, Some(&session), call.clone())).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.www_authenticate.starts_with(&format!(
            "Bearer error=\"insufficient_scope\", scope=\"{WRITE}\""
        )),
        "{}",
        refused.www_authenticate
    );
    let error = refused.json();
    assert_eq!(error["id"], 7);
    assert_eq!(error["error"]["data"]["required_scope"], WRITE);
    assert!(error["error"]["message"].as_str().unwrap().contains(WRITE));
    assert!(sandbox.requests().iter().all(|r| r.method != "POST"));

    // The same session is its subject's alone: another subject's valid
    // token cannot use it.
    let stranger = {
        let mut claims = issuer.claims(MCP_RESOURCE, WRITE);
        claims["sub"] = json!("agent-2");
        sign(&key, &claims)
    };
    let list = json!({ "jsonrpc": "2.0", "id": 8, "method": "tools/list" });
    let hijack = send(rpc(&http, addr, &stranger, Some(&session), list.clone())).await;
    assert_eq!(hijack.status, 404, "{}", hijack.body);

    // Tokens that name no subject own their sessions one by one: a second
    // such token cannot use the first one's.
    let anonymous = |jti: &str| {
        let mut claims = issuer.claims(MCP_RESOURCE, WRITE);
        claims.as_object_mut().unwrap().remove("sub");
        claims["jti"] = json!(jti);
        sign(&key, &claims)
    };
    let (first, second) = (anonymous("a-1"), anonymous("a-2"));
    let theirs = open_session(&http, addr, &first).await;
    let own = send(rpc(&http, addr, &first, Some(&theirs), list.clone())).await;
    assert_eq!(own.status, 200, "{}", own.body);
    let other = send(rpc(&http, addr, &second, Some(&theirs), list.clone())).await;
    assert_eq!(other.status, 404, "{}", other.body);

    // A writer, in a session of its own, captures.
    let writer = sign(&key, &issuer.claims(MCP_RESOURCE, WRITE));
    let session = open_session(&http, addr, &writer).await;
    let tools = send(rpc(&http, addr, &writer, Some(&session), list)).await;
    assert_eq!(tools.json()["result"]["tools"].as_array().unwrap().len(), 7);
    let captured = send(rpc(&http, addr, &writer, Some(&session), call)).await;
    assert_eq!(captured.status, 200, "{}", captured.body);
    let result = captured.json();
    assert_eq!(result["result"]["isError"], json!(false), "{result}");
    assert_eq!(result["result"]["structuredContent"]["status"], 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_takes_oauth_from_its_environment() {
    let key = new_key("k1");
    let issuer = TestIssuer::start(&[&key]).await;
    let mut spawned = common::spawn_gateway_with(
        &["--sandbox", "--rest", "127.0.0.1:0", "--mcp", "127.0.0.1:0"],
        &[
            ("KLARNA_GATEWAY_OAUTH_ISSUER", issuer.url.as_str()),
            ("KLARNA_GATEWAY_OAUTH_MCP_RESOURCE", MCP_RESOURCE),
            ("KLARNA_GATEWAY_OAUTH_REST_RESOURCE", REST_RESOURCE),
        ],
    )
    .await;
    let said = spawned.stderr.join("\n");
    assert!(said.contains("1 signing keys"), "{said}");
    assert!(said.contains("OAuth access token required"), "{said}");
    let order = said
        .split("seeded order ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .expect("the seeded order's id");
    let (rest, mcp) = (spawned.rest.unwrap(), spawned.mcp.unwrap());
    let http = http_client();
    let captures = format!("http://{rest}/v1/ordermanagement/v1/orders/{order}/captures");
    let anonymous = send(http.get(&captures)).await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous
        .www_authenticate
        .contains("/.well-known/oauth-protected-resource/v1"));
    let reader = sign(&key, &issuer.claims(REST_RESOURCE, READ));
    let listed = send(http.get(&captures).bearer_auth(&reader)).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let metadata = send(http.get(format!(
        "http://{mcp}/.well-known/oauth-protected-resource/mcp"
    )))
    .await;
    assert_eq!(metadata.json()["resource"], MCP_RESOURCE);
    let opened = send(rpc(
        &http,
        mcp,
        &sign(&key, &issuer.claims(MCP_RESOURCE, READ)),
        None,
        initialize(),
    ))
    .await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    spawned.child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_needs_the_resource_url_of_a_non_loopback_bind() {
    let key = new_key("k1");
    let issuer = TestIssuer::start(&[&key]).await;
    common::refuses_to_start_with(
        &["--sandbox", "--rest", "0.0.0.0:0"],
        &[("KLARNA_GATEWAY_OAUTH_ISSUER", issuer.url.as_str())],
        "KLARNA_GATEWAY_OAUTH_REST_RESOURCE",
    )
    .await;
}
