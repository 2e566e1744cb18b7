//! Where pods run, as Kubernetes writes it: an app's scheduling keys (over
//! `defaults.scheduling`) on its pod spec, and a chart's written into its
//! Helm values at the paths the chart reads (`blueprint::catalog::placement`),
//! under the values the blueprint gives it.
//! (https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/)

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::AppContext;
use crate::blueprint::catalog::placement::{Field, placement};
use crate::blueprint::model::{AntiAffinity, Chart, PodAffinity, Scheduling, Toleration};
use crate::resolve::{Component, ResolvedEnv};

type Components = BTreeMap<String, Component>;

/// The scheduling keys of the app over `defaults.scheduling`, on the pod spec.
pub fn place(spec: &mut Value, cx: &AppContext) {
    let s = cx.app.scheduling.over(&cx.bp.defaults.scheduling);
    if let Some(selector) = s.node_selector.as_ref().filter(|m| !m.is_empty()) {
        spec["nodeSelector"] = super::labels::to_value(selector);
    }
    if let Some(tolerations) = tolerations(&s) {
        spec["tolerations"] = tolerations;
    }
    if let Some(class) = &s.priority_class {
        spec["priorityClassName"] = json!(class);
    }
    if let Some(seconds) = s.termination_grace_period {
        spec["terminationGracePeriodSeconds"] = json!(seconds);
    }
    let mut affinity = affinity(cx.components, cx.namespace(), &s).unwrap_or_else(|| json!({}));
    if let Some(anti) = s.anti_affinity {
        affinity["podAntiAffinity"] = anti_affinity(anti, &cx.selector);
    }
    if affinity.as_object().is_some_and(|a| !a.is_empty()) {
        spec["affinity"] = affinity;
    }
}

/// The chart's Helm values: its `scheduling` at the paths the chart reads,
/// with the blueprint's `values` merged over them (RFC 7386), so a value
/// written by hand wins. `defaults.scheduling` is for apps only: a GPU node
/// selector or a dedicated pool's toleration there would move every
/// operator onto those nodes.
pub fn chart_values(env: &ResolvedEnv, name: &str, chart: &Chart) -> Value {
    let s = &chart.scheduling;
    let at = placement(&chart.chart);
    let namespace = env
        .components
        .get(name)
        .map_or("default", |c| c.namespace.as_str());
    let mut derived = json!({});
    let fields = [
        (
            Field::NodeSelector,
            s.node_selector
                .as_ref()
                .filter(|m| !m.is_empty())
                .map(super::labels::to_value),
        ),
        (Field::Tolerations, tolerations(s)),
        (
            Field::PriorityClass,
            s.priority_class.as_ref().map(|c| json!(c)),
        ),
        (Field::Affinity, affinity(&env.components, namespace, s)),
    ];
    for (field, value) in fields {
        let Some(value) = value else { continue };
        for path in at.paths(field) {
            set_path(&mut derived, &path, value.clone());
        }
    }
    if derived.as_object().is_some_and(Map::is_empty) {
        return chart.values.clone();
    }
    if !chart.values.is_null() {
        json_patch::merge(&mut derived, &chart.values);
    }
    derived
}

/// `value` at a dotted path of objects, creating them on the way.
fn set_path(root: &mut Value, path: &str, value: Value) {
    let mut at = root;
    for key in path.split('.') {
        if !at.is_object() {
            *at = json!({});
        }
        at = at
            .as_object_mut()
            .map(|m| m.entry(key.to_string()).or_insert(Value::Null))
            .expect("an object was just put here");
    }
    *at = value;
}

fn tolerations(s: &Scheduling) -> Option<Value> {
    let list = s.tolerations.as_ref().filter(|t| !t.is_empty())?;
    Some(Value::Array(list.iter().map(toleration).collect()))
}

/// A taint toleration; without a value it is `Exists`, which matches any value.
fn toleration(t: &Toleration) -> Value {
    let mut out = obj! {"key" => t.key.as_str()};
    match &t.value {
        Some(value) => {
            out["operator"] = json!("Equal");
            out["value"] = json!(value);
        }
        None => out["operator"] = json!("Exists"),
    }
    if let Some(effect) = t.effect {
        out["effect"] = json!(effect);
    }
    if let Some(seconds) = t.seconds {
        out["tolerationSeconds"] = json!(seconds);
    }
    out
}

/// `nodeAffinity` from `preferNodes` and `podAffinity` from `affinity`, for
/// pods in `namespace`; `None` when neither is set.
fn affinity(components: &Components, namespace: &str, s: &Scheduling) -> Option<Value> {
    let mut out = Map::new();
    if let Some(labels) = s.prefer_nodes.as_ref().filter(|m| !m.is_empty()) {
        out.insert("nodeAffinity".into(), node_preference(labels));
    }
    let affinities = s.affinity.as_ref().map_or(&[][..], |a| a.list.as_slice());
    if !affinities.is_empty() {
        out.insert(
            "podAffinity".into(),
            pod_affinity(components, namespace, affinities),
        );
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// One preferred term matching every label: nodes with all of them score,
/// others still run the pods.
fn node_preference(labels: &BTreeMap<String, String>) -> Value {
    let expressions: Vec<Value> = labels
        .iter()
        .map(|(key, value)| json!({"key": key, "operator": "In", "values": [value]}))
        .collect();
    json!({"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "preference": {"matchExpressions": expressions}}
    ]})
}

/// Terms selecting the other component's pods by its selector (an app's
/// controller's, a chart's known or declared labels); its namespace named
/// when it is not the pods' own, since a term without `namespaces` only
/// looks in the pod's namespace
/// (https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#namespace-selector).
fn pod_affinity(components: &Components, namespace: &str, affinities: &[PodAffinity]) -> Value {
    let mut required = Vec::new();
    let mut preferred = Vec::new();
    // Names are checked in `blueprint::scheduling::check_affinity`, the
    // labels of charts and manifest sets in `resolve::affinity`.
    for other in affinities
        .iter()
        .filter_map(|a| Some((a, components.get(&a.with)?)))
    {
        let (a, other) = other;
        let mut term = json!({
            "labelSelector": {"matchLabels": super::labels::to_value(&other.selector)},
            "topologyKey": a.by.key(),
        });
        if other.namespace != namespace {
            term["namespaces"] = json!([other.namespace]);
        }
        if a.required {
            required.push(term);
        } else {
            preferred.push(json!({"weight": 100, "podAffinityTerm": term}));
        }
    }
    let mut out = Map::new();
    if !required.is_empty() {
        out.insert(
            "requiredDuringSchedulingIgnoredDuringExecution".into(),
            Value::Array(required),
        );
    }
    if !preferred.is_empty() {
        out.insert(
            "preferredDuringSchedulingIgnoredDuringExecution".into(),
            Value::Array(preferred),
        );
    }
    Value::Object(out)
}

/// Pods of this app repel each other over one topology: a hard rule when
/// `required`, else a preference the scheduler may break when it must
/// (https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity).
fn anti_affinity(anti: AntiAffinity, selector: &BTreeMap<String, String>) -> Value {
    let term = json!({
        "labelSelector": {"matchLabels": super::labels::to_value(selector)},
        "topologyKey": anti.by.key(),
    });
    if anti.required {
        json!({"requiredDuringSchedulingIgnoredDuringExecution": [term]})
    } else {
        json!({"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]})
    }
}
