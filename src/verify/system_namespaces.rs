//! System namespaces (`kube-system`, `kube-public`, `kube-node-lease`,
//! `default`, the engine's own, and `system.systemNamespaces`) are never
//! owned: no Namespace object, Pod Security labels, quota, limits or
//! namespace-wide network policy there. A default-deny policy in
//! `kube-system` would cut CoreDNS off for the whole cluster; one in
//! `flux-system` would stop the engine that could revert it.

use std::collections::BTreeSet;

use super::identity::Found;
use super::{Notice, Violation};
use crate::error::ErrorKind;
use crate::pointer::Lookup;
use crate::render::{EnvManifests, Object, UnitKind};
use crate::resolve::ResolvedEnv;

const HELP: &str = "the cluster owns this namespace: place components there if they must run there, but leave the namespace itself alone";

/// Refuses owning objects in system namespaces; tells which components live there.
pub fn check<'a>(env: &ResolvedEnv, manifests: &'a EnvManifests) -> Result<Vec<Notice>, Found<'a>> {
    let system = env.blueprint.system_namespaces();
    for unit in manifests.units.values() {
        for object in &unit.objects {
            if let Some(v) = owning(&system, object) {
                return Err((unit, object, v));
            }
        }
    }
    let mut notices = Vec::new();
    for unit in manifests.units.values() {
        if matches!(unit.kind, UnitKind::Component(_)) && system.contains(&unit.namespace) {
            notices.push(format!(
                "`{}` runs in system namespace `{}`: gitopsc renders its own objects there, but no Namespace, Pod Security labels, quota or default-deny policy",
                unit.name, unit.namespace
            ));
        }
    }
    Ok(notices)
}

fn owning(system: &BTreeSet<String>, object: &Object) -> Option<Violation> {
    let id = object.id();
    let refuse = |path: &str, what: &str, namespace: &str| {
        Some(Violation::new(
            ErrorKind::Policy,
            path,
            format!("{what}, but `{namespace}` is a system namespace"),
            HELP,
        ))
    };
    if id.kind == "Namespace" && system.contains(&id.name) {
        return refuse("/metadata", "the Namespace object is rendered", &id.name);
    }
    let namespace = id.namespace.as_deref()?;
    if !system.contains(namespace) {
        return None;
    }
    match id.kind.as_str() {
        "ResourceQuota" => refuse("/spec", "a quota is rendered", namespace),
        "LimitRange" => refuse("/spec", "container defaults are rendered", namespace),
        "NetworkPolicy" if selects_every_pod(object) => refuse(
            "/spec/podSelector",
            "a namespace-wide network policy is rendered",
            namespace,
        ),
        _ => None,
    }
}

/// An empty pod selector: the policy applies to every pod of the namespace.
fn selects_every_pod(object: &Object) -> bool {
    match object.value.at("/spec/podSelector") {
        None => true,
        Some(selector) => {
            let empty = |key: &str| {
                selector.get(key).is_none_or(|v| {
                    v.as_object().is_some_and(|m| m.is_empty())
                        || v.as_array().is_some_and(|a| a.is_empty())
                })
            };
            empty("matchLabels") && empty("matchExpressions")
        }
    }
}
