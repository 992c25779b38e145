//! Counters and latency histograms of a running node, cheap to update from the hot path
//! (atomics and one short lock per call), rendered as JSON for `status` and as Prometheus
//! text for scrapers.
//!
//! Per-command figures are kept only for the commands the node was built to serve (given
//! at construction); any other name the gateway sends is counted under [`OTHER_COMMAND`],
//! so a gateway can neither grow the map without bound nor choose the series' labels
//! (issue 17). Label values are escaped as the text exposition format requires.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// Upper bounds of the latency buckets, in microseconds.
pub const BUCKETS_US: &[u64] = &[
    25, 50, 75, 100, 150, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
    500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

/// The label under which calls to commands this node does not serve are counted.
pub const OTHER_COMMAND: &str = "other";

/// Why a call failed, for the failure counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FailureKind {
    /// The connection broke before the result was delivered.
    Network,
    /// Refused by the node-local policy or exec approvals.
    Policy,
    /// The command ran and failed (bad params, spawn error, capability error).
    Execution,
    /// The deadline passed.
    Timeout,
}

/// A latency histogram.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Histogram {
    /// Counts per bucket of [`BUCKETS_US`] (not cumulative), plus one overflow bucket.
    pub buckets: Vec<u64>,
    /// Number of samples.
    pub count: u64,
    /// Sum of samples, µs.
    pub sum_us: u64,
}

impl Histogram {
    fn record(&mut self, d: Duration) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; BUCKETS_US.len() + 1];
        }
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        let i = BUCKETS_US.partition_point(|b| *b < us);
        self.buckets[i] += 1;
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us);
    }
}

/// Per-command figures.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandStats {
    /// Calls started.
    pub calls: u64,
    /// Failures by kind.
    pub failures: BTreeMap<FailureKind, u64>,
    /// Time from the request frame to the start of the command.
    pub queue: Histogram,
    /// Time the command ran.
    pub exec: Histogram,
    /// Request frame to result frame.
    pub total: Histogram,
}

/// A node's metrics. [`Metrics::default`] knows no command: every call counts as
/// [`OTHER_COMMAND`]; [`Metrics::new`] takes the commands to count by name.
#[derive(Debug, Default)]
pub struct Metrics {
    /// The command names counted under their own name.
    served: BTreeSet<String>,
    connects: AtomicU64,
    reconnects: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    last_tick_ms: AtomicU64,
    tick_interval_ms: AtomicU64,
    commands: Mutex<BTreeMap<String, CommandStats>>,
}

/// A JSON snapshot of [`Metrics`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSnapshot {
    /// Successful handshakes.
    pub connects: u64,
    /// Handshakes after the first.
    pub reconnects: u64,
    /// Bytes received in frames.
    pub bytes_in: u64,
    /// Bytes sent in frames.
    pub bytes_out: u64,
    /// Milliseconds since the last tick (None before the first).
    pub ms_since_last_tick: Option<u64>,
    /// The gateway's tick interval.
    pub tick_interval_ms: Option<u64>,
    /// Per command.
    pub commands: BTreeMap<String, CommandStats>,
    /// Per configured MCP server (filled in by the status source; absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mcp_servers: Vec<super::mcp::McpServerView>,
}

impl Metrics {
    /// Metrics that count calls to `served` by command name, and any other call as
    /// [`OTHER_COMMAND`].
    pub fn new(served: impl IntoIterator<Item = String>) -> Self {
        Self {
            served: served.into_iter().collect(),
            ..Self::default()
        }
    }

    /// A successful handshake.
    pub fn connected(&self) {
        if self.connects.fetch_add(1, Ordering::Relaxed) > 0 {
            self.reconnects.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Bytes of one inbound frame.
    pub fn frame_in(&self, bytes: usize) {
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Bytes of one outbound frame.
    pub fn frame_out(&self, bytes: usize) {
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// A tick arrived at `now_ms`; the gateway's interval is `interval_ms`.
    pub fn tick(&self, now_ms: u64, interval_ms: u64) {
        self.last_tick_ms.store(now_ms, Ordering::Relaxed);
        self.tick_interval_ms.store(interval_ms, Ordering::Relaxed);
    }

    /// One finished call of `command` (whatever name the gateway sent).
    pub fn call(
        &self,
        command: &str,
        queue: Duration,
        exec: Duration,
        failure: Option<FailureKind>,
    ) {
        let mut commands = self.commands.lock().unwrap_or_else(|p| p.into_inner());
        let key = match self.served.get(command) {
            Some(name) => name.as_str(),
            None => OTHER_COMMAND,
        };
        let stats = commands.entry(key.to_string()).or_default();
        stats.calls += 1;
        if let Some(kind) = failure {
            *stats.failures.entry(kind).or_default() += 1;
        }
        stats.queue.record(queue);
        stats.exec.record(exec);
        stats.total.record(queue + exec);
    }

    /// A snapshot at `now_ms`.
    pub fn snapshot(&self, now_ms: u64) -> MetricsSnapshot {
        let last = self.last_tick_ms.load(Ordering::Relaxed);
        let interval = self.tick_interval_ms.load(Ordering::Relaxed);
        MetricsSnapshot {
            connects: self.connects.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            ms_since_last_tick: (last > 0).then(|| now_ms.saturating_sub(last)),
            tick_interval_ms: (interval > 0).then_some(interval),
            commands: self
                .commands
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            mcp_servers: Vec::new(),
        }
    }
}

impl MetricsSnapshot {
    /// Prometheus text exposition format.
    pub fn prometheus(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            "openclaw_node_connects_total",
            "Successful handshakes.",
            self.connects,
        );
        counter(
            "openclaw_node_reconnects_total",
            "Handshakes after the first.",
            self.reconnects,
        );
        counter(
            "openclaw_node_bytes_in_total",
            "Bytes received in frames.",
            self.bytes_in,
        );
        counter(
            "openclaw_node_bytes_out_total",
            "Bytes sent in frames.",
            self.bytes_out,
        );
        if let Some(ms) = self.ms_since_last_tick {
            let _ = writeln!(
                out,
                "# HELP openclaw_node_seconds_since_last_tick Time since the gateway's last tick.\n# TYPE openclaw_node_seconds_since_last_tick gauge\nopenclaw_node_seconds_since_last_tick {}",
                ms as f64 / 1000.0
            );
        }
        if let Some(ms) = self.tick_interval_ms {
            let _ = writeln!(
                out,
                "# HELP openclaw_node_tick_interval_seconds The gateway's heartbeat interval.\n# TYPE openclaw_node_tick_interval_seconds gauge\nopenclaw_node_tick_interval_seconds {}",
                ms as f64 / 1000.0
            );
        }
        let _ = writeln!(
            out,
            "# HELP openclaw_node_calls_total Calls by command.\n# TYPE openclaw_node_calls_total counter"
        );
        for (cmd, s) in &self.commands {
            let cmd = label_value(cmd);
            let _ = writeln!(
                out,
                "openclaw_node_calls_total{{command=\"{cmd}\"}} {}",
                s.calls
            );
        }
        let _ = writeln!(
            out,
            "# HELP openclaw_node_call_failures_total Failed calls by command and kind.\n# TYPE openclaw_node_call_failures_total counter"
        );
        for (cmd, s) in &self.commands {
            let cmd = label_value(cmd);
            for (kind, n) in &s.failures {
                let kind = serde_json::to_value(kind).ok();
                let kind = kind.as_ref().and_then(|v| v.as_str()).unwrap_or("unknown");
                let _ = writeln!(
                    out,
                    "openclaw_node_call_failures_total{{command=\"{cmd}\",kind=\"{kind}\"}} {n}"
                );
            }
        }
        for (metric, pick) in [
            (
                "queue",
                (|s: &CommandStats| &s.queue) as fn(&CommandStats) -> &Histogram,
            ),
            ("exec", |s: &CommandStats| &s.exec),
            ("total", |s: &CommandStats| &s.total),
        ] {
            let name = format!("openclaw_node_call_{metric}_seconds");
            let _ = writeln!(
                out,
                "# HELP {name} Call {metric} latency.\n# TYPE {name} histogram"
            );
            for (cmd, s) in &self.commands {
                let cmd = label_value(cmd);
                let h = pick(s);
                let mut cumulative = 0;
                for (i, bound) in BUCKETS_US.iter().enumerate() {
                    cumulative += h.buckets.get(i).copied().unwrap_or(0);
                    let _ = writeln!(
                        out,
                        "{name}_bucket{{command=\"{cmd}\",le=\"{}\"}} {cumulative}",
                        *bound as f64 / 1e6
                    );
                }
                let _ = writeln!(
                    out,
                    "{name}_bucket{{command=\"{cmd}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "{name}_sum{{command=\"{cmd}\"}} {}",
                    h.sum_us as f64 / 1e6
                );
                let _ = writeln!(out, "{name}_count{{command=\"{cmd}\"}} {}", h.count);
            }
        }
        out.push_str(&super::mcp::prometheus(&self.mcp_servers));
        out
    }
}

/// A label value as the text exposition format writes it: `\\`, `\"` and `\n` for a
/// backslash, a double quote and a line feed.
fn label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_move_and_render() {
        let m = Metrics::new(["system.which".to_string()]);
        m.connected();
        m.connected();
        m.frame_in(10);
        m.frame_out(20);
        m.tick(1_000, 30_000);
        m.call(
            "system.which",
            Duration::from_micros(50),
            Duration::from_micros(300),
            None,
        );
        m.call(
            "system.which",
            Duration::from_micros(50),
            Duration::from_secs(2),
            Some(FailureKind::Timeout),
        );
        let s = m.snapshot(4_000);
        assert_eq!(
            (s.connects, s.reconnects, s.bytes_in, s.bytes_out),
            (2, 1, 10, 20)
        );
        assert_eq!(s.ms_since_last_tick, Some(3_000));
        let which = &s.commands["system.which"];
        assert_eq!(which.calls, 2);
        assert_eq!(which.failures[&FailureKind::Timeout], 1);
        assert_eq!(which.total.count, 2);
        let le_50 = BUCKETS_US.iter().position(|b| *b == 50).unwrap();
        assert_eq!(which.queue.buckets[le_50], 2);
        let text = s.prometheus();
        assert!(text.contains("openclaw_node_reconnects_total 1"));
        assert!(text.contains("openclaw_node_calls_total{command=\"system.which\"} 2"));
        assert!(text.contains(
            "openclaw_node_call_failures_total{command=\"system.which\",kind=\"timeout\"} 1"
        ));
        assert!(
            text.contains("openclaw_node_call_total_seconds_count{command=\"system.which\"} 2")
        );
        assert!(text.contains("openclaw_node_seconds_since_last_tick 3"));
    }

    /// Every line of an exposition: a comment, or `name{labels} value` with the labels
    /// well formed (so no label value can end a line or a label early).
    fn assert_well_formed(text: &str) {
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect(line);
            assert!(value.parse::<f64>().is_ok() || value == "+Inf", "{line}");
            let Some((name, labels)) = series.split_once('{') else {
                continue;
            };
            assert!(name.starts_with("openclaw_node_"), "{line}");
            let labels = labels.strip_suffix('}').expect(line);
            // Walk `key="value",…` honouring the escapes \\ \" \n.
            let mut chars = labels.chars().peekable();
            loop {
                let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                assert!(
                    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{line}"
                );
                assert_eq!(chars.next(), Some('"'), "{line}");
                loop {
                    match chars.next().expect(line) {
                        '\\' => assert!(matches!(chars.next(), Some('\\' | '"' | 'n')), "{line}"),
                        '"' => break,
                        _ => {}
                    }
                }
                match chars.next() {
                    None => break,
                    Some(',') => continue,
                    Some(c) => panic!("unexpected {c:?} in {line}"),
                }
            }
        }
    }

    #[test]
    fn label_values_are_escaped() {
        let name = "a\"b\\c\nd";
        let mut snapshot = Metrics::default().snapshot(0);
        snapshot
            .commands
            .insert(name.to_string(), CommandStats::default());
        let text = snapshot.prometheus();
        assert!(
            text.contains("openclaw_node_calls_total{command=\"a\\\"b\\\\c\\nd\"} 0"),
            "{text}"
        );
        assert_well_formed(&text);
    }

    #[test]
    fn a_gateway_cannot_inject_series_through_a_command_name() {
        let m = Metrics::default();
        m.call(
            "x\"} 1\nopenclaw_node_injected{a=\"\\\"} 1\n# TYPE x",
            Duration::from_micros(1),
            Duration::from_micros(1),
            Some(FailureKind::Execution),
        );
        let text = m.snapshot(0).prometheus();
        assert!(!text.contains("openclaw_node_injected"), "{text}");
        assert_well_formed(&text);
    }

    #[test]
    fn unknown_command_names_share_one_other_series() {
        let m = Metrics::default();
        for i in 0..10_000 {
            m.call(
                &format!("no.such.command.{i}"),
                Duration::from_micros(1),
                Duration::from_micros(1),
                None,
            );
        }
        let s = m.snapshot(0);
        assert_eq!(s.commands.keys().collect::<Vec<_>>(), ["other"]);
        assert_eq!(s.commands["other"].calls, 10_000);
        let text = s.prometheus();
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("openclaw_node_calls_total{"))
                .count(),
            1,
            "{text}"
        );
    }
}
