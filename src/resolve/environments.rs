//! Environment settings: `extends` chains and the merged, defaulted result.

use serde_json::{Map, Value};

pub use crate::blueprint::environments::EnvSettings;
use crate::blueprint::load::decode_error;
use crate::blueprint::model::{Environment, NetworkPosture};
use crate::blueprint::routing::RoutingApi;
use crate::blueprint::{Locator, Project, decode::decode};
use crate::error::{ErrorKind, Result};
use crate::pointer::{self, Lookup};
use crate::suggest;

/// `name` and its ancestors by `extends`, root first. A cycle or an unknown
/// parent is an error at the `extends` that causes it.
pub fn extends_chain(project: &Project, name: &str) -> Result<Vec<String>> {
    let envs = &project.environments;
    let locator = Locator::new(vec![project.blueprint.clone()]);
    let mut chain = vec![name.to_string()];
    let mut current = name.to_string();
    while let Some(parent) = envs.get(&current).and_then(|e| e.extends.clone()) {
        let at = pointer::from_tokens(["environments", current.as_str(), "extends"]);
        if !envs.contains_key(&parent) {
            return Err(locator
                .error(
                    ErrorKind::UnknownReference,
                    &at,
                    format!("environment `{current}` extends unknown environment `{parent}`"),
                )
                .with_help(suggest::help_for(
                    &parent,
                    "environments",
                    envs.keys().map(String::as_str),
                )));
        }
        if chain.contains(&parent) {
            let mut cycle: Vec<&str> = chain.iter().map(String::as_str).collect();
            cycle.push(&parent);
            return Err(locator
                .error(
                    ErrorKind::Cycle,
                    &at,
                    format!("`extends` forms a cycle: {}", cycle.join(" -> ")),
                )
                .with_help("an environment cannot inherit from itself; remove one `extends`"));
        }
        chain.push(parent.clone());
        current = parent;
    }
    chain.reverse();
    Ok(chain)
}

/// Merges the chain's environment entries (child over parent, RFC 7386) and applies defaults.
pub fn settings(merged: &Value, chain: &[String], locator: &Locator) -> Result<EnvSettings> {
    let mut combined = Value::Object(Map::new());
    for env in chain {
        let at = pointer::from_tokens(["environments", env.as_str()]);
        let entry = merged.at(&at).cloned().unwrap_or(Value::Null);
        // Each level is checked where it is written, before merging hides where a value came from.
        let _: Environment = decode(&entry, &at).map_err(|e| decode_error(e, locator))?;
        if let Value::Object(mut map) = entry {
            // Which environment an entry builds on is its own business, not its children's.
            map.remove("extends");
            map.remove("inheritOverlays");
            json_patch::merge(&mut combined, &Value::Object(map));
        }
    }
    let name = chain.last().cloned().unwrap_or_default();
    let at = pointer::from_tokens(["environments", name.as_str()]);
    let env: Environment = decode(&combined, &at).map_err(|e| decode_error(e, locator))?;
    let zones = env.zones.unwrap_or_default();
    if let Some(dup) = first_duplicate(&zones) {
        return Err(locator.error(
            ErrorKind::InvalidValue,
            &pointer::push(&at, "zones"),
            format!("zone `{dup}` is listed twice"),
        ));
    }
    Ok(EnvSettings {
        cluster: env.cluster.unwrap_or_else(|| name.clone()),
        domain: env.domain,
        zones,
        network: env.network.unwrap_or(NetworkPosture::Permissive),
        quota: env.quota,
        container_defaults: env.container_defaults,
        production: env.production.unwrap_or(false),
        policy: env.policy.unwrap_or_default(),
        api_server: env.api_server,
        routing: env
            .routing
            .map_or_else(|| system_routing(merged, locator), Ok)?,
        chain: chain.to_vec(),
        name,
    })
}

/// `system.routing`, read before the whole blueprint is decoded.
fn system_routing(merged: &Value, locator: &Locator) -> Result<RoutingApi> {
    let at = "/system/routing";
    match merged.at(at) {
        None | Some(Value::Null) => Ok(RoutingApi::default()),
        Some(value) => decode(value, at).map_err(|e| decode_error(e, locator)),
    }
}

fn first_duplicate(items: &[String]) -> Option<&str> {
    items
        .iter()
        .enumerate()
        .find(|(i, z)| items[..*i].contains(z))
        .map(|(_, z)| z.as_str())
}

impl EnvSettings {
    /// The values templates see as `env`.
    pub fn template_context(&self) -> Value {
        serde_json::json!({
            "name": self.name,
            "cluster": self.cluster,
            "domain": self.domain,
            "zones": self.zones,
            "production": self.production,
        })
    }

    /// Whether a policy rule is on: its explicit setting, else on in production.
    pub fn rule(&self, explicit: Option<bool>) -> bool {
        explicit.unwrap_or(self.production)
    }

    /// Rules too strict for a default (image digests): on only when asked.
    pub fn rule_off_by_default(&self, explicit: Option<bool>) -> bool {
        explicit.unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::load;
    use crate::sources::{BLUEPRINT_FILE, Sources};
    use std::sync::Arc;

    fn project(envs: &str) -> Project {
        let mut s = Sources::new();
        s.insert_text(
            BLUEPRINT_FILE,
            &format!("system: {{name: demo}}\nlayers: [apps]\nenvironments:\n{envs}"),
        );
        load(Arc::new(s)).unwrap()
    }

    #[test]
    fn chains_run_root_first() {
        let p = project(
            "  dev: {zones: [a]}\n  staging: {extends: dev}\n  prod: {extends: staging, zones: [a, b]}\n",
        );
        assert_eq!(
            extends_chain(&p, "prod").unwrap(),
            ["dev", "staging", "prod"]
        );
        let merged = p.blueprint.value.clone();
        let locator = Locator::new(vec![p.blueprint.clone()]);
        let staging = settings(&merged, &extends_chain(&p, "staging").unwrap(), &locator).unwrap();
        assert_eq!(staging.zones, ["a"], "inherited from dev");
        let prod = settings(&merged, &extends_chain(&p, "prod").unwrap(), &locator).unwrap();
        assert_eq!(prod.zones, ["a", "b"], "own setting wins");
        assert_eq!(prod.cluster, "prod");
    }

    #[test]
    fn cycles_name_every_step() {
        let p = project("  a: {extends: b}\n  b: {extends: c}\n  c: {extends: a}\n");
        let err = extends_chain(&p, "a").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Cycle);
        assert!(err.message.contains("a -> b -> c -> a"), "{}", err.message);
    }

    #[test]
    fn unknown_parents_suggest_a_name() {
        let p = project("  dev: {}\n  prod: {extends: deev}\n");
        let err = extends_chain(&p, "prod").unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnknownReference);
        assert_eq!(err.help.as_deref(), Some("did you mean `dev`?"));
        assert_eq!(err.origin.clone().unwrap().line, 5);
    }
}
