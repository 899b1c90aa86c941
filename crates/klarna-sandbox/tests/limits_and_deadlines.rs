//! What the sandbox promises a CI suite under load: every connection gets
//! an answer (`200`, or `503` with `Retry-After` when full), idle
//! keep-alive connections make room for new ones, slow clients meet
//! deadlines while health checks keep answering, and idempotency keys are
//! not forgotten because of other orders' traffic. Plain sockets over
//! loopback; every loop is bounded in count and time.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use klarna_models::ordermanagement::OrderId;
use klarna_models::payment_api::{PaymentRequestId, PaymentTransactionId};
use klarna_sandbox::{NewOrder, Sandbox};
use support::{get, order_path, post, Connection, AUTH};

fn connections(sandbox: &Sandbox, count: usize) -> Vec<Connection> {
    (0..count).map(|_| Connection::open(sandbox)).collect()
}

/// Sends `request` on every connection, then reads every answer: the
/// server holds all of them at once. Returns the statuses, `None` for a
/// connection closed without an answer.
fn all_at_once(connections: &mut [Connection], request: &str) -> Vec<Option<u16>> {
    for connection in connections.iter_mut() {
        // The read below reports a connection the server closed.
        let _ = connection.writer.write_all(request.as_bytes());
    }
    connections
        .iter_mut()
        .map(|connection| {
            let reply = connection.read()?;
            if reply.status == 503 {
                assert_eq!(reply.header("retry-after"), Some("1"));
                assert_eq!(reply.error_code(), "SERVICE_UNAVAILABLE");
            }
            Some(reply.status)
        })
        .collect()
}

#[test]
fn two_hundred_concurrent_connections_each_get_an_answer() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.add_order(NewOrder::new(100, "EUR"));
    let mut open = connections(&sandbox, 200);
    let statuses = all_at_once(&mut open, &get(&order_path(&id)));
    assert_eq!(statuses, vec![Some(200); 200]);
}

#[test]
fn beyond_the_limit_connections_get_503_with_retry_after_never_silence() {
    let sandbox = Sandbox::builder().max_connections(20).start().unwrap();
    let id = sandbox.add_order(NewOrder::new(100, "EUR"));
    // Twenty connections busy with a request that has not finished.
    let mut busy = connections(&sandbox, 20);
    for connection in &mut busy {
        connection.send(b"GET / HTTP/1.1\r\n");
    }
    // Give the server a moment to admit them; then each newcomer is full.
    std::thread::sleep(Duration::from_millis(200));
    let mut late = connections(&sandbox, 50);
    let statuses = all_at_once(&mut late, &get(&order_path(&id)));
    assert_eq!(statuses, vec![Some(503); 50]);
    // In the API's shape of the path asked for.
    let mut payment = Connection::open(&sandbox);
    payment.send(b"GET /v1/payment/requests/x HTTP/1.1\r\n\r\n");
    let reply = payment.read().expect("an answer");
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json()["error_code"], "TEMPORARILY_UNAVAILABLE");
    // The busy ones still finish their requests.
    for connection in &mut busy {
        assert_eq!(connection.exchange(&format!("{AUTH}\r\n")).status, 404);
    }
}

#[test]
fn a_client_holding_64_idle_connections_does_not_lock_out_another() {
    for sandbox in [
        Sandbox::start().unwrap(),
        Sandbox::builder().max_connections(64).start().unwrap(),
    ] {
        let id = sandbox.add_order(NewOrder::new(100, "EUR"));
        // The first client: 64 pooled connections, each used once, now idle.
        let mut pooled = connections(&sandbox, 64);
        for connection in &mut pooled {
            assert_eq!(connection.exchange(&get(&order_path(&id))).status, 200);
        }
        // The second client is served at once: no waiting for the first
        // client's idle timeout.
        let mut second = Connection::open(&sandbox);
        second
            .writer
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(second.exchange(&get(&order_path(&id))).status, 200);
    }
}

#[test]
fn the_longest_idle_connection_is_closed_first_to_make_room() {
    let sandbox = Sandbox::builder().max_connections(2).start().unwrap();
    let id = sandbox.add_order(NewOrder::new(100, "EUR"));
    let mut oldest = Connection::open(&sandbox);
    assert_eq!(oldest.exchange(&get(&order_path(&id))).status, 200);
    std::thread::sleep(Duration::from_millis(50));
    let mut newer = Connection::open(&sandbox);
    assert_eq!(newer.exchange(&get(&order_path(&id))).status, 200);
    let mut third = Connection::open(&sandbox);
    assert_eq!(third.exchange(&get(&order_path(&id))).status, 200);
    assert!(oldest.is_closed(), "the longest idle made room");
    assert_eq!(newer.exchange(&get(&order_path(&id))).status, 200);
}

#[test]
fn health_answers_within_a_second_during_a_slowloris() {
    // A 3 s head deadline keeps the attack short; the default is 10 s.
    let head_timeout = Duration::from_secs(3);
    let sandbox = Sandbox::builder()
        .head_timeout(head_timeout)
        .start()
        .unwrap();
    let addr = sandbox.base_url().trim_start_matches("http://").to_owned();
    let attack_started = Instant::now();
    let mut attackers: Vec<TcpStream> = (0..70)
        .map(|_| {
            let stream = TcpStream::connect(&addr).unwrap();
            // Each round peeks for an answer without waiting long.
            stream
                .set_read_timeout(Some(Duration::from_millis(5)))
                .unwrap();
            stream
        })
        .collect();
    let slowloris = std::thread::spawn(move || {
        let head = b"GET /ordermanagement/v1/orders/x HTTP/1.1\r\nX-Slow: ";
        let mut answers = vec![String::new(); attackers.len()];
        // One byte per second per connection, for at most 20 s; a
        // connection that was answered gets no more bytes (writing to it
        // after the server closed would reset it).
        for second in 0..20 {
            for (stream, answer) in attackers.iter_mut().zip(&mut answers) {
                if !answer.is_empty() {
                    continue;
                }
                let mut buf = [0u8; 4096];
                if let Ok(n) = stream.read(&mut buf) {
                    *answer = String::from_utf8_lossy(&buf[..n]).into_owned();
                    continue;
                }
                let byte = head.get(second).copied().unwrap_or(b'a');
                let _ = stream.write_all(&[byte]);
            }
            if answers.iter().all(|answer| !answer.is_empty()) {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        answers
    });

    // Health checks throughout the attack, each on a fresh connection.
    let mut checks = 0;
    while attack_started.elapsed() < head_timeout + Duration::from_secs(1) {
        let mut health = Connection::open(&sandbox);
        health
            .writer
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        let asked = Instant::now();
        let reply = health.exchange(&get("/health"));
        assert_eq!(reply.status, 200);
        assert!(asked.elapsed() < Duration::from_secs(1));
        checks += 1;
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(checks >= 8, "{checks} health checks");

    // Every attacker was answered 408 once its head deadline passed.
    let answers = slowloris.join().unwrap();
    for answer in answers {
        assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
        assert!(answer.contains("REQUEST_TIMEOUT"), "{answer:?}");
    }
    assert!(attack_started.elapsed() < Duration::from_secs(25));
}
#[test]
fn a_body_slower_than_its_deadline_gets_408() {
    let sandbox = Sandbox::builder()
        .body_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let id = sandbox.add_order(NewOrder::new(100, "EUR"));
    let mut connection = Connection::open(&sandbox);
    connection.send(
        format!(
            "POST {}/captures HTTP/1.1\r\n{AUTH}Content-Length: 100\r\n\r\n{{\"captured",
            order_path(&id)
        )
        .as_bytes(),
    );
    let reply = connection.read().expect("an answer");
    assert_eq!(reply.status, 408);
    assert_eq!(reply.error_code(), "REQUEST_TIMEOUT");
    assert!(connection.is_closed());
    assert_eq!(sandbox.order(&id).unwrap().captured_amount, Some(0));
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_its_own_timeout() {
    let sandbox = Sandbox::builder()
        .idle_timeout(Duration::from_millis(300))
        .start()
        .unwrap();
    let id = sandbox.add_order(NewOrder::new(100, "EUR"));
    let mut connection = Connection::open(&sandbox);
    assert_eq!(connection.exchange(&get(&order_path(&id))).status, 200);
    let idle = Instant::now();
    // Closed without a word: no request had begun.
    assert!(connection.is_closed());
    assert!(idle.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_key_replayed_after_20000_keyed_requests_on_other_orders_makes_no_second_capture() {
    let sandbox = Sandbox::start().unwrap();
    let id = sandbox.add_order(NewOrder::new(10_000, "EUR"));
    let capture = post(
        &format!("{}/captures", order_path(&id)),
        "Klarna-Idempotency-Key: the-one\r\n",
        r#"{"captured_amount":100}"#,
    );
    let mut connection = Connection::open(&sandbox);
    let first = connection.exchange(&capture);
    assert_eq!(first.status, 201);

    // 20 000 keyed captures on 40 other orders, over four connections.
    let others: Vec<OrderId> = (0..40)
        .map(|_| sandbox.add_order(NewOrder::new(1_000_000, "EUR")))
        .collect();
    std::thread::scope(|scope| {
        for (lane, orders) in others.chunks(10).enumerate() {
            let sandbox = &sandbox;
            scope.spawn(move || {
                let mut connection = Connection::open(sandbox);
                for n in 0..5_000 {
                    let order = &orders[n % orders.len()];
                    let request = post(
                        &format!("{}/captures", order_path(order)),
                        &format!("Klarna-Idempotency-Key: other-{lane}-{n}\r\n"),
                        r#"{"captured_amount":1}"#,
                    );
                    assert_eq!(connection.exchange(&request).status, 201);
                }
            });
        }
    });

    let replay = connection.exchange(&capture);
    assert_eq!(replay.status, 201);
    assert_eq!(replay.header("capture-id"), first.header("capture-id"));
    let order = sandbox.order(&id).unwrap();
    assert_eq!(order.captures.unwrap().len(), 1, "no second capture");
    assert_eq!(order.captured_amount, Some(100));
}

#[test]
fn a_full_order_refuses_new_keys_rather_than_forget_old_ones() {
    let sandbox = Sandbox::builder()
        .idempotency_keys_per_resource(3)
        .start()
        .unwrap();
    let id = sandbox.add_order(NewOrder::new(10_000, "EUR"));
    let mut connection = Connection::open(&sandbox);
    let capture = |key: &str| {
        post(
            &format!("{}/captures", order_path(&id)),
            &format!("Klarna-Idempotency-Key: {key}\r\n"),
            r#"{"captured_amount":100}"#,
        )
    };
    for key in ["a", "b", "c"] {
        assert_eq!(connection.exchange(&capture(key)).status, 201);
    }
    let refused = connection.exchange(&capture("d"));
    assert_eq!(refused.status, 429);
    assert_eq!(refused.error_code(), "TOO_MANY_REQUESTS");
    // The first key still replays, and nothing was captured twice.
    assert_eq!(connection.exchange(&capture("a")).status, 201);
    assert_eq!(sandbox.order(&id).unwrap().captured_amount, Some(300));
    // Another order is not affected.
    let other = sandbox.add_order(NewOrder::new(10_000, "EUR"));
    let request = post(
        &format!("{}/captures", order_path(&other)),
        "Klarna-Idempotency-Key: d\r\n",
        r#"{"captured_amount":100}"#,
    );
    assert_eq!(connection.exchange(&request).status, 201);
}

#[test]
fn a_key_past_its_retention_is_new() {
    let sandbox = Sandbox::builder()
        .idempotency_retention(Duration::from_millis(200))
        .start()
        .unwrap();
    let id = sandbox.add_order(NewOrder::new(10_000, "EUR"));
    let capture = post(
        &format!("{}/captures", order_path(&id)),
        "Klarna-Idempotency-Key: k\r\n",
        r#"{"captured_amount":100}"#,
    );
    let mut connection = Connection::open(&sandbox);
    assert_eq!(connection.exchange(&capture).status, 201);
    assert_eq!(connection.exchange(&capture).status, 201);
    assert_eq!(sandbox.order(&id).unwrap().captured_amount, Some(100));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(connection.exchange(&capture).status, 201);
    assert_eq!(sandbox.order(&id).unwrap().captured_amount, Some(200));
}

/// A Payment API call on partner account `acc`.
fn payment_call(method: &str, path: &str, key: Option<&str>, body: &str) -> String {
    let key = key.map_or(String::new(), |key| {
        format!("Klarna-Idempotency-Key: {key}\r\n")
    });
    format!(
        "{method} {path} HTTP/1.1\r\nAuthorization: Basic a2V5\r\nKlarna-Partner-Account: acc\r\n{key}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// An authorized payment transaction of 10 000 EUR cents; its id.
fn transaction(sandbox: &Sandbox, connection: &mut Connection) -> String {
    let purchase = r#"{"currency":"EUR","payment_amount":10000}"#;
    let created = connection.exchange(&payment_call(
        "POST",
        "/v1/payment/requests",
        None,
        purchase,
    ));
    assert_eq!(created.status, 201);
    let request_id = PaymentRequestId::new(created.json()["payment_request_id"].as_str().unwrap());
    let token = sandbox.authorize_payment_request(&request_id).unwrap();
    let confirmed = connection.exchange(&payment_call(
        "POST",
        &format!("/v1/payment/confirmation-tokens/{token}/confirm"),
        None,
        purchase,
    ));
    assert_eq!(confirmed.status, 200);
    confirmed.json()["state_context"]["payment_transaction_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn payment_api_keys_are_kept_per_transaction_whatever_other_transactions_do() {
    let sandbox = Sandbox::builder()
        .idempotency_keys_per_resource(100)
        .start()
        .unwrap();
    let mut connection = Connection::open(&sandbox);
    let (first, other) = (
        transaction(&sandbox, &mut connection),
        transaction(&sandbox, &mut connection),
    );
    let captures = |id: &str| format!("/v1/accounts/acc/payment/transactions/{id}/captures");
    let refunds = |id: &str| format!("/v1/accounts/acc/payment/transactions/{id}/refunds");
    let capture = payment_call(
        "POST",
        &captures(&first),
        Some("c"),
        r#"{"capture_amount":500}"#,
    );
    let refund = payment_call(
        "POST",
        &refunds(&first),
        Some("r"),
        r#"{"refund_amount":200}"#,
    );
    let captured = connection.exchange(&capture);
    assert_eq!(captured.status, 201);
    assert_eq!(connection.exchange(&refund).status, 201);

    // 500 keyed captures on the other transaction: it fills up (then 429),
    // the first transaction's keys stay.
    let mut statuses = Vec::new();
    for n in 0..500 {
        let key = format!("other-{n}");
        let request = payment_call(
            "POST",
            &captures(&other),
            Some(&key),
            r#"{"capture_amount":1}"#,
        );
        statuses.push(connection.exchange(&request).status);
    }
    assert!(statuses[..100].iter().all(|&s| s == 201));
    assert!(statuses[100..].iter().all(|&s| s == 429));

    let replayed = connection.exchange(&capture);
    assert_eq!(replayed.status, 201);
    assert!(captured.json()["payment_capture_id"].is_string());
    assert_eq!(
        replayed.json()["payment_capture_id"],
        captured.json()["payment_capture_id"]
    );
    assert_eq!(connection.exchange(&refund).status, 201);
    let state = sandbox
        .payment_transaction(&PaymentTransactionId::new(&first))
        .unwrap();
    assert_eq!(
        state.captures.map(|c| c.len()),
        Some(1),
        "no second capture"
    );
    assert_eq!(state.refunds.map(|r| r.len()), Some(1), "no second refund");
}
