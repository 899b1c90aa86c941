//! The one place the client meets the network: everything above it
//! (building requests, retries, the retry budget, idempotency keys, the body
//! limit, decoding, tracing) is the same whether the bytes go to Klarna
//! through reqwest or, with the `test-util` feature, to a
//! [`Mock`](crate::mock::Mock).
//!
//! An enum rather than a trait object: two cases, known here, and the call
//! path keeps its plain `async fn`s without boxing a future per attempt.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::error::TransportError;

/// One request as the client would put it on the wire; every attempt sends
/// this same request.
pub(crate) struct Request {
    pub(crate) operation: &'static str,
    /// The operation's idempotency header, for the mock's recording.
    #[cfg_attr(not(feature = "test-util"), allow(dead_code))]
    pub(crate) idempotency_header: Option<&'static str>,
    pub(crate) method: Method,
    /// The full URL: base URL, path, query.
    pub(crate) url: String,
    /// Where the path starts in `url` (the base URL's length).
    #[cfg_attr(not(feature = "test-util"), allow(dead_code))]
    pub(crate) path_start: usize,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
}

pub(crate) enum Transport {
    Http(reqwest::Client),
    #[cfg(feature = "test-util")]
    Mock(crate::mock::Mock),
}

/// Why an attempt got no status line.
pub(crate) enum SendError {
    /// Nothing left the machine.
    NotSent(TransportError),
    /// Sent, no answer: it may have reached Klarna.
    Lost(TransportError),
    /// A mock with nothing scripted for the request: not retried, so that
    /// the test sees the message at once.
    #[cfg(feature = "test-util")]
    Unscripted(String),
}

/// A status line and headers; the body still to read.
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
}

pub(crate) enum Body {
    Http(reqwest::Response),
    #[cfg(feature = "test-util")]
    Mock(crate::mock::MockBody),
}

impl Transport {
    /// Sends one attempt; `timeout` covers it from sending to the last byte
    /// of the body.
    pub(crate) async fn send(
        &self,
        request: &Request,
        timeout: Duration,
    ) -> Result<Head, SendError> {
        match self {
            Transport::Http(http) => {
                let mut builder = http
                    .request(request.method.clone(), &request.url)
                    .headers(request.headers.clone())
                    .timeout(timeout);
                if let Some(body) = &request.body {
                    // `Bytes`: each attempt shares the one copy of the body.
                    builder = builder.body(body.clone());
                }
                let mut response = builder.send().await.map_err(classify)?;
                Ok(Head {
                    status: response.status().as_u16(),
                    headers: std::mem::take(response.headers_mut()),
                    body: Body::Http(response),
                })
            }
            #[cfg(feature = "test-util")]
            Transport::Mock(mock) => mock.answer(request, timeout),
        }
    }

    /// The clock the call's deadline is measured on: the mock's is virtual.
    pub(crate) fn now(&self) -> Instant {
        match self {
            Transport::Http(_) => Instant::now(),
            #[cfg(feature = "test-util")]
            Transport::Mock(mock) => mock.now(),
        }
    }

    /// Waits between attempts; the mock only moves its clock on.
    pub(crate) async fn sleep(&self, wait: Duration) {
        match self {
            Transport::Http(_) => tokio::time::sleep(wait).await,
            #[cfg(feature = "test-util")]
            Transport::Mock(mock) => mock.advance(wait),
        }
    }
}

impl Body {
    pub(crate) async fn chunk(&mut self) -> Result<Option<Bytes>, TransportError> {
        match self {
            Body::Http(response) => response.chunk().await.map_err(|e| {
                let error = if e.is_timeout() {
                    TransportError::timeout()
                } else {
                    TransportError::connection_lost()
                };
                error.with_source(e)
            }),
            #[cfg(feature = "test-util")]
            Body::Mock(body) => body.chunk(),
        }
    }
}

/// Sorts reqwest's errors by what reached the network. A connect error
/// (DNS, refused, connect timeout, TLS handshake) happens before a byte of
/// the request is written; anything else after sending began.
///
/// The URL is taken out of the error: an API key may travel in the query.
fn classify(e: reqwest::Error) -> SendError {
    let e = e.without_url();
    if e.is_builder() {
        SendError::NotSent(
            TransportError::invalid_request("reqwest refused the request").with_source(e),
        )
    } else if e.is_connect() {
        let error = if e.is_timeout() {
            TransportError::connect_timeout()
        } else {
            TransportError::connect_failed()
        };
        SendError::NotSent(error.with_source(e))
    } else if e.is_timeout() {
        SendError::Lost(TransportError::timeout().with_source(e))
    } else {
        SendError::Lost(TransportError::connection_lost().with_source(e))
    }
}
