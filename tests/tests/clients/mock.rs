//! The mock transport (`klarna_runtime::mock`, feature `test-util`): every
//! outcome kind, sequences, recording, a request nothing was scripted for,
//! and retries on the mock's virtual clock. No socket anywhere.

use std::time::Duration;

use klarna_ordermanagement::mock::{Mock, Outcome};
use klarna_ordermanagement::models::{CaptureObject, MerchantOrderDto};
use klarna_ordermanagement::{
    operations, Captures, Client, Config, Credentials, ErrorKind, IdempotencyKey, OrderId, Orders,
    RetryPolicy,
};
use klarna_runtime::private::call::Call;
use serde_json::json;

const ORDER_ID: &str = "f3392f8b-6116-4073-ab96-e330819e2c07";

fn order_id() -> OrderId {
    OrderId::new(ORDER_ID)
}

fn capture() -> CaptureObject {
    CaptureObject::new(6000)
}

fn order() -> MerchantOrderDto {
    serde_json::from_value(json!({ "order_id": ORDER_ID, "order_amount": 6000 })).unwrap()
}

fn captured(id: &str) -> Outcome {
    Outcome::status(201)
        .header("Capture-Id", id)
        .header("Location", "/captures/c")
}

/// The Order Management client on the mock, with the default configuration.
fn client(mock: &Mock) -> Client {
    Client::from_runtime(mock.client()).unwrap()
}

/// One attempt per call, for the outcome tests.
fn single_attempt(mock: &Mock) -> Client {
    let config = Config::with_base_url("https://mock.invalid", Credentials::basic("u", "p"))
        .retry(RetryPolicy::never())
        .timeout(Duration::from_secs(30));
    Client::from_runtime(mock.client_with(config).unwrap()).unwrap()
}

#[tokio::test]
async fn shipper_capture_timed_out_then_the_retry_with_the_same_key_succeeds() {
    let mock = Mock::new();
    mock.on(&operations::CAPTURE_ORDER)
        .respond(Outcome::timed_out())
        .respond(captured("c-1"));
    let done = client(&mock)
        .capture_order(&order_id(), &capture())
        .await
        .unwrap();
    assert_eq!(done.capture_id.as_str(), "c-1");
    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    assert!(sent[0].idempotency_key().is_some());
    assert_eq!(sent[0].idempotency_key(), sent[1].idempotency_key());
    assert_eq!(
        sent[0].idempotency_key(),
        done.idempotency_key().map(|k| k.as_str())
    );
}

#[tokio::test]
async fn answers_raw_and_typed_bodies_and_headers() {
    let mock = Mock::new();
    mock.on(&operations::GET_ORDER)
        .respond(Outcome::json(200, &order()).header("Klarna-Correlation-Id", "c-9"))
        .respond(Outcome::status(200).body(r#"{"order_id":"raw"}"#));
    let client = single_attempt(&mock);
    let typed = client.get_order(&order_id()).await.unwrap();
    assert_eq!(*typed, order());
    assert_eq!(typed.headers()["klarna-correlation-id"], "c-9");
    let raw = client.get_order(&order_id()).await.unwrap();
    assert_eq!(raw.order_id.as_deref(), Some("raw"));
}

/// The body a success came with is kept beside the typed value, every
/// byte of it: a field the model does not know, and the spelling of a
/// number, survive.
#[tokio::test]
async fn a_success_keeps_its_body_as_received() {
    const SENT: &str = r#"{"order_id":"o-1","order_amount":6000,"added_later":{"x":[1.50]}}"#;
    let mock = Mock::new();
    mock.on(&operations::GET_ORDER)
        .respond(Outcome::status(200).body(SENT));
    mock.on(&operations::CAPTURE_ORDER).respond(captured("c-1"));
    let client = single_attempt(&mock);
    let order = client.get_order(&order_id()).await.unwrap();
    assert_eq!(order.order_id.as_deref(), Some("o-1"));
    assert_eq!(&order.raw_body()[..], SENT.as_bytes());
    // A success without a body has an empty one.
    let done = client.capture_order(&order_id(), &capture()).await.unwrap();
    assert!(done.raw_body().is_empty());
}

#[tokio::test]
async fn each_transport_failure_is_classified_as_on_the_wire() {
    let mock = Mock::new();
    mock.on(&operations::CAPTURE_ORDER)
        .respond(Outcome::not_sent())
        .respond(Outcome::timed_out())
        .respond(Outcome::connection_dropped())
        .respond(captured("c-1").body("{\"half\": true}").body_cut_off());
    let client = single_attempt(&mock);
    let mut errors = Vec::new();
    for _ in 0..4 {
        errors.push(
            client
                .capture_order(&order_id(), &capture())
                .await
                .unwrap_err(),
        );
    }
    assert!(
        matches!(errors[0].kind(), ErrorKind::NotSent(e) if e.is_connect()),
        "{:?}",
        errors[0]
    );
    assert!(!errors[0].may_have_reached_klarna());
    assert!(
        matches!(errors[1].kind(), ErrorKind::NoResponse(e) if e.is_timeout()),
        "{:?}",
        errors[1]
    );
    assert!(
        matches!(errors[2].kind(), ErrorKind::NoResponse(e) if !e.is_timeout()),
        "{:?}",
        errors[2]
    );
    assert!(
        matches!(errors[3].kind(), ErrorKind::IncompleteResponse { details, .. } if details.status == 201),
        "{:?}",
        errors[3]
    );
    assert_eq!(errors[3].status(), Some(201));
    for error in &errors {
        assert!(error.idempotency_key().is_some(), "{error}");
    }
    // The timeout passed on the mock's clock: the attempt's 30 s.
    assert_eq!(mock.elapsed(), Duration::from_secs(30));
}

#[tokio::test]
async fn a_delay_shorter_than_the_timeout_is_waited_on_the_mock_clock() {
    let mock = Mock::new();
    mock.on(&operations::GET_ORDER)
        .respond(Outcome::json(200, &order()).delay(Duration::from_secs(2)))
        .respond(Outcome::json(200, &order()).delay(Duration::from_secs(31)));
    let client = single_attempt(&mock);
    client.get_order(&order_id()).await.unwrap();
    assert_eq!(mock.elapsed(), Duration::from_secs(2));
    let error = client.get_order(&order_id()).await.unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::NoResponse(e) if e.is_timeout()),
        "{error:?}"
    );
    assert_eq!(mock.elapsed(), Duration::from_secs(32));
}

#[tokio::test]
async fn sequences_repeat_and_predicates_pick_requests() {
    let mock = Mock::new();
    mock.on_request(|r| r.path.contains("/orders/special"))
        .always(Outcome::status(404));
    mock.on(&operations::GET_ORDER)
        .respond(Outcome::status(403))
        .always(Outcome::json(200, &order()));
    let client = single_attempt(&mock);
    let statuses = [
        client.get_order(&order_id()).await.map(|r| r.status()),
        client
            .get_order(&OrderId::new("special"))
            .await
            .map(|r| r.status()),
        client.get_order(&order_id()).await.map(|r| r.status()),
        client.get_order(&order_id()).await.map(|r| r.status()),
    ]
    .map(|result| result.unwrap_or_else(|e| e.status().unwrap()));
    assert_eq!(statuses, [403, 404, 200, 200]);
}

#[tokio::test]
async fn every_request_is_recorded_as_it_would_be_sent() {
    let mock = Mock::new();
    mock.on(&operations::CAPTURE_ORDER).respond(captured("c-1"));
    mock.on(&operations::GET_ORDER)
        .respond(Outcome::json(200, &order()));
    let client = client(&mock);
    client
        .capture_order(&OrderId::new("o/1"), &capture())
        .idempotency_key(IdempotencyKey::from("key-1"))
        .await
        .unwrap();
    // A query, through the call builder the generated code uses.
    let mut call = Call::new(
        client.runtime(),
        &operations::GET_ORDER,
        "/ordermanagement/v1/orders/o",
    );
    call.query("expand", "lines & more");
    call.send::<()>().await.unwrap();

    let [captured, read] = <[_; 2]>::try_from(mock.requests()).unwrap();
    assert_eq!(captured.operation, "capture_order");
    assert_eq!(captured.method, "POST");
    assert_eq!(captured.path, "/ordermanagement/v1/orders/o%2F1/captures");
    assert_eq!(captured.query, None);
    assert_eq!(captured.idempotency_key(), Some("key-1"));
    assert_eq!(captured.header("content-type"), Some("application/json"));
    assert!(captured
        .header("authorization")
        .unwrap()
        .starts_with("Basic "));
    assert!(captured
        .header("user-agent")
        .unwrap()
        .starts_with("klarna-rust-sdk/"));
    assert_eq!(
        captured.json::<serde_json::Value>().unwrap(),
        json!({ "captured_amount": 6000 })
    );
    assert_eq!(read.method, "GET");
    assert_eq!(read.query.as_deref(), Some("expand=lines%20%26%20more"));
    assert!(read.body.is_empty());
    assert_eq!(mock.requests_for(&operations::GET_ORDER).len(), 1);
}

#[tokio::test]
async fn an_unscripted_operation_fails_at_once_naming_it() {
    let mock = Mock::new();
    mock.on(&operations::GET_ORDER)
        .respond(Outcome::json(200, &order()));
    let client = client(&mock);
    let error = client
        .capture_order(&order_id(), &capture())
        .await
        .unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::NotSent(_)), "{error:?}");
    assert_eq!(error.attempts(), 1, "not retried");
    assert!(
        error
            .to_string()
            .contains("no outcome scripted for capture_order (POST /ordermanagement/v1/orders/"),
        "{error}"
    );
    client.get_order(&order_id()).await.unwrap();
    let error = client.get_order(&order_id()).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("the 1 outcomes scripted for get_order"),
        "{error}"
    );
}

/// An id of `..` would make `.../captures/../shipping-info` the order's
/// shipping info once a proxy or the URL parser resolves it: refused before
/// anything is sent, as an empty id or `.` is.
#[tokio::test]
async fn dot_and_empty_path_parameters_are_refused_before_sending() {
    let mock = Mock::new();
    mock.on(&operations::GET_ORDER)
        .always(Outcome::json(200, &order()));
    let client = client(&mock);
    for id in ["..", ".", ""] {
        let error = client.get_order(&OrderId::new(id)).await.unwrap_err();
        assert!(
            matches!(error.kind(), ErrorKind::NotSent(_)),
            "{id:?}: {error:?}"
        );
        assert!(!error.may_have_reached_klarna());
        assert!(error.to_string().contains("empty, `.` or `..`"), "{error}");
    }
    assert!(mock.requests().is_empty());
    // Dots inside an id are fine.
    client.get_order(&OrderId::new("a..b")).await.unwrap();
    client.get_order(&OrderId::new("...")).await.unwrap();
    assert_eq!(mock.requests().len(), 2);
}

/// A capture sent, its answer lost, then the retries refused a
/// connection: the last attempt was not sent, but the capture may have
/// happened, and the error must say so.
#[tokio::test]
async fn not_sent_after_a_lost_attempt_may_still_have_reached_klarna() {
    let mock = Mock::new();
    mock.on(&operations::CAPTURE_ORDER)
        .respond(Outcome::connection_dropped())
        .always(Outcome::not_sent());
    let error = client(&mock)
        .capture_order(&order_id(), &capture())
        .await
        .unwrap_err();
    assert_eq!(mock.requests().len(), 3);
    assert!(matches!(error.kind(), ErrorKind::NotSent(_)), "{error:?}");
    assert!(error.may_have_reached_klarna(), "{error}");
    let text = error.to_string();
    assert!(
        text.contains("an earlier one may have reached Klarna"),
        "{text}"
    );
    assert!(!text.contains("nothing reached Klarna"), "{text}");
    assert!(text.contains("retry with idempotency key"), "{text}");

    // Refused every time: nothing reached Klarna.
    let mock = Mock::new();
    mock.on(&operations::CAPTURE_ORDER)
        .always(Outcome::not_sent());
    let error = client(&mock)
        .capture_order(&order_id(), &capture())
        .await
        .unwrap_err();
    assert_eq!(mock.requests().len(), 3);
    assert!(!error.may_have_reached_klarna(), "{error}");
}

#[tokio::test]
async fn three_attempts_take_no_real_time_and_back_off_on_the_mock_clock() {
    let mock = Mock::new();
    mock.on(&operations::GET_ORDER)
        .respond(Outcome::status(503))
        .respond(Outcome::connection_dropped())
        .respond(Outcome::json(200, &order()));
    let done = client(&mock).get_order(&order_id()).await.unwrap();
    assert_eq!(*done, order());
    assert_eq!(mock.requests().len(), 3);
    // The default policy waits below 200 ms, then below 400 ms: virtual time.
    assert!(
        mock.elapsed() < Duration::from_millis(600),
        "{:?}",
        mock.elapsed()
    );
}

#[tokio::test]
async fn fakes_can_build_a_response_with_status_headers_and_key() {
    let mut headers = klarna_runtime::http::HeaderMap::new();
    headers.insert("klarna-correlation-id", "c-1".parse().unwrap());
    let response = klarna_runtime::Response::new(201, ())
        .with_headers(headers)
        .with_idempotency_key("k-1");
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["klarna-correlation-id"], "c-1");
    assert_eq!(response.idempotency_key().map(|k| k.as_str()), Some("k-1"));
}
