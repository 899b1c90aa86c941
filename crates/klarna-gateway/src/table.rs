//! What the generated operation table (`tools.rs`) is made of, and the
//! helpers its dispatch functions call: reading arguments into typed
//! values, and turning a client's response or error into a tool's answer.

use klarna_runtime::bytes::Bytes;
use klarna_runtime::{ErrorKind, IdempotencyKey};

use crate::ledger::Outcome;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// The header Klarna names each answer with, for its support to find it.
pub const CORRELATION_ID: &str = "Klarna-Correlation-Id";

/// One operation of an SDK API, as the gateway exposes it.
#[derive(Debug)]
pub struct Tool {
    /// The MCP tool name (`klarna-capture-order`).
    pub name: &'static str,
    /// The spec's summary.
    pub title: &'static str,
    /// The spec's description.
    pub description: &'static str,
    /// The API, as the models crate names its module (`ordermanagement`).
    pub api: &'static str,
    /// The client trait the operation belongs to (`Captures`).
    pub tag: &'static str,
    /// The client method (`capture_order`).
    pub operation: &'static str,
    pub method: &'static str,
    /// The path at Klarna, as the spec writes it.
    pub upstream_path: &'static str,
    /// The REST adapter's route: `/v1` and the upstream path, with each
    /// parameter written as its argument with `-` for `_` (`{order-id}`).
    pub route: &'static str,
    pub params: &'static [Param],
    pub body: Body,
    /// The status of success the spec documents.
    pub status: u16,
    /// The headers of a success the spec documents, in the order of the
    /// result's `headers`.
    pub response_headers: &'static [ResponseHeader],
    /// Takes `Klarna-Idempotency-Key` (the `idempotency_key` argument).
    pub idempotency_key: bool,
    pub read_only: bool,
    /// It cancels, voids, releases or deletes: the generator's rule.
    pub destructive: bool,
    pub idempotent: bool,
    /// The body field with the amount (minor units) the call moves, for an
    /// operation that needs a key (`captured_amount`): such a call is
    /// confirmed by a human and bounded by `--max-amount`.
    pub amount: Option<&'static str>,
    /// Fields of the success body the spec marks secret (`x-secret`):
    /// never in a tool result.
    pub secrets: &'static [&'static str],
    /// The operation exists to show a secret once (creating a signing
    /// key): redacting it would lose it, so it is not an MCP tool.
    pub shows_secret: bool,
    /// JSON Schema of the arguments.
    pub input_schema: Schema,
    /// JSON Schema of a successful result (`status`, `body`, `headers`,
    /// `idempotency_key`, `correlation_id`).
    pub output_schema: Schema,
}

/// A tool's JSON Schema as the table keeps it: its own part, whose named
/// types are `{"$ref": "#/$defs/<name>"}`, and the API's table of named
/// schemas, where each type is written once for every tool that uses it.
/// [`Schema::assemble`] makes the whole schema a client gets.
#[derive(Debug)]
pub struct Schema {
    /// The schema without `$defs`.
    pub root: &'static str,
    /// The API's named schemas of this side (arguments or results), in the
    /// order of their names.
    pub defs: &'static [Def],
}

/// A named schema of an API's table.
#[derive(Debug)]
pub struct Def {
    pub name: &'static str,
    pub schema: &'static str,
}

impl Schema {
    /// The whole schema: the root with, in `$defs`, exactly the named
    /// schemas it refers to, directly or through another one. The gateway
    /// calls it once per tool when it starts. `Err` only if the generated
    /// text is not JSON or names a schema the table lacks (a bug of the
    /// generator, which `tests/openapi.rs` would find).
    pub fn assemble(&self) -> Result<Value, String> {
        let mut root: Value =
            serde_json::from_str(self.root).map_err(|e| format!("not JSON: {e}"))?;
        let mut wanted = Vec::new();
        references(&root, &mut wanted);
        let mut defs = Map::new();
        while let Some(name) = wanted.pop() {
            if defs.contains_key(&name) {
                continue;
            }
            let def = self
                .defs
                .binary_search_by(|d| d.name.cmp(&name))
                .map(|i| &self.defs[i])
                .map_err(|_| format!("no schema `{name}` in the table"))?;
            let schema: Value = serde_json::from_str(def.schema)
                .map_err(|e| format!("the schema `{name}` is not JSON: {e}"))?;
            references(&schema, &mut wanted);
            defs.insert(def.name.to_owned(), schema);
        }
        if let (Value::Object(object), false) = (&mut root, defs.is_empty()) {
            object.insert("$defs".into(), Value::Object(defs));
        }
        Ok(root)
    }
}

/// Adds to `found` the names of the `#/$defs/<name>` references in
/// `schema` (a name once for each place it is referred to).
pub(crate) fn references(schema: &Value, found: &mut Vec<String>) {
    match schema {
        Value::Object(object) => {
            for (key, value) in object {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => {
                        if let Some(name) = target.strip_prefix("#/$defs/") {
                            found.push(name.to_owned());
                        }
                    }
                    _ => references(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

impl Tool {
    /// Whether the caller must send an idempotency key: the operation
    /// takes one and is not idempotent, so a repeat without the same key
    /// would act twice.
    pub fn key_required(&self) -> bool {
        self.idempotency_key && !self.idempotent
    }
}

/// A path, query or header parameter.
#[derive(Debug)]
pub struct Param {
    /// Its name among the tool's arguments (`order_id`).
    pub argument: &'static str,
    /// Its name at Klarna (`order_id`, `Klarna-Partner-Account`).
    pub wire_name: &'static str,
    /// Its name at the REST adapter: the route's placeholder for a path
    /// parameter (`order-id`), else the wire name.
    pub rest_name: &'static str,
    pub location: Location,
    /// What its value is, to read it from the text of a URL or header.
    pub kind: Kind,
    pub required: bool,
}

/// A documented header of a successful response.
#[derive(Debug)]
pub struct ResponseHeader {
    /// Its key in the tool result's `headers` (`capture_id`).
    pub field: &'static str,
    /// Its name on the wire (`Capture-Id`).
    pub wire_name: &'static str,
    pub required: bool,
}

/// The JSON type of a parameter's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    Number,
    Boolean,
    /// Anything else (a list, an object): the text is read as JSON.
    Json,
}

impl Kind {
    /// The argument value of a parameter written as text in a URL or a
    /// header. Text that does not fit the kind stays a string, so the
    /// argument check names the parameter and what it expected.
    pub fn value_of(self, text: &str) -> Value {
        let parsed = match self {
            Kind::String => None,
            Kind::Integer | Kind::Number => text
                .parse::<serde_json::Number>()
                .ok()
                .filter(|n| self == Kind::Number || !n.is_f64())
                .map(Value::Number),
            Kind::Boolean => match text {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => None,
            },
            Kind::Json => serde_json::from_str(text).ok(),
        };
        parsed.unwrap_or_else(|| Value::String(text.to_owned()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Header,
}

/// Whether the operation takes a JSON body (the `body` argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    None,
    Optional,
    Required,
}

/// A tool call's arguments, taken out one by one as typed values.
pub struct Arguments {
    values: Map<String, Value>,
}

impl Arguments {
    pub fn new(values: Map<String, Value>) -> Self {
        Arguments { values }
    }

    /// A required argument, decoded into its typed model: a missing one or
    /// one that does not fit is refused, naming the field.
    pub fn required<T: DeserializeOwned>(&mut self, name: &str) -> Result<T, Failure> {
        match self.values.remove(name) {
            Some(value) => decode(name, value),
            None => Err(Failure::invalid(format!("missing argument `{name}`"))),
        }
    }

    /// An optional argument; `null` counts as absent.
    pub fn optional<T: DeserializeOwned>(&mut self, name: &str) -> Result<Option<T>, Failure> {
        match self.values.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => decode(name, value).map(Some),
        }
    }

    /// The `idempotency_key` argument: a non-empty string, or none.
    pub fn idempotency_key(&mut self) -> Result<Option<IdempotencyKey>, Failure> {
        let key: Option<String> = self.optional("idempotency_key")?;
        match key {
            Some(key) if key.trim().is_empty() || key.chars().any(char::is_control) => Err(
                Failure::invalid("`idempotency_key` must be non-empty printable text"),
            ),
            key => Ok(key.map(IdempotencyKey::from)),
        }
    }

    /// Refuses arguments the tool does not take, so a misspelt optional
    /// argument is not silently dropped.
    pub fn finish(&mut self) -> Result<(), Failure> {
        match self.values.keys().next() {
            None => Ok(()),
            Some(name) => Err(Failure::invalid(format!("unknown argument `{name}`"))),
        }
    }
}

fn decode<T: DeserializeOwned>(name: &str, value: Value) -> Result<T, Failure> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            format!("`{name}`")
        } else {
            format!("`{name}.{path}`")
        };
        Failure::invalid(format!("argument {at}: {}", e.inner()))
    })
}

/// A successful call: the status, Klarna's body, the documented headers,
/// the idempotency key it was sent with and Klarna's correlation id.
///
/// The body is Klarna's as it came, not the typed model re-serialised: the
/// generated client still decodes it (and refuses what does not fit), but
/// the caller gets every field, also one Klarna added after our spec.
#[derive(Debug)]
pub struct Output {
    status: u16,
    body: Value,
    /// Klarna's body as received, for the REST adapter to pass on byte for
    /// byte; `None` when the body is the gateway's own (a replay from the
    /// memory of keys, a redacted one).
    raw: Option<Bytes>,
    headers: Vec<Header>,
    idempotency_key: Option<String>,
    /// `Klarna-Correlation-Id` of Klarna's answer.
    correlation_id: Option<String>,
    /// Answered from the gateway's memory of the key: nothing was sent.
    replayed: bool,
    /// Why fields of the body read `[redacted]`.
    note: Option<String>,
}

/// A documented response header and its value.
#[derive(Debug)]
pub struct Header {
    /// Its key in the tool result (`capture_id`); the tool's
    /// [`ResponseHeader`] of that field has its wire name.
    pub field: &'static str,
    pub value: String,
}

impl Output {
    pub fn new(status: u16, idempotency_key: Option<&IdempotencyKey>) -> Self {
        Output {
            status,
            body: Value::Null,
            raw: None,
            headers: Vec::new(),
            idempotency_key: idempotency_key.map(|k| k.as_str().to_owned()),
            correlation_id: None,
            replayed: false,
            note: None,
        }
    }

    /// The output of a client's response: its status, key and correlation
    /// id, and its body as received, kept for [`Output::body`].
    pub fn of<T>(response: &klarna_runtime::Response<T>) -> Self {
        let mut output = Output::new(response.status(), response.idempotency_key());
        output.correlation_id = response
            .headers()
            .get(CORRELATION_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if !response.raw_body().is_empty() {
            output.raw = Some(response.raw_body().clone());
        }
        output
    }

    /// The answer the gateway remembers for a key whose call ended:
    /// nothing is sent again.
    pub fn replayed(status: u16, body: Value, headers: Vec<Header>, key: &str) -> Self {
        Output {
            status,
            body,
            raw: None,
            headers,
            idempotency_key: Some(key.to_owned()),
            correlation_id: None,
            replayed: true,
            note: None,
        }
    }

    /// Whether it came from the gateway's memory of the key.
    pub fn is_replay(&self) -> bool {
        self.replayed
    }

    /// Replaces the values of `secrets` in the body with `[redacted]`,
    /// saying so in the result.
    pub fn redact(&mut self, secrets: &[&str]) {
        let redacted = crate::ledger::redact(&self.body, secrets);
        if redacted != self.body {
            self.body = redacted;
            // What is passed on is the redacted body, never Klarna's bytes.
            self.raw = None;
            self.note = Some(format!(
                "{} redacted: the gateway never puts a secret in a tool result; use the SDK or \
                 the REST adapter for it",
                secrets
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }

    /// The success body: Klarna's as received, which the client decoded
    /// into `body` (so it fits the spec); the typed value only stands in
    /// when no raw body was kept (a fake of the client, say).
    pub fn body<T: Serialize>(&mut self, body: &T) -> Result<(), Failure> {
        if let Some(raw) = &self.raw {
            if let Ok(value) = serde_json::from_slice(raw) {
                self.body = value;
                return Ok(());
            }
            // The client decoded it, so it is JSON; should it not parse
            // here, the typed value is what the caller gets.
            self.raw = None;
        }
        self.body = serde_json::to_value(body)
            .map_err(|e| Failure::internal(format!("the response did not serialise: {e}")))?;
        Ok(())
    }

    /// Klarna's body exactly as received, when the answer is Klarna's
    /// body unchanged (not a replay, nothing redacted).
    pub fn raw_body(&self) -> Option<&Bytes> {
        self.raw.as_ref().filter(|_| !self.body.is_null())
    }

    /// `Klarna-Correlation-Id` of Klarna's answer, for the caller to quote
    /// to Klarna's support.
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    /// A documented header; an absent one is left out.
    pub fn header(&mut self, field: &'static str, value: Option<String>) {
        if let Some(value) = value {
            self.headers.push(Header { field, value });
        }
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    /// The decoded body; `null` for an operation without one.
    pub fn body_json(&self) -> &Value {
        &self.body
    }

    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    pub fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }

    /// The structured content of the tool result; the body moves into it.
    pub fn into_json(self) -> Value {
        let mut object = Map::new();
        object.insert("status".into(), json!(self.status));
        object.insert("body".into(), self.body);
        let headers = self
            .headers
            .into_iter()
            .map(|h| (h.field.to_owned(), Value::String(h.value)))
            .collect();
        object.insert("headers".into(), Value::Object(headers));
        if let Some(key) = self.idempotency_key {
            object.insert("idempotency_key".into(), Value::String(key));
        }
        if let Some(id) = self.correlation_id {
            object.insert("correlation_id".into(), Value::String(id));
        }
        if self.replayed {
            object.insert("replayed".into(), json!(true));
        }
        if let Some(note) = self.note {
            object.insert("note".into(), Value::String(note));
        }
        Value::Object(object)
    }
}

/// What a human is asked before a money call, and what the answer binds
/// to: this tool, these arguments, this key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// "Capture 60.00 EUR of 200.00 EUR still authorized on order X?"
    pub message: String,
    /// The tool, the fingerprint of the arguments and the key: an answer
    /// counts only for the call it was asked about.
    pub binding: String,
}

/// Why a call did not succeed. Nothing here carries a credential: the
/// client's errors hold none, and arguments are described, not echoed.
#[derive(Debug)]
pub enum Failure {
    /// The arguments do not fit the tool; nothing was sent.
    InvalidArguments(String),
    /// No tool of that name in the table.
    UnknownTool(String),
    /// The call to Klarna failed. Boxed: the argument checks return this
    /// type too, and should not pay for its size.
    Upstream(Box<UpstreamError>),
    /// A bug of the gateway, such as a response that does not serialise.
    Internal(String),
    /// The gateway's own rules refused the call before anything was sent:
    /// a missing or reused key, a limit, a declined confirmation.
    Refused(Box<Refusal>),
    /// A human must confirm the call first (MCP's `input_required`): the
    /// adapter asks and the client repeats the call with the answer.
    /// Nothing was sent.
    ConfirmationRequired(Box<Question>),
    /// The call was sent, and how it ended could not be recorded (the
    /// journal's disk failed): it may have happened; repeat with the same
    /// key once the journal works again. A 503 `JOURNAL_UNAVAILABLE`.
    Unrecorded {
        message: String,
        idempotency_key: String,
    },
}

/// A refusal of the gateway's own, before anything was sent.
#[derive(Debug)]
pub struct Refusal {
    /// The REST status (400, 403, 409).
    pub status: u16,
    /// `IDEMPOTENCY_KEY_REQUIRED`, `IDEMPOTENCY_KEY_REUSED`, `IN_PROGRESS`,
    /// `LIMIT_EXCEEDED`, `READ_ONLY`, `DECLINED`, `CONFIRMATION_UNAVAILABLE`.
    pub code: &'static str,
    pub message: String,
    /// More fields for the answer (`differences`, `idempotency_key`).
    pub details: Map<String, Value>,
}

/// A failed call to Klarna, told apart as the client tells it apart.
#[derive(Debug)]
pub struct UpstreamError {
    /// `api` (a documented error status), `unexpected_status`, `decode`,
    /// `incomplete_response` (a status, then the body broke off),
    /// `timeout` or `no_response` (sent, and no status came back), or
    /// `not_sent`.
    pub kind: &'static str,
    pub status: Option<u16>,
    pub error_code: Option<String>,
    pub error_messages: Vec<String>,
    pub correlation_id: Option<String>,
    /// Klarna's error body as it sent it, when it was JSON: the REST
    /// adapter passes it on, a tool result carries it parsed. Only a body
    /// the client's excerpt (1 KiB) holds whole parses, so a cut-off one
    /// is never taken for Klarna's.
    pub body: Option<String>,
    /// No answer came in time (an attempt's timeout or the call's): sent,
    /// then no status, or a status and then not the whole body.
    pub timed_out: bool,
    /// What Klarna's `Retry-After` asked for, in seconds.
    pub retry_after: Option<u64>,
    /// Whether Klarna may have acted on the request: repeat it only with
    /// the same idempotency key.
    pub may_have_reached_klarna: bool,
    pub idempotency_key: Option<String>,
    pub message: String,
}

impl UpstreamError {
    /// Klarna answered a 4xx: it refused, nothing happened. A 5xx, a lost
    /// or undecodable answer may hide an action; an unsent call did none.
    pub fn outcome(&self) -> Outcome {
        match self.kind {
            "not_sent" => Outcome::NotSent,
            "api" | "unexpected_status" | "decode"
                if self.status.is_some_and(|s| (400..500).contains(&s)) =>
            {
                Outcome::Refused
            }
            _ if !self.may_have_reached_klarna => Outcome::NotSent,
            _ => Outcome::Unknown,
        }
    }
}

impl Failure {
    pub fn invalid(message: impl Into<String>) -> Self {
        Failure::InvalidArguments(message.into())
    }

    pub fn unknown_tool(name: &str) -> Self {
        Failure::UnknownTool(name.to_owned())
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Failure::Internal(message.into())
    }

    /// A refusal of the gateway's own rules; nothing was sent.
    pub fn refused(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Failure::Refused(Box::new(Refusal {
            status,
            code,
            message: message.into(),
            details: Map::new(),
        }))
    }

    /// [`Failure::refused`] with more fields in the answer.
    pub fn refused_with(
        status: u16,
        code: &'static str,
        message: impl Into<String>,
        details: Map<String, Value>,
    ) -> Self {
        Failure::Refused(Box::new(Refusal {
            status,
            code,
            message: message.into(),
            details,
        }))
    }

    /// How the call ended, as an agent must read it: `not_sent` (nothing
    /// reached Klarna), `refused` (Klarna answered with an error; nothing
    /// happened) or `unknown` (it may have happened: repeat with the same
    /// key).
    pub fn outcome(&self) -> Outcome {
        match self {
            Failure::InvalidArguments(_)
            | Failure::UnknownTool(_)
            | Failure::Refused(_)
            | Failure::ConfirmationRequired(_) => Outcome::NotSent,
            // After the call: the answer did not serialise, say.
            Failure::Internal(_) | Failure::Unrecorded { .. } => Outcome::Unknown,
            Failure::Upstream(e) => e.outcome(),
        }
    }

    /// The client's error, with Klarna's error fields when it answered.
    pub fn upstream<E>(error: klarna_runtime::Error<E>) -> Self {
        let kind = match error.kind() {
            // The last attempt was not sent, an earlier one was and its
            // answer was lost: what counts is that one.
            ErrorKind::NotSent(_) if error.may_have_reached_klarna() => "no_response",
            ErrorKind::NotSent(_) => "not_sent",
            ErrorKind::NoResponse(e) if e.is_timeout() => "timeout",
            ErrorKind::NoResponse(_) => "no_response",
            ErrorKind::IncompleteResponse { .. } => "incomplete_response",
            ErrorKind::Api(_) => "api",
            ErrorKind::UnexpectedStatus(_) => "unexpected_status",
            ErrorKind::Decode { .. } => "decode",
            _ => "other",
        };
        let body = error
            .details()
            .map(|d| &d.body_excerpt)
            .filter(|text| serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok())
            .cloned();
        Failure::Upstream(Box::new(UpstreamError {
            kind,
            status: error.status(),
            error_code: error.error_code().map(str::to_owned),
            error_messages: error.error_messages().to_vec(),
            correlation_id: error.correlation_id().map(str::to_owned),
            body,
            timed_out: matches!(
                error.kind(),
                ErrorKind::NoResponse(e) | ErrorKind::IncompleteResponse { error: e, .. }
                    if e.is_timeout()
            ),
            retry_after: error.retry_after().map(|wait| wait.as_secs()),
            // A refusal is Klarna's answer that nothing happened.
            may_have_reached_klarna: error.may_have_reached_klarna()
                && !(matches!(kind, "api" | "unexpected_status" | "decode")
                    && error.status().is_some_and(|s| (400..500).contains(&s))),
            idempotency_key: error.idempotency_key().map(|k| k.as_str().to_owned()),
            message: error.to_string(),
        }))
    }

    /// Klarna's error shape (`error_code`, `error_messages`,
    /// `correlation_id`), with what the gateway knows besides.
    pub fn to_json(&self) -> Value {
        let mut object = self.to_json_without_outcome();
        object["outcome"] = json!(self.outcome().as_str());
        object
    }

    fn to_json_without_outcome(&self) -> Value {
        match self {
            Failure::InvalidArguments(message) => json!({
                "error_code": "INVALID_ARGUMENTS",
                "error_messages": [message],
                "correlation_id": null,
                "may_have_reached_klarna": false,
            }),
            Failure::UnknownTool(name) => json!({
                "error_code": "UNKNOWN_TOOL",
                "error_messages": [format!("no tool `{name}`")],
                "correlation_id": null,
                "may_have_reached_klarna": false,
            }),
            Failure::Internal(message) => json!({
                "error_code": "GATEWAY_ERROR",
                "error_messages": [message],
                "correlation_id": null,
                "may_have_reached_klarna": true,
            }),
            Failure::Refused(refusal) => {
                let mut object = json!({
                    "error_code": refusal.code,
                    "error_messages": [refusal.message],
                    "correlation_id": null,
                    "may_have_reached_klarna": false,
                });
                for (name, value) in &refusal.details {
                    object[name] = value.clone();
                }
                object
            }
            Failure::ConfirmationRequired(question) => json!({
                "error_code": "CONFIRMATION_REQUIRED",
                "error_messages": [question.message],
                "correlation_id": null,
                "may_have_reached_klarna": false,
            }),
            Failure::Unrecorded {
                message,
                idempotency_key,
            } => json!({
                "error_code": "JOURNAL_UNAVAILABLE",
                "error_messages": [message],
                "correlation_id": null,
                "may_have_reached_klarna": true,
                "idempotency_key": idempotency_key,
            }),
            Failure::Upstream(e) => {
                let messages = if e.error_messages.is_empty() {
                    vec![e.message.clone()]
                } else {
                    e.error_messages.clone()
                };
                let mut object = json!({
                    "error_code": e.error_code.clone().unwrap_or_else(|| match e.kind {
                        "not_sent" => "NOT_SENT".to_owned(),
                        "no_response" => "NO_RESPONSE".to_owned(),
                        "timeout" => "TIMEOUT".to_owned(),
                        "incomplete_response" => "INCOMPLETE_RESPONSE".to_owned(),
                        "decode" => "UNDECODABLE_RESPONSE".to_owned(),
                        _ => "UPSTREAM_ERROR".to_owned(),
                    }),
                    "error_messages": messages,
                    "correlation_id": e.correlation_id,
                    "kind": e.kind,
                    "status": e.status,
                    "may_have_reached_klarna": e.may_have_reached_klarna,
                });
                if let Some(key) = &e.idempotency_key {
                    object["idempotency_key"] = json!(key);
                }
                if let Some(body) = e.body.as_deref().and_then(|b| serde_json::from_str(b).ok()) {
                    object["body"] = body;
                }
                object
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A secret field reads `[redacted]`, and the result says why.
    #[test]
    fn redacted_secrets_come_with_a_note() {
        let mut output = Output::new(201, None);
        output
            .body(&json!({"signing_key_id": "k1", "signing_key": "s3cr3t"}))
            .unwrap();
        output.redact(&["signing_key"]);
        let result = output.into_json();
        assert_eq!(result["body"]["signing_key"], crate::ledger::REDACTED);
        assert_eq!(result["body"]["signing_key_id"], "k1");
        assert!(!result.to_string().contains("s3cr3t"));
        assert!(result["note"].as_str().unwrap().contains("`signing_key`"));
        // Nothing to redact: no note.
        let mut plain = Output::new(200, None);
        plain.body(&json!({"id": 1})).unwrap();
        plain.redact(&["signing_key"]);
        assert!(plain.into_json().get("note").is_none());
    }

    /// Klarna's 4xx is a refusal; a 5xx or a lost answer may hide an action.
    #[test]
    fn outcomes_follow_the_status() {
        let error = |kind: &'static str, status: Option<u16>, reached: bool| UpstreamError {
            kind,
            status,
            error_code: None,
            error_messages: Vec::new(),
            correlation_id: None,
            body: None,
            timed_out: false,
            retry_after: None,
            may_have_reached_klarna: reached,
            idempotency_key: None,
            message: String::new(),
        };
        assert_eq!(error("api", Some(403), false).outcome(), Outcome::Refused);
        assert_eq!(
            error("decode", Some(404), false).outcome(),
            Outcome::Refused
        );
        assert_eq!(error("api", Some(503), true).outcome(), Outcome::Unknown);
        assert_eq!(error("no_response", None, true).outcome(), Outcome::Unknown);
        assert_eq!(error("not_sent", None, false).outcome(), Outcome::NotSent);
    }

    /// Text from a URL or header becomes the argument's JSON type; text
    /// that does not fit stays a string, for the typed check to name.
    #[test]
    fn parameter_text_becomes_its_kind() {
        assert_eq!(Kind::String.value_of("10"), json!("10"));
        assert_eq!(Kind::Integer.value_of("10"), json!(10));
        assert_eq!(Kind::Integer.value_of("1.5"), json!("1.5"));
        assert_eq!(Kind::Number.value_of("1.5"), json!(1.5));
        assert_eq!(Kind::Boolean.value_of("true"), json!(true));
        assert_eq!(Kind::Boolean.value_of("yes"), json!("yes"));
        assert_eq!(Kind::Json.value_of("[1,2]"), json!([1, 2]));
        assert_eq!(Kind::Json.value_of("a,b"), json!("a,b"));
    }
}
