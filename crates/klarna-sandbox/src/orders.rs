//! The Order Management state machine: orders, captures and refunds, and
//! what each of the 18 operations does to them.
//!
//! Requests are decoded into, and responses built from, the generated
//! `klarna_models::ordermanagement` types, so the stand-in and the client
//! agree on the wire format by construction and any drift in the spec shows
//! up in both.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use klarna_models::ordermanagement::{
    Address, Capture, CaptureId, CaptureObject, ErrorMessageDto, ExtendDueDateOptions,
    ExtendDueDateRequest, MerchantOrderDto, MerchantOrderDtoFraudStatus, MerchantOrderDtoStatus,
    OptionDto, OrderLine, OrderLineType, Refund, RefundObject, ShippingInfo, UpdateAuthorization,
    UpdateConsumer, UpdateMerchantReferences, UpdateShippingInfo,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::http::{Request, Response};
use crate::util::{encode_segment, now, path_segments, rfc3339, uuid_v4, BadPath, Replays, DAY};

/// The largest amount a single request may carry, as the spec's `maximum`.
const MAX_AMOUNT: i64 = 200_000_000;
/// How long an authorization lasts, and how far one extension moves it.
const AUTHORIZATION_PERIOD: i64 = 28 * DAY;
/// Bounds on what one order can accumulate, so a runaway test cannot grow
/// the stand-in without limit.
const MAX_CAPTURES: usize = 1000;
const MAX_REFUNDS: usize = 1000;
const MAX_SHIPPING_INFO: usize = 1000;
/// The due date extensions every capture offers, with the merchant's fee in
/// minor units. Klarna's real offer depends on the payment method and the
/// market; the stand-in offers one fixed table.
const DUE_DATE_OPTIONS: [(i32, i64); 3] = [(7, 395), (14, 695), (28, 995)];

/// One unit of a physical product, without tax or discount: the shape of
/// the lines in Klarna's guides, for seeding orders and building captures.
pub fn physical_line(reference: &str, name: &str, amount: i64) -> OrderLine {
    OrderLine {
        r#type: Some(OrderLineType::Physical),
        reference: Some(reference.to_owned()),
        name: name.to_owned(),
        quantity: 1,
        unit_price: amount,
        total_amount: amount,
        image_url: None,
        merchant_data: None,
        product_identifiers: None,
        product_url: None,
        quantity_unit: None,
        subscription: None,
        tax_rate: None,
        total_discount_amount: None,
        total_tax_amount: None,
    }
}

/// An order to seed: what the customer's purchase authorized.
#[derive(Clone, Debug)]
pub struct NewOrder {
    order_id: Option<String>,
    order_amount: i64,
    purchase_currency: String,
    order_lines: Vec<OrderLine>,
    merchant_reference1: Option<String>,
    merchant_reference2: Option<String>,
    shipping_address: Option<Address>,
}

impl NewOrder {
    /// An order authorized for `order_amount` minor units of
    /// `purchase_currency` (ISO 4217, such as `EUR`), without order lines.
    pub fn new(order_amount: i64, purchase_currency: impl Into<String>) -> Self {
        NewOrder {
            order_id: None,
            order_amount,
            purchase_currency: purchase_currency.into(),
            order_lines: Vec::new(),
            merchant_reference1: None,
            merchant_reference2: None,
            shipping_address: None,
        }
    }

    /// An order of these lines, authorized for the sum of their
    /// `total_amount`s.
    pub fn with_lines(purchase_currency: impl Into<String>, order_lines: Vec<OrderLine>) -> Self {
        let amount = order_lines
            .iter()
            .fold(0i64, |sum, line| sum.saturating_add(line.total_amount));
        NewOrder::new(amount, purchase_currency).order_lines(order_lines)
    }

    /// The cart of Klarna's refund allocation guide, which the demos and
    /// the gateway's `--sandbox` seed: a T-shirt (30.00), jeans (70.00)
    /// and sneakers (100.00), 200.00 EUR authorized.
    pub fn guide_cart() -> Self {
        NewOrder::with_lines(
            "EUR",
            vec![
                physical_line("A12345", "T-shirt", 3000),
                physical_line("A98765", "Jeans", 7000),
                physical_line("B24680", "Sneakers", 10000),
            ],
        )
    }

    /// Uses this order id instead of a random UUID. Seeding an id that is
    /// already taken replaces that order.
    pub fn order_id(mut self, order_id: impl Into<String>) -> Self {
        self.order_id = Some(order_id.into());
        self
    }

    /// The order lines, kept as given (the amount is not recomputed).
    pub fn order_lines(mut self, order_lines: Vec<OrderLine>) -> Self {
        self.order_lines = order_lines;
        self
    }

    /// The merchant's order number.
    pub fn merchant_reference1(mut self, reference: impl Into<String>) -> Self {
        self.merchant_reference1 = Some(reference.into());
        self
    }

    /// The merchant's second reference.
    pub fn merchant_reference2(mut self, reference: impl Into<String>) -> Self {
        self.merchant_reference2 = Some(reference.into());
        self
    }

    /// The customer's address, used as both billing and shipping address.
    pub fn address(mut self, address: Address) -> Self {
        self.shipping_address = Some(address);
        self
    }
}

/// Where a refund was booked, by the allocation rules of Klarna's refund
/// allocation guide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Allocation {
    /// On the invoice of this capture.
    Capture(CaptureId),
    /// On the order as a whole: accepted, but no capture matched.
    Unallocated,
}

/// Where an order is in its life, apart from what its amounts say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lifecycle {
    Open,
    Cancelled,
    Expired,
    Closed,
}

struct CaptureRecord {
    capture: Capture,
    due_date_extended_days: i64,
    send_outs: u32,
}

struct RefundRecord {
    refund: Refund,
    allocation: Allocation,
}

struct Order {
    id: String,
    klarna_reference: String,
    currency: String,
    order_amount: i64,
    original_order_amount: i64,
    order_lines: Vec<OrderLine>,
    captures: Vec<CaptureRecord>,
    refunds: Vec<RefundRecord>,
    lifecycle: Lifecycle,
    released: bool,
    /// Seed 003: once one refund could not be allocated, none after it is.
    allocation_failed: bool,
    shipping_info: Vec<ShippingInfo>,
    merchant_reference1: Option<String>,
    merchant_reference2: Option<String>,
    shipping_address: Option<Address>,
    billing_address: Option<Address>,
    created_at: i64,
    expires_at: i64,
    acknowledged: bool,
}

impl Order {
    fn captured_amount(&self) -> i64 {
        self.captures.iter().fold(0, |sum, c| {
            sum.saturating_add(amount(c.capture.captured_amount))
        })
    }

    fn refunded_amount(&self) -> i64 {
        self.refunds.iter().fold(0, |sum, r| {
            sum.saturating_add(amount(r.refund.refunded_amount))
        })
    }

    fn remaining_authorized_amount(&self) -> i64 {
        if self.lifecycle != Lifecycle::Open || self.released {
            return 0;
        }
        self.order_amount
            .saturating_sub(self.captured_amount())
            .max(0)
    }

    fn status(&self) -> MerchantOrderDtoStatus {
        match self.lifecycle {
            Lifecycle::Cancelled => MerchantOrderDtoStatus::Cancelled,
            Lifecycle::Expired => MerchantOrderDtoStatus::Expired,
            Lifecycle::Closed => MerchantOrderDtoStatus::Closed,
            Lifecycle::Open => {
                let captured = self.captured_amount();
                if captured == 0 {
                    MerchantOrderDtoStatus::Authorized
                } else if self.released || captured >= self.order_amount {
                    MerchantOrderDtoStatus::Captured
                } else {
                    MerchantOrderDtoStatus::PartCaptured
                }
            }
        }
    }

    /// Why the order takes no more changes, if it does not.
    fn closed_reason(&self) -> Option<&'static str> {
        match self.lifecycle {
            Lifecycle::Open => None,
            Lifecycle::Cancelled => Some("The order is cancelled."),
            Lifecycle::Expired => Some("The order's authorization has expired."),
            Lifecycle::Closed => Some("The order is closed."),
        }
    }

    fn capture_mut(&mut self, capture_id: &str) -> Option<&mut CaptureRecord> {
        self.captures
            .iter_mut()
            .find(|c| c.capture.capture_id.as_deref() == Some(capture_id))
    }

    fn render(&self) -> MerchantOrderDto {
        MerchantOrderDto {
            order_id: Some(self.id.clone().into()),
            klarna_reference: Some(self.klarna_reference.clone()),
            status: Some(self.status()),
            fraud_status: Some(MerchantOrderDtoFraudStatus::Accepted),
            purchase_currency: Some(self.currency.clone()),
            order_amount: Some(self.order_amount),
            original_order_amount: Some(self.original_order_amount),
            captured_amount: Some(self.captured_amount()),
            refunded_amount: Some(self.refunded_amount()),
            remaining_authorized_amount: Some(self.remaining_authorized_amount()),
            order_lines: Some(self.order_lines.clone()),
            captures: Some(self.captures.iter().map(|c| c.capture.clone()).collect()),
            refunds: Some(self.refunds.iter().map(|r| r.refund.clone()).collect()),
            shipping_info: Some(self.shipping_info.clone()),
            merchant_reference1: self.merchant_reference1.clone(),
            merchant_reference2: self.merchant_reference2.clone(),
            shipping_address: self.shipping_address.clone(),
            billing_address: self.billing_address.clone(),
            created_at: Some(rfc3339(self.created_at)),
            expires_at: Some(rfc3339(self.expires_at)),
            ..MerchantOrderDto::default()
        }
    }
}

/// First answers to idempotency keys, per order id (as sent in the
/// path), by (method, path, key).
type OrderReplays = Replays<String, (String, String, String), Response>;

/// Everything the Order Management part remembers.
pub(crate) struct State {
    orders: BTreeMap<String, Order>,
    idempotent: OrderReplays,
}

impl State {
    /// No orders; idempotency keys kept for `retention`, at most
    /// `keys_per_order` per order.
    pub(crate) fn new(retention: Duration, keys_per_order: usize) -> Self {
        State {
            orders: BTreeMap::new(),
            idempotent: Replays::new(retention, keys_per_order),
        }
    }

    pub(crate) fn add_order(&mut self, new: NewOrder) -> String {
        let id = new.order_id.unwrap_or_else(uuid_v4);
        let created_at = now();
        let klarna_reference = id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(7)
            .collect::<String>()
            .to_ascii_uppercase();
        let order = Order {
            id: id.clone(),
            klarna_reference,
            currency: new.purchase_currency,
            order_amount: new.order_amount,
            original_order_amount: new.order_amount,
            order_lines: new.order_lines,
            captures: Vec::new(),
            refunds: Vec::new(),
            lifecycle: Lifecycle::Open,
            released: false,
            allocation_failed: false,
            shipping_info: Vec::new(),
            merchant_reference1: new.merchant_reference1,
            merchant_reference2: new.merchant_reference2,
            shipping_address: new.shipping_address.clone(),
            billing_address: new.shipping_address,
            created_at,
            expires_at: created_at.saturating_add(AUTHORIZATION_PERIOD),
            acknowledged: false,
        };
        self.orders.insert(id.clone(), order);
        id
    }

    pub(crate) fn order(&self, order_id: &str) -> Option<MerchantOrderDto> {
        self.orders.get(order_id).map(Order::render)
    }

    pub(crate) fn allocation(&self, order_id: &str, refund_id: &str) -> Option<Allocation> {
        self.orders
            .get(order_id)?
            .refunds
            .iter()
            .find(|r| r.refund.refund_id.as_deref() == Some(refund_id))
            .map(|r| r.allocation.clone())
    }

    pub(crate) fn due_date_extended_days(&self, order_id: &str, capture_id: &str) -> Option<i64> {
        self.find_capture(order_id, capture_id)
            .map(|c| c.due_date_extended_days)
    }

    pub(crate) fn send_outs(&self, order_id: &str, capture_id: &str) -> Option<u32> {
        self.find_capture(order_id, capture_id).map(|c| c.send_outs)
    }

    pub(crate) fn acknowledged(&self, order_id: &str) -> Option<bool> {
        self.orders.get(order_id).map(|o| o.acknowledged)
    }

    /// Marks an order expired or closed; false when there is no such order.
    pub(crate) fn end_order(&mut self, order_id: &str, closed: bool) -> bool {
        let Some(order) = self.orders.get_mut(order_id) else {
            return false;
        };
        order.lifecycle = if closed {
            Lifecycle::Closed
        } else {
            Lifecycle::Expired
        };
        true
    }

    fn find_capture(&self, order_id: &str, capture_id: &str) -> Option<&CaptureRecord> {
        self.orders
            .get(order_id)?
            .captures
            .iter()
            .find(|c| c.capture.capture_id.as_deref() == Some(capture_id))
    }

    /// Answers one well-formed request: checks that credentials were sent,
    /// then replays the first answer to a repeated idempotency key.
    ///
    /// Keys are remembered per order. A `404` is not remembered: nothing
    /// happened, and unknown ids must not fill the memory.
    pub(crate) fn handle(&mut self, request: &Request, base_url: &str) -> Response {
        if request.header("authorization").is_none() {
            return error(
                401,
                "UNAUTHORIZED",
                "Send HTTP Basic credentials; the sandbox accepts any.",
            );
        }
        let now = Instant::now();
        let key = request
            .header("klarna-idempotency-key")
            .filter(|_| request.method != "GET")
            .map(|key| {
                let order = request
                    .path
                    .strip_prefix("/ordermanagement/v1/orders/")
                    .and_then(|rest| rest.split('/').next())
                    .unwrap_or_default()
                    .to_owned();
                let key = (request.method.clone(), request.path.clone(), key.to_owned());
                (order, key)
            });
        if let Some((order, key)) = &key {
            if let Some(response) = self.idempotent.get(order, key, now) {
                return response.clone();
            }
            if self.idempotent.is_full(order) {
                return error(
                    429,
                    "TOO_MANY_REQUESTS",
                    format!(
                        "This order already has {} idempotency keys inside their retention; \
                         the sandbox takes no new one rather than forget one.",
                        self.idempotent.per_resource()
                    ),
                );
            }
        }
        let response = self.route(request, base_url);
        if let Some((order, key)) = key {
            if response.status != 404 {
                self.idempotent.remember(order, key, response.clone(), now);
            }
        }
        response
    }

    fn route(&mut self, request: &Request, base_url: &str) -> Response {
        let Some(rest) = request.path.strip_prefix("/ordermanagement/v1/orders/") else {
            return error(404, "NOT_FOUND", "No such resource.");
        };
        // No operation's path has more than four segments after `orders/`.
        let segments = match path_segments(rest, 4) {
            Ok(segments) => segments,
            Err(BadPath::NoRoute) => return error(404, "NOT_FOUND", "No such resource."),
            Err(BadPath::Encoding) => {
                return error(400, "BAD_VALUE", "The path is not valid percent-encoding.")
            }
        };
        let method = request.method.as_str();
        let body = &request.body;
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let allowed: &str = match s.as_slice() {
            [id] => match method {
                "GET" => return self.get_order(id),
                _ => "GET",
            },
            [id, "acknowledge"] => match method {
                "POST" => return self.acknowledge(id),
                _ => "POST",
            },
            [id, "authorization"] => match method {
                "PATCH" => return self.update_authorization(id, body),
                _ => "PATCH",
            },
            [id, "captures"] => match method {
                "GET" => return self.get_captures(id),
                "POST" => return self.capture(id, body, base_url),
                _ => "GET, POST",
            },
            [id, "captures", capture_id] => match method {
                "GET" => return self.get_capture(id, capture_id),
                _ => "GET",
            },
            [id, "captures", capture_id, "extend-due-date"] => match method {
                "PATCH" => return self.extend_due_date(id, capture_id, body),
                _ => "PATCH",
            },
            [id, "captures", capture_id, "extend-due-date-options"] => match method {
                "GET" => return self.due_date_options(id, capture_id),
                _ => "GET",
            },
            [id, "captures", capture_id, "shipping-info"] => match method {
                "POST" => return self.capture_shipping_info(id, capture_id, body),
                _ => "POST",
            },
            [id, "captures", capture_id, "trigger-send-out"] => match method {
                "POST" => return self.trigger_send_out(id, capture_id),
                _ => "POST",
            },
            [id, "customer-details"] => match method {
                "PATCH" => return self.customer_details(id, body),
                _ => "PATCH",
            },
            [id, "extend-authorization-time"] => match method {
                "POST" => return self.extend_authorization_time(id),
                _ => "POST",
            },
            [id, "merchant-references"] => match method {
                "PATCH" => return self.merchant_references(id, body),
                _ => "PATCH",
            },
            [id, "refunds"] => match method {
                "POST" => return self.refund(id, body, base_url),
                _ => "POST",
            },
            [id, "refunds", refund_id] => match method {
                "GET" => return self.get_refund(id, refund_id),
                _ => "GET",
            },
            [id, "release-remaining-authorization"] => match method {
                "POST" => return self.release(id),
                _ => "POST",
            },
            [id, "shipping-info"] => match method {
                "POST" => return self.order_shipping_info(id, body),
                _ => "POST",
            },
            [id, "cancel"] => match method {
                "POST" => return self.cancel(id),
                _ => "POST",
            },
            _ => return error(404, "NOT_FOUND", "No such resource."),
        };
        let mut response = error(
            405,
            "METHOD_NOT_ALLOWED",
            format!("{method} is not allowed here."),
        );
        response.headers.push(("Allow", allowed.to_owned()));
        response
    }

    fn order_mut(&mut self, order_id: &str) -> Result<&mut Order, Response> {
        self.orders.get_mut(order_id).ok_or_else(|| {
            error(
                404,
                "NO_SUCH_ORDER",
                format!("No order with id {order_id}."),
            )
        })
    }

    fn get_order(&mut self, order_id: &str) -> Response {
        match self.order_mut(order_id) {
            Ok(order) => json(200, &order.render()),
            Err(response) => response,
        }
    }

    fn acknowledge(&mut self, order_id: &str) -> Response {
        let order = match self.order_mut(order_id) {
            Ok(order) => order,
            Err(response) => return response,
        };
        if let Some(reason) = order.closed_reason() {
            return error(403, "NOT_ALLOWED", reason);
        }
        order.acknowledged = true;
        Response::empty(204)
    }

    /// Seed 004: the new amount replaces the old, the new lines replace the
    /// old ones (no lines means none), and the change is refused for a
    /// negative amount, one below what is captured, or an order that is
    /// fully captured, cancelled or expired.
    fn update_authorization(&mut self, order_id: &str, body: &[u8]) -> Response {
        let order = match self.order_mut(order_id) {
            Ok(order) => order,
            Err(response) => return response,
        };
        let update: UpdateAuthorization = match decode(body) {
            Ok(update) => update,
            Err(response) => return response,
        };
        if update.order_amount > MAX_AMOUNT {
            return error(
                400,
                "BAD_VALUE",
                format!("order_amount may be at most {MAX_AMOUNT}."),
            );
        }
        if let Some(reason) = order.closed_reason() {
            return error(403, "NOT_ALLOWED", reason);
        }
        let captured = order.captured_amount();
        if order.status() == MerchantOrderDtoStatus::Captured {
            return error(
                403,
                "NOT_ALLOWED",
                "The order is fully captured; its amount cannot change.",
            );
        }
        if update.order_amount < 0 {
            return error(403, "NOT_ALLOWED", "The order amount cannot be negative.");
        }
        if update.order_amount < captured {
            return error(
                403,
                "NOT_ALLOWED",
                format!("The order amount cannot be less than the captured amount ({captured})."),
            );
        }
        order.order_amount = update.order_amount;
        order.order_lines = update.order_lines.unwrap_or_default();
        Response::empty(204)
    }

    fn get_captures(&mut self, order_id: &str) -> Response {
        match self.order_mut(order_id) {
            Ok(order) => {
                let captures: Vec<&Capture> = order.captures.iter().map(|c| &c.capture).collect();
                json(200, &captures)
            }
            Err(response) => response,
        }
    }

    fn capture(&mut self, order_id: &str, body: &[u8], base_url: &str) -> Response {
        let order = match self.order_mut(order_id) {
            Ok(order) => order,
            Err(response) => return response,
        };
        let request: CaptureObject = match decode(body) {
            Ok(request) => request,
            Err(response) => return response,
        };
        if !(0..=MAX_AMOUNT).contains(&request.captured_amount) {
            return error(
                400,
                "BAD_VALUE",
                format!("captured_amount must be between 0 and {MAX_AMOUNT}."),
            );
        }
        if let Some(reason) = order.closed_reason() {
            return error(403, "CAPTURE_NOT_ALLOWED", reason);
        }
        let remaining = order.remaining_authorized_amount();
        if request.captured_amount > remaining {
            return error(
                403,
                "CAPTURE_NOT_ALLOWED",
                format!(
                    "Captured amount {} is higher than the remaining authorized amount {remaining}.",
                    request.captured_amount
                ),
            );
        }
        if request.captured_amount == 0 {
            return error(
                403,
                "CAPTURE_NOT_ALLOWED",
                "A capture must take more than nothing.",
            );
        }
        if order.captures.len() == MAX_CAPTURES {
            return error(
                403,
                "CAPTURE_NOT_ALLOWED",
                "The stand-in keeps at most 1000 captures per order.",
            );
        }
        let capture_id = uuid_v4();
        let capture = Capture {
            capture_id: Some(capture_id.clone().into()),
            klarna_reference: Some(format!(
                "{}-{}",
                order.klarna_reference,
                order.captures.len() + 1
            )),
            captured_amount: Some(request.captured_amount),
            captured_at: Some(rfc3339(now())),
            description: request.description,
            order_lines: request.order_lines,
            reference: request.reference,
            refunded_amount: Some(0),
            shipping_info: Some(request.shipping_info.unwrap_or_default()),
            billing_address: order.billing_address.clone(),
            shipping_address: order.shipping_address.clone(),
        };
        order.captures.push(CaptureRecord {
            capture,
            due_date_extended_days: 0,
            send_outs: 0,
        });
        let location = format!(
            "{base_url}/ordermanagement/v1/orders/{}/captures/{}",
            encode_segment(order_id),
            encode_segment(&capture_id)
        );
        let mut response = Response::empty(201);
        response.headers.push(("Capture-Id", capture_id));
        response.headers.push(("Location", location));
        response
    }

    fn get_capture(&mut self, order_id: &str, capture_id: &str) -> Response {
        match self.capture_mut(order_id, capture_id) {
            Ok(record) => json(200, &record.capture),
            Err(response) => response,
        }
    }

    fn capture_mut(
        &mut self,
        order_id: &str,
        capture_id: &str,
    ) -> Result<&mut CaptureRecord, Response> {
        self.order_mut(order_id)?
            .capture_mut(capture_id)
            .ok_or_else(|| {
                error(
                    404,
                    "NO_SUCH_CAPTURE",
                    format!("No capture with id {capture_id} on this order."),
                )
            })
    }

    fn due_date_options(&mut self, order_id: &str, capture_id: &str) -> Response {
        let currency = match self.order_mut(order_id) {
            Ok(order) => order.currency.clone(),
            Err(response) => return response,
        };
        if let Err(response) = self.capture_mut(order_id, capture_id) {
            return response;
        }
        let options = ExtendDueDateOptions {
            currency: Some(currency),
            options: Some(
                DUE_DATE_OPTIONS
                    .iter()
                    .map(|&(days, fee)| OptionDto {
                        number_of_days: Some(days),
                        amount: Some(fee),
                    })
                    .collect(),
            ),
        };
        json(200, &options)
    }

    /// Extends by one of the offered numbers of days; a capture that is
    /// fully refunded leaves the customer nothing to pay, so nothing to
    /// extend.
    fn extend_due_date(&mut self, order_id: &str, capture_id: &str, body: &[u8]) -> Response {
        let record = match self.capture_mut(order_id, capture_id) {
            Ok(record) => record,
            Err(response) => return response,
        };
        let request: ExtendDueDateRequest = match decode(body) {
            Ok(request) => request,
            Err(response) => return response,
        };
        if !DUE_DATE_OPTIONS
            .iter()
            .any(|&(days, _)| days == request.number_of_days)
        {
            return error(
                403,
                "NOT_ALLOWED",
                format!(
                    "{} days is not one of the offered extensions.",
                    request.number_of_days
                ),
            );
        }
        let capture = &record.capture;
        if amount(capture.refunded_amount) >= amount(capture.captured_amount) {
            return error(
                403,
                "NOT_ALLOWED",
                "The capture is fully refunded; nothing is due.",
            );
        }
        record.due_date_extended_days = record
            .due_date_extended_days
            .saturating_add(i64::from(request.number_of_days));
        Response::empty(204)
    }

    fn capture_shipping_info(&mut self, order_id: &str, capture_id: &str, body: &[u8]) -> Response {
        let record = match self.capture_mut(order_id, capture_id) {
            Ok(record) => record,
            Err(response) => return response,
        };
        let update = match decode_shipping_info(body) {
            Ok(update) => update,
            Err(response) => return response,
        };
        let stored = record.capture.shipping_info.get_or_insert_with(Vec::new);
        if stored.len().saturating_add(update.shipping_info.len()) > MAX_SHIPPING_INFO {
            return error(
                403,
                "NOT_ALLOWED",
                "The stand-in keeps at most 1000 shipments per capture.",
            );
        }
        stored.extend(update.shipping_info);
        Response::empty(204)
    }

    fn trigger_send_out(&mut self, order_id: &str, capture_id: &str) -> Response {
        match self.capture_mut(order_id, capture_id) {
            Ok(record) => {
                record.send_outs = record.send_outs.saturating_add(1);
                Response::empty(204)
            }
            Err(response) => response,
        }
    }

    fn customer_details(&mut self, order_id: &str, body: &[u8]) -> Response {
        let order = match self.order_mut(order_id) {
            Ok(order) => order,
            Err(response) => return response,
        };
        let update: UpdateConsumer = match decode(body) {
            Ok(update) => update,
            Err(response) => return response,
        };
        if let Some(reason) = order.closed_reason() {
            return error(403, "NOT_ALLOWED", reason);
        }
        if let Some(address) = update.shipping_address {
            order.shipping_address = Some(address);
        }
        Response::empty(204)
    }

    fn extend_authorization_time(&mut self, order_id: &str) -> Response {
        let order = match self.order_mut(order_id) {
            Ok(order) => order,
            Err(response) => return response,
        };
        if let Some(reason) = order.closed_reason() {
            return error(403, "NOT_ALLOWED", reason);
        }
        if order.remaining_authorized_amount() == 0 {
            return error(
                403,
                "NOT_ALLOWED",
                "Nothing is left to capture; there is no authorization to extend.",
            );
        }
        order.expires_at = order.expires_at.saturating_add(AUTHORIZATION_PERIOD);
        Response::empty(204)
    }

    fn merchant_references(&mut self, order_id: &str, body: &[u8]) -> Response {
        let order = match self.order_mut(order_id) {
            Ok(order) => order,
            Err(response) => return response,
        };
        let update: UpdateMerchantReferences = match decode(body) {
            Ok(update) => update,
            Err(response) => return response,
        };
        if order.lifecycle == Lifecycle::Cancelled {
            return error(403, "NOT_ALLOWED", "The order is cancelled.");
        }
        if update.merchant_reference1.is_some() {
            order.merchant_reference1 = update.merchant_reference1;
        }
        if update.merchant_reference2.is_some() {
            order.merchant_reference2 = update.merchant_reference2;
        }
        Response::empty(204)
    }

    /// At most what is captured and not yet refunded; allocated to a capture
    /// by the rules of seed 003 (see [`allocate`]).
    fn refund(&mut self, order_id: &str, body: &[u8], base_url: &str) -> Response {
        let order = match self.orders.get_mut(order_id) {
            Some(order) => order,
            None => {
                return error(
                    404,
                    "NO_SUCH_ORDER",
                    format!("No order with id {order_id}."),
                )
            }
        };
        let request: RefundObject = match decode(body) {
            Ok(request) => request,
            Err(response) => return response,
        };
        if !(0..=MAX_AMOUNT).contains(&request.refunded_amount) {
            return error(
                400,
                "BAD_VALUE",
                format!("refunded_amount must be between 0 and {MAX_AMOUNT}."),
            );
        }
        let refundable = order
            .captured_amount()
            .saturating_sub(order.refunded_amount());
        if request.refunded_amount > refundable {
            return error(
                403,
                "REFUND_NOT_ALLOWED",
                format!(
                    "Refunded amount {} is higher than the captured amount not yet refunded ({refundable}).",
                    request.refunded_amount
                ),
            );
        }
        if request.refunded_amount == 0 {
            return error(
                403,
                "REFUND_NOT_ALLOWED",
                "A refund must give back more than nothing.",
            );
        }
        if order.refunds.len() == MAX_REFUNDS {
            return error(
                403,
                "REFUND_NOT_ALLOWED",
                "The stand-in keeps at most 1000 refunds per order.",
            );
        }
        let allocation = allocate(order, &request);
        match &allocation {
            Allocation::Capture(capture_id) => {
                if let Some(record) = order.capture_mut(capture_id) {
                    let refunded = amount(record.capture.refunded_amount);
                    record.capture.refunded_amount =
                        Some(refunded.saturating_add(request.refunded_amount));
                }
            }
            Allocation::Unallocated => order.allocation_failed = true,
        }
        let refund_id = uuid_v4();
        order.refunds.push(RefundRecord {
            refund: Refund {
                refund_id: Some(refund_id.clone().into()),
                refunded_amount: Some(request.refunded_amount),
                refunded_at: Some(rfc3339(now())),
                description: request.description,
                order_lines: request.order_lines,
                reference: request.reference,
                credit_invoice: None,
            },
            allocation,
        });
        let location = format!(
            "{base_url}/ordermanagement/v1/orders/{}/refunds/{}",
            encode_segment(order_id),
            encode_segment(&refund_id)
        );
        let mut response = Response::empty(201);
        response.headers.push(("Refund-Id", refund_id));
        response.headers.push(("Location", location));
        response
    }

    fn get_refund(&mut self, order_id: &str, refund_id: &str) -> Response {
        let Some(order) = self.orders.get(order_id) else {
            return error(
                404,
                "NO_SUCH_ORDER",
                format!("No order with id {order_id}."),
            );
        };
        match order
            .refunds
            .iter()
            .find(|r| r.refund.refund_id.as_deref() == Some(refund_id))
        {
            Some(record) => json(200, &record.refund),
            None => error(
                404,
                "NOT_FOUND",
                format!("No refund with id {refund_id} on this order."),
            ),
        }
    }

    fn release(&mut self, order_id: &str) -> Response {
        let order = match self.order_mut(order_id) {
            Ok(order) => order,
            Err(response) => return response,
        };
        if let Some(reason) = order.closed_reason() {
            return error(403, "NOT_ALLOWED", reason);
        }
        if order.captured_amount() == 0 {
            return error(
                403,
                "NOT_ALLOWED",
                "Nothing is captured yet; cancel the order instead.",
            );
        }
        order.released = true;
        Response::empty(204)
    }

    fn order_shipping_info(&mut self, order_id: &str, body: &[u8]) -> Response {
        let order = match self.order_mut(order_id) {
            Ok(order) => order,
            Err(response) => return response,
        };
        let update = match decode_shipping_info(body) {
            Ok(update) => update,
            Err(response) => return response,
        };
        if order
            .shipping_info
            .len()
            .saturating_add(update.shipping_info.len())
            > MAX_SHIPPING_INFO
        {
            return error(
                400,
                "BAD_VALUE",
                "The stand-in keeps at most 1000 shipments per order.",
            );
        }
        order.shipping_info.extend(update.shipping_info);
        Response::empty(204)
    }

    fn cancel(&mut self, order_id: &str) -> Response {
        let order = match self.order_mut(order_id) {
            Ok(order) => order,
            Err(response) => return response,
        };
        if let Some(reason) = order.closed_reason() {
            return error(403, "CANCEL_NOT_ALLOWED", reason);
        }
        if !order.captures.is_empty() {
            return error(
                403,
                "CANCEL_NOT_ALLOWED",
                "The order has captures; refund them instead.",
            );
        }
        order.lifecycle = Lifecycle::Cancelled;
        Response::empty(204)
    }
}

/// Seed 003: a refund lands on the capture whose order line references
/// cover every line of the refund, when
/// - no earlier refund of the order failed allocation,
/// - the refund's lines add up exactly to the refunded amount, and
/// - the refunded amount fits in what is left of that capture (captured and
///   not yet refunded).
///
/// Otherwise the refund stands, but on the order as a whole.
fn allocate(order: &Order, refund: &RefundObject) -> Allocation {
    if order.allocation_failed {
        return Allocation::Unallocated;
    }
    let lines = match refund.order_lines.as_deref() {
        Some(lines) if !lines.is_empty() => lines,
        _ => return Allocation::Unallocated,
    };
    let total = lines
        .iter()
        .fold(0i64, |sum, line| sum.saturating_add(line.total_amount));
    if total != refund.refunded_amount {
        return Allocation::Unallocated;
    }
    let Some(references) = lines
        .iter()
        .map(|line| line.reference.as_deref())
        .collect::<Option<Vec<&str>>>()
    else {
        return Allocation::Unallocated;
    };
    order
        .captures
        .iter()
        .map(|record| &record.capture)
        .find(|capture| {
            let captured = capture.order_lines.as_deref().unwrap_or_default();
            let left =
                amount(capture.captured_amount).saturating_sub(amount(capture.refunded_amount));
            references
                .iter()
                .all(|r| captured.iter().any(|l| l.reference.as_deref() == Some(r)))
                && refund.refunded_amount <= left
        })
        .and_then(|capture| capture.capture_id.clone())
        .map_or(Allocation::Unallocated, Allocation::Capture)
}

fn amount(value: Option<i64>) -> i64 {
    value.unwrap_or(0)
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

fn decode_shipping_info(body: &[u8]) -> Result<UpdateShippingInfo, Response> {
    let update: UpdateShippingInfo = decode(body)?;
    if update.shipping_info.is_empty() {
        return Err(error(
            400,
            "BAD_VALUE",
            "shipping_info needs at least one shipment.",
        ));
    }
    Ok(update)
}

fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => Response::json(status, body),
        Err(e) => error(500, "INTERNAL_ERROR", e.to_string()),
    }
}

/// Klarna's error body: a fresh correlation id, a code and one message.
pub(crate) fn error(status: u16, code: &str, message: impl Into<String>) -> Response {
    let body = ErrorMessageDto {
        correlation_id: Some(uuid_v4()),
        error_code: Some(code.to_owned()),
        error_messages: Some(vec![message.into()]),
    };
    // Serialising three strings cannot fail; an empty body would still be
    // an answer with the right status.
    Response::json(status, serde_json::to_vec(&body).unwrap_or_default())
}
