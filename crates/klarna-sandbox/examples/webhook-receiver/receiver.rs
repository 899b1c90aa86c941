//! A webhook receiver as a merchant writes one, on `std::net`: it verifies
//! every delivery with `WebhookEvent::verify` before reading it, answers a
//! refused one with 400, tells repeats from new events by `event_id`
//! (`SeenEvents`), and acknowledges with 200. The end-to-end tests use it
//! too (`tests/webhooks.rs`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use klarna_models::payment_api::webhooks::{
    SeenEvents, SigningKeys, WebhookEvent, SIGNATURE_HEADER, SIGNING_KEY_ID_HEADER,
};

const MAX_HEAD_BYTES: u64 = 16 * 1024;
const MAX_BODY_BYTES: usize = 1024 * 1024;
const MAX_CONNECTIONS: usize = 100_000;
/// Event ids remembered: far more than a test or a demo sends.
const SEEN_CAPACITY: usize = 10_000;

/// What the receiver saw, for the caller to read.
#[derive(Default)]
pub struct Received {
    /// Verified events handled for the first time, in arrival order.
    pub events: Vec<WebhookEvent>,
    /// The `event_id`s of verified repeats, acknowledged and not handled.
    pub duplicates: Vec<String>,
    /// Why each refused delivery was refused (answered 400).
    pub refused: Vec<String>,
}

struct State {
    keys: SigningKeys,
    seen: SeenEvents,
    received: Received,
    /// Answer this many new events with 500 after handling them, as a
    /// receiver that crashed before acknowledging would.
    fail_next: usize,
    stopping: bool,
}

/// A running receiver on `127.0.0.1`; dropping it stops it.
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<(Mutex<State>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Receiver {
    pub fn start(keys: SigningKeys) -> std::io::Result<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new((
            Mutex::new(State {
                keys,
                seen: SeenEvents::with_capacity(SEEN_CAPACITY),
                received: Received::default(),
                fail_next: 0,
                stopping: false,
            }),
            Condvar::new(),
        ));
        let thread = {
            let state = state.clone();
            std::thread::Builder::new()
                .name("webhook-receiver".into())
                .spawn(move || {
                    for _ in 0..MAX_CONNECTIONS {
                        let Ok((stream, _)) = listener.accept() else {
                            continue;
                        };
                        if lock(&state.0).stopping {
                            return;
                        }
                        serve(stream, &state);
                    }
                })?
        };
        Ok(Receiver {
            addr,
            state,
            thread: Some(thread),
        })
    }

    /// The URL to create the webhook with.
    pub fn url(&self) -> String {
        format!("http://{}/klarna/webhooks", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn fail_next(&self, count: usize) {
        lock(&self.state.0).fail_next = count;
    }

    /// Waits until `done` holds for what was received, or `timeout`
    /// passed; whether it holds.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&Received) -> bool) -> bool {
        let (state, changed) = &*self.state;
        let state = lock(state);
        let (state, _) = changed
            .wait_timeout_while(state, timeout, |state| !done(&state.received))
            .unwrap_or_else(PoisonError::into_inner);
        done(&state.received)
    }

    /// Reads what was received.
    pub fn received<T>(&self, read: impl FnOnce(&Received) -> T) -> T {
        read(&lock(&self.state.0).received)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        lock(&self.state.0).stopping = true;
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request and answers it; a request that cannot be read is
/// dropped.
fn serve(stream: TcpStream, state: &(Mutex<State>, Condvar)) {
    let timeout = Some(Duration::from_secs(2));
    if stream.set_read_timeout(timeout).is_err() || stream.set_write_timeout(timeout).is_err() {
        return;
    }
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let Some((headers, body)) = read_request(&mut reader) else {
        return;
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let status = {
        let (state, changed) = state;
        let mut state = lock(state);
        let state = &mut *state;
        // Verify first: nothing of an unverified body is read.
        let status = match WebhookEvent::verify(
            &body,
            header(SIGNATURE_HEADER),
            header(SIGNING_KEY_ID_HEADER),
            &state.keys,
        ) {
            Err(refused) => {
                state.received.refused.push(refused.to_string());
                400
            }
            Ok(event) if !state.seen.insert(&event.metadata.event_id) => {
                state.received.duplicates.push(event.metadata.event_id);
                200
            }
            Ok(event) => {
                state.received.events.push(event);
                if state.fail_next > 0 {
                    state.fail_next -= 1;
                    500
                } else {
                    200
                }
            }
        };
        changed.notify_all();
        status
    };
    let mut writer = stream;
    let _ = write!(
        writer,
        "HTTP/1.1 {status} {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        if status == 200 { "OK" } else { "Refused" }
    );
}

/// A request's headers (name, value) and its body.
type Incoming = (Vec<(String, String)>, Vec<u8>);

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Incoming> {
    let mut head = reader.by_ref().take(MAX_HEAD_BYTES);
    let mut line = String::new();
    head.read_line(&mut line).ok()?;
    if !line.starts_with("POST ") {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        line.clear();
        head.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())?;
    if length > MAX_BODY_BYTES {
        return None;
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((headers, body))
}
