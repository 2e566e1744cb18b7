//! Waivers: an app's exemptions from a policy rule or a scanner check, each
//! with its reason, and how they are written on the app's controller as
//! annotations, so a reviewer sees them on the object. Rendering writes the
//! annotations; `policy` checks the waivers against the rules.

use std::collections::BTreeMap;

use super::apps::App;

/// gitopsc's own rule names, as waivers name them.
pub const RULES: [&str; 7] = [
    "min-replicas",
    "disruption-budget",
    "resources",
    "probes",
    "pinned-images",
    "image-digests",
    "zone-spread",
];

/// True for a checkov check ID (`CKV_K8S_43`, `CKV2_K8S_6`).
pub fn is_scanner_check(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("CKV_").or_else(|| id.strip_prefix("CKV2_")) else {
        return false;
    };
    rest.chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && rest.contains('_')
}

/// An app's waivers: the blueprint's defaults, then its own.
pub fn waivers<'a>(
    defaults: &'a BTreeMap<String, String>,
    app: &'a App,
) -> BTreeMap<&'a str, &'a str> {
    defaults
        .iter()
        .chain(&app.waivers)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Waivers as annotations on the app's controller.
pub fn workload_annotations(
    defaults: &BTreeMap<String, String>,
    app: &App,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut skip = 0;
    for (rule, reason) in waivers(defaults, app) {
        if is_scanner_check(rule) {
            skip += 1;
            out.insert(format!("checkov.io/skip{skip}"), format!("{rule}={reason}"));
        } else {
            // `credential:<key>` becomes `waiver.credential.<key>`: `:` is not allowed in annotation keys.
            out.insert(
                format!("gitopsc.io/waiver.{}", rule.replace(':', ".")),
                reason.to_string(),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_ids_are_recognised() {
        assert!(is_scanner_check("CKV_K8S_43"));
        assert!(is_scanner_check("CKV2_K8S_6"));
        assert!(!is_scanner_check("min-replicas"));
        assert!(!is_scanner_check("CKV_"));
    }
}
