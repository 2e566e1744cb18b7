//! RFC 6902 operations, applied to the rendered objects they select: the
//! blueprint's (every environment's) first, then the overlays'.
//!
//! A patch can break a rule that every object must keep (the policy stage
//! owns the rules and hands one in as an [`ObjectRule`]): then the error
//! points at the operation that broke it, not at the blueprint the object
//! came from.

use serde_json::Value;

use json_patch::PatchOperation;

use super::EnvManifests;
use super::object::{Object, PatchedField};
use crate::blueprint::{Locator, ObjectPatch};
use crate::error::{Error, ErrorKind, Result};
use crate::resolve::ResolvedEnv;

/// A rule on single objects: what is wrong with one, if anything, and how to fix it.
pub struct ObjectRule<'a> {
    pub problem: &'a dyn Fn(&Value) -> Option<String>,
    pub help: &'a str,
}

/// Applies every patch of the environment; a patch that selects nothing, or
/// that makes an object break `rule`, is an error at the patch.
pub fn apply(env: &ResolvedEnv, manifests: &mut EnvManifests, rule: &ObjectRule) -> Result<()> {
    for patch in &env.patches {
        apply_one(patch, manifests, rule)?;
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

fn apply_one(patch: &ObjectPatch, manifests: &mut EnvManifests, rule: &ObjectRule) -> Result<()> {
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
        // Only an object that kept the rule before can be broken by this patch.
        let before = (rule.problem)(&object.value)
            .is_none()
            .then(|| object.value.clone());
        json_patch::patch(&mut object.value, &patch.operations).map_err(|e| {
            let at = format!("{}/ops/{}/path", patch.pointer, e.operation);
            locator
                .error(ErrorKind::Patch, &at, format!("patch cannot be applied to {}: {} at `{}`", id.display(), e.kind, e.path))
                .with_help("RFC 6902 `add` needs the parent to exist, `replace`, `remove` and `test` need the path itself")
        })?;
        object.refresh();
        record_writes(patch, &locator, object);
        if let Some(before) = before
            && let Some(problem) = (rule.problem)(&object.value)
        {
            return Err(broken_rule(patch, &locator, &before, rule, &id, &problem));
        }
    }
    if matched == 0 {
        return Err(selects_nothing(patch, &locator));
    }
    Ok(())
}

/// The error at the first operation after which `before` breaks the rule.
fn broken_rule(
    patch: &ObjectPatch,
    locator: &Locator,
    before: &Value,
    rule: &ObjectRule,
    id: &super::ObjectId,
    problem: &str,
) -> Error {
    let mut value = before.clone();
    let culprit = patch.operations.iter().position(|op| {
        json_patch::patch(&mut value, std::slice::from_ref(op)).is_ok()
            && (rule.problem)(&value).is_some()
    });
    let at = match culprit {
        Some(j) => format!("{}/ops/{j}", patch.pointer),
        None => patch.pointer.clone(),
    };
    locator
        .error(
            ErrorKind::Policy,
            &at,
            format!("after this patch, {} {problem}", id.display()),
        )
        .with_help(rule.help)
}

fn selects_nothing(patch: &ObjectPatch, locator: &Locator) -> Error {
    let target = &patch.target;
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
    let help = if patch.is_for_every_environment() {
        "a blueprint patch applies in every environment: check the kind, name and namespace against this environment's rendered tree, or move the patch to the overlays of the environments that render its target"
    } else {
        "check the kind, name and namespace against the rendered tree"
    };
    locator
        .error(
            ErrorKind::Patch,
            &format!("{}/target", patch.pointer),
            format!("patch target selects no object: no {what} is rendered in this environment"),
        )
        .with_help(help)
}
