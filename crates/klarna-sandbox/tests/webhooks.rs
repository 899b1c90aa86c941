//! Signed webhooks end to end on loopback: the sandbox's Notification API
//! (through the generated client), its deliveries and retries, and the
//! example's receiver verifying, deduplicating and refusing.

#[path = "../examples/webhook-receiver/receiver.rs"]
mod receiver;
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use klarna_models::payment_api::webhooks::{
    EventPayload, SigningKeys, WebhookEvent, PAYMENT_REQUEST_AUTHORIZED,
    PAYMENT_REQUEST_PENDING_CONFIRMATION, PAYMENT_REQUEST_SUBMITTED,
};
use klarna_models::payment_api::PaymentRequestState;
use klarna_payments::notifications::models::{
    ErrorResponse, ErrorType, EventType, EventVersion, SigningKeyCreated, Webhook, WebhookData,
    WebhookUpdate,
};
use klarna_payments::notifications::{
    self, CreateSigningKeyError, CreateWebhookError, DeleteSigningKeyError, GetWebhookError,
    IdempotencyKey, ListWebhooksError, SigningKeyId, WebhookId, WebhookSigningKeys, Webhooks,
};
use klarna_payments::payment_api::models::{PaymentConfirmation, PaymentRequestData};
use klarna_payments::payment_api::{self, Config, Credentials, PaymentRequests, RetryPolicy};
use klarna_sandbox::Sandbox;
use receiver::Receiver;

const WAIT: Duration = Duration::from_secs(10);

/// The sandbox as `account` reaches it, without retries.
fn config(sandbox: &Sandbox, account: &str) -> Config {
    Config::with_base_url(sandbox.base_url(), Credentials::api_key("key", account))
        .retry(RetryPolicy::never())
}

/// A Notification API client: webhooks and signing keys.
fn client(sandbox: &Sandbox, account: &str) -> notifications::Client {
    notifications::Client::from_config(config(sandbox, account)).unwrap()
}

/// A Payment API client of the same account: what makes the events.
fn payments(sandbox: &Sandbox, account: &str) -> payment_api::Client {
    payment_api::Client::from_config(config(sandbox, account)).unwrap()
}

fn subscription(url: String, key: &SigningKeyCreated) -> WebhookData {
    WebhookData::new(
        url,
        vec![EventType::from("payment.request.state-change.*")],
        EventVersion::V1,
        &key.signing_key_id,
    )
}

fn webhook_id(webhook: &Webhook) -> WebhookId {
    WebhookId::new(&webhook.webhook_id)
}

fn key_id(key: &SigningKeyCreated) -> SigningKeyId {
    SigningKeyId::new(&key.signing_key_id)
}

/// A signing key, a receiver that holds it, and a webhook to the receiver.
async fn subscribed(client: &notifications::Client) -> (Receiver, SigningKeyCreated) {
    let key = client.create_signing_key().await.unwrap().into_inner();
    let receiver =
        Receiver::start(SigningKeys::new().with(&key.signing_key_id, &key.signing_key)).unwrap();
    client
        .create_webhook(&subscription(receiver.url(), &key))
        .await
        .unwrap();
    (receiver, key)
}

fn purchase() -> PaymentRequestData {
    PaymentRequestData {
        merchant_reference: Some("order-1".into()),
        ..PaymentRequestData::new("EUR", 1_000)
    }
}

#[tokio::test]
async fn a_payment_request_gives_three_verified_events() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox, "krn:partner:account:a");
    let payments = payments(&sandbox, "krn:partner:account:a");
    let (receiver, key) = subscribed(&client).await;

    let request = payments.create_payment_request(&purchase()).await.unwrap();
    let token = sandbox
        .authorize_payment_request(&request.payment_request_id)
        .unwrap();
    let confirmation = PaymentConfirmation::new("EUR", 1_000);
    let confirmed = payments
        .confirm_payment_request(&token, &confirmation)
        .await
        .unwrap();

    assert!(receiver.wait_until(WAIT, |r| r.events.len() >= 3));
    let events: Vec<WebhookEvent> = receiver.received(|r| {
        assert!(r.duplicates.is_empty() && r.refused.is_empty());
        r.events.clone()
    });
    let types: Vec<&str> = events
        .iter()
        .map(|e| e.metadata.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        [
            PAYMENT_REQUEST_SUBMITTED,
            PAYMENT_REQUEST_PENDING_CONFIRMATION,
            PAYMENT_REQUEST_AUTHORIZED
        ]
    );
    let changes: Vec<_> = events
        .iter()
        .map(|e| e.payload.payment_request_state_change().unwrap())
        .collect();
    for change in &changes {
        assert_eq!(change.payment_request_id, request.payment_request_id);
        assert_eq!(change.merchant_reference.as_deref(), Some("order-1"));
    }
    assert_eq!(changes[0].previous_state, None);
    assert_eq!(
        changes[1].previous_state,
        Some(PaymentRequestState::Submitted)
    );
    assert_eq!(changes[2].state, PaymentRequestState::Authorized);
    let EventPayload::PaymentRequestAuthorized(authorized) = &events[2].payload else {
        panic!("{:?}", events[2].payload);
    };
    assert_eq!(
        authorized.transaction_id(),
        confirmed
            .state_context
            .as_ref()
            .and_then(|c| c.payment_transaction_id.as_deref())
    );

    // The sandbox's log: one delivered attempt each, signed with the key.
    // (It logs an attempt once the answer is in, just after the receiver
    // has the event.)
    let deliveries = sandbox.wait_for_webhook_deliveries(3, WAIT);
    assert_eq!(deliveries.len(), 3);
    for (delivery, event) in deliveries.iter().zip(&events) {
        assert_eq!(delivery.attempt, 1);
        assert_eq!(delivery.status, Some(200));
        assert!(delivery.delivered);
        assert_eq!(delivery.signing_key_id, key.signing_key_id);
        assert_eq!(delivery.event_id, event.metadata.event_id);
        assert_eq!(delivery.url, receiver.url());
    }
}

#[tokio::test]
async fn a_receiver_answering_500_once_gets_the_event_again_as_a_duplicate() {
    let sandbox = Sandbox::start().unwrap();
    sandbox.set_webhook_retry_delays(&[Duration::from_millis(20)]);
    let client = client(&sandbox, "krn:partner:account:b");
    let (receiver, _) = subscribed(&client).await;
    receiver.fail_next(1);

    payments(&sandbox, "krn:partner:account:b")
        .create_payment_request(&purchase())
        .await
        .unwrap();

    assert!(receiver.wait_until(WAIT, |r| !r.duplicates.is_empty()));
    let deliveries = sandbox.wait_for_webhook_deliveries(2, WAIT);
    let (events, duplicates) = receiver.received(|r| (r.events.clone(), r.duplicates.clone()));
    assert_eq!(events.len(), 1);
    assert_eq!(duplicates, [events[0].metadata.event_id.clone()]);
    let attempts: Vec<_> = deliveries
        .iter()
        .map(|d| (d.attempt, d.status, d.event_id.as_str()))
        .collect();
    let id = events[0].metadata.event_id.as_str();
    assert_eq!(attempts, [(1, Some(500), id), (2, Some(200), id)]);
    // The retry is the same signed body.
    assert_eq!(deliveries[0].body, deliveries[1].body);
    assert!(deliveries[1].at >= deliveries[0].at);
}

#[tokio::test]
async fn a_tampered_event_is_refused_with_400() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox, "krn:partner:account:c");
    let (receiver, _) = subscribed(&client).await;
    payments(&sandbox, "krn:partner:account:c")
        .create_payment_request(&purchase())
        .await
        .unwrap();
    let delivered = sandbox.wait_for_webhook_deliveries(1, WAIT).remove(0);

    // The same signature and key id with one byte of the body changed.
    let mut body = delivered.body.clone();
    let at = body.iter().position(|&b| b == b'1').unwrap();
    body[at] = b'2';
    let status = post(
        &receiver,
        &body,
        &delivered.signature,
        &delivered.signing_key_id,
    );
    assert_eq!(status.as_deref(), Some("400"));
    // And a forged key id.
    let status = post(
        &receiver,
        &delivered.body,
        &delivered.signature,
        "krn:forged",
    );
    assert_eq!(status.as_deref(), Some("400"));

    let (events, refused) = receiver.received(|r| (r.events.len(), r.refused.clone()));
    assert_eq!(events, 1);
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused[0].contains("does not match"), "{refused:?}");
    assert!(refused[1].contains("unknown key id"), "{refused:?}");
}

/// Posts a webhook to the receiver as an attacker would; the status code.
fn post(receiver: &Receiver, body: &[u8], signature: &str, key_id: &str) -> Option<String> {
    let mut stream = TcpStream::connect(receiver.addr()).ok()?;
    stream.set_read_timeout(Some(WAIT)).ok()?;
    let head = format!(
        "POST /klarna/webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\
         Klarna-Signature: {signature}\r\nKlarna-Signing-Key-Id: {key_id}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut answer = String::new();
    stream.take(4096).read_to_string(&mut answer).ok()?;
    answer.split(' ').nth(1).map(str::to_owned)
}

#[tokio::test]
async fn an_unreachable_receiver_is_retried_a_bounded_number_of_times() {
    let sandbox = Sandbox::start().unwrap();
    let delays = [Duration::from_millis(10), Duration::from_millis(20)];
    sandbox.set_webhook_retry_delays(&delays);
    let client = client(&sandbox, "krn:partner:account:d");
    let key = client.create_signing_key().await.unwrap();
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/gone");
    client
        .create_webhook(&subscription(url, &key))
        .await
        .unwrap();
    payments(&sandbox, "krn:partner:account:d")
        .create_payment_request(&purchase())
        .await
        .unwrap();

    let attempts = sandbox.wait_for_webhook_deliveries(3, WAIT);
    let seen: Vec<_> = attempts.iter().map(|d| (d.attempt, d.status)).collect();
    assert_eq!(seen, [(1, None), (2, None), (3, None)]);
    // One attempt per delay after the first, and no more.
    let later = sandbox.wait_for_webhook_deliveries(4, Duration::from_millis(300));
    assert_eq!(later.len(), 3);
}

#[tokio::test]
async fn the_notification_api_keeps_klarnas_rules() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox, "krn:partner:account:e");
    let key = client.create_signing_key().await.unwrap().into_inner();

    // Only loopback targets, and only keys the account holds.
    for url in [
        "https://127.0.0.1:8443/hooks",
        "http://example.com:80/hooks",
    ] {
        let refused = client
            .create_webhook(&subscription(url.into(), &key))
            .await
            .unwrap_err();
        assert!(
            matches!(refused.api_body(), Some(CreateWebhookError::BadRequest(_))),
            "{url}: {refused:?}"
        );
    }
    let mut unknown_key = subscription("http://127.0.0.1:9/h".into(), &key);
    unknown_key.signing_key_id = "krn:none".into();
    let refused = client.create_webhook(&unknown_key).await.unwrap_err();
    assert!(matches!(
        refused.api_body(),
        Some(CreateWebhookError::BadRequest(_))
    ));

    // Create, read, list, update; the same subscription twice is a conflict.
    let data = subscription("http://127.0.0.1:9/h".into(), &key);
    let webhook = client.create_webhook(&data).await.unwrap();
    let again = client.create_webhook(&data).await.unwrap_err();
    assert!(matches!(
        again.api_body(),
        Some(CreateWebhookError::Conflict(_))
    ));
    let read = client.get_webhook(&webhook_id(&webhook)).await.unwrap();
    assert_eq!(read.url, "http://127.0.0.1:9/h");
    let listed = client.list_webhooks().await.unwrap();
    assert_eq!(listed.webhooks.len(), 1);
    let other = client.create_signing_key().await.unwrap().into_inner();
    let moved = WebhookUpdate {
        signing_key_id: Some(other.signing_key_id.clone()),
        ..WebhookUpdate::default()
    };
    let updated = client
        .update_webhook(&webhook_id(&webhook), &moved)
        .await
        .unwrap();
    assert_eq!(updated.signing_key_id, other.signing_key_id);
    assert_eq!(updated.url, "http://127.0.0.1:9/h");

    // Another account sees none of it.
    let stranger = self::client(&sandbox, "krn:partner:account:f");
    let hidden = stranger
        .get_webhook(&webhook_id(&webhook))
        .await
        .unwrap_err();
    assert!(matches!(
        hidden.api_body(),
        Some(GetWebhookError::NotFound(_))
    ));

    // A key in use stays; an unused one goes; a deleted webhook is gone.
    let in_use = client
        .delete_signing_key(&key_id(&other))
        .await
        .unwrap_err();
    assert!(matches!(
        in_use.api_body(),
        Some(DeleteSigningKeyError::Conflict(_))
    ));
    client.delete_signing_key(&key_id(&key)).await.unwrap();
    client.delete_webhook(&webhook_id(&webhook)).await.unwrap();
    client.delete_signing_key(&key_id(&other)).await.unwrap();
    assert!(client.list_webhooks().await.unwrap().webhooks.is_empty());

    // At most 50 signing keys per account.
    for _ in 0..50 {
        client.create_signing_key().await.unwrap();
    }
    let full = client.create_signing_key().await.unwrap_err();
    assert!(matches!(
        full.api_body(),
        Some(CreateSigningKeyError::Conflict(_))
    ));
    assert_eq!(
        client.list_signing_keys().await.unwrap().signing_keys.len(),
        50
    );
}

#[test]
fn a_malformed_notification_api_request_gets_its_error_shape() {
    let sandbox = Sandbox::start().unwrap();
    for (raw, status) in [
        (
            &b"POST /v1/notification/webhooks HTTP/1.1\r\nContent-Length: lots\r\n\r\n"[..],
            400,
        ),
        (
            b"POST /v1/notification/signing-keys HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n",
            413,
        ),
    ] {
        let mut connection = support::Connection::open(&sandbox);
        connection.send(raw);
        let reply = connection.read().expect("an answer");
        assert_eq!(reply.status, status);
        // The body the generated client decodes for this API.
        let body: ErrorResponse = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body.error_type, Some(ErrorType::InputError));
        assert_eq!(body.error_code.as_deref(), Some("VALIDATION_ERROR"));
        assert_eq!(body.error_id.as_deref().map(str::len), Some(36));
        assert!(connection.is_closed());
    }
}

#[tokio::test]
async fn the_fault_knob_fails_notification_api_calls_in_its_error_shape() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox, "krn:partner:account:g");
    sandbox.fail_next_requests(1);
    let error = client.list_webhooks().await.unwrap_err();
    assert_eq!(error.status(), Some(503));
    let Some(ListWebhooksError::ServiceUnavailable(body)) = error.api_body() else {
        panic!("{error:?}");
    };
    assert_eq!(body.error_code.as_deref(), Some("TEMPORARILY_UNAVAILABLE"));
    assert_eq!(body.error_type, Some(ErrorType::TechnicalError));
    // The knob is used up; the next call is served.
    assert!(client.list_webhooks().await.unwrap().webhooks.is_empty());
}

#[tokio::test]
async fn repeated_keys_replay_and_announce_nothing_twice() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox, "krn:partner:account:h");
    let payments = payments(&sandbox, "krn:partner:account:h");

    // A signing key created twice with one idempotency key is one key.
    let create = || {
        client
            .create_signing_key()
            .idempotency_key(IdempotencyKey::from("key-1"))
    };
    let first = create().await.unwrap().into_inner();
    let again = create().await.unwrap().into_inner();
    assert_eq!(first.signing_key_id, again.signing_key_id);
    assert_eq!(
        client.list_signing_keys().await.unwrap().signing_keys.len(),
        1
    );

    // A payment request created twice with one key is one request, and
    // one event: the replay changes no state.
    let receiver =
        Receiver::start(SigningKeys::new().with(&first.signing_key_id, &first.signing_key))
            .unwrap();
    client
        .create_webhook(&subscription(receiver.url(), &first))
        .await
        .unwrap();
    for _ in 0..2 {
        payments
            .create_payment_request(&purchase())
            .idempotency_key(IdempotencyKey::from("request-1"))
            .await
            .unwrap();
    }
    assert!(receiver.wait_until(WAIT, |r| !r.events.is_empty()));
    let more = sandbox.wait_for_webhook_deliveries(2, Duration::from_millis(300));
    assert_eq!(more.len(), 1, "{more:?}");
    assert!(receiver.received(|r| r.duplicates.is_empty()));
}
