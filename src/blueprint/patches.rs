//! RFC 6902 patches on rendered objects, for what the format does not model:
//! the blueprint's `patches:` apply to every environment, an overlay's to its
//! own. Both are written the same way and read here; `render::patches`
//! applies them, the blueprint's first.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::decode::decode;
use super::load::decode_error;
use super::locator::Locator;
use crate::error::Result;
use crate::yaml::Document;

/// RFC 6902 operations for the rendered objects a target selects.
#[derive(Debug, Clone)]
pub struct ObjectPatch {
    pub target: PatchTarget,
    pub operations: Vec<json_patch::PatchOperation>,
    /// Where the patch is written, for errors: the blueprint or an overlay, and `/patches/<i>`.
    pub doc: Arc<Document>,
    pub pointer: String,
}

impl ObjectPatch {
    /// Written in the blueprint, so applied in every environment.
    pub fn is_for_every_environment(&self) -> bool {
        self.doc.file == crate::sources::BLUEPRINT_FILE
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTarget {
    pub kind: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchSpec {
    target: PatchTarget,
    ops: Vec<Value>,
}

/// The patches of `doc`'s `patches:` list (`value`), each located in `doc`.
pub fn read_patches(doc: &Arc<Document>, value: Option<&Value>) -> Result<Vec<ObjectPatch>> {
    let value = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(value) => value,
    };
    let locator = Locator::new(vec![doc.clone()]);
    let specs: Vec<PatchSpec> = decode(value, "/patches").map_err(|e| decode_error(e, &locator))?;
    let mut patches = Vec::with_capacity(specs.len());
    for (i, spec) in specs.into_iter().enumerate() {
        let pointer = format!("/patches/{i}");
        let mut operations = Vec::with_capacity(spec.ops.len());
        for (j, op) in spec.ops.iter().enumerate() {
            let at = format!("{pointer}/ops/{j}");
            let operation: json_patch::PatchOperation =
                decode(op, &at).map_err(|e| decode_error(e, &locator))?;
            operations.push(operation);
        }
        patches.push(ObjectPatch {
            target: spec.target,
            operations,
            doc: doc.clone(),
            pointer,
        });
    }
    Ok(patches)
}

/// The JSON Schema of a `patches:` list, blueprint's and overlay's alike.
pub fn schema(description: &str) -> Value {
    let target = serde_json::to_value(
        schemars::generate::SchemaSettings::draft07()
            .into_generator()
            .into_root_schema_for::<PatchTarget>(),
    )
    .unwrap_or(Value::Null);
    let mut target = target;
    if let Value::Object(map) = &mut target {
        map.remove("$schema");
        map.remove("title");
    }
    json!({
        "description": description,
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": false,
            "required": ["target", "ops"],
            "properties": {
                "target": target,
                "ops": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["op", "path"],
                        "properties": {
                            "op": {"enum": ["add", "remove", "replace", "move", "copy", "test"]},
                            "path": {"type": "string"},
                            "from": {"type": "string"},
                            "value": {},
                        },
                    },
                },
            },
        },
    })
}

/// The blueprint's `patches:` in its JSON Schema.
pub(super) fn blueprint_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    // The field's doc comment gives the description.
    let value = schema("");
    schemars::Schema::try_from(value).unwrap_or_default()
}
