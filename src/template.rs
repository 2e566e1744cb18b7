//! minijinja, in one place: template strings in blueprints and overlays, and
//! the extra-manifest templates beside the blueprint.
//!
//! Undefined variables are errors (strict mode), and every render runs on a
//! fuel budget, so a mistyped variable names itself and a runaway loop ends.

use std::collections::BTreeSet;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// Enough for any honest template; a loop over millions of items runs out.
const FUEL: u64 = 5_000_000;

/// A template failure: the message and, when known, the 1-based line inside the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub line: Option<usize>,
    /// For an undefined variable, the closest name that is defined: `did you mean ...?`.
    pub suggestion: Option<String>,
}

impl TemplateError {
    /// The help line: the defined name closest to an undefined one first,
    /// then what the templates of this kind can see.
    pub fn help(&self, what_templates_see: &str) -> String {
        match &self.suggestion {
            Some(name) => format!("did you mean `{name}`? {what_templates_see}"),
            None => what_templates_see.to_string(),
        }
    }
}

/// The one environment every render shares: building one registers every
/// filter, test and function minijinja has, which cost more than rendering
/// a host name did, thousands of times per compile. Rendering takes it
/// shared (`render_str` adds nothing to it), and the fuel is counted per
/// render, not per environment.
fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    ENVIRONMENT.get_or_init(configured)
}

fn configured() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(64);
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env.set_debug(false);
    env
}

/// True when `s` holds template syntax and must be rendered.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// Renders `source` with `context`; strict about undefined variables.
pub fn render<C: Serialize>(source: &str, context: &C) -> Result<String, TemplateError> {
    let env = environment();
    let ctx = minijinja::Value::from(minijinja::value::Serde(context));
    env.render_str(source, ctx).map_err(|err| {
        let undefined = (err.kind() == minijinja::ErrorKind::UndefinedError)
            .then(|| first_undefined(env, source, context))
            .flatten();
        match undefined {
            Some(missing) => TemplateError {
                message: format!("`{}` is not defined", missing.path),
                line: err.line(),
                suggestion: missing.suggestion,
            },
            None => TemplateError {
                message: describe(&err),
                line: err.line(),
                suggestion: None,
            },
        }
    })
}

/// A variable path the template reads that the context does not hold.
struct Missing {
    path: String,
    suggestion: Option<String>,
}

/// minijinja's strict mode says only "undefined value"; the template's own
/// variable paths, walked through the context, say which one. Paths are
/// tried in sorted order so the answer does not depend on hashing.
fn first_undefined<C: Serialize>(env: &Environment, source: &str, context: &C) -> Option<Missing> {
    let context = serde_json::to_value(context).ok()?;
    let template = env.template_from_str(source).ok()?;
    let globals: BTreeSet<String> = env.globals().map(|(name, _)| name.to_string()).collect();
    let paths: BTreeSet<String> = template.undeclared_variables(true).into_iter().collect();
    paths
        .iter()
        .filter(|path| !globals.contains(path.split('.').next().unwrap_or_default()))
        .find_map(|path| missing_in(&context, path))
}

/// The first segment of `path` that `context` lacks, with the closest sibling.
fn missing_in(context: &serde_json::Value, path: &str) -> Option<Missing> {
    let mut current = context;
    let mut walked: Vec<&str> = Vec::new();
    for segment in path.split('.') {
        match current.get(segment) {
            Some(next) => {
                walked.push(segment);
                current = next;
            }
            None => {
                let siblings: Vec<&str> = current
                    .as_object()
                    .map(|m| m.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                let prefix = |name: &str| {
                    let mut parts = walked.clone();
                    parts.push(name);
                    parts.join(".")
                };
                return Some(Missing {
                    path: prefix(segment),
                    suggestion: crate::suggest::closest(segment, siblings).map(prefix),
                });
            }
        }
    }
    None
}

fn describe(err: &minijinja::Error) -> String {
    let kind = err.kind().to_string();
    match err.detail() {
        Some(detail) => format!("{kind}: {detail}"),
        None => kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_variables() {
        let out = render(
            "api.{{ env.domain }}",
            &json!({"env": {"domain": "dev.acme.io"}}),
        )
        .unwrap();
        assert_eq!(out, "api.dev.acme.io");
    }

    #[test]
    fn undefined_variables_are_errors() {
        let err = render("{{ env.domian }}", &json!({"env": {"domain": "x"}})).unwrap_err();
        assert!(err.message.contains("not defined"), "{}", err.message);
        let err = render("{{ nope }}", &json!({})).unwrap_err();
        assert!(err.message.contains("not defined"), "{}", err.message);
    }

    #[test]
    fn an_undefined_variable_is_named_with_the_closest_defined_one() {
        let context = json!({"env": {"domain": "x", "zones": []}, "values": null});
        let err = render("a {{ env.domian }}", &context).unwrap_err();
        assert_eq!(err.message, "`env.domian` is not defined");
        assert_eq!(err.suggestion.as_deref(), Some("env.domain"));
        let err = render(
            "{% for z in env.zones %}{{ z }}{% endfor %}{{ values.size }}",
            &context,
        )
        .unwrap_err();
        assert_eq!(err.message, "`values.size` is not defined");
        assert_eq!(err.suggestion, None);
        let err = render(
            "{{ range(2) | length }}{{ sytem.name }}",
            &json!({"system": {"name": "s"}}),
        )
        .unwrap_err();
        assert_eq!(err.message, "`sytem` is not defined");
        assert_eq!(err.suggestion.as_deref(), Some("system"));
    }

    #[test]
    fn runaway_loops_run_out_of_fuel() {
        let err = render(
            "{% for i in range(100000000) %}{{ i }}{% endfor %}",
            &json!({}),
        );
        assert!(err.is_err());
    }

    #[test]
    fn each_render_has_its_own_fuel() {
        // The environment is shared, the budget is not: renders that together
        // burn more than one budget each succeed, also after one ran out.
        // minijinja's `set_fuel`: "Fuel consumed per-render".
        let loop_of = |n: u64| format!("{{% for i in range({n}) %}}{{{{ i }}}}{{% endfor %}}");
        let fits = |n: u64| render(&loop_of(n), &json!({})).is_ok();
        // The longest loop (by doubling) that one budget runs: twice as long
        // runs out, so this one burns more than half a budget.
        let mut n = 1;
        while fits(n * 2) {
            n *= 2;
        }
        assert!(n > 1_000, "{n}");
        for _ in 0..3 {
            assert!(
                fits(n),
                "more than one budget in all, each render within its own"
            );
        }
    }
}
