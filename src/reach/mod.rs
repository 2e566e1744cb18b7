//! Reachability: who can open a connection to whom, on which port, computed
//! from an environment's rendered NetworkPolicies and workloads.
//!
//! A consumer of the output, like `changes`: it reads the rendered objects
//! (Namespaces, NetworkPolicies, pod templates) and evaluates Kubernetes
//! NetworkPolicy semantics over them ([`policy`]). What the tree cannot show
//! (pods that Helm charts create, the cluster DNS, the API server, addresses
//! outside the cluster) comes from the environment's model ([`inventory`]).
//! [`declared`] computes, independently, what the blueprint says the matrix
//! should be, so tests can hold the two against each other. Pure: no I/O.

pub mod declared;
pub mod endpoint;
pub mod inventory;
pub mod policy;
pub mod selector;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

pub use endpoint::{Endpoint, Place, Port, Protocol};
pub use inventory::Inventory;

/// One allowed connection: `from` may reach `to` on `port`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    pub from: String,
    pub to: String,
    pub port: Port,
}

impl Grant {
    /// `web -> postgres:5432/TCP (postgres)`.
    pub fn display(&self) -> String {
        format!("{} -> {}:{}", self.from, self.to, self.port)
    }
}

/// Every allowed connection of one environment, in one total order.
pub type Matrix = BTreeSet<Grant>;

/// The matrix of an inventory: every sender against every port of every receiver.
pub fn matrix(inventory: &Inventory) -> Matrix {
    matrix_where(inventory, |from, to, port| {
        inventory.policies.allows(from, to, port)
    })
}

/// Every sender, receiver and port the inventory asks about for which `allowed` holds.
pub fn matrix_where(
    inventory: &Inventory,
    allowed: impl Fn(&Endpoint, &Endpoint, &Port) -> bool,
) -> Matrix {
    let mut out = Matrix::new();
    for from in inventory.senders() {
        for to in inventory.receivers() {
            if !inventory.asks(from, to) {
                continue;
            }
            for port in &to.ports {
                if allowed(from, to, port) {
                    out.insert(Grant {
                        from: from.name.clone(),
                        to: to.name.clone(),
                        port: port.clone(),
                    });
                }
            }
        }
    }
    out
}

/// What changed between two matrices of one environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReachChanges {
    pub allowed: Vec<Grant>,
    pub denied: Vec<Grant>,
}

impl ReachChanges {
    pub fn between(old: &Matrix, new: &Matrix) -> ReachChanges {
        ReachChanges {
            allowed: new.difference(old).cloned().collect(),
            denied: old.difference(new).cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty() && self.denied.is_empty()
    }
}

/// The rendered objects of each environment, from files keyed by path
/// relative to `rendered/` (`<env>/...`).
pub fn objects_by_env<'a>(
    files: impl Iterator<Item = (&'a str, &'a str)>,
) -> crate::error::Result<BTreeMap<String, Vec<Value>>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (path, text) in files {
        let Some((env, rest)) = path.split_once('/') else {
            continue;
        };
        let file = rest.rsplit('/').next().unwrap_or(rest);
        if file == crate::tree::KUSTOMIZATION
            || file.starts_with('.')
            || !(file.ends_with(".yaml") || file.ends_with(".yml"))
        {
            continue;
        }
        for value in crate::yaml::parse_documents(path, text)? {
            if value.is_object() {
                out.entry(env.to_string()).or_default().push(value);
            }
        }
    }
    Ok(out)
}

/// The matrix of every environment in `files` (paths relative to
/// `rendered/`), with the pods the model knows from `sources`' project. An
/// environment the project no longer has is evaluated from its objects alone.
pub fn matrices<'a>(
    sources: std::sync::Arc<crate::sources::Sources>,
    files: impl Iterator<Item = (&'a str, &'a str)>,
) -> crate::error::Result<BTreeMap<String, Matrix>> {
    let project = crate::blueprint::load(sources)?;
    let names = crate::resolve::environment_names(&project);
    let mut out = BTreeMap::new();
    for (env, objects) in objects_by_env(files)? {
        let mut inventory = Inventory::from_objects(objects.iter());
        if names.contains(&env) {
            let resolved = crate::resolve::resolve(&project, &env)?;
            inventory.add_model(&resolved);
        }
        out.insert(env, matrix(&inventory));
    }
    Ok(out)
}
