//! A small HTTP/1.1 server on 127.0.0.1 for tests: it records every request
//! byte for byte and answers with canned responses, one per request.
//!
//! Each connection carries one request and is closed after the response, so
//! the client under test never reuses a connection between two canned
//! answers. Everything is bounded: request sizes, read timeouts, and the
//! number of connections the server thread accepts.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const MAX_CONNECTIONS: usize = 1000;
const MAX_HEADER_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
const MAX_DELAY: Duration = Duration::from_secs(5);

/// One request as the server read it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, exactly as sent (still percent-encoded).
    pub target: String,
    /// Header names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in the order sent (a header sent twice
    /// shows twice).
    pub fn headers(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }
}

/// What the server answers with.
#[derive(Clone, Debug)]
pub struct CannedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Waited before answering, to outlast a client's timeout.
    pub delay: Duration,
    /// Read the request, then close the connection without answering: the
    /// client cannot know whether the request took effect.
    pub drop_connection: bool,
}

impl CannedResponse {
    pub fn new(status: u16) -> Self {
        CannedResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            drop_connection: false,
        }
    }

    /// No answer at all: the connection closes once the request is read.
    pub fn dropped_connection() -> Self {
        CannedResponse {
            drop_connection: true,
            ..CannedResponse::new(0)
        }
    }

    /// Answers after `delay` (at most a few seconds, so tests stay bounded).
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay.min(MAX_DELAY);
        self
    }

    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        CannedResponse::new(status)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(body).expect("JSON"))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

#[derive(Default)]
struct State {
    requests: Vec<RecordedRequest>,
    responses: VecDeque<CannedResponse>,
}

pub struct TestServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server on an ephemeral port of 127.0.0.1.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming().take(MAX_CONNECTIONS) {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        // A thread per connection, so that a delayed answer
                        // does not hold up the client's retry. A broken
                        // connection is the client's business; the test
                        // sees it as a missing request.
                        let state = state.clone();
                        std::thread::spawn(move || {
                            let _ = serve(stream, &state);
                        });
                    }
                }
            })
        };
        TestServer {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues the answer to the next request.
    pub fn respond(&self, response: CannedResponse) {
        self.state
            .lock()
            .expect("lock")
            .responses
            .push_back(response);
    }

    /// Every request read so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.lock().expect("lock").requests.clone()
    }

    /// The one request read so far; fails if there were more or fewer.
    pub fn single_request(&self) -> RecordedRequest {
        let requests = self.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request, got {requests:#?}"
        );
        requests.into_iter().next().expect("one request")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A body sent in chunks (RFC 9112 section 7.1: a hex size line, the
/// bytes, CRLF; a size of 0 ends it), up to `MAX_BODY_BYTES`.
fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let size = line.trim_end().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size.trim(), 16)
            .map_err(|_| std::io::Error::other("bad chunk size"))?;
        if body.len() + size > MAX_BODY_BYTES {
            return Err(std::io::Error::other("body too large"));
        }
        if size == 0 {
            // Trailers, if any, up to the blank line.
            loop {
                let mut trailer = String::new();
                if reader.read_line(&mut trailer)? == 0 || trailer.trim_end().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf)?;
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(());
    };
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut headers = Vec::new();
    let mut header_bytes = 0;
    loop {
        let mut line = String::new();
        header_bytes += reader.read_line(&mut line)?;
        if header_bytes > MAX_HEADER_BYTES {
            return Err(std::io::Error::other("headers too large"));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        read_chunked(&mut reader)?
    } else {
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0)
            .min(MAX_BODY_BYTES);
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    let response = {
        let mut state = state.lock().expect("lock");
        state.requests.push(RecordedRequest {
            method,
            target,
            headers,
            body,
        });
        state.responses.pop_front()
    };
    let response =
        response.unwrap_or_else(|| CannedResponse::new(599).body("no canned response left"));
    if response.drop_connection {
        return Ok(());
    }
    std::thread::sleep(response.delay);
    let mut out = format!("HTTP/1.1 {} Test\r\n", response.status);
    for (name, value) in &response.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        response.body.len()
    ));
    let mut stream = stream;
    stream.write_all(out.as_bytes())?;
    stream.write_all(&response.body)?;
    stream.flush()
}
