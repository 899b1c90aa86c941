//! A call over HTTPS with the crypto the runtime builds in (rustls with
//! aws-lc-rs, or ring with the `ring` feature alone; no OpenSSL), against a
//! local rustls server that answers with the key exchange it negotiated.
//!
//! `tls/` holds a test CA and a `localhost` certificate it signed (ECDSA
//! P-256, valid until 2126), made with the `openssl` command line once:
//! `req -x509` for the CA, `req -new` and `x509 -req` with
//! `subjectAltName=DNS:localhost` for the leaf, all written as DER.
#![cfg(any(feature = "aws-lc-rs", feature = "ring"))]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;

use klarna_runtime::http::Method;
use klarna_runtime::private::call::Call;
use klarna_runtime::{Client, Config, Credentials, Operation};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const CA: &[u8] = include_bytes!("tls/ca.der");
const CERT: &[u8] = include_bytes!("tls/localhost.der");
const KEY: &[u8] = include_bytes!("tls/localhost.key.der");

const PING: Operation = Operation {
    name: "ping",
    method: Method::GET,
    path: "/ping",
    read_only: true,
    idempotent: true,
    idempotency_header: None,
};

/// Serves one HTTPS request with `200 {"group":"<the key exchange group>"}`
/// and returns the port.
fn serve_once() -> u16 {
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(CERT.to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(KEY.to_vec())),
        )
        .expect("the test certificate and key match");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        let tls = rustls::ServerConnection::new(Arc::new(config)).expect("connection");
        let mut stream = rustls::StreamOwned::new(tls, tcp);
        let mut reader = BufReader::new(&mut stream);
        let mut line = String::new();
        while reader.read_line(&mut line).expect("read") > 2 {
            line.clear();
        }
        let group = stream
            .conn
            .negotiated_key_exchange_group()
            .map(|group| format!("{:?}", group.name()))
            .unwrap_or_default();
        let body = format!(r#"{{"group":"{group}"}}"#);
        let body = body.as_bytes();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).expect("write");
        stream.write_all(body).expect("write");
        stream.conn.send_close_notify();
        stream.flush().expect("flush");
    });
    port
}

#[tokio::test]
async fn a_call_over_https_uses_the_built_in_crypto() {
    // What `Client::new` does; needed first here because the test builds
    // its own reqwest client (to trust its own CA) and server config.
    klarna_runtime::install_crypto_provider();
    let port = serve_once();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_der(CA).expect("a DER certificate"))
        .build()
        .expect("reqwest builds with the installed provider");
    let config = Config::with_base_url(
        format!("https://localhost:{port}"),
        Credentials::basic("PK0001", "secret"),
    );
    let client = Client::with_http_client(http, config).expect("client");
    let response = Call::new(&client, &PING, "/ping")
        .send::<()>()
        .await
        .expect("the TLS handshake and the call succeed");
    assert_eq!(response.status(), 200);
    // aws-lc-rs prefers the post-quantum hybrid; ring has none to offer.
    let body = String::from_utf8_lossy(response.body());
    if cfg!(feature = "aws-lc-rs") {
        assert_eq!(body, r#"{"group":"X25519MLKEM768"}"#);
    } else {
        assert!(body.starts_with(r#"{"group":""#), "{body}");
        assert!(!body.contains("MLKEM"), "{body}");
    }
}
