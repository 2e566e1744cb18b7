//! Credentials: every string of every final object (data, env, args,
//! annotations, labels, chart values, repository URLs, and config files
//! parsed as YAML or JSON where they parse, line by line where they do not)
//! is judged by [`crate::credential`]. Only references pass: Secrets with
//! literal data (in any spelling of the kind) never leave the compiler.
//!
//! A false positive is waived in the blueprint with a reason, like a policy
//! rule: `waivers: {"credential:existingSecretPasswordKey": "names a key"}`
//! under `defaults` (everywhere) or an app (its objects).

use std::collections::BTreeSet;

use serde_json::Value;

use super::Violation;
use crate::credential::{Finding, mask, named_literal, scan_line, scan_text};
use crate::error::ErrorKind;
use crate::pointer::push;
use crate::render::Object;

pub use crate::credential::WAIVER_PREFIX;

const HELP: &str = "keep credentials in the secret store and reference them (`secrets:` on an app, an ExternalSecret in a template); if this is no credential, waive it with a reason: `waivers: {\"credential:<key>\": <reason>}`";

/// Keys whose values are references or prose in the objects gitopsc writes.
fn exempt(kind: &str, path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let reference = match kind {
        "ExternalSecret" | "ClusterExternalSecret" | "PushSecret" => matches!(
            parts.as_slice(),
            ["", "spec", "data", _, "secretKey" | "remoteRef", ..] | ["", "spec", "dataFrom", ..]
        ),
        "SealedSecret" => matches!(parts.as_slice(), ["", "spec", "encryptedData", ..]),
        _ => false,
    };
    reference
        || matches!(parts.as_slice(), ["", "metadata", "annotations", key] if key.starts_with("gitopsc.io~1waiver.") || key.starts_with("checkov.io~1skip"))
}

/// `waived`: keys waived for this unit; `key_names`: the Secret keys the
/// blueprint declares, which a value may name without being a credential.
pub fn check(
    waived: &BTreeSet<&str>,
    key_names: &BTreeSet<&str>,
    object: &Object,
) -> Result<(), Violation> {
    let kind = object.id().kind.as_str();
    if kind.eq_ignore_ascii_case("Secret") {
        for field in ["data", "stringData"] {
            if object.value.get(field).is_some() {
                return Err(Violation::new(
                    ErrorKind::Secret,
                    format!("/{field}"),
                    "a Secret carries literal data",
                    "secret values never go into Git: reference them from a secret store",
                ));
            }
        }
    }
    let mut walker = Walker {
        kind,
        waived,
        key_names,
    };
    walker.walk(&object.value, "", None)?;
    if kind == "ConfigMap"
        && let Some(Value::Object(files)) = object.value.get("data")
    {
        for (name, content) in files {
            if let Some(text) = content.as_str() {
                walker.config_file(text, &push("/data", name))?;
            }
        }
    }
    Ok(())
}

struct Walker<'a> {
    kind: &'a str,
    waived: &'a BTreeSet<&'a str>,
    key_names: &'a BTreeSet<&'a str>,
}

impl Walker<'_> {
    fn walk(&mut self, value: &Value, at: &str, key: Option<&str>) -> Result<(), Violation> {
        if exempt(self.kind, at) || key.is_some_and(|k| self.waived.contains(k)) {
            return Ok(());
        }
        match value {
            Value::Object(map) => {
                // `{name: DB_PASSWORD, value: ...}` (env entries, Helm `set`): the
                // name is the key the value belongs to.
                let named = map.get("name").and_then(Value::as_str);
                for (k, v) in map {
                    let key = match (k.as_str(), named) {
                        ("value", Some(name)) => name,
                        _ => k.as_str(),
                    };
                    self.walk(v, &push(at, k), Some(key))?;
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    self.walk(v, &push(at, &i.to_string()), key)?;
                }
            }
            Value::String(s) => self.judge(at, key, s)?,
            Value::Number(n) => {
                if let Some(finding) = key.and_then(|k| named_literal(k, &n.to_string())) {
                    return Err(found(at, finding, &n.to_string()));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn judge(&self, at: &str, key: Option<&str>, s: &str) -> Result<(), Violation> {
        let finding = key
            .filter(|_| !self.key_names.contains(s))
            .and_then(|k| named_literal(k, s))
            .or_else(|| scan_text(s));
        match finding {
            Some(finding) => Err(found(at, finding, s)),
            None => Ok(()),
        }
    }

    /// A config file in a ConfigMap: structured where it parses as YAML or
    /// JSON (so `password:` keys are found at any depth), else line by line.
    fn config_file(&mut self, text: &str, at: &str) -> Result<(), Violation> {
        if let Ok(docs) = crate::yaml::parse_documents(at, text)
            && docs.iter().any(|d| d.is_object() || d.is_array())
        {
            for doc in &docs {
                self.walk(doc, at, None)?;
            }
            return Ok(());
        }
        for line in text.lines() {
            if let Some(finding) = scan_line(line) {
                let value = line
                    .split_once(['=', ':'])
                    .map(|(_, v)| v.trim())
                    .unwrap_or(line.trim());
                return Err(found(at, finding, value));
            }
        }
        Ok(())
    }
}

fn found(at: &str, finding: Finding, value: &str) -> Violation {
    let mut v = Violation::new(
        ErrorKind::Secret,
        at,
        format!("{} (value `{}`)", finding.describe(), mask(value)),
        HELP,
    );
    v.secret = Some(value.to_string());
    v
}
