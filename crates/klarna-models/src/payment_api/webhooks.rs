//! Webhook events of the Payment API: verified, then parsed from the body
//! Klarna posts.
//!
//! # Verify first
//!
//! Anyone who can reach a webhook URL can post to it, so a receiver must not
//! act on a body before it has checked Klarna's signature.
//! [`WebhookEvent::verify`] does both in one call: it takes the raw body,
//! exactly as received, the `Klarna-Signature` and `Klarna-Signing-Key-Id`
//! headers, and the signing keys the receiver holds, and returns the event
//! only when the signature is right. Answer any [`VerifyError`] with
//! `400 Bad Request`, as Klarna's documentation asks.
//!
//! ```
//! use klarna_models::payment_api::webhooks::{SigningKeys, VerifyError, WebhookEvent};
//!
//! // The secrets `createSigningKey` returned, by their `signing_key_id`.
//! // Two during a rotation: events signed with either are accepted.
//! let keys = SigningKeys::new()
//!     .with("krn:partner:global:notification:signing-key:old", "old-secret")
//!     .with("krn:partner:global:notification:signing-key:new", "new-secret");
//!
//! # let body: &[u8] = br#"{"metadata": {"event_type": "x.y", "event_id": "e-1"}}"#;
//! # let signature = keys.get("krn:partner:global:notification:signing-key:new").unwrap().sign(body);
//! // From the HTTP request: the body as bytes, the headers as text.
//! let key_id = Some("krn:partner:global:notification:signing-key:new");
//! match WebhookEvent::verify(body, Some(signature.as_str()), key_id, &keys) {
//!     Ok(event) => println!("{} {}", event.metadata.event_type, event.metadata.event_id),
//!     Err(VerifyError::UnknownKeyId(id)) => println!("400: no key {id}"),
//!     Err(e) => println!("400: {e}"),
//! }
//! # assert!(WebhookEvent::verify(body, Some(signature.as_str()), key_id, &keys).is_ok());
//! ```
//!
//! What is signed: HMAC-SHA256 of the raw request body, keyed with the
//! signing key's secret as Klarna returned it (its UTF-8 bytes, not decoded).
//! Klarna's documentation names the algorithm and the headers but not how
//! the 32-byte MAC is written in `Klarna-Signature`, so both common text
//! forms are accepted: hex (either case) and base64 (standard or URL-safe
//! alphabet, padded or not). The comparison takes the same time wherever
//! the MAC differs. Nothing is parsed before the signature is checked.
//!
//! # Events
//!
//! Every event is an envelope: [`WebhookEventMetadata`] says what happened
//! (`event_type`), when, and for which account; the payload's shape depends
//! on the event type. Every payment request state change of Klarna's
//! Notification API is typed ([`EventPayload`]); any other event type is
//! kept as the JSON it came as, so a receiver keeps working when Klarna adds
//! events. Hand-written; it needs `serde_json`, `hmac` and `sha2` but no HTTP
//! client.
//!
//! # Duplicates
//!
//! Klarna retries a delivery that was not answered with 200, 201, 202 or
//! 204, for up to 12 hours, so one event can arrive more than once, always
//! with the same `event_id`. [`SeenEvents`] remembers the ids of recent
//! events in a bounded store.
//!
//! [`WebhookEvent::parse_unverified`] parses without any check, for events
//! that were verified elsewhere or for tests.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt;

use hmac::{Hmac, Mac as _};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;

use super::{PaymentRequestStateChangePayload, WebhookEventMetadata};

/// The header that carries the signature of the body.
pub const SIGNATURE_HEADER: &str = "Klarna-Signature";
/// The header that names the signing key the body was signed with.
pub const SIGNING_KEY_ID_HEADER: &str = "Klarna-Signing-Key-Id";

/// `event_type` of a payment request that moved to SUBMITTED.
pub const PAYMENT_REQUEST_SUBMITTED: &str = "payment.request.state-change.submitted";
/// `event_type` of a payment request that moved to PREPARED.
pub const PAYMENT_REQUEST_PREPARED: &str = "payment.request.state-change.prepared";
/// `event_type` of a payment request that moved to IN_PROGRESS.
pub const PAYMENT_REQUEST_IN_PROGRESS: &str = "payment.request.state-change.in-progress";
/// `event_type` of a payment request that moved to PENDING_CONFIRMATION.
pub const PAYMENT_REQUEST_PENDING_CONFIRMATION: &str =
    "payment.request.state-change.pending-confirmation";
/// `event_type` of a payment request that moved to CANCELED.
pub const PAYMENT_REQUEST_CANCELED: &str = "payment.request.state-change.canceled";
/// `event_type` of a payment request that moved to AUTHORIZED.
pub const PAYMENT_REQUEST_AUTHORIZED: &str = "payment.request.state-change.authorized";
/// `event_type` of a payment request that moved to EXPIRED.
pub const PAYMENT_REQUEST_EXPIRED: &str = "payment.request.state-change.expired";
/// `event_type` of a payment request that moved to DECLINED.
pub const PAYMENT_REQUEST_DECLINED: &str = "payment.request.state-change.declined";

/// Every payment request state change event type, in the order of Klarna's
/// Notification API reference.
pub const PAYMENT_REQUEST_STATE_CHANGES: [&str; 8] = [
    PAYMENT_REQUEST_SUBMITTED,
    PAYMENT_REQUEST_PREPARED,
    PAYMENT_REQUEST_IN_PROGRESS,
    PAYMENT_REQUEST_PENDING_CONFIRMATION,
    PAYMENT_REQUEST_CANCELED,
    PAYMENT_REQUEST_AUTHORIZED,
    PAYMENT_REQUEST_EXPIRED,
    PAYMENT_REQUEST_DECLINED,
];

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
    /// [`PAYMENT_REQUEST_PREPARED`]
    PaymentRequestPrepared(PaymentRequestStateChangePayload),
    /// [`PAYMENT_REQUEST_IN_PROGRESS`]
    PaymentRequestInProgress(PaymentRequestStateChangePayload),
    /// [`PAYMENT_REQUEST_PENDING_CONFIRMATION`]
    PaymentRequestPendingConfirmation(PaymentRequestStateChangePayload),
    /// [`PAYMENT_REQUEST_CANCELED`]
    PaymentRequestCanceled(PaymentRequestStateChangePayload),
    /// [`PAYMENT_REQUEST_AUTHORIZED`]
    PaymentRequestAuthorized(PaymentRequestStateChangePayload),
    /// [`PAYMENT_REQUEST_EXPIRED`]
    PaymentRequestExpired(PaymentRequestStateChangePayload),
    /// [`PAYMENT_REQUEST_DECLINED`]
    PaymentRequestDeclined(PaymentRequestStateChangePayload),
    /// An event type this SDK does not type, as sent (`null` when the event
    /// had no payload). Later versions may type more events, so match on
    /// the metadata's `event_type` rather than on this variant.
    Other(serde_json::Value),
}

impl WebhookEvent {
    /// Checks the signature of a webhook body and parses it.
    ///
    /// `signature` and `key_id` are the values of the
    /// [`SIGNATURE_HEADER`] and [`SIGNING_KEY_ID_HEADER`] headers (`None`
    /// when the request lacks one); `body` is the request body exactly as
    /// received, before any JSON parsing. See the [module
    /// documentation](self) for what is signed and which encodings of the
    /// signature are accepted.
    pub fn verify(
        body: &[u8],
        signature: Option<&str>,
        key_id: Option<&str>,
        keys: &SigningKeys,
    ) -> Result<Self, VerifyError> {
        let signature = signature.ok_or(VerifyError::MissingHeader(SIGNATURE_HEADER))?;
        let key_id = key_id.ok_or(VerifyError::MissingHeader(SIGNING_KEY_ID_HEADER))?;
        let key = keys
            .get(key_id)
            .ok_or_else(|| VerifyError::UnknownKeyId(shortened(key_id)))?;
        let mac = decode_mac(signature).ok_or(VerifyError::MalformedSignature)?;
        // `verify_slice` compares in constant time.
        key.mac(body)
            .verify_slice(&mac)
            .map_err(|_| VerifyError::BadSignature)?;
        Self::parse_unverified(body).map_err(VerifyError::MalformedBody)
    }

    /// Parses a webhook body **without checking its signature**: anyone can
    /// post such a body. Use [`WebhookEvent::verify`] on what arrives at a
    /// webhook URL; this is for events verified elsewhere, stored ones and
    /// tests.
    ///
    /// Unknown fields and unknown event types are no error; a malformed
    /// body, or a typed event whose payload lacks `payment_request_id` or
    /// `state`, is.
    pub fn parse_unverified(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

impl EventPayload {
    /// The payload of any payment request state change this SDK types.
    pub fn payment_request_state_change(&self) -> Option<&PaymentRequestStateChangePayload> {
        match self {
            EventPayload::PaymentRequestSubmitted(change)
            | EventPayload::PaymentRequestPrepared(change)
            | EventPayload::PaymentRequestInProgress(change)
            | EventPayload::PaymentRequestPendingConfirmation(change)
            | EventPayload::PaymentRequestCanceled(change)
            | EventPayload::PaymentRequestAuthorized(change)
            | EventPayload::PaymentRequestExpired(change)
            | EventPayload::PaymentRequestDeclined(change) => Some(change),
            EventPayload::Other(_) => None,
        }
    }

    /// The variant that types `event_type`'s payload, or `None` when this
    /// SDK does not type that event.
    fn variant(event_type: &str) -> Option<fn(PaymentRequestStateChangePayload) -> Self> {
        Some(match event_type {
            PAYMENT_REQUEST_SUBMITTED => EventPayload::PaymentRequestSubmitted,
            PAYMENT_REQUEST_PREPARED => EventPayload::PaymentRequestPrepared,
            PAYMENT_REQUEST_IN_PROGRESS => EventPayload::PaymentRequestInProgress,
            PAYMENT_REQUEST_PENDING_CONFIRMATION => EventPayload::PaymentRequestPendingConfirmation,
            PAYMENT_REQUEST_CANCELED => EventPayload::PaymentRequestCanceled,
            PAYMENT_REQUEST_AUTHORIZED => EventPayload::PaymentRequestAuthorized,
            PAYMENT_REQUEST_EXPIRED => EventPayload::PaymentRequestExpired,
            PAYMENT_REQUEST_DECLINED => EventPayload::PaymentRequestDeclined,
            _ => return None,
        })
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

/// The secret of one signing key, as `createSigningKey` returned it. Its
/// `Debug` shows no part of it.
#[derive(Clone)]
pub struct SigningKey {
    secret: Vec<u8>,
}

impl SigningKey {
    /// The key whose secret is `secret`, as Klarna returned it.
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        SigningKey {
            secret: secret.as_ref().to_vec(),
        }
    }

    /// The signature Klarna would send for `body` with this key, in hex:
    /// for tests and for stand-ins of Klarna such as `klarna-sandbox`.
    pub fn sign(&self, body: &[u8]) -> String {
        let mac = self.mac(body).finalize().into_bytes();
        mac.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    fn mac(&self, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as hmac::Mac>::new_from_slice(&self.secret)
            .expect("HMAC takes keys of every length");
        mac.update(body);
        mac
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// The signing keys a receiver accepts, by `signing_key_id`. Holding more
/// than one lets keys be rotated: add the new key, move the webhooks to it,
/// and remove the old one once no more events signed with it can arrive
/// (Klarna retries for up to 12 hours). `Debug` lists the ids only.
#[derive(Clone, Default)]
pub struct SigningKeys {
    keys: BTreeMap<String, SigningKey>,
}

impl SigningKeys {
    pub fn new() -> Self {
        Self::default()
    }

    /// These keys and `secret` under `key_id`.
    pub fn with(mut self, key_id: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        self.insert(key_id, secret);
        self
    }

    /// Adds or replaces the key named `key_id`.
    pub fn insert(&mut self, key_id: impl Into<String>, secret: impl AsRef<[u8]>) {
        self.keys.insert(key_id.into(), SigningKey::new(secret));
    }

    /// Stops accepting the key named `key_id`; whether it was there.
    pub fn remove(&mut self, key_id: &str) -> bool {
        self.keys.remove(key_id).is_some()
    }

    pub fn get(&self, key_id: &str) -> Option<&SigningKey> {
        self.keys.get(key_id)
    }

    /// The ids of the keys held, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeys")
            .field("ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Why a webhook body was refused. Each one is answered with `400`.
#[derive(Debug)]
#[non_exhaustive]
pub enum VerifyError {
    /// The request lacks this header.
    MissingHeader(&'static str),
    /// `Klarna-Signing-Key-Id` names a key the receiver does not hold (as
    /// sent, cut to 100 characters): a key not added yet, one removed too
    /// early, or a forged request.
    UnknownKeyId(String),
    /// `Klarna-Signature` is neither hex nor base64 of a 32-byte MAC.
    MalformedSignature,
    /// The signature does not match the body: the body, the signature or
    /// the key id was changed on the way, or the key's secret is wrong.
    BadSignature,
    /// The signature is right but the body is not a webhook event.
    MalformedBody(serde_json::Error),
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::MissingHeader(header) => write!(f, "webhook without a {header} header"),
            VerifyError::UnknownKeyId(id) => write!(f, "webhook signed with unknown key id `{id}`"),
            VerifyError::MalformedSignature => f.write_str(
                "webhook signature is neither hex nor base64 of an HMAC-SHA256 (32 bytes)",
            ),
            VerifyError::BadSignature => f.write_str("webhook signature does not match the body"),
            VerifyError::MalformedBody(e) => write!(f, "signed webhook body is malformed: {e}"),
        }
    }
}

impl std::error::Error for VerifyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            VerifyError::MalformedBody(e) => Some(e),
            _ => None,
        }
    }
}

/// A header value as an error may quote it: at most 100 characters, so a
/// forged header cannot fill a log.
fn shortened(value: &str) -> String {
    value.chars().take(100).collect()
}

/// The 32 bytes a signature header spells in hex or base64, or `None`.
/// The two cannot be confused: hex takes 64 characters, base64 43 or 44.
fn decode_mac(text: &str) -> Option<[u8; 32]> {
    let text = text.trim().as_bytes();
    let mut mac = [0u8; 32];
    if text.len() == 64 {
        for (byte, pair) in mac.iter_mut().zip(text.chunks_exact(2)) {
            *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        return Some(mac);
    }
    let text = match text {
        [rest @ .., b'='] if text.len() == 44 => rest,
        _ if text.len() == 43 => text,
        _ => return None,
    };
    // 43 base64 digits carry 258 bits: 32 bytes and two bits that must be 0.
    let mut bits: u32 = 0;
    let mut held = 0;
    let mut out = 0;
    for &c in text {
        bits = (bits << 6) | u32::from(base64_digit(c)?);
        held += 6;
        if held >= 8 {
            held -= 8;
            mac[out] = (bits >> held) as u8;
            out += 1;
            bits &= (1 << held) - 1;
        }
    }
    (out == 32 && bits == 0).then_some(mac)
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A digit of either base64 alphabet: `+` and `/` (standard) or `-` and
/// `_` (URL-safe).
fn base64_digit(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// The ids of the most recent events, to tell a repeated delivery from a
/// new event. Bounded: when full, the oldest id is forgotten, so memory
/// stays at `capacity` ids however long the receiver runs.
///
/// Choose the capacity to cover Klarna's retry window (12 hours) at the
/// receiver's event rate. One process's memory is not shared with others
/// and is lost on restart; a receiver run on several machines keeps the
/// ids where all of them see them (a table with a unique `event_id`, say)
/// and uses this type as the model.
///
/// Mark an event seen once it has been handled: a receiver that fails and
/// answers `500` wants the retry, so it calls [`SeenEvents::forget`] (or
/// only inserts after success).
///
/// ```
/// use klarna_models::payment_api::webhooks::{SeenEvents, WebhookEvent};
///
/// let mut seen = SeenEvents::with_capacity(10_000);
/// let body = br#"{"metadata": {"event_type": "x.y", "event_id": "e-1"}}"#;
/// # let event = WebhookEvent::parse_unverified(body).unwrap();
/// // `event` came from `WebhookEvent::verify`.
/// assert!(seen.insert(&event.metadata.event_id), "new: handle it, answer 200");
/// assert!(!seen.insert(&event.metadata.event_id), "repeat: answer 200, do nothing");
/// ```
#[derive(Clone, Debug)]
pub struct SeenEvents {
    capacity: usize,
    order: VecDeque<String>,
    ids: HashSet<String>,
}

impl SeenEvents {
    /// Remembers up to `capacity` ids (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        SeenEvents {
            capacity,
            order: VecDeque::new(),
            ids: HashSet::new(),
        }
    }

    /// Records `event_id`; `true` when it was not seen before (a new event),
    /// `false` for a repeated delivery.
    pub fn insert(&mut self, event_id: &str) -> bool {
        if self.ids.contains(event_id) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.ids.remove(&oldest);
            }
        }
        self.order.push_back(event_id.to_owned());
        self.ids.insert(event_id.to_owned());
        true
    }

    pub fn contains(&self, event_id: &str) -> bool {
        self.ids.contains(event_id)
    }

    /// Forgets `event_id`, so that its next delivery counts as new: for an
    /// event whose handling failed.
    pub fn forget(&mut self, event_id: &str) -> bool {
        if !self.ids.remove(event_id) {
            return false;
        }
        self.order.retain(|id| id != event_id);
        true
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
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
        let event_type = metadata.event_type.as_str();
        let payload = match EventPayload::variant(event_type) {
            Some(variant) => variant(serde_json::from_value(payload).map_err(|e| {
                D::Error::custom(format!("payload of {event_type} event: {e}"))
            })?),
            None => EventPayload::Other(payload),
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
            EventPayload::Other(value) => value.serialize(serializer),
            // Every other variant holds a state change, and `Some(change)`
            // is written as `change`.
            typed => typed.payment_request_state_change().serialize(serializer),
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
        WebhookEvent::parse_unverified(&serde_json::to_vec(value).unwrap())
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
            assert!(WebhookEvent::parse_unverified(body).is_err(), "{body:?}");
        }
    }

    // Known answers: the signatures were computed apart from this code, with
    // Python's standard library:
    //   hmac.new(KEY, BODY, hashlib.sha256).hexdigest()
    //   base64.b64encode(hmac.new(KEY, BODY, hashlib.sha256).digest())
    //   base64.urlsafe_b64encode(...)
    // and ROTATED_KEY the same way for ROTATED_HEX.
    const KEY_ID: &str = "krn:partner:global:notification:signing-key:1";
    const KEY: &str = "kn-test-signing-key-3f9a1c";
    const BODY: &[u8] = br#"{"metadata":{"event_type":"payment.request.state-change.authorized","event_id":"2b1e6f0c-8d4e-4f7a-9c1b-5a3d2e1f0a9b","webhook_id":"krn:partner:global:notification:webhook:1"},"payload":{"payment_request_id":"krn:payment:eu1:request:7","state":"AUTHORIZED","previous_state":"PENDING_CONFIRMATION","payment_transaction_id":"krn:payment:eu1:transaction:9"}}"#;
    const HEX: &str = "e7ebb343cf927ca659f8e302a8637d2a6c58fc5975f8f7b3e4cb6d0a74049801";
    const BASE64: &str = "5+uzQ8+SfKZZ+OMCqGN9KmxY/Fl1+Pez5MttCnQEmAE=";
    const BASE64_URL: &str = "5-uzQ8-SfKZZ-OMCqGN9KmxY_Fl1-Pez5MttCnQEmAE=";
    const ROTATED_KEY_ID: &str = "krn:partner:global:notification:signing-key:2";
    const ROTATED_KEY: &str = "kn-rotated-key-77e0";
    const ROTATED_HEX: &str = "a53593245d556567f7770c9ea46949271cdb3a48775a8177770985a11d139662";

    fn keys() -> SigningKeys {
        SigningKeys::new().with(KEY_ID, KEY)
    }

    fn verify(body: &[u8], signature: &str, key_id: &str, keys: &SigningKeys) -> Result<WebhookEvent, VerifyError> {
        WebhookEvent::verify(body, Some(signature), Some(key_id), keys)
    }

    #[test]
    fn sign_gives_the_independently_computed_mac() {
        assert_eq!(SigningKey::new(KEY).sign(BODY), HEX);
        assert_eq!(SigningKey::new(ROTATED_KEY).sign(BODY), ROTATED_HEX);
        // RFC 4231, test case 2.
        assert_eq!(
            SigningKey::new("Jefe").sign(b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_correct_signature_in_each_accepted_encoding_verifies() {
        let unpadded = BASE64.trim_end_matches('=');
        let upper = HEX.to_ascii_uppercase();
        for signature in [HEX, upper.as_str(), BASE64, BASE64_URL, unpadded, " e7ebb343cf927ca659f8e302a8637d2a6c58fc5975f8f7b3e4cb6d0a74049801 "] {
            let event = verify(BODY, signature, KEY_ID, &keys()).unwrap_or_else(|e| panic!("{signature}: {e}"));
            assert_eq!(event.metadata.event_id, "2b1e6f0c-8d4e-4f7a-9c1b-5a3d2e1f0a9b");
            let EventPayload::PaymentRequestAuthorized(change) = &event.payload else {
                panic!("{:?}", event.payload);
            };
            assert_eq!(change.transaction_id(), Some("krn:payment:eu1:transaction:9"));
        }
    }

    #[test]
    fn a_flipped_byte_in_the_body_is_refused() {
        for at in [0, BODY.len() / 2, BODY.len() - 1] {
            let mut body = BODY.to_vec();
            body[at] ^= 0x01;
            assert!(
                matches!(verify(&body, HEX, KEY_ID, &keys()), Err(VerifyError::BadSignature)),
                "byte {at}"
            );
        }
        // A body that still parses, with another amount of whitespace.
        let mut spaced = BODY.to_vec();
        spaced.push(b' ');
        assert!(matches!(verify(&spaced, HEX, KEY_ID, &keys()), Err(VerifyError::BadSignature)));
    }

    #[test]
    fn a_flipped_character_in_the_signature_is_refused() {
        for signature in [HEX, BASE64] {
            for at in [0, 10, 30] {
                let mut flipped = signature.as_bytes().to_vec();
                flipped[at] = if flipped[at] == b'a' { b'b' } else { b'a' };
                let flipped = String::from_utf8(flipped).unwrap();
                assert!(
                    matches!(verify(BODY, &flipped, KEY_ID, &keys()), Err(VerifyError::BadSignature)),
                    "{flipped}"
                );
            }
        }
    }

    #[test]
    fn a_changed_key_id_is_refused() {
        let changed = KEY_ID.replace(":1", ":3");
        match verify(BODY, HEX, &changed, &keys()) {
            Err(VerifyError::UnknownKeyId(id)) => assert_eq!(id, changed),
            other => panic!("{other:?}"),
        }
        // Naming the other key a receiver holds does not help either.
        let both = keys().with(ROTATED_KEY_ID, ROTATED_KEY);
        assert!(matches!(verify(BODY, HEX, ROTATED_KEY_ID, &both), Err(VerifyError::BadSignature)));
        assert!(matches!(verify(BODY, ROTATED_HEX, KEY_ID, &both), Err(VerifyError::BadSignature)));
    }

    #[test]
    fn a_rotated_key_works_next_to_the_old_one() {
        let mut keys = keys().with(ROTATED_KEY_ID, ROTATED_KEY);
        assert!(verify(BODY, HEX, KEY_ID, &keys).is_ok());
        assert!(verify(BODY, ROTATED_HEX, ROTATED_KEY_ID, &keys).is_ok());
        // Once the old key is removed, only the new one is accepted.
        assert!(keys.remove(KEY_ID));
        assert!(matches!(verify(BODY, HEX, KEY_ID, &keys), Err(VerifyError::UnknownKeyId(_))));
        assert!(verify(BODY, ROTATED_HEX, ROTATED_KEY_ID, &keys).is_ok());
        assert_eq!(keys.ids().collect::<Vec<_>>(), [ROTATED_KEY_ID]);
    }

    #[test]
    fn missing_headers_and_malformed_signatures_are_named() {
        let keys = keys();
        assert!(matches!(
            WebhookEvent::verify(BODY, None, Some(KEY_ID), &keys),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        ));
        assert!(matches!(
            WebhookEvent::verify(BODY, Some(HEX), None, &keys),
            Err(VerifyError::MissingHeader(SIGNING_KEY_ID_HEADER))
        ));
        let short = &HEX[..62];
        let long = format!("{HEX}00");
        let odd = HEX.replace('e', "g");
        let bad_bits = "5+uzQ8+SfKZZ+OMCqGN9KmxY/Fl1+Pez5MttCnQEmAF=";
        for signature in ["", "sha256=", short, &long, &odd, bad_bits, "é".repeat(22).as_str()] {
            assert!(
                matches!(verify(BODY, signature, KEY_ID, &keys), Err(VerifyError::MalformedSignature)),
                "{signature}"
            );
        }
    }

    #[test]
    fn a_signed_body_that_is_no_event_is_malformed() {
        let body = b"{\"metadata\": 1}";
        let signature = SigningKey::new(KEY).sign(body);
        let err = verify(body, &signature, KEY_ID, &keys()).unwrap_err();
        assert!(matches!(err, VerifyError::MalformedBody(_)), "{err:?}");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn secrets_stay_out_of_debug_and_errors() {
        let keys = keys().with(ROTATED_KEY_ID, ROTATED_KEY);
        let shown = format!("{keys:?} {:?}", SigningKey::new(KEY));
        assert!(!shown.contains(KEY) && !shown.contains(ROTATED_KEY), "{shown}");
        assert!(shown.contains(KEY_ID), "{shown}");
        for body in [BODY, b"x".as_slice()] {
            if let Err(e) = verify(body, HEX, KEY_ID, &keys) {
                let shown = format!("{e} {e:?}");
                assert!(!shown.contains(KEY) && !shown.contains(HEX), "{shown}");
            }
        }
    }

    #[test]
    fn an_unknown_key_id_is_quoted_short() {
        let id = "k".repeat(10_000);
        let Err(VerifyError::UnknownKeyId(quoted)) = verify(BODY, HEX, &id, &keys()) else {
            panic!("not refused");
        };
        assert_eq!(quoted.len(), 100);
    }

    #[test]
    fn every_documented_state_change_is_typed() {
        for event_type in PAYMENT_REQUEST_STATE_CHANGES {
            let raw = event(event_type, json!({ "payment_request_id": "r-1", "state": "EXPIRED" }));
            let parsed = parse(&raw).unwrap();
            let change = parsed.payload.payment_request_state_change();
            assert_eq!(change.map(|c| &c.state), Some(&PaymentRequestState::Expired), "{event_type}");
            assert!(!matches!(parsed.payload, EventPayload::Other(_)));
            assert_eq!(serde_json::to_value(&parsed).unwrap(), raw);
        }
        let expired = parse(&event(PAYMENT_REQUEST_EXPIRED, json!({ "payment_request_id": "r", "state": "EXPIRED" }))).unwrap();
        assert!(matches!(expired.payload, EventPayload::PaymentRequestExpired(_)));
    }

    #[test]
    fn seen_events_tell_repeats_and_stay_bounded() {
        let mut seen = SeenEvents::with_capacity(2);
        assert!(seen.insert("a"));
        assert!(!seen.insert("a"));
        assert!(seen.insert("b"));
        assert!(seen.insert("c"));
        // "a" was the oldest and is forgotten; two ids are kept.
        assert_eq!(seen.len(), 2);
        assert!(!seen.contains("a") && seen.contains("b") && seen.contains("c"));
        assert!(seen.forget("b"));
        assert!(!seen.forget("b"));
        assert!(seen.insert("b"));
        assert!(SeenEvents::with_capacity(0).insert("x"));
    }
}
