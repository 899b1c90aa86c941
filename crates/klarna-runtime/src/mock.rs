//! A scripted transport under the real client, for tests without sockets
//! (feature `test-util`).
//!
//! Only the socket is replaced. Building the request, idempotency keys,
//! retries and their backoff, the retry budget, the body limit, decoding,
//! typed headers, error classification and tracing all run as in
//! production, so a test sees exactly what a caller of the real client
//! would.
//!
//! - Script outcomes per operation ([`Mock::on`] with the generated
//!   `operations::*` constants) or per request ([`Mock::on_request`]): each
//!   [`Rule::respond`] answers one request, in order; [`Rule::always`]
//!   answers every request after those.
//! - An [`Outcome`] is an answer (status, headers, raw or typed body,
//!   optionally cut off in the body), or a transport failure: nothing sent,
//!   timed out after sending, connection dropped after the request was
//!   read; any of them after a [`delay`](Outcome::delay).
//! - Every attempt is recorded ([`Mock::requests`]) as the client would
//!   have sent it: operation, method, path, query, headers (the
//!   idempotency key among them), body.
//! - Time is virtual: waits between attempts and scripted delays move the
//!   mock's clock ([`Mock::elapsed`]) and take no real time, so a call of
//!   three attempts finishes in microseconds on any executor. Attempt and
//!   overall timeouts are measured on that clock.
//! - A request no rule answers fails at once, naming the operation, as an
//!   [`ErrorKind::NotSent`](crate::ErrorKind::NotSent) error that is not
//!   retried.
//!
//! The client crates re-export this module as `mock` under their own
//! `test-util` feature; their documentation has a complete example.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::TransportError;
use crate::transport::{Body, Buffered, Head, Request, Scripted, SendError, Transport};
use crate::{Client, Config, ConfigError, Credentials, Operation};

/// The base URL of a client built by [`Mock::client`]; never resolved.
pub const MOCK_BASE_URL: &str = "https://klarna.mock.invalid";

/// A scripted stand-in for the network. Clones share the script, the
/// recorded requests and the clock.
#[derive(Clone)]
pub struct Mock {
    state: Arc<Mutex<State>>,
    start: Instant,
}

#[derive(Default)]
struct State {
    rules: Vec<RuleState>,
    requests: Vec<MockRequest>,
    elapsed: Duration,
}

struct RuleState {
    matcher: Matcher,
    outcomes: VecDeque<Outcome>,
    always: Option<Outcome>,
    used: usize,
}

enum Matcher {
    Operation(&'static str),
    Request(Box<dyn Fn(&MockRequest) -> bool + Send + Sync>),
}

impl Default for Mock {
    fn default() -> Self {
        Mock::new()
    }
}

impl Mock {
    pub fn new() -> Self {
        Mock {
            state: Arc::default(),
            start: Instant::now(),
        }
    }

    /// A client on this mock, with the default configuration (retries,
    /// budget, timeouts) and placeholder credentials.
    pub fn client(&self) -> Client {
        let config = Config::with_base_url(
            MOCK_BASE_URL,
            Credentials::basic("mock-user", "mock-password"),
        );
        self.client_with(config)
            .expect("the mock's own configuration is valid")
    }

    /// A client on this mock with a configuration of your own (a retry
    /// policy, timeouts, credentials); its base URL is never contacted.
    pub fn client_with(&self, config: Config) -> Result<Client, ConfigError> {
        Client::with_transport(Transport::Scripted(Arc::new(self.clone())), config)
    }

    /// Scripts the answers to `operation` (`operations::CAPTURE_ORDER`).
    pub fn on(&self, operation: &Operation) -> Rule<'_> {
        self.rule(Matcher::Operation(operation.name))
    }

    /// Scripts the answers to the requests `matches` picks, by path, body or
    /// header. Rules are tried in the order they were made; the first that
    /// matches and has an outcome left answers.
    pub fn on_request(
        &self,
        matches: impl Fn(&MockRequest) -> bool + Send + Sync + 'static,
    ) -> Rule<'_> {
        self.rule(Matcher::Request(Box::new(matches)))
    }

    fn rule(&self, matcher: Matcher) -> Rule<'_> {
        let mut state = self.lock();
        state.rules.push(RuleState {
            matcher,
            outcomes: VecDeque::new(),
            always: None,
            used: 0,
        });
        Rule {
            mock: self,
            index: state.rules.len() - 1,
        }
    }

    /// Every attempt so far, in order.
    pub fn requests(&self) -> Vec<MockRequest> {
        self.lock().requests.clone()
    }

    /// The attempts of one operation.
    pub fn requests_for(&self, operation: &Operation) -> Vec<MockRequest> {
        let state = self.lock();
        let of_operation = state
            .requests
            .iter()
            .filter(|r| r.operation == operation.name);
        of_operation.cloned().collect()
    }

    /// The virtual time that passed: waits between attempts and scripted
    /// delays, added up.
    pub fn elapsed(&self) -> Duration {
        self.lock().elapsed
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has failed already;
        // the state is still readable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Scripted for Mock {
    fn now(&self) -> Instant {
        self.start + self.lock().elapsed
    }

    fn advance(&self, wait: Duration) {
        let mut state = self.lock();
        state.elapsed = state.elapsed.saturating_add(wait);
    }

    /// One attempt: records it, picks the outcome, moves the clock.
    fn answer(&self, request: &Request, body: &[u8], timeout: Duration) -> Result<Head, SendError> {
        let recorded = MockRequest::of(request, body);
        let mut state = self.lock();
        let outcome = state.pick(&recorded);
        state.requests.push(recorded);
        let outcome = outcome.map_err(SendError::Unscripted)?;
        // A delay the attempt does not outlive is a timeout after sending.
        if outcome.delay >= timeout {
            state.elapsed = state.elapsed.saturating_add(timeout);
            return Err(SendError::Lost(TransportError::timeout()));
        }
        state.elapsed = state.elapsed.saturating_add(outcome.delay);
        match outcome.kind {
            Kind::Invalid(message) => Err(SendError::Unscripted(message)),
            Kind::NotSent => Err(SendError::NotSent(TransportError::connect_failed())),
            Kind::Dropped => Err(SendError::Lost(TransportError::connection_lost())),
            // `delay` is Duration::MAX: handled above.
            Kind::TimedOut => Err(SendError::Lost(TransportError::timeout())),
            Kind::Answer {
                status,
                mut headers,
                body,
                cut_off,
            } => {
                if !cut_off && !headers.contains_key(CONTENT_LENGTH) {
                    headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
                }
                Ok(Head {
                    status,
                    headers,
                    body: Body::Buffered(Buffered::new(body, cut_off)),
                })
            }
        }
    }
}

impl State {
    fn pick(&mut self, request: &MockRequest) -> Result<Outcome, String> {
        let mut matched = None;
        for rule in &mut self.rules {
            let matches = match &rule.matcher {
                Matcher::Operation(name) => *name == request.operation,
                Matcher::Request(matches) => matches(request),
            };
            if !matches {
                continue;
            }
            if let Some(outcome) = rule.outcomes.pop_front().or_else(|| rule.always.clone()) {
                rule.used += 1;
                return Ok(outcome);
            }
            matched.get_or_insert(rule.used);
        }
        let what = format!(
            "{} ({} {}{})",
            request.operation,
            request.method,
            request.path,
            request
                .query
                .as_deref()
                .map(|q| format!("?{q}"))
                .unwrap_or_default()
        );
        Err(match matched {
            None => format!("mock: no outcome scripted for {what}"),
            Some(used) => format!("mock: the {used} outcomes scripted for {what} are used up"),
        })
    }
}

impl fmt::Debug for Mock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Mock")
            .field("rules", &state.rules.len())
            .field("requests", &state.requests.len())
            .field("elapsed", &state.elapsed)
            .finish()
    }
}

/// The outcomes of one rule, added in order.
pub struct Rule<'a> {
    mock: &'a Mock,
    index: usize,
}

impl Rule<'_> {
    /// Answers the next matching request not answered yet by this rule's
    /// earlier outcomes.
    pub fn respond(self, outcome: Outcome) -> Self {
        self.mock.lock().rules[self.index]
            .outcomes
            .push_back(outcome);
        self
    }

    /// Answers every matching request once the outcomes given to
    /// [`respond`](Self::respond) are used.
    pub fn always(self, outcome: Outcome) -> Self {
        self.mock.lock().rules[self.index].always = Some(outcome);
        self
    }
}

/// What the mock does with one request.
#[derive(Clone, Debug)]
pub struct Outcome {
    kind: Kind,
    delay: Duration,
}

#[derive(Clone, Debug)]
enum Kind {
    Answer {
        status: u16,
        headers: HeaderMap,
        body: Vec<u8>,
        cut_off: bool,
    },
    NotSent,
    TimedOut,
    Dropped,
    /// A script mistake (a header name that is not one), reported when the
    /// outcome is used rather than by a panic while scripting.
    Invalid(String),
}

impl Outcome {
    /// An answer with this status and no body.
    pub fn status(status: u16) -> Self {
        Outcome {
            kind: Kind::Answer {
                status,
                headers: HeaderMap::new(),
                body: Vec::new(),
                cut_off: false,
            },
            delay: Duration::ZERO,
        }
    }

    /// An answer whose body is `body` as JSON: a generated model, or a
    /// `serde_json::Value`.
    pub fn json<T: Serialize + ?Sized>(status: u16, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => Outcome::status(status)
                .header(CONTENT_TYPE.as_str(), "application/json")
                .body(bytes),
            Err(e) => Outcome::invalid(format!("mock: the scripted body does not serialise: {e}")),
        }
    }

    /// The connection could not be made: nothing reached Klarna.
    pub fn not_sent() -> Self {
        Outcome::failure(Kind::NotSent)
    }

    /// The request was sent and no answer came before the attempt's
    /// timeout, which passes on the mock's clock.
    pub fn timed_out() -> Self {
        Outcome {
            delay: Duration::MAX,
            ..Outcome::failure(Kind::TimedOut)
        }
    }

    /// The request was read, then the connection closed without an answer.
    pub fn connection_dropped() -> Self {
        Outcome::failure(Kind::Dropped)
    }

    /// Adds a response header. Not valid as a header, the outcome becomes
    /// an error naming the problem when it is used.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let parsed = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        );
        match (&mut self.kind, parsed) {
            (Kind::Answer { headers, .. }, (Ok(name), Ok(value))) => {
                headers.append(name, value);
                self
            }
            (Kind::Answer { .. }, _) => {
                Outcome::invalid(format!("mock: `{name}: {value}` is not a valid header"))
            }
            _ => self,
        }
    }

    /// The raw body of an answer.
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        if let Kind::Answer { body, .. } = &mut self.kind {
            *body = bytes.into();
        }
        self
    }

    /// The status line and headers arrive, then the connection breaks in
    /// the middle of the body.
    pub fn body_cut_off(mut self) -> Self {
        if let Kind::Answer { cut_off, .. } = &mut self.kind {
            *cut_off = true;
        }
        self
    }

    /// Happens after `delay` on the mock's clock; a delay as long as the
    /// attempt's timeout is a timeout.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    fn failure(kind: Kind) -> Self {
        Outcome {
            kind,
            delay: Duration::ZERO,
        }
    }

    fn invalid(message: String) -> Self {
        Outcome::failure(Kind::Invalid(message))
    }
}

/// One attempt as the client would have sent it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MockRequest {
    /// The generated method's name (`capture_order`).
    pub operation: &'static str,
    /// The header the operation takes its idempotency key in, if any.
    pub idempotency_header: Option<&'static str>,
    pub method: Method,
    /// The path, percent-encoded as sent (`/ordermanagement/v1/orders/o-1`).
    pub path: String,
    /// The query string without its `?`, if there was one.
    pub query: Option<String>,
    /// Every header, credentials and idempotency key included.
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl MockRequest {
    fn of(request: &Request, body: &[u8]) -> Self {
        let target = &request.url[request.path_start..];
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query.to_owned())),
            None => (target, None),
        };
        MockRequest {
            operation: request.operation,
            idempotency_header: request.idempotency_header,
            method: request.method.clone(),
            path: path.to_owned(),
            query,
            headers: request.headers.clone(),
            body: body.to_vec(),
        }
    }

    /// A header's value, if it was sent as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The idempotency key sent, in the operation's idempotency header.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.header(self.idempotency_header?)
    }

    /// The body, decoded from JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}
