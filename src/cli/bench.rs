//! `openclaw-node bench`: measures the node where users feel it. By default it starts the
//! embedded gateway in-process and this binary's node as a child process, then reports
//! start-to-ready, idle RSS, `node.invoke` round trips (p50/p90/p99) for `system.which` and
//! `system.run true`, throughput with concurrent callers, the node-side time per call, and
//! `system.run` output throughput. With `--gateway` it measures given nodes through any
//! gateway (the real one, for side-by-side runs against the reference node host).
//! Numbers go to stdout (`--json` for scripts); `docs/performance.md` records them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};

use super::global::GlobalArgs;
use crate::gateway::{self, GatewayAuth, GatewayConfig};
use crate::operator::{OperatorClient, OperatorOptions};
use crate::secret::Secret;

/// Flags of `bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sequential calls per latency measurement.
    #[arg(long, default_value_t = 500)]
    pub calls: usize,
    /// Concurrent callers for the throughput measurement.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Calls in the throughput measurement.
    #[arg(long, default_value_t = 5000)]
    pub throughput_calls: usize,
    /// Measure nodes through this gateway instead of the embedded one (token from
    /// OPENCLAW_GATEWAY_TOKEN).
    #[arg(long, requires = "node")]
    pub gateway: Option<String>,
    /// Node ids to measure with --gateway (repeat for several).
    #[arg(long)]
    pub node: Vec<String>,
    /// Also report the resident memory of this process tree (e.g. the reference node).
    #[arg(long)]
    pub pid: Vec<u32>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Also measure browser.proxy against a real Chromium: cold start to first snapshot,
    /// snapshot latency on a 1,000-element page, node memory with the browser idle.
    #[arg(long)]
    pub browser: bool,
    /// Measure the embedded gateway (as its own process) with this many connected nodes:
    /// its memory, and the invoke latency to one node at that load against idle.
    #[arg(long, value_name = "NODES")]
    pub scale: Option<usize>,
}

/// Resident set size of a process and all its descendants, in bytes.
pub fn tree_rss(pid: u32) -> u64 {
    let root = pid as i32;
    let mut total = rss(root);
    for child in openclaw_capability_api::process::descendants(root).keys() {
        total += rss(*child);
    }
    total
}

fn rss(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn percentiles(mut samples: Vec<Duration>) -> Value {
    samples.sort();
    let pick = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples
            .get(i)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    json!({"n": samples.len(), "p50_ms": pick(0.5), "p90_ms": pick(0.9), "p99_ms": pick(0.99)})
}

async fn latency(
    op: &OperatorClient,
    node: &str,
    command: &str,
    params: Value,
    n: usize,
) -> anyhow::Result<Value> {
    // Warm up.
    for _ in 0..10.min(n) {
        op.node_invoke(node, command, params.clone(), Some(10_000))
            .await?;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        op.node_invoke(node, command, params.clone(), Some(10_000))
            .await?;
        samples.push(t.elapsed());
    }
    Ok(percentiles(samples))
}

/// Round trips of an operator request that no node takes part in (`node.list`): the
/// gateway's own floor, which every `node.invoke` round trip pays at least once.
async fn gateway_floor(op: &OperatorClient, n: usize) -> anyhow::Result<Value> {
    for _ in 0..10.min(n) {
        op.node_list().await?;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        op.node_list().await?;
        samples.push(t.elapsed());
    }
    Ok(percentiles(samples))
}

/// Round trips for several nodes, interleaved call by call so that gateway warm-up and
/// machine noise fall on every node alike.
async fn latency_interleaved(
    op: &OperatorClient,
    nodes: &[String],
    command: &str,
    params: Value,
    n: usize,
) -> anyhow::Result<Vec<Value>> {
    for _ in 0..10.min(n) {
        for node in nodes {
            op.node_invoke(node, command, params.clone(), Some(10_000))
                .await?;
        }
    }
    let mut samples = vec![Vec::with_capacity(n); nodes.len()];
    for _ in 0..n {
        for (i, node) in nodes.iter().enumerate() {
            let t = Instant::now();
            op.node_invoke(node, command, params.clone(), Some(10_000))
                .await?;
            samples[i].push(t.elapsed());
        }
    }
    Ok(samples.into_iter().map(percentiles).collect())
}

async fn throughput(
    op: Arc<OperatorClient>,
    node: &str,
    total: usize,
    concurrency: usize,
) -> anyhow::Result<Value> {
    let started = Instant::now();
    let per = total / concurrency.max(1);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let op = op.clone();
        let node = node.to_string();
        tasks.push(tokio::spawn(async move {
            for _ in 0..per {
                op.node_invoke(&node, "system.which", json!({"bins": ["sh"]}), Some(10_000))
                    .await?;
            }
            Ok::<_, crate::operator::OperatorError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(
        json!({"calls": per * concurrency, "concurrency": concurrency, "seconds": secs, "calls_per_second": (per * concurrency) as f64 / secs}),
    )
}

/// Runs `bench`.
pub async fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let mut report = json!({
        "date": crate::now_ms(),
        "version": crate::VERSION,
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    });
    for pid in &args.pid {
        report["rss"][pid.to_string()] = json!(tree_rss(*pid));
    }
    if let Some(url) = &args.gateway {
        let env = global.env_lookup()?;
        let mut opts = OperatorOptions::new(url.clone());
        opts.token = env(crate::config::env::GATEWAY_TOKEN).map(Secret::new);
        opts.password = env(crate::config::env::GATEWAY_PASSWORD).map(Secret::new);
        let op = Arc::new(OperatorClient::connect(opts).await?);
        report["gateway_floor_node_list"] = gateway_floor(&op, args.calls).await?;
        let which = latency_interleaved(
            &op,
            &args.node,
            "system.which",
            json!({"bins": ["sh"]}),
            args.calls,
        )
        .await?;
        let run_true = latency_interleaved(
            &op,
            &args.node,
            "system.run",
            json!({"command": ["true"]}),
            args.calls / 2,
        )
        .await?;
        for (i, node) in args.node.iter().enumerate() {
            report["nodes"][node] =
                json!({"system_which": which[i], "system_run_true": run_true[i]});
        }
        // Throughput twice per node, alternating, keeping the better run of each.
        for _ in 0..2 {
            for node in &args.node {
                let tp = throughput(
                    op.clone(),
                    node,
                    args.throughput_calls / 5,
                    args.concurrency,
                )
                .await?;
                let prev = report["nodes"][node]["throughput"]["calls_per_second"]
                    .as_f64()
                    .unwrap_or(0.0);
                if tp["calls_per_second"].as_f64().unwrap_or(0.0) > prev {
                    report["nodes"][node]["throughput"] = tp;
                }
            }
        }
        if args.browser {
            for node in &args.node {
                report["nodes"][node]["browser"] =
                    browser_bench(&op, node, None, args.calls.min(100)).await?;
            }
        }
        return print(&args, &report);
    }

    if let Some(n) = args.scale {
        report["gateway_scale"] = gateway_scale(n, args.calls).await?;
        return print(&args, &report);
    }

    // Embedded: gateway in-process, node as a child process of this binary.
    let scratch = tempfile::Builder::new()
        .prefix("openclaw-node-bench-")
        .tempdir()?;
    let node_home = scratch.path().join("node");
    crate::credentials::create_private_dir(&node_home)?;
    std::fs::write(
        node_home.join("config.toml"),
        format!(
            "[exec]\nsecurity = \"full\"\n\n[device]\nhost_stats = false\n{}",
            if args.browser {
                "\n[browser]\nheadless = true\nallow_private_network = true\n"
            } else {
                ""
            }
        ),
    )?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let gw = gateway::start(
        listener,
        GatewayConfig {
            auth: GatewayAuth::None,
            auto_approve_devices: true,
            auto_approve_commands: true,
            ..GatewayConfig::default()
        },
    )
    .await?;
    let url = gw.url();
    let op = Arc::new(OperatorClient::connect(OperatorOptions::new(url.clone())).await?);
    let exe: PathBuf = std::env::current_exe()?;
    let spawned = Instant::now();
    let mut child = tokio::process::Command::new(&exe)
        .args([
            "--state-dir",
            node_home.to_str().unwrap_or("."),
            "--credential-store",
            "file",
            "run",
            "--url",
            &url,
        ])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the node")?;
    let node_id = loop {
        if let Ok(list) = op.node_list().await
            && let Some(n) = list
                .nodes
                .into_iter()
                .find(|n| n.connected && !n.commands.is_empty())
        {
            break n.node_id;
        }
        if spawned.elapsed() > Duration::from_secs(20) {
            anyhow::bail!("the node did not connect within 20 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    report["start_to_ready_ms"] = json!(spawned.elapsed().as_secs_f64() * 1000.0);
    let pid = child.id().context("the node exited")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    report["node_idle_rss_bytes"] = json!(tree_rss(pid));
    report["system_which"] = latency(
        &op,
        &node_id,
        "system.which",
        json!({"bins": ["sh"]}),
        args.calls,
    )
    .await?;
    // Node-side time of those sequential calls (request frame in → result frame out), from
    // the node's own histogram: the bucket holding the median.
    report["node_side_system_which_sequential"] = node_side_median(&node_home).await;
    report["system_run_true"] = latency(
        &op,
        &node_id,
        "system.run",
        json!({"command": ["true"]}),
        args.calls / 5,
    )
    .await?;
    report["throughput"] = throughput(
        op.clone(),
        &node_id,
        args.throughput_calls,
        args.concurrency,
    )
    .await?;
    report["node_rss_after_load_bytes"] = json!(tree_rss(pid));
    let t = Instant::now();
    let big = op
        .node_invoke(
            &node_id,
            "system.run",
            json!({"command": ["head", "-c", "100000000", "/dev/zero"]}),
            Some(60_000),
        )
        .await?;
    let secs = t.elapsed().as_secs_f64();
    report["system_run_100mb"] = json!({
        "seconds": secs,
        "mb_per_second": 100.0 / secs,
        "stdout_kept_bytes": big.payload["stdout"].as_str().map(str::len),
        "node_rss_after_bytes": tree_rss(pid),
    });
    // Node-side time per call, from the node's own metrics (request frame → result frame).
    let metrics: Value = crate::status::query(&node_home, "metrics")
        .await
        .ok()
        .and_then(|b| serde_json::from_str(&b).ok())
        .unwrap_or_default();
    let which = &metrics["commands"]["system.which"]["total"];
    if let (Some(sum), Some(n)) = (which["sumUs"].as_u64(), which["count"].as_u64())
        && n > 0
    {
        report["node_side_system_which_mean_us"] = json!(sum as f64 / n as f64);
    }
    report["binary_bytes"] = json!(std::fs::metadata(&exe).map(|m| m.len()).unwrap_or(0));
    // The cost of one node.host.stats sample.
    let dir = node_home.clone();
    let per_sample = tokio::task::spawn_blocking(move || {
        let n = 200;
        let t = Instant::now();
        for _ in 0..n {
            let _ = openclaw_capability_device::sample_host_stats(&dir);
        }
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    })
    .await?;
    report["host_stats_sample_us"] = json!(per_sample);
    if args.browser {
        report["browser"] = browser_bench(&op, &node_id, Some(pid), args.calls.min(100)).await?;
    }
    let _ = child.kill().await;
    gw.shutdown().await;
    print(&args, &report)
}

/// Serves a page of 1,000 buttons on 127.0.0.1 for the browser measurements.
async fn serve_big_page() -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let items: String = (0..1000)
        .map(|i| format!("<li><button>Item {i}</button></li>"))
        .collect();
    let body = format!("<!doctype html><title>Big</title><h1>1,000 elements</h1><ul>{items}</ul>");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
            });
        }
    });
    Ok(format!("http://{addr}/"))
}

/// Browser figures through `browser.proxy` on the node `node_id` (process `pid`).
async fn browser_bench(
    op: &OperatorClient,
    node_id: &str,
    pid: Option<u32>,
    calls: usize,
) -> anyhow::Result<Value> {
    let url = serve_big_page().await?;
    let proxy = |params: Value| async move {
        op.node_invoke(node_id, "browser.proxy", params, Some(60_000))
            .await
            .context("browser.proxy failed (is chromium installed?)")
    };
    let node_rss_before = pid.map(|p| rss(p as i32));
    let t = Instant::now();
    proxy(
        json!({"method": "POST", "path": "/tabs/open", "body": {"url": url}, "timeoutMs": 60_000}),
    )
    .await?;
    let first = proxy(json!({"path": "/snapshot", "timeoutMs": 60_000})).await?;
    let cold_ms = t.elapsed().as_secs_f64() * 1000.0;
    let first_refs = first.payload["result"]["stats"]["refs"]
        .as_u64()
        .unwrap_or(0);
    let mut samples = Vec::with_capacity(calls);
    let mut refs = 0;
    for _ in 0..calls {
        let t = Instant::now();
        let full = proxy(json!({"path": "/snapshot", "query": {"maxChars": 200000}})).await?;
        samples.push(t.elapsed());
        refs = full.payload["result"]["stats"]["refs"]
            .as_u64()
            .unwrap_or(0);
    }
    let mut efficient = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        proxy(json!({"path": "/snapshot", "query": {"mode": "efficient"}})).await?;
        efficient.push(t.elapsed());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let report = json!({
        "cold_start_to_first_snapshot_ms": cold_ms,
        "first_snapshot_refs": first_refs,
        "snapshot_refs": refs,
        "snapshot_1000_elements": percentiles(samples),
        "snapshot_1000_elements_efficient": percentiles(efficient),
        "node_rss_before_browser_bytes": node_rss_before,
        "node_rss_browser_idle_bytes": pid.map(|p| rss(p as i32)),
        "node_and_browser_tree_rss_bytes": pid.map(tree_rss),
    });
    proxy(json!({"method": "POST", "path": "/stop"})).await?;
    Ok(report)
}

/// Starts `openclaw-node gateway` as a child, connects `n` in-process nodes to it, and
/// reports the gateway's RSS and `system.which` latency to one node, idle and at load.
async fn gateway_scale(n: usize, calls: usize) -> anyhow::Result<Value> {
    use crate::credentials::{CredentialStore, MemoryStore, load_or_create_identity};
    use crate::session::{NodeOptions, Registry, SessionState, run_node};
    let scratch = tempfile::Builder::new()
        .prefix("openclaw-node-scale-")
        .tempdir()?;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let exe = std::env::current_exe()?;
    let mut gw = tokio::process::Command::new(&exe)
        .args(["--state-dir", scratch.path().to_str().unwrap_or(".")])
        .args(["gateway", "--auto-approve", "--port", &port.to_string()])
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the gateway")?;
    let gw_pid = gw.id().context("the gateway exited")?;
    let url = format!("ws://127.0.0.1:{port}");
    let op = loop {
        match OperatorClient::connect(OperatorOptions::new(url.clone())).await {
            Ok(op) => break Arc::new(op),
            Err(_) if gw.try_wait()?.is_none() => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => anyhow::bail!("the gateway did not start: {e}"),
        }
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut tasks = Vec::with_capacity(n);
    let registry = Arc::new(Registry::new(
        vec![Arc::new(openclaw_capability_system::SystemCapability::new(
            openclaw_capability_system::run::RunConfig::new(
                openclaw_capability_system::node_path(),
                scratch.path().join("node"),
            ),
        ))],
        &crate::policy::CommandPolicy::default(),
    ));
    let mut spawn_node = |i: usize| -> anyhow::Result<()> {
        let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
        let identity = load_or_create_identity(store.as_ref())?;
        let opts = NodeOptions::new(url.clone(), format!("scale-{i}"));
        let (tx, _rx) = tokio::sync::watch::channel(SessionState::Starting);
        tasks.push(tokio::spawn(run_node(
            opts,
            identity,
            store,
            registry.clone(),
            tx,
            shutdown.clone(),
        )));
        Ok(())
    };
    let connected = |want: usize| {
        let op = op.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(300);
            loop {
                let list = op.node_list().await?;
                let ready: Vec<String> = list
                    .nodes
                    .into_iter()
                    .filter(|n| n.connected && !n.commands.is_empty())
                    .map(|n| n.node_id)
                    .collect();
                if ready.len() >= want {
                    return anyhow::Ok(ready);
                }
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "only {} of {want} nodes connected",
                    ready.len()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    spawn_node(0)?;
    let first = connected(1).await?.remove(0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = rss(gw_pid as i32);
    let idle = latency(&op, &first, "system.which", json!({"bins": ["sh"]}), calls).await?;
    let ramp = Instant::now();
    for i in 1..n {
        spawn_node(i)?;
    }
    connected(n).await?;
    let ramp_s = ramp.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded_rss = rss(gw_pid as i32);
    let loaded = latency(&op, &first, "system.which", json!({"bins": ["sh"]}), calls).await?;
    shutdown.cancel();
    for t in tasks {
        let _ = t.await;
    }
    let _ = gw.kill().await;
    let ratio = loaded["p50_ms"].as_f64().unwrap_or(0.0) / idle["p50_ms"].as_f64().unwrap_or(1.0);
    Ok(json!({
        "nodes": n,
        "connect_all_seconds": ramp_s,
        "gateway_rss_one_node_bytes": idle_rss,
        "gateway_rss_all_nodes_bytes": loaded_rss,
        "system_which_one_node": idle,
        "system_which_all_nodes": loaded,
        "p50_ratio_loaded_to_idle": ratio,
    }))
}

/// The median bucket of the node's `system.which` total-time histogram: `{le_us, gt_us,
/// count}` (the median lies in `(gt_us, le_us]`).
async fn node_side_median(node_home: &std::path::Path) -> Value {
    let metrics: Value = crate::status::query(node_home, "metrics")
        .await
        .ok()
        .and_then(|b| serde_json::from_str(&b).ok())
        .unwrap_or_default();
    let total = &metrics["commands"]["system.which"]["total"];
    let (Some(buckets), Some(count)) = (total["buckets"].as_array(), total["count"].as_u64())
    else {
        return Value::Null;
    };
    let bounds = crate::status::metrics::BUCKETS_US;
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n.as_u64().unwrap_or(0);
        if seen * 2 >= count {
            return json!({
                "le_us": bounds.get(i),
                "gt_us": if i == 0 { 0 } else { bounds[i - 1] },
                "count": count,
            });
        }
    }
    Value::Null
}

fn print(args: &Args, report: &Value) -> anyhow::Result<ExitCode> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(ExitCode::SUCCESS);
    }
    fn walk(prefix: &str, v: &Value) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v);
                }
            }
            Value::Number(n) if n.is_f64() => {
                println!("{prefix:<40} {:.3}", n.as_f64().unwrap_or(0.0))
            }
            other => println!("{prefix:<40} {other}"),
        }
    }
    walk("", report);
    Ok(ExitCode::SUCCESS)
}
