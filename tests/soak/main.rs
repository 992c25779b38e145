//! The soak: many invocations, mixed across commands, through the embedded gateway while a
//! proxy cuts the node's link at random. Every call must end exactly once with its own
//! result or a clean error; afterwards no command process is left, open file descriptors
//! have not grown, and resident memory grew by less than 5 MB.
//!
//! Its own test binary, so the descriptors and memory it reads are its own (cargo runs test
//! binaries one after another). CI runs 4,000 invocations; the long version:
//!
//! ```text
//! OPENCLAW_SOAK_INVOCATIONS=100000 cargo test --release --test soak -- --nocapture
//! ```

#[allow(dead_code, unused_imports)]
#[path = "../it/helpers/mod.rs"]
mod helpers;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use helpers::*;
use openclaw_node::operator::OperatorClient;
use openclaw_node::session::SessionState;
use serde_json::json;

/// Calls in flight at once.
const CONCURRENCY: u64 = 16;
/// The gateway's timeout for each call; a call still open well after it is lost.
const CALL_TIMEOUT_MS: u64 = 3000;

/// What the process holds at a quiet moment.
#[derive(Debug, Clone, Copy)]
struct Reading {
    fds: usize,
    rss_kb: u64,
    live_children: usize,
    zombies: usize,
}

impl Reading {
    fn now() -> Self {
        let fds = std::fs::read_dir("/proc/self/fd").unwrap().count();
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let rss_kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        let me = std::process::id();
        let (mut live_children, mut zombies) = (0, 0);
        for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // pid (comm) state ppid …; comm may hold spaces, so split after the last ')'.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(me) {
                if fields[0] == "Z" {
                    zombies += 1;
                } else {
                    live_children += 1;
                }
            }
        }
        Self {
            fds,
            rss_kb,
            live_children,
            zombies,
        }
    }
}

/// One call of the mix, chosen by its number, checked against what it must return.
async fn call(op: &OperatorClient, node_id: &str, i: u64) -> Result<(), String> {
    let (command, params) = match i % 10 {
        0..=3 => ("test.echo", json!({"value": i})),
        4..=6 => ("system.which", json!({"bins": ["sh"]})),
        7 | 8 => ("system.run", json!({"command": ["echo", i.to_string()]})),
        _ => ("system.execApprovals.get", json!({})),
    };
    let reply = op
        .node_invoke(node_id, command, params, Some(CALL_TIMEOUT_MS))
        .await
        .map_err(|e| format!("{e:?}"))?;
    let p = &reply.payload;
    let right = match command {
        "test.echo" => p["value"] == i,
        "system.which" => p["bins"]["sh"].is_string(),
        "system.run" => p["stdout"] == format!("{i}\n") && p["success"] == true,
        _ => p["hash"].is_string(),
    };
    assert!(
        right,
        "call {i} ({command}) got a wrong or foreign result: {p}"
    );
    Ok(())
}

/// Runs calls `from..to` with [`CONCURRENCY`] workers; returns (results, clean errors).
async fn run_calls(op: &Arc<OperatorClient>, node_id: &str, from: u64, to: u64) -> (u64, u64) {
    let next = Arc::new(AtomicU64::new(from));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (op, node_id) = (op.clone(), node_id.to_string());
        let (next, ok, failed) = (next.clone(), ok.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= to {
                    return;
                }
                let limit = Duration::from_millis(CALL_TIMEOUT_MS) + Duration::from_secs(5);
                match tokio::time::timeout(limit, call(&op, &node_id, i)).await {
                    Err(_) => panic!("call {i} was lost: no outcome after {limit:?}"),
                    Ok(Ok(())) => ok.fetch_add(1, Ordering::SeqCst),
                    Ok(Err(e)) => {
                        assert!(is_clean_call_error(&e), "call {i}: unexpected error {e}");
                        // Like an operator would, wait a moment before calling a node
                        // that is away (otherwise calls fail in a tight loop while the
                        // node redials and the mix is mostly instant errors).
                        if e.contains("not connected") {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        failed.fetch_add(1, Ordering::SeqCst)
                    }
                };
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    (ok.load(Ordering::SeqCst), failed.load(Ordering::SeqCst))
}

/// Waits until the node serves again and nothing runs, then reads the process.
async fn quiet_reading(op: &OperatorClient, node: &mut TestNode) -> Reading {
    node.wait_for("the node to be ready", |s| {
        matches!(s, SessionState::Ready { .. })
    })
    .await;
    serves_again(op, &node.node_id, "q").await;
    // Let closed sockets and reaped children settle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Reading::now()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_mixed_invocations_through_random_cuts() {
    let total: u64 = std::env::var("OPENCLAW_SOAK_INVOCATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let gw = TestGateway::start_with(|c| c.tick_interval = Duration::from_secs(1)).await;
    let op = Arc::new(gw.operator().await);
    let proxy = FaultProxy::start(&gw.url).await;
    let mut node = TestNode::builder(&proxy.url).exec_full().start();
    pair(&gw, &mut node, &op).await;
    let node_id = node.node_id.clone();

    // Warm up without faults (allocator arenas, blocking threads, caches), then read.
    let warmup = 1000.min(total / 4);
    let (warm_ok, warm_failed) = run_calls(&op, &node_id, 0, warmup).await;
    assert_eq!((warm_ok, warm_failed), (warmup, 0));
    let before = quiet_reading(&op, &mut node).await;

    // The link is cut every 0.3-1.5 s (random) while the rest runs.
    let cuts = Arc::new(AtomicU64::new(0));
    let stop = tokio_util::sync::CancellationToken::new();
    let cutter = {
        let (faults, cuts, stop) = (proxy.faults.clone(), cuts.clone(), stop.clone());
        let mut seed = u64::from(std::process::id()) | 1;
        tokio::spawn(async move {
            loop {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let wait = Duration::from_millis(300 + seed % 1200);
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
                faults.generation.fetch_add(1, Ordering::SeqCst);
                cuts.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let dials_before = proxy.accepted();
    let started = Instant::now();
    let (ok, failed) = run_calls(&op, &node_id, warmup, total).await;
    let took = started.elapsed();
    stop.cancel();
    cutter.await.unwrap();
    let after = quiet_reading(&op, &mut node).await;
    let (cuts, dials) = (cuts.load(Ordering::SeqCst), proxy.accepted() - dials_before);
    let rate = (total - warmup) as f64 / took.as_secs_f64();
    eprintln!(
        "soak: {} calls in {took:.1?} ({rate:.0}/s) through {cuts} cuts ({dials} redials): \
         {ok} results, {failed} clean errors, 0 lost; fds {} -> {}, RSS {} -> {} kB, \
         children {} -> {} (zombies {} -> {})",
        total - warmup,
        before.fds,
        after.fds,
        before.rss_kb,
        after.rss_kb,
        before.live_children,
        after.live_children,
        before.zombies,
        after.zombies,
    );
    assert_eq!(ok + failed, total - warmup);
    assert!(ok > failed, "most calls should succeed between cuts");
    assert!(cuts > 0 && dials > 0, "no fault was injected");
    assert_eq!(after.live_children, 0, "command processes left running");
    assert_eq!(after.zombies, 0, "command processes left unreaped");
    assert!(
        after.fds <= before.fds + 2,
        "open descriptors grew from {} to {}",
        before.fds,
        after.fds
    );
    assert!(
        after.rss_kb < before.rss_kb + 5 * 1024,
        "RSS grew from {} to {} kB",
        before.rss_kb,
        after.rss_kb
    );
}
