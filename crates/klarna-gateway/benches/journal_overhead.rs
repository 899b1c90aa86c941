//! The journal's cost per money call: `POST .../captures` (a new key each
//! time) through two REST gateways on one sandbox, one with the journal
//! (an SQLite file in the temporary directory: WAL, `synchronous=FULL`,
//! so two fsyncs per call) and one without.
//!
//! 1. Latency: calls alternate between the two, so drift in the machine's
//!    load hits both alike; prints the median and p99 of each and the
//!    added latency.
//! 2. Throughput: 32 callers at once, each on its own keep-alive
//!    connection, a fixed number of calls each, with the journal on and
//!    off: concurrent calls share a commit (one fsync for all the jobs
//!    waiting), so the cost per call falls under load.
//!
//! `cargo bench -p klarna-gateway --bench journal_overhead`

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use klarna_gateway::http::HttpOptions;
use klarna_gateway::journal::{Journal, JournalOptions};
use klarna_gateway::rest::{self, RestGateway};
use klarna_gateway::server;
use klarna_gateway::upstream::{self, Target};
use klarna_gateway::Surface;
use klarna_runtime::Credentials;
use klarna_sandbox::{NewOrder, Sandbox};

const CALLS: usize = 1000;
const WARM_UP: usize = 50;
const CALLERS: usize = 32;
const CALLS_PER_CALLER: usize = 50;

/// The sandbox takes at most 1000 captures an order.
const CAPTURES_PER_ORDER: usize = 900;
const ORDERS_PER_SIDE: usize = 4;

/// One gateway and the orders its captures go to, a new one every
/// [`CAPTURES_PER_ORDER`].
struct Side {
    urls: Vec<String>,
    sent: AtomicUsize,
}

impl Side {
    fn url(&self) -> &str {
        let n = self.sent.fetch_add(1, Ordering::Relaxed);
        &self.urls[(n / CAPTURES_PER_ORDER).min(self.urls.len() - 1)]
    }
}

/// Serves `gateway` on loopback, with orders of its own at the sandbox.
async fn serve(gateway: RestGateway, sandbox: &Sandbox) -> Arc<Side> {
    let options = HttpOptions::new("127.0.0.1:0".parse().unwrap(), None);
    let listener = tokio::net::TcpListener::bind(options.bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let urls = (0..ORDERS_PER_SIDE)
        .map(|_| {
            let order = sandbox.add_order(NewOrder::new(100_000_000, "EUR"));
            format!("http://{addr}/v1/ordermanagement/v1/orders/{order}/captures")
        })
        .collect();
    tokio::spawn(server::serve(
        listener,
        rest::rest_router(gateway, &options),
        std::future::pending(),
    ));
    Arc::new(Side {
        urls,
        sent: AtomicUsize::new(0),
    })
}

static KEYS: AtomicUsize = AtomicUsize::new(0);

/// One capture of one minor unit with a new key; its time.
async fn capture(http: &reqwest::Client, side: &Side) -> Duration {
    let key = format!("bench-{}", KEYS.fetch_add(1, Ordering::Relaxed));
    let start = Instant::now();
    let response = http
        .post(side.url())
        .header("Content-Type", "application/json")
        .header("Klarna-Idempotency-Key", key)
        .body(r#"{"captured_amount": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.bytes().await.unwrap();
    start.elapsed()
}

async fn throughput(side: &Arc<Side>) -> f64 {
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CALLERS {
        let (http, side) = (client(), side.clone());
        tasks.spawn(async move {
            for _ in 0..CALLS_PER_CALLER {
                capture(&http, &side).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    (CALLERS * CALLS_PER_CALLER) as f64 / start.elapsed().as_secs_f64()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sandbox = Sandbox::start().unwrap();
    let target = Target::Url(sandbox.base_url().to_owned());
    let upstream =
        upstream::upstream(&target, Credentials::basic("merchant", "password"), None).unwrap();
    let path = std::env::temp_dir().join(format!(
        "klarna-gateway-bench-journal-{}.sqlite",
        std::process::id()
    ));
    let journal = Journal::open(&path, JournalOptions::default()).unwrap();
    let tools = Surface::default().tools().unwrap();
    let plain = serve(RestGateway::new(upstream.clone(), tools.clone()), &sandbox).await;
    let journaled = serve(
        RestGateway::new(upstream, tools).with_journal(journal.clone(), "loopback"),
        &sandbox,
    )
    .await;

    let http = client();
    let mut without = Vec::with_capacity(CALLS);
    let mut with = Vec::with_capacity(CALLS);
    for i in 0..CALLS + WARM_UP {
        let off = capture(&http, &plain).await;
        let on = capture(&http, &journaled).await;
        if i >= WARM_UP {
            without.push(off);
            with.push(on);
        }
    }
    let (off50, off99) = common::median_and_p99(&mut without);
    let (on50, on99) = common::median_and_p99(&mut with);
    println!("{CALLS} alternating captures (a new key each) through REST, one sandbox");
    println!("journal off: median {off50:?}, p99 {off99:?}");
    println!("journal on:  median {on50:?}, p99 {on99:?}");
    println!(
        "added by the journal: median {:?}, p99 {:?}",
        on50.saturating_sub(off50),
        on99.saturating_sub(off99)
    );

    let off_rate = throughput(&plain).await;
    let on_rate = throughput(&journaled).await;
    let stats = journal.stats().await.unwrap();
    println!(
        "{CALLERS} concurrent callers, {CALLS_PER_CALLER} captures each: journal off \
         {off_rate:.0} calls/s, on {on_rate:.0} calls/s (ratio {:.2}); journal {} records, \
         {} KiB",
        on_rate / off_rate,
        stats.records,
        stats.file_bytes / 1024
    );
    journal.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}
