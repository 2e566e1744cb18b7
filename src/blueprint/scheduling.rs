//! Where an app's pods run and how they stop: node selector, tolerations,
//! priority class, anti-affinity between the app's own replicas, the grace
//! period on shutdown, and how a StatefulSet starts its pods. Settable in
//! `defaults.scheduling` for every app; an app's own `scheduling` keys win,
//! each replacing the default's whole.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::check::Check;
use super::syntax::{is_dns_subdomain, is_label_key, is_label_value};
use crate::error::{ErrorKind, Result};
use crate::pointer::push;

/// Where the pods run and how they stop.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scheduling {
    /// Node labels the pods need: `{nvidia.com/gpu.present: "true"}`.
    #[serde(default)]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Taints the pods tolerate: `[{key: nvidia.com/gpu, effect: NoSchedule}]`.
    #[serde(default)]
    pub tolerations: Option<Vec<Toleration>>,
    /// PriorityClass of the pods, e.g. `high-priority`.
    #[serde(default)]
    pub priority_class: Option<String>,
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
            tolerations: self
                .tolerations
                .clone()
                .or_else(|| defaults.tolerations.clone()),
            priority_class: self
                .priority_class
                .clone()
                .or_else(|| defaults.priority_class.clone()),
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
    for (key, value) in s.node_selector.iter().flatten() {
        let p = push(&push(at, "nodeSelector"), key);
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
