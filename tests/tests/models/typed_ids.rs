//! Ids in model fields: a string field named like a path parameter's id
//! (`order_id`, `capture_id`, `payment_request_id`) holds that id type, is
//! read and written as the plain string, and passes straight to the client
//! call that takes it.

use klarna_models::ordermanagement::{CaptureId, MerchantOrderDto, OrderId, Refund, RefundId};
use klarna_models::payment_api::{PaymentRequest, PaymentRequestId};
use serde_json::json;

#[test]
fn an_order_id_field_is_an_order_id_on_the_wire_as_a_string() {
    let order: MerchantOrderDto = serde_json::from_value(json!({
        "order_id": "o-1",
        "captures": [{ "capture_id": "c-1", "captured_amount": 600 }]
    }))
    .unwrap();
    let order_id: &OrderId = order.order_id.as_ref().unwrap();
    assert_eq!(order_id, &OrderId::new("o-1"));
    let capture_id: &CaptureId = order.captures.as_ref().unwrap()[0]
        .capture_id
        .as_ref()
        .unwrap();
    assert_eq!(capture_id.as_str(), "c-1");
    let written = serde_json::to_value(&order).unwrap();
    assert_eq!(written["order_id"], json!("o-1"));
    assert_eq!(written["captures"][0]["capture_id"], json!("c-1"));
}

#[test]
fn a_refund_names_itself_by_type() {
    let refund = Refund {
        refund_id: Some(RefundId::new("r-2")),
        ..Refund::default()
    };
    assert_eq!(
        serde_json::to_value(&refund).unwrap()["refund_id"],
        json!("r-2")
    );
}

#[test]
fn a_payment_request_hands_over_its_typed_id() {
    let request: PaymentRequest = serde_json::from_value(json!({
        "payment_request_id": "krn:payment:eu1:request:1",
        "state": "SUBMITTED",
        "currency": "EUR",
        "amount": 1000
    }))
    .unwrap();
    let id: PaymentRequestId = request.payment_request_id.clone();
    assert_eq!(id, "krn:payment:eu1:request:1");
    // Not a string: a number where an id belongs is refused like any type error.
    let wrong = serde_json::from_value::<PaymentRequest>(json!({
        "payment_request_id": 7, "state": "SUBMITTED", "currency": "EUR", "amount": 1000
    }));
    assert!(wrong.is_err());
}
