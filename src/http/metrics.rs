//! Prometheus metrics: requests by route and status with their latency, answers by mode with
//! the time each stage took, generated tokens and their rate, the generation queue's depth, and
//! the WhatsApp channel's traffic, retries and dead letters, and orders by state.
//!
//! Counters live in memory (they restart with the process, as Prometheus expects) and are
//! rendered in the text exposition format at `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

use super::AppState;
use crate::answer::{Answer, Mode};
use crate::channels::whatsapp::ChannelMetrics;
use crate::engine::OrderState;
use crate::store::WhatsAppCounts;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {}",
                self.counts[i]
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// (route, method, status) → count.
    requests: BTreeMap<(String, String, u16), u64>,
    /// route → latency.
    latency: BTreeMap<String, Histogram>,
    answers: BTreeMap<&'static str, u64>,
    /// stage → latency.
    stages: BTreeMap<&'static str, Histogram>,
    generated_tokens: u64,
    decode_seconds: f64,
    last_tokens_per_second: f64,
    rejected_drafts: u64,
}

#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    pub fn record_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let mut inner = self.inner.lock();
        *inner
            .requests
            .entry((route.to_string(), method.to_string(), status))
            .or_default() += 1;
        inner
            .latency
            .entry(route.to_string())
            .or_default()
            .observe(seconds);
    }

    pub fn record_answer(&self, answer: &Answer) {
        let mut inner = self.inner.lock();
        *inner.answers.entry(answer.mode.as_str()).or_default() += 1;
        let t = answer.timings;
        inner
            .stages
            .entry("retrieve")
            .or_default()
            .observe(t.retrieve_ms / 1000.0);
        if t.generate_ms > 0.0 {
            inner
                .stages
                .entry("generate")
                .or_default()
                .observe(t.generate_ms / 1000.0);
        }
        inner
            .stages
            .entry("total")
            .or_default()
            .observe(t.total_ms / 1000.0);
        if let Some(g) = &answer.generation {
            inner.generated_tokens += g.tokens as u64;
            if g.tokens_per_second > 0.0 {
                inner.decode_seconds += g.tokens.saturating_sub(1) as f64 / g.tokens_per_second;
                inner.last_tokens_per_second = g.tokens_per_second;
            }
            if g.rejected.is_some() {
                inner.rejected_drafts += 1;
            }
        }
    }

    /// The exposition text; `queue_depth` and `ready` are read at scrape time.
    pub fn render(&self, queue_depth: usize, ready: bool) -> String {
        let inner = self.inner.lock();
        let mut out = String::new();
        out.push_str("# HELP clerk_ready Whether the model and indexes are loaded.\n");
        out.push_str("# TYPE clerk_ready gauge\n");
        let _ = writeln!(out, "clerk_ready {}", u8::from(ready));
        out.push_str(
            "# HELP clerk_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE clerk_http_requests_total counter\n");
        for ((route, method, status), count) in &inner.requests {
            let _ = writeln!(
                out,
                "clerk_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str("# HELP clerk_http_request_duration_seconds HTTP request latency by route.\n");
        out.push_str("# TYPE clerk_http_request_duration_seconds histogram\n");
        for (route, histogram) in &inner.latency {
            histogram.render(
                &mut out,
                "clerk_http_request_duration_seconds",
                &format!("route=\"{route}\""),
            );
        }
        out.push_str("# HELP clerk_answers_total Answers by the path that made them.\n");
        out.push_str("# TYPE clerk_answers_total counter\n");
        for mode in Mode::ALL {
            let count = inner.answers.get(mode.as_str()).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "clerk_answers_total{{mode=\"{}\"}} {count}",
                mode.as_str()
            );
        }
        out.push_str("# HELP clerk_answer_stage_seconds Time spent per answer stage.\n");
        out.push_str("# TYPE clerk_answer_stage_seconds histogram\n");
        for (stage, histogram) in &inner.stages {
            histogram.render(
                &mut out,
                "clerk_answer_stage_seconds",
                &format!("stage=\"{stage}\""),
            );
        }
        out.push_str("# HELP clerk_generated_tokens_total Tokens generated for replies.\n");
        out.push_str("# TYPE clerk_generated_tokens_total counter\n");
        let _ = writeln!(
            out,
            "clerk_generated_tokens_total {}",
            inner.generated_tokens
        );
        out.push_str("# HELP clerk_generation_tokens_per_second Decode speed: all tokens over all decode time, and of the last reply.\n");
        out.push_str("# TYPE clerk_generation_tokens_per_second gauge\n");
        let mean = if inner.decode_seconds > 0.0 {
            inner.generated_tokens as f64 / inner.decode_seconds
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "clerk_generation_tokens_per_second{{window=\"all\"}} {mean}"
        );
        let _ = writeln!(
            out,
            "clerk_generation_tokens_per_second{{window=\"last\"}} {}",
            inner.last_tokens_per_second
        );
        out.push_str("# HELP clerk_rejected_drafts_total Generated replies replaced by an extractive one after failing the fact check.\n");
        out.push_str("# TYPE clerk_rejected_drafts_total counter\n");
        let _ = writeln!(out, "clerk_rejected_drafts_total {}", inner.rejected_drafts);
        out.push_str(
            "# HELP clerk_generation_queue_depth Generation requests waiting or running.\n",
        );
        out.push_str("# TYPE clerk_generation_queue_depth gauge\n");
        let _ = writeln!(out, "clerk_generation_queue_depth {queue_depth}");
        out
    }
}

/// Counts every request by its route pattern (not its path, so ids do not explode the series).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    // Made-up methods would each make a new series; they are all "OTHER".
    let method = match request.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m.to_string(),
        _ => "OTHER".to_string(),
    };
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.record_request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Prometheus metrics.
///
/// Requests by route and status with their latency, answers by mode with the time each stage
/// took, generated tokens and their rate, the generation queue's depth, the WhatsApp channel's
/// traffic, retries and dead letters, and orders by state, in the Prometheus text exposition
/// format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    security(),
    responses((
        status = 200,
        description = "Metrics in the Prometheus text format 0.0.4.",
        body = String,
        content_type = "text/plain; version=0.0.4; charset=utf-8",
    )),
)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let depth = state
        .engine
        .model()
        .map(|m| m.generator.queue_depth())
        .unwrap_or(0);
    let mut text = state.metrics.render(depth, state.is_ready());
    match tokio::task::spawn_blocking({
        let engine = state.engine.clone();
        move || engine.order_counts()
    })
    .await
    {
        Ok(Ok(counts)) => render_orders(&mut text, &counts),
        Ok(Err(e)) => tracing::error!(error = %e, "reading order counts failed"),
        Err(e) => tracing::error!(error = %e, "reading order counts panicked"),
    }
    if let Some(channel) = state.whatsapp.clone() {
        let counts = tokio::task::spawn_blocking({
            let channel = channel.clone();
            move || channel.counts(None)
        })
        .await;
        match counts {
            Ok(Ok(counts)) => render_whatsapp(&mut text, &channel.metrics, &counts),
            Ok(Err(e)) => tracing::error!(error = %e, "reading WhatsApp counts failed"),
            Err(e) => tracing::error!(error = %e, "reading WhatsApp counts panicked"),
        }
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

/// Orders of every business by state, as stored.
fn render_orders(out: &mut String, counts: &[(OrderState, u64)]) {
    out.push_str("# HELP clerk_orders Orders by state, as stored.\n");
    out.push_str("# TYPE clerk_orders gauge\n");
    for (state, n) in counts {
        let _ = writeln!(out, "clerk_orders{{state=\"{state}\"}} {n}");
    }
}

/// The WhatsApp channel's counters (this process) and its inbox and outbox (the store).
fn render_whatsapp(out: &mut String, m: &ChannelMetrics, counts: &WhatsAppCounts) {
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    out.push_str("# HELP clerk_whatsapp_webhooks_total Webhook deliveries by outcome.\n");
    out.push_str("# TYPE clerk_whatsapp_webhooks_total counter\n");
    let refused = load(&m.refused);
    let _ = writeln!(
        out,
        "clerk_whatsapp_webhooks_total{{outcome=\"accepted\"}} {}",
        load(&m.webhooks).saturating_sub(refused)
    );
    let _ = writeln!(
        out,
        "clerk_whatsapp_webhooks_total{{outcome=\"refused\"}} {refused}"
    );
    out.push_str("# HELP clerk_whatsapp_events_total Messages, duplicates and statuses received; replies answered, sent, retried and given up.\n");
    out.push_str("# TYPE clerk_whatsapp_events_total counter\n");
    for (event, counter) in [
        ("new_message", &m.new_messages),
        ("duplicate", &m.duplicates),
        ("status", &m.statuses),
        ("answered", &m.answered),
        ("sent", &m.sent),
        ("retry", &m.retries),
        ("dead_letter", &m.dead),
        ("undeliverable", &m.undeliverable),
        ("unanswered", &m.unanswered),
        ("ignored", &m.ignored),
    ] {
        let _ = writeln!(
            out,
            "clerk_whatsapp_events_total{{event=\"{event}\"}} {}",
            load(counter)
        );
    }
    out.push_str("# HELP clerk_whatsapp_messages Inbox and outbox rows by state, as stored.\n");
    out.push_str("# TYPE clerk_whatsapp_messages gauge\n");
    for (state, n) in [
        ("inbox_pending", counts.inbox_pending),
        ("inbox_done", counts.inbox_done),
        ("outbox_pending", counts.outbox_pending),
        ("sent", counts.sent),
        ("dead_letter", counts.dead),
        ("undeliverable", counts.undeliverable),
        ("unanswered", counts.unanswered),
    ] {
        let _ = writeln!(out, "clerk_whatsapp_messages{{state=\"{state}\"}} {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms_in_exposition_format() {
        let metrics = Metrics::default();
        metrics.record_request("/v1/businesses/{business}/answer", "POST", 200, 0.003);
        metrics.record_request("/v1/businesses/{business}/answer", "POST", 429, 0.0001);
        let mut text = metrics.render(2, true);
        assert!(text.contains(
            "clerk_http_requests_total{route=\"/v1/businesses/{business}/answer\",method=\"POST\",status=\"429\"} 1"
        ));
        assert!(text.contains(
            "clerk_http_request_duration_seconds_bucket{route=\"/v1/businesses/{business}/answer\",le=\"0.005\"} 2"
        ));
        assert!(text.contains("clerk_generation_queue_depth 2"));
        assert!(text.contains("clerk_answers_total{mode=\"abstained\"} 0"));
        render_orders(
            &mut text,
            &[
                (OrderState::Placed, 3),
                (OrderState::AwaitingConfirmation, 0),
            ],
        );
        assert!(text.contains("# TYPE clerk_orders gauge\nclerk_orders{state=\"placed\"} 3\n"));
        assert!(text.contains("clerk_orders{state=\"awaiting_confirmation\"} 0"));
        // Every sample line is "name{labels} value" or "name value".
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
