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
///
/// IPv6 forms that carry an IPv4 address a packet really ends up at today are judged as
/// that IPv4 address: IPv4-mapped (a dual-stack socket connects to the IPv4 host itself),
/// NAT64's well-known prefix (the translator forwards to it) and 6to4 (a relay forwards
/// to it). So `64:ff9b::1.1.1.1` is public like `::ffff:1.1.1.1`, and
/// `64:ff9b::127.0.0.1` or `2002:a9fe:a9fe::` are refused like the IPv4 address inside.
/// Every other form that embeds an IPv4 address is refused whole (see `NOT_PUBLIC_V6`),
/// and so is everything outside global unicast `2000::/3`.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let bits = v6.to_bits();
            if NAT64_WELL_KNOWN.contains(v6) {
                return is_public_v4(Ipv4Addr::from_bits(bits as u32));
            }
            if SIX_TO_FOUR.contains(v6) {
                return is_public_v4(Ipv4Addr::from_bits((bits >> 80) as u32));
            }
            GLOBAL_UNICAST.contains(v6) && !NOT_PUBLIC_V6.iter().any(|p| p.contains(v6))
        }
    }
}

/// An IPv6 prefix: an address and how many of its leading bits count.
struct V6Prefix {
    net: Ipv6Addr,
    len: u32,
}

impl V6Prefix {
    const fn new(net: Ipv6Addr, len: u32) -> Self {
        Self { net, len }
    }

    fn contains(&self, ip: Ipv6Addr) -> bool {
        let mask = u128::MAX.checked_shl(128 - self.len).unwrap_or(0);
        (ip.to_bits() ^ self.net.to_bits()) & mask == 0
    }
}

/// Global unicast space (RFC 4291 §2.4, IANA): nothing outside it is a web destination.
const GLOBAL_UNICAST: V6Prefix = V6Prefix::new(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);
/// NAT64 well-known prefix (RFC 6052): the last 32 bits are the IPv4 destination.
const NAT64_WELL_KNOWN: V6Prefix = V6Prefix::new(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96);
/// 6to4 (RFC 3056): bits 16-47 are the IPv4 address of the site's relay.
const SIX_TO_FOUR: V6Prefix = V6Prefix::new(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16);

/// Special-purpose IPv6 ranges that are never a public destination (IANA IPv6
/// Special-Purpose Address Registry). Those outside `2000::/3` are refused by
/// [`GLOBAL_UNICAST`] already and listed so that this table names every range.
///
/// Teredo (`2001::/32`, inside `2001::/23`) is refused whole rather than judged by the
/// addresses it embeds (the server's IPv4 in bits 32-63, the client's NAT address in the
/// last 32 bits XOR `0xffffffff`): a Teredo address is a tunnel endpoint behind a NAT,
/// never where a site is served, and with a local Teredo interface the packets go out as
/// UDP to the embedded server and client addresses, two IPv4 destinations per address to
/// get right for no gain. The same holds for NAT64's local-use prefix, whose IPv4 address
/// sits wherever the operator's chosen prefix length puts it (RFC 6052 §2.2), and for the
/// deprecated IPv4-compatible and obsolete SIIT forms, which no route serves today.
const NOT_PUBLIC_V6: &[V6Prefix] = &[
    // ::/96 IPv4-compatible (deprecated, RFC 4291 §2.5.5.1), with :: and ::1 in it
    V6Prefix::new(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96),
    // ::ffff:0:0:0/96 SIIT IPv4-translated (RFC 2765, obsoleted by RFC 6145)
    V6Prefix::new(Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, 0, 0), 96),
    // 64:ff9b:1::/48 NAT64 local use (RFC 8215)
    V6Prefix::new(Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48),
    // 100::/64 discard-only (RFC 6666)
    V6Prefix::new(Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),
    // 2001::/23 IETF protocol assignments (RFC 2928): Teredo 2001::/32, benchmarking
    // 2001:2::/48, ORCHID, AMT, AS112; none is a web destination
    V6Prefix::new(Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),
    // 2001:db8::/32 documentation (RFC 3849)
    V6Prefix::new(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
    // 3fff::/20 documentation (RFC 9637)
    V6Prefix::new(Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),
    // 5f00::/16 SRv6 SIDs (RFC 9602)
    V6Prefix::new(Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16),
    // fc00::/7 unique local (RFC 4193)
    V6Prefix::new(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
    // fe80::/10 link-local
    V6Prefix::new(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
    // fec0::/10 site-local (deprecated, RFC 3879)
    V6Prefix::new(Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),
    // ff00::/8 multicast
    V6Prefix::new(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),
];

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
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated, RFC 7526)
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

    /// Every special range, inside and at its edges, with the expected answer
    /// (`true` = public). Issue 17 §3: NAT64, 6to4 and Teredo were missed.
    const RANGES: &[(&str, bool)] = &[
        // IPv4
        ("0.0.0.0", false),
        ("0.255.255.255", false),
        ("1.0.0.0", true),
        ("9.255.255.255", true),
        ("10.0.0.0", false),
        ("10.255.255.255", false),
        ("11.0.0.0", true),
        ("100.63.255.255", true),
        ("100.64.0.0", false), // CGNAT, tailnets
        ("100.127.255.255", false),
        ("100.128.0.0", true),
        ("126.255.255.255", true),
        ("127.0.0.1", false),
        ("127.255.255.255", false),
        ("128.0.0.0", true),
        ("169.253.255.255", true),
        ("169.254.0.0", false),
        ("169.254.169.254", false),
        ("169.255.0.0", true),
        ("172.15.255.255", true),
        ("172.16.0.0", false),
        ("172.31.255.255", false),
        ("172.32.0.0", true),
        ("192.0.0.0", false), // IETF protocol assignments
        ("192.0.0.255", false),
        ("192.0.1.0", true),
        ("192.0.2.0", false), // TEST-NET-1
        ("192.0.2.255", false),
        ("192.0.3.0", true),
        ("192.88.98.255", true),
        ("192.88.99.0", false), // 6to4 relay anycast (deprecated)
        ("192.88.99.255", false),
        ("192.88.100.0", true),
        ("192.167.255.255", true),
        ("192.168.0.0", false),
        ("192.168.255.255", false),
        ("192.169.0.0", true),
        ("198.17.255.255", true),
        ("198.18.0.0", false), // benchmarking
        ("198.19.255.255", false),
        ("198.20.0.0", true),
        ("198.51.100.0", false), // TEST-NET-2
        ("198.51.100.255", false),
        ("203.0.113.0", false), // TEST-NET-3
        ("203.0.113.255", false),
        ("223.255.255.255", true),
        ("224.0.0.0", false), // multicast
        ("239.255.255.255", false),
        ("240.0.0.0", false), // reserved
        ("255.255.255.255", false),
        ("93.184.216.34", true),
        ("1.1.1.1", true),
        // IPv6: unspecified, loopback, IPv4-compatible ::/96 (deprecated: refused whole)
        ("::", false),
        ("::1", false),
        ("::2", false),
        ("::5db8:d822", false), // ::93.184.216.34
        ("::7f00:1", false),    // ::127.0.0.1
        ("::ffff:ffff", false),
        // IPv4-mapped ::ffff:0:0/96: judged as the IPv4 address it carries
        ("::1:0:0", false), // just below, unassigned
        ("::ffff:0.0.0.0", false),
        ("::ffff:127.0.0.1", false),
        ("::ffff:10.1.2.3", false),
        ("::ffff:169.254.169.254", false),
        ("::ffff:93.184.216.34", true),
        ("::ffff:255.255.255.255", false),
        ("::1:0:0:0", false), // just above, unassigned
        // SIIT IPv4-translated ::ffff:0:0:0/96 (obsolete): refused whole
        ("::ffff:0:0:0", false),
        ("::ffff:0:5db8:d822", false),
        ("::ffff:0:7f00:1", false),
        ("::ffff:0:ffff:ffff", false),
        // NAT64 well-known 64:ff9b::/96: judged as the IPv4 address it carries
        ("64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", false), // outside 2000::/3
        ("64:ff9b::", false),                             // 0.0.0.0
        ("64:ff9b::7f00:1", false),                       // 127.0.0.1
        ("64:ff9b::a00:1", false),                        // 10.0.0.1
        ("64:ff9b::a9fe:a9fe", false),                    // 169.254.169.254
        ("64:ff9b::c0a8:101", false),                     // 192.168.1.1
        ("64:ff9b::5db8:d822", true),                     // 93.184.216.34
        ("64:ff9b::101:101", true),                       // 1.1.1.1
        ("64:ff9b::ffff:ffff", false),                    // 255.255.255.255
        ("64:ff9b::1:0:0", false),                        // past the /96
        // NAT64 local-use 64:ff9b:1::/48: refused whole
        ("64:ff9b:1::", false),
        ("64:ff9b:1::5db8:d822", false),
        ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", false),
        ("64:ff9b:2::", false),
        // discard-only 100::/64
        ("100::", false),
        ("100::ffff:ffff:ffff:ffff", false),
        ("100:0:0:1::", false),
        // 2001::/23 IETF protocol assignments, Teredo 2001::/32 among them: refused whole
        ("2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("2001::", false),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", false), // Teredo, public client
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", false), // Teredo, client 127.0.0.1
        ("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", false),
        ("2001:1::1", false),
        ("2001:2::", false),   // benchmarking
        ("2001:10::1", false), // ORCHID
        ("2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", false),
        ("2001:200::", true),
        // documentation 2001:db8::/32
        ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("2001:db8::", false),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", false),
        ("2001:db9::", true),
        // 6to4 2002::/16: judged as the IPv4 address in bits 16-47
        ("2002::", false),                                  // 0.0.0.0
        ("2002:7f00:1::", false),                           // 127.0.0.1
        ("2002:a00:1::1", false),                           // 10.0.0.1
        ("2002:a9fe:a9fe::", false),                        // 169.254.169.254
        ("2002:c0a8:101:ffff::1", false),                   // 192.168.1.1
        ("2002:5db8:d822::1", true),                        // 93.184.216.34
        ("2002:101:101:1::", true),                         // 1.1.1.1
        ("2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false), // 255.255.255.255
        ("2003::", true),
        // documentation 3fff::/20
        ("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("3fff::", false),
        ("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", false),
        ("3fff:1000::", true),
        // SRv6 SIDs 5f00::/16 (outside 2000::/3, like its neighbours)
        ("5f00::", false),
        ("5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false),
        // global unicast is 2000::/3; nothing outside it is public
        ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false),
        ("2000::", true),
        ("3fff:ffff::", true),
        ("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("4000::", false),
        ("5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false),
        ("5f01::", false),
        // unique local fc00::/7
        ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false),
        ("fc00::", false),
        ("fd00::1", false),
        ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false),
        // link-local fe80::/10, site-local fec0::/10
        ("fe80::", false),
        ("fe80::1", false),
        ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false),
        ("fec0::", false),
        ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false),
        // multicast ff00::/8
        ("ff00::", false),
        ("ff02::1", false),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false),
        // public unicast
        ("2606:4700::1111", true),
        ("2a00:1450:4001:82a::200e", true),
    ];

    #[test]
    fn special_ranges_and_their_edges_are_classified() {
        let wrong: Vec<String> = RANGES
            .iter()
            .filter_map(|&(ip, public)| {
                let got = is_public(ip.parse().expect(ip));
                (got != public).then(|| format!("{ip}: expected public={public}, got {got}"))
            })
            .collect();
        assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
    }

    #[tokio::test]
    async fn urls_with_embedded_private_ipv4_are_refused() {
        let p = strict();
        for url in [
            "http://[64:ff9b::7f00:1]/",
            "http://[64:ff9b:1::a00:1]/",
            "http://[2002:a9fe:a9fe::]/",
            "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
            "http://[::127.0.0.1]/",
            "http://[::ffff:0:127.0.0.1]/",
        ] {
            assert_eq!(p.check(url).await, Err(NavBlock::Private), "{url}");
        }
        assert_eq!(p.check("http://[64:ff9b::5db8:d822]/").await, Ok(()));
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
