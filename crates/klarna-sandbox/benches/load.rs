//! `cargo bench -p klarna-sandbox --bench load`: the load figures of
//! BENCHMARKS.md, measured over loopback with plain sockets (so the figures
//! are the server's, not a client library's).
//!
//! 1. Keep-alive clients: `CLIENTS` threads, each on one persistent
//!    connection and its own order, capture 1 minor unit then read the
//!    order, `ROUNDS` times. Prints requests per second, p50 and p99
//!    latency, and errors (a status other than the expected one, or a
//!    connection that broke).
//! 2. A burst: `BURST` connections opened at once, each sending one
//!    request, then all read. Prints how many got `200`, how many `503`
//!    with `Retry-After`, and how many were closed without an answer.
//!
//! Not a timed test: nothing here fails on speed; it fails only when the
//! sandbox cannot be started.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use klarna_sandbox::{NewOrder, Sandbox};

const CLIENTS: usize = 100;
const ROUNDS: usize = 100;
const BURST: usize = 1000;
const AUTH: &str = "Authorization: Basic dXNlcjpwYXNz\r\n";
/// Bounds every read, so a server that stops answering ends the bench.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

struct Answer {
    status: u16,
    retry_after: bool,
}

/// Reads one response; `None` when the connection closed or broke first.
fn read_answer(reader: &mut BufReader<TcpStream>) -> Option<Answer> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let status = line.split(' ').nth(1)?.parse().ok()?;
    let (mut length, mut retry_after) = (0usize, false);
    for _ in 0..100 {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().ok()?;
        }
        retry_after |= name.eq_ignore_ascii_case("retry-after");
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Answer {
        status,
        retry_after,
    })
}

fn connect(addr: &str) -> std::io::Result<(BufReader<TcpStream>, TcpStream)> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok((BufReader::new(stream.try_clone()?), stream))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// One client's loop: latencies of the answered requests, and errors.
fn client(addr: &str, order_id: &str, client: usize, start: &Barrier) -> (Vec<Duration>, usize) {
    let capture_body = r#"{"captured_amount":1}"#;
    let path = format!("/ordermanagement/v1/orders/{order_id}");
    let mut latencies = Vec::with_capacity(ROUNDS * 2);
    let mut errors = 0;
    let mut connection = connect(addr).ok();
    start.wait();
    for round in 0..ROUNDS {
        let capture = format!(
            "POST {path}/captures HTTP/1.1\r\nHost: sandbox\r\n{AUTH}Klarna-Idempotency-Key: c{client}-{round}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{capture_body}",
            capture_body.len()
        );
        let read = format!("GET {path} HTTP/1.1\r\nHost: sandbox\r\n{AUTH}\r\n");
        for (request, expected) in [(capture, 201), (read, 200)] {
            // A broken connection is an error; the next request opens a
            // new one (at most once per request, so the loop is bounded).
            if connection.is_none() {
                connection = connect(addr).ok();
            }
            let Some((reader, writer)) = connection.as_mut() else {
                errors += 1;
                continue;
            };
            let sent = Instant::now();
            let answer = writer
                .write_all(request.as_bytes())
                .ok()
                .and_then(|()| read_answer(reader));
            match answer {
                Some(answer) if answer.status == expected => latencies.push(sent.elapsed()),
                Some(_) => errors += 1,
                None => {
                    errors += 1;
                    connection = None;
                }
            }
        }
    }
    (latencies, errors)
}

fn keep_alive_clients() {
    let sandbox = Sandbox::start().expect("a sandbox");
    let addr = sandbox.base_url().trim_start_matches("http://").to_owned();
    let orders: Vec<_> = (0..CLIENTS)
        .map(|_| sandbox.add_order(NewOrder::new(1_000_000, "EUR")))
        .collect();
    let start = Arc::new(Barrier::new(CLIENTS + 1));
    let threads: Vec<_> = orders
        .into_iter()
        .enumerate()
        .map(|(n, order_id)| {
            let (addr, start) = (addr.clone(), start.clone());
            std::thread::spawn(move || client(&addr, &order_id, n, &start))
        })
        .collect();
    start.wait();
    let began = Instant::now();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for thread in threads {
        let (mut l, e) = thread.join().expect("a client thread");
        latencies.append(&mut l);
        errors += e;
    }
    let elapsed = began.elapsed();
    latencies.sort_unstable();
    println!(
        "keep-alive: {CLIENTS} clients x {ROUNDS} x (capture + read): {} answered in {:.2} s = {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, errors {errors}",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
    );
}

fn burst() {
    let sandbox = Sandbox::start().expect("a sandbox");
    let addr = sandbox.base_url().trim_start_matches("http://").to_owned();
    let order_id = sandbox.add_order(NewOrder::new(1_000, "EUR"));
    let request = format!(
        "GET /ordermanagement/v1/orders/{order_id} HTTP/1.1\r\nHost: sandbox\r\n{AUTH}Connection: close\r\n\r\n"
    );
    let began = Instant::now();
    let mut connections = Vec::with_capacity(BURST);
    let mut not_connected = 0;
    // All connections first, then every request, then every answer: the
    // server holds all of them open at once.
    for _ in 0..BURST {
        match connect(&addr) {
            Ok(connection) => connections.push(connection),
            Err(_) => not_connected += 1,
        }
    }
    for (_, writer) in &mut connections {
        // A write fails if the server already closed this one; the read
        // below counts it.
        let _ = writer.write_all(request.as_bytes());
    }
    let (mut ok, mut busy, mut other, mut unanswered) = (0, 0, 0, 0);
    for (mut reader, _writer) in connections {
        match read_answer(&mut reader) {
            Some(Answer { status: 200, .. }) => ok += 1,
            Some(Answer {
                status: 503,
                retry_after: true,
            }) => busy += 1,
            Some(_) => other += 1,
            None => unanswered += 1,
        }
    }
    println!(
        "burst: {BURST} connections at once: {ok} x 200, {busy} x 503 with Retry-After, {other} other, {unanswered} closed without an answer, {not_connected} not connected ({:.2} s)",
        began.elapsed().as_secs_f64()
    );
}

fn main() {
    // `cargo test --benches` runs this with `--bench`-less arguments too;
    // the figures are the same either way.
    keep_alive_clients();
    burst();
}
