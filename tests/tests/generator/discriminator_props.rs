//! Discriminated unions round-trip, and the tag is the variant's: property
//! tests over `PaymentMethod` of `tests/fixtures/composition.yaml` (a
//! `oneOf` of `Card`, tagged `card`, and `Invoice`, tagged `invoice` or
//! `bill`, by the property `method`).
//!
//! `Card` has one tag value, so it holds no tag field: whatever a caller
//! builds, it is written as `method: card`. `Invoice` has two, so the
//! document's field stays and says which. A tag this SDK does not know
//! decodes to `Other`, kept and written back exactly.

use klarna_tests::fixtures::composition::{Card, Invoice, PaymentMethod};
use proptest::prelude::*;
use serde_json::{json, Value};

fn card() -> impl Strategy<Value = Card> {
    proptest::option::of("[0-9]{4}").prop_map(|last4| Card { last4 })
}

fn invoice() -> impl Strategy<Value = Invoice> {
    (
        prop_oneof![Just("invoice"), Just("bill")],
        proptest::option::of(any::<i32>()),
    )
        .prop_map(|(method, due_in_days)| Invoice {
            due_in_days,
            ..Invoice::new(method)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_card_is_always_sent_with_its_own_tag_and_decodes_back(card in card()) {
        let sent = serde_json::to_value(PaymentMethod::Card(card.clone())).unwrap();
        prop_assert_eq!(&sent["method"], "card");
        // Alone, too: the tag belongs to the type, not to the union.
        prop_assert_eq!(&serde_json::to_value(&card).unwrap()["method"], "card");
        let back: PaymentMethod = serde_json::from_value(sent).unwrap();
        prop_assert_eq!(back, PaymentMethod::Card(card));
    }

    #[test]
    fn an_invoice_keeps_whichever_of_its_tags_it_has(invoice in invoice()) {
        let sent = serde_json::to_value(PaymentMethod::Invoice(invoice.clone())).unwrap();
        prop_assert_eq!(&sent["method"], invoice.method.as_str());
        let back: PaymentMethod = serde_json::from_value(sent).unwrap();
        prop_assert_eq!(back, PaymentMethod::Invoice(invoice));
    }

    #[test]
    fn an_unknown_tag_is_kept_and_written_back_as_received(
        tag in "[a-z_]{1,12}",
        extra in proptest::option::of(any::<i64>()),
    ) {
        prop_assume!(!["card", "invoice", "bill"].contains(&tag.as_str()));
        let mut received = json!({ "method": tag });
        if let Some(extra) = extra {
            received["extra"] = json!(extra);
        }
        let decoded: PaymentMethod = serde_json::from_value(received.clone()).unwrap();
        prop_assert_eq!(&decoded, &PaymentMethod::Other(received.clone()));
        prop_assert_eq!(serde_json::to_value(&decoded).unwrap(), received);
    }
}

#[test]
fn a_card_tagged_otherwise_is_not_a_card() {
    // The tag decides: an object shaped like a card but tagged `invoice` is
    // read as an invoice, never as a card that carries a wrong tag.
    let decoded: PaymentMethod =
        serde_json::from_value(json!({ "method": "invoice", "last4": "4242" })).unwrap();
    assert!(
        matches!(decoded, PaymentMethod::Invoice(ref i) if i.method == "invoice"),
        "{decoded:?}"
    );
    let untagged: Value = serde_json::to_value(Card::default()).unwrap();
    assert_eq!(untagged, json!({ "method": "card" }));
}
