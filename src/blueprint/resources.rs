//! Compute resources: a container's requests and limits, a namespace's
//! quota, and the checks that every amount is a Kubernetes quantity.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::check::Check;
use super::syntax::Scalar;
use crate::error::Result;
use crate::pointer::push;

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Quota {
    #[serde(default)]
    pub cpu: Option<RequestsLimits>,
    #[serde(default)]
    pub memory: Option<RequestsLimits>,
    #[serde(default)]
    pub pods: Option<u32>,
    /// Total storage requested by PersistentVolumeClaims.
    #[serde(default)]
    pub storage: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestsLimits {
    #[serde(default)]
    pub requests: Option<Scalar>,
    #[serde(default)]
    pub limits: Option<Scalar>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    #[serde(default)]
    pub requests: Option<CpuMemory>,
    #[serde(default)]
    pub limits: Option<CpuMemory>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CpuMemory {
    #[serde(default)]
    pub cpu: Option<Scalar>,
    #[serde(default)]
    pub memory: Option<Scalar>,
}

pub(super) fn check_quota(c: &Check, at: &str, q: &Quota) -> Result<()> {
    for (key, rl) in [("cpu", &q.cpu), ("memory", &q.memory)] {
        if let Some(rl) = rl {
            for (part, v) in [("requests", &rl.requests), ("limits", &rl.limits)] {
                if let Some(v) = v {
                    c.quantity(&push(&push(at, key), part), v)?;
                }
            }
        }
    }
    if let Some(s) = &q.storage {
        c.quantity(&push(at, "storage"), &Scalar(s.clone()))?;
    }
    Ok(())
}

pub(super) fn check_resources(c: &Check, at: &str, r: &Resources) -> Result<()> {
    for (part, cm) in [("requests", &r.requests), ("limits", &r.limits)] {
        if let Some(cm) = cm {
            for (key, v) in [("cpu", &cm.cpu), ("memory", &cm.memory)] {
                if let Some(v) = v {
                    c.quantity(&push(&push(at, part), key), v)?;
                }
            }
        }
    }
    Ok(())
}
