//! X11 capture in pure Rust (x11rb's own protocol implementation, no libxcb): monitors from
//! RandR 1.5 (`GetMonitors`, primary first), falling back to the root window; pixels with
//! core `GetImage` on the root window, converted from the server's pixmap format and the
//! root visual's colour masks.
//!
//! MIT-SHM is not used: attaching a shared-memory segment needs `unsafe` (shmat), and a
//! `GetImage` of a 1920×1080 root is one ~8 MB reply over the local socket, which is fast
//! enough for a snapshot. This module opens one connection per call and keeps nothing.

use image::RgbaImage;
use x11rb::connection::Connection as _;
use x11rb::image::{BitsPerPixel, Image, ImageOrder, PixelLayout};
use x11rb::protocol::randr::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{Screen, Visualtype};
use x11rb::rust_connection::RustConnection;

use crate::source::Source;

/// How long to wait before the one retry of a refused connection.
const RESET_RETRY: std::time::Duration = std::time::Duration::from_millis(100);

/// One monitor: where it sits on the root window and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left edge on the root window.
    pub x: i16,
    /// Top edge on the root window.
    pub y: i16,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
}

/// The displays of one X server (`DISPLAY`).
#[derive(Debug, Clone)]
pub struct X11Source {
    display: String,
}

impl X11Source {
    /// The X server named by `display` (`:0`, `host:1.0`, …).
    pub fn new(display: impl Into<String>) -> Self {
        Self {
            display: display.into(),
        }
    }

    /// Connects, once more after [`RESET_RETRY`] if refused: an X server whose last
    /// client has gone resets itself and refuses connections for a moment.
    fn connect(&self) -> Result<(RustConnection, usize), String> {
        x11rb::connect(Some(&self.display))
            .or_else(|_| {
                std::thread::sleep(RESET_RETRY);
                x11rb::connect(Some(&self.display))
            })
            .map_err(|e| format!("cannot connect to X display {}: {e}", self.display))
    }

    /// The monitors of the default screen, primary first.
    pub fn rects(&self) -> Result<Vec<Rect>, String> {
        let (conn, screen_num) = self.connect()?;
        let screen = &conn.setup().roots[screen_num];
        Ok(monitors(&conn, screen))
    }
}

impl Source for X11Source {
    fn monitors(&self) -> Result<Vec<(u32, u32)>, String> {
        Ok(self
            .rects()?
            .iter()
            .map(|r| (u32::from(r.width), u32::from(r.height)))
            .collect())
    }

    fn capture(&self, index: usize) -> Result<RgbaImage, String> {
        let (conn, screen_num) = self.connect()?;
        let screen = &conn.setup().roots[screen_num];
        let all = monitors(&conn, screen);
        let rect = all
            .get(index)
            .copied()
            .ok_or_else(|| format!("screen index {index} out of range ({} screens)", all.len()))?;
        let (image, visual) =
            Image::get(&conn, screen.root, rect.x, rect.y, rect.width, rect.height)
                .map_err(|e| format!("GetImage on {} failed: {e}", self.display))?;
        let visual = find_visual(screen, visual)
            .ok_or_else(|| format!("the root visual {visual:#x} is not in the server's list"))?;
        let layout = PixelLayout::from_visual_type(visual)
            .map_err(|_| "the display uses a palette visual, which is not supported".to_string())?;
        Ok(to_rgba(&image, layout))
    }
}

/// RandR monitors clipped to the root window, primary first; the whole root window when
/// RandR is missing or reports none.
fn monitors(conn: &RustConnection, screen: &Screen) -> Vec<Rect> {
    let whole = Rect {
        x: 0,
        y: 0,
        width: screen.width_in_pixels,
        height: screen.height_in_pixels,
    };
    let reply = conn
        .randr_query_version(1, 5)
        .ok()
        .and_then(|c| c.reply().ok())
        .filter(|v| (v.major_version, v.minor_version) >= (1, 5))
        .and_then(|_| randr::get_monitors(conn, screen.root, true).ok())
        .and_then(|c| c.reply().ok());
    let Some(reply) = reply else {
        return vec![whole];
    };
    let mut found: Vec<(bool, Rect)> = reply
        .monitors
        .iter()
        .filter_map(|m| {
            clip(
                Rect {
                    x: m.x,
                    y: m.y,
                    width: m.width,
                    height: m.height,
                },
                whole,
            )
            .map(|r| (m.primary, r))
        })
        .collect();
    // Stable: the primary first, the rest in the server's order.
    found.sort_by_key(|(primary, _)| !primary);
    if found.is_empty() {
        vec![whole]
    } else {
        found.into_iter().map(|(_, r)| r).collect()
    }
}

/// `r` cut to `bounds` (GetImage fails with BadMatch outside the root window), or `None` if
/// nothing is left.
fn clip(r: Rect, bounds: Rect) -> Option<Rect> {
    let x0 = i32::from(r.x).max(i32::from(bounds.x));
    let y0 = i32::from(r.y).max(i32::from(bounds.y));
    let x1 =
        (i32::from(r.x) + i32::from(r.width)).min(i32::from(bounds.x) + i32::from(bounds.width));
    let y1 =
        (i32::from(r.y) + i32::from(r.height)).min(i32::from(bounds.y) + i32::from(bounds.height));
    (x1 > x0 && y1 > y0).then(|| Rect {
        x: x0 as i16,
        y: y0 as i16,
        width: (x1 - x0) as u16,
        height: (y1 - y0) as u16,
    })
}

fn find_visual(screen: &Screen, id: u32) -> Option<Visualtype> {
    screen
        .allowed_depths
        .iter()
        .flat_map(|d| d.visuals.iter())
        .find(|v| v.visual_id == id)
        .copied()
}

/// Converts a Z-pixmap image to RGBA. The common layout (32 bits per pixel, little-endian,
/// 8-bit masks 0xff0000/0xff00/0xff: BGRX in memory) is copied directly; anything else
/// goes pixel by pixel through the visual's masks.
pub fn to_rgba(image: &Image<'_>, layout: PixelLayout) -> RgbaImage {
    let (w, h) = (u32::from(image.width()), u32::from(image.height()));
    if image.bits_per_pixel() == BitsPerPixel::B32
        && image.byte_order() == ImageOrder::LsbFirst
        && layout.decode(0x00ff_0000) == (0xffff, 0, 0)
        && layout.decode(0x0000_ff00) == (0, 0xffff, 0)
        && layout.decode(0x0000_00ff) == (0, 0, 0xffff)
    {
        let stride = image.data().len() / usize::from(image.height().max(1));
        let mut out = Vec::with_capacity((w * h * 4) as usize);
        for row in image.data().chunks(stride.max(1)).take(h as usize) {
            for px in row[..(w as usize) * 4].chunks_exact(4) {
                out.extend_from_slice(&[px[2], px[1], px[0], 255]);
            }
        }
        if let Some(img) = RgbaImage::from_raw(w, h, out) {
            return img;
        }
    }
    RgbaImage::from_fn(w, h, |x, y| {
        let (r, g, b) = layout.decode(image.get_pixel(x as u16, y as u16));
        image::Rgba([(r >> 8) as u8, (g >> 8) as u8, (b >> 8) as u8, 255])
    })
}

/// An image over borrowed bytes, for tests of the conversion.
#[cfg(test)]
fn image_of(
    w: u16,
    h: u16,
    bpp: BitsPerPixel,
    depth: u8,
    order: ImageOrder,
    data: Vec<u8>,
) -> Image<'static> {
    Image::new(
        w,
        h,
        x11rb::image::ScanlinePad::Pad32,
        depth,
        bpp,
        order,
        std::borrow::Cow::Owned(data),
    )
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use x11rb::image::ColorComponent;

    fn layout(r: (u8, u8), g: (u8, u8), b: (u8, u8)) -> PixelLayout {
        PixelLayout::new(
            ColorComponent::new(r.0, r.1).unwrap(),
            ColorComponent::new(g.0, g.1).unwrap(),
            ColorComponent::new(b.0, b.1).unwrap(),
        )
    }

    #[test]
    fn bgrx_little_endian_is_copied_channel_for_channel() {
        // 2×1: pure red, then (0x10, 0x20, 0x30); the X byte is garbage and ignored.
        let data = vec![0, 0, 0xff, 0x7f, 0x30, 0x20, 0x10, 0x01];
        let img = image_of(2, 1, BitsPerPixel::B32, 24, ImageOrder::LsbFirst, data);
        let out = to_rgba(&img, layout((8, 16), (8, 8), (8, 0)));
        assert_eq!(out.get_pixel(0, 0).0, [255, 0, 0, 255]);
        assert_eq!(out.get_pixel(1, 0).0, [0x10, 0x20, 0x30, 255]);
    }

    #[test]
    fn rows_padded_to_the_scanline_are_read_at_their_stride() {
        // 3×2 at 16 bpp, 565: each 6-byte row is padded to 8 bytes.
        let red: u16 = 0xF800; // 5 bits of red on top
        let blue: u16 = 0x001F; // 5 bits of blue at the bottom
        let mut data = Vec::new();
        for px in [red, blue, red] {
            data.extend_from_slice(&px.to_le_bytes());
        }
        data.extend_from_slice(&[0xAA, 0xAA]);
        for px in [blue, red, blue] {
            data.extend_from_slice(&px.to_le_bytes());
        }
        data.extend_from_slice(&[0xAA, 0xAA]);
        let img = image_of(3, 2, BitsPerPixel::B16, 16, ImageOrder::LsbFirst, data);
        let out = to_rgba(&img, layout((5, 11), (6, 5), (5, 0)));
        assert_eq!(out.get_pixel(0, 0).0, [255, 0, 0, 255]);
        assert_eq!(out.get_pixel(1, 0).0, [0, 0, 255, 255]);
        assert_eq!(out.get_pixel(0, 1).0, [0, 0, 255, 255]);
        assert_eq!(out.get_pixel(2, 1).0, [0, 0, 255, 255]);
    }

    #[test]
    fn big_endian_servers_are_read_in_their_byte_order() {
        // XRGB in memory on an MSB-first server: 0x00_10_20_30.
        let data = vec![0x00, 0x10, 0x20, 0x30];
        let img = image_of(1, 1, BitsPerPixel::B32, 24, ImageOrder::MsbFirst, data);
        let out = to_rgba(&img, layout((8, 16), (8, 8), (8, 0)));
        assert_eq!(out.get_pixel(0, 0).0, [0x10, 0x20, 0x30, 255]);
    }

    #[test]
    fn monitors_are_clipped_to_the_root_window() {
        let root = Rect {
            x: 0,
            y: 0,
            width: 1280,
            height: 720,
        };
        let half_off = Rect {
            x: 1000,
            y: -20,
            width: 500,
            height: 100,
        };
        assert_eq!(
            clip(half_off, root),
            Some(Rect {
                x: 1000,
                y: 0,
                width: 280,
                height: 80
            })
        );
        let outside = Rect {
            x: 2000,
            y: 0,
            width: 10,
            height: 10,
        };
        assert_eq!(clip(outside, root), None);
        assert_eq!(clip(root, root), Some(root));
    }
}
