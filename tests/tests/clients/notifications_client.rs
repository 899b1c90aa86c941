//! Every operation of the Notification API through a real socket: the
//! request it sends (method, percent-encoded target, API key and partner
//! account, idempotency key, JSON body), the success it decodes, and every
//! error status the spec documents, with Klarna's error body.

use std::fmt::Debug;
use std::future::Future;

use klarna_payments::notifications::models::{
    ErrorResponse, ErrorType, EventType, EventVersion, WebhookData, WebhookStatus, WebhookUpdate,
};
use klarna_payments::notifications::{
    Client, CreateSigningKeyError, CreateWebhookError, Credentials, DeleteSigningKeyError,
    DeleteWebhookError, Error, ErrorKind, GetWebhookError, IdempotencyKey, ListSigningKeysError,
    ListWebhooksError, Response, SigningKeyId, UpdateWebhookError, WebhookId, WebhookSigningKeys,
    Webhooks,
};
use klarna_tests::client_support::{
    assert_accepts_json, assert_json_body, assert_no_body, assert_no_key, assert_uuid_v4, Loopback,
    KEY_HEADER,
};
use klarna_tests::server::{CannedResponse, RecordedRequest};
use serde_json::{json, Value};

const API_KEY: &str = "klarna_test_api_T3BlbiBzZXNhbWU";
const PARTNER_ACCOUNT: &str = "krn:partner:account:206bbb83-9b6e-46fa-940d-337153c04a58";
const WEBHOOK_ID: &str =
    "krn:partner:global:notification:webhook:120e5b7e-dee8-43ca-9858-dca726e639b5";
const WEBHOOK: &str = "/v1/notification/webhooks/krn%3Apartner%3Aglobal%3Anotification%3Awebhook%3A120e5b7e-dee8-43ca-9858-dca726e639b5";
const KEY_ID: &str =
    "krn:partner:global:notification:signing-key:49bcd37b-79a7-4e6e-b067-2903b45fef42";
const KEY: &str = "/v1/notification/signing-keys/krn%3Apartner%3Aglobal%3Anotification%3Asigning-key%3A49bcd37b-79a7-4e6e-b067-2903b45fef42";
const SECRET: &str = "whsk_9d3c0b6a5e1f4a2b8c7d";

const LOOPBACK: Loopback<Client> = Loopback {
    client: Client::from_config,
    credentials: || Credentials::api_key(API_KEY, PARTNER_ACCOUNT),
    authorization: API_KEY,
    truncated_success: r#"{"webhook_id": "#,
};

fn assert_request(request: &RecordedRequest, method: &str, target: &str) {
    LOOPBACK.assert_request(request, method, target);
    assert_eq!(
        request.header("klarna-partner-account"),
        Some(PARTNER_ACCOUNT)
    );
    // The deletes expect no body, so they ask for none.
    if method != "DELETE" {
        assert_accepts_json(request);
    }
}

fn webhook_id() -> WebhookId {
    WebhookId::new(WEBHOOK_ID)
}

fn key_id() -> SigningKeyId {
    SigningKeyId::new(KEY_ID)
}

fn webhook_json() -> Value {
    json!({
        "webhook_id": WEBHOOK_ID,
        "url": "https://merchant.example/klarna",
        "event_types": [
            "payment.request.state-change.submitted",
            "payment.request.state-change.authorized",
            "payment.request.state-change.expired",
            "payment.*"
        ],
        "event_version": "v1",
        "signing_key_id": KEY_ID,
        "created_at": "2024-01-01T12:00:00Z",
        "status": "ENABLED"
    })
}

/// A documented error status and the variant that holds its body.
type Documented<E> = (u16, fn(ErrorResponse) -> E);

/// Answers the call once per documented error status and checks each
/// decodes into its variant with Klarna's error body.
async fn assert_errors<T: Debug, E: Debug + PartialEq, Fut>(
    call: impl Fn(Client) -> Fut,
    documented: &[Documented<E>],
) where
    Fut: Future<Output = Result<Response<T>, Error<E>>>,
{
    for (status, variant) in documented {
        let code = format!("CODE_{status}");
        let json = json!({
            "error_id": "1653c9db-454b-4222-8265-4c7ca209f630",
            "error_type": "RESOURCE_ERROR",
            "error_code": code,
            "error_message": "from the test server"
        });
        let typed = ErrorResponse {
            doc_url: None,
            error_code: Some(code.clone()),
            error_id: Some("1653c9db-454b-4222-8265-4c7ca209f630".into()),
            error_message: Some("from the test server".into()),
            error_type: Some(ErrorType::ResourceError),
            validation_errors: None,
        };
        let (result, _) = LOOPBACK
            .exchange(CannedResponse::json(*status, &json), &call)
            .await;
        let error = result.unwrap_err();
        assert!(matches!(error.kind(), ErrorKind::Api(_)), "{error:?}");
        assert_eq!(error.status(), Some(*status));
        assert_eq!(error.error_code(), Some(code.as_str()));
        assert_eq!(error.api_body(), Some(&variant(typed)), "status {status}");
    }
}

#[tokio::test]
async fn create_webhook() {
    let body = WebhookData::new(
        "https://merchant.example/klarna",
        vec![EventType::PaymentRequestStateChangeSubmitted],
        EventVersion::V1,
        KEY_ID,
    );
    let call = |c: Client| {
        let body = body.clone();
        async move { c.create_webhook(&body).await }
    };
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(201, &webhook_json()), call)
        .await;
    let created = result.unwrap();
    assert_request(&request, "POST", "/v1/notification/webhooks");
    assert_json_body(
        &request,
        json!({
            "url": "https://merchant.example/klarna",
            "event_types": ["payment.request.state-change.submitted"],
            "event_version": "v1",
            "signing_key_id": KEY_ID
        }),
    );
    assert_uuid_v4(request.header(KEY_HEADER).expect("a generated key"));
    assert_eq!(created.status(), 201);
    assert_eq!(created.webhook_id, WEBHOOK_ID);
    assert_eq!(created.status, Some(WebhookStatus::Enabled));
    // A wildcard subscription is kept as sent.
    assert_eq!(
        created.event_types[3],
        EventType::Unknown("payment.*".into())
    );
    assert_eq!(
        created.event_types[2],
        EventType::PaymentRequestStateChangeExpired
    );

    assert_errors(
        call,
        &[
            (400, CreateWebhookError::BadRequest),
            (401, CreateWebhookError::Unauthorized),
            (409, CreateWebhookError::Conflict),
            (429, CreateWebhookError::TooManyRequests),
            (500, CreateWebhookError::InternalServerError),
            (503, CreateWebhookError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn list_webhooks() {
    let call = |c: Client| async move { c.list_webhooks().await };
    let (result, request) = LOOPBACK
        .exchange(
            CannedResponse::json(200, &json!({ "webhooks": [webhook_json()] })),
            call,
        )
        .await;
    let listed = result.unwrap();
    assert_request(&request, "GET", "/v1/notification/webhooks");
    assert_no_body(&request);
    assert_no_key(&listed, &request);
    assert_eq!(listed.webhooks.len(), 1);
    assert_eq!(listed.webhooks[0].signing_key_id, KEY_ID);

    assert_errors(
        call,
        &[
            (400, ListWebhooksError::BadRequest),
            (401, ListWebhooksError::Unauthorized),
            (404, ListWebhooksError::NotFound),
            (429, ListWebhooksError::TooManyRequests),
            (500, ListWebhooksError::InternalServerError),
            (503, ListWebhooksError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn get_webhook() {
    let call = |c: Client| async move { c.get_webhook(&webhook_id()).await };
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &webhook_json()), call)
        .await;
    let read = result.unwrap();
    assert_request(&request, "GET", WEBHOOK);
    assert_no_body(&request);
    assert_eq!(read.url, "https://merchant.example/klarna");
    assert_eq!(read.created_at.as_deref(), Some("2024-01-01T12:00:00Z"));

    assert_errors(
        call,
        &[
            (400, GetWebhookError::BadRequest),
            (401, GetWebhookError::Unauthorized),
            (404, GetWebhookError::NotFound),
            (429, GetWebhookError::TooManyRequests),
            (500, GetWebhookError::InternalServerError),
            (503, GetWebhookError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn update_webhook() {
    let change = WebhookUpdate {
        status: Some(WebhookStatus::Disabled),
        ..WebhookUpdate::default()
    };
    let call = |c: Client| {
        let change = change.clone();
        async move {
            c.update_webhook(&webhook_id(), &change)
                .idempotency_key(IdempotencyKey::from("disable-webhook-1"))
                .await
        }
    };
    let mut answer = webhook_json();
    answer["status"] = json!("DISABLED");
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &answer), call)
        .await;
    let updated = result.unwrap();
    assert_request(&request, "PATCH", WEBHOOK);
    // Only the field to change is sent.
    assert_json_body(&request, json!({ "status": "DISABLED" }));
    // The key set by name is the key sent and the key reported.
    assert_eq!(request.header(KEY_HEADER), Some("disable-webhook-1"));
    assert_eq!(
        updated.idempotency_key().map(IdempotencyKey::as_str),
        Some("disable-webhook-1")
    );
    assert_eq!(updated.status, Some(WebhookStatus::Disabled));

    assert_errors(
        call,
        &[
            (400, UpdateWebhookError::BadRequest),
            (401, UpdateWebhookError::Unauthorized),
            (404, UpdateWebhookError::NotFound),
            (429, UpdateWebhookError::TooManyRequests),
            (500, UpdateWebhookError::InternalServerError),
            (503, UpdateWebhookError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn delete_webhook() {
    let call = |c: Client| async move { c.delete_webhook(&webhook_id()).await };
    let (result, request) = LOOPBACK.exchange(CannedResponse::new(204), call).await;
    let deleted = result.unwrap();
    assert_request(&request, "DELETE", WEBHOOK);
    assert_no_body(&request);
    assert_eq!(deleted.status(), 204);

    assert_errors(
        call,
        &[
            (400, DeleteWebhookError::BadRequest),
            (401, DeleteWebhookError::Unauthorized),
            (404, DeleteWebhookError::NotFound),
            (429, DeleteWebhookError::TooManyRequests),
            (500, DeleteWebhookError::InternalServerError),
            (503, DeleteWebhookError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn create_signing_key() {
    let call = |c: Client| async move { c.create_signing_key().await };
    let answer = json!({
        "signing_key_id": KEY_ID,
        "signing_key": SECRET,
        "created_at": "2024-01-01T12:00:00Z"
    });
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(201, &answer), call)
        .await;
    let created = result.unwrap();
    assert_request(&request, "POST", "/v1/notification/signing-keys");
    assert!(request.header(KEY_HEADER).is_some());
    assert_eq!(created.signing_key_id, KEY_ID);
    assert_eq!(created.signing_key, SECRET);
    // The secret is shown once, in the field, never in Debug.
    let shown = format!("{created:?} {:?}", *created);
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains(KEY_ID), "{shown}");

    assert_errors(
        call,
        &[
            (400, CreateSigningKeyError::BadRequest),
            (401, CreateSigningKeyError::Unauthorized),
            (409, CreateSigningKeyError::Conflict),
            (429, CreateSigningKeyError::TooManyRequests),
            (500, CreateSigningKeyError::InternalServerError),
            (503, CreateSigningKeyError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn list_signing_keys() {
    let call = |c: Client| async move { c.list_signing_keys().await };
    let answer = json!({ "signing_keys": [{ "signing_key_id": KEY_ID, "created_at": "2024-01-01T12:00:00Z" }] });
    let (result, request) = LOOPBACK
        .exchange(CannedResponse::json(200, &answer), call)
        .await;
    let listed = result.unwrap();
    assert_request(&request, "GET", "/v1/notification/signing-keys");
    assert_no_key(&listed, &request);
    assert_eq!(listed.signing_keys[0].signing_key_id, KEY_ID);

    assert_errors(
        call,
        &[
            (401, ListSigningKeysError::Unauthorized),
            (429, ListSigningKeysError::TooManyRequests),
            (500, ListSigningKeysError::InternalServerError),
            (503, ListSigningKeysError::ServiceUnavailable),
        ],
    )
    .await;
}

#[tokio::test]
async fn delete_signing_key() {
    let call = |c: Client| async move { c.delete_signing_key(&key_id()).await };
    let (result, request) = LOOPBACK.exchange(CannedResponse::new(204), call).await;
    assert_eq!(result.unwrap().status(), 204);
    assert_request(&request, "DELETE", KEY);
    assert_no_body(&request);

    assert_errors(
        call,
        &[
            (400, DeleteSigningKeyError::BadRequest),
            (401, DeleteSigningKeyError::Unauthorized),
            (404, DeleteSigningKeyError::NotFound),
            (409, DeleteSigningKeyError::Conflict),
            (429, DeleteSigningKeyError::TooManyRequests),
            (500, DeleteSigningKeyError::InternalServerError),
            (503, DeleteSigningKeyError::ServiceUnavailable),
        ],
    )
    .await;
}
