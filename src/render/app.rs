//! Everything an app renders to besides its controller: identity, config,
//! secrets, service, routing, scaling and disruption budget.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::MonitoringStack;
use super::labels;
use super::object::Object;
use super::secrets;
use super::workload;
use crate::blueprint::apps::default_port;
use crate::blueprint::catalog::SERVICE_MONITOR_API;
use crate::blueprint::model::{App, Blueprint, WorkloadKind};
use crate::blueprint::routing::RoutingApi;
use crate::blueprint::secrets::SecretRef;
use crate::error::{ErrorKind, Result};
use crate::pointer::push;
use crate::resolve::{Component, EnvSettings, ResolvedEnv};
use crate::sources::{SourceFile, hex};

/// What rendering one app needs to know.
pub struct AppContext<'a> {
    pub bp: &'a Blueprint,
    pub env: &'a EnvSettings,
    pub name: &'a str,
    pub app: &'a App,
    pub component: &'a Component,
    /// Every component of the environment, for what the app's pods refer to.
    pub components: &'a BTreeMap<String, Component>,
    pub labels: BTreeMap<String, String>,
    pub selector: BTreeMap<String, String>,
    /// Annotations on the controller (policy waivers, scanner skips).
    pub workload_annotations: BTreeMap<String, String>,
}

impl AppContext<'_> {
    pub fn namespace(&self) -> &str {
        &self.component.namespace
    }

    pub fn metadata(&self, name: &str, annotations: &BTreeMap<String, String>) -> Value {
        labels::metadata(name, Some(self.namespace()), &self.labels, annotations)
    }
}

pub fn render_app(
    env: &ResolvedEnv,
    name: &str,
    app: &App,
    monitoring: Option<&MonitoringStack>,
    workload_annotations: BTreeMap<String, String>,
) -> Result<Vec<Object>> {
    let bp = &env.blueprint;
    let component = &env.components[name];
    let cx = AppContext {
        bp,
        env: &env.settings,
        name,
        app,
        component,
        components: &env.components,
        labels: labels::app(bp, name, app),
        selector: component.selector.clone(),
        workload_annotations,
    };
    let mut objects = vec![service_account(&cx)];
    objects.extend(rbac(&cx));
    let config_map = match &app.config {
        Some(_) => Some(config_map(&cx, env)?),
        None => None,
    };
    let config_name = config_map
        .as_ref()
        .and_then(|cm| cm["metadata"]["name"].as_str().map(str::to_string));
    objects.extend(config_map);
    let (external_secrets, secret_names) = external_secrets(&cx);
    objects.extend(external_secrets);
    objects.extend(services(&cx));
    objects.push(workload::controller(
        &cx,
        config_name.as_deref(),
        &secret_names,
    ));
    objects.extend(autoscaler(&cx));
    objects.extend(disruption_budget(&cx));
    match env.settings.routing {
        RoutingApi::Ingress => objects.extend(ingress(&cx)),
        RoutingApi::GatewayApi => objects.extend(super::gateway::routes(&cx, env)),
    }
    if let Some(m) = monitoring {
        objects.extend(service_monitor(&cx, m));
    }
    Ok(objects.into_iter().map(Object::new).collect())
}

// Objects are assembled with the moving `obj!`: `json!` would copy each
// interpolated value (the metadata, the spec) once more.
fn service_account(cx: &AppContext) -> Value {
    obj! {
        "apiVersion" => "v1",
        "kind" => "ServiceAccount",
        "metadata" => cx.metadata(cx.name, &cx.app.service_account.annotations),
        "automountServiceAccountToken" => cx.app.service_account.automount_token,
    }
}

fn rbac(cx: &AppContext) -> Vec<Value> {
    if cx.app.rbac.is_empty() {
        return Vec::new();
    }
    let rules: Vec<Value> = cx
        .app
        .rbac
        .iter()
        .map(|r| {
            let mut rule = json!({
                "apiGroups": r.api_groups,
                "resources": r.resources,
                "verbs": r.verbs,
            });
            if !r.resource_names.is_empty() {
                rule["resourceNames"] = json!(r.resource_names);
            }
            rule
        })
        .collect();
    let none = BTreeMap::new();
    vec![
        obj! {
            "apiVersion" => "rbac.authorization.k8s.io/v1",
            "kind" => "Role",
            "metadata" => cx.metadata(cx.name, &none),
            "rules" => rules,
        },
        obj! {
            "apiVersion" => "rbac.authorization.k8s.io/v1",
            "kind" => "RoleBinding",
            "metadata" => cx.metadata(cx.name, &none),
            "roleRef" => json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": cx.name}),
            "subjects" => json!([{"kind": "ServiceAccount", "name": cx.name, "namespace": cx.namespace()}]),
        },
    ]
}

/// The ConfigMap of config files, named `<app>-config-<hash>` so pods roll on change.
fn config_map(cx: &AppContext, env: &ResolvedEnv) -> Result<Value> {
    let cfg = cx.app.config.as_ref().expect("called only with config");
    let at = push(&cx.component.pointer, "config");
    let mut data = BTreeMap::new();
    for (file, path) in &cfg.files {
        let full = format!(
            "{}/{}",
            crate::sources::BLUEPRINTS_DIR,
            path.trim_start_matches("./")
        );
        let bytes = match env.sources.get(&full) {
            Some(SourceFile::Regular(bytes)) => bytes.clone(),
            _ => {
                return Err(env.locator.error(
                    ErrorKind::Include,
                    &push(&push(&at, "files"), file),
                    format!("`{path}` is not a readable file under `blueprints/`"),
                ));
            }
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            env.locator
                .error(
                    ErrorKind::Include,
                    &push(&push(&at, "files"), file),
                    format!("`{path}` is not UTF-8 text"),
                )
                .with_help("config files are text; binary data does not belong in a ConfigMap")
        })?;
        data.insert(file.clone(), text.to_string());
    }
    for (file, content) in &cfg.inline {
        data.insert(file.clone(), content.clone());
    }
    let name = format!("{}-config-{}", cx.name, content_hash(&data));
    Ok(obj! {
        "apiVersion" => "v1",
        "kind" => "ConfigMap",
        "metadata" => cx.metadata(&name, &BTreeMap::new()),
        "immutable" => true,
        "data" => labels::to_value(&data),
    })
}

/// First 10 hex digits of SHA-256 over the sorted file names and contents.
pub fn content_hash(data: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (k, v) in data {
        hasher.update(k.as_bytes());
        hasher.update([0]);
        hasher.update(v.as_bytes());
        hasher.update([0]);
    }
    hex(&hasher.finalize())[..10].to_string()
}

/// One ExternalSecret per secret store the app reads from; returns them and
/// the target Secret name per store.
fn external_secrets(cx: &AppContext) -> (Vec<Value>, BTreeMap<String, String>) {
    let mut by_store: BTreeMap<&str, Vec<(&str, SecretRef)>> = BTreeMap::new();
    for (var, reference) in &cx.app.secrets {
        if let Some(parsed) = SecretRef::parse(reference) {
            by_store
                .entry(parsed.store)
                .or_default()
                .push((var, parsed));
        }
    }
    let mut objects = Vec::new();
    let mut names = BTreeMap::new();
    for (store_key, entries) in by_store {
        let name = format!("{}-{}", cx.name, store_key);
        let metadata = cx.metadata(&name, &BTreeMap::new());
        let contents = secrets::Contents::Keys(entries);
        if let Some(object) = secrets::external_secret(cx.bp, metadata, &name, store_key, &contents)
        {
            objects.push(object);
            names.insert(store_key.to_string(), name);
        }
    }
    (objects, names)
}

fn services(cx: &AppContext) -> Vec<Value> {
    if cx.app.ports.is_empty() || cx.app.kind == WorkloadKind::CronJob {
        return Vec::new();
    }
    let ports: Vec<Value> = cx
        .app
        .ports
        .iter()
        .map(|(name, port)| json!({"name": name, "port": port, "targetPort": name, "protocol": "TCP"}))
        .collect();
    let selector = labels::to_value(&cx.selector);
    let none = BTreeMap::new();
    let headless = (cx.app.kind == WorkloadKind::StatefulSet).then(|| {
        obj! {
            "apiVersion" => "v1",
            "kind" => "Service",
            "metadata" => cx.metadata(&format!("{}-headless", cx.name), &none),
            "spec" => obj! {
                "clusterIP" => "None",
                "publishNotReadyAddresses" => true,
                "selector" => selector.clone(),
                "ports" => ports.clone(),
            },
        }
    });
    let service = obj! {
        "apiVersion" => "v1",
        "kind" => "Service",
        "metadata" => cx.metadata(cx.name, &none),
        "spec" => obj! {"type" => "ClusterIP", "selector" => selector, "ports" => ports},
    };
    std::iter::once(service).chain(headless).collect()
}

fn workload_ref(cx: &AppContext) -> Value {
    let kind = match cx.app.kind {
        WorkloadKind::StatefulSet => "StatefulSet",
        _ => "Deployment",
    };
    json!({"apiVersion": "apps/v1", "kind": kind, "name": cx.name})
}

fn autoscaler(cx: &AppContext) -> Option<Value> {
    let a = cx.app.autoscale.as_ref()?;
    let mut metrics = Vec::new();
    let cpu = match (a.cpu, a.memory) {
        (None, None) => Some(75),
        (cpu, _) => cpu,
    };
    for (resource, target) in [("cpu", cpu), ("memory", a.memory)] {
        if let Some(t) = target {
            metrics.push(json!({
                "type": "Resource",
                "resource": {"name": resource, "target": {"type": "Utilization", "averageUtilization": t}},
            }));
        }
    }
    Some(obj! {
        "apiVersion" => "autoscaling/v2",
        "kind" => "HorizontalPodAutoscaler",
        "metadata" => cx.metadata(cx.name, &BTreeMap::new()),
        "spec" => obj! {
            "scaleTargetRef" => workload_ref(cx),
            "minReplicas" => a.min,
            "maxReplicas" => a.max,
            "metrics" => metrics,
        },
    })
}

/// The least number of pods the app runs with.
pub fn minimum_replicas(app: &App) -> u32 {
    match &app.autoscale {
        Some(a) => a.min,
        None => app.replicas.unwrap_or(1),
    }
}

fn int_or_string(s: &str) -> Value {
    match s.parse::<u64>() {
        Ok(n) => json!(n),
        Err(_) => json!(s),
    }
}

fn disruption_budget(cx: &AppContext) -> Option<Value> {
    if cx.app.kind == WorkloadKind::CronJob {
        return None;
    }
    let budget = match &cx.app.disruption_budget {
        Some(pdb) => match (&pdb.min_available, &pdb.max_unavailable) {
            (Some(min), _) => json!({"minAvailable": int_or_string(&min.0)}),
            (None, Some(max)) => json!({"maxUnavailable": int_or_string(&max.0)}),
            (None, None) => return None,
        },
        None if minimum_replicas(cx.app) > 1 => json!({"maxUnavailable": 1}),
        None => return None,
    };
    let mut spec = budget;
    spec["selector"] = json!({"matchLabels": labels::to_value(&cx.selector)});
    Some(obj! {
        "apiVersion" => "policy/v1",
        "kind" => "PodDisruptionBudget",
        "metadata" => cx.metadata(cx.name, &BTreeMap::new()),
        "spec" => spec,
    })
}

fn ingress(cx: &AppContext) -> Option<Value> {
    let ing = cx.app.ingress.as_ref()?;
    let defaults = &cx.bp.defaults.ingress;
    let class = ing.class.clone().or_else(|| defaults.class.clone());
    let issuer = ing.issuer.clone().or_else(|| defaults.issuer.clone());
    let tls = ing.tls.unwrap_or(issuer.is_some());
    let paths: Vec<(String, String)> = if ing.paths.is_empty() {
        vec![(
            "/".to_string(),
            default_port(cx.app).unwrap_or("http").to_string(),
        )]
    } else {
        ing.paths
            .iter()
            .map(|(p, port)| (p.clone(), port.clone()))
            .collect()
    };
    let http_paths: Vec<Value> = paths
        .iter()
        .map(|(path, port)| {
            json!({
                "path": path,
                "pathType": "Prefix",
                "backend": {"service": {"name": cx.name, "port": {"name": port}}},
            })
        })
        .collect();
    let rules: Vec<Value> = ing
        .hosts
        .iter()
        .map(|host| json!({"host": host, "http": {"paths": http_paths}}))
        .collect();
    let mut annotations = ing.annotations.clone();
    if tls && let Some(issuer) = &issuer {
        annotations.insert("cert-manager.io/cluster-issuer".into(), issuer.clone());
    }
    let mut spec = json!({"rules": rules});
    if let Some(class) = class {
        spec["ingressClassName"] = json!(class);
    }
    if tls {
        spec["tls"] = json!([{"hosts": ing.hosts, "secretName": format!("{}-tls", cx.name)}]);
    }
    Some(obj! {
        "apiVersion" => "networking.k8s.io/v1",
        "kind" => "Ingress",
        "metadata" => cx.metadata(cx.name, &annotations),
        "spec" => spec,
    })
}

fn service_monitor(cx: &AppContext, m: &MonitoringStack) -> Option<Value> {
    let metrics = cx.app.metrics.as_ref()?;
    let mut labels = cx.labels.clone();
    labels.insert("release".into(), m.release.clone());
    let mut endpoint = json!({"port": metrics.port, "path": metrics.path, "scheme": "http"});
    if let Some(i) = &metrics.interval {
        endpoint["interval"] = json!(i);
    }
    Some(obj! {
        "apiVersion" => SERVICE_MONITOR_API,
        "kind" => "ServiceMonitor",
        "metadata" => labels::metadata(cx.name, Some(cx.namespace()), &labels, &BTreeMap::new()),
        "spec" => obj! {
            "selector" => obj! {"matchLabels" => labels::to_value(&cx.selector)},
            "endpoints" => vec![endpoint],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_hash_depends_on_names_and_contents() {
        let a = BTreeMap::from([("a.conf".to_string(), "x=1".to_string())]);
        let b = BTreeMap::from([("a.conf".to_string(), "x=2".to_string())]);
        let c = BTreeMap::from([("b.conf".to_string(), "x=1".to_string())]);
        assert_eq!(content_hash(&a).len(), 10);
        assert_ne!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&c));
        assert_eq!(content_hash(&a), content_hash(&a.clone()));
    }
}
