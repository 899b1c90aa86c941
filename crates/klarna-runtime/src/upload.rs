//! [`Upload`]: a binary request body, held in memory or streamed.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;

/// The error a streamed body may end with; the call then fails with it as a
/// transport error, and what was sent may have reached the server.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The chunks of a streamed body, their error type erased.
pub(crate) type Chunks = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>;

/// A binary request body (`application/octet-stream`, `image/png`):
/// operations of a document of others whose request body is raw bytes take
/// one (`cargo xtask generate`).
///
/// Bytes in memory (`&[u8]`, `Vec<u8>`, [`Bytes`]) convert into one with
/// `into()`, and a call that is safe to repeat sends them again on a retry.
/// A body too large to hold is streamed, one of two ways:
///
/// - [`Upload::stream`] sends a stream's chunks once. The stream is read as
///   it is sent, so there is nothing to send again: such a call is never
///   retried once an attempt took the stream, whatever the retry policy and
///   idempotency key say.
/// - [`Upload::replayable`] takes a function that makes the stream anew
///   (opens the file again, say): each attempt gets a fresh one, and the
///   call is retried as a call with a body in memory would be.
///
/// ```
/// use klarna_runtime::bytes::Bytes;
/// use klarna_runtime::Upload;
///
/// let in_memory = Upload::from(vec![0x89, b'P', b'N', b'G']);
/// assert!(in_memory.is_replayable());
///
/// // Any `Stream` of `Result<Bytes, E>`: a file read in chunks, say.
/// struct Chunks(Vec<Bytes>);
/// # impl futures_core::Stream for Chunks {
/// #     type Item = Result<Bytes, std::io::Error>;
/// #     fn poll_next(mut self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>)
/// #         -> std::task::Poll<Option<Self::Item>> {
/// #         std::task::Poll::Ready(self.0.pop().map(Ok))
/// #     }
/// # }
/// let once = Upload::stream(Chunks(vec![Bytes::from_static(b"part")]));
/// assert!(!once.is_replayable());
/// let again = Upload::replayable(|| Chunks(vec![Bytes::from_static(b"part")]));
/// assert!(again.is_replayable());
/// ```
///
/// A clone shares a one-time stream: whichever call sends first takes it,
/// and a second call with it is not sent. `Debug` shows the size or the
/// kind of stream, never the contents.
#[derive(Clone)]
pub struct Upload<'a> {
    source: Source<'a>,
}

#[derive(Clone)]
enum Source<'a> {
    Borrowed(&'a [u8]),
    Owned(Bytes),
    /// Taken by the first call that sends it.
    Once(Arc<Mutex<Option<Chunks>>>),
    Replayable(Arc<dyn Fn() -> Chunks + Send + Sync>),
}

impl Upload<'static> {
    /// A body read from `stream` as it is sent, once (see the type's docs).
    pub fn stream<S, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Upload {
            source: Source::Once(Arc::new(Mutex::new(Some(erase(stream))))),
        }
    }

    /// A streamed body that `make` can produce again for each attempt (see
    /// the type's docs).
    pub fn replayable<F, S, E>(make: F) -> Self
    where
        F: Fn() -> S + Send + Sync + 'static,
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Upload {
            source: Source::Replayable(Arc::new(move || erase(make()))),
        }
    }
}

impl Upload<'_> {
    /// Whether a retry can send the body again: bytes in memory and
    /// [`Upload::replayable`] streams can, an [`Upload::stream`] cannot.
    pub fn is_replayable(&self) -> bool {
        !matches!(self.source, Source::Once(_))
    }

    /// The body for a request: bytes are copied or shared, a one-time
    /// stream is taken (`None` when an earlier call took it).
    pub(crate) fn take(&self) -> Option<RequestBody> {
        Some(match &self.source {
            Source::Borrowed(bytes) => RequestBody::Bytes(Bytes::copy_from_slice(bytes)),
            Source::Owned(bytes) => RequestBody::Bytes(bytes.clone()),
            Source::Once(slot) => {
                let chunks = slot.lock().unwrap_or_else(PoisonError::into_inner).take()?;
                RequestBody::Once(Mutex::new(Some(chunks)))
            }
            Source::Replayable(make) => RequestBody::Replayable(make.clone()),
        })
    }
}

impl<'a> From<&'a [u8]> for Upload<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Upload {
            source: Source::Borrowed(bytes),
        }
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Upload<'a> {
    fn from(bytes: &'a [u8; N]) -> Self {
        Upload::from(&bytes[..])
    }
}

impl<'a> From<&'a Vec<u8>> for Upload<'a> {
    fn from(bytes: &'a Vec<u8>) -> Self {
        Upload::from(bytes.as_slice())
    }
}

impl From<Vec<u8>> for Upload<'static> {
    fn from(bytes: Vec<u8>) -> Self {
        Upload::from(Bytes::from(bytes))
    }
}

impl From<Bytes> for Upload<'static> {
    fn from(bytes: Bytes) -> Self {
        Upload {
            source: Source::Owned(bytes),
        }
    }
}

impl fmt::Debug for Upload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Borrowed(bytes) => write!(f, "Upload({} bytes)", bytes.len()),
            Source::Owned(bytes) => write!(f, "Upload({} bytes)", bytes.len()),
            Source::Once(_) => f.write_str("Upload(stream, sent once)"),
            Source::Replayable(_) => f.write_str("Upload(stream, replayable)"),
        }
    }
}

/// A request's body as the transport sends it, attempt by attempt.
pub(crate) enum RequestBody {
    /// In memory: every attempt shares the one copy.
    Bytes(Bytes),
    /// Taken by the first attempt; nothing is left for a second.
    Once(Mutex<Option<Chunks>>),
    /// Made anew for each attempt.
    Replayable(Arc<dyn Fn() -> Chunks + Send + Sync>),
}

impl RequestBody {
    /// Whether a later attempt can send the body again.
    pub(crate) fn is_replayable(&self) -> bool {
        !matches!(self, RequestBody::Once(_))
    }

    /// This attempt's body: `None` when a one-time stream was taken by an
    /// earlier attempt.
    pub(crate) fn for_attempt(&self) -> Option<AttemptBody> {
        Some(match self {
            RequestBody::Bytes(bytes) => AttemptBody::Bytes(bytes.clone()),
            RequestBody::Once(slot) => {
                AttemptBody::Stream(slot.lock().unwrap_or_else(PoisonError::into_inner).take()?)
            }
            RequestBody::Replayable(make) => AttemptBody::Stream(make()),
        })
    }
}

/// One attempt's body.
pub(crate) enum AttemptBody {
    Bytes(Bytes),
    Stream(Chunks),
}

impl AttemptBody {
    /// For reqwest: bytes as they are, a stream as an `http_body::Body`
    /// (sent with `Transfer-Encoding: chunked`).
    pub(crate) fn into_reqwest(self) -> reqwest::Body {
        match self {
            AttemptBody::Bytes(bytes) => reqwest::Body::from(bytes),
            AttemptBody::Stream(chunks) => reqwest::Body::wrap(StreamBody(Mutex::new(chunks))),
        }
    }

    /// The whole body, read (for the mock, which records what was sent).
    #[cfg(feature = "test-util")]
    pub(crate) async fn collect(self) -> Result<Bytes, BoxError> {
        match self {
            AttemptBody::Bytes(bytes) => Ok(bytes),
            AttemptBody::Stream(mut chunks) => {
                let mut all = Vec::new();
                while let Some(chunk) =
                    std::future::poll_fn(|cx| chunks.as_mut().poll_next(cx)).await
                {
                    all.extend_from_slice(&chunk?);
                }
                Ok(Bytes::from(all))
            }
        }
    }
}

/// A stream as an HTTP body. The `Mutex` only makes it `Sync`, as reqwest
/// asks; polling has `&mut` and never locks.
struct StreamBody(Mutex<Chunks>);

impl http_body::Body for StreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let chunks = self
            .get_mut()
            .0
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        chunks
            .as_mut()
            .poll_next(cx)
            .map(|chunk| chunk.map(|chunk| chunk.map(http_body::Frame::data)))
    }
}

fn erase<S, E>(stream: S) -> Chunks
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<BoxError>,
{
    Box::pin(Erased(Box::pin(stream)))
}

/// A stream whose error is boxed.
struct Erased<S>(Pin<Box<S>>);

impl<S, E> Stream for Erased<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Into<BoxError>,
{
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0
            .as_mut()
            .poll_next(cx)
            .map(|item| item.map(|chunk| chunk.map_err(Into::into)))
    }
}
