//! The MCP adapter over streamable HTTP, mounted in axum, with the
//! gateway's own checks in front of rmcp's transport.
//!
//! rmcp's transport validates `Host` (loopback names by default) and
//! `Origin` against DNS rebinding, and bounds POST bodies. In front of it a
//! bearer token is checked on every request when one is configured, which
//! it must be for any bind address other than loopback.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;

use crate::mcp::McpGateway;

/// The MCP adapter's address unless told otherwise.
pub const DEFAULT_MCP_ADDR: &str = "127.0.0.1:9090";
/// The path the MCP endpoint is mounted at.
pub const MCP_PATH: &str = "/mcp";
/// The largest JSON-RPC message accepted: a capture with a few hundred
/// order lines fits many times over.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
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
    fn matches(&self, presented: &[u8]) -> bool {
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
    /// `Host` values accepted besides the loopback names (for a bind on
    /// another interface: the names clients reach it by).
    pub allowed_hosts: Vec<String>,
    pub max_body_bytes: usize,
}

impl HttpOptions {
    pub fn new(bind: SocketAddr, token: Option<Token>) -> Self {
        HttpOptions {
            bind,
            token,
            allowed_hosts: Vec::new(),
            max_body_bytes: MAX_BODY_BYTES,
        }
    }

    /// Refuses a bind address other than loopback without a token.
    pub fn check(&self) -> Result<(), String> {
        if !self.bind.ip().is_loopback() && self.token.is_none() {
            return Err(format!(
                "refusing to listen on {} without a token: set {TOKEN_VAR}, or bind a loopback address",
                self.bind
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

/// The axum router serving `gateway` at [`MCP_PATH`].
pub fn mcp_router(gateway: McpGateway, options: &HttpOptions) -> Router {
    let hosts = allowed_hosts(options);
    // Browsers send `Origin`; only pages served from loopback (and the
    // hosts allowed above) may call. Clients that are not browsers send
    // none and pass.
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
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .enforce_origin_validation()
        .with_max_request_body_bytes(options.max_body_bytes);
    let service = StreamableHttpService::new(
        move || Ok(gateway.clone()),
        LocalSessionManager::default().into(),
        config,
    );
    let router = Router::new().nest_service(MCP_PATH, service);
    match &options.token {
        Some(token) => router.layer(middleware::from_fn_with_state(token.clone(), require_token)),
        None => router,
    }
}

/// 401 unless the request carries `Authorization: Bearer <token>`; the
/// request then reaches nothing behind this layer.
pub(crate) async fn require_token(
    State(token): State<Token>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
    if presented.is_some_and(|p| token.matches(p)) {
        return next.run(request).await;
    }
    let body = serde_json::json!({
        "error_code": "UNAUTHORIZED",
        "error_messages": ["missing or wrong bearer token"],
        "correlation_id": null,
    });
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
