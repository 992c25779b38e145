//! The browser control service behind `browser.proxy`: the [`Service`] (settings, the
//! navigation policy, the profiles), how a profile's browser is chosen (binary, headless,
//! sandbox), and dropping every browser with the service.
//!
//! - [`profile`]: a profile's directories and tab bookkeeping; [`running`]: one launched
//!   browser; [`lifecycle`]: starting and stopping it; [`tabs`]: targets, tab references
//!   and pages; [`events`]: the CDP listeners that fill the bookkeeping.
//!
//! This file does not use its submodules' items beyond constructing a [`Profile`]; they
//! add methods to [`Service`] and import it from here.

pub mod events;
pub mod lifecycle;
pub mod profile;
pub mod running;
pub mod tabs;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::error::ServiceError;
use crate::launch::{self, Detected};
use crate::policy::NavPolicy;
use crate::service::profile::{Profile, TabBook};
use crate::settings::{BrowserSettings, DEFAULT_PROFILE};

/// The reference's default profile colour.
pub const DEFAULT_COLOR: &str = "#FF4500";

/// How headless was decided, for status bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadlessSource {
    /// `/start?headless=`.
    Request,
    /// `OPENCLAW_BROWSER_HEADLESS`.
    Env,
    /// `[browser] headless`.
    Config,
    /// Linux with no display.
    LinuxDisplayFallback,
    /// Headed by default.
    Default,
}

impl HeadlessSource {
    /// Wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            HeadlessSource::Request => "request",
            HeadlessSource::Env => "env",
            HeadlessSource::Config => "config",
            HeadlessSource::LinuxDisplayFallback => "linux-display-fallback",
            HeadlessSource::Default => "default",
        }
    }
}

/// The service behind `browser.proxy`.
pub struct Service {
    /// Settings from `[browser]`.
    pub settings: BrowserSettings,
    /// The navigation policy.
    pub policy: NavPolicy,
    /// Profiles by name (the default one first in iteration only by name order).
    pub profiles: BTreeMap<String, Arc<Profile>>,
    /// The process environment, read once (tests substitute it).
    env: HashMap<String, String>,
}

impl Service {
    /// A service over `data_dir` (profile directories are created below it on use).
    pub fn new(settings: BrowserSettings, data_dir: &Path, env: HashMap<String, String>) -> Self {
        let policy = NavPolicy {
            allow_private_network: settings.allow_private_network,
            allowed_hostnames: settings.allowed_hostnames.clone(),
            allowed_schemes: settings.allowed_schemes.clone(),
        };
        let mut names = vec![DEFAULT_PROFILE.to_string()];
        names.extend(settings.profiles.iter().cloned());
        let profiles = names
            .into_iter()
            .map(|name| {
                let p = Profile {
                    dir: data_dir.join(&name),
                    name: name.clone(),
                    running: tokio::sync::Mutex::new(None),
                    book: Arc::new(Mutex::new(TabBook::default())),
                    changed: Arc::new(Notify::new()),
                    headless_override: Mutex::new(None),
                };
                (name, Arc::new(p))
            })
            .collect();
        Self {
            settings,
            policy,
            profiles,
            env,
        }
    }

    /// The default profile's name.
    pub fn default_profile(&self) -> &str {
        self.settings
            .default_profile
            .as_deref()
            .unwrap_or(DEFAULT_PROFILE)
    }

    /// A profile by name.
    pub fn profile(&self, name: &str) -> Result<Arc<Profile>, ServiceError> {
        self.profiles.get(name).cloned().ok_or_else(|| {
            // The reference's words: the default profile first, then the others.
            let default = self.default_profile();
            let names: Vec<&str> = std::iter::once(default)
                .chain(
                    self.profiles
                        .keys()
                        .map(String::as_str)
                        .filter(|n| *n != default),
                )
                .collect();
            ServiceError::new(
                404,
                format!(
                    "Profile \"{name}\" not found. Available profiles: {}",
                    names.join(", ")
                ),
            )
        })
    }

    /// The browser binary for this machine.
    pub fn detect(&self) -> Result<Detected, String> {
        launch::detect(
            self.settings.executable_path.as_deref(),
            self.env.get("PATH").map(String::as_str),
        )
    }

    /// Whether a display is available (Linux; always true elsewhere).
    pub fn display_present(&self) -> bool {
        if !cfg!(target_os = "linux") {
            return true;
        }
        ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| self.env.get(*v).is_some_and(|s| !s.is_empty()))
    }

    /// Headless or not for `profile`, and why.
    pub fn headless(&self, profile: &Profile) -> (bool, HeadlessSource) {
        if let Some(h) = *profile.headless_override.lock().expect("headless lock") {
            return (h, HeadlessSource::Request);
        }
        if let Some(v) = self.env.get("OPENCLAW_BROWSER_HEADLESS") {
            match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => return (true, HeadlessSource::Env),
                "0" | "false" | "no" => return (false, HeadlessSource::Env),
                _ => {}
            }
        }
        if let Some(h) = self.settings.headless {
            return (h, HeadlessSource::Config);
        }
        if cfg!(target_os = "linux") && !self.display_present() {
            return (true, HeadlessSource::LinuxDisplayFallback);
        }
        (false, HeadlessSource::Default)
    }

    /// `--no-sandbox`: configured, else on when running as root (Chromium refuses to start
    /// as root with its sandbox).
    pub fn no_sandbox(&self) -> bool {
        self.settings.no_sandbox.unwrap_or_else(is_root)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // `Running`'s own Drop kills each browser tree synchronously.
        for p in self.profiles.values() {
            if let Ok(mut g) = p.running.try_lock() {
                g.take();
            }
        }
    }
}

/// Whether the node runs as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(env: &[(&str, &str)], settings: BrowserSettings) -> (Service, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        (Service::new(settings, dir.path(), env), dir)
    }

    #[test]
    fn headless_precedence() {
        let (s, _d) = service(&[], BrowserSettings::default());
        let p = s.profile(DEFAULT_PROFILE).unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(s.headless(&p), (true, HeadlessSource::LinuxDisplayFallback));
        }
        let (s, _d) = service(&[("DISPLAY", ":99")], BrowserSettings::default());
        let p = s.profile(DEFAULT_PROFILE).unwrap();
        assert_eq!(s.headless(&p), (false, HeadlessSource::Default));
        let (s, _d) = service(
            &[("DISPLAY", ":99"), ("OPENCLAW_BROWSER_HEADLESS", "1")],
            BrowserSettings {
                headless: Some(false),
                ..Default::default()
            },
        );
        let p = s.profile(DEFAULT_PROFILE).unwrap();
        assert_eq!(s.headless(&p), (true, HeadlessSource::Env));
        *p.headless_override.lock().unwrap() = Some(false);
        assert_eq!(s.headless(&p), (false, HeadlessSource::Request));
        assert!(
            s.profile("nope")
                .err()
                .unwrap()
                .message
                .contains("not found")
        );
    }
}
