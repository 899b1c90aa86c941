//! The request builder and response decoding that every generated operation
//! uses. Public so that a call the generated crates lack can be written the
//! same way; the generated code is the reference for its use.

use std::fmt::Write as _;
use std::time::{Instant, SystemTime};

use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE,
    RETRY_AFTER,
};
pub use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;

use crate::client::Client;
use crate::credentials::PARTNER_ACCOUNT_HEADER;
use crate::error::{ApiError, Error, ErrorKind, ResponseDetails};
use crate::idempotency::IdempotencyKey;
pub use crate::operation::Operation;
use crate::retry::{is_retryable_status, parse_retry_after};
use crate::Response;

/// The correlation id Klarna puts in a response header, for errors whose
/// body lacks one.
fn correlation_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("klarna-correlation-id")
        .and_then(|v| v.to_str().ok())
}

/// Responses larger than this are not read into memory.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Percent-encodes one path segment: everything but RFC 3986's unreserved
/// characters, so an id with `/`, `?` or spaces stays one segment.
pub fn encode_path(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// One request being built. Problems are kept until `send`, which reports
/// the first as [`ErrorKind::NotSent`].
pub struct Call<'a> {
    client: &'a Client,
    operation: &'static str,
    /// Safe to send twice without a key (see [`Operation::idempotent`]).
    idempotent: bool,
    idempotency_header: Option<&'static str>,
    method: Method,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Vec<u8>>,
    has_query: bool,
    idempotency_key: Option<IdempotencyKey>,
    problem: Option<String>,
}

impl<'a> Call<'a> {
    /// `path` is the operation's path with its parameters filled in and
    /// encoded (see [`encode_path`]).
    pub fn new(client: &'a Client, operation: &Operation, path: &str) -> Self {
        Call {
            client,
            operation: operation.name,
            idempotent: operation.idempotent,
            idempotency_header: operation.idempotency_header,
            method: operation.method.clone(),
            url: format!("{}{path}", client.inner.base_url),
            headers: Vec::new(),
            body: None,
            has_query: false,
            idempotency_key: None,
            problem: None,
        }
    }

    pub fn header(&mut self, name: &'static str, value: &str) {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => self.headers.push((name, value)),
            _ => self.problem(format!(
                "header {name} cannot carry the value given (control characters)"
            )),
        }
    }

    pub fn query(&mut self, name: &'static str, value: &str) {
        self.url.push(if self.has_query { '&' } else { '?' });
        self.url.push_str(&encode_path(name));
        self.url.push('=');
        self.url.push_str(&encode_path(value));
        self.has_query = true;
    }

    /// Sends `key`, or a new random key when the caller gave none, in the
    /// operation's idempotency header.
    pub fn idempotency_key(&mut self, key: Option<IdempotencyKey>) {
        let Some(header) = self.idempotency_header else {
            return self.problem(format!(
                "operation {} takes no idempotency key",
                self.operation
            ));
        };
        let key = key.unwrap_or_else(IdempotencyKey::new_v4);
        self.header(header, key.as_str());
        self.idempotency_key = Some(key);
    }

    pub fn json<T: Serialize + ?Sized>(&mut self, body: &T) {
        match serde_json::to_vec(body) {
            Ok(bytes) => {
                self.headers
                    .push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
                self.body = Some(bytes);
            }
            Err(e) => self.problem(format!("the request body does not serialise: {e}")),
        }
    }

    pub fn accept(&mut self, media_type: &'static str) {
        self.headers
            .push((ACCEPT, HeaderValue::from_static(media_type)));
    }

    fn problem(&mut self, message: String) {
        self.problem.get_or_insert(message);
    }

    /// Sends the request and reads the whole response, retrying as the
    /// client's [`RetryPolicy`](crate::RetryPolicy) allows when the call is
    /// safe to repeat: the operation is idempotent, or the request carries
    /// an idempotency key (the same one on every attempt).
    ///
    /// Dropping the returned future abandons the call: nothing of it stays
    /// behind in the client.
    pub async fn send<E>(self) -> Result<RawResponse, Error<E>> {
        let Call {
            client,
            operation,
            idempotent,
            method,
            url,
            headers,
            body,
            idempotency_key,
            problem,
            ..
        } = self;
        let not_sent = |message: String, key: Option<IdempotencyKey>| {
            Error::new(ErrorKind::NotSent(message), operation, key)
        };
        if let Some(message) = problem {
            return Err(not_sent(message, idempotency_key));
        }
        let mut builder = client
            .inner
            .http
            .request(method.clone(), url)
            .header(AUTHORIZATION, client.inner.authorization.clone());
        if let Some(account) = &client.inner.partner_account {
            builder = builder.header(PARTNER_ACCOUNT_HEADER, account.clone());
        }
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = body {
            builder = builder.body(body);
        } else if method == Method::POST || method == Method::PUT || method == Method::PATCH {
            // reqwest sends no length for an empty body; some proxies
            // refuse a POST without one.
            builder = builder.header(CONTENT_LENGTH, HeaderValue::from_static("0"));
        }
        let request = match builder.build() {
            Ok(request) => request,
            Err(e) => return Err(not_sent(e.to_string(), idempotency_key)),
        };
        let policy = client.policy;
        let attempts = if idempotent || idempotency_key.is_some() {
            policy.retry.attempts()
        } else {
            1
        };
        let span = tracing::info_span!(
            "klarna.call",
            operation,
            method = %method,
            idempotency_key = idempotency_key.as_ref().map(IdempotencyKey::as_str),
            attempts = tracing::field::Empty,
            status = tracing::field::Empty,
            correlation_id = tracing::field::Empty,
        );
        let call = Attempts {
            client,
            operation,
            request,
            max_attempts: attempts,
            deadline: policy.overall_timeout.map(|limit| Instant::now() + limit),
            span: span.clone(),
        };
        let (attempts, outcome) = call.run().instrument(span.clone()).await;
        span.record("attempts", attempts);
        match outcome {
            Ok((status, headers, body)) => {
                let response = RawResponse {
                    operation,
                    status,
                    headers,
                    body,
                    idempotency_key,
                    attempts,
                };
                span.record("status", status);
                if let Some(id) = correlation_id(&response.headers) {
                    span.record("correlation_id", id);
                }
                Ok(response)
            }
            Err(failure) => {
                let kind = match failure {
                    Failure::Transport(e) => ErrorKind::NoResponse(e),
                    Failure::TooLarge { status, body } => ErrorKind::Decode {
                        details: ResponseDetails::from_body(status, &body, None),
                        message: format!("the body is larger than {MAX_BODY_BYTES} bytes"),
                    },
                };
                Err(Error::new(kind, operation, idempotency_key).with_attempts(attempts))
            }
        }
    }
}

/// The status, headers and body of a response read in full.
type Received = (u16, HeaderMap, Vec<u8>);

/// Why an attempt brought no usable response.
enum Failure {
    /// Connecting, sending or reading failed, or the attempt timed out.
    Transport(reqwest::Error),
    TooLarge {
        status: u16,
        body: Vec<u8>,
    },
}

/// The attempts of one call.
struct Attempts<'a> {
    client: &'a Client,
    operation: &'static str,
    request: reqwest::Request,
    max_attempts: u32,
    deadline: Option<Instant>,
    span: tracing::Span,
}

impl Attempts<'_> {
    /// The number of attempts made and the last one's outcome.
    async fn run(self) -> (u32, Result<Received, Failure>) {
        let policy = self.client.policy;
        let mut attempt = 1;
        loop {
            let is_last = attempt >= self.max_attempts;
            // Every attempt sends a copy, so that a retry sends the very
            // same bytes. Only a streamed body cannot be copied, and the
            // generated operations never stream.
            let Some(mut request) = self.request.try_clone() else {
                return (attempt, receive(self.client, self.request).await);
            };
            let remaining = self
                .deadline
                .map(|deadline| deadline.saturating_duration_since(Instant::now()));
            *request.timeout_mut() = Some(match remaining {
                Some(remaining) => remaining.min(policy.attempt_timeout),
                None => policy.attempt_timeout,
            });
            let attempt_span = tracing::debug_span!(
                parent: &self.span,
                "klarna.attempt",
                operation = self.operation,
                attempt,
                status = tracing::field::Empty,
                correlation_id = tracing::field::Empty,
            );
            let outcome = receive(self.client, request)
                .instrument(attempt_span.clone())
                .await;
            let retry_after = match &outcome {
                Ok((status, headers, _)) => {
                    attempt_span.record("status", status);
                    if let Some(id) = correlation_id(headers) {
                        attempt_span.record("correlation_id", id);
                    }
                    headers
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()))
                }
                Err(_) => None,
            };
            let retryable = match &outcome {
                Ok((status, _, _)) => is_retryable_status(*status),
                Err(Failure::Transport(_)) => true,
                Err(Failure::TooLarge { .. }) => false,
            };
            if is_last || !retryable {
                return (attempt, outcome);
            }
            let wait = policy.retry.backoff(attempt, retry_after);
            if let Some(deadline) = self.deadline {
                if Instant::now() + wait >= deadline {
                    return (attempt, outcome);
                }
            }
            tracing::info!(
                parent: &self.span,
                attempt,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                cause = %Cause(&outcome),
                "retrying",
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// One attempt: sends the request and reads the whole response.
async fn receive(client: &Client, request: reqwest::Request) -> Result<Received, Failure> {
    let mut response = client
        .inner
        .http
        .execute(request)
        .await
        .map_err(Failure::Transport)?;
    let status = response.status().as_u16();
    let headers = std::mem::take(response.headers_mut());
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Failure::Transport)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(Failure::TooLarge { status, body });
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, headers, body))
}

/// Why an attempt is retried, for the log.
struct Cause<'a>(&'a Result<Received, Failure>);

impl std::fmt::Display for Cause<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Ok((status, _, _)) => write!(f, "status {status}"),
            Err(Failure::Transport(e)) if e.is_timeout() => f.write_str("timeout"),
            Err(Failure::Transport(e)) if e.is_connect() => f.write_str("connection failed"),
            Err(Failure::Transport(_)) => f.write_str("connection lost"),
            Err(Failure::TooLarge { .. }) => f.write_str("body too large"),
        }
    }
}

/// A response read in full, to be decoded by the generated code.
pub struct RawResponse {
    operation: &'static str,
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
    idempotency_key: Option<IdempotencyKey>,
    /// How many attempts the call took, this one included.
    attempts: u32,
}

impl RawResponse {
    pub fn status(&self) -> u16 {
        self.status
    }

    fn details(&self) -> ResponseDetails {
        let correlation = correlation_id(&self.headers).map(str::to_owned);
        ResponseDetails::from_body(self.status, &self.body, correlation)
    }

    fn error<E>(&self, kind: ErrorKind<E>) -> Error<E> {
        Error::new(kind, self.operation, self.idempotency_key.clone()).with_attempts(self.attempts)
    }

    fn decode_error<E>(&self, message: String) -> Error<E> {
        self.error(ErrorKind::Decode {
            details: self.details(),
            message,
        })
    }

    /// A response header, if present; not UTF-8 is a decode error.
    pub fn header<E>(&self, name: &str) -> Result<Option<String>, Error<E>> {
        match self.headers.get(name) {
            None => Ok(None),
            Some(value) => match value.to_str() {
                Ok(value) => Ok(Some(value.to_owned())),
                Err(_) => Err(self.decode_error(format!("header {name} is not text"))),
            },
        }
    }

    /// A response header that the spec requires.
    pub fn required_header<E>(&self, name: &str) -> Result<String, Error<E>> {
        self.header(name)?
            .ok_or_else(|| self.decode_error(format!("header {name} is missing")))
    }

    /// A success value built from the response (headers, say).
    pub fn value<T, E>(self, value: T) -> Result<Response<T>, Error<E>> {
        Ok(Response::new(self.status, value).with_key(self.idempotency_key))
    }

    /// The body, decoded as JSON, leaving the response for its headers.
    pub fn decode<T: DeserializeOwned, E>(&self) -> Result<T, Error<E>> {
        serde_json::from_slice(&self.body).map_err(|e| self.decode_error(e.to_string()))
    }

    /// The raw body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, decoded as JSON.
    pub fn json<T: DeserializeOwned, E>(self) -> Result<Response<T>, Error<E>> {
        match serde_json::from_slice(&self.body) {
            Ok(value) => self.value(value),
            Err(e) => Err(self.decode_error(e.to_string())),
        }
    }

    /// The body as it came.
    pub fn bytes<E>(self) -> Result<Response<Vec<u8>>, Error<E>> {
        let status = self.status;
        Ok(Response::new(status, self.body).with_key(self.idempotency_key))
    }

    /// A documented error status whose body decodes into `B`, which `wrap`
    /// turns into the operation's error type.
    pub fn api_error<B: DeserializeOwned, E>(self, wrap: impl FnOnce(B) -> E) -> Error<E> {
        match serde_json::from_slice(&self.body) {
            Ok(body) => self.error(ErrorKind::Api(ApiError {
                body: wrap(body),
                details: self.details(),
            })),
            Err(e) => self.decode_error(e.to_string()),
        }
    }

    /// A documented error status without a body to decode.
    pub fn api_error_without_body<E>(self, error: E) -> Error<E> {
        self.error(ErrorKind::Api(ApiError {
            body: error,
            details: self.details(),
        }))
    }

    /// A status the spec does not document.
    pub fn unexpected_status<E>(self) -> Error<E> {
        self.error(ErrorKind::UnexpectedStatus(self.details()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode_path("abc-123_~.x"), "abc-123_~.x");
        assert_eq!(encode_path("a/b c?d#e%"), "a%2Fb%20c%3Fd%23e%25");
        assert_eq!(encode_path("ö"), "%C3%B6");
    }
}
