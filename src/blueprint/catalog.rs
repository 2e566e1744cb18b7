//! What gitopsc knows about well-known Helm charts, as data: which chart
//! versions serve which custom resource API versions (the operator
//! compatibility table), which API version gitopsc itself writes, the Pod
//! Security level the chart's pods need with its default values, and the
//! namespaces besides its own that it installs objects into.
//!
//! Pure data and lookups; the checks that use it live in `compat` (API
//! versions), `render::namespaces` (Pod Security) and `target::argocd`
//! (project destinations). A blueprint overrides the last two per chart with
//! `podSecurity` and `extraNamespaces`. Where each chart reads its pods'
//! scheduling values is `placement`.

pub mod placement;

use std::cmp::Ordering;

use super::model::{Chart, PodSecurityLevel};

/// One API version of an operator and the chart versions that serve it.
pub struct Served {
    /// `group/version`, e.g. `external-secrets.io/v1`.
    pub api_version: &'static str,
    /// First chart version whose CRDs serve it.
    pub from: &'static str,
    /// First chart version that no longer serves it, if any.
    pub until: Option<&'static str>,
}

/// A chart gitopsc knows, matched by its chart name.
pub struct KnownChart {
    pub chart: &'static str,
    /// The operator or project the chart installs, for messages.
    pub operator: &'static str,
    /// How chart versions relate to the app's: the table is by chart version.
    pub app_versions: &'static str,
    /// API versions by chart version; empty for charts without CRDs.
    pub serves: &'static [Served],
    /// API versions gitopsc writes itself for this operator's kinds.
    pub writes: &'static [&'static str],
    /// The level the pods of the chart's default values pass.
    pub pod_security: PodSecurityLevel,
    /// Namespaces the chart installs into besides the release namespace.
    pub extra_namespaces: &'static [&'static str],
    /// Where the facts come from.
    pub source: &'static str,
}

use PodSecurityLevel::{Baseline, Privileged, Restricted};

/// The API version of the ExternalSecrets gitopsc writes.
pub const EXTERNAL_SECRET_API: &str = "external-secrets.io/v1";
/// The API version of the ServiceMonitors gitopsc writes.
pub const SERVICE_MONITOR_API: &str = "monitoring.coreos.com/v1";

/// The table, by chart name.
pub const KNOWN_CHARTS: &[KnownChart] = &[
    KnownChart {
        chart: "external-secrets",
        operator: "External Secrets Operator",
        app_versions: "the chart and the app share one version",
        // v0.16.2 adds v1; v0.17.0 stops serving v1beta1 (release notes of
        // both, external-secrets/external-secrets#4840).
        serves: &[
            Served {
                api_version: "external-secrets.io/v1",
                from: "0.16.2",
                until: None,
            },
            Served {
                api_version: "external-secrets.io/v1beta1",
                from: "0.5.0",
                until: Some("0.17.0"),
            },
        ],
        writes: &[EXTERNAL_SECRET_API],
        // The chart's default securityContext drops all capabilities, runs
        // as non-root with a read-only root and the RuntimeDefault profile
        // (deploy/charts/external-secrets/values.yaml).
        pod_security: Restricted,
        extra_namespaces: &[],
        source: "https://github.com/external-secrets/external-secrets/releases/tag/v0.17.0",
    },
    KnownChart {
        chart: "cert-manager",
        operator: "cert-manager",
        app_versions: "the chart and the app share one version",
        // v1 since 1.0; the alpha and beta versions stopped being served in 1.7.
        serves: &[
            Served {
                api_version: "cert-manager.io/v1",
                from: "1.0.0",
                until: None,
            },
            Served {
                api_version: "acme.cert-manager.io/v1",
                from: "1.0.0",
                until: None,
            },
        ],
        writes: &[],
        pod_security: Restricted,
        extra_namespaces: &["kube-system"],
        source: "https://cert-manager.io/docs/releases/release-notes/release-notes-1.7/",
    },
    KnownChart {
        chart: "kube-prometheus-stack",
        operator: "Prometheus Operator",
        app_versions: "the chart has its own versions; 80.0.0 ships Prometheus Operator 0.87.0",
        serves: &[
            Served {
                api_version: "monitoring.coreos.com/v1",
                from: "9.0.0",
                until: None,
            },
            Served {
                api_version: "monitoring.coreos.com/v1alpha1",
                from: "13.0.0",
                until: None,
            },
        ],
        writes: &[SERVICE_MONITOR_API],
        // node-exporter uses the host network, PID namespace and host paths.
        pod_security: Privileged,
        // Services for scraping the control plane (coredns, kube-proxy,
        // kube-scheduler, kube-controller-manager, etcd) go to kube-system.
        extra_namespaces: &["kube-system"],
        source: "https://github.com/prometheus-community/helm-charts/tree/main/charts/kube-prometheus-stack",
    },
    KnownChart {
        chart: "cloudnative-pg",
        operator: "CloudNativePG",
        app_versions: "the chart has its own versions; its appVersion is the app's",
        serves: &[Served {
            api_version: "postgresql.cnpg.io/v1",
            from: "0.1.0",
            until: None,
        }],
        writes: &[],
        pod_security: Restricted,
        extra_namespaces: &[],
        source: "https://cloudnative-pg.io/documentation/current/security/",
    },
    KnownChart {
        chart: "gateway-helm",
        operator: "Gateway API (Envoy Gateway)",
        app_versions: "the chart and the app share one version",
        // Envoy Gateway 1.0 ships Gateway API 1.0, the first with v1 kinds.
        serves: &[
            Served {
                api_version: "gateway.networking.k8s.io/v1",
                from: "1.0.0",
                until: None,
            },
            Served {
                api_version: "gateway.networking.k8s.io/v1beta1",
                from: "0.5.0",
                until: None,
            },
            // BackendTrafficPolicy (rate limits) arrives in Envoy Gateway 0.6.
            Served {
                api_version: "gateway.envoyproxy.io/v1alpha1",
                from: "0.6.0",
                until: None,
            },
        ],
        writes: &[],
        pod_security: Restricted,
        extra_namespaces: &[],
        source: "https://gateway-api.sigs.k8s.io/guides/#v1-upgrade-notes",
    },
    KnownChart {
        chart: "base",
        operator: "Istio",
        app_versions: "the chart and the app share one version",
        // Istio 1.22 promotes networking and security APIs to v1.
        serves: &[
            Served {
                api_version: "networking.istio.io/v1",
                from: "1.22.0",
                until: None,
            },
            Served {
                api_version: "security.istio.io/v1",
                from: "1.22.0",
                until: None,
            },
            Served {
                api_version: "networking.istio.io/v1beta1",
                from: "1.5.0",
                until: None,
            },
            Served {
                api_version: "security.istio.io/v1beta1",
                from: "1.5.0",
                until: None,
            },
        ],
        writes: &[],
        pod_security: Restricted,
        extra_namespaces: &[],
        source: "https://istio.io/latest/news/releases/1.22.x/announcing-1.22/",
    },
    KnownChart {
        chart: "secrets-operator",
        operator: "Infisical Secrets Operator",
        app_versions: "the chart has its own versions; its appVersion is the app's",
        serves: &[Served {
            api_version: "secrets.infisical.com/v1alpha1",
            from: "0.1.0",
            until: None,
        }],
        writes: &[],
        pod_security: Baseline,
        extra_namespaces: &[],
        source: "https://infisical.com/docs/integrations/platforms/kubernetes/overview",
    },
    KnownChart {
        chart: "sealed-secrets",
        operator: "Sealed Secrets",
        app_versions: "the chart has its own versions; its appVersion is the app's",
        serves: &[Served {
            api_version: "bitnami.com/v1alpha1",
            from: "1.0.0",
            until: None,
        }],
        writes: &[],
        pod_security: Restricted,
        extra_namespaces: &[],
        source: "https://github.com/bitnami-labs/sealed-secrets#helm-chart",
    },
    KnownChart {
        chart: "velero",
        operator: "Velero",
        app_versions: "the chart has its own versions; its appVersion is the app's",
        serves: &[Served {
            api_version: "velero.io/v1",
            from: "2.0.0",
            until: None,
        }],
        writes: &[],
        pod_security: Baseline,
        extra_namespaces: &[],
        source: "https://github.com/vmware-tanzu/helm-charts/tree/main/charts/velero",
    },
    KnownChart {
        chart: "ingress-nginx",
        operator: "ingress-nginx",
        app_versions: "the chart has its own versions; its appVersion is the app's",
        serves: &[],
        writes: &[],
        // Its admission jobs do not drop all capabilities, so the chart's pods
        // fail `restricted` (kubernetes/ingress-nginx#9212: "needs at least
        // baseline").
        pod_security: Baseline,
        extra_namespaces: &[],
        source: "https://github.com/kubernetes/ingress-nginx/issues/9212",
    },
    KnownChart {
        chart: "vault",
        operator: "Vault",
        app_versions: "the chart has its own versions; its appVersion is the app's",
        serves: &[],
        writes: &[],
        // The server runs as non-root but sets no seccomp profile and keeps
        // its capabilities; the injector is off in the examples.
        pod_security: Baseline,
        extra_namespaces: &[],
        source: "https://developer.hashicorp.com/vault/docs/platform/k8s/helm/configuration",
    },
    KnownChart {
        chart: "infisical-standalone",
        operator: "Infisical",
        app_versions: "the chart has its own versions; its appVersion is the app's",
        serves: &[],
        writes: &[],
        pod_security: Baseline,
        extra_namespaces: &[],
        source: "https://infisical.com/docs/self-hosting/deployment-options/kubernetes-helm",
    },
    KnownChart {
        chart: "jaeger",
        operator: "Jaeger",
        app_versions: "the chart has its own versions; its appVersion is the app's",
        serves: &[],
        writes: &[],
        // The all-in-one image runs without a restricted security context.
        pod_security: Baseline,
        extra_namespaces: &[],
        source: "https://github.com/jaegertracing/helm-charts/tree/main/charts/jaeger",
    },
    KnownChart {
        chart: "loki",
        operator: "Grafana Loki",
        app_versions: "the chart has its own versions; its appVersion is the app's",
        serves: &[],
        writes: &[],
        pod_security: Baseline,
        extra_namespaces: &[],
        source: "https://grafana.com/docs/loki/latest/setup/install/helm/",
    },
    KnownChart {
        chart: "promtail",
        operator: "Promtail",
        app_versions: "the chart has its own versions; its appVersion is the app's",
        serves: &[],
        writes: &[],
        // Reads pod logs from host paths.
        pod_security: Privileged,
        extra_namespaces: &[],
        source: "https://github.com/grafana/helm-charts/tree/main/charts/promtail",
    },
    KnownChart {
        chart: "tempo",
        operator: "Grafana Tempo",
        app_versions: "the chart has its own versions; its appVersion is the app's",
        serves: &[],
        writes: &[],
        pod_security: Baseline,
        extra_namespaces: &[],
        source: "https://github.com/grafana/helm-charts/tree/main/charts/tempo",
    },
];

/// What gitopsc knows of the chart, if anything.
pub fn known(chart: &Chart) -> Option<&'static KnownChart> {
    KNOWN_CHARTS.iter().find(|k| k.chart == chart.chart)
}

/// The Pod Security level the chart's pods need: the blueprint's word, else
/// the table's, else `baseline` (the level Kubernetes recommends as the
/// floor for workloads not written for `restricted`).
pub fn pod_security(chart: &Chart) -> PodSecurityLevel {
    chart
        .pod_security
        .or_else(|| known(chart).map(|k| k.pod_security))
        .unwrap_or(Baseline)
}

/// Namespaces besides its own that the chart installs into.
pub fn extra_namespaces(chart: &Chart) -> Vec<String> {
    let mut out: Vec<String> = known(chart)
        .map(|k| k.extra_namespaces.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    out.extend(chart.extra_namespaces.iter().cloned());
    out.sort();
    out.dedup();
    out
}

/// Whether `version` of the chart serves `api_version`: `Ok(())` when it does
/// or the table does not know, else the first version that does (if any).
pub fn check_served(
    known: &KnownChart,
    version: &str,
    api_version: &str,
) -> Result<(), Option<&'static str>> {
    let Some(served) = known.serves.iter().find(|s| s.api_version == api_version) else {
        return Ok(());
    };
    let Some(v) = parse_version(version) else {
        return Ok(());
    };
    let from = parse_version(served.from).unwrap_or_default();
    let too_old = compare(&v, &from) == Ordering::Less;
    let too_new = served
        .until
        .and_then(parse_version)
        .is_some_and(|until| compare(&v, &until) != Ordering::Less);
    match (too_old, too_new) {
        (false, false) => Ok(()),
        (true, _) => Err(Some(served.from)),
        (false, true) => Err(None),
    }
}

/// `v1.16.2`, `1.16.2-rc.1` -> `[1, 16, 2]`; pre-release tags are ignored.
pub fn parse_version(v: &str) -> Option<Vec<u64>> {
    let core = v.trim_start_matches('v');
    let core = core.split(['-', '+']).next()?;
    core.split('.').map(|p| p.parse().ok()).collect()
}

fn compare(a: &[u64], b: &[u64]) -> Ordering {
    let len = a.len().max(b.len());
    (0..len)
        .map(|i| {
            a.get(i)
                .copied()
                .unwrap_or(0)
                .cmp(&b.get(i).copied().unwrap_or(0))
        })
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eso() -> &'static KnownChart {
        KNOWN_CHARTS
            .iter()
            .find(|k| k.chart == "external-secrets")
            .unwrap()
    }

    #[test]
    fn versions_compare_by_number_not_text() {
        assert_eq!(parse_version("v1.16.2"), Some(vec![1, 16, 2]));
        assert_eq!(parse_version("0.9.20-rc.1"), Some(vec![0, 9, 20]));
        assert_eq!(parse_version("banana"), None);
        assert_eq!(compare(&[0, 9, 20], &[0, 16, 2]), Ordering::Less);
        assert_eq!(compare(&[1, 0], &[1, 0, 0]), Ordering::Equal);
    }

    #[test]
    fn external_secrets_serves_v1_from_0_16_2_and_drops_v1beta1_in_0_17() {
        assert_eq!(
            check_served(eso(), "0.14.3", "external-secrets.io/v1"),
            Err(Some("0.16.2"))
        );
        assert_eq!(
            check_served(eso(), "0.16.2", "external-secrets.io/v1"),
            Ok(())
        );
        assert_eq!(
            check_served(eso(), "0.16.2", "external-secrets.io/v1beta1"),
            Ok(())
        );
        assert_eq!(
            check_served(eso(), "0.17.0", "external-secrets.io/v1beta1"),
            Err(None)
        );
        assert_eq!(
            check_served(eso(), "2.10.0", "external-secrets.io/v1alpha9"),
            Ok(()),
            "versions the table does not list are not judged"
        );
    }

    #[test]
    fn what_gitopsc_writes_is_served_by_some_version_of_its_operator() {
        for k in KNOWN_CHARTS {
            for api in k.writes {
                assert!(
                    k.serves
                        .iter()
                        .any(|s| s.api_version == *api && s.until.is_none()),
                    "{}: {api} is in the table and still served",
                    k.chart
                );
            }
        }
    }
}
