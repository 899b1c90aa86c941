//! The one place the client meets the network: everything above it
//! (building requests, retries, the retry budget, idempotency keys, the body
//! limit, decoding, tracing) is the same whether the bytes go to Klarna
//! through reqwest or, with the `test-util` feature, to a scripted stand-in
//! (the mock, which implements [`Scripted`]).
//!
//! An enum rather than a trait object: the network path keeps its plain
//! `async fn`s without boxing a future per attempt. Only the scripted case
//! is a trait object, so that this module need not know the mock (the mock
//! builds on the types here, not the other way round).

#[cfg(feature = "test-util")]
use std::collections::VecDeque;
#[cfg(feature = "test-util")]
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::error::TransportError;
use crate::upload::RequestBody;

/// One request as the client would put it on the wire; every attempt sends
/// this same request.
pub(crate) struct Request {
    pub(crate) operation: &'static str,
    /// The operation's idempotency header, for a scripted transport's
    /// recording.
    #[cfg_attr(not(feature = "test-util"), allow(dead_code))]
    pub(crate) idempotency_header: Option<&'static str>,
    pub(crate) method: Method,
    /// The full URL: base URL, path, query.
    pub(crate) url: String,
    /// Where the path starts in `url` (the base URL's length).
    #[cfg_attr(not(feature = "test-util"), allow(dead_code))]
    pub(crate) path_start: usize,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<RequestBody>,
}

pub(crate) enum Transport {
    Http(reqwest::Client),
    #[cfg(feature = "test-util")]
    Scripted(Arc<dyn Scripted>),
}

/// A transport that answers from a script, on a clock of its own.
#[cfg(feature = "test-util")]
pub(crate) trait Scripted: Send + Sync {
    /// Answers one attempt at once; a delay the script sets only moves the
    /// clock on.
    /// `body` is the request's body as this attempt sent it.
    fn answer(&self, request: &Request, body: &[u8], timeout: Duration) -> Result<Head, SendError>;
    fn now(&self) -> Instant;
    fn advance(&self, wait: Duration);
}

/// Why an attempt got no status line.
pub(crate) enum SendError {
    /// Nothing left the machine.
    NotSent(TransportError),
    /// Sent, no answer: it may have reached Klarna.
    Lost(TransportError),
    /// A scripted transport with nothing scripted for the request: not retried, so that
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
    Buffered(Buffered),
}

/// A body held whole in memory: sent as one chunk, or its first half and
/// then a broken connection.
#[cfg(feature = "test-util")]
pub(crate) struct Buffered {
    chunks: VecDeque<Bytes>,
    cut_off: bool,
}

#[cfg(feature = "test-util")]
impl Buffered {
    pub(crate) fn new(body: Vec<u8>, cut_off: bool) -> Self {
        let mut body = Bytes::from(body);
        let mut chunks = VecDeque::new();
        if cut_off {
            body.truncate(body.len() / 2);
        }
        if !body.is_empty() {
            chunks.push_back(body);
        }
        Buffered { chunks, cut_off }
    }

    fn chunk(&mut self) -> Result<Option<Bytes>, TransportError> {
        match self.chunks.pop_front() {
            Some(chunk) => Ok(Some(chunk)),
            None if self.cut_off => Err(TransportError::connection_lost()),
            None => Ok(None),
        }
    }
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
                    // Bytes: each attempt shares the one copy of the body. A
                    // one-time stream is there for the first attempt only;
                    // the retry rules never make a second.
                    let Some(body) = body.for_attempt() else {
                        return Err(SendError::NotSent(TransportError::invalid_request(
                            "the streamed body was sent by an earlier attempt",
                        )));
                    };
                    builder = builder.body(body.into_reqwest());
                }
                let mut response = builder.send().await.map_err(classify)?;
                Ok(Head {
                    status: response.status().as_u16(),
                    headers: std::mem::take(response.headers_mut()),
                    body: Body::Http(response),
                })
            }
            #[cfg(feature = "test-util")]
            Transport::Scripted(script) => {
                let body = match request.body.as_ref().map(RequestBody::for_attempt) {
                    None => Bytes::new(),
                    Some(None) => {
                        return Err(SendError::NotSent(TransportError::invalid_request(
                            "the streamed body was sent by an earlier attempt",
                        )))
                    }
                    Some(Some(body)) => body.collect().await.map_err(|e| {
                        SendError::Lost(TransportError::connection_lost().with_source(e))
                    })?,
                };
                script.answer(request, &body, timeout)
            }
        }
    }

    /// The clock the call's deadline is measured on: the mock's is virtual.
    pub(crate) fn now(&self) -> Instant {
        match self {
            Transport::Http(_) => Instant::now(),
            #[cfg(feature = "test-util")]
            Transport::Scripted(script) => script.now(),
        }
    }

    /// Waits between attempts; the mock only moves its clock on.
    pub(crate) async fn sleep(&self, wait: Duration) {
        match self {
            Transport::Http(_) => tokio::time::sleep(wait).await,
            #[cfg(feature = "test-util")]
            Transport::Scripted(script) => script.advance(wait),
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
            Body::Buffered(body) => body.chunk(),
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
