//! Calls to the merchant's own server: the Checkout callbacks (address
//! update, validation) and the push. A hand-written HTTP/1.1 `POST` over
//! `std::net`, to `http://127.0.0.1` (or another loopback address) only, as
//! the webhook deliveries are: the sandbox never connects anywhere else.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The largest answer read from a merchant.
const MAX_ANSWER_BYTES: u64 = 1024 * 1024;

/// What the merchant answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) location: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// Why there is no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoAnswer {
    /// Not an `http://` URL of a loopback address.
    NotLoopback,
    /// Could not connect, or the answer could not be read.
    Unreachable,
    /// No complete answer within the deadline.
    TooLate,
}

/// `POST`s `body` (JSON, or nothing) to `url` and waits for the answer until
/// `deadline` has passed.
pub(crate) fn post(url: &str, body: Option<&[u8]>, deadline: Duration) -> Result<Answer, NoAnswer> {
    let (target, path) = loopback_target(url).ok_or(NoAnswer::NotLoopback)?;
    let until = Instant::now() + deadline;
    let left = || until.saturating_duration_since(Instant::now());
    let mut stream = TcpStream::connect_timeout(&target, left().max(Duration::from_millis(1)))
        .map_err(|_| NoAnswer::Unreachable)?;
    let body = body.unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: klarna-sandbox\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let timed_out = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => NoAnswer::TooLate,
        _ => NoAnswer::Unreachable,
    };
    stream
        .set_write_timeout(Some(left().max(Duration::from_millis(1))))
        .map_err(|_| NoAnswer::Unreachable)?;
    stream.write_all(head.as_bytes()).map_err(timed_out)?;
    stream.write_all(body).map_err(timed_out)?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut reader = stream.take(MAX_ANSWER_BYTES);
    loop {
        let wait = left();
        if wait.is_zero() {
            return Err(NoAnswer::TooLate);
        }
        reader
            .get_ref()
            .set_read_timeout(Some(wait))
            .map_err(|_| NoAnswer::Unreachable)?;
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&chunk[..n]);
                if complete(&answer) {
                    break;
                }
            }
            Err(e) => return Err(timed_out(e)),
        }
    }
    parse(&answer).ok_or(NoAnswer::Unreachable)
}

/// The address and path of an `http://` URL whose host is a loopback IP
/// literal (`127.0.0.1`, `[::1]`) or `localhost`, with its port. No name is
/// looked up (a lookup could leave the machine), and a path with a space
/// or a control character, which would end the request line and let a
/// merchant URL write headers of its own, is refused.
fn loopback_target(url: &str) -> Option<(SocketAddr, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return None;
    }
    let authority = match authority.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}"),
        None => authority.to_owned(),
    };
    let target: SocketAddr = authority.parse().ok()?;
    (target.ip().is_loopback() && target.port() != 0).then(|| (target, path.to_owned()))
}

/// Whether `answer` holds a whole response: its head, and as many body
/// bytes as `Content-Length` says (a response without one ends at close).
fn complete(answer: &[u8]) -> bool {
    let Some(end) = find_head_end(answer) else {
        return false;
    };
    match content_length(&answer[..end]) {
        Some(length) => answer.len() >= end.saturating_add(length),
        None => false,
    }
}

fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn content_length(head: &[u8]) -> Option<usize> {
    header(std::str::from_utf8(head).ok()?, "content-length")?
        .parse()
        .ok()
}

fn parse(answer: &[u8]) -> Option<Answer> {
    let end = find_head_end(answer)?;
    let head = std::str::from_utf8(&answer[..end]).ok()?;
    let mut status_line = head.split("\r\n").next()?.split(' ');
    let (version, code) = (status_line.next()?, status_line.next()?);
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let status = code.parse().ok()?;
    let mut body = answer[end..].to_vec();
    if let Some(length) = header(head, "content-length").and_then(|l| l.parse::<usize>().ok()) {
        body.truncate(length);
    }
    Some(Answer {
        status,
        location: header(head, "location").map(str::to_owned),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_called() {
        assert!(loopback_target("http://127.0.0.1:8080/klarna/validation").is_some());
        assert!(loopback_target("http://localhost:8080/x?y=1").is_some());
        assert!(loopback_target("https://127.0.0.1:8080/x").is_none());
        assert!(loopback_target("http://10.0.0.1:8080/x").is_none());
        assert!(loopback_target("http://example.com/x").is_none());
        assert!(loopback_target("http://[::1]:8080/x").is_some());
        // No lookup of a name that may resolve to loopback, no port 0, and
        // no request line a path could break into headers of its own.
        assert!(loopback_target("http://localtest.me:8080/x").is_none());
        assert!(loopback_target("http://127.0.0.1/x").is_none());
        assert!(loopback_target("http://127.0.0.1:0/x").is_none());
        assert!(loopback_target("http://127.0.0.1:8080/x HTTP/1.1\r\nX-Forged: 1").is_none());
        assert!(loopback_target("http://127.0.0.1:8080/a b").is_none());
        assert!(!complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n"
        ));
        assert_eq!(
            post("http://10.1.2.3:1/x", None, Duration::from_millis(10)),
            Err(NoAnswer::NotLoopback)
        );
    }

    #[test]
    fn answers_are_read_to_their_length() {
        let raw = b"HTTP/1.1 303 See Other\r\nLocation: https://shop.example/x\r\nContent-Length: 2\r\n\r\n{}extra";
        let answer = parse(raw).unwrap();
        assert_eq!(answer.status, 303);
        assert_eq!(answer.location.as_deref(), Some("https://shop.example/x"));
        assert_eq!(answer.body, b"{}");
        assert!(complete(raw));
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}"));
    }
}
