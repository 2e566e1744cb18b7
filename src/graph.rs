//! The deployment graph: which unit must be applied before which.
//!
//! One graph per environment drives Flux `dependsOn` and Argo CD sync waves
//! alike. A unit depends on its namespace's unit, on the components of the
//! layers its layer comes after (the one before it, unless the layer names
//! its `after`; empty layers looked through), on the components it `uses` or
//! is `after`, and on the component
//! providing the API group of any custom resource it contains (so an
//! `ExternalSecret` always waits for External Secrets' CRDs), and on the unit
//! holding the secret store an `ExternalSecret` reads. A cycle is an
//! error naming it. Layer and namespace dependencies are transitively reduced, so each
//! list names what was declared plus only the ordering nothing else implies.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::error::{ErrorKind, Result};
use crate::pointer::Lookup;
use crate::render::{EnvManifests, UnitKind};
use crate::resolve::{ComponentKind, ResolvedEnv};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The unit's directory: its identity.
    pub dir: String,
    pub name: String,
    pub kind: UnitKind,
    pub layer: Option<String>,
    pub namespace: String,
}

/// Why one unit waits for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    Namespace,
    Layer,
    Uses,
    After,
    Crd,
    /// An `ExternalSecret` reads the `ClusterSecretStore` or `SecretStore`
    /// another unit holds.
    Store,
}

#[derive(Debug, Clone)]
pub struct Graph {
    /// Nodes in directory order.
    pub nodes: Vec<Node>,
    /// Direct dependencies with their reasons, before reduction.
    pub edges: Vec<BTreeMap<usize, Reason>>,
    /// Transitively reduced dependencies, sorted.
    pub depends_on: Vec<Vec<usize>>,
    /// 0 for units with no dependencies, else one more than the latest dependency.
    pub waves: Vec<u32>,
    reach: Vec<Bitset>,
}

#[derive(Debug, Clone)]
struct Bitset(Vec<u64>);

impl Bitset {
    fn new(n: usize) -> Bitset {
        Bitset(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn union(&mut self, other: &Bitset) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
}

impl Graph {
    /// Of the units `a` waits for (transitively) that satisfy `keep`, the
    /// ones not implied by another of them.
    pub fn reduced_among(&self, a: usize, keep: impl Fn(&Node) -> bool) -> Vec<usize> {
        let candidates: Vec<usize> = (0..self.nodes.len())
            .filter(|&b| self.reach[a].get(b) && keep(&self.nodes[b]))
            .collect();
        candidates
            .iter()
            .copied()
            .filter(|&b| !candidates.iter().any(|&c| c != b && self.reach[c].get(b)))
            .collect()
    }
}

/// Builds the graph of the environment's units (the GitOps entry excluded).
pub fn build(env: &ResolvedEnv, manifests: &EnvManifests) -> Result<Graph> {
    let nodes: Vec<Node> = manifests
        .units
        .values()
        .filter(|u| u.kind != UnitKind::Entry)
        .map(|u| Node {
            dir: u.dir(),
            name: u.name.clone(),
            kind: u.kind,
            layer: u.layer.clone(),
            namespace: u.namespace.clone(),
        })
        .collect();
    let index_of_dir: BTreeMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.dir.as_str(), i))
        .collect();
    let component_index = |name: &str| -> Option<usize> {
        let c = env.components.get(name)?;
        index_of_dir
            .get(format!("{}/{}", c.layer, c.name).as_str())
            .copied()
    };
    let providers = crd_providers(env)?;
    let stores = secret_stores(manifests, &index_of_dir);
    let layer_members = layer_members(env);
    let layer_after = nearest_filled_predecessors(env, &layer_members);
    // Each unit's edges read the environment and that unit alone: in
    // parallel, collected in node order.
    let edges_of = |i: usize, node: &Node| -> BTreeMap<usize, Reason> {
        let mut edges = BTreeMap::new();
        let UnitKind::Component(_) = node.kind else {
            return edges;
        };
        let component = &env.components[&node.name];
        if let Some(&ns) = index_of_dir.get(format!("namespaces/{}", component.namespace).as_str())
        {
            edges.insert(ns, Reason::Namespace);
        }
        for &layer in &layer_after[component.layer_index] {
            for name in &layer_members[layer] {
                if let Some(j) = component_index(name) {
                    edges.entry(j).or_insert(Reason::Layer);
                }
            }
        }
        // What an operator manages deploys after it (through its CRDs), not before.
        for u in component.uses.iter().filter(|u| !u.manages) {
            if let Some(j) = component_index(&u.target) {
                edges.insert(j, Reason::Uses);
            }
        }
        for a in &component.after {
            if let Some(j) = component_index(&a.target) {
                edges.insert(j, Reason::After);
            }
        }
        let unit = &manifests.units[&node.dir];
        for object in &unit.objects {
            let id = object.id();
            if let Some(provider) = providers.get(id.group())
                && *provider != node.name
                && let Some(j) = component_index(provider)
            {
                edges.insert(j, Reason::Crd);
            }
            if let Some(&j) = store_read(object).and_then(|s| stores.get(&s))
                && j != i
            {
                edges.entry(j).or_insert(Reason::Store);
            }
        }
        edges
    };
    let edges: Vec<BTreeMap<usize, Reason>> = nodes
        .par_iter()
        .enumerate()
        .map(|(i, node)| edges_of(i, node))
        .collect();
    let order = topological_order(env, &nodes, &edges)?;
    let n = nodes.len();
    let mut reach = vec![Bitset::new(n); n];
    let mut waves = vec![0u32; n];
    for &i in &order {
        let mut r = Bitset::new(n);
        let mut wave = 0;
        for &j in edges[i].keys() {
            r.set(j);
            r.union(&reach[j]);
            wave = wave.max(waves[j] + 1);
        }
        reach[i] = r;
        waves[i] = wave;
    }
    // Declared edges (`uses`, CRDs) are always listed, because they say why;
    // layer and namespace edges only when nothing else already implies them.
    let depends_on = (0..n)
        .map(|i| {
            edges[i]
                .iter()
                .filter(|&(&j, reason)| {
                    matches!(reason, Reason::Uses | Reason::After | Reason::Crd)
                        || !edges[i].keys().any(|&k| k != j && reach[k].get(j))
                })
                .map(|(&j, _)| j)
                .collect()
        })
        .collect();
    Ok(Graph {
        nodes,
        edges,
        depends_on,
        waves,
        reach,
    })
}

/// External Secrets' API group, whose stores and ExternalSecrets the graph orders.
const EXTERNAL_SECRETS_GROUP: &str = "external-secrets.io";

/// A store as an ExternalSecret names it: kind, namespace (none for a
/// `ClusterSecretStore`), name.
type StoreKey = (String, Option<String>, String);

/// Every secret store among the units' objects -> the unit holding it.
fn secret_stores(
    manifests: &EnvManifests,
    index_of_dir: &BTreeMap<&str, usize>,
) -> BTreeMap<StoreKey, usize> {
    let mut stores = BTreeMap::new();
    for (dir, unit) in &manifests.units {
        let Some(&i) = index_of_dir.get(dir.as_str()) else {
            continue;
        };
        for object in &unit.objects {
            let id = object.id();
            if id.group() != EXTERNAL_SECRETS_GROUP {
                continue;
            }
            let namespace = match id.kind.as_str() {
                "ClusterSecretStore" => None,
                "SecretStore" => id.namespace.clone(),
                _ => continue,
            };
            stores.insert((id.kind.clone(), namespace, id.name.clone()), i);
        }
    }
    stores
}

/// The store an ExternalSecret reads. `secretStoreRef.kind` defaults to
/// `SecretStore`, in the ExternalSecret's namespace (External Secrets
/// `apis/externalsecrets/v1/externalsecret_types.go`, `SecretStoreRef.Kind`).
fn store_read(object: &crate::render::Object) -> Option<StoreKey> {
    // The identity the object keeps: working it out again per object was a
    // tenth of this stage.
    let id = object.id();
    if id.group() != EXTERNAL_SECRETS_GROUP || id.kind != "ExternalSecret" {
        return None;
    }
    let store = object.value.at("/spec/secretStoreRef")?;
    let name = store.get("name")?.as_str()?.to_string();
    match store.get("kind").and_then(serde_json::Value::as_str) {
        Some("ClusterSecretStore") => Some(("ClusterSecretStore".into(), None, name)),
        Some("SecretStore") | None => Some(("SecretStore".into(), id.namespace.clone(), name)),
        Some(_) => None,
    }
}

/// API group -> the chart that installs its CRDs.
fn crd_providers(env: &ResolvedEnv) -> Result<BTreeMap<&str, &str>> {
    let mut providers: BTreeMap<&str, &str> = BTreeMap::new();
    for component in env.components.values() {
        for (i, group) in component.provides.iter().enumerate() {
            if let Some(other) = providers.insert(group, &component.name) {
                let at = format!("{}/provides/{i}", component.pointer);
                return Err(env
                    .locator
                    .error(
                        ErrorKind::InvalidValue,
                        &at,
                        format!(
                            "API group `{group}` is provided by both `{other}` and `{}`",
                            component.name
                        ),
                    )
                    .with_help("one chart installs each CRD group; remove it from one of them"));
            }
        }
    }
    Ok(providers)
}

/// Component names per layer, in layer order.
fn layer_members(env: &ResolvedEnv) -> Vec<Vec<&str>> {
    let mut members = vec![Vec::new(); env.blueprint.layers.len()];
    for c in env.components.values() {
        members[c.layer_index].push(c.name.as_str());
    }
    members
}

/// For each layer, the layers it comes after that hold components, looking
/// through empty ones, so an empty layer never breaks the order around it.
fn nearest_filled_predecessors(env: &ResolvedEnv, members: &[Vec<&str>]) -> Vec<Vec<usize>> {
    let predecessors = env.blueprint.layer_predecessors();
    (0..predecessors.len())
        .map(|layer| {
            let mut out = std::collections::BTreeSet::new();
            let mut seen = std::collections::BTreeSet::new();
            let mut pending = predecessors[layer].clone();
            while let Some(p) = pending.pop() {
                if !seen.insert(p) {
                    continue;
                }
                if members[p].is_empty() {
                    pending.extend(&predecessors[p]);
                } else {
                    out.insert(p);
                }
            }
            out.into_iter().collect()
        })
        .collect()
}

/// Kahn's algorithm over dependencies; what remains is a cycle, reported with its path.
fn topological_order(
    env: &ResolvedEnv,
    nodes: &[Node],
    edges: &[BTreeMap<usize, Reason>],
) -> Result<Vec<usize>> {
    let n = nodes.len();
    let mut remaining: Vec<usize> = edges.iter().map(BTreeMap::len).collect();
    let mut dependents = vec![Vec::new(); n];
    for (i, deps) in edges.iter().enumerate() {
        for &j in deps.keys() {
            dependents[j].push(i);
        }
    }
    let mut ready: std::collections::BTreeSet<usize> =
        (0..n).filter(|&i| remaining[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &d in &dependents[i] {
            remaining[d] -= 1;
            if remaining[d] == 0 {
                ready.insert(d);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    Err(cycle_error(env, nodes, edges, &remaining))
}

fn cycle_error(
    env: &ResolvedEnv,
    nodes: &[Node],
    edges: &[BTreeMap<usize, Reason>],
    remaining: &[usize],
) -> crate::error::Error {
    // Walk dependencies among the stuck nodes until one repeats: that loop is a cycle.
    let stuck = |i: usize| remaining[i] > 0;
    let start = (0..nodes.len()).find(|&i| stuck(i)).unwrap_or(0);
    let mut path = vec![start];
    let mut current = start;
    let cycle = loop {
        let next = edges[current]
            .keys()
            .copied()
            .find(|&j| stuck(j))
            .unwrap_or(start);
        if let Some(pos) = path.iter().position(|&p| p == next) {
            let mut cycle = path[pos..].to_vec();
            cycle.push(next);
            break cycle;
        }
        path.push(next);
        current = next;
    };
    let names: Vec<&str> = cycle.iter().map(|&i| nodes[i].name.as_str()).collect();
    let reasons: Vec<String> = cycle
        .windows(2)
        .map(|w| {
            let why = match edges[w[0]].get(&w[1]) {
                Some(Reason::Uses) => "uses",
                Some(Reason::After) => "is after",
                Some(Reason::Layer) => "is in a later layer than",
                Some(Reason::Crd) => "needs the CRDs of",
                Some(Reason::Store) => "reads the secret store of",
                _ => "waits for",
            };
            format!("`{}` {why} `{}`", nodes[w[0]].name, nodes[w[1]].name)
        })
        .collect();
    // Point at a `uses` entry of the cycle if there is one: that is what a person edits.
    let pointer = cycle
        .windows(2)
        .find_map(|w| {
            let from = env.components.get(&nodes[w[0]].name)?;
            from.uses
                .iter()
                .chain(&from.after)
                .find(|u| u.target == nodes[w[1]].name)
                .map(|u| u.pointer.clone())
        })
        .or_else(|| {
            env.components
                .get(&nodes[cycle[0]].name)
                .map(|c| c.pointer.clone())
        })
        .unwrap_or_default();
    env.locator
        .error(
            ErrorKind::Cycle,
            &pointer,
            format!("deployment order has a cycle: {}", names.join(" -> ")),
        )
        .with_help(format!(
            "{}; remove a `uses` or `after` entry or move a component to another layer",
            reasons.join(", ")
        ))
}

/// True when the component of this unit is a Helm chart.
pub fn is_chart(node: &Node) -> bool {
    node.kind == UnitKind::Component(ComponentKind::Chart)
}
