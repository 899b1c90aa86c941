//! The test-util mock under the real client, and the sandbox on loopback,
//! as a user's own tests use them.

#[cfg(all(feature = "clients", feature = "test-util"))]
#[tokio::test]
async fn a_capture_retried_after_a_timeout_keeps_its_key() {
    use klarna_ordermanagement::mock::{Mock, Outcome};
    use klarna_ordermanagement::models::CaptureObject;
    use klarna_ordermanagement::{operations, Captures, Client, OrderId};

    let mock = Mock::new();
    let client = Client::from_runtime(mock.client()).unwrap();
    mock.on(&operations::CAPTURE_ORDER)
        .respond(Outcome::timed_out())
        .respond(
            Outcome::status(201)
                .header("Capture-Id", "c-1")
                .header("Location", "/ordermanagement/v1/orders/o-1/captures/c-1"),
        );
    let done = client
        .capture_order(&OrderId::new("o-1"), &CaptureObject::new(600))
        .await
        .unwrap();
    assert_eq!(done.capture_id.as_str(), "c-1");
    let sent = mock.requests_for(&operations::CAPTURE_ORDER);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].idempotency_key(), sent[1].idempotency_key());
}

#[cfg(all(feature = "clients", feature = "sandbox"))]
#[tokio::test]
async fn a_capture_against_the_sandbox() {
    use klarna_ordermanagement::models::CaptureObject;
    use klarna_ordermanagement::{Captures, Client, Config, Credentials};
    use klarna_sandbox::{NewOrder, Sandbox};

    let sandbox = Sandbox::start().unwrap();
    let order_id = sandbox.add_order(NewOrder::guide_cart());
    let config = Config::with_base_url(sandbox.base_url(), Credentials::basic("u", "p"));
    let client = Client::from_config(config).unwrap();
    client
        .capture_order(&order_id, &CaptureObject::new(600))
        .await
        .unwrap();
    let order = sandbox.order(&order_id).unwrap();
    assert_eq!(order.captured_amount, Some(600));
}
