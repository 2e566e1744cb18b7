//! Container image references: `registry/repository:tag@digest` or a map of
//! the parts, how the runtime reads them, and the grammar check.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::check::Check;
use super::syntax::Scalar;
use crate::error::{ErrorKind, Result};

/// A container image reference, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(with = "ImageSchema")]
pub struct Image {
    pub repository: String,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
}

impl Image {
    /// The reference as a container runtime reads it.
    pub fn reference(&self, registry: Option<&str>) -> String {
        let mut out = match registry {
            Some(r) if !has_registry_host(&self.repository) => {
                format!("{}/{}", r.trim_end_matches('/'), self.repository)
            }
            _ => self.repository.clone(),
        };
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }

    /// Parses `repo[:tag][@digest]`; validation of each part is the validator's job.
    pub fn parse(s: &str) -> Image {
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (repository, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                rest[..last_slash + i].to_string(),
                Some(rest[last_slash + i + 1..].to_string()),
            ),
            None => (rest.to_string(), None),
        };
        Image {
            repository,
            tag,
            digest,
        }
    }
}

/// A first path component with a dot or a port, or `localhost`, names a registry host.
pub fn has_registry_host(repository: &str) -> bool {
    match repository.split_once('/') {
        Some((first, _)) => first.contains('.') || first.contains(':') || first == "localhost",
        None => false,
    }
}

impl<'de> Deserialize<'de> for Image {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ImageVisitor;
        impl<'de> Visitor<'de> for ImageVisitor {
            type Value = Image;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an image reference like `ghcr.io/acme/api:1.2.3`, or a map with `repository`, `tag`, `digest`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Image, E> {
                Ok(Image::parse(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Image, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Parts {
                    repository: String,
                    #[serde(default)]
                    tag: Option<Scalar>,
                    #[serde(default)]
                    digest: Option<String>,
                }
                let parts = Parts::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Image {
                    repository: parts.repository,
                    tag: parts.tag.map(|t| t.0),
                    digest: parts.digest,
                })
            }
        }
        deserializer.deserialize_any(ImageVisitor)
    }
}

/// The two ways an image is written, for the editor schema.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ImageSchema {
    /// `ghcr.io/acme/api:1.2.3`, optionally `@sha256:<digest>`.
    Reference(String),
    Parts(ImageParts),
}

/// An image by its parts.
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
struct ImageParts {
    repository: String,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    digest: Option<String>,
}

pub(super) fn check_image(c: &Check, at: &str, image: &Image) -> Result<()> {
    let bad = |why: String| {
        c.fail(
            ErrorKind::InvalidValue,
            at,
            format!("invalid image reference `{}`: {why}", image.reference(None)),
            "images look like `ghcr.io/acme/api:1.2.3` or `postgres@sha256:<64 hex digits>`",
        )
    };
    if image.repository.is_empty() {
        return Err(bad("the repository is empty".into()));
    }
    let mut parts = image.repository.split('/').peekable();
    if has_registry_host(&image.repository) {
        let host = parts.next().unwrap_or_default();
        let valid_host = host.split(':').next().is_some_and(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '.' || ch == '-')
        });
        let valid_port = host
            .split(':')
            .nth(1)
            .is_none_or(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_digit()));
        if !valid_host || !valid_port || host.matches(':').count() > 1 {
            return Err(bad(format!("`{host}` is not a registry host")));
        }
    }
    for part in parts {
        let ok = !part.is_empty()
            && part
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
            && part.starts_with(|ch: char| ch.is_ascii_alphanumeric())
            && part.ends_with(|ch: char| ch.is_ascii_alphanumeric());
        if !ok {
            return Err(bad(format!(
                "repository part `{part}` must be lowercase letters, digits, `.`, `_` or `-`"
            )));
        }
    }
    if let Some(tag) = &image.tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.starts_with(|ch: char| ch.is_ascii_alphanumeric() || ch == '_')
            && tag
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "_.-".contains(ch));
        if !ok {
            return Err(bad(format!("tag `{tag}` is not valid")));
        }
    }
    if let Some(digest) = &image.digest {
        let ok = digest.strip_prefix("sha256:").is_some_and(|h| {
            h.len() == 64
                && h.chars()
                    .all(|ch| ch.is_ascii_digit() || ('a'..='f').contains(&ch))
        });
        if !ok {
            return Err(bad(format!(
                "digest `{digest}` is not `sha256:` and 64 lowercase hex digits"
            )));
        }
    }
    Ok(())
}
