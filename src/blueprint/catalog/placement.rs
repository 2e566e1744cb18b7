//! Where well-known charts read their pods' scheduling values, as data: the
//! dotted value paths of each pod field per pod group. A chart gitopsc does
//! not know reads them at the top level (`nodeSelector`, `tolerations`,
//! `affinity`, `priorityClassName`), the convention `helm create` starts
//! every chart from. A DaemonSet meant for every node (node-exporter,
//! promtail) is left out on purpose: a node selector would shrink it.

/// The value paths of one chart, per pod field; each list names every pod
/// group that reads the field.
pub struct ChartPlacement {
    pub chart: &'static str,
    pub node_selector: &'static [&'static str],
    pub tolerations: &'static [&'static str],
    pub affinity: &'static [&'static str],
    pub priority_class: &'static [&'static str],
    /// The chart's values file the paths come from.
    pub source: &'static str,
}

/// What a chart nobody described reads: `helm create`'s top-level keys.
pub const TOP_LEVEL: ChartPlacement = ChartPlacement {
    chart: "",
    node_selector: &["nodeSelector"],
    tolerations: &["tolerations"],
    affinity: &["affinity"],
    priority_class: &["priorityClassName"],
    source: "https://helm.sh/docs/helm/helm_create/",
};

/// The table, by chart name.
pub const PLACEMENTS: &[ChartPlacement] = &[
    ChartPlacement {
        chart: "ingress-nginx",
        // The controller, the default backend, and the admission webhook's
        // certificate jobs, which take no affinity.
        node_selector: &[
            "controller.nodeSelector",
            "defaultBackend.nodeSelector",
            "controller.admissionWebhooks.patch.nodeSelector",
        ],
        tolerations: &[
            "controller.tolerations",
            "defaultBackend.tolerations",
            "controller.admissionWebhooks.patch.tolerations",
        ],
        affinity: &["controller.affinity", "defaultBackend.affinity"],
        priority_class: &[
            "controller.priorityClassName",
            "defaultBackend.priorityClassName",
            "controller.admissionWebhooks.patch.priorityClassName",
        ],
        source: "https://github.com/kubernetes/ingress-nginx/blob/main/charts/ingress-nginx/values.yaml",
    },
    ChartPlacement {
        chart: "cert-manager",
        // The controller at the top level, its webhook, CA injector and the
        // post-install API check each under their own key; one priority
        // class for all of them under `global`.
        node_selector: &[
            "nodeSelector",
            "webhook.nodeSelector",
            "cainjector.nodeSelector",
            "startupapicheck.nodeSelector",
        ],
        tolerations: &[
            "tolerations",
            "webhook.tolerations",
            "cainjector.tolerations",
            "startupapicheck.tolerations",
        ],
        affinity: &[
            "affinity",
            "webhook.affinity",
            "cainjector.affinity",
            "startupapicheck.affinity",
        ],
        priority_class: &["global.priorityClassName"],
        source: "https://github.com/cert-manager/cert-manager/blob/master/deploy/charts/cert-manager/values.yaml",
    },
    ChartPlacement {
        chart: "external-secrets",
        node_selector: &[
            "nodeSelector",
            "webhook.nodeSelector",
            "certController.nodeSelector",
        ],
        tolerations: &[
            "tolerations",
            "webhook.tolerations",
            "certController.tolerations",
        ],
        affinity: &["affinity", "webhook.affinity", "certController.affinity"],
        priority_class: &[
            "priorityClassName",
            "webhook.priorityClassName",
            "certController.priorityClassName",
        ],
        source: "https://github.com/external-secrets/external-secrets/blob/main/deploy/charts/external-secrets/values.yaml",
    },
    ChartPlacement {
        chart: "kube-prometheus-stack",
        // The operator, the Prometheus and Alertmanager it runs (their pod
        // fields are in the custom resources' specs), Grafana and
        // kube-state-metrics (subcharts, keyed by their chart names).
        node_selector: &[
            "prometheusOperator.nodeSelector",
            "prometheus.prometheusSpec.nodeSelector",
            "alertmanager.alertmanagerSpec.nodeSelector",
            "grafana.nodeSelector",
            "kube-state-metrics.nodeSelector",
        ],
        tolerations: &[
            "prometheusOperator.tolerations",
            "prometheus.prometheusSpec.tolerations",
            "alertmanager.alertmanagerSpec.tolerations",
            "grafana.tolerations",
            "kube-state-metrics.tolerations",
        ],
        affinity: &[
            "prometheusOperator.affinity",
            "prometheus.prometheusSpec.affinity",
            "alertmanager.alertmanagerSpec.affinity",
            "grafana.affinity",
            "kube-state-metrics.affinity",
        ],
        priority_class: &[
            "prometheusOperator.priorityClassName",
            "prometheus.prometheusSpec.priorityClassName",
            "alertmanager.alertmanagerSpec.priorityClassName",
            "grafana.priorityClassName",
        ],
        source: "https://github.com/prometheus-community/helm-charts/blob/main/charts/kube-prometheus-stack/values.yaml",
    },
    ChartPlacement {
        chart: "loki",
        // The single binary and the gateway in front of it.
        node_selector: &["singleBinary.nodeSelector", "gateway.nodeSelector"],
        tolerations: &["singleBinary.tolerations", "gateway.tolerations"],
        affinity: &["singleBinary.affinity", "gateway.affinity"],
        priority_class: &[
            "singleBinary.priorityClassName",
            "gateway.priorityClassName",
        ],
        source: "https://github.com/grafana/loki/blob/main/production/helm/loki/values.yaml",
    },
    ChartPlacement {
        chart: "istiod",
        node_selector: &["pilot.nodeSelector"],
        tolerations: &["pilot.tolerations"],
        affinity: &["pilot.affinity"],
        priority_class: &["pilot.priorityClassName"],
        source: "https://github.com/istio/istio/blob/master/manifests/charts/istio-control/istio-discovery/values.yaml",
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
        assert_eq!(p.node_selector, ["nodeSelector"]);
        assert_eq!(p.priority_class, ["priorityClassName"]);
    }

    #[test]
    fn every_path_ends_in_its_field() {
        for p in PLACEMENTS {
            let fields = [
                (p.node_selector, "nodeSelector"),
                (p.tolerations, "tolerations"),
                (p.affinity, "affinity"),
                (p.priority_class, "priorityClassName"),
            ];
            for (paths, field) in fields {
                assert!(!paths.is_empty(), "{}: no path for {field}", p.chart);
                for path in paths {
                    assert_eq!(path.rsplit('.').next(), Some(field), "{}: {path}", p.chart);
                }
            }
        }
    }
}
