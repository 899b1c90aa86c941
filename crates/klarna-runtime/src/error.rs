use std::fmt;

use crate::idempotency::IdempotencyKey;

/// What can go wrong with one call, told apart the way a payments
/// integration needs to decide on a retry.
///
/// `E` is the operation's own error type: one variant per error status the
/// spec documents, holding the decoded body.
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
}

#[non_exhaustive]
pub enum ErrorKind<E> {
    /// Nothing was sent: the request could not be built (a body that does
    /// not serialise, a header value with control characters). Safe to
    /// retry once the input is fixed.
    NotSent(String),
    /// The request was sent, or may have been, but no response came: a
    /// connection error or a timeout. It may have reached Klarna, so retry
    /// only with the same idempotency key.
    NoResponse(reqwest::Error),
    /// Klarna answered with an error status the spec documents.
    Api(ApiError<E>),
    /// Klarna answered with a status the spec does not document.
    UnexpectedStatus(ResponseDetails),
    /// Klarna answered, but the body (or a header) could not be decoded.
    Decode {
        details: ResponseDetails,
        message: String,
    },
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
        }
    }
}

impl<E> Error<E> {
    pub(crate) fn new(
        kind: ErrorKind<E>,
        operation: &'static str,
        idempotency_key: Option<IdempotencyKey>,
    ) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                operation,
                idempotency_key,
                attempts: 1,
            }),
        }
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.inner.attempts = attempts;
        self
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
            ErrorKind::NotSent(format!("not faked: {operation}")),
            operation,
            None,
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
        Error::new(ErrorKind::Api(ApiError { body, details }), operation, None)
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
            ErrorKind::UnexpectedStatus(details) | ErrorKind::Decode { details, .. } => {
                Some(details)
            }
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

    /// Whether Klarna may have acted on the request: anything but `NotSent`.
    pub fn may_have_reached_klarna(&self) -> bool {
        !matches!(self.inner.kind, ErrorKind::NotSent(_))
    }
}

impl<E> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.inner.operation)?;
        self.describe_last_attempt(f)?;
        if self.inner.attempts > 1 {
            write!(f, " [after {} attempts]", self.inner.attempts)?;
        }
        Ok(())
    }
}

impl<E> Error<E> {
    fn describe_last_attempt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let details = match &self.inner.kind {
            ErrorKind::NotSent(message) => return write!(f, "not sent: {message}"),
            ErrorKind::NoResponse(error) => {
                let what = if error.is_timeout() {
                    "timed out"
                } else {
                    "no response"
                };
                write!(f, "{what}, the request may have reached Klarna")?;
                if let Some(key) = &self.inner.idempotency_key {
                    write!(f, " (retry with idempotency key {key})")?;
                }
                return Ok(());
            }
            ErrorKind::Api(api) => {
                write!(f, "Klarna answered {}", api.details.status)?;
                &api.details
            }
            ErrorKind::UnexpectedStatus(details) => {
                write!(
                    f,
                    "Klarna answered with undocumented status {}",
                    details.status
                )?;
                details
            }
            ErrorKind::Decode { details, message } => {
                write!(
                    f,
                    "cannot decode Klarna's {} response ({message})",
                    details.status
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
        Ok(())
    }
}

impl<E: fmt::Debug> fmt::Debug for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("operation", &self.inner.operation)
            .field("kind", &self.inner.kind)
            .field("idempotency_key", &self.inner.idempotency_key)
            .field("attempts", &self.inner.attempts)
            .finish()
    }
}

impl<E: fmt::Debug> fmt::Debug for ErrorKind<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::NotSent(message) => f.debug_tuple("NotSent").field(message).finish(),
            ErrorKind::NoResponse(error) => f.debug_tuple("NoResponse").field(error).finish(),
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
        match &self.inner.kind {
            ErrorKind::NoResponse(error) => Some(error),
            _ => None,
        }
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
            ErrorKind::Api(ApiError { body: (), details }),
            "capture_order",
            None,
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
    fn display_counts_the_attempts_of_a_retried_call() {
        let details = ResponseDetails::from_body(503, b"busy", Some("c-3".into()));
        let error: Error<()> =
            Error::new(ErrorKind::UnexpectedStatus(details), "get_order", None).with_attempts(3);
        assert_eq!(error.attempts(), 3);
        assert_eq!(
            error.to_string(),
            "get_order: Klarna answered with undocumented status 503 (correlation id c-3) [after 3 attempts]"
        );
    }
}
