//! A caller written once compiles against two versions of one API, the
//! second with an optional query parameter and an optional body field more
//! (`tests/fixtures/evolution_v1.yaml`, `evolution_v2.yaml`): regenerating
//! after Klarna adds such things breaks nobody.

use klarna_tests::fixtures::{evolution_v1, evolution_v2};
use klarna_tests::server::{CannedResponse, TestServer};

/// The same source, expanded once per version.
macro_rules! ship {
    ($api:ident) => {
        pub async fn ship(client: &$api::Client) -> i64 {
            use $api::Shipments;
            let shipment = $api::models::Shipment {
                carrier: Some("DHL".into()),
                ..$api::models::Shipment::new(600)
            };
            let created = client
                .create_shipment(&$api::OrderId::new("order-1"), &shipment)
                .await
                .expect("the server answers 201");
            created.into_inner().amount
        }
    };
}

mod v1 {
    use super::evolution_v1;
    ship!(evolution_v1);
}

mod v2 {
    use super::evolution_v2;
    ship!(evolution_v2);
}

fn server() -> TestServer {
    let server = TestServer::start();
    server.respond(CannedResponse::json(
        201,
        &serde_json::json!({"amount": 600, "carrier": "DHL"}),
    ));
    server
}

fn config(server: &TestServer) -> klarna_runtime::Config {
    klarna_runtime::Config::with_base_url(
        server.url(),
        klarna_runtime::Credentials::basic("u", "p"),
    )
}

#[tokio::test]
async fn a_v1_caller_compiles_and_runs_against_both_versions() {
    let old = server();
    let client = evolution_v1::Client::from_config(config(&old)).unwrap();
    assert_eq!(v1::ship(&client).await, 600);
    let sent = old.single_request();
    assert_eq!(sent.target, "/orders/order-1/shipments");
    assert_eq!(
        sent.json(),
        serde_json::json!({"amount": 600, "carrier": "DHL"})
    );

    let new = server();
    let client = evolution_v2::Client::from_config(config(&new)).unwrap();
    assert_eq!(v2::ship(&client).await, 600);
    // What v2 added and the caller did not set is not sent.
    let sent = new.single_request();
    assert_eq!(sent.target, "/orders/order-1/shipments");
    assert_eq!(
        sent.json(),
        serde_json::json!({"amount": 600, "carrier": "DHL"})
    );

    // And a v2 caller can use what is new.
    use evolution_v2::Shipments;
    let newer = server();
    let client = evolution_v2::Client::from_config(config(&newer)).unwrap();
    let shipment = evolution_v2::models::Shipment {
        tracking_number: Some("JJD0001".into()),
        ..evolution_v2::models::Shipment::new(600)
    };
    client
        .create_shipment(&evolution_v2::OrderId::new("order-1"), &shipment)
        .notify(true)
        .await
        .unwrap();
    let sent = newer.single_request();
    assert_eq!(sent.target, "/orders/order-1/shipments?notify=true");
    assert_eq!(sent.json()["tracking_number"], "JJD0001");
}
