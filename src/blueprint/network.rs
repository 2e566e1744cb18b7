//! The blueprint's network vocabulary beyond `uses` and `ports`: where the
//! API server is, and which pods an ingress controller or monitoring stack
//! runs. Kept apart from `model` because NetworkPolicy needs these facts
//! and nothing else does; and the check on `egress` blocks.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::check::Check;
use super::syntax::is_cidr;
use crate::error::{ErrorKind, Result};
use crate::pointer::push;

/// The name `uses` gives the Kubernetes API server.
pub const KUBE_APISERVER: &str = "kube-apiserver";

/// Where pods reach the Kubernetes API server. NetworkPolicy cannot name
/// it by selector: after the `kubernetes` Service is translated, traffic goes
/// to the control plane's addresses and port, so policies name those.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiServer {
    /// Addresses of the control plane (`kubectl get endpoints kubernetes`), e.g. `10.0.0.10/32`.
    pub cidr: String,
    /// Port the control plane listens on (the endpoint's port, not the Service's 443).
    #[serde(default = "default_api_server_port")]
    pub port: u32,
}

fn default_api_server_port() -> u32 {
    6443
}

/// Labels of the Prometheus pods a monitoring chart runs, for the rule that
/// lets them scrape; the one chart that provides `monitoring.coreos.com`
/// uses it. Defaults to `app.kubernetes.io/name: prometheus`, the label
/// Prometheus Operator puts on every Prometheus pod.
pub type ScraperSelector = BTreeMap<String, String>;

/// Egress keys are CIDR blocks and their ports are in range.
pub(super) fn check_egress(c: &Check, at: &str, egress: &BTreeMap<String, Vec<u32>>) -> Result<()> {
    for (cidr, ports) in egress {
        let p = push(at, cidr);
        if !is_cidr(cidr) {
            return Err(c.fail_key(
                &p,
                format!("`{cidr}` is not a CIDR block"),
                "write an IPv4 or IPv6 block like `10.0.0.0/8` or `0.0.0.0/0`",
            ));
        }
        for port in ports {
            if !(1..=65535).contains(port) {
                return Err(c.fail(
                    ErrorKind::InvalidValue,
                    &p,
                    format!("port {port} is out of range"),
                    "ports are between 1 and 65535",
                ));
            }
        }
    }
    Ok(())
}
