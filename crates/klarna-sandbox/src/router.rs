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
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::delivery::{Deliveries, Outgoing};
use crate::http::{Refusal, Request, Response};
use crate::notifications::{self, Notifications};
use crate::orders::{self, State};
use crate::payment_api::{self, Payments};
use crate::server::{Outcome, Service};
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

/// The APIs the sandbox serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    OrderManagement,
    Payment,
    Notification,
}

impl Api {
    /// The API a path belongs to. Order Management is also the answer for
    /// a path of no API, and for bytes whose path could not be read: its
    /// errors were the sandbox's first shape.
    fn of(path: Option<&str>) -> Api {
        let under = |prefix: &str| path.is_some_and(|path| path.starts_with(prefix));
        // The Notification API's prefix lies inside the Payment API's.
        if under(notifications::PREFIX) {
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
            Api::OrderManagement => {
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
    /// The webhook sender thread (`delivery.rs`); it stops when the router
    /// is dropped.
    deliveries: Deliveries,
    faults: Mutex<Faults>,
    log: Mutex<VecDeque<LoggedRequest>>,
}

impl Router {
    /// `base_url` goes into the `Location` headers; idempotency keys are
    /// kept for `retention`, at most `keys_per_resource` per order or
    /// Payment or Notification API resource. Fails only when the webhook
    /// sender thread cannot be started.
    pub(crate) fn new(
        base_url: String,
        retention: Duration,
        keys_per_resource: usize,
    ) -> io::Result<Self> {
        Ok(Router {
            base_url,
            orders: Mutex::new(State::new(retention, keys_per_resource)),
            payments: Mutex::new(Payments::new(retention, keys_per_resource)),
            notifications: Mutex::new(Notifications::new(retention, keys_per_resource)),
            deliveries: Deliveries::start()?,
            faults: Mutex::new(Faults::default()),
            log: Mutex::new(VecDeque::new()),
        })
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
        }
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
