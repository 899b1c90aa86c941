//! Every JSON example of Klarna's Payment API reference page (requests,
//! responses and webhook events, kept under `tests/fixtures/payment-api/`)
//! decodes into the generated type of its place and encodes back to equal
//! JSON. The typed values checked below make sure the fields landed in
//! typed fields, not in a catch-all.

use klarna_models::payment_api::webhooks::{
    EventPayload, WebhookEvent, PAYMENT_REQUEST_AUTHORIZED, PAYMENT_REQUEST_SUBMITTED,
};
use klarna_models::payment_api::{
    AcquiringChannel, ApplicableRateUnit, CaptureRequest, ChargebackReason, PaymentCapture,
    PaymentChargeback, PaymentConfirmation, PaymentRefund, PaymentRequest, PaymentRequestData,
    PaymentRequestState, PaymentTransaction, PaymentTransactionState,
    PaymentTransactionStateReason, PaymentTransactionUpdate, RefundRequest, ShippingType,
    ShippingTypeAttribute,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../fixtures/payment-api/", $name, ".json")),
        )
    };
}

/// Decodes an example, checks that it encodes back to the same JSON, and
/// returns the decoded value.
fn round_trip<T: Serialize + DeserializeOwned>((name, text): (&str, &str)) -> T {
    let example: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let decoded: T = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        serde_json::to_value(&decoded).unwrap(),
        example,
        "{name} does not encode back to the example"
    );
    decoded
}

const PAYMENT_REQUEST_ID: &str = "krn:payment:eu1:request:552603c0-fe8b-4ab1-aacb-41d55fafbdb4";

#[test]
fn payment_request_bodies() {
    let minimum: PaymentRequestData = round_trip(fixture!("create_payment_request.request"));
    assert_eq!(minimum.currency, "USD");
    assert_eq!(minimum.payment_amount, 1000);
    assert!(minimum.config.as_ref().is_some_and(|c| c.is_empty()));

    let update: PaymentRequestData = round_trip(fixture!("update_payment_request.request"));
    assert_eq!(update.payment_amount, 2000);
    assert_eq!(
        update.payment_reference.as_deref(),
        Some("partner-payment-reference-12345")
    );
    let line = &update.line_items.as_ref().unwrap()[0];
    assert_eq!(
        (line.quantity, line.unit_price, line.total_amount),
        (2, Some(1000), 2000)
    );
    let shipping = &update.shipping.as_ref().unwrap()[0];
    let recipient = shipping.recipient.as_ref().unwrap();
    assert_eq!(recipient.attention.as_deref(), Some("string"));
    let address = shipping.address.as_ref().unwrap();
    assert_eq!(address.street_address2.as_deref(), Some("Ste. 400"));
    let buyer = update.buyer.as_ref().unwrap();
    assert_eq!(buyer.email.as_deref(), Some("john.doe@example.com"));
    assert_eq!(
        buyer.address.as_ref().unwrap().region.as_deref(),
        Some("OH")
    );

    let confirmation: PaymentConfirmation = round_trip(fixture!("confirm_payment_request.request"));
    assert_eq!(confirmation.payment_amount, 2000);
    assert_eq!(confirmation.config.unwrap().capture, Some(false));
}

#[test]
fn payment_request_responses() {
    for example in [
        fixture!("create_payment_request.response"),
        fixture!("read_payment_request.response"),
        fixture!("update_payment_request.response"),
        fixture!("cancel_payment_confirmation.response"),
    ] {
        let request: PaymentRequest = round_trip(example);
        assert_eq!(request.payment_request_id, PAYMENT_REQUEST_ID);
        assert_eq!(request.state, PaymentRequestState::Submitted);
        assert_eq!(request.payment_request.unwrap().payment_amount, 1000);
        assert_eq!(request.state_context, None);
    }

    let authorized: PaymentRequest = round_trip(fixture!("confirm_payment_request.response"));
    assert_eq!(authorized.state, PaymentRequestState::Authorized);
    let context = authorized.state_context.unwrap();
    assert_eq!(
        context.payment_transaction_id.as_deref(),
        Some("krn:payment:eu1:transaction:6debe89e-98c0-486e-b7a5-08a4f6df94b0")
    );
    let rate = context.payment_pricing.unwrap().rate.unwrap();
    assert_eq!((rate.fixed, rate.variable), (Some(100), Some(1_200_000)));
}

#[test]
fn payment_transactions() {
    let read: PaymentTransaction = round_trip(fixture!("read_payment_transaction.response"));
    assert_eq!(read.state, PaymentTransactionState::Authorized);
    assert_eq!(
        read.state_reason,
        Some(PaymentTransactionStateReason::Authorized)
    );
    assert_eq!(read.acquiring_channel, Some(AcquiringChannel::Ecommerce));
    assert_eq!(read.remaining_authorization_amount, Some(2100));
    assert_eq!(read.captures.as_deref(), Some(&[][..]));
    let pricing = read.payment_pricing.as_ref().unwrap();
    let details = pricing.details.as_ref().unwrap();
    assert_eq!(
        details.price_plan_rate.as_ref().unwrap().price_cap,
        Some(3_100_000)
    );
    assert_eq!(details.price_cap_applied, Some(false));
    assert_eq!(details.penalty.as_ref().unwrap().fixed, Some(0));
    let applicable = pricing.applicable_rate.as_ref().unwrap();
    assert_eq!(applicable.fixed.as_ref().unwrap().amount, Some(100));
    assert_eq!(
        applicable.variable_fee.as_ref().unwrap().percentage,
        Some(120)
    );
    assert_eq!(applicable.unit, Some(ApplicableRateUnit::Capture));
    let evaluation = pricing.evaluation_parameters.as_ref().unwrap();
    assert_eq!(evaluation.channel, Some(AcquiringChannel::Ecommerce));
    assert_eq!(evaluation.merchant_category_code.as_deref(), Some("5111"));

    let update: PaymentTransactionUpdate =
        round_trip(fixture!("update_payment_transaction.request"));
    let updated: PaymentTransaction = round_trip(fixture!("update_payment_transaction.response"));
    assert_eq!(updated.merchant_reference, update.merchant_reference);
    assert_eq!(
        updated.payment_transaction_reference,
        update.payment_transaction_reference
    );
    assert_eq!(updated.updated_at.as_deref(), Some("2024-01-02T13:00:00Z"));

    let voided: PaymentTransaction = round_trip(fixture!("void_payment_transaction.response"));
    assert_eq!(voided.state, PaymentTransactionState::Completed);
    assert_eq!(
        voided.state_reason,
        Some(PaymentTransactionStateReason::Voided)
    );
    assert_eq!(
        voided.previous_state,
        Some(PaymentTransactionState::Authorized)
    );
    assert_eq!(voided.remaining_authorization_amount, Some(0));
    let capture = &voided.captures.as_ref().unwrap()[0];
    assert_eq!(capture.capture_amount, 5000);
    let address = voided.shipping.as_ref().unwrap()[0]
        .address
        .as_ref()
        .unwrap();
    assert_eq!(
        address.street_address.as_deref(),
        Some("Kurfürstendamm 100")
    );
}

#[test]
fn captures() {
    let request: CaptureRequest = round_trip(fixture!("capture_payment_transaction.request"));
    assert_eq!(request.capture_amount, 5000);
    for example in [
        fixture!("capture_payment_transaction.response"),
        fixture!("read_payment_capture.response"),
    ] {
        let capture: PaymentCapture = round_trip(example);
        assert_eq!(
            capture.payment_capture_id,
            "krn:payment:eu1:transaction:bc42b6ff-b222-463c-b4b2-d8d6a82e0162:capture:1"
        );
        assert_eq!(capture.line_items, request.line_items);
        let shipment = &capture.shipments.as_ref().unwrap()[0];
        let delivery = shipment.delivery.as_ref().unwrap();
        assert_eq!(delivery.shipping_type, Some(ShippingType::ToDoor));
        assert_eq!(
            delivery.shipping_type_attribute,
            Some(ShippingTypeAttribute::SignatureRequired)
        );
        assert_eq!(
            delivery.estimated_delivery_date.as_deref(),
            Some("2024-01-05")
        );
        let back = shipment.r#return.as_ref().unwrap();
        assert_eq!(back.tracking_number.as_deref(), Some("DHL987654321"));
    }
}

#[test]
fn refunds() {
    for example in [
        fixture!("refund_payment_transaction.request"),
        fixture!("refund_payment_capture.request"),
    ] {
        let request: RefundRequest = round_trip(example);
        assert_eq!(request.refund_amount, 5000);
        assert_eq!(
            request.refund_reference.as_deref(),
            Some("refund-reference-123")
        );
    }
    for example in [
        fixture!("refund_payment_transaction.response"),
        fixture!("read_payment_refund.response"),
    ] {
        let refund: PaymentRefund = round_trip(example);
        assert_eq!(refund.refund_amount, 5000);
        assert_eq!(refund.payment_capture_id, None);
    }
    let of_capture: PaymentRefund = round_trip(fixture!("refund_payment_capture.response"));
    assert_eq!(
        of_capture.payment_capture_id.as_deref(),
        Some("krn:payment:eu1:transaction:bc42b6ff-b222-463c-b4b2-d8d6a82e0162:capture:1")
    );
}

#[test]
fn chargebacks() {
    let chargeback: PaymentChargeback = round_trip(fixture!("read_payment_chargeback.response"));
    assert_eq!(chargeback.chargeback_amount, 5000);
    assert_eq!(
        chargeback.chargeback_reason,
        Some(ChargebackReason::DisputeMerchantLoss)
    );
    assert!(chargeback
        .payment_dispute_id
        .unwrap()
        .ends_with(":dispute:1"));
}

#[test]
fn webhook_events() {
    let submitted: WebhookEvent = round_trip(fixture!("webhook.payment_request_submitted"));
    assert_eq!(submitted.metadata.event_type, PAYMENT_REQUEST_SUBMITTED);
    assert_eq!(submitted.metadata.event_version.as_deref(), Some("v1"));
    assert_eq!(submitted.metadata.live, Some(true));
    let EventPayload::PaymentRequestSubmitted(change) = &submitted.payload else {
        panic!("{:?}", submitted.payload);
    };
    assert_eq!(change.payment_request_id, PAYMENT_REQUEST_ID);
    assert_eq!(change.state, PaymentRequestState::Submitted);
    assert_eq!(change.previous_state, None);
    assert_eq!(change.transaction_id(), None);

    let authorized: WebhookEvent = round_trip(fixture!("webhook.payment_request_authorized"));
    assert_eq!(authorized.metadata.event_type, PAYMENT_REQUEST_AUTHORIZED);
    let EventPayload::PaymentRequestAuthorized(change) = &authorized.payload else {
        panic!("{:?}", authorized.payload);
    };
    assert_eq!(change.state, PaymentRequestState::Authorized);
    assert_eq!(
        change.previous_state,
        Some(PaymentRequestState::PendingConfirmation)
    );
    assert_eq!(change.merchant_reference.as_deref(), Some("order-5678"));
    // The page spells this field `payment_Transaction_id`.
    assert_eq!(
        change.transaction_id(),
        Some("krn:payment:eu1:transaction:6debe89e-98c0-486e-b7a5-08a4f6df94b0")
    );

    // Parsing the raw bytes, as a webhook receiver does, gives the same.
    let body = include_bytes!("../../fixtures/payment-api/webhook.payment_request_authorized.json");
    assert_eq!(WebhookEvent::parse_unverified(body).unwrap(), authorized);
}
