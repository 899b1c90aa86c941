//! The gateway's memory of idempotency keys: what a key was first used
//! for, whether that call is still running, and how it ended.
//!
//! A key means one request. The call path asks the ledger before anything
//! is sent ([`Ledger::admit`]) and tells it how the call ended
//! ([`Ledger::finish`]):
//! - a key seen with other arguments is refused ([`Admission::Reused`]);
//! - a key whose call is still running is refused ([`Admission::InProgress`]);
//! - a key whose call ended for good (Klarna did it, or refused it) is
//!   answered from memory, without sending anything ([`Admission::Replay`]);
//! - a key whose call may or may not have reached Klarna proceeds again
//!   with the same arguments: it is sent with the same key, and Klarna's
//!   own idempotency acts once;
//! - a key whose call never left (refused before sending, declined by the
//!   user) binds nothing yet: it proceeds, with these arguments or others.
//!
//! [`MemoryLedger`] keeps that in process, bounded. A durable journal
//! implements the same trait; [`fingerprint`] and [`redact`] are public so
//! that it records keys exactly as this one compares them.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use serde_json::{Map, Value};

/// One call as the ledger records it.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRecord {
    /// The tool (`klarna-capture-order`).
    pub operation: String,
    pub idempotency_key: String,
    /// [`fingerprint`] of the arguments.
    pub fingerprint: String,
    /// The arguments without the key, secrets redacted ([`redact`]): what
    /// a refusal of a reused key compares against.
    pub arguments: Value,
    /// Which adapter (and, later, which client) made the call: `mcp`, `rest`.
    pub caller: String,
}

/// How a call ended, as an agent must read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Klarna did it.
    Done,
    /// Klarna answered with an error: nothing happened.
    Refused,
    /// It may have happened: repeat with the same key.
    Unknown,
    /// Nothing reached Klarna.
    NotSent,
}

impl Outcome {
    /// Its name in errors: `refused`, `unknown`, `not_sent` (`done` for a
    /// success).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Refused => "refused",
            Outcome::Unknown => "unknown",
            Outcome::NotSent => "not_sent",
        }
    }

    /// Done and Refused are final: the same key gets the same answer. The
    /// others leave the call to be sent (again) with the key.
    pub fn is_final(self) -> bool {
        matches!(self, Outcome::Done | Outcome::Refused)
    }
}

/// What the ledger keeps of a call's end, enough to answer a repeat.
#[derive(Clone, Debug, PartialEq)]
pub struct FinalOutcome {
    pub status: Option<u16>,
    pub outcome: Outcome,
    /// Documented response headers by their wire name (`Capture-Id`,
    /// `Location`).
    pub ids: BTreeMap<String, String>,
    pub correlation_id: Option<String>,
    /// Klarna's body: the error body as it sent it, or the success body as
    /// the typed model decoded it.
    pub body: Option<String>,
}

impl FinalOutcome {
    /// The end of a call that was not sent: nothing from Klarna.
    pub fn not_sent() -> FinalOutcome {
        FinalOutcome {
            status: None,
            outcome: Outcome::NotSent,
            ids: BTreeMap::new(),
            correlation_id: None,
            body: None,
        }
    }
}

/// A place in the ledger for a call that may proceed, to [`Ledger::finish`].
#[derive(Debug, PartialEq, Eq)]
pub struct Ticket(pub u64);

/// The ledger's answer to a call before it is sent.
#[derive(Debug, PartialEq)]
pub enum Admission {
    /// Send it, then report how it ended with this ticket.
    Proceed(Ticket),
    /// The key's call ended for good: answer with this, send nothing.
    Replay(FinalOutcome),
    /// The key was first used with other arguments (these, redacted).
    Reused { first_arguments: Value },
    /// The key's first call has not ended yet.
    InProgress,
}

/// The ledger could not answer (a journal's storage failed, say): the call
/// is not sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerError(pub String);

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the gateway's memory of keys failed: {}", self.0)
    }
}

impl std::error::Error for LedgerError {}

/// A boxed future, so a ledger can be shared as `Arc<dyn Ledger>`.
pub type LedgerFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LedgerError>> + Send + 'a>>;

/// The memory of keys the call path consults; see the module docs for
/// the rules every implementation keeps.
pub trait Ledger: Send + Sync + 'static {
    /// Decides whether the call may be sent, atomically: two calls with one
    /// key never both proceed while the first is running.
    fn admit(&self, record: CallRecord) -> LedgerFuture<'_, Admission>;

    /// Records how a call that was admitted ended. A ticket finished as
    /// [`Outcome::Unknown`] or [`Outcome::NotSent`] lets the key proceed
    /// again.
    fn finish(&self, ticket: Ticket, outcome: FinalOutcome) -> LedgerFuture<'_, ()>;
}

/// The fingerprint of a call's arguments: their canonical JSON (object
/// keys sorted, no whitespace) without `idempotency_key`, so a repeat with
/// the keys of its body in another order is the same call.
pub fn fingerprint(arguments: &Value) -> String {
    let mut canonical = String::new();
    let without_key = match arguments {
        Value::Object(object) => {
            let mut object = object.clone();
            object.remove("idempotency_key");
            Value::Object(object)
        }
        other => other.clone(),
    };
    write_canonical(&without_key, &mut canonical);
    canonical
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&object[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// What stands in for a secret's value.
pub const REDACTED: &str = "[redacted]";

/// `value` with every object member named in `secret_names` replaced by
/// [`REDACTED`], at any depth: what a record or a result may show.
pub fn redact(value: &Value, secret_names: &[&str]) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(name, member)| {
                    let member = if secret_names.contains(&name.as_str()) && !member.is_null() {
                        Value::String(REDACTED.to_owned())
                    } else {
                        redact(member, secret_names)
                    };
                    (name.clone(), member)
                })
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| redact(item, secret_names))
                .collect(),
        ),
        scalar => scalar.clone(),
    }
}

/// The paths (`body.captured_amount`) where two argument sets differ, for
/// the refusal of a reused key. Both without the key.
pub fn differences(first: &Value, second: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff("", first, second, &mut out);
    out
}

fn diff(at: &str, first: &Value, second: &Value, out: &mut Vec<String>) {
    let join = |name: &str| {
        if at.is_empty() {
            name.to_owned()
        } else {
            format!("{at}.{name}")
        }
    };
    match (first, second) {
        (Value::Object(a), Value::Object(b)) => {
            let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
            names.sort();
            names.dedup();
            for name in names {
                if name == "idempotency_key" && at.is_empty() {
                    continue;
                }
                let null = Value::Null;
                diff(
                    &join(name),
                    a.get(name).unwrap_or(&null),
                    b.get(name).unwrap_or(&null),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(&format!("{at}[{i}]"), x, y, out);
            }
        }
        (a, b) if a == b => {}
        _ => out.push(if at.is_empty() {
            "the arguments".to_owned()
        } else {
            at.to_owned()
        }),
    }
}

/// How many keys [`MemoryLedger::new`] remembers.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// The ledger in process: the latest `capacity` keys, each with its first
/// call and how it ended. Past the capacity the oldest finished key is
/// forgotten (a running one never is); it is lost on restart, which the
/// durable journal fixes.
pub struct MemoryLedger {
    state: Mutex<State>,
    capacity: usize,
}

struct State {
    next_ticket: u64,
    entries: HashMap<(String, String), Entry>,
    /// Keys in the order they were first seen, for eviction.
    order: VecDeque<(String, String)>,
    tickets: HashMap<u64, (String, String)>,
}

struct Entry {
    fingerprint: String,
    arguments: Value,
    state: EntryState,
}

enum EntryState {
    Running(u64),
    Ended(FinalOutcome),
}

impl Default for MemoryLedger {
    fn default() -> Self {
        MemoryLedger::new(DEFAULT_CAPACITY)
    }
}

impl MemoryLedger {
    pub fn new(capacity: usize) -> Self {
        MemoryLedger {
            state: Mutex::new(State {
                next_ticket: 1,
                entries: HashMap::new(),
                order: VecDeque::new(),
                tickets: HashMap::new(),
            }),
            capacity: capacity.max(1),
        }
    }

    fn admit_now(&self, record: CallRecord) -> Admission {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let id = (record.operation.clone(), record.idempotency_key.clone());
        let ticket = state.next_ticket;
        if let Some(entry) = state.entries.get_mut(&id) {
            // A key whose call never left binds nothing yet: it may be
            // used again with other arguments (after a decline, say).
            let never_sent = matches!(
                &entry.state,
                EntryState::Ended(FinalOutcome {
                    outcome: Outcome::NotSent,
                    ..
                })
            );
            if never_sent {
                entry.fingerprint = record.fingerprint.clone();
                entry.arguments = record.arguments.clone();
            }
            if entry.fingerprint != record.fingerprint {
                return Admission::Reused {
                    first_arguments: entry.arguments.clone(),
                };
            }
            match &entry.state {
                EntryState::Running(_) => return Admission::InProgress,
                EntryState::Ended(outcome) if outcome.outcome.is_final() => {
                    return Admission::Replay(outcome.clone())
                }
                EntryState::Ended(_) => entry.state = EntryState::Running(ticket),
            }
        } else {
            state.evict(self.capacity);
            state.order.push_back(id.clone());
            state.entries.insert(
                id.clone(),
                Entry {
                    fingerprint: record.fingerprint,
                    arguments: record.arguments,
                    state: EntryState::Running(ticket),
                },
            );
        }
        state.next_ticket += 1;
        state.tickets.insert(ticket, id);
        Admission::Proceed(Ticket(ticket))
    }

    fn finish_now(&self, ticket: Ticket, outcome: FinalOutcome) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = state.tickets.remove(&ticket.0) {
            if let Some(entry) = state.entries.get_mut(&id) {
                if matches!(entry.state, EntryState::Running(t) if t == ticket.0) {
                    entry.state = EntryState::Ended(outcome);
                }
            }
        }
    }

    /// How many keys it holds now.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entries
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl State {
    /// Makes room for one more key: the oldest ended ones go first.
    fn evict(&mut self, capacity: usize) {
        let mut scanned = 0;
        while self.entries.len() >= capacity && scanned < self.order.len() {
            let Some(id) = self.order.pop_front() else {
                break;
            };
            let running = self
                .entries
                .get(&id)
                .is_some_and(|e| matches!(e.state, EntryState::Running(_)));
            if running {
                self.order.push_back(id);
                scanned += 1;
            } else {
                self.entries.remove(&id);
            }
        }
    }
}

impl Ledger for MemoryLedger {
    fn admit(&self, record: CallRecord) -> LedgerFuture<'_, Admission> {
        let admission = self.admit_now(record);
        Box::pin(async move { Ok(admission) })
    }

    fn finish(&self, ticket: Ticket, outcome: FinalOutcome) -> LedgerFuture<'_, ()> {
        self.finish_now(ticket, outcome);
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(key: &str, arguments: Value) -> CallRecord {
        CallRecord {
            operation: "klarna-capture-order".into(),
            idempotency_key: key.into(),
            fingerprint: fingerprint(&arguments),
            arguments,
            caller: "test".into(),
        }
    }

    fn ended(outcome: Outcome) -> FinalOutcome {
        FinalOutcome {
            status: Some(201),
            outcome,
            ids: BTreeMap::new(),
            correlation_id: None,
            body: None,
        }
    }

    fn admit(ledger: &MemoryLedger, key: &str, arguments: Value) -> Admission {
        ledger.admit_now(record(key, arguments))
    }

    #[test]
    fn the_fingerprint_ignores_order_and_the_key() {
        assert_eq!(
            fingerprint(&json!({"a": 1, "body": {"y": [1, 2], "x": "s"}, "idempotency_key": "k"})),
            fingerprint(&json!({"body": {"x": "s", "y": [1, 2]}, "a": 1}))
        );
        assert_ne!(
            fingerprint(&json!({"body": {"captured_amount": 1}})),
            fingerprint(&json!({"body": {"captured_amount": 2}}))
        );
    }

    #[test]
    fn a_key_means_one_request() {
        let ledger = MemoryLedger::default();
        let args = json!({"order_id": "o", "body": {"captured_amount": 6000}});
        let Admission::Proceed(ticket) = admit(&ledger, "k", args.clone()) else {
            panic!("a new key proceeds")
        };
        assert_eq!(admit(&ledger, "k", args.clone()), Admission::InProgress);
        let other = json!({"order_id": "o", "body": {"captured_amount": 7000}});
        assert_eq!(
            admit(&ledger, "k", other.clone()),
            Admission::Reused {
                first_arguments: args.clone()
            }
        );
        assert_eq!(
            differences(&args, &other),
            vec!["body.captured_amount".to_owned()]
        );
        ledger.finish_now(ticket, ended(Outcome::Done));
        assert_eq!(
            admit(&ledger, "k", args.clone()),
            Admission::Replay(ended(Outcome::Done))
        );
    }

    #[test]
    fn an_unknown_outcome_lets_the_key_proceed_again() {
        let ledger = MemoryLedger::default();
        let args = json!({"x": 1});
        let Admission::Proceed(ticket) = admit(&ledger, "k", args.clone()) else {
            panic!()
        };
        ledger.finish_now(ticket, ended(Outcome::Unknown));
        let Admission::Proceed(again) = admit(&ledger, "k", args.clone()) else {
            panic!("an unknown outcome is sent again with the key")
        };
        ledger.finish_now(again, ended(Outcome::Refused));
        assert!(matches!(admit(&ledger, "k", args), Admission::Replay(_)));
    }

    #[test]
    fn it_is_bounded_and_keeps_running_calls() {
        let ledger = MemoryLedger::new(2);
        let Admission::Proceed(_running) = admit(&ledger, "a", json!(1)) else {
            panic!()
        };
        let Admission::Proceed(t) = admit(&ledger, "b", json!(1)) else {
            panic!()
        };
        ledger.finish_now(t, ended(Outcome::Done));
        let Admission::Proceed(_) = admit(&ledger, "c", json!(1)) else {
            panic!()
        };
        assert_eq!(ledger.len(), 2);
        assert_eq!(admit(&ledger, "a", json!(1)), Admission::InProgress);
    }

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let value = json!({"signing_key": "s3cr3t", "list": [{"signing_key": "x", "id": 1}]});
        assert_eq!(
            redact(&value, &["signing_key"]),
            json!({"signing_key": REDACTED, "list": [{"signing_key": REDACTED, "id": 1}]})
        );
    }
}
