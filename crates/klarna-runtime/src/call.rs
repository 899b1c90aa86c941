//! The request builder and response decoding that every generated operation
//! uses. Public so that a call the generated crates lack can be written the
//! same way; the generated code is the reference for its use.

use std::fmt::Write as _;

use reqwest::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
pub use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::client::Client;
use crate::error::{ApiError, Error, ErrorKind, ResponseDetails};
use crate::idempotency::IdempotencyKey;
use crate::Response;

/// Header that carries the idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "Klarna-Idempotency-Key";

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
    method: Method,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Vec<u8>>,
    has_query: bool,
    idempotency_key: Option<IdempotencyKey>,
    problem: Option<String>,
}

impl<'a> Call<'a> {
    /// `path` is already encoded (see [`encode_path`]).
    pub fn new(client: &'a Client, operation: &'static str, method: Method, path: &str) -> Self {
        Call {
            client,
            operation,
            method,
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

    /// Sends `key`, or a new random key when the caller gave none.
    pub fn idempotency_key(&mut self, key: Option<IdempotencyKey>) {
        let key = key.unwrap_or_else(IdempotencyKey::new_v4);
        self.header(IDEMPOTENCY_HEADER, key.as_str());
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

    /// Sends the request and reads the whole response.
    pub async fn send<E>(self) -> Result<RawResponse, Error<E>> {
        let Call {
            client,
            operation,
            method,
            url,
            headers,
            body,
            idempotency_key,
            problem,
            ..
        } = self;
        if let Some(message) = problem {
            return Err(Error::new(
                ErrorKind::NotSent(message),
                operation,
                idempotency_key,
            ));
        }
        let mut request = client
            .inner
            .http
            .request(method, url)
            .header(AUTHORIZATION, client.inner.authorization.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let failed = |e: reqwest::Error, key: Option<IdempotencyKey>| {
            let kind = if e.is_builder() {
                ErrorKind::NotSent(e.to_string())
            } else {
                ErrorKind::NoResponse(e)
            };
            Error::new(kind, operation, key)
        };
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Err(failed(e, idempotency_key)),
        };
        let status = response.status().as_u16();
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() > MAX_BODY_BYTES => {
                    let details = ResponseDetails::from_body(status, &body, None);
                    let message = format!("the body is larger than {MAX_BODY_BYTES} bytes");
                    return Err(Error::new(
                        ErrorKind::Decode { details, message },
                        operation,
                        idempotency_key,
                    ));
                }
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return Err(failed(e, idempotency_key)),
            }
        }
        Ok(RawResponse {
            operation,
            status,
            headers,
            body,
            idempotency_key,
        })
    }
}

/// A response read in full, to be decoded by the generated code.
pub struct RawResponse {
    operation: &'static str,
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
    idempotency_key: Option<IdempotencyKey>,
}

impl RawResponse {
    pub fn status(&self) -> u16 {
        self.status
    }

    fn details(&self) -> ResponseDetails {
        let correlation = self
            .headers
            .get("klarna-correlation-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        ResponseDetails::from_body(self.status, &self.body, correlation)
    }

    fn error<E>(&self, kind: ErrorKind<E>) -> Error<E> {
        Error::new(kind, self.operation, self.idempotency_key.clone())
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
