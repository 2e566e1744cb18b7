//! Stage 4, wire the GitOps target: the objects Flux or Argo CD need to
//! deploy the rendered units in order, and the entry point the engine is
//! bootstrapped with (`rendered/<env>/gitops/`; for Argo CD the root
//! Application that syncs it is in `rendered/<env>/bootstrap/`).
//!
//! `flux` is the only module that knows Flux kinds, `argocd` the only one
//! that knows Argo CD kinds. Both order units by the one [`graph`](crate::graph).

pub mod argocd;
pub mod flux;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::blueprint::model::{Chart, Engine, GitOps};
use crate::error::{ErrorKind, Result};
use crate::graph::Graph;
use crate::render::{EnvManifests, Object, Unit, UnitKind};
use crate::resolve::ResolvedEnv;

/// Annotation on each Flux Kustomization and Argo CD Application naming the
/// unit directory it deploys, so tools and people can map one to the other.
pub const UNIT_ANNOTATION: &str = "gitopsc.io/unit";

/// At most this many deployers sit in one directory: past it the entry point
/// is split into shards, so no directory an engine builds grows with the system.
pub const MAX_PER_DIR: usize = 50;

// The unit directories are named where units are (`render`), so the renderer
// need not look up to the engine for them.
pub use crate::render::{BOOTSTRAP_DIR, ENTRY_DIR};

/// Adds the engine's objects to `manifests`.
pub fn wire(env: &ResolvedEnv, graph: &Graph, manifests: &mut EnvManifests) -> Result<()> {
    let Some(gitops) = &env.blueprint.gitops else {
        if let Some(name) = env.blueprint.charts.keys().next() {
            return Err(env
                .locator
                .error(
                    ErrorKind::InvalidValue,
                    &format!("/charts/{name}"),
                    "Helm charts need a GitOps engine to install them",
                )
                .with_help("add a `gitops:` section with `engine: flux` or `engine: argocd`"));
        }
        return Ok(());
    };
    let wiring = match gitops.engine {
        Engine::Flux => flux::wire(env, gitops, graph, manifests),
        Engine::Argocd => {
            argocd::check_names(env, graph)?;
            argocd::wire(env, gitops, graph, manifests)
        }
    };
    let namespace = engine_namespace(gitops);
    let mut entry = wiring.root;
    if wiring.deployers.len() <= MAX_PER_DIR {
        entry.extend(wiring.deployers.into_iter().map(|(_, d)| d));
    } else {
        for (name, key, deployers) in shards(wiring.deployers) {
            let dir = format!("{ENTRY_DIR}/{name}");
            entry.push(match gitops.engine {
                Engine::Flux => flux::shard(env, gitops, &dir),
                Engine::Argocd => argocd::shard(env, gitops, &dir, &key),
            });
            manifests.insert(Unit {
                kind: UnitKind::Entry,
                name,
                layer: None,
                namespace: namespace.clone(),
                objects: deployers.into_iter().map(Object::new).collect(),
            });
        }
    }
    if gitops.engine == Engine::Argocd {
        // The root Application sits beside the entry, not in it, so the
        // Application it syncs never includes itself.
        manifests.insert(Unit {
            kind: UnitKind::Entry,
            name: BOOTSTRAP_DIR.to_string(),
            layer: None,
            namespace: namespace.clone(),
            objects: vec![Object::new(argocd::bootstrap(env, gitops))],
        });
    }
    manifests.insert(Unit {
        kind: UnitKind::Entry,
        name: ENTRY_DIR.to_string(),
        layer: None,
        namespace,
        objects: entry.into_iter().map(Object::new).collect(),
    });
    Ok(())
}

/// Deployers grouped by shard key, in chunks of at most [`MAX_PER_DIR`]:
/// (directory name, key, deployers).
fn shards(deployers: Vec<(String, Value)>) -> Vec<(String, String, Vec<Value>)> {
    let mut by_key: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (key, deployer) in deployers {
        by_key.entry(key).or_default().push(deployer);
    }
    let mut out = Vec::new();
    for (key, mut group) in by_key {
        group.sort_by_cached_key(|d| {
            d["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        });
        let chunks = group.len().div_ceil(MAX_PER_DIR);
        // Moved into their chunks, not copied: a thousand deployers are big.
        let mut rest = group.into_iter();
        for i in 0..chunks {
            let name = if chunks == 1 {
                key.clone()
            } else {
                format!("{key}-{:02}", i + 1)
            };
            let chunk: Vec<Value> = rest.by_ref().take(MAX_PER_DIR).collect();
            out.push((name, key.clone(), chunk));
        }
    }
    out
}

/// What an engine adds: the entry's own objects, and one deployer per unit
/// with the key of the shard it belongs to when the entry is split.
pub struct Wiring {
    pub root: Vec<Value>,
    pub deployers: Vec<(String, Value)>,
}

/// Namespace of the engine's own objects.
pub fn engine_namespace(gitops: &GitOps) -> String {
    gitops.engine_namespace()
}

/// `<path>/<env>/<dir>` inside the GitOps repository.
pub fn repo_path(gitops: &GitOps, env: &str, dir: &str) -> String {
    let base = gitops.path.trim_matches('/');
    if dir.is_empty() {
        format!("{base}/{env}")
    } else {
        format!("{base}/{env}/{dir}")
    }
}

/// A unit's engine object name: `<system>-<dir with dashes>`.
pub fn unit_object_name(system: &str, dir: &str) -> String {
    format!("{system}-{}", dir.replace('/', "-"))
}

/// The release name of a chart component.
pub fn release_name<'a>(name: &'a str, chart: &'a Chart) -> &'a str {
    chart.release.as_deref().unwrap_or(name)
}

/// Reconcile interval for `key` (`source`, `helm` or a layer), with the defaults
/// of a typical Flux setup: source 1m, Helm 30m, the first layer 10m, others 5m.
pub fn interval(env: &ResolvedEnv, gitops: &GitOps, key: &str) -> String {
    if let Some(v) = gitops.intervals.get(key) {
        return v.clone();
    }
    match key {
        "source" => "1m".into(),
        "helm" => "30m".into(),
        layer if env.blueprint.layer_names().next() == Some(layer) => "10m".into(),
        _ => "5m".into(),
    }
}
