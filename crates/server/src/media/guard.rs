//! Keeps media downloads off internal addresses.
//!
//! The URLs we download come from outside: a GHL user's attachment, a provider's webhook.
//! Without a guard, a link to `http://169.254.169.254/…` (a cloud's metadata service) or to
//! a service on the gateway's private network would be fetched by the gateway and, for
//! providers that take uploads, sent on to a contact. So a download may only reach public
//! addresses: a host is refused when it is an internal IP literal, when it resolves only to
//! internal addresses, and reqwest itself connects only through a resolver that drops
//! internal addresses (so a name that resolves differently the second time, DNS rebinding,
//! gains nothing). Redirects are checked the same way.
//!
//! `SWITCHBOARD_MEDIA_ALLOW_INTERNAL_HOSTS=true` lifts the guard, for a sandbox on loopback
//! (the demo, tests) or media hosts on a private network you trust.

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether `ip` is an address a download must not reach: loopback, private, link-local
/// (cloud metadata lives there), shared (carrier NAT), unspecified, multicast, broadcast,
/// documentation and benchmarking ranges, and IPv6's unique-local and link-local ranges
/// (IPv4-mapped addresses are judged as IPv4).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal(IpAddr::V4(v4)),
            None => {
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || v6.is_unique_local()
                    || v6.is_unicast_link_local()
            }
        },
    }
}

/// A URL's host, if it is an internal IP literal (`http://10.0.0.1/x`, `http://[::1]/x`).
pub fn internal_literal(url: &reqwest::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)).filter(|ip| is_internal(*ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)).filter(|ip| is_internal(*ip)),
        url::Host::Domain(_) => None,
    }
}

/// Resolves names to their public addresses only; a name with none fails to connect.
#[derive(Debug, Clone, Copy)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = resolved.filter(|a| !is_internal(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{} has no public address", name.as_str()).into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// True when `host` resolves, and only to internal addresses: refused for good, before
/// any request. (A name that doesn't resolve is left to the request, which retries.)
pub async fn resolves_only_internally(host: &str, port: u16) -> bool {
    match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| is_internal(a.ip()))
        }
        Err(_) => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn internal_and_public_addresses_are_told_apart() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn ip_literal_urls_are_caught() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(internal_literal(&url("http://169.254.169.254/latest/meta-data")).is_some());
        assert!(internal_literal(&url("http://[::1]:8080/x")).is_some());
        assert!(
            internal_literal(&url("http://0x7f.1/x")).is_some(),
            "hex forms are parsed"
        );
        assert!(internal_literal(&url("https://8.8.8.8/x")).is_none());
        assert!(internal_literal(&url("https://media.example.com/x")).is_none());
    }
}
