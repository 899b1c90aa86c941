//! A refused capture as a merchant meets it: a real over-capture against the
//! stand-in (it used to be a canned 403 in `tests/tests/capture_smoke.rs`),
//! decoded into the typed error, with the idempotency key the client made
//! and sent, and a one-line `Display`.

use klarna_ordermanagement::models::{CaptureNotAllowedErrorMessage, CaptureObject};
use klarna_ordermanagement::{
    CaptureOrderError, Captures, Client, Config, Credentials, ErrorKind, OrderId,
};
use klarna_sandbox::{NewOrder, Sandbox};

fn capture(amount: i64) -> CaptureObject {
    CaptureObject {
        description: Some("Shipped the tomatoes".into()),
        ..CaptureObject::new(amount)
    }
}

#[tokio::test]
async fn over_capture_gives_the_typed_error_and_the_generated_key() {
    let sandbox = Sandbox::start().unwrap();
    let order_id = OrderId::new(sandbox.add_order(NewOrder::new(10_000, "EUR")));
    let client = Client::from_config(Config::with_base_url(
        sandbox.base_url(),
        Credentials::basic("PK0001", "s3cret"),
    ))
    .unwrap();
    client
        .capture_order(&order_id, &capture(6_000))
        .await
        .unwrap();

    let error = client
        .capture_order(&order_id, &capture(6_000))
        .await
        .unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Api(_)), "{error:?}");
    assert_eq!(error.status(), Some(403));
    let Some(CaptureOrderError::Forbidden(CaptureNotAllowedErrorMessage {
        correlation_id: Some(correlation_id),
        error_code: Some(code),
        error_messages: Some(messages),
    })) = error.api_body()
    else {
        panic!("{error:?}");
    };
    assert_eq!(code, "CAPTURE_NOT_ALLOWED");
    assert_eq!(error.correlation_id(), Some(correlation_id.as_str()));
    assert_eq!(error.error_messages(), messages.as_slice());

    let sent_key = sandbox
        .requests()
        .last()
        .and_then(|request| request.idempotency_key.clone())
        .expect("a generated key is sent");
    assert_eq!(
        error.idempotency_key().map(|k| k.as_str()),
        Some(sent_key.as_str()),
        "the generated key comes back"
    );
    assert_eq!(sent_key.len(), 36, "a UUID");
    assert_eq!(
        error.to_string(),
        format!(
            "capture_order: Klarna answered 403 CAPTURE_NOT_ALLOWED (correlation id {correlation_id}): {}",
            messages[0]
        )
    );
    assert_eq!(
        sandbox.order(&order_id).unwrap().captured_amount,
        Some(6_000),
        "nothing more was captured"
    );
}
