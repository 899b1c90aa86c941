//! A merchant's own code depends on a generated trait, not on the HTTP
//! client, so its tests can swap Klarna for a fake. This is that pattern: a
//! shipping step written against `Captures`, tested with an in-memory fake
//! that implements the one `send_*` method the step uses; every other
//! operation of the trait answers that it is not faked.

use std::future::IntoFuture;
use std::sync::Mutex;

use klarna_ordermanagement::models::{self, CaptureObject};
use klarna_ordermanagement::{
    CaptureId, CaptureOrderError, CaptureOrderRequest, CaptureOrderResponse, Captures, Client,
    Config, Credentials, Error, ErrorKind, IdempotencyKey, OrderId, Response,
};

/// The merchant's code: capture a shipment, keyed by the shipment so a
/// retry can never capture twice, and return the capture id.
async fn capture_shipment<C: Captures + Sync>(
    klarna: &C,
    order_id: &OrderId,
    shipment: u32,
    amount: i64,
) -> Result<CaptureId, Error<CaptureOrderError>> {
    let key = IdempotencyKey::from(format!("{order_id}-shipment-{shipment}"));
    let created = klarna
        .capture_order(order_id, &CaptureObject::new(amount))
        .idempotency_key(key)
        .await?;
    Ok(created.capture_id.clone())
}

/// Remembers captures by idempotency key, like Klarna does.
#[derive(Default)]
struct FakeKlarna {
    captures: Mutex<Vec<(String, i64)>>,
}

impl Captures for FakeKlarna {
    async fn send_capture_order(
        &self,
        request: CaptureOrderRequest<'_>,
    ) -> Result<Response<CaptureOrderResponse>, Error<CaptureOrderError>> {
        if request.body.captured_amount > 10_000 {
            let refusal = models::CaptureNotAllowedErrorMessage {
                error_code: Some("CAPTURE_NOT_ALLOWED".into()),
                ..Default::default()
            };
            return Err(Error::api(
                "capture_order",
                403,
                CaptureOrderError::Forbidden(refusal),
            ));
        }
        let key = request
            .idempotency_key
            .map(|k| k.to_string())
            .unwrap_or_default();
        let mut captures = self.captures.lock().unwrap();
        if !captures.iter().any(|(k, _)| *k == key) {
            captures.push((key.clone(), request.body.captured_amount));
        }
        let headers = CaptureOrderResponse {
            capture_id: CaptureId::new(format!("capture-for-{key}")),
            location: format!(
                "/ordermanagement/v1/orders/{}/captures/capture-for-{key}",
                request.order_id
            ),
        };
        Ok(Response::new(201, headers))
    }
}

#[tokio::test]
async fn merchant_code_runs_against_a_fake_and_retries_do_not_capture_twice() {
    let fake = FakeKlarna::default();
    let order = OrderId::new("o-1");
    let first = capture_shipment(&fake, &order, 1, 6000).await.unwrap();
    let retried = capture_shipment(&fake, &order, 1, 6000).await.unwrap();
    assert_eq!(first, CaptureId::new("capture-for-o-1-shipment-1"));
    assert_eq!(first, retried);
    assert_eq!(fake.captures.lock().unwrap().len(), 1);

    let refused = capture_shipment(&fake, &order, 2, 50_000)
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(403));
    assert!(matches!(
        refused.api_body(),
        Some(CaptureOrderError::Forbidden(_))
    ));
}

#[tokio::test]
async fn an_operation_the_fake_does_not_implement_answers_not_faked() {
    let fake = FakeKlarna::default();
    let order = OrderId::new("o-1");
    let capture = CaptureId::new("c-1");
    let error = fake.get_capture(&order, &capture).await.unwrap_err();
    match error.kind() {
        // A fake's "not faked" is a request that was never sent, so the
        // runtime reports it as one it could not build.
        ErrorKind::NotSent(cause) => {
            assert_eq!(cause.to_string(), "invalid request: not faked: get_capture");
            assert!(!cause.is_connect() && !cause.is_timeout(), "{cause:?}");
        }
        _ => panic!("expected NotSent, got {error:?}"),
    }
    assert!(
        error.to_string().contains("not faked: get_capture"),
        "{error}"
    );
    assert!(!error.may_have_reached_klarna());
    assert_eq!(error.status(), None);
    // The fake recorded nothing: the call never reached it.
    assert!(fake.captures.lock().unwrap().is_empty());
}

#[test]
fn futures_of_the_generated_traits_are_send() {
    fn assert_send<T: Send>(_: T) {}
    let client = Client::from_config(Config::with_base_url(
        "http://127.0.0.1:9",
        Credentials::basic("u", "p"),
    ))
    .unwrap();
    let order = OrderId::new("o");
    let capture = CaptureObject::new(1);
    // Built, never polled: only the types are checked.
    assert_send(client.capture_order(&order, &capture));
    assert_send(client.capture_order(&order, &capture).into_future());
    assert_send(capture_shipment(&FakeKlarna::default(), &order, 1, 1));
}
