//! `tools/call` of MCP 2026-07-28 clients, answered without rmcp's
//! per-request machinery.
//!
//! A 2026-07-28 request carries everything about its client in `_meta`,
//! needs no session, and (with JSON responses on) gets one JSON body. For
//! such a request rmcp's streamable HTTP service still builds a service, a
//! one-shot transport, a task and a cancellation token, and decodes and
//! re-encodes the message several times; the gateway's benches measured
//! that at more than its REST adapter's whole overhead (BENCHMARKS.md,
//! `added_latency`).
//!
//! This layer answers the common case itself, with rmcp's own types and
//! the same handler ([`McpGateway::call_tool_for`]): a well-formed
//! `tools/call` of a served tool, with the headers and `_meta` the
//! 2026-07-28 revision requires and rmcp would accept. Anything else (a
//! session, another method, an older protocol, an unknown tool, a header
//! rmcp would refuse, `Mcp-Param-*` headers, a body it cannot read) goes to
//! rmcp unchanged, so every refusal keeps rmcp's wording and status.
//! `tests/mcp.rs` checks that both answer the same requests alike.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolRequestParams, ProtocolVersion, RequestId, ServerJsonRpcMessage, ServerResult,
};
use serde::Deserialize;

use crate::mcp::{Caller, McpGateway};
use crate::oauth::Access;

/// The protocol revision this path serves.
const VERSION: &str = "2026-07-28";

/// A JSON-RPC request whose params are a tool call. Any other member (a
/// `result` or `error` beside `method`, say) makes it something rmcp
/// refuses, so it is left to rmcp.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolCall {
    jsonrpc: String,
    id: RequestId,
    method: String,
    params: CallToolRequestParams,
}

/// The layer's state: the gateway, and the path it serves MCP on.
#[derive(Clone)]
pub(crate) struct FastPath {
    pub gateway: McpGateway,
    pub path: &'static str,
}

/// The layer: answers a 2026-07-28 `tools/call` it can, passes the rest on.
pub(crate) async fn tools_call(
    State(FastPath { gateway, path }): State<FastPath>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path() != path || !headers_qualify(&request) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // The guard has read the body into memory already (`read_body`).
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let call = match serde_json::from_slice::<ToolCall>(&bytes) {
        Ok(call) if body_qualifies(&call, &parts.headers, &gateway) => call,
        _ => {
            return next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    };
    crate::observe::metrics().mcp_fast_path_call();
    let access = parts.extensions.get::<Access>();
    let meta = call.params.meta.as_ref();
    let caller = Caller {
        access,
        can_elicit: meta
            .and_then(|meta| meta.client_capabilities())
            .is_some_and(|capabilities| capabilities.elicitation.is_some()),
        stateless: true,
        peer: None,
    };
    let message = match gateway.call_tool_for(call.params, &caller).await {
        Ok(response) => {
            let mut result = ServerResult::from(response);
            // As rmcp's handler does for a 2026-07-28 peer.
            result.fill_missing_cache_hints();
            ServerJsonRpcMessage::response(result, call.id)
        }
        Err(error) => ServerJsonRpcMessage::error(error, Some(call.id)),
    };
    match serde_json::to_vec(&message) {
        Ok(body) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            Bytes::from(body),
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The request line and headers of a 2026-07-28 `tools/call` as rmcp
/// accepts it: a POST without a session, accepting JSON and SSE, sending
/// JSON, with one `MCP-Protocol-Version` of this revision, one
/// `Mcp-Method: tools/call`, one `Mcp-Name`, and no `Mcp-Param-*` headers
/// (which rmcp checks against the tool's schema).
fn headers_qualify(request: &Request) -> bool {
    let headers = request.headers();
    request.method() == Method::POST
        && !headers.contains_key("mcp-session-id")
        && accepts_json_and_sse(headers)
        && sole(headers, header::CONTENT_TYPE.as_str()).is_some_and(|value| {
            let essence = value.split(';').next().unwrap_or_default().trim();
            essence.eq_ignore_ascii_case("application/json")
        })
        && sole(headers, "mcp-protocol-version") == Some(VERSION)
        && sole(headers, "mcp-method") == Some("tools/call")
        && sole(headers, "mcp-name").is_some()
        && !headers
            .keys()
            .any(|name| name.as_str().starts_with("mcp-param-"))
}

/// The body agrees with the headers, names a served tool, and has the
/// `_meta` a 2026-07-28 request must carry.
fn body_qualifies(call: &ToolCall, headers: &HeaderMap, gateway: &McpGateway) -> bool {
    let version = ProtocolVersion::V_2026_07_28;
    call.jsonrpc == "2.0"
        && call.method == "tools/call"
        // A name rmcp would decode from Base64 is left to rmcp.
        && sole(headers, "mcp-name") == Some(call.params.name.as_ref())
        && gateway.serves_statelessly(&call.params.name)
        && call.params.meta.as_ref().is_some_and(|meta| {
            meta.missing_required_keys(&version).is_empty()
                && meta.protocol_version().as_ref() == Some(&version)
        })
}

/// The one value of header `name`, if it has exactly one and it is text.
fn sole<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    value.to_str().ok()
}

/// `Accept` names both `application/json` and `text/event-stream`, with no
/// weights or quotes (those are left to rmcp's reading of the list).
fn accepts_json_and_sse(headers: &HeaderMap) -> bool {
    let mut json = false;
    let mut sse = false;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else {
            return false;
        };
        for range in value.split(',') {
            if range.contains([';', '"']) {
                return false;
            }
            let range = range.trim();
            json |= range.eq_ignore_ascii_case("application/json");
            sse |= range.eq_ignore_ascii_case("text/event-stream");
        }
    }
    json && sse
}
