//! Autoscalers against their namespace's quota: an autoscaler at its
//! `maxReplicas` must fit the namespace's ResourceQuota, counting every
//! container of the pod and the proxy a mesh injects (its requests and
//! limits are on the pod template as the mesh's annotations). Otherwise the
//! quota admission controller refuses pods past the quota and the autoscaler
//! silently tops out below its max.
//!
//! Judged on the final objects, so a patch that raises `maxReplicas` or a
//! container's resources is judged too.
//!
//! Each autoscaler may fit alone while the namespace's workloads together,
//! every autoscaler at its max, do not: then they cannot all scale out at
//! once. That is a notice, not an error: a quota is often meant to cap a
//! burst that rarely comes.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Notice, Violation};
use crate::error::ErrorKind;
use crate::pointer::Lookup;
use crate::quantity;
use crate::render::mesh::{PROXY_ANNOTATIONS_ISTIO, PROXY_ANNOTATIONS_LINKERD};
use crate::render::{EnvManifests, Object, Unit};

/// The four quota resources an autoscaler's pods count against, with the
/// index of the proxy annotation that adds to each.
const RESOURCES: [(&str, &str, &str, usize); 4] = [
    ("requests.cpu", "requests", "cpu", 0),
    ("requests.memory", "requests", "memory", 1),
    ("limits.cpu", "limits", "cpu", 2),
    ("limits.memory", "limits", "memory", 3),
];

/// Hard quota values by namespace, parsed: the quantity and its text as written.
pub type Quotas = BTreeMap<String, BTreeMap<String, (f64, String)>>;

/// Hard quota values by namespace, parsed once per environment: read per
/// unit, the scan over every object made verification quadratic in the
/// number of apps.
pub fn quotas(manifests: &EnvManifests) -> Quotas {
    let mut out = Quotas::new();
    for o in manifests
        .objects()
        .filter(|o| o.id().kind == "ResourceQuota")
    {
        let Some(ns) = o.value["metadata"]["namespace"].as_str() else {
            continue;
        };
        let hard = o.value["spec"]["hard"].as_object().into_iter().flatten();
        for (key, value) in hard {
            let text = value.as_str().unwrap_or_default();
            if let Some(n) = quantity::parse(text) {
                out.entry(ns.to_string())
                    .or_default()
                    .insert(key.clone(), (n, text.to_string()));
            }
        }
    }
    out
}

/// What one pod of `template` asks for of `resource` (`requests`/`limits`,
/// `cpu`/`memory`): its containers' values plus the injected proxy's.
fn per_pod(template: &Value, part: &str, key: &str, proxy_index: usize) -> f64 {
    let containers: f64 = template["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["resources"][part][key].as_str().and_then(quantity::parse))
        .sum();
    let annotations = &template["metadata"]["annotations"];
    let proxy = [PROXY_ANNOTATIONS_ISTIO, PROXY_ANNOTATIONS_LINKERD]
        .iter()
        .find_map(|keys| annotations[keys[proxy_index]].as_str())
        .and_then(quantity::parse)
        .unwrap_or(0.0);
    containers + proxy
}

fn has_proxy(template: &Value) -> bool {
    let annotations = &template["metadata"]["annotations"];
    [PROXY_ANNOTATIONS_ISTIO, PROXY_ANNOTATIONS_LINKERD]
        .iter()
        .any(|keys| annotations.get(keys[0]).is_some())
}

/// Whether autoscaler `hpa` scales `workload`.
fn scales(hpa: &Object, workload: &Object) -> bool {
    let target = &hpa.value["spec"]["scaleTargetRef"];
    hpa.id().kind == "HorizontalPodAutoscaler"
        && target["kind"] == workload.id().kind.as_str()
        && target["name"] == workload.id().name.as_str()
}

fn scale_target<'a>(unit: &'a Unit, hpa: &Object) -> Option<&'a Value> {
    unit.objects
        .iter()
        .find(|o| scales(hpa, o))
        .and_then(|o| o.value.at("/spec/template"))
}

/// The first autoscaler in `unit` whose max would overrun its namespace's quota.
pub fn check<'a>(quotas: &Quotas, unit: &'a Unit) -> Result<(), (&'a Object, Violation)> {
    for hpa in unit
        .objects
        .iter()
        .filter(|o| o.id().kind == "HorizontalPodAutoscaler")
    {
        let Some(hard) = hpa.value["metadata"]["namespace"]
            .as_str()
            .and_then(|ns| quotas.get(ns))
        else {
            continue;
        };
        let Some(template) = scale_target(unit, hpa) else {
            continue;
        };
        let max = hpa.value["spec"]["maxReplicas"].as_f64().unwrap_or(0.0);
        for (resource, part, key, proxy_index) in RESOURCES {
            let Some((limit, written)) = hard.get(resource) else {
                continue;
            };
            let pod = per_pod(template, part, key, proxy_index);
            // A little slack for the float sum of decimal quantities.
            if max * pod > limit * (1.0 + 1e-9) {
                let fits = (limit / pod).floor();
                return Err((
                    hpa,
                    Violation::new(
                        ErrorKind::InvalidValue,
                        "/spec/maxReplicas",
                        format!(
                            "{max} pods at {pod} {resource} each{proxied} need {}, but the namespace quota allows `{written}`: the autoscaler tops out at {fits} pods",
                            show(max * pod),
                            pod = show(pod),
                            fits = fits as u64,
                            proxied = if has_proxy(template) {
                                " (the injected proxy included)"
                            } else {
                                ""
                            },
                            max = max as u64,
                        ),
                        "lower `autoscale.max`, lower the pod's (or the proxy's) resources, or raise the namespace's quota",
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The namespaces whose quota their Deployments and StatefulSets overrun
/// together, each at its most replicas (its autoscaler's max, else its
/// `replicas`).
pub fn namespace_notices(quotas: &Quotas, manifests: &EnvManifests) -> Vec<Notice> {
    let mut totals: BTreeMap<&str, [f64; 4]> = BTreeMap::new();
    for unit in manifests.units.values() {
        for (namespace, replicas, template) in workloads_at_most(unit) {
            if !quotas.contains_key(namespace) {
                continue;
            }
            let total = totals.entry(namespace).or_insert([0.0; 4]);
            for (sum, (_, part, key, proxy_index)) in total.iter_mut().zip(RESOURCES) {
                *sum += replicas * per_pod(template, part, key, proxy_index);
            }
        }
    }
    let mut out = Vec::new();
    for (namespace, total) in totals {
        let hard = &quotas[namespace];
        for (sum, (resource, ..)) in total.into_iter().zip(RESOURCES) {
            if let Some((limit, written)) = hard.get(resource)
                && sum > limit * (1.0 + 1e-9)
            {
                out.push(format!(
                    "namespace `{namespace}`: its workloads at their most replicas (every autoscaler at its max) need {} {resource}, but its quota allows `{written}`: they cannot all scale out at once",
                    show(sum)
                ));
            }
        }
    }
    out
}

/// Each Deployment and StatefulSet of `unit` with its namespace, the most
/// replicas it runs, and its pod template.
fn workloads_at_most(unit: &Unit) -> impl Iterator<Item = (&str, f64, &Value)> {
    unit.objects
        .iter()
        .filter(|o| matches!(o.id().kind.as_str(), "Deployment" | "StatefulSet"))
        .filter_map(move |o| {
            let namespace = o.value["metadata"]["namespace"].as_str()?;
            let template = o.value.at("/spec/template")?;
            let autoscaled = unit
                .objects
                .iter()
                .find(|h| scales(h, o))
                .and_then(|h| h.value["spec"]["maxReplicas"].as_f64());
            let replicas = autoscaled
                .or_else(|| o.value["spec"]["replicas"].as_f64())
                .unwrap_or(1.0);
            Some((namespace, replicas, template))
        })
}

/// A sum of quantities as a person reads it: `2.1`, not `2.0999999999999996`.
fn show(n: f64) -> String {
    let text = format!("{n:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}
