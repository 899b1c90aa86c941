//! The router: takes a parsed request and returns the answer. It applies
//! the fault knobs, hands the request to the API its path belongs to, logs
//! it, and words the transport's refusals (malformed requests, missed
//! deadlines, no room) in that API's error shape.
//!
//! The APIs are told apart by path prefix ([`Api::of`]); another API is one
//! more variant of [`Api`], its prefix there, and its arms in
//! [`Router::dispatch`] and [`Api::error`].

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use crate::cards::{self, Cards};
use crate::checkout::{self, Checkout, Handled, Parts};
use crate::delivery::{Deliveries, Outgoing};
use crate::hpp::{self, Hosted, Hpp};
use crate::http::{Refusal, Request, Response};
use crate::notifications::{self, Notifications};
use crate::orders::{self, State};
use crate::payment_api::{self, Payments};
use crate::payments_v1::{self, PaymentsV1};
use crate::server::{Outcome, Service};
use crate::settlements::{self, Settlements};
use crate::util::lock;

/// Requests kept in the log; the oldest is dropped first.
const MAX_LOGGED_REQUESTS: usize = 10_000;
/// Answered by the sandbox itself, outside every API: for a CI job to wait
/// on, and for load balancers.
const HEALTH_PATH: &str = "/health";

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
pub(crate) struct Faults {
    pub(crate) fail_next: usize,
    pub(crate) drop_next: usize,
    pub(crate) delay: Duration,
}

/// A completion's work, run on a blocking thread with the router.
type Completion = Box<dyn FnOnce(&Arc<Router>) -> Response + Send>;

/// The APIs the sandbox serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    OrderManagement,
    Payment,
    Notification,
    /// Klarna Payments v1 and Customer Token v1 (`payments_v1.rs`), with
    /// the sandbox-only approval route.
    PaymentsV1,
    /// Settlements v1 (`settlements.rs`).
    Settlements,
    /// Checkout v3 (`checkout.rs`), with the sandbox-only completion.
    Checkout,
    /// The Hosted Payment Page v1 (`hpp.rs`), with the sandbox-only completion.
    Hpp,
    /// The Merchant Card Service v3 (`cards.rs`).
    Cards,
}

impl Api {
    /// The API a path belongs to. Order Management is also the answer for
    /// a path of no API, and for bytes whose path could not be read: its
    /// errors were the sandbox's first shape.
    fn of(path: Option<&str>) -> Api {
        let under = |prefix: &str| path.is_some_and(|path| path.starts_with(prefix));
        // The Notification API's prefix lies inside the Payment API's.
        if under(payments_v1::PREFIX)
            || under(payments_v1::TOKENS_PREFIX)
            || under(payments_v1::APPROVAL_PREFIX)
        {
            Api::PaymentsV1
        } else if under(checkout::PREFIX) || under(checkout::COMPLETION_PREFIX) {
            Api::Checkout
        } else if under(hpp::PREFIX) || under(hpp::COMPLETION_PREFIX) {
            Api::Hpp
        } else if under(cards::PREFIX) {
            Api::Cards
        } else if under(settlements::PREFIX) || under(settlements::CLOSE_DAY_PATH) {
            Api::Settlements
        } else if under(notifications::PREFIX) {
            Api::Notification
        } else if under(payment_api::PREFIX) {
            Api::Payment
        } else {
            Api::OrderManagement
        }
    }

    /// This API's error body for an answer the router or the transport
    /// gives on its behalf.
    fn error(self, status: u16, message: &str) -> Response {
        match self {
            // Klarna Payments' `ErrorV2` is Order Management's error shape.
            Api::OrderManagement
            | Api::PaymentsV1
            | Api::Settlements
            | Api::Checkout
            | Api::Hpp
            | Api::Cards => {
                let code = match status {
                    408 => "REQUEST_TIMEOUT",
                    503 => "SERVICE_UNAVAILABLE",
                    _ => "BAD_VALUE",
                };
                orders::error(status, code, message)
            }
            Api::Payment => {
                let code = match status {
                    408 => "REQUEST_TIMEOUT",
                    503 => "TEMPORARILY_UNAVAILABLE",
                    _ => "VALIDATION_ERROR",
                };
                payment_api::error(status, code, message)
            }
            Api::Notification => {
                let code = match status {
                    408 => "REQUEST_TIMEOUT",
                    503 => "TEMPORARILY_UNAVAILABLE",
                    _ => "VALIDATION_ERROR",
                };
                notifications::error(status, code, message)
            }
        }
    }
}

/// The APIs' state, the webhook sender, the fault knobs and the request
/// log.
pub(crate) struct Router {
    base_url: String,
    orders: Mutex<State>,
    payments: Mutex<Payments>,
    notifications: Mutex<Notifications>,
    /// Locked before `orders` when both are needed (placing an order).
    payments_v1: Mutex<PaymentsV1>,
    /// Locked before `orders` when both are needed (closing the day).
    settlements: Mutex<Settlements>,
    /// Locked before `orders` when both are needed (completing an order).
    checkout: Mutex<Checkout>,
    /// Locked before `payments_v1` and `checkout` (a session names what it hosts).
    hpp: Mutex<Hpp>,
    /// Locked before `orders`.
    cards: Mutex<Cards>,
    /// The webhook sender thread (`delivery.rs`); it stops when the router
    /// is dropped.
    deliveries: Deliveries,
    /// The router itself, for the work that outlives a request (the
    /// checkout completion, the pushes), without keeping it alive.
    me: Weak<Router>,
    faults: Mutex<Faults>,
    log: Mutex<VecDeque<LoggedRequest>>,
}

impl Router {
    /// `base_url` goes into the `Location` headers; idempotency keys are
    /// kept for `retention`, at most `keys_per_resource` per order or
    /// Payment or Notification API resource. Fails only when the webhook
    /// sender thread cannot be started.
    pub(crate) fn start(
        base_url: String,
        retention: Duration,
        keys_per_resource: usize,
    ) -> io::Result<Arc<Self>> {
        let deliveries = Deliveries::start()?;
        Ok(Arc::new_cyclic(|me| Router {
            base_url,
            orders: Mutex::new(State::new(retention, keys_per_resource)),
            payments: Mutex::new(Payments::new(retention, keys_per_resource)),
            notifications: Mutex::new(Notifications::new(retention, keys_per_resource)),
            payments_v1: Mutex::new(PaymentsV1::new(retention, keys_per_resource)),
            settlements: Mutex::new(Settlements::new()),
            checkout: Mutex::new(Checkout::new()),
            hpp: Mutex::new(Hpp::new()),
            cards: Mutex::new(Cards::new()),
            deliveries,
            me: me.clone(),
            faults: Mutex::new(Faults::default()),
            log: Mutex::new(VecDeque::new()),
        }))
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) fn orders(&self) -> MutexGuard<'_, State> {
        lock(&self.orders)
    }

    pub(crate) fn payments(&self) -> MutexGuard<'_, Payments> {
        lock(&self.payments)
    }

    pub(crate) fn notifications(&self) -> MutexGuard<'_, Notifications> {
        lock(&self.notifications)
    }

    pub(crate) fn payments_v1(&self) -> MutexGuard<'_, PaymentsV1> {
        lock(&self.payments_v1)
    }

    pub(crate) fn settlements(&self) -> MutexGuard<'_, Settlements> {
        lock(&self.settlements)
    }

    pub(crate) fn checkout(&self) -> MutexGuard<'_, Checkout> {
        lock(&self.checkout)
    }

    pub(crate) fn hpp(&self) -> MutexGuard<'_, Hpp> {
        lock(&self.hpp)
    }

    pub(crate) fn deliveries(&self) -> &Deliveries {
        &self.deliveries
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    pub(crate) fn logged(&self) -> Vec<LoggedRequest> {
        lock(&self.log).iter().cloned().collect()
    }

    fn log(&self, entry: LoggedRequest) {
        let mut log = lock(&self.log);
        if log.len() == MAX_LOGGED_REQUESTS {
            log.pop_front();
        }
        log.push_back(entry);
    }

    /// Turns the payment request state changes recorded since the last
    /// call into signed deliveries. Called after every request the
    /// Payment API served and after the buyer's step.
    pub(crate) fn announce_changes(&self) {
        let changes = std::mem::take(&mut self.payments().state_changes);
        if changes.is_empty() {
            return;
        }
        let outgoing: Vec<Outgoing> = {
            let notifications = self.notifications();
            changes
                .iter()
                .flat_map(|change| notifications.outgoing(change))
                .collect()
        };
        self.deliveries().send(outgoing);
    }

    /// The API's own answer.
    fn dispatch(&self, api: Api, request: &Request) -> Response {
        match api {
            Api::OrderManagement => self.orders().handle(request, &self.base_url),
            Api::Payment => {
                let response = self.payments().handle(request);
                // The state changes it made become signed webhook events.
                self.announce_changes();
                response
            }
            Api::Notification => self.notifications().handle(request),
            Api::PaymentsV1 => {
                // Lock order: Payments v1, then Order Management.
                let mut payments = self.payments_v1();
                payments.handle(request, &mut self.orders())
            }
            Api::Settlements if request.path == settlements::CLOSE_DAY_PATH => {
                // Lock order: Settlements, then Order Management.
                let mut settlements = self.settlements();
                settlements.close_day_route(request, &self.orders(), &self.base_url)
            }
            Api::Settlements => self.settlements().handle(request, &self.base_url),
            // Answered in `answer`: the completion runs off the server's thread.
            Api::Checkout => match self.checkout().handle(request, &self.base_url) {
                Handled::Answer(response) => response,
                Handled::Complete { .. } => orders::error(500, "INTERNAL_ERROR", "unreachable"),
            },
            Api::Hpp => match self.hpp_handle(request) {
                hpp::Handled::Answer(response) => response,
                hpp::Handled::Complete(..) => orders::error(500, "INTERNAL_ERROR", "unreachable"),
            },
            Api::Cards => {
                // Lock order: cards, then Order Management.
                let mut cards = lock(&self.cards);
                cards.handle(request, &mut self.orders())
            }
        }
    }

    fn hpp_handle(&self, request: &Request) -> hpp::Handled {
        self.hpp()
            .handle(request, &self.base_url, |hosted| match hosted {
                Hosted::PaymentsSession(id) => self.payments_v1().session(id).is_some(),
                Hosted::CheckoutOrder(id) => self.checkout().order(id).is_some(),
            })
    }

    /// Plays the buyer on a hosted payment page: approves the Klarna
    /// Payments session, or completes the Checkout order (calling the
    /// merchant), and records the outcome on the HPP session.
    pub(crate) fn complete_hpp(
        router: &Arc<Router>,
        session_id: &str,
        hosted: &Hosted,
    ) -> Response {
        let (token, order_id) = match hosted {
            Hosted::PaymentsSession(id) => (router.payments_v1().approve(id).ok(), None),
            Hosted::CheckoutOrder(id) => {
                let completion = checkout::complete(router, id, None);
                (
                    None,
                    (completion.outcome == "completed").then(|| id.clone()),
                )
            }
        };
        let mut hpp = router.hpp();
        hpp.completed(session_id, token, order_id);
        match hpp.session(session_id) {
            Some(session) => Response::json(200, serde_json::to_vec(&session).unwrap_or_default()),
            None => orders::error(404, "NOT_FOUND", "No such HPP session."),
        }
    }

    /// The sandbox-only completions (Checkout, HPP), which call the
    /// merchant's server and so may take seconds: run on a blocking thread,
    /// logged when answered. `None` for every other request, and for a
    /// completion refused at once (answered by `dispatch`).
    fn completion(&self, request: &Request) -> Option<Outcome> {
        // Only the completion routes: every other request is handled once,
        // by `dispatch`.
        let completing = request.path.starts_with(checkout::COMPLETION_PREFIX)
            || request.path.starts_with(hpp::COMPLETION_PREFIX);
        if !completing {
            return None;
        }
        let work: Completion = match Api::of(Some(&request.path)) {
            Api::Checkout => {
                let Handled::Complete {
                    order_id,
                    shipping_address,
                } = self.checkout().handle(request, &self.base_url)
                else {
                    return None;
                };
                Box::new(move |router| {
                    let completion = checkout::complete(router, &order_id, shipping_address);
                    Response::json(200, serde_json::to_vec(&completion).unwrap_or_default())
                })
            }
            Api::Hpp => {
                let hpp::Handled::Complete(session_id, hosted) = self.hpp_handle(request) else {
                    return None;
                };
                Box::new(move |router| Router::complete_hpp(router, &session_id, &hosted))
            }
            _ => return None,
        };
        let router = self.me.upgrade()?;
        let method = request.method.clone();
        let path = request.path.clone();
        Some(Outcome::Deferred(Box::new(move || {
            let response = work(&router);
            router.log(LoggedRequest {
                method,
                path,
                idempotency_key: None,
                status: Some(response.status),
            });
            response
        })))
    }
}

impl Parts for Router {
    fn checkout(&self) -> MutexGuard<'_, Checkout> {
        lock(&self.checkout)
    }

    fn orders(&self) -> MutexGuard<'_, State> {
        lock(&self.orders)
    }
}

impl Service for Router {
    fn answer(&self, request: &Request) -> Outcome {
        if request.path == HEALTH_PATH {
            // Outside the APIs: no faults, not logged.
            return Outcome::Respond(if request.method == "GET" {
                Response::json(200, br#"{"status":"UP"}"#.to_vec())
            } else {
                let mut response = Response::empty(405);
                response.headers.push(("Allow", "GET".to_owned()));
                response
            });
        }
        let (fail, drop, delay) = {
            let mut faults = self.faults();
            let fail = faults.fail_next > 0;
            if fail {
                faults.fail_next -= 1;
            }
            let drop = !fail && faults.drop_next > 0;
            if drop {
                faults.drop_next -= 1;
            }
            (fail, drop, faults.delay)
        };
        let api = Api::of(Some(&request.path));
        if !fail && !drop {
            if let Some(deferred) = self.completion(request) {
                return deferred;
            }
        }
        let response = if fail {
            api.error(503, "The sandbox was told to fail this request.")
        } else {
            self.dispatch(api, request)
        };
        self.log(LoggedRequest {
            method: request.method.clone(),
            path: request.path.clone(),
            idempotency_key: request.header("klarna-idempotency-key").map(str::to_owned),
            status: (!drop).then_some(response.status),
        });
        if drop {
            // The request took effect; the client hears nothing.
            Outcome::Close
        } else if delay.is_zero() {
            Outcome::Respond(response)
        } else {
            Outcome::RespondAfter(response, delay)
        }
    }

    fn refuse(&self, refusal: &Refusal) -> Response {
        Api::of(refusal.path.as_deref()).error(refusal.status, refusal.message)
    }
}
