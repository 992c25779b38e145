//! Which capture backend serves this environment, decided from the environment alone so
//! the choice is testable: on Linux the desktop portal in a Wayland session (X11 clients
//! under XWayland would see only other X11 windows), X11 when `DISPLAY` is set, otherwise
//! nothing, with the reason `doctor` prints; on macOS xcap (system frameworks only).

use std::collections::HashMap;
use std::sync::Arc;

use crate::source::Source;

/// The backend an environment calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// An X server, by its `DISPLAY` name.
    X11 {
        /// `DISPLAY`.
        display: String,
    },
    /// The desktop portal, on the session bus at this address.
    Portal {
        /// The session bus's D-Bus address.
        bus: String,
    },
    /// The platform's own capture (xcap on macOS).
    Native,
    /// Nothing can capture here, and why.
    None(String),
}

/// Picks the backend for `env` (the process environment, or a test's).
pub fn choose(env: &HashMap<String, String>) -> Backend {
    if !cfg!(target_os = "linux") {
        return if cfg!(target_os = "macos") {
            Backend::Native
        } else {
            Backend::None("screen capture is not supported on this platform".into())
        };
    }
    let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
    let wayland = get("WAYLAND_DISPLAY").is_some()
        || get("XDG_SESSION_TYPE").is_some_and(|t| t.eq_ignore_ascii_case("wayland"));
    let bus = get("DBUS_SESSION_BUS_ADDRESS").or_else(|| {
        let runtime = get("XDG_RUNTIME_DIR")?;
        let path = std::path::Path::new(&runtime).join("bus");
        path.exists()
            .then(|| format!("unix:path={}", path.display()))
    });
    match (wayland, bus, get("DISPLAY")) {
        (true, Some(bus), _) => Backend::Portal { bus },
        (_, _, Some(display)) => Backend::X11 { display },
        (true, None, None) => Backend::None(
            "Wayland without a session bus: the screenshot portal cannot be reached".into(),
        ),
        (false, _, None) => {
            Backend::None("no display: DISPLAY and WAYLAND_DISPLAY are not set".into())
        }
    }
}

/// The frame source for `backend`, or why there is none.
pub fn source(backend: &Backend) -> Result<Arc<dyn Source>, String> {
    match backend {
        #[cfg(target_os = "linux")]
        Backend::X11 { display } => Ok(Arc::new(crate::x11::X11Source::new(display.clone()))),
        #[cfg(target_os = "linux")]
        Backend::Portal { bus } => Ok(Arc::new(crate::portal::PortalSource::new(bus.clone()))),
        #[cfg(target_os = "macos")]
        Backend::Native => Ok(Arc::new(crate::xcap_source::XcapSource)),
        Backend::None(reason) => Err(reason.clone()),
        #[allow(unreachable_patterns)]
        _ => Err("this build has no capture backend for this platform".into()),
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_environment_decides_the_backend() {
        let x11 = Backend::X11 {
            display: ":1".into(),
        };
        let portal = Backend::Portal {
            bus: "unix:path=/b".into(),
        };
        for (vars, want) in [
            (vec![("DISPLAY", ":1")], x11.clone()),
            (
                vec![
                    ("DISPLAY", ":1"),
                    ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/b"),
                ],
                x11.clone(),
            ),
            (
                vec![
                    ("WAYLAND_DISPLAY", "wayland-0"),
                    ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/b"),
                ],
                portal.clone(),
            ),
            (
                vec![
                    ("XDG_SESSION_TYPE", "wayland"),
                    ("DISPLAY", ":1"),
                    ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/b"),
                ],
                portal.clone(),
            ),
            // Wayland with XWayland but no bus: X11 still answers.
            (
                vec![("WAYLAND_DISPLAY", "wayland-0"), ("DISPLAY", ":1")],
                x11.clone(),
            ),
            (
                vec![("DISPLAY", "")],
                Backend::None("no display: DISPLAY and WAYLAND_DISPLAY are not set".into()),
            ),
        ] {
            assert_eq!(choose(&env(&vars)), want, "{vars:?}");
        }
        let Backend::None(reason) = choose(&env(&[("WAYLAND_DISPLAY", "wayland-0")])) else {
            panic!("no bus, no X11: nothing");
        };
        assert!(reason.contains("session bus"), "{reason}");
    }

    #[test]
    fn the_runtime_dir_bus_is_found_without_the_address_variable() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bus"), b"").unwrap();
        let runtime = dir.path().to_str().unwrap();
        assert_eq!(
            choose(&env(&[
                ("WAYLAND_DISPLAY", "w"),
                ("XDG_RUNTIME_DIR", runtime)
            ])),
            Backend::Portal {
                bus: format!("unix:path={runtime}/bus")
            }
        );
    }
}
