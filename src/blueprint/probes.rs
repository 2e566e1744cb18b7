//! Readiness, liveness and startup probes, and the checks that each names
//! exactly one way to probe and a port the app has.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::apps::{App, check_port_ref, default_port};
use super::check::Check;
use crate::error::{ErrorKind, Result};
use crate::pointer::push;

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Probes {
    #[serde(default)]
    pub readiness: Option<Probe>,
    #[serde(default)]
    pub liveness: Option<Probe>,
    #[serde(default)]
    pub startup: Option<Probe>,
}

/// One probe: exactly one of `http` (a path), `tcp` (a port name) or `exec` (a command).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Probe {
    #[serde(default)]
    pub http: Option<String>,
    #[serde(default)]
    pub tcp: Option<String>,
    #[serde(default)]
    pub exec: Option<Vec<String>>,
    /// Port name for `http`; defaults to `http`, or the only port.
    #[serde(default)]
    pub port: Option<String>,
    #[serde(default)]
    pub initial_delay: Option<u32>,
    #[serde(default)]
    pub period: Option<u32>,
    #[serde(default)]
    pub timeout: Option<u32>,
    #[serde(default)]
    pub failure_threshold: Option<u32>,
}

/// Each probe the app sets, checked at `probes/<kind>`.
pub(super) fn check_probes(c: &Check, at: &str, app: &App) -> Result<()> {
    for (kind, probe) in [
        ("readiness", &app.probes.readiness),
        ("liveness", &app.probes.liveness),
        ("startup", &app.probes.startup),
    ] {
        if let Some(probe) = probe {
            check_probe(c, &push(at, kind), probe, app)?;
        }
    }
    Ok(())
}

fn check_probe(c: &Check, at: &str, probe: &Probe, app: &App) -> Result<()> {
    let kinds = [
        probe.http.is_some(),
        probe.tcp.is_some(),
        probe.exec.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            at,
            "a probe has exactly one of `http`, `tcp` and `exec`",
            "e.g. `readiness: {http: /ready}`",
        ));
    }
    if let Some(path) = &probe.http {
        if !path.starts_with('/') {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push(at, "http"),
                format!("`{path}` is not a URL path"),
                "paths start with `/`",
            ));
        }
        match &probe.port {
            Some(port) => check_port_ref(c, &push(at, "port"), port, app)?,
            None => {
                if default_port(app).is_none() {
                    return Err(c.fail(ErrorKind::InvalidValue, at, "the probe does not say which port to call", "add `port: <port name>`; the default is the port named `http`, or the only port"));
                }
            }
        }
    }
    if let Some(port) = &probe.tcp {
        check_port_ref(c, &push(at, "tcp"), port, app)?;
    }
    if let Some(cmd) = &probe.exec
        && cmd.is_empty()
    {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            &push(at, "exec"),
            "the probe command is empty",
            "give the command as a list",
        ));
    }
    Ok(())
}

/// The port numbers an app's HTTP and TCP probes call; exec probes need none.
pub fn probe_ports(app: &App) -> Vec<u32> {
    let probes = [
        &app.probes.readiness,
        &app.probes.liveness,
        &app.probes.startup,
    ];
    let ports: std::collections::BTreeSet<u32> = probes
        .into_iter()
        .flatten()
        .filter_map(|p| match (&p.http, &p.tcp) {
            (Some(_), _) => p.port.as_deref().or_else(|| default_port(app)),
            (None, Some(port)) => Some(port.as_str()),
            (None, None) => None,
        })
        .filter_map(|name| app.ports.get(name).copied())
        .collect();
    ports.into_iter().collect()
}
