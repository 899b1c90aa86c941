//! What the generated `Deserialize` of a struct (through
//! `klarna_runtime::object`) accepts and refuses, beyond what the round-trip
//! tests show: keys that cannot be borrowed, readers, repeated keys, and
//! JSON that is not an object.

use klarna_models::ordermanagement::CaptureObject;

#[test]
fn escaped_keys_and_readers_decode_like_plain_slices() {
    // `captured\u005famount` is `captured_amount` with an escape, which
    // serde_json cannot hand out as a borrowed key.
    let escaped = br#"{"captured\u005famount": 6000, "reference": "r-1"}"#;
    let from_slice: CaptureObject = serde_json::from_slice(escaped).unwrap();
    let from_reader: CaptureObject = serde_json::from_reader(&escaped[..]).unwrap();
    assert_eq!(from_slice.captured_amount, 6000);
    assert_eq!(from_slice.reference.as_deref(), Some("r-1"));
    assert_eq!(from_reader, from_slice);
}

#[test]
fn a_repeated_key_keeps_its_last_value() {
    let capture: CaptureObject =
        serde_json::from_str(r#"{"captured_amount": 1, "captured_amount": 2}"#).unwrap();
    assert_eq!(capture.captured_amount, 2);
}

#[test]
fn a_missing_required_field_is_named_and_null_optional_fields_are_none() {
    let error = serde_json::from_str::<CaptureObject>(r#"{"reference": null}"#).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("missing field `captured_amount`"),
        "{error}"
    );
    let capture: CaptureObject =
        serde_json::from_str(r#"{"captured_amount": 5, "reference": null, "extra": [1, {}]}"#)
            .unwrap();
    assert_eq!(capture.reference, None);
}

#[test]
fn only_objects_are_structs() {
    for json in ["[6000]", "6000", "\"x\"", "null"] {
        let error = serde_json::from_str::<CaptureObject>(json).unwrap_err();
        assert!(
            error.to_string().contains("a JSON object"),
            "{json}: {error}"
        );
    }
}
