use std::fmt;
use std::time::Duration;

use crate::idempotency::IdempotencyKey;

/// What can go wrong with one call, told apart the way a payments
/// integration needs to decide on a retry.
///
/// `E` is the operation's own error type: one variant per error status the
/// spec documents, holding the decoded body.
///
/// Every kind can be built without a network, for fakes of the generated
/// traits: [`Error::new`] with any [`ErrorKind`], [`TransportError`]'s
/// constructors for the transport kinds, and [`ResponseDetails`]'s public
/// fields for the ones with a response.
pub struct Error<E> {
    /// Boxed: every `Result` of every call carries this type, and the happy
    /// path should not pay for the size of an error response.
    inner: Box<Inner<E>>,
}

struct Inner<E> {
    kind: ErrorKind<E>,
    operation: &'static str,
    idempotency_key: Option<IdempotencyKey>,
    attempts: u32,
    retry_after: Option<Duration>,
    retry_budget_spent: bool,
    /// An attempt before the last one may have reached Klarna (its answer
    /// was lost), whatever the last one's kind says.
    earlier_attempt_may_have_reached: bool,
    /// Who answers, as the message names it: "Klarna", or the API a client
    /// generated from another document talks to.
    server: &'static str,
}

/// Where a call ended, in the order a request travels.
#[non_exhaustive]
pub enum ErrorKind<E> {
    /// Nothing reached Klarna: the request could not be built (a body that
    /// does not serialise, a header value with control characters) or no
    /// connection could be made (DNS failure, connection refused, connect
    /// timeout, TLS handshake failure). Safe to retry for every operation,
    /// a `POST` without an idempotency key included; the client does so
    /// itself for connection failures.
    NotSent(TransportError),
    /// The request was sent, and no complete answer came: the connection was
    /// lost or the attempt timed out before a status arrived. It may have
    /// reached Klarna, so retry only with the same idempotency key.
    NoResponse(TransportError),
    /// Klarna answered with a status (in `details`), then the body broke
    /// off or timed out. The request reached Klarna; retry only with the same
    /// idempotency key, or read the resource to see what happened.
    IncompleteResponse {
        details: ResponseDetails,
        error: TransportError,
    },
    /// Klarna answered with an error status the spec documents.
    Api(ApiError<E>),
    /// Klarna answered with a status the spec does not document, a redirect
    /// included (the client never follows one: see
    /// [`ResponseDetails::location`]).
    UnexpectedStatus(ResponseDetails),
    /// Klarna answered, but the body (or a header) could not be decoded, a
    /// required header was missing, or the body was larger than the client
    /// reads ([`Config::max_response_bytes`](crate::Config::max_response_bytes)).
    Decode {
        details: ResponseDetails,
        message: String,
    },
}

/// Why no complete response came: an error of the transport, opaque so
/// that the HTTP stack underneath is not part of this crate's API.
///
/// [`is_connect`](Self::is_connect) and [`is_timeout`](Self::is_timeout)
/// tell the cases apart; [`source`](std::error::Error::source) leads to the
/// underlying error when there is one.
pub struct TransportError {
    what: What,
    message: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum What {
    InvalidRequest,
    Connect,
    ConnectTimeout,
    Timeout,
    ConnectionLost,
}

impl TransportError {
    /// The request could not be built.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        TransportError::of(What::InvalidRequest, Some(message.into()))
    }

    /// No connection could be made: refused, DNS failure, TLS handshake.
    pub fn connect_failed() -> Self {
        TransportError::of(What::Connect, None)
    }

    /// No connection was made in time.
    pub fn connect_timeout() -> Self {
        TransportError::of(What::ConnectTimeout, None)
    }

    /// The attempt timed out after the request was sent.
    pub fn timeout() -> Self {
        TransportError::of(What::Timeout, None)
    }

    /// The connection closed or reset after the request was sent.
    pub fn connection_lost() -> Self {
        TransportError::of(What::ConnectionLost, None)
    }

    /// The same error, with the underlying cause as its source.
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    fn of(what: What, message: Option<String>) -> Self {
        TransportError {
            what,
            message,
            source: None,
        }
    }

    /// The time allowed ran out: connecting, or waiting for the answer.
    pub fn is_timeout(&self) -> bool {
        matches!(self.what, What::ConnectTimeout | What::Timeout)
    }

    /// No connection was made (so nothing was sent).
    pub fn is_connect(&self) -> bool {
        matches!(self.what, What::Connect | What::ConnectTimeout)
    }
}

impl fmt::Display for TransportError {
    /// One line: what happened, and the innermost cause (the operating
    /// system's "Connection refused", say), which the source chain's outer
    /// links only wrap.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.what {
            What::InvalidRequest => "invalid request",
            What::Connect => "could not connect",
            What::ConnectTimeout => "timed out connecting",
            What::Timeout => "timed out",
            What::ConnectionLost => "connection lost",
        };
        match &self.message {
            Some(message) => write!(f, "{what}: {message}")?,
            None => f.write_str(what)?,
        }
        let mut cause: Option<&(dyn std::error::Error + 'static)> = match &self.source {
            Some(source) => Some(source.as_ref()),
            None => None,
        };
        let mut innermost = None;
        while let Some(error) = cause {
            innermost = Some(error);
            cause = error.source();
        }
        if let Some(error) = innermost {
            write!(f, " ({error})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportError")
            .field("what", &self.what)
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.source {
            Some(source) => Some(source.as_ref()),
            None => None,
        }
    }
}

/// A documented error response.
#[derive(Debug)]
pub struct ApiError<E> {
    /// The body, decoded into the type the spec documents for the status.
    pub body: E,
    pub details: ResponseDetails,
}

/// What every error response carries: the status, Klarna's error fields when
/// the body has them, and a bounded excerpt of the raw body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseDetails {
    pub status: u16,
    pub correlation_id: Option<String>,
    pub error_code: Option<String>,
    pub error_messages: Vec<String>,
    /// At most [`ResponseDetails::EXCERPT_LIMIT`] bytes of the body, lossily
    /// decoded as UTF-8.
    pub body_excerpt: String,
    /// The `Location` header, for a redirect: the client follows none (a
    /// capture must not turn into a `GET`, nor its key go to another
    /// host), so a 3xx is an [`ErrorKind::UnexpectedStatus`] with its target
    /// here.
    pub location: Option<String>,
}
impl ResponseDetails {
    pub const EXCERPT_LIMIT: usize = 1024;

    pub(crate) fn from_body(status: u16, body: &[u8], correlation_header: Option<String>) -> Self {
        #[derive(serde::Deserialize, Default)]
        struct KlarnaErrorFields {
            correlation_id: Option<String>,
            error_code: Option<String>,
            #[serde(default)]
            error_messages: Vec<String>,
            /// The global Payment API sends one message, not a list.
            error_message: Option<String>,
        }
        let mut fields: KlarnaErrorFields = serde_json::from_slice(body).unwrap_or_default();
        if fields.error_messages.is_empty() {
            fields.error_messages.extend(fields.error_message.take());
        }
        let mut end = body.len().min(Self::EXCERPT_LIMIT);
        // Cut on a character boundary where the body is UTF-8.
        while end < body.len() && end > 0 && (body[end] & 0xC0) == 0x80 {
            end -= 1;
        }
        ResponseDetails {
            status,
            correlation_id: fields.correlation_id.or(correlation_header),
            error_code: fields.error_code,
            error_messages: fields.error_messages,
            body_excerpt: String::from_utf8_lossy(&body[..end]).into_owned(),
            location: None,
        }
    }
}

impl<E> Error<E> {
    /// An error of `operation` (the generated method's name, or
    /// `operations::CAPTURE_ORDER.name`), after one attempt, without a key:
    /// add those with the `with_` methods.
    pub fn new(operation: &'static str, kind: ErrorKind<E>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                operation,
                idempotency_key: None,
                attempts: 1,
                retry_after: None,
                retry_budget_spent: false,
                earlier_attempt_may_have_reached: false,
                server: "Klarna",
            }),
        }
    }

    /// The key the request carried.
    pub fn with_idempotency_key(mut self, key: Option<IdempotencyKey>) -> Self {
        self.inner.idempotency_key = key;
        self
    }

    /// How many attempts were made (at least 1).
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.inner.attempts = attempts.max(1);
        self
    }

    /// The wait the last response asked for in `Retry-After`.
    pub fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        self.inner.retry_after = wait;
        self
    }

    /// Marks the call as ended early because the client's
    /// [`RetryBudget`](crate::retry::RetryBudget) was spent.
    pub fn with_retry_budget_spent(mut self, spent: bool) -> Self {
        self.inner.retry_budget_spent = spent;
        self
    }

    /// The same error, naming `server` (the API's name) where its message
    /// would say "Klarna": for clients generated from documents of others.
    pub fn with_server(mut self, server: &'static str) -> Self {
        self.inner.server = server;
        self
    }

    /// Marks an attempt before the last as one that may have reached Klarna
    /// (sent, and its answer lost): the call may then have acted although
    /// its last attempt was [`ErrorKind::NotSent`].
    pub fn with_earlier_attempt_reached(mut self, reached: bool) -> Self {
        self.inner.earlier_attempt_may_have_reached = reached;
        self
    }

    /// What Klarna's last response asked for in `Retry-After`, if it said.
    /// The client does not wait longer than its
    /// [`RetryPolicy`](crate::RetryPolicy)'s longest backoff, nor past the
    /// overall timeout: a longer `Retry-After` ends the call at once, and
    /// this is when to call again.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// The call was not retried (or not retried further) because the
    /// client's retry budget was spent: Klarna, or the way to it, has been
    /// failing for many calls.
    pub fn retry_budget_spent(&self) -> bool {
        self.inner.retry_budget_spent
    }

    /// How many times the request was sent (or tried to be), retries
    /// included. The error is the last attempt's.
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// What a generated trait's `send_*` method answers when a fake does
    /// not implement it: a test that reaches it fails with the operation's
    /// name instead of hanging or panicking.
    pub fn not_faked(operation: &'static str) -> Self {
        Error::new(
            operation,
            ErrorKind::NotSent(TransportError::invalid_request(format!(
                "not faked: {operation}"
            ))),
        )
    }

    /// A documented error response, for fakes of the generated traits.
    pub fn api(operation: &'static str, status: u16, body: E) -> Self {
        let details = ResponseDetails {
            status,
            ..ResponseDetails::default()
        };
        Error::api_with_details(operation, details, body)
    }

    /// A documented error response with Klarna's fields (correlation id,
    /// error code, messages), for fakes whose callers read them through
    /// [`Error::error_code`] and friends.
    pub fn api_with_details(operation: &'static str, details: ResponseDetails, body: E) -> Self {
        Error::new(operation, ErrorKind::Api(ApiError { body, details }))
    }

    pub fn kind(&self) -> &ErrorKind<E> {
        &self.inner.kind
    }

    pub fn into_kind(self) -> ErrorKind<E> {
        self.inner.kind
    }

    /// The operation, as the generated method is named (`capture_order`).
    pub fn operation(&self) -> &'static str {
        self.inner.operation
    }

    /// The key sent with the request, to retry it safely.
    pub fn idempotency_key(&self) -> Option<&IdempotencyKey> {
        self.inner.idempotency_key.as_ref()
    }

    /// The decoded body of a documented error status.
    pub fn api_body(&self) -> Option<&E> {
        match &self.inner.kind {
            ErrorKind::Api(api) => Some(&api.body),
            _ => None,
        }
    }

    /// The response, when there was one.
    pub fn details(&self) -> Option<&ResponseDetails> {
        match &self.inner.kind {
            ErrorKind::Api(api) => Some(&api.details),
            ErrorKind::UnexpectedStatus(details)
            | ErrorKind::Decode { details, .. }
            | ErrorKind::IncompleteResponse { details, .. } => Some(details),
            ErrorKind::NotSent(_) | ErrorKind::NoResponse(_) => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        self.details().map(|d| d.status)
    }

    pub fn correlation_id(&self) -> Option<&str> {
        self.details()?.correlation_id.as_deref()
    }

    pub fn error_code(&self) -> Option<&str> {
        self.details()?.error_code.as_deref()
    }

    pub fn error_messages(&self) -> &[String] {
        self.details().map_or(&[], |d| &d.error_messages)
    }

    /// The transport's error, for the kinds without a complete response.
    pub fn transport_error(&self) -> Option<&TransportError> {
        match &self.inner.kind {
            ErrorKind::NotSent(error)
            | ErrorKind::NoResponse(error)
            | ErrorKind::IncompleteResponse { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Whether Klarna may have acted on the request: anything but `NotSent`,
    /// and `NotSent` too when an earlier attempt was sent and its answer
    /// lost (a capture sent, its answer lost, the retry refused a
    /// connection).
    pub fn may_have_reached_klarna(&self) -> bool {
        self.inner.earlier_attempt_may_have_reached
            || !matches!(self.inner.kind, ErrorKind::NotSent(_))
    }
}

impl<E> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.inner.operation)?;
        self.describe_last_attempt(f)?;
        if self.inner.attempts > 1 {
            write!(f, " [after {} attempts]", self.inner.attempts)?;
        }
        if self.inner.retry_budget_spent {
            f.write_str(" [not retried: the client's retry budget is spent]")?;
        }
        if let Some(wait) = self.inner.retry_after {
            write!(
                f,
                " [{} asks to retry after {} s]",
                self.inner.server,
                wait.as_secs()
            )?;
        }
        Ok(())
    }
}

impl<E> Error<E> {
    fn describe_last_attempt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let details = match &self.inner.kind {
            ErrorKind::NotSent(error) if self.inner.earlier_attempt_may_have_reached => {
                write!(
                    f,
                    "the last attempt was not sent ({error}), but an earlier one may have reached {}",
                    self.inner.server
                )?;
                return self.describe_key(f);
            }
            ErrorKind::NotSent(error) => {
                return write!(
                    f,
                    "not sent, nothing reached {}: {error}",
                    self.inner.server
                )
            }
            ErrorKind::NoResponse(error) => {
                write!(
                    f,
                    "{error}, the request may have reached {}",
                    self.inner.server
                )?;
                return self.describe_key(f);
            }
            ErrorKind::IncompleteResponse { details, error } => {
                write!(
                    f,
                    "{server} answered {}, then the body was cut off ({error}); the request reached {server}",
                    details.status,
                    server = self.inner.server
                )?;
                return self.describe_key(f);
            }
            ErrorKind::Api(api) => {
                write!(f, "{} answered {}", self.inner.server, api.details.status)?;
                &api.details
            }
            ErrorKind::UnexpectedStatus(details) => {
                write!(
                    f,
                    "{} answered with undocumented status {}",
                    self.inner.server, details.status
                )?;
                details
            }
            ErrorKind::Decode { details, message } => {
                write!(
                    f,
                    "cannot decode {}'s {} response ({message})",
                    self.inner.server, details.status
                )?;
                details
            }
        };
        if let Some(code) = &details.error_code {
            write!(f, " {code}")?;
        }
        if let Some(id) = &details.correlation_id {
            write!(f, " (correlation id {id})")?;
        }
        if let Some(message) = details.error_messages.first() {
            write!(f, ": {}", message.replace('\n', " "))?;
        }
        if let Some(location) = &details.location {
            write!(f, " (redirect to {location}, not followed)")?;
        }
        Ok(())
    }

    fn describe_key(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.idempotency_key {
            Some(key) => write!(f, " (retry with idempotency key {key})"),
            None => Ok(()),
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("operation", &self.inner.operation)
            .field("kind", &self.inner.kind)
            .field("idempotency_key", &self.inner.idempotency_key)
            .field("attempts", &self.inner.attempts)
            .field("retry_after", &self.inner.retry_after)
            .field("retry_budget_spent", &self.inner.retry_budget_spent)
            .field(
                "earlier_attempt_may_have_reached",
                &self.inner.earlier_attempt_may_have_reached,
            )
            .finish()
    }
}

impl<E: fmt::Debug> fmt::Debug for ErrorKind<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::NotSent(message) => f.debug_tuple("NotSent").field(message).finish(),
            ErrorKind::NoResponse(error) => f.debug_tuple("NoResponse").field(error).finish(),
            ErrorKind::IncompleteResponse { details, error } => f
                .debug_struct("IncompleteResponse")
                .field("details", details)
                .field("error", error)
                .finish(),
            ErrorKind::Api(api) => f.debug_tuple("Api").field(api).finish(),
            ErrorKind::UnexpectedStatus(details) => {
                f.debug_tuple("UnexpectedStatus").field(details).finish()
            }
            ErrorKind::Decode { details, message } => f
                .debug_struct("Decode")
                .field("details", details)
                .field("message", message)
                .finish(),
        }
    }
}

impl<E: fmt::Debug> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.transport_error()
            .map(|error| error as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_take_klarna_fields_and_bound_the_excerpt() {
        let mut body = br#"{"correlation_id":"c-1","error_code":"NO_SUCH_ORDER","error_messages":["gone"],"pad":""#.to_vec();
        body.extend(std::iter::repeat_n(b'x', 5000));
        body.extend(br#""}"#);
        let details = ResponseDetails::from_body(404, &body, None);
        assert_eq!(details.correlation_id.as_deref(), Some("c-1"));
        assert_eq!(details.error_code.as_deref(), Some("NO_SUCH_ORDER"));
        assert_eq!(details.error_messages, ["gone"]);
        assert_eq!(details.body_excerpt.len(), ResponseDetails::EXCERPT_LIMIT);
    }

    #[test]
    fn details_take_the_single_message_of_the_payment_api() {
        let body = br#"{"error_id":"e-1","error_type":"INPUT_ERROR","error_code":"BAD_VALUE","error_message":"payment_amount must be positive"}"#;
        let details = ResponseDetails::from_body(400, body, None);
        assert_eq!(details.error_code.as_deref(), Some("BAD_VALUE"));
        assert_eq!(details.error_messages, ["payment_amount must be positive"]);
    }

    #[test]
    fn excerpt_cuts_on_a_character_boundary() {
        let body = "é".repeat(ResponseDetails::EXCERPT_LIMIT);
        let details = ResponseDetails::from_body(500, body.as_bytes(), Some("header-id".into()));
        assert!(details.body_excerpt.len() <= ResponseDetails::EXCERPT_LIMIT);
        assert!(details.body_excerpt.chars().all(|c| c == 'é'));
        assert_eq!(details.correlation_id.as_deref(), Some("header-id"));
    }

    #[test]
    fn display_is_one_line_with_status_code_and_correlation_id() {
        let details = ResponseDetails::from_body(
            403,
            br#"{"correlation_id":"c-9","error_code":"CAPTURE_NOT_ALLOWED","error_messages":["Too much\nmoney"]}"#,
            None,
        );
        let error: Error<()> = Error::new(
            "capture_order",
            ErrorKind::Api(ApiError { body: (), details }),
        );
        assert_eq!(
            error.to_string(),
            "capture_order: Klarna answered 403 CAPTURE_NOT_ALLOWED (correlation id c-9): Too much money"
        );
    }

    #[test]
    fn fakes_can_give_klarnas_error_fields() {
        let details = ResponseDetails {
            status: 403,
            error_code: Some("CAPTURE_NOT_ALLOWED".into()),
            correlation_id: Some("c-7".into()),
            ..ResponseDetails::default()
        };
        let error = Error::api_with_details("capture_order", details, "refused");
        assert_eq!(error.error_code(), Some("CAPTURE_NOT_ALLOWED"));
        assert_eq!(error.correlation_id(), Some("c-7"));
        assert_eq!(error.api_body(), Some(&"refused"));
        assert_eq!(Error::api("get_order", 404, ()).status(), Some(404));
    }

    #[test]
    fn every_transport_kind_can_be_built_and_says_what_is_known() {
        let key = IdempotencyKey::from("k-1");
        let refused: Error<()> = Error::new(
            "create_credit_session",
            ErrorKind::NotSent(TransportError::connect_failed()),
        );
        assert!(!refused.may_have_reached_klarna());
        assert!(refused.transport_error().unwrap().is_connect());
        assert_eq!(
            refused.to_string(),
            "create_credit_session: not sent, nothing reached Klarna: could not connect"
        );
        let timed_out: Error<()> = Error::new(
            "capture_order",
            ErrorKind::NoResponse(TransportError::timeout()),
        )
        .with_idempotency_key(Some(key.clone()));
        assert!(timed_out.may_have_reached_klarna());
        assert!(timed_out.transport_error().unwrap().is_timeout());
        assert_eq!(
            timed_out.to_string(),
            "capture_order: timed out, the request may have reached Klarna (retry with idempotency key k-1)"
        );
        let cut_off: Error<()> = Error::new(
            "capture_order",
            ErrorKind::IncompleteResponse {
                details: ResponseDetails {
                    status: 201,
                    ..ResponseDetails::default()
                },
                error: TransportError::connection_lost()
                    .with_source(std::io::Error::other("reset")),
            },
        );
        assert_eq!(cut_off.status(), Some(201));
        assert!(std::error::Error::source(&cut_off).is_some());
        assert!(cut_off.to_string().contains("answered 201"), "{cut_off}");
        assert!(cut_off.to_string().contains("(reset)"), "{cut_off}");
    }

    #[test]
    fn display_says_why_a_call_ended_early() {
        let details = ResponseDetails::from_body(429, b"", None);
        let error: Error<()> = Error::new("get_order", ErrorKind::UnexpectedStatus(details))
            .with_retry_after(Some(Duration::from_secs(3600)))
            .with_retry_budget_spent(true);
        assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
        assert!(error.retry_budget_spent());
        assert_eq!(
            error.to_string(),
            "get_order: Klarna answered with undocumented status 429 [not retried: the client's retry budget is spent] [Klarna asks to retry after 3600 s]"
        );
    }

    #[test]
    fn display_counts_the_attempts_of_a_retried_call() {
        let details = ResponseDetails::from_body(503, b"busy", Some("c-3".into()));
        let error: Error<()> =
            Error::new("get_order", ErrorKind::UnexpectedStatus(details)).with_attempts(3);
        assert_eq!(error.attempts(), 3);
        assert_eq!(
            error.to_string(),
            "get_order: Klarna answered with undocumented status 503 (correlation id c-3) [after 3 attempts]"
        );
    }
}
