//! From a camera frame to the JPEG a caller gets: scale to `maxWidth`, encode at the
//! requested quality, shrink until it fits the payload budget, and read the dimensions
//! back from the JPEG's frame header (as the reference does).

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{ExtendedColorType, ImageEncoder as _, RgbImage};

/// Scales, encodes and checks one photo; returns the JPEG and its dimensions.
pub fn photo(
    frame: &RgbImage,
    max_width: u32,
    quality: f64,
    limit: usize,
) -> Result<(Vec<u8>, u32, u32), String> {
    let q = ((quality * 100.0).round() as u8).clamp(1, 100);
    let mut width = max_width.min(frame.width()).max(1);
    loop {
        let img = if width < frame.width() {
            let h = ((frame.height() as f64) * width as f64 / frame.width() as f64)
                .round()
                .max(1.0) as u32;
            image::imageops::resize(frame, width, h, FilterType::Triangle)
        } else {
            frame.clone()
        };
        let mut out = Cursor::new(Vec::new());
        JpegEncoder::new_with_quality(&mut out, q)
            .write_image(
                img.as_raw(),
                img.width(),
                img.height(),
                ExtendedColorType::Rgb8,
            )
            .map_err(|e| e.to_string())?;
        let bytes = out.into_inner();
        if bytes.len() <= limit {
            let (w, h) = jpeg_dimensions(&bytes).ok_or("the encoder produced an invalid JPEG")?;
            return Ok((bytes, w, h));
        }
        if width <= 16 {
            return Err(format!(
                "camera payload exceeds the 25 MB base64 limit ({} bytes)",
                bytes.len()
            ));
        }
        width = (width * 3 / 4).max(16);
    }
}

/// Width and height from a JPEG's SOF marker.
pub fn jpeg_dimensions(jpeg: &[u8]) -> Option<(u32, u32)> {
    if jpeg.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut i = 2;
    while i + 4 <= jpeg.len() {
        if jpeg[i] != 0xFF {
            return None;
        }
        let marker = jpeg[i + 1];
        if marker == 0xD8 || (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let h = u16::from_be_bytes([*jpeg.get(i + 5)?, *jpeg.get(i + 6)?]) as u32;
            let w = u16::from_be_bytes([*jpeg.get(i + 7)?, *jpeg.get(i + 8)?]) as u32;
            return Some((w, h));
        }
        i += 2 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
        })
    }

    #[test]
    fn scaling_quality_and_dimensions() {
        let frame = gradient(1280, 720);
        let (hi, w, h) = photo(&frame, 1600, 0.95, usize::MAX).unwrap();
        assert_eq!((w, h), (1280, 720), "never scaled up");
        let (lo, ..) = photo(&frame, 1600, 0.1, usize::MAX).unwrap();
        assert!(lo.len() < hi.len());
        let (_, w, h) = photo(&frame, 320, 0.9, usize::MAX).unwrap();
        assert_eq!((w, h), (320, 180));
        let (small, w, _) = photo(&frame, 1280, 0.9, 20_000).unwrap();
        assert!(small.len() <= 20_000 && w < 1280);
        assert!(
            photo(&frame, 1280, 0.9, 50)
                .unwrap_err()
                .contains("exceeds")
        );
    }

    #[test]
    fn sof_parsing_rejects_garbage() {
        assert_eq!(jpeg_dimensions(b"not a jpeg"), None);
        assert_eq!(jpeg_dimensions(&[0xFF, 0xD8, 0xFF]), None);
        let (jpeg, ..) = photo(&gradient(33, 17), 100, 0.9, usize::MAX).unwrap();
        assert_eq!(jpeg_dimensions(&jpeg), Some((33, 17)));
    }
}
