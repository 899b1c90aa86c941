//! What a human's confirmation costs the machine: a money call
//! (`klarna-capture-order`) through a gateway that asks the user first
//! (protocol 2026-07-28: `input_required`, answered at once by the bench's
//! client, then the call again; plus the read of the order for the
//! question) against the same call through a gateway with `--no-confirm`.
//! Both over rmcp's client and streamable HTTP to one sandbox; calls
//! alternate so drift in the machine's load hits both alike. The user's
//! own time to answer is not in it.

mod common;

use std::time::Instant;

use klarna_gateway::http::{self, HttpOptions};
use klarna_gateway::server;
use klarna_gateway::upstream::{self, Target};
use klarna_gateway::{McpGateway, Policy, Surface};
use klarna_runtime::Credentials;
use klarna_sandbox::{NewOrder, Sandbox};
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, Implementation,
};
use rmcp::service::{RequestContext, RoleClient};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, ErrorData, ServiceExt};
use serde_json::json;

const CALLS: usize = 300;
const WARM_UP: usize = 20;
/// Captures per order, so neither side reads a long list of captures.
const PER_ORDER: usize = 25;

/// A user who confirms at once.
#[derive(Clone)]
struct Yes(ClientConfig);

impl ClientHandler for Yes {
    fn get_info(&self) -> ClientConfig {
        self.0.clone()
    }

    async fn create_elicitation(
        &self,
        _request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        Ok(ElicitResult::new(ElicitationAction::Accept).with_content(json!({})))
    }
}

async fn serve(gateway: McpGateway) -> String {
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
    url
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sandbox = Sandbox::start().unwrap();
    let upstream = upstream::upstream(
        &Target::Url(sandbox.base_url().to_owned()),
        Credentials::basic("merchant", "password"),
        None,
    )
    .unwrap();
    let tools = Surface::default().tools().unwrap();
    let confirming =
        McpGateway::with_policy(upstream.clone(), tools.clone(), Policy::default()).unwrap();
    let unattended = McpGateway::with_policy(upstream, tools, Policy::unattended()).unwrap();
    let config = ClientConfig::new(
        ClientCapabilities::builder().enable_elicitation().build(),
        Implementation::new("confirmation-bench", "0"),
    );
    let asked = Yes(config.clone())
        .serve(StreamableHttpClientTransport::from_uri(
            serve(confirming).await,
        ))
        .await
        .unwrap();
    let not_asked = Yes(config)
        .serve(StreamableHttpClientTransport::from_uri(
            serve(unattended).await,
        ))
        .await
        .unwrap();

    let orders: Vec<klarna_ordermanagement::OrderId> = (0..(CALLS + WARM_UP) * 2 / PER_ORDER + 2)
        .map(|_| sandbox.add_order(NewOrder::new(1_000_000, "EUR")))
        .collect();
    let capture = |i: usize, side: usize| {
        let order = &orders[(2 * i + side) / PER_ORDER];
        let arguments = json!({
            "order_id": order,
            "body": { "captured_amount": 100 },
            "idempotency_key": format!("00000000-0000-4000-8000-{side}{i:011}"),
        });
        CallToolRequestParams::new("klarna-capture-order")
            .with_arguments(arguments.as_object().unwrap().clone())
    };

    let mut confirmed = Vec::with_capacity(CALLS);
    let mut unconfirmed = Vec::with_capacity(CALLS);
    for i in 0..CALLS + WARM_UP {
        let start = Instant::now();
        let result = asked.call_tool(capture(i, 0)).await.unwrap();
        let with = start.elapsed();
        assert_eq!(result.is_error, Some(false), "{result:?}");
        let start = Instant::now();
        let result = not_asked.call_tool(capture(i, 1)).await.unwrap();
        let without = start.elapsed();
        assert_eq!(result.is_error, Some(false), "{result:?}");
        if i >= WARM_UP {
            confirmed.push(with);
            unconfirmed.push(without);
        }
    }
    let (u50, u99) = common::median_and_p99(&mut unconfirmed);
    let (c50, c99) = common::median_and_p99(&mut confirmed);
    println!("{CALLS} alternating captures through MCP against one sandbox");
    println!("--no-confirm:        median {u50:?}, p99 {u99:?}");
    println!("confirmed (at once): median {c50:?}, p99 {c99:?}");
    println!(
        "added by confirmation: median {:?}, p99 {:?}",
        c50.saturating_sub(u50),
        c99.saturating_sub(u99)
    );
    asked.cancel().await.unwrap();
    not_asked.cancel().await.unwrap();
}
