//! Per-namespace settings (Pod Security level, network posture, quota,
//! labels) and their checks.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::check::Check;
use super::environments::NetworkPosture;
use super::resources::{Quota, check_quota};
use crate::error::Result;
use crate::pointer::{from_tokens, push};

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceSettings {
    /// Pod Security Admission level enforced in the namespace.
    #[serde(default)]
    pub pod_security: Option<PodSecurityLevel>,
    /// Overrides the environment's network posture for this namespace.
    #[serde(default)]
    pub network: Option<NetworkPosture>,
    /// Overrides the environment's quota for this namespace.
    #[serde(default)]
    pub quota: Option<Quota>,
    /// Extra labels on the Namespace object.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The service mesh of this namespace, over the environment's.
    #[serde(default)]
    pub mesh: Option<super::mesh::Mesh>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurityLevel {
    Restricted,
    Baseline,
    Privileged,
}

impl PodSecurityLevel {
    pub fn name(self) -> &'static str {
        match self {
            PodSecurityLevel::Restricted => "restricted",
            PodSecurityLevel::Baseline => "baseline",
            PodSecurityLevel::Privileged => "privileged",
        }
    }
}

/// Namespace names are DNS labels; a namespace's quota holds quantities.
pub(super) fn check_namespace(c: &Check, name: &str, ns: &NamespaceSettings) -> Result<()> {
    let at = from_tokens(["namespaces", name]);
    c.name_key(&at, name, "namespace", 63)?;
    if let Some(q) = &ns.quota {
        check_quota(c, &push(&at, "quota"), q)?;
    }
    Ok(())
}
