//! Raw-socket helpers the byte-level tests share: a connection that sends
//! bytes and reads responses, and request builders.
#![allow(dead_code)] // Each test binary uses its own part.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use klarna_sandbox::Sandbox;
use serde_json::Value;

/// Long enough never to fire on a working server, short enough that a
/// broken one fails the test rather than hanging it.
pub const SAFETY_TIMEOUT: Duration = Duration::from_secs(30);
pub const AUTH: &str = "Authorization: Basic dXNlcjpwYXNz\r\n";

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Klarna's error body, with its code.
    pub fn error_code(&self) -> String {
        let body = self.json();
        assert_eq!(body["correlation_id"].as_str().map(str::len), Some(36));
        assert!(!body["error_messages"][0].as_str().unwrap().is_empty());
        body["error_code"].as_str().unwrap().to_owned()
    }
}

pub struct Connection {
    pub reader: BufReader<TcpStream>,
    pub writer: TcpStream,
}

impl Connection {
    pub fn open(sandbox: &Sandbox) -> Connection {
        Connection::open_addr(sandbox.base_url().trim_start_matches("http://"))
    }

    /// A connection to `host:port`.
    pub fn open_addr(addr: &str) -> Connection {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(SAFETY_TIMEOUT)).unwrap();
        Connection {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    pub fn send(&mut self, raw: &[u8]) {
        self.writer.write_all(raw).unwrap();
    }

    /// The next response, or `None` if the server closed the connection
    /// before a status line.
    pub fn read(&mut self) -> Option<Reply> {
        let mut status_line = String::new();
        if self.reader.read_line(&mut status_line).unwrap() == 0 {
            return None;
        }
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        for _ in 0..100 {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        let mut reply = Reply {
            status,
            headers,
            body: Vec::new(),
        };
        let length: usize = reply
            .header("content-length")
            .map_or(0, |v| v.parse().unwrap());
        reply.body = vec![0; length];
        self.reader.read_exact(&mut reply.body).unwrap();
        Some(reply)
    }

    pub fn exchange(&mut self, raw: &str) -> Reply {
        self.send(raw.as_bytes());
        self.read().expect("an answer")
    }

    /// Whether the server has closed the connection.
    pub fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0))
    }
}

pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: sandbox\r\n{AUTH}\r\n")
}

pub fn post(path: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: sandbox\r\n{AUTH}{extra_headers}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

pub fn order_path(id: &str) -> String {
    format!("/ordermanagement/v1/orders/{id}")
}
