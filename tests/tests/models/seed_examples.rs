//! The JSON examples of Klarna's guides (`../shared/seeds` when the project
//! started) decode into the generated types and encode back to equal JSON.
//! The guide pages cut their samples short; the values shown are kept and
//! the samples are completed consistently (10 tomatoes at 6.00 are 60.00).

use klarna_models::ordermanagement::{
    CaptureObject, MerchantOrderDto, NoSuchOrderErrorMessage, OrderLine, OrderLineType,
    RefundObject, UpdateAuthorization,
};
use serde_json::{json, Value};

fn assert_round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(example: Value) -> T {
    let decoded: T =
        serde_json::from_value(example.clone()).unwrap_or_else(|e| panic!("{e}: {example}"));
    assert_eq!(serde_json::to_value(&decoded).unwrap(), example);
    decoded
}

fn line(reference: &str, name: &str, quantity: i64, unit_price: i64) -> Value {
    json!({
        "type": "physical",
        "reference": reference,
        "name": name,
        "quantity": quantity,
        "unit_price": unit_price,
        "tax_rate": 2500,
        "total_amount": quantity * unit_price,
        "total_discount_amount": 0,
        "total_tax_amount": quantity * unit_price / 5
    })
}

#[test]
fn partial_capture_request() {
    let capture: CaptureObject = assert_round_trip(json!({
        "captured_amount": 6000,
        "reference": "2027d87e-c394-4b22-9cfd-f51f79482793",
        "description": "Shipped the full order",
        "order_lines": [line("123050", "Tomatoes", 10, 600)]
    }));
    assert_eq!(capture.captured_amount, 6000);
    let lines: &[OrderLine] = capture.order_lines.as_deref().unwrap();
    assert_eq!(lines[0].r#type, Some(OrderLineType::Physical));
    assert_eq!(lines[0].total_amount, 6000);
}

#[test]
fn captures_a_and_b_and_the_sneaker_refund_of_the_allocation_guide() {
    let capture_a: CaptureObject = assert_round_trip(json!({
        "captured_amount": 10000,
        "description": "Capture A, shipping part of the order",
        "order_lines": [line("A12345", "T-shirt", 1, 3000), line("A98765", "Jeans", 1, 7000)]
    }));
    let capture_b: CaptureObject = assert_round_trip(json!({
        "captured_amount": 10000,
        "description": "Capture B, shipping the rest of the order",
        "order_lines": [line("B24680", "Sneakers", 1, 10000)]
    }));
    let refund: RefundObject = assert_round_trip(json!({
        "refunded_amount": 10000,
        "description": "Returning the sneakers",
        "order_lines": [line("B24680", "Sneakers", 1, 10000)]
    }));
    let reference = |lines: &Option<Vec<OrderLine>>| lines.as_ref().unwrap()[0].reference.clone();
    assert_eq!(
        reference(&refund.order_lines),
        reference(&capture_b.order_lines)
    );
    assert_ne!(
        reference(&refund.order_lines),
        reference(&capture_a.order_lines)
    );
}

#[test]
fn update_authorization_request() {
    let update: UpdateAuthorization = assert_round_trip(json!({
        "order_amount": 6000,
        "description": "",
        "order_lines": [line("123050", "Tomatoes", 10, 600)]
    }));
    assert_eq!(update.order_amount, 6000);
    assert_eq!(
        update.description.as_deref(),
        Some(""),
        "an empty description is sent, not dropped"
    );
}

#[test]
fn error_response() {
    let error: NoSuchOrderErrorMessage = assert_round_trip(json!({
        "correlation_id": "66782175-ae05-44fc-9eb3-eeceadbad271",
        "error_code": "NO_SUCH_ORDER",
        "error_messages": ["Order not found"]
    }));
    assert_eq!(error.error_code.as_deref(), Some("NO_SUCH_ORDER"));
}

#[test]
fn an_order_with_a_status_and_fields_added_after_this_sdk_still_decodes() {
    let order: MerchantOrderDto = serde_json::from_value(json!({
        "order_id": "f3392f8b-6116-4073-ab96-e330819e2c07",
        "status": "PARTIALLY_REFUNDED_IN_THE_FUTURE",
        "order_amount": 20000,
        "captured_amount": 10000,
        "purchase_currency": "SEK",
        "order_lines": [line("A12345", "T-shirt", 1, 3000)],
        "a_field_klarna_adds_next_year": { "nested": true }
    }))
    .unwrap();
    assert_eq!(
        order.status.as_ref().map(|s| s.as_str()),
        Some("PARTIALLY_REFUNDED_IN_THE_FUTURE")
    );
    let written = serde_json::to_value(&order).unwrap();
    assert_eq!(
        written["status"], "PARTIALLY_REFUNDED_IN_THE_FUTURE",
        "the unknown value is written back as received"
    );
}
