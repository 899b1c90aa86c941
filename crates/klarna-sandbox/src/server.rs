//! The transport: a listening socket, its connections, the deadlines and
//! limits that bound them, and the bytes of each answer. It knows nothing
//! of Klarna: it hands each well-formed request to a [`Service`] and writes
//! what comes back, and asks the service to word every refusal (a
//! malformed request, a deadline missed, no room for another connection).
//!
//! One tokio task per connection on a current-thread runtime of its own
//! thread, so the server does not depend on, or disturb, any runtime of the
//! test that starts it. A thread per connection, as before, made every
//! connection cost a thread, so the number served at once had to stay
//! small (64), and beyond it requests were lost; tasks make a limit in the
//! hundreds cheap.
//!
//! The parser is our own (`http.rs`) rather than hyper's server, though
//! hyper is in the tree through reqwest: hyper answers a malformed request
//! itself with a bare `400`, where the sandbox must answer in the error
//! shape of the API the path names, and it has no deadline for a body that
//! grows with its declared length. Our parser is a few hundred lines that
//! the sandbox already had and tested; enabling hyper's `server` feature
//! would instead compile hyper's server code into the hyper of every
//! user's client build (cargo unifies features), to save them.
//!
//! What the transport promises:
//! - No request is dropped unanswered. At most `max_connections` are served
//!   at once; when a new one arrives at the limit, the connection idle the
//!   longest is closed to make room; when none is idle, the newcomer is
//!   answered `503` with `Retry-After: 1` (up to `max_connections` of those
//!   at once), and beyond that connections are not accepted, so they wait
//!   in the kernel's backlog.
//! - Every request has deadlines: its head must arrive within
//!   `head_timeout` of its first byte (of the accept, for a connection's
//!   first request), its body within `body_timeout` plus one second per
//!   `body_bytes_per_second` it declares; a connection idle between
//!   requests is closed after `idle_timeout`. A missed head or body deadline
//!   is answered `408`.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::{sleep, timeout, timeout_at, Instant};

use crate::http::{parse_head, path_so_far, Refusal, Request, Response, CONTINUE};

/// Requests one connection carries before it is closed.
const MAX_REQUESTS_PER_CONNECTION: usize = 100_000;
/// How long writing one answer may take (a client that does not read).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// After an error answer the rest of what the client sends is read away
/// (so closing does not reset the connection and lose the answer), for at
/// most this long and this much.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_DRAIN_BYTES: usize = 4 * 1024 * 1024;
/// How long a turned-away connection's request is read for, to answer it
/// in its API's shape.
const TURN_AWAY_READ: Duration = Duration::from_secs(1);
/// The listening socket's backlog: connections beyond every limit wait
/// here.
const BACKLOG: u32 = 1024;
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 16 * 1024;

/// The transport's bounds. `Sandbox::builder` documents each.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    pub(crate) head_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) body_bytes_per_second: u64,
    pub(crate) idle_timeout: Duration,
}

/// What the transport serves: the router.
pub(crate) trait Service: Send + Sync + 'static {
    /// The answer to one well-formed request.
    fn answer(&self, request: &Request) -> Outcome;
    /// The answer to a request the transport refuses, in the shape of the
    /// API its path belongs to.
    fn refuse(&self, refusal: &Refusal) -> Response;
}

/// What to do with a request that was read.
pub(crate) enum Outcome {
    Respond(Response),
    /// Answer, but only after this long (the delay fault knob).
    RespondAfter(Response, Duration),
    /// Close the connection without answering (the drop fault knob).
    Close,
    /// Answer what this gives, computed on a blocking thread: work that
    /// waits on another server (the checkout completion calling the
    /// merchant) must not hold up the sandbox's own thread.
    Deferred(Box<dyn FnOnce() -> Response + Send>),
}

/// A listening socket whose server thread waits for the service to run:
/// the service may need the bound address (the sandbox puts its URL in
/// `Location` headers) before the first request.
pub(crate) struct Bound {
    addr: SocketAddr,
    stop: watch::Sender<Option<Duration>>,
    service: mpsc::Sender<Arc<dyn Service>>,
    thread: JoinHandle<()>,
}

/// A running server; dropping it stops the server and closes every
/// connection at once, [`Server::shutdown`] gives requests under way time
/// to be answered first.
pub(crate) struct Server {
    /// `None` while serving; then how long requests under way may take.
    stop: watch::Sender<Option<Duration>>,
    thread: Option<JoinHandle<()>>,
}

/// Listens on `bind`, on a thread of its own that serves once given the
/// service.
pub(crate) fn bind(bind: SocketAddr, limits: Limits) -> io::Result<Bound> {
    let (stop, stopped) = watch::channel(None);
    let (ready, listening) = mpsc::channel();
    let (service, given) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("klarna-sandbox".into())
        .spawn(move || run(bind, limits, stopped, &ready, &given))?;
    let addr = match listening.recv() {
        Ok(result) => result?,
        Err(_) => return Err(io::Error::other("the sandbox thread ended at start")),
    };
    Ok(Bound {
        addr,
        stop,
        service,
        thread,
    })
}

impl Bound {
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts serving `service`.
    pub(crate) fn serve(self, service: Arc<dyn Service>) -> Server {
        // If the thread has gone, there is nothing to serve with; dropping
        // the server then joins it at once.
        let _ = self.service.send(service);
        Server {
            stop: self.stop,
            thread: Some(self.thread),
        }
    }
}

impl Server {
    /// Stops accepting, closes idle connections, lets the requests under
    /// way be answered (each with `Connection: close`) for at most
    /// `grace`, then closes every connection and returns.
    pub(crate) fn shutdown(&mut self, grace: Duration) {
        // The first word counts: a later one (the drop's) changes nothing.
        self.stop.send_if_modified(|stop| {
            let first = stop.is_none();
            if first {
                *stop = Some(grace);
            }
            first
        });
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown(Duration::ZERO);
    }
}

/// The server thread: binds, reports the address, waits for the service,
/// accepts until told to stop. Dropping the runtime at the end drops every
/// connection's task, which closes its socket and ends any delayed answer.
fn run(
    bind: SocketAddr,
    limits: Limits,
    stopped: watch::Receiver<Option<Duration>>,
    ready: &mpsc::Sender<io::Result<SocketAddr>>,
    given: &mpsc::Receiver<Arc<dyn Service>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let listener = {
        // Registering the socket needs the runtime's reactor.
        let _context = runtime.enter();
        match listen(bind) {
            Ok(listener) => listener,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        }
    };
    let _ = ready.send(listener.local_addr());
    // `Err`: the sandbox was dropped before it started serving.
    let Ok(service) = given.recv() else {
        return;
    };
    let shared = Arc::new(Shared {
        service,
        limits,
        registry: Mutex::new(Registry::default()),
        busy: AtomicUsize::new(0),
        draining: AtomicBool::new(false),
    });
    // The listener is dropped when `accept` returns: nothing new is
    // accepted while the requests under way drain.
    let grace = runtime.block_on(accept(listener, shared.clone(), stopped));
    runtime.block_on(drain(&shared, grace));
}

/// Lets the requests under way be answered, for at most `grace`: idle
/// connections close at once, busy ones after their answer. Dropping the
/// runtime then closes whatever is left.
async fn drain(shared: &Shared, grace: Duration) {
    shared.draining.store(true, Ordering::SeqCst);
    for slot in lock(&shared.registry).open.values() {
        // Stored as a permit by a busy connection: it closes at its next
        // idle wait, after answering.
        slot.evict.notify_one();
    }
    let deadline = Instant::now() + grace;
    while shared.busy.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        sleep(Duration::from_millis(5)).await;
    }
}

fn listen(bind: SocketAddr) -> io::Result<tokio::net::TcpListener> {
    let socket = if bind.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(bind)?;
    socket.listen(BACKLOG)
}

struct Shared {
    service: Arc<dyn Service>,
    limits: Limits,
    registry: Mutex<Registry>,
    /// Requests read whole and not yet answered.
    busy: AtomicUsize,
    /// Shutting down: answers say `Connection: close`.
    draining: AtomicBool,
}

/// A request under way, counted in [`Shared::busy`] until dropped.
struct Busy<'a>(&'a AtomicUsize);

impl<'a> Busy<'a> {
    fn start(busy: &'a AtomicUsize) -> Self {
        busy.fetch_add(1, Ordering::SeqCst);
        Busy(busy)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The connections being served, and which of them wait idle between
/// requests.
#[derive(Default)]
struct Registry {
    next_id: u64,
    open: HashMap<u64, Slot>,
}

struct Slot {
    /// When it began waiting for its next request; `None` while a request
    /// is under way (or none was sent yet on a new connection).
    idle_since: Option<Instant>,
    evict: Arc<Notify>,
}

/// Locks a mutex even if a thread panicked while holding it: the registry
/// is plain data and stays usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// A place for a new connection: a free one, or the one of the
    /// connection idle the longest, which is told to close. `None` when
    /// every place is busy with a request.
    fn admit(self: &Arc<Self>) -> Option<Admitted> {
        let mut registry = lock(&self.registry);
        if registry.open.len() >= self.limits.max_connections {
            let (&oldest, _) = registry
                .open
                .iter()
                .filter_map(|(id, slot)| slot.idle_since.map(|since| (id, since)))
                .min_by_key(|&(_, since)| since)?;
            if let Some(slot) = registry.open.remove(&oldest) {
                // A permit is stored if the task is not waiting right now;
                // it then closes at its next idle wait, after answering
                // the request it is reading.
                slot.evict.notify_one();
            }
        }
        let id = registry.next_id;
        registry.next_id += 1;
        let evict = Arc::new(Notify::new());
        registry.open.insert(
            id,
            Slot {
                idle_since: None,
                evict: evict.clone(),
            },
        );
        Some(Admitted {
            id,
            evict,
            shared: self.clone(),
        })
    }
}

/// A connection's place in the registry, given back when it ends.
struct Admitted {
    id: u64,
    evict: Arc<Notify>,
    shared: Arc<Shared>,
}

impl Admitted {
    fn set_idle(&self, idle: bool) {
        if let Some(slot) = lock(&self.shared.registry).open.get_mut(&self.id) {
            slot.idle_since = idle.then(Instant::now);
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        lock(&self.shared.registry).open.remove(&self.id);
    }
}

async fn accept(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<Option<Duration>>,
) -> Duration {
    // The grace asked for; also when the sender is gone (no grace then).
    let grace = |stopped: &watch::Receiver<Option<Duration>>| stopped.borrow().unwrap_or_default();
    // One permit per task: served connections and turned-away ones. With
    // none left, nothing is accepted and the kernel's backlog queues.
    let permits = Arc::new(Semaphore::new(
        shared.limits.max_connections.saturating_mul(2),
    ));
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return grace(&stopped),
            },
            _ = stopped.changed() => return grace(&stopped),
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return grace(&stopped),
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors, say: give the system a moment
            // rather than spinning.
            sleep(Duration::from_millis(10)).await;
            continue;
        };
        // Answers are written whole; waiting to coalesce them only adds
        // latency.
        let _ = stream.set_nodelay(true);
        match shared.admit() {
            Some(admitted) => {
                tokio::spawn(serve(stream, admitted, permit));
            }
            None => {
                tokio::spawn(turn_away(stream, shared.clone(), permit));
            }
        }
    }
}

/// Reads what the socket has into `buf`; false when the client closed the
/// connection or it broke.
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let len = buf.len();
    buf.resize(len + READ_CHUNK, 0);
    let read = stream.read(&mut buf[len..]).await;
    let n = read.unwrap_or(0);
    buf.truncate(len + n);
    n > 0
}

/// Serves one connection until the client closes it, asks to close, sends
/// something unreadable, misses a deadline, stays idle too long, or is
/// evicted to make room.
async fn serve(mut stream: TcpStream, admitted: Admitted, _permit: OwnedSemaphorePermit) {
    let limits = admitted.shared.limits;
    let service = admitted.shared.service.clone();
    let mut buf = Vec::with_capacity(READ_CHUNK);
    let mut head_deadline = Instant::now() + limits.head_timeout;
    for served in 0..MAX_REQUESTS_PER_CONNECTION {
        if served > 0 {
            if buf.is_empty() {
                admitted.set_idle(true);
                let more = tokio::select! {
                    // A request that arrived first is served, even if the
                    // connection was picked for eviction meanwhile.
                    biased;
                    more = read_more(&mut stream, &mut buf) => more,
                    () = sleep(limits.idle_timeout) => false,
                    () = admitted.evict.notified() => false,
                };
                admitted.set_idle(false);
                if !more {
                    return;
                }
            }
            head_deadline = Instant::now() + limits.head_timeout;
        }

        let (mut request, used, length) = loop {
            match parse_head(&buf) {
                Ok(Some(parsed)) => break parsed,
                Ok(None) => {}
                Err(refusal) => return refuse(stream, &*service, &refusal).await,
            }
            match timeout_at(head_deadline, read_more(&mut stream, &mut buf)).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(_) => {
                    let refusal = Refusal::new(
                        408,
                        "The request head did not arrive in time.",
                        path_so_far(&buf),
                    );
                    return refuse(stream, &*service, &refusal).await;
                }
            }
        };
        buf.drain(..used);

        if length > buf.len() && request.expects_continue() && !write(&mut stream, CONTINUE).await {
            return;
        }
        let allowance = Duration::from_secs(length as u64 / limits.body_bytes_per_second.max(1));
        let body_deadline = Instant::now() + limits.body_timeout + allowance;
        while buf.len() < length {
            match timeout_at(body_deadline, read_more(&mut stream, &mut buf)).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(_) => {
                    let refusal = Refusal::new(
                        408,
                        "The request body did not arrive in time.",
                        Some(request.path.clone()),
                    );
                    return refuse(stream, &*service, &refusal).await;
                }
            }
        }
        request.body = buf.drain(..length).collect();
        let _busy = Busy::start(&admitted.shared.busy);

        let response = match service.answer(&request) {
            Outcome::Respond(response) => response,
            Outcome::RespondAfter(response, delay) => {
                sleep(delay).await;
                response
            }
            Outcome::Close => return,
            Outcome::Deferred(work) => match tokio::task::spawn_blocking(work).await {
                Ok(response) => response,
                Err(_) => Response::empty(500),
            },
        };
        // The last request a connection may carry says so, so the client
        // does not send another into a closing socket; so does every
        // answer once the sandbox is shutting down.
        let keep_alive = request.wants_keep_alive()
            && served + 1 < MAX_REQUESTS_PER_CONNECTION
            && !admitted.shared.draining.load(Ordering::SeqCst);
        if !write(&mut stream, &response.to_bytes(keep_alive)).await {
            return;
        }
        if !keep_alive {
            return close_gracefully(stream).await;
        }
    }
}

/// Answers a connection there is no room for: `503` with `Retry-After`,
/// in the shape of the API its request names, if it names one within a
/// second.
async fn turn_away(mut stream: TcpStream, shared: Arc<Shared>, _permit: OwnedSemaphorePermit) {
    let deadline = Instant::now() + TURN_AWAY_READ;
    let mut buf = Vec::new();
    let path = loop {
        match parse_head(&buf) {
            Ok(Some((request, _, _))) => break Some(request.path),
            Err(refusal) => break refusal.path,
            Ok(None) => {}
        }
        match timeout_at(deadline, read_more(&mut stream, &mut buf)).await {
            Ok(true) => {}
            Ok(false) | Err(_) => break path_so_far(&buf),
        }
    };
    let refusal = Refusal::new(
        503,
        "The sandbox is serving as many connections as it is configured to; retry in a second.",
        path,
    );
    refuse(stream, &*shared.service, &refusal).await;
}

/// Writes the service's answer to a refused request and closes.
async fn refuse(mut stream: TcpStream, service: &dyn Service, refusal: &Refusal) {
    let mut response = service.refuse(refusal);
    if refusal.status == 503 {
        response.headers.push(("Retry-After", "1".to_owned()));
    }
    if write(&mut stream, &response.to_bytes(false)).await {
        close_gracefully(stream).await;
    }
}

async fn write(stream: &mut TcpStream, bytes: &[u8]) -> bool {
    matches!(
        timeout(WRITE_TIMEOUT, stream.write_all(bytes)).await,
        Ok(Ok(()))
    )
}

/// Closing a socket with unread bytes makes the kernel reset the
/// connection, and the client may lose the answer just written. So say
/// we are done, and read away what the client still sends, within bounds.
async fn close_gracefully(mut stream: TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut sink = vec![0u8; READ_CHUNK];
        let mut drained = 0;
        while drained < MAX_DRAIN_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(n) => drained += n,
            }
        }
    };
    let _ = timeout(DRAIN_TIMEOUT, drain).await;
}
