//! The request builder and response decoding that every generated operation
//! uses. Public so that a call the generated crates lack can be written the
//! same way; the generated code is the reference for its use.

use std::time::{Duration, SystemTime};

use http::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE,
    LOCATION, RETRY_AFTER, USER_AGENT,
};
pub use http::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;

pub use crate::private::encode::encode_path;

use crate::client::Client;
use crate::credentials::PARTNER_ACCOUNT_HEADER;
use crate::error::{ApiError, Error, ErrorKind, ResponseDetails, TransportError};
use crate::idempotency::IdempotencyKey;
pub use crate::operation::Operation;
use crate::retry::{is_retryable_status, parse_retry_after};
use crate::stream::ByteStream;
use crate::transport::{self, Body, SendError, Transport};
use crate::upload::RequestBody;
use crate::Response;
use crate::Upload;

/// The correlation id Klarna puts in a response header, for errors whose
/// body lacks one.
fn correlation_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("klarna-correlation-id")
        .and_then(|v| v.to_str().ok())
}

/// The default limit on a response body; a client's own is
/// [`Config::max_response_bytes`](crate::Config::max_response_bytes).
pub const MAX_BODY_BYTES: usize = crate::config::DEFAULT_MAX_RESPONSE_BYTES;

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
    headers: HeaderMap,
    body: Option<RequestBody>,
    has_query: bool,
    idempotency_key: Option<IdempotencyKey>,
    problem: Option<String>,
    /// A success's body is handed over unread, as a [`ByteStream`].
    stream_success: bool,
}

impl<'a> Call<'a> {
    /// `path` is the operation's path with its parameters filled in and
    /// encoded (see [`encode_path`]).
    pub fn new(client: &'a Client, operation: &Operation, path: &str) -> Self {
        // A parameter of `.` or `..` (or an empty one) would make another
        // path of it: HTTP stacks resolve dot segments, so an id of `..`
        // would reach the parent resource. The templates have none, so any
        // such segment is a parameter's (a template's own trailing `/`
        // aside).
        let segments = match operation.path.ends_with('/') {
            true => path.strip_suffix('/').unwrap_or(path),
            false => path,
        };
        let problem = segments
            .split('/')
            .skip(1)
            .any(|segment| matches!(segment, "" | "." | ".."))
            .then(|| {
                format!(
                    "a path parameter of {} is empty, `.` or `..`",
                    operation.name
                )
            });
        Call {
            client,
            operation: operation.name,
            idempotent: operation.idempotent,
            idempotency_header: operation.idempotency_header,
            method: operation.method.clone(),
            url: format!("{}{path}", client.inner.base_url),
            headers: HeaderMap::new(),
            body: None,
            has_query: false,
            idempotency_key: None,
            problem,
            stream_success: false,
        }
    }

    /// A 2xx answer's body is not read here but handed over as a
    /// [`ByteStream`] ([`RawResponse::byte_stream`]): not held in memory and
    /// not bound by `Config::max_response_bytes`. Error answers are read as
    /// usual, for their details.
    pub fn stream_success(&mut self) {
        self.stream_success = true;
    }

    pub fn header(&mut self, name: &'static str, value: &str) {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                self.headers.append(name, value);
            }
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

    /// A query parameter serialised by its OpenAPI style (see [`style`]):
    /// the pairs go into the URL as they are, already encoded.
    ///
    /// [`style`]: crate::private::style
    pub fn query_styled(
        &mut self,
        name: &'static str,
        style: crate::private::style::Style,
        explode: bool,
        value: &crate::private::style::Value<'_>,
    ) {
        for pair in crate::private::style::query(name, style, explode, value) {
            self.url.push(if self.has_query { '&' } else { '?' });
            self.url.push_str(&pair);
            self.has_query = true;
        }
    }

    /// A cookie parameter in the `form` style (`id=5`; a list or an object
    /// comma-separated, `id=3,4,5`), its value percent-encoded, added to the
    /// request's one `Cookie` header (RFC 6265 allows no second).
    pub fn cookie(
        &mut self,
        name: &'static str,
        explode: bool,
        value: &crate::private::style::Value<'_>,
    ) {
        let pairs =
            crate::private::style::query(name, crate::private::style::Style::Form, explode, value);
        for pair in pairs {
            match HeaderValue::from_str(&pair) {
                Ok(pair) => append_cookie(&mut self.headers, pair),
                Err(_) => self.problem(format!("cookie {name} cannot carry the value given")),
            }
        }
    }

    /// The operation's `security`: alternatives, each the schemes that must
    /// be sent together. With [`SchemeCredentials`](crate::SchemeCredentials)
    /// the first alternative whose secrets are all configured is sent (an
    /// empty one: nothing); with none satisfied the call is not sent. Other
    /// credentials (Klarna's) are sent on every call as before, and this
    /// does nothing.
    pub fn security(
        &mut self,
        alternatives: &[&[(&'static str, crate::private::security::Scheme)]],
    ) {
        let Some(schemes) = &self.client.inner.schemes else {
            return;
        };
        match crate::private::security::choose(schemes, alternatives) {
            Ok(parts) => {
                for part in parts {
                    match part {
                        crate::private::security::Part::Header(name, value) => {
                            match HeaderName::from_bytes(name.as_bytes()) {
                                Ok(name) if name == http::header::COOKIE => {
                                    append_cookie(&mut self.headers, value)
                                }
                                Ok(name) => {
                                    self.headers.insert(name, value);
                                }
                                Err(_) => self.problem(format!(
                                    "the header name of a security scheme of {} is not valid",
                                    self.operation
                                )),
                            }
                        }
                        crate::private::security::Part::Query(pair) => {
                            self.url.push(if self.has_query { '&' } else { '?' });
                            self.url.push_str(&pair);
                            self.has_query = true;
                        }
                    }
                }
            }
            Err(message) => self.problem(format!("{}: {message}", self.operation)),
        }
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
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                self.body = Some(RequestBody::Bytes(bytes.into()));
            }
            Err(e) => self.problem(format!("the request body does not serialise: {e}")),
        }
    }

    /// An `application/x-www-form-urlencoded` body: each property of `body`
    /// (an object of primitives and arrays of them, as the form style
    /// writes them: an array as one pair per item), encoded as the query
    /// is; `null` and absent properties are left out.
    pub fn form<T: Serialize + ?Sized>(&mut self, body: &T) {
        let object = match serde_json::to_value(body) {
            Ok(serde_json::Value::Object(object)) => object,
            Ok(_) => return self.problem("a form body must be an object".to_owned()),
            Err(e) => return self.problem(format!("the request body does not serialise: {e}")),
        };
        let text = |value: &serde_json::Value| match value {
            serde_json::Value::String(text) => Some(text.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        let mut pairs = Vec::new();
        for (name, value) in &object {
            let items: Vec<&serde_json::Value> = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::Array(items) => items.iter().collect(),
                value => vec![value],
            };
            for item in items {
                let Some(item) = text(item) else {
                    return self.problem(format!(
                        "form field {name} is not a primitive or an array of them"
                    ));
                };
                pairs.push(format!("{}={}", encode_path(name), encode_path(&item)));
            }
        }
        self.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        self.body = Some(RequestBody::Bytes(pairs.join("&").into_bytes().into()));
    }

    /// A `multipart/form-data` body, with a random boundary.
    pub fn multipart(&mut self, body: &crate::Multipart) {
        let boundary = format!("klarna-{}", uuid::Uuid::new_v4().simple());
        match body.encode(&boundary) {
            Ok((bytes, content_type)) => match HeaderValue::from_str(&content_type) {
                Ok(value) => {
                    self.headers.insert(CONTENT_TYPE, value);
                    self.body = Some(RequestBody::Bytes(bytes.into()));
                }
                Err(_) => self.problem("the multipart boundary is not a header value".to_owned()),
            },
            Err(message) => self.problem(message),
        }
    }

    /// A binary body with its media type: bytes in memory, sent again by a
    /// retry, or a stream (see [`Upload`]). A one-time stream that an
    /// earlier call took leaves this call unsent.
    pub fn upload(&mut self, content_type: &'static str, body: &Upload<'_>) {
        // A call that will not be sent leaves a one-time stream where it
        // is, for the caller to send once the problem is put right.
        if self.problem.is_some() {
            return;
        }
        let Ok(value) = HeaderValue::from_str(content_type) else {
            return self.problem(format!("media type {content_type} is not a header value"));
        };
        match body.take() {
            Some(body) => {
                self.headers.insert(CONTENT_TYPE, value);
                self.body = Some(body);
            }
            None => self.problem(format!(
                "the streamed body of {} was sent by an earlier call: a stream is read once \
                 (Upload::replayable makes one that can be sent again)",
                self.operation
            )),
        }
    }

    pub fn accept(&mut self, media_type: &'static str) {
        self.headers
            .insert(ACCEPT, HeaderValue::from_static(media_type));
    }

    fn problem(&mut self, message: String) {
        self.problem.get_or_insert(message);
    }

    /// Sends the request and reads the whole response, retrying as the
    /// client's [`RetryPolicy`](crate::RetryPolicy) and
    /// [`RetryBudget`](crate::retry::RetryBudget) allow: always when nothing
    /// was sent (no connection), and otherwise when the call is safe to
    /// repeat: the operation is idempotent, or the request carries an
    /// idempotency key (the same one on every attempt).
    ///
    /// Dropping the returned future abandons the call: nothing of it stays
    /// behind in the client.
    pub async fn send<E>(self) -> Result<RawResponse, Error<E>> {
        let Call {
            client,
            operation,
            idempotent,
            idempotency_header,
            method,
            url,
            headers: call_headers,
            body,
            idempotency_key,
            problem,
            stream_success,
            ..
        } = self;
        if let Some(message) = problem {
            let kind = ErrorKind::NotSent(TransportError::invalid_request(message));
            return Err(Error::new(operation, kind)
                .with_idempotency_key(idempotency_key)
                .with_server(client.identity.server));
        }
        // The order reqwest would use: credentials, the call's own headers,
        // then the client-wide user agent.
        let mut headers = HeaderMap::with_capacity(call_headers.len() + 4);
        if let Some(authorization) = &client.inner.authorization {
            headers.insert(AUTHORIZATION, authorization.clone());
        }
        if let Some(account) = &client.inner.partner_account {
            headers.insert(PARTNER_ACCOUNT_HEADER, account.clone());
        }
        headers.extend(call_headers);
        if body.is_none() && matches!(method, Method::POST | Method::PUT | Method::PATCH) {
            // No length is sent for an empty body; some proxies refuse a
            // POST without one.
            headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        }
        // `Client::for_api` takes any text; one that is no header value
        // leaves this SDK's.
        let user_agent = HeaderValue::from_str(client.identity.user_agent)
            .unwrap_or(HeaderValue::from_static(crate::client::USER_AGENT));
        headers.insert(USER_AGENT, user_agent);
        let request = transport::Request {
            operation,
            idempotency_header,
            method,
            path_start: client.inner.base_url.len(),
            url,
            headers,
            body,
        };
        let span = tracing::info_span!(
            "klarna.call",
            operation,
            method = %request.method,
            idempotency_key = idempotency_key.as_ref().map(IdempotencyKey::as_str),
            attempts = tracing::field::Empty,
            status = tracing::field::Empty,
            correlation_id = tracing::field::Empty,
        );
        // A one-time stream is gone once an attempt took it: not even a
        // connection refused before a byte left can be tried again.
        let replayable = request.body.as_ref().is_none_or(RequestBody::is_replayable);
        let attempts = Attempts {
            client,
            request: &request,
            replayable,
            repeatable: replayable && (idempotent || idempotency_key.is_some()),
            stream_success,
            span: span.clone(),
        };
        let mut stream = None;
        let ended = attempts.run(&mut stream).instrument(span.clone()).await;
        span.record("attempts", ended.attempts);
        match ended.result {
            Ok((status, headers, body)) => {
                span.record("status", status);
                if let Some(id) = correlation_id(&headers) {
                    span.record("correlation_id", id);
                }
                Ok(RawResponse {
                    operation,
                    server: client.identity.server,
                    status,
                    headers,
                    body,
                    idempotency_key,
                    attempts: ended.attempts,
                    retry_after: ended.retry_after,
                    retry_budget_spent: ended.retry_budget_spent,
                    stream,
                })
            }
            Err(failure) => {
                let kind = match failure {
                    Failure::Send(SendError::NotSent(error)) => ErrorKind::NotSent(error),
                    Failure::Send(SendError::Lost(error)) => ErrorKind::NoResponse(error),
                    #[cfg(feature = "test-util")]
                    Failure::Send(SendError::Unscripted(message)) => {
                        ErrorKind::NotSent(TransportError::invalid_request(message))
                    }
                    Failure::CutOff {
                        status,
                        headers,
                        body,
                        error,
                    } => ErrorKind::IncompleteResponse {
                        details: details_of(status, &headers, &body),
                        error,
                    },
                    Failure::TooLarge {
                        status,
                        headers,
                        message,
                    } => ErrorKind::Decode {
                        details: details_of(status, &headers, &[]),
                        message,
                    },
                };
                Err(Error::new(operation, kind)
                    .with_server(client.identity.server)
                    .with_idempotency_key(idempotency_key)
                    .with_attempts(ended.attempts)
                    .with_retry_after(ended.retry_after)
                    .with_retry_budget_spent(ended.retry_budget_spent)
                    .with_earlier_attempt_reached(ended.earlier_attempt_reached))
            }
        }
    }
}

/// Adds `name=value` to the request's one `Cookie` header.
fn append_cookie(headers: &mut HeaderMap, pair: HeaderValue) {
    let joined = match headers.get(http::header::COOKIE) {
        Some(existing) => {
            let mut joined = existing.as_bytes().to_vec();
            joined.extend_from_slice(b"; ");
            joined.extend_from_slice(pair.as_bytes());
            HeaderValue::from_bytes(&joined).ok()
        }
        None => Some(pair),
    };
    if let Some(mut value) = joined {
        value.set_sensitive(true);
        headers.insert(http::header::COOKIE, value);
    }
}

/// What an error response says, with the headers' correlation id and
/// redirect target.
fn details_of(status: u16, headers: &HeaderMap, body: &[u8]) -> ResponseDetails {
    let correlation = correlation_id(headers).map(str::to_owned);
    let mut details = ResponseDetails::from_body(status, body, correlation);
    details.location = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    details
}

/// The status, headers and body of a response read in full.
type Received = (u16, HeaderMap, Vec<u8>);

/// Why an attempt brought no usable response.
enum Failure {
    /// No status line: not sent, or sent and lost.
    Send(SendError),
    /// A status line, then the body broke off.
    CutOff {
        status: u16,
        headers: HeaderMap,
        body: Vec<u8>,
        error: TransportError,
    },
    /// More body than the client reads, declared or sent.
    TooLarge {
        status: u16,
        headers: HeaderMap,
        message: String,
    },
}

/// How a call's attempts ended.
struct Ended {
    attempts: u32,
    result: Result<Received, Failure>,
    /// The last response's `Retry-After`.
    retry_after: Option<Duration>,
    /// A retry was due but the client's budget was spent.
    retry_budget_spent: bool,
    /// An attempt before the last was sent and may have reached Klarna.
    earlier_attempt_reached: bool,
}

/// The attempts of one call.
struct Attempts<'a> {
    client: &'a Client,
    request: &'a transport::Request,
    /// The body can be sent again (it is not a one-time stream).
    replayable: bool,
    /// Safe to send again once it may have reached Klarna.
    repeatable: bool,
    /// A 2xx body is left unread, in `run`'s `stream`.
    stream_success: bool,
    span: tracing::Span,
}

impl Attempts<'_> {
    /// Runs the attempts; with `stream_success`, the body of a 2xx answer
    /// is left in `stream`, unread.
    async fn run(self, stream: &mut Option<Body>) -> Ended {
        let policy = self.client.policy;
        let transport = &self.client.inner.transport;
        let budget = &self.client.inner.budget;
        let deadline = policy.overall_timeout.map(|limit| transport.now() + limit);
        let mut attempt = 1;
        // What the latest retry took from the budget, given back on an answer.
        let mut last_retry_cost = None;
        let mut earlier_attempt_reached = false;
        loop {
            let remaining =
                deadline.map(|deadline| deadline.saturating_duration_since(transport.now()));
            let timeout =
                remaining.map_or(policy.attempt_timeout, |r| r.min(policy.attempt_timeout));
            let attempt_span = tracing::debug_span!(
                parent: &self.span,
                "klarna.attempt",
                operation = self.request.operation,
                attempt,
                status = tracing::field::Empty,
                correlation_id = tracing::field::Empty,
            );
            let limit = policy.max_response_bytes;
            let result = receive(transport, self.request, timeout, limit, self.stream_success)
                .instrument(attempt_span.clone())
                .await
                .map(|(received, body)| {
                    *stream = body;
                    received
                });
            let mut retry_after = None;
            let (retryable, timed_out) = match &result {
                Ok((status, headers, _)) => {
                    attempt_span.record("status", status);
                    if let Some(id) = correlation_id(headers) {
                        attempt_span.record("correlation_id", id);
                    }
                    retry_after = headers
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    if !is_retryable_status(*status) {
                        budget.answered(last_retry_cost);
                    }
                    (self.repeatable && is_retryable_status(*status), false)
                }
                // Nothing left the machine: any operation may go again, if
                // its body is still there to send.
                Err(Failure::Send(SendError::NotSent(error))) => {
                    (self.replayable, error.is_timeout())
                }
                Err(Failure::Send(SendError::Lost(error)) | Failure::CutOff { error, .. }) => {
                    (self.repeatable, error.is_timeout())
                }
                #[cfg(feature = "test-util")]
                Err(Failure::Send(SendError::Unscripted(_))) => (false, false),
                Err(Failure::TooLarge { .. }) => (false, false),
            };
            let end = |result, retry_budget_spent| Ended {
                attempts: attempt,
                result,
                retry_after,
                retry_budget_spent,
                earlier_attempt_reached,
            };
            if !retryable || attempt >= policy.retry.attempts() {
                return end(result, false);
            }
            // A `Retry-After` beyond the longest backoff, or beyond the
            // deadline, is not waited for: the caller reschedules.
            let Some(wait) = policy.retry.backoff(attempt, retry_after) else {
                return end(result, false);
            };
            if deadline.is_some_and(|deadline| transport.now() + wait >= deadline) {
                return end(result, false);
            }
            let Some(cost) = budget.take(timed_out) else {
                tracing::info!(parent: &self.span, attempt, cause = %Cause(&result), "retry budget spent, not retrying");
                return end(result, true);
            };
            last_retry_cost = Some(cost);
            tracing::info!(
                parent: &self.span,
                attempt,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                cause = %Cause(&result),
                "retrying",
            );
            earlier_attempt_reached |=
                !matches!(&result, Err(Failure::Send(SendError::NotSent(_))));
            transport.sleep(wait).await;
            attempt += 1;
        }
    }
}

/// One attempt: sends the request and reads the whole response, refusing a
/// declared length above `limit` before reading any of the body; with
/// `stream_success`, a 2xx body is returned unread instead.
async fn receive(
    transport: &Transport,
    request: &transport::Request,
    timeout: Duration,
    limit: usize,
    stream_success: bool,
) -> Result<(Received, Option<Body>), Failure> {
    let head = transport
        .send(request, timeout)
        .await
        .map_err(Failure::Send)?;
    let (status, headers, mut body) = (head.status, head.headers, head.body);
    if stream_success && (200..300).contains(&status) {
        return Ok(((status, headers, Vec::new()), Some(body)));
    }
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(declared) = declared.filter(|&length| length > limit as u64) {
        return Err(Failure::TooLarge {
            status,
            headers,
            message: format!(
                "the response declares {declared} bytes, more than this client reads ({limit}, Config::max_response_bytes); not read"
            ),
        });
    }
    let mut bytes = Vec::with_capacity(declared.map_or(0, |d| d as usize));
    loop {
        match body.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > limit {
                    return Err(Failure::TooLarge {
                        status,
                        headers,
                        message: format!(
                            "the body is larger than this client reads ({limit} bytes, Config::max_response_bytes)"
                        ),
                    });
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(((status, headers, bytes), None)),
            Err(error) => {
                return Err(Failure::CutOff {
                    status,
                    headers,
                    body: bytes,
                    error,
                })
            }
        }
    }
}

/// Why an attempt is retried, for the log.
struct Cause<'a>(&'a Result<Received, Failure>);

impl std::fmt::Display for Cause<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Ok((status, _, _)) => write!(f, "status {status}"),
            Err(Failure::Send(SendError::NotSent(e) | SendError::Lost(e))) => write!(f, "{e}"),
            #[cfg(feature = "test-util")]
            Err(Failure::Send(SendError::Unscripted(_))) => f.write_str("unscripted"),
            Err(Failure::CutOff { error, .. }) => write!(f, "body cut off: {error}"),
            Err(Failure::TooLarge { .. }) => f.write_str("body too large"),
        }
    }
}

/// A response read in full, to be decoded by the generated code.
pub struct RawResponse {
    operation: &'static str,
    /// Who answered, for error messages.
    server: &'static str,
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
    idempotency_key: Option<IdempotencyKey>,
    /// How many attempts the call took, this one included.
    attempts: u32,
    retry_after: Option<Duration>,
    retry_budget_spent: bool,
    /// A success's unread body, when the call streams it.
    stream: Option<Body>,
}

impl RawResponse {
    pub fn status(&self) -> u16 {
        self.status
    }

    fn details(&self) -> ResponseDetails {
        details_of(self.status, &self.headers, &self.body)
    }

    fn error<E>(&self, kind: ErrorKind<E>) -> Error<E> {
        Error::new(self.operation, kind)
            .with_server(self.server)
            .with_idempotency_key(self.idempotency_key.clone())
            .with_attempts(self.attempts)
            .with_retry_after(self.retry_after)
            .with_retry_budget_spent(self.retry_budget_spent)
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

    /// A success value built from the response (headers, say), keeping
    /// the body it came with as the response's raw body: the buffer moves,
    /// nothing is copied.
    pub fn value<T, E>(self, value: T) -> Result<Response<T>, Error<E>> {
        Ok(Response::new(self.status, value)
            .with_key(self.idempotency_key)
            .with_headers(self.headers)
            .with_raw_body(self.body))
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

    /// The body, unread, as a stream of chunks (for a call with
    /// [`Call::stream_success`]).
    pub fn byte_stream<E>(mut self) -> Result<Response<ByteStream>, Error<E>> {
        let Some(body) = self.stream.take() else {
            return Err(
                self.decode_error("the body was read; nothing is left to stream".to_owned())
            );
        };
        let stream = ByteStream::new(self.operation, self.status, &self.headers, body);
        Ok(Response::new(self.status, stream)
            .with_key(self.idempotency_key)
            .with_headers(self.headers))
    }

    /// The body as it came.
    pub fn bytes<E>(self) -> Result<Response<Vec<u8>>, Error<E>> {
        Ok(Response::new(self.status, self.body)
            .with_key(self.idempotency_key)
            .with_headers(self.headers))
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
