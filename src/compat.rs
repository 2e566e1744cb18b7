//! Operator compatibility: every custom resource in an environment's output
//! uses an API version that the pinned chart of its operator serves.
//!
//! Runs after patches, on the final objects, so what gitopsc writes, what
//! templates write and what overlays patch in are judged alike. The facts are
//! the table in [`catalog`](crate::blueprint::catalog); a chart the table does
//! not know, or an API version it does not list, is not judged. Knows nothing
//! of engines or files.

use crate::blueprint::catalog::{self, KnownChart};
use crate::error::{Error, ErrorKind, Result};
use crate::pointer::from_tokens;
use crate::render::EnvManifests;
use crate::resolve::ResolvedEnv;

/// The first object (in directory, then object order) whose API version the
/// chart that serves its group cannot serve, as an error at that chart's version.
pub fn check(env: &ResolvedEnv, manifests: &EnvManifests) -> Result<()> {
    let charts: Vec<(&String, &crate::blueprint::Chart, &KnownChart)> = env
        .blueprint
        .charts
        .iter()
        .filter_map(|(name, chart)| catalog::known(chart).map(|k| (name, chart, k)))
        .collect();
    if charts.is_empty() {
        return Ok(());
    }
    for (dir, unit) in &manifests.units {
        for object in &unit.objects {
            let id = object.id();
            for (name, chart, known) in &charts {
                // A chart that says which groups it provides is judged on those
                // only, so a chart that shares a known chart's name is not
                // mistaken for it.
                if !chart.provides.is_empty() && !chart.provides.iter().any(|g| g == id.group()) {
                    continue;
                }
                let version = chart.version.0.as_str();
                if let Err(first_good) = catalog::check_served(known, version, &id.api_version) {
                    return Err(unserved(env, name, version, known, id, dir, first_good));
                }
            }
        }
    }
    Ok(())
}

fn unserved(
    env: &ResolvedEnv,
    name: &str,
    version: &str,
    known: &KnownChart,
    id: &crate::render::ObjectId,
    dir: &str,
    first_good: Option<&str>,
) -> Error {
    let at = from_tokens(["charts", name, "version"]);
    let api = &id.api_version;
    let message = format!(
        "chart `{name}` {version} does not serve `{api}`, which `{}` in `{dir}` uses",
        id.display()
    );
    let help = match first_good {
        Some(good) => format!(
            "{} serves `{api}` from chart version {good}: pin {good} or later (see {})",
            known.operator, known.source
        ),
        None => format!(
            "{} no longer serves `{api}` at chart version {version}: write a served API version, or pin an older chart (see {})",
            known.operator, known.source
        ),
    };
    env.locator
        .error(ErrorKind::InvalidValue, &at, message)
        .with_help(help)
}
