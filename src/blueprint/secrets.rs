//! Secrets: External Secrets Operator stores, `store:remote/key#property`
//! references, and the checks that an app's references name a defined
//! store and never hold the credential itself.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::apps::App;
use super::check::Check;
use super::model::Blueprint;
use super::syntax::{is_dns_label, is_env_name};
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
        let parsed = SecretRef::parse(reference).ok_or_else(|| {
            // It may be the credential itself, pasted where its reference belongs.
            c.fail(
                ErrorKind::InvalidValue,
                &p,
                format!("`{key}` is given `{}`, which is not a secret reference", crate::credential::mask(reference)),
                "write `<store>:<remote key>` or `<store>:<remote key>#<property>`, e.g. `vault:apps/api#db_password`",
            )
            .masking_secret()
        })?;
        if !bp.secret_stores.contains_key(parsed.store) {
            return Err(c.fail(
                ErrorKind::UnknownReference,
                &p,
                format!("secret store `{}` is not defined", parsed.store),
                suggest::help_for(
                    parsed.store,
                    "secret stores",
                    bp.secret_stores.keys().map(String::as_str),
                ),
            ));
        }
    }
    Ok(())
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
}
