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

use super::{Violation, small_get};
use crate::credential::{Finding, mask, named_literal, names_credential, scan_line, scan_text};
use crate::error::ErrorKind;
use crate::pointer::{Path, Token};
use crate::render::Object;

pub use crate::credential::WAIVER_PREFIX;

const HELP: &str = "keep credentials in the secret store and reference them (`secrets:` on an app, an ExternalSecret in a template); if this is no credential, waive it with a reason: `waivers: {\"credential:<key>\": <reason>}`";

/// Keys whose values are references or prose in the objects gitopsc writes.
/// Asked for every node of every object, so the common answer (not an
/// annotation, not a secret-reference kind) costs a length test and a match.
fn exempt(kind: References, path: &Path) -> bool {
    let waiver_annotation = match path.tokens() {
        [
            Token::Key("metadata"),
            Token::Key("annotations"),
            Token::Key(key),
        ] => key.starts_with("gitopsc.io/waiver.") || key.starts_with("checkov.io/skip"),
        _ => false,
    };
    waiver_annotation || reference(kind, path)
}

/// Which fields of an object's kind name a secret instead of holding one;
/// told apart once per object, not at every node.
#[derive(Clone, Copy)]
enum References {
    None,
    /// `ExternalSecret`, `ClusterExternalSecret`, `PushSecret`.
    ExternalSecret,
    SealedSecret,
}

impl References {
    fn of(kind: &str) -> References {
        match kind {
            "ExternalSecret" | "ClusterExternalSecret" | "PushSecret" => References::ExternalSecret,
            "SealedSecret" => References::SealedSecret,
            _ => References::None,
        }
    }
}

/// The fields of the secret-reference kinds that name a secret, not hold one.
fn reference(kind: References, path: &Path) -> bool {
    match kind {
        References::ExternalSecret => matches!(
            path.tokens(),
            [
                Token::Key("spec"),
                Token::Key("data"),
                _,
                Token::Key("secretKey" | "remoteRef"),
                ..
            ] | [Token::Key("spec"), Token::Key("dataFrom"), ..]
        ),
        References::SealedSecret => path.starts_with_keys(&["spec", "encryptedData"]),
        References::None => false,
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
        references: References::of(kind),
        waived,
        key_names,
    };
    walker.walk(&object.value, &mut Path::default(), None)?;
    if kind == "ConfigMap"
        && let Some(Value::Object(files)) = object.value.get("data")
    {
        for (name, content) in files {
            if let Some(text) = content.as_str() {
                walker.config_file(text, &[Token::Key("data"), Token::Key(name)])?;
            }
        }
    }
    Ok(())
}

struct Walker<'a> {
    references: References,
    waived: &'a BTreeSet<&'a str>,
    key_names: &'a BTreeSet<&'a str>,
}

impl Walker<'_> {
    fn walk<'v>(
        &mut self,
        value: &'v Value,
        at: &mut Path<'v>,
        key: Option<&str>,
    ) -> Result<(), Violation> {
        if exempt(self.references, at) || key.is_some_and(|k| self.waived.contains(k)) {
            return Ok(());
        }
        match value {
            Value::Object(map) => {
                // `{name: DB_PASSWORD, value: ...}` (env entries, Helm `set`): the
                // name is the key the value belongs to.
                let named = small_get(map, "name").and_then(Value::as_str);
                for (k, v) in map {
                    let key = match (k.as_str(), named) {
                        ("value", Some(name)) => name,
                        _ => k.as_str(),
                    };
                    at.with(Token::Key(k), |at| self.walk(v, at, Some(key)))?;
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    at.with(Token::Index(i), |at| self.walk(v, at, key))?;
                }
            }
            Value::String(s) => self.judge(at, key, s)?,
            // Spelled out only under a credential's name: most numbers are ports and counts.
            Value::Number(n) => {
                if let Some(finding) = key
                    .filter(|k| names_credential(k))
                    .and_then(|k| named_literal(k, &n.to_string()))
                {
                    return Err(found(&at.pointer(), finding, &n.to_string()));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn judge(&self, at: &Path, key: Option<&str>, s: &str) -> Result<(), Violation> {
        // The key's name first: it rules out most values before the
        // declared key names are searched.
        let finding = key
            .and_then(|k| named_literal(k, s))
            .filter(|_| !self.key_names.contains(s))
            .or_else(|| scan_text(s));
        match finding {
            Some(finding) => Err(found(&at.pointer(), finding, s)),
            None => Ok(()),
        }
    }

    /// A config file in a ConfigMap: structured where it parses as YAML or
    /// JSON (so `password:` keys are found at any depth), else line by line.
    fn config_file(&mut self, text: &str, file: &[Token]) -> Result<(), Violation> {
        if let Ok(docs) = crate::yaml::parse_documents("config file", text)
            && docs.iter().any(|d| d.is_object() || d.is_array())
        {
            for doc in &docs {
                self.walk(doc, &mut Path::from_tokens(file), None)?;
            }
            return Ok(());
        }
        for line in text.lines() {
            if let Some(finding) = scan_line(line) {
                let value = line
                    .split_once(['=', ':'])
                    .map(|(_, v)| v.trim())
                    .unwrap_or(line.trim());
                return Err(found(&Path::from_tokens(file).pointer(), finding, value));
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn verdict(value: Value) -> Option<String> {
        check(&BTreeSet::new(), &BTreeSet::new(), &Object::new(value))
            .err()
            .map(|v| v.path)
    }

    const KEY: &str = "AKIAIOSFODNN7EXAMPLE";

    #[test]
    fn a_finding_is_reported_at_its_escaped_pointer() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "annotations": {"example.com/key": KEY}}});
        assert_eq!(
            verdict(cm).as_deref(),
            Some("/metadata/annotations/example.com~1key")
        );
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "a"}, {"name": "b", "args": ["--x", KEY]}]}}}});
        assert_eq!(
            verdict(deploy).as_deref(),
            Some("/spec/template/spec/containers/1/args/1")
        );
        let file = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"conf/app.yaml": "db:\n  password: correct-horse-battery\n"}});
        assert_eq!(
            verdict(file).as_deref(),
            Some("/data/conf~1app.yaml/db/password")
        );
    }

    #[test]
    fn waiver_annotations_and_reference_fields_are_not_judged() {
        let waived = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "annotations": {
                "gitopsc.io/waiver.credential.K": KEY, "checkov.io/skip1": KEY}}});
        assert_eq!(verdict(waived), None);
        let external = json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": "e"},
            "spec": {"data": [{"secretKey": KEY, "remoteRef": {"key": KEY}}],
                     "dataFrom": [{"extract": {"key": KEY}}]}});
        assert_eq!(verdict(external), None);
        // The same value one field away from a reference is judged.
        let beside = json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": "e"}, "spec": {"data": [{"other": KEY}]}});
        assert_eq!(verdict(beside).as_deref(), Some("/spec/data/0/other"));
        let sealed = json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "metadata": {"name": "s"}, "spec": {"encryptedData": {"k": KEY}}});
        assert_eq!(verdict(sealed), None);
        let sealed_beside = json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "metadata": {"name": "s"}, "spec": {"encryptedDataX": {"k": KEY}}});
        assert_eq!(
            verdict(sealed_beside).as_deref(),
            Some("/spec/encryptedDataX/k")
        );
    }
}
