//! Which pods an `affinity` entry means: the check, once components are
//! placed, that the component it names has pod labels gitopsc knows. An
//! app's are its selector; a chart's are the labels `known_charts` holds
//! for it or the chart's own `selector`; a manifest set's, its `selector`.
//! A chart's fallback selector (its release's `app.kubernetes.io/instance`)
//! is a guess good enough for a network rule over all its pods, not for a
//! term the scheduler holds a pod Pending on.

use std::collections::BTreeMap;

use crate::blueprint::Locator;
use crate::blueprint::model::{Blueprint, Scheduling};
use crate::error::{ErrorKind, Result};
use crate::pointer::{from_tokens, push};

use super::components::{Component, ComponentKind};
use super::known_charts;

/// Every affinity of an app (its own, else `defaults.scheduling`'s, blamed
/// there) and of a chart names pods whose labels are known.
pub fn check(
    bp: &Blueprint,
    components: &BTreeMap<String, Component>,
    locator: &Locator,
) -> Result<()> {
    for (name, app) in &bp.apps {
        let (at, s) = match app.scheduling.affinity {
            Some(_) => (from_tokens(["apps", name, "scheduling"]), &app.scheduling),
            None => ("/defaults/scheduling".to_string(), &bp.defaults.scheduling),
        };
        check_targets(bp, components, locator, &at, s)?;
    }
    for (name, chart) in &bp.charts {
        let at = from_tokens(["charts", name, "scheduling"]);
        check_targets(bp, components, locator, &at, &chart.scheduling)?;
    }
    Ok(())
}

fn check_targets(
    bp: &Blueprint,
    components: &BTreeMap<String, Component>,
    locator: &Locator,
    at: &str,
    s: &Scheduling,
) -> Result<()> {
    let Some(affinities) = &s.affinity else {
        return Ok(());
    };
    for (i, a) in affinities.list.iter().enumerate() {
        // Names are checked in `blueprint::scheduling::check_affinity`.
        let Some(target) = components.get(&a.with) else {
            continue;
        };
        if labels_known(bp, target) {
            continue;
        }
        let section = target.kind.section();
        let what = match target.kind {
            ComponentKind::Chart => "chart",
            _ => "manifest set",
        };
        let entry = affinities.entry_pointer(&push(at, "affinity"), i);
        return Err(locator
            .error(
                ErrorKind::InvalidValue,
                &push(&entry, "with"),
                format!("the labels of {what} `{}`'s pods are not known", a.with),
            )
            .with_help(format!(
                "set `{section}.{}.selector` to the labels its pods carry, so the affinity term can select them",
                a.with
            )));
    }
    Ok(())
}

fn labels_known(bp: &Blueprint, target: &Component) -> bool {
    match target.kind {
        ComponentKind::App | ComponentKind::Gateway => true,
        ComponentKind::Manifests => !target.selector.is_empty(),
        ComponentKind::Chart => bp.charts.get(&target.name).is_some_and(|c| {
            let release = c.release.as_deref().unwrap_or(&target.name);
            !c.selector.is_empty()
                || known_charts::known(&c.chart, release, &target.namespace).is_some()
        }),
    }
}
