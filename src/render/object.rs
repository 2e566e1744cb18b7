//! A rendered Kubernetes object, its identity, and the one total order on objects.

use std::cmp::Ordering;

use serde_json::Value;

use crate::error::Origin;
use crate::pointer::Lookup;

/// Kinds in the order a cluster needs them: namespaces and policy first,
/// identity and config before the workloads that use them, routing last.
const KIND_ORDER: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "LimitRange",
    "NetworkPolicy",
    "CustomResourceDefinition",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Secret",
    "ExternalSecret",
    "PersistentVolumeClaim",
    "Service",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Ingress",
    "ServiceMonitor",
    "PodMonitor",
];

/// Who an object is, as Kubernetes and kustomize see it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectId {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectId {
    pub fn of(value: &Value) -> ObjectId {
        let text = |p: &str| value.at(p).and_then(Value::as_str).map(str::to_string);
        ObjectId {
            api_version: text("/apiVersion").unwrap_or_default(),
            kind: text("/kind").unwrap_or_default(),
            namespace: text("/metadata/namespace"),
            name: text("/metadata/name").unwrap_or_default(),
        }
    }

    /// The API group: `apps` for `apps/v1`, empty for the core group.
    pub fn group(&self) -> &str {
        match self.api_version.split_once('/') {
            Some((group, _)) => group,
            None => "",
        }
    }

    fn kind_rank(&self) -> usize {
        KIND_ORDER
            .iter()
            .position(|k| *k == self.kind)
            .unwrap_or(KIND_ORDER.len())
    }

    /// `Kind/namespace/name` for messages.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

impl Ord for ObjectId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.kind_rank()
            .cmp(&other.kind_rank())
            .then_with(|| self.kind.cmp(&other.kind))
            .then_with(|| self.group().cmp(other.group()))
            .then_with(|| self.namespace.cmp(&other.namespace))
            .then_with(|| self.name.cmp(&other.name))
            .then_with(|| self.api_version.cmp(&other.api_version))
    }
}

impl PartialOrd for ObjectId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One rendered object, with its identity worked out once and what the final
/// checks need to say where it came from.
#[derive(Debug, Clone)]
pub struct Object {
    /// The object itself; after changing it, call [`Object::refresh`].
    pub value: Value,
    id: ObjectId,
    /// The identity it was rendered with, once a refresh found another one;
    /// patches may not change it. Kept only then: a copy per object of an
    /// identity that nearly never changes was four strings each.
    rendered_id: Option<Box<ObjectId>>,
    /// The template file and document that produced it, for objects from templates.
    pub template: Option<TemplateSource>,
    /// The fields patches (blueprint's and overlays') wrote, newest last, with where each was written.
    pub patched: Vec<PatchedField>,
}

impl PartialEq for Object {
    fn eq(&self, other: &Object) -> bool {
        self.value == other.value
            && self.id == other.id
            && self.rendered_id() == other.rendered_id()
            && self.template == other.template
            && self.patched == other.patched
    }
}

/// A manifest template's file and the 1-based document within its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSource {
    pub file: String,
    pub document: usize,
}

/// A JSON pointer into an object that an RFC 6902 operation wrote or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchedField {
    pub path: String,
    pub origin: Origin,
}

impl Object {
    pub fn new(value: Value) -> Object {
        let id = ObjectId::of(&value);
        Object {
            value,
            rendered_id: None,
            id,
            template: None,
            patched: Vec::new(),
        }
    }

    pub fn id(&self) -> &ObjectId {
        &self.id
    }

    /// Who the object was before any patch.
    pub fn rendered_id(&self) -> &ObjectId {
        self.rendered_id.as_deref().unwrap_or(&self.id)
    }

    /// Re-reads the identity after `value` was changed (by an RFC 6902 patch).
    pub fn refresh(&mut self) {
        let id = ObjectId::of(&self.value);
        if id != self.id && self.rendered_id.is_none() {
            self.rendered_id = Some(Box::new(self.id.clone()));
        }
        self.id = id;
    }

    /// The newest patch that wrote `path`, one of its parents or one of its children.
    pub fn patch_of(&self, path: &str) -> Option<&Origin> {
        let related = |written: &str| {
            written == path
                || path.starts_with(&format!("{written}/"))
                || written.starts_with(&format!("{path}/"))
                || written.is_empty()
        };
        self.patched
            .iter()
            .rev()
            .find(|p| related(&p.path))
            .map(|p| &p.origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(kind: &str, ns: Option<&str>, name: &str) -> ObjectId {
        let mut v = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}});
        if let Some(ns) = ns {
            v["metadata"]["namespace"] = json!(ns);
        }
        ObjectId::of(&v)
    }

    #[test]
    fn order_is_kind_rank_then_namespace_then_name() {
        let mut ids = [
            id("Deployment", Some("b"), "x"),
            id("Zebra", Some("a"), "a"),
            id("Namespace", None, "z"),
            id("Deployment", Some("a"), "y"),
            id("ConfigMap", Some("a"), "c"),
            id("Apple", Some("a"), "a"),
        ];
        ids.sort();
        let shown: Vec<String> = ids.iter().map(ObjectId::display).collect();
        assert_eq!(
            shown,
            [
                "Namespace/z",
                "ConfigMap/a/c",
                "Deployment/a/y",
                "Deployment/b/x",
                "Apple/a/a",
                "Zebra/a/a"
            ]
        );
    }
}
