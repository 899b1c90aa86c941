//! A response body read a chunk at a time: what operations whose answer
//! is a file (a CSV or PDF report) return, so that a report of any size is
//! read in bounded memory.

use std::fmt;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::HeaderMap;

use crate::error::TransportError;
use crate::transport::Body;

/// The body of a successful answer, not yet read: call
/// [`chunk`](Self::chunk) until it returns `Ok(None)`, and write each chunk
/// where it belongs (a file, a parser) instead of keeping them all.
///
/// Unlike other answers, it is not bound by `Config::max_response_bytes`:
/// its size is the caller's business. The client's attempt timeout still
/// covers the whole read, and nothing is retried once the status came: an
/// error from [`chunk`](Self::chunk) means the answer broke off, and the
/// call must be made again to read it from the start.
pub struct ByteStream {
    operation: &'static str,
    status: u16,
    content_type: Option<String>,
    content_length: Option<u64>,
    body: Option<Body>,
    received: u64,
}

impl ByteStream {
    pub(crate) fn new(
        operation: &'static str,
        status: u16,
        headers: &HeaderMap,
        body: Body,
    ) -> Self {
        let header = |name| {
            headers
                .get(name)
                .and_then(|v: &http::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        ByteStream {
            operation,
            status,
            content_type: header(CONTENT_TYPE),
            content_length: header(CONTENT_LENGTH).and_then(|v| v.trim().parse().ok()),
            body: Some(body),
            received: 0,
        }
    }

    /// The next chunk of the body, as the network delivered it; `Ok(None)`
    /// at its end. After an error or the end, always `Ok(None)`.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, TransportError> {
        let Some(body) = self.body.as_mut() else {
            return Ok(None);
        };
        match body.chunk().await {
            Ok(Some(chunk)) => {
                self.received += chunk.len() as u64;
                Ok(Some(chunk))
            }
            Ok(None) => {
                self.body = None;
                Ok(None)
            }
            Err(error) => {
                self.body = None;
                Err(error)
            }
        }
    }

    /// The answer's `Content-Type` (`text/csv; charset=utf-8`), when sent.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The answer's `Content-Length`, when sent.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The bytes read so far.
    pub fn received(&self) -> u64 {
        self.received
    }
}

impl fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByteStream")
            .field("operation", &self.operation)
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("content_length", &self.content_length)
            .field("received", &self.received)
            .field("done", &self.body.is_none())
            .finish()
    }
}
