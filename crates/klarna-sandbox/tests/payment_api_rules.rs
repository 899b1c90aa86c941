//! Each rule of the sandbox's Payment API, through the generated
//! `klarna_payments::payment_api` client: what a partner's code would see
//! from Klarna, from a payment request to the refunds of its transaction.

use klarna_payments::payment_api::models::{
    CaptureRequest, ErrorResponse, ErrorType, LineItem, PaymentConfirmation,
    PaymentConfirmationConfig, PaymentRequest, PaymentRequestData, PaymentRequestState,
    PaymentTransaction, PaymentTransactionState, PaymentTransactionStateReason,
    PaymentTransactionUpdate, RefundRequest,
};
use klarna_payments::payment_api::{
    AccountId, CancelPaymentConfirmationError, CapturePaymentTransactionError, Client, Config,
    ConfigError, ConfirmPaymentRequestError, CreatePaymentRequestError, Credentials,
    IdempotencyKey, PaymentCaptureId, PaymentCaptures, PaymentChargebackId, PaymentChargebacks,
    PaymentRefundId, PaymentRefunds, PaymentRequestId, PaymentRequests, PaymentTransactionId,
    PaymentTransactions, ReadPaymentCaptureError, ReadPaymentChargebackError,
    ReadPaymentRefundError, ReadPaymentRequestError, ReadPaymentTransactionError,
    RefundPaymentCaptureError, RefundPaymentTransactionError, UpdatePaymentRequestError,
    VoidPaymentTransactionError,
};
use klarna_sandbox::Sandbox;

const ACCOUNT: &str = "krn:partner:account:206bbb83-9b6e-46fa-940d-337153c04a58";
const OTHER_ACCOUNT: &str = "krn:partner:account:00000000-0000-4000-8000-000000000000";

fn client_for(sandbox: &Sandbox, account: &str) -> Client {
    Client::from_config(Config::with_base_url(
        sandbox.base_url(),
        Credentials::api_key("test-api-key", account),
    ))
    .unwrap()
}

fn client(sandbox: &Sandbox) -> Client {
    client_for(sandbox, ACCOUNT)
}

/// The partner account the calls name in their paths.
fn account() -> AccountId {
    AccountId::new(ACCOUNT)
}

/// The id of a payment request as the client takes it.
fn request_id(request: &PaymentRequest) -> PaymentRequestId {
    PaymentRequestId::new(&request.payment_request_id)
}

fn item(name: &str, amount: i64) -> LineItem {
    LineItem {
        unit_price: Some(amount),
        ..LineItem::new(name, 1, amount)
    }
}

/// A tee (50.00) and a skateboard (100.00): 150.00 EUR, as in the page's
/// void example.
fn purchase() -> PaymentRequestData {
    PaymentRequestData {
        line_items: Some(vec![item("Tee", 5_000), item("Skateboard", 10_000)]),
        merchant_reference: Some("order-5678".to_owned()),
        payment_reference: Some("payref-1234".to_owned()),
        ..PaymentRequestData::new("EUR", 15_000)
    }
}

fn confirmation(amount: i64) -> PaymentConfirmation {
    PaymentConfirmation {
        payment_transaction_reference: Some("tx-ref-1".to_owned()),
        config: Some(PaymentConfirmationConfig {
            capture: Some(false),
        }),
        ..PaymentConfirmation::new("EUR", amount)
    }
}

fn capture_of(amount: i64) -> CaptureRequest {
    CaptureRequest::new(amount)
}

fn refund_of(amount: i64) -> RefundRequest {
    RefundRequest::new(amount)
}

async fn create(client: &Client) -> PaymentRequest {
    client
        .create_payment_request(&purchase())
        .await
        .unwrap()
        .into_inner()
}

/// Creates a payment request, has the buyer approve it and confirms it;
/// returns the transaction id.
async fn authorized_transaction(sandbox: &Sandbox, client: &Client) -> PaymentTransactionId {
    let request = create(client).await;
    let token = sandbox
        .authorize_payment_request(&request.payment_request_id)
        .unwrap();
    let confirmed = client
        .confirm_payment_request(&token, &confirmation(15_000))
        .await
        .unwrap();
    confirmed
        .state_context
        .as_ref()
        .and_then(|c| c.payment_transaction_id.clone())
        .map(PaymentTransactionId::new)
        .unwrap()
}

async fn transaction(client: &Client, id: &PaymentTransactionId) -> PaymentTransaction {
    client
        .read_payment_transaction(&account(), id)
        .await
        .unwrap()
        .into_inner()
}

async fn capture(
    client: &Client,
    transaction_id: &PaymentTransactionId,
    amount: i64,
) -> PaymentCaptureId {
    client
        .capture_payment_transaction(&account(), transaction_id, &capture_of(amount))
        .await
        .unwrap()
        .payment_capture_id
        .as_str()
        .into()
}

/// A refused call in full, for assertion messages.
fn describe<E: std::fmt::Debug>(error: &klarna_payments::payment_api::Error<E>) -> String {
    format!("{error:?}")
}

// ---------------------------------------------------------------------------
// The whole lifecycle
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_payment_goes_from_request_to_voided_remainder() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);

    let created = client.create_payment_request(&purchase()).await.unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.state, PaymentRequestState::Submitted);
    assert!(created.payment_request_id.starts_with("krn:payment:"));
    assert_eq!(created.payment_request.as_ref(), Some(&purchase()));
    assert_eq!(created.state_context, None);
    let id = request_id(&created);

    let token = sandbox.authorize_payment_request(&id).unwrap();
    let pending = client.read_payment_request(&id).await.unwrap();
    assert_eq!(pending.state, PaymentRequestState::PendingConfirmation);

    let confirmed = client
        .confirm_payment_request(&token, &confirmation(15_000))
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    assert_eq!(confirmed.state, PaymentRequestState::Authorized);
    let context = confirmed.state_context.clone().unwrap();
    let transaction_id = PaymentTransactionId::new(context.payment_transaction_id.unwrap());
    assert!(context.payment_pricing.and_then(|p| p.rate).is_some());
    assert_eq!(
        client.read_payment_request(&id).await.unwrap().into_inner(),
        confirmed.into_inner()
    );

    let authorized = transaction(&client, &transaction_id).await;
    assert_eq!(authorized.state, PaymentTransactionState::Authorized);
    assert_eq!(
        authorized.state_reason,
        Some(PaymentTransactionStateReason::Authorized)
    );
    assert_eq!(authorized.currency.as_deref(), Some("EUR"));
    assert_eq!(authorized.payment_amount, Some(15_000));
    assert_eq!(authorized.original_authorization_amount, Some(15_000));
    assert_eq!(authorized.remaining_authorization_amount, Some(15_000));
    assert_eq!(authorized.line_items, purchase().line_items);
    assert_eq!(authorized.merchant_reference.as_deref(), Some("order-5678"));
    assert_eq!(
        authorized.payment_transaction_reference.as_deref(),
        Some("tx-ref-1")
    );
    assert_eq!(authorized.captures, Some(vec![]));

    // Two partial captures.
    let tee = client
        .capture_payment_transaction(
            &account(),
            &transaction_id,
            &CaptureRequest {
                capture_reference: Some("capture-tee".to_owned()),
                line_items: Some(vec![item("Tee", 5_000)]),
                ..CaptureRequest::new(5_000)
            },
        )
        .await
        .unwrap();
    assert_eq!(tee.status(), 201);
    assert_eq!(tee.capture_amount, 5_000);
    assert_eq!(tee.capture_reference.as_deref(), Some("capture-tee"));
    let second = capture(&client, &transaction_id, 4_000).await;
    assert_ne!(second.as_str(), tee.payment_capture_id);
    let partly = transaction(&client, &transaction_id).await;
    assert_eq!(partly.state, PaymentTransactionState::Authorized);
    assert_eq!(partly.remaining_authorization_amount, Some(6_000));
    assert_eq!(partly.captures.as_ref().map(Vec::len), Some(2));
    let read = client
        .read_payment_capture(&account(), &tee.payment_capture_id.as_str().into())
        .await
        .unwrap();
    assert_eq!(read.into_inner(), tee.into_inner());

    // A refund of the transaction, and one against the second capture.
    let refund = client
        .refund_payment_transaction(&account(), &transaction_id, &refund_of(1_000))
        .await
        .unwrap();
    assert_eq!(refund.status(), 201);
    assert_eq!(refund.payment_capture_id, None);
    let on_capture = client
        .refund_payment_capture(&account(), &second, &refund_of(500))
        .await
        .unwrap();
    assert_eq!(
        on_capture.payment_capture_id.as_deref(),
        Some(second.as_str())
    );
    let read = client
        .read_payment_refund(&account(), &on_capture.payment_refund_id.as_str().into())
        .await
        .unwrap();
    assert_eq!(read.into_inner(), on_capture.clone().into_inner());

    // Void releases the 60.00 left; the captures and refunds stand.
    let voided = client
        .void_payment_transaction(&account(), &transaction_id)
        .await
        .unwrap();
    assert_eq!(voided.status(), 200);
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
    assert_eq!(voided.original_authorization_amount, Some(15_000));
    assert_eq!(voided.captures.as_ref().map(Vec::len), Some(2));
    assert_eq!(voided.refunds.as_ref().map(Vec::len), Some(2));
    assert_eq!(
        sandbox.payment_transaction(&transaction_id),
        Some(voided.into_inner())
    );

    // Nothing more to capture, but what was captured can still be refunded.
    let error = client
        .capture_payment_transaction(&account(), &transaction_id, &capture_of(100))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(403));
    assert_eq!(error.error_code(), Some("CAPTURE_NOT_ALLOWED"));
    assert!(matches!(
        error.api_body(),
        Some(CapturePaymentTransactionError::Forbidden(_))
    ));
    client
        .refund_payment_transaction(&account(), &transaction_id, &refund_of(1_000))
        .await
        .unwrap();
    let error = client
        .void_payment_transaction(&account(), &transaction_id)
        .await
        .unwrap_err();
    assert_eq!(error.error_code(), Some("VOID_NOT_ALLOWED"));
    assert!(matches!(
        error.api_body(),
        Some(VoidPaymentTransactionError::Forbidden(_))
    ));
}

#[tokio::test]
async fn a_full_capture_completes_the_transaction_and_leaves_nothing_to_void() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = authorized_transaction(&sandbox, &client).await;
    capture(&client, &id, 10_000).await;
    capture(&client, &id, 5_000).await;

    let done = transaction(&client, &id).await;
    assert_eq!(done.state, PaymentTransactionState::Completed);
    assert_eq!(done.state_reason, None);
    assert_eq!(done.remaining_authorization_amount, Some(0));

    let error = client
        .void_payment_transaction(&account(), &id)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(403));
    let error = client
        .capture_payment_transaction(&account(), &id, &capture_of(1))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(403));
}

#[tokio::test]
async fn confirming_with_capture_takes_the_whole_amount_at_once() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let request = create(&client).await;
    let token = sandbox
        .authorize_payment_request(&request.payment_request_id)
        .unwrap();
    let mut body = confirmation(15_000);
    body.config = Some(PaymentConfirmationConfig {
        capture: Some(true),
    });
    let confirmed = client.confirm_payment_request(&token, &body).await.unwrap();
    let id = confirmed
        .state_context
        .as_ref()
        .and_then(|c| c.payment_transaction_id.clone())
        .map(PaymentTransactionId::new)
        .unwrap();

    let done = transaction(&client, &id).await;
    assert_eq!(done.state, PaymentTransactionState::Completed);
    let captures = done.captures.unwrap();
    assert_eq!(captures.len(), 1);
    assert_eq!(captures[0].capture_amount, 15_000);
    assert_eq!(captures[0].line_items, purchase().line_items);
}

// ---------------------------------------------------------------------------
// Captures and refunds within their limits
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_capture_above_the_remaining_authorization_is_refused() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = authorized_transaction(&sandbox, &client).await;
    capture(&client, &id, 10_000).await;

    let error = client
        .capture_payment_transaction(&account(), &id, &capture_of(5_001))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(403));
    assert_eq!(error.error_code(), Some("CAPTURE_NOT_ALLOWED"));
    let Some(CapturePaymentTransactionError::Forbidden(refusal)) = error.api_body() else {
        panic!("{error:?}");
    };
    assert_eq!(refusal.error_type, Some(ErrorType::ResourceError));
    assert!(refusal.error_id.is_some());
    assert!(
        refusal
            .error_message
            .as_deref()
            .is_some_and(|m| m.contains("5000")),
        "{refusal:?}"
    );
    // Nothing was captured by the refused call.
    let after = transaction(&client, &id).await;
    assert_eq!(after.remaining_authorization_amount, Some(5_000));
    assert_eq!(after.captures.map(|c| c.len()), Some(1));
}

#[tokio::test]
async fn a_capture_of_nothing_is_bad_input() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = authorized_transaction(&sandbox, &client).await;
    for amount in [0, -100] {
        let error = client
            .capture_payment_transaction(&account(), &id, &capture_of(amount))
            .await
            .unwrap_err();
        let Some(CapturePaymentTransactionError::BadRequest(bad)) = error.api_body() else {
            panic!("{error:?}");
        };
        assert_eq!(bad.error_code.as_deref(), Some("VALIDATION_ERROR"));
        assert_eq!(bad.error_type, Some(ErrorType::InputError));
        let parameter = bad.validation_errors.as_ref().unwrap()[0].parameter.clone();
        assert_eq!(parameter.as_deref(), Some("capture_amount"));
    }
}

#[tokio::test]
async fn refunds_stay_within_what_was_captured() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = authorized_transaction(&sandbox, &client).await;

    // Nothing captured, nothing to refund.
    let error = client
        .refund_payment_transaction(&account(), &id, &refund_of(1))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(403));
    assert_eq!(error.error_code(), Some("REFUND_NOT_ALLOWED"));
    assert!(matches!(
        error.api_body(),
        Some(RefundPaymentTransactionError::Forbidden(_))
    ));

    capture(&client, &id, 3_000).await;
    capture(&client, &id, 2_000).await;
    client
        .refund_payment_transaction(&account(), &id, &refund_of(4_000))
        .await
        .unwrap();
    let error = client
        .refund_payment_transaction(&account(), &id, &refund_of(1_001))
        .await
        .unwrap_err();
    assert_eq!(error.error_code(), Some("REFUND_NOT_ALLOWED"));
    client
        .refund_payment_transaction(&account(), &id, &refund_of(1_000))
        .await
        .unwrap();
    assert_eq!(transaction(&client, &id).await.refunds.unwrap().len(), 2);
}

#[tokio::test]
async fn a_refund_against_a_capture_stays_within_that_capture() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = authorized_transaction(&sandbox, &client).await;
    let small = capture(&client, &id, 2_000).await;
    let large = capture(&client, &id, 8_000).await;

    // The transaction has 100.00 captured, but this capture only 20.00.
    let error = client
        .refund_payment_capture(&account(), &small, &refund_of(2_001))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(403));
    assert_eq!(error.error_code(), Some("REFUND_NOT_ALLOWED"));
    assert!(matches!(
        error.api_body(),
        Some(RefundPaymentCaptureError::Forbidden(_))
    ));
    client
        .refund_payment_capture(&account(), &small, &refund_of(1_500))
        .await
        .unwrap();
    let error = client
        .refund_payment_capture(&account(), &small, &refund_of(501))
        .await
        .unwrap_err();
    assert_eq!(error.error_code(), Some("REFUND_NOT_ALLOWED"));

    // Refunds of the transaction as a whole count against the total too.
    client
        .refund_payment_transaction(&account(), &id, &refund_of(8_000))
        .await
        .unwrap();
    let error = client
        .refund_payment_capture(&account(), &large, &refund_of(501))
        .await
        .unwrap_err();
    assert_eq!(error.error_code(), Some("REFUND_NOT_ALLOWED"));
    client
        .refund_payment_capture(&account(), &large, &refund_of(500))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_seeded_chargeback_is_readable_and_cannot_be_refunded_again() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = authorized_transaction(&sandbox, &client).await;
    assert_eq!(sandbox.add_chargeback(&id, 1_000, vec![]), None);
    capture(&client, &id, 5_000).await;
    assert_eq!(sandbox.add_chargeback(&id, 5_001, vec![]), None);
    assert_eq!(
        sandbox.add_chargeback(&PaymentTransactionId::new("krn:nothing"), 1, vec![]),
        None
    );

    let chargeback_id = sandbox
        .add_chargeback(&id, 4_000, vec![item("Tee", 4_000)])
        .unwrap();
    let chargeback = client
        .read_payment_chargeback(&account(), &PaymentChargebackId::new(chargeback_id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(chargeback.chargeback_amount, 4_000);
    assert_eq!(
        chargeback.chargeback_reason.as_ref().map(|r| r.as_str()),
        Some("DISPUTE_MERCHANT_LOSS")
    );
    assert!(chargeback.payment_dispute_id.is_some());
    assert_eq!(
        transaction(&client, &id).await.chargebacks,
        Some(vec![chargeback])
    );

    let error = client
        .refund_payment_transaction(&account(), &id, &refund_of(1_001))
        .await
        .unwrap_err();
    assert_eq!(error.error_code(), Some("REFUND_NOT_ALLOWED"));
    client
        .refund_payment_transaction(&account(), &id, &refund_of(1_000))
        .await
        .unwrap();
}

#[tokio::test]
async fn updating_a_transaction_overwrites_the_references_sent() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = authorized_transaction(&sandbox, &client).await;
    assert_eq!(transaction(&client, &id).await.updated_at, None);

    let updated = client
        .update_payment_transaction(
            &account(),
            &id,
            &PaymentTransactionUpdate {
                merchant_reference: Some("new-order-5678".to_owned()),
                payment_transaction_reference: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        updated.merchant_reference.as_deref(),
        Some("new-order-5678")
    );
    assert_eq!(
        updated.payment_transaction_reference.as_deref(),
        Some("tx-ref-1")
    );
    assert!(updated.updated_at.is_some());
    assert_eq!(transaction(&client, &id).await, updated.into_inner());
}

// ---------------------------------------------------------------------------
// The payment request's states
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_payment_request_changes_only_while_submitted() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = request_id(&create(&client).await);

    let mut bigger = purchase();
    bigger.payment_amount = 20_000;
    bigger.line_items = None;
    let updated = client.update_payment_request(&id, &bigger).await.unwrap();
    assert_eq!(updated.state, PaymentRequestState::Submitted);
    assert_eq!(updated.payment_request.as_ref(), Some(&bigger));

    sandbox.authorize_payment_request(&id).unwrap();
    let error = client
        .update_payment_request(&id, &purchase())
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(409));
    assert!(matches!(
        error.api_body(),
        Some(UpdatePaymentRequestError::Conflict(_))
    ));
    let unchanged = client.read_payment_request(&id).await.unwrap();
    assert_eq!(unchanged.payment_request.as_ref(), Some(&bigger));
}

#[tokio::test]
async fn a_cancelled_confirmation_sends_the_request_back_and_its_token_is_spent() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = request_id(&create(&client).await);
    let first = sandbox.authorize_payment_request(&id).unwrap();
    // The buyer cannot approve twice without the merchant declining first.
    assert_eq!(sandbox.authorize_payment_request(&id), None);

    let cancelled = client.cancel_payment_confirmation(&first).await.unwrap();
    assert_eq!(cancelled.state, PaymentRequestState::Submitted);
    // Cancelling again changes nothing.
    let again = client.cancel_payment_confirmation(&first).await.unwrap();
    assert_eq!(again.state, PaymentRequestState::Submitted);

    let error = client
        .confirm_payment_request(&first, &confirmation(15_000))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(409));
    assert!(matches!(
        error.api_body(),
        Some(ConfirmPaymentRequestError::Conflict(_))
    ));
    assert_eq!(
        sandbox.payment_request(&id).unwrap().state,
        PaymentRequestState::Submitted
    );

    // The buyer approves again; the new token works.
    let second = sandbox.authorize_payment_request(&id).unwrap();
    assert_ne!(first, second);
    let confirmed = client
        .confirm_payment_request(&second, &confirmation(15_000))
        .await
        .unwrap();
    assert_eq!(confirmed.state, PaymentRequestState::Authorized);
}

#[tokio::test]
async fn confirming_again_with_the_same_token_gives_the_same_answer() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = request_id(&create(&client).await);
    let token = sandbox.authorize_payment_request(&id).unwrap();
    let first = client
        .confirm_payment_request(&token, &confirmation(15_000))
        .await
        .unwrap()
        .into_inner();
    let again = client
        .confirm_payment_request(&token, &confirmation(15_000))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);

    // The buyer's step and the cancellation no longer apply.
    assert_eq!(sandbox.authorize_payment_request(&id), None);
    let error = client
        .cancel_payment_confirmation(&token)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert!(matches!(
        error.api_body(),
        Some(CancelPaymentConfirmationError::NotFound(_))
    ));
    assert_eq!(
        sandbox.payment_request(&id).unwrap().state,
        PaymentRequestState::Authorized
    );
}

#[tokio::test]
async fn a_confirmation_must_match_what_the_buyer_approved() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = request_id(&create(&client).await);
    let token = sandbox.authorize_payment_request(&id).unwrap();

    let error = client
        .confirm_payment_request(&token, &confirmation(15_001))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400));
    let Some(ConfirmPaymentRequestError::BadRequest(bad)) = error.api_body() else {
        panic!("{error:?}");
    };
    assert_eq!(
        bad.validation_errors.as_ref().unwrap()[0]
            .parameter
            .as_deref(),
        Some("payment_amount")
    );
    let mut dollars = confirmation(15_000);
    dollars.currency = "USD".to_owned();
    let error = client
        .confirm_payment_request(&token, &dollars)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400));

    // Still pending: the right confirmation goes through.
    assert_eq!(
        sandbox.payment_request(&id).unwrap().state,
        PaymentRequestState::PendingConfirmation
    );
    client
        .confirm_payment_request(&token, &confirmation(15_000))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_payment_request_needs_a_currency_code_a_positive_amount_and_sound_lines() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    type Spoil = fn(&mut PaymentRequestData);
    let cases: [(Spoil, &str); 3] = [
        (|d| d.currency = "euro".to_owned(), "currency"),
        (|d| d.payment_amount = 0, "payment_amount"),
        (
            |d| {
                d.line_items = Some(vec![LineItem {
                    quantity: 0,
                    ..item("Tee", 5_000)
                }])
            },
            "line_items[0].quantity",
        ),
    ];
    for (spoil, parameter) in cases {
        let mut data = purchase();
        spoil(&mut data);
        let error = client.create_payment_request(&data).await.unwrap_err();
        let Some(CreatePaymentRequestError::BadRequest(bad)) = error.api_body() else {
            panic!("{error:?}");
        };
        assert_eq!(
            bad.validation_errors.as_ref().unwrap()[0]
                .parameter
                .as_deref(),
            Some(parameter)
        );
    }
}

// ---------------------------------------------------------------------------
// Unknown ids, other accounts, credentials
// ---------------------------------------------------------------------------

fn assert_not_found(error: Option<ErrorResponse>, what: &str) {
    let body = error.unwrap_or_else(|| panic!("{what}: no error body"));
    assert_eq!(
        body.error_code.as_deref(),
        Some("RESOURCE_NOT_FOUND"),
        "{what}"
    );
    assert_eq!(body.error_type, Some(ErrorType::ResourceError), "{what}");
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let missing = "krn:payment:eu1:transaction:missing";

    let e = client
        .read_payment_request(&PaymentRequestId::new(missing))
        .await
        .unwrap_err();
    let Some(ReadPaymentRequestError::NotFound(b)) = e.api_body() else {
        panic!("{e:?}")
    };
    assert_not_found(Some(b.clone()), "payment request");
    let e = client
        .confirm_payment_request("no-such-token", &confirmation(1))
        .await
        .unwrap_err();
    let Some(ConfirmPaymentRequestError::NotFound(b)) = e.api_body() else {
        panic!("{e:?}")
    };
    assert_not_found(Some(b.clone()), "token");
    let e = client
        .cancel_payment_confirmation("no-such-token")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404), "{}", describe(&e));
    let e = client
        .read_payment_transaction(&account(), &PaymentTransactionId::new(missing))
        .await
        .unwrap_err();
    let Some(ReadPaymentTransactionError::NotFound(b)) = e.api_body() else {
        panic!("{e:?}")
    };
    assert_not_found(Some(b.clone()), "transaction");
    let e = client
        .capture_payment_transaction(
            &account(),
            &PaymentTransactionId::new(missing),
            &capture_of(1),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404), "{}", describe(&e));
    let e = client
        .void_payment_transaction(&account(), &PaymentTransactionId::new(missing))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404), "{}", describe(&e));
    let e = client
        .read_payment_capture(&account(), &PaymentCaptureId::new("krn:capture:missing"))
        .await
        .unwrap_err();
    let Some(ReadPaymentCaptureError::NotFound(b)) = e.api_body() else {
        panic!("{e:?}")
    };
    assert_not_found(Some(b.clone()), "capture");
    let e = client
        .refund_payment_capture(
            &account(),
            &PaymentCaptureId::new("krn:capture:missing"),
            &refund_of(1),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404), "{}", describe(&e));
    let e = client
        .read_payment_refund(&account(), &PaymentRefundId::new("krn:refund:missing"))
        .await
        .unwrap_err();
    let Some(ReadPaymentRefundError::NotFound(b)) = e.api_body() else {
        panic!("{e:?}")
    };
    assert_not_found(Some(b.clone()), "refund");
    let e = client
        .read_payment_chargeback(
            &account(),
            &PaymentChargebackId::new("krn:chargeback:missing"),
        )
        .await
        .unwrap_err();
    let Some(ReadPaymentChargebackError::NotFound(b)) = e.api_body() else {
        panic!("{e:?}")
    };
    assert_not_found(Some(b.clone()), "chargeback");
}

#[tokio::test]
async fn another_partner_account_sees_nothing() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let other = client_for(&sandbox, OTHER_ACCOUNT);
    let request = create(&client).await;
    let token = sandbox
        .authorize_payment_request(&request.payment_request_id)
        .unwrap();

    let e = other
        .read_payment_request(&request_id(&request))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
    let e = other
        .confirm_payment_request(&token, &confirmation(15_000))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));

    let confirmed = client
        .confirm_payment_request(&token, &confirmation(15_000))
        .await
        .unwrap();
    let id = confirmed
        .state_context
        .as_ref()
        .and_then(|c| c.payment_transaction_id.clone())
        .map(PaymentTransactionId::new)
        .unwrap();
    let capture_id = capture(&client, &id, 1_000).await;
    // Neither under its own account nor under the owner's.
    for account in [AccountId::new(OTHER_ACCOUNT), account()] {
        let e = other
            .read_payment_transaction(&account, &id)
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(404));
        let e = other
            .capture_payment_transaction(&account, &id, &capture_of(1))
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(404));
        let e = other
            .read_payment_capture(&account, &capture_id)
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(404));
    }
    assert_eq!(
        transaction(&client, &id)
            .await
            .remaining_authorization_amount,
        Some(14_000)
    );
}

#[tokio::test]
async fn calls_without_an_api_key_or_a_partner_account_are_unauthorized() {
    let sandbox = Sandbox::start().unwrap();
    // Basic credentials (no Klarna-Partner-Account) do not even make a
    // Payment API client: the SDK refuses them before anything is sent.
    let basic = Client::from_config(Config::with_base_url(
        sandbox.base_url(),
        Credentials::basic("user", "password"),
    ));
    assert!(
        matches!(basic, Err(ConfigError::WrongCredentials { .. })),
        "{basic:?}"
    );
    let no_key = Client::from_config(Config::with_base_url(
        sandbox.base_url(),
        Credentials::api_key("", ACCOUNT),
    ))
    .unwrap();
    let no_account = client_for(&sandbox, "");

    for client in [&no_key, &no_account] {
        let e = client
            .create_payment_request(&purchase())
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(401));
        let Some(CreatePaymentRequestError::Unauthorized(b)) = e.api_body() else {
            panic!("{e:?}")
        };
        assert_eq!(b.error_code.as_deref(), Some("UNAUTHORIZED"));
        assert_eq!(b.error_type, Some(ErrorType::AccessError));
    }
    // A request that exists is no more visible without credentials.
    let request = create(&client(&sandbox)).await;
    let e = no_account
        .read_payment_request(&request_id(&request))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401));
    // Each refusal was one attempt: 401 is never retried.
    let statuses: Vec<Option<u16>> = sandbox.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(401), Some(401), Some(201), Some(401)]);
}

// ---------------------------------------------------------------------------
// Idempotency keys and fault knobs
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_repeated_idempotency_key_replays_the_first_answer() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);

    let key = IdempotencyKey::from("create-1");
    let first = client
        .create_payment_request(&purchase())
        .idempotency_key(key.clone())
        .await
        .unwrap();
    let again = client
        .create_payment_request(&purchase())
        .idempotency_key(key)
        .await
        .unwrap();
    assert_eq!(first.into_inner(), again.into_inner());

    let id = authorized_transaction(&sandbox, &client).await;
    let key = IdempotencyKey::from("capture-1");
    let first = client
        .capture_payment_transaction(&account(), &id, &capture_of(6_000))
        .idempotency_key(key.clone())
        .await
        .unwrap();
    // Even a different body gets the first answer, as on Order Management.
    let again = client
        .capture_payment_transaction(&account(), &id, &capture_of(9_000))
        .idempotency_key(key)
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    assert_eq!(first.into_inner(), again.into_inner());
    let after = transaction(&client, &id).await;
    assert_eq!(after.captures.map(|c| c.len()), Some(1));
    assert_eq!(after.remaining_authorization_amount, Some(9_000));

    let key = IdempotencyKey::from("refund-1");
    for _ in 0..2 {
        client
            .refund_payment_transaction(&account(), &id, &refund_of(1_000))
            .idempotency_key(key.clone())
            .await
            .unwrap();
    }
    assert_eq!(
        transaction(&client, &id).await.refunds.map(|r| r.len()),
        Some(1)
    );

    // A second void would be refused; with the same key it is the first.
    let key = IdempotencyKey::from("void-1");
    let first = client
        .void_payment_transaction(&account(), &id)
        .idempotency_key(key.clone())
        .await
        .unwrap();
    let again = client
        .void_payment_transaction(&account(), &id)
        .idempotency_key(key)
        .await
        .unwrap();
    assert_eq!(first.into_inner(), again.into_inner());

    // Keys belong to a partner account: another account's same key is new.
    let other = client_for(&sandbox, OTHER_ACCOUNT);
    let theirs = other
        .create_payment_request(&purchase())
        .idempotency_key(IdempotencyKey::from("create-1"))
        .await
        .unwrap();
    assert!(sandbox
        .payment_request(&theirs.payment_request_id)
        .is_some());
    assert_eq!(
        other
            .read_payment_request(&request_id(&theirs))
            .await
            .unwrap()
            .into_inner(),
        theirs.into_inner()
    );
}

#[tokio::test]
async fn a_capture_through_a_503_and_a_lost_answer_happens_once() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = authorized_transaction(&sandbox, &client).await;
    let before = sandbox.requests().len();

    sandbox.fail_next_requests(1);
    sandbox.drop_next_connections(1);
    let capture = client
        .capture_payment_transaction(&account(), &id, &capture_of(5_000))
        .await
        .unwrap();
    assert_eq!(capture.status(), 201);

    let attempts = &sandbox.requests()[before..];
    let statuses: Vec<Option<u16>> = attempts.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(503), None, Some(201)]);
    let key = capture.idempotency_key().map(|k| k.as_str().to_owned());
    assert!(key.is_some());
    assert!(attempts.iter().all(|r| r.idempotency_key == key));

    let after = transaction(&client, &id).await;
    assert_eq!(after.captures, Some(vec![capture.into_inner()]));
    assert_eq!(after.remaining_authorization_amount, Some(10_000));
}

#[tokio::test]
async fn a_failed_payment_api_call_gets_the_payment_api_error_body() {
    let sandbox = Sandbox::start().unwrap();
    let client = client(&sandbox);
    let id = request_id(&create(&client).await);
    // Three 503s use up the client's three attempts.
    sandbox.fail_next_requests(3);
    let e = client.read_payment_request(&id).await.unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert_eq!(e.attempts(), 3);
    let Some(ReadPaymentRequestError::ServiceUnavailable(b)) = e.api_body() else {
        panic!("{e:?}")
    };
    assert_eq!(b.error_type, Some(ErrorType::TechnicalError));
    assert_eq!(b.error_code.as_deref(), Some("TEMPORARILY_UNAVAILABLE"));
}
