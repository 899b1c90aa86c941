//! The MCP adapter: the generated table as tools of an rmcp server, each
//! call taken through the [`CallPath`].
//!
//! The tool list is known only at run time (the surface is chosen by flag),
//! so the handler implements `list_tools` and `call_tool` itself instead of
//! rmcp's macro router.
//!
//! A money call is confirmed by the user through MCP elicitation: on
//! protocol 2026-07-28 and later by answering `input_required` (the client
//! asks the user and repeats the call with the answer and the gateway's
//! `requestState`), before it by an `elicitation/create` request in the
//! middle of the call.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ElicitRequest, ElicitRequestParams,
    ElicitResult, ElicitationAction, ElicitationSchema, Implementation, InputRequest,
    InputRequests, InputRequiredResult, JsonObject, ListToolsResult, PaginatedRequestParams,
    ProtocolVersion, ServerCapabilities, ServerConfig, ToolAnnotations,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;

use crate::call::{Adapter, Answer, Asker, BoxFuture, CallPath, Policy, Question};
use crate::journal::Journal;
use crate::oauth;
use crate::table::{Failure, Tool};
use crate::tools::Upstream;

/// The key of the confirmation among `input_requests`.
const CONFIRM_REQUEST: &str = "confirm";
/// How many confirmations may wait for their answer at once; past it the
/// oldest question is forgotten (its answer then asks again).
const MAX_PENDING: usize = 1024;
/// How long the user has to answer an `elicitation/create`.
const ELICITATION_TIMEOUT: Duration = Duration::from_secs(300);

const INSTRUCTIONS: &str = "Klarna merchant operations through the Klarna Rust SDK. Amounts are \
    integers in minor units (6000 is 60.00). Tools that move money or create something require \
    `idempotency_key`: make one new UUID per intended action and send the same key on every \
    retry of that action, also after a timeout or a lost answer; the gateway and Klarna then act \
    once, and a repeat after the answer returns the same result. Money calls are confirmed by \
    the user. Every error has `outcome`: `refused` (Klarna refused; nothing happened), \
    `unknown` (it may have happened: repeat with the same key and arguments, never a new key), \
    `not_sent` (nothing reached Klarna). Unknown fields are refused with the nearest known name.";

/// An MCP server for a set of tools of the table. Cheap to clone: every
/// session of the HTTP transport gets a clone.
#[derive(Clone)]
pub struct McpGateway {
    inner: Arc<Inner>,
    instructions: Arc<str>,
}

struct Inner {
    path: Arc<CallPath>,
    listed: Vec<rmcp::model::Tool>,
    /// The names of the listed tools the stateless fast path may answer.
    stateless: HashSet<String>,
    /// Confirmations asked through `input_required`, by `requestState`:
    /// what each binds to.
    pending: Mutex<Pending>,
    next_state: Mutex<u64>,
    /// Makes `requestState` values unguessable across gateways.
    salt: u64,
}

#[derive(Default)]
struct Pending {
    bindings: HashMap<String, String>,
    order: VecDeque<String>,
}

impl McpGateway {
    /// The tools with the default rules ([`Policy::default`]: keys
    /// required, money calls confirmed). Fails only if a generated schema
    /// is not a JSON object, which the generator's tests rule out.
    pub fn new(upstream: Upstream, tools: Vec<&'static Tool>) -> Result<Self, String> {
        McpGateway::with_policy(upstream, tools, Policy::default())
    }

    /// The tools under `policy`, with an in-process memory of keys.
    pub fn with_policy(
        upstream: Upstream,
        tools: Vec<&'static Tool>,
        policy: Policy,
    ) -> Result<Self, String> {
        McpGateway::from_path(Arc::new(CallPath::new(upstream, tools, policy)))
    }

    /// An MCP adapter on a call path shared with the REST adapter. A tool
    /// that exists to show a secret once is not offered.
    pub fn from_path(path: Arc<CallPath>) -> Result<Self, String> {
        let allow_keyless = path.policy().allow_keyless;
        let listed = path
            .tools()
            .iter()
            .filter(|tool| !tool.shows_secret)
            .map(|tool| describe(tool, allow_keyless))
            .collect::<Result<Vec<_>, _>>()?;
        let salt = std::hash::BuildHasher::hash_one(
            &std::collections::hash_map::RandomState::new(),
            std::time::SystemTime::now(),
        );
        Ok(McpGateway {
            inner: Arc::new(Inner {
                path,
                stateless: stateless_tools(&listed),
                listed,
                pending: Mutex::new(Pending::default()),
                next_state: Mutex::new(0),
                salt,
            }),
            instructions: Arc::from(INSTRUCTIONS),
        })
    }

    /// Adds `note` to the server's instructions (the sandbox's order id).
    pub fn with_note(mut self, note: &str) -> Self {
        self.instructions = Arc::from(format!("{INSTRUCTIONS}\n\n{note}"));
        self
    }

    /// The same gateway with `journal` as its memory of keys, its calls
    /// recorded as made by `caller`.
    pub fn with_journal(self, journal: Journal, caller: impl Into<String>) -> Self {
        let path = (*self.inner.path)
            .clone()
            .remembering(Arc::new(journal), caller);
        McpGateway {
            inner: Arc::new(Inner {
                path: Arc::new(path),
                listed: self.inner.listed.clone(),
                stateless: self.inner.stateless.clone(),
                pending: Mutex::new(Pending::default()),
                next_state: Mutex::new(0),
                salt: self.inner.salt,
            }),
            instructions: self.instructions,
        }
    }

    /// Whether `name` is a tool this gateway lists whose input schema asks
    /// for no `Mcp-Param-*` headers (`x-mcp-header`), which rmcp checks
    /// against the body and the stateless fast path does not.
    pub(crate) fn serves_statelessly(&self, name: &str) -> bool {
        self.inner.stateless.contains(name)
    }

    /// The tools as `tools/list` answers them.
    pub fn listed(&self) -> &[rmcp::model::Tool] {
        &self.inner.listed
    }

    /// Runs one tool without a client to confirm with (a money call that
    /// needs confirmation is refused): the structured result, or the
    /// structured error.
    pub async fn call(&self, name: &str, arguments: Option<JsonObject>) -> CallToolResult {
        let result = self
            .inner
            .path
            .call(Adapter::Mcp, name, arguments.unwrap_or_default(), None)
            .await;
        match result {
            Ok(output) => CallToolResult::structured(output.into_json()),
            Err(failure) => CallToolResult::structured_error(failure.to_json()),
        }
    }

    fn remember(&self, binding: String) -> String {
        let n = {
            let mut next = self
                .inner
                .next_state
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next
        };
        let state = format!("confirm-{:016x}-{n}", self.inner.salt ^ n.rotate_left(17));
        let mut pending = self.inner.pending.lock().unwrap_or_else(|e| e.into_inner());
        while pending.order.len() >= MAX_PENDING {
            if let Some(old) = pending.order.pop_front() {
                pending.bindings.remove(&old);
            }
        }
        pending.order.push_back(state.clone());
        pending.bindings.insert(state.clone(), binding);
        state
    }

    /// The binding a `requestState` was issued for, once.
    fn take(&self, state: &str) -> Option<String> {
        let mut pending = self.inner.pending.lock().unwrap_or_else(|e| e.into_inner());
        let binding = pending.bindings.remove(state)?;
        pending.order.retain(|s| s != state);
        Some(binding)
    }
}

/// The tools the stateless fast path may answer: those whose input schema
/// asks for no `Mcp-Param-*` headers.
fn stateless_tools(listed: &[rmcp::model::Tool]) -> HashSet<String> {
    fn mentions(object: &JsonObject, key: &str) -> bool {
        object.contains_key(key) || object.values().any(|v| within(v, key))
    }
    fn within(value: &Value, key: &str) -> bool {
        match value {
            Value::Object(object) => mentions(object, key),
            Value::Array(items) => items.iter().any(|v| within(v, key)),
            _ => false,
        }
    }
    listed
        .iter()
        .filter(|tool| !mentions(&tool.input_schema, "x-mcp-header"))
        .map(|tool| tool.name.to_string())
        .collect()
}

fn schema(schema: &crate::table::Schema, tool: &str) -> Result<Arc<JsonObject>, String> {
    match schema.assemble() {
        Ok(Value::Object(object)) => Ok(Arc::new(object)),
        Ok(_) => Err(format!("the schema of `{tool}` is not a JSON object")),
        Err(e) => Err(format!("the schema of `{tool}`: {e}")),
    }
}

fn describe(tool: &Tool, allow_keyless: bool) -> Result<rmcp::model::Tool, String> {
    let annotations = ToolAnnotations::with_title(tool.title)
        .read_only(tool.read_only)
        .destructive(tool.destructive)
        .idempotent(tool.idempotent);
    let mut input = schema(&tool.input_schema, tool.name)?;
    if allow_keyless {
        // `--allow-keyless`: the key is optional again.
        if let Some(Value::Array(required)) = Arc::make_mut(&mut input).get_mut("required") {
            required.retain(|name| name != "idempotency_key");
        }
    }
    Ok(rmcp::model::Tool::new(tool.name, tool.description, input)
        .with_title(tool.title)
        .with_raw_output_schema(schema(&tool.output_schema, tool.name)?)
        .with_annotations(annotations))
}

/// The confirmation request: the question, and nothing to fill in but
/// accept or decline.
fn elicitation(question: &Question) -> ElicitRequestParams {
    ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: question.message.clone(),
        requested_schema: ElicitationSchema::new(BTreeMap::new()),
    }
}

/// What a call knows of the client that made it: enough to check its
/// access and to ask it for a confirmation.
pub(crate) struct Caller<'a> {
    /// The OAuth access of the HTTP request, if any.
    pub access: Option<&'a oauth::Access>,
    /// Whether the client declared MCP elicitation.
    pub can_elicit: bool,
    /// A 2026-07-28 client: a confirmation goes back as `input_required`,
    /// not as an `elicitation/create` request in the middle of the call.
    pub stateless: bool,
    /// The session's peer, for `elicitation/create` (before 2026-07-28).
    pub peer: Option<&'a Peer<RoleServer>>,
}

impl<'a> Caller<'a> {
    fn of(context: &'a RequestContext<RoleServer>) -> Self {
        Caller {
            access: access(context),
            can_elicit: context
                .client_capabilities()
                .is_some_and(|c| c.elicitation.is_some()),
            stateless: context
                .protocol_version()
                .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28),
            peer: Some(&context.peer),
        }
    }
}

/// How this call's client confirms: with the answer it brought back, by
/// `input_required`, or by an elicitation request.
struct McpAsker<'a> {
    gateway: &'a McpGateway,
    caller: &'a Caller<'a>,
    request_state: Option<String>,
    answer: Option<Value>,
    /// The `requestState` issued when the question goes back to the client.
    issued: Mutex<Option<String>>,
}

impl Asker for McpAsker<'_> {
    fn ask<'a>(&'a self, question: &'a Question) -> BoxFuture<'a, Answer> {
        Box::pin(async move {
            // The answer to a question asked by `input_required` counts
            // only for the call it was asked about, and only once.
            if let (Some(state), Some(answer)) = (&self.request_state, &self.answer) {
                if self.gateway.take(state).as_deref() == Some(question.binding.as_str()) {
                    return match serde_json::from_value::<ElicitResult>(answer.clone()) {
                        Ok(result) if result.action == ElicitationAction::Accept => {
                            Answer::Accepted
                        }
                        _ => Answer::Declined,
                    };
                }
            }
            if !self.caller.can_elicit {
                return Answer::Unavailable(
                    "this client did not declare MCP elicitation".to_owned(),
                );
            }
            if self.caller.stateless {
                let state = self.gateway.remember(question.binding.clone());
                *self.issued.lock().unwrap_or_else(|e| e.into_inner()) = Some(state);
                return Answer::Pending;
            }
            let Some(peer) = self.caller.peer else {
                return Answer::Unavailable("this client has no session to ask in".to_owned());
            };
            match peer
                .create_elicitation_with_timeout(elicitation(question), Some(ELICITATION_TIMEOUT))
                .await
            {
                Ok(result) if result.action == ElicitationAction::Accept => Answer::Accepted,
                Ok(_) => Answer::Declined,
                Err(e) => Answer::Unavailable(format!("the confirmation request failed ({e})")),
            }
        })
    }
}

/// The OAuth access of the HTTP request this MCP request came in, if any.
fn access(context: &RequestContext<RoleServer>) -> Option<&oauth::Access> {
    context
        .extensions
        .get::<axum::http::request::Parts>()?
        .extensions
        .get::<oauth::Access>()
}

impl ServerHandler for McpGateway {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "klarna-gateway",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(self.instructions.to_string())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        // An OAuth caller sees the tools its scopes cover, and no others.
        let listed = match access(&context) {
            Some(access) => self
                .inner
                .listed
                .iter()
                .filter(|listed| {
                    self.inner
                        .path
                        .tools()
                        .iter()
                        .find(|t| t.name == listed.name)
                        .is_some_and(|tool| access.allows(tool))
                })
                .cloned()
                .collect(),
            None => self.inner.listed.clone(),
        };
        Ok(ListToolsResult::with_all_items(listed))
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.inner.listed.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.call_tool_for(request, &Caller::of(&context)).await
    }
}

impl McpGateway {
    /// `tools/call`, for rmcp's handler and for the stateless fast path
    /// (`crate::stateless`) alike.
    pub(crate) async fn call_tool_for(
        &self,
        request: CallToolRequestParams,
        caller: &Caller<'_>,
    ) -> Result<CallToolResponse, ErrorData> {
        // A tool outside the chosen surface does not exist for the client,
        // even when the table has it: a protocol error, as MCP says.
        if !self.inner.listed.iter().any(|t| t.name == request.name) {
            return Err(ErrorData::invalid_params(
                format!("no tool `{}`", request.name),
                None,
            ));
        }
        // The HTTP layer answers this with 403 already (`oauth::mcp_checks`);
        // this holds for any transport that carries an `Access`.
        if let Some(access) = caller.access {
            let tool = self
                .inner
                .path
                .tools()
                .iter()
                .find(|t| t.name == request.name);
            if let Some(scope) = tool.and_then(|tool| access.missing_scope(tool)) {
                return Err(ErrorData::new(
                    rmcp::model::ErrorCode(oauth::INSUFFICIENT_SCOPE_CODE),
                    oauth::missing_scope_message(&request.name, &scope),
                    Some(serde_json::json!({ "required_scope": scope })),
                ));
            }
        }
        let asker = McpAsker {
            gateway: self,
            caller,
            request_state: request.request_state.clone(),
            answer: request
                .input_responses
                .as_ref()
                .and_then(|r| r.get(CONFIRM_REQUEST).cloned()),
            issued: Mutex::new(None),
        };
        let recorded_as = caller.access.map(oauth::Access::caller);
        let result = self
            .inner
            .path
            .call_as(
                Adapter::Mcp,
                recorded_as.as_deref(),
                &request.name,
                request.arguments.unwrap_or_default(),
                Some(&asker),
            )
            .await;
        Ok(match result {
            Ok(output) => CallToolResult::structured(output.into_json()).into(),
            Err(Failure::ConfirmationRequired(question)) => {
                let state = asker
                    .issued
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                let mut requests = InputRequests::new();
                requests.insert(
                    CONFIRM_REQUEST.to_owned(),
                    InputRequest::Elicitation(ElicitRequest::new(elicitation(&question))),
                );
                InputRequiredResult::new(Some(requests), state).into()
            }
            Err(failure) => CallToolResult::structured_error(failure.to_json()).into(),
        })
    }
}
