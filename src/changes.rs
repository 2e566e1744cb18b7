//! What changed between two rendered trees, object by object.
//!
//! Files are read as Kubernetes objects and matched by identity (API group,
//! kind, namespace, name) within their environment, so moving an object to
//! another file is no change, and an `apiVersion` bump is a change, not a
//! removal plus an addition. Kustomizations and the index are structure, not
//! objects, and are left out. Pure: file maps in, changes out.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::Result;
use crate::render::ObjectId;
use crate::tree::KUSTOMIZATION;
use crate::yaml;

/// An object's identity within an environment; the API version is not part of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub kind: String,
    pub group: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    fn of(value: &Value) -> ObjectKey {
        let id = ObjectId::of(value);
        ObjectKey {
            group: id.group().to_string(),
            kind: id.kind,
            namespace: id.namespace,
            name: id.name,
        }
    }

    /// `Kind/namespace/name`.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// One object's change, with both sides as canonical YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectChange {
    pub key: ObjectKey,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// The changes of one environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvChanges {
    pub env: String,
    pub added: Vec<ObjectChange>,
    pub changed: Vec<ObjectChange>,
    pub removed: Vec<ObjectChange>,
}

impl EnvChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }

    /// `2 added, 1 changed, 0 removed`: the counts diff and publish messages show.
    pub fn summary(&self) -> String {
        format!(
            "{} added, {} changed, {} removed",
            self.added.len(),
            self.changed.len(),
            self.removed.len()
        )
    }
}

type Objects = BTreeMap<String, BTreeMap<ObjectKey, String>>;

/// Objects by environment, read from files keyed by path relative to `rendered/`.
fn objects<'a>(files: impl Iterator<Item = (&'a str, &'a [u8])>) -> Result<Objects> {
    let mut out: Objects = BTreeMap::new();
    for (path, bytes) in files {
        let Some((env, rest)) = path.split_once('/') else {
            continue;
        };
        let file = rest.rsplit('/').next().unwrap_or(rest);
        if file == KUSTOMIZATION
            || file.starts_with('.')
            || !(file.ends_with(".yaml") || file.ends_with(".yml"))
        {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        for value in yaml::parse_documents(path, &text)? {
            if !value.is_object() {
                continue;
            }
            out.entry(env.to_string())
                .or_default()
                .insert(ObjectKey::of(&value), yaml::to_yaml(&value));
        }
    }
    Ok(out)
}

/// Compares two trees. `envs`, when given, limits the comparison.
pub fn compare(
    old: &BTreeMap<String, Vec<u8>>,
    new: &BTreeMap<String, Vec<u8>>,
    envs: Option<&[String]>,
) -> Result<Vec<EnvChanges>> {
    let old = objects(old.iter().map(|(p, b)| (p.as_str(), b.as_slice())))?;
    let new = objects(new.iter().map(|(p, b)| (p.as_str(), b.as_slice())))?;
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    let empty = BTreeMap::new();
    let mut out = Vec::new();
    for env in names {
        if envs.is_some_and(|e| !e.contains(env)) {
            continue;
        }
        let before = old.get(env).unwrap_or(&empty);
        let after = new.get(env).unwrap_or(&empty);
        let mut changes = EnvChanges {
            env: env.clone(),
            ..EnvChanges::default()
        };
        for (key, text) in after {
            match before.get(key) {
                None => changes.added.push(ObjectChange {
                    key: key.clone(),
                    old: None,
                    new: Some(text.clone()),
                }),
                Some(prev) if prev != text => changes.changed.push(ObjectChange {
                    key: key.clone(),
                    old: Some(prev.clone()),
                    new: Some(text.clone()),
                }),
                Some(_) => {}
            }
        }
        for (key, text) in before {
            if !after.contains_key(key) {
                changes.removed.push(ObjectChange {
                    key: key.clone(),
                    old: Some(text.clone()),
                    new: None,
                });
            }
        }
        out.push(changes);
    }
    Ok(out)
}

/// A unified diff of one change (context of three lines).
pub fn unified(change: &ObjectChange) -> String {
    let old = change.old.as_deref().unwrap_or("");
    let new = change.new.as_deref().unwrap_or("");
    let name = change.key.display();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        files
            .iter()
            .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
            .collect()
    }

    const CM: &str =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: x\ndata:\n  k: v\n";

    #[test]
    fn a_moved_object_is_no_change() {
        let old = tree(&[("dev/a/configmap-a.yaml", CM)]);
        let new = tree(&[("dev/b/configmap-a.yaml", CM)]);
        let changes = compare(&old, &new, None).unwrap();
        assert!(changes.iter().all(EnvChanges::is_empty));
    }

    #[test]
    fn added_changed_removed_per_environment() {
        let old = tree(&[("dev/cm.yaml", CM), ("prod/cm.yaml", CM)]);
        let changed = CM.replace("k: v", "k: w");
        let other = CM.replace("name: a", "name: b");
        let new = tree(&[
            ("dev/cm.yaml", &changed),
            ("dev/other.yaml", &other),
            ("dev/kustomization.yaml", "resources: []\n"),
        ]);
        let changes = compare(&old, &new, None).unwrap();
        assert_eq!(changes.len(), 2);
        let dev = &changes[0];
        assert_eq!(
            (dev.added.len(), dev.changed.len(), dev.removed.len()),
            (1, 1, 0)
        );
        assert!(unified(&dev.changed[0]).contains("-  k: v\n+  k: w\n"));
        let prod = &changes[1];
        assert_eq!(
            (prod.added.len(), prod.changed.len(), prod.removed.len()),
            (0, 0, 1)
        );
        let only_prod = compare(&old, &new, Some(&["prod".to_string()])).unwrap();
        assert_eq!(only_prod.len(), 1);
    }

    #[test]
    fn an_api_version_bump_is_a_change() {
        let old = tree(&[(
            "dev/x.yaml",
            "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: a}\n",
        )]);
        let new = tree(&[(
            "dev/x.yaml",
            "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: a}\n",
        )]);
        let changes = compare(&old, &new, None).unwrap();
        assert_eq!(changes[0].changed.len(), 1);
        assert!(changes[0].added.is_empty() && changes[0].removed.is_empty());
    }
}
