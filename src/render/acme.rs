//! ACME HTTP-01 solvers: which issuers solve HTTP-01, which namespaces
//! cert-manager starts solver pods in (next to an Ingress that asks such an
//! issuer for its certificate), and those pods' labels and port, which the
//! network policies, the mesh's exceptions and `reach` all name.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::blueprint::model::{App, WorkloadKind};
use crate::pointer::Lookup;
use crate::resolve::network::PodGroup;
use crate::resolve::{Component, ComponentKind, ResolvedEnv};

/// Label cert-manager puts on its ACME HTTP-01 solver pods, which listen on
/// 8089 in the namespace of the Certificate (cert-manager/cert-manager#2334).
pub const SOLVER_LABEL: &str = "acme.cert-manager.io/http01-solver";
pub const SOLVER_PORT: u32 = 8089;
pub const SOLVER: &str = "acme-http01-solver";

/// The solver pods of one namespace.
pub fn solver_group(namespace: &str) -> PodGroup {
    PodGroup {
        name: SOLVER.to_string(),
        namespace: namespace.to_string(),
        selector: BTreeMap::from([(SOLVER_LABEL.to_string(), "true".to_string())]),
    }
}

/// Whether an app's ingress gets its certificate through an HTTP-01 issuer.
pub fn uses_http01(env: &ResolvedEnv, app: &App, http01: &BTreeSet<String>) -> bool {
    let Some(ing) = &app.ingress else {
        return false;
    };
    let issuer = ing
        .issuer
        .clone()
        .or_else(|| env.blueprint.defaults.ingress.issuer.clone());
    let tls = ing.tls.unwrap_or(issuer.is_some());
    tls && issuer.is_some_and(|i| http01.contains(&i))
}

/// Whether a chart serves its own Ingress (`routes`) with a certificate from
/// an HTTP-01 issuer: as an app's, its Ingress is taken to use the default
/// issuer (`defaults.ingress.issuer`), which its values name.
fn chart_uses_http01(env: &ResolvedEnv, c: &Component, http01: &BTreeSet<String>) -> bool {
    let issuer = env.blueprint.defaults.ingress.issuer.as_ref();
    !c.routes.is_empty() && issuer.is_some_and(|i| http01.contains(i))
}

/// The namespaces where cert-manager starts HTTP-01 solver pods, each with
/// the first component (by name) whose Ingress asks for a certificate there.
pub fn http01_namespaces<'a>(
    env: &'a ResolvedEnv,
    http01: &BTreeSet<String>,
) -> BTreeMap<&'a str, &'a str> {
    let mut out = BTreeMap::new();
    for c in env.components.values() {
        let asks = match c.kind {
            ComponentKind::App => {
                let app = &env.blueprint.apps[&c.name];
                app.kind != WorkloadKind::CronJob && uses_http01(env, app, http01)
            }
            ComponentKind::Chart => chart_uses_http01(env, c, http01),
            ComponentKind::Manifests | ComponentKind::Gateway => false,
        };
        if asks {
            out.entry(c.namespace.as_str()).or_insert(c.name.as_str());
        }
    }
    out
}

/// The names of the issuers among `objects` that solve ACME HTTP-01 challenges.
pub fn http01_issuers<'a>(objects: impl Iterator<Item = &'a Value>) -> BTreeSet<String> {
    objects
        .filter(|o| {
            matches!(o["kind"].as_str(), Some("ClusterIssuer" | "Issuer"))
                && o.at("/spec/acme/solvers")
                    .and_then(Value::as_array)
                    .is_some_and(|s| s.iter().any(|s| s.get("http01").is_some()))
        })
        .filter_map(|o| o.at("/metadata/name").and_then(Value::as_str))
        .map(String::from)
        .collect()
}
