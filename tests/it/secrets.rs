//! `secrets:` on charts and manifest sets: the Secret a chart reads by name
//! (its `existingSecret`) rendered as an ExternalSecret of that name in the
//! chart's unit, ordered after External Secrets' CRDs and the store it reads.

use serde_json::Value;

use crate::support::{compile_case, env_document, gitopsc, write_case};

/// External Secrets, its ClusterSecretStore in a manifest set and a chart
/// reading two Secrets, all in one layer: nothing but the ExternalSecrets
/// orders the chart after the other two.
fn project(engine: &str, chart_extra: &str) -> String {
    format!(
        r#"-- blueprints/system.yaml --
system: {{name: demo}}
gitops: {{engine: {engine}, repo: https://github.com/acme/gitops.git}}
layers: [platform]
environments:
  prod: {{}}
secretStores:
  vault: {{refresh: 15m}}
  infisical: {{provider: infisical}}
charts:
  external-secrets:
    layer: platform
    repo: https://charts.external-secrets.io
    chart: external-secrets
    version: 2.10.0
    provides: [external-secrets.io]
  grafana:
    layer: platform
    repo: https://grafana.github.io/helm-charts
    chart: grafana
    version: 8.5.0
    secrets:
      grafana-admin: {{admin-user: "vault:demo/grafana#user", admin-password: "vault:demo/grafana#password"}}
      grafana-s3: "infisical:/grafana"
    values:
      admin: {{existingSecret: grafana-admin, userKey: admin-user, passwordKey: admin-password}}
      envFromSecrets: [{{name: grafana-s3}}]
{chart_extra}manifests:
  secret-store:
    layer: platform
    templates: [templates/store.yaml]
-- blueprints/templates/store.yaml --
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: {{name: vault}}
spec: {{provider: {{vault: {{server: "https://vault.demo.internal:8200", path: secret, version: v2}}}}}}
"#
    )
}

fn doc(tree: &gitopsc::tree::RenderedTree, path: &str) -> Value {
    env_document(tree, "prod", path).1
}

#[test]
fn a_charts_secrets_are_external_secrets_of_their_names_in_its_unit() {
    let tree = compile_case(&project("flux", ""));
    let files = &tree.envs["prod"].files;
    let admin = &files["prod/platform/grafana/externalsecret-grafana-admin.yaml"];
    let s3 = &files["prod/platform/grafana/externalsecret-grafana-s3.yaml"];
    // Chosen keys are `spec.data`, one entry each; a whole entry is
    // `spec.dataFrom[].extract`, every field of it a key
    // (https://external-secrets.io/latest/api/externalsecret/).
    insta::assert_snapshot!("grafana_admin", admin);
    insta::assert_snapshot!("grafana_s3", s3);
    let admin = doc(&tree, "platform/grafana/externalsecret-grafana-admin.yaml");
    let release = doc(&tree, "platform/grafana/helmrelease-grafana.yaml");
    assert_eq!(
        admin["metadata"]["namespace"],
        release["metadata"]["namespace"]
    );
    assert_eq!(admin["spec"]["target"]["name"], "grafana-admin");
    assert_eq!(admin["apiVersion"], "external-secrets.io/v1");
    let kustomization = &files["prod/platform/grafana/kustomization.yaml"];
    assert!(kustomization.contains("externalsecret-grafana-admin.yaml"));
    assert!(kustomization.contains("helmrelease-grafana.yaml"));
}

#[test]
fn a_charts_unit_waits_for_external_secrets_and_the_store_in_flux() {
    let tree = compile_case(&project("flux", ""));
    // Flux applies a Kustomization only once those it `dependsOn` are ready
    // (https://fluxcd.io/flux/components/kustomize/kustomizations/#dependencies).
    let depends: Vec<String> =
        doc(&tree, "gitops/kustomization-demo-platform-grafana.yaml")["spec"]["dependsOn"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect();
    assert!(
        depends.contains(&"demo-platform-external-secrets".to_string()),
        "{depends:?}"
    );
    assert!(
        depends.contains(&"demo-platform-secret-store".to_string()),
        "{depends:?}"
    );
}

#[test]
fn a_charts_application_syncs_in_a_later_wave_than_the_store_in_argocd() {
    let tree = compile_case(&project("argocd", ""));
    // Argo CD syncs lower waves first and waits for them to be healthy
    // (https://argo-cd.readthedocs.io/en/stable/user-guide/sync-waves/).
    let wave = |unit: &str| -> u32 {
        doc(&tree, &format!("gitops/application-demo-prod-{unit}.yaml"))["metadata"]["annotations"]
            ["argocd.argoproj.io/sync-wave"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (operator, store, chart) = (
        wave("platform-external-secrets"),
        wave("platform-secret-store"),
        wave("platform-grafana"),
    );
    assert!(
        operator < store && store < chart,
        "{operator} {store} {chart}"
    );
    // The chart and its ExternalSecrets in one Application: the chart's
    // source and the unit's directory.
    let app = doc(&tree, "gitops/application-demo-prod-platform-grafana.yaml");
    let sources = app["spec"]["sources"].as_array().expect("two sources");
    assert_eq!(sources.len(), 2);
    assert_eq!(sources[1]["path"], "rendered/prod/platform/grafana");
}

#[test]
fn a_value_naming_a_declared_key_is_no_credential_and_an_undeclared_one_is() {
    // `...SecretKey` reads as a credential (an AWS secret key); naming a key
    // the chart's `secrets` declare, it is not one.
    let extra = "    ports: {http: 3000}\n";
    let declared = project("flux", extra).replace(
        "envFromSecrets: [{name: grafana-s3}]",
        "envFromSecrets: [{name: grafana-s3}]\n      monitoringPasscodeSecretKey: admin-password",
    );
    let tree = compile_case(&declared);
    assert!(
        tree.envs["prod"].files["prod/platform/grafana/helmrelease-grafana.yaml"]
            .contains("monitoringPasscodeSecretKey: admin-password")
    );
    let undeclared = declared.replace(
        "monitoringPasscodeSecretKey: admin-password",
        "monitoringPasscodeSecretKey: adminpassword",
    );
    let dir = crate::support::tempdir();
    write_case(&undeclared, dir.path());
    let run = gitopsc(&["render"], dir.path());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.starts_with("error[secret]"), "{}", run.stderr);
}
