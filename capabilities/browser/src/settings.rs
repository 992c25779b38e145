//! `[browser]` in the node's config file: what the browser capability may do on this
//! machine. Every field has a safe default; the section can be left out.

use std::path::PathBuf;

use serde::Deserialize;

/// The name of the managed default profile.
pub const DEFAULT_PROFILE: &str = "openclaw";

/// The `[browser]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrowserSettings {
    /// Serve `browser.proxy` at all (default true; the cap is advertised only when a
    /// browser binary is found).
    pub enabled: bool,
    /// The browser binary; default: the first of chromium, chromium-browser,
    /// google-chrome, … on `PATH`, then the macOS app bundles.
    pub executable_path: Option<PathBuf>,
    /// Headless or headed; default headless on Linux without a display, headed otherwise.
    pub headless: Option<bool>,
    /// Pass `--no-sandbox`; default on only when the node runs as root.
    pub no_sandbox: Option<bool>,
    /// Extra managed profiles besides `openclaw`.
    pub profiles: Vec<String>,
    /// The profile used when a call names none (default `openclaw`).
    pub default_profile: Option<String>,
    /// Profiles `browser.proxy` may use; empty = all.
    pub allow_profiles: Vec<String>,
    /// Allow `evaluate` and `wait.fn` (default true).
    pub evaluate_enabled: bool,
    /// Allow private, loopback and link-local destinations (default false).
    pub allow_private_network: bool,
    /// Hosts exempt from the private-network check (`intranet.example`, `*.corp`).
    pub allowed_hostnames: Vec<String>,
    /// Schemes allowed besides http and https (e.g. `file`); default none.
    pub allowed_schemes: Vec<String>,
    /// Flags appended to the browser's command line.
    pub extra_args: Vec<String>,
}

impl Default for BrowserSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            executable_path: None,
            headless: None,
            no_sandbox: None,
            profiles: Vec::new(),
            default_profile: None,
            allow_profiles: Vec::new(),
            evaluate_enabled: true,
            allow_private_network: false,
            allowed_hostnames: Vec::new(),
            allowed_schemes: Vec::new(),
            extra_args: Vec::new(),
        }
    }
}

impl BrowserSettings {
    /// Checks values a typo would make dangerous or useless.
    pub fn validate(&self) -> Result<(), String> {
        let valid_name = |n: &str| {
            !n.is_empty()
                && n.len() <= 64
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        for p in self.profiles.iter().chain(self.default_profile.iter()) {
            if !valid_name(p) {
                return Err(format!(
                    "browser profile name {p:?} must be 1-64 letters, digits, '-' or '_'"
                ));
            }
        }
        if let Some(d) = &self.default_profile
            && d != DEFAULT_PROFILE
            && !self.profiles.contains(d)
        {
            return Err(format!("default_profile {d:?} is not listed in profiles"));
        }
        for s in &self.allowed_schemes {
            if matches!(s.to_ascii_lowercase().as_str(), "javascript") {
                return Err("allowed_schemes cannot include javascript".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_safe_and_names_are_checked() {
        let s = BrowserSettings::default();
        assert!(s.enabled && s.evaluate_enabled && !s.allow_private_network);
        assert!(s.allowed_schemes.is_empty());
        assert!(s.validate().is_ok());
        let bad = BrowserSettings {
            profiles: vec!["../x".into()],
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("must be 1-64"));
        let dangling = BrowserSettings {
            default_profile: Some("work".into()),
            ..Default::default()
        };
        assert!(dangling.validate().unwrap_err().contains("not listed"));
        let js = BrowserSettings {
            allowed_schemes: vec!["JavaScript".into()],
            ..Default::default()
        };
        assert!(js.validate().is_err());
    }
}
