//! A 200 MB CSV report read through the generated Settlements client as a
//! stream, with the process's peak memory measured around it: the body is
//! never held whole, and the 16 MiB limit on buffered answers does not
//! apply. A test binary of its own, so that no other test's allocations
//! count in the peak.
//!
//! The server is a loopback listener that writes the report as it goes, in
//! 64 KiB chunks, so that it holds no more than the client should.

use std::time::Duration;

use klarna_settlements::{Client, Config, Credentials, Reports};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const REPORT_BYTES: u64 = 200 * 1024 * 1024;
/// One transaction row of 64 bytes; the report repeats it.
const ROW: &[u8; 64] = b"SBXP1,2026-12-07T18:00:00Z,SALE,PURCHASE,2000,EUR,o-1,c-1,abcd\r\n";

/// The process's peak resident memory so far (`VmHWM`), in KiB; Linux only.
fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Serves one request with a report of `REPORT_BYTES`.
async fn serve_report(listener: tokio::net::TcpListener) {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "the client closed before its request was complete");
        head.extend_from_slice(&buf[..n]);
        assert!(head.len() < 64 * 1024);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(
        head.starts_with(
            "GET /settlements/v1/reports/payout-with-transactions?payment_reference=P1 "
        ),
        "{head}"
    );
    socket
        .write_all(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/csv; charset=utf-8\r\nContent-Length: {REPORT_BYTES}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let chunk: Vec<u8> = ROW.iter().copied().cycle().take(64 * 1024).collect();
    let mut written = 0;
    while written < REPORT_BYTES {
        socket.write_all(&chunk).await.unwrap();
        written += chunk.len() as u64;
    }
    socket.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_report_is_read_as_a_stream_in_bounded_memory() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(serve_report(listener));
    let client = Client::from_config(Config::with_base_url(
        url,
        Credentials::basic("merchant", "secret"),
    ))
    .unwrap();

    let before = peak_kib();
    let call = client.get_payout_report_with_transactions("P1");
    let mut report = tokio::time::timeout(Duration::from_secs(60), call)
        .await
        .expect("the head comes at once")
        .unwrap()
        .into_inner();
    assert_eq!(report.content_length(), Some(REPORT_BYTES));
    assert_eq!(report.content_type(), Some("text/csv; charset=utf-8"));
    let mut rows = 0u64;
    let mut largest_chunk = 0;
    let read = async {
        while let Some(chunk) = report.chunk().await.unwrap() {
            rows += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            largest_chunk = largest_chunk.max(chunk.len());
        }
    };
    tokio::time::timeout(Duration::from_secs(120), read)
        .await
        .expect("200 MB over loopback within two minutes");
    server.await.unwrap();
    assert_eq!(report.received(), REPORT_BYTES);
    assert_eq!(rows, REPORT_BYTES / 64);

    if let (Some(before), Some(after)) = (before, peak_kib()) {
        let grown_mib = (after.saturating_sub(before)) as f64 / 1024.0;
        println!(
            "read {} MiB in chunks of at most {largest_chunk} bytes; peak resident memory {:.1} MiB before, {:.1} MiB after (+{grown_mib:.1} MiB)",
            REPORT_BYTES / (1024 * 1024),
            before as f64 / 1024.0,
            after as f64 / 1024.0,
        );
        // Far below the report's size: the body was never held whole.
        assert!(grown_mib < 32.0, "peak memory grew by {grown_mib:.1} MiB");
    }
}
