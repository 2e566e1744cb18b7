//! `defaults.apps`: keys every app starts from, merged under each app's own
//! value before the app is decoded, so an app is checked and rendered exactly
//! as if it had written the default itself.
//!
//! Maps merge deeply, the app's keys winning (RFC 7386 with the app as the
//! patch over the default: <https://www.rfc-editor.org/rfc/rfc7386>), so a
//! default `env` or `resources.limits` gains the app's entries. Lists are
//! replaced whole (`command`, `args`, `rbac`), as a merge patch and a Helm
//! value file replace them, except the lists that are sets of names, which
//! the app extends: [`APPENDED`]. `null` in an app drops a default's key for
//! that app. What came from the default is located at the default, through
//! the aliases [`apply`] returns.

use serde_json::{Map, Value};

use crate::pointer::{Lookup, from_tokens, push};

/// App lists that are sets: the app's own items, then the default's it lacks.
/// `uses: [otel-collector]` as a default is an edge every app needs beside
/// its own; replacing would make every app that talks to anything repeat it.
pub const APPENDED: [&str; 3] = ["uses", "peers", "writable"];

const DEFAULTS_AT: &str = "/defaults/apps";

/// Merges `defaults.apps` under every app of `blueprint` and removes it.
/// `removed` lists pointers an overlay set to `null` under `/apps`: a key an
/// overlay removes stays removed rather than coming back from the default.
/// Returns aliases, `(written at, read from)` pointer prefixes, most specific
/// first, for the locator.
pub fn apply(blueprint: &mut Value, removed: &[String]) -> Vec<(String, String)> {
    let defaults = match blueprint.at_mut("/defaults") {
        Some(Value::Object(map)) => map.remove("apps"),
        _ => None,
    };
    let Some(Value::Object(defaults)) = defaults else {
        return Vec::new();
    };
    let Some(Value::Object(apps)) = blueprint.get_mut("apps") else {
        return Vec::new();
    };
    let mut items = Vec::new();
    let mut whole = Vec::new();
    for (name, app) in apps.iter_mut() {
        let Value::Object(own) = app else {
            continue;
        };
        let at = from_tokens(["apps", name.as_str()]);
        let mut merged = Value::Object(defaults.clone());
        let mut patch = own.clone();
        for key in APPENDED {
            let Some(Value::Array(extra)) = defaults.get(key) else {
                continue;
            };
            let Some(Value::Array(list)) = own.get(key) else {
                // Absent: the default's list, at the same indices. `null`: none.
                continue;
            };
            let mut list = list.clone();
            for (j, item) in extra.iter().enumerate() {
                if !list.contains(item) {
                    items.push((
                        push(&push(&at, key), &list.len().to_string()),
                        push(&push(DEFAULTS_AT, key), &j.to_string()),
                    ));
                    list.push(item.clone());
                }
            }
            patch.insert(key.to_string(), Value::Array(list));
        }
        json_patch::merge(&mut merged, &Value::Object(patch));
        for pointer in removed {
            if pointer.starts_with(&format!("{at}/")) && app.at(pointer_in(&at, pointer)).is_none()
            {
                remove(&mut merged, pointer_in(&at, pointer));
            }
        }
        *app = merged;
        whole.push((at, DEFAULTS_AT.to_string()));
    }
    items.extend(whole);
    items
}

/// `pointer` relative to the app at `at`.
fn pointer_in<'a>(at: &str, pointer: &'a str) -> &'a str {
    &pointer[at.len()..]
}

fn remove(value: &mut Value, pointer: &str) {
    let (parent, key) = match pointer.rfind('/') {
        Some(i) => (&pointer[..i], &pointer[i + 1..]),
        None => return,
    };
    let key = key.replace("~1", "/").replace("~0", "~");
    if let Some(Value::Object(map)) = value.at_mut(parent) {
        map.remove(&key);
    }
}

/// Pointers under `/apps` that `overlay` sets to `null`.
pub fn nulls_under_apps(overlay: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Value::Object(apps)) = overlay.get("apps") {
        for (name, app) in apps {
            if let Value::Object(map) = app {
                collect_nulls(map, &from_tokens(["apps", name.as_str()]), &mut out);
            }
        }
    }
    out
}

fn collect_nulls(map: &Map<String, Value>, at: &str, out: &mut Vec<String>) {
    for (key, value) in map {
        let here = push(at, key);
        match value {
            Value::Null => out.push(here),
            Value::Object(inner) => collect_nulls(inner, &here, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn applied(mut blueprint: Value, removed: &[&str]) -> (Value, Vec<(String, String)>) {
        let removed: Vec<String> = removed.iter().map(|s| s.to_string()).collect();
        let aliases = apply(&mut blueprint, &removed);
        (blueprint, aliases)
    }

    #[test]
    fn maps_merge_deeply_and_the_app_wins() {
        let (bp, _) = applied(
            json!({"defaults": {"apps": {"env": {"A": "1", "B": "1"}, "resources": {"limits": {"memory": "1Gi"}}}},
                   "apps": {"x": {"env": {"B": "2"}, "resources": {"limits": {"cpu": "1"}}}}}),
            &[],
        );
        assert_eq!(bp["apps"]["x"]["env"], json!({"A": "1", "B": "2"}));
        assert_eq!(
            bp["apps"]["x"]["resources"]["limits"],
            json!({"memory": "1Gi", "cpu": "1"})
        );
        assert!(bp["defaults"].get("apps").is_none(), "applied, then gone");
    }

    #[test]
    fn name_lists_append_without_repeats_and_other_lists_replace() {
        let (bp, aliases) = applied(
            json!({"defaults": {"apps": {"uses": ["otel", "dns"], "args": ["--a"]}},
                   "apps": {"x": {"uses": ["db", "dns"], "args": ["--b"]}, "y": {}}}),
            &[],
        );
        assert_eq!(bp["apps"]["x"]["uses"], json!(["db", "dns", "otel"]));
        assert_eq!(bp["apps"]["x"]["args"], json!(["--b"]));
        assert_eq!(bp["apps"]["y"]["uses"], json!(["otel", "dns"]));
        assert_eq!(
            aliases[0],
            (
                "/apps/x/uses/2".to_string(),
                "/defaults/apps/uses/0".to_string()
            ),
            "an appended item is located at its default"
        );
        assert!(aliases.contains(&("/apps/y".to_string(), DEFAULTS_AT.to_string())));
    }

    #[test]
    fn null_drops_a_default_and_an_overlay_removal_sticks() {
        let (bp, _) = applied(
            json!({"defaults": {"apps": {"uses": ["otel"], "autoscale": {"min": 2, "max": 4}}},
                   "apps": {"x": {"uses": null}, "y": {}}}),
            &["/apps/y/autoscale"],
        );
        assert!(bp["apps"]["x"].get("uses").is_none());
        assert_eq!(bp["apps"]["x"]["autoscale"]["min"], 2);
        assert!(bp["apps"]["y"].get("autoscale").is_none());
    }
}
