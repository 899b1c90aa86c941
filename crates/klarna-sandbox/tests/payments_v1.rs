//! Klarna Payments v1 and Customer Token v1 in the sandbox, through the
//! generated `klarna_payments` client: a checkout from session to order, the
//! order then served by Order Management, customer tokens, and each of
//! Klarna's documented refusals.

use klarna_ordermanagement::models::{
    CaptureObject, MerchantOrderDtoStatus, RefundObject, UpdateAuthorization,
};
use klarna_ordermanagement::{Captures, OrderId, Orders, Refunds};
use klarna_payments::models::{
    CreateOrderRequest, CustomerTokenCreationRequest, CustomerTokenCreationRequestIntendedUse,
    CustomerTokenOrder, CustomerTokenOrderLine, CustomerTokenStatus,
    CustomerTokenStatusUpdateRequest, CustomerTokenStatusUpdateRequestStatus, OrderFraudStatus,
    OrderLine, Session, SessionCreate, SessionReadStatus,
};
use klarna_payments::{
    Authorizations, CreateOrderError, CustomerTokens, IdempotencyKey, SessionId, Sessions,
};
use klarna_sandbox::Sandbox;

fn payments(sandbox: &Sandbox) -> klarna_payments::Client {
    klarna_payments::Client::from_config(klarna_payments::Config::with_base_url(
        sandbox.base_url(),
        klarna_payments::Credentials::basic("test-user", "test-password"),
    ))
    .unwrap()
}

fn order_management(sandbox: &Sandbox) -> klarna_ordermanagement::Client {
    klarna_ordermanagement::Client::from_config(klarna_ordermanagement::Config::with_base_url(
        sandbox.base_url(),
        klarna_ordermanagement::Credentials::basic("test-user", "test-password"),
    ))
    .unwrap()
}

fn line(reference: &str, name: &str, amount: i64) -> OrderLine {
    OrderLine {
        reference: Some(reference.to_owned()),
        ..OrderLine::new(name, 1, amount, amount)
    }
}

/// A T-shirt (30.00) and jeans (70.00): 100.00 EUR.
fn cart() -> Vec<OrderLine> {
    vec![
        line("A12345", "T-shirt", 3_000),
        line("A98765", "Jeans", 7_000),
    ]
}

fn session_for(lines: Vec<OrderLine>) -> SessionCreate {
    let amount = lines.iter().map(|l| l.total_amount).sum();
    SessionCreate::new(amount, lines, "DE", "EUR")
}

fn order_for(lines: Vec<OrderLine>) -> CreateOrderRequest {
    let amount = lines.iter().map(|l| l.total_amount).sum();
    CreateOrderRequest {
        merchant_reference1: Some("ON-4711".to_owned()),
        ..CreateOrderRequest::new(amount, lines, "DE", "EUR")
    }
}

/// A session the buyer approved: its id and the authorization token.
async fn approved(sandbox: &Sandbox, client: &klarna_payments::Client) -> (SessionId, String) {
    let session = client
        .create_credit_session(&session_for(cart()))
        .await
        .unwrap();
    let token = sandbox.approve_session(&session.session_id).unwrap();
    (SessionId::new(&session.session_id), token)
}

#[tokio::test]
async fn a_checkout_becomes_an_order_that_order_management_serves() {
    let sandbox = Sandbox::start().unwrap();
    let client = payments(&sandbox);

    let created = client
        .create_credit_session(&session_for(cart()))
        .await
        .unwrap();
    assert!(!created.session_id.is_empty());
    assert!(!created.client_token.is_empty());
    let categories = created.payment_method_categories.clone().unwrap();
    assert!(!categories.is_empty());
    let session_id = SessionId::new(&created.session_id);

    // The shop adds sneakers (100.00) before the buyer pays.
    let mut lines = cart();
    lines.push(line("B24680", "Sneakers", 10_000));
    let update = Session {
        order_amount: Some(20_000),
        order_lines: Some(lines.clone()),
        ..Session::default()
    };
    let updated = client
        .update_credit_session(&session_id, &update)
        .await
        .unwrap();
    assert_eq!(updated.status(), 204);
    let read = client.read_credit_session(&session_id).await.unwrap();
    assert_eq!(read.order_amount, Some(20_000));
    assert_eq!(read.status, Some(SessionReadStatus::Incomplete));
    assert_eq!(
        read.client_token.as_deref(),
        Some(created.client_token.as_str())
    );
    assert_eq!(read.payment_method_categories.as_ref(), Some(&categories));

    // The buyer approves, over HTTP as a browser test would.
    let token = sandbox.approve_session(&session_id).unwrap();
    let read = client.read_credit_session(&session_id).await.unwrap();
    assert_eq!(read.authorization_token.as_deref(), Some(token.as_str()));

    let order = client
        .create_order(&token, &order_for(lines))
        .await
        .unwrap();
    assert_eq!(order.fraud_status, Some(OrderFraudStatus::Accepted));
    let read = client.read_credit_session(&session_id).await.unwrap();
    assert_eq!(read.status, Some(SessionReadStatus::Complete));

    // Order Management serves it: amount update, captures, a refund.
    let om = order_management(&sandbox);
    let order_id = OrderId::new(&order.order_id);
    let fetched = om.get_order(&order_id).await.unwrap();
    assert_eq!(fetched.order_amount, Some(20_000));
    assert_eq!(fetched.purchase_currency.as_deref(), Some("EUR"));
    assert_eq!(fetched.merchant_reference1.as_deref(), Some("ON-4711"));
    assert_eq!(fetched.order_lines.as_ref().map(Vec::len), Some(3));
    om.update_authorization(&order_id, &UpdateAuthorization::new(19_000))
        .await
        .unwrap();
    om.capture_order(&order_id, &CaptureObject::new(9_000))
        .await
        .unwrap();
    om.capture_order(&order_id, &CaptureObject::new(10_000))
        .await
        .unwrap();
    om.refund_order(&order_id, &RefundObject::new(3_000))
        .await
        .unwrap();
    let done = sandbox.order(&OrderId::new(&order.order_id)).unwrap();
    assert_eq!(done.status, Some(MerchantOrderDtoStatus::Captured));
    assert_eq!(done.captured_amount, Some(19_000));
    assert_eq!(done.refunded_amount, Some(3_000));
}

#[tokio::test]
async fn the_approval_route_answers_over_http() {
    let sandbox = Sandbox::start().unwrap();
    let client = payments(&sandbox);
    let created = client
        .create_credit_session(&session_for(cart()))
        .await
        .unwrap();
    // A plain HTTP client, as a browser test in another language would use.
    let address = sandbox.base_url().trim_start_matches("http://").to_owned();
    let path = format!(
        "/sandbox/payments/v1/sessions/{}/approve",
        created.session_id
    );
    let answer = raw_post(&address, &path).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    let value: serde_json::Value = serde_json::from_str(body).unwrap();
    let token = value["authorization_token"].as_str().unwrap();
    client
        .create_order(token, &order_for(cart()))
        .await
        .unwrap();
    // Approving a completed session is refused.
    assert_eq!(sandbox.approve_session(&created.session_id), None);
    let again = raw_post(&address, &path).await;
    assert!(again.starts_with("HTTP/1.1 409"), "{again}");
}

async fn raw_post(address: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic dTpw\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_string(&mut answer),
    )
    .await
    .unwrap()
    .unwrap();
    answer
}

#[tokio::test]
async fn a_replayed_create_order_with_the_same_key_makes_one_order() {
    let sandbox = Sandbox::start().unwrap();
    let client = payments(&sandbox);
    let (_, token) = approved(&sandbox, &client).await;
    let key = IdempotencyKey::from("checkout-4711".to_owned());
    let first = client
        .create_order(&token, &order_for(cart()))
        .idempotency_key(key.clone())
        .await
        .unwrap();
    let second = client
        .create_order(&token, &order_for(cart()))
        .idempotency_key(key)
        .await
        .unwrap();
    assert_eq!(first.order_id, second.order_id);
    // Without the key, the spent token is refused: there is one order.
    let error = client
        .create_order(&token, &order_for(cart()))
        .await
        .unwrap_err();
    assert!(
        matches!(error.api_body(), Some(CreateOrderError::NotFound)),
        "{error}"
    );
    assert!(
        error.error_messages()[0].contains("already used"),
        "{error}"
    );
    let placing: Vec<_> = sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/order"))
        .collect();
    assert_eq!(placing.len(), 3);
}

#[tokio::test]
async fn documented_refusals() {
    let sandbox = Sandbox::start().unwrap();
    let client = payments(&sandbox);

    // An expired token.
    let (_, token) = approved(&sandbox, &client).await;
    assert!(sandbox.expire_authorization(&token));
    let error = client
        .create_order(&token, &order_for(cart()))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert!(error.error_messages()[0].contains("expired"), "{error}");

    // An order amount other than the authorized one: 409, and the token
    // stays usable for the right amount.
    let (_, token) = approved(&sandbox, &client).await;
    let mut more = cart();
    more.push(line("C1", "Socks", 500));
    let error = client
        .create_order(&token, &order_for(more))
        .await
        .unwrap_err();
    assert!(
        matches!(error.api_body(), Some(CreateOrderError::Conflict)),
        "{error}"
    );
    assert_eq!(error.error_code(), Some("NOT_MATCHING_AUTHORIZATION"));
    client
        .create_order(&token, &order_for(cart()))
        .await
        .unwrap();

    // Lines that do not add up to the amount: 400.
    let (_, token) = approved(&sandbox, &client).await;
    let mut broken = order_for(cart());
    broken.order_lines[0].total_amount = 1;
    let error = client.create_order(&token, &broken).await.unwrap_err();
    assert!(
        matches!(error.api_body(), Some(CreateOrderError::BadRequest)),
        "{error}"
    );

    // A cancelled authorization.
    let cancelled = client.cancel_authorization(&token).await.unwrap();
    assert_eq!(cancelled.status(), 204);
    let error = client
        .create_order(&token, &order_for(cart()))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert!(error.error_messages()[0].contains("cancelled"), "{error}");
    let error = client.cancel_authorization(&token).await.unwrap_err();
    assert_eq!(error.status(), Some(404));

    // Two approvals of one session make one order: the second token is
    // refused once the first placed it.
    let session = client
        .create_credit_session(&session_for(cart()))
        .await
        .unwrap();
    let first = sandbox.approve_session(&session.session_id).unwrap();
    let second = sandbox.approve_session(&session.session_id).unwrap();
    client
        .create_order(&first, &order_for(cart()))
        .await
        .unwrap();
    let error = client
        .create_order(&second, &order_for(cart()))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert!(
        error.error_messages()[0].contains("another token"),
        "{error}"
    );

    // An unknown token and an unknown session.
    let error = client
        .create_order("no-such-token", &order_for(cart()))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(404));
    let error = client
        .read_credit_session(&SessionId::new("no-such-session"))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(404));
}

fn token_line(amount: i64) -> CustomerTokenOrderLine {
    CustomerTokenOrderLine::new("Coffee subscription", 1, amount, amount)
}

#[tokio::test]
async fn customer_tokens_place_repeat_orders_until_cancelled() {
    let sandbox = Sandbox::start().unwrap();
    let client = payments(&sandbox);
    let (_, token) = approved(&sandbox, &client).await;
    let request = CustomerTokenCreationRequest::new(
        "Monthly coffee",
        CustomerTokenCreationRequestIntendedUse::Subscription,
        "de-DE",
        "DE",
        "EUR",
    );
    let created = client
        .create_customer_token(&token, &request)
        .await
        .unwrap();
    let token_id = created.token_id.clone();
    // The authorization is spent.
    let error = client
        .create_order(&token, &order_for(cart()))
        .await
        .unwrap_err();
    assert!(
        error.error_messages()[0].contains("customer token"),
        "{error}"
    );

    let read = client.read_customer_token(&token_id).await.unwrap();
    assert_eq!(read.status, CustomerTokenStatus::Active);

    let monthly = CustomerTokenOrder::new(1_500, vec![token_line(1_500)], 0, "EUR");
    let key = IdempotencyKey::from("coffee-2026-12".to_owned());
    let first = client
        .create_customer_token_order(&token_id, &monthly)
        .idempotency_key(key.clone())
        .await
        .unwrap();
    let replay = client
        .create_customer_token_order(&token_id, &monthly)
        .idempotency_key(key)
        .await
        .unwrap();
    assert_eq!(first.order_id, replay.order_id);
    let om = order_management(&sandbox);
    om.capture_order(&OrderId::new(&first.order_id), &CaptureObject::new(1_500))
        .await
        .unwrap();

    // Another currency than the token's: 409.
    let in_sek = CustomerTokenOrder::new(1_500, vec![token_line(1_500)], 0, "SEK");
    let error = client
        .create_customer_token_order(&token_id, &in_sek)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(409));

    let cancel =
        CustomerTokenStatusUpdateRequest::new(CustomerTokenStatusUpdateRequestStatus::Cancelled);
    let accepted = client
        .update_customer_token_status(&token_id, &cancel)
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    let read = client.read_customer_token(&token_id).await.unwrap();
    assert_eq!(read.status, CustomerTokenStatus::Cancelled);
    // A cancelled token places no orders.
    let error = client
        .create_customer_token_order(&token_id, &monthly)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(409));
    assert_eq!(error.error_code(), Some("TOKEN_NOT_ACTIVE"));
    let (status, orders) = sandbox.customer_token(&token_id).unwrap();
    assert_eq!(status, CustomerTokenStatus::Cancelled);
    assert_eq!(orders, vec![OrderId::new(&first.order_id)]);
}
