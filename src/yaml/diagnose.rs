//! The parser's errors as gitopsc's: a syntax error or a broken budget
//! located at its line and column with the offending text, and the integer
//! literals YAML 1.1 readers would read differently, refused with both fixes.

use super::nodes::narrow;
use crate::error::{Error, ErrorKind, Origin};

pub(super) fn syntax_error(file: &str, text: &str, err: &serde_saphyr::Error) -> Error {
    use serde_saphyr::Error as E;
    let origin = match err.location() {
        Some(loc) if loc.line() > 0 => {
            Origin::in_text(file, text, narrow(loc.line()), narrow(loc.column()), 1)
        }
        _ => Origin::file_start(file),
    };
    const LIMITS: &str =
        "a hand-written blueprint never needs this much; is the file generated, or an alias bomb?";
    let (message, help) = match err {
        E::Budget { breach, .. } => (budget_message(breach), LIMITS),
        E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => {
            ("aliases expand into too much data".to_string(), LIMITS)
        }
        E::DuplicateMappingKey { .. } => (
            strip_location_prefix(err.to_string().trim()),
            "each key may appear once in a mapping; remove or merge the repeated key",
        ),
        E::RecursiveReferencesRequireWeakTypes { .. } => (
            "an alias refers to the node that contains it".to_string(),
            "YAML aliases may not be recursive",
        ),
        _ => {
            let message = strip_location_prefix(err.to_string().trim());
            // The scanner reports these as free text only.
            let help = if message.contains("tab") {
                "YAML indents with spaces only; replace the tab with spaces"
            } else if message.contains("recursion limit") {
                return Error::at(
                    ErrorKind::Syntax,
                    origin,
                    "invalid YAML: nesting is too deep",
                )
                .with_help(LIMITS);
            } else {
                "fix the YAML syntax at the marked position"
            };
            (message, help)
        }
    };
    Error::at(
        ErrorKind::Syntax,
        origin,
        format!("invalid YAML: {message}"),
    )
    .with_help(help)
}

fn budget_message(breach: &serde_saphyr::budget::BudgetBreach) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    match breach {
        B::Depth { .. } => "nesting is too deep (more than 64 levels)".to_string(),
        B::Nodes { .. } => "the document expands into too many nodes".to_string(),
        B::Aliases { .. } | B::Anchors { .. } => {
            "the document uses too many aliases or anchors".to_string()
        }
        B::Documents { .. } => "the file holds too many documents".to_string(),
        other => format!("the document exceeds a size limit ({other:?})"),
    }
}

/// serde-saphyr prefixes messages with `error: line L column C: `; the origin carries that.
fn strip_location_prefix(message: &str) -> String {
    let message = message.strip_prefix("error: ").unwrap_or(message);
    if let Some(rest) = message.strip_prefix("line ")
        && let Some(idx) = rest.find(": ")
    {
        let head = &rest[..idx];
        if head.contains("column") {
            return rest[idx + 2..].to_string();
        }
    }
    message.to_string()
}

/// An integer literal the parser could only read as a float: a leading zero
/// (`0755` is 755 in YAML 1.2 but octal 493 in the YAML 1.1 that Kubernetes
/// and Helm read) or digits beyond 64 bits. Either would silently change the
/// number, so it is refused with the two ways to say it.
pub(super) fn integer_written_as_float(
    text: &str,
    line: u32,
    column: u32,
) -> Option<(String, String)> {
    let source = text.lines().nth(line.saturating_sub(1) as usize)?;
    let token: String = source
        .chars()
        .skip(column.saturating_sub(1) as usize)
        .take_while(|c| !(c.is_whitespace() || ",]}#".contains(*c)))
        .collect();
    let digits = token.trim_start_matches(['-', '+']);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return Some((
            format!(
                "`{token}` has a leading zero: YAML 1.2 reads it as decimal, Kubernetes and Helm (YAML 1.1) as octal"
            ),
            format!(
                "write `0o{}` for octal, the decimal number without the zero, or `\"{token}\"` for text",
                digits.trim_start_matches('0')
            ),
        ));
    }
    Some((
        format!("`{token}` does not fit in 64 bits and would lose digits"),
        format!("quote it (`\"{token}\"`) if it is an identifier, or use a smaller number"),
    ))
}
