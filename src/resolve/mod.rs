//! Stage 2, resolve: one environment's view of the blueprint.
//!
//! Owns `extends` (an environment starts from its parent's settings, and
//! from its overlays with `inheritOverlays`: `overlays`), overlay merging
//! (RFC 7386, root environment first), template strings
//! (`{{ env.domain }}`), the service mesh each namespace joins (`mesh`), the
//! pods an `affinity` names (`affinity`), and
//! the facts every later stage needs about a
//! component: layer position, namespace, selector and ports (a Gateway's
//! proxies included). The result, a
//! [`ResolvedEnv`], is typed and validated: nothing unresolved reaches
//! rendering. Does no I/O.

mod affinity;
pub mod components;
mod environments;
mod gateways;
pub mod known_charts;
pub mod mesh;
pub mod network;
pub mod overlays;
mod templating;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::blueprint::load::decode_error;
use crate::blueprint::{
    Blueprint, Locator, ObjectPatch, Project, app_defaults, credentials, decode::decode, validate,
};
use crate::error::Result;
use crate::sources::Sources;

pub use components::{Component, ComponentKind, Use};
pub use environments::{EnvSettings, extends_chain};

/// One environment, fully resolved.
#[derive(Debug, Clone)]
pub struct ResolvedEnv {
    pub name: String,
    pub settings: EnvSettings,
    pub blueprint: Blueprint,
    /// Apps, charts and manifest sets by name, with derived placement.
    pub components: BTreeMap<String, Component>,
    /// Each namespace a component runs in -> whether a chart is among them.
    /// The mesh a namespace joins depends on it, and it is asked per
    /// component and per link: a scan of every component each time made
    /// rendering quadratic in the number of apps.
    pub namespace_charts: BTreeMap<String, bool>,
    /// RFC 6902 patches for rendered objects: the blueprint's (for every
    /// environment) first, then the overlays', root environment's first.
    pub patches: Vec<ObjectPatch>,
    pub locator: Locator,
    pub sources: Arc<Sources>,
}

/// Resolves environment `name` of `project`.
pub fn resolve(project: &Project, name: &str) -> Result<ResolvedEnv> {
    let chain = extends_chain(project, name)?;
    let overlay_chain = overlays::overlay_chain(project, &chain)?;
    let mut merged = project.blueprint.value.clone();
    // Read into `project.patches` at load; like an overlay's, they are not templates.
    if let Some(map) = merged.as_object_mut() {
        map.remove("patches");
    }
    let mut docs = vec![project.blueprint.clone()];
    // The blueprint's patches first, as its merge comes first: an
    // environment's own patch sees, and may refine, what they wrote.
    let mut patches = project.patches.clone();
    let mut removed = Vec::new();
    for env in &overlay_chain {
        if let Some(overlay) = project.overlays.get(env) {
            overlays::check_component_names(&merged, overlay)?;
            json_patch::merge(&mut merged, &overlay.merge);
            docs.insert(0, overlay.doc.clone());
            patches.extend(overlay.patches.iter().cloned());
            removed.extend(app_defaults::nulls_under_apps(&overlay.merge));
        }
    }
    crate::blueprint::charts::name_charts_by_key(&mut merged);
    let aliases = app_defaults::apply(&mut merged, &removed);
    let locator = Locator::new(docs).with_aliases(aliases);
    let mut settings = environments::settings(&merged, &chain, &locator)?;
    settings.chain = overlay_chain;
    templating::expand(&mut merged, &settings, &locator)?;
    let blueprint: Blueprint = decode(&merged, "").map_err(|e| decode_error(e, &locator))?;
    validate::validate(&blueprint, &settings, &locator, &project.sources)?;
    mesh::check(&blueprint, &settings.chain, &locator)?;
    credentials::check(&merged, &blueprint, &locator, &project.sources)?;
    crate::blueprint::routing::check(&blueprint, settings.routing, &locator)?;
    let components = components::place(&blueprint, settings.routing, &locator)?;
    components::check_uses(&blueprint, &components, &locator)?;
    affinity::check(&blueprint, &components, &locator)?;
    mesh::check_tracing(&blueprint, &settings.chain, &components, &locator)?;
    network::check(&blueprint, &settings, &components, &locator)?;
    Ok(ResolvedEnv {
        name: name.to_string(),
        settings,
        blueprint,
        namespace_charts: components::namespace_charts(&components),
        components,
        patches,
        locator,
        sources: project.sources.clone(),
    })
}

/// Names of all environments in the blueprint, in order.
pub fn environment_names(project: &Project) -> Vec<String> {
    project.environments.keys().cloned().collect()
}

/// The environments in promotion order: each after the one it `extends`,
/// otherwise in the order the blueprint declares them (`dev, staging, prod`,
/// not the alphabet's `dev, prod, staging`).
pub fn promotion_order(project: &Project) -> Vec<String> {
    let declared: Vec<String> = match project.blueprint.value.get("environments") {
        Some(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => project.environments.keys().cloned().collect(),
    };
    let mut out: Vec<String> = Vec::new();
    for name in &declared {
        let mut chain = vec![name.clone()];
        while let Some(parent) = project
            .environments
            .get(chain.last().map(String::as_str).unwrap_or_default())
            .and_then(|e| e.extends.clone())
        {
            if chain.contains(&parent) {
                break;
            }
            chain.push(parent);
        }
        for env in chain.into_iter().rev() {
            if !out.contains(&env) {
                out.push(env);
            }
        }
    }
    out
}
