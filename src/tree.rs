//! Stage 5, lay out: rendered objects as files, and the index of what gitopsc owns.
//!
//! Pure: manifests in, relative paths and bytes out. In the `objects` layout,
//! one file per object, named `<kind>-<name>.yaml`, in its unit's directory;
//! in the `units` layout, one multi-document [`UNIT_FILE`] per unit directory
//! with the objects in the same order. Either way a `kustomization.yaml` in
//! every directory, so `kubectl kustomize rendered/<env>` builds the whole
//! environment and each unit directory builds alone. `render`, `check`,
//! `diff` and `publish` all work from this [`RenderedTree`], and the index
//! lists whichever files the layout made, so switching layouts prunes the
//! other layout's files.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::blueprint::model::Layout;
use crate::render::{EnvManifests, Object, Unit};
use crate::sources::sha256_hex;
use crate::yaml;

/// Name of the index of owned files, at the top of `rendered/`.
pub const INDEX_FILE: &str = ".gitopsc-index.json";
pub const KUSTOMIZATION: &str = "kustomization.yaml";
/// The one object file of a unit directory in the `units` layout.
pub const UNIT_FILE: &str = "manifests.yaml";

/// One environment's files, by path relative to `rendered/` (`dev/apps/api/...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvTree {
    pub env: String,
    pub files: BTreeMap<String, String>,
    /// Where the engine expects this tree (the environment's resolved `gitops`).
    pub destination: Option<Destination>,
    /// What the user should know about this environment that is not an error.
    pub notices: Vec<String>,
}

/// The GitOps repository, branch and directory an environment publishes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub repo: String,
    pub branch: String,
    pub path: String,
}

/// The rendered environments and the digest of the inputs they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedTree {
    pub inputs: String,
    pub envs: BTreeMap<String, EnvTree>,
}

/// `rendered/.gitopsc-index.json`: which files gitopsc wrote, from which inputs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Index {
    pub tool: String,
    pub environments: BTreeMap<String, EnvIndex>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EnvIndex {
    /// Digest of all inputs when this environment was rendered.
    pub inputs: String,
    /// Owned files (relative to `rendered/`) and their SHA-256.
    pub files: BTreeMap<String, String>,
}

impl Index {
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    pub fn parse(text: &str) -> Option<Index> {
        serde_json::from_str(text).ok()
    }

    /// Every owned file, over all environments.
    pub fn owned(&self) -> BTreeSet<&str> {
        self.environments
            .values()
            .flat_map(|e| e.files.keys().map(String::as_str))
            .collect()
    }
}

pub fn tool_version() -> String {
    format!("gitopsc {}", env!("CARGO_PKG_VERSION"))
}

impl RenderedTree {
    /// The index entries for the environments in this tree.
    pub fn index_entries(&self) -> BTreeMap<String, EnvIndex> {
        self.envs
            .iter()
            .map(|(name, tree)| {
                // Hashing every byte of the tree: in parallel, collected in path order.
                let hashed: Vec<(String, String)> = tree
                    .files
                    .par_iter()
                    .map(|(p, text)| (p.clone(), sha256_hex(text.as_bytes())))
                    .collect();
                let files = hashed.into_iter().collect();
                (
                    name.clone(),
                    EnvIndex {
                        inputs: self.inputs.clone(),
                        files,
                    },
                )
            })
            .collect()
    }

    /// `previous` with this tree's environments replaced; with `replace_all`,
    /// environments the tree lacks are dropped (they left the blueprint).
    pub fn index(&self, previous: Option<&Index>, replace_all: bool) -> Index {
        let mut environments = previous.map(|p| p.environments.clone()).unwrap_or_default();
        if replace_all {
            environments.retain(|env, _| self.envs.contains_key(env));
        }
        environments.extend(self.index_entries());
        Index {
            tool: tool_version(),
            environments,
        }
    }

    /// All files of the tree, by path relative to `rendered/`.
    pub fn files(&self) -> impl Iterator<Item = (&String, &String)> {
        self.envs.values().flat_map(|e| e.files.iter())
    }

    /// Owned files of `previous` that this tree no longer has.
    pub fn dropped(&self, previous: Option<&Index>, replace_all: bool) -> BTreeSet<String> {
        let Some(previous) = previous else {
            return BTreeSet::new();
        };
        previous
            .environments
            .iter()
            .filter(|(env, _)| replace_all || self.envs.contains_key(*env))
            .flat_map(|(_, e)| e.files.keys())
            .filter(|f| !self.envs.values().any(|t| t.files.contains_key(*f)))
            .cloned()
            .collect()
    }
}

/// A file name for an object: `<kind>-<name>.yaml`, with the namespace when needed to be unique.
fn file_stem(object: &Object, with_namespace: bool) -> String {
    let id = object.id();
    let mut stem = id.kind.to_ascii_lowercase();
    if with_namespace && let Some(ns) = &id.namespace {
        stem.push('-');
        stem.push_str(ns);
    }
    stem.push('-');
    stem.push_str(&id.name);
    stem.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn kustomization(resources: &[String]) -> String {
    yaml::to_yaml(&json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    }))
}

/// One unit's object files and its kustomization, by path relative to `rendered/`.
fn unit_files(env: &str, unit: &Unit, layout: Layout) -> Vec<(String, String)> {
    let dir = unit.dir();
    if layout == Layout::Units {
        return vec![
            (format!("{env}/{dir}/{UNIT_FILE}"), documents(&unit.objects)),
            (
                format!("{env}/{dir}/{KUSTOMIZATION}"),
                kustomization(&[UNIT_FILE.to_string()]),
            ),
        ];
    }
    let plain: Vec<String> = unit.objects.iter().map(|o| file_stem(o, false)).collect();
    let mut out = Vec::with_capacity(unit.objects.len() + 1);
    let mut resources = Vec::with_capacity(unit.objects.len());
    for (object, stem) in unit.objects.iter().zip(&plain) {
        let clashes = plain.iter().filter(|s| *s == stem).count() > 1;
        let stem = if clashes {
            file_stem(object, true)
        } else {
            stem.clone()
        };
        let name = format!("{stem}.yaml");
        out.push((format!("{env}/{dir}/{name}"), yaml::to_yaml(&object.value)));
        resources.push(name);
    }
    out.push((
        format!("{env}/{dir}/{KUSTOMIZATION}"),
        kustomization(&resources),
    ));
    out
}

/// The objects as one multi-document YAML stream, in the unit's order (the
/// order the `objects` layout's kustomization lists their files in).
fn documents(objects: &[Object]) -> String {
    let mut out = String::new();
    for (i, object) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        yaml::push_yaml(&mut out, &object.value);
    }
    out
}

/// Lays out one environment. `layers` gives the order of layer directories.
pub fn layout(
    manifests: EnvManifests,
    layers: &[String],
    file_layout: Layout,
    destination: Option<Destination>,
) -> EnvTree {
    let EnvManifests { env, units } = manifests;
    // Each unit's files are printed independently (in parallel); the maps
    // that collect them are ordered, so the result does not depend on timing.
    let units: Vec<Unit> = units.into_values().collect();
    let printed: Vec<PrintedUnit> = units
        .into_par_iter()
        .filter_map(|unit| print_unit(&env, &unit, file_layout))
        .collect();
    assemble(env, printed, layers, destination)
}

/// One unit's files, printed: its directory inside the environment and its
/// files by path relative to `rendered/`.
pub struct PrintedUnit {
    dir: String,
    files: Vec<(String, String)>,
}

/// The files of one unit of environment `env`; nothing for a unit without
/// objects, which gets no directory.
pub fn print_unit(env: &str, unit: &Unit, file_layout: Layout) -> Option<PrintedUnit> {
    (!unit.objects.is_empty()).then(|| PrintedUnit {
        dir: unit.dir(),
        files: unit_files(env, unit, file_layout),
    })
}

/// The environment's tree from its printed units, in directory order: their
/// files, and the kustomizations that list them.
pub fn assemble(
    env: String,
    printed: Vec<PrintedUnit>,
    layers: &[String],
    destination: Option<Destination>,
) -> EnvTree {
    let mut files = BTreeMap::new();
    let mut children: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut entry_shards = Vec::new();
    for PrintedUnit {
        dir,
        files: unit_files,
    } in printed
    {
        files.extend(unit_files);
        if dir.starts_with(&format!("{}/", crate::target::ENTRY_DIR)) {
            // Shards of the entry point are listed by the environment itself: the
            // entry's own kustomization must not apply them a second time.
            entry_shards.push(dir);
        } else if let Some((group, leaf)) = dir.split_once('/') {
            children
                .entry(group.to_string())
                .or_default()
                .insert(leaf.to_string());
        } else {
            children
                .entry(String::new())
                .or_default()
                .insert(dir.clone());
        }
    }
    let mut top = Vec::new();
    for (group, leaves) in &children {
        if group.is_empty() {
            continue;
        }
        let list: Vec<String> = leaves.iter().cloned().collect();
        files.insert(
            format!("{env}/{group}/{KUSTOMIZATION}"),
            kustomization(&list),
        );
    }
    if let Some(direct) = children.get("") {
        top.extend(direct.iter().cloned());
    }
    entry_shards.sort();
    top.extend(entry_shards);
    if children.contains_key("namespaces") {
        top.push("namespaces".to_string());
    }
    top.extend(layers.iter().filter(|l| children.contains_key(*l)).cloned());
    files.insert(format!("{env}/{KUSTOMIZATION}"), kustomization(&top));
    EnvTree {
        env,
        files,
        destination,
        notices: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{Unit, UnitKind};
    use crate::resolve::ComponentKind;

    fn object(kind: &str, ns: &str, name: &str) -> Object {
        Object::new(
            json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": ns}}),
        )
    }

    fn two_units() -> EnvManifests {
        let mut m = EnvManifests {
            env: "dev".into(),
            units: BTreeMap::new(),
        };
        m.insert(Unit {
            kind: UnitKind::Namespace,
            name: "apps".into(),
            layer: None,
            namespace: "apps".into(),
            objects: vec![object("Namespace", "", "apps")],
        });
        m.insert(Unit {
            kind: UnitKind::Component(ComponentKind::App),
            name: "api".into(),
            layer: Some("apps".into()),
            namespace: "apps".into(),
            objects: vec![
                object("ServiceAccount", "apps", "api"),
                object("Service", "apps", "api"),
            ],
        });
        m
    }

    #[test]
    fn every_directory_gets_a_kustomization_in_order() {
        let m = two_units();
        let tree = layout(m, &["infra".into(), "apps".into()], Layout::Objects, None);
        let paths: Vec<&str> = tree.files.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "dev/apps/api/kustomization.yaml",
                "dev/apps/api/service-api.yaml",
                "dev/apps/api/serviceaccount-api.yaml",
                "dev/apps/kustomization.yaml",
                "dev/kustomization.yaml",
                "dev/namespaces/apps/kustomization.yaml",
                "dev/namespaces/apps/namespace-apps.yaml",
                "dev/namespaces/kustomization.yaml",
            ]
        );
        assert!(
            tree.files["dev/kustomization.yaml"].ends_with("resources:\n- namespaces\n- apps\n")
        );
        assert!(
            tree.files["dev/apps/api/kustomization.yaml"]
                .ends_with("- serviceaccount-api.yaml\n- service-api.yaml\n"),
            "object order, not file order"
        );
    }

    #[test]
    fn clashing_names_get_their_namespace() {
        let mut m = EnvManifests {
            env: "dev".into(),
            units: BTreeMap::new(),
        };
        m.insert(Unit {
            kind: UnitKind::Entry,
            name: "gitops".into(),
            layer: None,
            namespace: "x".into(),
            objects: vec![object("ConfigMap", "a", "c"), object("ConfigMap", "b", "c")],
        });
        let tree = layout(m, &[], Layout::Objects, None);
        assert!(tree.files.contains_key("dev/gitops/configmap-a-c.yaml"));
        assert!(tree.files.contains_key("dev/gitops/configmap-b-c.yaml"));
    }

    #[test]
    fn units_layout_has_one_stream_per_unit_in_object_order() {
        let layers = ["infra".to_string(), "apps".to_string()];
        let objects = layout(two_units(), &layers, Layout::Objects, None);
        let units = layout(two_units(), &layers, Layout::Units, None);
        let paths: Vec<&str> = units.files.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "dev/apps/api/kustomization.yaml",
                "dev/apps/api/manifests.yaml",
                "dev/apps/kustomization.yaml",
                "dev/kustomization.yaml",
                "dev/namespaces/apps/kustomization.yaml",
                "dev/namespaces/apps/manifests.yaml",
                "dev/namespaces/kustomization.yaml",
            ]
        );
        assert!(
            units.files["dev/apps/api/kustomization.yaml"]
                .ends_with("resources:\n- manifests.yaml\n")
        );
        // The stream is the objects layout's files joined in its kustomization's order.
        let joined = [
            &objects.files["dev/apps/api/serviceaccount-api.yaml"],
            &objects.files["dev/apps/api/service-api.yaml"],
        ]
        .map(String::as_str)
        .join("---\n");
        assert_eq!(units.files["dev/apps/api/manifests.yaml"], joined);
        for shared in [
            "dev/kustomization.yaml",
            "dev/apps/kustomization.yaml",
            "dev/namespaces/kustomization.yaml",
        ] {
            assert_eq!(units.files[shared], objects.files[shared], "{shared}");
        }
        let docs = yaml::parse_documents("m", &units.files["dev/apps/api/manifests.yaml"]).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["kind"], "ServiceAccount");
    }
}
