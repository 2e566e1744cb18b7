//! Istio ambient mode under the network policies: the node agents it
//! needs, the HBONE port on every link between ambient pods, and the
//! kubelet's probes, which ztunnel sends from an address of its own
//! (https://istio.io/latest/docs/ambient/usage/networkpolicy/).

use super::namespaces::NamespacePlan;
use super::network::{End, Link, group};
use crate::blueprint::model::NetworkPosture;
use crate::error::{ErrorKind, Result};
use crate::resolve::mesh::{PROBE_SOURCE, ResolvedMesh, ambient_namespace};
use crate::resolve::{ComponentKind, ResolvedEnv};

/// What an ambient namespace needs: the node agents, and under default-deny
/// the probe ports of every pod gitopsc does not render itself.
pub(super) fn check(env: &ResolvedEnv, plan: &NamespacePlan, mesh: &ResolvedMesh) -> Result<()> {
    check_dataplane(env, mesh)?;
    if plan.posture == NetworkPosture::DefaultDeny {
        check_probes_known(env, plan.name)?;
    }
    Ok(())
}

/// A chart's or manifest set's pods are probed on ports gitopsc cannot see
/// (an operator writes the probes), and under ambient a probe on a port the
/// policy does not open for ztunnel's address fails: the pod never becomes
/// ready, with nothing in the rendered tree to say why. So there the
/// blueprint must name them.
fn check_probes_known(env: &ResolvedEnv, namespace: &str) -> Result<()> {
    let unknown = env.components.values().find(|c| {
        c.namespace == namespace
            && matches!(c.kind, ComponentKind::Chart | ComponentKind::Manifests)
            && !c.selector.is_empty()
            && c.probe_ports.is_none()
    });
    match unknown {
        Some(c) => Err(env
            .locator
            .error(
                ErrorKind::InvalidValue,
                &c.pointer,
                format!(
                    "`{}` runs pods in the ambient, default-deny namespace `{namespace}`, and the kubelet probes them from ztunnel's address `{PROBE_SOURCE}` on ports the blueprint does not name",
                    c.name
                ),
            )
            .with_help(
                "add `probes: [<port name>]` with the ports its pods are probed on (CloudNativePG instances: its `status` port, 8000), or `probes: []` if none is",
            )),
        None => Ok(()),
    }
}

/// Ambient runs on two node agents Istio ships as charts: istio-cni moves
/// each pod's traffic into its node's ztunnel, and ztunnel carries it
/// (https://istio.io/latest/docs/ambient/install/helm/). Without either a
/// namespace labelled for ambient gets no mesh at all, silently.
fn check_dataplane(env: &ResolvedEnv, mesh: &ResolvedMesh) -> Result<()> {
    const CHARTS: &str = "https://istio-release.storage.googleapis.com/charts";
    let missing = if !mesh.cni {
        Some((
            "the Istio CNI node agent, which ambient needs to redirect pod traffic, is not said to be installed",
            format!(
                "install Istio's `cni` chart ({CHARTS}) with `profile: ambient` and say so with `cni: true`"
            ),
        ))
    } else if crate::resolve::mesh::ztunnel(env).is_none() {
        Some((
            "ambient mode needs ztunnel on every node, and no chart installs Istio's `ztunnel`",
            format!(
                "add a chart `ztunnel` with `chart: ztunnel` from {CHARTS}, at the version of the control plane's chart"
            ),
        ))
    } else {
        None
    };
    match missing {
        Some((message, help)) => Err(env
            .locator
            .error(ErrorKind::InvalidValue, &mesh.at, message)
            .with_help(help)),
        None => Ok(()),
    }
}

/// Between two ambient pods ztunnel carries the connection to the
/// receiver's port 15008 (HBONE), and the node enforces policy on that
/// port, not the app's; so such a link opens 15008 too. The app's ports
/// stay open for the connections ztunnel does not tunnel (a caller that
/// does not know the receiver is meshed yet) and are the ones the
/// authorization policy names.
pub(super) fn tunnel_links(env: &ResolvedEnv, links: &mut [Link]) {
    use crate::resolve::mesh::HBONE_PORT;
    for link in links.iter_mut() {
        let (End::Pods(from), End::Pods(to)) = (&link.from, &link.to) else {
            continue;
        };
        let tunnelled = !link.ports.is_empty()
            && ambient_namespace(env, &from.namespace)
            && ambient_namespace(env, &to.namespace);
        if tunnelled && !link.ports.contains(&HBONE_PORT) {
            link.ports.push(HBONE_PORT);
        }
    }
}

/// ztunnel rewrites the kubelet's probes of an ambient pod to come from
/// 169.254.7.127, an address no node policy rule admits; each ambient
/// component takes it on its probe ports alone.
pub(super) fn probe_links(env: &ResolvedEnv) -> Vec<Link> {
    env.components
        .values()
        .filter(|c| !c.selector.is_empty() && ambient_namespace(env, &c.namespace))
        .filter_map(|c| {
            let ports = c.probe_ports.clone().filter(|p| !p.is_empty())?;
            Some(Link {
                from: End::block(PROBE_SOURCE),
                to: End::Pods(group(c)),
                ports,
            })
        })
        .collect()
}
