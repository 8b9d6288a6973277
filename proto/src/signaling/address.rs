//! Candidate addresses: `"ip:port"` in the three forms the draft and this project use.

use super::SignalingError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::{
    fmt,
    net::{Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6},
    str::FromStr,
};

/// How an [`Address`] was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressForm {
    /// `203.0.113.10:43210`.
    V4,
    /// `[2001:db8::10]:443`, the usual form.
    V6Bracketed,
    /// `2001:db8::10:443`, the draft's form: the last colon separates the port.
    V6Bare,
}

/// A transport address `ip:port`, parsed, that re-serializes to exactly the text it was parsed
/// from.
///
/// Accepted forms: IPv4 `203.0.113.10:43210`; bracketed IPv6 `[2001:db8::10]:443`; bare IPv6
/// `2001:db8::10:443` as in draft §8, where everything after the last colon is the port (so
/// `2001:db8::1:10` means host `2001:db8::1`, port 10). The port must be 1..=65535.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    addr: SocketAddr,
    form: AddressForm,
    text: String,
}

impl Address {
    /// An address in its usual form: `a.b.c.d:port` or `[ipv6]:port`.
    pub fn new(addr: SocketAddr) -> Self {
        let form = match addr {
            SocketAddr::V4(_) => AddressForm::V4,
            SocketAddr::V6(_) => AddressForm::V6Bracketed,
        };
        Self {
            addr,
            form,
            text: addr.to_string(),
        }
    }

    /// An IPv6 address in the draft's bare form `ipv6:port`.
    pub fn bare(ip: Ipv6Addr, port: u16) -> Self {
        Self {
            addr: SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0)),
            form: AddressForm::V6Bare,
            text: format!("{ip}:{port}"),
        }
    }

    /// Parses one of the three forms. Errors are [`SignalingError::BadAddress`] with
    /// `at = "address"`.
    pub fn parse(text: &str) -> Result<Self, SignalingError> {
        let bad = |reason| SignalingError::BadAddress {
            at: "address".to_owned(),
            value: text.to_owned(),
            reason,
        };
        let (addr, form) = if text.starts_with('[') {
            let a = SocketAddrV6::from_str(text)
                .map_err(|_| bad("not a bracketed IPv6 address \"[ipv6]:port\""))?;
            (SocketAddr::V6(a), AddressForm::V6Bracketed)
        } else if let Ok(a) = SocketAddrV4::from_str(text) {
            (SocketAddr::V4(a), AddressForm::V4)
        } else {
            let (host, port) = text
                .rsplit_once(':')
                .ok_or_else(|| bad("expected \"ip:port\""))?;
            if host.contains('.') && !host.contains(':') {
                return Err(bad("not an IPv4 address with a port"));
            }
            let ip = Ipv6Addr::from_str(host).map_err(|_| bad("not an IP address"))?;
            let port = parse_port(port).ok_or_else(|| bad("bad port"))?;
            (
                SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0)),
                AddressForm::V6Bare,
            )
        };
        if addr.port() == 0 {
            return Err(bad("port 0"));
        }
        Ok(Self {
            addr,
            form,
            text: text.to_owned(),
        })
    }

    /// The parsed socket address.
    pub fn socket_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The form it was written in.
    pub fn form(&self) -> AddressForm {
        self.form
    }

    /// The text, exactly as parsed (or as built by [`Address::new`] / [`Address::bare`]).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A decimal port: 1 to 5 ASCII digits (no sign), at most 65535.
fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Self {
        Self::new(addr)
    }
}

impl FromStr for Address {
    type Err = SignalingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_forms() {
        let a = Address::parse("203.0.113.10:43210").unwrap();
        assert_eq!(a.form(), AddressForm::V4);
        assert_eq!(a.socket_addr(), "203.0.113.10:43210".parse().unwrap());

        let a = Address::parse("[2001:db8::10]:443").unwrap();
        assert_eq!(a.form(), AddressForm::V6Bracketed);
        assert_eq!(a.socket_addr(), "[2001:db8::10]:443".parse().unwrap());

        let a = Address::parse("2001:db8::10:443").unwrap();
        assert_eq!(a.form(), AddressForm::V6Bare);
        assert_eq!(a.socket_addr(), "[2001:db8::10]:443".parse().unwrap());
        assert_eq!(a.to_string(), "2001:db8::10:443");
        assert_eq!(a, Address::bare("2001:db8::10".parse().unwrap(), 443));

        let a = Address::parse("::1:80").unwrap();
        assert_eq!(a.socket_addr(), "[::1]:80".parse().unwrap());
    }

    #[test]
    fn text_is_kept() {
        for s in [
            "[2001:0db8::0010]:443",
            "2001:0DB8:0:0::10:443",
            "10.0.0.1:0443",
        ] {
            let a = Address::parse(s).unwrap();
            assert_eq!(a.as_str(), s);
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{s}\""));
        }
    }

    #[test]
    fn new_roundtrips() {
        for s in ["1.2.3.4:5", "[::]:1", "[::ffff:1.2.3.4]:65535"] {
            let a = Address::new(s.parse().unwrap());
            assert_eq!(Address::parse(a.as_str()).unwrap(), a);
        }
        let a = Address::bare(Ipv6Addr::UNSPECIFIED, 9);
        assert_eq!(a.as_str(), ":::9");
        assert_eq!(Address::parse(a.as_str()).unwrap(), a);
    }

    #[test]
    fn rejects() {
        for s in [
            "",
            "1.2.3.4",
            "1.2.3.4:",
            "1.2.3.4:0",
            "1.2.3.4:65536",
            "1.2.3.4:+80",
            "1.2.3:80",
            "[1.2.3.4]:80",
            "[::1]",
            "[::1]:",
            "::1",
            "2001:db8::10",
            "2001:db8::10:+1",
            "2001:db8::10:123456",
            "host.example:443",
            "[::1]:0",
            ":::0",
        ] {
            assert!(
                matches!(Address::parse(s), Err(SignalingError::BadAddress { .. })),
                "{s:?} accepted"
            );
        }
    }
}
