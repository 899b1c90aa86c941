//! Sends the signed webhook events: one thread per sandbox, a hand-written
//! HTTP/1.1 `POST` over `std::net` to `127.0.0.1` only, retried on a
//! non-2xx answer or an unreachable receiver after short, configurable
//! delays, and a log of every attempt that tests read.
//!
//! Like Klarna, the sandbox counts 200, 201, 202 and 204 as delivered and
//! retries anything else; unlike Klarna (growing delays for up to 12 hours)
//! its delays are milliseconds, so a test sees the retries.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use klarna_models::notifications::{SigningKeyId, WebhookId};

use crate::util::lock;

/// The delays before the second, third, ... attempt, unless a test sets
/// others with `Sandbox::set_webhook_retry_delays`.
const DEFAULT_DELAYS: [Duration; 4] = [
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(400),
];
/// Bounds: retries per event, each delay, events waiting, attempts logged.
pub(crate) const MAX_RETRIES: usize = 10;
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(10);
const MAX_PENDING: usize = 10_000;
const MAX_LOGGED: usize = 10_000;
/// How long one attempt may take: connecting, and waiting for the status.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// One signed event on its way to one webhook.
#[derive(Clone)]
pub(crate) struct Outgoing {
    pub(crate) webhook_id: WebhookId,
    pub(crate) target: SocketAddr,
    pub(crate) path: String,
    pub(crate) body: Vec<u8>,
    pub(crate) signature: String,
    pub(crate) signing_key_id: SigningKeyId,
    pub(crate) event_id: String,
    pub(crate) event_type: String,
}

/// One attempt to deliver a webhook event, as the sandbox made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub webhook_id: WebhookId,
    /// The `event_id` of the event's metadata; the same on every retry.
    pub event_id: String,
    pub event_type: String,
    /// `http://127.0.0.1:PORT/PATH`.
    pub url: String,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: usize,
    /// When the attempt started.
    pub at: SystemTime,
    /// The receiver's status; `None` when it could not be reached or gave
    /// no readable answer in time.
    pub status: Option<u16>,
    /// Whether the status counts as delivered (200, 201, 202 or 204).
    pub delivered: bool,
    /// The body sent, exactly as signed.
    pub body: Vec<u8>,
    /// `Klarna-Signature` (hex HMAC-SHA256 of the body).
    pub signature: String,
    /// `Klarna-Signing-Key-Id`.
    pub signing_key_id: SigningKeyId,
}

struct Log {
    attempts: Mutex<Vec<WebhookDelivery>>,
    /// Signalled after every attempt.
    changed: Condvar,
    delays: Mutex<Vec<Duration>>,
}

/// The sender thread and what it shares with the sandbox.
pub(crate) struct Deliveries {
    queue: Mutex<Option<Sender<Outgoing>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    log: Arc<Log>,
}

impl Deliveries {
    pub(crate) fn start() -> std::io::Result<Self> {
        let (queue, events) = mpsc::channel();
        let log = Arc::new(Log {
            attempts: Mutex::new(Vec::new()),
            changed: Condvar::new(),
            delays: Mutex::new(DEFAULT_DELAYS.to_vec()),
        });
        let thread = {
            let log = log.clone();
            std::thread::Builder::new()
                .name("klarna-sandbox-webhooks".into())
                .spawn(move || run(&events, &log))?
        };
        Ok(Deliveries {
            queue: Mutex::new(Some(queue)),
            thread: Mutex::new(Some(thread)),
            log,
        })
    }

    pub(crate) fn send(&self, outgoing: Vec<Outgoing>) {
        if let Some(queue) = lock(&self.queue).as_ref() {
            for event in outgoing {
                // The thread is gone only when the sandbox stops.
                let _ = queue.send(event);
            }
        }
    }

    pub(crate) fn set_delays(&self, delays: &[Duration]) {
        *lock(&self.log.delays) = delays
            .iter()
            .take(MAX_RETRIES)
            .map(|delay| (*delay).min(MAX_DELAY))
            .collect();
    }

    pub(crate) fn attempts(&self) -> Vec<WebhookDelivery> {
        lock(&self.log.attempts).clone()
    }

    /// Waits until `count` attempts are logged or `timeout` has passed, and
    /// returns the attempts logged by then.
    pub(crate) fn wait_for(&self, count: usize, timeout: Duration) -> Vec<WebhookDelivery> {
        let attempts = lock(&self.log.attempts);
        let (attempts, _) = self
            .log
            .changed
            .wait_timeout_while(attempts, timeout, |attempts| attempts.len() < count)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        attempts.clone()
    }

    /// Ends the thread: events not yet delivered are dropped. An attempt
    /// under way finishes first, within its connect and answer timeouts.
    pub(crate) fn stop(&self) {
        lock(&self.queue).take();
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Deliveries {
    // The router owns the deliveries, and goes when the sandbox is dropped
    // (after its server, which holds the router's other handles).
    fn drop(&mut self) {
        self.stop();
    }
}

struct Pending {
    due: Instant,
    attempt: usize,
    event: Outgoing,
}

fn run(events: &mpsc::Receiver<Outgoing>, log: &Log) {
    let mut pending: Vec<Pending> = Vec::new();
    loop {
        // Wait for a new event, or until the earliest retry is due.
        let next_due = pending.iter().map(|p| p.due).min();
        let received = match next_due {
            None => events.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(due) => events.recv_timeout(due.saturating_duration_since(Instant::now())),
        };
        match received {
            Ok(event) if pending.len() < MAX_PENDING => pending.push(Pending {
                due: Instant::now(),
                attempt: 1,
                event,
            }),
            Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        // Due attempts in the order they fell due, so one receiver sees a
        // payment request's events in the order they happened.
        let now = Instant::now();
        let mut due: Vec<Pending> = Vec::new();
        let mut i = 0;
        while i < pending.len() {
            if pending[i].due <= now {
                due.push(pending.remove(i));
            } else {
                i += 1;
            }
        }
        due.sort_by_key(|p| p.due);
        for Pending { attempt, event, .. } in due {
            let at = SystemTime::now();
            let status = post(&event);
            let delivered = matches!(status, Some(200 | 201 | 202 | 204));
            let delays = lock(&log.delays).clone();
            if !delivered {
                if let Some(delay) = delays.get(attempt - 1) {
                    pending.push(Pending {
                        due: Instant::now() + *delay,
                        attempt: attempt + 1,
                        event: event.clone(),
                    });
                }
            }
            let mut attempts = lock(&log.attempts);
            if attempts.len() == MAX_LOGGED {
                attempts.remove(0);
            }
            attempts.push(WebhookDelivery {
                url: format!("http://{}{}", event.target, event.path),
                webhook_id: event.webhook_id,
                event_id: event.event_id,
                event_type: event.event_type,
                attempt,
                at,
                status,
                delivered,
                body: event.body,
                signature: event.signature,
                signing_key_id: event.signing_key_id,
            });
            drop(attempts);
            log.changed.notify_all();
        }
    }
}

/// One `POST`; the status the receiver answered, or `None`.
fn post(event: &Outgoing) -> Option<u16> {
    // Checked when the webhook was made; checked again, since this is the
    // one place the sandbox connects anywhere.
    if !event.target.ip().is_loopback() {
        return None;
    }
    let mut stream = TcpStream::connect_timeout(&event.target, CONNECT_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(ANSWER_TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(ANSWER_TIMEOUT)).ok()?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: klarna-sandbox\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\
         Klarna-Signature: {signature}\r\nKlarna-Signing-Key-Id: {key_id}\r\n\
         Connection: close\r\n\r\n",
        path = event.path,
        host = event.target,
        length = event.body.len(),
        signature = event.signature,
        key_id = event.signing_key_id,
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(&event.body).ok()?;
    stream.flush().ok()?;
    let mut status_line = Vec::new();
    BufReader::new(stream.take(1024))
        .read_until(b'\n', &mut status_line)
        .ok()?;
    let status_line = std::str::from_utf8(&status_line).ok()?;
    let mut parts = status_line.split(' ');
    match (parts.next(), parts.next()) {
        (Some(version), Some(code)) if version.starts_with("HTTP/1.") && code.len() == 3 => {
            code.parse().ok()
        }
        _ => None,
    }
}
