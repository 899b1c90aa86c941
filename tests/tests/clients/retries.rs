//! Fault injection against a loopback server: what the client retries, with
//! which key, how long it waits, and when it gives up. Backoffs are
//! configured short, so the whole file runs in a few seconds.

use std::time::{Duration, Instant};

use klarna_ordermanagement::models::{CaptureObject, RefundObject};
use klarna_ordermanagement::{
    CaptureId, Captures, Client, Config, Credentials, ErrorKind, IdempotencyKey, OrderId, Orders,
    Refunds, RetryPolicy,
};
use klarna_payments::models::SessionCreate;
use klarna_payments::Sessions;
use klarna_tests::server::{CannedResponse, TestServer};
use serde_json::json;

const ORDER_ID: &str = "f3392f8b-6116-4073-ab96-e330819e2c07";
const CAPTURE_ID: &str = "4ba29b50-be7b-44f5-a492-113e6a865e22";
const PASSWORD: &str = "s3cr3t-for-the-retry-tests";

/// Quick retries: tests wait milliseconds, not seconds.
fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(3)
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_secs(2))
}

fn config(server: &TestServer) -> Config {
    Config::with_base_url(server.url(), Credentials::basic("PK0001", PASSWORD))
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .retry(quick_retries())
}

fn client(server: &TestServer) -> Client {
    Client::from_config(config(server)).unwrap()
}

/// A Klarna Payments client of the same server, with the same settings.
fn payments_client(server: &TestServer) -> klarna_payments::Client {
    klarna_payments::Client::from_config(config(server)).unwrap()
}

fn order_id() -> OrderId {
    OrderId::new(ORDER_ID)
}

fn capture() -> CaptureObject {
    CaptureObject::new(6000)
}

fn captured() -> CannedResponse {
    CannedResponse::new(201)
        .header("Capture-Id", CAPTURE_ID)
        .header(
            "Location",
            &format!("/ordermanagement/v1/orders/{ORDER_ID}/captures/{CAPTURE_ID}"),
        )
}

fn order() -> CannedResponse {
    CannedResponse::json(
        200,
        &json!({
            "order_id": ORDER_ID,
            "status": "AUTHORIZED",
            "order_amount": 6000,
            "captured_amount": 0,
            "refunded_amount": 0,
            "purchase_currency": "EUR"
        }),
    )
}

fn unavailable() -> CannedResponse {
    CannedResponse::json(
        503,
        &json!({
            "correlation_id": "c-503",
            "error_code": "SERVICE_UNAVAILABLE",
            "error_messages": ["try later"]
        }),
    )
}

/// Every request's idempotency key, in order.
fn keys(server: &TestServer) -> Vec<Option<String>> {
    server
        .requests()
        .iter()
        .map(|r| r.header("klarna-idempotency-key").map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_capture_whose_connection_dropped_is_retried_with_the_same_key() {
    let server = TestServer::start();
    server.respond(CannedResponse::dropped_connection());
    server.respond(captured());
    let response = client(&server)
        .capture_order(&order_id(), &capture())
        .await
        .unwrap();
    assert_eq!(response.capture_id, CaptureId::new(CAPTURE_ID));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body);
    let key = response.idempotency_key().unwrap().as_str().to_owned();
    assert_eq!(keys(&server), [Some(key.clone()), Some(key)]);
}

#[tokio::test]
async fn the_callers_key_is_sent_on_every_attempt() {
    let server = TestServer::start();
    server.respond(unavailable());
    server.respond(unavailable());
    server.respond(captured());
    let key = IdempotencyKey::from("capture-order-4711-shipment-1");
    let response = client(&server)
        .capture_order(&order_id(), &capture())
        .idempotency_key(key.clone())
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.idempotency_key(), Some(&key));
    let expected = Some(key.as_str().to_owned());
    assert_eq!(
        keys(&server),
        [expected.clone(), expected.clone(), expected]
    );
}

#[tokio::test]
async fn retry_after_in_seconds_is_honoured() {
    let server = TestServer::start();
    server.respond(CannedResponse::new(429).header("Retry-After", "1"));
    server.respond(order());
    let started = Instant::now();
    let order = client(&server).get_order(&order_id()).await.unwrap();
    // A lower bound, not a speed check: the client waited as told.
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(order.order_id.as_deref(), Some(ORDER_ID));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_server_that_keeps_failing_gets_max_attempts_then_a_clear_error() {
    let server = TestServer::start();
    for _ in 0..4 {
        server.respond(CannedResponse::new(500).header("Klarna-Correlation-Id", "c-500"));
    }
    let error = client(&server)
        .capture_order(&order_id(), &capture())
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 3);
    assert_eq!(error.attempts(), 3);
    assert_eq!(error.status(), Some(500));
    assert!(matches!(error.kind(), ErrorKind::UnexpectedStatus(_)));
    assert_eq!(
        error.to_string(),
        "capture_order: Klarna answered with undocumented status 500 (correlation id c-500) [after 3 attempts]"
    );
    // The key to retry with later is the one every attempt carried.
    let key = error.idempotency_key().unwrap().as_str().to_owned();
    assert!(keys(&server).iter().all(|k| k.as_deref() == Some(&key)));
}

#[tokio::test]
async fn a_conflict_is_not_retried() {
    for status in [400, 401, 403, 404, 409, 422] {
        let server = TestServer::start();
        server.respond(CannedResponse::json(
            status,
            &json!({ "correlation_id": "c-1", "error_code": "NOPE", "error_messages": [] }),
        ));
        server.respond(captured());
        let error = client(&server)
            .capture_order(&order_id(), &capture())
            .await
            .unwrap_err();
        assert_eq!(server.requests().len(), 1, "status {status}");
        assert_eq!(error.attempts(), 1);
        assert_eq!(error.status(), Some(status));
    }
}

#[tokio::test]
async fn a_post_without_a_key_is_never_retried() {
    let server = TestServer::start();
    server.respond(unavailable());
    server.respond(CannedResponse::json(200, &json!({})));
    let session = SessionCreate {
        locale: Some("sv-SE".into()),
        ..SessionCreate::new(1000, vec![], "SE", "SEK")
    };
    let error = payments_client(&server)
        .create_credit_session(&session)
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 1);
    assert_eq!(error.status(), Some(503));
    assert_eq!(error.attempts(), 1);
    assert_eq!(error.idempotency_key(), None);
}

#[tokio::test]
async fn a_slow_read_times_out_and_is_retried() {
    let server = TestServer::start();
    server.respond(order().after(Duration::from_millis(1500)));
    server.respond(order());
    let client = client(&server).with_timeout(Duration::from_millis(200));
    let order = client.get_order(&order_id()).await.unwrap();
    assert_eq!(order.status(), 200);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_slow_post_without_a_key_times_out_once() {
    let server = TestServer::start();
    server.respond(CannedResponse::json(200, &json!({})).after(Duration::from_millis(1500)));
    let session = SessionCreate::new(0, vec![], "SE", "SEK");
    let error = payments_client(&server)
        .with_timeout(Duration::from_millis(200))
        .create_credit_session(&session)
        .await
        .unwrap_err();
    let ErrorKind::NoResponse(cause) = error.kind() else {
        panic!("expected no response, got {error:?}");
    };
    assert!(cause.is_timeout());
    assert_eq!(error.attempts(), 1);
    assert!(error.to_string().contains("timed out"), "{error}");
}

#[tokio::test]
async fn the_overall_timeout_stops_the_retries() {
    let server = TestServer::start();
    server.respond(CannedResponse::new(503).header("Retry-After", "2"));
    server.respond(order());
    let error = client(&server)
        .with_overall_timeout(Some(Duration::from_millis(500)))
        .get_order(&order_id())
        .await
        .unwrap_err();
    // Waiting two seconds would overrun the limit, so the client stops.
    assert_eq!(server.requests().len(), 1);
    assert_eq!(error.status(), Some(503));
}

#[tokio::test]
async fn retries_can_be_turned_off_per_call() {
    let server = TestServer::start();
    server.respond(unavailable());
    server.respond(captured());
    let error = client(&server)
        .with_retry(RetryPolicy::never())
        .capture_order(&order_id(), &capture())
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 1);
    assert_eq!(error.error_code(), Some("SERVICE_UNAVAILABLE"));
}

#[tokio::test]
async fn an_abandoned_call_leaves_the_client_usable() {
    let server = TestServer::start();
    server.respond(order().after(Duration::from_millis(300)));
    server.respond(order());
    let client = client(&server);
    let abandoned =
        tokio::time::timeout(Duration::from_millis(50), client.get_order(&order_id())).await;
    assert!(abandoned.is_err(), "the call was dropped mid-flight");
    let order = client.get_order(&order_id()).await.unwrap();
    assert_eq!(order.status(), 200);
    assert_eq!(server.requests().len(), 2);
}

/// The stand-in acts on a request before it drops the connection, as when
/// Klarna's answer is lost on the way back.
fn sandbox_client(sandbox: &klarna_sandbox::Sandbox) -> Client {
    let config = Config::with_base_url(sandbox.base_url(), Credentials::basic("PK0001", PASSWORD))
        .retry(quick_retries());
    Client::from_config(config).unwrap()
}

#[tokio::test]
async fn a_capture_whose_answer_was_lost_exists_exactly_once_after_the_retry() {
    let sandbox = klarna_sandbox::Sandbox::start().unwrap();
    let order_id = OrderId::new(sandbox.add_order(klarna_sandbox::NewOrder::new(10_000, "EUR")));
    sandbox.drop_next_connections(1);
    let response = sandbox_client(&sandbox)
        .capture_order(&order_id, &capture())
        .await
        .unwrap();
    let order = sandbox.order(&order_id).unwrap();
    let captures = order.captures.unwrap_or_default();
    assert_eq!(captures.len(), 1, "{captures:?}");
    assert_eq!(order.captured_amount, Some(6000));
    assert_eq!(
        captures[0].capture_id.as_deref(),
        Some(response.capture_id.as_str())
    );
    let posts: Vec<_> = sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].status, None, "the first answer was lost");
    let key = response.idempotency_key().unwrap().as_str();
    assert!(posts
        .iter()
        .all(|r| r.idempotency_key.as_deref() == Some(key)));
}

#[tokio::test]
async fn a_refund_through_two_unavailable_answers_is_made_once() {
    let sandbox = klarna_sandbox::Sandbox::start().unwrap();
    let order_id = OrderId::new(sandbox.add_order(klarna_sandbox::NewOrder::new(10_000, "EUR")));
    let client = sandbox_client(&sandbox);
    client.capture_order(&order_id, &capture()).await.unwrap();
    sandbox.fail_next_requests(2);
    let refund = RefundObject::new(1500);
    let refunded = client.refund_order(&order_id, &refund).await.unwrap();
    assert_eq!(refunded.status(), 201);
    let order = sandbox.order(&order_id).unwrap();
    assert_eq!(order.refunded_amount, Some(1500));
    assert_eq!(order.refunds.unwrap_or_default().len(), 1);
    let statuses: Vec<_> = sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/refunds"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [Some(503), Some(503), Some(201)]);
}
