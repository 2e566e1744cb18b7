//! Pod Security: every pod template judged by the Pod Security Standards
//! (<https://kubernetes.io/docs/concepts/security/pod-security-standards/>) at
//! the level its namespace enforces, as the admission controller would, so a
//! template or an overlay patch cannot weaken a pod unseen. Namespace labels
//! must say the level the blueprint gives the namespace: a patch that
//! relabels a namespace `privileged` is refused.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Violation;

mod baseline;
mod restricted;

use crate::blueprint::model::PodSecurityLevel;
use crate::error::ErrorKind;
use crate::pointer::{Lookup, push};
use crate::render::Object;
use crate::render::namespaces::NamespacePlan;
use baseline::baseline;
use restricted::restricted;

/// Capabilities the baseline level lets a container add.
const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];
/// Sysctls the baseline level allows (the "safe" set).
const SAFE_SYSCTLS: [&str; 10] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const SELINUX_TYPES: [&str; 4] = [
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];
/// Volume types the restricted level allows.
const RESTRICTED_VOLUMES: [&str; 8] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];
const LABEL_MODES: [&str; 3] = ["enforce", "audit", "warn"];

/// The level each planned namespace enforces, as the blueprint says.
pub fn namespace_levels<'a>(plans: &'a [NamespacePlan<'a>]) -> BTreeMap<&'a str, PodSecurityLevel> {
    plans.iter().map(|p| (p.name, p.pod_security)).collect()
}

pub fn check(levels: &BTreeMap<&str, PodSecurityLevel>, object: &Object) -> Result<(), Violation> {
    let id = object.id();
    if id.kind == "Namespace" {
        if let Some(level) = levels.get(id.name.as_str()) {
            return labels_match(&object.value, *level);
        }
        return Ok(());
    }
    let Some((base, spec)) = pod_spec(&object.value) else {
        return Ok(());
    };
    let level = id
        .namespace
        .as_deref()
        .and_then(|ns| levels.get(ns))
        .copied()
        .unwrap_or(PodSecurityLevel::Privileged);
    let template_meta = parent(&base).to_string() + "/metadata";
    let annotations = object.value.at(&push(&template_meta, "annotations"));
    let found = match level {
        PodSecurityLevel::Privileged => None,
        PodSecurityLevel::Baseline => baseline(&base, spec, annotations),
        PodSecurityLevel::Restricted => {
            baseline(&base, spec, annotations).or_else(|| restricted(&base, spec))
        }
    };
    match found {
        None => Ok(()),
        Some((path, what)) => Err(Violation::new(
            ErrorKind::Policy,
            path,
            format!(
                "{what}, which Pod Security level `{}` refuses",
                level.name()
            ),
            "the namespace's Pod Security level comes from the blueprint (`namespaces.<name>.podSecurity`): fix the pod, or give the namespace the level it needs there",
        )),
    }
}

fn labels_match(namespace: &Value, level: PodSecurityLevel) -> Result<(), Violation> {
    for mode in LABEL_MODES {
        let key = format!("pod-security.kubernetes.io/{mode}");
        let path = format!("/metadata/labels/{}", key.replace('/', "~1"));
        let got = namespace.at(&path).and_then(Value::as_str);
        if got != Some(level.name()) {
            return Err(Violation::new(
                ErrorKind::Policy,
                path,
                format!(
                    "label `{key}` is `{}`, but the blueprint gives the namespace level `{}`",
                    got.unwrap_or("(unset)"),
                    level.name()
                ),
                "set `namespaces.<name>.podSecurity` in the blueprint instead of patching the label",
            ));
        }
    }
    Ok(())
}

type Found = Option<(String, String)>;

/// The pod spec of a pod-creating object, and its JSON pointer.
pub(super) fn pod_spec(object: &Value) -> Option<(String, &Value)> {
    let at = match object.get("kind")?.as_str()? {
        "Pod" => "/spec",
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => "/spec/template/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => return None,
    };
    object.at(at).map(|spec| (at.to_string(), spec))
}

fn parent(pointer: &str) -> &str {
    pointer.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

/// Every container of the pod with its pointer.
fn containers<'a>(base: &str, spec: &'a Value) -> Vec<(String, &'a Value)> {
    let mut out = Vec::new();
    for list in CONTAINER_LISTS {
        if let Some(items) = spec.get(list).and_then(Value::as_array) {
            for (i, c) in items.iter().enumerate() {
                out.push((format!("{base}/{list}/{i}"), c));
            }
        }
    }
    out
}

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.at(pointer).and_then(Value::as_str)
}

fn flag(v: &Value, pointer: &str) -> Option<bool> {
    v.at(pointer).and_then(Value::as_bool)
}

fn name(c: &Value) -> &str {
    c.get("name").and_then(Value::as_str).unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn restricted_pod() -> Value {
        json!({"kind": "Deployment", "metadata": {"name": "x", "namespace": "apps"}, "spec": {"template": {"metadata": {}, "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "x", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}],
            "volumes": [{"name": "tmp", "emptyDir": {}}]
        }}}})
    }

    fn judge(level: PodSecurityLevel, value: Value) -> Option<String> {
        let levels = BTreeMap::from([("apps", level)]);
        check(&levels, &Object::new(value)).err().map(|v| v.path)
    }

    #[test]
    fn a_restricted_pod_passes_every_level() {
        for level in [
            PodSecurityLevel::Restricted,
            PodSecurityLevel::Baseline,
            PodSecurityLevel::Privileged,
        ] {
            assert_eq!(judge(level, restricted_pod()), None);
        }
    }

    #[test]
    fn each_restricted_rule_is_enforced() {
        let spec = "/spec/template/spec";
        let c = format!("{spec}/containers/0/securityContext");
        let cases: Vec<(&str, Value, String)> = vec![
            (
                "/spec/template/spec/securityContext/runAsUser",
                json!(0),
                format!("{spec}/securityContext/runAsUser"),
            ),
            (
                "/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation",
                json!(true),
                format!("{c}/allowPrivilegeEscalation"),
            ),
            (
                "/spec/template/spec/containers/0/securityContext/capabilities/add",
                json!(["SYS_ADMIN"]),
                format!("{c}/capabilities/add/0"),
            ),
            (
                "/spec/template/spec/containers/0/securityContext/seccompProfile",
                json!({"type": "Unconfined"}),
                format!("{c}/seccompProfile/type"),
            ),
            (
                "/spec/template/spec/containers/0/ports",
                json!([{"containerPort": 80, "hostPort": 80}]),
                format!("{spec}/containers/0/ports/0/hostPort"),
            ),
            (
                "/spec/template/spec/hostNetwork",
                json!(true),
                format!("{spec}/hostNetwork"),
            ),
            (
                "/spec/template/spec/volumes/0",
                json!({"name": "h", "hostPath": {"path": "/"}}),
                format!("{spec}/volumes/0/hostPath"),
            ),
            (
                "/spec/template/spec/volumes/0",
                json!({"name": "n", "nfs": {"server": "x", "path": "/"}}),
                format!("{spec}/volumes/0"),
            ),
            (
                "/spec/template/spec/containers/0/securityContext/runAsNonRoot",
                json!(false),
                format!("{c}/runAsNonRoot"),
            ),
        ];
        for (pointer, value, expected) in cases {
            let mut pod = restricted_pod();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            match pod.at_mut(parent).unwrap() {
                Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
                map => map[key] = value,
            }
            assert_eq!(
                judge(PodSecurityLevel::Restricted, pod),
                Some(expected),
                "{pointer}"
            );
        }
    }

    #[test]
    fn baseline_allows_what_only_restricted_refuses() {
        let mut pod = restricted_pod();
        pod["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] =
            json!(["CHOWN"]);
        assert_eq!(judge(PodSecurityLevel::Baseline, pod.clone()), None);
        assert!(judge(PodSecurityLevel::Restricted, pod.clone()).is_some());
        pod["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] =
            json!(["NET_RAW"]);
        assert!(
            judge(PodSecurityLevel::Baseline, pod).is_some(),
            "NET_RAW is not in the baseline list"
        );
    }

    #[test]
    fn relabelled_namespaces_are_refused() {
        let levels = BTreeMap::from([("apps", PodSecurityLevel::Restricted)]);
        let ns = |level: &str| {
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps", "labels": {
            "pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/warn": "restricted"}}})
        };
        assert!(check(&levels, &Object::new(ns("restricted"))).is_ok());
        assert!(check(&levels, &Object::new(ns("privileged"))).is_err());
    }
}
