//! `screen.snapshot` on a real X display (a private Xvfb per test, captured through the
//! pure-Rust X11 backend): a known pattern is drawn over the screen, captured through the
//! embedded gateway, and checked pixel by pixel. Without a display the cap is not
//! advertised and a forced call gets the reference error.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use openclaw_capability_api::Capability;
use openclaw_capability_screen::x11::X11Source;
use openclaw_capability_screen::{ScreenCapability, ScreenSettings, Source as _};
use openclaw_node::credentials::{CredentialStore, FileStore};
use openclaw_node::operator::{OperatorClient, OperatorError};
use serde_json::{Value, json};

use crate::helpers::*;

/// The test pattern: left half red; right half blue above, green below.
fn pattern_pixel(x: u32, y: u32, w: u32, h: u32) -> [u8; 4] {
    match (x < w / 2, y < h / 2) {
        (true, _) => [255, 0, 0, 255],
        (false, true) => [0, 0, 255, 255],
        (false, false) => [0, 255, 0, 255],
    }
}

/// A window showing the pattern over the whole screen, closed on drop.
struct Painted {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Painted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Shows the pattern with ImageMagick's `display` at +0+0 (there is no window manager on
/// Xvfb, so the window is undecorated) and waits until the screen shows it.
fn paint(display: &str, w: u32, h: u32) -> Painted {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pattern.png");
    image::RgbaImage::from_fn(w, h, |x, y| image::Rgba(pattern_pixel(x, y, w, h)))
        .save(&path)
        .unwrap();
    let child = std::process::Command::new("display")
        .args(["-geometry", "+0+0", "-borderwidth", "0"])
        .arg(&path)
        .env("DISPLAY", display)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("ImageMagick's `display` shows the test pattern: run scripts/test, which installs imagemagick");
    let painted = Painted { child, _dir: dir };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        // The window maps asynchronously: keep polling until the deadline.
        if let Ok(shot) = X11Source::new(display).capture(0)
            && close(shot.get_pixel(w / 4, h / 2).0, [255, 0, 0, 255])
        {
            return painted;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the pattern never appeared on {display}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

async fn node_with(
    cap: ScreenCapability,
) -> (
    TestGateway,
    openclaw_node::operator::OperatorClient,
    TestNode,
) {
    let gw = TestGateway::start().await;
    let op = gw.operator().await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn CredentialStore> = Arc::new(FileStore::in_state_dir(dir.path()));
    let caps: Vec<Arc<dyn Capability>> = vec![Arc::new(cap), Arc::new(TestCapability::default())];
    let mut node = TestNode::builder(&gw.url)
        .state(dir, store)
        .caps(caps)
        .start();
    pair(&gw, &mut node, &op).await;
    (gw, op, node)
}

async fn snap(op: &OperatorClient, node: &str, params: Value) -> Value {
    op.node_invoke(node, "screen.snapshot", params, Some(20_000))
        .await
        .unwrap()
        .payload
}

async fn snap_err(
    op: &OperatorClient,
    node: &str,
    params: Value,
) -> openclaw_node::protocol::ErrorShape {
    match op
        .node_invoke(node, "screen.snapshot", params, Some(20_000))
        .await
    {
        Err(OperatorError::Gateway(shape)) => shape,
        other => panic!("expected a gateway error, got {other:?}"),
    }
}

fn decode(v: &Value) -> image::RgbaImage {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v["base64"].as_str().unwrap())
        .unwrap();
    let prefix = format!("data:image/{};base64,", v["format"].as_str().unwrap());
    assert!(v["image"].as_str().unwrap().starts_with(&prefix));
    image::load_from_memory(&bytes).unwrap().to_rgba8()
}

fn close(a: [u8; 4], b: [u8; 4]) -> bool {
    a.iter().zip(b).take(3).all(|(x, y)| x.abs_diff(y) <= 40)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Xvfb and ImageMagick: scripts/test"]
async fn screen_snapshot_captures_the_real_display() {
    let xvfb = Xvfb::start();
    let probe = ScreenCapability::with_env(ScreenSettings::default(), &xvfb.env());
    let monitors = X11Source::new(&xvfb.display)
        .monitors()
        .expect("the display can be opened");
    assert_eq!(monitors, vec![(1280, 720)], "Xvfb's one screen");
    let (w, h) = monitors[0];
    let _painted = paint(&xvfb.display, w, h);
    let (_gw, op, node) = node_with(probe).await;
    let listed = op.node_list().await.unwrap();
    let me = listed
        .nodes
        .iter()
        .find(|n| n.node_id == node.node_id)
        .unwrap();
    assert!(
        me.caps.contains(&"screen".to_string())
            && me.commands.contains(&"screen.snapshot".to_string())
    );

    // PNG at full size: the pattern's three regions.
    let png = snap(&op, &node.node_id, json!({"maxWidth": 7680})).await;
    assert_eq!(png["format"], "png");
    assert_eq!(
        (
            png["width"].as_u64().unwrap(),
            png["height"].as_u64().unwrap()
        ),
        (w as u64, h as u64)
    );
    let img = decode(&png);
    assert_eq!(img.dimensions(), (w, h));
    for (x, y) in [
        (w / 4, h / 2),
        (3 * w / 4, h / 4),
        (3 * w / 4, 3 * h / 4),
        (10, 10),
        (w - 10, h - 10),
    ] {
        let got = img.get_pixel(x, y).0;
        assert!(
            close(got, pattern_pixel(x, y, w, h)),
            "pixel ({x},{y}) is {got:?}"
        );
    }

    // maxWidth scales with the aspect ratio kept; JPEG quality changes the size.
    let small = snap(&op, &node.node_id, json!({"maxWidth": 320})).await;
    assert_eq!(small["width"], 320);
    let want_h = (h as f64 * 320.0 / w as f64).round() as u64;
    assert_eq!(small["height"].as_u64().unwrap(), want_h);
    let jpeg_hi = snap(&op, &node.node_id, json!({"format": "jpg", "quality": 95})).await;
    let jpeg_lo = snap(&op, &node.node_id, json!({"format": "jpeg", "quality": 5})).await;
    assert_eq!(jpeg_hi["format"], "jpeg");
    assert!(jpeg_lo["base64"].as_str().unwrap().len() < jpeg_hi["base64"].as_str().unwrap().len());
    assert!(close(
        decode(&jpeg_hi).get_pixel(w / 4, h / 2).0,
        pattern_pixel(w / 4, h / 2, w, h)
    ));

    // Bad params: a clear error, and the node keeps serving.
    let shape = snap_err(&op, &node.node_id, json!({"format": "gif"})).await;
    assert!(
        shape.message.contains("unsupported screen format: gif"),
        "{}",
        shape.message
    );
    let shape = snap_err(&op, &node.node_id, json!({"screenIndex": 9})).await;
    assert!(
        shape.message.contains("screen index 9 out of range"),
        "{}",
        shape.message
    );
    let echo = op
        .node_invoke(&node.node_id, "test.echo", json!({"value": 1}), Some(5000))
        .await
        .unwrap();
    assert_eq!(echo.payload["value"], 1);
}

#[tokio::test]
async fn without_a_display_screen_is_not_advertised_and_a_forced_call_is_refused() {
    let env: HashMap<String, String> = HashMap::new();
    let cap = ScreenCapability::with_env(ScreenSettings::default(), &env);
    let reason = cap.unavailable_reason().unwrap();
    assert!(reason.contains("no display"), "{reason}");
    let (_gw, op, node) = node_with(cap.clone()).await;
    let listed = op.node_list().await.unwrap();
    let me = listed
        .nodes
        .iter()
        .find(|n| n.node_id == node.node_id)
        .unwrap();
    assert!(!me.caps.contains(&"screen".to_string()), "{:?}", me.caps);
    assert!(!me.commands.iter().any(|c| c.starts_with("screen.")));
    // Called directly (as a gateway that ignores the declaration would), the handler says why.
    let h = cap
        .handlers()
        .into_iter()
        .find(|h| h.name() == "screen.snapshot")
        .unwrap();
    let e = h
        .call(
            Some("{}".into()),
            openclaw_capability_api::CallContext::detached("x"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code.as_str(), "SCREEN_UNAVAILABLE");
    assert!(
        e.message.starts_with("SCREEN_UNAVAILABLE: no display"),
        "{}",
        e.message
    );
    // Disabled by config reads differently.
    let off = ScreenCapability::with_env(
        ScreenSettings { enabled: false },
        &[("DISPLAY".to_string(), ":0".to_string())].into(),
    );
    assert!(off.unavailable_reason().unwrap().contains("disabled"));
}
