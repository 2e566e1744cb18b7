//! Images: the environment's image rules (`pinned-images`, `image-digests`)
//! judged on every container of the final objects, so an overlay patch or a
//! template cannot put `:latest` or an undigested image into production
//! where the blueprint's own image would have been refused.

use std::collections::BTreeSet;

use serde_json::Value;

use super::Violation;
use crate::error::ErrorKind;
use crate::pointer::Lookup;
use crate::render::Object;
use crate::resolve::ResolvedEnv;

const CONTAINER_LISTS: [&str; 2] = ["containers", "initContainers"];

/// Which image rules hold for one unit's objects: the environment's, less
/// the waivers the unit may use (the defaults', and an app's own).
pub struct ImageRules {
    pinned: bool,
    digests: bool,
}

impl ImageRules {
    pub fn for_unit(env: &ResolvedEnv, waived: &BTreeSet<&str>) -> ImageRules {
        let s = &env.settings;
        ImageRules {
            pinned: s.rule(s.policy.pinned_images) && !waived.contains("pinned-images"),
            digests: s.rule_off_by_default(s.policy.image_digests)
                && !waived.contains("image-digests"),
        }
    }
}

pub fn check(rules: &ImageRules, object: &Object) -> Result<(), Violation> {
    if !(rules.pinned || rules.digests) {
        return Ok(());
    }
    let Some((base, _)) = super::pod_security::pod_spec(&object.value) else {
        return Ok(());
    };
    for list in CONTAINER_LISTS {
        let at = format!("{base}/{list}");
        let Some(containers) = object.value.at(&at).and_then(Value::as_array) else {
            continue;
        };
        for (i, c) in containers.iter().enumerate() {
            let image = c.get("image").and_then(Value::as_str).unwrap_or("");
            let path = format!("{at}/{i}/image");
            let (tag, digest) = parts(image);
            if rules.digests && digest.is_none() {
                return Err(refuse(
                    path,
                    format!("image `{image}` has no digest"),
                    "image-digests",
                    "add `@sha256:<digest>`",
                ));
            }
            if rules.pinned && digest.is_none() && tag.is_none_or(|t| t == "latest") {
                return Err(refuse(
                    path,
                    format!("image `{image}` is not pinned"),
                    "pinned-images",
                    "use an exact tag (not `latest`) or a digest",
                ));
            }
        }
    }
    Ok(())
}

fn refuse(path: String, message: String, rule: &str, help: &str) -> Violation {
    Violation::new(
        ErrorKind::Policy,
        path,
        format!("{message} (policy `{rule}`)"),
        format!("{help}, or waive it: `waivers: {{{rule}: <reason>}}`"),
    )
}

/// The tag and digest of an image reference (`host:5000/repo:tag@sha256:…`).
fn parts(image: &str) -> (Option<&str>, Option<&str>) {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let tag = last.split_once(':').map(|(_, tag)| tag);
    (tag, digest)
}

#[cfg(test)]
mod tests {
    use super::parts;

    #[test]
    fn image_parts() {
        assert_eq!(parts("ghcr.io/a/b:1.0"), (Some("1.0"), None));
        assert_eq!(parts("localhost:5000/b"), (None, None));
        assert_eq!(
            parts("b:latest@sha256:ab"),
            (Some("latest"), Some("sha256:ab"))
        );
        assert_eq!(parts("busybox"), (None, None));
    }
}
