#![doc = include_str!("../README.md")]

mod delivery;
mod http;
mod notifications;
mod orders;
mod payment_api;
mod util;

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use klarna_models::ordermanagement::{Address, MerchantOrderDto, OrderLine, OrderLineType};
use klarna_models::payment_api::{LineItem, PaymentRequest, PaymentTransaction};

use crate::delivery::Deliveries;
pub use crate::delivery::WebhookDelivery;
use crate::notifications::Notifications;
use crate::orders::State;
use crate::payment_api::Payments;

/// Connections served at the same time; more are closed on arrival.
const MAX_OPEN_CONNECTIONS: usize = 64;
/// Connections one sandbox accepts in its life.
const MAX_ACCEPTED_CONNECTIONS: usize = 1_000_000;

/// A running stand-in for Klarna's Order Management API v1 and global
/// Payment API on `127.0.0.1`, on a port of its own.
///
/// Start one per test with [`Sandbox::start`], seed orders with
/// [`Sandbox::add_order`], point a client at [`Sandbox::base_url`], and read
/// the state back with [`Sandbox::order`]. Payment API clients create their
/// payment requests themselves; [`Sandbox::authorize_payment_request`] plays
/// the buyer. Dropping it stops the server and closes every connection.
pub struct Sandbox {
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

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
    /// On the invoice of this capture (its capture id).
    Capture(String),
    /// On the order as a whole: accepted, but no capture matched.
    Unallocated,
}

/// One request the sandbox read, for tests that count attempts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedRequest {
    /// `GET`, `POST`, `PATCH`, ...
    pub method: String,
    /// Percent-encoded as sent, without the query.
    pub path: String,
    /// The `Klarna-Idempotency-Key` header, if one was sent.
    pub idempotency_key: Option<String>,
    /// The status answered; `None` when the connection was dropped instead.
    pub status: Option<u16>,
}

#[derive(Default)]
struct Faults {
    fail_next: usize,
    drop_next: usize,
    delay: Duration,
}

/// What the handle and the connection threads share.
pub(crate) struct Shared {
    addr: SocketAddr,
    base_url: String,
    state: Mutex<State>,
    payments: Mutex<Payments>,
    notifications: Mutex<Notifications>,
    /// The webhook sender thread (`delivery.rs`).
    deliveries: Deliveries,
    faults: Mutex<Faults>,
    stopping: Mutex<bool>,
    /// Wakes delayed answers when the sandbox stops.
    stopped: Condvar,
    /// Open connections, to shut them down on drop, and their threads.
    connections: Mutex<HashMap<u64, (TcpStream, JoinHandle<()>)>>,
}

/// Locks a mutex even if a thread panicked while holding it: the state is
/// plain data and stays usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn payments(&self) -> MutexGuard<'_, Payments> {
        lock(&self.payments)
    }

    fn notifications(&self) -> MutexGuard<'_, Notifications> {
        lock(&self.notifications)
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    fn is_stopping(&self) -> bool {
        *lock(&self.stopping)
    }

    /// Waits out the configured delay; false if the sandbox stopped first.
    fn wait_delay(&self) -> bool {
        let delay = self.faults().delay;
        let stopping = lock(&self.stopping);
        if delay.is_zero() {
            return !*stopping;
        }
        let (stopping, _) = self
            .stopped
            .wait_timeout_while(stopping, delay, |stopping| !*stopping)
            .unwrap_or_else(PoisonError::into_inner);
        !*stopping
    }
}

impl Sandbox {
    /// Starts a sandbox on an ephemeral port of 127.0.0.1, with no orders
    /// and no payment requests.
    pub fn start() -> io::Result<Sandbox> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            addr,
            base_url: format!("http://{addr}"),
            state: Mutex::new(State::default()),
            payments: Mutex::new(Payments::default()),
            notifications: Mutex::new(Notifications::default()),
            deliveries: Deliveries::start()?,
            faults: Mutex::new(Faults::default()),
            stopping: Mutex::new(false),
            stopped: Condvar::new(),
            connections: Mutex::new(HashMap::new()),
        });
        let accept_thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("klarna-sandbox".into())
                .spawn(move || accept(&listener, &shared))?
        };
        Ok(Sandbox {
            shared,
            accept_thread: Some(accept_thread),
        })
    }

    /// `http://127.0.0.1:<port>`: the base URL to configure a client with,
    /// in place of Klarna's.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// Seeds an authorized order and returns its id.
    pub fn add_order(&self, order: NewOrder) -> String {
        self.shared.state().add_order(order)
    }

    /// The order as `GET /ordermanagement/v1/orders/{order_id}` returns it.
    pub fn order(&self, order_id: &str) -> Option<MerchantOrderDto> {
        self.shared.state().order(order_id)
    }

    /// Where a refund was booked. Klarna's refund has no field that says so;
    /// over the API it shows only in the captures' `refunded_amount`.
    pub fn refund_allocation(&self, order_id: &str, refund_id: &str) -> Option<Allocation> {
        self.shared.state().allocation(order_id, refund_id)
    }

    /// Days the payment due date of a capture has been extended by in all.
    pub fn due_date_extension_days(&self, order_id: &str, capture_id: &str) -> Option<i64> {
        self.shared
            .state()
            .due_date_extended_days(order_id, capture_id)
    }

    /// How often the customer messages of a capture were sent out again.
    pub fn send_out_count(&self, order_id: &str, capture_id: &str) -> Option<u32> {
        self.shared.state().send_outs(order_id, capture_id)
    }

    /// Whether the order was acknowledged.
    pub fn is_acknowledged(&self, order_id: &str) -> Option<bool> {
        self.shared.state().acknowledged(order_id)
    }

    /// Lets the order's authorization run out (status `EXPIRED`); false if
    /// there is no such order.
    pub fn expire_order(&self, order_id: &str) -> bool {
        self.shared.state().end_order(order_id, false)
    }

    /// Closes the order (status `CLOSED`); false if there is no such order.
    pub fn close_order(&self, order_id: &str) -> bool {
        self.shared.state().end_order(order_id, true)
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
    pub fn authorize_payment_request(&self, payment_request_id: &str) -> Option<String> {
        let token = self.shared.payments().authorize(payment_request_id);
        self.shared.announce_changes();
        token
    }

    /// The payment request as `GET /v1/payment/requests/{payment_request_id}`
    /// returns it to the partner account that created it.
    pub fn payment_request(&self, payment_request_id: &str) -> Option<PaymentRequest> {
        self.shared.payments().payment_request(payment_request_id)
    }

    /// The payment transaction as `GET
    /// /v1/accounts/{account_id}/payment/transactions/{payment_transaction_id}`
    /// returns it to the partner account that owns it.
    pub fn payment_transaction(&self, payment_transaction_id: &str) -> Option<PaymentTransaction> {
        self.shared.payments().transaction(payment_transaction_id)
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
        payment_transaction_id: &str,
        amount: i64,
        line_items: Vec<LineItem>,
    ) -> Option<String> {
        self.shared
            .payments()
            .add_chargeback(payment_transaction_id, amount, line_items)
    }

    /// Fault knob: answers the next `count` requests with `503 Service
    /// Unavailable` and the error body of the API asked
    /// (`SERVICE_UNAVAILABLE` for Order Management, `TEMPORARILY_UNAVAILABLE`
    /// for the Payment API), without acting on them, as when Klarna is
    /// briefly down. Replaces any count still pending; 0 turns it off.
    pub fn fail_next_requests(&self, count: usize) {
        self.shared.faults().fail_next = count;
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
        self.shared.faults().drop_next = count;
    }

    /// Fault knob: holds every answer back for `delay` after acting on the
    /// request, to make a client time out. `Duration::ZERO` turns it off;
    /// dropping the sandbox ends any wait at once.
    pub fn delay_responses(&self, delay: Duration) {
        self.shared.faults().delay = delay;
    }

    /// Every request read so far, oldest first (the latest 10 000).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.state().logged()
    }

    /// Every webhook delivery attempt so far, oldest first (the last 10 000).
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.shared.deliveries.attempts()
    }

    /// Waits until `count` webhook delivery attempts were made or `timeout`
    /// passed, and returns the attempts made by then.
    pub fn wait_for_webhook_deliveries(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<WebhookDelivery> {
        self.shared.deliveries.wait_for(count, timeout)
    }

    /// The delays before each retry of a webhook delivery that was not
    /// answered 200, 201, 202 or 204: one retry per delay, at most 10, each
    /// at most 10 s. By default 50, 100, 200 and 400 ms; `&[]` never
    /// retries.
    pub fn set_webhook_retry_delays(&self, delays: &[Duration]) {
        self.shared.deliveries.set_delays(delays);
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.shared.base_url)
            .finish_non_exhaustive()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        *lock(&self.shared.stopping) = true;
        self.shared.stopped.notify_all();
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.shared.addr);
        if let Some(thread) = self.accept_thread.take() {
            let _ = thread.join();
        }
        let open: Vec<_> = lock(&self.shared.connections).drain().collect();
        for (_, (stream, thread)) in open {
            let _ = stream.shutdown(Shutdown::Both);
            let _ = thread.join();
        }
        self.shared.deliveries.stop();
    }
}

fn accept(listener: &TcpListener, shared: &Arc<Shared>) {
    for id in 0..MAX_ACCEPTED_CONNECTIONS as u64 {
        let accepted = listener.accept();
        if shared.is_stopping() {
            return;
        }
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors, say: give the system a moment
            // rather than spinning.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let mut connections = lock(&shared.connections);
        if connections.len() >= MAX_OPEN_CONNECTIONS {
            continue;
        }
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("klarna-sandbox-connection".into())
                .spawn(move || {
                    http::serve(stream, &shared);
                    lock(&shared.connections).remove(&id);
                })
        };
        if let Ok(thread) = thread {
            connections.insert(id, (handle, thread));
        }
    }
}
