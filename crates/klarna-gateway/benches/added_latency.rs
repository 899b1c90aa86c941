//! The added latency of each way through the gateway, from one run:
//! `klarna-get-capture-details` (`GET .../captures/{capture-id}`) made
//!
//! - directly with the generated client (the baseline);
//! - with the generated client through a bare loopback pass-through proxy,
//!   which forwards the request and the answer and does nothing else: the
//!   floor for one extra HTTP hop;
//! - through the REST adapter (reqwest over keep-alive loopback HTTP);
//! - through the MCP adapter, as an MCP client before 2026-07-28 reaches
//!   it (rmcp's client with the `initialize` handshake: a session, and each
//!   result as a one-event SSE stream);
//! - through the MCP adapter, as a 2026-07-28 client reaches it (rmcp's
//!   client with `server/discover`: no session, each result one JSON body);
//! - through the MCP adapter from a plain HTTP client: one 2026-07-28
//!   `tools/call` POST (its metadata in `_meta`) and one JSON answer, the
//!   least any MCP client can do. Against the line above it tells the
//!   gateway's share of the MCP time from rmcp's client's;
//! - the same POST to an MCP adapter without the gateway's fast path for
//!   such calls (`HttpOptions::mcp_fast_path` off): through rmcp's
//!   streamable HTTP service, as before the fast path;
//!
//! all to one sandbox. The seven calls alternate, so drift in the machine's
//! load hits each alike. Prints the median and p99 of each and what each
//! adds to the direct call.
//!
//! `cargo bench -p klarna-gateway --bench added_latency`

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use klarna_gateway::http::{self, HttpOptions};
use klarna_gateway::rest::{self, RestGateway};
use klarna_gateway::server;
use klarna_gateway::upstream::{self, Target};
use klarna_gateway::{McpGateway, Policy, Surface};
use klarna_ordermanagement::models::CaptureObject;
use klarna_ordermanagement::{Captures, OrderId};
use klarna_runtime::Credentials;
use klarna_sandbox::{physical_line, NewOrder, Sandbox};
use rmcp::model::{CallToolRequestParams, ClientConfig, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::json;

const CALLS: usize = 1000;
const WARM_UP: usize = 50;

/// The bare proxy's state: where it forwards to, and its client.
#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
}

/// Forwards the request as it came (method, path, headers, body) and
/// answers with the upstream's status, headers and body.
async fn pass_through(State(proxy): State<Proxy>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.headers.remove(axum::http::header::HOST);
    let answer = proxy
        .http
        .request(parts.method, format!("{}{path}", proxy.upstream))
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response.into_response()
}

/// Serves `router` on 127.0.0.1:0 for the rest of the process; its address.
async fn serve(router: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve(listener, router, std::future::pending()));
    addr
}

fn line(label: &str, samples: &mut [Duration], direct: (Duration, Duration)) {
    let (median, p99) = common::median_and_p99(samples);
    println!(
        "{label:<16} median {median:>10.3?}, p99 {p99:>10.3?}; added: median {:>10.3?}, p99 {:>10.3?}; \
         ratio median {:.2}",
        median.saturating_sub(direct.0),
        p99.saturating_sub(direct.1),
        median.as_secs_f64() / direct.0.as_secs_f64(),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sandbox = Sandbox::start().unwrap();
    let order_id = sandbox.add_order(NewOrder::with_lines(
        "EUR",
        vec![physical_line("A12345", "T-shirt", 3000)],
    ));
    let credentials = || Credentials::basic("merchant", "password");
    let upstream_of =
        |url: &str| upstream::upstream(&Target::Url(url.to_owned()), credentials(), None).unwrap();
    let upstream = upstream_of(sandbox.base_url());
    let direct = upstream.ordermanagement.clone();
    let order = OrderId::new(order_id.as_str());
    let capture = direct
        .capture_order(&order, &CaptureObject::new(3000))
        .await
        .unwrap()
        .into_inner()
        .capture_id;

    // The bare proxy, and the generated client calling through it.
    let proxy = Proxy {
        upstream: sandbox.base_url().trim_end_matches('/').to_owned(),
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    };
    let proxy_addr = serve(axum::Router::new().fallback(pass_through).with_state(proxy)).await;
    let proxied = upstream_of(&format!("http://{proxy_addr}")).ordermanagement;

    // The REST adapter.
    let options = HttpOptions::new("127.0.0.1:0".parse().unwrap(), None);
    let tools = Surface::default().tools().unwrap();
    let rest_gateway =
        RestGateway::with_policy(upstream.clone(), tools.clone(), Policy::unattended());
    let rest_addr = serve(rest::rest_router(rest_gateway, &options)).await;
    let rest_url = format!(
        "http://{rest_addr}/v1/ordermanagement/v1/orders/{order_id}/captures/{}",
        capture.as_str()
    );
    let rest_client = reqwest::Client::builder().no_proxy().build().unwrap();

    // The MCP adapter.
    let mcp_gateway =
        McpGateway::with_policy(upstream.clone(), tools.clone(), Policy::unattended()).unwrap();
    let mcp_addr = serve(http::mcp_router(mcp_gateway, &options)).await;
    // And one that leaves every call to rmcp.
    let rmcp_gateway = McpGateway::with_policy(upstream, tools, Policy::unattended()).unwrap();
    let mut rmcp_options = HttpOptions::new("127.0.0.1:0".parse().unwrap(), None);
    rmcp_options.mcp_fast_path = false;
    let rmcp_addr = serve(http::mcp_router(rmcp_gateway, &rmcp_options)).await;
    let mcp = ClientConfig::default()
        .serve(StreamableHttpClientTransport::from_uri(format!(
            "http://{mcp_addr}{}",
            http::MCP_PATH
        )))
        .await
        .unwrap();
    let modern = ClientConfig::default()
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_uri(format!("http://{mcp_addr}{}", http::MCP_PATH)),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    let arguments = json!({ "order_id": order_id, "capture_id": capture.as_str() });
    // The plain client's request: what a 2026-07-28 client sends, headers
    // included (`Mcp-Method` and `Mcp-Name` must match the body).
    let plain_body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": "klarna-get-capture-details",
            "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": { "name": "bench", "version": "0" },
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    })
    .to_string();
    let plain = |addr: std::net::SocketAddr| {
        rest_client
            .post(format!("http://{addr}{}", http::MCP_PATH))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2026-07-28")
            .header("Mcp-Method", "tools/call")
            .header("Mcp-Name", "klarna-get-capture-details")
            .body(plain_body.clone())
    };
    let arguments = arguments.as_object().unwrap().clone();

    let mut samples: [Vec<Duration>; 7] = Default::default();
    for i in 0..CALLS + WARM_UP {
        let start = Instant::now();
        direct.get_capture(&order, &capture).await.unwrap();
        let via_direct = start.elapsed();

        let start = Instant::now();
        proxied.get_capture(&order, &capture).await.unwrap();
        let via_proxy = start.elapsed();

        let start = Instant::now();
        let response = rest_client.get(&rest_url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
        let via_rest = start.elapsed();

        let start = Instant::now();
        let result = mcp
            .call_tool(
                CallToolRequestParams::new("klarna-get-capture-details")
                    .with_arguments(arguments.clone()),
            )
            .await
            .unwrap();
        let via_mcp = start.elapsed();
        assert_eq!(result.is_error, Some(false));

        let start = Instant::now();
        let result = modern
            .call_tool(
                CallToolRequestParams::new("klarna-get-capture-details")
                    .with_arguments(arguments.clone()),
            )
            .await
            .unwrap();
        let via_modern = start.elapsed();
        assert_eq!(result.is_error, Some(false));

        let mut plain_ways = [mcp_addr, rmcp_addr].map(|_| Duration::ZERO);
        for (addr, elapsed) in [mcp_addr, rmcp_addr].iter().zip(&mut plain_ways) {
            let start = Instant::now();
            let response = plain(*addr).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let answer = response.bytes().await.unwrap();
            *elapsed = start.elapsed();
            assert!(answer.starts_with(b"{\"jsonrpc\""), "one JSON answer");
        }
        let [via_plain, via_rmcp] = plain_ways;

        // The first calls warm connections and caches.
        if i >= WARM_UP {
            for (kept, sample) in samples.iter_mut().zip([
                via_direct, via_proxy, via_rest, via_mcp, via_modern, via_plain, via_rmcp,
            ]) {
                kept.push(sample);
            }
        }
    }
    let [mut direct_samples, mut proxy_samples, mut rest_samples, mut mcp_samples, mut modern_samples, mut plain_samples, mut rmcp_samples] =
        samples;
    let baseline = common::median_and_p99(&mut direct_samples);
    println!("{CALLS} rounds of get_capture against one sandbox, the seven ways alternating");
    println!(
        "{:<16} median {:>10.3?}, p99 {:>10.3?}",
        "direct", baseline.0, baseline.1
    );
    line("bare proxy", &mut proxy_samples, baseline);
    line("REST adapter", &mut rest_samples, baseline);
    line("MCP, session", &mut mcp_samples, baseline);
    line("MCP, 2026-07-28", &mut modern_samples, baseline);
    line("MCP, plain POST", &mut plain_samples, baseline);
    line("  same, via rmcp", &mut rmcp_samples, baseline);
    mcp.cancel().await.unwrap();
    modern.cancel().await.unwrap();
}
