//! Just enough HTTP/1.1 for Klarna's clients: requests with a
//! `Content-Length` body, persistent connections (what reqwest's pool
//! expects) unless the client asks to close, and `Expect: 100-continue`
//! (what curl sends for larger bodies).
//!
//! Every read is bounded: the request head, the body, the requests per
//! connection, and how long a connection may sit idle.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::orders::error;
use crate::{notifications, payment_api, LoggedRequest, Shared};

const MAX_HEAD_BYTES: u64 = 64 * 1024;
const MAX_HEADERS: usize = 100;
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// What is read away, and how long for, before closing after a bad request.
const MAX_DRAIN_BYTES: u64 = 4 * 1024 * 1024;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_REQUESTS_PER_CONNECTION: usize = 10_000;
/// An idle keep-alive connection is closed after this long. Dropping the
/// sandbox shuts every connection down at once, so this only bounds
/// connections a client abandons.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// One request, with the path percent-encoded as sent and the query cut off.
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    /// Names in lower case.
    headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// HTTP/1.0, where connections close unless the client asks otherwise.
    http_1_0: bool,
}

impl Request {
    /// The first value of a header, by its lower-case name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One answer.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn empty(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub(crate) fn json(status: u16, body: Vec<u8>) -> Self {
        Reply {
            status,
            headers: vec![("Content-Type", "application/json".to_owned())],
            body,
        }
    }
}

/// Why a request could not be read.
enum ReadError {
    /// The connection closed, timed out or broke: nothing to answer.
    Gone,
    /// The bytes are not a request we accept: answer, then close, since
    /// where the next request would start is unknown.
    Bad(Reply),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Gone
    }
}

/// Serves one connection until the client closes it, asks to close, sends
/// something unreadable, or the sandbox stops.
pub(crate) fn serve(stream: TcpStream, shared: &Arc<Shared>) {
    // A socket that cannot take timeouts could block forever: refuse it.
    if stream.set_read_timeout(Some(IDLE_TIMEOUT)).is_err()
        || stream.set_write_timeout(Some(IDLE_TIMEOUT)).is_err()
    {
        return;
    }
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        if shared.is_stopping() {
            return;
        }
        let request = match read_request(&mut reader, &mut writer) {
            Ok(request) => request,
            Err(ReadError::Gone) => return,
            Err(ReadError::Bad(reply)) => {
                if write_reply(&mut writer, &reply, false).is_ok() {
                    close_gracefully(&mut reader, &writer);
                }
                return;
            }
        };
        let keep_alive = wants_keep_alive(&request);
        let Some(reply) = shared.answer(&request) else {
            // The drop-connection fault: the request took effect, the
            // client hears nothing.
            return;
        };
        if !shared.wait_delay() {
            return;
        }
        if write_reply(&mut writer, &reply, keep_alive).is_err() || !keep_alive {
            return;
        }
    }
}

impl Shared {
    /// Applies the fault knobs and the state machine to one request; `None`
    /// means drop the connection without answering.
    fn answer(&self, request: &Request) -> Option<Reply> {
        let (fail, drop) = {
            let mut faults = self.faults();
            let fail = faults.fail_next > 0;
            if fail {
                faults.fail_next -= 1;
            }
            let drop = !fail && faults.drop_next > 0;
            if drop {
                faults.drop_next -= 1;
            }
            (fail, drop)
        };
        let payment_api = payment_api::serves(&request.path);
        let reply = if fail {
            let message = "The sandbox was told to fail this request.";
            if payment_api {
                payment_api::error(503, "TEMPORARILY_UNAVAILABLE", message)
            } else {
                error(503, "SERVICE_UNAVAILABLE", message)
            }
        } else if notifications::serves(&request.path) {
            self.notifications().handle(request)
        } else if payment_api {
            let reply = self.payments().handle(request);
            self.announce_changes();
            reply
        } else if request.header("authorization").is_none() {
            error(
                401,
                "UNAUTHORIZED",
                "Send HTTP Basic credentials; the sandbox accepts any.",
            )
        } else {
            self.state().handle(request, &self.base_url)
        };
        self.state().log(LoggedRequest {
            method: request.method.clone(),
            path: request.path.clone(),
            idempotency_key: request.header("klarna-idempotency-key").map(str::to_owned),
            status: (!drop).then_some(reply.status),
        });
        (!drop).then_some(reply)
    }
}

fn read_request(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
) -> Result<Request, ReadError> {
    let mut head = reader.by_ref().take(MAX_HEAD_BYTES);
    let mut request_line = Vec::new();
    // Tolerate the blank lines some clients send between requests.
    for _ in 0..4 {
        request_line.clear();
        head.read_until(b'\n', &mut request_line)?;
        if !request_line.ends_with(b"\n") {
            return Err(cut_short(head.limit()));
        }
        if !trim_line(&request_line).is_empty() {
            break;
        }
    }
    let request_line = text(&request_line)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("The request line is not `METHOD TARGET HTTP/1.1`."));
    };
    if !method.bytes().all(|b| b.is_ascii_uppercase()) || method.is_empty() {
        return Err(bad("The method is not a valid token."));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(bad("Only HTTP/1.1 and HTTP/1.0 are spoken here."));
    }
    let path = target.split(['?', '#']).next().unwrap_or_default();
    if !path.starts_with('/') {
        return Err(bad("The target must be an absolute path."));
    }
    let mut headers = Vec::new();
    let mut complete = false;
    for _ in 0..=MAX_HEADERS {
        let mut line = Vec::new();
        head.read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\n") {
            return Err(cut_short(head.limit()));
        }
        let line = text(&line)?;
        if line.is_empty() {
            complete = true;
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad("A header line has no colon."));
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(bad("A header name is not a valid token."));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    if !complete {
        return Err(bad("More than 100 header lines."));
    }
    let mut request = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        headers,
        body: Vec::new(),
        http_1_0: version == "HTTP/1.0",
    };
    if request.header("transfer-encoding").is_some() {
        return Err(bad(
            "Chunked request bodies are not supported; send Content-Length.",
        ));
    }
    let length = match request.header("content-length") {
        None => 0,
        Some(value) => value
            .parse::<usize>()
            .map_err(|_| bad("Content-Length is not a number."))?,
    };
    if length > MAX_BODY_BYTES {
        return Err(ReadError::Bad(error(
            413,
            "BAD_VALUE",
            "The request body is larger than 1 MiB.",
        )));
    }
    if length > 0
        && request
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    request.body = vec![0; length];
    reader.read_exact(&mut request.body)?;
    Ok(request)
}

/// Closing a socket with unread bytes makes the kernel reset the
/// connection, and the client may lose the answer just written. So say
/// we are done, and read away what the client still sends, within bounds.
fn close_gracefully(reader: &mut BufReader<TcpStream>, writer: &TcpStream) {
    if writer.shutdown(Shutdown::Write).is_err()
        || writer.set_read_timeout(Some(DRAIN_TIMEOUT)).is_err()
    {
        return;
    }
    let _ = io::copy(&mut reader.take(MAX_DRAIN_BYTES), &mut io::sink());
}

fn wants_keep_alive(request: &Request) -> bool {
    let connection = request.header("connection").unwrap_or_default();
    let has = |token: &str| {
        connection
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if request.http_1_0 {
        has("keep-alive")
    } else {
        !has("close")
    }
}

fn write_reply(stream: &mut TcpStream, reply: &Reply, keep_alive: bool) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (name, value) in &reply.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: {}\r\n\r\n",
        reply.body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&reply.body);
    stream.write_all(&bytes)?;
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// A head line without its end: the client left, or the head is too large.
fn cut_short(limit_left: u64) -> ReadError {
    if limit_left == 0 {
        ReadError::Bad(error(
            431,
            "BAD_VALUE",
            "The request head is larger than 64 KiB.",
        ))
    } else {
        ReadError::Gone
    }
}

fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn text(line: &[u8]) -> Result<&str, ReadError> {
    std::str::from_utf8(trim_line(line)).map_err(|_| bad("The request head is not UTF-8."))
}

fn bad(message: &str) -> ReadError {
    ReadError::Bad(error(400, "BAD_VALUE", message))
}
