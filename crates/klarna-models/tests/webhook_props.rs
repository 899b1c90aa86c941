//! Webhook verification never panics, whatever arrives at a webhook URL, and
//! accepts exactly the bodies signed with a key it holds.

#![cfg(feature = "payment_api")]

use klarna_models::payment_api::webhooks::{SigningKey, SigningKeys, VerifyError, WebhookEvent};
use proptest::prelude::*;

const KEY_ID: &str = "krn:partner:global:notification:signing-key:1";
const SECRET: &str = "property-test-secret";

fn keys() -> SigningKeys {
    SigningKeys::new().with(KEY_ID, SECRET)
}

/// Header values as a forger might send them: any text, hex- and
/// base64-looking runs of the accepted lengths, or nothing.
fn header() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        any::<String>().prop_map(Some),
        "[0-9a-fA-F]{62,66}".prop_map(Some),
        "[A-Za-z0-9+/_-]{42,44}={0,2}".prop_map(Some),
        Just(Some(KEY_ID.to_owned())),
    ]
}

/// Bodies: random bytes, and JSON-ish text near a real event.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        "\\{\"metadata\": \\{\"event_type\": \"[a-z.-]{0,40}\", \"event_id\": \"[a-z0-9-]{0,10}\"\\}(, \"payload\": [0-9a-z\\[\\]{}\":, ]{0,40})?\\}"
            .prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bodies_and_headers_are_refused_without_panicking(
        body in body(),
        signature in header(),
        key_id in header(),
    ) {
        let keys = keys();
        let result = WebhookEvent::verify(&body, signature.as_deref(), key_id.as_deref(), &keys);
        // A random signature matching the body would be a forged MAC.
        let signed = SigningKey::new(SECRET).sign(&body);
        if signature.as_deref().map(str::trim).map(str::to_ascii_lowercase) != Some(signed) {
            prop_assert!(result.is_err());
        }
        if let Err(e) = result {
            // Every refusal can be shown, and none quotes the secret.
            let shown = format!("{e} {e:?}");
            prop_assert!(!shown.contains(SECRET), "{}", shown);
        }
    }

    #[test]
    fn a_signed_body_passes_the_signature_check(body in body()) {
        let signature = SigningKey::new(SECRET).sign(&body);
        let result = WebhookEvent::verify(&body, Some(&signature), Some(KEY_ID), &keys());
        // It may still fail to be an event, but never for its signature.
        prop_assert!(
            !matches!(result, Err(VerifyError::BadSignature | VerifyError::MalformedSignature | VerifyError::UnknownKeyId(_) | VerifyError::MissingHeader(_))),
            "{result:?}"
        );
    }
}
