//! The MCP adapter: the generated table as tools of an rmcp server.
//!
//! The tool list is known only at run time (the surface is chosen by flag),
//! so the handler implements `list_tools` and `call_tool` itself instead of
//! rmcp's macro router.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, JsonObject,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;

use crate::journal::{self, Journal};
use crate::table::{Arguments, Tool};
use crate::tools::{self, Upstream};

/// An MCP server for a set of tools of the table. Cheap to clone: every
/// session of the HTTP transport gets a clone.
#[derive(Clone)]
pub struct McpGateway {
    inner: Arc<Inner>,
}

struct Inner {
    upstream: Upstream,
    tools: Vec<&'static Tool>,
    listed: Vec<rmcp::model::Tool>,
    /// Where money calls are recorded, and who calls (see `journal::call`).
    journal: Option<Journal>,
    caller: String,
}

impl McpGateway {
    /// Fails only if a generated schema is not a JSON object, which the
    /// generator's tests rule out.
    pub fn new(upstream: Upstream, tools: Vec<&'static Tool>) -> Result<Self, String> {
        let listed = tools
            .iter()
            .map(|tool| describe(tool))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(McpGateway {
            inner: Arc::new(Inner {
                upstream,
                tools,
                listed,
                journal: None,
                caller: "loopback".to_owned(),
            }),
        })
    }

    /// The same gateway with its money calls recorded in `journal` as made
    /// by `caller`.
    pub fn with_journal(self, journal: Journal, caller: impl Into<String>) -> Self {
        McpGateway {
            inner: Arc::new(Inner {
                upstream: self.inner.upstream.clone(),
                tools: self.inner.tools.clone(),
                listed: self.inner.listed.clone(),
                journal: Some(journal),
                caller: caller.into(),
            }),
        }
    }

    /// The tools as `tools/list` answers them.
    pub fn listed(&self) -> &[rmcp::model::Tool] {
        &self.inner.listed
    }

    /// Runs one tool: the structured result, or the structured error.
    pub async fn call(&self, name: &str, arguments: Option<JsonObject>) -> CallToolResult {
        let inner = &self.inner;
        let arguments = arguments.unwrap_or_default();
        let result = match inner.tools.iter().find(|t| t.name == name) {
            Some(tool) => {
                journal::call(
                    inner.journal.as_ref(),
                    &inner.upstream,
                    tool,
                    arguments,
                    &inner.caller,
                )
                .await
            }
            None => tools::call(&inner.upstream, name, Arguments::new(arguments)).await,
        };
        match result {
            Ok(output) => CallToolResult::structured(output.to_json()),
            Err(failure) => CallToolResult::structured_error(failure.to_json()),
        }
    }
}

fn schema(text: &str, tool: &str) -> Result<Arc<JsonObject>, String> {
    match serde_json::from_str(text) {
        Ok(Value::Object(object)) => Ok(Arc::new(object)),
        _ => Err(format!("the schema of `{tool}` is not a JSON object")),
    }
}

fn describe(tool: &Tool) -> Result<rmcp::model::Tool, String> {
    let annotations = ToolAnnotations::with_title(tool.title)
        .read_only(tool.read_only)
        .destructive(tool.destructive)
        .idempotent(tool.idempotent);
    Ok(rmcp::model::Tool::new(
        tool.name,
        tool.description,
        schema(tool.input_schema, tool.name)?,
    )
    .with_title(tool.title)
    .with_raw_output_schema(schema(tool.output_schema, tool.name)?)
    .with_annotations(annotations))
}

impl ServerHandler for McpGateway {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "klarna-gateway",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "Klarna merchant operations through the Klarna Rust SDK. Amounts are integers in \
                 minor units. A tool that takes `idempotency_key` returns the key it used: call \
                 again with the same key after a lost answer and Klarna acts once.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.inner.listed.clone()))
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.inner.listed.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // A tool outside the chosen surface does not exist for the client,
        // even when the table has it: a protocol error, as MCP says.
        if !self.inner.tools.iter().any(|t| t.name == request.name) {
            return Err(ErrorData::invalid_params(
                format!("no tool `{}`", request.name),
                None,
            ));
        }
        Ok(self.call(&request.name, request.arguments).await.into())
    }
}
