//! Synthetic projects of N apps, and the equivalent hand-written Kustomize tree.
//!
//! Each app has a config file, a secret reference, an ingress, an autoscaler,
//! `uses` edges (to its predecessor and to the shared database) and changes in
//! each environment's overlay. The Kustomize tree has a base per app and an
//! overlay per app per environment making the same changes, as teams write
//! it by hand. Shared by the scale benchmark and the tests.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

pub const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "prod"];

pub fn app_name(i: usize) -> String {
    format!("app-{i:04}")
}

/// Writes a gitopsc project of `n` apps into `dir`.
pub fn write_project(n: usize, dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir.join("blueprints"))?;
    fs::create_dir_all(dir.join("overlays"))?;
    let mut bp = String::from(
        "system: {name: synthetic, owner: platform}\n\
         gitops: {engine: flux, repo: https://github.com/acme/gitops.git, path: clusters}\n\
         layers: [platform, data, apps]\n\
         environments:\n\
         \x20 dev: {domain: dev.example.com, zones: [a], network: permissive}\n\
         \x20 staging: {extends: dev, domain: staging.example.com, network: namespace-isolated}\n\
         \x20 prod: {extends: staging, domain: example.com, zones: [a, b, c], network: default-deny, production: true}\n\
         secretStores:\n  vault: {}\n\
         defaults:\n  resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: 500m, memory: 256Mi}}\n\
         \x20 ingress: {class: nginx, issuer: letsencrypt, controllerNamespace: ingress-nginx}\n\
         charts:\n  external-secrets:\n    layer: platform\n    repo: https://charts.external-secrets.io\n\
         \x20   chart: external-secrets\n    version: 2.10.0\n    provides: [external-secrets.io]\n\
         apps:\n  postgres:\n    layer: data\n    kind: StatefulSet\n    image: postgres:17.2\n    ports: {postgres: 5432}\n\
         \x20   replicas: 2\n    storage: {data: {size: 10Gi, mountPath: /var/lib/postgresql/data}}\n\
         \x20   probes: {readiness: {tcp: postgres}, liveness: {tcp: postgres}}\n",
    );
    for i in 0..n {
        let name = app_name(i);
        let uses = if i == 0 {
            "[postgres]".to_string()
        } else {
            format!("[postgres, {}]", app_name(i - 1))
        };
        write!(
            bp,
            "  {name}:\n    layer: apps\n    image: ghcr.io/acme/{name}:1.0.{i}\n    ports: {{http: 8080}}\n\
             \x20   env: {{APP_NAME: {name}, LOG_LEVEL: info}}\n\
             \x20   secrets: {{DB_PASSWORD: \"vault:apps/{name}#db_password\"}}\n\
             \x20   config: {{mountPath: /etc/app, inline: {{app.yaml: \"name: {name}\\nport: 8080\\n\"}}}}\n\
             \x20   uses: {uses}\n    autoscale: {{min: 2, max: 5}}\n\
             \x20   probes: {{readiness: {{http: /ready}}, liveness: {{http: /live}}}}\n\
             \x20   ingress: {{hosts: [\"{name}.{{{{ env.domain }}}}\"]}}\n"
        )
        .unwrap();
    }
    fs::write(dir.join("blueprints/system.yaml"), bp)?;
    for env in ENVIRONMENTS {
        let mut overlay = String::from("apps:\n");
        for i in 0..n {
            let change = match env {
                "dev" => "{env: {LOG_LEVEL: debug}}",
                "staging" => "{env: {LOG_LEVEL: info, FEATURE_FLAGS: beta}}",
                _ => "{autoscale: {min: 3, max: 10}}",
            };
            writeln!(overlay, "  {}: {change}", app_name(i)).unwrap();
        }
        fs::write(dir.join(format!("overlays/{env}.yaml")), overlay)?;
    }
    Ok(())
}

/// Writes the hand-written Kustomize equivalent: `base/<app>/`, `overlays/<env>/<app>/`.
pub fn write_kustomize(n: usize, dir: &Path) -> std::io::Result<()> {
    for i in 0..n {
        let name = app_name(i);
        let base = dir.join("base").join(&name);
        fs::create_dir_all(&base)?;
        fs::write(
            base.join("kustomization.yaml"),
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nlabels:\n- pairs: {{app.kubernetes.io/name: {name}}}\n  includeSelectors: true\n\
             resources: [deployment.yaml, service.yaml, hpa.yaml, ingress.yaml, externalsecret.yaml, serviceaccount.yaml]\n\
             configMapGenerator:\n- name: {name}-config\n  literals: [\"app.yaml=name: {name}\"]\n"
            ),
        )?;
        fs::write(
            base.join("deployment.yaml"),
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      serviceAccountName: {name}\n      containers:\n      - name: {name}\n        image: ghcr.io/acme/{name}:1.0.{i}\n        env:\n        - {{name: APP_NAME, value: {name}}}\n        - {{name: LOG_LEVEL, value: info}}\n        - name: DB_PASSWORD\n          valueFrom: {{secretKeyRef: {{name: {name}-vault, key: DB_PASSWORD}}}}\n        ports: [{{name: http, containerPort: 8080}}]\n        volumeMounts: [{{name: config, mountPath: /etc/app}}]\n      volumes: [{{name: config, configMap: {{name: {name}-config}}}}]\n"
            ),
        )?;
        fs::write(
            base.join("service.yaml"),
            format!(
                "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  selector: {{app: {name}}}\n  ports: [{{name: http, port: 8080, targetPort: http}}]\n"
            ),
        )?;
        fs::write(
            base.join("hpa.yaml"),
            format!(
                "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {{name: {name}}}\nspec:\n  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}\n  minReplicas: 2\n  maxReplicas: 5\n"
            ),
        )?;
        fs::write(
            base.join("ingress.yaml"),
            format!(
                "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}}}\nspec:\n  ingressClassName: nginx\n  rules:\n  - host: {name}.example.com\n    http:\n      paths:\n      - {{path: /, pathType: Prefix, backend: {{service: {{name: {name}, port: {{name: http}}}}}}}}\n"
            ),
        )?;
        fs::write(
            base.join("externalsecret.yaml"),
            format!(
                "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: {name}-vault}}\nspec:\n  secretStoreRef: {{kind: ClusterSecretStore, name: vault}}\n  target: {{name: {name}-vault}}\n  data:\n  - {{secretKey: DB_PASSWORD, remoteRef: {{key: apps/{name}, property: db_password}}}}\n"
            ),
        )?;
        fs::write(
            base.join("serviceaccount.yaml"),
            format!(
                "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: {name}}}\nautomountServiceAccountToken: false\n"
            ),
        )?;
        for env in ENVIRONMENTS {
            let overlay = dir.join("overlays").join(env).join(&name);
            fs::create_dir_all(&overlay)?;
            let patch = match env {
                "dev" => format!(
                    "- target: {{kind: Deployment, name: {name}}}\n  patch: |-\n    - {{op: replace, path: /spec/template/spec/containers/0/env/1/value, value: debug}}\n"
                ),
                "staging" => format!(
                    "- target: {{kind: Deployment, name: {name}}}\n  patch: |-\n    - {{op: add, path: /spec/template/spec/containers/0/env/-, value: {{name: FEATURE_FLAGS, value: beta}}}}\n"
                ),
                _ => format!(
                    "- target: {{kind: HorizontalPodAutoscaler, name: {name}}}\n  patch: |-\n    - {{op: replace, path: /spec/minReplicas, value: 3}}\n    - {{op: replace, path: /spec/maxReplicas, value: 10}}\n"
                ),
            };
            fs::write(
                overlay.join("kustomization.yaml"),
                format!(
                    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: apps\nresources: [../../../base/{name}]\npatches:\n{patch}"
                ),
            )?;
        }
    }
    for env in ENVIRONMENTS {
        let list: Vec<String> = (0..n).map(app_name).collect();
        fs::write(
            dir.join("overlays").join(env).join("kustomization.yaml"),
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n{}",
                list.iter().map(|a| format!("- {a}\n")).collect::<String>()
            ),
        )?;
    }
    Ok(())
}
