//! Which network path a gateway URL takes, and whether plaintext `ws://` may use it
//! (spec §12.1). Plaintext is allowed only where the network itself is private: loopback,
//! RFC 1918 and link-local ranges, Tailscale's CGNAT range, `.local` and `*.ts.net` names.
//! Everything else needs `wss://`, an SSH tunnel or Tailscale, and is refused before any
//! credential is loaded.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// The kind of path to the gateway (shown by `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransportPath {
    /// This machine.
    Loopback,
    /// A local port forwarded by an SSH tunnel the node supervises.
    SshTunnel,
    /// Tailscale (CGNAT range or a `*.ts.net` name).
    Tailnet,
    /// A private LAN range or an mDNS `.local` name.
    Lan,
    /// Anything else.
    Public,
}

impl std::fmt::Display for TransportPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransportPath::Loopback => "loopback",
            TransportPath::SshTunnel => "ssh-tunnel",
            TransportPath::Tailnet => "tailnet",
            TransportPath::Lan => "lan",
            TransportPath::Public => "public",
        })
    }
}

fn v4_class(ip: Ipv4Addr) -> TransportPath {
    let o = ip.octets();
    if ip.is_loopback() {
        TransportPath::Loopback
    } else if o[0] == 100 && (64..128).contains(&o[1]) {
        TransportPath::Tailnet
    } else if ip.is_private() || ip.is_link_local() {
        TransportPath::Lan
    } else {
        TransportPath::Public
    }
}

fn v6_class(ip: Ipv6Addr) -> TransportPath {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_class(v4);
    }
    let s = ip.segments();
    if ip.is_loopback() {
        TransportPath::Loopback
    } else if s[0] == 0xfd7a && s[1] == 0x115c && s[2] == 0xa1e0 {
        // Tailscale's IPv6 range fd7a:115c:a1e0::/48.
        TransportPath::Tailnet
    } else if (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0
    // deprecated site local fec0::/10
    {
        TransportPath::Lan
    } else {
        TransportPath::Public
    }
}

/// Classifies the host of a gateway URL.
pub fn classify(host: &url::Host<&str>) -> TransportPath {
    match host {
        url::Host::Ipv4(ip) => v4_class(*ip),
        url::Host::Ipv6(ip) => v6_class(*ip),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if let Ok(ip) = name.parse::<IpAddr>() {
                return match ip {
                    IpAddr::V4(v4) => v4_class(v4),
                    IpAddr::V6(v6) => v6_class(v6),
                };
            }
            if name == "localhost" {
                TransportPath::Loopback
            } else if name.ends_with(".ts.net") {
                TransportPath::Tailnet
            } else if name.ends_with(".local") {
                TransportPath::Lan
            } else {
                TransportPath::Public
            }
        }
    }
}

/// Why a plaintext connection is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing plaintext ws:// to {host}: it is not a loopback, private, .local or tailnet address, so the token and every command would cross the network unencrypted. Use wss://, an SSH tunnel (--ssh user@host), or Tailscale; for a private DNS name you trust, set OPENCLAW_ALLOW_INSECURE_PRIVATE_WS=1"
)]
pub struct PlaintextRefused {
    /// The host.
    pub host: String,
}

/// Checks the plaintext rule for a normalised `ws://` or `wss://` URL.
/// `allow_insecure_private` (from `OPENCLAW_ALLOW_INSECURE_PRIVATE_WS=1`) admits any DNS
/// name, never a public IP literal.
pub fn check_plaintext(
    url: &url::Url,
    allow_insecure_private: bool,
) -> Result<TransportPath, PlaintextRefused> {
    let Some(host) = url.host() else {
        return Err(PlaintextRefused {
            host: String::new(),
        });
    };
    let path = classify(&host);
    if url.scheme() == "wss" || path != TransportPath::Public {
        return Ok(path);
    }
    if allow_insecure_private
        && matches!(host, url::Host::Domain(d) if d.parse::<IpAddr>().is_err())
    {
        return Ok(path);
    }
    Err(PlaintextRefused {
        host: host.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, allow: bool) -> Result<TransportPath, PlaintextRefused> {
        check_plaintext(&url::Url::parse(url).unwrap(), allow)
    }

    #[test]
    fn plaintext_table() {
        use TransportPath::*;
        let cases: &[(&str, Option<TransportPath>)] = &[
            ("ws://127.0.0.1:18789", Some(Loopback)),
            ("ws://127.8.9.10", Some(Loopback)),
            ("ws://localhost.:1", Some(Loopback)),
            ("ws://LOCALHOST", Some(Loopback)),
            ("ws://[::1]:1", Some(Loopback)),
            ("ws://[::ffff:127.0.0.1]", Some(Loopback)),
            ("ws://10.1.2.3", Some(Lan)),
            ("ws://172.16.0.1", Some(Lan)),
            ("ws://172.31.255.255", Some(Lan)),
            ("ws://192.168.1.10", Some(Lan)),
            ("ws://169.254.1.1", Some(Lan)),
            ("ws://[fe80::1]", Some(Lan)),
            ("ws://[fd12::1]", Some(Lan)),
            ("ws://[fec0::1]", Some(Lan)),
            ("ws://printer.local", Some(Lan)),
            ("ws://100.64.0.1", Some(Tailnet)),
            ("ws://100.127.255.255", Some(Tailnet)),
            ("ws://[fd7a:115c:a1e0::1]", Some(Tailnet)),
            ("ws://gw.tail1234.ts.net", Some(Tailnet)),
            ("ws://172.32.0.1", None),
            ("ws://100.128.0.1", None),
            ("ws://8.8.8.8", None),
            ("ws://[2001:db8::1]", None),
            ("ws://gateway.example.com", None),
            ("ws://notlocal", None),
            ("wss://gateway.example.com", Some(Public)),
            ("wss://8.8.8.8", Some(Public)),
        ];
        for (url, want) in cases {
            assert_eq!(check(url, false).ok(), *want, "{url}");
        }
    }

    #[test]
    fn the_escape_hatch_admits_dns_names_but_not_public_ips() {
        assert_eq!(check("ws://gateway.corp", true), Ok(TransportPath::Public));
        assert!(check("ws://8.8.8.8", true).is_err());
        assert!(check("ws://[2001:db8::1]", true).is_err());
    }

    #[test]
    fn the_refusal_gives_advice() {
        let e = check("ws://gateway.example.com", false).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("wss://") && text.contains("SSH tunnel") && text.contains("Tailscale")
        );
    }
}
