//! ClusterSecretStores against the ExternalSecrets that read them. External
//! Secrets serves an ExternalSecret from a ClusterSecretStore only when one
//! of the store's `spec.conditions` admits the ExternalSecret's namespace
//! (by name, by a label selector or by a regular expression; a store without
//! conditions admits every namespace:
//! https://external-secrets.io/latest/api/clustersecretstore/), so a
//! namespace left out never gets its Secret. In production a store without
//! conditions is refused: anyone who may create an ExternalSecret in any
//! namespace would read every key the store's role reaches.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::Violation;
use crate::error::ErrorKind;
use crate::pointer::Lookup;
use crate::render::{EnvManifests, Object, Unit};

/// A namespace's labels, with the name label the API server adds to each.
type Labels = BTreeMap<String, String>;

/// Whether `condition` admits `namespace`; `None` when it cannot be told
/// here (a regular expression, a selector's `matchExpressions`).
fn admits(condition: &Value, namespace: &str, labels: Option<&Labels>) -> Option<bool> {
    let by_name = condition["namespaces"]
        .as_array()
        .is_some_and(|names| names.iter().any(|n| n == namespace));
    if by_name {
        return Some(true);
    }
    let mut unknown = condition["namespaceRegexes"]
        .as_array()
        .is_some_and(|r| !r.is_empty());
    if let Some(selector) = condition.get("namespaceSelector") {
        if selector.get("matchExpressions").is_some() {
            unknown = true;
        } else {
            let wanted = selector["matchLabels"].as_object();
            let matches = wanted.is_some_and(|w| {
                w.iter().all(|(k, v)| {
                    labels.and_then(|l| l.get(k)).map(String::as_str) == v.as_str()
                        || (k == "kubernetes.io/metadata.name" && v == namespace)
                })
            });
            if matches {
                return Some(true);
            }
        }
    }
    if unknown { None } else { Some(false) }
}

fn namespace_labels(manifests: &EnvManifests) -> BTreeMap<String, Labels> {
    manifests
        .objects()
        .filter(|o| o.id().kind == "Namespace")
        .filter_map(|o| {
            let name = o.value["metadata"]["name"].as_str()?.to_string();
            let labels = o.value["metadata"]["labels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            Some((name, labels))
        })
        .collect()
}

/// The first ExternalSecret a store's conditions leave out, or in production
/// the first store without conditions.
pub fn check(
    manifests: &EnvManifests,
    production: bool,
) -> Result<(), (&Unit, &Object, Violation)> {
    let mut stores: BTreeMap<&str, &Value> = BTreeMap::new();
    for unit in manifests.units.values() {
        for o in unit
            .objects
            .iter()
            .filter(|o| o.id().kind == "ClusterSecretStore")
        {
            let conditions = o.value.at("/spec/conditions");
            let open = conditions
                .and_then(Value::as_array)
                .is_none_or(|c| c.is_empty());
            if production && open {
                return Err((unit, o, open_store()));
            }
            if let (Some(name), Some(conditions)) =
                (o.value["metadata"]["name"].as_str(), conditions)
            {
                stores.insert(name, conditions);
            }
        }
    }
    let labels = namespace_labels(manifests);
    for unit in manifests.units.values() {
        for o in unit
            .objects
            .iter()
            .filter(|o| o.id().kind == "ExternalSecret")
        {
            let store = &o.value["spec"]["secretStoreRef"];
            if store["kind"] != "ClusterSecretStore" {
                continue;
            }
            let (Some(name), Some(namespace)) = (
                store["name"].as_str(),
                o.value["metadata"]["namespace"].as_str(),
            ) else {
                continue;
            };
            let Some(Value::Array(conditions)) = stores.get(name) else {
                continue;
            };
            let verdicts: BTreeSet<Option<bool>> = conditions
                .iter()
                .map(|c| admits(c, namespace, labels.get(namespace)))
                .collect();
            if !conditions.is_empty() && verdicts == BTreeSet::from([Some(false)]) {
                return Err((unit, o, left_out(name, namespace)));
            }
        }
    }
    Ok(())
}

fn open_store() -> Violation {
    Violation::new(
        ErrorKind::InvalidValue,
        "/spec",
        "this ClusterSecretStore has no `conditions`, so it serves ExternalSecrets in every namespace: anyone who may create one anywhere reads every key its role reaches",
        "list the namespaces it serves under `spec.conditions` (`- namespaces: [apps, data]`, or a `namespaceSelector`)",
    )
}

fn left_out(store: &str, namespace: &str) -> Violation {
    Violation::new(
        ErrorKind::InvalidValue,
        "/spec/secretStoreRef/name",
        format!(
            "ClusterSecretStore `{store}` does not serve namespace `{namespace}`: none of its `conditions` admits it, so External Secrets never writes this Secret"
        ),
        format!("add `{namespace}` to the store's `spec.conditions`"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_condition_admits_by_name_or_by_labels_and_cannot_tell_a_regex() {
        let labels = Labels::from([("team".to_string(), "web".to_string())]);
        let by_name = json!({"namespaces": ["apps"]});
        assert_eq!(admits(&by_name, "apps", None), Some(true));
        assert_eq!(admits(&by_name, "data", None), Some(false));
        let by_label = json!({"namespaceSelector": {"matchLabels": {"team": "web"}}});
        assert_eq!(admits(&by_label, "apps", Some(&labels)), Some(true));
        assert_eq!(admits(&by_label, "apps", None), Some(false));
        let by_auto_label =
            json!({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "apps"}}});
        assert_eq!(admits(&by_auto_label, "apps", None), Some(true));
        let by_regex = json!({"namespaceRegexes": ["^app"]});
        assert_eq!(admits(&by_regex, "data", None), None);
    }
}
