//! Every Order Management operation through a real socket: the request it
//! sends (method, percent-encoded target, credentials, headers, idempotency
//! key, JSON body), the success it decodes, and every error status the spec
//! documents, plus what happens on undocumented statuses, malformed bodies
//! and a server that is not there.

use std::fmt::Debug;
use std::future::Future;

use klarna_ordermanagement::models::{
    Address, CaptureObject, ExtendDueDateRequest, InitialPaymentMethodDtoType,
    MerchantOrderDtoFraudStatus, MerchantOrderDtoStatus, OrderLine, OrderLineType, RefundObject,
    ShippingInfo, ShippingInfoShippingMethod, UpdateAuthorization, UpdateConsumer,
    UpdateMerchantReferences, UpdateShippingInfo,
};
use klarna_ordermanagement::{
    AcknowledgeOrderError, AppendOrderShippingInfoError, AppendShippingInfoError, CancelOrderError,
    CaptureId, CaptureOrderError, CaptureOrderResponse, Captures, Client, Credentials, Error,
    ErrorKind, ExtendAuthorizationTimeError, ExtendDueDateError, GetCaptureError, GetCapturesError,
    GetOptionsForExtendDueDateError, GetOrderError, GetRefundError, IdempotencyKey, OrderId,
    Orders, RefundId, RefundOrderError, RefundOrderResponse, Refunds,
    ReleaseRemainingAuthorizationError, Response, TriggerSendOutError, UpdateAuthorizationError,
    UpdateConsumerDetailsError, UpdateMerchantReferencesError,
};
use klarna_tests::client_support::{
    self, assert_accepts_json, assert_json_body, assert_no_key, assert_uuid_v4, closed_port_url,
    error_body, Loopback, CORRELATION_ID, KEY_HEADER,
};
use klarna_tests::server::{CannedResponse, RecordedRequest};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

const USERNAME: &str = "K123456_abcd1234";
const PASSWORD: &str = "sharedsecret";

/// Ids that need percent-encoding, and their encoded path segments.
const ORDER_ID: &str = "order/1 ä";
const ORDER: &str = "/ordermanagement/v1/orders/order%2F1%20%C3%A4";
const CAPTURE_ID: &str = "capture 4ba29b50/ß";
const CAPTURE: &str = "capture%204ba29b50%2F%C3%9F";
const REFUND_ID: &str = "refund#b2cb4f2e?1";
const REFUND: &str = "refund%23b2cb4f2e%3F1";

fn order_id() -> OrderId {
    OrderId::new(ORDER_ID)
}

fn capture_id() -> CaptureId {
    CaptureId::new(CAPTURE_ID)
}

fn refund_id() -> RefundId {
    RefundId::new(REFUND_ID)
}

const LOOPBACK: Loopback<Client> = Loopback {
    client: Client::from_config,
    credentials: || Credentials::basic(USERNAME, PASSWORD),
    // `Basic base64("K123456_abcd1234:sharedsecret")`, computed outside the SDK.
    authorization: "Basic SzEyMzQ1Nl9hYmNkMTIzNDpzaGFyZWRzZWNyZXQ=",
    truncated_success: r#"{"order_id": "f3392f8b", "order_amount": "#,
};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The error body decoded into the type the spec documents for a status.
fn decoded<B: DeserializeOwned>(code: &str) -> B {
    serde_json::from_value(error_body(code)).unwrap()
}

fn assert_no_body(request: &RecordedRequest) {
    client_support::assert_no_body(request);
    // Proxies may refuse a POST or PATCH that does not say its length.
    if request.method != "GET" {
        assert_eq!(request.header("content-length"), Some("0"));
    }
}

/// Calls an operation that takes an idempotency key twice, each time
/// answered with `success`: with the caller's key, which must be sent as it
/// is, and with `None`, for which the client must send a new UUID and hand
/// it back. Returns both responses with their requests.
async fn with_and_without_key<T: Debug, E: Debug, Fut>(
    success: CannedResponse,
    call: impl Fn(Client, Option<IdempotencyKey>) -> Fut,
) -> [(Response<T>, RecordedRequest); 2]
where
    Fut: Future<Output = Result<Response<T>, Error<E>>>,
{
    let given = IdempotencyKey::from("order-1-step-7");
    let (result, first) = LOOPBACK
        .exchange(success.clone(), |c| call(c, Some(given.clone())))
        .await;
    let with_key = result.unwrap();
    assert_eq!(first.header(KEY_HEADER), Some("order-1-step-7"));
    assert_eq!(with_key.idempotency_key(), Some(&given));

    let (result, second) = LOOPBACK.exchange(success, |c| call(c, None)).await;
    let without_key = result.unwrap();
    let generated = second.header(KEY_HEADER).expect("a generated key is sent");
    assert_uuid_v4(generated);
    assert_eq!(
        without_key.idempotency_key().map(IdempotencyKey::as_str),
        Some(generated)
    );
    [(with_key, first), (without_key, second)]
}

// ---------------------------------------------------------------------------
// Realistic values, from Klarna's guides and the spec's examples
// ---------------------------------------------------------------------------

fn line(reference: &str, name: &str, quantity: i64, unit_price: i64) -> OrderLine {
    OrderLine {
        reference: Some(reference.to_owned()),
        r#type: Some(OrderLineType::Physical),
        ..OrderLine::new(name, quantity, quantity * unit_price, unit_price)
    }
}

fn tomatoes() -> OrderLine {
    line("123050", "Tomatoes", 10, 600)
}

fn tomatoes_json() -> Value {
    json!({
        "type": "physical",
        "reference": "123050",
        "name": "Tomatoes",
        "quantity": 10,
        "unit_price": 600,
        "total_amount": 6000
    })
}

fn sneakers_json() -> Value {
    json!({
        "type": "physical",
        "reference": "B24680",
        "name": "Sneakers",
        "quantity": 1,
        "unit_price": 10000,
        "total_amount": 10000
    })
}

fn klara_address_json() -> Value {
    json!({
        "title": "Mrs",
        "given_name": "Klara",
        "family_name": "Joyce",
        "street_address": "Apartment 10",
        "street_address2": "1 Safeway",
        "postal_code": "12345",
        "city": "Knoxville",
        "region": "TN",
        "country": "us",
        "email": "klara.joyce@klarna.com",
        "phone": "1-555-555-5555"
    })
}

fn dhl_shipment() -> ShippingInfo {
    ShippingInfo {
        shipping_company: Some("DHL US".into()),
        shipping_method: Some(ShippingInfoShippingMethod::Home),
        tracking_number: Some("63456415674545679874".into()),
        tracking_uri: Some("http://shipping.example/findmypackage?63456415674545679874".into()),
        return_shipping_company: Some("DHL US".into()),
        return_tracking_number: Some("93456415674545679888".into()),
        return_tracking_uri: Some(
            "http://shipping.example/findmypackage?93456415674545679888".into(),
        ),
    }
}

fn dhl_shipment_json() -> Value {
    json!({
        "shipping_company": "DHL US",
        "shipping_method": "Home",
        "tracking_number": "63456415674545679874",
        "tracking_uri": "http://shipping.example/findmypackage?63456415674545679874",
        "return_shipping_company": "DHL US",
        "return_tracking_number": "93456415674545679888",
        "return_tracking_uri": "http://shipping.example/findmypackage?93456415674545679888"
    })
}

fn shipping_info() -> UpdateShippingInfo {
    UpdateShippingInfo::new(vec![dhl_shipment()])
}

/// The partial capture of Klarna's guide: 6000 for the tomatoes.
fn capture_body() -> CaptureObject {
    CaptureObject {
        description: Some("Shipped the full order".into()),
        order_lines: Some(vec![tomatoes()]),
        reference: Some("2027d87e-c394-4b22-9cfd-f51f79482793".into()),
        shipping_info: Some(vec![dhl_shipment()]),
        ..CaptureObject::new(6000)
    }
}

/// The refund of Klarna's guide: 10000 for the sneakers of capture B.
fn refund_body() -> RefundObject {
    RefundObject {
        description: Some("Returning the sneakers".into()),
        order_lines: Some(vec![line("B24680", "Sneakers", 1, 10000)]),
        ..RefundObject::new(10000)
    }
}

fn capture_json() -> Value {
    json!({
        "capture_id": "4ba29b50-be7b-44f5-a492-113e6a865e22",
        "klarna_reference": "K4MADNY-1",
        "captured_amount": 6000,
        "captured_at": "2015-11-19T01:51:17Z",
        "description": "Shipped the full order",
        "reference": "2027d87e-c394-4b22-9cfd-f51f79482793",
        "order_lines": [tomatoes_json()],
        "refunded_amount": 0,
        "billing_address": klara_address_json(),
        "shipping_address": klara_address_json(),
        "shipping_info": [dhl_shipment_json()]
    })
}

fn order_json() -> Value {
    json!({
        "order_id": "f3392f8b-6116-4073-ab96-e330819e2c07",
        "status": "PART_CAPTURED",
        "fraud_status": "ACCEPTED",
        "order_amount": 10000,
        "original_order_amount": 10000,
        "captured_amount": 6000,
        "refunded_amount": 0,
        "remaining_authorized_amount": 4000,
        "purchase_country": "us",
        "purchase_currency": "usd",
        "locale": "en-us",
        "klarna_reference": "K4MADNY",
        "merchant_reference1": "10001",
        "merchant_reference2": "501",
        "merchant_data": "Order metadata",
        "created_at": "2015-11-29T10:25:40Z",
        "expires_at": "2015-12-04T10:26:06Z",
        "order_lines": [
            tomatoes_json(),
            {
                "type": "physical",
                "reference": "123051",
                "name": "Cucumbers",
                "quantity": 5,
                "unit_price": 800,
                "total_amount": 4000
            }
        ],
        "customer": { "date_of_birth": "1981-09-06" },
        "billing_address": klara_address_json(),
        "shipping_address": klara_address_json(),
        "initial_payment_method": {
            "type": "FIXED_AMOUNT",
            "description": "Slice it (Fixed Payments)",
            "number_of_installments": 3
        },
        "selected_shipping_option": {
            "id": "pickup-1",
            "name": "Pick-up point",
            "price": 0,
            "location": {
                "id": "PP-441",
                "name": "Corner shop",
                "address": {
                    "street_address": "1 Main Street",
                    "street_address__2": "Back entrance",
                    "postal_code": "37902",
                    "city": "Knoxville",
                    "country": "us"
                }
            }
        },
        "captures": [capture_json()],
        "refunds": [],
        "shipping_info": [dhl_shipment_json()]
    })
}

// ---------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------

#[tokio::test]
async fn get_order_decodes_the_order() {
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &order_json()), |c| async move {
            c.get_order(&order_id())
                .klarna_integrator("acme-commerce-plugin/2.1")
                .await
        })
        .await;
    let order = result.unwrap();
    LOOPBACK.assert_request(&request, "GET", ORDER);
    assert_accepts_json(&request);
    assert_no_body(&request);
    assert_no_key(&order, &request);
    assert_eq!(
        request.header("klarna-integrator"),
        Some("acme-commerce-plugin/2.1")
    );

    assert_eq!(order.status(), 200);
    assert_eq!(
        order.order_id.as_deref(),
        Some("f3392f8b-6116-4073-ab96-e330819e2c07")
    );
    assert_eq!(order.status, Some(MerchantOrderDtoStatus::PartCaptured));
    assert_eq!(
        order.fraud_status,
        Some(MerchantOrderDtoFraudStatus::Accepted)
    );
    assert_eq!(order.order_amount, Some(10000));
    assert_eq!(order.captured_amount, Some(6000));
    assert_eq!(order.remaining_authorized_amount, Some(4000));
    assert_eq!(order.merchant_reference1.as_deref(), Some("10001"));
    let lines = order.order_lines.as_ref().unwrap();
    assert_eq!(lines[0], tomatoes());
    assert_eq!(lines[1].name, "Cucumbers");
    assert_eq!(lines[1].total_amount, 4000);
    let payment = order.initial_payment_method.as_ref().unwrap();
    assert_eq!(
        payment.r#type,
        Some(InitialPaymentMethodDtoType::FixedAmount)
    );
    assert_eq!(payment.number_of_installments, Some(3));
    let pickup = order.selected_shipping_option.as_ref().unwrap();
    let pickup_address = pickup.location.as_ref().unwrap().address.as_ref().unwrap();
    assert_eq!(
        pickup_address.street_address_2.as_deref(),
        Some("Back entrance")
    );
    let billing = order.billing_address.as_ref().unwrap();
    assert_eq!(billing.given_name.as_deref(), Some("Klara"));
    assert_eq!(billing.street_address2.as_deref(), Some("1 Safeway"));
    let captures = order.captures.as_ref().unwrap();
    assert_eq!(captures[0].captured_amount, Some(6000));
    assert_eq!(
        captures[0].shipping_info.as_ref().unwrap()[0],
        dhl_shipment()
    );
    assert_eq!(order.refunds.as_deref(), Some(&[][..]));
}

#[tokio::test]
async fn get_order_without_integrator_sends_no_integrator_header() {
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &order_json()), |c| async move {
            c.get_order(&order_id()).await
        })
        .await;
    result.unwrap();
    LOOPBACK.assert_request(&request, "GET", ORDER);
    assert_eq!(request.header("klarna-integrator"), None);
}

#[tokio::test]
async fn get_order_keeps_unknown_enum_values_and_ignores_unknown_fields() {
    let mut order = order_json();
    order["status"] = json!("SOMETHING_NEW");
    order["fraud_status"] = json!("UNDER_MANUAL_REVIEW");
    order["initial_payment_method"]["type"] = json!("KLARNA_CARD");
    order["order_lines"][1]["type"] = json!("bundle");
    order["order_lines"][1]["brand_new_line_field"] = json!({ "nested": [1, 2, 3] });
    order["brand_new_field"] = json!("added by Klarna next year");
    order["captures"][0]["shipping_info"][0]["shipping_method"] = json!("Drone");

    let (result, _) = LOOPBACK
        .exchange(CannedResponse::json(200, &order), |c| async move {
            c.get_order(&order_id()).await
        })
        .await;
    let order = result.unwrap();
    assert_eq!(
        order.status,
        Some(MerchantOrderDtoStatus::Unknown("SOMETHING_NEW".into()))
    );
    assert_eq!(order.status.as_ref().unwrap().as_str(), "SOMETHING_NEW");
    assert_eq!(
        order.fraud_status,
        Some(MerchantOrderDtoFraudStatus::Unknown(
            "UNDER_MANUAL_REVIEW".into()
        ))
    );
    assert_eq!(
        order.initial_payment_method.as_ref().unwrap().r#type,
        Some(InitialPaymentMethodDtoType::Unknown("KLARNA_CARD".into()))
    );
    let lines = order.order_lines.as_ref().unwrap();
    assert_eq!(
        lines[1].r#type,
        Some(OrderLineType::Unknown("bundle".into()))
    );
    assert_eq!(
        order.captures.as_ref().unwrap()[0]
            .shipping_info
            .as_ref()
            .unwrap()[0]
            .shipping_method,
        Some(ShippingInfoShippingMethod::Unknown("Drone".into()))
    );
    // The known fields still decode.
    assert_eq!(order.order_amount, Some(10000));
}

#[tokio::test]
async fn get_order_errors() {
    let error = LOOPBACK
        .api_error(404, "NO_SUCH_ORDER", |c| async move {
            c.get_order(&order_id()).await
        })
        .await;
    assert_eq!(
        error.api_body(),
        Some(&GetOrderError::NotFound(decoded("NO_SUCH_ORDER")))
    );
}

#[tokio::test]
async fn acknowledge_order() {
    let call =
        |c: Client, key| async move { c.acknowledge_order(&order_id()).idempotency_key(key).await };
    for (done, request) in with_and_without_key(CannedResponse::new(204), call).await {
        assert_eq!(done.status(), 204);
        assert_eq!(*done, ());
        LOOPBACK.assert_request(&request, "POST", &format!("{ORDER}/acknowledge"));
        assert_no_body(&request);
    }

    let error = LOOPBACK
        .api_error(403, "NOT_ALLOWED", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&AcknowledgeOrderError::Forbidden(decoded("NOT_ALLOWED")))
    );
    let error = LOOPBACK
        .api_error(404, "NO_SUCH_ORDER", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&AcknowledgeOrderError::NotFound(decoded("NO_SUCH_ORDER")))
    );
}

#[tokio::test]
async fn update_authorization() {
    let call = |c: Client, key| async move {
        let body = UpdateAuthorization {
            description: Some("Removed the cucumbers".into()),
            order_lines: Some(vec![tomatoes()]),
            ..UpdateAuthorization::new(6000)
        };
        c.update_authorization(&order_id(), &body)
            .idempotency_key(key)
            .await
    };
    for (done, request) in with_and_without_key(CannedResponse::new(204), call).await {
        assert_eq!(done.status(), 204);
        LOOPBACK.assert_request(&request, "PATCH", &format!("{ORDER}/authorization"));
        assert_json_body(
            &request,
            json!({
                "order_amount": 6000,
                "description": "Removed the cucumbers",
                "order_lines": [tomatoes_json()]
            }),
        );
    }

    let error = LOOPBACK
        .api_error(403, "NOT_ALLOWED", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&UpdateAuthorizationError::Forbidden(decoded("NOT_ALLOWED")))
    );
}

#[tokio::test]
async fn update_consumer_details() {
    let call = |c: Client, key| async move {
        let body = UpdateConsumer {
            shipping_address: Some(Address {
                title: Some("Mrs".into()),
                given_name: Some("Klara".into()),
                family_name: Some("Joyce".into()),
                street_address: Some("Apartment 10".into()),
                street_address2: Some("1 Safeway".into()),
                postal_code: Some("12345".into()),
                city: Some("Knoxville".into()),
                region: Some("TN".into()),
                country: Some("us".into()),
                email: Some("klara.joyce@klarna.com".into()),
                phone: Some("1-555-555-5555".into()),
                ..Address::default()
            }),
        };
        c.update_consumer_details(&order_id(), &body)
            .idempotency_key(key)
            .await
    };
    for (done, request) in with_and_without_key(CannedResponse::new(204), call).await {
        assert_eq!(done.status(), 204);
        LOOPBACK.assert_request(&request, "PATCH", &format!("{ORDER}/customer-details"));
        assert_json_body(
            &request,
            json!({ "shipping_address": klara_address_json() }),
        );
    }

    let error = LOOPBACK
        .api_error(403, "NOT_ALLOWED", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&UpdateConsumerDetailsError::Forbidden(decoded(
            "NOT_ALLOWED"
        )))
    );
}

#[tokio::test]
async fn extend_authorization_time() {
    let call = |c: Client, key| async move {
        c.extend_authorization_time(&order_id())
            .idempotency_key(key)
            .await
    };
    for (done, request) in with_and_without_key(CannedResponse::new(204), call).await {
        assert_eq!(done.status(), 204);
        LOOPBACK.assert_request(
            &request,
            "POST",
            &format!("{ORDER}/extend-authorization-time"),
        );
        assert_no_body(&request);
    }

    let error = LOOPBACK
        .api_error(403, "NOT_ALLOWED", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&ExtendAuthorizationTimeError::Forbidden(decoded(
            "NOT_ALLOWED"
        )))
    );
}

#[tokio::test]
async fn update_merchant_references() {
    let call = |c: Client, key| async move {
        let body = UpdateMerchantReferences {
            merchant_reference1: Some("45aa52f387871e3a210645d4".into()),
            merchant_reference2: Some("ERP-2024-000501".into()),
        };
        c.update_merchant_references(&order_id(), &body)
            .idempotency_key(key)
            .await
    };
    for (done, request) in with_and_without_key(CannedResponse::new(204), call).await {
        assert_eq!(done.status(), 204);
        LOOPBACK.assert_request(&request, "PATCH", &format!("{ORDER}/merchant-references"));
        assert_json_body(
            &request,
            json!({
                "merchant_reference1": "45aa52f387871e3a210645d4",
                "merchant_reference2": "ERP-2024-000501"
            }),
        );
    }

    let error = LOOPBACK
        .api_error(403, "NOT_ALLOWED", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&UpdateMerchantReferencesError::Forbidden(decoded(
            "NOT_ALLOWED"
        )))
    );
}

#[tokio::test]
async fn release_remaining_authorization() {
    let call = |c: Client, key| async move {
        c.release_remaining_authorization(&order_id())
            .idempotency_key(key)
            .await
    };
    for (done, request) in with_and_without_key(CannedResponse::new(204), call).await {
        assert_eq!(done.status(), 204);
        LOOPBACK.assert_request(
            &request,
            "POST",
            &format!("{ORDER}/release-remaining-authorization"),
        );
        assert_no_body(&request);
    }

    let error = LOOPBACK
        .api_error(403, "NOT_ALLOWED", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&ReleaseRemainingAuthorizationError::Forbidden(decoded(
            "NOT_ALLOWED"
        )))
    );
}

#[tokio::test]
async fn append_order_shipping_info() {
    let call = |c: Client, key| async move {
        c.append_order_shipping_info(&order_id(), &shipping_info())
            .idempotency_key(key)
            .await
    };
    for (done, request) in with_and_without_key(CannedResponse::new(204), call).await {
        assert_eq!(done.status(), 204);
        LOOPBACK.assert_request(&request, "POST", &format!("{ORDER}/shipping-info"));
        assert_json_body(&request, json!({ "shipping_info": [dhl_shipment_json()] }));
    }

    let error = LOOPBACK
        .api_error(404, "NO_SUCH_ORDER", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&AppendOrderShippingInfoError::NotFound(decoded(
            "NO_SUCH_ORDER"
        )))
    );
}

#[tokio::test]
async fn cancel_order() {
    let call =
        |c: Client, key| async move { c.cancel_order(&order_id()).idempotency_key(key).await };
    for (done, request) in with_and_without_key(CannedResponse::new(204), call).await {
        assert_eq!(done.status(), 204);
        LOOPBACK.assert_request(&request, "POST", &format!("{ORDER}/cancel"));
        assert_no_body(&request);
    }

    let error = LOOPBACK
        .api_error(403, "CANCEL_NOT_ALLOWED", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&CancelOrderError::Forbidden(decoded("CANCEL_NOT_ALLOWED")))
    );
}

// ---------------------------------------------------------------------------
// Captures
// ---------------------------------------------------------------------------

#[tokio::test]
async fn get_captures() {
    let second = json!({
        "capture_id": "7d1b9d3c-5f6e-4a2b-8c9d-0e1f2a3b4c5d",
        "captured_amount": 4000,
        "captured_at": "2015-11-20T09:12:44Z",
        "klarna_reference": "K4MADNY-2",
        "order_lines": [],
        "refunded_amount": 0
    });
    let (result, request) = LOOPBACK
        .exchange(
            CannedResponse::json(200, &json!([capture_json(), second])),
            |c| async move { c.get_captures(&order_id()).await },
        )
        .await;
    let captures = result.unwrap();
    LOOPBACK.assert_request(&request, "GET", &format!("{ORDER}/captures"));
    assert_accepts_json(&request);
    assert_no_body(&request);
    assert_no_key(&captures, &request);
    assert_eq!(captures.status(), 200);
    assert_eq!(captures.len(), 2);
    assert_eq!(
        captures[0].capture_id.as_deref(),
        Some("4ba29b50-be7b-44f5-a492-113e6a865e22")
    );
    assert_eq!(captures[0].order_lines.as_ref().unwrap()[0], tomatoes());
    assert_eq!(captures[1].captured_amount, Some(4000));
    assert_eq!(captures[1].klarna_reference.as_deref(), Some("K4MADNY-2"));

    let error = LOOPBACK
        .api_error(404, "NO_SUCH_ORDER", |c| async move {
            c.get_captures(&order_id()).await
        })
        .await;
    assert_eq!(
        error.api_body(),
        Some(&GetCapturesError::NotFound(decoded("NO_SUCH_ORDER")))
    );
}

#[tokio::test]
async fn capture_order() {
    let created = CannedResponse::new(201)
        .header("Capture-Id", "4ba29b50-be7b-44f5-a492-113e6a865e22")
        .header(
            "Location",
            "https://api.klarna.com/ordermanagement/v1/orders/f3392f8b/captures/4ba29b50-be7b-44f5-a492-113e6a865e22",
        );
    let call = |c: Client, key| async move {
        c.capture_order(&order_id(), &capture_body())
            .idempotency_key(key)
            .await
    };
    for (done, request) in with_and_without_key(created, call).await {
        assert_eq!(done.status(), 201);
        assert_eq!(
            *done,
            CaptureOrderResponse {
                capture_id: "4ba29b50-be7b-44f5-a492-113e6a865e22".into(),
                location:
                    "https://api.klarna.com/ordermanagement/v1/orders/f3392f8b/captures/4ba29b50-be7b-44f5-a492-113e6a865e22"
                        .into(),
            }
        );
        LOOPBACK.assert_request(&request, "POST", &format!("{ORDER}/captures"));
        assert_json_body(
            &request,
            json!({
                "captured_amount": 6000,
                "description": "Shipped the full order",
                "reference": "2027d87e-c394-4b22-9cfd-f51f79482793",
                "order_lines": [tomatoes_json()],
                "shipping_info": [dhl_shipment_json()]
            }),
        );
    }

    // The headers are required: a 201 without `Capture-Id` is a decode
    // error that keeps the key, so the caller can read the capture back.
    // (Before, this was `Ok` with `capture_id: None`.)
    let key = IdempotencyKey::from("shipment-7");
    let only_location = CannedResponse::new(201).header("Location", "/captures/x");
    let (result, _) = LOOPBACK
        .exchange(only_location, |c| call(c, Some(key.clone())))
        .await;
    let error = result.unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::Decode { message, .. } if message == "header Capture-Id is missing"),
        "{error:?}"
    );
    assert_eq!(error.idempotency_key(), Some(&key));
    assert_eq!(error.status(), Some(201));

    let error = LOOPBACK
        .api_error(403, "CAPTURE_NOT_ALLOWED", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&CaptureOrderError::Forbidden(decoded(
            "CAPTURE_NOT_ALLOWED"
        )))
    );
    let error = LOOPBACK
        .api_error(404, "NO_SUCH_ORDER", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&CaptureOrderError::NotFound(decoded("NO_SUCH_ORDER")))
    );
}

#[tokio::test]
async fn get_capture() {
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &capture_json()), |c| async move {
            c.get_capture(&order_id(), &capture_id()).await
        })
        .await;
    let capture = result.unwrap();
    LOOPBACK.assert_request(&request, "GET", &format!("{ORDER}/captures/{CAPTURE}"));
    assert_accepts_json(&request);
    assert_no_body(&request);
    assert_no_key(&capture, &request);
    assert_eq!(capture.status(), 200);
    assert_eq!(
        capture.capture_id.as_deref(),
        Some("4ba29b50-be7b-44f5-a492-113e6a865e22")
    );
    assert_eq!(capture.captured_amount, Some(6000));
    assert_eq!(capture.captured_at.as_deref(), Some("2015-11-19T01:51:17Z"));
    assert_eq!(capture.klarna_reference.as_deref(), Some("K4MADNY-1"));
    assert_eq!(capture.refunded_amount, Some(0));
    assert_eq!(capture.order_lines.as_deref(), Some(&[tomatoes()][..]));
    assert_eq!(
        capture.shipping_info.as_deref(),
        Some(&[dhl_shipment()][..])
    );
    assert_eq!(
        capture.shipping_address.as_ref().unwrap().city.as_deref(),
        Some("Knoxville")
    );

    let error = LOOPBACK
        .api_error(404, "NO_SUCH_CAPTURE", |c| async move {
            c.get_capture(&order_id(), &capture_id()).await
        })
        .await;
    assert_eq!(
        error.api_body(),
        Some(&GetCaptureError::NotFound(decoded("NO_SUCH_CAPTURE")))
    );
}

#[tokio::test]
async fn extend_due_date() {
    let call = |c: Client, key| async move {
        let body = ExtendDueDateRequest::new(14);
        c.extend_due_date(&order_id(), &capture_id(), &body)
            .idempotency_key(key)
            .await
    };
    for (done, request) in with_and_without_key(CannedResponse::new(204), call).await {
        assert_eq!(done.status(), 204);
        LOOPBACK.assert_request(
            &request,
            "PATCH",
            &format!("{ORDER}/captures/{CAPTURE}/extend-due-date"),
        );
        assert_json_body(&request, json!({ "number_of_days": 14 }));
    }

    let error = LOOPBACK
        .api_error(403, "NOT_ALLOWED", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&ExtendDueDateError::Forbidden(decoded("NOT_ALLOWED")))
    );
    let error = LOOPBACK
        .api_error(404, "NO_SUCH_CAPTURE", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&ExtendDueDateError::NotFound(decoded("NO_SUCH_CAPTURE")))
    );
}

#[tokio::test]
async fn get_options_for_extend_due_date() {
    let options = json!({
        "currency": "usd",
        "options": [
            { "number_of_days": 14, "amount": 295 },
            { "number_of_days": 28, "amount": 495 }
        ]
    });
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &options), |c| async move {
            c.get_options_for_extend_due_date(&order_id(), &capture_id())
                .await
        })
        .await;
    let options = result.unwrap();
    LOOPBACK.assert_request(
        &request,
        "GET",
        &format!("{ORDER}/captures/{CAPTURE}/extend-due-date-options"),
    );
    assert_accepts_json(&request);
    assert_no_body(&request);
    assert_no_key(&options, &request);
    assert_eq!(options.status(), 200);
    assert_eq!(options.currency.as_deref(), Some("usd"));
    let choices = options.options.as_ref().unwrap();
    assert_eq!(choices.len(), 2);
    assert_eq!(choices[0].number_of_days, Some(14));
    assert_eq!(choices[0].amount, Some(295));
    assert_eq!(choices[1].number_of_days, Some(28));
    assert_eq!(choices[1].amount, Some(495));

    let error = LOOPBACK
        .api_error(404, "NO_SUCH_CAPTURE", |c| async move {
            c.get_options_for_extend_due_date(&order_id(), &capture_id())
                .await
        })
        .await;
    assert_eq!(
        error.api_body(),
        Some(&GetOptionsForExtendDueDateError::NotFound(decoded(
            "NO_SUCH_CAPTURE"
        )))
    );
}

#[tokio::test]
async fn append_shipping_info() {
    let call = |c: Client, key| async move {
        c.append_shipping_info(&order_id(), &capture_id(), &shipping_info())
            .idempotency_key(key)
            .await
    };
    for (done, request) in with_and_without_key(CannedResponse::new(204), call).await {
        assert_eq!(done.status(), 204);
        LOOPBACK.assert_request(
            &request,
            "POST",
            &format!("{ORDER}/captures/{CAPTURE}/shipping-info"),
        );
        assert_json_body(&request, json!({ "shipping_info": [dhl_shipment_json()] }));
    }

    let error = LOOPBACK
        .api_error(403, "NOT_ALLOWED", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&AppendShippingInfoError::Forbidden(decoded("NOT_ALLOWED")))
    );
    let error = LOOPBACK
        .api_error(404, "NO_SUCH_CAPTURE", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&AppendShippingInfoError::NotFound(decoded(
            "NO_SUCH_CAPTURE"
        )))
    );
}

#[tokio::test]
async fn trigger_send_out() {
    let call = |c: Client, key| async move {
        c.trigger_send_out(&order_id(), &capture_id())
            .idempotency_key(key)
            .await
    };
    for (done, request) in with_and_without_key(CannedResponse::new(204), call).await {
        assert_eq!(done.status(), 204);
        LOOPBACK.assert_request(
            &request,
            "POST",
            &format!("{ORDER}/captures/{CAPTURE}/trigger-send-out"),
        );
        assert_no_body(&request);
    }

    let error = LOOPBACK
        .api_error(403, "NOT_ALLOWED", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&TriggerSendOutError::Forbidden(decoded("NOT_ALLOWED")))
    );
    let error = LOOPBACK
        .api_error(404, "NO_SUCH_CAPTURE", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&TriggerSendOutError::NotFound(decoded("NO_SUCH_CAPTURE")))
    );
}

// ---------------------------------------------------------------------------
// Refunds
// ---------------------------------------------------------------------------

#[tokio::test]
async fn refund_order() {
    let created = CannedResponse::new(201)
        .header("Refund-Id", "b2cb4f2e-2781-4359-80ad-555735ebb8d8")
        .header(
            "Location",
            "https://api.klarna.com/ordermanagement/v1/orders/f3392f8b/refunds/b2cb4f2e-2781-4359-80ad-555735ebb8d8",
        );
    let call = |c: Client, key| async move {
        c.refund_order(&order_id(), &refund_body())
            .idempotency_key(key)
            .await
    };
    for (done, request) in with_and_without_key(created, call).await {
        assert_eq!(done.status(), 201);
        assert_eq!(
            *done,
            RefundOrderResponse {
                refund_id: "b2cb4f2e-2781-4359-80ad-555735ebb8d8".into(),
                location:
                    "https://api.klarna.com/ordermanagement/v1/orders/f3392f8b/refunds/b2cb4f2e-2781-4359-80ad-555735ebb8d8"
                        .into(),
            }
        );
        LOOPBACK.assert_request(&request, "POST", &format!("{ORDER}/refunds"));
        assert_json_body(
            &request,
            json!({
                "refunded_amount": 10000,
                "description": "Returning the sneakers",
                "order_lines": [sneakers_json()]
            }),
        );
    }

    let error = LOOPBACK
        .api_error(403, "REFUND_NOT_ALLOWED", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&RefundOrderError::Forbidden(decoded("REFUND_NOT_ALLOWED")))
    );
    let error = LOOPBACK
        .api_error(404, "NOT_FOUND", |c| call(c, None))
        .await;
    assert_eq!(
        error.api_body(),
        Some(&RefundOrderError::NotFound(decoded("NOT_FOUND")))
    );
}

#[tokio::test]
async fn get_refund() {
    let refund = json!({
        "refund_id": "b2cb4f2e-2781-4359-80ad-555735ebb8d8",
        "refunded_amount": 10000,
        "refunded_at": "2015-12-04T15:17:40Z",
        "description": "Returning the sneakers",
        "reference": "RETURN-B24680",
        "credit_invoice": false,
        "order_lines": [sneakers_json()]
    });
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &refund), |c| async move {
            c.get_refund(&order_id(), &refund_id()).await
        })
        .await;
    let refund = result.unwrap();
    LOOPBACK.assert_request(&request, "GET", &format!("{ORDER}/refunds/{REFUND}"));
    assert_accepts_json(&request);
    assert_no_body(&request);
    assert_no_key(&refund, &request);
    assert_eq!(refund.status(), 200);
    assert_eq!(
        refund.refund_id.as_deref(),
        Some("b2cb4f2e-2781-4359-80ad-555735ebb8d8")
    );
    assert_eq!(refund.refunded_amount, Some(10000));
    assert_eq!(refund.refunded_at.as_deref(), Some("2015-12-04T15:17:40Z"));
    assert_eq!(refund.reference.as_deref(), Some("RETURN-B24680"));
    assert_eq!(refund.credit_invoice, Some(false));
    assert_eq!(
        refund.order_lines.as_deref(),
        Some(&[line("B24680", "Sneakers", 1, 10000)][..])
    );

    let error = LOOPBACK
        .api_error(404, "NOT_FOUND", |c| async move {
            c.get_refund(&order_id(), &refund_id()).await
        })
        .await;
    assert_eq!(
        error.api_body(),
        Some(&GetRefundError::NotFound(decoded("NOT_FOUND")))
    );
}

// ---------------------------------------------------------------------------
// What is not documented, not decodable, or not there
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_undocumented_status_is_unexpected_for_every_operation() {
    LOOPBACK
        .assert_unexpected_status(|c| async move { c.get_order(&order_id()).await })
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move { c.acknowledge_order(&order_id()).await })
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move {
            c.update_authorization(&order_id(), &UpdateAuthorization::new(6000))
                .await
        })
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move {
            c.update_consumer_details(&order_id(), &UpdateConsumer::default())
                .await
        })
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move { c.extend_authorization_time(&order_id()).await })
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move {
            c.update_merchant_references(&order_id(), &UpdateMerchantReferences::default())
                .await
        })
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move {
            c.release_remaining_authorization(&order_id()).await
        })
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move {
            c.append_order_shipping_info(&order_id(), &shipping_info())
                .await
        })
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move { c.cancel_order(&order_id()).await })
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move { c.get_captures(&order_id()).await })
        .await;
    LOOPBACK
        .assert_unexpected_status(
            |c| async move { c.capture_order(&order_id(), &capture_body()).await },
        )
        .await;
    LOOPBACK
        .assert_unexpected_status(
            |c| async move { c.get_capture(&order_id(), &capture_id()).await },
        )
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move {
            let body = ExtendDueDateRequest::new(14);
            c.extend_due_date(&order_id(), &capture_id(), &body).await
        })
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move {
            c.get_options_for_extend_due_date(&order_id(), &capture_id())
                .await
        })
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move {
            c.append_shipping_info(&order_id(), &capture_id(), &shipping_info())
                .await
        })
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move {
            c.trigger_send_out(&order_id(), &capture_id()).await
        })
        .await;
    LOOPBACK
        .assert_unexpected_status(
            |c| async move { c.refund_order(&order_id(), &refund_body()).await },
        )
        .await;
    LOOPBACK
        .assert_unexpected_status(|c| async move { c.get_refund(&order_id(), &refund_id()).await })
        .await;
}

#[tokio::test]
async fn an_undocumented_error_status_still_reads_klarnas_error_fields() {
    let (result, request) = LOOPBACK
        .exchange(
            CannedResponse::json(503, &error_body("TEMPORARILY_UNAVAILABLE")),
            |c| async move {
                let key = IdempotencyKey::from("order-1-capture-1");
                c.capture_order(&order_id(), &capture_body())
                    .idempotency_key(key)
                    .await
            },
        )
        .await;
    let error = result.unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::UnexpectedStatus(_)),
        "{error:?}"
    );
    assert_eq!(error.status(), Some(503));
    assert_eq!(error.correlation_id(), Some(CORRELATION_ID));
    assert_eq!(error.error_code(), Some("TEMPORARILY_UNAVAILABLE"));
    assert!(error
        .details()
        .unwrap()
        .body_excerpt
        .contains("TEMPORARILY_UNAVAILABLE"));
    assert_eq!(
        error.idempotency_key().map(IdempotencyKey::as_str),
        Some("order-1-capture-1")
    );
    assert_eq!(request.header(KEY_HEADER), Some("order-1-capture-1"));
}

#[tokio::test]
async fn a_malformed_success_body_is_a_decode_error() {
    LOOPBACK
        .assert_decode_error(|c| async move { c.get_order(&order_id()).await })
        .await;
    LOOPBACK
        .assert_decode_error(|c| async move { c.get_captures(&order_id()).await })
        .await;
    LOOPBACK
        .assert_decode_error(|c| async move { c.get_capture(&order_id(), &capture_id()).await })
        .await;
    LOOPBACK
        .assert_decode_error(|c| async move {
            c.get_options_for_extend_due_date(&order_id(), &capture_id())
                .await
        })
        .await;
    LOOPBACK
        .assert_decode_error(|c| async move { c.get_refund(&order_id(), &refund_id()).await })
        .await;
}

#[tokio::test]
async fn a_well_formed_body_of_the_wrong_shape_is_a_decode_error() {
    // An object where the spec documents an array of captures.
    let (result, _) = LOOPBACK
        .exchange(CannedResponse::json(200, &capture_json()), |c| async move {
            c.get_captures(&order_id()).await
        })
        .await;
    let error = result.unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::Decode { details, .. } if details.status == 200),
        "{error:?}"
    );
}

#[tokio::test]
async fn no_server_is_not_sent_and_keeps_the_key_for_a_retry() {
    let client = LOOPBACK.client_for(closed_port_url());
    let key = IdempotencyKey::from("order-1-capture-1");
    let error = client
        .capture_order(&order_id(), &capture_body())
        .idempotency_key(key.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::NotSent(e) if e.is_connect()),
        "{error:?}"
    );
    assert_eq!(error.status(), None);
    assert!(error.details().is_none());
    // A refused connection sent nothing (before: `NoResponse`, "may have
    // reached Klarna").
    assert!(!error.may_have_reached_klarna());
    assert!(
        error.to_string().contains("nothing reached Klarna"),
        "{error}"
    );
    assert_eq!(error.idempotency_key(), Some(&key));

    let error = client.get_order(&order_id()).await.unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::NotSent(e) if e.is_connect()),
        "{error:?}"
    );
    assert_eq!(error.idempotency_key(), None);
}
