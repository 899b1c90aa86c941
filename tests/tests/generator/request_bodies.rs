//! Request bodies beyond JSON, as the client generated from
//! `tests/fixtures/bodies.yaml` sends them to a loopback server: a form
//! (`application/x-www-form-urlencoded`), a `multipart/form-data` upload
//! with a text and a file part, and raw bytes; and what a retry sends again.

use std::time::Duration;

use std::pin::Pin;
use std::task::{Context, Poll};

use klarna_runtime::bytes::Bytes;
use klarna_runtime::mock::{Mock, Outcome};
use klarna_runtime::{Config, Credentials, ErrorKind, Multipart, RetryPolicy, Upload};
use klarna_tests::fixtures::bodies::{models, Client, Operations, PetId};
use klarna_tests::server::{CannedResponse, TestServer};

fn client(server: &TestServer, retry: RetryPolicy) -> Client {
    let config = Config::with_base_url(server.url(), Credentials::basic("u", "p"))
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .retry(retry);
    Client::from_config(config).unwrap()
}

#[tokio::test]
async fn a_form_body_is_url_encoded_with_arrays_as_repeated_pairs() {
    let server = TestServer::start();
    server.respond(CannedResponse::new(204));
    let body = models::CreateTokenRequest {
        scope: Some(vec!["read pets".into(), "write&more".into()]),
        ..models::CreateTokenRequest::new("client_credentials")
    };
    client(&server, RetryPolicy::never())
        .create_token(&body)
        .await
        .unwrap();
    let request = server.single_request();
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // `ttl` is not set and is left out.
    assert_eq!(
        String::from_utf8(request.body).unwrap(),
        "grant_type=client_credentials&scope=read%20pets&scope=write%26more"
    );
}

#[tokio::test]
async fn a_multipart_body_has_a_text_part_and_a_file_part() {
    let server = TestServer::start();
    server.respond(CannedResponse::new(204));
    let png = vec![0x89, b'P', b'N', b'G', 0, 255];
    let body = Multipart::new().text("caption", "Rex, \"asleep\"").file(
        "photo",
        "rex.png",
        "image/png",
        png.clone(),
    );
    client(&server, RetryPolicy::never())
        .upload_photo(&PetId::new("p-1"), &body)
        .await
        .unwrap();
    let request = server.single_request();
    let content_type = request.header("content-type").unwrap().to_owned();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .expect("multipart with a boundary");
    // RFC 7578: each part after `--boundary`, headers, a blank line, the
    // contents; the last boundary ends with `--`.
    let mut expected = Vec::new();
    expected.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nRex, \"asleep\"\r\n"
        )
        .as_bytes(),
    );
    expected.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"rex.png\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    expected.extend_from_slice(&png);
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(request.body, expected);
    assert_eq!(request.target, "/pets/p-1/photo");
}

#[tokio::test]
async fn raw_bytes_go_as_given_with_the_documents_media_type() {
    let server = TestServer::start();
    server.respond(CannedResponse::new(204));
    server.respond(CannedResponse::new(204));
    let client = client(&server, RetryPolicy::never());
    let png = [0x89, b'P', b'N', b'G'];
    client.put_photo(&PetId::new("p-1"), &png).await.unwrap();
    // A media type range names no type to send: octet-stream does.
    client.create_blob().body(&b"blob"[..]).await.unwrap();
    let requests = server.requests();
    assert_eq!(requests[0].header("content-type"), Some("image/png"));
    assert_eq!(requests[0].body, png);
    assert_eq!(
        requests[1].header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(requests[1].body, b"blob");
}

#[tokio::test]
async fn a_replayable_body_of_an_idempotent_call_is_sent_again_byte_for_byte() {
    let server = TestServer::start();
    server.respond(CannedResponse::new(503));
    server.respond(CannedResponse::new(204));
    let png = [0x89, b'P', b'N', b'G'];
    // `PUT` is idempotent: the 503 is retried with the same bytes.
    client(&server, RetryPolicy::default())
        .put_photo(&PetId::new("p-1"), &png)
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.body == png));
}

#[tokio::test]
async fn an_upload_without_a_key_is_not_sent_twice() {
    let server = TestServer::start();
    server.respond(CannedResponse::new(503));
    server.respond(CannedResponse::new(204));
    let body = Multipart::new().text("caption", "Rex");
    // A `POST` with no idempotency key may have acted: not repeated.
    let error = client(&server, RetryPolicy::default())
        .upload_photo(&PetId::new("p-1"), &body)
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 1, "{error}");
}

/// A stream of the given chunks, as a file read piece by piece would be.
struct Chunks(std::collections::VecDeque<&'static [u8]>);

impl Chunks {
    fn of(chunks: &[&'static [u8]]) -> Self {
        Chunks(chunks.iter().copied().collect())
    }
}

impl futures_core::Stream for Chunks {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(
            self.0
                .pop_front()
                .map(|chunk| Ok(Bytes::from_static(chunk))),
        )
    }
}

#[tokio::test]
async fn a_stream_goes_out_in_chunks_as_it_is_read() {
    let server = TestServer::start();
    server.respond(CannedResponse::new(204));
    let upload = Upload::stream(Chunks::of(&[b"\x89PNG", b"-part-two", b"-end"]));
    client(&server, RetryPolicy::never())
        .put_photo(&PetId::new("p-1"), upload)
        .await
        .unwrap();
    let request = server.single_request();
    // No length is known ahead: HTTP/1.1's chunked coding (RFC 9112 7.1).
    assert_eq!(request.header("transfer-encoding"), Some("chunked"));
    assert_eq!(request.header("content-length"), None);
    assert_eq!(request.header("content-type"), Some("image/png"));
    assert_eq!(request.body, b"\x89PNG-part-two-end");
}

#[tokio::test]
async fn a_one_time_stream_is_not_sent_again_even_where_a_retry_is_safe() {
    let server = TestServer::start();
    server.respond(CannedResponse::new(503));
    server.respond(CannedResponse::new(204));
    // `PUT` is idempotent, and a body in memory would be retried (above);
    // the stream was read by the first attempt and cannot be.
    let upload = Upload::stream(Chunks::of(&[b"once"]));
    let error = client(&server, RetryPolicy::default())
        .put_photo(&PetId::new("p-1"), upload.clone())
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 1, "{error}");
    assert_eq!(error.attempts(), 1);
    assert_eq!(error.status(), Some(503));
    // Its clone shares the stream: a second call does not go out.
    let again = client(&server, RetryPolicy::default())
        .put_photo(&PetId::new("p-1"), upload)
        .await
        .unwrap_err();
    assert!(matches!(again.kind(), ErrorKind::NotSent(_)), "{again}");
    assert!(again.to_string().contains("Upload::replayable"), "{again}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_replayable_stream_is_made_anew_for_a_retry() {
    let server = TestServer::start();
    server.respond(CannedResponse::new(503));
    server.respond(CannedResponse::new(204));
    let upload = Upload::replayable(|| Chunks::of(&[b"again", b"-and-again"]));
    client(&server, RetryPolicy::default())
        .put_photo(&PetId::new("p-1"), upload)
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.body == b"again-and-again"));
}

#[tokio::test]
async fn a_replayable_stream_without_a_key_is_not_repeated_after_a_post() {
    let server = TestServer::start();
    server.respond(CannedResponse::new(503));
    server.respond(CannedResponse::new(204));
    // A `POST` without an idempotency key may have acted: replayable or
    // not, it is sent once.
    let upload = Upload::replayable(|| Chunks::of(&[b"blob"]));
    let error = client(&server, RetryPolicy::default())
        .create_blob()
        .body(upload)
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 1, "{error}");
}

#[tokio::test]
async fn a_one_time_stream_is_not_retried_even_when_nothing_left_the_machine() {
    // Nothing sent: any other call would go again (the mock's
    // `not_sent` is a refused connection). The stream was handed to that
    // attempt, and is gone.
    let mock = Mock::new();
    mock.on(&klarna_tests::fixtures::bodies::operations::PUT_PHOTO)
        .respond(Outcome::not_sent())
        .respond(Outcome::status(204));
    let client = Client::from_runtime(mock.client()).unwrap();
    let error = client
        .put_photo(&PetId::new("p-1"), Upload::stream(Chunks::of(&[b"x"])))
        .await
        .unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::NotSent(_)), "{error}");
    assert_eq!(mock.requests().len(), 1);
    // A body in memory goes again after the same failure, and the mock
    // records the stream's bytes as sent.
    let mock = Mock::new();
    mock.on(&klarna_tests::fixtures::bodies::operations::PUT_PHOTO)
        .respond(Outcome::not_sent())
        .respond(Outcome::status(204));
    let client = Client::from_runtime(mock.client()).unwrap();
    client
        .put_photo(
            &PetId::new("p-1"),
            Upload::replayable(|| Chunks::of(&[b"a", b"b"])),
        )
        .await
        .unwrap();
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.body == b"ab"));
}

#[test]
fn upload_debug_shows_the_size_or_the_kind_of_stream_not_contents() {
    assert_eq!(
        format!("{:?}", Upload::from(&b"secret"[..])),
        "Upload(6 bytes)"
    );
    assert_eq!(
        format!("{:?}", Upload::stream(Chunks::of(&[b"secret"]))),
        "Upload(stream, sent once)"
    );
    assert_eq!(
        format!("{:?}", Upload::replayable(|| Chunks::of(&[b"secret"]))),
        "Upload(stream, replayable)"
    );
}

#[test]
fn multipart_debug_shows_names_and_sizes_not_contents() {
    let body = Multipart::new().text("password", "s3cr3t").file(
        "photo",
        "rex.png",
        "image/png",
        vec![1, 2, 3],
    );
    let debug = format!("{body:?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert_eq!(
        debug,
        r#"["password (6 bytes)", "photo: rex.png (3 bytes)"]"#
    );
}
