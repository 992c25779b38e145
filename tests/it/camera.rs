//! Camera on a machine without one: enabled in config, yet not advertised, and a forced
//! call gets the reference error. (No virtual camera can be loaded on the CI kernel, and
//! no camera is attached here: the V4L2 capture calls are not exercised; listing, format
//! choice and every decoder are unit-tested on synthetic frames in the camera crate.)

use std::sync::Arc;

use openclaw_capability_api::{CallContext, Capability};
use openclaw_capability_camera::{CameraCapability, CameraSettings};
use openclaw_node::credentials::{CredentialStore, FileStore};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn no_camera_means_no_camera_cap_and_a_clear_error() {
    let has_camera = std::fs::read_dir("/dev")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().starts_with("video"))
        })
        .unwrap_or(false);
    let cap = CameraCapability::new(CameraSettings { enabled: true });
    if has_camera {
        // The opposite case, checked instead of skipped: a capture-capable node is listed
        // (or, for one this user may not open, the reason says how to fix it).
        // (A video node that cannot capture, e.g. a codec, reads as no camera.)
        match cap.unavailable_reason() {
            None => {}
            Some(reason) => assert!(
                reason.contains("video` group") || reason.contains("no camera device"),
                "{reason}"
            ),
        }
        return;
    }
    assert!(
        cap.unavailable_reason()
            .unwrap()
            .contains("no camera device")
    );
    let gw = TestGateway::start().await;
    let op = gw.operator().await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn CredentialStore> = Arc::new(FileStore::in_state_dir(dir.path()));
    let caps: Vec<Arc<dyn Capability>> =
        vec![Arc::new(cap.clone()), Arc::new(TestCapability::default())];
    let mut node = TestNode::builder(&gw.url)
        .state(dir, store)
        .caps(caps)
        .start();
    pair(&gw, &mut node, &op).await;
    let listed = op.node_list().await.unwrap();
    let me = listed
        .nodes
        .iter()
        .find(|n| n.node_id == node.node_id)
        .unwrap();
    assert!(!me.caps.contains(&"camera".to_string()), "{:?}", me.caps);
    assert!(!me.commands.iter().any(|c| c.starts_with("camera.")));
    let list = cap
        .handlers()
        .into_iter()
        .find(|h| h.name() == "camera.list")
        .unwrap();
    let out = list
        .call(Some("{}".into()), CallContext::detached("l"))
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        json!({"devices": []})
    );
    let snap = cap
        .handlers()
        .into_iter()
        .find(|h| h.name() == "camera.snap")
        .unwrap();
    let e = snap
        .call(Some(r#"{"delayMs":0}"#.into()), CallContext::detached("s"))
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "CAMERA_UNAVAILABLE: no V4L2 camera devices found"
    );
}
