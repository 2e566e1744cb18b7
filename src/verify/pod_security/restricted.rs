//! The restricted level, on top of baseline: only the listed volume types,
//! no privilege escalation, running as non-root, a `RuntimeDefault` or
//! `Localhost` seccomp profile, and every capability dropped but
//! `NET_BIND_SERVICE`.

use super::*;
use crate::pointer::Lookup;

pub(super) fn restricted(base: &str, spec: &Value) -> Found {
    if let Some(volumes) = spec.get("volumes").and_then(Value::as_array) {
        for (i, v) in volumes.iter().enumerate() {
            let allowed = v.as_object().is_some_and(|m| {
                m.keys()
                    .filter(|k| *k != "name")
                    .all(|k| RESTRICTED_VOLUMES.contains(&k.as_str()))
            });
            if !allowed {
                return Some((
                    format!("{base}/volumes/{i}"),
                    format!(
                        "volume `{}` is of a type restricted pods may not use",
                        name(v)
                    ),
                ));
            }
        }
    }
    let pod_sc = |p: &str| spec.at(&format!("/securityContext{p}"));
    let pod_non_root = pod_sc("/runAsNonRoot").and_then(Value::as_bool) == Some(true);
    if pod_sc("/runAsUser").and_then(Value::as_i64) == Some(0) {
        return Some((
            format!("{base}/securityContext/runAsUser"),
            "the pod runs as user 0 (root)".to_string(),
        ));
    }
    if pod_sc("/runAsNonRoot").and_then(Value::as_bool) == Some(false) {
        return Some((
            format!("{base}/securityContext/runAsNonRoot"),
            "the pod sets `runAsNonRoot: false`".to_string(),
        ));
    }
    let pod_seccomp = pod_sc("/seccompProfile/type").and_then(Value::as_str);
    let confined = |t: Option<&str>| matches!(t, Some("RuntimeDefault") | Some("Localhost"));
    for (at, c) in containers(base, spec) {
        let who = format!("container `{}`", name(c));
        let sc = |p: &str| c.at(&format!("/securityContext{p}"));
        if sc("/allowPrivilegeEscalation").and_then(Value::as_bool) != Some(false) {
            return Some((
                format!("{at}/securityContext/allowPrivilegeEscalation"),
                format!("{who} does not set `allowPrivilegeEscalation: false`"),
            ));
        }
        match sc("/runAsNonRoot").and_then(Value::as_bool) {
            Some(false) => {
                return Some((
                    format!("{at}/securityContext/runAsNonRoot"),
                    format!("{who} sets `runAsNonRoot: false`"),
                ));
            }
            None if !pod_non_root => {
                return Some((
                    format!("{at}/securityContext/runAsNonRoot"),
                    format!("{who} does not set `runAsNonRoot: true` (nor does the pod)"),
                ));
            }
            _ => {}
        }
        if sc("/runAsUser").and_then(Value::as_i64) == Some(0) {
            return Some((
                format!("{at}/securityContext/runAsUser"),
                format!("{who} runs as user 0 (root)"),
            ));
        }
        let own = sc("/seccompProfile/type").and_then(Value::as_str);
        let inherits_pod_profile = own.is_none() && confined(pod_seccomp);
        if !(confined(own) || inherits_pod_profile) {
            return Some((
                format!("{at}/securityContext/seccompProfile"),
                format!(
                    "{who} has no `RuntimeDefault` or `Localhost` seccomp profile (nor does the pod)"
                ),
            ));
        }
        let drops_all = sc("/capabilities/drop")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|c| c.as_str() == Some("ALL")));
        if !drops_all {
            return Some((
                format!("{at}/securityContext/capabilities/drop"),
                format!("{who} does not drop `ALL` capabilities"),
            ));
        }
        if let Some(adds) = sc("/capabilities/add").and_then(Value::as_array) {
            for (i, cap) in adds.iter().enumerate() {
                if cap.as_str() != Some("NET_BIND_SERVICE") {
                    return Some((
                        format!("{at}/securityContext/capabilities/add/{i}"),
                        format!("{who} adds capability `{}`", cap.as_str().unwrap_or("?")),
                    ));
                }
            }
        }
    }
    None
}
