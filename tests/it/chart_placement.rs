//! Every value path where gitopsc writes a chart's `scheduling` is a key the
//! chart reads: the paths of `blueprint::catalog::placement` against each
//! chart's values.yaml at the version the examples pin, vendored as key
//! lists in `tests/charts/` (each file names its repository, tag and path,
//! and the template line for a key the chart reads without listing it).

use std::collections::BTreeSet;
use std::path::Path;

use gitopsc::blueprint::catalog::placement::{Field, PLACEMENTS, placement};

/// The key lists a chart's paths are checked against: a subchart's keys
/// are its own file's, under the subchart's name.
const SOURCES: &[(&str, &[(&str, &str)])] = &[
    ("ingress-nginx", &[("", "ingress-nginx-4.11.3.values-keys")]),
    ("cert-manager", &[("", "cert-manager-v1.19.4.values-keys")]),
    (
        "external-secrets",
        &[("", "external-secrets-2.9.0.values-keys")],
    ),
    (
        "kube-prometheus-stack",
        &[
            ("", "kube-prometheus-stack-84.1.1.values-keys"),
            ("grafana.", "grafana-12.1.2.values-keys"),
            (
                "kube-state-metrics.",
                "kube-state-metrics-7.2.2.values-keys",
            ),
        ],
    ),
    ("loki", &[("", "loki-6.22.0.values-keys")]),
    ("istiod", &[("", "istiod-1.30.0.values-keys")]),
];

/// The key paths of one vendored file: the first word of every line that
/// is not blank or a comment.
fn keys(file: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/charts")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let keys: BTreeSet<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    assert!(!keys.is_empty(), "{file} lists no key");
    keys
}

/// Every key the chart's values (its own and its subcharts') hold.
fn chart_keys(chart: &str) -> BTreeSet<String> {
    let (_, files) = SOURCES
        .iter()
        .find(|(name, _)| *name == chart)
        .unwrap_or_else(|| panic!("`{chart}` has placement paths but no vendored values keys"));
    files
        .iter()
        .flat_map(|(prefix, file)| keys(file).into_iter().map(move |k| format!("{prefix}{k}")))
        .collect()
}

/// The placement paths of `chart` that are not keys of its values.
fn unresolved(chart: &str, paths: impl Iterator<Item = String>) -> Vec<String> {
    let known = chart_keys(chart);
    paths.filter(|p| !known.contains(p)).collect()
}

#[test]
fn every_placement_path_is_a_key_the_chart_reads_at_the_pinned_version() {
    for p in PLACEMENTS {
        let paths = Field::ALL
            .into_iter()
            .flat_map(|f| p.paths(f).collect::<Vec<_>>());
        let missing = unresolved(p.chart, paths);
        assert!(
            missing.is_empty(),
            "{}: no such key in its values: {missing:?}",
            p.chart
        );
    }
}

#[test]
fn a_misspelled_or_outdated_path_is_caught() {
    // The check itself can fail: a typo, and the `pilot.` prefix istiod's
    // chart read before its values moved to the top level, are not keys.
    for (chart, path) in [
        ("ingress-nginx", "controller.nodeSelectors"),
        ("istiod", "pilot.nodeSelector"),
        ("kube-prometheus-stack", "grafana.priorityClass"),
        ("loki", "singleBinary.priorityClass"),
    ] {
        assert_eq!(
            unresolved(chart, std::iter::once(path.to_string())),
            [path],
            "{chart}"
        );
    }
}

#[test]
fn a_pod_group_that_cannot_take_a_field_gets_none() {
    // ingress-nginx's admission jobs write no affinity
    // (templates/admission-webhooks/job-patch/*.yaml at helm-chart-4.11.3),
    // and the key is absent from its values.
    let known = chart_keys("ingress-nginx");
    assert!(!known.contains("controller.admissionWebhooks.patch.affinity"));
    let paths: Vec<String> = placement("ingress-nginx").paths(Field::Affinity).collect();
    assert!(
        !paths.iter().any(|p| p.contains("admissionWebhooks")),
        "{paths:?}"
    );
    // cert-manager and istiod take one priority class for all their pods,
    // under `global`; cert-manager's values have no per-component one.
    for chart in ["cert-manager", "istiod"] {
        let known = chart_keys(chart);
        assert!(!known.contains("webhook.priorityClassName"), "{chart}");
        let paths: Vec<String> = placement(chart).paths(Field::PriorityClass).collect();
        assert_eq!(paths, ["global.priorityClassName"], "{chart}");
    }
}
