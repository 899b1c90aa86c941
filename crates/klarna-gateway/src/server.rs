//! The gateway's HTTP/1.1 server: [`serve`] runs a router (either
//! adapter's) on hyper within [`ServeLimits`], and every connection it
//! accepts is answered. A request head must arrive in whole within a
//! deadline (408 otherwise) and within a size (431), connections past a
//! count get 503 at once, and shutdown waits a bounded time for requests in
//! flight.

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::StatusCode;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// The bounds of the HTTP server: how long and how large a request head may
/// be, how many connections are served at once, and how long shutdown waits.
#[derive(Clone, Debug)]
pub struct ServeLimits {
    /// How long a client has to send a whole request head, counted from
    /// when the server starts waiting for one (on a new connection, or
    /// after the previous response on a kept-alive one). A client that had
    /// sent part of a head by then gets 408; an idle one is closed.
    pub header_read_timeout: Duration,
    /// The largest request head (request line and headers) accepted; a
    /// larger one gets 431. Values under 8 KiB, hyper's smallest read
    /// buffer, count as 8 KiB.
    pub max_head_bytes: usize,
    /// Connections served at once; each one past it is answered 503 at
    /// once and closed.
    pub max_connections: usize,
    /// How long requests in flight at shutdown may take to finish; any
    /// connection still open then (an SSE stream, say) is dropped.
    pub shutdown_grace: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: Duration::from_secs(10),
            max_head_bytes: 16 * 1024,
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// hyper refuses (by panicking) a read buffer smaller than this.
const MIN_HEAD_BYTES: usize = 8 * 1024;
/// How long an answer the server writes itself (408, 503) may take to be
/// written, and how long the server then reads what the client still
/// sends before closing: closing a socket with unread input resets the
/// connection, and a reset can destroy an answer the client has not read
/// yet.
const LINGER: Duration = Duration::from_secs(1);
/// The pause after a failed accept (out of file descriptors, say), so the
/// loop neither ends nor spins while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` with the default [`ServeLimits`] until
/// `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, ServeLimits::default(), shutdown).await
}

/// Serves `router` on `listener` over HTTP/1.1 within `limits` until
/// `shutdown` completes, then stops accepting, lets the requests in flight
/// finish within [`ServeLimits::shutdown_grace`] and returns. A failed
/// accept is logged to standard error and retried after a pause, never
/// returned; the `Result` is `Ok` today.
///
/// hyper drives each connection directly rather than through
/// `axum::serve`, which sets no head deadline: a client sending a byte a
/// second would hold a connection, unanswered, forever.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_head_bytes.max(MIN_HEAD_BYTES));
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.min(Semaphore::MAX_PERMITS),
    ));
    let (stop, stopping) = watch::channel(());
    // Every connection's task, so that shutdown can wait for them and then
    // end the ones left.
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            // Reaps finished tasks, so the set holds live connections only.
            Some(_) = connections.join_next() => continue,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
        };
        // Small responses and SSE events go out at once, not after the
        // client's delayed acknowledgement.
        let _ = stream.set_nodelay(true);
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let connection = serve_connection(
                    stream,
                    http.clone(),
                    router.clone(),
                    stopping.clone(),
                    limits.header_read_timeout,
                );
                connections.spawn(async move {
                    connection.await;
                    drop(slot);
                });
            }
            Err(_) => {
                let refusal = error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "retry-after: 1\r\n",
                    "SERVICE_UNAVAILABLE",
                    &format!(
                        "the gateway is serving its limit of {} connections; retry shortly",
                        limits.max_connections
                    ),
                );
                connections.spawn(async move {
                    let mut stream = stream;
                    answer_and_close(&mut stream, &refusal).await;
                });
            }
        }
    }
    drop(listener);
    // Connections finish the request they are serving and close.
    let _ = stop.send(());
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        eprintln!(
            "klarna-gateway: {} connections still open after {:?}, closing them",
            connections.len(),
            limits.shutdown_grace
        );
    }
    connections.shutdown().await;
    Ok(())
}

/// Serves one connection until it closes, errs or times out.
async fn serve_connection(
    mut stream: TcpStream,
    http: http1::Builder,
    router: Router,
    mut stopping: watch::Receiver<()>,
    header_read_timeout: Duration,
) {
    let unanswered = AtomicBool::new(false);
    let result = {
        let io = TokioIo::new(Watched {
            stream: &mut stream,
            unanswered: &unanswered,
        });
        let mut connection = pin!(http.serve_connection(io, TowerToHyperService::new(router)));
        let mut stop_seen = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => break result,
                // Also when the sender is gone: the server is stopping.
                _ = stopping.changed(), if !stop_seen => {
                    stop_seen = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    };
    match result {
        // hyper closes a connection whose head is late without a word.
        // One that had started a request gets an answer; an idle
        // kept-alive one, which owes nothing, is just closed.
        Err(error) if error.is_timeout() => {
            if unanswered.load(Ordering::Relaxed) {
                let timeout = error_response(
                    StatusCode::REQUEST_TIMEOUT,
                    "",
                    "REQUEST_TIMEOUT",
                    &format!("the request head did not arrive within {header_read_timeout:?}"),
                );
                answer_and_close(&mut stream, &timeout).await;
            }
        }
        // hyper has written its answer (400 or 431 on a bad head, or the
        // response to a request whose body it did not read): let it reach
        // the client.
        _ => linger(&mut stream).await,
    }
}

/// A stream that notes whether request bytes arrived since the server
/// last wrote, which tells a started request from an idle connection when
/// the head deadline passes. (Bytes of a pipelined request that arrive
/// before the previous response is written count as answered.)
struct Watched<'a> {
    stream: &'a mut TcpStream,
    unanswered: &'a AtomicBool,
}

impl AsyncRead for Watched<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut *this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.unanswered.store(true, Ordering::Relaxed);
        }
        polled
    }
}

impl AsyncWrite for Watched<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut *this.stream).poll_write(cx, buf);
        this.answered(&polled);
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut *this.stream).poll_write_vectored(cx, bufs);
        this.answered(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().stream).poll_shutdown(cx)
    }
}

impl Watched<'_> {
    fn answered(&self, polled: &Poll<io::Result<usize>>) {
        if matches!(polled, Poll::Ready(Ok(n)) if *n > 0) {
            self.unanswered.store(false, Ordering::Relaxed);
        }
    }
}

/// A whole HTTP/1.1 response in Klarna's error shape, closing the
/// connection. `extra_headers` are complete lines, each ending in CRLF.
fn error_response(status: StatusCode, extra_headers: &str, code: &str, message: &str) -> Vec<u8> {
    let body = crate::http::error_body(code, message).to_string();
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n{extra_headers}\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes()
}

/// Writes `response` (within [`LINGER`]) and closes the connection.
async fn answer_and_close(stream: &mut TcpStream, response: &[u8]) {
    if let Ok(Ok(())) = tokio::time::timeout(LINGER, stream.write_all(response)).await {
        linger(stream).await;
    }
}

/// Ends the server's side of the connection, then reads and drops what the
/// client still sends, for at most [`LINGER`], so that the close does not
/// reset the connection before the client has read the answer.
async fn linger(stream: &mut TcpStream) {
    let _ = stream.shutdown().await;
    let mut scratch = [0u8; 4096];
    let _ = tokio::time::timeout(LINGER, async {
        while let Ok(n) = stream.read(&mut scratch).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// Logs a failed accept and pauses, unless the failure was a client's
/// connection that went away before it was accepted.
async fn accept_failed(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    eprintln!("klarna-gateway: accepting a connection failed ({error}); retrying shortly");
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}
