//! Overlays' RFC 6902 operations, applied to the rendered objects they select.

use json_patch::PatchOperation;

use super::EnvManifests;
use super::object::{Object, PatchedField};
use crate::blueprint::{Locator, ObjectPatch};
use crate::error::{ErrorKind, Result};
use crate::resolve::ResolvedEnv;

/// Applies every patch of the environment; a patch that selects nothing is an error.
pub fn apply(env: &ResolvedEnv, manifests: &mut EnvManifests) -> Result<()> {
    for patch in &env.patches {
        apply_one(patch, manifests)?;
    }
    Ok(())
}

/// Remembers which fields the patch wrote, so the final checks can name the
/// operation that produced a value they refuse.
fn record_writes(patch: &ObjectPatch, locator: &Locator, object: &mut Object) {
    for (i, op) in patch.operations.iter().enumerate() {
        if matches!(op, PatchOperation::Test(_)) {
            continue;
        }
        let origin = locator.value(&format!("{}/ops/{i}", patch.pointer));
        object.patched.push(PatchedField {
            path: op.path().to_string(),
            origin,
        });
    }
}

fn apply_one(patch: &ObjectPatch, manifests: &mut EnvManifests) -> Result<()> {
    let locator = Locator::new(vec![patch.doc.clone()]);
    let target = &patch.target;
    let mut matched = 0;
    for object in manifests.objects_mut() {
        let id = object.id().clone();
        let selected = id.kind == target.kind
            && target.name.as_ref().is_none_or(|n| *n == id.name)
            && target
                .namespace
                .as_ref()
                .is_none_or(|ns| Some(ns) == id.namespace.as_ref());
        if !selected {
            continue;
        }
        matched += 1;
        json_patch::patch(&mut object.value, &patch.operations).map_err(|e| {
            let at = format!("{}/ops/{}/path", patch.pointer, e.operation);
            locator
                .error(ErrorKind::Patch, &at, format!("patch cannot be applied to {}: {} at `{}`", id.display(), e.kind, e.path))
                .with_help("RFC 6902 `add` needs the parent to exist, `replace`, `remove` and `test` need the path itself")
        })?;
        object.refresh();
        record_writes(patch, &locator, object);
    }
    if matched == 0 {
        let what = format!(
            "{}{}{}",
            target.kind,
            target
                .namespace
                .as_ref()
                .map(|n| format!(" in namespace `{n}`"))
                .unwrap_or_default(),
            target
                .name
                .as_ref()
                .map(|n| format!(" named `{n}`"))
                .unwrap_or_default()
        );
        return Err(locator
            .error(
                ErrorKind::Patch,
                &format!("{}/target", patch.pointer),
                format!(
                    "patch target selects no object: no {what} is rendered in this environment"
                ),
            )
            .with_help("check the kind, name and namespace against the rendered tree"));
    }
    Ok(())
}
