//! Faults between node and gateway, injected by a TCP proxy the test controls: a
//! blackholed (half-open) link is detected by the tick watchdog and the node reconnects;
//! repeated cuts while calls are in flight lose no call and mix up no result.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use openclaw_node::session::SessionState;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::*;

/// A proxy that forwards bytes unless told to blackhole them or to cut every connection.
struct FaultProxy {
    url: String,
    blackhole: Arc<AtomicBool>,
    /// Bumped to cut: each pump stops when the generation it started in is over.
    generation: Arc<AtomicU32>,
}

impl FaultProxy {
    async fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("ws://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let blackhole = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicU32::new(0));
        let (b, g) = (blackhole.clone(), generation.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                let born = g.load(Ordering::SeqCst);
                tokio::spawn(pump(cr, sw, b.clone(), g.clone(), born));
                tokio::spawn(pump(sr, cw, b.clone(), g.clone(), born));
            }
        });
        Self {
            url,
            blackhole,
            generation,
        }
    }

    fn cut(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    blackhole: Arc<AtomicBool>,
    generation: Arc<AtomicU32>,
    born: u32,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::time::timeout(Duration::from_millis(20), from.read(&mut buf)).await;
        if generation.load(Ordering::SeqCst) != born {
            return; // dropping both halves closes the sockets
        }
        let n = match read {
            Err(_) => continue,
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => n,
        };
        if blackhole.load(Ordering::SeqCst) {
            continue; // swallowed: the peer sees a silent, still-open link
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// The gateway's tick. The node never watches a tick shorter than 1 s (a hostile or broken
/// gateway could otherwise make it reconnect in a loop), so tests use exactly that.
const TICK: Duration = Duration::from_millis(1000);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_link_is_detected_within_two_ticks_and_the_node_comes_back() {
    let gw = TestGateway::start_with(|c| c.tick_interval = TICK).await;
    let op = gw.operator().await;
    let proxy = FaultProxy::start(&gw.url).await;
    let mut node = TestNode::start(&proxy.url);
    pair(&gw, &mut node, &op).await;

    proxy.blackhole.store(true, Ordering::SeqCst);
    let silenced = Instant::now();
    node.wait_for("the node to notice the dead link", |s| {
        !matches!(s, SessionState::Ready { .. })
    })
    .await;
    let detected = silenced.elapsed();
    // The watchdog fires after 2 ticks without traffic; allow scheduling slack on a loaded
    // CI machine, but not a second watchdog period.
    assert!(
        detected <= TICK * 2 + Duration::from_millis(700),
        "took {detected:?} to notice"
    );
    proxy.cut();
    proxy.blackhole.store(false, Ordering::SeqCst);
    node.wait_ready().await;
    // The gateway may still be settling the old connection when the node reports ready
    // (seen once under full-suite load): the requirement is that it serves again.
    eventually("the node to serve again", || async {
        let r = op
            .node_invoke(
                &node.node_id,
                "test.echo",
                json!({"value": "back"}),
                Some(2000),
            )
            .await;
        r.ok().filter(|reply| reply.payload["value"] == "back")
    })
    .await;
    eprintln!("dead link noticed after {detected:?} (tick {TICK:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_while_calls_are_in_flight_lose_nothing_and_mix_nothing_up() {
    let gw = TestGateway::start_with(|c| c.tick_interval = TICK).await;
    let op = Arc::new(gw.operator().await);
    let proxy = FaultProxy::start(&gw.url).await;
    let mut node = TestNode::start(&proxy.url);
    pair(&gw, &mut node, &op).await;
    let node_id = node.node_id.clone();

    // Cut the node's link five times while 300 calls run, 20 at a time.
    let cutter = {
        let g = proxy.generation.clone();
        tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(250)).await;
                g.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let sem = Arc::new(tokio::sync::Semaphore::new(20));
    let mut calls = Vec::new();
    for i in 0..300u32 {
        let (op, node_id, sem) = (op.clone(), node_id.clone(), sem.clone());
        calls.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.unwrap();
            let started = Instant::now();
            let r = op
                .node_invoke(&node_id, "test.echo", json!({"value": i}), Some(3000))
                .await;
            (i, r, started.elapsed())
        }));
    }
    let (mut ok, mut failed) = (0, 0);
    for c in calls {
        let (i, r, took) = within("a call to end", c).await.unwrap();
        // Every call ends once, within its timeout (plus the operator's margin).
        assert!(took < Duration::from_secs(10), "call {i} took {took:?}");
        match r {
            Ok(reply) => {
                assert_eq!(
                    reply.payload["value"], i,
                    "call {i} got another call's result"
                );
                ok += 1;
            }
            Err(e) => {
                let text = format!("{e:?}");
                assert!(
                    text.contains("UNAVAILABLE")
                        || text.contains("TIMEOUT")
                        || text.contains("not connected"),
                    "call {i}: unexpected error {text}"
                );
                failed += 1;
            }
        }
    }
    cutter.await.unwrap();
    eprintln!("300 calls through 5 cuts: {ok} results, {failed} clean errors, 0 lost");
    assert_eq!(ok + failed, 300);
    assert!(ok > 0);
    // And the node is back and serving (it may first have to notice the last cut).
    eventually("the node to serve again after the cuts", || async {
        let r = op
            .node_invoke(&node_id, "test.echo", json!({"value": "after"}), Some(2000))
            .await;
        r.ok().filter(|reply| reply.payload["value"] == "after")
    })
    .await;
}
