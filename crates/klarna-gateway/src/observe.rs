//! What an operator sees of the calls: one structured log line per call
//! (through `tracing`, written by `tracing-subscriber` as text or JSON)
//! and the Prometheus metrics behind `/metrics` (with `prometheus-client`).
//!
//! The call path wraps each call in a [`CALL_SPAN`] span ([`Call::start`]);
//! the generated client's own `klarna.call` span (the runtime's) opens
//! inside it and records how many attempts the call took, Klarna's status
//! and its correlation id. [`UpstreamFacts`], a tracing layer, copies
//! those into the gateway's span, so that the call's one line and its
//! metrics carry them without the runtime knowing about the gateway.
//! Without that layer installed (a library user's own subscriber, or none)
//! the line and the metrics still come, with attempts unknown (0).
//!
//! Nothing secret is logged or labelled: the line names the tool, the
//! route, the outcome, the status, the idempotency key and Klarna's
//! correlation id, none of them a credential; arguments and bodies are
//! never logged.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use tracing::field::{Field, Visit};
use tracing::span::{Id, Record};
use tracing::{Span, Subscriber};
use tracing_subscriber::filter::{filter_fn, Targets};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::ledger::Outcome;
use crate::table::{Failure, Output, Tool};
use crate::tools::Upstream;

/// The name of the span each call runs in.
pub const CALL_SPAN: &str = "klarna_gateway.call";
/// The runtime's span around one operation's attempts.
const RUNTIME_CALL_SPAN: &str = "klarna.call";
/// The target of the one line per call: `--log klarna_gateway::call=off`
/// silences it alone.
pub const CALL_TARGET: &str = "klarna_gateway::call";

/// The gateway's metrics, one set per process.
pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    duration: Family<ToolLabels, Histogram, fn() -> Histogram>,
    attempts: Family<ToolLabels, Counter>,
    retry_budget: Family<ClientLabels, Gauge>,
    mcp_fast_path: Counter,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    tool: &'static str,
    adapter: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    tool: &'static str,
    adapter: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientLabels {
    client: &'static str,
}

/// From 1 ms to about 33 s, doubling: a call's time is its retries' too.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("klarna_gateway");
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "calls",
            "Tool calls and REST operations, by tool, adapter and outcome (done, refused, \
             not_sent, unknown)",
            calls.clone(),
        );
        let duration = Family::<ToolLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram,
        );
        registry.register_with_unit(
            "call_duration",
            "How long a call took in the gateway, its retries and a confirmation included",
            Unit::Seconds,
            duration.clone(),
        );
        let attempts = Family::<ToolLabels, Counter>::default();
        registry.register(
            "upstream_attempts",
            "Requests sent to Klarna (retries included), by the tool that sent them",
            attempts.clone(),
        );
        let retry_budget = Family::<ClientLabels, Gauge>::default();
        registry.register(
            "retry_budget_tokens",
            "Tokens left in each client's retry budget (retries stop when it runs dry)",
            retry_budget.clone(),
        );
        let mcp_fast_path = Counter::default();
        registry.register(
            "mcp_fast_path_calls",
            "MCP 2026-07-28 tool calls the gateway answered itself rather than through rmcp's \
             streamable HTTP service",
            mcp_fast_path.clone(),
        );
        Metrics {
            registry,
            calls,
            duration,
            attempts,
            retry_budget,
            mcp_fast_path,
        }
    }

    /// Counts a tool call answered by the MCP fast path.
    pub(crate) fn mcp_fast_path_call(&self) {
        self.mcp_fast_path.inc();
    }

    /// The metrics in the Prometheus (OpenMetrics) text format, with each
    /// client's retry budget read now from `upstream`.
    pub fn render(&self, upstream: Option<&Upstream>) -> String {
        if let Some(upstream) = upstream {
            // Order Management, Payments and Settlements share one client
            // (one budget); the Payment API and Notification API have one
            // each.
            for (client, left) in [
                (
                    "regional",
                    upstream.ordermanagement.runtime().retry_budget_left(),
                ),
                (
                    "payment_api",
                    upstream.payment_api.runtime().retry_budget_left(),
                ),
                (
                    "notifications",
                    upstream.notifications.runtime().retry_budget_left(),
                ),
            ] {
                self.retry_budget
                    .get_or_create(&ClientLabels { client })
                    .set(i64::from(left));
            }
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// The content type of [`Metrics::render`].
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How log lines are written (`--log-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `key=value` fields after the message, for people
    Text,
    /// One JSON object per line, for a log collector
    Json,
}

/// One call under observation: its span, and when it started.
pub struct Call {
    span: Span,
    started: Instant,
    tool: Option<&'static Tool>,
    /// `mcp` or `rest`.
    adapter: &'static str,
    /// The key the caller sent, for a refusal that names none.
    given_key: Option<String>,
}

impl Call {
    /// Opens the call's span. `adapter` is `mcp` or `rest`; `tool` is
    /// `None` for a name the gateway does not serve.
    pub fn start(
        adapter: &'static str,
        tool: Option<&'static Tool>,
        given_key: Option<&str>,
    ) -> Call {
        let span = tracing::info_span!(
            target: CALL_TARGET,
            CALL_SPAN,
            tool = tool.map(|t| t.name),
            adapter,
        );
        Call {
            span,
            started: Instant::now(),
            tool,
            adapter,
            given_key: given_key.map(str::to_owned),
        }
    }

    /// The span the call runs in.
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// Writes the call's line and counts it.
    pub fn finish(self, name: &str, result: &Result<Output, Failure>) {
        let latency = self.started.elapsed();
        let facts = facts_of(&self.span);
        let ended = Ended::of(result);
        let tool_name = self.tool.map_or("unknown", |t| t.name);
        let adapter = self.adapter;
        let key = ended.key.or(self.given_key.as_deref());
        let correlation_id = ended.correlation_id.or(facts.correlation_id.as_deref());
        let route = self
            .tool
            .filter(|_| self.adapter == "rest")
            .map(|t| format!("{} {}", t.method, t.route));
        tracing::info!(
            target: CALL_TARGET,
            tool = name,
            adapter,
            route,
            status = ended.status,
            outcome = ended.outcome.as_str(),
            error = ended.error,
            latency_ms = latency_ms(latency),
            attempts = facts.attempts,
            idempotency_key = key,
            correlation_id,
            replayed = ended.replayed,
            "call",
        );
        let metrics = metrics();
        // An unknown name is counted as `unknown`, so that a caller cannot
        // make a label per name it invents.
        metrics
            .calls
            .get_or_create(&CallLabels {
                tool: tool_name,
                adapter,
                outcome: ended.outcome.as_str(),
            })
            .inc();
        let labels = ToolLabels {
            tool: tool_name,
            adapter,
        };
        metrics
            .duration
            .get_or_create(&labels)
            .observe(latency.as_secs_f64());
        if facts.attempts_total > 0 {
            metrics
                .attempts
                .get_or_create(&labels)
                .inc_by(facts.attempts_total);
        }
    }
}

fn latency_ms(latency: Duration) -> f64 {
    // Microsecond precision is plenty for a log line.
    (latency.as_micros() as f64) / 1000.0
}

/// What the line says about how a call ended.
struct Ended<'a> {
    outcome: Outcome,
    status: Option<u16>,
    error: Option<&'a str>,
    key: Option<&'a str>,
    correlation_id: Option<&'a str>,
    replayed: bool,
}

impl<'a> Ended<'a> {
    fn of(result: &'a Result<Output, Failure>) -> Self {
        let failed = |outcome, status, error| Ended {
            outcome,
            status,
            error: Some(error),
            key: None,
            correlation_id: None,
            replayed: false,
        };
        match result {
            Ok(output) => Ended {
                outcome: Outcome::Done,
                status: Some(output.status()),
                error: None,
                key: output.idempotency_key(),
                correlation_id: None,
                replayed: output.is_replay(),
            },
            Err(failure) => match failure {
                Failure::Upstream(e) => Ended {
                    outcome: failure.outcome(),
                    status: e.status,
                    error: Some(e.kind),
                    key: e.idempotency_key.as_deref(),
                    correlation_id: e.correlation_id.as_deref(),
                    replayed: false,
                },
                Failure::Refused(refusal) => Ended {
                    key: refusal
                        .details
                        .get("idempotency_key")
                        .and_then(serde_json::Value::as_str),
                    ..failed(failure.outcome(), Some(refusal.status), refusal.code)
                },
                Failure::InvalidArguments(_) => {
                    failed(failure.outcome(), Some(400), "INVALID_ARGUMENTS")
                }
                Failure::UnknownTool(_) => failed(failure.outcome(), Some(404), "UNKNOWN_TOOL"),
                Failure::ConfirmationRequired(_) => {
                    failed(failure.outcome(), None, "CONFIRMATION_REQUIRED")
                }
                Failure::Internal(_) => failed(failure.outcome(), Some(500), "INTERNAL"),
                Failure::Unrecorded {
                    idempotency_key, ..
                } => Ended {
                    key: Some(idempotency_key),
                    ..failed(failure.outcome(), Some(503), "JOURNAL_UNAVAILABLE")
                },
            },
        }
    }
}

/// What the runtime's spans said about the upstream calls inside one
/// gateway call.
#[derive(Clone, Debug, Default)]
struct Facts {
    /// The attempts of the last operation sent (the call's own; a
    /// confirmation's read of the order comes before it).
    attempts: u64,
    /// Every attempt sent, the confirmation's read included.
    attempts_total: u64,
    correlation_id: Option<String>,
}

/// Copies the runtime's `attempts` and `correlation_id` from its
/// `klarna.call` span into the enclosing [`CALL_SPAN`]'s extensions.
pub struct UpstreamFacts;

impl<S> Layer<S> for UpstreamFacts
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if span.name() != RUNTIME_CALL_SPAN {
            return;
        }
        let mut seen = Seen::default();
        values.record(&mut seen);
        let Some(call) = span.scope().skip(1).find(|s| s.name() == CALL_SPAN) else {
            return;
        };
        let mut extensions = call.extensions_mut();
        if extensions.get_mut::<Facts>().is_none() {
            extensions.insert(Facts::default());
        }
        let Some(facts) = extensions.get_mut::<Facts>() else {
            return;
        };
        // The runtime records the attempts first when an operation ends,
        // then its correlation id: a new operation's attempts start afresh.
        if let Some(attempts) = seen.attempts {
            facts.attempts = attempts;
            facts.attempts_total += attempts;
            facts.correlation_id = None;
        }
        if let Some(id) = seen.correlation_id {
            facts.correlation_id = Some(id);
        }
    }
}

#[derive(Default)]
struct Seen {
    attempts: Option<u64>,
    correlation_id: Option<String>,
}

impl Visit for Seen {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "attempts" {
            self.attempts = Some(value);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_u64(field, u64::try_from(value).unwrap_or(0));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "correlation_id" {
            self.correlation_id = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "correlation_id" {
            self.correlation_id = Some(format!("{value:?}").trim_matches('"').to_owned());
        }
    }
}

/// The facts [`UpstreamFacts`] gathered in `span`, when the subscriber
/// has that layer over a `Registry`.
fn facts_of(span: &Span) -> Facts {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let span = registry.span(id)?;
        let facts = span.extensions().get::<Facts>().cloned();
        facts
    })
    .flatten()
    .unwrap_or_default()
}

/// The subscriber the binary installs: log lines on standard error (the
/// stdio transport owns standard output) as `format` says, those `filter`
/// lets through, and [`UpstreamFacts`], which sees the runtime's call
/// spans whatever the filter.
pub fn subscriber(
    format: LogFormat,
    filter: Targets,
) -> Box<dyn Subscriber + Send + Sync + 'static> {
    let facts = UpstreamFacts.with_filter(filter_fn(|metadata| {
        metadata.is_span() && matches!(metadata.name(), CALL_SPAN | RUNTIME_CALL_SPAN)
    }));
    let registry = tracing_subscriber::registry().with(facts);
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match format {
        LogFormat::Text => Box::new(registry.with(lines.with_filter(filter))),
        LogFormat::Json => Box::new(
            registry.with(
                lines
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_filter(filter),
            ),
        ),
    }
}
