//! macOS capture through xcap, which needs only the system frameworks there.

use image::RgbaImage;

use crate::source::Source;

/// The displays xcap sees.
pub struct XcapSource;

impl Source for XcapSource {
    fn monitors(&self) -> Result<Vec<(u32, u32)>, String> {
        let all = xcap::Monitor::all().map_err(|e| e.to_string())?;
        Ok(all
            .iter()
            .map(|m| (m.width().unwrap_or(0), m.height().unwrap_or(0)))
            .collect())
    }

    fn capture(&self, index: usize) -> Result<RgbaImage, String> {
        let all = xcap::Monitor::all().map_err(|e| e.to_string())?;
        let m = all
            .get(index)
            .ok_or_else(|| format!("screen index {index} out of range ({} screens)", all.len()))?;
        m.capture_image().map_err(|e| e.to_string())
    }
}
