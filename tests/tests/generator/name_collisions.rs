//! Names that map to the same Rust name are never merged: schemas, fields,
//! operations and parameters of `tests/fixtures/collisions.yaml` each get a
//! distinct name by the README's rule (idiomatic names first, then the
//! lowest free numeric suffix), and each still reaches its own JSON name or
//! wire name. The fixture's client is compiled into `klarna-tests`.

use std::time::Duration;

use klarna_runtime::{Config, Credentials, IdempotencyKey};
use klarna_tests::fixtures::collisions::{models, Client, OrderId, Orders};
use klarna_tests::server::{CannedResponse, TestServer};
use serde_json::json;

fn client(server: &TestServer) -> Client {
    let config = Config::with_base_url(server.url(), Credentials::basic("user", "secret"))
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10));
    Client::from_config(config).unwrap()
}

#[test]
fn schemas_differing_in_case_are_three_types() {
    // `Address` is already idiomatic and keeps its name; `address` and
    // `ADDRESS` follow in document order.
    let upper: models::Address = serde_json::from_value(json!({ "street": "Main" })).unwrap();
    let lower: models::Address2 = serde_json::from_value(json!({ "line": "Main" })).unwrap();
    let shout: models::Address3 = serde_json::from_value(json!({ "zip": "123" })).unwrap();
    assert_eq!(upper.street.as_deref(), Some("Main"));
    assert_eq!(lower.line.as_deref(), Some("Main"));
    assert_eq!(shout.zip.as_deref(), Some("123"));
}

#[test]
fn schemas_named_like_the_generated_deserialize_code_compile_and_decode() {
    let value = json!({
        "d": { "deserializer": "x", "key": "k", "map": 3 },
        "e": { "self": "me" }
    });
    let partial: models::Partial2 = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(partial.d.map, Some(3));
    assert_eq!(partial.e.self_, "me");
    assert_eq!(serde_json::to_value(&partial).unwrap(), value);
    let missing = serde_json::from_value::<models::E2>(json!({})).unwrap_err();
    assert!(
        missing.to_string().contains("missing field `self`"),
        "{missing}"
    );
}

#[test]
fn fields_differing_in_spelling_keep_their_own_values() {
    let input = json!({
        "fooBar": "text",
        "foo_bar": 7,
        "Foo-Bar": true,
        "type": "lower",
        "Type": "upper"
    });
    let clash: models::FieldClash = serde_json::from_value(input.clone()).unwrap();
    assert_eq!(clash.foo_bar, 7, "the idiomatic name claims first");
    assert_eq!(clash.foo_bar2, "text");
    assert_eq!(clash.foo_bar3, Some(true));
    assert_eq!(clash.r#type.as_deref(), Some("lower"));
    assert_eq!(clash.type2.as_deref(), Some("upper"));
    assert_eq!(serde_json::to_value(&clash).unwrap(), input);
}

#[tokio::test]
async fn operations_and_parameters_that_collide_reach_their_own_endpoints() {
    let server = TestServer::start();
    let client = client(&server);
    server.respond(CannedResponse::json(200, &json!({ "street": "s" })));
    server.respond(CannedResponse::json(200, &json!({})));
    server.respond(CannedResponse::new(204));

    // `getOrder`, `get_order` and `GetOrder`, in document order; the query
    // `orderId` and header `Order-Id` next to the path `order_id` are the
    // setters `order_id2` and `order_id3`.
    let first = client
        .get_order(&OrderId::new("a"))
        .order_id2("b")
        .order_id3("c")
        .await
        .expect("getOrder");
    assert_eq!(first.street.as_deref(), Some("s"));
    let second = client
        .get_order2(&OrderId::new("d"))
        .await
        .expect("get_order");
    assert_eq!(second.line, None);
    // `body`, `idempotency_key` and `call` are names the request uses
    // itself, and `self` is a keyword: the parameters take suffixes.
    let clash: models::FieldClash =
        serde_json::from_value(json!({ "fooBar": "x", "foo_bar": 1 })).unwrap();
    let key = IdempotencyKey::from("key-1");
    let items = ["i1".to_owned(), "i2".to_owned()];
    client
        .get_order3("q-body", &clash)
        .idempotency_key2("q-key")
        .call2("q-call")
        .value("q-value")
        .item(&items[..])
        .self_("h-self")
        .idempotency_key(key)
        .await
        .expect("GetOrder");

    let requests = server.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].target, "/orders/a?orderId=b");
    assert_eq!(requests[0].header("order-id"), Some("c"));
    assert_eq!(requests[1].method, "GET");
    assert_eq!(requests[1].target, "/v2/orders/d");
    assert_eq!(requests[2].method, "POST");
    assert_eq!(
        requests[2].target,
        "/orders?body=q-body&idempotency_key=q-key&call=q-call&value=q-value&item=i1&item=i2"
    );
    assert_eq!(requests[2].header("self"), Some("h-self"));
    assert_eq!(requests[2].header("klarna-idempotency-key"), Some("key-1"));
    assert_eq!(requests[2].json(), json!({ "fooBar": "x", "foo_bar": 1 }));
}
