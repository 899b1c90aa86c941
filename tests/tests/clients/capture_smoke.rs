//! End to end through a real socket: a partial capture with an idempotency
//! key sends exactly these bytes and reads back the capture id. (A refused
//! capture is a real over-capture against the stand-in, in
//! `crates/klarna-sandbox/tests/refused_capture.rs`.)

use klarna_ordermanagement::models::CaptureObject;
use klarna_ordermanagement::{
    CaptureId, Captures, Client, Config, Credentials, IdempotencyKey, OrderId,
};
use klarna_tests::server::{CannedResponse, TestServer};
use serde_json::json;

fn client(server: &TestServer) -> Client {
    Client::from_config(Config::with_base_url(
        server.url(),
        Credentials::basic("PK0001", "s3cret"),
    ))
    .unwrap()
}

fn capture() -> CaptureObject {
    CaptureObject {
        description: Some("Shipped the tomatoes".into()),
        ..CaptureObject::new(6000)
    }
}

#[tokio::test]
async fn partial_capture_reads_back_the_capture_id() {
    let server = TestServer::start();
    server.respond(
        CannedResponse::new(201)
            .header("Capture-Id", "4ba29b50-be7b-44f5-a492-113e6a865e22")
            .header(
                "Location",
                "https://api.klarna.com/ordermanagement/v1/orders/o%2F1/captures/4ba29b50",
            ),
    );
    let key = IdempotencyKey::from("capture-o1-shipment-1");
    let created = client(&server)
        .capture_order(&OrderId::new("o/1"), &capture())
        .idempotency_key(key.clone())
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(
        created.capture_id,
        CaptureId::new("4ba29b50-be7b-44f5-a492-113e6a865e22")
    );
    assert_eq!(created.idempotency_key(), Some(&key));

    let request = server.single_request();
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/ordermanagement/v1/orders/o%2F1/captures");
    assert_eq!(
        request.header("klarna-idempotency-key"),
        Some("capture-o1-shipment-1")
    );
    assert_eq!(
        request.header("authorization"),
        Some("Basic UEswMDAxOnMzY3JldA==")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(request
        .header("user-agent")
        .unwrap()
        .starts_with("klarna-rust-sdk/"));
    assert_eq!(
        request.json(),
        json!({ "captured_amount": 6000, "description": "Shipped the tomatoes" })
    );
}
