//! Label selectors as NetworkPolicies use them: `matchLabels` and
//! `matchExpressions`, ANDed together.
//!
//! <https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#resources-that-support-set-based-requirements>

use std::collections::BTreeMap;

use serde_json::Value;

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed label selector; the empty selector selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub labels: BTreeMap<String, String>,
    pub requirements: Vec<Requirement>,
}

impl Selector {
    /// Reads a `LabelSelector`. An unknown operator selects nothing, as the
    /// API server would have refused the object.
    pub fn parse(value: &Value) -> Selector {
        let mut selector = Selector::default();
        if let Some(labels) = value.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in labels {
                selector
                    .labels
                    .insert(k.clone(), v.as_str().unwrap_or_default().to_string());
            }
        }
        for expr in value
            .get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = expr["key"].as_str().unwrap_or_default().to_string();
            let values: Vec<String> = expr["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect();
            selector
                .requirements
                .push(match expr["operator"].as_str().unwrap_or_default() {
                    "In" => Requirement::In(key, values),
                    "NotIn" => Requirement::NotIn(key, values),
                    "Exists" => Requirement::Exists(key),
                    "DoesNotExist" => Requirement::DoesNotExist(key),
                    // `In` with no values matches no object.
                    _ => Requirement::In(key, Vec::new()),
                });
        }
        selector
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.requirements.iter().all(|r| match r {
                Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
                // A missing key satisfies `NotIn`.
                Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
                Requirement::Exists(k) => labels.contains_key(k),
                Requirement::DoesNotExist(k) => !labels.contains_key(k),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn empty_selects_everything() {
        assert!(Selector::parse(&json!({})).matches(&labels(&[])));
    }

    #[test]
    fn labels_and_expressions_are_anded() {
        // The labels docs' example: `environment in (production, qa)`, `tier notin (frontend, backend)`.
        let s = Selector::parse(&json!({
            "matchLabels": {"app": "db"},
            "matchExpressions": [
                {"key": "environment", "operator": "In", "values": ["production", "qa"]},
                {"key": "tier", "operator": "NotIn", "values": ["frontend", "backend"]},
                {"key": "partition", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist"},
            ],
        }));
        let base = [("app", "db"), ("environment", "qa"), ("partition", "a")];
        assert!(s.matches(&labels(&base)));
        assert!(!s.matches(&labels(&[
            ("app", "db"),
            ("environment", "dev"),
            ("partition", "a")
        ])));
        assert!(!s.matches(&labels(&[
            ("app", "db"),
            ("environment", "qa"),
            ("partition", "a"),
            ("tier", "frontend")
        ])));
        assert!(!s.matches(&labels(&[("app", "db"), ("environment", "qa")])));
        assert!(!s.matches(&labels(&[
            ("app", "db"),
            ("environment", "qa"),
            ("partition", "a"),
            ("legacy", "")
        ])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("environment", "qa"),
            ("partition", "a")
        ])));
    }
}
