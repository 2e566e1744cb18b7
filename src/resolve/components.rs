//! Where each component sits: layer position, namespace, pod selector, ports.

use std::collections::BTreeMap;

use crate::blueprint::Locator;
use crate::blueprint::model::{Blueprint, NamespaceStrategy};
use crate::blueprint::routing::RoutingApi;
use crate::error::{ErrorKind, Result};
use crate::pointer;
use crate::suggest;

use super::known_charts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ComponentKind {
    App,
    Chart,
    Manifests,
    /// A Gateway API Gateway from `gateways:`, whose pods are its proxies.
    Gateway,
}

impl ComponentKind {
    /// The blueprint section holding components of this kind.
    pub fn section(self) -> &'static str {
        match self {
            ComponentKind::App => "apps",
            ComponentKind::Chart => "charts",
            ComponentKind::Manifests => "manifests",
            ComponentKind::Gateway => "gateways",
        }
    }
}

/// One `uses` entry: a component, optionally one of its ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub target: String,
    pub port: Option<String>,
    /// Pointer of the entry, for errors.
    pub pointer: String,
    /// A `manages` entry: reached, but no deployment dependency.
    pub manages: bool,
}

#[derive(Debug, Clone)]
pub struct Component {
    pub name: String,
    pub kind: ComponentKind,
    pub layer: String,
    pub layer_index: usize,
    pub namespace: String,
    /// `/apps/<name>`, `/charts/<name>` or `/manifests/<name>`.
    pub pointer: String,
    pub uses: Vec<Use>,
    /// `after` entries: deployment order only, so nothing network-related reads them.
    pub after: Vec<Use>,
    /// Labels selecting the component's pods (empty when unknown).
    pub selector: BTreeMap<String, String>,
    pub ports: BTreeMap<String, u32>,
    /// Port names on which the component's pods reach each other.
    pub peers: Vec<String>,
    /// CIDR -> ports the component's pods may reach outside the cluster.
    pub egress: BTreeMap<String, Vec<u32>>,
    /// Port names the ingress controller routes to through the component's own Ingresses.
    pub routes: Vec<String>,
    /// CRD API groups the component installs.
    pub provides: Vec<String>,
    /// Port numbers the kubelet probes on the component's pods: an app's
    /// HTTP and TCP probes, a chart's or manifest set's `probes`; `None`
    /// when a chart or manifest set does not say.
    pub probe_ports: Option<Vec<u32>>,
    /// A chart's install hooks that call the API server beside its pods:
    /// each a name and the labels of its pods.
    pub hooks: Vec<(String, BTreeMap<String, String>)>,
}

/// The recommended labels that select an app's pods.
pub fn app_selector(system: &str, app: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), app.to_string()),
        (
            "app.kubernetes.io/instance".to_string(),
            format!("{system}-{app}"),
        ),
    ])
}

struct Draft<'a> {
    name: &'a str,
    kind: ComponentKind,
    layer: &'a str,
    namespace: Option<&'a str>,
    uses: &'a [String],
    manages: &'a [String],
    after: &'a [String],
    selector: BTreeMap<String, String>,
    ports: BTreeMap<String, u32>,
    peers: &'a [String],
    egress: &'a BTreeMap<String, Vec<u32>>,
    routes: &'a [String],
    provides: Vec<String>,
    probes: Probed<'a>,
    hooks: Vec<(String, BTreeMap<String, String>)>,
}

/// Where a draft's probe ports come from.
enum Probed<'a> {
    App(&'a crate::blueprint::model::App),
    Named(Option<&'a [String]>),
}

fn drafts(bp: &Blueprint) -> Vec<Draft<'_>> {
    let system = bp.system.name.as_str();
    let apps = bp.apps.iter().map(|(name, a)| Draft {
        name,
        kind: ComponentKind::App,
        layer: &a.layer,
        namespace: a.namespace.as_deref(),
        uses: &a.uses,
        manages: &[],
        after: &a.after,
        selector: app_selector(system, name),
        ports: a.ports.clone(),
        peers: &a.peers,
        egress: &a.egress,
        routes: &[],
        provides: Vec::new(),
        probes: Probed::App(a),
        hooks: Vec::new(),
    });
    let charts = bp.charts.iter().map(|(name, c)| {
        let release = c.release.clone().unwrap_or_else(|| name.clone());
        let namespace = c
            .namespace
            .clone()
            .unwrap_or_else(|| default_namespace(bp, name, &c.layer));
        let known = known_charts::known(&c.chart, &release, &namespace);
        Draft {
            name,
            kind: ComponentKind::Chart,
            layer: &c.layer,
            namespace: c.namespace.as_deref(),
            uses: &c.uses,
            manages: &c.manages,
            after: &c.after,
            selector: match (&known, c.selector.is_empty()) {
                (_, false) => c.selector.clone(),
                (Some(k), true) => k.selector.clone(),
                (None, true) => {
                    BTreeMap::from([("app.kubernetes.io/instance".to_string(), release.clone())])
                }
            },
            ports: match &known {
                Some(k) if c.ports.is_empty() => k.ports.clone(),
                _ => c.ports.clone(),
            },
            peers: &c.peers,
            egress: &c.egress,
            routes: &c.routes,
            provides: c.provides.clone(),
            probes: Probed::Named(c.probes.as_deref()),
            hooks: known
                .map(|k| k.hooks)
                .unwrap_or_default()
                .into_iter()
                .map(|(hook, labels)| (format!("{name}-{hook}"), labels))
                .collect(),
        }
    });
    let manifests = bp.manifests.iter().map(|(name, m)| Draft {
        name,
        kind: ComponentKind::Manifests,
        layer: &m.layer,
        namespace: m.namespace.as_deref(),
        uses: &m.uses,
        manages: &[],
        after: &m.after,
        selector: m.selector.clone(),
        ports: m.ports.clone(),
        peers: &m.peers,
        egress: &m.egress,
        routes: &[],
        provides: Vec::new(),
        probes: Probed::Named(m.probes.as_deref()),
        hooks: Vec::new(),
    });
    apps.chain(charts).chain(manifests).collect()
}

/// `target[:port]` entries of a `uses` or `manages` list.
fn use_entries(at: &str, key: &str, list: &[String]) -> Vec<Use> {
    list.iter()
        .enumerate()
        .map(|(i, entry)| {
            let (target, port) = match entry.split_once(':') {
                Some((t, p)) => (t.to_string(), Some(p.to_string())),
                None => (entry.clone(), None),
            };
            Use {
                target,
                port,
                pointer: pointer::push(&pointer::push(at, key), &i.to_string()),
                manages: key == "manages",
            }
        })
        .collect()
}

/// The namespace of a component that names none: its layer's `namespace`,
/// else by `system.namespaces`.
pub fn default_namespace(bp: &Blueprint, name: &str, layer: &str) -> String {
    if let Some(ns) = bp.layer_namespace(layer) {
        return ns.to_string();
    }
    match bp.system.namespaces {
        NamespaceStrategy::PerLayer => layer.to_string(),
        NamespaceStrategy::PerComponent => name.to_string(),
        NamespaceStrategy::Single => bp
            .system
            .namespace
            .clone()
            .unwrap_or_else(|| bp.system.name.clone()),
    }
}

/// Places every component; names must be unique across apps, charts,
/// manifests and (under Gateway API routing) gateways.
pub fn place(
    bp: &Blueprint,
    routing: RoutingApi,
    locator: &Locator,
) -> Result<BTreeMap<String, Component>> {
    let mut out: BTreeMap<String, Component> = BTreeMap::new();
    for d in drafts(bp) {
        let at = pointer::from_tokens([d.kind.section(), d.name]);
        if let Some(existing) = out.get(d.name) {
            return Err(locator
                .error(
                    ErrorKind::InvalidValue,
                    &at,
                    format!("component name `{}` is used twice (also in `{}`)", d.name, existing.kind.section()),
                )
                .with_help("`uses` refers to components by name, so names are unique across apps, charts and manifests"));
        }
        let Some(layer_index) = bp.layer_index(d.layer) else {
            return Err(locator
                .error(
                    ErrorKind::UnknownReference,
                    &pointer::push(&at, "layer"),
                    format!("`{}` is in unknown layer `{}`", d.name, d.layer),
                )
                .with_help(suggest::help_for(d.layer, "layers", bp.layer_names())));
        };
        let namespace = match d.namespace {
            Some(ns) => ns.to_string(),
            None => default_namespace(bp, d.name, d.layer),
        };
        let mut uses = use_entries(&at, "uses", d.uses);
        uses.extend(use_entries(&at, "manages", d.manages));
        let after = use_entries(&at, "after", d.after);
        let probe_ports = probe_ports(&d, &at, locator)?;
        out.insert(
            d.name.to_string(),
            Component {
                name: d.name.to_string(),
                kind: d.kind,
                layer: d.layer.to_string(),
                layer_index,
                namespace,
                pointer: at,
                uses,
                after,
                selector: d.selector,
                ports: d.ports,
                peers: d.peers.to_vec(),
                egress: d.egress.clone(),
                routes: d.routes.to_vec(),
                provides: d.provides,
                probe_ports,
                hooks: d.hooks,
            },
        );
    }
    if routing == RoutingApi::GatewayApi {
        super::gateways::place(bp, &mut out, locator)?;
    }
    Ok(out)
}

/// The port numbers a draft's pods are probed on; a chart's or manifest
/// set's `probes` must name its own ports.
fn probe_ports(d: &Draft<'_>, at: &str, locator: &Locator) -> Result<Option<Vec<u32>>> {
    let names = match d.probes {
        Probed::App(app) => return Ok(Some(crate::blueprint::probes::probe_ports(app))),
        Probed::Named(None) => return Ok(None),
        Probed::Named(Some(names)) => names,
    };
    let mut ports = std::collections::BTreeSet::new();
    for (i, name) in names.iter().enumerate() {
        let Some(port) = d.ports.get(name) else {
            return Err(fail(
                locator,
                ErrorKind::UnknownReference,
                &pointer::push(&pointer::push(at, "probes"), &i.to_string()),
                format!("`{}` has no port named `{name}` to probe", d.name),
                suggest::help_for(name, "ports", d.ports.keys().map(String::as_str)),
            ));
        };
        ports.insert(*port);
    }
    Ok(Some(ports.into_iter().collect()))
}

/// Checks `uses` entries once components are placed.
pub fn check_uses(
    bp: &Blueprint,
    components: &BTreeMap<String, Component>,
    locator: &Locator,
) -> Result<()> {
    for component in components.values() {
        for u in &component.uses {
            if u.target == crate::blueprint::network::KUBE_APISERVER && u.port.is_none() {
                continue;
            }
            let Some(target) = components.get(&u.target) else {
                return Err(fail(
                    locator,
                    ErrorKind::UnknownReference,
                    &u.pointer,
                    format!(
                        "`{}` uses `{}`, which is not a component",
                        component.name, u.target
                    ),
                    suggest::help_for(
                        &u.target,
                        "components",
                        components.keys().map(String::as_str),
                    ),
                ));
            };
            if target.name == component.name {
                return Err(fail(
                    locator,
                    ErrorKind::InvalidValue,
                    &u.pointer,
                    format!("`{}` uses itself", component.name),
                    "to let its pods reach each other, list the ports in `peers` instead",
                ));
            }
            if let Some(port) = &u.port
                && !target.ports.contains_key(port)
            {
                return Err(fail(
                    locator,
                    ErrorKind::UnknownReference,
                    &u.pointer,
                    format!("`{}` has no port named `{port}`", target.name),
                    suggest::help_for(port, "ports", target.ports.keys().map(String::as_str)),
                ));
            }
        }
    }
    for component in components.values() {
        for a in &component.after {
            if !components.contains_key(&a.target) {
                return Err(fail(
                    locator,
                    ErrorKind::UnknownReference,
                    &a.pointer,
                    format!(
                        "`{}` is after `{}`, which is not a component",
                        component.name, a.target
                    ),
                    suggest::help_for(
                        &a.target,
                        "components",
                        components.keys().map(String::as_str),
                    ),
                ));
            }
            if a.target == component.name || a.port.is_some() {
                return Err(fail(
                    locator,
                    ErrorKind::InvalidValue,
                    &a.pointer,
                    format!("`{}` cannot be after `{}`", component.name, a.target),
                    "`after` names other components, without ports",
                ));
            }
        }
    }
    if let Some(controller) = &bp.defaults.ingress.controller
        && !components.contains_key(controller)
    {
        return Err(fail(
            locator,
            ErrorKind::UnknownReference,
            "/defaults/ingress/controller",
            format!("ingress controller `{controller}` is not a component"),
            suggest::help_for(
                controller,
                "components",
                components.keys().map(String::as_str),
            ),
        ));
    }
    Ok(())
}

/// An error at `at` with a help line.
fn fail(
    locator: &Locator,
    kind: ErrorKind,
    at: &str,
    message: impl Into<String>,
    help: impl Into<String>,
) -> crate::error::Error {
    locator.error(kind, at, message).with_help(help)
}

/// Each namespace the components run in -> whether a chart is among them.
pub fn namespace_charts(components: &BTreeMap<String, Component>) -> BTreeMap<String, bool> {
    let mut out: BTreeMap<String, bool> = BTreeMap::new();
    for c in components.values() {
        let is_chart = c.kind == ComponentKind::Chart;
        match out.get_mut(&c.namespace) {
            Some(holds_chart) => *holds_chart |= is_chart,
            None => {
                out.insert(c.namespace.clone(), is_chart);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blueprint(strategy: &str) -> Blueprint {
        let text = format!(
            "system: {{name: demo, namespaces: {strategy}}}\nlayers: [platform, {{name: apps, namespace: production}}]\nenvironments: {{dev: {{}}}}\n"
        );
        let value = crate::yaml::parse_document("system.yaml", text.as_bytes())
            .unwrap()
            .value;
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_layer_namespace_wins_over_every_strategy_and_only_in_its_layer() {
        for (strategy, platform) in [
            ("per-layer", "platform"),
            ("per-component", "ops"),
            ("single", "demo"),
        ] {
            let bp = blueprint(strategy);
            assert_eq!(
                default_namespace(&bp, "web", "apps"),
                "production",
                "{strategy}"
            );
            assert_eq!(
                default_namespace(&bp, "ops", "platform"),
                platform,
                "{strategy}"
            );
        }
    }
}
