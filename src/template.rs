//! minijinja, in one place: template strings in blueprints and overlays, and
//! the extra-manifest templates beside the blueprint.
//!
//! Undefined variables are errors (strict mode), and every render runs on a
//! fuel budget, so a mistyped variable names itself and a runaway loop ends.

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// Enough for any honest template; a loop over millions of items runs out.
const FUEL: u64 = 5_000_000;

/// A template failure: the message and, when known, the 1-based line inside the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub line: Option<usize>,
}

fn environment() -> Environment<'static> {
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
    env.render_str(source, ctx).map_err(|err| TemplateError {
        message: describe(&err),
        line: err.line(),
    })
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
        assert!(err.message.contains("undefined"), "{}", err.message);
        let err = render("{{ nope }}", &json!({})).unwrap_err();
        assert!(err.message.contains("undefined"), "{}", err.message);
    }

    #[test]
    fn runaway_loops_run_out_of_fuel() {
        let err = render(
            "{% for i in range(100000000) %}{{ i }}{% endfor %}",
            &json!({}),
        );
        assert!(err.is_err());
    }
}
