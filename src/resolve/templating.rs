//! Template strings in blueprint and overlay values.
//!
//! Every string holding `{{`, `{%` or `{#` is rendered with `env`, `system`
//! and, inside a component, `app` (its name and layer). Environment entries
//! are not expanded: they are what `env` is made of.

use serde_json::{Value, json};

use super::environments::EnvSettings;
use crate::blueprint::Locator;
use crate::error::{ErrorKind, Result};
use crate::pointer::{Path, Token};
use crate::template;

const COMPONENT_SECTIONS: [&str; 3] = ["apps", "charts", "manifests"];

pub fn expand(merged: &mut Value, settings: &EnvSettings, locator: &Locator) -> Result<()> {
    let system = merged.get("system").cloned().unwrap_or(Value::Null);
    let base = json!({"env": settings.template_context(), "system": system});
    let Value::Object(map) = merged else {
        return Ok(());
    };
    for (section, value) in map.iter_mut() {
        if section == "environments" {
            continue;
        }
        let mut at = Path::default();
        if COMPONENT_SECTIONS.contains(&section.as_str())
            && let Value::Object(components) = value
        {
            for (name, component) in components.iter_mut() {
                let mut context = base.clone();
                let layer = component.get("layer").cloned().unwrap_or(Value::Null);
                context["app"] = json!({"name": name, "layer": layer});
                at.with(Token::Key(section), |at| {
                    at.with(Token::Key(name), |at| {
                        expand_value(component, at, &context, locator)
                    })
                })?;
            }
            continue;
        }
        at.with(Token::Key(section), |at| {
            expand_value(value, at, &base, locator)
        })?;
    }
    Ok(())
}

fn expand_value<'v>(
    value: &'v mut Value,
    at: &mut Path<'v>,
    context: &Value,
    locator: &Locator,
) -> Result<()> {
    match value {
        Value::String(s) if template::is_template(s) => {
            let rendered = template::render(s, context).map_err(|e| {
                let line = match e.line {
                    Some(l) if s.contains('\n') => format!(" (line {l} of the value)"),
                    _ => String::new(),
                };
                locator
                    .error(ErrorKind::Template, &at.pointer(), format!("template does not render{line}: {}", e.message))
                    .with_help(e.help(
                        "templates see `env` (name, cluster, domain, zones, production), `system`, and `app` (name, layer) inside a component; write {% raw %}...{% endraw %} around text meant for another template engine",
                    ))
            })?;
            *s = rendered;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                at.with(Token::Index(i), |at| {
                    expand_value(item, at, context, locator)
                })?;
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                at.with(Token::Key(k), |at| expand_value(v, at, context, locator))?;
            }
        }
        _ => {}
    }
    Ok(())
}
