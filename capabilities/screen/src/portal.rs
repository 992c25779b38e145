//! Wayland capture through the desktop portal (`org.freedesktop.portal.Screenshot`, spoken
//! over the session bus with zbus): `Screenshot` returns a request handle, and the result
//! comes as the `Response` signal of `org.freedesktop.portal.Request` on that handle, with
//! the URI of a PNG the portal wrote. The PNG is read and removed.
//!
//! Compositors do not let ordinary clients read the screen directly, so this is the one
//! portable path; the desktop may ask its user the first time (`interactive: false` asks
//! for no dialog beyond that permission). The portal captures the whole desktop as one
//! image, so this source reports a single screen whose size is known only after a capture
//! (`(0, 0)` until then). What the portal does is documented at
//! <https://flatpak.github.io/xdg-desktop-portal/docs/doc-org.freedesktop.portal.Screenshot.html>;
//! no portal backend runs on a headless test machine, so the tests here drive this client
//! against a stand-in service on a real `dbus-daemon`.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt as _;
use image::RgbaImage;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

use crate::source::Source;

/// The portal's bus name.
pub const DESTINATION: &str = "org.freedesktop.portal.Desktop";
/// The portal's object.
pub const OBJECT_PATH: &str = "/org/freedesktop/portal/desktop";
/// The screenshot interface.
pub const SCREENSHOT_INTERFACE: &str = "org.freedesktop.portal.Screenshot";
/// The interface of a request handle.
pub const REQUEST_INTERFACE: &str = "org.freedesktop.portal.Request";
/// How long a bus call (not the screenshot itself) may take.
pub const BUS_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for the portal's answer (the desktop may be asking its user).
pub const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(30);

/// The desktop portal on one session bus.
#[derive(Debug, Clone)]
pub struct PortalSource {
    address: String,
    timeout: Duration,
}

impl PortalSource {
    /// The portal on the bus at `address` (a D-Bus address such as `unix:path=/run/user/1000/bus`).
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            timeout: SCREENSHOT_TIMEOUT,
        }
    }

    /// The same with another wait for the portal's answer.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The portal's `Screenshot` interface version, which also proves it is there.
    pub fn version(&self) -> Result<u32, String> {
        let conn = zbus::blocking::connection::Builder::address(self.address.as_str())
            .and_then(|b| b.method_timeout(BUS_TIMEOUT).build())
            .map_err(|e| format!("cannot reach the session bus: {e}"))?;
        let proxy =
            zbus::blocking::Proxy::new(&conn, DESTINATION, OBJECT_PATH, SCREENSHOT_INTERFACE)
                .map_err(|e| format!("no screenshot portal: {e}"))?;
        proxy
            .get_property::<u32>("version")
            .map_err(|e| format!("no screenshot portal on the session bus ({DESTINATION}): {e}"))
    }

    async fn screenshot(&self) -> Result<RgbaImage, String> {
        let conn = zbus::connection::Builder::address(self.address.as_str())
            .map_err(|e| format!("bad session bus address: {e}"))?
            .method_timeout(BUS_TIMEOUT)
            .build()
            .await
            .map_err(|e| format!("cannot reach the session bus: {e}"))?;
        let unique = conn
            .unique_name()
            .ok_or("the session bus gave no unique name")?
            .to_string();
        let token = handle_token();
        let expected = request_path(&unique, &token);
        // Subscribe before asking, so the answer cannot come first.
        let request = zbus::Proxy::new(&conn, DESTINATION, expected.clone(), REQUEST_INTERFACE)
            .await
            .map_err(|e| e.to_string())?;
        let mut responses = request
            .receive_signal("Response")
            .await
            .map_err(|e| e.to_string())?;
        let portal = zbus::Proxy::new(&conn, DESTINATION, OBJECT_PATH, SCREENSHOT_INTERFACE)
            .await
            .map_err(|e| e.to_string())?;
        let mut options: HashMap<&str, Value<'_>> = HashMap::new();
        options.insert("handle_token", Value::from(token.as_str()));
        options.insert("interactive", Value::from(false));
        options.insert("modal", Value::from(false));
        let handle: OwnedObjectPath = portal
            .call("Screenshot", &("", options))
            .await
            .map_err(|e| format!("the screenshot portal refused: {e}"))?;
        if handle.as_str() != expected {
            // Portals before version 0.9 pick their own handle path.
            let request = zbus::Proxy::new(&conn, DESTINATION, handle.clone(), REQUEST_INTERFACE)
                .await
                .map_err(|e| e.to_string())?;
            responses = request
                .receive_signal("Response")
                .await
                .map_err(|e| e.to_string())?;
        }
        let message = responses
            .next()
            .await
            .ok_or("the session bus closed before the portal answered")?;
        let (code, results): (u32, HashMap<String, OwnedValue>) = message
            .body()
            .deserialize()
            .map_err(|e| format!("unexpected Response from the portal: {e}"))?;
        let uri = response_uri(code, &results)?;
        read_png(&uri)
    }
}

impl Source for PortalSource {
    fn monitors(&self) -> Result<Vec<(u32, u32)>, String> {
        self.version().map(|_| vec![(0, 0)])
    }

    fn capture(&self, index: usize) -> Result<RgbaImage, String> {
        if index != 0 {
            return Err(format!(
                "screen index {index} out of range (the portal captures the whole desktop as screen 0)"
            ));
        }
        let timeout = self.timeout;
        async_io::block_on(async {
            let shot = std::pin::pin!(self.screenshot());
            let timer = std::pin::pin!(async_io::Timer::after(timeout));
            match futures_util::future::select(shot, timer).await {
                futures_util::future::Either::Left((result, _)) => result,
                futures_util::future::Either::Right(_) => Err(format!(
                    "the screenshot portal did not answer within {} s",
                    timeout.as_secs()
                )),
            }
        })
    }
}

/// A fresh `handle_token`: letters, digits and `_` only, as object paths need.
fn handle_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("openclaw_{}_{nanos}", std::process::id())
}

/// Where the portal will put the request object: the caller's unique name without its
/// `:` and with `.` as `_`, then the token (the portal's documented rule).
pub fn request_path(unique_name: &str, token: &str) -> String {
    let sender = unique_name.trim_start_matches(':').replace('.', "_");
    format!("{OBJECT_PATH}/request/{sender}/{token}")
}

/// The PNG's URI from a `Response`, or why there is none.
pub fn response_uri(code: u32, results: &HashMap<String, OwnedValue>) -> Result<String, String> {
    match code {
        0 => results
            .get("uri")
            .and_then(|v| <&str>::try_from(&**v).ok().map(str::to_string))
            .ok_or_else(|| "the portal answered without an image uri".to_string()),
        1 => Err("the screenshot was cancelled or refused on the desktop".into()),
        other => Err(format!("the screenshot portal failed (response {other})")),
    }
}

/// The local path of a `file://` URI, percent-decoded.
pub fn file_path(uri: &str) -> Result<std::path::PathBuf, String> {
    let rest = uri
        .strip_prefix("file://")
        .ok_or_else(|| format!("the portal gave a non-file uri: {uri}"))?;
    // `file://localhost/…` and `file:///…` both name a local file.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return Err(format!("the portal gave a uri of another host: {uri}"));
    }
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = rest
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad escape in the portal's uri: {uri}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    use std::os::unix::ffi::OsStringExt as _;
    Ok(std::path::PathBuf::from(std::ffi::OsString::from_vec(out)))
}

/// Reads the portal's PNG and removes it: the user did not ask for a file.
fn read_png(uri: &str) -> Result<RgbaImage, String> {
    let path = file_path(uri)?;
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "cannot read the portal's screenshot {}: {e}",
            path.display()
        )
    })?;
    if let Err(e) = std::fs::remove_file(&path) {
        tracing::debug!(path = %path.display(), error = %e, "could not remove the portal's screenshot");
    }
    image::load_from_memory(&bytes)
        .map(|i| i.to_rgba8())
        .map_err(|e| format!("the portal's screenshot is not an image: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_path_follows_the_portal_rule() {
        assert_eq!(
            request_path(":1.42", "openclaw_7_99"),
            "/org/freedesktop/portal/desktop/request/1_42/openclaw_7_99"
        );
        let token = handle_token();
        assert!(
            token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{token}"
        );
    }

    #[test]
    fn responses_map_to_a_uri_or_the_reason() {
        let mut results = HashMap::new();
        results.insert(
            "uri".to_string(),
            OwnedValue::try_from(Value::from("file:///tmp/x.png")).unwrap(),
        );
        assert_eq!(response_uri(0, &results).unwrap(), "file:///tmp/x.png");
        assert!(
            response_uri(0, &HashMap::new())
                .unwrap_err()
                .contains("without an image uri")
        );
        assert!(
            response_uri(1, &results)
                .unwrap_err()
                .contains("cancelled or refused")
        );
        assert!(
            response_uri(2, &results)
                .unwrap_err()
                .contains("response 2")
        );
    }

    #[test]
    fn file_uris_are_decoded_and_others_refused() {
        assert_eq!(
            file_path("file:///home/a/Pictures/Screenshot%20from%202026.png").unwrap(),
            std::path::PathBuf::from("/home/a/Pictures/Screenshot from 2026.png")
        );
        assert_eq!(
            file_path("file://localhost/tmp/s.png").unwrap(),
            std::path::PathBuf::from("/tmp/s.png")
        );
        assert!(file_path("https://example.com/s.png").is_err());
        assert!(file_path("file://otherhost/s.png").is_err());
        assert!(file_path("file:///tmp/%zz.png").is_err());
    }
}
