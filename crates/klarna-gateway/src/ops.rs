//! The routes an orchestrator and a monitoring system call, on the REST
//! and the MCP port alike: `GET /healthz` (the process answers),
//! `GET /readyz` (it listens, is not stopping, and its upstream has
//! credentials) and `GET /metrics` (Prometheus).
//!
//! They are served outside the adapters' guard (no bearer token, no
//! `Host` check): a liveness probe or a scraper carries no secret and
//! reaches the pod by its IP, and what they answer holds no call's data:
//! counts by tool and outcome, durations, budgets. Put the port behind
//! your network's rules as for any metrics endpoint.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;

use crate::observe::{metrics, METRICS_CONTENT_TYPE};
use crate::tools::Upstream;

pub const HEALTHZ_PATH: &str = "/healthz";
pub const READYZ_PATH: &str = "/readyz";
pub const METRICS_PATH: &str = "/metrics";

/// What `/readyz` answers from. Shared by the ports of one gateway.
pub struct Readiness {
    upstream: Option<Upstream>,
    /// Where calls go, for people reading `/readyz`: a URL, or Klarna's
    /// region and environment.
    target: String,
    /// Basic credentials were found (or the sandbox takes any).
    basic_credentials: bool,
    /// The Payment API's key was found, or no served tool needs it.
    api_key: bool,
    listening: AtomicBool,
    stopping: AtomicBool,
}

impl Readiness {
    /// Not yet listening; see [`Readiness::listening`].
    pub fn new(
        upstream: Option<Upstream>,
        target: impl Into<String>,
        basic_credentials: bool,
        api_key: bool,
    ) -> Arc<Readiness> {
        Arc::new(Readiness {
            upstream,
            target: target.into(),
            basic_credentials,
            api_key,
            listening: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
        })
    }

    /// Every port is bound: calls can be taken.
    pub fn listening(&self) {
        self.listening.store(true, Ordering::Release);
    }

    /// The gateway is stopping: an orchestrator sends no new calls.
    pub fn stopping(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    fn is_ready(&self) -> bool {
        self.listening.load(Ordering::Acquire)
            && !self.stopping.load(Ordering::Acquire)
            && self.basic_credentials
            && self.api_key
    }
}

/// The three routes, to merge beside an adapter's router.
pub fn router(readiness: Arc<Readiness>) -> Router {
    let ready = readiness.clone();
    Router::new()
        .route(HEALTHZ_PATH, get(|| async { "ok\n" }))
        .route(READYZ_PATH, get(move || async move { readyz(&ready) }))
        .route(
            METRICS_PATH,
            get(move || async move {
                let text = metrics().render(readiness.upstream.as_ref());
                ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text)
            }),
        )
}

fn readyz(readiness: &Readiness) -> Response {
    let ready = readiness.is_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "ready": ready,
        "listening": readiness.listening.load(Ordering::Acquire),
        "stopping": readiness.stopping.load(Ordering::Acquire),
        "upstream": readiness.target,
        "basic_credentials": readiness.basic_credentials,
        "api_key": readiness.api_key,
    });
    (status, axum::Json(body)).into_response()
}
