//! The gateway's single port: a small HTTP/1.1 front that answers the health probes
//! (`/healthz`, `/health`, `/readyz`, `/ready`) itself and hands WebSocket upgrades to
//! tungstenite with the bytes already read. Hand-rolled rather than a web framework: the
//! gateway needs two routes and control over the upgrade, and this keeps the binary small.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;

/// Largest request head accepted.
pub const MAX_HEAD: usize = 16 * 1024;

/// A stream that replays already-read bytes before reading from the socket.
pub struct Prefixed<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.pos < this.prefix.len() {
            let n = (this.prefix.len() - this.pos).min(buf.remaining());
            buf.put_slice(&this.prefix[this.pos..this.pos + n]);
            this.pos += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// What the request head asked for.
pub enum Request {
    /// A WebSocket upgrade (replay the head to tungstenite).
    Upgrade(Prefixed<TcpStream>),
    /// Answered here; nothing more to do.
    Done,
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Reads the request head and either answers it (health probes, errors) or returns the
/// stream for an upgrade. `ready` is whether `/readyz` should say ready; a client that has
/// not sent its whole head within `head_timeout` is hung up on (the slowloris guard,
/// `GatewayConfig::request_head_timeout`).
pub async fn accept(
    mut stream: TcpStream,
    ready: bool,
    head_timeout: Duration,
) -> std::io::Result<Request> {
    let mut buf = Vec::with_capacity(1024);
    let head_end = tokio::time::timeout(head_timeout, async {
        let mut chunk = [0u8; 2048];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(None);
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = find_head_end(&buf) {
                return Ok(Some(end));
            }
            if buf.len() > MAX_HEAD {
                return Ok(Some(0));
            }
        }
    })
    .await
    .unwrap_or(Ok(None))?;
    let Some(end) = head_end else {
        return Ok(Request::Done);
    };
    if end == 0 {
        respond(
            &mut stream,
            "431 Request Header Fields Too Large",
            "",
            false,
        )
        .await?;
        return Ok(Request::Done);
    }
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts
        .next()
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_string();
    let upgrade = lines.any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("upgrade") && v.trim().eq_ignore_ascii_case("websocket")
        })
    });
    if upgrade && method == "GET" {
        return Ok(Request::Upgrade(Prefixed {
            prefix: buf,
            pos: 0,
            inner: stream,
        }));
    }
    let head_only = method == "HEAD";
    if method != "GET" && method != "HEAD" {
        respond(&mut stream, "405 Method Not Allowed", "", head_only).await?;
        return Ok(Request::Done);
    }
    match path.as_str() {
        "/healthz" | "/health" => {
            respond(
                &mut stream,
                "200 OK",
                r#"{"ok":true,"status":"live"}"#,
                head_only,
            )
            .await?
        }
        "/readyz" | "/ready" if ready => {
            respond(
                &mut stream,
                "200 OK",
                r#"{"ok":true,"status":"ready"}"#,
                head_only,
            )
            .await?
        }
        "/readyz" | "/ready" => {
            respond(
                &mut stream,
                "503 Service Unavailable",
                r#"{"ok":false,"status":"draining"}"#,
                head_only,
            )
            .await?
        }
        "/" => {
            respond(
                &mut stream,
                "426 Upgrade Required",
                r#"{"ok":false,"error":"this is the gateway's WebSocket endpoint"}"#,
                head_only,
            )
            .await?
        }
        _ => respond(&mut stream, "404 Not Found", r#"{"ok":false}"#, head_only).await?,
    }
    Ok(Request::Done)
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    body: &str,
    head_only: bool,
) -> std::io::Result<()> {
    let text = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\ncache-control: no-store\r\n\r\n{}",
        body.len(),
        if head_only { "" } else { body }
    );
    stream.write_all(text.as_bytes()).await?;
    stream.shutdown().await
}
