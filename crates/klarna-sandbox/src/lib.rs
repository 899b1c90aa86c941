#![doc = include_str!("../README.md")]

// The transport (`server`, `http`) knows nothing of Klarna; the router
// takes each parsed request to the API below it (`orders`, `payment_api`,
// `notifications`). `delivery` sends the Notification API's webhooks.
mod api_key;
mod cards;
mod checkout;
mod delivery;
mod hpp;
mod http;
mod merchant_call;
mod notifications;
mod orders;
mod payment_api;
mod payments_v1;
mod router;
mod server;
mod settlements;
mod util;

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use klarna_models::ordermanagement::{CaptureId, MerchantOrderDto, OrderId, RefundId};
use klarna_models::payment_api::{
    LineItem, PaymentChargebackId, PaymentRequest, PaymentRequestId, PaymentTransaction,
    PaymentTransactionId,
};
use klarna_models::payments::{CustomerTokenStatus, SessionId, SessionRead};

pub use crate::checkout::{CheckoutCompletion, CheckoutPush};
pub use crate::delivery::WebhookDelivery;
pub use crate::orders::{physical_line, Allocation, NewOrder};
pub use crate::router::LoggedRequest;
use crate::router::Router;
use crate::server::{Limits, Server};
pub use crate::settlements::{CSV_COLUMNS, FEE_BASIS_POINTS, MERCHANT_ID};

/// A running stand-in for Klarna's Order Management API v1, the global
/// Payment API and its Notification API (webhooks, delivered signed), on
/// `127.0.0.1` and a port of its own unless [`Builder::bind`] says
/// otherwise.
///
/// Start one per test with [`Sandbox::start`] (or [`Sandbox::builder`] for
/// other limits), seed orders with [`Sandbox::add_order`], point a client
/// at [`Sandbox::base_url`], and read the state back with
/// [`Sandbox::order`]. Payment API clients create their payment requests
/// themselves; [`Sandbox::authorize_payment_request`] plays the buyer.
/// Dropping it stops the server, closes every connection and ends the
/// webhook deliveries still pending.
pub struct Sandbox {
    // Declared first, so dropped first: the server stops, and its
    // connections close, before the state goes.
    server: Server,
    router: Arc<Router>,
}

/// How a sandbox listens, bounds its connections, and how long it keeps
/// idempotency keys; from [`Sandbox::builder`]. The defaults are those of
/// [`Sandbox::start`].
#[derive(Clone, Debug)]
pub struct Builder {
    bind: SocketAddr,
    limits: Limits,
    idempotency_retention: Duration,
    idempotency_keys_per_resource: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            limits: Limits {
                max_connections: 512,
                head_timeout: Duration::from_secs(10),
                body_timeout: Duration::from_secs(10),
                body_bytes_per_second: 64 * 1024,
                idle_timeout: Duration::from_secs(30),
            },
            idempotency_retention: Duration::from_secs(24 * 60 * 60),
            idempotency_keys_per_resource: 10_000,
        }
    }
}

impl Builder {
    /// The address to listen on. Default `127.0.0.1:0`: loopback, on a
    /// port the system picks.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Connections served at once (default 512, at least 1). When one more
    /// arrives, the connection idle the longest between requests is closed
    /// to make room; if none is idle, the newcomer is answered `503
    /// Service Unavailable` with `Retry-After: 1` (up to this many such
    /// answers at once; beyond that, connections wait in the kernel's
    /// backlog until there is room).
    pub fn max_connections(mut self, count: usize) -> Self {
        self.limits.max_connections = count.max(1);
        self
    }

    /// How long a request head may take to arrive, from its first byte (from
    /// the connection's opening, for its first request). Default 10 s; a
    /// late head is answered `408` and the connection closed.
    pub fn head_timeout(mut self, timeout: Duration) -> Self {
        self.limits.head_timeout = timeout;
        self
    }

    /// How long a request body may take to arrive after its head: this
    /// (default 10 s) plus one second per [`body_bytes_per_second`]
    /// (default 64 KiB) of its declared `Content-Length`, so the largest
    /// body accepted (1 MiB) has 26 s. A late body is answered `408`.
    ///
    /// [`body_bytes_per_second`]: Builder::body_bytes_per_second
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.limits.body_timeout = timeout;
        self
    }

    /// The slowest upload rate a body's deadline allows for; see
    /// [`body_timeout`](Builder::body_timeout).
    pub fn body_bytes_per_second(mut self, rate: u64) -> Self {
        self.limits.body_bytes_per_second = rate.max(1);
        self
    }

    /// How long a keep-alive connection may wait idle for its next request
    /// before it is closed. Default 30 s.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.idle_timeout = timeout;
        self
    }

    /// How long an idempotency key is remembered after its first use.
    /// Default 24 hours, Klarna's promise for both APIs. A repeat inside it
    /// gets the first answer and changes nothing; after it, the key is new.
    pub fn idempotency_retention(mut self, retention: Duration) -> Self {
        self.idempotency_retention = retention;
        self
    }

    /// Idempotency keys one order (or Payment API resource) holds inside
    /// their retention (default 10 000, at least 1). When they are all in
    /// use, a request with a new key on that resource is answered `429`
    /// rather than an old key forgotten. Keys of other resources never
    /// count.
    pub fn idempotency_keys_per_resource(mut self, count: usize) -> Self {
        self.idempotency_keys_per_resource = count.max(1);
        self
    }

    /// Starts the sandbox, with no orders and no payment requests.
    pub fn start(self) -> io::Result<Sandbox> {
        let bound = server::bind(self.bind, self.limits)?;
        let router = Router::start(
            base_url(bound.local_addr()),
            self.idempotency_retention,
            self.idempotency_keys_per_resource,
        )?;
        let server = bound.serve(router.clone());
        Ok(Sandbox { server, router })
    }
}

/// `http://` and the address; an unspecified address (`0.0.0.0`) is
/// reached locally through loopback.
fn base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip if ip.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

impl Sandbox {
    /// Starts a sandbox on an ephemeral port of 127.0.0.1, with no orders
    /// and no payment requests, and the default limits of
    /// [`Sandbox::builder`].
    pub fn start() -> io::Result<Sandbox> {
        Sandbox::builder().start()
    }

    /// A sandbox with other limits, or another address to listen on.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// `http://127.0.0.1:<port>`: the base URL to configure a client with,
    /// in place of Klarna's.
    pub fn base_url(&self) -> &str {
        self.router.base_url()
    }

    /// Seeds an authorized order and returns its id.
    pub fn add_order(&self, order: NewOrder) -> OrderId {
        OrderId::new(self.router.orders().add_order(order))
    }

    /// The order as `GET /ordermanagement/v1/orders/{order_id}` returns it.
    pub fn order(&self, order_id: &OrderId) -> Option<MerchantOrderDto> {
        self.router.orders().order(order_id)
    }

    /// Where a refund was booked. Klarna's refund has no field that says so;
    /// over the API it shows only in the captures' `refunded_amount`.
    pub fn refund_allocation(
        &self,
        order_id: &OrderId,
        refund_id: &RefundId,
    ) -> Option<Allocation> {
        self.router.orders().allocation(order_id, refund_id)
    }

    /// Days the payment due date of a capture has been extended by in all.
    pub fn due_date_extension_days(
        &self,
        order_id: &OrderId,
        capture_id: &CaptureId,
    ) -> Option<i64> {
        self.router
            .orders()
            .due_date_extended_days(order_id, capture_id)
    }

    /// How often the customer messages of a capture were sent out again.
    pub fn send_out_count(&self, order_id: &OrderId, capture_id: &CaptureId) -> Option<u32> {
        self.router.orders().send_outs(order_id, capture_id)
    }

    /// Whether the order was acknowledged.
    pub fn is_acknowledged(&self, order_id: &OrderId) -> Option<bool> {
        self.router.orders().acknowledged(order_id)
    }

    /// Lets the order's authorization run out (status `EXPIRED`); false if
    /// there is no such order.
    pub fn expire_order(&self, order_id: &OrderId) -> bool {
        self.router.orders().end_order(order_id, false)
    }

    /// Closes the order (status `CLOSED`); false if there is no such order.
    pub fn close_order(&self, order_id: &OrderId) -> bool {
        self.router.orders().end_order(order_id, true)
    }

    /// Plays the buyer of a payment request: approves it in Klarna's
    /// purchase flow, which cannot run locally, and returns the payment
    /// confirmation token the flow would hand to the merchant. The request
    /// goes from `SUBMITTED` to `PENDING_CONFIRMATION`; the merchant then
    /// confirms it with the token (`confirm_payment_request`), or cancels
    /// the confirmation (`cancel_payment_confirmation`), which sends it back
    /// to `SUBMITTED` for the buyer to approve again with a new token.
    ///
    /// `None` when there is no such payment request, it is not `SUBMITTED`,
    /// or the sandbox already handed out 100 000 tokens.
    pub fn authorize_payment_request(
        &self,
        payment_request_id: &PaymentRequestId,
    ) -> Option<String> {
        let token = self.router.payments().authorize(payment_request_id);
        self.router.announce_changes();
        token
    }

    /// The payment request as `GET /v1/payment/requests/{payment_request_id}`
    /// returns it to the partner account that created it.
    pub fn payment_request(&self, payment_request_id: &PaymentRequestId) -> Option<PaymentRequest> {
        self.router.payments().payment_request(payment_request_id)
    }

    /// The payment transaction as `GET
    /// /v1/accounts/{account_id}/payment/transactions/{payment_transaction_id}`
    /// returns it to the partner account that owns it.
    pub fn payment_transaction(
        &self,
        payment_transaction_id: &PaymentTransactionId,
    ) -> Option<PaymentTransaction> {
        self.router.payments().transaction(payment_transaction_id)
    }

    /// Books a chargeback of `amount` minor units on a payment transaction,
    /// as after a dispute the merchant lost (reason `DISPUTE_MERCHANT_LOSS`),
    /// and returns its id. The Payment API only reads chargebacks, so tests
    /// seed them here. A chargeback takes back captured money, so it
    /// lowers what can still be refunded.
    ///
    /// `None` when there is no such transaction, or the amount is not
    /// between 1 and what is captured and not yet refunded or charged back.
    pub fn add_chargeback(
        &self,
        payment_transaction_id: &PaymentTransactionId,
        amount: i64,
        line_items: Vec<LineItem>,
    ) -> Option<PaymentChargebackId> {
        self.router
            .payments()
            .add_chargeback(payment_transaction_id, amount, line_items)
            .map(PaymentChargebackId::new)
    }

    /// Plays the buyer of a Klarna Payments session: approves the purchase
    /// as the session stands (in real life this happens in Klarna's widget)
    /// and returns the `authorization_token` the widget would hand to the
    /// merchant, for `create_order`, `create_customer_token` or
    /// `cancel_authorization`. The token lasts 60 minutes and can be used
    /// once. Over HTTP the same is `POST
    /// /sandbox/payments/v1/sessions/{session_id}/approve` (any Basic
    /// credentials), answered `200 {"authorization_token": ..,
    /// "session_id": ..}`.
    ///
    /// `None` when there is no such session, or an order was already
    /// placed from it.
    pub fn approve_session(&self, session_id: &SessionId) -> Option<String> {
        self.router.payments_v1().approve(session_id).ok()
    }

    /// Makes an authorization token expire now, as if its 60 minutes had
    /// passed, so that tests do not wait; false when there is no such token.
    pub fn expire_authorization(&self, authorization_token: &str) -> bool {
        self.router.payments_v1().expire(authorization_token)
    }

    /// A Klarna Payments session as `readCreditSession` returns it.
    pub fn session(&self, session_id: &SessionId) -> Option<SessionRead> {
        self.router.payments_v1().session(session_id)
    }

    /// A customer token's status and the ids of the orders placed on it,
    /// oldest first.
    pub fn customer_token(&self, token_id: &str) -> Option<(CustomerTokenStatus, Vec<OrderId>)> {
        let (status, orders) = self.router.payments_v1().customer_token(token_id)?;
        Some((status, orders.into_iter().map(OrderId::new).collect()))
    }

    /// The clock knob of the Settlements API: closes the settlement day
    /// now instead of at Klarna's daily cut-off. Every Order Management
    /// capture and refund not yet paid out becomes a transaction (a `SALE`
    /// and a `FEE` of [`FEE_BASIS_POINTS`] per capture, a `RETURN` per
    /// refund), and each currency gets one payout, dated now. Returns the
    /// new payouts' payment references, currencies in alphabetical order;
    /// empty when nothing was captured or refunded since the last close.
    pub fn close_settlement_day(&self) -> Vec<String> {
        let mut settlements = self.router.settlements();
        settlements.close_day(&self.router.orders(), self.router.base_url())
    }

    /// A Checkout order as `GET /checkout/v3/orders/{order_id}` returns it.
    pub fn checkout_order(&self, order_id: &str) -> Option<klarna_models::checkout::Order> {
        self.router.checkout().order(order_id)
    }

    /// Plays the buyer of a Checkout order: gives `shipping_address` (when
    /// given, the merchant's `address_update` callback answers the cart for
    /// it) and completes the purchase, which calls the merchant's
    /// `validation` callback within its deadline. Accepted (or unanswered
    /// when the order does not require an answer), the order becomes
    /// `checkout_complete` and an Order Management order of the same id,
    /// and the push goes to `merchant_urls.push` until the order is
    /// acknowledged. Over HTTP the same is `POST
    /// /sandbox/checkout/v3/orders/{order_id}/complete` with an optional
    /// body `{"shipping_address": {...}}`, answered `200` with the
    /// completion as JSON.
    ///
    /// It waits for the merchant's server: call it from a thread that does
    /// not run that server (`tokio::task::spawn_blocking`). Callbacks go to
    /// `http://` URLs of loopback addresses only; any other counts as
    /// unanswered.
    pub fn complete_checkout(
        &self,
        order_id: &str,
        shipping_address: Option<klarna_models::checkout::Address>,
    ) -> CheckoutCompletion {
        let address = shipping_address.and_then(|a| serde_json::to_value(a).ok());
        let router = self.router.clone();
        checkout::complete(&router, order_id, address)
    }

    /// An HPP session as `GET /hpp/v1/sessions/{session_id}` returns it.
    pub fn hpp_session(&self, session_id: &str) -> Option<klarna_models::hpp::SessionResponseV1> {
        self.router.hpp().session(session_id)
    }

    /// Plays the buyer on the hosted payment page: approves the Klarna
    /// Payments session it hosts (the HPP session then carries the
    /// `authorization_token`) or completes the Checkout order (calling the
    /// merchant's callbacks, as [`complete_checkout`](Self::complete_checkout);
    /// the HPP session then carries the `order_id`). Over HTTP: `POST
    /// /sandbox/hpp/v1/sessions/{session_id}/complete`, answered with the
    /// session. `None` when no session of this id waits for the buyer.
    /// Call it off the thread that runs the merchant's server.
    pub fn complete_hpp_session(
        &self,
        session_id: &str,
    ) -> Option<klarna_models::hpp::SessionResponseV1> {
        let hosted = self.router.hpp().waiting(session_id)?;
        router::Router::complete_hpp(&self.router, session_id, &hosted);
        self.router.hpp().session(session_id)
    }

    /// How often the link to an HPP session was distributed (the sandbox
    /// sends no e-mail or SMS).
    pub fn hpp_distributions(&self, session_id: &str) -> Option<usize> {
        self.router.hpp().distributions(session_id)
    }

    /// How long the completion waits for the validation callback: `normal`
    /// (Klarna: 3 s) and with `options.require_validate_callback_success`
    /// (Klarna: 10 s), for tests that do not wait seconds.
    pub fn set_checkout_validation_deadlines(&self, normal: Duration, required: Duration) {
        self.router.checkout().set_deadlines(normal, required);
    }

    /// The delays before the second, third, ... push of a completed
    /// Checkout order (at most 20, default 50 ms doubling to 800 ms; Klarna
    /// pushes every two hours for 48 hours). Pushes stop once the order is
    /// acknowledged.
    pub fn set_checkout_push_delays(&self, delays: &[Duration]) {
        self.router.checkout().set_push_delays(delays);
    }

    /// Every Checkout push sent so far, oldest first (the last 10 000).
    pub fn checkout_pushes(&self) -> Vec<CheckoutPush> {
        self.router.checkout().pushes.attempts()
    }

    /// Waits until `count` pushes were sent or `timeout` passed, and
    /// returns those sent by then.
    pub fn wait_for_checkout_pushes(&self, count: usize, timeout: Duration) -> Vec<CheckoutPush> {
        let log = self.router.checkout().pushes.clone();
        log.wait_for(count, timeout)
    }

    /// Fault knob: answers the next `count` requests with `503 Service
    /// Unavailable` and the error body of the API asked
    /// (`SERVICE_UNAVAILABLE` for Order Management, `TEMPORARILY_UNAVAILABLE`
    /// for the Payment API), without acting on them, as when Klarna is
    /// briefly down. Replaces any count still pending; 0 turns it off.
    pub fn fail_next_requests(&self, count: usize) {
        self.router.faults().fail_next = count;
    }

    /// Fault knob: for each of the next `count` requests, reads the request,
    /// acts on it, and closes the connection without answering, as when a
    /// response is lost on the way back. The client sees a connection
    /// error although the capture (say) happened: only a retry with the
    /// same idempotency key is safe. Replaces any count still pending; 0
    /// turns it off. Requests answered with 503 by
    /// [`fail_next_requests`](Self::fail_next_requests) come first and do
    /// not use up this count.
    pub fn drop_next_connections(&self, count: usize) {
        self.router.faults().drop_next = count;
    }

    /// Fault knob: holds every answer back for `delay` after acting on the
    /// request, to make a client time out. `Duration::ZERO` turns it off;
    /// dropping the sandbox ends any wait at once.
    pub fn delay_responses(&self, delay: Duration) {
        self.router.faults().delay = delay;
    }

    /// Stops the sandbox gracefully: nothing new is accepted, idle
    /// connections close, and the requests under way (a capture held back
    /// by [`delay_responses`](Self::delay_responses), say) are answered,
    /// with `Connection: close`, for at most `grace`; then every
    /// connection closes. Dropping the sandbox is the same with no grace.
    pub fn shutdown(mut self, grace: Duration) {
        self.server.shutdown(grace);
    }

    /// Every request read so far, oldest first (the latest 10 000).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.router.logged()
    }

    /// Every webhook delivery attempt so far, oldest first (the last 10 000).
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.router.deliveries().attempts()
    }

    /// Waits until `count` webhook delivery attempts were made or `timeout`
    /// passed, and returns the attempts made by then.
    pub fn wait_for_webhook_deliveries(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<WebhookDelivery> {
        self.router.deliveries().wait_for(count, timeout)
    }

    /// The delays before each retry of a webhook delivery that was not
    /// answered 200, 201, 202 or 204: one retry per delay, at most 10, each
    /// at most 10 s. By default 50, 100, 200 and 400 ms; `&[]` never
    /// retries.
    pub fn set_webhook_retry_delays(&self, delays: &[Duration]) {
        self.router.deliveries().set_delays(delays);
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.router.base_url())
            .finish_non_exhaustive()
    }
}
