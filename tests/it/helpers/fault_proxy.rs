//! A TCP proxy between node and gateway that injects faults: it can blackhole the link
//! (a half-open connection), cut every connection, cut a frame in the middle, and add
//! latency, and it counts how often the node dialled. Shared by the `it` and `soak` tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to the bytes it forwards; the test flips these while calls run.
#[derive(Default)]
pub(crate) struct Faults {
    /// Swallow every byte but keep the sockets open (a half-open link).
    pub blackhole: AtomicBool,
    /// Bumped to cut: each pump stops when the generation it started in is over.
    pub generation: AtomicU32,
    /// Latency added to every chunk, each way.
    pub delay_ms: AtomicU64,
    /// Armed per direction (0: toward the node, 1: toward the gateway): forward half of the
    /// next chunk, then cut every connection (a frame cut in the middle).
    pub cut_mid_frame: [AtomicBool; 2],
    /// Connections accepted so far (how often the node dialled).
    pub accepted: AtomicU32,
}

/// A TCP proxy between node and gateway that injects [`Faults`].
pub(crate) struct FaultProxy {
    /// Where the node should dial.
    pub url: String,
    /// The switches.
    pub faults: Arc<Faults>,
}

impl FaultProxy {
    /// A proxy to `upstream` (a `ws://host:port` URL).
    pub(crate) async fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("ws://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let faults = Arc::new(Faults::default());
        let f = faults.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                f.accepted.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                let born = f.generation.load(Ordering::SeqCst);
                tokio::spawn(pump(sr, cw, f.clone(), born, 0));
                tokio::spawn(pump(cr, sw, f.clone(), born, 1));
            }
        });
        Self { url, faults }
    }

    /// Cuts every open connection.
    pub(crate) fn cut(&self) {
        self.faults.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// How many connections the proxy accepted so far.
    pub(crate) fn accepted(&self) -> u32 {
        self.faults.accepted.load(Ordering::SeqCst)
    }
}

/// Forwards one direction. Reading and writing are separate tasks joined by a queue so
/// that latency delays each chunk without limiting throughput.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    faults: Arc<Faults>,
    born: u32,
    direction: usize,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let f = faults.clone();
    let writer = tokio::spawn(async move {
        while let Some((due, bytes)) = rx.recv().await {
            tokio::time::sleep_until(due.into()).await;
            if f.generation.load(Ordering::SeqCst) != born {
                return;
            }
            if f.cut_mid_frame[direction].swap(false, Ordering::SeqCst) && bytes.len() > 1 {
                let _ = to.write_all(&bytes[..bytes.len() / 2]).await;
                f.generation.fetch_add(1, Ordering::SeqCst);
                return;
            }
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
    });
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::time::timeout(Duration::from_millis(20), from.read(&mut buf)).await;
        if faults.generation.load(Ordering::SeqCst) != born || writer.is_finished() {
            break; // dropping both halves closes the sockets
        }
        let n = match read {
            Err(_) => continue,
            Ok(Ok(0)) | Ok(Err(_)) => {
                // The sender closed: deliver what it sent before (a refusal, a close
                // frame), then close, as a TCP path would.
                drop(tx);
                let _ = writer.await;
                return;
            }
            Ok(Ok(n)) => n,
        };
        if faults.blackhole.load(Ordering::SeqCst) {
            continue; // swallowed: the peer sees a silent, still-open link
        }
        let delay = Duration::from_millis(faults.delay_ms.load(Ordering::SeqCst));
        if tx
            .send((Instant::now() + delay, buf[..n].to_vec()))
            .is_err()
        {
            break;
        }
    }
    writer.abort();
}
