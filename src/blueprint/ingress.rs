//! Ingress: an app's hosts and paths, the defaults every app's ingress
//! starts from (class, issuer, controller), and their checks.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::apps::{App, check_port_ref, default_port};
use super::check::Check;
use super::syntax::is_dns_subdomain;
use crate::error::{ErrorKind, Result};
use crate::pointer::push;

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressDefaults {
    #[serde(default)]
    pub class: Option<String>,
    /// cert-manager ClusterIssuer used for TLS.
    #[serde(default)]
    pub issuer: Option<String>,
    /// The component running the ingress controller (its namespace may reach apps).
    #[serde(default)]
    pub controller: Option<String>,
    /// Namespace of an ingress controller that is not a component (e.g. `kube-system`).
    #[serde(default)]
    pub controller_namespace: Option<String>,
    /// Labels of that controller's pods; defaults by `class` (`traefik`, `nginx`).
    #[serde(default)]
    pub controller_selector: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ingress {
    pub hosts: Vec<String>,
    /// Path -> port name; defaults to `/` on the default port.
    #[serde(default)]
    pub paths: BTreeMap<String, String>,
    #[serde(default)]
    pub class: Option<String>,
    /// cert-manager ClusterIssuer; TLS is on whenever an issuer is known.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Set `false` to serve plain HTTP even with a default issuer.
    #[serde(default)]
    pub tls: Option<bool>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Gateway API: the gateway the route attaches to (default: the only one).
    #[serde(default)]
    pub gateway: Option<String>,
    /// Gateway API through Envoy Gateway: requests allowed per unit of time
    /// on the route, `{requests: 100, unit: Second}`.
    #[serde(default)]
    pub rate_limit: Option<super::routing::RateLimit>,
}

pub(super) fn check_ingress(c: &Check, at: &str, ing: &Ingress, app: &App) -> Result<()> {
    if ing.hosts.is_empty() {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            at,
            "an ingress needs at least one host",
            "add `hosts: [app.example.com]`",
        ));
    }
    for (i, host) in ing.hosts.iter().enumerate() {
        let plain = host.strip_prefix("*.").unwrap_or(host);
        if !is_dns_subdomain(plain) {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push(&push(at, "hosts"), &i.to_string()),
                format!("`{host}` is not a host name"),
                "use a lowercase DNS name, optionally starting with `*.`",
            ));
        }
    }
    if ing.paths.is_empty() {
        if default_port(app).is_none() {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                at,
                "the ingress does not say which port to route to",
                "add `paths: {/: <port name>}`",
            ));
        }
    } else {
        for (path, port) in &ing.paths {
            let p = push(&push(at, "paths"), path);
            if !path.starts_with('/') {
                return Err(c.fail_key(
                    &p,
                    format!("`{path}` is not a URL path"),
                    "paths start with `/`",
                ));
            }
            check_port_ref(c, &p, port, app)?;
        }
    }
    Ok(())
}
