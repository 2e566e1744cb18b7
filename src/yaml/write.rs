//! The canonical YAML printer of rendered output.
//!
//! Key order is decided here, not by whoever built the value: a fixed rank for
//! `apiVersion`, `kind`, `metadata`, `name`, `namespace`, then byte order. A
//! string is printed plain only when every YAML 1.1 and 1.2 reader takes it for
//! the same string; otherwise it is double-quoted, or a literal block when it
//! spans lines. Sequences are not indented under their key, as kubectl prints.

use serde_json::Value;

/// Prints one object as a YAML document (no leading `---`), ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    push_yaml(&mut out, value);
    out
}

/// [`to_yaml`], appended to `out`: a stream of documents is printed into
/// one string, not each into its own and then copied.
pub fn push_yaml(out: &mut String, value: &Value) {
    let stack = &mut Vec::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(out, stack, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(out, stack, items, 0),
        scalar => {
            write_inline(out, scalar, 0);
            out.push('\n');
        }
    }
}

/// Keys printed first, in this order: the first three only at the top of an object.
const TOP_KEYS: [&str; 3] = ["apiVersion", "kind", "metadata"];
const LEADING_KEYS: [&str; 2] = ["name", "namespace"];

fn rank(key: &str, top: bool) -> usize {
    if top && let Some(i) = TOP_KEYS.iter().position(|k| *k == key) {
        return i;
    }
    match LEADING_KEYS.iter().position(|k| *k == key) {
        Some(i) => TOP_KEYS.len() + i,
        None => TOP_KEYS.len() + LEADING_KEYS.len(),
    }
}

/// A map entry with its key's rank.
type Entry<'a> = (usize, &'a String, &'a Value);

/// Pushes the entries of `map` onto `stack` in print order (the leading
/// keys, then the rest in byte order, whatever order the map was built in)
/// and returns where they start. One stack serves the whole document: each
/// map's entries sit above its parent's until it is printed, so printing
/// allocates no list per map.
fn push_ordered<'a>(
    stack: &mut Vec<Entry<'a>>,
    map: &'a serde_json::Map<String, Value>,
    top: bool,
) -> usize {
    let start = stack.len();
    // Each key ranked once, not once per comparison.
    stack.extend(map.iter().map(|(k, v)| (rank(k, top), k, v)));
    stack[start..].sort_unstable_by(|(ra, a, _), (rb, b, _)| ra.cmp(rb).then_with(|| a.cmp(b)));
    start
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_map<'a>(
    out: &mut String,
    stack: &mut Vec<Entry<'a>>,
    map: &'a serde_json::Map<String, Value>,
    level: usize,
) {
    let start = push_ordered(stack, map, level == 0);
    for i in start..stack.len() {
        let (_, key, value) = stack[i];
        indent(out, level);
        push_scalar(out, key);
        out.push(':');
        write_after_key(out, stack, value, level);
    }
    stack.truncate(start);
}

/// Writes the value that follows `key:` (the key is already printed).
fn write_after_key<'a>(
    out: &mut String,
    stack: &mut Vec<Entry<'a>>,
    value: &'a Value,
    level: usize,
) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, stack, map, level + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, stack, items, level);
        }
        _ => {
            out.push(' ');
            write_inline(out, value, level + 2);
            out.push('\n');
        }
    }
}

fn write_seq<'a>(out: &mut String, stack: &mut Vec<Entry<'a>>, items: &'a [Value], level: usize) {
    for item in items {
        indent(out, level);
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                // The first entry shares the dash's line; the rest align under it.
                let start = push_ordered(stack, map, false);
                for i in start..stack.len() {
                    let (_, key, value) = stack[i];
                    if i == start {
                        out.push(' ');
                    } else {
                        indent(out, level + 2);
                    }
                    push_scalar(out, key);
                    out.push(':');
                    write_after_key(out, stack, value, level + 2);
                }
                stack.truncate(start);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, stack, inner, level + 2);
            }
            _ => {
                out.push(' ');
                write_inline(out, item, level + 2);
                out.push('\n');
            }
        }
    }
}

/// Scalars and empty collections; `block_indent` is where a literal block's lines go.
fn write_inline(out: &mut String, value: &Value, block_indent: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => {
            if can_be_literal_block(s) {
                write_literal_block(out, s, block_indent);
            } else {
                push_scalar(out, s);
            }
        }
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn can_be_literal_block(s: &str) -> bool {
    s.contains('\n')
        && !s
            .chars()
            .any(|c| (c.is_control() && c != '\n' && c != '\t') || c == '\u{feff}')
        && !s.lines().any(|l| l.ends_with(' ') || l.ends_with('\t'))
        && !s.starts_with('\n')
}

fn write_literal_block(out: &mut String, s: &str, level: usize) {
    out.push('|');
    if s.starts_with(' ') || s.starts_with('\t') {
        out.push('2');
    }
    let trailing_newlines = s.len() - s.trim_end_matches('\n').len();
    match trailing_newlines {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent(out, level);
            out.push_str(line);
        }
    }
}

/// Appends a string as a YAML scalar: plain when unambiguous, double-quoted otherwise.
fn push_scalar(out: &mut String, s: &str) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else {
        out.push_str(&double_quoted(s));
    }
}

#[cfg(test)]
fn scalar_string(s: &str) -> String {
    let mut out = String::new();
    push_scalar(&mut out, s);
    out
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Words that some YAML reader (1.1 or 1.2) takes for a null, a boolean or a number.
const RESERVED_WORDS: &[&str] = &[
    "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n", ".inf", "-.inf", "+.inf",
    ".nan", "<<", "=",
];

/// The bytes a plain scalar may hold: letters, digits and `-_./:@+=,~%$()^ `.
/// A table, as every key and string of the output is tested byte by byte.
const PLAIN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let extra = b"-_./:@+=,~%$()^ ";
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
};

fn is_plain_safe(s: &str) -> bool {
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == b'/' || first == b'_' || first == b'$') {
        // Digits, signs and dots may start numbers, timestamps or sexagesimals;
        // indicators (`-?:,[]{}#&*!|>'"%@`) change the meaning. Quote them all.
        return false;
    }
    if bytes.len() <= 5 && RESERVED_WORDS.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        return false;
    }
    let last = bytes[bytes.len() - 1];
    if last == b' ' || last == b':' {
        return false;
    }
    let mut previous = 0u8;
    for &b in bytes {
        let allowed = PLAIN_BYTES[usize::from(b)];
        // `: ` starts a mapping value, and doubled spaces are lost on reading.
        if !allowed || (b == b' ' && (previous == b':' || previous == b' ')) {
            return false;
        }
        previous = b;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn indents_of_any_depth_are_that_many_spaces() {
        for n in 0..200 {
            let mut out = String::from("x");
            indent(&mut out, n);
            assert_eq!(out, format!("x{}", " ".repeat(n)));
        }
        // Nested 40 deep: the last key is indented 78 spaces.
        let mut deep = json!("leaf");
        for _ in 0..40 {
            deep = json!({ "k": deep });
        }
        let text = to_yaml(&deep);
        assert!(
            text.ends_with(&format!("{}k: leaf\n", " ".repeat(78))),
            "{text}"
        );
    }

    #[test]
    fn documents_pushed_into_one_string_are_each_printed_alone() {
        let a = json!({"kind": "A", "list": [1, {"b": "two words"}]});
        let b = json!({"kind": "B", "text": "line\nline\n"});
        let mut out = String::from("---\n");
        push_yaml(&mut out, &a);
        push_yaml(&mut out, &b);
        assert_eq!(out, format!("---\n{}{}", to_yaml(&a), to_yaml(&b)));
    }

    #[test]
    fn keys_are_ordered_by_rank_then_bytes() {
        let v = json!({"spec": {"b": 1, "a": 2}, "metadata": {"namespace": "x", "name": "web", "labels": {}}, "kind": "K", "apiVersion": "v1"});
        assert_eq!(
            to_yaml(&v),
            "apiVersion: v1\nkind: K\nmetadata:\n  name: web\n  namespace: x\n  labels: {}\nspec:\n  a: 2\n  b: 1\n"
        );
    }

    #[test]
    fn ambiguous_scalars_are_quoted() {
        for s in [
            "on",
            "yes",
            "No",
            "y",
            "~",
            "null",
            "0755",
            "1.0",
            "1e3",
            "2001-01-01",
            "1:20",
            "",
            " x",
            "-x",
            "a: b",
            "#x",
            "x #y",
            "*a",
            "@x",
            ".inf",
            "<<",
            "héllo",
        ] {
            assert!(!is_plain_safe(s), "{s:?} must be quoted");
        }
        for s in [
            "nginx:1.25",
            "app.kubernetes.io/name",
            "https://x.io/a",
            "Deployment",
            "/health",
            "a b",
        ] {
            assert!(is_plain_safe(s), "{s:?} can be plain");
        }
    }

    #[test]
    fn kind_leads_only_at_the_top() {
        let v = json!({"kind": "AppProject", "spec": {"whitelist": [{"kind": "Namespace", "group": ""}]}});
        assert_eq!(
            to_yaml(&v),
            "kind: AppProject\nspec:\n  whitelist:\n  - group: \"\"\n    kind: Namespace\n"
        );
    }

    #[test]
    fn sequences_of_maps_align_under_the_dash() {
        let v = json!({"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "http"}]}]});
        assert_eq!(
            to_yaml(&v),
            "containers:\n- name: a\n  ports:\n  - name: http\n    containerPort: 80\n"
        );
    }

    #[test]
    fn multi_line_strings_become_literal_blocks() {
        let v = json!({"data": {"a": "x\ny\n", "b": "x\ny", "c": "x\n\n", "d": " lead\nx\n"}});
        assert_eq!(
            to_yaml(&v),
            "data:\n  a: |\n    x\n    y\n  b: |-\n    x\n    y\n  c: |+\n    x\n\n  d: |2\n     lead\n    x\n"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(scalar_string("a\u{1}b"), "\"a\\u0001b\"");
        assert_eq!(scalar_string("say \"hi\""), "\"say \\\"hi\\\"\"");
    }
}
