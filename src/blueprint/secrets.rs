//! Secrets: External Secrets Operator stores, `store:remote/key#property`
//! references, the Secrets charts and manifest sets read by name, and the
//! checks that references name a defined store and never hold the
//! credential itself.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::apps::App;
use super::check::Check;
use super::model::Blueprint;
use super::syntax::{is_dns_label, is_dns_subdomain, is_env_name};
use crate::error::{ErrorKind, Result};
use crate::pointer::{from_tokens, push};
use crate::suggest;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretStore {
    /// `ClusterSecretStore` (default) or `SecretStore`.
    #[serde(default)]
    pub kind: SecretStoreKind,
    /// Name of the store object; defaults to the key.
    #[serde(default)]
    pub name: Option<String>,
    /// How often External Secrets refreshes values.
    #[serde(default = "default_refresh")]
    pub refresh: String,
    /// What backs the store (vault, infisical, ...). With `infisical`, a
    /// reference `infisical:/folder#NAME` reads the secret `NAME` in `/folder`.
    /// Other values are documentation.
    #[serde(default)]
    pub provider: Option<String>,
}

fn default_refresh() -> String {
    "1h".to_string()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum SecretStoreKind {
    #[default]
    ClusterSecretStore,
    SecretStore,
}

impl SecretStoreKind {
    pub fn name(self) -> &'static str {
        match self {
            SecretStoreKind::ClusterSecretStore => "ClusterSecretStore",
            SecretStoreKind::SecretStore => "SecretStore",
        }
    }
}

/// `store:remote/key#property`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef<'a> {
    pub store: &'a str,
    pub key: &'a str,
    pub property: Option<&'a str>,
}

impl<'a> SecretRef<'a> {
    pub fn parse(s: &'a str) -> Option<SecretRef<'a>> {
        let (store, rest) = s.split_once(':')?;
        let (key, property) = match rest.split_once('#') {
            Some((k, p)) => (k, Some(p)),
            None => (rest, None),
        };
        let clean = |t: &str| !t.is_empty() && !t.contains(char::is_whitespace);
        if !is_dns_label(store) || !clean(key) || property.is_some_and(|p| !clean(p)) {
            return None;
        }
        Some(SecretRef {
            store,
            key,
            property,
        })
    }
}

/// A Secret a chart or manifest set reads by name (a chart's
/// `existingSecret`), filled from a store by an ExternalSecret of the same
/// name in the component's namespace and unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum NamedSecret {
    /// `store:remote/key`: every field of the remote entry becomes a key of
    /// the Secret (`dataFrom.extract`).
    Whole(String),
    /// Chosen keys, each from a reference: `{admin-password: "vault:maya/grafana#password"}`.
    Keys(BTreeMap<String, String>),
}

impl<'de> Deserialize<'de> for NamedSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct NamedSecretVisitor;
        impl<'de> Visitor<'de> for NamedSecretVisitor {
            type Value = NamedSecret;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a reference `<store>:<remote key>`, or a mapping of Secret keys to references",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<NamedSecret, E> {
                Ok(NamedSecret::Whole(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<NamedSecret, A::Error> {
                BTreeMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(NamedSecret::Keys)
            }
        }
        deserializer.deserialize_any(NamedSecretVisitor)
    }
}

/// Every key of a Secret the charts and manifest sets declare: a value
/// naming one (`passwordKey: admin-password`) names a key, and is no
/// credential whatever its own key is called.
pub fn declared_secret_keys(bp: &Blueprint) -> std::collections::BTreeSet<&str> {
    let charts = bp.charts.values().map(|c| &c.secrets);
    let sets = bp.manifests.values().map(|m| &m.secrets);
    charts
        .chain(sets)
        .flat_map(BTreeMap::values)
        .filter_map(|s| match s {
            NamedSecret::Keys(keys) => Some(keys.keys().map(String::as_str)),
            NamedSecret::Whole(_) => None,
        })
        .flatten()
        .collect()
}

/// A key of a Secret's `data`: letters, digits, `-`, `_` and `.`, at most 253
/// characters (Kubernetes `IsConfigMapKey`).
fn is_secret_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        && s != "."
        && s != ".."
}

pub(super) fn check_secret_store(c: &Check, name: &str, store: &SecretStore) -> Result<()> {
    let at = from_tokens(["secretStores", name]);
    c.name_key(&at, name, "secret store", 63)?;
    c.duration(&push(&at, "refresh"), &store.refresh)
}

/// Each of an app's `secrets` is a variable name not also in `env`, and a
/// reference to a defined store.
pub(super) fn check_secret_refs(c: &Check, bp: &Blueprint, at: &str, app: &App) -> Result<()> {
    for (key, reference) in &app.secrets {
        let p = push(at, key);
        if !is_env_name(key) {
            return Err(c.fail_key(
                &p,
                format!("`{key}` is not a valid environment variable name"),
                "use letters, digits, `_`, `-` and `.`, not starting with a digit",
            ));
        }
        if app.env.contains_key(key) {
            return Err(c.fail_key(
                &p,
                format!("`{key}` is set both in `env` and in `secrets`"),
                "keep one of them",
            ));
        }
        check_reference(c, bp, &p, key, reference)?;
    }
    Ok(())
}

/// A chart's or manifest set's `secrets`: Secret names, their keys, and
/// references to one defined store per Secret.
pub(super) fn check_named_secrets(
    c: &Check,
    bp: &Blueprint,
    at: &str,
    secrets: &BTreeMap<String, NamedSecret>,
) -> Result<()> {
    for (name, secret) in secrets {
        let p = push(at, name);
        if !is_dns_subdomain(name) {
            return Err(c.fail_key(
                &p,
                format!("`{name}` is not a valid Secret name"),
                "use lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit, e.g. `grafana-admin`",
            ));
        }
        match secret {
            NamedSecret::Whole(reference) => {
                let parsed = check_reference(c, bp, &p, name, reference)?;
                if let Some(property) = parsed.property {
                    return Err(c.fail(
                        ErrorKind::InvalidValue,
                        &p,
                        format!("the whole Secret `{name}` is given one property, `{property}`"),
                        format!("write `{}:{}` for every field of the entry, or `{{<key>: \"{reference}\"}}` for one key", parsed.store, parsed.key),
                    ));
                }
            }
            NamedSecret::Keys(keys) => {
                if keys.is_empty() {
                    return Err(c.fail(
                        ErrorKind::InvalidValue,
                        &p,
                        format!("the Secret `{name}` has no keys"),
                        "give each key a reference, `{<key>: \"<store>:<remote key>#<property>\"}`, or the whole entry, `\"<store>:<remote key>\"`",
                    ));
                }
                let mut first_store: Option<&str> = None;
                for (key, reference) in keys {
                    let k = push(&p, key);
                    if !is_secret_key(key) {
                        return Err(c.fail_key(
                            &k,
                            format!("`{key}` is not a valid key of a Secret"),
                            "use letters, digits, `-`, `_` and `.`, at most 253 characters",
                        ));
                    }
                    let parsed = check_reference(c, bp, &k, key, reference)?;
                    match first_store {
                        Some(store) if store != parsed.store => {
                            return Err(c.fail(
                                ErrorKind::InvalidValue,
                                &k,
                                format!("the keys of the Secret `{name}` come from two stores, `{store}` and `{}`", parsed.store),
                                "one ExternalSecret reads one store: split the keys into two Secrets",
                            ));
                        }
                        _ => first_store = Some(parsed.store),
                    }
                }
            }
        }
    }
    Ok(())
}

/// Each Secret a chart declares is named by its values (its
/// `existingSecret`, or however the chart calls it): a Secret nothing names
/// is a typo on one side, and the chart would otherwise wait for a Secret
/// that never comes or make up its own.
pub(super) fn check_named_in_values(
    c: &Check,
    at: &str,
    secrets: &BTreeMap<String, NamedSecret>,
    values: &serde_json::Value,
) -> Result<()> {
    let mut named = Vec::new();
    strings_in(values, &mut named);
    for name in secrets.keys() {
        if named.contains(&name.as_str()) {
            continue;
        }
        let near = match suggest::closest(name, named.iter().copied()) {
            Some(close) => format!("the values name `{close}`: did you mean `{name}` there?"),
            None => format!(
                "name it where the chart takes an existing Secret, e.g. `existingSecret: {name}`"
            ),
        };
        return Err(c.fail_key(
            &push(at, name),
            format!("the chart's values never name the Secret `{name}`"),
            near,
        ));
    }
    Ok(())
}

fn strings_in<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings_in(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| strings_in(v, out)),
        _ => {}
    }
}

/// One reference at `at`, given for `what`: its form, never a pasted
/// credential, and a defined store.
fn check_reference<'a>(
    c: &Check,
    bp: &Blueprint,
    at: &str,
    what: &str,
    reference: &'a str,
) -> Result<SecretRef<'a>> {
    let parsed = SecretRef::parse(reference).ok_or_else(|| {
        // It may be the credential itself, pasted where its reference belongs.
        c.fail(
            ErrorKind::InvalidValue,
            at,
            format!("`{what}` is given `{}`, which is not a secret reference", crate::credential::mask(reference)),
            "write `<store>:<remote key>` or `<store>:<remote key>#<property>`, e.g. `vault:apps/api#db_password`",
        )
        .masking_secret()
    })?;
    if !bp.secret_stores.contains_key(parsed.store) {
        return Err(c.fail(
            ErrorKind::UnknownReference,
            at,
            format!("secret store `{}` is not defined", parsed.store),
            suggest::help_for(
                parsed.store,
                "secret stores",
                bp.secret_stores.keys().map(String::as_str),
            ),
        ));
    }
    Ok(parsed)
}

/// `secretFiles` is a mount path, and only means something with `secrets`.
pub(super) fn check_secret_files(c: &Check, at: &str, app: &App) -> Result<()> {
    let Some(dir) = &app.secret_files else {
        return Ok(());
    };
    c.absolute_path(at, dir)?;
    if app.secrets.is_empty() {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            at,
            "`secretFiles` is set but the app has no `secrets`",
            "add `secrets`, or remove `secretFiles`",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_references() {
        assert_eq!(
            SecretRef::parse("vault:apps/api#password"),
            Some(SecretRef {
                store: "vault",
                key: "apps/api",
                property: Some("password")
            })
        );
        assert_eq!(
            SecretRef::parse("vault:apps/api").map(|r| r.property),
            Some(None)
        );
        assert!(SecretRef::parse("hunter2").is_none());
        assert!(SecretRef::parse("vault:").is_none());
    }

    #[test]
    fn a_named_secret_is_a_whole_entry_or_chosen_keys() {
        let whole: NamedSecret =
            serde_json::from_value(serde_json::json!("vault:maya/loki")).unwrap();
        assert_eq!(whole, NamedSecret::Whole("vault:maya/loki".into()));
        let keys: NamedSecret =
            serde_json::from_value(serde_json::json!({"admin-user": "vault:maya/grafana#user"}))
                .unwrap();
        assert_eq!(
            keys,
            NamedSecret::Keys(BTreeMap::from([(
                "admin-user".to_string(),
                "vault:maya/grafana#user".to_string()
            )]))
        );
        assert!(serde_json::from_value::<NamedSecret>(serde_json::json!(5)).is_err());
        assert!(serde_json::from_value::<NamedSecret>(serde_json::json!(["a"])).is_err());
    }

    /// Kubernetes `IsConfigMapKey`: `[-._a-zA-Z0-9]+`, not `.` or `..`, at most 253.
    #[test]
    fn secret_keys() {
        for ok in [
            "admin-password",
            "tls.crt",
            "API_TOKEN",
            ".dockerconfigjson",
        ] {
            assert!(is_secret_key(ok), "{ok}");
        }
        for bad in ["", ".", "..", "admin password", "a/b", &"k".repeat(254)] {
            assert!(!is_secret_key(bad), "{bad}");
        }
    }
}
