//! From a raw V4L2 buffer to RGB: MJPEG/JPEG (with the standard Huffman tables a webcam's
//! MJPEG frames usually leave out), YUYV 4:2:2 (BT.601, limited range), and packed RGB/BGR.
//! Pure functions, tested on synthetic frames; the capture itself is in `v4l2`.

use image::RgbImage;

/// The pixel formats this node can decode, in the order it prefers them (MJPEG gives the
/// largest frames over USB 2; YUYV is what every UVC camera offers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pixels {
    /// Motion JPEG: one JPEG per frame, DHT possibly omitted.
    Mjpeg,
    /// A plain JPEG per frame.
    Jpeg,
    /// YUYV 4:2:2: `Y0 U Y1 V` for each pair of pixels.
    Yuyv,
    /// Packed 24-bit RGB.
    Rgb24,
    /// Packed 24-bit BGR.
    Bgr24,
}

impl Pixels {
    /// Every decodable format, preferred first.
    pub const PREFERRED: [Pixels; 5] = [
        Pixels::Mjpeg,
        Pixels::Jpeg,
        Pixels::Yuyv,
        Pixels::Rgb24,
        Pixels::Bgr24,
    ];

    /// The V4L2 fourcc.
    pub fn fourcc(self) -> [u8; 4] {
        match self {
            Pixels::Mjpeg => *b"MJPG",
            Pixels::Jpeg => *b"JPEG",
            Pixels::Yuyv => *b"YUYV",
            Pixels::Rgb24 => *b"RGB3",
            Pixels::Bgr24 => *b"BGR3",
        }
    }

    /// The format with this fourcc, if decodable.
    pub fn from_fourcc(fourcc: [u8; 4]) -> Option<Pixels> {
        Self::PREFERRED.into_iter().find(|p| p.fourcc() == fourcc)
    }
}

/// The shape of one frame as the driver negotiated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Pixel format.
    pub pixels: Pixels,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from one row to the next (packed formats; 0 means tightly packed).
    pub bytes_per_line: u32,
}

/// Decodes one frame.
pub fn decode(layout: Layout, data: &[u8]) -> Result<RgbImage, String> {
    match layout.pixels {
        Pixels::Mjpeg | Pixels::Jpeg => decode_jpeg(data),
        Pixels::Yuyv => packed(layout, data, 2, |row, x| {
            let pair = &row[(x / 2) * 4..(x / 2) * 4 + 4];
            let y = if x % 2 == 0 { pair[0] } else { pair[2] };
            yuv_to_rgb(y, pair[1], pair[3])
        }),
        Pixels::Rgb24 => packed(layout, data, 3, |row, x| {
            [row[3 * x], row[3 * x + 1], row[3 * x + 2]]
        }),
        Pixels::Bgr24 => packed(layout, data, 3, |row, x| {
            [row[3 * x + 2], row[3 * x + 1], row[3 * x]]
        }),
    }
}

fn packed(
    layout: Layout,
    data: &[u8],
    bytes_per_pixel: u32,
    pixel: impl Fn(&[u8], usize) -> [u8; 3],
) -> Result<RgbImage, String> {
    let Layout { width, height, .. } = layout;
    let min_stride = width.checked_mul(bytes_per_pixel).ok_or("frame too wide")?;
    let stride = if layout.bytes_per_line == 0 {
        min_stride
    } else {
        layout.bytes_per_line
    };
    if stride < min_stride || width == 0 || height == 0 {
        return Err(format!(
            "bad frame layout: {width}x{height}, {stride} bytes per line"
        ));
    }
    let needed = (stride as usize) * (height as usize - 1) + min_stride as usize;
    if data.len() < needed {
        return Err(format!(
            "short frame: {} bytes for {width}x{height} (needs {needed})",
            data.len()
        ));
    }
    let mut out = RgbImage::new(width, height);
    for y in 0..height as usize {
        let row = &data[y * stride as usize..y * stride as usize + min_stride as usize];
        for x in 0..width as usize {
            out.put_pixel(x as u32, y as u32, image::Rgb(pixel(row, x)));
        }
    }
    Ok(out)
}

/// BT.601 limited-range YCbCr to RGB, in integers.
pub fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let c = 298 * (i32::from(y) - 16);
    let d = i32::from(u) - 128;
    let e = i32::from(v) - 128;
    let clamp = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
    [
        clamp(c + 409 * e),
        clamp(c - 100 * d - 208 * e),
        clamp(c + 516 * d),
    ]
}

/// A JPEG or MJPEG frame. MJPEG frames from UVC cameras usually carry no Huffman tables
/// (DHT) and expect the standard ones (JPEG Annex K.3); an `AVI1` APP0 segment tells the
/// decoder to use those, so one is inserted when the frame has no DHT of its own.
pub fn decode_jpeg(data: &[u8]) -> Result<RgbImage, String> {
    let fixed;
    let bytes = if data.starts_with(&[0xFF, 0xD8]) && !has_dht(data) {
        let mut v = Vec::with_capacity(data.len() + 9);
        v.extend_from_slice(&data[..2]);
        v.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x07, b'A', b'V', b'I', b'1', 0x00]);
        v.extend_from_slice(&data[2..]);
        fixed = v;
        &fixed[..]
    } else {
        data
    };
    image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg)
        .map(|i| i.to_rgb8())
        .map_err(|e| format!("the camera sent an undecodable JPEG frame: {e}"))
}

/// Whether a DHT marker comes before the first scan.
fn has_dht(jpeg: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= jpeg.len() {
        if jpeg[i] != 0xFF {
            return false;
        }
        match jpeg[i + 1] {
            0xC4 => return true,
            0xDA | 0xD9 => return false,
            0xFF => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        i += 2 + len;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::ImageEncoder as _;

    fn jpeg_of(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .write_image(
                img.as_raw(),
                img.width(),
                img.height(),
                image::ExtendedColorType::Rgb8,
            )
            .unwrap();
        out
    }

    /// The same JPEG with its DHT segments cut out, as a webcam sends MJPEG.
    fn without_dht(jpeg: &[u8]) -> Vec<u8> {
        let mut out = jpeg[..2].to_vec();
        let mut i = 2;
        loop {
            let marker = jpeg[i + 1];
            if marker == 0xDA {
                out.extend_from_slice(&jpeg[i..]);
                return out;
            }
            let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
            if marker != 0xC4 {
                out.extend_from_slice(&jpeg[i..i + 2 + len]);
            }
            i += 2 + len;
        }
    }

    fn halves() -> RgbImage {
        RgbImage::from_fn(64, 32, |x, _| {
            if x < 32 {
                image::Rgb([240, 20, 20])
            } else {
                image::Rgb([20, 20, 240])
            }
        })
    }

    #[test]
    fn mjpeg_without_huffman_tables_decodes_with_the_standard_ones() {
        let jpeg = jpeg_of(&halves());
        let bare = without_dht(&jpeg);
        assert!(has_dht(&jpeg) && !has_dht(&bare));
        // The encoder must have written the standard tables for this to be a fair test.
        let img = decode(
            Layout {
                pixels: Pixels::Mjpeg,
                width: 64,
                height: 32,
                bytes_per_line: 0,
            },
            &bare,
        )
        .unwrap();
        assert_eq!(img.dimensions(), (64, 32));
        let left = img.get_pixel(8, 16).0;
        let right = img.get_pixel(56, 16).0;
        assert!(left[0] > 200 && left[2] < 60, "{left:?}");
        assert!(right[2] > 200 && right[0] < 60, "{right:?}");
        assert!(decode_jpeg(&jpeg).is_ok());
        assert!(
            decode_jpeg(b"not a jpeg")
                .unwrap_err()
                .contains("undecodable")
        );
    }

    #[test]
    fn yuyv_pairs_share_their_chroma() {
        // 2×1: Y0=235 (white), Y1=16 (black), neutral chroma; then a padded second row of
        // pure red (Y=81, U=90, V=240).
        let data = [
            235, 128, 16, 128, 0xAA, 0xAA, //
            81, 90, 81, 240, 0xAA, 0xAA,
        ];
        let img = decode(
            Layout {
                pixels: Pixels::Yuyv,
                width: 2,
                height: 2,
                bytes_per_line: 6,
            },
            &data,
        )
        .unwrap();
        assert_eq!(img.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(img.get_pixel(1, 0).0, [0, 0, 0]);
        let red = img.get_pixel(1, 1).0;
        assert!(red[0] > 245 && red[1] < 10 && red[2] < 10, "{red:?}");
    }

    #[test]
    fn packed_rgb_and_bgr_and_short_frames() {
        let layout = |pixels| Layout {
            pixels,
            width: 1,
            height: 1,
            bytes_per_line: 0,
        };
        assert_eq!(
            decode(layout(Pixels::Rgb24), &[1, 2, 3])
                .unwrap()
                .get_pixel(0, 0)
                .0,
            [1, 2, 3]
        );
        assert_eq!(
            decode(layout(Pixels::Bgr24), &[1, 2, 3])
                .unwrap()
                .get_pixel(0, 0)
                .0,
            [3, 2, 1]
        );
        let e = decode(
            Layout {
                pixels: Pixels::Yuyv,
                width: 640,
                height: 480,
                bytes_per_line: 1280,
            },
            &[0; 1000],
        )
        .unwrap_err();
        assert!(e.contains("short frame"), "{e}");
        assert_eq!(Pixels::from_fourcc(*b"YUYV"), Some(Pixels::Yuyv));
        assert_eq!(Pixels::from_fourcc(*b"NV12"), None);
    }
}
