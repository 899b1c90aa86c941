//! What the gateway's test files share: a sandbox-backed upstream, a
//! router served on an ephemeral loopback port, and the binary with the
//! environment's credentials removed.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use klarna_gateway::server;
use klarna_gateway::upstream::{self, Target};
use klarna_gateway::Upstream;
use klarna_runtime::Credentials;
use tokio::sync::oneshot;

/// Longest any single step of a test may take.
pub const STEP: Duration = Duration::from_secs(20);

/// The merchant password the gateways of the tests hold: it must never
/// come back in an answer.
pub const PASSWORD: &str = "secret-password";

/// The clients of every API at `base_url`, signed as `merchant` with
/// [`PASSWORD`], each call limited to `timeout`.
pub fn upstream_at(base_url: &str, timeout: Duration) -> Upstream {
    upstream::upstream_with_timeout(
        &Target::Url(base_url.to_owned()),
        Credentials::basic("merchant", PASSWORD),
        None,
        timeout,
    )
    .expect("clients build")
}

/// Serves `router` on 127.0.0.1:0 until the sender is dropped.
pub async fn serve_on_loopback(router: Router) -> (SocketAddr, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server::serve(listener, router, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// The gateway binary, without any credential or token of the
/// environment, killed when dropped.
pub fn gateway_command() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_klarna-gateway"));
    for var in [
        "KLARNA_USER",
        "KLARNA_PASS",
        "KLARNA_USERNAME",
        "KLARNA_PASSWORD",
        "KLARNA_GATEWAY_TOKEN",
    ] {
        command.env_remove(var);
    }
    command.kill_on_drop(true);
    command
}

/// The binary run with `args` exits with an error whose message names
/// `needle`, within [`STEP`].
pub async fn refuses_to_start(args: &[&str], needle: &str) {
    let mut command = gateway_command();
    command.args(args);
    let output = tokio::time::timeout(STEP, command.output())
        .await
        .expect("exits in time")
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(needle), "{stderr}");
}
