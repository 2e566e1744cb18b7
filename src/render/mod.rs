//! Stage 3, render: Kubernetes objects from a resolved environment.
//!
//! Owns the objects themselves (workloads, services, config, secrets
//! references, routing (Ingress or Gateway API), scaling, namespaces and
//! network policy, service-mesh policy and authorization from `uses`, extra
//! manifests) grouped into deployable [`Unit`]s: one per namespace and one per
//! component. Knows nothing of Flux or Argo CD (that is `target`) nor of files
//! (that is `tree`). Does no I/O.

/// A JSON object from `key => value` pairs, moving the values in (`json!`
/// copies any `Value` it is given, which adds up over thousands of objects).
/// The map is sized for its pairs: grown one insert at a time, it keeps
/// room for up to twice as many, and at 1000 apps that room was 3.6 MB of
/// an environment's objects.
#[macro_export]
macro_rules! obj {
    ($($key:expr => $value:expr),* $(,)?) => {{
        #[allow(unused_mut)] // `obj! {}` inserts nothing
        let mut map = serde_json::Map::with_capacity(<[&str]>::len(&[$(stringify!($key)),*]));
        $( map.insert(String::from($key), serde_json::Value::from($value)); )*
        serde_json::Value::Object(map)
    }};
}

pub mod acme;
mod ambient;
pub mod app;
pub mod authorization;
pub mod extra;
pub mod gateway;
pub mod labels;
pub mod linkerd;
pub mod mesh;
pub mod namespaces;
pub mod network;
pub mod object;
pub mod patches;
pub mod scheduling;
pub mod secrets;
pub mod workload;

use std::collections::BTreeMap;

use rayon::prelude::*;

pub use app::AppContext;
pub use object::{Object, ObjectId};

use crate::error::Result;
use crate::resolve::{ComponentKind, ResolvedEnv};

/// The API group whose CRDs mark an environment as running Prometheus Operator.
pub const MONITORING_GROUP: &str = "monitoring.coreos.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnitKind {
    Namespace,
    Component(ComponentKind),
    /// The GitOps entry point: what the engine is bootstrapped with.
    Entry,
}

/// A deployable unit: one directory, one Flux Kustomization or Argo CD Application.
#[derive(Debug, Clone)]
pub struct Unit {
    pub kind: UnitKind,
    /// Namespace or component name (`gitops` for the entry).
    pub name: String,
    /// Layer of a component unit.
    pub layer: Option<String>,
    /// Namespace the unit's objects live in.
    pub namespace: String,
    pub objects: Vec<Object>,
}

/// The directory of the entry point inside an environment's tree.
pub const ENTRY_DIR: &str = "gitops";

/// Argo CD: the directory of the root Application, beside the entry point
/// and outside anything an Application syncs; applied once by hand.
pub const BOOTSTRAP_DIR: &str = "bootstrap";

impl Unit {
    /// The unit's directory inside `rendered/<env>/`.
    pub fn dir(&self) -> String {
        match (&self.kind, &self.layer) {
            (UnitKind::Namespace, _) => format!("namespaces/{}", self.name),
            (UnitKind::Entry, _) if self.name == ENTRY_DIR || self.name == BOOTSTRAP_DIR => {
                self.name.clone()
            }
            (UnitKind::Entry, _) => format!("{}/{}", ENTRY_DIR, self.name),
            (_, Some(layer)) => format!("{layer}/{}", self.name),
            (_, None) => self.name.clone(),
        }
    }

    pub fn sort(&mut self) {
        self.objects.sort_by(|a, b| a.id().cmp(b.id()));
    }
}

/// Everything one environment renders to, before it is laid out as files.
#[derive(Debug, Clone)]
pub struct EnvManifests {
    pub env: String,
    /// Units by directory, so their order is the directory order.
    pub units: BTreeMap<String, Unit>,
}

impl EnvManifests {
    pub fn objects_mut(&mut self) -> impl Iterator<Item = &mut Object> {
        self.units.values_mut().flat_map(|u| u.objects.iter_mut())
    }

    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.units.values().flat_map(|u| u.objects.iter())
    }

    pub fn insert(&mut self, unit: Unit) {
        self.units.insert(unit.dir(), unit);
    }

    /// Sorts every unit's objects by the total order on object identity,
    /// the units in parallel (each order is its own).
    pub fn sort(&mut self) {
        self.units_mut().into_par_iter().for_each(Unit::sort);
    }

    /// The units, to work on one by one in parallel.
    pub fn units_mut(&mut self) -> Vec<&mut Unit> {
        self.units.values_mut().collect()
    }
}

/// Environment-wide facts: who scrapes metrics.
pub struct Platform {
    pub monitoring: Option<MonitoringStack>,
}

pub struct MonitoringStack {
    pub namespace: String,
    pub release: String,
}

fn platform(env: &ResolvedEnv) -> Platform {
    let monitoring = env
        .blueprint
        .charts
        .iter()
        .find(|(_, c)| c.provides.iter().any(|g| g == MONITORING_GROUP))
        .map(|(name, c)| MonitoringStack {
            namespace: env.components[name].namespace.clone(),
            release: c.release.clone().unwrap_or_else(|| name.clone()),
        });
    Platform { monitoring }
}

fn render_component(
    env: &ResolvedEnv,
    component: &crate::resolve::Component,
    platform: &Platform,
) -> Result<Unit> {
    let objects = match component.kind {
        ComponentKind::App => {
            let app = &env.blueprint.apps[&component.name];
            let annotations = crate::blueprint::waivers::workload_annotations(
                &env.blueprint.defaults.waivers,
                app,
            );
            app::render_app(
                env,
                &component.name,
                app,
                platform.monitoring.as_ref(),
                annotations,
            )?
        }
        ComponentKind::Manifests => {
            let set = &env.blueprint.manifests[&component.name];
            let mut objects = extra::render_manifests(env, &component.name, set)?;
            let bp = &env.blueprint;
            objects.extend(secrets::named_secrets(
                bp,
                &component.namespace,
                &set.secrets,
            ));
            objects
        }
        ComponentKind::Gateway => gateway::render_gateway(env, &component.name),
        // A chart's release becomes objects only once the GitOps engine is
        // known; the Secrets it reads by name are here already.
        ComponentKind::Chart => {
            let chart = &env.blueprint.charts[&component.name];
            secrets::named_secrets(&env.blueprint, &component.namespace, &chart.secrets)
        }
    };
    Ok(Unit {
        kind: UnitKind::Component(component.kind),
        name: component.name.clone(),
        layer: Some(component.layer.clone()),
        namespace: component.namespace.clone(),
        objects,
    })
}

fn network_policy(
    env: &ResolvedEnv,
    namespace: &str,
    name: &str,
    spec: serde_json::Value,
) -> Object {
    let common = labels::common(&env.blueprint);
    Object::new(obj! {
        "apiVersion" => "networking.k8s.io/v1",
        "kind" => "NetworkPolicy",
        "metadata" => labels::metadata(name, Some(namespace), &common, &BTreeMap::new()),
        "spec" => spec,
    })
}

/// Adds each unit's policies: a component's own, and a namespace's solver
/// allowance. Links need every unit's objects first, since which issuers
/// solve HTTP-01 is written in the manifests.
fn add_policies(
    env: &ResolvedEnv,
    manifests: &mut EnvManifests,
    postures: BTreeMap<String, crate::blueprint::model::NetworkPosture>,
) {
    let facts = crate::resolve::network::facts(env);
    let http01 = acme::http01_issuers(manifests.objects().map(|o| &o.value));
    let net = network::Network::new(postures, network::links(env, &facts, &http01));
    // Each unit's policies depend on the links alone: in parallel.
    manifests.units_mut().into_par_iter().for_each(|unit| {
        let policies = match unit.kind {
            UnitKind::Component(_) => match env.components.get(&unit.name) {
                Some(c) => net.component_policies(c, &facts),
                None => Vec::new(),
            },
            UnitKind::Namespace => net.group_policies(&acme::solver_group(&unit.namespace)),
            UnitKind::Entry => Vec::new(),
        };
        for (name, spec) in policies {
            let object = network_policy(env, &unit.namespace, &name, spec);
            unit.objects.push(object);
        }
    });
}

/// Adds the mesh's policies to the units of the components they belong to.
fn add_mesh_objects(
    env: &ResolvedEnv,
    manifests: &mut EnvManifests,
    plans: &[namespaces::NamespacePlan],
) {
    let http01 = acme::http01_issuers(manifests.objects().map(|o| &o.value));
    let mut by_component = mesh::objects(env, plans, &http01);
    for (component, policy) in authorization::policies(env) {
        by_component.entry(component).or_default().push(policy);
    }
    for (component, objects) in linkerd::policies(env) {
        by_component.entry(component).or_default().extend(objects);
    }
    manifests
        .units_mut()
        .into_par_iter()
        .filter(|unit| unit.kind == UnitKind::Component(ComponentKind::App))
        .for_each(|unit| mesh::annotate_proxies(env, unit));
    for (component, objects) in by_component {
        let c = &env.components[&component];
        if let Some(unit) = manifests.units.get_mut(&format!("{}/{}", c.layer, c.name)) {
            unit.objects.extend(objects);
        }
    }
}

/// Renders every unit of the environment.
pub fn render(env: &ResolvedEnv) -> Result<EnvManifests> {
    let platform = platform(env);
    let mut manifests = EnvManifests {
        env: env.name.clone(),
        units: BTreeMap::new(),
    };
    namespaces::check_pod_security(env)?;
    let plans = namespaces::plans(env);
    mesh::check(env, &plans)?;
    for plan in &plans {
        let objects = namespaces::render_namespace(env, plan)?;
        manifests.insert(Unit {
            kind: UnitKind::Namespace,
            name: plan.name.to_string(),
            layer: None,
            namespace: plan.name.to_string(),
            objects,
        });
    }
    // Components render independently, so in parallel; results come back in
    // name order and the first error in that order is the one reported.
    let components: Vec<&crate::resolve::Component> = env.components.values().collect();
    let units: Vec<Result<Unit>> = components
        .par_iter()
        .map(|component| render_component(env, component, &platform))
        .collect();
    for unit in units {
        manifests.insert(unit?);
    }
    add_mesh_objects(env, &mut manifests, &plans);
    let postures = plans
        .iter()
        .map(|p| (p.name.to_string(), p.posture))
        .collect();
    add_policies(env, &mut manifests, postures);
    manifests.sort();
    Ok(manifests)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn obj_builds_what_json_builds_in_its_order() {
        assert_eq!(obj! {}, json!({}));
        let built = obj! { "b" => 1, "a" => "two", "c" => json!([3]) };
        assert_eq!(built, json!({"b": 1, "a": "two", "c": [3]}));
        let keys: Vec<&String> = built.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["b", "a", "c"]);
    }
}
