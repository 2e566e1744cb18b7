//! The baseline level: no host namespaces, host paths or ports, Windows host
//! processes or privileged containers; no capability beyond the default set,
//! no unsafe sysctl, no unconfined seccomp or AppArmor profile, no custom
//! SELinux type or proc mount.

use super::*;
use crate::pointer::Lookup;

pub(super) fn baseline(base: &str, spec: &Value, annotations: Option<&Value>) -> Found {
    let pod = |field: &str| format!("{base}/{field}");
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if flag(spec, &format!("/{field}")) == Some(true) {
            return Some((pod(field), format!("the pod sets `{field}: true`")));
        }
    }
    if let Some(f) = security_context_baseline(
        &pod("securityContext"),
        spec.get("securityContext"),
        "the pod",
    ) {
        return Some(f);
    }
    if let Some(sysctls) = spec
        .at("/securityContext/sysctls")
        .and_then(Value::as_array)
    {
        for (i, s) in sysctls.iter().enumerate() {
            let n = s.get("name").and_then(Value::as_str).unwrap_or("");
            if !SAFE_SYSCTLS.contains(&n) {
                return Some((
                    pod(&format!("securityContext/sysctls/{i}")),
                    format!("the pod sets unsafe sysctl `{n}`"),
                ));
            }
        }
    }
    if let Some(volumes) = spec.get("volumes").and_then(Value::as_array) {
        for (i, v) in volumes.iter().enumerate() {
            if v.get("hostPath").is_some() {
                return Some((
                    pod(&format!("volumes/{i}/hostPath")),
                    format!("volume `{}` is a hostPath", name(v)),
                ));
            }
        }
    }
    if let Some(Value::Object(map)) = annotations {
        for (key, value) in map {
            let value = value.as_str().unwrap_or("");
            if key.starts_with("container.apparmor.security.beta.kubernetes.io/")
                && value != "runtime/default"
                && !value.starts_with("localhost/")
            {
                return Some((
                    format!("{}/metadata/annotations", parent(base)),
                    format!("AppArmor profile `{value}`"),
                ));
            }
        }
    }
    for (at, c) in containers(base, spec) {
        let who = format!("container `{}`", name(c));
        let sc = c.get("securityContext");
        if let Some(f) = security_context_baseline(&format!("{at}/securityContext"), sc, &who) {
            return Some(f);
        }
        if flag(c, "/securityContext/privileged") == Some(true) {
            return Some((
                format!("{at}/securityContext/privileged"),
                format!("{who} runs privileged"),
            ));
        }
        if let Some(adds) = c
            .at("/securityContext/capabilities/add")
            .and_then(Value::as_array)
        {
            for (i, cap) in adds.iter().enumerate() {
                let cap = cap.as_str().unwrap_or("");
                if !BASELINE_CAPABILITIES.contains(&cap) {
                    return Some((
                        format!("{at}/securityContext/capabilities/add/{i}"),
                        format!("{who} adds capability `{cap}`"),
                    ));
                }
            }
        }
        if let Some(proc_mount) = text(c, "/securityContext/procMount")
            && proc_mount != "Default"
        {
            return Some((
                format!("{at}/securityContext/procMount"),
                format!("{who} sets procMount `{proc_mount}`"),
            ));
        }
        if let Some(ports) = c.get("ports").and_then(Value::as_array) {
            for (i, p) in ports.iter().enumerate() {
                if p.get("hostPort")
                    .and_then(Value::as_i64)
                    .is_some_and(|h| h != 0)
                {
                    return Some((
                        format!("{at}/ports/{i}/hostPort"),
                        format!("{who} binds a host port"),
                    ));
                }
            }
        }
    }
    None
}

/// Baseline rules that pod and container security contexts share.
fn security_context_baseline(at: &str, sc: Option<&Value>, who: &str) -> Found {
    let sc = sc?;
    if flag(sc, "/windowsOptions/hostProcess") == Some(true) {
        return Some((
            format!("{at}/windowsOptions/hostProcess"),
            format!("{who} is a Windows host process"),
        ));
    }
    if text(sc, "/seccompProfile/type") == Some("Unconfined") {
        return Some((
            format!("{at}/seccompProfile/type"),
            format!("{who} runs with seccomp `Unconfined`"),
        ));
    }
    if let Some(t) = text(sc, "/appArmorProfile/type")
        && t != "RuntimeDefault"
        && t != "Localhost"
    {
        return Some((
            format!("{at}/appArmorProfile/type"),
            format!("{who} sets AppArmor profile `{t}`"),
        ));
    }
    if let Some(se) = sc.get("seLinuxOptions") {
        if let Some(t) = text(se, "/type")
            && !t.is_empty()
            && !SELINUX_TYPES.contains(&t)
        {
            return Some((
                format!("{at}/seLinuxOptions/type"),
                format!("{who} sets SELinux type `{t}`"),
            ));
        }
        for field in ["user", "role"] {
            if text(se, &format!("/{field}")).is_some_and(|v| !v.is_empty()) {
                return Some((
                    format!("{at}/seLinuxOptions/{field}"),
                    format!("{who} sets an SELinux {field}"),
                ));
            }
        }
    }
    None
}
