//! Faults between node and gateway, injected by a TCP proxy the test controls
//! ([`FaultProxy`]): a blackholed (half-open) link is detected by the tick watchdog and
//! the node reconnects; cuts (whole or mid-frame) while calls are in flight lose no call
//! and mix up no result; latency is tolerated; a flapping link does not make the node
//! spin; a gateway restart mid-invoke ends the call once and kills its command.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use openclaw_node::session::SessionState;
use serde_json::json;

use crate::helpers::*;

/// The gateway's tick. The node never watches a tick shorter than 1 s (a hostile or broken
/// gateway could otherwise make it reconnect in a loop), so tests use exactly that.
const TICK: Duration = Duration::from_millis(1000);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_link_is_detected_within_two_ticks_and_the_node_comes_back() {
    let gw = TestGateway::start_with(|c| c.tick_interval = TICK).await;
    let op = gw.operator().await;
    let proxy = FaultProxy::start(&gw.url).await;
    let mut node = TestNode::builder(&proxy.url).start();
    pair(&gw, &mut node, &op).await;

    proxy.faults.blackhole.store(true, Ordering::SeqCst);
    let silenced = Instant::now();
    node.wait_for("the node to notice the dead link", |s| {
        !matches!(s, SessionState::Ready { .. })
    })
    .await;
    let detected = silenced.elapsed();
    // The watchdog fires 2 ticks after the last frame in, which came before the link went
    // silent: within 2 ticks of that, plus scheduling slack on a loaded CI machine.
    assert!(
        detected <= TICK * 2 + Duration::from_millis(300),
        "took {detected:?} to notice"
    );
    proxy.cut();
    proxy.faults.blackhole.store(false, Ordering::SeqCst);
    node.wait_ready().await;
    serves_again(&op, &node.node_id, "back").await;
    eprintln!("dead link noticed after {detected:?} (tick {TICK:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_while_calls_are_in_flight_lose_nothing_and_mix_nothing_up() {
    let gw = TestGateway::start_with(|c| c.tick_interval = TICK).await;
    let op = Arc::new(gw.operator().await);
    let proxy = FaultProxy::start(&gw.url).await;
    let mut node = TestNode::builder(&proxy.url).start();
    pair(&gw, &mut node, &op).await;
    let node_id = node.node_id.clone();

    // Cut the node's link five times while 300 calls run, 20 at a time.
    let cutter = {
        let f = proxy.faults.clone();
        tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(250)).await;
                f.generation.fetch_add(1, Ordering::SeqCst);
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
                    is_clean_call_error(&text),
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
    serves_again(&op, &node_id, "after").await;
}

/// Latency of 300 ms each way (well under the 2-tick watchdog): nothing reconnects, every
/// call succeeds with its own value, and each takes at least the added round trip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_link_is_tolerated_without_reconnects() {
    let gw = TestGateway::start_with(|c| c.tick_interval = TICK).await;
    let op = Arc::new(gw.operator().await);
    let proxy = FaultProxy::start(&gw.url).await;
    let mut node = TestNode::builder(&proxy.url).start();
    pair(&gw, &mut node, &op).await;
    let before = proxy.accepted();
    let left_ready = Arc::new(AtomicBool::new(false));
    let watcher = {
        let mut state = node.state.clone();
        let left = left_ready.clone();
        tokio::spawn(async move {
            while state.changed().await.is_ok() {
                if !matches!(*state.borrow(), SessionState::Ready { .. }) {
                    left.store(true, Ordering::SeqCst);
                }
            }
        })
    };
    proxy.faults.delay_ms.store(300, Ordering::SeqCst);
    let mut calls = Vec::new();
    for i in 0..40u32 {
        let (op, node_id) = (op.clone(), node.node_id.clone());
        calls.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(u64::from(i) * 50)).await;
            let started = Instant::now();
            let r = op
                .node_invoke(&node_id, "test.echo", json!({"value": i}), Some(5000))
                .await;
            (i, r, started.elapsed())
        }));
    }
    // Ticks go on through the slow link for a few watchdog periods.
    tokio::time::sleep(TICK * 4).await;
    for c in calls {
        let (i, r, took) = within("a call to end", c).await.unwrap();
        let reply = r.unwrap_or_else(|e| panic!("call {i} failed on a slow link: {e:?}"));
        assert_eq!(reply.payload["value"], i);
        assert!(took >= Duration::from_millis(600), "call {i} took {took:?}");
    }
    assert!(
        !left_ready.load(Ordering::SeqCst),
        "the node dropped a slow but live link"
    );
    assert_eq!(proxy.accepted(), before, "the node dialled again");
    watcher.abort();
}

/// The link cut in the middle of a frame, alternately toward the node and toward the
/// gateway, ten times: every call ends exactly once (its own result or a clean error),
/// neither side chokes on the half frame, and the node is back each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_cut_in_the_middle_lose_nothing() {
    let gw = TestGateway::start_with(|c| c.tick_interval = TICK).await;
    let op = gw.operator().await;
    let proxy = FaultProxy::start(&gw.url).await;
    let mut node = TestNode::builder(&proxy.url).start();
    pair(&gw, &mut node, &op).await;
    let (mut ok, mut failed) = (0, 0);
    let first = proxy.accepted();
    for round in 0..10u32 {
        proxy.faults.cut_mid_frame[(round % 2) as usize].store(true, Ordering::SeqCst);
        let r = op
            .node_invoke(
                &node.node_id,
                "test.echo",
                json!({"value": round}),
                Some(3000),
            )
            .await;
        match r {
            Ok(reply) => {
                assert_eq!(reply.payload["value"], round);
                ok += 1;
            }
            Err(e) => {
                let text = format!("{e:?}");
                assert!(
                    is_clean_call_error(&text),
                    "round {round}: unexpected error {text}"
                );
                failed += 1;
            }
        }
        // Whatever the armed cut hit (this call or a tick), it has happened by now or
        // happens on the next frame; the node must be back either way.
        serves_again(&op, &node.node_id, &format!("after-{round}")).await;
    }
    let dials = proxy.accepted() - first;
    eprintln!("10 mid-frame cuts: {ok} results, {failed} clean errors, {dials} redials");
    assert_eq!(ok + failed, 10);
    assert!(dials >= 5, "only {dials} redials: the cuts did not happen");
}

/// A link that dies 200 ms after every connect (past the handshake, so each dial
/// "succeeds"): with the default backoff the node dials a handful of times in 8 s, not in
/// a loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_link_does_not_make_the_node_spin() {
    let gw = TestGateway::start_auto_approve().await;
    let proxy = FaultProxy::start(&gw.url).await;
    let mut node = TestNode::builder(&proxy.url)
        .options(|o| {
            o.backoff = openclaw_node::session::BackoffPolicy::default();
        })
        .start();
    node.wait_ready().await;
    let start = proxy.accepted();
    let faults = proxy.faults.clone();
    let window = Duration::from_secs(8);
    let flapper = tokio::spawn(async move {
        let until = Instant::now() + window;
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(200)).await;
            faults.generation.fetch_add(1, Ordering::SeqCst);
        }
    });
    flapper.await.unwrap();
    let dials = proxy.accepted() - start;
    eprintln!("flapping link: {dials} dials in {window:?}");
    // Backoff 1 s, 2 s, 4 s (each jittered to half or more): at most 5 dials in 8 s.
    assert!((2..=5).contains(&dials), "{dials} dials in {window:?}");
}

/// The gateway stops while a `system.run` is running on the node: the operator's call ends
/// once (with an error, its gateway is gone), the node kills the command it can no longer
/// report, and after the gateway restarts on the same address the node serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_restart_mid_invoke_ends_the_call_once_and_kills_its_command() {
    let gw = TestGateway::start().await;
    let op = gw.operator().await;
    let mut node = TestNode::builder(&gw.url).exec_full().start();
    pair(&gw, &mut node, &op).await;
    // In the command line of both the shell and its `sleep`.
    let marker = format!("30.{}", std::process::id());
    let script = format!("sleep {marker}; : {marker}");
    let call = {
        let node_id = node.node_id.clone();
        tokio::spawn(async move {
            let r = op
                .node_invoke(
                    &node_id,
                    "system.run",
                    json!({"command": ["sh", "-c", script], "timeoutMs": 60000}),
                    Some(60000),
                )
                .await;
            (r, op)
        })
    };
    eventually("the command to start", || async {
        (!processes_with(&marker).is_empty()).then_some(())
    })
    .await;
    let addr = gw.handle().local_addr();
    let dir = gw.stop().await;
    let (r, _op) = within("the operator's call to end", call).await.unwrap();
    assert!(r.is_err(), "a call whose gateway stopped succeeded: {r:?}");
    node.wait_for("the node to notice the gateway stopped", |s| {
        !matches!(s, SessionState::Ready { .. })
    })
    .await;
    eventually("the orphaned command to be killed", || async {
        processes_with(&marker).is_empty().then_some(())
    })
    .await;
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let gw = TestGateway::start_on(listener, dir, |_| {}).await;
    node.wait_ready().await;
    let op = gw.operator().await;
    serves_again(&op, &node.node_id, "after-restart").await;
}
