//! Every operation of the global Payment API through a real socket: the
//! request it sends (method, percent-encoded target, API key and partner
//! account, user agent, idempotency key, JSON body built from typed values
//! and compared with the reference page's example), the success it decodes,
//! and every error status the spec documents, with Klarna's error body.

use std::fmt::Debug;
use std::future::Future;

use klarna_payments::payment_api::models::{
    Address, Buyer, CaptureRequest, ChargebackReason, ErrorResponse, ErrorType, LineItem,
    PaymentConfirmation, PaymentConfirmationConfig, PaymentRequestConfig, PaymentRequestData,
    PaymentRequestState, PaymentTransactionState, PaymentTransactionStateReason,
    PaymentTransactionUpdate, Recipient, RefundRequest, Shipping, ValidationError,
};
use klarna_payments::payment_api::{
    AccountId, CancelPaymentConfirmationError, CapturePaymentTransactionError, Client, Config,
    ConfigError, ConfirmPaymentRequestError, CreatePaymentRequestError, Credentials, Error,
    ErrorKind, IdempotencyKey, PaymentCaptureId, PaymentCaptures, PaymentChargebackId,
    PaymentChargebacks, PaymentRefundId, PaymentRefunds, PaymentRequestId, PaymentRequests,
    PaymentTransactionId, PaymentTransactions, ReadPaymentCaptureError, ReadPaymentChargebackError,
    ReadPaymentRefundError, ReadPaymentRequestError, ReadPaymentTransactionError,
    RefundPaymentCaptureError, RefundPaymentTransactionError, Response, UpdatePaymentRequestError,
    UpdatePaymentTransactionError, VoidPaymentTransactionError,
};
use klarna_tests::client_support::{
    assert_accepts_json, assert_json_body, assert_no_body, assert_no_key, assert_uuid_v4, Loopback,
    KEY_HEADER,
};
use klarna_tests::server::{CannedResponse, RecordedRequest};
use serde_json::{json, Value};

const API_KEY: &str = "klarna_test_api_T3BlbiBzZXNhbWU";
const PARTNER_ACCOUNT: &str = "krn:partner:account:206bbb83-9b6e-46fa-940d-337153c04a58";

/// Klarna's ids are KRNs, whose colons are percent-encoded in a path
/// segment; the confirmation token and the refund id carry characters
/// that must be encoded too.
const ACCOUNT_ID: &str = "krn:partner:account:206bbb83-9b6e-46fa-940d-337153c04a58";
const ACCOUNT: &str = "/v1/accounts/krn%3Apartner%3Aaccount%3A206bbb83-9b6e-46fa-940d-337153c04a58";
const PAYMENT_REQUEST_ID: &str = "krn:payment:eu1:request:552603c0-fe8b-4ab1-aacb-41d55fafbdb4";
const PAYMENT_REQUEST: &str =
    "/v1/payment/requests/krn%3Apayment%3Aeu1%3Arequest%3A552603c0-fe8b-4ab1-aacb-41d55fafbdb4";
const CONFIRMATION_TOKEN: &str = "pct/1 ä?x";
const CONFIRMATION: &str = "/v1/payment/confirmation-tokens/pct%2F1%20%C3%A4%3Fx";
const TRANSACTION_ID: &str = "krn:payment:us1:transaction:4b8b6350-6b72-42c5-b946-f088adcdc216";
const TRANSACTION: &str =
    "/payment/transactions/krn%3Apayment%3Aus1%3Atransaction%3A4b8b6350-6b72-42c5-b946-f088adcdc216";
const CAPTURE_ID: &str =
    "krn:payment:eu1:transaction:bc42b6ff-b222-463c-b4b2-d8d6a82e0162:capture:1";
const CAPTURE: &str = "/payment/captures/krn%3Apayment%3Aeu1%3Atransaction%3Abc42b6ff-b222-463c-b4b2-d8d6a82e0162%3Acapture%3A1";
const REFUND_ID: &str = "refund#1/2";
const REFUND: &str = "/payment/refunds/refund%231%2F2";
const CHARGEBACK_ID: &str =
    "krn:payment:eu1:transaction:f9669608-a24d-43ef-9f34-ec3d785dc1ae:chargeback:1";
const CHARGEBACK: &str = "/payment/chargebacks/krn%3Apayment%3Aeu1%3Atransaction%3Af9669608-a24d-43ef-9f34-ec3d785dc1ae%3Achargeback%3A1";

macro_rules! fixture {
    ($name:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!(
            "../../fixtures/payment-api/",
            $name,
            ".json"
        )))
        .expect("the fixture is JSON")
    };
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn account_id() -> AccountId {
    AccountId::new(ACCOUNT_ID)
}

fn payment_request_id() -> PaymentRequestId {
    PaymentRequestId::new(PAYMENT_REQUEST_ID)
}

fn transaction_id() -> PaymentTransactionId {
    PaymentTransactionId::new(TRANSACTION_ID)
}

fn capture_id() -> PaymentCaptureId {
    PaymentCaptureId::new(CAPTURE_ID)
}

fn refund_id() -> PaymentRefundId {
    PaymentRefundId::new(REFUND_ID)
}

fn chargeback_id() -> PaymentChargebackId {
    PaymentChargebackId::new(CHARGEBACK_ID)
}

const LOOPBACK: Loopback<Client> = Loopback {
    client: Client::from_config,
    credentials: || Credentials::api_key(API_KEY, PARTNER_ACCOUNT),
    authorization: API_KEY,
    truncated_success: r#"{"payment_capture_id": "#,
};

/// What every request carries: method, target, API key, partner account,
/// user agent.
fn assert_request(request: &RecordedRequest, method: &str, target: &str) {
    LOOPBACK.assert_request(request, method, target);
    assert_eq!(
        request.header("klarna-partner-account"),
        Some(PARTNER_ACCOUNT)
    );
    assert_accepts_json(request);
}

/// The key the caller gave is sent and returned.
fn assert_given_key<T>(response: &Response<T>, request: &RecordedRequest, key: &str) {
    assert_eq!(request.header(KEY_HEADER), Some(key));
    assert_eq!(
        response.idempotency_key().map(IdempotencyKey::as_str),
        Some(key)
    );
}

/// With no key given, a version 4 UUID is made, sent and returned.
fn assert_generated_key<T>(response: &Response<T>, request: &RecordedRequest) {
    let key = request.header(KEY_HEADER).expect("a generated key is sent");
    assert_eq!(
        response.idempotency_key().map(IdempotencyKey::as_str),
        Some(key)
    );
    assert_uuid_v4(key);
}

/// Klarna's error object for a status, and its typed form.
fn error_for(status: u16) -> (Value, ErrorResponse) {
    let (error_type, code) = match status {
        400 => ("INPUT_ERROR", "VALIDATION_ERROR"),
        401 => ("ACCESS_ERROR", "UNAUTHORIZED"),
        403 => ("ACCESS_ERROR", "FORBIDDEN"),
        404 => ("RESOURCE_ERROR", "RESOURCE_NOT_FOUND"),
        409 => ("RESOURCE_ERROR", "IDEMPOTENCY_KEY_CONFLICT"),
        429 => ("TECHNICAL_ERROR", "RATE_LIMITED"),
        _ => ("TECHNICAL_ERROR", "INTERNAL_ERROR"),
    };
    let message = format!("status {status} from the test server");
    let mut json = json!({
        "error_id": format!("e{status}-1653c9db-454b-4222-8265-4c7ca209f630"),
        "error_type": error_type,
        "error_code": code,
        "error_message": message
    });
    let mut typed = ErrorResponse {
        error_code: Some(code.into()),
        error_id: Some(format!("e{status}-1653c9db-454b-4222-8265-4c7ca209f630")),
        error_message: Some(message),
        error_type: Some(match error_type {
            "INPUT_ERROR" => ErrorType::InputError,
            "ACCESS_ERROR" => ErrorType::AccessError,
            "RESOURCE_ERROR" => ErrorType::ResourceError,
            _ => ErrorType::TechnicalError,
        }),
        ..ErrorResponse::default()
    };
    if status == 400 {
        json["validation_errors"] = json!([{
            "parameter": "payment_amount",
            "reason": "must be greater than 0"
        }]);
        typed.validation_errors = Some(vec![ValidationError {
            parameter: Some("payment_amount".into()),
            reason: Some("must be greater than 0".into()),
            ..ValidationError::default()
        }]);
    }
    (json, typed)
}

/// A documented error status and the variant of the operation's error
/// type that holds its body.
type Documented<E> = (u16, fn(ErrorResponse) -> E);

/// Answers the call once per documented error status, and checks that each
/// decodes into its variant with the error body, and that the error keeps
/// the key the request carried.
async fn assert_errors<T: Debug, E: Debug + PartialEq, Fut>(
    call: impl Fn(Client) -> Fut,
    documented: &[Documented<E>],
) where
    Fut: Future<Output = Result<Response<T>, Error<E>>>,
{
    for (status, variant) in documented {
        let (json, typed) = error_for(*status);
        let (result, request) = LOOPBACK
            .exchange(CannedResponse::json(*status, &json), &call)
            .await;
        let error = result.unwrap_err();
        assert!(matches!(error.kind(), ErrorKind::Api(_)), "{error:?}");
        assert_eq!(error.status(), Some(*status));
        assert_eq!(error.error_code(), typed.error_code.as_deref());
        assert_eq!(error.error_messages(), typed.error_message.as_slice());
        assert_eq!(error.api_body(), Some(&variant(typed)), "status {status}");
        assert_eq!(
            error.idempotency_key().map(IdempotencyKey::as_str),
            request.header(KEY_HEADER)
        );
    }
}

// ---------------------------------------------------------------------------
// Typed values equal to the page's examples
// ---------------------------------------------------------------------------

fn pen_line() -> LineItem {
    LineItem {
        product_identifier: Some("3270220049012".into()),
        reference: Some("cart-item-1234".into()),
        total_tax_amount: Some(0),
        unit_price: Some(1000),
        ..LineItem::new("Black fountain pen", 2, 2000)
    }
}

fn tee_line() -> LineItem {
    LineItem {
        product_identifier: Some("1234567890".into()),
        ..LineItem::new("Oversized vintage trabant tee", 2, 5000)
    }
}

fn columbus() -> Address {
    Address {
        city: Some("Columbus".into()),
        country: Some("US".into()),
        postal_code: Some("43215".into()),
        region: Some("OH".into()),
        street_address: Some("800 N. High St".into()),
        street_address2: Some("Ste. 400".into()),
    }
}

fn minimum_request() -> PaymentRequestData {
    PaymentRequestData {
        config: Some(PaymentRequestConfig::new()),
        ..PaymentRequestData::new("USD", 1000)
    }
}

fn updated_request() -> PaymentRequestData {
    PaymentRequestData {
        buyer: Some(Buyer {
            address: Some(columbus()),
            email: Some("john.doe@example.com".into()),
            family_name: Some("Doe".into()),
            given_name: Some("John".into()),
            phone: Some("844-552-7621".into()),
        }),
        line_items: Some(vec![pen_line()]),
        merchant_reference: Some("merchant-order-9876".into()),
        payment_reference: Some("partner-payment-reference-12345".into()),
        shipping: Some(vec![Shipping {
            address: Some(columbus()),
            recipient: Some(Recipient {
                attention: Some("string".into()),
                email: Some("john.doe@example.com".into()),
                family_name: Some("Doe".into()),
                given_name: Some("John".into()),
                phone: Some("844-552-7621".into()),
            }),
        }]),
        ..PaymentRequestData::new("USD", 2000)
    }
}

fn refund_request() -> RefundRequest {
    RefundRequest {
        line_items: Some(vec![tee_line()]),
        refund_reference: Some("refund-reference-123".into()),
        ..RefundRequest::new(5000)
    }
}

// ---------------------------------------------------------------------------
// Payment requests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn create_payment_request() {
    let call = |c: Client| async move { c.create_payment_request(&minimum_request()).await };
    let response = fixture!("create_payment_request.response");
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(201, &response), call)
        .await;
    let created = result.unwrap();
    assert_request(&request, "POST", "/v1/payment/requests");
    assert_json_body(&request, fixture!("create_payment_request.request"));
    assert_generated_key(&created, &request);
    assert_eq!(created.status(), 201);
    assert_eq!(created.payment_request_id, PAYMENT_REQUEST_ID);
    assert_eq!(created.state, PaymentRequestState::Submitted);
    assert_eq!(
        created.state_expires_at.as_deref(),
        Some("2024-01-01T15:00:00Z")
    );

    assert_errors(
        call,
        &[
            (400, CreatePaymentRequestError::BadRequest),
            (401, CreatePaymentRequestError::Unauthorized),
            (429, CreatePaymentRequestError::TooManyRequests),
            (500, CreatePaymentRequestError::InternalServerError),
            (503, CreatePaymentRequestError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn read_payment_request() {
    let call = |c: Client| async move { c.read_payment_request(&payment_request_id()).await };
    let response = fixture!("read_payment_request.response");
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &response), call)
        .await;
    let read = result.unwrap();
    assert_request(&request, "GET", PAYMENT_REQUEST);
    assert_no_body(&request);
    assert_no_key(&read, &request);
    assert_eq!(read.status(), 200);
    assert_eq!(read.state, PaymentRequestState::Submitted);
    assert_eq!(read.payment_request.as_ref().unwrap().currency, "USD");

    assert_errors(
        call,
        &[
            (401, ReadPaymentRequestError::Unauthorized),
            (404, ReadPaymentRequestError::NotFound),
            (429, ReadPaymentRequestError::TooManyRequests),
            (500, ReadPaymentRequestError::InternalServerError),
            (503, ReadPaymentRequestError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn read_payment_request_keeps_unknown_states_and_ignores_unknown_fields() {
    let mut response = fixture!("read_payment_request.response");
    // EXPIRED and the other states of the Notification API's events are
    // known; this one is not.
    response["state"] = json!("ON_HOLD");
    response["brand_new_field"] = json!({ "added": "later" });
    response["payment_request"]["config"] = json!({ "redirect_url": "https://shop.example/back" });
    let (result, _) = LOOPBACK
        .exchange(CannedResponse::json(200, &response), |c| async move {
            c.read_payment_request(&payment_request_id()).await
        })
        .await;
    let read = result.unwrap();
    assert_eq!(read.state, PaymentRequestState::Unknown("ON_HOLD".into()));
    // The free-form config keeps what it is sent.
    let config = read
        .payment_request
        .as_ref()
        .unwrap()
        .config
        .as_ref()
        .unwrap();
    assert_eq!(config["redirect_url"], "https://shop.example/back");
}

#[tokio::test]
async fn update_payment_request() {
    let call = |c: Client| async move {
        let key = IdempotencyKey::from("update-request-1");
        c.update_payment_request(&payment_request_id(), &updated_request())
            .idempotency_key(key)
            .await
    };
    let response = fixture!("update_payment_request.response");
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &response), call)
        .await;
    let updated = result.unwrap();
    assert_request(&request, "PATCH", PAYMENT_REQUEST);
    assert_json_body(&request, fixture!("update_payment_request.request"));
    assert_given_key(&updated, &request, "update-request-1");
    assert_eq!(updated.status(), 200);
    assert_eq!(updated.state, PaymentRequestState::Submitted);

    assert_errors(
        call,
        &[
            (400, UpdatePaymentRequestError::BadRequest),
            (401, UpdatePaymentRequestError::Unauthorized),
            (404, UpdatePaymentRequestError::NotFound),
            (409, UpdatePaymentRequestError::Conflict),
            (429, UpdatePaymentRequestError::TooManyRequests),
            (500, UpdatePaymentRequestError::InternalServerError),
            (503, UpdatePaymentRequestError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn confirm_payment_request() {
    let call = |c: Client| async move {
        let confirmation = PaymentConfirmation {
            config: Some(PaymentConfirmationConfig {
                capture: Some(false),
            }),
            payment_transaction_reference: Some("partner-transaction-reference-4567".into()),
            ..PaymentConfirmation::new("USD", 2000)
        };
        c.confirm_payment_request(CONFIRMATION_TOKEN, &confirmation)
            .await
    };
    let response = fixture!("confirm_payment_request.response");
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &response), call)
        .await;
    let confirmed = result.unwrap();
    assert_request(&request, "POST", &format!("{CONFIRMATION}/confirm"));
    assert_json_body(&request, fixture!("confirm_payment_request.request"));
    assert_generated_key(&confirmed, &request);
    assert_eq!(confirmed.state, PaymentRequestState::Authorized);
    let context = confirmed.state_context.as_ref().unwrap();
    assert_eq!(
        context.payment_transaction_id.as_deref(),
        Some("krn:payment:eu1:transaction:6debe89e-98c0-486e-b7a5-08a4f6df94b0")
    );

    assert_errors(
        call,
        &[
            (400, ConfirmPaymentRequestError::BadRequest),
            (401, ConfirmPaymentRequestError::Unauthorized),
            (404, ConfirmPaymentRequestError::NotFound),
            (409, ConfirmPaymentRequestError::Conflict),
            (429, ConfirmPaymentRequestError::TooManyRequests),
            (500, ConfirmPaymentRequestError::InternalServerError),
            (503, ConfirmPaymentRequestError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn cancel_payment_confirmation() {
    let call = |c: Client| async move { c.cancel_payment_confirmation(CONFIRMATION_TOKEN).await };
    let response = fixture!("cancel_payment_confirmation.response");
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &response), call)
        .await;
    let cancelled = result.unwrap();
    assert_request(&request, "DELETE", CONFIRMATION);
    assert_no_body(&request);
    assert_no_key(&cancelled, &request);
    assert_eq!(cancelled.state, PaymentRequestState::Submitted);

    assert_errors(
        call,
        &[
            (401, CancelPaymentConfirmationError::Unauthorized),
            (404, CancelPaymentConfirmationError::NotFound),
            (429, CancelPaymentConfirmationError::TooManyRequests),
            (500, CancelPaymentConfirmationError::InternalServerError),
            (503, CancelPaymentConfirmationError::ServiceUnavailable),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------
// Payment transactions
// ---------------------------------------------------------------------------

#[tokio::test]
async fn read_payment_transaction() {
    let call = |c: Client| async move {
        c.read_payment_transaction(&account_id(), &transaction_id())
            .await
    };
    let response = fixture!("read_payment_transaction.response");
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &response), call)
        .await;
    let transaction = result.unwrap();
    assert_request(&request, "GET", &format!("{ACCOUNT}{TRANSACTION}"));
    assert_no_body(&request);
    assert_no_key(&transaction, &request);
    assert_eq!(transaction.payment_transaction_id, TRANSACTION_ID);
    assert_eq!(transaction.state, PaymentTransactionState::Authorized);
    assert_eq!(transaction.original_authorization_amount, Some(2100));

    assert_errors(
        call,
        &[
            (401, ReadPaymentTransactionError::Unauthorized),
            (404, ReadPaymentTransactionError::NotFound),
            (429, ReadPaymentTransactionError::TooManyRequests),
            (500, ReadPaymentTransactionError::InternalServerError),
            (503, ReadPaymentTransactionError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn update_payment_transaction() {
    let call = |c: Client| async move {
        let update = PaymentTransactionUpdate {
            merchant_reference: Some("new-merchant-order-reference-5678".into()),
            payment_transaction_reference: Some("new-payment-transaction-reference-1234".into()),
        };
        c.update_payment_transaction(&account_id(), &transaction_id(), &update)
            .await
    };
    let response = fixture!("update_payment_transaction.response");
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &response), call)
        .await;
    let updated = result.unwrap();
    assert_request(&request, "PATCH", &format!("{ACCOUNT}{TRANSACTION}"));
    assert_json_body(&request, fixture!("update_payment_transaction.request"));
    assert_generated_key(&updated, &request);
    assert_eq!(
        updated.merchant_reference.as_deref(),
        Some("new-merchant-order-reference-5678")
    );

    assert_errors(
        call,
        &[
            (400, UpdatePaymentTransactionError::BadRequest),
            (401, UpdatePaymentTransactionError::Unauthorized),
            (404, UpdatePaymentTransactionError::NotFound),
            (429, UpdatePaymentTransactionError::TooManyRequests),
            (500, UpdatePaymentTransactionError::InternalServerError),
            (503, UpdatePaymentTransactionError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn capture_payment_transaction() {
    let call = |c: Client| async move {
        let capture = CaptureRequest {
            line_items: Some(vec![tee_line()]),
            ..CaptureRequest::new(5000)
        };
        let key = IdempotencyKey::from("capture-1");
        c.capture_payment_transaction(&account_id(), &transaction_id(), &capture)
            .idempotency_key(key)
            .await
    };
    let response = fixture!("capture_payment_transaction.response");
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(201, &response), call)
        .await;
    let captured = result.unwrap();
    assert_request(
        &request,
        "POST",
        &format!("{ACCOUNT}{TRANSACTION}/captures"),
    );
    assert_json_body(&request, fixture!("capture_payment_transaction.request"));
    assert_given_key(&captured, &request, "capture-1");
    assert_eq!(captured.status(), 201);
    assert_eq!(captured.payment_capture_id, CAPTURE_ID);
    assert_eq!(captured.capture_amount, 5000);

    assert_errors(
        call,
        &[
            (400, CapturePaymentTransactionError::BadRequest),
            (401, CapturePaymentTransactionError::Unauthorized),
            (403, CapturePaymentTransactionError::Forbidden),
            (404, CapturePaymentTransactionError::NotFound),
            (429, CapturePaymentTransactionError::TooManyRequests),
            (500, CapturePaymentTransactionError::InternalServerError),
            (503, CapturePaymentTransactionError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn refund_payment_transaction() {
    let call = |c: Client| async move {
        c.refund_payment_transaction(&account_id(), &transaction_id(), &refund_request())
            .await
    };
    let response = fixture!("refund_payment_transaction.response");
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(201, &response), call)
        .await;
    let refunded = result.unwrap();
    assert_request(&request, "POST", &format!("{ACCOUNT}{TRANSACTION}/refunds"));
    assert_json_body(&request, fixture!("refund_payment_transaction.request"));
    assert_generated_key(&refunded, &request);
    assert_eq!(refunded.status(), 201);
    assert_eq!(refunded.refund_amount, 5000);
    assert_eq!(refunded.payment_capture_id, None);

    assert_errors(
        call,
        &[
            (400, RefundPaymentTransactionError::BadRequest),
            (401, RefundPaymentTransactionError::Unauthorized),
            (403, RefundPaymentTransactionError::Forbidden),
            (404, RefundPaymentTransactionError::NotFound),
            (429, RefundPaymentTransactionError::TooManyRequests),
            (500, RefundPaymentTransactionError::InternalServerError),
            (503, RefundPaymentTransactionError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn void_payment_transaction() {
    let call = |c: Client| async move {
        let key = IdempotencyKey::from("void-1");
        c.void_payment_transaction(&account_id(), &transaction_id())
            .idempotency_key(key)
            .await
    };
    let response = fixture!("void_payment_transaction.response");
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &response), call)
        .await;
    let voided = result.unwrap();
    assert_request(&request, "POST", &format!("{ACCOUNT}{TRANSACTION}/void"));
    assert_no_body(&request);
    assert_given_key(&voided, &request, "void-1");
    assert_eq!(voided.state, PaymentTransactionState::Completed);
    assert_eq!(
        voided.state_reason,
        Some(PaymentTransactionStateReason::Voided)
    );
    assert_eq!(voided.remaining_authorization_amount, Some(0));

    assert_errors(
        call,
        &[
            (400, VoidPaymentTransactionError::BadRequest),
            (401, VoidPaymentTransactionError::Unauthorized),
            (403, VoidPaymentTransactionError::Forbidden),
            (404, VoidPaymentTransactionError::NotFound),
            (429, VoidPaymentTransactionError::TooManyRequests),
            (500, VoidPaymentTransactionError::InternalServerError),
            (503, VoidPaymentTransactionError::ServiceUnavailable),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------
// Captures, refunds, chargebacks
// ---------------------------------------------------------------------------

#[tokio::test]
async fn read_payment_capture() {
    let call =
        |c: Client| async move { c.read_payment_capture(&account_id(), &capture_id()).await };
    let response = fixture!("read_payment_capture.response");
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &response), call)
        .await;
    let capture = result.unwrap();
    assert_request(&request, "GET", &format!("{ACCOUNT}{CAPTURE}"));
    assert_no_body(&request);
    assert_no_key(&capture, &request);
    assert_eq!(capture.payment_capture_id, CAPTURE_ID);
    assert_eq!(capture.shipments.as_ref().unwrap().len(), 1);

    assert_errors(
        call,
        &[
            (401, ReadPaymentCaptureError::Unauthorized),
            (404, ReadPaymentCaptureError::NotFound),
            (429, ReadPaymentCaptureError::TooManyRequests),
            (500, ReadPaymentCaptureError::InternalServerError),
            (503, ReadPaymentCaptureError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn refund_payment_capture() {
    let call = |c: Client| async move {
        let key = IdempotencyKey::from("refund-capture-1");
        c.refund_payment_capture(&account_id(), &capture_id(), &refund_request())
            .idempotency_key(key)
            .await
    };
    let response = fixture!("refund_payment_capture.response");
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(201, &response), call)
        .await;
    let refunded = result.unwrap();
    assert_request(&request, "POST", &format!("{ACCOUNT}{CAPTURE}/refunds"));
    assert_json_body(&request, fixture!("refund_payment_capture.request"));
    assert_given_key(&refunded, &request, "refund-capture-1");
    assert_eq!(refunded.status(), 201);
    assert_eq!(refunded.payment_capture_id.as_deref(), Some(CAPTURE_ID));

    assert_errors(
        call,
        &[
            (400, RefundPaymentCaptureError::BadRequest),
            (401, RefundPaymentCaptureError::Unauthorized),
            (403, RefundPaymentCaptureError::Forbidden),
            (404, RefundPaymentCaptureError::NotFound),
            (429, RefundPaymentCaptureError::TooManyRequests),
            (500, RefundPaymentCaptureError::InternalServerError),
            (503, RefundPaymentCaptureError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn read_payment_refund() {
    let call = |c: Client| async move { c.read_payment_refund(&account_id(), &refund_id()).await };
    let response = fixture!("read_payment_refund.response");
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &response), call)
        .await;
    let refund = result.unwrap();
    assert_request(&request, "GET", &format!("{ACCOUNT}{REFUND}"));
    assert_no_body(&request);
    assert_no_key(&refund, &request);
    assert_eq!(
        refund.refund_reference.as_deref(),
        Some("refund-reference-123")
    );

    assert_errors(
        call,
        &[
            (401, ReadPaymentRefundError::Unauthorized),
            (404, ReadPaymentRefundError::NotFound),
            (429, ReadPaymentRefundError::TooManyRequests),
            (500, ReadPaymentRefundError::InternalServerError),
            (503, ReadPaymentRefundError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn read_payment_chargeback() {
    let call = |c: Client| async move {
        c.read_payment_chargeback(&account_id(), &chargeback_id())
            .await
    };
    let response = fixture!("read_payment_chargeback.response");
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &response), call)
        .await;
    let chargeback = result.unwrap();
    assert_request(&request, "GET", &format!("{ACCOUNT}{CHARGEBACK}"));
    assert_no_body(&request);
    assert_no_key(&chargeback, &request);
    assert_eq!(chargeback.payment_chargeback_id, CHARGEBACK_ID);
    assert_eq!(
        chargeback.chargeback_reason,
        Some(ChargebackReason::DisputeMerchantLoss)
    );

    assert_errors(
        call,
        &[
            (401, ReadPaymentChargebackError::Unauthorized),
            (404, ReadPaymentChargebackError::NotFound),
            (429, ReadPaymentChargebackError::TooManyRequests),
            (500, ReadPaymentChargebackError::InternalServerError),
            (503, ReadPaymentChargebackError::ServiceUnavailable),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------
// Credentials and failures outside the documented statuses
// ---------------------------------------------------------------------------

#[test]
fn basic_credentials_are_refused() {
    // The Payment API takes an API key and a partner account; a client with
    // Basic credentials (those of the regional APIs) is refused when it is
    // built, not at its first call.
    let config = Config::with_base_url(
        "http://127.0.0.1:9",
        Credentials::basic("PN_merchant_1", "t0ps3cret!"),
    );
    let error = Client::from_config(config).unwrap_err();
    assert!(
        matches!(error, ConfigError::WrongCredentials { .. }),
        "{error:?}"
    );
    assert!(!format!("{error:?}").contains("t0ps3cret!"), "{error:?}");
}

#[tokio::test]
async fn undocumented_status_and_malformed_body() {
    let call =
        |c: Client| async move { c.read_payment_capture(&account_id(), &capture_id()).await };
    LOOPBACK.assert_unexpected_status(call).await;
    LOOPBACK.assert_decode_error(call).await;

    // A capture without its required amount is not a capture.
    let incomplete = CannedResponse::json(200, &json!({ "payment_capture_id": CAPTURE_ID }));
    let error = LOOPBACK.exchange(incomplete, call).await.0.unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::Decode { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn secrets_stay_out_of_errors() {
    let call = |c: Client| async move { c.read_payment_request(&payment_request_id()).await };
    let (json, _) = error_for(401);
    let error = LOOPBACK
        .exchange(CannedResponse::json(401, &json), call)
        .await
        .0
        .unwrap_err();
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(API_KEY), "{text}");
    }
}
