//! Klarna Payments v1 and Customer Token v1: payment sessions, the buyer's
//! approval (a sandbox-only route, since in real life it happens in Klarna's
//! widget), authorizations turned into Order Management orders or customer
//! tokens, and repeat orders on those tokens.
//!
//! Orders placed here go into the Order Management state (`orders.rs`), so
//! the OM routes serve them from then on: captures, refunds, amount updates.
//! Requests are decoded into, and answers built from, the generated
//! `klarna_models::payments` types. Errors have Klarna's `ErrorV2` body
//! (`correlation_id`, `error_code`, `error_messages`), the Order Management
//! shape.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use klarna_models::payments::{
    CreateOrderRequest, CustomerToken, CustomerTokenCreationRequest, CustomerTokenCreationResponse,
    CustomerTokenOrder, CustomerTokenOrderResponse, CustomerTokenOrderResponseFraudStatus,
    CustomerTokenStatus, CustomerTokenStatusUpdateRequest, CustomerTokenStatusUpdateRequestStatus,
    MerchantSession, Order, OrderFraudStatus, PaymentMethodCategory,
    PaymentMethodCategoryIdentifier, SessionCreate, SessionRead,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::http::{Request, Response};
use crate::orders::{error, NewOrder, State};
use crate::util::{now, path_segments, rfc3339, uuid_v4, BadPath, Replays, DAY};

/// Klarna Payments v1.
pub(crate) const PREFIX: &str = "/payments/v1/";
/// Customer Token v1.
pub(crate) const TOKENS_PREFIX: &str = "/customer-token/v1/";
/// The sandbox-only route that plays the buyer: `POST
/// /sandbox/payments/v1/sessions/{session_id}/approve`.
pub(crate) const APPROVAL_PREFIX: &str = "/sandbox/payments/v1/";

/// How long an authorization token can be used (Klarna: 60 minutes).
pub(crate) const AUTHORIZATION_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// How long a session stays open (Klarna: 48 hours); reported, not enforced.
const SESSION_LIFETIME: i64 = 2 * DAY;
/// Bounds, so that a runaway test cannot grow the stand-in without limit.
const MAX_SESSIONS: usize = 100_000;
const MAX_AUTHORIZATIONS: usize = 100_000;
const MAX_TOKENS: usize = 100_000;

/// What became of an authorization token.
#[derive(Clone, Debug, PartialEq, Eq)]
enum TokenUse {
    /// Can still place an order or create a customer token.
    Open,
    /// An order was placed with it.
    Order(String),
    /// A customer token was created with it.
    CustomerToken(String),
    /// Released with `cancelAuthorization`.
    Cancelled,
}

struct Authorization {
    session_id: String,
    /// What the buyer approved: the session's amount and currency then.
    order_amount: i64,
    purchase_currency: String,
    approved_at: Instant,
    /// Set by the test (`Sandbox::expire_authorization`), so that tests do
    /// not wait an hour.
    expired: bool,
    used: TokenUse,
}

struct StoredToken {
    status: CustomerTokenStatus,
    purchase_currency: String,
    /// The orders placed on it, for tests.
    orders: Vec<String>,
}

type PaymentsReplays = Replays<String, (String, String, String), Response>;

/// Everything the Payments v1 part remembers.
pub(crate) struct PaymentsV1 {
    /// Each session as JSON in `SessionRead`'s shape: updates overwrite the
    /// fields they send, whatever they are.
    sessions: BTreeMap<String, Map<String, Value>>,
    authorizations: BTreeMap<String, Authorization>,
    tokens: BTreeMap<String, StoredToken>,
    idempotent: PaymentsReplays,
}

impl PaymentsV1 {
    pub(crate) fn new(retention: Duration, keys_per_resource: usize) -> Self {
        PaymentsV1 {
            sessions: BTreeMap::new(),
            authorizations: BTreeMap::new(),
            tokens: BTreeMap::new(),
            idempotent: Replays::new(retention, keys_per_resource),
        }
    }

    /// The session as `readCreditSession` returns it.
    pub(crate) fn session(&self, session_id: &str) -> Option<SessionRead> {
        let session = self.sessions.get(session_id)?;
        serde_json::from_value(Value::Object(session.clone())).ok()
    }

    /// Plays the buyer: approves the session's purchase as it stands and
    /// returns a new authorization token; `None` for an unknown session or
    /// one that already became an order.
    pub(crate) fn approve(&mut self, session_id: &str) -> Result<String, Response> {
        let Some(session) = self.sessions.get_mut(session_id) else {
            return Err(error(404, "NOT_FOUND", "No session has this id."));
        };
        if session.get("status").and_then(Value::as_str) == Some("complete") {
            return Err(error(
                409,
                "SESSION_COMPLETE",
                "An order was already placed from this session.",
            ));
        }
        if self.authorizations.len() >= MAX_AUTHORIZATIONS {
            return Err(error(
                429,
                "TOO_MANY_REQUESTS",
                "The sandbox holds 100 000 authorizations.",
            ));
        }
        let order_amount = session
            .get("order_amount")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let purchase_currency = session
            .get("purchase_currency")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let token = uuid_v4();
        session.insert("authorization_token".into(), Value::String(token.clone()));
        self.authorizations.insert(
            token.clone(),
            Authorization {
                session_id: session_id.to_owned(),
                order_amount,
                purchase_currency,
                approved_at: Instant::now(),
                expired: false,
                used: TokenUse::Open,
            },
        );
        Ok(token)
    }

    /// Makes an authorization token expire now; false when there is none.
    pub(crate) fn expire(&mut self, token: &str) -> bool {
        match self.authorizations.get_mut(token) {
            Some(authorization) => {
                authorization.expired = true;
                true
            }
            None => false,
        }
    }

    /// The status of a customer token and the orders placed on it.
    pub(crate) fn customer_token(
        &self,
        token_id: &str,
    ) -> Option<(CustomerTokenStatus, Vec<String>)> {
        self.tokens
            .get(token_id)
            .map(|t| (t.status.clone(), t.orders.clone()))
    }

    /// Answers one well-formed request under [`PREFIX`], [`TOKENS_PREFIX`]
    /// or [`APPROVAL_PREFIX`]: checks that credentials were sent, replays
    /// the first answer to a repeated idempotency key, and places orders in
    /// `orders`.
    pub(crate) fn handle(&mut self, request: &Request, orders: &mut State) -> Response {
        if request.header("authorization").is_none() {
            return error(
                401,
                "UNAUTHORIZED",
                "Send HTTP Basic credentials; the sandbox accepts any.",
            );
        }
        let (api, rest) = if let Some(rest) = request.path.strip_prefix(PREFIX) {
            (Part::Payments, rest)
        } else if let Some(rest) = request.path.strip_prefix(TOKENS_PREFIX) {
            (Part::Tokens, rest)
        } else if let Some(rest) = request.path.strip_prefix(APPROVAL_PREFIX) {
            (Part::Approval, rest)
        } else {
            return error(404, "NOT_FOUND", "No such operation.");
        };
        let segments = match path_segments(rest, 4) {
            Ok(segments) => segments,
            Err(BadPath::Encoding) => {
                return error(400, "BAD_VALUE", "The path is not validly percent-encoded.")
            }
            Err(BadPath::NoRoute) => return error(404, "NOT_FOUND", "No such operation."),
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        // Keys are kept per resource the path names (the session, the
        // authorization token or the customer token); creating sessions
        // counts against one shared scope.
        let now = Instant::now();
        let key = request
            .header("klarna-idempotency-key")
            .filter(|_| request.method != "GET")
            .map(|key| {
                let scope = segments.get(1).copied().unwrap_or("sessions").to_owned();
                (
                    scope,
                    (request.method.clone(), request.path.clone(), key.to_owned()),
                )
            });
        if let Some((scope, key)) = &key {
            if let Some(response) = self.idempotent.get(scope, key, now) {
                return response.clone();
            }
            if self.idempotent.is_full(scope) {
                return error(
                    429,
                    "TOO_MANY_REQUESTS",
                    "This resource already holds as many idempotency keys as the sandbox keeps.",
                );
            }
        }
        let response = match (api, request.method.as_str(), segments.as_slice()) {
            (Part::Payments, "POST", ["sessions"]) => self.create_session(&request.body),
            (Part::Payments, "GET", ["sessions", id]) => self.read_session(id),
            (Part::Payments, "POST", ["sessions", id]) => self.update_session(id, &request.body),
            (Part::Payments, "DELETE", ["authorizations", token]) => self.cancel(token),
            (Part::Payments, "POST", ["authorizations", token, "order"]) => {
                self.create_order(token, &request.body, orders)
            }
            (Part::Payments, "POST", ["authorizations", token, "customer-token"]) => {
                self.create_customer_token(token, &request.body)
            }
            (Part::Tokens, "GET", ["tokens", id]) => self.read_token(id),
            (Part::Tokens, "POST", ["tokens", id, "order"]) => {
                self.create_token_order(id, &request.body, orders)
            }
            (Part::Tokens, "PATCH", ["tokens", id, "status"]) => {
                self.update_token_status(id, &request.body)
            }
            (Part::Approval, "POST", ["sessions", id, "approve"]) => match self.approve(id) {
                Ok(token) => json(
                    200,
                    &serde_json::json!({ "authorization_token": token, "session_id": id }),
                ),
                Err(response) => response,
            },
            _ => error(404, "NOT_FOUND", "No such operation."),
        };
        if let Some((scope, key)) = key {
            // Unknown resources are not remembered: nothing happened.
            if response.status != 404 {
                self.idempotent.remember(scope, key, response.clone(), now);
            }
        }
        response
    }

    fn create_session(&mut self, body: &[u8]) -> Response {
        let create: SessionCreate = match decode(body) {
            Ok(create) => create,
            Err(response) => return response,
        };
        if let Err(response) = check_cart(
            create.order_amount,
            &create.order_lines,
            &create.purchase_currency,
        ) {
            return response;
        }
        if self.sessions.len() >= MAX_SESSIONS {
            return error(
                429,
                "TOO_MANY_REQUESTS",
                "The sandbox holds 100 000 sessions.",
            );
        }
        let Ok(Value::Object(mut session)) = serde_json::to_value(&create) else {
            return error(500, "INTERNAL_ERROR", "The session could not be kept.");
        };
        let session_id = uuid_v4();
        let client_token = format!("sandbox-client-token.{session_id}");
        let categories = payment_method_categories();
        session.insert("client_token".into(), Value::String(client_token.clone()));
        session.insert("status".into(), Value::String("incomplete".into()));
        session.insert(
            "expires_at".into(),
            Value::String(rfc3339(now().saturating_add(SESSION_LIFETIME))),
        );
        session.insert(
            "payment_method_categories".into(),
            serde_json::to_value(&categories).unwrap_or(Value::Null),
        );
        // Klarna sets these; a client cannot.
        session.remove("authorization_token");
        self.sessions.insert(session_id.clone(), session);
        json(
            200,
            &MerchantSession {
                payment_method_categories: Some(categories),
                ..MerchantSession::new(client_token, session_id)
            },
        )
    }

    fn read_session(&self, session_id: &str) -> Response {
        match self.sessions.get(session_id) {
            Some(session) => json(200, session),
            None => error(404, "NOT_FOUND", "No session has this id."),
        }
    }

    fn update_session(&mut self, session_id: &str, body: &[u8]) -> Response {
        // The body must be a `Session`; its fields are then merged as sent.
        if let Err(response) = decode::<klarna_models::payments::Session>(body) {
            return response;
        }
        let Ok(Value::Object(changes)) = serde_json::from_slice::<Value>(body) else {
            return error(400, "BAD_VALUE", "The request body is not a JSON object.");
        };
        let Some(session) = self.sessions.get_mut(session_id) else {
            return error(404, "NOT_FOUND", "No session has this id.");
        };
        if session.get("status").and_then(Value::as_str) == Some("complete") {
            return error(
                400,
                "BAD_VALUE",
                "An order was already placed from this session; it takes no changes.",
            );
        }
        let mut updated = session.clone();
        for (field, value) in changes {
            // What Klarna sets stays Klarna's.
            if !matches!(
                field.as_str(),
                "authorization_token"
                    | "client_token"
                    | "expires_at"
                    | "payment_method_categories"
                    | "status"
            ) {
                updated.insert(field, value);
            }
        }
        let Ok(check) = serde_json::from_value::<SessionRead>(Value::Object(updated.clone()))
        else {
            return error(400, "BAD_VALUE", "The updated session is not valid.");
        };
        if let Err(response) = check_cart(
            check.order_amount.unwrap_or(0),
            check.order_lines.as_deref().unwrap_or_default(),
            check.purchase_currency.as_deref().unwrap_or_default(),
        ) {
            return response;
        }
        *session = updated;
        Response::empty(204)
    }

    /// The authorization behind `token`, if it can still be used; Klarna's
    /// 404 otherwise, saying why.
    fn open_authorization(&mut self, token: &str) -> Result<&mut Authorization, Response> {
        let Some(authorization) = self.authorizations.get_mut(token) else {
            return Err(error(404, "NOT_FOUND", "No authorization has this token."));
        };
        // Another token of the same session (the buyer approved twice) may
        // not make a second order of one checkout.
        let complete = self
            .sessions
            .get(&authorization.session_id)
            .and_then(|session| session.get("status"))
            .and_then(Value::as_str)
            == Some("complete");
        if complete && authorization.used == TokenUse::Open {
            return Err(error(
                404,
                "NOT_FOUND",
                "The session of this authorization was already completed with another token.",
            ));
        }
        if authorization.expired || authorization.approved_at.elapsed() >= AUTHORIZATION_LIFETIME {
            authorization.expired = true;
            return Err(error(
                404,
                "NOT_FOUND",
                "The authorization token expired (it lasts 60 minutes); the buyer must authorize again.",
            ));
        }
        match &authorization.used {
            TokenUse::Open => Ok(authorization),
            TokenUse::Order(order_id) => Err(error(
                404,
                "NOT_FOUND",
                format!("The authorization token was already used to place order {order_id}."),
            )),
            TokenUse::CustomerToken(token_id) => Err(error(
                404,
                "NOT_FOUND",
                format!("The authorization token was already used for customer token {token_id}."),
            )),
            TokenUse::Cancelled => Err(error(404, "NOT_FOUND", "The authorization was cancelled.")),
        }
    }

    fn cancel(&mut self, token: &str) -> Response {
        match self.open_authorization(token) {
            Ok(authorization) => {
                authorization.used = TokenUse::Cancelled;
                Response::empty(204)
            }
            Err(response) => response,
        }
    }

    fn create_order(&mut self, token: &str, body: &[u8], orders: &mut State) -> Response {
        let create: CreateOrderRequest = match decode(body) {
            Ok(create) => create,
            Err(response) => return response,
        };
        if let Err(response) = check_cart(
            create.order_amount,
            &create.order_lines,
            &create.purchase_currency,
        ) {
            return response;
        }
        let authorization = match self.open_authorization(token) {
            Ok(authorization) => authorization,
            Err(response) => return response,
        };
        if create.order_amount != authorization.order_amount
            || !create
                .purchase_currency
                .eq_ignore_ascii_case(&authorization.purchase_currency)
        {
            return error(
                409,
                "NOT_MATCHING_AUTHORIZATION",
                format!(
                    "The order ({} {}) differs from what the buyer authorized ({} {}).",
                    create.order_amount,
                    create.purchase_currency,
                    authorization.order_amount,
                    authorization.purchase_currency
                ),
            );
        }
        let references = [&create.merchant_reference1, &create.merchant_reference2];
        let new = match order_of(
            &create.order_lines,
            create.order_amount,
            &create.purchase_currency,
            references,
        ) {
            Ok(new) => new.purchase_country(create.purchase_country.to_ascii_uppercase()),
            Err(response) => return response,
        };
        let order_id = orders.add_order(new);
        authorization.used = TokenUse::Order(order_id.clone());
        let session_id = authorization.session_id.clone();
        if let Some(session) = self.sessions.get_mut(&session_id) {
            session.insert("status".into(), Value::String("complete".into()));
        }
        json(
            200,
            &Order {
                fraud_status: Some(OrderFraudStatus::Accepted),
                redirect_url: Some(format!("https://sandbox.invalid/redirect/{order_id}")),
                ..Order::new(order_id)
            },
        )
    }

    fn create_customer_token(&mut self, token: &str, body: &[u8]) -> Response {
        let create: CustomerTokenCreationRequest = match decode(body) {
            Ok(create) => create,
            Err(response) => return response,
        };
        if self.tokens.len() >= MAX_TOKENS {
            return error(
                429,
                "TOO_MANY_REQUESTS",
                "The sandbox holds 100 000 customer tokens.",
            );
        }
        let authorization = match self.open_authorization(token) {
            Ok(authorization) => authorization,
            Err(response) => return response,
        };
        if !create
            .purchase_currency
            .eq_ignore_ascii_case(&authorization.purchase_currency)
        {
            return error(
                409,
                "NOT_MATCHING_AUTHORIZATION",
                "The currency differs from the authorized session's.",
            );
        }
        let token_id = uuid_v4();
        authorization.used = TokenUse::CustomerToken(token_id.clone());
        let session_id = authorization.session_id.clone();
        if let Some(session) = self.sessions.get_mut(&session_id) {
            session.insert("status".into(), Value::String("complete".into()));
        }
        self.tokens.insert(
            token_id.clone(),
            StoredToken {
                status: CustomerTokenStatus::Active,
                purchase_currency: create.purchase_currency.to_ascii_uppercase(),
                orders: Vec::new(),
            },
        );
        json(
            200,
            &CustomerTokenCreationResponse {
                payment_method_reference: Some(uuid_v4()),
                ..CustomerTokenCreationResponse::new(token_id)
            },
        )
    }

    fn read_token(&self, token_id: &str) -> Response {
        match self.tokens.get(token_id) {
            Some(token) => json(200, &CustomerToken::new("INVOICE", token.status.clone())),
            None => error(404, "NOT_FOUND", "No customer token has this id."),
        }
    }

    fn create_token_order(&mut self, token_id: &str, body: &[u8], orders: &mut State) -> Response {
        let create: CustomerTokenOrder = match decode(body) {
            Ok(create) => create,
            Err(response) => return response,
        };
        let Some(token) = self.tokens.get_mut(token_id) else {
            return error(404, "NOT_FOUND", "No customer token has this id.");
        };
        if token.status != CustomerTokenStatus::Active {
            return error(
                409,
                "TOKEN_NOT_ACTIVE",
                format!(
                    "The customer token is {}; it places no orders.",
                    token.status.as_str()
                ),
            );
        }
        if !create
            .purchase_currency
            .eq_ignore_ascii_case(&token.purchase_currency)
        {
            return error(
                409,
                "CURRENCY_MISMATCH",
                format!(
                    "The customer token was created for {}.",
                    token.purchase_currency
                ),
            );
        }
        let sum = create
            .order_lines
            .iter()
            .fold(0i64, |sum, line| sum.saturating_add(line.total_amount));
        if create.order_amount < 1 || sum != create.order_amount {
            return error(
                400,
                "BAD_VALUE",
                "order_amount must be at least 1 and equal the sum of the lines' total_amount.",
            );
        }
        let references = [&create.merchant_reference1, &create.merchant_reference2];
        let new = match order_of(
            &create.order_lines,
            create.order_amount,
            &create.purchase_currency,
            references,
        ) {
            Ok(new) => new,
            Err(response) => return response,
        };
        let order_id = orders.add_order(new);
        token.orders.push(order_id.clone());
        json(
            200,
            &CustomerTokenOrderResponse::new(
                CustomerTokenOrderResponseFraudStatus::Accepted,
                order_id.clone(),
                format!("https://sandbox.invalid/redirect/{order_id}"),
            ),
        )
    }

    fn update_token_status(&mut self, token_id: &str, body: &[u8]) -> Response {
        let update: CustomerTokenStatusUpdateRequest = match decode(body) {
            Ok(update) => update,
            Err(response) => return response,
        };
        if update.status != CustomerTokenStatusUpdateRequestStatus::Cancelled {
            return error(
                400,
                "BAD_VALUE",
                "The only status a token can be moved to is CANCELLED.",
            );
        }
        match self.tokens.get_mut(token_id) {
            Some(token) => {
                token.status = CustomerTokenStatus::Cancelled;
                Response::empty(202)
            }
            None => error(404, "NOT_FOUND", "No customer token has this id."),
        }
    }
}

#[derive(Clone, Copy)]
enum Part {
    Payments,
    Tokens,
    Approval,
}

/// The categories every sandbox session offers.
fn payment_method_categories() -> Vec<PaymentMethodCategory> {
    [
        (PaymentMethodCategoryIdentifier::PayLater, "Pay later"),
        (PaymentMethodCategoryIdentifier::PayOverTime, "Financing"),
        (PaymentMethodCategoryIdentifier::PayNow, "Pay now"),
    ]
    .into_iter()
    .map(|(identifier, name)| PaymentMethodCategory {
        asset_urls: None,
        identifier: Some(identifier),
        name: Some(name.to_owned()),
    })
    .collect()
}

/// Klarna's check of a cart: a positive total that the lines add up to, in
/// a three-letter currency.
fn check_cart<L: LineTotal>(
    order_amount: i64,
    lines: &[L],
    currency: &str,
) -> Result<(), Response> {
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(error(
            400,
            "BAD_VALUE",
            "purchase_currency must be three letters.",
        ));
    }
    let sum = lines
        .iter()
        .fold(0i64, |sum, line| sum.saturating_add(line.total()));
    if lines.is_empty() || order_amount < 0 || sum != order_amount {
        return Err(error(
            400,
            "BAD_VALUE",
            format!(
                "order_amount ({order_amount}) must equal the sum of the order lines' total_amount ({sum}), with at least one line."
            ),
        ));
    }
    Ok(())
}

trait LineTotal {
    fn total(&self) -> i64;
}

impl LineTotal for klarna_models::payments::OrderLine {
    fn total(&self) -> i64 {
        self.total_amount
    }
}

/// A Payments or Customer Token order line as an Order Management one: the
/// wire names are the same.
/// The Order Management order that an authorization or a customer token
/// places: the request's lines, amount, currency and merchant references.
fn order_of<L: Serialize>(
    lines: &[L],
    amount: i64,
    currency: &str,
    [reference1, reference2]: [&Option<String>; 2],
) -> Result<NewOrder, Response> {
    let Some(lines) = lines.iter().map(om_line).collect::<Option<Vec<_>>>() else {
        return Err(error(
            400,
            "BAD_VALUE",
            "An order line could not be taken over.",
        ));
    };
    let mut new = NewOrder::new(amount, currency.to_ascii_uppercase()).order_lines(lines);
    if let Some(reference) = reference1 {
        new = new.merchant_reference1(reference);
    }
    if let Some(reference) = reference2 {
        new = new.merchant_reference2(reference);
    }
    Ok(new)
}

fn om_line<L: Serialize>(line: &L) -> Option<klarna_models::ordermanagement::OrderLine> {
    serde_json::to_value(line)
        .ok()
        .and_then(|value| serde_json::from_value(value).ok())
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        error(
            400,
            "BAD_VALUE",
            format!("The request body does not match the schema: {e}."),
        )
    })
}

fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => Response::json(status, body),
        Err(e) => error(500, "INTERNAL_ERROR", e.to_string()),
    }
}
