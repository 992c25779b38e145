//! What a camera backend provides: the cameras present ([`Device`]) and one frame from one
//! of them. The platform backends (`v4l2`, `nokhwa_source`) and the tests' stand-ins
//! implement [`Source`].

use serde::Serialize;

/// One camera.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// `/dev/videoN` on Linux, the backend's index elsewhere.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Always `unknown` on desktops.
    pub position: &'static str,
    /// `v4l2` on Linux, `avfoundation` on macOS.
    pub device_type: &'static str,
}

/// Where frames come from: the real cameras, or a stand-in in tests.
pub trait Source: Send + Sync + 'static {
    /// The cameras present.
    fn list(&self) -> Result<Vec<Device>, String>;
    /// One RGB frame from `device` after `delay_ms` of streaming.
    fn capture(&self, device: &Device, delay_ms: u64) -> Result<image::RgbImage, String>;
}
