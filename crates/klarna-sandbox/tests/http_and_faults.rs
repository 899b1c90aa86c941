//! The sandbox at the byte level: persistent and closing connections,
//! malformed requests, and the fault knobs. Plain sockets, not the
//! generated client, so what is checked is the server alone, whatever retry
//! policy the client has.

use std::io::Read;
use std::time::Duration;

use klarna_sandbox::{LoggedRequest, NewOrder, Sandbox};

mod support;

use klarna_models::ordermanagement::OrderId;
use support::{get, order_path, post, Connection, AUTH};

fn seeded() -> (Sandbox, OrderId) {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.add_order(NewOrder::new(10_000, "EUR"));
    (sandbox, id)
}

fn captures(sandbox: &Sandbox, id: &OrderId) -> usize {
    sandbox.order(id).unwrap().captures.unwrap().len()
}

// ---------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------

#[test]
fn one_connection_carries_many_requests() {
    let (sandbox, id) = seeded();
    let mut connection = Connection::open(&sandbox);
    for _ in 0..3 {
        let reply = connection.exchange(&get(&order_path(&id)));
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("connection"), Some("keep-alive"));
        assert_eq!(reply.json()["order_id"], id.as_str());
    }
    let capture = post(
        &format!("{}/captures", order_path(&id)),
        "",
        r#"{"captured_amount":100}"#,
    );
    assert_eq!(connection.exchange(&capture).status, 201);
    assert_eq!(connection.exchange(&get(&order_path(&id))).status, 200);
}

#[test]
fn connection_close_is_honoured() {
    let (sandbox, id) = seeded();
    let mut connection = Connection::open(&sandbox);
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\n{AUTH}\r\n",
        order_path(&id)
    );
    let reply = connection.exchange(&request);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(connection.is_closed());

    let mut connection = Connection::open(&sandbox);
    let request = format!("GET {} HTTP/1.0\r\n{AUTH}\r\n", order_path(&id));
    assert_eq!(connection.exchange(&request).status, 200);
    assert!(connection.is_closed(), "HTTP/1.0 closes by default");
}

#[test]
fn expect_continue_gets_an_interim_answer() {
    let (sandbox, id) = seeded();
    let mut connection = Connection::open(&sandbox);
    let body = r#"{"captured_amount":100}"#;
    connection.send(
        format!(
            "POST {}/captures HTTP/1.1\r\n{AUTH}Expect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            order_path(&id),
            body.len()
        )
        .as_bytes(),
    );
    assert_eq!(connection.read().unwrap().status, 100);
    connection.send(body.as_bytes());
    assert_eq!(connection.read().unwrap().status, 201);
}

#[test]
fn ids_in_paths_are_percent_decoded() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.add_order(NewOrder::new(1, "EUR").order_id("order/1 ä"));
    let mut connection = Connection::open(&sandbox);
    let reply = connection.exchange(&get(&order_path("order%2F1%20%C3%A4")));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["order_id"], "order/1 ä");
    let reply = connection.exchange(&get(&order_path("order%zz")));
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error_code(), "BAD_VALUE");
}

// ---------------------------------------------------------------------------
// Requests the sandbox refuses
// ---------------------------------------------------------------------------

/// Sends bytes that are not an acceptable request: the answer is a Klarna
/// error body, and the connection closes, since where the next request
/// would start is unknown.
fn refused_and_closed(raw: &[u8]) -> (u16, String) {
    let (sandbox, _) = seeded();
    let mut connection = Connection::open(&sandbox);
    connection.send(raw);
    let reply = connection.read().expect("an answer");
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(connection.is_closed());
    // The server still serves others.
    let mut other = Connection::open(&sandbox);
    assert_eq!(other.exchange(&get("/nowhere")).status, 404);
    (reply.status, reply.error_code())
}

#[test]
fn malformed_requests_get_400_and_a_closed_connection() {
    let bad = (400, "BAD_VALUE".to_owned());
    assert_eq!(refused_and_closed(b"GARBAGE\r\n\r\n"), bad);
    assert_eq!(refused_and_closed(b"GET / HTTP/1.1 extra\r\n\r\n"), bad);
    assert_eq!(refused_and_closed(b"get / HTTP/1.1\r\n\r\n"), bad);
    assert_eq!(refused_and_closed(b"GET / HTTP/2.0\r\n\r\n"), bad);
    assert_eq!(refused_and_closed(b"GET nowhere HTTP/1.1\r\n\r\n"), bad);
    assert_eq!(refused_and_closed(b"\xff\xfe\r\n\r\n"), bad);
    assert_eq!(
        refused_and_closed(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n"),
        bad
    );
    assert_eq!(
        refused_and_closed(b"GET / HTTP/1.1\r\nContent-Length: lots\r\n\r\n"),
        bad
    );
    assert_eq!(
        refused_and_closed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        bad
    );
    let many_headers = format!("GET / HTTP/1.1\r\n{}\r\n", "X-A: b\r\n".repeat(101));
    assert_eq!(refused_and_closed(many_headers.as_bytes()), bad);
}

#[test]
fn a_malformed_payment_api_request_gets_the_payment_api_error_shape() {
    let sandbox = Sandbox::start().unwrap();
    for (raw, status) in [
        (
            &b"POST /v1/payment/requests HTTP/1.1\r\nContent-Length: lots\r\n\r\n"[..],
            400,
        ),
        (b"get /v1/payment/requests HTTP/1.1\r\n\r\n", 400),
        (
            b"POST /v1/payment/requests HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n",
            413,
        ),
    ] {
        let mut connection = Connection::open(&sandbox);
        connection.send(raw);
        let reply = connection.read().expect("an answer");
        assert_eq!(reply.status, status);
        let body = reply.json();
        assert_eq!(body["error_type"], "INPUT_ERROR", "{body}");
        assert_eq!(body["error_code"], "VALIDATION_ERROR");
        assert_eq!(body["error_id"].as_str().map(str::len), Some(36));
        assert!(
            body.get("correlation_id").is_none(),
            "not Order Management's shape"
        );
        assert!(connection.is_closed());
    }
}

#[test]
fn oversized_requests_are_refused_before_they_are_read() {
    let huge_body = b"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n";
    assert_eq!(refused_and_closed(huge_body), (413, "BAD_VALUE".to_owned()));
    let huge_head = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(70_000));
    assert_eq!(
        refused_and_closed(huge_head.as_bytes()),
        (431, "BAD_VALUE".to_owned())
    );
}

#[test]
fn a_body_that_is_not_the_operations_json_is_bad_value() {
    let (sandbox, id) = seeded();
    let mut connection = Connection::open(&sandbox);
    let captures_path = format!("{}/captures", order_path(&id));
    for body in [
        "not json",
        "{}",
        r#"{"captured_amount":"lots"}"#,
        r#"{"captured_amount":-1}"#,
        r#"{"captured_amount":9223372036854775807}"#,
        "",
    ] {
        let reply = connection.exchange(&post(&captures_path, "", body));
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(reply.error_code(), "BAD_VALUE", "{body}");
    }
    let reply = connection.exchange(&post(
        &format!("{}/shipping-info", order_path(&id)),
        "",
        r#"{"shipping_info":[]}"#,
    ));
    assert_eq!(reply.status, 400);
    // A well-framed request with a bad body leaves the connection usable.
    assert_eq!(connection.exchange(&get(&order_path(&id))).status, 200);
    assert_eq!(captures(&sandbox, &id), 0);
}

#[test]
fn missing_credentials_unknown_paths_and_wrong_methods() {
    let (sandbox, id) = seeded();
    let mut connection = Connection::open(&sandbox);
    let anonymous = format!("GET {} HTTP/1.1\r\n\r\n", order_path(&id));
    let reply = connection.exchange(&anonymous);
    assert_eq!(reply.status, 401);
    assert_eq!(reply.error_code(), "UNAUTHORIZED");

    for path in [
        "/".to_owned(),
        "/ordermanagement/v1/orders/".to_owned(),
        format!("{}/nothing", order_path(&id)),
        format!("{}/captures/a/b/c", order_path(&id)),
        format!("{}//captures", order_path(&id)),
    ] {
        assert_eq!(connection.exchange(&get(&path)).status, 404, "{path}");
    }

    let reply = connection.exchange(&post(&order_path(&id), "", "{}"));
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET"));
    let delete = format!("DELETE {}/captures HTTP/1.1\r\n{AUTH}\r\n", order_path(&id));
    assert_eq!(
        connection.exchange(&delete).header("allow"),
        Some("GET, POST")
    );
}

// ---------------------------------------------------------------------------
// Fault knobs
// ---------------------------------------------------------------------------

#[test]
fn failed_requests_get_503_and_have_no_effect() {
    let (sandbox, id) = seeded();
    sandbox.fail_next_requests(2);
    let capture = post(
        &format!("{}/captures", order_path(&id)),
        "Klarna-Idempotency-Key: ship-1\r\n",
        r#"{"captured_amount":100}"#,
    );
    let mut connection = Connection::open(&sandbox);
    for _ in 0..2 {
        let reply = connection.exchange(&capture);
        assert_eq!(reply.status, 503);
        assert_eq!(reply.error_code(), "SERVICE_UNAVAILABLE");
        assert_eq!(captures(&sandbox, &id), 0);
    }
    // The key was never used: the third attempt is the first that counts.
    assert_eq!(connection.exchange(&capture).status, 201);
    assert_eq!(captures(&sandbox, &id), 1);
    let statuses: Vec<_> = sandbox.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(503), Some(503), Some(201)]);
}

#[test]
fn a_dropped_connection_loses_the_answer_not_the_capture() {
    let (sandbox, id) = seeded();
    sandbox.drop_next_connections(1);
    let capture = post(
        &format!("{}/captures", order_path(&id)),
        "Klarna-Idempotency-Key: ship-1\r\n",
        r#"{"captured_amount":100}"#,
    );
    let mut connection = Connection::open(&sandbox);
    connection.send(capture.as_bytes());
    assert!(connection.read().is_none(), "no answer");
    let order = sandbox.order(&id).unwrap();
    assert_eq!(order.captured_amount, Some(100), "the capture happened");
    let capture_id = order.captures.unwrap()[0].capture_id.clone().unwrap();

    // The retry with the same key gets the answer the client missed.
    let mut retry = Connection::open(&sandbox);
    let reply = retry.exchange(&capture);
    assert_eq!(reply.status, 201);
    assert_eq!(reply.header("capture-id"), Some(capture_id.as_str()));
    assert_eq!(captures(&sandbox, &id), 1);

    let path = format!("{}/captures", order_path(&id));
    let attempt = |status| LoggedRequest {
        method: "POST".into(),
        path: path.clone(),
        idempotency_key: Some("ship-1".into()),
        status,
    };
    assert_eq!(sandbox.requests(), [attempt(None), attempt(Some(201))]);
}

#[test]
fn failures_come_before_drops() {
    let (sandbox, id) = seeded();
    sandbox.drop_next_connections(1);
    sandbox.fail_next_requests(1);
    let mut connection = Connection::open(&sandbox);
    assert_eq!(connection.exchange(&get(&order_path(&id))).status, 503);
    connection.send(get(&order_path(&id)).as_bytes());
    assert!(connection.read().is_none());
    let mut connection = Connection::open(&sandbox);
    assert_eq!(connection.exchange(&get(&order_path(&id))).status, 200);
}

#[test]
fn delayed_answers_hold_back_until_turned_off_or_dropped() {
    let (sandbox, id) = seeded();
    sandbox.delay_responses(Duration::from_secs(600));
    let mut slow = Connection::open(&sandbox);
    slow.writer
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    slow.send(get(&order_path(&id)).as_bytes());
    let mut byte = [0u8; 1];
    let error = slow.reader.read(&mut byte).unwrap_err();
    assert!(
        matches!(
            error.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{error:?}"
    );

    sandbox.delay_responses(Duration::ZERO);
    let mut fast = Connection::open(&sandbox);
    assert_eq!(fast.exchange(&get(&order_path(&id))).status, 200);
    // Dropping the sandbox ends the 600 s wait of the first request at
    // once; a hang here is the failure.
    drop(sandbox);
}
