//! Kubernetes recommended labels, and object metadata.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::blueprint::model::{App, Blueprint};
use crate::blueprint::syntax::is_label_value;
use crate::resolve::components::app_selector;

pub const MANAGED_BY: &str = "gitopsc";

/// Labels every object gitopsc writes carries.
pub fn common(bp: &Blueprint) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            MANAGED_BY.to_string(),
        ),
        (
            "app.kubernetes.io/part-of".to_string(),
            bp.system
                .part_of
                .clone()
                .unwrap_or_else(|| bp.system.name.clone()),
        ),
    ]);
    if let Some(owner) = &bp.system.owner {
        labels.insert("gitopsc.io/owner".to_string(), owner.clone());
    }
    labels
}

/// The recommended set for an app's objects; the version is not among them
/// (see [`versioned`]), so an image bump changes the workload alone.
pub fn app(bp: &Blueprint, name: &str, app: &App) -> BTreeMap<String, String> {
    let mut labels = common(bp);
    labels.extend(app_selector(&bp.system.name, name));
    labels.insert(
        "app.kubernetes.io/component".to_string(),
        app.component.clone().unwrap_or_else(|| app.layer.clone()),
    );
    labels
}

/// `labels` plus `app.kubernetes.io/version` from the image tag: for the
/// workload and its pod template, the objects the version describes.
pub fn versioned(labels: &BTreeMap<String, String>, app: &App) -> BTreeMap<String, String> {
    let mut labels = labels.clone();
    if let Some(tag) = &app.image.tag
        && is_label_value(tag)
    {
        labels.insert("app.kubernetes.io/version".to_string(), tag.clone());
    }
    labels
}

pub fn to_value(labels: &BTreeMap<String, String>) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// `metadata` with name, optional namespace, labels and annotations (omitted when empty).
pub fn metadata(
    name: &str,
    namespace: Option<&str>,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> Value {
    let mut meta = Map::new();
    meta.insert("name".into(), json!(name));
    if let Some(ns) = namespace {
        meta.insert("namespace".into(), json!(ns));
    }
    if !labels.is_empty() {
        meta.insert("labels".into(), to_value(labels));
    }
    if !annotations.is_empty() {
        meta.insert("annotations".into(), to_value(annotations));
    }
    Value::Object(meta)
}
