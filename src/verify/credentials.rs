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
use crate::credential::{Finding, mask, named_literal, names_credential, scan_line, scan_text};
use crate::error::ErrorKind;
use crate::pointer::{PointerBuf, push};
use crate::render::Object;

pub use crate::credential::WAIVER_PREFIX;

const HELP: &str = "keep credentials in the secret store and reference them (`secrets:` on an app, an ExternalSecret in a template); if this is no credential, waive it with a reason: `waivers: {\"credential:<key>\": <reason>}`";

/// Keys whose values are references or prose in the objects gitopsc writes.
/// Asked for every node of every object, so the common answer (not an
/// annotation, not a secret-reference kind) costs two prefix tests.
fn exempt(kind: &str, path: &str) -> bool {
    let waiver_annotation = path
        .strip_prefix("/metadata/annotations/")
        .is_some_and(|key| {
            !key.contains('/')
                && (key.starts_with("gitopsc.io~1waiver.") || key.starts_with("checkov.io~1skip"))
        });
    waiver_annotation || reference(kind, path)
}

/// The fields of the secret-reference kinds that name a secret, not hold one.
fn reference(kind: &str, path: &str) -> bool {
    match kind {
        "ExternalSecret" | "ClusterExternalSecret" | "PushSecret" => {
            // The first five tokens are all the patterns look at.
            let mut parts = [""; 5];
            for (slot, part) in parts.iter_mut().zip(path.split('/')) {
                *slot = part;
            }
            matches!(
                parts,
                ["", "spec", "data", _, "secretKey" | "remoteRef"] | ["", "spec", "dataFrom", ..]
            )
        }
        "SealedSecret" => path == "/spec/encryptedData" || path.starts_with("/spec/encryptedData/"),
        _ => false,
    }
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
    walker.walk(&object.value, &mut PointerBuf::default(), None)?;
    if kind == "ConfigMap"
        && let Some(Value::Object(files)) = object.value.get("data")
    {
        for (name, content) in files {
            if let Some(text) = content.as_str() {
                walker.config_file(text, &mut PointerBuf::at(&push("/data", name)))?;
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
    fn walk(
        &mut self,
        value: &Value,
        at: &mut PointerBuf,
        key: Option<&str>,
    ) -> Result<(), Violation> {
        if exempt(self.kind, at.as_str()) || key.is_some_and(|k| self.waived.contains(k)) {
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
                    at.with(k, |at| self.walk(v, at, Some(key)))?;
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    at.with_index(i, |at| self.walk(v, at, key))?;
                }
            }
            Value::String(s) => self.judge(at.as_str(), key, s)?,
            // Spelled out only under a credential's name: most numbers are ports and counts.
            Value::Number(n) => {
                if let Some(finding) = key
                    .filter(|k| names_credential(k))
                    .and_then(|k| named_literal(k, &n.to_string()))
                {
                    return Err(found(at.as_str(), finding, &n.to_string()));
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
    fn config_file(&mut self, text: &str, at: &mut PointerBuf) -> Result<(), Violation> {
        if let Ok(docs) = crate::yaml::parse_documents(at.as_str(), text)
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
                return Err(found(at.as_str(), finding, value));
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
