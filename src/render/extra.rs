//! Extra manifests: minijinja templates beside the blueprint, for what the
//! format does not model (operator custom resources such as a CloudNativePG
//! `Cluster`). Each renders one or more objects into its component's unit.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::labels;
use super::object::{Object, TemplateSource};
use crate::blueprint::model::ManifestSet;
use crate::error::{Error, ErrorKind, Origin, Result};
use crate::pointer::Lookup;
use crate::resolve::ResolvedEnv;
use crate::sources::{BLUEPRINTS_DIR, SourceFile};
use crate::template;
use crate::yaml;

/// Kinds that live outside namespaces, so no namespace is added to them.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "StorageClass",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "APIService",
    "CSIDriver",
    "VolumeSnapshotClass",
    "GatewayClass",
    "ClusterIssuer",
    "ClusterSecretStore",
    "ClusterExternalSecret",
    "ClusterGenerator",
    "ClusterPushSecret",
];

pub fn is_cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&kind)
}

pub fn render_manifests(env: &ResolvedEnv, name: &str, set: &ManifestSet) -> Result<Vec<Object>> {
    let component = &env.components[name];
    let bp = &env.blueprint;
    let common = labels::common(bp);
    let context = json!({
        "env": env.settings.template_context(),
        "system": bp.system,
        "component": {
            "name": name,
            "namespace": component.namespace,
            "layer": component.layer,
            "labels": labels::to_value(&common),
        },
        "values": if set.values.is_null() { json!({}) } else { set.values.clone() },
    });
    let mut objects = Vec::new();
    for path in &set.templates {
        let file = format!("{BLUEPRINTS_DIR}/{}", path.trim_start_matches("./"));
        let Some(SourceFile::Regular(bytes)) = env.sources.get(&file) else {
            return Err(Error::at(
                ErrorKind::Include,
                Origin::file_start(&file),
                format!("template `{file}` is not a readable file"),
            ));
        };
        let text = String::from_utf8_lossy(bytes);
        let rendered = template::render(&text, &context).map_err(|e| {
            let line = e.line.unwrap_or(1) as u32;
            Error::at(ErrorKind::Template, Origin::in_text(&file, &text, line, 1, 1), format!("template does not render: {}", e.message))
                .with_help(e.help("templates see `env`, `system`, `component` (name, namespace, layer, labels) and `values`"))
        })?;
        for (i, value) in yaml::parse_documents(&file, &rendered)?
            .into_iter()
            .enumerate()
        {
            let mut object = Object::new(complete(
                &file,
                &text,
                value,
                &component.namespace,
                &common,
            )?);
            object.template = Some(TemplateSource {
                file: file.clone(),
                document: i + 1,
            });
            objects.push(object);
        }
    }
    Ok(objects)
}

/// Checks the object's identity, adds the namespace and gitopsc's labels where missing.
fn complete(
    file: &str,
    text: &str,
    mut value: Value,
    namespace: &str,
    common: &BTreeMap<String, String>,
) -> Result<Value> {
    let origin = || Origin::in_text(file, text, 1, 1, 1);
    let kind = value
        .at("/kind")
        .and_then(Value::as_str)
        .map(str::to_string);
    let has_identity = value.at("/apiVersion").and_then(Value::as_str).is_some()
        && kind.is_some()
        && value
            .at("/metadata/name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
    if !value.is_object() || !has_identity {
        return Err(Error::at(
            ErrorKind::InvalidValue,
            origin(),
            "a rendered manifest lacks `apiVersion`, `kind` or `metadata.name`",
        )
        .with_help("every document a template renders is a complete Kubernetes object"));
    }
    let kind = kind.unwrap_or_default();
    if kind == "Secret" && (value.get("data").is_some() || value.get("stringData").is_some()) {
        return Err(Error::at(ErrorKind::Secret, origin(), "a template renders a Secret with literal `data`")
            .with_help("secret values never go into Git: reference them from a secret store (`secrets:` on an app, a chart or a manifest set)"));
    }
    if value.at("/metadata/namespace").is_none() && !is_cluster_scoped(&kind) {
        value["metadata"]["namespace"] = json!(namespace);
    }
    let labels = value["metadata"]
        .as_object_mut()
        .map(|m| m.entry("labels").or_insert_with(|| json!({})));
    if let Some(Value::Object(labels)) = labels {
        for (k, v) in common {
            labels.entry(k.clone()).or_insert_with(|| json!(v));
        }
    }
    Ok(value)
}
