//! The REST adapter: each tool of the table as a resource at its `/v1`
//! route (`POST /v1/ordermanagement/v1/orders/{order-id}/captures`),
//! served through the same generated client calls as the MCP tools.
//!
//! A request becomes the tool's arguments (path parameters by their
//! placeholder, query parameters and headers by their wire names,
//! `Klarna-Idempotency-Key`, the JSON body), so it is checked against the
//! typed models before anything is sent, exactly as a tool call is. The
//! answer is Klarna's status, body and documented headers; the gateway's
//! own errors are JSON in Klarna's error shape, with statuses of their own
//! (400, 401, 403, 404, 405, 408, 413, 415, 502, 504).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{Body as HttpBody, Bytes};
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{RawPathParams, Request};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{self, MethodFilter, MethodRouter};
use axum::Router;
use serde_json::{json, Map, Value};

use crate::call::{Adapter, CallPath, Policy};
use crate::http::{self, HttpOptions};
use crate::journal::Journal;
use crate::oauth;
use crate::openapi;
use crate::table::{Body, Failure, Location, Output, Tool, CORRELATION_ID};
use crate::tools::Upstream;

/// The REST adapter's address unless told otherwise (seed 001's port).
pub const DEFAULT_REST_ADDR: &str = "127.0.0.1:8080";
/// The prefix of every route.
pub const PREFIX: &str = "/v1";
/// Where the adapter's own OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/v1/openapi.json";
/// The header that carries the idempotency key, both ways.
pub const IDEMPOTENCY_KEY: &str = "Klarna-Idempotency-Key";

/// The REST adapter for a set of tools of the table. Cheap to clone.
#[derive(Clone)]
pub struct RestGateway {
    inner: Arc<Inner>,
}

struct Inner {
    path: Arc<CallPath>,
    /// The journal `GET /v1/calls/{idempotency-key}` reads, when there is
    /// one.
    journal: Option<Journal>,
}

impl RestGateway {
    /// The tools with the default rules ([`Policy::default`]; REST callers
    /// are not asked to confirm).
    pub fn new(upstream: Upstream, tools: Vec<&'static Tool>) -> Self {
        RestGateway::with_policy(upstream, tools, Policy::default())
    }

    /// The tools under `policy`, with an in-process memory of keys.
    pub fn with_policy(upstream: Upstream, tools: Vec<&'static Tool>, policy: Policy) -> Self {
        RestGateway::from_path(Arc::new(CallPath::new(upstream, tools, policy)))
    }

    /// A REST adapter on a call path shared with the MCP adapter.
    pub fn from_path(path: Arc<CallPath>) -> Self {
        RestGateway {
            inner: Arc::new(Inner {
                path,
                journal: None,
            }),
        }
    }

    /// The same gateway with `journal` as its memory of keys, its calls
    /// recorded as made by `caller`, and `GET /v1/calls/{idempotency-key}`
    /// served.
    pub fn with_journal(self, journal: Journal, caller: impl Into<String>) -> Self {
        let path = (*self.inner.path)
            .clone()
            .remembering(Arc::new(journal.clone()), caller);
        RestGateway {
            inner: Arc::new(Inner {
                path: Arc::new(path),
                journal: Some(journal),
            }),
        }
    }

    /// Serves `GET /v1/calls/{idempotency-key}` from `journal`, which must
    /// be the call path's memory of keys (a path shared with MCP, built
    /// with [`CallPath::remembering`]).
    pub fn with_lookup(self, journal: Journal) -> Self {
        RestGateway {
            inner: Arc::new(Inner {
                path: self.inner.path.clone(),
                journal: Some(journal),
            }),
        }
    }

    /// The tools served, each at its [`Tool::route`].
    pub fn tools(&self) -> &[&'static Tool] {
        self.inner.path.tools()
    }

    /// Runs one tool for a request.
    async fn handle(
        &self,
        tool: &'static Tool,
        path: Result<RawPathParams, RawPathParamsRejection>,
        request: Request,
    ) -> Response {
        let path = match path {
            Ok(path) => path,
            // Not UTF-8 once percent-decoded, say.
            Err(rejection) => return Refusal::bad_request(rejection.body_text()).into_response(),
        };
        // An OAuth caller's scopes must cover the route (403 naming the
        // scope otherwise); the static token and loopback cover all.
        let caller = match request.extensions().get::<oauth::Access>() {
            Some(access) => {
                if let Some(scope) = access.missing_scope(tool) {
                    let message = format!("this route needs the OAuth scope `{scope}`");
                    return http::insufficient_scope(access, &scope, message);
                }
                Some(access.caller())
            }
            None => None,
        };
        let (parts, body) = request.into_parts();
        let mut arguments = match self.arguments(tool, &path, &parts.uri, &parts.headers) {
            Ok(arguments) => arguments,
            Err(refusal) => return refusal.into_response(),
        };
        match self.body(tool, &parts.headers, body).await {
            Ok(Some(body)) => {
                arguments.insert("body".to_owned(), body);
            }
            Ok(None) => {}
            Err(refusal) => return refusal.into_response(),
        }
        let result = self
            .inner
            .path
            .call_as(Adapter::Rest, caller.as_deref(), tool.name, arguments, None)
            .await;
        let base_url = self.inner.path.upstream().base_url(tool.api);
        match result {
            Ok(output) => success(tool, &output, base_url),
            Err(failure) => failed(&failure),
        }
    }

    /// The tool's arguments from the path, the query and the headers.
    fn arguments(
        &self,
        tool: &Tool,
        path: &RawPathParams,
        uri: &axum::http::Uri,
        headers: &HeaderMap,
    ) -> Result<Map<String, Value>, Refusal> {
        let mut arguments = Map::new();
        for (name, value) in path {
            // The route has exactly the tool's path parameters.
            if let Some(param) = tool
                .params
                .iter()
                .find(|p| p.location == Location::Path && p.rest_name == name)
            {
                // The client refuses these too (they would name another
                // resource); here they are the caller's mistake, a 400.
                if matches!(value, "" | "." | "..") {
                    return Err(Refusal::bad_request(format!(
                        "the `{name}` path parameter cannot be `{value}`"
                    )));
                }
                arguments.insert(param.argument.to_owned(), param.kind.value_of(value));
            }
        }
        for (name, value) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
            let param = tool
                .params
                .iter()
                .find(|p| p.location == Location::Query && p.wire_name == name)
                .ok_or_else(|| {
                    Refusal::bad_request(format!(
                        "unknown query parameter `{name}`; this route takes {}",
                        list(tool, Location::Query)
                    ))
                })?;
            if arguments
                .insert(param.argument.to_owned(), param.kind.value_of(&value))
                .is_some()
            {
                return Err(Refusal::bad_request(format!(
                    "the query parameter `{name}` is given twice"
                )));
            }
        }
        let text = |name: &str| -> Result<Option<&str>, Refusal> {
            match headers.get(name) {
                None => Ok(None),
                Some(value) => value.to_str().map(Some).map_err(|_| {
                    Refusal::bad_request(format!("the `{name}` header is not printable ASCII"))
                }),
            }
        };
        for param in tool
            .params
            .iter()
            .filter(|p| p.location == Location::Header)
        {
            if let Some(value) = text(param.wire_name)? {
                arguments.insert(param.argument.to_owned(), param.kind.value_of(value));
            }
        }
        if tool.idempotency_key {
            if headers.get_all(IDEMPOTENCY_KEY).iter().count() > 1 {
                return Err(Refusal::bad_request(format!(
                    "`{IDEMPOTENCY_KEY}` is given more than once"
                )));
            }
            if let Some(key) = text(IDEMPOTENCY_KEY)? {
                if key.trim().is_empty() {
                    return Err(Refusal::bad_request(format!(
                        "`{IDEMPOTENCY_KEY}` is empty: send a key, or no header for a new one"
                    )));
                }
                arguments.insert("idempotency_key".to_owned(), json!(key));
            }
        }
        Ok(arguments)
    }

    /// The JSON body, read within the size and time limits: `None` for an
    /// empty body.
    /// The JSON body (`None` for an empty one), which [`http::guard`] has
    /// already read in whole within its time and size.
    async fn body(
        &self,
        tool: &Tool,
        headers: &HeaderMap,
        body: HttpBody,
    ) -> Result<Option<Value>, Refusal> {
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|_| Refusal::bad_request("the request body broke off"))?;
        if bytes.is_empty() {
            return match tool.body {
                Body::Required => Err(Refusal::bad_request("this route needs a JSON body")),
                Body::Optional | Body::None => Ok(None),
            };
        }
        if tool.body == Body::None {
            return Err(Refusal::bad_request("this route takes no body"));
        }
        if !is_json(headers) {
            return Err(Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "send the body as `Content-Type: application/json`",
            ));
        }
        parse_json(&bytes).map(Some)
    }
}

/// `application/json`, with or without parameters, or `+json` types.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence
            .rsplit_once('+')
            .is_some_and(|(kind, suffix)| kind.starts_with("application/") && suffix == "json")
}

/// The body as JSON: a syntax error names its line and column.
fn parse_json(bytes: &Bytes) -> Result<Value, Refusal> {
    serde_json::from_slice(bytes)
        .map_err(|e| Refusal::bad_request(format!("the body is not JSON: {e}")))
}

/// The parameters of one location a route takes, for an error message.
fn list(tool: &Tool, location: Location) -> String {
    let names: Vec<String> = tool
        .params
        .iter()
        .filter(|p| p.location == location)
        .map(|p| format!("`{}`", p.wire_name))
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Klarna's answer: its status, its body byte for byte as it came (the
/// client decoded it on the way, so it fits the spec), its documented
/// headers with `Location` pointing at this adapter, its
/// `Klarna-Correlation-Id`, and the idempotency key the call was sent
/// with. A body from the gateway's memory of keys is written out again.
fn success(tool: &Tool, output: &Output, base_url: Option<&str>) -> Response {
    let status = StatusCode::from_u16(output.status()).unwrap_or(StatusCode::OK);
    let mut response = match (output.raw_body(), output.body_json()) {
        (Some(raw), _) => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            raw.clone(),
        )
            .into_response(),
        (None, Value::Null) => status.into_response(),
        (None, body) => (status, axum::Json(body)).into_response(),
    };
    let headers = response.headers_mut();
    for h in output.headers() {
        // The generator writes a `ResponseHeader` for every header an
        // output carries.
        let Some(wire_name) = tool
            .response_headers
            .iter()
            .find(|r| r.field == h.field)
            .map(|r| r.wire_name)
        else {
            continue;
        };
        let value = if wire_name.eq_ignore_ascii_case("location") {
            gateway_location(&h.value, base_url)
        } else {
            h.value.clone()
        };
        insert(headers, wire_name, &value);
    }
    if let Some(key) = output.idempotency_key() {
        insert(headers, IDEMPOTENCY_KEY, key);
    }
    if let Some(id) = output.correlation_id() {
        insert(headers, CORRELATION_ID, id);
    }
    response
}

/// A header the client decoded; a value that cannot be a header (which
/// Klarna's could) is left out rather than failing the answer.
fn insert(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
        headers.insert(name, value);
    }
}

/// Klarna's `Location` (`https://api.klarna.com/ordermanagement/v1/...`)
/// as the adapter's own path (`/v1/ordermanagement/v1/...`). A location
/// elsewhere than the API's base URL is passed on unchanged.
pub fn gateway_location(location: &str, base_url: Option<&str>) -> String {
    let relative = base_url
        .and_then(|base| location.strip_prefix(base.trim_end_matches('/')))
        .filter(|rest| rest.starts_with('/'))
        .or_else(|| Some(location).filter(|l| l.starts_with('/') && !l.starts_with("//")));
    match relative {
        Some(path) => format!("{PREFIX}{path}"),
        None => location.to_owned(),
    }
}

/// Why a call failed, with the status that tells the cases apart:
/// Klarna's own error status (and its body, when the client has all of it)
/// when it answered one; 502 when Klarna could not be reached, refused the
/// gateway's credentials, or its answer was lost, cut off or undecodable;
/// 504 when no answer came in time. The idempotency key goes back in its
/// header, for the caller's retry.
fn failed(failure: &Failure) -> Response {
    let own = |status: StatusCode| (status, axum::Json(failure.to_json())).into_response();
    let e = match failure {
        Failure::Upstream(e) => e,
        Failure::InvalidArguments(_) => return own(StatusCode::BAD_REQUEST),
        Failure::UnknownTool(_) => return own(StatusCode::NOT_FOUND),
        Failure::Internal(_) => return own(StatusCode::INTERNAL_SERVER_ERROR),
        Failure::Refused(refusal) => {
            return own(StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST))
        }
        // REST has no human to ask: the call path never asks for it.
        Failure::ConfirmationRequired(_) => return own(StatusCode::FORBIDDEN),
        Failure::Unrecorded {
            idempotency_key, ..
        } => {
            let mut response = own(StatusCode::SERVICE_UNAVAILABLE);
            insert(response.headers_mut(), IDEMPOTENCY_KEY, idempotency_key);
            return response;
        }
    };
    let answered = e
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .filter(|s| s.is_client_error() || s.is_server_error())
        .filter(|_| matches!(e.kind, "api" | "unexpected_status" | "decode"));
    let mut response = match (answered, &e.body) {
        // 401 from here means the gateway's token: Klarna refusing the
        // merchant's credentials is the gateway's failure, not the caller's.
        (Some(StatusCode::UNAUTHORIZED), _) => {
            let mut body = failure.to_json();
            body["error_code"] = json!("UPSTREAM_UNAUTHORIZED");
            (StatusCode::BAD_GATEWAY, axum::Json(body)).into_response()
        }
        (Some(status), Some(body)) => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.clone(),
        )
            .into_response(),
        (Some(status), None) => own(status),
        (None, _) if e.timed_out => own(StatusCode::GATEWAY_TIMEOUT),
        (None, _) => own(StatusCode::BAD_GATEWAY),
    };
    let headers = response.headers_mut();
    if let Some(key) = &e.idempotency_key {
        insert(headers, IDEMPOTENCY_KEY, key);
    }
    if let Some(id) = &e.correlation_id {
        insert(headers, CORRELATION_ID, id);
    }
    if let (Some(_), Some(wait)) = (answered, e.retry_after) {
        insert(headers, header::RETRY_AFTER.as_str(), &wait.to_string());
    }
    response
}

/// An error of the gateway itself, before anything was sent.
struct Refusal {
    status: StatusCode,
    error_code: &'static str,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, error_code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            error_code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Refusal::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        http::error(self.status, self.error_code, self.message)
    }
}

/// The axum router of the adapter: a route per tool, JSON errors for an
/// unknown route or method, the Host, Origin and token checks in front.
pub fn rest_router(gateway: RestGateway, options: &HttpOptions) -> Router {
    // Tools that share a path (GET and POST `.../captures`) share a route.
    let mut routes: BTreeMap<&'static str, MethodRouter> = BTreeMap::new();
    for &tool in gateway.tools() {
        let Some(filter) = Method::from_bytes(tool.method.as_bytes())
            .ok()
            .and_then(|m| MethodFilter::try_from(m).ok())
        else {
            continue;
        };
        let gateway = gateway.clone();
        let handler = move |path: Result<RawPathParams, RawPathParamsRejection>,
                            request: Request| async move {
            gateway.handle(tool, path, request).await
        };
        let route = routes
            .remove(tool.route)
            .unwrap_or_else(|| MethodRouter::new().fallback(method_not_allowed));
        routes.insert(tool.route, route.on(filter, handler));
    }
    let mut router = Router::new();
    for (path, route) in routes {
        router = router.route(path, route);
    }
    // The document of the routes being served; its server is where the
    // caller reached it (the `Host` the check below lets through).
    let mut document = openapi::document(gateway.tools(), None);
    if let Some(journal) = gateway.inner.journal.clone() {
        openapi::add_journal(&mut document, gateway.tools());
        router = router.route(
            openapi::CALLS_ROUTE,
            routing::get(
                move |path: Result<RawPathParams, RawPathParamsRejection>,
                      access: Option<axum::Extension<oauth::Access>>| async move {
                    recorded_call(&journal, path, access.map(|a| a.0)).await
                },
            )
            .fallback(method_not_allowed),
        );
    }
    let document = Arc::new(document);
    router = router.route(
        OPENAPI_PATH,
        routing::get(move |headers: HeaderMap| async move {
            let mut document = (*document).clone();
            if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
                document["servers"] = json!([{ "url": format!("http://{host}") }]);
            }
            axum::Json(document)
        }),
    );
    http::guard(router.fallback(not_found), options)
}

/// `GET /v1/calls/{idempotency-key}`: the journal's record of the call sent
/// with that key, without sending anything.
/// An OAuth caller sees the record only with the scope the call itself
/// needs (a record holds the call's arguments and answer).
async fn recorded_call(
    journal: &Journal,
    path: Result<RawPathParams, RawPathParamsRejection>,
    access: Option<oauth::Access>,
) -> Response {
    let key = match &path {
        Ok(path) => path.iter().next().map(|(_, key)| key.to_owned()),
        Err(rejection) => return Refusal::bad_request(rejection.body_text()).into_response(),
    };
    let key = key.unwrap_or_default();
    match journal.lookup(&key).await {
        Ok(Some(mut entry)) => {
            if let Some(access) = &access {
                if let Some(scope) = access.missing_record_scope(&entry.operation) {
                    let message = format!("this record needs the OAuth scope `{scope}`");
                    return http::insufficient_scope(access, &scope, message);
                }
            }
            // The record says how a call ended; it does not hand out again
            // a secret the answer carried (a signing key).
            let tool = crate::TOOLS.iter().find(|t| t.name == entry.operation);
            if let (Some(tool), Some(body)) = (tool, &entry.body) {
                if !tool.secrets.is_empty() {
                    entry.body = Some(crate::ledger::redact(body, tool.secrets));
                }
            }
            axum::Json(entry).into_response()
        }
        Ok(None) => Refusal::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!(
                "the journal has no call with the idempotency key `{key}` (it was never \
                 sent through this gateway, or its record is past the retention)"
            ),
        )
        .into_response(),
        Err(e) => Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "JOURNAL_UNAVAILABLE",
            e.to_string(),
        )
        .into_response(),
    }
}

async fn not_found(request: Request) -> Response {
    Refusal::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        format!("no route `{} {}`", request.method(), request.uri().path()),
    )
    .into_response()
}

async fn method_not_allowed(request: Request) -> Response {
    Refusal::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!(
            "`{}` is not a method of `{}`",
            request.method(),
            request.uri().path()
        ),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_at_the_base_url_become_gateway_paths() {
        let base = Some("https://api.klarna.com");
        assert_eq!(
            gateway_location(
                "https://api.klarna.com/ordermanagement/v1/orders/o/captures/c",
                base
            ),
            "/v1/ordermanagement/v1/orders/o/captures/c"
        );
        assert_eq!(
            gateway_location("/ordermanagement/v1/orders/o", Some("http://127.0.0.1:1/")),
            "/v1/ordermanagement/v1/orders/o"
        );
        assert_eq!(
            gateway_location("https://evil.example/x", base),
            "https://evil.example/x"
        );
        assert_eq!(
            gateway_location("//evil.example/x", base),
            "//evil.example/x"
        );
    }

    #[test]
    fn json_media_types() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            is_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("application/json; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
