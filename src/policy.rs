//! Policy: the rules an environment's output must keep, and explicit waivers.
//!
//! Production environments (`production: true`) need two replicas, a
//! disruption budget, requests and limits, readiness and liveness probes,
//! pinned images and zone spread; `policy:` turns single rules on or off.
//! Every environment refuses privileged pods, host namespaces and hostPath
//! volumes. An app waives a rule by naming it with a reason; the waiver is
//! rendered as an annotation so a reviewer sees it on the object. Scanner
//! (checkov) check IDs are waived the same way.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::blueprint::model::{App, WorkloadKind};
use crate::blueprint::waivers::{RULES, is_scanner_check, waivers};
use crate::error::{ErrorKind, Result};
use crate::pointer::{Lookup, push};
use crate::render::app::minimum_replicas;
use crate::render::patches::ObjectRule;
use crate::render::{Unit, UnitKind};
use crate::resolve::{ComponentKind, ResolvedEnv};

/// The rules on the blueprint's apps and their waivers. With
/// [`check_unit`] on every unit, the environment's whole policy; the compile
/// asks them apart, to read each unit while it is in cache.
pub fn check_apps(env: &ResolvedEnv) -> Result<()> {
    check_waiver_list(env, "/defaults/waivers", &env.blueprint.defaults.waivers)?;
    for (name, app) in &env.blueprint.apps {
        check_waiver_list(
            env,
            &push(&env.components[name].pointer, "waivers"),
            &app.waivers,
        )?;
        check_app(env, name, app)?;
    }
    Ok(())
}

/// The refusal of host access, on one unit's rendered pods.
pub fn check_unit(env: &ResolvedEnv, unit: &Unit) -> Result<()> {
    let UnitKind::Component(kind) = unit.kind else {
        return Ok(());
    };
    let at = push(&push("", kind.section()), &unit.name);
    for object in &unit.objects {
        if let Some(problem) = host_access(&object.value) {
            let field = if kind == ComponentKind::Manifests {
                push(&at, "templates")
            } else {
                at.clone()
            };
            return Err(env
                .locator
                .error(
                    ErrorKind::Policy,
                    &field,
                    format!("{} {problem}", object.id().display()),
                )
                .with_help(HOST_ACCESS_HELP));
        }
    }
    Ok(())
}

fn check_waiver_list(
    env: &ResolvedEnv,
    at: &str,
    waivers: &BTreeMap<String, String>,
) -> Result<()> {
    for (rule, reason) in waivers {
        let p = push(at, rule);
        let credential_key = rule
            .strip_prefix(crate::credential::WAIVER_PREFIX)
            .is_some_and(|k| !k.is_empty());
        if !RULES.contains(&rule.as_str()) && !is_scanner_check(rule) && !credential_key {
            return Err(env
                .locator
                .error(
                    ErrorKind::UnknownReference,
                    &p,
                    format!("no policy rule is called `{rule}`"),
                )
                .with_help(crate::suggest::help_for(
                    rule,
                    "rules (or a checkov ID like `CKV_K8S_43`, or `credential:<key>`)",
                    RULES,
                )));
        }
        if reason.trim().is_empty() {
            return Err(env
                .locator
                .error(
                    ErrorKind::InvalidValue,
                    &p,
                    format!("the waiver of `{rule}` gives no reason"),
                )
                .with_help(
                    "say why the rule does not apply, for the reviewer who reads the annotation",
                ));
        }
    }
    Ok(())
}

fn check_app(env: &ResolvedEnv, name: &str, app: &App) -> Result<()> {
    let s = &env.settings;
    let p = &s.policy;
    let at = &env.components[name].pointer;
    let long_running = app.kind != WorkloadKind::CronJob;
    let all_waivers = waivers(&env.blueprint.defaults.waivers, app);
    let waived = |rule: &str| all_waivers.contains_key(rule);
    let fail = |rule: &str, field: &str, message: String, help: &str| {
        env.locator
            .error(
                ErrorKind::Policy,
                &push(at, field),
                format!("{message} (policy `{rule}` of environment `{}`)", s.name),
            )
            .with_help(format!(
                "{help}, or waive it: `waivers: {{{rule}: <reason>}}`"
            ))
    };
    let min = minimum_replicas(app);
    if long_running && s.rule(p.min_replicas) && !waived("min-replicas") && min < 2 {
        return Err(fail(
            "min-replicas",
            if app.autoscale.is_some() {
                "autoscale"
            } else {
                "replicas"
            },
            format!("`{name}` runs {min} replica"),
            "run at least two replicas (or `autoscale.min: 2`)",
        ));
    }
    let has_budget = app.disruption_budget.is_some() || min > 1;
    if long_running && s.rule(p.disruption_budget) && !waived("disruption-budget") && !has_budget {
        return Err(fail(
            "disruption-budget",
            "disruptionBudget",
            format!("`{name}` has no disruption budget"),
            "run more than one replica or set `disruptionBudget`",
        ));
    }
    if s.rule(p.resources) && !waived("resources") {
        let r = app
            .resources
            .as_ref()
            .or(env.blueprint.defaults.resources.as_ref());
        let complete = r.is_some_and(|r| {
            [&r.requests, &r.limits].iter().all(|cm| {
                cm.as_ref()
                    .is_some_and(|cm| cm.cpu.is_some() && cm.memory.is_some())
            })
        });
        if !complete {
            return Err(fail(
                "resources",
                "resources",
                format!("`{name}` does not set cpu and memory requests and limits"),
                "set `resources.requests` and `resources.limits` (or `defaults.resources`)",
            ));
        }
    }
    if long_running
        && s.rule(p.probes)
        && !waived("probes")
        && (app.probes.readiness.is_none() || app.probes.liveness.is_none())
    {
        return Err(fail(
            "probes",
            "probes",
            format!("`{name}` lacks a readiness or liveness probe"),
            "add `probes.readiness` and `probes.liveness`",
        ));
    }
    let image = &app.image;
    let pinned = image.digest.is_some() || image.tag.as_deref().is_some_and(|t| t != "latest");
    if s.rule(p.pinned_images) && !waived("pinned-images") && !pinned {
        return Err(fail(
            "pinned-images",
            "image",
            format!("image `{}` is not pinned", image.reference(None)),
            "use an exact tag (not `latest`) or a digest",
        ));
    }
    if s.rule_off_by_default(p.image_digests) && !waived("image-digests") && image.digest.is_none()
    {
        return Err(fail(
            "image-digests",
            "image",
            format!("image `{}` has no digest", image.reference(None)),
            "add `@sha256:<digest>`",
        ));
    }
    Ok(())
}

const HOST_ACCESS_HELP: &str =
    "privileged pods, host namespaces and hostPath volumes are refused in every environment";

/// The rule overlays' patches must keep on each object they change.
pub fn patch_rule() -> ObjectRule<'static> {
    ObjectRule {
        problem: &host_access,
        help: HOST_ACCESS_HELP,
    }
}

/// What makes a pod reach into its host, if anything.
fn host_access(object: &Value) -> Option<String> {
    let spec = pod_spec(object)?;
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec.get(field).and_then(Value::as_bool) == Some(true) {
            return Some(format!("sets `{field}: true`"));
        }
    }
    let volumes = spec
        .get("volumes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if let Some(v) = volumes.iter().find(|v| v.get("hostPath").is_some()) {
        return Some(format!(
            "mounts hostPath volume `{}`",
            v["name"].as_str().unwrap_or("?")
        ));
    }
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for c in spec
            .get(list)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            if c.at("/securityContext/privileged").and_then(Value::as_bool) == Some(true) {
                return Some(format!(
                    "runs container `{}` privileged",
                    c["name"].as_str().unwrap_or("?")
                ));
            }
        }
    }
    None
}

/// The pod spec inside a pod-creating object.
pub fn pod_spec(object: &Value) -> Option<&Value> {
    match object.get("kind")?.as_str()? {
        "Pod" => object.get("spec"),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            object.at("/spec/template/spec")
        }
        "CronJob" => object.at("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn host_access_is_found_in_any_pod_template() {
        let privileged = json!({"kind": "DaemonSet", "spec": {"template": {"spec": {"containers": [{"name": "x", "securityContext": {"privileged": true}}]}}}});
        assert_eq!(
            host_access(&privileged).as_deref(),
            Some("runs container `x` privileged")
        );
        let host_path = json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}}}}}});
        assert_eq!(
            host_access(&host_path).as_deref(),
            Some("mounts hostPath volume `h`")
        );
        let clean = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "x"}]}}}});
        assert_eq!(host_access(&clean), None);
    }
}
