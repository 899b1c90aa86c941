//! The client at the edges, against small hostile servers on 127.0.0.1:
//! redirects, refused connections, a full backlog, an outage, a long
//! `Retry-After`, a body cut off after its status, a huge declared length,
//! and base URLs the configuration must refuse. Every server and loop here
//! is bounded in count and time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use klarna_ordermanagement::models::CaptureObject;
use klarna_ordermanagement::{
    Captures, Client, Config, ConfigError, Credentials, ErrorKind, IdempotencyKey, OrderId,
    RetryPolicy,
};
use klarna_payments::models::SessionCreate;
use klarna_payments::Sessions;
use klarna_tests::client_support::closed_port_url;
use klarna_tests::server::{CannedResponse, TestServer};
use serde_json::json;

const ORDER_ID: &str = "f3392f8b-6116-4073-ab96-e330819e2c07";
const PASSWORD: &str = "s3cr3t-for-the-edge-tests";

fn config(base_url: &str, attempts: u32) -> Config {
    Config::with_base_url(base_url, Credentials::basic("PK0001", PASSWORD))
        .connect_timeout(Duration::from_millis(300))
        .timeout(Duration::from_secs(5))
        .retry(
            RetryPolicy::default()
                .max_attempts(attempts)
                .initial_backoff(Duration::from_millis(20))
                .max_backoff(Duration::from_secs(2)),
        )
}

fn client(base_url: &str, attempts: u32) -> Client {
    Client::from_config(config(base_url, attempts)).unwrap()
}

/// A Klarna Payments client of the same base URL, with the same settings.
fn payments_client(base_url: &str, attempts: u32) -> klarna_payments::Client {
    klarna_payments::Client::from_config(config(base_url, attempts)).unwrap()
}

fn order_id() -> OrderId {
    OrderId::new(ORDER_ID)
}

fn capture() -> CaptureObject {
    CaptureObject::new(6000)
}

fn session() -> SessionCreate {
    serde_json::from_value(json!({
        "purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
        "order_amount": 1000, "order_lines": []
    }))
    .unwrap()
}

/// Accepts one connection on `listener`, reads one request (head and
/// `Content-Length` body), writes `answer`, and keeps the connection open
/// for at most `hold` before closing it.
fn answer_once(listener: TcpListener, answer: Vec<u8>, hold: Duration) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut length = 0;
        for _ in 0..100 {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        let mut stream = stream;
        let _ = stream.write_all(&answer);
        let _ = stream.flush();
        std::thread::sleep(hold);
    })
}

fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

#[tokio::test]
async fn a_redirect_on_a_capture_is_not_followed() {
    for status in [302, 307] {
        let target = TestServer::start();
        let server = TestServer::start();
        let elsewhere = format!(
            "{}/ordermanagement/v1/orders/{ORDER_ID}/captures",
            target.url()
        );
        server.respond(CannedResponse::new(status).header("Location", &elsewhere));
        let key = IdempotencyKey::from("redirected-capture");
        let error = client(&server.url(), 3)
            .capture_order(&order_id(), &capture())
            .idempotency_key(key.clone())
            .await
            .unwrap_err();
        // Before: a 302 became a GET ("undocumented status 200"), a 307
        // re-sent the capture and its key to the target.
        match error.kind() {
            ErrorKind::UnexpectedStatus(details) => {
                assert_eq!(details.status, status);
                assert_eq!(details.location.as_deref(), Some(elsewhere.as_str()));
            }
            _ => panic!("expected UnexpectedStatus, got {error:?}"),
        }
        assert_eq!(error.idempotency_key(), Some(&key));
        assert_eq!(server.requests().len(), 1, "one request at the server");
        assert!(target.requests().is_empty(), "none at the target");
    }
}

#[tokio::test]
async fn a_refused_connection_is_not_sent_and_a_keyless_post_is_retried() {
    let url = closed_port_url();
    let error = payments_client(&url, 1)
        .create_credit_session(&session())
        .await
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::NotSent(e) if e.is_connect()),
        "{error:?}"
    );
    assert!(!error.may_have_reached_klarna());
    assert!(
        error.to_string().contains("nothing reached Klarna"),
        "{error}"
    );

    // The server appears after the first attempts were refused; the keyless
    // POST is retried (before: not retried, "may have reached Klarna").
    let port = url.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let body = br#"{"session_id":"s-1","client_token":"t-1"}"#;
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(body);
    let server = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        answer_once(listener, answer, Duration::ZERO)
            .join()
            .unwrap();
    });
    let created = payments_client(&url, 10)
        .create_credit_session(&session())
        .await
        .unwrap();
    assert_eq!(created.session_id, "s-1");
    server.join().unwrap();
}

#[tokio::test]
async fn a_full_backlog_is_a_connect_timeout_not_sent() {
    // A listener that never accepts, with the smallest backlog: once a few
    // connections fill its queue, the kernel drops new SYNs.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let _listener = socket.listen(1).unwrap();
    let mut fillers = Vec::new();
    for _ in 0..16 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(stream) => fillers.push(stream),
            Err(_) => break,
        }
    }
    let error = payments_client(&format!("http://{addr}"), 1)
        .create_credit_session(&session())
        .await
        .unwrap_err();
    match error.kind() {
        ErrorKind::NotSent(e) => assert!(e.is_connect() && e.is_timeout(), "{e:?}"),
        _ => panic!("expected NotSent, got {error:?}"),
    }
    assert!(!error.may_have_reached_klarna());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_spends_the_retry_budget_then_calls_make_one_attempt() {
    const CALLERS: usize = 100;
    let server = TestServer::start();
    for _ in 0..2 * 3 * CALLERS {
        server.respond(CannedResponse::new(503));
    }
    let client = client(&server.url(), 3);
    let mut waves = Vec::new();
    for _ in 0..2 {
        let before = server.requests().len();
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..CALLERS {
            let client = client.clone();
            calls.spawn(async move { client.capture_order(&order_id(), &capture()).await });
        }
        let mut spent = 0;
        while let Some(result) = calls.join_next().await {
            let error = result.unwrap().unwrap_err();
            assert_eq!(error.status(), Some(503));
            spent += usize::from(error.retry_budget_spent());
        }
        waves.push((server.requests().len() - before, spent));
    }
    println!(
        "{CALLERS} callers, all answers 503: first wave {} requests ({} calls stopped by the budget), \
         second wave {} requests ({:.2} per caller); before: 300 per wave",
        waves[0].0,
        waves[0].1,
        waves[1].0,
        waves[1].0 as f64 / CALLERS as f64
    );
    // 500 tokens at 5 per retry: 100 retries, then one attempt per call.
    assert_eq!(waves[0].0, CALLERS + 100);
    assert!(waves[1].0 as f64 <= 1.2 * CALLERS as f64, "{waves:?}");
    assert_eq!(waves[1].1, CALLERS);
}

#[tokio::test]
async fn a_retry_after_beyond_the_backoff_cap_ends_the_call() {
    let server = TestServer::start();
    server.respond(CannedResponse::new(429).header("Retry-After", "3600"));
    server.respond(CannedResponse::new(429).header("Retry-After", "3600"));
    let error = client(&server.url(), 3)
        .capture_order(&order_id(), &capture())
        .await
        .unwrap_err();
    // Before: retried after the 5 s cap, twice.
    assert_eq!(server.requests().len(), 1);
    assert_eq!(error.attempts(), 1);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
    assert!(error.to_string().contains("retry after 3600 s"), "{error}");
}

#[tokio::test]
async fn a_status_then_a_broken_body_keeps_the_status() {
    let (listener, addr) = listener();
    let answer =
        b"HTTP/1.1 201 Created\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"par".to_vec();
    let server = answer_once(listener, answer, Duration::ZERO);
    let error = client(&format!("http://{addr}"), 1)
        .capture_order(&order_id(), &capture())
        .await
        .unwrap_err();
    // Before: `NoResponse`, status None.
    assert!(
        matches!(error.kind(), ErrorKind::IncompleteResponse { .. }),
        "{error:?}"
    );
    assert_eq!(error.status(), Some(201));
    assert!(error.may_have_reached_klarna());
    server.join().unwrap();
}

#[tokio::test]
async fn a_declared_length_above_the_limit_is_refused_before_reading() {
    let (listener, addr) = listener();
    // Headers declaring 200 MB, a few bytes, then nothing for up to 3 s: a
    // client that read on would wait, not fail at once.
    let answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200000000\r\n\r\n{\"a\"".to_vec();
    let server = answer_once(listener, answer, Duration::from_secs(3));
    let config = config(&format!("http://{addr}"), 1).timeout(Duration::from_secs(2));
    let error = Client::from_config(config)
        .unwrap()
        .capture_order(&order_id(), &capture())
        .await
        .unwrap_err();
    match error.kind() {
        ErrorKind::Decode { message, details } => {
            assert!(message.contains("declares 200000000 bytes"), "{message}");
            assert_eq!(details.status, 200);
            assert!(
                details.body_excerpt.is_empty(),
                "nothing of the body was read"
            );
        }
        _ => panic!("expected Decode, got {error:?}"),
    }
    drop(server);
}

#[test]
fn unsafe_base_urls_are_refused_without_echoing_a_secret() {
    let refuse = |url: &str| {
        Client::from_config(Config::with_base_url(
            url,
            Credentials::basic("PK0001", PASSWORD),
        ))
        .unwrap_err()
    };
    let error = refuse("https://PK0001:hunter2@api.klarna.com");
    assert!(
        matches!(error, ConfigError::CredentialsInBaseUrl(_)),
        "{error:?}"
    );
    let error = refuse("htps://PK0001:hunter2@api.klarna.com");
    assert!(matches!(error, ConfigError::InvalidBaseUrl(_)), "{error:?}");
    for error in [
        refuse("https://PK0001:hunter2@api.klarna.com"),
        refuse("htps://PK0001:hunter2@x"),
    ] {
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
    }
    let error = refuse("http://api.klarna.com");
    assert!(
        matches!(error, ConfigError::InsecureBaseUrl(_)),
        "{error:?}"
    );
    assert!(Client::from_config(Config::with_base_url(
        "http://localhost:1",
        Credentials::basic("u", "p")
    ))
    .is_ok());
}
