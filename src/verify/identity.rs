//! Identity: every object keeps the apiVersion, kind, name and namespace it
//! was rendered with, has its metadata, and no two objects are the same
//! resource (kustomize refuses to build such a tree, and one would silently
//! overwrite the other on the cluster).

use std::collections::HashSet;

use super::Violation;
use crate::error::ErrorKind;
use crate::render::{EnvManifests, Object, Unit};

pub type Found<'a> = (&'a Unit, &'a Object, Violation);

pub fn check(manifests: &EnvManifests) -> Result<(), Found<'_>> {
    // Keys borrowed from the objects: no copy of four strings per object. A
    // hash set, not an ordered one: the objects are visited in their fixed
    // order, so the duplicate reported is the same either way, and ordering
    // keys that share long prefixes was a twentieth of a render.
    let objects = manifests.units.values().map(|u| u.objects.len()).sum();
    let mut seen: HashSet<(&str, &str, Option<&str>, &str)> = HashSet::with_capacity(objects);
    for unit in manifests.units.values() {
        for object in &unit.objects {
            if let Some(v) = changed(object) {
                return Err((unit, object, v));
            }
            let id = object.id();
            let key = (
                id.group(),
                id.kind.as_str(),
                id.namespace.as_deref(),
                id.name.as_str(),
            );
            if !seen.insert(key) {
                return Err((
                    unit,
                    object,
                    Violation::new(
                        ErrorKind::InvalidValue,
                        "/metadata/name",
                        "two objects are the same resource",
                        "give each object its own name (a template may render a name the blueprint already renders)",
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A patch that renamed, moved or re-kinded the object, or took its metadata.
fn changed(object: &Object) -> Option<Violation> {
    let (now, was) = (object.id(), object.rendered_id());
    let help = "patches change fields of an object, never which object it is: change the blueprint instead";
    let metadata_ok = object.value.get("metadata").is_some_and(|m| m.is_object());
    if !metadata_ok || now.name.is_empty() {
        return Some(Violation::new(
            ErrorKind::Patch,
            "/metadata",
            "the object has no `metadata.name`",
            help,
        ));
    }
    let fields = [
        ("/apiVersion", &now.api_version, &was.api_version),
        ("/kind", &now.kind, &was.kind),
        ("/metadata/name", &now.name, &was.name),
    ];
    for (path, now, was) in fields {
        if now != was {
            return Some(Violation::new(
                ErrorKind::Patch,
                path,
                format!("a patch changes `{path}` from `{was}` to `{now}`"),
                help,
            ));
        }
    }
    if now.namespace != was.namespace {
        return Some(Violation::new(
            ErrorKind::Patch,
            "/metadata/namespace",
            format!(
                "a patch moves the object from namespace `{}` to `{}`",
                was.namespace.as_deref().unwrap_or("(none)"),
                now.namespace.as_deref().unwrap_or("(none)")
            ),
            help,
        ));
    }
    None
}
