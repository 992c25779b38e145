//! The Wayland path against a real `dbus-daemon`: no portal backend (GNOME Shell, KDE, wlroots)
//! runs on a headless machine, so a stand-in service implements the documented
//! `org.freedesktop.portal.Screenshot` contract — `Screenshot(s, a{sv}) -> o`, then
//! `org.freedesktop.portal.Request.Response(u, a{sv})` on the handle built from the caller's
//! unique name and `handle_token`, with `uri` pointing at a PNG — and the client is checked
//! against it: pixels read, file removed, a refusal and a silent portal reported.
#![cfg(target_os = "linux")]

use std::collections::HashMap;
use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use openclaw_capability_screen::portal::{self, PortalSource};
use openclaw_capability_screen::{ScreenCapability, ScreenSettings, Source as _};
use zbus::zvariant::{OwnedObjectPath, Value};

/// A private session bus, killed on drop.
struct Bus {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Bus {
    fn start() -> Bus {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", dir.path().join("bus").display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("this test needs dbus-daemon ({e}): run scripts/test, which installs dbus-daemon")
            });
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("unix:"), "dbus-daemon printed {line:?}");
        Bus {
            child,
            address: line.trim().to_string(),
            _dir: dir,
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the stand-in portal answers.
#[derive(Clone, Copy)]
enum Answer {
    /// Writes the PNG and answers 0 with its uri.
    Image,
    /// Answers 1 (the user refused).
    Refused,
    /// Never answers.
    Silent,
}

struct FakePortal {
    answer: Answer,
    png: PathBuf,
}

#[zbus::interface(name = "org.freedesktop.portal.Screenshot")]
impl FakePortal {
    async fn screenshot(
        &self,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
        _parent_window: &str,
        options: HashMap<String, zbus::zvariant::OwnedValue>,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        let sender = header.sender().expect("a sender").to_string();
        let token = options
            .get("handle_token")
            .and_then(|v| <&str>::try_from(&**v).ok())
            .expect("the client sends a handle_token")
            .to_string();
        assert_eq!(
            options
                .get("interactive")
                .and_then(|v| bool::try_from(&**v).ok()),
            Some(false)
        );
        let path = portal::request_path(&sender, &token);
        let body: Option<(u32, HashMap<&str, Value<'_>>)> = match self.answer {
            Answer::Image => {
                let img = image::RgbaImage::from_fn(40, 20, |x, _| {
                    if x < 20 {
                        image::Rgba([255, 0, 0, 255])
                    } else {
                        image::Rgba([0, 0, 255, 255])
                    }
                });
                img.save(&self.png).unwrap();
                let uri = format!("file://{}", self.png.display()).replace(' ', "%20");
                Some((0, [("uri", Value::from(uri))].into()))
            }
            Answer::Refused => Some((1, HashMap::new())),
            Answer::Silent => None,
        };
        // Answer before the method reply: a client that subscribes only after the reply
        // would miss it.
        if let Some(body) = body {
            conn.emit_signal(
                None::<()>,
                path.as_str(),
                portal::REQUEST_INTERFACE,
                "Response",
                &body,
            )
            .await?;
        }
        Ok(OwnedObjectPath::try_from(path).unwrap())
    }

    #[zbus(property, name = "version")]
    fn version(&self) -> u32 {
        2
    }
}

/// The stand-in portal on `bus`; it serves as long as the returned connection lives.
fn serve(bus: &Bus, answer: Answer, png: PathBuf) -> zbus::blocking::Connection {
    zbus::blocking::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .name(portal::DESTINATION)
        .unwrap()
        .serve_at(portal::OBJECT_PATH, FakePortal { answer, png })
        .unwrap()
        .build()
        .unwrap()
}

#[test]
#[ignore = "needs dbus-daemon: scripts/test"]
fn a_portal_screenshot_is_read_and_its_file_removed() {
    let bus = Bus::start();
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("Screenshot from now.png");
    let _portal = serve(&bus, Answer::Image, png.clone());
    let env: HashMap<String, String> = [
        ("WAYLAND_DISPLAY".to_string(), "wayland-0".to_string()),
        ("DBUS_SESSION_BUS_ADDRESS".to_string(), bus.address.clone()),
    ]
    .into();
    let cap = ScreenCapability::with_env(ScreenSettings::default(), &env);
    assert_eq!(cap.unavailable_reason(), None);

    let source = PortalSource::new(bus.address.clone());
    assert_eq!(source.version().unwrap(), 2);
    assert_eq!(source.monitors().unwrap(), vec![(0, 0)]);
    let shot = source.capture(0).unwrap();
    assert_eq!(shot.dimensions(), (40, 20));
    assert_eq!(shot.get_pixel(5, 10).0, [255, 0, 0, 255]);
    assert_eq!(shot.get_pixel(35, 10).0, [0, 0, 255, 255]);
    assert!(!png.exists(), "the portal's file is removed after reading");
    let e = source.capture(1).unwrap_err();
    assert!(e.contains("out of range"), "{e}");
}

#[test]
#[ignore = "needs dbus-daemon: scripts/test"]
fn a_refusing_or_silent_portal_and_a_bus_without_one_are_reported() {
    let bus = Bus::start();
    let dir = tempfile::tempdir().unwrap();

    // No portal on the bus: not advertised, with the reason.
    let env: HashMap<String, String> = [
        ("WAYLAND_DISPLAY".to_string(), "wayland-0".to_string()),
        ("DBUS_SESSION_BUS_ADDRESS".to_string(), bus.address.clone()),
    ]
    .into();
    let reason = ScreenCapability::with_env(ScreenSettings::default(), &env)
        .unavailable_reason()
        .unwrap();
    assert!(reason.contains("no screenshot portal"), "{reason}");

    let portal = serve(&bus, Answer::Refused, dir.path().join("x.png"));
    let e = PortalSource::new(bus.address.clone())
        .capture(0)
        .unwrap_err();
    assert!(e.contains("cancelled or refused"), "{e}");
    drop(portal);

    let _portal = serve(&bus, Answer::Silent, dir.path().join("y.png"));
    let started = std::time::Instant::now();
    let e = PortalSource::new(bus.address.clone())
        .with_timeout(Duration::from_millis(300))
        .capture(0)
        .unwrap_err();
    assert!(e.contains("did not answer within"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
