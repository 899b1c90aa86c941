//! The Merchant Card Service v3 (virtual cards): promises of cards for an
//! Order Management order, their settlement once the order exists (the
//! card data "encrypted": the sandbox returns a marker, never a card
//! number), reading both, and cancellation requests, which the sandbox
//! decides at once (queued as `PENDING`, cancelled when asked again, unless
//! the order was captured: then `REJECTED` with `CARD_IN_USE`).

use std::collections::BTreeMap;

use klarna_models::merchantcard::{
    CancelOrderRequestStatus, CancelOrderRequestStatusReasonCode, CancelOrderRequestStatusStatus,
    Card, CardSpecification, OrderId, PromiseCreatedResponse, PromiseId, PromiseRequest,
    PromiseResponse, SettlementId, SettlementRequest, SettlementResponse,
};
use serde::Serialize;

use crate::http::{Request, Response};
use crate::orders::{error, State};
use crate::util::{now, path_segments, rfc3339, uuid_v4, DAY};

pub(crate) const PREFIX: &str = "/merchantcard/v3/";
const MAX_RESOURCES: usize = 100_000;

struct Promise {
    order_id: String,
    cards: Vec<CardSpecification>,
    created_at: String,
    expire_at: String,
}

pub(crate) struct Cards {
    promises: BTreeMap<String, Promise>,
    settlements: BTreeMap<String, SettlementResponse>,
    /// Per order: whether a cancellation was asked for, and its status.
    cancellations: BTreeMap<String, CancelOrderRequestStatusStatus>,
}

impl Cards {
    pub(crate) fn new() -> Self {
        Cards {
            promises: BTreeMap::new(),
            settlements: BTreeMap::new(),
            cancellations: BTreeMap::new(),
        }
    }

    pub(crate) fn handle(&mut self, request: &Request, orders: &mut State) -> Response {
        if request.header("authorization").is_none() {
            return error(401, "UNAUTHORIZED", "Send HTTP Basic credentials.");
        }
        let rest = request.path.strip_prefix(PREFIX).unwrap_or("");
        let Ok(segments) = path_segments(rest, 4) else {
            return error(404, "NOT_FOUND", "No such operation.");
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let key_id = request.header("keyid").is_some();
        match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["promises"]) => self.promise(request, orders),
            ("GET", ["promises", id]) => match self.promises.get(*id) {
                Some(p) => json(200, &promise_response(id, p)),
                None => error(404, "NOT_FOUND", "No promise has this id."),
            },
            ("POST", ["settlements"]) => self.settle(request, orders),
            ("GET", ["settlements", id]) if key_id => match self.settlements.get(*id) {
                Some(s) => json(200, s),
                None => error(404, "NOT_FOUND", "No settlement has this id."),
            },
            ("GET", ["settlements", "order", order_id]) if key_id => {
                match self
                    .settlements
                    .values()
                    .find(|s| s.order_id.as_ref().map(|o| o.as_str()) == Some(*order_id))
                {
                    Some(s) => json(200, s),
                    None => error(404, "NOT_FOUND", "No settlement for this order."),
                }
            }
            ("GET", ["settlements", ..]) => error(400, "BAD_VALUE", "Send the KeyId header."),
            ("POST", ["orders", order_id, "cancel-request"]) => self.cancel(order_id, orders),
            ("GET", ["orders", order_id, "cancel-request"]) => self.cancel_status(order_id),
            _ => error(404, "NOT_FOUND", "No such operation."),
        }
    }

    fn promise(&mut self, request: &Request, orders: &State) -> Response {
        let body: PromiseRequest = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(e) => {
                return error(
                    400,
                    "BAD_VALUE",
                    format!("The request does not decode: {e}"),
                )
            }
        };
        if body.cards.is_empty() || body.cards.iter().any(|c| c.amount <= 0) {
            return error(
                400,
                "BAD_VALUE",
                "Promise at least one card of a positive amount.",
            );
        }
        if orders.order(body.order_id.as_str()).is_none() {
            return error(400, "BAD_VALUE", "No order has this order_id.");
        }
        if self.promises.len() >= MAX_RESOURCES {
            return error(
                429,
                "TOO_MANY_REQUESTS",
                "The sandbox holds 100 000 promises.",
            );
        }
        // A new promise for an order replaces the old one.
        self.promises
            .retain(|_, p| p.order_id != body.order_id.as_str());
        let id = uuid_v4();
        let expire_at = rfc3339(now() + DAY);
        let cards = body.cards.clone();
        self.promises.insert(
            id.clone(),
            Promise {
                order_id: body.order_id.as_str().to_owned(),
                cards,
                created_at: rfc3339(now()),
                expire_at: expire_at.clone(),
            },
        );
        json(
            201,
            &PromiseCreatedResponse {
                promise_id: Some(PromiseId::new(id)),
                expires_at: Some(expire_at),
            },
        )
    }

    fn settle(&mut self, request: &Request, orders: &State) -> Response {
        let body: SettlementRequest = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(e) => {
                return error(
                    400,
                    "BAD_VALUE",
                    format!("The request does not decode: {e}"),
                )
            }
        };
        if orders.order(body.order_id.as_str()).is_none() {
            return error(400, "BAD_VALUE", "No order has this order_id.");
        }
        let promise = match &body.promise_id {
            Some(id) => self
                .promises
                .get(id.as_str())
                .map(|p| (id.as_str().to_owned(), p)),
            None => self
                .promises
                .iter()
                .find(|(_, p)| p.order_id == body.order_id.as_str())
                .map(|(id, p)| (id.clone(), p)),
        };
        let Some((promise_id, promise)) = promise else {
            return error(400, "BAD_VALUE", "No promise for this order.");
        };
        if self.settlements.len() >= MAX_RESOURCES {
            return error(
                429,
                "TOO_MANY_REQUESTS",
                "The sandbox holds 100 000 settlements.",
            );
        }
        let id = uuid_v4();
        let cards = promise
            .cards
            .iter()
            .map(|spec| Card {
                reference: Some(spec.reference.clone()),
                amount: Some(spec.amount),
                currency: Some(spec.currency.clone()),
                card_id: Some(uuid_v4()),
                brand: Some("VISA".into()),
                holder: Some("Sandbox".into()),
                // Stands for the data encrypted with the merchant's key.
                pci_data: Some(format!("sandbox-encrypted-for-{}", body.key_id)),
                iv: Some("sandbox-iv".into()),
                aes_key: Some("sandbox-aes-key".into()),
            })
            .collect();
        let settlement = SettlementResponse {
            settlement_id: Some(SettlementId::new(id.clone())),
            promise_id: Some(PromiseId::new(promise_id)),
            order_id: Some(OrderId::new(body.order_id.as_str())),
            cards: Some(cards),
            created_at: Some(rfc3339(now())),
            expires_at: Some(rfc3339(now() + DAY)),
        };
        self.settlements.insert(id, settlement.clone());
        json(201, &settlement)
    }

    fn cancel(&mut self, order_id: &str, orders: &mut State) -> Response {
        if !self
            .settlements
            .values()
            .any(|s| s.order_id.as_ref().map(|o| o.as_str()) == Some(order_id))
        {
            return error(
                404,
                "NOT_FOUND",
                "Order does not exist or does not have an associated Virtual Credit Card Settlement.",
            );
        }
        let captured = orders
            .order(order_id)
            .and_then(|o| o.captured_amount)
            .unwrap_or(0)
            > 0;
        let status = match self.cancellations.get(order_id) {
            Some(CancelOrderRequestStatusStatus::Cancelled) => {
                return json(200, &serde_json::json!({"status": "CANCELLED"}))
            }
            // Asked again: decided now.
            Some(CancelOrderRequestStatusStatus::Pending) if captured => {
                CancelOrderRequestStatusStatus::Rejected
            }
            Some(CancelOrderRequestStatusStatus::Pending) => {
                orders.end_order(order_id, false);
                CancelOrderRequestStatusStatus::Cancelled
            }
            _ => CancelOrderRequestStatusStatus::Pending,
        };
        self.cancellations
            .insert(order_id.to_owned(), status.clone());
        match status {
            CancelOrderRequestStatusStatus::Cancelled => {
                json(200, &serde_json::json!({"status": "CANCELLED"}))
            }
            _ => json(
                202,
                &serde_json::json!({"status": "PENDING", "check_after": rfc3339(now() + 1)}),
            ),
        }
    }

    fn cancel_status(&self, order_id: &str) -> Response {
        match self.cancellations.get(order_id) {
            None => json(
                200,
                &serde_json::json!({"status": "NO_REQUEST_FOUND", "reason_code": "NO_REQUEST_FOUND",
                    "reason_message": "No cancellation was asked for this order."}),
            ),
            Some(status) => {
                let rejected = *status == CancelOrderRequestStatusStatus::Rejected;
                json(
                    200,
                    &CancelOrderRequestStatus {
                        status: status.clone(),
                        check_after: (*status == CancelOrderRequestStatusStatus::Pending)
                            .then(|| rfc3339(now() + 1)),
                        reason_code: rejected
                            .then_some(CancelOrderRequestStatusReasonCode::CardInUse),
                        reason_message: rejected
                            .then(|| "The order was captured: a card was used.".to_owned()),
                    },
                )
            }
        }
    }
}

fn promise_response(id: &str, promise: &Promise) -> PromiseResponse {
    PromiseResponse {
        promise_id: Some(PromiseId::new(id)),
        order_id: Some(OrderId::new(promise.order_id.clone())),
        cards: Some(promise.cards.clone()),
        created_at: Some(promise.created_at.clone()),
        expire_at: Some(promise.expire_at.clone()),
    }
}

fn json(status: u16, body: &impl Serialize) -> Response {
    Response::json(status, serde_json::to_vec(body).unwrap_or_default())
}
