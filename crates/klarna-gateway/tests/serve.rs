//! The HTTP server under both adapters (`http::serve_with`), over raw TCP
//! on ephemeral loopback ports: every connection it accepts is answered,
//! slow and oversized heads included, and shutdown is bounded. The limits
//! are short here so that the tests run fast; every wait is bounded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use klarna_gateway::http::{self, HttpOptions};
use klarna_gateway::server::{self, ServeLimits};
use klarna_gateway::upstream::{self, Target};
use klarna_gateway::{McpGateway, Surface};
use klarna_runtime::Credentials;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

/// Longest any single step of a test may take.
const STEP: Duration = Duration::from_secs(20);
/// The most a test reads of one response.
const MAX_RESPONSE: usize = 1024 * 1024;

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    served: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(router: Router, limits: ServeLimits) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(server::serve_with(listener, router, limits, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            stop: Some(stop),
            served,
        }
    }

    /// Signals shutdown; `served` then completes.
    fn stop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
    }
}

/// `GET /` answers "ok"; `GET /held` waits until the test releases it,
/// telling the test when it has started.
struct Trivial {
    held_started: Arc<Notify>,
    release: Arc<Notify>,
}

impl Trivial {
    fn new() -> Self {
        Trivial {
            held_started: Arc::new(Notify::new()),
            release: Arc::new(Notify::new()),
        }
    }

    fn router(&self) -> Router {
        let (started, release) = (self.held_started.clone(), self.release.clone());
        Router::new().route("/", get(|| async { "ok" })).route(
            "/held",
            get(move || async move {
                started.notify_one();
                release.notified().await;
                "released"
            }),
        )
    }
}

fn limits(header_read_timeout: Duration) -> ServeLimits {
    ServeLimits {
        header_read_timeout,
        shutdown_grace: Duration::from_secs(5),
        ..ServeLimits::default()
    }
}

fn get_request(path: &str, keep_alive: bool) -> Vec<u8> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: {connection}\r\n\r\n")
        .into_bytes()
}

/// Sends `request` while reading the answer to the end of the
/// connection. Write errors are ignored: a server may answer and close
/// before reading a whole request.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let send = async {
        let _ = writer.write_all(request).await;
        // Keep the write half open: closing it reads as the end of the
        // request on the server.
        writer
    };
    let (_writer, response) =
        tokio::time::timeout(STEP, async { tokio::join!(send, read_to_end(&mut reader)) })
            .await
            .expect("the exchange finishes in time");
    response
}

/// Reads until the server closes (or a reset, or [`MAX_RESPONSE`]).
async fn read_to_end(reader: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    while response.len() < MAX_RESPONSE {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&buffer[..n]),
        }
    }
    response
}

/// Reads one response whose body has a `Content-Length`, leaving the
/// connection open.
async fn read_one_response(stream: &mut TcpStream) -> Vec<u8> {
    let read = async {
        let mut response = Vec::new();
        let mut buffer = [0u8; 4096];
        while response.len() < MAX_RESPONSE {
            if let Some(end) = head_end(&response) {
                let length: usize = header(&response, "content-length")
                    .expect("a content-length")
                    .parse()
                    .unwrap();
                if response.len() >= end + length {
                    break;
                }
            }
            let n = stream.read(&mut buffer).await.unwrap();
            assert!(n > 0, "closed mid-response: {:?}", text(&response));
            response.extend_from_slice(&buffer[..n]);
        }
        response
    };
    tokio::time::timeout(STEP, read)
        .await
        .expect("a response in time")
}

fn head_end(response: &[u8]) -> Option<usize> {
    response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

fn text(response: &[u8]) -> String {
    String::from_utf8_lossy(response).into_owned()
}

fn status(response: &[u8]) -> u16 {
    text(response)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {:?}", text(response)))
}

fn header(response: &[u8], name: &str) -> Option<String> {
    let head = text(&response[..head_end(response)?]);
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

fn body(response: &[u8]) -> &[u8] {
    &response[head_end(response).unwrap_or(response.len())..]
}

/// The JSON error body of one of the server's own answers.
fn klarna_error(response: &[u8]) -> Value {
    assert_eq!(
        header(response, "content-type").as_deref(),
        Some("application/json"),
        "{}",
        text(response)
    );
    let error: Value = serde_json::from_slice(body(response)).expect("a JSON body");
    assert!(error["error_messages"][0].is_string(), "{error}");
    assert!(error["correlation_id"].is_null(), "{error}");
    error
}

/// The MCP adapter's router; no test here reaches its upstream.
fn mcp_router() -> Router {
    let upstream = upstream::upstream(
        &Target::Url("http://127.0.0.1:9".into()),
        Credentials::basic("merchant", "secret-password"),
        None,
    )
    .unwrap();
    let gateway = McpGateway::new(upstream, Surface::default().tools().unwrap()).unwrap();
    http::mcp_router(
        gateway,
        &HttpOptions::new("127.0.0.1:0".parse().unwrap(), None),
    )
}

fn initialize_request() -> Vec<u8> {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;
    format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_head_gets_408_while_fifty_mcp_requests_are_answered() {
    let deadline = Duration::from_millis(1000);
    let server = Server::start(mcp_router(), limits(deadline)).await;

    // A head that never ends: one byte each 50 ms, for far longer than
    // the deadline unless the server answers first.
    let slow = tokio::spawn({
        let addr = server.addr;
        async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            let (mut reader, mut writer) = stream.into_split();
            writer
                .write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                .await
                .unwrap();
            let drip = async {
                for _ in 0..400 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    if writer.write_all(b"a").await.is_err() {
                        break;
                    }
                }
            };
            tokio::select! {
                response = read_to_end(&mut reader) => Some(response),
                () = drip => None,
            }
        }
    });
    let normal: Vec<_> = (0..50)
        .map(|_| {
            let addr = server.addr;
            tokio::spawn(async move { exchange(addr, &initialize_request()).await })
        })
        .collect();
    for request in normal {
        let response = request.await.unwrap();
        assert_eq!(status(&response), 200, "{}", text(&response));
        assert!(text(body(&response)).contains("protocolVersion"));
    }

    let response = tokio::time::timeout(STEP, slow)
        .await
        .expect("the slow client finishes in time")
        .unwrap()
        .expect("the server answers before the slow head could end");
    assert_eq!(status(&response), 408, "{}", text(&response));
    assert_eq!(header(&response, "connection").as_deref(), Some("close"));
    assert_eq!(klarna_error(&response)["error_code"], "REQUEST_TIMEOUT");
}

/// The deadline is on the head only: a long-lived response (MCP's SSE
/// stream of a session) stays open well past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_event_stream_outlives_the_head_deadline() {
    let deadline = Duration::from_millis(300);
    let server = Server::start(mcp_router(), limits(deadline)).await;

    let initialized = exchange(server.addr, &initialize_request()).await;
    assert_eq!(status(&initialized), 200, "{}", text(&initialized));
    let session = header(&initialized, "mcp-session-id").expect("a session id");
    let notification = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let notified = exchange(
        server.addr,
        format!(
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nMcp-Session-Id: {session}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{notification}",
            notification.len()
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(status(&notified), 202, "{}", text(&notified));

    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(
            format!(
                "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\
                 Mcp-Session-Id: {session}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(STEP, async {
        while head_end(&head).is_none() && head.len() < MAX_RESPONSE {
            let n = stream.read(&mut buffer).await.unwrap();
            assert!(n > 0, "closed before a head: {}", text(&head));
            head.extend_from_slice(&buffer[..n]);
        }
    })
    .await
    .expect("the stream's head in time");
    assert_eq!(status(&head), 200, "{}", text(&head));
    assert_eq!(
        header(&head, "content-type").as_deref(),
        Some("text/event-stream")
    );
    // Still open at three times the deadline: reading to the end of the
    // connection does not finish.
    let ended = tokio::time::timeout(3 * deadline, read_to_end(&mut stream)).await;
    assert!(
        ended.is_err(),
        "closed: {:?}",
        ended.map(|rest| text(&rest))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_long_head_gets_431() {
    let trivial = Trivial::new();
    let limits = limits(Duration::from_secs(10));
    let server = Server::start(trivial.router(), limits.clone()).await;

    let mut request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 2 * limits.max_head_bytes));
    request.extend_from_slice(b"\r\n\r\n");
    let response = exchange(server.addr, &request).await;
    assert_eq!(status(&response), 431, "{}", text(&response));

    // A head just under the limit is served.
    let mut request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Big: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', limits.max_head_bytes / 2));
    request.extend_from_slice(b"\r\n\r\n");
    let response = exchange(server.addr, &request).await;
    assert_eq!(status(&response), 200, "{}", text(&response));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_past_the_limit_gets_503_at_once() {
    let trivial = Trivial::new();
    let limits = ServeLimits {
        max_connections: 2,
        ..limits(Duration::from_secs(30))
    };
    let server = Server::start(trivial.router(), limits).await;

    // Two kept-alive connections, each answered once: both hold a slot.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(&get_request("/", true)).await.unwrap();
        let response = read_one_response(&mut stream).await;
        assert_eq!(status(&response), 200, "{}", text(&response));
        held.push(stream);
    }

    let response = exchange(server.addr, &get_request("/", false)).await;
    assert_eq!(status(&response), 503, "{}", text(&response));
    assert_eq!(header(&response, "retry-after").as_deref(), Some("1"));
    assert_eq!(header(&response, "connection").as_deref(), Some("close"));
    assert_eq!(klarna_error(&response)["error_code"], "SERVICE_UNAVAILABLE");

    // A slot freed is a slot served again (once the server has seen the
    // close, hence the bounded retries).
    drop(held.pop());
    let mut served = None;
    for _ in 0..100 {
        let response = exchange(server.addr, &get_request("/", false)).await;
        if status(&response) == 200 {
            served = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(body(&served.expect("served after a close")), b"ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_after_the_deadline() {
    let trivial = Trivial::new();
    let server = Server::start(trivial.router(), limits(Duration::from_millis(300))).await;

    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(&get_request("/", true)).await.unwrap();
    let response = read_one_response(&mut stream).await;
    assert_eq!(status(&response), 200, "{}", text(&response));
    assert_eq!(body(&response), b"ok");

    // Nothing more is sent: the server closes without a word (no 408 for
    // a request that never started).
    let rest = tokio::time::timeout(STEP, read_to_end(&mut stream))
        .await
        .expect("the server closes the idle connection");
    assert!(rest.is_empty(), "{}", text(&rest));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_returns_only_after_the_request_in_flight_is_answered() {
    let trivial = Trivial::new();
    let mut server = Server::start(trivial.router(), limits(Duration::from_secs(10))).await;

    let in_flight = tokio::spawn({
        let addr = server.addr;
        async move { exchange(addr, &get_request("/held", true)).await }
    });
    tokio::time::timeout(STEP, trivial.held_started.notified())
        .await
        .expect("the request reaches its handler");

    server.stop();
    // The handler is still held: the server must not have returned.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !server.served.is_finished(),
        "returned with a request in flight"
    );

    trivial.release.notify_one();
    let response = in_flight.await.unwrap();
    assert_eq!(status(&response), 200, "{}", text(&response));
    assert_eq!(body(&response), b"released");
    // Kept alive was asked for; shutting down, the server closes anyway
    // (the exchange above read to the end of the connection).
    tokio::time::timeout(STEP, &mut server.served)
        .await
        .expect("shutdown completes in time")
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "still accepting after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drops_connections_still_open_after_the_grace_period() {
    let trivial = Trivial::new();
    let limits = ServeLimits {
        shutdown_grace: Duration::from_millis(300),
        ..limits(Duration::from_secs(10))
    };
    let mut server = Server::start(trivial.router(), limits).await;

    let in_flight = tokio::spawn({
        let addr = server.addr;
        async move { exchange(addr, &get_request("/held", false)).await }
    });
    tokio::time::timeout(STEP, trivial.held_started.notified())
        .await
        .expect("the request reaches its handler");

    // Never released: the server gives up on it after the grace period.
    server.stop();
    tokio::time::timeout(STEP, &mut server.served)
        .await
        .expect("shutdown completes in time")
        .unwrap()
        .unwrap();
    let response = tokio::time::timeout(STEP, in_flight)
        .await
        .expect("the connection is closed")
        .unwrap();
    assert!(response.is_empty(), "{}", text(&response));
}
