//! JSON Schemas of blueprint and overlay files, for editors.
//!
//! Generated from the serde types with schemars as draft-07, the newest draft
//! the VS Code YAML extension understands. The overlay schema is the blueprint
//! schema with nothing required, `null` allowed everywhere (a merge patch
//! removes with `null`), and its `patches` described as the environment's own
//! (the blueprint's, of the same shape, apply to every environment).

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::blueprint::model::Blueprint;
use crate::pointer::Lookup;

pub fn blueprint() -> Value {
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Blueprint>();
    let mut value = serde_json::to_value(schema).unwrap_or(Value::Null);
    value["title"] = json!("gitopsc blueprint");
    // `defaults.apps` may give an app any key, `layer` and `image` too, so
    // an editor cannot know one is missing; gitopsc's own error names it.
    if let Some(Value::Object(app)) = value.at_mut("/definitions/App") {
        app.remove("required");
    }
    value
}

pub fn overlay() -> Value {
    let mut value = blueprint();
    relax(&mut value);
    value["title"] = json!("gitopsc overlay");
    if let Some(Value::Object(props)) = value.get_mut("properties") {
        for (key, _) in crate::blueprint::load::BLUEPRINT_ONLY {
            props.remove(key);
        }
    }
    // An overlay with nothing but comments is an empty document: YAML null.
    if let Some(Value::String(kind)) = value.get("type").cloned() {
        value["type"] = json!([kind, "null"]);
    }
    value["properties"]["patches"] = crate::blueprint::patches::schema(
        "RFC 6902 operations on the rendered objects a target selects, in this environment: applied after the blueprint's.",
    );
    value
}

fn nullable(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "null"}]})
}

/// Nothing required, `null` allowed for every property and map entry.
fn relax(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    map.remove("required");
    if let Some(Value::Object(props)) = map.get_mut("properties") {
        let relaxed: Map<String, Value> = props
            .iter()
            .map(|(k, v)| {
                let mut v = v.clone();
                relax(&mut v);
                (k.clone(), nullable(v))
            })
            .collect();
        *props = relaxed;
    }
    if let Some(extra) = map.get_mut("additionalProperties")
        && extra.is_object()
    {
        let mut v = extra.take();
        relax(&mut v);
        *extra = nullable(v);
    }
    for key in ["definitions", "$defs"] {
        if let Some(Value::Object(defs)) = map.get_mut(key) {
            for v in defs.values_mut() {
                relax(v);
            }
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(items)) = map.get_mut(key) {
            for v in items {
                relax(v);
            }
        }
    }
    if let Some(items) = map.get_mut("items") {
        relax(items);
    }
}

/// Pretty JSON with a final newline.
pub fn to_text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blueprint_schema_requires_and_closes() {
        let s = blueprint();
        assert_eq!(s["$schema"], "http://json-schema.org/draft-07/schema#");
        let required: Vec<&str> = s["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(required.contains(&"system") && required.contains(&"layers"));
        assert!(s.at("/definitions/App/properties/layer").is_some());
        assert!(s.at("/definitions/App/required").is_none());
        assert_eq!(s["additionalProperties"], json!(false));
        // The blueprint's own patches: the overlay's shape, one list for every environment.
        let patches = &s["properties"]["patches"];
        assert_eq!(patches["type"], "array");
        assert_eq!(
            patches["items"],
            overlay()["properties"]["patches"]["items"]
        );
    }

    #[test]
    fn the_overlay_schema_requires_nothing_and_allows_null() {
        let s = overlay();
        assert!(s.get("required").is_none());
        assert!(s["properties"]["patches"].is_object());
        assert!(
            s["properties"].get("environments").is_none(),
            "overlays cannot set environments"
        );
        let apps = &s["properties"]["apps"]["anyOf"];
        assert_eq!(apps[1], json!({"type": "null"}));
        assert!(!to_text(&s).contains("\"required\": [\n    \"system\""));
    }
}
