//! The pod and its controller (Deployment, StatefulSet or CronJob), with the
//! Pod Security "restricted" defaults every app gets.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::AppContext;
use crate::blueprint::apps::default_port;
use crate::blueprint::model::{Probe, Topology, WorkloadKind};
use crate::blueprint::secrets::SecretRef;

/// UID and GID apps run as unless they say otherwise: above 10000, so they
/// never map to a host user.
pub const DEFAULT_UID: u32 = 10001;

pub fn controller(
    cx: &AppContext,
    config_map: Option<&str>,
    secret_names: &BTreeMap<String, String>,
) -> Value {
    let app = cx.app;
    let pod =
        obj! {"metadata" => pod_metadata(cx), "spec" => pod_spec(cx, config_map, secret_names)};
    let selector = obj! {"matchLabels" => super::labels::to_value(&cx.selector)};
    let meta = super::labels::metadata(
        cx.name,
        Some(cx.namespace()),
        &super::labels::versioned(&cx.labels, app),
        &cx.workload_annotations,
    );
    match app.kind {
        WorkloadKind::Deployment => {
            let mut spec =
                obj! {"revisionHistoryLimit" => 5, "selector" => selector, "template" => pod};
            if app.autoscale.is_none() {
                spec["replicas"] = json!(app.replicas.unwrap_or(1));
            }
            obj! {"apiVersion" => "apps/v1", "kind" => "Deployment", "metadata" => meta, "spec" => spec}
        }
        WorkloadKind::StatefulSet => {
            let mut spec = obj! {
                "revisionHistoryLimit" => 5,
                "selector" => selector,
                "serviceName" => format!("{}-headless", cx.name),
                "template" => pod,
            };
            if app.autoscale.is_none() {
                spec["replicas"] = json!(app.replicas.unwrap_or(1));
            }
            if let Some(policy) = app.pod_management_policy {
                spec["podManagementPolicy"] = json!(policy);
            }
            if !app.storage.is_empty() {
                spec["volumeClaimTemplates"] = Value::Array(
                    app.storage
                        .iter()
                        .map(|(name, s)| {
                            let mut claim = json!({
                                "accessModes": ["ReadWriteOnce"],
                                "resources": {"requests": {"storage": s.size.0}},
                            });
                            if let Some(class) = &s.storage_class {
                                claim["storageClassName"] = json!(class);
                            }
                            obj! {"metadata" => obj! {"name" => name.as_str(), "labels" => super::labels::to_value(&cx.selector)}, "spec" => claim}
                        })
                        .collect(),
                );
            }
            obj! {"apiVersion" => "apps/v1", "kind" => "StatefulSet", "metadata" => meta, "spec" => spec}
        }
        WorkloadKind::CronJob => {
            let mut pod = pod;
            pod["spec"]["restartPolicy"] = json!("OnFailure");
            obj! {
                "apiVersion" => "batch/v1",
                "kind" => "CronJob",
                "metadata" => meta,
                "spec" => obj! {
                    "schedule" => app.schedule.clone().unwrap_or_default(),
                    "concurrencyPolicy" => "Forbid",
                    "successfulJobsHistoryLimit" => 3,
                    "failedJobsHistoryLimit" => 3,
                    "jobTemplate" => obj! {"spec" => obj! {"backoffLimit" => 2, "template" => pod}},
                },
            }
        }
    }
}

fn pod_metadata(cx: &AppContext) -> Value {
    let labels = super::labels::versioned(&cx.labels, cx.app);
    let mut meta = obj! {"labels" => super::labels::to_value(&labels)};
    if !cx.app.annotations.is_empty() {
        meta["annotations"] = super::labels::to_value(&cx.app.annotations);
    }
    meta
}

fn pod_spec(
    cx: &AppContext,
    config_map: Option<&str>,
    secret_names: &BTreeMap<String, String>,
) -> Value {
    let app = cx.app;
    let user = app.run_as.user.unwrap_or(DEFAULT_UID);
    let group = app.run_as.group.unwrap_or(DEFAULT_UID);
    let mut spec = obj! {
        "automountServiceAccountToken" => app.service_account.automount_token,
        "serviceAccountName" => cx.name,
        "securityContext" => json!({
            "runAsNonRoot": true,
            "runAsUser": user,
            "runAsGroup": group,
            "fsGroup": app.run_as.fs_group.unwrap_or(group),
            "seccompProfile": {"type": "RuntimeDefault"},
        }),
        "containers" => vec![container(cx, secret_names)],
        "volumes" => volumes(cx, config_map, secret_names),
    };
    let spread = spread_constraints(cx);
    if !spread.is_empty() {
        spec["topologySpreadConstraints"] = Value::Array(spread);
    }
    super::scheduling::place(&mut spec, cx);
    spec
}

/// Zones whenever the environment has several (a hard rule in production),
/// and hosts when the app asks, always as a preference: a hard spread over
/// nodes would hold a rollout whenever one node is full or cordoned
/// (https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/).
fn spread_constraints(cx: &AppContext) -> Vec<Value> {
    if cx.app.kind == WorkloadKind::CronJob {
        return Vec::new();
    }
    let constraint = |key: &str, when: &str| {
        json!({
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": super::labels::to_value(&cx.selector)},
        })
    };
    let mut out = Vec::new();
    if cx.env.zones.len() > 1 {
        let when = if cx.env.production {
            "DoNotSchedule"
        } else {
            "ScheduleAnyway"
        };
        out.push(constraint(Topology::Zone.key(), when));
    }
    let hosts = cx
        .app
        .scheduling
        .over(&cx.bp.defaults.scheduling)
        .spread_over_hosts;
    if hosts == Some(true) {
        out.push(constraint(Topology::Host.key(), "ScheduleAnyway"));
    }
    out
}

fn container(cx: &AppContext, secret_names: &BTreeMap<String, String>) -> Value {
    let app = cx.app;
    let mut c = Map::new();
    c.insert("name".into(), json!(cx.name));
    c.insert(
        "image".into(),
        json!(app.image.reference(cx.bp.defaults.registry.as_deref())),
    );
    c.insert("imagePullPolicy".into(), json!("Always"));
    if !app.command.is_empty() {
        c.insert("command".into(), json!(app.command));
    }
    if !app.args.is_empty() {
        c.insert("args".into(), json!(app.args));
    }
    if !app.ports.is_empty() {
        let ports: Vec<Value> = app
            .ports
            .iter()
            .map(|(name, port)| json!({"name": name, "containerPort": port, "protocol": "TCP"}))
            .collect();
        c.insert("ports".into(), Value::Array(ports));
    }
    let env = env_vars(cx, secret_names);
    if !env.is_empty() {
        c.insert("env".into(), Value::Array(env));
    }
    if let Some(resources) = resources(cx) {
        c.insert("resources".into(), resources);
    }
    for (field, probe) in [
        ("readinessProbe", &app.probes.readiness),
        ("livenessProbe", &app.probes.liveness),
        ("startupProbe", &app.probes.startup),
    ] {
        if let Some(p) = probe {
            c.insert(field.into(), probe_value(p, app));
        }
    }
    c.insert(
        "securityContext".into(),
        json!({
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
            "privileged": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
        }),
    );
    c.insert(
        "volumeMounts".into(),
        Value::Array(volume_mounts(cx, secret_names)),
    );
    Value::Object(c)
}

/// Literal variables, then secret references, each sorted by name.
fn env_vars(cx: &AppContext, secret_names: &BTreeMap<String, String>) -> Vec<Value> {
    let mut vars: Vec<Value> = cx
        .app
        .env
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value.0}))
        .collect();
    if cx.app.secret_files.is_some() {
        return vars;
    }
    for (name, reference) in &cx.app.secrets {
        let Some(parsed) = SecretRef::parse(reference) else {
            continue;
        };
        let secret = secret_names.get(parsed.store).cloned().unwrap_or_default();
        vars.push(
            json!({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": name}}}),
        );
    }
    vars
}

fn resources(cx: &AppContext) -> Option<Value> {
    let r = cx
        .app
        .resources
        .as_ref()
        .or(cx.bp.defaults.resources.as_ref())?;
    let mut out = Map::new();
    for (part, cm) in [("requests", &r.requests), ("limits", &r.limits)] {
        if let Some(cm) = cm {
            let mut m = Map::new();
            if let Some(cpu) = &cm.cpu {
                m.insert("cpu".into(), json!(cpu.0));
            }
            if let Some(mem) = &cm.memory {
                m.insert("memory".into(), json!(mem.0));
            }
            if !m.is_empty() {
                out.insert(part.into(), Value::Object(m));
            }
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

fn probe_value(p: &Probe, app: &crate::blueprint::model::App) -> Value {
    let mut v = if let Some(path) = &p.http {
        let port = p
            .port
            .as_deref()
            .or_else(|| default_port(app))
            .unwrap_or("http");
        json!({"httpGet": {"path": path, "port": port}})
    } else if let Some(port) = &p.tcp {
        json!({"tcpSocket": {"port": port}})
    } else {
        json!({"exec": {"command": p.exec.clone().unwrap_or_default()}})
    };
    for (field, value) in [
        ("initialDelaySeconds", p.initial_delay),
        ("periodSeconds", p.period),
        ("timeoutSeconds", p.timeout),
        ("failureThreshold", p.failure_threshold),
    ] {
        if let Some(value) = value {
            v[field] = json!(value);
        }
    }
    v
}

/// Volume name for a writable directory: its path, made a DNS label.
pub fn writable_volume_name(path: &str) -> String {
    let mut name: String = path
        .trim_matches('/')
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() {
                ch.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(50);
    format!("w-{}", name.trim_matches('-'))
}

fn volumes(
    cx: &AppContext,
    config_map: Option<&str>,
    secret_names: &BTreeMap<String, String>,
) -> Value {
    let mut vols = vec![json!({"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}})];
    if let Some(cm) = config_map {
        vols.push(json!({"name": "config", "configMap": {"name": cm}}));
    }
    if cx.app.secret_files.is_some() {
        for (store, secret) in secret_names {
            vols.push(json!({"name": format!("secrets-{store}"), "secret": {"secretName": secret, "defaultMode": 0o400}}));
        }
    }
    for path in &cx.app.writable {
        vols.push(json!({"name": writable_volume_name(path), "emptyDir": {"sizeLimit": "1Gi"}}));
    }
    vols.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Value::Array(vols)
}

fn volume_mounts(cx: &AppContext, secret_names: &BTreeMap<String, String>) -> Vec<Value> {
    let app = cx.app;
    let mut mounts = vec![json!({"name": "tmp", "mountPath": "/tmp"})];
    if let Some(dir) = &app.secret_files {
        // One store: its keys are files in the directory; several: a subdirectory per store.
        let single = secret_names.len() == 1;
        for store in secret_names.keys() {
            let path = if single {
                dir.clone()
            } else {
                format!("{}/{store}", dir.trim_end_matches('/'))
            };
            mounts.push(
                json!({"name": format!("secrets-{store}"), "mountPath": path, "readOnly": true}),
            );
        }
    }
    if let Some(cfg) = &app.config {
        mounts.push(json!({"name": "config", "mountPath": cfg.mount_path, "readOnly": true}));
    }
    for path in &app.writable {
        mounts.push(json!({"name": writable_volume_name(path), "mountPath": path}));
    }
    for (name, s) in &app.storage {
        mounts.push(json!({"name": name, "mountPath": s.mount_path}));
    }
    mounts.sort_by(|a, b| a["mountPath"].as_str().cmp(&b["mountPath"].as_str()));
    mounts
}
