//! The lexical forms of blueprint values, as Kubernetes, Flux and the
//! container runtime read them: DNS names, label values, port and variable
//! names, quantities, durations, CIDR blocks, and [`Scalar`], a YAML scalar
//! read as text.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// A scalar read as text: `8080`, `true` and `"x"` all become strings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[schemars(with = "ScalarSchema")]
pub struct Scalar(pub String);

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ScalarSchema {
    Text(String),
    Number(f64),
    Flag(bool),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

pub fn is_dns_label(s: &str) -> bool {
    is_dns_label_bytes(s.as_bytes())
}

fn is_dns_label_bytes(b: &[u8]) -> bool {
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A label (or taint) key: an optional DNS-subdomain prefix and `/`, then a
/// name of at most 63 letters, digits, `-`, `_` and `.`, starting and ending
/// alphanumeric.
pub fn is_label_key(s: &str) -> bool {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    prefix.is_none_or(is_dns_subdomain) && !name.is_empty() && is_label_value(name)
}

pub fn is_dns_subdomain(s: &str) -> bool {
    // Bytes, not chars: the final checks ask this of every label and
    // annotation key of every object, and its pieces are a few bytes, shorter
    // than a `str` split's search takes to set up.
    !s.is_empty() && s.len() <= 253 && s.as_bytes().split(|&b| b == b'.').all(is_dns_label_bytes)
}

/// Empty, or at most 63 letters, digits, `-`, `_` and `.`, starting and
/// ending alphanumeric.
pub fn is_label_value(s: &str) -> bool {
    let b = s.as_bytes();
    b.is_empty()
        || (b.len() <= 63
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric())
}

pub fn is_port_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        && s.chars().any(|ch| ch.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

pub fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "_-.".contains(ch))
        && !s.starts_with(|ch: char| ch.is_ascii_digit())
}

/// The Kubernetes resource quantity grammar.
pub fn is_quantity(s: &str) -> bool {
    crate::quantity::parse(s).is_some()
}

pub fn quantity_suggestion(s: &str) -> Option<String> {
    let lower = s.to_ascii_lowercase();
    for (wrong, right) in [
        ("kb", "Ki"),
        ("mb", "Mi"),
        ("gb", "Gi"),
        ("tb", "Ti"),
        ("kib", "Ki"),
        ("mib", "Mi"),
        ("gib", "Gi"),
        ("mi", "Mi"),
        ("gi", "Gi"),
        ("ki", "Ki"),
    ] {
        if let Some(number) = lower.strip_suffix(wrong)
            && is_quantity(number)
        {
            return Some(format!("{number}{right}"));
        }
    }
    None
}

/// Durations as Flux and Kubernetes write them: `30s`, `5m`, `1h30m`.
pub fn is_duration(s: &str) -> bool {
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
            .unwrap_or(rest.len());
        if digits == 0 || rest[..digits].matches('.').count() > 1 || rest[..digits].ends_with('.') {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ms", "s", "m", "h"]
            .into_iter()
            .find(|u| rest.starts_with(u) && !(*u == "m" && rest.starts_with("ms")));
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

pub fn is_int_or_percent(s: &str) -> bool {
    let number = s.strip_suffix('%').unwrap_or(s);
    !number.is_empty() && number.chars().all(|ch| ch.is_ascii_digit())
}

pub fn is_cidr(s: &str) -> bool {
    let Some((addr, bits)) = s.split_once('/') else {
        return false;
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits.parse::<u8>().is_ok_and(|b| b <= 32),
        Ok(std::net::IpAddr::V6(_)) => bits.parse::<u8>().is_ok_and(|b| b <= 128),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        for ok in ["100m", "0.5", "1", "128Mi", "10Gi", "1e3", "2k", ".5"] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in ["500mb", "1.2.3", "Mi", "", "10 Gi", "1GB"] {
            assert!(!is_quantity(bad), "{bad}");
        }
        assert_eq!(quantity_suggestion("500mb").as_deref(), Some("500Mi"));
    }

    #[test]
    fn durations() {
        for ok in ["1m", "30s", "1h30m", "500ms", "1.5h"] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in ["", "5", "m", "5 m", "5d", "1.h"] {
            assert!(!is_duration(bad), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert!(is_dns_label("api-v2"));
        assert!(!is_dns_label("API"));
        assert!(!is_dns_label("-a"));
        assert!(is_port_name("http"));
        assert!(!is_port_name("8080"));
        assert!(!is_port_name("a-very-long-port-name"));
        assert!(is_label_key("nvidia.com/gpu"));
        assert!(is_label_key("dedicated"));
        assert!(!is_label_key("Bad Prefix/gpu"));
        assert!(!is_label_key("nvidia.com/"));
        assert!(is_cidr("10.0.0.0/8"));
        assert!(!is_cidr("10.0.0.0/33"));
    }

    /// Prefixes as the API server's `IsDNS1123Subdomain` takes them: dot-
    /// separated labels, none empty, at most 253 characters in all.
    #[test]
    fn a_key_prefix_is_a_dns_subdomain() {
        for good in [
            "app.kubernetes.io/name",
            "a/b",
            "x-1.y/z",
            "gitopsc.io/waiver.a",
        ] {
            assert!(is_label_key(good), "{good}");
        }
        let too_long = format!("{}/x", ["a"; 128].join("."));
        for bad in [
            "a..b/x",
            ".a/x",
            "a./x",
            "A.b/x",
            "-a.b/x",
            "a-.b/x",
            "a_b/x",
            "/x",
            too_long.as_str(),
        ] {
            assert!(!is_label_key(bad), "{bad}");
        }
        assert!(is_dns_subdomain(&["a"; 127].join(".")) && !is_dns_subdomain(""));
    }
}
