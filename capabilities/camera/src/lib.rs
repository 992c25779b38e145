//! `camera.list` and `camera.snap` (spec `commands.md` §8): V4L2 on Linux through
//! [`v4l2`] (ioctls in Rust: nothing to install to build or to start), AVFoundation on
//! macOS through nokhwa. Frames are decoded in [`frames`] and encoded in [`pipeline`].
//!
//! Off unless `[camera] enabled = true`, as in the reference (a camera is sensitive; the
//! Gateway also treats `camera.snap` as dangerous). When enabled the cap is advertised only
//! if a device is present, probed at each connect. `camera.clip` is not offered: this build
//! has no video encoder, and a command that cannot produce a real MP4 is not advertised.

#![forbid(unsafe_code)]

pub mod frames;
#[cfg(target_os = "macos")]
mod nokhwa_source;
pub mod pipeline;
mod source;
#[cfg(target_os = "linux")]
pub mod v4l2;

use std::sync::Arc;

use base64::Engine as _;
use openclaw_capability_api::{
    Availability, CallContext, Capability, CapabilityError, Command, ErrorCode, Handler, erase,
};
use serde::{Deserialize, Serialize};

pub use source::{Device, Source};

/// Default `maxWidth` of a photo.
pub const DEFAULT_MAX_WIDTH: u32 = 1600;
/// Default JPEG quality (0..1).
pub const DEFAULT_QUALITY: f64 = 0.9;
/// Default delay before the photo, letting exposure settle.
pub const DEFAULT_DELAY_MS: u64 = 2000;
/// Largest raw photo: base64 of it must fit the 25 MiB frame with a 64 KiB envelope.
pub const MAX_PHOTO_BYTES: usize = 19_611_648;

/// `[camera]` in the node config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CameraSettings {
    /// Serve the camera commands (default false).
    pub enabled: bool,
}

/// The cameras of this platform, or why there are none.
fn system_source() -> Result<Arc<dyn Source>, String> {
    #[cfg(target_os = "linux")]
    return Ok(Arc::new(v4l2::V4l2Source));
    #[cfg(target_os = "macos")]
    return Ok(Arc::new(nokhwa_source::NokhwaSource));
    #[allow(unreachable_code)]
    Err("cameras are not supported on this platform".into())
}

/// The camera capability.
#[derive(Clone)]
pub struct CameraCapability {
    settings: CameraSettings,
    /// The frame source, or why this platform has none.
    source: Result<Arc<dyn Source>, String>,
}

impl CameraCapability {
    /// Real cameras.
    pub fn new(settings: CameraSettings) -> Self {
        Self {
            settings,
            source: system_source(),
        }
    }

    /// A given frame source (tests).
    pub fn with_source(settings: CameraSettings, source: Arc<dyn Source>) -> Self {
        Self {
            settings,
            source: Ok(source),
        }
    }

    /// Why the camera cannot be used here, if it cannot.
    pub fn unavailable_reason(&self) -> Option<String> {
        if !self.settings.enabled {
            return Some("the camera is disabled ([camera] enabled = false, the default)".into());
        }
        match self
            .source
            .as_ref()
            .map_err(String::clone)
            .and_then(|s| s.list())
        {
            Ok(d) if d.is_empty() => Some("no camera device found".into()),
            Ok(_) => None,
            Err(e) => Some(format!("cannot list cameras: {e}")),
        }
    }
}

impl Capability for CameraCapability {
    fn caps(&self) -> Vec<&'static str> {
        vec!["camera"]
    }

    fn handlers(&self) -> Vec<Arc<dyn Handler>> {
        vec![
            erase(List { cap: self.clone() }),
            erase(Snap { cap: self.clone() }),
        ]
    }

    fn availability(&self) -> Availability {
        match self.unavailable_reason() {
            None => Availability::Available,
            Some(r) => Availability::Unavailable(r),
        }
    }

    fn permissions(&self) -> Vec<(&'static str, bool)> {
        vec![("camera.capture", self.unavailable_reason().is_none())]
    }
}

fn token(token: &'static str, detail: impl std::fmt::Display) -> CapabilityError {
    CapabilityError::new(ErrorCode::Token(token), format!("{token}: {detail}"))
}

fn disabled_or_devices(cap: &CameraCapability) -> Result<Vec<Device>, CapabilityError> {
    if !cap.settings.enabled {
        return Err(token(
            "CAMERA_DISABLED",
            "the camera is disabled on this node ([camera] enabled = false)",
        ));
    }
    cap.source
        .as_ref()
        .map_err(String::clone)
        .and_then(|s| s.list())
        .map_err(|e| token("CAMERA_UNAVAILABLE", e))
}

/// `camera.list` result.
#[derive(Debug, Serialize)]
pub struct ListResult {
    /// The cameras.
    pub devices: Vec<Device>,
}

struct List {
    cap: CameraCapability,
}

impl Command for List {
    type Params = serde_json::Value;
    type Output = ListResult;

    fn name(&self) -> &'static str {
        "camera.list"
    }

    async fn run(
        &self,
        _p: serde_json::Value,
        _ctx: CallContext,
    ) -> Result<ListResult, CapabilityError> {
        let cap = self.cap.clone();
        let devices = tokio::task::spawn_blocking(move || disabled_or_devices(&cap))
            .await
            .map_err(|e| token("CAMERA_UNAVAILABLE", e))??;
        Ok(ListResult { devices })
    }
}

/// `camera.snap` params.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapParams {
    /// Device id from `camera.list` (default: the first).
    #[serde(default)]
    pub device_id: Option<String>,
    /// `jpg` (default) or `jpeg`.
    #[serde(default)]
    pub format: Option<String>,
    /// Widest output (default 1600; values below 2 are ignored).
    #[serde(default)]
    pub max_width: Option<f64>,
    /// JPEG quality 0..1 (default 0.9, clamped to 0.05..1).
    #[serde(default)]
    pub quality: Option<f64>,
    /// Streaming time before the photo (default 2000, clamped to 0..10000 ms).
    #[serde(default)]
    pub delay_ms: Option<f64>,
    /// Ignored on desktops.
    #[serde(default)]
    pub facing: Option<String>,
}

/// `camera.snap` result.
#[derive(Debug, Serialize)]
pub struct SnapResult {
    /// `jpg`.
    pub format: &'static str,
    /// The photo, base64.
    pub base64: String,
    /// Width, from the JPEG's frame header.
    pub width: u32,
    /// Height, from the JPEG's frame header.
    pub height: u32,
}

struct Snap {
    cap: CameraCapability,
}

impl Command for Snap {
    type Params = SnapParams;
    type Output = SnapResult;

    fn name(&self) -> &'static str {
        "camera.snap"
    }

    async fn run(&self, p: SnapParams, _ctx: CallContext) -> Result<SnapResult, CapabilityError> {
        match p.format.as_deref() {
            None | Some("jpg") | Some("jpeg") => {}
            Some(other) => {
                return Err(CapabilityError::invalid_request(format!(
                    "INVALID_REQUEST: unsupported camera image format: {other}"
                )));
            }
        }
        let max_width = p
            .max_width
            .filter(|w| w.is_finite() && *w >= 2.0)
            .map_or(DEFAULT_MAX_WIDTH, |w| w as u32);
        let quality = p
            .quality
            .filter(|q| q.is_finite())
            .unwrap_or(DEFAULT_QUALITY)
            .clamp(0.05, 1.0);
        let delay = p
            .delay_ms
            .filter(|d| d.is_finite())
            .map_or(DEFAULT_DELAY_MS, |d| d.clamp(0.0, 10_000.0) as u64);
        let cap = self.cap.clone();
        let wanted = p.device_id.clone();
        let (bytes, width, height) =
            tokio::task::spawn_blocking(move || -> Result<_, CapabilityError> {
                let devices = disabled_or_devices(&cap)?;
                let device = match &wanted {
                    Some(id) => devices.iter().find(|d| &d.id == id).ok_or_else(|| {
                        CapabilityError::invalid_request(format!(
                            "INVALID_REQUEST: camera device not found: {id}"
                        ))
                    })?,
                    None => devices.first().ok_or_else(|| {
                        token("CAMERA_UNAVAILABLE", "no V4L2 camera devices found")
                    })?,
                };
                let frame = cap
                    .source
                    .as_ref()
                    .map_err(String::clone)
                    .and_then(|s| s.capture(device, delay))
                    .map_err(|e| token("CAMERA_UNAVAILABLE", e))?;
                pipeline::photo(&frame, max_width, quality, MAX_PHOTO_BYTES)
                    .map_err(|e| token("PAYLOAD_TOO_LARGE", e))
            })
            .await
            .map_err(|e| token("CAMERA_UNAVAILABLE", e))??;
        Ok(SnapResult {
            format: "jpg",
            base64: base64::engine::general_purpose::STANDARD.encode(&bytes),
            width,
            height,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(Vec<Device>);

    impl Source for Fake {
        fn list(&self) -> Result<Vec<Device>, String> {
            Ok(self.0.clone())
        }
        fn capture(&self, _d: &Device, _delay: u64) -> Result<image::RgbImage, String> {
            Ok(image::RgbImage::from_fn(1920, 1080, |x, _| {
                if x < 960 {
                    image::Rgb([250, 10, 10])
                } else {
                    image::Rgb([10, 10, 250])
                }
            }))
        }
    }

    fn dev(id: &str) -> Device {
        Device {
            id: id.into(),
            name: "Fake Cam".into(),
            position: "unknown",
            device_type: "v4l2",
        }
    }

    async fn call(
        cap: &CameraCapability,
        name: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, CapabilityError> {
        let h = cap
            .handlers()
            .into_iter()
            .find(|h| h.name() == name)
            .unwrap();
        h.call(Some(params.to_string()), CallContext::detached("t"))
            .await
            .map(|s| serde_json::from_str(&s).unwrap())
    }

    #[tokio::test]
    async fn snap_encodes_a_scaled_jpeg_with_its_real_dimensions() {
        let cap = CameraCapability::with_source(
            CameraSettings { enabled: true },
            Arc::new(Fake(vec![dev("/dev/video0")])),
        );
        assert_eq!(cap.availability(), Availability::Available);
        let list = call(&cap, "camera.list", serde_json::json!({}))
            .await
            .unwrap();
        assert_eq!(
            list["devices"][0],
            serde_json::json!({"id": "/dev/video0", "name": "Fake Cam", "position": "unknown", "deviceType": "v4l2"})
        );
        let snap = call(
            &cap,
            "camera.snap",
            serde_json::json!({"maxWidth": 640, "quality": 0.5, "delayMs": 0}),
        )
        .await
        .unwrap();
        assert_eq!(snap["format"], "jpg");
        assert_eq!(
            (snap["width"].as_u64(), snap["height"].as_u64()),
            (Some(640), Some(360))
        );
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(snap["base64"].as_str().unwrap())
            .unwrap();
        let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (640, 360));
        let p = img.get_pixel(100, 100).0;
        assert!(p[0] > 200 && p[2] < 60, "{p:?}");
    }

    #[tokio::test]
    async fn errors_use_the_reference_tokens() {
        let cap = CameraCapability::with_source(
            CameraSettings { enabled: true },
            Arc::new(Fake(vec![dev("/dev/video0")])),
        );
        let e = call(&cap, "camera.snap", serde_json::json!({"format": "png"}))
            .await
            .unwrap_err();
        assert_eq!(
            e.message,
            "INVALID_REQUEST: unsupported camera image format: png"
        );
        let e = call(
            &cap,
            "camera.snap",
            serde_json::json!({"deviceId": "/dev/video7", "delayMs": 0}),
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.message,
            "INVALID_REQUEST: camera device not found: /dev/video7"
        );
        let none =
            CameraCapability::with_source(CameraSettings { enabled: true }, Arc::new(Fake(vec![])));
        assert!(
            matches!(none.availability(), Availability::Unavailable(r) if r.contains("no camera"))
        );
        let e = call(&none, "camera.snap", serde_json::json!({"delayMs": 0}))
            .await
            .unwrap_err();
        assert_eq!(
            e.message,
            "CAMERA_UNAVAILABLE: no V4L2 camera devices found"
        );
        assert_eq!(e.code.as_str(), "CAMERA_UNAVAILABLE");
        let off = CameraCapability::with_source(
            CameraSettings::default(),
            Arc::new(Fake(vec![dev("/dev/video0")])),
        );
        assert!(
            matches!(off.availability(), Availability::Unavailable(r) if r.contains("disabled"))
        );
        let e = call(&off, "camera.list", serde_json::json!({}))
            .await
            .unwrap_err();
        assert!(e.message.starts_with("CAMERA_DISABLED: "), "{}", e.message);
    }
}
