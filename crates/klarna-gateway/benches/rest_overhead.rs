//! The REST adapter's cost: `GET .../captures/{capture-id}` through the
//! gateway (reqwest over keep-alive loopback HTTP) against the same call
//! made directly with the generated client, both to one sandbox.
//!
//! 1. Latency: calls alternate, so drift in the machine's load hits both
//!    alike; prints the median and p99 of each and their ratios.
//! 2. Throughput: 32 callers at once, each on its own keep-alive
//!    connection, a fixed number of calls each; prints calls per second of
//!    each and their ratio.
//!
//! `cargo bench -p klarna-gateway --bench rest_overhead`

mod common;

use std::sync::Arc;
use std::time::Instant;

use klarna_gateway::http::HttpOptions;
use klarna_gateway::rest::{self, RestGateway};
use klarna_gateway::server;
use klarna_gateway::upstream::{self, Target};
use klarna_gateway::Surface;
use klarna_ordermanagement::models::CaptureObject;
use klarna_ordermanagement::{CaptureId, Captures, OrderId};
use klarna_runtime::Credentials;
use klarna_sandbox::{physical_line, NewOrder, Sandbox};

const CALLS: usize = 1000;
const WARM_UP: usize = 50;
const CALLERS: usize = 32;
const CALLS_PER_CALLER: usize = 100;

/// One caller's way of reading the capture.
#[derive(Clone)]
enum Caller {
    Direct(klarna_ordermanagement::Client),
    Rest(reqwest::Client, Arc<str>),
}

impl Caller {
    async fn call(&self, order: &OrderId, capture: &CaptureId) {
        match self {
            Caller::Direct(client) => {
                client.get_capture(order, capture).await.unwrap();
            }
            Caller::Rest(client, url) => {
                let response = client.get(&**url).send().await.unwrap();
                assert_eq!(response.status(), 200);
                response.bytes().await.unwrap();
            }
        }
    }
}

/// Calls per second of `CALLERS` callers at once, `CALLS_PER_CALLER` each.
async fn throughput(callers: Vec<Caller>, order: &OrderId, capture: &CaptureId) -> f64 {
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for caller in callers {
        let (order, capture) = (order.clone(), capture.clone());
        tasks.spawn(async move {
            for _ in 0..CALLS_PER_CALLER {
                caller.call(&order, &capture).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    (CALLERS * CALLS_PER_CALLER) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sandbox = Sandbox::start().unwrap();
    let order_id = sandbox.add_order(NewOrder::with_lines(
        "EUR",
        vec![physical_line("A12345", "T-shirt", 3000)],
    ));
    let credentials = || Credentials::basic("merchant", "password");
    let target = Target::Url(sandbox.base_url().to_owned());
    let upstream = upstream::upstream(&target, credentials(), None).unwrap();
    let direct = upstream.ordermanagement.clone();
    let order = OrderId::new(order_id.as_str());
    let capture = direct
        .capture_order(&order, &CaptureObject::new(3000))
        .await
        .unwrap()
        .into_inner()
        .capture_id;

    let gateway = RestGateway::new(upstream, Surface::default().tools().unwrap());
    let options = HttpOptions::new("127.0.0.1:0".parse().unwrap(), None);
    let listener = tokio::net::TcpListener::bind(options.bind).await.unwrap();
    let url: Arc<str> = format!(
        "http://{}/v1/ordermanagement/v1/orders/{order_id}/captures/{}",
        listener.local_addr().unwrap(),
        capture.as_str()
    )
    .into();
    tokio::spawn(server::serve(
        listener,
        rest::rest_router(gateway, &options),
        std::future::pending(),
    ));
    let rest = Caller::Rest(
        reqwest::Client::builder().no_proxy().build().unwrap(),
        url.clone(),
    );
    let plain = Caller::Direct(direct);

    let mut through_rest = Vec::with_capacity(CALLS);
    let mut direct_calls = Vec::with_capacity(CALLS);
    for i in 0..CALLS + WARM_UP {
        let start = Instant::now();
        rest.call(&order, &capture).await;
        let via_rest = start.elapsed();
        let start = Instant::now();
        plain.call(&order, &capture).await;
        let via_client = start.elapsed();
        // The first calls warm connections and caches.
        if i >= WARM_UP {
            through_rest.push(via_rest);
            direct_calls.push(via_client);
        }
    }
    common::report(CALLS, "REST", &mut direct_calls, &mut through_rest);

    // Each REST caller its own client, so each keeps its own connection
    // alive; the direct callers share one pool, as an application would.
    let rest_callers = (0..CALLERS)
        .map(|_| {
            Caller::Rest(
                reqwest::Client::builder().no_proxy().build().unwrap(),
                url.clone(),
            )
        })
        .collect();
    let direct_callers = (0..CALLERS).map(|_| plain.clone()).collect();
    let direct_rate = throughput(direct_callers, &order, &capture).await;
    let rest_rate = throughput(rest_callers, &order, &capture).await;
    println!(
        "{CALLERS} concurrent keep-alive callers, {CALLS_PER_CALLER} calls each: \
         direct {direct_rate:.0} calls/s, through REST {rest_rate:.0} calls/s, \
         ratio (REST / direct) {:.2}",
        rest_rate / direct_rate
    );
}
