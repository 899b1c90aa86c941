//! Per-call cost of the generated client: `Orders::get_order` through
//! `klarna_ordermanagement::Client`, against a hand-written `reqwest` + `serde_json`
//! call that sends the same request (the server checks the headers match)
//! and decodes the same body into the same type, both against one loopback
//! server in one run.
//!
//! The server keeps connections alive and answers from a prepared buffer,
//! so that what is measured is the client, not connection set-up or the
//! server. After criterion's two measurements, `cargo bench` also runs the
//! two calls in alternation and prints the ratio of their medians, which
//! the machine's other work skews less than two separate measurements.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::Criterion;
use klarna_models::ordermanagement::MerchantOrderDto;
use klarna_ordermanagement::{Client, Config, Credentials, OrderId, Orders};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION};
use std::future::IntoFuture;
use std::hint::black_box;

mod support;

/// A typical order rather than the large one: the smaller the body, the
/// more of the call is the client's own work.
const LINES: usize = 5;
const ORDER_ID: &str = "f3392f8b-6116-4073-ab96-e330819e2c07";
const USERNAME: &str = "PK0001";
const PASSWORD: &str = "bench-password";
/// `PK0001:bench-password` in Base64.
const BASIC: &str = "Basic UEswMDAxOmJlbmNoLXBhc3N3b3Jk";
/// The runtime's user agent; this crate shares the workspace's version.
const USER_AGENT: &str = concat!("klarna-rust-sdk/", env!("CARGO_PKG_VERSION"));

const PAIRS: usize = 20_000;

/// An HTTP/1.1 server on 127.0.0.1 that answers every request on a
/// connection with `response`, and keeps the head of each connection's first
/// request.
struct Server {
    base_url: String,
    first_heads: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(response: Vec<u8>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let first_heads = Arc::new(Mutex::new(Vec::new()));
        let heads = Arc::clone(&first_heads);
        let response = Arc::new(response);
        // The thread lives as long as the bench process.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let stream = stream.expect("accept");
                let (heads, response) = (Arc::clone(&heads), Arc::clone(&response));
                std::thread::spawn(move || serve(stream, &heads, &response));
            }
        });
        Server {
            base_url,
            first_heads,
        }
    }
}

/// Answers requests until the client closes the connection. The benched
/// requests are GETs without a body, so the head is the whole request.
fn serve(stream: TcpStream, heads: &Mutex<Vec<String>>, response: &[u8]) {
    stream.set_nodelay(true).expect("nodelay");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut first = true;
    let mut head = String::new();
    loop {
        head.clear();
        loop {
            let before = head.len();
            match reader.read_line(&mut head) {
                Ok(0) | Err(_) => return,
                Ok(_) if head[before..] == *"\r\n" => break,
                Ok(_) => {}
            }
        }
        if first {
            heads.lock().expect("lock").push(head.clone());
            first = false;
        }
        if writer.write_all(response).is_err() {
            return;
        }
    }
}

/// The request line and headers of a request head, sorted, without the
/// `host` header, whose port is the only thing two clients may differ in.
fn header_lines(head: &str) -> Vec<String> {
    let mut lines: Vec<String> = head
        .lines()
        .filter(|line| !line.is_empty() && !line.to_ascii_lowercase().starts_with("host:"))
        .map(str::to_ascii_lowercase)
        .collect();
    lines.sort();
    lines
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    generated: Client,
    order_id: OrderId,
    hand_written: HandWritten,
}

/// The call as one would write it with reqwest alone: same headers, same
/// user agent and connect timeout, the body decoded into the same type.
struct HandWritten {
    http: reqwest::Client,
    url: String,
    authorization: HeaderValue,
}

impl HandWritten {
    async fn get_order(&self) -> MerchantOrderDto {
        let response = self
            .http
            .get(&self.url)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
        let body = response.bytes().await.expect("read");
        serde_json::from_slice(&body).expect("decodes")
    }
}

impl Fixture {
    fn start() -> Fixture {
        let body = serde_json::to_vec(&support::order(LINES)).expect("encodes");
        let mut response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        response.extend_from_slice(&body);
        let server = Server::start(response);

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let config =
            Config::with_base_url(&server.base_url, Credentials::basic(USERNAME, PASSWORD));
        let generated = Client::from_config(config).expect("client");
        // The runtime's reqwest has no crypto provider of its own; this is
        // what `Client::new` did above, spelled out for the second client.
        klarna_runtime::install_crypto_provider();
        let mut authorization = HeaderValue::from_static(BASIC);
        authorization.set_sensitive(true);
        let hand_written = HandWritten {
            http: reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .connect_timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
            url: format!("{}/ordermanagement/v1/orders/{ORDER_ID}", server.base_url),
            authorization,
        };
        let fixture = Fixture {
            runtime,
            generated,
            order_id: OrderId::new(ORDER_ID),
            hand_written,
        };

        let ours = fixture.generated_call();
        let theirs = fixture.hand_written_call();
        assert_eq!(ours, theirs, "both calls decode the same order");
        let heads = server.first_heads.lock().expect("lock").clone();
        assert_eq!(heads.len(), 2, "each client keeps one connection");
        assert_eq!(
            header_lines(&heads[0]),
            header_lines(&heads[1]),
            "both calls send the same request"
        );
        fixture
    }

    fn generated_call(&self) -> MerchantOrderDto {
        self.runtime
            .block_on(
                self.generated
                    .get_order(black_box(&self.order_id))
                    .into_future(),
            )
            .expect("the order")
            .into_inner()
    }

    fn hand_written_call(&self) -> MerchantOrderDto {
        self.runtime.block_on(self.hand_written.get_order())
    }
}

fn bench(c: &mut Criterion, fixture: &Fixture) {
    let mut group = c.benchmark_group("get_order");
    group.bench_function("generated", |b| b.iter(|| fixture.generated_call()));
    group.bench_function("hand_written", |b| b.iter(|| fixture.hand_written_call()));
    group.finish();
}

/// The two calls one after the other, each timed on its own, many times:
/// the median call of each. A call is a loopback round trip whose time
/// varies with how fast the scheduler wakes the threads; medians of single
/// calls, taken in alternation, are what that disturbs least.
fn interleaved(fixture: &Fixture) {
    let time = |call: &dyn Fn() -> MerchantOrderDto| {
        let start = Instant::now();
        black_box(call());
        start.elapsed().as_secs_f64()
    };
    let (mut ours, mut theirs) = (Vec::with_capacity(PAIRS), Vec::with_capacity(PAIRS));
    for i in 0..PAIRS {
        // Each goes first in every other pair, so neither always follows
        // the other's warm caches.
        if i.is_multiple_of(2) {
            ours.push(time(&|| fixture.generated_call()));
            theirs.push(time(&|| fixture.hand_written_call()));
        } else {
            theirs.push(time(&|| fixture.hand_written_call()));
            ours.push(time(&|| fixture.generated_call()));
        }
    }
    let (ours, theirs) = (median(&mut ours), median(&mut theirs));
    println!(
        "get_order alternating ({PAIRS} calls each, median call): generated {:.1} µs, \
         hand-written {:.1} µs, ratio generated/hand-written {:.3}",
        ours * 1e6,
        theirs * 1e6,
        ours / theirs
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let fixture = Fixture::start();
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion, &fixture);
    criterion.final_summary();
    // Only in a measuring run: `cargo bench -- --test` and `cargo test
    // --benches` run each bench once as a smoke test.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test") {
        interleaved(&fixture);
    }
}
