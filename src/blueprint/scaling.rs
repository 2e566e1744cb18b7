//! How many replicas run and how many may be down: the autoscaler's bounds
//! and targets, the disruption budget, and their checks.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::check::Check;
use super::syntax::{Scalar, is_int_or_percent};
use crate::error::{ErrorKind, Result};
use crate::pointer::push;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Autoscale {
    pub min: u32,
    pub max: u32,
    /// Target average CPU utilisation in percent (default 75 when no target is set).
    #[serde(default)]
    pub cpu: Option<u32>,
    /// Target average memory utilisation in percent.
    #[serde(default)]
    pub memory: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisruptionBudget {
    #[serde(default)]
    pub min_available: Option<Scalar>,
    #[serde(default)]
    pub max_unavailable: Option<Scalar>,
}

/// Bounds `1 <= min <= max`; utilisation targets are percentages.
pub(super) fn check_autoscale(c: &Check, at: &str, a: &Autoscale) -> Result<()> {
    if a.min == 0 || a.min > a.max {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            at,
            format!(
                "autoscale bounds min {} / max {} are not valid",
                a.min, a.max
            ),
            "use 1 <= min <= max",
        ));
    }
    for (k, v) in [("cpu", a.cpu), ("memory", a.memory)] {
        if let Some(v) = v
            && !(1..=1000).contains(&v)
        {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push(at, k),
                format!("target utilisation {v}% is not valid"),
                "use a percentage between 1 and 1000",
            ));
        }
    }
    Ok(())
}

/// Exactly one of the two bounds, as a count or a percentage.
pub(super) fn check_disruption_budget(c: &Check, at: &str, pdb: &DisruptionBudget) -> Result<()> {
    if pdb.min_available.is_some() == pdb.max_unavailable.is_some() {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            at,
            "a disruption budget sets exactly one of `minAvailable` and `maxUnavailable`",
            "e.g. `disruptionBudget: {maxUnavailable: 1}`",
        ));
    }
    for (k, v) in [
        ("minAvailable", &pdb.min_available),
        ("maxUnavailable", &pdb.max_unavailable),
    ] {
        if let Some(v) = v
            && !is_int_or_percent(&v.0)
        {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push(at, k),
                format!("`{}` is not a count or a percentage", v.0),
                "write a number like `1` or a percentage like `25%`",
            ));
        }
    }
    Ok(())
}
