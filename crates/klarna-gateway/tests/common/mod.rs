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
        "KLARNA_GATEWAY_OAUTH_ISSUER",
        "KLARNA_GATEWAY_OAUTH_JWKS_URI",
        "KLARNA_GATEWAY_OAUTH_MCP_RESOURCE",
        "KLARNA_GATEWAY_OAUTH_REST_RESOURCE",
        "KLARNA_GATEWAY_OAUTH_SCOPE_PREFIX",
    ] {
        command.env_remove(var);
    }
    command.kill_on_drop(true);
    command
}

/// A fresh path in the temporary directory, `klarna-gateway-<name>-...`
/// ending in `extension`, removed (with a journal's WAL files) when
/// dropped.
pub struct TempFile(pub std::path::PathBuf);

impl TempFile {
    /// A journal's path (`.sqlite`).
    pub fn new(name: &str) -> TempFile {
        TempFile::with_extension(name, "sqlite")
    }

    pub fn with_extension(name: &str, extension: &str) -> TempFile {
        TempFile(std::env::temp_dir().join(format!(
            "klarna-gateway-{name}-{}-{}.{extension}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        )))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The binary run with `args` exits with an error whose message names
/// `needle`, within [`STEP`].
pub async fn refuses_to_start(args: &[&str], needle: &str) {
    refuses_to_start_with(args, &[], needle).await
}

/// [`refuses_to_start`] with the variables `env` set.
pub async fn refuses_to_start_with(args: &[&str], env: &[(&str, &str)], needle: &str) {
    let mut command = gateway_command();
    command.args(args).envs(env.iter().copied());
    let output = tokio::time::timeout(STEP, command.output())
        .await
        .expect("exits in time")
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(needle), "{stderr}");
}

/// A gateway binary serving, and the addresses its adapters printed.
pub struct Spawned {
    pub child: tokio::process::Child,
    pub rest: Option<SocketAddr>,
    pub mcp: Option<SocketAddr>,
    /// What it printed on standard error up to the last address line.
    pub stderr: Vec<String>,
    /// The rest of standard error, read in the background.
    pub lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

/// Starts the binary with `args` (which bind `127.0.0.1:0`) signed as
/// `merchant` with [`PASSWORD`], and waits for every adapter asked for
/// to print its address.
pub async fn spawn_gateway(args: &[&str]) -> Spawned {
    spawn_gateway_with(args, &[]).await
}

/// [`spawn_gateway`] with `env` set besides the credentials.
pub async fn spawn_gateway_with(args: &[&str], env: &[(&str, &str)]) -> Spawned {
    use tokio::io::AsyncBufReadExt;
    let mut command = gateway_command();
    command
        .args(args)
        .envs(env.iter().copied())
        .env("KLARNA_USER", "merchant")
        .env("KLARNA_PASS", PASSWORD)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("the binary starts");
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let (want_rest, want_mcp) = (args.contains(&"--rest"), args.contains(&"--mcp"));
    let mut spawned_rest = None;
    let mut spawned_mcp = None;
    let mut seen = Vec::new();
    let address = |line: &str, marker: &str| -> Option<SocketAddr> {
        let rest = line.split(marker).nth(1)?;
        rest.split('/').next()?.parse().ok()
    };
    tokio::time::timeout(STEP, async {
        while (want_rest && spawned_rest.is_none()) || (want_mcp && spawned_mcp.is_none()) {
            let line = stderr
                .next_line()
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("the gateway ended early: {seen:?}"));
            if line.contains("REST at http://") {
                spawned_rest = address(&line, "REST at http://");
            }
            if line.contains("MCP at http://") {
                spawned_mcp = address(&line, "MCP at http://");
            }
            seen.push(line);
        }
    })
    .await
    .expect("the gateway prints its addresses in time");
    let (send, lines) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            let _ = send.send(line);
        }
    });
    Spawned {
        child,
        rest: spawned_rest,
        mcp: spawned_mcp,
        stderr: seen,
        lines,
    }
}

/// Sends `signal` (`TERM`, `KILL`, ...) to the process with the system's
/// `kill`.
pub fn send_signal(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("still running");
    let sent = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Waits (within [`STEP`]) until the sandbox has read `count` requests
/// whose path ends with `suffix`.
pub async fn sandbox_saw(sandbox: &klarna_sandbox::Sandbox, suffix: &str, count: usize) {
    tokio::time::timeout(STEP, async {
        while sandbox
            .requests()
            .iter()
            .filter(|r| r.path.ends_with(suffix))
            .count()
            < count
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the requests reach the sandbox in time");
}
