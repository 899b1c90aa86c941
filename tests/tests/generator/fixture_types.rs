//! The generated types behave as the generator promises: open enums, renamed
//! fields, unions, recursion, maps, nullability. Each test decodes JSON into
//! a type generated from `tests/fixtures/` and checks the value and, where
//! it matters, the JSON written back.

use klarna_tests::fixtures::{composition, containers, quirks, recursive};
use serde_json::{json, Value};

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(input: &Value) -> (T, Value) {
    let decoded: T = serde_json::from_value(input.clone()).expect("decodes");
    let encoded = serde_json::to_value(&decoded).expect("encodes");
    (decoded, encoded)
}

#[test]
fn unknown_string_enum_value_is_kept_and_written_back() {
    let input = json!({ "lines": [], "status": "PART_CAPTURED_LATER" });
    let (order, output) = round_trip::<containers::Order>(&input);
    assert_eq!(
        order.status,
        containers::OrderStatus::Unknown("PART_CAPTURED_LATER".into())
    );
    assert_eq!(output, input);
}

#[test]
fn known_enum_values_decode_to_their_variants() {
    let (order, _) = round_trip::<containers::Order>(&json!({
        "lines": [{ "quantity": 2, "unit": "kg" }],
        "status": "CAPTURED",
        "priority": -3
    }));
    assert_eq!(order.status, containers::OrderStatus::Captured);
    assert_eq!(
        order.lines[0].unit,
        Some(containers::OrderLinesItemUnit::Kg)
    );
    assert_eq!(order.priority, Some(containers::OrderPriority::Minus3));
    assert_eq!(order.status.as_str(), "CAPTURED");
}

#[test]
fn unknown_integer_enum_value_is_kept() {
    let input = json!({ "lines": [], "status": "AUTHORIZED", "priority": 7 });
    let (order, output) = round_trip::<containers::Order>(&input);
    assert_eq!(order.priority, Some(containers::OrderPriority::Unknown(7)));
    assert_eq!(output, input);
}

#[test]
fn unknown_fields_are_ignored() {
    let order: containers::Order = serde_json::from_value(
        json!({ "lines": [], "status": "AUTHORIZED", "added_next_year": { "x": 1 } }),
    )
    .unwrap();
    assert_eq!(order.status, containers::OrderStatus::Authorized);
}

#[test]
fn missing_required_field_is_an_error_not_a_default() {
    let result = serde_json::from_value::<containers::Order>(json!({ "lines": [] }));
    assert!(result.unwrap_err().to_string().contains("status"));
}

#[test]
fn optional_fields_are_omitted_and_nested_containers_round_trip() {
    let input = json!({
        "lines": [{ "quantity": 1 }],
        "status": "AUTHORIZED",
        "matrix": [[1, 2], [3]],
        "attributes": { "colour": "red" },
        "metadata": { "any": [true, null] },
        "anything": 5,
        "tags": ["a", null],
        "created": "2024-01-01T12:00:00.123456789+01:00"
    });
    let (order, output) = round_trip::<containers::Order>(&input);
    assert_eq!(order.matrix, Some(vec![vec![1, 2], vec![3]]));
    assert_eq!(order.tags, Some(vec![Some("a".to_owned()), None]));
    assert_eq!(output, input, "nothing added, nothing lost");
}

#[test]
fn additional_properties_next_to_declared_ones_are_kept() {
    let input = json!({ "kind": "k", "a": 1, "b": 2 });
    let (extensible, output) = round_trip::<containers::Extensible>(&input);
    assert_eq!(extensible.kind, "k");
    assert_eq!(extensible.additional_properties.len(), 2);
    assert_eq!(output, input);
}

#[test]
fn names_that_are_not_rust_identifiers_keep_their_json_names() {
    let input = json!({
        "self": "s", "match": true, "first name": "Ada", "dotted.name": "d",
        "kebab-name": "k", "3ds_version": "2.1", "camelCaseName": "c", "": "empty"
    });
    let (ids, output) = round_trip::<quirks::Identifiers>(&input);
    assert_eq!(ids.self_.as_deref(), Some("s"));
    assert_eq!(ids.r#match, Some(true));
    assert_eq!(ids.first_name.as_deref(), Some("Ada"));
    assert_eq!(ids.v_3ds_version.as_deref(), Some("2.1"));
    assert_eq!(ids.value.as_deref(), Some("empty"));
    assert_eq!(output, input);
}

#[test]
fn names_differing_only_by_case_stay_distinct_types() {
    // `Address` (a location) and `address` (a postal address) must not merge.
    let location: quirks::Address = serde_json::from_value(json!({
        "country": "SE",
        "postal": { "street_address": "Sveavägen 46", "street_address__2": "a", "street_address_2": "b" }
    }))
    .unwrap();
    let postal: quirks::Address2 = location.postal.unwrap();
    assert_eq!(postal.street_address_2_2.as_deref(), Some("a"));
    assert_eq!(postal.street_address_2.as_deref(), Some("b"));
}

#[test]
fn enum_value_that_collides_with_the_catch_all_still_round_trips() {
    let (value, output) = round_trip::<quirks::Shouting>(&json!("UNKNOWN"));
    assert_eq!(value, quirks::Shouting::Unknown2);
    assert_eq!(output, json!("UNKNOWN"));
    let (value, _) = round_trip::<quirks::Shouting>(&json!("part-captured"));
    assert_eq!(value, quirks::Shouting::PartCaptured2);
}

#[test]
fn enum_of_only_null_is_a_nullable_integer() {
    let (addon, output) =
        round_trip::<quirks::Addon>(&json!({ "price": 1500, "type": "physical" }));
    assert_eq!(addon.price, Some(1500));
    assert_eq!(
        addon.r#type,
        Some(quirks::AddonType::Unknown("physical".into()))
    );
    assert_eq!(output, json!({ "price": 1500, "type": "physical" }));
    let (addon, _) = round_trip::<quirks::Addon>(&json!({ "price": null }));
    assert_eq!(addon.price, None);
}

#[test]
fn all_of_merges_members_in_order() {
    let input = json!({ "id": "o-1", "created_at": "2024-01-01T00:00:00Z", "amount": 100 });
    let (merged, output) = round_trip::<composition::Merged>(&input);
    assert_eq!(merged.id, "o-1");
    assert_eq!(merged.amount, 100);
    assert_eq!(output, input);
    assert!(
        serde_json::from_value::<composition::Merged>(json!({ "id": "x" })).is_err(),
        "amount is required"
    );
}

#[test]
fn discriminator_selects_the_variant_and_keeps_the_tag() {
    let input = json!({ "method": "bill", "due_in_days": 30 });
    let (method, output) = round_trip::<composition::PaymentMethod>(&input);
    let composition::PaymentMethod::Invoice(invoice) = method else {
        panic!("expected Invoice, got {method:?}")
    };
    assert_eq!(invoice.due_in_days, Some(30));
    assert_eq!(output, input);
}

#[test]
fn unknown_discriminator_value_is_kept_as_json() {
    let input = json!({ "method": "crypto", "wallet": "w" });
    let (method, output) = round_trip::<composition::PaymentMethod>(&input);
    assert_eq!(method, composition::PaymentMethod::Other(input.clone()));
    assert_eq!(output, input);
}

#[test]
fn untagged_union_tries_variants_in_order() {
    let (by_id, _) = round_trip::<composition::IdOrObject>(&json!("abc"));
    assert_eq!(by_id, composition::IdOrObject::String("abc".into()));
    let (object, _) =
        round_trip::<composition::IdOrObject>(&json!({ "id": "abc", "expand": true }));
    assert!(matches!(object, composition::IdOrObject::Variant2(_)));
}

#[test]
fn required_nullable_field_is_written_as_null() {
    let holder = composition::Holder::default();
    assert_eq!(
        serde_json::to_value(&holder).unwrap(),
        json!({ "maybe": null })
    );
}

#[test]
fn recursive_types_decode_deeply() {
    let input = json!({
        "value": "a",
        "next": { "value": "b", "next": { "value": "c" } },
        "children": [{ "value": "d", "children": [] }]
    });
    let (node, output) = round_trip::<recursive::Node>(&input);
    assert_eq!(node.next.unwrap().next.unwrap().value, "c");
    assert_eq!(output, input);

    let (expression, _) = round_trip::<recursive::Expression>(
        &json!({ "left": 1, "right": { "left": 2, "right": 3 } }),
    );
    let recursive::Expression::Sum(sum) = expression else {
        panic!("expected a sum")
    };
    assert_eq!(*sum.left, recursive::Expression::I64(1));
}
