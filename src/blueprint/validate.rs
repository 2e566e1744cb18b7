//! Checks on a resolved blueprint: every value the type system lets through
//! but Kubernetes, Flux or Argo CD would refuse, reported where it was written.
//! This is the entry point; each concept's checks live beside its types
//! (`apps`, `charts`, `environments`, `gitops`, `namespaces`, `secrets`, ...),
//! and the system's own name and layers are checked here.

use super::apps::check_app;
use super::charts::{check_chart, check_manifest_set};
use super::check::Check;
use super::environments::{EnvSettings, check_environment};
use super::gitops::check_gitops;
use super::locator::Locator;
use super::model::Blueprint;
use super::namespaces::check_namespace;
use super::resources::check_resources;
use super::scheduling::{check_affinity, check_chart_keys, check_fits_zones, check_scheduling};
use super::secrets::{check_named_in_values, check_named_secrets, check_secret_store};
use super::syntax::is_label_value;
use crate::error::{ErrorKind, Result};
use crate::pointer::{from_tokens, push};
use crate::sources::Sources;

/// Layer names that would collide with gitopsc's own directories in the tree.
/// Component names stay short enough for every derived object name.
pub const MAX_COMPONENT_NAME: usize = 40;

/// Checks values on the resolved blueprint of one environment.
pub fn validate(
    bp: &Blueprint,
    env: &EnvSettings,
    locator: &Locator,
    sources: &Sources,
) -> Result<()> {
    let c = Check { locator };
    check_system(&c, bp)?;
    check_environment(&c, bp, env)?;
    check_gitops(&c, bp)?;
    for (name, store) in &bp.secret_stores {
        check_secret_store(&c, name, store)?;
    }
    for (name, ns) in &bp.namespaces {
        check_namespace(&c, name, ns)?;
    }
    if let Some(r) = &bp.defaults.resources {
        check_resources(&c, "/defaults/resources", r)?;
    }
    let targets = bp
        .apps
        .keys()
        .chain(bp.charts.keys())
        .chain(bp.manifests.keys())
        .map(String::as_str);
    check_scheduling(&c, "/defaults/scheduling", &bp.defaults.scheduling)?;
    check_affinity(
        &c,
        "/defaults/scheduling",
        &bp.defaults.scheduling,
        None,
        targets.clone(),
    )?;
    for (name, app) in &bp.apps {
        check_app(&c, bp, name, app, sources)?;
        // A default's affinity applies to the app it names too; it is blamed
        // on the default unless the app sets its own.
        let (at, own) = match app.scheduling.affinity {
            Some(_) => (from_tokens(["apps", name, "scheduling"]), &app.scheduling),
            None => ("/defaults/scheduling".to_string(), &bp.defaults.scheduling),
        };
        check_affinity(&c, &at, own, Some(name), targets.clone())?;
        let most_replicas = app
            .autoscale
            .as_ref()
            .map_or(app.replicas.unwrap_or(1), |a| a.max);
        let scheduling = app.scheduling.over(&bp.defaults.scheduling);
        let at = from_tokens(["apps", name, "scheduling", "antiAffinity"]);
        check_fits_zones(&c, &at, &scheduling, most_replicas, &env.zones)?;
    }
    for (name, chart) in &bp.charts {
        check_chart(&c, name, chart)?;
        let at = from_tokens(["charts", name, "secrets"]);
        check_named_secrets(&c, bp, &at, &chart.secrets)?;
        check_named_in_values(&c, &at, &chart.secrets, &chart.values)?;
        let at = from_tokens(["charts", name, "scheduling"]);
        check_scheduling(&c, &at, &chart.scheduling)?;
        check_chart_keys(&c, &at, &chart.scheduling)?;
        check_affinity(&c, &at, &chart.scheduling, Some(name), targets.clone())?;
    }
    for (name, set) in &bp.manifests {
        check_manifest_set(&c, name, set, sources)?;
        let at = from_tokens(["manifests", name, "secrets"]);
        check_named_secrets(&c, bp, &at, &set.secrets)?;
    }
    Ok(())
}

fn check_system(c: &Check, bp: &Blueprint) -> Result<()> {
    c.dns_label(
        "/system/name",
        &bp.system.name,
        "system name",
        MAX_COMPONENT_NAME,
    )?;
    if let Some(ns) = &bp.system.namespace {
        c.dns_label("/system/namespace", ns, "namespace", 63)?;
    }
    for (key, value) in [("owner", &bp.system.owner), ("partOf", &bp.system.part_of)] {
        if let Some(v) = value
            && !is_label_value(v)
        {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &push("/system", key),
                format!("`{v}` cannot be a label value"),
                "label values are at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit",
            ));
        }
    }
    super::layers::check_layers(c, bp, MAX_COMPONENT_NAME)
}
