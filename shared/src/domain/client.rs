//! Who is asking: the client's address as API Gateway saw it.

use std::fmt;
use std::net::IpAddr;

/// Who is asking: what API Gateway knows of the caller.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller {
    pub ip: Option<ClientIp>,
}

/// The address a request came from, as API Gateway saw it (never from a header the client
/// sets). IPv6 addresses count per /64, the block one subscriber usually holds, and also per
/// /48, the block a site (or a free tunnel broker account) holds: 65,536 /64s.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(IpAddr);

impl ClientIp {
    /// The address in `text`, in its canonical form: an IPv4-mapped IPv6 address
    /// (`::ffff:203.0.113.7`, as dual-stack servers report IPv4 clients) is the IPv4 address,
    /// so that it counts as itself and not in one shared IPv6 block. Addresses no client can
    /// have (unspecified, multicast, broadcast) are refused.
    pub fn parse(text: &str) -> Option<Self> {
        let ip = nat64_client(text.trim().parse::<IpAddr>().ok()?.to_canonical());
        let broadcast = ip == IpAddr::V4(std::net::Ipv4Addr::BROADCAST);
        (!ip.is_unspecified() && !ip.is_multicast() && !broadcast).then_some(Self(ip))
    }

    /// Whether the address belongs to this host or its link (loopback, link-local): what a
    /// backend reads off its own proxy or load balancer rather than its user.
    pub(crate) fn is_local(&self) -> bool {
        match self.0 {
            IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local(),
            IpAddr::V6(v6) => v6.is_loopback() || v6.is_unicast_link_local(),
        }
    }

    /// What the per-client limits count: the IPv4 address, or the IPv6 /64.
    pub(crate) fn subject(&self) -> String {
        match self.0 {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        }
    }

    /// The IPv6 /48 the address belongs to; `None` for IPv4.
    pub(crate) fn ipv6_48(&self) -> Option<String> {
        match self.0 {
            IpAddr::V4(_) => None,
            IpAddr::V6(v6) => {
                let s = v6.segments();
                Some(format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]))
            }
        }
    }
}

/// An RFC 6052 NAT64 address (`64:ff9b::/96`, how IPv6-only sites see IPv4 clients) is the
/// IPv4 client inside it.
fn nat64_client(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] => {
            let o = v6.octets();
            IpAddr::V4(std::net::Ipv4Addr::new(o[12], o[13], o[14], o[15]))
        }
        other => other,
    }
}

impl fmt::Debug for ClientIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientIp(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ips_count_per_address_or_ipv6_block() {
        let v4 = ClientIp::parse("192.0.2.10").unwrap();
        assert_eq!(v4.subject(), "192.0.2.10");
        let a = ClientIp::parse("2001:db8:1:2:aaaa::1").unwrap();
        let b = ClientIp::parse("2001:db8:1:2:bbbb::2").unwrap();
        assert_eq!(a.subject(), b.subject());
        assert_ne!(
            a.subject(),
            ClientIp::parse("2001:db8:1:3::1").unwrap().subject()
        );
        assert!(ClientIp::parse("not an ip").is_none());
        let mapped = ClientIp::parse("::ffff:192.0.2.10").unwrap();
        assert_eq!(mapped.subject(), "192.0.2.10");
        assert_eq!(mapped.ipv6_48(), None);
        for nobody in ["0.0.0.0", "::", "224.0.0.1", "ff02::1", "255.255.255.255"] {
            assert!(ClientIp::parse(nobody).is_none(), "{nobody}");
        }
        assert!(!format!("{v4:?}").contains("192"));
    }

    #[test]
    fn ipv6_clients_also_count_per_48() {
        let a = ClientIp::parse("2001:db8:1:2::1").unwrap();
        let b = ClientIp::parse("2001:db8:1:ffff::1").unwrap();
        assert_ne!(a.subject(), b.subject());
        assert_eq!(a.ipv6_48(), b.ipv6_48());
        assert_eq!(a.ipv6_48().as_deref(), Some("2001:db8:1::/48"));
        assert_ne!(
            a.ipv6_48(),
            ClientIp::parse("2001:db8:2::1").unwrap().ipv6_48()
        );
        assert_eq!(ClientIp::parse("192.0.2.1").unwrap().ipv6_48(), None);
    }
}
