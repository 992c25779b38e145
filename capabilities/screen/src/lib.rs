//! `screen.snapshot`: a PNG or JPEG of one display, scaled to `maxWidth` and kept within the
//! Gateway's frame limit. Shapes follow the reference (spec `commands.md` §10).
//!
//! Frames come from a [`Source`]; [`backend`] picks the one this environment calls for:
//! on Linux the X11 protocol in pure Rust ([`x11`]) or, in a Wayland session, the desktop
//! portal over D-Bus ([`portal`]) — neither needs a system library to build or to start —
//! and xcap on macOS. The capability is advertised only when that source answers with at
//! least one screen: probed at each connect, so a display that appears later is picked up
//! on reconnect. `screen.record` is not offered: there is no video encoder in this build,
//! and a command that cannot produce a real video container is not advertised.

#![forbid(unsafe_code)]

pub mod backend;
pub mod encode;
#[cfg(target_os = "linux")]
pub mod portal;
mod source;
#[cfg(target_os = "linux")]
pub mod x11;
#[cfg(target_os = "macos")]
mod xcap_source;

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use openclaw_capability_api::{
    Availability, CallContext, Capability, CapabilityError, Command, Handler, erase,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use backend::Backend;
pub use encode::{Format, encode_within};
pub use source::Source;

/// Default `maxWidth`.
pub const DEFAULT_MAX_WIDTH: u32 = 1920;
/// Default JPEG quality.
pub const DEFAULT_QUALITY: u8 = 80;
/// Largest raw image sent: the result carries the image twice in base64 (`base64` and the
/// `image` data URL), and the whole payload must stay under the Gateway's 25 MiB frame.
pub const MAX_IMAGE_BYTES: usize = 9 * 1024 * 1024;

/// `[screen]` in the node config.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScreenSettings {
    /// Serve `screen.snapshot` when a display is available (default true).
    pub enabled: bool,
}

impl Default for ScreenSettings {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// The screen capability.
#[derive(Clone)]
pub struct ScreenCapability {
    settings: ScreenSettings,
    /// The frame source, or why this environment has none.
    source: Result<Arc<dyn Source>, String>,
}

impl ScreenCapability {
    /// The displays of the process environment.
    pub fn new(settings: ScreenSettings) -> Self {
        Self::with_env(settings, &std::env::vars().collect())
    }

    /// The displays a given environment names (`DISPLAY`, `WAYLAND_DISPLAY`, the bus).
    pub fn with_env(settings: ScreenSettings, env: &HashMap<String, String>) -> Self {
        Self {
            settings,
            source: backend::source(&backend::choose(env)),
        }
    }

    /// A given frame source (tests).
    pub fn with_source(settings: ScreenSettings, source: Arc<dyn Source>) -> Self {
        Self {
            settings,
            source: Ok(source),
        }
    }

    /// Why the screen cannot be captured here, if it cannot.
    pub fn unavailable_reason(&self) -> Option<String> {
        if !self.settings.enabled {
            return Some("screen capture is disabled ([screen] enabled = false)".into());
        }
        let source = match &self.source {
            Ok(s) => s,
            Err(reason) => return Some(reason.clone()),
        };
        match source.monitors() {
            Ok(m) if m.is_empty() => Some("the display reports no monitors".into()),
            Ok(_) => None,
            Err(e) => Some(format!("cannot open the display: {e}")),
        }
    }
}

impl Capability for ScreenCapability {
    fn caps(&self) -> Vec<&'static str> {
        vec!["screen"]
    }

    fn handlers(&self) -> Vec<Arc<dyn Handler>> {
        vec![erase(Snapshot { cap: self.clone() })]
    }

    fn availability(&self) -> Availability {
        match self.unavailable_reason() {
            None => Availability::Available,
            Some(r) => Availability::Unavailable(r),
        }
    }

    fn permissions(&self) -> Vec<(&'static str, bool)> {
        vec![("screenRecording", self.unavailable_reason().is_none())]
    }
}

/// `screen.snapshot` params.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotParams {
    /// `png` (default), `jpeg` or `jpg`.
    #[serde(default)]
    pub format: Option<String>,
    /// Widest output, clamped to 16..7680 (default 1920).
    #[serde(default)]
    pub max_width: Option<f64>,
    /// JPEG quality 1..100 (default 80).
    #[serde(default)]
    pub quality: Option<f64>,
    /// Display index, 0..32 (default 0).
    #[serde(default, alias = "monitor")]
    pub screen_index: Option<f64>,
    /// Accepted for compatibility; X11 captures do not include the pointer.
    #[serde(default)]
    pub include_pointer: Option<bool>,
}

/// `screen.snapshot` result.
#[derive(Debug, Serialize)]
pub struct SnapshotResult {
    /// `png` or `jpeg`.
    pub format: &'static str,
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
    /// The image, base64.
    pub base64: String,
    /// The same as a data URL.
    pub image: String,
}

struct Snapshot {
    cap: ScreenCapability,
}

impl Command for Snapshot {
    type Params = SnapshotParams;
    type Output = SnapshotResult;

    fn name(&self) -> &'static str {
        "screen.snapshot"
    }

    async fn run(
        &self,
        p: SnapshotParams,
        _ctx: CallContext,
    ) -> Result<SnapshotResult, CapabilityError> {
        let format = match p.format.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("png") => Format::Png,
            Some("jpeg") | Some("jpg") => Format::Jpeg,
            Some(other) => {
                return Err(CapabilityError::invalid_request(format!(
                    "INVALID_REQUEST: unsupported screen format: {other}"
                )));
            }
        };
        let max_width = p
            .max_width
            .filter(|v| v.is_finite())
            .map_or(DEFAULT_MAX_WIDTH, |v| (v as i64).clamp(16, 7680) as u32);
        let quality = p
            .quality
            .filter(|v| v.is_finite())
            .map_or(DEFAULT_QUALITY, |v| (v as i64).clamp(1, 100) as u8);
        let index = p
            .screen_index
            .filter(|v| v.is_finite())
            .map_or(0, |v| (v as i64).clamp(0, 32) as usize);
        if let Some(reason) = self.cap.unavailable_reason() {
            return Err(unavailable(&reason));
        }
        let source = self.cap.source.clone().map_err(|e| unavailable(&e))?;
        let encoded =
            tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, u32, u32), CapabilityError> {
                let count = source.monitors().map_err(|e| unavailable(&e))?.len();
                if index >= count {
                    return Err(CapabilityError::invalid_request(format!(
                        "INVALID_REQUEST: screen index {index} out of range ({count} screens)"
                    )));
                }
                let frame = source.capture(index).map_err(|e| unavailable(&e))?;
                encode_within(&frame, format, max_width, quality, MAX_IMAGE_BYTES).map_err(|e| {
                    CapabilityError::new(
                        openclaw_capability_api::ErrorCode::Token("PAYLOAD_TOO_LARGE"),
                        format!("PAYLOAD_TOO_LARGE: {e}"),
                    )
                })
            })
            .await
            .map_err(|e| unavailable(&format!("capture task failed: {e}")))??;
        let (bytes, width, height) = encoded;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        Ok(SnapshotResult {
            format: format.name(),
            width,
            height,
            image: format!("data:image/{};base64,{b64}", format.name()),
            base64: b64,
        })
    }
}

fn unavailable(reason: &str) -> CapabilityError {
    CapabilityError::new(
        openclaw_capability_api::ErrorCode::Token("SCREEN_UNAVAILABLE"),
        format!("SCREEN_UNAVAILABLE: {reason}"),
    )
}

/// The summary `doctor` prints.
pub fn describe(cap: &ScreenCapability) -> Value {
    match cap.unavailable_reason() {
        None => {
            let monitors = cap
                .source
                .as_ref()
                .ok()
                .and_then(|s| s.monitors().ok())
                .unwrap_or_default();
            json!({"available": true, "monitors": monitors})
        }
        Some(r) => json!({"available": false, "reason": r}),
    }
}
