//! Linux cameras through V4L2 (linuxvideo: the ioctls in Rust, no bindgen, no libv4l):
//! every `/dev/video*` node that can capture video is a camera; a photo streams the
//! driver's largest frames in the most convenient format this node decodes ([`Pixels`]),
//! for the requested delay, and keeps the last good frame.

use std::time::{Duration, Instant};

use image::RgbImage;
use linuxvideo::format::{PixFormat, PixelFormat};
use linuxvideo::{BufType, CapabilityFlags};

use crate::frames::{self, Layout, Pixels};
use crate::source::{Device, Source};

/// How long a started stream may take to deliver its first frame.
pub const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a stream is polled for a filled buffer (dequeuing would block forever on a
/// camera that stops sending).
const POLL: Duration = Duration::from_millis(5);

/// The V4L2 cameras of this machine.
pub struct V4l2Source;

impl Source for V4l2Source {
    fn list(&self) -> Result<Vec<Device>, String> {
        let entries = match linuxvideo::list() {
            Ok(e) => e,
            // No /dev (a chroot, a container): no cameras.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("cannot list /dev: {e}")),
        };
        let mut found = Vec::new();
        let mut refused = None;
        for entry in entries {
            let device = match entry {
                Ok(d) => d,
                Err(e) => {
                    // A node the node's user may not open (not in the `video` group).
                    refused.get_or_insert(e);
                    continue;
                }
            };
            let Ok(caps) = device.capabilities() else {
                continue;
            };
            if !caps
                .device_capabilities()
                .contains(CapabilityFlags::VIDEO_CAPTURE)
            {
                // Metadata nodes of UVC cameras, outputs, radios.
                continue;
            }
            let Ok(path) = device.path() else { continue };
            found.push(Device {
                id: path.display().to_string(),
                name: caps.card().to_string(),
                position: "unknown",
                device_type: "v4l2",
            });
        }
        found.sort_by_key(|d| natural(&d.id));
        match (found.is_empty(), refused) {
            (true, Some(e)) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(format!(
                "a video device exists but cannot be opened ({e}): add the node's user to the `video` group"
            )),
            _ => Ok(found),
        }
    }

    fn capture(&self, device: &Device, delay_ms: u64) -> Result<RgbImage, String> {
        let dev = linuxvideo::Device::open(&device.id)
            .map_err(|e| format!("cannot open {}: {e}", device.id))?;
        let offered: Vec<[u8; 4]> = dev
            .formats(BufType::VIDEO_CAPTURE)
            .filter_map(|f| f.ok())
            .map(|f| f.pixel_format().as_fourcc())
            .collect();
        let pixels = Pixels::PREFERRED
            .into_iter()
            .find(|p| offered.contains(&p.fourcc()))
            .ok_or_else(|| {
                format!(
                    "{} offers no format this node decodes (offers {}; decodes MJPG, JPEG, YUYV, RGB3, BGR3)",
                    device.id,
                    offered
                        .iter()
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        // The driver answers with the largest size it has for the format.
        let wanted = PixFormat::new(
            u32::MAX,
            u32::MAX,
            PixelFormat::from_fourcc(pixels.fourcc()),
        );
        let capture = dev
            .video_capture(wanted)
            .map_err(|e| format!("{} refused the capture format: {e}", device.id))?;
        let got = capture.format();
        let layout = Layout {
            pixels: Pixels::from_fourcc(got.pixel_format().as_fourcc()).unwrap_or(pixels),
            width: got.width(),
            height: got.height(),
            bytes_per_line: got.bytes_per_line(),
        };
        let mut stream = capture
            .into_stream()
            .map_err(|e| format!("cannot start streaming from {}: {e}", device.id))?;
        let started = Instant::now();
        let settle = Duration::from_millis(delay_ms);
        let mut last: Option<Vec<u8>> = None;
        loop {
            let elapsed = started.elapsed();
            if last.is_some() && elapsed >= settle {
                break;
            }
            if last.is_none() && elapsed >= settle + FIRST_FRAME_TIMEOUT {
                return Err(format!(
                    "{} sent no frame within {} s",
                    device.id,
                    FIRST_FRAME_TIMEOUT.as_secs()
                ));
            }
            if stream.will_block().map_err(|e| e.to_string())? {
                std::thread::sleep(POLL);
                continue;
            }
            let frame = stream
                .dequeue(|buf| Ok((!buf.is_error() && !buf.is_empty()).then(|| buf.to_vec())))
                .map_err(|e| format!("reading a frame from {} failed: {e}", device.id))?;
            if frame.is_some() {
                last = frame;
            }
        }
        frames::decode(layout, &last.unwrap_or_default())
    }
}

/// `/dev/video10` after `/dev/video2`.
fn natural(id: &str) -> (usize, String) {
    let digits = id.trim_start_matches(|c: char| !c.is_ascii_digit());
    (digits.parse().unwrap_or(usize::MAX), id.to_string())
}
