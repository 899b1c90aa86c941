//! OpenAPI 3.1 documents: `tests/fixtures/openapi31.yaml` (one of each
//! construct `load` rewrites into 3.0 form) and `webhooks31.yaml` (webhooks,
//! no paths) are generated and compiled into this crate; here their types
//! decode what the constructs allow, and what has no form in the model is
//! refused with its JSON pointer.

use std::path::Path;

use klarna_runtime::Nullable;
use klarna_tests::fixtures::openapi31::models::{Collar, Owner, Pet, PetHome, PetKind};
use klarna_tests::fixtures::webhooks31::PetCreated;
use serde_json::json;

#[test]
fn a_type_array_with_null_is_an_optional_field_that_is_absent_null_or_a_value() {
    for (nickname, expected) in [
        (json!(null), Nullable::Null),
        (json!("Rex"), Nullable::Value("Rex".to_owned())),
    ] {
        let sent = json!({
            "id": "p-1", "kind": "pet", "weight_grams": 1200, "nickname": nickname
        });
        let pet: Pet = serde_json::from_value(sent.clone()).unwrap();
        assert_eq!(pet.nickname, expected);
        // Written back as received: `null` stays `null`.
        assert_eq!(serde_json::to_value(&pet).unwrap(), sent);
    }
    let pet: Pet =
        serde_json::from_value(json!({ "id": "p-1", "kind": "pet", "weight_grams": 1 })).unwrap();
    assert_eq!(pet.nickname, Nullable::Absent);
    assert!(serde_json::to_value(&pet)
        .unwrap()
        .get("nickname")
        .is_none());
}

#[test]
fn const_is_an_enum_of_one_value() {
    let pet: Pet =
        serde_json::from_value(json!({ "id": "p-1", "kind": "pet", "weight_grams": 1 })).unwrap();
    assert_eq!(pet.kind, PetKind::Pet);
    assert_eq!(serde_json::to_value(&pet).unwrap()["kind"], "pet");
}

#[test]
fn a_ref_with_sibling_keywords_is_the_referenced_type_and_the_siblings() {
    // `home`: Address's `street` and its own required `country`.
    let home: PetHome =
        serde_json::from_value(json!({ "street": "Main", "country": "SE" })).unwrap();
    assert_eq!(home.street.as_deref(), Some("Main"));
    assert_eq!(home.country, "SE");
    assert!(serde_json::from_value::<PetHome>(json!({ "street": "Main" })).is_err());
    // `owner`: a description beside the `$ref` changes nothing.
    let pet = Pet {
        owner: Some(Owner::new("Ann")),
        ..Pet::new("p-1", PetKind::Pet, 1)
    };
    assert_eq!(
        serde_json::to_value(&pet).unwrap()["owner"],
        json!({ "name": "Ann" })
    );
}

#[test]
fn defs_become_types_and_any_of_with_null_is_nullable() {
    let pet: Pet = serde_json::from_value(json!({
        "id": "p-1", "kind": "pet", "weight_grams": 1,
        "collar": { "color": "red" }, "tag": null
    }))
    .unwrap();
    assert_eq!(
        pet.collar.and_then(|c: Collar| c.color).as_deref(),
        Some("red")
    );
    assert_eq!(pet.tag, Nullable::Null);
}

#[test]
fn a_ref_beside_a_type_array_with_null_is_that_type_or_null() {
    let pet: Pet = serde_json::from_value(json!({
        "id": "p-1", "kind": "pet", "weight_grams": 1, "best_friend": null
    }))
    .unwrap();
    assert_eq!(pet.best_friend, Nullable::Null);
    let pet: Pet = serde_json::from_value(json!({
        "id": "p-1", "kind": "pet", "weight_grams": 1, "best_friend": { "name": "Bo" }
    }))
    .unwrap();
    assert_eq!(pet.best_friend, Nullable::Value(Owner::new("Bo")));
}

/// An operation without `responses` (3.1 allows it) succeeds on any 2xx.
#[tokio::test]
async fn an_operation_without_responses_succeeds_on_any_2xx() {
    use klarna_tests::fixtures::openapi31::{Client, Operations, PetId};
    use klarna_tests::server::{CannedResponse, TestServer};
    let server = TestServer::start();
    server.respond(CannedResponse::new(202));
    let config = klarna_runtime::Config::with_base_url(
        server.url(),
        klarna_runtime::Credentials::basic("u", "p"),
    );
    let client = Client::from_config(config).unwrap();
    let response = client.pat_pet(&PetId::new("p-1")).await.unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(server.single_request().target, "/pets/p-1/pat");
}

#[test]
fn a_webhooks_only_document_gives_models() {
    let event: PetCreated =
        serde_json::from_value(json!({ "pet_id": "p-1", "note": null })).unwrap();
    assert_eq!(event.pet_id, "p-1");
    assert_eq!(event.note, Nullable::Null);
}

#[test]
fn numeric_exclusive_bounds_and_examples_take_their_3_0_form() {
    let file = xtask::workspace_root().join("tests/fixtures/openapi31.yaml");
    let document = xtask::load::load(&file).unwrap();
    let tree = serde_json::to_value(&document.api).unwrap();
    let weight = &tree["components"]["schemas"]["Pet"]["properties"]["weight_grams"];
    assert_eq!(weight["minimum"], 0);
    assert_eq!(weight["exclusiveMinimum"], true);
    assert_eq!(weight["maximum"], 1_000_000);
    assert_eq!(weight["exclusiveMaximum"], true);
    let id = &tree["components"]["schemas"]["Pet"]["properties"]["id"];
    assert_eq!(id["example"], "p-1");
}

fn document(schema: serde_json::Value) -> serde_json::Value {
    json!({
        "openapi": "3.1.0",
        "info": { "title": "One schema", "version": "1" },
        "components": { "schemas": { "Thing": schema } }
    })
}

#[test]
fn what_the_model_cannot_express_is_refused_with_its_place() {
    let cases = [
        (
            document(json!({ "type": "array", "prefixItems": [{ "type": "string" }] })),
            "#/components/schemas/Thing/prefixItems: `prefixItems` is not supported",
        ),
        (
            document(json!({ "type": "object", "properties": { "v": { "type": ["string", "integer"] } } })),
            "#/components/schemas/Thing/properties/v/type: a `type` of several kinds",
        ),
        (
            document(json!({ "type": "object", "properties": { "never": false } })),
            "#/components/schemas/Thing/properties/never: the `false` schema",
        ),
        (
            document(json!({ "if": { "type": "string" }, "then": { "minLength": 1 } })),
            "#/components/schemas/Thing/if: `if` is not supported",
        ),
        (
            json!({
                "openapi": "3.1.0",
                "jsonSchemaDialect": "https://example.com/my-dialect",
                "info": { "title": "Dialect", "version": "1" }
            }),
            "#/jsonSchemaDialect: schema dialect \"https://example.com/my-dialect\" is not supported",
        ),
        (
            json!({
                "openapi": "3.2.0",
                "info": { "title": "Future", "version": "1" }
            }),
            "#/openapi: OpenAPI 3.2.0 is not supported; only 3.0.x and 3.1.x are",
        ),
    ];
    for (document, expected) in cases {
        let error = xtask::generate_value(Path::new("doc.json"), document)
            .err()
            .expect("refused");
        let line = error.to_string();
        assert!(
            line.starts_with(&format!("doc.json: {expected}")),
            "{line}\nexpected: {expected}"
        );
    }
}

fn three_state() -> impl proptest::strategy::Strategy<Value = Nullable<String>> {
    use proptest::prelude::*;
    prop_oneof![
        Just(Nullable::Absent),
        Just(Nullable::Null),
        ".{0,12}".prop_map(Nullable::Value),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 256,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    })]

    /// Absent, `null` and a value each survive a round trip, and each is
    /// written as itself: no key, `null`, the value.
    #[test]
    fn a_nullable_field_round_trips_in_all_three_states(nickname in three_state()) {
        let pet = Pet { nickname: nickname.clone(), ..Pet::new("p-1", PetKind::Pet, 1) };
        let written = serde_json::to_value(&pet).unwrap();
        match &nickname {
            Nullable::Absent => proptest::prop_assert!(written.get("nickname").is_none()),
            Nullable::Null => proptest::prop_assert_eq!(&written["nickname"], &json!(null)),
            Nullable::Value(name) => proptest::prop_assert_eq!(&written["nickname"], &json!(name)),
        }
        let back: Pet = serde_json::from_value(written).unwrap();
        proptest::prop_assert_eq!(back, pet);
    }
}
