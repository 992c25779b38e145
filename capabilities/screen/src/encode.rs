//! Scaling and encoding a captured frame, shared by screen capture and usable on synthetic
//! frames in tests.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
use image::{ExtendedColorType, ImageEncoder as _, RgbaImage};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PNG (lossless).
    Png,
    /// JPEG with a quality.
    Jpeg,
}

impl Format {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpeg",
        }
    }
}

/// Scales `frame` down to at most `max_width` (keeping the aspect ratio; never up).
pub fn scale(frame: &RgbaImage, max_width: u32) -> RgbaImage {
    let (w, h) = frame.dimensions();
    if w <= max_width || w == 0 {
        return frame.clone();
    }
    let nh = ((h as f64) * (max_width as f64) / (w as f64))
        .round()
        .max(1.0) as u32;
    image::imageops::resize(frame, max_width, nh, FilterType::Triangle)
}

/// Encodes one image.
pub fn encode(img: &RgbaImage, format: Format, quality: u8) -> Result<Vec<u8>, String> {
    let mut out = Cursor::new(Vec::new());
    let (w, h) = img.dimensions();
    match format {
        Format::Png => PngEncoder::new(&mut out)
            .write_image(img.as_raw(), w, h, ExtendedColorType::Rgba8)
            .map_err(|e| e.to_string())?,
        Format::Jpeg => {
            // JPEG has no alpha: drop it.
            let rgb = image::DynamicImage::ImageRgba8(img.clone()).into_rgb8();
            JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
                .write_image(rgb.as_raw(), w, h, ExtendedColorType::Rgb8)
                .map_err(|e| e.to_string())?
        }
    }
    Ok(out.into_inner())
}

/// Scales to `max_width` and encodes; while the result is over `limit` bytes, scales down
/// by a quarter more. Fails only when even a 16-pixel-wide image does not fit.
pub fn encode_within(
    frame: &RgbaImage,
    format: Format,
    max_width: u32,
    quality: u8,
    limit: usize,
) -> Result<(Vec<u8>, u32, u32), String> {
    let mut width = max_width.min(frame.width()).max(1);
    loop {
        let img = scale(frame, width);
        let bytes = encode(&img, format, quality)?;
        if bytes.len() <= limit {
            return Ok((bytes, img.width(), img.height()));
        }
        if width <= 16 {
            return Err(format!(
                "screen payload exceeds the limit: {} bytes at the smallest size (limit {limit})",
                bytes.len()
            ));
        }
        width = (width * 3 / 4).max(16);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(w: u32, h: u32) -> RgbaImage {
        RgbaImage::from_fn(w, h, |x, y| {
            if x < w / 2 {
                image::Rgba([255, 0, 0, 255])
            } else if y < h / 2 {
                image::Rgba([0, 0, 255, 255])
            } else {
                image::Rgba([(x % 256) as u8, (y % 256) as u8, 128, 255])
            }
        })
    }

    #[test]
    fn png_round_trips_pixels_and_scaling_keeps_the_aspect() {
        let img = pattern(400, 200);
        let (bytes, w, h) = encode_within(&img, Format::Png, 1920, 80, usize::MAX).unwrap();
        assert_eq!((w, h), (400, 200));
        let back = image::load_from_memory(&bytes).unwrap().to_rgba8();
        assert_eq!(back.get_pixel(10, 10).0, [255, 0, 0, 255]);
        assert_eq!(back.get_pixel(390, 10).0, [0, 0, 255, 255]);
        let (_, w, h) = encode_within(&img, Format::Png, 100, 80, usize::MAX).unwrap();
        assert_eq!((w, h), (100, 50));
    }

    #[test]
    fn jpeg_quality_changes_the_size() {
        let img = pattern(640, 480);
        let (hi, ..) = encode_within(&img, Format::Jpeg, 1920, 95, usize::MAX).unwrap();
        let (lo, ..) = encode_within(&img, Format::Jpeg, 1920, 10, usize::MAX).unwrap();
        assert!(lo.len() < hi.len(), "{} vs {}", lo.len(), hi.len());
        assert_eq!(&hi[..2], &[0xFF, 0xD8]);
        let back = image::load_from_memory(&hi).unwrap().to_rgb8();
        let p = back.get_pixel(10, 10).0;
        assert!(p[0] > 200 && p[1] < 60 && p[2] < 60, "{p:?}");
    }

    #[test]
    fn oversized_results_are_scaled_down_or_refused() {
        let noisy = RgbaImage::from_fn(800, 600, |x, y| {
            image::Rgba([
                (x * 7 % 256) as u8,
                (y * 13 % 256) as u8,
                ((x ^ y) % 256) as u8,
                255,
            ])
        });
        let (bytes, w, _) = encode_within(&noisy, Format::Png, 800, 80, 200_000).unwrap();
        assert!(
            bytes.len() <= 200_000 && w < 800,
            "{} bytes at {w}px",
            bytes.len()
        );
        let err = encode_within(&noisy, Format::Png, 800, 80, 10).unwrap_err();
        assert!(err.contains("exceeds the limit"), "{err}");
    }
}
