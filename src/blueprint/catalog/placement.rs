//! Where well-known charts read their pods' scheduling values, as data: each
//! pod group's key in the chart's values and the pod fields it takes there.
//! A chart gitopsc does not know reads them at the top level
//! (`nodeSelector`, `tolerations`, `affinity`, `priorityClassName`), the
//! convention `helm create` starts every chart from. A DaemonSet meant for
//! every node (node-exporter, promtail, loki-canary) is left out on purpose:
//! a node selector would shrink it. Every path is checked against the
//! chart's own values.yaml at the version the examples pin, vendored in
//! `tests/charts/` (`tests/it/chart_placement.rs`).

/// A pod field a chart's `scheduling` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    NodeSelector,
    Tolerations,
    Affinity,
    PriorityClass,
}

impl Field {
    pub const ALL: [Field; 4] = [
        Field::NodeSelector,
        Field::Tolerations,
        Field::Affinity,
        Field::PriorityClass,
    ];

    /// The key charts read the field from, the pod spec's own name.
    pub fn key(self) -> &'static str {
        match self {
            Field::NodeSelector => "nodeSelector",
            Field::Tolerations => "tolerations",
            Field::Affinity => "affinity",
            Field::PriorityClass => "priorityClassName",
        }
    }
}

use Field::{Affinity, NodeSelector, PriorityClass, Tolerations};

const ALL: &[Field] = &Field::ALL;
/// A group whose priority class is set once for the whole chart elsewhere.
const NO_PRIORITY: &[Field] = &[NodeSelector, Tolerations, Affinity];
/// A job whose template writes no affinity.
const NO_AFFINITY: &[Field] = &[NodeSelector, Tolerations, PriorityClass];
/// A chart-wide priority class, under `global`.
const PRIORITY: &[Field] = &[PriorityClass];

/// One set of pods and where the chart reads their fields: `at` is the
/// dotted key holding them, empty for the top level.
pub struct PodGroup {
    pub at: &'static str,
    pub fields: &'static [Field],
}

const fn group(at: &'static str, fields: &'static [Field]) -> PodGroup {
    PodGroup { at, fields }
}

/// The pod groups of one chart.
pub struct ChartPlacement {
    pub chart: &'static str,
    pub groups: &'static [PodGroup],
    /// The chart's values file the paths come from, at the version checked.
    pub source: &'static str,
}

impl ChartPlacement {
    /// The dotted value path of `field` in every group that takes it.
    pub fn paths(&self, field: Field) -> impl Iterator<Item = String> + '_ {
        self.groups
            .iter()
            .filter(move |g| g.fields.contains(&field))
            .map(move |g| match g.at {
                "" => field.key().to_string(),
                at => format!("{at}.{}", field.key()),
            })
    }
}

/// What a chart nobody described reads: `helm create`'s top-level keys.
pub const TOP_LEVEL: ChartPlacement = ChartPlacement {
    chart: "",
    groups: &[group("", ALL)],
    source: "https://helm.sh/docs/helm/helm_create/",
};

/// The table, by chart name.
pub const PLACEMENTS: &[ChartPlacement] = &[
    ChartPlacement {
        chart: "ingress-nginx",
        // The controller, the default backend, and the admission webhook's
        // certificate jobs, whose templates write no affinity.
        groups: &[
            group("controller", ALL),
            group("defaultBackend", ALL),
            group("controller.admissionWebhooks.patch", NO_AFFINITY),
        ],
        source: "https://github.com/kubernetes/ingress-nginx/blob/helm-chart-4.11.3/charts/ingress-nginx/values.yaml",
    },
    ChartPlacement {
        chart: "cert-manager",
        // The controller at the top level, its webhook, CA injector and the
        // post-install API check each under their own key; one priority
        // class for all of them under `global`.
        groups: &[
            group("", NO_PRIORITY),
            group("webhook", NO_PRIORITY),
            group("cainjector", NO_PRIORITY),
            group("startupapicheck", NO_PRIORITY),
            group("global", PRIORITY),
        ],
        source: "https://github.com/cert-manager/cert-manager/blob/v1.19.4/deploy/charts/cert-manager/values.yaml",
    },
    ChartPlacement {
        chart: "external-secrets",
        groups: &[
            group("", ALL),
            group("webhook", ALL),
            group("certController", ALL),
        ],
        source: "https://github.com/external-secrets/external-secrets/blob/helm-chart-2.9.0/deploy/charts/external-secrets/values.yaml",
    },
    ChartPlacement {
        chart: "kube-prometheus-stack",
        // The operator, its admission webhook's certificate jobs and (when
        // enabled) its webhook Deployment, the CRD upgrade job; Prometheus,
        // Alertmanager and Thanos Ruler, whose pod fields are in the custom
        // resources' specs; Grafana and kube-state-metrics, subcharts keyed
        // by their chart names. The CRD upgrade job takes no priority class.
        groups: &[
            group("prometheusOperator", ALL),
            group("prometheusOperator.admissionWebhooks.patch", ALL),
            group("prometheusOperator.admissionWebhooks.deployment", ALL),
            group("crds.upgradeJob", NO_PRIORITY),
            group("prometheus.prometheusSpec", ALL),
            group("alertmanager.alertmanagerSpec", ALL),
            group("thanosRuler.thanosRulerSpec", ALL),
            group("grafana", ALL),
            group("grafana.imageRenderer", ALL),
            group("kube-state-metrics", ALL),
        ],
        source: "https://github.com/prometheus-community/helm-charts/blob/kube-prometheus-stack-84.1.1/charts/kube-prometheus-stack/values.yaml",
    },
    ChartPlacement {
        chart: "loki",
        // Every deployment mode's pods (single binary, simple scalable,
        // distributed), the gateway and the two memcached caches: the
        // groups a mode does not run are not rendered, so their values
        // change nothing.
        groups: &[
            group("singleBinary", ALL),
            group("write", ALL),
            group("read", ALL),
            group("backend", ALL),
            group("ingester", ALL),
            group("distributor", ALL),
            group("querier", ALL),
            group("queryFrontend", ALL),
            group("queryScheduler", ALL),
            group("indexGateway", ALL),
            group("compactor", ALL),
            group("ruler", ALL),
            group("patternIngester", ALL),
            group("bloomGateway", ALL),
            group("bloomPlanner", ALL),
            group("bloomBuilder", ALL),
            group("gateway", ALL),
            group("resultsCache", ALL),
            group("chunksCache", ALL),
        ],
        source: "https://github.com/grafana/loki/blob/helm-loki-6.22.0/production/helm/loki/values.yaml",
    },
    ChartPlacement {
        chart: "istiod",
        // The chart reads its Deployment's fields at the top level (the
        // `pilot.` keys are older charts'), its priority class under `global`.
        groups: &[group("", NO_PRIORITY), group("global", PRIORITY)],
        source: "https://github.com/istio/istio/blob/1.30.0/manifests/charts/istio-control/istio-discovery/values.yaml",
    },
];

/// Where `chart` reads its pod fields.
pub fn placement(chart: &str) -> &'static ChartPlacement {
    PLACEMENTS
        .iter()
        .find(|p| p.chart == chart)
        .unwrap_or(&TOP_LEVEL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_chart_reads_the_top_level_keys() {
        let p = placement("podinfo");
        assert_eq!(
            p.paths(Field::NodeSelector).collect::<Vec<_>>(),
            ["nodeSelector"]
        );
        assert_eq!(
            p.paths(Field::PriorityClass).collect::<Vec<_>>(),
            ["priorityClassName"]
        );
    }

    #[test]
    fn every_chart_places_every_field_somewhere() {
        for p in PLACEMENTS {
            for field in Field::ALL {
                assert!(
                    p.paths(field).next().is_some(),
                    "{}: no path for {field:?}",
                    p.chart
                );
            }
        }
    }

    #[test]
    fn a_group_without_a_field_gets_no_path_for_it() {
        let nginx = placement("ingress-nginx");
        let affinity: Vec<_> = nginx.paths(Field::Affinity).collect();
        assert_eq!(affinity, ["controller.affinity", "defaultBackend.affinity"]);
        let cert_manager: Vec<_> = placement("cert-manager")
            .paths(Field::PriorityClass)
            .collect();
        assert_eq!(cert_manager, ["global.priorityClassName"]);
    }
}
