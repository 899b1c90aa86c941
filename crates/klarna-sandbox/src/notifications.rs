//! The Notification API: webhooks and signing keys per partner account, and
//! the signed events a payment request's state changes become.
//!
//! Kept apart from the router and the Payment API: `payment_api.rs` only
//! records each state change ([`StateChange`]), the router hands requests
//! below [`PREFIX`] to [`Notifications::handle`] and, after each Payment API
//! request, asks [`Notifications::outgoing`] for the deliveries each change
//! makes; everything else is here and in `delivery.rs`. This module knows
//! neither the router nor the Payment API's state.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use klarna_models::notifications::{
    ErrorResponse, ErrorType, EventType, SigningKey as ListedKey, SigningKeyCreated,
    SigningKeyList, Webhook, WebhookData, WebhookList, WebhookStatus, WebhookUpdate,
};
use klarna_models::payment_api::webhooks::{
    SigningKey, PAYMENT_REQUEST_AUTHORIZED, PAYMENT_REQUEST_CANCELED, PAYMENT_REQUEST_DECLINED,
    PAYMENT_REQUEST_EXPIRED, PAYMENT_REQUEST_IN_PROGRESS, PAYMENT_REQUEST_PENDING_CONFIRMATION,
    PAYMENT_REQUEST_PREPARED, PAYMENT_REQUEST_SUBMITTED,
};
use klarna_models::payment_api::{
    PaymentRequest, PaymentRequestState, PaymentRequestStateChangePayload, WebhookEventMetadata,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api_key::{self, KeyedReplays};
use crate::delivery::Outgoing;
use crate::http::{Request, Response};
use crate::util::{now, path_segments, rfc3339, uuid_v4, BadPath, Replays};

/// Klarna's limit on signing keys per account.
pub(crate) const MAX_SIGNING_KEYS: usize = 50;
/// Bounds on what one sandbox keeps.
const MAX_WEBHOOKS_PER_ACCOUNT: usize = 100;
const MAX_ACCOUNTS: usize = 10_000;

/// Where the Notification API's paths begin. It lies inside the Payment
/// API's `/v1/`, so the router checks it first.
pub(crate) const PREFIX: &str = "/v1/notification/";

/// A payment request that changed state, as `payment_api.rs` records it.
pub(crate) struct StateChange {
    account: String,
    event_type: &'static str,
    payload: PaymentRequestStateChangePayload,
}

impl StateChange {
    /// `request` as it is now, having left `previous` (`None` when new).
    pub(crate) fn new(
        account: &str,
        request: &PaymentRequest,
        previous: Option<PaymentRequestState>,
    ) -> Self {
        let event_type = match request.state {
            PaymentRequestState::Submitted => PAYMENT_REQUEST_SUBMITTED,
            PaymentRequestState::Prepared => PAYMENT_REQUEST_PREPARED,
            PaymentRequestState::InProgress => PAYMENT_REQUEST_IN_PROGRESS,
            PaymentRequestState::PendingConfirmation => PAYMENT_REQUEST_PENDING_CONFIRMATION,
            PaymentRequestState::Canceled => PAYMENT_REQUEST_CANCELED,
            PaymentRequestState::Authorized => PAYMENT_REQUEST_AUTHORIZED,
            PaymentRequestState::Expired => PAYMENT_REQUEST_EXPIRED,
            _ => PAYMENT_REQUEST_DECLINED,
        };
        let data = request.payment_request.as_ref();
        StateChange {
            account: account.to_owned(),
            event_type,
            payload: PaymentRequestStateChangePayload {
                payment_request_id: request.payment_request_id.clone(),
                state: request.state.clone(),
                previous_state: previous,
                merchant_reference: data.and_then(|d| d.merchant_reference.clone()),
                payment_reference: data.and_then(|d| d.payment_reference.clone()),
                payment_transaction_id: request
                    .state_context
                    .as_ref()
                    .and_then(|c| c.payment_transaction_id.clone()),
                additional_properties: BTreeMap::new(),
            },
        }
    }
}

struct WebhookRecord {
    webhook: Webhook,
    target: SocketAddr,
    path: String,
}

struct KeyRecord {
    secret: String,
    created_at: String,
}

#[derive(Default)]
struct Account {
    keys: BTreeMap<String, KeyRecord>,
    webhooks: BTreeMap<String, WebhookRecord>,
}

/// Everything the Notification API part remembers.
pub(crate) struct Notifications {
    accounts: HashMap<String, Account>,
    /// Kept per webhook or signing key (the id the path names), or per
    /// collection for a creation.
    idempotent: KeyedReplays,
}

/// The webhook or signing key a Notification API path names: the segment
/// after `webhooks` or `signing-keys`, or `""` for the collections.
fn resource_of(path: &str) -> &str {
    let rest = path.strip_prefix(PREFIX).unwrap_or_default();
    rest.split_once('/').map_or("", |(_, id)| id)
}

impl Notifications {
    /// No webhooks or keys yet; idempotency keys kept for `retention`, at
    /// most `keys_per_resource` per webhook, key or collection.
    pub(crate) fn new(retention: Duration, keys_per_resource: usize) -> Self {
        Notifications {
            accounts: HashMap::new(),
            idempotent: Replays::new(retention, keys_per_resource),
        }
    }

    /// Answers one well-formed Notification API request: checks the
    /// credentials, then replays the first answer to a repeated
    /// idempotency key.
    pub(crate) fn handle(&mut self, request: &Request) -> Response {
        let now = Instant::now();
        let resource = resource_of(&request.path);
        let (account, slot) =
            match api_key::admit(&mut self.idempotent, request, resource, now, |s, c, m| {
                error(s, c, m)
            }) {
                Ok(admitted) => admitted,
                Err(answer) => return answer,
            };
        let response = self.route(request, &account);
        api_key::keep(&mut self.idempotent, slot, &response, now);
        response
    }

    fn route(&mut self, request: &Request, account: &str) -> Response {
        let rest = &request.path[PREFIX.len()..];
        let segments = match path_segments(rest, 2) {
            Ok(segments) => segments,
            Err(BadPath::NoRoute) => return no_route(),
            Err(BadPath::Encoding) => {
                return error(
                    400,
                    "VALIDATION_ERROR",
                    "The path is not valid percent-encoding.",
                )
            }
        };
        if self.accounts.len() >= MAX_ACCOUNTS && !self.accounts.contains_key(account) {
            return error(
                429,
                "RATE_LIMITED",
                "The sandbox keeps at most 10 000 accounts.",
            );
        }
        let account = self.accounts.entry(account.to_owned()).or_default();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["webhooks"]) => account.create_webhook(&request.body),
            ("GET", ["webhooks"]) => json(
                200,
                &WebhookList {
                    webhooks: account
                        .webhooks
                        .values()
                        .map(|r| r.webhook.clone())
                        .collect(),
                },
            ),
            ("GET", ["webhooks", id]) => match account.webhooks.get(*id) {
                Some(record) => json(200, &record.webhook),
                None => not_found("webhook", id),
            },
            ("PATCH", ["webhooks", id]) => account.update_webhook(id, &request.body),
            ("DELETE", ["webhooks", id]) => match account.webhooks.remove(*id) {
                Some(_) => Response::empty(204),
                None => not_found("webhook", id),
            },
            ("POST", ["signing-keys"]) => account.create_key(),
            ("GET", ["signing-keys"]) => json(
                200,
                &SigningKeyList {
                    signing_keys: account
                        .keys
                        .iter()
                        .map(|(id, key)| ListedKey {
                            signing_key_id: id.clone().into(),
                            created_at: Some(key.created_at.clone()),
                        })
                        .collect(),
                },
            ),
            ("DELETE", ["signing-keys", id]) => account.delete_key(id),
            (_, ["webhooks"] | ["webhooks", _] | ["signing-keys"] | ["signing-keys", _]) => error(
                405,
                "METHOD_NOT_ALLOWED",
                "The Notification API has no such operation on this path.",
            ),
            _ => no_route(),
        }
    }

    /// The deliveries `change` causes: one signed body per enabled webhook
    /// of its account that subscribes to its event type.
    pub(crate) fn outgoing(&self, change: &StateChange) -> Vec<Outgoing> {
        let Some(account) = self.accounts.get(&change.account) else {
            return Vec::new();
        };
        // One event, one id, whichever webhooks it goes to and however
        // often it is retried.
        let event_id = uuid_v4();
        let occurred_at = rfc3339(now());
        account
            .webhooks
            .values()
            .filter(|r| r.webhook.status != Some(WebhookStatus::Disabled))
            .filter(|r| subscribes(&r.webhook.event_types, change.event_type))
            .filter_map(|r| {
                let key = account.keys.get(r.webhook.signing_key_id.as_str())?;
                let metadata = WebhookEventMetadata {
                    event_type: change.event_type.to_owned(),
                    event_id: event_id.clone(),
                    event_version: Some("v1".to_owned()),
                    occurred_at: Some(occurred_at.clone()),
                    account_id: Some(change.account.clone().into()),
                    webhook_id: Some(r.webhook.webhook_id.clone().to_string()),
                    live: Some(false),
                    correlation_id: None,
                    product_instance_id: None,
                };
                let body = serde_json::to_vec(&serde_json::json!({
                    "metadata": metadata,
                    "payload": change.payload,
                }))
                .ok()?;
                Some(Outgoing {
                    webhook_id: r.webhook.webhook_id.clone(),
                    target: r.target,
                    path: r.path.clone(),
                    signature: SigningKey::new(key.secret.as_bytes()).sign(&body),
                    signing_key_id: r.webhook.signing_key_id.clone(),
                    event_id: event_id.clone(),
                    event_type: change.event_type.to_owned(),
                    body,
                })
            })
            .collect()
    }
}

impl Account {
    fn create_webhook(&mut self, body: &[u8]) -> Response {
        let data: WebhookData = match decode(body) {
            Ok(data) => data,
            Err(response) => return response,
        };
        let (target, path) = match loopback_target(&data.url) {
            Ok(target) => target,
            Err(response) => return response,
        };
        if let Err(response) = self.check_key(&data.signing_key_id) {
            return response;
        }
        if data.event_types.is_empty() {
            return invalid("event_types", "Subscribe to at least one event type.");
        }
        let same = |r: &&WebhookRecord| {
            r.webhook.url == data.url && r.webhook.event_types == data.event_types
        };
        if self.webhooks.values().any(|r| same(&r)) {
            return error(
                409,
                "CONFLICT",
                "A webhook with this URL and these event types exists already.",
            );
        }
        if self.webhooks.len() >= MAX_WEBHOOKS_PER_ACCOUNT {
            return error(
                429,
                "RATE_LIMITED",
                "The sandbox keeps at most 100 webhooks per account.",
            );
        }
        let webhook = Webhook {
            webhook_id: format!("krn:partner:global:notification:webhook:{}", uuid_v4()).into(),
            url: data.url,
            event_types: data.event_types,
            event_version: Some(data.event_version),
            signing_key_id: data.signing_key_id,
            status: Some(data.status.unwrap_or(WebhookStatus::Enabled)),
            created_at: Some(rfc3339(now())),
        };
        let response = json(201, &webhook);
        let record = WebhookRecord {
            webhook,
            target,
            path,
        };
        self.webhooks
            .insert(record.webhook.webhook_id.clone().to_string(), record);
        response
    }

    fn update_webhook(&mut self, id: &str, body: &[u8]) -> Response {
        let change: WebhookUpdate = match decode(body) {
            Ok(change) => change,
            Err(response) => return response,
        };
        if !self.webhooks.contains_key(id) {
            return not_found("webhook", id);
        }
        let target = match change.url.as_deref().map(loopback_target).transpose() {
            Ok(target) => target,
            Err(response) => return response,
        };
        if let Some(key_id) = &change.signing_key_id {
            if let Err(response) = self.check_key(key_id) {
                return response;
            }
        }
        if change.event_types.as_ref().is_some_and(Vec::is_empty) {
            return invalid("event_types", "Subscribe to at least one event type.");
        }
        let Some(record) = self.webhooks.get_mut(id) else {
            return not_found("webhook", id);
        };
        let webhook = &mut record.webhook;
        if let (Some(url), Some((addr, path))) = (change.url, target) {
            webhook.url = url;
            record.target = addr;
            record.path = path;
        }
        if let Some(event_types) = change.event_types {
            webhook.event_types = event_types;
        }
        if let Some(version) = change.event_version {
            webhook.event_version = Some(version);
        }
        if let Some(key_id) = change.signing_key_id {
            webhook.signing_key_id = key_id;
        }
        if let Some(status) = change.status {
            webhook.status = Some(status);
        }
        json(200, &record.webhook)
    }

    fn check_key(&self, key_id: &str) -> Result<(), Response> {
        if self.keys.contains_key(key_id) {
            Ok(())
        } else {
            Err(invalid(
                "signing_key_id",
                format!("The account has no signing key {key_id}; create one first."),
            ))
        }
    }

    fn create_key(&mut self) -> Response {
        if self.keys.len() >= MAX_SIGNING_KEYS {
            return error(
                409,
                "SIGNING_KEY_LIMIT_REACHED",
                "The account holds 50 signing keys, Klarna's limit; delete one first.",
            );
        }
        let created = SigningKeyCreated {
            signing_key_id: format!("krn:partner:global:notification:signing-key:{}", uuid_v4())
                .into(),
            // Two UUIDs: 244 random bits, more than a SHA-256 key needs.
            signing_key: format!("{}{}", uuid_v4(), uuid_v4()).replace('-', ""),
            created_at: Some(rfc3339(now())),
        };
        self.keys.insert(
            created.signing_key_id.clone().to_string(),
            KeyRecord {
                secret: created.signing_key.clone(),
                created_at: created.created_at.clone().unwrap_or_default(),
            },
        );
        json(201, &created)
    }

    fn delete_key(&mut self, id: &str) -> Response {
        if !self.keys.contains_key(id) {
            return not_found("signing key", id);
        }
        if self
            .webhooks
            .values()
            .any(|r| r.webhook.signing_key_id == id)
        {
            return error(
                409,
                "SIGNING_KEY_IN_USE",
                "A webhook signs with this key; move it to another key first.",
            );
        }
        self.keys.remove(id);
        Response::empty(204)
    }
}

/// Whether a subscription covers `event_type`: named exactly, or by a
/// wildcard such as `payment.*` or `*`.
fn subscribes(event_types: &[EventType], event_type: &str) -> bool {
    event_types.iter().any(|subscribed| {
        let subscribed = subscribed.as_str();
        match subscribed.strip_suffix('*') {
            Some(prefix) => event_type.starts_with(prefix),
            None => subscribed == event_type,
        }
    })
}

/// Where a webhook URL points, when it is `http://127.0.0.1:PORT/...`.
///
/// The sandbox only ever connects to this machine's loopback address:
/// Klarna's HTTPS URLs on ports 443 or 8443 would make a test reach out,
/// and a stand-in must never post to anyone else's server.
fn loopback_target(url: &str) -> Result<(SocketAddr, String), Response> {
    let refuse = || {
        invalid(
            "url",
            "The sandbox delivers webhooks only to http://127.0.0.1:PORT/PATH.",
        )
    };
    let rest = url.strip_prefix("http://").ok_or_else(refuse)?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let (host, port) = authority.rsplit_once(':').ok_or_else(refuse)?;
    let port: u16 = port.parse().map_err(|_| refuse())?;
    if host != "127.0.0.1" || port == 0 || path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(refuse());
    }
    Ok((
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        path.to_owned(),
    ))
}

/// The Notification API's error body, in the shape of its own document
/// (`specs/notifications.yaml`): a fresh `error_id`, the type that goes
/// with the status, a code and a message.
pub(crate) fn error(status: u16, code: &str, message: impl Into<String>) -> Response {
    let body = ErrorResponse {
        error_code: Some(code.to_owned()),
        error_message: Some(message.into()),
        error_id: Some(uuid_v4()),
        error_type: Some(match status {
            401 => ErrorType::AccessError,
            400 | 405 | 408 | 413 | 431 => ErrorType::InputError,
            500.. => ErrorType::TechnicalError,
            _ => ErrorType::ResourceError,
        }),
        ..ErrorResponse::default()
    };
    // Serialising strings cannot fail; an empty body would still be an
    // answer with the right status.
    Response::json(status, serde_json::to_vec(&body).unwrap_or_default())
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        invalid(
            "body",
            format!("The request body does not match the schema: {e}."),
        )
    })
}

fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => Response::json(status, body),
        Err(e) => error(500, "INTERNAL_SERVER_ERROR", e.to_string()),
    }
}

fn invalid(parameter: &str, reason: impl Into<String>) -> Response {
    error(
        400,
        "VALIDATION_ERROR",
        format!("{parameter}: {}", reason.into()),
    )
}

fn not_found(what: &str, id: &str) -> Response {
    error(
        404,
        "RESOURCE_NOT_FOUND",
        format!("No {what} with id {id}."),
    )
}

fn no_route() -> Response {
    error(
        404,
        "NOT_FOUND",
        "No Notification API operation has this path.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls_are_targets() {
        let (addr, path) = loopback_target("http://127.0.0.1:8080/hooks?x=1").unwrap();
        assert_eq!(addr.to_string(), "127.0.0.1:8080");
        assert_eq!(path, "/hooks?x=1");
        assert_eq!(loopback_target("http://127.0.0.1:9").unwrap().1, "/");
        for url in [
            "https://127.0.0.1:8443/hooks",
            "http://localhost:8080/",
            "http://10.0.0.1:80/",
            "http://example.com:80/",
            "http://127.0.0.1/",
            "http://127.0.0.1:0/",
            "http://127.0.0.1:99999/",
            "http://127.0.0.1.example.com:80/",
            "http://user@127.0.0.1:80/",
            "http://127.0.0.1:80/a b",
        ] {
            assert!(loopback_target(url).is_err(), "{url}");
        }
    }

    #[test]
    fn wildcards_subscribe_to_prefixes() {
        let types = [EventType::Unknown("payment.*".into())];
        assert!(subscribes(&types, PAYMENT_REQUEST_EXPIRED));
        assert!(!subscribes(
            &types,
            "partner.account.state-change.operational"
        ));
        let exact = [EventType::PaymentRequestStateChangeAuthorized];
        assert!(subscribes(&exact, PAYMENT_REQUEST_AUTHORIZED));
        assert!(!subscribes(&exact, PAYMENT_REQUEST_SUBMITTED));
    }
}
