//! The browser's node-local safety rules (spec browser.md §4.2, §4.4): which URLs a tab
//! may load, and which files the routes may read or write. Pure apart from DNS lookups.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Component, Path, PathBuf};

use url::Url;

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NavBlock {
    /// Not a URL at all.
    #[error("Invalid URL: {0}")]
    Invalid(String),
    /// A scheme other than http, https and `about:blank` (unless configured).
    #[error("Navigation blocked: unsupported protocol \"{0}:\"")]
    Protocol(String),
    /// A private, loopback, link-local or special-purpose destination.
    #[error("browser navigation blocked by policy")]
    Private,
}

/// The navigation policy of one node.
#[derive(Debug, Clone, Default)]
pub struct NavPolicy {
    /// Allow private, loopback and link-local destinations (tests, LAN browsing).
    pub allow_private_network: bool,
    /// Host names exempt from the private-range check: exact, or `*.domain`.
    pub allowed_hostnames: Vec<String>,
    /// Extra schemes allowed besides http and https (e.g. `file`, `data`).
    pub allowed_schemes: Vec<String>,
}

impl NavPolicy {
    /// Checks scheme and syntax only (no DNS): what can be decided before any I/O.
    pub fn check_syntax(&self, raw: &str) -> Result<Option<Url>, NavBlock> {
        let raw = raw.trim();
        if raw == "about:blank" {
            return Ok(None);
        }
        let url = Url::parse(raw).map_err(|_| NavBlock::Invalid(raw.to_string()))?;
        let scheme = url.scheme().to_ascii_lowercase();
        if scheme == "http" || scheme == "https" {
            if url.host().is_none() {
                return Err(NavBlock::Invalid(raw.to_string()));
            }
            return Ok(Some(url));
        }
        if self
            .allowed_schemes
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&scheme))
        {
            return Ok(None);
        }
        Err(NavBlock::Protocol(scheme))
    }

    fn hostname_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allowed_hostnames.iter().any(|pattern| {
            let pattern = pattern.to_ascii_lowercase();
            match pattern.strip_prefix("*.") {
                Some(domain) => host.ends_with(&format!(".{domain}")),
                None => host == pattern,
            }
        })
    }

    /// The full check: scheme, then the destination's addresses (resolved by DNS).
    pub async fn check(&self, raw: &str) -> Result<(), NavBlock> {
        let Some(url) = self.check_syntax(raw)? else {
            return Ok(());
        };
        if self.allow_private_network {
            return Ok(());
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(ip)) => {
                return if is_public(IpAddr::V4(ip)) {
                    Ok(())
                } else {
                    Err(NavBlock::Private)
                };
            }
            Some(url::Host::Ipv6(ip)) => {
                return if is_public(IpAddr::V6(ip)) {
                    Ok(())
                } else {
                    Err(NavBlock::Private)
                };
            }
            None => return Err(NavBlock::Invalid(raw.to_string())),
        };
        if self.hostname_allowed(&host) {
            return Ok(());
        }
        let lower = host.to_ascii_lowercase();
        if lower == "localhost" || lower.ends_with(".localhost") || lower.ends_with(".local") {
            return Err(NavBlock::Private);
        }
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| NavBlock::Private)?;
        let mut any = false;
        for addr in addrs {
            any = true;
            if !is_public(addr.ip()) {
                return Err(NavBlock::Private);
            }
        }
        // A name that resolves to nothing cannot be checked: refuse it (fail closed).
        if any { Ok(()) } else { Err(NavBlock::Private) }
    }
}

/// Whether an address is a public unicast destination.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 well-known prefix 64:ff9b::/96 embeds an IPv4 address.
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let v4 =
                    Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
                return is_public_v4(v4);
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // CGNAT, tailnets
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 0 && c == 2)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224)
}

/// Resolves a caller-supplied `raw` path inside `root`: relative paths are joined to it,
/// absolute ones must already be inside it; `..`, symlinked escapes and links to other
/// files are refused. `scope` names the root in the error (`downloads`, `uploads`).
pub fn confine(root: &Path, raw: &str, scope: &str) -> Result<PathBuf, String> {
    let invalid = |why: &str| {
        format!(
            "Invalid path: {raw:?} {why} (allowed: the {scope} directory {})",
            root.display()
        )
    };
    if raw.trim().is_empty() || raw.contains('\0') {
        return Err(invalid("is empty or malformed"));
    }
    let p = Path::new(raw);
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(invalid("contains .."));
    }
    std::fs::create_dir_all(root).map_err(|e| invalid(&format!("cannot be prepared: {e}")))?;
    let root_real =
        std::fs::canonicalize(root).map_err(|e| invalid(&format!("cannot be resolved: {e}")))?;
    let joined = if p.is_absolute() {
        let inside = p.starts_with(root) || p.starts_with(&root_real);
        if !inside {
            return Err(invalid("is outside"));
        }
        p.to_path_buf()
    } else {
        root_real.join(p)
    };
    let parent = joined.parent().ok_or_else(|| invalid("has no parent"))?;
    let parent_real = std::fs::canonicalize(parent)
        .map_err(|_| invalid("names a directory that does not exist"))?;
    if !parent_real.starts_with(&root_real) {
        return Err(invalid("escapes through a symlink"));
    }
    let file = parent_real.join(joined.file_name().ok_or_else(|| invalid("names no file"))?);
    if let Ok(meta) = std::fs::symlink_metadata(&file) {
        if meta.file_type().is_symlink() {
            return Err(invalid("is a symlink"));
        }
        use std::os::unix::fs::MetadataExt as _;
        if meta.is_file() && meta.nlink() > 1 {
            return Err(invalid("is a hard link"));
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> NavPolicy {
        NavPolicy::default()
    }

    #[test]
    fn schemes_other_than_http_are_refused_unless_configured() {
        let p = strict();
        assert_eq!(p.check_syntax("about:blank"), Ok(None));
        assert!(p.check_syntax("https://example.com/").unwrap().is_some());
        for (raw, scheme) in [
            ("file:///etc/passwd", "file"),
            ("chrome://settings", "chrome"),
            ("javascript:alert(1)", "javascript"),
            ("data:text/html,hi", "data"),
            ("view-source:https://x.y/", "view-source"),
            ("about:config", "about"),
        ] {
            assert_eq!(
                p.check_syntax(raw),
                Err(NavBlock::Protocol(scheme.into())),
                "{raw}"
            );
        }
        assert_eq!(
            p.check_syntax("not a url"),
            Err(NavBlock::Invalid("not a url".into()))
        );
        assert_eq!(
            NavBlock::Protocol("file".into()).to_string(),
            "Navigation blocked: unsupported protocol \"file:\""
        );
        let open = NavPolicy {
            allowed_schemes: vec!["file".into()],
            ..strict()
        };
        assert_eq!(open.check_syntax("file:///tmp/x.html"), Ok(None));
    }

    #[test]
    fn private_and_special_ranges_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.1.1",
            "0.0.0.0",
            "198.18.0.1",
            "224.0.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "::",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "64:ff9b::5db8:d822",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_allowed() {
        let p = strict();
        assert_eq!(
            p.check("http://127.0.0.1:8080/").await,
            Err(NavBlock::Private)
        );
        assert_eq!(p.check("http://localhost/").await, Err(NavBlock::Private));
        assert_eq!(p.check("http://[::1]/").await, Err(NavBlock::Private));
        let named = NavPolicy {
            allowed_hostnames: vec!["localhost".into()],
            ..strict()
        };
        assert_eq!(named.check("http://localhost:9/").await, Ok(()));
        let wild = NavPolicy {
            allowed_hostnames: vec!["*.localhost".into()],
            ..strict()
        };
        assert_eq!(wild.check("http://app.localhost/").await, Ok(()));
        let open = NavPolicy {
            allow_private_network: true,
            ..strict()
        };
        assert_eq!(open.check("http://127.0.0.1:8080/").await, Ok(()));
        assert_eq!(
            open.check("file:///etc/passwd").await,
            Err(NavBlock::Protocol("file".into()))
        );
    }

    #[test]
    fn paths_stay_inside_their_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("downloads");
        let ok = confine(&root, "report.pdf", "downloads").unwrap();
        assert!(ok.ends_with("downloads/report.pdf"));
        let abs = root.join("a.txt");
        assert!(confine(&root, abs.to_str().unwrap(), "downloads").is_ok());
        for bad in ["../x", "/etc/passwd", "", "a/../../b"] {
            let err = confine(&root, bad, "downloads").unwrap_err();
            assert!(err.starts_with("Invalid path"), "{bad}: {err}");
        }
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
        let err = confine(&root, "etc/passwd", "downloads").unwrap_err();
        assert!(err.contains("symlink"), "{err}");
        std::os::unix::fs::symlink("/etc/passwd", root.join("pw")).unwrap();
        assert!(
            confine(&root, "pw", "downloads")
                .unwrap_err()
                .contains("symlink")
        );
        std::fs::write(dir.path().join("outside"), "x").unwrap();
        std::fs::hard_link(dir.path().join("outside"), root.join("hl")).unwrap();
        assert!(
            confine(&root, "hl", "downloads")
                .unwrap_err()
                .contains("hard link")
        );
    }
}
