//! What the client tells `tracing`: a span per call and per attempt, with
//! the operation, attempt, status and correlation id, and never a secret.
//!
//! In a test binary of its own: `tracing` caches per call site whether
//! anyone listens, and tests running in parallel without a subscriber
//! would race with the one installed here.

use std::future::IntoFuture;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use klarna_ordermanagement::models::CaptureObject;
use klarna_ordermanagement::{
    Captures, Client, Config, Credentials, IdempotencyKey, OrderId, RetryPolicy,
};
use klarna_tests::server::{CannedResponse, TestServer};

const ORDER_ID: &str = "f3392f8b-6116-4073-ab96-e330819e2c07";
const PASSWORD: &str = "s3cr3t-for-the-tracing-test";

/// Spans and events as text, as a log would show them.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut line = format!("span {}", span.metadata().name());
        span.record(&mut Fields(&mut line));
        let mut lines = self.0.lock().unwrap();
        lines.push(line);
        tracing::span::Id::from_u64(lines.len() as u64)
    }

    fn record(&self, span: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut line = format!("record {}", span.into_u64());
        values.record(&mut Fields(&mut line));
        self.0.lock().unwrap().push(line);
    }

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = String::from("event");
        event.record(&mut Fields(&mut line));
        self.0.lock().unwrap().push(line);
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn calls_and_attempts_are_traced_without_secrets() {
    let server = TestServer::start();
    server.respond(CannedResponse::new(503).header("Klarna-Correlation-Id", "c-first"));
    server.respond(
        CannedResponse::new(201)
            .header("Capture-Id", "c1")
            .header("Location", "/ordermanagement/v1/orders/o/captures/c1")
            .header("Klarna-Correlation-Id", "c-second"),
    );
    let config = Config::with_base_url(server.url(), Credentials::basic("PK0001", PASSWORD))
        .retry(RetryPolicy::default().initial_backoff(Duration::from_millis(5)));
    let client = Client::from_config(config).unwrap();
    let capture = CaptureObject::new(100);
    let order_id = OrderId::new(ORDER_ID);
    let recorder = Recorder::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = IdempotencyKey::from("traced-key-1");
    tracing::subscriber::with_default(recorder.clone(), || {
        runtime
            .block_on(
                client
                    .capture_order(&order_id, &capture)
                    .idempotency_key(key)
                    .into_future(),
            )
            .unwrap();
    });
    let log = recorder.0.lock().unwrap().join("\n");
    assert!(
        log.contains(r#"span klarna.call operation="capture_order" method=POST idempotency_key="traced-key-1""#),
        "{log}"
    );
    assert!(
        log.contains("span klarna.attempt operation=\"capture_order\" attempt=1"),
        "{log}"
    );
    assert!(
        log.contains("span klarna.attempt operation=\"capture_order\" attempt=2"),
        "{log}"
    );
    assert!(log.contains("status=503"), "{log}");
    assert!(log.contains("correlation_id=\"c-first\""), "{log}");
    assert!(log.contains("correlation_id=\"c-second\""), "{log}");
    assert!(log.contains("attempts=2"), "{log}");
    assert!(log.contains("retrying"), "{log}");
    assert!(!log.contains(PASSWORD), "{log}");
    assert!(!log.to_ascii_lowercase().contains("basic "), "{log}");
}
