//! What the loopback client tests (`tests/ordermanagement_client.rs`,
//! `tests/payments_client.rs`, `tests/payment_api_client.rs`) share: a
//! client for the [`TestServer`], one call
//! through it, and the checks every request, key and error gets.

use std::fmt::Debug;
use std::future::Future;
use std::net::TcpListener;
use std::time::Duration;

use klarna_runtime::{
    Config, ConfigError, Credentials, Error, ErrorKind, IdempotencyKey, Response, RetryPolicy,
};
use serde_json::{json, Value};

use crate::server::{CannedResponse, RecordedRequest, TestServer};

/// The header an idempotency key travels in.
pub const KEY_HEADER: &str = "klarna-idempotency-key";

/// The correlation id of the Klarna error bodies [`error_body`] builds.
pub const CORRELATION_ID: &str = "66782175-ae05-44fc-9eb3-eeceadbad271";

/// One test file's client of the loopback server: which API's client it is
/// (`C`), how it signs in, and what it is answered with when a success body
/// is cut short.
pub struct Loopback<C> {
    /// The API's client on a configuration: `Client::from_config`.
    pub client: fn(Config) -> Result<C, ConfigError>,
    /// The credentials every client is built with.
    pub credentials: fn() -> Credentials,
    /// The `Authorization` header those credentials must send.
    pub authorization: &'static str,
    /// A success body of the API cut off in the middle, for
    /// [`Loopback::assert_decode_error`].
    pub truncated_success: &'static str,
}

// Not derived: the derives would ask for `C: Clone`, and the fields are
// function pointers and `&'static str`s whatever `C` is.
impl<C> Clone for Loopback<C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for Loopback<C> {}

impl<C> Loopback<C> {
    /// A client for `base_url` that makes one request per call
    /// (`tests/retries.rs` covers retries).
    pub fn client_for(self, base_url: String) -> C {
        let config = Config::with_base_url(base_url, (self.credentials)())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .retry(RetryPolicy::never());
        (self.client)(config).unwrap()
    }

    /// Starts a server that answers with `response`, makes one call, and
    /// returns its result with the one request it sent.
    pub async fn exchange<T, E, Fut>(
        self,
        response: CannedResponse,
        call: impl FnOnce(C) -> Fut,
    ) -> (Result<Response<T>, Error<E>>, RecordedRequest)
    where
        Fut: Future<Output = Result<Response<T>, Error<E>>>,
    {
        let server = TestServer::start();
        server.respond(response);
        let result = call(self.client_for(server.url())).await;
        (result, server.single_request())
    }

    /// What every request carries: method, target, credentials, user agent.
    pub fn assert_request(self, request: &RecordedRequest, method: &str, target: &str) {
        assert_eq!(request.method, method);
        assert_eq!(request.target, target);
        assert_eq!(request.header("authorization"), Some(self.authorization));
        let user_agent = request.header("user-agent").expect("a user agent");
        assert!(user_agent.starts_with("klarna-rust-sdk/"), "{user_agent}");
    }

    /// Answers a call with a documented error status and a Klarna error
    /// body ([`error_body`]), checks what every such error carries, and
    /// returns it for the caller to check the variant.
    pub async fn api_error<T: Debug, E: Debug, Fut>(
        self,
        status: u16,
        code: &str,
        call: impl FnOnce(C) -> Fut,
    ) -> Error<E>
    where
        Fut: Future<Output = Result<Response<T>, Error<E>>>,
    {
        let response = CannedResponse::json(status, &error_body(code));
        let (result, request) = self.exchange(response, call).await;
        let error = result.unwrap_err();
        assert!(matches!(error.kind(), ErrorKind::Api(_)), "{error:?}");
        assert_eq!(error.status(), Some(status));
        assert_eq!(error.correlation_id(), Some(CORRELATION_ID));
        assert_eq!(error.error_code(), Some(code));
        assert_eq!(error.error_messages(), [error_message(code)]);
        // The key sent (or none) is the key the error reports.
        assert_eq!(
            error.idempotency_key().map(IdempotencyKey::as_str),
            request.header(KEY_HEADER)
        );
        error
    }

    /// A status the spec does not document is `UnexpectedStatus`, with the
    /// body.
    pub async fn assert_unexpected_status<T: Debug, E: Debug, Fut>(
        self,
        call: impl FnOnce(C) -> Fut,
    ) where
        Fut: Future<Output = Result<Response<T>, Error<E>>>,
    {
        let teapot = CannedResponse::new(418)
            .header("Content-Type", "text/plain")
            .body("I'm a teapot");
        let error = self.exchange(teapot, call).await.0.unwrap_err();
        match error.kind() {
            ErrorKind::UnexpectedStatus(details) => {
                assert_eq!(details.status, 418);
                assert_eq!(details.body_excerpt, "I'm a teapot");
            }
            _ => panic!("expected UnexpectedStatus, got {error:?}"),
        }
        assert_eq!(error.status(), Some(418));
        assert!(error.api_body().is_none());
    }

    /// A 200 whose body is not the documented JSON
    /// ([`Loopback::truncated_success`]) is `Decode`, with the status.
    pub async fn assert_decode_error<T: Debug, E: Debug, Fut>(self, call: impl FnOnce(C) -> Fut)
    where
        Fut: Future<Output = Result<Response<T>, Error<E>>>,
    {
        let malformed = CannedResponse::new(200)
            .header("Content-Type", "application/json")
            .body(self.truncated_success);
        let error = self.exchange(malformed, call).await.0.unwrap_err();
        match error.kind() {
            ErrorKind::Decode { details, message } => {
                assert_eq!(details.status, 200);
                assert_eq!(details.body_excerpt, self.truncated_success);
                assert!(!message.is_empty());
            }
            _ => panic!("expected Decode, got {error:?}"),
        }
        assert_eq!(error.status(), Some(200));
    }
}

/// The message of a Klarna error body with `code`.
pub fn error_message(code: &str) -> String {
    format!("Klarna refused the request: {code}")
}

/// A Klarna error body (Order Management and Payments v1).
pub fn error_body(code: &str) -> Value {
    json!({
        "correlation_id": CORRELATION_ID,
        "error_code": code,
        "error_messages": [error_message(code)]
    })
}

pub fn assert_accepts_json(request: &RecordedRequest) {
    assert_eq!(request.header("accept"), Some("application/json"));
}

pub fn assert_json_body(request: &RecordedRequest, expected: Value) {
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.json(), expected);
}

pub fn assert_no_body(request: &RecordedRequest) {
    assert!(request.body.is_empty(), "{:?}", request.body);
    assert_eq!(request.header("content-type"), None);
}

/// A call to an operation without the idempotency header.
pub fn assert_no_key<T>(response: &Response<T>, request: &RecordedRequest) {
    assert_eq!(request.header(KEY_HEADER), None);
    assert_eq!(response.idempotency_key(), None);
}

/// A version 4 UUID in its 36-character text form.
pub fn assert_uuid_v4(key: &str) {
    assert_eq!(key.len(), 36, "{key}");
    for (i, c) in key.char_indices() {
        match i {
            8 | 13 | 18 | 23 => assert_eq!(c, '-', "{key}"),
            14 => assert_eq!(c, '4', "version 4: {key}"),
            _ => assert!(c.is_ascii_hexdigit(), "{key}"),
        }
    }
}

/// A base URL on 127.0.0.1 where nothing listens any more.
pub fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
