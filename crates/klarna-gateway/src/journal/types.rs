//! The plain data a call's memory is made of: what is recorded before a
//! call is sent ([`CallRecord`]), what it ended as ([`FinalOutcome`]), and
//! what the memory answers for a new call ([`Admission`]).
//!
//! These carry the same names and fields as the `Ledger` trait's types of
//! the one call path (issue 25), so that the journal can serve as its
//! durable implementation; they are to become one set when both land.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// A call about to be sent, as the journal records it before sending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// The tool's name (`klarna-capture-order`): the operation.
    pub operation: String,
    pub idempotency_key: String,
    /// [`super::fingerprint`] of the operation and its arguments.
    pub fingerprint: String,
    /// The arguments, secrets redacted ([`super::redacted`]), without the
    /// idempotency key.
    pub arguments: Value,
    /// Who called: `loopback`, `stdio`, or the token's identity.
    pub caller: String,
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Klarna acted (a 2xx answer).
    Done,
    /// Klarna answered that it would not act (a 4xx of its own).
    Refused,
    /// Sent, and no answer that says what happened: repeat only with the
    /// same key.
    Unknown,
    /// Never sent (or refused before Klarna acted, such as a 429).
    NotSent,
}

impl Outcome {
    /// Done and refused are final: the same call again gets this answer.
    pub fn is_final(self) -> bool {
        matches!(self, Outcome::Done | Outcome::Refused)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Refused => "refused",
            Outcome::Unknown => "unknown",
            Outcome::NotSent => "not_sent",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Outcome> {
        Some(match text {
            "done" => Outcome::Done,
            "refused" => Outcome::Refused,
            "unknown" => Outcome::Unknown,
            "not_sent" => Outcome::NotSent,
            _ => return None,
        })
    }
}

/// What a call ended as: enough to answer the same call again without
/// sending it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FinalOutcome {
    /// Klarna's status, when it answered.
    pub status: Option<u16>,
    pub outcome: Outcome,
    /// The documented headers of the answer by wire name (`Capture-Id`,
    /// `Refund-Id`, `Location`).
    pub ids: BTreeMap<String, String>,
    /// Klarna's correlation id, when it gave one.
    pub correlation_id: Option<String>,
    /// The body of the answer as JSON text, when it had one.
    pub body: Option<String>,
}

/// Which attempt of a call [`super::Journal::finish`] completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ticket(pub u64);

/// What the memory of keys says about a call about to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Send it (first time, or again with the same key after an unknown or
    /// not-sent outcome); complete it with the ticket.
    Proceed(Ticket),
    /// The same call ended finally before: answer this, send nothing.
    Replay(FinalOutcome),
    /// The key was used for other arguments: 409, send nothing.
    Reused { first_arguments: Value },
    /// The same key is being sent right now: 409, send nothing.
    InProgress,
}
