//! Gateways as components: each Gateway of `gateways:` is placed in its
//! controller chart's namespace and layer, with the implementation's proxy
//! pods as its pods, so network policy, the dependency graph and `reach`
//! treat it like any other component. Only environments that route through
//! Gateway API get them.

use std::collections::BTreeMap;

use crate::blueprint::Locator;
use crate::blueprint::model::Blueprint;
use crate::error::{ErrorKind, Result};
use crate::pointer::{from_tokens, push};

use super::components::{Component, ComponentKind, Use};
use super::known_charts;

/// Adds one component per gateway to `placed`, which holds the charts.
pub fn place(
    bp: &Blueprint,
    placed: &mut BTreeMap<String, Component>,
    locator: &Locator,
) -> Result<()> {
    for (name, gw) in &bp.gateways {
        let at = from_tokens(["gateways", name.as_str()]);
        if let Some(existing) = placed.get(name) {
            return Err(locator
                .error(
                    ErrorKind::InvalidValue,
                    &at,
                    format!(
                        "component name `{name}` is used twice (also in `{}`)",
                        existing.kind.section()
                    ),
                )
                .with_help("a gateway is a component too: give it a name no app, chart or manifest set has"));
        }
        // `routing::check` has made sure the controller is a chart.
        let Some(controller) = placed.get(&gw.controller) else {
            continue;
        };
        let chart = &bp.charts[&gw.controller];
        let proxies = known_charts::gateway_proxies(&chart.chart, name, &controller.namespace);
        let uses = proxies
            .as_ref()
            .map(|p| Use {
                target: controller.name.clone(),
                port: Some(p.control_port.to_string()),
                pointer: push(&at, "controller"),
                manages: false,
            })
            .into_iter()
            .collect();
        let (selector, ports) = proxies.map(|p| (p.selector, p.ports)).unwrap_or_default();
        let gateway = Component {
            name: name.clone(),
            kind: ComponentKind::Gateway,
            layer: controller.layer.clone(),
            layer_index: controller.layer_index,
            namespace: controller.namespace.clone(),
            pointer: at,
            uses,
            after: Vec::new(),
            selector,
            ports,
            peers: Vec::new(),
            egress: BTreeMap::new(),
            routes: Vec::new(),
            provides: Vec::new(),
            // The proxies' probes are the controller's business, and their
            // namespace is not in the mesh.
            probe_ports: None,
            hooks: Vec::new(),
        };
        placed.insert(name.clone(), gateway);
    }
    Ok(())
}
