//! What every adapter checks before a request reaches it, in one place
//! ([`guard`]): the `Host` and a browser's `Origin` against DNS
//! rebinding, the bearer token when one is configured (which it must be
//! for any bind address other than loopback), and a body that arrives in
//! time and within its size. Also the MCP adapter's mount of rmcp's
//! streamable HTTP transport, behind the same checks (and rmcp's own).

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{json, Value};

use crate::mcp::McpGateway;
use crate::oauth::{self, Access, OAuth};

/// The MCP adapter's address unless told otherwise.
pub const DEFAULT_MCP_ADDR: &str = "127.0.0.1:9090";
/// The path the MCP endpoint is mounted at.
pub const MCP_PATH: &str = "/mcp";
/// The largest JSON-RPC message accepted: a capture with a few hundred
/// order lines fits many times over.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long a request body may take to arrive once its head has.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// The variable the bearer token is read from.
pub const TOKEN_VAR: &str = "KLARNA_GATEWAY_TOKEN";

/// A bearer token. Its value never appears in `Debug` output.
#[derive(Clone)]
pub struct Token(Arc<str>);

impl Token {
    /// `None` for an empty value: an empty token would let anyone in.
    pub fn new(value: &str) -> Option<Token> {
        (!value.trim().is_empty()).then(|| Token(value.into()))
    }

    /// Compares in time that does not depend on where the values differ.
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        let expected = self.0.as_bytes();
        let mut difference = expected.len() ^ presented.len();
        for (i, byte) in expected.iter().enumerate() {
            difference |= usize::from(byte ^ presented.get(i).copied().unwrap_or(0));
        }
        difference == 0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// How the HTTP adapter is exposed.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub bind: SocketAddr,
    pub token: Option<Token>,
    /// OAuth 2.1 access tokens accepted (besides the token, if any): see
    /// [`crate::oauth`].
    pub oauth: Option<OAuth>,
    /// `Host` values accepted besides the loopback names (for a bind on
    /// another interface: the names clients reach it by).
    pub allowed_hosts: Vec<String>,
    /// The largest request body (413 beyond).
    pub max_body_bytes: usize,
    /// How long a request body may take to arrive (408 beyond).
    pub body_timeout: Duration,
    /// Whether the MCP adapter answers a 2026-07-28 `tools/call` itself
    /// (its module `stateless`) rather than through rmcp's per-request
    /// machinery; on by default, off to compare the two.
    pub mcp_fast_path: bool,
}

impl HttpOptions {
    pub fn new(bind: SocketAddr, token: Option<Token>) -> Self {
        HttpOptions {
            bind,
            token,
            oauth: None,
            allowed_hosts: Vec::new(),
            max_body_bytes: MAX_BODY_BYTES,
            body_timeout: BODY_TIMEOUT,
            mcp_fast_path: true,
        }
    }

    /// The same options with OAuth access tokens accepted.
    pub fn with_oauth(mut self, oauth: OAuth) -> Self {
        self.oauth = Some(oauth);
        self
    }

    /// Refuses a bind address other than loopback without a token or
    /// OAuth.
    pub fn check(&self) -> Result<(), String> {
        if !self.bind.ip().is_loopback() && self.token.is_none() && self.oauth.is_none() {
            return Err(format!(
                "refusing to listen on {} without a token: set {TOKEN_VAR} or {}, or bind a loopback address",
                self.bind,
                crate::oauth::ISSUER_VAR,
            ));
        }
        Ok(())
    }
}

/// The names a request's `Host` (and a browser's `Origin`) may carry: the
/// loopback names, the address bound, and the hosts allowed by flag.
pub(crate) fn allowed_hosts(options: &HttpOptions) -> Vec<String> {
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    if !options.bind.ip().is_unspecified() && !options.bind.ip().is_loopback() {
        hosts.push(options.bind.ip().to_string());
    }
    hosts.extend(options.allowed_hosts.iter().cloned());
    hosts
}

/// The axum router serving `gateway` at [`MCP_PATH`], behind [`guard`].
pub fn mcp_router(gateway: McpGateway, options: &HttpOptions) -> Router {
    let hosts = allowed_hosts(options);
    // rmcp checks `Host` and `Origin` too; the gateway's own check in
    // `guard` answers first, in the gateway's error shape.
    let origins: Vec<String> = hosts
        .iter()
        .flat_map(|host| {
            let host = if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]")
            } else {
                host.clone()
            };
            [format!("http://{host}:*"), format!("https://{host}:*")]
        })
        .collect();
    // A tool call of a 2026-07-28 client (stateless) whose whole reply is
    // its result is answered as one JSON body, not an SSE stream of one
    // event; one that emits something first still gets a stream (rmcp
    // falls back to SSE). Clients that begin with `initialize` (protocol
    // 2025-11-25 and before) keep their sessions and SSE: a confirmation
    // by `elicitation/create` in the middle of a call needs the session to
    // route the client's answer back (without it, tests/agents.rs's
    // confirmation tests fail).
    let config = StreamableHttpServerConfig::default()
        .with_json_response(true)
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .enforce_origin_validation()
        .with_max_request_body_bytes(options.max_body_bytes);
    let fast = gateway.clone();
    let sessions = Arc::new(LocalSessionManager::default());
    let service = StreamableHttpService::new(move || Ok(gateway.clone()), sessions.clone(), config);
    let mut router = Router::new().nest_service(MCP_PATH, service);
    if options.mcp_fast_path {
        // Innermost: behind every check of the guard and of `mcp_checks`.
        let fast = crate::stateless::FastPath {
            gateway: fast,
            path: MCP_PATH,
        };
        router = router.layer(middleware::from_fn_with_state(
            fast,
            crate::stateless::tools_call,
        ));
    }
    if let Some(oauth) = &options.oauth {
        // Inside the guard: runs with the caller's access known and the
        // body read.
        let checks = SessionChecks {
            oauth: oauth.clone(),
            sessions,
        };
        router = router.layer(middleware::from_fn_with_state(checks, mcp_checks));
    }
    guard(router, options)
}

/// `router` behind the checks every adapter makes, in the order a request
/// meets them: `Host` and `Origin` (403), the bearer token when one is
/// configured (401), or the OAuth access token (401, with where to get
/// one), then the body, read in whole within
/// [`HttpOptions::body_timeout`] (408) and [`HttpOptions::max_body_bytes`]
/// (413). Nothing behind the guard runs for a request that fails one.
/// With OAuth, the Protected Resource Metadata is served without a token.
pub fn guard(router: Router, options: &HttpOptions) -> Router {
    let limits = BodyLimits {
        max_bytes: options.max_body_bytes,
        timeout: options.body_timeout,
    };
    let router = router.layer(middleware::from_fn_with_state(limits, read_body));
    let router = match (&options.oauth, &options.token) {
        (Some(oauth), token) => {
            let gate = Gate {
                token: token.clone(),
                oauth: oauth.clone(),
            };
            let router = router.layer(middleware::from_fn_with_state(gate, require_access));
            oauth.add_metadata_routes(router)
        }
        (None, Some(token)) => {
            router.layer(middleware::from_fn_with_state(token.clone(), require_token))
        }
        (None, None) => router,
    };
    router.layer(middleware::from_fn_with_state(
        Arc::new(allowed_hosts(options)),
        check_host_and_origin,
    ))
}

/// An error of the gateway itself in Klarna's error shape. Nothing was
/// sent to Klarna for it.
pub fn error(status: StatusCode, error_code: &str, message: impl Into<String>) -> Response {
    (status, axum::Json(error_body(error_code, &message.into()))).into_response()
}

/// The body of [`error`]: `error_code`, `error_messages` and
/// `correlation_id` as Klarna writes them, `may_have_reached_klarna`, and
/// `outcome`: the gateway's own errors come before anything is sent.
pub fn error_body(error_code: &str, message: &str) -> Value {
    json!({
        "error_code": error_code,
        "error_messages": [message],
        "correlation_id": null,
        "may_have_reached_klarna": false,
        "outcome": "not_sent",
    })
}

/// 401 unless the request carries `Authorization: Bearer <token>`.
async fn require_token(State(token): State<Token>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
    if presented.is_some_and(|p| token.matches(p)) {
        return next.run(request).await;
    }
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "missing or wrong bearer token",
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// What the token check holds with OAuth on: the static token (if any)
/// and the resource server.
#[derive(Clone)]
struct Gate {
    token: Option<Token>,
    oauth: OAuth,
}

/// `response` with `WWW-Authenticate: value`.
fn challenged(mut response: Response, value: &str) -> Response {
    if let Ok(value) = HeaderValue::try_from(value) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// 403 for want of the OAuth `scope`, in Klarna's error shape, with the
/// `insufficient_scope` challenge.
pub fn insufficient_scope(access: &Access, scope: &str, message: impl Into<String>) -> Response {
    challenged(
        error(StatusCode::FORBIDDEN, "INSUFFICIENT_SCOPE", message),
        &access.insufficient_scope(scope),
    )
}

/// The token check with OAuth on: the static token (if configured) lets a
/// request in as before, with every tool; an access token lets it in with
/// its [`Access`] in the request's extensions; anything else gets 401
/// pointing at the Protected Resource Metadata.
async fn require_access(State(gate): State<Gate>, mut request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty());
    let refused = |rejection: Option<&oauth::Rejection>| {
        let message = rejection.map_or("this gateway needs an OAuth access token", |r| r.message);
        challenged(
            error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message),
            &gate.oauth.challenge(rejection),
        )
    };
    let Some(presented) = presented else {
        return refused(None);
    };
    if gate
        .token
        .as_ref()
        .is_some_and(|t| t.matches(presented.as_bytes()))
    {
        return next.run(request).await;
    }
    match gate.oauth.verify(presented).await {
        Ok(access) => {
            request.extensions_mut().insert(access);
            next.run(request).await
        }
        Err(rejection) => refused(Some(&rejection)),
    }
}

/// What [`mcp_checks`] needs besides the request: the adapter's resource
/// server and rmcp's sessions, to close one the operator ended.
#[derive(Clone)]
struct SessionChecks {
    oauth: OAuth,
    sessions: Arc<LocalSessionManager>,
}

/// The MCP adapter's own checks with OAuth on, once the body is read: a
/// session belongs to the subject that opened it, and `tools/call` of a
/// tool the scopes do not cover is answered 403 with the scope (the MCP
/// specification's runtime scope challenge) before rmcp sees it.
async fn mcp_checks(State(checks): State<SessionChecks>, request: Request, next: Next) -> Response {
    let session = request
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // A session the operator ended (the revocation file) is gone for
    // every caller, the static token's too: rmcp closes it, with its
    // streams, and its client starts a new one.
    if let Some(session) = &session {
        if checks.oauth.session_revoked(session) {
            checks.oauth.forget_session(session);
            let _ = checks
                .sessions
                .close_session(&Arc::from(session.as_str()))
                .await;
            return error(
                StatusCode::NOT_FOUND,
                "SESSION_NOT_FOUND",
                "no such MCP session for this access token; start a new one",
            );
        }
    }
    let Some(access) = request.extensions().get::<Access>().cloned() else {
        return next.run(request).await;
    };
    let server = access.server();
    if let Some(session) = &session {
        // An unknown session, or another subject's: the same answer, so
        // that session ids cannot be probed.
        if server.session_owner(session).as_deref() != Some(access.owner()) {
            return error(
                StatusCode::NOT_FOUND,
                "SESSION_NOT_FOUND",
                "no such MCP session for this access token; start a new one",
            );
        }
    }
    let is_delete = request.method() == axum::http::Method::DELETE;
    let request = if request.method() == axum::http::Method::POST {
        let (parts, body) = request.into_parts();
        // `read_body` has read the body into memory already.
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        if let Some((scope, refusal)) = oauth::tool_call_refusal(&access, &bytes) {
            let response = (StatusCode::FORBIDDEN, axum::Json(refusal)).into_response();
            return challenged(response, &access.insufficient_scope(&scope));
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        request
    };
    let response = next.run(request).await;
    match (&session, response.headers().get("mcp-session-id")) {
        (None, Some(opened)) => {
            if let Ok(opened) = opened.to_str() {
                server.remember_session(opened, access.owner());
            }
        }
        (Some(session), _) if is_delete && response.status().is_success() => {
            server.forget_session(session);
        }
        _ => {}
    }
    response
}

/// Against DNS rebinding: only the loopback names (and the hosts allowed
/// by flag) may appear in `Host`, and a browser's `Origin` must be one of
/// them. A JSON body needs a CORS preflight, which nothing here answers,
/// so a page elsewhere cannot send one either.
async fn check_host_and_origin(
    State(hosts): State<Arc<Vec<String>>>,
    request: Request,
    next: Next,
) -> Response {
    let allowed = |authority: &str| {
        host_name(authority).is_some_and(|host| hosts.iter().any(|h| h.eq_ignore_ascii_case(host)))
    };
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    if !host.is_some_and(allowed) {
        return error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN_HOST",
            "the Host header names no host this gateway serves",
        );
    }
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin_allowed = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .filter(|(scheme, _)| *scheme == "http" || *scheme == "https")
            .is_some_and(|(_, authority)| allowed(authority));
        if !origin_allowed {
            return error(
                StatusCode::FORBIDDEN,
                "FORBIDDEN_ORIGIN",
                "requests from this Origin are not accepted",
            );
        }
    }
    next.run(request).await
}

/// The host of a `Host` header or of an origin's authority, without the
/// port and IPv6 brackets; `None` unless it is a valid authority with no
/// user information (`localhost:1@evil.example` names `evil.example`, and
/// a `Host` header has no user part at all).
fn host_name(authority: &str) -> Option<&str> {
    let parsed = authority.parse::<axum::http::uri::Authority>().ok()?;
    if authority.contains('@') {
        return None;
    }
    let has_port = match authority.strip_prefix('[') {
        Some(rest) => rest
            .split_once(']')
            .is_some_and(|(_, after)| !after.is_empty()),
        None => authority.contains(':'),
    };
    if has_port && parsed.port_u16().is_none() {
        return None;
    }
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next();
    }
    Some(
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    )
}

/// Marks an answer given before the request's body was read to its end:
/// the rest of that body is still on the connection, so it closes after
/// this answer, and says so, so that a client does not send its next
/// request on it (and see it cut off).
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[derive(Clone, Copy)]
struct BodyLimits {
    max_bytes: usize,
    timeout: Duration,
}

/// Reads the whole body within its limits before the adapter sees the
/// request, so a slow or endless body ties up nothing behind the guard.
/// A declared length over the limit is refused before reading.
async fn read_body(State(limits): State<BodyLimits>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        closing(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("the body is larger than {} bytes", limits.max_bytes),
        ))
    };
    if declared.is_some_and(|length| length > limits.max_bytes as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(limits.timeout, axum::body::to_bytes(body, limits.max_bytes));
    let bytes = match read.await {
        Err(_) => {
            return closing(error(
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                "the request body did not arrive in time",
            ))
        }
        Ok(Err(e)) if is_length_limit(&e) => return too_large(),
        Ok(Err(_)) => {
            return closing(error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "the request body broke off",
            ))
        }
        Ok(Ok(bytes)) => bytes,
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_ports_and_brackets() {
        assert_eq!(host_name("127.0.0.1:8080"), Some("127.0.0.1"));
        assert_eq!(host_name("localhost"), Some("localhost"));
        assert_eq!(host_name("[::1]:8080"), Some("::1"));
    }

    #[test]
    fn an_authority_with_a_user_part_or_a_bad_port_names_no_host() {
        for authority in [
            "localhost:1@evil.example",
            "localhost@evil.example",
            "localhost:abc",
            "local host",
            "",
        ] {
            assert_eq!(host_name(authority), None, "{authority}");
        }
    }
}
