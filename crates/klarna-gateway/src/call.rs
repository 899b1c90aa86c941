//! The one path every call takes, from either adapter, before and after it
//! reaches the generated client. Each rule lives here once, as a step in
//! this order:
//!
//! 1. **surface**: the tool is one the gateway serves (`--read-only`
//!    serves only reads);
//! 2. **strict input**: an argument or body field the tool does not have
//!    is refused, naming the nearest known one ([`crate::strict`]);
//! 3. **keys**: an operation that moves money or creates something takes
//!    an idempotency key from its caller (`--allow-keyless` waives it);
//! 4. **limits**: `--max-amount` refuses a larger amount;
//! 5. **memory of keys**: a key means one request ([`crate::ledger`]): a
//!    reuse with other arguments and a key still in flight are refused, a
//!    repeat after a final answer is answered from memory;
//! 6. **confirmation**: a human confirms a money call over MCP, with the
//!    amount and what the order still holds;
//! 7. **send** through the generated client, and record how it ended: the
//!    call runs in a task of its own, so a caller that goes away does not
//!    cut a money call off half way, and its outcome is recorded (durably,
//!    with a journal) before the answer is given;
//! 8. **secrets** out of MCP results.
//!
//! An adapter turns the request into arguments and the answer into its
//! own shape; nothing else.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use tracing::Instrument;

use crate::ledger::{
    self, Admission, CallRecord, FinalOutcome, Ledger, MemoryLedger, Outcome, Ticket,
};
use crate::observe;
use crate::strict;
use crate::table::{Arguments, Failure, Header, Output, Tool, UpstreamError};
use crate::tools::{self, Upstream};

/// Which adapter a call came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adapter {
    Mcp,
    Rest,
}

impl Adapter {
    fn as_str(self) -> &'static str {
        match self {
            Adapter::Mcp => "mcp",
            Adapter::Rest => "rest",
        }
    }
}

/// When a human confirms a money call over MCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirm {
    /// Every money call (the default).
    Always,
    /// Calls of more than this many minor units (`--confirm-above`).
    Above(i64),
    /// Never (`--no-confirm`): for unattended agents, whose limits must
    /// then be set some other way (`--max-amount`).
    Never,
}

/// The gateway's rules, set by flags.
#[derive(Clone, Debug)]
pub struct Policy {
    /// `--allow-keyless`: a call that needs a key may come without one; the
    /// client makes one, which a lost answer loses with it.
    pub allow_keyless: bool,
    /// `--read-only`: only read-only tools and routes.
    pub read_only: bool,
    /// `--max-amount`: the largest amount (minor units) one call may move.
    pub max_amount: Option<i64>,
    /// Confirmation of money calls over MCP. REST callers are programs
    /// with no human to ask; they are bounded by keys and limits.
    pub confirm: Confirm,
}

impl Default for Policy {
    /// The safe defaults: keys required, confirmation over MCP.
    fn default() -> Self {
        Policy {
            allow_keyless: false,
            read_only: false,
            max_amount: None,
            confirm: Confirm::Always,
        }
    }
}

impl Policy {
    /// No confirmation; keys still required. For tests and benches of
    /// everything but confirmation, and unattended agents.
    pub fn unattended() -> Self {
        Policy {
            confirm: Confirm::Never,
            ..Policy::default()
        }
    }

    fn needs_confirmation(&self, adapter: Adapter, amount: i64) -> bool {
        adapter == Adapter::Mcp
            && match self.confirm {
                Confirm::Always => true,
                Confirm::Above(threshold) => amount > threshold,
                Confirm::Never => false,
            }
    }
}

/// What a human is asked: kept with the failures of the table, which
/// carry it back to the adapter (so the table need not know this module).
pub use crate::table::Question;

/// A human's answer, as an adapter got it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    Declined,
    /// The client cannot ask (no elicitation): why.
    Unavailable(String),
    /// The question goes back to the client, who asks and repeats the call
    /// with the answer (MCP `input_required`).
    Pending,
}

/// A boxed future, so adapters can pass their way of asking as `&dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How an adapter asks a human.
pub trait Asker: Send + Sync {
    fn ask<'a>(&'a self, question: &'a Question) -> BoxFuture<'a, Answer>;
}

/// The call path: the served tools, the rules, and the memory of keys.
#[derive(Clone)]
pub struct CallPath {
    upstream: Upstream,
    tools: Vec<&'static Tool>,
    policy: Policy,
    ledger: Arc<dyn Ledger>,
    /// Who calls, as records name it (`loopback`, `stdio`, a token's
    /// identity); the adapter's name when not given.
    caller: Option<String>,
    /// Each tool's input schema, parsed once.
    schemas: HashMap<&'static str, Value>,
}

impl CallPath {
    /// `tools` less what `policy` leaves out (`--read-only`), with an
    /// in-process [`MemoryLedger`].
    pub fn new(upstream: Upstream, tools: Vec<&'static Tool>, policy: Policy) -> Self {
        CallPath::with_ledger(upstream, tools, policy, Arc::new(MemoryLedger::default()))
    }

    /// [`CallPath::new`] with another memory of keys (a durable journal).
    pub fn with_ledger(
        upstream: Upstream,
        tools: Vec<&'static Tool>,
        policy: Policy,
        ledger: Arc<dyn Ledger>,
    ) -> Self {
        let tools: Vec<&'static Tool> = tools
            .into_iter()
            .filter(|t| !policy.read_only || t.read_only)
            .collect();
        let schemas = tools
            .iter()
            .filter_map(|t| {
                t.input_schema
                    .assemble()
                    .ok()
                    .map(|schema| (t.name, schema))
            })
            .collect();
        CallPath {
            upstream,
            tools,
            policy,
            ledger,
            caller: None,
            schemas,
        }
    }

    /// The same path with `ledger` as its memory of keys (the durable
    /// journal, `Arc::new(journal)`) and its calls recorded as made by
    /// `caller`.
    pub fn remembering(mut self, ledger: Arc<dyn Ledger>, caller: impl Into<String>) -> Self {
        self.ledger = ledger;
        self.caller = Some(caller.into());
        self
    }

    /// The same path with its calls recorded as made by `caller`.
    pub fn with_caller(mut self, caller: impl Into<String>) -> Self {
        self.caller = Some(caller.into());
        self
    }

    /// The tools served.
    pub fn tools(&self) -> &[&'static Tool] {
        &self.tools
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// Runs one call through every step; `asker` is how the adapter asks a
    /// human (`None`: it cannot). Each call is one log line and is counted
    /// in the metrics ([`crate::observe`]).
    pub async fn call(
        &self,
        adapter: Adapter,
        name: &str,
        arguments: Map<String, Value>,
        asker: Option<&dyn Asker>,
    ) -> Result<Output, Failure> {
        self.call_as(adapter, None, name, arguments, asker).await
    }

    /// [`CallPath::call`] for a caller known only with the request: an
    /// OAuth token's subject. Its record names `caller` instead of the
    /// path's own caller, so a journal shows which remote caller moved the
    /// money.
    pub async fn call_as(
        &self,
        adapter: Adapter,
        caller: Option<&str>,
        name: &str,
        arguments: Map<String, Value>,
        asker: Option<&dyn Asker>,
    ) -> Result<Output, Failure> {
        let tool = self.tools.iter().find(|t| t.name == name).copied();
        let given_key = arguments.get("idempotency_key").and_then(Value::as_str);
        let observed = observe::Call::start(adapter.as_str(), tool, given_key);
        let result = self
            .call_steps(adapter, caller, name, arguments, asker)
            .instrument(observed.span().clone())
            .await;
        observed.finish(name, &result);
        result
    }

    async fn call_steps(
        &self,
        adapter: Adapter,
        caller: Option<&str>,
        name: &str,
        arguments: Map<String, Value>,
        asker: Option<&dyn Asker>,
    ) -> Result<Output, Failure> {
        // 1. Surface.
        let tool = *self
            .tools
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Failure::unknown_tool(name))?;
        if adapter == Adapter::Mcp && tool.shows_secret {
            return Err(Failure::refused(
                404,
                "NOT_OFFERED",
                format!(
                    "`{name}` shows a secret once; it is not offered over MCP: use the SDK or \
                     the REST adapter"
                ),
            ));
        }
        // 2. Strict input.
        let arguments_value = Value::Object(arguments);
        if let Some(found) = self
            .schemas
            .get(tool.name)
            .and_then(|schema| strict::unknown_field(schema, &arguments_value))
        {
            return Err(Failure::invalid(found.message()));
        }
        let Value::Object(mut arguments) = arguments_value else {
            unreachable!("built from a map just above")
        };
        // 3. Keys.
        let key = key_of(&arguments)?;
        if tool.key_required() && key.is_none() && !self.policy.allow_keyless {
            return Err(Failure::refused(
                400,
                "IDEMPOTENCY_KEY_REQUIRED",
                format!(
                    "`{}` acts on money or creates something, so it needs an idempotency key: \
                     make one UUID for this action and send it as `idempotency_key` (REST: the \
                     `Klarna-Idempotency-Key` header), and send the same key again on every \
                     retry of the action",
                    tool.name
                ),
            ));
        }
        // 4. Limits.
        let amount = amount_of(tool, &arguments);
        if let (Some(amount), Some(max)) = (amount, self.policy.max_amount) {
            if amount > max {
                return Err(Failure::refused(
                    403,
                    "LIMIT_EXCEEDED",
                    format!(
                        "{amount} minor units is more than this gateway's --max-amount of {max}; \
                         nothing was sent"
                    ),
                ));
            }
        }
        // 5. Memory of keys. Every call that is not read-only is recorded
        // before it is sent; one without a key (`--allow-keyless`, or an
        // operation that takes none) is recorded under a key made here,
        // sent along when the operation takes one, so that the record can
        // be sent again safely and the caller can look it up.
        let given_key = key.clone();
        let key = match key {
            Some(key) => Some(key),
            None if !tool.read_only => {
                let made = klarna_runtime::IdempotencyKey::new_v4().as_str().to_owned();
                if tool.idempotency_key {
                    arguments.insert("idempotency_key".into(), json!(made));
                }
                Some(made)
            }
            None => None,
        };
        let ticket = match &key {
            Some(key) if tool.idempotency_key || !tool.read_only => {
                let record = CallRecord {
                    operation: tool.name.to_owned(),
                    idempotency_key: key.clone(),
                    fingerprint: ledger::fingerprint(&Value::Object(arguments.clone())),
                    arguments: ledger::redact(&without_key(&arguments), tool.secrets),
                    caller: caller
                        .or(self.caller.as_deref())
                        .unwrap_or(adapter.as_str())
                        .to_owned(),
                };
                let admission = self.ledger.admit(record).await.map_err(|e| {
                    let mut details = Map::new();
                    details.insert("idempotency_key".into(), json!(key));
                    Failure::refused_with(
                        503,
                        "JOURNAL_UNAVAILABLE",
                        format!("{e}; nothing was sent"),
                        details,
                    )
                })?;
                match admission {
                    Admission::Proceed(ticket) => Some(ticket),
                    Admission::Replay(outcome) => {
                        return self.replay(adapter, tool, key, outcome);
                    }
                    Admission::Reused { first_arguments } => {
                        let differences =
                            ledger::differences(&first_arguments, &without_key(&arguments));
                        let mut details = Map::new();
                        details.insert("differences".into(), json!(differences));
                        details.insert("idempotency_key".into(), json!(key));
                        return Err(Failure::refused_with(
                            409,
                            "IDEMPOTENCY_KEY_REUSED",
                            format!(
                                "this idempotency key was first used with other arguments ({} \
                                 differ): a key means one action; make a new key for a new \
                                 action",
                                differences.join(", ")
                            ),
                            details,
                        ));
                    }
                    Admission::InProgress => {
                        let mut details = Map::new();
                        details.insert("idempotency_key".into(), json!(key));
                        return Err(Failure::refused_with(
                            409,
                            "IN_PROGRESS",
                            "the first call with this idempotency key has not ended yet: wait, \
                             then repeat with the same key and arguments to get its answer",
                            details,
                        ));
                    }
                }
            }
            _ => None,
        };
        // A caller that goes away while the human is asked sends nothing:
        // the guard then ends the key's call as not sent.
        let guard = TicketGuard {
            ledger: self.ledger.clone(),
            ticket,
            key,
            given_key,
        };
        let result = self
            .confirm_and_send(adapter, tool, amount, arguments, asker, guard)
            .await;
        // 8. Secrets out of MCP results.
        let mut output = result?;
        if adapter == Adapter::Mcp && !tool.secrets.is_empty() {
            output.redact(tool.secrets);
        }
        Ok(output)
    }

    async fn confirm_and_send(
        &self,
        adapter: Adapter,
        tool: &'static Tool,
        amount: Option<i64>,
        arguments: Map<String, Value>,
        asker: Option<&dyn Asker>,
        mut guard: TicketGuard,
    ) -> Result<Output, Failure> {
        // 6. Confirmation.
        if let Some(amount) = amount.filter(|a| self.policy.needs_confirmation(adapter, *a)) {
            let question = Question {
                message: self.question(tool, amount, &arguments).await,
                binding: binding(tool, &arguments, guard.given_key.as_deref()),
            };
            let answer = match asker {
                Some(asker) => asker.ask(&question).await,
                None => Answer::Unavailable("this adapter cannot ask a human".to_owned()),
            };
            match answer {
                Answer::Accepted => {}
                Answer::Declined => {
                    return guard
                        .not_sent(Failure::refused(
                            403,
                            "DECLINED",
                            format!("the user declined: {} Nothing was sent.", question.message),
                        ))
                        .await
                }
                Answer::Unavailable(why) => {
                    return guard
                        .not_sent(Failure::refused(
                            403,
                            "CONFIRMATION_UNAVAILABLE",
                            format!(
                                "a human must confirm this call, and {why}: use a client with MCP \
                             elicitation, or start the gateway with --no-confirm (unattended \
                             agents) or --confirm-above AMOUNT. Nothing was sent."
                            ),
                        ))
                        .await
                }
                Answer::Pending => {
                    return guard
                        .not_sent(Failure::ConfirmationRequired(Box::new(question)))
                        .await
                }
            }
        }
        // 7. Send, in a task of its own, and record how it ended before
        // answering.
        let ticket = guard.ticket.take();
        let (upstream, ledger) = (self.upstream.clone(), self.ledger.clone());
        let key = guard.key.take();
        // In the call's span, so that the client's own span (its attempts,
        // Klarna's correlation id) is seen as part of this call.
        let task = tokio::spawn(
            async move {
                let result = tools::call(&upstream, tool.name, Arguments::new(arguments)).await;
                let Some(ticket) = ticket else {
                    return result;
                };
                match ledger.finish(ticket, final_outcome(tool, &result)).await {
                    Ok(()) => result,
                    // An answer is given only once its record is durable: the
                    // caller learns the call may have happened, and repeats it
                    // with the same key.
                    Err(e) => Err(Failure::Unrecorded {
                        message: format!(
                            "the call was sent, and how it ended could not be recorded ({e}): it \
                         may have happened; repeat it with the same key and arguments"
                        ),
                        idempotency_key: key.unwrap_or_default(),
                    }),
                }
            }
            .in_current_span(),
        );
        match task.await {
            Ok(result) => result,
            Err(e) => Err(Failure::internal(format!("the call's task failed: {e}"))),
        }
    }

    /// "Capture 60.00 EUR of 200.00 EUR still authorized on order X?": the
    /// currency and what remains are read from the order when the tool acts
    /// on one of Order Management's orders.
    async fn question(&self, tool: &Tool, amount: i64, arguments: &Map<String, Value>) -> String {
        let action = tool.title.trim_end_matches('.');
        let order_id = arguments.get("order_id").and_then(Value::as_str);
        let order = match order_id {
            Some(order_id) if tool.api == "ordermanagement" => {
                let mut read = Map::new();
                read.insert("order_id".into(), json!(order_id));
                // The order is read through the table's tool for it,
                // found by its operation (its name is the table's to pick).
                let get_order = tools::TOOLS
                    .iter()
                    .find(|t| t.api == "ordermanagement" && t.operation == "get_order");
                match get_order {
                    Some(get_order) => {
                        tools::call(&self.upstream, get_order.name, Arguments::new(read))
                            .await
                            .ok()
                            .map(|output| output.body_json().clone())
                    }
                    None => None,
                }
            }
            _ => None,
        };
        let currency = order
            .as_ref()
            .and_then(|o| o.get("purchase_currency"))
            .and_then(Value::as_str)
            .or_else(|| {
                arguments
                    .get("body")
                    .and_then(|b| b.get("currency").or_else(|| b.get("purchase_currency")))
                    .and_then(Value::as_str)
            });
        let money = |minor: i64| match currency {
            Some(currency) => format!("{} {currency}", major(minor)),
            None => format!("{minor} minor units"),
        };
        let remaining = order.as_ref().and_then(|o| {
            let field = |name: &str| o.get(name).and_then(Value::as_i64);
            match tool.amount {
                Some("captured_amount") => field("remaining_authorized_amount")
                    .map(|r| format!(" of {} still authorized", money(r))),
                Some("refunded_amount") => field("captured_amount").map(|c| {
                    let left = c - field("refunded_amount").unwrap_or(0);
                    format!(" of {} captured and not refunded", money(left))
                }),
                _ => None,
            }
        });
        let ids: Vec<String> = tool
            .params
            .iter()
            .filter(|p| p.location == crate::table::Location::Path)
            .filter_map(|p| {
                let value = arguments.get(p.argument).and_then(Value::as_str)?;
                Some(format!(
                    "{} {value}",
                    p.argument.trim_end_matches("_id").replace('_', " ")
                ))
            })
            .collect();
        match remaining {
            // "Capture 60.00 EUR of 200.00 EUR still authorized on order X?"
            Some(remaining) => {
                let verb = action.split_whitespace().next().unwrap_or(action);
                format!("{verb} {}{remaining} on {}?", money(amount), ids.join(", "))
            }
            None if ids.is_empty() => format!("{action}: {}?", money(amount)),
            None => format!("{action}: {} on {}?", money(amount), ids.join(", ")),
        }
    }

    /// The answer remembered for a key: Klarna's success or refusal,
    /// without sending anything.
    fn replay(
        &self,
        adapter: Adapter,
        tool: &'static Tool,
        key: &str,
        outcome: FinalOutcome,
    ) -> Result<Output, Failure> {
        let body = outcome
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok());
        match outcome.outcome {
            Outcome::Done => {
                let headers = tool
                    .response_headers
                    .iter()
                    .filter_map(|h| {
                        outcome.ids.get(h.wire_name).map(|value| Header {
                            field: h.field,
                            value: value.clone(),
                        })
                    })
                    .collect();
                let mut output = Output::replayed(
                    outcome.status.unwrap_or(tool.status),
                    body.unwrap_or(Value::Null),
                    headers,
                    key,
                );
                if adapter == Adapter::Mcp && !tool.secrets.is_empty() {
                    output.redact(tool.secrets);
                }
                Ok(output)
            }
            _ => {
                let field = |name: &str| body.as_ref().and_then(|b: &Value| b.get(name).cloned());
                Err(Failure::Upstream(Box::new(UpstreamError {
                    kind: "api",
                    status: outcome.status,
                    error_code: field("error_code").and_then(|v| v.as_str().map(str::to_owned)),
                    error_messages: field("error_messages")
                        .and_then(|v| serde_json::from_value(v).ok())
                        .unwrap_or_default(),
                    correlation_id: outcome.correlation_id.clone(),
                    body: outcome.body.clone(),
                    timed_out: false,
                    retry_after: None,
                    may_have_reached_klarna: false,
                    idempotency_key: Some(key.to_owned()),
                    message: "Klarna refused this call with this key before (answered from the \
                              gateway's memory; nothing was sent again)"
                        .to_owned(),
                })))
            }
        }
    }
}

/// What the memory of keys keeps of how a call ended.
fn final_outcome(tool: &Tool, result: &Result<Output, Failure>) -> FinalOutcome {
    let outcome = match result {
        Ok(output) => FinalOutcome {
            status: Some(output.status()),
            outcome: Outcome::Done,
            ids: output
                .headers()
                .iter()
                .filter_map(|h| {
                    tool.response_headers
                        .iter()
                        .find(|r| r.field == h.field)
                        .map(|r| (r.wire_name.to_owned(), h.value.clone()))
                })
                .collect::<BTreeMap<_, _>>(),
            correlation_id: output.correlation_id().map(str::to_owned),
            body: Some(output.body_json().to_string()),
        },
        Err(failure) => FinalOutcome {
            status: match failure {
                Failure::Upstream(e) => e.status,
                _ => None,
            },
            outcome: match failure {
                // Klarna turned it away before acting (a timeout of
                // its own, too early, too many requests): the key
                // must stay free to be sent again.
                Failure::Upstream(e) if matches!(e.status, Some(408 | 425 | 429)) => {
                    Outcome::NotSent
                }
                failure => failure.outcome(),
            },
            ids: BTreeMap::new(),
            correlation_id: match failure {
                Failure::Upstream(e) => e.correlation_id.clone(),
                _ => None,
            },
            body: match failure {
                Failure::Upstream(e) => e.body.clone(),
                _ => None,
            },
        },
    };
    outcome
}

/// An admitted call's place in the memory of keys until it is handed to
/// the task that sends it: dropped with it (the caller went away while a
/// human was asked), the call is ended as not sent, so its key is free.
struct TicketGuard {
    ledger: Arc<dyn Ledger>,
    ticket: Option<Ticket>,
    /// The key the call is recorded (and sent) under.
    key: Option<String>,
    /// The key the caller gave, if any: what a confirmation binds to (not
    /// a key made here for one attempt).
    given_key: Option<String>,
}

impl TicketGuard {
    /// Ends the call as refused before sending, and answers `failure`.
    async fn not_sent(mut self, failure: Failure) -> Result<Output, Failure> {
        if let Some(ticket) = self.ticket.take() {
            // The call is refused either way; a failure to record it
            // leaves the key in flight until the journal is reopened.
            let _ = self.ledger.finish(ticket, FinalOutcome::not_sent()).await;
        }
        Err(failure)
    }
}

impl Drop for TicketGuard {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            let ledger = self.ledger.clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = ledger.finish(ticket, FinalOutcome::not_sent()).await;
                });
            }
        }
    }
}

/// The `idempotency_key` argument: printable, non-empty text, or none.
fn key_of(arguments: &Map<String, Value>) -> Result<Option<String>, Failure> {
    match arguments.get("idempotency_key") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(key))
            if !key.trim().is_empty() && !key.chars().any(char::is_control) =>
        {
            Ok(Some(key.clone()))
        }
        Some(_) => Err(Failure::invalid(
            "`idempotency_key` must be non-empty printable text",
        )),
    }
}

/// The amount a money call moves, from its body.
fn amount_of(tool: &Tool, arguments: &Map<String, Value>) -> Option<i64> {
    let field = tool.amount?;
    arguments.get("body")?.get(field)?.as_i64()
}

fn without_key(arguments: &Map<String, Value>) -> Value {
    let mut arguments = arguments.clone();
    arguments.remove("idempotency_key");
    Value::Object(arguments)
}

/// What a confirmation binds to: the tool, the arguments, the key.
fn binding(tool: &Tool, arguments: &Map<String, Value>, key: Option<&str>) -> String {
    format!(
        "{}\n{}\n{}",
        tool.name,
        ledger::fingerprint(&Value::Object(arguments.clone())),
        key.unwrap_or_default()
    )
}

/// Minor units as major units with two decimals (`6000` is `60.00`).
fn major(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    format!("{sign}{}.{:02}", minor / 100, minor % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_read_as_money() {
        assert_eq!(major(6000), "60.00");
        assert_eq!(major(5), "0.05");
        assert_eq!(major(-120), "-1.20");
    }
}
