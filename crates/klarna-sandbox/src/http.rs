//! HTTP/1.1 messages as bytes: parsing a request head, and writing a
//! response. Just enough for Klarna's clients and curl: requests with a
//! `Content-Length` body (no chunked uploads), persistent connections, and
//! `Expect: 100-continue`.
//!
//! Nothing here knows about sockets, time or Klarna: the transport
//! (`server.rs`) feeds it bytes, and the router shapes the error bodies of
//! what it refuses.

/// The largest request head read; a longer one is `431`.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Header lines read; more is `400`.
const MAX_HEADERS: usize = 100;
/// The largest request body accepted; a longer one is `413`.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One request, with the path percent-encoded as sent and the query cut off.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    /// The query as sent (percent-encoded, without `?`); empty without one.
    pub(crate) query: String,
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

    /// Whether the client wants the connection kept open after the answer.
    pub(crate) fn wants_keep_alive(&self) -> bool {
        let connection = self.header("connection").unwrap_or_default();
        let has = |token: &str| {
            connection
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        };
        if self.http_1_0 {
            has("keep-alive")
        } else {
            !has("close")
        }
    }

    /// Whether the client waits for `100 Continue` before sending its body.
    pub(crate) fn expects_continue(&self) -> bool {
        self.header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    }
}

/// One answer.
#[derive(Clone, Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn empty(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub(crate) fn json(status: u16, body: Vec<u8>) -> Self {
        Response {
            status,
            headers: vec![("Content-Type", "application/json".to_owned())],
            body,
        }
    }

    /// The status line, headers and body, with `Content-Length` and
    /// `Connection` added.
    pub(crate) fn to_bytes(&self, keep_alive: bool) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push_str("\r\n");
        }
        out.push_str(&format!(
            "Content-Length: {}\r\nConnection: {}\r\n\r\n",
            self.body.len(),
            if keep_alive { "keep-alive" } else { "close" }
        ));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// What `100 Continue` looks like on the wire.
pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Why a request is answered with an error before it reaches the router,
/// and where it was going, when the request line said: the router answers
/// it in the shape of that API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) message: &'static str,
    /// The path of the request line, when it was read.
    pub(crate) path: Option<String>,
}

impl Refusal {
    pub(crate) fn new(status: u16, message: &'static str, path: Option<String>) -> Self {
        Refusal {
            status,
            message,
            path,
        }
    }
}

/// A complete request head in `buf`: the request (without its body), the
/// number of bytes the head took, and the body length it declared.
/// `Ok(None)` when more bytes are needed.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<(Request, usize, usize)>, Refusal> {
    let start = leading_blank_lines(buf);
    let Some(head_len) = head_end(&buf[start..]) else {
        if buf.len() > MAX_HEAD_BYTES {
            let path = request_line_path(&buf[start..]);
            return Err(Refusal::new(
                431,
                "The request head is larger than 64 KiB.",
                path,
            ));
        }
        return Ok(None);
    };
    if start + head_len > MAX_HEAD_BYTES {
        let path = request_line_path(&buf[start..]);
        return Err(Refusal::new(
            431,
            "The request head is larger than 64 KiB.",
            path,
        ));
    }
    let head = &buf[start..start + head_len];
    let (request, length) = parse_lines(head)?;
    Ok(Some((request, start + head_len, length)))
}

/// Bytes of the CRLFs or LFs that precede the request line.
fn leading_blank_lines(buf: &[u8]) -> usize {
    let mut at = 0;
    loop {
        if buf[at..].starts_with(b"\r\n") {
            at += 2;
        } else if buf[at..].starts_with(b"\n") {
            at += 1;
        } else {
            return at;
        }
    }
}

/// The length of the head up to and including its blank line.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(offset) = buf[at..].iter().position(|&b| b == b'\n') {
        let next = at + offset + 1;
        match &buf[next..] {
            [b'\n', ..] => return Some(next + 1),
            [b'\r', b'\n', ..] => return Some(next + 2),
            _ => at = next,
        }
    }
    None
}

/// The path of the request line in `buf`, when that line is complete: a
/// request cut short (a deadline passed) is still answered in its API's
/// shape.
pub(crate) fn path_so_far(buf: &[u8]) -> Option<String> {
    request_line_path(&buf[leading_blank_lines(buf)..])
}

/// The path of a request line already read in full, to answer a refused
/// request in its API's shape.
fn request_line_path(buf: &[u8]) -> Option<String> {
    let end = buf.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(trim_line(&buf[..=end])).ok()?;
    let target = line.split(' ').nth(1)?;
    let path = target.split(['?', '#']).next()?;
    path.starts_with('/').then(|| path.to_owned())
}

fn parse_lines(head: &[u8]) -> Result<(Request, usize), Refusal> {
    let mut lines = head.split_inclusive(|&b| b == b'\n').map(trim_line);
    let request_line = lines.next().unwrap_or_default();
    let request_line = std::str::from_utf8(request_line)
        .map_err(|_| bad("The request head is not UTF-8.", None))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(
            "The request line is not `METHOD TARGET HTTP/1.1`.",
            None,
        ));
    };
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let query = target
        .split('#')
        .next()
        .and_then(|target| target.split_once('?'))
        .map_or_else(String::new, |(_, query)| query.to_owned());
    if !path.starts_with('/') {
        return Err(bad("The target must be an absolute path.", None));
    }
    // From here on the path is known, so the refusal names it.
    let known = Some(path.to_owned());
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad("The method is not a valid token.", known));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(bad("Only HTTP/1.1 and HTTP/1.0 are spoken here.", known));
    }
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(bad("More than 100 header lines.", known));
        }
        let line = std::str::from_utf8(line)
            .map_err(|_| bad("The request head is not UTF-8.", known.clone()))?;
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad("A header line has no colon.", known));
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(bad("A header name is not a valid token.", known));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let request = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query,
        headers,
        body: Vec::new(),
        http_1_0: version == "HTTP/1.0",
    };
    if request.header("transfer-encoding").is_some() {
        return Err(bad(
            "Chunked request bodies are not supported; send Content-Length.",
            known,
        ));
    }
    let length = match request.header("content-length") {
        None => 0,
        Some(value) => value
            .parse::<usize>()
            .map_err(|_| bad("Content-Length is not a number.", known.clone()))?,
    };
    if length > MAX_BODY_BYTES {
        return Err(Refusal::new(
            413,
            "The request body is larger than 1 MiB.",
            known,
        ));
    }
    Ok((request, length))
}

fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn bad(message: &'static str, path: Option<String>) -> Refusal {
    Refusal::new(400, message, path)
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_complete_only_with_its_blank_line() {
        assert!(parse_head(b"GET /a HTTP/1.1\r\nHost: x\r\n")
            .unwrap()
            .is_none());
        let (request, used, length) = parse_head(b"\r\nGET /a?q=1 HTTP/1.1\r\nHost: x\r\n\r\nrest")
            .unwrap()
            .unwrap();
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("GET", "/a")
        );
        assert_eq!(request.header("host"), Some("x"));
        assert_eq!((used, length), (34, 0));
        let (_, used, _) = parse_head(b"GET / HTTP/1.0\n\n").unwrap().unwrap();
        assert_eq!(used, 16);
    }

    #[test]
    fn refusals_name_the_path_once_the_request_line_is_read() {
        let refusal =
            parse_head(b"POST /v1/x HTTP/1.1\r\nContent-Length: lots\r\n\r\n").unwrap_err();
        assert_eq!(refusal.status, 400);
        assert_eq!(refusal.path.as_deref(), Some("/v1/x"));
        let refusal = parse_head(b"GARBAGE\r\n\r\n").unwrap_err();
        assert_eq!(refusal.path, None);
        let big = format!("GET /v1/y HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD_BYTES));
        let refusal = parse_head(big.as_bytes()).unwrap_err();
        assert_eq!(
            (refusal.status, refusal.path.as_deref()),
            (431, Some("/v1/y"))
        );
    }

    #[test]
    fn responses_carry_their_length_and_connection() {
        let bytes = Response::json(201, b"{}".to_vec()).to_bytes(false);
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        );
    }
}
