//! Reachability: the matrix computed from the rendered NetworkPolicies equals
//! the graph the blueprint declares, for every environment of every example
//! and under each posture; and the connections the examples exist to show.

use std::collections::BTreeMap;
use std::sync::Arc;

use gitopsc::blueprint::model::NetworkPosture;
use gitopsc::blueprint::network::ApiServer;
use gitopsc::reach::{self, Grant, Inventory, Matrix, declared};
use gitopsc::{blueprint, render, resolve, workspace};

use crate::support::{compile_project, gitopsc, projects};

fn differences(actual: &Matrix, expected: &Matrix) -> String {
    let extra: Vec<String> = actual.difference(expected).map(Grant::display).collect();
    let missing: Vec<String> = expected.difference(actual).map(Grant::display).collect();
    format!(
        "allowed but not declared:\n  {}\ndeclared but not allowed:\n  {}",
        extra.join("\n  "),
        missing.join("\n  ")
    )
}

/// Each environment's matrix as `reach` computes it, and the declared one.
fn matrices(path: &std::path::Path) -> BTreeMap<String, (Matrix, Matrix)> {
    let tree = compile_project(path);
    let sources = Arc::new(workspace::read_sources(path).unwrap());
    let project = blueprint::load(sources).unwrap();
    let objects =
        reach::objects_by_env(tree.files().map(|(p, t)| (p.as_str(), t.as_str()))).unwrap();
    let mut out = BTreeMap::new();
    for (env, objects) in objects {
        let resolved = resolve::resolve(&project, &env).unwrap();
        let mut inventory = Inventory::from_objects(objects.iter());
        inventory.add_model(&resolved);
        out.insert(
            env,
            (
                reach::matrix(&inventory),
                declared::expected(&resolved, &inventory),
            ),
        );
    }
    out
}

#[test]
fn every_environment_of_every_example_reaches_exactly_what_it_declares() {
    for (name, path) in projects() {
        for (env, (actual, expected)) in matrices(&path) {
            assert!(!actual.is_empty(), "{name}/{env} allows something");
            assert!(
                actual == expected,
                "{name}/{env}: the rendered policies disagree with the blueprint\n{}",
                differences(&actual, &expected)
            );
        }
    }
}

/// Every example, every environment, rendered again under each posture in
/// turn (namespaces with their own posture keep it): permissive admits
/// everything, namespace-isolated its namespace plus declared traffic,
/// default-deny only declared traffic.
#[test]
fn every_posture_gives_its_documented_matrix() {
    for (name, path) in projects() {
        let project = blueprint::load(Arc::new(workspace::read_sources(&path).unwrap())).unwrap();
        for env_name in resolve::environment_names(&project) {
            for posture in [
                NetworkPosture::Permissive,
                NetworkPosture::NamespaceIsolated,
                NetworkPosture::DefaultDeny,
            ] {
                let mut env = resolve::resolve(&project, &env_name).unwrap();
                env.settings.network = posture;
                env.settings.api_server.get_or_insert(ApiServer {
                    cidr: "10.96.0.0/12".to_string(),
                    port: 6443,
                });
                let manifests = render::render(&env).unwrap();
                let mut inventory = Inventory::from_objects(manifests.objects().map(|o| &o.value));
                inventory.add_model(&env);
                let actual = reach::matrix(&inventory);
                let expected = declared::expected(&env, &inventory);
                assert!(
                    actual == expected,
                    "{name}/{env_name} under {posture:?}\n{}",
                    differences(&actual, &expected)
                );
            }
        }
    }
}

fn allowed(m: &Matrix, from: &str, to: &str, port: u32) -> bool {
    m.iter()
        .any(|g| g.from == from && g.to == to && g.port.number == port)
}

fn prod(project: &str) -> Matrix {
    let (name, path) = projects().into_iter().find(|(n, _)| n == project).unwrap();
    let mut all = matrices(&path);
    all.remove("prod")
        .unwrap_or_else(|| panic!("{name} has prod"))
        .0
}

/// Maya's prod: CloudNativePG's operator reaches its instances' status port,
/// the instances replicate to each other, and the apps reach only PostgreSQL.
#[test]
fn an_operator_reaches_its_instances_and_the_instances_each_other() {
    let m = prod("maya");
    assert!(allowed(&m, "cloudnative-pg", "maya-db", 8000));
    assert!(allowed(&m, "maya-db", "maya-db", 5432));
    assert!(allowed(&m, "maya-db", "kube-apiserver", 6443));
    assert!(allowed(&m, "web", "maya-db", 5432));
    assert!(!allowed(&m, "web", "maya-db", 8000));
    // Grafana's TLS certificate: the solver beside the chart's own Ingress.
    assert!(allowed(
        &m,
        "ingress-nginx",
        "observability/acme-http01-solver",
        8089
    ));
    // The platform namespace (charts only) is closed: nothing reaches the operator.
    assert!(!m.iter().any(|g| g.to == "cloudnative-pg"));
}

/// The repo's own prod: Vault runs standalone on its one node, so nothing
/// reaches its raft port; External Secrets reaches Vault's API only, the metrics
/// port is the scrapers' alone, and the ingress controller reaches the
/// HTTP-01 solvers.
#[test]
fn vault_is_reached_on_its_api_only_and_metrics_stay_with_the_scrapers() {
    let m = prod("neotool");
    assert!(!allowed(&m, "vault", "vault", 8201));
    assert!(allowed(&m, "external-secrets", "vault", 8200));
    assert!(!allowed(&m, "external-secrets", "vault", 8201));
    assert!(allowed(&m, "router", "api", 8080));
    assert!(!allowed(&m, "router", "api", 9090));
    assert!(allowed(&m, "prometheus", "api", 9090));
    assert!(allowed(&m, "ingress-controller", "api", 8080));
    assert!(!allowed(&m, "ingress-controller", "api", 9090));
    assert!(allowed(
        &m,
        "ingress-controller",
        "apps/acme-http01-solver",
        8089
    ));
    // Grafana's own Ingress, routed through a chart's `routes`, and the
    // solver cert-manager starts beside it for its TLS certificate
    // (https://cert-manager.io/docs/configuration/acme/http01/).
    assert!(allowed(
        &m,
        "ingress-controller",
        "kube-prometheus-stack",
        3000
    ));
    assert!(allowed(
        &m,
        "ingress-controller",
        "observability/acme-http01-solver",
        8089
    ));
    // Nothing else of the observability namespace reaches an app.
    assert!(!allowed(&m, "loki", "api", 9090));
}

/// `gitopsc init`'s starter: its web app is reachable through its ingress in prod.
#[test]
fn the_starter_is_reachable_through_its_ingress_in_prod() {
    let dir = crate::support::tempdir();
    let run = gitopsc(&["init", "--name", "shop"], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let m = prod_of(dir.path());
    assert!(allowed(&m, "ingress-controller", "web", 8080), "{m:?}");
    let run = gitopsc(&["reach", "--env", "prod"], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("ingress-controller -> web:8080/TCP (http)"),
        "{}",
        run.stdout
    );
}

fn prod_of(path: &std::path::Path) -> Matrix {
    matrices(path).remove("prod").unwrap().0
}

#[test]
fn reach_prints_markdown_and_json() {
    let (_, path) = projects().into_iter().find(|(n, _)| n == "maya").unwrap();
    let root = path.to_string_lossy().to_string();
    let run = gitopsc(
        &[
            "reach", "--root", &root, "--env", "prod", "--format", "markdown",
        ],
        &path,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("reach_markdown_maya_prod", run.stdout);
    let run = gitopsc(
        &[
            "reach", "--root", &root, "--env", "prod", "--format", "json",
        ],
        &path,
    );
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let allowed = json["environments"][0]["allowed"].as_array().unwrap();
    assert!(allowed.iter().any(|g| g["from"] == "cloudnative-pg"
        && g["to"] == "maya-db"
        && g["port"] == 8000
        && g["portName"] == "status"));
}

/// `diff` ends each changed environment with what its policies now allow
/// and no longer allow, in text, markdown and JSON.
#[test]
fn diff_reports_what_a_change_opens_and_closes() {
    let dir = crate::support::tempdir();
    let project = dir.path();
    assert_eq!(gitopsc(&["init", "--name", "shop"], project).code, 0);
    crate::support::git(project, &["init", "-q", "-b", "main"]);
    crate::support::git(project, &["add", "-A"]);
    crate::support::git(project, &["commit", "-q", "-m", "start"]);

    // A new backend that `web` uses, and `web` no longer behind the ingress.
    let blueprint = project.join("blueprints/system.yaml");
    let text = std::fs::read_to_string(&blueprint).unwrap();
    let text = text.replace(
        "    ingress: {hosts: [\"www.{{ env.domain }}\"]}\n",
        "    uses: [api]\n  api:\n    layer: apps\n    image: ghcr.io/acme/api:1.0.0\n    ports: {http: 9000}\n    replicas: 2\n    probes:\n      readiness: {http: /}\n      liveness: {http: /}\n",
    );
    std::fs::write(&blueprint, text).unwrap();

    let run = gitopsc(&["diff", "--env", "prod"], project);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("  reachability\n"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("    + web -> api:9000/TCP (http) now allowed\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("    - ingress-controller -> web:8080/TCP (http) no longer allowed\n"),
        "{}",
        run.stdout
    );
    let markdown = gitopsc(&["diff", "--env", "prod", "--format", "markdown"], project);
    assert!(
        markdown
            .stdout
            .contains("| now allowed | `web` | `api` | 9000/TCP (http) |"),
        "{}",
        markdown.stdout
    );
    assert!(markdown.stdout.contains("| prod | "), "{}", markdown.stdout);
    let json = gitopsc(&["diff", "--env", "prod", "--format", "json"], project);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let reach = &parsed["environments"][0]["reachability"];
    assert!(
        reach["allowed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["from"] == "web" && g["to"] == "api" && g["port"] == 9000),
        "{reach}"
    );
    assert!(
        reach["denied"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["from"] == "ingress-controller" && g["to"] == "web"),
        "{reach}"
    );
}

/// Hybrid's prod: `api` sends to `0.0.0.0/0` on 443, the port DOKS' API
/// server listens on; as `api` does not use the API, its block leaves the
/// API server out, while the charts that use it keep it.
#[test]
fn a_wide_egress_block_does_not_open_the_api_server() {
    let m = prod("hybrid");
    assert!(allowed(&m, "api", "0.0.0.0/0", 443));
    assert!(!allowed(&m, "api", "kube-apiserver", 443));
    assert!(!allowed(&m, "loki", "kube-apiserver", 443));
    assert!(allowed(&m, "cert-manager", "kube-apiserver", 443));
}
