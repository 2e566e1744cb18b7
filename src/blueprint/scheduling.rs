//! Where an app's pods run and how they stop: node selector, preferred node
//! labels, tolerations, priority class, affinity to another component's pods,
//! anti-affinity between the app's own replicas, the grace period on
//! shutdown, and how a StatefulSet starts its pods. Settable in
//! `defaults.scheduling` for every app; an app's own `scheduling` keys win,
//! each replacing the default's whole. A chart takes the keys its values can
//! carry (`CHART_KEYS`), never the defaults.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::check::Check;
use super::syntax::{is_dns_subdomain, is_label_key, is_label_value};
use crate::error::{ErrorKind, Result};
use crate::pointer::push;
use crate::suggest;

/// Where the pods run and how they stop.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scheduling {
    /// Node labels the pods need: `{nvidia.com/gpu.present: "true"}`.
    #[serde(default)]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Node labels the pods prefer without needing them (a node affinity
    /// preference): `{node.kubernetes.io/instance-type: ccx33}`.
    #[serde(default)]
    pub prefer_nodes: Option<BTreeMap<String, String>>,
    /// Taints the pods tolerate: `[{key: nvidia.com/gpu, effect: NoSchedule}]`.
    #[serde(default)]
    pub tolerations: Option<Vec<Toleration>>,
    /// PriorityClass of the pods, e.g. `high-priority`.
    #[serde(default)]
    pub priority_class: Option<String>,
    /// Run beside another app's or chart's pods, on the same host or in the
    /// same zone: `{with: api, by: host}`, or a list of them.
    #[serde(default)]
    pub affinity: Option<Affinities>,
    /// Keep the app's replicas apart, on different hosts or zones.
    #[serde(default)]
    pub anti_affinity: Option<AntiAffinity>,
    /// Seconds a pod has to finish after SIGTERM before it is killed (Kubernetes' default is 30).
    #[serde(default)]
    pub termination_grace_period: Option<u32>,
    /// Spread the replicas evenly over nodes too (zones are spread whenever the
    /// environment has several): a preference, which a full node may break.
    #[serde(default)]
    pub spread_over_hosts: Option<bool>,
}

/// One taint the pods tolerate. Without `value` it tolerates the key with any value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Toleration {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
    /// The taint effect tolerated; all effects when unset.
    #[serde(default)]
    pub effect: Option<TaintEffect>,
    /// With `NoExecute`: how long a pod stays on a node after the taint appears.
    #[serde(default)]
    pub seconds: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

/// Replicas of one app kept apart: preferred unless `required`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AntiAffinity {
    /// `host` (one replica per node) or `zone` (one per zone).
    pub by: Topology,
    /// Refuse to schedule rather than share: a replica stays Pending when no
    /// host or zone is free.
    #[serde(default)]
    pub required: bool,
}

/// Pods placed with another app's pods: preferred unless `required`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodAffinity {
    /// The app, chart or manifest set whose pods these run beside: an
    /// app's pods by its selector, a chart's by the labels gitopsc knows
    /// for it or its `selector`, a manifest set's by its `selector`.
    pub with: String,
    /// `host` (the same node) or `zone` (the same zone).
    pub by: Topology,
    /// Refuse to schedule elsewhere: a pod stays Pending while no host or
    /// zone runs a pod of `with`.
    #[serde(default)]
    pub required: bool,
}

/// One affinity or a list of them; `one` remembers which was written, so
/// a mistake is located in the form the file has.
#[derive(Debug, Clone, Default, PartialEq, Eq, JsonSchema)]
#[schemars(with = "AffinitiesSchema")]
pub struct Affinities {
    pub list: Vec<PodAffinity>,
    pub one: bool,
}

/// The two ways affinities are written, for the editor schema.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum AffinitiesSchema {
    One(PodAffinity),
    Many(Vec<PodAffinity>),
}

impl Affinities {
    /// The pointer of entry `i` below the `affinity` key at `at`.
    pub fn entry_pointer(&self, at: &str, i: usize) -> String {
        if self.one {
            at.to_string()
        } else {
            push(at, &i.to_string())
        }
    }
}

impl Serialize for Affinities {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.one, self.list.as_slice()) {
            (true, [only]) => only.serialize(serializer),
            _ => self.list.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Affinities {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AffinitiesVisitor;
        impl<'de> Visitor<'de> for AffinitiesVisitor {
            type Value = Affinities;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an affinity `{with, by, required}`, or a list of them")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Affinities, A::Error> {
                let only = PodAffinity::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Affinities {
                    list: vec![only],
                    one: true,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Affinities, A::Error> {
                let list = Vec::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Affinities { list, one: false })
            }
        }
        deserializer.deserialize_any(AffinitiesVisitor)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Topology {
    Host,
    Zone,
}

impl Topology {
    /// The well-known node label of the topology.
    pub fn key(self) -> &'static str {
        match self {
            Topology::Host => "kubernetes.io/hostname",
            Topology::Zone => "topology.kubernetes.io/zone",
        }
    }
}

/// How a StatefulSet starts and stops its pods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum PodManagementPolicy {
    /// One pod at a time, each Ready before the next (Kubernetes' default).
    #[default]
    OrderedReady,
    /// All pods at once: what a distributed store needs whose pods wait for
    /// a quorum the next pod would complete.
    Parallel,
}

impl Scheduling {
    /// These settings over `defaults`: each key this one sets wins whole.
    pub fn over(&self, defaults: &Scheduling) -> Scheduling {
        Scheduling {
            node_selector: self
                .node_selector
                .clone()
                .or_else(|| defaults.node_selector.clone()),
            prefer_nodes: self
                .prefer_nodes
                .clone()
                .or_else(|| defaults.prefer_nodes.clone()),
            tolerations: self
                .tolerations
                .clone()
                .or_else(|| defaults.tolerations.clone()),
            priority_class: self
                .priority_class
                .clone()
                .or_else(|| defaults.priority_class.clone()),
            affinity: self.affinity.clone().or_else(|| defaults.affinity.clone()),
            anti_affinity: self.anti_affinity.or(defaults.anti_affinity),
            termination_grace_period: self
                .termination_grace_period
                .or(defaults.termination_grace_period),
            spread_over_hosts: self.spread_over_hosts.or(defaults.spread_over_hosts),
        }
    }
}

/// Node labels, tolerations and the priority class name are what the API
/// server accepts.
pub(super) fn check_scheduling(c: &Check, at: &str, s: &Scheduling) -> Result<()> {
    let labels = [
        ("nodeSelector", &s.node_selector),
        ("preferNodes", &s.prefer_nodes),
    ];
    for (field, key, value) in labels
        .into_iter()
        .flat_map(|(field, m)| m.iter().flatten().map(move |(k, v)| (field, k, v)))
    {
        let p = push(&push(at, field), key);
        if !is_label_key(key) {
            return Err(c.fail_key(
                &p,
                format!("`{key}` is not a node label key"),
                "label keys are an optional DNS prefix and `/`, then at most 63 letters, digits, `-`, `_` and `.`",
            ));
        }
        if !is_label_value(value) {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &p,
                format!("`{value}` cannot be a label value"),
                "label values are at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit",
            ));
        }
    }
    for (i, t) in s.tolerations.iter().flatten().enumerate() {
        check_toleration(c, &push(&push(at, "tolerations"), &i.to_string()), t)?;
    }
    if let Some(class) = &s.priority_class
        && !is_dns_subdomain(class)
    {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &push(at, "priorityClass"),
            format!("`{class}` is not a PriorityClass name"),
            "PriorityClass names are lowercase DNS names like `high-priority`",
        ));
    }
    Ok(())
}

/// A required anti-affinity by zone places at most one replica per zone: a
/// replica past the environment's zone count stays Pending for good (the
/// scheduler never breaks a required rule), so it is refused where it is
/// written. Host counts are not in the blueprint, so hosts are not checked.
pub(super) fn check_fits_zones(
    c: &Check,
    at: &str,
    scheduling: &Scheduling,
    most_replicas: u32,
    zones: &[String],
) -> Result<()> {
    let Some(anti) = scheduling.anti_affinity else {
        return Ok(());
    };
    let fits = zones.is_empty() || most_replicas as usize <= zones.len();
    if !anti.required || anti.by != Topology::Zone || fits {
        return Ok(());
    }
    Err(c.fail(
        ErrorKind::InvalidValue,
        at,
        format!(
            "{most_replicas} replicas with a required anti-affinity by zone cannot run in {} zones",
            zones.len()
        ),
        "one replica fits per zone: make the anti-affinity preferred (drop `required`), spread `by: host`, or run fewer replicas",
    ))
}

/// Every `affinity` names an app, a chart or a manifest set (`targets`),
/// and not the component it is written for (`own`): an app's replicas
/// beside each other is what `antiAffinity` undoes, and a pod that must run
/// beside its own kind can never place its first one anywhere but where
/// the scheduler picks. `at` is the `scheduling` key. Whether a chart's or
/// manifest set's pod labels are known is checked once components are
/// placed (`resolve::affinity`).
pub(super) fn check_affinity<'a>(
    c: &Check,
    at: &str,
    s: &Scheduling,
    own: Option<&str>,
    targets: impl Iterator<Item = &'a str> + Clone,
) -> Result<()> {
    let Some(affinities) = &s.affinity else {
        return Ok(());
    };
    for (i, a) in affinities.list.iter().enumerate() {
        let entry = affinities.entry_pointer(&push(at, "affinity"), i);
        if own == Some(a.with.as_str()) {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push(&entry, "with"),
                format!("`{}` cannot be placed beside itself", a.with),
                "`affinity` places pods beside another component's; an app's own replicas are placed with `antiAffinity` and `spreadOverHosts`",
            ));
        }
        if !targets.clone().any(|name| name == a.with) {
            return Err(c.fail(
                ErrorKind::UnknownReference,
                &push(&entry, "with"),
                format!("no app or chart is named `{}`", a.with),
                suggest::help_for(&a.with, "apps and charts", targets.clone()),
            ));
        }
    }
    Ok(())
}

/// The keys a chart's `scheduling` takes: the ones Helm charts read as plain
/// pod fields. Anti-affinity and host spread need the labels of the chart's
/// own pods, and charts name the grace period each their own way.
pub const CHART_KEYS: &[&str] = &[
    "nodeSelector",
    "preferNodes",
    "tolerations",
    "priorityClass",
    "affinity",
];

/// A chart's `scheduling` sets only [`CHART_KEYS`].
pub(super) fn check_chart_keys(c: &Check, at: &str, s: &Scheduling) -> Result<()> {
    let refused = [
        ("antiAffinity", s.anti_affinity.is_some()),
        ("spreadOverHosts", s.spread_over_hosts.is_some()),
        (
            "terminationGracePeriod",
            s.termination_grace_period.is_some(),
        ),
    ];
    match refused.into_iter().find(|(_, set)| *set) {
        None => Ok(()),
        Some((key, _)) => Err(c.fail_key(
            &push(at, key),
            format!("`{key}` cannot be set on a chart"),
            format!(
                "a chart's `scheduling` takes {}; set `{key}` in the chart's `values` at the path the chart reads",
                CHART_KEYS.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

fn check_toleration(c: &Check, at: &str, t: &Toleration) -> Result<()> {
    if !is_label_key(&t.key) {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &push(at, "key"),
            format!("`{}` is not a taint key", t.key),
            "taint keys are label keys, like `nvidia.com/gpu`",
        ));
    }
    if let Some(value) = &t.value
        && !is_label_value(value)
    {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &push(at, "value"),
            format!("`{value}` cannot be a taint value"),
            "taint values are label values",
        ));
    }
    if t.seconds.is_some() && t.effect != Some(TaintEffect::NoExecute) {
        // The API server refuses tolerationSeconds on any other effect.
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &push(at, "seconds"),
            "`seconds` only applies to the `NoExecute` effect",
            "set `effect: NoExecute`, or remove `seconds`",
        ));
    }
    Ok(())
}
