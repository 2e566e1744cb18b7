//! Which overlays apply to an environment, and the check that an overlay
//! changes or removes only components that exist.
//!
//! `extends` shares an environment's settings; its overlay is inherited only
//! when the environment says `inheritOverlays: true`. That is how Kustomize
//! composes overlays (one builds on another only when it names it as a
//! resource: <https://kubectl.docs.kubernetes.io/references/kustomize/glossary/#overlay>)
//! and how Helm composes value files (each `-f` is listed:
//! <https://helm.sh/docs/chart_template_guide/values_files/>), so a dev
//! overlay's debug settings cannot reach prod through a chain meant for the
//! cluster and domain settings.

use serde_json::Value;

use crate::blueprint::{Locator, Overlay, Project};
use crate::error::{Error, ErrorKind, Result};
use crate::pointer;
use crate::suggest;

/// The environments of `chain` (root first) whose overlays apply, root first:
/// the environment itself, and its ancestors for as long as each link says
/// `inheritOverlays: true`.
pub fn overlay_chain(project: &Project, chain: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for env in chain.iter().rev() {
        let inherits = project
            .environments
            .get(env)
            .is_some_and(|e| e.inherit_overlays);
        out.insert(0, env.clone());
        if !inherits {
            break;
        }
        let has_parent = project
            .environments
            .get(env)
            .is_some_and(|e| e.extends.is_some());
        if !has_parent {
            let at = pointer::from_tokens(["environments", env.as_str(), "inheritOverlays"]);
            return Err(Locator::new(vec![project.blueprint.clone()])
                .error(
                    ErrorKind::InvalidValue,
                    &at,
                    format!("environment `{env}` inherits overlays but extends no environment"),
                )
                .with_help("add `extends: <environment>`, or remove `inheritOverlays`"));
        }
    }
    Ok(out)
}

/// The sections whose entries an overlay changes by name.
const COMPONENT_SECTIONS: [(&str, &str); 3] = [
    ("apps", "app"),
    ("charts", "chart"),
    ("manifests", "manifest set"),
];

/// An overlay entry for a component the blueprint (and the overlays before
/// this one) do not define is a typo unless it is a whole new component, which
/// names its `layer`; a removal (`null`) of one is a typo always.
pub fn check_component_names(before: &Value, overlay: &Overlay) -> Result<()> {
    for (section, what) in COMPONENT_SECTIONS {
        let Some(Value::Object(entries)) = overlay.merge.get(section) else {
            continue;
        };
        let defined = before.get(section).and_then(Value::as_object);
        let known: Vec<&str> = defined
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        for (name, entry) in entries {
            if known.contains(&name.as_str()) {
                continue;
            }
            let adds_a_component = entry.get("layer").is_some();
            if adds_a_component {
                continue;
            }
            let verb = if entry.is_null() {
                "removes"
            } else {
                "changes"
            };
            let at = pointer::from_tokens([section, name.as_str()]);
            let help = match suggest::closest(name, known.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!(
                    "to add {what} `{name}` in this environment only, give it `layer:` and the rest of its keys; {}",
                    suggest::help_for(name, section, known.iter().copied())
                ),
            };
            let origin = Locator::new(vec![overlay.doc.clone()]).key(&at);
            return Err(Error::at(
                ErrorKind::UnknownReference,
                origin,
                format!("the overlay {verb} {what} `{name}`, which is not defined"),
            )
            .with_help(help));
        }
    }
    Ok(())
}
