//! Webhook events of the Payment API, parsed from the body Klarna posts.
//!
//! Every event is an envelope: [`WebhookEventMetadata`] says what happened
//! (`event_type`), when, and for which account; the payload's shape depends
//! on the event type. The payment request state changes of Klarna's
//! reference are typed; any other event type is kept as the JSON it came
//! as, so a receiver keeps working when Klarna adds events. Hand-written;
//! it needs `serde_json` but no HTTP client.
//!
//! ```
//! use klarna_models::payment_api::webhooks::{EventPayload, WebhookEvent};
//! use klarna_models::payment_api::PaymentRequestState;
//!
//! let body = br#"{
//!   "metadata": {"event_type": "payment.request.state-change.authorized", "event_id": "e-1"},
//!   "payload": {"payment_request_id": "krn:payment:eu1:request:1", "state": "AUTHORIZED"}
//! }"#;
//! let event = WebhookEvent::from_slice(body)?;
//! match &event.payload {
//!     EventPayload::PaymentRequestAuthorized(change) => {
//!         assert_eq!(change.state, PaymentRequestState::Authorized);
//!     }
//!     other => println!("not handled: {other:?}"),
//! }
//! # Ok::<(), serde_json::Error>(())
//! ```

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{PaymentRequestStateChangePayload, WebhookEventMetadata};

/// `event_type` of a payment request that moved to SUBMITTED.
pub const PAYMENT_REQUEST_SUBMITTED: &str = "payment.request.state-change.submitted";
/// `event_type` of a payment request that moved to AUTHORIZED.
pub const PAYMENT_REQUEST_AUTHORIZED: &str = "payment.request.state-change.authorized";

/// One webhook event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEvent {
    pub metadata: WebhookEventMetadata,
    pub payload: EventPayload,
}

/// The payload of an event, typed by the event type in its metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventPayload {
    /// [`PAYMENT_REQUEST_SUBMITTED`]
    PaymentRequestSubmitted(PaymentRequestStateChangePayload),
    /// [`PAYMENT_REQUEST_AUTHORIZED`]
    PaymentRequestAuthorized(PaymentRequestStateChangePayload),
    /// An event type this SDK does not type, as sent (`null` when the event
    /// had no payload). Later versions may type more events, so match on
    /// the metadata's `event_type` rather than on this variant.
    Other(serde_json::Value),
}

impl WebhookEvent {
    /// Parses a webhook body. Unknown fields and unknown event types are no
    /// error; a malformed body, or a typed event whose payload lacks
    /// `payment_request_id` or `state`, is.
    pub fn from_slice(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

impl EventPayload {
    /// The payload of any payment request state change this SDK types.
    pub fn payment_request_state_change(&self) -> Option<&PaymentRequestStateChangePayload> {
        match self {
            EventPayload::PaymentRequestSubmitted(change)
            | EventPayload::PaymentRequestAuthorized(change) => Some(change),
            EventPayload::Other(_) => None,
        }
    }
}

impl PaymentRequestStateChangePayload {
    /// The payment transaction an AUTHORIZED change created. Klarna's
    /// reference example spells the field `payment_Transaction_id`, the
    /// rest of the API `payment_transaction_id`; either is read, so the
    /// event is understood whichever Klarna sends.
    pub fn transaction_id(&self) -> Option<&str> {
        self.payment_transaction_id.as_deref().or_else(|| {
            self.additional_properties
                .get("payment_Transaction_id")
                .and_then(serde_json::Value::as_str)
        })
    }
}

impl<'de> Deserialize<'de> for WebhookEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The payload is read as JSON first: its type depends on a field
        // of its sibling, which serde's tagging attributes cannot express.
        #[derive(Deserialize)]
        struct Envelope {
            metadata: WebhookEventMetadata,
            #[serde(default)]
            payload: serde_json::Value,
        }
        let Envelope { metadata, payload } = Envelope::deserialize(deserializer)?;
        let typed = |payload| {
            serde_json::from_value::<PaymentRequestStateChangePayload>(payload).map_err(|e| {
                D::Error::custom(format!("payload of {} event: {e}", metadata.event_type))
            })
        };
        let payload = match metadata.event_type.as_str() {
            PAYMENT_REQUEST_SUBMITTED => EventPayload::PaymentRequestSubmitted(typed(payload)?),
            PAYMENT_REQUEST_AUTHORIZED => EventPayload::PaymentRequestAuthorized(typed(payload)?),
            _ => EventPayload::Other(payload),
        };
        Ok(WebhookEvent { metadata, payload })
    }
}

impl Serialize for WebhookEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Envelope<'a> {
            metadata: &'a WebhookEventMetadata,
            payload: &'a EventPayload,
        }
        Envelope {
            metadata: &self.metadata,
            payload: &self.payload,
        }
        .serialize(serializer)
    }
}

impl Serialize for EventPayload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            EventPayload::PaymentRequestSubmitted(change)
            | EventPayload::PaymentRequestAuthorized(change) => change.serialize(serializer),
            EventPayload::Other(value) => value.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment_api::PaymentRequestState;
    use serde_json::json;

    fn event(event_type: &str, payload: serde_json::Value) -> serde_json::Value {
        json!({
            "metadata": { "event_type": event_type, "event_id": "e-1" },
            "payload": payload
        })
    }

    fn parse(value: &serde_json::Value) -> Result<WebhookEvent, serde_json::Error> {
        WebhookEvent::from_slice(&serde_json::to_vec(value).unwrap())
    }

    #[test]
    fn unknown_event_types_are_kept_as_json() {
        let raw = event(
            "payment.transaction.captured",
            json!({ "payment_transaction_id": "t-1", "amounts": [1, 2.5] }),
        );
        let parsed = parse(&raw).unwrap();
        assert_eq!(parsed.payload, EventPayload::Other(raw["payload"].clone()));
        assert_eq!(parsed.payload.payment_request_state_change(), None);
        assert_eq!(serde_json::to_value(&parsed).unwrap(), raw);
    }

    #[test]
    fn unknown_states_and_fields_still_parse() {
        let raw = event(
            PAYMENT_REQUEST_SUBMITTED,
            json!({
                "payment_request_id": "r-1",
                "state": "SOMETHING_NEW",
                "previous_state": "ALSO_NEW",
                "new_field": { "nested": true }
            }),
        );
        let parsed = parse(&raw).unwrap();
        let change = parsed.payload.payment_request_state_change().unwrap();
        assert_eq!(
            change.state,
            PaymentRequestState::Unknown("SOMETHING_NEW".into())
        );
        assert_eq!(serde_json::to_value(&parsed).unwrap(), raw);
    }

    #[test]
    fn both_spellings_of_the_transaction_id_are_read() {
        for field in ["payment_transaction_id", "payment_Transaction_id"] {
            let raw = event(
                PAYMENT_REQUEST_AUTHORIZED,
                json!({ "payment_request_id": "r-1", "state": "AUTHORIZED", field: "t-9" }),
            );
            let parsed = parse(&raw).unwrap();
            let change = parsed.payload.payment_request_state_change().unwrap();
            assert_eq!(change.transaction_id(), Some("t-9"), "{field}");
        }
    }

    #[test]
    fn a_missing_payload_of_an_unknown_event_is_null() {
        let raw = json!({ "metadata": { "event_type": "x.y", "event_id": "e-2" } });
        let parsed = parse(&raw).unwrap();
        assert_eq!(parsed.payload, EventPayload::Other(serde_json::Value::Null));
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        for body in [
            &b""[..],
            b"[]",
            b"{\"metadata\": {}}",
            b"{\"metadata\": {\"event_type\": 7, \"event_id\": \"e\"}}",
            b"{\"metadata\": {\"event_type\": \"payment.request.state-change.submitted\", \"event_id\": \"e\"}, \"payload\": {\"state\": \"SUBMITTED\"}}",
            b"{\"metadata\": {\"event_type\": \"payment.request.state-change.authorized\", \"event_id\": \"e\"}, \"payload\": 3}",
            b"\xff\xfe",
        ] {
            assert!(WebhookEvent::from_slice(body).is_err(), "{body:?}");
        }
    }
}
