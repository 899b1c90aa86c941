//! A merchant's own code depends on a generated trait, not on the HTTP
//! client, so its tests can swap Klarna for a fake. This is that pattern: a
//! shipping step written against `Captures`, tested with an in-memory fake.

use std::sync::Mutex;

use klarna_ordermanagement::models::{self, CaptureObject};
use klarna_ordermanagement::{
    AppendShippingInfoError, CaptureOrderError, CaptureOrderResponse, Captures, Error,
    ExtendDueDateError, GetCaptureError, GetCapturesError, GetOptionsForExtendDueDateError,
    IdempotencyKey, Response, TriggerSendOutError,
};

/// The merchant's code: capture a shipment, keyed by the shipment so a
/// retry can never capture twice, and return the capture id.
async fn capture_shipment<C: Captures + Sync>(
    klarna: &C,
    order_id: &str,
    shipment: u32,
    amount: i64,
) -> Result<String, Error<CaptureOrderError>> {
    let capture: CaptureObject =
        serde_json::from_value(serde_json::json!({ "captured_amount": amount })).unwrap();
    let key = IdempotencyKey::from(format!("{order_id}-shipment-{shipment}"));
    let created = klarna.capture_order(order_id, &capture, Some(key)).await?;
    Ok(created.capture_id.clone())
}

/// Remembers captures by idempotency key, like Klarna does.
#[derive(Default)]
struct FakeKlarna {
    captures: Mutex<Vec<(String, i64)>>,
}

impl Captures for FakeKlarna {
    async fn capture_order(
        &self,
        order_id: &str,
        body: &CaptureObject,
        idempotency_key: Option<IdempotencyKey>,
    ) -> Result<Response<CaptureOrderResponse>, Error<CaptureOrderError>> {
        if body.captured_amount > 10_000 {
            let refusal: models::CaptureNotAllowedErrorMessage =
                serde_json::from_value(serde_json::json!({ "error_code": "CAPTURE_NOT_ALLOWED" }))
                    .unwrap();
            return Err(Error::api(
                "capture_order",
                403,
                CaptureOrderError::Forbidden(refusal),
            ));
        }
        let key = idempotency_key.map(|k| k.to_string()).unwrap_or_default();
        let mut captures = self.captures.lock().unwrap();
        if !captures.iter().any(|(k, _)| *k == key) {
            captures.push((key.clone(), body.captured_amount));
        }
        let headers = CaptureOrderResponse {
            capture_id: format!("capture-for-{key}"),
            location: format!("/ordermanagement/v1/orders/{order_id}/captures/capture-for-{key}"),
        };
        Ok(Response::new(201, headers))
    }

    async fn get_captures(
        &self,
        _: &str,
    ) -> Result<Response<Vec<models::Capture>>, Error<GetCapturesError>> {
        unimplemented!("not used by the code under test")
    }

    async fn get_capture(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Response<models::Capture>, Error<GetCaptureError>> {
        unimplemented!("not used by the code under test")
    }

    async fn extend_due_date(
        &self,
        _: &str,
        _: &str,
        _: &models::ExtendDueDateRequest,
        _: Option<IdempotencyKey>,
    ) -> Result<Response<()>, Error<ExtendDueDateError>> {
        unimplemented!("not used by the code under test")
    }

    async fn get_options_for_extend_due_date(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Response<models::ExtendDueDateOptions>, Error<GetOptionsForExtendDueDateError>>
    {
        unimplemented!("not used by the code under test")
    }

    async fn append_shipping_info(
        &self,
        _: &str,
        _: &str,
        _: &models::UpdateShippingInfo,
        _: Option<IdempotencyKey>,
    ) -> Result<Response<()>, Error<AppendShippingInfoError>> {
        unimplemented!("not used by the code under test")
    }

    async fn trigger_send_out(
        &self,
        _: &str,
        _: &str,
        _: Option<IdempotencyKey>,
    ) -> Result<Response<()>, Error<TriggerSendOutError>> {
        unimplemented!("not used by the code under test")
    }
}

#[tokio::test]
async fn merchant_code_runs_against_a_fake_and_retries_do_not_capture_twice() {
    let fake = FakeKlarna::default();
    let first = capture_shipment(&fake, "o-1", 1, 6000).await.unwrap();
    let retried = capture_shipment(&fake, "o-1", 1, 6000).await.unwrap();
    assert_eq!(first, "capture-for-o-1-shipment-1");
    assert_eq!(first, retried);
    assert_eq!(fake.captures.lock().unwrap().len(), 1);

    let refused = capture_shipment(&fake, "o-1", 2, 50_000).await.unwrap_err();
    assert_eq!(refused.status(), Some(403));
    assert!(matches!(
        refused.api_body(),
        Some(CaptureOrderError::Forbidden(_))
    ));
}

#[test]
fn futures_of_the_generated_traits_are_send() {
    fn assert_send<T: Send>(_: T) {}
    let client =
        klarna_ordermanagement::Client::new(klarna_ordermanagement::Config::with_base_url(
            "http://127.0.0.1:9",
            klarna_ordermanagement::Credentials::basic("u", "p"),
        ))
        .unwrap();
    let capture: CaptureObject =
        serde_json::from_value(serde_json::json!({ "captured_amount": 1 })).unwrap();
    // Built, never polled: only the type is checked.
    assert_send(client.capture_order("o", &capture, None));
    assert_send(capture_shipment(&FakeKlarna::default(), "o", 1, 1));
}
