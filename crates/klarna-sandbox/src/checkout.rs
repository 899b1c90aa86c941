//! Klarna Checkout v3 (now Kustom's): checkout orders created, read,
//! updated and aborted by the merchant, and a sandbox-only route that plays
//! the buyer completing the purchase, which in real life happens in the
//! checkout iframe.
//!
//! Completing calls the merchant as Klarna does, on `127.0.0.1` only:
//! `merchant_urls.address_update` when the buyer gives a shipping address
//! (the cart becomes the one the merchant answers), then
//! `merchant_urls.validation` with the whole order, waiting the documented
//! 3 s (10 s with `options.require_validate_callback_success`). A refusal
//! or a redirect keeps the order incomplete; silence past the deadline
//! completes it unless the order requires an answer. A completed order
//! becomes an Order Management order (`orders.rs`) under the same id, and
//! its push is sent to `merchant_urls.push`, again and again until the
//! merchant acknowledges the order through Order Management.
//!
//! Orders are kept as JSON in `klarna_models::checkout::Order`'s shape;
//! requests are decoded into that model first, so a malformed one is
//! refused with Klarna's error body.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};

use klarna_models::checkout::{Order, ShippingServiceRequest, ShippingServiceResponse};
use klarna_models::ordermanagement::OrderLine as OmOrderLine;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::http::{Request, Response};
use crate::merchant_call::{self, NoAnswer};
use crate::orders::{error, NewOrder, State};
use crate::util::{lock, now, path_segments, rfc3339, uuid_v4, BadPath};

/// What the completion needs of the sandbox (the router): the Checkout
/// and Order Management state, locked in that order.
pub(crate) trait Parts: Send + Sync + 'static {
    fn checkout(&self) -> MutexGuard<'_, Checkout>;
    fn orders(&self) -> MutexGuard<'_, State>;
}

/// Checkout v3.
pub(crate) const PREFIX: &str = "/checkout/v3/orders";
/// The sandbox-only route that plays the buyer: `POST
/// /sandbox/checkout/v3/orders/{order_id}/complete`.
pub(crate) const COMPLETION_PREFIX: &str = "/sandbox/checkout/v3/orders/";

const MAX_ORDERS: usize = 100_000;
/// How long the address update callback may take.
const ADDRESS_UPDATE_DEADLINE: Duration = Duration::from_secs(10);
/// How long one push may take.
const PUSH_DEADLINE: Duration = Duration::from_secs(2);
/// The delays before the second, third, ... push, unless a test sets
/// others (Klarna: every two hours for 48 hours).
const DEFAULT_PUSH_DELAYS: [Duration; 5] = [
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_millis(800),
];
const MAX_PUSH_RETRIES: usize = 20;
const MAX_PUSHES_LOGGED: usize = 10_000;

struct Stored {
    order: Map<String, Value>,
    aborted: bool,
}

/// One push the sandbox sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutPush {
    pub order_id: String,
    /// The push URL with the order id filled in.
    pub url: String,
    /// 1 for the first push, 2 for the next, ...
    pub attempt: usize,
    pub at: SystemTime,
    /// The merchant's status; `None` when it could not be reached in time.
    pub status: Option<u16>,
}

/// What completing a checkout order came to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckoutCompletion {
    pub order_id: String,
    /// `checkout_complete`, or `checkout_incomplete` when the merchant
    /// refused or redirected, or did not answer a validation it requires.
    pub status: String,
    /// `completed`, `refused`, `redirected`, `validation_too_late`, or
    /// `address_refused` / `address_redirected` for the address update.
    pub outcome: String,
    /// The refusal's `error_type` and `error_text`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_text: Option<String>,
    /// Where a redirect sends the buyer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

#[derive(Default)]
pub(crate) struct PushLog {
    attempts: Mutex<Vec<CheckoutPush>>,
    changed: Condvar,
}

impl PushLog {
    fn record(&self, push: CheckoutPush) {
        let mut attempts = lock(&self.attempts);
        if attempts.len() == MAX_PUSHES_LOGGED {
            attempts.remove(0);
        }
        attempts.push(push);
        drop(attempts);
        self.changed.notify_all();
    }

    pub(crate) fn attempts(&self) -> Vec<CheckoutPush> {
        lock(&self.attempts).clone()
    }

    pub(crate) fn wait_for(&self, count: usize, timeout: Duration) -> Vec<CheckoutPush> {
        let attempts = lock(&self.attempts);
        let (attempts, _) = self
            .changed
            .wait_timeout_while(attempts, timeout, |a| a.len() < count)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        attempts.clone()
    }
}

/// What the Checkout part remembers.
pub(crate) struct Checkout {
    orders: BTreeMap<String, Stored>,
    pub(crate) pushes: Arc<PushLog>,
    push_delays: Vec<Duration>,
    /// The validation deadlines: normal, and with
    /// `require_validate_callback_success`.
    deadlines: (Duration, Duration),
}

/// What a request under the Checkout prefixes asks the router to do.
pub(crate) enum Handled {
    Answer(Response),
    /// The sandbox-only completion, which calls the merchant: the router
    /// runs it off the server's thread.
    Complete {
        order_id: String,
        shipping_address: Option<Value>,
    },
}

impl Checkout {
    pub(crate) fn new() -> Self {
        Checkout {
            orders: BTreeMap::new(),
            pushes: Arc::new(PushLog::default()),
            push_delays: DEFAULT_PUSH_DELAYS.to_vec(),
            deadlines: (Duration::from_secs(3), Duration::from_secs(10)),
        }
    }

    pub(crate) fn set_push_delays(&mut self, delays: &[Duration]) {
        self.push_delays = delays.iter().take(MAX_PUSH_RETRIES).copied().collect();
    }

    pub(crate) fn set_deadlines(&mut self, normal: Duration, required: Duration) {
        self.deadlines = (normal, required);
    }

    /// The order as `readOrder` returns it.
    pub(crate) fn order(&self, order_id: &str) -> Option<Order> {
        let stored = self.orders.get(order_id)?;
        serde_json::from_value(Value::Object(stored.order.clone())).ok()
    }

    pub(crate) fn handle(&mut self, request: &Request, base_url: &str) -> Handled {
        if request.header("authorization").is_none() {
            return Handled::Answer(error(
                401,
                "UNAUTHORIZED",
                "Send HTTP Basic credentials; the sandbox accepts any.",
            ));
        }
        if let Some(rest) = request.path.strip_prefix(COMPLETION_PREFIX) {
            return match path_segments(rest, 2).as_deref() {
                Ok([order_id, complete]) if complete == "complete" && request.method == "POST" => {
                    if !self.orders.contains_key(order_id) {
                        return Handled::Answer(not_found());
                    }
                    let shipping_address = serde_json::from_slice::<Value>(&request.body)
                        .ok()
                        .and_then(|body| body.get("shipping_address").cloned());
                    Handled::Complete {
                        order_id: order_id.clone(),
                        shipping_address,
                    }
                }
                _ => Handled::Answer(error(404, "NOT_FOUND", "No such operation.")),
            };
        }
        let rest = request.path.strip_prefix(PREFIX).unwrap_or("x");
        if rest.is_empty() || rest == "/" {
            return Handled::Answer(match request.method.as_str() {
                "POST" => self.create(request, base_url),
                _ => error(404, "NOT_FOUND", "No such operation."),
            });
        }
        let Some(rest) = rest.strip_prefix('/') else {
            return Handled::Answer(error(404, "NOT_FOUND", "No such operation."));
        };
        let segments = match path_segments(rest, 2) {
            Ok(segments) => segments,
            Err(BadPath::Encoding) => {
                return Handled::Answer(error(
                    400,
                    "BAD_VALUE",
                    "The path is not validly percent-encoded.",
                ))
            }
            Err(_) => return Handled::Answer(error(404, "NOT_FOUND", "No such operation.")),
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        Handled::Answer(match (request.method.as_str(), segments.as_slice()) {
            ("GET", [order_id]) => match self.order(order_id) {
                Some(order) => json(200, &order),
                None => not_found(),
            },
            ("POST", [order_id]) => self.update(order_id, request),
            ("POST", [order_id, "abort"]) => self.abort(order_id),
            _ => error(404, "NOT_FOUND", "No such operation."),
        })
    }

    fn create(&mut self, request: &Request, base_url: &str) -> Response {
        let order: Order = match serde_json::from_slice(&request.body) {
            Ok(order) => order,
            Err(e) => return error(400, "BAD_VALUE", format!("The order does not decode: {e}")),
        };
        if let Some(problem) = amounts_problem(&order) {
            return error(400, "BAD_VALUE", problem);
        }
        if self.orders.len() >= MAX_ORDERS {
            return error(
                429,
                "TOO_MANY_REQUESTS",
                "The sandbox holds 100 000 checkout orders.",
            );
        }
        let Ok(Value::Object(mut stored)) = serde_json::to_value(&order) else {
            return error(500, "INTERNAL_ERROR", "The order does not encode.");
        };
        let order_id = uuid_v4();
        let at = rfc3339(now());
        stored.insert("order_id".into(), Value::String(order_id.clone()));
        stored.insert("status".into(), Value::String("checkout_incomplete".into()));
        stored.insert("started_at".into(), Value::String(at.clone()));
        stored.insert("last_modified_at".into(), Value::String(at));
        stored.insert(
            "html_snippet".into(),
            Value::String(snippet(&order_id, "checkout")),
        );
        self.orders.insert(
            order_id.clone(),
            Stored {
                order: stored,
                aborted: false,
            },
        );
        let mut response = self.read(&order_id, 201);
        response
            .headers
            .push(("Location", format!("{base_url}{PREFIX}/{order_id}")));
        response
    }

    fn read(&self, order_id: &str, status: u16) -> Response {
        match self.order(order_id) {
            Some(order) => json(status, &order),
            None => not_found(),
        }
    }

    fn update(&mut self, order_id: &str, request: &Request) -> Response {
        let Some(stored) = self.orders.get_mut(order_id) else {
            return not_found();
        };
        if stored.aborted || status_of(&stored.order) != "checkout_incomplete" {
            return error(
                403,
                "READ_ONLY_ORDER",
                "Only an incomplete order can be updated.",
            );
        }
        let changes: Map<String, Value> = match serde_json::from_slice(&request.body) {
            Ok(changes) => changes,
            Err(e) => return error(400, "BAD_VALUE", format!("The order does not decode: {e}")),
        };
        let mut updated = stored.order.clone();
        for (key, value) in changes {
            // Klarna sets these; a merchant's value is ignored.
            if ![
                "order_id",
                "status",
                "started_at",
                "completed_at",
                "html_snippet",
            ]
            .contains(&key.as_str())
            {
                updated.insert(key, value);
            }
        }
        let order: Order = match serde_json::from_value(Value::Object(updated.clone())) {
            Ok(order) => order,
            Err(e) => return error(400, "BAD_VALUE", format!("The order does not decode: {e}")),
        };
        if let Some(problem) = amounts_problem(&order) {
            return error(400, "BAD_VALUE", problem);
        }
        updated.insert("last_modified_at".into(), Value::String(rfc3339(now())));
        stored.order = updated;
        self.read(order_id, 200)
    }

    fn abort(&mut self, order_id: &str) -> Response {
        let Some(stored) = self.orders.get_mut(order_id) else {
            return not_found();
        };
        if status_of(&stored.order) != "checkout_incomplete" {
            return error(
                403,
                "READ_ONLY_ORDER",
                "A completed order cannot be aborted.",
            );
        }
        stored.aborted = true;
        self.read(order_id, 200)
    }
}

/// The order's `status`.
fn status_of(order: &Map<String, Value>) -> &str {
    order
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Klarna's rule: the lines add up to the order amount and its tax.
fn amounts_problem(order: &Order) -> Option<String> {
    let total: i64 = order
        .order_lines
        .iter()
        .fold(0, |s, l| s.saturating_add(l.total_amount));
    let tax: i64 = order
        .order_lines
        .iter()
        .fold(0, |s, l| s.saturating_add(l.total_tax_amount));
    if total != order.order_amount {
        return Some(format!(
            "Bad value: order_amount ({} is not the sum of the lines, {total})",
            order.order_amount
        ));
    }
    if tax != order.order_tax_amount {
        return Some(format!(
            "Bad value: order_tax_amount ({} is not the sum of the lines, {tax})",
            order.order_tax_amount
        ));
    }
    None
}

fn snippet(order_id: &str, kind: &str) -> String {
    format!("<div id=\"klarna-checkout-container\" data-sandbox-{kind}=\"{order_id}\"></div>")
}

fn json(status: u16, body: &impl Serialize) -> Response {
    Response::json(status, serde_json::to_vec(body).unwrap_or_default())
}

fn not_found() -> Response {
    error(
        404,
        "NOT_FOUND",
        "We did not find any order with given ID. You need to create a new order.",
    )
}

/// Plays the buyer completing the order: the address update and the
/// validation callbacks, then the Order Management order and the push. Runs
/// off the server's thread; it locks the Checkout state only between calls.
pub(crate) fn complete<P: Parts>(
    router: &Arc<P>,
    order_id: &str,
    address: Option<Value>,
) -> CheckoutCompletion {
    let outcome = |status: &str, outcome: &str| CheckoutCompletion {
        order_id: order_id.to_owned(),
        status: status.to_owned(),
        outcome: outcome.to_owned(),
        error_type: None,
        error_text: None,
        location: None,
    };
    let incomplete = "checkout_incomplete";
    let (mut order, deadlines) = {
        let checkout = router.checkout();
        match checkout.orders.get(order_id) {
            Some(stored) if stored.aborted => return outcome(incomplete, "aborted"),
            Some(stored) if status_of(&stored.order) != incomplete => {
                return outcome(status_of(&stored.order), "already_complete")
            }
            Some(stored) => (stored.order.clone(), checkout.deadlines),
            None => return outcome(incomplete, "no_such_order"),
        }
    };
    // The merchant URLs as the order had them when the buyer completed it.
    let urls = order.get("merchant_urls").cloned().unwrap_or(Value::Null);
    let url = |name: &str| {
        urls.get(name)
            .and_then(Value::as_str)
            .map(|url| url.replace("{checkout.order.id}", order_id))
    };

    // The buyer gives a shipping address: the merchant answers the cart for it.
    if let Some(address) = address {
        order.insert("shipping_address".into(), address.clone());
        if let Some(address_url) = url("address_update") {
            let request = shipping_request(&order);
            let body = serde_json::to_vec(&request).unwrap_or_default();
            match merchant_call::post(&address_url, Some(&body), ADDRESS_UPDATE_DEADLINE) {
                Ok(answer) if answer.status == 200 => {
                    if let Ok(cart) =
                        serde_json::from_slice::<ShippingServiceResponse>(&answer.body)
                    {
                        apply_cart(&mut order, cart);
                    }
                }
                Ok(answer) if (300..400).contains(&answer.status) => {
                    return CheckoutCompletion {
                        location: answer.location,
                        ..outcome(incomplete, "address_redirected")
                    };
                }
                Ok(answer) => return refusal(outcome(incomplete, "address_refused"), &answer.body),
                // Unanswered: the address stands, the cart unchanged.
                Err(_) => {}
            }
        }
    }

    // Validation, within the deadline.
    let required = order
        .get("options")
        .and_then(|o| o.get("require_validate_callback_success"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let Some(validation_url) = url("validation") {
        let deadline = if required { deadlines.1 } else { deadlines.0 };
        let body = serde_json::to_vec(&order).unwrap_or_default();
        match merchant_call::post(&validation_url, Some(&body), deadline) {
            Ok(answer) if (200..300).contains(&answer.status) => {}
            Ok(answer) if (300..400).contains(&answer.status) => {
                save(router.as_ref(), order_id, order);
                return CheckoutCompletion {
                    location: answer.location,
                    ..outcome(incomplete, "redirected")
                };
            }
            Ok(answer) => {
                save(router.as_ref(), order_id, order);
                return refusal(outcome(incomplete, "refused"), &answer.body);
            }
            Err(NoAnswer::TooLate | NoAnswer::Unreachable) if required => {
                save(router.as_ref(), order_id, order);
                return outcome(incomplete, "validation_too_late");
            }
            // Klarna goes ahead without an answer it does not require.
            Err(_) => {}
        }
    }

    // Complete: the Order Management order, then the push.
    let at = rfc3339(now());
    order.insert("status".into(), Value::String("checkout_complete".into()));
    order.insert("completed_at".into(), Value::String(at.clone()));
    order.insert("last_modified_at".into(), Value::String(at));
    order.insert(
        "html_snippet".into(),
        Value::String(snippet(order_id, "confirmation")),
    );
    let amount = order
        .get("order_amount")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let currency = order
        .get("purchase_currency")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let lines: Vec<OmOrderLine> = order
        .get("order_lines")
        .cloned()
        .and_then(|lines| serde_json::from_value(lines).ok())
        .unwrap_or_default();
    let mut new_order = NewOrder::new(amount, currency)
        .order_id(order_id)
        .order_lines(lines);
    if let Some(country) = order.get("purchase_country").and_then(Value::as_str) {
        new_order = new_order.purchase_country(country);
    }
    let push_url = url("push");
    {
        let mut checkout = router.checkout();
        // The lock was let go for the merchant's calls: another completion
        // or an abort may have come meanwhile. Only one completion makes
        // the Order Management order and its push.
        match checkout.orders.get_mut(order_id) {
            Some(stored) if stored.aborted => return outcome(incomplete, "aborted"),
            Some(stored) if status_of(&stored.order) != incomplete => {
                return outcome(status_of(&stored.order), "already_complete")
            }
            Some(stored) => stored.order = order,
            None => return outcome(incomplete, "no_such_order"),
        }
        let mut orders = router.orders();
        orders.add_order(new_order);
        drop(orders);
        if let Some(push_url) = push_url {
            let delays = checkout.push_delays.clone();
            let log = checkout.pushes.clone();
            let router = Arc::downgrade(router);
            let order_id = order_id.to_owned();
            // One thread per completed order, ended by the acknowledgement,
            // the last retry, or the sandbox going away.
            let _ = std::thread::Builder::new()
                .name("klarna-sandbox-push".into())
                .spawn(move || {
                    push_until_acknowledged(&router, &order_id, &push_url, &delays, &log)
                });
        }
    }
    outcome("checkout_complete", "completed")
}

fn refusal(mut completion: CheckoutCompletion, body: &[u8]) -> CheckoutCompletion {
    if let Ok(body) = serde_json::from_slice::<Value>(body) {
        completion.error_type = body
            .get("error_type")
            .and_then(Value::as_str)
            .map(str::to_owned);
        completion.error_text = body
            .get("error_text")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    completion
}

fn save<P: Parts>(router: &P, order_id: &str, order: Map<String, Value>) {
    if let Some(stored) = router.checkout().orders.get_mut(order_id) {
        stored.order = order;
    }
}

/// What the address update callback is sent: the cart and the addresses.
fn shipping_request(order: &Map<String, Value>) -> Value {
    let mut request = Map::new();
    for key in [
        "order_amount",
        "order_tax_amount",
        "order_lines",
        "billing_address",
        "shipping_address",
        "selected_shipping_option",
        "purchase_currency",
        "merchant_data",
        "merchant_reference1",
        "merchant_reference2",
        "customer",
        "locale",
    ] {
        if let Some(value) = order.get(key) {
            request.insert(key.to_owned(), value.clone());
        }
    }
    // Checked against the model, so the sandbox sends what Klarna documents.
    match serde_json::from_value::<ShippingServiceRequest>(Value::Object(request.clone())) {
        Ok(typed) => serde_json::to_value(typed).unwrap_or(Value::Object(request)),
        Err(_) => Value::Object(request),
    }
}

/// The order takes the merchant's cart; its first shipping option is the
/// buyer's choice.
fn apply_cart(order: &mut Map<String, Value>, cart: ShippingServiceResponse) {
    let Ok(Value::Object(cart)) = serde_json::to_value(cart) else {
        return;
    };
    for (key, value) in cart {
        if key == "shipping_options" {
            if let Some(first) = value.as_array().and_then(|options| options.first()) {
                order.insert("selected_shipping_option".into(), first.clone());
            }
        }
        order.insert(key, value);
    }
}

fn push_until_acknowledged<P: Parts>(
    router: &Weak<P>,
    order_id: &str,
    url: &str,
    delays: &[Duration],
    log: &PushLog,
) {
    let acknowledged = || {
        router
            .upgrade()
            .map(|router| router.orders().acknowledged(order_id) == Some(true))
    };
    for attempt in 1..=delays.len() + 1 {
        let at = SystemTime::now();
        let status = merchant_call::post(url, None, PUSH_DEADLINE)
            .ok()
            .map(|answer| answer.status);
        log.record(CheckoutPush {
            order_id: order_id.to_owned(),
            url: url.to_owned(),
            attempt,
            at,
            status,
        });
        match acknowledged() {
            // Acknowledged, or the sandbox is gone.
            Some(true) | None => return,
            Some(false) => {}
        }
        match delays.get(attempt - 1) {
            Some(delay) => std::thread::sleep(*delay),
            None => return,
        }
        if acknowledged() != Some(false) {
            return;
        }
    }
}
