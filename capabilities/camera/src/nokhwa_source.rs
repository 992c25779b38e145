//! macOS cameras through nokhwa's AVFoundation backend (system frameworks only).

use image::RgbImage;

use crate::source::{Device, Source};

/// The cameras nokhwa sees.
pub struct NokhwaSource;

impl Source for NokhwaSource {
    fn list(&self) -> Result<Vec<Device>, String> {
        let found = nokhwa::query(nokhwa::utils::ApiBackend::Auto).map_err(|e| e.to_string())?;
        Ok(found
            .iter()
            .map(|c| Device {
                id: c.index().to_string(),
                name: c.human_name(),
                position: "unknown",
                device_type: "avfoundation",
            })
            .collect())
    }

    fn capture(&self, device: &Device, delay_ms: u64) -> Result<RgbImage, String> {
        use nokhwa::pixel_format::RgbFormat;
        use nokhwa::utils::{CameraIndex, RequestedFormat, RequestedFormatType};
        let index = device
            .id
            .parse::<u32>()
            .map(CameraIndex::Index)
            .unwrap_or_else(|_| CameraIndex::String(device.id.clone()));
        let format =
            RequestedFormat::new::<RgbFormat>(RequestedFormatType::AbsoluteHighestResolution);
        let mut cam = nokhwa::Camera::new(index, format).map_err(|e| e.to_string())?;
        cam.open_stream().map_err(|e| e.to_string())?;
        let started = std::time::Instant::now();
        let mut frame = cam.frame().map_err(|e| e.to_string());
        while started.elapsed().as_millis() < delay_ms as u128 {
            frame = cam.frame().map_err(|e| e.to_string());
        }
        let _ = cam.stop_stream();
        frame?
            .decode_image::<RgbFormat>()
            .map_err(|e| e.to_string())
    }
}
